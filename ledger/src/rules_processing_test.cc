// Processing rules (domain.md rule 5), each with the refusal that shows it: merge and split,
// inputs held by the processor, of one mineral, not consumed before; outputs with the
// processor's own tags; mass never created; grade jumps flagged; the ICGLR lot model links.
#include "test_fixture.h"

namespace minetrace::ledger::testing {
namespace {

using ProcessingRules = LedgerFixture;
constexpr auto kMerge = v1::PROCESSING_KIND_MERGE;
constexpr auto kSplit = v1::PROCESSING_KIND_SPLIT;

TEST_F(ProcessingRules, MergeMakesNewLotsNamingAllInputsWithLossRecorded) {
  SetUpChain();
  ExpectOk(RegisterSite("CD-2", v1::SITE_STATUS_GREEN));
  ExpectOk(Allocate("CD-2", agent_, "U", 1, 2));
  LotTo("T0000001", processor_, 50000);
  ExpectOk(RecordLot(agent_, "U0000001", "CD-2", 30000));
  ExpectOk(Dispatch(coop_, {"U0000001"}, processor_));
  ExpectOk(Receive(processor_, "U0000001", 30000));
  auto before = LotOf("U0000001");
  auto r = Process(processor_, kMerge, {"U0000001", "T0000001"},
                   {{"P0000001", 60000, 6500}, {"P0000002", 15000, 6500}});
  ExpectOk(r);
  EXPECT_EQ(r.anomalies_size(), 0);
  // Lot links: inputs first (with their previous receipts), in request order, then outputs.
  ASSERT_EQ(r.lot_links_size(), 4);
  EXPECT_EQ(r.lot_links(0).lot_id(), "U0000001");
  EXPECT_EQ(r.lot_links(0).previous_receipt_hash(), before.last_receipt_hash());
  EXPECT_EQ(r.lot_links(1).lot_id(), "T0000001");
  EXPECT_EQ(r.lot_links(2).lot_id(), "P0000001");
  EXPECT_TRUE(r.lot_links(2).previous_receipt_hash().empty());
  EXPECT_EQ(r.lot_links(3).lot_id(), "P0000002");

  auto out = LotOf("P0000001");
  EXPECT_EQ(out.origin(), v1::LOT_ORIGIN_PROCESSING);
  EXPECT_TRUE(out.site_id().empty());
  EXPECT_EQ(std::vector<std::string>(out.mine_site_ids().begin(), out.mine_site_ids().end()),
            (std::vector<std::string>{"CD-1", "CD-2"}));
  EXPECT_EQ(std::vector<std::string>(out.parent_lot_ids().begin(), out.parent_lot_ids().end()),
            (std::vector<std::string>{"U0000001", "T0000001"}));
  EXPECT_EQ(out.holder_key(), KeyStr(processor_));
  EXPECT_EQ(out.status(), v1::LOT_STATUS_HELD);
  EXPECT_EQ(out.processed_by(), KeyStr(processor_));
  EXPECT_EQ(out.processing_input_grams(), 80000u);
  EXPECT_EQ(out.processing_loss_grams(), 5000u);
  EXPECT_EQ(out.origin_weight_grams(), 60000u);
  EXPECT_EQ(out.mineral(), v1::MINERAL_CASSITERITE);
  auto in = LotOf("T0000001");
  EXPECT_EQ(in.status(), v1::LOT_STATUS_CONSUMED);
  EXPECT_TRUE(in.holder_key().empty());
  EXPECT_EQ(std::vector<std::string>(in.child_lot_ids().begin(), in.child_lot_ids().end()),
            (std::vector<std::string>{"P0000001", "P0000002"}));
  auto tag = *ledger_->GetTag("P0000002");
  EXPECT_EQ(tag->status(), v1::TAG_STATUS_USED);
  EXPECT_EQ(tag->lot_id(), "P0000002");
  auto b = BalanceOf(processor_);
  EXPECT_EQ(b.processing_input_grams(), 80000u);
  EXPECT_EQ(b.processing_output_grams(), 75000u);
  EXPECT_EQ(b.processing_loss_grams(), 5000u);

  // A processed lot processed again carries its mine sites on.
  auto again = Process(processor_, kSplit, {"P0000001"},
                       {{"P0000003", 30000, 6500}, {"P0000004", 30000, 6500}});
  ExpectOk(again);
  EXPECT_EQ(LotOf("P0000004").mine_site_ids_size(), 2);
}

TEST_F(ProcessingRules, ConsumedLotIsNotProcessedOrDispatchedAgain) {
  SetUpChain();
  LotTo("T0000001", processor_);
  ExpectOk(Process(processor_, kMerge, {"T0000001"}, {{"P0000001", 50000}}));
  ExpectRefused(Process(processor_, kMerge, {"T0000001"}, {{"P0000002", 50000}}),
                "FAILED_PRECONDITION", "lot 'T0000001' was consumed by processing into 'P0000001'");
  ExpectRefused(Dispatch(processor_, {"T0000001"}, trader_), "FAILED_PRECONDITION",
                "was consumed by processing");
  ExpectOk(Dispatch(processor_, {"P0000001"}, trader_));
}

TEST_F(ProcessingRules, RefusesMassCreatedAndSplitNotSummingToInput) {
  SetUpChain();
  LotTo("T0000001", processor_, 50000);
  LotTo("T0000002", processor_, 50000);
  ExpectRefused(Process(processor_, kMerge, {"T0000001", "T0000002"}, {{"P0000001", 100001}}),
                "FAILED_PRECONDITION",
                "outputs weigh 100.001 kg, more than the 100.000 kg of the inputs; processing "
                "cannot create mass");
  ExpectRefused(
      Process(processor_, kSplit, {"T0000001"}, {{"P0000001", 25000}, {"P0000002", 24000}}),
      "FAILED_PRECONDITION", "a split's outputs sum exactly to its input");
  ExpectRefused(
      Process(processor_, kSplit, {"T0000001"}, {{"P0000001", 25000}, {"P0000002", 25001}}),
      "FAILED_PRECONDITION", "sum exactly");
  ExpectOk(Process(processor_, kSplit, {"T0000001"}, {{"P0000001", 25000}, {"P0000002", 25000}}));
  EXPECT_EQ(LotOf("P0000001").processing_loss_grams(), 0u);
}

TEST_F(ProcessingRules, RefusesBadShapes) {
  SetUpChain();
  LotTo("T0000001", processor_);
  LotTo("T0000002", processor_);
  ExpectRefused(
      Process(processor_, v1::PROCESSING_KIND_UNSPECIFIED, {"T0000001"}, {{"P0000001", 100}}),
      "INVALID_ARGUMENT", "merge or split");
  ExpectRefused(Process(processor_, kSplit, {"T0000001", "T0000002"},
                        {{"P0000001", 50000}, {"P0000002", 50000}}),
                "INVALID_ARGUMENT", "exactly one input");
  ExpectRefused(Process(processor_, kSplit, {"T0000001"}, {{"P0000001", 50000}}),
                "INVALID_ARGUMENT", "a split makes 2 to 100");
  ExpectRefused(Process(processor_, kMerge, {"T0000001"}, {}), "INVALID_ARGUMENT",
                "a merge makes 1 to 100");
  ExpectRefused(Process(processor_, kMerge, {}, {{"P0000001", 100}}), "INVALID_ARGUMENT",
                "a merge takes 1 to 1000");
  ExpectRefused(Process(processor_, kMerge, {"T0000001", "T0000001"}, {{"P0000001", 100}}),
                "INVALID_ARGUMENT", "named twice");
  ExpectRefused(Process(processor_, kMerge, {"T0000001"}, {{"P0000001", 10}, {"P0000001", 10}}),
                "INVALID_ARGUMENT", "output tag P0000001 is named twice");
  ExpectRefused(Process(processor_, kMerge, {"T0000001"}, {{"P0000001", 0}}), "INVALID_ARGUMENT",
                "weight must be more than 0");
  ExpectRefused(Process(processor_, kMerge, {"T0000001"}, {{"P0000001", 100, 10001}}),
                "INVALID_ARGUMENT", "grade must be 0 to 100 %");
}

TEST_F(ProcessingRules, OnlyProcessorsProcessLotsTheyHold) {
  SetUpChain();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  LotTo("T0000002", trader_);
  ExpectRefused(Process(trader_, kMerge, {"T0000002"}, {{"P0000001", 100}}), "PERMISSION_DENIED",
                "lacks the role processor");
  ExpectRefused(Process(processor_, kMerge, {"T0000001"}, {{"P0000001", 100}}),
                "FAILED_PRECONDITION", "lot 'T0000001' is held by another member");
  ExpectOk(Dispatch(coop_, {"T0000001"}, processor_));
  ExpectRefused(Process(processor_, kMerge, {"T0000001"}, {{"P0000001", 100}}),
                "FAILED_PRECONDITION", "is in transit");
  ExpectRefused(Process(processor_, kMerge, {"NOPE"}, {{"P0000001", 100}}), "NOT_FOUND",
                "no lot 'NOPE'");
}

TEST_F(ProcessingRules, InputsAreOfOneMineral) {
  SetUpChain();
  ExpectOk(RegisterSite("CD-W", v1::SITE_STATUS_GREEN, {v1::MINERAL_WOLFRAMITE}));
  ExpectOk(Allocate("CD-W", agent_, "W", 1, 1));
  ExpectOk(RecordLot(agent_, "W0000001", "CD-W", 40000, v1::MINERAL_WOLFRAMITE));
  ExpectOk(Dispatch(coop_, {"W0000001"}, processor_));
  ExpectOk(Receive(processor_, "W0000001", 40000));
  LotTo("T0000001", processor_);
  ExpectRefused(Process(processor_, kMerge, {"T0000001", "W0000001"}, {{"P0000001", 1000}}),
                "FAILED_PRECONDITION",
                "lot 'W0000001' is wolframite but lot 'T0000001' is cassiterite; processing "
                "inputs are of one mineral");
}

TEST_F(ProcessingRules, OutputsNeedTheProcessorsOwnUnusedProcessorTags) {
  SetUpChain();
  LotTo("T0000001", processor_);
  LotTo("T0000002", processor_);
  ExpectRefused(Process(processor_, kMerge, {"T0000001"}, {{"T0000003", 100}}),
                "FAILED_PRECONDITION", "is a mine tag of site 'CD-1'");
  ExpectRefused(Process(processor_, kMerge, {"T0000001"}, {{"P9999999", 100}}), "NOT_FOUND",
                "never allocated");
  ExpectOk(Process(processor_, kMerge, {"T0000001"}, {{"P0000001", 100}}));
  ExpectRefused(Process(processor_, kMerge, {"T0000002"}, {{"P0000001", 100}}),
                "FAILED_PRECONDITION", "already used by lot 'P0000001'");
  auto report = Body();
  report.mutable_report_tags()->add_tag_ids("P0000002");
  report.mutable_report_tags()->set_status(v1::TAG_STATUS_VOID);
  ExpectOk(Commit(report, processor_));
  ExpectRefused(Process(processor_, kMerge, {"T0000002"}, {{"P0000002", 100}}),
                "FAILED_PRECONDITION", "void or lost");
}

TEST_F(ProcessingRules, AnotherProcessorsTagIsRefusedAndFlagged) {
  SetUpChain();
  ExpectOk(RegisterMember(stranger_, "processor2", {v1::ROLE_PROCESSOR}));
  ExpectOk(AllocateProcessorTags(stranger_, "S", 1, 1));
  LotTo("T0000001", processor_);
  auto v = Try(ProcessBody(kMerge, {"T0000001"}, {{"S0000001", 50000}}), processor_);
  ASSERT_FALSE(v.effects);
  EXPECT_EQ(v.effects.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(v.effects.error().message.find("allocated to another processor"), std::string::npos);
  ASSERT_EQ(v.refusal_anomalies.size(), 1u);
  EXPECT_EQ(v.refusal_anomalies[0].kind(), "tag_off_agent");
  EXPECT_EQ(v.refusal_anomalies[0].tag_id(), "S0000001");
  EXPECT_EQ(v.refusal_anomalies[0].member_key(), KeyStr(processor_));
}

TEST_F(ProcessingRules, GradeJumpsAreFlagged) {
  SetUpChain();
  LotTo("T0000001", processor_, 50000);  // grade 6500 bp
  LotTo("T0000002", processor_, 50000);
  LotTo("T0000003", processor_, 50000);
  // Merge: 100 kg at 65 % hold 65 kg; 90 kg at 74 % hold 66.6 kg (+2.5 %): flagged.
  auto up = Process(processor_, kMerge, {"T0000001", "T0000002"}, {{"P0000001", 90000, 7400}});
  ExpectOk(up);
  ASSERT_EQ(up.anomalies_size(), 1);
  EXPECT_EQ(up.anomalies(0).kind(), "grade_jump");
  EXPECT_EQ(up.anomalies(0).lot_id(), "P0000001");
  // Split: one output 2 points above the input, one 2.01 points below: only the second.
  auto split = Process(processor_, kSplit, {"T0000003"},
                       {{"P0000002", 25000, 6700}, {"P0000003", 25000, 6299}});
  ExpectOk(split);
  ASSERT_EQ(split.anomalies_size(), 1);
  EXPECT_EQ(split.anomalies(0).kind(), "grade_jump");
  EXPECT_EQ(split.anomalies(0).lot_id(), "P0000003");
  // Upgrading with matching loss (contained mineral kept) raises nothing.
  auto fair = Process(processor_, kMerge, {"P0000002"}, {{"P0000004", 20000, 8375}});
  ExpectOk(fair);
  EXPECT_EQ(fair.anomalies_size(), 0);
}

TEST_F(ProcessingRules, LotEventsNeverGoBackInTime) {
  SetUpChain();
  LotTo("T0000001", processor_);
  auto b = ProcessBody(kMerge, {"T0000001"}, {{"P0000001", 100}});
  b.set_created_at_ms(LotOf("T0000001").last_device_time_ms() - 1);
  ExpectRefused(Commit(b, processor_), "FAILED_PRECONDITION", "never go back in time");
}

}  // namespace
}  // namespace minetrace::ledger::testing
