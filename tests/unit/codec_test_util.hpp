// Helpers for codec tests: byte vectors written as annotated literals, and assertions
// that print the reason code by name.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/codec.hpp"

namespace natter::mqtt::test {

using bytes = std::vector<std::uint8_t>;

inline bytes to_bytes(std::initializer_list<std::uint8_t> b) {
  return bytes(b);
}

// Concatenation, so a packet can be written field by field.
inline bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A length-prefixed string field (1.5.4).
inline bytes str(std::string_view s) {
  // Sized up front: GCC 12 -O3 warns (-Warray-bounds, falsely) on insert after an
  // initializer list.
  bytes out(2 + s.size());
  out[0] = static_cast<std::uint8_t>(s.size() >> 8);
  out[1] = static_cast<std::uint8_t>(s.size());
  std::copy(s.begin(), s.end(), out.begin() + 2);
  return out;
}

inline bytes raw(std::string_view s) {
  return bytes(s.begin(), s.end());
}

// Fixed header byte 1, Remaining Length (encoded here, independently of the codec), body.
inline bytes pkt(std::uint8_t first, const bytes& body) {
  bytes out{first};
  std::size_t n = body.size();
  do {
    std::uint8_t b = n % 128;
    n /= 128;
    if (n > 0) b |= 0x80;
    out.push_back(b);
  } while (n > 0);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

inline result<decoded> dec(const bytes& in, version v = version::v5) {
  decode_options o;
  o.protocol_version = v;
  return decode(in, o);
}

inline bytes enc(const packet& p, version v) {
  bytes out;
  encode(p, v, out);
  return out;
}

inline std::string describe(std::error_code ec) {
  return ec.category().name() + std::string(":") + std::to_string(ec.value()) + " (" +
         ec.message() + ")";
}

// The whole input decodes as one packet.
inline ::testing::AssertionResult decodes(const bytes& in, version v = version::v5) {
  auto r = dec(in, v);
  if (r.has_error()) return ::testing::AssertionFailure() << "error " << describe(r.error());
  if (r->size != in.size())
    return ::testing::AssertionFailure() << "consumed " << r->size << " of " << in.size();
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult fails_with(const bytes& in, version v, std::error_code want) {
  auto r = dec(in, v);
  if (r.has_value())
    return ::testing::AssertionFailure()
           << "decoded (" << r->size << " bytes), wanted " << describe(want);
  if (r.error() != want)
    return ::testing::AssertionFailure()
           << "got " << describe(r.error()) << ", wanted " << describe(want);
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult fails_with(const bytes& in, version v, reason_code want) {
  return fails_with(in, v, make_error_code(want));
}

// The decoded packet of type T (the test fails if it is not one).
template <class T>
T packet_as(const bytes& in, version v = version::v5) {
  auto r = dec(in, v);
  EXPECT_TRUE(r.has_value()) << describe(r.error());
  if (!r.has_value()) return T{};
  EXPECT_EQ(r->size, in.size());
  const T* p = std::get_if<T>(&r->pkt);
  EXPECT_NE(p, nullptr) << "decoded packet type " << static_cast<int>(type_of(r->pkt));
  return p ? *p : T{};
}

}  // namespace natter::mqtt::test
