// ConsensusDriver runs a validator's consensus engine (consensus/) inside the node. It feeds
// the engine events (peer messages, timers, payloads) and carries out the actions it returns,
// in order: persist (synced) before the send that depends on it, then send, then execute and
// commit. It is also the engine's PayloadValidator: a block gets a vote only if its payload
// parses, its txs are well-formed and signed, and the ledger root it carries is this node's
// own root at that height.
//
// Ledger root rule: a block of height h carries the ledger root at height
// min(proposer's committed height, h - 3). The lag of three lets every validator that is in
// step check it before voting: in the steady state a validator has committed h - 3 when the
// proposal of h arrives (h - 2 commits only in that same step).
//
// Threading: everything runs on the node's io thread (the strand that owns the ledger's
// writes and the mempool); no locks. Ownership: the references passed in must outlive it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "minetrace/base/clock.h"
#include "minetrace/consensus/engine.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/crypto/verify_pool.h"
#include "minetrace/ledger/ledger.h"
#include "minetrace/v1/consensus.pb.h"

namespace minetrace::node {

struct DriverConfig {
  std::chrono::milliseconds block_interval{200};  // an idle leader's wait before an empty block
  uint32_t block_max_txs = 1000;
  uint64_t block_max_bytes = 16ull << 20;
  std::chrono::milliseconds round_timeout{2000};
  uint32_t max_pending_blocks = 1000;
  std::chrono::milliseconds max_clock_drift{30000};  // how far ahead a block's time may be
};

// Keys of the driver's records in the ledger's consensus column.
inline constexpr std::string_view kEvidencePrefix = "evidence/";  // + be64 sequence

class ConsensusDriver {
 public:
  struct Hooks {
    std::function<void(consensus::ValidatorIndex to, const v1::PeerMessage&)> send;
    std::function<void(const v1::PeerMessage&)> broadcast;  // to every other validator
    // Pending txs for a new block, oldest first, leaving out those `exclude` names.
    std::function<std::vector<v1::SignedTx>(const std::function<bool(const Hash32&)>& exclude)>
        select_txs;
    // Whether this exact tx was verified on admission (its signature need not be checked).
    std::function<bool(const Hash32&, const v1::SignedTx&)> signature_checked;
    std::function<void(const ledger::CommittedBlock&)> committed;
    std::function<void(const std::string& why)> fatal;  // the node must stop
  };

  ConsensusDriver(boost::asio::io_context& io, ledger::Ledger& ledger, const Clock& clock,
                  const crypto::PrivateKey& key, consensus::ValidatorSet validators,
                  consensus::ValidatorIndex self, DriverConfig config,
                  crypto::VerifyPool& verify_pool, std::shared_ptr<spdlog::logger> log,
                  Hooks hooks);
  ~ConsensusDriver();
  ConsensusDriver(const ConsensusDriver&) = delete;
  ConsensusDriver& operator=(const ConsensusDriver&) = delete;

  // Rebuilds the engine from the persisted safety data, the committed head and the stored
  // uncommitted blocks, and starts it.
  Result<void> Start();
  void Stop();
  // Rebuilds the engine after block sync moved the ledger past its committed root (a replica
  // too far behind for the engine's own block fetching). Safety data is kept, so the new
  // engine never votes against what the old one signed.
  Result<void> Restart();
  uint64_t committed_root_height() const;

  void OnMessage(consensus::ValidatorIndex from, consensus::Message message);
  // New txs are pending: a leader waiting for them proposes now.
  void OnTxsAdmitted();

  consensus::Round round() const;
  uint64_t peer_reports() const { return peer_reports_; }

 private:
  class Validator;
  class Signer;
  struct KnownBlock {
    Hash32 parent_id{};
    uint64_t height = 0;
    consensus::Round round = 0;
    uint64_t ledger_root_height = 0;
    std::vector<Hash32> tx_ids;
  };

  void Step(decltype(consensus::Event::kind) kind);
  void Execute(std::vector<consensus::Action> actions);
  void Persist(const std::string& key, const std::string& value);
  void ExecuteCommit(const consensus::CommitAction& commit);
  void AnswerPayload();
  bool ServeFromLedger(consensus::ValidatorIndex from, const consensus::BlockRequest& request);
  void Remember(const consensus::Block& block);
  void StoreEvidence(const consensus::PeerMisbehavedAction& report);
  Result<consensus::LedgerRoot> RootAt(uint64_t height) const;
  Result<void> CheckCertifiedRoot(const consensus::LedgerRoot& root) const;

  boost::asio::io_context& io_;
  ledger::Ledger& ledger_;
  const Clock& clock_;
  const crypto::PrivateKey& key_;
  consensus::ValidatorSet validators_;
  consensus::ValidatorIndex self_;
  DriverConfig config_;
  crypto::VerifyPool& verify_pool_;
  std::shared_ptr<spdlog::logger> log_;
  Hooks hooks_;

  std::unique_ptr<Signer> signer_;
  std::unique_ptr<Validator> validator_;
  std::unique_ptr<consensus::Engine> engine_;
  boost::asio::steady_timer round_timer_;
  boost::asio::steady_timer payload_timer_;
  bool stopped_ = false;
  bool failed_ = false;  // a persist or commit failed: act no further

  // The payload request the engine is waiting on (a leader with nothing to propose yet).
  std::optional<consensus::RequestPayloadAction> payload_request_;
  std::chrono::steady_clock::time_point payload_requested_at_{};
  // Uncommitted blocks this node has seen, to keep their txs out of new proposals. Pruned
  // at each commit.
  std::map<Hash32, KnownBlock> known_;
  std::map<Hash32, consensus::Round> persisted_;  // uncommitted blocks on disk, by id
  // The latest block this node committed that held txs: the proposal whose parent QC
  // commits it is not held back by block_interval (see AnswerPayload).
  std::optional<Hash32> last_committed_with_txs_;
  uint64_t peer_reports_ = 0;
  uint64_t evidence_sequence_ = 0;  // of the last stored record
  uint64_t evidence_stored_ = 0;
  std::set<std::tuple<consensus::ValidatorIndex, consensus::Round, size_t>> evidence_seen_;
};

// The consensus block every replica starts from, derived from the genesis ledger info.
consensus::Block GenesisBlockFor(const v1::LedgerInfo& genesis_info);

// The consensus block of the ledger's head with the QC certifying it (the genesis block and
// its QC at height 0): where consensus restarts from and where synced blocks must attach.
struct CertifiedBlock {
  consensus::Block block;
  consensus::QuorumCertificate qc;
};
Result<CertifiedBlock> CommittedHead(const ledger::Ledger& ledger);

// The record that maps a committed block's id to its height (to serve it from the ledger).
std::string CommittedBlockKey(const Hash32& id);

// What the ledger executes for a committed consensus block, with its certificate stored
// beside it and the record of its id.
ledger::BlockToExecute CommittedBlockToExecute(const consensus::Block& block,
                                               const consensus::ValidatorSet& validators,
                                               const v1::CommittedBlock& certificate);

// Whether a root that a quorum certified (in a committed block's header) matches what this
// ledger executed at that height; kDataLoss if not: the ledger diverged and must not go on.
Result<void> CheckLedgerRoot(const ledger::Ledger& ledger, const consensus::LedgerRoot& root);

}  // namespace minetrace::node
