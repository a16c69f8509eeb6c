// What every scenario shares: the target and options, the single-threaded io_context that
// runs all connections, bounded waits, and the measurement around a scenario's timed
// part (server CPU and memory with --pid, the generator's own CPU).
#pragma once

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "report.hpp"

namespace natter::bench {

struct common_options {
  std::string url = "mqtt://127.0.0.1:1883";
  std::string cafile;     // CA for mqtts:// and wss://
  bool insecure = false;  // do not verify the server's certificate
  bool v5 = false;        // MQTT 5.0 (default 3.1.1, which every peer speaks)
  int pid = 0;            // the server's process id: CPU and memory figures
  std::string prefix;     // of topics and client ids; default unique per run
  std::string username;
  std::string password;
  std::string label;        // copied into the JSON line (compare.sh: the broker's name)
  double timeout = 30;      // bound of each wait (connects, drains), seconds
  bool quiet_json = false;  // only the human line
};

class runner {
 public:
  explicit runner(common_options o);  // throws std::runtime_error on a bad URL or CA file

  boost::asio::io_context& ioc() noexcept { return ioc_; }
  const target& tgt() const noexcept { return target_; }
  const common_options& opts() const noexcept { return opts_; }
  const std::string& prefix() const noexcept { return opts_.prefix; }
  mqtt::version version() const noexcept { return target_.version; }

  connection_ptr make(std::size_t read_buffer = 65536);
  // CONNECT with the configured credentials. clean = false: a session that outlives the
  // connection (3.1.1 Clean Session 0; 5.0 Clean Start 0 and a one-hour expiry).
  mqtt::connect connect_packet(std::string client_id, bool clean = true,
                               std::uint16_t keep_alive = 0) const;

  // Runs the io_context until pred() holds or `timeout` seconds pass; returns pred().
  bool run_until(const std::function<bool()>& pred, double timeout);
  void run_for(double seconds);

  // The timed part: samples before and after; end_measure adds server_cpu_s,
  // server_rss_kb, server_peak_rss_kb, msgs_per_server_cpu_s (for `messages`) and
  // bench_cpu_s to the report, and returns the human suffix.
  void begin_measure();
  std::string end_measure(report& r, double messages);

  // transport, version, label: the first fields of every JSON line.
  void describe(report& r) const;
  // Prints the human line and, unless quiet, the JSON line; returns the exit status
  // (1 when errors were recorded).
  int finish(const std::string& human, report& r);

  // Something that should not happen (a refused CONNECT, a connection lost mid-run).
  void error(std::string what);
  const std::vector<std::string>& errors() const noexcept { return errors_; }

  std::string transport_name() const;

 private:
  common_options opts_;
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  target target_;
  std::optional<proc_sample> server_before_;
  double self_before_ = 0;
  std::int64_t measure_start_ns_ = 0;
  std::vector<std::string> errors_;
};

// Packet identifiers for one publisher: the next free one, cycling, never one in flight.
class packet_ids {
 public:
  packet_ids() : used_(65536, false) {}
  std::uint16_t take() {
    do {
      next_ = static_cast<std::uint16_t>(next_ == 65535 ? 1 : next_ + 1);
    } while (used_[next_]);
    used_[next_] = true;
    return next_;
  }
  bool release(std::uint16_t id) {
    if (!used_[id]) return false;
    used_[id] = false;
    return true;
  }

 private:
  std::vector<bool> used_;
  std::uint16_t next_ = 0;
};

// Opens `count` connections, keeping at most `concurrency` of them not yet set up
// (servers refuse a flood of simultaneous logins: Natter answers "Server busy"), and, with
// rate > 0, starting at most `rate` per second.
class opener {
 public:
  opener(runner& r, int count, int concurrency, double rate)
      : r_(r),
        count_(count),
        concurrency_(std::max(concurrency, 1)),
        rate_(rate),
        timer_(r.ioc()) {}

  // make(i) starts connection i; the owner calls done() once it is ready or failed.
  bool run(const std::function<void(int)>& make) {
    make_ = &make;
    t0_ = now_ns();
    if (rate_ > 0) {
      tick();
    } else {
      while (started_ < count_ && started_ - finished_ < concurrency_) make(started_++);
    }
    return r_.run_until([&] { return finished_ == count_; }, r_.opts().timeout + count_ / 1000.0);
  }
  void done() {
    ++finished_;
    if (rate_ <= 0 && started_ < count_) (*make_)(started_++);
  }
  int finished() const noexcept { return finished_; }

 private:
  void tick() {
    const double due = static_cast<double>(now_ns() - t0_) / 1e9 * rate_;
    while (started_ < count_ && started_ < static_cast<int>(due) + 1 &&
           started_ - finished_ < concurrency_)
      (*make_)(started_++);
    if (started_ >= count_) return;
    timer_.expires_after(std::chrono::milliseconds(1));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) tick();
    });
  }

  runner& r_;
  int count_, concurrency_;
  double rate_;
  boost::asio::steady_timer timer_;
  const std::function<void(int)>* make_ = nullptr;
  int started_ = 0, finished_ = 0;
  std::int64_t t0_ = 0;
};

}  // namespace natter::bench
