#include "consensus_driver.h"

#include <boost/asio/post.hpp>

#include "consensus_codec.h"
#include "minetrace/base/assert.h"
#include "minetrace/ledger/proof/merkle.h"
#include "minetrace/ledger/state.h"
#include "minetrace/ledger/proof/tx.h"
#include "minetrace/v1/node.pb.h"

namespace minetrace::node {
namespace {

constexpr std::string_view kSafetyKey = "safety";
constexpr std::string_view kBlockPrefix = "block/";        // + raw id -> ConsensusBlock
constexpr std::string_view kCommittedPrefix = "committed/";  // + raw id -> be64 height

std::string EvidenceKey(uint64_t sequence) {
  return std::string(kEvidencePrefix) + ledger::keys::Be64(sequence);
}

std::string RawId(const Hash32& id) { return std::string(id.begin(), id.end()); }
std::string BlockKey(const Hash32& id) { return std::string(kBlockPrefix) + RawId(id); }

Result<v1::BlockPayload> ParsePayload(const Bytes& payload) {
  v1::BlockPayload parsed;
  if (!parsed.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return MakeError(ErrorCode::kInvalidArgument, "payload is not a BlockPayload");
  }
  return parsed;
}

}  // namespace

consensus::Block GenesisBlockFor(const v1::LedgerInfo& genesis_info) {
  consensus::LedgerRoot root;
  MT_ASSERT(genesis_info.accumulator_root().size() == root.accumulator_root.size());
  std::copy(genesis_info.accumulator_root().begin(), genesis_info.accumulator_root().end(),
            root.accumulator_root.begin());
  return consensus::GenesisBlock(0, root);
}

Result<CertifiedBlock> CommittedHead(const ledger::Ledger& ledger) {
  const uint64_t head = ledger.head().height();
  if (head == 0) {
    auto genesis_info = ledger.GetLedgerInfo(0);
    if (!genesis_info) return tl::unexpected(genesis_info.error());
    if (!genesis_info->has_value()) {
      return MakeError(ErrorCode::kDataLoss, "the genesis ledger info is missing");
    }
    consensus::Block genesis = GenesisBlockFor(**genesis_info);
    consensus::QuorumCertificate qc = consensus::GenesisQc(genesis);
    return CertifiedBlock{std::move(genesis), std::move(qc)};
  }
  auto raw = ledger.GetCertificate(head);
  if (!raw) return tl::unexpected(raw.error());
  v1::CommittedBlock cert;
  if (!raw->has_value() || !cert.ParseFromString(**raw)) {
    return MakeError(ErrorCode::kDataLoss, "the certificate of the head block " +
                                               std::to_string(head) +
                                               " is missing or does not parse");
  }
  auto block = BlockFromProto(cert.block());
  auto qc = QcFromProto(cert.qc());
  if (!block || !qc) {
    return MakeError(ErrorCode::kDataLoss, "the head block's certificate is malformed");
  }
  return CertifiedBlock{std::move(*block), std::move(*qc)};
}

std::string CommittedBlockKey(const Hash32& id) {
  return std::string(kCommittedPrefix) + RawId(id);
}

ledger::BlockToExecute CommittedBlockToExecute(const consensus::Block& block,
                                               const consensus::ValidatorSet& validators,
                                               const v1::CommittedBlock& certificate) {
  ledger::BlockToExecute exec;
  exec.height = block.header.height;
  exec.round = block.header.round;
  exec.time_ms = block.header.timestamp_ms;
  MT_ASSERT(block.header.proposer < validators.size());  // checked by the engine or by sync
  const crypto::PublicKey& proposer = validators.keys[block.header.proposer];
  exec.proposer_key.assign(proposer.begin(), proposer.end());
  // A quorum certified the payload, so every replica parses the same bytes the same way;
  // one that does not parse is an empty block for all of them.
  if (auto payload = ParsePayload(block.payload)) {
    exec.txs.assign(payload->txs().begin(), payload->txs().end());
  }
  exec.certificate = certificate.SerializeAsString();
  exec.consensus_writes.push_back({ledger::Column::kConsensus,
                                   CommittedBlockKey(consensus::BlockId(block.header)),
                                   ledger::keys::Be64(exec.height)});
  return exec;
}

Result<void> CheckLedgerRoot(const ledger::Ledger& ledger, const consensus::LedgerRoot& root) {
  auto info = ledger.GetLedgerInfo(root.height);
  if (!info) return tl::unexpected(info.error());
  if (!info->has_value()) return {};  // not executed here yet: nothing to compare
  auto hash = Hash32FromBytes(AsBytes((*info)->accumulator_root()));
  if (!hash || *hash != root.accumulator_root || (*info)->leaf_count() != root.leaf_count) {
    return MakeError(ErrorCode::kDataLoss,
                     "a committed block certifies another ledger root at height " +
                         std::to_string(root.height) +
                         " than this node executed: this node's ledger diverged; stop and "
                         "restore it from a healthy node");
  }
  return {};
}

class ConsensusDriver::Signer final : public consensus::Signer {
 public:
  explicit Signer(const crypto::PrivateKey& key) : key_(key) {}
  crypto::Signature Sign(const Hash32& digest) override { return key_.Sign(digest, Hash32{}); }

 private:
  const crypto::PrivateKey& key_;
};

// The vote's gate on payload and ledger root (see the header comment).
class ConsensusDriver::Validator final : public consensus::PayloadValidator {
 public:
  explicit Validator(ConsensusDriver& driver) : d_(driver) {}

  Result<void> Validate(const consensus::Block& block, const consensus::Block& parent) override {
    const consensus::LedgerRoot& root = block.header.ledger_root;
    if (root.height < parent.header.ledger_root.height || root.height >= block.header.height) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "ledger root height " + std::to_string(root.height) +
                           " is below the parent's or not below the block's");
    }
    auto mine = d_.RootAt(root.height);
    if (!mine) return tl::unexpected(mine.error());
    if (!(*mine == root)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "ledger root at height " + std::to_string(root.height) +
                           " differs from this node's");
    }
    int64_t now = d_.clock_.NowUnixMs();
    if (block.header.timestamp_ms > now + d_.config_.max_clock_drift.count()) {
      return MakeError(ErrorCode::kInvalidArgument, "block time is ahead of this node's clock");
    }
    if (block.payload.size() > d_.config_.block_max_bytes) {
      return MakeError(ErrorCode::kInvalidArgument, "payload exceeds the block byte limit");
    }
    auto payload = ParsePayload(block.payload);
    if (!payload) return tl::unexpected(payload.error());
    if (payload->txs_size() > static_cast<int>(d_.config_.block_max_txs)) {
      return MakeError(ErrorCode::kInvalidArgument, "payload exceeds the block tx limit");
    }
    std::set<Hash32> ids;
    std::vector<crypto::VerifyJob> jobs;
    for (const auto& tx : payload->txs()) {
      Hash32 id = ledger::proof::TxId(tx);
      if (!ids.insert(id).second) {
        return MakeError(ErrorCode::kInvalidArgument, "payload repeats tx " + ToHex(id));
      }
      auto body = ledger::proof::CheckTxEnvelope(tx, /*verify_signature=*/false);
      if (!body) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "payload tx " + ToHex(id) + ": " + body.error().message);
      }
      if (body->chain_id() != d_.ledger_.genesis().chain_id()) {
        return MakeError(ErrorCode::kInvalidArgument, "payload tx " + ToHex(id) +
                                                          " is for another chain");
      }
      if (d_.hooks_.signature_checked(id, tx)) continue;
      crypto::VerifyJob job;
      std::copy(tx.signer().begin(), tx.signer().end(), job.public_key.begin());
      std::copy(tx.signature().begin(), tx.signature().end(), job.signature.begin());
      job.msg32 = ledger::proof::TxSigningHash(AsBytes(tx.body()));
      jobs.push_back(job);
    }
    for (bool ok : d_.verify_pool_.VerifyAll(jobs)) {
      if (!ok) return MakeError(ErrorCode::kInvalidArgument, "payload tx signature is invalid");
    }
    return {};
  }

 private:
  ConsensusDriver& d_;
};

ConsensusDriver::ConsensusDriver(boost::asio::io_context& io, ledger::Ledger& ledger,
                                 const Clock& clock, const crypto::PrivateKey& key,
                                 consensus::ValidatorSet validators,
                                 consensus::ValidatorIndex self, DriverConfig config,
                                 crypto::VerifyPool& verify_pool,
                                 std::shared_ptr<spdlog::logger> log, Hooks hooks)
    : io_(io),
      ledger_(ledger),
      clock_(clock),
      key_(key),
      validators_(std::move(validators)),
      self_(self),
      config_(config),
      verify_pool_(verify_pool),
      log_(std::move(log)),
      hooks_(std::move(hooks)),
      round_timer_(io),
      payload_timer_(io) {
  MT_ASSERT(self_ < validators_.size());
  signer_ = std::make_unique<Signer>(key_);
  validator_ = std::make_unique<Validator>(*this);
}

ConsensusDriver::~ConsensusDriver() = default;

Result<consensus::LedgerRoot> ConsensusDriver::RootAt(uint64_t height) const {
  auto info = ledger_.GetLedgerInfo(height);
  if (!info) return tl::unexpected(info.error());
  if (!info->has_value()) {
    return MakeError(ErrorCode::kUnavailable,
                     "no ledger root at height " + std::to_string(height) +
                         " yet (this node has committed " +
                         std::to_string(ledger_.head().height()) + ")");
  }
  consensus::LedgerRoot root;
  root.height = height;
  root.leaf_count = (*info)->leaf_count();
  auto hash = Hash32FromBytes(AsBytes((*info)->accumulator_root()));
  if (!hash) return MakeError(ErrorCode::kDataLoss, "stored ledger info has a bad root");
  root.accumulator_root = *hash;
  return root;
}

Result<void> ConsensusDriver::CheckCertifiedRoot(const consensus::LedgerRoot& root) const {
  return CheckLedgerRoot(ledger_, root);
}

Result<void> ConsensusDriver::Start() {
  consensus::RecoveryData recovery;
  auto safety_raw = ledger_.GetConsensusRecord(kSafetyKey);
  if (!safety_raw) return tl::unexpected(safety_raw.error());
  if (safety_raw->has_value()) {
    v1::SafetyRecord record;
    if (!record.ParseFromString(**safety_raw)) {
      return MakeError(ErrorCode::kDataLoss, "stored consensus safety data does not parse");
    }
    auto safety = SafetyFromProto(record);
    if (!safety) return MakeError(ErrorCode::kDataLoss, "stored safety data: " +
                                                            safety.error().message);
    recovery.safety = std::move(*safety);
  }
  auto root = CommittedHead(ledger_);
  if (!root) return tl::unexpected(root.error());
  recovery.committed_root = std::move(root->block);
  recovery.committed_root_qc = std::move(root->qc);
  Result<void> scanned = ledger_.ScanConsensusRecords(
      kBlockPrefix, [&](std::string_view, std::string_view value) {
        v1::ConsensusBlock proto;
        if (!proto.ParseFromArray(value.data(), static_cast<int>(value.size()))) return true;
        auto block = BlockFromProto(proto);
        if (!block) return true;
        Hash32 id = consensus::BlockId(block->header);
        persisted_[id] = block->header.round;
        Remember(*block);
        recovery.uncommitted.push_back(std::move(*block));
        return true;
      });
  if (!scanned) return tl::unexpected(scanned.error());
  evidence_stored_ = 0;
  MT_TRY(ledger_.ScanConsensusRecords(kEvidencePrefix, [&](std::string_view, std::string_view) {
    ++evidence_stored_;
    return true;
  }));
  evidence_sequence_ = evidence_stored_;  // sequences are 1..count: records are never deleted

  consensus::EngineConfig engine_config;
  engine_config.validators = validators_;
  engine_config.self = self_;
  engine_config.round_timeout_ms = config_.round_timeout.count();
  engine_config.round_timeout_max_ms = std::max<int64_t>(60000, config_.round_timeout.count());
  engine_config.max_pending_blocks = config_.max_pending_blocks;
  log_->info("consensus: validator {} of {}, committed root height {}, {} stored blocks",
             self_, validators_.size(), recovery.committed_root.header.height,
             recovery.uncommitted.size());
  engine_ = std::make_unique<consensus::Engine>(std::move(engine_config), *signer_, *validator_,
                                                std::move(recovery));
  Step(consensus::StartEvent{});
  return {};
}

void ConsensusDriver::Stop() {
  stopped_ = true;
  round_timer_.cancel();
  payload_timer_.cancel();
}

Result<void> ConsensusDriver::Restart() {
  round_timer_.cancel();
  payload_timer_.cancel();
  payload_request_.reset();
  known_.clear();
  persisted_.clear();
  engine_.reset();
  return Start();
}

uint64_t ConsensusDriver::committed_root_height() const {
  return engine_ ? engine_->committed_root().header.height : 0;
}

consensus::Round ConsensusDriver::round() const {
  return engine_ ? engine_->current_round() : 0;
}

void ConsensusDriver::OnMessage(consensus::ValidatorIndex from, consensus::Message message) {
  if (stopped_ || failed_ || !engine_) return;
  if (const auto* request = std::get_if<consensus::BlockRequest>(&message)) {
    if (ServeFromLedger(from, *request)) return;
  }
  // A block over the size limit would not get a vote anyway; refusing it here keeps it from
  // being stored (the engine persists a block before it validates the payload).
  const consensus::Block* block = nullptr;
  if (const auto* p = std::get_if<consensus::Proposal>(&message)) block = &p->block;
  if (const auto* r = std::get_if<consensus::BlockResponse>(&message)) block = &r->block;
  if (block != nullptr && block->payload.size() > config_.block_max_bytes) {
    ++peer_reports_;
    log_->warn("consensus: validator {} sent a block of {} bytes; the limit is {}", from,
               block->payload.size(), config_.block_max_bytes);
    return;
  }
  Step(consensus::MessageEvent{from, std::move(message)});
}

void ConsensusDriver::OnTxsAdmitted() {
  if (payload_request_) AnswerPayload();
}

void ConsensusDriver::Step(decltype(consensus::Event::kind) kind) {
  consensus::Event event;
  event.now_ms = clock_.NowUnixMs();
  event.kind = std::move(kind);
  Execute(engine_->Step(event));
}

void ConsensusDriver::Persist(const std::string& key, const std::string& value) {
  auto written = ledger_.WriteConsensusRecords({{ledger::Column::kConsensus, key, value}});
  if (!written) {
    failed_ = true;
    hooks_.fatal("cannot persist consensus data: " + written.error().ToString());
  }
}

void ConsensusDriver::Execute(std::vector<consensus::Action> actions) {
  bool committed = false;
  for (auto& action : actions) {
    // A failed synced write must stop everything after it: a vote must never leave without
    // the safety data that protects it on disk.
    if (failed_ || stopped_) return;
    std::visit(
        [&](auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, consensus::PersistSafetyAction>) {
            Persist(std::string(kSafetyKey), SafetyToProto(a.data).SerializeAsString());
          } else if constexpr (std::is_same_v<T, consensus::PersistBlockAction>) {
            Hash32 id = consensus::BlockId(a.block.header);
            Remember(a.block);
            if (!persisted_.contains(id)) {
              Persist(BlockKey(id), BlockToProto(a.block).SerializeAsString());
              persisted_[id] = a.block.header.round;
            }
          } else if constexpr (std::is_same_v<T, consensus::SendAction>) {
            v1::PeerMessage m;
            *m.mutable_consensus() = MessageToProto(a.message);
            hooks_.send(a.to, m);
          } else if constexpr (std::is_same_v<T, consensus::BroadcastAction>) {
            v1::PeerMessage m;
            *m.mutable_consensus() = MessageToProto(a.message);
            hooks_.broadcast(m);
          } else if constexpr (std::is_same_v<T, consensus::SetTimerAction>) {
            int64_t wait_ms = std::max<int64_t>(0, a.deadline_ms - clock_.NowUnixMs());
            consensus::Round round = a.round;
            round_timer_.expires_after(std::chrono::milliseconds(wait_ms));
            round_timer_.async_wait([this, round](const boost::system::error_code& ec) {
              if (ec || stopped_ || failed_) return;
              Step(consensus::TimerEvent{round});
            });
          } else if constexpr (std::is_same_v<T, consensus::RequestPayloadAction>) {
            payload_request_ = a;
            payload_requested_at_ = std::chrono::steady_clock::now();
            // Answered after this step's actions ran (commits first): never re-entrantly.
            boost::asio::post(io_, [this] { AnswerPayload(); });
          } else if constexpr (std::is_same_v<T, consensus::CommitAction>) {
            ExecuteCommit(a);
            committed = true;
          } else if constexpr (std::is_same_v<T, consensus::PeerMisbehavedAction>) {
            ++peer_reports_;
            log_->warn("consensus: validator {} misbehaved: {}", a.peer, a.reason);
            if (!a.evidence.empty()) StoreEvidence(a);
          }
        },
        action);
  }
  // A vote may have waited for these commits (its block's ledger root was not executed yet).
  if (committed && !failed_ && !stopped_) Step(consensus::CommitsExecutedEvent{});
}

// Evidence needs a validator's valid signatures on two conflicting messages, so a faulty
// validator can produce at most a few per round; the cap still bounds the disk it can fill.
void ConsensusDriver::StoreEvidence(const consensus::PeerMisbehavedAction& report) {
  constexpr uint64_t kMaxEvidenceRecords = 10000;
  if (evidence_stored_ >= kMaxEvidenceRecords) return;
  // One record per validator, round and kind of message is proof enough.
  const consensus::Message& first = report.evidence.front();
  consensus::Round round = 0;
  if (const auto* p = std::get_if<consensus::Proposal>(&first)) round = p->block.header.round;
  if (const auto* v = std::get_if<consensus::Vote>(&first)) round = v->round;
  if (!evidence_seen_.insert({report.peer, round, first.index()}).second) return;
  if (evidence_seen_.size() > kMaxEvidenceRecords) evidence_seen_.erase(evidence_seen_.begin());
  v1::MisbehaviourRecord record;
  record.set_sequence(++evidence_sequence_);
  record.set_validator_index(report.peer);
  const crypto::PublicKey& key = validators_.keys.at(report.peer);
  record.set_validator_key(std::string(key.begin(), key.end()));
  record.set_reason(report.reason);
  for (const auto& m : report.evidence) {
    v1::ConsensusMessage* stored = record.add_evidence();
    *stored = MessageToProto(m);
    // The proposer signs the block id, a hash of the header: the payload proves nothing more
    // and may be megabytes.
    if (stored->has_proposal()) stored->mutable_proposal()->mutable_block()->clear_payload();
  }
  record.set_observed_at_ms(clock_.NowUnixMs());
  record.set_observed_at_height(ledger_.head().height());
  Persist(EvidenceKey(record.sequence()), record.SerializeAsString());
  ++evidence_stored_;
}

void ConsensusDriver::Remember(const consensus::Block& block) {
  Hash32 id = consensus::BlockId(block.header);
  if (block.header.height <= ledger_.head().height() || known_.contains(id)) return;
  KnownBlock known{block.header.parent_id, block.header.height, block.header.round,
                   block.header.ledger_root.height, {}};
  if (auto payload = ParsePayload(block.payload)) {
    for (const auto& tx : payload->txs()) {
      if (known.tx_ids.size() >= config_.block_max_txs) break;
      known.tx_ids.push_back(ledger::proof::TxId(tx));
    }
  }
  known_.emplace(id, std::move(known));
}

void ConsensusDriver::AnswerPayload() {
  if (!payload_request_ || stopped_ || failed_) return;
  const consensus::RequestPayloadAction request = *payload_request_;
  if (request.round != engine_->current_round()) {  // the round moved on without it
    payload_request_.reset();
    return;
  }
  // Txs already in an uncommitted ancestor stay out; an ancestor with txs means this block
  // must come now, to commit them, even if empty.
  std::set<Hash32> in_flight;
  bool ancestors_carry_txs = false;
  Hash32 cursor = request.parent_id;
  for (auto it = known_.find(cursor); it != known_.end(); it = known_.find(cursor)) {
    for (const auto& id : it->second.tx_ids) in_flight.insert(id);
    ancestors_carry_txs = ancestors_carry_txs || !it->second.tx_ids.empty();
    cursor = it->second.parent_id;
  }
  // The parent's QC, which this proposal carries, is what commits the grandparent on the
  // other replicas: when that block held txs, their senders wait for this proposal, so it
  // goes now (empty if need be) instead of after block_interval.
  auto parent_known = known_.find(request.parent_id);
  const bool carries_commit_of_txs = parent_known != known_.end() &&
                                     last_committed_with_txs_ == parent_known->second.parent_id;
  std::vector<v1::SignedTx> txs =
      hooks_.select_txs([&](const Hash32& id) { return in_flight.contains(id); });
  auto waited = std::chrono::steady_clock::now() - payload_requested_at_;
  if (txs.empty() && !ancestors_carry_txs && !carries_commit_of_txs &&
      waited < config_.block_interval) {
    payload_timer_.expires_after(config_.block_interval - waited);
    payload_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) AnswerPayload();
    });
    return;
  }
  // A leader that has not executed its parent's ledger root yet waits for that commit (it
  // is on its way: the parent's QC certifies a block that carries it).
  auto parent = known_.find(request.parent_id);
  const uint64_t head = ledger_.head().height();
  if (parent != known_.end() && head < parent->second.ledger_root_height) {
    payload_timer_.expires_after(std::chrono::milliseconds(20));
    payload_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) AnswerPayload();
    });
    return;
  }
  payload_request_.reset();
  payload_timer_.cancel();
  uint64_t lagged = request.parent_height >= 2 ? request.parent_height - 2 : 0;
  auto root = RootAt(std::min(head, lagged));
  if (!root) {
    log_->warn("consensus: cannot propose in round {}: {}", request.round,
               root.error().message);
    return;
  }
  v1::BlockPayload payload;
  for (auto& tx : txs) *payload.add_txs() = std::move(tx);
  std::string bytes = payload.SerializeAsString();
  consensus::PayloadReadyEvent ready;
  ready.round = request.round;
  ready.payload.assign(bytes.begin(), bytes.end());
  ready.ledger_root = *root;
  log_->debug("consensus: proposing in round {} with {} txs", request.round, payload.txs_size());
  Step(std::move(ready));
}

// A request for a block committed before the engine's root is answered from the ledger, with
// the QC that certifies it (the engine keeps only recent blocks).
bool ConsensusDriver::ServeFromLedger(consensus::ValidatorIndex from,
                                      const consensus::BlockRequest& request) {
  auto height_raw = ledger_.GetConsensusRecord(CommittedBlockKey(request.block_id));
  if (!height_raw || !height_raw->has_value() || (*height_raw)->size() != 8) return false;
  uint64_t height = 0;
  for (unsigned char c : **height_raw) height = (height << 8) | c;
  if (height >= ledger_.head().height()) return false;  // the engine's root: it answers
  auto raw = ledger_.GetCertificate(height);
  v1::CommittedBlock cert;
  if (!raw || !raw->has_value() || !cert.ParseFromString(**raw)) return false;
  v1::PeerMessage m;
  auto* response = m.mutable_consensus()->mutable_block_response();
  *response->mutable_block() = cert.block();
  *response->mutable_qc() = cert.qc();
  hooks_.send(from, m);
  return true;
}

void ConsensusDriver::ExecuteCommit(const consensus::CommitAction& commit) {
  for (size_t i = 0; i < commit.blocks.size(); ++i) {
    const consensus::Block& block = commit.blocks[i];
    const Hash32 id = consensus::BlockId(block.header);
    if (block.header.height <= ledger_.head().height()) {
      // Redelivered after a restart or a sync: it must be the block this ledger holds.
      auto stored = ledger_.GetConsensusRecord(CommittedBlockKey(id));
      if (!stored || !stored->has_value()) {
        failed_ = true;
        hooks_.fatal("consensus committed block " + ToHex(id) + " at height " +
                     std::to_string(block.header.height) +
                     ", but this ledger holds another block there");
        return;
      }
      continue;
    }
    if (auto checked = CheckCertifiedRoot(block.header.ledger_root); !checked) {
      failed_ = true;
      hooks_.fatal(checked.error().message);
      return;
    }
    const bool last = i + 1 == commit.blocks.size();
    // The QC certifying this block is the next block's parent QC.
    const consensus::QuorumCertificate& qc =
        last ? commit.certified_child.parent_qc : commit.blocks[i + 1].parent_qc;
    MT_ASSERT(qc.block_id == id);
    v1::CommittedBlock cert;
    *cert.mutable_block() = BlockToProto(block);
    *cert.mutable_qc() = QcToProto(qc);
    if (last) {
      *cert.mutable_commit_child() = BlockToProto(commit.certified_child).header();
      *cert.mutable_commit_qc() = QcToProto(commit.commit_qc);
    }

    ledger::BlockToExecute exec = CommittedBlockToExecute(block, validators_, cert);
    // Drop the stored uncommitted blocks this commit settles: it and every block of a round
    // not after it (those lost).
    for (auto it = persisted_.begin(); it != persisted_.end();) {
      if (it->second <= block.header.round) {
        exec.consensus_writes.push_back({ledger::Column::kConsensus, BlockKey(it->first),
                                         std::nullopt});
        it = persisted_.erase(it);
      } else {
        ++it;
      }
    }
    auto committed = ledger_.ExecuteAndCommit(exec, key_, hooks_.signature_checked);
    if (!committed) {
      failed_ = true;
      hooks_.fatal("block commit failed: " + committed.error().ToString());
      return;
    }
    std::erase_if(known_, [&](const auto& kv) { return kv.second.height <= exec.height; });
    if (!committed->txs.empty() || !committed->skipped.empty()) last_committed_with_txs_ = id;
    hooks_.committed(*committed);
  }
}

}  // namespace minetrace::node
