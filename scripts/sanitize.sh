#!/usr/bin/env bash
# Builds the unit, storage and deterministic actor-simulation tests with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs them. (vptr checks are off: SOCI's libraries lack the
# type information they need.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
flags="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-asan -j "$(nproc)" --target protocol_tests storage_tests actor_tests runtime_tests
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in protocol_tests storage_tests actor_tests runtime_tests; do
  echo "sanitize: $t"
  ./build-asan/tests/$t
done
