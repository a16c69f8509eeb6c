// natter-server: parse the command line and configuration, run until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <thread>
#include <vector>

#include "broker/broker_service.hpp"
#include "transport/tcp_listener.hpp"

namespace asio = boost::asio;

namespace {

struct settings {
  std::vector<asio::ip::tcp::endpoint> listeners;
  natter::broker::broker_options broker;
  natter::transport::connection_limits limits;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"natter-server: an MQTT 3.1.1/5.0 broker with a chat and presence service"};
  std::string config_file;
  int port = 0;
  bool verbose = false;
  bool version = false;
  app.add_option("-c,--config-file", config_file, "Load configuration from FILE (mosquitto.conf format)");
  app.add_option("-p,--port", port, "Listen on PORT on loopback (overrides the config's listeners)")
      ->check(CLI::Range(1, 65535));
  app.add_flag("-v,--verbose", verbose, "Log everything (log_type all)");
  app.add_flag("--version", version, "Print the version and exit");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::printf("natter-server %s\n", NATTER_VERSION);
    return 0;
  }

  auto logger = spdlog::stderr_color_mt("natter");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);

  settings cfg;
  if (port == 0) port = 1883;
  // Without configuration: loopback only, like Mosquitto 2's local-only mode.
  cfg.listeners.emplace_back(asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port));

  const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  asio::io_context ioc{static_cast<int>(threads)};
  natter::broker::hooks allow_all;
  natter::broker::broker_service broker{ioc.get_executor(), cfg.broker, allow_all};
  broker.start();

  std::vector<std::shared_ptr<natter::transport::tcp_listener>> listeners;
  try {
    for (const auto& ep : cfg.listeners) {
      auto l = std::make_shared<natter::transport::tcp_listener>(ioc, ep, broker, cfg.limits);
      l->start();
      spdlog::info("listening on {}:{} (mqtt)", ep.address().to_string(), l->local_endpoint().port());
      listeners.push_back(std::move(l));
    }
  } catch (const boost::system::system_error& e) {
    spdlog::error("cannot listen: {}", e.what());
    return 1;
  }

  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    for (auto& l : listeners) l->stop();
    broker.stop();
  });

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  spdlog::info("stopped");
  return 0;
}
