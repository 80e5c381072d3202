// The offline consistency bundle verifier (see consistency_proof.h).
#include "minetrace/ledger/proof/consistency_proof.h"

#include <algorithm>
#include <vector>

#include "minetrace/ledger/proof/merkle.h"
#include "minetrace/ledger/proof/provenance_proof.h"

namespace minetrace::ledger::proof {
namespace {

Error Invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

std::string RootName(const CertifiedLedgerRoot& root) {
  return "height " + std::to_string(root.height) + ", " + std::to_string(root.leaf_count) +
         " leaves, root " + ToHex(ByteView(root.accumulator_root.data(), 8)) + "...";
}

// Step 2 for one side: the header, certified by its QC, and the root it names.
Result<ConsensusHeader> CheckSide(const TrustedValidators& validators,
                                  const v1::CertifiedHeader& side, const std::string& which) {
  if (!side.has_header() || !side.has_qc()) {
    return tl::unexpected(Invalid("the " + which + " certified header lacks its header or QC"));
  }
  auto header = ConsensusHeaderFromProto(side.header());
  if (!header) {
    return tl::unexpected(
        Error{header.error().code, "the " + which + " header: " + header.error().message});
  }
  auto qc = QuorumCertFromProto(side.qc());
  if (!qc) {
    return tl::unexpected(Error{qc.error().code, "the " + which + " QC: " + qc.error().message});
  }
  auto certified = CheckCertifiedHeader(validators, *header, *qc);
  if (!certified) {
    return tl::unexpected(
        Error{certified.error().code,
              "the " + which + " header (block at height " + std::to_string(header->height) +
                  ") is not certified by the trusted validators: " + certified.error().message});
  }
  return *header;
}

}  // namespace

Result<VerifiedConsistency> VerifyConsistencyBundle(const v1::ConsistencyBundle& bundle,
                                                    const v1::Genesis& trusted) {
  // 1. The chain and the validator set.
  auto validators_checked =
      CheckBundleValidators("consistency bundle", bundle.version(), bundle.chain_id(),
                            bundle.epoch(), bundle.validator_keys(), trusted);
  if (!validators_checked) return tl::unexpected(validators_checked.error());
  const TrustedValidators& validators = *validators_checked;

  // 2. Both headers certified.
  auto first = CheckSide(validators, bundle.first(), "first");
  if (!first) return tl::unexpected(first.error());
  auto second = CheckSide(validators, bundle.second(), "second");
  if (!second) return tl::unexpected(second.error());
  const CertifiedLedgerRoot& a = first->ledger_root;
  const CertifiedLedgerRoot& b = second->ledger_root;

  // 3. Order: the second root must be the later one.
  if (b.height < a.height || b.leaf_count < a.leaf_count) {
    return tl::unexpected(Invalid("the second root (" + RootName(b) +
                                  ") is older than the first (" + RootName(a) +
                                  "): give the earlier root first"));
  }

  // 4. The path.
  if (static_cast<size_t>(bundle.consistency_path_size()) > kMaxConsistencyPathLength) {
    return tl::unexpected(Invalid("the consistency path is longer than " +
                                  std::to_string(kMaxConsistencyPathLength) + " hashes"));
  }
  std::vector<Hash32> path;
  path.reserve(bundle.consistency_path_size());
  for (int i = 0; i < bundle.consistency_path_size(); ++i) {
    auto h = Hash32FromBytes(AsBytes(bundle.consistency_path(i)));
    if (!h) {
      return tl::unexpected(
          Invalid("hash " + std::to_string(i) + " of the consistency path is not 32 bytes"));
    }
    path.push_back(*h);
  }
  if (!VerifyConsistency(a.leaf_count, b.leaf_count, a.accumulator_root, b.accumulator_root,
                         path)) {
    return tl::unexpected(
        Invalid("the consistency path does not prove that the second root (" + RootName(b) +
                ") extends the first (" + RootName(a) +
                "): the ledger was rewritten between them, or the path or a root was altered"));
  }
  VerifiedConsistency v;
  v.chain_id = bundle.chain_id();
  v.first = a;
  v.second = b;
  v.first_block_height = first->height;
  v.second_block_height = second->height;
  v.first_signatures = static_cast<size_t>(bundle.first().qc().signatures_size());
  v.second_signatures = static_cast<size_t>(bundle.second().qc().signatures_size());
  v.validator_count = validators.keys.size();
  v.path_length = path.size();
  return v;
}

}  // namespace minetrace::ledger::proof
