// The scenarios of issue #10, each a function from its options to an exit status. Each
// prints one human line and one JSON line (runner::finish); bench/README.md describes
// what each measures and how.
#pragma once

#include <cstdint>
#include <string>

#include "runner.hpp"

namespace natter::bench {

// fan-in (P publishers -> 1 wildcard subscriber) and fan-out (1 publisher -> S subscribers
// of one topic): as fast as the broker delivers, each publisher at most `window`
// undelivered messages ahead of each subscriber, QoS>0 publishers also at most
// `inflight` unacknowledged.
struct flow_options {
  bool fan_out = false;
  int publishers = 4;
  int subscribers = 1;
  int qos = 0;
  std::size_t payload = 64;
  double duration = 3;
  std::uint32_t window = 500;
  // Mosquitto's and Natter's default max_inflight_messages (the Receive Maximum they
  // announce to MQTT 5 clients); Natter closes a client that exceeds it with QoS 2.
  std::uint32_t inflight = 20;
};
int run_flow(runner& r, const flow_options& o);

// chat: N pairs, each user sending to its peer's inbox at `rate` msgs/s, timestamps in
// the payload; end-to-end latency. service: through Natter's chat service (protobuf
// Envelope/ChatMessage to chat/{user}/outbox, the stamped copy on chat/{peer}/inbox),
// users `user_prefix`0..2N-1 sharing --password.
struct chat_options {
  int pairs = 200;
  double rate = 20;
  int qos = 1;
  std::size_t payload = 64;
  double duration = 5;
  double warmup = 1;
  bool service = false;
  std::string user_prefix = "bench";
  int concurrency = 100;  // connections being set up at once
};
int run_chat(runner& r, const chat_options& o);

// connections: C idle clients, each with a will and a subscription to its own topic,
// opened at `rate` per second (0: as fast as `concurrency` handshakes in flight allow);
// connect times and the server's resident memory per connection.
struct connections_options {
  int clients = 1000;
  double rate = 0;
  int concurrency = 100;
  double settle = 1;  // seconds between the last SUBACK and the memory sample
  double hold = 0;    // seconds to keep them open after that
};
int run_connections(runner& r, const connections_options& o);

// presence: C clients with wills (or, with service, Natter presence devices of users
// `user_prefix`0..C-1, watched by user `user_prefix`C) drop at once with a TCP reset;
// time until a watcher has every will (every user's aggregate OFFLINE).
struct presence_options {
  int clients = 1000;
  int concurrency = 100;
  bool service = false;
  std::string user_prefix = "bench";
};
int run_presence(runner& r, const presence_options& o);

// retained: R retained topics published (QoS 1), then one subscriber to their `#`; time
// until it has them all.
struct retained_options {
  int topics = 10000;
  std::size_t payload = 64;
  int qos = 0;  // of the subscription
  std::uint32_t inflight = 20;
};
int run_retained(runner& r, const retained_options& o);

// durable: N QoS 1 messages from P publishers into an offline persistent session, as fast
// as the PUBACKs come (`inflight` per publisher); then the subscriber comes back and must
// receive every one (verify).
struct durable_options {
  int messages = 20000;
  int publishers = 1;
  std::uint32_t inflight = 20;
  std::size_t payload = 64;
  int qos = 1;
  bool verify = true;
};
int run_durable(runner& r, const durable_options& o);

}  // namespace natter::bench
