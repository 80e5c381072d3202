// Goal: TxService.WatchCommits streams every committed block once, in height order, with each
// tx's id and status (OK, FAILED with its code), replays from a given height, and ends cleanly
// when the client cancels or the node shuts down.
// Method: one real minetrace-node on loopback; a reader thread holds a stream open while the
// test commits members, a site, tags, a batch of mine lots and one tag misuse (admitted, then
// FAILED at execution); the stream's view is compared with the receipts from GetTx.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <mutex>
#include <thread>

#include "minetrace/ledger/proof/tx.h"
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

}  // namespace
}  // namespace minetrace::testing
