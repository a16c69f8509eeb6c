// Server URLs: mqtt://, mqtts://, ws://, wss:// with optional user:password@ and a path.
//
//   mqtt://[user[:password]@]host[:port][/path]
//
// The transport is chosen by the scheme. For ws:// and wss:// the path is the HTTP
// request target (default "/mqtt", the path MQTT.js and mosquitto's listeners use); for
// mqtt:// and mqtts:// it is kept for callers that give it a meaning (natter-pub -L puts
// the topic there, like mosquitto_pub). IPv6 hosts are written in brackets.
#pragma once

#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace natter::client {

enum class transport_kind : std::uint8_t { tcp, tls, ws, wss };

constexpr bool uses_tls(transport_kind t) noexcept {
  return t == transport_kind::tls || t == transport_kind::wss;
}
constexpr bool uses_websocket(transport_kind t) noexcept {
  return t == transport_kind::ws || t == transport_kind::wss;
}

// 1883, 8883, 80, 443.
std::uint16_t default_port(transport_kind t) noexcept;

// "mqtt", "mqtts", "ws", "wss".
std::string_view scheme_name(transport_kind t) noexcept;

struct server_url {
  transport_kind transport = transport_kind::tcp;
  std::string host;
  std::uint16_t port = 0;  // the scheme's default when the URL names none
  bool port_given = false;
  std::string path;                     // "" or starting with '/', percent-encoding kept
  std::optional<std::string> username;  // percent-decoded
  std::optional<std::string> password;  // percent-decoded
};

// errc::unsupported_scheme for an unknown scheme, errc::invalid_url for anything else
// malformed (no host, a bad port, a bad percent escape).
boost::system::result<server_url, std::error_code> parse_url(std::string_view url);

}  // namespace natter::client
