#!/usr/bin/env bash
# The minetrace demo: builds minetrace (Release), starts a local network in a fresh temporary
# folder and runs the first steps of the mine-to-smelter flow through the CLI:
#   the administrator registers an agent, a cooperative, a trader and a green mine site and
#   allocates tags; the agent records three mine lots; the cooperative dispatches two to the
#   trader; the trader receives them (one with a different weight). A refused step is shown
#   too (a reused tag). Then it prints the lots' histories and the ledger root, and stops
#   every process it started. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

deploy/install-deps.sh

BUILD_DIR="${BUILD_DIR:-build-release}"
echo "==> building minetrace (Release) in $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD_DIR" -j"${JOBS:-2}" minetrace minetrace-node >/dev/null
MT="$ROOT/$BUILD_DIR/cli/minetrace"
NODE="$ROOT/$BUILD_DIR/node/minetrace-node"

WORK="$(mktemp -d -t minetrace-demo-XXXXXX)"
NODE_PIDS=()
cleanup() {
  for pid in "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${NODE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free port base on loopback, so that two demos (or a demo and a test) do not collide.
BASE_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"

step() { printf '\n==> %s\n' "$*"; }

step "creating a local network in $WORK"
"$MT" testnet --validators 1 --out "$WORK/net" --chain-id minetrace-demo --base-port "$BASE_PORT" \
  --block-interval-ms 100
NODE_ADDR="127.0.0.1:$BASE_PORT"

step "starting the validator on $NODE_ADDR"
"$NODE" --config "$WORK/net/node0/config.toml" 2>"$WORK/node0.log" &
NODE_PIDS+=($!)
for _ in $(seq 1 100); do
  if "$MT" query --node "$NODE_ADDR" status >/dev/null 2>&1; then break; fi
  sleep 0.1
done
"$MT" query --node "$NODE_ADDR" status

ADMIN="$WORK/net/admin.key"
for who in agent coop trader; do "$MT" keys new --out "$WORK/$who.key" >/dev/null; done
tx() { local action="$1"; shift; "$MT" tx "$action" --node "$NODE_ADDR" --wait "$@"; }

step "administrator registers the mine agent, the cooperative and the trader"
tx register-member --key "$ADMIN" --member "$WORK/agent.key.pub" --name "SAEMAPE agent Kalimbi" --role agent --country CD
tx register-member --key "$ADMIN" --member "$WORK/coop.key.pub" --name "COMIKA cooperative" --role cooperative --country CD
tx register-member --key "$ADMIN" --member "$WORK/trader.key.pub" --name "Bukavu negociant" --role trader --country CD

step "administrator registers a green mine site and allocates tags T0000001..T0000010 to the agent"
tx register-site --key "$ADMIN" --site-id CD-SK-0042 --name "Kalimbi" --country CD \
  --lat -2.0931 --lon 28.7542 --mineral cassiterite --status green --estimate-kg-per-month 20000
tx allocate-tags --key "$ADMIN" --site-id CD-SK-0042 --agent "$WORK/agent.key.pub" --prefix T --first 1 --count 10

step "the agent weighs and tags three bags at the mine"
tx record-lot --key "$WORK/agent.key" --tag T0000001 --site-id CD-SK-0042 --mineral cassiterite \
  --weight-kg 52.400 --grade-percent 65.5 --producer "$WORK/coop.key.pub"
tx record-lot --key "$WORK/agent.key" --tag T0000002 --site-id CD-SK-0042 --mineral cassiterite \
  --weight-kg 48.750 --grade-percent 63.0 --producer "$WORK/coop.key.pub"
tx record-lot --key "$WORK/agent.key" --tag T0000003 --site-id CD-SK-0042 --mineral cassiterite \
  --weight-kg 50.100 --grade-percent 66.2 --producer "$WORK/coop.key.pub"

step "refused: the agent tries to use tag T0000001 a second time"
if tx record-lot --key "$WORK/agent.key" --tag T0000001 --site-id CD-SK-0042 --mineral cassiterite \
  --weight-kg 40 --grade-percent 60 --producer "$WORK/coop.key.pub"; then
  echo "demo: the reused tag was accepted; that is a bug" >&2
  exit 1
fi

step "the cooperative dispatches T0000001 and T0000002 to the trader"
tx dispatch --key "$WORK/coop.key" --lot T0000001 --lot T0000002 --to "$WORK/trader.key.pub" --note "DN-2026-0117"

step "the trader receives them, weighing T0000002 at 46.900 kg (an anomaly is flagged)"
tx receive --key "$WORK/trader.key" --lot T0000001:52.400 --lot T0000002:46.900

step "history of lot T0000001"
"$MT" query --node "$NODE_ADDR" history T0000001
step "history of lot T0000002"
"$MT" query --node "$NODE_ADDR" history T0000002
step "lots held by the trader"
"$MT" query --node "$NODE_ADDR" lots --holder "$WORK/trader.key.pub"

step "ledger root"
"$MT" query --node "$NODE_ADDR" ledger-info

step "stopping the network"
for pid in "${NODE_PIDS[@]}"; do kill -TERM "$pid"; wait "$pid"; done
NODE_PIDS=()
echo "demo finished"
