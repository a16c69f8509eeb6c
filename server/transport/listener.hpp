// Accepts connections on one endpoint and turns each into an MQTT connection, whatever
// the listener's kind: raw MQTT or WebSocket (which also serves HTTP), each with or
// without TLS. Every accepted socket gets its own strand of the shared io_context.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "broker/broker_service.hpp"
#include "connection.hpp"
#include "static_files.hpp"

namespace natter::transport {

struct listener_options {
  bool websockets = false;
  std::optional<std::filesystem::path> http_dir;  // websockets: static files served on GET
  std::int32_t max_connections = -1;              // -1: unlimited
  connection_limits limits;
  std::string name;       // for logs: "FILE:LINE" of its `listener` line
  std::size_t index = 0;  // the listener's place in the configuration (per-listener security)
  metrics_source metrics;  // websockets: answers GET /metrics; empty: not served
};

class listener : public std::enable_shared_from_this<listener> {
 public:
  // Binds and listens; throws boost::system::system_error (startup only). `tls` null: plain.
  listener(asio::io_context& ioc, const asio::ip::tcp::endpoint& ep, broker::broker_service& svc,
           listener_options opts, std::shared_ptr<asio::ssl::context> tls);
  void start();
  void stop();
  // New connections use `ctx` from now on; existing ones keep theirs (SIGHUP reload).
  void set_tls_context(std::shared_ptr<asio::ssl::context> ctx);
  asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  std::size_t active_connections() const { return active_->load(); }

 private:
  void do_accept();
  void on_accept(asio::ip::tcp::socket sock);
  std::shared_ptr<asio::ssl::context> tls_context() const;

  asio::io_context& ioc_;
  asio::ip::tcp::acceptor acceptor_;
  broker::broker_service& svc_;
  listener_options opts_;
  mutable std::mutex tls_mutex_;
  std::shared_ptr<asio::ssl::context> tls_;
  // Shared with every connection's guard, which outlives the listener if need be.
  std::shared_ptr<std::atomic<std::size_t>> active_ = std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace natter::transport
