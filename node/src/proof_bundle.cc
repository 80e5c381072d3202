#include "proof_bundle.h"

#include <map>

namespace minetrace::node {

Result<v1::ProvenanceProof> BuildProvenanceProof(const ledger::Ledger& ledger,
                                                 std::string_view lot_id,
                                                 std::string_view shipment_id,
                                                 const v1::ConsensusBlockHeader& header,
                                                 const v1::QuorumCertificate& qc) {
  auto provenance = ledger.GetProvenance(lot_id, shipment_id);
  if (!provenance) return tl::unexpected(provenance.error());
  if (provenance->truncated()) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "the upstream graph has more than " +
                         std::to_string(ledger::kMaxProvenanceLots) +
                         " lots; a proof bundle of it is not served");
  }
  const uint64_t tree_size = header.ledger_root().leaf_count();
  // Every tx of the graph once, in leaf order.
  std::map<uint64_t, ledger::TxRecord> records;
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
      if (leaf >= tree_size) {
        return MakeError(ErrorCode::kUnavailable,
                         "the newest event of the graph (ledger height " +
                             std::to_string((*record)->receipt.height()) +
                             ") is not covered by a certified ledger root yet (it covers height " +
                             std::to_string(header.ledger_root().height()) +
                             "); try again in a few seconds");
      }
      records.emplace(leaf, std::move(**record));
    }
  }
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
  for (auto& [leaf, record] : records) {
    auto path = ledger.InclusionProof(leaf, tree_size);
    if (!path) return tl::unexpected(path.error());
    v1::ProofTx* out = bundle.add_txs();
    *out->mutable_tx() = record.tx;
    out->set_receipt(record.receipt_bytes);
    out->set_leaf_index(leaf);
    for (const Hash32& h : *path) out->add_inclusion_path(std::string(h.begin(), h.end()));
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

Result<v1::ProvenanceProof> BuildProvenanceProofAtHead(const ledger::Ledger& ledger,
                                                       std::string_view lot_id,
                                                       std::string_view shipment_id) {
  const uint64_t head = ledger.head().height();
  if (head == 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "no block is committed yet: nothing certifies "
                     "a ledger root; try again in a few seconds");
  }
  auto raw = ledger.GetCertificate(head);
  if (!raw) return tl::unexpected(raw.error());
  v1::CommittedBlock certificate;
  if (!raw->has_value() || !certificate.ParseFromString(**raw) ||
      !certificate.block().has_header() || !certificate.has_qc()) {
    return MakeError(ErrorCode::kDataLoss, "the certificate of block " + std::to_string(head) +
                                               " is missing or does not parse");
  }
  return BuildProvenanceProof(ledger, lot_id, shipment_id, certificate.block().header(),
                              certificate.qc());
}

}  // namespace minetrace::node
