// Offline verification of a provenance proof bundle (proto/minetrace/v1/proof.proto): a
// lot's or shipment's upstream chain of custody, checked against nothing but the validator
// set of a trusted genesis. No node is trusted: every step is recomputed from the bundle.
//
// VerifyProvenanceProof checks, in this order, and stops at the first failure with an error
// naming exactly what failed (which tx, lot, signer or field):
//   1. the bundle names the trusted chain and the trusted validator set (same keys, in order);
//   2. the QC: 2f+1 distinct trusted validators signed the vote digest of the header's block
//      id (certificate.h), and the bundle's ledger root is the one the header names;
//   3. every tx: envelope and BIP340 signature, chain id, its receipt's tx id = SHA256(body)
//      and signer, the receipt's leaf index, and its inclusion path to the certified root;
//      txs in strictly increasing leaf order (each once);
//   4. the backward lot links: from each requested lot's latest receipt, following
//      lot_links.previous_receipt_hash reaches the lot's creation (a mine lot's
//      record_mine_lot, a processed lot's process_lots, whose input lots are then followed
//      the same way), every step is an OK receipt, and every tx of the bundle is used;
//   5. the domain story along each lot's history: custody continuity (only the holder
//      dispatches, forms a shipment or processes; only the named receiver receives; only the
//      sender cancels) and mass balance (processing outputs weigh at most their inputs);
//   6. the context txs (bundle_context.h) as in step 3, in strictly increasing leaf order,
//      each used: a register_member of a key the graph names (once), a register_mine_site of
//      a mine lot's site (once), a record_inspection or set_site_status that a mine lot's
//      site status at record rests on. Names, roles, site records and statuses in the result
//      come from these txs only (genesis administrators: from the trusted genesis).
// Before all of these, a bundle holding fields this verifier does not know is refused: every
// byte of a bundle is either checked or refused (a changed byte cannot hide a context tx as an
// unknown field).
//
// What it cannot prove: that a lot had no event after the latest one in the bundle and up to
// the certified height (the accumulator holds receipts, not a state root): the verdict is
// "as of ledger height H", and a node could serve an older head of a lot's history. Context
// can be left out by the node that built the bundle (then the key, or "?" for a site status,
// is shown) and a site's later status tx could be left out (see bundle_context.h). Flags,
// incidents, suspensions and current site statuses are not in the bundle.
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/ledger/proof/certificate.h"
#include "minetrace/v1/ledger.pb.h"
#include "minetrace/v1/node.pb.h"
#include "minetrace/v1/proof.pb.h"

namespace minetrace::ledger::proof {

// Bounds on what a verifier accepts, so a hostile file cannot make it work without end.
inline constexpr size_t kMaxProofTxs = 1'000'000;
inline constexpr size_t kMaxInclusionPathLength = 64;

struct VerifiedProvenance {
  std::string chain_id;
  CertifiedLedgerRoot ledger_root;  // "as of ledger height ledger_root.height"
  uint64_t certified_block_height = 0;
  uint64_t certified_round = 0;
  size_t signature_count = 0;
  size_t validator_count = 0;
  int64_t certified_time_ms = 0;  // the certified header's timestamp (its proposer's clock)
  size_t tx_count = 0;            // graph txs
  size_t context_tx_count = 0;
  // The provenance rebuilt from the verified txs alone: the shipment (when one was asked
  // for), every lot (requested first, then upstream, breadth first) with its events oldest
  // first and its state after them; members (name, roles, country, registered_height) and
  // sites (as registered) from the context txs, in leaf order; a mine lot's
  // site_status_at_record when its site's registration is in the bundle (else unspecified).
  // Member status, site status now, flags and incidents stay empty: the bundle does not
  // prove them.
  v1::Provenance provenance;
  // For each mine lot whose site status at record is shown: the tx it rests on.
  struct SiteStatusEvidence {
    std::string action;  // register_mine_site, record_inspection or set_site_status
    uint64_t height = 0;
  };
  std::map<std::string, SiteStatusEvidence> site_status_evidence;  // by lot id
};

// The validators of `genesis` in order, epoch 0 (no validator-set changes exist yet).
TrustedValidators TrustedValidatorsOf(const v1::Genesis& genesis);

// Step 1 of every bundle check (provenance and consistency): `what` is of `version` 1 and names
// the trusted genesis's chain, epoch and validator keys (same keys, same order). Returns the
// trusted validators; kInvalidArgument or kPermissionDenied (a key outside the set) otherwise.
Result<TrustedValidators> CheckBundleValidators(
    std::string_view what, uint32_t version, const std::string& chain_id, uint64_t epoch,
    const google::protobuf::RepeatedPtrField<std::string>& validator_keys,
    const v1::Genesis& trusted);

// Verifies `bundle` against `trusted` (see the top of this file). kInvalidArgument for a
// malformed or inconsistent bundle, kPermissionDenied when signatures do not make a quorum
// of the trusted set; the message says what failed.
Result<VerifiedProvenance> VerifyProvenanceProof(const v1::ProvenanceProof& bundle,
                                                 const v1::Genesis& trusted);

}  // namespace minetrace::ledger::proof
