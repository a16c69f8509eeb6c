#include "broker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <random>

#include "mqtt/codec.hpp"
#include "mqtt/topic.hpp"

namespace natter::broker {
namespace {

using namespace std::chrono_literals;
using mqtt::qos;

qos min_qos(qos a, qos b) {
  return a < b ? a : b;
}

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;  // GCC deduces it from the aggregate; clang 14 does not

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string s(16, '0');
  auto v = rng();
  for (auto& ch : s) {
    ch = hex[v & 0xF];
    v >>= 4;
  }
  return s;
}

// Copies the properties a PUBLISH forwards from `in` [MQTT-3.3.2-*]; topic alias,
// subscription identifiers and expiry are per delivery.
void copy_forwarded(mqtt::properties& out, mqtt::properties&& in) {
  out.payload_format_indicator = in.payload_format_indicator;
  out.content_type = std::move(in.content_type);
  out.response_topic = std::move(in.response_topic);
  out.correlation_data = std::move(in.correlation_data);
  out.user_properties = std::move(in.user_properties);
}

}  // namespace

std::shared_ptr<message> make_message(mqtt::publish&& p, std::string publisher_id,
                                      clock::time_point now) {
  auto m = std::make_shared<message>();
  m->topic = std::move(p.topic);
  m->payload = std::move(p.payload);
  m->qos = p.qos;
  m->retain = p.retain;
  if (p.props.message_expiry_interval)
    m->expires_at = now + std::chrono::seconds(*p.props.message_expiry_interval);
  copy_forwarded(m->props, std::move(p.props));
  m->publisher_id = std::move(publisher_id);
  return m;
}

broker::broker(broker_options opts, hooks& h, deferrer defer)
    : opts_(std::move(opts)), hooks_(h), defer_(std::move(defer)) {
  if (opts_.max_inflight_messages == 0) opts_.max_inflight_messages = 65535;
}

broker::~broker() = default;

session_info broker::info(const session& s) const {
  session_info i{s.client_id, std::nullopt, s.listener};
  if (s.username) i.username = *s.username;
  return i;
}

// A 5.0 DISCONNECT from the server, with the reason's name as Reason String: besides
// helping people read logs, some clients (paho-mqtt 1.6) only report the reason code when
// properties follow it.
namespace {
mqtt::disconnect server_disconnect(mqtt::reason_code rc) {
  mqtt::disconnect d{rc, {}};
  d.props.reason_string = std::string(mqtt::to_string(rc));
  return d;
}

}  // namespace

void broker::send(connection& c, const mqtt::packet& p) {
  auto buf = std::make_shared<std::vector<std::uint8_t>>();
  mqtt::encode(p, c.version, *buf);
  ++stats_.packets_sent;
  stats_.bytes_sent += buf->size();
  c.net->send(std::move(buf));
}

void broker::send_when_durable(connection& c, mqtt::packet p) {
  // Acknowledgements keep the order of the PUBLISHes they answer [MQTT-4.6.0-2], so one
  // waits behind any earlier one still waiting for the store.
  if (!store_ || (!store_dirty_ && c.acks_waiting == 0)) return send(c, p);
  ++c.acks_waiting;
  std::weak_ptr<link> weak = c.net;
  store_->after_durable(
      [this, weak, p = std::move(p), pumps = std::exchange(pump_when_durable_, {})] {
        pump_sessions(pumps);
        auto l = weak.lock();
        if (!l) return;
        auto it = connections_.find(l.get());
        if (it == connections_.end()) return;
        --it->second->acks_waiting;
        send(*it->second, p);
      });
  store_dirty_ = false;  // the callback closes this group
}

// ---------------------------------------------------------------------------------------
// Persistence

namespace {

std::vector<std::uint8_t> encode_record(const message& m, qos q, bool retain) {
  mqtt::publish p;
  p.topic = m.topic;
  p.payload = m.payload;
  p.qos = q;
  p.retain = retain;
  p.packet_id = q == qos::at_most_once ? 0 : 1;  // the real id is kept beside the bytes
  p.props = m.props;
  std::vector<std::uint8_t> out;
  mqtt::encode(p, mqtt::version::v5, out);
  return out;
}

std::optional<mqtt::publish> decode_record(const std::vector<std::uint8_t>& bytes) {
  auto r = mqtt::decode(bytes, {mqtt::version::v5});
  if (!r) return std::nullopt;
  auto* p = std::get_if<mqtt::publish>(&r->pkt);
  if (!p) return std::nullopt;
  return std::move(*p);
}

}  // namespace

store::wall_clock::time_point broker::to_wall(clock::time_point t) const {
  return store::wall_clock::now() +
         std::chrono::duration_cast<store::wall_clock::duration>(t - clock::now());
}

void broker::end_event() {
  if (!store_ || (!store_dirty_ && pump_when_durable_.empty())) return;
  if (pump_when_durable_.empty()) {
    store_->after_durable(nullptr);  // everything this event queued commits as one
  } else {
    store_->after_durable(
        [this, pumps = std::exchange(pump_when_durable_, {})] { pump_sessions(pumps); });
  }
  store_dirty_ = false;
}

void broker::pump_sessions(const std::vector<std::string>& client_ids) {
  for (const auto& id : client_ids) {
    auto it = sessions_.find(id);
    if (it != sessions_.end()) pump(*it->second);
  }
}

void broker::store_session(const session& s) {
  if (!store_ || !s.persistent()) return;
  store::session_record r{s.client_id, s.username, s.expiry_interval, std::nullopt,
                          s.last_packet_id};
  if (s.expires_at) r.expires_at = to_wall(*s.expires_at);
  store_->put_session(r);
  store_dirty_ = true;
}

void broker::store_delivery(const session& s, const delivery& d, std::uint16_t packet_id,
                            bool released) {
  if (!store_ || d.seq == 0) return;
  (void)s;
  store::delivery_record r;
  r.client_id = s.client_id;
  r.seq = d.seq;
  r.publish = encode_record(*d.msg, d.qos, d.retain);
  r.subscription_ids = d.subscription_ids;
  if (d.msg->expires_at) r.expires_at = to_wall(*d.msg->expires_at);
  r.packet_id = packet_id;
  r.released = released;
  store_->put_delivery(r);
  store_dirty_ = true;
}

void broker::stored_delivery_done(const session& s, const delivery& d) {
  if (!store_ || d.seq == 0) return;
  store_->erase_delivery(s.client_id, d.seq);
  store_dirty_ = true;
}

void broker::attach_store(store::store& st, const store::snapshot& snap) {
  restore(snap);
  store_ = &st;
}

void broker::restore(const store::snapshot& snap) {
  const auto wall_now = store::wall_clock::now();
  const auto now = clock::now();
  auto to_steady = [&](store::wall_clock::time_point t) {
    return now + std::chrono::duration_cast<clock::duration>(t - wall_now);
  };
  auto to_message = [&](const std::vector<std::uint8_t>& bytes,
                        const std::optional<store::wall_clock::time_point>& exp,
                        const std::string& publisher) -> std::shared_ptr<message> {
    auto p = decode_record(bytes);
    if (!p) return nullptr;
    p->props.message_expiry_interval.reset();
    auto m = make_message(std::move(*p), publisher, now);
    if (exp) m->expires_at = to_steady(*exp);
    return m;
  };
  for (const auto& r : snap.sessions) {
    auto s = std::make_unique<session>();
    s->client_id = r.client_id;
    s->username = r.username;
    s->expiry_interval = r.expiry_interval;
    s->last_packet_id = r.last_packet_id;
    if (r.expires_at) s->expires_at = to_steady(*r.expires_at);
    offline_.insert(s.get());
    sessions_.emplace(r.client_id, std::move(s));
  }
  auto find = [&](const std::string& id) -> session* {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second.get();
  };
  for (const auto& r : snap.subscriptions) {
    session* s = find(r.client_id);
    if (!s) continue;
    subscription_options o;
    o.max_qos = static_cast<qos>(r.options & 0x03);
    o.no_local = (r.options & 0x04) != 0;
    o.retain_as_published = (r.options & 0x08) != 0;
    o.retain_handling = static_cast<std::uint8_t>((r.options >> 4) & 0x03);
    o.subscription_id = r.subscription_id;
    subscriptions_.subscribe(s, r.filter, o);
    s->subscriptions.insert_or_assign(r.filter, o);
  }
  std::size_t bad = 0;
  for (const auto& r : snap.deliveries) {
    session* s = find(r.client_id);
    if (!s) continue;
    auto m = to_message(r.publish, r.expires_at, "");
    if (!m) {
      ++bad;
      continue;
    }
    delivery d{m, m->qos, m->retain, r.subscription_ids, r.seq};
    s->last_seq = std::max(s->last_seq, r.seq);
    if (r.packet_id != 0) {
      s->inflight.push_back({r.packet_id, std::move(d), r.released});
      if (r.released) s->inflight.back().d.msg = nullptr;
    } else {
      s->queued_bytes += m->weight();
      s->queue.push_back(std::move(d));
    }
  }
  for (const auto& r : snap.incoming)
    if (session* s = find(r.client_id)) s->awaiting_pubrel.insert(r.packet_id);
  for (const auto& r : snap.retained)
    if (auto m = to_message(r.publish, r.expires_at, "")) retained_.update(m);
  for (const auto& r : snap.wills) {
    session* s = find(r.client_id);
    auto m = to_message(r.publish, r.expires_at, r.client_id);
    if (s && m) s->will = session::pending_will{m, to_steady(r.fire_at)};
  }
  if (bad) spdlog::error("store: {} stored messages could not be decoded and were skipped", bad);
  spdlog::info(
      "restored {} sessions, {} subscriptions, {} queued or in-flight messages, {} retained "
      "messages",
      snap.sessions.size(), snap.subscriptions.size(), snap.deliveries.size() - bad,
      retained_.size());
}

// ---------------------------------------------------------------------------------------
// Connection events

void broker::on_open(std::shared_ptr<link> l) {
  auto c = std::make_unique<connection>();
  c->net = std::move(l);
  auto* key = c->net.get();
  connections_.emplace(key, std::move(c));
  ++stats_.connections_total;
}

void broker::on_packet(link* l, mqtt::packet&& p) {
  auto it = connections_.find(l);
  if (it == connections_.end()) return;  // already dropped; the socket is closing
  connection& c = *it->second;
  ++stats_.packets_received;
  stats_.bytes_received += mqtt::encoded_size(p, c.version);  // decoding is strict: exact
  if (c.state == connection::phase::authenticating) {
    // A client may send before CONNACK; keep its packets in order until we decide. Bounded
    // so that a client cannot make us buffer without limit while a password is hashed.
    if (c.held.size() >= opts_.max_inflight_messages + 16u)
      return protocol_violation(c, reason_code::receive_maximum_exceeded);
    c.held.push_back(std::move(p));
    return;
  }
  handle(c, std::move(p));
}

void broker::on_decode_error(link* l, std::error_code ec) {
  auto it = connections_.find(l);
  if (it == connections_.end()) return;
  connection& c = *it->second;
  const auto rc = mqtt::to_reason_code(ec);
  if (c.state == connection::phase::awaiting_connect) {
    if (rc == reason_code::unsupported_protocol_version) {
      // We cannot know which CONNACK format the client reads; 3.1.1's return code 1 is what
      // 3.1 and 3.1.1 clients understand, and a 5.0 client never gets here [MQTT-3.1.2-2].
      static const auto refusal = std::make_shared<const std::vector<std::uint8_t>>(
          std::vector<std::uint8_t>{0x20, 0x02, 0x00, 0x01});
      c.net->send(refusal);
    }
    c.net->close();
    return drop(c);
  }
  spdlog::info("client {} ({}) sent a bad packet: {}", c.client_id, c.net->peer(),
               mqtt::to_string(rc));
  protocol_violation(c, rc);
}

void broker::on_timeout(link* l) {
  auto it = connections_.find(l);
  if (it == connections_.end()) return;
  connection& c = *it->second;
  if (c.state == connection::phase::connected) {
    spdlog::info("client {} ({}) keep-alive timeout", c.client_id, c.net->peer());
    if (c.version == mqtt::version::v5) send(c, server_disconnect(reason_code::keep_alive_timeout));
  }
  c.net->close();
  drop(c);
}

void broker::on_closed(link* l) {
  auto it = connections_.find(l);
  if (it == connections_.end()) return;
  drop(*it->second);
}

void broker::protocol_violation(connection& c, reason_code rc) {
  if (c.state == connection::phase::connected && c.version == mqtt::version::v5)
    send(c, server_disconnect(rc));  // [MQTT-4.13.1-1]
  c.net->close();
  drop(c);  // not a normal DISCONNECT, so the will is published [MQTT-3.1.2-8]
}

void broker::refuse_connect(connection& c, reason_code rc) {
  mqtt::connack ack;
  if (c.version == mqtt::version::v5) {
    ack.reason = static_cast<std::uint8_t>(rc);
  } else if (rc == reason_code::bad_user_name_or_password) {
    // Mosquitto answers a wrong password with 5, "not authorised", which is what 3.1.1
    // users and scripts expect (mosquitto_pub prints "Connection Refused: not authorised.").
    ack.reason = static_cast<std::uint8_t>(mqtt::connack_v311::not_authorized);
  } else {
    ack.reason = static_cast<std::uint8_t>(mqtt::to_v311_connack(rc));
  }
  send(c, ack);
  spdlog::info("refused client {} ({}): {}", c.client_id, c.net->peer(), mqtt::to_string(rc));
  c.net->close();
  drop(c);  // no session attached yet, no will registered [MQTT-3.2.2-?]
}

void broker::drop(connection& c) {
  link* key = c.net.get();
  if (session* s = c.sess) {
    spdlog::info("client {} ({}) disconnected{}", c.client_id, c.net->peer(),
                 c.publish_will_on_close ? "" : " cleanly");
    s->conn = nullptr;
    c.sess = nullptr;
    hooks_.on_client_disconnected(info(*s));
    if (c.will && c.publish_will_on_close) {
      mqtt::will w = std::move(*c.will);
      mqtt::publish p{std::move(w.topic), std::move(w.payload), w.qos, w.retain, false, 0,
                      std::move(w.props)};
      const std::uint32_t delay = p.props.will_delay_interval.value_or(0);
      p.props.will_delay_interval.reset();
      auto m = make_message(std::move(p), s->client_id, clock::now());
      if (delay == 0 || c.version != mqtt::version::v5) {
        publish(std::move(m));
      } else {
        // Delayed until the delay or the session's end, whichever is first [MQTT-3.1.3-9].
        s->will = session::pending_will{std::move(m), clock::now() + std::chrono::seconds(delay)};
        if (store_ && s->persistent()) {
          const auto& wm = *s->will->msg;
          store_->put_will({s->client_id, encode_record(wm, wm.qos, wm.retain),
                            to_wall(s->will->at),
                            wm.expires_at ? std::optional(to_wall(*wm.expires_at)) : std::nullopt});
          store_dirty_ = true;
        }
      }
    }
    if (s->expiry_interval == 0) {
      end_session(*s);
    } else {
      if (s->expiry_interval != session::never_expires)
        s->expires_at = clock::now() + std::chrono::seconds(s->expiry_interval);
      else if (opts_.persistent_client_expiration.count() > 0)
        s->expires_at = clock::now() + opts_.persistent_client_expiration;
      offline_.insert(s);
      store_session(*s);
    }
  }
  c.state = connection::phase::closed;
  connections_.erase(key);  // destroys c
}

// ---------------------------------------------------------------------------------------
// Packets

void broker::handle(connection& c, mqtt::packet&& p) {
  if (c.state == connection::phase::awaiting_connect) {
    if (auto* con = std::get_if<mqtt::connect>(&p)) return handle_connect(c, std::move(*con));
    c.net->close();  // the first packet must be CONNECT [MQTT-3.1.0-1]
    return drop(c);
  }
  std::visit(
      overloaded{
          [&](mqtt::connect&) {
            protocol_violation(c, reason_code::protocol_error);
          },  // [MQTT-3.1.0-2]
          [&](mqtt::publish& x) { handle_publish(c, std::move(x)); },
          [&](mqtt::puback& x) { handle_puback(c, x); },
          [&](mqtt::pubrec& x) { handle_pubrec(c, x); },
          [&](mqtt::pubrel& x) { handle_pubrel(c, x); },
          [&](mqtt::pubcomp& x) { handle_pubcomp(c, x); },
          [&](mqtt::subscribe& x) { handle_subscribe(c, std::move(x)); },
          [&](mqtt::unsubscribe& x) { handle_unsubscribe(c, std::move(x)); },
          [&](mqtt::pingreq&) { send(c, mqtt::pingresp{}); },
          [&](mqtt::disconnect& x) { handle_disconnect(c, x); },
          // Enhanced authentication is not offered, so an AUTH is out of place [MQTT-4.12.0-1].
          [&](mqtt::auth&) { protocol_violation(c, reason_code::protocol_error); },
          // Server-to-client packets.
          [&](auto&) { protocol_violation(c, reason_code::protocol_error); },
      },
      p);
}

void broker::handle_connect(connection& c, mqtt::connect&& p) {
  c.version = p.protocol_version;
  c.client_id = p.client_id;
  bool assigned = false;
  if (c.client_id.empty()) {
    // 3.1.1 allows an empty id only with Clean Session [MQTT-3.1.3-8]; 5.0 assigns one.
    if ((c.version == mqtt::version::v311 && !p.clean_start) || !opts_.allow_zero_length_clientid)
      return refuse_connect(c, reason_code::client_identifier_not_valid);
    c.client_id = opts_.auto_id_prefix + random_suffix();
    assigned = true;
  }
  if (p.props.authentication_method)  // no enhanced authentication [MQTT-4.12.0-1]
    return refuse_connect(c, reason_code::bad_authentication_method);
  if (c.version == mqtt::version::v311 && p.keep_alive > opts_.max_keepalive)
    return refuse_connect(c, reason_code::client_identifier_not_valid);  // mosquitto's choice

  c.state = connection::phase::authenticating;
  const auto& li = c.net->info();
  auth_request req{c.client_id, p.username, p.password, li.peer, li.listener, li.cert_identity};
  std::weak_ptr<link> weak = c.net;
  hooks_.authenticate(req, [this, weak, assigned, p = std::move(p)](auth_result r) mutable {
    defer_([this, weak, assigned, p = std::move(p), r = std::move(r)]() mutable {
      auto l = weak.lock();
      if (!l) return;
      auto it = connections_.find(l.get());
      if (it == connections_.end()) return;  // closed while authenticating
      connection& conn = *it->second;
      if (conn.state != connection::phase::authenticating) return;
      finish_connect(conn, std::move(p), std::move(r), assigned);
    });
  });
}

void broker::finish_connect(connection& c, mqtt::connect&& p, auth_result r, bool assigned) {
  if (mqtt::is_failure(r.reason)) return refuse_connect(c, r.reason);
  c.username = r.username ? std::move(r.username) : std::move(p.username);

  if (p.will) {
    if (p.will->retain && !opts_.retain_available)
      return refuse_connect(c, reason_code::retain_not_supported);  // [MQTT-3.2.2-14]
    // A will is a publication like any other: refused at CONNECT if the ACL would refuse it.
    if (r.policy && !r.policy->may_publish(p.will->topic))
      return refuse_connect(c, reason_code::not_authorized);
  }

  auto it = sessions_.find(c.client_id);
  session* s = it == sessions_.end() ? nullptr : it->second.get();
  // A client id belongs to the user who created its session: another user may not take
  // the session over, or read what was queued for it.
  if (s && s->username != c.username) return refuse_connect(c, reason_code::not_authorized);
  if (s && s->conn) {
    // Session takeover [MQTT-3.1.4-3]: the old connection ends as if it had dropped, so its
    // will is published unless delayed and the session continues.
    connection& old = *s->conn;
    spdlog::info("client {} taken over by {} (was {})", c.client_id, c.net->peer(),
                 old.net->peer());
    if (old.version == mqtt::version::v5)
      send(old, server_disconnect(reason_code::session_taken_over));
    old.net->close();
    drop(old);
    it = sessions_.find(c.client_id);
    s = it == sessions_.end() ? nullptr : it->second.get();
  }
  if (s && p.clean_start) {
    end_session(*s);  // [MQTT-3.1.2-4]; a pending will fires now, the session having ended
    s = nullptr;
  }
  const bool present = s != nullptr;
  if (!s) {
    auto fresh = std::make_unique<session>();
    fresh->client_id = c.client_id;
    fresh->username = c.username;
    s = fresh.get();
    sessions_.emplace(c.client_id, std::move(fresh));
  } else {
    offline_.erase(s);
    s->expires_at.reset();
    if (s->will) {
      s->will.reset();  // reconnected within the Will Delay Interval [MQTT-3.1.3-9]
      if (store_) {
        store_->erase_will(s->client_id);
        store_dirty_ = true;
      }
    }
  }
  s->conn = &c;
  s->policy = std::move(r.policy);
  s->listener = c.net->info().listener;
  c.sess = s;

  if (c.version == mqtt::version::v5)
    s->expiry_interval = p.props.session_expiry_interval.value_or(0);
  else
    s->expiry_interval = p.clean_start ? 0 : session::never_expires;
  c.will = std::move(p.will);
  store_session(*s);

  mqtt::connack ack;
  ack.session_present = present;  // [MQTT-3.2.2-2], [MQTT-3.2.2-3]
  std::uint16_t keep_alive = p.keep_alive;
  if (c.version == mqtt::version::v5) {
    c.window = std::min<std::uint16_t>(p.props.receive_maximum.value_or(65535),
                                       opts_.max_inflight_messages);
    c.maximum_packet_size = p.props.maximum_packet_size.value_or(0);
    c.topic_alias_maximum = p.props.topic_alias_maximum.value_or(0);
    if (keep_alive > opts_.max_keepalive || (keep_alive == 0 && opts_.max_keepalive < 65535)) {
      keep_alive = opts_.max_keepalive;
      ack.props.server_keep_alive = keep_alive;  // [MQTT-3.2.2-21]
    }
    if (assigned) ack.props.assigned_client_identifier = c.client_id;  // [MQTT-3.2.2-16]
    if (opts_.max_inflight_messages != 65535)
      ack.props.receive_maximum = opts_.max_inflight_messages;
    if (opts_.max_topic_alias > 0) ack.props.topic_alias_maximum = opts_.max_topic_alias;
    if (opts_.max_packet_size > 0) ack.props.maximum_packet_size = opts_.max_packet_size;
    if (!opts_.retain_available) ack.props.retain_available = 0;
    if (p.props.request_response_information.value_or(0) == 1)
      ack.props.response_information = "reply/" + c.client_id;  // a root for response topics
  } else {
    c.window = opts_.max_inflight_messages;
  }
  c.net->set_read_timeout(std::chrono::milliseconds(keep_alive) * 1500);  // [MQTT-3.1.2-24]
  send(c, ack);
  c.state = connection::phase::connected;
  stats_.clients_maximum =
      std::max<std::uint64_t>(stats_.clients_maximum, sessions_.size() - offline_.size());
  spdlog::info("client {} connected from {} (MQTT {}, clean {}, keep-alive {})", c.client_id,
               c.net->peer(), c.version == mqtt::version::v5 ? "5.0" : "3.1.1", p.clean_start,
               keep_alive);
  hooks_.on_client_connected(info(*s));

  // Resume unacknowledged deliveries with their original packet ids [MQTT-4.4.0-1].
  for (auto& f : s->inflight) {
    if (f.released)
      send(c, mqtt::pubrel{f.packet_id, reason_code::success, {}});
    else if (!send_publish(*s, f.d, f.packet_id, true)) {
      stored_delivery_done(*s, f.d);
      f.d.msg = nullptr;  // too large for this connection: completed, see send_publish
    }
  }
  std::erase_if(s->inflight, [](const inflight_delivery& f) { return !f.released && !f.d.msg; });
  pump(*s);

  // Packets that arrived while authenticating, in order. Each may close the connection.
  link* key = c.net.get();
  for (;;) {
    auto cit = connections_.find(key);
    if (cit == connections_.end()) break;
    connection& conn = *cit->second;
    if (conn.state != connection::phase::connected || conn.held.empty()) break;
    auto next = std::move(conn.held.front());
    conn.held.pop_front();
    handle(conn, std::move(next));
  }
}

void broker::handle_publish(connection& c, mqtt::publish&& p) {
  session& s = *c.sess;
  if (c.version == mqtt::version::v5) {
    if (!p.props.subscription_identifiers.empty())  // [MQTT-3.3.4-6]
      return protocol_violation(c, reason_code::protocol_error);
    if (p.props.topic_alias) {
      const auto alias = *p.props.topic_alias;
      if (alias == 0 || alias > opts_.max_topic_alias)  // [MQTT-3.3.2-9], [MQTT-3.3.2-10]
        return protocol_violation(c, reason_code::topic_alias_invalid);
      if (!p.topic.empty()) {
        c.aliases_in[alias] = p.topic;
      } else {
        auto a = c.aliases_in.find(alias);
        if (a == c.aliases_in.end()) return protocol_violation(c, reason_code::protocol_error);
        p.topic = a->second;
      }
      p.props.topic_alias.reset();
    }
  }
  if (p.topic.empty()) return protocol_violation(c, reason_code::protocol_error);  // [MQTT-3.3.2-1]
  if (p.retain && !opts_.retain_available)
    return protocol_violation(c, reason_code::retain_not_supported);  // [MQTT-3.3.1-?]
  if (p.qos == qos::exactly_once) {
    if (s.awaiting_pubrel.contains(p.packet_id)) {
      // A resent QoS 2 PUBLISH we already own: acknowledge, never deliver twice [MQTT-4.3.3-?].
      return send_when_durable(c, mqtt::pubrec{p.packet_id, reason_code::success, {}});
    }
    // Receive Maximum is a 5.0 promise [MQTT-3.3.4-9]; a 3.1.1 client never heard of ours
    // (its QoS 2 ids are bounded by the 16-bit packet id anyway).
    if (c.version == mqtt::version::v5 && s.awaiting_pubrel.size() >= opts_.max_inflight_messages)
      return protocol_violation(c, reason_code::receive_maximum_exceeded);
  }
  ++stats_.messages_received;
  ++stats_.messages_received_by_qos[static_cast<std::size_t>(p.qos)];
  stats_.publish_bytes_received += p.payload.size();
  if (!within_rate_limit(s)) {
    // message_rate_limit (Natter): over the user's rate, QoS 0 is dropped and QoS 1/2 is
    // refused with Quota exceeded (5.0). A 3.1.1 client cannot be told, and acknowledging a
    // message we drop would lose it silently, so it is disconnected instead: unacknowledged,
    // the message is sent again after the client reconnects.
    ++stats_.messages_dropped;
    ++stats_.dropped[static_cast<std::size_t>(drop_reason::rate_limited)];
    if (p.qos == qos::at_most_once) return;
    if (c.version != mqtt::version::v5)
      return protocol_violation(c, reason_code::message_rate_too_high);
    if (p.qos == qos::at_least_once)
      return send_when_durable(c, mqtt::puback{p.packet_id, reason_code::quota_exceeded, {}});
    return send_when_durable(c, mqtt::pubrec{p.packet_id, reason_code::quota_exceeded, {}});
  }
  const auto packet_qos = p.qos;
  const auto packet_id = p.packet_id;
  reason_code rc = reason_code::success;
  auto why = drop_reason::refused;
  if (opts_.message_size_limit > 0 && p.payload.size() > opts_.message_size_limit) {
    rc = reason_code::quota_exceeded;
    why = drop_reason::message_size_limit;
  } else if (s.policy && !s.policy->may_publish(p.topic)) {
    rc = reason_code::not_authorized;
    why = drop_reason::not_authorized;
  } else {
    auto m = make_message(std::move(p), s.client_id, clock::now());
    const auto verdict = hooks_.on_publish(info(s), *m);
    rc = verdict.reason;
    if (!mqtt::is_failure(rc) && verdict.route && route(m, &s) == 0)
      rc = reason_code::no_matching_subscribers;
  }
  if (mqtt::is_failure(rc)) {
    spdlog::debug("publish from {} refused: {}", s.client_id, mqtt::to_string(rc));
    ++stats_.messages_dropped;
    ++stats_.dropped[static_cast<std::size_t>(why)];
  }
  switch (packet_qos) {
    case qos::at_most_once:
      break;
    case qos::at_least_once:
      // Acknowledged only once what it caused is durable: queued copies, retained update.
      send_when_durable(c, mqtt::puback{packet_id, rc, {}});
      break;
    case qos::exactly_once:
      if (!mqtt::is_failure(rc)) {
        s.awaiting_pubrel.insert(packet_id);
        if (store_ && s.persistent()) {
          // Committed with the routing above in one transaction: after a crash the message
          // is either delivered and its id known, or neither (the client resends it).
          store_->put_incoming({s.client_id, packet_id, {}, std::nullopt});
          store_dirty_ = true;
        }
      }
      send_when_durable(c, mqtt::pubrec{packet_id, rc, {}});
      break;
  }
}

namespace {
template <class It>
It find_inflight(It first, It last, std::uint16_t id) {
  return std::find_if(first, last, [id](const inflight_delivery& f) { return f.packet_id == id; });
}
}  // namespace

bool broker::within_rate_limit(const session& s) {
  if (opts_.message_rate_limit == 0) return true;
  // A token bucket per user (all of a user's connections together; per client id for
  // anonymous clients): message_rate_limit tokens a second, bursts of one second's worth.
  const std::string key = s.username ? "u:" + *s.username : "c:" + s.client_id;
  const auto now = clock::now();
  const double rate = opts_.message_rate_limit;
  auto [it, fresh] = rate_buckets_.try_emplace(key, rate_bucket{rate, now});
  auto& b = it->second;
  if (!fresh) {
    const std::chrono::duration<double> dt = now - b.at;
    b.tokens = std::min(rate, b.tokens + dt.count() * rate);
    b.at = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

void broker::handle_puback(connection& c, const mqtt::puback& p) {
  session& s = *c.sess;
  auto it = find_inflight(s.inflight.begin(), s.inflight.end(), p.packet_id);
  if (it == s.inflight.end() || it->d.qos != qos::at_least_once) return;  // stale: ignore
  stored_delivery_done(s, it->d);
  s.inflight.erase(it);
  pump(s);
}

void broker::handle_pubrec(connection& c, const mqtt::pubrec& p) {
  session& s = *c.sess;
  auto it = find_inflight(s.inflight.begin(), s.inflight.end(), p.packet_id);
  if (it == s.inflight.end() || it->d.qos != qos::exactly_once) {
    return send(c, mqtt::pubrel{p.packet_id, reason_code::packet_identifier_not_found, {}});
  }
  if (mqtt::is_failure(p.reason)) {  // the receiver refused it: the flow ends [MQTT-4.3.3-?]
    stored_delivery_done(s, it->d);
    s.inflight.erase(it);
    return pump(s);
  }
  if (!it->released && it->d.seq && store_) {
    store_->set_delivery_state(s.client_id, it->d.seq, it->packet_id, true);
    store_dirty_ = true;
  }
  it->released = true;
  it->d.msg = nullptr;  // the message is the receiver's now; only the id remains [MQTT-4.3.3-?]
  // Not before "released" is durable: after a crash we would resend the PUBLISH, which the
  // receiver, having completed the flow, takes for a new message [MQTT-4.3.3-6].
  send_when_durable(c, mqtt::pubrel{p.packet_id, reason_code::success, {}});
}

void broker::handle_pubrel(connection& c, const mqtt::pubrel& p) {
  session& s = *c.sess;
  const bool known = s.awaiting_pubrel.erase(p.packet_id) > 0;
  if (known && store_ && s.persistent()) {
    store_->erase_incoming(s.client_id, p.packet_id);
    store_dirty_ = true;
  }
  // Not before the id is forgotten durably: the client reuses the id once it sees PUBCOMP,
  // and a stale id restored after a crash would swallow that next message as a duplicate.
  send_when_durable(
      c, mqtt::pubcomp{p.packet_id,
                       known ? reason_code::success : reason_code::packet_identifier_not_found,
                       {}});
}

void broker::handle_pubcomp(connection& c, const mqtt::pubcomp& p) {
  session& s = *c.sess;
  auto it = find_inflight(s.inflight.begin(), s.inflight.end(), p.packet_id);
  if (it == s.inflight.end() || !it->released) return;
  stored_delivery_done(s, it->d);
  s.inflight.erase(it);
  pump(s);
}

void broker::handle_subscribe(connection& c, mqtt::subscribe&& p) {
  session& s = *c.sess;
  const std::uint32_t sub_id =
      p.props.subscription_identifiers.empty() ? 0 : p.props.subscription_identifiers.front();
  mqtt::suback ack;
  ack.packet_id = p.packet_id;
  std::vector<std::pair<std::string, subscription_options>> retained_wanted;
  for (auto& sub : p.subscriptions) {
    const bool shared = mqtt::parse_shared_filter(sub.filter).has_value();
    if (shared && sub.no_local)
      return protocol_violation(c, reason_code::protocol_error);  // [MQTT-3.8.3-4]
    if (s.policy && !s.policy->may_subscribe(sub.filter)) {
      ack.reasons.push_back(c.version == mqtt::version::v5
                                ? static_cast<std::uint8_t>(reason_code::not_authorized)
                                : 0x80);
      continue;
    }
    // max_subscriptions_per_client (Natter): a new filter beyond it is refused; replacing one
    // the session holds is not a new subscription.
    if (opts_.max_subscriptions_per_client > 0 &&
        s.subscriptions.size() >= opts_.max_subscriptions_per_client &&
        !s.subscriptions.contains(sub.filter)) {
      ack.reasons.push_back(c.version == mqtt::version::v5
                                ? static_cast<std::uint8_t>(reason_code::quota_exceeded)
                                : 0x80);
      continue;
    }
    subscription_options o{sub.max_qos, sub.no_local, sub.retain_as_published, sub.retain_handling,
                           sub_id};
    const bool is_new = subscriptions_.subscribe(&s, sub.filter, o);
    ack.reasons.push_back(static_cast<std::uint8_t>(sub.max_qos));
    // Retained messages: not for shared subscriptions [MQTT-3.8.4-?]; Retain Handling 1 only
    // for a new subscription, 2 never [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11].
    if (!shared && (o.retain_handling == 0 || (o.retain_handling == 1 && is_new)))
      retained_wanted.emplace_back(sub.filter, o);
    if (store_ && s.persistent()) {
      const auto options =
          static_cast<std::uint8_t>(static_cast<unsigned>(o.max_qos) | (o.no_local ? 0x04 : 0) |
                                    (o.retain_as_published ? 0x08 : 0) | (o.retain_handling << 4));
      store_->put_subscription({s.client_id, sub.filter, options, o.subscription_id});
      store_dirty_ = true;
    }
    s.subscriptions.insert_or_assign(std::move(sub.filter), o);
  }
  send(c, ack);
  for (const auto& [filter, o] : retained_wanted) send_retained(s, filter, o);
}

void broker::send_retained(session& s, std::string_view filter, const subscription_options& o) {
  const auto now = clock::now();
  std::vector<message_ptr> found;
  retained_.match(filter, [&](const message_ptr& m) {
    if (!m->expired(now)) found.push_back(m);
  });
  for (auto& m : found) {
    if (s.policy && !s.policy->may_receive(m->topic)) continue;
    delivery d{m, min_qos(m->qos, o.max_qos), true, {}};  // RETAIN set on subscribe [MQTT-3.3.1-8]
    if (o.subscription_id) d.subscription_ids.push_back(o.subscription_id);
    deliver(s, std::move(d));
  }
}

void broker::handle_unsubscribe(connection& c, mqtt::unsubscribe&& p) {
  session& s = *c.sess;
  mqtt::unsuback ack;
  ack.packet_id = p.packet_id;
  for (const auto& f : p.filters) {
    const bool removed = subscriptions_.unsubscribe(&s, f);
    s.subscriptions.erase(f);
    if (removed && store_ && s.persistent()) {
      store_->erase_subscription(s.client_id, f);
      store_dirty_ = true;
    }
    ack.reasons.push_back(removed ? reason_code::success : reason_code::no_subscription_existed);
  }
  send(c, ack);
}

void broker::handle_disconnect(connection& c, const mqtt::disconnect& p) {
  if (c.version == mqtt::version::v5) {
    if (p.props.session_expiry_interval) {
      // A session that was to end at disconnect cannot be made persistent now [MQTT-3.14.2-2].
      if (c.sess->expiry_interval == 0 && *p.props.session_expiry_interval != 0)
        return protocol_violation(c, reason_code::protocol_error);
      c.sess->expiry_interval = *p.props.session_expiry_interval;
      if (c.sess->expiry_interval == 0 && store_) {  // no longer persistent
        store_->erase_session(c.sess->client_id);
        store_dirty_ = true;
      }
    }
    c.publish_will_on_close = p.reason == reason_code::disconnect_with_will_message;
  } else {
    c.publish_will_on_close = false;  // [MQTT-3.14.4-3]
  }
  c.net->close();
  drop(c);
}

// ---------------------------------------------------------------------------------------
// Routing

void broker::publish(message_ptr m) {
  route(m, nullptr);
}

void broker::for_each_retained(std::string_view filter,
                               const std::function<void(const message_ptr&)>& fn) const {
  retained_.match(filter, fn);
}

std::size_t broker::route(const message_ptr& m, const session* publisher) {
  if (m->retain) {
    retained_.update(m);
    // $SYS is the server's report on itself, rewritten every sys_interval: never stored
    // (Mosquitto does not save it either).
    if (store_ && !m->topic.starts_with("$SYS/")) {
      if (m->payload.empty())
        store_->erase_retained(m->topic);
      else
        store_->put_retained(
            {m->topic, encode_record(*m, m->qos, true),
             m->expires_at ? std::optional(to_wall(*m->expires_at)) : std::nullopt});
      store_dirty_ = true;
    }
  }
  fanout_.clear();
  subscriptions_.match(
      m->topic,
      [&](session* s, const subscription_options& o) {
        if (o.no_local && s == publisher) return;  // [MQTT-3.8.3-3]
        const qos q = opts_.upgrade_outgoing_qos ? o.max_qos : min_qos(m->qos, o.max_qos);
        const bool retain = o.retain_as_published && m->retain;  // [MQTT-3.3.1-12], [MQTT-3.3.1-13]
        auto [it, fresh] = fanout_.try_emplace(s, fanout_entry{q, retain, {}});
        if (!fresh) {
          // Overlapping subscriptions: one delivery at the highest QoS with every
          // subscription identifier [MQTT-3.3.4-2], [MQTT-3.3.4-3].
          it->second.qos = std::max(it->second.qos, q);
          it->second.retain = it->second.retain || retain;
        }
        if (o.subscription_id) it->second.ids.push_back(o.subscription_id);
      },
      [](const session* s) { return s->conn != nullptr; });
  std::size_t delivered = 0;
  for (auto& [s, e] : fanout_) {
    if (s->policy && !s->policy->may_receive(m->topic)) continue;
    deliver(*s, delivery{m, e.qos, e.retain, std::move(e.ids)});
    ++delivered;
  }
  return delivered;
}

void broker::deliver(session& s, delivery d) {
  const bool stored = store_ && s.persistent() && d.qos != qos::at_most_once;
  if (stored) d.seq = ++s.last_seq;
  if (!s.conn) {
    if (d.qos == qos::at_most_once && !opts_.queue_qos0_messages) return;
    if (enqueue(s, std::move(d)) && stored) store_delivery(s, s.queue.back(), 0, false);
    return;
  }
  if (stored && d.qos == qos::exactly_once) {
    // Sent only once stored: were it sent first, a crash before the commit would make the
    // publisher resend and this subscriber receive it twice.
    if (enqueue(s, std::move(d))) {
      store_delivery(s, s.queue.back(), 0, false);
      // Pumped when the whole event is durable: an after_durable() here would close the
      // group in the middle of handle_publish, before the incoming id is stored, and a
      // crash between the two commits would deliver the client's resent PUBLISH twice.
      pump_when_durable_.push_back(s.client_id);
    }
    return;
  }
  // Keep order: nothing overtakes what is already queued [MQTT-4.6.0-?].
  if (s.queue.empty()) {
    if (d.qos == qos::at_most_once) {
      send_publish(s, d, 0, false);
      return;
    }
    if (s.inflight.size() < s.conn->window) {
      const auto id = next_packet_id(s);
      if (send_publish(s, d, id, false)) {
        store_delivery(s, d, id, false);
        s.inflight.push_back({id, std::move(d), false});
      }
      return;
    }
  }
  if (enqueue(s, std::move(d)) && stored) store_delivery(s, s.queue.back(), 0, false);
}

bool broker::enqueue(session& s, delivery&& d) {
  const auto w = d.msg->weight();
  if ((opts_.max_queued_messages > 0 && s.queue.size() >= opts_.max_queued_messages) ||
      (opts_.max_queued_bytes > 0 && s.queued_bytes + w > opts_.max_queued_bytes)) {
    ++stats_.messages_dropped;
    ++stats_.dropped[static_cast<std::size_t>(drop_reason::queue_full)];
    return false;
  }
  s.queued_bytes += w;
  s.queue.push_back(std::move(d));
  return true;
}

void broker::pump(session& s) {
  const auto now = clock::now();
  while (s.conn && !s.queue.empty()) {
    auto& front = s.queue.front();
    if (front.qos != qos::at_most_once && s.inflight.size() >= s.conn->window) break;
    delivery d = std::move(front);
    s.queue.pop_front();
    s.queued_bytes -= d.msg->weight();
    if (d.msg->expired(now)) {  // [MQTT-3.3.2-5]
      ++stats_.messages_dropped;
      ++stats_.dropped[static_cast<std::size_t>(drop_reason::expired)];
      stored_delivery_done(s, d);
      continue;
    }
    if (d.qos == qos::at_most_once) {
      send_publish(s, d, 0, false);
    } else if (d.seq && store_ && d.qos == qos::exactly_once) {
      // Sent only once its packet id is durable: restored without it after a crash, it would
      // go out again under another id, which the receiver cannot tell from a new message.
      const auto id = next_packet_id(s);
      store_->set_delivery_state(s.client_id, d.seq, id, false);
      s.inflight.push_back({id, std::move(d), false});
      std::weak_ptr<link> weak = s.conn->net;
      store_->after_durable([this, weak, cid = s.client_id, id] {
        auto l = weak.lock();
        auto it = sessions_.find(cid);
        if (!l || it == sessions_.end() || !it->second->conn ||
            it->second->conn->net.get() != l.get())
          return;
        session& ss = *it->second;  // same connection: not resent on a reconnect meanwhile
        auto f = find_inflight(ss.inflight.begin(), ss.inflight.end(), id);
        if (f == ss.inflight.end() || f->released || !f->d.msg) return;
        if (!send_publish(ss, f->d, id, false)) {
          stored_delivery_done(ss, f->d);
          ss.inflight.erase(f);
          pump(ss);
        }
      });
      store_dirty_ = false;
    } else {
      const auto id = next_packet_id(s);
      if (send_publish(s, d, id, false)) {
        if (d.seq && store_) {
          store_->set_delivery_state(s.client_id, d.seq, id, false);
          store_dirty_ = true;
        }
        s.inflight.push_back({id, std::move(d), false});
      } else {
        stored_delivery_done(s, d);
      }
    }
  }
}

std::uint16_t broker::next_packet_id(session& s) {
  // The window is small (Receive Maximum), so a linear probe of the inflight list is cheap.
  for (;;) {
    if (++s.last_packet_id == 0) s.last_packet_id = 1;
    if (find_inflight(s.inflight.begin(), s.inflight.end(), s.last_packet_id) == s.inflight.end() &&
        !s.awaiting_pubrel.contains(s.last_packet_id))
      return s.last_packet_id;
  }
}

bool broker::send_publish(session& s, const delivery& d, std::uint16_t packet_id, bool dup) {
  connection& c = *s.conn;
  mqtt::publish p;
  p.topic = d.msg->topic;
  p.payload = d.msg->payload;
  p.qos = d.qos;
  p.retain = d.retain;
  p.dup = dup;
  p.packet_id = packet_id;
  bool new_alias = false;
  if (c.version == mqtt::version::v5) {
    p.props = d.msg->props;
    if (d.msg->expires_at) {
      // The remaining lifetime, not the original one [MQTT-3.3.2-6].
      const auto left = std::chrono::ceil<std::chrono::seconds>(*d.msg->expires_at - clock::now());
      p.props.message_expiry_interval =
          static_cast<std::uint32_t>(std::max<std::int64_t>(left.count(), 1));
    }
    p.props.subscription_identifiers = d.subscription_ids;
    if (c.topic_alias_maximum > 0) {
      auto a = c.aliases_out.find(p.topic);
      if (a != c.aliases_out.end()) {
        p.props.topic_alias = a->second;
        p.topic.clear();
      } else if (c.aliases_out.size() < c.topic_alias_maximum) {
        const auto alias = static_cast<std::uint16_t>(c.aliases_out.size() + 1);
        c.aliases_out.emplace(p.topic, alias);
        p.props.topic_alias = alias;  // sent with the topic once, then alone [MQTT-3.3.2-12]
        new_alias = true;
      }
    }
  }
  auto buf = std::make_shared<std::vector<std::uint8_t>>();
  mqtt::encode(p, c.version, *buf);
  if (c.maximum_packet_size > 0 && buf->size() > c.maximum_packet_size) {
    // Too large for this client: discard as if delivered [MQTT-3.1.2-25].
    if (new_alias) c.aliases_out.erase(d.msg->topic);
    ++stats_.messages_dropped;
    ++stats_.dropped[static_cast<std::size_t>(drop_reason::too_large)];
    return false;
  }
  ++stats_.messages_sent;
  ++stats_.messages_sent_by_qos[static_cast<std::size_t>(d.qos)];
  ++stats_.packets_sent;
  stats_.publish_bytes_sent += d.msg->payload.size();
  stats_.bytes_sent += buf->size();
  c.net->send(std::move(buf));
  return true;
}

// ---------------------------------------------------------------------------------------
// Sessions and time

void broker::fire_will(session& s) {
  auto m = std::move(s.will->msg);
  s.will.reset();
  if (store_) {
    store_->erase_will(s.client_id);
    store_dirty_ = true;
  }
  publish(std::move(m));
}

void broker::end_session(session& s) {
  if (s.will) fire_will(s);  // the session ends before the will's delay [MQTT-3.1.3-9]
  for (const auto& [filter, o] : s.subscriptions) subscriptions_.unsubscribe(&s, filter);
  offline_.erase(&s);
  if (store_) {
    store_->erase_session(s.client_id);
    store_dirty_ = true;
  }
  sessions_.erase(s.client_id);  // destroys s
}

void broker::tick() {
  const auto now = clock::now();
  // A bucket idle for a second is full again: forget it (the map holds active users only).
  std::erase_if(rate_buckets_, [&](const auto& e) { return now - e.second.at >= std::chrono::seconds(1); });
  std::vector<session*> due;
  for (session* s : offline_)
    if ((s->will && now >= s->will->at) || (s->expires_at && now >= *s->expires_at))
      due.push_back(s);
  for (session* s : due) {
    if (s->will && now >= s->will->at) fire_will(*s);
    if (s->expires_at && now >= *s->expires_at) {
      ++stats_.sessions_expired;
      end_session(*s);
    }
  }
  if (now >= next_retained_purge_) {
    const auto purged = retained_.purge_expired(now);
    stats_.messages_dropped += purged;
    stats_.dropped[static_cast<std::size_t>(drop_reason::expired)] += purged;
    next_retained_purge_ = now + 60s;
  }
}

broker_gauges broker::gauges() const {
  broker_gauges g;
  g.connections = connections_.size();
  g.sessions = sessions_.size();
  g.clients_connected = sessions_.size() - offline_.size();
  g.retained_messages = retained_.size();
  g.subscriptions = subscriptions_.size();
  for (const auto& [id, s] : sessions_) {
    g.queued_messages += s->queue.size();
    g.queued_bytes += s->queued_bytes;
    g.inflight_messages += s->inflight.size();
  }
  return g;
}

void broker::disconnect_users(const std::vector<std::string>& users) {
  std::vector<connection*> doomed;
  for (auto& [key, c] : connections_)
    if (c->state == connection::phase::connected && c->username &&
        std::find(users.begin(), users.end(), *c->username) != users.end())
      doomed.push_back(c.get());
  for (connection* c : doomed) {
    spdlog::info("client {} ({}): credentials of '{}' withdrawn, disconnecting", c->client_id,
                 c->net->peer(), *c->username);
    protocol_violation(*c, reason_code::not_authorized);
  }
}

void broker::refresh_policies(
    const std::function<std::shared_ptr<const client_policy>(const session_info&)>& policy_for) {
  for (auto& [id, s] : sessions_) s->policy = policy_for(info(*s));
}

void broker::shutdown() {
  for (auto& [key, c] : connections_) {
    if (c->state == connection::phase::connected && c->version == mqtt::version::v5)
      send(*c, server_disconnect(reason_code::server_shutting_down));
    c->net->close();
  }
}

}  // namespace natter::broker
