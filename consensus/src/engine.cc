// The consensus engine: Jolteon / DiemBFT v4 as summarised in engine.h.
//
// Structure: Impl holds the block tree (committed root and its uncommitted descendants),
// the QCs known per block, the highest QC and TC, the safety data, and bounded per-round
// vote and timeout sets. Each Step handles one event and appends actions to `out_` in the
// order the caller must execute them. All containers that are iterated are ordered
// (std::map / std::set), so the same events give the same actions on every machine.
//
// Restart rule (constructor): the current round is the highest of high_qc.round + 1,
// highest known TC round + 1, last_voted_round and highest_timeout_round. This is safe
// because the vote rule never relies on the current round alone: a vote needs
// round > last_voted_round and round > highest_timeout_round, both persisted before any
// vote or timeout left the replica. A leader that restarts in a round in which it already
// proposed finds its own persisted proposal in the tree and re-broadcasts it rather than
// proposing a different block.
//
// Fetching: a block whose parent is missing waits in a bounded orphan buffer while the
// first missing ancestor is requested from the sender (again on each new proposal, since a
// request may be lost). Requests are answered with up to 16 ancestors, oldest first, from the
// tree or from an archive of the last max_pending_blocks committed blocks. A replica further
// behind than that archive needs state sync from the ledger, which is the node's job.
// Stale Timeouts (a peer still in a round we left) are answered, at most once per peer per
// base timeout, with our own Timeout for that round and/or our highest QC's block, so a
// replica that lost the messages of a round catches up.
#include "minetrace/consensus/engine.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include "minetrace/base/assert.h"
#include "minetrace/crypto/sha256.h"

namespace minetrace::consensus {
namespace {

std::string RoundText(Round r) { return std::to_string(r); }

}  // namespace

Block GenesisBlock(uint64_t epoch, const LedgerRoot& genesis_root) {
  Block b;
  b.header.epoch = epoch;
  b.header.round = 0;
  b.header.height = 0;
  b.header.parent_id = Hash32{};
  b.header.proposer = 0;
  b.header.timestamp_ms = 0;
  b.header.payload_hash = crypto::Sha256({});
  b.header.ledger_root = genesis_root;
  return b;
}

QuorumCertificate GenesisQc(const Block& genesis) {
  QuorumCertificate qc;
  qc.epoch = genesis.header.epoch;
  qc.round = 0;
  qc.block_id = BlockId(genesis.header);
  qc.height = 0;
  return qc;
}

class Engine::Impl {
 public:
  Impl(EngineConfig config, Signer& signer, PayloadValidator& validator, RecoveryData recovery)
      : config_(std::move(config)), signer_(signer), validator_(validator) {
    MT_ASSERT(config_.validators.size() >= 1);
    MT_ASSERT(config_.self < config_.validators.size());
    MT_ASSERT(config_.round_timeout_ms > 0);
    MT_ASSERT(config_.round_timeout_max_ms >= config_.round_timeout_ms);
    MT_ASSERT(config_.timeout_backoff >= 1.0);
    MT_ASSERT(config_.max_pending_blocks >= 1);
    Recover(std::move(recovery));
  }

  std::vector<Action> Step(const Event& event) {
    out_.clear();
    now_ms_ = event.now_ms;
    std::visit([this](const auto& kind) { Handle(kind); }, event.kind);
    std::vector<Action> result;
    result.swap(out_);
    return result;
  }

  Round current_round() const { return current_round_; }
  const SafetyData& safety() const { return safety_; }
  const Block& committed_root() const {
    auto it = blocks_.find(root_id_);
    MT_ASSERT(it != blocks_.end());
    return it->second;
  }

 private:
  // ---------------------------------------------------------------- recovery
  void Recover(RecoveryData recovery) {
    safety_ = std::move(recovery.safety);
    safety_.epoch = config_.validators.epoch;
    root_id_ = BlockId(recovery.committed_root.header);
    root_round_ = recovery.committed_root.header.round;
    if (root_round_ == 0) genesis_id_ = root_id_;
    qcs_[root_id_] = recovery.committed_root_qc;
    if (recovery.committed_root_qc.round > safety_.high_qc.round ||
        (safety_.high_qc.round == 0 && safety_.high_qc.block_id == Hash32{})) {
      safety_.high_qc = recovery.committed_root_qc;
    }
    blocks_.emplace(root_id_, std::move(recovery.committed_root));

    // Re-link the stored uncommitted blocks in round order; blocks that no longer reach the
    // committed root (a branch that lost) are left out.
    std::vector<Block>& rest = recovery.uncommitted;
    std::sort(rest.begin(), rest.end(), [](const Block& a, const Block& b) {
      if (a.header.round != b.header.round) return a.header.round < b.header.round;
      return BlockId(a.header) < BlockId(b.header);
    });
    for (Block& b : rest) {
      if (b.header.round <= root_round_) continue;
      if (blocks_.size() > config_.max_pending_blocks) break;
      if (!blocks_.contains(b.header.parent_id)) continue;
      Hash32 id = BlockId(b.header);
      if (blocks_.contains(id)) continue;
      if (!qcs_.contains(b.parent_qc.block_id)) qcs_[b.parent_qc.block_id] = b.parent_qc;
      if (b.parent_qc.round > safety_.high_qc.round) safety_.high_qc = b.parent_qc;
      if (b.previous_round_tc && (!high_tc_ || b.previous_round_tc->round > high_tc_->round)) {
        high_tc_ = b.previous_round_tc;
      }
      if (b.header.proposer == config_.self) own_proposals_[b.header.round] = id;
      blocks_.emplace(id, std::move(b));
    }

    Round round = safety_.high_qc.round + 1;
    if (high_tc_) round = std::max(round, high_tc_->round + 1);
    round = std::max(round, safety_.last_voted_round);
    round = std::max(round, safety_.highest_timeout_round);
    current_round_ = round;
  }

  // ---------------------------------------------------------------- events
  void Handle(const StartEvent&) {
    started_ = true;
    // A 2-chain may already sit in the recovered tree if the crash came between its QC and
    // the store applying the commit: apply the commit rule to the highest known QC again.
    std::optional<QuorumCertificate> best;
    for (const auto& [id, qc] : qcs_) {
      if (id != root_id_ && blocks_.contains(id) && (!best || qc.round > best->round)) best = qc;
    }
    if (best) TryCommit(*best);
    SetRoundTimer();
    MaybeRequestPayload();
  }

  void Handle(const TimerEvent& e) {
    if (e.round != current_round_) return;  // stale timer
    TimeOutCurrentRound();
  }

  // Gives up on the current round: persists that, then broadcasts a signed Timeout (again,
  // if this round was already given up on and the first broadcast may have been lost).
  void TimeOutCurrentRound() {
    auto mine = my_timeouts_.find(current_round_);
    if (mine != my_timeouts_.end()) {
      // The timer fired again in a round we already gave up on: re-broadcast, because the
      // first broadcast may have been lost.
      out_.push_back(BroadcastAction{mine->second});
      SetRoundTimer();
      return;
    }
    if (current_round_ > safety_.highest_timeout_round) {
      safety_.highest_timeout_round = current_round_;
    }
    out_.push_back(PersistSafetyAction{safety_});
    Timeout t;
    t.epoch = config_.validators.epoch;
    t.round = current_round_;
    t.high_qc = safety_.high_qc;
    t.sender = config_.self;
    t.signature = signer_.Sign(TimeoutDigest(t.epoch, t.round, t.high_qc.round));
    my_timeouts_[t.round] = t;
    while (my_timeouts_.size() > kMaxOwnTimeoutsKept) my_timeouts_.erase(my_timeouts_.begin());
    out_.push_back(BroadcastAction{t});
    SetRoundTimer();
    AddTimeout(t);
  }

  void Handle(const CommitsExecutedEvent&) {
    if (!vote_waiting_for_commits_) return;
    Hash32 id = *vote_waiting_for_commits_;
    vote_waiting_for_commits_.reset();
    TryVote(id);  // checks again that the block is still of the current round
  }

  void Handle(const PayloadReadyEvent& e) {
    if (e.round != current_round_) return;
    if (!payload_requested_ || payload_requested_->first != e.round) return;
    if (Leader(e.round) != config_.self) return;
    if (own_proposals_.contains(e.round)) return;
    const QuorumCertificate parent_qc = payload_requested_->second;
    if (parent_qc.block_id != safety_.high_qc.block_id || !blocks_.contains(parent_qc.block_id)) {
      // The highest QC moved while the ledger built the payload: build on the new one.
      payload_requested_.reset();
      MaybeRequestPayload();
      return;
    }
    Block b;
    b.header.epoch = config_.validators.epoch;
    b.header.round = e.round;
    b.header.height = parent_qc.height + 1;
    b.header.parent_id = parent_qc.block_id;
    b.header.proposer = config_.self;
    b.header.timestamp_ms = now_ms_;
    b.header.payload_hash = crypto::Sha256(e.payload);
    b.header.ledger_root = e.ledger_root;
    b.payload = e.payload;
    b.parent_qc = parent_qc;
    if (parent_qc.round + 1 != e.round) {
      if (!high_tc_ || high_tc_->round + 1 != e.round) return;  // no justification
      b.previous_round_tc = high_tc_;
    }
    Hash32 id = BlockId(b.header);
    b.proposer_signature = signer_.Sign(ProposalDigest(id));
    own_proposals_[e.round] = id;
    proposals_by_round_.emplace(e.round, b);
    if (!InsertBlock(b)) return;
    out_.push_back(BroadcastAction{Proposal{b}});
    AfterInsert(id);
  }

  void Handle(const MessageEvent& e) {
    if (e.from >= config_.validators.size()) {
      Report(e.from, "sender index out of range");
      return;
    }
    if (e.from == config_.self) return;  // our own messages come back only by mistake
    std::visit([this, &e](const auto& m) { OnMessage(e.from, m); }, e.message);
  }

  // ---------------------------------------------------------------- messages
  void OnMessage(ValidatorIndex from, const Proposal& p) {
    const Block& b = p.block;
    if (b.header.proposer != from) {
      Report(from, "proposal relayed by a replica that is not its proposer");
      return;
    }
    if (TooFarAhead(b.header.round)) return;
    if (b.header.round <= root_round_) return;  // old news
    if (auto err = CheckBlock(b)) {
      Report(from, "invalid proposal: " + *err);
      return;
    }
    Hash32 id = BlockId(b.header);
    auto seen = proposals_by_round_.find(b.header.round);
    if (seen != proposals_by_round_.end()) {
      if (BlockId(seen->second.header) != id) {
        PeerMisbehavedAction a;
        a.peer = from;
        a.reason = "equivocation: two proposals for round " + RoundText(b.header.round);
        a.evidence.push_back(Proposal{seen->second});
        a.evidence.push_back(Proposal{b});
        out_.push_back(std::move(a));
        // Not inserted: an equivocating leader must not make replicas store block after
        // block for one round. If the other one is certified, it is fetched by its QC.
        // (The vote-twice mutation needs it, to show that the checker catches it.)
        if (config_.mutation != SafetyMutation::kVoteTwiceInRound) return;
      }
    } else if (b.header.round + 2 >= current_round_) {  // recent rounds only: bounded
      proposals_by_round_.emplace(b.header.round, b);
    }
    ProcessBlock(from, b, /*is_proposal=*/true);
  }

  void OnMessage(ValidatorIndex from, const Vote& v) {
    if (v.voter != from) {
      Report(from, "vote signed by another validator");
      return;
    }
    if (v.epoch != config_.validators.epoch) {
      Report(from, "vote for another epoch");
      return;
    }
    if (TooFarAhead(v.round)) return;
    if (Leader(v.round + 1) != config_.self) return;  // not ours to collect
    if (v.round + 1 < current_round_) return;         // stale
    if (!crypto::VerifySchnorr(Key(v.voter), VoteDigest(v.epoch, v.round, v.block_id, v.height),
                               v.signature)) {
      Report(from, "vote with an invalid signature");
      return;
    }
    AddVote(v);
  }

  void OnMessage(ValidatorIndex from, const Timeout& t) {
    if (t.sender != from) {
      Report(from, "timeout signed by another validator");
      return;
    }
    if (t.epoch != config_.validators.epoch) {
      Report(from, "timeout for another epoch");
      return;
    }
    if (TooFarAhead(t.round)) return;
    if (t.round < current_round_) {
      HelpLaggard(from, t.round);
      return;
    }
    if (t.high_qc.round >= t.round) {
      Report(from, "timeout whose high QC is not below its round");
      return;
    }
    if (!crypto::VerifySchnorr(Key(t.sender), TimeoutDigest(t.epoch, t.round, t.high_qc.round),
                               t.signature)) {
      Report(from, "timeout with an invalid signature");
      return;
    }
    if (auto err = CheckQc(t.high_qc)) {
      Report(from, "timeout with an invalid high QC: " + *err);
      return;
    }
    ProcessQc(from, t.high_qc);
    AddTimeout(t);
  }

  // Answers with the block and up to kMaxBlocksPerResponse - 1 of its ancestors, oldest
  // first, from the tree or the archive of recently committed blocks: a replica that fell
  // behind walks back a batch per round trip instead of a block.
  void OnMessage(ValidatorIndex from, const BlockRequest& r) {
    std::vector<const Block*> chain;  // newest first
    Hash32 cursor = r.block_id;
    while (chain.size() < kMaxBlocksPerResponse) {
      const Block* b = FindBlock(cursor);
      if (b == nullptr || b->header.round == 0) break;
      chain.push_back(b);
      cursor = b->header.parent_id;
    }
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      BlockResponse resp;
      resp.block = **it;
      auto qc = qcs_.find(BlockId((*it)->header));
      if (qc != qcs_.end()) resp.qc = qc->second;
      out_.push_back(SendAction{from, std::move(resp)});
    }
  }

  const Block* FindBlock(const Hash32& id) const {
    auto it = blocks_.find(id);
    if (it != blocks_.end()) return &it->second;
    auto old = archive_.find(id);
    if (old != archive_.end()) return &old->second;
    return nullptr;
  }

  void OnMessage(ValidatorIndex from, const BlockResponse& r) {
    const Block& b = r.block;
    if (b.header.round <= root_round_) return;
    if (TooFarAhead(b.header.round)) return;
    if (auto err = CheckBlock(b)) {
      Report(from, "invalid block in a block response: " + *err);
      return;
    }
    if (r.qc) {
      if (r.qc->block_id != BlockId(b.header) || r.qc->round != b.header.round ||
          r.qc->height != b.header.height) {
        Report(from, "block response with a QC for another block");
        return;
      }
      if (auto err = CheckQc(*r.qc)) {
        Report(from, "block response with an invalid QC: " + *err);
        return;
      }
    }
    ProcessBlock(from, b, /*is_proposal=*/false);
    if (r.qc) ProcessQc(from, *r.qc);
  }

  // ---------------------------------------------------------------- validation
  // Stateless and signature checks of a block; nullopt when valid.
  std::optional<std::string> CheckBlock(const Block& b) const {
    const BlockHeader& h = b.header;
    if (h.epoch != config_.validators.epoch) return "wrong epoch";
    if (h.round == 0) return "round 0 is the genesis round";
    if (h.proposer >= config_.validators.size()) return "proposer index out of range";
    if (h.proposer != Leader(h.round)) return "proposer is not the leader of the round";
    if (h.parent_id != b.parent_qc.block_id) return "parent id differs from the parent QC";
    if (b.parent_qc.round >= h.round) return "parent QC round not below the block round";
    if (h.height != b.parent_qc.height + 1) return "height is not parent height + 1";
    if (crypto::Sha256(b.payload) != h.payload_hash) return "payload hash mismatch";
    if (!crypto::VerifySchnorr(Key(h.proposer), ProposalDigest(BlockId(h)), b.proposer_signature)) {
      return "invalid proposer signature";
    }
    if (b.previous_round_tc) {
      if (b.previous_round_tc->round + 1 != h.round) return "TC is not for the previous round";
      if (auto err = CheckTc(*b.previous_round_tc)) return "invalid TC: " + *err;
    } else if (b.parent_qc.round + 1 != h.round) {
      return "neither a QC nor a TC for the previous round";
    }
    if (auto err = CheckQc(b.parent_qc)) return "invalid parent QC: " + *err;
    return std::nullopt;
  }

  std::optional<std::string> CheckQc(const QuorumCertificate& qc) const {
    if (qc.round == 0) {
      if (!qc.signatures.empty() || qc.height != 0) return "malformed genesis QC";
      // Only the genesis block has a signature-free QC, and only while it is the committed
      // root: after a restart from a later root no round-0 QC is needed or accepted.
      if (!genesis_id_ || qc.block_id != *genesis_id_) return "genesis QC for another block";
      if (qc.epoch != config_.validators.epoch) return "wrong epoch";
      return std::nullopt;
    }
    if (qc.epoch != config_.validators.epoch) return "wrong epoch";
    // A QC equal to one already verified needs no second check.
    if (qc == safety_.high_qc) return std::nullopt;
    auto known = qcs_.find(qc.block_id);
    if (known != qcs_.end() && known->second == qc) return std::nullopt;
    return QcSignatureProblem(config_.validators, qc);
  }

  std::optional<std::string> CheckTc(const TimeoutCertificate& tc) const {
    if (tc.epoch != config_.validators.epoch) return "wrong epoch";
    if (tc.round == 0) return "TC for round 0";
    if (high_tc_ && *high_tc_ == tc) return std::nullopt;
    if (tc.timeouts.size() < config_.validators.quorum()) return "fewer than a quorum";
    if (tc.timeouts.size() > config_.validators.size()) return "more timeouts than validators";
    std::set<ValidatorIndex> signers;
    Round max_high_qc_round = 0;
    for (const TimeoutSignature& s : tc.timeouts) {
      if (s.signer >= config_.validators.size()) return "signer index out of range";
      if (!signers.insert(s.signer).second) return "duplicate signer";
      if (s.high_qc_round >= tc.round) return "high QC round not below the TC round";
      if (!crypto::VerifySchnorr(Key(s.signer), TimeoutDigest(tc.epoch, tc.round, s.high_qc_round),
                                 s.signature)) {
        return "invalid signature";
      }
      max_high_qc_round = std::max(max_high_qc_round, s.high_qc_round);
    }
    if (tc.high_qc.round != max_high_qc_round) return "high QC is not the highest named";
    if (auto err = CheckQc(tc.high_qc)) return "invalid high QC: " + *err;
    return std::nullopt;
  }

  // ---------------------------------------------------------------- block tree
  // A validated block from `from`: process its certificates (round synchronisation), then
  // insert it, or keep it as an orphan and fetch its parent.
  void ProcessBlock(ValidatorIndex from, const Block& b, bool is_proposal) {
    ProcessQc(from, b.parent_qc, /*fetch=*/false);
    if (b.previous_round_tc) ProcessTc(from, *b.previous_round_tc);
    Hash32 id = BlockId(b.header);
    if (blocks_.contains(id)) {
      // Already known (fetched before its proposal arrived): it may still deserve a vote.
      TryVote(id);
      return;
    }
    if (b.header.round <= root_round_) return;
    if (!blocks_.contains(b.header.parent_id)) {
      if (b.parent_qc.round <= root_round_) return;  // parent below the root: a lost branch
      KeepOrphan(id, b);
      // Ask the sender for the first missing ancestor of this orphan chain. A proposal asks
      // again each time (the previous request may have been lost); a fetched block asks only
      // when it starts a new chain, so a batch of answers makes one new request.
      Hash32 missing = b.header.parent_id;
      bool parent_is_orphan = orphans_.contains(missing);
      if (parent_is_orphan && !is_proposal) return;
      for (size_t steps = 0; steps <= orphans_.size(); ++steps) {
        auto o = orphans_.find(missing);
        if (o == orphans_.end()) break;
        if (o->second.parent_qc.round <= root_round_) return;
        missing = o->second.header.parent_id;
      }
      if (orphans_.contains(missing)) return;  // a cycle cannot happen; bounded anyway
      out_.push_back(SendAction{from, BlockRequest{missing}});
      return;
    }
    if (!InsertBlock(b)) return;
    AfterInsert(id);
  }

  // Keeps a block whose parent is missing. When the buffer is full the newest orphan goes:
  // the older ones are the ancestors a lagging replica needs first to reconnect its tree.
  void KeepOrphan(const Hash32& id, const Block& b) {
    if (orphans_.contains(id)) return;
    if (orphans_.size() >= config_.max_pending_blocks) {
      auto newest = orphans_.end();
      for (auto o = orphans_.begin(); o != orphans_.end(); ++o) {
        if (newest == orphans_.end() || o->second.header.round > newest->second.header.round) {
          newest = o;
        }
      }
      if (newest == orphans_.end() || newest->second.header.round <= b.header.round) return;
      orphans_.erase(newest);
    }
    orphans_.emplace(id, b);
  }

  // Adds a block whose parent is in the tree; emits PersistBlockAction. False when full.
  bool InsertBlock(const Block& b) {
    auto parent = blocks_.find(b.header.parent_id);
    MT_ASSERT(parent != blocks_.end());
    // Defence in depth: a block must extend its parent by one height and a later round.
    if (parent->second.header.height + 1 != b.header.height) return false;
    if (parent->second.header.round >= b.header.round) return false;
    if (blocks_.size() > config_.max_pending_blocks) return false;
    Hash32 id = BlockId(b.header);
    auto [it, inserted] = blocks_.emplace(id, b);
    if (!inserted) return false;
    out_.push_back(PersistBlockAction{it->second});
    return true;
  }

  // After `first` joined the tree: adopt the orphans waiting for it, try the commit rule for
  // any QC already known for the new blocks, vote, and propose if we were waiting for a parent.
  void AfterInsert(const Hash32& first) {
    std::deque<Hash32> queue{first};
    size_t budget = config_.max_pending_blocks + 1;  // bounds the loop
    while (!queue.empty() && budget-- > 0) {
      Hash32 id = queue.front();
      queue.pop_front();
      if (!blocks_.contains(id)) continue;  // pruned by a commit earlier in this loop
      std::vector<Hash32> children;
      for (const auto& [oid, ob] : orphans_) {
        if (ob.header.parent_id == id) children.push_back(oid);
      }
      for (const Hash32& cid : children) {
        Block child = std::move(orphans_.at(cid));
        orphans_.erase(cid);
        if (InsertBlock(child)) queue.push_back(cid);
      }
      auto qc = qcs_.find(id);
      if (qc != qcs_.end()) TryCommit(qc->second);
      TryVote(id);
    }
    MaybeRequestPayload();
  }

  // A valid QC: maybe a new highest QC, maybe a commit, maybe a new round. With `fetch`, a
  // block we miss is requested from `from`.
  void ProcessQc(ValidatorIndex from, const QuorumCertificate& qc, bool fetch = true) {
    if (qc.round > safety_.high_qc.round) safety_.high_qc = qc;
    if (qc.round > root_round_ && !qcs_.contains(qc.block_id)) {
      qcs_[qc.block_id] = qc;
      if (blocks_.contains(qc.block_id)) {
        TryCommit(qc);
      } else if (fetch && from != config_.self) {
        out_.push_back(SendAction{from, BlockRequest{qc.block_id}});
      }
    }
    if (qc.round >= current_round_) AdvanceRound(qc.round + 1, /*by_tc=*/false);
  }

  void ProcessTc(ValidatorIndex from, const TimeoutCertificate& tc) {
    ProcessQc(from, tc.high_qc);
    if (!high_tc_ || tc.round > high_tc_->round) high_tc_ = tc;
    if (tc.round >= current_round_) AdvanceRound(tc.round + 1, /*by_tc=*/true);
  }

  // The 2-chain rule: a QC for B' whose parent B is from the round just before commits B.
  void TryCommit(const QuorumCertificate& qc) {
    auto child = blocks_.find(qc.block_id);
    if (child == blocks_.end()) return;
    if (config_.mutation == SafetyMutation::kCommitOnOneChain) {
      Commit(qc.block_id, qc);
      return;
    }
    auto parent = blocks_.find(child->second.header.parent_id);
    if (parent == blocks_.end()) return;
    if (child->second.header.round != parent->second.header.round + 1) return;
    Commit(parent->first, qc);
  }

  void Commit(const Hash32& target, const QuorumCertificate& commit_qc) {
    auto it = blocks_.find(target);
    if (it == blocks_.end() || it->second.header.round <= root_round_) return;
    std::vector<Hash32> chain;  // newest first
    Hash32 cursor = target;
    while (cursor != root_id_) {
      auto b = blocks_.find(cursor);
      if (b == blocks_.end() || b->second.header.round <= root_round_) return;  // not ours
      chain.push_back(cursor);
      if (chain.size() > blocks_.size()) return;  // bounds the walk
      cursor = b->second.header.parent_id;
    }
    CommitAction action;
    action.commit_qc = commit_qc;
    auto child = blocks_.find(commit_qc.block_id);
    MT_ASSERT(child != blocks_.end());  // TryCommit found it
    action.certified_child = child->second;
    for (auto c = chain.rbegin(); c != chain.rend(); ++c) {
      action.blocks.push_back(blocks_.at(*c));
      Archive(blocks_.at(*c));
    }
    auto root_qc = qcs_.find(target);
    QuorumCertificate new_root_qc = root_qc != qcs_.end() ? root_qc->second : commit_qc;
    root_id_ = target;
    root_round_ = it->second.header.round;
    out_.push_back(std::move(action));
    Prune(new_root_qc);
  }

  // Remembers a committed block (bounded, oldest out) to answer lagging replicas.
  void Archive(const Block& b) {
    Hash32 id = BlockId(b.header);
    if (!archive_.emplace(id, b).second) return;
    archive_order_.push_back(id);
    while (archive_order_.size() > config_.max_pending_blocks) {
      archive_.erase(archive_order_.front());
      archive_order_.pop_front();
    }
  }

  // Drops everything that does not descend from the committed root.
  void Prune(const QuorumCertificate& root_qc) {
    std::multimap<Hash32, Hash32> children;
    for (const auto& [id, b] : blocks_) children.emplace(b.header.parent_id, id);
    std::set<Hash32> keep{root_id_};
    std::deque<Hash32> queue{root_id_};
    while (!queue.empty()) {
      Hash32 id = queue.front();
      queue.pop_front();
      auto [lo, hi] = children.equal_range(id);
      for (auto c = lo; c != hi; ++c) {
        if (keep.insert(c->second).second) queue.push_back(c->second);
      }
    }
    std::erase_if(blocks_, [&keep](const auto& kv) { return !keep.contains(kv.first); });
    std::erase_if(qcs_, [this](const auto& kv) {
      return kv.first != root_id_ && kv.second.round <= root_round_;
    });
    // Only the root's own QC: a commit QC certifies a descendant and would mislead a peer
    // that asks for the root with its certificate.
    if (root_qc.block_id == root_id_) qcs_[root_id_] = root_qc;
    std::erase_if(orphans_,
                  [this](const auto& kv) { return kv.second.header.round <= root_round_; });
    std::erase_if(proposals_by_round_, [this](const auto& kv) { return kv.first <= root_round_; });
    std::erase_if(own_proposals_, [this](const auto& kv) { return kv.first <= root_round_; });
    std::erase_if(rejected_, [this](const Hash32& id) { return !blocks_.contains(id); });
  }

  // ---------------------------------------------------------------- voting
  void TryVote(const Hash32& id) {
    auto it = blocks_.find(id);
    if (it == blocks_.end()) return;
    const Block& b = it->second;
    Round r = b.header.round;
    if (r != current_round_) return;
    if (config_.mutation != SafetyMutation::kVoteTwiceInRound) {
      if (r <= safety_.last_voted_round) return;
    } else if (voted_ids_.contains({r, id})) {
      return;  // the mutation votes for two blocks in a round, not twice for one
    }
    if (r <= safety_.highest_timeout_round) return;  // gave up on this round
    bool extends_qc = b.parent_qc.round + 1 == r;
    bool extends_tc = false;
    if (b.previous_round_tc && b.previous_round_tc->round + 1 == r) {
      extends_tc = config_.mutation == SafetyMutation::kIgnoreTcHighQc ||
                   b.parent_qc.round >= b.previous_round_tc->high_qc.round;
    }
    if (!extends_qc && !extends_tc) return;
    auto parent = blocks_.find(b.header.parent_id);
    if (parent == blocks_.end()) return;
    Result<void> ok = validator_.Validate(b, parent->second);
    if (!ok && ok.error().code == ErrorCode::kUnavailable) {
      vote_waiting_for_commits_ = id;
      return;
    }
    if (!ok) {
      if (rejected_.insert(id).second) {
        Report(b.header.proposer, "payload rejected: " + ok.error().message);
      }
      return;
    }
    safety_.last_voted_round = std::max(safety_.last_voted_round, r);
    out_.push_back(PersistSafetyAction{safety_});
    voted_ids_.insert({r, id});
    std::erase_if(voted_ids_, [r](const auto& k) { return k.first + 1 < r; });
    Vote v;
    v.epoch = config_.validators.epoch;
    v.round = r;
    v.block_id = id;
    v.height = b.header.height;
    v.voter = config_.self;
    v.signature = signer_.Sign(VoteDigest(v.epoch, v.round, v.block_id, v.height));
    ValidatorIndex next = Leader(r + 1);
    if (next == config_.self) {
      AddVote(v);
    } else {
      out_.push_back(SendAction{next, v});
    }
  }

  // A verified vote (ours or a peer's) for a round whose next leader we are.
  void AddVote(const Vote& v) {
    if (v.round + 1 < current_round_) return;
    auto& round_votes = votes_[v.round];
    auto [it, inserted] = round_votes.emplace(v.voter, v);
    if (!inserted) {
      if (it->second.block_id != v.block_id) {
        PeerMisbehavedAction a;
        a.peer = v.voter;
        a.reason = "equivocation: two votes for round " + RoundText(v.round);
        a.evidence.push_back(it->second);
        a.evidence.push_back(v);
        out_.push_back(std::move(a));
      }
      return;
    }
    if (qcs_.contains(v.block_id)) return;  // already certified
    QuorumCertificate qc;
    qc.epoch = v.epoch;
    qc.round = v.round;
    qc.block_id = v.block_id;
    qc.height = v.height;
    for (const auto& [voter, vote] : round_votes) {  // ordered by voter: deterministic
      if (vote.block_id == v.block_id && vote.height == v.height) {
        qc.signatures.push_back(ValidatorSignature{voter, vote.signature});
      }
    }
    if (qc.signatures.size() < config_.validators.quorum()) return;
    // A vote is relayed by its voter; ask that voter for the block if we miss it.
    ProcessQc(v.voter, qc);
  }

  // ---------------------------------------------------------------- timeouts
  void AddTimeout(const Timeout& t) {
    if (t.round < current_round_) return;
    auto& round_timeouts = timeouts_[t.round];
    if (!round_timeouts.emplace(t.sender, t).second) return;
    // Amplification (the DiemBFT v4 pacemaker): f+1 timeouts for a later round mean at least
    // one honest replica gave up on it. Join that round and time out too, so replicas left
    // scattered over rounds by a partition or a crash converge on one TC. Safe: timing out
    // only forbids voting in the round.
    if (t.round > current_round_ &&
        round_timeouts.size() >= config_.validators.max_faulty() + 1) {
      AdvanceRound(t.round, /*by_tc=*/true);
      TimeOutCurrentRound();  // adds our own timeout to this round, maybe forming its TC
      return;                 // round_timeouts may be gone: a TC prunes its round
    }
    if (high_tc_ && high_tc_->round >= t.round) return;
    if (round_timeouts.size() < config_.validators.quorum()) return;
    TimeoutCertificate tc;
    tc.epoch = t.epoch;
    tc.round = t.round;
    const QuorumCertificate* best = nullptr;
    for (const auto& [sender, timeout] : round_timeouts) {  // ordered by sender
      tc.timeouts.push_back(TimeoutSignature{sender, timeout.high_qc.round, timeout.signature});
      if (best == nullptr || timeout.high_qc.round > best->round) best = &timeout.high_qc;
    }
    MT_ASSERT(best != nullptr);
    tc.high_qc = *best;
    ProcessTc(t.sender, tc);
  }

  // A peer still times out in a round we have left: give it what made us leave.
  // At most once per peer per base round timeout: two replicas that are both past `round`
  // would otherwise answer each other's stale timeouts forever.
  void HelpLaggard(ValidatorIndex to, Round round) {
    auto last = last_help_ms_.find(to);
    if (last != last_help_ms_.end() && now_ms_ < last->second + config_.round_timeout_ms) return;
    last_help_ms_[to] = now_ms_;
    auto mine = my_timeouts_.find(round);
    if (mine != my_timeouts_.end()) out_.push_back(SendAction{to, mine->second});
    if (safety_.high_qc.round >= round) {
      auto b = blocks_.find(safety_.high_qc.block_id);
      if (b != blocks_.end())
        out_.push_back(SendAction{to, BlockResponse{b->second, safety_.high_qc}});
    }
  }

  // ---------------------------------------------------------------- pacemaker
  void AdvanceRound(Round r, bool by_tc) {
    if (r <= current_round_) return;
    consecutive_timeouts_ = by_tc ? consecutive_timeouts_ + 1 : 0;
    current_round_ = r;
    payload_requested_.reset();
    std::erase_if(votes_, [r](const auto& kv) { return kv.first + 1 < r; });
    std::erase_if(timeouts_, [r](const auto& kv) { return kv.first < r; });
    std::erase_if(proposals_by_round_, [r](const auto& kv) { return kv.first + 2 < r; });
    std::erase_if(own_proposals_, [r](const auto& kv) { return kv.first < r; });
    SetRoundTimer();
    MaybeRequestPayload();
  }

  int64_t RoundTimeoutMs() const {
    double t = static_cast<double>(config_.round_timeout_ms);
    double cap = static_cast<double>(config_.round_timeout_max_ms);
    for (uint64_t i = 0; i < consecutive_timeouts_ && t < cap; ++i) t *= config_.timeout_backoff;
    return static_cast<int64_t>(std::min(t, cap));
  }

  void SetRoundTimer() {
    if (!started_) return;
    out_.push_back(SetTimerAction{current_round_, now_ms_ + RoundTimeoutMs()});
  }

  void MaybeRequestPayload() {
    if (!started_) return;
    Round r = current_round_;
    if (Leader(r) != config_.self) return;
    if (payload_requested_ && payload_requested_->first == r) return;
    auto own = own_proposals_.find(r);
    if (own != own_proposals_.end()) {
      // Restarted after proposing in this round: send the same block again, never another.
      auto b = blocks_.find(own->second);
      if (b != blocks_.end()) {
        out_.push_back(BroadcastAction{Proposal{b->second}});
        payload_requested_ = {r, b->second.parent_qc};
        TryVote(own->second);
      }
      return;
    }
    const QuorumCertificate& qc = safety_.high_qc;
    bool justified = qc.round + 1 == r || (high_tc_ && high_tc_->round + 1 == r);
    if (!justified) return;
    if (!blocks_.contains(qc.block_id)) {
      // Wait until the parent is fetched; ask a replica that certified it.
      for (const ValidatorSignature& s : qc.signatures) {
        if (s.signer != config_.self) {
          out_.push_back(SendAction{s.signer, BlockRequest{qc.block_id}});
          break;
        }
      }
      return;
    }
    payload_requested_ = {r, qc};
    out_.push_back(RequestPayloadAction{r, qc.block_id, qc.height});
  }

  // ---------------------------------------------------------------- helpers
  ValidatorIndex Leader(Round r) const {
    return static_cast<ValidatorIndex>(r % config_.validators.size());
  }
  const crypto::PublicKey& Key(ValidatorIndex i) const { return config_.validators.keys[i]; }
  bool TooFarAhead(Round r) const { return r > current_round_ + config_.max_future_rounds; }
  void Report(ValidatorIndex peer, std::string reason) {
    PeerMisbehavedAction a;
    a.peer = peer;
    a.reason = std::move(reason);
    out_.push_back(std::move(a));
  }

  static constexpr size_t kMaxOwnTimeoutsKept = 4;
  static constexpr size_t kMaxBlocksPerResponse = 16;

  const EngineConfig config_;
  Signer& signer_;
  PayloadValidator& validator_;

  SafetyData safety_;
  Round current_round_ = 1;  // never decreases
  bool started_ = false;
  int64_t now_ms_ = 0;
  uint64_t consecutive_timeouts_ = 0;  // rounds ended by a TC in a row

  // Block tree: the committed root and its descendants; every block's parent is present
  // (except the root's). Size <= max_pending_blocks + 1.
  std::map<Hash32, Block> blocks_;
  Hash32 root_id_{};
  Round root_round_ = 0;
  std::optional<Hash32> genesis_id_;
  std::map<Hash32, QuorumCertificate> qcs_;  // certified blocks above the root (and the root)
  std::optional<TimeoutCertificate> high_tc_;
  std::map<Hash32, Block> orphans_;  // valid blocks waiting for their parent; bounded
  // The last max_pending_blocks committed blocks, to answer BlockRequests of laggards.
  std::map<Hash32, Block> archive_;
  std::deque<Hash32> archive_order_;

  std::map<Round, Block> proposals_by_round_;  // first proposal seen per round
  std::map<Round, Hash32> own_proposals_;
  std::optional<std::pair<Round, QuorumCertificate>> payload_requested_;
  std::set<std::pair<Round, Hash32>> voted_ids_;
  std::set<Hash32> rejected_;
  std::optional<Hash32> vote_waiting_for_commits_;  // a block whose vote waits for execution

  // Rounds kept: votes for [current - 1, current + max_future], timeouts for
  // [current, current + max_future]; each round holds at most one entry per validator.
  std::map<Round, std::map<ValidatorIndex, Vote>> votes_;
  std::map<Round, std::map<ValidatorIndex, Timeout>> timeouts_;
  std::map<Round, Timeout> my_timeouts_;
  std::map<ValidatorIndex, int64_t> last_help_ms_;  // at most one entry per validator

  std::vector<Action> out_;
};

Engine::Engine(EngineConfig config, Signer& signer, PayloadValidator& validator,
               RecoveryData recovery)
    : impl_(std::make_unique<Impl>(std::move(config), signer, validator, std::move(recovery))) {}
Engine::~Engine() = default;

std::vector<Action> Engine::Step(const Event& event) { return impl_->Step(event); }
Round Engine::current_round() const { return impl_->current_round(); }
const SafetyData& Engine::safety() const { return impl_->safety(); }
const Block& Engine::committed_root() const { return impl_->committed_root(); }

}  // namespace minetrace::consensus
