"""natter-pub and natter-sub: the install guide's walk-through, the mosquitto_pub /
mosquitto_sub options and outputs scripts rely on (exit codes, error texts, -F, -d),
interop both ways with Debian's mosquitto broker and clients, and the TLS and WebSocket
transports (against mosquitto, with a test CA made here with the openssl CLI).

Run: NATTER_SERVER=... NATTER_PUB=... NATTER_SUB=... /usr/bin/python3 -m unittest -v 08_natter_pubsub
(NATTER_BROKER=mosquitto runs the broker-side tests against mosquitto instead.)
"""

import importlib
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import HOST, IS_MOSQUITTO, MOSQUITTO, WAIT, BrokerTest, free_port, natter_only

support = importlib.import_module("09_support")

NATTER_PUB = os.environ.get("NATTER_PUB")
NATTER_SUB = os.environ.get("NATTER_SUB")
MOSQ_PUB = "/usr/bin/mosquitto_pub"
MOSQ_SUB = "/usr/bin/mosquitto_sub"
EXIT_WAIT = 10
TIMED_OUT = 27  # mosquitto_sub -W: MOSQ_ERR_TIMEOUT


def setUpModule():
    for name, path in (("NATTER_PUB", NATTER_PUB), ("NATTER_SUB", NATTER_SUB)):
        if not path:
            raise unittest.SkipTest(f"set {name}=/path/to/{name.lower().replace('_', '-')}")
        if not os.access(path, os.X_OK):
            raise AssertionError(f"{name}={path} is not an executable (not built yet?)")


def need(path):
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"{path} is not installed")


def run(cmd, stdin=None, timeout=EXIT_WAIT):
    """Runs a client to completion: (exit status, stdout bytes, stderr text)."""
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout,
                           stdin=None if stdin is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{cmd} did not exit within {timeout}s") from None
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def pub(port, *args, binary=None, stdin=None, host=HOST):
    """natter-pub (or `binary`) to host:port; fails the test unless it exits 0 silently."""
    cmd = [binary or NATTER_PUB]
    if port is not None:
        cmd += ["-h", host, "-p", str(port)]
    rc, out, err = run(cmd + list(args), stdin=stdin)
    assert rc == 0 and err == "", f"{cmd + list(args)}: exit {rc}, stderr {err!r}"
    return out


class Sub:
    """A running natter-sub (or mosquitto_sub) with -d, so we know when it is
    subscribed. Its stdout is split into debug lines and message lines."""

    DEBUG = re.compile(rb"^(Client \S+ (sending|received) |Subscribed \(mid)")

    def __init__(self, test, args, binary=None, port=None, host=HOST, ready=b"received SUBACK"):
        binary = binary or NATTER_SUB
        cmd = [binary, "-d"]
        if port is not None:
            cmd += ["-h", host, "-p", str(port)]
        cmd += list(args)
        if binary == MOSQ_SUB:  # mosquitto_sub's stdout is block-buffered on a pipe
            cmd = ["stdbuf", "-oL"] + cmd
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        test.addCleanup(self.kill)
        self.lines = queue.Queue()
        self.all = []
        self.err = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self._wait_for(ready)

    def _read(self):
        for raw in self.proc.stdout:
            self.all.append(raw)
            self.lines.put(raw)
        self.lines.put(None)

    def _read_err(self):
        self.err = self.proc.stderr.read()

    def _wait_for(self, marker):
        deadline = time.monotonic() + WAIT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{self.cmd}: no {marker!r} line: {self.all}") from None
            if line is None:
                raise AssertionError(f"{self.cmd} exited early: {self.all} {self.err!r}")
            if marker in line:
                return

    def finish(self, timeout=EXIT_WAIT):
        """Waits for exit; returns (exit status, message output bytes, stderr text)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.cmd} did not exit: {self.all}") from None
        time.sleep(0.05)  # let the reader threads drain the pipes
        out = b"".join(line for line in self.all if not self.DEBUG.match(line))
        return rc, out, self.err.decode(errors="replace")

    def messages(self):
        rc, out, err = self.finish()
        assert rc == 0, f"{self.cmd}: exit {rc}, stderr {err!r}, output {self.all}"
        return out.decode(errors="replace").splitlines()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


# ------------------------------------------------------------- against the broker

class WalkThroughTest(BrokerTest):
    """The install guide's walk-through, and the everyday options."""

    def test_install_guide_walkthrough(self):
        for version in ([], ["-V", "mqttv5"]):
            with self.subTest(version=version):
                sub = Sub(self, ["-t", "home/lights/sitting_room", "-C", "2", *version], port=self.port)
                pub(self.port, "-m", "ON", "-t", "home/lights/sitting_room", *version)
                pub(self.port, "-m", "OFF", "-t", "home/lights/sitting_room", *version)
                self.assertEqual(sub.messages(), ["ON", "OFF"])

    def test_verbose_prints_topic_and_payload(self):
        sub = Sub(self, ["-t", "home/#", "-v", "-C", "2"], port=self.port)
        pub(self.port, "-t", "home/lights/kitchen", "-m", "ON")
        pub(self.port, "-t", "home/heating", "-m", "21.5 C")
        self.assertEqual(sub.messages(), ["home/lights/kitchen ON", "home/heating 21.5 C"])

    def test_qos_levels(self):
        # Delivered QoS = min(published, subscribed).
        for pq, sq in ((0, 0), (1, 1), (2, 2), (2, 1), (1, 2), (2, 0)):
            for version in ([], ["-V", "mqttv5"]):
                with self.subTest(pub=pq, sub=sq, version=version):
                    sub = Sub(self, ["-t", "q", "-q", str(sq), "-F", "%q %p", "-C", "1", *version],
                              port=self.port)
                    pub(self.port, "-t", "q", "-q", str(pq), "-m", f"m{pq}", *version)
                    self.assertEqual(sub.messages(), [f"{min(pq, sq)} m{pq}"])

    def test_retained_and_dash_R(self):
        pub(self.port, "-t", "r/state", "-m", "kept", "-r", "-q", "1")
        sub = Sub(self, ["-t", "r/#", "-F", "%r %t %p", "-C", "1"], port=self.port)
        self.assertEqual(sub.messages(), ["1 r/state kept"])
        # -R: stale (retained) messages are not printed; -W ends the wait.
        for version in ([], ["-V", "mqttv5"]):
            with self.subTest(version=version):
                sub = Sub(self, ["-t", "r/#", "-R", "-W", "1", *version], port=self.port)
                rc, out, err = sub.finish()
                self.assertEqual((rc, out, err), (TIMED_OUT, b"", "Timed out\n"))
        # A null retained message clears it.
        pub(self.port, "-t", "r/state", "-n", "-r")
        sub = Sub(self, ["-t", "r/#", "-W", "1"], port=self.port)
        self.assertEqual(sub.finish()[:2], (TIMED_OUT, b""))

    def test_v5_properties(self):
        sub = Sub(self, ["-V", "mqttv5", "-t", "p", "-C", "1", "-F", "%P|%C|%R|%D|%E|%F|%p"], port=self.port)
        pub(self.port, "-V", "mqttv5", "-t", "p", "-m", "body", "-q", "1",
            "-D", "publish", "user-property", "room", "kitchen",
            "-D", "publish", "user-property", "by", "test",
            "-D", "publish", "content-type", "text/plain",
            "-D", "publish", "response-topic", "reply/here",
            "-D", "publish", "correlation-data", "c42",
            "-D", "publish", "message-expiry-interval", "60",
            "-D", "publish", "payload-format-indicator", "1")
        line = sub.messages()
        self.assertEqual(len(line), 1)
        props, payload = line[0].rsplit("|", 1)
        self.assertEqual(payload, "body")
        up, ct, rt, cd, exp, pfi = props.split("|")
        self.assertEqual((up, ct, rt, cd, pfi), ("room:kitchen by:test", "text/plain", "reply/here", "c42", "1"))
        self.assertIn(int(exp), (59, 60))  # the broker may count down a second

    def test_v5_user_property_seen_by_paho(self):
        c = self.client(version=harness.V5)
        c.subscribe("up", 1)
        pub(self.port, "-t", "up", "-m", "x", "-q", "1", "-D", "publish", "user-property", "k", "v")
        m = c.messages.get(timeout=WAIT)
        self.assertEqual(m.payload, b"x")
        self.assertEqual(m.props.get("UserProperty"), [("k", "v")])

    def test_hex_output_of_a_binary_payload(self):
        path = os.path.join(self.broker.dir, "blob.bin")
        with open(path, "wb") as f:
            f.write(b"\x00\x01\x7f\xfe\xff")
        sub = Sub(self, ["-t", "bin", "-C", "1", "-F", "%x %X %l"], port=self.port)
        pub(self.port, "-t", "bin", "-f", path)
        self.assertEqual(sub.messages(), ["00017ffeff 00017FFEFF 5"])

    def test_json_output(self):
        sub = Sub(self, ["-t", "j", "-C", "1", "-F", "%j", "-q", "1"], port=self.port)
        pub(self.port, "-t", "j", "-m", 'say "hi"', "-q", "1")
        line = sub.messages()[0]
        self.assertRegex(line, r'^\{"tst":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z[+-]\d{4}",'
                               r'"topic":"j","qos":1,"retain":0,"payloadlen":8,"mid":\d+,'
                               r'"payload":"say \\"hi\\""\}$')

    def test_count_stops_after_n(self):
        sub = Sub(self, ["-t", "c", "-C", "2"], port=self.port)
        for i in range(3):
            pub(self.port, "-t", "c", "-m", str(i))
        self.assertEqual(sub.messages(), ["0", "1"])

    def test_timeout_exit_status_and_message(self):
        sub = Sub(self, ["-t", "nothing/here", "-W", "1"], port=self.port)
        started = time.monotonic()
        self.assertEqual(sub.finish(), (TIMED_OUT, b"", "Timed out\n"))
        self.assertLess(time.monotonic() - started, 3)

    def test_timeout_matches_mosquitto_sub(self):
        need(MOSQ_SUB)
        ours = run([NATTER_SUB, "-h", HOST, "-p", str(self.port), "-t", "x", "-W", "1"])
        theirs = run([MOSQ_SUB, "-h", HOST, "-p", str(self.port), "-t", "x", "-W", "1"])
        self.assertEqual(ours, theirs)

    def test_line_mode(self):
        for qos in ("0", "1", "2"):
            with self.subTest(qos=qos):
                sub = Sub(self, ["-t", "lines", "-C", "4", "-F", "[%p]"], port=self.port)
                pub(self.port, "-t", "lines", "-l", "-q", qos, stdin=b"one\n\nthree\nlast without newline")
                self.assertEqual(sub.messages(), ["[one]", "[]", "[three]", "[last without newline]"])

    def test_line_mode_many_lines_in_order(self):
        sub = Sub(self, ["-t", "many", "-C", "500", "-q", "1"], port=self.port)
        data = "".join(f"line {i}\n" for i in range(500)).encode()
        pub(self.port, "-t", "many", "-l", "-q", "1", stdin=data)
        self.assertEqual(sub.messages(), [f"line {i}" for i in range(500)])

    def test_null_message(self):
        sub = Sub(self, ["-t", "n", "-v", "-C", "1"], port=self.port)
        pub(self.port, "-t", "n", "-n")
        self.assertEqual(sub.messages(), ["n (null)"])
        sub = Sub(self, ["-t", "n", "-C", "1", "-F", "%l:%p"], port=self.port)
        pub(self.port, "-t", "n", "-n")
        self.assertEqual(sub.messages(), ["0:"])

    def test_stdin_as_one_message(self):
        sub = Sub(self, ["-t", "s", "-C", "1", "-N"], port=self.port)
        pub(self.port, "-t", "s", "-s", stdin=b"first line\nsecond line\n")
        rc, out, _ = sub.finish()
        self.assertEqual((rc, out), (0, b"first line\nsecond line\n"))

    def test_filter_out_and_unsubscribe(self):
        sub = Sub(self, ["-t", "f/#", "-t", "g", "-U", "g", "-T", "f/hidden", "-v", "-C", "1"],
                  port=self.port, ready=b"received UNSUBACK")
        pub(self.port, "-t", "g", "-m", "unsubscribed")
        pub(self.port, "-t", "f/hidden", "-m", "filtered")
        pub(self.port, "-t", "f/shown", "-m", "printed")
        self.assertEqual(sub.messages(), ["f/shown printed"])

    def test_url_option(self):
        sub = Sub(self, ["-L", f"mqtt://{HOST}:{self.port}/url/topic", "-C", "1", "-v"])
        pub(None, "-L", f"mqtt://{HOST}:{self.port}/url/topic", "-m", "via -L")
        self.assertEqual(sub.messages(), ["url/topic via -L"])

    def test_debug_lines_like_mosquitto(self):
        out = pub(self.port, "-d", "-t", "dbg", "-m", "hi", "-q", "2", "-i", "dbg-client")
        self.assertEqual(out.decode().splitlines(), [
            "Client dbg-client sending CONNECT",
            "Client dbg-client received CONNACK (0)",
            "Client dbg-client sending PUBLISH (d0, q2, r0, m1, 'dbg', ... (2 bytes))",
            "Client dbg-client received PUBREC (Mid: 1)",
            "Client dbg-client sending PUBREL (m1)",
            "Client dbg-client received PUBCOMP (Mid: 1, RC:0)",
            "Client dbg-client sending DISCONNECT",
        ])

    def test_will_on_abnormal_exit(self):
        watcher = Sub(self, ["-t", "wills/#", "-v", "-C", "1"], port=self.port)
        sub = Sub(self, ["-t", "ignored", "--will-topic", "wills/sub", "--will-payload", "gone",
                         "-i", "will-owner"], port=self.port)
        sub.kill()  # no DISCONNECT: the broker publishes the will
        self.assertEqual(watcher.messages(), ["wills/sub gone"])

    def test_sigint_exits_zero(self):
        sub = Sub(self, ["-t", "x"], port=self.port)
        sub.proc.send_signal(2)
        self.assertEqual(sub.finish()[0], 0)

    def test_persistent_session_keeps_messages(self):
        for version in ([], ["-V", "mqttv5"]):
            with self.subTest(version=version):
                cid = f"persist{len(version)}"
                sub = Sub(self, ["-t", "offline", "-q", "1", "-c", "-i", cid, "-E", *version], port=self.port)
                self.assertEqual(sub.finish()[0], 0)
                pub(self.port, "-t", "offline", "-m", "while away", "-q", "1")
                sub = Sub(self, ["-t", "offline", "-q", "1", "-c", "-i", cid, "-C", "1", *version],
                          port=self.port, ready=b"received CONNACK")
                self.assertEqual(sub.messages(), ["while away"])


class ConnectionTest(BrokerTest):
    """What natter-sub does with the connection over time: keep alive, a lost
    connection, a session taken over."""

    def test_keepalive_pings(self):
        sub = Sub(self, ["-t", "ka", "-k", "5", "-W", "7"], port=self.port)
        rc, _, err = sub.finish(timeout=15)
        self.assertEqual((rc, err), (TIMED_OUT, "Timed out\n"))
        debug = b"".join(sub.all)
        self.assertIn(b"sending PINGREQ", debug)
        self.assertIn(b"received PINGRESP", debug)

    def test_reconnects_and_resubscribes_after_broker_restart(self):
        sub = Sub(self, ["-t", "again", "-v", "-C", "1", "-q", "1"], port=self.port)
        self.broker.restart()  # same port; the broker forgot the session
        sub._wait_for(b"received SUBACK")  # the client made its subscription again
        pub(self.port, "-t", "again", "-m", "back", "-q", "1")
        self.assertEqual(sub.messages(), ["again back"])

    @natter_only("mosquitto 2.0.11 closes the old connection without DISCONNECT 0x8E")
    def test_session_taken_over_is_reported_not_fought(self):
        # mosquitto_sub would reconnect and take the session back, forever; natter-sub
        # reports the server's DISCONNECT and stops.
        first = Sub(self, ["-t", "x", "-i", "same-id", "-V", "mqttv5"], port=self.port)
        second = Sub(self, ["-t", "x", "-i", "same-id", "-V", "mqttv5", "-C", "1"], port=self.port)
        rc, _, err = first.finish()
        self.assertEqual((rc, err), (1, "Error: Session taken over\n"))
        self.assertIn(b"received DISCONNECT (142)", b"".join(first.all))
        pub(self.port, "-t", "x", "-m", "still here")
        self.assertEqual(second.messages(), ["still here"])


class ErrorsTest(BrokerTest):
    """What a user (or a script) sees when something is wrong, compared with
    mosquitto_pub / mosquitto_sub byte for byte where it matters."""

    def same_as_mosquitto(self, ours, theirs, args, compare_stdout=True):
        a = run([ours, *args])
        b = run([theirs, *args])
        mosq_name = os.path.basename(theirs)
        natter_name = os.path.basename(ours)
        self.assertEqual(a[0], b[0], f"{args}: exit status")
        self.assertEqual(a[2], b[2].replace(mosq_name, natter_name), f"{args}: stderr")
        if compare_stdout:
            self.assertEqual(a[1], b[1], f"{args}: stdout")

    def test_connection_refused(self):
        need(MOSQ_PUB)
        closed = free_port()
        for ours, theirs in ((NATTER_PUB, MOSQ_PUB), (NATTER_SUB, MOSQ_SUB)):
            with self.subTest(tool=os.path.basename(ours)):
                args = ["-h", HOST, "-p", str(closed), "-t", "a"]
                if ours == NATTER_PUB:
                    args += ["-m", "b"]
                self.same_as_mosquitto(ours, theirs, args)
                self.assertEqual(run([ours, *args])[:3:2], (1, "Error: Connection refused\n"))

    def test_usage_errors(self):
        need(MOSQ_PUB)
        port = ["-p", str(self.port)]
        pub_cases = [["-t", "a", "-m", "b", "-q", "3"], ["-t", "a/#", "-m", "b"],
                     ["-t", "a", "-m", "b", "-k", "3"], ["-t", "a", "-m", "b", "-c"],
                     ["-t", "a", "-m", "b", "-n"], ["-t", "a", "-m", "b", "--nonsense"],
                     ["-t", "a", "-m", "b", "-V", "7"], ["-t", "a", "-m", "b", "-D", "connect", "message-expiry-interval", "5"],
                     ["-t", "a", "-m", "b", "-D", "publish", "nonsense", "5"],
                     ["-t", "a", "-m", "b", "-x", "abc"], ["-L", "http://h/t", "-m", "b"],
                     ["-L", f"mqtt://{HOST}:{self.port}", "-m", "b"]]
        for args in pub_cases:
            with self.subTest(args=args):
                self.same_as_mosquitto(NATTER_PUB, MOSQ_PUB, port + args)
        # The usage text itself differs: compare stderr and status only.
        self.same_as_mosquitto(NATTER_PUB, MOSQ_PUB, port + ["-t", "a"], compare_stdout=False)
        sub_cases = [[], ["-t", "a", "-C", "0"], ["-t", "a", "-W", "0"], ["-t", "a", "-F", "%z"],
                     ["-t", "a", "-F", "abc%"], ["-t", "a/#/b"], ["-t", "a", "-m", "b"],
                     ["-t", "a", "-c"]]
        for args in sub_cases:
            with self.subTest(args=args):
                self.same_as_mosquitto(NATTER_SUB, MOSQ_SUB, port + args)

    def test_help(self):
        for tool in (NATTER_PUB, NATTER_SUB):
            rc, out, err = run([tool, "--help"])
            self.assertEqual((rc, err), (0, ""))
            self.assertIn(b"Usage: " + os.path.basename(tool).encode(), out)
            self.assertIn(b" -t : mqtt topic", out)


class RefusedConnectionTest(support.ListenerTest):
    """natter-server with `allow_anonymous false`: an anonymous client is refused,
    and natter-pub/-sub say so exactly as mosquitto_pub/-sub do."""

    bare = True
    broker_config = ["listener {port} 127.0.0.1", "allow_anonymous false"]

    def test_anonymous_refused_like_mosquitto(self):
        need(MOSQ_PUB)
        cases = [
            (NATTER_PUB, MOSQ_PUB, [], 5,
             "Connection error: Connection Refused: not authorised.\nError: The connection was refused.\n"),
            (NATTER_PUB, MOSQ_PUB, ["-V", "mqttv5"], 135,
             "Connection error: Not authorized\n"
             "Error: A network protocol error occurred when communicating with the broker.\n"),
            (NATTER_SUB, MOSQ_SUB, [], 5, "Connection error: Connection Refused: not authorised.\n"),
            (NATTER_SUB, MOSQ_SUB, ["-V", "mqttv5"], 135, "Connection error: Not authorized\n"),
        ]
        for ours, theirs, version, status, stderr in cases:
            with self.subTest(tool=os.path.basename(ours), version=version):
                args = ["-h", HOST, "-p", str(self.port), "-t", "a", *version]
                if ours == NATTER_PUB:
                    args += ["-m", "b"]
                got = run([ours, *args])
                self.assertEqual(got, (status, b"", stderr))
                self.assertEqual(run([theirs, *args]), got, "mosquitto's tool says the same")

    def test_first_line_for_scripts(self):
        rc, _, err = run([NATTER_PUB, "-h", HOST, "-p", str(self.port), "-t", "a", "-m", "b"])
        self.assertEqual(rc, 5)
        self.assertEqual(err.splitlines()[0], "Connection error: Connection Refused: not authorised.")


# ------------------------------------------------------------- Debian's mosquitto

class MosquittoBroker(support.ListenerBroker):
    """Debian's mosquitto, whatever NATTER_BROKER says: the other side of the interop
    tests, and the TLS / WebSocket server (a `protocol websockets` listener opens only
    next to a plain one). It drops to user mosquitto: what it reads must be readable."""

    def command(self):
        need(MOSQUITTO)
        return [MOSQUITTO, "-c", self.conf_path]

    def write_config(self):
        super().write_config()
        if not IS_MOSQUITTO:
            with open(self.conf_path, "a") as f:
                f.write("log_dest stderr\nlog_type all\n")


class TestCA:
    """A CA, a server certificate for DNS:localhost only (so 127.0.0.1 fails the name
    check), and an unrelated CA, made with the openssl CLI."""

    def __init__(self):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl CLI not installed")
        self.dir = tempfile.mkdtemp(prefix="natter-it-ca-")
        os.chmod(self.dir, 0o755)

        def ssl(*args):
            subprocess.run(["openssl", *args], cwd=self.dir, check=True, capture_output=True)

        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=natter test CA")
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")
        with open(os.path.join(self.dir, "ext.cnf"), "w") as f:
            f.write("subjectAltName=DNS:localhost\n")
        ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt",
            "-days", "2", "-subj", "/CN=some other CA")
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
            "-subj", "/CN=natter-client")
        ssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.crt", "-days", "2")
        for name in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, name), 0o644)

    def path(self, name):
        return os.path.join(self.dir, name)

    def listener(self, port_name, websockets=False, require_certificate=False):
        return [f"listener {{{port_name}}} 127.0.0.1", *(["protocol websockets"] if websockets else []),
                f"cafile {self.path('ca.crt')}", f"certfile {self.path('server.crt')}",
                f"keyfile {self.path('server.key')}",
                *(["require_certificate true"] if require_certificate else [])]

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class InteropTest(BrokerTest):
    """natter-pub -> mosquitto broker -> mosquitto_sub, and
    mosquitto_pub -> this broker (natter-server) -> natter-sub."""

    def mosquitto(self, config=(), ports=()):
        b = MosquittoBroker(config, ports)
        self._brokers.append(b)
        self.addCleanup(b.stop)
        b.start()
        return b

    def test_natter_pub_to_mosquitto_broker_to_mosquitto_sub(self):
        need(MOSQ_SUB)
        m = self.mosquitto()
        for version in ([], ["-V", "mqttv5"]):
            with self.subTest(version=version):
                sub = Sub(self, ["-t", "interop/#", "-v", "-q", "2", "-C", "3", *version], binary=MOSQ_SUB,
                          port=m.port)
                pub(m.port, "-t", "interop/q0", "-m", "zero", *version)
                pub(m.port, "-t", "interop/q1", "-m", "one", "-q", "1", *version)
                pub(m.port, "-t", "interop/q2", "-m", "two", "-q", "2", *version)
                self.assertEqual(sub.messages(), ["interop/q0 zero", "interop/q1 one", "interop/q2 two"])

    def test_natter_sub_on_mosquitto_broker(self):
        need(MOSQ_PUB)
        m = self.mosquitto()
        sub = Sub(self, ["-t", "m/#", "-V", "mqttv5", "-F", "%t %q %P %p", "-q", "2", "-C", "2"], port=m.port)
        pub(m.port, "-t", "m/a", "-m", "A", "-q", "1", "-V", "mqttv5", "-D", "publish", "user-property", "k", "v",
            binary=MOSQ_PUB)
        pub(m.port, "-t", "m/b", "-m", "B", "-q", "2", binary=MOSQ_PUB)
        self.assertEqual(sub.messages(), ["m/a 1 k:v A", "m/b 2  B"])

    def test_mosquitto_pub_to_natter_sub(self):
        need(MOSQ_PUB)
        for version in ([], ["-V", "mqttv5"]):
            with self.subTest(version=version):
                sub = Sub(self, ["-t", "from/mosquitto", "-q", "2", "-F", "%q %r %p", "-C", "3", *version],
                          port=self.port)
                pub(self.port, "-t", "from/mosquitto", "-m", "a", *version, binary=MOSQ_PUB)
                pub(self.port, "-t", "from/mosquitto", "-m", "b", "-q", "1", *version, binary=MOSQ_PUB)
                pub(self.port, "-t", "from/mosquitto", "-m", "c", "-q", "2", *version, binary=MOSQ_PUB)
                self.assertEqual(sub.messages(), ["0 0 a", "1 0 b", "2 0 c"])

    def test_same_output_as_mosquitto_sub(self):
        need(MOSQ_SUB)
        fmt = "%t|%p|%x|%q|%r|%l|%10t|%-6p|%05l|\\t@@"
        ours = Sub(self, ["-t", "same/#", "-q", "1", "-C", "2", "-F", fmt], port=self.port)
        theirs = Sub(self, ["-t", "same/#", "-q", "1", "-C", "2", "-F", fmt], binary=MOSQ_SUB, port=self.port)
        pub(self.port, "-t", "same/x", "-m", "hello", "-q", "1")
        pub(self.port, "-t", "same/y", "-n", "-q", "1")
        a, b = ours.finish(), theirs.finish()
        self.assertEqual(a, b)
        # (-N is left out: without newlines, -d's lines would run into the messages.)
        for flags in (["-v"], []):
            with self.subTest(flags=flags):
                ours = Sub(self, ["-t", "plain", "-C", "2", *flags], port=self.port)
                theirs = Sub(self, ["-t", "plain", "-C", "2", *flags], binary=MOSQ_SUB, port=self.port)
                pub(self.port, "-t", "plain", "-m", "text")
                pub(self.port, "-t", "plain", "-n")
                self.assertEqual(ours.finish(), theirs.finish())


class TransportTest(unittest.TestCase):
    """TLS, WebSocket and secure WebSocket, against Debian's mosquitto with listeners
    for each (and the plain one mosquitto needs for websockets to open)."""

    @classmethod
    def setUpClass(cls):
        need(MOSQUITTO)
        cls.ca = TestCA()
        cls.broker = MosquittoBroker(
            ["listener {ws} 127.0.0.1", "protocol websockets",
             *cls.ca.listener("tls"), *cls.ca.listener("wss", websockets=True),
             *cls.ca.listener("tlsauth", require_certificate=True)],
            ("ws", "tls", "wss", "tlsauth"))
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        cls.broker.cleanup()
        cls.ca.cleanup()

    def port(self, name):
        return self.broker.port if name == "port" else self.broker.ports[name]

    def test_websocket_and_tls_both_ways(self):
        ca = self.ca.path("ca.crt")
        ws_url = f"ws://{HOST}:{self.port('ws')}/tr/both"
        wss_url = f"wss://localhost:{self.port('wss')}/tr/both"
        tls = ["--cafile", ca, "-h", "localhost", "-p", str(self.port("tls")), "-t", "tr/both"]
        subs = [Sub(self, ["-L", ws_url, "-C", "4", "-v"]),
                Sub(self, [*tls, "-C", "4", "-v", "-V", "mqttv5"]),
                Sub(self, ["-L", wss_url, "--cafile", ca, "-C", "4", "-v", "-q", "1"])]
        pub(None, "-L", ws_url, "-m", "pub over ws")
        pub(None, *tls, "-m", "pub over tls", "-q", "1")
        pub(None, "-L", wss_url, "--cafile", ca, "-m", "pub over wss", "-q", "2", "-V", "mqttv5")
        pub(self.port("port"), "-t", "tr/both", "-m", "pub over tcp")
        expected = ["tr/both pub over ws", "tr/both pub over tls", "tr/both pub over wss", "tr/both pub over tcp"]
        for s in subs:
            self.assertEqual(s.messages(), expected, s.cmd)

    def test_mosquitto_sub_sees_natter_pub_over_websocket(self):
        need(MOSQ_SUB)
        sub = Sub(self, ["-t", "tr/ws", "-C", "1"], binary=MOSQ_SUB, port=self.port("port"))
        pub(None, "-L", f"ws://{HOST}:{self.port('ws')}/tr/ws", "-m", "hello from ws", "-q", "1")
        self.assertEqual(sub.messages(), ["hello from ws"])

    def test_certificate_checks(self):
        tls = ["-p", str(self.port("tls")), "-t", "tr/x", "-m", "x"]
        # Signed by another CA: refused, as mosquitto_pub does (MOSQ_ERR_TLS).
        rc, _, err = run([NATTER_PUB, "--cafile", self.ca.path("other.crt"), "-h", "localhost", *tls])
        self.assertEqual((rc, err), (8, "Error: A TLS error occurred.\n"))
        # The certificate names localhost, not 127.0.0.1: refused unless --insecure.
        rc, _, err = run([NATTER_PUB, "--cafile", self.ca.path("ca.crt"), "-h", "127.0.0.1", *tls])
        self.assertEqual(rc, 8, err)
        pub(None, "--cafile", self.ca.path("ca.crt"), "-h", "127.0.0.1", "--insecure", *tls)
        rc, _, err = run([NATTER_SUB, "--cafile", self.ca.path("other.crt"), "-h", "localhost",
                          "-p", str(self.port("tls")), "-t", "a"])
        self.assertEqual((rc, err), (1, "Unable to connect (A TLS error occurred.).\n"))
        # A listener that wants a client certificate.
        auth = ["--cafile", self.ca.path("ca.crt"), "-h", "localhost", "-p", str(self.port("tlsauth")),
                "-t", "tr/x", "-m", "x"]
        self.assertNotEqual(run([NATTER_PUB, *auth])[0], 0)
        pub(None, *auth, "--cert", self.ca.path("client.crt"), "--key", self.ca.path("client.key"))
        # A CA file that is not there: found before connecting.
        rc, _, err = run([NATTER_PUB, "--cafile", "/nonexistent/ca.crt", *tls])
        self.assertEqual((rc, err), (1, "Error: Problem setting TLS options: File not found.\n"))


class NatterServerTransportTest(support.ListenerTest):
    """natter-pub/-sub over WebSocket and TLS against the broker under test."""

    broker_ports = ("ws", "tls")

    @classmethod
    def setUpClass(cls):
        cls.ca = TestCA()

    @classmethod
    def tearDownClass(cls):
        cls.ca.cleanup()

    @property
    def broker_config(self):
        return ["listener {ws} 127.0.0.1", "protocol websockets",
                "listener {tls} 127.0.0.1", f"certfile {self.ca.path('server.crt')}",
                f"keyfile {self.ca.path('server.key')}"]

    def test_websocket_and_tls(self):
        ca = self.ca.path("ca.crt")
        ws_url = f"ws://{HOST}:{self.broker.ports['ws']}/ns/t"
        tls = ["--cafile", ca, "-h", "localhost", "-p", str(self.broker.ports["tls"]), "-t", "ns/t"]
        a = Sub(self, ["-L", ws_url, "-C", "2", "-q", "2"])
        b = Sub(self, [*tls, "-C", "2", "-q", "2", "-V", "mqttv5"])
        pub(None, "-L", ws_url, "-m", "ws", "-q", "2")
        pub(None, *tls, "-m", "tls", "-q", "1", "-V", "mqttv5")
        self.assertEqual(a.messages(), ["ws", "tls"])
        self.assertEqual(b.messages(), ["ws", "tls"])


if __name__ == "__main__":
    unittest.main()
