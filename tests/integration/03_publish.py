"""PUBLISH: QoS flows, ordering, offline queueing, retransmission, topic
aliases, message expiry, v5 properties, flow control, sizes.

Run: NATTER_BROKER=mosquitto /usr/bin/python3 -m unittest -v 03_publish
"""

import time
import unittest

import rawmqtt as mq
from harness import V5, V311, VERSIONS, BrokerTest, natter_only, spec_rcs


def session_kw(version, expiry=60):
    if version == V5:
        return {"clean": False, "props": {"SessionExpiryInterval": expiry}}
    return {"clean": False}


def paho_session_kw(version):
    return {"clean": False, "session_expiry": 60 if version == V5 else None}


class QosTest(BrokerTest):
    def test_qos_matrix(self):
        # Delivered QoS = min(published, granted) [MQTT-3.8.4-8 / 3.1.1 4.3].
        subs = {}
        for sv in VERSIONS:
            for sq in range(3):
                c = self.client(version=sv)
                self.assertEqual(c.subscribe(f"qm/{sv}/{sq}", sq), [sq])
                subs[(sv, sq)] = c
        for pv in VERSIONS:
            pub = self.client(version=pv)
            for pq in range(3):
                for (sv, sq) in subs:
                    pub.publish(f"qm/{sv}/{sq}", f"{pv}:{pq}".encode(), pq)
        for (sv, sq), c in subs.items():
            got = c.recv_n(6)
            # Sorted: order is only promised per topic *and QoS* [MQTT-4.6.0-6].
            self.assertEqual(sorted((m.payload, m.qos) for m in got),
                             sorted((f"{pv}:{pq}".encode(), min(pq, sq))
                                    for pv in VERSIONS for pq in range(3)), f"sub v{sv} q{sq}")
            for m in got:
                self.assertFalse(m.retain)
                self.assertFalse(m.dup)
            c.expect_nothing(0.1)

    def test_publisher_acknowledgements(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                sub = self.client(version=v)
                sub.subscribe(f"ack/{v}", 2)
                r = self.raw(v, client_id=f"acker{v}")
                ack = r.publish(f"ack/{v}", b"one", 1, packet_id=17)
                self.assertEqual((ack.type, ack.packet_id, ack.rc), (mq.PUBACK, 17, 0))
                rec = r.publish(f"ack/{v}", b"two", 2, packet_id=18)
                self.assertEqual((rec.type, rec.packet_id, rec.rc), (mq.PUBREC, 18, 0))
                self.assertEqual(sorted(m.payload for m in sub.recv_n(2)), [b"one", b"two"])

    def test_v5_puback_without_subscribers(self):
        r = self.raw(V5, client_id="lonely")
        ack = r.publish("nobody/listens", b"x", 1)
        # 0x10 No matching subscribers is allowed, success too [3.4.2.1].
        self.assertIn(ack.rc, (mq.RC_SUCCESS, mq.RC_NO_MATCHING_SUBSCRIBERS))

    def test_qos2_inbound_exactly_once(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                sub = self.client(version=v)
                sub.subscribe(f"eo/{v}", 2)
                r = self.raw(v, client_id=f"eo{v}")
                r.send(mq.publish(f"eo/{v}", b"once", 2, packet_id=5, version=v))
                self.assertEqual(r.expect(mq.PUBREC).packet_id, 5)
                # A retransmission before PUBREL is acknowledged again but not
                # delivered again [MQTT-4.3.3-9 (v5) / MQTT-4.3.3-2 (3.1.1)].
                r.send(mq.publish(f"eo/{v}", b"once", 2, dup=True, packet_id=5, version=v))
                self.assertEqual(r.expect(mq.PUBREC).packet_id, 5)
                r.send(mq.pubrel(5, version=v))
                self.assertEqual(r.expect(mq.PUBCOMP).packet_id, 5)
                m = sub.recv()
                self.assertEqual((m.payload, m.qos), (b"once", 2))
                sub.expect_nothing()
                # After PUBCOMP the id is free: same id, new message.
                r.send(mq.publish(f"eo/{v}", b"again", 2, packet_id=5, version=v))
                r.expect(mq.PUBREC)
                r.send(mq.pubrel(5, version=v))
                r.expect(mq.PUBCOMP)
                self.assertEqual(sub.recv().payload, b"again")
                sub.expect_nothing(0.2)

    def test_qos2_outbound_flow(self):
        pub = self.client(version=V5)
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"out2{v}")
                r.subscribe(f"o2/{v}", 2)
                pub.publish(f"o2/{v}", b"q2", 2)
                p = r.recv_publish()
                self.assertEqual((p.qos, p.payload, p.dup), (2, b"q2", False))
                self.assertNotEqual(p.packet_id, 0)
                r.send(mq.pubrec(p.packet_id, version=v))
                rel = r.expect(mq.PUBREL)  # flags 0b0010 [MQTT-3.6.1-1] checked by decode
                self.assertEqual(rel.packet_id, p.packet_id)
                r.send(mq.pubcomp(p.packet_id, version=v))
                r.expect_nothing()

    def test_ordering(self):
        # Ordered topic [MQTT-4.6.0-5/6]: same topic, same QoS -> same order.
        n = 150
        for v in VERSIONS:
            for q in range(3):
                with self.subTest(version=v, qos=q):
                    sub = self.client(version=v)
                    sub.subscribe(f"ord/{v}/{q}", 2)
                    pub = self.client(version=v)
                    infos = [pub.publish(f"ord/{v}/{q}", str(i).encode(), q, wait=False)
                             for i in range(n)]
                    got = sub.recv_n(n, timeout=20)
                    self.assertEqual([int(m.payload) for m in got], list(range(n)))
                    self.assertTrue(all(m.qos == q for m in got))
                    for info in infos:
                        info.wait_for_publish(5)
                    sub.disconnect()
                    pub.disconnect()


class OfflineQueueTest(BrokerTest):
    def test_queued_while_offline(self):
        pub = self.client(version=V5)
        for v in VERSIONS:
            with self.subTest(version=v):
                c = self.client(f"offline{v}", version=v, **paho_session_kw(v))
                c.subscribe(f"off/{v}/1", 1)
                c.subscribe(f"off/{v}/2", 2)
                c.disconnect()
                for i in range(10):
                    pub.publish(f"off/{v}/1", f"a{i}".encode(), 1)
                    pub.publish(f"off/{v}/2", f"b{i}".encode(), 2)
                    pub.publish(f"off/{v}/2", f"c{i}".encode(), 1)  # stays QoS 1
                present, rc, _ = c.connect()
                self.assertTrue(present)
                got = c.recv_n(30)
                # Order holds per topic and QoS [MQTT-4.6.0-6]; across QoS
                # levels it need not (mosquitto sends the QoS 1 ones first).
                for topic, qos, prefix in ((f"off/{v}/1", 1, "a"), (f"off/{v}/2", 2, "b"),
                                           (f"off/{v}/2", 1, "c")):
                    self.assertEqual([m.payload for m in got if (m.topic, m.qos) == (topic, qos)],
                                     [f"{prefix}{i}".encode() for i in range(10)], (topic, qos))
                c.expect_nothing(0.2)
                c.disconnect()

    def test_v5_queued_message_keeps_properties(self):
        c = self.client("offprops", version=V5, **paho_session_kw(V5))
        c.subscribe("offp", 1, sub_id=3)
        c.disconnect()
        self.client(version=V5).publish("offp", b"x", 1, props={
            "UserProperty": [("k", "v")], "ContentType": "text/plain"})
        c.connect()
        m = c.recv()
        self.assertEqual(m.props.get("UserProperty"), [("k", "v")])
        self.assertEqual(m.props.get("ContentType"), "text/plain")
        self.assertEqual(m.props.get("SubscriptionIdentifier"), [3])

    def test_qos0_subscription_not_replayed_as_qos1(self):
        # A QoS 0 subscription may drop offline messages, but anything that
        # arrives must be QoS 0 and in order.
        c = self.client("off0", version=V5, **paho_session_kw(V5))
        c.subscribe("off0", 0)
        c.disconnect()
        pub = self.client(version=V5)
        for i in range(5):
            pub.publish("off0", str(i).encode(), 1)
        c.connect()
        got = c.drain()
        self.assertTrue(all(m.qos == 0 for m in got), got)
        payloads = [int(m.payload) for m in got]
        self.assertEqual(payloads, sorted(payloads))
        pub.publish("off0", b"live", 1)
        self.assertEqual(c.recv().payload, b"live")


class MaxQueuedTest(BrokerTest):
    broker_config = ["max_queued_messages 5"]

    def test_max_queued_messages_bound(self):
        pub = self.client(version=V5)
        for v in VERSIONS:
            with self.subTest(version=v):
                c = self.client(f"mq{v}", version=v, **paho_session_kw(v))
                c.subscribe(f"mq/{v}", 1)
                c.disconnect()
                for i in range(12):
                    pub.publish(f"mq/{v}", str(i).encode(), 1)
                c.connect()
                got = [int(m.payload) for m in c.drain()]
                # Which ones are dropped is the broker's choice; the bound and
                # the order are not.
                self.assertGreaterEqual(len(got), 1)
                self.assertLessEqual(len(got), 5, got)
                self.assertEqual(got, sorted(set(got)))
                pub.publish(f"mq/{v}", b"live", 1)
                self.assertEqual(c.recv().payload, b"live")
                c.disconnect()


class RetransmissionTest(BrokerTest):
    def test_qos1_resent_with_dup_on_reconnect(self):
        pub = self.client(version=V5)
        for v in VERSIONS:
            with self.subTest(version=v):
                cid = f"dup1-{v}"
                r = self.raw(v, client_id=cid, **session_kw(v))
                r.subscribe(f"dup/{v}", 1)
                pub.publish(f"dup/{v}", b"unacked", 1)
                first = r.recv_publish()
                self.assertFalse(first.dup)
                r.close()  # no PUBACK
                r = self.raw(v, connect=False)
                self.assertTrue(r.connect(cid, **session_kw(v)).session_present)
                again = r.recv_publish()
                # [MQTT-4.4.0-1] resend with DUP=1 [MQTT-3.3.1-1], same packet id.
                self.assertTrue(again.dup)
                self.assertEqual((again.packet_id, again.topic, again.payload, again.qos),
                                 (first.packet_id, first.topic, first.payload, 1))
                r.ack(again)
                r.expect_nothing()
                r.disconnect()

    def test_qos2_publish_resent_before_pubrec(self):
        pub = self.client(version=V5)
        for v in VERSIONS:
            with self.subTest(version=v):
                cid = f"dup2-{v}"
                r = self.raw(v, client_id=cid, **session_kw(v))
                r.subscribe(f"dup2/{v}", 2)
                pub.publish(f"dup2/{v}", b"q2", 2)
                first = r.recv_publish()
                r.close()
                r = self.raw(v, client_id=cid, **session_kw(v))
                again = r.recv_publish()
                self.assertTrue(again.dup)
                self.assertEqual((again.packet_id, again.payload, again.qos),
                                 (first.packet_id, b"q2", 2))
                r.ack(again)
                r.expect_nothing()
                r.disconnect()

    def test_pubrel_resent_after_pubrec(self):
        pub = self.client(version=V5)
        for v in VERSIONS:
            with self.subTest(version=v):
                cid = f"rel-{v}"
                r = self.raw(v, client_id=cid, **session_kw(v))
                r.subscribe(f"rel/{v}", 2)
                pub.publish(f"rel/{v}", b"q2", 2)
                p = r.recv_publish()
                r.send(mq.pubrec(p.packet_id, version=v))
                self.assertEqual(r.expect(mq.PUBREL).packet_id, p.packet_id)
                r.close()  # no PUBCOMP
                r = self.raw(v, client_id=cid, **session_kw(v))
                # [MQTT-4.4.0-1]: resend PUBREL, never the PUBLISH again.
                rel = r.expect(mq.PUBREL)
                self.assertEqual(rel.packet_id, p.packet_id)
                r.send(mq.pubcomp(p.packet_id, version=v))
                r.expect_nothing()
                r.disconnect()

    def test_inbound_qos2_state_survives_reconnect(self):
        sub = self.client(version=V5)
        sub.subscribe("in2/#", 2)
        for v in VERSIONS:
            with self.subTest(version=v):
                cid = f"in2-{v}"
                r = self.raw(v, client_id=cid, **session_kw(v))
                r.send(mq.publish(f"in2/{v}", b"once", 2, packet_id=9, version=v))
                r.expect(mq.PUBREC)
                r.close()  # before PUBREL
                r = self.raw(v, client_id=cid, **session_kw(v))
                # The client resends (DUP) and completes; one delivery in total.
                r.send(mq.publish(f"in2/{v}", b"once", 2, dup=True, packet_id=9, version=v))
                self.assertEqual(r.expect(mq.PUBREC).packet_id, 9)
                r.send(mq.pubrel(9, version=v))
                self.assertEqual(r.expect(mq.PUBCOMP).packet_id, 9)
                self.assertEqual(sub.recv().payload, b"once")
                sub.expect_nothing()
                r.disconnect()


class TopicAliasTest(BrokerTest):
    def _alias_client(self, cid="alias"):
        r = self.raw(V5, connect=False)
        ack = r.connect(cid)
        maximum = ack.props.get("TopicAliasMaximum", 0)
        self.assertGreaterEqual(maximum, 2, "broker accepts no topic aliases")
        return r, maximum

    def test_client_to_server_alias(self):
        sub = self.raw(V5, client_id="alias-sub")
        sub.subscribe("ta/#", 0)
        r, maximum = self._alias_client()
        r.publish("ta/one", b"1", props={"TopicAlias": 1})
        r.publish("", b"2", props={"TopicAlias": 1})             # [MQTT-3.3.2-12]
        r.publish("ta/two", b"3", props={"TopicAlias": 1})       # remap
        r.publish("", b"4", props={"TopicAlias": 1})
        r.publish("ta/max", b"5", props={"TopicAlias": maximum})
        r.publish("", b"6", props={"TopicAlias": maximum})
        r.publish("", b"7", qos=1, props={"TopicAlias": 1})
        got = [sub.recv_publish() for _ in range(7)]
        self.assertEqual([(p.topic, p.payload) for p in got],
                         [("ta/one", b"1"), ("ta/one", b"2"), ("ta/two", b"3"),
                          ("ta/two", b"4"), ("ta/max", b"5"), ("ta/max", b"6"),
                          ("ta/two", b"7")])
        # The alias is per hop: the subscriber (no Topic Alias Maximum) never
        # sees one [MQTT-3.1.2-26].
        self.assertFalse(any("TopicAlias" in p.props for p in got))

    def test_alias_above_maximum(self):
        r, maximum = self._alias_client()
        r.send(mq.publish("ta/x", b"x", props={"TopicAlias": maximum + 1}))
        self.assertClosedWith(r, {mq.RC_TOPIC_ALIAS_INVALID})  # [MQTT-3.3.2-9]

    def test_alias_zero(self):
        r, _ = self._alias_client()
        r.send(mq.publish("ta/x", b"x", props={"TopicAlias": 0}))
        # [MQTT-3.3.2-8]: 0 is never a valid alias. mosquitto says 0x81.
        self.assertClosedWith(r, spec_rcs({mq.RC_TOPIC_ALIAS_INVALID, mq.RC_PROTOCOL_ERROR},
                                          mosquitto={mq.RC_MALFORMED}))

    def test_unknown_alias(self):
        r, _ = self._alias_client()
        r.send(mq.publish("", b"x", props={"TopicAlias": 2}))
        # 3.3.2.3.4: empty topic with an alias we never set is a Protocol Error.
        self.assertClosedWith(r, {mq.RC_PROTOCOL_ERROR})

    def test_aliases_do_not_survive_reconnect(self):
        cid = "alias-re"
        r, _ = self._alias_client(cid)
        r.publish("ta/a", b"x", props={"TopicAlias": 1})
        r.disconnect()
        r, _ = self._alias_client(cid)
        r.send(mq.publish("", b"x", props={"TopicAlias": 1}))  # [MQTT-3.3.2-7]
        self.assertClosedWith(r, {mq.RC_PROTOCOL_ERROR})

    def test_server_to_client_alias(self):
        # The server MAY use aliases up to our Topic Alias Maximum; whatever it
        # does must resolve to the right topics [MQTT-3.3.2-10], 3.3.2.3.4.
        r = self.raw(V5, client_id="alias-in", props={"TopicAliasMaximum": 2})
        r.subscribe("sa/#", 0)
        pub = self.client(version=V5)
        sent = [f"sa/topic/{i % 4}" for i in range(16)]
        for t in sent:
            pub.publish(t, t.encode(), 0)
        table, resolved = {}, []
        for _ in sent:
            p = r.recv_publish()
            alias = p.props.get("TopicAlias")
            if alias is None:
                self.assertTrue(p.topic)
                resolved.append(p.topic)
                continue
            self.assertTrue(1 <= alias <= 2, f"alias {alias} above our maximum 2")
            if p.topic:
                table[alias] = p.topic
            self.assertIn(alias, table, "alias used before it was set")
            resolved.append(table[alias])
            self.assertEqual(p.payload, table[alias].encode())
        self.assertEqual(resolved, sent)

    def test_no_alias_without_client_maximum(self):
        r = self.raw(V5, client_id="alias-none")
        r.subscribe("sn/#", 0)
        pub = self.client(version=V5)
        for i in range(10):
            pub.publish("sn/same/long/topic/name", str(i).encode(), 0)
        for i in range(10):
            p = r.recv_publish()
            self.assertNotIn("TopicAlias", p.props)  # [MQTT-3.1.2-26]
            self.assertEqual(p.topic, "sn/same/long/topic/name")


class ExpiryTest(BrokerTest):
    def test_message_expiry_while_queued(self):
        pub = self.client(version=V5)
        subs = {}
        for v in VERSIONS:
            c = self.client(f"exp{v}", version=v, **paho_session_kw(v))
            c.subscribe(f"exp/{v}", 1)
            c.disconnect()
            subs[v] = c
        for v in VERSIONS:
            pub.publish(f"exp/{v}", b"short", 1, props={"MessageExpiryInterval": 1})
            pub.publish(f"exp/{v}", b"long", 1, props={"MessageExpiryInterval": 60})
            pub.publish(f"exp/{v}", b"forever", 1)
        time.sleep(2.0)
        for v, c in subs.items():
            with self.subTest(version=v):
                c.connect()
                got = c.recv_n(2)
                c.expect_nothing(0.3)
                # [MQTT-3.3.2-5]: the expired one is not delivered.
                self.assertEqual([m.payload for m in got], [b"long", b"forever"])
                if v == V5:
                    # [MQTT-3.3.2-6]: remaining lifetime, not the original 60.
                    left = got[0].props.get("MessageExpiryInterval")
                    self.assertIsNotNone(left)
                    self.assertLessEqual(left, 58)
                    self.assertGreaterEqual(left, 50)
                    self.assertNotIn("MessageExpiryInterval", got[1].props)

    def test_live_expiry_forwarded(self):
        sub = self.client(version=V5)
        sub.subscribe("live/exp", 1)
        self.client(version=V5).publish("live/exp", b"x", 1, props={"MessageExpiryInterval": 60})
        left = sub.recv().props.get("MessageExpiryInterval")
        self.assertIsNotNone(left)
        self.assertTrue(55 <= left <= 60, left)


class PropertiesTest(BrokerTest):
    def test_v5_properties_passthrough(self):
        sub5 = self.client(version=V5)
        sub5.subscribe("props/t", 1)
        sub4 = self.client(version=V311)
        sub4.subscribe("props/t", 1)
        payload = "héllo wörld".encode()
        props = {
            "UserProperty": [("a", "1"), ("b", "2"), ("a", "3"), ("ключ", "значение")],
            "ContentType": "application/json; charset=utf-8",
            "ResponseTopic": "props/reply",
            "CorrelationData": b"\x00\x01corr\xff",
            "PayloadFormatIndicator": 1,
        }
        self.client(version=V5).publish("props/t", payload, 1, props=props)
        m = sub5.recv()
        self.assertEqual(m.payload, payload)
        # Order and repeats of user properties kept [MQTT-3.3.2-17/18].
        self.assertEqual(m.props.get("UserProperty"), props["UserProperty"])
        for k in ("ContentType", "ResponseTopic", "CorrelationData", "PayloadFormatIndicator"):
            self.assertEqual(m.props.get(k), props[k], k)  # [MQTT-3.3.2-4/15/16/20]
        m4 = sub4.recv()
        self.assertEqual((m4.payload, m4.qos), (payload, 1))

    def test_v311_publish_to_v5_subscriber_has_no_properties(self):
        sub = self.raw(V5, client_id="noprops")
        sub.subscribe("np", 1)
        self.client(version=V311).publish("np", b"plain", 1)
        p = sub.recv_publish()
        self.assertEqual(p.payload, b"plain")
        self.assertEqual(p.props, {})
        sub.ack(p)

    def test_request_response_pattern(self):
        # A responder uses Response Topic + Correlation Data from the request.
        responder = self.client(version=V5)
        responder.subscribe("svc/request", 1)
        requester = self.client(version=V5)
        requester.subscribe("svc/reply/me", 1)
        requester.publish("svc/request", b"ping", 1, props={
            "ResponseTopic": "svc/reply/me", "CorrelationData": b"id-42"})
        req = responder.recv()
        responder.publish(req.props["ResponseTopic"], b"pong", 1,
                          props={"CorrelationData": req.props["CorrelationData"]})
        rep = requester.recv()
        self.assertEqual((rep.topic, rep.payload, rep.props.get("CorrelationData")),
                         ("svc/reply/me", b"pong", b"id-42"))


class FlowControlTest(BrokerTest):
    def _receive_maximum_client(self, n):
        r = self.raw(V5, client_id="rm1", props={"ReceiveMaximum": 2})
        r.subscribe("rm", 1)
        pub = self.client(version=V5)
        for i in range(n):
            pub.publish("rm", str(i).encode(), 1)
        inflight = [r.recv_publish(), r.recv_publish()]
        r.expect_nothing()  # [MQTT-3.3.4-9]: no more than 2 unacknowledged
        return r, inflight

    def test_receive_maximum_qos1(self):
        r, got = self._receive_maximum_client(6)
        for p in list(got):
            r.ack(p)
        while len(got) < 6:
            p = r.recv_publish()
            r.ack(p)
            got.append(p)
        self.assertEqual([int(p.payload) for p in got], list(range(6)))
        r.expect_nothing(0.2)

    @natter_only("mosquitto 2.0.11 refills past the client's Receive Maximum after a PUBACK")
    def test_receive_maximum_refill(self):
        r, inflight = self._receive_maximum_client(6)
        got = list(inflight)
        while len(got) < 6:
            r.ack(inflight.pop(0))
            p = r.recv_publish()
            inflight.append(p)
            got.append(p)
            if len(got) < 6:
                r.expect_nothing(0.2)  # exactly one slot was freed
        self.assertEqual([int(p.payload) for p in got], list(range(6)))

    def test_receive_maximum_counts_qos2_until_pubcomp(self):
        r = self.raw(V5, client_id="rm2", props={"ReceiveMaximum": 1})
        r.subscribe("rm2", 2)
        pub = self.client(version=V5)
        pub.publish("rm2", b"0", 2)
        pub.publish("rm2", b"1", 2)
        p = r.recv_publish()
        r.send(mq.pubrec(p.packet_id))
        r.expect(mq.PUBREL)
        r.expect_nothing()  # still in flight until PUBCOMP
        r.send(mq.pubcomp(p.packet_id))
        p2 = r.recv_publish()
        self.assertEqual((p.payload, p2.payload), (b"0", b"1"))
        r.ack(p2)

    def test_client_maximum_packet_size(self):
        r = self.raw(V5, client_id="mps", props={"MaximumPacketSize": 100})
        r.subscribe("mps", 1)
        pub = self.client(version=V5)
        pub.publish("mps", b"x" * 300, 1)
        pub.publish("mps", b"y" * 300, 0)
        pub.publish("mps", b"small", 1)
        # [MQTT-3.1.2-25]: too large for us -> discarded, not sent.
        p = r.recv_publish()
        self.assertEqual(p.payload, b"small")
        r.ack(p)
        r.expect_nothing()

    def test_large_payload(self):
        payload = bytes(range(256)) * 4096  # 1 MiB
        subs = [self.client(version=v) for v in VERSIONS]
        for s in subs:
            s.subscribe("big", 1)
        self.client(version=V5).publish("big", payload, 1, timeout=20)
        for s in subs:
            self.assertEqual(s.recv(timeout=20).payload, payload)

    def test_empty_payload(self):
        sub = self.client(version=V5)
        sub.subscribe("empty", 1)
        self.client(version=V311).publish("empty", b"", 1)
        m = sub.recv()
        self.assertEqual((m.payload, m.qos), (b"", 1))


class ServerPacketSizeTest(BrokerTest):
    broker_config = ["max_packet_size 1000"]

    def test_v5_connack_announces_maximum_packet_size(self):
        r = self.raw(V5, connect=False)
        self.assertEqual(r.connect("mps5").props.get("MaximumPacketSize"), 1000)

    def test_oversized_packet_closes_connection(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.raw(v, client_id=f"big{v}")
                r.send(mq.publish("big", b"x" * 2000, version=v))
                self.assertClosedWith(r, {mq.RC_PACKET_TOO_LARGE})  # [MQTT-3.2.2-15]
        ok = self.raw(V5, client_id="fits")
        self.assertIsNone(ok.publish("fits", b"x" * 500))
        self.assertTrue(ok.is_open(0.2))


@natter_only("mosquitto 2.0.11 does not enforce its own Receive Maximum on clients")
class ServerReceiveMaximumTest(BrokerTest):
    def test_receive_maximum_exceeded(self):
        r = self.raw(V5, connect=False)
        limit = r.connect("flood").props.get("ReceiveMaximum", 65535)
        self.assertLess(limit, 65535, "no Receive Maximum to exceed")
        for i in range(1, limit + 2):
            r.try_send(mq.publish("flood", b"x", 2, packet_id=i))
        got = r.wait_closed()  # [MQTT-3.3.4-8]: DISCONNECT 0x93
        self.assertEqual([p.type for p in got if p.type != mq.PUBREC], [mq.DISCONNECT])
        self.assertEqual(got[-1].rc, mq.RC_RECEIVE_MAXIMUM_EXCEEDED)

    def test_v311_has_no_receive_maximum(self):
        # Receive Maximum is a 5.0 promise: a 3.1.1 client with many QoS 2 messages awaiting
        # PUBREL (more than max_inflight_messages, 20) is served, not cut off.
        r = self.raw(V311, client_id="many-qos2")
        for i in range(1, 41):
            r.send(mq.publish("many", b"x", 2, packet_id=i, version=V311))
            self.assertEqual(r.expect(mq.PUBREC).packet_id, i)
        for i in range(1, 41):
            r.send(mq.pubrel(i, version=V311))
            self.assertEqual(r.expect(mq.PUBCOMP).packet_id, i)
        self.assertTrue(r.is_open())


if __name__ == "__main__":
    unittest.main()
