#!/usr/bin/env bash
# QoS 1 throughput into an offline persistent session (natter-bench durable) for each
# persistence_sync policy, without persistence, and for Debian's mosquitto (which saves only
# every autosave_interval, so its acks are not durable). One publisher with 20 messages in
# flight (the Receive Maximum both brokers default to): the case where group commit has
# least to group. bench/compare.sh runs the same scenario with 4 publishers, next to NATS.
#
#   bench/durable_qos1.sh [BUILD_DIR] [MESSAGES] [PUBLISHERS]   (default build/release, 20000, 1)
#
# Each run: a fresh server and data directory; natter-bench creates the persistent session,
# leaves, publishes MESSAGES (64-byte payloads) as fast as PUBACKs come, then reconnects the
# subscriber and checks that every message is there. Prints natter-bench's lines, then the
# ratios. Wall time is noisy on a shared machine: read the medians of a few runs.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
n=${2:-20000}
publishers=${3:-1}
server=$build/server/app/natter-server
bench=$build/natter-bench
[ -x "$server" ] && [ -x "$bench" ] || { echo "build first: cmake --build $build" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A rate
run() {  # run NAME CONFIG_LINES BROKER...
  local name=$1 conf=$2; shift 2
  local dir port pid out
  dir=$(mktemp -d); chmod 777 "$dir"; port=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n%s\n' "$port" \
    "${conf//\{dir\}/$dir}" > "$dir/broker.conf"
  "$@" -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  out=$("$bench" --url "mqtt://127.0.0.1:$port" --pid "$pid" --label "$name" \
          durable -n "$n" -p "$publishers" --inflight 20) || true
  printf '%-18s %s\n' "$name" "$out"
  rate[$name]=$(printf '%s\n' "$out" | sed -n 's/.*"msgs_per_s":\([0-9]*\).*/\1/p')
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

for policy in always batch none; do
  run "natter-$policy" "persistence true
persistence_location {dir}/
persistence_sync $policy" "$server"
done
run natter-memory "" "$server"
if [ -x /usr/sbin/mosquitto ]; then
  run mosquitto "persistence true
persistence_location {dir}/" /usr/sbin/mosquitto
  awk -v a="${rate[natter-always]:-0}" -v b="${rate[natter-batch]:-0}" -v m="${rate[mosquitto]:-0}" \
    'BEGIN{ if (m > 0) printf "durable natter / mosquitto (not durable): always %.2f, batch %.2f\n", a/m, b/m }'
fi
