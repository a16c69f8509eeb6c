// natter-server's process: turns a server_config into running listeners and a broker, and
// takes them down again. main.cpp only parses the command line and waits for signals.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app_hooks.hpp"
#include "authenticator.hpp"
#include "broker/broker_service.hpp"
#include "chat/chat_service.hpp"
#include "chat/memory_chat_store.hpp"
#include "config/config.hpp"
#include "store/sqlite_store.hpp"
#include "sys_topics.hpp"
#include "transport/listener.hpp"

namespace natter::app {

class server {
 public:
  // Binds every listener; throws std::runtime_error naming the listener that failed.
  server(boost::asio::io_context& ioc, config::server_config cfg);
  ~server();
  void stop();
  // SIGHUP: reload password and ACL files, TLS certificates and keys; existing connections
  // keep going (with the new ACL). A file that fails to load keeps the old one and is logged.
  void reload();
  // The text of GET /metrics (metrics.hpp); `done` runs on the broker strand.
  void metrics(std::function<void(std::string)> done);

 private:
  struct bound_listener {
    std::size_t config_index;
    std::shared_ptr<transport::listener> l;
  };

  void start_chat();

  boost::asio::io_context& ioc_;
  config::server_config cfg_;
  // The broker calls into these until it is gone: declared before it, destroyed after it.
  std::unique_ptr<app_hooks> hooks_;
  std::unique_ptr<chat::memory_chat_store> memory_chat_;  // chat history without persistence
  std::unique_ptr<chat::chat_service> chat_;
  // Declared before auth_ so that it is destroyed after: the authenticator's pool calls
  // back into the broker until it is joined.
  std::unique_ptr<broker::broker_service> broker_;
  std::unique_ptr<authenticator> auth_;
  // Destroyed first: its destructor commits what is queued and hands the last callbacks
  // to the broker strand.
  std::unique_ptr<store::sqlite_store> store_;
  std::vector<bound_listener> listeners_;
  std::unique_ptr<sys_topics> sys_;  // publishes through broker_: destroyed before it
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

broker::broker_options broker_options_from(const config::server_config& cfg);

}  // namespace natter::app
