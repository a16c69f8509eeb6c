// An application message as the broker routes it: immutable once published, shared by
// every session it is delivered to or queued for.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "mqtt/packet.hpp"

namespace natter::broker {

using clock = std::chrono::steady_clock;

struct message {
  std::string topic;
  std::string payload;
  mqtt::qos qos = mqtt::qos::at_most_once;
  bool retain = false;
  // The publication properties the server forwards unchanged [MQTT-3.3.2-*]: payload format
  // indicator, content type, response topic, correlation data, user properties. Topic alias,
  // subscription identifiers and message expiry are per delivery and are not kept here.
  mqtt::properties props;
  // When message_expiry_interval was set: the moment the message expires [MQTT-3.3.2-5].
  std::optional<clock::time_point> expires_at;
  std::string publisher_id;  // client id of the publisher ("" for the server itself)

  bool expired(clock::time_point now) const { return expires_at && now >= *expires_at; }
  std::size_t weight() const { return topic.size() + payload.size() + sizeof(message); }
};

using message_ptr = std::shared_ptr<const message>;

// Keep only the properties a PUBLISH forwards, and turn a relative expiry into a deadline.
std::shared_ptr<message> make_message(mqtt::publish&& p, std::string publisher_id,
                                      clock::time_point now);

}  // namespace natter::broker
