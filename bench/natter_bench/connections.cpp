// connections (idle clients: connect time, server memory per connection) and presence
// (a storm of dropped clients: time until a watcher has every will).
//
// Both open many connections the same way: at most `concurrency` handshakes in flight,
// optionally paced to `rate` per second. A connection counts as open once its CONNACK and,
// where it subscribes, its SUBACK are in.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "natter/chat/v1/chat.pb.h"
#include "scenarios.hpp"

namespace natter::bench {

namespace asio = boost::asio;
namespace chatpb = natter::chat::v1;

namespace {

void close_all(runner& r, std::vector<connection_ptr>& conns, bool& ending) {
  ending = true;
  for (auto& c : conns)
    if (c) c->disconnect();
  r.run_until(
      [&] {
        return std::none_of(conns.begin(), conns.end(), [](auto& c) { return c && c->is_open(); });
      },
      5);
}

}  // namespace

int run_connections(runner& r, const connections_options& o) {
  std::vector<connection_ptr> conns(static_cast<std::size_t>(o.clients));
  std::vector<std::int64_t> connect_ns;
  connect_ns.reserve(conns.size());
  int ready = 0, failed = 0;
  bool ending = false;
  opener op(r, o.clients, o.concurrency, o.rate);

  report rep("connections");
  r.describe(rep);
  std::optional<proc_sample> before;
  if (r.opts().pid > 0) before = sample_process(r.opts().pid);
  r.begin_measure();
  const std::int64_t t0 = now_ns();
  std::int64_t t_last = t0;
  const std::function<void(int)> make = [&](int i) {
    auto c = r.make(256);
    conns[static_cast<std::size_t>(i)] = c;
    auto* cp = c.get();
    auto counted = std::make_shared<bool>(false);
    auto finished = [&, counted](bool ok) {
      if (*counted) return;
      *counted = true;
      ok ? ++ready : ++failed;
      op.done();
    };
    cp->on_connack = [&, cp, i](const mqtt::connack& ca) {
      if (ca.reason != 0) return;
      connect_ns.push_back(cp->connack_ns() - cp->started_ns());
      mqtt::subscribe s;
      s.packet_id = 1;
      s.subscriptions.push_back(
          {r.prefix() + "/conn/" + std::to_string(i), mqtt::qos::at_least_once});
      cp->send(s);
      cp->flush();
    };
    cp->on_suback = [&, finished](const mqtt::suback& sa) {
      t_last = now_ns();
      finished(!sa.reasons.empty() && sa.reasons[0] < 0x80);
    };
    cp->on_closed = [&, finished, counted, i](const std::string& why) {
      if (!*counted)
        r.error("client " + std::to_string(i) + ": " + why);
      else if (!ending)
        r.error("client " + std::to_string(i) + " closed: " + why);
      finished(false);
    };
    auto connect = r.connect_packet(r.prefix() + "-c" + std::to_string(i));
    connect.will = mqtt::will{
        r.prefix() + "/will/" + std::to_string(i), "offline", mqtt::qos::at_least_once, false, {}};
    cp->start(std::move(connect));
  };
  const bool all = op.run(make);
  if (!all)
    r.error("only " + std::to_string(op.finished()) + " of " + std::to_string(o.clients) +
            " connections set up in time");
  const double total_s = static_cast<double>(t_last - t0) / 1e9;
  // Let the server's allocator settle before sampling its memory.
  r.run_for(o.settle);
  std::string server = r.end_measure(rep, ready);
  std::optional<proc_sample> after;
  if (r.opts().pid > 0) after = sample_process(r.opts().pid);
  r.run_for(o.hold);
  close_all(r, conns, ending);

  std::sort(connect_ns.begin(), connect_ns.end());
  rep.add("clients", o.clients).add("connected", ready).add("failed", failed);
  rep.add("rate", o.rate, 0).add("concurrency", o.concurrency);
  rep.add("elapsed_s", total_s).add("connects_per_s", total_s > 0 ? ready / total_s : 0, 0);
  rep.add("connect_p50_ms", percentile_ms(connect_ns, 0.5));
  rep.add("connect_p99_ms", percentile_ms(connect_ns, 0.99));
  rep.add("connect_max_ms",
          connect_ns.empty() ? 0.0 : static_cast<double>(connect_ns.back()) / 1e6);
  std::string mem;
  if (before && after && ready > 0) {
    const double per = static_cast<double>(after->rss_kb - before->rss_kb) * 1024.0 / ready;
    rep.add("server_rss_before_kb", before->rss_kb).add("server_rss_after_kb", after->rss_kb);
    rep.add("rss_per_connection_bytes", per, 0);
    char buf[120];
    std::snprintf(buf, sizeof buf, "; server RSS +%.1f MiB = %s B per connection",
                  static_cast<double>(after->rss_kb - before->rss_kb) / 1024.0,
                  grouped(per).c_str());
    mem = buf;
  }

  char human[500];
  std::snprintf(human, sizeof human,
                "%-8s %-3s %d idle clients (will + 1 subscription): %d up in %.2f s (%s/s), "
                "connect p50 %.2f ms p99 %.2f ms%s%s",
                "conns", r.transport_name().c_str(), o.clients, ready, total_s,
                grouped(total_s > 0 ? ready / total_s : 0).c_str(), percentile_ms(connect_ns, 0.5),
                percentile_ms(connect_ns, 0.99), mem.c_str(), server.c_str());
  return r.finish(human, rep);
}

int run_presence(runner& r, const presence_options& o) {
  const int n = o.clients;
  std::vector<connection_ptr> conns(static_cast<std::size_t>(n));
  bool ending = false, watching = false, storming = false;
  int ready = 0;
  std::unordered_set<std::string> gone;    // wills (plain) or users shown OFFLINE (service)
  std::unordered_set<std::string> online;  // service: users shown ONLINE
  std::int64_t t_storm = 0, t_last = 0;
  std::uint64_t foreign = 0;
  auto user_name = [&](int i) { return o.user_prefix + std::to_string(i); };

  // The watcher.
  auto watcher = r.make();
  watcher->on_connack = [&](const mqtt::connack& ca) {
    if (ca.reason != 0) return;
    mqtt::subscribe s;
    s.packet_id = 1;
    s.subscriptions.push_back({o.service ? std::string("presence/+") : r.prefix() + "/presence/+",
                               mqtt::qos::at_least_once});
    watcher->send(s);
    watcher->flush();
  };
  watcher->on_suback = [&](const mqtt::suback& sa) {
    if (sa.reasons.empty() || sa.reasons[0] >= 0x80) r.error("watcher: subscription refused");
    watching = true;
  };
  watcher->on_publish = [&](const publish_view& v) {
    if (!o.service) {
      if (!storming) return ++foreign, void();
      if (gone.emplace(v.topic).second) t_last = watcher->read_time_ns();
      return;
    }
    if (v.retain) return;  // the state before we subscribed
    chatpb::Presence p;
    if (!p.ParseFromArray(v.payload.data(), static_cast<int>(v.payload.size())))
      return ++foreign, void();
    const std::string topic(v.topic);
    if (topic != "presence/" + p.user()) return;  // aggregates only
    if (p.state() == chatpb::PRESENCE_STATE_OFFLINE) {
      if (storming && gone.emplace(p.user()).second) t_last = watcher->read_time_ns();
    } else {
      online.emplace(p.user());
    }
  };
  watcher->on_closed = [&](const std::string& why) {
    if (!ending) r.error("watcher closed: " + why);
  };
  {
    auto cp = r.connect_packet(r.prefix() + "-watcher");
    if (o.service) {
      cp.username = user_name(n);
      cp.client_id = user_name(n) + "-watcher";
    }
    watcher->start(std::move(cp));
  }
  if (!r.run_until([&] { return watching || !r.errors().empty(); }, r.opts().timeout))
    r.error("watcher not subscribed in time");

  opener op(r, n, o.concurrency, 0);
  const std::function<void(int)> make = [&](int i) {
    auto c = r.make(256);
    conns[static_cast<std::size_t>(i)] = c;
    auto* cp = c.get();
    const std::string device =
        o.service ? user_name(i) + "-dev" : r.prefix() + "-d" + std::to_string(i);
    const std::string dtopic = o.service ? "presence/" + user_name(i) + "/" + device
                                         : r.prefix() + "/presence/" + std::to_string(i);
    auto counted = std::make_shared<bool>(false);
    auto finished = [&, counted](bool ok) {
      if (*counted) return;
      *counted = true;
      if (ok) ++ready;
      op.done();
    };
    cp->on_connack = [&, cp, dtopic, finished](const mqtt::connack& ca) {
      if (ca.reason != 0) return;
      if (o.service) {  // announce the device (docs/protocol.md, "A device's life")
        chatpb::Presence p;
        p.set_state(chatpb::PRESENCE_STATE_ONLINE);
        mqtt::publish pub;
        pub.topic = dtopic;
        pub.payload = p.SerializeAsString();
        pub.qos = mqtt::qos::at_least_once;
        pub.packet_id = 1;
        cp->send(pub);
        cp->flush();
      } else {
        finished(true);
      }
    };
    cp->on_ack = [&, finished](std::uint16_t, mqtt::reason_code rc) {
      if (mqtt::is_failure(rc)) r.error("presence announcement refused");
      finished(!mqtt::is_failure(rc));
    };
    cp->on_closed = [&, i, finished](const std::string& why) {
      if (!storming && !ending) r.error("client " + std::to_string(i) + ": " + why);
      finished(false);
    };
    auto connect = r.connect_packet(device);
    mqtt::will w;
    w.topic = dtopic;
    w.qos = mqtt::qos::at_least_once;
    if (o.service) {
      connect.username = user_name(i);
      chatpb::Presence p;
      p.set_state(chatpb::PRESENCE_STATE_OFFLINE);
      w.payload = p.SerializeAsString();
    } else {
      w.payload = "offline";
    }
    connect.will = std::move(w);
    cp->start(std::move(connect));
  };
  report rep(o.service ? "presence-service" : "presence");
  r.describe(rep);
  std::string server;
  double storm_s = 0;
  if (r.errors().empty()) {
    if (!op.run(make) || ready < n)
      r.error("only " + std::to_string(ready) + " of " + std::to_string(n) + " clients connected");
    // Service: wait until the watcher has seen everyone online, so the storm is all that is left.
    if (o.service &&
        !r.run_until([&] { return static_cast<int>(online.size()) >= n || !r.errors().empty(); },
                     r.opts().timeout))
      r.error("watcher saw " + std::to_string(online.size()) + " of " + std::to_string(n) +
              " users online");
    r.run_for(0.2);
  }
  if (r.errors().empty()) {
    r.begin_measure();
    storming = true;
    t_storm = now_ns();
    t_last = t_storm;
    for (auto& c : conns) c->abort();
    if (!r.run_until([&] { return static_cast<int>(gone.size()) >= n; }, r.opts().timeout))
      r.error("watcher got " + std::to_string(gone.size()) + " of " + std::to_string(n) +
              (o.service ? " users OFFLINE" : " wills"));
    storm_s = static_cast<double>(t_last - t_storm) / 1e9;
    server = r.end_measure(rep, static_cast<double>(gone.size()));
  }
  ending = true;
  watcher->disconnect();
  r.run_until([&] { return !watcher->is_open(); }, 3);
  if (foreign) r.error(std::to_string(foreign) + " unexpected messages at the watcher");

  const double per_s = storm_s > 0 ? static_cast<double>(gone.size()) / storm_s : 0;
  rep.add("clients", n).add("delivered", static_cast<std::int64_t>(gone.size()));
  rep.add("missing", static_cast<std::int64_t>(n - static_cast<int>(gone.size())));
  rep.add("elapsed_s", storm_s).add("msgs_per_s", per_s, 0);
  char human[400];
  std::snprintf(human, sizeof human,
                "%-8s %-3s %d clients dropped at once: %s %zu/%d in %.3f s (%s/s)%s",
                o.service ? "pres-svc" : "presence", r.transport_name().c_str(), n,
                o.service ? "users OFFLINE" : "wills", gone.size(), n, storm_s,
                grouped(per_s).c_str(), server.c_str());
  return r.finish(human, rep);
}

}  // namespace natter::bench
