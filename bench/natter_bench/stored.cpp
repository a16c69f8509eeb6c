// Scenarios about what the broker keeps: retained messages, and QoS 1 messages queued
// for an offline persistent session (durable, the figure that depends on
// persistence_sync when persistence is on).
//
// Both publish a fixed number of QoS 1 messages through a window of `inflight`
// unacknowledged ones and time them until the last PUBACK: with persistence, a PUBACK
// means stored.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "scenarios.hpp"

namespace natter::bench {

namespace asio = boost::asio;

namespace {

// Sends `count` QoS>0 messages made by `make(seq, packet_id)` on one connection, at most
// `inflight` unacknowledged; `acked` counts the acks. Work is posted after each read so
// one read's acks turn into one write.
struct windowed_publisher {
  connection_ptr c;
  std::uint64_t count = 0;
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  std::uint64_t refused = 0;
  std::uint32_t inflight = 0;
  std::uint32_t max_inflight = 20;
  packet_ids ids;
  bool posted = false;
  bool running = false;  // set by the first pump(): nothing leaves before the clock starts
  std::int64_t last_ack_ns = 0;
  std::function<void(std::uint64_t seq, std::uint16_t id)> make;

  void start() {
    running = true;
    pump();
  }
  void pump() {
    posted = false;
    if (!running) return;
    while (sent < count && inflight < max_inflight && c->buffered() < 64 * 1024) {
      make(sent++, ids.take());
      ++inflight;
    }
    c->flush();
  }
  void schedule(asio::io_context& ioc) {
    if (posted) return;
    posted = true;
    asio::post(ioc, [this] { pump(); });
  }
  void attach(runner& r) {
    c->on_ack = [this, &r](std::uint16_t id, mqtt::reason_code rc) {
      if (!ids.release(id)) return r.error("ack for a packet id not in flight");
      --inflight;
      ++acked;
      if (mqtt::is_failure(rc)) ++refused;
      last_ack_ns = c->read_time_ns();
      schedule(r.ioc());
    };
    c->on_written = [this, &r] { schedule(r.ioc()); };
  }
};

std::string payload_with(const stamp& s, std::size_t size) {
  std::string p(std::max(size, stamp_size), 'x');
  std::memcpy(p.data(), &s, stamp_size);
  return p;
}

// Connects and waits for CONNACK; lowers *max_inflight to the server's Receive Maximum (v5).
bool connect_one(runner& r, const connection_ptr& c, mqtt::connect cp, const char* who,
                 std::uint32_t* max_inflight = nullptr) {
  bool up = false;
  c->on_connack = [&up, max_inflight](const mqtt::connack& ca) {
    up = ca.reason == 0;
    if (max_inflight && ca.props.receive_maximum)
      *max_inflight = std::min<std::uint32_t>(*max_inflight, *ca.props.receive_maximum);
  };
  c->start(std::move(cp));
  if (!r.run_until([&] { return up || !c->is_open(); }, r.opts().timeout) || !up) {
    r.error(std::string(who) + " could not connect");
    return false;
  }
  return true;
}

bool subscribe_one(runner& r, const connection_ptr& c, const std::string& filter, mqtt::qos q,
                   const char* who) {
  bool done = false;
  c->on_suback = [&](const mqtt::suback& sa) {
    done = true;
    if (sa.reasons.empty() || sa.reasons[0] >= 0x80)
      r.error(std::string(who) + ": subscription refused");
  };
  mqtt::subscribe s;
  s.packet_id = 1;
  s.subscriptions.push_back({filter, q});
  c->send(s);
  c->flush();
  if (!r.run_until([&] { return done || !c->is_open(); }, r.opts().timeout) || !done) {
    r.error(std::string(who) + ": no SUBACK");
    return false;
  }
  return true;
}

}  // namespace

int run_retained(runner& r, const retained_options& o) {
  const auto n = static_cast<std::uint64_t>(o.topics);
  bool ending = false;
  report rep("retained");
  r.describe(rep);
  const std::string base = r.prefix() + "/ret/";
  auto closed = [&](const char* who) {
    return [&, who](const std::string& why) {
      if (!ending) r.error(std::string(who) + " closed: " + why);
    };
  };

  windowed_publisher pub;
  pub.c = r.make();
  pub.count = n;
  pub.max_inflight = o.inflight;
  pub.make = [&](std::uint64_t seq, std::uint16_t id) {
    mqtt::publish p;
    p.topic = base + std::to_string(seq);
    p.payload = payload_with(stamp{0, 0, seq, now_ns()}, o.payload);
    p.qos = mqtt::qos::at_least_once;
    p.retain = true;
    p.packet_id = id;
    pub.c->send(p);
  };
  pub.attach(r);
  pub.c->on_closed = closed("publisher");
  double store_s = 0, deliver_s = 0;
  std::uint64_t received = 0;
  std::string server;
  auto sub = r.make();
  if (connect_one(r, pub.c, r.connect_packet(r.prefix() + "-rpub"), "publisher",
                  &pub.max_inflight)) {
    const std::int64_t t0 = now_ns();
    pub.start();
    if (!r.run_until([&] { return pub.acked >= n || !r.errors().empty(); }, r.opts().timeout * 4))
      r.error("retained publishes not acknowledged in time (" + std::to_string(pub.acked) + "/" +
              std::to_string(n) + ")");
    store_s = static_cast<double>(pub.last_ack_ns - t0) / 1e9;
  }
  if (r.errors().empty()) {
    std::int64_t t_last = 0;
    sub->on_publish = [&](const publish_view& v) {
      if (!v.retain || v.topic.substr(0, base.size()) != base) return;
      ++received;
      t_last = sub->read_time_ns();
    };
    sub->on_closed = closed("subscriber");
    if (connect_one(r, sub, r.connect_packet(r.prefix() + "-rsub"), "subscriber")) {
      r.begin_measure();
      const std::int64_t t0 = now_ns();
      bool acked = false;
      sub->on_suback = [&](const mqtt::suback& sa) {
        acked = true;
        if (sa.reasons.empty() || sa.reasons[0] >= 0x80) r.error("subscription refused");
      };
      mqtt::subscribe s;
      s.packet_id = 1;
      s.subscriptions.push_back({base + "#", static_cast<mqtt::qos>(o.qos)});
      sub->send(s);
      sub->flush();
      if (!r.run_until([&] { return received >= n || !r.errors().empty(); }, r.opts().timeout))
        r.error("subscriber got " + std::to_string(received) + " of " + std::to_string(n) +
                " retained messages");
      deliver_s = static_cast<double>(t_last - t0) / 1e9;
      server = r.end_measure(rep, static_cast<double>(received));
    }
  }
  ending = true;
  pub.c->disconnect();
  sub->disconnect();
  r.run_until([&] { return !pub.c->is_open() && !sub->is_open(); }, 3);

  const double rate = deliver_s > 0 ? static_cast<double>(received) / deliver_s : 0;
  const double store_rate = store_s > 0 ? static_cast<double>(n) / store_s : 0;
  rep.add("topics", o.topics).add("payload", static_cast<std::int64_t>(o.payload));
  rep.add("qos", o.qos).add("store_s", store_s).add("stored_per_s", store_rate, 0);
  rep.add("received", received).add("elapsed_s", deliver_s).add("msgs_per_s", rate, 0);
  char human[400];
  std::snprintf(human, sizeof human,
                "%-8s %-3s %d topics: stored in %.3f s (%s/s), '#' subscriber got %s in %.3f s "
                "(%s msgs/s)%s",
                "retained", r.transport_name().c_str(), o.topics, store_s,
                grouped(store_rate).c_str(), grouped(static_cast<double>(received)).c_str(),
                deliver_s, grouped(rate).c_str(), server.c_str());
  return r.finish(human, rep);
}

int run_durable(runner& r, const durable_options& o) {
  const auto n = static_cast<std::uint64_t>(o.messages);
  const int n_pub = std::max(o.publishers, 1);
  const auto q = static_cast<mqtt::qos>(o.qos);
  const std::string topic = r.prefix() + "/durable";
  const std::string sub_id = r.prefix() + "-dsub";
  bool ending = false;
  report rep("durable");
  r.describe(rep);

  // 1. The persistent session, subscribed, then offline.
  {
    auto sub = r.make();
    if (connect_one(r, sub, r.connect_packet(sub_id, false), "subscriber") &&
        subscribe_one(r, sub, topic, q, "subscriber")) {
      sub->disconnect();
      r.run_until([&] { return !sub->is_open(); }, 3);
    }
  }

  // 2. The publishers, as fast as acknowledgements allow.
  std::vector<std::unique_ptr<windowed_publisher>> pubs;
  double elapsed = 0;
  std::uint64_t acked = 0, refused = 0;
  std::string server;
  for (int i = 0; i < n_pub && r.errors().empty(); ++i) {
    auto p = std::make_unique<windowed_publisher>();
    p->c = r.make();
    p->count = n / static_cast<std::uint64_t>(n_pub) +
               (static_cast<std::uint64_t>(i) < n % static_cast<std::uint64_t>(n_pub) ? 1 : 0);
    p->max_inflight = o.inflight;
    auto tmpl = std::make_shared<publish_template>(topic, o.payload, q, false, r.version());
    auto* raw = p.get();
    p->make = [raw, tmpl, i](std::uint64_t seq, std::uint16_t id) {
      raw->c->send_publish(*tmpl, id, stamp{static_cast<std::uint32_t>(i), 0, seq, now_ns()});
    };
    p->attach(r);
    p->c->on_closed = [&, i](const std::string& why) {
      if (!ending) r.error("publisher " + std::to_string(i) + " closed: " + why);
    };
    connect_one(r, p->c, r.connect_packet(r.prefix() + "-dpub" + std::to_string(i)), "publisher",
                &p->max_inflight);
    pubs.push_back(std::move(p));
  }
  if (r.errors().empty()) {
    r.begin_measure();
    const std::int64_t t0 = now_ns();
    for (auto& p : pubs) p->start();
    auto all_acked = [&] {
      std::uint64_t a = 0;
      for (auto& p : pubs) a += p->acked;
      return a;
    };
    if (!r.run_until([&] { return all_acked() >= n || !r.errors().empty(); }, r.opts().timeout * 4))
      r.error("only " + std::to_string(all_acked()) + " of " + std::to_string(n) +
              " messages acknowledged in time");
    std::int64_t t_last = t0;
    for (auto& p : pubs) {
      t_last = std::max(t_last, p->last_ack_ns);
      acked += p->acked;
      refused += p->refused;
    }
    elapsed = static_cast<double>(t_last - t0) / 1e9;
    server = r.end_measure(rep, static_cast<double>(acked));
  }
  ending = true;
  for (auto& p : pubs) p->c->disconnect();
  r.run_until(
      [&] {
        return std::none_of(pubs.begin(), pubs.end(), [](auto& p) { return p->c->is_open(); });
      },
      3);

  // 3. The subscriber comes back: every acknowledged message must be there.
  std::uint64_t unique = 0, duplicates = 0;
  if (o.verify && r.errors().empty()) {
    ending = false;
    std::vector<std::uint64_t> next(static_cast<std::size_t>(n_pub), 0);
    auto sub = r.make();
    sub->on_publish = [&](const publish_view& v) {
      const auto st = read_stamp(v.payload);
      if (!st || st->source >= next.size()) return;
      if (st->seq < next[st->source]) return ++duplicates, void();
      next[st->source] = st->seq + 1;
      ++unique;
    };
    sub->on_closed = [&](const std::string& why) {
      if (!ending) r.error("subscriber closed: " + why);
    };
    if (connect_one(r, sub, r.connect_packet(sub_id, false), "subscriber (again)")) {
      std::uint64_t seen = 0;
      auto progress = clock_type::now();
      r.run_until(
          [&] {
            if (unique >= n) return true;
            if (unique != seen) seen = unique, progress = clock_type::now();
            return clock_type::now() - progress > std::chrono::seconds(3);
          },
          r.opts().timeout * 4);
      // Leave nothing behind: a clean session ends the stored one.
      ending = true;
      sub->disconnect();
      r.run_until([&] { return !sub->is_open(); }, 3);
      auto cleaner = r.make(1024);
      if (connect_one(r, cleaner, r.connect_packet(sub_id, true), "cleanup")) {
        cleaner->disconnect();
        r.run_until([&] { return !cleaner->is_open(); }, 3);
      }
    }
    if (unique < n)
      r.error(std::to_string(n - unique) + " acknowledged messages lost (QoS " +
              std::to_string(o.qos) + ")");
  }

  const double rate = elapsed > 0 ? static_cast<double>(acked) / elapsed : 0;
  rep.add("messages", o.messages).add("publishers", n_pub).add("inflight", o.inflight);
  rep.add("qos", o.qos).add("payload", static_cast<std::int64_t>(o.payload));
  rep.add("acked", acked).add("refused", refused).add("elapsed_s", elapsed);
  rep.add("msgs_per_s", rate, 0);
  if (o.verify) {
    rep.add("delivered", unique).add("duplicates", duplicates);
    rep.add("lost", n > unique ? n - unique : 0);
  }
  char human[400];
  std::snprintf(
      human, sizeof human,
      "%-8s %-3s %d x QoS %d into an offline session, %d publisher(s), inflight %u: "
      "%s msgs/s (%.2f s)%s%s",
      "durable", r.transport_name().c_str(), o.messages, o.qos, n_pub, o.inflight,
      grouped(rate).c_str(), elapsed,
      o.verify ? (", then delivered " + grouped(static_cast<double>(unique))).c_str() : "",
      server.c_str());
  return r.finish(human, rep);
}

}  // namespace natter::bench
