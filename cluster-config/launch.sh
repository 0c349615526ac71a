#!/usr/bin/env bash
# Starts every node of a cluster file on this machine and stops them all cleanly on Ctrl-C or
# SIGTERM. A node that dies is reported and the others keep running. Logs: <data-dir>/<node>.log.
#   cluster-config/launch.sh cluster-config/local-3 [--key=value ...]
set -euo pipefail
file=${1:?usage: launch.sh CLUSTER_FILE [--key=value ...]}
shift
[ -f "$file" ] || { echo "launch.sh: no such cluster file: $file" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
parleyd=${PARLEYD:-$root/build/runtime/parleyd}
[ -x "$parleyd" ] || { echo "launch.sh: $parleyd not built (run scripts/build.sh)" >&2; exit 1; }
data_dir=$(sed -n 's/^[[:space:]]*data-dir[[:space:]]*=[[:space:]]*//p' "$file" | tail -n 1)
data_dir=${data_dir:-data}
mkdir -p "$data_dir"
export PARLEY_JWT_SECRET=${PARLEY_JWT_SECRET:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
export PARLEY_ADMIN_TOKEN=${PARLEY_ADMIN_TOKEN:-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')}
pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "launch.sh: all nodes stopped"
}
trap stop INT TERM EXIT
for name in $(sed -n 's/^[[:space:]]*node\.\([A-Za-z0-9_-]*\)[[:space:]]*=.*/\1/p' "$file"); do
  "$parleyd" --config "$file" --node "$name" "$@" >"$data_dir/$name.log" 2>&1 &
  pids+=($!)
  echo "launch.sh: started $name (pid $!, log $data_dir/$name.log)"
done
echo "launch.sh: PARLEY_JWT_SECRET=$PARLEY_JWT_SECRET PARLEY_ADMIN_TOKEN=$PARLEY_ADMIN_TOKEN"
echo "launch.sh: Ctrl-C stops the cluster"
while [ -n "$(jobs -rp)" ]; do
  wait -n || echo "launch.sh: a node exited ($?)"
done
