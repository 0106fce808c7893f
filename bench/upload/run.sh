#!/usr/bin/env bash
# Upload throughput and deploy time with the CLI (docs/devtools.md, "Measured"):
#   1. `bindery upload` of a tree of FILES files of SIZE bytes (default 5,000
#      × 10 KiB = 51.2 MB in 50 directories): first upload (every blob sent),
#      second upload of the same tree (nothing sent), wall time of the CLI;
#   2. `bindery deploy --version N` of the sample Node.js backend RUNS times:
#      CreateDeploy → SUCCEEDED as the server records it (deploys.created_at →
#      finished_at), and the CLI's wall time; p50 and max.
# Everything runs on this machine over loopback (serve, the WeChat emulator,
# the CLI, the sandboxed app share its cores).
#   bench/upload/run.sh                      # FILES=5000 SIZE=10240 RUNS=10
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory MODE=release build >/dev/null
export BINDERY_BIN=${BINDERY_BIN:-$PWD/build/release/bindery}
exec node bench/upload/bench.mjs
