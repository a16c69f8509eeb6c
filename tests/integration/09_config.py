"""Configuration keys, each checked by its effect as a client sees it: limits told in the
v5 CONNACK and enforced, retain_available, message_size_limit, allow_anonymous,
include_dir (two files, in Mosquitto's order), per_listener_settings, the install
guide's conf.d file with a natter-passwd password file, and `natter-server -t`
(exit status, `FILE:LINE:` messages, inside included files too).

Run: NATTER_SERVER=... /usr/bin/python3 -m unittest -v 09_config
"""

import importlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import rawmqtt as mq
from harness import (HOST, IS_MOSQUITTO, QUIET, V311, V5, VERSIONS, keepalive_deadline,
                     natter_only, spec_rcs)

support = importlib.import_module("09_support")


class MaxPacketSizeTest(support.ListenerTest):
    broker_config = ["max_packet_size 1000"]

    def test_connack_announces_and_bigger_publish_closes_with_0x95(self):
        r = self.raw(V5, connect=False)
        self.assertEqual(r.connect("mps").props.get("MaximumPacketSize"), 1000)
        watch = self.raw(V5, client_id="watch")
        watch.subscribe("mps/#", 0)
        r.send(mq.publish("mps/big", b"x" * 1000))  # 1000 bytes of payload: > 1000 in all
        self.assertClosedWith(r, {mq.RC_PACKET_TOO_LARGE})  # [MQTT-3.2.2-15]
        got = r.wait_closed() if not r.closed else []
        self.assertEqual(got, [])
        ok = self.raw(V5, client_id="fits")
        ok.publish("mps/fits", b"x" * 900)  # 900 + 14 header bytes: fits
        self.assertEqual(watch.recv_publish().payload, b"x" * 900)
        with self.assertRaises(TimeoutError):
            watch.recv_packet(QUIET)  # the big one was never delivered

    def test_v311_bigger_packet_closes(self):
        r = self.raw(V311, client_id="mps311")
        r.send(mq.publish("big", b"x" * 2000, version=V311))
        self.assertEqual(r.wait_closed(), [])


class MaxKeepaliveTest(support.ListenerTest):
    broker_config = ["max_keepalive 10"]

    def test_server_keep_alive_told_to_v5_clients(self):
        r = self.raw(V5, connect=False)
        # [MQTT-3.2.2-21]
        self.assertEqual(r.connect("ka60", keepalive=60).props.get("ServerKeepAlive"), 10)
        r = self.raw(V5, connect=False)
        self.assertIn(r.connect("ka5", keepalive=5).props.get("ServerKeepAlive", 5), (5,))

    def test_keep_alive_zero_gets_the_maximum(self):
        r = self.raw(V5, connect=False)
        self.assertEqual(r.connect("ka0", keepalive=0).props.get("ServerKeepAlive"), 10)


@natter_only("mosquitto 2.0.11 refuses max_keepalive below 10")
class MaxKeepaliveEnforcedTest(support.ListenerTest):
    broker_config = ["max_keepalive 1"]

    def test_server_keep_alive_is_enforced(self):
        r = self.raw(V5, connect=False)
        self.assertEqual(r.connect("ka", keepalive=60).props.get("ServerKeepAlive"), 1)
        start = time.monotonic()
        got = r.wait_closed(keepalive_deadline(1))  # [MQTT-3.1.2-24] with the server's value
        self.assertGreaterEqual(time.monotonic() - start, 1.0, "closed before the keep alive")
        for p in got:
            self.assertEqual((p.type, p.rc), (mq.DISCONNECT, mq.RC_KEEP_ALIVE_TIMEOUT))


class MaxInflightTest(support.ListenerTest):
    broker_config = ["max_inflight_messages 3"]

    def test_receive_maximum_told(self):
        r = self.raw(V5, connect=False)
        self.assertEqual(r.connect("rm").props.get("ReceiveMaximum"), 3)

    @natter_only("mosquitto 2.0.11 follows the v5 client's Receive Maximum and refills past the "
                 "limit for 3.1.1 clients")
    def test_outgoing_inflight_limit(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                sub = self.raw(v, connect=False)
                sub.connect(f"inflight{v}", props={"ReceiveMaximum": 100} if v == V5 else None)
                sub.subscribe(f"inf/{v}", 1)
                pub = self.raw(V5, client_id=f"pub{v}")
                for i in range(8):
                    pub.publish(f"inf/{v}", str(i).encode(), 1)
                first = [sub.recv_publish() for _ in range(3)]
                self.assertEqual([p.payload for p in first], [b"0", b"1", b"2"])
                sub.expect_nothing()  # at most 3 unacknowledged
                sub.ack(first[0])
                self.assertEqual(sub.recv_publish().payload, b"3")
                sub.expect_nothing()
                sub.disconnect()
                pub.disconnect()


class MaxQueuedTest(support.ListenerTest):
    broker_config = ["max_inflight_messages 2", "max_queued_messages 3"]

    def test_online_client_queue_bound(self):
        sub = self.raw(V5, client_id="slow")
        sub.subscribe("mq/t", 1)
        pub = self.raw(V5, client_id="fast")
        for i in range(10):
            pub.publish("mq/t", str(i).encode(), 1)
        got = []
        while True:
            try:
                p = sub.recv_publish(QUIET * 2)
            except AssertionError:
                break
            got.append(int(p.payload))
            sub.ack(p)
        # 2 in flight + 3 queued; the rest dropped. The first ones are kept.
        self.assertEqual(got, [0, 1, 2, 3, 4])

    def test_offline_client_queue_bound(self):
        sub = self.raw(V5, client_id="away", clean=False, props={"SessionExpiryInterval": 300})
        sub.subscribe("mqo/t", 1)
        sub.disconnect()
        pub = self.raw(V5, client_id="fast")
        for i in range(10):
            pub.publish("mqo/t", str(i).encode(), 1)
        back = self.raw(V5, connect=False)
        ack = back.connect("away", clean=False, props={"SessionExpiryInterval": 300})
        self.assertTrue(ack.session_present)
        got = []
        while True:
            try:
                p = back.recv_publish(QUIET * 2)
            except AssertionError:
                break
            got.append(int(p.payload))
            back.ack(p)
        self.assertGreaterEqual(len(got), 3, got)
        self.assertLessEqual(len(got), 5, got)  # queued + in flight at most
        self.assertEqual(got, sorted(set(got)))


class RetainUnavailableTest(support.ListenerTest):
    broker_config = ["retain_available false"]

    def test_connack_says_retain_not_available(self):
        r = self.raw(V5, connect=False)
        self.assertEqual(r.connect("ra").props.get("RetainAvailable"), 0)

    def test_retained_publish_refused(self):
        r = self.raw(V5, client_id="ret")
        r.send(mq.publish("ra/t", b"keep me", 1, retain=True, packet_id=1))
        self.assertClosedWith(r, {support.RC_RETAIN_NOT_SUPPORTED})  # [MQTT-3.3.1-?] 0x9A
        late = self.raw(V5, client_id="late")
        late.subscribe("ra/#", 1)
        late.expect_nothing()
        # Non-retained publishing is unaffected.
        pub = self.raw(V5, client_id="plain")
        pub.publish("ra/t", b"plain", 1)
        self.assertEqual(late.recv_publish().payload, b"plain")

    def test_retained_will_refused(self):
        r = self.raw(V5, connect=False)
        p = r.connect("rw", will={"topic": "ra/will", "payload": b"x", "retain": True},
                      expect_rc=None)
        self.assertEqual(p.rc, support.RC_RETAIN_NOT_SUPPORTED)  # [MQTT-3.2.2-14]


class MessageSizeLimitTest(support.ListenerTest):
    broker_config = ["message_size_limit 100"]

    def test_larger_payload_not_delivered(self):
        watch = self.raw(V5, client_id="watch")
        watch.subscribe("msl/#", 1)
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"msl{v}")
                ack = r.publish(f"msl/{v}", b"x" * 101, 1)
                if v == V5:
                    self.assertGreaterEqual(ack.rc, 0x80, f"oversized payload acknowledged: {ack}")
                ack = r.publish(f"msl/{v}", b"y" * 100, 1)
                self.assertEqual(ack.rc, 0)
                p = watch.recv_publish()
                self.assertEqual(p.payload, b"y" * 100)
                watch.ack(p)
                watch.expect_nothing()


class AllowAnonymousFalseTest(support.ListenerTest):
    bare = True
    broker_config = ["listener {port} 127.0.0.1", "allow_anonymous false"]

    def test_anonymous_refused(self):
        r = self.raw(V5, connect=False)
        self.assertEqual(r.connect("anon", expect_rc=None).rc, support.RC_NOT_AUTHORIZED)
        r = self.raw(V311, connect=False)
        self.assertEqual(r.connect("anon311", expect_rc=None).rc, 5)


class IncludeDirTest(support.ListenerTest):
    broker_ports = ("from_b",)
    broker_config = ["include_dir {dir}/conf.d"]

    broker_files = {
        # Mosquitto's order: letters compare case-insensitively first, so a.conf comes
        # before B.conf (plain byte order would put B.conf first).
        "conf.d/a.conf": "max_keepalive 30\n",
        "conf.d/B.conf": "max_keepalive 20\nlistener {from_b} 127.0.0.1\n",
        "conf.d/c.conf.disabled": "max_keepalive 5\n",
        "conf.d/notes.txt": "max_keepalive 6\n",
    }

    def test_files_read_in_order_and_both_applied(self):
        r = self.raw(V5, connect=False)
        self.assertEqual(r.connect("inc", keepalive=60).props.get("ServerKeepAlive"), 20)
        other = self.raw_at(HOST, self.broker.ports["from_b"], client_id="from-b")
        other.subscribe("inc/t", 0)
        r.publish("inc/t", b"across", 0)
        self.assertEqual(other.recv_publish().payload, b"across")


class PerListenerSettingsTest(support.ListenerTest):
    bare = True
    broker_ports = ("open", "closed")
    broker_config = ["per_listener_settings true",
                     "listener {port} 127.0.0.1", "allow_anonymous false",
                     "listener {open} 127.0.0.1", "allow_anonymous true",
                     "listener {closed} 127.0.0.1"]  # defaults to allow_anonymous false

    def test_anonymous_only_where_allowed(self):
        for name, allowed in (("port", False), ("open", True), ("closed", False)):
            for v in VERSIONS:
                with self.subTest(listener=name, version=v):
                    r = self.raw_at(HOST, self.port_of(name), v, connect=False)
                    rc = r.connect(f"anon-{name}-{v}", expect_rc=None).rc
                    if allowed:
                        self.assertEqual(rc, 0)
                    else:
                        self.assertEqual(rc, support.RC_NOT_AUTHORIZED if v == V5 else 5)


class InstallGuideConfDTest(support.ListenerTest):
    """/etc/natter/conf.d/local.conf as the install guide writes it, read through the
    main file's include_dir, with a password file made by natter-passwd."""
    broker_config = ["include_dir {dir}/conf.d"]

    def prepare_broker(self, broker):
        tool = support.find_natter_passwd()
        if tool is None and IS_MOSQUITTO:
            tool = "/usr/bin/mosquitto_passwd"
        if tool is None:
            self.fail("natter-passwd not found: set NATTER_PASSWD, or build it in "
                      "NATTER_SERVER's build tree")
        passwd = os.path.join(broker.dir, "passwd")
        r = subprocess.run([tool, "-c", "-b", passwd, "alice", "s3cret word"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, f"{tool}: {r.stdout}{r.stderr}")
        if IS_MOSQUITTO:
            os.chmod(passwd, 0o644)  # mosquitto reads it as user mosquitto
        d = os.path.join(broker.dir, "conf.d")
        os.mkdir(d)
        os.chmod(d, 0o755)
        with open(os.path.join(d, "local.conf"), "w") as f:
            f.write("allow_anonymous false\n"
                    f"password_file {passwd}\n")
        os.chmod(os.path.join(d, "local.conf"), 0o644)

    def test_passwords_required(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                anon = self.raw(v, connect=False)
                self.assertEqual(anon.connect(f"anon{v}", expect_rc=None).rc,
                                 support.RC_NOT_AUTHORIZED if v == V5 else 5)
                bad = self.raw(v, connect=False)
                # 3.1.1: 4 (bad user name or password) or 5 (not authorized): the spec
                # leaves the choice, mosquitto sends 5. 5.0: 0x86 [MQTT-3.2.2.2].
                wrong = spec_rcs({support.RC_BAD_USER_OR_PASSWORD},
                                 mosquitto={support.RC_NOT_AUTHORIZED}) if v == V5 else {4, 5}
                self.assertIn(bad.connect(f"bad{v}", username="alice", password=b"wrong",
                                          expect_rc=None).rc, wrong)
                good = self.raw(v, connect=False)
                good.connect(f"good{v}", username="alice", password=b"s3cret word")
                self.assertEqual(good.subscribe(f"pw/{v}", 1), [1])
                good.publish(f"pw/{v}", b"logged in", 0)
                self.assertEqual(good.recv_publish().payload, b"logged in")

    @natter_only("natter-server -t")
    def test_config_check_accepts_it(self):
        r = subprocess.run([support.natter_server(), "-t", "-c", self.broker.conf_path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


@natter_only("natter-server -t and its FILE:LINE messages")
class ConfigCheckTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="natter-it-conf-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.server = support.natter_server()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, path):
        r = subprocess.run([self.server, "-t", "-c", path], capture_output=True, text=True,
                           timeout=30)
        return r.returncode, r.stdout + r.stderr

    def test_good_config_exits_0(self):
        path = self.write("good.conf", f"""# a realistic configuration
listener 1883 127.0.0.1
protocol mqtt
max_connections 100

listener 8080 127.0.0.1
protocol websockets
http_dir {self.dir}/www

listener 8883 127.0.0.1
certfile {self.dir}/certs/server.crt
keyfile {self.dir}/certs/server.key
cafile {self.dir}/certs/ca.crt
require_certificate true
use_identity_as_username true
tls_version tlsv1.2

allow_anonymous false
password_file {self.dir}/passwd
acl_file {self.dir}/acl
max_packet_size 100000
max_inflight_messages 10
max_queued_messages 100
max_keepalive 300
message_size_limit 50000
retain_available true
persistence false
log_type error
log_type warning
include_dir {self.dir}/conf.d
""")
        self.write("conf.d/local.conf", "allow_anonymous false\nmax_keepalive 120\n")
        rc, out = self.check(path)
        self.assertEqual(rc, 0, out)

    def test_bad_key_names_file_and_line(self):
        path = self.write("bad.conf", "listener 1883 127.0.0.1\n# comment\n\nallow_anonymus true\n")
        rc, out = self.check(path)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, re.escape(path) + r":4: ")
        self.assertIn("allow_anonymus", out)

    def test_bad_value_names_file_and_line(self):
        path = self.write("badvalue.conf", "listener 1883 127.0.0.1\nmax_connections abc\n")
        rc, out = self.check(path)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, re.escape(path) + r":2: ")

    def test_bad_key_in_included_file(self):
        main = self.write("main.conf", f"listener 1883 127.0.0.1\ninclude_dir {self.dir}/conf.d\n")
        self.write("conf.d/10-ok.conf", "max_keepalive 60\n")
        bad = self.write("conf.d/20-bad.conf",
                         "# local settings\nmax_keepalive 60\nno_such_key 1\n")
        rc, out = self.check(main)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, re.escape(bad) + r":3: ", "the message must name the included file")

    def test_server_refuses_to_start_on_a_bad_config(self):
        path = self.write("bad.conf",
                          f"listener {support.free_port()} 127.0.0.1\nallow_anonymus true\n")
        r = subprocess.run([self.server, "-c", path], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stdout + r.stderr, re.escape(path) + r":2: ")


if __name__ == "__main__":
    unittest.main()
