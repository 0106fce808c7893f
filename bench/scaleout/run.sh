#!/usr/bin/env bash
# Scale-out figures (issue 3's closing note), everything on this machine over
# loopback (servers, PostgreSQL and the load generators share its cores):
#   1. TC3-signed GetUserAppId with wrk: SQLite, one instance; PostgreSQL,
#      one instance; PostgreSQL, two instances (two wrk runs at once, one per
#      instance, half the connections each; the figure is their sum)
#   2. scan-to-log-in completions/s (bench/scaleout/logins.mjs): the same
#      three set-ups, with the WeChat emulator
#   BENCH_DURATION=20s N=300 C=8 bench/scaleout/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory MODE=release build >/dev/null
scripts/install-deps.sh test >/dev/null
bin=$PWD/build/release/bindery
duration=${BENCH_DURATION:-20s}
tmp=$(mktemp -d)
pgdir=$(mktemp -d /tmp/bindery-pg-XXXXXX) # its own: the postgres user must reach it
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$tmp" "$pgdir"
}
trap cleanup EXIT

pg=$(scripts/pg-cluster.sh start "$pgdir" 2>/dev/null | tail -1)
newdb() { psql "$pg" -qAtc "CREATE DATABASE $1" >/dev/null; echo "${pg%/*}/$1"; }

# start NAME PORT [STORE]: one serve on PORT sharing $tmp/master.key
start() {
  local dir="$tmp/$1"
  mkdir -p "$dir"
  BINDERY_STORE=${3:-} BINDERY_MASTER_KEY_FILE="$tmp/master.key" \
    "$bin" serve --data-dir "$dir" --listen "127.0.0.1:$2" --log.access false --log.level warn &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.1; done
  echo "bench: serve on $2 did not start" >&2
  exit 1
}

# signed PORTS...: signs with a fresh key of a fresh account and runs wrk on
# every port at once; prints the summed req/s.
signed() {
  local label=$1 dir=$2
  shift 2
  local email="bench.$RANDOM$RANDOM@example.com"
  local uin key sid skey
  uin=$(printf 'bench password 1\n' | BINDERY_STORE=$store BINDERY_MASTER_KEY_FILE="$tmp/master.key" \
    "$bin" admin create-account --data-dir "$dir" --email "$email" --password-stdin)
  key=$(BINDERY_STORE=$store BINDERY_MASTER_KEY_FILE="$tmp/master.key" \
    "$bin" admin create-access-key --data-dir "$dir" --account "$uin")
  sid=$(node -e 'console.log(JSON.parse(process.argv[1]).SecretId)' "$key")
  skey=$(node -e 'console.log(JSON.parse(process.argv[1]).SecretKey)' "$key")
  local conns=$((64 / $#)) wrks=() outs=()
  for port in "$@"; do
    node bench/sign.mjs "127.0.0.1:$port" "$sid" "$skey" GetUserAppId >"$tmp/signed.$port.lua"
    wrk -t1 -c$conns -d"$duration" --latency -s "$tmp/signed.$port.lua" "http://127.0.0.1:$port/" \
      >"$tmp/signed.$port.out" &
    wrks+=($!)
    outs+=("$tmp/signed.$port.out")
  done
  for w in "${wrks[@]}"; do wait "$w"; done
  for o in "${outs[@]}"; do
    grep -q '^failed answers: 0$' "$o" || { cat "$o"; echo "bench: some signed requests failed" >&2; exit 1; }
  done
  local sum
  sum=$(awk '/Requests\/sec/ {s += $2} END {printf "%.0f", s}' "${outs[@]}")
  local p99
  p99=$(awk '$1 == "99%" {print $2}' "${outs[@]}" | paste -sd/)
  printf '  %-40s %8s req/s   p99 %s\n' "$label" "$sum" "$p99"
}

echo "bindery scale-out bench: $(nproc) cores, wrk ${duration}, 64 connections in all"
echo "== TC3-signed GetUserAppId"
store=""
start sqlite 18490
signed "SQLite, one instance" "$tmp/sqlite" 18490
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'

store=$(newdb bench_one)
start pg1 18491 "$store"
signed "PostgreSQL, one instance" "$tmp/pg1" 18491
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'

store=$(newdb bench_two)
start pga 18492 "$store"
start pgb 18493 "$store"
signed "PostgreSQL, two instances" "$tmp/pga" 18492 18493
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
pids=()

echo "== scan-to-log-in completions (WeChat emulator, redirect → session)"
BINDERY_BIN=$bin BENCH_PG_URL=$pg node bench/scaleout/logins.mjs
