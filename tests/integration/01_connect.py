"""CONNECT / CONNACK: return codes, sessions, takeover, client ids, keep alive.

Run: NATTER_BROKER=mosquitto /usr/bin/python3 -m unittest -v 01_connect
"""

import time
import unittest

import rawmqtt as mq
from harness import (V5, V311, VERSIONS, BrokerTest, IS_MOSQUITTO, keepalive_deadline,
                     natter_only)


def session_kw(version, expiry=60):
    """Connect kwargs for a session that outlives the connection."""
    if version == V5:
        return {"clean": False, "props": {"SessionExpiryInterval": expiry}}
    return {"clean": False}


class ConnackTest(BrokerTest):
    def test_accepted_paho(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                c = self.client(version=v)
                present, rc, _ = c.connack
                self.assertEqual(rc, 0)
                self.assertFalse(present)  # [MQTT-3.2.2-1] clean session -> 0

    def test_v5_connack_properties_are_valid(self):
        r = self.raw(V5, connect=False)
        ack = r.connect("props")
        props = ack.props
        # Values the spec forbids a server to send [MQTT-3.2.2.3].
        if "ReceiveMaximum" in props:
            self.assertGreater(props["ReceiveMaximum"], 0)
        if "MaximumQoS" in props:
            self.assertIn(props["MaximumQoS"], (0, 1))
        for flag in ("RetainAvailable", "WildcardSubscriptionAvailable",
                     "SubscriptionIdentifierAvailable", "SharedSubscriptionAvailable"):
            if flag in props:
                self.assertIn(props[flag], (0, 1))
        if "MaximumPacketSize" in props:
            self.assertGreater(props["MaximumPacketSize"], 0)
        # A client id was supplied, so none is assigned [MQTT-3.2.2-16 only for empty ids].
        self.assertNotIn("AssignedClientIdentifier", props)

    def test_unsupported_protocol_level(self):
        # [MQTT-3.1.2-2] (3.1.1): CONNACK 0x01 then close. A v5 server may
        # answer 0x84 instead; either way the connection ends.
        r = self.raw(V311, connect=False)
        r.send(mq.connect("lvl6", version=6))
        data = r.read_until_close()
        self.assertGreaterEqual(len(data), 4, f"no CONNACK before close: {data!r}")
        self.assertEqual(data[0], 0x20, f"not a CONNACK: {data!r}")
        self.assertIn(data[3], (0x01, mq.RC_UNSUPPORTED_PROTOCOL_VERSION))

    def test_username_password_accepted(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                c = self.client(version=v, username="alice", password="secret")
                self.assertEqual(c.connack[1], 0)

    def test_long_and_unicode_client_ids(self):
        # 3.1.1 lets a server accept ids beyond 23 chars [MQTT-3.1.3-5]; a
        # mosquitto drop-in must, as existing deployments use them.
        for v in VERSIONS:
            for cid in ("x" * 200, "client-äöü-日本-" + str(v)):
                with self.subTest(version=v, client_id=cid[:20]):
                    r = self.raw(v, connect=False)
                    self.assertEqual(r.connect(cid).rc, 0)
                    # The connection is usable.
                    self.assertEqual(r.subscribe("t", 1), [1])
                    r.disconnect()

    def test_unknown_authentication_method(self):
        # [MQTT-4.12.0-1]: unsupported method -> CONNACK 0x8C (or 0x87) and close.
        r = self.raw(V5, connect=False)
        ack = r.connect("auth", props={"AuthenticationMethod": "NATTER-NOPE"}, expect_rc=None)
        self.assertIn(ack.rc, (0x8C, 0x87))
        r.wait_closed()


class SessionTest(BrokerTest):
    def _check_session_kept(self, v, kw):
        pub = self.client(version=V5)
        r = self.raw(v, connect=False)
        self.assertFalse(r.connect("s1", **kw).session_present)
        self.assertEqual(r.subscribe("sess/t", 1), [1])
        r.disconnect()
        r = self.raw(v, connect=False)
        self.assertTrue(r.connect("s1", **kw).session_present)  # [MQTT-3.2.2-2]
        # The subscription is part of the session: no re-subscribe needed.
        pub.publish("sess/t", b"kept", 1)
        m = r.recv_publish()
        self.assertEqual((m.topic, m.payload, m.qos), ("sess/t", b"kept", 1))
        r.ack(m)
        r.disconnect()
        return pub

    def test_clean_session_v311(self):
        pub = self._check_session_kept(V311, {"clean": False})
        # clean session 1 discards the stored session [MQTT-3.1.2-6]...
        r = self.raw(V311, connect=False)
        self.assertFalse(r.connect("s1", clean=True).session_present)  # [MQTT-3.2.2-1]
        r.disconnect()
        # ... and leaves nothing behind when it ends.
        r = self.raw(V311, connect=False)
        self.assertFalse(r.connect("s1", clean=False).session_present)
        pub.publish("sess/t", b"gone", 1)
        r.expect_nothing()

    def test_clean_start_v5(self):
        pub = self._check_session_kept(V5, session_kw(V5))
        # Clean Start 1 discards the old session [MQTT-3.1.2-4]; with an expiry
        # the new one still outlives the connection.
        r = self.raw(V5, connect=False)
        self.assertFalse(r.connect("s1", clean=True,
                                   props={"SessionExpiryInterval": 60}).session_present)
        r.disconnect()
        r = self.raw(V5, connect=False)
        self.assertTrue(r.connect("s1", **session_kw(V5)).session_present)
        pub.publish("sess/t", b"old sub gone", 1)
        r.expect_nothing()

    def test_no_session_yet(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, connect=False)
                self.assertFalse(r.connect(f"fresh{v}", **session_kw(v)).session_present)

    def test_v5_session_expiry_zero_ends_with_connection(self):
        # No Session Expiry Interval = 0: the session ends when the network
        # connection closes [MQTT-3.1.2-23 ff.], whatever Clean Start says.
        r = self.raw(V5, connect=False)
        r.connect("e0", clean=False)
        r.subscribe("e0/t", 1)
        r.disconnect()
        r = self.raw(V5, connect=False)
        self.assertFalse(r.connect("e0", clean=False).session_present)

    def test_v5_session_expiry_interval(self):
        kw = session_kw(V5, expiry=1)
        r = self.raw(V5, connect=False)
        r.connect("e1", **kw)
        r.subscribe("e1/t", 1)
        r.disconnect()
        r = self.raw(V5, connect=False)
        self.assertTrue(r.connect("e1", **kw).session_present)  # within the 1 s
        r.disconnect()
        time.sleep(2.0)
        r = self.raw(V5, connect=False)
        self.assertFalse(r.connect("e1", **kw).session_present)  # expired

    def test_v5_session_expiry_kept_across_abnormal_close(self):
        r = self.raw(V5, connect=False)
        r.connect("ab", **session_kw(V5))
        r.subscribe("ab/t", 1)
        r.close()  # no DISCONNECT
        r = self.raw(V5, connect=False)
        self.assertTrue(r.connect("ab", **session_kw(V5)).session_present)

    def test_v5_disconnect_sets_expiry_zero(self):
        # DISCONNECT may change the interval [MQTT-3.14.2-2 allows 60 -> 0].
        r = self.raw(V5, connect=False)
        r.connect("dz", **session_kw(V5))
        r.subscribe("dz/t", 1)
        r.disconnect(0, {"SessionExpiryInterval": 0})
        r = self.raw(V5, connect=False)
        self.assertFalse(r.connect("dz", **session_kw(V5)).session_present)

    def test_v5_disconnect_extends_expiry(self):
        r = self.raw(V5, connect=False)
        r.connect("dx", **session_kw(V5, expiry=1))
        r.subscribe("dx/t", 1)
        r.disconnect(0, {"SessionExpiryInterval": 30})
        time.sleep(1.8)  # past the CONNECT's interval, within the DISCONNECT's
        r = self.raw(V5, connect=False)
        self.assertTrue(r.connect("dx", **session_kw(V5, expiry=1)).session_present)


class TakeoverTest(BrokerTest):
    def test_takeover_closes_first_connection(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                first = self.raw(v, client_id=f"dup{v}")
                second = self.raw(v, client_id=f"dup{v}")
                # [MQTT-3.1.4-2] (3.1.1) / [MQTT-3.1.4-3] (v5): the existing
                # connection is closed; v5 may be told why first.
                got = self.assertClosedWith(first, {mq.RC_SESSION_TAKEN_OVER})
                self.assertTrue(all(p.type == mq.DISCONNECT for p in got), got)
                # The new connection works.
                self.assertEqual(second.subscribe("x", 1), [1])
                second.send(mq.pingreq())
                second.expect(mq.PINGRESP)

    @natter_only("mosquitto 2.0.11 closes the old connection without DISCONNECT 0x8E")
    def test_v5_takeover_sends_disconnect_8e(self):
        first = self.raw(V5, client_id="dup-8e")
        self.raw(V5, client_id="dup-8e")
        got = first.wait_closed()
        self.assertEqual([(p.type, p.rc) for p in got],
                         [(mq.DISCONNECT, mq.RC_SESSION_TAKEN_OVER)])  # [MQTT-3.1.4-3]

    def test_takeover_resumes_session(self):
        pub = self.client(version=V5)
        for v in VERSIONS:
            with self.subTest(version=v):
                cid = f"resume{v}"
                first = self.raw(v, client_id=cid, **session_kw(v))
                first.subscribe(f"res/{v}", 1)
                second = self.raw(v, connect=False)
                self.assertTrue(second.connect(cid, **session_kw(v)).session_present)
                first.wait_closed()
                pub.publish(f"res/{v}", b"to second", 1)
                m = second.recv_publish()
                self.assertEqual(m.payload, b"to second")
                second.ack(m)

    def test_takeover_with_clean_start_discards_session(self):
        pub = self.client(version=V5)
        for v in VERSIONS:
            with self.subTest(version=v):
                cid = f"tclean{v}"
                first = self.raw(v, client_id=cid, **session_kw(v))
                first.subscribe(f"tc/{v}", 1)
                second = self.raw(v, connect=False)
                self.assertFalse(second.connect(cid, clean=True).session_present)
                first.wait_closed()
                pub.publish(f"tc/{v}", b"nobody", 1)
                second.expect_nothing()

    def test_takeover_paho(self):
        # The same with a real client library: the first one sees a disconnect.
        for v in VERSIONS:
            with self.subTest(version=v):
                a = self.client(f"paho-dup{v}", version=v)
                b = self.client(f"paho-dup{v}", version=v)
                rc = a.wait_disconnect()
                if v == V5 and not IS_MOSQUITTO:
                    self.assertEqual(rc, mq.RC_SESSION_TAKEN_OVER)
                self.assertEqual(b.subscribe("p", 1), [1])


class ClientIdTest(BrokerTest):
    def test_v5_assigned_client_identifier(self):
        r1 = self.raw(V5, connect=False)
        a1 = r1.connect("")
        r2 = self.raw(V5, connect=False)
        a2 = r2.connect("")
        id1 = a1.props.get("AssignedClientIdentifier")
        id2 = a2.props.get("AssignedClientIdentifier")
        self.assertTrue(id1, f"no Assigned Client Identifier: {a1}")  # [MQTT-3.2.2-16]
        self.assertTrue(id2)
        self.assertNotEqual(id1, id2)  # unique per client [MQTT-3.1.3-6]
        # Both connections are live and distinct sessions.
        self.assertTrue(r1.is_open())
        self.assertEqual(r1.subscribe("a", 0), [0])
        self.assertEqual(r2.subscribe("a", 0), [0])

    def test_v311_empty_client_id_clean_session(self):
        r = self.raw(V311, connect=False)
        ack = r.connect("", clean=True)  # [MQTT-3.1.3-6]
        self.assertEqual(ack.rc, 0)
        self.assertEqual(r.subscribe("e", 1), [1])

    def test_v311_empty_client_id_persistent_rejected(self):
        r = self.raw(V311, connect=False)
        r.send(mq.connect("", V311, clean=False))
        got = r.wait_closed()  # [MQTT-3.1.3-8]: CONNACK 0x02 then close
        self.assertEqual([(p.type, p.rc) for p in got], [(mq.CONNACK, 0x02)])


class KeepAliveTest(BrokerTest):
    def test_silent_client_is_closed(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"ka{v}", keepalive=1)
                start = time.monotonic()
                got = self.assertClosedWith(r, {mq.RC_KEEP_ALIVE_TIMEOUT},
                                            timeout=keepalive_deadline(1) + 1)
                elapsed = time.monotonic() - start
                self.assertGreaterEqual(elapsed, 1.0, "closed before the keep alive ran out")
                self.assertLessEqual(elapsed, keepalive_deadline(1))  # [MQTT-3.1.2-24]
                self.assertTrue(all(p.type == mq.DISCONNECT for p in got))

    def test_pingreq_keeps_connection(self):
        clients = [self.raw(v, client_id=f"ping{v}", keepalive=1) for v in VERSIONS]
        deadline = time.monotonic() + keepalive_deadline(1) + 0.5
        while time.monotonic() < deadline:
            for r in clients:
                r.send(mq.pingreq())
                r.expect(mq.PINGRESP)  # [MQTT-3.12.4-1]
            time.sleep(0.5)
        for r in clients:
            self.assertTrue(r.is_open(0.1))

    def test_any_packet_counts_as_activity(self):
        # Not only PINGREQ resets the timer [MQTT-3.1.2-24 "any Control Packet"].
        r = self.raw(V311, client_id="busy", keepalive=1)
        deadline = time.monotonic() + keepalive_deadline(1) + 0.5
        while time.monotonic() < deadline:
            r.publish("busy/t", b"x", 0)
            time.sleep(0.5)
        self.assertTrue(r.is_open(0.1))


class ServerKeepAliveTest(BrokerTest):
    broker_config = ["max_keepalive 10"]

    def test_v5_server_keep_alive(self):
        r = self.raw(V5, connect=False)
        ack = r.connect("ska", keepalive=60)
        # The server caps the client's keep alive and says so [MQTT-3.2.2-21].
        self.assertEqual(ack.props.get("ServerKeepAlive"), 10)

    def test_v5_keep_alive_within_limit(self):
        r = self.raw(V5, connect=False)
        ack = r.connect("ska5", keepalive=5)
        self.assertIn(ack.props.get("ServerKeepAlive", 5), (5,))

    def test_v311_still_accepted(self):
        # 3.1.1 has no way to tell the client; the connection is accepted.
        r = self.raw(V311, connect=False)
        self.assertEqual(r.connect("ska311", keepalive=5).rc, 0)


class ResponseInformationTest(BrokerTest):
    def test_not_sent_unless_requested(self):
        r = self.raw(V5, connect=False)
        ack = r.connect("rri0")
        self.assertNotIn("ResponseInformation", ack.props)  # [MQTT-3.1.2-28]

    @natter_only("mosquitto 2.0.11 never returns Response Information")
    def test_response_information_when_requested(self):
        r = self.raw(V5, connect=False)
        ack = r.connect("rri1", props={"RequestResponseInformation": 1})
        info = ack.props.get("ResponseInformation")
        self.assertTrue(info, f"no Response Information in {ack}")
        # It is the basis of a response topic [3.1.2.11.7], so no wildcards.
        self.assertFalse(any(ch in info for ch in "+#"), info)


if __name__ == "__main__":
    unittest.main()
