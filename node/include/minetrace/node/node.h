// Node is the minetrace daemon. A validator (its key is in the genesis) runs the BFT
// consensus with the other validators over the peer transport; an observer (any other
// admitted key) follows the committed chain by block sync and never votes. Both admit
// transactions into their mempool and forward them to the validators, execute committed
// blocks through the Ledger, and serve the gRPC API.
//
// Threads: one Asio io_context thread (the one calling Run) owns the mempool, the admission
// state, consensus, sync and execution; a VerifyPool checks signatures; gRPC runs its own
// threads, which check envelopes and signatures themselves and hand admission to the
// io_context; one gossip thread does the same for txs from peers. Queries read the Ledger directly (it is safe for concurrent readers).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "minetrace/base/clock.h"
#include "minetrace/consensus/types.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/crypto/verify_pool.h"
#include "minetrace/ledger/ledger.h"
#include "minetrace/node/config.h"
#include "minetrace/node/mempool.h"
#include "minetrace/v1/consensus.pb.h"
#include "minetrace/v1/node.pb.h"

namespace grpc {
class Server;
class Service;
}

namespace minetrace::node {

class ConsensusDriver;
class PeerTransport;

// WatchCommits (node.proto) sends a committed block as one or more CommittedBlockSummary
// parts: each carries the header fields, at most kMaxCommitSummaryTxs txs in block order, and
// all but the last have `continued` set. A summary is built once and shared by every stream,
// so committed_at_ms is left 0 here: each stream sets its own.
using CommitSummary = std::vector<v1::CommittedBlockSummary>;
inline constexpr size_t kMaxCommitSummaryTxs = 1000;

// The summary of the block after which the ledger is at `info`, from the block's executed txs
// in block order (their ids and receipts as recorded: nothing is read or hashed). A tx the
// ledger skipped is not in it: the ledger stores executed txs only, so a replay of the block
// could not report it, and a live stream says the same as a replay.
CommitSummary SummarizeCommit(const v1::LedgerInfo& info, std::span<const ledger::TxRecord> txs);
// Reads committed block `height` (>= 1) back from the ledger and summarizes it: for a block
// no longer among the recent ones. kDataLoss if the ledger has the height but not its records.
Result<CommitSummary> ReadCommitSummary(const ledger::Ledger& ledger, uint64_t height);

// The summaries of the last kCapacity heights put, each shared read-only by the streams that
// send it. Not thread-safe: Node guards it with commit_mu_.
class CommitSummaryRing {
 public:
  static constexpr size_t kCapacity = 64;
  // `height` replaces the one kCapacity below it.
  void Put(uint64_t height, std::shared_ptr<const CommitSummary> summary);
  // nullptr unless `height` is one of the last kCapacity put.
  std::shared_ptr<const CommitSummary> Get(uint64_t height) const;

 private:
  struct Slot {
    uint64_t height = 0;
    std::shared_ptr<const CommitSummary> summary;  // nullptr: empty slot
  };
  std::array<Slot, kCapacity> slots_{};  // height h lives in slot h % kCapacity
};

class Node {
 public:
  // Loads genesis and key, opens the ledger. `clock` must outlive the node.
  static Result<std::unique_ptr<Node>> Create(const NodeConfig& config, const Clock& clock,
                                              std::shared_ptr<spdlog::logger> log);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Serves until SIGINT/SIGTERM or RequestStop(); returns after a clean shutdown (every
  // committed block is on disk; pending, uncommitted txs are dropped and clients resubmit).
  Result<void> Run();
  void RequestStop();  // any thread, any time; idempotent

  // ---- called from gRPC threads ----
  // Checks and admits one tx; returns its id. Blocks until admitted or refused.
  Result<Hash32> Submit(const v1::SignedTx& tx);
  std::vector<Result<Hash32>> SubmitMany(const std::vector<v1::SignedTx>& txs);
  // Waits until the tx is committed or the deadline passes (kDeadlineExceeded); kNotFound
  // at once for a tx that is neither pending nor committed.
  Result<ledger::TxRecord> WaitTx(const Hash32& tx_id,
                                  std::chrono::steady_clock::time_point deadline);

  // Waits until the committed height exceeds `height`, the deadline passes or the node stops;
  // returns the committed height then (kUnavailable once the node is stopping). The height is
  // the one OnCommitted announced, after it stored the block's summary: a block seen here is
  // in RecentCommitSummary until kCapacity more blocks commit.
  Result<uint64_t> WaitForHeight(uint64_t height, std::chrono::steady_clock::time_point deadline);
  // The WatchCommits summary of block `height` if it is one of the last
  // CommitSummaryRing::kCapacity committed since the node started; nullptr otherwise.
  std::shared_ptr<const CommitSummary> RecentCommitSummary(uint64_t height) const;

  // Role, round and peers, read on the io thread (kUnavailable if it does not answer).
  Result<v1::StatusResponse> NetworkStatus();

  const ledger::Ledger& ledger() const { return *ledger_; }
  const crypto::PublicKey& node_key() const { return key_.public_key(); }
  size_t mempool_txs() const { return mempool_txs_.load(); }
  uint64_t mempool_bytes() const { return mempool_bytes_.load(); }
  const NodeConfig& config() const { return config_; }

 private:
  Node(NodeConfig config, const Clock& clock, std::shared_ptr<spdlog::logger> log,
       crypto::PrivateKey key, std::unique_ptr<ledger::Ledger> ledger,
       consensus::ValidatorSet validators, std::optional<consensus::ValidatorIndex> self);

  // Stateless checks and replay, on the calling thread; the signature is checked after, on
  // the verify pool.
  Result<std::pair<Hash32, v1::TxBody>> Precheck(const v1::SignedTx& tx);
  // Precheck and signatures for a batch; admission follows.
  std::vector<Result<std::pair<Hash32, v1::TxBody>>> CheckTxs(const std::vector<v1::SignedTx>& txs);
  // Runs on the io_context: dedupe, rule check against committed + pending state, admit.
  Result<void> Admit(const Hash32& tx_id, const v1::TxBody& body, const v1::SignedTx& tx);
  Result<void> StartNetwork();  // io thread
  void OnPeerMessage(const crypto::PublicKey& from, std::string&& bytes);
  void OnTxGossip(const v1::TxGossip& gossip);
  void Forward(const std::vector<v1::SignedTx>& txs);
  // Observers: sends the validators again the txs still pending since the last tick.
  void ScheduleReforward();
  void OnCommitted(const ledger::CommittedBlock& block);
  // Stores the block's WatchCommits summary and announces its height (OnCommitted, first).
  void AnnounceCommit(const ledger::CommittedBlock& block);
  void SendToValidator(consensus::ValidatorIndex to, const v1::PeerMessage& message);
  void BroadcastToValidators(const v1::PeerMessage& message);
  // Block sync: asks a validator for committed blocks after the head, and serves such asks.
  Result<void> StartConsensus();  // io thread; once
  void ScheduleSync();
  void RequestSync();
  void SendSyncRequest(const crypto::PublicKey& peer, uint32_t max_blocks);
  void ServeSync(const crypto::PublicKey& from, const v1::SyncRequest& request);
  void ApplySync(const crypto::PublicKey& from, const v1::SyncResponse& response);
  void RebuildPendingState();
  void UpdateMempoolGauges();
  void Fatal(const std::string& why);
  void AwaitBackupSignal();
  void WriteCheckpoint();  // io thread: between two commits
  void StartShutdownThread();  // io thread
  void StopGossipChecker();    // joins gossip_thread_; idempotent

  NodeConfig config_;
  const Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  crypto::PrivateKey key_;
  std::unique_ptr<ledger::Ledger> ledger_;
  crypto::VerifyPool verify_pool_;

  boost::asio::io_context io_;
  // Keeps io_ running until gRPC has drained: handlers in flight may still post admissions.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::steady_timer sync_timer_{io_};
  boost::asio::steady_timer reforward_timer_{io_};  // observers only
  uint64_t reforward_mark_ = 0;  // io thread only: mempool admissions at the last tick
  consensus::ValidatorSet validators_;
  std::optional<consensus::ValidatorIndex> self_;  // set for a validator
  std::unique_ptr<PeerTransport> transport_;      // io thread only
  std::unique_ptr<ConsensusDriver> driver_;       // io thread only; validators only
  bool consensus_started_ = false;                 // io thread only
  bool proposal_wakeup_posted_ = false;            // io thread only
  std::chrono::steady_clock::time_point initial_sync_deadline_{};
  std::optional<crypto::PublicKey> sync_peer_;    // io thread only: the ask in flight
  std::chrono::steady_clock::time_point sync_sent_at_{};
  size_t sync_cursor_ = 0;  // round-robin over validators
  boost::asio::signal_set signals_{io_};
  boost::asio::signal_set backup_signal_{io_};  // SIGUSR1: write a checkpoint
  std::vector<std::unique_ptr<grpc::Service>> services_;  // must outlive server_
  std::unique_ptr<grpc::Server> server_;
  std::thread shutdown_thread_;  // io thread only
  std::atomic<bool> stopping_{false};
  bool fatal_ = false;  // io thread only: a commit failed, the node must not go on

  // Keys the hash tables of pending tx ids (TxIdHash): derived from key_, so it is secret.
  TxIdHash tx_id_hash_;
  // io thread only.
  Mempool mempool_;
  std::unique_ptr<ledger::StateView> pending_state_;
  // Txs whose effects pending_state_ holds: pending ones and committed ones not yet dropped.
  size_t pending_state_txs_ = 0;
  // Pending txs that failed their replay at the last rebuild: their effects are not in it.
  TxIdSet pending_unapplied_{0, tx_id_hash_};

  // Commit notification for WaitTx and WatchCommits; pending_ids_ mirrors the mempool's ids
  // for other threads.
  mutable std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  TxIdSet pending_ids_{0, tx_id_hash_};  // guarded by commit_mu_
  uint64_t commits_ = 0;                 // guarded by commit_mu_; blocks committed since start
  // Guarded by commit_mu_; the ledger head at start, then the height of the last block
  // whose summary is in recent_summaries_ (never decreases).
  uint64_t announced_height_ = 0;
  CommitSummaryRing recent_summaries_;  // guarded by commit_mu_

  // Checks the signatures of txs from peers (OnTxGossip) off the io thread. Declared last:
  // its thread uses the members above and is joined (StopGossipChecker) before they go.
  boost::asio::io_context gossip_io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      gossip_work_;
  std::thread gossip_thread_;
  size_t gossip_batches_queued_ = 0;  // io thread only

  std::atomic<size_t> mempool_txs_{0};
  std::atomic<uint64_t> mempool_bytes_{0};
};

}  // namespace minetrace::node
