// natter-bench: MQTT broker load generator (issue #10). One scenario per run; each prints
// one human-readable line and one JSON line. bench/README.md has the scenarios, the
// figures and bench/compare.sh, which runs them side by side against Mosquitto and NATS.
//
//   natter-bench [--url URL] [--pid PID] [--label NAME] SCENARIO [options]
//   natter-bench --help; natter-bench SCENARIO --help
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "scenarios.hpp"

namespace bench = natter::bench;

namespace {

// Thousands of connections need thousands of descriptors: take what the hard limit allows.
void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "natter-bench: load generator for MQTT brokers (Natter, Mosquitto, NATS...). Each "
      "scenario prints one human line and one JSON line."};
  app.require_subcommand(1);
  app.fallthrough();
  bench::common_options common;
  app.add_option("--url", common.url, "Broker: mqtt://, mqtts://, ws://, wss:// URL")
      ->capture_default_str();
  app.add_option("--cafile", common.cafile, "CA certificate (PEM) for mqtts:// and wss://");
  app.add_flag("--insecure", common.insecure, "Do not verify the server certificate");
  app.add_flag("--v5", common.v5, "Speak MQTT 5.0 (default 3.1.1, which every peer speaks)");
  app.add_option("--pid", common.pid,
                 "The server's process id: add its CPU seconds, memory and msgs per CPU-second");
  app.add_option("--prefix", common.prefix, "Topic and client id prefix (default: unique)");
  app.add_option("-u,--username", common.username, "Username for every connection");
  app.add_option("-P,--password", common.password,
                 "Password for every connection (or $NATTER_BENCH_PASSWORD)")
      ->envname("NATTER_BENCH_PASSWORD");
  app.add_option("--label", common.label, "Free text copied into the JSON line");
  app.add_option("--timeout", common.timeout, "Bound of each wait, seconds")->capture_default_str();
  app.add_flag("--no-json", common.quiet_json, "Print only the human line");

  bench::flow_options fan_in;
  auto* fi = app.add_subcommand("fan-in", "P publishers -> one wildcard subscriber");
  fi->add_option("-p,--publishers", fan_in.publishers)
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  fi->add_option("-q,--qos", fan_in.qos)->capture_default_str()->check(CLI::Range(0, 2));
  fi->add_option("-s,--payload", fan_in.payload, "Payload bytes (>= 24)")->capture_default_str();
  fi->add_option("-d,--duration", fan_in.duration, "Seconds of publishing")->capture_default_str();
  fi->add_option("--window", fan_in.window, "Messages a publisher may be ahead of each subscriber")
      ->capture_default_str();
  fi->add_option("--inflight", fan_in.inflight, "QoS 1/2: unacknowledged per publisher")
      ->capture_default_str();

  bench::flow_options fan_out;
  fan_out.fan_out = true;
  fan_out.subscribers = 100;
  auto* fo = app.add_subcommand("fan-out", "one publisher -> S subscribers of one topic");
  fo->add_option("-S,--subscribers", fan_out.subscribers)
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  fo->add_option("-q,--qos", fan_out.qos)->capture_default_str()->check(CLI::Range(0, 2));
  fo->add_option("-s,--payload", fan_out.payload)->capture_default_str();
  fo->add_option("-d,--duration", fan_out.duration)->capture_default_str();
  fo->add_option("--window", fan_out.window)->capture_default_str();
  fo->add_option("--inflight", fan_out.inflight)->capture_default_str();

  bench::chat_options chat;
  auto* ch = app.add_subcommand("chat", "N pairs of users at a fixed rate: end-to-end latency");
  ch->add_option("-n,--pairs", chat.pairs)->capture_default_str()->check(CLI::Range(1, 100000));
  ch->add_option("-r,--rate", chat.rate, "Messages per second per user")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  ch->add_option("-q,--qos", chat.qos)->capture_default_str()->check(CLI::Range(0, 2));
  ch->add_option("-s,--payload", chat.payload)->capture_default_str();
  ch->add_option("-d,--duration", chat.duration, "Seconds, warm-up included")
      ->capture_default_str();
  ch->add_option("--warmup", chat.warmup, "Seconds not counted")->capture_default_str();
  ch->add_flag("--service", chat.service,
               "Through Natter's chat service (protobuf, chat/{user}/outbox); needs users "
               "PREFIX0..PREFIX(2N-1) with --password");
  ch->add_option("--user-prefix", chat.user_prefix, "Chat user names")->capture_default_str();
  ch->add_option("--concurrency", chat.concurrency, "Connections being set up at once")
      ->capture_default_str();

  bench::connections_options conns;
  auto* co = app.add_subcommand("connections", "C idle clients: connect time, server memory each");
  co->add_option("-c,--clients", conns.clients)
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  co->add_option("-r,--rate", conns.rate, "Connections per second (0: as fast as possible)")
      ->capture_default_str();
  co->add_option("--concurrency", conns.concurrency, "Handshakes in flight")->capture_default_str();
  co->add_option("--settle", conns.settle, "Seconds before sampling memory")->capture_default_str();
  co->add_option("--hold", conns.hold, "Seconds to keep them open afterwards")
      ->capture_default_str();

  bench::presence_options presence;
  auto* pr = app.add_subcommand("presence", "C clients drop at once: time until all wills arrive");
  pr->add_option("-c,--clients", presence.clients)
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  pr->add_option("--concurrency", presence.concurrency)->capture_default_str();
  pr->add_flag("--service", presence.service,
               "Natter presence: users PREFIX0..PREFIX(C-1) announce a device, user PREFIXC "
               "watches presence/+ for their OFFLINE");
  pr->add_option("--user-prefix", presence.user_prefix)->capture_default_str();

  bench::retained_options retained;
  auto* re = app.add_subcommand("retained", "R retained topics, then one '#' subscriber");
  re->add_option("-n,--topics", retained.topics)
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  re->add_option("-s,--payload", retained.payload)->capture_default_str();
  re->add_option("-q,--qos", retained.qos, "Of the subscription")
      ->capture_default_str()
      ->check(CLI::Range(0, 2));
  re->add_option("--inflight", retained.inflight)->capture_default_str();

  bench::durable_options durable;
  auto* du = app.add_subcommand("durable", "QoS 1 into an offline persistent session, then check");
  du->add_option("-n,--messages", durable.messages)
      ->capture_default_str()
      ->check(CLI::Range(1, 100000000));
  du->add_option("-p,--publishers", durable.publishers)
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  du->add_option("--inflight", durable.inflight)
      ->capture_default_str()
      ->check(CLI::Range(1, 65000));
  du->add_option("-q,--qos", durable.qos)->capture_default_str()->check(CLI::Range(1, 2));
  du->add_option("-s,--payload", durable.payload)->capture_default_str();
  du->add_flag("!--no-verify", durable.verify, "Skip reconnecting the subscriber to count them");

  CLI11_PARSE(app, argc, argv);
  raise_fd_limit();
  try {
    bench::runner r(common);
    if (*fi) return bench::run_flow(r, fan_in);
    if (*fo) return bench::run_flow(r, fan_out);
    if (*ch) return bench::run_chat(r, chat);
    if (*co) return bench::run_connections(r, conns);
    if (*pr) return bench::run_presence(r, presence);
    if (*re) return bench::run_retained(r, retained);
    if (*du) return bench::run_durable(r, durable);
  } catch (const std::exception& e) {
    std::cerr << "natter-bench: " << e.what() << "\n";
    return 2;
  }
  return 2;
}
