// How bytes move on each transport: the only place where TCP, TLS, WebSocket and secure
// WebSocket differ (like server/transport/stream_ops.hpp). mqtt_client sees a byte
// stream with a handshake, read_some, write and a graceful close; MQTT never knows which.
//
// Completion handlers run on the stream's executor (the client's strand).
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <string>
#include <utility>

namespace natter::client::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

using tcp_stream = asio::ip::tcp::socket;
using tls_stream = asio::ssl::stream<tcp_stream>;
using ws_stream = websocket::stream<tcp_stream>;
using wss_stream = websocket::stream<tls_stream>;

struct handshake_params {
  std::string host;
  std::uint16_t port = 0;
  std::string ws_path;
  bool verify_peer = true;
  bool verify_hostname = true;
};

inline void prepare_tls(tls_stream& s, const handshake_params& p) {
  boost::system::error_code not_an_address;
  (void)asio::ip::make_address(p.host, not_an_address);
  // SNI names a host, never an address (RFC 6066 section 3).
  if (not_an_address) SSL_set_tlsext_host_name(s.native_handle(), p.host.c_str());
  s.set_verify_mode(p.verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none);
  if (p.verify_peer && p.verify_hostname)
    s.set_verify_callback(asio::ssl::host_name_verification(p.host));
}

template <class WsStream>
void prepare_ws(WsStream& s) {
  // MQTT over WebSocket: subprotocol "mqtt", binary messages (MQTT 5.0 section 6).
  s.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(beast::http::field::sec_websocket_protocol, "mqtt");
    req.set(beast::http::field::user_agent, "natter-client");
  }));
  s.binary(true);
  s.read_message_max(0);  // MQTT's own Maximum Packet Size applies, not Beast's 16 MB
}

inline std::string host_header(const handshake_params& p) {
  const bool v6 = p.host.find(':') != std::string::npos;
  return (v6 ? "[" + p.host + "]" : p.host) + ":" + std::to_string(p.port);
}

template <class Stream>
struct stream_ops;

template <>
struct stream_ops<tcp_stream> {
  template <class Handler>
  static void async_handshake(tcp_stream& s, const handshake_params&, Handler&& h) {
    asio::post(s.get_executor(),
               [h = std::forward<Handler>(h)]() mutable { h(boost::system::error_code{}); });
  }
  template <class Handler>
  static void async_read_some(tcp_stream& s, asio::mutable_buffer b, Handler&& h) {
    s.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Handler>
  static void async_write(tcp_stream& s, asio::const_buffer b, Handler&& h) {
    asio::async_write(s, b, std::forward<Handler>(h));
  }
  // Half-close: the server reads EOF after our last packet and closes; the pending read
  // then completes and the connection is done.
  template <class Handler>
  static void async_close(tcp_stream& s, Handler&& h) {
    boost::system::error_code ec;
    s.shutdown(tcp_stream::shutdown_send, ec);
    asio::post(s.get_executor(), [h = std::forward<Handler>(h), ec]() mutable { h(ec); });
  }
};

template <>
struct stream_ops<tls_stream> {
  template <class Handler>
  static void async_handshake(tls_stream& s, const handshake_params& p, Handler&& h) {
    prepare_tls(s, p);
    s.async_handshake(asio::ssl::stream_base::client, std::forward<Handler>(h));
  }
  template <class Handler>
  static void async_read_some(tls_stream& s, asio::mutable_buffer b, Handler&& h) {
    s.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Handler>
  static void async_write(tls_stream& s, asio::const_buffer b, Handler&& h) {
    asio::async_write(s, b, std::forward<Handler>(h));
  }
  // No close_notify: SSL_shutdown would race the pending read. The server has our
  // DISCONNECT already; it sees a truncated stream, which MQTT servers accept.
  template <class Handler>
  static void async_close(tls_stream& s, Handler&& h) {
    boost::system::error_code ec;
    s.next_layer().shutdown(tcp_stream::shutdown_send, ec);
    asio::post(s.get_executor(), [h = std::forward<Handler>(h), ec]() mutable { h(ec); });
  }
};

template <>
struct stream_ops<ws_stream> {
  template <class Handler>
  static void async_handshake(ws_stream& s, const handshake_params& p, Handler&& h) {
    prepare_ws(s);
    s.async_handshake(host_header(p), p.ws_path, std::forward<Handler>(h));
  }
  template <class Handler>
  static void async_read_some(ws_stream& s, asio::mutable_buffer b, Handler&& h) {
    s.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Handler>
  static void async_write(ws_stream& s, asio::const_buffer b, Handler&& h) {
    s.async_write(b, std::forward<Handler>(h));
  }
  template <class Handler>
  static void async_close(ws_stream& s, Handler&& h) {
    s.async_close(websocket::close_code::normal, std::forward<Handler>(h));
  }
};

template <>
struct stream_ops<wss_stream> {
  template <class Handler>
  static void async_handshake(wss_stream& s, const handshake_params& p, Handler&& h) {
    prepare_tls(s.next_layer(), p);
    prepare_ws(s);
    s.next_layer().async_handshake(
        asio::ssl::stream_base::client,
        [&s, target = p.ws_path, host = host_header(p),
         h = std::forward<Handler>(h)](boost::system::error_code ec) mutable {
          if (ec) return h(ec);
          s.async_handshake(host, target, std::move(h));
        });
  }
  template <class Handler>
  static void async_read_some(wss_stream& s, asio::mutable_buffer b, Handler&& h) {
    s.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Handler>
  static void async_write(wss_stream& s, asio::const_buffer b, Handler&& h) {
    s.async_write(b, std::forward<Handler>(h));
  }
  template <class Handler>
  static void async_close(wss_stream& s, Handler&& h) {
    s.async_close(websocket::close_code::normal, std::forward<Handler>(h));
  }
};

}  // namespace natter::client::detail
