#!/usr/bin/env bash
# make bench: throughput and latency of the running binary, measured with wrk
# over loopback on this machine (server and load generator share its cores).
#   1. TC3-signed GetUserAppId: keep-alive, 64 connections, 20 s
#   2. password logins (argon2id m=19 MiB, t=2): 4 connections, 10 s
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/bindery
tmp=$(mktemp -d)
port=${BENCH_PORT:-18480}
duration=${BENCH_DURATION:-20s}
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$bin" serve --data-dir "$tmp" --listen 127.0.0.1:$port --log.access false --log.level warn &
pid=$!
for _ in $(seq 100); do curl -fs http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done

uin=$(printf 'bench password 1\n' | "$bin" admin create-account --data-dir "$tmp" --email bench@example.com --password-stdin)
key=$("$bin" admin create-access-key --data-dir "$tmp" --account "$uin")
sid=$(node -e 'console.log(JSON.parse(process.argv[1]).SecretId)' "$key")
skey=$(node -e 'console.log(JSON.parse(process.argv[1]).SecretKey)' "$key")

node bench/sign.mjs 127.0.0.1:$port "$sid" "$skey" GetUserAppId > "$tmp/signed.lua"
cat > "$tmp/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"Email":"bench@example.com","Password":"bench password 1"}'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() failures = 0 end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"Uin"', 1, true) then failures = failures + 1 end
end
function done()
  local f = 0
  for _, t in ipairs(threads) do f = f + t:get("failures") end
  print("failed answers: " .. f)
end
LUA

echo "== TC3-signed GetUserAppId"
cmd="wrk -t2 -c64 -d$duration --latency -s $tmp/signed.lua http://127.0.0.1:$port/"
echo "\$ $cmd"
$cmd | tee "$tmp/signed.out"
# Every answer must have been a success, not a fast error.
grep -q '^failed answers: 0$' "$tmp/signed.out" || { echo "bench: some signed requests failed"; exit 1; }

echo "== password logins"
cmd="wrk -t2 -c4 -d10s --latency -s $tmp/login.lua http://127.0.0.1:$port/console/login"
echo "\$ $cmd"
$cmd | tee "$tmp/login.out"
grep -q '^failed answers: 0$' "$tmp/login.out" || { echo "bench: some logins failed"; exit 1; }

rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/signed.out")
p99=$(awk '$1 == "99%" {print $2}' "$tmp/signed.out")
lps=$(awk '/Requests\/sec/ {print $2}' "$tmp/login.out")
echo
echo "summary: signed GetUserAppId ${rps} req/s, p99 ${p99}; password logins ${lps}/s"

# 3. The CAM policy decision (docs/cam-policy.md): Bindery's engine against
#    @cedar-policy/cedar-wasm and casbin on the same requests, 10 and 100
#    policies of 5 statements; then cam_authorize with a principal's cached
#    set (the per-request cost, including the generation check in the store).
echo
echo "== CAM policy decisions (bench/policy/run.sh)"
bench/policy/run.sh
echo
echo "== cam_authorize with a cached set (bench/cam)"
make --no-print-directory -C bench/cam >/dev/null
build/bench/cam/cam_bench
