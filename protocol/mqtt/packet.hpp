// The MQTT 3.1.1 and 5.0 control packets as plain values.
//
// One struct per packet type, shared by both versions: fields that exist only in 5.0
// (properties, reason codes on acks) are ignored when encoding for 3.1.1 and left at
// their defaults when decoding 3.1.1. Strings hold bytes exactly as on the wire (UTF-8
// already validated by the decoder where the spec requires it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "error.hpp"

namespace natter::mqtt {

// The protocol level byte of CONNECT.
enum class version : std::uint8_t { v311 = 4, v5 = 5 };

enum class packet_type : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

enum class qos : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

// MQTT 5.0 properties (section 2.2.2.2). Absent properties are nullopt/empty. Which
// properties a packet may carry is checked by the decoder (a misplaced property is a
// Malformed Packet, 2.2.2.2) and respected by the encoder (misplaced ones are not written).
struct properties {
  std::optional<std::uint8_t> payload_format_indicator;      // 0x01
  std::optional<std::uint32_t> message_expiry_interval;      // 0x02
  std::optional<std::string> content_type;                   // 0x03
  std::optional<std::string> response_topic;                 // 0x08
  std::optional<std::string> correlation_data;               // 0x09 (binary)
  std::vector<std::uint32_t> subscription_identifiers;       // 0x0B (varint, repeatable in PUBLISH)
  std::optional<std::uint32_t> session_expiry_interval;      // 0x11
  std::optional<std::string> assigned_client_identifier;     // 0x12
  std::optional<std::uint16_t> server_keep_alive;            // 0x13
  std::optional<std::string> authentication_method;          // 0x15
  std::optional<std::string> authentication_data;            // 0x16 (binary)
  std::optional<std::uint8_t> request_problem_information;   // 0x17
  std::optional<std::uint32_t> will_delay_interval;          // 0x18
  std::optional<std::uint8_t> request_response_information;  // 0x19
  std::optional<std::string> response_information;           // 0x1A
  std::optional<std::string> server_reference;               // 0x1C
  std::optional<std::string> reason_string;                  // 0x1F
  std::optional<std::uint16_t> receive_maximum;              // 0x21
  std::optional<std::uint16_t> topic_alias_maximum;          // 0x22
  std::optional<std::uint16_t> topic_alias;                  // 0x23
  std::optional<std::uint8_t> maximum_qos;                   // 0x24
  std::optional<std::uint8_t> retain_available;              // 0x25
  std::vector<std::pair<std::string, std::string>> user_properties;  // 0x26 (repeatable, ordered)
  std::optional<std::uint32_t> maximum_packet_size;                  // 0x27
  std::optional<std::uint8_t> wildcard_subscription_available;       // 0x28
  std::optional<std::uint8_t> subscription_identifier_available;     // 0x29
  std::optional<std::uint8_t> shared_subscription_available;         // 0x2A

  bool operator==(const properties&) const = default;
};

struct will {
  std::string topic;
  std::string payload;  // binary
  mqtt::qos qos = mqtt::qos::at_most_once;
  bool retain = false;
  properties props;  // 5.0 will properties
  bool operator==(const will&) const = default;
};

struct connect {
  version protocol_version = version::v5;
  std::string protocol_name = "MQTT";  // "MQTT"; decoder also accepts only that
  bool clean_start = true;             // Clean Session in 3.1.1
  std::uint16_t keep_alive = 0;        // seconds
  std::string client_id;
  std::optional<struct will> will;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary
  properties props;
  bool operator==(const connect&) const = default;
};

struct connack {
  bool session_present = false;
  // 5.0: the reason code. 3.1.1: the return code (see connack_v311), stored in the same byte.
  std::uint8_t reason = 0;
  properties props;
  bool operator==(const connack&) const = default;
};

struct publish {
  std::string topic;  // may be empty in 5.0 when props.topic_alias is set
  std::string payload;
  mqtt::qos qos = mqtt::qos::at_most_once;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;  // 0 iff qos == at_most_once
  properties props;
  bool operator==(const publish&) const = default;
};

// PUBACK, PUBREC, PUBREL, PUBCOMP share one shape (5.0 section 3.4-3.7).
template <packet_type Type>
struct basic_ack {
  static constexpr packet_type type = Type;
  std::uint16_t packet_id = 0;
  reason_code reason = reason_code::success;
  properties props;
  bool operator==(const basic_ack&) const = default;
};
using puback = basic_ack<packet_type::puback>;
using pubrec = basic_ack<packet_type::pubrec>;
using pubrel = basic_ack<packet_type::pubrel>;
using pubcomp = basic_ack<packet_type::pubcomp>;

// Subscription Options byte (5.0 section 3.8.3.1); 3.1.1 uses only max_qos.
struct subscription {
  std::string filter;
  mqtt::qos max_qos = mqtt::qos::at_most_once;
  bool no_local = false;
  bool retain_as_published = false;
  std::uint8_t retain_handling = 0;  // 0 send on subscribe, 1 only if new, 2 never
  bool operator==(const subscription&) const = default;
};

struct subscribe {
  std::uint16_t packet_id = 0;
  std::vector<subscription> subscriptions;  // never empty once decoded
  properties props;
  bool operator==(const subscribe&) const = default;
};

struct suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> reasons;  // 3.1.1: 0x00-0x02 or 0x80
  properties props;
  bool operator==(const suback&) const = default;
};

struct unsubscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;  // never empty once decoded
  properties props;
  bool operator==(const unsubscribe&) const = default;
};

struct unsuback {
  std::uint16_t packet_id = 0;
  std::vector<reason_code> reasons;  // 5.0 only; 3.1.1 UNSUBACK has no payload
  properties props;
  bool operator==(const unsuback&) const = default;
};

struct pingreq {
  bool operator==(const pingreq&) const = default;
};
struct pingresp {
  bool operator==(const pingresp&) const = default;
};

struct disconnect {
  reason_code reason = reason_code::normal_disconnection;
  properties props;
  bool operator==(const disconnect&) const = default;
};

struct auth {
  reason_code reason = reason_code::success;
  properties props;
  bool operator==(const auth&) const = default;
};

using packet = std::variant<connect, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe,
                            suback, unsubscribe, unsuback, pingreq, pingresp, disconnect, auth>;

packet_type type_of(const packet& p) noexcept;

}  // namespace natter::mqtt
