"""Operating natter-server: the $SYS/broker/... topics (Mosquitto's names and value
formats), GET /metrics (Prometheus text), readiness for systemd (sd_notify over a real
NOTIFY_SOCKET datagram socket) and the log (one line per event with client id and peer,
journal priority prefixes under JOURNAL_STREAM, log_type, log_dest file).

Counters are checked as deltas while N messages flow through a real broker. The $SYS tests
also run against Debian's mosquitto (NATTER_BROKER=mosquitto), whose topics they mirror.

Run: NATTER_SERVER=... [NATTER_PASSWD=...] /usr/bin/python3 -m unittest -v 15_ops
"""

import collections
import importlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

import harness
from harness import HOST, IS_MOSQUITTO, WAIT, V311, V5, BrokerTest, free_port, natter_only, \
    wait_until

support = importlib.import_module("09_support")

N = 20
SYS = "$SYS/broker/"


class SysWatcher:
    """A client subscribed to $SYS/broker/#, keeping the latest value of each topic."""

    def __init__(self, test):
        self.c = test.client()
        self.latest = {}
        self.retained = {}
        # Retain As Published: updates keep their RETAIN flag (5.0 [MQTT-3.3.1-12]).
        self.c.subscribe(SYS + "#", rap=True)

    def pump(self):
        while True:
            try:
                m = self.c.messages.get_nowait()
            except Exception:
                return
            key = m.topic[len(SYS):]
            self.latest[key] = m.payload.decode()
            self.retained[key] = m.retain

    def value(self, key):
        self.pump()
        return self.latest.get(key)

    def number(self, key):
        v = self.value(key)
        return None if v is None else int(v)

    def wait(self, key, predicate, what):
        """Waits (bounded) until the latest value of `key` satisfies predicate."""
        def ok():
            v = self.value(key)
            return v is not None and predicate(v)
        try:
            wait_until(ok, timeout=WAIT + 3, what=f"$SYS {key} {what}")
        except AssertionError:
            raise AssertionError(f"$SYS/broker/{key} is {self.value(key)!r}, wanted {what}") \
                from None
        return self.value(key)


class SysTopics(BrokerTest):
    broker_config = ("sys_interval 1",)

    def test_version_and_uptime_are_retained(self):
        w = SysWatcher(self)
        w.wait("uptime", lambda v: True, "to appear")
        late = self.client()  # subscribes after they were published: gets the retained copies
        late.subscribe([(SYS + "version", 0), (SYS + "uptime", 0)])
        got = {m.topic: m for m in late.recv_n(2)}
        version = got[SYS + "version"]
        self.assertTrue(version.retain)
        name = "mosquitto" if IS_MOSQUITTO else "natter"
        self.assertRegex(version.payload.decode(), rf"^{name} version \d+\.\d+\.\d+")
        self.assertRegex(got[SYS + "uptime"].payload.decode(), r"^\d+ seconds$")
        # The uptime moves on.
        first = int(w.value("uptime").split()[0])
        w.wait("uptime", lambda v: int(v.split()[0]) > first, f"> {first} seconds")

    def test_counters_move_as_messages_flow(self):
        w = SysWatcher(self)
        sub = self.client()
        sub.subscribe("ops/t", qos=1)
        pub = self.client()
        # Three clients connected: a report taken after that is the baseline.
        w.wait("clients/connected", lambda v: v == "3", "== 3")
        w.wait("subscriptions/count", lambda v: int(v) >= 2, ">= 2")
        base = {k: w.number(k) for k in ("publish/messages/received", "publish/messages/sent",
                                         "publish/bytes/received", "bytes/received",
                                         "messages/received", "retained messages/count")}
        payload = b"x" * 50
        for _ in range(N):
            pub.publish("ops/t", payload, qos=1)
        sub.recv_n(N)
        w.wait("publish/messages/received",
               lambda v: int(v) == base["publish/messages/received"] + N,
               f"== {base['publish/messages/received']} + {N}")
        # Deliveries to `sub`, plus the $SYS messages the watcher itself receives.
        w.wait("publish/messages/sent", lambda v: int(v) >= base["publish/messages/sent"] + N,
               f">= {base['publish/messages/sent']} + {N}")
        w.wait("publish/bytes/received",
               lambda v: int(v) == base["publish/bytes/received"] + N * len(payload),
               f"== {base['publish/bytes/received']} + {N * len(payload)}")
        # Whole packets: at least topic and payload of each PUBLISH, and its PUBACK... in.
        w.wait("bytes/received",
               lambda v: int(v) >= base["bytes/received"] + N * (len(payload) + len("ops/t")),
               "to grow by every PUBLISH")
        # PUBLISH from pub and PUBACK from sub, for each message.
        w.wait("messages/received", lambda v: int(v) >= base["messages/received"] + 2 * N,
               f">= {base['messages/received']} + {2 * N}")
        for key in ("load/publish/received/1min", "load/bytes/sent/15min"):
            w.wait(key, lambda v: re.fullmatch(r"\d+\.\d\d", v) is not None, "a %.2f rate")

        pub.publish("ops/retained", b"r", qos=1, retain=True)
        w.wait("retained messages/count",
               lambda v: int(v) >= base["retained messages/count"] + 1, "one more")
        sub.disconnect()
        w.wait("clients/connected", lambda v: v == "2", "== 2 after a disconnect")
        self.assertTrue(all(w.retained.values()), "every $SYS message is retained")

    def test_persistent_sessions_count_as_disconnected_clients(self):
        w = SysWatcher(self)
        c = self.client(version=V311, clean=False, client_id="ops-persistent")
        c.subscribe("ops/p", qos=1)
        w.wait("clients/total", lambda v: v == "2", "== 2")
        c.disconnect()
        w.wait("clients/connected", lambda v: v == "1", "== 1")
        w.wait("clients/disconnected", lambda v: v == "1", "== 1 (the persistent session)")
        self.assertEqual(w.value("clients/total"), "2")
        w.wait("clients/maximum", lambda v: int(v) >= 2, ">= 2")


class SysDisabled(BrokerTest):
    broker_config = ("sys_interval 0",)

    def test_sys_interval_0_publishes_nothing(self):
        c = self.client()
        c.subscribe([(SYS + "#", 0), ("ops/sync", 0)])
        c.publish("ops/sync", b"1")
        # ops/sync comes back after anything retained under $SYS would have.
        m = c.recv()
        self.assertEqual(m.topic, "ops/sync", "no $SYS message with sys_interval 0")
        c.expect_nothing(quiet=1.5)  # more than one default interval's worth of silence


# ---------------------------------------------------------------------------- /metrics

def parse_metrics(text):
    """{'name{labels}': value} for every sample; checks the exposition format on the way."""
    samples, typed = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            typed[name] = kind
            continue
        if line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)', line)
        if not m:
            raise AssertionError(f"not a Prometheus sample line: {line!r}")
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in typed and family not in typed:
            raise AssertionError(f"sample before its # TYPE line: {line!r}")
        samples[name + (m.group(2) or "")] = float(m.group(3))
    return samples


@natter_only("GET /metrics is natter's")
class Metrics(BrokerTest):
    start_broker = False

    def setUp(self):
        super().setUp()
        self.ws_port = free_port()
        self.acl = tempfile.NamedTemporaryFile("w", suffix=".acl", delete=False)
        # Anonymous clients (the rules before any `user` line): everything but deny/.
        self.acl.write("topic readwrite ops/#\ntopic readwrite q/#\ntopic read #\n")
        self.acl.close()
        self.addCleanup(os.unlink, self.acl.name)
        self.broker = self.new_broker([
            f"listener {self.ws_port} {HOST}", "protocol websockets",
            "persistence true", "persistence_location {dir}/",
            "message_size_limit 100", "max_queued_messages 2",
            f"acl_file {self.acl.name}"])

    def get(self, path="/metrics", method="GET"):
        req = urllib.request.Request(f"http://{HOST}:{self.ws_port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            return r.status, dict(r.headers), r.read().decode()

    def metrics(self):
        status, headers, body = self.get()
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        return parse_metrics(body)

    def test_messages_by_qos_move_as_messages_flow(self):
        sub = self.client()
        sub.subscribe("ops/#", qos=2)
        pub = self.client()
        before = self.metrics()
        self.assertEqual(before["natter_clients_connected"], 2)
        self.assertEqual(before["natter_connections"], 2)
        payload = b"m" * 40
        got = collections.Counter()
        # One QoS at a time, received before the next: N fits the inflight window (20), so
        # nothing waits in the subscriber's queue (max_queued_messages 2 here).
        for q in (0, 1, 2):
            for _ in range(N):
                pub.publish(f"ops/q{q}", payload, qos=q)
            try:
                for _ in range(N):
                    got[sub.recv().topic] += 1
            except AssertionError:
                raise AssertionError(f"the subscriber got {dict(got)}, {N} of each expected; "
                                     f"/metrics: {self.metrics()}") from None
        # The subscriber's PUBACK/PUBCOMP for the last messages may still be on the way:
        # wait for the inflight gauge to drain before comparing.
        wait_until(lambda: self.metrics()["natter_inflight_messages"] == 0, what="inflight 0")
        after = self.metrics()

        def delta(key):
            return after[key] - before.get(key, 0)
        for q in (0, 1, 2):
            self.assertEqual(delta(f'natter_messages_received_total{{qos="{q}"}}'), N, q)
            self.assertEqual(delta(f'natter_messages_sent_total{{qos="{q}"}}'), N, q)
        self.assertEqual(delta("natter_publish_payload_bytes_received_total"), 3 * N * len(payload))
        self.assertEqual(delta("natter_publish_payload_bytes_sent_total"), 3 * N * len(payload))
        # PUBLISH x3N, PUBACK (sub, QoS 1), PUBREC + PUBREL... at least one packet per message.
        self.assertGreaterEqual(delta("natter_packets_received_total"), 3 * N + N + 2 * N)
        self.assertGreaterEqual(delta("natter_bytes_received_total"), 3 * N * len(payload))
        self.assertGreaterEqual(delta("natter_bytes_sent_total"), 3 * N * len(payload))
        self.assertEqual(after["natter_subscriptions"], 1)
        self.assertEqual(sum(v for k, v in after.items()
                             if k.startswith("natter_messages_dropped_total")), 0)

    def test_dropped_messages_by_reason_and_queue_depth(self):
        before = self.metrics()
        # Queue full: an offline persistent session with max_queued_messages 2.
        offline = self.client(client_id="ops-offline", version=V5, clean=False,
                              session_expiry=300)
        offline.subscribe("q/#", qos=1)
        offline.disconnect()
        pub = self.client()
        for i in range(5):
            pub.publish("q/x", f"{i}".encode(), qos=1)
        # message_size_limit 100: refused with Quota exceeded.
        info = pub.publish("ops/big", b"b" * 200, qos=1)
        # The ACL: anonymous clients may not write deny/.
        pub.publish("deny/x", b"no", qos=1)
        after = self.metrics()

        def dropped(reason):
            key = f'natter_messages_dropped_total{{reason="{reason}"}}'
            return after[key] - before[key]
        self.assertEqual(dropped("queue_full"), 3)
        self.assertEqual(dropped("message_size_limit"), 1)
        self.assertEqual(dropped("not_authorized"), 1)
        self.assertEqual(dropped("too_large"), 0)
        self.assertEqual(after["natter_queued_messages"], 2)
        self.assertGreater(after["natter_queued_bytes"], 0)
        self.assertEqual(after["natter_sessions"], 2)  # the offline one and pub
        self.assertTrue(info.is_published())

    def test_store_histograms_count_commits(self):
        before = self.metrics()
        c = self.client(client_id="ops-durable", version=V5, clean=False, session_expiry=300)
        c.subscribe("q/#", qos=1)
        c.disconnect()
        pub = self.client()
        for i in range(N):
            pub.publish("q/d", f"{i}".encode(), qos=1)  # PUBACK only once committed
        after = self.metrics()
        for h in ("natter_store_commit_seconds", "natter_store_fsync_seconds"):
            count = after[f"{h}_count"]
            self.assertGreater(count, before[f"{h}_count"], h)
            self.assertGreater(after[f"{h}_sum"], 0, h)
            buckets = [(k, v) for k, v in after.items() if k.startswith(f"{h}_bucket")]
            self.assertEqual(len(buckets), 15, h)
            values = [v for _, v in buckets]
            self.assertEqual(values, sorted(values), f"{h} buckets are cumulative")
            self.assertEqual(after[f'{h}_bucket{{le="+Inf"}}'], count, h)
        self.assertEqual(after["natter_store_commit_seconds_count"],
                         after["natter_store_fsync_seconds_count"])
        self.assertGreater(after["natter_store_commits_total"],
                           before["natter_store_commits_total"])
        self.assertEqual(after["natter_store_failed"], 0)
        self.assertIn("natter_store_queue_depth", after)

    def test_http_details(self):
        status, headers, body = self.get(method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, "")
        self.assertGreater(int(headers["Content-Length"]), 0)
        with self.assertRaises(urllib.error.HTTPError) as e:
            self.get(method="POST")
        self.assertEqual(e.exception.code, 405)
        self.assertEqual(self.get("/healthz")[2], "ok\n")
        m = self.metrics()
        self.assertEqual(m['natter_build_info{version="' + self.version() + '"}'], 1)
        self.assertGreater(m["process_resident_memory_bytes"], 0)
        self.assertGreater(m["process_open_fds"], 0)
        # The same socket keeps answering (keep-alive), and HTTP never counts as a client.
        self.assertEqual(self.metrics()["natter_connections"], 0)

    def version(self):
        out = subprocess.run([os.environ["NATTER_SERVER"], "--version"], capture_output=True,
                             text=True, timeout=WAIT).stdout
        return out.split()[-1]


@natter_only("natter's store; mosquitto does not save $SYS either, but has no /metrics")
class SysNotStored(BrokerTest):
    start_broker = False

    def test_sys_updates_never_touch_the_store(self):
        ws_port = free_port()
        self.broker = self.new_broker([f"listener {ws_port} {HOST}", "protocol websockets",
                                       "sys_interval 1", "persistence true",
                                       "persistence_location {dir}/"])

        def commits():
            with urllib.request.urlopen(f"http://{HOST}:{ws_port}/metrics", timeout=WAIT) as r:
                return parse_metrics(r.read().decode())["natter_store_commits_total"]
        w = SysWatcher(self)  # a clean session: nothing of it is stored either
        w.wait("uptime", lambda v: True, "to appear")
        before = commits()
        first = int(w.value("uptime").split()[0])
        w.wait("uptime", lambda v: int(v.split()[0]) >= first + 2, f">= {first + 2} seconds")
        self.assertEqual(commits(), before, "retained $SYS updates were written to the store")
        self.broker.restart()

        def restored():
            second_run = self.broker.log().split("==== run 2")[1]
            m = re.search(r"restored .* (\d+) retained messages", second_run)
            return m and m.group(1)
        self.assertEqual(wait_until(restored, what="the restore line"), "0")


@natter_only("login failure counters are natter's")
class AuthMetrics(BrokerTest):
    start_broker = False

    def test_auth_failures_by_reason(self):
        passwd = support.find_natter_passwd()
        if not passwd:
            self.fail("natter-passwd not found: set NATTER_PASSWD")
        ws_port = free_port()
        d = tempfile.mkdtemp(prefix="natter-ops-")
        pw = os.path.join(d, "passwd")
        subprocess.run([passwd, "-c", "-b", "-I", "1000", pw, "alice", "right"], check=True,
                       timeout=WAIT)
        self.broker = self.new_broker([f"listener {ws_port} {HOST}", "protocol websockets",
                                       "allow_anonymous false", f"password_file {pw}"])

        def failures():
            with urllib.request.urlopen(f"http://{HOST}:{ws_port}/metrics", timeout=WAIT) as r:
                m = parse_metrics(r.read().decode())
            return {k.split('"')[1]: v for k, v in m.items()
                    if k.startswith("natter_auth_failures_total")}
        before = failures()
        self.client(version=V311, expect_rc=5)                   # anonymous
        self.client(version=V311, username="alice", password="wrong", expect_rc=5)
        self.client(version=V5, username="alice", password="wrong", expect_rc=0x86)
        self.client(version=V5, username="alice", password="right")
        after = failures()
        self.assertEqual(after["anonymous"] - before["anonymous"], 1)
        self.assertEqual(after["bad_credentials"] - before["bad_credentials"], 2)
        self.assertEqual(sum(after.values()) - sum(before.values()), 3)


# ---------------------------------------------------------------------- systemd, logs

class Process:
    """natter-server started directly (not through harness.Broker), with our environment
    and stderr in a file of our own."""

    def __init__(self, test, config_lines, env=None, stderr_path=None):
        self.dir = tempfile.mkdtemp(prefix="natter-ops-")
        self.port = free_port()
        conf = os.path.join(self.dir, "natter.conf")
        with open(conf, "w") as f:
            f.write("\n".join([f"listener {self.port} {HOST}", "allow_anonymous true"]
                              + [l.replace("{dir}", self.dir) for l in config_lines]) + "\n")
        self.stderr_path = stderr_path or os.path.join(self.dir, "stderr.log")
        self.err = open(self.stderr_path, "ab")
        self.closed = False
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen([support.natter_server(), "-c", conf],
                                     stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err,
                                     env=full_env, cwd=self.dir)
        test.addCleanup(self.close)

    def wait_listening(self):
        wait_until(lambda: harness._listening(self.proc.pid, self.port) or
                   self.proc.poll() is not None, what="natter-server to listen")
        if self.proc.poll() is not None:
            raise AssertionError(f"natter-server exited with {self.proc.returncode}:\n"
                                 + self.log())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def wait_exit(self, timeout=10.0):
        """Exit status after a SIGTERM (the bound harness.Broker.stop() allows too)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"natter-server still running {timeout}s after SIGTERM:\n"
                                 + self.log()) from None

    def log(self):
        if not self.closed:
            self.err.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()
        self.closed = True
        for marker in harness._SANITIZER_MARKERS:
            if marker in self.log():
                raise AssertionError(f"sanitizer report in natter-server output:\n{self.log()}")


@natter_only("sd_notify is natter's (mosquitto 2.0.11 is Type=notify too, but via its own code)")
class SystemdNotify(unittest.TestCase):
    def test_ready_reloading_stopping(self):
        d = tempfile.mkdtemp(prefix="natter-notify-")
        path = os.path.join(d, "notify")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.settimeout(WAIT)
        self.addCleanup(s.close)

        def recv():
            """The next state change; plain STATUS= updates (every sys_interval) skipped."""
            while True:
                try:
                    msg = s.recv(4096).decode()
                except socket.timeout:
                    raise AssertionError("no sd_notify message within the wait") from None
                if any(not l.startswith("STATUS=") for l in msg.splitlines()):
                    return msg

        p = Process(self, [], env={"NOTIFY_SOCKET": path})
        msg = recv()
        self.assertIn("READY=1", msg.splitlines())
        # READY comes only once the listener is bound: connecting now must work at once.
        with socket.create_connection((HOST, p.port), timeout=WAIT):
            pass
        c = harness.Client(p.port)
        self.addCleanup(c.close)

        p.proc.send_signal(signal.SIGHUP)
        self.assertIn("RELOADING=1", recv().splitlines())
        self.assertIn("READY=1", recv().splitlines())
        c.publish("ops/after-reload", b"x", qos=1)  # still serving

        p.proc.send_signal(signal.SIGTERM)
        self.assertIn("STOPPING=1", recv().splitlines())
        self.assertEqual(p.wait_exit(), 0)

    def test_pid_file_is_written_while_running(self):
        d = tempfile.mkdtemp(prefix="natter-pid-")
        pid_path = os.path.join(d, "natter.pid")
        p = Process(self, [f"pid_file {pid_path}"])
        p.wait_listening()
        wait_until(lambda: os.path.exists(pid_path), what="the pid file")
        with open(pid_path) as f:
            self.assertEqual(f.read(), f"{p.proc.pid}\n")
        self.assertEqual(p.stop(), 0)
        self.assertFalse(os.path.exists(pid_path), "removed on a clean exit")

    def test_without_notify_socket_nothing_changes(self):
        env = {"NOTIFY_SOCKET": ""}
        p = Process(self, [], env=env)
        p.wait_listening()
        self.assertEqual(p.stop(), 0)


@natter_only("natter's log format")
class Logs(BrokerTest):
    def test_connect_and_disconnect_lines_name_client_and_peer(self):
        c = self.client(client_id="ops-log-1")
        local_port = c.c.socket().getsockname()[1]
        c.disconnect()
        peer = f"127.0.0.1:{local_port}"
        wait_until(lambda: f"client ops-log-1 ({peer}) disconnected" in self.broker.log(),
                   what="the disconnect line")
        lines = [l for l in self.broker.log().splitlines() if "ops-log-1" in l]
        self.assertEqual(len(lines), 2, lines)  # one line per event
        self.assertIn(f"client ops-log-1 connected from {peer} (MQTT 5.0", lines[0])
        self.assertRegex(lines[0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} info client ")

    def test_journal_stream_gets_priority_prefixes(self):
        d = tempfile.mkdtemp(prefix="natter-journal-")
        path = os.path.join(d, "stderr")
        open(path, "wb").close()
        st = os.stat(path)
        # memory_limit is accepted with a warning: a warning-level line at start-up.
        p = Process(self, ["memory_limit 0"], stderr_path=path,
                    env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        p.wait_listening()
        c = harness.Client(p.port, client_id="ops-journal")
        c.disconnect()
        self.assertEqual(p.stop(), 0)
        lines = p.log().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^<[2-7]>\S", "journal lines: <priority>message, no time")
        self.assertTrue(any(l.startswith("<4>") and "memory_limit" in l for l in lines), lines)
        self.assertTrue(any(l.startswith("<6>client ops-journal connected from 127.0.0.1:")
                            for l in lines), lines)

    def test_log_type_and_log_dest_file(self):
        d = tempfile.mkdtemp(prefix="natter-logfile-")
        logfile = os.path.join(d, "natter.log")
        p = Process(self, ["log_dest file " + logfile, "log_dest stderr", "log_type error",
                           "log_type warning", "log_timestamp_format %Y", "memory_limit 0"])
        p.wait_listening()
        c = harness.Client(p.port, client_id="ops-quiet")
        c.disconnect()
        self.assertEqual(p.stop(), 0)
        with open(logfile) as f:
            in_file = f.read().splitlines()
        for lines in (in_file, p.log().splitlines()):
            self.assertTrue(any("memory_limit" in l for l in lines), lines)
            # log_type error + warning: no information lines (connects, "stopped"...).
            for l in lines:
                self.assertRegex(l, r"^\d{4} (warning|error|critical) ", lines)


if __name__ == "__main__":
    unittest.main()
