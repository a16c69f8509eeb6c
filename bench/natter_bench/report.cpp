// Output formatting and /proc sampling (see report.hpp).
#include "report.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "output_format.hpp"

namespace natter::bench {

std::optional<proc_sample> sample_process(int pid) {
  proc_sample s;
  {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return std::nullopt;
    // The command name (field 2) may hold spaces: count fields after its closing ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; rest >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) {
        stime = std::stod(field);
        break;
      }
    }
    s.cpu_s = (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") status >> s.rss_kb;
    if (key == "VmHWM:") status >> s.hwm_kb;
    status.ignore(1 << 16, '\n');
  }
  return s;
}

double self_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double percentile_ms(const std::vector<std::int64_t>& sorted_ns, double q) {
  if (sorted_ns.empty()) return 0;
  auto i = static_cast<std::size_t>(std::floor(q * static_cast<double>(sorted_ns.size())));
  i = std::min(i, sorted_ns.size() - 1);
  return static_cast<double>(sorted_ns[i]) / 1e6;
}

namespace {

// JSON strings as natter-pub/natter-sub write them (cli-client/output_format).
std::string json_string(const std::string& s) {
  std::string out = "\"";
  natter::cli::json_escape(out, s);
  return out + "\"";
}

}  // namespace

report& report::add(std::string key, std::string value) {
  fields_.emplace_back(std::move(key), json_string(value));
  return *this;
}

report& report::add(std::string key, double value, int decimals) {
  if (!std::isfinite(value)) {
    fields_.emplace_back(std::move(key), "null");
    return *this;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  fields_.emplace_back(std::move(key), buf);
  return *this;
}

report& report::add(std::string key, std::int64_t value) {
  fields_.emplace_back(std::move(key), std::to_string(value));
  return *this;
}

report& report::add(std::string key, bool value) {
  fields_.emplace_back(std::move(key), value ? "true" : "false");
  return *this;
}

std::string report::json() const {
  std::string out = "{";
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    if (i) out += ",";
    out += json_string(fields_[i].first) + ":" + fields_[i].second;
  }
  return out + "}";
}

std::string grouped(double v) {
  if (!std::isfinite(v)) return "-";
  const bool neg = v < 0;
  auto n = static_cast<long long>(std::llround(std::fabs(v)));
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return neg ? "-" + out : out;
}

}  // namespace natter::bench
