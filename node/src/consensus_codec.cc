#include "consensus_codec.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "minetrace/base/bytes.h"

namespace minetrace::node {
namespace {

using consensus::Block;
using consensus::BlockHeader;
using consensus::BlockRequest;
using consensus::BlockResponse;
using consensus::Message;
using consensus::Proposal;
using consensus::QuorumCertificate;
using consensus::SafetyData;
using consensus::Timeout;
using consensus::TimeoutCertificate;
using consensus::TimeoutSignature;
using consensus::ValidatorSignature;
using consensus::Vote;

// ---- helpers ----

tl::unexpected<Error> Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// "vote" + "block_id" -> "vote.block_id": the path an error message names.
std::string FieldPath(std::string_view where, std::string_view field) {
  std::string path(where);
  path += '.';
  path += field;
  return path;
}

template <size_t N>
std::string FixedToProto(const std::array<uint8_t, N>& bytes) {
  return std::string(AsChars(bytes));
}

// Copies `bytes` into `out` when it has exactly N bytes; refuses any other size, naming the
// field, since a short hash or signature would otherwise be silently zero-padded.
template <size_t N>
Result<void> FixedFromProto(const std::string& bytes, std::string_view where,
                            std::string_view field, std::array<uint8_t, N>& out) {
  if (bytes.size() != N) {
    return Invalid(FieldPath(where, field) + " must be " + std::to_string(N) + " bytes, got " +
                   std::to_string(bytes.size()));
  }
  std::memcpy(out.data(), bytes.data(), N);
  return {};
}

Result<void> RequirePresent(bool present, std::string_view where, std::string_view field) {
  if (!present) return Invalid(FieldPath(where, field) + " is missing");
  return {};
}

Result<void> RequireBounded(int count, std::string_view where, std::string_view field) {
  // A protobuf repeated field's size() is a non-negative int.
  if (static_cast<size_t>(count) > kMaxCertificateEntries) {
    return Invalid(FieldPath(where, field) + " has " + std::to_string(count) +
                   " entries, at most " + std::to_string(kMaxCertificateEntries) + " allowed");
  }
  return {};
}

std::string ItemPath(std::string_view where, std::string_view field, int index) {
  return FieldPath(where, field) + "[" + std::to_string(index) + "]";
}

// ---- to proto ----

void FillQc(const QuorumCertificate& qc, v1::QuorumCertificate& out) {
  out.set_epoch(qc.epoch);
  out.set_round(qc.round);
  out.set_block_id(FixedToProto(qc.block_id));
  out.set_height(qc.height);
  out.mutable_signatures()->Reserve(static_cast<int>(qc.signatures.size()));
  for (const ValidatorSignature& sig : qc.signatures) {
    v1::QcSignature* p = out.add_signatures();
    p->set_signer(sig.signer);
    p->set_signature(FixedToProto(sig.signature));
  }
}

void FillTc(const TimeoutCertificate& tc, v1::TimeoutCertificate& out) {
  out.set_epoch(tc.epoch);
  out.set_round(tc.round);
  out.mutable_timeouts()->Reserve(static_cast<int>(tc.timeouts.size()));
  for (const TimeoutSignature& t : tc.timeouts) {
    v1::TimeoutSignature* p = out.add_timeouts();
    p->set_signer(t.signer);
    p->set_high_qc_round(t.high_qc_round);
    p->set_signature(FixedToProto(t.signature));
  }
  FillQc(tc.high_qc, *out.mutable_high_qc());
}

void FillHeader(const BlockHeader& h, v1::ConsensusBlockHeader& out) {
  out.set_epoch(h.epoch);
  out.set_round(h.round);
  out.set_height(h.height);
  out.set_parent_id(FixedToProto(h.parent_id));
  out.set_proposer(h.proposer);
  out.set_timestamp_ms(h.timestamp_ms);
  out.set_payload_hash(FixedToProto(h.payload_hash));
  v1::LedgerRoot* root = out.mutable_ledger_root();
  root->set_height(h.ledger_root.height);
  root->set_accumulator_root(FixedToProto(h.ledger_root.accumulator_root));
  root->set_leaf_count(h.ledger_root.leaf_count);
}

void FillBlock(const Block& block, v1::ConsensusBlock& out) {
  FillHeader(block.header, *out.mutable_header());
  out.set_payload(std::string(AsChars(block.payload)));
  FillQc(block.parent_qc, *out.mutable_parent_qc());
  if (block.previous_round_tc) FillTc(*block.previous_round_tc, *out.mutable_previous_round_tc());
  out.set_proposer_signature(FixedToProto(block.proposer_signature));
}

// ---- from proto ----
// Each Decode* checks one message whose path (for error messages) is `where` and fills `out`.

Result<void> DecodeQc(const v1::QuorumCertificate& p, std::string_view where,
                      QuorumCertificate& out) {
  out.epoch = p.epoch();
  out.round = p.round();
  MT_TRY(FixedFromProto(p.block_id(), where, "block_id", out.block_id));
  out.height = p.height();
  MT_TRY(RequireBounded(p.signatures_size(), where, "signatures"));
  out.signatures.clear();
  out.signatures.reserve(static_cast<size_t>(p.signatures_size()));
  for (int i = 0; i < p.signatures_size(); ++i) {
    const v1::QcSignature& s = p.signatures(i);
    ValidatorSignature sig;
    sig.signer = s.signer();
    MT_TRY(FixedFromProto(s.signature(), ItemPath(where, "signatures", i), "signature",
                          sig.signature));
    out.signatures.push_back(sig);
  }
  return {};
}

Result<void> DecodeTc(const v1::TimeoutCertificate& p, std::string_view where,
                      TimeoutCertificate& out) {
  out.epoch = p.epoch();
  out.round = p.round();
  MT_TRY(RequireBounded(p.timeouts_size(), where, "timeouts"));
  out.timeouts.clear();
  out.timeouts.reserve(static_cast<size_t>(p.timeouts_size()));
  for (int i = 0; i < p.timeouts_size(); ++i) {
    const v1::TimeoutSignature& s = p.timeouts(i);
    TimeoutSignature t;
    t.signer = s.signer();
    t.high_qc_round = s.high_qc_round();
    MT_TRY(FixedFromProto(s.signature(), ItemPath(where, "timeouts", i), "signature", t.signature));
    out.timeouts.push_back(t);
  }
  MT_TRY(RequirePresent(p.has_high_qc(), where, "high_qc"));
  return DecodeQc(p.high_qc(), FieldPath(where, "high_qc"), out.high_qc);
}

Result<void> DecodeHeader(const v1::ConsensusBlockHeader& p, std::string_view where,
                          BlockHeader& out) {
  out.epoch = p.epoch();
  out.round = p.round();
  out.height = p.height();
  MT_TRY(FixedFromProto(p.parent_id(), where, "parent_id", out.parent_id));
  out.proposer = p.proposer();
  out.timestamp_ms = p.timestamp_ms();
  MT_TRY(FixedFromProto(p.payload_hash(), where, "payload_hash", out.payload_hash));
  MT_TRY(RequirePresent(p.has_ledger_root(), where, "ledger_root"));
  const v1::LedgerRoot& root = p.ledger_root();
  out.ledger_root.height = root.height();
  MT_TRY(FixedFromProto(root.accumulator_root(), FieldPath(where, "ledger_root"),
                        "accumulator_root", out.ledger_root.accumulator_root));
  out.ledger_root.leaf_count = root.leaf_count();
  return {};
}

Result<void> DecodeBlock(const v1::ConsensusBlock& p, std::string_view where, Block& out) {
  MT_TRY(RequirePresent(p.has_header(), where, "header"));
  MT_TRY(DecodeHeader(p.header(), FieldPath(where, "header"), out.header));
  out.payload = Bytes(p.payload().begin(), p.payload().end());
  MT_TRY(RequirePresent(p.has_parent_qc(), where, "parent_qc"));
  MT_TRY(DecodeQc(p.parent_qc(), FieldPath(where, "parent_qc"), out.parent_qc));
  if (p.has_previous_round_tc()) {
    TimeoutCertificate tc;
    MT_TRY(DecodeTc(p.previous_round_tc(), FieldPath(where, "previous_round_tc"), tc));
    out.previous_round_tc = std::move(tc);
  } else {
    out.previous_round_tc.reset();
  }
  MT_TRY(
      FixedFromProto(p.proposer_signature(), where, "proposer_signature", out.proposer_signature));
  return {};
}

Result<void> DecodeVote(const v1::Vote& p, std::string_view where, Vote& out) {
  out.epoch = p.epoch();
  out.round = p.round();
  MT_TRY(FixedFromProto(p.block_id(), where, "block_id", out.block_id));
  out.height = p.height();
  out.voter = p.voter();
  MT_TRY(FixedFromProto(p.signature(), where, "signature", out.signature));
  return {};
}

Result<void> DecodeTimeout(const v1::Timeout& p, std::string_view where, Timeout& out) {
  out.epoch = p.epoch();
  out.round = p.round();
  MT_TRY(RequirePresent(p.has_high_qc(), where, "high_qc"));
  MT_TRY(DecodeQc(p.high_qc(), FieldPath(where, "high_qc"), out.high_qc));
  out.sender = p.sender();
  MT_TRY(FixedFromProto(p.signature(), where, "signature", out.signature));
  return {};
}

}  // namespace

// ---- public API ----

v1::QuorumCertificate QcToProto(const QuorumCertificate& qc) {
  v1::QuorumCertificate out;
  FillQc(qc, out);
  return out;
}

Result<QuorumCertificate> QcFromProto(const v1::QuorumCertificate& proto) {
  QuorumCertificate qc;
  MT_TRY(DecodeQc(proto, "qc", qc));
  return qc;
}

v1::ConsensusBlockHeader HeaderToProto(const BlockHeader& header) {
  v1::ConsensusBlockHeader out;
  FillHeader(header, out);
  return out;
}

Result<BlockHeader> HeaderFromProto(const v1::ConsensusBlockHeader& proto) {
  BlockHeader header;
  MT_TRY(DecodeHeader(proto, "header", header));
  return header;
}

v1::ConsensusBlock BlockToProto(const Block& block) {
  v1::ConsensusBlock out;
  FillBlock(block, out);
  return out;
}

Result<Block> BlockFromProto(const v1::ConsensusBlock& proto) {
  Block block;
  MT_TRY(DecodeBlock(proto, "block", block));
  return block;
}

v1::ConsensusMessage MessageToProto(const Message& message) {
  v1::ConsensusMessage out;
  std::visit(
      [&out](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Proposal>) {
          FillBlock(m.block, *out.mutable_proposal()->mutable_block());
        } else if constexpr (std::is_same_v<T, Vote>) {
          v1::Vote* p = out.mutable_vote();
          p->set_epoch(m.epoch);
          p->set_round(m.round);
          p->set_block_id(FixedToProto(m.block_id));
          p->set_height(m.height);
          p->set_voter(m.voter);
          p->set_signature(FixedToProto(m.signature));
        } else if constexpr (std::is_same_v<T, Timeout>) {
          v1::Timeout* p = out.mutable_timeout();
          p->set_epoch(m.epoch);
          p->set_round(m.round);
          FillQc(m.high_qc, *p->mutable_high_qc());
          p->set_sender(m.sender);
          p->set_signature(FixedToProto(m.signature));
        } else if constexpr (std::is_same_v<T, BlockRequest>) {
          out.mutable_block_request()->set_block_id(FixedToProto(m.block_id));
        } else {
          static_assert(std::is_same_v<T, BlockResponse>, "every Message kind is encoded");
          v1::BlockResponse* p = out.mutable_block_response();
          FillBlock(m.block, *p->mutable_block());
          if (m.qc) FillQc(*m.qc, *p->mutable_qc());
        }
      },
      message);
  return out;
}

Result<Message> MessageFromProto(const v1::ConsensusMessage& proto) {
  switch (proto.kind_case()) {
    case v1::ConsensusMessage::kProposal: {
      const v1::Proposal& p = proto.proposal();
      Proposal proposal;
      MT_TRY(RequirePresent(p.has_block(), "proposal", "block"));
      MT_TRY(DecodeBlock(p.block(), "proposal.block", proposal.block));
      return Message(std::move(proposal));
    }
    case v1::ConsensusMessage::kVote: {
      Vote vote;
      MT_TRY(DecodeVote(proto.vote(), "vote", vote));
      return Message(std::move(vote));
    }
    case v1::ConsensusMessage::kTimeout: {
      Timeout timeout;
      MT_TRY(DecodeTimeout(proto.timeout(), "timeout", timeout));
      return Message(std::move(timeout));
    }
    case v1::ConsensusMessage::kBlockRequest: {
      BlockRequest request;
      MT_TRY(FixedFromProto(proto.block_request().block_id(), "block_request", "block_id",
                            request.block_id));
      return Message(std::move(request));
    }
    case v1::ConsensusMessage::kBlockResponse: {
      const v1::BlockResponse& p = proto.block_response();
      BlockResponse response;
      MT_TRY(RequirePresent(p.has_block(), "block_response", "block"));
      MT_TRY(DecodeBlock(p.block(), "block_response.block", response.block));
      if (p.has_qc()) {
        QuorumCertificate qc;
        MT_TRY(DecodeQc(p.qc(), "block_response.qc", qc));
        response.qc = std::move(qc);
      }
      return Message(std::move(response));
    }
    case v1::ConsensusMessage::KIND_NOT_SET:
      break;
  }
  // KIND_NOT_SET, or a kind number this build does not know (a corrupt or newer message).
  return Invalid("consensus message kind is not set");
}

v1::SafetyRecord SafetyToProto(const SafetyData& safety) {
  v1::SafetyRecord out;
  out.set_epoch(safety.epoch);
  out.set_last_voted_round(safety.last_voted_round);
  out.set_highest_timeout_round(safety.highest_timeout_round);
  FillQc(safety.high_qc, *out.mutable_high_qc());
  return out;
}

Result<SafetyData> SafetyFromProto(const v1::SafetyRecord& proto) {
  SafetyData safety;
  safety.epoch = proto.epoch();
  safety.last_voted_round = proto.last_voted_round();
  safety.highest_timeout_round = proto.highest_timeout_round();
  MT_TRY(RequirePresent(proto.has_high_qc(), "safety", "high_qc"));
  MT_TRY(DecodeQc(proto.high_qc(), "safety.high_qc", safety.high_qc));
  return safety;
}

}  // namespace minetrace::node
