#!/usr/bin/env bash
# Builds natter (Release) and runs natter-server in the foreground with a ready-made
# configuration in .natter/ (made on first run, kept afterwards; edit it freely):
#   MQTT on 127.0.0.1:1883, WebSocket + HTTP on 127.0.0.1:8080, the embedded store in
#   .natter/natter.db, no anonymous access, and a user "demo" whose password is printed.
# Extra arguments go to natter-server (e.g. -v). NATTER_CONFIG=FILE runs with your own file.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh build
cmake -S . -B build/run -G Ninja -DCMAKE_BUILD_TYPE=Release -DNATTER_TESTS=OFF >/dev/null
cmake --build build/run --target natter-server natter-passwd natter-pub natter-sub
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

persistence true
persistence_location $dir/
persistence_sync always
CONF
fi
if [ ! -f "$dir/passwd" ]; then
  password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 12)
  "$bin/server/auth/natter-passwd" -c -b "$dir/passwd" demo "$password"
  printf 'demo %s\n' "$password" > "$dir/credentials"
  chmod 600 "$dir/credentials"
fi
read -r user password < "$dir/credentials"
cat <<MSG
natter: MQTT on 127.0.0.1:1883, WebSocket/HTTP on http://127.0.0.1:8080
natter: log in as '$user' with password '$password' (also in .natter/credentials)
natter: e.g.  $bin/cli-client/natter-sub -u $user -P $password -t 'home/#' -v
MSG
exec "$bin/server/app/natter-server" -c "$dir/natter.conf" "$@"
