"""Authorization: a chat-style acl_file with two users, alice (A) and bob (B), and what
each client actually receives.

mosquitto 2.0's semantics, which natter follows: SUBSCRIBE is granted for any filter
(SUBACK), and read access is checked for every message delivered (retained and queued
messages included); a refused PUBLISH gets PUBACK/PUBREC 0x87 in v5 and is dropped silently
in 3.1.1; a will the client may not publish refuses the CONNECT.

Run: NATTER_SERVER=.../natter-server /usr/bin/python3 -m unittest -v 11_auth_acl
     NATTER_BROKER=mosquitto /usr/bin/python3 -m unittest -v 11_auth_acl   (reference)
natter-passwd: $NATTER_PASSWD, else next to natter-server in the build tree.
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import rawmqtt as mq
from harness import IS_MOSQUITTO, V5, V311, VERSIONS, BrokerTest, natter_only

MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
NOT_AUTHORIZED = 0x87
ACCEPTED = (0x00, 0x10)  # Success, No matching subscribers
V311_NOT_AUTHORIZED = 5

# Every user's password is "<name> pw".
USERS = ["alice", "bob", "watcher", "+", "a#b", "bob/inbox"]

ACL = """\
# Anonymous clients: nothing (allow_anonymous is false anyway).

# An operator that may watch everything the chat users do.
user watcher
topic read chat/#
topic read presence/#
topic read dev/#
topic readwrite public/#
topic readwrite $SYS/#

# Own rules work for every user, also where patterns are refused.
user alice
topic read public/#
user +
topic read public/#
user a#b
topic read public/#
user bob/inbox
topic read public/#

# Each user reads and writes below chat/<username>/ (the inbox is chat/<username>/inbox),
# publishes only its own presence, reads everybody's presence; a device (client id)
# owns dev/<client id>/.
pattern readwrite chat/%u/#
pattern write presence/%u
pattern read presence/#
pattern readwrite dev/%c/#
"""


def passwd_tool():
    tool = os.environ.get("NATTER_PASSWD")
    if tool:
        return tool
    server = os.environ.get("NATTER_SERVER")
    if server:
        beside = os.path.join(os.path.dirname(os.path.dirname(server)), "auth", "natter-passwd")
        if os.access(beside, os.X_OK):
            return beside
    found = shutil.which("natter-passwd")
    if found:
        return found
    if IS_MOSQUITTO and os.access(MOSQUITTO_PASSWD, os.X_OK):
        return MOSQUITTO_PASSWD
    return None


def pw(user):
    return f"{user} pw"


class AclBase(BrokerTest):
    """A broker with the ACL above; the password file is made once per class."""

    start_broker = False

    @classmethod
    def setUpClass(cls):
        # One password file for the whole class (read-only for the brokers).
        tool = passwd_tool()
        if tool is None:
            raise unittest.SkipTest("natter-passwd not found: set NATTER_PASSWD")
        cls.files = tempfile.mkdtemp(prefix="natter-it-acl-")
        cls.pw_file = os.path.join(cls.files, "passwd")
        cls.acl_file = os.path.join(cls.files, "acl")
        for i, user in enumerate(USERS):
            fast = ["-I", "1000"] if tool != MOSQUITTO_PASSWD else []
            create = ["-c"] if i == 0 else []
            r = subprocess.run([tool, *fast, *create, "-b", cls.pw_file, user, pw(user)],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                shutil.rmtree(cls.files, ignore_errors=True)
                raise AssertionError(f"{tool} failed for {user!r}: {r.stderr}")
        with open(cls.acl_file, "w") as f:
            f.write(ACL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.files, ignore_errors=True)

    broker_extra = ()

    def setUp(self):
        super().setUp()
        self.broker = self.new_broker([*(["user root"] if IS_MOSQUITTO else []),
                                       "allow_anonymous false",
                                       f"password_file {self.pw_file}",
                                       f"acl_file {self.acl_file}", *self.broker_extra])

    # ---- clients
    def user(self, name, version=V5, **kw):
        """A paho client logged in as `name`."""
        return self.client(version=version, username=name, password=pw(name), **kw)

    def raw_user(self, name, version=V5, client_id=None, **kw):
        return self.raw(version, client_id=client_id or f"raw-{time.monotonic_ns()}",
                        username=name, password=pw(name), **kw)

    def refused(self, name, version, client_id, **kw):
        """CONNECT as `name` must be refused as not authorised, and the connection closed."""
        r = self.raw(version, connect=False)
        ack = r.connect(client_id=client_id, username=name, password=pw(name), expect_rc=None,
                        **kw)
        self.assertEqual(ack.rc, NOT_AUTHORIZED if version == V5 else V311_NOT_AUTHORIZED,
                         f"{name} as {client_id!r}: {ack}")
        self.assertEqual(r.wait_closed(), [])

    def granted(self, codes, qos):
        # mosquitto semantics: every filter is granted; what may not be read is filtered
        # at delivery.
        self.assertEqual(codes, [qos])


class AclTest(AclBase):

    # ---------------------------------------------------------------- reading

    def test_inbox_of_another_user_not_delivered_through_any_filter(self):
        watcher = self.user("watcher")
        watcher.subscribe("chat/#", 1)
        bob = self.user("bob")
        filters = ["chat/bob/inbox", "chat/+/inbox", "chat/#", "#", "+/+/+", "+/bob/#"]
        for version in VERSIONS:
            for flt in filters:
                with self.subTest(version=version, filter=flt):
                    alice = self.user("alice", version)
                    self.granted(alice.subscribe(flt, 1), 1)
                    bob.publish("chat/bob/inbox", f"secret {flt}".encode(), 1)
                    # The control: it was published, and a reader that may see it did.
                    m = watcher.recv()
                    self.assertEqual((m.topic, m.payload), ("chat/bob/inbox",
                                                            f"secret {flt}".encode()))
                    own = "chat/alice/inbox"
                    if mq_matches(flt, own):
                        # The same subscription delivers alice's own inbox, which was
                        # routed after bob's message: anything of bob's would come first.
                        alice.publish(own, b"mine", 1)
                        self.assertEqual(watcher.recv().payload, b"mine")
                        got = alice.recv()
                        self.assertEqual((got.topic, got.payload), (own, b"mine"))
                    alice.expect_nothing()
                    alice.disconnect()

    def test_shared_subscription_does_not_bypass_read_access(self):
        bob = self.user("bob")
        alice = self.user("alice")
        self.granted(alice.subscribe("$share/g/chat/+/inbox", 1), 1)
        bob.publish("chat/bob/inbox", b"secret", 1)
        alice.publish("chat/alice/inbox", b"mine", 1)
        got = alice.recv()
        self.assertEqual((got.topic, got.payload), ("chat/alice/inbox", b"mine"))
        alice.expect_nothing()

    def test_retained_messages_of_another_user_not_delivered(self):
        bob = self.user("bob")
        bob.publish("chat/bob/inbox", b"bob's retained", 1, retain=True)
        bob.publish("presence/bob", b"online", 1, retain=True)  # everybody may read it
        alice = self.user("alice")
        alice.publish("chat/alice/inbox", b"alice's retained", 1, retain=True)
        for version in VERSIONS:
            for flt, expected in [("#", {("chat/alice/inbox", b"alice's retained"),
                                         ("presence/bob", b"online")}),
                                  ("chat/+/inbox", {("chat/alice/inbox", b"alice's retained")}),
                                  ("+/bob", {("presence/bob", b"online")}),
                                  ("chat/bob/#", set())]:
                with self.subTest(version=version, filter=flt):
                    reader = self.user("alice", version)
                    self.granted(reader.subscribe(flt, 1), 1)
                    got = [reader.recv() for _ in expected] + reader.drain()
                    self.assertEqual({(m.topic, m.payload) for m in got}, expected)
                    self.assertEqual(len(got), len(expected), got)
                    self.assertTrue(all(m.retain for m in got))
                    reader.disconnect()
        # The control: bob's retained message is there for a reader that may see it.
        watcher = self.user("watcher")
        watcher.subscribe("chat/bob/inbox", 1)
        self.assertEqual(watcher.recv().payload, b"bob's retained")

    def test_queued_messages_of_another_user_not_delivered(self):
        # A persistent session subscribed to everything while alice is away: bob's inbox
        # must not be queued for her (nor delivered on reconnect).
        for version in VERSIONS:
            with self.subTest(version=version):
                cid = f"alice-offline-{version}"
                kw = {"clean": False} if version == V311 else {"session_expiry": 300}
                alice = self.user("alice", version, client_id=cid, **kw)
                alice.subscribe("chat/#", 1)
                alice.disconnect()
                bob = self.user("bob")
                bob.publish("chat/bob/inbox", b"secret", 1)
                mine = self.user("alice")
                mine.publish("chat/alice/inbox", b"mine", 1)
                alice = self.user("alice", version, client_id=cid, clean=False,
                                  **({"session_expiry": 300} if version == V5 else {}))
                self.assertTrue(alice.session_present)
                self.assertEqual(alice.recv().payload, b"mine")
                alice.expect_nothing()
                alice.disconnect()

    # ---------------------------------------------------------------- writing

    def test_publishing_as_another_user_refused_v5(self):
        watcher = self.user("watcher")
        watcher.subscribe("presence/#", 1)
        watcher.subscribe("chat/#", 1)
        alice = self.raw_user("alice", V5)
        for topic in ("presence/bob", "chat/bob/inbox", "presence/alice/x", "dev/x/y"):
            with self.subTest(topic=topic):
                self.assertEqual(alice.publish(topic, b"forged", 1).rc, NOT_AUTHORIZED)
                # QoS 2: PUBREC 0x87 ends the flow: PUBREL only after a success [MQTT-4.3.3-4].
                pid = alice.pid()
                alice.send(mq.publish(topic, b"forged", 2, packet_id=pid))
                rec = alice.expect(mq.PUBREC)
                self.assertEqual((rec.packet_id, rec.rc), (pid, NOT_AUTHORIZED))
                alice.publish(topic, b"forged", 0)
        # Still connected, and her own presence goes through.
        self.assertEqual(alice.publish("presence/alice", b"here", 1).rc, 0)
        m = watcher.recv()
        self.assertEqual((m.topic, m.payload), ("presence/alice", b"here"))
        watcher.expect_nothing()

    def test_publishing_as_another_user_dropped_v311(self):
        watcher = self.user("watcher")
        watcher.subscribe("presence/#", 1)
        bob = self.user("bob", V311)
        bob.subscribe("chat/bob/#", 1)
        alice = self.raw_user("alice", V311)
        for qos in (0, 1, 2):
            with self.subTest(qos=qos):
                # QoS 1 and 2 complete their flows as usual: 3.1.1 has no way to say no.
                alice.publish("presence/bob", f"forged {qos}".encode(), qos)
                alice.publish("chat/bob/inbox", f"forged {qos}".encode(), qos)
        alice.publish("presence/alice", b"here", 1)
        m = watcher.recv()
        self.assertEqual((m.topic, m.payload), ("presence/alice", b"here"))
        watcher.expect_nothing()
        bob.expect_nothing()

    def test_sys_topics_not_writable(self):
        # Nobody may publish to $SYS, not even a user whose ACL grants it.
        watcher = self.user("watcher")
        watcher.subscribe("$SYS/x/#", 1)
        for name in ("alice", "watcher"):
            with self.subTest(user=name):
                r = self.raw_user(name, V5)
                self.assertEqual(r.publish("$SYS/x", b"fake", 1).rc, NOT_AUTHORIZED)
                self.assertEqual(r.publish("$SYS/x/broker/uptime", b"fake", 1).rc,
                                 NOT_AUTHORIZED)
                r3 = self.raw_user(name, V311)
                r3.publish("$SYS/x", b"fake", 1)
        watcher.expect_nothing()

    # ----------------------------------------------------------- client ids

    @natter_only("mosquitto 2.0.11 lets another user take a client id over")
    def test_client_id_of_another_user_refused(self):
        watcher = self.user("watcher")
        watcher.subscribe("chat/#", 1)
        for version in VERSIONS:
            with self.subTest(version=version):
                cid = f"bob-phone-{version}"
                persist = {"clean": False} if version == V311 else {"session_expiry": 300}
                bob = self.user("bob", version, client_id=cid, **persist)
                bob.subscribe("chat/bob/inbox", 1)
                for clean in (True, False):
                    self.refused("alice", version, cid, clean=clean)
                self.refused("alice", V5 if version == V311 else V311, cid)
                # bob is still connected, with his subscription.
                other = self.user("bob")
                other.publish("chat/bob/inbox", b"still there?", 1)
                self.assertEqual(bob.recv().payload, b"still there?")
                self.assertTrue(bob.disconnects.empty(), "bob was disconnected")
                # Offline: alice may not take the session either (nor end it with a clean
                # start), and what is queued for bob stays his.
                bob.disconnect()
                other.publish("chat/bob/inbox", b"while away", 1)
                self.refused("alice", version, cid, clean=True)
                self.refused("alice", version, cid, clean=False)
                again = self.user("bob", version, client_id=cid, clean=False,
                                  **({"session_expiry": 300} if version == V5 else {}))
                self.assertTrue(again.session_present)
                self.assertEqual(again.recv().payload, b"while away")
                again.disconnect()

    # ---------------------------------------------------------------- wills

    FORBIDDEN_WILLS = ("presence/bob", "chat/bob/inbox", "$SYS/x")

    def will_watcher(self):
        watcher = self.user("watcher")
        watcher.subscribe("presence/#", 1)
        watcher.subscribe("chat/#", 1)
        watcher.subscribe("$SYS/x", 1)
        return watcher

    def own_will_control(self, watcher, version):
        # The control: a will on her own presence is accepted and published.
        r = self.raw_user("alice", version, client_id=f"will-{version}",
                          will={"topic": "presence/alice", "payload": b"gone", "qos": 1})
        r.close()
        m = watcher.recv()
        self.assertEqual((m.topic, m.payload), ("presence/alice", b"gone"))

    @natter_only("mosquitto 2.0.11 accepts the CONNECT and drops the will when it fires")
    def test_will_on_a_topic_the_user_may_not_write_refused_at_connect(self):
        watcher = self.will_watcher()
        for version in VERSIONS:
            for topic in self.FORBIDDEN_WILLS:
                with self.subTest(version=version, topic=topic):
                    self.refused("alice", version, f"will-{version}",
                                 will={"topic": topic, "payload": b"forged will", "qos": 1})
            with self.subTest(version=version, topic="presence/alice"):
                self.own_will_control(watcher, version)
        watcher.expect_nothing()

    def test_will_on_a_topic_the_user_may_not_write_never_published(self):
        # Whether the CONNECT is refused (natter) or the will dropped when it would fire
        # (mosquitto 2.0.11), nobody ever sees it.
        watcher = self.will_watcher()
        for version in VERSIONS:
            for topic in self.FORBIDDEN_WILLS:
                with self.subTest(version=version, topic=topic):
                    r = self.raw(version, connect=False)
                    ack = r.connect(client_id=f"will-{version}", username="alice",
                                    password=pw("alice"), expect_rc=None,
                                    will={"topic": topic, "payload": b"forged", "qos": 1})
                    if ack.rc == 0:
                        r.close()  # abnormal close: the will would fire now
                    else:
                        r.wait_closed()
            self.own_will_control(watcher, version)
        watcher.expect_nothing()

    # ---------------------------------------------------------------- %c

    def test_client_id_pattern(self):
        watcher = self.user("watcher")
        watcher.subscribe("dev/#", 1)
        for version in VERSIONS:
            with self.subTest(version=version):
                dev1 = self.user("alice", version, client_id=f"alice-dev1-{version}")
                self.granted(dev1.subscribe("dev/#", 1), 1)
                dev2 = self.raw_user("bob", V5, client_id=f"bob-dev2-{version}")
                # Writing: only below its own client id.
                self.assertEqual(dev2.publish(f"dev/alice-dev1-{version}/cmd", b"x", 1).rc,
                                 NOT_AUTHORIZED)
                self.assertEqual(dev2.publish(f"dev/bob-dev2-{version}/temp", b"21", 1).rc, 0)
                self.assertEqual(watcher.recv().payload, b"21")
                # Reading: dev1 gets its own topic only, through the same subscription.
                dev1.publish(f"dev/alice-dev1-{version}/temp", b"19", 1)
                self.assertEqual(watcher.recv().payload, b"19")
                m = dev1.recv()
                self.assertEqual((m.topic, m.payload), (f"dev/alice-dev1-{version}/temp", b"19"))
                dev1.expect_nothing()
                # The same user under another client id gets nothing of dev1's.
                other = self.user("alice", version, client_id=f"alice-dev3-{version}")
                other.subscribe("dev/#", 1)
                dev1.publish(f"dev/alice-dev1-{version}/temp", b"18", 1)
                self.assertEqual(dev1.recv().payload, b"18")
                self.assertEqual(watcher.recv().payload, b"18")
                other.expect_nothing()
                dev1.disconnect()
                other.disconnect()

    def test_client_ids_with_wildcards_get_no_pattern_access(self):
        # `dev/%c/#` with client id "+" would be dev/+/#: every device. mosquitto refuses
        # all patterns to such a client; its own `user` rules still apply.
        watcher = self.raw_user("watcher")
        dev = self.raw_user("bob", client_id="dev1")
        for cid in ("+", "#", "a+b", "dev1#"):
            with self.subTest(client_id=cid):
                c = self.user("alice", client_id=cid)
                codes = c.subscribe([("dev/#", 1), ("chat/#", 1), ("public/#", 1)])
                self.assertEqual(codes, [1, 1, 1])
                # Accepted (0x10 when nobody may read it: natter counts only deliveries).
                self.assertIn(dev.publish("dev/dev1/temp", b"20", 1).rc, ACCEPTED)
                self.assertIn(self.raw_user("alice").publish(
                    "chat/alice/inbox", b"hers", 1).rc, ACCEPTED)  # %u is a pattern too
                watcher.publish("public/news", b"news", 1)
                m = c.recv()
                self.assertEqual((m.topic, m.payload), ("public/news", b"news"))
                c.expect_nothing()
                # ... and it may not write through a pattern either (dev/<client id>/...
                # is not a valid topic name for these ids).
                r = self.raw_user("alice", client_id=cid + "w")
                for topic in ("chat/alice/inbox", "presence/alice"):
                    self.assertEqual(r.publish(topic, b"x", 1).rc, NOT_AUTHORIZED, topic)
                c.disconnect()

    # ------------------------------------------------------------ usernames

    def check_no_pattern_access(self, name):
        bob = self.user("bob")
        watcher = self.user("watcher")
        bob_in = self.user("bob")
        bob_in.subscribe("chat/bob/#", 1)
        u = self.user(name)
        self.assertEqual(u.subscribe([("chat/#", 1), ("presence/#", 1), ("public/#", 1)]),
                         [1, 1, 1])
        bob.publish("chat/bob/inbox", b"secret", 1)
        self.assertEqual(bob_in.recv().payload, b"secret")
        bob.publish("presence/bob", b"online", 1)  # readable only through a pattern
        watcher.publish("public/news", b"news", 1)  # the control: u's own `user` rule
        m = u.recv()
        self.assertEqual((m.topic, m.payload), ("public/news", b"news"))
        u.expect_nothing()
        # Writing through a pattern is refused too.
        r = self.raw_user(name)
        topics = ["chat/bob/inbox", "presence/bob", "chat/alice/x"]
        if "+" not in name and "#" not in name:  # else not valid in a topic name
            topics += [f"presence/{name}", f"chat/{name}/inbox"]
        for topic in topics:
            with self.subTest(user=name, topic=topic):
                self.assertEqual(r.publish(topic, b"forged", 1).rc, NOT_AUTHORIZED)
        bob_in.expect_nothing()

    def test_usernames_with_wildcards_get_no_pattern_access(self):
        # `chat/%u/#` for user "+" would be chat/+/#: every inbox.
        for name in ("+", "a#b"):
            with self.subTest(user=name):
                self.check_no_pattern_access(name)

    @natter_only("mosquitto 2.0 substitutes a username containing '/' into patterns")
    def test_username_with_slash_gets_no_pattern_access(self):
        # `chat/%u/#` for user "bob/inbox" would be chat/bob/inbox/#: bob's inbox.
        self.check_no_pattern_access("bob/inbox")


def mq_matches(flt, topic):
    """MQTT topic filter matching (no $ topics here)."""
    if flt.startswith("$share/"):
        flt = flt.split("/", 2)[2]
    f, t = flt.split("/"), topic.split("/")
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


class SysTest(AclBase):
    broker_extra = ("sys_interval 1",)

    def test_sys_not_delivered_without_a_grant(self):
        watcher = self.user("watcher")
        watcher.subscribe("$SYS/#", 0)
        alice = self.user("alice")
        self.granted(alice.subscribe("$SYS/#", 0), 0)
        try:
            watcher.recv(timeout=2.5)
        except AssertionError:
            self.skipTest("the broker published no $SYS topic within 2.5 s "
                          "(sys_interval 1): nothing to filter")
        alice.expect_nothing(1.5)


if __name__ == "__main__":
    unittest.main()
