// The load generator's hot path on the wire: PUBLISH packets stamped from a template and
// incoming PUBLISH packets read in place.
//
// The codec (protocol/mqtt) encodes every packet natter-bench sends and decodes every packet
// it receives except PUBLISH. A PUBLISH the generator sends is encoded once by the codec
// into a template; each copy only gets its packet id and the first bytes of its payload
// (the stamp) overwritten. A PUBLISH it receives is read in place (topic and payload are
// views into the read buffer), because decoding it into strings would cost the generator,
// which shares the machine's cores with the broker under test, as much as the broker
// spends routing it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/packet.hpp"

namespace natter::bench {

// The first bytes of every benchmark payload: who sent it, its sequence number, and when
// it was (meant to be) sent, in steady_clock nanoseconds. Native byte order: the same
// process reads it back.
struct stamp {
  std::uint32_t source = 0;  // publisher index
  std::uint32_t flags = 0;   // scenario-defined (e.g. chat: sent during warm-up)
  std::uint64_t seq = 0;
  std::int64_t sent_ns = 0;
};
inline constexpr std::size_t stamp_size = sizeof(stamp);
static_assert(stamp_size == 24);

inline std::optional<stamp> read_stamp(std::span<const std::uint8_t> payload) {
  if (payload.size() < stamp_size) return std::nullopt;
  stamp s;
  std::memcpy(&s, payload.data(), stamp_size);
  return s;
}

// One PUBLISH encoded by the codec, copied out with a new packet id and stamp.
class publish_template {
 public:
  publish_template() = default;
  // payload_size >= stamp_size; the rest of the payload is 'x'.
  publish_template(std::string topic, std::size_t payload_size, mqtt::qos q, bool retain,
                   mqtt::version v);

  void append(std::vector<std::uint8_t>& out, std::uint16_t packet_id, const stamp& s) const;
  std::size_t size() const noexcept { return bytes_.size(); }
  mqtt::qos qos() const noexcept { return qos_; }

 private:
  std::vector<std::uint8_t> bytes_;
  std::size_t id_offset_ = 0;  // 0: QoS 0, no packet id
  std::size_t payload_offset_ = 0;
  mqtt::qos qos_ = mqtt::qos::at_most_once;
};

// A received PUBLISH, pointing into the read buffer (valid during the callback only).
struct publish_view {
  std::string_view topic;
  std::span<const std::uint8_t> payload;
  mqtt::qos qos = mqtt::qos::at_most_once;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;
};

// The packet at the front of `in`: its first byte and total size, or nullopt while
// incomplete. A Remaining Length longer than 4 bytes is reported as size 0 (malformed).
struct frame {
  std::uint8_t header = 0;
  std::size_t header_size = 0;  // fixed header: type byte + Remaining Length bytes
  std::size_t size = 0;         // the whole packet
};
std::optional<frame> next_frame(std::span<const std::uint8_t> in);

// Reads the PUBLISH in `packet` (a whole frame); false if malformed. With a v5 topic
// alias the topic comes back empty (natter-bench never asks for aliases).
bool read_publish(std::span<const std::uint8_t> packet, const frame& f, mqtt::version v,
                  publish_view& out);

}  // namespace natter::bench
