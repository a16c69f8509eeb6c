"""Will messages: when they are published (and when not), delay, retain, QoS,
properties.

Run: NATTER_BROKER=mosquitto /usr/bin/python3 -m unittest -v 05_will
"""

import time
import unittest

import rawmqtt as mq
from harness import V5, V311, VERSIONS, BrokerTest, keepalive_deadline


class WillTest(BrokerTest):
    def setUp(self):
        super().setUp()
        self.watch = self.client(version=V5)
        self.watch.subscribe("will/#", 2)

    def will(self, v, **kw):
        w = {"topic": f"will/{v}", "payload": f"gone {v}".encode(), "qos": 1}
        w.update(kw)
        return w

    def assertWill(self, v, qos=1, timeout=None, **kw):
        m = self.watch.recv(**({"timeout": timeout} if timeout else {}))
        self.assertEqual((m.topic, m.payload, m.qos, m.retain),
                         (f"will/{v}", f"gone {v}".encode(), qos, False))
        return m

    def test_abnormal_close(self):
        # [MQTT-3.1.2-8]: network connection closed without DISCONNECT.
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"ab{v}", will=self.will(v))
                r.close()
                self.assertWill(v)
                self.watch.expect_nothing(0.2)

    def test_abnormal_close_paho(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                c = self.client(version=v, will={"topic": f"will/{v}",
                                                 "payload": f"gone {v}".encode(), "qos": 2})
                c.drop()
                self.assertWill(v, qos=2)

    def test_keep_alive_timeout(self):
        self.silent = [self.raw(v, client_id=f"ka{v}", keepalive=1, will=self.will(v))
                   for v in VERSIONS]
        got = self.watch.recv_n(2, timeout=keepalive_deadline(1) + 1)
        self.assertEqual(sorted(m.topic for m in got), ["will/4", "will/5"])

    def test_not_on_normal_disconnect(self):
        # [MQTT-3.1.2-10] / [MQTT-3.14.4-3]: DISCONNECT deletes the will.
        for v in VERSIONS:
            r = self.raw(v, client_id=f"nd{v}", will=self.will(v))
            r.disconnect(0 if v == V5 else None)
        c = self.client(version=V5, will=self.will("paho"))
        c.disconnect()
        self.watch.expect_nothing(1.0)

    def test_v5_disconnect_with_will_message(self):
        r = self.raw(V5, client_id="dww", will=self.will(5))
        r.disconnect(mq.RC_DISCONNECT_WITH_WILL)  # 0x04 [3.14.2.1]
        self.assertWill(5)

    def test_v5_invalid_disconnect_publishes_will(self):
        # A DISCONNECT that sets a Session Expiry Interval when CONNECT had
        # none is a Protocol Error [MQTT-3.14.2-2], not a normal disconnect.
        r = self.raw(V5, client_id="baddisc", will=self.will(5))
        r.send(mq.disconnect(0, {"SessionExpiryInterval": 30}))
        self.assertClosedWith(r, {mq.RC_PROTOCOL_ERROR})
        self.assertWill(5)

    def test_protocol_error_publishes_will(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"pe{v}", will=self.will(v))
                r.send(mq.publish("bad/+", b"x", version=v))  # [MQTT-3.3.2-2]
                r.wait_closed()
                self.assertWill(v)

    def test_takeover_publishes_will(self):
        # v5 [MQTT-3.1.4-3] 'If the existing Client has a Will Message, it is
        # published'; 3.1.1: the server closes the old connection without a
        # DISCONNECT from it, so the will goes too (mosquitto agrees).
        for v in VERSIONS:
            with self.subTest(version=v):
                first = self.raw(v, client_id=f"to{v}", will=self.will(v))
                self.raw(v, client_id=f"to{v}")
                first.wait_closed()
                self.assertWill(v)

    def test_will_qos(self):
        for q in (0, 1, 2):
            with self.subTest(qos=q):
                r = self.raw(V5, client_id=f"wq{q}", will=self.will(5, qos=q))
                r.close()
                self.assertWill(5, qos=q)  # watcher granted 2: min(q, 2)

    def test_will_qos_downgraded_to_subscription(self):
        w0 = self.client(version=V311)
        w0.subscribe("will/#", 0)
        self.raw(V311, client_id="wd", will=self.will(4, qos=2)).close()
        self.assertEqual(w0.recv().qos, 0)
        self.assertWill(4, qos=2)

    def test_will_retain(self):
        r = self.raw(V311, client_id="wr", will=self.will(4, retain=True))
        r.close()
        live = self.assertWill(4)
        self.assertFalse(live.retain)
        for v in VERSIONS:
            later = self.client(version=v)
            later.subscribe("will/4", 1)
            m = later.recv()  # [MQTT-3.1.2-17]: stored as a retained message
            self.assertEqual((m.payload, m.retain), (b"gone 4", True))

    def test_empty_will_payload(self):
        r = self.raw(V5, client_id="we", will={"topic": "will/empty", "payload": b""})
        r.close()
        m = self.watch.recv()
        self.assertEqual((m.topic, m.payload), ("will/empty", b""))

    def test_v5_will_properties(self):
        props = {"ContentType": "text/plain", "ResponseTopic": "will/resp",
                 "CorrelationData": b"\x01\x02", "PayloadFormatIndicator": 1,
                 "UserProperty": [("who", "me"), ("why", "crash")],
                 "MessageExpiryInterval": 60}
        r = self.raw(V5, client_id="wp", will=self.will(5, props=props))
        r.close()
        m = self.assertWill(5)
        for k in ("ContentType", "ResponseTopic", "CorrelationData",
                  "PayloadFormatIndicator", "UserProperty"):
            self.assertEqual(m.props.get(k), props[k], k)
        self.assertLessEqual(m.props.get("MessageExpiryInterval", 99), 60)


class WillDelayTest(BrokerTest):
    def setUp(self):
        super().setUp()
        self.watch = self.client(version=V5)
        self.watch.subscribe("will/#", 1)

    def connect(self, cid, delay, expiry):
        return self.raw(V5, client_id=cid, clean=False,
                        props={"SessionExpiryInterval": expiry},
                        will={"topic": f"will/{cid}", "payload": b"late",
                              "props": {"WillDelayInterval": delay}})

    def test_will_delay_interval(self):
        r = self.connect("wd2", delay=2, expiry=30)
        r.close()
        start = time.monotonic()
        self.watch.expect_nothing(1.2)  # not before the delay [3.1.3.2.2]
        m = self.watch.recv(timeout=4)
        elapsed = time.monotonic() - start
        self.assertEqual((m.topic, m.payload), ("will/wd2", b"late"))
        self.assertGreaterEqual(elapsed, 1.5)

    def test_reconnect_within_delay_cancels_will(self):
        r = self.connect("wdc", delay=1, expiry=30)
        r.close()
        r = self.raw(V5, connect=False)
        ack = r.connect("wdc", clean=False, props={"SessionExpiryInterval": 30})
        self.assertTrue(ack.session_present)
        # [MQTT-3.1.3-9]: reconnected in time -> never published.
        self.watch.expect_nothing(2.0)

    def test_session_end_publishes_delayed_will(self):
        # Published when the delay passes or the session ends, whichever is
        # first (3.1.3.2.2): here the 1 s session ends long before 30 s.
        r = self.connect("wse", delay=30, expiry=1)
        r.close()
        m = self.watch.recv(timeout=4)
        self.assertEqual((m.topic, m.payload), ("will/wse", b"late"))

    def test_disconnect_with_will_honours_delay(self):
        r = self.connect("wdd", delay=1, expiry=30)
        r.disconnect(mq.RC_DISCONNECT_WITH_WILL)
        self.watch.expect_nothing(0.6)
        self.assertEqual(self.watch.recv(timeout=4).payload, b"late")


if __name__ == "__main__":
    unittest.main()
