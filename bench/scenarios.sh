#!/usr/bin/env bash
# Runs issue 4's standard scenarios against Parley and, in the same run, against the Socket.IO 4
# and Node `ws` peer servers (bench/peers), one server at a time, all driven by parley-bench.
# Results: bench/out/<scenario>-<target>.json; then bench/report.py prints the side-by-side
# table and writes the latency plot.
#   bench/scenarios.sh [SCENARIO...]      (default: all)
#   TARGETS="parley ws" bench/scenarios.sh fanout-10k
# Scenarios: fanout-1k fanout-10k fanout-50k throughput-100x10 throughput-10000x5 idle-10k
#   presence-10k (Parley only: presence-10k-w0, -w5, -w10 with 0, 5 and 10 % of the members
#   subscribed; the peers have no presence subscriptions, so other targets are skipped)
# Loopback only; every run is bounded in time and count.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ulimit -n "$(ulimit -Hn)"
build=${BUILD_DIR:-build}
[ -x "$build/tools/bench/parley-bench" ] && [ -x "$build/runtime/parleyd" ] \
  || ./scripts/build.sh --target parleyd parley-bench
bench=$(realpath "$build/tools/bench/parley-bench")
parleyd=$(realpath "$build/runtime/parleyd")
export PARLEY_JWT_SECRET=bench-secret PARLEY_ADMIN_TOKEN=bench-admin
targets=${TARGETS:-parley socketio ws}
# The peer servers' packages, only when a peer target runs.
if [ "$targets" != parley ] && [ ! -d bench/peers/node_modules ]; then
  ./bench/peers/install.sh >/dev/null
fi
mkdir -p bench/out
# Clients beyond ~28K per source address and node need more ephemeral ports.
read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
if [ $((hi - lo)) -lt 50000 ] && [ -w /proc/sys/net/ipv4/ip_local_port_range ]; then
  echo "10000 65000" > /proc/sys/net/ipv4/ip_local_port_range
fi

work=$(mktemp -d /tmp/parley-scenarios-XXXXXX)
server_pids=()
stop_servers() {
  for p in "${server_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${server_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  server_pids=()
}
trap 'stop_servers; rm -rf "$work"' EXIT

wait_for_line() { # FILE PATTERN: waits up to 20 s for a line matching PATTERN
  for _ in $(seq 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "scenarios.sh: timed out waiting for '$2' in $1" >&2
  cat "$1" >&2
  return 1
}

# Rate limits lifted; PARLEYD_FLAGS adds more (e.g. PARLEYD_FLAGS=--fanout.internode-deadline-ms=0).
# shellcheck disable=SC2206
parley_flags=(--rate.user-per-s=100000 --rate.user-burst=100000
              --rate.workspace-per-s=10000000 --rate.workspace-burst=10000000 ${PARLEYD_FLAGS:-})

# Starts N Parley nodes (one node, or a cluster on one SQLite file); sets `flags`.
start_parley() {
  local n=$1 data=$work/parley-$RANDOM
  mkdir -p "$data"
  flags=""
  if [ "$n" = 1 ]; then
    "$parleyd" --data-dir "$data" --http-port 0 "${parley_flags[@]}" >"$data/n1.log" 2>&1 &
    server_pids+=($!)
    wait_for_line "$data/n1.log" "listening on"
    flags=" --node $(sed -n 's/^parleyd: listening on //p' "$data/n1.log") --node-pid $!"
    return
  fi
  {
    for i in $(seq "$n"); do echo "node.n$i = 127.0.0.1:$((7400 + i)):$((8400 + i))"; done
    echo "storage = sqlite3://db=$data/parley.db"
    echo "data-dir = $data"
  } >"$data/cluster"
  for i in $(seq "$n"); do
    "$parleyd" --config "$data/cluster" --node "n$i" "${parley_flags[@]}" >"$data/n$i.log" 2>&1 &
    server_pids+=($!)
    flags="$flags --node http://127.0.0.1:$((8400 + i)) --node-pid $!"
  done
  for i in $(seq "$n"); do wait_for_line "$data/n$i.log" "listening on"; done
  sleep 2 # the nodes find each other (cluster hello) before clients arrive
}

# Starts K processes of a peer server; sets `flags`.
start_peer() {
  local peer=$1 k=$2 out=$work/$1-$RANDOM.out
  ./bench/peers/start.sh "$peer" --procs "$k" --port 3600 >"$out" 2>"$out.err" &
  server_pids+=($!)
  wait_for_line "$out" "parley-bench flags:"
  flags=$(sed -n 's/^parley-bench flags: --target [a-z]*//p' "$out")
}

# run SCENARIO PROCS MODE [bench flags...]: one run per target, servers restarted each time.
run() {
  local scenario=$1 procs=$2
  shift 2
  for target in $targets; do
    if [ "$target" = parley ]; then start_parley "$procs"; else start_peer "$target" "$procs"; fi
    echo "# $(nproc) cores; parley-bench $* --target $target$flags"
    # shellcheck disable=SC2086
    "$bench" "$@" --target "$target" $flags --json "bench/out/$scenario-$target.json" \
      || echo "scenarios.sh: $scenario against $target failed" >&2
    stop_servers
  done
}

# run_parley SCENARIO PROCS MODE [bench flags...]: like run, against Parley only (a feature the
# peers lack); skipped when TARGETS leaves Parley out.
run_parley() {
  case " $targets " in
    *" parley "*) targets=parley run "$@" ;;
    *) echo "scenarios.sh: $1 runs against Parley only; skipped (TARGETS=$targets)" >&2 ;;
  esac
}

scenarios=${*:-fanout-1k fanout-10k fanout-50k throughput-100x10 throughput-10000x5 idle-10k
  presence-10k}
for s in $scenarios; do
  case $s in
    fanout-1k) run "$s" 1 fanout --members 1000 --messages 50 --pause-ms 20 --connect-rate 1000 ;;
    fanout-10k) run "$s" 1 fanout --members 10000 --messages 30 --pause-ms 50 --connect-rate 2000 ;;
    fanout-50k) run "$s" 3 fanout --members 50000 --messages 20 --pause-ms 100 --connect-rate 2000 \
                  --timeout-ms 20000 --settle 60 ;;
    throughput-100x10) run "$s" 1 throughput --channels 100 --members 10 --senders 100 --duration 15 ;;
    # 50,000 clients: more sockets than one process may hold, so 3 nodes / 3 peer processes.
    throughput-10000x5) run "$s" 3 throughput --channels 10000 --members 5 --senders 1000 \
                          --duration 15 --connect-rate 2000 --settle 60 ;;
    idle-10k) run "$s" 1 idle --connections 10000 --hold 10 --connect-rate 2000 ;;
    # 10,000 members (above presence.push-max-members, 1,000: the channel pushes no presence),
    # a share of them subscribed to 100 others each; the rest connect, stay 2 s and close.
    presence-10k)
      for pct in 0 5 10; do
        run_parley "$s-w$pct" 1 presence --members 10000 --watchers "0.$(printf %02d "$pct")" \
          --watch 100 --hold 2 --drain 2 --connect-rate 2000
      done ;;
    *) echo "scenarios.sh: unknown scenario $s" >&2; exit 2 ;;
  esac
done
python3 bench/report.py bench/out
