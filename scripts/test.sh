#!/usr/bin/env bash
# Builds everything twice (Release, and Debug with ASan+UBSan) and runs every test in both.
# Exit status is non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh test
npm ci --prefix tests/integration/node --no-audit --no-fund --loglevel=error
bash web-client/build.sh  # web-client/dist, which the browser tests load from natter-server
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
jobs=$(nproc)

build() {  # build DIR CMAKE_ARGS...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

build build/release -DCMAKE_BUILD_TYPE=Release -DNATTER_TESTS=ON
build build/asan -DCMAKE_BUILD_TYPE=Debug -DNATTER_SANITIZE=ON -DNATTER_TESTS=ON

status=0

# == Fuzzing (issue #11, fuzz/README.md): the libFuzzer targets, built with clang in build/fuzz
# (only the targets and the libraries they exercise), each run FUZZ_SECONDS (default 20) over
# its seed corpus, two at a time. Their saved crashes and corpus are also replayed by ctest in
# both builds above (fuzz.replay.*), so a fixed crash cannot come back unnoticed.
echo "== Fuzzing"
CC=clang-14 CXX=clang++-14 cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g" -DNATTER_FUZZ=ON -DNATTER_TESTS=OFF >/dev/null
cmake --build build/fuzz -j "$jobs" --target natter_fuzz
fuzz/run.sh -d build/fuzz/fuzz -t "${FUZZ_SECONDS:-20}" -j "$jobs" || status=1

echo "== Release tests"
ctest --test-dir build/release --no-tests=error --output-on-failure -j "$jobs" || status=1
echo "== ASan+UBSan tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --no-tests=error --output-on-failure -j "$jobs" || status=1
exit $status
