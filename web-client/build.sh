#!/usr/bin/env bash
# Builds the browser client into web-client/dist when it is missing or older than its
# sources (or the chat schema); runs `npm ci` first when node_modules is missing or older
# than package-lock.json. Used by scripts/run.sh and scripts/test.sh. Needs node + npm
# (scripts/deps.sh installs Debian's when none is on PATH) and protoc.
set -euo pipefail
cd "$(dirname "$0")"

stale() {
  [ ! -f dist/index.html ] && return 0
  [ -n "$(find src index.html package.json package-lock.json vite.config.ts tsconfig.json \
            ../protocol/chat -newer dist/index.html -not -path 'src/gen/*' -print -quit)" ]
}

if ! stale; then
  exit 0
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
