// Reconnect delays: exponential backoff with jitter.
//
// Delay n is initial * 2^n capped at max, then spread uniformly over +-jitter of itself,
// so that many clients cut off by one server restart do not come back in lockstep.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace natter::client {

struct reconnect_options {
  bool enabled = false;
  // Also retry when the very first attempt fails. natter-sub, like mosquitto_sub, gives up
  // at once when the server is not there, but reconnects after a connection is lost.
  bool retry_initial = true;
  std::chrono::milliseconds initial_delay{500};
  std::chrono::milliseconds max_delay{30'000};
  double jitter = 0.2;  // fraction of the delay, 0..1
};

class backoff {
 public:
  explicit backoff(const reconnect_options& o, std::uint64_t seed = std::random_device{}())
      : initial_(o.initial_delay), max_(o.max_delay), jitter_(o.jitter), rng_(seed) {}

  // The delay before the next attempt; each call doubles the base.
  std::chrono::milliseconds next() {
    auto base = initial_;
    for (unsigned i = 0; i < attempts_ && base < max_; ++i) base *= 2;
    if (base > max_) base = max_;
    ++attempts_;
    if (jitter_ <= 0) return base;
    std::uniform_real_distribution<double> spread(1.0 - jitter_, 1.0 + jitter_);
    return std::chrono::milliseconds(
        static_cast<std::int64_t>(static_cast<double>(base.count()) * spread(rng_)));
  }
  void reset() noexcept { attempts_ = 0; }
  unsigned attempts() const noexcept { return attempts_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  double jitter_;
  unsigned attempts_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace natter::client
