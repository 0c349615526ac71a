#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time on
# a copy of its committed seed corpus. Any crash, leak or sanitizer report fails the run.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
./scripts/install-deps.sh
CXX=clang++ cmake -S tests/fuzz -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)"
for target in frame_parser http_router ws_reader; do
  seeds=tests/fuzz/corpus/${target%%_*}
  [ "$target" = http_router ] && seeds=tests/fuzz/corpus/http
  [ "$target" = ws_reader ] && seeds=tests/fuzz/corpus/ws
  work=$(mktemp -d)
  cp -r "$seeds"/. "$work"/
  echo "fuzz: $target for ${seconds}s"
  status=0
  ./build-fuzz/${target}_fuzz -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work" >"$work.log" 2>&1 || status=$?
  grep -E "^(stat::number_of_executed_units|#[0-9]+.*DONE)" "$work.log" || true
  [ "$status" -eq 0 ] || tail -n 40 "$work.log"
  rm -f "$work.log"
  rm -rf "$work"
  [ "$status" -eq 0 ] || { echo "fuzz: $target FAILED (exit $status)"; exit 1; }
done
echo "fuzz: no crash"
