#!/usr/bin/env bash
# Builds Parley and runs the whole test suite (unit, deterministic actor simulation, storage,
# integration against real parleyd processes).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 900 "$@"
