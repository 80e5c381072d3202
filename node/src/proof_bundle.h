// Builds provenance proof bundles (proto/minetrace/v1/proof.proto) from a node's ledger: the
// txs and receipts of a lot's or shipment's upstream graph (Ledger::GetProvenance's walk),
// one inclusion path per receipt into the tree of the leaves a certified header's ledger root
// covers, and that header with its QC. ledger/proof's VerifyProvenanceProof checks the result
// offline. Thread-safety: reads the ledger only (any thread, as its queries).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "minetrace/base/result.h"
#include "minetrace/ledger/ledger.h"
#include "minetrace/v1/consensus.pb.h"
#include "minetrace/v1/proof.pb.h"

namespace minetrace::node {

// The upstream graph of a lot or shipment as a bundle carries it (Ledger::GetProvenance's
// walk): every tx once by leaf, the ledger's records of its lots, and its newest receipt.
struct ProvenanceGraph {
  std::string lot_id;       // what was asked for: exactly one of the two is set
  std::string shipment_id;
  std::map<uint64_t, ledger::TxRecord> txs;  // by leaf index; never empty
  std::map<std::string, v1::Lot> lots;       // by lot id
  uint64_t newest_leaf = 0;    // a certified root covers the graph when its leaf count exceeds it
  uint64_t newest_height = 0;  // the ledger height of that receipt
};

// kResourceExhausted when the graph was truncated, the ledger's errors otherwise (kNotFound
// for an unknown lot or shipment).
Result<ProvenanceGraph> CollectProvenanceGraph(const ledger::Ledger& ledger,
                                               std::string_view lot_id,
                                               std::string_view shipment_id);

// The bundle of `graph` certified by `header` and `qc`, with its context txs
// (ledger/proof/bundle_context.h). kUnavailable (NotCoveredYet's message) when the graph's
// newest receipt lies beyond the header's ledger root.
Result<v1::ProvenanceProof> BuildProvenanceProof(const ledger::Ledger& ledger,
                                                 const ProvenanceGraph& graph,
                                                 const v1::ConsensusBlockHeader& header,
                                                 const v1::QuorumCertificate& qc);

// Why a bundle of `graph` cannot be certified by a header naming `certified` yet.
std::string NotCoveredYet(const ProvenanceGraph& graph, const v1::LedgerRoot& certified);

// The header and QC stored with the ledger's head block: its header names the newest root
// any stored certificate names (the root lags the head by three heights). kUnavailable
// before the first block. One read: cheap enough to poll.
Result<v1::CertifiedHeader> HeadCertificate(const ledger::Ledger& ledger);

// Collects the graph of `lot_id` or `shipment_id` (exactly one set) and builds its bundle
// certified by `header` and `qc`.
// kUnavailable when a receipt of the graph lies beyond the header's ledger root (a later
// certificate will cover it), kResourceExhausted when the graph was truncated, the ledger's
// errors otherwise (kNotFound for an unknown lot or shipment).
Result<v1::ProvenanceProof> BuildProvenanceProof(const ledger::Ledger& ledger,
                                                 std::string_view lot_id,
                                                 std::string_view shipment_id,
                                                 const v1::ConsensusBlockHeader& header,
                                                 const v1::QuorumCertificate& qc);

// As above, certified by the certificate stored with the ledger's head block: its header
// names the newest root any stored certificate names (the root lags the head by three
// heights). kUnavailable before the first block, or when the newest receipts of the graph are
// not covered yet.
Result<v1::ProvenanceProof> BuildProvenanceProofAtHead(const ledger::Ledger& ledger,
                                                       std::string_view lot_id,
                                                       std::string_view shipment_id);

// The consistency bundle from the ledger root certified by `first` to the one certified by
// `second` (each a consensus header and its QC): both sides and the consistency path between
// the leaf counts their roots name. kInvalidArgument when second's root is older than
// first's; the ledger's errors otherwise.
Result<v1::ConsistencyBundle> BuildConsistencyBundle(const ledger::Ledger& ledger,
                                                     const v1::CertifiedHeader& first,
                                                     const v1::CertifiedHeader& second);

// As above, joining the certificates stored with blocks `first_block_height` and
// `second_block_height` (0 = the head block). kNotFound for a block not committed yet.
Result<v1::ConsistencyBundle> BuildConsistencyBundleAtHeights(const ledger::Ledger& ledger,
                                                              uint64_t first_block_height,
                                                              uint64_t second_block_height);

}  // namespace minetrace::node
