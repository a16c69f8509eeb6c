"""TLS listeners: certfile/keyfile, cafile/capath, require_certificate,
use_identity_as_username, tls_version, ciphers, secure WebSocket, and SIGHUP
reloading the certificate without dropping connections.

A throw-away CA and certificates are made at test time with the openssl command line.
Clients: mosquitto_pub/mosquitto_sub (--cafile/--cert/--key), paho (tls_set), a raw
TLS socket (exact packets), `openssl s_client` (protocol versions, served certificate).

Run: NATTER_SERVER=... /usr/bin/python3 -m unittest -v 09_tls
"""

import importlib
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

import rawmqtt as mq
from harness import HOST, QUIET, V311, V5, WAIT, natter_only, wait_until

support = importlib.import_module("09_support")

SUB = "/usr/bin/mosquitto_sub"
PUB = "/usr/bin/mosquitto_pub"
PKI = None


def setUpModule():
    global PKI
    for tool in ("openssl", SUB, PUB):
        if shutil.which(tool) is None:
            raise unittest.SkipTest(f"{tool} is needed (Debian: openssl, mosquitto-clients)")
    PKI = support.TestPKI()
    PKI.ca("ca", "Natter Test CA")
    PKI.ca("other_ca", "Some Other CA")
    PKI.leaf("server", "/CN=localhost/O=Natter first", "ca", "0x1001", server=True)
    PKI.leaf("server2", "/CN=localhost/O=Natter second", "ca", "0x2002", server=True)
    PKI.leaf("alice", "/CN=alice", "ca", "0x3001", server=False)
    PKI.leaf("bob", "/CN=bob", "ca", "0x3002", server=False)
    PKI.leaf("fake_alice", "/CN=alice", "other_ca", "0x4001", server=False)
    capath = PKI.path("capath")
    os.mkdir(capath)
    os.chmod(capath, 0o755)
    shutil.copy(PKI.path("ca.crt"), capath)
    subprocess.run(["openssl", "rehash", capath], check=True, capture_output=True)


def tearDownModule():
    if PKI is not None:
        PKI.cleanup()


def p(name):
    return PKI.path(name)


def server_tls(port_name="tls", protocol=None, extra=()):
    lines = [f"listener {{{port_name}}} 127.0.0.1"]
    if protocol:
        lines.append(f"protocol {protocol}")
    return lines + [f"certfile {p('server.crt')}", f"keyfile {p('server.key')}", *extra]


def client_context(ca="ca.crt", cert=None, maximum=None, minimum=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(p(ca))
    if cert:
        ctx.load_cert_chain(p(cert + ".crt"), p(cert + ".key"))
    if maximum:
        ctx.maximum_version = maximum
    if minimum:
        ctx.minimum_version = minimum
    return ctx


def mqtt_over_tls(port, ctx, version=V5, client_id="tls", **kw):
    """Connects with a raw TLS client. Returns (client, CONNACK) when the broker
    accepts, or (None, why) when the TLS handshake or the connection fails."""
    try:
        r = support.TlsRawClient(port, ctx, version)
    except (ssl.SSLError, OSError) as e:
        return None, f"handshake failed: {e!r}"
    try:
        r.send(mq.connect(client_id, version, **kw))
        try:
            pkt = r.recv_packet()
        except support.Closed:
            r.close()
            return None, f"closed before CONNACK ({r.tls_error!r})"
        except TimeoutError:
            r.close()
            raise AssertionError("neither CONNACK nor close") from None
        return r, pkt
    except (ssl.SSLError, OSError) as e:
        r.close()
        return None, f"connection failed: {e!r}"


def mosquitto_pub(port, *args):
    r = subprocess.run([PUB, "-h", HOST, "-p", str(port), *args], capture_output=True, text=True,
                       timeout=WAIT * 2)
    return r.returncode, r.stdout + r.stderr


class MosqSub:
    """mosquitto_sub -d (so we know when it is subscribed) with -C: the messages it printed."""

    def __init__(self, test, port, args):
        self.proc = subprocess.Popen(["stdbuf", "-oL", SUB, "-d", "-h", HOST, "-p", str(port),
                                      *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        test.addCleanup(self.kill)
        self.lines = queue.Queue()
        self.all = []
        threading.Thread(target=self._read, daemon=True).start()
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

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.all.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def messages(self):
        try:
            rc = self.proc.wait(WAIT * 2)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mosquitto_sub did not exit: {self.all}") from None
        time.sleep(0.05)
        assert rc == 0, f"mosquitto_sub exit {rc}: {self.all}"
        return [line for line in self.all
                if not line.startswith("Client ") and not line.startswith("Subscribed (mid")]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class TlsTest(support.ListenerTest):
    broker_ports = ("tls",)

    @property
    def broker_config(self):
        return server_tls()

    @property
    def tls(self):
        return self.broker.ports["tls"]

    def test_mosquitto_pub_and_sub_over_tls(self):
        tcp = self.paho("port", client_id="tcp-watch")
        tcp.subscribe("tls/#", 1)
        sub = MosqSub(self, self.tls,
                      ["--cafile", p("ca.crt"), "-t", "tls/t", "-C", "2", "-q", "1"])
        for msg in ("hello over tls", "second"):
            rc, out = mosquitto_pub(self.tls, "--cafile", p("ca.crt"), "-t", "tls/t", "-m", msg,
                                    "-q", "1")
            self.assertEqual(rc, 0, out)
        self.assertEqual(sub.messages(), ["hello over tls", "second"])
        self.assertEqual([m.payload for m in tcp.recv_n(2)], [b"hello over tls", b"second"])

    def test_paho_over_tls_and_tcp_exchange(self):
        t = self.paho("tls", client_id="paho-tls", tls={"ca_certs": p("ca.crt")})
        c = self.paho("port", client_id="paho-tcp")
        t.subscribe("x/tls", 2)
        c.subscribe("x/tcp", 2)
        c.publish("x/tls", b"to tls", 2)
        t.publish("x/tcp", b"to tcp", 2)
        self.assertEqual(t.recv().payload, b"to tls")
        self.assertEqual(c.recv().payload, b"to tcp")

    def test_wrong_ca_fails(self):
        watch = self.paho("port", client_id="watch")
        watch.subscribe("wrong/#", 0)
        rc, out = mosquitto_pub(self.tls, "--cafile", p("other_ca.crt"), "-t", "wrong/ca",
                                "-m", "x")
        self.assertNotEqual(rc, 0, f"mosquitto_pub trusted a certificate from another CA: {out}")
        r, why = mqtt_over_tls(self.tls, client_context("other_ca.crt"))
        self.assertIsNone(r, f"TLS with the wrong CA gave {why}")
        self.assertIn("CERTIFICATE_VERIFY_FAILED", why)
        watch.expect_nothing()

    def test_plain_mqtt_on_tls_port_gets_no_connack(self):
        r = support.AddrRawClient(HOST, self.tls)
        self.addCleanup(r.close)
        r.send(mq.connect("plain-on-tls"))
        try:
            data = r.read_until_close()
        except AssertionError:
            data = None  # still open after WAIT: no CONNACK either
        self.assertFalse(data and data[:1] == b"\x20",
                         f"CONNACK over plain TCP on a TLS port: {data!r}")

    def test_served_certificate_is_the_configured_one(self):
        serial, subject = support.served_certificate(self.tls, p("ca.crt"))
        self.assertEqual(serial, "1001")
        self.assertIn("O=Natter first", subject)


class RequireCertificateTest(support.ListenerTest):
    broker_ports = ("tls",)
    ca_lines = ("cafile {ca}",)

    @property
    def broker_config(self):
        return server_tls(extra=[line.format(ca=p("ca.crt"), capath=p("capath"))
                                 for line in self.ca_lines] + ["require_certificate true"])

    @property
    def tls(self):
        return self.broker.ports["tls"]

    def test_client_without_certificate_refused(self):
        watch = self.paho("port", client_id="watch")
        watch.subscribe("req/#", 0)
        rc, out = mosquitto_pub(self.tls, "--cafile", p("ca.crt"), "-t", "req/nocert", "-m", "x")
        self.assertNotEqual(rc, 0, f"accepted without a client certificate: {out}")
        r, why = mqtt_over_tls(self.tls, client_context(), client_id="nocert")
        self.assertIsNone(r, f"accepted without a client certificate: {why}")
        watch.expect_nothing()

    def test_client_with_ca_signed_certificate_accepted(self):
        watch = self.paho("port", client_id="watch")
        watch.subscribe("req/#", 0)
        rc, out = mosquitto_pub(self.tls, "--cafile", p("ca.crt"), "--cert", p("alice.crt"),
                                "--key", p("alice.key"), "-t", "req/cert", "-m", "with cert")
        self.assertEqual(rc, 0, out)
        self.assertEqual(watch.recv().payload, b"with cert")
        r, ack = mqtt_over_tls(self.tls, client_context(cert="bob"), client_id="bob-cert")
        self.assertIsNotNone(r, ack)
        self.addCleanup(r.close)
        self.assertEqual((ack.type, ack.rc), (mq.CONNACK, 0))

    def test_certificate_from_another_ca_refused(self):
        r, why = mqtt_over_tls(self.tls, client_context(cert="fake_alice"), client_id="fake")
        self.assertIsNone(r, f"accepted a client certificate from another CA: {why}")


class RequireCertificateCapathTest(RequireCertificateTest):
    """The same with the trusted CA in a hashed directory (capath) instead of cafile."""
    ca_lines = ("capath {capath}",)


class IdentityAsUsernameTest(support.ListenerTest):
    """use_identity_as_username: the certificate's CN is the username, whatever the
    CONNECT says. The ACL lets anonymous clients read everything and alice write
    alice/# only."""
    broker_ports = ("tls",)

    def prepare_broker(self, broker):
        with open(os.path.join(broker.dir, "acl"), "w") as f:
            f.write("topic read #\n\nuser alice\ntopic readwrite alice/#\n")
        os.chmod(os.path.join(broker.dir, "acl"), 0o644)

    @property
    def broker_config(self):
        return server_tls(extra=[f"cafile {p('ca.crt')}", "require_certificate true",
                                 "use_identity_as_username true"]) + ["acl_file {dir}/acl"]

    @property
    def tls(self):
        return self.broker.ports["tls"]

    def alice(self, version=V5, cert="alice", **kw):
        r, ack = mqtt_over_tls(self.tls, client_context(cert=cert), version, **kw)
        self.assertIsNotNone(r, ack)
        self.addCleanup(r.close)
        self.assertEqual((ack.type, ack.rc), (mq.CONNACK, 0), ack)
        return r

    def test_cn_is_the_username_for_the_acl(self):
        watch = self.paho("port", client_id="watch")
        watch.subscribe("#", 1)
        # The username in CONNECT is ignored: the certificate says alice.
        r = self.alice(client_id="alice-1", username="mallory", password=b"whatever")
        self.assertEqual(r.publish("alice/x", b"from alice", 1).rc, 0)
        m = watch.recv()
        self.assertEqual((m.topic, m.payload), ("alice/x", b"from alice"))
        ack = r.publish("bob/x", b"not allowed", 1)
        self.assertEqual(ack.rc, support.RC_NOT_AUTHORIZED, ack)
        watch.expect_nothing()

    def test_other_certificate_other_username(self):
        watch = self.paho("port", client_id="watch")
        watch.subscribe("#", 1)
        r = self.alice(cert="bob", client_id="bob-1", username="alice")
        ack = r.publish("alice/x", b"bob pretending", 1)
        self.assertEqual(ack.rc, support.RC_NOT_AUTHORIZED, ack)
        watch.expect_nothing()

    def test_mosquitto_pub_with_alice_certificate(self):
        watch = self.paho("port", client_id="watch")
        watch.subscribe("#", 0)
        base = ["--cafile", p("ca.crt"), "--cert", p("alice.crt"), "--key", p("alice.key")]
        rc, out = mosquitto_pub(self.tls, *base, "-t", "alice/x", "-m", "alice says")
        self.assertEqual(rc, 0, out)
        self.assertEqual(watch.recv().payload, b"alice says")
        mosquitto_pub(self.tls, *base, "-t", "bob/x", "-m", "alice as bob")
        watch.expect_nothing()

    def test_v311_denied_publish_not_delivered(self):
        watch = self.paho("port", client_id="watch")
        watch.subscribe("#", 1)
        r = self.alice(V311, client_id="alice-311")
        r.publish("bob/x", b"denied", 1)  # 3.1.1: acknowledged, not delivered
        r.publish("alice/y", b"allowed", 1)
        m = watch.recv()
        self.assertEqual((m.topic, m.payload), ("alice/y", b"allowed"))
        watch.expect_nothing()


class SecureWebSocketTest(support.ListenerTest):
    broker_ports = ("wss",)

    @property
    def broker_config(self):
        return server_tls("wss", protocol="websockets")

    @property
    def wss(self):
        return self.broker.ports["wss"]

    def test_paho_wss_and_tcp_exchange(self):
        for path in ("/mqtt", "/"):
            with self.subTest(path=path):
                w = self.paho("wss", client_id=f"wss{path}", transport="websockets", ws_path=path,
                              tls={"ca_certs": p("ca.crt")})
                c = self.paho("port", client_id=f"tcp{path}")
                w.subscribe("wss/in", 1)
                c.subscribe("wss/out", 1)
                c.publish("wss/in", b"tcp to wss", 1)
                w.publish("wss/out", b"wss to tcp", 1)
                self.assertEqual(w.recv().payload, b"tcp to wss")
                self.assertEqual(c.recv().payload, b"wss to tcp")
                w.disconnect()
                c.disconnect()

    def test_mqttjs_wss(self):
        c = self.paho("port", client_id="tcp")
        c.subscribe("js/out", 1)
        # 127.0.0.1, not "localhost": Node 18 resolves localhost to ::1 first and does not
        # fall back, and this listener is bound to 127.0.0.1 (the certificate names both).
        js = self.node(f"wss://127.0.0.1:{self.wss}", client_id="js-wss", ca=p("ca.crt"))
        js.subscribe("js/in", 1)
        js.publish("js/out", b"from mqtt.js", 1)
        self.assertEqual(c.recv().payload, b"from mqtt.js")
        c.publish("js/in", b"to mqtt.js", 1)
        self.assertEqual(js.recv().payload, b"to mqtt.js")

    def test_wss_with_wrong_ca_fails(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.paho("wss", client_id="wss-wrong", transport="websockets",
                      tls={"ca_certs": p("other_ca.crt")})

    @natter_only("/healthz is natter's")
    def test_https_healthz(self):
        ctx = client_context()
        with socket.create_connection((HOST, self.wss), timeout=WAIT) as tcp:
            with ctx.wrap_socket(tcp, server_hostname=HOST) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
        self.assertEqual(data.split(b"\r\n\r\n", 1)[1].strip(), b"ok")


class TlsVersionTest(support.ListenerTest):
    broker_ports = ("tls13", "tlsdef")

    @property
    def broker_config(self):
        return server_tls("tls13", extra=["tls_version tlsv1.3"]) + server_tls("tlsdef")

    def test_tls13_only_refuses_tls12_client(self):
        rc, out = support.s_client(self.broker.ports["tls13"], "-tls1_2", "-CAfile", p("ca.crt"))
        self.assertNotEqual(rc, 0, f"TLS 1.2 handshake succeeded on a tlsv1.3 listener:\n{out}")
        rc, out = support.s_client(self.broker.ports["tls13"], "-tls1_3", "-CAfile", p("ca.crt"))
        self.assertEqual(rc, 0, out)
        self.assertIn("TLSv1.3", out)
        r, why = mqtt_over_tls(self.broker.ports["tls13"],
                               client_context(maximum=ssl.TLSVersion.TLSv1_2))
        self.assertIsNone(r, f"TLS 1.2 MQTT client accepted: {why}")
        r, ack = mqtt_over_tls(self.broker.ports["tls13"], client_context())
        self.assertIsNotNone(r, ack)
        self.addCleanup(r.close)
        self.assertEqual(r.sock.version(), "TLSv1.3")

    def test_default_accepts_tls12_and_tls13(self):
        for flag in ("-tls1_2", "-tls1_3"):
            with self.subTest(flag=flag):
                rc, out = support.s_client(self.broker.ports["tlsdef"], flag,
                                           "-CAfile", p("ca.crt"))
                self.assertEqual(rc, 0, out)

    def test_default_refuses_tls11(self):
        ctx = client_context(maximum=ssl.TLSVersion.TLSv1_1, minimum=ssl.TLSVersion.TLSv1)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 would not even offer TLS 1.1 otherwise
        r, why = mqtt_over_tls(self.broker.ports["tlsdef"], ctx)
        self.assertIsNone(r, f"TLS 1.1 client accepted: {why}")
        self.assertNotIn("NO_PROTOCOLS_AVAILABLE", why, "the client could not even offer TLS 1.1")


class CiphersTest(support.ListenerTest):
    broker_ports = ("tls",)

    @property
    def broker_config(self):
        return server_tls(extra=["ciphers ECDHE-ECDSA-AES128-GCM-SHA256"])

    def test_tls12_cipher_list_applies(self):
        port = self.broker.ports["tls"]
        rc, out = support.s_client(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                   "-CAfile", p("ca.crt"))
        self.assertNotEqual(rc, 0, f"a cipher outside `ciphers` was negotiated:\n{out}")
        rc, out = support.s_client(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256",
                                   "-CAfile", p("ca.crt"))
        self.assertEqual(rc, 0, out)
        self.assertIn("ECDHE-ECDSA-AES128-GCM-SHA256", out)


class ReloadTest(support.ListenerTest):
    """SIGHUP: new connections get the new certificate; open ones keep working."""
    broker_ports = ("tls",)
    broker_config = ["listener {tls} 127.0.0.1", "certfile {dir}/cert.pem", "keyfile {dir}/key.pem"]

    def prepare_broker(self, broker):
        self.install(broker, "server")

    def install(self, broker, name):
        for src, dst in ((name + ".crt", "cert.pem"), (name + ".key", "key.pem")):
            shutil.copyfile(p(src), os.path.join(broker.dir, dst))
            os.chmod(os.path.join(broker.dir, dst), 0o644)

    def served(self):
        return support.served_certificate(self.broker.ports["tls"], p("ca.crt"))

    def test_sighup_reloads_certificate_without_dropping_connections(self):
        tls = self.broker.ports["tls"]
        self.assertEqual(self.served()[0], "1001")
        old = self.paho("tls", client_id="old-tls", tls={"ca_certs": p("ca.crt")})
        old_raw, ack = mqtt_over_tls(tls, client_context(), client_id="old-raw")
        self.assertIsNotNone(old_raw, ack)
        self.addCleanup(old_raw.close)
        tcp = self.paho("port", client_id="tcp")
        old.subscribe("hup/to-old", 1)
        tcp.subscribe("hup/to-tcp", 1)

        self.install(self.broker, "server2")
        self.broker.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.served()[0] == "2002", what="the new certificate to be served")
        serial, subject = self.served()
        self.assertIn("O=Natter second", subject)

        tcp.publish("hup/to-old", b"after reload", 1)
        self.assertEqual(old.recv().payload, b"after reload")
        old.publish("hup/to-tcp", b"old still writes", 1)
        self.assertEqual(tcp.recv().payload, b"old still writes")
        old_raw.send(mq.pingreq())
        old_raw.expect(mq.PINGRESP)
        self.assertTrue(old.disconnects.empty(), "the old TLS connection was dropped")
        new = self.paho("tls", client_id="new-tls", tls={"ca_certs": p("ca.crt")})
        new.subscribe("hup/to-old", 1)
        tcp.publish("hup/to-old", b"both", 1)
        self.assertEqual(old.recv().payload, b"both")
        self.assertEqual(new.recv().payload, b"both")

    @natter_only("natter logs and keeps the previous certificate; mosquitto's reload differs")
    def test_sighup_with_broken_certificate_keeps_the_old_one(self):
        with open(os.path.join(self.broker.dir, "cert.pem"), "w") as f:
            f.write("not a certificate\n")
        self.broker.proc.send_signal(signal.SIGHUP)
        time.sleep(QUIET)
        self.assertTrue(self.broker.alive(), "the broker died on SIGHUP with a broken certificate")
        self.assertEqual(self.served()[0], "1001")
        c = self.paho("tls", client_id="after-bad-hup", tls={"ca_certs": p("ca.crt")})
        self.assertEqual(c.subscribe("x", 0), [0])


if __name__ == "__main__":
    unittest.main()
