// Encoding and decoding of MQTT control packets: bytes in, packets out, no I/O.
//
// decode() looks at the front of a byte buffer that may hold part of a packet, exactly one,
// or several (a TCP read or a WebSocket frame). It never reads past the packet it returns
// and never allocates for a packet it cannot yet complete, so a connection can keep one
// buffer, call decode() until need_more_bytes, and drop the consumed prefix.
//
// Every normative rule that can be checked on one packet in isolation is checked here and
// reported with the reason code the spec names (see error.hpp). Rules that need session
// state (first packet must be CONNECT, topic alias ranges, packet ids in use, which side
// may send which packet) are the session's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

#include "packet.hpp"
#include "result.hpp"

namespace natter::mqtt {

// The largest Remaining Length a 4-byte variable byte integer can express (1.5.5).
inline constexpr std::uint32_t max_remaining_length = 268'435'455;

struct decode_options {
  // The version negotiated by CONNECT. A CONNECT packet is decoded by the version its own
  // protocol level names, whatever this says.
  version protocol_version = version::v5;
  // Largest whole packet (fixed header included) accepted; larger ones fail with
  // packet_too_large as soon as the fixed header is complete.
  std::uint32_t maximum_packet_size = max_remaining_length + 5;
};

struct decoded {
  packet pkt;
  std::size_t size = 0;  // bytes consumed from the front of the input
};

// Decode the packet at the front of `in`.
//   value: the packet and its size.
//   codec_errc::need_more_bytes: `in` holds an incomplete packet (not an error).
//   reason_code::*: the packet violates the spec; the connection must be closed.
result<decoded> decode(std::span<const std::uint8_t> in, const decode_options& opts);

// Append the wire form of `p` for protocol version `v` to `out`.
void encode(const packet& p, version v, std::vector<std::uint8_t>& out);

// The size encode() would append, without encoding.
std::size_t encoded_size(const packet& p, version v);

// The same for one concrete packet type, e.g. encode(a_publish, v, out): without these the
// call would first copy the packet into a temporary `packet` (strings and all).
namespace detail {
template <class T, class Variant>
inline constexpr bool is_alternative_v = false;
template <class T, class... Ts>
inline constexpr bool is_alternative_v<T, std::variant<Ts...>> = (std::is_same_v<T, Ts> || ...);
}  // namespace detail
template <class T>
concept packet_alternative = detail::is_alternative_v<T, packet>;

template <packet_alternative T>
void encode(const T& p, version v, std::vector<std::uint8_t>& out);
template <packet_alternative T>
std::size_t encoded_size(const T& p, version v);

}  // namespace natter::mqtt
