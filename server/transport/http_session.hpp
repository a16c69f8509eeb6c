// The first phase of a WebSocket listener's connection: HTTP/1.1 requests, answered from
// http_dir (static_files.hpp), until one asks to upgrade to WebSocket; that one becomes an
// MQTT connection over WebSocket. Any path upgrades (Mosquitto accepts any; MQTT.js uses
// "/" when the URL names none, paho "/mqtt"). GET /metrics is answered from a metrics_source
// (the numbers live on the broker strand), the rest by serve_http.
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>
#include <optional>

#include "connection.hpp"
#include "static_files.hpp"

namespace natter::transport {

namespace beast = boost::beast;

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  http_session(Stream stream, broker::broker_service& svc, const connection_limits& limits,
               broker::link_info info, std::optional<std::filesystem::path> http_dir,
               std::shared_ptr<const void> hold, metrics_source metrics = {})
      : stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        svc_(svc),
        limits_(limits),
        info_(std::move(info)),
        http_dir_(std::move(http_dir)),
        hold_(std::move(hold)),
        metrics_(std::move(metrics)) {}

  void run() { do_read(); }

 private:
  void do_read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(64 * 1024);  // read (and refuse with 405) small bodies; bigger ones close
    // A request must arrive within the connect timeout, idle keep-alive included.
    timer_.expires_after(limits_.connect_timeout);
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (!ec) detail::close_socket(beast::get_lowest_layer(self->stream_));
    });
    beast::http::async_read_header(stream_, buffer_, *parser_,
                                   [self = this->shared_from_this()](
                                       beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  // Only GET and HEAD are served, so a chunked request body is never needed: answer from the
  // header and close instead of parsing one (Beast 1.81's chunk parser also asserts on some
  // splits of a valid last chunk, boostorg/beast#2861: found by fuzz/targets/http_request.cpp).
  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    if (parser_->chunked()) {
      timer_.cancel();
      auto req = parser_->release();
      req.keep_alive(false);
      return respond(serve_http(req, http_dir_), false);
    }
    beast::http::async_read(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code rec, std::size_t) {
                              self->on_read(rec);
                            });
  }

  void on_read(beast::error_code ec) {
    timer_.cancel();
    if (ec) return detail::close_socket(beast::get_lowest_layer(stream_));
    auto req = parser_->release();
    if (beast::websocket::is_upgrade(req)) return upgrade(std::move(req));
    if (metrics_ && is_metrics_request(req)) {
      metrics_([self = this->shared_from_this(), req = std::move(req)](std::string text) mutable {
        asio::dispatch(self->stream_.get_executor(),
                       [self, req = std::move(req), text = std::move(text)]() mutable {
                         self->respond(metrics_response(req, std::move(text)), req.keep_alive());
                       });
      });
      return;
    }
    respond(serve_http(req, http_dir_), req.keep_alive());
  }

  void respond(beast::http::message_generator res, bool keep_alive) {
    beast::async_write(
        stream_, std::move(res),
        [self = this->shared_from_this(), keep_alive](beast::error_code wec, std::size_t) {
          if (wec || !keep_alive)
            return detail::close_socket(beast::get_lowest_layer(self->stream_));
          self->do_read();
        });
  }

  void upgrade(http_request req) {
    using ws_type = beast::websocket::stream<Stream>;
    auto ws = std::make_shared<ws_type>(std::move(stream_));
    const auto offered = req[beast::http::field::sec_websocket_protocol];
    const auto proto = choose_subprotocol(std::string_view(offered.data(), offered.size()));
    ws->set_option(
        beast::websocket::stream_base::decorator([proto](beast::websocket::response_type& res) {
          res.set(beast::http::field::server, "natter");
          if (!proto.empty()) res.set(beast::http::field::sec_websocket_protocol, proto);
        }));
    beast::websocket::stream_base::timeout t{};
    t.handshake_timeout = limits_.connect_timeout;
    t.idle_timeout = beast::websocket::stream_base::none();  // MQTT keep-alive governs idleness
    t.keep_alive_pings = false;
    ws->set_option(t);
    ws->binary(true);
    ws->auto_fragment(false);
    // One MQTT packet may span messages, but no single message may exceed the largest
    // packet we accept (plus slack for several small packets in one message).
    ws->read_message_max(std::uint64_t{limits_.max_packet_size} + 64 * 1024);
    ws->async_accept(req, [self = this->shared_from_this(), ws](beast::error_code ec) {
      if (ec) {
        spdlog::debug("websocket handshake with {} failed: {}", self->info_.peer, ec.message());
        return;
      }
      auto c = std::make_shared<connection<ws_type>>(std::move(*ws), self->svc_, self->limits_,
                                                     self->info_);
      c->hold(self->hold_);
      c->start();
    });
  }

  Stream stream_;
  asio::steady_timer timer_;
  broker::broker_service& svc_;
  connection_limits limits_;
  broker::link_info info_;
  std::optional<std::filesystem::path> http_dir_;
  std::shared_ptr<const void> hold_;
  metrics_source metrics_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
};

}  // namespace natter::transport
