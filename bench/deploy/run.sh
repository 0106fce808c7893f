#!/usr/bin/env bash
# Requests/s and latency through the /env/ reverse proxy compared with the
# same trivial Node.js app reached directly (docs/benchmarks.md).
#   bench/deploy/run.sh                 # defaults: DURATION=10s CONNS=32 THREADS=2
# Needs wrk and node. Builds the release library and bench/deploy/proxy_serve.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
make --no-print-directory MODE=release build >/dev/null
out=build/release/bench
mkdir -p "$out"
# The libraries come from the top Makefile (one list for every program).
cc -std=c17 -O2 -g -Isrc -D_GNU_SOURCE $(make --no-print-directory -s print-cflags) \
  -o "$out/proxy_serve" bench/deploy/proxy_serve.c build/release/libbindery.a \
  $(make --no-print-directory -s print-ldlibs)
work=$(mktemp -d /tmp/bindery-bench-deploy-XXXXXX)
"$out/proxy_serve" "$work" > "$work/urls" 2> "$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 200); do grep -q DIRECT "$work/urls" 2>/dev/null && break; sleep 0.1; done
proxy=$(awk '/^PROXY/{print $2}' "$work/urls")
direct=$(awk '/^DIRECT/{print $2}' "$work/urls")
echo "machine: $(nproc) cpu(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); node $(node --version); $(awk '/^SANDBOX/{print "sandbox " $2}' "$work/urls")"
bench() { # name url [wrk args]
  local name=$1 url=$2; shift 2
  echo
  echo "== $name: $url (wrk -t$THREADS -c$CONNS -d$DURATION --latency $*)"
  curl -fsS "$url" >/dev/null
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" |
    grep -E 'Requests/sec|50%|99%|Non-2xx|Socket errors|requests in'
}
bench "direct, keep-alive" "$direct"
# The proxy opens one connection to the app per request (Connection: close):
# this is the app's side of that cost.
bench "direct, one connection per request" "$direct" -H "Connection: close"
bench "proxy, keep-alive from the client" "$proxy"
