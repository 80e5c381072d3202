#!/usr/bin/env bash
# Query latency over gRPC against ONE node serving a ledger growth_bench filled (issue 7,
# acceptance 3; docs/PERFORMANCE.md "Growth"). Not a test: tests/run.sh does not run it.
#
#   tests/bench/growth_rpc.sh DATA_DIR MAX_TXS [growth_bench options: --samples=N --seed=N
#                                               --passes=N --write-sample=FILE ...]
#
# DATA_DIR was filled by `growth_bench --max-txs=MAX_TXS --dir=DATA_DIR` (give the same
# MAX_TXS: the workload is replayed to choose the sample). The script
#   1. refuses DATA_DIR while a process has a file in it open (a fill still running);
#   2. makes a copy beside it (DATA_DIR.rpc-copy.XXXXXX, on the same file system): the
#      immutable RocksDB tables (*.sst) hard-linked, every other file (WAL, MANIFEST, ...)
#      copied, so that nothing the node writes reaches DATA_DIR;
#   3. writes a genesis (`growth_bench --write-genesis`), a new observer key (`minetrace keys
#      new`) and a config.toml: data_dir the copy, gRPC and peer listeners on free ports of
#      127.0.0.1, no peers -- an observer with no peers takes no part in consensus and syncs
#      from no one: it writes no block;
#   4. reads the copy's tables once (into the page cache), starts `minetrace-node` on it
#      (nice -n 10), waits until its log says it serves and it
#      has been idle for 2 s (no compaction of the tables its start wrote), and runs `growth_bench --rpc=127.0.0.1:PORT
#      --max-txs=MAX_TXS` (nice -n 10), which waits until the node serves, replays the workload
#      to the node's head, times the queries in-process growth_bench times (same seed, same
#      head: the same lots, filters and cursors) one at a time, and checks that the head did
#      not move; then prints how much the node read from the storage device (not the page
#      cache) meanwhile;
#   5. with IN_PROCESS=1, after stopping the node, also runs `growth_bench --reopen` on the
#      copy (the in-process figures of the same directory, same sample; --write-sample is
#      left to the gRPC run);
#   6. stops the node and deletes the copy on exit, error or Ctrl-C.
# The load average is printed before and after.
#
# Settings (environment): BUILD_DIR=build-release (a Release build of minetrace-node,
# minetrace and growth_bench; see tests/bench/cluster_bench.sh), IN_PROCESS=0,
# KEEP=0 (1: keep the copy and its node.log; the path is printed).
# Exit status: 0 the table was printed; 1 a step failed; 2 bad command line.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
if [ $# -ge 1 ] && { [ "$1" = -h ] || [ "$1" = --help ]; }; then
  usage
  exit 0
fi
if [ $# -lt 2 ]; then
  echo "growth_rpc: need DATA_DIR and MAX_TXS (see --help)" >&2
  exit 2
fi
DATA="$(realpath -e "$1" 2>/dev/null)" || { echo "growth_rpc: no directory '$1'" >&2; exit 2; }
MAX_TXS="$2"
shift 2
case "$MAX_TXS" in '' | *[!0-9]*) echo "growth_rpc: MAX_TXS '$MAX_TXS' is not a number" >&2; exit 2 ;; esac
[ -d "$DATA" ] && [ -f "$DATA/CURRENT" ] ||
  { echo "growth_rpc: $DATA is not a RocksDB data directory" >&2; exit 2; }

cd "$(dirname "$0")/../.."
ROOT="$PWD"
BUILD_DIR="${BUILD_DIR:-build-release}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
NODE="$BUILD_DIR/node/minetrace-node"
MT="$BUILD_DIR/cli/minetrace"
GB="$BUILD_DIR/tests/bench/growth_bench"
for b in "$NODE" "$MT" "$GB"; do
  [ -x "$b" ] || { echo "growth_rpc: $b is missing: ninja -C $BUILD_DIR minetrace-node minetrace growth_bench" >&2; exit 1; }
done

# 1. Nobody may be writing DATA_DIR.
for fd in /proc/[0-9]*/fd/*; do
  target="$(readlink "$fd" 2>/dev/null)" || continue
  case "$target" in
    "$DATA"/*)
      pid="${fd#/proc/}"; pid="${pid%%/*}"
      echo "growth_rpc: process $pid has $target open; wait until it ends" >&2
      exit 1
      ;;
  esac
done

WORK="$(mktemp -d "$DATA.rpc-copy.XXXXXX")"
NODE_PID=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    echo "kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 2. The copy.
start=$(date +%s)
(cd "$DATA" && find . -type d) | while IFS= read -r d; do mkdir -p "$WORK/data/$d"; done
(cd "$DATA" && find . -type f) | while IFS= read -r f; do
  case "$f" in
    *.sst) ln "$DATA/$f" "$WORK/data/$f" ;;
    *) cp -p "$DATA/$f" "$WORK/data/$f" ;;
  esac
done
echo "copy: $(du -sh --apparent-size "$DATA" | cut -f1) in $WORK/data ($(find "$WORK/data" -name '*.sst' | wc -l) tables hard-linked) in $(($(date +%s) - start)) s"

# 3. Genesis, key, config.
"$GB" --write-genesis="$WORK/genesis.toml"
"$MT" keys new --out "$WORK/observer.key" >/dev/null
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "growth_rpc: no free port found" >&2
  return 1
}
GRPC_PORT="$(free_port)"
PEER_PORT="$(free_port)"
[ "$GRPC_PORT" != "$PEER_PORT" ] || PEER_PORT=$((GRPC_PORT + 1))
cat >"$WORK/config.toml" <<EOF
# growth_rpc.sh: an observer with no peers on a copy of $DATA
genesis_file = "genesis.toml"
key_file = "observer.key"
data_dir = "data"
grpc_listen = "127.0.0.1:$GRPC_PORT"
peer_listen = "127.0.0.1:$PEER_PORT"

[log]
level = "info"
file = "node.log"
EOF

# 4. The node and the queries. The tables are read into the page cache first: on a machine
# whose kernel drops cached pages while memory is free (seen on this project's build VMs: a
# 5.7 GB directory read 40 minutes earlier was 15 % resident), the first process to query
# would read from disk what the next finds cached, and the node runs first.
start_s=$SECONDS
cat "$WORK/data"/*.sst >/dev/null 2>&1 || true
echo "page cache: the copy's tables read in $((SECONDS - start_s)) s"
echo "load before: $(uptime)"
nice -n 10 "$NODE" --config "$WORK/config.toml" </dev/null >>"$WORK/node.stderr" 2>&1 &
NODE_PID=$!
echo "node: pid $NODE_PID, gRPC 127.0.0.1:$GRPC_PORT ($(git -C "$ROOT" rev-parse --short HEAD))"
# Its log says when it serves (opening a large directory takes a while); growth_bench's first
# call then finds the port open, without the gRPC channel's reconnect delays.
start=$(date +%s)
until grep -q "serving gRPC on" "$WORK/node.log" 2>/dev/null; do
  kill -0 "$NODE_PID" 2>/dev/null || { echo "growth_rpc: the node exited:" >&2; tail -n 20 "$WORK/node.log" "$WORK/node.stderr" >&2 2>/dev/null; exit 1; }
  [ $(($(date +%s) - start)) -lt 1800 ] || { echo "growth_rpc: the node did not serve within 30 min" >&2; exit 1; }
  sleep 0.1
done
echo "node serving after $(($(date +%s) - start)) s (whole seconds): $(grep -m1 "serving gRPC on" "$WORK/node.log" | cut -c1-160)"
# Opening a copy replays its write-ahead log into new level-0 tables, and RocksDB then compacts
# them in the node's background threads: at 10^7 txs 16 s of CPU on the index column, which
# would share this machine's two cores with the queries (a node that has been running for a
# while has no such work). The queries start once the node has been idle (under 5 % of a
# core) for 2 s in a row.
node_cpu_ticks() { awk '{print $14 + $15}' "/proc/$NODE_PID/stat"; }
hz=$(getconf CLK_TCK)
start=$(date +%s)
idle=0
prev=$(node_cpu_ticks)
while [ "$idle" -lt 2 ]; do
  sleep 1
  now=$(node_cpu_ticks)
  if [ $((now - prev)) -le $((hz / 20)) ]; then idle=$((idle + 1)); else idle=0; fi
  prev=$now
  [ $(($(date +%s) - start)) -lt 1800 ] || { echo "growth_rpc: the node was not idle within 30 min" >&2; exit 1; }
done
echo "node idle after $(($(date +%s) - start)) s more (its CPU time so far: $((now / hz)) s)"
# What the node reads from the storage device rather than the page cache while the queries
# run (growth_bench prints the same for its in-process run): this machine kind's kernel pages
# cold file pages out on its own, and a run that read tables from disk is not comparable.
node_read_bytes() { awk '/^read_bytes:/ {print $2}' "/proc/$NODE_PID/io"; }
read_before=$(node_read_bytes)
if ! nice -n 10 "$GB" --rpc="127.0.0.1:$GRPC_PORT" --max-txs="$MAX_TXS" "$@"; then
  echo "growth_rpc: growth_bench --rpc failed; the node's log:" >&2
  tail -n 20 "$WORK/node.log" "$WORK/node.stderr" >&2 2>/dev/null || true
  exit 1
fi
kill -0 "$NODE_PID" 2>/dev/null || { echo "growth_rpc: the node exited during the run" >&2; exit 1; }
awk -v b="$read_before" -v a="$(node_read_bytes)" \
  'BEGIN { printf "node read from the storage device during the queries: %.1f MB\n", (a - b) / 1e6 }'
echo "load after: $(uptime)"
kill "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
NODE_PID=""

# 5. The same directory in process.
if [ "${IN_PROCESS:-0}" = 1 ]; then
  cat "$WORK/data"/*.sst >/dev/null 2>&1 || true  # as before the node (step 4)
  echo "load before in-process: $(uptime)"
  # The sample file, if any, is the gRPC run's: not written again.
  args=()
  for a in "$@"; do case "$a" in --write-sample=*) ;; *) args+=("$a") ;; esac; done
  nice -n 10 "$GB" --reopen="$WORK/data" --max-txs="$MAX_TXS" "${args[@]+"${args[@]}"}"
  echo "load after in-process: $(uptime)"
fi
