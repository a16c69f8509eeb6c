// $SYS/broker/...: the broker's report on itself, under Mosquitto's topic names and value
// formats (so dashboards and scripts written for Mosquitto read it unchanged), every
// sys_interval seconds. Messages are retained, QoS 0, and never stored (broker.cpp skips
// $SYS in the store); like Mosquitto, a value is published only when it changed, except the
// uptime. The numbers are read on the broker strand, in the same closure that publishes them.
// Each update also refreshes the service status line systemd shows (STATUS=).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "broker/broker_service.hpp"

namespace natter::app {

class sys_topics {
 public:
  // `version`: the value of $SYS/broker/version, e.g. "natter version 0.1.0".
  sys_topics(boost::asio::io_context& ioc, broker::broker_service& svc,
             std::chrono::seconds interval, std::string version);
  void start();  // one update now, then one per interval
  void stop();

 private:
  // Mosquitto's "load" figures: exponentially damped per-minute rates over 1, 5 and 15 min.
  struct load {
    std::uint64_t last = 0;
    double m1 = 0, m5 = 0, m15 = 0;
    bool primed = false;
  };

  void schedule();
  void update(broker::broker& b);  // on the broker strand
  void set(broker::broker& b, const std::string& topic, std::string value);
  void set_load(broker::broker& b, const std::string& name, load& l, std::uint64_t total,
                double seconds);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  broker::broker_service& svc_;
  const std::chrono::seconds interval_;
  const std::string version_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<bool> stopped_{false};

  // Touched on the broker strand only.
  std::unordered_map<std::string, std::string> published_;  // topic -> last value sent
  std::chrono::steady_clock::time_point last_update_{};
  load messages_received_, messages_sent_, publish_received_, publish_sent_, publish_dropped_,
      bytes_received_, bytes_sent_, sockets_;
};

}  // namespace natter::app
