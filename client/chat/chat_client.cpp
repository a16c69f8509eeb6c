#include "client/chat/chat_client.hpp"

#include <boost/asio/post.hpp>
#include <cstdio>
#include <random>
#include <utility>

namespace natter::chat {

namespace asio = boost::asio;

// ---------------------------------------------------------------- topics

namespace topics {
std::string inbox(std::string_view user) {
  return "chat/" + std::string(user) + "/inbox";
}
std::string outbox(std::string_view user) {
  return "chat/" + std::string(user) + "/outbox";
}
std::string reply(std::string_view user, std::string_view device) {
  return "chat/" + std::string(user) + "/reply/" + std::string(device);
}
std::string device_presence(std::string_view user, std::string_view device) {
  return "presence/" + std::string(user) + "/" + std::string(device);
}
std::string presence(std::string_view user) {
  return "presence/" + std::string(user);
}

std::optional<std::string_view> presence_user(std::string_view topic) {
  constexpr std::string_view prefix = "presence/";
  if (!topic.starts_with(prefix)) return std::nullopt;
  const auto user = topic.substr(prefix.size());
  if (user.empty() || user.find('/') != std::string_view::npos) return std::nullopt;
  return user;
}
}  // namespace topics

bool valid_user_name(std::string_view name) noexcept {
  if (name.empty() || name.front() == '$') return false;
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '/' || c == '+' || c == '#' || c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// ---------------------------------------------------------------- errors

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "natter.chat"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::request_timeout:
        return "no answer from the chat service in time";
      case errc::request_refused:
        return "request refused by the chat service";
      case errc::bad_user_name:
        return "not a valid user name";
      case errc::closed:
        return "the chat client was stopped";
    }
    return "unknown chat error";
  }
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string serialize(const google::protobuf::MessageLite& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

constexpr std::size_t max_seen_ids = 8192;

}  // namespace

const std::error_category& chat_category() noexcept {
  static const category c;
  return c;
}

std::string_view to_string(chat_state s) noexcept {
  switch (s) {
    case chat_state::connecting:
      return "connecting";
    case chat_state::connected:
      return "connected";
    case chat_state::reconnecting:
      return "reconnecting";
    case chat_state::disconnected:
      return "disconnected";
  }
  return "unknown";
}

// ---------------------------------------------------------------- construction

std::shared_ptr<chat_client> chat_client::create(asio::any_io_executor ex, chat_options opts) {
  return std::make_shared<chat_client>(private_tag{}, std::move(ex), std::move(opts));
}

chat_client::chat_client(private_tag, asio::any_io_executor ex, chat_options opts)
    : opts_(std::move(opts)), state_(opts_.initial_state), status_text_(opts_.status_text) {
  auto& c = opts_.mqtt.connect;
  user_ = c.username.value_or("");
  device_ = c.client_id;
  inbox_topic_ = topics::inbox(user_);
  reply_prefix_ = topics::reply(user_, "");
  if (c.keep_alive == 0) c.keep_alive = opts_.keep_alive;
  c.clean_start = !opts_.persistent;
  if (c.protocol_version == mqtt::version::v5) {
    if (opts_.persistent) {
      c.props.session_expiry_interval = opts_.session_expiry;
    } else {
      c.props.session_expiry_interval.reset();
    }
  }
  if (opts_.announce) {
    v1::Presence gone;
    gone.set_state(v1::PRESENCE_STATE_OFFLINE);
    mqtt::will w;
    w.topic = topics::device_presence(user_, device_);
    w.payload = serialize(gone);
    w.qos = mqtt::qos::at_least_once;
    c.will = std::move(w);
  }
  // A subscription made before a reconnect that lost the session must come back.
  opts_.mqtt.resubscribe = true;

  std::random_device rd;
  char buf[20];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  id_prefix_ = buf;

  mqtt_ = client::mqtt_client::create(std::move(ex), opts_.mqtt);
}

chat_client::~chat_client() {
  mqtt_->close();
}

std::string chat_client::next_id(char kind) {
  std::lock_guard lk(counter_mutex_);
  return id_prefix_ + kind + std::to_string(++counter_);
}

// ---------------------------------------------------------------- lifecycle

void chat_client::start() {
  asio::post(get_executor(), [self = shared_from_this()] {
    // The mqtt_client keeps its handlers as long as it lives, which may be longer than
    // this object: they hold it weakly.
    std::weak_ptr<chat_client> weak = self;
    self->mqtt_->on_state([weak](const client::state_change& s) {
      if (auto c = weak.lock()) c->handle_state(s);
    });
    self->mqtt_->on_message([weak](mqtt::publish& p) {
      if (auto c = weak.lock()) c->handle_publish(p);
    });
    std::vector<mqtt::subscription> subs;
    auto add = [&](std::string f) {
      mqtt::subscription s;
      s.filter = std::move(f);
      s.max_qos = mqtt::qos::at_least_once;
      subs.push_back(std::move(s));
    };
    // Queued until CONNACK, then sent before anything else (see client::session).
    add(topics::inbox(self->user_));
    add(topics::reply(self->user_, self->device_));
    if (self->opts_.watch_presence) add("presence/+");
    self->mqtt_->subscribe(std::move(subs));
    self->mqtt_->connect();
  });
}

void chat_client::stop(std::function<void()> done) {
  asio::post(get_executor(), [self = shared_from_this(), done = std::move(done)]() mutable {
    self->flush_delivered();
    self->mqtt_->disconnect(mqtt::reason_code::normal_disconnection, {},
                            [self, done = std::move(done)] {
                              self->fail_requests(make_error_code(errc::closed));
                              if (done) done();
                            });
  });
}

void chat_client::close() {
  asio::post(get_executor(), [self = shared_from_this()] {
    self->mqtt_->close();
    self->fail_requests(make_error_code(errc::closed));
  });
}

void chat_client::handle_state(const client::state_change& s) {
  chat_status st;
  st.ever_connected = ever_connected_;
  switch (s.state) {
    case client::client_state::connecting:
      st.state = ever_connected_ ? chat_state::reconnecting : chat_state::connecting;
      break;
    case client::client_state::connected:
      st.state = chat_state::connected;
      st.session_present = s.connack != nullptr && s.connack->session_present;
      ever_connected_ = true;
      // A new session gets every retained presence again; a server that lost its state
      // (restarted without persistence) counts versions from the start again.
      if (!st.session_present) presence_version_.clear();
      // Announce again after every reconnect: the server forgets a device with its
      // connection (docs/protocol.md, "A device's life" 3).
      if (opts_.announce) announce();
      break;
    case client::client_state::disconnecting:
      return;
    case client::client_state::disconnected:
      st.ec = s.ec;
      if (s.reconnecting) {
        st.state = chat_state::reconnecting;
        st.retry_in = s.retry_in;
      } else {
        st.state = chat_state::disconnected;
        fail_requests(s.ec ? s.ec : make_error_code(errc::closed));
      }
      break;
  }
  if (on_state_) on_state_(st);
}

void chat_client::announce() {
  v1::Presence p;
  p.set_state(state_);
  p.set_status_text(status_text_);
  mqtt_->publish(topics::device_presence(user_, device()), serialize(p), mqtt::qos::at_least_once);
}

// ---------------------------------------------------------------- incoming

void chat_client::handle_publish(mqtt::publish& p) {
  if (auto user = topics::presence_user(p.topic)) return handle_presence(*user, p.payload);
  v1::Envelope env;
  if (!env.ParseFromString(p.payload)) return;  // not ours to judge: ignore it
  if (p.topic == inbox_topic_) return handle_inbox(env);
  if (p.topic.starts_with(reply_prefix_)) return handle_reply(p, env);
}

void chat_client::handle_inbox(const v1::Envelope& env) {
  switch (env.kind_case()) {
    case v1::Envelope::kMessage: {
      const auto& m = env.message();
      if (m.id() != 0 && seen(m.id())) return;
      if (opts_.send_delivered && m.id() != 0 && m.sender() != user_)
        queue_delivered(m.sender(), m.id());
      if (on_message_) on_message_(m);
      break;
    }
    case v1::Envelope::kReceipt:
      if (on_receipt_) on_receipt_(env.receipt());
      break;
    case v1::Envelope::kTyping:
      if (on_typing_) on_typing_(env.typing());
      break;
    default:
      break;
  }
}

void chat_client::handle_reply(const mqtt::publish& p, const v1::Envelope& env) {
  std::string id;
  if (p.props.correlation_data) {
    id = *p.props.correlation_data;
  } else if (env.has_history_response()) {
    id = env.history_response().request_id();
  } else if (env.has_conversations_response()) {
    id = env.conversations_response().request_id();
  }
  finish_request(id, {}, &env);
}

void chat_client::handle_presence(std::string_view user, const std::string& payload) {
  v1::Presence p;
  if (!p.ParseFromString(payload)) return;
  if (p.user().empty()) p.set_user(std::string(user));
  auto [it, fresh] = presence_version_.try_emplace(std::string(user), p.version());
  if (!fresh) {
    if (p.version() < it->second) return;  // a stale one overtaken by a newer
    it->second = p.version();
  }
  if (on_presence_) on_presence_(p);
}

bool chat_client::seen(std::uint64_t id) {
  if (!seen_ids_.insert(id).second) return true;
  seen_order_.push_back(id);
  if (seen_order_.size() > max_seen_ids) {
    seen_ids_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return false;
}

// DELIVERED receipts are watermarks: one per peer for a whole batch of messages (a
// reconnect can bring hundreds) is enough. The flush runs after the handlers already
// queued on the strand, i.e. after the rest of the batch read from the socket.
void chat_client::queue_delivered(const std::string& peer, std::uint64_t id) {
  auto sent = delivered_sent_.find(peer);
  if (sent != delivered_sent_.end() && sent->second >= id) return;
  auto& pending = delivered_pending_[peer];
  if (id > pending) pending = id;
  if (delivered_flush_posted_) return;
  delivered_flush_posted_ = true;
  asio::post(get_executor(), [self = shared_from_this()] { self->flush_delivered(); });
}

void chat_client::flush_delivered() {
  delivered_flush_posted_ = false;
  for (const auto& [peer, id] : delivered_pending_) {
    auto& sent = delivered_sent_[peer];
    if (id <= sent) continue;
    sent = id;
    v1::Envelope env;
    auto* r = env.mutable_receipt();
    r->set_kind(v1::RECEIPT_KIND_DELIVERED);
    r->set_peer(peer);
    r->set_up_to_id(id);
    publish_envelope(env, mqtt::qos::at_least_once, {});
  }
  delivered_pending_.clear();
}

// ---------------------------------------------------------------- outgoing

void chat_client::publish_envelope(const v1::Envelope& env, mqtt::qos q, done_handler done,
                                   mqtt::properties props) {
  mqtt::publish p;
  p.topic = topics::outbox(user_);
  p.payload = serialize(env);
  p.qos = q;
  p.props = std::move(props);
  mqtt_->publish(std::move(p), std::move(done));
}

std::string chat_client::send(std::string peer, std::string text, std::uint64_t reply_to,
                              done_handler done) {
  std::string cmid = next_id('m');
  v1::Envelope env;
  auto* m = env.mutable_message();
  m->set_recipient(std::move(peer));
  m->set_client_msg_id(cmid);
  m->set_sent_at_ms(now_ms());
  m->set_text(std::move(text));
  m->set_reply_to(reply_to);
  asio::post(get_executor(),
             [self = shared_from_this(), env = std::move(env), done = std::move(done)]() mutable {
               if (!valid_user_name(env.message().recipient())) {
                 if (done) done(make_error_code(errc::bad_user_name));
                 return;
               }
               self->publish_envelope(env, mqtt::qos::at_least_once, std::move(done));
             });
  return cmid;
}

void chat_client::mark_read(std::string peer, std::uint64_t up_to_id, done_handler done) {
  v1::Envelope env;
  auto* r = env.mutable_receipt();
  r->set_kind(v1::RECEIPT_KIND_READ);
  r->set_peer(std::move(peer));
  r->set_up_to_id(up_to_id);
  asio::post(get_executor(),
             [self = shared_from_this(), env = std::move(env), done = std::move(done)]() mutable {
               self->publish_envelope(env, mqtt::qos::at_least_once, std::move(done));
             });
}

void chat_client::typing(std::string peer, bool active) {
  v1::Envelope env;
  auto* t = env.mutable_typing();
  t->set_recipient(std::move(peer));
  t->set_active(active);
  asio::post(get_executor(), [self = shared_from_this(), env = std::move(env)] {
    self->publish_envelope(env, mqtt::qos::at_most_once, {});
  });
}

void chat_client::set_presence(v1::PresenceState state, std::string status_text,
                               done_handler done) {
  asio::post(get_executor(), [self = shared_from_this(), state, text = std::move(status_text),
                              done = std::move(done)]() mutable {
    self->state_ = state;
    self->status_text_ = std::move(text);
    v1::Presence p;
    p.set_state(state);
    p.set_status_text(self->status_text_);
    self->mqtt_->publish(topics::device_presence(self->user_, self->device()), serialize(p),
                         mqtt::qos::at_least_once, false, std::move(done));
  });
}

void chat_client::history(std::string peer, std::uint64_t before_id, std::uint32_t limit,
                          history_handler done) {
  std::string id = next_id('h');
  v1::Envelope env;
  auto* h = env.mutable_history_request();
  h->set_peer(std::move(peer));
  h->set_before_id(before_id);
  h->set_limit(limit);
  h->set_request_id(id);
  pending_request req{request_kind::history, std::move(done), {}, {}};
  asio::post(get_executor(), [self = shared_from_this(), id = std::move(id), env = std::move(env),
                              req = std::move(req)]() mutable {
    if (!valid_user_name(env.history_request().peer())) {
      req.on_history(make_error_code(errc::bad_user_name), v1::HistoryResponse{});
      return;
    }
    self->start_request(std::move(id), std::move(env), std::move(req));
  });
}

void chat_client::conversations(conversations_handler done) {
  std::string id = next_id('c');
  v1::Envelope env;
  env.mutable_conversations_request()->set_request_id(id);
  pending_request req{request_kind::conversations, {}, std::move(done), {}};
  asio::post(get_executor(), [self = shared_from_this(), id = std::move(id), env = std::move(env),
                              req = std::move(req)]() mutable {
    self->start_request(std::move(id), std::move(env), std::move(req));
  });
}

// ---------------------------------------------------------------- requests

void chat_client::start_request(std::string id, v1::Envelope env, pending_request req) {
  req.timer = std::make_unique<asio::steady_timer>(get_executor(), opts_.request_timeout);
  req.timer->async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
    if (!ec) self->finish_request(id, make_error_code(errc::request_timeout), nullptr);
  });
  requests_.emplace(id, std::move(req));
  mqtt::properties props;
  if (opts_.mqtt.connect.protocol_version == mqtt::version::v5) {
    // MQTT 5 request/response; a 3.1.1 server answers on the same topic anyway, and the
    // request_id in the payload matches it.
    props.response_topic = topics::reply(user_, device());
    props.correlation_data = id;
  }
  publish_envelope(
      env, mqtt::qos::at_least_once,
      [self = shared_from_this(), id](std::error_code ec) {
        if (ec) self->finish_request(id, ec, nullptr);
      },
      std::move(props));
}

void chat_client::finish_request(const std::string& id, std::error_code ec,
                                 const v1::Envelope* env) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;  // answered already, timed out, or not ours
  pending_request req = std::move(it->second);
  requests_.erase(it);
  if (req.timer) req.timer->cancel();
  if (req.kind == request_kind::history) {
    if (env != nullptr && env->has_history_response()) {
      const auto& r = env->history_response();
      if (!r.error().empty()) ec = make_error_code(errc::request_refused);
      return req.on_history(ec, r);
    }
    if (!ec) ec = make_error_code(errc::request_refused);  // an answer of the wrong kind
    return req.on_history(ec, v1::HistoryResponse{});
  }
  if (env != nullptr && env->has_conversations_response())
    return req.on_conversations(ec, env->conversations_response());
  if (!ec) ec = make_error_code(errc::request_refused);
  req.on_conversations(ec, v1::ConversationsResponse{});
}

void chat_client::fail_requests(std::error_code ec) {
  std::vector<std::string> ids;
  ids.reserve(requests_.size());
  for (const auto& [id, r] : requests_) ids.push_back(id);
  for (const auto& id : ids) finish_request(id, ec, nullptr);
}

}  // namespace natter::chat
