// Topic names, topic filters and UTF-8 rules (MQTT 5.0 sections 1.5.4 and 4.7).
#pragma once

#include <optional>
#include <string_view>

namespace natter::mqtt {

// Well-formed UTF-8 with no U+0000 and no surrogates [MQTT-1.5.4-1], [MQTT-1.5.4-2].
bool is_valid_utf8(std::string_view s) noexcept;

// A topic name: at least one character, no '+' or '#' [MQTT-4.7.3-1], [MQTT-3.3.2-2].
bool is_valid_topic_name(std::string_view topic) noexcept;

// A topic filter: at least one character; '#' only alone as the last level
// [MQTT-4.7.1-1]; '+' only as a whole level [MQTT-4.7.1-2]. `$share/` filters are valid
// when the share name is non-empty without wildcards or '/' and the rest is a valid filter
// [MQTT-4.8.2-1], [MQTT-4.8.2-2].
bool is_valid_topic_filter(std::string_view filter) noexcept;

// Does `filter` (valid, not a $share filter) match `topic` (valid name)? Topics that start
// with '$' are not matched by a filter that starts with a wildcard [MQTT-4.7.2-1].
bool topic_matches(std::string_view filter, std::string_view topic) noexcept;

struct shared_filter {
  std::string_view share_name;
  std::string_view filter;
};
// Splits "$share/{ShareName}/{filter}"; nullopt when `filter` is not a shared subscription.
std::optional<shared_filter> parse_shared_filter(std::string_view filter) noexcept;

}  // namespace natter::mqtt
