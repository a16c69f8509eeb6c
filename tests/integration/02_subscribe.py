"""SUBSCRIBE / UNSUBSCRIBE: matching, $-topics, overlaps, subscription options,
subscription identifiers, shared subscriptions.

Run: NATTER_BROKER=mosquitto /usr/bin/python3 -m unittest -v 02_subscribe
"""

import time
import unittest

import rawmqtt as mq
from harness import QUIET, V5, V311, VERSIONS, BrokerTest, natter_only, wait_until

# Topic -> the filters that must match it [MQTT-4.7]. Every filter sees every
# topic it matches and none other.
TOPICS = ["sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis",
          "sport", "sport/", "/finance", "sports/x", "a/b/c/d/e"]
MATCHES = {
    "sport/tennis/player1/#": {"sport/tennis/player1", "sport/tennis/player1/ranking"},
    "sport/#": {"sport", "sport/", "sport/tennis", "sport/tennis/player1",
                "sport/tennis/player1/ranking"},
    "sport/+": {"sport/tennis", "sport/"},
    "sport/tennis/+": {"sport/tennis/player1"},
    "+/tennis/#": {"sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking"},
    "+": {"sport"},
    "+/+": {"sport/", "/finance", "sport/tennis", "sports/x"},
    "/+": {"/finance"},
    "#": set(TOPICS),
    "sport": {"sport"},
    "a/+/c/+/e": {"a/b/c/d/e"},
    "+/+/+/+/+": {"a/b/c/d/e"},
    "a/b/c/d/e/#": {"a/b/c/d/e"},
}
SENTINEL = "zz-sentinel"


def collect_until_sentinel(clients):
    """Messages per client up to the sentinel; then a quiet period to catch
    anything that arrives late (a late arrival is a failure too)."""
    out = {}
    for c in clients:
        got = []
        while True:
            m = c.recv()
            if m.topic == SENTINEL:
                break
            got.append(m)
        out[c] = got
    time.sleep(QUIET)
    for c in clients:
        while not c.messages.empty():
            out[c].append(c.messages.get())
        # '#' and '+' match the sentinel too (possibly twice, per subscription).
        out[c] = [m for m in out[c] if m.topic != SENTINEL]
    return out


class MatchingTest(BrokerTest):
    def test_wildcard_matching(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                subs = {}
                for f in MATCHES:
                    c = self.client(version=v)
                    self.assertEqual(c.subscribe(f, 1), [1], f)
                    c.subscribe(SENTINEL, 1)
                    subs[c] = f
                pub = self.client(version=V5)
                for t in TOPICS:
                    pub.publish(t, t.encode(), 1)
                pub.publish(SENTINEL, b"", 1)
                got = collect_until_sentinel(subs)
                for c, f in subs.items():
                    topics = [m.topic for m in got[c]]
                    self.assertEqual(sorted(topics), sorted(MATCHES[f]), f"filter {f!r}")
                    for m in got[c]:
                        self.assertEqual(m.payload, m.topic.encode())
                for c in subs:
                    c.disconnect()

    def test_dollar_topics_not_matched_by_leading_wildcards(self):
        # [MQTT-4.7.2-1]: '#' and '+/...' do not match topics starting with '$'.
        pub = self.client(version=V5)
        wild = {f: self.client(version=v) for v in VERSIONS for f in ("#", "+/x", "+/+/#")}
        dollar = {}
        for f in ("$app/#", "$app/+", "$app/x"):
            dollar[f] = self.client(version=V5)
        for f, c in list(wild.items()) + list(dollar.items()):
            c.subscribe(f, 1)
        pub.publish("$app/x", b"dollar", 1)
        pub.publish("plain/x", b"plain", 1)
        for f, c in dollar.items():
            m = c.recv()
            self.assertEqual((m.topic, m.payload), ("$app/x", b"dollar"), f)
            c.expect_nothing(0.1)
        for f, c in wild.items():
            m = c.recv()
            self.assertEqual(m.payload, b"plain", f"{f!r} matched a $ topic")
            c.expect_nothing(0.1)

    def test_topics_are_case_sensitive_and_exact(self):
        sub = self.client(version=V5)
        sub.subscribe("Case/Topic", 1)
        pub = self.client(version=V5)
        for t in ("case/topic", "Case/Topic ", "Case/Topic/", "Case//Topic", "Case/Topic"):
            pub.publish(t, t.encode(), 1)
        m = sub.recv()
        self.assertEqual(m.topic, "Case/Topic")
        sub.expect_nothing()

    def test_many_filters_one_client(self):
        sub = self.client(version=V5)
        n = 200
        for start in range(0, n, 50):
            codes = sub.subscribe([(f"many/{i}/+", 1) for i in range(start, start + 50)])
            self.assertEqual(codes, [1] * 50)
        pub = self.client(version=V5)
        for i in range(n):
            pub.publish(f"many/{i}/x", str(i).encode(), 1, wait=False)
        got = sub.recv_n(n)
        self.assertEqual(sorted(int(m.payload) for m in got), list(range(n)))
        sub.expect_nothing(0.2)

    def test_fan_out(self):
        subs = [self.client(version=VERSIONS[i % 2]) for i in range(20)]
        for s in subs:
            s.subscribe("fan/#", 1)
        pub = self.client(version=V5)
        pub.publish("fan/out", b"everyone", 1)
        for s in subs:
            m = s.recv()
            self.assertEqual((m.topic, m.payload, m.qos), ("fan/out", b"everyone", 1))


class SubackTest(BrokerTest):
    def test_suback_codes_in_order(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"codes{v}")
                r.send(mq.subscribe(9, [("c/0", 0), ("c/1", 1), ("c/2", 2)], version=v))
                ack = r.expect(mq.SUBACK)
                self.assertEqual(ack.packet_id, 9)  # [MQTT-3.8.4-2]
                self.assertEqual(ack.codes, [0, 1, 2])  # [MQTT-3.8.4-6], [MQTT-3.9.3-1]

    def test_resubscribe_replaces(self):
        # [MQTT-3.8.4-3]: same filter again replaces the subscription.
        pub = self.client(version=V5)
        for v in VERSIONS:
            with self.subTest(version=v):
                c = self.client(version=v)
                c.subscribe(f"re/{v}", 0)
                c.subscribe(f"re/{v}", 1)
                pub.publish(f"re/{v}", b"once", 1)
                m = c.recv()
                self.assertEqual((m.payload, m.qos), (b"once", 1))
                c.expect_nothing()

    def test_v5_resubscribe_replaces_subscription_identifier(self):
        c = self.client(version=V5)
        c.subscribe("rid", 1, sub_id=1)
        c.subscribe("rid", 1, sub_id=2)
        self.client(version=V5).publish("rid", b"x", 1)
        m = c.recv()
        self.assertEqual(m.props.get("SubscriptionIdentifier"), [2])
        c.expect_nothing()


class UnsubscribeTest(BrokerTest):
    def test_unsubscribe_stops_delivery(self):
        pub = self.client(version=V5)
        for v in VERSIONS:
            with self.subTest(version=v):
                c = self.client(version=v)
                c.subscribe(f"un/{v}/a", 1)
                c.subscribe(f"un/{v}/b", 1)
                pub.publish(f"un/{v}/a", b"before", 1)
                self.assertEqual(c.recv().payload, b"before")
                c.unsubscribe(f"un/{v}/a")
                pub.publish(f"un/{v}/a", b"after", 1)
                pub.publish(f"un/{v}/b", b"other", 1)
                # The other subscription is untouched; the removed one is silent.
                m = c.recv()
                self.assertEqual((m.topic, m.payload), (f"un/{v}/b", b"other"))
                c.expect_nothing()

    def test_unsuback_reason_codes(self):
        r = self.raw(V5, client_id="unsub5")
        r.subscribe("x/y", 1)
        r.send(mq.unsubscribe(7, ["x/y", "not/subscribed"]))
        ack = r.expect(mq.UNSUBACK)
        self.assertEqual(ack.packet_id, 7)  # [MQTT-3.10.4-4]
        self.assertEqual(ack.codes, [mq.RC_SUCCESS, mq.RC_NO_SUBSCRIPTION_EXISTED])
        # 3.1.1: UNSUBACK even when nothing matched [MQTT-3.10.4-5], no payload.
        r4 = self.raw(V311, client_id="unsub4")
        r4.send(mq.unsubscribe(8, ["never"], version=V311))
        ack = r4.expect(mq.UNSUBACK)
        self.assertEqual((ack.packet_id, ack.codes), (8, []))

    def test_unsubscribe_is_exact_filter_match(self):
        # Unsubscribing 'u/+' does not remove 'u/#' [MQTT-3.10.4-1: character by character].
        c = self.client(version=V5)
        c.subscribe("u/#", 1)
        c.unsubscribe("u/+")
        self.client(version=V5).publish("u/x", b"still", 1)
        self.assertEqual(c.recv().payload, b"still")


class OverlapTest(BrokerTest):
    def _deliveries(self, c):
        first = c.recv()
        return [first] + c.drain()

    def test_v5_overlapping_max_qos_and_identifiers(self):
        c = self.client(version=V5)
        c.subscribe("ov/#", 2, sub_id=1)
        c.subscribe("ov/+", 0, sub_id=2)
        self.client(version=V5).publish("ov/x", b"m", 2)
        got = self._deliveries(c)
        for m in got:
            self.assertEqual((m.topic, m.payload), ("ov/x", b"m"))
        # [MQTT-3.3.4-2]: one delivery at the maximum QoS of the matching
        # subscriptions; the server MAY add one copy per other subscription,
        # each with its own identifier [MQTT-3.3.4-4/5].
        self.assertEqual(max(m.qos for m in got), 2)
        ids = sorted(i for m in got for i in m.props.get("SubscriptionIdentifier", []))
        self.assertEqual(ids, [1, 2])
        self.assertLessEqual(len(got), 2)

    @natter_only("mosquitto 2.0.11 sends one copy per matching subscription")
    def test_v5_overlapping_single_delivery(self):
        c = self.client(version=V5)
        c.subscribe("ov/#", 2, sub_id=1)
        c.subscribe("ov/+", 0, sub_id=2)
        c.subscribe("ov/x", 1)
        self.client(version=V5).publish("ov/x", b"m", 2)
        got = self._deliveries(c)
        # One PUBLISH carrying every identifier [MQTT-3.3.4-3/4], at max QoS.
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0].qos, 2)
        self.assertEqual(sorted(got[0].props.get("SubscriptionIdentifier", [])), [1, 2])

    @natter_only("mosquitto 2.0.11 delivers at the QoS of one subscription, not the maximum")
    def test_v311_overlapping_max_qos(self):
        for order in ((("ov/#", 1), ("ov/+", 0)), (("ov/+", 0), ("ov/#", 1))):
            with self.subTest(order=order):
                c = self.client(version=V311)
                for f, q in order:
                    c.subscribe(f, q)
                self.client(version=V5).publish("ov/y", b"m", 2)
                got = self._deliveries(c)
                self.assertEqual(max(m.qos for m in got), 1)  # [MQTT-3.3.5-1]
                c.disconnect()


class OptionsTest(BrokerTest):
    def test_subscription_identifiers(self):
        c = self.client(version=V5)
        c.subscribe("si/a", 1, sub_id=7)
        c.subscribe("si/b", 1, sub_id=268435455)  # largest, 4-byte varint
        c.subscribe("si/c", 1)
        pub = self.client(version=V5)
        for t in ("si/a", "si/b", "si/c"):
            pub.publish(t, t.encode(), 1)
        got = {m.topic: m.props.get("SubscriptionIdentifier") for m in c.recv_n(3)}
        self.assertEqual(got, {"si/a": [7], "si/b": [268435455], "si/c": None})

    def test_no_local(self):
        a = self.client(version=V5)
        a.subscribe("nl/t", 1, no_local=True)
        b = self.client(version=V5)
        b.subscribe("nl/t", 1)
        a.publish("nl/t", b"from a", 1)
        self.assertEqual(b.recv().payload, b"from a")
        a.expect_nothing()  # [MQTT-3.8.3-3]
        b.publish("nl/t", b"from b", 1)
        self.assertEqual(a.recv().payload, b"from b")
        self.assertEqual(b.recv().payload, b"from b")  # b has No Local 0

    def test_v311_receives_own_messages(self):
        c = self.client(version=V311)
        c.subscribe("own", 1)
        c.publish("own", b"echo", 1)
        self.assertEqual(c.recv().payload, b"echo")


class SharedSubscriptionTest(BrokerTest):
    N = 30

    def _publish_n(self, topic, n=N):
        pub = self.client(version=V5)
        for i in range(n):
            pub.publish(topic, str(i).encode(), 1, wait=False)
        return pub

    def _split(self, members, n=N):
        wait_until(lambda: sum(m.messages.qsize() for m in members) >= n,
                   what=f"{n} messages across the group")
        time.sleep(QUIET)  # a duplicate would arrive now
        per = [[int(x.payload) for x in m.drain(0.01)] for m in members]
        everything = sorted(i for p in per for i in p)
        # Each message to exactly one member of the group [MQTT-4.8.2-2 ff.].
        self.assertEqual(everything, list(range(n)), "lost or duplicated in the group")
        return per

    def test_messages_split_among_group(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                group = [self.client(version=v) for _ in range(3)]
                for m in group:
                    self.assertEqual(m.subscribe(f"$share/g/sh/{v}/#", 1), [1])
                other_group = self.client(version=v)
                other_group.subscribe(f"$share/h/sh/{v}/#", 1)
                plain = self.client(version=v)
                plain.subscribe(f"sh/{v}/#", 1)
                self._publish_n(f"sh/{v}/t")
                per = self._split(group)
                for p in per:
                    self.assertTrue(p, f"a member got nothing: {per}")
                    self.assertEqual(p, sorted(p), "order within one member")
                # Each group and each plain subscription gets its own copy.
                self.assertEqual([int(m.payload) for m in other_group.recv_n(self.N)],
                                 list(range(self.N)))
                self.assertEqual([int(m.payload) for m in plain.recv_n(self.N)],
                                 list(range(self.N)))
                for m in group:
                    m.disconnect()

    def test_delivered_topic_is_the_published_one(self):
        m = self.client(version=V5)
        m.subscribe("$share/g/st/+", 1, sub_id=5)
        self.client(version=V5).publish("st/x", b"p", 1)
        got = m.recv()
        self.assertEqual((got.topic, got.payload, got.qos), ("st/x", b"p", 1))
        self.assertEqual(got.props.get("SubscriptionIdentifier"), [5])

    def test_member_unsubscribes(self):
        a = self.client(version=V5)
        b = self.client(version=V5)
        a.subscribe("$share/g/su", 1)
        b.subscribe("$share/g/su", 1)
        a.unsubscribe("$share/g/su")
        self._publish_n("su", 10)
        self.assertEqual([int(m.payload) for m in b.recv_n(10)], list(range(10)))
        a.expect_nothing()

    def test_member_disconnects(self):
        a = self.client(version=V5)
        b = self.client(version=V5)
        a.subscribe("$share/g/sd", 1)
        b.subscribe("$share/g/sd", 1)
        a.disconnect()
        self._publish_n("sd", 10)
        self.assertEqual([int(m.payload) for m in b.recv_n(10)], list(range(10)))

    def test_granted_qos_per_member(self):
        a = self.client(version=V5)
        a.subscribe("$share/g/sq", 0)
        self.client(version=V5).publish("sq", b"q", 2)
        m = a.recv()
        self.assertEqual((m.payload, m.qos), (b"q", 0))


if __name__ == "__main__":
    unittest.main()
