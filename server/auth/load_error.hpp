// The error of loading an operator's file (password_file, acl_file): a message that names the
// place, "FILE:LINE: what is wrong", ready to print at startup or on reload. An error_code alone
// cannot say which line, hence a result with its own error type.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>

namespace natter::auth {

struct load_error {
  std::string message;
};

// Found by ADL when value() is called on a result that holds a load_error.
[[noreturn]] inline void throw_exception_from_error(const load_error& e,
                                                    const boost::source_location&) {
  throw std::runtime_error(e.message);
}

template <class T>
using load_result = boost::system::result<T, load_error>;

}  // namespace natter::auth
