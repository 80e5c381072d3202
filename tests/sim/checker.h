// Checker watches what honest replicas emit during a simulation and records every broken
// safety property as a violation (a sentence naming the replica, height or round). It never
// stops the run; the simulator asks ok() continuously and at the end.
//
// Properties:
// - agreement: no two honest replicas commit different blocks at one height;
// - no revert: each honest replica's committed sequence only grows, heights contiguous and
//   every block linked to the one before it;
// - validity: every committed payload came from the simulator's payload generator, and the
//   header's payload hash matches it;
// - commit proof: the QC that commits a block certifies a child of it from the next round
//   (the 2-chain rule), with a quorum of distinct, valid signatures;
// - honest votes: an honest replica never signs two votes in one round (also across
//   restarts) and votes only for blocks that satisfy the vote rule;
// - safety data: what an honest replica persists never goes back.
// Ownership: `world` must outlive the checker. Thread-safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "minetrace/consensus/engine.h"

namespace minetrace::sim {

// What the simulator knows about every block and payload that exists in the run.
struct World {
  consensus::ValidatorSet validators;
  consensus::Block genesis;
  std::map<Hash32, consensus::Block> blocks;  // every block any replica proposed or stored
  std::set<Bytes> payloads;                   // every payload the generator produced
};

class Checker {
 public:
  // `world` must outlive the checker.
  explicit Checker(const World& world);

  void OnHonestCommit(consensus::ValidatorIndex who, const consensus::CommitAction& commit);
  void OnHonestVote(consensus::ValidatorIndex who, const consensus::Vote& vote);
  void OnHonestPersistSafety(consensus::ValidatorIndex who, const consensus::SafetyData& data);
  void Fail(std::string violation);

  bool ok() const { return violations_.empty(); }
  const std::vector<std::string>& violations() const { return violations_; }
  // The committed height of an honest replica (0 before its first commit).
  uint64_t committed_height(consensus::ValidatorIndex who) const;
  uint64_t max_committed_height() const;
  uint64_t commits() const { return commits_; }

 private:
  struct Replica {
    uint64_t height = 0;
    Hash32 last_id{};
    consensus::Round last_round = 0;
    std::map<consensus::Round, Hash32> votes;  // bounded: the oldest rounds are dropped
    consensus::SafetyData safety;
    bool has_safety = false;
  };
  static constexpr size_t kMaxViolations = 20;
  static constexpr size_t kMaxVoteRounds = 4096;

  Replica& replica(consensus::ValidatorIndex who);
  void CheckCommitProof(consensus::ValidatorIndex who, const consensus::Block& last,
                        const consensus::QuorumCertificate& qc);

  const World& world_;
  std::map<consensus::ValidatorIndex, Replica> replicas_;
  std::map<uint64_t, Hash32> committed_;  // height -> block id, from the first honest commit
  std::vector<std::string> violations_;
  uint64_t commits_ = 0;
};

}  // namespace minetrace::sim
