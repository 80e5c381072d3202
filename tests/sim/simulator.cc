#include "simulator.h"

#include <algorithm>
#include <map>
#include <memory>
#include <sstream>
#include <utility>
#include <variant>

#include "checker.h"
#include "minetrace/base/assert.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/crypto/sha256.h"
#include "rng.h"

namespace minetrace::sim {

using consensus::Action;
using consensus::Block;
using consensus::Engine;
using consensus::Message;
using consensus::QuorumCertificate;
using consensus::Round;
using consensus::ValidatorIndex;

// ---------------------------------------------------------------------------------------
// Names

const std::vector<FaultName>& FaultNames() {
  static const std::vector<FaultName> kNames = {
      {kLoss, "loss"},         {kDelay, "delay"},           {kDuplicate, "dup"},
      {kReorder, "reorder"},   {kPartition, "partition"},   {kCrash, "crash"},
      {kClockSkew, "skew"},    {kEquivocate, "equivocate"}, {kDoubleVote, "doublevote"},
      {kBadSignature, "badsig"}, {kWithholdVotes, "withhold"}, {kReplay, "replay"},
      {kTwins, "twins"},
  };
  return kNames;
}

std::optional<FaultSet> ParseFaults(std::string_view text) {
  if (text == "all") return kAllFaults;
  if (text == "none" || text.empty()) return FaultSet{0};
  FaultSet set = 0;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    bool found = false;
    for (const auto& f : FaultNames()) {
      if (f.name == item) {
        set |= f.fault;
        found = true;
      }
    }
    if (!found) return std::nullopt;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return set;
}

std::string FaultsToString(FaultSet faults) {
  if (faults == kAllFaults) return "all";
  if (faults == 0) return "none";
  std::string out;
  for (const auto& f : FaultNames()) {
    if ((faults & f.fault) == 0) continue;
    if (!out.empty()) out += ',';
    out += f.name;
  }
  return out;
}

std::optional<consensus::SafetyMutation> ParseMutation(std::string_view text) {
  using consensus::SafetyMutation;
  for (auto m : {SafetyMutation::kNone, SafetyMutation::kVoteTwiceInRound,
                 SafetyMutation::kCommitOnOneChain, SafetyMutation::kIgnoreTcHighQc}) {
    if (MutationName(m) == text) return m;
  }
  return std::nullopt;
}

std::string_view MutationName(consensus::SafetyMutation mutation) {
  switch (mutation) {
    case consensus::SafetyMutation::kNone:
      return "none";
    case consensus::SafetyMutation::kVoteTwiceInRound:
      return "vote-twice";
    case consensus::SafetyMutation::kCommitOnOneChain:
      return "one-chain";
    case consensus::SafetyMutation::kIgnoreTcHighQc:
      return "ignore-tc";
  }
  return "?";
}

std::string ReplayCommand(const SimOptions& o) {
  std::string cmd = "tests/sim/sim_soak --first-seed " + std::to_string(o.seed) +
                    " --seeds 1 --steps " + std::to_string(o.steps) + " --faults " +
                    FaultsToString(o.faults);
  if (o.mutation != consensus::SafetyMutation::kNone) {
    cmd += " --mutation " + std::string(MutationName(o.mutation));
  }
  if (o.replicas != 0) cmd += " --replicas " + std::to_string(o.replicas);
  if (o.crash_all_at_once) cmd += " --crash-all";
  if (!o.check_liveness) cmd += " --no-liveness";
  return cmd;
}

std::string SimResult::Summary() const {
  std::ostringstream out;
  out << (ok ? "ok" : "FAILED") << " n=" << replicas << " byzantine=" << byzantine
      << " events=" << events << " virtual_s=" << virtual_ms / 1000
      << " height=" << committed_height << " crashes=" << crashes
      << " trace=" << ToHex(ByteView(trace_hash.data(), 8));
  for (const auto& v : violations) out << "\n  violation: " << v;
  if (!ok) {
    out << "\n  stats:";
    for (const auto& [k, v] : stats) out << " " << k << "=" << v;
  }
  return out.str();
}

namespace {

constexpr uint64_t kEpoch = 1;
constexpr size_t kReplayHistory = 64;
constexpr size_t kMaxSeenRounds = 256;
constexpr uint64_t kLivenessEventCap = 100'000;

// ---------------------------------------------------------------------------------------
// Trace: a canonical, length-prefixed log fed straight into SHA-256.

class Trace {
 public:
  void U64(uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
    hasher_.Update(ByteView(b, 8));
  }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Raw(ByteView b) {
    U64(b.size());
    hasher_.Update(b);
  }
  void Str(std::string_view s) { Raw(AsBytes(s)); }
  void Qc(const QuorumCertificate& qc) {
    U64(qc.epoch);
    U64(qc.round);
    Raw(qc.block_id);
    U64(qc.height);
    U64(qc.signatures.size());
    for (const auto& s : qc.signatures) {
      U64(s.signer);
      Raw(s.signature);
    }
  }
  void Blk(const Block& b) {
    Raw(consensus::HeaderSignBytes(b.header));
    Raw(b.payload);
    Qc(b.parent_qc);
    U64(b.previous_round_tc.has_value());
    if (b.previous_round_tc) {
      const auto& tc = *b.previous_round_tc;
      U64(tc.epoch);
      U64(tc.round);
      U64(tc.timeouts.size());
      for (const auto& t : tc.timeouts) {
        U64(t.signer);
        U64(t.high_qc_round);
        Raw(t.signature);
      }
      Qc(tc.high_qc);
    }
    Raw(b.proposer_signature);
  }
  void Msg(const Message& m) {
    U64(m.index());
    std::visit(
        [this](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, consensus::Proposal>) {
            Blk(x.block);
          } else if constexpr (std::is_same_v<T, consensus::Vote>) {
            U64(x.epoch);
            U64(x.round);
            Raw(x.block_id);
            U64(x.height);
            U64(x.voter);
            Raw(x.signature);
          } else if constexpr (std::is_same_v<T, consensus::Timeout>) {
            U64(x.epoch);
            U64(x.round);
            Qc(x.high_qc);
            U64(x.sender);
            Raw(x.signature);
          } else if constexpr (std::is_same_v<T, consensus::BlockRequest>) {
            Raw(x.block_id);
          } else {
            Blk(x.block);
            U64(x.qc.has_value());
            if (x.qc) Qc(*x.qc);
          }
        },
        m);
  }
  void Act(const Action& a) {
    U64(100 + a.index());
    std::visit(
        [this](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, consensus::PersistSafetyAction>) {
            U64(x.data.epoch);
            U64(x.data.last_voted_round);
            U64(x.data.highest_timeout_round);
            Qc(x.data.high_qc);
          } else if constexpr (std::is_same_v<T, consensus::PersistBlockAction>) {
            Blk(x.block);
          } else if constexpr (std::is_same_v<T, consensus::SendAction>) {
            U64(x.to);
            Msg(x.message);
          } else if constexpr (std::is_same_v<T, consensus::BroadcastAction>) {
            Msg(x.message);
          } else if constexpr (std::is_same_v<T, consensus::SetTimerAction>) {
            U64(x.round);
            I64(x.deadline_ms);
          } else if constexpr (std::is_same_v<T, consensus::RequestPayloadAction>) {
            U64(x.round);
            Raw(x.parent_id);
            U64(x.parent_height);
          } else if constexpr (std::is_same_v<T, consensus::CommitAction>) {
            U64(x.blocks.size());
            for (const auto& b : x.blocks) Blk(b);
            Qc(x.commit_qc);
          } else {
            U64(x.peer);
            Str(x.reason);
            U64(x.evidence.size());
          }
        },
        a);
  }
  Hash32 Finish() { return hasher_.Finish(); }

 private:
  crypto::Sha256Hasher hasher_;
};

constexpr const char* kActionNames[] = {"persist_safety", "persist_block", "send", "broadcast",
                                       "set_timer", "request_payload", "commit", "misbehaved"};
constexpr const char* kMessageNames[] = {"proposal", "vote", "timeout", "block_request",
                                         "block_response"};

std::string DeliveredName(const decltype(consensus::Event::kind)& kind) {
  if (const auto* m = std::get_if<consensus::MessageEvent>(&kind)) {
    return std::string("in.") + kMessageNames[m->message.index()];
  }
  if (std::holds_alternative<consensus::TimerEvent>(kind)) return "in.timer";
  if (std::holds_alternative<consensus::PayloadReadyEvent>(kind)) return "in.payload";
  if (std::holds_alternative<consensus::CommitsExecutedEvent>(kind)) return "in.executed";
  return "in.start";
}

std::string Describe(const Message& m) {
  std::ostringstream o;
  std::visit(
      [&o](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, consensus::Proposal>) {
          o << "proposal r" << x.block.header.round << " h" << x.block.header.height << " "
            << ToHex(ByteView(consensus::BlockId(x.block.header).data(), 4)) << " qc r"
            << x.block.parent_qc.round;
          if (x.block.previous_round_tc) o << " tc r" << x.block.previous_round_tc->round;
        } else if constexpr (std::is_same_v<T, consensus::Vote>) {
          o << "vote r" << x.round << " " << ToHex(ByteView(x.block_id.data(), 4)) << " by "
            << x.voter;
        } else if constexpr (std::is_same_v<T, consensus::Timeout>) {
          o << "timeout r" << x.round << " high_qc r" << x.high_qc.round << " by " << x.sender;
        } else if constexpr (std::is_same_v<T, consensus::BlockRequest>) {
          o << "block_request " << ToHex(ByteView(x.block_id.data(), 4));
        } else {
          o << "block_response r" << x.block.header.round << " "
            << ToHex(ByteView(consensus::BlockId(x.block.header).data(), 4))
            << (x.qc ? " +qc" : "");
        }
      },
      m);
  return o.str();
}

std::string Describe(const Action& a) {
  std::ostringstream o;
  std::visit(
      [&o](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, consensus::PersistSafetyAction>) {
          o << "persist_safety voted r" << x.data.last_voted_round << " timeout r"
            << x.data.highest_timeout_round << " high_qc r" << x.data.high_qc.round;
        } else if constexpr (std::is_same_v<T, consensus::PersistBlockAction>) {
          o << "persist_block r" << x.block.header.round;
        } else if constexpr (std::is_same_v<T, consensus::SendAction>) {
          o << "send to " << x.to << ": " << Describe(x.message);
        } else if constexpr (std::is_same_v<T, consensus::BroadcastAction>) {
          o << "broadcast: " << Describe(x.message);
        } else if constexpr (std::is_same_v<T, consensus::SetTimerAction>) {
          o << "set_timer r" << x.round << " at " << x.deadline_ms;
        } else if constexpr (std::is_same_v<T, consensus::RequestPayloadAction>) {
          o << "request_payload r" << x.round;
        } else if constexpr (std::is_same_v<T, consensus::CommitAction>) {
          o << "commit up to h" << (x.blocks.empty() ? 0 : x.blocks.back().header.height);
        } else {
          o << "misbehaved " << x.peer << ": " << x.reason;
        }
      },
      a);
  return o.str();
}

// ---------------------------------------------------------------------------------------
// Injected behaviour

class KeySigner final : public consensus::Signer {
 public:
  explicit KeySigner(crypto::PrivateKey key) : key_(std::move(key)) {}
  crypto::Signature Sign(const Hash32& digest) override { return key_.Sign(digest, Hash32{}); }

 private:
  crypto::PrivateKey key_;
};

// Accepts exactly the payloads the simulator generated, on top of a parent with the same
// ledger root (the simulated ledger never changes its root).
class SimPayloadValidator final : public consensus::PayloadValidator {
 public:
  // `world` must outlive the validator.
  explicit SimPayloadValidator(const World& world) : world_(world) {}
  Result<void> Validate(const Block& block, const Block& parent) override {
    if (!world_.payloads.contains(block.payload)) {
      return MakeError(ErrorCode::kInvalidArgument, "payload not produced by the generator");
    }
    if (!(block.header.ledger_root == parent.header.ledger_root)) {
      return MakeError(ErrorCode::kInvalidArgument, "ledger root differs from the parent's");
    }
    return {};
  }

 private:
  const World& world_;
};

crypto::PrivateKey KeyFor(ValidatorIndex index) {
  for (uint32_t attempt = 0;; ++attempt) {
    const std::string label = "minetrace/sim/key/" + std::to_string(index) + "/" +
                              std::to_string(attempt);
    const Hash32 secret = crypto::Sha256(AsBytes(label));
    auto key = crypto::PrivateKey::FromBytes(secret);
    if (key) return *key;
    MT_ASSERT(attempt < 8);
  }
}

// ---------------------------------------------------------------------------------------
// Replicas, the store, the event queue

enum class Role { kHonest, kEquivocate, kDoubleVote, kBadSignature, kWithholdVotes, kReplay,
                  kTwin };

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kHonest: return "honest";
    case Role::kEquivocate: return "equivocate";
    case Role::kDoubleVote: return "doublevote";
    case Role::kBadSignature: return "badsig";
    case Role::kWithholdVotes: return "withhold";
    case Role::kReplay: return "replay";
    case Role::kTwin: return "twin";
  }
  return "?";
}

// What a replica's disk holds: the last persisted safety data, every persisted block and
// the highest block it executed a commit for.
struct Store {
  std::optional<consensus::SafetyData> safety;
  std::map<Hash32, Block> blocks;
  std::optional<Block> committed_root;
  QuorumCertificate commit_qc;  // the QC that committed committed_root
  // The committed chain, as the node's ledger keeps it (durable, never pruned here).
  std::map<uint64_t, Block> committed_by_height;
  std::map<Hash32, uint64_t> committed_height_of;
};

struct Node {
  size_t id = 0;
  ValidatorIndex index = 0;
  Role role = Role::kHonest;
  int twin_side = -1;  // 0 or 1 for the two twins, -1 otherwise
  std::unique_ptr<KeySigner> signer;
  std::unique_ptr<Engine> engine;  // null while crashed
  uint64_t incarnation = 0;        // bumped by a crash: pending events of the old one die
  uint64_t timer_generation = 0;   // only the latest SetTimer fires
  int64_t skew_ms = 0;
  Store store;
  // Byzantine memory, bounded.
  std::vector<std::pair<ValidatorIndex, Message>> history;  // for replays
  std::map<Round, std::vector<Block>> seen_proposals;
  std::map<Round, QuorumCertificate> seen_qcs;

  bool honest() const { return role == Role::kHonest; }
  bool up() const { return engine != nullptr; }
};

struct Deliver {
  ValidatorIndex from = 0;
  Message message;
};
struct FireTimer {
  Round round = 0;
  uint64_t generation = 0;
};
struct ReadyPayload {
  Round round = 0;
  Bytes payload;
  consensus::LedgerRoot root;
};
struct Restart {};
using Work = std::variant<Deliver, FireTimer, ReadyPayload, Restart>;

struct Pending {
  size_t node = 0;
  uint64_t incarnation = 0;
  Work work;
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& options)
      : options_(options), rng_(options.seed), checker_(world_) {}

  SimResult Run();

 private:
  bool Has(Fault f) const { return (faults_ & f) != 0; }
  void Setup();
  void StartNode(Node& node, bool restart);
  void Schedule(int64_t at_ms, size_t node, Work work);
  void ProcessOne();
  void Execute(Node& node, std::vector<Action>& actions, size_t limit);
  void Crash(Node& node, int64_t restart_after_ms);
  void Heal();
  void InjectFaults();
  consensus::RecoveryData Recovery(const Node& node) const;

  // Network.
  void Route(Node& from, std::optional<ValidatorIndex> to, const Message& message);
  void Transmit(const Node& from, ValidatorIndex to, const Message& message);
  bool Connected(ValidatorIndex a, ValidatorIndex b) const;
  int64_t Latency();
  void RememberBlock(const Block& block) { world_.blocks.try_emplace(BlockIdOf(block), block); }
  static Hash32 BlockIdOf(const Block& b) { return consensus::BlockId(b.header); }

  // Byzantine behaviour.
  std::vector<std::pair<std::optional<ValidatorIndex>, Message>> Mutate(
      Node& node, std::optional<ValidatorIndex> to, const Message& message);
  void Observe(Node& node, ValidatorIndex from, const Message& message);
  bool ServeFromLedger(Node& node, ValidatorIndex from, const Message& message);
  crypto::Signature Corrupt(crypto::Signature sig) {
    sig[rng_.Below(sig.size())] ^= static_cast<uint8_t>(1 + rng_.Below(255));
    return sig;
  }
  Bytes NewPayload(const Node& node, Round round);

  const SimOptions options_;
  Rng rng_;
  World world_;
  Checker checker_;
  Trace trace_;
  SimPayloadValidator validator_{world_};
  FaultSet faults_ = 0;
  size_t n_ = 0;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::pair<int64_t, uint64_t>, Pending> queue_;
  uint64_t sequence_ = 0;
  int64_t now_ms_ = 0;
  uint64_t events_ = 0;
  uint64_t payload_counter_ = 0;
  uint64_t crashes_ = 0;
  bool healed_ = false;
  std::set<ValidatorIndex> faulty_;         // Byzantine indices (at most f)
  std::optional<ValidatorIndex> twin_index_;
  std::map<ValidatorIndex, int> twin_side_of_;  // side of each other index, with twins
  std::map<ValidatorIndex, int> partition_;     // group of each index while partitioned
  // Fault parameters chosen by the seed.
  uint64_t loss_ppm_ = 0;
  uint64_t dup_ppm_ = 0;
  uint64_t delay_ppm_ = 0;
  uint64_t crash_ppm_ = 0;
  uint64_t crash_all_step_ = UINT64_MAX;
  std::map<std::string, uint64_t> stats_;
};

void Simulation::Schedule(int64_t at_ms, size_t node, Work work) {
  at_ms = std::max(at_ms, now_ms_);
  queue_.emplace(std::pair{at_ms, sequence_++},
                 Pending{node, nodes_[node]->incarnation, std::move(work)});
}

void Simulation::Setup() {
  faults_ = options_.faults;
  n_ = options_.replicas != 0 ? options_.replicas : static_cast<size_t>(rng_.Range(4, 7));
  MT_ASSERT(n_ >= 1);
  std::vector<crypto::PrivateKey> keys;
  world_.validators.epoch = kEpoch;
  for (ValidatorIndex i = 0; i < n_; ++i) {
    keys.push_back(KeyFor(i));
    world_.validators.keys.push_back(keys.back().public_key());
  }
  world_.genesis = consensus::GenesisBlock(kEpoch, consensus::LedgerRoot{});
  RememberBlock(world_.genesis);
  const size_t f = world_.validators.max_faulty();

  // Byzantine roles: up to f indices, each with one enabled Byzantine kind.
  std::vector<Role> kinds;
  const std::pair<Fault, Role> byz[] = {
      {kEquivocate, Role::kEquivocate},       {kDoubleVote, Role::kDoubleVote},
      {kBadSignature, Role::kBadSignature},   {kWithholdVotes, Role::kWithholdVotes},
      {kReplay, Role::kReplay},               {kTwins, Role::kTwin}};
  for (const auto& [fault, role] : byz) {
    if (Has(fault)) kinds.push_back(role);
  }
  std::map<ValidatorIndex, Role> roles;
  if (!kinds.empty() && f > 0) {
    // At most one pair of twins per run; the other kinds may repeat.
    size_t count = static_cast<size_t>(rng_.Range(1, static_cast<int64_t>(f)));
    if (kinds.size() == 1 && kinds[0] == Role::kTwin) count = 1;
    size_t k = rng_.Below(kinds.size());
    bool twin_used = false;
    for (size_t attempt = 0; roles.size() < count && attempt < 1000; ++attempt) {
      const auto index = static_cast<ValidatorIndex>(rng_.Below(n_));
      if (roles.contains(index)) continue;
      Role role = kinds[k++ % kinds.size()];
      if (role == Role::kTwin && twin_used) role = kinds[k++ % kinds.size()];
      if (role == Role::kTwin && twin_used) continue;
      if (role == Role::kTwin) twin_used = true;
      roles[index] = role;
      faulty_.insert(index);
    }
    MT_ASSERT(roles.size() == count);
  }
  for (ValidatorIndex i = 0; i < n_; ++i) {
    auto it = roles.find(i);
    const Role role = it == roles.end() ? Role::kHonest : it->second;
    const int copies = role == Role::kTwin ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      auto node = std::make_unique<Node>();
      node->id = nodes_.size();
      node->index = i;
      node->role = role;
      node->twin_side = role == Role::kTwin ? c : -1;
      node->signer = std::make_unique<KeySigner>(keys[i]);
      if (Has(kClockSkew)) node->skew_ms = rng_.Range(-3000, 3000);
      nodes_.push_back(std::move(node));
    }
    if (role == Role::kTwin) twin_index_ = i;
  }
  if (twin_index_) {
    for (ValidatorIndex i = 0; i < n_; ++i) {
      if (i != *twin_index_) twin_side_of_[i] = static_cast<int>(rng_.Below(2));
    }
  }
  if (Has(kLoss)) loss_ppm_ = static_cast<uint64_t>(rng_.Range(10'000, 150'000));
  if (Has(kDuplicate)) dup_ppm_ = static_cast<uint64_t>(rng_.Range(10'000, 200'000));
  if (Has(kDelay)) delay_ppm_ = static_cast<uint64_t>(rng_.Range(10'000, 100'000));
  if (Has(kCrash)) {
    crash_ppm_ = static_cast<uint64_t>(rng_.Range(300, 2'000));
    if (options_.crash_all_at_once || rng_.ChancePpm(250'000)) {
      crash_all_step_ = rng_.Below(options_.steps);
    }
  }
  trace_.U64(options_.seed);
  trace_.U64(n_);
  for (const auto& node : nodes_) {
    if (!node->honest()) {
      ++stats_["byzantine." + std::to_string(node->index) + "." + std::string(RoleName(node->role))];
    }
    trace_.U64(node->index);
    trace_.Str(RoleName(node->role));
    trace_.I64(node->skew_ms);
  }
  for (auto& node : nodes_) StartNode(*node, false);
}

consensus::RecoveryData Simulation::Recovery(const Node& node) const {
  consensus::RecoveryData r;
  const Store& s = node.store;
  r.committed_root = s.committed_root ? *s.committed_root : world_.genesis;
  const Hash32 root_id = BlockIdOf(r.committed_root);
  r.committed_root_qc = consensus::GenesisQc(world_.genesis);
  if (s.committed_root) {
    // The QC certifying the root is the parent QC of a stored child; the commit QC (which
    // certifies a descendant) is the fallback.
    r.committed_root_qc = s.commit_qc;
    for (const auto& [id, b] : s.blocks) {
      if (b.parent_qc.block_id == root_id) {
        r.committed_root_qc = b.parent_qc;
        break;
      }
    }
  }
  if (s.safety) {
    r.safety = *s.safety;
  } else {
    r.safety.epoch = kEpoch;
    r.safety.high_qc = consensus::GenesisQc(world_.genesis);
  }
  for (const auto& [id, b] : s.blocks) {
    if (b.header.height > r.committed_root.header.height) r.uncommitted.push_back(b);
  }
  return r;
}

void Simulation::StartNode(Node& node, bool restart) {
  consensus::EngineConfig config;
  config.validators = world_.validators;
  config.self = node.index;
  config.round_timeout_ms = 500;
  config.round_timeout_max_ms = 8000;
  config.timeout_backoff = 1.5;
  config.mutation = options_.mutation;
  node.engine = std::make_unique<Engine>(std::move(config), *node.signer, validator_,
                                         Recovery(node));
  trace_.U64(restart ? 2 : 1);
  if (options_.log != nullptr) {
    *options_.log << now_ms_ << " ms node " << node.id << (restart ? " RESTART" : " START")
                  << "\n";
  }
  trace_.U64(node.id);
  consensus::Event ev{now_ms_ + node.skew_ms, consensus::StartEvent{}};
  auto actions = node.engine->Step(ev);
  Execute(node, actions, actions.size());
}

void Simulation::Crash(Node& node, int64_t restart_after_ms) {
  MT_ASSERT(node.honest());
  MT_ASSERT(node.up());
  node.engine.reset();
  ++node.incarnation;
  if (options_.log != nullptr) *options_.log << now_ms_ << " ms node " << node.id << " CRASH\n";
  ++crashes_;
  trace_.U64(3);
  trace_.U64(node.id);
  Schedule(now_ms_ + restart_after_ms, node.id, Restart{});
}

bool Simulation::Connected(ValidatorIndex a, ValidatorIndex b) const {
  if (partition_.empty()) return true;
  return partition_.at(a) == partition_.at(b);
}

int64_t Simulation::Latency() {
  int64_t d = rng_.Range(1, 20);
  if (healed_) return d;
  if (Has(kReorder)) d = rng_.Range(1, 400);
  if (delay_ppm_ != 0 && rng_.ChancePpm(delay_ppm_)) d += rng_.Range(300, 5000);
  return d;
}

// One copy of `message` from `from` towards validator `to`, through the network faults and
// the Twins wiring.
void Simulation::Transmit(const Node& from, ValidatorIndex to, const Message& message) {
  if (to >= n_ || to == from.index) return;
  if (!Connected(from.index, to)) return;
  if (!healed_ && loss_ppm_ != 0 && rng_.ChancePpm(loss_ppm_)) return;
  const int copies = (!healed_ && dup_ppm_ != 0 && rng_.ChancePpm(dup_ppm_)) ? 2 : 1;
  for (const auto& target : nodes_) {
    if (target->index != to) continue;
    // A twin talks only to its side; a replica's messages to the twin index reach the twin
    // of its side.
    if (from.twin_side >= 0 && twin_side_of_.at(to) != from.twin_side) continue;
    if (target->twin_side >= 0 && twin_side_of_.at(from.index) != target->twin_side) continue;
    for (int c = 0; c < copies; ++c) {
      Schedule(now_ms_ + Latency(), target->id, Deliver{from.index, message});
    }
  }
}

void Simulation::Route(Node& from, std::optional<ValidatorIndex> to, const Message& message) {
  if (const auto* p = std::get_if<consensus::Proposal>(&message)) RememberBlock(p->block);
  if (const auto* r = std::get_if<consensus::BlockResponse>(&message)) RememberBlock(r->block);
  if (from.honest()) {
    if (const auto* v = std::get_if<consensus::Vote>(&message)) checker_.OnHonestVote(from.index, *v);
  }
  std::vector<std::pair<std::optional<ValidatorIndex>, Message>> out;
  if (from.honest() || from.role == Role::kTwin) {
    out.emplace_back(to, message);
  } else {
    out = Mutate(from, to, message);
  }
  for (const auto& [dest, m] : out) {
    if (dest) {
      Transmit(from, *dest, m);
    } else {
      for (ValidatorIndex i = 0; i < n_; ++i) Transmit(from, i, m);
    }
  }
}

Bytes Simulation::NewPayload(const Node& node, Round round) {
  std::string text = "p/" + std::to_string(node.index);
  if (node.twin_side >= 0) text += "." + std::to_string(node.twin_side);
  text += "/" + std::to_string(round) + "/" + std::to_string(payload_counter_++);
  Bytes payload = ToBytes(text);
  world_.payloads.insert(payload);
  return payload;
}

// What a Byzantine replica sends instead of `message`.
std::vector<std::pair<std::optional<ValidatorIndex>, Message>> Simulation::Mutate(
    Node& node, std::optional<ValidatorIndex> to, const Message& message) {
  std::vector<std::pair<std::optional<ValidatorIndex>, Message>> out;
  switch (node.role) {
    case Role::kEquivocate: {
      const auto* p = std::get_if<consensus::Proposal>(&message);
      if (p == nullptr || to) break;
      Block other = p->block;
      const auto& tc = other.previous_round_tc;
      // After a TC, sometimes extend a QC older than the TC's high QC (breaks the TC rule);
      // otherwise sign a second block with a different payload for the same round.
      bool stale = false;
      if (tc && rng_.ChancePpm(500'000)) {
        for (auto it = node.seen_qcs.rbegin(); it != node.seen_qcs.rend(); ++it) {
          if (it->first >= tc->high_qc.round) continue;
          auto parent = world_.blocks.find(it->second.block_id);
          if (parent == world_.blocks.end()) continue;
          other.parent_qc = it->second;
          other.header.parent_id = it->second.block_id;
          other.header.height = it->second.height + 1;
          other.header.ledger_root = parent->second.header.ledger_root;
          stale = true;
          break;
        }
      }
      other.payload = NewPayload(node, other.header.round);
      other.header.payload_hash = crypto::Sha256(other.payload);
      other.proposer_signature =
          node.signer->Sign(consensus::ProposalDigest(BlockIdOf(other)));
      RememberBlock(other);
      trace_.U64(stale ? 11 : 10);
      // Each replica gets one of the two blocks, or both in either order.
      const Message second{consensus::Proposal{other}};
      for (ValidatorIndex i = 0; i < n_; ++i) {
        const uint64_t pick = rng_.Below(4);
        if (pick != 1) out.emplace_back(i, pick == 3 ? second : message);
        if (pick != 0) out.emplace_back(i, pick == 3 ? message : second);
      }
      return out;
    }
    case Role::kDoubleVote: {
      const auto* v = std::get_if<consensus::Vote>(&message);
      if (v == nullptr) break;
      out.emplace_back(to, message);
      consensus::Vote second = *v;
      second.block_id = Hash32{};
      auto seen = node.seen_proposals.find(v->round);
      if (seen != node.seen_proposals.end()) {
        for (const auto& b : seen->second) {
          if (BlockIdOf(b) != v->block_id) {
            second.block_id = BlockIdOf(b);
            second.height = b.header.height;
          }
        }
      }
      if (second.block_id == Hash32{}) {
        for (auto& byte : second.block_id) byte = static_cast<uint8_t>(rng_.Next());
      }
      second.signature = node.signer->Sign(
          consensus::VoteDigest(second.epoch, second.round, second.block_id, second.height));
      out.emplace_back(to, Message{second});
      out.emplace_back(static_cast<ValidatorIndex>(rng_.Below(n_)), Message{second});
      return out;
    }
    case Role::kBadSignature: {
      if (!rng_.ChancePpm(500'000)) break;
      Message bad = message;
      std::visit(
          [this](auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, consensus::Proposal>) {
              if (!x.block.parent_qc.signatures.empty() && rng_.ChancePpm(500'000)) {
                auto& s = x.block.parent_qc.signatures[rng_.Below(x.block.parent_qc.signatures.size())];
                s.signature = Corrupt(s.signature);
              } else {
                x.block.proposer_signature = Corrupt(x.block.proposer_signature);
              }
            } else if constexpr (std::is_same_v<T, consensus::Vote>) {
              x.signature = Corrupt(x.signature);
            } else if constexpr (std::is_same_v<T, consensus::Timeout>) {
              if (!x.high_qc.signatures.empty() && rng_.ChancePpm(500'000)) {
                auto& s = x.high_qc.signatures[rng_.Below(x.high_qc.signatures.size())];
                s.signature = Corrupt(s.signature);
              } else {
                x.signature = Corrupt(x.signature);
              }
            } else if constexpr (std::is_same_v<T, consensus::BlockResponse>) {
              x.block.proposer_signature = Corrupt(x.block.proposer_signature);
            }
          },
          bad);
      out.emplace_back(to, std::move(bad));
      if (rng_.ChancePpm(500'000)) out.emplace_back(to, message);
      return out;
    }
    case Role::kWithholdVotes:
      if (std::holds_alternative<consensus::Vote>(message)) return out;
      break;
    case Role::kReplay:
      out.emplace_back(to, message);
      if (!node.history.empty() && rng_.ChancePpm(400'000)) {
        const auto& [orig_to, old] = node.history[rng_.Below(node.history.size())];
        (void)orig_to;
        out.emplace_back(static_cast<ValidatorIndex>(rng_.Below(n_)), old);
      }
      if (node.history.size() < kReplayHistory) {
        node.history.emplace_back(to.value_or(0), message);
      } else {
        node.history[rng_.Below(kReplayHistory)] = {to.value_or(0), message};
      }
      return out;
    case Role::kHonest:
    case Role::kTwin:
      break;
  }
  out.emplace_back(to, message);
  return out;
}

// What a Byzantine replica learns from a delivered message (for double votes, stale
// proposals and replays).
void Simulation::Observe(Node& node, ValidatorIndex from, const Message& message) {
  if (node.honest() || node.role == Role::kTwin) return;
  const QuorumCertificate* qc = nullptr;
  if (const auto* p = std::get_if<consensus::Proposal>(&message)) {
    auto& list = node.seen_proposals[p->block.header.round];
    if (list.size() < 4) list.push_back(p->block);
    qc = &p->block.parent_qc;
  } else if (const auto* t = std::get_if<consensus::Timeout>(&message)) {
    qc = &t->high_qc;
  }
  if (qc != nullptr) node.seen_qcs.try_emplace(qc->round, *qc);
  while (node.seen_proposals.size() > kMaxSeenRounds) node.seen_proposals.erase(node.seen_proposals.begin());
  while (node.seen_qcs.size() > kMaxSeenRounds) node.seen_qcs.erase(node.seen_qcs.begin());
  if (node.role == Role::kReplay && node.history.size() < kReplayHistory) {
    node.history.emplace_back(from, message);
  }
}

// Carries out actions[0, limit) in order; the rest are lost (a crash in the middle).
void Simulation::Execute(Node& node, std::vector<Action>& actions, size_t limit) {
  for (size_t i = 0; i < limit && i < actions.size(); ++i) {
    Action& action = actions[i];
    trace_.Act(action);
    if (options_.log != nullptr) {
      *options_.log << "    node " << node.id << " (v" << node.index << ") " << Describe(action)
                    << (i + 1 == limit && limit < actions.size() ? "  [crash: rest lost]" : "")
                    << "\n";
    }
    if (const auto* pm = std::get_if<consensus::PeerMisbehavedAction>(&action)) {
      const std::string reason = pm->reason.substr(0, pm->reason.find_first_of(":0123456789"));
      if (stats_.size() < 64) ++stats_["misbehaved(" + reason + ")"];
    } else {
      ++stats_[std::string("action.") + kActionNames[action.index()]];
    }
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, consensus::PersistSafetyAction>) {
            if (node.honest()) checker_.OnHonestPersistSafety(node.index, x.data);
            node.store.safety = x.data;
          } else if constexpr (std::is_same_v<T, consensus::PersistBlockAction>) {
            RememberBlock(x.block);
            node.store.blocks.insert_or_assign(BlockIdOf(x.block), x.block);
          } else if constexpr (std::is_same_v<T, consensus::SendAction>) {
            Route(node, x.to, x.message);
          } else if constexpr (std::is_same_v<T, consensus::BroadcastAction>) {
            Route(node, std::nullopt, x.message);
          } else if constexpr (std::is_same_v<T, consensus::SetTimerAction>) {
            ++node.timer_generation;
            Schedule(x.deadline_ms - node.skew_ms, node.id,
                     FireTimer{x.round, node.timer_generation});
          } else if constexpr (std::is_same_v<T, consensus::RequestPayloadAction>) {
            ReadyPayload ready;
            ready.round = x.round;
            ready.payload = NewPayload(node, x.round);
            auto parent = world_.blocks.find(x.parent_id);
            if (parent != world_.blocks.end()) ready.root = parent->second.header.ledger_root;
            Schedule(now_ms_ + rng_.Range(0, 5), node.id, std::move(ready));
          } else if constexpr (std::is_same_v<T, consensus::CommitAction>) {
            if (node.honest()) checker_.OnHonestCommit(node.index, x);
            for (const Block& b : x.blocks) {
              node.store.committed_by_height.insert_or_assign(b.header.height, b);
              node.store.committed_height_of.insert_or_assign(BlockIdOf(b), b.header.height);
            }
            if (!x.blocks.empty()) {
              node.store.committed_root = x.blocks.back();
              node.store.commit_qc = x.commit_qc;
              // Pruning: blocks at or below the committed root are not needed to restart.
              const uint64_t h = x.blocks.back().header.height;
              std::erase_if(node.store.blocks,
                            [h](const auto& kv) { return kv.second.header.height < h; });
            }
          } else {
            // PeerMisbehavedAction: recorded in the trace only.
          }
        },
        action);
  }
}

void Simulation::Heal() {
  healed_ = true;
  if (options_.log != nullptr) *options_.log << now_ms_ << " ms HEAL\n";
  partition_.clear();
  trace_.U64(4);
  for (auto& node : nodes_) {
    if (!node->up()) Schedule(now_ms_ + rng_.Range(1, 200), node->id, Restart{});
  }
}

void Simulation::InjectFaults() {
  if (Has(kPartition)) {
    if (partition_.empty() && rng_.ChancePpm(3'000)) {
      // Either isolate one replica or split at random into two groups.
      const bool isolate = rng_.ChancePpm(500'000);
      const auto lonely = static_cast<ValidatorIndex>(rng_.Below(n_));
      for (ValidatorIndex i = 0; i < n_; ++i) {
        partition_[i] = isolate ? (i == lonely ? 1 : 0) : static_cast<int>(rng_.Below(2));
      }
      trace_.U64(5);
    } else if (!partition_.empty() && rng_.ChancePpm(2'000)) {
      partition_.clear();
      trace_.U64(6);
    }
  }
  if (events_ >= crash_all_step_) {
    crash_all_step_ = UINT64_MAX;  // once
    for (auto& node : nodes_) {
      if (node->honest() && node->up()) Crash(*node, rng_.Range(100, 3000));
    }
  }
}

// The node's block sync (DESIGN.md "Block sync"), which lives in the driver and not in the
// engine: a request for a block this replica committed long ago (pruned from the engine's
// tree) is answered from its ledger, with the QC that certifies the block (the parent QC of
// the next committed block). Without it a replica that fell behind the others' committed
// roots could never catch up.
bool Simulation::ServeFromLedger(Node& node, ValidatorIndex from, const Message& message) {
  const auto* request = std::get_if<consensus::BlockRequest>(&message);
  if (request == nullptr) return false;
  auto h = node.store.committed_height_of.find(request->block_id);
  if (h == node.store.committed_height_of.end()) return false;
  auto child = node.store.committed_by_height.find(h->second + 1);
  if (child == node.store.committed_by_height.end()) return false;  // the engine's root
  consensus::BlockResponse response;
  response.block = node.store.committed_by_height.at(h->second);
  response.qc = child->second.parent_qc;
  ++stats_["ledger.block_response"];
  trace_.U64(7);
  trace_.U64(node.id);
  const Message out{std::move(response)};
  trace_.Msg(out);
  Route(node, from, out);
  return true;
}

void Simulation::ProcessOne() {
  auto handle = queue_.extract(queue_.begin());
  now_ms_ = handle.key().first;
  Pending& p = handle.mapped();
  Node& node = *nodes_[p.node];
  if (p.incarnation != node.incarnation) return;  // addressed to a crashed incarnation
  if (std::holds_alternative<Restart>(p.work)) {
    if (!node.up()) StartNode(node, true);
    return;
  }
  if (!node.up()) return;
  consensus::Event ev;
  ev.now_ms = now_ms_ + node.skew_ms;
  if (auto* d = std::get_if<Deliver>(&p.work)) {
    Observe(node, d->from, d->message);
    if (ServeFromLedger(node, d->from, d->message)) return;
    ev.kind = consensus::MessageEvent{d->from, std::move(d->message)};
  } else if (auto* t = std::get_if<FireTimer>(&p.work)) {
    if (t->generation != node.timer_generation) return;
    ev.kind = consensus::TimerEvent{t->round};
  } else if (auto* r = std::get_if<ReadyPayload>(&p.work)) {
    ev.kind = consensus::PayloadReadyEvent{r->round, std::move(r->payload), r->root};
  }
  ++events_;
  ++stats_[DeliveredName(ev.kind)];
  trace_.I64(now_ms_);
  trace_.U64(node.id);
  trace_.U64(ev.kind.index());
  if (const auto* m = std::get_if<consensus::MessageEvent>(&ev.kind)) {
    trace_.U64(m->from);
    trace_.Msg(m->message);
  } else if (const auto* t = std::get_if<consensus::TimerEvent>(&ev.kind)) {
    trace_.U64(t->round);
  } else if (const auto* r = std::get_if<consensus::PayloadReadyEvent>(&ev.kind)) {
    trace_.U64(r->round);
    trace_.Raw(r->payload);
  }
  if (options_.log != nullptr) {
    *options_.log << now_ms_ << " ms node " << node.id << " (v" << node.index << ", round "
                  << node.engine->current_round() << ") <- ";
    if (const auto* m = std::get_if<consensus::MessageEvent>(&ev.kind)) {
      *options_.log << "from " << m->from << ": " << Describe(m->message);
    } else if (const auto* t = std::get_if<consensus::TimerEvent>(&ev.kind)) {
      *options_.log << "timer r" << t->round;
    } else if (const auto* r = std::get_if<consensus::PayloadReadyEvent>(&ev.kind)) {
      *options_.log << "payload r" << r->round;
    }
    *options_.log << "\n";
  }
  auto actions = node.engine->Step(ev);
  size_t limit = actions.size();
  const bool crash = !healed_ && node.honest() && crash_ppm_ != 0 && rng_.ChancePpm(crash_ppm_);
  if (crash) limit = rng_.Below(actions.size() + 1);
  Execute(node, actions, limit);
  if (crash) Crash(node, rng_.Range(50, 5000));
}

SimResult Simulation::Run() {
  Setup();
  SimResult result;
  // Fault phase.
  while (events_ < options_.steps && !queue_.empty() && checker_.ok()) {
    InjectFaults();
    ProcessOne();
  }
  // Heal, then every honest replica must make progress.
  Heal();
  const int64_t heal_ms = now_ms_;
  std::map<ValidatorIndex, uint64_t> base;
  for (ValidatorIndex i = 0; i < n_; ++i) {
    if (!faulty_.contains(i)) base[i] = checker_.committed_height(i);
  }
  auto RoundOf = [&](ValidatorIndex i) -> std::string {
    for (const auto& node : nodes_) {
      if (node->index == i && node->up()) return std::to_string(node->engine->current_round());
    }
    return "down";
  };
  auto live = [&] {
    for (const auto& [i, h] : base) {
      if (checker_.committed_height(i) < h + options_.liveness_blocks) return false;
    }
    return true;
  };
  const uint64_t cap = events_ + kLivenessEventCap;
  while (options_.check_liveness && checker_.ok() && !live() && !queue_.empty() &&
         now_ms_ <= heal_ms + options_.liveness_window_ms && events_ < cap) {
    ProcessOne();
  }
  if (options_.check_liveness && checker_.ok() && !live()) {
    std::string lagging;
    for (const auto& [i, h] : base) {
      const uint64_t now_h = checker_.committed_height(i);
      if (now_h < h + options_.liveness_blocks) {
        lagging += " replica " + std::to_string(i) + " (" + std::to_string(h) + " -> " +
                   std::to_string(now_h) + ", round " + RoundOf(i) + ")";
      }
    }
    checker_.Fail("liveness: within " + std::to_string(options_.liveness_window_ms / 1000) +
                  " virtual seconds after the heal at " + std::to_string(heal_ms) +
                  " ms, these honest replicas committed fewer than " +
                  std::to_string(options_.liveness_blocks) + " new blocks:" + lagging +
                  (queue_.empty() ? " (event queue ran dry)" : ""));
  }
  result.ok = checker_.ok();
  result.violations = checker_.violations();
  result.trace_hash = trace_.Finish();
  result.events = events_;
  result.virtual_ms = now_ms_;
  result.replicas = n_;
  result.byzantine = faulty_.size();
  result.committed_height = checker_.max_committed_height();
  result.crashes = crashes_;
  result.stats = stats_;
  return result;
}

}  // namespace

SimResult RunSimulation(const SimOptions& options) {
  Simulation sim(options);
  return sim.Run();
}

}  // namespace minetrace::sim
