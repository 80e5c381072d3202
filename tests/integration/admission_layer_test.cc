// Goal: a node's admission layer (the effects of the txs it admitted, over the committed state)
// stays right as blocks commit, so that it admits a tx exactly when the tx would run on the
// state the layer stands for. Node::OnCommitted keeps the layer when a block holds only txs
// it had applied, applies in block order a committed tx that was not pending here, and
// replays the pending txs only when the layer turns out wrong (RebuildPendingState).
// Method: a 4-validator + 1-observer loopback network; a cooperative's mine lots move through
// dispatches and receipts, signed here and submitted over gRPC: (a) chains of dependent txs
// given to one node before any of them commits; (b) two conflicting dispatches of one lot
// given to two validators; (c) an observer (which never proposes, and never receives the
// gossip of a tx given to a validator) whose admitted txs commit through the validators,
// followed by a commit of a tx it never had.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "minetrace/ledger/proof/tx.h"
#include "network.h"
#include "tx_wait.h"

namespace minetrace::testing {
namespace {

constexpr int kCommitWaitMs = 20000;
constexpr uint64_t kLotGrams = 50000;
constexpr size_t kObserver = 4;

crypto::PrivateKey Member(uint8_t seed) {
  Bytes secret(32, 0x66);
  secret[31] = seed;
  return *crypto::PrivateKey::FromBytes(secret);
}

std::string KeyStr(const crypto::PrivateKey& k) {
  return std::string(k.public_key().begin(), k.public_key().end());
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class AdmissionLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    net_.StartAll();
    std::vector<v1::SignedTx> setup = {
        RegisterTx(agent_, v1::ROLE_AGENT, "agent"),
        RegisterTx(coop_, v1::ROLE_COOPERATIVE, "coop"),
        RegisterTx(trader1_, v1::ROLE_TRADER, "trader-1"),
        RegisterTx(trader2_, v1::ROLE_TRADER, "trader-2"),
    };
    auto site = Body();
    auto* s = site.mutable_register_mine_site();
    s->set_site_id("CD-L");
    s->set_name("Layer site");
    s->set_country("CD");
    s->add_minerals(v1::MINERAL_CASSITERITE);
    s->set_status(v1::SITE_STATUS_GREEN);
    s->set_production_estimate_kg_per_month(100000);
    setup.push_back(ledger::proof::SignTx(site, net_.admin()));
    ASSERT_NO_FATAL_FAILURE(CommitAll(setup));
    auto tags = Body();
    auto* t = tags.mutable_allocate_tags();
    t->set_site_id("CD-L");
    t->set_agent_key(KeyStr(agent_));
    t->set_prefix("L");
    t->set_first(1);
    t->set_count(100);
    const v1::SignedTx allocation = ledger::proof::SignTx(tags, net_.admin());
    ASSERT_NO_FATAL_FAILURE(CommitAll({allocation}));
    // Every node, the observer (which follows by sync) included, starts from the setup.
    for (size_t n = 0; n < net_.size(); ++n)
      ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(n, allocation));
  }

  // Device times strictly increase, so that each step of a lot is later than the one before.
  v1::TxBody Body() {
    v1::TxBody b;
    b.set_chain_id(net_.chain_id());
    b.set_nonce(++nonce_);
    last_ms_ = std::max(last_ms_ + 1, WallMs());
    b.set_created_at_ms(last_ms_);
    return b;
  }

  v1::SignedTx RegisterTx(const crypto::PrivateKey& who, v1::Role role, const std::string& name) {
    auto b = Body();
    auto* a = b.mutable_register_member();
    a->set_member_key(KeyStr(who));
    a->set_name(name);
    a->add_roles(role);
    a->set_country("CD");
    return ledger::proof::SignTx(b, net_.admin());
  }

  static std::string Tag(int n) {
    char tag[16];
    std::snprintf(tag, sizeof tag, "L%07d", n);
    return tag;
  }

  v1::SignedTx RecordTx(const std::string& tag) {
    auto b = Body();
    auto* l = b.mutable_record_mine_lot();
    l->set_tag_id(tag);
    l->set_site_id("CD-L");
    l->set_mineral(v1::MINERAL_CASSITERITE);
    l->set_weight_grams(kLotGrams);
    l->set_grade_basis_points(6500);
    l->set_producer_key(KeyStr(coop_));
    return ledger::proof::SignTx(b, agent_);
  }

  v1::SignedTx DispatchTx(const crypto::PrivateKey& from, const std::string& lot,
                          const crypto::PrivateKey& to) {
    auto b = Body();
    b.mutable_dispatch_lots()->add_lot_ids(lot);
    b.mutable_dispatch_lots()->set_receiver_key(KeyStr(to));
    return ledger::proof::SignTx(b, from);
  }

  v1::SignedTx ReceiveTx(const crypto::PrivateKey& who, const std::string& lot) {
    auto b = Body();
    auto* r = b.mutable_receive_lots()->add_lots();
    r->set_lot_id(lot);
    r->set_weight_grams(kLotGrams);
    return ledger::proof::SignTx(b, who);
  }

  // Submits `txs` to node 0 in one batch and waits until each committed OK there.
  void CommitAll(const std::vector<v1::SignedTx>& txs) {
    v1::SubmitTxsRequest req;
    for (const auto& tx : txs) *req.add_txs() = tx;
    v1::SubmitTxsResponse resp;
    auto ctx = Ctx(10000);
    grpc::Status s = net_.node(0).TxStub()->SubmitTxs(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& r : resp.results()) ASSERT_EQ(r.code(), 0) << r.message();
    for (const auto& tx : txs) ExpectCommittedOk(0, tx);
  }

  // Waits until node `n` has `tx` committed; its receipt must be OK.
  void ExpectCommittedOk(size_t n, const v1::SignedTx& tx) {
    auto rec = WaitCommitted(net_.node(n), TxIdBytes(tx), kCommitWaitMs);
    ASSERT_TRUE(rec) << "node " << n << " did not commit the tx in " << kCommitWaitMs << " ms";
    EXPECT_EQ(rec->receipt().status(), v1::TX_STATUS_OK)
        << "node " << n << ": " << rec->receipt().error_code() << ": " << rec->receipt().reason();
  }

  // One by one: each is submitted as soon as the one before was admitted (not committed).
  void SubmitEachOnceAdmitted(size_t n, const std::vector<v1::SignedTx>& chain) {
    for (size_t i = 0; i < chain.size(); ++i) {
      grpc::Status s = Submit(net_.node(n), chain[i]);
      ASSERT_TRUE(s.ok()) << "node " << n << " refused step " << i
                          << " of the chain: " << s.error_message();
    }
  }

  Network net_{NetworkOptions{.validators = 4, .observers = 1}};
  crypto::PrivateKey agent_ = Member(1);
  crypto::PrivateKey coop_ = Member(2);
  crypto::PrivateKey trader1_ = Member(3);
  crypto::PrivateKey trader2_ = Member(4);
  uint64_t nonce_ = 1000000;  // above the Network's own administrator nonces
  int64_t last_ms_ = 0;
};

// A lot recorded, dispatched to trader 1, received, dispatched on to trader 2 and received:
// each step needs the one before, which is only pending when it is submitted.
TEST_F(AdmissionLayer, DependentTxsAdmittedBeforeTheirPredecessorsCommitAllCommitOk) {
  // In one SubmitTxs batch the node admits all five before any of them can commit.
  const std::vector<v1::SignedTx> batched = {
      RecordTx(Tag(1)), DispatchTx(coop_, Tag(1), trader1_), ReceiveTx(trader1_, Tag(1)),
      DispatchTx(trader1_, Tag(1), trader2_), ReceiveTx(trader2_, Tag(1))};
  v1::SubmitTxsRequest req;
  for (const auto& tx : batched) *req.add_txs() = tx;
  v1::SubmitTxsResponse resp;
  auto ctx = Ctx(10000);
  ASSERT_TRUE(net_.node(1).TxStub()->SubmitTxs(ctx.get(), req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(resp.results(i).code(), 0) << "step " << i << ": " << resp.results(i).message();
  }
  // The same chain one SubmitTx at a time, to validator 2 and to the observer: earlier steps
  // may commit while later ones are submitted, through any validator's proposal.
  for (size_t n : {size_t{2}, kObserver}) {
    const std::string tag = Tag(n == kObserver ? 3 : 2);
    const std::vector<v1::SignedTx> chain = {
        RecordTx(tag), DispatchTx(coop_, tag, trader1_), ReceiveTx(trader1_, tag),
        DispatchTx(trader1_, tag, trader2_), ReceiveTx(trader2_, tag)};
    ASSERT_NO_FATAL_FAILURE(SubmitEachOnceAdmitted(n, chain));
    for (const auto& tx : chain) ExpectCommittedOk(n, tx);
  }
  for (const auto& tx : batched) ExpectCommittedOk(1, tx);
}

TEST_F(AdmissionLayer, ConflictingDispatchesOnTwoValidatorsOneCommitsAndBothFollowIt) {
  // Twice, with the two validators' roles swapped.
  for (const auto& [first, second, n] :
       {std::tuple<size_t, size_t, int>{0, 1, 10}, std::tuple<size_t, size_t, int>{1, 0, 11}}) {
    SCOPED_TRACE("dispatch to trader 1 on validator " + std::to_string(first) +
                 ", to trader 2 on validator " + std::to_string(second));
    const std::string lot = Tag(n);
    const v1::SignedTx record = RecordTx(lot);
    ASSERT_TRUE(Submit(net_.node(first), record).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(first, record));
    ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(second, record));

    const v1::SignedTx to1 = DispatchTx(coop_, lot, trader1_);
    const v1::SignedTx to2 = DispatchTx(coop_, lot, trader2_);
    ASSERT_TRUE(Submit(net_.node(first), to1).ok());
    // Refused here when the gossip of `to1` was admitted first; else admitted, and then only
    // one of the two can commit OK.
    const grpc::Status second_admitted = Submit(net_.node(second), to2);
    if (!second_admitted.ok()) {
      EXPECT_EQ(second_admitted.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
          << second_admitted.error_message();
    }
    auto rec1 = WaitCommitted(net_.node(first), TxIdBytes(to1), kCommitWaitMs);
    ASSERT_TRUE(rec1) << "the first dispatch did not commit";
    std::optional<v1::TxWithReceipt> rec2;
    if (second_admitted.ok()) {
      rec2 = WaitCommitted(net_.node(second), TxIdBytes(to2), kCommitWaitMs);
      ASSERT_TRUE(rec2) << "the second dispatch was admitted but did not commit";
    }
    const bool ok1 = rec1->receipt().status() == v1::TX_STATUS_OK;
    const bool ok2 = rec2 && rec2->receipt().status() == v1::TX_STATUS_OK;
    ASSERT_NE(ok1, ok2) << "exactly one dispatch of lot " << lot
                        << " must commit OK; first: " << rec1->receipt().reason()
                        << (rec2 ? "; second: " + rec2->receipt().reason() : std::string());
    // Both nodes have committed both txs (the loser possibly FAILED) before they are asked.
    for (size_t v : {first, second}) {
      ASSERT_TRUE(WaitCommitted(net_.node(v), TxIdBytes(to1), kCommitWaitMs));
      if (rec2) {
        ASSERT_TRUE(WaitCommitted(net_.node(v), TxIdBytes(to2), kCommitWaitMs));
      }
    }

    const crypto::PrivateKey& winner = ok1 ? trader1_ : trader2_;
    const crypto::PrivateKey& loser = ok1 ? trader2_ : trader1_;
    // Neither node's layer holds the losing dispatch: its receiver cannot receive the lot.
    for (size_t v : {first, second}) {
      const grpc::Status s = Submit(net_.node(v), ReceiveTx(loser, lot));
      EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
          << "validator " << v << ": " << s.error_message();
      EXPECT_NE(s.error_message().find("not in transit to the signer"), std::string::npos)
          << s.error_message();
    }
    // The winner's receipt is admitted on the node that was given the loser, and on the other
    // it is already pending (gossip) or admitted.
    const v1::SignedTx receive = ReceiveTx(winner, lot);
    const size_t loser_node = ok1 ? second : first;
    const size_t winner_node = ok1 ? first : second;
    const grpc::Status on_loser_node = Submit(net_.node(loser_node), receive);
    ASSERT_TRUE(on_loser_node.ok())
        << "validator " << loser_node << ": " << on_loser_node.error_message();
    const grpc::Status on_winner_node = Submit(net_.node(winner_node), receive);
    EXPECT_TRUE(on_winner_node.ok() ||
                on_winner_node.error_code() == grpc::StatusCode::ALREADY_EXISTS)
        << "validator " << winner_node << ": " << on_winner_node.error_message();
    ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(loser_node, receive));
    ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(winner_node, receive));
  }
}

TEST_F(AdmissionLayer, ObserverLayerFollowsCommitsOfItsOwnTxsAndOfTxsItNeverHad) {
  const std::string lot = Tag(20);
  // The observer never proposes: its admitted txs commit through validators' proposals, and
  // a tx that depends on one of them is admitted there after that commit.
  const v1::SignedTx record = RecordTx(lot);
  ASSERT_TRUE(Submit(net_.node(kObserver), record).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(kObserver, record));
  const v1::SignedTx to1 = DispatchTx(coop_, lot, trader1_);
  const grpc::Status dispatched = Submit(net_.node(kObserver), to1);
  ASSERT_TRUE(dispatched.ok()) << dispatched.error_message();
  ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(kObserver, to1));
  // Trader 1 receives the lot through validator 2: the observer never has this tx pending,
  // and its layer still holds the lot as in transit, from its own dispatch.
  const v1::SignedTx receive = ReceiveTx(trader1_, lot);
  ASSERT_TRUE(Submit(net_.node(2), receive).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(2, receive));
  ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(kObserver, receive));
  // On the observer the lot is now held by trader 1: a second receipt of it is refused (a
  // layer that missed the receipt would admit it, and it would never commit), and trader 1
  // may dispatch it on.
  const grpc::Status again = Submit(net_.node(kObserver), ReceiveTx(trader1_, lot));
  ASSERT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << "the observer admitted a second receipt of lot " << lot
      << ": its layer missed the receipt committed through validator 2 (" << again.error_message()
      << ")";
  const v1::SignedTx onward = DispatchTx(trader1_, lot, trader2_);
  const grpc::Status s = Submit(net_.node(kObserver), onward);
  ASSERT_TRUE(s.ok()) << "the observer's layer missed the receipt committed through validator 2: "
                      << s.error_message();
  ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(kObserver, onward));
}

}  // namespace
TEST_F(AdmissionLayer, ObserverDropsItsTxThatAConflictingCommitOutdated) {
  // The observer admits a dispatch that conflicts with one just sent to a validator (it
  // receives no tx gossip). Once the validator's dispatch commits, the observer's tx can
  // commit only if a validator had admitted it first; otherwise nothing would ever remove it
  // from the observer's pool and its waiters would wait for ever. Either way the observer's
  // WaitTx must end well within the wait: committed, or NOT_FOUND (dropped).
  const std::string lot = Tag(30);
  const v1::SignedTx record = RecordTx(lot);
  ASSERT_TRUE(Submit(net_.node(0), record).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(kObserver, record));
  const v1::SignedTx to1 = DispatchTx(coop_, lot, trader1_);
  const v1::SignedTx to2 = DispatchTx(coop_, lot, trader2_);
  ASSERT_TRUE(Submit(net_.node(0), to1).ok());
  const grpc::Status admitted = Submit(net_.node(kObserver), to2);
  ASSERT_TRUE(admitted.ok() ||
              admitted.error_code() == grpc::StatusCode::FAILED_PRECONDITION)
      << admitted.error_message();
  if (!admitted.ok()) GTEST_SKIP() << "to1 committed before to2 reached the observer";
  v1::WaitTxRequest w;
  w.set_tx_id(TxIdBytes(to2));
  w.set_timeout_ms(kCommitWaitMs);
  v1::TxWithReceipt rec;
  auto ctx = Ctx(kCommitWaitMs + 5000);
  const grpc::Status waited = net_.node(kObserver).TxStub()->WaitTx(ctx.get(), w, &rec);
  if (waited.ok()) {
    SUCCEED() << "a validator had admitted the observer's dispatch: it committed "
              << v1::TxStatus_Name(rec.receipt().status());
  } else {
    EXPECT_EQ(waited.error_code(), grpc::StatusCode::NOT_FOUND) << waited.error_message();
    // Submitted again, it is refused with the reason.
    const grpc::Status again = Submit(net_.node(kObserver), to2);
    EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << again.error_message();
  }
  ASSERT_NO_FATAL_FAILURE(ExpectCommittedOk(kObserver, to1));
}

}  // namespace minetrace::testing
