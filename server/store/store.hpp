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
#include <unordered_map>
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

// --- The chat service's records (server/chat, docs/protocol.md) ---

// One accepted chat message. `body` is the stamped natter.chat.v1.ChatMessage as the
// service serialized it; the other fields are what the store indexes.
struct chat_message_record {
  std::uint64_t id = 0;
  std::string sender;
  std::string recipient;
  std::string client_msg_id;
  std::int64_t server_at_ms = 0;
  std::string body;
};

enum class receipt_kind : std::uint8_t { delivered = 1, read = 2 };

// A receipt watermark: `reader` got (or read) every message from `peer` with id <= up_to.
struct chat_receipt_record {
  std::string reader;
  std::string peer;
  receipt_kind kind = receipt_kind::delivered;
  std::uint64_t up_to = 0;
};

struct chat_history_query {
  std::string user;
  std::string peer;
  std::uint64_t before_id = 0;  // 0: from the newest
  std::size_t limit = 50;
};

struct chat_history_page {
  std::vector<chat_message_record> messages;  // newest first
  bool has_more = false;
};

struct chat_conversation {
  std::string peer;
  chat_message_record last;
  std::uint32_t unread = 0;  // from peer, above the user's read watermark
};

// What the chat service needs in memory at start-up.
struct chat_snapshot {
  std::uint64_t max_id = 0;
  std::vector<chat_message_record> recent;  // the newest messages (de-duplication window)
  std::vector<chat_receipt_record> receipts;
};

// The chat history. Writes follow the rules of `store` (queued, grouped with the broker
// event they belong to, durable before that event's after_durable callbacks run). Reads
// see every write queued before them and answer through the store's deferrer.
class chat_store {
 public:
  virtual ~chat_store() = default;

  virtual void put_chat_message(const chat_message_record& m) = 0;
  // Raises the stored watermark; never lowers it.
  virtual void put_chat_receipt(const chat_receipt_record& r) = 0;

  virtual void read_history(chat_history_query q, std::function<void(chat_history_page)> done) = 0;
  // Every conversation of `user`, most recent first. `read_up_to` maps a peer to the
  // user's read watermark for them (absent: 0), for the unread counts.
  virtual void read_conversations(std::string user,
                                  std::unordered_map<std::string, std::uint64_t> read_up_to,
                                  std::function<void(std::vector<chat_conversation>)> done) = 0;

  // At start-up (blocking): the newest `recent` messages and every receipt.
  virtual chat_snapshot load_chat(std::size_t recent) = 0;
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
