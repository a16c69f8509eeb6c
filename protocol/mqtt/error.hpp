// MQTT reason codes as std::error_code values.
//
// The codec reports every violation as an error whose value is the reason code the
// specification names for it (MQTT 5.0 section 2.4), so the session can close the
// connection with exactly that code. For MQTT 3.1.1 connections the session maps it to
// the nearest CONNACK return code or to a plain close.
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>

namespace natter::mqtt {

enum class reason_code : std::uint8_t {
  success = 0x00,
  normal_disconnection = 0x00,
  granted_qos_0 = 0x00,
  granted_qos_1 = 0x01,
  granted_qos_2 = 0x02,
  disconnect_with_will_message = 0x04,
  no_matching_subscribers = 0x10,
  no_subscription_existed = 0x11,
  continue_authentication = 0x18,
  re_authenticate = 0x19,
  unspecified_error = 0x80,
  malformed_packet = 0x81,
  protocol_error = 0x82,
  implementation_specific_error = 0x83,
  unsupported_protocol_version = 0x84,
  client_identifier_not_valid = 0x85,
  bad_user_name_or_password = 0x86,
  not_authorized = 0x87,
  server_unavailable = 0x88,
  server_busy = 0x89,
  banned = 0x8A,
  server_shutting_down = 0x8B,
  bad_authentication_method = 0x8C,
  keep_alive_timeout = 0x8D,
  session_taken_over = 0x8E,
  topic_filter_invalid = 0x8F,
  topic_name_invalid = 0x90,
  packet_identifier_in_use = 0x91,
  packet_identifier_not_found = 0x92,
  receive_maximum_exceeded = 0x93,
  topic_alias_invalid = 0x94,
  packet_too_large = 0x95,
  message_rate_too_high = 0x96,
  quota_exceeded = 0x97,
  administrative_action = 0x98,
  payload_format_invalid = 0x99,
  retain_not_supported = 0x9A,
  qos_not_supported = 0x9B,
  use_another_server = 0x9C,
  server_moved = 0x9D,
  shared_subscriptions_not_supported = 0x9E,
  connection_rate_exceeded = 0x9F,
  maximum_connect_time = 0xA0,
  subscription_identifiers_not_supported = 0xA1,
  wildcard_subscriptions_not_supported = 0xA2,
};

// MQTT 3.1.1 CONNACK return codes (3.1.1 section 3.2.2.3).
enum class connack_v311 : std::uint8_t {
  accepted = 0x00,
  unacceptable_protocol_version = 0x01,
  identifier_rejected = 0x02,
  server_unavailable = 0x03,
  bad_user_name_or_password = 0x04,
  not_authorized = 0x05,
};

// The spec's name for a reason code, e.g. "Malformed Packet".
std::string_view to_string(reason_code rc) noexcept;

// The MQTT 3.1.1 CONNACK return code closest to a 5.0 CONNACK reason code.
connack_v311 to_v311_connack(reason_code rc) noexcept;

// True for codes >= 0x80 (failure), per MQTT 5.0 section 2.4.
constexpr bool is_failure(reason_code rc) noexcept {
  return static_cast<std::uint8_t>(rc) >= 0x80;
}

const std::error_category& reason_category() noexcept;
inline std::error_code make_error_code(reason_code rc) noexcept {
  return {static_cast<int>(rc), reason_category()};
}

// Not a violation: the input holds only part of a packet. Feed more bytes and retry.
enum class codec_errc { need_more_bytes = 1 };
const std::error_category& codec_category() noexcept;
inline std::error_code make_error_code(codec_errc e) noexcept {
  return {static_cast<int>(e), codec_category()};
}

// The reason code carried by an error from the codec (malformed_packet for foreign errors).
reason_code to_reason_code(std::error_code ec) noexcept;

}  // namespace natter::mqtt

template <>
struct std::is_error_code_enum<natter::mqtt::reason_code> : std::true_type {};
template <>
struct std::is_error_code_enum<natter::mqtt::codec_errc> : std::true_type {};
