// The consensus header and quorum certificate as an offline verifier sees them: the proof
// library's OWN implementation of the canonical header sign-bytes, block id and vote digest
// of consensus/src/types.cc, and of the quorum check. ledger/proof links no consensus code
// (DESIGN.md layering: the CLI verifies without the engine), so these ~40 lines are written a
// second time here; tests/proof/certificate_cross_test.cc checks on random headers and QCs
// that both implementations give identical bytes, ids and verdicts, and checks this one
// against consensus's golden vectors.
//
// Encoding (must equal consensus::HeaderSignBytes): epoch u64, round u64, height u64,
// parent_id 32, proposer u32, timestamp_ms i64 (two's complement), payload_hash 32, ledger
// root height u64, accumulator root 32, leaf count u64; integers big-endian.
// block id = SHA256("minetrace/cblock/v1" || sign-bytes); a voter signs
// SHA256("minetrace/vote/v1" || epoch u64 || round u64 || block_id 32 || height u64).
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/v1/consensus.pb.h"

namespace minetrace::ledger::proof {

inline constexpr std::string_view kConsensusBlockIdDomain = "minetrace/cblock/v1";
inline constexpr std::string_view kConsensusVoteDomain = "minetrace/vote/v1";

// The ledger state a consensus header names: after block `height`, the accumulator of
// `leaf_count` receipts has root `accumulator_root`.
struct CertifiedLedgerRoot {
  uint64_t height = 0;
  Hash32 accumulator_root{};
  uint64_t leaf_count = 0;
  bool operator==(const CertifiedLedgerRoot&) const = default;
};

struct ConsensusHeader {
  uint64_t epoch = 0;
  uint64_t round = 0;
  uint64_t height = 0;
  Hash32 parent_id{};
  uint32_t proposer = 0;
  int64_t timestamp_ms = 0;
  Hash32 payload_hash{};
  CertifiedLedgerRoot ledger_root;
  bool operator==(const ConsensusHeader&) const = default;
};

struct QcVote {
  uint32_t signer = 0;  // index in the validator set
  crypto::Signature signature{};
};

struct QuorumCert {
  uint64_t epoch = 0;
  uint64_t round = 0;
  Hash32 block_id{};
  uint64_t height = 0;
  std::vector<QcVote> votes;
};

// The validator set a verifier trusts (from the genesis it was given), in genesis order.
// n = 3f + 1; a quorum is n - f.
struct TrustedValidators {
  uint64_t epoch = 0;
  std::vector<crypto::PublicKey> keys;
  size_t max_faulty() const { return keys.empty() ? 0 : (keys.size() - 1) / 3; }
  size_t quorum() const { return keys.size() - max_faulty(); }
};

Bytes ConsensusHeaderSignBytes(const ConsensusHeader& header);
Hash32 ConsensusBlockId(const ConsensusHeader& header);
Hash32 ConsensusVoteDigest(uint64_t epoch, uint64_t round, const Hash32& block_id, uint64_t height);

// Refuses (kInvalidArgument, naming the field) hashes that are not 32 bytes, signatures
// that are not 64, a header without a ledger root, more than 1024 QC signatures.
Result<ConsensusHeader> ConsensusHeaderFromProto(const v1::ConsensusBlockHeader& proto);
Result<QuorumCert> QuorumCertFromProto(const v1::QuorumCertificate& proto);
v1::ConsensusBlockHeader ConsensusHeaderToProto(const ConsensusHeader& header);
v1::QuorumCertificate QuorumCertToProto(const QuorumCert& qc);

// Ok iff `qc` carries at least a quorum of signatures by distinct, in-range validators of
// `validators`, each a valid BIP340 signature over the vote digest of (qc.epoch, qc.round,
// qc.block_id, qc.height), and no more signatures than validators. Otherwise
// kPermissionDenied (not enough valid signers) or kInvalidArgument (malformed), with a
// message naming the first problem (e.g. "signature 2 (validator 3) does not verify").
// The epoch is not compared here: CheckCertifiedHeader does it.
Result<void> CheckQuorumCert(const TrustedValidators& validators, const QuorumCert& qc);

// Ok iff `qc` certifies `header` for `validators`: same epoch as the trusted set, the QC
// names the header's block id and height, and CheckQuorumCert passes.
Result<void> CheckCertifiedHeader(const TrustedValidators& validators,
                                  const ConsensusHeader& header, const QuorumCert& qc);

}  // namespace minetrace::ledger::proof
