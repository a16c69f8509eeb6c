// The broker core: sessions, QoS flows, routing, retained messages, wills.
//
// A synchronous state machine driven by events from connections (open, packet, close,
// timeout) and by tick(). It runs on one strand (broker_service), so nothing in it locks;
// it talks to connections only through `link`, so it never sees a socket and is tested
// without one. Everything it sends is encoded here, once per packet.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "hooks.hpp"
#include "link.hpp"
#include "retained_store.hpp"
#include "session.hpp"
#include "store/store.hpp"
#include "subscription_tree.hpp"

namespace natter::broker {

struct broker_options {
  std::uint16_t max_inflight_messages = 20;  // our Receive Maximum and outgoing window
  std::size_t max_queued_messages = 1000;    // per session; 0: unlimited
  std::size_t max_queued_bytes = 0;          // per session; 0: unlimited
  std::uint16_t max_keepalive = 65535;       // larger Keep Alive values are lowered (5.0)
  std::uint32_t max_packet_size = 0;         // 0: the protocol's limit
  std::uint32_t message_size_limit = 0;      // payload bytes; 0: no limit
  bool retain_available = true;
  std::uint16_t max_topic_alias = 10;  // our Topic Alias Maximum
  bool queue_qos0_messages = false;    // queue QoS 0 for offline sessions (mosquitto)
  bool allow_zero_length_clientid = true;
  std::string auto_id_prefix = "auto-";
  // 0: persistent sessions without an expiry (3.1.1, 5.0 0xFFFFFFFF) never expire.
  std::chrono::seconds persistent_client_expiration{0};
  bool upgrade_outgoing_qos = false;
  std::size_t max_subscriptions_per_client = 0;  // 0: no limit (Natter)
  std::uint32_t message_rate_limit = 0;          // PUBLISH/s per user; 0: no limit (Natter)
};

// Why a PUBLISH (or one subscriber's copy of it) went nowhere: broker_stats::dropped.
enum class drop_reason : std::uint8_t {
  queue_full,          // the session's queue hit max_queued_messages / max_queued_bytes
  expired,             // its Message Expiry Interval passed while it waited
  too_large,           // larger than the receiving client's Maximum Packet Size
  not_authorized,      // the ACL refused the publisher
  message_size_limit,  // payload over message_size_limit
  refused,             // a hook (the chat service) refused it
  rate_limited,        // over message_rate_limit
};
inline constexpr std::size_t drop_reason_count = 7;

struct broker_stats {
  std::uint64_t messages_received = 0;  // PUBLISH packets from clients
  std::uint64_t messages_sent = 0;      // PUBLISH packets to clients
  std::uint64_t bytes_sent = 0;
  std::uint64_t messages_dropped = 0;  // queue full, expired, or too large for the client
  std::uint64_t connections_total = 0;
  // For $SYS and /metrics (server/app). Bytes are whole packets as on the wire.
  std::uint64_t packets_received = 0;  // every control packet
  std::uint64_t packets_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t publish_bytes_received = 0;  // PUBLISH payloads only
  std::uint64_t publish_bytes_sent = 0;
  std::array<std::uint64_t, 3> messages_received_by_qos{};
  std::array<std::uint64_t, 3> messages_sent_by_qos{};
  std::array<std::uint64_t, drop_reason_count> dropped{};  // by drop_reason
  std::uint64_t sessions_expired = 0;
  std::uint64_t clients_maximum = 0;  // most clients connected at once
};

// Sizes of the broker's state right now (broker::gauges()).
struct broker_gauges {
  std::size_t connections = 0;        // network connections, before CONNECT included
  std::size_t clients_connected = 0;  // sessions with a connection
  std::size_t sessions = 0;           // connected or not
  std::size_t queued_messages = 0;    // waiting in session queues
  std::size_t queued_bytes = 0;
  std::size_t inflight_messages = 0;  // QoS 1/2 sent and not yet acknowledged
  std::size_t retained_messages = 0;
  std::size_t subscriptions = 0;
};

class broker {
 public:
  // `defer` runs a function later on the broker's own strand (used to come back from
  // asynchronous hooks such as authentication).
  using deferrer = std::function<void(std::function<void()>)>;
  broker(broker_options opts, hooks& h, deferrer defer);
  ~broker();

  // Persistence: everything durable goes to `s` from now on. Call before any connection
  // event; `snap` is what the store recovered.
  void attach_store(store::store& s, const store::snapshot& snap);
  // Marks the end of one event's store writes: they commit together (store.hpp).
  void end_event();

  // Connection events.
  void on_open(std::shared_ptr<link> l);
  void on_packet(link* l, mqtt::packet&& p);
  void on_decode_error(link* l, std::error_code ec);  // the codec refused the input
  void on_timeout(link* l);                           // keep-alive or CONNECT timeout
  void on_closed(link* l);                            // the network connection is gone

  // Wills, session expiry, retained-message expiry. Call about once per second.
  void tick();
  // Closes every connection (5.0: DISCONNECT Server shutting down).
  void shutdown();

  // Closes the connections of these users (5.0: DISCONNECT Not authorized): their
  // credentials were withdrawn.
  void disconnect_users(const std::vector<std::string>& users);

  // After an ACL reload: give every session (online or not) its new rules.
  void refresh_policies(
      const std::function<std::shared_ptr<const client_policy>(const session_info&)>& policy_for);

  // Publish from inside the server (wills, $SYS, the chat service).
  void publish(message_ptr m);
  // The retained messages whose topics match `filter`.
  void for_each_retained(std::string_view filter,
                         const std::function<void(const message_ptr&)>& fn) const;

  const broker_stats& stats() const { return stats_; }
  // Walks every session: for a periodic report or a scrape, not for the message path.
  broker_gauges gauges() const;
  std::size_t connection_count() const { return connections_.size(); }
  std::size_t session_count() const { return sessions_.size(); }
  std::size_t retained_count() const { return retained_.size(); }
  std::size_t subscription_count() const { return subscriptions_.size(); }

 private:
  void pump_sessions(const std::vector<std::string>& client_ids);
  using reason_code = mqtt::reason_code;

  void handle(connection& c, mqtt::packet&& p);
  void handle_connect(connection& c, mqtt::connect&& p);
  void finish_connect(connection& c, mqtt::connect&& p, auth_result r, bool assigned);
  void handle_publish(connection& c, mqtt::publish&& p);
  void handle_puback(connection& c, const mqtt::puback& p);
  bool within_rate_limit(const session& s);  // takes a token of message_rate_limit
  void handle_pubrec(connection& c, const mqtt::pubrec& p);
  void handle_pubrel(connection& c, const mqtt::pubrel& p);
  void handle_pubcomp(connection& c, const mqtt::pubcomp& p);
  void handle_subscribe(connection& c, mqtt::subscribe&& p);
  void handle_unsubscribe(connection& c, mqtt::unsubscribe&& p);
  void handle_disconnect(connection& c, const mqtt::disconnect& p);

  // Closes `c` because it broke a rule: 5.0 gets DISCONNECT with `rc` first.
  void protocol_violation(connection& c, reason_code rc);
  void refuse_connect(connection& c, reason_code rc);
  // The network connection ends: detach its session, handle its will, forget it.
  void drop(connection& c);

  // Routing.
  std::size_t route(const message_ptr& m, const session* publisher);
  void deliver(session& s, delivery d);
  void pump(session& s);  // send queued deliveries while the window allows
  // False when the packet exceeds the client's Maximum Packet Size and was discarded.
  bool send_publish(session& s, const delivery& d, std::uint16_t packet_id, bool dup);
  bool enqueue(session& s, delivery&& d);
  std::uint16_t next_packet_id(session& s);
  void send_retained(session& s, std::string_view filter, const subscription_options& o);

  // Sessions.
  void end_session(session& s);  // fire its pending will, forget it
  void fire_will(session& s);
  session_info info(const session& s) const;

  void send(connection& c, const mqtt::packet& p);
  // Sends `p` once the store has made everything before it durable (at once without a store).
  void send_when_durable(connection& c, mqtt::packet p);

  // Store records.
  store::wall_clock::time_point to_wall(clock::time_point t) const;
  void store_session(const session& s);
  void store_delivery(const session& s, const delivery& d, std::uint16_t packet_id, bool released);
  void stored_delivery_done(const session& s, const delivery& d);
  void restore(const store::snapshot& snap);

  broker_options opts_;
  hooks& hooks_;
  deferrer defer_;
  std::unordered_map<link*, std::unique_ptr<connection>> connections_;
  std::unordered_map<std::string, std::unique_ptr<session>> sessions_;
  subscription_tree subscriptions_;
  retained_store retained_;
  broker_stats stats_;
  std::unordered_set<session*> offline_;  // detached sessions, watched by tick()
  struct fanout_entry {
    mqtt::qos qos;
    bool retain;
    std::vector<std::uint32_t> ids;
  };
  std::unordered_map<session*, fanout_entry> fanout_;  // route()'s scratch, kept for its buckets
  clock::time_point next_retained_purge_{};
  store::store* store_ = nullptr;
  bool store_dirty_ = false;                    // ops queued since the last end_event()
  std::vector<std::string> pump_when_durable_;  // sessions to pump once this event is durable
  struct rate_bucket {
    double tokens;
    clock::time_point at;
  };
  std::unordered_map<std::string, rate_bucket> rate_buckets_;  // message_rate_limit, by user
};

}  // namespace natter::broker
