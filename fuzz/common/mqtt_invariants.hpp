// Properties of the MQTT codec (protocol/mqtt) that hold for every input, shared by the MQTT
// fuzz targets and the WebSocket one:
//   - whatever decodes re-encodes to bytes that decode to the same packet, encoded_size()
//     is exact, and the typed encode() writes the same bytes as the variant one;
//   - a proper prefix of a packet that decodes is only ever "need more bytes", never an error
//     (a connection that got the packet in pieces must not be closed for it);
//   - a packet of N bytes passes maximum_packet_size N and fails N-1 with Packet Too Large;
//   - the UTF-8 validator agrees with a plain code-point decoder written from RFC 3629.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "check.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/topic.hpp"

namespace natter::fuzz {

namespace mqtt = natter::mqtt;
using bytes_view = std::span<const std::uint8_t>;

// The version a decoded packet is written in: a CONNECT names its own.
inline mqtt::version encode_version(const mqtt::packet& p, mqtt::version negotiated) {
  if (const auto* c = std::get_if<mqtt::connect>(&p)) return c->protocol_version;
  return negotiated;
}

inline void check_round_trip(const mqtt::packet& p, mqtt::version negotiated) {
  const mqtt::version v = encode_version(p, negotiated);
  std::vector<std::uint8_t> out{0xA5};  // encode() appends: what was there must stay
  mqtt::encode(p, v, out);
  NATTER_FUZZ_CHECK(out.front() == 0xA5);
  const bytes_view wire(out.data() + 1, out.size() - 1);
  NATTER_FUZZ_CHECK(wire.size() == mqtt::encoded_size(p, v));

  std::vector<std::uint8_t> typed;
  std::visit([&](const auto& pkt) { mqtt::encode(pkt, v, typed); }, p);
  NATTER_FUZZ_CHECK(std::ranges::equal(typed, wire));
  std::visit([&](const auto& pkt) { NATTER_FUZZ_CHECK(mqtt::encoded_size(pkt, v) == wire.size()); },
             p);

  auto again = mqtt::decode(wire, {v});
  NATTER_FUZZ_CHECK(again.has_value());
  NATTER_FUZZ_CHECK(again->size == wire.size());
  NATTER_FUZZ_CHECK(again->pkt == p);
  NATTER_FUZZ_CHECK(mqtt::type_of(again->pkt) == mqtt::type_of(p));
}

inline bool need_more(const mqtt::result<mqtt::decoded>& r) {
  return r.has_error() && r.error() == mqtt::codec_errc::need_more_bytes;
}

// `in` starts with a packet of `size` bytes that decoded with `opts`.
inline void check_prefixes(bytes_view in, std::size_t size, const mqtt::decode_options& opts) {
  auto probe = [&](std::size_t k) {
    NATTER_FUZZ_CHECK(need_more(mqtt::decode(in.first(k), opts)));
  };
  if (size <= 64) {
    for (std::size_t k = 0; k < size; ++k) probe(k);
  } else {
    for (std::size_t k = 0; k < 6; ++k) probe(k);  // the fixed header, byte by byte
    probe(size / 2);
    probe(size - 1);
  }
}

inline void check_size_limit(bytes_view in, std::size_t size, mqtt::decode_options opts,
                             const mqtt::packet& expected) {
  opts.maximum_packet_size = static_cast<std::uint32_t>(size);
  auto exact = mqtt::decode(in.first(size), opts);  // nothing after the packet is looked at
  NATTER_FUZZ_CHECK(exact.has_value());
  NATTER_FUZZ_CHECK(exact->size == size);
  NATTER_FUZZ_CHECK(exact->pkt == expected);
  opts.maximum_packet_size = static_cast<std::uint32_t>(size - 1);
  auto over = mqtt::decode(in, opts);
  NATTER_FUZZ_CHECK(over.has_error());
  NATTER_FUZZ_CHECK(over.error() == mqtt::reason_code::packet_too_large);
}

// RFC 3629 by the book: decode each code point, then judge it.
inline bool reference_utf8(std::string_view s, bool allow_nul) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned c = p[i];
    std::size_t len;
    std::uint32_t cp, min;
    if (c < 0x80) {
      len = 1, cp = c, min = 0;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    if (cp == 0 && !allow_nul) return false;
    i += len;
  }
  return true;
}

inline void check_utf8(std::string_view s) {
  NATTER_FUZZ_CHECK(mqtt::is_valid_utf8(s) == reference_utf8(s, false));
}

// Decodes packets off the front of `in` in one negotiated version (no switching on CONNECT)
// and checks every invariant above on each. Returns how many decoded.
inline std::size_t check_packets(bytes_view in, mqtt::version v) {
  const mqtt::decode_options opts{v};
  std::size_t n = 0;
  while (n < 64) {
    auto r = mqtt::decode(in, opts);
    if (r.has_error()) {
      // need_more_bytes exactly when the input is empty or holds a proper prefix.
      if (in.empty()) NATTER_FUZZ_CHECK(need_more(r));
      // A real code from the codec's own categories (an error_code of value 0 would read as
      // "no error" to a caller).
      NATTER_FUZZ_CHECK(static_cast<bool>(r.error()));
      NATTER_FUZZ_CHECK(r.error().category() == mqtt::reason_category() ||
                        r.error().category() == mqtt::codec_category());
      break;
    }
    const std::size_t size = r->size;
    NATTER_FUZZ_CHECK(size >= 2 && size <= in.size());
    check_round_trip(r->pkt, v);
    check_prefixes(in, size, opts);
    check_size_limit(in, size, opts, r->pkt);
    in = in.subspan(size);
    ++n;
  }
  return n;
}

}  // namespace natter::fuzz
