// The broker's durable state, behind a narrow interface (STYLE.md: server/store).
//
// The broker calls the mutators from its strand; they only queue work and return at once.
// A store applies queued work in order, in transactions it is free to group (group
// commit), and runs each after_durable() callback once everything queued before it is
// durable under the configured sync policy. So "send PUBACK when durable" is:
//   s.put_delivery(...); ...; s.after_durable([..] { send PUBACK; });
// Callbacks run through the `deferrer` given at construction (the broker strand).
//
// Atomicity: the ops queued between two consecutive after_durable() calls form a group that
// is committed in one transaction, never split (the broker ends every event whose effects
// must be all-or-nothing — e.g. routing a QoS 2 message and forgetting its packet id — with
// after_durable, using a null callback when it needs no notification). Ops queued after the
// last after_durable() are committed when the writer is otherwise idle (within a few ms).
//
// Messages are stored as the bytes of an MQTT 5.0 PUBLISH packet (topic, payload, QoS,
// retain, properties) encoded by protocol/mqtt, so the store never needs to understand
// properties and the codec's validation applies when they are read back.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace natter::store {

using wall_clock = std::chrono::system_clock;  // survives restarts, unlike steady_clock

struct session_record {
  std::string client_id;
  std::optional<std::string> username;
  std::uint32_t expiry_interval = 0;                 // seconds; 0xFFFFFFFF: never
  std::optional<wall_clock::time_point> expires_at;  // set while offline
  std::uint16_t last_packet_id = 0;
};

struct subscription_record {
  std::string client_id;
  std::string filter;
  std::uint8_t options = 0;  // the Subscription Options byte (5.0 section 3.8.3.1)
  std::uint32_t subscription_id = 0;
};

// One message on its way to one session: queued (packet_id 0) or in flight.
struct delivery_record {
  std::string client_id;
  std::uint64_t seq = 0;  // per-session order, assigned by the broker
  std::vector<std::uint8_t>
      publish;  // encoded v5 PUBLISH: topic, payload, QoS granted, retain as delivered, props
  std::vector<std::uint32_t> subscription_ids;
  std::optional<wall_clock::time_point> expires_at;
  std::uint16_t packet_id = 0;  // 0: queued, not yet sent
  bool released = false;        // QoS 2: PUBREL sent, awaiting PUBCOMP
};

// Incoming QoS 2 message between PUBREC and PUBREL (delivered onward at PUBREL).
struct incoming_record {
  std::string client_id;
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t>
      publish;  // encoded v5 PUBLISH as received (after topic alias resolution)
  std::optional<wall_clock::time_point> expires_at;
};

struct retained_record {
  std::string topic;
  std::vector<std::uint8_t> publish;
  std::optional<wall_clock::time_point> expires_at;
};

struct will_record {
  std::string client_id;
  std::vector<std::uint8_t> publish;
  wall_clock::time_point fire_at;
  std::optional<wall_clock::time_point> expires_at;
};

// Everything recovered at start-up, expired entries already purged.
struct snapshot {
  std::vector<session_record> sessions;
  std::vector<subscription_record> subscriptions;
  std::vector<delivery_record> deliveries;  // ordered by (client_id, seq)
  std::vector<incoming_record> incoming;
  std::vector<retained_record> retained;
  std::vector<will_record> wills;
};

class store {
 public:
  virtual ~store() = default;

  virtual void put_session(const session_record& s) = 0;
  // Also forgets the session's subscriptions, deliveries, incoming messages and will.
  virtual void erase_session(const std::string& client_id) = 0;

  virtual void put_subscription(const subscription_record& s) = 0;
  virtual void erase_subscription(const std::string& client_id, const std::string& filter) = 0;

  virtual void put_delivery(const delivery_record& d) = 0;
  virtual void set_delivery_state(const std::string& client_id, std::uint64_t seq,
                                  std::uint16_t packet_id, bool released) = 0;
  virtual void erase_delivery(const std::string& client_id, std::uint64_t seq) = 0;

  virtual void put_incoming(const incoming_record& m) = 0;
  virtual void erase_incoming(const std::string& client_id, std::uint16_t packet_id) = 0;

  virtual void put_retained(const retained_record& r) = 0;
  virtual void erase_retained(const std::string& topic) = 0;

  virtual void put_will(const will_record& w) = 0;
  virtual void erase_will(const std::string& client_id) = 0;

  // Runs `fn` (through the deferrer) once everything queued before this call is durable.
  virtual void after_durable(std::function<void()> fn) = 0;
};

}  // namespace natter::store
