// A typed client for Natter's chat protocol (docs/protocol.md): one device of one user.
//
// It lives a device's life over natter::client::mqtt_client: connects with a persistent
// session (clean start 0, session expiry 7 days) and a will saying OFFLINE on
// presence/{user}/{device}, subscribes to its inbox, its reply topic and everyone's
// aggregate presence, announces ONLINE (again after every reconnect), and turns payloads
// into protobuf messages and calls into publishes:
//
//   auto c = chat_client::create(ioc.get_executor(), opts);
//   c->on_message([](const v1::ChatMessage& m) { ... });   // inbox, de-duplicated by id
//   c->on_presence([](const v1::Presence& p) { ... });     // presence/{user}, newest only
//   c->on_state([](const chat_status& s) { ... });
//   c->start();
//   std::string cmid = c->send("bob", "hi", 0, [](std::error_code ec) { ... });  // PUBACK
//   c->history("bob", 0, 50, [](std::error_code ec, const v1::HistoryResponse& r) { ... });
//
// Everything runs on the mqtt_client's strand: handlers are called there, one at a time,
// and public member functions may be called from any thread (they post to it). Set the
// handlers before start(). Handlers must not own the client (capture a raw or weak
// pointer), as with mqtt_client.
//
// What the client does on its own: DELIVERED receipts (one watermark per peer and per
// batch of messages) for messages from others, de-duplication of inbox messages by id
// (a resend after a reconnect may deliver one twice), dropping a Presence older than one
// already seen (by version), and failing requests that get no answer within
// request_timeout.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "client/mqtt_client.hpp"
#include "natter/chat/v1/chat.pb.h"

namespace natter::chat {

// ---------------------------------------------------------------- topics

namespace topics {
std::string inbox(std::string_view user);
std::string outbox(std::string_view user);
std::string reply(std::string_view user, std::string_view device);
std::string device_presence(std::string_view user, std::string_view device);
std::string presence(std::string_view user);
// The user of an aggregate presence topic (presence/{user}, exactly two levels).
std::optional<std::string_view> presence_user(std::string_view topic);
}  // namespace topics

// A user name the protocol allows: not empty, no '/', '+', '#', no leading '$', and no
// NUL or other control characters.
bool valid_user_name(std::string_view name) noexcept;

// ---------------------------------------------------------------- errors

enum class errc {
  request_timeout = 1,  // no answer to a history/conversations request in time
  request_refused,      // the answer carried an error (HistoryResponse.error)
  bad_user_name,        // a peer name the protocol does not allow
  closed,               // the client was stopped before the answer came
};
const std::error_category& chat_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), chat_category()};
}

// ---------------------------------------------------------------- options and state

struct chat_options {
  // Transport, server, TLS, reconnect policy, and in `mqtt.connect`: username (the user),
  // password, client_id (the device id; stable per device so its session survives),
  // protocol version (5 by default; 3.1.1 works without Correlation Data). The chat
  // client sets clean start, session expiry, keep alive (if 0) and the will itself.
  client::options mqtt;
  // A device with a session the server keeps while it is away (messages queue for it).
  // false: a throw-away connection (a script's one-off command): clean start, no expiry.
  bool persistent = true;
  std::uint32_t session_expiry = 7 * 24 * 3600;  // seconds (v5)
  std::uint16_t keep_alive = 30;                 // seconds, when mqtt.connect has none
  // Set the will and announce the device (it then counts towards the user's presence).
  bool announce = true;
  v1::PresenceState initial_state = v1::PRESENCE_STATE_ONLINE;
  std::string status_text;
  // Subscribe to presence/+ (the contact list); off for clients that only send.
  bool watch_presence = true;
  bool send_delivered = true;  // automatic DELIVERED receipts
  std::chrono::milliseconds request_timeout{10'000};
};

enum class chat_state : std::uint8_t {
  connecting,    // first attempt (or after start() again)
  connected,     // CONNACK accepted; subscriptions and announcement are on their way
  reconnecting,  // the connection is gone; another attempt in retry_in
  disconnected,  // given up (ec says why) or stopped (ec empty)
};
std::string_view to_string(chat_state s) noexcept;

struct chat_status {
  chat_state state = chat_state::disconnected;
  // reconnecting / disconnected: why (an MQTT reason code for a refused CONNACK or a
  // server DISCONNECT, an Asio error for the network, client::errc otherwise).
  std::error_code ec;
  std::chrono::milliseconds retry_in{0};  // reconnecting
  bool session_present = false;           // connected
  bool ever_connected = false;            // a connection was accepted before
};

// ---------------------------------------------------------------- the client

class chat_client final : public std::enable_shared_from_this<chat_client> {
  struct private_tag {};

 public:
  using done_handler = std::function<void(std::error_code)>;
  using message_handler = std::function<void(const v1::ChatMessage&)>;
  using receipt_handler = std::function<void(const v1::Receipt&)>;
  using typing_handler = std::function<void(const v1::Typing&)>;
  using presence_handler = std::function<void(const v1::Presence&)>;
  using state_handler = std::function<void(const chat_status&)>;
  using history_handler = std::function<void(std::error_code, const v1::HistoryResponse&)>;
  using conversations_handler =
      std::function<void(std::error_code, const v1::ConversationsResponse&)>;

  static std::shared_ptr<chat_client> create(boost::asio::any_io_executor ex, chat_options opts);
  chat_client(private_tag, boost::asio::any_io_executor ex, chat_options opts);
  ~chat_client();
  chat_client(const chat_client&) = delete;
  chat_client& operator=(const chat_client&) = delete;

  void on_message(message_handler h) { on_message_ = std::move(h); }
  void on_receipt(receipt_handler h) { on_receipt_ = std::move(h); }
  void on_typing(typing_handler h) { on_typing_ = std::move(h); }
  void on_presence(presence_handler h) { on_presence_ = std::move(h); }
  void on_state(state_handler h) { on_state_ = std::move(h); }

  // Connects (and subscribes, announces).
  void start();
  // Clean DISCONNECT after what is queued: the server marks the device gone (no will).
  // Pending requests fail with errc::closed; `done` runs last.
  void stop(std::function<void()> done = {});
  // Drops the connection without DISCONNECT (the server publishes the will).
  void close();

  // Sends a message to `peer` (QoS 1). Returns the client_msg_id it chose: the server's
  // stamped copy arrives through on_message with it. `done` runs on PUBACK (an MQTT 5
  // refusal gives its reason code, e.g. 0x99 for an empty or oversized text), or with
  // the reason the message could not be sent.
  std::string send(std::string peer, std::string text, std::uint64_t reply_to = 0,
                   done_handler done = {});
  // READ receipt: everything from `peer` up to `up_to_id` was seen.
  void mark_read(std::string peer, std::uint64_t up_to_id, done_handler done = {});
  // Typing indicator (QoS 0). Callers throttle active=true (every ~3 s while typing).
  void typing(std::string peer, bool active);
  // Announces this device's state; kept and announced again after every reconnect.
  void set_presence(v1::PresenceState state, std::string status_text = {}, done_handler done = {});
  // A page of the conversation with `peer`, newest first, older than before_id (0: the
  // newest); limit 0 means the server's default (50).
  void history(std::string peer, std::uint64_t before_id, std::uint32_t limit,
               history_handler done);
  // Every conversation of the user, most recent first, with unread counts.
  void conversations(conversations_handler done);

  client::mqtt_client::executor_type get_executor() const noexcept { return mqtt_->get_executor(); }
  const std::string& user() const noexcept { return user_; }
  // The device (client) id as configured; on the strand, device() may differ once a
  // server assigned one (v5, empty configured id).
  const std::string& configured_device() const noexcept { return device_; }
  const std::string& device() const noexcept { return mqtt_->client_id(); }
  std::shared_ptr<client::mqtt_client> mqtt() const noexcept { return mqtt_; }

 private:
  enum class request_kind : std::uint8_t { history, conversations };
  struct pending_request {
    request_kind kind;
    history_handler on_history;
    conversations_handler on_conversations;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  void handle_state(const client::state_change& s);
  void handle_publish(mqtt::publish& p);
  void handle_inbox(const v1::Envelope& env);
  void handle_reply(const mqtt::publish& p, const v1::Envelope& env);
  void handle_presence(std::string_view user, const std::string& payload);
  void announce();
  void publish_envelope(const v1::Envelope& env, mqtt::qos q, done_handler done,
                        mqtt::properties props = {});
  void queue_delivered(const std::string& peer, std::uint64_t id);
  void flush_delivered();
  void start_request(std::string id, v1::Envelope env, pending_request req);
  void finish_request(const std::string& id, std::error_code ec, const v1::Envelope* env);
  void fail_requests(std::error_code ec);
  bool seen(std::uint64_t id);
  std::string next_id(char kind);

  chat_options opts_;
  std::string user_;
  std::string device_;
  std::string inbox_topic_;   // chat/{user}/inbox
  std::string reply_prefix_;  // chat/{user}/reply/
  std::shared_ptr<client::mqtt_client> mqtt_;
  std::string id_prefix_;      // random per process: client_msg_ids stay unique per sender
  std::uint64_t counter_ = 0;  // guarded by counter_mutex_ (send() runs on any thread)
  std::mutex counter_mutex_;

  message_handler on_message_;
  receipt_handler on_receipt_;
  typing_handler on_typing_;
  presence_handler on_presence_;
  state_handler on_state_;

  // Strand state.
  v1::PresenceState state_ = v1::PRESENCE_STATE_ONLINE;
  std::string status_text_;
  bool ever_connected_ = false;
  std::unordered_map<std::string, pending_request> requests_;
  std::unordered_map<std::string, std::uint64_t> presence_version_;
  std::unordered_set<std::uint64_t> seen_ids_;
  std::deque<std::uint64_t> seen_order_;
  std::map<std::string, std::uint64_t> delivered_sent_;     // watermark sent, per peer
  std::map<std::string, std::uint64_t> delivered_pending_;  // to send at the end of the batch
  bool delivered_flush_posted_ = false;
};

}  // namespace natter::chat

template <>
struct std::is_error_code_enum<natter::chat::errc> : std::true_type {};
