#!/usr/bin/env bash
# Runs every unit test binary in DIR; prints each summary and a total line.
# The store contract suite also runs on PostgreSQL when BINDERY_TEST_PG_URL
# is set (scripts/run-e2e.sh and `make test` set it).
set -uo pipefail
dir=${1:?usage: run-unit.sh DIR}
mode=${MODE:-release}
passed=0 failed=0
for t in "$dir"/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  echo "== unit ($mode): $name"
  if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name ($mode)"; fi
done
echo "unit ($mode): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
