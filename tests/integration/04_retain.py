"""Retained messages: set, replace, clear, delivery on subscribe, retain flag
on live messages, Retain Handling, Retain As Published, expiry.

Run: NATTER_BROKER=mosquitto /usr/bin/python3 -m unittest -v 04_retain
"""

import time
import unittest

from harness import V5, V311, VERSIONS, BrokerTest, natter_only


class RetainTest(BrokerTest):
    def test_delivered_on_subscribe(self):
        for pv in VERSIONS:
            pub = self.client(version=pv)
            pub.publish(f"ret/{pv}", f"from {pv}".encode(), 1, retain=True)
            for sv in VERSIONS:
                for sq in (0, 1, 2):
                    with self.subTest(pub=pv, sub=sv, qos=sq):
                        c = self.client(version=sv)
                        c.subscribe(f"ret/{pv}", sq)
                        m = c.recv()
                        # [MQTT-3.3.1-6]; retain 1 on subscribe [MQTT-3.3.1-8 (3.1.1)].
                        self.assertEqual((m.topic, m.payload, m.retain, m.qos),
                                         (f"ret/{pv}", f"from {pv}".encode(), True, min(1, sq)))
                        c.expect_nothing(0.1)
                        c.disconnect()

    def test_replace(self):
        pub = self.client(version=V5)
        pub.publish("rep", b"v1", 1, retain=True)
        pub.publish("rep", b"v2", 1, retain=True)  # [MQTT-3.3.1-5]
        for v in VERSIONS:
            c = self.client(version=v)
            c.subscribe("rep", 1)
            self.assertEqual(c.recv().payload, b"v2")
            c.expect_nothing(0.2)

    def test_clear_with_empty_payload(self):
        live = self.client(version=V5)
        live.subscribe("clr", 1)
        pub = self.client(version=V311)
        pub.publish("clr", b"set", 1, retain=True)
        self.assertEqual(live.recv().payload, b"set")
        pub.publish("clr", b"", 1, retain=True)
        # Delivered to current subscribers like any message (3.3.1.3) ...
        m = live.recv()
        self.assertEqual((m.payload, m.retain), (b"", False))
        # ... and nothing is retained any more [MQTT-3.3.1-10 (3.1.1) / -6 (v5)].
        for v in VERSIONS:
            c = self.client(version=v)
            c.subscribe("clr", 1)
            c.expect_nothing()

    def test_clear_when_nothing_retained(self):
        pub = self.client(version=V5)
        pub.publish("none", b"", 1, retain=True)
        pub.publish("none", b"", 0, retain=True)
        c = self.client(version=V5)
        c.subscribe("none", 1)
        c.expect_nothing()

    def test_wildcard_subscription_gets_all_matching(self):
        pub = self.client(version=V5)
        for t in ("w/a", "w/b", "w/c/d", "x/y", "w"):
            pub.publish(t, t.encode(), 1, retain=True)
        for v in VERSIONS:
            with self.subTest(version=v):
                c = self.client(version=v)
                c.subscribe("w/#", 1)
                got = c.recv_n(4)
                c.expect_nothing(0.2)
                self.assertEqual(sorted(m.topic for m in got), ["w", "w/a", "w/b", "w/c/d"])
                self.assertTrue(all(m.retain and m.payload == m.topic.encode() for m in got))
                c2 = self.client(version=v)
                c2.subscribe("+/b", 1)
                self.assertEqual(c2.recv().topic, "w/b")
                c2.expect_nothing(0.2)

    def test_many_retained(self):
        pub = self.client(version=V5)
        for i in range(100):
            pub.publish(f"many/{i}", str(i).encode(), 1, retain=True, wait=False)
        pub.publish("many/last", b"last", 1, retain=True)
        c = self.client(version=V5)
        c.subscribe("many/+", 1)
        got = c.recv_n(101)
        self.assertEqual(sorted(m.payload for m in got),
                         sorted([str(i).encode() for i in range(100)] + [b"last"]))

    def test_retained_qos_is_min_of_stored_and_granted(self):
        pub = self.client(version=V5)
        pub.publish("rq/0", b"0", 0, retain=True)
        pub.publish("rq/2", b"2", 2, retain=True)
        for sq in (0, 1, 2):
            with self.subTest(qos=sq):
                c = self.client(version=V5)
                c.subscribe("rq/+", sq)
                got = {m.topic: m.qos for m in c.recv_n(2)}
                self.assertEqual(got, {"rq/0": 0, "rq/2": min(2, sq)})

    def test_live_messages_have_retain_0(self):
        # 3.1.1 [MQTT-3.3.1-9]; v5 with Retain As Published 0 [MQTT-3.3.1-12].
        subs = [self.client(version=v) for v in VERSIONS]
        for s in subs:
            s.subscribe("live", 1)
        self.client(version=V5).publish("live", b"r", 1, retain=True)
        for s in subs:
            m = s.recv()
            self.assertEqual((m.payload, m.retain), (b"r", False))

    def test_retain_as_published(self):
        c = self.client(version=V5)
        c.subscribe("rap", 1, rap=True)
        pub = self.client(version=V5)
        pub.publish("rap", b"kept", 1, retain=True)
        pub.publish("rap", b"plain", 1, retain=False)
        a, b = c.recv_n(2)
        # [MQTT-3.3.1-13]: the flag as the publisher set it.
        self.assertEqual((a.payload, a.retain), (b"kept", True))
        self.assertEqual((b.payload, b.retain), (b"plain", False))

    def test_retain_handling_0(self):
        self.client(version=V5).publish("rh0", b"r", 1, retain=True)
        c = self.client(version=V5)
        for _ in range(2):
            c.subscribe("rh0", 1, retain_handling=0)
            m = c.recv()  # every time [MQTT-3.3.1-9]
            self.assertEqual((m.payload, m.retain), (b"r", True))
        c.expect_nothing(0.2)

    def test_v311_resubscribe_resends_retained(self):
        # [MQTT-3.8.4-3]: replacing a subscription re-sends retained messages.
        self.client(version=V5).publish("rs", b"r", 1, retain=True)
        c = self.client(version=V311)
        c.subscribe("rs", 1)
        c.subscribe("rs", 1)
        self.assertEqual([m.payload for m in c.recv_n(2)], [b"r", b"r"])

    def test_retain_handling_1(self):
        self.client(version=V5).publish("rh1", b"r", 1, retain=True)
        c = self.client(version=V5)
        c.subscribe("rh1", 1, retain_handling=1)
        m = c.recv()  # new subscription: sent
        self.assertEqual((m.payload, m.retain), (b"r", True))
        c.subscribe("rh1", 1, retain_handling=1)
        c.expect_nothing()  # existing subscription: not sent [MQTT-3.3.1-10]

    def test_retain_handling_2(self):
        self.client(version=V5).publish("rh2", b"r", 1, retain=True)
        c = self.client(version=V5)
        c.subscribe("rh2", 1, retain_handling=2)
        c.expect_nothing()  # [MQTT-3.3.1-11]
        self.client(version=V5).publish("rh2", b"live", 1)
        self.assertEqual(c.recv().payload, b"live")

    def test_retained_properties_kept(self):
        self.client(version=V5).publish("rp", b"{}", 1, retain=True, props={
            "UserProperty": [("k", "v")], "ContentType": "application/json",
            "PayloadFormatIndicator": 1})
        c = self.client(version=V5)
        c.subscribe("rp", 1, sub_id=4)
        m = c.recv()
        self.assertEqual(m.props.get("UserProperty"), [("k", "v")])
        self.assertEqual(m.props.get("ContentType"), "application/json")
        self.assertEqual(m.props.get("PayloadFormatIndicator"), 1)
        self.assertEqual(m.props.get("SubscriptionIdentifier"), [4])

    def test_retained_message_expiry(self):
        pub = self.client(version=V5)
        pub.publish("rexp/short", b"s", 1, retain=True, props={"MessageExpiryInterval": 1})
        pub.publish("rexp/long", b"l", 1, retain=True, props={"MessageExpiryInterval": 60})
        time.sleep(2.0)
        c = self.client(version=V5)
        c.subscribe("rexp/+", 1)
        m = c.recv()
        c.expect_nothing()  # the expired one is gone [MQTT-3.3.2-5]
        self.assertEqual(m.payload, b"l")
        self.assertLessEqual(m.props.get("MessageExpiryInterval", 99), 58)  # [MQTT-3.3.2-6]

    @natter_only("mosquitto 2.0.11 sends retained messages to new shared subscriptions")
    def test_no_retained_for_shared_subscription(self):
        # v5 3.3.1.3 sends retained messages to new *non-shared* subscriptions
        # only; 4.8.2 repeats it for shared ones.
        self.client(version=V5).publish("rsh", b"r", 1, retain=True)
        c = self.client(version=V5)
        c.subscribe("$share/g/rsh", 1)
        c.expect_nothing()
        self.client(version=V5).publish("rsh", b"live", 1)
        self.assertEqual(c.recv().payload, b"live")


if __name__ == "__main__":
    unittest.main()
