// The proof library's own canonical consensus sign-bytes and QC check (see certificate.h);
// tests/proof/certificate_cross_test.cc keeps them equal to consensus/src/types.cc.
#include "minetrace/ledger/proof/certificate.h"

#include <set>

#include "minetrace/crypto/sha256.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::ledger::proof {
namespace {

constexpr size_t kMaxQcVotes = 1024;  // as node::kMaxCertificateEntries

void AppendBigEndian64(Bytes& out, uint64_t value) {
  for (int byte = 7; byte >= 0; --byte) out.push_back(static_cast<uint8_t>(value >> (8 * byte)));
}

void AppendBigEndian32(Bytes& out, uint32_t value) {
  for (int byte = 3; byte >= 0; --byte) out.push_back(static_cast<uint8_t>(value >> (8 * byte)));
}

void AppendHash(Bytes& out, const Hash32& hash) { out.insert(out.end(), hash.begin(), hash.end()); }

Result<Hash32> Hash32Field(const std::string& bytes, const std::string& field) {
  auto hash = Hash32FromBytes(AsBytes(bytes));
  if (!hash) {
    return MakeError(ErrorCode::kInvalidArgument,
                     field + " must be 32 bytes, got " + std::to_string(bytes.size()));
  }
  return *hash;
}

std::string HexPrefix(const Hash32& hash) { return ToHex(ByteView(hash.data(), 8)); }

}  // namespace

Bytes ConsensusHeaderSignBytes(const ConsensusHeader& header) {
  Bytes out;
  out.reserve(3 * 8 + 32 + 4 + 8 + 32 + 8 + 32 + 8);
  AppendBigEndian64(out, header.epoch);
  AppendBigEndian64(out, header.round);
  AppendBigEndian64(out, header.height);
  AppendHash(out, header.parent_id);
  AppendBigEndian32(out, header.proposer);
  AppendBigEndian64(out, static_cast<uint64_t>(header.timestamp_ms));
  AppendHash(out, header.payload_hash);
  AppendBigEndian64(out, header.ledger_root.height);
  AppendHash(out, header.ledger_root.accumulator_root);
  AppendBigEndian64(out, header.ledger_root.leaf_count);
  return out;
}

Hash32 ConsensusBlockId(const ConsensusHeader& header) {
  return crypto::DomainHash(kConsensusBlockIdDomain, ConsensusHeaderSignBytes(header));
}

Hash32 ConsensusVoteDigest(uint64_t epoch, uint64_t round, const Hash32& block_id,
                           uint64_t height) {
  Bytes out;
  out.reserve(8 + 8 + 32 + 8);
  AppendBigEndian64(out, epoch);
  AppendBigEndian64(out, round);
  AppendHash(out, block_id);
  AppendBigEndian64(out, height);
  return crypto::DomainHash(kConsensusVoteDomain, out);
}

Result<ConsensusHeader> ConsensusHeaderFromProto(const v1::ConsensusBlockHeader& proto) {
  ConsensusHeader header;
  header.epoch = proto.epoch();
  header.round = proto.round();
  header.height = proto.height();
  auto header_parent_id_r = Hash32Field(proto.parent_id(), "header.parent_id");
  if (!header_parent_id_r) return tl::unexpected(header_parent_id_r.error());
  header.parent_id = *header_parent_id_r;
  header.proposer = proto.proposer();
  header.timestamp_ms = proto.timestamp_ms();
  auto header_payload_hash_r = Hash32Field(proto.payload_hash(), "header.payload_hash");
  if (!header_payload_hash_r) return tl::unexpected(header_payload_hash_r.error());
  header.payload_hash = *header_payload_hash_r;
  if (!proto.has_ledger_root()) {
    return MakeError(ErrorCode::kInvalidArgument, "header.ledger_root is missing");
  }
  header.ledger_root.height = proto.ledger_root().height();
  auto header_ledger_root_accumulator_root_r =
      Hash32Field(proto.ledger_root().accumulator_root(), "header.ledger_root.accumulator_root");
  if (!header_ledger_root_accumulator_root_r)
    return tl::unexpected(header_ledger_root_accumulator_root_r.error());
  header.ledger_root.accumulator_root = *header_ledger_root_accumulator_root_r;
  header.ledger_root.leaf_count = proto.ledger_root().leaf_count();
  return header;
}

Result<QuorumCert> QuorumCertFromProto(const v1::QuorumCertificate& proto) {
  QuorumCert qc;
  qc.epoch = proto.epoch();
  qc.round = proto.round();
  auto qc_block_id_r = Hash32Field(proto.block_id(), "qc.block_id");
  if (!qc_block_id_r) return tl::unexpected(qc_block_id_r.error());
  qc.block_id = *qc_block_id_r;
  qc.height = proto.height();
  if (static_cast<size_t>(proto.signatures_size()) > kMaxQcVotes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "qc has " + std::to_string(proto.signatures_size()) +
                         " signatures, more than " + std::to_string(kMaxQcVotes));
  }
  for (int i = 0; i < proto.signatures_size(); ++i) {
    const v1::QcSignature& s = proto.signatures(i);
    if (s.signature().size() != 64) {
      return MakeError(ErrorCode::kInvalidArgument, "qc.signatures[" + std::to_string(i) +
                                                        "] must be 64 bytes, got " +
                                                        std::to_string(s.signature().size()));
    }
    QcVote vote;
    vote.signer = s.signer();
    std::copy(s.signature().begin(), s.signature().end(), vote.signature.begin());
    qc.votes.push_back(vote);
  }
  return qc;
}

v1::ConsensusBlockHeader ConsensusHeaderToProto(const ConsensusHeader& header) {
  v1::ConsensusBlockHeader p;
  p.set_epoch(header.epoch);
  p.set_round(header.round);
  p.set_height(header.height);
  p.set_parent_id(HashString(header.parent_id));
  p.set_proposer(header.proposer);
  p.set_timestamp_ms(header.timestamp_ms);
  p.set_payload_hash(HashString(header.payload_hash));
  p.mutable_ledger_root()->set_height(header.ledger_root.height);
  p.mutable_ledger_root()->set_accumulator_root(HashString(header.ledger_root.accumulator_root));
  p.mutable_ledger_root()->set_leaf_count(header.ledger_root.leaf_count);
  return p;
}

v1::QuorumCertificate QuorumCertToProto(const QuorumCert& qc) {
  v1::QuorumCertificate p;
  p.set_epoch(qc.epoch);
  p.set_round(qc.round);
  p.set_block_id(HashString(qc.block_id));
  p.set_height(qc.height);
  for (const QcVote& v : qc.votes) {
    v1::QcSignature* s = p.add_signatures();
    s->set_signer(v.signer);
    s->set_signature(std::string(v.signature.begin(), v.signature.end()));
  }
  return p;
}

Result<void> CheckQuorumCert(const TrustedValidators& validators, const QuorumCert& qc) {
  const size_t n = validators.keys.size();
  if (n == 0) return MakeError(ErrorCode::kInvalidArgument, "the trusted validator set is empty");
  if (qc.votes.size() < validators.quorum()) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "the quorum certificate has " + std::to_string(qc.votes.size()) +
                         " signatures; " + std::to_string(validators.quorum()) + " of " +
                         std::to_string(n) + " validators (2f+1) are needed");
  }
  if (qc.votes.size() > n) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the quorum certificate has " + std::to_string(qc.votes.size()) +
                         " signatures but there are only " + std::to_string(n) + " validators");
  }
  const Hash32 digest = ConsensusVoteDigest(qc.epoch, qc.round, qc.block_id, qc.height);
  std::set<uint32_t> signers;
  for (size_t i = 0; i < qc.votes.size(); ++i) {
    const QcVote& vote = qc.votes[i];
    const std::string which = "quorum certificate signature " + std::to_string(i) + " (validator " +
                              std::to_string(vote.signer) + ")";
    if (vote.signer >= n) {
      return MakeError(ErrorCode::kPermissionDenied,
                       which + " names no validator of the trusted set of " + std::to_string(n));
    }
    if (!signers.insert(vote.signer).second) {
      return MakeError(ErrorCode::kPermissionDenied,
                       which + " repeats a signer: 2f+1 DISTINCT validators are needed");
    }
    if (!crypto::VerifySchnorr(validators.keys[vote.signer], digest, vote.signature)) {
      return MakeError(ErrorCode::kPermissionDenied,
                       which + " does not verify under that trusted key over block " +
                           HexPrefix(qc.block_id) + "...");
    }
  }
  return {};
}

Result<void> CheckCertifiedHeader(const TrustedValidators& validators,
                                  const ConsensusHeader& header, const QuorumCert& qc) {
  if (header.epoch != validators.epoch || qc.epoch != validators.epoch) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "the header (epoch " + std::to_string(header.epoch) + ") and QC (epoch " +
                         std::to_string(qc.epoch) + ") are not of the trusted epoch " +
                         std::to_string(validators.epoch));
  }
  const Hash32 id = ConsensusBlockId(header);
  if (qc.block_id != id) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the quorum certificate certifies block " + HexPrefix(qc.block_id) +
                         "..., not the bundle's header (block " + HexPrefix(id) + "...)");
  }
  if (qc.height != header.height) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the quorum certificate names height " + std::to_string(qc.height) +
                         " but the header is at height " + std::to_string(header.height));
  }
  return CheckQuorumCert(validators, qc);
}

}  // namespace minetrace::ledger::proof
