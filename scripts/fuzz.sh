#!/usr/bin/env bash
# The fuzz targets of tests/fuzz (docs/testing.md).
#   scripts/fuzz.sh run DIR      run each libFuzzer target of DIR (make fuzz) for
#                                FUZZ_SECONDS (default 60) on a fresh copy of its
#                                committed corpus, in build/fuzz/corpus/<name>
#   scripts/fuzz.sh replay DIR   feed the committed corpus to each replay binary
#                                of DIR (make fuzz-replay: gcc, ASan+UBSan)
# FUZZ_TARGETS="tc3 query" limits either to some targets; FUZZ_MAX_LEN sets the
# longest input libFuzzer makes (default 16384, at least the largest seed). Exits non-zero when
# any target crashes, leaks, hangs or trips a sanitizer; a crashing input is
# kept as build/fuzz/artifacts/<name>-crash-<sha1>.
set -uo pipefail
cd "$(dirname "$0")/.."

mode=${1:?usage: fuzz.sh run|replay DIR}
dir=${2:?usage: fuzz.sh run|replay DIR}
seconds=${FUZZ_SECONDS:-60}
corpus=tests/fuzz/corpus

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  for b in "$dir"/*; do [ -x "$b" ] && [ -f "$b" ] && targets+=("$(basename "$b")"); done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets in $dir"; exit 1; }

failed=()
for name in "${targets[@]}"; do
  bin=$dir/$name
  [ -x "$bin" ] || { echo "fuzz: $bin is missing"; failed+=("$name"); continue; }
  [ -d "$corpus/$name" ] || { echo "fuzz: $corpus/$name is missing"; failed+=("$name"); continue; }
  case $mode in
  replay)
    # Leaks count as failures, like in the unit tests under ASan.
    if ! ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$bin" "$corpus/$name"; then
      echo "FAILED: fuzz replay $name"
      failed+=("$name")
    fi
    ;;
  run)
    work=build/fuzz/corpus/$name
    rm -rf "$work"
    mkdir -p "$work" build/fuzz/artifacts build/fuzz/logs
    cp "$corpus/$name"/* "$work"/
    dict=()
    [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
    # Inputs up to FUZZ_MAX_LEN bytes (16 KiB), or the largest seed if larger.
    max_len=${FUZZ_MAX_LEN:-16384}
    largest=$(find "$work" -type f -printf '%s\n' | sort -n | tail -n 1)
    [ "${largest:-0}" -gt "$max_len" ] && max_len=$largest
    log=build/fuzz/logs/$name.log
    echo "== fuzz $name: ${seconds}s"
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
        -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$name-" "${dict[@]}" \
        "$work" >"$log" 2>&1; then
      grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" | tr '\n' ' '
      echo "corpus $(ls "$work" | wc -l) files"
    else
      tail -n 60 "$log"
      echo "FAILED: fuzz $name (log $log, input in build/fuzz/artifacts/)"
      failed+=("$name")
    fi
    ;;
  *)
    echo "usage: fuzz.sh run|replay DIR"
    exit 2
    ;;
  esac
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz ($mode): FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz ($mode): ${#targets[@]} targets passed"
