"""Debian's mosquitto_sub / mosquitto_pub / mosquitto_rr against the broker:
the install guide's walk-through and the options people use every day.

Run: NATTER_BROKER=mosquitto /usr/bin/python3 -m unittest -v 07_mosquitto_clients
"""

import os
import queue
import signal
import subprocess
import threading
import time
import unittest

from harness import HOST, V5, WAIT, BrokerTest

SUB = "/usr/bin/mosquitto_sub"
PUB = "/usr/bin/mosquitto_pub"
RR = "/usr/bin/mosquitto_rr"
EXIT_WAIT = 10


class Sub:
    """A running mosquitto_sub with -d, so we can tell when it is subscribed.
    Its output is split into debug lines ('Client ...') and message lines."""

    def __init__(self, test, args):
        # stdbuf: mosquitto_sub's stdio is block-buffered on a pipe, and we
        # need the SUBACK debug line as it happens.
        self.proc = subprocess.Popen(["stdbuf", "-oL", SUB, "-d", "-h", HOST, "-p",
                                      str(test.port), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        test.addCleanup(self.kill)
        self.lines = queue.Queue()
        self.all = []
        threading.Thread(target=self._read, daemon=True).start()
        self._subscribed(args)

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.all.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _subscribed(self, args):
        # One SUBACK per -t (mosquitto_sub sends one SUBSCRIBE for all of them).
        deadline = time.monotonic() + WAIT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"mosquitto_sub never subscribed: {self.all}") from None
            if line is None:
                raise AssertionError(f"mosquitto_sub exited: {self.all}")
            if "received SUBACK" in line:
                return

    def messages(self):
        """Wait for exit (it was given -C) and return the message lines."""
        try:
            rc = self.proc.wait(EXIT_WAIT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mosquitto_sub did not exit: {self.all}") from None
        time.sleep(0.05)  # let the reader thread drain the pipe
        assert rc == 0, f"mosquitto_sub exit {rc}: {self.all}"
        return payload_lines(self.all)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def payload_lines(lines):
    return [line for line in lines
            if not line.startswith("Client ") and not line.startswith("Subscribed (mid")]


class MosquittoClientsTest(BrokerTest):
    def setUp(self):
        for tool in (SUB, PUB, RR):
            if not os.access(tool, os.X_OK):
                self.skipTest(f"{tool} missing (apt-get install mosquitto-clients)")
        super().setUp()

    def pub(self, *args, stdin=None):
        r = subprocess.run([PUB, "-h", HOST, "-p", str(self.port), *args],
                           input=stdin, capture_output=True, timeout=EXIT_WAIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def sub_once(self, *args, timeout=EXIT_WAIT):
        """Run mosquitto_sub to completion; (exit code, output lines)."""
        r = subprocess.run([SUB, "-h", HOST, "-p", str(self.port), *args],
                           capture_output=True, timeout=timeout)
        return r.returncode, r.stdout.decode(errors="replace").splitlines()

    def test_install_guide_walkthrough(self):
        # The install guide: a subscriber on the sitting room light, ON then OFF.
        for version in ((), ("-V", "mqttv5"), ("-V", "mqttv311")):
            with self.subTest(version=version):
                sub = Sub(self, [*version, "-t", "home/lights/sitting_room", "-C", "2"])
                self.pub(*version, "-t", "home/lights/sitting_room", "-m", "ON")
                self.pub(*version, "-t", "home/lights/sitting_room", "-m", "OFF")
                self.assertEqual(sub.messages(), ["ON", "OFF"])

    def test_qos_levels(self):
        for version in ((), ("-V", "mqttv5")):
            for sq in ("0", "1", "2"):
                with self.subTest(version=version, sub_qos=sq):
                    sub = Sub(self, [*version, "-q", sq, "-t", "q/t", "-C", "3",
                                     "-F", "%q %r %p"])
                    for pq in ("0", "1", "2"):
                        self.pub(*version, "-q", pq, "-t", "q/t", "-m", f"m{pq}")
                    self.assertEqual(sub.messages(),
                                     [f"{min(int(pq), int(sq))} 0 m{pq}" for pq in "012"])

    def test_retained_seen_by_later_subscriber(self):
        for version in ((), ("-V", "mqttv5")):
            with self.subTest(version=version):
                self.pub(*version, "-r", "-q", "1", "-t", "home/temp", "-m", "21.5")
                rc, out = self.sub_once(*version, "-t", "home/temp", "-C", "1", "-F", "%r %q %p")
                self.assertEqual((rc, out), (0, ["1 0 21.5"]))  # retain 1, QoS min(1, 0)
                # Cleared with a retained empty message (-r -n).
                self.pub(*version, "-r", "-n", "-t", "home/temp")
                rc, out = self.sub_once(*version, "-t", "home/temp", "-C", "1", "-W", "1")
                self.assertEqual(out, [])
                self.assertNotEqual(rc, 0)  # timed out: nothing retained

    def test_wildcard_verbose(self):
        sub = Sub(self, ["-t", "house/#", "-v", "-C", "3"])
        self.pub("-t", "house/kitchen/temp", "-m", "20")
        self.pub("-t", "house", "-m", "root")
        self.pub("-t", "garden/temp", "-m", "not me")
        self.pub("-t", "house/hall", "-m", "x y")
        self.assertEqual(sub.messages(), ["house/kitchen/temp 20", "house root", "house/hall x y"])

    def test_persistent_session(self):
        for version in ((), ("-V", "mqttv5")):
            with self.subTest(version=version):
                cid = f"persist{len(version)}"
                rc, _ = self.sub_once(*version, "-c", "-i", cid, "-q", "1", "-t", "p/t", "-E")
                self.assertEqual(rc, 0)
                for i in range(3):
                    self.pub(*version, "-q", "1", "-t", "p/t", "-m", f"queued {i}")
                rc, out = self.sub_once(*version, "-c", "-i", cid, "-q", "1", "-t", "p/t",
                                        "-C", "3")
                self.assertEqual((rc, out), (0, [f"queued {i}" for i in range(3)]))

    def test_publish_lines_from_stdin(self):
        sub = Sub(self, ["-t", "lines", "-C", "3"])
        self.pub("-t", "lines", "-l", stdin=b"first\nsecond\nthird\n")
        self.assertEqual(sub.messages(), ["first", "second", "third"])

    def test_publish_file(self):
        data = bytes(range(256)) * 40
        sub = Sub(self, ["-t", "file", "-C", "1", "-F", "%l %x"])
        path = os.path.join(self.broker.dir, "payload.bin")
        with open(path, "wb") as f:
            f.write(data)
        self.pub("-t", "file", "-f", path)
        self.assertEqual(sub.messages(), [f"{len(data)} {data.hex()}"])

    def test_v5_properties(self):
        sub = Sub(self, ["-V", "mqttv5", "-t", "props", "-C", "1", "-F", "%C|%R|%P|%E|%p"])
        self.pub("-V", "mqttv5", "-t", "props", "-m", "body",
                 "-D", "publish", "content-type", "text/plain",
                 "-D", "publish", "response-topic", "props/reply",
                 "-D", "publish", "user-property", "room", "kitchen",
                 "-D", "publish", "message-expiry-interval", "100")
        (line,) = sub.messages()
        ctype, rtopic, uprop, expiry, payload = line.split("|")
        self.assertEqual((ctype, rtopic, uprop, payload),
                         ("text/plain", "props/reply", "room:kitchen", "body"))
        self.assertTrue(95 <= int(expiry) <= 100, expiry)

    def test_will_of_killed_subscriber(self):
        watcher = Sub(self, ["-t", "status/#", "-v", "-C", "1"])
        victim = Sub(self, ["-t", "anything", "--will-topic", "status/victim",
                            "--will-payload", "offline", "--will-qos", "1"])
        victim.proc.send_signal(signal.SIGKILL)
        self.assertEqual(watcher.messages(), ["status/victim offline"])

    def test_request_response_with_mosquitto_rr(self):
        # mosquitto_rr sends a request with Response Topic and Correlation
        # Data (v5) and prints the reply; a paho responder answers.
        responder = self.client(version=V5)
        responder.subscribe("rr/request", 1)

        def answer():
            m = responder.recv(timeout=EXIT_WAIT)
            props = {}
            if "CorrelationData" in m.props:
                props["CorrelationData"] = m.props["CorrelationData"]
            responder.publish(m.props["ResponseTopic"], b"pong:" + m.payload, 1, props=props)

        t = threading.Thread(target=answer, daemon=True)
        t.start()
        r = subprocess.run([RR, "-h", HOST, "-p", str(self.port), "-t", "rr/request",
                            "-e", "rr/response", "-m", "ping", "-W", "5"],
                           capture_output=True, timeout=EXIT_WAIT)
        t.join(EXIT_WAIT)
        self.assertEqual((r.returncode, r.stdout.decode().splitlines()), (0, ["pong:ping"]),
                         r.stderr)


if __name__ == "__main__":
    unittest.main()
