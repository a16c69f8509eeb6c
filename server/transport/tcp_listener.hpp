// Accepts TCP connections on one endpoint and starts a connection for each, on its own
// strand of the shared io_context.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "broker/broker_service.hpp"
#include "connection.hpp"

namespace natter::transport {

class tcp_listener : public std::enable_shared_from_this<tcp_listener> {
 public:
  // Binds and listens; throws boost::system::system_error when the endpoint is unusable
  // (startup only).
  tcp_listener(asio::io_context& ioc, const asio::ip::tcp::endpoint& ep,
               broker::broker_service& svc, connection_limits limits);
  void start();
  void stop();
  asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void do_accept();

  asio::io_context& ioc_;
  asio::ip::tcp::acceptor acceptor_;
  broker::broker_service& svc_;
  connection_limits limits_;
};

}  // namespace natter::transport
