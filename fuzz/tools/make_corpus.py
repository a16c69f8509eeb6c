#!/usr/bin/python3
"""Builds the fuzz seed corpora (fuzz/corpus/<target>/) from spec examples and real traffic.

    /usr/bin/python3 fuzz/tools/make_corpus.py --server BUILD/server/app/natter-server \\
        [--passwd BUILD/server/auth/natter-passwd] [--fuzzers BUILD_FUZZ/fuzz] [--out DIR]

1. Spec examples: every control packet in MQTT 3.1.1 and 5.0 with the properties each may
   carry (tests/integration/rawmqtt.py builds them), and packets just past a rule (QoS 3,
   five-byte Remaining Length, ...), which make good starting points for mutation.
2. Real traffic: natter-server runs with a TCP and a WebSocket listener; capture_proxy.py sits
   in front of each, and paho (3.1.1, 5.0, TCP and WebSocket), mosquitto_pub/mosquitto_sub,
   MQTT.js (tests/integration/node, when installed) and raw HTTP requests go through it. Each
   recorded connection is split into packets (mqtt_v311 / mqtt_v5 by the CONNECT's level),
   kept whole for mqtt_stream, and kept as the client's bytes for http_request (WebSocket).
3. Chat payloads: one Envelope of every kind and Presence values (protocol/chat's .proto,
   compiled for Python with protoc), byte 0 saying which type as chat_payload expects.
4. Text formats: packaging/ and Mosquitto's examples (Debian's mosquitto package), password
   files written by natter-passwd and mosquitto_passwd, ACLs with probe lines.

Files are named by the SHA-1 of their content (libFuzzer's convention), so reruns add only
what is new. With --fuzzers, each corpus is then minimized with libFuzzer's -merge=1 (what
does not add coverage is dropped); without it, files are written as they are.
"""

import argparse
import glob
import gzip
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

import rawmqtt as mq  # noqa: E402
from capture_proxy import CaptureProxy  # noqa: E402

HOST = "127.0.0.1"
TARGETS = ("mqtt_v311", "mqtt_v5", "mqtt_stream", "http_request", "config", "password_file", "acl",
           "chat_payload")


class Corpus:
    def __init__(self, out):
        self.out = out
        self.count = {t: 0 for t in TARGETS}

    def add(self, target, data):
        if isinstance(data, str):
            data = data.encode()
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, hashlib.sha1(data).hexdigest())
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.count[target] += 1


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def split_packets(stream):
    """MQTT framing only: (first byte, whole packet bytes) until the bytes run out."""
    out, i = [], 0
    while i + 2 <= len(stream):
        length, mult, j = 0, 1, i + 1
        while j < len(stream) and j - i <= 4:
            b = stream[j]
            length += (b & 0x7F) * mult
            mult *= 128
            j += 1
            if not b & 0x80:
                break
        else:
            break
        if j + length > len(stream):
            break
        out.append(stream[i:j + length])
        i = j + length
    return out


def connect_level(c2s):
    pkts = split_packets(c2s)
    if not pkts or pkts[0][0] >> 4 != 1:
        return None
    p = pkts[0]
    j = 1
    while p[j] & 0x80:
        j += 1
    j += 1  # variable header: protocol name (2 + 4 bytes), then the level
    return p[j + 6] if len(p) > j + 6 else None


# ------------------------------------------------------------------ spec examples

def spec_packets(v):
    props5 = v == mq.V5
    msg_props = [("PayloadFormatIndicator", 1), ("MessageExpiryInterval", 60),
                 ("ContentType", "text/plain"), ("ResponseTopic", "reply/a"),
                 ("CorrelationData", b"\x00\x01"), ("UserProperty", ("k", "v")),
                 ("UserProperty", ("k", "v2"))] if props5 else None
    will = {"topic": "will/t", "payload": b"gone", "qos": 1, "retain": True}
    if props5:
        will["props"] = [("WillDelayInterval", 5), ("ContentType", "text/plain")]
    yield mq.connect("seed", version=v, clean=False, keepalive=30, will=will, username="alice",
                     password=b"secret",
                     props=[("SessionExpiryInterval", 3600), ("ReceiveMaximum", 20),
                            ("MaximumPacketSize", 65536), ("TopicAliasMaximum", 10),
                            ("RequestResponseInformation", 1), ("RequestProblemInformation", 0),
                            ("UserProperty", ("a", "b"))] if props5 else None)
    yield mq.connect("", version=v)
    yield mq.publish("a/b", b"hello", version=v)
    yield mq.publish("a/b", b"hello", qos=1, packet_id=1, retain=True, props=msg_props, version=v)
    yield mq.publish("a/b", b"\xff\x00", qos=2, packet_id=65535, dup=True, version=v)
    if props5:
        yield mq.publish("a/b", b"x", props=[("TopicAlias", 1)])
        yield mq.publish("", b"x", props=[("TopicAlias", 1)])
        yield mq.publish("a", b"x", props=[("SubscriptionIdentifier", 7)])
    for ack in (mq.puback, mq.pubrec, mq.pubrel, mq.pubcomp):
        yield ack(7, version=v)
        if props5:
            yield ack(7, rc=0x10 if ack in (mq.puback, mq.pubrec) else 0x92,
                      props=[("ReasonString", "why"), ("UserProperty", ("k", "v"))])
    yield mq.subscribe(2, [("a/+/c", 1), ("#", 2), ("$share/g/x", 0)], version=v,
                       props=[("SubscriptionIdentifier", 12), ("UserProperty", ("k", "v"))]
                       if props5 else None)
    if props5:
        yield mq.subscribe(3, [("a", mq.sub_options(2, no_local=True, rap=True, retain_handling=2))])
    yield mq.unsubscribe(4, ["a/+/c", "#"], version=v)
    yield mq.pingreq()
    yield mq.packet(mq.PINGRESP, 0, b"")
    yield mq.disconnect(version=v)
    if props5:
        yield mq.disconnect(0x04, props=[("SessionExpiryInterval", 0), ("ReasonString", "bye")])
        yield mq.packet(mq.AUTH, 0, b"\x18" + mq.encode_properties(
            [("AuthenticationMethod", "SCRAM"), ("AuthenticationData", b"\x01")]))
        yield mq.packet(mq.CONNACK, 0, b"\x01\x00" + mq.encode_properties(
            [("AssignedClientIdentifier", "auto-1"), ("ServerKeepAlive", 30),
             ("MaximumQoS", 1), ("RetainAvailable", 0), ("TopicAliasMaximum", 10),
             ("WildcardSubscriptionAvailable", 1), ("SharedSubscriptionAvailable", 1),
             ("SubscriptionIdentifierAvailable", 1), ("ResponseInformation", "reply/"),
             ("ServerReference", "other:1883")]))
        yield mq.packet(mq.SUBACK, 0, mq.u16(2) + b"\x00" + b"\x00\x01\x02\x80\x8f\x9e")
        yield mq.packet(mq.UNSUBACK, 0, mq.u16(4) + b"\x00" + b"\x00\x11")
    else:
        yield mq.packet(mq.CONNACK, 0, b"\x00\x00")
        yield mq.packet(mq.SUBACK, 0, mq.u16(2) + b"\x00\x01\x02\x80")
        yield mq.packet(mq.UNSUBACK, 0, mq.u16(4))
    # Just past a rule: good mutation starting points.
    yield b"\x30\xff\xff\xff\xff\x7f"              # five-byte Remaining Length
    yield b"\x30\x80\x00"                          # Remaining Length not minimal
    yield mq.packet(mq.PUBLISH, 0x06, mq.utf8("a") + mq.u16(1) + (b"\x00" if props5 else b"") + b"x")
    yield mq.publish("a/#", b"x", version=v)
    yield mq.publish(b"a/\xed\xa0\x80", b"x", version=v)
    yield mq.subscribe(1, [], version=v)
    yield mq.publish("a", b"x", 1, packet_id=0, version=v)


def add_spec(corpus):
    for v, target in ((mq.V311, "mqtt_v311"), (mq.V5, "mqtt_v5")):
        pkts = list(spec_packets(v))
        for p in pkts:
            corpus.add(target, p)
        corpus.add(target, b"".join(pkts[:6]))
        # mqtt_stream: options byte, seed byte, then a connection's worth of packets.
        session = mq.connect("s", version=v) + b"".join(pkts[2:-7])
        for opts in (b"\x00\x01", b"\x04\x02", b"\x10\x03", b"\x1d\x04"):
            corpus.add("mqtt_stream", opts + session)


# ------------------------------------------------------------------ real traffic

class Server:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="natter-corpus-")
        self.tcp, self.ws = free_port(), free_port()
        os.makedirs(os.path.join(self.dir, "www", "assets"))
        with open(os.path.join(self.dir, "www", "index.html"), "w") as f:
            f.write("<!doctype html><title>natter</title>")
        with open(os.path.join(self.dir, "www", "assets", "app-1a2b3c.js"), "w") as f:
            f.write("console.log('natter')")
        conf = os.path.join(self.dir, "natter.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.tcp} {HOST}\nlistener {self.ws} {HOST}\nprotocol websockets\n"
                    f"http_dir {self.dir}/www\nallow_anonymous true\n")
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen([binary, "-c", conf], stdout=self.log, stderr=subprocess.STDOUT)
        for port in (self.tcp, self.ws):
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection((HOST, port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise SystemExit(f"natter-server did not start; log in {self.dir}/log")
                    time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def paho_session(port, version, transport="tcp"):
    import paho.mqtt.client as paho
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    v5 = version == mq.V5
    got = []
    c = paho.Client(f"corpus-{version}-{transport}", protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
                    transport=transport)
    c.on_message = lambda cl, u, m: got.append(m)
    c.username_pw_set("alice", "pw")
    c.will_set("will/corpus", b"offline", 1, True)
    props = None
    if v5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 60
        props.TopicAliasMaximum = 5
    c.connect(HOST, port, 30, **({"properties": props} if v5 else {}))
    c.loop_start()
    time.sleep(0.2)
    c.subscribe([("corpus/#", 2), ("corpus/+/x", 1)])
    c.subscribe("$SYS/#", 0)
    for qos in (0, 1, 2):
        pp = None
        if v5:
            pp = Properties(PacketTypes.PUBLISH)
            pp.ContentType = "text/plain"
            pp.ResponseTopic = "corpus/reply"
            pp.CorrelationData = b"\x01\x02"
            pp.UserProperty = ("k", "v")
            pp.MessageExpiryInterval = 30
        c.publish(f"corpus/q{qos}", f"payload {qos}".encode(), qos, qos == 1, pp).wait_for_publish(5)
    c.publish("corpus/retained", b"", 1, True).wait_for_publish(5)
    deadline = time.monotonic() + 3
    while len(got) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    c.unsubscribe("corpus/+/x")
    time.sleep(0.2)
    c.disconnect()
    c.loop_stop()


def mosquitto_clients(port):
    for v in ("mqttv311", "mqttv5"):
        sub = subprocess.Popen(["mosquitto_sub", "-h", HOST, "-p", str(port), "-V", v, "-t",
                                "corpus/m/#", "-q", "2", "-C", "2", "-W", "5", "-i", f"sub-{v}"],
                               stdout=subprocess.DEVNULL)
        time.sleep(0.3)
        extra = ["-D", "publish", "user-property", "k", "v", "-D", "publish",
                 "content-type", "text/plain"] if v == "mqttv5" else []
        for q in ("1", "2"):
            subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(port), "-V", v, "-t",
                            f"corpus/m/{q}", "-m", f"hello {q}", "-q", q, "-r"] + extra,
                           check=False, timeout=10)
        sub.wait(10)


def mqttjs_session(ws_port):
    node_dir = os.path.join(ROOT, "tests", "integration", "node")
    if not shutil.which("node") or not os.path.isdir(os.path.join(node_dir, "node_modules")):
        print("make_corpus: MQTT.js not installed (npm ci in tests/integration/node); skipped")
        return
    import base64
    import json
    for version in (4, 5):
        p = subprocess.Popen(["node", os.path.join(node_dir, "wsclient.js")], cwd=node_dir,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def cmd(**c):
            p.stdin.write(json.dumps(c) + "\n")
            p.stdin.flush()

        def wait(ev, **match):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                line = p.stdout.readline()
                if not line:
                    return
                e = json.loads(line)
                if e.get("ev") == ev and all(e.get(k) == v for k, v in match.items()):
                    return e

        wait("ready")
        cmd(cmd="connect", url=f"ws://{HOST}:{ws_port}",
            options={"clientId": f"mqttjs-{version}", "protocolVersion": version})
        wait("connect")
        cmd(cmd="subscribe", id=1, topic="corpus/js/#", qos=1)
        wait("reply", id=1)
        cmd(cmd="publish", id=2, topic="corpus/js/a", payload=base64.b64encode(b"hi").decode(), qos=1)
        wait("reply", id=2)
        wait("message")
        cmd(cmd="end", id=3)
        wait("reply", id=3)
        p.stdin.close()
        p.wait(5)


def http_requests(port):
    reqs = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\n"
        b"HEAD /assets/app-1a2b3c.js HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /../../etc/passwd?x=1#f HTTP/1.0\r\n\r\n",
        b"GET /.hidden HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        b"PUT /y HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
    ]
    for r in reqs:
        with socket.create_connection((HOST, port), 5) as s:
            s.sendall(r)
            s.settimeout(5)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass


def add_traffic(corpus, server_binary):
    srv = Server(server_binary)
    tcp = CaptureProxy(srv.tcp)
    ws = CaptureProxy(srv.ws)
    try:
        for v in (mq.V311, mq.V5):
            paho_session(tcp.port, v)
            paho_session(ws.port, v, transport="websockets")
        mosquitto_clients(tcp.port)
        mqttjs_session(ws.port)
        http_requests(ws.port)
        time.sleep(0.5)
    finally:
        tcp.close()
        ws.close()
        srv.stop()
    for c2s, s2c in tcp.sessions:
        level = connect_level(c2s)
        target = {4: "mqtt_v311", 5: "mqtt_v5"}.get(level)
        if target is None:
            continue
        for p in split_packets(c2s) + split_packets(s2c):
            corpus.add(target, p)
        corpus.add(target, c2s)
        corpus.add("mqtt_stream", b"\x1c\x01" + c2s)   # unlimited size, pieces up to 1500
        corpus.add("mqtt_stream", b"\x00\x02" + c2s)   # one byte at a time
    for c2s, _ in ws.sessions:
        if c2s:
            corpus.add("http_request", b"\x80" + c2s)   # reads return all there is
            corpus.add("http_request", b"\x07" + c2s)   # 8 bytes per read
    print(f"make_corpus: captured {len(tcp.sessions)} TCP and {len(ws.sessions)} WebSocket "
          "connections")


# ------------------------------------------------------------------ text formats

def read_doc(name):
    for path in (f"/usr/share/doc/mosquitto/examples/{name}",
                 f"/usr/share/doc/mosquitto/examples/{name}.gz"):
        if os.path.exists(path):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                return f.read()
    return None


def add_text(corpus, passwd_binary):
    with open(os.path.join(ROOT, "packaging", "natter.conf"), "rb") as f:
        corpus.add("config", f.read())
    example = read_doc("mosquitto.conf")
    if example:
        # Mosquitto's example is every key, commented out: uncomment them one by one.
        corpus.add("config", example)
        for line in example.splitlines():
            if line.startswith(b"#") and len(line) > 2 and line[1:2].isalpha():
                corpus.add("config", b"listener 1883\n" + line[1:] + b"\n")
    for snippet in (
        "listener 1883 0.0.0.0\nprotocol websockets\nhttp_dir /var/www\nmax_connections 10\n",
        "per_listener_settings true\nlistener 1883\nallow_anonymous true\nlistener 8883\n"
        "certfile /c.pem\nkeyfile /k.pem\nrequire_certificate true\nuse_identity_as_username true\n",
        "port 1884\nbind_address 127.0.0.1\nmax_packet_size 1000\nmax_keepalive 10\n",
        "persistence true\npersistence_location /tmp/\npersistence_sync batch\n"
        "max_queued_messages 5\nmax_queued_bytes 1000\nmax_inflight_messages 2\n",
        "listener 0 /run/natter.sock\nlistener_default_bind all\nconnect_timeout 3\n"
        "max_subscriptions_per_client 10\nmessage_rate_limit 100\n",
        "\xef\xbb\xbflog_dest file /tmp/x.log\nlog_type all\nlog_timestamp_format %H\n\tsys_interval 0\n",
        "listener 1883\nmount_point m/\nmax_qos 1\nmax_topic_alias 0\nsocket_domain ipv4\n",
    ):
        corpus.add("config", snippet)

    pw_lines = [b"# users\n", b"\n"]
    if passwd_binary and os.access(passwd_binary, os.X_OK):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "pw")
            subprocess.run([passwd_binary, "-c", "-I", "1000", "-b", path, "alice", "pw"], check=True)
            subprocess.run([passwd_binary, "-H", "sha512", "-b", path, "bob", "pw2"], check=True)
            with open(path, "rb") as f:
                pw_lines += f.read().splitlines(keepends=True)
    if shutil.which("mosquitto_passwd"):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "pw")
            subprocess.run(["mosquitto_passwd", "-c", "-b", path, "carol", "pw3"], check=True,
                           stdout=subprocess.DEVNULL)
            with open(path, "rb") as f:
                pw_lines += f.read().splitlines(keepends=True)
    corpus.add("password_file", b"".join(pw_lines))
    for line in pw_lines:
        corpus.add("password_file", line)
    corpus.add("password_file", b"dave:plaintext\n  eve : $6$AAAAAAAAAAAAAAAA$x\r\n")

    with open(os.path.join(ROOT, "packaging", "acl"), "rb") as f:
        acl = f.read()
    probes = b"\0alice\nphone\nchat/alice/inbox\nchat/bob/inbox\npresence/alice/phone\nchat/#\n" \
             b"presence/+\n$SYS/broker/uptime\n#\n+/+\na//b\n"
    corpus.add("acl", acl)
    corpus.add("acl", acl + probes)
    corpus.add("acl", acl + b"\0\x01\nanon\npresence/bob\n$SYS/x\n")
    example = read_doc("aclfile.example")
    if example:
        corpus.add("acl", example + probes)
    corpus.add("acl", b"user alice/x\ntopic deny chat/+/inbox\npattern read chat/%u/#\n"
                      b"pattern write presence/%u/%c\ntopic $SYS/#\n" + probes)


# ------------------------------------------------------------------ chat payloads

def add_chat(corpus):
    proto_dir = os.path.join(ROOT, "protocol", "chat")
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={d}",
                        "natter/chat/v1/chat.proto"], check=True)
        sys.path.insert(0, d)
        from natter.chat.v1 import chat_pb2 as pb
        sys.path.remove(d)
    envelopes = [
        pb.Envelope(message=pb.ChatMessage(recipient="bob", client_msg_id="c-1", text="hi bob",
                                           sent_at_ms=1700000000000, reply_to=3)),
        pb.Envelope(message=pb.ChatMessage(recipient="al\u00efce", client_msg_id="c-2",
                                           text="\u65e5\u672c" * 100)),
        pb.Envelope(receipt=pb.Receipt(kind=pb.RECEIPT_KIND_READ, peer="bob", up_to_id=42)),
        pb.Envelope(receipt=pb.Receipt(kind=pb.RECEIPT_KIND_DELIVERED, peer="bob", up_to_id=1)),
        pb.Envelope(typing=pb.Typing(recipient="bob", active=True)),
        pb.Envelope(history_request=pb.HistoryRequest(peer="bob", before_id=100, limit=20,
                                                      request_id="r1")),
        pb.Envelope(conversations_request=pb.ConversationsRequest(request_id="r2")),
        pb.Envelope(history_response=pb.HistoryResponse(peer="bob", has_more=True)),
        pb.Envelope(conversations_response=pb.ConversationsResponse(request_id="r2")),
        pb.Envelope(message=pb.ChatMessage(recipient="chat/#", client_msg_id="x", text="bad")),
    ]
    for e in envelopes:
        corpus.add("chat_payload", b"\x01" + e.SerializeToString())
    for state in (pb.PRESENCE_STATE_ONLINE, pb.PRESENCE_STATE_AWAY, pb.PRESENCE_STATE_OFFLINE):
        p = pb.Presence(state=state, status_text="in a meeting", last_seen_ms=1700000000000,
                        device_count=2, version=7)
        corpus.add("chat_payload", b"\x00" + p.SerializeToString())
    corpus.add("chat_payload", b"\x00alice")  # valid_user_name on the raw bytes


# ------------------------------------------------------------------ merge

def merge(raw, out, fuzzers):
    for t in TARGETS:
        src = os.path.join(raw, t)
        dst = os.path.join(out, t)
        os.makedirs(dst, exist_ok=True)
        binary = os.path.join(fuzzers, f"fuzz_{t}")
        if not os.path.isdir(src):
            continue
        if not os.access(binary, os.X_OK):
            print(f"make_corpus: {binary} missing; {t} copied unminimized")
            for name in os.listdir(src):
                shutil.copy(os.path.join(src, name), dst)
            continue
        r = subprocess.run([binary, "-merge=1", dst, src], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"make_corpus: merging {t} failed:\n{r.stderr[-3000:]}")
        print(f"make_corpus: {t}: {len(os.listdir(dst))} files after merge")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--server", required=True, help="natter-server binary")
    ap.add_argument("--passwd", help="natter-passwd binary")
    ap.add_argument("--fuzzers", help="directory with the fuzz_<target> binaries (for -merge=1)")
    ap.add_argument("--out", default=os.path.join(ROOT, "fuzz", "corpus"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="natter-corpus-raw-") as raw:
        corpus = Corpus(raw if args.fuzzers else args.out)
        add_spec(corpus)
        add_traffic(corpus, args.server)
        add_text(corpus, args.passwd)
        add_chat(corpus)
        print("make_corpus: new seeds " + ", ".join(f"{t} {n}" for t, n in corpus.count.items()))
        if args.fuzzers:
            merge(raw, args.out, args.fuzzers)


if __name__ == "__main__":
    main()
