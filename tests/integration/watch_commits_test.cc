// Goal: TxService.WatchCommits streams every committed block once, in height order, with each
// tx's id and status (OK, FAILED with its code), replays from a given height, and ends cleanly
// when the client cancels or the node shuts down. A block's summary comes from the node's ring
// of recent summaries (built at commit) or, for an older block, is read back from the ledger:
// both must say the same, byte for byte.
// Method: one real minetrace-node on loopback; a reader thread holds a stream open while the
// test commits members, a site, tags, a batch of mine lots and one tag misuse (admitted, then
// FAILED at execution); the stream's view is compared with the receipts from GetTx, and with a
// replay made once those blocks have left the ring. In-process, a real Ledger commits a block
// of more than 1000 txs with a repeated and a badly signed one, summarized both ways; and the
// ring alone is filled past its capacity.
#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "minetrace/ledger/ledger.h"
#include "minetrace/ledger/proof/tx.h"
#include "minetrace/node/node.h"
#include "node_process.h"

namespace minetrace::testing {
namespace {

crypto::PrivateKey Member(uint8_t seed) {
  Bytes secret(32, 0x57);
  secret[31] = seed;
  return *crypto::PrivateKey::FromBytes(secret);
}

std::string KeyStr(const crypto::PrivateKey& k) {
  return std::string(k.public_key().begin(), k.public_key().end());
}

// A WatchCommits stream read on its own thread.
class Watcher {
 public:
  Watcher(v1::TxService::Stub& stub, uint64_t from_height) {
    v1::WatchCommitsRequest req;
    req.set_from_height(from_height);
    reader_ = stub.WatchCommits(&ctx_, req);
    thread_ = std::thread([this] {
      v1::CommittedBlockSummary s;
      while (reader_->Read(&s)) {
        std::lock_guard lock(mu_);
        messages_.push_back(s);
      }
      status_ = reader_->Finish();
    });
  }
  ~Watcher() { Cancel(); }

  // Waits until a block at `height` or above arrived; false after `timeout_ms`.
  bool WaitForHeight(uint64_t height, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 20) {
      {
        std::lock_guard lock(mu_);
        if (!messages_.empty() && messages_.back().height() >= height &&
            !messages_.back().continued()) {
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  void Cancel() {
    ctx_.TryCancel();
    Join();
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  std::vector<v1::CommittedBlockSummary> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  const grpc::Status& status() const { return status_; }  // after Join

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::CommittedBlockSummary>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<v1::CommittedBlockSummary> messages_;
  grpc::Status status_;
};

// The parts of each block, by height, serialized with committed_at_ms cleared (the one field in
// which a live block and its replay may differ).
std::map<uint64_t, std::vector<std::string>> PartsByHeight(
    const std::vector<v1::CommittedBlockSummary>& messages) {
  std::map<uint64_t, std::vector<std::string>> parts;
  for (v1::CommittedBlockSummary m : messages) {
    m.set_committed_at_ms(0);
    parts[m.height()].push_back(m.SerializeAsString());
  }
  return parts;
}

class WatchCommits : public ::testing::Test {
 protected:
  void SetUp() override {
    node_.Start();
    tx_ = node_.TxStub();
  }

  v1::TxBody Body() {
    v1::TxBody b;
    b.set_chain_id(node_.chain_id());
    b.set_nonce(++nonce_);
    b.set_created_at_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
    return b;
  }

  v1::Receipt Wait(const std::string& tx_id) {
    v1::WaitTxRequest w;
    w.set_tx_id(tx_id);
    v1::TxWithReceipt r;
    auto ctx = Ctx(30000);
    grpc::Status s = tx_->WaitTx(ctx.get(), w, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return r.receipt();
  }

  // Submits all in one SubmitTxs call (each must be admitted); returns their ids.
  std::vector<std::string> SubmitAll(const std::vector<v1::SignedTx>& txs) {
    v1::SubmitTxsRequest req;
    for (const auto& t : txs) *req.add_txs() = t;
    v1::SubmitTxsResponse resp;
    auto ctx = Ctx();
    grpc::Status s = tx_->SubmitTxs(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const auto& r : resp.results()) {
      EXPECT_EQ(r.code(), 0) << r.message();
      ids.push_back(r.tx_id());
    }
    return ids;
  }

  std::string CommitOk(const v1::TxBody& body, const crypto::PrivateKey& signer) {
    auto ids = SubmitAll({ledger::proof::SignTx(body, signer)});
    if (ids.size() != 1) return {};
    v1::Receipt r = Wait(ids[0]);
    EXPECT_EQ(r.status(), v1::TX_STATUS_OK) << r.error_code() << ": " << r.reason();
    return ids[0];
  }

  void Register(const crypto::PrivateKey& who, v1::Role role) {
    auto b = Body();
    auto* a = b.mutable_register_member();
    a->set_member_key(KeyStr(who));
    a->set_name("member-" + std::to_string(who.public_key()[0]));
    a->add_roles(role);
    a->set_country("CD");
    ids_.push_back(CommitOk(b, node_.admin()));
  }

  v1::TxBody MineLot(const std::string& tag) {
    auto lot = Body();
    auto* l = lot.mutable_record_mine_lot();
    l->set_tag_id(tag);
    l->set_site_id("CD-1");
    l->set_mineral(v1::MINERAL_CASSITERITE);
    l->set_weight_grams(50000);
    l->set_grade_basis_points(6000);
    l->set_producer_key(KeyStr(coop_));
    return lot;
  }

  // Members, site CD-1, 30 tags of agent_; then 20 mine lots and one tag used by other_agent_
  // (FAILED) in one SubmitTxs call. Returns the ids of the batch, the misuse last.
  std::vector<std::string> CommitWorkload() {
    Register(agent_, v1::ROLE_AGENT);
    Register(other_agent_, v1::ROLE_AGENT);
    Register(coop_, v1::ROLE_COOPERATIVE);
    auto site = Body();
    auto* s = site.mutable_register_mine_site();
    s->set_site_id("CD-1");
    s->set_name("Site CD-1");
    s->set_country("CD");
    s->add_minerals(v1::MINERAL_CASSITERITE);
    s->set_status(v1::SITE_STATUS_GREEN);
    s->set_production_estimate_kg_per_month(100000);
    ids_.push_back(CommitOk(site, node_.admin()));
    auto tags = Body();
    auto* t = tags.mutable_allocate_tags();
    t->set_site_id("CD-1");
    t->set_agent_key(KeyStr(agent_));
    t->set_prefix("W");
    t->set_first(1);
    t->set_count(30);
    ids_.push_back(CommitOk(tags, node_.admin()));

    std::vector<v1::SignedTx> batch;
    for (int i = 1; i <= 20; ++i) {
      char tag[16];
      std::snprintf(tag, sizeof tag, "W%07d", i);
      batch.push_back(ledger::proof::SignTx(MineLot(tag), agent_));
    }
    batch.push_back(ledger::proof::SignTx(MineLot("W0000025"), other_agent_));
    auto batch_ids = SubmitAll(batch);
    for (const auto& id : batch_ids) ids_.push_back(id);
    return batch_ids;
  }

  // Every tx id of the messages -> (height, entry); fails the test on a repeat, a height out
  // of order or a block whose parts are not contiguous.
  std::map<std::string, std::pair<uint64_t, v1::CommittedTx>> Index(
      const std::vector<v1::CommittedBlockSummary>& messages) {
    std::map<std::string, std::pair<uint64_t, v1::CommittedTx>> seen;
    uint64_t last_height = 0;
    bool in_parts = false;
    for (const auto& m : messages) {
      if (in_parts) {
        EXPECT_EQ(m.height(), last_height) << "a block's parts are not contiguous";
      } else if (last_height != 0) {
        EXPECT_EQ(m.height(), last_height + 1) << "blocks not in height order, or one missing";
      }
      last_height = m.height();
      in_parts = m.continued();
      for (const auto& t : m.txs()) {
        bool fresh = seen.emplace(t.tx_id(), std::make_pair(m.height(), t)).second;
        EXPECT_TRUE(fresh) << "tx " << ToHex(AsBytes(t.tx_id())) << " seen twice";
      }
    }
    return seen;
  }

  NodeProcess node_;
  std::unique_ptr<v1::TxService::Stub> tx_;
  uint64_t nonce_ = 0;
  crypto::PrivateKey agent_ = Member(1);
  crypto::PrivateKey other_agent_ = Member(2);
  crypto::PrivateKey coop_ = Member(3);
  std::vector<std::string> ids_;  // every tx the test committed, in submission order
};

TEST_F(WatchCommits, StreamsEachCommittedTxOnceInHeightOrderWithItsStatus) {
  auto live = std::make_unique<Watcher>(*tx_, 0);
  std::vector<std::string> batch = CommitWorkload();
  ASSERT_EQ(batch.size(), 21u);
  uint64_t last_height = 0;
  for (const auto& id : batch) last_height = std::max(last_height, Wait(id).height());
  ASSERT_TRUE(live->WaitForHeight(last_height, 10000));
  live->Cancel();
  EXPECT_EQ(live->status().error_code(), grpc::StatusCode::CANCELLED)
      << live->status().error_message();

  auto messages = live->messages();
  auto seen = Index(messages);
  EXPECT_EQ(seen.size(), ids_.size());
  for (const auto& id : ids_) {
    auto it = seen.find(id);
    ASSERT_NE(it, seen.end()) << "tx " << ToHex(AsBytes(id)) << " never streamed";
    v1::Receipt receipt = Wait(id);
    EXPECT_EQ(it->second.first, receipt.height());
    EXPECT_EQ(it->second.second.status(), receipt.status());
    EXPECT_FALSE(it->second.second.skipped());
  }
  const v1::CommittedTx& misuse = seen.at(batch.back()).second;
  EXPECT_EQ(misuse.status(), v1::TX_STATUS_FAILED);
  EXPECT_EQ(misuse.error_code(), "PERMISSION_DENIED");
  EXPECT_FALSE(misuse.reason().empty());
  for (const auto& m : messages) {
    EXPECT_GT(m.committed_at_ms(), 0) << "a live block carries the node's commit time";
    EXPECT_EQ(m.accumulator_root().size(), 32u);
  }

  // A replay from height 1 lists the same txs at the same heights, from the ledger.
  Watcher replay(*tx_, 1);
  ASSERT_TRUE(replay.WaitForHeight(last_height, 10000));
  replay.Cancel();
  auto replayed_messages = replay.messages();
  ASSERT_FALSE(replayed_messages.empty());
  EXPECT_EQ(replayed_messages.front().height(), 1u);
  EXPECT_EQ(replayed_messages.front().committed_at_ms(), 0);
  auto replayed = Index(replayed_messages);
  for (const auto& id : ids_) {
    ASSERT_TRUE(replayed.count(id)) << "tx " << ToHex(AsBytes(id)) << " not replayed";
    EXPECT_EQ(replayed.at(id).first, seen.at(id).first);
    EXPECT_EQ(replayed.at(id).second.status(), seen.at(id).second.status());
  }
  for (const auto& m : messages) {
    for (const auto& r : replayed_messages) {
      if (r.height() == m.height()) {
        EXPECT_EQ(r.accumulator_root(), m.accumulator_root());
        EXPECT_EQ(r.leaf_count(), m.leaf_count());
      }
    }
  }
}

TEST_F(WatchCommits, AReplayReadBackFromTheLedgerEqualsTheLiveStreamByteForByte) {
  auto live = std::make_unique<Watcher>(*tx_, 0);
  std::vector<std::string> batch = CommitWorkload();
  ASSERT_EQ(batch.size(), 21u);
  uint64_t last_tx_height = 0;
  for (const auto& id : ids_) last_tx_height = std::max(last_tx_height, Wait(id).height());
  // Empty blocks follow every 50 ms: wait until the workload's blocks have left the ring.
  const uint64_t evicted_head = last_tx_height + node::CommitSummaryRing::kCapacity + 2;
  ASSERT_TRUE(live->WaitForHeight(evicted_head, 30000));

  // Heights up to (head at the call - kCapacity) are read back: the workload's among them.
  Watcher replay(*tx_, 1);
  ASSERT_TRUE(replay.WaitForHeight(evicted_head, 30000));
  replay.Cancel();
  ASSERT_TRUE(live->WaitForHeight(evicted_head, 1000));
  live->Cancel();

  auto live_parts = PartsByHeight(live->messages());
  auto replayed_parts = PartsByHeight(replay.messages());
  Index(live->messages());
  Index(replay.messages());
  size_t compared = 0;
  size_t compared_txs = 0;
  for (const auto& [height, parts] : live_parts) {
    if (height > evicted_head) continue;  // the replay may have stopped before it
    auto it = replayed_parts.find(height);
    ASSERT_NE(it, replayed_parts.end()) << "height " << height << " not replayed";
    EXPECT_EQ(it->second, parts) << "block " << height << " differs between live and replay";
    ++compared;
    for (const auto& p : parts) {
      v1::CommittedBlockSummary m;
      ASSERT_TRUE(m.ParseFromString(p));
      compared_txs += static_cast<size_t>(m.txs_size());
    }
  }
  EXPECT_GT(compared, node::CommitSummaryRing::kCapacity);
  EXPECT_EQ(compared_txs, ids_.size()) << "every tx of the workload compared";
}

TEST_F(WatchCommits, AStreamAheadOfTheHeadWaitsAndNodeShutdownEndsItWithUnavailable) {
  uint64_t head = 0;
  {
    auto node = node_.NodeStub();
    v1::StatusResponse status;
    auto ctx = Ctx();
    ASSERT_TRUE(node->Status(ctx.get(), {}, &status).ok());
    head = status.height();
  }
  Watcher ahead(*tx_, head + 1000000);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(ahead.messages().empty());
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(node_.Stop(), 0);
  ahead.Join();  // the node ended the stream: no cancel from here
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(ahead.status().error_code(), grpc::StatusCode::UNAVAILABLE)
      << ahead.status().error_message();
  // The handler's own answer, not a dropped connection.
  EXPECT_NE(ahead.status().error_message().find("shutting down"), std::string::npos)
      << ahead.status().error_message();
}

// ---- in process: the two ways a summary is built, and the ring ----

// A Ledger on a fresh temporary directory, removed at the end.
class WatchCommitsSummary : public ::testing::Test {
 protected:
  static constexpr int64_t kBlockMs = 1'790'000'000'000;

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("minetrace-watch-summary-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    genesis_.set_chain_id("watch-chain");
    genesis_.set_genesis_time_ms(kBlockMs - 1000);
    auto* v = genesis_.add_validators();
    v->set_key(KeyStr(validator_));
    v->set_name("validator-0");
    auto* a = genesis_.add_administrators();
    a->set_key(KeyStr(admin_));
    a->set_name("secretariat");
    auto l = ledger::Ledger::Open(dir_, genesis_);
    ASSERT_TRUE(l) << l.error().ToString();
    ledger_ = std::move(*l);
  }
  void TearDown() override {
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }

  v1::SignedTx AdminTx(v1::TxBody body) {
    body.set_chain_id("watch-chain");
    body.set_nonce(++nonce_);
    body.set_created_at_ms(kBlockMs);
    return ledger::proof::SignTx(body, admin_);
  }

  ledger::CommittedBlock Execute(std::vector<v1::SignedTx> txs) {
    ledger::BlockToExecute block;
    block.height = ledger_->head().height() + 1;
    block.round = block.height;
    block.time_ms = kBlockMs;
    block.proposer_key = KeyStr(validator_);
    block.txs = std::move(txs);
    auto committed = ledger_->ExecuteAndCommit(
        block, validator_, [](const Hash32&, const v1::SignedTx&) { return false; });
    EXPECT_TRUE(committed) << committed.error().ToString();
    return committed ? std::move(*committed) : ledger::CommittedBlock{};
  }

  std::vector<std::string> Serialized(const node::CommitSummary& parts) {
    std::vector<std::string> out;
    for (const auto& p : parts) out.push_back(p.SerializeAsString());
    return out;
  }

  std::filesystem::path dir_;
  v1::Genesis genesis_;
  crypto::PrivateKey validator_ = Member(10);
  crypto::PrivateKey admin_ = Member(11);
  crypto::PrivateKey agent_ = Member(12);
  std::unique_ptr<ledger::Ledger> ledger_;
  uint64_t nonce_ = 0;
};

TEST_F(WatchCommitsSummary, BuiltAtCommitEqualsReadBackForALargeBlockWithSkippedTxs) {
  // One OK tx, 1001 FAILED ones (suspending a member nobody registered), the OK one again
  // and a badly signed one: 1002 executed txs in two parts, the last two skipped.
  std::vector<v1::SignedTx> txs;
  v1::TxBody reg;
  auto* r = reg.mutable_register_member();
  r->set_member_key(KeyStr(agent_));
  r->set_name("agent");
  r->add_roles(v1::ROLE_AGENT);
  r->set_country("CD");
  txs.push_back(AdminTx(reg));
  for (int i = 0; i < 1001; ++i) {
    v1::TxBody b;
    b.mutable_suspend_member()->set_member_key(KeyStr(Member(static_cast<uint8_t>(100 + i % 100))));
    txs.push_back(AdminTx(b));
  }
  txs.push_back(txs.front());
  v1::TxBody late;
  late.mutable_suspend_member()->set_member_key(KeyStr(agent_));
  txs.push_back(AdminTx(late));
  txs.back().mutable_signature()->at(3) ^= 1;
  ledger::CommittedBlock committed = Execute(txs);
  ASSERT_EQ(committed.txs.size(), 1002u);
  ASSERT_EQ(committed.skipped.size(), 2u);

  node::CommitSummary at_commit = node::SummarizeCommit(committed.ledger_info, committed.txs);
  auto read_back = node::ReadCommitSummary(*ledger_, committed.ledger_info.height());
  ASSERT_TRUE(read_back) << read_back.error().ToString();
  EXPECT_EQ(Serialized(at_commit), Serialized(*read_back));

  ASSERT_EQ(at_commit.size(), 2u);
  EXPECT_TRUE(at_commit[0].continued());
  EXPECT_FALSE(at_commit[1].continued());
  ASSERT_EQ(at_commit[0].txs_size(), 1000);
  ASSERT_EQ(at_commit[1].txs_size(), 2);
  for (const auto& part : at_commit) {
    EXPECT_EQ(part.height(), committed.ledger_info.height());
    EXPECT_EQ(part.accumulator_root(), committed.ledger_info.accumulator_root());
    EXPECT_EQ(part.leaf_count(), committed.ledger_info.leaf_count());
    EXPECT_EQ(part.block_time_ms(), kBlockMs);
    EXPECT_EQ(part.committed_at_ms(), 0);
  }
  // Block order, each id as the ledger computed it, each status from its receipt.
  size_t i = 0;
  for (const auto& part : at_commit) {
    for (const auto& t : part.txs()) {
      ASSERT_LT(i, txs.size());
      Hash32 id = ledger::proof::TxId(txs[i]);
      EXPECT_EQ(t.tx_id(), std::string(id.begin(), id.end())) << "tx " << i;
      EXPECT_FALSE(t.skipped());
      if (i == 0) {
        EXPECT_EQ(t.status(), v1::TX_STATUS_OK);
      } else {
        EXPECT_EQ(t.status(), v1::TX_STATUS_FAILED) << "tx " << i;
        EXPECT_FALSE(t.error_code().empty());
        EXPECT_FALSE(t.reason().empty());
      }
      ++i;
    }
  }
  EXPECT_EQ(i, 1002u);

  // An empty block is one part without txs, the same both ways.
  ledger::CommittedBlock empty = Execute({});
  node::CommitSummary empty_at_commit = node::SummarizeCommit(empty.ledger_info, empty.txs);
  auto empty_read = node::ReadCommitSummary(*ledger_, empty.ledger_info.height());
  ASSERT_TRUE(empty_read) << empty_read.error().ToString();
  ASSERT_EQ(empty_at_commit.size(), 1u);
  EXPECT_EQ(empty_at_commit[0].txs_size(), 0);
  EXPECT_FALSE(empty_at_commit[0].continued());
  EXPECT_EQ(Serialized(empty_at_commit), Serialized(*empty_read));

  // A height the ledger does not have is an error, not a crash.
  auto beyond = node::ReadCommitSummary(*ledger_, empty.ledger_info.height() + 1);
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code, ErrorCode::kDataLoss);
}

TEST(WatchCommitsRing, KeepsOnlyTheLastCapacityHeights) {
  constexpr uint64_t kCapacity = node::CommitSummaryRing::kCapacity;
  static_assert(kCapacity == 64);
  node::CommitSummaryRing ring;
  EXPECT_EQ(ring.Get(0), nullptr);
  EXPECT_EQ(ring.Get(1), nullptr);
  constexpr uint64_t kLast = 2 * kCapacity + 5;
  for (uint64_t h = 1; h <= kLast; ++h) {
    auto summary = std::make_shared<node::CommitSummary>(1);
    summary->front().set_height(h);
    ring.Put(h, std::move(summary));
  }
  for (uint64_t h = 0; h <= kLast + kCapacity; ++h) {
    auto got = ring.Get(h);
    if (h + kCapacity > kLast && h <= kLast) {
      ASSERT_NE(got, nullptr) << "height " << h;
      EXPECT_EQ(got->front().height(), h);
    } else {
      EXPECT_EQ(got, nullptr) << "height " << h;
    }
  }
}

}  // namespace
}  // namespace minetrace::testing
