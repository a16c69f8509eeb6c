"""Persistence across a broker restart (SIGTERM, start again on the same port):
retained messages, persistent sessions with their subscriptions and queued
messages. Uses mosquitto's keys `persistence true` and `persistence_location`.

Run: NATTER_BROKER=mosquitto /usr/bin/python3 -m unittest -v 08_persistence
"""

import unittest

from harness import V5, V311, VERSIONS, BrokerTest


def paho_session_kw(version):
    return {"clean": False, "session_expiry": 3600 if version == V5 else None}


class PersistenceTest(BrokerTest):
    broker_config = ["persistence true", "persistence_location {dir}/"]

    def restart(self):
        self.broker.restart()  # checks the clean exit too

    def test_retained_survive_restart(self):
        pub = self.client(version=V5)
        pub.publish("keep/a", b"A", 1, retain=True)
        pub.publish("keep/b", b"B", 2, retain=True, props={"ContentType": "text/plain"})
        pub.publish("keep/c", b"C", 1, retain=True)
        pub.publish("keep/c", b"", 1, retain=True)  # cleared: must stay cleared
        pub.close()
        self.restart()
        c = self.client(version=V5)
        c.subscribe("keep/#", 2)
        got = {m.topic: m for m in c.recv_n(2)}
        c.expect_nothing()
        self.assertEqual(sorted(got), ["keep/a", "keep/b"])
        self.assertEqual((got["keep/a"].payload, got["keep/a"].qos, got["keep/a"].retain),
                         (b"A", 1, True))
        self.assertEqual((got["keep/b"].payload, got["keep/b"].qos), (b"B", 2))
        self.assertEqual(got["keep/b"].props.get("ContentType"), "text/plain")

    def test_session_survives_restart(self):
        subs = {}
        for v in VERSIONS:
            c = self.client(f"durable{v}", version=v, **paho_session_kw(v))
            c.subscribe(f"dur/{v}", 1)
            c.disconnect()
            subs[v] = c
        pub = self.client(version=V5)
        for v in VERSIONS:
            for i in range(5):
                pub.publish(f"dur/{v}", f"before {i}".encode(), 1)
        pub.close()
        self.restart()
        for v, c in subs.items():
            with self.subTest(version=v):
                present, rc, _ = c.connect()
                self.assertTrue(present, "session lost in the restart")
                self.assertEqual([m.payload for m in c.recv_n(5)],
                                 [f"before {i}".encode() for i in range(5)])
                # The subscription itself survived.
                self.client(version=V311).publish(f"dur/{v}", b"after", 1)
                self.assertEqual(c.recv().payload, b"after")

    def test_clean_session_not_persisted(self):
        c = self.client("ephemeral", version=V311, clean=True)
        c.subscribe("eph", 1)
        c.disconnect()
        self.restart()
        r = self.raw(V311, connect=False)
        self.assertFalse(r.connect("ephemeral", clean=False).session_present)


if __name__ == "__main__":
    unittest.main()
