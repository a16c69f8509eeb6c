// The broker's use of the store, without SQLite: an in-memory store that holds back
// after_durable callbacks until the test releases them, and snapshots itself so a second
// broker can "restart" from it.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "broker/broker.hpp"
#include "mqtt/codec.hpp"

namespace natter::broker {
namespace {

using mqtt::qos;
using mqtt::version;
namespace db = natter::store;

class memory_store final : public db::store {
 public:
  void put_session(const db::session_record& s) override { sessions[s.client_id] = s; }
  void erase_session(const std::string& id) override {
    sessions.erase(id);
    std::erase_if(subs, [&](auto& e) { return e.first.first == id; });
    std::erase_if(deliveries, [&](auto& e) { return e.first.first == id; });
    std::erase_if(incoming, [&](auto& e) { return e.first.first == id; });
    wills.erase(id);
  }
  void put_subscription(const db::subscription_record& s) override {
    subs[{s.client_id, s.filter}] = s;
  }
  void erase_subscription(const std::string& id, const std::string& f) override {
    subs.erase({id, f});
  }
  void put_delivery(const db::delivery_record& d) override { deliveries[{d.client_id, d.seq}] = d; }
  void set_delivery_state(const std::string& id, std::uint64_t seq, std::uint16_t pid,
                          bool released) override {
    auto& d = deliveries.at({id, seq});
    d.packet_id = pid;
    d.released = released;
  }
  void erase_delivery(const std::string& id, std::uint64_t seq) override {
    deliveries.erase({id, seq});
  }
  void put_incoming(const db::incoming_record& m) override {
    incoming[{m.client_id, m.packet_id}] = m;
  }
  void erase_incoming(const std::string& id, std::uint16_t pid) override {
    incoming.erase({id, pid});
  }
  void put_retained(const db::retained_record& r) override { retained[r.topic] = r; }
  void erase_retained(const std::string& t) override { retained.erase(t); }
  void put_will(const db::will_record& w) override { wills[w.client_id] = w; }
  void erase_will(const std::string& id) override { wills.erase(id); }
  void after_durable(std::function<void()> fn) override {
    if (fn) held.push_back(std::move(fn));
  }

  void release() {
    auto fns = std::move(held);
    held.clear();
    for (auto& f : fns) f();
  }

  db::snapshot snapshot() const {
    db::snapshot s;
    for (auto& [k, v] : sessions) s.sessions.push_back(v);
    for (auto& [k, v] : subs) s.subscriptions.push_back(v);
    for (auto& [k, v] : deliveries) s.deliveries.push_back(v);
    for (auto& [k, v] : incoming) s.incoming.push_back(v);
    for (auto& [k, v] : retained) s.retained.push_back(v);
    for (auto& [k, v] : wills) s.wills.push_back(v);
    return s;
  }

  std::map<std::string, db::session_record> sessions;
  std::map<std::pair<std::string, std::string>, db::subscription_record> subs;
  std::map<std::pair<std::string, std::uint64_t>, db::delivery_record> deliveries;
  std::map<std::pair<std::string, std::uint16_t>, db::incoming_record> incoming;
  std::map<std::string, db::retained_record> retained;
  std::map<std::string, db::will_record> wills;
  std::vector<std::function<void()>> held;
};

class fake_link : public link {
 public:
  void send(frame f) override { bytes.insert(bytes.end(), f->begin(), f->end()); }
  void close() override { closed = true; }
  void set_read_timeout(std::chrono::milliseconds) override {}
  const link_info& info() const override { return info_; }
  std::vector<mqtt::packet> take() {
    std::vector<mqtt::packet> out;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      auto r = mqtt::decode(std::span<const std::uint8_t>(bytes).subspan(pos), {version::v5});
      if (!r) break;
      pos += r->size;
      out.push_back(std::move(r->pkt));
    }
    bytes.clear();
    return out;
  }
  std::vector<std::uint8_t> bytes;
  bool closed = false;
  link_info info_{"test:1", "tcp", 0, std::nullopt};
};

struct node {  // one broker "process"
  explicit node(memory_store& st, const db::snapshot& snap = {})
      : core(broker_options{}, h, [this](std::function<void()> fn) { fn(); }) {
    core.attach_store(st, snap);
  }
  std::shared_ptr<fake_link> connect(const std::string& id, bool clean, std::uint32_t expiry) {
    auto l = std::make_shared<fake_link>();
    core.on_open(l);
    mqtt::connect c;
    c.client_id = id;
    c.clean_start = clean;
    c.props.session_expiry_interval = expiry;
    core.on_packet(l.get(), c);
    core.end_event();
    return l;
  }
  void subscribe(fake_link& l, const std::string& filter, qos q) {
    mqtt::subscribe s;
    s.packet_id = 1;
    s.subscriptions.push_back({filter, q});
    packet(l, s);
  }
  void packet(fake_link& l, mqtt::packet p) {
    core.on_packet(&l, std::move(p));
    core.end_event();
  }
  hooks h;
  broker core;
};

std::vector<mqtt::publish> publishes(const std::vector<mqtt::packet>& ps) {
  std::vector<mqtt::publish> out;
  for (auto& p : ps)
    if (auto* x = std::get_if<mqtt::publish>(&p)) out.push_back(*x);
  return out;
}

mqtt::publish pub(const std::string& topic, const std::string& payload, qos q, std::uint16_t id) {
  mqtt::publish p;
  p.topic = topic;
  p.payload = payload;
  p.qos = q;
  p.packet_id = id;
  return p;
}

TEST(BrokerStore, PubackWaitsForTheStore) {
  memory_store st;
  node n(st);
  auto sub = n.connect("sub", true, 3600);
  n.subscribe(*sub, "t", qos::at_least_once);
  n.packet(*sub, mqtt::disconnect{});
  auto p = n.connect("pub", true, 0);
  p->take();
  n.packet(*p, pub("t", "m", qos::at_least_once, 9));
  EXPECT_TRUE(p->take().empty());  // queued for "sub", not yet durable: no PUBACK
  EXPECT_EQ(st.deliveries.size(), 1u);
  st.release();
  auto acks = p->take();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(std::get<mqtt::puback>(acks[0]).packet_id, 9);
}

TEST(BrokerStore, QueuedMessagesAndSubscriptionsSurviveRestart) {
  memory_store st;
  {
    node n(st);
    auto sub = n.connect("sub", true, 3600);
    n.subscribe(*sub, "t/+", qos::at_least_once);
    n.packet(*sub, mqtt::disconnect{});
    auto p = n.connect("pub", true, 0);
    for (std::uint16_t i = 1; i <= 3; ++i)
      n.packet(*p, pub("t/x", std::to_string(i), qos::at_least_once, i));
    mqtt::publish r = pub("keep/me", "retained", qos::at_most_once, 0);
    r.retain = true;
    n.packet(*p, r);
    st.release();
  }
  node again(st, st.snapshot());  // the restart
  auto sub = again.connect("sub", false, 3600);
  auto got = sub->take();
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(std::get<mqtt::connack>(got[0]).session_present);
  auto ps = publishes(got);
  ASSERT_EQ(ps.size(), 3u);
  EXPECT_EQ(ps[0].payload, "1");
  EXPECT_EQ(ps[2].payload, "3");
  // The subscription came back too: a new message reaches the restored session.
  auto p = again.connect("pub2", true, 0);
  again.packet(*p, pub("t/y", "4", qos::at_most_once, 0));
  auto more = publishes(sub->take());
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].payload, "4");
  // And the retained message.
  auto late = again.connect("late", true, 0);
  late->take();
  mqtt::subscribe s;
  s.packet_id = 2;
  s.subscriptions.push_back({"keep/#", qos::at_most_once});
  again.packet(*late, s);
  auto r = publishes(late->take());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].payload, "retained");
}

TEST(BrokerStore, Qos2PacketIdSurvivesRestartSoNoSecondDelivery) {  // exactly once across restart
  memory_store st;
  {
    node n(st);
    auto sub = n.connect("sub", true, 3600);
    n.subscribe(*sub, "q", qos::exactly_once);
    n.packet(*sub, mqtt::disconnect{});
    auto p = n.connect("pub", true, 3600);
    n.packet(*p, pub("q", "once", qos::exactly_once, 5));
    st.release();  // PUBREC goes out; then the server "crashes" before PUBREL arrives
  }
  node again(st, st.snapshot());
  auto p = again.connect("pub", false, 3600);
  p->take();
  auto resent = pub("q", "once", qos::exactly_once, 5);
  resent.dup = true;
  again.packet(*p, resent);  // the publisher did not see PUBREC and resends
  st.release();
  again.packet(*p, mqtt::pubrel{5, {}, {}});
  st.release();
  auto sub = again.connect("sub", false, 3600);
  st.release();
  auto ps = publishes(sub->take());
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].payload, "once");
}

TEST(BrokerStore, AckedDeliveryIsForgotten) {
  memory_store st;
  node n(st);
  auto sub = n.connect("sub", true, 3600);
  n.subscribe(*sub, "t", qos::at_least_once);
  auto p = n.connect("pub", true, 0);
  n.packet(*p, pub("t", "m", qos::at_least_once, 1));
  st.release();
  auto ps = publishes(sub->take());
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(st.deliveries.size(), 1u);  // in flight
  n.packet(*sub, mqtt::puback{ps[0].packet_id, {}, {}});
  EXPECT_TRUE(st.deliveries.empty());
}

}  // namespace
}  // namespace natter::broker
