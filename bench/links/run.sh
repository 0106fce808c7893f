#!/usr/bin/env bash
# Link life cycle measurements (bench/links/bench.mjs): scan-to-log-in
# completions per second against the WeChat emulator (redirect → session),
# and the time from 停止授权 to `revoked` with and without the push.
# Everything runs on this machine over loopback: `bindery serve`, `bindery
# platform` and the Node driver share its cores.
#   bench/links/run.sh                      # defaults: N=200 C=8 REVOKES=20
#   N=500 C=16 CHECK_INTERVAL=10 bench/links/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory MODE=release build >/dev/null
export BINDERY_BIN=${BINDERY_BIN:-$PWD/build/release/bindery}
exec node bench/links/bench.mjs
