// What natter-bench prints: one human line and one JSON line per scenario run, plus the
// server-side figures read from /proc/PID (--pid) and the generator's own CPU time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace natter::bench {

// A process's CPU time (utime + stime, /proc/PID/stat) and memory (/proc/PID/status).
struct proc_sample {
  double cpu_s = 0;
  std::int64_t rss_kb = 0;  // VmRSS
  std::int64_t hwm_kb = 0;  // VmHWM: peak resident set since the process started
};
std::optional<proc_sample> sample_process(int pid);
// This process's CPU time (all threads).
double self_cpu_s();

// Sorted latencies in nanoseconds; q in [0, 1].
double percentile_ms(const std::vector<std::int64_t>& sorted_ns, double q);

// Fields in the order they were added; printed as one JSON object on one line.
class report {
 public:
  explicit report(std::string scenario) { add("scenario", std::move(scenario)); }

  report& add(std::string key, std::string value);
  report& add(std::string key, const char* value) {
    return add(std::move(key), std::string(value));
  }
  report& add(std::string key, double value, int decimals = 3);
  report& add(std::string key, std::int64_t value);
  report& add(std::string key, std::uint64_t value) {
    return add(std::move(key), static_cast<std::int64_t>(value));
  }
  report& add(std::string key, int value) { return add(std::move(key), std::int64_t{value}); }
  report& add(std::string key, std::uint32_t value) {
    return add(std::move(key), std::int64_t{value});
  }
  report& add(std::string key, bool value);

  std::string json() const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;  // value already JSON-encoded
};

// Thousands separators for the human line: 1234567 -> "1,234,567".
std::string grouped(double v);

}  // namespace natter::bench
