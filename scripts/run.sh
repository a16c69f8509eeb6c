#!/usr/bin/env bash
# Builds natter-server (Release) and runs it in the foreground. Extra arguments go to
# natter-server, e.g. `scripts/run.sh -p 1884 -v`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh build
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DNATTER_TESTS=OFF >/dev/null
cmake --build build/release --target natter-server
exec build/release/server/app/natter-server "$@"
