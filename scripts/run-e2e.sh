#!/usr/bin/env bash
# Runs the end-to-end suite (Node's test runner; the real binary on loopback;
# Chromium for the console), first on SQLite, then on a throw-away
# PostgreSQL cluster when the PostgreSQL back end is built in.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

( cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error )

status=0
echo "== e2e on sqlite"
( cd tests/e2e && node --test --test-concurrency=1 --test-reporter=spec ) || status=1
exit $status
