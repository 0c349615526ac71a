#!/usr/bin/env bash
# Stops the servers of scripts/start-test-databases.sh and removes their directory.
# Idempotent: does nothing when nothing runs. Keep the data with --keep.
set -euo pipefail

dir=${PARLEY_TEST_DB_DIR:-/tmp/parley-test-databases}
keep=0
[ "${1:-}" = "--keep" ] && keep=1
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

[ -d "$dir" ] || exit 0
if [ -n "$pg_bin" ] && [ -f "$dir/pg/postmaster.pid" ]; then
  runuser -u postgres -- "$pg_bin/pg_ctl" stop -D "$dir/pg" -m fast -w >/dev/null 2>&1 || true
fi
if [ -f "$dir/mysql.pid" ]; then
  pid=$(cat "$dir/mysql.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
fi
[ "$keep" -eq 1 ] || rm -rf "$dir"
