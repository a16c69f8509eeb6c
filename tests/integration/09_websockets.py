"""MQTT over WebSocket (`protocol websockets` listeners), driven by three clients:
MQTT.js (Node, tests/integration/node), paho's transport="websockets", and a raw
WebSocket client that sends exact frames.

The same scenario (subscribe, QoS 0/1/2, retained, will) must give the same result
over TCP and WebSocket; frames may split or bundle MQTT packets [MQTT-6.0.0-2]; a text
frame ends the connection [MQTT-6.0.0-1]; the subprotocol is "mqtt" [MQTT-6.0.0-3].

Run: NATTER_SERVER=... /usr/bin/python3 -m unittest -v 09_websockets
(needs node + npm: node/node_modules is installed with `npm ci` when missing).
"""

import importlib
import unittest

import rawmqtt as mq
from harness import HOST, V311, V5, natter_only

support = importlib.import_module("09_support")
OP_BINARY, OP_TEXT, OP_CONT = support.OP_BINARY, support.OP_TEXT, support.OP_CONT
OP_CLOSE, OP_PING, OP_PONG = support.OP_CLOSE, support.OP_PING, support.OP_PONG
ws_frame = support.ws_frame

MOSQUITTO_TEXT = "mosquitto 2.0.11 (libwebsockets) processes MQTT in text frames"
MOSQUITTO_CLOSE = "mosquitto 2.0.11 closes TCP without a WebSocket Close frame"
WS_CONFIG = ["listener {ws} 127.0.0.1", "protocol websockets"]


def summary(prefix, msgs):
    """What a subscriber saw, without the run's topic prefix, sorted: the spec orders
    messages per topic and QoS only [MQTT-4.6.0-6], and these are all different."""
    return sorted((m.topic[len(prefix) + 1:], bytes(m.payload), m.qos, bool(m.retain))
                  for m in msgs)


EXPECTED = sorted([("retained", b"kept", 1, False), ("q0", b"q0", 0, False),
                   ("q1", b"q1", 1, False), ("q2", b"q2", 2, False), ("will", b"gone", 1, False)])
EXPECTED_LATE = [("retained", b"kept", 1, True)]


class WebSocketTest(support.ListenerTest):
    broker_config = WS_CONFIG
    broker_ports = ("ws",)

    @property
    def ws(self):
        return self.broker.ports["ws"]

    # Client factories: make(client_id=, version=, will=) -> a connected client.
    def tcp_factory(self):
        return lambda **kw: self.paho("port", **kw)

    def paho_ws_factory(self, path):
        return lambda **kw: self.paho("ws", transport="websockets", ws_path=path, **kw)

    def mqttjs_factory(self, path):
        return lambda **kw: self.node(f"ws://{HOST}:{self.ws}{path}", **kw)

    def scenario(self, make, tag, version=V5):
        """Subscribe, retained publish, QoS 0/1/2 publishes, a will on an abrupt close,
        then a late subscriber for the retained message; all clients from `make`."""
        t = f"sc/{tag}"
        obs = make(client_id=f"{tag}-obs", version=version)
        self.assertEqual(obs.subscribe(f"{t}/#", 2), [2])
        pub = make(client_id=f"{tag}-pub", version=version)
        pub.publish(f"{t}/retained", b"kept", 1, retain=True)
        for q in (0, 1, 2):
            pub.publish(f"{t}/q{q}", f"q{q}".encode(), q)
        w = make(client_id=f"{tag}-will", version=version,
                 will={"topic": f"{t}/will", "payload": b"gone", "qos": 1})
        w.drop()
        got = summary(t, obs.recv_n(5))
        late = make(client_id=f"{tag}-late", version=version)
        self.assertEqual(late.subscribe(f"{t}/retained", 1), [1])
        got_late = summary(t, [late.recv()])
        obs.expect_nothing()
        pub.disconnect()
        return got, got_late

    def check_same_as_tcp(self, make, tag, version=V5):
        tcp = self.scenario(self.tcp_factory(), f"tcp{tag}", version)
        other = self.scenario(make, tag, version)
        self.assertEqual(tcp, (EXPECTED, EXPECTED_LATE), "TCP run")
        self.assertEqual(other, tcp, f"{tag}: WebSocket run differs from the TCP run")

    def test_paho_websocket_path_mqtt_same_as_tcp(self):
        for v in (V5, V311):
            with self.subTest(version=v):
                self.check_same_as_tcp(self.paho_ws_factory("/mqtt"), f"pws-mqtt-{v}", v)

    def test_paho_websocket_path_root_same_as_tcp(self):
        self.check_same_as_tcp(self.paho_ws_factory("/"), "pws-root")

    def test_mqttjs_default_path_same_as_tcp(self):
        # ws://host:port: MQTT.js asks for "/" and offers subprotocol "mqtt"; its ws
        # library refuses a handshake response without the subprotocol.
        for v in (V5, V311):
            with self.subTest(version=v):
                self.check_same_as_tcp(self.mqttjs_factory(""), f"js-root-{v}", v)

    def test_mqttjs_path_mqtt_same_as_tcp(self):
        self.check_same_as_tcp(self.mqttjs_factory("/mqtt"), "js-mqtt")

    def test_tcp_and_websocket_clients_exchange_both_ways(self):
        tcp = self.paho("port", client_id="tcp-side")
        js = self.node(f"ws://{HOST}:{self.ws}", client_id="js-side")
        pws = self.paho("ws", client_id="paho-ws-side", transport="websockets")
        tcp.subscribe("to/tcp", 2)
        js.subscribe("to/js", 1)
        pws.subscribe("to/pws", 1)
        big = bytes(range(256)) * 300  # 76800 bytes: 64-bit WebSocket length on the way
        for sender, dest in ((js, "to/tcp"), (pws, "to/tcp"), (tcp, "to/js"), (pws, "to/js"),
                             (tcp, "to/pws"), (js, "to/pws")):
            sender.publish(dest, f"{sender.client_id}->{dest}".encode(), 1)
        for receiver, dest, senders in ((tcp, "to/tcp", (js, pws)), (js, "to/js", (tcp, pws)),
                                        (pws, "to/pws", (tcp, js))):
            got = sorted(m.payload for m in receiver.recv_n(2))
            self.assertEqual(got, sorted(f"{s.client_id}->{dest}".encode() for s in senders))
        js.publish("to/tcp", big, 2)
        m = tcp.recv()
        self.assertEqual((m.payload, m.qos), (big, 2))
        tcp.publish("to/js", big, 1)
        m = js.recv()
        self.assertEqual((m.payload, m.qos), (big, 1))
        tcp.publish("to/pws", big, 0)
        self.assertEqual(pws.recv().payload, big)

    # ---- handshake

    def test_subprotocol_mqtt_returned(self):
        for offered in (("mqtt",), ("foo", "mqtt")):
            with self.subTest(offered=offered):
                r = self.ws_raw(protocols=offered, connect=False)
                self.assertEqual(r.subprotocol, "mqtt", r.headers)  # [MQTT-6.0.0-4]
                r.connect(client_id="sp")
                r.disconnect()

    @natter_only("mosquitto 2.0.11 answers the first it knows: mqttv3.1")
    def test_subprotocol_mqtt_preferred_over_mqttv31(self):
        r = self.ws_raw(protocols=("mqttv3.1", "mqtt"), connect=False)
        self.assertEqual(r.subprotocol, "mqtt", r.headers)  # [MQTT-6.0.0-4]

    def test_subprotocol_mqttv31_for_old_clients(self):
        r = self.ws_raw(protocols=("mqttv3.1",), connect=False)
        self.assertEqual(r.subprotocol, "mqttv3.1", r.headers)

    def test_any_path_upgrades(self):
        for path in ("/mqtt", "/", "/some/other/path?x=1"):
            with self.subTest(path=path):
                r = self.ws_raw(path=path, client_id="path")
                self.assertEqual(r.subscribe("p", 1), [1])
                r.publish("p", b"x", 0)
                self.assertEqual(r.recv_publish().payload, b"x")
                r.disconnect()

    # ---- frames

    @natter_only(MOSQUITTO_TEXT)
    def test_text_frame_closes_connection(self):
        # [MQTT-6.0.0-1]: MQTT travels in binary frames; anything else closes.
        r = self.ws_raw(client_id="text")
        r.send_frame(OP_TEXT, mq.pingreq())
        got = r.wait_closed()
        self.assertFalse([p for p in got if p.type == mq.PINGRESP], f"answered a text frame: {got}")
        sub = self.paho("port", client_id="still-up")
        self.assertEqual(sub.subscribe("t", 0), [0])

    @natter_only(MOSQUITTO_TEXT)
    def test_text_frame_before_connect_closes_connection(self):
        r = self.ws_raw(connect=False)
        r.send_frame(OP_TEXT, mq.connect("text-first"))
        got = r.wait_closed()
        self.assertEqual(got, [], "a CONNECT in a text frame was processed")

    def test_packet_split_across_frames(self):
        # [MQTT-6.0.0-2]: a packet may span WebSocket frames: here as separate
        # messages, and as one message in fragments (continuation frames).
        r = self.ws_raw(connect=False)
        connect = mq.connect("split", keepalive=30)
        for i in range(0, len(connect), 3):
            r.send_frame(OP_BINARY, connect[i:i + 3])
        self.assertEqual(r.expect(mq.CONNACK).rc, 0)
        sub = mq.subscribe(1, [("split/t", mq.sub_options(1))])
        r.send_frame(OP_BINARY, sub[:1], fin=False)
        r.send_frame(OP_CONT, sub[1:4], fin=False)
        r.send_frame(OP_CONT, sub[4:], fin=True)
        self.assertEqual(r.expect(mq.SUBACK).codes, [1])
        pub = mq.publish("split/t", b"z" * 1000, 1, packet_id=7)
        for i in range(0, len(pub), 100):
            r.send_frame(OP_BINARY if i == 0 else OP_CONT, pub[i:i + 100], fin=i + 100 >= len(pub))
        acks = [r.recv_packet(), r.recv_packet()]
        self.assertEqual(sorted(p.type for p in acks), [mq.PUBLISH, mq.PUBACK], acks)
        self.assertEqual([p.payload for p in acks if p.type == mq.PUBLISH], [b"z" * 1000])

    def test_several_packets_in_one_frame(self):
        r = self.ws_raw(connect=False)
        r.send(mq.connect("bundle") + mq.subscribe(1, [("b/t", mq.sub_options(1))])
               + mq.publish("b/t", b"one", 1, packet_id=2) + mq.pingreq())
        types = [r.recv_packet().type for _ in range(5)]
        # CONNACK and SUBACK first; PUBACK, our own PUBLISH and PINGRESP in any order.
        self.assertEqual(types[:2], [mq.CONNACK, mq.SUBACK])
        self.assertEqual(sorted(types[2:]), sorted([mq.PUBLISH, mq.PUBACK, mq.PINGRESP]))

    def test_packet_tail_and_next_packet_share_a_frame(self):
        r = self.ws_raw(client_id="tail")
        r.subscribe("tail/t", 0)
        a = mq.publish("tail/t", b"first")
        b = mq.publish("tail/t", b"second")
        r.send(a[:4])
        r.send(a[4:] + b[:2])
        r.send(b[2:])
        got = [r.recv_publish().payload, r.recv_publish().payload]
        self.assertEqual(got, [b"first", b"second"])

    def test_large_messages_both_directions(self):
        r = self.ws_raw(client_id="big")
        r.subscribe("big/t", 1)
        for size in (125, 126, 65535, 65536, 200000):  # each WebSocket length encoding
            payload = bytes([size % 251]) * size
            r.send(mq.publish("big/t", payload, 0))
            got = r.recv_publish()
            self.assertEqual((len(got.payload), got.payload[:1]), (size, payload[:1]))

    def test_ping_frame_answered_with_pong(self):
        r = self.ws_raw(client_id="ping")
        r.send_frame(OP_PING, b"hello")
        f = r.next_frame()
        self.assertEqual(f, (True, OP_PONG, b"hello"))  # [RFC 6455 5.5.2]
        r.send(mq.pingreq())
        r.expect(mq.PINGRESP)

    @natter_only("mosquitto 2.0.11 (libwebsockets) accepts unmasked client frames")
    def test_unmasked_client_frame_closes(self):
        # [RFC 6455 5.1]: the server must close a connection whose client frames are unmasked.
        r = self.ws_raw(client_id="unmasked")
        r.send_bytes(ws_frame(OP_BINARY, mq.pingreq(), mask=False))
        got = r.wait_closed()
        self.assertFalse([p for p in got if p.type == mq.PINGRESP], got)

    # ---- closing

    def close_handshake_by_client(self, tag, client_closes):
        watcher = self.paho("port", client_id=f"watch-{tag}")
        watcher.subscribe(f"{tag}/will", 1)
        r = self.ws_raw(client_id=tag, will={"topic": f"{tag}/will", "payload": b"bye", "qos": 1})
        r.send_frame(OP_CLOSE, support.ws_close_payload(1000))
        f = r.next_frame()
        self.assertIsNotNone(f, "TCP closed without answering the Close frame")
        self.assertEqual(f[1], OP_CLOSE, f)  # [RFC 6455 5.5.1]
        self.assertIsNone(r.next_frame(), "no FIN after the close handshake")
        if client_closes:
            r.close()
        # A WebSocket close is not an MQTT DISCONNECT: the will goes out.
        self.assertEqual(watcher.recv().payload, b"bye")

    def test_client_close_frame_then_socket_close_publishes_will(self):
        # What a browser does: Close frame, the server's Close and FIN, then close().
        self.close_handshake_by_client("cw1", client_closes=True)

    def test_client_close_frame_ends_connection_without_client_fin(self):
        # [RFC 6455 5.5.1]: after sending and receiving a Close frame the server MUST
        # close the TCP connection immediately, whatever the client does next; so the
        # MQTT connection is over and its will is published.
        self.close_handshake_by_client("cw2", client_closes=False)

    @natter_only(MOSQUITTO_CLOSE)
    def test_mqtt_disconnect_ends_with_close_handshake(self):
        watcher = self.paho("port", client_id="watch2")
        watcher.subscribe("cd/will", 1)
        r = self.ws_raw(client_id="polite", will={"topic": "cd/will", "payload": b"no", "qos": 1})
        r.send(mq.disconnect())
        f = r.next_frame()
        self.assertIsNotNone(f, "TCP closed without a WebSocket Close frame")
        self.assertEqual(f[1], OP_CLOSE, f)
        r.send_frame(OP_CLOSE, f[2][:2])
        self.assertIsNone(r.next_frame(), "still open after the close handshake")
        watcher.expect_nothing()

    @natter_only(MOSQUITTO_CLOSE)
    def test_server_closing_sends_disconnect_then_close(self):
        # A second CONNECT is a Protocol Error [MQTT-3.1.0-2]: DISCONNECT 0x82 (optional,
        # [MQTT-4.13.1-1]) in a binary frame, then the WebSocket Close frame.
        r = self.ws_raw(client_id="twice")
        r.send(mq.connect("twice"))
        got = r.wait_closed()
        for p in got:
            self.assertEqual((p.type, p.rc), (mq.DISCONNECT, mq.RC_PROTOCOL_ERROR), got)
        self.assertIsNotNone(r.close_frame, "connection closed without a WebSocket Close frame")

    def test_abrupt_tcp_close_publishes_will(self):
        watcher = self.paho("port", client_id="watch3")
        watcher.subscribe("ab/will", 1)
        r = self.ws_raw(client_id="abrupt", will={"topic": "ab/will", "payload": b"cut", "qos": 1})
        r.close()
        self.assertEqual(watcher.recv().payload, b"cut")


@natter_only("mosquitto 2.0.11 does not enforce max_packet_size on WebSocket clients")
class WebSocketPacketSizeTest(support.ListenerTest):
    broker_config = WS_CONFIG + ["max_packet_size 1000"]
    broker_ports = ("ws",)

    def test_packet_too_large_over_websocket(self):
        r = self.ws_raw(connect=False)
        self.assertEqual(r.connect("wsbig").props.get("MaximumPacketSize"), 1000)
        r.send(mq.publish("big", b"x" * 2000))
        self.assertClosedWith(r, {mq.RC_PACKET_TOO_LARGE})  # [MQTT-3.2.2-15]
        ok = self.ws_raw(client_id="wsfits")
        self.assertIsNone(ok.publish("fits", b"x" * 500))
        self.assertTrue(ok.is_open(0.2))


if __name__ == "__main__":
    unittest.main()
