#!/usr/bin/env bash
# Installs the Debian 12 packages Natter needs, only those missing.
#   scripts/deps.sh build   what building and running the server needs
#   scripts/deps.sh test    that plus the reference clients the tests drive
set -euo pipefail

want=${1:-build}
build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-system1.81-dev libssl-dev libprotobuf-dev protobuf-compiler libsqlite3-dev
  libspdlog-dev libfmt-dev libcli11-dev libsystemd-dev libncurses-dev
  file dpkg-dev  # cpack -G DEB: the .deb (README "Install as a service")
)
test_pkgs=(
  googletest libgtest-dev
  python3 python3-paho-mqtt python3-protobuf
  mosquitto mosquitto-clients openssl procps tmux
  chromium
  systemd  # systemd-analyze checks the unit in the .deb test (no running systemd needed)
  clang-14 libclang-rt-14-dev  # fuzz/: libFuzzer and its sanitizer runtimes
)
# Node.js builds the browser client (web-client/) and runs MQTT.js and Playwright in the
# tests: Debian's nodejs 18 + npm, unless a node is already on PATH (a newer one installed
# some other way is fine).
pkgs=("${build_pkgs[@]}")
if [ "$want" = test ]; then
  pkgs+=("${test_pkgs[@]}")
fi
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
had_mosquitto=0
dpkg-query -W -f='${Status}' mosquitto 2>/dev/null | grep -q "install ok installed" && had_mosquitto=1

echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The tests only need mosquitto's binaries. Debian starts its service on port 1883, which is
# natter-server's default port too: if we brought the package in, keep its service off.
if [ "$had_mosquitto" = 0 ] && [ "$want" = test ] && command -v systemctl >/dev/null \
   && systemctl is-system-running >/dev/null 2>&1; then
  $sudo systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
