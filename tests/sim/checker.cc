#include "checker.h"

#include <utility>

#include "minetrace/crypto/sha256.h"

namespace minetrace::sim {

using consensus::Block;
using consensus::QuorumCertificate;
using consensus::Round;
using consensus::ValidatorIndex;

namespace {

std::string Short(const Hash32& id) { return ToHex(ByteView(id.data(), 4)); }

}  // namespace

Checker::Checker(const World& world) : world_(world) {}

Checker::Replica& Checker::replica(ValidatorIndex who) {
  auto [it, inserted] = replicas_.try_emplace(who);
  if (inserted) it->second.last_id = consensus::BlockId(world_.genesis.header);
  return it->second;
}

void Checker::Fail(std::string violation) {
  if (violations_.size() < kMaxViolations) violations_.push_back(std::move(violation));
}

uint64_t Checker::committed_height(ValidatorIndex who) const {
  auto it = replicas_.find(who);
  return it == replicas_.end() ? 0 : it->second.height;
}

uint64_t Checker::max_committed_height() const {
  return committed_.empty() ? 0 : committed_.rbegin()->first;
}

void Checker::OnHonestCommit(ValidatorIndex who, const consensus::CommitAction& commit) {
  Replica& r = replica(who);
  const std::string name = "replica " + std::to_string(who);
  if (commit.blocks.empty()) {
    Fail(name + ": empty commit");
    return;
  }
  for (const Block& block : commit.blocks) {
    const Hash32 id = consensus::BlockId(block.header);
    const uint64_t height = block.header.height;
    ++commits_;
    // No revert: contiguous heights, each block linked to the previous committed one.
    if (height != r.height + 1) {
      Fail(name + ": no-revert: committed height " + std::to_string(height) + " after height " +
           std::to_string(r.height));
    }
    if (block.header.parent_id != r.last_id) {
      Fail(name + ": no-revert: block " + Short(id) + " at height " + std::to_string(height) +
           " does not extend the last committed block " + Short(r.last_id));
    }
    if (block.header.round <= r.last_round && r.height > 0) {
      Fail(name + ": committed round " + std::to_string(block.header.round) +
           " not above the previous committed round " + std::to_string(r.last_round));
    }
    // Validity.
    if (!world_.payloads.contains(block.payload)) {
      Fail(name + ": validity: committed payload '" + ToString(block.payload) +
           "' at height " + std::to_string(height) + " was never generated");
    }
    if (crypto::Sha256(block.payload) != block.header.payload_hash) {
      Fail(name + ": validity: payload hash mismatch at height " + std::to_string(height));
    }
    // Agreement.
    auto [it, inserted] = committed_.try_emplace(height, id);
    if (!inserted && it->second != id) {
      Fail("agreement: replica " + std::to_string(who) + " committed " + Short(id) +
           " at height " + std::to_string(height) + " where another honest replica committed " +
           Short(it->second));
    }
    r.height = height;
    r.last_id = id;
    r.last_round = block.header.round;
  }
  CheckCommitProof(who, commit.blocks.back(), commit.commit_qc);
}

void Checker::CheckCommitProof(ValidatorIndex who, const Block& last, const QuorumCertificate& qc) {
  const std::string name = "replica " + std::to_string(who);
  const Hash32 last_id = consensus::BlockId(last.header);
  auto child = world_.blocks.find(qc.block_id);
  if (child == world_.blocks.end()) {
    Fail(name + ": commit proof: the commit QC certifies an unknown block " + Short(qc.block_id));
    return;
  }
  const Block& b = child->second;
  if (b.header.parent_id != last_id || b.header.round != last.header.round + 1) {
    Fail(name + ": commit proof: committed " + Short(last_id) + " (round " +
         std::to_string(last.header.round) + ") with a QC for " + Short(qc.block_id) +
         " (round " + std::to_string(b.header.round) + "), which is not its next-round child");
  }
  if (qc.round != b.header.round || qc.height != b.header.height) {
    Fail(name + ": commit proof: QC round/height do not match the certified block");
  }
  std::set<ValidatorIndex> signers;
  const Hash32 digest = consensus::VoteDigest(qc.epoch, qc.round, qc.block_id, qc.height);
  for (const auto& s : qc.signatures) {
    if (s.signer >= world_.validators.size()) {
      Fail(name + ": commit proof: QC signer out of range");
      return;
    }
    const auto& key = world_.validators.keys[s.signer];
    if (!crypto::VerifySchnorr(key, digest, s.signature)) {
      Fail(name + ": commit proof: QC carries an invalid signature of validator " +
           std::to_string(s.signer));
    }
    signers.insert(s.signer);
  }
  if (signers.size() < world_.validators.quorum()) {
    Fail(name + ": commit proof: QC has " + std::to_string(signers.size()) +
         " distinct signers, quorum is " + std::to_string(world_.validators.quorum()));
  }
}

void Checker::OnHonestVote(ValidatorIndex who, const consensus::Vote& vote) {
  Replica& r = replica(who);
  const std::string name = "replica " + std::to_string(who);
  auto [it, inserted] = r.votes.try_emplace(vote.round, vote.block_id);
  if (!inserted && it->second != vote.block_id) {
    Fail(name + ": honest double vote in round " + std::to_string(vote.round) + " for " +
         Short(it->second) + " and " + Short(vote.block_id));
  }
  while (r.votes.size() > kMaxVoteRounds) r.votes.erase(r.votes.begin());
  auto block = world_.blocks.find(vote.block_id);
  if (block == world_.blocks.end()) return;  // not seen by the simulator (cannot judge)
  const auto& h = block->second.header;
  const auto& parent_qc = block->second.parent_qc;
  const auto& tc = block->second.previous_round_tc;
  if (vote.round != h.round) {
    Fail(name + ": vote round " + std::to_string(vote.round) + " != block round " +
         std::to_string(h.round));
    return;
  }
  const bool direct = parent_qc.round + 1 == h.round;
  const bool via_tc = tc.has_value() && tc->round + 1 == h.round &&
                      parent_qc.round >= tc->high_qc.round;
  if (!direct && !via_tc) {
    Fail(name + ": vote rule: voted for round " + std::to_string(h.round) + " block " +
         Short(vote.block_id) + " whose parent QC is from round " +
         std::to_string(parent_qc.round) +
         (tc ? " and whose TC (round " + std::to_string(tc->round) + ") names high QC round " +
                   std::to_string(tc->high_qc.round)
             : std::string(" without a TC")));
  }
}

void Checker::OnHonestPersistSafety(ValidatorIndex who, const consensus::SafetyData& data) {
  Replica& r = replica(who);
  if (r.has_safety) {
    const std::string name = "replica " + std::to_string(who);
    if (data.last_voted_round < r.safety.last_voted_round) {
      Fail(name + ": persisted last_voted_round went back from " +
           std::to_string(r.safety.last_voted_round) + " to " +
           std::to_string(data.last_voted_round));
    }
    if (data.highest_timeout_round < r.safety.highest_timeout_round) {
      Fail(name + ": persisted highest_timeout_round went back");
    }
    if (data.high_qc.round < r.safety.high_qc.round) {
      Fail(name + ": persisted high QC round went back");
    }
  }
  r.safety = data;
  r.has_safety = true;
}

}  // namespace minetrace::sim
