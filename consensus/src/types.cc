// Canonical sign-bytes of the consensus types (see types.h): fields in declared order,
// integers big-endian fixed width, fixed-size hashes raw, and what is signed is
// SHA256(domain tag || bytes). Changing anything here changes every block id and signature,
// which the golden vectors in types_test.cc catch.
#include "minetrace/consensus/types.h"

#include <set>

#include "minetrace/crypto/sha256.h"

namespace minetrace::consensus {
namespace {

void PutU64(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void PutU32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void PutHash(Bytes& out, const Hash32& h) { out.insert(out.end(), h.begin(), h.end()); }

}  // namespace

std::optional<ValidatorIndex> ValidatorSet::IndexOf(const crypto::PublicKey& key) const {
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) return static_cast<ValidatorIndex>(i);
  }
  return std::nullopt;
}

Bytes HeaderSignBytes(const BlockHeader& header) {
  Bytes out;
  out.reserve(8 + 8 + 8 + 32 + 4 + 8 + 32 + 8 + 32 + 8);
  PutU64(out, header.epoch);
  PutU64(out, header.round);
  PutU64(out, header.height);
  PutHash(out, header.parent_id);
  PutU32(out, header.proposer);
  PutU64(out, static_cast<uint64_t>(header.timestamp_ms));  // two's complement
  PutHash(out, header.payload_hash);
  PutU64(out, header.ledger_root.height);
  PutHash(out, header.ledger_root.accumulator_root);
  PutU64(out, header.ledger_root.leaf_count);
  return out;
}

Hash32 BlockId(const BlockHeader& header) {
  return crypto::DomainHash(kBlockIdDomain, HeaderSignBytes(header));
}

Hash32 VoteDigest(uint64_t epoch, Round round, const Hash32& block_id, uint64_t height) {
  Bytes out;
  out.reserve(8 + 8 + 32 + 8);
  PutU64(out, epoch);
  PutU64(out, round);
  PutHash(out, block_id);
  PutU64(out, height);
  return crypto::DomainHash(kVoteDomain, out);
}

Hash32 ProposalDigest(const Hash32& block_id) {
  return crypto::DomainHash(kProposalDomain, block_id);
}

Hash32 TimeoutDigest(uint64_t epoch, Round round, Round high_qc_round) {
  Bytes out;
  out.reserve(8 + 8 + 8);
  PutU64(out, epoch);
  PutU64(out, round);
  PutU64(out, high_qc_round);
  return crypto::DomainHash(kTimeoutDomain, out);
}

std::optional<std::string> QcSignatureProblem(const ValidatorSet& validators,
                                              const QuorumCertificate& qc) {
  if (qc.signatures.size() < validators.quorum()) return "fewer than a quorum";
  if (qc.signatures.size() > validators.size()) return "more signatures than validators";
  Hash32 digest = VoteDigest(qc.epoch, qc.round, qc.block_id, qc.height);
  std::set<ValidatorIndex> signers;
  for (const ValidatorSignature& s : qc.signatures) {
    if (s.signer >= validators.size()) return "signer index out of range";
    if (!signers.insert(s.signer).second) return "duplicate signer";
    if (!crypto::VerifySchnorr(validators.keys[s.signer], digest, s.signature)) {
      return "invalid signature";
    }
  }
  return std::nullopt;
}

}  // namespace minetrace::consensus
