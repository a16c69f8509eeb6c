// Everything an mqtt_client needs to know before it connects.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "client/backoff.hpp"
#include "client/url.hpp"
#include "mqtt/packet.hpp"

namespace boost::asio::ssl {
class context;
}

namespace natter::client {

struct tls_options {
  std::string ca_file;    // PEM bundle of trusted CAs
  std::string ca_path;    // directory of hashed CA certificates (c_rehash)
  std::string cert_file;  // client certificate chain (PEM), for servers that require one
  std::string key_file;   // its private key (PEM)
  // With neither ca_file nor ca_path the system's trust store is used (mosquitto's
  // --tls-use-os-certs, implied by mqtts:// URLs).
  bool verify_peer = true;
  // false is mosquitto's --insecure: the chain is still verified, the name is not.
  bool verify_hostname = true;
};

struct options {
  transport_kind transport = transport_kind::tcp;
  std::string host = "localhost";
  std::uint16_t port = 1883;
  std::string ws_path = "/mqtt";  // request target for ws:// and wss://
  tls_options tls;
  // Optional: one TLS context shared by many clients (a benchmark's thousands of
  // connections load the CA file once). Built from `tls` when empty.
  std::shared_ptr<boost::asio::ssl::context> ssl_context;

  // The CONNECT packet as sent: protocol version, client id, clean start, keep alive,
  // credentials, will (with its properties) and v5 properties (session expiry, receive
  // maximum, topic alias maximum, maximum packet size, user properties...).
  mqtt::connect connect;

  reconnect_options reconnect;
  // From the start of an attempt (DNS, TCP, TLS, WebSocket) to CONNACK.
  std::chrono::milliseconds connect_timeout{10'000};
  // QoS 1/2 PUBLISH awaiting acks, on top of the server's Receive Maximum.
  std::uint16_t max_inflight = 65535;
  // Messages waiting for a connection or for the window; 0: no limit.
  std::size_t max_queued = 0;
  // After reconnecting without a session, make the subscriptions again.
  bool resubscribe = true;
  // v5: reconnect with Clean Start 0 to resume the session when it outlives the
  // connection (Session Expiry Interval > 0).
  bool resume_session = true;
  bool tcp_nodelay = true;

  // Transport, host, port, path and credentials from a URL (see url.hpp).
  void apply(const server_url& url);
};

inline void options::apply(const server_url& url) {
  transport = url.transport;
  host = url.host;
  port = url.port;
  if (uses_websocket(url.transport) && !url.path.empty()) ws_path = url.path;
  if (url.username) connect.username = url.username;
  if (url.password) connect.password = url.password;
}

}  // namespace natter::client
