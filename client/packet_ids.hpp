// Packet Identifiers for one session: 1..65535, each in use at most once.
//
// A QoS 1/2 PUBLISH, a SUBSCRIBE or an UNSUBSCRIBE takes an identifier until its
// exchange completes (v5 2.2.1; 3.1.1 2.3.1): reusing one still in flight would make the
// server's acknowledgement ambiguous. Identifiers are handed out round-robin so that a
// just-released one is not reused at once (a late duplicate ack cannot be mistaken for
// the new exchange's). The bitmap is allocated on first use: a QoS 0-only client (most
// of a benchmark's thousands of connections) pays nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace natter::client {

class packet_id_allocator {
 public:
  // A free identifier, or 0 when all 65535 are in use.
  std::uint16_t allocate();
  // Marks a specific identifier used (a session restored with its identifiers). False if
  // it already was, or is 0.
  bool reserve(std::uint16_t id);
  void release(std::uint16_t id);
  bool in_use(std::uint16_t id) const;
  std::size_t size() const noexcept { return count_; }
  void clear();

 private:
  static constexpr std::size_t words = 65536 / 64;
  std::vector<std::uint64_t> bits_;
  std::uint16_t next_ = 1;
  std::size_t count_ = 0;
};

}  // namespace natter::client
