// Private to protocol/mqtt: the UTF-8 validator behind is_valid_utf8() and the decoder.
//
// Inline because the decoder runs it on every topic of every PUBLISH: ASCII, the common
// case, goes 8 bytes per step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace natter::mqtt::detail {

// Well-formed UTF-8 per RFC 3629 (no overlong forms, no surrogates U+D800..U+DFFF, nothing
// above U+10FFFF). `allow_nul` admits U+0000: it is well-formed UTF-8 and allowed in
// "UTF-8 Encoded Character Data" payloads, but not in a UTF-8 Encoded String
// (5.0 [MQTT-1.5.4-2], 3.1.1 [MQTT-1.5.3-2]).
inline bool utf8_well_formed(const std::uint8_t* p, std::size_t n, bool allow_nul) noexcept {
  const std::uint8_t* const end = p + n;
  constexpr std::uint64_t high_bits = 0x8080808080808080ULL;
  constexpr std::uint64_t low_bits = 0x0101010101010101ULL;
  while (p != end) {
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & high_bits) break;
      if (!allow_nul && ((w - low_bits) & ~w & high_bits)) return false;  // a zero byte
      p += 8;
    }
    if (p == end) break;
    const std::uint8_t c = *p;
    if (c < 0x80) {
      if (c == 0 && !allow_nul) return false;
      ++p;
      continue;
    }
    const auto left = end - p;
    auto cont = [](std::uint8_t b) { return (b & 0xC0) == 0x80; };
    if (c < 0xC2) return false;  // stray continuation byte or overlong 2-byte form
    if (c < 0xE0) {
      if (left < 2 || !cont(p[1])) return false;
      p += 2;
    } else if (c < 0xF0) {
      if (left < 3) return false;
      const std::uint8_t lo = c == 0xE0 ? 0xA0 : 0x80;  // E0 80..9F would be overlong
      const std::uint8_t hi = c == 0xED ? 0x9F : 0xBF;  // ED A0..BF would be a surrogate
      if (p[1] < lo || p[1] > hi || !cont(p[2])) return false;
      p += 3;
    } else if (c < 0xF5) {
      if (left < 4) return false;
      const std::uint8_t lo = c == 0xF0 ? 0x90 : 0x80;  // F0 80..8F would be overlong
      const std::uint8_t hi = c == 0xF4 ? 0x8F : 0xBF;  // F4 90.. would exceed U+10FFFF
      if (p[1] < lo || p[1] > hi || !cont(p[2]) || !cont(p[3])) return false;
      p += 4;
    } else {
      return false;  // F5..FF never appear in UTF-8
    }
  }
  return true;
}

}  // namespace natter::mqtt::detail
