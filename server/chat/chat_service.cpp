#include "chat/chat_service.hpp"

#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace natter::chat {

namespace {

constexpr std::string_view chat_prefix = "chat/";
constexpr std::string_view presence_prefix = "presence/";

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string inbox(std::string_view user) { return "chat/" + std::string(user) + "/inbox"; }

std::string watermark_key(std::string_view reader, std::string_view peer, store::receipt_kind k) {
  std::string key;
  key.reserve(reader.size() + peer.size() + 3);
  key.append(reader).push_back('\0');
  key.append(peer).push_back('\0');
  key.push_back(static_cast<char>(k));
  return key;
}

std::string dedup_key(std::string_view sender, std::string_view client_msg_id) {
  std::string key(sender);
  key.push_back('\0');
  key.append(client_msg_id);
  return key;
}

// The second level of chat/{user}/... or presence/{user}/..., and what follows it.
struct split_topic {
  std::string_view user;
  std::string_view rest;  // after "user/", or empty with has_rest false
  bool has_rest = false;
};
split_topic split_after_prefix(std::string_view topic, std::string_view prefix) {
  topic.remove_prefix(prefix.size());
  const auto slash = topic.find('/');
  if (slash == std::string_view::npos) return {topic, {}, false};
  return {topic.substr(0, slash), topic.substr(slash + 1), true};
}

// The chat topic rules on top of a client's ACL (docs/protocol.md "Topics").
class chat_policy final : public broker::client_policy {
 public:
  chat_policy(std::shared_ptr<const broker::client_policy> inner,
              std::optional<std::string_view> user, std::string_view client_id)
      : inner_(std::move(inner)), client_id_(client_id) {
    if (user) user_ = std::string(*user);
  }

  bool may_publish(std::string_view topic) const override {
    if (topic.starts_with(chat_prefix))
      return user_ && topic == "chat/" + *user_ + "/outbox" && inner_may_publish(topic);
    if (topic.starts_with(presence_prefix))
      return user_ && topic == "presence/" + *user_ + "/" + client_id_ && inner_may_publish(topic);
    return inner_may_publish(topic);
  }
  bool may_subscribe(std::string_view filter) const override {
    return !inner_ || inner_->may_subscribe(filter);
  }
  bool may_receive(std::string_view topic) const override {
    if (topic.starts_with(chat_prefix)) {
      if (!user_) return false;
      const auto t = split_after_prefix(topic, chat_prefix);
      if (t.user != *user_) return false;
    }
    return !inner_ || inner_->may_receive(topic);
  }

 private:
  bool inner_may_publish(std::string_view topic) const {
    return !inner_ || inner_->may_publish(topic);
  }

  std::shared_ptr<const broker::client_policy> inner_;
  std::optional<std::string> user_;
  std::string client_id_;
};

// libprotobuf logs to stderr when a client sends a string field that is not UTF-8: each
// such message becomes one debug line of ours instead (a client could otherwise flood the
// log; the refusal itself is logged once by on_outbox).
void protobuf_log(google::protobuf::LogLevel level, const char*, int, const std::string& what) {
  if (level >= google::protobuf::LOGLEVEL_FATAL)
    spdlog::critical("protobuf: {}", what);
  else
    spdlog::debug("protobuf: {}", what);
}

}  // namespace

chat_service::chat_service(store::chat_store& st, const store::chat_snapshot& snap, publisher pub,
                           limits l, clock_ms now)
    : store_(st),
      publish_(std::move(pub)),
      limits_(l),
      now_(now ? std::move(now) : clock_ms(system_now_ms)),
      self_(std::make_shared<chat_service*>(this)),
      last_id_(snap.max_id) {
  google::protobuf::SetLogHandler(protobuf_log);  // before any client payload is parsed
  for (const auto& r : snap.receipts)
    watermarks_[watermark_key(r.reader, r.peer, r.kind)] = r.up_to;
  // Oldest first, so the newest stay in the window.
  for (auto it = snap.recent.rbegin(); it != snap.recent.rend(); ++it) remember(*it);
}

chat_service::~chat_service() = default;

std::shared_ptr<const broker::client_policy> chat_service::restrict(
    std::shared_ptr<const broker::client_policy> inner, std::optional<std::string_view> user,
    std::string_view client_id) {
  return std::make_shared<chat_policy>(std::move(inner), user, client_id);
}

// --- presence ---

void chat_service::start(const std::vector<broker::message_ptr>& retained,
                         const std::vector<std::string>& known_users) {
  const auto now = now_();
  for (const auto& m : retained) {
    const auto t = split_after_prefix(m->topic, presence_prefix);
    if (t.has_rest || !valid_user_name(t.user, limits_)) continue;
    auto p = parse_presence(m->payload);
    if (!p) continue;
    auto& up = presence_[std::string(t.user)];
    up.version = p->version();
    up.last_seen_ms = p->last_seen_ms();
    up.state = p->state();
    up.status_text = p->status_text();
    if (p->state() != pb::PRESENCE_STATE_OFFLINE) {
      // Online when the server stopped: offline since then (as far as anyone can tell, now).
      up.last_seen_ms = now;
      refresh_presence(std::string(t.user), up);
    }
  }
  add_known_users(known_users);
}

void chat_service::add_known_users(const std::vector<std::string>& users) {
  for (const auto& u : users) {
    if (!valid_user_name(u, limits_) || presence_.contains(u)) continue;
    refresh_presence(u, presence_[u]);
  }
}

void chat_service::refresh_presence(const std::string& user, user_presence& p) {
  pb::PresenceState state = pb::PRESENCE_STATE_OFFLINE;
  const device* newest = nullptr;
  for (const auto& [id, d] : p.devices) {
    if (d.state == pb::PRESENCE_STATE_ONLINE) state = pb::PRESENCE_STATE_ONLINE;
    if (d.state == pb::PRESENCE_STATE_AWAY && state != pb::PRESENCE_STATE_ONLINE)
      state = pb::PRESENCE_STATE_AWAY;
    if (!newest || d.order > newest->order) newest = &d;
  }
  const auto count = static_cast<std::uint32_t>(p.devices.size());
  std::string status = newest ? newest->status_text : p.status_text;
  if (state == p.state && count == p.device_count && status == p.status_text) return;
  const bool was_online =
      p.state == pb::PRESENCE_STATE_ONLINE || p.state == pb::PRESENCE_STATE_AWAY;
  const bool is_online = state != pb::PRESENCE_STATE_OFFLINE;
  if (was_online != is_online) p.last_seen_ms = now_();  // came online, or left
  p.state = state;
  p.device_count = count;
  p.status_text = std::move(status);
  // Grows with every change, and across restarts even without a store (clock-seeded).
  p.version = std::max(p.version + 1, static_cast<std::uint64_t>(now_()));
  publish_presence(user, p);
}

void chat_service::publish_presence(const std::string& user, const user_presence& p) {
  pb::Presence out;
  out.set_user(user);
  out.set_state(p.state);
  out.set_last_seen_ms(p.last_seen_ms);
  out.set_device_count(p.device_count);
  out.set_status_text(p.status_text);
  out.set_version(p.version);
  auto m = std::make_shared<broker::message>();
  m->topic = "presence/" + user;
  m->payload = out.SerializeAsString();
  m->qos = mqtt::qos::at_least_once;
  m->retain = true;
  publish_(std::move(m));
}

broker::publish_verdict chat_service::on_device_presence(const broker::session_info& who,
                                                         const std::string& user,
                                                         broker::message& m) {
  auto p = parse_presence(m.payload);
  if (!p) return {reason_code::payload_format_invalid, false};
  if (auto problem = presence_problem(*p, limits_); !problem.empty()) {
    spdlog::info("chat: presence from {} ({}) refused: {}", user, who.client_id, problem);
    return {reason_code::payload_format_invalid, false};
  }
  p->set_user(user);
  p->set_device(std::string(who.client_id));
  p->clear_version();
  p->clear_device_count();
  p->clear_last_seen_ms();
  m.payload = p->SerializeAsString();
  m.retain = false;  // device presence is an event; the aggregate is the retained state

  auto& up = presence_[user];
  if (p->state() == pb::PRESENCE_STATE_OFFLINE) {
    if (auto d = up.devices.find(who.client_id); d != up.devices.end()) up.devices.erase(d);
  } else {
    auto& d = up.devices[std::string(who.client_id)];
    d.state = p->state();
    d.status_text = p->status_text();
    d.order = ++announce_order_;
  }
  refresh_presence(user, up);
  return {};
}

void chat_service::on_client_disconnected(const broker::session_info& who) {
  if (!who.username) return;
  auto it = presence_.find(std::string(*who.username));
  if (it == presence_.end()) return;
  auto d = it->second.devices.find(who.client_id);
  if (d == it->second.devices.end()) return;
  it->second.devices.erase(d);
  refresh_presence(it->first, it->second);
}

// --- publishing ---

broker::publish_verdict chat_service::on_publish(const broker::session_info& who,
                                                 broker::message& m) {
  const bool chat = m.topic.starts_with(chat_prefix);
  if (!chat && !m.topic.starts_with(presence_prefix)) return {};
  // restrict() already refused what is not the client's own outbox or device topic; this
  // holds even for a policy someone builds without it.
  if (!who.username) return {reason_code::not_authorized, false};
  const std::string user(*who.username);
  if (chat) {
    if (m.topic != "chat/" + user + "/outbox") return {reason_code::not_authorized, false};
    return on_outbox(who, user, m);
  }
  if (m.topic != "presence/" + user + "/" + std::string(who.client_id))
    return {reason_code::not_authorized, false};
  return on_device_presence(who, user, m);
}

broker::publish_verdict chat_service::on_outbox(const broker::session_info& who,
                                                const std::string& user, broker::message& m) {
  auto e = parse_envelope(m.payload);
  if (!e) {
    spdlog::info("chat: {} ({}) sent a payload that is not a natter.chat.v1.Envelope; dropped",
                 user, who.client_id);
    return {reason_code::payload_format_invalid, false};
  }
  if (auto problem = envelope_problem(*e, limits_); !problem.empty()) {
    spdlog::info("chat: {} ({}) refused: {}", user, who.client_id, problem);
    return {reason_code::payload_format_invalid, false};
  }
  switch (e->kind_case()) {
    case pb::Envelope::kMessage:
      on_chat_message(who, user, std::move(*e->mutable_message()));
      break;
    case pb::Envelope::kReceipt:
      on_receipt(user, std::move(*e->mutable_receipt()));
      break;
    case pb::Envelope::kTyping:
      on_typing(user, std::move(*e->mutable_typing()));
      break;
    case pb::Envelope::kHistoryRequest:
    case pb::Envelope::kConversationsRequest: {
      // The answer goes to the Response Topic, which must be the user's own [docs/protocol.md].
      std::string reply = m.props.response_topic
                              ? *m.props.response_topic
                              : "chat/" + user + "/reply/" + std::string(who.client_id);
      if (!reply.starts_with("chat/" + user + "/")) return {reason_code::not_authorized, false};
      if (e->kind_case() == pb::Envelope::kHistoryRequest)
        on_history_request(user, e->history_request(), std::move(reply), m.props.correlation_data);
      else
        on_conversations_request(user, e->conversations_request(), std::move(reply),
                                 m.props.correlation_data);
      break;
    }
    default:
      return {reason_code::payload_format_invalid, false};  // envelope_problem refused these
  }
  return {reason_code::success, false};
}

void chat_service::remember(const store::chat_message_record& r) {
  auto key = dedup_key(r.sender, r.client_msg_id);
  if (recent_.insert_or_assign(key, r).second) recent_order_.push_back(std::move(key));
  while (recent_order_.size() > recent_capacity_) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

void chat_service::on_chat_message(const broker::session_info& who, const std::string& user,
                                   pb::ChatMessage msg) {
  pb::Envelope out;
  std::string recipient;
  if (auto seen = recent_.find(dedup_key(user, msg.client_msg_id())); seen != recent_.end()) {
    // A resend (its PUBACK was lost): deliver the stored message again, with its first id.
    if (!out.mutable_message()->ParseFromString(seen->second.body)) return;
    recipient = seen->second.recipient;
  } else {
    msg.set_id(++last_id_);
    msg.set_sender(user);
    msg.set_sender_device(std::string(who.client_id));
    msg.set_server_at_ms(now_());
    store::chat_message_record r{msg.id(),         user, msg.recipient(), msg.client_msg_id(),
                                 msg.server_at_ms(), msg.SerializeAsString()};
    store_.put_chat_message(r);
    remember(r);
    recipient = msg.recipient();
    *out.mutable_message() = std::move(msg);
  }
  publish_envelope(inbox(recipient), out, mqtt::qos::at_least_once);
  if (recipient != user) publish_envelope(inbox(user), out, mqtt::qos::at_least_once);
}

void chat_service::on_receipt(const std::string& user, pb::Receipt r) {
  const auto kind = r.kind() == pb::RECEIPT_KIND_READ ? store::receipt_kind::read
                                                      : store::receipt_kind::delivered;
  // A watermark only rises, and never past the last id the server gave.
  const auto up_to = std::min(r.up_to_id(), last_id_);
  auto& mark = watermarks_[watermark_key(user, r.peer(), kind)];
  if (up_to <= mark) return;
  mark = up_to;
  store_.put_chat_receipt({user, r.peer(), kind, up_to});
  r.set_reader(user);
  r.set_up_to_id(up_to);
  r.set_at_ms(now_());
  pb::Envelope out;
  *out.mutable_receipt() = std::move(r);
  const auto& peer = out.receipt().peer();
  publish_envelope(inbox(peer), out, mqtt::qos::at_least_once);
  if (kind == store::receipt_kind::read && peer != user)
    publish_envelope(inbox(user), out, mqtt::qos::at_least_once);
}

void chat_service::on_typing(const std::string& user, pb::Typing t) {
  t.set_sender(user);
  pb::Envelope out;
  *out.mutable_typing() = std::move(t);
  publish_envelope(inbox(out.typing().recipient()), out, mqtt::qos::at_most_once);
}

std::uint64_t chat_service::watermark(const std::string& reader, const std::string& peer,
                                      store::receipt_kind k) const {
  auto it = watermarks_.find(watermark_key(reader, peer, k));
  return it == watermarks_.end() ? 0 : it->second;
}

void chat_service::on_history_request(const std::string& user, const pb::HistoryRequest& q,
                                      std::string reply_topic,
                                      std::optional<std::string> correlation) {
  store::chat_history_query query;
  query.user = user;
  query.peer = q.peer();
  query.before_id = q.before_id();
  query.limit = q.limit() == 0 ? limits_.default_history_page
                               : std::min(q.limit(), limits_.max_history_page);
  store_.read_history(
      query, [weak = std::weak_ptr(self_), user, peer = q.peer(), request_id = q.request_id(),
              reply_topic = std::move(reply_topic),
              correlation = std::move(correlation)](store::chat_history_page page) mutable {
        auto self = weak.lock();
        if (!self) return;
        chat_service& s = **self;
        pb::Envelope out;
        auto* r = out.mutable_history_response();
        r->set_peer(peer);
        r->set_request_id(request_id);
        r->set_has_more(page.has_more);
        r->set_peer_delivered_up_to(s.watermark(peer, user, store::receipt_kind::delivered));
        r->set_peer_read_up_to(s.watermark(peer, user, store::receipt_kind::read));
        r->set_my_read_up_to(s.watermark(user, peer, store::receipt_kind::read));
        for (const auto& m : page.messages)
          if (!r->add_messages()->ParseFromString(m.body)) r->mutable_messages()->RemoveLast();
        s.publish_envelope(std::move(reply_topic), out, mqtt::qos::at_least_once,
                           std::move(correlation));
      });
}

void chat_service::on_conversations_request(const std::string& user,
                                            const pb::ConversationsRequest& q,
                                            std::string reply_topic,
                                            std::optional<std::string> correlation) {
  std::unordered_map<std::string, std::uint64_t> read_marks;
  // Keys are reader '\0' peer '\0' kind (watermark_key).
  const std::string prefix = user + '\0';
  for (const auto& [key, up_to] : watermarks_) {
    if (key.starts_with(prefix) && key.back() == static_cast<char>(store::receipt_kind::read))
      read_marks[key.substr(prefix.size(), key.size() - prefix.size() - 2)] = up_to;
  }
  store_.read_conversations(
      user, std::move(read_marks),
      [weak = std::weak_ptr(self_), user, request_id = q.request_id(),
       reply_topic = std::move(reply_topic),
       correlation = std::move(correlation)](std::vector<store::chat_conversation> list) mutable {
        auto self = weak.lock();
        if (!self) return;
        chat_service& s = **self;
        pb::Envelope out;
        auto* r = out.mutable_conversations_response();
        r->set_request_id(request_id);
        for (const auto& c : list) {
          auto* conv = r->add_conversations();
          conv->set_peer(c.peer);
          if (!conv->mutable_last_message()->ParseFromString(c.last.body))
            conv->clear_last_message();
          conv->set_unread_count(c.unread);
          conv->set_peer_delivered_up_to(
              s.watermark(c.peer, user, store::receipt_kind::delivered));
          conv->set_peer_read_up_to(s.watermark(c.peer, user, store::receipt_kind::read));
          conv->set_my_read_up_to(s.watermark(user, c.peer, store::receipt_kind::read));
        }
        s.publish_envelope(std::move(reply_topic), out, mqtt::qos::at_least_once,
                           std::move(correlation));
      });
}

void chat_service::publish_envelope(std::string topic, const pb::Envelope& e, mqtt::qos q,
                                    std::optional<std::string> correlation) {
  auto m = std::make_shared<broker::message>();
  m->topic = std::move(topic);
  m->payload = e.SerializeAsString();
  m->qos = q;
  if (correlation) m->props.correlation_data = std::move(correlation);
  publish_(std::move(m));
}

}  // namespace natter::chat
