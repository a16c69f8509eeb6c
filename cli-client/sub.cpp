// natter-sub: subscribe and print what arrives, like mosquitto_sub.
//
// Exit status as mosquitto_sub's: 0 after -C messages, -E, SIGINT or SIGTERM; 27 when -W
// runs out ("Timed out"); the CONNACK code when the server refuses; 1 when it cannot
// connect at all. A connection lost later is re-made (with backoff), subscriptions
// included.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "client/mqtt_client.hpp"
#include "mqtt/topic.hpp"
#include "mqtt_tool_options.hpp"
#include "output_format.hpp"
#include "tool_common.hpp"

namespace asio = boost::asio;
namespace cli = natter::cli;
namespace client = natter::client;
namespace mqtt = natter::mqtt;

namespace {

constexpr int exit_timeout = 27;  // libmosquitto's MOSQ_ERR_TIMEOUT, what mosquitto_sub -W returns

class subscriber {
 public:
  subscriber(asio::io_context& ioc, const cli::tool_options& o)
      : ioc_(ioc), o_(o), signals_(ioc, SIGINT, SIGTERM), timer_(ioc) {
    client_ =
        client::mqtt_client::create(ioc.get_executor(), cli::make_client_options(o, ::getpid()));
    if (o_.debug) {
      client_->on_trace([this](bool out, const mqtt::packet& p) {
        cli::trace_packet(client_->client_id(), out, p);
      });
    }
    client_->on_state([this](const client::state_change& s) { on_state(s); });
    client_->on_message([this](mqtt::publish& m) { on_message(m); });
    print_.verbose = o_.verbose;
    print_.eol = o_.eol;
    print_.format = o_.format ? &*o_.format : nullptr;
  }

  int run() {
    client_->connect();
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (!ec) stop();
    });
    if (o_.timeout > 0) {
      timer_.expires_after(std::chrono::seconds(o_.timeout));
      timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        timed_out_ = true;
        stop();
      });
    }
    ioc_.run();
    return exit_code_;
  }

 private:
  void on_state(const client::state_change& s) {
    if (s.state == client::client_state::connected) {
      connected_ = true;
      ever_connected_ = true;
      // Later connections: the client makes the subscriptions again if the session is gone.
      if (!subscribed_) {
        subscribed_ = true;
        subscribe();
      }
      return;
    }
    if (s.state != client::client_state::disconnected) return;
    connected_ = false;
    if (s.connack != nullptr) {
      cli::err_print(o_, cli::connack_error(o_.version, s.connack->reason));
      exit_code_ = s.connack->reason;
      return done();
    }
    if (s.reconnecting && !stopping_) return;  // lost: the client tries again
    if (s.ec && !stopping_ && !disconnecting_) {
      const auto failure = cli::connect_error(cli::tool::sub, s.ec);
      cli::err_print(o_, ever_connected_ ? "Error: " + s.ec.message() + "\n" : failure.text);
      exit_code_ = failure.status;
    }
    done();
  }

  void done() {
    if (timed_out_) {
      cli::err_print(o_, "Timed out\n");
      exit_code_ = exit_timeout;
    }
    client_->close();
    signals_.cancel();
    timer_.cancel();
    ioc_.stop();
  }

  void subscribe() {
    std::vector<mqtt::subscription> subs;
    for (const auto& t : o_.topics) {
      mqtt::subscription s;
      s.filter = t;
      s.max_qos = static_cast<mqtt::qos>(o_.qos);
      s.retain_handling = o_.no_retain ? 2 : 0;  // v5: do not even send retained messages
      s.retain_as_published = o_.retain_as_published;
      subs.push_back(std::move(s));
    }
    if (!subs.empty()) {
      client_->subscribe(
          std::move(subs), [this](std::error_code ec, const mqtt::suback& a) { on_suback(ec, a); },
          o_.subscribe_props);
    }
    for (const auto& u : o_.unsub_topics) client_->unsubscribe({u}, {}, o_.unsubscribe_props);
  }

  void on_suback(std::error_code ec, const mqtt::suback& a) {
    if (ec) return;
    if (o_.debug && !o_.quiet && !a.reasons.empty()) {
      std::printf("Subscribed (mid: %d): %d", static_cast<int>(a.packet_id),
                  static_cast<int>(a.reasons[0]));
      for (std::size_t i = 1; i < a.reasons.size(); ++i)
        std::printf(", %d", static_cast<int>(a.reasons[i]));
      std::printf("\n");
      std::fflush(stdout);
    }
    bool any = false;
    for (auto r : a.reasons) any = any || r < 0x80;
    if (!any) cli::err_print(o_, "All subscription requests were denied.\n");
    if (o_.exit_after_sub) {
      processing_ = false;  // retained messages that follow the SUBACK are not wanted
      finish();
    }
  }

  void on_message(const mqtt::publish& m) {
    if (!processing_) return;
    if (o_.retained_only && !m.retain) {
      processing_ = false;
      return finish();
    }
    if (m.retain && o_.no_retain) return;
    for (const auto& f : o_.filter_outs) {
      if (mqtt::topic_matches(f, m.topic)) return;
    }
    if (o_.remove_retained && m.retain) {
      ++removing_;
      client_->publish(m.topic, std::string(), mqtt::qos::at_least_once, true,
                       [this](std::error_code) {
                         --removing_;
                         if (!processing_) finish();
                       });
    }
    out_.clear();
    err_.clear();
    cli::render_message(out_, m, print_, std::chrono::system_clock::now(), err_);
    if (!err_.empty()) cli::err_print(o_, err_);
    if (!out_.empty()) {
      std::fwrite(out_.data(), 1, out_.size(), stdout);
      std::fflush(stdout);
    }
    if (o_.msg_count > 0 && ++count_ == o_.msg_count) {
      processing_ = false;
      finish();
    }
  }

  // Disconnect once the retained messages being removed are gone.
  void finish() {
    if (removing_ > 0 || disconnecting_) return;
    disconnecting_ = true;
    client_->disconnect(mqtt::reason_code::normal_disconnection, o_.disconnect_props);
  }

  // SIGINT, SIGTERM, -W: mosquitto_sub disconnects with "Disconnect with Will Message"
  // (v5), so a will the user set still goes out.
  void stop() {
    processing_ = false;
    stopping_ = true;
    if (connected_ && !disconnecting_) {
      disconnecting_ = true;
      client_->disconnect(mqtt::reason_code::disconnect_with_will_message, o_.disconnect_props);
      return;
    }
    if (!disconnecting_) done();
  }

  asio::io_context& ioc_;
  const cli::tool_options& o_;
  asio::signal_set signals_;
  asio::steady_timer timer_;
  std::shared_ptr<client::mqtt_client> client_;
  cli::print_options print_;
  std::string out_;
  std::string err_;
  int exit_code_ = 0;
  int count_ = 0;
  int removing_ = 0;
  bool connected_ = false;
  bool ever_connected_ = false;
  bool subscribed_ = false;
  bool processing_ = true;
  bool disconnecting_ = false;
  bool stopping_ = false;
  bool timed_out_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto parsed = cli::parse_args(cli::tool::sub, args);
  if (const int rc = cli::handle_parse(parsed); rc >= 0) return rc;
  const cli::tool_options& o = parsed.opts;
  if (o.asked_v31) cli::err_print(o, "Warning: MQTT v3.1 is not supported, using MQTT v3.1.1.\n");
  if (const auto err = cli::check_tls_files(o); !err.empty()) {
    cli::err_print(o, err);
    return 1;
  }
  asio::io_context ioc{1};
  subscriber sub(ioc, o);
  const int rc = sub.run();
  std::fflush(stdout);
  return rc;
}
