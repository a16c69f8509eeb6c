// Helpers shared by the two topic tries (subscriptions and retained messages).
#pragma once

#include <functional>
#include <string_view>
#include <utility>

namespace natter::broker::detail {

// Lets unordered_map<std::string, ...> be searched with a string_view without a copy.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// Splits off the first level of `rest`; `rest` becomes what follows the '/', and `last` is
// set when there is no further level.
inline std::string_view next_level(std::string_view& rest, bool& last) {
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    last = true;
    return std::exchange(rest, {});
  }
  auto level = rest.substr(0, slash);
  rest.remove_prefix(slash + 1);
  return level;
}

}  // namespace natter::broker::detail
