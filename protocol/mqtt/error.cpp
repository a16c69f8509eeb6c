// Reason codes as error_code values: names, categories, and the 3.1.1 CONNACK mapping.
#include "mqtt/error.hpp"

#include <string>

namespace natter::mqtt {

std::string_view to_string(reason_code rc) noexcept {
  // Names as MQTT 5.0 section 2.4 (Table 2-6) spells them. 0x00 has three names (Success,
  // Normal disconnection, Granted QoS 0); the generic one is returned.
  switch (static_cast<std::uint8_t>(rc)) {
    case 0x00:
      return "Success";
    case 0x01:
      return "Granted QoS 1";
    case 0x02:
      return "Granted QoS 2";
    case 0x04:
      return "Disconnect with Will Message";
    case 0x10:
      return "No matching subscribers";
    case 0x11:
      return "No subscription existed";
    case 0x18:
      return "Continue authentication";
    case 0x19:
      return "Re-authenticate";
    case 0x80:
      return "Unspecified error";
    case 0x81:
      return "Malformed Packet";
    case 0x82:
      return "Protocol Error";
    case 0x83:
      return "Implementation specific error";
    case 0x84:
      return "Unsupported Protocol Version";
    case 0x85:
      return "Client Identifier not valid";
    case 0x86:
      return "Bad User Name or Password";
    case 0x87:
      return "Not authorized";
    case 0x88:
      return "Server unavailable";
    case 0x89:
      return "Server busy";
    case 0x8A:
      return "Banned";
    case 0x8B:
      return "Server shutting down";
    case 0x8C:
      return "Bad authentication method";
    case 0x8D:
      return "Keep Alive timeout";
    case 0x8E:
      return "Session taken over";
    case 0x8F:
      return "Topic Filter invalid";
    case 0x90:
      return "Topic Name invalid";
    case 0x91:
      return "Packet Identifier in use";
    case 0x92:
      return "Packet Identifier not found";
    case 0x93:
      return "Receive Maximum exceeded";
    case 0x94:
      return "Topic Alias invalid";
    case 0x95:
      return "Packet too large";
    case 0x96:
      return "Message rate too high";
    case 0x97:
      return "Quota exceeded";
    case 0x98:
      return "Administrative action";
    case 0x99:
      return "Payload format invalid";
    case 0x9A:
      return "Retain not supported";
    case 0x9B:
      return "QoS not supported";
    case 0x9C:
      return "Use another server";
    case 0x9D:
      return "Server moved";
    case 0x9E:
      return "Shared Subscriptions not supported";
    case 0x9F:
      return "Connection rate exceeded";
    case 0xA0:
      return "Maximum connect time";
    case 0xA1:
      return "Subscription Identifiers not supported";
    case 0xA2:
      return "Wildcard Subscriptions not supported";
    default:
      return "Unknown reason code";
  }
}

// 3.1.1 has five refusal codes. The mapping keeps the ones with an exact counterpart and
// otherwise splits by who is at fault: refusals about this client's rights (banned, not
// authorized, bad authentication method) become 5 "not authorized", as mosquitto does for
// v3 clients; everything else (server state, quotas, malformed or unsupported requests)
// becomes 3 "server unavailable", the only generic refusal 3.1.1 offers.
connack_v311 to_v311_connack(reason_code rc) noexcept {
  switch (rc) {
    case reason_code::success:
      return connack_v311::accepted;
    case reason_code::unsupported_protocol_version:
      return connack_v311::unacceptable_protocol_version;
    case reason_code::client_identifier_not_valid:
      return connack_v311::identifier_rejected;
    case reason_code::bad_user_name_or_password:
      return connack_v311::bad_user_name_or_password;
    case reason_code::not_authorized:
    case reason_code::banned:
    case reason_code::bad_authentication_method:
      return connack_v311::not_authorized;
    case reason_code::server_unavailable:
    case reason_code::server_busy:
      return connack_v311::server_unavailable;
    default:
      // Codes below 0x80 are not refusals: the connection was accepted.
      return is_failure(rc) ? connack_v311::server_unavailable : connack_v311::accepted;
  }
}

namespace {

class reason_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "natter.mqtt.reason"; }
  std::string message(int ev) const override {
    if (ev < 0 || ev > 0xFF) return "Unknown reason code";
    return std::string(to_string(static_cast<reason_code>(ev)));
  }
};

class codec_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "natter.mqtt.codec"; }
  std::string message(int ev) const override {
    switch (static_cast<codec_errc>(ev)) {
      case codec_errc::need_more_bytes:
        return "need more bytes";
    }
    return "unknown codec error";
  }
};

}  // namespace

const std::error_category& reason_category() noexcept {
  static const reason_category_impl instance;
  return instance;
}

const std::error_category& codec_category() noexcept {
  static const codec_category_impl instance;
  return instance;
}

reason_code to_reason_code(std::error_code ec) noexcept {
  if (!ec) return reason_code::success;
  if (ec.category() == reason_category() && ec.value() >= 0 && ec.value() <= 0xFF)
    return static_cast<reason_code>(ec.value());
  // need_more_bytes at end of stream, or anything not from the codec: the peer sent
  // something we could not parse.
  return reason_code::malformed_packet;
}

}  // namespace natter::mqtt
