// The broker core without sockets: a fake link records what the broker sends, the codec
// decodes it back, and each test checks the packets a client would have received.
#include "broker/broker.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <memory>

#include "mqtt/codec.hpp"

namespace natter::broker {
namespace {

using mqtt::qos;
using mqtt::version;

class fake_link : public link {
 public:
  explicit fake_link(version v) : v_(v) {}
  void send(frame f) override {
    if (closed) return;
    bytes.insert(bytes.end(), f->begin(), f->end());
  }
  void close() override { closed = true; }
  void set_read_timeout(std::chrono::milliseconds t) override { timeout = t; }
  const link_info& info() const override { return info_; }

  // Decodes everything sent so far.
  std::vector<mqtt::packet> take() {
    std::vector<mqtt::packet> out;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      auto r = mqtt::decode(std::span<const std::uint8_t>(bytes).subspan(pos), {v_});
      EXPECT_TRUE(r.has_value()) << r.error().message();
      if (!r) break;
      pos += r->size;
      out.push_back(std::move(r->pkt));
    }
    bytes.clear();
    return out;
  }

  bool closed = false;
  std::chrono::milliseconds timeout{0};
  std::vector<std::uint8_t> bytes;

 private:
  version v_;
  link_info info_{"test:1", "tcp", 0, std::nullopt};
};

class BrokerTest : public ::testing::Test {
 protected:
  BrokerTest() : core_(opts(), hooks_, [](std::function<void()> fn) { fn(); }) {}

  static broker_options opts() {
    broker_options o;
    o.max_inflight_messages = 2;
    o.max_queued_messages = 5;
    return o;
  }

  std::shared_ptr<fake_link> connect(const std::string& id, version v = version::v5,
                                     bool clean = true, std::uint32_t expiry = 0) {
    auto l = std::make_shared<fake_link>(v);
    core_.on_open(l);
    mqtt::connect c;
    c.protocol_version = v;
    c.client_id = id;
    c.clean_start = clean;
    c.keep_alive = 30;
    if (v == version::v5 && expiry) c.props.session_expiry_interval = expiry;
    core_.on_packet(l.get(), c);
    auto got = l->take();
    EXPECT_EQ(got.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<mqtt::connack>(got.at(0)));
    return l;
  }

  void subscribe(fake_link& l, const std::string& filter, qos q, std::uint32_t sub_id = 0) {
    mqtt::subscribe s;
    s.packet_id = 1;
    s.subscriptions.push_back({filter, q});
    if (sub_id) s.props.subscription_identifiers.push_back(sub_id);
    core_.on_packet(&l, s);
    auto got = l.take();
    ASSERT_GE(got.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<mqtt::suback>(got[0]));
  }

  void publish(fake_link& l, const std::string& topic, const std::string& payload,
               qos q = qos::at_most_once, std::uint16_t id = 0) {
    mqtt::publish p;
    p.topic = topic;
    p.payload = payload;
    p.qos = q;
    p.packet_id = id;
    core_.on_packet(&l, p);
  }

  static std::vector<mqtt::publish> publishes(const std::vector<mqtt::packet>& ps) {
    std::vector<mqtt::publish> out;
    for (auto& p : ps)
      if (auto* x = std::get_if<mqtt::publish>(&p)) out.push_back(*x);
    return out;
  }

  hooks hooks_;
  broker core_;
};

TEST_F(BrokerTest, Qos2DuplicatePublishIsDeliveredOnce) {  // [MQTT-4.3.3-?] exactly once
  auto sub = connect("sub");
  subscribe(*sub, "a/b", qos::exactly_once);
  auto pub = connect("pub");
  publish(*pub, "a/b", "x", qos::exactly_once, 7);
  publish(*pub, "a/b", "x", qos::exactly_once, 7);  // resent before PUBREL
  auto acks = pub->take();
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<mqtt::pubrec>(acks[0]));
  EXPECT_TRUE(std::holds_alternative<mqtt::pubrec>(acks[1]));
  EXPECT_EQ(publishes(sub->take()).size(), 1u);
  core_.on_packet(pub.get(), mqtt::pubrel{7, {}, {}});
  auto comp = pub->take();
  ASSERT_EQ(comp.size(), 1u);
  EXPECT_EQ(std::get<mqtt::pubcomp>(comp[0]).reason, mqtt::reason_code::success);
  // After PUBREL the id is free again: the same id now carries a new message.
  publish(*pub, "a/b", "y", qos::exactly_once, 7);
  EXPECT_EQ(publishes(sub->take()).size(), 1u);
}

TEST_F(BrokerTest, InflightWindowQueuesInOrder) {  // Receive Maximum, ordering [MQTT-4.6.0-*]
  auto sub = connect("sub");
  subscribe(*sub, "t", qos::at_least_once);
  auto pub = connect("pub");
  for (int i = 0; i < 4; ++i)
    publish(*pub, "t", std::to_string(i), qos::at_least_once, static_cast<std::uint16_t>(i + 1));
  auto first = publishes(sub->take());
  ASSERT_EQ(first.size(), 2u);  // window of 2
  EXPECT_EQ(first[0].payload, "0");
  EXPECT_EQ(first[1].payload, "1");
  core_.on_packet(sub.get(), mqtt::puback{first[0].packet_id, {}, {}});
  auto next = publishes(sub->take());
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].payload, "2");
}

TEST_F(BrokerTest, ReconnectResendsUnackedWithDup) {  // [MQTT-4.4.0-1]
  auto sub = connect("sub", version::v5, true, 100);
  subscribe(*sub, "t", qos::at_least_once);
  auto pub = connect("pub");
  publish(*pub, "t", "m", qos::at_least_once, 1);
  auto got = publishes(sub->take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].dup);
  core_.on_closed(sub.get());
  auto again = std::make_shared<fake_link>(version::v5);
  core_.on_open(again);
  mqtt::connect c;
  c.client_id = "sub";
  c.clean_start = false;
  c.props.session_expiry_interval = 100;
  core_.on_packet(again.get(), c);
  auto ps = again->take();
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_TRUE(std::get<mqtt::connack>(ps[0]).session_present);
  const auto& resent = std::get<mqtt::publish>(ps[1]);
  EXPECT_TRUE(resent.dup);
  EXPECT_EQ(resent.packet_id, got[0].packet_id);
}

TEST_F(BrokerTest,
       OverlappingSubscriptionsDeliverOnceWithAllIds) {  // [MQTT-3.3.4-2], [MQTT-3.3.4-3]
  auto sub = connect("sub");
  subscribe(*sub, "a/+", qos::at_most_once, 1);
  subscribe(*sub, "a/#", qos::at_least_once, 2);
  auto pub = connect("pub");
  publish(*pub, "a/b", "x", qos::at_least_once, 1);
  auto got = publishes(sub->take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].qos, qos::at_least_once);
  auto ids = got[0].props.subscription_identifiers;
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{1, 2}));
}

TEST_F(BrokerTest, SharedSubscriptionGivesEachMessageToOneMember) {  // [MQTT-4.8.2-*]
  auto a = connect("a");
  auto b = connect("b");
  subscribe(*a, "$share/g/jobs/#", qos::at_most_once);
  subscribe(*b, "$share/g/jobs/#", qos::at_most_once);
  auto pub = connect("pub");
  for (int i = 0; i < 10; ++i) publish(*pub, "jobs/x", std::to_string(i));
  const auto na = publishes(a->take()).size();
  const auto nb = publishes(b->take()).size();
  EXPECT_EQ(na + nb, 10u);
  EXPECT_EQ(na, 5u);  // round robin
}

TEST_F(BrokerTest, WildcardsDoNotMatchDollarTopics) {  // [MQTT-4.7.2-1]
  auto sub = connect("sub");
  subscribe(*sub, "#", qos::at_most_once);
  subscribe(*sub, "+/x", qos::at_most_once);
  core_.publish(std::make_shared<message>(message{"$SYS/x", "1"}));
  EXPECT_TRUE(publishes(sub->take()).empty());
  subscribe(*sub, "$SYS/#", qos::at_most_once);
  core_.publish(std::make_shared<message>(message{"$SYS/x", "1"}));
  EXPECT_EQ(publishes(sub->take()).size(), 1u);
}

TEST_F(BrokerTest, TakeoverSendsSessionTakenOver) {  // [MQTT-3.1.4-3]
  auto first = connect("same");
  auto second = connect("same");
  auto got = first->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<mqtt::disconnect>(got[0]).reason, mqtt::reason_code::session_taken_over);
  EXPECT_TRUE(first->closed);
  EXPECT_FALSE(second->closed);
}

TEST_F(BrokerTest, QueueBoundDropsBeyondMaxQueued) {
  auto sub = connect("sub", version::v311, false);
  subscribe(*sub, "t", qos::at_least_once);
  core_.on_packet(sub.get(), mqtt::disconnect{});
  auto pub = connect("pub");
  for (int i = 0; i < 8; ++i)
    publish(*pub, "t", std::to_string(i), qos::at_least_once, static_cast<std::uint16_t>(i + 1));
  auto back = std::make_shared<fake_link>(version::v311);
  core_.on_open(back);
  mqtt::connect c;
  c.protocol_version = version::v311;
  c.client_id = "sub";
  c.clean_start = false;
  core_.on_packet(back.get(), c);
  std::vector<std::string> seen;
  for (;;) {
    auto ps = publishes(back->take());
    if (ps.empty()) break;
    for (auto& p : ps) {
      seen.push_back(p.payload);
      core_.on_packet(back.get(), mqtt::puback{p.packet_id, {}, {}});
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"0", "1", "2", "3", "4"}));  // max_queued_messages 5
}

TEST_F(BrokerTest, TopicAliasOutboundSendsTopicOnce) {  // [MQTT-3.3.2-12]
  auto sub = std::make_shared<fake_link>(version::v5);
  core_.on_open(sub);
  mqtt::connect c;
  c.client_id = "sub";
  c.props.topic_alias_maximum = 5;
  core_.on_packet(sub.get(), c);
  sub->take();
  subscribe(*sub, "long/topic", qos::at_most_once);
  auto pub = connect("pub");
  publish(*pub, "long/topic", "1");
  publish(*pub, "long/topic", "2");
  auto got = publishes(sub->take());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].topic, "long/topic");
  ASSERT_TRUE(got[0].props.topic_alias);
  EXPECT_EQ(got[1].topic, "");
  EXPECT_EQ(got[1].props.topic_alias, got[0].props.topic_alias);
}

TEST_F(BrokerTest,
       RetainedReplacedClearedAndMatchedByWildcard) {  // [MQTT-3.3.1-5], [MQTT-3.3.1-10]
  auto pub = connect("pub");
  mqtt::publish p;
  p.retain = true;
  p.topic = "r/1";
  p.payload = "a";
  core_.on_packet(pub.get(), p);
  p.payload = "b";
  core_.on_packet(pub.get(), p);
  p.topic = "r/2";
  core_.on_packet(pub.get(), p);
  p.payload = "";
  core_.on_packet(pub.get(), p);  // clears r/2
  EXPECT_EQ(core_.retained_count(), 1u);
  auto sub = connect("sub");
  mqtt::subscribe s;
  s.packet_id = 3;
  s.subscriptions.push_back({"r/+", qos::at_most_once});
  core_.on_packet(sub.get(), s);
  auto got = sub->take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<mqtt::suback>(got[0]));  // SUBACK first
  const auto& r = std::get<mqtt::publish>(got[1]);
  EXPECT_EQ(r.payload, "b");
  EXPECT_TRUE(r.retain);
}

TEST_F(BrokerTest, FirstPacketMustBeConnect) {  // [MQTT-3.1.0-1]
  auto l = std::make_shared<fake_link>(version::v5);
  core_.on_open(l);
  core_.on_packet(l.get(), mqtt::pingreq{});
  EXPECT_TRUE(l->closed);
  EXPECT_TRUE(l->take().empty());
}

}  // namespace
}  // namespace natter::broker
