#!/usr/bin/env bash
# A local minetrace network on 127.0.0.1, for development and demos.
#
#   deploy/localnet.sh up            build (Release), create the network if needed, start it
#   deploy/localnet.sh down          stop every node (SIGTERM; SIGKILL after 10 s)
#   deploy/localnet.sh status        minetrace status --net DIR: one line per node, agreement
#   deploy/localnet.sh logs [NODE]   the nodes' logs (followed when stdout is a terminal)
#
# The network lives in LOCALNET_DIR (default: ./localnet of the folder you run this from):
# DIR/genesis.toml, DIR/admin.key, and per node DIR/<node>/{config.toml,node.key,data/,
# node.log,node.pid}. `up` creates it with `minetrace testnet` the first time and reuses it
# afterwards, so `down` then `up` resumes the same chain. Delete the folder (after `down`) for
# a fresh chain.
#
# Settings (read when the network is created; a reused folder keeps its own):
#   VALIDATORS=4  OBSERVERS=1  BASE_PORT=7000 (gRPC BASE+K, peers BASE+100+K for node K)
#   CHAIN_ID, BLOCK_INTERVAL_MS, ROUND_TIMEOUT_MS (passed to `minetrace testnet` when set)
# and always: BUILD_DIR=build-release, JOBS=2 (ninja), START_TIMEOUT_S=60. `up` configures
# BUILD_DIR as a Release build (CMAKE_BUILD_TYPE=Release): give it a folder of its own.
#
# Exit status: 0 done; 1 failed (a node did not start, a node did not stop, ...);
# 2 bad command line; `status` passes on `minetrace status`'s (0 agree, 1 disagree or
# behind, 3 a node unreachable).
set -euo pipefail

usage() {
  echo "usage: deploy/localnet.sh up|down|status|logs [NODE]" >&2
  [ $# -gt 0 ] && echo "localnet: $*" >&2
  exit 2
}
die() {
  echo "localnet: $*" >&2
  exit 1
}

[ $# -ge 1 ] || usage "no command given"
COMMAND="$1"
shift
case "$COMMAND" in
  up | down | status)
    [ $# -eq 0 ] || usage "'$COMMAND' takes no argument (got: $*)"
    ;;
  logs)
    [ $# -le 1 ] || usage "'logs' takes at most one NODE (got: $*)"
    ;;
  -h | --help | help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *) usage "unknown command '$COMMAND'" ;;
esac

# The network folder is taken from where the caller stands; everything else from the repo.
LOCALNET_DIR="${LOCALNET_DIR:-$PWD/localnet}"
# One spelling of the folder (absolute, no "..", no trailing "/"): running nodes are recognised
# by the config path on their command line.
LOCALNET_DIR="$(realpath -m -- "$LOCALNET_DIR")"
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD_DIR="${BUILD_DIR:-build-release}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
MT="$BUILD_DIR/cli/minetrace"
NODE_BIN="$BUILD_DIR/node/minetrace-node"
STOP_TIMEOUT_S=10
START_TIMEOUT_S="${START_TIMEOUT_S:-60}"

# The node folders of the network: every DIR/*/config.toml, in the order node0, node1, ...,
# node10, observer0 (version sort orders the trailing numbers as numbers).
node_names() {
  local cfg
  for cfg in "$LOCALNET_DIR"/*/config.toml; do
    [ -f "$cfg" ] || continue
    basename "$(dirname "$cfg")"
  done | sort -V
}

# grpc_listen of a node's config, as a client reaches it (wildcard hosts become loopback).
grpc_address() {
  local addr
  addr="$(sed -n 's/^[[:space:]]*grpc_listen[[:space:]]*=[[:space:]]*["'\'']\([^"'\'']*\)["'\''].*/\1/p' \
    "$LOCALNET_DIR/$1/config.toml" | head -n 1)"
  addr="${addr:-127.0.0.1:7000}"
  case "$addr" in 0.0.0.0:*) addr="127.0.0.1:${addr#0.0.0.0:}" ;; esac
  echo "$addr"
}

# The pid recorded for NODE if that process is alive, not a zombie, and is the minetrace-node
# of this network's NODE (a recycled pid is not ours); nothing otherwise.
running_pid() {
  local node="$1" pidfile="$LOCALNET_DIR/$1/node.pid" pid state cmdline
  [ -f "$pidfile" ] || return 0
  pid="$(tr -dc '0-9' <"$pidfile")"
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 0
  state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 0
  [ "$state" != "Z" ] || return 0
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 0
  case "$cmdline" in
    *minetrace-node*"$LOCALNET_DIR/$node/config.toml"*) echo "$pid" ;;
  esac
}

# True while NODE's recorded process is alive but still the shell forked to start it, before
# it runs minetrace-node (so running_pid does not know it yet): a start must wait for it.
exec_pending() {
  local pid state
  pid="$(tr -dc '0-9' <"$LOCALNET_DIR/$1/node.pid" 2>/dev/null)"
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [ "$state" != "Z" ] || return 1
  case "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" in
    *minetrace-node*) return 1 ;;
  esac
}

require_network() {
  [ -f "$LOCALNET_DIR/genesis.toml" ] ||
    die "no network in $LOCALNET_DIR (run 'deploy/localnet.sh up', or set LOCALNET_DIR)"
  [ -n "$(node_names)" ] || die "no node folders (*/config.toml) in $LOCALNET_DIR"
}

require_built() {
  [ -x "$MT" ] || die "$MT is not built; run 'deploy/localnet.sh up' first"
}

build() {
  deploy/install-deps.sh
  echo "==> building minetrace (Release) in $BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BUILD_DIR" -j"${JOBS:-2}" minetrace minetrace-node >/dev/null
}

create_network() {
  local args=(testnet --validators "${VALIDATORS:-4}" --observers "${OBSERVERS:-1}"
    --out "$LOCALNET_DIR" --base-port "${BASE_PORT:-7000}")
  [ -z "${CHAIN_ID:-}" ] || args+=(--chain-id "$CHAIN_ID")
  [ -z "${BLOCK_INTERVAL_MS:-}" ] || args+=(--block-interval-ms "$BLOCK_INTERVAL_MS")
  [ -z "${ROUND_TIMEOUT_MS:-}" ] || args+=(--round-timeout-ms "$ROUND_TIMEOUT_MS")
  echo "==> creating a network in $LOCALNET_DIR"
  "$MT" "${args[@]}"
}

# SIGTERM to every running node, then wait; SIGKILL what is left after STOP_TIMEOUT_S.
stop_nodes() {
  local node pid left=() waited
  for node in $(node_names); do
    pid="$(running_pid "$node")"
    if [ -n "$pid" ]; then
      echo "stopping $node (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      left+=("$node")
    fi
  done
  for ((waited = 0; ${#left[@]} > 0 && waited < STOP_TIMEOUT_S * 10; waited++)); do
    local still=()
    for node in "${left[@]}"; do
      [ -z "$(running_pid "$node")" ] || still+=("$node")
    done
    left=("${still[@]+"${still[@]}"}")
    [ ${#left[@]} -eq 0 ] || sleep 0.1
  done
  local status=0
  for node in "${left[@]+"${left[@]}"}"; do
    pid="$(running_pid "$node")"
    [ -n "$pid" ] || continue
    echo "localnet: $node (pid $pid) did not stop within ${STOP_TIMEOUT_S}s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    status=1
  done
  for node in $(node_names); do
    [ -n "$(running_pid "$node")" ] || rm -f "$LOCALNET_DIR/$node/node.pid"
  done
  return $status
}

cmd_up() {
  if [ -f "$LOCALNET_DIR/genesis.toml" ]; then
    local node running=()
    for node in $(node_names); do
      [ -z "$(running_pid "$node")" ] || running+=("$node")
    done
    [ ${#running[@]} -eq 0 ] ||
      die "the network in $LOCALNET_DIR already runs (${running[*]}); 'deploy/localnet.sh down' first"
  fi
  build
  if [ -f "$LOCALNET_DIR/genesis.toml" ]; then
    echo "==> reusing the network in $LOCALNET_DIR (VALIDATORS, OBSERVERS, BASE_PORT, ... are not read)"
  else
    create_network
  fi
  require_network

  local node started=()
  for node in $(node_names); do
    local dir="$LOCALNET_DIR/$node"
    echo "==> starting $node on $(grpc_address "$node") (log $dir/node.log)"
    printf '\n==== %s localnet up\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$dir/node.log"
    nohup "$NODE_BIN" --config "$dir/config.toml" >>"$dir/node.log" 2>&1 </dev/null &
    echo $! >"$dir/node.pid"
    started+=("$node")
  done

  # Every node must answer Status; a node that exits meanwhile (a port in use, a bad data
  # folder) fails the start, and the others are stopped again.
  local deadline=$((SECONDS + START_TIMEOUT_S)) waiting=("${started[@]}")
  while [ ${#waiting[@]} -gt 0 ]; do
    local still=()
    for node in "${waiting[@]}"; do
      if [ -z "$(running_pid "$node")" ]; then
        if exec_pending "$node"; then
          still+=("$node")
          continue
        fi
        echo "localnet: $node exited during start; the end of $LOCALNET_DIR/$node/node.log:" >&2
        tail -n 15 "$LOCALNET_DIR/$node/node.log" >&2 || true
        stop_nodes || true
        exit 1
      fi
      "$MT" query --node "$(grpc_address "$node")" --timeout-ms 1000 status >/dev/null 2>&1 ||
        still+=("$node")
    done
    waiting=("${still[@]+"${still[@]}"}")
    [ ${#waiting[@]} -eq 0 ] && break
    if [ $SECONDS -ge $deadline ]; then
      echo "localnet: ${waiting[*]} did not answer within ${START_TIMEOUT_S}s; stopping the network" >&2
      stop_nodes || true
      exit 1
    fi
    sleep 0.2
  done
  # A node whose port was taken by another process may have died after that other process
  # answered for it: check once more that every node is still ours and alive.
  sleep 0.5
  for node in "${started[@]}"; do
    if [ -z "$(running_pid "$node")" ]; then
      echo "localnet: $node exited during start; the end of its log:" >&2
      tail -n 15 "$LOCALNET_DIR/$node/node.log" >&2 || true
      stop_nodes || true
      exit 1
    fi
  done
  echo "==> the network runs"
  "$MT" status --net "$LOCALNET_DIR" || true
  cat <<EOF
    admin key   $LOCALNET_DIR/admin.key
    client      $MT (e.g. $MT query --node $(grpc_address "${started[0]}") status)
    status      deploy/localnet.sh status      logs  deploy/localnet.sh logs [NODE]
    stop        deploy/localnet.sh down
EOF
}

cmd_down() {
  if [ ! -d "$LOCALNET_DIR" ]; then
    echo "no network in $LOCALNET_DIR; nothing to stop"
    return 0
  fi
  require_network
  stop_nodes
  echo "==> stopped (the chain stays in $LOCALNET_DIR; 'deploy/localnet.sh up' resumes it)"
}

cmd_status() {
  require_network
  require_built
  exec "$MT" status --net "$LOCALNET_DIR"
}

cmd_logs() {
  require_network
  local files=() node
  if [ $# -eq 1 ]; then
    node="$1"
    if [ ! -f "$LOCALNET_DIR/$node/config.toml" ]; then
      usage "no node '$node' in $LOCALNET_DIR (nodes: $(node_names | tr '\n' ' '))"
    fi
    files=("$LOCALNET_DIR/$node/node.log")
  else
    for node in $(node_names); do files+=("$LOCALNET_DIR/$node/node.log"); done
  fi
  local f
  for f in "${files[@]}"; do [ -f "$f" ] || die "$f does not exist yet (was the network started?)"; done
  if [ -t 1 ]; then
    exec tail -n "${LOG_LINES:-20}" -F "${files[@]}"
  else
    exec tail -n "${LOG_LINES:-50}" "${files[@]}"
  fi
}

case "$COMMAND" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  logs) cmd_logs "$@" ;;
esac
