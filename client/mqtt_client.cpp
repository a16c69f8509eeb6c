#include "client/mqtt_client.hpp"

#include <boost/asio/post.hpp>
#include <span>
#include <type_traits>
#include <utility>
#include <variant>

#include "client/transport.hpp"
#include "mqtt/codec.hpp"

namespace natter::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

// One network connection (or attempt). Handlers of its asynchronous operations hold it,
// so a connection being torn down keeps its stream and buffers until its last operation
// completes, while a new one is already being made.
struct mqtt_client::link {
  using stream_type =
      std::variant<detail::tcp_stream, detail::tls_stream, detail::ws_stream, detail::wss_stream>;

  template <class Stream, class... Args>
  explicit link(std::in_place_type_t<Stream> t, Args&&... args)
      : stream(t, std::forward<Args>(args)...) {
    rbuf.resize(4096);
  }

  tcp::socket& lowest() {
    return std::visit([](auto& s) -> tcp::socket& { return beast::get_lowest_layer(s); }, stream);
  }
  void close_socket() {
    open = false;
    boost::system::error_code ignored;
    lowest().close(ignored);
  }

  stream_type stream;
  std::vector<std::uint8_t> rbuf;
  std::size_t rused = 0;
  // Encoded packets wait in `out` while `writing` is on the wire; then they swap. No
  // allocation per packet once the buffers have grown to the traffic.
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> writing;
  std::vector<publish_handler> out_done;  // QoS 0 completions, fired once written
  std::vector<publish_handler> writing_done;
  bool write_in_flight = false;
  bool open = true;
  bool close_after_write = false;  // abandoned after a protocol error: flush DISCONNECT, close
  bool closing = false;            // graceful close started
  bool disconnect_sent = false;    // nothing may follow DISCONNECT (v5 [MQTT-3.14.4-1])
};

namespace {

// Refusals that another attempt cannot fix: stop reconnecting.
bool is_permanent(std::error_code ec) {
  if (ec.category() != mqtt::reason_category()) return false;
  switch (static_cast<mqtt::reason_code>(ec.value())) {
    case mqtt::reason_code::unsupported_protocol_version:
    case mqtt::reason_code::client_identifier_not_valid:
    case mqtt::reason_code::bad_user_name_or_password:
    case mqtt::reason_code::not_authorized:
    case mqtt::reason_code::banned:
    case mqtt::reason_code::bad_authentication_method:
    case mqtt::reason_code::session_taken_over:  // another client has our id: do not fight it
      return true;
    default:
      return false;
  }
}

// 3.1.1 CONNACK return codes (section 3.2.2.3) as the 5.0 reason codes that mean the same.
mqtt::reason_code from_v311_connack(std::uint8_t rc) {
  switch (static_cast<mqtt::connack_v311>(rc)) {
    case mqtt::connack_v311::unacceptable_protocol_version:
      return mqtt::reason_code::unsupported_protocol_version;
    case mqtt::connack_v311::identifier_rejected:
      return mqtt::reason_code::client_identifier_not_valid;
    case mqtt::connack_v311::server_unavailable:
      return mqtt::reason_code::server_unavailable;
    case mqtt::connack_v311::bad_user_name_or_password:
      return mqtt::reason_code::bad_user_name_or_password;
    case mqtt::connack_v311::not_authorized:
      return mqtt::reason_code::not_authorized;
    default:
      return mqtt::reason_code::unspecified_error;
  }
}

// The ways a peer ends a stream all mean the same to MQTT: the connection is gone.
std::error_code normalize(boost::system::error_code ec) {
  if (ec == asio::error::eof || ec == beast::websocket::error::closed ||
      ec == asio::ssl::error::stream_truncated)
    return make_error_code(errc::connection_lost);
  return ec;
}

template <class Stream>
constexpr bool is_websocket =
    std::is_same_v<Stream, detail::ws_stream> || std::is_same_v<Stream, detail::wss_stream>;

}  // namespace

std::string_view to_string(client_state s) noexcept {
  switch (s) {
    case client_state::disconnected:
      return "disconnected";
    case client_state::connecting:
      return "connecting";
    case client_state::connected:
      return "connected";
    case client_state::disconnecting:
      return "disconnecting";
  }
  return "unknown";
}

boost::system::result<std::shared_ptr<asio::ssl::context>, std::error_code> make_ssl_context(
    const tls_options& tls) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1,
                   ec);
  if (!tls.ca_file.empty() && (ctx->load_verify_file(tls.ca_file, ec), ec))
    return std::error_code(ec);
  if (!tls.ca_path.empty() && (ctx->add_verify_path(tls.ca_path, ec), ec))
    return std::error_code(ec);
  if (tls.ca_file.empty() && tls.ca_path.empty() && (ctx->set_default_verify_paths(ec), ec))
    return std::error_code(ec);
  if (!tls.cert_file.empty() && (ctx->use_certificate_chain_file(tls.cert_file, ec), ec))
    return std::error_code(ec);
  if (!tls.key_file.empty() &&
      (ctx->use_private_key_file(tls.key_file, asio::ssl::context::pem, ec), ec))
    return std::error_code(ec);
  ctx->set_verify_mode(tls.verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none, ec);
  return ctx;
}

// ---------------------------------------------------------------- construction

std::shared_ptr<mqtt_client> mqtt_client::create(asio::any_io_executor ex, options opts) {
  return std::make_shared<mqtt_client>(private_tag{}, std::move(ex), std::move(opts));
}

mqtt_client::mqtt_client(private_tag, asio::any_io_executor ex, options opts)
    : strand_(asio::make_strand(ex)),
      opts_(std::move(opts)),
      version_(opts_.connect.protocol_version),
      session_(*this, session_config{version_, opts_.max_inflight,
                                     opts_.connect.props.topic_alias_maximum.value_or(0),
                                     opts_.max_queued, opts_.resubscribe}),
      resolver_(strand_),
      connect_timer_(strand_),
      ping_timer_(strand_),
      reconnect_timer_(strand_),
      close_timer_(strand_),
      backoff_(opts_.reconnect),
      client_id_(opts_.connect.client_id),
      max_in_packet_(version_ == mqtt::version::v5 && opts_.connect.props.maximum_packet_size
                         ? *opts_.connect.props.maximum_packet_size
                         : mqtt::max_remaining_length + 5) {
  if (version_ != mqtt::version::v5) {
    // 3.1.1 has no properties; do not let a v5 option leak into decisions made from them.
    opts_.connect.props = {};
    if (opts_.connect.will) opts_.connect.will->props = {};
  }
}

mqtt_client::~mqtt_client() = default;

// ---------------------------------------------------------------- public API (posted)

void mqtt_client::connect() {
  asio::post(strand_, [self = shared_from_this()] { self->do_connect(); });
}

void mqtt_client::publish(mqtt::publish p, publish_handler done) {
  asio::post(strand_,
             [self = shared_from_this(), p = std::move(p), done = std::move(done)]() mutable {
               std::error_code ec = self->stopped_ || self->given_up_
                                        ? make_error_code(errc::not_connected)
                                        : self->session_.publish(std::move(p), std::move(done));
               if (ec && done) done(ec);
             });
}

void mqtt_client::publish(std::string topic, std::string payload, mqtt::qos q, bool retain,
                          publish_handler done) {
  mqtt::publish p;
  p.topic = std::move(topic);
  p.payload = std::move(payload);
  p.qos = q;
  p.retain = retain;
  publish(std::move(p), std::move(done));
}

void mqtt_client::subscribe(std::vector<mqtt::subscription> subs, subscribe_handler done,
                            mqtt::properties props) {
  mqtt::subscribe s;
  s.subscriptions = std::move(subs);
  s.props = std::move(props);
  asio::post(strand_,
             [self = shared_from_this(), s = std::move(s), done = std::move(done)]() mutable {
               std::error_code ec = self->stopped_ || self->given_up_
                                        ? make_error_code(errc::not_connected)
                                        : self->session_.subscribe(std::move(s), std::move(done));
               if (ec && done) done(ec, mqtt::suback{});
             });
}

void mqtt_client::subscribe(std::string filter, mqtt::qos max_qos, subscribe_handler done) {
  mqtt::subscription s;
  s.filter = std::move(filter);
  s.max_qos = max_qos;
  subscribe(std::vector<mqtt::subscription>{std::move(s)}, std::move(done));
}

void mqtt_client::unsubscribe(std::vector<std::string> filters, unsubscribe_handler done,
                              mqtt::properties props) {
  mqtt::unsubscribe u;
  u.filters = std::move(filters);
  u.props = std::move(props);
  asio::post(strand_,
             [self = shared_from_this(), u = std::move(u), done = std::move(done)]() mutable {
               std::error_code ec = self->stopped_ || self->given_up_
                                        ? make_error_code(errc::not_connected)
                                        : self->session_.unsubscribe(std::move(u), std::move(done));
               if (ec && done) done(ec, mqtt::unsuback{});
             });
}

void mqtt_client::disconnect(mqtt::reason_code rc, mqtt::properties props,
                             std::function<void()> done) {
  asio::post(strand_, [self = shared_from_this(), rc, props = std::move(props),
                       done = std::move(done)]() mutable {
    self->do_disconnect(rc, std::move(props), std::move(done));
  });
}

void mqtt_client::close() {
  asio::post(strand_, [self = shared_from_this()] { self->do_close(); });
}

// ---------------------------------------------------------------- connecting

void mqtt_client::do_connect() {
  if (link_ || reconnect_pending_ || state_ != client_state::disconnected) return;
  stopped_ = false;
  given_up_ = false;
  backoff_.reset();
  start_attempt();
}

void mqtt_client::start_attempt() {
  reconnect_pending_ = false;
  if (uses_tls(opts_.transport) && !ssl_ctx_) {
    if (opts_.ssl_context) {
      ssl_ctx_ = opts_.ssl_context;
    } else {
      auto ctx = make_ssl_context(opts_.tls);
      if (!ctx) {
        // A CA or key file that cannot be loaded will not load on the next attempt either.
        stopped_ = true;
        state_ = client_state::connecting;
        return fail(ctx.error());
      }
      ssl_ctx_ = *ctx;
    }
  }
  switch (opts_.transport) {
    case transport_kind::tcp:
      link_ = std::make_shared<link>(std::in_place_type<detail::tcp_stream>, strand_);
      break;
    case transport_kind::tls:
      link_ = std::make_shared<link>(std::in_place_type<detail::tls_stream>, strand_, *ssl_ctx_);
      break;
    case transport_kind::ws:
      link_ = std::make_shared<link>(std::in_place_type<detail::ws_stream>, strand_);
      break;
    case transport_kind::wss:
      link_ = std::make_shared<link>(std::in_place_type<detail::wss_stream>, strand_, *ssl_ctx_);
      break;
  }
  awaiting_connack_ = false;
  state_ = client_state::connecting;
  notify(state_change{client_state::connecting});

  auto l = link_;
  connect_timer_.expires_after(opts_.connect_timeout);
  connect_timer_.async_wait([self = shared_from_this(), l](boost::system::error_code ec) {
    if (ec || l != self->link_ || self->state_ != client_state::connecting) return;
    self->fail(make_error_code(errc::connect_timeout));
  });
  resolver_.async_resolve(opts_.host, std::to_string(opts_.port),
                          [self = shared_from_this(), l](boost::system::error_code ec,
                                                         tcp::resolver::results_type results) {
                            self->on_resolve(l, ec, std::move(results));
                          });
}

void mqtt_client::on_resolve(const link_ptr& l, boost::system::error_code ec,
                             tcp::resolver::results_type results) {
  if (l != link_) return;
  if (ec) return fail(ec);
  asio::async_connect(
      l->lowest(), results,
      [self = shared_from_this(), l](boost::system::error_code ec2, const tcp::endpoint&) {
        self->on_tcp_connect(l, ec2);
      });
}

void mqtt_client::on_tcp_connect(const link_ptr& l, boost::system::error_code ec) {
  if (l != link_) return;
  if (ec) return fail(ec);
  if (opts_.tcp_nodelay) {
    boost::system::error_code ignored;
    l->lowest().set_option(tcp::no_delay(true), ignored);
  }
  const detail::handshake_params hp{opts_.host, opts_.port, opts_.ws_path, opts_.tls.verify_peer,
                                    opts_.tls.verify_hostname};
  std::visit(
      [&](auto& s) {
        using stream = std::decay_t<decltype(s)>;
        detail::stream_ops<stream>::async_handshake(
            s, hp, [self = shared_from_this(), l](boost::system::error_code ec2) {
              self->on_handshake(l, ec2);
            });
      },
      l->stream);
}

void mqtt_client::on_handshake(const link_ptr& l, boost::system::error_code ec) {
  if (l != link_) return;
  if (ec) return fail(ec);
  send_connect();
  do_read(l);
}

void mqtt_client::send_connect() {
  mqtt::connect c = opts_.connect;
  if (ever_connected_) {
    // Reconnecting: resume the session if it outlives connections (v5 Session Expiry
    // Interval > 0), under the id the server assigned if it assigned one.
    if (opts_.resume_session && version_ == mqtt::version::v5 &&
        c.props.session_expiry_interval.value_or(0) > 0)
      c.clean_start = false;
    if (c.client_id.empty()) c.client_id = client_id_;
  }
  awaiting_connack_ = true;
  send(mqtt::packet{std::move(c)}, {});
}

// ---------------------------------------------------------------- reading

void mqtt_client::do_read(const link_ptr& l) {
  if (l->rused == l->rbuf.size()) l->rbuf.resize(l->rbuf.size() * 2);
  std::visit(
      [&](auto& s) {
        using stream = std::decay_t<decltype(s)>;
        detail::stream_ops<stream>::async_read_some(
            s, asio::buffer(l->rbuf.data() + l->rused, l->rbuf.size() - l->rused),
            [self = shared_from_this(), l](boost::system::error_code ec, std::size_t n) {
              self->on_read(l, ec, n);
            });
      },
      l->stream);
}

void mqtt_client::on_read(const link_ptr& l, boost::system::error_code ec, std::size_t n) {
  if (l != link_) return;
  if (ec) {
    // After our DISCONNECT the server closing is the expected end.
    if (state_ == client_state::disconnecting) return finish_close(l);
    return fail(normalize(ec));
  }
  l->rused += n;
  std::size_t start = 0;
  while (l == link_) {
    auto r = mqtt::decode(std::span<const std::uint8_t>(l->rbuf.data() + start, l->rused - start),
                          {version_, max_in_packet_});
    if (r.has_error()) {
      if (r.error() == mqtt::codec_errc::need_more_bytes) break;
      return protocol_violation(r.error());
    }
    start += r->size;
    handle_packet(r->pkt);
  }
  if (l != link_) return;  // the packet ended the connection
  // Keep the unconsumed tail at the front; the buffer grows only for a packet that needs it.
  if (start > 0) {
    std::copy(l->rbuf.begin() + static_cast<std::ptrdiff_t>(start),
              l->rbuf.begin() + static_cast<std::ptrdiff_t>(l->rused), l->rbuf.begin());
    l->rused -= start;
  }
  do_read(l);
}

void mqtt_client::handle_packet(mqtt::packet& p) {
  if (on_trace_) on_trace_(false, p);
  ping_outstanding_ = false;  // the server is alive
  if (awaiting_connack_) {
    // The first packet from the server must be CONNACK (v5 [MQTT-3.2.0-1]).
    auto* ca = std::get_if<mqtt::connack>(&p);
    if (ca == nullptr)
      return protocol_violation(mqtt::make_error_code(mqtt::reason_code::protocol_error));
    return on_connack(*ca);
  }
  if (auto* d = std::get_if<mqtt::disconnect>(&p)) {
    if (state_ == client_state::disconnecting) return finish_close(link_);
    const auto ec = mqtt::is_failure(d->reason) ? mqtt::make_error_code(d->reason)
                                                : make_error_code(errc::connection_lost);
    return fail(ec, nullptr, d);
  }
  if (std::holds_alternative<mqtt::pingresp>(p)) return;
  if (auto ec = session_.on_packet(p)) protocol_violation(ec);
}

void mqtt_client::on_connack(const mqtt::connack& ca) {
  awaiting_connack_ = false;
  connect_timer_.cancel();
  if (ca.reason != 0) {
    const auto rc = version_ == mqtt::version::v5 ? static_cast<mqtt::reason_code>(ca.reason)
                                                  : from_v311_connack(ca.reason);
    return fail(mqtt::make_error_code(rc), &ca);
  }
  if (version_ == mqtt::version::v5 && ca.props.assigned_client_identifier)
    client_id_ = *ca.props.assigned_client_identifier;
  // v5 [MQTT-3.2.2-21]: the Server Keep Alive replaces ours.
  const std::uint16_t ka = version_ == mqtt::version::v5 && ca.props.server_keep_alive
                               ? *ca.props.server_keep_alive
                               : opts_.connect.keep_alive;
  keep_alive_ = std::chrono::seconds(ka);
  state_ = client_state::connected;
  ever_connected_ = true;
  backoff_.reset();
  arm_ping();
  notify(state_change{client_state::connected, {}, &ca});
  if (state_ == client_state::connected && link_) session_.on_connected(ca);
}

void mqtt_client::protocol_violation(std::error_code ec) {
  // v5: say why before closing (section 4.13); 3.1.1 can only close.
  const bool flush = version_ == mqtt::version::v5 && state_ == client_state::connected;
  if (flush) {
    mqtt::disconnect d;
    d.reason = mqtt::to_reason_code(ec);
    send(d, {});
  }
  fail(ec, nullptr, nullptr, flush);
}

// ---------------------------------------------------------------- writing

void mqtt_client::send(const mqtt::packet& p, publish_handler written) {
  link* l = link_.get();
  if (l == nullptr || !l->open || l->disconnect_sent) {
    if (written) {
      asio::post(strand_, [w = std::move(written)] { w(make_error_code(errc::connection_lost)); });
    }
    return;
  }
  if (on_trace_) on_trace_(true, p);
  if (std::holds_alternative<mqtt::disconnect>(p)) l->disconnect_sent = true;
  mqtt::encode(p, version_, l->out);
  if (written) l->out_done.push_back(std::move(written));
  last_send_ = clock_type::now();
  if (!l->write_in_flight) do_write(link_);
}

void mqtt_client::do_write(const link_ptr& l) {
  // Everything encoded since the last write goes out as one write.
  l->writing.swap(l->out);
  l->writing_done.swap(l->out_done);
  l->write_in_flight = true;
  std::visit(
      [&](auto& s) {
        using stream = std::decay_t<decltype(s)>;
        detail::stream_ops<stream>::async_write(
            s, asio::buffer(l->writing),
            [self = shared_from_this(), l](boost::system::error_code ec, std::size_t) {
              self->on_write(l, ec);
            });
      },
      l->stream);
}

void mqtt_client::on_write(const link_ptr& l, boost::system::error_code ec) {
  l->write_in_flight = false;
  l->writing.clear();
  done_scratch_.swap(l->writing_done);
  const std::error_code result = ec ? make_error_code(errc::connection_lost) : std::error_code{};
  for (auto& h : done_scratch_) h(result);
  done_scratch_.clear();

  if (l != link_) {
    // Abandoned: finish flushing its last words (a DISCONNECT), then close.
    if (!ec && l->open && l->close_after_write && !l->out.empty()) return do_write(l);
    if (l->open) l->close_socket();
    return;
  }
  if (ec) return fail(normalize(ec));
  if (!l->out.empty()) return do_write(l);
  if (state_ == client_state::disconnecting && !l->closing) begin_close(l);
}

// ---------------------------------------------------------------- closing

void mqtt_client::begin_close(const link_ptr& l) {
  l->closing = true;
  std::visit(
      [&](auto& s) {
        using stream = std::decay_t<decltype(s)>;
        detail::stream_ops<stream>::async_close(
            s, [self = shared_from_this(), l](boost::system::error_code ec) {
              // A WebSocket close completes the closing handshake; TCP and TLS only
              // half-close, and the read loop sees the server's end.
              if (ec || is_websocket<stream>) self->finish_close(l);
            });
      },
      l->stream);
}

void mqtt_client::finish_close(link_ptr l) {
  if (!l || l != link_) return;
  link_.reset();
  l->close_socket();
  cancel_timers();
  session_.on_connection_lost();
  state_ = client_state::disconnected;
  notify(state_change{client_state::disconnected});
  session_.fail_all(make_error_code(errc::disconnected));
  if (auto done = std::move(disconnect_done_)) {
    disconnect_done_ = nullptr;
    done();
  }
}

void mqtt_client::do_disconnect(mqtt::reason_code rc, mqtt::properties props,
                                std::function<void()> done) {
  stopped_ = true;
  reconnect_pending_ = false;
  reconnect_timer_.cancel();
  if (state_ == client_state::disconnecting) {
    if (done) {
      auto first = std::move(disconnect_done_);
      disconnect_done_ = [first = std::move(first), done = std::move(done)] {
        if (first) first();
        done();
      };
    }
    return;
  }
  if (state_ == client_state::connected && link_) {
    state_ = client_state::disconnecting;
    disconnect_done_ = std::move(done);
    ping_timer_.cancel();
    notify(state_change{client_state::disconnecting});
    mqtt::disconnect d;
    d.reason = rc;
    d.props = std::move(props);
    send(d, {});
    // A server that never closes must not hold us: give it a moment, then close.
    close_timer_.expires_after(std::chrono::seconds(2));
    close_timer_.async_wait([self = shared_from_this(), l = link_](boost::system::error_code ec) {
      if (!ec) self->finish_close(l);
    });
    return;
  }
  const bool had_link = link_ != nullptr;
  if (had_link) abandon(std::move(link_), false);
  cancel_timers();
  session_.on_connection_lost();
  state_ = client_state::disconnected;
  if (had_link)
    notify(state_change{client_state::disconnected, make_error_code(errc::disconnected)});
  session_.fail_all(make_error_code(errc::disconnected));
  if (done) done();
}

void mqtt_client::do_close() {
  stopped_ = true;
  reconnect_pending_ = false;
  reconnect_timer_.cancel();
  const bool had_link = link_ != nullptr;
  if (had_link) abandon(std::move(link_), false);
  cancel_timers();
  session_.on_connection_lost();
  state_ = client_state::disconnected;
  if (had_link)
    notify(state_change{client_state::disconnected, make_error_code(errc::disconnected)});
  session_.fail_all(make_error_code(errc::disconnected));
  if (auto done = std::move(disconnect_done_)) {
    disconnect_done_ = nullptr;
    done();
  }
}

void mqtt_client::abandon(link_ptr l, bool flush) {
  // Unwritten QoS 0 messages will never be written.
  for (auto& h : l->out_done) {
    asio::post(strand_, [h = std::move(h)] { h(make_error_code(errc::connection_lost)); });
  }
  l->out_done.clear();
  if (flush && l->open && (l->write_in_flight || !l->out.empty())) {
    l->close_after_write = true;
    if (!l->write_in_flight) do_write(l);
    return;
  }
  if (l->open) l->close_socket();
}

void mqtt_client::cancel_timers() {
  resolver_.cancel();
  connect_timer_.cancel();
  ping_timer_.cancel();
  close_timer_.cancel();
}

void mqtt_client::fail(std::error_code ec, const mqtt::connack* ca, const mqtt::disconnect* d,
                       bool flush) {
  if (state_ == client_state::disconnecting) return finish_close(link_);
  if (link_) abandon(std::move(link_), flush);
  cancel_timers();
  awaiting_connack_ = false;
  ping_outstanding_ = false;
  session_.on_connection_lost();

  state_change ev{client_state::disconnected, ec, ca, d};
  const bool retry = opts_.reconnect.enabled && !stopped_ && !is_permanent(ec) &&
                     (ever_connected_ || opts_.reconnect.retry_initial);
  state_ = client_state::disconnected;
  if (retry) {
    ev.reconnecting = true;
    ev.retry_in = backoff_.next();
    reconnect_pending_ = true;
    reconnect_timer_.expires_after(ev.retry_in);
    reconnect_timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (e || !self->reconnect_pending_ || self->stopped_) return;
      self->start_attempt();
    });
  } else {
    given_up_ = true;
  }
  notify(ev);
  if (!retry) session_.fail_all(ec);
}

// ---------------------------------------------------------------- keep alive

void mqtt_client::arm_ping() {
  if (keep_alive_.count() == 0 || !link_) return;
  ping_timer_.expires_at(ping_outstanding_ ? ping_deadline_ : last_send_ + keep_alive_);
  ping_timer_.async_wait([self = shared_from_this(), l = link_](boost::system::error_code ec) {
    if (ec || l != self->link_ || self->state_ != client_state::connected) return;
    self->on_ping_timer();
  });
}

void mqtt_client::on_ping_timer() {
  // The client must send something within each keep alive period (3.1.1 [MQTT-3.1.2-23]); when
  // it had nothing to say, PINGREQ. No PINGRESP within another period: the link is dead.
  const auto now = clock_type::now();
  if (ping_outstanding_ && now >= ping_deadline_)
    return fail(make_error_code(errc::keep_alive_timeout));
  if (!ping_outstanding_ && now >= last_send_ + keep_alive_) {
    send(mqtt::pingreq{}, {});
    ping_outstanding_ = true;
    ping_deadline_ = now + keep_alive_;
  }
  arm_ping();
}

// ---------------------------------------------------------------- events

void mqtt_client::deliver(mqtt::publish& p) {
  if (on_message_) on_message_(p);
}

void mqtt_client::notify(const state_change& s) {
  if (on_state_) on_state_(s);
}

}  // namespace natter::client
