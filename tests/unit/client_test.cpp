// The client library without sockets: URLs, packet identifiers, backoff, and the session
// (QoS flows, inflight window, resend on reconnect, topic aliases) driven by plain calls;
// natter-pub/-sub option parsing and -F output as mosquitto_pub/_sub define them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <set>
#include <string>
#include <vector>

#include "client/backoff.hpp"
#include "client/errors.hpp"
#include "client/packet_ids.hpp"
#include "client/session.hpp"
#include "client/url.hpp"
#include "mqtt_tool_options.hpp"
#include "output_format.hpp"

namespace client = natter::client;
namespace cli = natter::cli;
namespace mqtt = natter::mqtt;

// ================================================================ URLs

TEST(ParseUrl, SchemesChooseTransportAndDefaultPort) {
  struct {
    const char* url;
    client::transport_kind t;
    std::uint16_t port;
  } cases[] = {{"mqtt://h", client::transport_kind::tcp, 1883},
               {"mqtts://h", client::transport_kind::tls, 8883},
               {"ws://h", client::transport_kind::ws, 80},
               {"wss://h", client::transport_kind::wss, 443},
               {"MQTT://h", client::transport_kind::tcp, 1883},
               {"tcp://h", client::transport_kind::tcp, 1883},
               {"ssl://h", client::transport_kind::tls, 8883}};
  for (const auto& c : cases) {
    auto r = client::parse_url(c.url);
    ASSERT_TRUE(r) << c.url;
    EXPECT_EQ(r->transport, c.t) << c.url;
    EXPECT_EQ(r->port, c.port) << c.url;
    EXPECT_FALSE(r->port_given);
    EXPECT_EQ(r->host, "h");
    EXPECT_EQ(r->path, "");
  }
}

TEST(ParseUrl, UserPasswordHostPortPath) {
  auto r = client::parse_url("mqtt://alice:s3cret@broker.example:1884/home/lights");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->username, "alice");
  EXPECT_EQ(r->password, "s3cret");
  EXPECT_EQ(r->host, "broker.example");
  EXPECT_EQ(r->port, 1884);
  EXPECT_TRUE(r->port_given);
  EXPECT_EQ(r->path, "/home/lights");
}

TEST(ParseUrl, UserWithoutPasswordAndPercentEscapes) {
  auto r = client::parse_url("ws://bob@h:9001/mqtt");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->username, "bob");
  EXPECT_FALSE(r->password);
  EXPECT_EQ(r->path, "/mqtt");
  auto e = client::parse_url("mqtt://a%40b:p%3Aw@h");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->username, "a@b");
  EXPECT_EQ(e->password, "p:w");
  // The last '@' ends the user info.
  auto at = client::parse_url("mqtt://u:p@ss@h/t");
  ASSERT_TRUE(at);
  EXPECT_EQ(at->password, "p@ss");
  EXPECT_EQ(at->host, "h");
}

TEST(ParseUrl, Ipv6HostInBrackets) {
  auto r = client::parse_url("mqtts://[::1]:8884/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "::1");
  EXPECT_EQ(r->port, 8884);
  auto d = client::parse_url("ws://[fe80::1]");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "fe80::1");
  EXPECT_EQ(d->port, 80);
}

TEST(ParseUrl, Errors) {
  EXPECT_EQ(client::parse_url("http://h").error(), client::errc::unsupported_scheme);
  for (const char* bad :
       {"h:1883", "mqtt://", "mqtt://:1883", "mqtt://h:", "mqtt://h:0", "mqtt://h:65536",
        "mqtt://h:12x", "mqtt://[::1", "mqtt://[::1]x", "mqtt://u%zz@h"}) {
    auto r = client::parse_url(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error(), client::errc::invalid_url) << bad;
    }
  }
}

// ================================================================ packet ids

TEST(PacketIds, RoundRobinSkippingIdsInUse) {
  client::packet_id_allocator ids;
  EXPECT_EQ(ids.allocate(), 1);
  EXPECT_EQ(ids.allocate(), 2);
  EXPECT_EQ(ids.allocate(), 3);
  ids.release(2);
  // A released id is not reused at once: a late ack cannot be taken for the new exchange.
  EXPECT_EQ(ids.allocate(), 4);
  EXPECT_TRUE(ids.in_use(1));
  EXPECT_FALSE(ids.in_use(2));
  EXPECT_EQ(ids.size(), 3u);
}

TEST(PacketIds, WrapsAfter65535AndNeverHandsOutZero) {
  client::packet_id_allocator ids;
  for (int i = 1; i <= 65535; ++i) ASSERT_EQ(ids.allocate(), i);
  EXPECT_EQ(ids.allocate(), 0) << "all in use";
  ids.release(7);
  ids.release(40000);
  EXPECT_EQ(ids.allocate(), 7);
  EXPECT_EQ(ids.allocate(), 40000);
  EXPECT_EQ(ids.allocate(), 0);
  ids.clear();
  EXPECT_EQ(ids.size(), 0u);
  EXPECT_NE(ids.allocate(), 0);
}

TEST(PacketIds, ReserveAndReleaseUnknown) {
  client::packet_id_allocator ids;
  EXPECT_FALSE(ids.in_use(0));
  EXPECT_TRUE(ids.reserve(5));
  EXPECT_FALSE(ids.reserve(5));
  EXPECT_FALSE(ids.reserve(0));
  ids.release(9);  // not in use: no effect
  EXPECT_EQ(ids.size(), 1u);
  for (int i = 1; i < 5; ++i) EXPECT_EQ(ids.allocate(), i);
  EXPECT_EQ(ids.allocate(), 6);
}

// ================================================================ backoff

TEST(Backoff, DoublesUpToTheCapWithoutJitter) {
  client::reconnect_options o;
  o.initial_delay = std::chrono::milliseconds(100);
  o.max_delay = std::chrono::milliseconds(1000);
  o.jitter = 0;
  client::backoff b(o, 1);
  std::vector<long> got;
  for (int i = 0; i < 7; ++i) got.push_back(static_cast<long>(b.next().count()));
  EXPECT_EQ(got, (std::vector<long>{100, 200, 400, 800, 1000, 1000, 1000}));
  b.reset();
  EXPECT_EQ(b.next().count(), 100);
}

TEST(Backoff, JitterStaysWithinTheFraction) {
  client::reconnect_options o;
  o.initial_delay = std::chrono::milliseconds(1000);
  o.max_delay = std::chrono::milliseconds(1000);
  o.jitter = 0.25;
  client::backoff b(o, 42);
  std::set<long> seen;
  for (int i = 0; i < 200; ++i) {
    const long d = static_cast<long>(b.next().count());
    EXPECT_GE(d, 750);
    EXPECT_LE(d, 1250);
    seen.insert(d);
  }
  EXPECT_GT(seen.size(), 20u) << "delays are spread, not all equal";
}

// ================================================================ session

namespace {

// Records what the session sends and delivers; QoS 0 "written" callbacks run at once.
struct recorder : client::session_events {
  std::vector<mqtt::packet> sent;
  std::vector<mqtt::publish> delivered;
  void send(const mqtt::packet& p, client::publish_handler written) override {
    sent.push_back(p);
    if (written) written({});
  }
  void deliver(mqtt::publish& p) override { delivered.push_back(p); }

  template <class T>
  std::vector<T> of() const {
    std::vector<T> out;
    for (const auto& p : sent) {
      if (auto* x = std::get_if<T>(&p)) out.push_back(*x);
    }
    return out;
  }
};

mqtt::connack accept(bool session_present = false, std::uint16_t receive_maximum = 0,
                     std::uint16_t topic_alias_maximum = 0) {
  mqtt::connack ca;
  ca.session_present = session_present;
  if (receive_maximum) ca.props.receive_maximum = receive_maximum;
  if (topic_alias_maximum) ca.props.topic_alias_maximum = topic_alias_maximum;
  return ca;
}

mqtt::publish msg(std::string topic, std::string payload, mqtt::qos q = mqtt::qos::at_most_once) {
  mqtt::publish p;
  p.topic = std::move(topic);
  p.payload = std::move(payload);
  p.qos = q;
  return p;
}

struct session_fixture : ::testing::Test {
  recorder ev;
  std::vector<std::error_code> done;
  client::publish_handler track() {
    return [this](std::error_code ec) { done.push_back(ec); };
  }
  static client::session_config v5(std::uint16_t max_inflight = 65535,
                                   std::uint16_t alias_max = 0) {
    return {mqtt::version::v5, max_inflight, alias_max, 0, true};
  }
};

}  // namespace

TEST_F(session_fixture, Qos0SentAtOnceWhenOnlineAndCompletedWhenWritten) {
  client::session s(ev, v5());
  s.on_connected(accept());
  EXPECT_FALSE(s.publish(msg("a", "x"), track()));
  ASSERT_EQ(ev.of<mqtt::publish>().size(), 1u);
  EXPECT_EQ(ev.of<mqtt::publish>()[0].packet_id, 0);
  EXPECT_EQ(done, std::vector<std::error_code>{std::error_code{}});
}

TEST_F(session_fixture, QueuedWhileOfflineThenSentInOrderOnConnect) {
  client::session s(ev, v5());
  EXPECT_FALSE(s.publish(msg("a", "1", mqtt::qos::at_least_once), track()));
  EXPECT_FALSE(s.publish(msg("a", "2"), track()));
  EXPECT_FALSE(s.publish(msg("a", "3", mqtt::qos::exactly_once), track()));
  EXPECT_TRUE(ev.sent.empty());
  EXPECT_EQ(s.queued(), 3u);
  s.on_connected(accept());
  const auto pubs = ev.of<mqtt::publish>();
  ASSERT_EQ(pubs.size(), 3u);
  EXPECT_EQ(pubs[0].payload, "1");
  EXPECT_EQ(pubs[0].packet_id, 1);
  EXPECT_EQ(pubs[1].payload, "2");
  EXPECT_EQ(pubs[1].packet_id, 0);
  EXPECT_EQ(pubs[2].payload, "3");
  EXPECT_EQ(pubs[2].packet_id, 2);
  EXPECT_EQ(s.inflight(), 2u);
}

TEST_F(session_fixture, Qos1CompletesOnPubackAndReleasesTheId) {
  client::session s(ev, v5());
  s.on_connected(accept());
  EXPECT_FALSE(s.publish(msg("a", "x", mqtt::qos::at_least_once), track()));
  const auto id = ev.of<mqtt::publish>().at(0).packet_id;
  EXPECT_TRUE(done.empty());
  mqtt::packet ack = mqtt::puback{id};
  EXPECT_FALSE(s.on_packet(ack));
  EXPECT_EQ(done, std::vector<std::error_code>{std::error_code{}});
  EXPECT_EQ(s.inflight(), 0u);
  EXPECT_EQ(s.packet_ids_in_use(), 0u);
}

TEST_F(session_fixture, FailingPubackReasonReachesTheHandler) {
  client::session s(ev, v5());
  s.on_connected(accept());
  EXPECT_FALSE(s.publish(msg("a", "x", mqtt::qos::at_least_once), track()));
  mqtt::packet ack = mqtt::puback{1, mqtt::reason_code::not_authorized};
  EXPECT_FALSE(s.on_packet(ack));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], mqtt::make_error_code(mqtt::reason_code::not_authorized));
  // "No matching subscribers" (0x10) is a success.
  EXPECT_FALSE(s.publish(msg("a", "y", mqtt::qos::at_least_once), track()));
  mqtt::packet ok = mqtt::puback{2, mqtt::reason_code::no_matching_subscribers};
  EXPECT_FALSE(s.on_packet(ok));
  EXPECT_EQ(done.at(1), std::error_code{});
}

TEST_F(session_fixture, Qos2FullFlow) {
  client::session s(ev, v5());
  s.on_connected(accept());
  EXPECT_FALSE(s.publish(msg("a", "x", mqtt::qos::exactly_once), track()));
  mqtt::packet rec = mqtt::pubrec{1};
  EXPECT_FALSE(s.on_packet(rec));
  ASSERT_EQ(ev.of<mqtt::pubrel>().size(), 1u);
  EXPECT_EQ(ev.of<mqtt::pubrel>()[0].packet_id, 1);
  EXPECT_TRUE(done.empty()) << "QoS 2 completes on PUBCOMP, not PUBREC";
  EXPECT_EQ(s.inflight(), 1u) << "awaiting PUBCOMP still counts against Receive Maximum";
  mqtt::packet comp = mqtt::pubcomp{1};
  EXPECT_FALSE(s.on_packet(comp));
  EXPECT_EQ(done, std::vector<std::error_code>{std::error_code{}});
  EXPECT_EQ(s.packet_ids_in_use(), 0u);
}

TEST_F(session_fixture, FailingPubrecEndsTheExchangeWithoutPubrel) {
  client::session s(ev, v5());
  s.on_connected(accept());
  EXPECT_FALSE(s.publish(msg("a", "x", mqtt::qos::exactly_once), track()));
  mqtt::packet rec = mqtt::pubrec{1, mqtt::reason_code::quota_exceeded};
  EXPECT_FALSE(s.on_packet(rec));
  EXPECT_TRUE(ev.of<mqtt::pubrel>().empty());
  EXPECT_EQ(done,
            std::vector<std::error_code>{mqtt::make_error_code(mqtt::reason_code::quota_exceeded)});
  EXPECT_EQ(s.inflight(), 0u);
}

TEST_F(session_fixture, UnknownPubrecIsAnsweredWithPacketIdentifierNotFound) {
  client::session s(ev, v5());
  s.on_connected(accept());
  mqtt::packet rec = mqtt::pubrec{42};
  EXPECT_FALSE(s.on_packet(rec));
  ASSERT_EQ(ev.of<mqtt::pubrel>().size(), 1u);
  EXPECT_EQ(ev.of<mqtt::pubrel>()[0].reason, mqtt::reason_code::packet_identifier_not_found);
}

TEST_F(session_fixture, ReceiveMaximumLimitsTheInflightWindow) {  // v5 [MQTT-3.3.4-7]
  client::session s(ev, v5());
  s.on_connected(accept(false, 2));
  for (int i = 0; i < 5; ++i)
    EXPECT_FALSE(s.publish(msg("a", std::to_string(i), mqtt::qos::at_least_once), track()));
  EXPECT_EQ(ev.of<mqtt::publish>().size(), 2u);
  EXPECT_EQ(s.inflight(), 2u);
  EXPECT_EQ(s.queued(), 3u);
  mqtt::packet ack = mqtt::puback{1};
  EXPECT_FALSE(s.on_packet(ack));
  const auto pubs = ev.of<mqtt::publish>();
  ASSERT_EQ(pubs.size(), 3u);
  EXPECT_EQ(pubs[2].payload, "2");
  EXPECT_EQ(s.inflight(), 2u);
  // QoS 0 is not held back by the window when nothing is queued ahead of it... but keeps
  // its place behind queued messages.
  EXPECT_FALSE(s.publish(msg("a", "q0"), track()));
  EXPECT_EQ(ev.of<mqtt::publish>().size(), 3u);
}

TEST_F(session_fixture, OwnMaxInflightAppliesWhenSmallerThanTheServers) {
  client::session s(ev, v5(1));
  s.on_connected(accept(false, 10));
  EXPECT_EQ(s.window(), 1u);
  EXPECT_FALSE(s.publish(msg("a", "1", mqtt::qos::exactly_once), track()));
  EXPECT_FALSE(s.publish(msg("a", "2", mqtt::qos::exactly_once), track()));
  EXPECT_EQ(ev.of<mqtt::publish>().size(), 1u);
}

TEST_F(session_fixture, ResumedSessionResendsWithDupAndPubrel) {  // [MQTT-4.4.0-1]
  client::session s(ev, v5());
  s.on_connected(accept());
  EXPECT_FALSE(s.publish(msg("a", "one", mqtt::qos::at_least_once), track()));
  EXPECT_FALSE(s.publish(msg("a", "two", mqtt::qos::exactly_once), track()));
  EXPECT_FALSE(s.publish(msg("a", "three", mqtt::qos::exactly_once), track()));
  mqtt::packet rec = mqtt::pubrec{3};
  EXPECT_FALSE(s.on_packet(rec));  // "three" now awaits PUBCOMP
  s.on_connection_lost();
  ev.sent.clear();
  s.on_connected(accept(true));
  ASSERT_EQ(ev.sent.size(), 3u);
  auto* p1 = std::get_if<mqtt::publish>(&ev.sent[0]);
  auto* p2 = std::get_if<mqtt::publish>(&ev.sent[1]);
  auto* rel = std::get_if<mqtt::pubrel>(&ev.sent[2]);
  ASSERT_TRUE(p1 && p2 && rel);
  EXPECT_EQ(p1->packet_id, 1);
  EXPECT_TRUE(p1->dup);
  EXPECT_EQ(p1->payload, "one");
  EXPECT_EQ(p2->packet_id, 2);
  EXPECT_TRUE(p2->dup);
  EXPECT_EQ(rel->packet_id, 3);
  EXPECT_TRUE(done.empty());
}

TEST_F(session_fixture, LostSessionRequeuesAsNewMessages) {
  client::session s(ev, v5());
  s.on_connected(accept());
  EXPECT_FALSE(s.publish(msg("a", "one", mqtt::qos::at_least_once), track()));
  EXPECT_FALSE(s.publish(msg("a", "two", mqtt::qos::exactly_once), track()));
  mqtt::packet rec = mqtt::pubrec{2};
  EXPECT_FALSE(s.on_packet(rec));
  s.on_connection_lost();
  EXPECT_FALSE(s.publish(msg("a", "later", mqtt::qos::at_least_once), track()));
  ev.sent.clear();
  s.on_connected(accept(false));
  // "two" got its PUBREC: the server owns it, done. "one" goes again, before "later".
  EXPECT_EQ(done, std::vector<std::error_code>{std::error_code{}});
  const auto pubs = ev.of<mqtt::publish>();
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_EQ(pubs[0].payload, "one");
  EXPECT_FALSE(pubs[0].dup);
  EXPECT_EQ(pubs[1].payload, "later");
  EXPECT_TRUE(ev.of<mqtt::pubrel>().empty());
}

TEST_F(session_fixture, InboundQos1And2AreAcknowledgedAndQos2DeliveredOnce) {
  client::session s(ev, v5());
  s.on_connected(accept());
  mqtt::packet p1 = msg("t", "one", mqtt::qos::at_least_once);
  std::get<mqtt::publish>(p1).packet_id = 10;
  EXPECT_FALSE(s.on_packet(p1));
  ASSERT_EQ(ev.of<mqtt::puback>().size(), 1u);
  EXPECT_EQ(ev.of<mqtt::puback>()[0].packet_id, 10);

  mqtt::packet p2 = msg("t", "two", mqtt::qos::exactly_once);
  std::get<mqtt::publish>(p2).packet_id = 11;
  mqtt::packet again = p2;
  std::get<mqtt::publish>(again).dup = true;
  EXPECT_FALSE(s.on_packet(p2));
  EXPECT_FALSE(s.on_packet(again));  // resent before our PUBREC arrived
  EXPECT_EQ(ev.of<mqtt::pubrec>().size(), 2u);
  ASSERT_EQ(ev.delivered.size(), 2u) << "the duplicate is not delivered again";
  mqtt::packet rel = mqtt::pubrel{11};
  EXPECT_FALSE(s.on_packet(rel));
  ASSERT_EQ(ev.of<mqtt::pubcomp>().size(), 1u);
  EXPECT_EQ(ev.of<mqtt::pubcomp>()[0].reason, mqtt::reason_code::success);
  // After PUBREL the identifier may carry a new message.
  EXPECT_FALSE(s.on_packet(p2));
  EXPECT_EQ(ev.delivered.size(), 3u);
  mqtt::packet unknown = mqtt::pubrel{99};
  EXPECT_FALSE(s.on_packet(unknown));
  EXPECT_EQ(ev.of<mqtt::pubcomp>().back().reason, mqtt::reason_code::packet_identifier_not_found);
}

TEST_F(session_fixture, InboundTopicAliasesResolved) {
  client::session s(ev, v5(65535, 4));
  s.on_connected(accept());
  mqtt::packet first = msg("sensors/temp", "20");
  std::get<mqtt::publish>(first).props.topic_alias = 3;
  mqtt::packet second = msg("", "21");
  std::get<mqtt::publish>(second).props.topic_alias = 3;
  EXPECT_FALSE(s.on_packet(first));
  EXPECT_FALSE(s.on_packet(second));
  ASSERT_EQ(ev.delivered.size(), 2u);
  EXPECT_EQ(ev.delivered[1].topic, "sensors/temp");

  mqtt::packet too_big = msg("x", "y");
  std::get<mqtt::publish>(too_big).props.topic_alias = 5;
  EXPECT_EQ(s.on_packet(too_big), mqtt::make_error_code(mqtt::reason_code::topic_alias_invalid));
  mqtt::packet unknown = msg("", "y");
  std::get<mqtt::publish>(unknown).props.topic_alias = 1;
  EXPECT_EQ(s.on_packet(unknown), mqtt::make_error_code(mqtt::reason_code::protocol_error));
}

TEST_F(session_fixture, OutboundTopicAliasSentOncePerConnection) {
  client::session s(ev, v5());
  s.on_connected(accept(false, 0, 2));
  for (int i = 0; i < 3; ++i) {
    auto p = msg("long/topic/name", std::to_string(i));
    p.props.topic_alias = 1;
    EXPECT_FALSE(s.publish(std::move(p), {}));
  }
  auto pubs = ev.of<mqtt::publish>();
  ASSERT_EQ(pubs.size(), 3u);
  EXPECT_EQ(pubs[0].topic, "long/topic/name");
  EXPECT_EQ(pubs[1].topic, "");
  EXPECT_EQ(pubs[2].topic, "");
  EXPECT_EQ(pubs[2].props.topic_alias, 1);
  // A new connection forgets the mapping.
  s.on_connection_lost();
  s.on_connected(accept(false, 0, 2));
  auto p = msg("long/topic/name", "again");
  p.props.topic_alias = 1;
  EXPECT_FALSE(s.publish(std::move(p), {}));
  EXPECT_EQ(ev.of<mqtt::publish>().back().topic, "long/topic/name");
  // An alias the server does not allow is dropped; the topic goes as it is.
  auto q = msg("other", "x");
  q.props.topic_alias = 3;
  EXPECT_FALSE(s.publish(std::move(q), {}));
  EXPECT_FALSE(ev.of<mqtt::publish>().back().props.topic_alias);
  EXPECT_EQ(ev.of<mqtt::publish>().back().topic, "other");
}

TEST_F(session_fixture, ServerLimitsRejectWhatTheServerCannotTake) {
  client::session s(ev, v5());
  mqtt::connack ca = accept();
  ca.props.maximum_qos = 1;
  ca.props.retain_available = 0;
  ca.props.maximum_packet_size = 64;
  s.on_connected(ca);
  client::publish_handler h = track();
  EXPECT_EQ(s.publish(msg("a", "x", mqtt::qos::exactly_once), std::move(h)),
            mqtt::make_error_code(mqtt::reason_code::qos_not_supported));
  EXPECT_TRUE(h) << "a rejected request leaves the handler to the caller";
  auto r = msg("a", "x");
  r.retain = true;
  EXPECT_EQ(s.publish(std::move(r), {}),
            mqtt::make_error_code(mqtt::reason_code::retain_not_supported));
  EXPECT_EQ(s.publish(msg("a", std::string(100, 'x')), {}),
            mqtt::make_error_code(mqtt::reason_code::packet_too_large));
  EXPECT_EQ(s.publish(msg("a/+", "x"), {}), client::errc::invalid_topic);
  EXPECT_TRUE(ev.sent.empty());
}

TEST_F(session_fixture, SubscribeCompletesOnSubackAndIsRemadeAfterALostSession) {
  client::session s(ev, v5());
  s.on_connected(accept());
  std::vector<std::uint8_t> granted;
  mqtt::subscribe sub;
  sub.subscriptions.push_back({"a/#", mqtt::qos::at_least_once});
  sub.subscriptions.push_back({"denied", mqtt::qos::at_most_once});
  EXPECT_FALSE(s.subscribe(sub, [&](std::error_code ec, const mqtt::suback& a) {
    EXPECT_FALSE(ec);
    granted = a.reasons;
  }));
  const auto sent = ev.of<mqtt::subscribe>();
  ASSERT_EQ(sent.size(), 1u);
  mqtt::suback ack;
  ack.packet_id = sent[0].packet_id;
  ack.reasons = {0x01, 0x87};
  mqtt::packet pa = ack;
  EXPECT_FALSE(s.on_packet(pa));
  EXPECT_EQ(granted, (std::vector<std::uint8_t>{0x01, 0x87}));
  ASSERT_EQ(s.subscriptions().size(), 1u);
  EXPECT_EQ(s.subscriptions()[0].sub.filter, "a/#");

  s.on_connection_lost();
  ev.sent.clear();
  s.on_connected(accept(false));
  const auto again = ev.of<mqtt::subscribe>();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].subscriptions.at(0).filter, "a/#");
  // With the session still there, nothing is remade.
  s.on_connection_lost();
  ev.sent.clear();
  s.on_connected(accept(true));
  EXPECT_TRUE(ev.of<mqtt::subscribe>().size() <= 1u);  // only the unanswered resubscription
}

TEST_F(session_fixture, UnsubscribeForgetsTheSubscription) {
  client::session s(ev, v5());
  s.on_connected(accept());
  mqtt::subscribe sub;
  sub.subscriptions.push_back({"a", mqtt::qos::at_most_once});
  EXPECT_FALSE(s.subscribe(sub, {}));
  mqtt::suback sa;
  sa.packet_id = ev.of<mqtt::subscribe>()[0].packet_id;
  sa.reasons = {0};
  mqtt::packet pa = sa;
  EXPECT_FALSE(s.on_packet(pa));
  bool unsubscribed = false;
  mqtt::unsubscribe u;
  u.filters = {"a"};
  EXPECT_FALSE(
      s.unsubscribe(u, [&](std::error_code ec, const mqtt::unsuback&) { unsubscribed = !ec; }));
  mqtt::unsuback ua;
  ua.packet_id = ev.of<mqtt::unsubscribe>()[0].packet_id;
  mqtt::packet pu = ua;
  EXPECT_FALSE(s.on_packet(pu));
  EXPECT_TRUE(unsubscribed);
  EXPECT_TRUE(s.subscriptions().empty());
  EXPECT_EQ(s.packet_ids_in_use(), 0u);
}

TEST_F(session_fixture, FailAllCompletesEverythingOnce) {
  client::session s(ev, v5());
  s.on_connected(accept(false, 1));
  EXPECT_FALSE(s.publish(msg("a", "1", mqtt::qos::at_least_once), track()));
  EXPECT_FALSE(s.publish(msg("a", "2", mqtt::qos::at_least_once), track()));
  std::error_code sub_ec;
  mqtt::subscribe sub;
  sub.subscriptions.push_back({"x", mqtt::qos::at_most_once});
  EXPECT_FALSE(s.subscribe(sub, [&](std::error_code ec, const mqtt::suback&) { sub_ec = ec; }));
  s.fail_all(client::errc::disconnected);
  EXPECT_EQ(done,
            (std::vector<std::error_code>{client::errc::disconnected, client::errc::disconnected}));
  EXPECT_EQ(sub_ec, client::errc::disconnected);
  EXPECT_EQ(s.inflight() + s.queued() + s.pending_requests() + s.packet_ids_in_use(), 0u);
  s.fail_all(client::errc::disconnected);
  EXPECT_EQ(done.size(), 2u);
}

TEST_F(session_fixture, HandlersMayPublishFromACompletion) {
  client::session s(ev, v5());
  s.on_connected(accept(false, 1));
  int chain = 0;
  std::function<void(std::error_code)> next = [&](std::error_code) {
    if (++chain < 3) {
      EXPECT_FALSE(s.publish(msg("a", std::to_string(chain), mqtt::qos::at_least_once),
                             client::publish_handler(next)));
    }
  };
  EXPECT_FALSE(s.publish(msg("a", "0", mqtt::qos::at_least_once), client::publish_handler(next)));
  for (std::uint16_t id = 1; id <= 3; ++id) {
    mqtt::packet ack = mqtt::puback{id};
    EXPECT_FALSE(s.on_packet(ack));
  }
  EXPECT_EQ(chain, 3);
  EXPECT_EQ(ev.of<mqtt::publish>().size(), 3u);
}

TEST_F(session_fixture, Version311DropsProperties) {
  client::session s(ev, {mqtt::version::v311, 65535, 0, 0, true});
  s.on_connected(accept());
  auto p = msg("a", "x");
  p.props.user_properties.emplace_back("k", "v");
  EXPECT_FALSE(s.publish(std::move(p), {}));
  EXPECT_TRUE(ev.of<mqtt::publish>().at(0).props.user_properties.empty());
}

// ================================================================ natter-pub / natter-sub options

namespace {

cli::parse_result parse(cli::tool t, std::vector<std::string> args) {
  return cli::parse_args(t, args);
}

}  // namespace

TEST(ToolOptions, PubBasics) {
  auto r = parse(cli::tool::pub, {"-h", "broker", "-p", "1884", "-t", "a/b", "-m", "hello", "-q",
                                  "2", "-r", "-u", "u", "-P", "pw", "-i", "me", "-k", "30"});
  ASSERT_EQ(r.what, cli::parse_result::outcome::run) << r.error;
  const auto& o = r.opts;
  EXPECT_EQ(o.host, "broker");
  EXPECT_EQ(o.port, 1884);
  EXPECT_EQ(o.topic, "a/b");
  EXPECT_EQ(o.mode, cli::pub_mode::message);
  EXPECT_EQ(o.message, "hello");
  EXPECT_EQ(o.qos, 2);
  EXPECT_TRUE(o.retain);
  EXPECT_EQ(o.username, "u");
  EXPECT_EQ(o.password, "pw");
  EXPECT_EQ(o.id, "me");
  EXPECT_EQ(o.keepalive, 30);
  EXPECT_EQ(o.version, mqtt::version::v311);
}

TEST(ToolOptions, PubNeedsTopicAndMessage) {
  auto r = parse(cli::tool::pub, {"-t", "a"});
  EXPECT_EQ(r.what, cli::parse_result::outcome::error);
  EXPECT_EQ(r.error, "Error: Both topic and message must be supplied.\n");
  EXPECT_TRUE(r.usage);
  auto two = parse(cli::tool::pub, {"-t", "a", "-m", "x", "-n"});
  EXPECT_EQ(two.error, "Error: Only one type of message can be sent at once.\n\n");
  auto bad = parse(cli::tool::pub, {"-t", "a/#", "-m", "x"});
  EXPECT_EQ(bad.error, "Error: Invalid publish topic 'a/#', does it contain '+' or '#'?\n");
}

TEST(ToolOptions, MosquittoErrorTexts) {
  struct {
    cli::tool t;
    std::vector<std::string> args;
    const char* error;
  } cases[] = {
      {cli::tool::pub, {"-t", "a", "-m", "x", "-q", "3"}, "Error: Invalid QoS given: 3\n"},
      {cli::tool::pub,
       {"-t", "a", "-m", "x", "-k", "3"},
       "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.\n\n"},
      {cli::tool::pub,
       {"-t", "a", "-m", "x", "-V", "7"},
       "Error: Invalid protocol version argument given.\n\n"},
      {cli::tool::pub, {"-t", "a", "-m", "x", "-p", "70000"}, "Error: Invalid port given: 70000\n"},
      {cli::tool::pub,
       {"-t", "a", "-m", "x", "-c"},
       "Error: You must provide a client id if you are using the -c option.\n"},
      {cli::tool::pub,
       {"-t", "a", "-m", "x", "-c", "-V", "5"},
       "Error: You must provide a client id if you are using an infinite session expiry "
       "interval.\n"},
      {cli::tool::pub, {"-t", "a", "-m", "x", "--foo"}, "Error: Unknown option '--foo'.\n"},
      {cli::tool::pub,
       {"-t", "a", "-m", "x", "-h"},
       "Error: -h argument given but no host specified.\n\n"},
      {cli::tool::pub, {"-t", "a", "-m", "x", "-v"}, "Error: Unknown option '-v'.\n"},
      {cli::tool::pub,
       {"-t", "a", "-m", "x", "--will-payload", "p"},
       "Error: Will payload given, but no will topic given.\n"},
      {cli::tool::pub,
       {"-t", "a", "-m", "x", "--will-topic", "w", "--will-qos", "4"},
       "Error: Invalid will QoS 4.\n\n"},
      {cli::tool::pub,
       {"-t", "a", "-m", "x", "-i", "a", "-I", "b"},
       "Error: -i and -I argument cannot be used together.\n\n"},
      {cli::tool::pub,
       {"-t", "a", "-m", "x", "-x", "abc"},
       "Error: session-expiry-interval not a number.\n\n"},
      {cli::tool::pub,
       {"-t", "a", "-m", "x", "--cert", "c"},
       "Error: Both certfile and keyfile must be provided if one of them is set.\n"},
      {cli::tool::pub, {"-L", "http://h/t", "-m", "x"}, "Error: unsupported URL scheme.\n\n"},
      {cli::tool::pub,
       {"-L", "mqtt://h:1883", "-m", "x"},
       "Error: Invalid URL for -L argument specified - topic missing.\n"},
      {cli::tool::sub, {}, "Error: You must specify a topic to subscribe to.\n"},
      {cli::tool::sub, {"-t", "a", "-C", "0"}, "Error: Invalid message count \"0\".\n\n"},
      {cli::tool::sub, {"-t", "a", "-W", "0"}, "Error: Invalid timeout \"0\".\n\n"},
      {cli::tool::sub,
       {"-t", "a/#/b"},
       "Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards correct?\n"},
      {cli::tool::sub, {"-t", "a", "-F", "%z"}, "Error: Invalid format specifier 'z'.\n"},
      {cli::tool::sub, {"-t", "a", "-m", "x"}, "Error: Unknown option '-m'.\n"},
      {cli::tool::sub,
       {"-t", "a", "-R", "--retained-only"},
       "Error: Combining '-R' and '--retained-only' makes no sense.\n"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.t, c.args);
    EXPECT_EQ(r.what, cli::parse_result::outcome::error) << c.error;
    EXPECT_EQ(r.error, c.error);
  }
}

TEST(ToolOptions, HelpAndVersion) {
  EXPECT_EQ(parse(cli::tool::pub, {"--help"}).what, cli::parse_result::outcome::help);
  EXPECT_EQ(parse(cli::tool::sub, {"-t", "a", "--version"}).what,
            cli::parse_result::outcome::version);
}

TEST(ToolOptions, UrlGivesCredentialsHostPortAndTopic) {
  auto r =
      parse(cli::tool::pub, {"-L", "mqtt://user:pass@example.org:1999/home/lights", "-m", "ON"});
  ASSERT_EQ(r.what, cli::parse_result::outcome::run) << r.error;
  EXPECT_EQ(r.opts.host, "example.org");
  EXPECT_EQ(r.opts.port, 1999);
  EXPECT_EQ(r.opts.username, "user");
  EXPECT_EQ(r.opts.password, "pass");
  EXPECT_EQ(r.opts.topic, "home/lights");

  auto ws = parse(cli::tool::sub, {"-L", "ws://h:9001/a/+", "-t", "b"});
  ASSERT_EQ(ws.what, cli::parse_result::outcome::run) << ws.error;
  EXPECT_EQ(ws.opts.transport, client::transport_kind::ws);
  EXPECT_EQ(ws.opts.topics, (std::vector<std::string>{"a/+", "b"}));
  auto c = cli::make_client_options(ws.opts, 1);
  EXPECT_EQ(c.transport, client::transport_kind::ws);
  EXPECT_EQ(c.port, 9001);
  EXPECT_EQ(c.ws_path, "/mqtt") << "the URL path is the topic; the request path stays /mqtt";

  auto tls = parse(cli::tool::pub, {"-L", "mqtts://h/t", "-m", "x"});
  ASSERT_EQ(tls.what, cli::parse_result::outcome::run) << tls.error;
  auto tc = cli::make_client_options(tls.opts, 1);
  EXPECT_EQ(tc.transport, client::transport_kind::tls);
  EXPECT_EQ(tc.port, 8883);
  // A later -p wins, as options apply in order.
  auto later = parse(cli::tool::pub, {"-L", "mqtt://h:1999/t", "-p", "2000", "-m", "x"});
  EXPECT_EQ(later.opts.port, 2000);
}

TEST(ToolOptions, PropertiesImplyV5AndLandInTheirPackets) {
  auto r = parse(cli::tool::pub, {"-t",
                                  "a",
                                  "-m",
                                  "x",
                                  "-D",
                                  "publish",
                                  "user-property",
                                  "k",
                                  "v",
                                  "-D",
                                  "publish",
                                  "user-property",
                                  "k",
                                  "w",
                                  "-D",
                                  "publish",
                                  "message-expiry-interval",
                                  "60",
                                  "-D",
                                  "publish",
                                  "content-type",
                                  "text/plain",
                                  "-D",
                                  "publish",
                                  "response-topic",
                                  "r/t",
                                  "-D",
                                  "publish",
                                  "correlation-data",
                                  "abc",
                                  "-D",
                                  "publish",
                                  "payload-format-indicator",
                                  "1",
                                  "-D",
                                  "connect",
                                  "session-expiry-interval",
                                  "30",
                                  "-D",
                                  "publish",
                                  "topic-alias",
                                  "1",
                                  "-D",
                                  "will",
                                  "user-property",
                                  "wk",
                                  "wv"});
  ASSERT_EQ(r.what, cli::parse_result::outcome::run) << r.error;
  const auto& o = r.opts;
  EXPECT_EQ(o.version, mqtt::version::v5);
  EXPECT_EQ(o.publish_props.user_properties,
            (std::vector<std::pair<std::string, std::string>>{{"k", "v"}, {"k", "w"}}));
  EXPECT_EQ(o.publish_props.message_expiry_interval, 60u);
  EXPECT_EQ(o.publish_props.content_type, "text/plain");
  EXPECT_EQ(o.publish_props.response_topic, "r/t");
  EXPECT_EQ(o.publish_props.correlation_data, "abc");
  EXPECT_EQ(o.publish_props.payload_format_indicator, 1);
  EXPECT_EQ(o.publish_props.topic_alias, 1);
  EXPECT_EQ(o.connect_props.session_expiry_interval, 30u);
  EXPECT_EQ(o.will_props.user_properties.size(), 1u);
  // -V after -D wins, as the last option does in mosquitto.
  auto v = parse(cli::tool::pub,
                 {"-t", "a", "-m", "x", "-D", "publish", "user-property", "k", "v", "-V", "311"});
  EXPECT_EQ(v.opts.version, mqtt::version::v311);
}

TEST(ToolOptions, PropertyErrors) {
  auto e = [](std::vector<std::string> args) {
    std::vector<std::string> all{"-t", "a", "-m", "x"};
    all.insert(all.end(), args.begin(), args.end());
    return parse(cli::tool::pub, all).error;
  };
  EXPECT_EQ(e({"-D", "publish", "user-property", "k"}),
            "Error: --property argument given but not enough arguments specified.\n\n");
  EXPECT_EQ(e({"-D", "conn", "user-property", "k", "v"}),
            "Error: Invalid command given in --property argument.\n\n");
  EXPECT_EQ(e({"-D", "publish", "foo", "5"}),
            "Error: Invalid property name given in --property argument.\n\n");
  EXPECT_EQ(e({"-D", "connect", "message-expiry-interval", "5"}),
            "Error: message-expiry-interval property not allowed for connect in --property "
            "argument.\n\n");
  EXPECT_EQ(e({"-D", "publish", "subscription-identifier", "3"}),
            "Error: subscription-identifier property not supported for publish in --property "
            "argument.\n\n");
  EXPECT_EQ(e({"-D", "publish", "payload-format-indicator", "300"}),
            "Error: Property value (300) out of range for property payload-format-indicator.\n\n");
  EXPECT_EQ(e({"-D", "publish", "content-type", "a", "-D", "publish", "content-type", "b"}),
            "Error in PUBLISH properties: Duplicate property in property list\n");
}

TEST(ToolOptions, SubOptions) {
  auto r =
      parse(cli::tool::sub, {"-t", "a/#", "-t", "b",  "-T", "a/x", "-U",    "old", "-C", "5",
                             "-W", "9",   "-R", "-N", "-v", "-F",  "%t %p", "-q",  "1",  "-E"});
  ASSERT_EQ(r.what, cli::parse_result::outcome::run) << r.error;
  const auto& o = r.opts;
  EXPECT_EQ(o.topics, (std::vector<std::string>{"a/#", "b"}));
  EXPECT_EQ(o.filter_outs, (std::vector<std::string>{"a/x"}));
  EXPECT_EQ(o.unsub_topics, (std::vector<std::string>{"old"}));
  EXPECT_EQ(o.msg_count, 5);
  EXPECT_EQ(o.timeout, 9);
  EXPECT_TRUE(o.no_retain);
  EXPECT_FALSE(o.eol);
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.format, "%t %p");
  EXPECT_EQ(o.qos, 1);
  EXPECT_TRUE(o.exit_after_sub);
}

TEST(ToolOptions, SessionExpiryAndClientIds) {
  auto r = parse(cli::tool::sub, {"-t", "a", "-c", "-i", "me", "-V", "mqttv5"});
  ASSERT_EQ(r.what, cli::parse_result::outcome::run) << r.error;
  auto c = cli::make_client_options(r.opts, 4242);
  EXPECT_FALSE(c.connect.clean_start);
  EXPECT_EQ(c.connect.props.session_expiry_interval, 4294967295u)
      << "-c means a session that never expires";
  auto x = parse(cli::tool::sub, {"-t", "a", "-x", "120", "-V", "5", "-C", "3"});
  auto cx = cli::make_client_options(x.opts, 4242);
  EXPECT_EQ(cx.connect.props.session_expiry_interval, 120u);
  EXPECT_EQ(cx.connect.props.receive_maximum, 3) << "-C below 20 limits the server's window";
  EXPECT_EQ(cx.connect.client_id, "natter-sub-4242");
  auto infinite = parse(cli::tool::pub, {"-t", "a", "-m", "x", "-x", "-1", "-V", "5", "-i", "id"});
  EXPECT_EQ(infinite.opts.session_expiry, 4294967295LL);
  auto prefix = parse(cli::tool::pub, {"-t", "a", "-m", "x", "-I", "pre-"});
  EXPECT_EQ(cli::make_client_options(prefix.opts, 7).connect.client_id, "pre-7");
  auto v311 = parse(cli::tool::pub, {"-t", "a", "-m", "x", "-x", "60"});
  EXPECT_FALSE(cli::make_client_options(v311.opts, 7).connect.props.session_expiry_interval)
      << "3.1.1 has no properties";
}

TEST(ToolOptions, TlsOptionsSelectTlsAndPort8883) {
  auto r = parse(cli::tool::pub, {"-t", "a", "-m", "x", "--cafile", "ca.pem", "--insecure"});
  ASSERT_EQ(r.what, cli::parse_result::outcome::run) << r.error;
  auto c = cli::make_client_options(r.opts, 1);
  EXPECT_EQ(c.transport, client::transport_kind::tls);
  EXPECT_EQ(c.port, 8883);
  EXPECT_EQ(c.tls.ca_file, "ca.pem");
  EXPECT_FALSE(c.tls.verify_hostname);
  auto p = parse(cli::tool::pub, {"-t", "a", "-m", "x", "--cafile", "ca.pem", "-p", "18883"});
  EXPECT_EQ(cli::make_client_options(p.opts, 1).port, 18883);
  auto plain = parse(cli::tool::pub, {"-t", "a", "-m", "x"});
  auto pc = cli::make_client_options(plain.opts, 1);
  EXPECT_EQ(pc.transport, client::transport_kind::tcp);
  EXPECT_EQ(pc.port, 1883);
  EXPECT_EQ(pc.host, "localhost");
}

TEST(ToolOptions, WillOptions) {
  auto r = parse(cli::tool::sub, {"-t", "a", "--will-topic", "w/t", "--will-payload", "gone",
                                  "--will-qos", "1", "--will-retain"});
  ASSERT_EQ(r.what, cli::parse_result::outcome::run) << r.error;
  auto c = cli::make_client_options(r.opts, 1);
  ASSERT_TRUE(c.connect.will);
  EXPECT_EQ(c.connect.will->topic, "w/t");
  EXPECT_EQ(c.connect.will->payload, "gone");
  EXPECT_EQ(c.connect.will->qos, mqtt::qos::at_least_once);
  EXPECT_TRUE(c.connect.will->retain);
}

// ================================================================ -F output

namespace {

struct utc_zone {
  utc_zone() {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

std::string render(const std::string& format, const mqtt::publish& m, bool eol = true) {
  static utc_zone utc;
  cli::print_options p;
  p.format = &format;
  p.eol = eol;
  std::string out, err;
  // 2020-05-06T22:12:00.123456789Z
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1588803120)) +
                 std::chrono::nanoseconds(123456789);
  cli::render_message(out, m, p, t, err);
  return out + (err.empty() ? "" : "<err:" + err + ">");
}

mqtt::publish sample() {
  mqtt::publish m;
  m.topic = "greeting";
  m.payload = "hello world";
  m.qos = mqtt::qos::at_least_once;
  m.packet_id = 7;
  m.retain = true;
  return m;
}

}  // namespace

TEST(Format, MessageFields) {
  EXPECT_EQ(render("%t|%p|%q|%r|%l|%m|%%", sample()), "greeting|hello world|1|1|11|7|%\n");
  auto bin = sample();
  bin.payload = std::string("\x00\x01\xab\xff", 4);
  EXPECT_EQ(render("%x %X", bin), "0001abff 0001ABFF\n");
  EXPECT_EQ(render("%t", sample(), false), "greeting");
}

TEST(Format, WidthsPrecisionAndFlags) {
  auto m = sample();
  m.topic = "r/1";
  m.payload = "retained1";
  EXPECT_EQ(render("%10t|%-10t|%.2t|%5l|%05l|%-5l|", m),
            "       r/1|r/1       |r/|    9|00009|9    |\n");
  EXPECT_EQ(render("%12p|%-12p|", m), "   retained1|retained1   |\n");
}

TEST(Format, EscapesAndTime) {
  EXPECT_EQ(render("a\\tb\\nc\\\\d\\0e", sample()), std::string("a\tb\nc\\d\0e\n", 10));
  EXPECT_EQ(render("@Y-@m-@d @H:@M:@S @N @@", sample()), "2020-05-06 22:12:00 123456789 @\n");
  EXPECT_EQ(render("%I", sample()), "2020-05-06T22:12:00+0000\n");
  EXPECT_EQ(render("%U", sample()), "1588803120.123456789\n");
}

TEST(Format, Json) {
  auto m = sample();
  m.payload = "a\"b\\c\x01";
  EXPECT_EQ(
      render("%j", m),
      "{\"tst\":\"2020-05-06T22:12:00.123456Z+0000\",\"topic\":\"greeting\",\"qos\":1,\"retain\":1,"
      "\"payloadlen\":6,\"mid\":7,\"payload\":\"a\\\"b\\\\c\\u0001\"}\n");
  m.qos = mqtt::qos::at_most_once;
  m.payload = "{\"temperature\":27.5,\"ok\":[true,null]}";
  m.props.user_properties.emplace_back("k", "v");
  m.props.content_type = "application/json";
  EXPECT_EQ(
      render("%J", m),
      "{\"tst\":\"2020-05-06T22:12:00.123456Z+0000\",\"topic\":\"greeting\",\"qos\":0,\"retain\":1,"
      "\"payloadlen\":37,\"properties\":{\"user-properties\":{\"k\":\"v\"},\"content-type\":"
      "\"application/json\"},\"payload\":{\"temperature\":27.5,\"ok\":[true,null]}}\n");
  m.payload = "not json";
  EXPECT_EQ(render("%J", m),
            "\n<err:Error: Message payload is not valid JSON on topic greeting.\n>");
}

TEST(Format, V5Properties) {
  auto m = sample();
  m.props.user_properties = {{"a", "1"}, {"b", "2"}};
  m.props.content_type = "text/plain";
  m.props.response_topic = "reply/here";
  m.props.correlation_data = "cd";
  m.props.message_expiry_interval = 30;
  m.props.payload_format_indicator = 1;
  m.props.subscription_identifiers = {9};
  m.props.topic_alias = 2;
  EXPECT_EQ(render("%P|%C|%R|%D|%E|%F|%S|%A", m), "a:1 b:2|text/plain|reply/here|cd|30|1|9|2\n");
  EXPECT_EQ(render("%P|%C|%R|%D|%E|", sample()),
            "||||"
            "|\n");
}

TEST(Format, DefaultAndVerboseOutput) {
  cli::print_options p;
  std::string out, err;
  const auto now = std::chrono::system_clock::now();
  cli::render_message(out, sample(), p, now, err);
  EXPECT_EQ(out, "hello world\n");
  out.clear();
  p.verbose = true;
  cli::render_message(out, sample(), p, now, err);
  EXPECT_EQ(out, "greeting hello world\n");
  // An empty payload: nothing at all, or "topic (null)" with -v, as mosquitto_sub prints.
  auto empty = sample();
  empty.payload.clear();
  out.clear();
  cli::render_message(out, empty, p, now, err);
  EXPECT_EQ(out, "greeting (null)\n");
  out.clear();
  p.verbose = false;
  cli::render_message(out, empty, p, now, err);
  EXPECT_EQ(out, "");
}

TEST(Format, CheckFormat) {
  EXPECT_FALSE(cli::check_format("%t %p %x %X %q %r %l %m %% %I %U %j %J %-010.5t @Y \\n"));
  EXPECT_EQ(cli::check_format("abc%"), "Error: Incomplete format specifier.\n");
  EXPECT_EQ(cli::check_format("abc\\"), "Error: Incomplete escape specifier.\n");
  EXPECT_EQ(cli::check_format("\\x"), "Error: Invalid escape specifier 'x'.\n");
  EXPECT_EQ(cli::check_format("%5"), "Error: Incomplete format specifier.\n");
  EXPECT_EQ(cli::check_format("@"), "Error: Incomplete format specifier.\n");
}

TEST(Json, Validator) {
  for (const char* ok :
       {"0", "-1.5e3", "\"x\"", "true", "null", "[]", "{}", " {\"a\": [1, {\"b\": \"\\u00e9\"}]} "})
    EXPECT_TRUE(cli::is_json(ok)) << ok;
  for (const char* bad :
       {"", "01", "[1,]", "{\"a\"}", "tru", "\"\\x\"", "{} {}", "[1", "1.", "\"a\nb\""})
    EXPECT_FALSE(cli::is_json(bad)) << bad;
}
