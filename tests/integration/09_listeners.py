"""`listener PORT [ADDRESS]` blocks: explicit addresses, several listeners, IPv6,
natter's loopback-only default, and `max_connections` per listener.

(No `listener` at all, local-only mode on port 1883, is not tested here: a fixed port
would clash with parallel tests.)

Run: NATTER_SERVER=... /usr/bin/python3 -m unittest -v 09_listeners
"""

import importlib
import socket
import unittest

import rawmqtt as mq
from harness import HOST, V311, WAIT, natter_only, wait_until

support = importlib.import_module("09_support")

HAVE_V6 = support.can_bind(socket.AF_INET6, "::1")
HAVE_127_0_0_2 = support.can_bind(socket.AF_INET, "127.0.0.2")


def refused(host, port):
    """True if nothing accepts TCP connections at host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(WAIT)
        try:
            s.connect((host, port))
        except ConnectionRefusedError:
            return True
        return False


class ListenerAddressTest(support.ListenerTest):
    broker_ports = ("second",)
    start_broker = False  # each test starts its own

    @unittest.skipUnless(HAVE_127_0_0_2, "127.0.0.2 is not a local address here")
    def test_explicit_address_binds_only_that_address(self):
        b = self.new_broker(["listener {second} 127.0.0.2"])
        port = b.ports["second"]
        r = self.raw_at("127.0.0.2", port, client_id="on-2")
        self.assertEqual(r.subscribe("addr/t", 0), [0])
        self.assertTrue(refused("127.0.0.1", port), "listener 127.0.0.2 also accepts on 127.0.0.1")

    def test_two_listeners_share_one_broker(self):
        b = self.new_broker(["listener {second} 127.0.0.1"])
        first = self.raw_at(HOST, b.port, client_id="first")
        second = self.raw_at(HOST, b.ports["second"], client_id="second")
        first.subscribe("two/to-first", 1)
        second.subscribe("two/to-second", 1)
        second.publish("two/to-first", b"from second", 1)
        self.assertEqual(first.recv_publish().payload, b"from second")
        first.publish("two/to-second", b"from first", 0)
        self.assertEqual(second.recv_publish().payload, b"from first")

    @unittest.skipUnless(HAVE_V6, "no IPv6 loopback here")
    def test_ipv6_loopback_listener(self):
        b = self.new_broker(["listener {second} ::1"])
        port = b.ports["second"]
        v6 = self.raw_at("::1", port, client_id="v6")
        v4 = self.raw_at(HOST, b.port, client_id="v4")
        v6.subscribe("v6/t", 1)
        v4.publish("v6/t", b"over v4", 1)
        self.assertEqual(v6.recv_publish().payload, b"over v4")
        self.assertTrue(refused("127.0.0.1", port), "listener ::1 also accepts on 127.0.0.1")

    @natter_only("natter binds loopback when the address is omitted; mosquitto binds everything")
    def test_listener_without_address_is_loopback_only(self):
        b = self.new_broker(["listener {second}"])
        port = b.ports["second"]
        self.raw_at("127.0.0.1", port, client_id="lo4").disconnect()
        if HAVE_V6:
            self.raw_at("::1", port, client_id="lo6").disconnect()
        if HAVE_127_0_0_2:
            self.assertTrue(refused("127.0.0.2", port),
                            "listener without an address accepts on 127.0.0.2 (not just loopback)")



class MaxConnectionsTest(support.ListenerTest):
    broker_ports = ("limited",)
    broker_config = ["listener {limited} 127.0.0.1", "max_connections 2"]

    def test_third_connection_refused_while_two_stay(self):
        port = self.broker.ports["limited"]
        a = self.raw_at(HOST, port, client_id="a")
        b = self.raw_at(HOST, port, V311, client_id="b")
        third = support.AddrRawClient(HOST, port)
        self.addCleanup(third.close)
        third.try_send(mq.connect("third"))
        self.assertEqual(third.wait_closed(), [], "the third connection got an answer")
        for r in (a, b):
            r.send(mq.pingreq())
            r.expect(mq.PINGRESP)
        # The limit is the listener's: the main listener still accepts.
        self.raw(client_id="elsewhere").disconnect()
        # A freed slot can be used again (the count drops once the broker sees the close).
        a.disconnect()

        def fourth_connects():
            r = support.AddrRawClient(HOST, port)
            self.addCleanup(r.close)
            r.try_send(mq.connect("fourth"))
            try:
                return r.recv_packet().type == mq.CONNACK
            except (support.Closed, TimeoutError):
                return False
        wait_until(fourth_connects, what="a connection after one of two left")


@natter_only("mosquitto 2.0.11 does not apply max_connections to websockets listeners")
class MaxConnectionsWebSocketTest(support.ListenerTest):
    broker_ports = ("ws",)
    broker_config = ["listener {ws} 127.0.0.1", "protocol websockets", "max_connections 1"]

    def test_websocket_listener_limit(self):
        first = self.ws_raw(client_id="ws-one")
        try:
            second = support.WsRawClient(self.broker.ports["ws"], expect_upgrade=False)
        except (AssertionError, OSError):
            second = None  # closed during the handshake: refused
        if second is not None:
            self.addCleanup(second.close)
            self.assertFalse(second.status.startswith("HTTP/1.1 101"),
                             f"second WebSocket accepted with max_connections 1: {second.status}")
        first.send(mq.pingreq())
        first.expect(mq.PINGRESP)


if __name__ == "__main__":
    unittest.main()
