#!/usr/bin/env bash
# `make test`: every test, on a fresh Debian 12 machine.
#   1. unit tests, plain and under ASan+UBSan; the store contract suite runs
#      on SQLite and on a throw-away PostgreSQL cluster; the fuzz corpus
#      replayed under ASan+UBSan (make fuzz-replay)
#   2. the end-to-end suite on SQLite, then on PostgreSQL
# Exits non-zero when anything fails; each runner prints its summary.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test || exit 1
make --no-print-directory MODE=release build unit-bins || exit 1
make --no-print-directory MODE=asan build unit-bins || exit 1

pgdir=$(mktemp -d /tmp/bindery-pg-XXXXXX)
cleanup() { scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1; rm -rf "$pgdir"; }
trap cleanup EXIT
pg_url=$(scripts/pg-cluster.sh start "$pgdir" | tail -n 1) || { echo "cannot start PostgreSQL"; exit 1; }

status=0
failed=()
step() {
  local name=$1; shift
  echo "===== $name"
  if ! "$@"; then status=1; failed+=("$name"); fi
}

export BINDERY_TEST_PG_URL=$pg_url
step "unit tests" env MODE=release scripts/run-unit.sh build/release/tests
step "unit tests (ASan+UBSan)" env MODE=asan scripts/run-unit.sh build/asan/tests
# The committed fuzz corpus, replayed through the fuzz targets (seconds).
step "fuzz corpus replay (ASan+UBSan)" make --no-print-directory fuzz-replay
unset BINDERY_TEST_PG_URL
step "end-to-end (sqlite)" scripts/run-e2e.sh
step "end-to-end (postgres)" env BINDERY_E2E_PG_URL="$pg_url" scripts/run-e2e.sh
# The same suite against the ASan+UBSan build of the server: memory errors
# and leaks in request handling fail the test that owned the server.
step "end-to-end (sqlite, ASan+UBSan server)" \
  env BINDERY_BIN="$PWD/build/asan/bindery" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 scripts/run-e2e.sh

echo "====="
if [ $status -eq 0 ]; then
  echo "make test: all passed"
else
  echo "make test: FAILED: ${failed[*]}"
fi
exit $status
