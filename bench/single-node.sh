#!/usr/bin/env bash
# Starts one parleyd on a fresh data dir with rate limits lifted, runs one parley-bench
# scenario against it, and stops it. Results: bench/out/<name>.json and the table on stdout.
#   bench/single-node.sh NAME MODE [parley-bench flags...]
#   bench/single-node.sh throughput-200 throughput --channels 20 --members 10 --senders 20 --duration 10
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: single-node.sh NAME MODE [flags]}
shift
ulimit -n "$(ulimit -Hn)"
build=${BUILD_DIR:-build}
[ -x "$build/tools/bench/parley-bench" ] || ./scripts/build.sh --target parleyd parley-bench
export PARLEY_JWT_SECRET=bench-secret PARLEY_ADMIN_TOKEN=bench-admin
data=$(mktemp -d /tmp/parley-bench-XXXXXX)
log=$data/parleyd.log
"$build/runtime/parleyd" --data-dir "$data" --http-port 0 \
  --rate.user-per-s=100000 --rate.user-burst=100000 \
  --rate.workspace-per-s=10000000 --rate.workspace-burst=10000000 ${PARLEYD_FLAGS:-} >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  url=$(sed -n 's/^parleyd: listening on //p' "$log")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "single-node.sh: parleyd did not start"; cat "$log"; exit 1; }
mkdir -p bench/out
echo "# $(nproc) cores; $build/tools/bench/parley-bench $* --node $url --node-pid $pid"
"$build/tools/bench/parley-bench" "$@" --node "$url" --node-pid "$pid" --json "bench/out/$name.json"
