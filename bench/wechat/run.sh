#!/usr/bin/env bash
# The figures of the WeChat issue's closing note, on this machine (server,
# emulator and load generator share its cores; loopback only):
#   1. decrypt+verify throughput of one core (crypt_bench.c, in process);
#   2. push-to-stored latency, p50/p99 over BENCH_PUSHES (1000) pushes sent
#      by Node to `bindery serve` (µs resolution);
#   3. the same over BENCH_PUSHES pushes made and sent by `bindery platform`
#      (the emulator's delivery log, whole ms).
# Bindery runs on its default store (SQLite in a fresh data directory).
#   bench/wechat/run.sh            (BENCH_PUSHES=N, BENCH_SECONDS=S to change)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=bench/wechat
bin=build/release/bindery
pushes=${BENCH_PUSHES:-1000}
seconds=${BENCH_SECONDS:-3}
pkgs="libmicrohttpd jansson sqlite3 libpq openssl libargon2 libcurl libqrencode expat inih"

[ -x "$bin" ] && [ -f build/release/libbindery.a ] || make --no-print-directory MODE=release build
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Prints the port of the "listening on http://HOST:PORT" line of log $1.
port_of() {
  for _ in $(seq 150); do
    local p
    p=$(sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\).*|\1|p' "$1" | head -1)
    if [ -n "$p" ]; then echo "$p"; return; fi
    sleep 0.1
  done
  echo "bench: no 'listening on' line in $1:" >&2
  cat "$1" >&2
  exit 1
}

run() { echo "\$ $*"; "$@"; }

echo "== machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"

echo "== 1. decrypt+verify throughput, one core"
cc -std=c17 -O2 -g -Wall -Wextra -Werror -Isrc -D_GNU_SOURCE $(pkg-config --cflags $pkgs) \
  -o "$tmp/crypt_bench" $here/crypt_bench.c build/release/libbindery.a \
  $(pkg-config --libs $pkgs) -lpthread -lm
run "$tmp/crypt_bench" "$seconds"

echo "== 2. push-to-stored latency, Node -> bindery serve"
export BINDERY_WECHAT_COMPONENT_APPID=wx0000000000000001
export BINDERY_WECHAT_COMPONENT_APPSECRET=5f0c7a1e9b3d4c2a8e6f1b0d7c9a2e41
export BINDERY_WECHAT_TOKEN=binderyEmulatorToken
export BINDERY_WECHAT_ENCODING_AES_KEY=BinderyLocalEmulatorKey0123456789abcdefghij
mkdir -p "$tmp/bindery" "$tmp/platform"
echo "\$ $bin serve --data-dir $tmp/bindery --listen 127.0.0.1:0 --log.access false"
"$bin" serve --data-dir "$tmp/bindery" --listen 127.0.0.1:0 --log.access false >"$tmp/serve.log" 2>&1 &
pids+=($!)
bport=$(port_of "$tmp/serve.log")
run node $here/push-latency.mjs node "http://127.0.0.1:$bport" "$pushes"
stored=$(sqlite3 "$tmp/bindery/bindery.db" "SELECT COUNT(*) FROM wechat_events")
echo "  rows in wechat_events: $stored"

echo "== 3. push-to-stored latency, bindery platform -> bindery serve"
echo "\$ $bin platform --data-dir $tmp/platform --listen 127.0.0.1:0 --log.access false"
"$bin" platform --data-dir "$tmp/platform" --listen 127.0.0.1:0 --log.access false >"$tmp/platform.log" 2>&1 &
pids+=($!)
eport=$(port_of "$tmp/platform.log")
curl -fsS -o /dev/null -H 'Content-Type: application/json' "http://127.0.0.1:$eport/__emu/control/components" \
  -d "{\"component_appid\":\"$BINDERY_WECHAT_COMPONENT_APPID\",\"secret\":\"$BINDERY_WECHAT_COMPONENT_APPSECRET\",
       \"token\":\"$BINDERY_WECHAT_TOKEN\",\"aes_key\":\"$BINDERY_WECHAT_ENCODING_AES_KEY\",
       \"auth_event_url\":\"http://127.0.0.1:$bport/wechat/events\",\"entry_domain\":\"127.0.0.1\",
       \"ticket_pushes\":false}"
run node $here/push-latency.mjs emulator "http://127.0.0.1:$eport" "$pushes" "$tmp/platform/platform.db"
if grep -q ' warn \| error ' "$tmp/serve.log"; then
  echo "bench: bindery serve logged warnings:" >&2
  grep ' warn \| error ' "$tmp/serve.log" | head >&2
  exit 1
fi
