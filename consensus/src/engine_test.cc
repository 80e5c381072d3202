// Engine tests. Goal: show the protocol rules of engine.h on real engines with real
// signatures. Method: four engines driven by hand through an in-test loop that delivers
// Send/Broadcast actions in FIFO order, answers payload requests at once, fires the earliest
// timer when one is due, and records what each engine committed, voted and reported. Keys are
// fixed bytes and signatures use zero aux randomness, so every run is the same.
#include "minetrace/consensus/engine.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <random>

#include "minetrace/crypto/sha256.h"

namespace minetrace::consensus {
namespace {

crypto::PrivateKey KeyFor(size_t i) {
  Hash32 secret{};
  secret.fill(static_cast<uint8_t>(i + 1));
  auto key = crypto::PrivateKey::FromBytes(secret);
  EXPECT_TRUE(key.has_value());
  return *key;
}

class TestSigner : public Signer {
 public:
  explicit TestSigner(crypto::PrivateKey key) : key_(std::move(key)) {}
  crypto::Signature Sign(const Hash32& digest) override { return key_.Sign(digest, Hash32{}); }

 private:
  crypto::PrivateKey key_;
};

class AcceptAll : public PayloadValidator {
 public:
  Result<void> Validate(const Block&, const Block&) override { return {}; }
};

constexpr uint64_t kEpoch = 1;

ValidatorSet MakeValidators(size_t n) {
  ValidatorSet set;
  set.epoch = kEpoch;
  for (size_t i = 0; i < n; ++i) set.keys.push_back(KeyFor(i).public_key());
  return set;
}

Block Genesis() { return GenesisBlock(kEpoch, LedgerRoot{}); }

RecoveryData FreshStart() {
  RecoveryData r;
  r.committed_root = Genesis();
  r.committed_root_qc = GenesisQc(r.committed_root);
  r.safety.epoch = kEpoch;
  r.safety.high_qc = r.committed_root_qc;
  return r;
}

// A round-1 block by validator 1 (the leader of round 1 with n = 4) on top of genesis.
Block SignedRoundOneBlock(std::string_view payload) {
  Block b;
  b.header.epoch = kEpoch;
  b.header.round = 1;
  b.header.height = 1;
  b.header.parent_id = BlockId(Genesis().header);
  b.header.proposer = 1;
  b.header.timestamp_ms = 10;
  b.payload = ToBytes(payload);
  b.header.payload_hash = crypto::Sha256(b.payload);
  b.parent_qc = GenesisQc(Genesis());
  b.proposer_signature = KeyFor(1).Sign(ProposalDigest(BlockId(b.header)), Hash32{});
  return b;
}

// A QC for `b` signed by validators 0, 1 and 2.
QuorumCertificate QcFor(const Block& b) {
  QuorumCertificate qc;
  qc.epoch = kEpoch;
  qc.round = b.header.round;
  qc.block_id = BlockId(b.header);
  qc.height = b.header.height;
  for (ValidatorIndex i = 0; i < 3; ++i) {
    qc.signatures.push_back(ValidatorSignature{
        i, KeyFor(i).Sign(VoteDigest(kEpoch, qc.round, qc.block_id, qc.height), Hash32{})});
  }
  return qc;
}

// A TC for `round` from validators 1, 2 and 3, all naming `high_qc`.
TimeoutCertificate TcFor(Round round, const QuorumCertificate& high_qc) {
  TimeoutCertificate tc;
  tc.epoch = kEpoch;
  tc.round = round;
  tc.high_qc = high_qc;
  for (ValidatorIndex i = 1; i < 4; ++i) {
    tc.timeouts.push_back(TimeoutSignature{
        i, high_qc.round, KeyFor(i).Sign(TimeoutDigest(kEpoch, round, high_qc.round), Hash32{})});
  }
  return tc;
}

// A block of `round` by its leader (round mod 4) on `parent_qc`, with an optional TC.
Block SignedBlock(Round round, const QuorumCertificate& parent_qc,
                  std::optional<TimeoutCertificate> tc) {
  Block b;
  b.header.epoch = kEpoch;
  b.header.round = round;
  b.header.height = parent_qc.height + 1;
  b.header.parent_id = parent_qc.block_id;
  b.header.proposer = static_cast<ValidatorIndex>(round % 4);
  b.payload = ToBytes("r" + std::to_string(round));
  b.header.payload_hash = crypto::Sha256(b.payload);
  b.parent_qc = parent_qc;
  b.previous_round_tc = std::move(tc);
  b.proposer_signature =
      KeyFor(b.header.proposer).Sign(ProposalDigest(BlockId(b.header)), Hash32{});
  return b;
}

struct Node {
  std::unique_ptr<TestSigner> signer;
  AcceptAll validator;
  std::unique_ptr<Engine> engine;
  bool down = false;
  std::optional<SetTimerAction> timer;
  std::vector<Block> committed;
  std::vector<PeerMisbehavedAction> reports;
  std::map<Round, int> votes_sent;  // round -> votes emitted (sent or kept for self)
  std::map<Round, int> timeouts_broadcast;
  // What a store would hold, for restarts.
  SafetyData safety;
  std::map<Hash32, Block> persisted;
  std::optional<QuorumCertificate> last_commit_qc;
};

struct Envelope {
  ValidatorIndex from = 0;
  ValidatorIndex to = 0;
  Message message;
};

class Cluster {
 public:
  explicit Cluster(size_t n, SafetyMutation mutation = SafetyMutation::kNone)
      : n_(n), mutation_(mutation) {
    for (size_t i = 0; i < n; ++i) {
      auto node = std::make_unique<Node>();
      node->signer = std::make_unique<TestSigner>(KeyFor(i));
      node->engine =
          std::make_unique<Engine>(Config(i), *node->signer, node->validator, FreshStart());
      nodes_.push_back(std::move(node));
    }
  }

  EngineConfig Config(size_t i) const {
    EngineConfig c;
    c.validators = MakeValidators(n_);
    c.self = static_cast<ValidatorIndex>(i);
    c.mutation = mutation_;
    return c;
  }

  Node& node(size_t i) { return *nodes_[i]; }

  // A faulty network from a fixed seed: each message is lost with loss_percent, duplicated
  // with dup_percent, and delivered in a random order among the queued ones.
  void SetFaults(uint32_t seed, uint32_t loss_percent, uint32_t dup_percent) {
    rng_.seed(seed);
    loss_percent_ = loss_percent;
    dup_percent_ = dup_percent;
    reorder_ = true;
  }

  void StartAll() {
    for (size_t i = 0; i < n_; ++i) {
      if (!nodes_[i]->down) Deliver(i, StartEvent{});
    }
  }

  // Rebuilds every engine from what it persisted, as after a power cut of the whole cluster.
  void RestartAll() {
    queue_.clear();
    for (size_t i = 0; i < n_; ++i) {
      Node& nd = *nodes_[i];
      RecoveryData r = FreshStart();
      r.safety = nd.safety;
      if (!nd.committed.empty()) {
        r.committed_root = nd.committed.back();
        Hash32 root_id = BlockId(r.committed_root.header);
        const QuorumCertificate& cqc = *nd.last_commit_qc;
        r.committed_root_qc =
            cqc.block_id == root_id ? cqc : nd.persisted.at(cqc.block_id).parent_qc;
      }
      for (const auto& [id, b] : nd.persisted) {
        if (b.header.round > r.committed_root.header.round) r.uncommitted.push_back(b);
      }
      nd.timer.reset();
      nd.engine = std::make_unique<Engine>(Config(i), *nd.signer, nd.validator, std::move(r));
    }
    StartAll();
  }

  void Deliver(size_t i, decltype(Event::kind) kind) {
    Event e;
    e.now_ms = now_ms_;
    e.kind = std::move(kind);
    Execute(i, nodes_[i]->engine->Step(e));
  }

  void Execute(size_t i, const std::vector<Action>& actions) {
    Node& nd = *nodes_[i];
    auto from = static_cast<ValidatorIndex>(i);
    for (const Action& a : actions) {
      if (auto* s = std::get_if<SendAction>(&a)) {
        if (auto* v = std::get_if<Vote>(&s->message)) nd.votes_sent[v->round]++;
        queue_.push_back(Envelope{from, s->to, s->message});
      } else if (auto* b = std::get_if<BroadcastAction>(&a)) {
        if (auto* t = std::get_if<Timeout>(&b->message)) nd.timeouts_broadcast[t->round]++;
        for (size_t j = 0; j < n_; ++j) {
          if (j == i) continue;
          Message m = b->message;
          if (auto* p = std::get_if<Proposal>(&m); p && equivocator_ == i && j % 2 == 0) {
            p->block.payload.push_back('x');
            p->block.header.payload_hash = crypto::Sha256(p->block.payload);
            p->block.proposer_signature =
                KeyFor(i).Sign(ProposalDigest(BlockId(p->block.header)), Hash32{});
          }
          queue_.push_back(Envelope{from, static_cast<ValidatorIndex>(j), m});
        }
      } else if (auto* t = std::get_if<SetTimerAction>(&a)) {
        nd.timer = *t;
      } else if (auto* p = std::get_if<RequestPayloadAction>(&a)) {
        PayloadReadyEvent ready;
        ready.round = p->round;
        ready.payload = ToBytes("payload of round " + std::to_string(p->round));
        pending_.push_back({i, ready});
      } else if (auto* c = std::get_if<CommitAction>(&a)) {
        for (const Block& blk : c->blocks) nd.committed.push_back(blk);
        nd.last_commit_qc = c->commit_qc;
      } else if (auto* m = std::get_if<PeerMisbehavedAction>(&a)) {
        nd.reports.push_back(*m);
      } else if (auto* ps = std::get_if<PersistSafetyAction>(&a)) {
        nd.safety = ps->data;
      } else if (auto* pb = std::get_if<PersistBlockAction>(&a)) {
        nd.persisted[BlockId(pb->block.header)] = pb->block;
      }
    }
    // A vote kept by its own next leader never shows as a Send: count it from safety data.
    for (const Action& a : actions) {
      if (auto* ps = std::get_if<PersistSafetyAction>(&a)) {
        Round r = ps->data.last_voted_round;
        bool sent = false;
        for (const Action& b : actions) {
          if (auto* s = std::get_if<SendAction>(&b))
            sent |= std::holds_alternative<Vote>(s->message);
        }
        if (!sent && r > last_counted_vote_[i]) nd.votes_sent[r]++;
        last_counted_vote_[i] = std::max(last_counted_vote_[i], r);
      }
    }
  }

  // One unit of work: a payload answer, a due timer, a message, or the earliest timer.
  bool StepOnce() {
    if (!pending_.empty()) {
      auto [i, ready] = pending_.front();
      pending_.pop_front();
      Deliver(i, ready);
      return true;
    }
    if (FireTimer(/*only_due=*/true)) return true;
    if (!queue_.empty()) {
      size_t pick = reorder_ ? Rand(static_cast<uint32_t>(std::min<size_t>(queue_.size(), 8))) : 0;
      Envelope env = queue_[pick];
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(pick));
      now_ms_ += 1;
      if (reorder_ && Rand(100) < loss_percent_) return true;
      if (reorder_ && Rand(100) < dup_percent_) queue_.push_back(env);
      if (nodes_[env.from]->down || nodes_[env.to]->down) return true;
      Deliver(env.to, MessageEvent{env.from, std::move(env.message)});
      return true;
    }
    return FireTimer(/*only_due=*/false);
  }

  bool FireTimer(bool only_due) {
    std::optional<size_t> best;
    for (size_t i = 0; i < n_; ++i) {
      const Node& nd = *nodes_[i];
      if (nd.down || !nd.timer) continue;
      if (!best || nd.timer->deadline_ms < nodes_[*best]->timer->deadline_ms) best = i;
    }
    if (!best) return false;
    SetTimerAction t = *nodes_[*best]->timer;
    if (only_due && t.deadline_ms > now_ms_) return false;
    now_ms_ = std::max(now_ms_, t.deadline_ms);
    nodes_[*best]->timer.reset();
    Deliver(*best, TimerEvent{t.round});
    return true;
  }

  template <class Pred>
  bool RunUntil(Pred done, int max_steps) {
    for (int s = 0; s < max_steps; ++s) {
      if (done()) return true;
      if (!StepOnce()) return done();
    }
    return done();
  }

  bool AllUpCommitted(size_t count) {
    for (const auto& nd : nodes_) {
      if (!nd->down && nd->committed.size() < count) return false;
    }
    return true;
  }

  // Agreement: committed sequences are prefixes of one another, heights consecutive.
  void ExpectAgreement() {
    for (size_t i = 0; i < n_; ++i) {
      const auto& a = nodes_[i]->committed;
      for (size_t h = 0; h < a.size(); ++h) EXPECT_EQ(a[h].header.height, h + 1);
      for (size_t j = i + 1; j < n_; ++j) {
        const auto& b = nodes_[j]->committed;
        for (size_t h = 0; h < std::min(a.size(), b.size()); ++h) {
          EXPECT_EQ(BlockId(a[h].header), BlockId(b[h].header)) << "height " << h + 1;
        }
      }
    }
  }

  void ExpectAtMostOneVotePerRound() {
    for (size_t i = 0; i < n_; ++i) {
      for (const auto& [round, count] : nodes_[i]->votes_sent) {
        EXPECT_LE(count, 1) << "node " << i << " round " << round;
      }
    }
  }

  int64_t now_ms() const { return now_ms_; }
  std::optional<size_t> equivocator_;  // proposes a different block to even replicas

  // The state of every replica, printed when a run fails.
  std::string Dump() const {
    std::string out =
        "now_ms=" + std::to_string(now_ms_) + " queued=" + std::to_string(queue_.size()) + "\n";
    for (size_t i = 0; i < n_; ++i) {
      const Node& nd = *nodes_[i];
      const SafetyData& sd = nd.engine->safety();
      out +=
          "node " + std::to_string(i) + (nd.down ? " down" : "") +
          " round=" + std::to_string(nd.engine->current_round()) +
          " committed=" + std::to_string(nd.committed.size()) +
          " voted=" + std::to_string(sd.last_voted_round) +
          " timed_out=" + std::to_string(sd.highest_timeout_round) +
          " high_qc=" + std::to_string(sd.high_qc.round) + " timer=" +
          (nd.timer ? std::to_string(nd.timer->round) + "@" + std::to_string(nd.timer->deadline_ms)
                    : std::string("none")) +
          "\n";
    }
    return out;
  }
  uint32_t Rand(uint32_t bound) { return static_cast<uint32_t>(rng_() % bound); }

 private:
  size_t n_;
  SafetyMutation mutation_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<Envelope> queue_;
  std::deque<std::pair<size_t, PayloadReadyEvent>> pending_;
  std::map<size_t, Round> last_counted_vote_;
  int64_t now_ms_ = 0;
  std::mt19937 rng_{1};  // raw output only: the same on every platform
  bool reorder_ = false;
  uint32_t loss_percent_ = 0;
  uint32_t dup_percent_ = 0;
};

template <class T>
std::vector<size_t> IndicesOf(const std::vector<Action>& actions) {
  std::vector<size_t> out;
  for (size_t i = 0; i < actions.size(); ++i) {
    if (std::holds_alternative<T>(actions[i])) out.push_back(i);
  }
  return out;
}

std::vector<Vote> VotesIn(const std::vector<Action>& actions) {
  std::vector<Vote> out;
  for (const Action& a : actions) {
    if (auto* s = std::get_if<SendAction>(&a)) {
      if (auto* v = std::get_if<Vote>(&s->message)) out.push_back(*v);
    }
  }
  return out;
}

Event At(int64_t now_ms, decltype(Event::kind) kind) {
  Event e;
  e.now_ms = now_ms;
  e.kind = std::move(kind);
  return e;
}

TEST(Engine, GenesisIsRoundZeroHeightZero) {
  Block g = Genesis();
  EXPECT_EQ(g.header.round, 0u);
  EXPECT_EQ(g.header.height, 0u);
  EXPECT_EQ(g.header.parent_id, Hash32{});
  EXPECT_TRUE(g.payload.empty());
  QuorumCertificate qc = GenesisQc(g);
  EXPECT_EQ(qc.round, 0u);
  EXPECT_EQ(qc.block_id, BlockId(g.header));
  EXPECT_TRUE(qc.signatures.empty());
}

TEST(Engine, HappyPathCommitsTheSameBlocks) {
  Cluster c(4);
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllUpCommitted(10); }, 20000));
  c.ExpectAgreement();
  c.ExpectAtMostOneVotePerRound();
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(c.node(i).reports.empty());
    EXPECT_TRUE(c.node(i).timeouts_broadcast.empty()) << "no round should time out";
    // Rounds ended by QCs: committed blocks are from consecutive rounds without TCs.
    for (const Block& b : c.node(i).committed) EXPECT_FALSE(b.previous_round_tc.has_value());
  }
}

TEST(Engine, SilentLeaderLeadsToTimeoutsTcAndProgress) {
  Cluster c(4);
  c.node(1).down = true;  // leader of rounds 1, 5, 9, ...
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllUpCommitted(6); }, 50000));
  c.ExpectAgreement();
  c.ExpectAtMostOneVotePerRound();
  bool saw_tc = false;
  for (const Block& b : c.node(0).committed) saw_tc |= b.previous_round_tc.has_value();
  EXPECT_TRUE(saw_tc) << "a block after the silent round carries its TC";
  EXPECT_GE(c.node(0).timeouts_broadcast.size(), 1u);
  EXPECT_EQ(c.node(0).timeouts_broadcast.count(1), 1u);
}

TEST(Engine, AllReplicasRestartFromPersistedDataAndResume) {
  Cluster c(4);
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllUpCommitted(5); }, 20000));
  size_t before = c.node(0).committed.size();
  c.RestartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllUpCommitted(before + 5); }, 50000));
  c.ExpectAgreement();
  c.ExpectAtMostOneVotePerRound();
}

TEST(Engine, LossyReorderingNetworkKeepsAgreementAndProgress) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Cluster c(4);
    c.SetFaults(seed, /*loss_percent=*/30, /*dup_percent=*/10);
    if (seed % 2) c.node(seed % 4).down = true;
    c.StartAll();
    EXPECT_TRUE(c.RunUntil([&] { return c.AllUpCommitted(20); }, 400000)) << c.Dump();
    c.ExpectAgreement();
    c.ExpectAtMostOneVotePerRound();
    for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(c.node(i).reports.empty());
  }
}

TEST(Engine, RestartOfAllReplicasUnderLossKeepsAgreementAndResumes) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Cluster c(4);
    c.SetFaults(seed, 20, 10);
    if (seed % 2) c.node(seed % 4).down = true;
    c.StartAll();
    ASSERT_TRUE(c.RunUntil([&] { return c.AllUpCommitted(3 + seed % 7); }, 400000)) << c.Dump();
    size_t before = 0;
    for (size_t i = 0; i < 4; ++i) before = std::max(before, c.node(i).committed.size());
    c.RestartAll();
    EXPECT_TRUE(c.RunUntil([&] { return c.AllUpCommitted(before + 10); }, 400000)) << c.Dump();
    c.ExpectAgreement();
    c.ExpectAtMostOneVotePerRound();
    for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(c.node(i).reports.empty());
  }
}

// One replica proposes a different block to the even-numbered replicas (re-signed, so each
// copy is valid alone): agreement must hold, progress continue, and only it be reported.
TEST(Engine, EquivocatingLeaderCannotBreakAgreement) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Cluster c(4);
    c.SetFaults(seed, 10, 10);
    c.equivocator_ = seed % 4;
    c.StartAll();
    EXPECT_TRUE(c.RunUntil([&] { return c.AllUpCommitted(10); }, 400000)) << c.Dump();
    c.ExpectAgreement();
    c.ExpectAtMostOneVotePerRound();
    for (size_t i = 0; i < 4; ++i) {
      for (const auto& r : c.node(i).reports) EXPECT_EQ(r.peer, seed % 4) << r.reason;
    }
  }
}

TEST(Engine, TimeoutIsRebroadcastWhileNoTcForms) {
  Cluster c(4);
  c.node(1).down = true;
  c.node(2).down = true;  // no quorum for QCs: only timeouts happen (and no TCs either)
  c.StartAll();
  c.RunUntil([&] { return c.node(0).timeouts_broadcast.size() >= 1 && c.now_ms() > 5000; }, 1000);
  // With only two live replicas no TC forms: the round stays, and the timeout is re-broadcast.
  EXPECT_EQ(c.node(0).engine->current_round(), 1u);
  EXPECT_GE(c.node(0).timeouts_broadcast[1], 2);
  EXPECT_EQ(c.node(0).engine->safety().highest_timeout_round, 1u);
}

class SingleEngine : public ::testing::Test {
 protected:
  // Validator 0 of four, before any message.
  void Make(RecoveryData recovery, ValidatorIndex self = 0) {
    signer_ = std::make_unique<TestSigner>(KeyFor(self));
    EngineConfig config;
    config.validators = MakeValidators(4);
    config.self = self;
    engine_ = std::make_unique<Engine>(config, *signer_, validator_, std::move(recovery));
    start_actions_ = engine_->Step(At(0, StartEvent{}));
  }
  std::vector<Action> Receive(ValidatorIndex from, Message m) {
    return engine_->Step(At(5, MessageEvent{from, std::move(m)}));
  }

  std::unique_ptr<TestSigner> signer_;
  AcceptAll validator_;
  std::unique_ptr<Engine> engine_;
  std::vector<Action> start_actions_;
};

TEST_F(SingleEngine, StartSetsTheTimerOfRoundOne) {
  Make(FreshStart());
  EXPECT_EQ(engine_->current_round(), 1u);
  ASSERT_EQ(start_actions_.size(), 1u);
  auto* t = std::get_if<SetTimerAction>(&start_actions_[0]);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->round, 1u);
  EXPECT_EQ(t->deadline_ms, 1000);
}

TEST_F(SingleEngine, LeaderRequestsPayloadOnStart) {
  Make(FreshStart(), /*self=*/1);
  auto req = IndicesOf<RequestPayloadAction>(start_actions_);
  ASSERT_EQ(req.size(), 1u);
  auto& r = std::get<RequestPayloadAction>(start_actions_[req[0]]);
  EXPECT_EQ(r.round, 1u);
  EXPECT_EQ(r.parent_id, BlockId(Genesis().header));
  EXPECT_EQ(r.parent_height, 0u);
}

TEST_F(SingleEngine, PersistsBlockThenSafetyThenSendsTheVote) {
  Make(FreshStart());
  std::vector<Action> actions = Receive(1, Proposal{SignedRoundOneBlock("a")});
  auto block = IndicesOf<PersistBlockAction>(actions);
  auto safety = IndicesOf<PersistSafetyAction>(actions);
  auto send = IndicesOf<SendAction>(actions);
  ASSERT_EQ(block.size(), 1u);
  ASSERT_EQ(safety.size(), 1u);
  ASSERT_EQ(send.size(), 1u);
  EXPECT_LT(block[0], safety[0]);
  EXPECT_LT(safety[0], send[0]);
  const auto& s = std::get<SendAction>(actions[send[0]]);
  EXPECT_EQ(s.to, 2u);  // leader of round 2
  ASSERT_TRUE(std::holds_alternative<Vote>(s.message));
  EXPECT_EQ(std::get<Vote>(s.message).round, 1u);
  EXPECT_EQ(std::get<PersistSafetyAction>(actions[safety[0]]).data.last_voted_round, 1u);
}

// A validator that cannot judge a block yet (its ledger root commits in the same step).
class NotYet : public PayloadValidator {
 public:
  Result<void> Validate(const Block&, const Block&) override {
    if (ready) return {};
    return MakeError(ErrorCode::kUnavailable, "ledger root not executed yet");
  }
  bool ready = false;
};

TEST(Engine, VoteWaitsForCommitsExecutedWhenTheValidatorCannotJudgeYet) {
  TestSigner signer(KeyFor(0));
  NotYet not_yet;
  EngineConfig config;
  config.validators = MakeValidators(4);
  Engine engine(config, signer, not_yet, FreshStart());
  engine.Step(At(0, StartEvent{}));
  std::vector<Action> actions =
      engine.Step(At(5, MessageEvent{1, Proposal{SignedRoundOneBlock("a")}}));
  EXPECT_TRUE(IndicesOf<SendAction>(actions).empty());          // no vote yet
  EXPECT_TRUE(IndicesOf<PeerMisbehavedAction>(actions).empty());  // and nobody is blamed
  not_yet.ready = true;
  actions = engine.Step(At(6, CommitsExecutedEvent{}));
  auto send = IndicesOf<SendAction>(actions);
  ASSERT_EQ(send.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Vote>(std::get<SendAction>(actions[send[0]]).message));
  // Asked again, it does not vote twice.
  EXPECT_TRUE(IndicesOf<SendAction>(engine.Step(At(7, CommitsExecutedEvent{}))).empty());
}

TEST_F(SingleEngine, ReportsTwoProposalsForOneRoundAsEquivocation) {
  Make(FreshStart());
  Block a = SignedRoundOneBlock("a");
  Block b = SignedRoundOneBlock("b");
  std::vector<Action> first = Receive(1, Proposal{a});
  EXPECT_EQ(VotesIn(first).size(), 1u);
  std::vector<Action> second = Receive(1, Proposal{b});
  EXPECT_TRUE(VotesIn(second).empty()) << "never two votes in one round";
  auto reports = IndicesOf<PeerMisbehavedAction>(second);
  ASSERT_EQ(reports.size(), 1u);
  const auto& r = std::get<PeerMisbehavedAction>(second[reports[0]]);
  EXPECT_EQ(r.peer, 1u);
  EXPECT_NE(r.reason.find("equivocation"), std::string::npos);
  ASSERT_EQ(r.evidence.size(), 2u);
  EXPECT_EQ(std::get<Proposal>(r.evidence[0]).block, a);
  EXPECT_EQ(std::get<Proposal>(r.evidence[1]).block, b);
}

TEST_F(SingleEngine, VoteTwiceMutationVotesForBothProposals) {
  signer_ = std::make_unique<TestSigner>(KeyFor(0));
  EngineConfig config;
  config.validators = MakeValidators(4);
  config.mutation = SafetyMutation::kVoteTwiceInRound;
  engine_ = std::make_unique<Engine>(config, *signer_, validator_, FreshStart());
  engine_->Step(At(0, StartEvent{}));
  EXPECT_EQ(VotesIn(Receive(1, Proposal{SignedRoundOneBlock("a")})).size(), 1u);
  EXPECT_EQ(VotesIn(Receive(1, Proposal{SignedRoundOneBlock("b")})).size(), 1u);
}

TEST_F(SingleEngine, DropsAVoteWithABadSignature) {
  Make(FreshStart(), /*self=*/2);  // the leader of round 2 collects round-1 votes
  Block a = SignedRoundOneBlock("a");
  Vote v;
  v.epoch = kEpoch;
  v.round = 1;
  v.block_id = BlockId(a.header);
  v.height = 1;
  v.voter = 1;
  v.signature = KeyFor(1).Sign(VoteDigest(kEpoch, 1, v.block_id, 2), Hash32{});  // wrong height
  std::vector<Action> actions = Receive(1, v);
  auto reports = IndicesOf<PeerMisbehavedAction>(actions);
  ASSERT_EQ(reports.size(), 1u);
  const auto& r = std::get<PeerMisbehavedAction>(actions[reports[0]]);
  EXPECT_EQ(r.peer, 1u);
  EXPECT_NE(r.reason.find("signature"), std::string::npos);
  EXPECT_EQ(actions.size(), 1u) << "nothing but the report";
}

TEST_F(SingleEngine, DropsAVoteSignedForAnotherVoter) {
  Make(FreshStart(), /*self=*/2);
  Vote v;
  v.epoch = kEpoch;
  v.round = 1;
  v.voter = 3;
  v.signature = KeyFor(3).Sign(VoteDigest(kEpoch, 1, v.block_id, 0), Hash32{});
  auto actions = Receive(1, v);
  ASSERT_EQ(IndicesOf<PeerMisbehavedAction>(actions).size(), 1u);
}

TEST_F(SingleEngine, ReportsTwoVotesForOneRoundAsEquivocation) {
  Make(FreshStart(), /*self=*/2);
  Vote v1;
  v1.epoch = kEpoch;
  v1.round = 1;
  v1.block_id = BlockId(SignedRoundOneBlock("a").header);
  v1.height = 1;
  v1.voter = 1;
  v1.signature = KeyFor(1).Sign(VoteDigest(kEpoch, 1, v1.block_id, 1), Hash32{});
  Vote v2 = v1;
  v2.block_id = BlockId(SignedRoundOneBlock("b").header);
  v2.signature = KeyFor(1).Sign(VoteDigest(kEpoch, 1, v2.block_id, 1), Hash32{});
  EXPECT_TRUE(IndicesOf<PeerMisbehavedAction>(Receive(1, v1)).empty());
  auto actions = Receive(1, v2);
  auto reports = IndicesOf<PeerMisbehavedAction>(actions);
  ASSERT_EQ(reports.size(), 1u);
  const auto& r = std::get<PeerMisbehavedAction>(actions[reports[0]]);
  EXPECT_NE(r.reason.find("equivocation"), std::string::npos);
  EXPECT_EQ(r.evidence.size(), 2u);
}

TEST_F(SingleEngine, ReportsAProposalFromTheWrongLeader) {
  Make(FreshStart());
  Block b = SignedRoundOneBlock("a");
  b.header.proposer = 3;
  b.proposer_signature = KeyFor(3).Sign(ProposalDigest(BlockId(b.header)), Hash32{});
  auto actions = Receive(3, Proposal{b});
  EXPECT_EQ(IndicesOf<PeerMisbehavedAction>(actions).size(), 1u);
  EXPECT_TRUE(VotesIn(actions).empty());
}

TEST_F(SingleEngine, ReportsAProposalWithAForgedQc) {
  Make(FreshStart());
  Block b = SignedRoundOneBlock("a");
  b.header.round = 5;  // leader of round 5 is 1 as well
  b.parent_qc.round = 4;
  b.parent_qc.signatures = {ValidatorSignature{1, {}}, ValidatorSignature{2, {}},
                            ValidatorSignature{3, {}}};
  b.proposer_signature = KeyFor(1).Sign(ProposalDigest(BlockId(b.header)), Hash32{});
  auto actions = Receive(1, Proposal{b});
  EXPECT_EQ(IndicesOf<PeerMisbehavedAction>(actions).size(), 1u);
  EXPECT_EQ(engine_->current_round(), 1u) << "a forged QC must not move the round";
}

TEST_F(SingleEngine, RestartDoesNotVoteAgainInTheLastVotedRound) {
  RecoveryData r = FreshStart();
  r.safety.last_voted_round = 1;
  Make(std::move(r));
  EXPECT_EQ(engine_->current_round(), 1u);
  auto actions = Receive(1, Proposal{SignedRoundOneBlock("b")});
  EXPECT_TRUE(VotesIn(actions).empty());
  EXPECT_TRUE(IndicesOf<PersistSafetyAction>(actions).empty());
}

TEST_F(SingleEngine, DoesNotVoteInARoundItTimedOutIn) {
  Make(FreshStart());
  auto fired = engine_->Step(At(1000, TimerEvent{1}));
  auto safety = IndicesOf<PersistSafetyAction>(fired);
  auto bcast = IndicesOf<BroadcastAction>(fired);
  ASSERT_EQ(safety.size(), 1u);
  ASSERT_EQ(bcast.size(), 1u);
  EXPECT_LT(safety[0], bcast[0]);
  EXPECT_EQ(engine_->safety().highest_timeout_round, 1u);
  auto actions = Receive(1, Proposal{SignedRoundOneBlock("a")});
  EXPECT_TRUE(VotesIn(actions).empty());
}

// Rounds that end by TC lengthen the next round's timeout by timeout_backoff (1.5).
TEST_F(SingleEngine, TimeoutBacksOffWhileRoundsEndByTc) {
  Make(FreshStart());
  QuorumCertificate genesis_qc = GenesisQc(Genesis());
  int64_t now = 0;
  std::vector<int64_t> durations;
  for (Round r = 1; r <= 3; ++r) {
    now += 10000;
    (void)engine_->Step(At(now, TimerEvent{r}));
    std::vector<Action> last;
    for (ValidatorIndex peer : {ValidatorIndex{2}, ValidatorIndex{3}}) {
      Timeout t;
      t.epoch = kEpoch;
      t.round = r;
      t.high_qc = genesis_qc;
      t.sender = peer;
      t.signature = KeyFor(peer).Sign(TimeoutDigest(kEpoch, r, 0), Hash32{});
      last = engine_->Step(At(now, MessageEvent{peer, t}));
    }
    ASSERT_EQ(engine_->current_round(), r + 1) << "a TC for round " << r;
    auto timers = IndicesOf<SetTimerAction>(last);
    ASSERT_EQ(timers.size(), 1u);
    durations.push_back(std::get<SetTimerAction>(last[timers[0]]).deadline_ms - now);
  }
  EXPECT_EQ(durations, (std::vector<int64_t>{1500, 2250, 3375}));
}

// Round 1 has a block with a QC; round 2 ends by a TC naming that QC. In round 3 a block
// extending the QC of round 1 gets a vote; one extending genesis (below the TC's high QC)
// does not, unless the kIgnoreTcHighQc mutation is on.
TEST_F(SingleEngine, VotesAfterATcOnlyAboveItsHighQc) {
  for (SafetyMutation mutation : {SafetyMutation::kNone, SafetyMutation::kIgnoreTcHighQc}) {
    for (bool extends_high_qc : {true, false}) {
      SCOPED_TRACE(std::to_string(static_cast<int>(mutation)) + " " +
                   std::to_string(extends_high_qc));
      signer_ = std::make_unique<TestSigner>(KeyFor(0));
      EngineConfig config;
      config.validators = MakeValidators(4);
      config.mutation = mutation;
      engine_ = std::make_unique<Engine>(config, *signer_, validator_, FreshStart());
      (void)engine_->Step(At(0, StartEvent{}));
      Block one = SignedRoundOneBlock("a");
      (void)Receive(1, Proposal{one});
      QuorumCertificate qc1 = QcFor(one);
      Block three = SignedBlock(3, extends_high_qc ? qc1 : GenesisQc(Genesis()), TcFor(2, qc1));
      auto actions = Receive(3, Proposal{three});
      EXPECT_EQ(engine_->current_round(), 3u);
      bool expect_vote = extends_high_qc || mutation == SafetyMutation::kIgnoreTcHighQc;
      // Validator 0 leads round 4, so it keeps its own vote: look at the safety data.
      EXPECT_EQ(engine_->safety().last_voted_round, expect_vote ? 3u : 1u);
      EXPECT_TRUE(IndicesOf<PeerMisbehavedAction>(actions).empty());
    }
  }
}

TEST_F(SingleEngine, ReportsATcWhoseHighQcIsNotTheHighestNamed) {
  Make(FreshStart());
  Block one = SignedRoundOneBlock("a");
  (void)Receive(1, Proposal{one});
  TimeoutCertificate tc = TcFor(2, QcFor(one));
  tc.high_qc = GenesisQc(Genesis());  // the timeouts name round 1
  auto actions = Receive(3, Proposal{SignedBlock(3, GenesisQc(Genesis()), tc)});
  EXPECT_EQ(IndicesOf<PeerMisbehavedAction>(actions).size(), 1u);
  EXPECT_EQ(engine_->current_round(), 1u) << "an invalid block moves nothing";
}

// Two-chain: the QC of round 2 commits the block of round 1; with kCommitOnOneChain the QC
// of round 1 already commits it.
TEST_F(SingleEngine, CommitsOnATwoChainOnly) {
  for (SafetyMutation mutation : {SafetyMutation::kNone, SafetyMutation::kCommitOnOneChain}) {
    signer_ = std::make_unique<TestSigner>(KeyFor(0));
    EngineConfig config;
    config.validators = MakeValidators(4);
    config.mutation = mutation;
    engine_ = std::make_unique<Engine>(config, *signer_, validator_, FreshStart());
    (void)engine_->Step(At(0, StartEvent{}));
    Block one = SignedRoundOneBlock("a");
    (void)Receive(1, Proposal{one});
    Block two = SignedBlock(2, QcFor(one), std::nullopt);
    auto after_two = Receive(2, Proposal{two});
    Block three = SignedBlock(3, QcFor(two), std::nullopt);
    auto after_three = Receive(3, Proposal{three});
    auto early = IndicesOf<CommitAction>(after_two);
    auto late = IndicesOf<CommitAction>(after_three);
    if (mutation == SafetyMutation::kNone) {
      EXPECT_TRUE(early.empty());
      ASSERT_EQ(late.size(), 1u);
      const auto& c = std::get<CommitAction>(after_three[late[0]]);
      ASSERT_EQ(c.blocks.size(), 1u);
      EXPECT_EQ(c.blocks[0], one);
      EXPECT_EQ(c.commit_qc, QcFor(two));
    } else {
      ASSERT_EQ(early.size(), 1u);
      EXPECT_EQ(std::get<CommitAction>(after_two[early[0]]).blocks[0], one);
    }
    EXPECT_EQ(engine_->committed_root(), mutation == SafetyMutation::kNone ? one : two);
  }
}

TEST_F(SingleEngine, RestartCommitsATwoChainFoundInTheStoredBlocks) {
  Block one = SignedRoundOneBlock("a");
  Block two = SignedBlock(2, QcFor(one), std::nullopt);
  Block three = SignedBlock(3, QcFor(two), std::nullopt);
  RecoveryData r = FreshStart();
  r.uncommitted = {three, one, two};  // any order
  r.safety.last_voted_round = 3;
  Make(std::move(r));
  EXPECT_EQ(engine_->current_round(), 3u);
  auto commits = IndicesOf<CommitAction>(start_actions_);
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(std::get<CommitAction>(start_actions_[commits[0]]).blocks, std::vector<Block>{one});
  EXPECT_EQ(engine_->committed_root(), one);
}

// A leader that crashed after persisting and broadcasting its proposal, but before its vote
// was persisted, sends the same block again instead of proposing a second one.
TEST_F(SingleEngine, RestartedLeaderResendsItsOwnProposal) {
  Block one = SignedRoundOneBlock("a");
  RecoveryData r = FreshStart();
  r.uncommitted = {one};
  Make(std::move(r), /*self=*/1);
  EXPECT_TRUE(IndicesOf<RequestPayloadAction>(start_actions_).empty());
  auto bcast = IndicesOf<BroadcastAction>(start_actions_);
  ASSERT_EQ(bcast.size(), 1u);
  EXPECT_EQ(std::get<Proposal>(std::get<BroadcastAction>(start_actions_[bcast[0]]).message).block,
            one);
  EXPECT_EQ(VotesIn(start_actions_).size(), 1u);
}

// After a restart from a committed root above genesis, a signature-free round-0 "genesis
// QC" naming some other block must not pass as a certificate (it would let a Byzantine
// leader plant blocks of wrong height in the tree and the store).
TEST_F(SingleEngine, RefusesAForgedGenesisQcAfterRestartFromALaterRoot) {
  Block one = SignedRoundOneBlock("a");
  RecoveryData r;
  r.committed_root = one;
  r.committed_root_qc = QcFor(one);
  r.safety.epoch = kEpoch;
  r.safety.high_qc = r.committed_root_qc;
  Make(std::move(r));
  EXPECT_EQ(engine_->current_round(), 2u);
  QuorumCertificate fake;
  fake.epoch = kEpoch;
  fake.round = 0;
  fake.block_id = BlockId(one.header);
  fake.height = 0;
  Block b = SignedBlock(3, fake, TcFor(2, QcFor(one)));
  auto actions = Receive(3, Proposal{b});
  EXPECT_FALSE(IndicesOf<PeerMisbehavedAction>(actions).empty());
  EXPECT_TRUE(IndicesOf<PersistBlockAction>(actions).empty());
  EXPECT_TRUE(VotesIn(actions).empty());
}

TEST_F(SingleEngine, AnswersABlockRequestFromItsTree) {
  Make(FreshStart());
  Block a = SignedRoundOneBlock("a");
  (void)Receive(1, Proposal{a});
  auto actions = Receive(3, BlockRequest{BlockId(a.header)});
  ASSERT_EQ(actions.size(), 1u);
  const auto& s = std::get<SendAction>(actions[0]);
  EXPECT_EQ(s.to, 3u);
  EXPECT_EQ(std::get<BlockResponse>(s.message).block, a);
}

}  // namespace
}  // namespace minetrace::consensus
