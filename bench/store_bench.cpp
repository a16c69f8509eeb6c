// store_bench: durable-write throughput of sqlite_store under each sync policy.
//
// Each write is one put_delivery() followed by after_durable() (the broker's "PUBACK when
// durable"); callbacks run on a separate "strand" thread through the deferrer, as in the
// broker. Two load shapes per policy:
//   burst   N writes enqueued from one thread as fast as it can (many concurrent producers):
//           measures how well group commit amortises the fsync.
//   clients C simulated clients, each with one write outstanding: the next is queued from
//           the previous one's callback (QoS 1 publishers waiting for PUBACK): measures
//           throughput and ack latency when acks gate the load.
// Prints one human line and one key=value line per (policy, shape).
//
//   natter_store_bench [--dir DIR] [--n N] [--clients C] [--payload BYTES] [--policy P]...
// DIR must be on the disk to measure (not tmpfs); default: the current directory.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store/sqlite_store.hpp"

namespace {

namespace fs = std::filesystem;
using natter::store::sqlite_store;
using natter::store::sync_policy;
using clock_type = std::chrono::steady_clock;

// The broker strand stand-in: runs deferred callbacks on one thread, in order.
class strand {
 public:
  strand() : thread_([this] { run(); }) {}
  ~strand() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void post(std::function<void()> f) {
    {
      std::lock_guard lk(mu_);
      q_.push_back(std::move(f));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return done_ || !q_.empty(); });
      if (q_.empty()) return;
      auto f = std::move(q_.front());
      q_.pop_front();
      lk.unlock();
      f();
      lk.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool done_ = false;
  std::thread thread_;
};

struct config {
  fs::path dir = ".";
  std::size_t n = 20000;
  std::size_t clients = 64;
  std::size_t payload = 100;
  std::vector<sync_policy> policies;
};

struct result {
  double seconds = 0;
  double mean_latency_us = 0;  // clients shape: enqueue to callback
  double max_latency_us = 0;
  natter::store::sqlite_store_stats stats;
};

void remove_db(const fs::path& db) {
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
}

natter::store::delivery_record make_delivery(std::uint64_t seq, std::size_t payload) {
  natter::store::delivery_record d;
  d.client_id = "client-" + std::to_string(seq % 100);
  d.seq = seq;
  d.publish.assign(payload, static_cast<std::uint8_t>(seq));
  d.subscription_ids = {1};
  return d;
}

result run_burst(const config& c, sync_policy p, const fs::path& db) {
  strand st;
  sqlite_store s(db, p, [&](std::function<void()> f) { st.post(std::move(f)); });
  std::promise<void> done;
  std::size_t acked = 0;  // strand thread only
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < c.n; ++i) {
    s.put_delivery(make_delivery(i, c.payload));
    s.after_durable([&] {
      if (++acked == c.n) done.set_value();
    });
  }
  done.get_future().wait();
  result r;
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  r.stats = s.stats();
  return r;
}

result run_clients(const config& c, sync_policy p, const fs::path& db) {
  strand st;
  sqlite_store s(db, p, [&](std::function<void()> f) { st.post(std::move(f)); });
  std::promise<void> done;
  std::size_t issued = 0, acked = 0;  // strand thread only (after the first round)
  double latency_sum_us = 0, latency_max_us = 0;
  std::function<void()> issue = [&] {
    const auto seq = issued++;
    const auto t = clock_type::now();
    s.put_delivery(make_delivery(seq, c.payload));
    s.after_durable([&, t] {
      const double us = std::chrono::duration<double, std::micro>(clock_type::now() - t).count();
      latency_sum_us += us;
      latency_max_us = std::max(latency_max_us, us);
      if (++acked == c.n) return done.set_value();
      if (issued < c.n) issue();
    });
  };
  const auto start = clock_type::now();
  std::promise<void> started;
  st.post([&] {
    for (std::size_t i = 0; i < std::min(c.clients, c.n); ++i) issue();
    started.set_value();
  });
  started.get_future().wait();
  done.get_future().wait();
  result r;
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  r.mean_latency_us = latency_sum_us / static_cast<double>(c.n);
  r.max_latency_us = latency_max_us;
  r.stats = s.stats();
  return r;
}

void print(const config& c, sync_policy p, std::string_view shape, const result& r) {
  const auto& s = r.stats;
  const double ops_per_s = static_cast<double>(c.n) / r.seconds;
  const double group =
      s.commits ? static_cast<double>(s.ops_applied) / static_cast<double>(s.commits) : 0;
  const double commit_mean_ms =
      s.commits ? std::chrono::duration<double, std::milli>(s.commit_time_total).count() /
                      static_cast<double>(s.commits)
                : 0;
  const double commit_max_ms = std::chrono::duration<double, std::milli>(s.commit_time_max).count();
  // Statement execution alone (the transaction minus its COMMIT), per write.
  const double apply_us = s.ops_applied ? std::chrono::duration<double, std::micro>(
                                              s.transaction_time_total - s.commit_time_total)
                                                  .count() /
                                              static_cast<double>(s.ops_applied)
                                        : 0;
  const auto pol = natter::store::to_string(p);
  std::string shape_text = std::string(shape);
  if (shape == "clients") shape_text += " (" + std::to_string(c.clients) + " in flight)";
  std::printf(
      "%-6s %-21s %7.0f writes/s  %5llu commits  mean group %6.1f  commit mean %.2f ms "
      "max %.2f ms  apply %.1f us/write",
      std::string(pol).c_str(), shape_text.c_str(), ops_per_s,
      static_cast<unsigned long long>(s.commits), group, commit_mean_ms, commit_max_ms, apply_us);
  if (shape == "clients")
    std::printf("  ack latency mean %.0f us max %.0f us", r.mean_latency_us, r.max_latency_us);
  std::printf("\n");
  std::printf(
      "policy=%s shape=%s n=%zu clients=%zu payload=%zu ops_per_s=%.0f commits=%llu "
      "mean_group=%.2f commit_mean_ms=%.3f commit_max_ms=%.3f apply_us_per_write=%.2f "
      "ack_mean_us=%.0f ack_max_us=%.0f\n",
      std::string(pol).c_str(), std::string(shape).c_str(), c.n,
      shape == "clients" ? c.clients : c.n, c.payload, ops_per_s,
      static_cast<unsigned long long>(s.commits), group, commit_mean_ms, commit_max_ms, apply_us,
      r.mean_latency_us, r.max_latency_us);
  std::fflush(stdout);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: natter_store_bench [--dir DIR] [--n N] [--clients C] [--payload BYTES] "
               "[--policy always|batch|none]...\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage();
    const char* value = argv[++i];
    if (arg == "--dir") {
      c.dir = value;
    } else if (arg == "--n") {
      c.n = std::strtoull(value, nullptr, 10);
    } else if (arg == "--clients") {
      c.clients = std::strtoull(value, nullptr, 10);
    } else if (arg == "--payload") {
      c.payload = std::strtoull(value, nullptr, 10);
    } else if (arg == "--policy") {
      auto p = natter::store::parse_sync_policy(value);
      if (!p) usage();
      c.policies.push_back(*p);
    } else {
      usage();
    }
  }
  if (c.n == 0 || c.clients == 0) usage();
  if (c.policies.empty()) c.policies = {sync_policy::always, sync_policy::batch, sync_policy::none};

  const auto db = c.dir / ("natter-store-bench-" + std::to_string(::getpid()) + ".db");
  try {
    for (auto p : c.policies) {
      remove_db(db);
      print(c, p, "burst", run_burst(c, p, db));
      remove_db(db);
      print(c, p, "clients", run_clients(c, p, db));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "natter_store_bench: %s\n", e.what());
    remove_db(db);
    return 1;
  }
  remove_db(db);
  return 0;
}
