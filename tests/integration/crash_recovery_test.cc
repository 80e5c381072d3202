// Goal: a node killed with SIGKILL while clients submit loses nothing it reported committed.
// Method: clients submit mine lots and wait for each commit, remembering every tx that WaitTx
// reported committed and the last ledger info (size, root) the node served. The node is
// killed mid-load and restarted on the same data. Every remembered tx must be there with the
// same receipt, and the restarted ledger must extend the last reported one: the same root
// at the same size, checked with a consistency proof when blocks committed after it.
#include <atomic>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "minetrace/ledger/proof/merkle.h"
#include "minetrace/ledger/proof/tx.h"
#include "node_process.h"

namespace minetrace::testing {
namespace {

crypto::PrivateKey Member(uint8_t seed) {
  Bytes secret(32, 0x44);
  secret[31] = seed;
  return *crypto::PrivateKey::FromBytes(secret);
}

std::string KeyStr(const crypto::PrivateKey& k) {
  return std::string(k.public_key().begin(), k.public_key().end());
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class CrashRecovery : public ::testing::Test {
 protected:
  v1::TxBody Body() {
    v1::TxBody b;
    b.set_chain_id(node_.chain_id());
    b.set_nonce(++nonce_);
    b.set_created_at_ms(NowMs());
    return b;
  }

  // Submits and waits; returns the receipt or the failing status.
  grpc::Status SubmitAndWait(v1::TxService::Stub& stub, const v1::SignedTx& tx,
                             v1::TxWithReceipt* out) {
    v1::SubmitTxRequest req;
    *req.mutable_tx() = tx;
    v1::SubmitTxResponse resp;
    auto ctx = Ctx(5000);
    grpc::Status s = stub.SubmitTx(ctx.get(), req, &resp);
    if (!s.ok()) return s;
    v1::WaitTxRequest w;
    w.set_tx_id(resp.tx_id());
    auto wctx = Ctx(5000);
    return stub.WaitTx(wctx.get(), w, out);
  }

  void Setup(v1::TxService::Stub& stub) {
    auto reg = [&](const crypto::PrivateKey& k, v1::Role role) {
      auto b = Body();
      auto* a = b.mutable_register_member();
      a->set_member_key(KeyStr(k));
      a->set_name("m" + std::to_string(k.public_key()[1]));
      a->add_roles(role);
      return ledger::proof::SignTx(b, node_.admin());
    };
    v1::TxWithReceipt r;
    ASSERT_TRUE(SubmitAndWait(stub, reg(agent_, v1::ROLE_AGENT), &r).ok());
    ASSERT_TRUE(SubmitAndWait(stub, reg(coop_, v1::ROLE_COOPERATIVE), &r).ok());
    auto site = Body();
    auto* s = site.mutable_register_mine_site();
    s->set_site_id("CD-1");
    s->set_name("One");
    s->set_country("CD");
    s->add_minerals(v1::MINERAL_CASSITERITE);
    s->set_status(v1::SITE_STATUS_GREEN);
    ASSERT_TRUE(SubmitAndWait(stub, ledger::proof::SignTx(site, node_.admin()), &r).ok());
    auto tags = Body();
    auto* t = tags.mutable_allocate_tags();
    t->set_site_id("CD-1");
    t->set_agent_key(KeyStr(agent_));
    t->set_prefix("K");
    t->set_first(0);
    t->set_count(10000);
    ASSERT_TRUE(SubmitAndWait(stub, ledger::proof::SignTx(tags, node_.admin()), &r).ok());
    ASSERT_EQ(r.receipt().status(), v1::TX_STATUS_OK) << r.receipt().reason();
  }

  v1::SignedTx LotTx(int n, uint64_t nonce) {
    v1::TxBody b;
    b.set_chain_id(node_.chain_id());
    b.set_nonce(nonce);
    b.set_created_at_ms(NowMs());
    auto* l = b.mutable_record_mine_lot();
    char tag[16];
    std::snprintf(tag, sizeof tag, "K%07d", n);
    l->set_tag_id(tag);
    l->set_site_id("CD-1");
    l->set_mineral(v1::MINERAL_CASSITERITE);
    l->set_weight_grams(40000 + n);
    l->set_grade_basis_points(6000);
    l->set_producer_key(KeyStr(coop_));
    return ledger::proof::SignTx(b, agent_);
  }

  NodeProcess node_{NodeOptions{.block_interval_ms = 20}};
  crypto::PrivateKey agent_ = Member(1);
  crypto::PrivateKey coop_ = Member(2);
  uint64_t nonce_ = 0;
};

TEST_F(CrashRecovery, SigkillLosesNoCommittedTx) {
  node_.Start();
  auto setup_stub = node_.TxStub();
  Setup(*setup_stub);

  std::mutex mu;
  std::vector<v1::TxWithReceipt> committed;  // guarded by mu
  v1::SignedLedgerInfo last_reported;        // guarded by mu
  std::atomic<bool> node_down{false};
  constexpr int kClients = 3;
  constexpr int kPerClient = 3000;  // bound; the kill comes long before
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = node_.TxStub();
      auto query = node_.QueryStub();
      for (int i = 0; i < kPerClient && !node_down; ++i) {
        int n = c * kPerClient + i;
        v1::TxWithReceipt r;
        if (!SubmitAndWait(*stub, LotTx(n, 1000000 + n), &r).ok()) continue;
        v1::SignedLedgerInfo info;
        auto ctx = Ctx(2000);
        bool got_info = query->GetLedgerInfo(ctx.get(), v1::GetLedgerInfoRequest(), &info).ok();
        std::lock_guard lock(mu);
        committed.push_back(r);
        if (got_info) {
          v1::LedgerInfo a, b;
          a.ParseFromString(info.ledger_info());
          b.ParseFromString(last_reported.ledger_info());
          if (a.leaf_count() >= b.leaf_count()) last_reported = info;
        }
      }
    });
  }
  // Let load build up, then kill mid-stream.
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard lock(mu);
    if (committed.size() >= 150) break;
  }
  node_.Kill();
  node_down = true;
  for (auto& t : clients) t.join();
  ASSERT_GE(committed.size(), 20u) << "too little load before the kill; log:\n" << node_.Log();

  node_.Start();
  auto stub = node_.TxStub();
  auto query = node_.QueryStub();
  for (const auto& want : committed) {
    v1::GetTxRequest req;
    req.set_tx_id(want.receipt().tx_id());
    v1::TxWithReceipt got;
    auto ctx = Ctx();
    ASSERT_TRUE(stub->GetTx(ctx.get(), req, &got).ok())
        << "committed tx lost: " << ToHex(AsBytes(want.receipt().tx_id()));
    EXPECT_EQ(got.receipt_bytes(), want.receipt_bytes());
  }

  v1::LedgerInfo reported;
  ASSERT_TRUE(reported.ParseFromString(last_reported.ledger_info()));
  v1::StatusResponse status;
  auto sctx = Ctx();
  ASSERT_TRUE(node_.NodeStub()->Status(sctx.get(), v1::StatusRequest(), &status).ok());
  ASSERT_GE(status.leaf_count(), reported.leaf_count());
  ASSERT_GE(status.height(), reported.height());
  if (status.leaf_count() == reported.leaf_count()) {
    EXPECT_EQ(status.accumulator_root(), reported.accumulator_root());
  } else {
    v1::GetConsistencyProofRequest req;
    req.set_first_size(reported.leaf_count());
    req.set_second_size(status.leaf_count());
    v1::ConsistencyProof proof;
    auto ctx = Ctx();
    ASSERT_TRUE(query->GetConsistencyProof(ctx.get(), req, &proof).ok());
    std::vector<Hash32> path;
    for (const auto& h : proof.path()) path.push_back(*Hash32FromBytes(AsBytes(h)));
    EXPECT_TRUE(ledger::proof::VerifyConsistency(
        reported.leaf_count(), status.leaf_count(),
        *Hash32FromBytes(AsBytes(reported.accumulator_root())),
        *Hash32FromBytes(AsBytes(status.accumulator_root())), path));
  }
  // The chain goes on after the crash.
  v1::TxWithReceipt r;
  ASSERT_TRUE(SubmitAndWait(*stub, LotTx(9999, 42), &r).ok());
  EXPECT_EQ(r.receipt().status(), v1::TX_STATUS_OK) << r.receipt().reason();
}

}  // namespace
}  // namespace minetrace::testing
