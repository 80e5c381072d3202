// The context a provenance bundle carries besides its lot graph: the committed txs that
// register the members and mine sites the graph's txs name, and, for each mine lot, the
// site's status txs in force when the lot was recorded. One definition for the node that
// builds bundles (node/src/proof_bundle.cc) and the verifier that checks them
// (provenance_proof.cc), so both pick exactly the same txs: the verifier refuses any context
// tx it does not use (no padding), and the builder must therefore carry only used ones.
//
// What these txs prove and what they cannot: a member's name, roles and country as
// registered, a site's name and registration, and the status the site's latest status txs
// *in the bundle* give at a lot's record (with the ledger's lapse rule: green turns blue a
// year after the last inspection). A node can leave a later status tx out (nothing links a
// site's status txs to each other or to the lot); it cannot invent one. The ledger refuses a
// mine lot of a site that is red then, so an OK record_mine_lot proves "not red" on its own.
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/v1/ledger.pb.h"

namespace minetrace::ledger::proof {

// register_member, register_mine_site, record_inspection or set_site_status.
bool IsContextAction(const v1::TxBody& body);

// Adds the member keys a graph tx names to `keys`: its signer and the producer, receiver or
// smelter its action names (every key the provenance tree shows comes from these).
void AddMemberKeysNamedBy(const v1::TxBody& body, std::string_view signer,
                          std::set<std::string>& keys);

// The mine site a tx names: a register_mine_site, record_inspection, set_site_status or
// record_mine_lot's site id ("" for any other action).
std::string SiteIdOf(const v1::TxBody& body);

// The status a site has at `time_ms` when its recorded status is `recorded` and its last
// inspection (or registration) was at `last_inspection_ms`: green turns blue after a year
// without inspection and red after four, blue turns red after three years more. The ledger's
// rules use it too (ledger::EffectiveSiteStatus), so the verifier cannot drift from them.
v1::SiteStatus EffectiveSiteStatusAt(v1::SiteStatus recorded, int64_t last_inspection_ms,
                                     int64_t time_ms);

// One committed tx of a site as the status choice reads it.
struct SiteStatusTx {
  uint64_t leaf_index = 0;
  uint64_t height = 0;
  int64_t block_time_ms = 0;  // the receipt's ledger time
  const v1::TxBody* body = nullptr;
};

// The status of a site when a lot was recorded at `record_leaf` and `record_time_ms`, from
// its registration and its status txs (record_inspection, set_site_status; leaf order).
// Only txs before the record count. `inspection` is the latest inspection before it, and
// `status_change` the latest set_site_status before it when that came after the inspection:
// the txs the status rests on (indexes into `status_txs`). `decided_by` is the newest of the
// registration, `inspection` and `status_change` (nullopt = the registration).
struct SiteStatusAtRecord {
  v1::SiteStatus status = v1::SITE_STATUS_UNSPECIFIED;
  std::optional<size_t> inspection;
  std::optional<size_t> status_change;
  std::optional<size_t> decided_by;
};
SiteStatusAtRecord SiteStatusAt(const SiteStatusTx& registration,
                                const std::vector<SiteStatusTx>& status_txs, uint64_t record_leaf,
                                int64_t record_time_ms);

}  // namespace minetrace::ledger::proof
