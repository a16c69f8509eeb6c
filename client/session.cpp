#include "client/session.hpp"

#include <algorithm>
#include <utility>

#include "client/errors.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/topic.hpp"

namespace natter::client {

namespace {

std::error_code ack_error(mqtt::reason_code rc) {
  return mqtt::is_failure(rc) ? mqtt::make_error_code(rc) : std::error_code{};
}

}  // namespace

server_limits server_limits::from(const mqtt::connack& ca, mqtt::version v) {
  server_limits l;
  if (v != mqtt::version::v5) return l;
  const auto& p = ca.props;
  if (p.receive_maximum && *p.receive_maximum > 0) l.receive_maximum = *p.receive_maximum;
  if (p.maximum_qos) l.maximum_qos = *p.maximum_qos;
  if (p.retain_available) l.retain_available = *p.retain_available != 0;
  if (p.maximum_packet_size) l.maximum_packet_size = *p.maximum_packet_size;
  if (p.topic_alias_maximum) l.topic_alias_maximum = *p.topic_alias_maximum;
  return l;
}

session::session(session_events& events, session_config cfg) : events_(events), cfg_(cfg) {}

std::size_t session::window() const noexcept {
  return std::max<std::size_t>(1,
                               std::min<std::size_t>(limits_.receive_maximum, cfg_.max_inflight));
}

// ---------------------------------------------------------------- lifecycle

void session::on_connected(const mqtt::connack& ca) {
  online_ = true;
  limits_ = server_limits::from(ca, cfg_.version);
  // Topic aliases live as long as one network connection, in both directions.
  out_aliases_.assign(limits_.topic_alias_maximum, {});
  in_aliases_.assign(cfg_.version == mqtt::version::v5 ? cfg_.topic_alias_maximum : 0, {});

  if (ca.session_present) {
    // [MQTT-4.4.0-1] resend unacknowledged PUBLISH (DUP set, v5 [MQTT-3.3.1-1]) and PUBREL
    // with their original packet identifiers, in their original order.
    for (auto& m : inflight_) {
      if (m.st == stage::await_pubcomp) {
        events_.send(mqtt::pubrel{m.pub().packet_id}, {});
      } else {
        m.pub().dup = true;
        send_publish(m.pkt, {});
      }
    }
  } else {
    // The server has no session for us (first connection, clean start, or it expired):
    // our identifiers mean nothing to it any more. A QoS 2 message that got its PUBREC was
    // taken over by the server, so it is done; anything else never reached it for sure,
    // so it is sent again as a new message, ahead of newer ones.
    inbound_qos2_.clear();
    ids_.clear();
    for (auto it = inflight_.rbegin(); it != inflight_.rend(); ++it) {
      if (it->st == stage::await_pubcomp) {
        complete(it->done, {});
        continue;
      }
      it->pub().packet_id = 0;
      it->pub().dup = false;
      it->st = stage::queued;
      queued_.push_front(std::move(*it));
    }
    inflight_.clear();
    for (auto& r : requests_) r.id = 0;
    if (cfg_.resubscribe && connected_before_) {
      // Subscriptions died with the session: make them again, ahead of the application's
      // pending requests (which may change them).
      for (auto it = active_subs_.rbegin(); it != active_subs_.rend(); ++it) {
        request r;
        mqtt::subscribe s;
        s.subscriptions.push_back(it->sub);
        s.props = it->props;
        r.pkt = std::move(s);
        r.internal = true;
        requests_.push_front(std::move(r));
      }
    }
  }
  connected_before_ = true;
  for (auto& r : requests_) send_request(r);
  admit();
  run_completions();
}

void session::on_connection_lost() {
  online_ = false;
}

void session::fail_all(std::error_code ec) {
  online_ = false;
  connected_before_ = false;
  for (auto& m : inflight_) complete(m.done, ec);
  for (auto& m : queued_) complete(m.done, ec);
  inflight_.clear();
  queued_.clear();
  for (auto& r : requests_) {
    if (r.on_suback) {
      deferred_.push_back([h = std::move(r.on_suback), ec] { h(ec, mqtt::suback{}); });
    } else if (r.on_unsuback) {
      deferred_.push_back([h = std::move(r.on_unsuback), ec] { h(ec, mqtt::unsuback{}); });
    }
  }
  requests_.clear();
  ids_.clear();
  inbound_qos2_.clear();
  active_subs_.clear();
  run_completions();
}

// ---------------------------------------------------------------- requests

bool session::too_large(const mqtt::packet& p) const {
  return limits_.maximum_packet_size != 0 &&
         mqtt::encoded_size(p, cfg_.version) > limits_.maximum_packet_size;
}

std::error_code session::check_limits(const mqtt::publish& p, const mqtt::packet* pkt) const {
  // What the server declared in CONNACK binds the client: v5 Maximum QoS, Retain
  // Available, Maximum Packet Size (section 3.2.2.3).
  if (static_cast<std::uint8_t>(p.qos) > limits_.maximum_qos)
    return mqtt::make_error_code(mqtt::reason_code::qos_not_supported);
  if (p.retain && !limits_.retain_available)
    return mqtt::make_error_code(mqtt::reason_code::retain_not_supported);
  if (pkt != nullptr && too_large(*pkt))
    return mqtt::make_error_code(mqtt::reason_code::packet_too_large);
  return {};
}

std::error_code session::publish(mqtt::publish p, publish_handler&& done) {
  // The full topic is always required, even with a Topic Alias: the alias is this
  // session's business (it is per connection, and a resend may go out on a new one).
  if (!mqtt::is_valid_topic_name(p.topic)) return make_error_code(errc::invalid_topic);
  p.packet_id = 0;
  p.dup = false;
  if (cfg_.version != mqtt::version::v5) p.props = {};
  if (online_) {
    if (auto ec = check_limits(p, nullptr)) return ec;
  }
  if (p.qos == mqtt::qos::at_most_once && online_ && queued_.empty()) {
    mqtt::packet pkt{std::move(p)};
    if (too_large(pkt)) return mqtt::make_error_code(mqtt::reason_code::packet_too_large);
    send_publish(pkt, std::move(done));
    return {};
  }
  if (cfg_.max_queued != 0 && queued_.size() >= cfg_.max_queued)
    return make_error_code(errc::queue_full);
  queued_.push_back(outgoing{mqtt::packet{std::move(p)}, std::move(done), stage::queued});
  if (online_) {
    admit();
    run_completions();
  }
  return {};
}

std::error_code session::subscribe(mqtt::subscribe s, subscribe_handler&& done) {
  if (s.subscriptions.empty()) return make_error_code(errc::invalid_topic);
  for (const auto& sub : s.subscriptions) {
    if (!mqtt::is_valid_topic_filter(sub.filter)) return make_error_code(errc::invalid_topic);
  }
  if (cfg_.version != mqtt::version::v5) s.props = {};
  request r;
  r.pkt = std::move(s);
  r.on_suback = std::move(done);
  requests_.push_back(std::move(r));
  if (online_) send_request(requests_.back());
  return {};
}

std::error_code session::unsubscribe(mqtt::unsubscribe u, unsubscribe_handler&& done) {
  if (u.filters.empty()) return make_error_code(errc::invalid_topic);
  for (const auto& f : u.filters) {
    if (!mqtt::is_valid_topic_filter(f)) return make_error_code(errc::invalid_topic);
  }
  if (cfg_.version != mqtt::version::v5) u.props = {};
  request r;
  r.pkt = std::move(u);
  r.on_unsuback = std::move(done);
  requests_.push_back(std::move(r));
  if (online_) send_request(requests_.back());
  return {};
}

void session::send_request(request& r) {
  if (r.id == 0) {
    r.id = ids_.allocate();
    if (r.id == 0) return;  // every identifier busy: sent on the next connection
  }
  if (auto* s = std::get_if<mqtt::subscribe>(&r.pkt)) s->packet_id = r.id;
  if (auto* u = std::get_if<mqtt::unsubscribe>(&r.pkt)) u->packet_id = r.id;
  events_.send(r.pkt, {});
}

// Moves queued messages onto the wire while the server's window allows.
void session::admit() {
  while (online_ && !queued_.empty()) {
    outgoing& m = queued_.front();
    mqtt::publish& p = m.pub();
    // Limits are known only once connected; a message queued before may exceed them.
    if (auto ec = check_limits(p, &m.pkt)) {
      complete(m.done, ec);
      queued_.pop_front();
      continue;
    }
    if (p.qos == mqtt::qos::at_most_once) {
      send_publish(m.pkt, std::move(m.done));
      queued_.pop_front();
      continue;
    }
    // v5 [MQTT-3.3.4-7]: no more unacknowledged QoS 1/2 PUBLISH than Receive Maximum.
    if (inflight_.size() >= window()) break;
    const std::uint16_t id = ids_.allocate();
    if (id == 0) break;
    p.packet_id = id;
    m.st = p.qos == mqtt::qos::at_least_once ? stage::await_puback : stage::await_pubrec;
    inflight_.push_back(std::move(m));
    queued_.pop_front();
    send_publish(inflight_.back().pkt, {});
  }
}

// Sends one PUBLISH, replacing its topic with an alias already defined on this connection.
void session::send_publish(mqtt::packet& pkt, publish_handler written) {
  mqtt::publish& p = *std::get_if<mqtt::publish>(&pkt);
  if (cfg_.version != mqtt::version::v5 || !p.props.topic_alias) {
    events_.send(pkt, std::move(written));
    return;
  }
  const std::uint16_t alias = *p.props.topic_alias;
  if (alias == 0 || alias > limits_.topic_alias_maximum) {
    // v5 [MQTT-3.3.2-8], [MQTT-3.3.2-9]: not 0, not above the server's Topic Alias
    // Maximum. The server takes fewer aliases than asked for: send the topic alone.
    p.props.topic_alias.reset();
    events_.send(pkt, std::move(written));
    p.props.topic_alias = alias;
    return;
  }
  std::string& known = out_aliases_[alias - 1];
  if (known == p.topic) {
    // The alias stands for this topic on this connection: send an empty topic name.
    std::string topic = std::move(p.topic);
    p.topic.clear();
    events_.send(pkt, std::move(written));
    p.topic = std::move(topic);
    return;
  }
  known = p.topic;  // (re)defines the alias
  events_.send(pkt, std::move(written));
}

// ---------------------------------------------------------------- inbound

std::error_code session::on_packet(mqtt::packet& p) {
  std::error_code ec;
  if (auto* pub = std::get_if<mqtt::publish>(&p)) {
    ec = on_publish(*pub);
  } else if (auto* a = std::get_if<mqtt::puback>(&p)) {
    ec = on_puback(*a);
  } else if (auto* rec = std::get_if<mqtt::pubrec>(&p)) {
    ec = on_pubrec(*rec);
  } else if (auto* rel = std::get_if<mqtt::pubrel>(&p)) {
    ec = on_pubrel(*rel);
  } else if (auto* comp = std::get_if<mqtt::pubcomp>(&p)) {
    ec = on_pubcomp(*comp);
  } else if (auto* sa = std::get_if<mqtt::suback>(&p)) {
    ec = on_suback(*sa);
  } else if (auto* ua = std::get_if<mqtt::unsuback>(&p)) {
    ec = on_unsuback(*ua);
  } else {
    // CONNECT, SUBSCRIBE, PINGREQ... are client-to-server packets; AUTH needs an
    // authentication method we never send; a second CONNACK is a protocol error.
    ec = mqtt::make_error_code(mqtt::reason_code::protocol_error);
  }
  run_completions();
  return ec;
}

std::error_code session::on_publish(mqtt::publish& p) {
  if (cfg_.version == mqtt::version::v5 && p.props.topic_alias) {
    const std::uint16_t alias = *p.props.topic_alias;
    // v5 [MQTT-3.3.2-10]: we accept 1..the Topic Alias Maximum we sent; anything else is
    // Topic Alias invalid (section 3.3.2.3.4).
    if (alias == 0 || alias > in_aliases_.size())
      return mqtt::make_error_code(mqtt::reason_code::topic_alias_invalid);
    std::string& known = in_aliases_[alias - 1];
    if (p.topic.empty()) {
      if (known.empty()) return mqtt::make_error_code(mqtt::reason_code::protocol_error);
      p.topic = known;
    } else {
      known = p.topic;
    }
  } else if (p.topic.empty()) {
    return mqtt::make_error_code(mqtt::reason_code::protocol_error);
  }

  const std::uint16_t id = p.packet_id;
  switch (p.qos) {
    case mqtt::qos::at_most_once:
      events_.deliver(p);
      break;
    case mqtt::qos::at_least_once:
      events_.deliver(p);
      events_.send(mqtt::puback{id}, {});
      break;
    case mqtt::qos::exactly_once:
      // Deliver once: a PUBLISH resent before our PUBREC arrived (DUP) is only acknowledged
      // again (method B of section 4.3.3: the identifier is remembered until PUBREL).
      if (std::find(inbound_qos2_.begin(), inbound_qos2_.end(), id) == inbound_qos2_.end()) {
        inbound_qos2_.push_back(id);
        events_.deliver(p);
      }
      events_.send(mqtt::pubrec{id}, {});
      break;
  }
  return {};
}

std::deque<session::outgoing>::iterator session::find_inflight(std::uint16_t id, stage st) {
  // Acks come back in send order per QoS ([MQTT-4.6.0-2..4]), so this is nearly always
  // the first entry or close to it.
  return std::find_if(inflight_.begin(), inflight_.end(),
                      [&](outgoing& m) { return m.pub().packet_id == id && m.st == st; });
}

std::error_code session::on_puback(const mqtt::puback& a) {
  auto it = find_inflight(a.packet_id, stage::await_puback);
  if (it == inflight_.end()) return {};  // a stale ack (after a resend): nothing to do
  complete(it->done, ack_error(a.reason));
  ids_.release(a.packet_id);
  inflight_.erase(it);
  admit();
  return {};
}

std::error_code session::on_pubrec(const mqtt::pubrec& a) {
  auto it = find_inflight(a.packet_id, stage::await_pubrec);
  if (it == inflight_.end()) {
    // Complete the server's flow so it can free the identifier.
    mqtt::pubrel rel{a.packet_id};
    if (cfg_.version == mqtt::version::v5)
      rel.reason = mqtt::reason_code::packet_identifier_not_found;
    events_.send(rel, {});
    return {};
  }
  if (mqtt::is_failure(a.reason)) {
    // A failing PUBREC ends the exchange: no PUBREL (v5 section 4.3.3).
    complete(it->done, mqtt::make_error_code(a.reason));
    ids_.release(a.packet_id);
    inflight_.erase(it);
    admit();
    return {};
  }
  it->st = stage::await_pubcomp;
  // The server owns the message now; only the identifier matters from here on.
  std::string().swap(it->pub().payload);
  events_.send(mqtt::pubrel{a.packet_id}, {});
  return {};
}

std::error_code session::on_pubrel(const mqtt::pubrel& a) {
  auto it = std::find(inbound_qos2_.begin(), inbound_qos2_.end(), a.packet_id);
  mqtt::pubcomp comp{a.packet_id};
  if (it != inbound_qos2_.end()) {
    inbound_qos2_.erase(it);
  } else if (cfg_.version == mqtt::version::v5) {
    comp.reason = mqtt::reason_code::packet_identifier_not_found;
  }
  events_.send(comp, {});
  return {};
}

std::error_code session::on_pubcomp(const mqtt::pubcomp& a) {
  auto it = find_inflight(a.packet_id, stage::await_pubcomp);
  if (it == inflight_.end()) return {};
  complete(it->done, ack_error(a.reason));
  ids_.release(a.packet_id);
  inflight_.erase(it);
  admit();
  return {};
}

std::error_code session::on_suback(mqtt::suback& a) {
  auto it = std::find_if(requests_.begin(), requests_.end(), [&](const request& r) {
    return r.id == a.packet_id && std::holds_alternative<mqtt::subscribe>(r.pkt);
  });
  if (it == requests_.end()) return {};
  ids_.release(a.packet_id);
  const auto& s = *std::get_if<mqtt::subscribe>(&it->pkt);
  if (cfg_.resubscribe) {
    for (std::size_t i = 0; i < s.subscriptions.size() && i < a.reasons.size(); ++i) {
      if (a.reasons[i] >= 0x80) continue;
      const auto& sub = s.subscriptions[i];
      auto known =
          std::find_if(active_subs_.begin(), active_subs_.end(),
                       [&](const active_subscription& x) { return x.sub.filter == sub.filter; });
      if (known != active_subs_.end()) {
        known->sub = sub;
        known->props = s.props;
      } else {
        active_subs_.push_back({sub, s.props});
      }
    }
  }
  if (it->on_suback) {
    deferred_.push_back([h = std::move(it->on_suback), ack = std::move(a)] { h({}, ack); });
  }
  requests_.erase(it);
  return {};
}

std::error_code session::on_unsuback(mqtt::unsuback& a) {
  auto it = std::find_if(requests_.begin(), requests_.end(), [&](const request& r) {
    return r.id == a.packet_id && std::holds_alternative<mqtt::unsubscribe>(r.pkt);
  });
  if (it == requests_.end()) return {};
  ids_.release(a.packet_id);
  const auto& u = *std::get_if<mqtt::unsubscribe>(&it->pkt);
  std::erase_if(active_subs_, [&](const active_subscription& x) {
    return std::find(u.filters.begin(), u.filters.end(), x.sub.filter) != u.filters.end();
  });
  if (it->on_unsuback) {
    deferred_.push_back([h = std::move(it->on_unsuback), ack = std::move(a)] { h({}, ack); });
  }
  requests_.erase(it);
  return {};
}

// ---------------------------------------------------------------- completions

void session::complete(publish_handler& h, std::error_code ec) {
  if (h) completions_.push_back({std::move(h), ec});
  h = nullptr;
}

void session::run_completions() {
  // Handlers may call back into the session; they see a consistent state and their own
  // completions are collected for the next round of this (outermost) loop.
  if (completing_) return;
  completing_ = true;
  while (!completions_.empty() || !deferred_.empty()) {
    running_.swap(completions_);
    for (auto& c : running_) c.handler(c.ec);
    running_.clear();
    auto deferred = std::move(deferred_);
    deferred_.clear();
    for (auto& d : deferred) d();
  }
  completing_ = false;
}

}  // namespace natter::client
