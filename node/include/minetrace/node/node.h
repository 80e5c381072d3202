// Node is the minetrace daemon for one validator: it admits transactions into its mempool,
// cuts a block every interval (or as soon as a block's worth is waiting), executes and
// commits it through the Ledger, and serves the gRPC API.
//
// Threads: one Asio io_context thread (the one calling Run) owns the mempool, the admission
// state and execution; a VerifyPool checks signatures; gRPC runs its own threads, which
// check envelopes and signatures themselves and hand admission to the io_context. Queries
// read the Ledger directly (it is safe for concurrent readers).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "minetrace/base/clock.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/crypto/verify_pool.h"
#include "minetrace/ledger/ledger.h"
#include "minetrace/node/config.h"
#include "minetrace/node/mempool.h"

namespace grpc {
class Server;
class Service;
}

namespace minetrace::node {

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

  const ledger::Ledger& ledger() const { return *ledger_; }
  const crypto::PublicKey& node_key() const { return key_.public_key(); }
  size_t mempool_txs() const { return mempool_txs_.load(); }
  uint64_t mempool_bytes() const { return mempool_bytes_.load(); }
  const NodeConfig& config() const { return config_; }

 private:
  Node(NodeConfig config, const Clock& clock, std::shared_ptr<spdlog::logger> log,
       crypto::PrivateKey key, std::unique_ptr<ledger::Ledger> ledger);

  // Stateless checks and replay, on the calling thread; the signature is checked after, on
  // the verify pool.
  Result<std::pair<Hash32, v1::TxBody>> Precheck(const v1::SignedTx& tx);
  // Runs on the io_context: dedupe, rule check against committed + pending state, admit.
  Result<void> Admit(const Hash32& tx_id, const v1::TxBody& body, const v1::SignedTx& tx);
  Result<Hash32> AdmitOnIo(const Hash32& tx_id, v1::TxBody body, const v1::SignedTx& tx);
  void ScheduleBlockTimer();
  void CutBlock();
  void RebuildPendingState();
  void UpdateMempoolGauges();
  void StartShutdownThread();  // io thread

  NodeConfig config_;
  const Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  crypto::PrivateKey key_;
  std::unique_ptr<ledger::Ledger> ledger_;
  crypto::VerifyPool verify_pool_;

  boost::asio::io_context io_;
  // Keeps io_ running until gRPC has drained: handlers in flight may still post admissions.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::steady_timer block_timer_{io_};
  boost::asio::signal_set signals_{io_};
  std::vector<std::unique_ptr<grpc::Service>> services_;  // must outlive server_
  std::unique_ptr<grpc::Server> server_;
  std::thread shutdown_thread_;  // io thread only
  std::atomic<bool> stopping_{false};
  bool fatal_ = false;  // io thread only: a commit failed, the node must not go on

  // io thread only.
  Mempool mempool_;
  std::unique_ptr<ledger::StateView> pending_state_;
  uint32_t blocks_since_rebuild_ = 0;

  // Commit notification for WaitTx; pending_ids_ mirrors the mempool's ids for other threads.
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  std::set<Hash32> pending_ids_;  // guarded by commit_mu_
  uint64_t commits_ = 0;          // guarded by commit_mu_; blocks committed since start

  std::atomic<size_t> mempool_txs_{0};
  std::atomic<uint64_t> mempool_bytes_{0};
};

}  // namespace minetrace::node
