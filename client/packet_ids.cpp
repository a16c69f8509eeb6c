#include "client/packet_ids.hpp"

namespace natter::client {

std::uint16_t packet_id_allocator::allocate() {
  if (count_ >= 65535) return 0;
  if (bits_.empty()) bits_.assign(words, 0);
  for (;;) {
    const std::uint16_t id = next_;
    next_ = next_ == 65535 ? 1 : static_cast<std::uint16_t>(next_ + 1);
    std::uint64_t& w = bits_[id / 64];
    const std::uint64_t bit = std::uint64_t{1} << (id % 64);
    if ((w & bit) == 0) {
      w |= bit;
      ++count_;
      return id;
    }
  }
}

bool packet_id_allocator::reserve(std::uint16_t id) {
  if (id == 0 || in_use(id)) return false;
  if (bits_.empty()) bits_.assign(words, 0);
  bits_[id / 64] |= std::uint64_t{1} << (id % 64);
  ++count_;
  return true;
}

void packet_id_allocator::release(std::uint16_t id) {
  if (!in_use(id)) return;
  bits_[id / 64] &= ~(std::uint64_t{1} << (id % 64));
  --count_;
}

bool packet_id_allocator::in_use(std::uint16_t id) const {
  return id != 0 && !bits_.empty() && (bits_[id / 64] & (std::uint64_t{1} << (id % 64))) != 0;
}

void packet_id_allocator::clear() {
  if (!bits_.empty()) bits_.assign(words, 0);
  count_ = 0;
}

}  // namespace natter::client
