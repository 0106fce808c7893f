#!/usr/bin/env bash
# Policy decision benchmark: Bindery's CAM engine against @cedar-policy/cedar-wasm
# and casbin on equivalent policies and the same requests, in one run.
#   bench/policy/run.sh            (from anywhere; builds what it needs)
# Environment: BENCH_SIZES (default "10 100" policies of 5 statements),
# BENCH_BUDGET_MS (time per Node engine and size, default 3000).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$root/build/bench/policy
sizes=${BENCH_SIZES:-10 100}

run() { echo "\$ $*"; "$@"; }

cd "$root"
run make --no-print-directory MODE=release build
run make --no-print-directory -C bench/policy
if [ ! -d "$here/node_modules/@cedar-policy/cedar-wasm" ] || [ ! -d "$here/node_modules/casbin" ]; then
  (cd "$here" && run npm ci --no-audit --no-fund)
fi
mkdir -p "$out"
echo "machine: $(nproc) cpu(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); node $(node --version)"
for n in $sizes; do
  echo
  echo "== $n policies x 5 statements"
  run node "$here/gen.mjs" "$n" "$out/workload-$n.json"
  run "$out/policy_bench" "$out/workload-$n.json" "$out/result-$n.json"
  (cd "$here" && run node compare.mjs "$out/workload-$n.json" "$out/result-$n.json")
done
