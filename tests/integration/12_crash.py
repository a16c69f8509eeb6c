"""Durable state: nothing acknowledged is lost.

RestartTest: a clean stop (SIGTERM) and start on the same port keeps what
08_persistence does not already cover: queued QoS 2 messages, in-flight QoS 2
state in both directions, message expiry and will delay across the restart.

CrashTest: natter-server is killed with SIGKILL at a random moment while a raw
publisher sends 200 numbered QoS 1/2 messages and records exactly which ones got
PUBACK / PUBREC / PUBCOMP; it is restarted on the same port with the same
persistence directory, the publisher carries on as a real client with a
persistent session does (PUBLISH with DUP for what got no PUBREC/PUBACK, PUBREL
for what got PUBREC, then the rest, reusing packet ids as soon as the spec
allows), and the subscriber (persistent session, offline or online during the
crash) must get every message at least once (QoS 1) or exactly once (QoS 2).
Each test loops over 20 kill points, cycling through MQTT 5.0 / 3.1.1 and
persistence_sync always / batch / none (none promises less against an OS crash,
but a process kill must lose nothing either). The kill points come from a seed
printed on stderr: NATTER_CRASH_SEED=<seed> replays them (as far as timing
allows), NATTER_CRASH_ITERATIONS=<n> changes their number, NATTER_CRASH_VERBOSE=1
prints a line per kill point. A failure lists, per kill point, the messages lost
or duplicated and what the publisher had seen of each before the kill.

CorruptDatabaseTest: garbage over the middle of natter.db makes natter-server
refuse to start, naming the file.

Run: NATTER_SERVER=/path/to/natter-server /usr/bin/python3 -m unittest -v 12_crash
(the restart tests also run against NATTER_BROKER=mosquitto).
"""

import collections
import os
import random
import subprocess
import sys
import threading
import time
import traceback
import unittest

import rawmqtt as mq
from harness import QUIET, V5, VERSIONS, WAIT, Broker, BrokerTest, Closed, RawClient, natter_only

SESSION_EXPIRY = 3600
ITERATIONS = int(os.environ.get("NATTER_CRASH_ITERATIONS", "20"))
VERBOSE = os.environ.get("NATTER_CRASH_VERBOSE") == "1"  # a line per kill point
N_MESSAGES = 200
# The kill point: SIGKILL once the publisher has sent message K (random in 0..N-1),
# after a further random 0..MAX_KILL_JITTER seconds. (natter-server takes the 200
# messages in tens of milliseconds, so a delay from the start alone would mostly kill
# an idle broker.)
MAX_KILL_JITTER = 0.005
WINDOW = 16           # publisher's unacknowledged PUBLISHes (natter's Receive Maximum is 20)
POLICIES = ("always", "batch", "none")
# The END message is published last on the messages' topic, so it arrives after all
# of them [MQTT-4.6.0-5]; this long after it nothing more is expected.
END_QUIET = 0.2
END_PACKET_ID = 1000
# A loop stops early, with what it found, once it has failures and runs this long
# (each failure can cost seconds of waiting): a ctest timeout would hide the report.
FAILING_LOOP_BUDGET = 30.0


def session_props(version):
    return {"SessionExpiryInterval": SESSION_EXPIRY} if version == V5 else None


def raw_session(port, client_id, version):
    """A raw connection to a persistent session: 3.1.1 Clean Session 0, 5.0 Clean
    Start 0 with a long Session Expiry Interval. Clean Start 0 also the first time
    (the client ids are new): mosquitto 2.0.11 does not restore a 5.0 session that
    began with Clean Start 1 after a restart. Returns (client, CONNACK)."""
    r = RawClient(port, version)
    try:
        ack = r.connect(client_id, clean=False, props=session_props(version))
    except BaseException:
        r.close()
        raise
    return r, ack


def receive(r, n, quiet=QUIET):
    """The next n PUBLISHes on raw client r, each acknowledged (QoS 2: PUBREC, then
    PUBCOMP for its PUBREL, whenever that comes); then nothing more for `quiet`."""
    got, awaiting_rel = [], set()
    while len(got) < n or awaiting_rel:
        p = r.recv_packet()
        if p.type == mq.PUBLISH:
            got.append(p)
            if p.qos == 1:
                r.send(mq.puback(p.packet_id, version=r.version))
            elif p.qos == 2:
                awaiting_rel.add(p.packet_id)
                r.send(mq.pubrec(p.packet_id, version=r.version))
        elif p.type == mq.PUBREL and p.packet_id in awaiting_rel:
            awaiting_rel.discard(p.packet_id)
            r.send(mq.pubcomp(p.packet_id, version=r.version))
        else:
            raise AssertionError(f"unexpected {p} (received {got})")
    if len(got) > n:
        raise AssertionError(f"{len(got)} PUBLISHes, expected {n}: {got}")
    r.expect_nothing(quiet)
    return got


# ------------------------------------------------------------ clean restart

class RestartTest(BrokerTest):
    broker_config = ["persistence true", "persistence_location {dir}/"]

    def raw_session(self, client_id, version):
        r, ack = raw_session(self.port, client_id, version)
        self.addCleanup(r.close)
        return r, ack

    def test_queued_qos2_survives_restart(self):
        for v in VERSIONS:
            r, _ = self.raw_session(f"q2-{v}", v)
            r.subscribe(f"q2/{v}", 2)
            r.disconnect()
        pub = self.raw(V5)
        for v in VERSIONS:
            for i in range(5):
                pub.publish(f"q2/{v}", f"m{i}", qos=2)
            pub.publish(f"q2/{v}", "q1", qos=1)
        pub.disconnect()
        self.broker.restart()
        for v in VERSIONS:
            with self.subTest(version=v):
                r, ack = self.raw_session(f"q2-{v}", v)
                self.assertTrue(ack.session_present, "session lost in the restart")
                got = [(p.payload, p.qos, p.dup) for p in receive(r, 6)]
                self.assertEqual(sorted(got), sorted(
                    [(f"m{i}".encode(), 2, False) for i in range(5)] + [(b"q1", 1, False)]))
                self.assertEqual([g[0] for g in got if g[1] == 2],
                                 [f"m{i}".encode() for i in range(5)])

    def test_outgoing_inflight_qos2_survives_restart(self):
        """The subscriber had: m0 PUBREC'd and PUBREL received (no PUBCOMP yet), m1 and
        m2 received but not acknowledged, m3 and m4 still queued. After the restart the
        broker resends PUBREL for m0 and m1, m2 as PUBLISH with DUP and their original
        packet ids [MQTT-4.4.0-1], then m3, m4; nothing twice once a flow completes."""
        for v in VERSIONS:
            with self.subTest(version=v):
                sub, _ = self.raw_session(f"out-{v}", v)
                sub.subscribe(f"out/{v}", 2)
                pub = self.raw(V5)
                for i in range(3):
                    pub.publish(f"out/{v}", f"m{i}", qos=2)
                first = [sub.recv_publish() for _ in range(3)]
                self.assertEqual([p.payload for p in first], [b"m0", b"m1", b"m2"])
                sub.send(mq.pubrec(first[0].packet_id, version=v))
                rel = sub.expect(mq.PUBREL)
                self.assertEqual(rel.packet_id, first[0].packet_id)
                sub.disconnect()
                for i in (3, 4):
                    pub.publish(f"out/{v}", f"m{i}", qos=2)
                pub.disconnect()

                self.broker.restart()
                sub, ack = self.raw_session(f"out-{v}", v)
                self.assertTrue(ack.session_present, "session lost in the restart")
                got = []
                try:
                    while len(got) < 5:
                        got.append(sub.recv_packet())
                except (TimeoutError, Closed):
                    self.fail(f"expected PUBREL for m0 and PUBLISH m1..m4, got only {got}")
                rels = [p for p in got if p.type == mq.PUBREL]
                pubs = [p for p in got if p.type == mq.PUBLISH]
                self.assertEqual([p.packet_id for p in rels], [first[0].packet_id],
                                 f"expected one PUBREL for m0, got {got}")
                self.assertEqual([p.payload for p in pubs], [b"m1", b"m2", b"m3", b"m4"], got)
                self.assertEqual([(p.packet_id, p.dup, p.qos) for p in pubs[:2]],
                                 [(first[1].packet_id, True, 2), (first[2].packet_id, True, 2)])
                self.assertEqual([(p.dup, p.qos) for p in pubs[2:]], [(False, 2), (False, 2)])
                sub.send(mq.pubcomp(first[0].packet_id, version=v))
                for p in pubs:
                    sub.send(mq.pubrec(p.packet_id, version=v))
                for p in pubs:
                    self.assertEqual(sub.expect(mq.PUBREL).packet_id, p.packet_id)
                    sub.send(mq.pubcomp(p.packet_id, version=v))
                sub.expect_nothing()
                sub.disconnect()
                # Completed flows stay completed across another restart.
                self.broker.restart()
                sub, ack = self.raw_session(f"out-{v}", v)
                self.assertTrue(ack.session_present)
                sub.expect_nothing()

    def test_incoming_qos2_survives_restart(self):
        """The publisher's QoS 2 flows survive: after the restart its PUBREL for a
        PUBREC'd message is answered with PUBCOMP success (the broker still knows the
        packet id), and a PUBLISH resent with DUP is not delivered a second time."""
        for v in VERSIONS:
            with self.subTest(version=v):
                sub, _ = self.raw_session(f"in-sub-{v}", v)
                sub.subscribe(f"in/{v}", 2)
                sub.disconnect()
                pub, _ = self.raw_session(f"in-pub-{v}", v)
                for pid, payload in ((10, b"x"), (11, b"y")):
                    pub.send(mq.publish(f"in/{v}", payload, 2, packet_id=pid, version=v))
                    self.assertEqual(pub.expect(mq.PUBREC).packet_id, pid)
                pub.disconnect()

                self.broker.restart()
                pub, ack = self.raw_session(f"in-pub-{v}", v)
                self.assertTrue(ack.session_present, "publisher's session lost in the restart")
                # 11: as if the PUBREC had been lost: PUBLISH again with DUP.
                pub.send(mq.publish(f"in/{v}", b"y", 2, dup=True, packet_id=11, version=v))
                self.assertEqual(pub.expect(mq.PUBREC).packet_id, 11)
                for pid in (10, 11):
                    pub.send(mq.pubrel(pid, version=v))
                    comp = pub.expect(mq.PUBCOMP)
                    self.assertEqual((comp.packet_id, comp.rc), (pid, 0),
                                     "PUBREL after the restart: packet id forgotten")
                pub.disconnect()
                sub, ack = self.raw_session(f"in-sub-{v}", v)
                self.assertTrue(ack.session_present)
                self.assertEqual([p.payload for p in receive(sub, 2)], [b"x", b"y"])

    def test_message_expiry_across_restart(self):
        """Time keeps running while the broker is down: a queued or retained message
        whose Message Expiry Interval has passed is not delivered after the restart
        [MQTT-3.3.2-5], and a surviving one carries its remaining lifetime
        [MQTT-3.3.2-6]."""
        sub, _ = self.raw_session("expiry", V5)
        sub.subscribe("exp/q", 1)
        sub.disconnect()
        pub = self.raw(V5)
        published = time.monotonic()
        pub.publish("exp/q", "short", qos=1, props={"MessageExpiryInterval": 1})
        pub.publish("exp/q", "long", qos=1, props={"MessageExpiryInterval": 30})
        pub.publish("exp/q", "forever", qos=1)
        pub.publish("exp/r/short", "rs", qos=1, retain=True, props={"MessageExpiryInterval": 1})
        pub.publish("exp/r/long", "rl", qos=1, retain=True, props={"MessageExpiryInterval": 30})
        pub.disconnect()
        self.broker.restart()
        time.sleep(max(0.0, published + 1.6 - time.monotonic()))
        sub, ack = self.raw_session("expiry", V5)
        self.assertTrue(ack.session_present)
        got = receive(sub, 2)
        self.assertEqual([p.payload for p in got], [b"long", b"forever"])
        left = got[0].props.get("MessageExpiryInterval")
        self.assertIsNotNone(left, "Message Expiry Interval dropped in the restart")
        self.assertLessEqual(left, 29, "expiry interval not reduced by the time spent")
        self.assertGreaterEqual(left, 20)
        self.assertNotIn("MessageExpiryInterval", got[1].props)
        r = self.raw(V5)
        r.subscribe("exp/r/#", 1)
        p = r.recv_publish()
        self.assertEqual((p.topic, p.payload, p.retain), ("exp/r/long", b"rl", True))
        self.assertIn("MessageExpiryInterval", p.props)
        self.assertLessEqual(p.props["MessageExpiryInterval"], 29)
        r.expect_nothing()

    @natter_only("mosquitto 2.0.11 loses a pending delayed will in a restart")
    def test_will_delay_across_restart(self):
        """A delayed will (5.0 Will Delay Interval, persistent session) pending at the
        restart is published once its delay has passed, not at the restart and not
        lost; one whose client reconnected within the delay is not published
        [MQTT-3.1.3-9]."""
        delay = 2
        clients = {}
        for name in ("gone", "back"):
            r = RawClient(self.port, V5)
            self.addCleanup(r.close)
            r.connect(f"will-{name}", clean=False, props=session_props(V5),
                      will={"topic": f"will/{name}", "payload": name.encode(), "qos": 1,
                            "props": {"WillDelayInterval": delay}})
            clients[name] = r
        dropped = time.monotonic()
        for r in clients.values():
            r.close()  # no DISCONNECT: the will is due after the delay
        # Wait until the broker has seen the closes (the sessions are offline).
        watcher = self.raw(V5)
        watcher.subscribe("will/#", 1)
        watcher.expect_nothing(0.2)
        watcher.disconnect()
        self.broker.restart()
        watcher = self.raw(V5)
        watcher.subscribe("will/#", 1)
        back, ack = self.raw_session("will-back", V5)
        self.assertTrue(ack.session_present)
        try:
            early = watcher.recv_publish(max(0.0, dropped + delay - 0.3 - time.monotonic()))
        except AssertionError:
            early = None
        self.assertIsNone(early, "will published before its delay")
        p = watcher.recv_publish(WAIT + delay)
        self.assertEqual((p.topic, p.payload), ("will/gone", b"gone"))
        self.assertGreaterEqual(time.monotonic() - dropped, delay - 0.3)
        watcher.expect_nothing(QUIET + 1.0)  # will/back's delay has passed too: not sent


# ------------------------------------------------------------------- crash

class Publisher:
    """Publishes messages 0..n-1 (payload: the number) on `topic` at `qos` over a raw
    socket, at most `window` unacknowledged, always taking the lowest free packet id
    (ids are reused as soon as the spec allows: after PUBACK / PUBCOMP).

    It is a real client with a persistent session: its state (which message has
    which packet id, which got PUBREC) survives its connections; connect(fresh=False)
    resends, in the original order, PUBLISH with DUP for every message not yet
    PUBACK'd or PUBREC'd and PUBREL for every PUBREC'd one [MQTT-4.4.0-1]. After a
    PUBCOMP it treats the packet id as free [MQTT-4.3.3-12]. It records in which
    connection (0: before the crash) each message got its PUBACK / PUBREC / PUBCOMP,
    and checks that PUBACKs / PUBRECs come in the order of its PUBLISHes
    [MQTT-4.6.0-2], [MQTT-4.6.0-3]."""

    def __init__(self, port, client_id, version, qos, topic, n, window=WINDOW):
        self.port, self.client_id, self.version = port, client_id, version
        self.qos, self.topic, self.n, self.window = qos, topic, n, window
        self.raw = None
        self.conn = -1
        self.next = 0                              # next message to publish
        self.pending = collections.OrderedDict()   # packet id -> [message, "publish"|"rel"]
        self.acked = {}                            # message -> connection of its PUBACK / PUBREC
        self.completed = {}                        # message -> connection of its PUBACK / PUBCOMP
        self.sent_at_kill = 0                      # messages published before the crash
        self.pending_at_kill = {}
        self.end = None                            # which message is Subscriber.END
        self.trigger_at = None                     # set `triggered` once this one is sent
        self.triggered = threading.Event()
        self.errors = []

    def connect(self, fresh):
        self.close()
        self.raw, ack = raw_session(self.port, self.client_id, self.version)
        self.conn += 1
        self.limit = min(self.window, ack.props.get("ReceiveMaximum", 65535))
        self.resent_pubrel = set()
        if not fresh:
            for pid, (i, state) in self.pending.items():
                if state == "publish":
                    self.raw.send(self._publish(i, pid, dup=True))
                else:
                    self.resent_pubrel.add(pid)
                    self.raw.send(mq.pubrel(pid, version=self.version))
        return ack

    def close(self):
        if self.raw is not None:
            self.raw.close()
            self.raw = None

    def _publish(self, i, pid, dup=False):
        payload = Subscriber.END if i == self.end else str(i).encode()
        return mq.publish(self.topic, payload, self.qos, dup=dup, packet_id=pid,
                          version=self.version)

    def add_end(self):
        """One more message, Subscriber.END, with a packet id of its own: the test
        needs it to arrive even where the broker mixes up reused ids."""
        self.end = self.n
        self.n += 1

    def _free_id(self):
        if self.next == self.end:
            return END_PACKET_ID
        pid = 1
        while pid in self.pending:
            pid += 1
        return pid

    def done(self):
        return self.next >= self.n and not self.pending

    def run(self, until_closed=False):
        """Publishes until every message is completed (returns True) or until the
        connection closes (returns False). With until_closed, waits for the close
        even when everything is done (the crash may come later)."""
        try:
            while True:
                while len(self.pending) < self.limit and self.next < self.n:
                    pid = self._free_id()
                    self.pending[pid] = [self.next, "publish"]
                    self.next += 1
                    self.raw.send(self._publish(self.next - 1, pid))
                    if self.next - 1 == self.trigger_at:
                        self.triggered.set()
                if self.done() and not until_closed:
                    return True
                try:
                    p = self.raw.recv_packet(WAIT)
                except TimeoutError:
                    raise AssertionError(
                        f"publisher stalled: nothing from the broker for {WAIT}s with "
                        f"{len(self.pending)} messages unacknowledged "
                        f"({dict(list(self.pending.items())[:5])}...)") from None
                self._handle(p)
        except (Closed, OSError):
            return False

    def _handle(self, p):
        if p.type == mq.DISCONNECT:
            self.errors.append(f"connection {self.conn}: broker sent {p}")
            return
        if p.type not in (mq.PUBACK, mq.PUBREC, mq.PUBCOMP):
            self.errors.append(f"connection {self.conn}: unexpected {p}")
            return
        entry = self.pending.get(p.packet_id)
        want = {mq.PUBACK: (1, "publish"), mq.PUBREC: (2, "publish"),
                mq.PUBCOMP: (2, "rel")}[p.type]
        if entry is None or (self.qos, entry[1]) != want:
            self.errors.append(f"connection {self.conn}: {p} for packet id "
                               f"{p.packet_id} in state {entry}")
            return
        i = entry[0]
        if p.type != mq.PUBCOMP:
            oldest = next(e[0] for e in self.pending.values() if e[1] == "publish")
            if oldest != i:
                self.errors.append(f"connection {self.conn}: {p.name} for message {i} before "
                                   f"the one for message {oldest}, published earlier")
        if p.type == mq.PUBCOMP and p.rc == 0x92 and p.packet_id in self.resent_pubrel:
            pass  # it had completed before the crash; only its PUBCOMP was lost
        elif p.rc >= 0x80:
            self.errors.append(f"connection {self.conn}: message {i} refused: {p}")
        if p.type == mq.PUBACK:
            self.acked[i] = self.completed[i] = self.conn
            del self.pending[p.packet_id]
        elif p.type == mq.PUBREC:
            self.acked[i] = self.conn
            entry[1] = "rel"
            self.raw.send(mq.pubrel(p.packet_id, version=self.version))
        else:
            self.completed[i] = self.conn
            del self.pending[p.packet_id]


class Subscriber:
    """A raw subscriber with a persistent session that acknowledges everything. As a
    QoS 2 receiver it delivers a message when its PUBLISH first arrives and keeps the
    packet id until PUBREL: a PUBLISH with that id meanwhile is answered with PUBREC,
    not delivered again [MQTT-4.3.3-10] (the ids are session state, kept across its
    connections); after its PUBCOMP a PUBLISH with that id is a new message
    [MQTT-4.3.3-12]. Records every delivery: (payload, qos, connection, packet id, DUP)."""

    END = b"end"

    def __init__(self, port, client_id, version, topic, qos):
        self.port, self.client_id, self.version = port, client_id, version
        self.topic, self.qos = topic, qos
        self.raw = None
        self.conn = -1
        self.awaiting_rel = {}  # packet id -> payload
        self.delivered = []
        self.errors = []
        self.end_seen = threading.Event()
        self._thread = None

    def connect(self, fresh):
        self.close()
        self.raw, ack = raw_session(self.port, self.client_id, self.version)
        self.conn += 1
        if fresh:
            self.raw.subscribe(self.topic, self.qos)
        return ack

    def close(self):
        if self.raw is not None:
            self.raw.close()
            self.raw = None

    def disconnect(self):
        self.raw.disconnect()
        self.raw = None

    def serve(self, quiet_after_end=None):
        """Receives and acknowledges until the connection closes or, with
        quiet_after_end, until `quiet_after_end` seconds passed without a packet
        after the END message."""
        raw = self.raw  # close() may clear self.raw while this runs in the background
        try:
            while True:
                timeout = quiet_after_end if self.end_seen.is_set() else WAIT + 5
                try:
                    p = raw.recv_packet(timeout)
                except TimeoutError:
                    if not self.end_seen.is_set():
                        self.errors.append(f"connection {self.conn}: nothing for {timeout}s "
                                           "and no END message")
                    return
                self._handle(p, raw)
        except (Closed, OSError):
            return

    def serve_in_background(self, quiet_after_end=None):
        self._thread = threading.Thread(target=self.serve, args=(quiet_after_end,), daemon=True)
        self._thread.start()

    def join(self, timeout):
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise AssertionError("subscriber thread did not finish")
            self._thread = None

    def _deliver(self, p):
        self.delivered.append((p.payload, p.qos, self.conn, p.packet_id, p.dup))
        if p.payload == self.END:
            self.end_seen.set()

    def _handle(self, p, raw):
        v = self.version
        if p.type == mq.PUBLISH:
            if p.qos == 0:
                self._deliver(p)
            elif p.qos == 1:
                self._deliver(p)
                raw.send(mq.puback(p.packet_id, version=v))
            else:
                seen = self.awaiting_rel.get(p.packet_id)
                if seen is None:
                    self.awaiting_rel[p.packet_id] = p.payload
                    self._deliver(p)
                elif seen != p.payload:
                    self.errors.append(f"connection {self.conn}: packet id {p.packet_id} "
                                       f"reused for {p.payload!r} before PUBREL of {seen!r}")
                elif not p.dup:
                    self.errors.append(f"connection {self.conn}: {seen!r} resent without DUP")
                raw.send(mq.pubrec(p.packet_id, version=v))
        elif p.type == mq.PUBREL:
            self.awaiting_rel.pop(p.packet_id, None)
            raw.send(mq.pubcomp(p.packet_id, version=v))
        else:
            self.errors.append(f"connection {self.conn}: unexpected {p}")


def crash_seed():
    seed = os.environ.get("NATTER_CRASH_SEED")
    return int(seed) if seed else random.SystemRandom().randrange(1 << 32)


@natter_only("mosquitto writes its persistence file at exit or autosave, not before acknowledging")
class CrashTest(BrokerTest):
    start_broker = False

    def crash_loop(self, qos, online):
        seed = crash_seed()
        name = f"{type(self).__name__}.{self._testMethodName}"
        print(f"\n{name}: NATTER_CRASH_SEED={seed}", file=sys.stderr, flush=True)
        rng = random.Random(seed)
        failures = []
        started = time.monotonic()
        ran = 0
        for k in range(ITERATIONS):
            if failures and time.monotonic() - started > FAILING_LOOP_BUDGET:
                break
            ran += 1
            version = VERSIONS[k % 2]
            policy = POLICIES[k % 3]
            kill_at = (rng.randrange(N_MESSAGES), rng.uniform(0, MAX_KILL_JITTER))
            where = (f"seed {seed}, iteration {k}, persistence_sync {policy}, MQTT "
                     f"{'5.0' if version == V5 else '3.1.1'}, SIGKILL {kill_at[1] * 1000:.2f} ms "
                     f"after sending message {kill_at[0]}")
            try:
                problem = self.crash_once(qos, online, version, policy, kill_at, k)
            except AssertionError as e:
                problem = str(e)
            except Exception:  # one kill point's surprise must not hide the others'
                problem = traceback.format_exc()
            if problem:
                failures.append(f"{where}:\n{problem}")
            elif VERBOSE:
                print(f"  {where}: ok, {self.last_summary}", file=sys.stderr, flush=True)
        if failures:
            early = "" if ran == ITERATIONS else f" (stopped early, time budget, of {ITERATIONS})"
            self.fail(f"{len(failures)} of {ran} kill points failed{early} "
                      f"(replay: NATTER_CRASH_SEED={seed}):\n\n" + "\n\n".join(failures))

    def crash_once(self, qos, online, version, policy, kill_at, k):
        """One kill point; returns None or what went wrong (with the broker log)."""
        broker = Broker(["persistence true", "persistence_location {dir}/",
                         f"persistence_sync {policy}"])
        pub = sub = None
        try:
            broker.start()
            topic = f"crash/{k}"
            sub = Subscriber(broker.port, f"crash-sub-{k}", version, f"{topic}/#", qos)
            sub.connect(fresh=True)
            pub = Publisher(broker.port, f"crash-pub-{k}", version, qos, f"{topic}/m", N_MESSAGES)
            pub.connect(fresh=True)
            # Barrier: once this QoS 1 message (routed to the subscriber, so stored) is
            # acknowledged, both sessions and the subscription are durable: the store
            # commits in order.
            if not online:
                sub.disconnect()
            pub.raw.publish(f"{topic}/barrier", b"barrier", 1)
            if online:
                sub.serve_in_background()

            pub.trigger_at = kill_at[0]

            def killer():
                pub.triggered.wait(WAIT)
                time.sleep(kill_at[1])
                broker.kill()

            kill_thread = threading.Thread(target=killer, daemon=True)
            kill_thread.start()
            pub.run(until_closed=True)
            kill_thread.join()
            pub.sent_at_kill = pub.next
            pub.pending_at_kill = {pid: tuple(e) for pid, e in pub.pending.items()}
            pub.close()
            if online:
                sub.join(WAIT)
            sub.close()

            broker.start()
            if online:
                ack = sub.connect(fresh=False)
                if not ack.session_present:
                    return self.report(broker, pub, sub, qos, "subscriber's session lost")
                sub.serve_in_background(quiet_after_end=END_QUIET)
            ack = pub.connect(fresh=False)
            if not ack.session_present:
                return self.report(broker, pub, sub, qos, "publisher's session lost")
            if not pub.run():
                return self.report(broker, pub, sub, qos, "publisher's connection closed "
                                   "after the restart")
            pub.add_end()  # published once everything else is complete, so it arrives last
            if not pub.run():
                return self.report(broker, pub, sub, qos, "publisher's connection closed "
                                   "after the restart, publishing END")
            pub.close()
            if online:
                sub.join(WAIT + 10)
            else:
                ack = sub.connect(fresh=False)
                if not ack.session_present:
                    return self.report(broker, pub, sub, qos, "subscriber's session lost")
                sub.serve(quiet_after_end=END_QUIET)
            sub.close()
            problem = self.check(pub, sub, qos)
            self.last_summary = self.summary(pub, sub, qos)
            broker.stop()  # exit code 0, no sanitizer report
            return self.report(broker, pub, sub, qos, problem) if problem else None
        finally:
            for client in (pub, sub):
                if client is not None:
                    client.close()
            broker.stop(check=False)  # still running only after an early return or an exception
            broker.cleanup()

    def check(self, pub, sub, qos):
        n = N_MESSAGES
        counts = collections.Counter()
        problems = list(pub.errors) + list(sub.errors)
        for payload, got_qos, *_ in sub.delivered:
            if payload in (b"barrier", Subscriber.END):
                continue
            i = int(payload)
            counts[i] += 1
            if got_qos != qos:
                problems.append(f"message {i} delivered at QoS {got_qos}, expected {qos}")
        if not sub.end_seen.is_set():
            problems.append("END message not delivered")
        missing = [i for i in range(n) if counts[i] == 0]
        if missing:
            before = [i for i in missing if pub.acked.get(i) == 0]
            problems.append(
                f"LOST {len(missing)} messages: {missing}; of these "
                f"{'PUBACK' if qos == 1 else 'PUBREC'} seen before the kill: {before}; "
                f"completed before the kill: {[i for i in missing if pub.completed.get(i) == 0]}")
        if qos == 2:
            dups = sorted(i for i, c in counts.items() if c > 1)
            if dups:
                how = {i: [d[2:] for d in sub.delivered if d[0] == str(i).encode()] for i in dups}
                rec0 = [i for i in dups if pub.acked.get(i) == 0]
                problems.append(f"DUPLICATED (QoS 2): {[(i, counts[i]) for i in dups]}; "
                                f"PUBREC before the kill: {rec0}; "
                                f"deliveries as (subscriber connection, packet id, DUP): {how}")
        not_done = [i for i in range(n) if i not in pub.completed]
        if not_done:
            problems.append(f"publisher never completed {not_done}")
        return "\n".join(problems) if problems else None

    @staticmethod
    def summary(pub, sub, qos):
        acked0 = sorted(i for i, c in pub.acked.items() if c == 0)
        done0 = sorted(i for i, c in pub.completed.items() if c == 0)
        return (f"before the kill: {pub.sent_at_kill} published, {len(acked0)} "
                f"{'PUBACK' if qos == 1 else 'PUBREC'}'d (up to {max(acked0, default=None)}), "
                f"{len(done0)} completed, unacknowledged at the kill: {pub.pending_at_kill}; "
                f"subscriber deliveries per connection: "
                f"{sorted(collections.Counter(d[2] for d in sub.delivered).items())}")

    def report(self, broker, pub, sub, qos, problem):
        pending = {pid: tuple(e) for pid, e in pub.pending.items()}
        return (f"{problem}\n  {self.summary(pub, sub, qos)}\n"
                f"  publisher's unacknowledged messages at the end: {pending}\n"
                f"  ---- broker log (tail) ----\n{broker.log()[-3000:]}")

    def test_qos1_offline_subscriber(self):
        """Every PUBACK'd message reaches the offline subscriber (duplicates allowed)."""
        self.crash_loop(qos=1, online=False)

    def test_qos2_offline_subscriber(self):
        """Every message reaches the offline subscriber exactly once."""
        self.crash_loop(qos=2, online=False)

    def test_qos2_online_subscriber(self):
        """Subscriber connected during the crash, acknowledging: exactly once."""
        self.crash_loop(qos=2, online=True)


# ----------------------------------------------------------------- corrupt

@natter_only("natter's SQLite store")
class CorruptDatabaseTest(BrokerTest):
    broker_config = ["persistence true", "persistence_location {dir}/"]

    def test_corrupt_file_refused(self):
        pub = self.raw(V5)
        for i in range(300):
            pub.publish(f"fill/{i}", os.urandom(500), qos=1, retain=True)
        pub.disconnect()
        self.broker.stop()
        path = os.path.join(self.broker.dir, "natter.db")
        size = os.path.getsize(path)
        self.assertGreater(size, 64 * 1024, "the retained messages are not in natter.db")
        with open(path, "r+b") as f:
            f.seek(size // 4)
            f.write(random.Random(1).randbytes(size // 2))
        try:
            done = subprocess.run(self.broker.command(), cwd=self.broker.dir,
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("natter-server started on a corrupt natter.db")
        output = (done.stdout + done.stderr).decode(errors="replace")
        self.assertNotEqual(done.returncode, 0, f"exit 0 on a corrupt store:\n{output}")
        self.assertGreater(done.returncode, 0, f"killed by a signal:\n{output}")
        self.assertIn(path, output, "the error does not name the file")


if __name__ == "__main__":
    unittest.main()
