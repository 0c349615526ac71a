#!/usr/bin/env bash
# Starts K processes of one peer server on consecutive ports, prints one line per process
#   "PEER pid PID port PORT url http://127.0.0.1:PORT"
# and a ready-made "--node ... --node-pid ..." line for parley-bench, then waits; Ctrl-C or
# SIGTERM stops them all. Each process holds its own rooms: parley-bench's fan-out sends a
# message once to every process (see `parley-bench --help`, "targets").
#   bench/peers/start.sh socketio|ws [--procs K] [--port FIRST]
set -euo pipefail
cd "$(dirname "$0")"
peer=${1:?usage: start.sh socketio|ws [--procs K] [--port FIRST]}
shift
procs=1
port=3101
while [ $# -gt 0 ]; do
  case $1 in
    --procs) procs=${2:?--procs needs a value}; shift 2 ;;
    --port) port=${2:?--port needs a value}; shift 2 ;;
    *) echo "start.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
case $peer in
  socketio) script=socketio-server.js ;;
  ws) script=ws-server.js ;;
  *) echo "start.sh: peer must be socketio or ws" >&2; exit 2 ;;
esac
[ -d node_modules ] || ./install.sh >&2
# Every connection is a file descriptor; the soft limit is often far below the hard one.
ulimit -n "$(ulimit -Hn)"
logdir=$(mktemp -d /tmp/parley-peer-XXXXXX)
pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$logdir"
}
trap stop INT TERM EXIT
flags=""
for i in $(seq 0 $((procs - 1))); do
  p=$((port + i))
  node "$script" "$p" >"$logdir/$i.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q 'listening on' "$logdir/$i.log" && break
    sleep 0.1
  done
  grep -q 'listening on' "$logdir/$i.log" || { echo "start.sh: $peer on port $p did not start:" >&2; cat "$logdir/$i.log" >&2; exit 1; }
  echo "$peer pid ${pids[$i]} port $p url http://127.0.0.1:$p"
  flags="$flags --node http://127.0.0.1:$p --node-pid ${pids[$i]}"
done
echo "parley-bench flags: --target $peer$flags"
while [ -n "$(jobs -rp)" ]; do
  wait -n || echo "start.sh: a $peer process exited ($?)" >&2
done
