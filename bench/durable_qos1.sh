#!/usr/bin/env bash
# QoS 1 throughput into an offline persistent session, end to end over MQTT, for each
# persistence_sync policy, without persistence, and for Debian's mosquitto (which saves only
# every autosave_interval, so its acks are not durable). Prints one human line and one
# key=value line per run, then the ratios.
#
#   bench/durable_qos1.sh [BUILD_DIR] [MESSAGES]      (default build/release, 20000)
#
# Each run: a fresh server and data directory, a subscriber that creates its persistent
# session and leaves, then natter-pub -l -q 1 sends MESSAGES lines (64-byte payloads) as fast
# as the server acknowledges them; every message is queued for the offline subscriber and,
# with persistence, committed before its PUBACK. Wall time is noisy on a shared machine: read
# the medians of a few runs.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
n=${2:-20000}
server=$build/server/app/natter-server
pub=$build/cli-client/natter-pub
sub=$build/cli-client/natter-sub
[ -x "$server" ] && [ -x "$pub" ] || { echo "build first: cmake --build $build" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
payload=$(head -c 64 /dev/zero | tr '\0' 'x')
lines=$(mktemp); trap 'rm -f "$lines"' EXIT
for i in $(seq "$n"); do echo "$payload"; done > "$lines"

run() {  # run NAME BROKER_CMD...   (the config file is $dir/broker.conf)
  local name=$1; shift
  "$@" >"$dir/broker.log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  "$sub" -p "$port" -i durable-sub -c -q 1 -t bench/q1 -W 1 >/dev/null 2>&1 || true
  local t0 t1 cpu
  t0=$(date +%s.%N)
  "$pub" -p "$port" -q 1 -t bench/q1 -l < "$lines"
  t1=$(date +%s.%N)
  cpu=$(awk '{print ($14+$15)/100}' /proc/$pid/stat)
  kill -TERM $pid; wait $pid 2>/dev/null || true
  local rate; rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/(b-a)}')
  printf '%-28s %8s msg/s  (%s messages, server CPU %ss)\n' "$name" "$rate" "$n" "$cpu"
  printf 'bench=durable_qos1 broker=%s messages=%s msgs_per_s=%s server_cpu_s=%s\n' "$name" "$n" "$rate" "$cpu"
  eval "rate_${name//[^a-z0-9]/_}=$rate"
}

for policy in always batch none; do
  dir=$(mktemp -d); port=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence true\npersistence_location %s/\npersistence_sync %s\n' \
    "$port" "$dir" "$policy" > "$dir/broker.conf"
  run "natter-$policy" "$server" -c "$dir/broker.conf"
  rm -rf "$dir"
done
dir=$(mktemp -d); port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n' "$port" > "$dir/broker.conf"
run natter-memory "$server" -c "$dir/broker.conf"; rm -rf "$dir"
if [ -x /usr/sbin/mosquitto ]; then
  dir=$(mktemp -d); port=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence true\npersistence_location %s/\n' \
    "$port" "$dir" > "$dir/broker.conf"
  run mosquitto /usr/sbin/mosquitto -c "$dir/broker.conf"; rm -rf "$dir"
  awk -v b="$rate_natter_batch" -v a="$rate_natter_always" -v m="$rate_mosquitto" \
    'BEGIN{printf "durable natter (batch) / mosquitto (not durable): %.2f; (always): %.2f\n", b/m, a/m}'
fi
