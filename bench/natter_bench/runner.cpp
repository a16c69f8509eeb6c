// Shared scenario machinery (see runner.hpp).
#include "runner.hpp"

#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <stdexcept>

#include "client/mqtt_client.hpp"

namespace natter::bench {

namespace asio = boost::asio;

runner::runner(common_options o) : opts_(std::move(o)), guard_(ioc_.get_executor()) {
  auto url = client::parse_url(opts_.url);
  if (!url) throw std::runtime_error("bad --url " + opts_.url + ": " + url.error().message());
  target_.transport = url->transport;
  target_.host = url->host;
  target_.port = url->port;
  if (client::uses_websocket(url->transport) && !url->path.empty()) target_.ws_path = url->path;
  if (url->username && opts_.username.empty()) opts_.username = *url->username;
  if (url->password && opts_.password.empty()) opts_.password = *url->password;
  target_.version = opts_.v5 ? mqtt::version::v5 : mqtt::version::v311;
  asio::ip::tcp::resolver resolver(ioc_);
  boost::system::error_code ec;
  auto results = resolver.resolve(target_.host, std::to_string(target_.port), ec);
  if (ec || results.empty())
    throw std::runtime_error("cannot resolve " + target_.host + ": " + ec.message());
  target_.endpoint = results.begin()->endpoint();
  if (client::uses_tls(target_.transport)) {
    client::tls_options tls;
    tls.ca_file = opts_.cafile;
    tls.verify_peer = !opts_.insecure;
    tls.verify_hostname = !opts_.insecure;
    auto ctx = client::make_ssl_context(tls);
    if (!ctx) throw std::runtime_error("TLS: " + ctx.error().message());
    target_.ssl = *ctx;
    target_.verify_peer = tls.verify_peer;
    target_.verify_hostname = tls.verify_hostname;
  }
  if (opts_.prefix.empty()) {
    std::random_device rd;
    opts_.prefix = "nb" + std::to_string(::getpid()) + "x" + std::to_string(rd() % 100000);
  }
}

connection_ptr runner::make(std::size_t read_buffer) {
  return std::make_shared<connection>(ioc_, target_, read_buffer);
}

mqtt::connect runner::connect_packet(std::string client_id, bool clean,
                                     std::uint16_t keep_alive) const {
  mqtt::connect c;
  c.protocol_version = target_.version;
  c.client_id = std::move(client_id);
  c.clean_start = clean;
  c.keep_alive = keep_alive;
  if (!opts_.username.empty()) c.username = opts_.username;
  if (!opts_.password.empty()) c.password = opts_.password;
  if (!clean && target_.version == mqtt::version::v5) c.props.session_expiry_interval = 3600;
  return c;
}

bool runner::run_until(const std::function<bool()>& pred, double timeout) {
  const auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                std::chrono::duration<double>(timeout));
  while (!pred()) {
    const auto now = clock_type::now();
    if (now >= deadline) return false;
    ioc_.run_for(std::min<clock_type::duration>(deadline - now, std::chrono::milliseconds(2)));
  }
  return true;
}

void runner::run_for(double seconds) {
  run_until([] { return false; }, seconds);
}

void runner::begin_measure() {
  if (opts_.pid > 0) server_before_ = sample_process(opts_.pid);
  self_before_ = self_cpu_s();
  measure_start_ns_ = now_ns();
}

std::string runner::end_measure(report& r, double messages) {
  const double bench_cpu = self_cpu_s() - self_before_;
  std::string human;
  if (opts_.pid > 0) {
    const auto after = sample_process(opts_.pid);
    if (server_before_ && after) {
      const double cpu = after->cpu_s - server_before_->cpu_s;
      r.add("server_cpu_s", cpu, 2);
      r.add("server_rss_kb", after->rss_kb);
      r.add("server_peak_rss_kb", after->hwm_kb);
      // /proc counts CPU in clock ticks (10 ms): below a few ticks the ratio is noise.
      const double per_cpu = messages > 0 && cpu >= 0.02 ? messages / cpu : NAN;
      r.add("msgs_per_server_cpu_s", per_cpu, 0);
      char buf[160];
      std::snprintf(buf, sizeof buf, "; server %.2f CPU-s, %s msgs/CPU-s, RSS %.1f MiB (peak %.1f)",
                    cpu, grouped(per_cpu).c_str(), static_cast<double>(after->rss_kb) / 1024.0,
                    static_cast<double>(after->hwm_kb) / 1024.0);
      human = buf;
    } else {
      error("cannot read /proc/" + std::to_string(opts_.pid) + " (--pid)");
    }
  }
  r.add("bench_cpu_s", bench_cpu, 2);
  return human;
}

std::string runner::transport_name() const {
  switch (target_.transport) {
    case client::transport_kind::tcp:
      return "tcp";
    case client::transport_kind::tls:
      return "tls";
    case client::transport_kind::ws:
      return "ws";
    case client::transport_kind::wss:
      return "wss";
  }
  return "?";
}

void runner::describe(report& r) const {
  r.add("transport", transport_name());
  r.add("mqtt", target_.version == mqtt::version::v5 ? "5.0" : "3.1.1");
  if (!opts_.label.empty()) r.add("label", opts_.label);
}

void runner::error(std::string what) {
  if (errors_.size() < 20) errors_.push_back(std::move(what));
}

int runner::finish(const std::string& human, report& r) {
  r.add("errors", static_cast<std::int64_t>(errors_.size()));
  if (!errors_.empty()) r.add("first_error", errors_.front());
  std::cout << human << "\n";
  if (!opts_.quiet_json) std::cout << r.json() << "\n";
  std::cout.flush();
  for (const auto& e : errors_) std::cerr << "natter-bench: " << e << "\n";
  return errors_.empty() ? 0 : 1;
}

}  // namespace natter::bench
