// Broker-side state: a session (outlives connections while unexpired) and a connection
// (one per network connection). Both are owned by the broker and touched only on its
// strand; neither knows sockets.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "hooks.hpp"
#include "link.hpp"
#include "message.hpp"
#include "subscription_tree.hpp"

namespace natter::broker {

struct delivery {
  message_ptr msg;
  mqtt::qos qos = mqtt::qos::at_most_once;  // granted: min(message, subscription)
  bool retain = false;                      // the RETAIN flag as sent to this subscriber
  std::vector<std::uint32_t> subscription_ids;
  std::uint64_t seq = 0;  // its row in the store; 0 when not stored (QoS 0, clean session)
};

struct inflight_delivery {
  std::uint16_t packet_id = 0;
  delivery d;
  bool released = false;  // QoS 2: PUBREC received, PUBREL sent, awaiting PUBCOMP
};

struct connection;

struct session {
  std::string client_id;
  std::optional<std::string> username;          // the user that owns the session
  std::shared_ptr<const client_policy> policy;  // null: no restrictions
  std::size_t listener = 0;                     // where it last connected
  std::map<std::string, subscription_options, std::less<>> subscriptions;

  std::deque<delivery> queue;  // waiting for a connection or for the inflight window
  std::size_t queued_bytes = 0;
  std::deque<inflight_delivery> inflight;             // outgoing QoS 1/2, in send order
  std::unordered_set<std::uint16_t> awaiting_pubrel;  // incoming QoS 2: PUBREC sent
  std::uint16_t last_packet_id = 0;
  std::uint64_t last_seq = 0;  // per-session order of stored deliveries

  std::uint32_t expiry_interval = 0;            // seconds; never_expires: kept forever
  connection* conn = nullptr;                   // attached connection, or null while offline
  std::optional<clock::time_point> expires_at;  // set while offline

  struct pending_will {
    message_ptr msg;
    clock::time_point at;
  };
  std::optional<pending_will> will;  // delayed will awaiting its time [MQTT-3.1.3-9]

  static constexpr std::uint32_t never_expires = 0xFFFFFFFF;
  // Only sessions that outlive their connection are written to the store.
  bool persistent() const { return expiry_interval != 0; }
};

struct connection {
  std::shared_ptr<link> net;
  mqtt::version version = mqtt::version::v5;
  enum class phase {
    awaiting_connect,
    authenticating,
    connected,
    closed
  } state = phase::awaiting_connect;
  session* sess = nullptr;
  std::string client_id;
  std::optional<std::string> username;
  std::deque<mqtt::packet> held;  // received while authenticating

  std::optional<mqtt::will> will;
  std::uint32_t session_expiry = 0;
  bool publish_will_on_close = true;  // cleared by a normal DISCONNECT

  // Limits the client declared in CONNECT (5.0).
  std::uint16_t window = 65535;           // outgoing QoS>0 inflight: min(Receive Maximum, ours)
  std::uint32_t maximum_packet_size = 0;  // 0: unlimited
  std::uint16_t topic_alias_maximum = 0;  // aliases we may use toward the client
  std::unordered_map<std::uint16_t, std::string> aliases_in;
  std::unordered_map<std::string, std::uint16_t> aliases_out;
  std::uint32_t acks_waiting = 0;  // PUBACK/PUBREC held until the store is durable
};

}  // namespace natter::broker
