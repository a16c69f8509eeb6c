// natter-server: parse the command line and configuration, run until SIGINT/SIGTERM.
// Under systemd (Type=notify) it reports READY once every listener is bound, RELOADING
// around a SIGHUP reload and STOPPING on shutdown (systemd_notify.hpp).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "logging.hpp"
#include "server.hpp"
#include "systemd_notify.hpp"

namespace asio = boost::asio;

int main(int argc, char** argv) {
  CLI::App app{"natter-server: an MQTT 3.1.1/5.0 broker with a chat and presence service"};
  std::string config_file;
  int port = 0;
  bool verbose = false;
  bool test_only = false;
  bool version = false;
  app.add_option("-c,--config-file", config_file,
                 "Load configuration from FILE (mosquitto.conf format)");
  app.add_option("-p,--port", port,
                 "Listen on PORT (replaces the configuration's listeners' ports)")
      ->check(CLI::Range(1, 65535));
  app.add_flag("-t,--test-config", test_only, "Check the configuration and exit");
  app.add_flag("-v,--verbose", verbose, "Log everything (log_type all)");
  app.add_flag("--version", version, "Print the version and exit");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::printf("natter-server %s\n", NATTER_VERSION);
    return 0;
  }

  natter::app::init_default_logging(verbose);

  natter::config::server_config cfg;
  try {
    cfg = config_file.empty() ? natter::config::parse_config("", "(defaults)")
                              : natter::config::load_config(config_file);
  } catch (const natter::config::config_error& e) {
    std::fprintf(stderr, "natter-server: %s\n", e.what());
    return 3;
  }
  if (!test_only) {
    try {
      natter::app::configure_logging(cfg.log, verbose);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "natter-server: %s\n", e.what());
      return 1;
    }
  }
  for (const auto& w : cfg.warnings) spdlog::warn("{}", w);
  if (port != 0) {
    // Like mosquitto -p: the command line's port replaces the configured listeners' ports.
    for (auto& l : cfg.listeners) l.port = static_cast<std::uint16_t>(port);
  }
  if (test_only) {
    std::printf("natter-server: the configuration %s is valid\n",
                config_file.empty() ? "(defaults)" : config_file.c_str());
    return 0;
  }

  const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  asio::io_context ioc{static_cast<int>(threads)};
  std::unique_ptr<natter::app::server> srv;
  try {
    srv = std::make_unique<natter::app::server>(ioc, cfg);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }

  // SIGHUP reloads TLS material (and, with authentication, password and ACL files).
  asio::signal_set hup{ioc, SIGHUP};
  std::function<void(boost::system::error_code, int)> on_hup = [&](boost::system::error_code ec,
                                                                   int) {
    if (ec) return;
    spdlog::info("SIGHUP: reloading");
    natter::app::systemd::notify_reloading();
    srv->reload();
    natter::app::systemd::notify_ready("Running");
    hup.async_wait(on_hup);
  };
  hup.async_wait(on_hup);
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    natter::app::systemd::notify_stopping();
    hup.cancel();
    srv->stop();
  });

  // Every listener is bound (the constructor throws otherwise): clients may connect.
  if (cfg.pid_file) {  // as Mosquitto: written once running, removed on a clean exit
    std::ofstream pid(*cfg.pid_file, std::ios::trunc);
    pid << getpid() << '\n';
    if (!pid.flush()) {
      spdlog::error("pid_file {}: cannot write it", cfg.pid_file->string());
      return 1;
    }
  }
  spdlog::info("natter-server {} running", NATTER_VERSION);
  natter::app::systemd::notify_ready("Running");

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  if (cfg.pid_file) {
    std::error_code ec;
    std::filesystem::remove(*cfg.pid_file, ec);
  }
  spdlog::info("stopped");
  return 0;
}
