// Plain consensus types of the two-chain HotStuff core (Jolteon / DiemBFT v4): blocks,
// votes, quorum certificates, timeouts and timeout certificates, with their canonical
// sign-bytes. No protobuf, no I/O: the node converts these to and from the wire at its edge
// (node/), and tests/sim passes them around as they are.
//
// Canonical sign-bytes are defined once here (SignBytes functions) and pinned by golden
// vectors in types_test.cc: every field in a fixed order, integers big-endian fixed width,
// variable-length byte strings prefixed by a 4-byte big-endian length. What a validator
// signs is SHA256(domain tag || sign-bytes) with the tags below.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/crypto/keys.h"

namespace minetrace::consensus {

using Round = uint64_t;
using ValidatorIndex = uint32_t;  // position in the ValidatorSet

inline constexpr std::string_view kProposalDomain = "minetrace/proposal/v1";
inline constexpr std::string_view kVoteDomain = "minetrace/vote/v1";
inline constexpr std::string_view kTimeoutDomain = "minetrace/timeout/v1";
inline constexpr std::string_view kBlockIdDomain = "minetrace/cblock/v1";

// The validators of an epoch, in genesis order. n = 3f + 1 (n >= 1); a quorum is n - f.
struct ValidatorSet {
  uint64_t epoch = 0;
  std::vector<crypto::PublicKey> keys;

  size_t size() const { return keys.size(); }
  size_t max_faulty() const { return keys.empty() ? 0 : (keys.size() - 1) / 3; }
  size_t quorum() const { return keys.size() - max_faulty(); }
  std::optional<ValidatorIndex> IndexOf(const crypto::PublicKey& key) const;
};

// The state of the ledger that a block executes on top of: DESIGN.md's "ledger root of the
// latest committed block" carried in each header, so a QC over the header certifies it.
struct LedgerRoot {
  uint64_t height = 0;
  Hash32 accumulator_root{};
  uint64_t leaf_count = 0;
  bool operator==(const LedgerRoot&) const = default;
};

struct ValidatorSignature {
  ValidatorIndex signer = 0;
  crypto::Signature signature{};
  bool operator==(const ValidatorSignature&) const = default;
};

// 2f+1 votes for one block in one round. The genesis QC (round 0, the genesis block id) has
// no signatures and is valid by definition.
struct QuorumCertificate {
  uint64_t epoch = 0;
  Round round = 0;
  Hash32 block_id{};
  uint64_t height = 0;  // of the certified block
  std::vector<ValidatorSignature> signatures;
  bool operator==(const QuorumCertificate&) const = default;
};

// A signed statement "I give up on `round`; my highest QC is `high_qc_round`".
struct TimeoutSignature {
  ValidatorIndex signer = 0;
  Round high_qc_round = 0;
  crypto::Signature signature{};
  bool operator==(const TimeoutSignature&) const = default;
};

// 2f+1 timeouts for one round; high_qc is the highest QC named by them.
struct TimeoutCertificate {
  uint64_t epoch = 0;
  Round round = 0;
  std::vector<TimeoutSignature> timeouts;
  QuorumCertificate high_qc;
  bool operator==(const TimeoutCertificate&) const = default;
};

struct BlockHeader {
  uint64_t epoch = 0;
  Round round = 0;
  uint64_t height = 0;  // parent height + 1; the genesis block has height 0
  Hash32 parent_id{};
  ValidatorIndex proposer = 0;
  int64_t timestamp_ms = 0;
  Hash32 payload_hash{};  // SHA256 of the payload bytes
  LedgerRoot ledger_root;
  bool operator==(const BlockHeader&) const = default;
};

// A proposed block: the header, its opaque payload (transactions, for the ledger), the QC
// for its parent, and the TC of the previous round when that round ended without a QC.
struct Block {
  BlockHeader header;
  Bytes payload;
  QuorumCertificate parent_qc;
  std::optional<TimeoutCertificate> previous_round_tc;
  crypto::Signature proposer_signature{};  // over the block id
  bool operator==(const Block&) const = default;
};

struct Vote {
  uint64_t epoch = 0;
  Round round = 0;
  Hash32 block_id{};
  uint64_t height = 0;
  ValidatorIndex voter = 0;
  crypto::Signature signature{};
  bool operator==(const Vote&) const = default;
};

struct Timeout {
  uint64_t epoch = 0;
  Round round = 0;
  QuorumCertificate high_qc;
  ValidatorIndex sender = 0;
  crypto::Signature signature{};  // over (epoch, round, high_qc.round)
  bool operator==(const Timeout&) const = default;
};

// ---- canonical bytes ----

Bytes HeaderSignBytes(const BlockHeader& header);
// block id = SHA256("minetrace/cblock/v1" || HeaderSignBytes(header)).
Hash32 BlockId(const BlockHeader& header);
// What a voter signs: SHA256("minetrace/vote/v1" || epoch || round || block_id || height).
Hash32 VoteDigest(uint64_t epoch, Round round, const Hash32& block_id, uint64_t height);
// What a proposer signs: SHA256("minetrace/proposal/v1" || block id).
Hash32 ProposalDigest(const Hash32& block_id);
// What a timeout signer signs: SHA256("minetrace/timeout/v1" || epoch || round || high_qc_round).
Hash32 TimeoutDigest(uint64_t epoch, Round round, Round high_qc_round);

// Why `qc`'s signatures do not make it a quorum certificate of `validators` (fewer than a
// quorum, out-of-range or repeated signers, a signature that does not verify), or nullopt
// when they do. The signature-free genesis QC is not valid here: callers decide about it.
std::optional<std::string> QcSignatureProblem(const ValidatorSet& validators,
                                              const QuorumCertificate& qc);

}  // namespace minetrace::consensus
