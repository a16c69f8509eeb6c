// How bytes move on each stream type: the only place where transports differ. The
// connection template asks three things of a stream: write a batch of frames, close
// (gracefully where the protocol has a closing handshake), and whether what was just read
// is acceptable (MQTT over WebSocket must use binary frames [MQTT-6.0.0-1]).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <vector>

namespace natter::transport {

using tcp_stream = boost::asio::ip::tcp::socket;
using tls_stream = boost::asio::ssl::stream<tcp_stream>;
using ws_stream = boost::beast::websocket::stream<tcp_stream>;
using wss_stream = boost::beast::websocket::stream<tls_stream>;

namespace detail {
inline void close_socket(tcp_stream& s) {
  boost::system::error_code ignored;
  s.shutdown(tcp_stream::shutdown_both, ignored);
  s.close(ignored);
}
}  // namespace detail

template <class Stream>
struct stream_ops;

// Raw TCP and TLS: bytes as they come. TLS closes without close_notify: by then MQTT has
// said what it had to (DISCONNECT), and waiting for a peer's close_notify could stall.
template <class Stream>
requires std::same_as<Stream, tcp_stream> || std::same_as<Stream, tls_stream>
struct stream_ops<Stream> {
  template <class Handler>
  static void async_write(Stream& s, const std::vector<boost::asio::const_buffer>& bufs,
                          Handler&& h) {
    boost::asio::async_write(s, bufs, std::forward<Handler>(h));
  }
  template <class Done>
  static void async_close(Stream& s, Done&& done) {
    detail::close_socket(boost::beast::get_lowest_layer(s));
    done();
  }
  static bool frame_ok(const Stream&) { return true; }
  template <class F>
  static void on_peer_close(Stream&, F&&) {}
};

// WebSocket: each write is one binary message holding whole MQTT packets; MQTT packets
// may span messages on the way in. Closing sends a Close frame first.
template <class Stream>
requires std::same_as<Stream, ws_stream> || std::same_as<Stream, wss_stream>
struct stream_ops<Stream> {
  template <class Handler>
  static void async_write(Stream& s, const std::vector<boost::asio::const_buffer>& bufs,
                          Handler&& h) {
    s.async_write(bufs, std::forward<Handler>(h));
  }
  template <class Done>
  static void async_close(Stream& s, Done&& done) {
    if (!s.is_open()) {
      detail::close_socket(boost::beast::get_lowest_layer(s));
      return done();
    }
    s.async_close(boost::beast::websocket::close_code::normal,
                  [&s, done = std::forward<Done>(done)](boost::system::error_code) mutable {
                    detail::close_socket(boost::beast::get_lowest_layer(s));
                    done();
                  });
  }
  static bool frame_ok(const Stream& s) { return !s.got_text(); }  // [MQTT-6.0.0-1]
  // Calls `f` when the peer's Close frame arrives. Beast then answers it and waits for the
  // peer's FIN without a time limit; RFC 6455 5.5.1 has the server close the TCP connection
  // itself, which `f` arranges.
  template <class F>
  static void on_peer_close(Stream& s, F&& f) {
    s.control_callback([f = std::forward<F>(f)](boost::beast::websocket::frame_type kind,
                                                boost::beast::string_view) {
      if (kind == boost::beast::websocket::frame_type::close) f();
    });
  }
};

}  // namespace natter::transport
