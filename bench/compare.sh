#!/usr/bin/env bash
# Natter side by side with the brokers its users would otherwise pick: Debian's Mosquitto
# 2.0.x and NATS 2.9.x (its MQTT 3.1.1 listener), all on loopback, driven by the same load
# generator (natter-bench) with the same scenarios. Prints a Markdown table (medians of
# RUNS runs per cell, ratios Natter / each peer) on stdout; progress on stderr.
#
#   bench/compare.sh [--quick] [--runs N] [--build DIR] [--keep]
#
#   --quick     one run, short scenarios and small sizes (~2 minutes on 2 cores)
#   --runs N    runs per cell (default 3; the full set takes ~8 minutes on 2 cores)
#   --build DIR where natter-bench and natter-server are (default build/release; built
#               there if missing)
#   --keep      keep the working directory (broker configs and logs, raw JSON lines)
#
# Installs mosquitto and nats-server with apt when missing (like scripts/deps.sh).
#
# Settings, the same for all three where the broker has the knob (bench/README.md):
#   loopback listeners for MQTT, WebSocket, TLS and secure WebSocket (one self-signed
#   certificate); anonymous; TCP_NODELAY on (NATS always sets it; Mosquitto's and Natter's
#   set_tcp_nodelay); no per-client queue limit (max_queued_messages 0); the default 20
#   QoS 1/2 messages in flight per client (NATS: its default max_ack_pending 1024); logs at
#   error/warning level; no persistence, except for the durable scenario, where Natter runs
#   once per persistence_sync policy, Mosquitto with `persistence true` (it saves every
#   autosave_interval: its acks are not durable), and NATS as always (its MQTT sessions and
#   QoS 1 messages live in JetStream file storage, which fsyncs every 2 minutes by default).
#   NATS's MQTT listener needs JetStream and a server_name; it has no QoS 2 and no MQTT 5,
#   so those cells are marked n/a. Fresh brokers for every run.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

quick=0 runs=3 build=build/release keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; runs=1 ;;
    --runs) runs=$2; shift ;;
    --build) build=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "$*" >&2; }

# ---- peers (apt, only if missing) and our binaries
missing=()
[ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v nats-server >/dev/null || missing+=(nats-server)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Both packages start a system service on their default port; we run our own instances.
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    for p in "${missing[@]}"; do $sudo systemctl disable --now "$p" >/dev/null 2>&1 || true; done
  fi
fi
bench=$build/natter-bench
server=$build/server/app/natter-server
passwd=$build/server/auth/natter-passwd
if [ ! -x "$bench" ] || [ ! -x "$server" ] || [ ! -x "$passwd" ]; then
  log "Building natter-bench, natter-server and natter-passwd in $build"
  [ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target natter-bench natter-server natter-passwd >&2
fi
mosquitto_version=$( (/usr/sbin/mosquitto -h 2>/dev/null || true) | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p' | head -1)
nats_version=$(nats-server --version | sed 's/^nats-server: v//')

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # thousands of connections, both ends

work=$(mktemp -d /tmp/natter-compare.XXXXXX)
chmod 755 "$work"  # mosquitto, started as root, runs as user 'mosquitto'
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$keep" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# ---- sizes
if [ "$quick" = 1 ]; then
  dur=1 chat_dur=2 chat_warm=0.5 conns=1000 storm=500 topics=2000 durable_n=5000
else
  dur=2 chat_dur=4 chat_warm=1 conns=5000 storm=2000 topics=10000 durable_n=20000
fi
chat_pairs=200 chat_rate=20

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
chmod 644 "$work/key.pem" "$work/cert.pem"
# The chat-service users: bench0..bench(2*pairs-1), fast hashes (-I 1000).
for i in $(seq 0 $((2 * chat_pairs - 1))); do echo "bench$i:secret"; done > "$work/passwd"
"$passwd" -U -I 1000 "$work/passwd"
chmod 644 "$work/passwd"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # wait_port PID PORT
  for _ in $(seq 200); do
    (echo > "/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# start_broker KIND VARIANT: starts one broker in a fresh directory. Sets BROKER_PID and
# the URLs URL_TCP, URL_WS, URL_TLS, URL_WSS ("" when that broker instance has none).
# VARIANT: plain | tls | chat | durable-POLICY (natter), durable (mosquitto, nats).
start_broker() {
  local kind=$1 variant=$2 dir port ws tls wss
  dir=$(mktemp -d "$work/$kind-$variant.XXXX"); chmod 777 "$dir"
  port=$(free_port) ws=$(free_port) tls=$(free_port) wss=$(free_port)
  URL_TCP="mqtt://127.0.0.1:$port" URL_WS="ws://127.0.0.1:$ws/mqtt"
  URL_TLS="mqtts://127.0.0.1:$tls" URL_WSS="wss://127.0.0.1:$wss/mqtt"
  local certs="certfile $work/cert.pem
keyfile $work/key.pem"
  case $kind in
    natter|mosquitto)
      {
        echo "listener $port 127.0.0.1"
        if [ "$variant" = plain ]; then
          printf 'listener %s 127.0.0.1\nprotocol websockets\n' "$ws"
          printf 'listener %s 127.0.0.1\n%s\n' "$tls" "$certs"
          printf 'listener %s 127.0.0.1\nprotocol websockets\n%s\n' "$wss" "$certs"
        fi
        echo "max_queued_messages 0"
        echo "set_tcp_nodelay true"
        echo "log_type error"
        echo "log_type warning"
        case $variant in
          chat) printf 'allow_anonymous false\npassword_file %s\nchat_enabled true\n' "$work/passwd" ;;
          durable*) echo "allow_anonymous true"; echo "persistence true"
                    echo "persistence_location $dir/"
                    if [ "$kind" = natter ]; then echo "persistence_sync ${variant#durable-}"; fi ;;
          *) echo "allow_anonymous true" ;;
        esac
      } > "$dir/broker.conf"
      if [ "$kind" = natter ]; then
        "$server" -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 &
      else
        /usr/sbin/mosquitto -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 &
      fi
      ;;
    nats)
      local client; client=$(free_port)
      {
        echo "server_name: natter_compare_$variant"
        echo "listen: 127.0.0.1:$client"
        echo "jetstream { store_dir: \"$dir/js\" }"
        if [ "$variant" = tls ]; then  # one MQTT listener per server: TLS needs its own
          echo "mqtt { listen: 127.0.0.1:$tls, tls { cert_file: \"$work/cert.pem\", key_file: \"$work/key.pem\" } }"
          echo "websocket { listen: 127.0.0.1:$wss, tls { cert_file: \"$work/cert.pem\", key_file: \"$work/key.pem\" } }"
        else
          echo "mqtt { listen: 127.0.0.1:$port }"
          echo "websocket { listen: 127.0.0.1:$ws, no_tls: true }"
        fi
      } > "$dir/broker.conf"
      nats-server -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 &
      if [ "$variant" = tls ]; then port=$tls; fi
      ;;
  esac
  BROKER_PID=$!
  pids+=("$BROKER_PID")
  BROKER_DIR=$dir
  if ! wait_port "$BROKER_PID" "$port"; then
    log "$kind ($variant) did not start; its log:"; cat "$dir/broker.log" >&2; exit 1
  fi
  case "$kind/$variant" in
    */plain) ;;
    nats/tls) URL_TCP="" URL_WS="" ;;
    *) URL_WS="" URL_TLS="" URL_WSS="" ;;
  esac
}
stop_broker() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

results=$work/results.jsonl
: > "$results"
# cell ID BROKER RUN URL PID -- natter-bench arguments: one natter-bench run, its JSON line
# tagged with cell, broker and run, appended to $results.
cell() {
  local id=$1 broker=$2 run=$3 url=$4 pid=$5; shift 6
  local out rc=0
  out=$(timeout 300 "$bench" --url "$url" --pid "$pid" --cafile "$work/cert.pem" \
          --label "$broker" "$@" 2>"$work/last.err") || rc=$?
  local human json
  human=$(printf '%s\n' "$out" | grep -v '^{' | head -1 || true)
  json=$(printf '%s\n' "$out" | grep '^{' | tail -1 || true)
  [ -n "$json" ] || json="{\"errors\":1,\"first_error\":\"natter-bench exited $rc: $(head -c 200 "$work/last.err" | tr -d '"\\\n')\"}"
  printf '{"cell":"%s","broker":"%s","run":%s,"result":%s}\n' "$id" "$broker" "$run" "$json" >> "$results"
  log "  $(printf '%-10s' "$broker") $human$( [ "$rc" = 0 ] || echo " [exit $rc: $(head -1 "$work/last.err")]")"
}

brokers=(mosquitto nats natter)
start_s=$SECONDS
for run in $(seq 1 "$runs"); do
  # Rotate the order per run so no broker always goes first (or last) on a warming machine.
  order=("${brokers[@]:$(( (run - 1) % 3 ))}" "${brokers[@]:0:$(( (run - 1) % 3 ))}")
  log "== run $run/$runs (order: ${order[*]}), $((SECONDS - start_s)) s so far"
  declare -A pid tcp wsu tlsu wssu
  for b in "${order[@]}"; do
    start_broker "$b" plain
    pid[$b]=$BROKER_PID tcp[$b]=$URL_TCP wsu[$b]=$URL_WS tlsu[$b]=$URL_TLS wssu[$b]=$URL_WSS
  done
  start_broker nats tls
  nats_tls_pid=$BROKER_PID nats_tls=$URL_TLS nats_wss=$URL_WSS
  start_broker natter chat
  chat_pid=$BROKER_PID chat_url=$URL_TCP

  each() {  # each ID TRANSPORT -- args: the cell against every broker that can do it
    local id=$1 transport=$2; shift 3
    for b in "${order[@]}"; do
      local url p=${pid[$b]}
      case $transport in
        tcp) url=${tcp[$b]} ;; ws) url=${wsu[$b]} ;;
        tls) url=${tlsu[$b]} ;; wss) url=${wssu[$b]} ;;
      esac
      if [ "$b" = nats ]; then
        case "$id" in *qos2*) continue ;; esac  # no QoS 2 in NATS's MQTT
        case $transport in tls) url=$nats_tls p=$nats_tls_pid ;; wss) url=$nats_wss p=$nats_tls_pid ;; esac
      fi
      cell "$id" "$b" "$run" "$url" "$p" -- "$@"
    done
  }
  log "fan-in 4->1, fan-out 1->100 (${dur} s each)"
  each fanin-qos0 tcp -- fan-in -p 4 -q 0 -d "$dur"
  each fanin-qos1 tcp -- fan-in -p 4 -q 1 -d "$dur"
  each fanin-qos2 tcp -- fan-in -p 4 -q 2 -d "$dur"
  each fanout-qos0 tcp -- fan-out -S 100 -q 0 -d "$dur"
  log "the same over WebSocket, TLS and secure WebSocket"
  each fanin-qos0-ws ws -- fan-in -p 4 -q 0 -d "$dur"
  each fanin-qos1-ws ws -- fan-in -p 4 -q 1 -d "$dur"
  each fanout-qos0-ws ws -- fan-out -S 100 -q 0 -d "$dur"
  each fanin-qos0-tls tls -- fan-in -p 4 -q 0 -d "$dur"
  each fanin-qos0-wss wss -- fan-in -p 4 -q 0 -d "$dur"
  log "chat: $chat_pairs pairs x $chat_rate msg/s (${chat_dur} s, ${chat_warm} s warm-up)"
  each chat tcp -- chat -n "$chat_pairs" -r "$chat_rate" -d "$chat_dur" --warmup "$chat_warm"
  each chat-ws ws -- chat -n "$chat_pairs" -r "$chat_rate" -d "$chat_dur" --warmup "$chat_warm"
  cell chat-service natter "$run" "$chat_url" "$chat_pid" -- -P secret chat --service \
    -n "$chat_pairs" -r "$chat_rate" -d "$chat_dur" --warmup "$chat_warm"
  log "retained ($topics topics)"
  each retained tcp -- retained -n "$topics"
  for b in "${order[@]}"; do stop_broker "${pid[$b]}"; done
  stop_broker "$nats_tls_pid"; stop_broker "$chat_pid"

  # Memory per connection is a difference of resident sizes: on a broker that has not yet
  # grown its heap for other scenarios.
  log "connections ($conns idle), then presence storm ($storm), fresh brokers"
  for b in "${order[@]}"; do
    start_broker "$b" plain
    pid[$b]=$BROKER_PID tcp[$b]=$URL_TCP
  done
  each connections tcp -- connections -c "$conns"
  each presence tcp -- presence -c "$storm"
  for b in "${order[@]}"; do stop_broker "${pid[$b]}"; done

  log "durable QoS 1: $durable_n messages, 4 publishers x 20 in flight, fresh broker each"
  for b in "${order[@]}"; do
    variants=(durable)
    [ "$b" = natter ] && variants=(durable-always durable-batch durable-none)
    for v in "${variants[@]}"; do
      start_broker "$b" "$v"
      cell "$v" "$b" "$run" "$URL_TCP" "$BROKER_PID" -- durable -n "$durable_n" -p 4 --inflight 20
      stop_broker "$BROKER_PID"
    done
  done
  unset pid tcp wsu tlsu wssu
done
elapsed=$((SECONDS - start_s))

# ---- the table
cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
python3 - "$results" "$runs" "$elapsed" "$quick" "$(nproc)" "$cpu_model" \
  "$mosquitto_version" "$nats_version" "$(date -u +%Y-%m-%d)" "$(uname -r)" <<'PY'
import json, statistics, sys
path, runs, elapsed, quick, nproc, cpu, mosq_v, nats_v, date, kernel = sys.argv[1:]
cells = {}
for line in open(path):
    r = json.loads(line)
    cells.setdefault((r["cell"], r["broker"]), []).append(r["result"])

def pick(cell, broker, key):
    """The runs a figure comes from: those without errors; if every run had errors (e.g.
    messages lost), all of them, flagged."""
    rs = [r for r in cells.get((cell, broker), []) if r.get(key) is not None]
    clean = [r for r in rs if r.get("errors", 1) == 0]
    return (clean, False) if clean else (rs, bool(rs))

def med(cell, broker, key):
    rs, _ = pick(cell, broker, key)
    return statistics.median(r[key] for r in rs) if rs else None

def flagged(cell, broker, key):
    return pick(cell, broker, key)[1]

def failed(cell, broker):
    rs = cells.get((cell, broker), [])
    return rs and all(r.get("errors", 1) for r in rs)

# (cell, scenario label, figure label, key, higher is better)
rows = []
def add(cell, scenario, figs):
    for label, key, up in figs:
        rows.append((cell, scenario, label, key, up))
tput = [("msgs/s", "msgs_per_s", True), ("msgs per server CPU-s", "msgs_per_server_cpu_s", True)]
add("fanin-qos0", "fan-in 4→1, QoS 0, TCP", tput)
add("fanin-qos1", "fan-in 4→1, QoS 1, TCP", tput)
add("fanin-qos2", "fan-in 4→1, QoS 2, TCP", tput)
add("fanout-qos0", "fan-out 1→100, QoS 0, TCP", [("deliveries/s", "msgs_per_s", True),
    ("deliveries per server CPU-s", "msgs_per_server_cpu_s", True)])
add("fanin-qos0-ws", "fan-in 4→1, QoS 0, WebSocket", tput)
add("fanin-qos1-ws", "fan-in 4→1, QoS 1, WebSocket", tput)
add("fanout-qos0-ws", "fan-out 1→100, QoS 0, WebSocket", [("deliveries/s", "msgs_per_s", True),
    ("deliveries per server CPU-s", "msgs_per_server_cpu_s", True)])
add("fanin-qos0-tls", "fan-in 4→1, QoS 0, TLS", tput)
add("fanin-qos0-wss", "fan-in 4→1, QoS 0, secure WebSocket", tput)
lat = [("latency p50 ms", "latency_p50_ms", False), ("latency p99 ms", "latency_p99_ms", False),
       ("latency p99.9 ms", "latency_p999_ms", False), ("latency max ms", "latency_max_ms", False),
       ("msgs per server CPU-s", "msgs_per_server_cpu_s", True)]
add("chat", "chat 200 pairs × 20 msg/s, QoS 1, TCP", lat)
add("chat-ws", "chat 200 pairs × 20 msg/s, QoS 1, WebSocket", lat)
add("chat-service", "chat through Natter's chat service (protobuf, stored)", lat)
add("connections", "idle connections (will + 1 subscription each)", [
    ("server RSS bytes per connection", "rss_per_connection_bytes", False),
    ("connections/s", "connects_per_s", True), ("connect p99 ms", "connect_p99_ms", False)])
add("presence", "presence storm: clients dropped at once", [
    ("s until the watcher has every will", "elapsed_s", False)])
add("retained", "retained: '#' subscriber after R retained topics", [
    ("msgs/s", "msgs_per_s", True), ("stored/s (QoS 1, 20 in flight)", "stored_per_s", True)])
durable_rows = [("durable-always", "`persistence_sync always`"), ("durable-batch", "`persistence_sync batch`"),
                ("durable-none", "`persistence_sync none`")]

def fmt(v, key):
    if v is None:
        return None
    if key.endswith("_ms") or key == "elapsed_s":
        return f"{v:.3f}" if v < 10 else f"{v:.1f}"
    return f"{v:,.0f}"

def ratio(n, p, up):
    if n is None or p is None or p == 0 or n == 0:
        return "–"
    r = n / p
    good = r >= 1 if up else r <= 1
    text = "<0.01×" if r < 0.01 else f"{r:.0f}×" if r >= 100 else f"{r:.2f}×"
    return text + ("" if good else " ✗")

def cellstr(cell, broker, key):
    if broker == "nats" and "qos2" in cell:
        return "n/a (no QoS 2)"
    if broker != "natter" and cell == "chat-service":
        return "n/a"
    v = med(cell, broker, key)
    if v is None:
        return "failed" if failed(cell, broker) else "–"
    return fmt(v, key) + (" ⚠" if flagged(cell, broker, key) else "")

out = []
out.append(f"{date}, {nproc} CPUs ({cpu}), Linux {kernel}; Mosquitto {mosq_v}, NATS {nats_v}, "
           f"Natter from this tree; `bench/compare.sh{' --quick' if quick == '1' else ''}`: "
           f"median of {runs} run{'s' if runs != '1' else ''} per cell, {int(elapsed)//60} min {int(elapsed)%60} s. "
           "Ratios are Natter ÷ peer; ✗ marks where Natter is worse (for ms and bytes lower is better).")
out.append("")
out.append("| scenario | figure | Mosquitto | NATS | Natter | Natter ÷ Mosquitto | Natter ÷ NATS |")
out.append("|---|---|---|---|---|---|---|")
last = None
for cell, scen, label, key, up in rows:
    m, n_, t = (cellstr(cell, b, key) for b in ("mosquitto", "nats", "natter"))
    mv, nv, tv = (med(cell, b, key) for b in ("mosquitto", "nats", "natter"))
    if cell == "chat-service":
        rm = rn = "–"
    else:
        rm, rn = ratio(tv, mv, up), ratio(tv, nv if "qos2" not in cell else None, up)
    out.append(f"| {scen if scen != last else ''} | {label} | {m} | {n_} | {t} | {rm} | {rn} |")
    last = scen
# durable: one Mosquitto and one NATS figure against each Natter policy
mq, nq = med("durable", "mosquitto", "msgs_per_s"), med("durable", "nats", "msgs_per_s")
first = True
for cell, label in durable_rows:
    tv = med(cell, "natter", "msgs_per_s")
    scen = "durable QoS 1 into an offline session, 4 publishers × 20 in flight" if first else ""
    out.append(f"| {scen} | msgs/s, Natter {label} | {fmt(mq, 'x') or 'failed'} | {fmt(nq, 'x') or 'failed'} | "
               f"{fmt(tv, 'x') or ('failed' if failed(cell, 'natter') else '–')} | {ratio(tv, mq, True)} | {ratio(tv, nq, True)} |")
    first = False
print("\n".join(out))
errors = [(k, r.get("first_error")) for k, rs in cells.items() for r in rs if r.get("errors")]
if errors:
    print("\nRuns with errors (a figure uses them only when every run of its cell had one; "
          "it is then marked ⚠):")
    for (cell, broker), e in errors:
        print(f"- {cell}, {broker}: {e}")
PY
