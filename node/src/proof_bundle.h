// Builds provenance proof bundles (proto/minetrace/v1/proof.proto) from a node's ledger: the
// txs and receipts of a lot's or shipment's upstream graph (Ledger::GetProvenance's walk),
// one inclusion path per receipt into the tree of the leaves a certified header's ledger root
// covers, and that header with its QC. ledger/proof's VerifyProvenanceProof checks the result
// offline. Thread-safety: reads the ledger only (any thread, as its queries).
#pragma once

#include <string_view>

#include "minetrace/base/result.h"
#include "minetrace/ledger/ledger.h"
#include "minetrace/v1/consensus.pb.h"
#include "minetrace/v1/proof.pb.h"

namespace minetrace::node {

// The bundle for `lot_id` or `shipment_id` (exactly one set) certified by `header` and `qc`.
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
