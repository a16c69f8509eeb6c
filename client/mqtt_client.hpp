// An asynchronous MQTT 3.1.1/5.0 client over TCP, TLS, WebSocket or secure WebSocket.
//
// One client is one connection (and, with reconnect enabled, its successors). It runs on
// a strand of the executor it is given, so any number of clients can share a thread pool;
// all handlers run on that strand, one at a time. Public member functions may be called
// from any thread: they post to the strand, so a handler can call them without
// re-entering the client. Set the handlers before connect().
//
//   auto c = mqtt_client::create(ioc.get_executor(), opts);
//   c->on_state([&](const state_change& s) { if (s.state == client_state::connected) ... });
//   c->on_message([](mqtt::publish& m) { ... });
//   c->connect();
//   c->publish({.topic = "a/b", .payload = "hi", .qos = mqtt::qos::at_least_once},
//              [](std::error_code ec) { ... });   // on PUBACK
//
// Handlers are stored in the client, so they must not own it (capture a raw or weak
// pointer): a client lives while it has work in flight, and is freed once closed and
// released.
//
// MQTT state (packet identifiers, QoS flows, inflight window, aliases, resend on
// reconnect) is in session.hpp; this class moves bytes and runs the timers.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "client/errors.hpp"
#include "client/options.hpp"
#include "client/session.hpp"
#include "mqtt/packet.hpp"

namespace natter::client {

enum class client_state : std::uint8_t { disconnected, connecting, connected, disconnecting };
std::string_view to_string(client_state s) noexcept;

struct state_change {
  client_state state = client_state::disconnected;
  // disconnected: why. A refusing CONNACK or a server DISCONNECT gives its reason code
  // (3.1.1 CONNACK return codes mapped to the 5.0 codes: 5 -> Not authorized...), the
  // network gives Asio's error, errc::connection_lost a plain close. Empty after
  // disconnect().
  std::error_code ec;
  const mqtt::connack* connack = nullptr;               // connected, or the refusal
  const mqtt::disconnect* server_disconnect = nullptr;  // the server's DISCONNECT, if any
  bool reconnecting = false;                            // disconnected: another attempt follows
  std::chrono::milliseconds retry_in{0};
};

// A TLS client context from tls_options (to share between clients, see options).
boost::system::result<std::shared_ptr<boost::asio::ssl::context>, std::error_code> make_ssl_context(
    const tls_options& tls);

class mqtt_client final : public std::enable_shared_from_this<mqtt_client>, private session_events {
  struct private_tag {};

 public:
  using executor_type = boost::asio::strand<boost::asio::any_io_executor>;
  using message_handler = std::function<void(mqtt::publish&)>;
  using state_handler = std::function<void(const state_change&)>;
  // Every packet sent (outgoing = true) or received, as the codec sees it (-d output).
  using trace_handler = std::function<void(bool outgoing, const mqtt::packet&)>;

  static std::shared_ptr<mqtt_client> create(boost::asio::any_io_executor ex, options opts);
  mqtt_client(private_tag, boost::asio::any_io_executor ex, options opts);
  ~mqtt_client() override;
  mqtt_client(const mqtt_client&) = delete;
  mqtt_client& operator=(const mqtt_client&) = delete;

  void on_message(message_handler h) { on_message_ = std::move(h); }
  void on_state(state_handler h) { on_state_ = std::move(h); }
  void on_trace(trace_handler h) { on_trace_ = std::move(h); }

  // Starts connecting (no-op if already connected or connecting).
  void connect();
  // Queued while connecting or reconnecting; fails with errc::not_connected after the
  // client gave up or was closed. topic must be a full topic name even when
  // p.props.topic_alias is set: the client decides per connection whether to send it.
  void publish(mqtt::publish p, publish_handler done = {});
  void publish(std::string topic, std::string payload, mqtt::qos q = mqtt::qos::at_most_once,
               bool retain = false, publish_handler done = {});
  void subscribe(std::vector<mqtt::subscription> subs, subscribe_handler done = {},
                 mqtt::properties props = {});
  void subscribe(std::string filter, mqtt::qos max_qos, subscribe_handler done = {});
  void unsubscribe(std::vector<std::string> filters, unsubscribe_handler done = {},
                   mqtt::properties props = {});
  // Sends DISCONNECT (after what is already queued for writing), closes, stops
  // reconnecting. Pending operations complete with errc::disconnected; `done` runs last.
  void disconnect(mqtt::reason_code rc = mqtt::reason_code::normal_disconnection,
                  mqtt::properties props = {}, std::function<void()> done = {});
  // Closes at once without DISCONNECT (the server publishes the will).
  void close();

  executor_type get_executor() const noexcept { return strand_; }

  // Call these on the strand (from a handler).
  client_state state() const noexcept { return state_; }
  // The client id in use: the configured one, or the one the server assigned (v5).
  const std::string& client_id() const noexcept { return client_id_; }
  const session& mqtt_session() const noexcept { return session_; }
  const options& config() const noexcept { return opts_; }

 private:
  struct link;
  using link_ptr = std::shared_ptr<link>;

  // session_events
  void send(const mqtt::packet& p, publish_handler written) override;
  void deliver(mqtt::publish& p) override;

  void do_connect();
  void do_disconnect(mqtt::reason_code rc, mqtt::properties props, std::function<void()> done);
  void do_close();
  void start_attempt();
  void on_resolve(const link_ptr& l, boost::system::error_code ec,
                  boost::asio::ip::tcp::resolver::results_type results);
  void on_tcp_connect(const link_ptr& l, boost::system::error_code ec);
  void on_handshake(const link_ptr& l, boost::system::error_code ec);
  void send_connect();
  void do_read(const link_ptr& l);
  void on_read(const link_ptr& l, boost::system::error_code ec, std::size_t n);
  void handle_packet(mqtt::packet& p);
  void on_connack(const mqtt::connack& ca);
  void protocol_violation(std::error_code ec);
  void do_write(const link_ptr& l);
  void on_write(const link_ptr& l, boost::system::error_code ec);
  void begin_close(const link_ptr& l);
  void finish_close(link_ptr l);
  void arm_ping();
  void on_ping_timer();
  void fail(std::error_code ec, const mqtt::connack* ca = nullptr,
            const mqtt::disconnect* d = nullptr, bool flush = false);
  void abandon(link_ptr l, bool flush);
  void cancel_timers();
  void notify(const state_change& s);

  executor_type strand_;
  options opts_;
  mqtt::version version_;
  session session_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer close_timer_;
  backoff backoff_;
  std::shared_ptr<boost::asio::ssl::context> ssl_ctx_;
  link_ptr link_;  // the current connection attempt or connection
  std::vector<publish_handler> done_scratch_;

  message_handler on_message_;
  state_handler on_state_;
  trace_handler on_trace_;
  std::function<void()> disconnect_done_;

  client_state state_ = client_state::disconnected;
  std::string client_id_;
  bool awaiting_connack_ = false;
  bool ever_connected_ = false;
  bool stopped_ = false;   // disconnect() or close(): no more attempts
  bool given_up_ = false;  // failed without retry: requests fail until connect()
  bool reconnect_pending_ = false;
  std::chrono::seconds keep_alive_{0};
  std::chrono::steady_clock::time_point last_send_{};
  std::chrono::steady_clock::time_point ping_deadline_{};
  bool ping_outstanding_ = false;
  std::uint32_t max_in_packet_;
};

}  // namespace natter::client
