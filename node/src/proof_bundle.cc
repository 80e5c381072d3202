#include "proof_bundle.h"

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "minetrace/ledger/proof/bundle_context.h"

namespace minetrace::node {
namespace {

namespace lp = ledger::proof;

// A set_site_status is found by reading the txs between a mine lot's record and the site's
// inspection or registration before it (nothing indexes them); at most this many leaves per
// lot. A status change further back is not carried: the check against the lot's stored
// status at record then leaves the site out rather than show a wrong status.
constexpr uint64_t kMaxStatusScanLeavesPerLot = 1024;
// Registrations are found by reading the whole block their record names. One bundle reads at
// most this many txs for its context; members and sites beyond it are left out (shown by key),
// so a graph naming 10,000 members in 10,000 large blocks costs bounded work.
constexpr uint64_t kMaxContextReads = 500'000;

// A committed OK tx with its parsed body.
struct BodyRecord {
  v1::TxBody body;
  ledger::TxRecord record;
};

// Reads committed txs, keeping the OK context txs (bundle_context.h); blocks are cached by
// height (a block holds many registrations at once).
class ContextReader {
 public:
  // `ledger` must outlive this reader.
  explicit ContextReader(const ledger::Ledger& ledger) : ledger_(ledger) {}

  // Whether `count` more reads fit the bundle's budget (kMaxContextReads); takes them if so.
  bool TakeReads(uint64_t count) {
    if (count > reads_left_) return false;
    reads_left_ -= count;
    return true;
  }

  // The OK context tx at `leaf`, if it is one. Callers take the read from the budget first.
  Result<std::optional<BodyRecord>> AtLeaf(uint64_t leaf) const {
    auto record = ledger_.GetTxAtLeaf(leaf);
    if (!record) return tl::unexpected(record.error());
    if (record->receipt.status() != v1::TX_STATUS_OK) return std::optional<BodyRecord>();
    BodyRecord out;
    if (!out.body.ParseFromString(record->tx.body())) {
      return MakeError(ErrorCode::kDataLoss,
                       "the tx at leaf " + std::to_string(leaf) + " does not parse");
    }
    if (!lp::IsContextAction(out.body)) return std::optional<BodyRecord>();
    out.record = std::move(*record);
    return std::optional<BodyRecord>(std::move(out));
  }

  // The OK context txs of block `height` (> 0), in leaf order; null when reading the block
  // would exceed the budget.
  Result<const std::vector<BodyRecord>*> InBlock(uint64_t height) {
    auto cached = blocks_.find(height);
    if (cached != blocks_.end()) return &cached->second;
    auto before = ledger_.GetLedgerInfo(height - 1);
    if (!before) return tl::unexpected(before.error());
    auto after = ledger_.GetLedgerInfo(height);
    if (!after) return tl::unexpected(after.error());
    if (!before->has_value() || !after->has_value()) {
      return MakeError(ErrorCode::kDataLoss,
                       "the ledger info of block " + std::to_string(height) + " is missing");
    }
    if ((*after)->leaf_count() < (*before)->leaf_count() ||
        !TakeReads((*after)->leaf_count() - (*before)->leaf_count())) {
      return nullptr;
    }
    std::vector<BodyRecord> found;
    for (uint64_t leaf = (*before)->leaf_count(); leaf < (*after)->leaf_count(); ++leaf) {
      auto tx = AtLeaf(leaf);
      if (!tx) return tl::unexpected(tx.error());
      if (tx->has_value()) found.push_back(std::move(**tx));
    }
    return &blocks_.emplace(height, std::move(found)).first->second;
  }

 private:
  const ledger::Ledger& ledger_;
  std::map<uint64_t, std::vector<BodyRecord>> blocks_;
  uint64_t reads_left_ = kMaxContextReads;
};

lp::SiteStatusTx StatusTxOf(const BodyRecord& r) {
  lp::SiteStatusTx t;
  t.leaf_index = r.record.receipt.leaf_index();
  t.height = r.record.receipt.height();
  t.block_time_ms = r.record.receipt.block_time_ms();
  t.body = &r.body;
  return t;
}

// The context txs of a graph (`graph`: its txs by leaf; `lots`: the ledger's lot records by
// id), by leaf: see bundle_context.h for which. A member or site whose registration is not
// found is left out, and so is a site whose status at some lot's record the found txs do not
// give exactly as the ledger recorded it.
Result<std::map<uint64_t, ledger::TxRecord>> ContextOf(
    const ledger::Ledger& ledger, const std::map<uint64_t, ledger::TxRecord>& graph,
    const std::map<std::string, v1::Lot>& lots) {
  ContextReader reader(ledger);
  std::map<uint64_t, ledger::TxRecord> out;
  std::set<std::string> keys;
  struct MineLot {
    std::string lot_id;
    uint64_t leaf = 0;
    uint64_t height = 0;
    int64_t time_ms = 0;
  };
  std::map<std::string, std::vector<MineLot>> mine_lots;  // by site, in leaf order
  for (const auto& [leaf, record] : graph) {
    v1::TxBody body;
    if (!body.ParseFromString(record.tx.body())) {
      return MakeError(ErrorCode::kDataLoss,
                       "the tx at leaf " + std::to_string(leaf) + " does not parse");
    }
    lp::AddMemberKeysNamedBy(body, record.tx.signer(), keys);
    if (body.action_case() == v1::TxBody::kRecordMineLot) {
      mine_lots[body.record_mine_lot().site_id()].push_back(
          {body.record_mine_lot().tag_id(), leaf, record.receipt.height(),
           record.receipt.block_time_ms()});
    }
  }
  // Members: the register_member in the block their record names (genesis ones have none).
  for (const std::string& key : keys) {
    auto member = ledger.GetMember(key);
    if (!member) return tl::unexpected(member.error());
    if (!member->has_value() || (*member)->registered_height() == 0) continue;
    auto block = reader.InBlock((*member)->registered_height());
    if (!block) return tl::unexpected(block.error());
    if (*block == nullptr) continue;
    for (const BodyRecord& r : **block) {
      if (r.body.action_case() == v1::TxBody::kRegisterMember &&
          r.body.register_member().member_key() == key) {
        out.emplace(r.record.receipt.leaf_index(), r.record);
        break;
      }
    }
  }
  // Sites: the registration, the inspections before the last mine lot's record, and the
  // status changes found between each lot's record and the inspection before it.
  for (const auto& [site_id, site_lots] : mine_lots) {
    auto site = ledger.GetMineSite(site_id);
    if (!site) return tl::unexpected(site.error());
    if (!site->has_value()) continue;
    auto block = reader.InBlock((*site)->registered_height());
    if (!block) return tl::unexpected(block.error());
    if (*block == nullptr) continue;
    const BodyRecord* registration = nullptr;
    for (const BodyRecord& r : **block) {
      if (r.body.action_case() == v1::TxBody::kRegisterMineSite &&
          r.body.register_mine_site().site_id() == site_id) {
        registration = &r;
      }
    }
    if (registration == nullptr) continue;
    const uint64_t last_record_height = site_lots.back().height;
    std::map<uint64_t, BodyRecord> status_txs;  // by leaf
    auto inspections = ledger.ListInspections(site_id);
    if (!inspections) return tl::unexpected(inspections.error());
    std::set<uint64_t> heights;
    if (inspections->has_value()) {
      for (const v1::Inspection& i : **inspections) {
        if (i.height() <= last_record_height) heights.insert(i.height());
      }
    }
    for (uint64_t h : heights) {
      auto in_block = reader.InBlock(h);
      if (!in_block) return tl::unexpected(in_block.error());
      if (*in_block == nullptr) continue;  // then the status check below leaves the site out
      for (const BodyRecord& r : **in_block) {
        if (r.body.action_case() == v1::TxBody::kRecordInspection &&
            r.body.record_inspection().site_id() == site_id) {
          status_txs.emplace(r.record.receipt.leaf_index(), r);
        }
      }
    }
    std::set<uint64_t> scanned_leaves;
    for (const MineLot& lot : site_lots) {
      uint64_t from = registration->record.receipt.leaf_index() + 1;
      for (const auto& [leaf, r] : status_txs) {
        if (leaf < lot.leaf && r.body.action_case() == v1::TxBody::kRecordInspection) {
          from = leaf + 1;
        }
      }
      if (lot.leaf - from > kMaxStatusScanLeavesPerLot) continue;
      for (uint64_t leaf = from; leaf < lot.leaf; ++leaf) {
        if (!scanned_leaves.insert(leaf).second) continue;
        if (!reader.TakeReads(1)) break;
        auto tx = reader.AtLeaf(leaf);
        if (!tx) return tl::unexpected(tx.error());
        if (tx->has_value() && (*tx)->body.action_case() == v1::TxBody::kSetSiteStatus &&
            (*tx)->body.set_site_status().site_id() == site_id) {
          status_txs.emplace(leaf, std::move(**tx));
        }
      }
    }
    std::vector<const BodyRecord*> ordered;
    std::vector<lp::SiteStatusTx> candidates;
    for (const auto& [leaf, r] : status_txs) {
      ordered.push_back(&r);
      candidates.push_back(StatusTxOf(r));
    }
    std::set<size_t> used;
    bool exact = true;
    for (const MineLot& lot : site_lots) {
      const lp::SiteStatusAtRecord at =
          lp::SiteStatusAt(StatusTxOf(*registration), candidates, lot.leaf, lot.time_ms);
      auto stored = lots.find(lot.lot_id);
      if (stored == lots.end() || stored->second.site_status_at_record() != at.status) {
        exact = false;
        break;
      }
      if (at.inspection) used.insert(*at.inspection);
      if (at.status_change) used.insert(*at.status_change);
    }
    if (!exact) continue;
    out.emplace(registration->record.receipt.leaf_index(), registration->record);
    for (size_t k : used) out.emplace(ordered[k]->record.receipt.leaf_index(), ordered[k]->record);
  }
  return out;
}

// Appends `record` with its inclusion path in the tree of `tree_size` leaves.
Result<void> AddProofTx(const ledger::Ledger& ledger, const ledger::TxRecord& record,
                        uint64_t tree_size, v1::ProofTx* out) {
  const uint64_t leaf = record.receipt.leaf_index();
  auto path = ledger.InclusionProof(leaf, tree_size);
  if (!path) return tl::unexpected(path.error());
  *out->mutable_tx() = record.tx;
  out->set_receipt(record.receipt_bytes);
  out->set_leaf_index(leaf);
  for (const Hash32& h : *path) out->add_inclusion_path(std::string(h.begin(), h.end()));
  return {};
}

}  // namespace

Result<ProvenanceGraph> CollectProvenanceGraph(const ledger::Ledger& ledger,
                                               std::string_view lot_id,
                                               std::string_view shipment_id) {
  auto provenance = ledger.GetProvenance(lot_id, shipment_id);
  if (!provenance) return tl::unexpected(provenance.error());
  if (provenance->truncated()) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "the upstream graph has more than " +
                         std::to_string(ledger::kMaxProvenanceLots) +
                         " lots; a proof bundle of it is not served");
  }
  ProvenanceGraph graph;
  graph.lot_id = std::string(lot_id);
  graph.shipment_id = std::string(shipment_id);
  // Every tx of the graph once, in leaf order.
  for (const v1::ProvenanceLot& lot : provenance->lots()) {
    for (const v1::CustodyEvent& event : lot.events()) {
      auto id = Hash32FromBytes(AsBytes(event.tx_id()));
      if (!id) return MakeError(ErrorCode::kInternal, "a custody event has a malformed tx id");
      auto record = ledger.GetTx(*id);
      if (!record) return tl::unexpected(record.error());
      if (!record->has_value()) {
        return MakeError(ErrorCode::kDataLoss,
                         "tx " + ToHex(*id) + " of lot '" + lot.lot().lot_id() + "' is not stored");
      }
      const uint64_t leaf = (*record)->receipt.leaf_index();
      if (graph.txs.empty() || leaf > graph.newest_leaf) {
        graph.newest_leaf = leaf;
        graph.newest_height = (*record)->receipt.height();
      }
      graph.txs.emplace(leaf, std::move(**record));
    }
    graph.lots[lot.lot().lot_id()] = lot.lot();
  }
  if (graph.txs.empty()) {
    return MakeError(ErrorCode::kInternal, "the provenance of the graph holds no event");
  }
  return graph;
}

Result<v1::ProvenanceProof> BuildProvenanceProof(const ledger::Ledger& ledger,
                                                 std::string_view lot_id,
                                                 std::string_view shipment_id,
                                                 const v1::ConsensusBlockHeader& header,
                                                 const v1::QuorumCertificate& qc) {
  auto graph = CollectProvenanceGraph(ledger, lot_id, shipment_id);
  if (!graph) return tl::unexpected(graph.error());
  return BuildProvenanceProof(ledger, *graph, header, qc);
}

std::string NotCoveredYet(const ProvenanceGraph& graph, const v1::LedgerRoot& certified) {
  return "the newest event of the graph (ledger height " + std::to_string(graph.newest_height) +
         ") is not covered by a certified ledger root yet (it covers height " +
         std::to_string(certified.height()) + "); try again in a few seconds";
}

Result<v1::ProvenanceProof> BuildProvenanceProof(const ledger::Ledger& ledger,
                                                 const ProvenanceGraph& graph,
                                                 const v1::ConsensusBlockHeader& header,
                                                 const v1::QuorumCertificate& qc) {
  const uint64_t tree_size = header.ledger_root().leaf_count();
  if (graph.newest_leaf >= tree_size) {
    return MakeError(ErrorCode::kUnavailable, NotCoveredYet(graph, header.ledger_root()));
  }
  const std::map<uint64_t, ledger::TxRecord>& records = graph.txs;
  const std::string_view lot_id = graph.lot_id;
  const std::string_view shipment_id = graph.shipment_id;
  v1::ProvenanceProof bundle;
  bundle.set_version(1);
  bundle.set_chain_id(ledger.genesis().chain_id());
  bundle.set_epoch(header.epoch());
  for (const v1::GenesisValidator& v : ledger.genesis().validators()) {
    bundle.add_validator_keys(v.key());
  }
  *bundle.mutable_header() = header;
  *bundle.mutable_qc() = qc;
  *bundle.mutable_ledger_root() = header.ledger_root();
  if (!lot_id.empty()) bundle.add_lot_ids(std::string(lot_id));
  bundle.set_shipment_id(std::string(shipment_id));
  for (const auto& [leaf, record] : records) {
    MT_TRY(AddProofTx(ledger, record, tree_size, bundle.add_txs()));
  }
  auto context = ContextOf(ledger, records, graph.lots);
  if (!context) return tl::unexpected(context.error());
  for (const auto& [leaf, record] : *context) {
    if (leaf >= tree_size) continue;  // registered after the root: never for a named member
    MT_TRY(AddProofTx(ledger, record, tree_size, bundle.add_context_txs()));
  }
  return bundle;
}

namespace {

// The header and QC stored with block `height`.
Result<v1::CertifiedHeader> StoredCertificate(const ledger::Ledger& ledger, uint64_t height) {
  auto raw = ledger.GetCertificate(height);
  if (!raw) return tl::unexpected(raw.error());
  if (!raw->has_value()) {
    return MakeError(ErrorCode::kNotFound, "no certificate is stored for block " +
                                               std::to_string(height) + " (the head is block " +
                                               std::to_string(ledger.head().height()) + ")");
  }
  v1::CommittedBlock certificate;
  if (!certificate.ParseFromString(**raw) || !certificate.block().has_header() ||
      !certificate.has_qc()) {
    return MakeError(ErrorCode::kDataLoss,
                     "the certificate of block " + std::to_string(height) + " does not parse");
  }
  v1::CertifiedHeader out;
  *out.mutable_header() = certificate.block().header();
  *out.mutable_qc() = certificate.qc();
  return out;
}

}  // namespace

Result<v1::ConsistencyBundle> BuildConsistencyBundle(const ledger::Ledger& ledger,
                                                     const v1::CertifiedHeader& first,
                                                     const v1::CertifiedHeader& second) {
  const v1::LedgerRoot& a = first.header().ledger_root();
  const v1::LedgerRoot& b = second.header().ledger_root();
  if (b.height() < a.height() || b.leaf_count() < a.leaf_count()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the second root (ledger height " + std::to_string(b.height()) +
                         ") is older than the first (ledger height " + std::to_string(a.height()) +
                         "): give the earlier block first");
  }
  auto path = ledger.ConsistencyProof(a.leaf_count(), b.leaf_count());
  if (!path) return tl::unexpected(path.error());
  v1::ConsistencyBundle bundle;
  bundle.set_version(1);
  bundle.set_chain_id(ledger.genesis().chain_id());
  bundle.set_epoch(second.header().epoch());
  for (const v1::GenesisValidator& v : ledger.genesis().validators()) {
    bundle.add_validator_keys(v.key());
  }
  *bundle.mutable_first() = first;
  *bundle.mutable_second() = second;
  for (const Hash32& h : *path) bundle.add_consistency_path(std::string(h.begin(), h.end()));
  return bundle;
}

Result<v1::ConsistencyBundle> BuildConsistencyBundleAtHeights(const ledger::Ledger& ledger,
                                                              uint64_t first_block_height,
                                                              uint64_t second_block_height) {
  const uint64_t head = ledger.head().height();
  if (head == 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "no block is committed yet: nothing certifies a ledger root");
  }
  if (first_block_height == 0) first_block_height = head;
  if (second_block_height == 0) second_block_height = head;
  auto first = StoredCertificate(ledger, first_block_height);
  if (!first) return tl::unexpected(first.error());
  auto second = StoredCertificate(ledger, second_block_height);
  if (!second) return tl::unexpected(second.error());
  return BuildConsistencyBundle(ledger, *first, *second);
}

Result<v1::CertifiedHeader> HeadCertificate(const ledger::Ledger& ledger) {
  const uint64_t head = ledger.head().height();
  if (head == 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "no block is committed yet: nothing certifies "
                     "a ledger root; try again in a few seconds");
  }
  return StoredCertificate(ledger, head);
}

Result<v1::ProvenanceProof> BuildProvenanceProofAtHead(const ledger::Ledger& ledger,
                                                       std::string_view lot_id,
                                                       std::string_view shipment_id) {
  auto certificate = HeadCertificate(ledger);
  if (!certificate) return tl::unexpected(certificate.error());
  return BuildProvenanceProof(ledger, lot_id, shipment_id, certificate->header(),
                              certificate->qc());
}

}  // namespace minetrace::node
