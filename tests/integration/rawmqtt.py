"""Byte-exact MQTT 3.1.1 / 5.0 encoder and decoder for the integration tests.

paho hides what is on the wire (DUP flags, packet ids, topic aliases, DISCONNECT
reason codes, malformed input), so the raw-socket tests build and parse packets
with this module. It is deliberately permissive on encode (it will happily build
a packet the spec forbids: that is the point) and strict on decode (a broker
that sends us a malformed packet fails the test).

Standard library only.
"""

import struct

# Control packet types [MQTT-2.1.2].
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT, AUTH = 12, 13, 14, 15

TYPE_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
    6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE",
    11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH",
}

V311, V5 = 4, 5

# v5 property identifiers [MQTT-2.2.2.2]: id -> (name, wire type).
_BYTE, _U16, _U32, _VARINT, _STR, _BIN, _PAIR = range(7)
PROPERTIES = {
    0x01: ("PayloadFormatIndicator", _BYTE),
    0x02: ("MessageExpiryInterval", _U32),
    0x03: ("ContentType", _STR),
    0x08: ("ResponseTopic", _STR),
    0x09: ("CorrelationData", _BIN),
    0x0B: ("SubscriptionIdentifier", _VARINT),
    0x11: ("SessionExpiryInterval", _U32),
    0x12: ("AssignedClientIdentifier", _STR),
    0x13: ("ServerKeepAlive", _U16),
    0x15: ("AuthenticationMethod", _STR),
    0x16: ("AuthenticationData", _BIN),
    0x17: ("RequestProblemInformation", _BYTE),
    0x18: ("WillDelayInterval", _U32),
    0x19: ("RequestResponseInformation", _BYTE),
    0x1A: ("ResponseInformation", _STR),
    0x1C: ("ServerReference", _STR),
    0x1F: ("ReasonString", _STR),
    0x21: ("ReceiveMaximum", _U16),
    0x22: ("TopicAliasMaximum", _U16),
    0x23: ("TopicAlias", _U16),
    0x24: ("MaximumQoS", _BYTE),
    0x25: ("RetainAvailable", _BYTE),
    0x26: ("UserProperty", _PAIR),
    0x27: ("MaximumPacketSize", _U32),
    0x28: ("WildcardSubscriptionAvailable", _BYTE),
    0x29: ("SubscriptionIdentifierAvailable", _BYTE),
    0x2A: ("SharedSubscriptionAvailable", _BYTE),
}
PROPERTY_IDS = {name: pid for pid, (name, _) in PROPERTIES.items()}
# Only these may appear more than once in one packet [MQTT-2.2.2.2].
_MULTIPLE = {"UserProperty", "SubscriptionIdentifier"}

# Reason codes used by the tests (v5 [MQTT-2.4]).
RC_SUCCESS = 0x00
RC_DISCONNECT_WITH_WILL = 0x04
RC_NO_MATCHING_SUBSCRIBERS = 0x10
RC_NO_SUBSCRIPTION_EXISTED = 0x11
RC_UNSPECIFIED = 0x80
RC_MALFORMED = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_IMPLEMENTATION_SPECIFIC = 0x83
RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84
RC_CLIENT_ID_NOT_VALID = 0x85
RC_KEEP_ALIVE_TIMEOUT = 0x8D
RC_SESSION_TAKEN_OVER = 0x8E
RC_TOPIC_FILTER_INVALID = 0x8F
RC_TOPIC_NAME_INVALID = 0x90
RC_PACKET_ID_IN_USE = 0x91
RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93
RC_TOPIC_ALIAS_INVALID = 0x94
RC_PACKET_TOO_LARGE = 0x95
RC_SHARED_SUB_NOT_SUPPORTED = 0x9E


class DecodeError(Exception):
    """The broker sent bytes that are not a well-formed MQTT packet."""


# ---------------------------------------------------------------- primitives

def varint(n):
    """Variable Byte Integer [MQTT-1.5.5]; encodes any n >= 0 (callers may build
    out-of-range values on purpose)."""
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def u16(n):
    return struct.pack("!H", n)


def u32(n):
    return struct.pack("!I", n)


def utf8(s):
    """UTF-8 string with 2-byte length prefix. bytes are sent verbatim (used to
    send invalid UTF-8)."""
    b = s if isinstance(s, (bytes, bytearray)) else s.encode("utf-8")
    return u16(len(b)) + bytes(b)


binary = utf8


def encode_properties(props):
    """props: None, dict {name: value} or list of (name|id, value) pairs.
    A list may repeat a property (to test duplicate rejection). For dicts,
    UserProperty takes a list of (key, value), SubscriptionIdentifier an int or
    a list."""
    if not props:
        return varint(0)
    items = []
    if isinstance(props, dict):
        for name, value in props.items():
            if name in _MULTIPLE and isinstance(value, (list, tuple)) and (
                    name == "SubscriptionIdentifier" or
                    (value and isinstance(value[0], (list, tuple)))):
                items.extend((name, v) for v in value)
            else:
                items.append((name, value))
    else:
        items = list(props)
    body = bytearray()
    for name, value in items:
        pid = name if isinstance(name, int) else PROPERTY_IDS[name]
        kind = PROPERTIES[pid][1]
        body += varint(pid)
        if kind == _BYTE:
            body.append(value)
        elif kind == _U16:
            body += u16(value)
        elif kind == _U32:
            body += u32(value)
        elif kind == _VARINT:
            body += varint(value)
        elif kind in (_STR, _BIN):
            body += utf8(value)
        else:
            body += utf8(value[0]) + utf8(value[1])
    return varint(len(body)) + bytes(body)


def packet(ptype, flags, body):
    """Fixed header + body. flags is the low nibble of the first byte."""
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + bytes(body)


# ------------------------------------------------------------------ encoders

def connect(client_id="", version=V5, clean=True, keepalive=60, props=None,
            will=None, username=None, password=None, protocol_name="MQTT",
            reserved_flag=False, flags_override=None):
    """will: dict(topic=, payload=b"", qos=0, retain=False, props=None)."""
    flags = 0
    if clean:
        flags |= 0x02
    if will is not None:
        flags |= 0x04 | (will.get("qos", 0) << 3)
        if will.get("retain"):
            flags |= 0x20
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    if reserved_flag:
        flags |= 0x01
    if flags_override is not None:
        flags = flags_override
    body = bytearray(utf8(protocol_name))
    body.append(version)
    body.append(flags)
    body += u16(keepalive)
    if version == V5:
        body += encode_properties(props)
    body += utf8(client_id)
    if will is not None:
        if version == V5:
            body += encode_properties(will.get("props"))
        body += utf8(will["topic"])
        body += binary(will.get("payload", b""))
    if username is not None:
        body += utf8(username)
    if password is not None:
        body += binary(password)
    return packet(CONNECT, 0, body)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, packet_id=None,
            props=None, version=V5):
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = bytearray(utf8(topic))
    if qos > 0 or packet_id is not None:
        body += u16(packet_id if packet_id is not None else 1)
    if version == V5:
        body += encode_properties(props)
    body += payload
    return packet(PUBLISH, flags, body)


def _ack(ptype, flags, packet_id, rc, props, version):
    body = u16(packet_id)
    if version == V5 and (rc or props):
        body += bytes([rc])
        if props:
            body += encode_properties(props)
    return packet(ptype, flags, body)


def puback(packet_id, rc=0, props=None, version=V5):
    return _ack(PUBACK, 0, packet_id, rc, props, version)


def pubrec(packet_id, rc=0, props=None, version=V5):
    return _ack(PUBREC, 0, packet_id, rc, props, version)


def pubrel(packet_id, rc=0, props=None, version=V5):
    return _ack(PUBREL, 0x02, packet_id, rc, props, version)  # [MQTT-3.6.1-1]


def pubcomp(packet_id, rc=0, props=None, version=V5):
    return _ack(PUBCOMP, 0, packet_id, rc, props, version)


def subscribe(packet_id, filters, props=None, version=V5, flags=0x02):
    """filters: list of (filter, options byte) or (filter, qos); for v5 the
    options byte is qos | no_local<<2 | rap<<3 | retain_handling<<4."""
    body = bytearray(u16(packet_id))
    if version == V5:
        body += encode_properties(props)
    for f, opts in filters:
        body += utf8(f) + bytes([opts])
    return packet(SUBSCRIBE, flags, body)


def sub_options(qos=0, no_local=False, rap=False, retain_handling=0):
    return qos | (0x04 if no_local else 0) | (0x08 if rap else 0) | (retain_handling << 4)


def unsubscribe(packet_id, filters, props=None, version=V5):
    body = bytearray(u16(packet_id))
    if version == V5:
        body += encode_properties(props)
    for f in filters:
        body += utf8(f)
    return packet(UNSUBSCRIBE, 0x02, body)


def pingreq():
    return packet(PINGREQ, 0, b"")


def disconnect(rc=None, props=None, version=V5):
    if version != V5 or (rc is None and not props):
        return packet(DISCONNECT, 0, b"")
    body = bytes([rc or 0])
    if props:
        body += encode_properties(props)
    return packet(DISCONNECT, 0, body)


# ------------------------------------------------------------------ decoders

class Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def left(self):
        return len(self.data) - self.pos

    def take(self, n):
        if self.pos + n > len(self.data):
            raise DecodeError(f"need {n} bytes at {self.pos}, have {self.left()}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def byte(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("!H", self.take(2))[0]

    def u32(self):
        return struct.unpack("!I", self.take(4))[0]

    def varint(self):
        mult, value = 1, 0
        for _ in range(4):
            b = self.byte()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                return value
            mult *= 128
        raise DecodeError("variable byte integer longer than 4 bytes")

    def binary(self):
        return self.take(self.u16())

    def utf8(self):
        raw = self.binary()
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError(f"broker sent invalid UTF-8 {raw!r}") from e
        if "\0" in s:
            raise DecodeError("broker sent U+0000 in a string")  # [MQTT-1.5.4-2]
        return s

    def rest(self):
        return self.take(self.left())

    def properties(self):
        length = self.varint()
        sub = Reader(self.take(length))
        props = {}
        while sub.left():
            pid = sub.varint()
            if pid not in PROPERTIES:
                raise DecodeError(f"unknown property id 0x{pid:02x}")
            name, kind = PROPERTIES[pid]
            if kind == _BYTE:
                v = sub.byte()
            elif kind == _U16:
                v = sub.u16()
            elif kind == _U32:
                v = sub.u32()
            elif kind == _VARINT:
                v = sub.varint()
            elif kind == _STR:
                v = sub.utf8()
            elif kind == _BIN:
                v = sub.binary()
            else:
                v = (sub.utf8(), sub.utf8())
            if name in _MULTIPLE:
                props.setdefault(name, []).append(v)
            elif name in props:
                raise DecodeError(f"broker sent property {name} twice")
            else:
                props[name] = v
        return props


class Packet:
    """A decoded packet. Always has .type, .flags, .body (raw bytes after the
    fixed header); other attributes depend on the type:
      CONNACK: session_present, rc, props
      PUBLISH: topic, packet_id, payload, qos, retain, dup, props
      PUBACK/PUBREC/PUBREL/PUBCOMP: packet_id, rc, props
      SUBACK/UNSUBACK: packet_id, codes (list), props
      DISCONNECT/AUTH: rc, props
    """

    def __init__(self, ptype, flags, body):
        self.type, self.flags, self.body = ptype, flags, bytes(body)
        self.props = {}
        self.rc = 0

    @property
    def name(self):
        return TYPE_NAMES.get(self.type, f"type{self.type}")

    def __repr__(self):
        fields = {k: v for k, v in self.__dict__.items() if k not in ("type", "body")}
        return f"<{self.name} {fields}>"


def decode(ptype, flags, body, version):
    p = Packet(ptype, flags, body)
    r = Reader(body)
    v5 = version == V5
    if ptype == CONNACK:
        ack_flags = r.byte()
        if ack_flags & 0xFE:
            raise DecodeError("CONNACK reserved flags set")  # [MQTT-3.2.2-1]
        p.session_present = bool(ack_flags & 1)
        p.rc = r.byte()
        if v5 and r.left():
            p.props = r.properties()
    elif ptype == PUBLISH:
        p.dup = bool(flags & 0x08)
        p.qos = (flags >> 1) & 3
        p.retain = bool(flags & 1)
        if p.qos == 3:
            raise DecodeError("broker sent PUBLISH with QoS 3")
        raw_topic = r.binary()
        try:
            p.topic = raw_topic.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError("broker sent invalid UTF-8 topic") from e
        p.packet_id = r.u16() if p.qos else None
        if v5:
            p.props = r.properties()
        p.payload = r.rest()
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        expected = 0x02 if ptype == PUBREL else 0
        if flags != expected:
            raise DecodeError(f"{TYPE_NAMES[ptype]} flags {flags}")
        p.packet_id = r.u16()
        if v5 and r.left():
            p.rc = r.byte()
            if r.left():
                p.props = r.properties()
    elif ptype in (SUBACK, UNSUBACK):
        p.packet_id = r.u16()
        if v5:
            p.props = r.properties()
        p.codes = list(r.rest())
    elif ptype in (DISCONNECT, AUTH):
        if v5 and r.left():
            p.rc = r.byte()
            if r.left():
                p.props = r.properties()
    elif ptype == PINGRESP:
        pass
    else:
        raise DecodeError(f"broker sent a {p.name} packet")
    if r.left():
        raise DecodeError(f"{p.name}: {r.left()} trailing bytes")
    return p
