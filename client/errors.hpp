// Errors the client reports that are not MQTT reason codes or network errors.
//
// Completion handlers and state changes carry a std::error_code from one of three
// categories: the codec's reason codes (a refusing CONNACK, a failing PUBACK, a server
// DISCONNECT, a packet the server got wrong), Asio's (the network), and this one.
#pragma once

#include <system_error>

namespace natter::client {

enum class errc {
  not_connected = 1,     // no connection and none being made (reconnect disabled)
  disconnected,          // disconnect() or close() ended the operation before it completed
  connection_lost,       // the connection dropped before the packet was written
  connect_timeout,       // no CONNACK within options::connect_timeout
  keep_alive_timeout,    // no PINGRESP within the keep alive
  queue_full,            // options::max_queued messages already wait for the connection
  packet_ids_exhausted,  // all 65535 packet identifiers are in use
  invalid_url,
  unsupported_scheme,
  invalid_topic,
};

const std::error_category& client_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), client_category()};
}

}  // namespace natter::client

template <>
struct std::is_error_code_enum<natter::client::errc> : std::true_type {};
