"""Malformed and forbidden input over a raw socket.

For each case the offending connection must be closed; a v5 connection may
first get a DISCONNECT, and then its reason code must be the one the spec names
(Malformed Packet 0x81 / Protocol Error 0x82 / a specific code). Where mosquitto
2.0.11 sends a different code than the spec names, spec_rcs() accepts
mosquitto's code only when mosquitto runs: natter must send the spec's. A plain
close is always accepted (4.13.1: the DISCONNECT is a MAY).

Then the broker must still serve a client connected before the bad one and a
client connected after it, and must not have processed anything the bad client
sent after the offending packet.

Run: NATTER_BROKER=mosquitto /usr/bin/python3 -m unittest -v 06_malformed
"""

import socket
import unittest

import rawmqtt as mq
from harness import V5, V311, VERSIONS, BrokerTest, RawClient, natter_only, spec_rcs

MALFORMED = {mq.RC_MALFORMED}
PROTOCOL = {mq.RC_PROTOCOL_ERROR}
EITHER = MALFORMED | PROTOCOL  # the spec names no code, only "close"


class MalformedBase(BrokerTest):
    def setUp(self):
        super().setUp()
        self.before = self.client(version=V5)
        self.before.subscribe("health/#", 1)
        self.seq = 0

    def assertHealthy(self):
        """Old and new clients both work, and nothing leaked from the bad one."""
        self.seq += 1
        after = self.client(version=V311)
        after.subscribe("health/#", 1)
        after.publish("health/ok", str(self.seq).encode(), 1)
        for c in (self.before, after):
            m = c.recv()
            self.assertEqual((m.topic, m.payload), ("health/ok", str(self.seq).encode()),
                             "the bad client's trailing PUBLISH was processed")
        self.before.expect_nothing(0.05)
        after.disconnect()

    def bad(self, version, data, rcs, connect=True, trailer=True, conn_kw=None):
        """Connect (unless connect=False), send data, expect a close with one of
        rcs, then check the broker's health. A valid PUBLISH follows the bad
        bytes in the same write: a broker that skips the bad packet and goes on
        reading would deliver it."""
        r = self.raw(version, connect=False)
        if connect:
            r.connect(f"bad{self.seq}", **(conn_kw or {}))
        if trailer:
            data = data + mq.publish("health/leak", b"leak", version=version)
        r.try_send(data)
        got = self.assertClosedWith(r, rcs)
        self.assertHealthy()
        return got

    def both(self, make, rcs, **kw):
        """make(version) -> bytes; run the case for 3.1.1 and 5.0."""
        for v in VERSIONS:
            with self.subTest(version=v):
                self.bad(v, make(v), rcs, **kw)


def v5props(v):
    return b"\x00" if v == V5 else b""


class FramingTest(MalformedBase):
    def test_remaining_length_too_long(self):
        # Five continuation bytes [MQTT-1.5.5 / 2.2.3]: malformed.
        self.both(lambda v: b"\x30\xff\xff\xff\xff\x7f", MALFORMED, trailer=False)

    def test_string_longer_than_packet(self):
        self.both(lambda v: mq.packet(mq.PUBLISH, 0, b"\x00\x20ab"), MALFORMED)

    def test_publish_without_topic_bytes(self):
        self.both(lambda v: mq.packet(mq.PUBLISH, 0, b""), MALFORMED)

    def test_reserved_packet_type_0(self):
        self.both(lambda v: mq.packet(0, 0, b""), EITHER)

    def test_garbage_instead_of_connect(self):
        self.both(lambda v: b"\xde\xad\xbe\xef" * 8, EITHER, connect=False)

    def test_truncated_packet_then_close(self):
        # A PUBLISH that announces 100 bytes, 10 sent, then the client goes.
        for v in VERSIONS:
            for data in (b"\x30\x64" + b"\x00\x05hello" + b"abc",  # body cut short
                         b"\x30",                                  # header cut short
                         b"\x30\xff\xff\xff\x7f\x00\x01a",         # 256 MB announced
                         mq.connect("trunc", version=v)[:7]):      # CONNECT cut short
                with self.subTest(version=v, data=data[:8]):
                    r = RawClient(self.port, v)
                    if data[0] != 0x10:
                        r.connect(f"trunc{v}")
                    r.send(data)
                    r.sock.shutdown(socket.SHUT_WR)
                    r.read_until_close()
                    r.close()
                    self.assertHealthy()

    def test_connections_that_send_nothing(self):
        socks = [socket.create_connection((self.broker.host, self.port)) for _ in range(20)]
        for s in socks:
            s.close()
        self.assertHealthy()


class FlagsTest(MalformedBase):
    def test_subscribe_reserved_flags(self):
        # [MQTT-3.8.1-1]: SUBSCRIBE fixed header flags must be 0010.
        self.both(lambda v: mq.subscribe(1, [("a", 0)], version=v, flags=0), MALFORMED)

    def test_unsubscribe_reserved_flags(self):
        # [MQTT-3.10.1-1]
        self.both(lambda v: mq.packet(mq.UNSUBSCRIBE, 0, mq.u16(1) + v5props(v) + mq.utf8("a")),
                  MALFORMED)

    def test_pubrel_reserved_flags(self):
        # [MQTT-3.6.1-1]
        self.both(lambda v: mq.packet(mq.PUBREL, 0, mq.u16(1)), MALFORMED)

    def test_connect_header_flags(self):
        # [MQTT-2.2.2-2]: CONNECT with fixed header flags 0001.
        self.both(lambda v: mq.packet(mq.CONNECT, 1, mq.connect("f", version=v)[2:]), MALFORMED,
                  connect=False)

    @natter_only("mosquitto 2.0.11 ignores PINGREQ's reserved flags")
    def test_pingreq_reserved_flags(self):
        self.both(lambda v: mq.packet(mq.PINGREQ, 1, b""), MALFORMED)  # [MQTT-2.2.2-2]

    def test_publish_qos_3(self):
        # [MQTT-3.3.1-4]
        self.both(lambda v: mq.packet(mq.PUBLISH, 0x06, mq.utf8("a") + mq.u16(1) + v5props(v) + b"x"),
                  MALFORMED)


class TopicTest(MalformedBase):
    def test_wildcards_in_publish_topic(self):
        # [MQTT-3.3.2-2]. No code is named; mosquitto says 0x82, 0x90 (Topic
        # Name invalid) fits too.
        for topic in ("a/+", "a/#", "+", "#"):
            with self.subTest(topic=topic):
                self.both(lambda v: mq.publish(topic, b"x", version=v),
                          EITHER | {mq.RC_TOPIC_NAME_INVALID})

    def test_wildcard_in_qos1_publish_topic(self):
        self.both(lambda v: mq.publish("a/#", b"x", 1, packet_id=1, version=v),
                  EITHER | {mq.RC_TOPIC_NAME_INVALID})

    def test_invalid_utf8_topic(self):
        # [MQTT-1.5.4-1]: ill-formed UTF-8 (bad byte, overlong, surrogate).
        for raw in (b"a/\xff", b"a/\xc0\xaf", b"a/\xed\xa0\x80"):
            with self.subTest(topic=raw):
                self.both(lambda v: mq.publish(raw, b"x", version=v), MALFORMED)

    def test_nul_in_topic(self):
        # [MQTT-1.5.4-2]: U+0000 must not appear.
        self.both(lambda v: mq.publish(b"a/\x00b", b"x", version=v), MALFORMED)

    def test_empty_topic(self):
        # 3.1.1 [MQTT-4.7.3-1]; v5: empty topic without alias is a Protocol Error.
        self.both(lambda v: mq.publish("", b"x", version=v), PROTOCOL)

    def test_unusual_but_valid_topics_accepted(self):
        # U+FEFF must not be stripped [MQTT-1.5.4-3]; spaces, unicode and a
        # long topic are legal.
        sub = self.client(version=V5)
        sub.subscribe("odd/#", 1)
        topics = ["odd/\ufeffbom", "odd/with space", "odd/日本語/ü", "odd/" + "l" * 3000,
                  "odd//empty/levels/"]
        pub = self.raw(V311, client_id="odd")
        for t in topics:
            pub.publish(t, t.encode(), 1)
        got = sub.recv_n(len(topics))
        self.assertEqual(sorted(m.topic for m in got), sorted(topics))
        self.assertTrue(all(m.payload == m.topic.encode() for m in got))


class SequenceTest(MalformedBase):
    def test_second_connect(self):
        # [MQTT-3.1.0-2]: a second CONNECT is a Protocol Error.
        self.both(lambda v: mq.connect("again", version=v), PROTOCOL)

    def test_first_packet_not_connect(self):
        # [MQTT-3.1.0-1]: close; the server must not answer anything but
        # (at most) a failing CONNACK.
        for first in (lambda v: mq.publish("health/leak", b"x", version=v),
                      lambda v: mq.pingreq(),
                      lambda v: mq.subscribe(1, [("health/#", 0)], version=v)):
            for v in VERSIONS:
                with self.subTest(version=v, packet=first(v)[:1]):
                    r = self.raw(v, connect=False)
                    r.send(first(v))
                    data = r.read_until_close()
                    self.assertTrue(data == b"" or data[0] == 0x20, data)
                    self.assertHealthy()

    def test_qos1_packet_id_zero(self):
        # [MQTT-2.3.1-1] (3.1.1) / [MQTT-2.2.1-3] (v5).
        self.both(lambda v: mq.publish("a", b"x", 1, packet_id=0, version=v), EITHER)

    def test_subscribe_packet_id_zero(self):
        self.both(lambda v: mq.subscribe(0, [("a", 0)], version=v), EITHER)

    def test_client_sends_connack(self):
        self.both(lambda v: mq.packet(mq.CONNACK, 0, b"\x00\x00" + v5props(v)), EITHER)

    @natter_only("mosquitto 2.0.11 silently ignores a SUBACK sent by a client")
    def test_client_sends_suback(self):
        self.both(lambda v: mq.packet(mq.SUBACK, 0, mq.u16(1) + v5props(v) + b"\x00"), EITHER)

    def test_unknown_pubrel_and_puback_are_harmless(self):
        # Acks for ids the broker does not know: answered or ignored, not fatal.
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"acks{v}")
                r.send(mq.puback(77, version=v))
                r.send(mq.pubrel(78, version=v))
                comp = r.expect(mq.PUBCOMP)  # [MQTT-4.3.3-11 ff.]: always PUBCOMP
                self.assertEqual(comp.packet_id, 78)
                self.assertIn(comp.rc, (0x00, 0x92))  # v5: 0x92 Packet Identifier not found
                r.send(mq.pingreq())
                r.expect(mq.PINGRESP)


class SubscribeTest(MalformedBase):
    def test_empty_subscribe(self):
        # [MQTT-3.8.3-3] (3.1.1) / v5 3.8.3: "no Payload is a Protocol Error".
        self.both(lambda v: mq.subscribe(1, [], version=v), spec_rcs(PROTOCOL, MALFORMED))

    def test_empty_unsubscribe(self):
        # [MQTT-3.10.3-2]: "no Payload is a Protocol Error".
        self.both(lambda v: mq.unsubscribe(1, [], version=v), spec_rcs(PROTOCOL, MALFORMED))

    def test_subscribe_qos_3(self):
        # 3.1.1 [MQTT-3-8.3-4]: malformed, close. v5 3.8.3.1: "It is a
        # Protocol Error if the Maximum QoS field has the value 3" (mosquitto: 0x81).
        self.both(lambda v: mq.subscribe(1, [("a", 3)], version=v), spec_rcs(PROTOCOL, MALFORMED))

    def test_v5_subscription_options_reserved_bits(self):
        self.bad(V5, mq.subscribe(1, [("a", 0xC0)]), MALFORMED)  # [MQTT-3.8.3-5]

    def test_v311_subscription_options_upper_bits(self):
        self.bad(V311, mq.subscribe(1, [("a", 0x04)], version=V311), MALFORMED)  # [MQTT-3-8.3-4]

    def test_v5_retain_handling_3(self):
        # 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3".
        self.bad(V5, mq.subscribe(1, [("a", 0x30)]), spec_rcs(PROTOCOL, MALFORMED))

    def test_invalid_topic_filters(self):
        # [MQTT-4.7.1-1/2/3]. A server may refuse just the filter (SUBACK
        # failure) or close the connection.
        for f in ("a/#/b", "a+", "#a", "a/b#", "+a/b", ""):
            for v in VERSIONS:
                with self.subTest(filter=f, version=v):
                    self._invalid_filter(v, f)

    def _invalid_filter(self, v, f, extra_rcs=()):
        r = self.raw(v, client_id=f"filter{v}")
        r.send(mq.subscribe(5, [(f, 1)], version=v))
        try:
            p = r.recv_packet()
        except Exception:
            p = None
        if p is not None and p.type == mq.SUBACK:
            self.assertEqual(p.packet_id, 5)
            failure = {0x80} if v == V311 else {mq.RC_TOPIC_FILTER_INVALID, 0x80, *extra_rcs}
            self.assertEqual(len(p.codes), 1)
            self.assertIn(p.codes[0], failure, f"filter {f!r} accepted")
        else:
            if p is not None:
                self.assertEqual(p.type, mq.DISCONNECT, p)
                self.assertIn(p.rc, EITHER | {mq.RC_TOPIC_FILTER_INVALID})
            r.wait_closed()
        self.assertHealthy()

    def test_invalid_utf8_filter(self):
        self.both(lambda v: mq.subscribe(1, [(b"a/\xff", 0)], version=v), MALFORMED)

    def test_v5_subscription_identifier_zero(self):
        # 3.8.2.1.2: "It is a Protocol Error if the Subscription Identifier has
        # a value of 0". mosquitto says 0x81.
        self.bad(V5, mq.subscribe(1, [("a", 0)], props=[("SubscriptionIdentifier", 0)]),
                 spec_rcs(PROTOCOL, MALFORMED))

    def test_v5_bad_share_name(self):
        # 4.8.2: the ShareName must not contain '+', '#' or '/'.
        self._invalid_filter(V5, "$share/g+/a")

    @natter_only("mosquitto 2.0.11 accepts '$share/g', '$share//a' and '$share/g/'")
    def test_v5_incomplete_shared_filters(self):
        # [MQTT-4.8.2-1] ShareName at least one character; [MQTT-4.8.2-2]
        # followed by '/' and a Topic Filter.
        for f in ("$share/g", "$share//a", "$share/g/"):
            with self.subTest(filter=f):
                self._invalid_filter(V5, f, extra_rcs={mq.RC_PROTOCOL_ERROR})

    @natter_only("mosquitto 2.0.11 accepts No Local on a shared subscription")
    def test_v5_no_local_on_shared_subscription(self):
        # [MQTT-3.8.3-4]: Protocol Error.
        self.bad(V5, mq.subscribe(1, [("$share/g/a", mq.sub_options(1, no_local=True))]),
                 PROTOCOL)


class PropertyTest(MalformedBase):
    def test_duplicate_publish_property(self):
        # 3.3.2.3.2: "It is a Protocol Error to include the Payload Format
        # Indicator more than once" (mosquitto just closes).
        self.bad(V5, mq.publish("a", b"x", props=[("PayloadFormatIndicator", 0),
                                                   ("PayloadFormatIndicator", 0)]), PROTOCOL)

    def test_duplicate_connect_property(self):
        self.bad(V5, mq.connect("dupprop", props=[("SessionExpiryInterval", 0),
                                                  ("SessionExpiryInterval", 0)]),
                 PROTOCOL, connect=False)

    def test_duplicate_will_property(self):
        self.bad(V5, mq.connect("dupwill", will={
            "topic": "w", "props": [("WillDelayInterval", 1), ("WillDelayInterval", 1)]}),
            PROTOCOL, connect=False)

    def test_unknown_property_identifier(self):
        # 2.2.2.2: an identifier not valid for the packet is malformed.
        self.bad(V5, mq.packet(mq.PUBLISH, 0, mq.utf8("a") + b"\x02\x7f\x00"), MALFORMED)

    def test_property_not_allowed_in_packet(self):
        self.bad(V5, mq.publish("a", b"x", props={"SessionExpiryInterval": 3}), MALFORMED)

    def test_receive_maximum_zero(self):
        # 3.1.2.11.3: "It is a Protocol Error to ... have the value 0".
        self.bad(V5, mq.connect("rm0", props={"ReceiveMaximum": 0}), PROTOCOL, connect=False)

    def test_maximum_packet_size_zero(self):
        # 3.1.2.11.4: "It is a Protocol Error ... value to be set to zero".
        self.bad(V5, mq.connect("mps0", props={"MaximumPacketSize": 0}), PROTOCOL,
                 connect=False)

    @natter_only("mosquitto 2.0.11 ignores a Subscription Identifier in a client PUBLISH")
    def test_subscription_identifier_in_publish(self):
        # [MQTT-3.3.4-6]: Protocol Error.
        self.bad(V5, mq.publish("a", b"x", props=[("SubscriptionIdentifier", 3)]), PROTOCOL)

    def test_auth_without_authentication_method(self):
        # 4.12: AUTH when CONNECT had no Authentication Method: Protocol Error;
        # 3.1.1 has no AUTH (type 15 is reserved).
        self.both(lambda v: mq.packet(mq.AUTH, 0, b"\x00" if v == V5 else b""), EITHER)


class ConnectTest(MalformedBase):
    def connect_case(self, make, rcs=EITHER, versions=VERSIONS):
        for v in versions:
            with self.subTest(version=v):
                self.bad(v, make(v), rcs, connect=False)

    def test_connect_reserved_flag(self):
        self.connect_case(lambda v: mq.connect("c", version=v, reserved_flag=True),
                          MALFORMED)  # [MQTT-3.1.2-3]

    def test_v311_password_without_username(self):
        self.connect_case(lambda v: mq.connect("c", version=v, password=b"p"),
                          versions=(V311,))  # [MQTT-3.1.2-22]

    def test_will_qos_without_will_flag(self):
        self.connect_case(lambda v: mq.connect("c", version=v, flags_override=0x0A),
                          MALFORMED)  # [MQTT-3.1.2-11] (3.1.1: -13)

    def test_will_qos_3(self):
        self.connect_case(lambda v: mq.connect("c", version=v, will={"topic": "w", "qos": 3}),
                          MALFORMED)  # [MQTT-3.1.2-12] (3.1.1: -14)

    def test_will_retain_without_will_flag(self):
        self.connect_case(lambda v: mq.connect("c", version=v, flags_override=0x22),
                          MALFORMED)  # [MQTT-3.1.2-13] (3.1.1: -15)

    def test_invalid_utf8_client_id(self):
        self.connect_case(lambda v: mq.connect(b"\xff\xfe", version=v), MALFORMED)

    def test_wildcard_will_topic(self):
        self.connect_case(lambda v: mq.connect("c", version=v, will={"topic": "w/#"}),
                          EITHER | {mq.RC_TOPIC_NAME_INVALID})

    def test_bad_protocol_name(self):
        # [MQTT-3.1.2-1]: may close (a broker that is not also something else does).
        self.connect_case(lambda v: mq.connect("c", version=v, protocol_name="MQTX"),
                          EITHER | {mq.RC_UNSUPPORTED_PROTOCOL_VERSION})


if __name__ == "__main__":
    unittest.main()
