#!/usr/bin/env bash
# Runs the end-to-end suite (Node's test runner; the real binaries on
# loopback; Chromium for the console). With BINDERY_E2E_PG_URL set, every
# server the suite starts gets its own fresh database in that cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
( cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null )
cd tests/e2e
# A test that hangs fails after 5 minutes instead of holding the whole run.
exec node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec "$@"
