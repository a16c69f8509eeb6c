"""Helpers shared by the 09_ modules (listeners, WebSocket, TLS, HTTP, configuration).

Not a test module. The 09_ modules load it with importlib (its name starts with a digit):

    support = importlib.import_module("09_support")

- ListenerBroker: a harness Broker with more listeners, on named free ports.
- ListenerTest: BrokerTest whose brokers are ListenerBrokers, with client factories.
- PahoClient: the harness paho Client over WebSocket and/or TLS.
- WsRawClient: a minimal WebSocket client (handshake, masked frames) speaking exact MQTT bytes.
- TlsRawClient: RawClient over TLS.
- NodeClient: MQTT.js (tests/integration/node) as a WebSocket MQTT client.
- TestPKI: a throw-away CA and certificates, made with the openssl command line.

Standard library and paho only, like harness.py.
"""

import base64
import fcntl
import glob
import hashlib
import json
import os
import queue
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness
import rawmqtt as mq
from harness import (HOST, IS_MOSQUITTO, V5, WAIT, MessageInbox, Broker, BrokerTest, Client, Closed,
                     RawClient, close_after_disconnect, free_port)

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
NODE_SCRIPT = os.path.join(NODE_DIR, "wsclient.js")
RC_RETAIN_NOT_SUPPORTED = 0x9A
RC_QUOTA_EXCEEDED = 0x97
RC_NOT_AUTHORIZED = 0x87
RC_BAD_USER_OR_PASSWORD = 0x86


# ------------------------------------------------------------------- broker

class ListenerBroker(Broker):
    """A Broker whose configuration may open more listeners.

    `ports` names extra ports: each gets a free port, written into the configuration
    where a line says `{name}` (`{port}` is the main port, `{dir}` the broker's temp
    dir). start() returns once the broker listens on all of them; if one was taken by
    a parallel test in the meantime, it retries with fresh ports.

    bare=False: the harness's first lines (`listener {port} 127.0.0.1`,
    `allow_anonymous true`) come first. bare=True: the configuration is exactly
    `config`, which must open `{port}` somewhere (as a listener on 127.0.0.1).

    `files` maps paths relative to the broker's dir to their text, placeholders
    substituted like the configuration's (include_dir files that open listeners).
    """

    def __init__(self, config=(), ports=(), bare=False, files=None):
        super().__init__(config)
        self.bare = bare
        self.files = dict(files or {})
        self.ports = {name: free_port() for name in ports}
        self._last_launch_failed = False

    def subst(self, text):
        text = text.replace("{dir}", self.dir).replace("{port}", str(self.port))
        for name, port in self.ports.items():
            text = text.replace("{" + name + "}", str(port))
        return text

    def write_config(self):
        lines = [] if self.bare else [f"listener {self.port} {HOST}", "allow_anonymous true"]
        lines += [self.subst(line) for line in self.config]
        if IS_MOSQUITTO:
            lines += ["log_dest stderr", "log_type all"]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        for rel, text in self.files.items():
            path = os.path.join(self.dir, rel)
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            with open(path, "w") as f:
                f.write(self.subst(text))
            os.chmod(path, 0o644)  # mosquitto (the reference) reads as user mosquitto

    def _launch(self, timeout):
        if self._last_launch_failed:
            self.ports = {name: free_port() for name in self.ports}
        ok = super()._launch(timeout)
        if ok:
            deadline = time.monotonic() + timeout
            while not all(harness._listening(self.proc.pid, p) for p in self.ports.values()):
                if self.proc.poll() is not None:
                    self._log.close()
                    ok = False
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"broker did not listen on all of {self.ports} in "
                                         f"{timeout}s\n" + self.log_excerpt())
                time.sleep(0.02)
        self._last_launch_failed = not ok
        return ok


# ------------------------------------------------------------- paho client

class PahoClient(Client):
    """The harness paho Client, optionally over WebSocket (transport="websockets",
    ws_path) and/or TLS (tls: keyword arguments of paho's tls_set)."""

    def __init__(self, port, *args, transport="tcp", ws_path="/mqtt", tls=None, connect=True,
                 expect_rc=0, **kw):
        super().__init__(port, *args, connect=False, **kw)
        self.transport = transport
        if transport == "websockets":
            # paho takes the transport in its constructor only; the harness made the
            # client already, and paho reads this attribute at connect time.
            self.c._transport = "websockets"
            self.c.ws_set_options(path=ws_path)
        if tls:
            self.c.tls_set(**tls)
        if connect:
            self.connect(expect_rc=expect_rc)

    def _stream_socket(self):
        """The TCP (or TLS) socket under paho's WebSocket wrapper."""
        s = self.c.socket()
        return getattr(s, "_socket", s)

    def drop(self):
        if self.transport != "websockets":
            return super().drop()
        self._stop_loop()
        sock = self._stream_socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.c._sock = None

    def disconnect(self, rc=None, props=None, timeout=WAIT):
        if self.transport != "websockets":
            return super().disconnect(rc, props, timeout)
        deadline = time.monotonic() + timeout
        while self.c._out_packet and self.c.socket() is not None \
                and time.monotonic() < deadline:
            time.sleep(0.005)
        self._stop_loop()
        sock = self._stream_socket()
        if sock is None:
            return
        self.c._sock = None
        sock.setblocking(True)
        close_after_disconnect(sock, ws_frame(OP_BINARY, mq.disconnect(rc, props, self.version)),
                               timeout)


# --------------------------------------------------------- raw WebSocket

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_mask(payload, key):
    n = len(payload)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def ws_frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    """One WebSocket frame [RFC 6455 5.2]. Clients must mask [RFC 6455 5.3]."""
    payload = bytes(payload)
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head.append(bit | n)
    elif n < 65536:
        head.append(bit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(bit | 127)
        head += struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        head += key
        payload = ws_mask(payload, key)
    return bytes(head) + payload


def ws_close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


def read_http_head(sock, timeout=WAIT):
    """Reads up to the blank line ending an HTTP head. Returns (status line, headers
    as a dict with lower-case names, bytes read past the head)."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no complete HTTP response head within {timeout}s: "
                                 f"{bytes(data)!r}")
        r, _, _ = select.select([sock], [], [], remaining)
        if not r:
            continue
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed during the HTTP response head: "
                                 f"{bytes(data)!r}")
        data += chunk
    head, rest = bytes(data).split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, rest


class WsRawClient(RawClient):
    """RawClient over a WebSocket connection: MQTT bytes travel in binary frames.

    After the constructor, `status` and `headers` hold the server's handshake response.
    send() puts the bytes in one masked binary frame; send_frame() sends any frame.
    Control frames from the server are recorded in `control` (opcode, payload); a Close
    frame is answered (the close handshake) and ends the connection (Closed)."""

    def __init__(self, port, version=V5, path="/mqtt", protocols=("mqtt",), timeout=WAIT,
                 host=HOST, extra_headers=(), expect_upgrade=True):
        self.version = version
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()    # MQTT bytes (binary frames' payloads)
        self.wire = bytearray()   # undecoded bytes off the socket
        self.closed = False
        self.next_id = 1
        self.control = []
        self.close_frame = None   # payload of the server's Close frame
        self.text_frames = []
        self.eof = False
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        lines += list(extra_headers)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.status, self.headers, rest = read_http_head(self.sock, timeout)
        self.wire += rest
        if expect_upgrade:
            if not self.status.startswith("HTTP/1.1 101"):
                raise AssertionError(f"WebSocket upgrade refused: {self.status} {self.headers}")
            expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            if self.headers.get("sec-websocket-accept") != expected:
                raise AssertionError(f"bad Sec-WebSocket-Accept: {self.headers}")

    @property
    def subprotocol(self):
        return self.headers.get("sec-websocket-protocol")

    def send(self, data):
        self.sock.sendall(ws_frame(OP_BINARY, data))

    def try_send(self, data):
        try:
            self.send(data)
            return True
        except OSError:
            return False

    def send_frame(self, opcode, payload=b"", fin=True, mask=True):
        self.sock.sendall(ws_frame(opcode, payload, fin, mask))

    def send_bytes(self, data):
        """Exact bytes on the socket (hand-made frames)."""
        self.sock.sendall(data)

    def _read_wire(self, deadline):
        """More bytes off the socket; False at EOF."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        r, _, _ = select.select([self.sock], [], [], remaining)
        if not r:
            raise TimeoutError
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.wire += data
        return True

    def _take_frame(self):
        """(fin, opcode, payload) of the next complete frame in `wire`, or None."""
        w = self.wire
        if len(w) < 2:
            return None
        fin, opcode = bool(w[0] & 0x80), w[0] & 0x0F
        masked, n, i = bool(w[1] & 0x80), w[1] & 0x7F, 2
        if n == 126:
            if len(w) < 4:
                return None
            n, i = struct.unpack("!H", w[2:4])[0], 4
        elif n == 127:
            if len(w) < 10:
                return None
            n, i = struct.unpack("!Q", w[2:10])[0], 10
        if masked:
            # [RFC 6455 5.1]: a server must not mask; we record it and let the test fail.
            raise AssertionError("the server sent a masked frame")
        if len(w) < i + n:
            return None
        payload = bytes(w[i:i + n])
        del w[:i + n]
        return fin, opcode, payload

    def next_frame(self, timeout=WAIT):
        """The next frame, whatever it is; None when the server closed TCP."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._take_frame()
            if f is not None:
                return f
            if self.eof or not self._read_wire(deadline):
                return None

    def _fill(self, deadline):
        while True:
            f = self._take_frame()
            if f is None:
                if self.eof or not self._read_wire(deadline):
                    self.closed = True
                    raise Closed
                continue
            fin, opcode, payload = f
            if opcode in (OP_BINARY, OP_CONT):
                self.buf += payload
                return
            if opcode == OP_TEXT:
                self.text_frames.append(payload)
                continue
            self.control.append((opcode, payload))
            if opcode == OP_PING:
                self.try_send_frame(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                self.close_frame = payload
                self.try_send_frame(OP_CLOSE, payload[:2])  # close handshake [RFC 6455 5.5.1]
                self.closed = True
                raise Closed

    def try_send_frame(self, opcode, payload=b""):
        try:
            self.send_frame(opcode, payload)
            return True
        except OSError:
            return False

    def disconnect(self, rc=None, props=None, timeout=WAIT):
        frame = ws_frame(OP_BINARY, mq.disconnect(rc, props, self.version))
        close_after_disconnect(self.sock, frame, timeout)
        self.closed = True


class TlsRawClient(RawClient):
    """RawClient over TLS. A TLS alert or failed handshake counts as the connection
    closing; the error is kept in `tls_error`."""

    def __init__(self, port, context, version=V5, timeout=WAIT, host=HOST, server_hostname=None):
        self.version = version
        self.buf = bytearray()
        self.closed = False
        self.next_id = 1
        self.tls_error = None
        tcp = socket.create_connection((host, port), timeout=timeout)
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(tcp, server_hostname=server_hostname or host)

    def _fill(self, deadline):
        if not self.sock.pending():  # decrypted bytes select() cannot see
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            r, _, _ = select.select([self.sock], [], [], remaining)
            if not r:
                raise TimeoutError
        try:
            data = self.sock.recv(65536)
        except ssl.SSLWantReadError:
            return
        except (ssl.SSLError, ConnectionResetError, ConnectionAbortedError) as e:
            self.tls_error = e
            data = b""
        if not data:
            self.closed = True
            raise Closed
        self.buf += data

    def send(self, data):
        self.sock.sendall(data)


class AddrRawClient(RawClient):
    """RawClient to any address (IPv6 included), not just 127.0.0.1."""

    def __init__(self, host, port, version=V5, timeout=WAIT):
        self.version = version
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed = False
        self.next_id = 1


# --------------------------------------------------------- MQTT.js (Node)

_npm_checked = False


def ensure_node_modules():
    """node_modules from the committed lockfile (`npm ci`) if it is missing or stale.
    Serialised across processes: ctest -j may run several modules that need it."""
    global _npm_checked
    if _npm_checked:
        return
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise AssertionError("node and npm are needed for the MQTT.js tests "
                             "(Debian: apt-get install nodejs npm)")
    with open(os.path.join(tempfile.gettempdir(), "natter-it-npm-ci.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _node_modules_current():
            r = subprocess.run(["npm", "ci", "--prefix", NODE_DIR, "--ignore-scripts",
                                "--no-audit", "--no-fund"],
                               capture_output=True, text=True, timeout=300)
            if r.returncode != 0 or not _node_modules_current():
                raise AssertionError(f"npm ci --prefix {NODE_DIR} failed ({r.returncode}):\n"
                                     f"{r.stdout}\n{r.stderr}")
    _npm_checked = True


def _node_modules_current():
    try:
        with open(os.path.join(NODE_DIR, "package-lock.json")) as f:
            wanted = json.load(f)["packages"]["node_modules/mqtt"]["version"]
        with open(os.path.join(NODE_DIR, "node_modules", "mqtt", "package.json")) as f:
            return json.load(f)["version"] == wanted
    except (OSError, KeyError, ValueError):
        return False


class NodeMessage:
    """What MQTT.js received; the attributes of harness.Message."""

    def __init__(self, ev):
        self.topic = ev["topic"]
        self.payload = base64.b64decode(ev["payload"])
        self.qos = ev["qos"]
        self.retain = ev["retain"]
        self.dup = ev["dup"]
        self.props = ev.get("properties") or {}

    def __repr__(self):
        return f"<NodeMessage {self.topic!r} {self.payload[:40]!r} q{self.qos} r{int(self.retain)}>"


class NodeClient(MessageInbox):
    """An MQTT.js client in its own node process (node/wsclient.js), with the
    methods of harness.Client that the tests use: subscribe, publish, recv,
    recv_n, drain, expect_nothing, disconnect (DISCONNECT), drop (SIGKILL: the
    kernel closes the socket, no DISCONNECT, no WebSocket Close)."""

    _ids = iter(range(1, 1 << 30))

    def __init__(self, url, client_id=None, version=V5, clean=True, keepalive=60, will=None,
                 username=None, password=None, ca=None, connect=True, expect_rc=0):
        ensure_node_modules()
        self.url = url
        self.version = version
        self.client_id = client_id or f"js-{os.getpid()}-{next(self._ids)}"
        self.options = {"clientId": self.client_id, "protocolVersion": version, "clean": clean,
                        "keepalive": keepalive}
        if will:
            payload = base64.b64encode(_b(will.get("payload", b""))).decode()
            self.options["will"] = {"topic": will["topic"], "payload": payload,
                                    "qos": will.get("qos", 0), "retain": will.get("retain", False)}
        if username is not None:
            self.options["username"] = username
        if password is not None:
            self.options["password"] = base64.b64encode(_b(password)).decode()
        if ca:
            self.options["ca"] = ca
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(["node", NODE_SCRIPT], cwd=NODE_DIR, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        self.messages = queue.Queue()
        self.events = queue.Queue()   # connect, error, disconnect, close, fatal
        self.replies = {}
        self._lock = threading.Lock()
        self._cmd_ids = iter(range(1, 1 << 30))
        self.log = []
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self._event("ready")
        self.connack = None
        if connect:
            self.connect(expect_rc)

    def _read(self):
        for raw in self.proc.stdout:
            try:
                ev = json.loads(raw)
            except ValueError:
                self.log.append(("garbage", raw))
                continue
            kind = ev.get("ev")
            self.log.append(ev if kind != "message" else {"ev": "message", "topic": ev["topic"]})
            if kind == "message":
                self.messages.put(NodeMessage(ev))
            elif kind == "reply":
                with self._lock:
                    q = self.replies.setdefault(ev["id"], queue.Queue())
                q.put(ev)
            else:
                self.events.put(ev)
        self.events.put({"ev": "exit"})

    def diagnostics(self):
        self._stderr.seek(0)
        err = self._stderr.read().decode(errors="replace")
        return f"{self.client_id} ({self.url}): events {self.log[-10:]}; stderr: {err[-2000:]}"

    def _event(self, *kinds, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            try:
                ev = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {'/'.join(kinds)} event within {timeout}s: "
                                     + self.diagnostics()) from None
            if ev["ev"] in kinds:
                return ev
            if ev["ev"] in ("exit", "fatal"):
                raise AssertionError(f"MQTT.js process ended before {'/'.join(kinds)}: "
                                     + self.diagnostics())

    def _cmd(self, **cmd):
        cmd["id"] = next(self._cmd_ids)
        with self._lock:
            self.replies.setdefault(cmd["id"], queue.Queue())
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        return cmd["id"]

    def _reply(self, cid, what, timeout=WAIT):
        with self._lock:
            q = self.replies[cid]
        try:
            ev = q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no reply to {what} within {timeout}s: "
                                 + self.diagnostics()) from None
        if not ev["ok"]:
            raise AssertionError(f"{what} failed: {ev['error']}: " + self.diagnostics())
        return ev

    def connect(self, expect_rc=0, timeout=WAIT):
        self._cmd(cmd="connect", url=self.url, options=self.options)
        ev = self._event("connect", "error", "close", timeout=timeout)
        if ev["ev"] != "connect":
            if expect_rc is None:
                return ev
            raise AssertionError(f"MQTT.js did not connect: {ev}: " + self.diagnostics())
        self.connack = ev
        if expect_rc is not None and ev["reasonCode"] != expect_rc:
            raise AssertionError(f"CONNACK {ev['reasonCode']:#x}, expected {expect_rc:#x}")
        return ev

    def subscribe(self, topic, qos=0, timeout=WAIT):
        return self._reply(self._cmd(cmd="subscribe", topic=topic, qos=qos),
                           f"SUBSCRIBE {topic}", timeout)["granted"]

    def publish(self, topic, payload=b"", qos=0, retain=False, timeout=WAIT):
        self._reply(self._cmd(cmd="publish", topic=topic, qos=qos, retain=retain,
                              payload=base64.b64encode(_b(payload)).decode()),
                    f"PUBLISH {topic} q{qos}", timeout)

    def _inbox_detail(self):
        return ": " + self.diagnostics()

    def disconnect(self, timeout=WAIT):
        self._reply(self._cmd(cmd="end"), "end (DISCONNECT)", timeout)
        self._event("close", "exit", timeout=timeout)
        self.close()

    def drop(self):
        """SIGKILL the process: its socket closes with no DISCONNECT and no Close frame."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.close()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        self._stderr.close()


def _b(x):
    return x.encode() if isinstance(x, str) else bytes(x)


# ------------------------------------------------------------------ TLS PKI

class TestPKI:
    """A throw-away PKI in a temp dir, made with the openssl command line (EC P-256,
    fast): CAs, server certificates for 127.0.0.1/::1/localhost, client certificates.
    Files are world-readable: Debian's mosquitto (the reference run) reads them as
    user mosquitto."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="natter-it-pki-")
        os.chmod(self.dir, 0o755)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, *args):
        r = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=self.dir)
        if r.returncode != 0:
            raise AssertionError(f"openssl {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def _key(self, name):
        self._run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-out", self.path(name + ".key"))

    def ca(self, name, cn):
        self._key(name)
        self._run("req", "-x509", "-new", "-key", self.path(name + ".key"), "-subj", f"/CN={cn}",
                  "-days", "2", "-sha256",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                  "-addext", "subjectKeyIdentifier=hash",
                  "-out", self.path(name + ".crt"))
        self._chmod(name)
        return self.path(name + ".crt")

    def leaf(self, name, subject, ca, serial, server):
        """A certificate signed by `ca`; returns (cert path, key path)."""
        self._key(name)
        self._run("req", "-new", "-key", self.path(name + ".key"), "-subj", subject,
                  "-out", self.path(name + ".csr"))
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n")
            if server:
                f.write("keyUsage=critical,digitalSignature\n"
                        "extendedKeyUsage=serverAuth\n"
                        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n")
            else:
                f.write("keyUsage=critical,digitalSignature\n"
                        "extendedKeyUsage=clientAuth\n")
        self._run("x509", "-req", "-in", self.path(name + ".csr"), "-CA", self.path(ca + ".crt"),
                  "-CAkey", self.path(ca + ".key"), "-set_serial", serial, "-days", "2",
                  "-sha256", "-extfile", ext, "-out", self.path(name + ".crt"))
        self._chmod(name)
        return self.path(name + ".crt"), self.path(name + ".key")

    def _chmod(self, name):
        for ext in (".crt", ".key"):
            p = self.path(name + ext)
            if os.path.exists(p):
                os.chmod(p, 0o644)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def cert_fields(pem_or_path):
    """(serial in upper-case hex, subject line) of a PEM certificate."""
    args = ["openssl", "x509", "-noout", "-serial", "-subject", "-nameopt", "RFC2253"]
    if os.path.exists(pem_or_path):
        r = subprocess.run(args + ["-in", pem_or_path], capture_output=True, text=True)
    else:
        r = subprocess.run(args, input=pem_or_path, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"openssl x509 failed: {r.stderr}")
    fields = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    return fields["serial"].upper(), fields["subject"]


def s_client(port, *args, host=HOST, timeout=WAIT):
    """`openssl s_client` against port with stdin at EOF; (exit status, stdout+stderr)."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"{host}:{port}", *args],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout * 2)
    return r.returncode, r.stdout + r.stderr


def served_certificate(port, ca):
    """(serial, subject) of the certificate a new TLS connection is served."""
    rc, out = s_client(port, "-showcerts", "-CAfile", ca)
    start = out.find("-----BEGIN CERTIFICATE-----")
    end = out.find("-----END CERTIFICATE-----")
    if rc != 0 or start < 0:
        raise AssertionError(f"openssl s_client -showcerts failed ({rc}):\n{out}")
    return cert_fields(out[start:end + len("-----END CERTIFICATE-----")] + "\n")


# --------------------------------------------------------------- test base

class ListenerTest(BrokerTest):
    """BrokerTest with ListenerBrokers: `broker_ports` names the extra ports of
    `broker_config`, `broker_files` are written into the broker's dir, `bare` drops
    the harness's first lines. prepare_broker(b) runs once before the first start (to
    put other files into b.dir)."""

    broker_ports = ()
    broker_files = {}
    bare = False

    def new_broker(self, config=(), ports=None, bare=None, prepare=None, files=None):
        b = ListenerBroker(config, self.broker_ports if ports is None else ports,
                           self.bare if bare is None else bare,
                           self.broker_files if files is None else files)
        self._brokers.append(b)
        self.addCleanup(b.stop)
        (prepare or self.prepare_broker)(b)
        b.start()
        return b

    def prepare_broker(self, broker):
        pass

    def port_of(self, name, broker=None):
        b = broker or self.broker
        return b.port if name == "port" else b.ports[name]

    def paho(self, port="port", *args, broker=None, **kw):
        """PahoClient to a named port ("port": the main one)."""
        c = PahoClient(self.port_of(port, broker), *args, **kw)
        self.addCleanup(c.close)
        return c

    def ws_raw(self, port="ws", version=V5, broker=None, connect=True, path="/mqtt",
               protocols=("mqtt",), **kw):
        r = WsRawClient(self.port_of(port, broker), version, path=path, protocols=protocols)
        self.addCleanup(r.close)
        if connect:
            r.connect(**kw)
        return r

    def raw_at(self, host, port, version=V5, connect=True, **kw):
        r = AddrRawClient(host, port, version)
        self.addCleanup(r.close)
        if connect:
            r.connect(**kw)
        return r

    def node(self, url, **kw):
        c = NodeClient(url, **kw)
        self.addCleanup(c.close)
        return c


def natter_server():
    server = os.environ.get("NATTER_SERVER")
    if not server:
        raise unittest.SkipTest("set NATTER_SERVER=/path/to/natter-server")
    return server


def find_natter_passwd():
    """natter-passwd: $NATTER_PASSWD, else the one built next to $NATTER_SERVER
    (same build tree); None if neither."""
    explicit = os.environ.get("NATTER_PASSWD")
    if explicit:
        return explicit
    server = os.environ.get("NATTER_SERVER")
    if not server:
        return None
    d = os.path.dirname(os.path.abspath(server))
    for _ in range(3):
        for pattern in ("natter-passwd", "*/natter-passwd", "*/*/natter-passwd"):
            hits = [p for p in glob.glob(os.path.join(d, pattern)) if os.access(p, os.X_OK)]
            if hits:
                return sorted(hits)[0]
        d = os.path.dirname(d)
    return None


def can_bind(family, address):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
        return True
    except OSError:
        return False
