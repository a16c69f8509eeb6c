// GET /metrics: the Prometheus text exposition format (version 0.0.4), written by hand (a
// few dozen series do not need a client library). The numbers are gathered in one closure
// on the broker strand (broker stats and gauges), plus the store's and the authenticator's
// thread-safe counters, so one scrape is consistent; rendering is a pure function.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "authenticator.hpp"
#include "broker/broker.hpp"
#include "store/sqlite_store.hpp"

namespace natter::app {

struct metrics_snapshot {
  std::string version;
  std::chrono::steady_clock::duration uptime{};
  broker::broker_stats stats;
  broker::broker_gauges gauges;
  std::optional<store::sqlite_store_stats> store;  // with persistence only
  std::array<std::uint64_t, auth_failure_count> auth_failures{};
};

// The whole /metrics body, process_* series (CPU, memory, file descriptors) included.
std::string render_metrics(const metrics_snapshot& s);

}  // namespace natter::app
