// One load-generator MQTT connection: TCP, TLS, WebSocket or secure WebSocket, on a
// single-threaded io_context.
//
// Deliberately not natter::client (bench/README.md says why): no strand, no queue, no
// reconnect, no per-message allocation. It keeps one output buffer: send_*() append
// encoded packets to it and flush() starts a write if none is in flight, so everything
// appended meanwhile leaves in the next single write. Incoming PUBLISH packets are
// acknowledged here (PUBACK, or PUBREC and later PUBCOMP) and handed over as views into
// the read buffer; acks appended while a read is processed go out in one write at its end.
// Outgoing QoS 2 flows are finished here too (PUBREC -> PUBREL); the owner hears of the
// end of each outgoing flow (PUBACK, PUBCOMP, or a refusing PUBREC) through on_ack.
//
// Transports are client/transport.hpp's stream_ops, the same as the client library's.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/url.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/packet.hpp"
#include "wire.hpp"

namespace natter::bench {

using clock_type = std::chrono::steady_clock;
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
      .count();
}

// Where and how to connect; shared by every connection of a run.
struct target {
  client::transport_kind transport = client::transport_kind::tcp;
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string ws_path = "/mqtt";
  boost::asio::ip::tcp::endpoint endpoint;  // resolved once, before the run
  std::shared_ptr<boost::asio::ssl::context> ssl;
  bool verify_peer = true;
  bool verify_hostname = true;
  mqtt::version version = mqtt::version::v311;
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  struct link;

  // read_buffer: initial size of the read buffer (it grows for a larger packet). Idle
  // connections want it small, busy subscribers large (fewer reads).
  connection(boost::asio::io_context& ioc, const target& t, std::size_t read_buffer = 65536);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // TCP connect, transport handshake, CONNECT. on_connack (or on_closed) follows.
  void start(mqtt::connect c);

  void send_publish(const publish_template& t, std::uint16_t packet_id, const stamp& s) {
    t.append(out_, packet_id, s);
  }
  template <mqtt::packet_alternative T>
  void send(const T& p) {
    mqtt::encode(p, version_, out_);
  }
  // Starts writing what send_*() appended, unless a write is in flight (then it follows).
  void flush();
  // Bytes appended and not yet handed to the socket.
  std::size_t buffered() const noexcept { return out_.size(); }
  bool write_in_flight() const noexcept { return writing_active_; }

  // DISCONNECT (after what is buffered), then close: no will.
  void disconnect();
  // Close now, with a TCP reset and without DISCONNECT: the server publishes the will.
  void abort();
  bool is_open() const noexcept { return open_; }
  bool connected() const noexcept { return connected_; }

  // When the current read completed (steady_clock ns): one clock read per read batch.
  std::int64_t read_time_ns() const noexcept { return read_ns_; }
  // When start() was called and when CONNACK arrived.
  std::int64_t started_ns() const noexcept { return started_ns_; }
  std::int64_t connack_ns() const noexcept { return connack_ns_; }

  std::function<void(const mqtt::connack&)> on_connack;
  std::function<void(const publish_view&)> on_publish;
  // End of an outgoing QoS 1/2 flow: PUBACK, PUBCOMP, or PUBREC with a failing reason.
  std::function<void(std::uint16_t packet_id, mqtt::reason_code rc)> on_ack;
  std::function<void(const mqtt::suback&)> on_suback;
  std::function<void()> on_written;  // a write completed (room in the socket again)
  std::function<void(const std::string& why)> on_closed;  // once, however it ends

 private:
  void on_tcp_connect(boost::system::error_code ec);
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t n);
  bool handle(std::span<const std::uint8_t> packet, const frame& f);
  void do_write();
  void on_write(boost::system::error_code ec);
  void fail(const std::string& why);

  boost::asio::io_context& ioc_;
  const target& target_;
  mqtt::version version_;
  std::unique_ptr<link> link_;
  std::vector<std::uint8_t> rbuf_;
  std::size_t rused_ = 0;
  std::vector<std::uint8_t> out_;
  std::vector<std::uint8_t> writing_;
  bool writing_active_ = false;
  bool open_ = false;
  bool connected_ = false;
  bool closing_ = false;  // DISCONNECT queued: close once written
  bool reported_ = false;
  std::int64_t read_ns_ = 0;
  std::int64_t started_ns_ = 0;
  std::int64_t connack_ns_ = 0;
};

using connection_ptr = std::shared_ptr<connection>;

}  // namespace natter::bench
