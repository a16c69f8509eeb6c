#include "listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "http_session.hpp"

namespace natter::transport {

namespace {

// Counts a listener's live connections for max_connections; lives as long as the
// connection (held through connection::hold), so the count needs no callbacks.
struct connection_guard {
  explicit connection_guard(std::shared_ptr<std::atomic<std::size_t>> c) : count(std::move(c)) {
    ++*count;
  }
  ~connection_guard() { --*count; }
  connection_guard(const connection_guard&) = delete;
  connection_guard& operator=(const connection_guard&) = delete;
  std::shared_ptr<std::atomic<std::size_t>> count;
  std::shared_ptr<asio::ssl::context> tls;  // the context this connection was accepted with
};

// CN of a verified client certificate.
std::optional<std::string> peer_common_name(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return std::nullopt;
  std::optional<std::string> cn;
  if (X509_NAME* name = X509_get_subject_name(cert)) {
    const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx >= 0) {
      ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
      unsigned char* utf8 = nullptr;
      const int len = ASN1_STRING_to_UTF8(&utf8, data);
      if (len >= 0) cn = std::string(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
      OPENSSL_free(utf8);
    }
  }
  X509_free(cert);
  return cn;
}

}  // namespace

listener::listener(asio::io_context& ioc, const asio::ip::tcp::endpoint& ep,
                   broker::broker_service& svc, listener_options opts,
                   std::shared_ptr<asio::ssl::context> tls)
    : ioc_(ioc), acceptor_(ioc), svc_(svc), opts_(std::move(opts)), tls_(std::move(tls)) {
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  if (ep.address().is_v6()) acceptor_.set_option(asio::ip::v6_only(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void listener::start() {
  do_accept();
}

void listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void listener::set_tls_context(std::shared_ptr<asio::ssl::context> ctx) {
  std::lock_guard lock(tls_mutex_);
  tls_ = std::move(ctx);
}

std::shared_ptr<asio::ssl::context> listener::tls_context() const {
  std::lock_guard lock(tls_mutex_);
  return tls_;
}

void listener::do_accept() {
  // Each connection gets its own strand: its handlers never run concurrently.
  acceptor_.async_accept(
      asio::make_strand(ioc_),
      [self = shared_from_this()](boost::system::error_code ec, asio::ip::tcp::socket sock) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
          self->on_accept(std::move(sock));
        } else if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
                   ec == asio::error::no_memory ||
                   ec == boost::system::errc::too_many_files_open_in_system) {
          // Out of descriptors or memory: the pending connection stays in the backlog, so
          // accepting again at once fails again at once, a busy loop that also floods the
          // log. Retry after a pause; connections that close meanwhile free descriptors.
          spdlog::warn("{}: accept failed: {}; retrying in 100 ms", self->opts_.name, ec.message());
          auto pause = std::make_shared<asio::steady_timer>(self->acceptor_.get_executor(),
                                                            std::chrono::milliseconds(100));
          pause->async_wait([self, pause](boost::system::error_code) {
            if (self->acceptor_.is_open()) self->do_accept();
          });
          return;
        } else {
          spdlog::warn("{}: accept failed: {}", self->opts_.name, ec.message());  // e.g. reset
        }
        if (self->acceptor_.is_open()) self->do_accept();
      });
}

void listener::on_accept(asio::ip::tcp::socket sock) {
  boost::system::error_code ec;
  const auto remote = sock.remote_endpoint(ec);
  broker::link_info info;
  info.listener = opts_.index;
  info.peer =
      ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port());
  if (opts_.max_connections >= 0 &&
      active_->load() >= static_cast<std::size_t>(opts_.max_connections)) {
    spdlog::warn("{}: refusing {}: max_connections ({}) reached", opts_.name, info.peer,
                 opts_.max_connections);
    detail::close_socket(sock);
    return;
  }
  sock.set_option(asio::ip::tcp::no_delay(true), ec);
  auto guard = std::make_shared<connection_guard>(active_);
  auto ctx = tls_context();
  guard->tls = ctx;
  info.transport = opts_.websockets ? (ctx ? "wss" : "ws") : (ctx ? "tls" : "tcp");

  if (!ctx) {
    if (opts_.websockets) {
      std::make_shared<http_session<tcp_stream>>(std::move(sock), svc_, opts_.limits,
                                                 std::move(info), opts_.http_dir, guard,
                                                 opts_.metrics)
          ->run();
    } else {
      auto c = std::make_shared<connection<tcp_stream>>(std::move(sock), svc_, opts_.limits,
                                                        std::move(info));
      c->hold(guard);
      c->start();
    }
    return;
  }

  // TLS first, bounded by the connect timeout; then MQTT or HTTP/WebSocket on top.
  auto stream = std::make_shared<tls_stream>(std::move(sock), *ctx);
  auto timer =
      std::make_shared<asio::steady_timer>(stream->get_executor(), opts_.limits.connect_timeout);
  timer->async_wait([stream](boost::system::error_code tec) {
    if (!tec) detail::close_socket(stream->next_layer());
  });
  stream->async_handshake(
      asio::ssl::stream_base::server,
      [self = shared_from_this(), stream, timer, guard,
       info = std::move(info)](boost::system::error_code hec) mutable {
        timer->cancel();
        if (hec) {
          spdlog::info("{}: TLS handshake with {} failed: {}", self->opts_.name, info.peer,
                       hec.message());
          return detail::close_socket(stream->next_layer());
        }
        info.cert_identity = peer_common_name(stream->native_handle());
        if (self->opts_.websockets) {
          std::make_shared<http_session<tls_stream>>(std::move(*stream), self->svc_,
                                                     self->opts_.limits, std::move(info),
                                                     self->opts_.http_dir, guard,
                                                     self->opts_.metrics)
              ->run();
        } else {
          auto c = std::make_shared<connection<tls_stream>>(std::move(*stream), self->svc_,
                                                            self->opts_.limits, std::move(info));
          c->hold(guard);
          c->start();
        }
      });
}

}  // namespace natter::transport
