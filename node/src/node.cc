#include "minetrace/node/node.h"

#include <csignal>
#include <future>

#include <boost/asio/post.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include "grpc_services.h"
#include "minetrace/base/assert.h"
#include "minetrace/ledger/proof/genesis.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::node {

Result<std::unique_ptr<Node>> Node::Create(const NodeConfig& config, const Clock& clock,
                                           std::shared_ptr<spdlog::logger> log) {
  auto genesis = ledger::proof::LoadGenesisFile(config.genesis_file);
  if (!genesis) return tl::unexpected(genesis.error());
  auto key = crypto::ReadKeyFile(config.key_file);
  if (!key) return tl::unexpected(key.error());
  auto ledger = ledger::Ledger::Open(config.data_dir, *genesis);
  if (!ledger) return tl::unexpected(ledger.error());
  if (genesis->validators_size() != 1) {
    // Until the BFT network (issue 4), each validator would cut blocks alone and the ledgers
    // would diverge: refuse rather than fork.
    return MakeError(ErrorCode::kFailedPrecondition,
                     "genesis names " + std::to_string(genesis->validators_size()) +
                         " validators; this release runs exactly one (the BFT network is not "
                         "there yet): create the network with `minetrace testnet --validators 1`");
  }
  bool is_validator = false;
  for (const auto& v : genesis->validators()) {
    if (v.key() == std::string(key->public_key().begin(), key->public_key().end())) {
      is_validator = true;
    }
  }
  if (!is_validator) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "node key " + ToHex(key->public_key()) +
                         " is not a validator in the genesis; observer nodes arrive with the "
                         "BFT network");
  }
  return std::unique_ptr<Node>(
      new Node(config, clock, std::move(log), std::move(*key), std::move(*ledger)));
}

Node::Node(NodeConfig config, const Clock& clock, std::shared_ptr<spdlog::logger> log,
           crypto::PrivateKey key, std::unique_ptr<ledger::Ledger> ledger)
    : config_(std::move(config)),
      clock_(clock),
      log_(std::move(log)),
      key_(std::move(key)),
      ledger_(std::move(ledger)),
      verify_pool_(config_.verify_threads != 0 ? config_.verify_threads
                                               : std::max(1u, std::thread::hardware_concurrency())),
      mempool_(config_.mempool_max_txs, config_.mempool_max_bytes) {
  pending_state_ = ledger_->NewPendingState();
}

Node::~Node() {
  if (shutdown_thread_.joinable()) shutdown_thread_.join();
  server_.reset();  // before the services it points to
}

Result<void> Node::Run() {
  services_ = MakeGrpcServices(*this);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(config_.grpc_listen, grpc::InsecureServerCredentials(), &bound_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_request_bytes));
  for (auto& s : services_) builder.RegisterService(s.get());
  server_ = builder.BuildAndStart();
  if (!server_ || bound_port == 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot listen for gRPC on " + config_.grpc_listen +
                         " (address in use or not local?)");
  }
  v1::LedgerInfo head = ledger_->head();
  log_->info("minetrace-node {} serving gRPC on {} | chain {} height {} leaves {} root {}",
             ToHex(key_.public_key()).substr(0, 16), config_.grpc_listen,
             ledger_->genesis().chain_id(), head.height(), head.leaf_count(),
             ToHex(AsBytes(head.accumulator_root())));

  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    log_->info("signal {} received: shutting down", signo);
    RequestStop();
  });
  ScheduleBlockTimer();
  work_.emplace(io_.get_executor());
  io_.run();  // a stop requested before Run is already posted and runs first

  if (shutdown_thread_.joinable()) shutdown_thread_.join();
  server_->Shutdown();  // no-op when the shutdown thread did it
  server_->Wait();
  head = ledger_->head();
  log_->info("stopped at height {} root {}", head.height(),
             ToHex(AsBytes(head.accumulator_root())));
  if (fatal_) {
    return MakeError(ErrorCode::kInternal, "stopped after a failed commit; see the log");
  }
  return {};
}

void Node::RequestStop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(commit_mu_);  // WaitTx checks stopping_ under it: no lost wake-up
  }
  commit_cv_.notify_all();
  // server_ and shutdown_thread_ belong to the io thread; a stop before Run is picked up there.
  boost::asio::post(io_, [this] { StartShutdownThread(); });
}

void Node::StartShutdownThread() {
  if (shutdown_thread_.joinable() || !server_) return;
  // gRPC shutdown waits for handlers in flight, which may wait on this io_context: so it runs
  // on its own thread, and the io_context is released only after it.
  shutdown_thread_ = std::thread([this] {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    boost::asio::post(io_, [this] {
      signals_.cancel();
      block_timer_.cancel();
      work_.reset();
      io_.stop();
    });
  });
}

Result<std::pair<Hash32, v1::TxBody>> Node::Precheck(const v1::SignedTx& tx) {
  if (stopping_) return MakeError(ErrorCode::kUnavailable, "node is shutting down");
  size_t size = tx.ByteSizeLong();
  if (size > config_.max_tx_bytes) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "transaction is " + std::to_string(size) + " bytes; the limit is " +
                         std::to_string(config_.max_tx_bytes));
  }
  auto body = ledger::proof::CheckTxEnvelope(tx, /*verify_signature=*/false);
  if (!body) return tl::unexpected(body.error());
  Hash32 id = ledger::proof::TxId(tx);
  auto committed = ledger_->HasTx(id);
  if (!committed) return tl::unexpected(committed.error());
  if (*committed) {
    return MakeError(ErrorCode::kAlreadyExists,
                     "tx " + ToHex(id) + " is already committed; a tx id is accepted once");
  }
  return std::make_pair(id, std::move(*body));
}

Result<Hash32> Node::Submit(const v1::SignedTx& tx) {
  auto results = SubmitMany({tx});
  MT_ASSERT(results.size() == 1);
  return std::move(results[0]);
}

std::vector<Result<Hash32>> Node::SubmitMany(const std::vector<v1::SignedTx>& txs) {
  // Envelopes first, then all signatures at once on the pool, then admission in order.
  std::vector<Result<std::pair<Hash32, v1::TxBody>>> checked;
  std::vector<crypto::VerifyJob> jobs;
  std::vector<size_t> job_of;
  for (size_t i = 0; i < txs.size(); ++i) {
    checked.push_back(Precheck(txs[i]));
    if (!checked.back()) continue;
    crypto::VerifyJob job;
    std::copy(txs[i].signer().begin(), txs[i].signer().end(), job.public_key.begin());
    std::copy(txs[i].signature().begin(), txs[i].signature().end(), job.signature.begin());
    job.msg32 = ledger::proof::TxSigningHash(AsBytes(txs[i].body()));
    jobs.push_back(job);
    job_of.push_back(i);
  }
  std::vector<bool> valid = verify_pool_.VerifyAll(jobs);
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!valid[j]) {
      checked[job_of[j]] = MakeError(ErrorCode::kInvalidArgument,
                                     "signature does not verify: it must be BIP340 by the "
                                     "signer over SHA256(\"minetrace/tx/v1\" || body)");
    }
  }
  std::vector<Result<Hash32>> out;
  for (size_t i = 0; i < txs.size(); ++i) {
    if (!checked[i]) {
      out.push_back(tl::unexpected(checked[i].error()));
    } else {
      out.push_back(AdmitOnIo(checked[i]->first, std::move(checked[i]->second), txs[i]));
    }
  }
  return out;
}

Result<Hash32> Node::AdmitOnIo(const Hash32& tx_id, v1::TxBody body, const v1::SignedTx& tx) {
  if (stopping_) return MakeError(ErrorCode::kUnavailable, "node is shutting down");
  auto done = std::make_shared<std::promise<Result<void>>>();
  auto result = done->get_future();
  boost::asio::post(io_, [this, done, tx_id, body = std::move(body), tx] {
    done->set_value(Admit(tx_id, body, tx));
  });
  // The io_context runs until shutdown, and gRPC shutdown (which waits for this handler)
  // happens before it stops, so the promise is always fulfilled; the wait is bounded anyway.
  if (result.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return MakeError(ErrorCode::kUnavailable, "node is busy or shutting down; retry");
  }
  auto admitted = result.get();
  if (!admitted) return tl::unexpected(admitted.error());
  return tx_id;
}

Result<void> Node::Admit(const Hash32& tx_id, const v1::TxBody& body, const v1::SignedTx& tx) {
  if (stopping_ || fatal_) return MakeError(ErrorCode::kUnavailable, "node is shutting down");
  if (mempool_.Contains(tx_id)) {
    return MakeError(ErrorCode::kAlreadyExists,
                     "tx " + ToHex(tx_id) + " is already pending; it will commit once");
  }
  auto committed = ledger_->HasTx(tx_id);
  if (!committed) return tl::unexpected(committed.error());
  if (*committed) {
    return MakeError(ErrorCode::kAlreadyExists,
                     "tx " + ToHex(tx_id) + " is already committed; a tx id is accepted once");
  }
  // Fail fast on a full pool before touching the admission state.
  if (mempool_.size() >= config_.mempool_max_txs ||
      mempool_.bytes() + tx.ByteSizeLong() > config_.mempool_max_bytes) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "mempool is full; retry after the next block");
  }
  MT_TRY(ledger_->CheckTx(*pending_state_, body, tx.signer(), clock_.NowUnixMs()));
  MT_ASSERT(mempool_.Add(tx_id, tx).has_value());
  {
    std::lock_guard lock(commit_mu_);
    pending_ids_.insert(tx_id);
  }
  UpdateMempoolGauges();
  if (mempool_.size() >= config_.block_max_txs) {
    boost::asio::post(io_, [this] { CutBlock(); });
  }
  return {};
}

void Node::ScheduleBlockTimer() {
  block_timer_.expires_after(config_.block_interval);
  block_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    CutBlock();
    ScheduleBlockTimer();
  });
}

void Node::CutBlock() {
  if (fatal_ || mempool_.size() == 0) return;
  std::vector<v1::SignedTx> txs = mempool_.Take(config_.block_max_txs);
  auto committed = ledger_->ExecuteAndCommit(
      txs, clock_.NowUnixMs(), key_,
      [](const Hash32&) { return true; });  // every mempool tx was verified on admission
  if (!committed) {
    // The ledger is unchanged, but a disk that refuses a synced write cannot be trusted to
    // take the next one: stop rather than diverge.
    log_->critical("block commit failed: {}", committed.error().ToString());
    fatal_ = true;
    RequestStop();
    return;
  }
  size_t failed = 0;
  for (const auto& rec : committed->txs) {
    mempool_.Forget(rec.tx_id);
    failed += rec.receipt.status() != v1::TX_STATUS_OK;
  }
  // The admission layer already holds the effects of every tx that committed OK; it needs a
  // rebuild only when a block outcome differs from admission (a FAILED receipt). It is also
  // rebuilt when nothing is pending, and every kRebuildEveryBlocks under steady load, so that
  // it never grows without bound.
  constexpr uint32_t kRebuildEveryBlocks = 64;
  if (failed > 0 || mempool_.size() == 0 || ++blocks_since_rebuild_ >= kRebuildEveryBlocks) {
    RebuildPendingState();
  }
  {
    std::lock_guard lock(commit_mu_);
    for (const auto& rec : committed->txs) pending_ids_.erase(rec.tx_id);
    ++commits_;
  }
  commit_cv_.notify_all();
  UpdateMempoolGauges();
  log_->info("committed block {} with {} txs ({} failed) root {} leaves {}",
             committed->ledger_info.height(), committed->txs.size(), failed,
             ToHex(AsBytes(committed->ledger_info.accumulator_root())).substr(0, 16),
             committed->ledger_info.leaf_count());
}

void Node::RebuildPendingState() {
  // Txs still pending were checked against the old state; replay them on the new one so
  // later admissions see their effects. One that no longer passes stays pending: it will
  // commit with a failed receipt that tells its sender why, instead of vanishing.
  pending_state_ = ledger_->NewPendingState();
  blocks_since_rebuild_ = 0;
  for (const auto& [id, tx] : mempool_.pending()) {
    v1::TxBody body;
    if (!body.ParseFromString(tx.body())) continue;
    (void)ledger_->CheckTx(*pending_state_, body, tx.signer(), clock_.NowUnixMs());
  }
}

void Node::UpdateMempoolGauges() {
  mempool_txs_ = mempool_.size();
  mempool_bytes_ = mempool_.bytes();
}

Result<ledger::TxRecord> Node::WaitTx(const Hash32& tx_id,
                                      std::chrono::steady_clock::time_point deadline) {
  while (true) {
    // Read the commit count first: a commit after the lookup below changes it, so the wait
    // that follows returns at once instead of missing the commit.
    uint64_t seen_commits;
    bool pending;
    {
      std::lock_guard lock(commit_mu_);
      seen_commits = commits_;
      pending = pending_ids_.count(tx_id) > 0;
    }
    auto rec = ledger_->GetTx(tx_id);  // outside the lock: waiters never slow commits
    if (!rec) return tl::unexpected(rec.error());
    if (rec->has_value()) return std::move(**rec);
    if (!pending) {
      return MakeError(ErrorCode::kNotFound,
                       "tx " + ToHex(tx_id) + " is neither pending nor committed; submit it");
    }
    std::unique_lock lock(commit_mu_);
    bool woke = commit_cv_.wait_until(lock, deadline, [&] {
      return stopping_ || commits_ != seen_commits;
    });
    if (stopping_) return MakeError(ErrorCode::kUnavailable, "node is shutting down");
    if (!woke) {
      return MakeError(ErrorCode::kDeadlineExceeded,
                       "tx " + ToHex(tx_id) + " is pending but not committed yet");
    }
  }
}

}  // namespace minetrace::node
