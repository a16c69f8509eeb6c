// Invariant checks inside fuzz targets. A failed check prints what broke and aborts, which
// libFuzzer reports as a crash (and saves the input), and which fails the replay test in the
// normal builds. Not assert(): that vanishes in Release, and the replay tests run in Release.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace natter::fuzz {

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
  std::abort();
}

}  // namespace natter::fuzz

#define NATTER_FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::natter::fuzz::check_failed(#cond, __FILE__, __LINE__))
