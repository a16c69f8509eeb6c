#!/usr/bin/env bash
# Builds natter (Release) and runs natter-server in the foreground with a ready-made
# configuration in .natter/ (made on first run, kept afterwards; edit it freely):
#   MQTT on 127.0.0.1:1883, WebSocket + HTTP on 127.0.0.1:8080 (the browser client), the
#   embedded store in .natter/natter.db, the chat service, no anonymous access, and two users,
#   "alice" and "bob", whose passwords are printed (so two people can chat at once).
# Extra arguments go to natter-server (e.g. -v). NATTER_CONFIG=FILE runs with your own file.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh build
cmake -S . -B build/run -G Ninja -DCMAKE_BUILD_TYPE=Release -DNATTER_TESTS=OFF >/dev/null
cmake --build build/run --target natter-server natter-passwd natter-pub natter-sub natter
bash web-client/build.sh  # the browser client in web-client/dist, when missing or stale
bin=build/run

if [ -n "${NATTER_CONFIG:-}" ]; then
  exec "$bin/server/app/natter-server" -c "$NATTER_CONFIG" "$@"
fi

dir=$PWD/.natter
mkdir -p "$dir"
if [ ! -f "$dir/natter.conf" ]; then
  cat > "$dir/natter.conf" <<CONF
# Made by scripts/run.sh; see docs/configuration.md for every key.
listener 1883
listener 8080
protocol websockets
http_dir $PWD/web-client/dist

allow_anonymous false
password_file $dir/passwd

# The chat and presence service (docs/protocol.md).
chat_enabled true

persistence true
persistence_location $dir/
persistence_sync always
CONF
fi
if [ ! -f "$dir/passwd" ]; then
  : > "$dir/credentials"
  chmod 600 "$dir/credentials"
  for u in alice bob; do
    password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 12)
    create=""; [ -f "$dir/passwd" ] || create="-c"
    "$bin/server/auth/natter-passwd" $create -b "$dir/passwd" "$u" "$password"
    printf '%s %s\n' "$u" "$password" >> "$dir/credentials"
  done
fi
cat <<MSG
natter: MQTT on 127.0.0.1:1883, WebSocket/HTTP (the chat web client) on http://127.0.0.1:8080
natter: users (also in .natter/credentials; add more with $bin/server/auth/natter-passwd -b .natter/passwd USER PASSWORD, then kill -HUP):
MSG
while read -r user password; do echo "natter:   $user  $password"; done < "$dir/credentials"
read -r user password < "$dir/credentials"
cat <<MSG
natter: e.g.  $bin/cli-client/natter-sub -u $user -P $password -t 'presence/+' -F '%t %x'
MSG
exec "$bin/server/app/natter-server" -c "$dir/natter.conf" "$@"
