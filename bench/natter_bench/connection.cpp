// The load generator's connection (see connection.hpp).
#include "connection.hpp"

#include <boost/asio/socket_base.hpp>
#include <type_traits>
#include <utility>
#include <variant>

#include "client/transport.hpp"

namespace natter::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace detail = client::detail;
using tcp = asio::ip::tcp;

struct connection::link {
  using stream_type =
      std::variant<detail::tcp_stream, detail::tls_stream, detail::ws_stream, detail::wss_stream>;
  template <class Stream, class... Args>
  explicit link(std::in_place_type_t<Stream> t, Args&&... args)
      : stream(t, std::forward<Args>(args)...) {}

  tcp::socket& lowest() {
    return std::visit([](auto& s) -> tcp::socket& { return beast::get_lowest_layer(s); }, stream);
  }
  template <class F>
  void visit(F&& f) {
    std::visit(std::forward<F>(f), stream);
  }

  stream_type stream;
};

connection::connection(asio::io_context& ioc, const target& t, std::size_t read_buffer)
    : ioc_(ioc), target_(t), version_(t.version) {
  rbuf_.resize(std::max<std::size_t>(read_buffer, 64));
}

connection::~connection() = default;

void connection::start(mqtt::connect c) {
  switch (target_.transport) {
    case client::transport_kind::tcp:
      link_ = std::make_unique<link>(std::in_place_type<detail::tcp_stream>, ioc_);
      break;
    case client::transport_kind::tls:
      link_ = std::make_unique<link>(std::in_place_type<detail::tls_stream>, ioc_, *target_.ssl);
      break;
    case client::transport_kind::ws:
      link_ = std::make_unique<link>(std::in_place_type<detail::ws_stream>, ioc_);
      break;
    case client::transport_kind::wss:
      link_ = std::make_unique<link>(std::in_place_type<detail::wss_stream>, ioc_, *target_.ssl);
      break;
  }
  open_ = true;
  started_ns_ = now_ns();
  c.protocol_version = version_;
  // CONNECT is the first thing written once the transport is up.
  mqtt::encode(c, version_, out_);
  link_->lowest().async_connect(
      target_.endpoint,
      [self = shared_from_this()](boost::system::error_code ec) { self->on_tcp_connect(ec); });
}

void connection::on_tcp_connect(boost::system::error_code ec) {
  if (!open_) return;
  if (ec) return fail("connect: " + ec.message());
  boost::system::error_code ignored;
  link_->lowest().set_option(tcp::no_delay(true), ignored);
  const detail::handshake_params hp{target_.host, target_.port, target_.ws_path,
                                    target_.verify_peer, target_.verify_hostname};
  link_->visit([&](auto& s) {
    using stream = std::decay_t<decltype(s)>;
    detail::stream_ops<stream>::async_handshake(
        s, hp, [self = shared_from_this()](boost::system::error_code ec2) {
          if (!self->open_) return;
          if (ec2) return self->fail("handshake: " + ec2.message());
          self->flush();
          self->do_read();
        });
  });
}

void connection::do_read() {
  if (rused_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);
  link_->visit([&](auto& s) {
    using stream = std::decay_t<decltype(s)>;
    detail::stream_ops<stream>::async_read_some(
        s, asio::buffer(rbuf_.data() + rused_, rbuf_.size() - rused_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          self->on_read(ec, n);
        });
  });
}

void connection::on_read(boost::system::error_code ec, std::size_t n) {
  if (!open_) return;
  if (ec) return fail(closing_ ? std::string() : "read: " + ec.message());
  read_ns_ = now_ns();
  rused_ += n;
  std::size_t start = 0;
  while (open_) {
    const std::span<const std::uint8_t> rest(rbuf_.data() + start, rused_ - start);
    const auto f = next_frame(rest);
    if (!f) break;
    if (f->size == 0) return fail("malformed Remaining Length");
    if (!handle(rest.first(f->size), *f)) return;
    start += f->size;
  }
  if (!open_) return;
  if (start > 0) {
    std::copy(rbuf_.begin() + static_cast<std::ptrdiff_t>(start),
              rbuf_.begin() + static_cast<std::ptrdiff_t>(rused_), rbuf_.begin());
    rused_ -= start;
  }
  flush();  // the acks this batch produced, in one write
  do_read();
}

// False when the connection failed on this packet.
bool connection::handle(std::span<const std::uint8_t> packet, const frame& f) {
  if ((f.header >> 4) == static_cast<unsigned>(mqtt::packet_type::publish)) {
    publish_view v;
    if (!read_publish(packet, f, version_, v)) {
      fail("malformed PUBLISH");
      return false;
    }
    if (v.qos == mqtt::qos::at_least_once) {
      send(mqtt::puback{v.packet_id});
    } else if (v.qos == mqtt::qos::exactly_once) {
      // Delivered now (method A of 4.3.3): the benchmark never sees a duplicate
      // within one connection, so no id set is kept.
      send(mqtt::pubrec{v.packet_id});
    }
    if (on_publish) on_publish(v);
    return open_;
  }
  auto r = mqtt::decode(packet, {version_});
  if (r.has_error()) {
    fail("decode: " + r.error().message());
    return false;
  }
  auto& p = r->pkt;
  if (auto* ca = std::get_if<mqtt::connack>(&p)) {
    connack_ns_ = read_ns_;
    if (ca->reason != 0) {
      if (on_connack) on_connack(*ca);
      fail("CONNACK refused: " + std::to_string(ca->reason));
      return false;
    }
    connected_ = true;
    if (on_connack) on_connack(*ca);
  } else if (auto* a = std::get_if<mqtt::puback>(&p)) {
    if (on_ack) on_ack(a->packet_id, a->reason);
  } else if (auto* rec = std::get_if<mqtt::pubrec>(&p)) {
    if (mqtt::is_failure(rec->reason)) {
      if (on_ack) on_ack(rec->packet_id, rec->reason);
    } else {
      send(mqtt::pubrel{rec->packet_id});
    }
  } else if (auto* rel = std::get_if<mqtt::pubrel>(&p)) {
    send(mqtt::pubcomp{rel->packet_id});
  } else if (auto* comp = std::get_if<mqtt::pubcomp>(&p)) {
    if (on_ack) on_ack(comp->packet_id, comp->reason);
  } else if (auto* sa = std::get_if<mqtt::suback>(&p)) {
    if (on_suback) on_suback(*sa);
  } else if (auto* d = std::get_if<mqtt::disconnect>(&p)) {
    fail("server DISCONNECT: " + std::string(mqtt::to_string(d->reason)));
    return false;
  }
  return open_;
}

void connection::flush() {
  if (!open_ || writing_active_ || out_.empty() || !link_) return;
  // Before the handshake completes nothing may be written; on_tcp_connect flushes.
  do_write();
}

void connection::do_write() {
  writing_.swap(out_);
  writing_active_ = true;
  link_->visit([&](auto& s) {
    using stream = std::decay_t<decltype(s)>;
    detail::stream_ops<stream>::async_write(
        s, asio::buffer(writing_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
          self->on_write(ec);
        });
  });
}

void connection::on_write(boost::system::error_code ec) {
  writing_active_ = false;
  writing_.clear();
  if (!open_) return;
  if (ec) return fail("write: " + ec.message());
  if (closing_ && out_.empty()) {
    // Our DISCONNECT is out: half-close and let the server end it (the read fails then).
    boost::system::error_code ignored;
    link_->lowest().shutdown(tcp::socket::shutdown_send, ignored);
    return;
  }
  if (!out_.empty()) do_write();
  if (on_written) on_written();
}

void connection::disconnect() {
  if (!open_ || closing_) return;
  if (!connected_) return abort();
  send(mqtt::disconnect{});
  closing_ = true;
  flush();
}

void connection::abort() {
  if (!open_) return;
  boost::system::error_code ignored;
  // SO_LINGER 0: close sends RST, like a crashed or unplugged client's stack would on the
  // next packet; it also leaves no TIME_WAIT behind on the generator's side.
  link_->lowest().set_option(asio::socket_base::linger(true, 0), ignored);
  fail({});
}

void connection::fail(const std::string& why) {
  if (!open_) return;
  open_ = false;
  connected_ = false;
  boost::system::error_code ignored;
  if (link_) link_->lowest().close(ignored);
  if (!reported_) {
    reported_ = true;
    if (on_closed) on_closed(why);
  }
}

}  // namespace natter::bench
