// The client side of one MQTT session, without I/O: packet identifiers, the QoS 1/2
// flows in both directions, the inflight window, topic aliases, and what to resend when
// a connection is re-established.
//
// The owner (mqtt_client) moves bytes and runs timers; it feeds this class the packets it
// decodes and the requests the application makes, and this class calls back
// session_events::send() with the packets to write. Nothing here blocks or allocates per
// message beyond the packets themselves, so it is tested with plain function calls.
//
// Invariants:
//  - every QoS>0 PUBLISH in inflight_ holds a packet identifier from ids_, and
//    inflight_.size() <= window() (the server's Receive Maximum, v5 [MQTT-3.3.4-7]);
//  - queued_ holds messages not yet sent on the current connection, in submission order;
//  - a completion handler runs exactly once, after the session's state is consistent
//    (collected while processing, run at the end of the public call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "client/packet_ids.hpp"
#include "mqtt/packet.hpp"

namespace natter::client {

// PUBLISH completion: QoS 0 once written, QoS 1 on PUBACK, QoS 2 on PUBCOMP (or on a
// failing PUBREC). The error is a failing reason code of the ack, or why it never got one.
using publish_handler = std::function<void(std::error_code)>;
using subscribe_handler = std::function<void(std::error_code, const mqtt::suback&)>;
using unsubscribe_handler = std::function<void(std::error_code, const mqtt::unsuback&)>;

class session_events {
 public:
  virtual ~session_events() = default;
  // Write `p` on the current connection. `written`, if set, runs once the bytes have been
  // written, or with an error if the connection drops first.
  virtual void send(const mqtt::packet& p, publish_handler written) = 0;
  // An application message from the server (topic alias already resolved).
  virtual void deliver(mqtt::publish& p) = 0;
};

struct session_config {
  mqtt::version version = mqtt::version::v5;
  std::uint16_t max_inflight = 65535;     // our own cap on QoS>0 PUBLISH in flight
  std::uint16_t topic_alias_maximum = 0;  // inbound aliases we accept (CONNECT property)
  std::size_t max_queued = 0;             // messages waiting to be sent; 0: no limit
  bool resubscribe = true;                // after a reconnect without a session
};

// What the server accepts: CONNACK properties, or the spec's defaults when absent.
struct server_limits {
  std::uint16_t receive_maximum = 65535;
  std::uint8_t maximum_qos = 2;
  bool retain_available = true;
  std::uint32_t maximum_packet_size = 0;  // 0: no limit
  std::uint16_t topic_alias_maximum = 0;

  static server_limits from(const mqtt::connack& ca, mqtt::version v);
};

struct active_subscription {
  mqtt::subscription sub;
  mqtt::properties props;  // of the SUBSCRIBE that made it (subscription identifier, ...)
};

class session {
 public:
  session(session_events& events, session_config cfg);

  // ---- connection lifecycle
  // A CONNACK accepting the connection: resend what the server's session still expects,
  // requeue what a lost session forgot, then send what waited for the connection.
  void on_connected(const mqtt::connack& ca);
  // The connection is gone; everything stays queued for the next one.
  void on_connection_lost();
  // The session is over (the client gave up): every pending operation completes with `ec`.
  void fail_all(std::error_code ec);

  // ---- application requests. An error means rejected at once: the handler is left
  // untouched (not moved from) for the caller to report. Sent now when online (and the
  // window allows), else queued.
  std::error_code publish(mqtt::publish p, publish_handler&& done);
  std::error_code subscribe(mqtt::subscribe s, subscribe_handler&& done);
  std::error_code unsubscribe(mqtt::unsubscribe u, unsubscribe_handler&& done);

  // ---- a packet from the server after CONNACK (not DISCONNECT or PINGRESP, which are
  // the connection's). An error is a protocol violation: close with that reason code.
  std::error_code on_packet(mqtt::packet& p);

  bool online() const noexcept { return online_; }
  const server_limits& limits() const noexcept { return limits_; }
  std::size_t inflight() const noexcept { return inflight_.size(); }
  std::size_t queued() const noexcept { return queued_.size(); }
  std::size_t pending_requests() const noexcept { return requests_.size(); }
  std::size_t packet_ids_in_use() const noexcept { return ids_.size(); }
  const std::vector<active_subscription>& subscriptions() const noexcept { return active_subs_; }
  // Window for QoS>0 PUBLISH: min(server Receive Maximum, our max_inflight).
  std::size_t window() const noexcept;

 private:
  enum class stage : std::uint8_t { queued, await_puback, await_pubrec, await_pubcomp };
  struct outgoing {
    mqtt::packet pkt;  // always an mqtt::publish; a packet so it encodes without a copy
    publish_handler done;
    stage st = stage::queued;
    mqtt::publish& pub() { return *std::get_if<mqtt::publish>(&pkt); }
  };
  struct request {
    mqtt::packet pkt;  // mqtt::subscribe or mqtt::unsubscribe
    subscribe_handler on_suback;
    unsubscribe_handler on_unsuback;
    std::uint16_t id = 0;   // 0: not sent on this session yet
    bool internal = false;  // a resubscription the session made itself
  };
  struct completion {
    publish_handler handler;
    std::error_code ec;
  };

  std::error_code check_limits(const mqtt::publish& p, const mqtt::packet* pkt) const;
  bool too_large(const mqtt::packet& p) const;
  void admit();
  void send_publish(mqtt::packet& pkt, publish_handler written);
  void send_request(request& r);
  void complete(publish_handler& h, std::error_code ec);
  void run_completions();
  std::deque<outgoing>::iterator find_inflight(std::uint16_t id, stage st);

  std::error_code on_publish(mqtt::publish& p);
  std::error_code on_puback(const mqtt::puback& a);
  std::error_code on_pubrec(const mqtt::pubrec& a);
  std::error_code on_pubrel(const mqtt::pubrel& a);
  std::error_code on_pubcomp(const mqtt::pubcomp& a);
  std::error_code on_suback(mqtt::suback& a);
  std::error_code on_unsuback(mqtt::unsuback& a);

  session_events& events_;
  session_config cfg_;
  server_limits limits_;
  bool online_ = false;
  bool connected_before_ = false;
  packet_id_allocator ids_;
  std::deque<outgoing> inflight_;            // sent, awaiting their acks, in send order
  std::deque<outgoing> queued_;              // not yet sent on this connection
  std::deque<request> requests_;             // SUBSCRIBE / UNSUBSCRIBE awaiting their acks
  std::vector<std::uint16_t> inbound_qos2_;  // PUBREC sent, PUBREL not yet received
  std::vector<std::string> out_aliases_;     // alias-1 -> topic, this connection
  std::vector<std::string> in_aliases_;      // alias-1 -> topic, this connection
  std::vector<active_subscription> active_subs_;
  std::vector<completion> completions_;
  std::vector<completion> running_;
  std::vector<std::function<void()>> deferred_;  // SUBACK/UNSUBACK handlers (rare)
  bool completing_ = false;
};

}  // namespace natter::client
