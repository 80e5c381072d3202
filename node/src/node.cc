#include "minetrace/node/node.h"

#include <csignal>
#include <future>

#include <boost/asio/post.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include "consensus_codec.h"
#include "consensus_driver.h"
#include "grpc_services.h"
#include "peer_transport.h"
#include "minetrace/base/assert.h"
#include "minetrace/crypto/sha256.h"
#include "minetrace/ledger/proof/genesis.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::node {
namespace {

constexpr uint32_t kSyncBatchBlocks = 64;
constexpr std::chrono::milliseconds kInitialSyncWait{3000};
// A validator this far behind its peers catches up by sync; closer, the engine fetches.
constexpr uint64_t kValidatorSyncLagBlocks = 20;
// A sync answer aims at kSyncBatchBytes and never passes kSyncMaxBytes, under the peer
// transport's 16 MiB frame limit (a block's payload is at most 4 MiB: config).
constexpr uint64_t kSyncBatchBytes = 4ull << 20;
constexpr uint64_t kSyncMaxBytes = 12ull << 20;
// Committed txs whose writes the admission layer may keep beyond twice the pending ones
// before it is rebuilt (see OnCommitted). A rebuild replays every pending tx, so with 3,000
// pending under load a slack of 5,000 cost a third of a tx check per committed tx; 20,000
// costs an eighth, for some tens of MB more in the layer.
constexpr size_t kPendingStateSlackTxs = 20000;
// Gossip batches (up to 1000 txs each) waiting for their signature checks.
constexpr size_t kMaxGossipBatchesQueued = 64;
// As many txs as one gossip message may carry.
constexpr int kMaxGossipTxs = 1000;
// How often an observer sends its clients' still-pending txs to the validators again.
constexpr std::chrono::milliseconds kReforwardInterval{2000};

tl::unexpected<Error> AlreadyCommitted(const Hash32& tx_id) {
  return MakeError(ErrorCode::kAlreadyExists,
                   "tx " + ToHex(tx_id) + " is already committed; a tx id is accepted once");
}

tl::unexpected<Error> AlreadyPending(const Hash32& tx_id) {
  return MakeError(ErrorCode::kAlreadyExists,
                   "tx " + ToHex(tx_id) + " is already pending; it will commit once");
}

}  // namespace

Result<std::unique_ptr<Node>> Node::Create(const NodeConfig& config, const Clock& clock,
                                           std::shared_ptr<spdlog::logger> log) {
  auto genesis = ledger::proof::LoadGenesisFile(config.genesis_file);
  if (!genesis) return tl::unexpected(genesis.error());
  auto key = crypto::ReadKeyFile(config.key_file);
  if (!key) return tl::unexpected(key.error());
  auto ledger = ledger::Ledger::Open(config.data_dir, *genesis);
  if (!ledger) return tl::unexpected(ledger.error());
  consensus::ValidatorSet validators;
  std::optional<consensus::ValidatorIndex> self;
  for (const auto& v : genesis->validators()) {
    crypto::PublicKey k{};
    if (v.key().size() != k.size()) {
      return MakeError(ErrorCode::kInvalidArgument, "genesis: a validator key is not 32 bytes");
    }
    std::copy(v.key().begin(), v.key().end(), k.begin());
    if (k == key->public_key()) self = static_cast<consensus::ValidatorIndex>(validators.size());
    validators.keys.push_back(k);
  }
  if (validators.size() == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "genesis names no validators");
  }
  return std::unique_ptr<Node>(new Node(config, clock, std::move(log), std::move(*key),
                                        std::move(*ledger), std::move(validators), self));
}

Node::Node(NodeConfig config, const Clock& clock, std::shared_ptr<spdlog::logger> log,
           crypto::PrivateKey key, std::unique_ptr<ledger::Ledger> ledger,
           consensus::ValidatorSet validators, std::optional<consensus::ValidatorIndex> self)
    : config_(std::move(config)),
      clock_(clock),
      log_(std::move(log)),
      key_(std::move(key)),
      ledger_(std::move(ledger)),
      verify_pool_(config_.verify_threads != 0 ? config_.verify_threads
                                               : std::max(1u, std::thread::hardware_concurrency())),
      validators_(std::move(validators)),
      self_(self),
      // A hash of the private key under a tag of its own: secret like the key, and the key
      // cannot be learnt from it.
      tx_id_hash_(crypto::DomainHash("minetrace/node/tx-id-table/v1", key_.secret())),
      mempool_(config_.mempool_max_txs, config_.mempool_max_bytes, tx_id_hash_) {
  pending_state_ = ledger_->NewPendingState();
  announced_height_ = ledger_->head().height();
}

Node::~Node() {
  StopGossipChecker();
  if (shutdown_thread_.joinable()) shutdown_thread_.join();
  server_.reset();  // before the services it points to
}

void Node::StopGossipChecker() {
  gossip_work_.reset();
  gossip_io_.stop();
  if (gossip_thread_.joinable()) gossip_thread_.join();
}

Result<void> Node::Run() {
  services_ = MakeGrpcServices(*this);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(config_.grpc_listen, grpc::InsecureServerCredentials(), &bound_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_request_bytes));
  // Without this, gRPC binds with SO_REUSEPORT and a second node on the same port starts.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (auto& s : services_) builder.RegisterService(s.get());
  server_ = builder.BuildAndStart();
  if (!server_ || bound_port == 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot listen for gRPC on " + config_.grpc_listen +
                         " (address in use or not local?)");
  }
  if (auto started = StartNetwork(); !started) {
    server_->Shutdown();
    server_->Wait();
    return started;
  }
  v1::LedgerInfo head = ledger_->head();
  log_->info("minetrace-node {} ({}) serving gRPC on {}, peers on {} | chain {} height {} "
             "leaves {} root {}",
             ToHex(key_.public_key()).substr(0, 16),
             self_ ? "validator " + std::to_string(*self_) : std::string("observer"),
             config_.grpc_listen, config_.peer_listen, ledger_->genesis().chain_id(),
             head.height(), head.leaf_count(), ToHex(AsBytes(head.accumulator_root())));

  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    log_->info("signal {} received: shutting down", signo);
    RequestStop();
  });
  backup_signal_.add(SIGUSR1);
  AwaitBackupSignal();
  work_.emplace(io_.get_executor());
  gossip_work_.emplace(gossip_io_.get_executor());
  gossip_thread_ = std::thread([this] { gossip_io_.run(); });
  io_.run();  // a stop requested before Run is already posted and runs first
  StopGossipChecker();  // its last admissions are posted to a stopped io_: dropped

  if (shutdown_thread_.joinable()) shutdown_thread_.join();
  server_->Shutdown();  // no-op when the shutdown thread did it
  server_->Wait();
  if (driver_) driver_->Stop();
  if (transport_) transport_->Stop();
  head = ledger_->head();
  log_->info("stopped at height {} root {}", head.height(),
             ToHex(AsBytes(head.accumulator_root())));
  if (fatal_) {
    return MakeError(ErrorCode::kInternal, "stopped after a failed write; see the log");
  }
  return {};
}

Result<void> Node::StartNetwork() {
  PeerTransportConfig tc;
  tc.chain_id = ledger_->genesis().chain_id();
  tc.genesis_hash = ledger_->genesis_hash();
  tc.listen = config_.peer_listen;
  tc.self_is_validator = self_.has_value();
  tc.tls_cert_file = config_.tls_cert_file.string();
  tc.tls_key_file = config_.tls_key_file.string();
  tc.tls_ca_file = config_.tls_ca_file.string();
  tc.admitted = validators_.keys;
  for (const auto& hex : config_.observer_keys_hex) {
    auto k = FromHex(hex);
    crypto::PublicKey key{};
    if (!k || k->size() != key.size()) {
      return MakeError(ErrorCode::kInvalidArgument, "config: bad observer key " + hex);
    }
    std::copy(k->begin(), k->end(), key.begin());
    tc.admitted.push_back(key);
  }
  for (const auto& p : config_.peers) {
    auto k = FromHex(p.key_hex);
    PeerAddress peer;
    if (!k || k->size() != peer.key.size()) {
      return MakeError(ErrorCode::kInvalidArgument, "config: bad peer key " + p.key_hex);
    }
    std::copy(k->begin(), k->end(), peer.key.begin());
    if (peer.key == key_.public_key()) continue;
    peer.address = p.address;
    peer.validator = validators_.IndexOf(peer.key).has_value();
    tc.peers.push_back(std::move(peer));
  }
  PeerTransport::Handlers handlers;
  handlers.on_message = [this](const crypto::PublicKey& from, std::string&& bytes) {
    OnPeerMessage(from, std::move(bytes));
  };
  handlers.on_connected = [](const crypto::PublicKey&) {};  // the transport logs these
  handlers.on_disconnected = [](const crypto::PublicKey&) {};
  transport_ = std::make_unique<PeerTransport>(io_, key_, std::move(tc), log_, handlers);
  MT_TRY(transport_->Start());

  if (self_) {
    DriverConfig dc;
    dc.block_interval = config_.block_interval;
    dc.block_max_txs = config_.block_max_txs;
    dc.block_max_bytes = config_.block_max_bytes;
    dc.round_timeout = config_.round_timeout;
    dc.max_pending_blocks = config_.max_pending_blocks;
    ConsensusDriver::Hooks hooks;
    hooks.send = [this](consensus::ValidatorIndex to, const v1::PeerMessage& m) {
      SendToValidator(to, m);
    };
    hooks.broadcast = [this](const v1::PeerMessage& m) { BroadcastToValidators(m); };
    hooks.select_txs = [this](const std::function<bool(const Hash32&)>& exclude) {
      return mempool_.Select(config_.block_max_txs, config_.block_max_bytes, exclude);
    };
    hooks.signature_checked = [this](const Hash32& id, const v1::SignedTx& tx) {
      return mempool_.SignatureChecked(id, tx);
    };
    hooks.committed = [this](const ledger::CommittedBlock& b) { OnCommitted(b); };
    hooks.fatal = [this](const std::string& why) { Fatal(why); };
    driver_ = std::make_unique<ConsensusDriver>(io_, *ledger_, clock_, key_, validators_, *self_,
                                                dc, verify_pool_, log_, std::move(hooks));
    // A restarted validator first catches up from its peers, then joins consensus; alone in
    // the network, or when no peer answers in time, it starts from what it has.
    if (validators_.size() == 1) {
      MT_TRY(StartConsensus());
    } else {
      initial_sync_deadline_ = std::chrono::steady_clock::now() + kInitialSyncWait;
    }
  }
  ScheduleSync();
  if (!driver_) ScheduleReforward();
  return {};
}

Result<void> Node::StartConsensus() {
  MT_ASSERT(driver_ && !consensus_started_);
  consensus_started_ = true;
  return driver_->Start();
}

void Node::AwaitBackupSignal() {
  backup_signal_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec || stopping_) return;
    WriteCheckpoint();
    AwaitBackupSignal();
  });
}

// Runs on the io thread, which also commits: the checkpoint falls between two blocks.
void Node::WriteCheckpoint() {
  const uint64_t height = ledger_->head().height();
  std::error_code ec;
  std::filesystem::create_directories(config_.backup_dir, ec);
  std::filesystem::path dir =
      config_.backup_dir / ("height-" + std::to_string(height) + "-" +
                            std::to_string(clock_.NowUnixMs()));
  auto written = ledger_->Checkpoint(dir);
  if (!written) {
    log_->error("backup: {}", written.error().ToString());
    return;
  }
  log_->info("backup: checkpoint at height {} written to {}", height, dir.string());
}

void Node::Fatal(const std::string& why) {
  // The ledger is unchanged, but a disk that refuses a synced write cannot be trusted to
  // take the next one: stop rather than diverge.
  log_->critical("{}", why);
  fatal_ = true;
  RequestStop();
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
      backup_signal_.cancel();
      sync_timer_.cancel();
      reforward_timer_.cancel();
      if (driver_) driver_->Stop();
      if (transport_) transport_->Stop();
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
    return AlreadyCommitted(id);
  }
  // Before its signature check: an observer sends its pending txs again until they commit.
  bool pending;
  {
    std::lock_guard lock(commit_mu_);
    pending = pending_ids_.contains(id);
  }
  if (pending) {
    return AlreadyPending(id);
  }
  return std::make_pair(id, std::move(*body));
}

Result<Hash32> Node::Submit(const v1::SignedTx& tx) {
  auto results = SubmitMany({tx});
  MT_ASSERT(results.size() == 1);
  return std::move(results[0]);
}

std::vector<Result<std::pair<Hash32, v1::TxBody>>> Node::CheckTxs(
    const std::vector<v1::SignedTx>& txs) {
  // Envelopes first, then all signatures at once on the pool.
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
  return checked;
}

std::vector<Result<Hash32>> Node::SubmitMany(const std::vector<v1::SignedTx>& txs) {
  // Signatures are checked here, on the gRPC thread and the verify pool; the whole batch is
  // then admitted in one io task (one hop and one wait per request, not per tx).
  struct Batch {
    std::vector<Result<std::pair<Hash32, v1::TxBody>>> checked;
    std::vector<v1::SignedTx> txs;
  };
  auto batch = std::make_shared<Batch>();
  batch->checked = CheckTxs(txs);
  batch->txs = txs;
  auto unavailable = [&](const std::string& why) {
    std::vector<Result<Hash32>> out;
    for (const auto& c : batch->checked) {
      out.push_back(c ? Result<Hash32>(MakeError(ErrorCode::kUnavailable, why))
                      : Result<Hash32>(tl::unexpected(c.error())));
    }
    return out;
  };
  if (stopping_) return unavailable("node is shutting down");
  auto done = std::make_shared<std::promise<std::vector<Result<Hash32>>>>();
  auto result = done->get_future();
  boost::asio::post(io_, [this, done, batch] {
    std::vector<Result<Hash32>> out;
    std::vector<v1::SignedTx> admitted;
    for (size_t i = 0; i < batch->txs.size(); ++i) {
      auto& c = batch->checked[i];
      if (!c) {
        out.push_back(tl::unexpected(c.error()));
        continue;
      }
      auto ok = Admit(c->first, c->second, batch->txs[i]);
      if (!ok) {
        out.push_back(tl::unexpected(ok.error()));
        continue;
      }
      out.push_back(c->first);
      admitted.push_back(std::move(batch->txs[i]));
    }
    if (!admitted.empty()) Forward(admitted);
    done->set_value(std::move(out));
  });
  // The io_context runs until shutdown, and gRPC shutdown (which waits for this handler)
  // happens before it stops, so the promise is always fulfilled; the wait is bounded anyway.
  if (result.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return unavailable("node is busy or shutting down; retry");
  }
  return result.get();
}

Result<void> Node::Admit(const Hash32& tx_id, const v1::TxBody& body, const v1::SignedTx& tx) {
  if (stopping_ || fatal_) return MakeError(ErrorCode::kUnavailable, "node is shutting down");
  if (mempool_.Contains(tx_id)) {
    return AlreadyPending(tx_id);
  }
  auto committed = ledger_->HasTx(tx_id);
  if (!committed) return tl::unexpected(committed.error());
  if (*committed) {
    return AlreadyCommitted(tx_id);
  }
  // Fail fast on a full pool before touching the admission state.
  if (mempool_.size() >= config_.mempool_max_txs ||
      mempool_.bytes() + tx.ByteSizeLong() > config_.mempool_max_bytes) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "mempool is full; retry after the next block");
  }
  MT_TRY(ledger_->CheckTx(*pending_state_, body, tx.signer(), clock_.NowUnixMs()));
  ++pending_state_txs_;
  MT_ASSERT(mempool_.Add(tx_id, tx).has_value());
  {
    std::lock_guard lock(commit_mu_);
    pending_ids_.insert(tx_id);
  }
  UpdateMempoolGauges();
  // A leader waiting for txs proposes once the admissions queued now are done, not on the
  // first of a batch.
  if (driver_ && !proposal_wakeup_posted_) {
    proposal_wakeup_posted_ = true;
    boost::asio::post(io_, [this] {
      proposal_wakeup_posted_ = false;
      if (driver_) driver_->OnTxsAdmitted();
    });
  }
  return {};
}

// Txs a client gave this node go to every validator, so that whichever leads next proposes
// them; a validator does not forward what it got from a peer (every validator got it).
void Node::Forward(const std::vector<v1::SignedTx>& txs) {
  if (!transport_ || stopping_) return;
  v1::PeerMessage m;
  for (const auto& tx : txs) *m.mutable_txs()->add_txs() = tx;
  BroadcastToValidators(m);
}

// An observer never proposes: a tx of its clients commits only once a validator has it. A
// forward lost on the way (no validator connected yet, a link that dropped with the frame
// queued) would leave the tx pending here for ever, so what is still pending a tick later is
// sent again; validators drop what they already have before checking its signature.
void Node::ScheduleReforward() {
  reforward_timer_.expires_after(kReforwardInterval);
  reforward_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    auto txs = mempool_.OldestAdmittedBefore(reforward_mark_, kMaxGossipTxs);
    reforward_mark_ = mempool_.admissions();
    if (!txs.empty()) {
      log_->debug("forwarding again {} txs pending for over {} ms", txs.size(),
                  kReforwardInterval.count());
      Forward(txs);
    }
    ScheduleReforward();
  });
}

void Node::OnTxGossip(const v1::TxGossip& gossip) {
  // As many as one SubmitTxs may carry: a node forwards each client batch as it came.
  if (gossip.txs_size() > kMaxGossipTxs) {
    log_->debug("dropped a gossip message of {} txs (at most {})", gossip.txs_size(),
                kMaxGossipTxs);
    return;
  }
  // Signatures are checked off the io thread (which must not wait on the verify pool while
  // consensus and execution wait on it), one batch after another in arrival order; the
  // admissions come back to the io thread. A peer that floods faster than the checks run
  // loses batches beyond the bound; their txs still reach this node in blocks.
  if (gossip_batches_queued_ >= kMaxGossipBatchesQueued) {
    log_->debug("dropped a gossip message of {} txs: {} batches wait for their checks",
                gossip.txs_size(), gossip_batches_queued_);
    return;
  }
  ++gossip_batches_queued_;
  auto txs = std::make_shared<std::vector<v1::SignedTx>>(gossip.txs().begin(), gossip.txs().end());
  boost::asio::post(gossip_io_, [this, txs] {
    // Peers are admitted validators or observers, but their txs are checked like a client's.
    auto checked = std::make_shared<std::vector<Result<std::pair<Hash32, v1::TxBody>>>>(
        CheckTxs(*txs));
    boost::asio::post(io_, [this, txs, checked] {
      --gossip_batches_queued_;
      for (size_t i = 0; i < txs->size(); ++i) {
        auto& c = (*checked)[i];
        if (!c) continue;  // already committed, malformed: the sender's client was told
        (void)Admit(c->first, c->second, (*txs)[i]);
      }
    });
  });
}

void Node::SendToValidator(consensus::ValidatorIndex to, const v1::PeerMessage& message) {
  if (!transport_ || to >= validators_.size()) return;
  transport_->Send(validators_.keys[to], message.SerializeAsString());
}

void Node::BroadcastToValidators(const v1::PeerMessage& message) {
  if (!transport_) return;
  std::string bytes = message.SerializeAsString();
  for (const auto& key : validators_.keys) {
    if (key != key_.public_key()) transport_->Send(key, bytes);
  }
}

void Node::OnPeerMessage(const crypto::PublicKey& from, std::string&& bytes) {
  if (stopping_ || fatal_) return;
  v1::PeerMessage m;
  if (!m.ParseFromString(bytes)) {
    log_->debug("peer {} sent a message that does not parse", ToHex(from).substr(0, 16));
    return;
  }
  switch (m.kind_case()) {
    case v1::PeerMessage::kConsensus: {
      auto index = validators_.IndexOf(from);
      if (!driver_ || !index) return;  // observers take no part in consensus
      auto message = MessageFromProto(m.consensus());
      if (!message) {
        log_->debug("validator {} sent a bad consensus message: {}", *index,
                    message.error().message);
        return;
      }
      driver_->OnMessage(*index, std::move(*message));
      return;
    }
    case v1::PeerMessage::kTxs:
      OnTxGossip(m.txs());
      return;
    case v1::PeerMessage::kSyncRequest:
      ServeSync(from, m.sync_request());
      return;
    case v1::PeerMessage::kSyncResponse:
      ApplySync(from, m.sync_response());
      return;
    case v1::PeerMessage::KIND_NOT_SET:
      return;
  }
}

void Node::OnCommitted(const ledger::CommittedBlock& committed) {
  AnnounceCommit(committed);
  // The admission layer (pending_state_) holds the effects of every tx admitted here, over
  // the committed state. A tx of the block that was pending here and applied in the layer
  // changed the committed state by effects the layer already holds. One that succeeded but
  // was not pending here (admitted elsewhere, its gossip not checked yet) is applied to the
  // layer now, in block order. The layer is wrong, and the pending txs are replayed over the
  // new state, when such a tx does not apply (it conflicts with a pending one), when a tx
  // that the layer applied failed or was skipped, or when an unapplied pending one succeeded.
  // Replaying after every block cost O(pending) per block (quadratic under load).
  bool stale = false;
  size_t failed = 0;
  const int64_t now_ms = clock_.NowUnixMs();
  v1::TxBody body;
  for (const auto& rec : committed.txs) {
    const bool ok = rec.receipt.status() == v1::TX_STATUS_OK;
    failed += !ok;
    if (stale) continue;
    const bool pending = mempool_.Contains(rec.tx_id);
    const bool applied = pending && !pending_unapplied_.contains(rec.tx_id);
    if (ok && !pending) {
      stale = !body.ParseFromString(rec.tx.body()) ||
              !ledger_->CheckTx(*pending_state_, body, rec.tx.signer(), now_ms);
      pending_state_txs_ += !stale;
    } else {
      stale = ok != applied;
    }
  }
  for (const auto& skipped : committed.skipped) {
    stale = stale ||
            (mempool_.Contains(skipped.tx_id) && !pending_unapplied_.contains(skipped.tx_id));
  }
  for (const auto& rec : committed.txs) mempool_.Remove(rec.tx_id);
  for (const auto& skipped : committed.skipped) mempool_.Remove(skipped.tx_id);
  // The layer keeps the writes of committed txs (they now shadow equal committed records):
  // once it holds more than twice the pending txs, it is rebuilt, which bounds its memory
  // and keeps the replays amortised O(1) per tx.
  if (stale || pending_state_txs_ > 2 * mempool_.size() + kPendingStateSlackTxs) {
    RebuildPendingState();
  }
  {
    std::lock_guard lock(commit_mu_);
    for (const auto& rec : committed.txs) pending_ids_.erase(rec.tx_id);
    for (const auto& skipped : committed.skipped) pending_ids_.erase(skipped.tx_id);
    ++commits_;
  }
  commit_cv_.notify_all();
  UpdateMempoolGauges();
  if (!committed.txs.empty() || !committed.skipped.empty()) {
    log_->info("committed block {} with {} txs ({} failed, {} skipped) root {} leaves {}",
               committed.ledger_info.height(), committed.txs.size(), failed,
               committed.skipped.size(),
               ToHex(AsBytes(committed.ledger_info.accumulator_root())).substr(0, 16),
               committed.ledger_info.leaf_count());
  } else {
    log_->debug("committed empty block {}", committed.ledger_info.height());
  }
}

Result<v1::StatusResponse> Node::NetworkStatus() {
  if (stopping_) return MakeError(ErrorCode::kUnavailable, "node is shutting down");
  auto done = std::make_shared<std::promise<v1::StatusResponse>>();
  auto result = done->get_future();
  boost::asio::post(io_, [this, done] {
    v1::StatusResponse s;
    s.set_role(self_ ? "validator" : "observer");
    if (driver_) {
      s.set_round(driver_->round());
      s.set_misbehaviour_reports(driver_->peer_reports());
    }
    if (transport_) {
      for (const auto& p : transport_->Peers()) {
        v1::PeerStatus* peer = s.add_peers();
        peer->set_key(std::string(p.key.begin(), p.key.end()));
        peer->set_address(p.address);
        peer->set_connected(p.connected);
        peer->set_validator(validators_.IndexOf(p.key).has_value());
        peer->set_last_error(p.last_error);
        peer->set_frames_in(p.frames_in);
        peer->set_frames_out(p.frames_out);
      }
    }
    done->set_value(std::move(s));
  });
  if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    return MakeError(ErrorCode::kUnavailable, "node is busy; retry");
  }
  return result.get();
}

// ---- block sync ----

void Node::ScheduleSync() {
  // An observer follows the head by sync alone; a validator only checks that it has not
  // fallen behind.
  bool following = !driver_ || !consensus_started_;
  sync_timer_.expires_after(following ? std::chrono::milliseconds(200)
                                      : std::chrono::milliseconds(1000));
  sync_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    if (driver_ && !consensus_started_ &&
        std::chrono::steady_clock::now() >= initial_sync_deadline_) {
      log_->info("sync: no peer answered within {} ms; joining consensus at height {}",
                 kInitialSyncWait.count(), ledger_->head().height());
      if (auto started = StartConsensus(); !started) return Fatal(started.error().ToString());
    }
    RequestSync();
    ScheduleSync();
  });
}

void Node::RequestSync() {
  // One ask at a time; a peer that does not answer is given up on (sooner while a starting
  // validator waits to join consensus), and the next is asked.
  const auto timeout = driver_ && !consensus_started_ ? std::chrono::milliseconds(1000)
                                                      : std::chrono::milliseconds(5000);
  auto now = std::chrono::steady_clock::now();
  if (sync_peer_ && now - sync_sent_at_ < timeout) return;
  sync_peer_.reset();
  std::vector<crypto::PublicKey> connected;
  for (const auto& p : transport_->Peers()) {
    if (p.connected && validators_.IndexOf(p.key)) connected.push_back(p.key);
  }
  if (connected.empty()) return;
  const crypto::PublicKey& peer = connected[sync_cursor_++ % connected.size()];
  SendSyncRequest(peer, consensus_started_ ? 0 : kSyncBatchBlocks);
}

void Node::SendSyncRequest(const crypto::PublicKey& peer, uint32_t max_blocks) {
  auto now = std::chrono::steady_clock::now();
  v1::PeerMessage m;
  m.mutable_sync_request()->set_from_height(ledger_->head().height() + 1);
  // A validator in consensus first asks for the peer's height only (max_blocks 0).
  m.mutable_sync_request()->set_max_blocks(max_blocks);
  if (transport_->Send(peer, m.SerializeAsString())) {
    sync_peer_ = peer;
    sync_sent_at_ = now;
  }
}

void Node::ServeSync(const crypto::PublicKey& from, const v1::SyncRequest& request) {
  const uint64_t head = ledger_->head().height();
  v1::PeerMessage m;
  v1::SyncResponse* response = m.mutable_sync_response();
  response->set_committed_height(head);
  const uint64_t max_blocks = std::min<uint64_t>(request.max_blocks(), kSyncBatchBlocks);
  uint64_t bytes = 0;
  // Blocks up to one that carries its commit proof, which a batch must end with to be
  // applied (the head block always carries one), within the frame limit.
  for (uint64_t h = std::max<uint64_t>(request.from_height(), 1);
       h <= head && static_cast<uint64_t>(response->blocks_size()) < 4 * max_blocks; ++h) {
    auto raw = ledger_->GetCertificate(h);
    if (!raw || !raw->has_value()) break;
    if (response->blocks_size() > 0 && bytes + (*raw)->size() > kSyncMaxBytes) break;
    v1::CommittedBlock* cert = response->add_blocks();
    if (!cert->ParseFromString(**raw)) {
      response->mutable_blocks()->RemoveLast();
      break;
    }
    bytes += (*raw)->size();
    bool full = static_cast<uint64_t>(response->blocks_size()) >= max_blocks ||
                bytes >= kSyncBatchBytes;
    if (full && cert->has_commit_qc()) break;
  }
  if (!transport_->Send(from, m.SerializeAsString())) {
    log_->debug("sync: answer to {} dropped (not connected or queue full)",
                ToHex(from).substr(0, 16));
  }
}

// Verifies a batch of committed blocks from a peer and applies the longest prefix that ends
// with a commit proof: linked by parent ids to this node's head, each certified by a quorum,
// the last one committed by a 2-chain (a QC over its child of the next round). A faulty peer
// can thus withhold blocks but never make this node apply a block that did not commit.
void Node::ApplySync(const crypto::PublicKey& from, const v1::SyncResponse& response) {
  if (!sync_peer_ || *sync_peer_ != from) return;  // not the answer to our ask
  sync_peer_.reset();
  // A validator a few blocks behind catches up through consensus itself (the engine fetches
  // what it misses); sync takes over only when it is far behind.
  if (driver_ && consensus_started_ && response.blocks_size() == 0) {
    // The answer to a height-only ask: fetch blocks only when far behind (unverified, the
    // height only triggers an ask; what is applied is verified).
    if (response.committed_height() >= ledger_->head().height() + kValidatorSyncLagBlocks) {
      SendSyncRequest(from, kSyncBatchBlocks);
    }
    return;
  }
  auto head_block = CommittedHead(*ledger_);
  if (!head_block) return Fatal(head_block.error().ToString());
  const Hash32 parent = consensus::BlockId(head_block->block.header);
  uint64_t height = ledger_->head().height();
  auto refuse = [&](const std::string& why) {
    log_->warn("sync: refused blocks from {}: {}", ToHex(from).substr(0, 16), why);
  };
  size_t provable = 0;  // blocks [0, provable) end with a commit proof
  std::vector<consensus::Block> blocks;
  for (const auto& cert : response.blocks()) {
    auto block = BlockFromProto(cert.block());
    auto qc = QcFromProto(cert.qc());
    if (!block || !qc) return refuse("a block or QC is malformed");
    Hash32 id = consensus::BlockId(block->header);
    if (block->header.height != height + blocks.size() + 1 ||
        block->header.parent_id != (blocks.empty() ? parent
                                                   : consensus::BlockId(blocks.back().header))) {
      return refuse("block " + std::to_string(block->header.height) + " does not extend the chain");
    }
    if (qc->block_id != id) return refuse("a QC certifies another block");
    // The QC signs the header; the header binds the payload and names the proposer.
    if (crypto::Sha256(block->payload) != block->header.payload_hash) {
      return refuse("block " + std::to_string(block->header.height) +
                    "'s payload does not match its header");
    }
    if (block->header.proposer >= validators_.size()) {
      return refuse("block " + std::to_string(block->header.height) + " names no validator");
    }
    if (!crypto::VerifySchnorr(validators_.keys[block->header.proposer],
                               consensus::ProposalDigest(id), block->proposer_signature)) {
      return refuse("block " + std::to_string(block->header.height) +
                    " has a bad proposer signature");
    }
    if (auto problem = CheckLedgerRoot(*ledger_, block->header.ledger_root); !problem) {
      return refuse(problem.error().message);
    }
    if (auto problem = consensus::QcSignatureProblem(validators_, *qc)) {
      return refuse("QC of block " + std::to_string(block->header.height) + ": " + *problem);
    }
    blocks.push_back(std::move(*block));
    if (cert.has_commit_qc()) {
      auto child = HeaderFromProto(cert.commit_child());
      auto commit_qc = QcFromProto(cert.commit_qc());
      if (!child || !commit_qc) return refuse("a commit proof is malformed");
      if (child->parent_id != id || child->round != blocks.back().header.round + 1 ||
          commit_qc->block_id != consensus::BlockId(*child)) {
        return refuse("a commit proof does not prove a 2-chain");
      }
      if (auto problem = consensus::QcSignatureProblem(validators_, *commit_qc)) {
        return refuse("commit QC: " + *problem);
      }
      provable = blocks.size();
    }
  }
  for (size_t i = 0; i < provable; ++i) {
    ledger::BlockToExecute exec =
        CommittedBlockToExecute(blocks[i], validators_, response.blocks(static_cast<int>(i)));
    auto committed = ledger_->ExecuteAndCommit(
        exec, key_, [this](const Hash32& id, const v1::SignedTx& tx) {
          return mempool_.SignatureChecked(id, tx);
        });
    if (!committed) return Fatal("sync: block commit failed: " + committed.error().ToString());
    OnCommitted(*committed);
  }
  if (provable > 0) {
    // An observer syncs all the time; a validator only to catch up, which is worth a line.
    log_->log(driver_ ? spdlog::level::info : spdlog::level::debug,
              "sync: applied {} blocks up to height {} from {}", provable,
              ledger_->head().height(), ToHex(from).substr(0, 16));
  }
  if (driver_ && !consensus_started_ && response.committed_height() <= height + provable) {
    // Caught up with this peer (or it has nothing newer): join consensus from here.
    log_->info("sync: at height {} like {}; joining consensus", ledger_->head().height(),
               ToHex(from).substr(0, 16));
    if (auto started = StartConsensus(); !started) return Fatal(started.error().ToString());
    return;
  }
  if (provable == 0) return;
  if (driver_ && consensus_started_ &&
      ledger_->head().height() >= driver_->committed_root_height() + kValidatorSyncLagBlocks) {
    log_->info("sync: restarting consensus from height {}", ledger_->head().height());
    if (auto restarted = driver_->Restart(); !restarted) {
      return Fatal("consensus restart after sync failed: " + restarted.error().ToString());
    }
  }
  if (response.committed_height() > ledger_->head().height()) RequestSync();  // more to fetch
}

void Node::RebuildPendingState() {
  // Txs still pending were checked against the old state; replay them on the new one so
  // later admissions see their effects. One that no longer passes stays pending: it will
  // commit with a failed receipt that tells its sender why, instead of vanishing.
  pending_state_ = ledger_->NewPendingState();
  pending_state_txs_ = 0;
  pending_unapplied_.clear();
  if (mempool_.size() == 0) return;
  const int64_t now_ms = clock_.NowUnixMs();
  v1::TxBody body;
  mempool_.ForEach([&](const Hash32& id, const v1::SignedTx& tx) {
    if (!body.ParseFromString(tx.body()) ||
        !ledger_->CheckTx(*pending_state_, body, tx.signer(), now_ms)) {
      pending_unapplied_.insert(id);
      return;
    }
    ++pending_state_txs_;
  });
  // An observer never proposes: a tx of its own that no longer passes commits only if a
  // validator admitted it before the conflicting one, and no validator will admit it now.
  // Kept, it would stay pending here for ever; dropped, its waiters learn at once that it is
  // not pending (WaitTx: NOT_FOUND), and submitting it again says why it is refused.
  if (!self_ && !pending_unapplied_.empty()) {
    {
      std::lock_guard lock(commit_mu_);
      for (const auto& id : pending_unapplied_) pending_ids_.erase(id);
    }
    for (const auto& id : pending_unapplied_) mempool_.Remove(id);
    log_->info("dropped {} pending txs that no longer pass against the committed state",
               pending_unapplied_.size());
    pending_unapplied_.clear();
    commit_cv_.notify_all();
    UpdateMempoolGauges();
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

Result<uint64_t> Node::WaitForHeight(uint64_t height,
                                     std::chrono::steady_clock::time_point deadline) {
  // The announced height, not the ledger's head (published a little earlier): a stream that
  // sees a height always finds its summary in the ring.
  std::unique_lock lock(commit_mu_);
  commit_cv_.wait_until(lock, deadline,
                        [&] { return stopping_ || announced_height_ > height; });
  if (stopping_) return MakeError(ErrorCode::kUnavailable, "node is shutting down");
  return announced_height_;
}

void Node::AnnounceCommit(const ledger::CommittedBlock& committed) {
  // Built once here for every stream, from what the ledger just executed; before this, each
  // stream read the block back (block, txs, receipts) and rehashed every tx id.
  // The block holds the executed txs only (the skipped ones are not stored).
  MT_ASSERT(static_cast<size_t>(committed.block.txs_size()) == committed.txs.size());
  auto summary = std::make_shared<const CommitSummary>(
      SummarizeCommit(committed.ledger_info, committed.txs));
  std::lock_guard lock(commit_mu_);
  // Heights commit one by one: the ring never has a gap below the announced height.
  MT_ASSERT(committed.ledger_info.height() == announced_height_ + 1);
  recent_summaries_.Put(committed.ledger_info.height(), std::move(summary));
  announced_height_ = committed.ledger_info.height();
  // Waiters wake at OnCommitted's notify, after the admission work.
}

std::shared_ptr<const CommitSummary> Node::RecentCommitSummary(uint64_t height) const {
  std::lock_guard lock(commit_mu_);
  return recent_summaries_.Get(height);
}

CommitSummary SummarizeCommit(const v1::LedgerInfo& info,
                              std::span<const ledger::TxRecord> txs) {
  CommitSummary parts;
  parts.reserve(txs.size() / kMaxCommitSummaryTxs + 1);
  size_t next = 0;
  do {  // an empty block is one part without txs
    v1::CommittedBlockSummary& part = parts.emplace_back();
    part.set_height(info.height());
    part.set_accumulator_root(info.accumulator_root());
    part.set_leaf_count(info.leaf_count());
    part.set_block_time_ms(info.block_time_ms());
    const size_t end = std::min(txs.size(), next + kMaxCommitSummaryTxs);
    part.mutable_txs()->Reserve(static_cast<int>(end - next));
    for (; next < end; ++next) {
      const ledger::TxRecord& rec = txs[next];
      v1::CommittedTx* out = part.add_txs();
      out->set_tx_id(std::string(rec.tx_id.begin(), rec.tx_id.end()));
      out->set_status(rec.receipt.status());
      out->set_reason(rec.receipt.reason());
      out->set_error_code(rec.receipt.error_code());
    }
    part.set_continued(next < txs.size());
  } while (next < txs.size());
  return parts;
}

Result<CommitSummary> ReadCommitSummary(const ledger::Ledger& ledger, uint64_t height) {
  MT_ASSERT(height >= 1);
  auto info = ledger.GetLedgerInfo(height);
  if (!info) return tl::unexpected(info.error());
  auto parent = ledger.GetLedgerInfo(height - 1);
  if (!parent) return tl::unexpected(parent.error());
  if (!info->has_value() || !parent->has_value()) {
    return MakeError(ErrorCode::kDataLoss,
                     "block " + std::to_string(height) + " is committed but not stored");
  }
  // The block's executed txs are the leaves it added, in block order.
  const uint64_t first_leaf = (*parent)->leaf_count();
  const uint64_t end_leaf = (*info)->leaf_count();
  MT_ASSERT(first_leaf <= end_leaf);
  std::vector<ledger::TxRecord> txs;
  txs.reserve(end_leaf - first_leaf);
  for (uint64_t leaf = first_leaf; leaf < end_leaf; ++leaf) {
    auto rec = ledger.GetTxAtLeaf(leaf);
    if (!rec) return tl::unexpected(rec.error());
    txs.push_back(std::move(*rec));
  }
  return SummarizeCommit(**info, txs);
}

void CommitSummaryRing::Put(uint64_t height, std::shared_ptr<const CommitSummary> summary) {
  MT_ASSERT(summary != nullptr);
  Slot& slot = slots_[height % kCapacity];
  slot.height = height;
  slot.summary = std::move(summary);
}

std::shared_ptr<const CommitSummary> CommitSummaryRing::Get(uint64_t height) const {
  const Slot& slot = slots_[height % kCapacity];
  if (slot.summary == nullptr || slot.height != height) return nullptr;
  return slot.summary;
}

}  // namespace minetrace::node
