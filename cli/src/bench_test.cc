// The pure parts of `minetrace bench`: the world and workload it signs (members, tags, the
// dependency order of custody chains), open-loop pacing, nearest-rank percentiles, reason
// keys and the JSON summary.
#include "bench.h"

#include <gtest/gtest.h>

#include <set>

#include "minetrace/ledger/proof/tx.h"

namespace minetrace::cli {
namespace {

crypto::PrivateKey Admin() {
  Bytes secret(32, 0x11);
  return *crypto::PrivateKey::FromBytes(secret);
}

v1::TxBody BodyOf(const v1::SignedTx& tx) {
  v1::TxBody b;
  EXPECT_TRUE(b.ParseFromString(tx.body()));
  return b;
}

PlanParams Params(Workload w, size_t txs) {
  PlanParams p;
  p.workload = w;
  p.load_txs = txs;
  p.chain_id = "bench-test";
  p.now_ms = 1'700'000'000'000;
  auto counter = std::make_shared<uint64_t>(0);
  p.nonce = [counter] { return ++*counter; };
  p.signing_threads = 3;
  return p;
}

TEST(BenchWorld, SplitsKeysBetweenRolesAndIsRepeatableFromItsSeed) {
  auto a = MakeBenchWorld(42, 10);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->agents.size(), 3u);
  EXPECT_EQ(a->cooperatives.size(), 3u);
  EXPECT_EQ(a->processors.size(), 3u);
  EXPECT_EQ(a->site_ids.size(), 3u);
  EXPECT_EQ(a->run_id.size(), 8u);
  EXPECT_LE(a->MineTagPrefix(9999).size(), 16u);  // the ledger's bound on a tag prefix
  auto b = MakeBenchWorld(42, 10);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->run_id, b->run_id);
  EXPECT_EQ(a->agents[2].public_key(), b->agents[2].public_key());
  auto c = MakeBenchWorld(43, 10);
  ASSERT_TRUE(c);
  EXPECT_NE(a->run_id, c->run_id);
  EXPECT_NE(a->agents[0].public_key(), c->agents[0].public_key());
  std::set<crypto::PublicKey> keys;
  for (const auto* role : {&a->agents, &a->cooperatives, &a->processors}) {
    for (const auto& k : *role) keys.insert(k.public_key());
  }
  EXPECT_EQ(keys.size(), 9u) << "every member has its own key";
}

TEST(BenchWorld, RefusesTooFewOrTooManyKeys) {
  EXPECT_FALSE(MakeBenchWorld(1, 2));
  EXPECT_FALSE(MakeBenchWorld(1, kMaxBenchKeys + 1));
  EXPECT_EQ(MakeBenchWorld(1, 2).error().code, ErrorCode::kInvalidArgument);
}

TEST(BenchPlan, MineLotsUseEachTagOnceAndTagsAreAllocatedForExactlyThoseUsed) {
  auto world = MakeBenchWorld(7, 6);
  ASSERT_TRUE(world);
  WorkloadPlan plan = PlanWorkload(*world, Admin(), Params(Workload::kMineLots, 25));
  EXPECT_EQ(plan.load_txs, 25u);
  ASSERT_EQ(plan.units.size(), 25u);
  // 2 agents, 2 cooperatives, 2 processors and 2 sites.
  EXPECT_EQ(plan.setup_members_sites.size(), 8u);
  std::set<std::string> tags;
  std::set<std::string> ids;
  for (const auto& u : plan.units) {
    ASSERT_EQ(u.stages.size(), 1u);
    ASSERT_EQ(u.stages[0].size(), 1u);
    v1::TxBody b = BodyOf(u.stages[0][0]);
    ASSERT_TRUE(b.has_record_mine_lot());
    EXPECT_EQ(b.chain_id(), "bench-test");
    EXPECT_TRUE(tags.insert(b.record_mine_lot().tag_id()).second) << "tag used twice";
    EXPECT_TRUE(ids.insert(ToHex(ledger::proof::TxId(u.stages[0][0]))).second);
    // Signed on several threads, each with its signer's key.
    EXPECT_TRUE(ledger::proof::CheckTxEnvelope(u.stages[0][0], true));
  }
  for (const auto& tx : plan.setup_members_sites) {
    EXPECT_TRUE(ledger::proof::CheckTxEnvelope(tx, true));
  }
  // Tags: one allocation per agent covering exactly its lots (13 and 12), no processor tags.
  uint64_t allocated = 0;
  for (const auto& tx : plan.setup_tags) {
    v1::TxBody b = BodyOf(tx);
    ASSERT_TRUE(b.has_allocate_tags());
    EXPECT_EQ(b.allocate_tags().kind(), v1::TAG_KIND_MINE);
    EXPECT_EQ(b.allocate_tags().first(), 1u);
    allocated += b.allocate_tags().count();
  }
  EXPECT_EQ(plan.setup_tags.size(), 2u);
  EXPECT_EQ(allocated, 25u);
}

TEST(BenchPlan, CustodyChainsFollowTheLotsStepByStep) {
  auto world = MakeBenchWorld(7, 3);
  ASSERT_TRUE(world);
  WorkloadPlan plan = PlanWorkload(*world, Admin(), Params(Workload::kCustody, 7));
  ASSERT_EQ(plan.units.size(), 2u);  // 6 txs each: two chains reach 7
  EXPECT_EQ(plan.load_txs, 12u);
  const LoadUnit& u = plan.units[0];
  ASSERT_EQ(u.stages.size(), 5u);
  ASSERT_EQ(u.stages[0].size(), 2u);
  v1::TxBody lot_a = BodyOf(u.stages[0][0]);
  v1::TxBody lot_b = BodyOf(u.stages[0][1]);
  ASSERT_TRUE(lot_a.has_record_mine_lot());
  ASSERT_TRUE(lot_b.has_record_mine_lot());
  const std::string a = lot_a.record_mine_lot().tag_id();
  const std::string b = lot_b.record_mine_lot().tag_id();
  EXPECT_NE(a, b);
  const std::string coop(world->cooperatives[0].public_key().begin(),
                         world->cooperatives[0].public_key().end());
  const std::string proc(world->processors[0].public_key().begin(),
                         world->processors[0].public_key().end());
  EXPECT_EQ(lot_a.record_mine_lot().producer_key(), coop);

  v1::TxBody dispatch = BodyOf(u.stages[1][0]);
  ASSERT_TRUE(dispatch.has_dispatch_lots());
  EXPECT_EQ(u.stages[1][0].signer(), coop) << "the producer holds the lots and dispatches them";
  EXPECT_EQ(dispatch.dispatch_lots().receiver_key(), proc);
  EXPECT_EQ(dispatch.dispatch_lots().lot_ids_size(), 2);

  v1::TxBody receive = BodyOf(u.stages[2][0]);
  ASSERT_TRUE(receive.has_receive_lots());
  EXPECT_EQ(u.stages[2][0].signer(), proc);
  uint64_t received = 0;
  for (const auto& l : receive.receive_lots().lots()) received += l.weight_grams();
  EXPECT_EQ(received, lot_a.record_mine_lot().weight_grams() + lot_b.record_mine_lot().weight_grams());

  v1::TxBody merge = BodyOf(u.stages[3][0]);
  ASSERT_TRUE(merge.has_process_lots());
  EXPECT_EQ(merge.process_lots().kind(), v1::PROCESSING_KIND_MERGE);
  ASSERT_EQ(merge.process_lots().outputs_size(), 1);
  EXPECT_EQ(merge.process_lots().outputs(0).weight_grams(), received);

  v1::TxBody split = BodyOf(u.stages[4][0]);
  ASSERT_TRUE(split.has_process_lots());
  EXPECT_EQ(split.process_lots().kind(), v1::PROCESSING_KIND_SPLIT);
  ASSERT_EQ(split.process_lots().input_lot_ids_size(), 1);
  EXPECT_EQ(split.process_lots().input_lot_ids(0), merge.process_lots().outputs(0).tag_id());
  uint64_t split_grams = 0;
  for (const auto& o : split.process_lots().outputs()) split_grams += o.weight_grams();
  EXPECT_EQ(split_grams, received) << "a split's outputs sum exactly to its input";
  for (const auto& stage : u.stages) {
    for (const auto& tx : stage) EXPECT_TRUE(ledger::proof::CheckTxEnvelope(tx, true));
  }

  // Device times never go back along a chain.
  EXPECT_LE(lot_a.created_at_ms(), dispatch.created_at_ms());
  EXPECT_LT(dispatch.created_at_ms(), receive.created_at_ms());
  EXPECT_LT(receive.created_at_ms(), merge.created_at_ms());
  EXPECT_LT(merge.created_at_ms(), split.created_at_ms());

  // Processor tags: 3 per chain, allocated to the processor with no site.
  bool processor_tags = false;
  for (const auto& tx : plan.setup_tags) {
    v1::TxBody t = BodyOf(tx);
    if (t.allocate_tags().kind() != v1::TAG_KIND_PROCESSOR) continue;
    processor_tags = true;
    EXPECT_TRUE(t.allocate_tags().site_id().empty());
    EXPECT_EQ(t.allocate_tags().agent_key(), proc);
    EXPECT_EQ(t.allocate_tags().count(), 6u);
  }
  EXPECT_TRUE(processor_tags);
}

TEST(BenchPlan, MixedIsAboutHalfChainsHalfMineLots) {
  auto world = MakeBenchWorld(9, 9);
  ASSERT_TRUE(world);
  WorkloadPlan plan = PlanWorkload(*world, Admin(), Params(Workload::kMixed, 120));
  size_t chain_txs = 0;
  size_t lot_txs = 0;
  for (const auto& u : plan.units) (u.stages.size() > 1 ? chain_txs : lot_txs) += u.TxCount();
  EXPECT_EQ(chain_txs + lot_txs, plan.load_txs);
  EXPECT_GE(plan.load_txs, 120u);
  EXPECT_EQ(chain_txs, lot_txs);
}

TEST(BenchPlan, LargeSeriesAreAllocatedInSeveralTxs) {
  auto world = MakeBenchWorld(3, 3);
  ASSERT_TRUE(world);
  WorkloadPlan plan = PlanWorkload(*world, Admin(), Params(Workload::kMineLots, 10'001));
  ASSERT_EQ(plan.setup_tags.size(), 2u);
  EXPECT_EQ(BodyOf(plan.setup_tags[0]).allocate_tags().count(), 10000u);
  EXPECT_EQ(BodyOf(plan.setup_tags[1]).allocate_tags().first(), 10001u);
  EXPECT_EQ(BodyOf(plan.setup_tags[1]).allocate_tags().count(), 1u);
}

TEST(BenchPacer, KeepsUpWithTheRateInBoundedBatches) {
  using std::chrono::milliseconds;
  Pacer p(1000, 50);  // 1000 tx/s
  EXPECT_EQ(p.Due(milliseconds(0), 0), 0u);
  EXPECT_EQ(p.Due(milliseconds(10), 0), 10u);
  EXPECT_EQ(p.Due(milliseconds(10), 10), 0u);
  EXPECT_EQ(p.Due(milliseconds(25), 10), 15u);
  EXPECT_EQ(p.Due(milliseconds(1000), 10), 50u) << "a late sender catches up in full batches";
  EXPECT_EQ(p.Due(milliseconds(10), 30), 0u) << "ahead of the rate: nothing due";
  Pacer slow(10, 50);  // 10 tx/s: one every 100 ms
  EXPECT_EQ(slow.Due(milliseconds(99), 0), 0u);
  EXPECT_EQ(slow.Due(milliseconds(100), 0), 1u);
  EXPECT_EQ(slow.Due(milliseconds(250), 1), 1u);
}

TEST(BenchLatency, NearestRankPercentilesAreSampleValues) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  std::reverse(v.begin(), v.end());
  LatencyStats s = SummarizeLatencies(v);
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.p50_ms, 50);
  EXPECT_EQ(s.p90_ms, 90);
  EXPECT_EQ(s.p99_ms, 99);
  EXPECT_EQ(s.max_ms, 100);
  EXPECT_DOUBLE_EQ(s.mean_ms, 50.5);

  LatencyStats one = SummarizeLatencies({7.5});
  EXPECT_EQ(one.p50_ms, 7.5);
  EXPECT_EQ(one.p99_ms, 7.5);
  LatencyStats none = SummarizeLatencies({});
  EXPECT_EQ(none.count, 0u);
  EXPECT_EQ(none.p99_ms, 0);
  // 3 samples: p50 is rank ceil(1.5) = 2, p90 rank ceil(2.7) = 3.
  std::vector<double> three{30, 10, 20};
  std::sort(three.begin(), three.end());
  EXPECT_EQ(NearestRankPercentile(three, 50), 20);
  EXPECT_EQ(NearestRankPercentile(three, 90), 30);
  EXPECT_EQ(NearestRankPercentile(three, 0), 10);
}

TEST(BenchSummary, ReasonKeysFoldNumbersAndKeys) {
  EXPECT_EQ(RejectReasonKey("RESOURCE_EXHAUSTED", "mempool is full (50000 txs)"),
            "RESOURCE_EXHAUSTED: mempool is full (# txs)");
  EXPECT_EQ(RejectReasonKey("FAILED_PRECONDITION", "tag M1a2b3c4d-3 is used by lot 'X12'"),
            RejectReasonKey("FAILED_PRECONDITION", "tag M9f8e7d6c-1 is used by lot 'X7'"));
  EXPECT_EQ(RejectReasonKey("PERMISSION_DENIED",
                            "signer 0123456789abcdef0123456789abcdef is not a member"),
            "PERMISSION_DENIED: signer # is not a member");
  EXPECT_EQ(RejectReasonKey("X", "a bed of ace"), "X: a bed of ace") << "short words stay";
}

TEST(BenchSummary, JsonHasEveryFigure) {
  BenchSummary s;
  s.workload = "custody";
  s.mode = "closed-loop";
  s.in_flight = 64;
  s.nodes = {"127.0.0.1:7000", "127.0.0.1:7001"};
  s.keys = 30;
  s.run_id = "0badc0de";
  s.sent = 100;
  s.committed_ok = 97;
  s.committed_failed = 1;
  s.rejected = 2;
  s.committed_in_window = 90;
  s.measured_s = 9;
  s.committed_tx_per_s = 10;
  s.latency = SummarizeLatencies({1, 2, 3, 4});
  s.rejects_by_reason["RESOURCE_EXHAUSTED: mempool is \"full\""] = 2;
  s.failed_by_reason["FAILED_PRECONDITION: x"] = 1;
  const std::string j = BenchSummaryJson(s);
  EXPECT_NE(j.find("\"workload\":\"custody\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"mode\":\"closed-loop\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"inFlight\":64"), std::string::npos) << j;
  EXPECT_NE(j.find("\"nodes\":[\"127.0.0.1:7000\",\"127.0.0.1:7001\"]"), std::string::npos) << j;
  EXPECT_NE(j.find("\"committedTxPerS\":10.000"), std::string::npos) << j;
  EXPECT_NE(j.find("\"latencyMs\":{\"count\":4,\"p50\":2.000,\"p90\":4.000,\"p99\":4.000,"
                   "\"max\":4.000,\"mean\":2.500}"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"rejectsByReason\":{\"RESOURCE_EXHAUSTED: mempool is \\\"full\\\"\":2}"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"failedByReason\":{\"FAILED_PRECONDITION: x\":1}"), std::string::npos) << j;
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.back(), '}');
  std::ostringstream text;
  PrintBenchSummary(text, s);
  EXPECT_NE(text.str().find("committed 10.0 tx/s"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("p50 2.0 ms"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace minetrace::cli
