// Runs the broker core on one strand of the shared io_context, so the core needs no locks
// (STYLE.md threading model A). Connections call these thread-safe entry points; each
// posts to the strand and returns at once. Posts from one connection arrive in the order
// they were made, which is what keeps one connection's work ordered.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <memory>

#include "broker.hpp"

namespace natter::broker {

class broker_service {
 public:
  broker_service(boost::asio::any_io_executor ex, broker_options opts, hooks& h);
  broker_service(const broker_service&) = delete;
  broker_service& operator=(const broker_service&) = delete;

  // Persistence: restores `snap` and writes to `st` from then on. Call before start().
  void attach_store(store::store& st, store::snapshot snap);
  // Runs fn on the broker strand (the store's after_durable callbacks come back this way).
  void post(std::function<void()> fn);

  void start();  // starts the once-a-second tick
  void stop();   // closes every connection; the tick stops

  void open(std::shared_ptr<link> l);
  void packet(std::shared_ptr<link> l, mqtt::packet&& p);
  void decode_error(std::shared_ptr<link> l, std::error_code ec);
  void timeout(std::shared_ptr<link> l);
  void closed(std::shared_ptr<link> l);

  // The core, for code already running on the strand (the chat service's publisher).
  broker& core() noexcept { return core_; }

  // Runs fn(broker&) on the strand: for the chat service, $SYS, tests.
  template <class F>
  void run(F&& fn) {
    boost::asio::post(strand_, [this, fn = std::forward<F>(fn)]() mutable {
      fn(core_);
      core_.end_event();
    });
  }

 private:
  void schedule_tick();

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  broker core_;
  boost::asio::steady_timer tick_;
  bool stopped_ = false;
};

}  // namespace natter::broker
