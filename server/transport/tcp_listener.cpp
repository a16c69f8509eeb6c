#include "tcp_listener.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

namespace natter::transport {

tcp_listener::tcp_listener(asio::io_context& ioc, const asio::ip::tcp::endpoint& ep,
                           broker::broker_service& svc, connection_limits limits)
    : ioc_(ioc), acceptor_(ioc), svc_(svc), limits_(limits) {
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  if (ep.address().is_v6()) acceptor_.set_option(asio::ip::v6_only(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void tcp_listener::start() { do_accept(); }

void tcp_listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void tcp_listener::do_accept() {
  // Each connection gets its own strand: its handlers never run concurrently.
  acceptor_.async_accept(
      asio::make_strand(ioc_), [self = shared_from_this()](boost::system::error_code ec,
                                                           asio::ip::tcp::socket sock) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) {
          // EMFILE and friends: keep accepting once resources free up.
          spdlog::warn("accept failed: {}", ec.message());
        } else {
          boost::system::error_code e2;
          sock.set_option(asio::ip::tcp::no_delay(true), e2);
          const auto remote = sock.remote_endpoint(e2);
          std::string peer = e2 ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
          std::make_shared<connection<asio::ip::tcp::socket>>(std::move(sock), self->svc_, self->limits_,
                                                              std::move(peer))
              ->start();
        }
        if (self->acceptor_.is_open()) self->do_accept();
      });
}

}  // namespace natter::transport
