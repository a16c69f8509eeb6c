// natter-pub: publish one message (or one per line of stdin) and exit, like mosquitto_pub.
//
// Exit status as mosquitto_pub's: 0 once every message is acknowledged (QoS 1/2) or
// written (QoS 0) and DISCONNECT sent; the CONNACK code when the server refuses the
// connection; 1 when it cannot connect or the command line is wrong; 7 when the
// connection is lost before the end.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/mqtt_client.hpp"
#include "mqtt_tool_options.hpp"
#include "tool_common.hpp"

namespace asio = boost::asio;
namespace cli = natter::cli;
namespace client = natter::client;
namespace mqtt = natter::mqtt;

namespace {

std::optional<std::string> read_all(std::FILE* f) {
  std::string data;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  if (std::ferror(f)) return std::nullopt;
  return data;
}

class publisher {
 public:
  publisher(asio::io_context& ioc, const cli::tool_options& o, std::string payload)
      : ioc_(ioc), o_(o), payload_(std::move(payload)), timer_(ioc) {
    client_ =
        client::mqtt_client::create(ioc.get_executor(), cli::make_client_options(o, ::getpid()));
    if (o_.debug) {
      client_->on_trace([this](bool out, const mqtt::packet& p) {
        cli::trace_packet(client_->client_id(), out, p);
      });
    }
    client_->on_state([this](const client::state_change& s) { on_state(s); });
  }

  int run() {
    client_->connect();
    ioc_.run();
    return exit_code_;
  }

  bool reader_started() const { return reader_started_; }

 private:
  void on_state(const client::state_change& s) {
    if (s.state == client::client_state::connected) {
      if (started_) return;
      started_ = true;
      if (o_.mode == cli::pub_mode::stdin_line) {
        start_lines();
      } else {
        publish_one(payload_);
      }
      return;
    }
    if (s.state != client::client_state::disconnected) return;
    if (s.connack != nullptr) {
      cli::err_print(o_, cli::connack_error(o_.version, s.connack->reason));
      // libmosquitto's loop then fails too, and mosquitto_pub reports that as well.
      cli::err_print(
          o_, o_.version == mqtt::version::v5
                  ? "Error: A network protocol error occurred when communicating with the broker.\n"
                  : "Error: The connection was refused.\n");
      exit_code_ = s.connack->reason;
    } else if (!started_) {
      const auto failure = cli::connect_error(cli::tool::pub, s.ec);
      cli::err_print(o_, failure.text);
      exit_code_ = failure.status;
    } else if (!finishing_) {
      cli::err_print(o_, "Error: The connection was lost.\n");
      exit_code_ = 7;
    }
    ioc_.stop();
  }

  void publish_one(std::string payload) {
    mqtt::publish p;
    p.topic = *o_.topic;
    p.payload = std::move(payload);
    p.qos = static_cast<mqtt::qos>(o_.qos);
    p.retain = o_.retain;
    p.props = o_.publish_props;
    const int mid = ++sent_;
    client_->publish(std::move(p), [this, mid](std::error_code ec) { on_published(mid, ec); });
  }

  void on_published(int mid, std::error_code ec) {
    if (ec && ec.category() == mqtt::reason_category()) {
      const auto rc = static_cast<mqtt::reason_code>(ec.value());
      if (rc == mqtt::reason_code::qos_not_supported) {
        cli::err_print(o_, "Error: Message QoS not supported on broker, try a lower QoS.\n");
        exit_code_ = 1;
        return finish();
      }
      if (rc == mqtt::reason_code::packet_too_large ||
          rc == mqtt::reason_code::retain_not_supported) {
        cli::err_print(o_, "Error: " + std::string(cli::reason_string(ec.value())) + ".\n");
        exit_code_ = 1;
        return finish();
      }
      // A failing PUBACK/PUBREC: mosquitto_pub warns and carries on.
      cli::err_print(
          o_, "Warning: Publish " + std::to_string(mid) + " failed: " +
                  std::string(cli::reason_string(static_cast<std::uint8_t>(ec.value()))) + ".\n");
    } else if (ec) {
      return;  // the connection ended; on_state reports it
    }
    if (o_.mode == cli::pub_mode::stdin_line) {
      bool last = false;
      {
        std::lock_guard lk(m_);
        --outstanding_;
        last = stdin_done_ && outstanding_ == 0;
      }
      cv_.notify_one();
      if (last) finish();
      return;
    }
    if (++acked_ < o_.repeat_count) {
      timer_.expires_after(
          std::chrono::microseconds(static_cast<long long>(o_.repeat_delay * 1e6)));
      timer_.async_wait([this](boost::system::error_code e) {
        if (!e) publish_one(payload_);
      });
      return;
    }
    finish();
  }

  void finish() {
    if (finishing_) return;
    finishing_ = true;
    client_->disconnect(mqtt::reason_code::normal_disconnection, o_.disconnect_props);
  }

  // -l: a thread reads stdin line by line (stdin may be a file, a pipe or a terminal, so
  // it cannot always be waited on with epoll) and hands each line to the I/O thread,
  // staying at most `window` lines ahead of what the broker has acknowledged.
  void start_lines() {
    reader_started_ = true;
    std::thread([this] {
      constexpr std::size_t window = 1024;
      std::string line;
      while (std::getline(std::cin, line)) {
        {
          std::unique_lock lk(m_);
          cv_.wait(lk, [&] { return outstanding_ < window; });
          ++outstanding_;
        }
        asio::post(ioc_, [this, l = std::move(line)]() mutable { publish_one(std::move(l)); });
        line = std::string();
      }
      asio::post(ioc_, [this] {
        bool last = false;
        {
          std::lock_guard lk(m_);
          stdin_done_ = true;
          last = outstanding_ == 0;
        }
        if (last) finish();
      });
    }).detach();
  }

  asio::io_context& ioc_;
  const cli::tool_options& o_;
  std::string payload_;
  asio::steady_timer timer_;
  std::shared_ptr<client::mqtt_client> client_;
  int exit_code_ = 0;
  int sent_ = 0;
  int acked_ = 0;
  bool started_ = false;
  bool finishing_ = false;
  bool reader_started_ = false;
  std::mutex m_;
  std::condition_variable cv_;
  std::size_t outstanding_ = 0;  // guarded by m_
  bool stdin_done_ = false;      // guarded by m_
};

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto parsed = cli::parse_args(cli::tool::pub, args);
  if (const int rc = cli::handle_parse(parsed); rc >= 0) return rc;
  const cli::tool_options& o = parsed.opts;
  if (o.asked_v31) cli::err_print(o, "Warning: MQTT v3.1 is not supported, using MQTT v3.1.1.\n");
  if (const auto err = cli::check_tls_files(o); !err.empty()) {
    cli::err_print(o, err);
    return 1;
  }

  std::string payload;
  switch (o.mode) {
    case cli::pub_mode::message:
      payload = o.message;
      break;
    case cli::pub_mode::file: {
      std::FILE* f = std::fopen(o.file.c_str(), "rb");
      std::optional<std::string> data = f ? read_all(f) : std::nullopt;
      if (f) std::fclose(f);
      if (!data) {
        cli::err_print(o, "Error: Unable to open file \"" + o.file + "\".\n");
        cli::err_print(o, "Error loading input file \"" + o.file + "\".\n");
        return 1;
      }
      payload = std::move(*data);
      break;
    }
    case cli::pub_mode::stdin_file: {
      auto data = read_all(stdin);
      if (!data || data->empty()) {
        if (data) cli::err_print(o, "Error: Zero length input.\n");
        cli::err_print(o, "Error loading input from stdin.\n");
        return 1;
      }
      payload = std::move(*data);
      break;
    }
    default:
      break;
  }

  asio::io_context ioc{1};
  publisher pub(ioc, o, std::move(payload));
  const int rc = pub.run();
  std::fflush(stdout);
  // The stdin reader may still be blocked in a read: leave without waiting for it.
  if (pub.reader_started()) std::_Exit(rc);
  return rc;
}
