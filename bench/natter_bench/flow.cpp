// fan-in and fan-out: sustained delivery rate, losses and duplicates.
//
// Closed loop: a publisher sends while it is less than `window` messages ahead of each
// subscriber (and, at QoS 1/2, has fewer than `inflight` unacknowledged), so the broker is
// kept busy without being flooded; a broker that drops under that load shows losses, not
// a made-up rate. Each payload carries (publisher, sequence number), so every subscriber
// counts per publisher what arrived, what arrived twice and what never came.
//
// Work that a read makes possible (a window reopened by deliveries, acks freeing
// inflight slots) is posted, not done inline, so one read's worth of progress turns into
// one write per publisher.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "scenarios.hpp"

namespace natter::bench {

namespace asio = boost::asio;

namespace {

constexpr std::size_t max_buffered = 64 * 1024;  // bytes a publisher appends per write

struct publisher {
  connection_ptr c;
  std::uint32_t index = 0;
  publish_template tmpl;
  packet_ids ids;
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;  // unique deliveries of its messages, all subscribers
  std::uint64_t acked = 0;
  std::uint32_t inflight = 0;
  std::uint32_t max_inflight = 0;  // ours, or the server's Receive Maximum (v5) if lower
  bool pump_posted = false;
};

struct subscriber {
  connection_ptr c;
  std::vector<std::uint64_t> next_seq;  // per publisher
  bool subscribed = false;
};

}  // namespace

int run_flow(runner& r, const flow_options& o) {
  const std::string name = o.fan_out ? "fan-out" : "fan-in";
  const int n_pub = o.fan_out ? 1 : o.publishers;
  const int n_sub = o.fan_out ? o.subscribers : 1;
  const auto q = static_cast<mqtt::qos>(o.qos);
  const std::string base = r.prefix() + (o.fan_out ? "/out" : "/in");

  std::vector<publisher> pubs(static_cast<std::size_t>(n_pub));
  std::vector<subscriber> subs(static_cast<std::size_t>(n_sub));
  bool running = false, stopped = false, ending = false;
  int connacks = 0, subacks = 0;
  std::uint64_t unique = 0, duplicates = 0, foreign = 0, refused = 0;
  std::int64_t t0 = 0, last_delivery = 0;
  const std::uint64_t per_sub_window = o.window;

  auto on_closed = [&](const std::string& who) {
    return [&, who](const std::string& why) {
      if (!ending) r.error(who + " closed: " + (why.empty() ? "by the server" : why));
    };
  };

  std::function<void(publisher&)> pump;
  auto schedule = [&](publisher& p) {
    if (p.pump_posted || stopped) return;
    p.pump_posted = true;
    asio::post(r.ioc(), [&pump, &p] { pump(p); });
  };
  pump = [&](publisher& p) {
    p.pump_posted = false;
    if (!running || stopped || !p.c->connected()) return;
    stamp st{p.index, 0, 0, now_ns()};
    const std::uint64_t limit = per_sub_window * static_cast<std::uint64_t>(n_sub);
    while (p.c->buffered() < max_buffered) {
      if (p.sent * static_cast<std::uint64_t>(n_sub) - p.delivered >= limit) break;
      if (q != mqtt::qos::at_most_once && p.inflight >= p.max_inflight) break;
      st.seq = p.sent;
      const std::uint16_t id = q == mqtt::qos::at_most_once ? 0 : p.ids.take();
      p.c->send_publish(p.tmpl, id, st);
      ++p.sent;
      if (id) ++p.inflight;
    }
    p.c->flush();
  };

  // Subscribers first: nothing published may miss them.
  for (int i = 0; i < n_sub; ++i) {
    auto& s = subs[static_cast<std::size_t>(i)];
    s.next_seq.assign(static_cast<std::size_t>(n_pub), 0);
    s.c = r.make();
    auto* c = s.c.get();
    c->on_connack = [&, c](const mqtt::connack& ca) {
      if (ca.reason != 0) return;
      ++connacks;
      mqtt::subscribe sub;
      sub.packet_id = 1;
      sub.subscriptions.push_back({o.fan_out ? base : base + "/+", q});
      c->send(sub);
      c->flush();
    };
    c->on_suback = [&, i](const mqtt::suback& sa) {
      ++subacks;
      const auto granted = sa.reasons.empty() ? 0x80 : sa.reasons[0];
      if (granted >= 0x80)
        r.error("subscriber " + std::to_string(i) + ": subscription refused");
      else if (granted < o.qos)
        r.error("subscriber " + std::to_string(i) + ": granted QoS " + std::to_string(granted) +
                " for QoS " + std::to_string(o.qos) + " (not supported by this broker?)");
      else
        subs[static_cast<std::size_t>(i)].subscribed = true;
    };
    c->on_publish = [&, c, i](const publish_view& v) {
      const auto st = read_stamp(v.payload);
      if (!st || st->source >= pubs.size()) {
        ++foreign;
        return;
      }
      auto& next = subs[static_cast<std::size_t>(i)].next_seq[st->source];
      if (st->seq < next) {
        ++duplicates;
        return;
      }
      next = st->seq + 1;
      ++unique;
      last_delivery = c->read_time_ns();
      auto& p = pubs[st->source];
      ++p.delivered;
      schedule(p);
    };
    c->on_closed = on_closed("subscriber " + std::to_string(i));
    c->start(r.connect_packet(r.prefix() + "-s" + std::to_string(i)));
  }
  if (!r.run_until([&] { return subacks == n_sub || !r.errors().empty(); }, r.opts().timeout))
    r.error("subscribers not ready in time (" + std::to_string(subacks) + "/" +
            std::to_string(n_sub) + " SUBACKs)");

  for (int i = 0; i < n_pub && r.errors().empty(); ++i) {
    auto& p = pubs[static_cast<std::size_t>(i)];
    p.index = static_cast<std::uint32_t>(i);
    p.tmpl = publish_template(o.fan_out ? base : base + "/" + std::to_string(i), o.payload, q,
                              false, r.version());
    p.c = r.make();
    p.max_inflight = o.inflight;
    p.c->on_connack = [&](const mqtt::connack& ca) {
      if (ca.reason != 0) return;
      ++connacks;
      if (ca.props.receive_maximum)
        p.max_inflight = std::min<std::uint32_t>(p.max_inflight, *ca.props.receive_maximum);
    };
    p.c->on_written = [&] { schedule(p); };
    p.c->on_ack = [&](std::uint16_t id, mqtt::reason_code rc) {
      if (!p.ids.release(id)) return r.error("publisher: ack for a packet id not in flight");
      --p.inflight;
      ++p.acked;
      if (mqtt::is_failure(rc)) ++refused;
      schedule(p);
    };
    p.c->on_closed = on_closed("publisher " + std::to_string(i));
    p.c->start(r.connect_packet(r.prefix() + "-p" + std::to_string(i)));
  }
  if (r.errors().empty() &&
      !r.run_until([&] { return connacks == n_sub + n_pub || !r.errors().empty(); },
                   r.opts().timeout))
    r.error("publishers not connected in time");

  double elapsed = 0;
  std::uint64_t sent = 0, acked = 0;
  report rep(name);
  r.describe(rep);
  std::string server;
  if (r.errors().empty()) {
    r.begin_measure();
    t0 = now_ns();
    last_delivery = t0;
    asio::steady_timer timer(r.ioc());
    timer.expires_after(std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(o.duration)));
    timer.async_wait([&](boost::system::error_code) { stopped = true; });
    running = true;
    for (auto& p : pubs) pump(p);
    r.run_until([&] { return stopped || !r.errors().empty(); }, o.duration + r.opts().timeout);
    stopped = true;
    // Drain: everything sent should arrive; stop waiting once nothing has come for 2 s.
    for (auto& p : pubs) sent += p.sent;
    const std::uint64_t expected = sent * static_cast<std::uint64_t>(n_sub);
    std::uint64_t seen = unique;
    auto progress = clock_type::now();
    r.run_until(
        [&] {
          std::uint64_t a = 0;
          for (auto& p : pubs) a += p.acked;
          if (unique >= expected && (q == mqtt::qos::at_most_once || a >= sent)) return true;
          if (unique + a != seen) {
            seen = unique + a;
            progress = clock_type::now();
          }
          return clock_type::now() - progress > std::chrono::seconds(2) || !r.errors().empty();
        },
        r.opts().timeout);
    for (auto& p : pubs) acked += p.acked;
    elapsed = static_cast<double>(last_delivery - t0) / 1e9;
    server = r.end_measure(rep, static_cast<double>(unique));
  }
  ending = true;
  for (auto& p : pubs)
    if (p.c) p.c->disconnect();
  for (auto& s : subs)
    if (s.c) s.c->disconnect();
  r.run_until(
      [&] {
        for (auto& p : pubs)
          if (p.c && p.c->is_open()) return false;
        for (auto& s : subs)
          if (s.c && s.c->is_open()) return false;
        return true;
      },
      3);

  const std::uint64_t expected = sent * static_cast<std::uint64_t>(n_sub);
  const std::uint64_t lost = expected > unique ? expected - unique : 0;
  const double rate = elapsed > 0 ? static_cast<double>(unique) / elapsed : 0;
  rep.add("publishers", n_pub).add("subscribers", n_sub).add("qos", o.qos);
  rep.add("payload", static_cast<std::int64_t>(o.payload)).add("window", o.window);
  if (q != mqtt::qos::at_most_once) rep.add("inflight", o.inflight);
  rep.add("elapsed_s", elapsed).add("sent", sent).add("delivered", unique);
  rep.add("lost", lost).add("duplicates", duplicates);
  if (q != mqtt::qos::at_most_once) rep.add("acked", acked).add("refused", refused);
  rep.add("msgs_per_s", rate, 0);
  if (o.fan_out)
    rep.add("published_per_s", elapsed > 0 ? static_cast<double>(sent) / elapsed : 0, 0);
  if (foreign) r.error(std::to_string(foreign) + " messages without a benchmark stamp");
  if (q != mqtt::qos::at_most_once && lost)
    r.error(std::to_string(lost) + " messages lost at QoS " + std::to_string(o.qos));
  if (q != mqtt::qos::at_most_once && acked < sent)
    r.error(std::to_string(sent - acked) + " publishes never acknowledged");

  char human[400];
  std::snprintf(human, sizeof human,
                "%-8s %-3s %d->%d QoS %d %zu B: %s msgs/s delivered (%s in %.2f s), lost %s, "
                "duplicates %s%s",
                name.c_str(), r.transport_name().c_str(), n_pub, n_sub, o.qos, o.payload,
                grouped(rate).c_str(), grouped(static_cast<double>(unique)).c_str(), elapsed,
                grouped(static_cast<double>(lost)).c_str(),
                grouped(static_cast<double>(duplicates)).c_str(), server.c_str());
  return r.finish(human, rep);
}

}  // namespace natter::bench
