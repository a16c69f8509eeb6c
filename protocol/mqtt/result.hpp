// A value or an error_code. protocol/ links only the standard library, and
// std::expected is C++23, so this is the minimal stand-in the codec returns.
#pragma once

#include <cassert>
#include <system_error>
#include <utility>
#include <variant>

namespace natter::mqtt {

template <class T>
class [[nodiscard]] result {
 public:
  result(T v) : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT: implicit by design
  result(std::error_code ec) : v_(std::in_place_index<1>, ec) { assert(ec); }  // NOLINT
  template <class E>
  requires std::is_error_code_enum_v<E> result(E e) : result(make_error_code(e)) {}  // NOLINT

  bool has_value() const noexcept { return v_.index() == 0; }
  bool has_error() const noexcept { return v_.index() == 1; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  std::error_code error() const noexcept {
    return has_error() ? std::get<1>(v_) : std::error_code{};
  }

 private:
  std::variant<T, std::error_code> v_;
};

}  // namespace natter::mqtt
