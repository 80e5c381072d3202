#!/usr/bin/env bash
# Cluster throughput and latency of minetrace on this machine, against the signature ceiling
# (issue 7; docs/PERFORMANCE.md "Cluster throughput and latency" and "Summary against the
# ceiling"). Not a test: tests/run.sh does not run it.
#
#   tests/bench/cluster_bench.sh [--quick] [--keep]
#
# For each network (1 validator; 4 validators; 4 validators + 1 observer) it starts a FRESH
# localnet in a temporary folder (deploy/localnet.sh up with LOCALNET_DIR, VALIDATORS,
# OBSERVERS and a BASE_PORT no other listener uses), runs `minetrace bench --net DIR` twice
# -- light load (open loop, 10 tx/s) and saturation (closed loop, IN_FLIGHT txs in flight) --
# and stops the network. With an observer, the observer is stopped before the load, its data
# deleted, and restarted after the load: its catch-up from zero is timed (blocks/s and tx/s
# until it reaches the validators' leaf count). Then it measures t_verify with
# `micro_bench --benchmark_filter=BM_Bip340Verify` and prints ONE table: each run's committed
# tx/s and commit latency, and its fraction of the ceiling C / (n x t_verify) for its n;
# "uncommitted" counts the txs still not seen committed when the bench's drain (30 s) ended.
# For the saturation runs it also gives the validators' CPU time (from /proc/PID/stat) per
# committed tx per validator, and how busy the whole machine was (/proc/stat: not idle, not
# waiting for I/O), both over the measured window.
#
# Settings (environment):
#   BUILD_DIR=build-release  built by deploy/localnet.sh (Release); micro_bench is built there too
#   WORKLOAD=mixed  DURATION_S=20  WARMUP_S=3  IN_FLIGHT=3000  KEYS=60  LIGHT_RATE=10
#   PRESIGN=300000  txs signed before each saturation run (a run that sends them all says so;
#     a single validator commits some 9,500 tx/s on a 2-core machine, 220,000 in 23 s)
#   OUT_DIR=<temp>/out  the JSON summaries and progress logs of every run
#   PERF_NODE=1  also record a CPU profile of validator 0 during the 4-validator saturation
#     run: `perf record -F 997 --call-graph dwarf` for 4 s from the start of the measured
#     window, into OUT_DIR/v4-saturation.perf.data (needs `perf`, Debian package linux-perf,
#     which deploy/install-deps.sh does not install; read it with `perf report -i FILE`).
#     perf takes CPU too: that run's figures are lower than an unprofiled run's.
# --quick: DURATION_S=3 WARMUP_S=1 IN_FLIGHT=500 KEYS=9 PRESIGN=20000 (a smoke run; its
# figures mean little).
# --keep:  keep the temporary folder (networks, logs) instead of deleting it.
#
# Every node it started is stopped on exit, error or Ctrl-C.
# Exit status: 0 the table was printed; 1 a network or a run failed; 2 bad command line.
set -euo pipefail

QUICK=0
KEEP=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "cluster_bench: unknown argument '$arg' (see --help)" >&2
      exit 2
      ;;
  esac
done

cd "$(dirname "$0")/../.."
ROOT="$PWD"
BUILD_DIR="${BUILD_DIR:-build-release}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
MT="$BUILD_DIR/cli/minetrace"
MICRO="$BUILD_DIR/tests/bench/micro_bench"
WORKLOAD="${WORKLOAD:-mixed}"
LIGHT_RATE="${LIGHT_RATE:-10}"
if [ "$QUICK" = 1 ]; then
  DURATION_S="${DURATION_S:-3}"
  WARMUP_S="${WARMUP_S:-1}"
  IN_FLIGHT="${IN_FLIGHT:-500}"
  KEYS="${KEYS:-9}"
  PRESIGN="${PRESIGN:-20000}"
else
  DURATION_S="${DURATION_S:-20}"
  WARMUP_S="${WARMUP_S:-3}"
  IN_FLIGHT="${IN_FLIGHT:-3000}"
  KEYS="${KEYS:-60}"
  PRESIGN="${PRESIGN:-300000}"
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/cluster_bench.XXXXXX")"
OUT_DIR="${OUT_DIR:-$TMP/out}"
mkdir -p "$OUT_DIR"
NETS=()  # every localnet folder started, for the cleanup

cleanup() {
  local status=$? net
  trap - EXIT INT TERM
  for net in "${NETS[@]+"${NETS[@]}"}"; do
    LOCALNET_DIR="$net" BUILD_DIR="$BUILD_DIR" deploy/localnet.sh down >/dev/null 2>&1 || true
    # The restarted observer is not in localnet's pid files if it was started by hand.
    if [ -f "$net/observer0/catchup.pid" ]; then
      kill -TERM "$(cat "$net/observer0/catchup.pid")" 2>/dev/null || true
    fi
  done
  if [ "$KEEP" = 1 ]; then
    echo "cluster_bench: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "cluster_bench: $*" >&2
  exit 1
}

# A base port whose gRPC (BASE..BASE+9) and peer (BASE+100..BASE+109) ports nobody listens on.
free_base_port() {
  local try base listening
  listening="$(ss -Hltn 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)"
  for try in $(seq 1 50); do
    base=$((20000 + (RANDOM % 200) * 200))
    local clash=0 p
    for p in $(seq "$base" $((base + 9))) $(seq $((base + 100)) $((base + 109))); do
      if grep -qx "$p" <<<"$listening"; then clash=1; break; fi
    done
    [ "$clash" = 1 ] || { echo "$base"; return 0; }
  done
  die "no free port range found"
}

# up NAME VALIDATORS OBSERVERS: a fresh localnet in $TMP/NAME; prints its folder.
up() {
  local dir="$TMP/$1"
  NETS+=("$dir")
  LOCALNET_DIR="$dir" VALIDATORS="$2" OBSERVERS="$3" BASE_PORT="$(free_base_port)" \
    BUILD_DIR="$BUILD_DIR" deploy/localnet.sh up >"$OUT_DIR/$1.localnet.log" 2>&1 ||
    { tail -n 20 "$OUT_DIR/$1.localnet.log" >&2; die "localnet $1 did not start"; }
}

down() {
  LOCALNET_DIR="$TMP/$1" BUILD_DIR="$BUILD_DIR" deploy/localnet.sh down \
    >>"$OUT_DIR/$1.localnet.log" 2>&1 || die "localnet $1 did not stop cleanly"
}

# bench NET RUN ARGS...: one `minetrace bench` run; JSON in $OUT_DIR/RUN.json, and in
# $OUT_DIR/RUN.cpu what the validators and the machine spent over its measured window.
bench() {
  local net="$1" run="$2" bench_pid
  shift 2
  echo "==> $run: minetrace bench --net $TMP/$net --workload $WORKLOAD $*" >&2
  "$MT" bench --net "$TMP/$net" --workload "$WORKLOAD" --keys "$KEYS" --warmup "$WARMUP_S" \
    --duration "$DURATION_S" --json "$OUT_DIR/$run.json" "$@" \
    >"$OUT_DIR/$run.txt" 2>"$OUT_DIR/$run.log" &
  bench_pid=$!
  cpu_window "$net" "$OUT_DIR/$run.log" "$bench_pid" >"$OUT_DIR/$run.cpu"
  wait "$bench_pid" || { tail -n 5 "$OUT_DIR/$run.log" >&2; die "run $run failed"; }
  tail -n 1 "$OUT_DIR/$run.log" >&2
}

# CPU ticks of the validators of localnet NET (node0, node1, ...; not observers, not the load
# generator).
validator_ticks() {
  local t=0 p f
  for p in $(pgrep -f "minetrace-node --config $TMP/$1/node"); do
    read -r -a f <"/proc/$p/stat" 2>/dev/null || continue
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}

# cpu_window NET LOG PID: while bench PID runs, waits for its measured window (in LOG, from
# the first progress line after the warmup ones to the first "(draining)" line) and
# prints "validator_ticks busy_ticks all_ticks clock_ticks_per_s" over it (busy: the whole
# machine's CPU time not idle and not waiting for I/O, from /proc/stat); empty if the run
# ended first.
cpu_window() {
  local net="$1" log="$2" pid="$3" v0="" s0 v1 s1
  while kill -0 "$pid" 2>/dev/null; do
    if [ -z "$v0" ] && grep -q '^bench [0-9]* s:' "$log" 2>/dev/null; then
      v0="$(validator_ticks "$net")"
      s0="$(head -n 1 /proc/stat)"
      if [ "${PERF_NODE:-0}" = 1 ] && [ "$log" = "$OUT_DIR/v4-saturation.log" ]; then
        perf record -F 997 --call-graph dwarf,16384 -o "$OUT_DIR/v4-saturation.perf.data" \
          -p "$(pgrep -f "minetrace-node --config $TMP/$net/node0/" | head -n 1)" -- sleep 4 \
          >"$OUT_DIR/v4-saturation.perf.log" 2>&1 &
      fi
    elif [ -n "$v0" ] && grep -q '^bench [0-9]* s (draining)' "$log" 2>/dev/null; then
      v1="$(validator_ticks "$net")"
      s1="$(head -n 1 /proc/stat)"
      python3 - "$v0" "$v1" "$s0" "$s1" "$(getconf CLK_TCK)" <<'PY'
import sys
v0, v1, s0, s1, hz = sys.argv[1:]
a = [int(x) for x in s0.split()[1:9]]
b = [int(x) for x in s1.split()[1:9]]
d = [y - x for x, y in zip(a, b)]  # user nice system idle iowait irq softirq steal
print(int(v1) - int(v0), sum(d) - d[3] - d[4], sum(d), hz)
PY
      return 0
    fi
    sleep 0.2
  done
}

status_field() {  # status_field ADDRESS FIELD (height | leaf_count) from `minetrace status --json`
  "$MT" status --node "$1" --json 2>/dev/null |
    python3 -c 'import json,sys; n=json.load(sys.stdin)["nodes"][0]; s=n.get("status",{}); print(s.get(sys.argv[1], 0))' "$2"
}

grpc_address() {
  sed -n 's/^[[:space:]]*grpc_listen[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$1/config.toml" |
    head -n 1 | sed 's/^0\.0\.0\.0:/127.0.0.1:/'
}

[ -d "$BUILD_DIR" ] || echo "cluster_bench: $BUILD_DIR will be built by deploy/localnet.sh" >&2

echo "cluster_bench: workload $WORKLOAD, ${DURATION_S} s after ${WARMUP_S} s warmup, light" \
  "$LIGHT_RATE tx/s, saturation $IN_FLIGHT in flight, $KEYS keys; output in $OUT_DIR" >&2
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT+changes"

# ---- 1 validator ----
up v1 1 0
bench v1 v1-light --rate "$LIGHT_RATE"
bench v1 v1-saturation --in-flight "$IN_FLIGHT" --presign "$PRESIGN"
down v1

# ---- 4 validators ----
up v4 4 0
bench v4 v4-light --rate "$LIGHT_RATE"
bench v4 v4-saturation --in-flight "$IN_FLIGHT" --presign "$PRESIGN"
down v4

# ---- 4 validators + 1 observer (load to the validators), then the observer's catch-up ----
up v4o1 4 1
OBS="$TMP/v4o1/observer0"
OBS_ADDR="$(grpc_address "$OBS")"
bench v4o1 v4o1-light --rate "$LIGHT_RATE"
bench v4o1 v4o1-saturation --in-flight "$IN_FLIGHT" --presign "$PRESIGN"
# Catch-up from zero: stop the observer, delete its data, start it again, time it to the head.
obs_pid="$(cat "$OBS/node.pid")"
kill -TERM "$obs_pid"
for _ in $(seq 1 100); do kill -0 "$obs_pid" 2>/dev/null || break; sleep 0.1; done
rm -rf "$OBS/data"
HEAD_ADDR="$(grpc_address "$TMP/v4o1/node0")"
HEAD_HEIGHT="$(status_field "$HEAD_ADDR" height)"
HEAD_LEAVES="$(status_field "$HEAD_ADDR" leafCount)"
CATCHUP_START="$(date +%s.%N)"
nohup "$BUILD_DIR/node/minetrace-node" --config "$OBS/config.toml" >>"$OBS/node.log" 2>&1 </dev/null &
echo $! >"$OBS/catchup.pid"
CATCHUP_S=""
for _ in $(seq 1 6000); do
  leaves="$(status_field "$OBS_ADDR" leafCount || echo 0)"
  if [ "${leaves:-0}" -ge "$HEAD_LEAVES" ] 2>/dev/null; then
    CATCHUP_S="$(python3 -c "import sys,time; print(time.time() - float(sys.argv[1]))" "$CATCHUP_START")"
    break
  fi
  sleep 0.1
done
kill -TERM "$(cat "$OBS/catchup.pid")" 2>/dev/null || true
rm -f "$OBS/catchup.pid"
down v4o1

# ---- the ceiling, measured now on this machine ----
if [ ! -x "$MICRO" ]; then
  echo "==> building micro_bench in $BUILD_DIR" >&2
  ninja -C "$BUILD_DIR" -j"${JOBS:-2}" micro_bench >/dev/null || die "micro_bench did not build"
fi
echo "==> micro_bench --benchmark_filter=BM_Bip340Verify" >&2
"$MICRO" --benchmark_filter='BM_Bip340Verify$' --benchmark_format=json \
  >"$OUT_DIR/micro_verify.json" 2>"$OUT_DIR/micro_verify.log" || die "micro_bench failed"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$COMMIT" "$(date -u +%Y-%m-%dT%H:%MZ)" "$OUT_DIR" "$(nproc)" "$WORKLOAD" "$DURATION_S" "$WARMUP_S" "$IN_FLIGHT" "$KEYS" \
  "$LIGHT_RATE" "$HEAD_HEIGHT" "$HEAD_LEAVES" "${CATCHUP_S:-}" "$LOAD_BEFORE" "$LOAD_AFTER" <<'EOF'
import json, sys, os
(commit, when, out, cores, workload, duration, warmup, in_flight, keys, light, head_height, head_leaves,
 catchup_s, load_before, load_after) = sys.argv[1:]
cores = int(cores)
micro = json.load(open(os.path.join(out, "micro_verify.json")))
bench = [b for b in micro["benchmarks"] if b["name"].startswith("BM_Bip340Verify")][0]
if "t_verify_ns" in bench:
    t_verify_ns = float(bench["t_verify_ns"])
else:  # the plain time per verify
    unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[bench.get("time_unit", "ns")]
    t_verify_ns = float(bench["real_time"]) * unit
def ceiling(n):
    return cores / (n * t_verify_ns * 1e-9)
rows = [
    ("1 validator", 1, "v1-light", f"open loop {light} tx/s"),
    ("1 validator", 1, "v1-saturation", f"closed loop {in_flight} in flight"),
    ("4 validators", 4, "v4-light", f"open loop {light} tx/s"),
    ("4 validators", 4, "v4-saturation", f"closed loop {in_flight} in flight"),
    ("4 validators + 1 observer", 4, "v4o1-light", f"open loop {light} tx/s"),
    ("4 validators + 1 observer", 4, "v4o1-saturation", f"closed loop {in_flight} in flight"),
]
print(f"t_verify {t_verify_ns/1000:.1f} us (micro_bench BM_Bip340Verify), C = {cores} cores: "
      f"ceiling {ceiling(1):,.0f} tx/s for n=1, {ceiling(4):,.0f} tx/s for n=4")
print(f"commit {commit}, {when}, {cores} cores ({os.uname().machine}), "
      f"minetrace bench per run as below")
print(f"workload {workload}, {duration} s measured after {warmup} s warmup, {keys} keys; "
      f"load average before {load_before}, after {load_after}")
print()
def cpu(run, n, committed):
    """CPU per committed tx per validator (us) and the machine's busy share, over the window."""
    try:
        v, busy, total, hz = (int(x) for x in open(os.path.join(out, run + ".cpu")).read().split())
    except (OSError, ValueError):
        return "", ""
    if not committed or not total:
        return "", ""
    return f"{v / hz / committed / n * 1e6:,.0f}", f"{100 * busy / total:.0f}"
print("| network | load | committed tx/s | of ceiling | p50 ms | p90 ms | p99 ms | max ms "
      "| sent | rejected | FAILED | uncommitted | CPU us per tx per validator | machine busy % |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for name, n, run, load in rows:
    j = json.load(open(os.path.join(out, run + ".json")))
    l = j["latencyMs"]
    frac = j["committedTxPerS"] / ceiling(n)
    if j["ranOutOfTxs"]:
        load += " (ran out of pre-signed txs)"
    per_tx, busy = cpu(run, n, j["committedInWindow"]) if "saturation" in run else ("", "")
    print(f"| {name} | {load} | {j['committedTxPerS']:,.1f} | {frac:.4f} | {l['p50']:.1f} | "
          f"{l['p90']:.1f} | {l['p99']:.1f} | {l['max']:.1f} | {j['sent']} | {j['rejected']} | "
          f"{j['committedFailed']} | {j['uncommitted']} | {per_tx} | {busy} |")
print(f"| ceiling C/(n x t_verify), n=1 | | {ceiling(1):,.0f} | 1 | | | | | | | | | | |")
print(f"| ceiling C/(n x t_verify), n=4 | | {ceiling(4):,.0f} | 1 | | | | | | | | | | |")
if catchup_s:
    s = float(catchup_s)
    print()
    print(f"observer catch-up from zero: {head_height} blocks, {head_leaves} txs in {s:.1f} s: "
          f"{int(head_height)/s:,.1f} blocks/s, {int(head_leaves)/s:,.1f} tx/s")
else:
    print()
    print("observer catch-up: did not reach the head within 10 min (not measured)")
EOF
