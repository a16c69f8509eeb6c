"""Integration-test harness: start a broker, connect clients, await events.

Broker-agnostic: `NATTER_BROKER=mosquitto` runs Debian's /usr/sbin/mosquitto
(the reference behaviour), otherwise `NATTER_SERVER` names the natter-server
binary. Both are started as `BINARY -c CONFIG` with a mosquitto.conf-format file.

Run with /usr/bin/python3 (it has python3-paho-mqtt 1.6.1). Standard library
plus paho only.

Waiting rule: every wait is for an event (a message, a packet, a close) with a
short bound; the only plain sleeps are where the spec makes time the subject of
the test (keep alive, expiry, will delay) and those stay <= 2 s.
"""

import itertools
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

import rawmqtt as mq

HOST = "127.0.0.1"
IS_MOSQUITTO = os.environ.get("NATTER_BROKER") == "mosquitto"
MOSQUITTO = os.environ.get("NATTER_MOSQUITTO", "/usr/sbin/mosquitto")
# Default bound for "this should arrive": generous for a loaded CI machine,
# never reached when the broker behaves.
WAIT = float(os.environ.get("NATTER_IT_WAIT", "5"))
# Bound for "this should NOT arrive": how long we watch for an unwanted event.
QUIET = float(os.environ.get("NATTER_IT_QUIET", "0.5"))
V311, V5 = mq.V311, mq.V5
VERSIONS = (V311, V5)
# Keep alive [MQTT-3.1.2-24]: the server must close a silent client after 1.5x
# the keep alive. mosquitto 2.0.11 checks keep alives on a coarse timer
# (measured: a keepalive-1 client is closed after ~6 s), so it gets more slack.
KEEPALIVE_SLACK = 5.5 if IS_MOSQUITTO else 1.2
_SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                      "ThreadSanitizer", "runtime error:")


def natter_only(reason):
    """Skip under mosquitto only: a behaviour the spec allows or requires that
    mosquitto 2.0.11 does not implement but natter-server does. Under natter the
    test runs (and counts) like any other."""
    return unittest.skipIf(IS_MOSQUITTO, f"natter_only: {reason}")


def keepalive_deadline(keepalive):
    """Latest time after its last packet by which a silent client must be closed."""
    return 1.5 * keepalive + KEEPALIVE_SLACK


def spec_rcs(spec, mosquitto=()):
    """Allowed reason codes: the spec's, plus (only when the reference broker
    runs) the ones mosquitto 2.0.11 sends instead. natter must send the spec's."""
    return set(spec) | (set(mosquitto) if IS_MOSQUITTO else set())


def broker_name():
    return "mosquitto" if IS_MOSQUITTO else "natter-server"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _process_tree(pid):
    """pid and its descendants (Linux /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def _listening(pid, port):
    """Whether process pid (not some other test's broker) listens on port.
    Linux /proc; elsewhere, whether anything accepts connections there."""
    try:
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(f"socket:[{fields[9]}]")  # 0A: LISTEN
        if not inodes:
            return False
        for p in _process_tree(pid):  # a wrapper script's child may own it
            fd_dir = f"/proc/{p}/fd"
            try:
                fds = os.listdir(fd_dir)
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(os.path.join(fd_dir, fd)) in inodes:
                        return True
                except OSError:
                    pass
        return False
    except OSError:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return True
        except OSError:
            return False


def wait_until(predicate, timeout=WAIT, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ------------------------------------------------------------------- broker

class Broker:
    """One broker process on a free loopback port. Usable as a context manager;
    restart() keeps the port and the temp dir (so persistence files survive)."""

    def __init__(self, config=(), port=None):
        self.config = list(config)
        self._fixed_port = port is not None
        self.port = port or free_port()
        self.host = HOST
        self.dir = tempfile.mkdtemp(prefix="natter-it-")
        # Run as root, mosquitto drops to user 'mosquitto': let it write its
        # persistence files here.
        os.chmod(self.dir, 0o777)
        self.conf_path = os.path.join(self.dir, "broker.conf")
        self.log_path = os.path.join(self.dir, "broker.log")
        self.proc = None
        self._log = None
        self.runs = 0

    def command(self):
        if IS_MOSQUITTO:
            return [MOSQUITTO, "-c", self.conf_path]
        server = os.environ.get("NATTER_SERVER")
        if not server:
            raise unittest.SkipTest("set NATTER_SERVER=/path/to/natter-server or NATTER_BROKER=mosquitto")
        if not os.access(server, os.X_OK):
            raise AssertionError(f"NATTER_SERVER={server} is not an executable (not built yet?)")
        return [server, "-c", self.conf_path]

    def write_config(self):
        lines = [f"listener {self.port} {HOST}", "allow_anonymous true"]
        if IS_MOSQUITTO:
            # Reference runs: log everything to stderr so a failure shows why.
            lines += ["log_dest stderr", "log_type all"]
        lines += [line.replace("{dir}", self.dir) for line in self.config]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10.0):
        # A port from free_port() can be taken by a parallel test process
        # before the broker binds it; then the broker exits and we try another
        # port. restart() keeps the port: clients must find the broker again.
        attempts = 1 if (self._fixed_port or self.runs) else 3
        for _ in range(attempts):
            if self._launch(timeout):
                return self
            if attempts > 1:
                self.port = free_port()
        proc, self.proc = self.proc, None
        raise AssertionError(f"broker exited with {proc.returncode} at startup\n"
                             + self.log_excerpt())

    def _launch(self, timeout):
        """Start the process; True once it listens on self.port, False if it exits."""
        command = self.command()
        self.write_config()
        self._log = open(self.log_path, "ab")
        self.runs += 1
        self._log.write(f"==== run {self.runs}: {' '.join(command)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.dir)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self._log.close()
                return False
            if _listening(self.proc.pid, self.port):
                return True
            if time.monotonic() > deadline:
                raise AssertionError(f"broker did not listen on {self.port} in {timeout}s\n"
                                     + self.log_excerpt())
            time.sleep(0.02)

    def stop(self, timeout=10.0, check=True):
        """SIGTERM, then SIGKILL after timeout. With check, a crash, a non-zero
        exit, a hang or a sanitizer report fails the test."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        problems = []
        if proc.poll() is not None:
            problems.append(f"broker died during the test (exit {proc.returncode})")
        else:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                problems.append(f"broker ignored SIGTERM for {timeout}s")
            else:
                if proc.returncode != 0:
                    problems.append(f"broker exited with {proc.returncode} after SIGTERM")
        self._log.close()
        text = self.log()
        for marker in _SANITIZER_MARKERS:
            if marker in text:
                problems.append(f"sanitizer report ({marker}) in broker output")
                break
        if check and problems:
            raise AssertionError("; ".join(problems) + "\n" + self.log_excerpt())

    def restart(self):
        self.stop()
        self.start()

    def kill(self):
        """SIGKILL (simulated crash); the next start() reuses the port."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self._log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_excerpt(self, limit=20000):
        text = self.log()
        if len(text) > limit:
            text = "...\n" + text[-limit:]
        return f"---- {broker_name()} log ({self.log_path}) ----\n{text}---- end of log ----"

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop(check=False)
            self.cleanup()
            raise

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop(check=exc_type is None)
        finally:
            if exc_type is not None:
                print(self.log_excerpt(), file=sys.stderr)
            self.cleanup()
        return False


# ------------------------------------------------------------- paho client

class Message:
    """What a paho subscriber received, with v5 properties as a plain dict
    (UserProperty: list of (k, v) pairs, SubscriptionIdentifier: list)."""

    def __init__(self, m):
        self.topic = m.topic
        self.payload = m.payload
        self.qos = m.qos
        self.retain = bool(m.retain)
        self.dup = bool(m.dup)
        self.mid = m.mid
        self.props = props_to_dict(getattr(m, "properties", None))
        self.time = time.monotonic()

    def __repr__(self):
        return (f"<Message {self.topic!r} {self.payload[:40]!r} q{self.qos} "
                f"r{int(self.retain)} {self.props}>")


def props_to_dict(p):
    if p is None:
        return {}
    out = {}
    for name in mq.PROPERTY_IDS:
        if hasattr(p, name):
            v = getattr(p, name)
            if name == "UserProperty":
                v = [tuple(x) for x in v]
            out[name] = v
    return out


def make_props(packet_type, d):
    if not d:
        return None
    p = Properties(packet_type)
    for k, v in d.items():
        setattr(p, k, v)
    return p


class MessageInbox:
    """recv/recv_n/drain/expect_nothing over self.messages (a queue.Queue that a client's
    receive loop fills), shared by every client wrapper. _inbox_detail() adds what a
    failure message should show about the client."""

    def _inbox_detail(self):
        return ""

    def recv(self, timeout=WAIT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.client_id}: no message within {timeout}s"
                                 + self._inbox_detail()) from None

    def recv_n(self, n, timeout=WAIT):
        """n messages, the whole batch within timeout."""
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            try:
                out.append(self.messages.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"{self.client_id}: got {len(out)} of {n} messages "
                                     f"within {timeout}s: {out[-3:]}"
                                     + self._inbox_detail()) from None
        return out

    def drain(self, quiet=QUIET):
        """Everything that arrives until nothing has come for `quiet` seconds."""
        out = []
        while True:
            try:
                out.append(self.messages.get(timeout=quiet))
            except queue.Empty:
                return out

    def expect_nothing(self, quiet=QUIET):
        try:
            m = self.messages.get(timeout=quiet)
        except queue.Empty:
            return
        raise AssertionError(f"{self.client_id}: unexpected message {m}")


class Client(MessageInbox):
    """A paho client driven by our own loop thread (not loop_start: paho's
    loop_forever reconnects on its own, which would fight takeover tests).

    Everything received lands in queues; tests await them with bounded waits.
    """

    _ids = itertools.count(1)

    def __init__(self, port, client_id=None, version=V5, clean=True, keepalive=60,
                 session_expiry=None, will=None, props=None, username=None,
                 password=None, connect=True, expect_rc=0):
        self.port = port
        self.version = version
        self.client_id = client_id if client_id is not None else \
            f"it-{os.getpid()}-{next(self._ids)}-{uuid.uuid4().hex[:6]}"
        proto = paho.MQTTv5 if version == V5 else paho.MQTTv311
        kwargs = {"protocol": proto}
        if version != V5:
            kwargs["clean_session"] = clean
        self._clean = clean
        self.c = paho.Client(self.client_id, **kwargs)
        self.c.enable_logger(None)
        self.c.suppress_exceptions = False
        self.messages = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.unsubacks = queue.Queue()
        self.disconnects = queue.Queue()
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.messages.put(Message(m))
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        self.c.on_disconnect = self._on_disconnect
        if username is not None:
            self.c.username_pw_set(username, password)
        if will is not None:
            self.c.will_set(will["topic"], will.get("payload", b""), will.get("qos", 0),
                            will.get("retain", False),
                            make_props(PacketTypes.WILLMESSAGE, will.get("props")))
        self.keepalive = keepalive
        self.session_expiry = session_expiry
        self.connect_props = dict(props or {})
        self._running = False
        self._thread = None
        self.connack = None
        if connect:
            self.connect(expect_rc=expect_rc)

    # paho callbacks (called on our loop thread)
    def _on_connect(self, c, u, flags, rc, props=None):
        rc = rc.value if hasattr(rc, "value") else rc
        self.connacks.put((bool(flags.get("session present")), rc, props_to_dict(props)))

    def _on_subscribe(self, c, u, mid, granted, props=None):
        self.subacks.put((mid, [g.value if hasattr(g, "value") else g for g in granted]))

    def _on_unsubscribe(self, c, u, mid, props=None, codes=None):
        if codes is None:
            codes = []
        elif not isinstance(codes, list):
            codes = [codes]
        self.unsubacks.put((mid, [x.value if hasattr(x, "value") else x for x in codes]))

    def _on_disconnect(self, c, u, rc, props=None):
        rc = rc.value if hasattr(rc, "value") else rc
        self.disconnects.put(rc)

    def _loop(self):
        while self._running:
            try:
                rc = self.c.loop(0.02)
            except (OSError, ValueError):
                # The socket was closed under paho (drop(), or the broker
                # closing while paho's select was running).
                rc = -1
            if rc != 0:
                time.sleep(0.01)

    def connect(self, clean=None, expect_rc=0, timeout=WAIT):
        """(Re)connect; returns (session_present, rc, props) of the CONNACK."""
        if clean is not None:
            self._clean = clean
            if self.version != V5:
                self.c._clean_session = clean
        kwargs = {}
        if self.version == V5:
            props = dict(self.connect_props)
            if self.session_expiry is not None:
                props["SessionExpiryInterval"] = self.session_expiry
            kwargs["clean_start"] = self._clean
            kwargs["properties"] = make_props(PacketTypes.CONNECT, props)
        self._stop_loop()  # paho is not safe against a reconnect racing loop()
        self.c.connect(HOST, self.port, self.keepalive, **kwargs)
        self._running = True
        self._thread = threading.Thread(target=self._loop, daemon=True)
        # Without a loop_start() thread paho's publish() writes to the socket
        # from the caller's thread, racing our loop thread (reordered or
        # interleaved packets). Claiming the thread makes it only queue.
        self.c._thread = self._thread
        self._thread.start()
        try:
            self.connack = self.connacks.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.client_id}: no CONNACK within {timeout}s")
        if expect_rc is not None and self.connack[1] != expect_rc:
            raise AssertionError(f"{self.client_id}: CONNACK rc {self.connack[1]:#x}, "
                                 f"expected {expect_rc:#x}")
        return self.connack

    @property
    def session_present(self):
        return self.connack[0]

    def subscribe(self, topic, qos=0, no_local=False, rap=False, retain_handling=0,
                  sub_id=None, props=None, timeout=WAIT):
        """topic: a filter or a list of (filter, qos). Returns the SUBACK codes."""
        p = dict(props or {})
        if sub_id is not None:
            p["SubscriptionIdentifier"] = sub_id
        if self.version == V5:
            if isinstance(topic, list):
                arg = [(t, SubscribeOptions(q, no_local, rap, retain_handling)) for t, q in topic]
                rc, mid = self.c.subscribe(arg, properties=make_props(PacketTypes.SUBSCRIBE, p))
            else:
                rc, mid = self.c.subscribe(topic, options=SubscribeOptions(
                    qos, no_local, rap, retain_handling),
                    properties=make_props(PacketTypes.SUBSCRIBE, p))
        else:
            rc, mid = self.c.subscribe(topic, qos)
        if rc != 0:
            raise AssertionError(f"subscribe failed locally rc={rc}")
        return self._await(self.subacks, mid, timeout, "SUBACK")

    def unsubscribe(self, topic, timeout=WAIT):
        rc, mid = self.c.unsubscribe(topic)
        if rc != 0:
            raise AssertionError(f"unsubscribe failed locally rc={rc}")
        return self._await(self.unsubacks, mid, timeout, "UNSUBACK")

    def _await(self, q, mid, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            try:
                got_mid, codes = q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{self.client_id}: no {what} within {timeout}s")
            if got_mid == mid:
                return codes

    def publish(self, topic, payload=b"", qos=0, retain=False, props=None, wait=True,
                timeout=WAIT):
        info = self.c.publish(topic, payload, qos, retain,
                              make_props(PacketTypes.PUBLISH, props) if self.version == V5 else None)
        if info.rc != 0:
            raise AssertionError(f"publish failed locally rc={info.rc}")
        if wait:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise AssertionError(f"{self.client_id}: publish to {topic} not acknowledged "
                                     f"within {timeout}s")
        return info

    def wait_disconnect(self, timeout=WAIT):
        """rc of the disconnect paho saw (v5: the server's DISCONNECT reason code,
        or a paho error number if the socket just closed)."""
        try:
            return self.disconnects.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.client_id}: still connected after {timeout}s") from None

    def disconnect(self, rc=None, props=None, timeout=WAIT):
        """Normal DISCONNECT (v5: with reason code rc and properties), then wait
        for the broker to close the connection. After that the broker has
        processed everything this client sent, so the test's next step (a
        publish by another client, a reconnect) cannot overtake the DISCONNECT.
        paho would close its socket at once, so the DISCONNECT is sent here."""
        # First let paho write what it queued (PUBACKs for received messages).
        deadline = time.monotonic() + timeout
        while self.c._out_packet and self.c.socket() is not None \
                and time.monotonic() < deadline:
            time.sleep(0.005)
        self._stop_loop()
        sock = self.c.socket()
        if sock is None:
            return
        self.c._sock = None
        sock.setblocking(True)
        close_after_disconnect(sock, mq.disconnect(rc, props, self.version), timeout)

    def drop(self):
        """Abnormal disconnect: close the socket without sending DISCONNECT."""
        self._stop_loop()
        sock = self.c.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.c._sock = None

    def _stop_loop(self):
        self._running = False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)
        self._thread = None
        self.c._thread = None

    def close(self):
        """Cleanup: leave quietly whatever state we are in."""
        if self._running:
            try:
                self.c.disconnect()
            except Exception:
                pass
            time.sleep(0.01)
            self._stop_loop()
        try:
            sock = self.c.socket()
            if sock is not None:
                sock.close()
        except Exception:
            pass


def _reason(rc):
    from paho.mqtt.reasoncodes import ReasonCodes
    r = ReasonCodes(PacketTypes.DISCONNECT)
    r.value = rc
    return r


def close_after_disconnect(sock, packet, timeout=WAIT):
    """Send DISCONNECT, half-close, and wait (bounded) until the broker closes
    its side [MQTT-3.14.4-1 ff.]; whatever it still sends is discarded."""
    try:
        sock.sendall(packet)
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break  # the broker SHOULD close; don't fail on it here
            r, _, _ = select.select([sock], [], [], remaining)
            if r and not sock.recv(65536):
                break
    except OSError:
        pass
    finally:
        sock.close()


# --------------------------------------------------------------- raw client

class Closed(Exception):
    pass


class RawClient:
    """A socket speaking bytes: send exact packets, read decoded replies."""

    def __init__(self, port, version=V5, timeout=WAIT):
        self.version = version
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed = False
        self.next_id = 1

    def send(self, data):
        self.sock.sendall(data)

    def try_send(self, data):
        """send that tolerates the peer having closed already."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def _fill(self, deadline):
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
            self.closed = True
            raise Closed
        self.buf += data

    def recv_packet(self, timeout=WAIT):
        """Next packet. Raises TimeoutError, or Closed if the broker closed."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            if self.closed:
                raise Closed
            self._fill(deadline)

    def _parse(self):
        if len(self.buf) < 2:
            return None
        mult, length, i = 1, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
            if i > 4:
                raise mq.DecodeError("remaining length longer than 4 bytes")
        if len(self.buf) < i + length:
            return None
        first = self.buf[0]
        body = bytes(self.buf[i:i + length])
        del self.buf[:i + length]
        return mq.decode(first >> 4, first & 0x0F, body, self.version)

    def expect(self, ptype, timeout=WAIT):
        """Next packet, which must be of type ptype."""
        try:
            p = self.recv_packet(timeout)
        except TimeoutError:
            raise AssertionError(f"no {mq.TYPE_NAMES[ptype]} within {timeout}s") from None
        except Closed:
            raise AssertionError(f"connection closed while waiting for {mq.TYPE_NAMES[ptype]}") from None
        if p.type != ptype:
            raise AssertionError(f"expected {mq.TYPE_NAMES[ptype]}, got {p}")
        return p

    def expect_nothing(self, quiet=QUIET):
        try:
            p = self.recv_packet(quiet)
        except TimeoutError:
            return
        except Closed:
            raise AssertionError("connection closed unexpectedly") from None
        raise AssertionError(f"unexpected packet {p}")

    def wait_closed(self, timeout=WAIT):
        """Read until the broker closes; returns the packets it sent first.
        Fails if the connection is still open after timeout."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            try:
                got.append(self.recv_packet(max(0.0, deadline - time.monotonic())))
            except Closed:
                return got
            except TimeoutError:
                raise AssertionError(f"connection still open after {timeout}s; "
                                     f"received {got}") from None

    def read_until_close(self, timeout=WAIT):
        """All raw bytes the broker sends until it closes (no decoding)."""
        deadline = time.monotonic() + timeout
        data = bytes(self.buf)
        self.buf.clear()
        while not self.closed:
            try:
                self._fill(deadline)
            except Closed:
                break
            except TimeoutError:
                raise AssertionError(f"connection still open after {timeout}s") from None
            data += bytes(self.buf)
            self.buf.clear()
        return data

    def is_open(self, quiet=QUIET):
        try:
            self.recv_packet(quiet)
        except TimeoutError:
            return True
        except Closed:
            return False
        return True

    def connect(self, client_id="", clean=True, keepalive=60, props=None, will=None,
                username=None, password=None, expect_rc=0, **kw):
        self.send(mq.connect(client_id, self.version, clean, keepalive, props, will,
                             username, password, **kw))
        p = self.expect(mq.CONNACK)
        if expect_rc is not None and p.rc != expect_rc:
            raise AssertionError(f"CONNACK rc {p.rc:#x}, expected {expect_rc:#x}: {p}")
        return p

    def pid(self):
        n = self.next_id
        self.next_id = self.next_id % 65535 + 1
        return n

    def subscribe(self, topic, qos=0, props=None, **opts):
        """One filter; opts are sub_options (no_local, rap, retain_handling).
        Returns the SUBACK codes."""
        pid = self.pid()
        options = mq.sub_options(qos, **opts) if self.version == V5 else qos
        self.send(mq.subscribe(pid, [(topic, options)], props, self.version))
        p = self.expect(mq.SUBACK)
        if p.packet_id != pid:
            raise AssertionError(f"SUBACK for {p.packet_id}, expected {pid}")
        return p.codes

    def publish(self, topic, payload=b"", qos=0, retain=False, props=None, packet_id=None,
                dup=False):
        """Sends PUBLISH and completes the QoS flow; returns the ack packet (or None)."""
        pid = packet_id if packet_id is not None else (self.pid() if qos else None)
        self.send(mq.publish(topic, payload, qos, retain, dup, pid, props, self.version))
        if qos == 1:
            ack = self.expect(mq.PUBACK)
            assert ack.packet_id == pid, ack
            return ack
        if qos == 2:
            rec = self.expect(mq.PUBREC)
            assert rec.packet_id == pid, rec
            self.send(mq.pubrel(pid, version=self.version))
            comp = self.expect(mq.PUBCOMP)
            assert comp.packet_id == pid, comp
            return rec
        return None

    def recv_publish(self, timeout=WAIT):
        return self.expect(mq.PUBLISH, timeout)

    def ack(self, p):
        """Acknowledge a received PUBLISH the way a well-behaved client does."""
        if p.qos == 1:
            self.send(mq.puback(p.packet_id, version=self.version))
        elif p.qos == 2:
            self.send(mq.pubrec(p.packet_id, version=self.version))
            rel = self.expect(mq.PUBREL)
            assert rel.packet_id == p.packet_id, rel
            self.send(mq.pubcomp(p.packet_id, version=self.version))

    def disconnect(self, rc=None, props=None, timeout=WAIT):
        """DISCONNECT, then wait for the broker to close (see Client.disconnect)."""
        close_after_disconnect(self.sock, mq.disconnect(rc, props, self.version), timeout)
        self.closed = True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- test base

class BrokerTest(unittest.TestCase):
    """Each test gets its own broker (so files and tests are independent and
    topics need not be unique). Clients made through self.client()/self.raw()
    are closed before the broker is stopped; a broker crash or sanitizer report
    fails the test, and on any failure the broker log is printed."""

    broker_config = ()
    start_broker = True

    def setUp(self):
        self._brokers = []
        self.broker = self.new_broker(self.broker_config) if self.start_broker else None

    def new_broker(self, config=()):
        b = Broker(config)
        self._brokers.append(b)  # run() removes its temp dir, even if start fails
        self.addCleanup(b.stop)
        b.start()
        return b

    @property
    def port(self):
        return self.broker.port

    def client(self, *args, broker=None, **kw):
        c = Client((broker or self.broker).port, *args, **kw)
        self.addCleanup(c.close)
        return c

    def raw(self, version=V5, broker=None, connect=True, **kw):
        """A RawClient; with connect=True it is connected (kw go to connect)."""
        r = RawClient((broker or self.broker).port, version)
        self.addCleanup(r.close)
        if connect:
            r.connect(**kw)
        return r

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before:
                for b in self._brokers_or_empty():
                    print("\n" + b.log_excerpt(), file=sys.stderr)
            for b in self._brokers_or_empty():
                b.cleanup()

    def _brokers_or_empty(self):
        return getattr(self, "_brokers", [])

    # ---- assertion helpers
    def assertPayloads(self, msgs, expected):
        self.assertEqual([m.payload for m in msgs], [
            e.encode() if isinstance(e, str) else e for e in expected])

    def assertClosedWith(self, raw, allowed_rcs, timeout=WAIT):
        """The broker closes raw's connection. If raw is v5 and the broker sends
        a DISCONNECT first, its reason code must be one of allowed_rcs (the
        spec's named code(s)); a plain close is accepted too, as the spec makes
        the DISCONNECT optional ('MAY send', [MQTT-4.13.1-1])."""
        got = raw.wait_closed(timeout)
        for p in got:
            if p.type == mq.DISCONNECT:
                self.assertEqual(raw.version, V5, f"DISCONNECT sent to a v3.1.1 client: {p}")
                self.assertIn(p.rc, allowed_rcs, f"DISCONNECT reason {p.rc:#x}, "
                              f"expected one of {[hex(x) for x in allowed_rcs]}")
            elif p.type == mq.CONNACK:
                self.assertGreaterEqual(p.rc, 0x80 if raw.version == V5 else 1, p)
                if raw.version == V5:
                    self.assertIn(p.rc, allowed_rcs, f"CONNACK reason {p.rc:#x}")
            else:
                self.fail(f"unexpected {p} before close")
        return got
