// What the broker sees of one network connection, whatever its transport (TCP, TLS,
// WebSocket). The broker calls these from its own strand; implementations hand the work
// to the connection's strand, so every call returns immediately.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace natter::broker {

// One encoded packet (or several), immutable, shareable between connections.
using frame = std::shared_ptr<const std::vector<std::uint8_t>>;

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
  // "address:port" of the peer, for logs.
  virtual const std::string& peer() const = 0;
};

}  // namespace natter::broker
