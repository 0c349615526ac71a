#!/usr/bin/env bash
# Builds Parley and runs the whole test suite (unit, deterministic actor simulation, storage,
# integration against real parleyd processes).
# The storage suite runs against SQLite, PostgreSQL and MariaDB: unless PARLEY_TEST_POSTGRES
# or PARLEY_TEST_MYSQL are already set, this starts throwaway servers and stops them on exit
# (servers that were already running are reused and left running).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
./scripts/build.sh
# bench_tests drive the Socket.IO and ws peer servers (npm packages, pinned by package-lock).
[ -d bench/peers/node_modules ] || ./bench/peers/install.sh >/dev/null
if [ -z "${PARLEY_TEST_POSTGRES:-}${PARLEY_TEST_MYSQL:-}" ]; then
  db_dir=${PARLEY_TEST_DB_DIR:-/tmp/parley-test-databases}
  if [ ! -d "$db_dir" ]; then
    trap '"$root/scripts/stop-test-databases.sh"' EXIT
  fi
  db_env=$(./scripts/start-test-databases.sh)
  eval "$db_env"
fi
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 900 "$@"
