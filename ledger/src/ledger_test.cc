// The Ledger as a whole: durability across reopen, genesis checks, replay refusal,
// admission against pending state, queries with pages, and proofs against the head.
#include "minetrace/ledger/ledger.h"

#include <unistd.h>

#include <filesystem>

#include "minetrace/ledger/proof/merkle.h"
#include "test_fixture.h"

namespace minetrace::ledger::testing {
namespace {

using LedgerTest = LedgerFixture;

TEST_F(LedgerTest, ReopenGivesSameHeadRootAndState) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  v1::LedgerInfo before = ledger_->head();
  EXPECT_EQ(before.height(), 6u);
  EXPECT_EQ(before.leaf_count(), 6u);
  Reopen();
  v1::LedgerInfo after = ledger_->head();
  EXPECT_EQ(before.SerializeAsString(), after.SerializeAsString());
  auto lot = ledger_->GetLot("T0000001");
  ASSERT_TRUE(lot && lot->has_value());
  EXPECT_EQ((*lot)->weight_grams(), 50000u);
  // And the chain goes on from there.
  ExpectOk(Dispatch(coop_, {"T0000001"}, trader_));
  EXPECT_EQ(ledger_->head().height(), 7u);
}

TEST_F(LedgerTest, RefusesDataDirectoryOfAnotherGenesis) {
  ledger_.reset();
  v1::Genesis other = genesis_;
  other.set_chain_id("other-chain");
  auto l = Ledger::Open(dir_, other);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(l.error().message.find("another network"), std::string::npos);
}

TEST_F(LedgerTest, SkipsReplayAndRepeatedTxInBlock) {
  ExpectOk(RegisterMember(agent_, "agent", {v1::ROLE_AGENT}));
  auto b = Body();
  b.mutable_suspend_member()->set_member_key(KeyStr(agent_));
  auto tx = proof::SignTx(b, admin_);
  auto twice = Execute({tx, tx});
  ASSERT_TRUE(twice) << twice.error().ToString();
  ASSERT_EQ(twice->txs.size(), 1u);
  ASSERT_EQ(twice->skipped.size(), 1u);
  EXPECT_EQ(twice->skipped[0].reason, "repeats a tx earlier in the block");
  uint64_t leaves = ledger_->head().leaf_count();
  auto replay = Execute({tx});
  ASSERT_TRUE(replay) << replay.error().ToString();
  EXPECT_TRUE(replay->txs.empty());
  ASSERT_EQ(replay->skipped.size(), 1u);
  EXPECT_EQ(replay->skipped[0].reason, "already committed");
  EXPECT_EQ(ledger_->head().leaf_count(), leaves);  // the block commits, the tx does not
  EXPECT_EQ(ledger_->head().height(), replay->ledger_info.height());
}

TEST_F(LedgerTest, SkipsTxWithBadSignature) {
  auto b = Body();
  b.mutable_suspend_member()->set_member_key(KeyStr(agent_));
  auto tx = proof::SignTx(b, admin_);
  tx.mutable_signature()->at(5) ^= 1;
  v1::LedgerInfo before = ledger_->head();
  auto r = Execute({tx});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->txs.empty());
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_NE(r->skipped[0].reason.find("signature"), std::string::npos) << r->skipped[0].reason;
  EXPECT_EQ(ledger_->head().leaf_count(), before.leaf_count());
  EXPECT_EQ(ledger_->head().height(), before.height() + 1);
}

TEST_F(LedgerTest, CheckpointOpensAsTheSameLedger) {
  ExpectOk(RegisterMember(agent_, "agent", {v1::ROLE_AGENT}));
  auto dir = std::filesystem::path(::testing::TempDir()) /
             ("checkpoint-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(ledger_->Checkpoint(dir));
  ExpectOk(RegisterMember(trader_, "trader", {v1::ROLE_TRADER}));  // after the checkpoint
  auto copy = Ledger::Open(dir, ledger_->genesis());
  ASSERT_TRUE(copy) << copy.error().ToString();
  EXPECT_EQ((*copy)->head().height(), ledger_->head().height() - 1);
  auto agent = (*copy)->GetMember(KeyStr(agent_));
  ASSERT_TRUE(agent && agent->has_value());
  auto trader = (*copy)->GetMember(KeyStr(trader_));
  ASSERT_TRUE(trader);
  EXPECT_FALSE(trader->has_value());
  copy->reset();
  std::filesystem::remove_all(dir);
}

TEST_F(LedgerTest, RefusesAHeightThatDoesNotFollowTheHead) {
  BlockToExecute block;
  block.height = ledger_->head().height() + 2;
  auto r = ledger_->ExecuteAndCommit(block, validator_, [](const Hash32&, const v1::SignedTx&) { return false; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(LedgerTest, KeepsLedgerInfoAndCertificatePerHeight) {
  BlockToExecute block;
  block.height = 1;
  block.certificate = "proof of commit";
  block.consensus_writes.push_back({Column::kConsensus, "k", "v"});
  auto r = ledger_->ExecuteAndCommit(block, validator_, [](const Hash32&, const v1::SignedTx&) { return false; });
  ASSERT_TRUE(r) << r.error().ToString();
  auto genesis_info = ledger_->GetLedgerInfo(0);
  ASSERT_TRUE(genesis_info && genesis_info->has_value());
  EXPECT_EQ((*genesis_info)->leaf_count(), 0u);
  auto info = ledger_->GetLedgerInfo(1);
  ASSERT_TRUE(info && info->has_value());
  EXPECT_EQ((*info)->SerializeAsString(), r->ledger_info.SerializeAsString());
  auto cert = ledger_->GetCertificate(1);
  ASSERT_TRUE(cert && cert->has_value());
  EXPECT_EQ(**cert, "proof of commit");
  auto record = ledger_->GetConsensusRecord("k");
  ASSERT_TRUE(record && record->has_value());
  EXPECT_EQ(**record, "v");
  auto missing = ledger_->GetLedgerInfo(2);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST_F(LedgerTest, AdmissionSeesEffectsOfEarlierAdmittedTxs) {
  auto pending = ledger_->NewPendingState();
  auto reg = Body();
  auto* a = reg.mutable_register_member();
  a->set_member_key(KeyStr(agent_));
  a->set_name("agent");
  a->add_roles(v1::ROLE_AGENT);
  ASSERT_TRUE(ledger_->CheckTx(*pending, reg, KeyStr(admin_), now_ms_));
  // The agent is not committed, but the pending layer knows it: registering again is refused.
  auto again = ledger_->CheckTx(*pending, reg, KeyStr(admin_), now_ms_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  // Committed state is untouched.
  EXPECT_FALSE(ledger_->GetMember(KeyStr(agent_))->has_value());
}

TEST_F(LedgerTest, AdmissionLayerSeesBlocksCommittedAfterItsReads) {
  // The admission layer lives across blocks and reads committed state through the ledger's
  // cache: a read that found nothing must not hide a record a later block commits.
  auto pending = ledger_->NewPendingState();
  auto suspend = Body();
  suspend.mutable_suspend_member()->set_member_key(KeyStr(agent_));
  auto before = ledger_->CheckTx(*pending, suspend, KeyStr(admin_), now_ms_);
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code, ErrorCode::kNotFound);
  ExpectOk(RegisterMember(agent_, "agent", {v1::ROLE_AGENT}));
  auto after = ledger_->CheckTx(*pending, suspend, KeyStr(admin_), now_ms_);
  EXPECT_TRUE(after) << after.error().ToString();
  // And a change committed to a record already read is seen too.
  ExpectOk(Commit(suspend, admin_));
  auto again = ledger_->CheckTx(*ledger_->NewPendingState(), suspend, KeyStr(admin_), now_ms_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition) << again.error().ToString();
}

TEST(CommittedStateCache, AppliesCommittedWritesToCachedKeysAndKeepsTwoGenerations) {
  CommittedStateCache cache(3);
  cache.Remember("m/a", std::nullopt);
  cache.Apply({{Column::kState, "m/a", std::string("A")},
               {Column::kIndex, "m/a", std::nullopt},  // another column: not this key
               {Column::kState, "l/1", std::string("lot")}});
  ASSERT_NE(cache.Find("m/a"), nullptr);
  EXPECT_EQ(*cache.Find("m/a"), std::optional<std::string>("A"));
  EXPECT_EQ(cache.Find("l/1"), nullptr);  // written, never read: not added
  cache.Remember("l/1", std::string("lot"));
  cache.Remember("l/0", std::nullopt);
  EXPECT_EQ(cache.size(), 3u);
  // The newer generation is full: it turns older, and the next entries start a new one.
  cache.Remember("l/2", std::string("lot 2"));
  EXPECT_EQ(cache.size(), 4u);
  // A write to an entry of the older generation lands there.
  cache.Apply({{Column::kState, "l/1", std::nullopt}});
  EXPECT_EQ(cache.size(), 4u);
  // Used again: moved to the newer generation, so it outlives the next turn.
  ASSERT_NE(cache.Find("l/1"), nullptr);  // newer: l/2, l/1; older: m/a, l/0
  EXPECT_FALSE(cache.Find("l/1")->has_value());
  cache.Remember("l/3", std::string("lot 3"));  // newer full
  cache.Remember("l/4", std::string("lot 4"));  // turn: m/a, l/0 dropped
  EXPECT_EQ(cache.Find("m/a"), nullptr);
  EXPECT_EQ(cache.Find("l/0"), nullptr);
  ASSERT_NE(cache.Find("l/1"), nullptr);
  EXPECT_FALSE(cache.Find("l/1")->has_value());
  EXPECT_EQ(cache.size(), 4u);
}

// The index entries of a block reach the store only as what changed: each entry is put once
// and removed at most once after, which the store's SingleDelete needs (a second put of a
// key before its removal would leave the first one to come back).
TEST(StateViewIndex, EntriesReachTheStoreOnlyAsTheirChangeOverTheBlock) {
  const std::filesystem::path dir = FreshDir("state-index");
  auto store = Store::Open(dir);
  ASSERT_TRUE(store) << store.error().ToString();
  const std::string a(32, 'a'), b(32, 'b');
  v1::Lot held;
  held.set_lot_id("L1");
  held.set_site_id("S1");
  held.set_holder_key(a);
  held.set_status(v1::LOT_STATUS_HELD);
  v1::Lot sent = held;  // dispatched to b: nobody holds it
  sent.clear_holder_key();
  sent.set_dispatched_to(b);
  sent.set_status(v1::LOT_STATUS_IN_TRANSIT);
  v1::Lot received = held;
  received.set_holder_key(b);
  using Step = std::pair<const v1::Lot*, const v1::Lot*>;  // a lot's record before, after
  auto index_writes = [](std::vector<StoreWrite> writes) {
    std::map<std::string, bool> entries;  // key -> put (true) or removed
    for (auto& w : writes) {
      if (w.column == Column::kIndex) entries[w.key] = w.value.has_value();
    }
    return entries;
  };
  const std::string by_a = keys::LotsByHolderPrefix(a) + "L1";
  const std::string by_b = keys::LotsByHolderPrefix(b) + "L1";
  const std::string to_b = keys::LotsInTransitToPrefix(b) + "L1";
  const std::string is_held = keys::LotsByStatusPrefix(v1::LOT_STATUS_HELD) + "L1";
  const std::string in_transit = keys::LotsByStatusPrefix(v1::LOT_STATUS_IN_TRANSIT) + "L1";
  const std::string at_site = keys::LotsBySitePrefix("S1") + "L1";
  {
    // Made, dispatched and received within one block, over three txs: only the end state.
    StateView block(**store);
    const Step steps[] = {{nullptr, &held}, {&held, &sent}, {&sent, &received}};
    for (auto [before, after] : steps) {
      StateView tx(block);
      tx.PutLot(before ? std::optional<v1::Lot>(*before) : std::nullopt, *after);
      tx.MergeIntoParent();
    }
    auto writes = block.TakeWrites();
    EXPECT_EQ(index_writes(writes), (std::map<std::string, bool>{
                                        {by_b, true}, {is_held, true}, {at_site, true}}));
    ASSERT_TRUE((*store)->Commit(writes));
  }
  {
    // Sent back to a and received: in one tx, then over two; both end where they started.
    v1::Lot back = sent;
    back.set_dispatched_to(a);
    StateView one_tx_block(**store);
    StateView both(one_tx_block);
    both.PutLot(received, back);
    both.PutLot(back, received);
    both.MergeIntoParent();
    EXPECT_TRUE(index_writes(one_tx_block.TakeWrites()).empty());
    StateView two_tx_block(**store);
    const Step steps[] = {{&received, &back}, {&back, &received}};
    for (auto [before, after] : steps) {
      StateView tx(two_tx_block);
      tx.PutLot(*before, *after);
      tx.MergeIntoParent();
    }
    EXPECT_TRUE(index_writes(two_tx_block.TakeWrites()).empty());
  }
  {
    // Dispatched in one block, received in the next: each block writes its change.
    StateView dispatch(**store);
    dispatch.PutLot(received, sent);
    auto writes = dispatch.TakeWrites();
    EXPECT_EQ(index_writes(writes), (std::map<std::string, bool>{{by_b, false},
                                                                 {is_held, false},
                                                                 {to_b, true},
                                                                 {in_transit, true}}));
    ASSERT_TRUE((*store)->Commit(writes));
    StateView receipt(**store);
    receipt.PutLot(sent, received);
    writes = receipt.TakeWrites();
    EXPECT_EQ(index_writes(writes), (std::map<std::string, bool>{{by_b, true},
                                                                 {is_held, true},
                                                                 {to_b, false},
                                                                 {in_transit, false}}));
    ASSERT_TRUE((*store)->Commit(writes));
  }
  // The store lists what the last block left.
  for (const auto& [entry, present] : std::map<std::string, bool>{
           {by_a, false}, {by_b, true}, {to_b, false}, {is_held, true}, {in_transit, false},
           {at_site, true}}) {
    auto got = (*store)->Get(Column::kIndex, entry);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->has_value(), present) << entry;
  }
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST_F(LedgerTest, ListsLotsByHolderSiteStatusInPages) {
  SetUpFlow();
  for (int i = 1; i <= 5; ++i) {
    ExpectOk(RecordLot(agent_, "T000000" + std::to_string(i), "CD-1", 1000 * i));
  }
  ExpectOk(Dispatch(coop_, {"T0000002", "T0000004"}, trader_));
  std::vector<std::string> seen;
  std::string token;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = ledger_->ListLots({}, token, 2);
    ASSERT_TRUE(page);
    for (const auto& l : page->items) seen.push_back(l.lot_id());
    token = page->next_page_token;
    if (token.empty()) break;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"T0000001", "T0000002", "T0000003", "T0000004",
                                            "T0000005"}));
  auto held = ledger_->ListLots({KeyStr(coop_), "", v1::LOT_STATUS_UNSPECIFIED}, "", 100);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->items.size(), 3u);
  auto transit = ledger_->ListLots({"", "", v1::LOT_STATUS_IN_TRANSIT}, "", 100);
  ASSERT_TRUE(transit);
  ASSERT_EQ(transit->items.size(), 2u);
  EXPECT_EQ(transit->items[0].lot_id(), "T0000002");
  auto by_site = ledger_->ListLots({"", "CD-1", v1::LOT_STATUS_UNSPECIFIED}, "", 100);
  EXPECT_EQ(by_site->items.size(), 5u);
  auto none = ledger_->ListLots({"", "CD", v1::LOT_STATUS_UNSPECIFIED}, "", 100);
  EXPECT_EQ(none->items.size(), 0u);  // "CD" is not a prefix match of "CD-1"
  EXPECT_FALSE(ledger_->ListLots({}, "zz-not-hex", 10));
}

TEST_F(LedgerTest, InclusionProofsVerifyAgainstSignedLedgerInfo) {
  SetUpFlow();
  auto signed_info = ledger_->LatestSignedLedgerInfo();
  ASSERT_TRUE(signed_info);
  v1::LedgerInfo info;
  ASSERT_TRUE(info.ParseFromString(signed_info->ledger_info()));
  ASSERT_EQ(signed_info->signatures_size(), 1);
  EXPECT_TRUE(crypto::VerifySchnorr(AsBytes(signed_info->signatures(0).validator_key()),
                                    proof::LedgerInfoSigningHash(AsBytes(signed_info->ledger_info())),
                                    AsBytes(signed_info->signatures(0).signature())));
  auto root = Hash32FromBytes(AsBytes(info.accumulator_root()));
  ASSERT_TRUE(root);
  for (uint64_t leaf = 0; leaf < info.leaf_count(); ++leaf) {
    auto rec = ledger_->GetTxAtLeaf(leaf);
    ASSERT_TRUE(rec);
    auto path = ledger_->InclusionProof(leaf, info.leaf_count());
    ASSERT_TRUE(path);
    EXPECT_TRUE(proof::VerifyInclusion(leaf, info.leaf_count(), rec->receipt_hash, *path, *root));
  }
}

TEST_F(LedgerTest, BlocksChainByParentIdAndCarryTxRoot) {
  SetUpFlow();
  auto b1 = ledger_->GetBlock(1);
  auto b2 = ledger_->GetBlock(2);
  ASSERT_TRUE(b1 && b1->has_value() && b2 && b2->has_value());
  v1::BlockHeader h1, h2;
  ASSERT_TRUE(h1.ParseFromString((*b1)->header()));
  ASSERT_TRUE(h2.ParseFromString((*b2)->header()));
  EXPECT_EQ(h1.parent_id(), proof::HashString(ledger_->genesis_hash()));
  EXPECT_EQ(h2.parent_id(), proof::HashString(proof::BlockId(AsBytes((*b1)->header()))));
  ASSERT_EQ((*b2)->txs_size(), 1);
  Hash32 leaf = proof::TxRootLeaf((*b2)->txs(0));
  EXPECT_EQ(h2.tx_root(), proof::HashString(proof::MerkleRootOfLeafHashes({&leaf, 1})));
}

}  // namespace
}  // namespace minetrace::ledger::testing
