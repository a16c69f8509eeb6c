// Fuzz target: the incremental decoding a connection does (server/transport/connection.hpp,
// on_read): bytes arrive in arbitrary pieces into one growing buffer, decode() is called until
// it needs more, the consumed prefix is dropped, and the negotiated version switches when a
// CONNECT decodes. Whatever the pieces, the sequence of packets and the first error must be
// exactly what decoding the whole input at once gives, and every packet must round-trip.
//
// Input: byte 0 chooses the Maximum Packet Size (bits 0-1) and the largest piece (bits 2-4);
// byte 1 seeds the piece sizes; the rest is the byte stream from the client.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <system_error>
#include <vector>

#include "mqtt_invariants.hpp"

namespace {

using namespace natter::fuzz;
namespace mqtt = natter::mqtt;

struct event {
  std::optional<mqtt::packet> pkt;  // or, when empty, the error that ended the stream
  std::error_code error;
  bool operator==(const event&) const = default;
};

// What the connection sees: packets, then the error (if any) that closes it.
struct outcome {
  std::vector<event> events;
  std::size_t incomplete = 0;  // bytes of a partial packet left when the input ended
  bool operator==(const outcome&) const = default;
};

// Decodes what `buf[0, used)` holds, like connection::on_read; returns bytes consumed, or
// nullopt once an error ended the connection.
std::optional<std::size_t> drain(const std::uint8_t* buf, std::size_t used, mqtt::version& v,
                                 std::uint32_t max_packet, outcome& out) {
  std::size_t start = 0;
  for (;;) {
    auto r = mqtt::decode(bytes_view(buf + start, used - start), {v, max_packet});
    if (r.has_error()) {
      if (r.error() == mqtt::codec_errc::need_more_bytes) return start;
      out.events.push_back({std::nullopt, r.error()});
      return std::nullopt;
    }
    start += r->size;
    if (const auto* c = std::get_if<mqtt::connect>(&r->pkt)) v = c->protocol_version;
    out.events.push_back({std::move(r->pkt), {}});
  }
}

outcome whole(bytes_view in, std::uint32_t max_packet) {
  outcome out;
  mqtt::version v = mqtt::version::v5;  // a connection starts out reading v5
  if (auto used = drain(in.data(), in.size(), v, max_packet, out))
    out.incomplete = in.size() - *used;
  return out;
}

// The connection's buffer discipline: read at most the free room, grow x2 when full, move the
// unconsumed tail to the front.
template <class NextPiece>
outcome pieces(bytes_view in, std::uint32_t max_packet, NextPiece next_piece) {
  outcome out;
  mqtt::version v = mqtt::version::v5;
  std::vector<std::uint8_t> buf(4096);
  std::size_t used = 0;
  std::size_t pos = 0;
  while (pos < in.size()) {
    if (used == buf.size()) buf.resize(buf.size() * 2);
    const std::size_t n = std::min({next_piece(), buf.size() - used, in.size() - pos});
    std::copy_n(in.data() + pos, n, buf.data() + used);
    pos += n;
    used += n;
    auto consumed = drain(buf.data(), used, v, max_packet, out);
    if (!consumed) return out;
    if (*consumed > 0) {
      std::copy(buf.begin() + static_cast<std::ptrdiff_t>(*consumed),
                buf.begin() + static_cast<std::ptrdiff_t>(used), buf.begin());
      used -= *consumed;
    }
  }
  out.incomplete = used;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  constexpr std::array<std::uint32_t, 4> max_packets{mqtt::max_remaining_length + 5, 20, 128, 4096};
  constexpr std::array<std::size_t, 8> max_pieces{1, 2, 3, 7, 64, 512, 1500, 65536};
  const std::uint32_t max_packet = max_packets[data[0] & 0x03];
  const std::size_t max_piece = max_pieces[(data[0] >> 2) & 0x07];
  std::uint32_t rng = 0x9E3779B9u ^ (std::uint32_t{data[0]} << 8) ^ data[1];
  const bytes_view in(data + 2, size - 2);

  const outcome expected = whole(in, max_packet);
  const outcome split = pieces(in, max_packet, [&] {
    rng ^= rng << 13;  // xorshift32
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return 1 + rng % max_piece;
  });
  NATTER_FUZZ_CHECK(split == expected);
  if (in.size() <= 2048) {
    NATTER_FUZZ_CHECK(pieces(in, max_packet, [] { return std::size_t{1}; }) == expected);
  }

  // Each packet round-trips, and the re-encoded stream decodes to the same packets.
  std::vector<std::uint8_t> again;
  mqtt::version v = mqtt::version::v5;
  for (const event& e : expected.events) {
    if (!e.pkt) break;
    check_round_trip(*e.pkt, v);
    v = encode_version(*e.pkt, v);
    mqtt::encode(*e.pkt, v, again);
  }
  outcome re = whole(again, mqtt::max_remaining_length + 5);
  NATTER_FUZZ_CHECK(re.incomplete == 0);
  std::size_t i = 0;
  for (const event& e : expected.events) {
    if (!e.pkt) break;
    NATTER_FUZZ_CHECK(i < re.events.size() && re.events[i].pkt == e.pkt);
    ++i;
  }
  NATTER_FUZZ_CHECK(i == re.events.size());
  return 0;
}
