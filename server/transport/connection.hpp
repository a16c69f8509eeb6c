// One network connection: reads bytes, decodes MQTT packets, hands them to the broker;
// writes what the broker sends. Templated on the byte stream, so TCP, TLS and WebSocket
// differ only in how bytes move (stream_ops below), never in MQTT behaviour.
//
// Everything here runs on the stream's executor, which is a strand per connection: at
// most one read and one write are in flight, and the outbox is bounded in bytes (a
// subscriber that stops reading is cut off, not buffered forever).
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "broker/broker_service.hpp"
#include "broker/link.hpp"
#include "mqtt/codec.hpp"
#include "stream_ops.hpp"

namespace natter::transport {

namespace asio = boost::asio;

struct connection_limits {
  std::uint32_t max_packet_size = mqtt::max_remaining_length + 5;
  std::size_t max_outbox_bytes = 16 * 1024 * 1024;
  std::chrono::milliseconds connect_timeout{10'000};
};

template <class Stream>
class connection final : public broker::link,
                         public std::enable_shared_from_this<connection<Stream>> {
 public:
  connection(Stream stream, broker::broker_service& svc, const connection_limits& limits,
             broker::link_info info)
      : stream_(std::move(stream)),
        svc_(svc),
        limits_(limits),
        info_(std::move(info)),
        timer_(stream_.get_executor()) {}

  void start() {
    svc_.open(this->shared_from_this());
    // Until CONNECT is accepted the deadline is absolute: a client that trickles bytes
    // cannot hold a connection open.
    deadline_ = std::chrono::steady_clock::now() + limits_.connect_timeout;
    arm_timer(deadline_);
    buf_.resize(4096);
    stream_ops<Stream>::on_peer_close(stream_, [weak = this->weak_from_this()] {
      auto self = weak.lock();
      if (!self) return;
      // Give Beast's Close reply a moment to leave, then end the TCP connection.
      self->timer_.expires_after(std::chrono::milliseconds(100));
      self->timer_.async_wait([self](boost::system::error_code ec) {
        if (!ec) detail::close_socket(boost::beast::get_lowest_layer(self->stream_));
      });
    });
    do_read();
  }

  // ---- broker::link (called from the broker strand) ----
  void send(broker::frame f) override {
    asio::dispatch(stream_.get_executor(),
                   [self = this->shared_from_this(), f = std::move(f)]() mutable {
                     self->on_send(std::move(f));
                   });
  }
  void close() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->on_close(); });
  }
  void set_read_timeout(std::chrono::milliseconds t) override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this(), t] {
      self->idle_timeout_ = t;
      self->last_read_ = std::chrono::steady_clock::now();
      self->timer_.cancel();
      if (t.count() > 0) self->arm_timer(self->last_read_ + t);
    });
  }
  const broker::link_info& info() const override { return info_; }

  // Something that must live as long as this connection (e.g. the TLS context it was
  // accepted with, which a SIGHUP may have replaced for new connections since).
  void hold(std::shared_ptr<const void> p) { held_ = std::move(p); }

 private:
  using clock = std::chrono::steady_clock;

  void do_read() {
    if (used_ == buf_.size()) buf_.resize(buf_.size() * 2);
    stream_.async_read_some(
        asio::buffer(buf_.data() + used_, buf_.size() - used_),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
          self->on_read(ec, n);
        });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (ec) return finish();
    if (closing_ || read_stopped_) return;  // the broker is done with us; ignore the rest
    if (!stream_ops<Stream>::frame_ok(stream_)) return shutdown_now(false);
    last_read_ = clock::now();
    used_ += n;
    std::size_t start = 0;
    for (;;) {
      auto r = mqtt::decode(std::span<const std::uint8_t>(buf_.data() + start, used_ - start),
                            {version_, limits_.max_packet_size});
      if (r.has_error()) {
        if (r.error() == mqtt::codec_errc::need_more_bytes) break;
        // The broker answers (CONNACK or DISCONNECT with the reason code) and closes us;
        // until then nothing more is read, but what it sends still goes out.
        svc_.decode_error(this->shared_from_this(), r.error());
        read_stopped_ = true;
        return;
      }
      start += r->size;
      if (auto* c = std::get_if<mqtt::connect>(&r->pkt)) version_ = c->protocol_version;
      svc_.packet(this->shared_from_this(), std::move(r->pkt));
    }
    // Keep the unconsumed tail at the front; grow only when one packet needs more room.
    if (start > 0) {
      std::copy(buf_.begin() + static_cast<std::ptrdiff_t>(start),
                buf_.begin() + static_cast<std::ptrdiff_t>(used_), buf_.begin());
      used_ -= start;
    }
    do_read();
  }

  void on_send(broker::frame f) {
    if (closing_ || dead_) return;
    outbox_bytes_ += f->size();
    if (outbox_bytes_ > limits_.max_outbox_bytes) {
      // A reader this far behind would make us buffer without bound: cut it off.
      outbox_.clear();
      outbox_bytes_ = 0;
      return shutdown_now(false);
    }
    outbox_.push_back(std::move(f));
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    // Gather everything queued into one write: fewer syscalls under fan-out.
    write_bufs_.clear();
    in_write_ = std::min<std::size_t>(outbox_.size(), 64);
    for (std::size_t i = 0; i < in_write_; ++i) write_bufs_.emplace_back(asio::buffer(*outbox_[i]));
    stream_ops<Stream>::async_write(
        stream_, write_bufs_,
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
          self->on_write(ec);
        });
  }

  void on_write(boost::system::error_code ec) {
    writing_ = false;
    if (ec) return shutdown_now(false);
    for (std::size_t i = 0; i < in_write_; ++i) {
      outbox_bytes_ -= outbox_.front()->size();
      outbox_.pop_front();
    }
    if (!outbox_.empty()) return do_write();
    if (closing_) shutdown_now(true);
  }

  void on_close() {
    if (dead_) return;
    closing_ = true;
    if (!writing_) return shutdown_now(true);
    // on_write closes once the outbox is flushed; a peer that never reads gets 5 s.
    arm_timer(clock::now() + std::chrono::seconds(5));
  }

  void arm_timer(clock::time_point at) {
    // A dead connection arms nothing: a keep-alive set by the broker after the peer left
    // (it processes CONNECT after we saw EOF) would otherwise hold the io_context, and so
    // a shutdown, for 1.5 x the keep-alive.
    if (dead_) return;
    timer_.expires_at(at);
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      self->on_timer();
    });
  }

  void on_timer() {
    if (dead_) return;
    if (closing_) return shutdown_now(false);  // the final flush took too long
    const auto now = clock::now();
    if (idle_timeout_.count() == 0) {
      if (now >= deadline_) return timed_out();
      return arm_timer(deadline_);
    }
    const auto due = last_read_ + idle_timeout_;
    if (now >= due) return timed_out();
    arm_timer(due);
  }

  void timed_out() {
    // The broker decides what to send (5.0: DISCONNECT Keep Alive timeout) and closes us.
    svc_.timeout(this->shared_from_this());
  }

  // Closes the stream: gracefully (WebSocket Close frame) when nothing is being written,
  // else at once. Then tells the broker.
  void shutdown_now(bool graceful) {
    if (dead_) return;
    dead_ = true;
    closing_ = true;
    if (graceful && !writing_) {
      // Bounded like the final flush: a peer that never answers the Close frame gets 5 s.
      timer_.expires_after(std::chrono::seconds(5));
      timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
        if (!ec) detail::close_socket(boost::beast::get_lowest_layer(self->stream_));
      });
      stream_ops<Stream>::async_close(stream_, [self = this->shared_from_this()] {
        self->timer_.cancel();
        self->report_closed();
      });
      return;
    }
    timer_.cancel();
    detail::close_socket(boost::beast::get_lowest_layer(stream_));
    report_closed();
  }

  // The peer closed or the stream failed.
  void finish() {
    if (!dead_) {
      dead_ = true;
      closing_ = true;
      timer_.cancel();
      detail::close_socket(boost::beast::get_lowest_layer(stream_));
    }
    report_closed();
  }

  // Tell the broker once (it ignores us if it closed us itself).
  void report_closed() {
    if (reported_) return;
    reported_ = true;
    svc_.closed(this->shared_from_this());
  }

  std::shared_ptr<const void> held_;  // destroyed after stream_
  Stream stream_;
  broker::broker_service& svc_;
  const connection_limits limits_;
  const broker::link_info info_;
  asio::steady_timer timer_;

  std::vector<std::uint8_t> buf_;
  std::size_t used_ = 0;
  mqtt::version version_ = mqtt::version::v5;

  std::deque<broker::frame> outbox_;
  std::size_t outbox_bytes_ = 0;
  std::vector<asio::const_buffer> write_bufs_;
  std::size_t in_write_ = 0;
  bool writing_ = false;

  clock::time_point deadline_{};
  clock::time_point last_read_{};
  std::chrono::milliseconds idle_timeout_{0};

  bool read_stopped_ = false;  // after a decode error: the broker will close us
  bool closing_ = false;       // no more reads are processed, no more sends accepted
  bool dead_ = false;          // the stream is closed
  bool reported_ = false;      // the broker has been told
};

}  // namespace natter::transport
