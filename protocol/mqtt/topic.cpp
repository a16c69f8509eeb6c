// Topic names, topic filters, matching and shared-subscription parsing.
//
// All functions work on bytes: '/', '+', '#', '$' are ASCII and never occur inside a
// multi-byte UTF-8 sequence, so no decoding is needed. Matching does no normalization
// [MQTT-4.7.3-4].
#include "mqtt/topic.hpp"

#include <cstdint>
#include <cstring>

#include "mqtt/utf8.hpp"

namespace natter::mqtt {

namespace {

constexpr std::string_view share_prefix = "$share/";
constexpr std::size_t max_topic_bytes = 65535;  // [MQTT-4.7.3-3]

// The part of a filter after any $share/{ShareName}/ prefix.
bool valid_plain_filter(std::string_view f) noexcept {
  if (f.empty() || f.size() > max_topic_bytes) return false;  // [MQTT-4.7.3-1]
  const std::size_t n = f.size();
  for (std::size_t i = 0; i < n; ++i) {
    const char c = f[i];
    if (c == '#') {
      // [MQTT-4.7.1-1] alone or after '/', and the last character.
      if (i + 1 != n || (i > 0 && f[i - 1] != '/')) return false;
    } else if (c == '+') {
      // [MQTT-4.7.1-2] a whole level.
      if ((i > 0 && f[i - 1] != '/') || (i + 1 < n && f[i + 1] != '/')) return false;
    } else if (c == '\0') {
      return false;  // [MQTT-4.7.3-2]
    }
  }
  return true;
}

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
  return detail::utf8_well_formed(reinterpret_cast<const std::uint8_t*>(s.data()), s.size(),
                                  /*allow_nul=*/false);
}

bool is_valid_topic_name(std::string_view topic) noexcept {
  if (topic.empty() || topic.size() > max_topic_bytes) return false;  // [MQTT-4.7.3-1]
  // [MQTT-4.7.0-1] no wildcards, [MQTT-4.7.3-2] no U+0000. Runs on every PUBLISH, so 8
  // bytes per step: a byte equal to c makes (x - 0x01..) borrow into its high bit.
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  auto has = [&](std::uint64_t w, unsigned char c) {
    const std::uint64_t x = w ^ (ones * c);
    return ((x - ones) & ~x & highs) != 0;
  };
  const char* p = topic.data();
  std::size_t n = topic.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if (has(w, '+') || has(w, '#') || has(w, 0)) return false;
  }
  for (; n > 0; ++p, --n)
    if (*p == '+' || *p == '#' || *p == '\0') return false;
  return true;
}

bool is_valid_topic_filter(std::string_view filter) noexcept {
  if (filter.size() > max_topic_bytes) return false;
  if (filter.starts_with(share_prefix)) {
    const auto sf = parse_shared_filter(filter);
    if (!sf) return false;                     // no '/' after the ShareName [MQTT-4.8.2-2]
    if (sf->share_name.empty()) return false;  // [MQTT-4.8.2-1]
    for (const char c : sf->share_name)
      if (c == '+' || c == '#' || c == '\0') return false;  // [MQTT-4.8.2-2]
    return valid_plain_filter(sf->filter);                  // "MUST be followed by a Topic Filter"
  }
  return valid_plain_filter(filter);
}

bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
  // [MQTT-4.7.2-1] "$SYS/..." and friends are invisible to "#" and "+/...".
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#'))
    return false;

  std::size_t fp = 0;
  std::size_t tp = 0;
  for (;;) {
    std::size_t fe = filter.find('/', fp);
    if (fe == std::string_view::npos) fe = filter.size();
    const std::string_view fl = filter.substr(fp, fe - fp);
    if (fl == "#") return true;  // this level and everything below it

    std::size_t te = topic.find('/', tp);
    if (te == std::string_view::npos) te = topic.size();
    const std::string_view tl = topic.substr(tp, te - tp);
    if (fl != "+" && fl != tl) return false;

    const bool filter_done = fe == filter.size();
    const bool topic_done = te == topic.size();
    if (filter_done || topic_done) {
      if (filter_done && topic_done) return true;
      // "sport/#" also matches "sport": '#' includes the parent level (4.7.1.2).
      return topic_done && filter.substr(fe + 1) == "#";
    }
    fp = fe + 1;
    tp = te + 1;
  }
}

std::optional<shared_filter> parse_shared_filter(std::string_view filter) noexcept {
  if (!filter.starts_with(share_prefix)) return std::nullopt;
  const std::string_view rest = filter.substr(share_prefix.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return shared_filter{rest.substr(0, slash), rest.substr(slash + 1)};
}

}  // namespace natter::mqtt
