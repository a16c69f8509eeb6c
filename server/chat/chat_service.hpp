// The chat and presence service (docs/protocol.md): turns what devices publish on their
// outbox and device-presence topics into stamped, stored chat messages, receipts, typing
// notices, history answers and each user's aggregate presence.
//
// It sits behind the broker's hooks (on_publish, on_client_disconnected) and publishes
// through broker::publish(); it never sees sessions or connections (STYLE.md: chat never
// sees broker internals). Everything runs on the broker strand, so nothing here locks.
//
// Durability: a chat message is written to the chat store and published to the inboxes in
// the same broker event as the sender's PUBLISH, so its PUBACK goes out only once the
// stored message and every queued inbox copy are durable together.
//
// Who may do what is decided twice, on purpose: the operator's ACL (packaging/acl says the
// same thing) and restrict(), which holds even with no ACL at all.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/hooks.hpp"
#include "broker/message.hpp"
#include "chat/envelope_rules.hpp"
#include "store/store.hpp"

namespace natter::chat {

class chat_service {
 public:
  using publisher = std::function<void(broker::message_ptr)>;
  using clock_ms = std::function<std::int64_t()>;  // ms since the Unix epoch

  // `snap` is what the store recovered (load_chat()).
  chat_service(store::chat_store& st, const store::chat_snapshot& snap, publisher pub,
               limits l = {}, clock_ms now = {});
  ~chat_service();
  chat_service(const chat_service&) = delete;
  chat_service& operator=(const chat_service&) = delete;

  // At start-up: `retained` are the retained presence/+ messages recovered by the broker.
  // Anyone they show online is marked offline (nobody is connected yet), and every user in
  // `known_users` without a presence gets an OFFLINE one, so presence/+ lists them.
  void start(const std::vector<broker::message_ptr>& retained,
             const std::vector<std::string>& known_users);
  // After a reload of the password file: users new to us get their OFFLINE presence.
  void add_known_users(const std::vector<std::string>& users);

  broker::publish_verdict on_publish(const broker::session_info& who, broker::message& m);
  void on_client_disconnected(const broker::session_info& who);

  // A client's ACL policy (null: everything allowed) narrowed by the chat topic rules.
  static std::shared_ptr<const broker::client_policy> restrict(
      std::shared_ptr<const broker::client_policy> inner, std::optional<std::string_view> user,
      std::string_view client_id);

 private:
  struct device {
    pb::PresenceState state = pb::PRESENCE_STATE_ONLINE;
    std::string status_text;
    std::uint64_t order = 0;  // when it last announced: the newest status text wins
  };
  struct user_presence {
    std::map<std::string, device, std::less<>> devices;  // by client id
    pb::PresenceState state = pb::PRESENCE_STATE_UNSPECIFIED;  // as last published
    std::string status_text;                                   // as last published
    std::uint32_t device_count = 0;                            // as last published
    std::int64_t last_seen_ms = 0;
    std::uint64_t version = 0;
  };
  using reason_code = mqtt::reason_code;

  broker::publish_verdict on_outbox(const broker::session_info& who, const std::string& user,
                                    broker::message& m);
  broker::publish_verdict on_device_presence(const broker::session_info& who,
                                             const std::string& user, broker::message& m);
  void on_chat_message(const broker::session_info& who, const std::string& user,
                       pb::ChatMessage msg);
  void on_receipt(const std::string& user, pb::Receipt r);
  void on_typing(const std::string& user, pb::Typing t);
  void on_history_request(const std::string& user, const pb::HistoryRequest& q,
                          std::string reply_topic, std::optional<std::string> correlation);
  void on_conversations_request(const std::string& user, const pb::ConversationsRequest& q,
                                std::string reply_topic, std::optional<std::string> correlation);

  void refresh_presence(const std::string& user, user_presence& p);
  void publish_presence(const std::string& user, const user_presence& p);
  void publish_envelope(std::string topic, const pb::Envelope& e, mqtt::qos q,
                        std::optional<std::string> correlation = std::nullopt);
  std::uint64_t watermark(const std::string& reader, const std::string& peer,
                          store::receipt_kind k) const;
  void remember(const store::chat_message_record& r);

  store::chat_store& store_;
  publisher publish_;
  limits limits_;
  clock_ms now_;
  // Pending store reads hold a weak_ptr to this: an answer arriving after shutdown is dropped.
  std::shared_ptr<chat_service*> self_;

  std::uint64_t last_id_ = 0;
  std::uint64_t announce_order_ = 0;
  std::unordered_map<std::string, user_presence> presence_;
  // Receipt watermarks: reader '\0' peer '\0' kind -> up_to.
  std::unordered_map<std::string, std::uint64_t> watermarks_;
  // De-duplication window: sender '\0' client_msg_id -> the stored message, newest last.
  std::unordered_map<std::string, store::chat_message_record> recent_;
  std::deque<std::string> recent_order_;
  std::size_t recent_capacity_ = 10000;
};

}  // namespace natter::chat
