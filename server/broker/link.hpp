// What the broker sees of one network connection, whatever its transport (TCP, TLS,
// WebSocket). The broker calls these from its own strand; implementations hand the work
// to the connection's strand, so every call returns immediately.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace natter::broker {

// One encoded packet (or several), immutable, shareable between connections.
using frame = std::shared_ptr<const std::vector<std::uint8_t>>;

// Facts about a connection fixed when it is accepted.
struct link_info {
  std::string peer;          // "address:port", for logs and per-address limits
  std::string transport;     // "tcp", "tls", "ws" or "wss"
  std::size_t listener = 0;  // index of the listener it came in on
  // The client certificate's Common Name, when TLS verified one.
  std::optional<std::string> cert_identity;
};

class link {
 public:
  virtual ~link() = default;
  // Queue bytes for writing, in call order.
  virtual void send(frame f) = 0;
  // Write what is queued, then close. Sends after close() are dropped.
  virtual void close() = 0;
  // Close the connection if nothing arrives for this long (1.5 x Keep Alive
  // [MQTT-3.1.2-24]); zero disables.
  virtual void set_read_timeout(std::chrono::milliseconds t) = 0;
  virtual const link_info& info() const = 0;
  const std::string& peer() const { return info().peer; }
};

}  // namespace natter::broker
