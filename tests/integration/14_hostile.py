"""Hostile clients (issue #11): a broker faces the internet.

Every case here runs while a bystander (two well-behaved paho clients in a thread of their
own) keeps exchanging numbered QoS 1 messages: it must never miss one nor receive anything
else (a packet the broker should have refused would show up there), it must make progress
while the attack runs, and a fresh client must work afterwards. The offending connection
must be closed; a v5 one may first get a DISCONNECT (or CONNACK), whose reason code must be
the one the specification names.

06_malformed.py covers the basic malformed packets one by one; this module adds:
- more malformed and forbidden packets (non-minimal Remaining Length, reserved flags of the
  acks, DUP on QoS 0, invalid UTF-8 and U+0000 in every string field, packet id 0 in every
  packet that has one, duplicate properties in every packet that has properties, a second
  CONNECT of another version), seeded random garbage, and every seed of the fuzz corpus
  (fuzz/corpus/) sent by a client over a real socket;
- oversized packets refused from their fixed header alone (0x95 before the body arrives);
- connections that never send CONNECT, or send it a byte per second, and HTTP requests sent
  a byte per second, closed after `connect_timeout` (Natter's key; Mosquitto has none);
- connection floods against `max_connections`, past the broker's file descriptor limit,
  reconnect and takeover storms;
- a subscriber that stops reading while others publish: memory stays bounded (peak RSS, read
  from /proc, grows by less than RSS_BOUND_MIB while FLOOD_MIB are published), the slow client
  is cut off (QoS 0: outbox limit) or its messages dropped (QoS 1: max_queued_*), and a
  normal subscriber receives every message;
- the per-client limits of Natter's own keys (max_subscriptions_per_client,
  message_rate_limit).

Run: NATTER_SERVER=... /usr/bin/python3 -m unittest -v 14_hostile
"""

import glob
import importlib
import mmap
import os
import random
import resource
import select
import socket
import struct
import sys
import threading
import time
import unittest

import rawmqtt as mq
from harness import (HOST, IS_MOSQUITTO, V5, V311, VERSIONS, WAIT, Closed, RawClient, natter_only,
                     wait_until)

support = importlib.import_module("09_support")

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.normpath(os.path.join(HERE, "..", "..", "fuzz", "corpus"))

MALFORMED = {mq.RC_MALFORMED}
PROTOCOL = {mq.RC_PROTOCOL_ERROR}
EITHER = MALFORMED | PROTOCOL
TOO_LARGE = {mq.RC_PACKET_TOO_LARGE}
RC_QUOTA_EXCEEDED = 0x97
RC_MESSAGE_RATE_TOO_HIGH = 0x96
# A bystander round trip that takes longer than this means the broker stopped serving it.
BYSTANDER_WAIT = max(3 * WAIT, 15.0)
# The memory test: FLOOD_MIB of 64 KiB messages pass the broker while one subscriber never
# reads; the broker's peak RSS must stay within RSS_BOUND_MIB of what it was before.
FLOOD_MIB = 192
RSS_BOUND_MIB = 64


def v5props(v):
    return b"\x00" if v == V5 else b""


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class Bystander:
    """Two paho clients exchanging numbered QoS 1 messages on bystander/N in a thread:
    publish one, wait for it, check it is exactly the next one, repeat."""

    def __init__(self, test, version=V5, pace=0.002):
        self.pace = pace  # seconds between round trips
        self.sub = test.client(version=version)
        self.sub.subscribe("bystander/#", 1)
        self.pub = test.client(version=V311 if version == V5 else V5)
        self.done = 0
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            n = 0
            while not self._stop.is_set():
                n += 1
                self.pub.publish(f"bystander/{n}", str(n).encode(), 1, timeout=BYSTANDER_WAIT)
                m = self.sub.recv(timeout=BYSTANDER_WAIT)
                if (m.topic, m.payload) != (f"bystander/{n}", str(n).encode()):
                    raise AssertionError(f"bystander expected message {n}, got {m}")
                self.done = n
                time.sleep(self.pace)
        except BaseException as e:  # reported by check()
            self.error = e

    def progress(self, rounds=3, timeout=BYSTANDER_WAIT):
        """Waits until `rounds` more round trips completed: the broker is serving it now."""
        start = self.done
        wait_until(lambda: self.error is not None or self.done >= start + rounds, timeout,
                   what=f"{rounds} bystander round trips (at {self.done})")
        self.check_error()

    def check_error(self):
        if self.error is not None:
            raise AssertionError(f"bystander failed after {self.done} round trips: "
                                 f"{self.error!r}") from self.error

    def stop(self):
        self._stop.set()
        self._thread.join(BYSTANDER_WAIT + 5)
        self.check_error()
        if self._thread.is_alive():
            raise AssertionError("bystander thread stuck")


class HostileBase(support.ListenerTest):
    """Starts the broker and a bystander; `bystander_version` picks its subscriber's."""

    bystander_version = V5
    bystander_pace = 0.002  # seconds between its round trips
    asan_quarantine_mb = None  # lower ASan's quarantine for the broker (memory tests)

    def setUp(self):
        saved = os.environ.get("ASAN_OPTIONS")
        if self.asan_quarantine_mb is not None:
            # ASan keeps freed memory in a 256 MB quarantine: resident memory would grow by that
            # much whatever the broker does. Without ASan the option is ignored.
            os.environ["ASAN_OPTIONS"] = ":".join(
                filter(None, [saved, f"quarantine_size_mb={self.asan_quarantine_mb}",
                              "thread_local_quarantine_size_kb=64"]))
        try:
            super().setUp()
        finally:
            if saved is None:
                os.environ.pop("ASAN_OPTIONS", None)
            else:
                os.environ["ASAN_OPTIONS"] = saved
        self.bystander = Bystander(self, self.bystander_version, self.bystander_pace)
        self.addCleanup(self.bystander.stop)
        self.seq = 0

    def assertFreshClientWorks(self):
        """New 3.1.1 and 5.0 clients connect, subscribe and get their own message."""
        self.seq += 1
        topic = f"fresh/{self.seq}"
        sub = self.raw(V5, client_id=f"fresh-sub-{self.seq}")
        sub.subscribe(topic, 1)
        pub = self.raw(V311, client_id=f"fresh-pub-{self.seq}")
        pub.publish(topic, b"ok", 1)
        p = sub.recv_publish()
        self.assertEqual((p.topic, p.payload), (topic, b"ok"))
        sub.ack(p)
        sub.disconnect()
        pub.disconnect()
        self.bystander.progress()

    def bad(self, version, data, rcs, connect=True, conn_kw=None):
        """Connect (unless connect=False), send data and a PUBLISH to the bystander's topic
        in the same write, expect a close with one of rcs (a broker that skipped the bad
        packet would deliver the PUBLISH to the bystander, which fails), then check that
        the bystander was served and a fresh client works."""
        r = self.raw(version, connect=False)
        if connect:
            r.connect(f"bad{self.seq}", **(conn_kw or {}))
        r.try_send(data + mq.publish("bystander/leak", b"leak", version=version))
        self.assertClosedWith(r, rcs)
        self.assertFreshClientWorks()

    def both(self, make, rcs, **kw):
        for v in VERSIONS:
            with self.subTest(version=v):
                self.bad(v, make(v), rcs, **kw)


# ------------------------------------------------------------------ malformed

class MalformedMoreTest(HostileBase):
    @natter_only("mosquitto 2.0.11 accepts a Remaining Length that is not minimal")
    def test_remaining_length_not_minimal(self):
        # [MQTT-1.5.5-1]: the minimum number of bytes. 0x80 0x00 is 0 in two bytes.
        self.both(lambda v: b"\xc0\x80\x00", MALFORMED)
        self.both(lambda v: b"\x30\x85\x80\x00" + b"\x00\x01a" + b"x" * 2, MALFORMED)

    def test_property_length_past_the_packet(self):
        # 2.2.2.1: the Property Length covers bytes the packet does not have.
        self.bad(V5, mq.packet(mq.PUBLISH, 0, mq.utf8("a") + b"\x0a\x01\x00"), MALFORMED)

    @natter_only("mosquitto 2.0.11 ignores the reserved flags of acks and DISCONNECT")
    def test_reserved_flags_of_acks_and_disconnect(self):
        # [MQTT-2.1.3-1] (3.1.1 [MQTT-2.2.2-1]): flags 0000 for these.
        for ptype in (mq.PUBACK, mq.PUBREC, mq.PUBCOMP):
            with self.subTest(type=ptype):
                self.both(lambda v: mq.packet(ptype, 0x02, mq.u16(1)), MALFORMED)
        self.both(lambda v: mq.packet(mq.DISCONNECT, 0x01, b""), MALFORMED)

    @natter_only("mosquitto 2.0.11 accepts DUP on QoS 0")
    def test_dup_on_qos0(self):
        # [MQTT-3.3.1-2]: DUP is 0 for QoS 0 messages.
        self.both(lambda v: mq.packet(mq.PUBLISH, 0x08, mq.utf8("a") + v5props(v) + b"x"),
                  MALFORMED)

    @natter_only("mosquitto 2.0.11 accepts a wildcard Response Topic")
    def test_wildcard_response_topic(self):
        # [MQTT-3.3.2-14]: the Response Topic is a topic name, no wildcards.
        self.bad(V5, mq.publish("a", b"x", props=[("ResponseTopic", "reply/#")]),
                 EITHER | {mq.RC_TOPIC_NAME_INVALID})

    def test_invalid_utf8_and_nul_in_string_fields(self):
        # [MQTT-1.5.4-1], [MQTT-1.5.4-2] (3.1.1 [MQTT-1.5.3-1/2]): every UTF-8 string field.
        bad_strings = (b"a\x00b", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80")
        for s in bad_strings:
            with self.subTest(string=s):
                self.both(lambda v: mq.connect(s, version=v), MALFORMED, connect=False)
                self.both(lambda v: mq.connect("c", version=v, username=s), MALFORMED,
                          connect=False)
                self.both(lambda v: mq.connect("c", version=v, will={"topic": b"w/" + s}),
                          MALFORMED, connect=False)
                self.both(lambda v: mq.subscribe(1, [(b"f/" + s, 0)], version=v), MALFORMED)
                self.both(lambda v: mq.unsubscribe(1, [b"f/" + s], version=v), MALFORMED)
        # v5 only: strings inside properties.
        self.bad(V5, mq.publish("a", b"x", props=[("UserProperty", (b"k\x00", "v"))]), MALFORMED)
        self.bad(V5, mq.publish("a", b"x", props=[("ContentType", b"\xff")]), MALFORMED)
        self.bad(V5, mq.disconnect(0x80, props=[("ReasonString", b"\xed\xbf\xbf")]), MALFORMED)

    def test_packet_id_zero_everywhere(self):
        # [MQTT-2.2.1-3] (3.1.1 [MQTT-2.3.1-1]): non-zero packet identifiers.
        self.both(lambda v: mq.unsubscribe(0, ["a"], version=v), EITHER)
        self.both(lambda v: mq.publish("a", b"x", 2, packet_id=0, version=v), EITHER)
        for ack in (mq.puback, mq.pubrec, mq.pubrel, mq.pubcomp):
            with self.subTest(ack=ack.__name__):
                self.both(lambda v: ack(0, version=v), EITHER)

    def test_duplicate_properties(self):
        # Each property's section: "It is a Protocol Error to include X more than once".
        cases = {
            "SUBSCRIBE Subscription Identifier": mq.subscribe(
                1, [("a", 0)], props=[("SubscriptionIdentifier", 1), ("SubscriptionIdentifier", 2)]),
            "PUBLISH Topic Alias": mq.publish(
                "a", b"x", props=[("TopicAlias", 1), ("TopicAlias", 1)]),
            "PUBLISH Content Type": mq.publish(
                "a", b"x", props=[("ContentType", "a"), ("ContentType", "b")]),
            "PUBACK Reason String": mq.puback(
                5, 0x10, props=[("ReasonString", "a"), ("ReasonString", "b")]),
            "DISCONNECT Session Expiry": mq.disconnect(
                0, props=[("SessionExpiryInterval", 0), ("SessionExpiryInterval", 0)]),
        }
        for name, data in cases.items():
            with self.subTest(packet=name):
                self.bad(V5, data, PROTOCOL)
        self.bad(V5, mq.connect("dup", props=[("ReceiveMaximum", 5), ("ReceiveMaximum", 5)]),
                 PROTOCOL, connect=False)

    def test_second_connect_of_the_other_version(self):
        # [MQTT-3.1.0-2]: any second CONNECT is a Protocol Error, whatever it says.
        self.bad(V5, mq.connect("again", version=V311), PROTOCOL)
        self.bad(V311, mq.connect("again", version=V5), PROTOCOL)

    def test_random_garbage_after_connect(self):
        # Seeded: a failure names the seed that reproduces it. Garbage may happen to hold
        # valid packets (PINGREQ...), so only these are checked: the connection ends once
        # we stop sending, a DISCONNECT (if any) carries a failure code, the bystander and
        # fresh clients are served.
        for seed in range(40):
            rnd = random.Random(seed)
            v = VERSIONS[seed % 2]
            data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 400)))
            with self.subTest(seed=seed, version=v):
                r = self.raw(v, client_id=f"garbage{seed}")
                r.try_send(data)
                try:
                    r.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                for p in r.wait_closed():
                    if p.type == mq.DISCONNECT:
                        self.assertGreaterEqual(p.rc, 0x80, p)
                r.close()
        self.assertFreshClientWorks()


# ------------------------------------------------------------------ corpus over sockets

class FuzzCorpusOverSocketsTest(HostileBase):
    """Every seed of the MQTT and HTTP fuzz corpora, sent by a client of its own."""

    broker_ports = ("ws",)
    broker_config = ["listener {ws} 127.0.0.1", "protocol websockets"]

    def send_and_close(self, port, data, version=None):
        if version is not None:
            r = RawClient(port, version)
            r.connect(f"corpus-{version}")
        else:
            r = RawClient(port, V5)
        try:
            r.try_send(data)
            try:
                r.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            r.read_until_close(BYSTANDER_WAIT)
        finally:
            r.close()

    def corpus(self, target):
        files = sorted(f for f in glob.glob(os.path.join(CORPUS, target, "*")) if os.path.isfile(f))
        self.assertTrue(files, f"no seeds in {CORPUS}/{target}")
        for f in files:
            with open(f, "rb") as fh:
                yield os.path.basename(f), fh.read()

    def test_mqtt_packet_seeds_after_connect(self):
        for target, v in (("mqtt_v311", V311), ("mqtt_v5", V5)):
            for name, data in self.corpus(target):
                with self.subTest(target=target, seed=name):
                    self.send_and_close(self.port, data, v)
        self.assertFreshClientWorks()

    def test_mqtt_stream_seeds_as_whole_connections(self):
        for name, data in self.corpus("mqtt_stream"):
            with self.subTest(seed=name):
                self.send_and_close(self.port, data[2:])  # bytes 0-1 are the target's options
        self.assertFreshClientWorks()

    def test_http_request_seeds_on_the_websocket_listener(self):
        for name, data in self.corpus("http_request"):
            with self.subTest(seed=name):
                self.send_and_close(self.broker.ports["ws"], data[1:])  # byte 0: read sizes
        self.assertFreshClientWorks()


# ------------------------------------------------------------------ oversized

class OversizedTest(HostileBase):
    broker_config = ["max_packet_size 1000"]

    def test_announced_size_refused_before_the_body(self):
        # 5.0 3.1.2.11.4 / [MQTT-3.2.2-15]: Packet Too Large. Only the fixed header is sent:
        # the broker must not wait for (or buffer) 256 MB it would refuse anyway.
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"big{v}")
                r.send(b"\x30\xff\xff\xff\x7f")
                self.assertClosedWith(r, TOO_LARGE)
        self.assertFreshClientWorks()

    def test_oversized_connect(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, connect=False)
                r.try_send(mq.connect("x" * 1500, version=v))
                self.assertClosedWith(r, TOO_LARGE)
        self.assertFreshClientWorks()

    @natter_only("mosquitto 2.0.11 does not count the fixed header in max_packet_size")
    def test_just_under_and_just_over(self):
        # The limit counts the whole packet, fixed header included.
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"edge{v}")
                r.subscribe("edge", 0)
                overhead = len(mq.publish("edge", b"", version=v))
                # overhead has a 1-byte Remaining Length, these need 2: 1000 bytes in all.
                r.publish("edge", b"x" * (1000 - overhead - 1))
                self.assertEqual(len(r.recv_publish().payload), 1000 - overhead - 1)
                r.try_send(mq.publish("edge", b"x" * (1001 - overhead - 1), version=v))
                self.assertClosedWith(r, TOO_LARGE)
        self.assertFreshClientWorks()


# ------------------------------------------------------------------ connect timeout

@natter_only("mosquitto has no connect timeout")
class ConnectTimeoutTest(HostileBase):
    broker_ports = ("ws",)
    broker_config = ["connect_timeout 2", "listener {ws} 127.0.0.1", "protocol websockets"]
    TIMEOUT = 2
    SLACK = 4  # the close must come within TIMEOUT + SLACK of the connection's start

    def open_silent(self, n, port):
        socks = []
        for _ in range(n):
            s = socket.create_connection((HOST, port), timeout=WAIT)
            self.addCleanup(s.close)
            socks.append(s)
        return socks

    def assertAllClosed(self, socks, started):
        """Each socket is closed by the broker before TIMEOUT + SLACK; no MQTT answer on it
        other than (WebSocket) HTTP bytes, which are discarded."""
        deadline = started + self.TIMEOUT + self.SLACK
        for s in socks:
            s.setblocking(False)
        open_socks = set(socks)
        got = {}
        while open_socks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{len(open_socks)} of {len(socks)} connections still open "
                                     f"{self.TIMEOUT + self.SLACK} s after they started")
            readable, _, _ = select.select(list(open_socks), [], [], remaining)
            for s in readable:
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:  # reset
                    data = b""
                if data:
                    got[s] = got.get(s, b"") + data
                else:
                    open_socks.discard(s)
        return got

    def test_connections_that_never_send_connect(self):
        started = time.monotonic()
        mqtt_socks = self.open_silent(30, self.port)
        http_socks = self.open_silent(5, self.broker.ports["ws"])
        ws_clients = [self.ws_raw(connect=False) for _ in range(5)]  # upgraded, no CONNECT
        # Not closed at once: the timeout is what closes them.
        r = RawClient(self.port, V5)
        self.addCleanup(r.close)
        self.assertTrue(r.is_open(0.3), "a connection without CONNECT closed at once")
        got = self.assertAllClosed(mqtt_socks + http_socks + [w.sock for w in ws_clients] +
                                   [r.sock], started)
        for s in mqtt_socks:
            self.assertEqual(got.get(s, b""), b"", "the broker answered a silent connection")
        self.bystander.progress()
        self.assertFreshClientWorks()

    def test_connect_one_byte_per_second(self):
        # The deadline is absolute: trickling bytes does not extend it.
        socks = {v: socket.create_connection((HOST, self.port), timeout=WAIT) for v in VERSIONS}
        for s in socks.values():
            self.addCleanup(s.close)
        started = time.monotonic()
        stop = threading.Event()

        def trickle(s, data):
            for b in data:
                if stop.wait(1.0):
                    return
                try:
                    s.send(bytes([b]))
                except OSError:
                    return

        threads = [threading.Thread(target=trickle, args=(s, mq.connect(f"slow{v}", version=v)),
                                    daemon=True) for v, s in socks.items()]
        for t in threads:
            t.start()
        self.addCleanup(stop.set)
        got = self.assertAllClosed(list(socks.values()), started)
        stop.set()
        for v, s in socks.items():
            self.assertEqual(got.get(s, b""), b"", f"v{v}: answered a CONNECT that never completed")
        self.assertFreshClientWorks()

    def test_http_request_one_byte_per_second(self):
        s = socket.create_connection((HOST, self.broker.ports["ws"]), timeout=WAIT)
        self.addCleanup(s.close)
        started = time.monotonic()
        stop = threading.Event()
        self.addCleanup(stop.set)

        def trickle():
            s.send(b"GET /healthz HTTP/1.1\r\n")
            for b in b"Host: localhost\r\nX-Slow: " + b"a" * 30:
                if stop.wait(1.0):
                    return
                try:
                    s.send(bytes([b]))
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        got = self.assertAllClosed([s], started)
        stop.set()
        self.assertEqual(got.get(s, b""), b"", "answered an HTTP request that never completed")
        self.assertFreshClientWorks()

    def test_connect_in_pieces_within_the_timeout_is_accepted(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                r = RawClient(self.port, v)
                self.addCleanup(r.close)
                data = mq.connect(f"pieces{v}", version=v)
                for i in range(0, len(data), 5):
                    r.send(data[i:i + 5])
                    time.sleep(0.1)
                self.assertEqual(r.expect(mq.CONNACK).rc, 0)
                # Once connected, the client's keep alive governs, not connect_timeout.
                time.sleep(self.TIMEOUT + 0.5)
                r.send(mq.pingreq())
                r.expect(mq.PINGRESP)
                r.disconnect()


# ------------------------------------------------------------------ floods

class MaxConnectionsFloodTest(HostileBase):
    LIMIT = 12
    broker_config = [f"max_connections {LIMIT}"]

    def test_flood_beyond_max_connections(self):
        # The bystander holds 2 connections. 300 more try to connect at once.
        flood = []
        for i in range(300):
            try:
                s = socket.create_connection((HOST, self.port), timeout=WAIT)
            except OSError:
                continue
            self.addCleanup(s.close)
            flood.append(s)
            try:
                s.sendall(mq.connect(f"flood{i}", version=V311))
            except OSError:
                pass
        accepted = 0
        pending = set(flood)
        bufs = {}
        while pending:
            readable, _, _ = select.select(list(pending), [], [], 1.0)
            if not readable:
                break  # quiet for a second: every connection was answered or closed
            for s in readable:
                try:
                    data = s.recv(64)
                except OSError:
                    data = b""
                if not data:
                    pending.discard(s)
                    continue
                bufs[s] = bufs.get(s, b"") + data
                if len(bufs[s]) >= 4:
                    self.assertEqual(bufs[s][:4], b"\x20\x02\x00\x00")
                    accepted += 1
                    pending.discard(s)
        self.assertLessEqual(accepted, self.LIMIT - 2,
                             f"{accepted} of the flood got CONNACK with max_connections {self.LIMIT}")
        self.assertGreater(accepted, 0, "no connection of the flood accepted at all")
        self.bystander.progress()
        for s in flood:
            s.close()
        # Slots come back once the broker sees the closes.
        wait_until(self._fresh_connects, BYSTANDER_WAIT, what="a connection after the flood")
        self.assertFreshClientWorks()

    def _fresh_connects(self):
        try:
            r = RawClient(self.port, V5)
        except OSError:
            return False
        try:
            r.send(mq.connect("after-flood"))
            return r.recv_packet(1).type == mq.CONNACK
        except (Closed, TimeoutError, OSError):
            return False
        finally:
            r.close()


def broker_has_ubsan():
    """Whether NATTER_SERVER was built with UBSan (its runtime's handlers are in the binary)."""
    path = os.environ.get("NATTER_SERVER")
    if IS_MOSQUITTO or not path:
        return False
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(b"__ubsan_handle_") >= 0


class FileDescriptorFloodTest(HostileBase):
    """More connections than the broker may open files: accept() fails with EMFILE until
    some close. The broker must keep serving its clients, not spin on accept(), and accept
    again once descriptors are free.

    Not under UBSan: its vptr check opens a pipe to probe memory, and with no descriptor left
    it reports a false "invalid vptr" (and -fno-sanitize-recover makes that fatal). The
    Release build runs it."""

    NOFILE = 128

    def setUp(self):
        if broker_has_ubsan():
            self.skipTest("UBSan's vptr check needs free file descriptors (false reports at "
                          "the limit); runs in the Release build")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.NOFILE, hard))  # inherited by the broker
        try:
            super().setUp()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def test_flood_past_the_descriptor_limit(self):
        flood = []
        for _ in range(2 * self.NOFILE):
            try:
                s = socket.create_connection((HOST, self.port), timeout=WAIT)
            except OSError:
                break
            self.addCleanup(s.close)
            flood.append(s)
        self.bystander.progress()
        time.sleep(1)  # the broker sits at its limit for a while
        self.bystander.progress()
        for s in flood:
            s.close()
        wait_until(lambda: MaxConnectionsFloodTest._fresh_connects(self), BYSTANDER_WAIT,
                   what="a connection once descriptors are free")
        self.assertFreshClientWorks()
        if not IS_MOSQUITTO:
            # One warning per failed accept() would be a busy loop writing the log: a few
            # hundred at most over this test's second at the limit.
            failures = self.broker.log().count("accept failed")
            self.assertLess(failures, 200, f"{failures} 'accept failed' log lines: accept() spins")


class StormTest(HostileBase):
    def test_reconnect_storm(self):
        # 4 threads x 60 full connect/CONNACK/DISCONNECT cycles, and 200 connections that
        # reset right after the TCP handshake, while the bystander runs.
        errors = []

        def cycles(k):
            try:
                for i in range(60):
                    r = RawClient(self.port, VERSIONS[i % 2])
                    r.connect(f"storm{k}-{i % 3}")
                    if i % 2:
                        r.disconnect()
                    else:
                        r.close()  # no DISCONNECT
            except BaseException as e:
                errors.append(e)

        def resets():
            try:
                for _ in range(200):
                    s = socket.create_connection((HOST, self.port), timeout=WAIT)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.close()  # RST
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=cycles, args=(k,), daemon=True) for k in range(4)]
        threads.append(threading.Thread(target=resets, daemon=True))
        start = self.bystander.done
        for t in threads:
            t.start()
        self.bystander.progress()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertGreater(self.bystander.done, start)
        self.assertFreshClientWorks()

    def test_takeover_storm(self):
        # 100 connections in a row with one client id: each takes the session over from the
        # one before ([MQTT-3.1.4-3]); only the last stays connected.
        clients = []
        for i in range(100):
            r = RawClient(self.port, VERSIONS[i % 2])
            self.addCleanup(r.close)
            r.connect("same-id", clean=i % 3 == 0)
            clients.append(r)
        last = clients[-1]
        last.send(mq.pingreq())
        last.expect(mq.PINGRESP)
        for r in clients[:-1]:
            got = r.wait_closed(BYSTANDER_WAIT)
            for p in got:
                if p.type == mq.DISCONNECT:
                    self.assertEqual(p.rc, mq.RC_SESSION_TAKEN_OVER, p)
        self.assertFreshClientWorks()


class VanishingClientTest(HostileBase):
    def test_connect_then_gone_before_connack(self):
        # CONNECT and FIN in one go: the client is gone before the broker has decided on
        # its CONNECT. The broker forgets it, keeps serving, and still stops on SIGTERM.
        for i in range(10):
            s = socket.create_connection((HOST, self.port), timeout=WAIT)
            s.sendall(mq.connect(f"vanish{i}", version=VERSIONS[i % 2]))
            s.shutdown(socket.SHUT_WR)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
            s.close()
        self.assertFreshClientWorks()
        self.bystander.stop()
        self.broker.stop()  # fails if the broker ignores SIGTERM


# ------------------------------------------------------------------ slow subscriber

class SlowSubscriberBase(HostileBase):
    asan_quarantine_mb = 8
    PAYLOAD = 64 * 1024
    BATCH = 16

    def reader(self, version=V311, topic="flood/#", qos=0):
        """A subscriber that reads everything, counting in a thread."""
        r = self.raw(version, client_id="normal")
        r.subscribe(topic, qos)
        state = {"n": 0, "next": 0, "error": None}

        def run():
            try:
                while True:
                    p = r.recv_publish(BYSTANDER_WAIT)
                    seq = struct.unpack("!I", p.payload[:4])[0]
                    if seq != state["next"] or len(p.payload) != self.PAYLOAD:
                        raise AssertionError(f"normal subscriber: got #{seq}, expected "
                                             f"#{state['next']}")
                    state["next"] += 1
                    r.ack(p)
            except BaseException as e:
                if not state.get("stopping"):
                    state["error"] = e

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return r, state

    def non_reader(self, version, qos):
        """A subscriber whose receive buffer is tiny and which never reads again."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((HOST, self.port))
        self.addCleanup(s.close)
        r = RawClient.__new__(RawClient)
        r.version, r.sock, r.buf, r.closed, r.next_id = version, s, bytearray(), False, 1
        s.settimeout(WAIT)
        r.connect("slow", props={"ReceiveMaximum": 20} if version == V5 else None)
        r.subscribe("flood/#", qos)
        return r

    def flood(self, normal_state, qos):
        """Publishes FLOOD_MIB in batches; each batch waits for the normal subscriber, so it
        is never the one left behind. Returns the broker's peak RSS growth in KiB."""
        pid = self.broker.proc.pid
        pub = self.raw(V5, client_id="publisher")
        base_rss = proc_status_kib(pid, "VmRSS")
        total = FLOOD_MIB * 1024 * 1024 // self.PAYLOAD
        peak = base_rss
        seq = 0
        while seq < total:
            batch = []
            for _ in range(self.BATCH):
                payload = struct.pack("!I", seq) + b"\xa5" * (self.PAYLOAD - 4)
                batch.append(mq.publish(f"flood/{seq % 7}", payload, qos,
                                        packet_id=(seq % 60000) + 1 if qos else None))
                seq += 1
            pub.send(b"".join(batch))
            if qos:
                for _ in range(self.BATCH):
                    pub.expect(mq.PUBACK, BYSTANDER_WAIT)
            wait_until(lambda: normal_state["next"] >= seq or normal_state["error"],
                       BYSTANDER_WAIT, what=f"normal subscriber at #{seq}")
            if normal_state["error"]:
                raise normal_state["error"]
            peak = max(peak, proc_status_kib(pid, "VmRSS"))
        peak = max(peak, proc_status_kib(pid, "VmHWM"))
        return base_rss, peak, total


@natter_only("mosquitto 2.0.11 buffers QoS 0 messages for a non-reading client without limit")
class SlowSubscriberQos0Test(SlowSubscriberBase):
    def test_non_reader_cut_off_memory_bounded(self):
        normal, state = self.reader()
        slow = self.non_reader(V5, 0)
        base, peak, total = self.flood(state, 0)
        growth_mib = (peak - base) / 1024
        print(f"\n  QoS 0 non-reader: broker RSS {base // 1024} MiB before, peak "
              f"+{growth_mib:.1f} MiB while {FLOOD_MIB} MiB passed", file=sys.stderr)
        self.assertLess(growth_mib, RSS_BOUND_MIB,
                        f"broker RSS grew by {growth_mib:.0f} MiB while {FLOOD_MIB} MiB passed a "
                        f"subscriber that does not read (bound {RSS_BOUND_MIB} MiB)")
        self.assertEqual(state["next"], total)
        # The slow subscriber was cut off: what it finds, once it reads, ends in a close.
        slow.sock.settimeout(None)
        slow.read_until_close(BYSTANDER_WAIT)
        self.bystander.progress()
        state["stopping"] = True
        self.assertFreshClientWorks()


class SlowSubscriberQos1Test(SlowSubscriberBase):
    QUEUE_BYTES = 1024 * 1024
    broker_config = ["max_queued_messages 1000", f"max_queued_bytes {QUEUE_BYTES}"]

    def test_non_reader_messages_dropped_memory_bounded(self):
        normal, state = self.reader(qos=1)
        slow = self.non_reader(V5, 1)
        base, peak, total = self.flood(state, 1)
        growth_mib = (peak - base) / 1024
        print(f"\n  QoS 1 non-reader: broker RSS {base // 1024} MiB before, peak "
              f"+{growth_mib:.1f} MiB while {FLOOD_MIB} MiB passed", file=sys.stderr)
        self.assertLess(growth_mib, RSS_BOUND_MIB,
                        f"broker RSS grew by {growth_mib:.0f} MiB while {FLOOD_MIB} MiB passed a "
                        f"QoS 1 subscriber that does not read (bound {RSS_BOUND_MIB} MiB)")
        self.assertEqual(state["next"], total)
        # The slow subscriber is still connected; reading now, it gets what was in flight and
        # queued, and no more: the rest was dropped (max_queued_bytes).
        slow.sock.settimeout(WAIT)
        got = 0
        while True:
            try:
                p = slow.recv_publish(2)
            except AssertionError:
                break
            slow.ack(p)
            got += 1
        self.assertGreater(got, 0, "the slow subscriber got nothing once it read")
        most = 20 + self.QUEUE_BYTES // self.PAYLOAD + 1
        self.assertLessEqual(got, most, f"{got} messages delivered: max_queued_bytes not applied")
        self.assertLess(got, total)
        slow.send(mq.pingreq())
        slow.expect(mq.PINGRESP)
        state["stopping"] = True
        self.assertFreshClientWorks()


# ------------------------------------------------------------------ per-client limits

@natter_only("Natter's own keys")
class PerClientLimitsTest(HostileBase):
    broker_config = ["max_subscriptions_per_client 3", "message_rate_limit 5"]
    bystander_pace = 0.5  # within message_rate_limit: the limit is everyone's

    def test_max_subscriptions_per_client(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"subs{v}")
                filters = [(f"s/{i}", 1) for i in range(5)]
                r.send(mq.subscribe(1, filters, version=v))
                codes = r.expect(mq.SUBACK).codes
                refused = {RC_QUOTA_EXCEEDED} if v == V5 else {0x80}
                self.assertEqual(codes[:3], [1, 1, 1])
                self.assertEqual(set(codes[3:]), refused, codes)
                # Subscribing again to a filter it holds is not a new subscription.
                self.assertEqual(r.subscribe("s/0", 1), [1])
                pub = self.raw(V5, client_id=f"subs-pub{v}")
                pub.publish("s/4", b"not granted", 1)
                pub.publish("s/2", b"granted", 1)
                self.assertEqual(r.recv_publish().payload, b"granted")
                r.disconnect()
        self.assertFreshClientWorks()

    def test_message_rate_limit(self):
        # 5 PUBLISH per second per user: 300 sent at once cannot all pass. Over the limit the
        # broker may drop them or (v5) disconnect with 0x96 Message rate too high.
        sub = self.raw(V311, client_id="rate-sub")
        sub.subscribe("rate/#", 0)
        pub = self.raw(V5, client_id="rate-pub")
        pub.try_send(b"".join(mq.publish(f"rate/{i}", b"x") for i in range(300)))
        pub.try_send(mq.pingreq())
        got = 0
        while True:
            try:
                sub.recv_publish(1)
                got += 1
            except AssertionError:
                break
        self.assertLess(got, 300, "message_rate_limit 5: all 300 messages passed")
        try:
            for p in pub.wait_closed(1):
                if p.type == mq.DISCONNECT:
                    self.assertEqual(p.rc, RC_MESSAGE_RATE_TOO_HIGH)
        except AssertionError:
            pass  # still connected: the excess was dropped
        self.assertFreshClientWorks()


if __name__ == "__main__":
    unittest.main()
