#!/usr/bin/env bash
# The minetrace demo: builds minetrace (Release), starts a local BFT network of 4 validators
# and 1 observer (deploy/localnet.sh) in a fresh temporary folder on free ports, and runs the
# whole mine-to-smelter flow through the CLI, sending each tx to the next node in turn
# (validators and the observer alike: a node forwards what it admits):
#   the administrator registers the members (agent, cooperative, trader, processor, exporter,
#   certifier, smelter, regulator) and a green mine site, and allocates mine and processor
#   tags; the agent records mine lots, and signs two more offline into a batch file; the
#   cooperative sells to the trader, who receives one bag lighter (a flag raised by
#   execution) and sells on to the processor; the processor merges the lots and splits the
#   result into two processor-tagged lots; the exporter forms a shipment; a regulator opens a
#   level-1 incident on the mine site, which blocks the certificate until it is resolved; the
#   certifier then issues the ICGLR certificate, the exporter ships, the smelter confirms the
#   weight. Refused steps are shown (a reused tag, the blocked certificate). The offline
#   batch is uploaded late, twice (the second upload changes nothing). It prints the
#   shipment's provenance tree, flags, incidents and mass balances, ends with
#   `minetrace status` of every node, fails unless all nodes are on the same root, and stops
#   every process it started. Last, the smelter's auditor fetches the shipment's provenance
#   proof from one node, that node stops, and the proof file is verified offline against the
#   genesis validators alone (`minetrace proof verify`). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

BUILD_DIR="${BUILD_DIR:-build-release}"
MT="$ROOT/$BUILD_DIR/cli/minetrace"

WORK="$(mktemp -d -t minetrace-demo-XXXXXX)"
NET="$WORK/net"
localnet() { LOCALNET_DIR="$NET" BUILD_DIR="$BUILD_DIR" "$ROOT/deploy/localnet.sh" "$@"; }
cleanup() {
  # Stops the nodes if the network was started (down does nothing before that).
  if [ -f "$NET/genesis.toml" ]; then localnet down >/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free port base on loopback: gRPC ports BASE..BASE+4 and peer ports BASE+100..BASE+104 all
# free, below the ephemeral range, so that two demos (or a demo and a test) do not collide.
BASE_PORT="$(python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 30000)
    socks = []
    try:
        for port in [base + k for k in range(5)] + [base + 100 + k for k in range(5)]:
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", port))
        print(base)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
else:
    raise SystemExit("demo: no free port range found")
PY
)"

step() { printf '\n==> %s\n' "$*"; }

step "building and starting a network of 4 validators and 1 observer in $NET (ports $BASE_PORT..)"
VALIDATORS=4 OBSERVERS=1 BASE_PORT="$BASE_PORT" CHAIN_ID=minetrace-demo BLOCK_INTERVAL_MS=100 \
  localnet up

NODE_NAMES=(node0 node1 node2 node3 observer0)
NODE_ADDRS=()
for k in "${!NODE_NAMES[@]}"; do NODE_ADDRS+=("127.0.0.1:$((BASE_PORT + k))"); done
OBSERVER_ADDR="${NODE_ADDRS[4]}"

# The height of a node (0 if it does not answer).
height_of() {
  "$MT" query --node "$1" --json status 2>/dev/null | grep -o '"height":"[0-9]*"' | tr -dc '0-9' ||
    echo 0
}

# Each tx goes to the next node in turn. A node admits a tx against the state it has
# committed, so before sending it waits until that node has reached the height at which the
# previous tx committed (the others commit it a moment later than the one that answered).
NEXT=0
LAST_HEIGHT=0
tx() {
  local action="$1" k addr out status=0
  shift
  k=$((NEXT % ${#NODE_NAMES[@]}))
  NEXT=$((NEXT + 1))
  addr="${NODE_ADDRS[$k]}"
  for _ in $(seq 1 100); do
    [ "$(height_of "$addr")" -ge "$LAST_HEIGHT" ] && break
    sleep 0.05
  done
  echo "   (sent to ${NODE_NAMES[$k]} at $addr)"
  out="$("$MT" tx "$action" --node "$addr" --wait "$@")" || status=$?
  [ -z "$out" ] || echo "$out"
  local h
  h="$(sed -n 's/.*(\{0,1\}height \([0-9]*\).*/\1/p' <<<"$out" | tail -n 1)"
  if [ -n "$h" ] && [ "$h" -gt "$LAST_HEIGHT" ]; then LAST_HEIGHT="$h"; fi
  return "$status"
}

ADMIN="$NET/admin.key"
for who in agent coop trader processor exporter certifier smelter regulator; do
  "$MT" keys new --out "$WORK/$who.key" >/dev/null
done

step "administrator registers the members: mine agent, cooperative, trader, processor, exporter, certifier, smelter, regulator"
tx register-member --key "$ADMIN" --member "$WORK/agent.key.pub" --name "SAEMAPE agent Kalimbi" --role agent --country CD
tx register-member --key "$ADMIN" --member "$WORK/coop.key.pub" --name "COMIKA cooperative" --role cooperative --country CD
tx register-member --key "$ADMIN" --member "$WORK/trader.key.pub" --name "Bukavu negociant" --role trader --country CD
tx register-member --key "$ADMIN" --member "$WORK/processor.key.pub" --name "Kivu processing house" --role processor --country CD
tx register-member --key "$ADMIN" --member "$WORK/exporter.key.pub" --name "Goma comptoir" --role exporter --country CD
tx register-member --key "$ADMIN" --member "$WORK/certifier.key.pub" --name "CEEC Bukavu" --role certifier --country CD
tx register-member --key "$ADMIN" --member "$WORK/smelter.key.pub" --name "Malaysia Smelting" --role smelter --country MY
tx register-member --key "$ADMIN" --member "$WORK/regulator.key.pub" --name "Ministry of Mines, South Kivu" --role regulator --country CD

step "administrator registers a green mine site and allocates tags T0000001..T0000010 to the agent"
tx register-site --key "$ADMIN" --site-id CD-SK-0042 --name "Kalimbi" --country CD \
  --lat -2.0931 --lon 28.7542 --mineral cassiterite --status green --estimate-kg-per-month 20000
tx allocate-tags --key "$ADMIN" --site-id CD-SK-0042 --agent "$WORK/agent.key.pub" --prefix T --first 1 --count 10
step "administrator allocates processor tags P0000001..P0000005 to the processor"
tx allocate-tags --key "$ADMIN" --kind processor --agent "$WORK/processor.key.pub" --prefix P --first 1 --count 5

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

step "offline at the mine: the agent signs two more lots into a batch file (no network)"
BATCH="$WORK/agent-batch.pb"
for spec in "T0000004 47.300 64.1" "T0000005 51.800 62.7"; do
  read -r tag kg pct <<<"$spec"
  "$MT" tx record-lot --key "$WORK/agent.key" --offline --out "$BATCH" --chain-id minetrace-demo \
    --tag "$tag" --site-id CD-SK-0042 --mineral cassiterite --weight-kg "$kg" --grade-percent "$pct" \
    --producer "$WORK/coop.key.pub"
done

step "the cooperative dispatches T0000001, T0000002 and T0000003 to the trader"
tx dispatch --key "$WORK/coop.key" --lot T0000001 --lot T0000002 --lot T0000003 --to "$WORK/trader.key.pub" --note "DN-2026-0117"

step "the trader receives them, weighing T0000002 at 46.900 kg (execution raises a flag)"
tx receive --key "$WORK/trader.key" --lot T0000001:52.400 --lot T0000002:46.900 --lot T0000003:50.100

step "the trader sells the three lots to the processor, who receives them"
tx dispatch --key "$WORK/trader.key" --lot T0000001 --lot T0000002 --lot T0000003 --to "$WORK/processor.key.pub" --note "DN-2026-0231"
tx receive --key "$WORK/processor.key" --lot T0000001:52.400 --lot T0000002:46.900 --lot T0000003:50.100

step "the processor merges them into P0000001 (120 kg at 72 %, 29.4 kg lost), then splits it in two"
tx process --key "$WORK/processor.key" --kind merge --input T0000001 --input T0000002 --input T0000003 \
  --output P0000001:120:72 --note "washing and magnetic separation, run 12"
tx process --key "$WORK/processor.key" --kind split --input P0000001 --output P0000002:70:72 --output P0000003:50:72

step "the processor sells P0000002 to the exporter, who forms export shipment EXP-2026-001"
tx dispatch --key "$WORK/processor.key" --lot P0000002 --to "$WORK/exporter.key.pub" --note "DN-2026-0309"
tx receive --key "$WORK/exporter.key" --lot P0000002:70
tx form-shipment --key "$WORK/exporter.key" --shipment-id EXP-2026-001 --lot P0000002 --destination MY

step "a regulator reports a level-1 incident at the mine site (armed group presence)"
tx report-incident --key "$WORK/regulator.key" --subject site --subject-id CD-SK-0042 \
  --category armed-groups --level 1 --source field \
  --description "armed men seen collecting a levy at the Kalimbi pit on market day"

TODAY="$(date -u +%F)"
step "refused: the certifier tries to issue the ICGLR certificate while the incident is open"
if tx review-shipment --key "$WORK/certifier.key" --shipment-id EXP-2026-001 --issue \
  --certificate ICGLR-CD-2026-00017 --date "$TODAY"; then
  echo "demo: a certificate was issued past an open level-1 incident; that is a bug" >&2
  exit 1
fi

step "the regulator follows the incident up: under mitigation, then resolved"
tx update-incident --key "$WORK/regulator.key" --incident INC-0000001 --status under-mitigation \
  --note "joint mission sent; FARDC post set up at the access road"
tx update-incident --key "$WORK/regulator.key" --incident INC-0000001 --status resolved \
  --outcome mitigated --note "no levy seen on three visits; the group left the area"

step "the certifier issues the certificate; the exporter ships; the smelter confirms the weight"
tx review-shipment --key "$WORK/certifier.key" --shipment-id EXP-2026-001 --issue \
  --certificate ICGLR-CD-2026-00017 --date "$TODAY"
tx dispatch-shipment --key "$WORK/exporter.key" --shipment-id EXP-2026-001 --smelter "$WORK/smelter.key.pub"
tx receive-shipment --key "$WORK/smelter.key" --shipment-id EXP-2026-001 --weight-kg 69.800

step "back in network range, the agent uploads its offline batch (late), then again by mistake"
"$MT" submit-batch "$BATCH" --node "${NODE_ADDRS[1]}" --wait
"$MT" submit-batch "$BATCH" --node "${NODE_ADDRS[2]}" --wait

step "provenance of shipment EXP-2026-001 back to the mine (from the observer)"
"$MT" query --node "$OBSERVER_ADDR" provenance EXP-2026-001 --shipment
step "history of lot T0000002 (from node1)"
"$MT" query --node "${NODE_ADDRS[1]}" history T0000002
step "flags raised by execution (from node2)"
"$MT" query --node "${NODE_ADDRS[2]}" flags
step "incidents (from node3)"
"$MT" query --node "${NODE_ADDRS[3]}" incidents
step "the processor's mass balance (from node0)"
"$MT" query --node "${NODE_ADDRS[0]}" holdings "$WORK/processor.key.pub"

step "ledger root (the latest ledger info, from node0)"
"$MT" query --node "${NODE_ADDRS[0]}" ledger-info

step "status of every node: all must be on one root"
# The last tx committed on the node that answered; give the others (the observer syncs
# blocks) a few seconds to reach the same leaf count.
for _ in $(seq 1 100); do
  if "$MT" status --net "$NET" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
if ! "$MT" status --net "$NET"; then
  echo "demo: the nodes are not all on the same root; see above and the logs in $NET/*/node.log" >&2
  exit 1
fi

step "the smelter's auditor fetches the shipment's provenance proof from node3, and node3 stops"
PROOF="$WORK/EXP-2026-001.proof"
"$MT" proof get EXP-2026-001 --shipment --node "${NODE_ADDRS[3]}" --out "$PROOF"
NODE3_PID="$(cat "$NET/node3/node.pid")"
kill -TERM "$NODE3_PID"
for _ in $(seq 1 100); do kill -0 "$NODE3_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$NODE3_PID" 2>/dev/null; then
  echo "demo: node3 did not stop" >&2
  exit 1
fi
echo "node3 (pid $NODE3_PID) stopped"

step "verified offline: no node is asked, only the genesis (the validators' keys) is trusted"
"$MT" proof verify "$PROOF" --trust "$NET/genesis.toml"

step "stopping the network (its temporary folder is removed on exit)"
localnet down | grep -v "the chain stays in"
echo "demo finished"
