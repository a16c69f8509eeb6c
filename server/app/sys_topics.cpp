#include "sys_topics.hpp"

#include <fmt/format.h>

#include <boost/asio/post.hpp>
#include <cmath>
#include <memory>

#include "systemd_notify.hpp"

namespace natter::app {
namespace asio = boost::asio;

sys_topics::sys_topics(asio::io_context& ioc, broker::broker_service& svc,
                       std::chrono::seconds interval, std::string version)
    : strand_(asio::make_strand(ioc)),
      timer_(strand_),
      svc_(svc),
      interval_(interval),
      version_(std::move(version)) {}

void sys_topics::start() {
  asio::post(strand_, [this] {
    svc_.run([this](broker::broker& b) { update(b); });
    schedule();
  });
}

void sys_topics::stop() {
  stopped_ = true;
  asio::post(strand_, [this] { timer_.cancel(); });
}

void sys_topics::schedule() {
  if (stopped_) return;
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    svc_.run([this](broker::broker& b) { update(b); });
    schedule();
  });
}

void sys_topics::set(broker::broker& b, const std::string& topic, std::string value) {
  auto [it, fresh] = published_.try_emplace(topic);
  if (!fresh && it->second == value) return;
  it->second = value;
  auto m = std::make_shared<broker::message>();
  m->topic = topic;
  m->payload = std::move(value);
  m->retain = true;
  b.publish(std::move(m));
}

void sys_topics::set_load(broker::broker& b, const std::string& name, load& l, std::uint64_t total,
                          double seconds) {
  if (l.primed && seconds > 0) {
    // As Mosquitto's sys_tree.c: the rate since the last update, per minute, folded into
    // each average with weight 1 - exp(-interval / window).
    const double rate = static_cast<double>(total - l.last) * 60.0 / seconds;
    auto fold = [&](double& avg, double window) {
      avg = rate + std::exp(-seconds / window) * (avg - rate);
    };
    fold(l.m1, 60.0);
    fold(l.m5, 300.0);
    fold(l.m15, 900.0);
  }
  l.last = total;
  l.primed = true;
  const std::string base = "$SYS/broker/load/" + name + "/";
  set(b, base + "1min", fmt::format("{:.2f}", l.m1));
  set(b, base + "5min", fmt::format("{:.2f}", l.m5));
  set(b, base + "15min", fmt::format("{:.2f}", l.m15));
}

void sys_topics::update(broker::broker& b) {
  const auto now = std::chrono::steady_clock::now();
  const double seconds = last_update_.time_since_epoch().count() == 0
                             ? 0.0
                             : std::chrono::duration<double>(now - last_update_).count();
  last_update_ = now;
  // Read everything first: what set() publishes moves the counters.
  const auto st = b.stats();
  const auto g = b.gauges();
  const auto n = [](auto v) { return std::to_string(v); };
  const std::string sys = "$SYS/broker/";

  set(b, sys + "version", version_);
  set(b, sys + "uptime",
      n(std::chrono::duration_cast<std::chrono::seconds>(now - started_).count()) + " seconds");

  set(b, sys + "clients/connected", n(g.clients_connected));
  set(b, sys + "clients/active", n(g.clients_connected));  // Mosquitto's deprecated name
  set(b, sys + "clients/disconnected", n(g.sessions - g.clients_connected));
  set(b, sys + "clients/inactive", n(g.sessions - g.clients_connected));
  set(b, sys + "clients/total", n(g.sessions));
  set(b, sys + "clients/maximum", n(st.clients_maximum));
  set(b, sys + "clients/expired", n(st.sessions_expired));

  set(b, sys + "messages/received", n(st.packets_received));  // every packet, as Mosquitto
  set(b, sys + "messages/sent", n(st.packets_sent));
  const auto stored = g.retained_messages + g.queued_messages + g.inflight_messages;
  set(b, sys + "messages/stored", n(stored));
  set(b, sys + "store/messages/count", n(stored));
  set(b, sys + "publish/messages/received", n(st.messages_received));
  set(b, sys + "publish/messages/sent", n(st.messages_sent));
  set(b, sys + "publish/messages/dropped", n(st.messages_dropped));
  set(b, sys + "publish/bytes/received", n(st.publish_bytes_received));
  set(b, sys + "publish/bytes/sent", n(st.publish_bytes_sent));
  set(b, sys + "bytes/received", n(st.bytes_received));
  set(b, sys + "bytes/sent", n(st.bytes_sent));
  set(b, sys + "subscriptions/count", n(g.subscriptions));
  // The space is Mosquitto's.
  set(b, sys + "retained messages/count", n(g.retained_messages));

  set_load(b, "messages/received", messages_received_, st.packets_received, seconds);
  set_load(b, "messages/sent", messages_sent_, st.packets_sent, seconds);
  set_load(b, "publish/received", publish_received_, st.messages_received, seconds);
  set_load(b, "publish/sent", publish_sent_, st.messages_sent, seconds);
  set_load(b, "publish/dropped", publish_dropped_, st.messages_dropped, seconds);
  set_load(b, "bytes/received", bytes_received_, st.bytes_received, seconds);
  set_load(b, "bytes/sent", bytes_sent_, st.bytes_sent, seconds);
  set_load(b, "sockets", sockets_, st.connections_total, seconds);

  // The line `systemctl status natter` shows (nothing without systemd).
  systemd::notify_status(fmt::format("Running: {} clients connected, {} messages received",
                                     g.clients_connected, st.messages_received));
}

}  // namespace natter::app
