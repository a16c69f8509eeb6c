#include "metrics.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string_view>

namespace natter::app {
namespace {

class writer {
 public:
  void header(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  template <class T>
  void sample(std::string_view name, T value, std::string_view labels = {}) {
    if (labels.empty())
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  template <class T>
  void one(std::string_view name, std::string_view type, std::string_view help, T value) {
    header(name, type, help);
    sample(name, value);
  }
  // Buckets are per-bucket counts (the last one: above every bound); Prometheus wants
  // cumulative ones.
  void histogram(std::string_view name, std::string_view help,
                 const store::latency_histogram& buckets, std::chrono::nanoseconds sum) {
    header(name, "histogram", help);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < store::latency_bucket_bounds.size(); ++i) {
      total += buckets[i];
      const double le = std::chrono::duration<double>(store::latency_bucket_bounds[i]).count();
      sample(std::string(name) + "_bucket", total, fmt::format("le=\"{}\"", le));
    }
    total += buckets.back();
    sample(std::string(name) + "_bucket", total, "le=\"+Inf\"");
    sample(std::string(name) + "_sum", std::chrono::duration<double>(sum).count());
    sample(std::string(name) + "_count", total);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

constexpr std::array<std::string_view, broker::drop_reason_count> drop_reason_names = {
    "queue_full", "expired", "too_large", "not_authorized", "message_size_limit", "refused",
    "rate_limited"};
constexpr std::array<std::string_view, auth_failure_count> auth_failure_names = {
    "bad_credentials", "anonymous", "no_password_file", "rate_limited", "busy", "no_certificate"};

void process_metrics(writer& w, std::chrono::steady_clock::duration uptime) {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    w.one("process_cpu_seconds_total", "counter", "User and system CPU time spent.", cpu);
  }
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2)
      w.one("process_resident_memory_bytes", "gauge", "Resident memory size.",
            resident * static_cast<unsigned long>(sysconf(_SC_PAGESIZE)));
    std::fclose(f);
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    std::size_t n = 0;
    while (const dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    w.one("process_open_fds", "gauge", "Open file descriptors.", n > 0 ? n - 1 : 0);  // not d
  }
  const double started =
      static_cast<double>(std::time(nullptr)) - std::chrono::duration<double>(uptime).count();
  w.one("process_start_time_seconds", "gauge", "Start time since the Unix epoch, in seconds.",
        static_cast<std::int64_t>(started));
}

}  // namespace

std::string render_metrics(const metrics_snapshot& s) {
  writer w;
  const auto& st = s.stats;
  const auto& g = s.gauges;

  w.header("natter_build_info", "gauge", "The running version.");
  w.sample("natter_build_info", 1, fmt::format("version=\"{}\"", s.version));
  w.one("natter_uptime_seconds", "gauge", "Seconds since the server started.",
        std::chrono::duration_cast<std::chrono::seconds>(s.uptime).count());

  w.one("natter_connections", "gauge",
        "Open network connections (MQTT, WebSocket), before CONNECT included.", g.connections);
  w.one("natter_connections_total", "counter", "Network connections accepted.",
        st.connections_total);
  w.one("natter_clients_connected", "gauge", "Clients connected (CONNECT accepted).",
        g.clients_connected);
  w.one("natter_clients_maximum", "gauge", "Most clients connected at once.", st.clients_maximum);
  w.one("natter_sessions", "gauge", "Sessions, connected or not.", g.sessions);
  w.one("natter_sessions_expired_total", "counter", "Offline sessions that expired.",
        st.sessions_expired);
  w.one("natter_subscriptions", "gauge", "Subscriptions.", g.subscriptions);
  w.one("natter_retained_messages", "gauge", "Retained messages ($SYS included).",
        g.retained_messages);

  w.one("natter_packets_received_total", "counter", "MQTT control packets received.",
        st.packets_received);
  w.one("natter_packets_sent_total", "counter", "MQTT control packets sent.", st.packets_sent);
  w.one("natter_bytes_received_total", "counter", "MQTT bytes received (whole packets).",
        st.bytes_received);
  w.one("natter_bytes_sent_total", "counter", "MQTT bytes sent (whole packets).", st.bytes_sent);

  w.header("natter_messages_received_total", "counter", "PUBLISH packets received, by QoS.");
  for (std::size_t q = 0; q < 3; ++q)
    w.sample("natter_messages_received_total", st.messages_received_by_qos[q],
             fmt::format("qos=\"{}\"", q));
  w.header("natter_messages_sent_total", "counter", "PUBLISH packets sent, by QoS.");
  for (std::size_t q = 0; q < 3; ++q)
    w.sample("natter_messages_sent_total", st.messages_sent_by_qos[q],
             fmt::format("qos=\"{}\"", q));
  w.one("natter_publish_payload_bytes_received_total", "counter",
        "Payload bytes of the PUBLISH packets received.", st.publish_bytes_received);
  w.one("natter_publish_payload_bytes_sent_total", "counter",
        "Payload bytes of the PUBLISH packets sent.", st.publish_bytes_sent);
  w.header("natter_messages_dropped_total", "counter",
           "Messages (or one subscriber's copy) not delivered, by reason.");
  for (std::size_t r = 0; r < drop_reason_names.size(); ++r)
    w.sample("natter_messages_dropped_total", st.dropped[r],
             fmt::format("reason=\"{}\"", drop_reason_names[r]));

  w.one("natter_queued_messages", "gauge",
        "Messages waiting in session queues (offline sessions, full inflight windows).",
        g.queued_messages);
  w.one("natter_queued_bytes", "gauge", "Approximate size of the queued messages.", g.queued_bytes);
  w.one("natter_inflight_messages", "gauge", "QoS 1 and 2 messages sent and not yet acknowledged.",
        g.inflight_messages);

  w.header("natter_auth_failures_total", "counter", "Refused logins, by reason.");
  for (std::size_t r = 0; r < auth_failure_names.size(); ++r)
    w.sample("natter_auth_failures_total", s.auth_failures[r],
             fmt::format("reason=\"{}\"", auth_failure_names[r]));

  if (s.store) {
    const auto& ss = *s.store;
    w.one("natter_store_queue_depth", "gauge", "Store writes and callbacks waiting for a commit.",
          ss.queued);
    w.one("natter_store_commits_total", "counter", "Store transactions committed.", ss.commits);
    w.one("natter_store_writes_total", "counter", "Store writes committed.", ss.ops_applied);
    w.one("natter_store_failed", "gauge", "1 once the store has failed (the server then stops).",
          ss.failed ? 1 : 0);
    w.histogram("natter_store_commit_seconds",
                "Store commit latency: one group's whole transaction, BEGIN to COMMIT.",
                ss.transaction_time_buckets, ss.transaction_time_total);
    w.histogram("natter_store_fsync_seconds",
                "The COMMIT step alone: SQLite writing and fsyncing its WAL (no fsync with "
                "persistence_sync none).",
                ss.commit_time_buckets, ss.commit_time_total);
  }
  process_metrics(w, s.uptime);
  return w.take();
}

}  // namespace natter::app
