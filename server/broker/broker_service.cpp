#include "broker_service.hpp"

#include <boost/asio/post.hpp>

namespace natter::broker {

namespace asio = boost::asio;

broker_service::broker_service(asio::any_io_executor ex, broker_options opts, hooks& h)
    : strand_(asio::make_strand(ex)),
      core_(std::move(opts), h,
            [this](std::function<void()> fn) {
              asio::post(strand_, [this, fn = std::move(fn)] {
                fn();
                core_.end_event();
              });
            }),
      tick_(strand_) {}

void broker_service::attach_store(store::store& st, store::snapshot snap) {
  asio::post(strand_, [this, &st, snap = std::move(snap)] { core_.attach_store(st, snap); });
}

void broker_service::post(std::function<void()> fn) {
  asio::post(strand_, [this, fn = std::move(fn)] {
    fn();
    core_.end_event();
  });
}

void broker_service::start() {
  asio::post(strand_, [this] { schedule_tick(); });
}

void broker_service::stop() {
  asio::post(strand_, [this] {
    stopped_ = true;
    tick_.cancel();
    core_.shutdown();
  });
}

void broker_service::schedule_tick() {
  if (stopped_) return;
  tick_.expires_after(std::chrono::seconds(1));
  tick_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    core_.tick();
    core_.end_event();
    schedule_tick();
  });
}

void broker_service::open(std::shared_ptr<link> l) {
  asio::post(strand_, [this, l = std::move(l)]() mutable {
    core_.on_open(std::move(l));
    core_.end_event();
  });
}

void broker_service::packet(std::shared_ptr<link> l, mqtt::packet&& p) {
  asio::post(strand_, [this, l = std::move(l), p = std::move(p)]() mutable {
    core_.on_packet(l.get(), std::move(p));
    core_.end_event();
  });
}

void broker_service::decode_error(std::shared_ptr<link> l, std::error_code ec) {
  // close() after the core: if the core already forgot this link, nobody else would.
  asio::post(strand_, [this, l = std::move(l), ec] {
    core_.on_decode_error(l.get(), ec);
    core_.end_event();
    l->close();
  });
}

void broker_service::timeout(std::shared_ptr<link> l) {
  asio::post(strand_, [this, l = std::move(l)] {
    core_.on_timeout(l.get());
    core_.end_event();
    l->close();
  });
}

void broker_service::closed(std::shared_ptr<link> l) {
  asio::post(strand_, [this, l = std::move(l)] {
    core_.on_closed(l.get());
    core_.end_event();
  });
}

}  // namespace natter::broker
