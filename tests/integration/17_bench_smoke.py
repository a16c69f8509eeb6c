"""natter-bench smoke test: every scenario for about a second at tiny sizes against a real
broker. Checks that each prints one human line and one parseable JSON line with sane,
self-consistent fields, and that nothing is lost at QoS 1/2. No speed is asserted: figures
go to bench/ (bench/README.md, bench/compare.sh), never into tests.

Run: NATTER_SERVER=... NATTER_BENCH=.../natter-bench NATTER_PASSWD=... \
     /usr/bin/python3 -m unittest -v 17_bench_smoke
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import HOST, IS_MOSQUITTO, Broker, BrokerTest, free_port, passwd_tool

BENCH = os.environ.get("NATTER_BENCH", "")
# Every field these scenarios print, and which must be there whatever the broker.
COMMON = {"scenario", "transport", "mqtt", "errors", "bench_cpu_s", "server_cpu_s",
          "server_rss_kb", "server_peak_rss_kb", "msgs_per_server_cpu_s"}


class BenchTest(BrokerTest):
    ws_port = None

    @classmethod
    def setUpClass(cls):
        if not BENCH or not os.access(BENCH, os.X_OK):
            raise AssertionError(f"NATTER_BENCH={BENCH!r} is not an executable: set it to "
                                 "the natter-bench binary (ctest does)")
        cls.ws_port = free_port()

    @property
    def broker_config(self):
        return [f"listener {self.ws_port} {HOST}", "protocol websockets",
                "max_queued_messages 0", "set_tcp_nodelay true"]

    def bench(self, *args, url=None, broker=None, common=()):
        """Runs natter-bench against the broker; returns (human line, JSON dict)."""
        broker = broker or self.broker
        url = url or f"mqtt://{HOST}:{broker.port}"
        cmd = [BENCH, "--url", url, "--pid", str(broker.proc.pid), "--timeout", "15",
               *common, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        self.assertEqual(p.returncode, 0,
                         f"{' '.join(cmd)} exited {p.returncode}\nstdout:\n{p.stdout}\n"
                         f"stderr:\n{p.stderr}")
        lines = p.stdout.strip().splitlines()
        self.assertEqual(len(lines), 2, f"expected a human line and a JSON line:\n{p.stdout}")
        human, machine = lines
        self.assertFalse(human.startswith("{"), human)
        data = json.loads(machine)
        missing = COMMON - data.keys()
        self.assertFalse(missing, f"fields missing from {data}")
        self.assertEqual(data["errors"], 0, data)
        self.assertGreaterEqual(data["bench_cpu_s"], 0)
        self.assertGreaterEqual(data["server_cpu_s"], 0)
        self.assertGreater(data["server_rss_kb"], 0)
        self.assertGreaterEqual(data["server_peak_rss_kb"], data["server_rss_kb"])
        if data["msgs_per_server_cpu_s"] is not None:  # null below 2 clock ticks of CPU
            self.assertGreater(data["msgs_per_server_cpu_s"], 0)
        return human, data

    def check_flow(self, data, qos, subscribers=1):
        self.assertEqual(data["qos"], qos)
        self.assertGreater(data["sent"], 0)
        self.assertGreater(data["delivered"], 0)
        self.assertGreater(data["msgs_per_s"], 0)
        self.assertEqual(data["delivered"] + data["lost"], data["sent"] * subscribers, data)
        if qos > 0:
            self.assertEqual(data["lost"], 0, data)
            self.assertEqual(data["acked"], data["sent"], data)
        if qos == 2:
            self.assertEqual(data["duplicates"], 0, data)


class FlowTest(BenchTest):
    def test_fan_in_each_qos(self):
        for qos in (0, 1, 2):
            with self.subTest(qos=qos):
                human, data = self.bench("fan-in", "-p", "2", "-d", "1", "-q", str(qos))
                self.assertEqual(data["scenario"], "fan-in")
                self.assertIn("msgs/s delivered", human)
                self.assertEqual((data["publishers"], data["subscribers"]), (2, 1))
                self.check_flow(data, qos)

    def test_fan_out(self):
        for qos in (0, 1):
            with self.subTest(qos=qos):
                _, data = self.bench("fan-out", "-S", "5", "-d", "1", "-q", str(qos))
                self.assertEqual((data["publishers"], data["subscribers"]), (1, 5))
                self.check_flow(data, qos, subscribers=5)

    def test_websocket(self):
        _, data = self.bench("fan-in", "-p", "2", "-d", "1", "-q", "1",
                             url=f"ws://{HOST}:{self.ws_port}/mqtt")
        self.assertEqual(data["transport"], "ws")
        self.check_flow(data, 1)

    def test_mqtt5(self):
        _, data = self.bench("fan-in", "-p", "1", "-d", "1", "-q", "2", common=["--v5"])
        self.assertEqual(data["mqtt"], "5.0")
        self.check_flow(data, 2)


class ChatTest(BenchTest):
    def test_chat_latency_fields(self):
        human, data = self.bench("chat", "-n", "5", "-r", "20", "-d", "1.5", "--warmup", "0.5")
        self.assertIn("latency p50", human)
        self.assertEqual(data["pairs"], 5)
        self.assertGreater(data["sent"], 0)
        self.assertEqual(data["lost"], 0, data)
        self.assertEqual(data["delivered"], data["sent"], data)
        self.assertGreater(data["deliveries_per_s"], 0)
        lat = [data[k] for k in ("latency_p50_ms", "latency_p99_ms", "latency_p999_ms",
                                 "latency_max_ms")]
        self.assertGreater(lat[0], 0)
        self.assertEqual(lat, sorted(lat), data)


class StoredTest(BenchTest):
    def test_retained(self):
        _, data = self.bench("retained", "-n", "200")
        self.assertEqual(data["received"], 200, data)
        self.assertGreater(data["stored_per_s"], 0, data)
        self.assertGreater(data["msgs_per_s"], 0)

    def test_durable_without_persistence(self):
        _, data = self.bench("durable", "-n", "500")
        self.assertEqual((data["acked"], data["delivered"], data["lost"]), (500, 500, 0), data)
        self.assertGreater(data["msgs_per_s"], 0)


class DurableTest(BenchTest):
    @property
    def broker_config(self):
        return super().broker_config + ["persistence true", "persistence_location {dir}/"]

    def test_durable_with_persistence(self):
        for qos in (1, 2):
            with self.subTest(qos=qos):
                _, data = self.bench("durable", "-n", "300", "-q", str(qos), "-p", "2")
                self.assertEqual((data["acked"], data["delivered"], data["lost"]),
                                 (300, 300, 0), data)


class ConnectionsTest(BenchTest):
    def test_connections(self):
        human, data = self.bench("connections", "-c", "50", "--settle", "0.2")
        self.assertEqual((data["connected"], data["failed"]), (50, 0), data)
        self.assertIn("rss_per_connection_bytes", data)  # may be ~0 or negative: allocator
        self.assertLessEqual(data["connect_p50_ms"], data["connect_max_ms"])
        self.assertIn("per connection", human)

    def test_paced_connections(self):
        _, data = self.bench("connections", "-c", "20", "-r", "100", "--settle", "0")
        self.assertEqual(data["connected"], 20, data)
        self.assertGreaterEqual(data["elapsed_s"], 0.15)  # 20 at 100/s: paced, not a burst

    def test_presence_storm(self):
        _, data = self.bench("presence", "-c", "50")
        self.assertEqual((data["delivered"], data["missing"]), (50, 0), data)


class TlsTest(BenchTest):
    """mqtts:// and wss:// with a throwaway CA made by the openssl CLI."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not shutil.which("openssl"):
            raise AssertionError("the openssl CLI is needed (Debian package openssl)")
        cls.certs = tempfile.mkdtemp(prefix="natter-bench-tls-")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", "key.pem", "-out", "cert.pem", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       cwd=cls.certs, check=True, capture_output=True)
        os.chmod(os.path.join(cls.certs, "key.pem"), 0o644)  # mosquitto runs as 'mosquitto'
        os.chmod(cls.certs, 0o755)
        cls.tls_port, cls.wss_port = free_port(), free_port()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs, ignore_errors=True)

    @property
    def broker_config(self):
        tls = [f"certfile {self.certs}/cert.pem", f"keyfile {self.certs}/key.pem"]
        return (super().broker_config + [f"listener {self.tls_port} {HOST}"] + tls +
                [f"listener {self.wss_port} {HOST}", "protocol websockets"] + tls)

    def test_tls_and_wss(self):
        for url in (f"mqtts://{HOST}:{self.tls_port}", f"wss://{HOST}:{self.wss_port}/mqtt"):
            with self.subTest(url=url):
                _, data = self.bench("fan-in", "-p", "2", "-d", "1", "-q", "1", url=url,
                                     common=["--cafile", os.path.join(self.certs, "cert.pem")])
                self.assertEqual(data["transport"], url.split(":")[0].replace("mqtts", "tls"))
                self.check_flow(data, 1)


@unittest.skipIf(IS_MOSQUITTO, "natter_only: the chat service is Natter's own")
class ChatServiceTest(BenchTest):
    """The chat and presence variants through the real chat service (docs/protocol.md):
    users bench0..bench10 in a password file made by natter-passwd."""

    USERS = 11

    @property
    def broker_config(self):
        return super().broker_config + ["allow_anonymous false", "chat_enabled true",
                                        "password_file {dir}/passwd"]

    def setUp(self):
        # The password file must exist before the broker starts.
        self.start_broker = False
        super().setUp()
        self.broker = Broker(self.broker_config)
        self._brokers.append(self.broker)
        self.addCleanup(self.broker.stop)
        path = os.path.join(self.broker.dir, "passwd")
        with open(path, "w") as f:
            f.writelines(f"bench{i}:secret\n" for i in range(self.USERS))
        tool = passwd_tool()
        self.assertTrue(os.access(tool, os.X_OK), f"natter-passwd not found at {tool}")
        subprocess.run([tool, "-U", "-I", "1000", path], check=True, capture_output=True)
        self.broker.start()

    def test_chat_through_the_service(self):
        human, data = self.bench("chat", "--service", "-n", "5", "-r", "20", "-d", "1.5",
                                 "--warmup", "0.5", common=["-P", "secret"])
        self.assertEqual(data["scenario"], "chat-service")
        self.assertIn("chat-svc", human)
        self.assertGreater(data["sent"], 0)
        self.assertEqual((data["delivered"], data["lost"], data["refused"]),
                         (data["sent"], 0, 0), data)
        self.assertEqual(data["echoes"], data["sent"], data)  # the sender's own stamped copy
        self.assertLessEqual(data["latency_p50_ms"], data["latency_max_ms"])

    def test_presence_through_the_service(self):
        _, data = self.bench("presence", "--service", "-c", "10", common=["-P", "secret"])
        self.assertEqual(data["scenario"], "presence-service")
        self.assertEqual((data["delivered"], data["missing"]), (10, 0), data)

    def test_wrong_password_fails_loudly(self):
        cmd = [BENCH, "--url", f"mqtt://{HOST}:{self.broker.port}", "-P", "wrong",
               "--timeout", "5", "chat", "--service", "-n", "1", "-d", "1", "--warmup", "0"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        data = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertGreater(data["errors"], 0)
        self.assertIn("refused", data["first_error"])


if __name__ == "__main__":
    unittest.main()
