// chat: N pairs of users, each sending to its peer at a fixed rate; end-to-end latency.
//
// Open loop: sends are scheduled (user k of U at t0 + k/U of a period, then every period)
// whatever the broker does, so a broker that stalls shows it in the latency tail rather
// than by slowing the generator down. One timer walks the schedule; a late timer sends
// everything that fell due. Latency = arrival (when the read completed) - send time (when
// the message was written into the connection's buffer), both steady_clock in this
// process. Messages sent during the warm-up are delivered but not counted.
//
// Plain variant: the payload is the benchmark stamp, published straight to
// {prefix}/chat/{peer}/inbox (any broker). Service variant (Natter only): a protobuf
// Envelope{ChatMessage} to chat/{me}/outbox as an authenticated user; the chat service
// stores it and publishes the stamped copy to chat/{peer}/inbox (and one to
// chat/{me}/inbox, counted as an echo). The send time travels in the text.
#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "natter/chat/v1/chat.pb.h"
#include "scenarios.hpp"

namespace natter::bench {

namespace asio = boost::asio;
namespace chatpb = natter::chat::v1;

namespace {

struct user {
  connection_ptr c;
  std::string name;  // service: the MQTT username
  std::string peer_name;
  std::uint32_t peer = 0;
  publish_template tmpl;  // plain variant
  std::string outbox;     // service variant
  packet_ids ids;
  std::uint64_t seq = 0;
  std::uint64_t next_from_peer = 0;  // plain: expected sequence number from the peer
  std::uint32_t inflight = 0;
  bool set_up = false;  // subscribed, or failed before that
};

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int run_chat(runner& r, const chat_options& o) {
  const int n_users = 2 * o.pairs;
  const auto q = static_cast<mqtt::qos>(o.qos);
  std::vector<user> users(static_cast<std::size_t>(n_users));
  int subacks = 0;
  bool ending = false;
  std::uint64_t delivered = 0, counted = 0, duplicates = 0, echoes = 0, foreign = 0, refused = 0;
  std::uint64_t sent_counted = 0, sent_total = 0;
  std::vector<std::int64_t> latencies;
  latencies.reserve(static_cast<std::size_t>(o.rate * n_users * o.duration * 1.1) + 16);

  auto inbox = [&](std::uint32_t i) {
    return o.service ? "chat/" + users[i].name + "/inbox"
                     : r.prefix() + "/chat/" + std::to_string(i) + "/inbox";
  };
  for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(n_users); ++i) {
    auto& u = users[i];
    u.peer = i ^ 1u;
    u.name = o.user_prefix + std::to_string(i);
    u.peer_name = o.user_prefix + std::to_string(u.peer);
  }
  opener op(r, n_users, o.concurrency, 0);
  const std::function<void(int)> make = [&](int index) {
    const auto i = static_cast<std::uint32_t>(index);
    auto& u = users[i];
    if (o.service) {
      u.outbox = "chat/" + u.name + "/outbox";
    } else {
      u.tmpl = publish_template(inbox(u.peer), o.payload, q, false, r.version());
    }
    u.c = r.make(4096);
    auto* c = u.c.get();
    c->on_connack = [&, c, i](const mqtt::connack& ca) {
      if (ca.reason != 0) return;
      mqtt::subscribe s;
      s.packet_id = 1;
      s.subscriptions.push_back({inbox(i), q});
      c->send(s);
      c->flush();
    };
    c->on_suback = [&, i](const mqtt::suback& sa) {
      if (sa.reasons.empty() || sa.reasons[0] >= 0x80)
        r.error("user " + std::to_string(i) + ": subscription to its inbox refused");
      ++subacks;
      users[i].set_up = true;
      op.done();
    };
    c->on_ack = [&u, &refused](std::uint16_t id, mqtt::reason_code rc) {
      u.ids.release(id);
      --u.inflight;
      if (mqtt::is_failure(rc)) ++refused;
    };
    c->on_publish = [&, c, i](const publish_view& v) {
      auto& me = users[i];
      std::int64_t sent_ns = 0;
      bool warm = false;
      if (!o.service) {
        const auto st = read_stamp(v.payload);
        if (!st || st->source != me.peer) {
          ++foreign;
          return;
        }
        if (st->seq < me.next_from_peer) {
          ++duplicates;
          return;
        }
        me.next_from_peer = st->seq + 1;
        sent_ns = st->sent_ns;
        warm = st->flags != 0;
      } else {
        chatpb::Envelope env;
        if (!env.ParseFromArray(v.payload.data(), static_cast<int>(v.payload.size())) ||
            !env.has_message()) {
          ++foreign;
          return;
        }
        const auto& m = env.message();
        if (m.sender() == me.name) {
          ++echoes;
          return;
        }
        if (m.sender() != me.peer_name) {
          ++foreign;
          return;
        }
        // text: "<send ns> <warm-up flag> <padding>"
        const auto& t = m.text();
        const char* end = t.data() + t.size();
        auto [p, ec] = std::from_chars(t.data(), end, sent_ns);
        if (ec != std::errc() || p + 2 > end) {
          ++foreign;
          return;
        }
        warm = p[1] == 'w';
      }
      ++delivered;
      if (warm) return;
      ++counted;
      latencies.push_back(c->read_time_ns() - sent_ns);
    };
    c->on_closed = [&, i](const std::string& why) {
      if (!ending)
        r.error("user " + std::to_string(i) + " closed: " + (why.empty() ? "by the server" : why));
      if (!users[i].set_up) {
        users[i].set_up = true;
        op.done();
      }
    };
    auto cp =
        r.connect_packet(o.service ? u.name + "-bench" : r.prefix() + "-u" + std::to_string(i));
    if (o.service) cp.username = u.name;
    c->start(std::move(cp));
  };
  if (!op.run(make) || subacks < n_users)
    r.error("users not subscribed in time (" + std::to_string(subacks) + "/" +
            std::to_string(n_users) + ")");

  const std::string pad(o.payload, 'x');
  auto send = [&](user& u, std::int64_t now, bool warm) {
    const std::uint16_t id = q == mqtt::qos::at_most_once ? 0 : u.ids.take();
    if (id) ++u.inflight;
    if (!o.service) {
      u.c->send_publish(
          u.tmpl, id,
          stamp{static_cast<std::uint32_t>(&u - users.data()), warm ? 1u : 0u, u.seq++, now});
    } else {
      chatpb::Envelope env;
      auto* m = env.mutable_message();
      m->set_recipient(u.peer_name);
      // Unique per run: the service de-duplicates by (sender, client_msg_id) and would
      // deliver an earlier run's stored message instead.
      m->set_client_msg_id(r.prefix() + "-" + std::to_string(u.seq++));
      m->set_sent_at_ms(wall_ms());
      std::string text = std::to_string(now) + (warm ? " w " : " m ");
      if (text.size() < o.payload) text += pad.substr(0, o.payload - text.size());
      m->set_text(std::move(text));
      mqtt::publish p;
      p.topic = u.outbox;
      p.payload = env.SerializeAsString();
      p.qos = q;
      p.packet_id = id;
      u.c->send(p);
    }
    u.c->flush();
  };

  report rep(o.service ? "chat-service" : "chat");
  r.describe(rep);
  std::string server;
  double measured_s = 0;
  if (r.errors().empty()) {
    const std::int64_t period = static_cast<std::int64_t>(1e9 / o.rate);
    const std::int64_t slot = std::max<std::int64_t>(period / n_users, 1);
    const std::int64_t t0 = now_ns() + 1'000'000;
    const std::int64_t t_warm = t0 + static_cast<std::int64_t>(o.warmup * 1e9);
    const std::int64_t t_end = t0 + static_cast<std::int64_t>(o.duration * 1e9);
    std::uint64_t k = 0;
    bool done = false, measuring = false;
    asio::steady_timer timer(r.ioc());
    std::function<void()> tick = [&] {
      const std::int64_t now = now_ns();
      if (!measuring && now >= t_warm) {
        measuring = true;
        r.begin_measure();
      }
      for (;;) {
        const auto n = static_cast<std::int64_t>(k / static_cast<std::uint64_t>(n_users));
        const auto idx = static_cast<std::size_t>(k % static_cast<std::uint64_t>(n_users));
        const std::int64_t due = t0 + n * period + static_cast<std::int64_t>(idx) * slot;
        if (due >= t_end) {
          done = true;
          return;
        }
        if (due > now) {
          timer.expires_at(clock_type::time_point(std::chrono::nanoseconds(due)));
          timer.async_wait([&](boost::system::error_code ec) {
            if (!ec) tick();
          });
          return;
        }
        const bool warm = due < t_warm;
        send(users[idx], now, warm);
        ++sent_total;
        if (!warm) ++sent_counted;
        ++k;
      }
    };
    timer.expires_at(clock_type::time_point(std::chrono::nanoseconds(t0)));
    timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) tick();
    });
    r.run_until([&] { return done || !r.errors().empty(); }, o.duration + r.opts().timeout);
    measured_s = o.duration - o.warmup;
    // Drain: the last messages' latencies count too.
    r.run_until([&] { return delivered >= sent_total || !r.errors().empty(); }, 5);
    if (!measuring) r.begin_measure();
    server = r.end_measure(rep, static_cast<double>(counted));
  }
  ending = true;
  for (auto& u : users) u.c->disconnect();
  r.run_until(
      [&] {
        return std::none_of(users.begin(), users.end(), [](auto& u) { return u.c->is_open(); });
      },
      3);

  std::sort(latencies.begin(), latencies.end());
  const std::uint64_t lost = sent_total > delivered ? sent_total - delivered : 0;
  const double rate = measured_s > 0 ? static_cast<double>(counted) / measured_s : 0;
  const double p50 = percentile_ms(latencies, 0.50), p99 = percentile_ms(latencies, 0.99);
  const double p999 = percentile_ms(latencies, 0.999);
  const double max = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e6;
  rep.add("pairs", o.pairs).add("rate_per_user", o.rate, 1).add("qos", o.qos);
  rep.add("payload", static_cast<std::int64_t>(o.payload)).add("duration_s", o.duration, 1);
  rep.add("warmup_s", o.warmup, 1).add("sent", sent_total).add("delivered", delivered);
  rep.add("lost", lost).add("duplicates", duplicates);
  if (o.service) rep.add("echoes", echoes).add("refused", refused);
  rep.add("deliveries_per_s", rate, 0);
  rep.add("latency_p50_ms", p50).add("latency_p99_ms", p99).add("latency_p999_ms", p999);
  rep.add("latency_max_ms", max);
  if (foreign) r.error(std::to_string(foreign) + " unexpected messages in the inboxes");
  if (refused) r.error(std::to_string(refused) + " messages refused by the server");
  if (q != mqtt::qos::at_most_once && lost)
    r.error(std::to_string(lost) + " messages lost at QoS " + std::to_string(o.qos));

  char human[400];
  std::snprintf(human, sizeof human,
                "%-8s %-3s %d pairs x %.0f msg/s QoS %d: latency p50 %.3f ms, p99 %.3f ms, "
                "p99.9 %.3f ms, max %.3f ms; %s deliveries/s, lost %s%s",
                o.service ? "chat-svc" : "chat", r.transport_name().c_str(), o.pairs, o.rate, o.qos,
                p50, p99, p999, max, grouped(rate).c_str(),
                grouped(static_cast<double>(lost)).c_str(), server.c_str());
  return r.finish(human, rep);
}

}  // namespace natter::bench
