// Engine is the sans-I/O consensus core: two-chain HotStuff with timeout certificates
// (Jolteon / DiemBFT v4). It never touches a socket, a clock, a disk, a thread or a global:
// time and messages arrive in Events, and Step returns the Actions the caller must carry out
// IN ORDER (a PersistSafety before the Send of the vote it protects). The node's driver runs
// it on one Asio strand; tests/sim runs it against a simulated network, clock and store.
//
// Protocol (n = 3f + 1, quorum = n - f, leader(r) = validators[r mod n]):
// - Enter round r+1 on a QC or TC for round r; the leader of a round proposes a block
//   extending the highest QC it knows, carrying that QC (and the TC of round r-1 when the QC
//   is not from r-1).
// - Vote rule: vote for a block of round r iff r > last voted round, the block is valid
//   (signatures, payload accepted by the PayloadValidator), and either parent_qc.round + 1 == r
//   or the block carries a TC for r - 1 with parent_qc.round >= the TC's highest QC round.
//   Votes go to the leader of r + 1.
// - Commit rule: a QC for block B' whose parent B has B'.round == B.round + 1 commits B and
//   its uncommitted ancestors.
// - Pacemaker: a local timer per round with exponential back-off; on expiry broadcast a
//   signed Timeout carrying the highest QC; 2f+1 Timeouts for a round make a TC.
// - Safety data is persisted (an action before the vote or timeout it protects).
//
// Thread-safety: none; one caller at a time. Ownership: the engine owns its block tree; the
// Signer and PayloadValidator passed at construction must outlive it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "minetrace/base/result.h"
#include "minetrace/consensus/types.h"

namespace minetrace::consensus {

// ---- what flows between replicas ----
struct Proposal {
  Block block;
};
// A request for a block the sender misses (an ancestor named by a QC), and the answer.
struct BlockRequest {
  Hash32 block_id{};
};
struct BlockResponse {
  Block block;
  std::optional<QuorumCertificate> qc;  // the QC certifying it, when the sender has one
};
using Message = std::variant<Proposal, Vote, Timeout, BlockRequest, BlockResponse>;

// ---- persisted safety data ----
// Everything a replica must remember across a crash to never equivocate. Persisted before
// any vote or timeout based on it leaves the replica.
struct SafetyData {
  uint64_t epoch = 0;
  Round last_voted_round = 0;      // never decreases
  Round highest_timeout_round = 0; // never decreases
  QuorumCertificate high_qc;       // round never decreases
  bool operator==(const SafetyData&) const = default;
};

// ---- events in ----
struct StartEvent {};  // first event after construction (or restart)
struct MessageEvent {
  ValidatorIndex from = 0;
  Message message;
};
struct TimerEvent {
  Round round = 0;  // the round whose timer fired; stale rounds are ignored
};
// The answer to a RequestPayload action.
struct PayloadReadyEvent {
  Round round = 0;
  Bytes payload;
  LedgerRoot ledger_root;
};
// The caller has carried out the commits the engine asked for. A vote that waited for them
// (the PayloadValidator answered kUnavailable: the block's ledger root is not executed here
// yet) is tried again.
struct CommitsExecutedEvent {};
struct Event {
  int64_t now_ms = 0;  // the caller's clock; the engine has no other
  std::variant<StartEvent, MessageEvent, TimerEvent, PayloadReadyEvent, CommitsExecutedEvent>
      kind;
};

// ---- actions out ----
struct PersistSafetyAction {
  SafetyData data;
};
struct PersistBlockAction {
  Block block;
};
struct SendAction {
  ValidatorIndex to = 0;
  Message message;
};
struct BroadcastAction {  // to every other validator
  Message message;
};
struct SetTimerAction {
  Round round = 0;
  int64_t deadline_ms = 0;  // in the caller's clock
};
// Ask the ledger for a payload extending `parent`; answered by a PayloadReadyEvent.
struct RequestPayloadAction {
  Round round = 0;
  Hash32 parent_id{};
  uint64_t parent_height = 0;
};
// Blocks now final, oldest first, with the QC whose 2-chain committed them: commit_qc
// certifies `certified_child`, the child of the last block, one round after it. The child's
// parent QC certifies the last block; each earlier block is certified by the next one's.
// Together they let a node prove to a peer that the blocks committed (block sync).
struct CommitAction {
  std::vector<Block> blocks;
  QuorumCertificate commit_qc;
  Block certified_child;
};
struct PeerMisbehavedAction {
  ValidatorIndex peer = 0;
  std::string reason;            // e.g. "equivocation: two proposals for round 7"
  std::vector<Message> evidence;  // the signed messages that prove it, when there are any
};
using Action = std::variant<PersistSafetyAction, PersistBlockAction, SendAction, BroadcastAction,
                            SetTimerAction, RequestPayloadAction, CommitAction,
                            PeerMisbehavedAction>;

// ---- injected behaviour ----
class Signer {
 public:
  virtual ~Signer() = default;
  // Deterministic for a given digest (BIP340 with fixed aux), so that traces replay.
  virtual crypto::Signature Sign(const Hash32& digest) = 0;
};

class PayloadValidator {
 public:
  virtual ~PayloadValidator() = default;
  // Whether `block`'s payload and ledger root are acceptable on top of `parent`; an error
  // means "do not vote" (and the proposer is reported), except kUnavailable: "cannot judge
  // until the commits of this step are executed" (the vote is retried on
  // CommitsExecutedEvent, and nobody is reported).
  virtual Result<void> Validate(const Block& block, const Block& parent) = 0;
};

// Deliberately broken safety rules, for the simulator's mutation check only: a correct
// checker must catch each of them. Never set outside tests.
enum class SafetyMutation {
  kNone,
  kVoteTwiceInRound,   // ignores last_voted_round (may vote for two blocks in one round)
  kCommitOnOneChain,   // commits a block as soon as it has a QC
  kIgnoreTcHighQc,     // votes after a TC without checking parent_qc.round >= TC's high QC
};

struct EngineConfig {
  ValidatorSet validators;
  ValidatorIndex self = 0;
  int64_t round_timeout_ms = 1000;      // first timeout of a round
  int64_t round_timeout_max_ms = 60000; // back-off cap
  double timeout_backoff = 1.5;         // multiplier per consecutive timed-out round
  Round max_future_rounds = 100;        // messages further ahead than this are dropped
  size_t max_pending_blocks = 1000;     // uncommitted blocks kept before refusing more
  SafetyMutation mutation = SafetyMutation::kNone;
};

// What a replica restarts from: its safety data and the blocks it persisted (the committed
// root and every uncommitted block it stored), as returned by the store.
struct RecoveryData {
  SafetyData safety;
  Block committed_root;  // the highest committed block (the genesis block at first start)
  QuorumCertificate committed_root_qc;
  std::vector<Block> uncommitted;  // any order
};

class Engine {
 public:
  // `signer` and `validator` must outlive the engine.
  Engine(EngineConfig config, Signer& signer, PayloadValidator& validator,
         RecoveryData recovery);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  std::vector<Action> Step(const Event& event);

  // Introspection for tests, the simulator and the node's status.
  Round current_round() const;
  const SafetyData& safety() const;
  const Block& committed_root() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The block every replica starts from: round 0, height 0, no payload.
Block GenesisBlock(uint64_t epoch, const LedgerRoot& genesis_root);
QuorumCertificate GenesisQc(const Block& genesis);

}  // namespace minetrace::consensus
