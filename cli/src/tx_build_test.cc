#include "tx_build.h"

#include <gtest/gtest.h>

#include <set>

#include "minetrace/base/bytes.h"

namespace minetrace::cli {
namespace {

const std::string kAlice(64, 'a');
const std::string kBob(64, 'b');

std::string Key(const std::string& hex) {
  auto h = Hash32FromHex(hex);
  return std::string(h->begin(), h->end());
}

// Values for every flag of every action, as a complete command line would give them.
TxArgs FullArgs(TxAction action) {
  TxArgs a;
  a.member = kAlice;
  a.name = "Coopérative Minière de Nyabibwe";
  a.roles = {"cooperative", "trader"};
  a.country = "CD";
  a.reason = "tag misuse";
  a.site_id = "CD-SK-0042";
  a.latitude = "-1.5";
  a.longitude = "28.9";
  a.minerals = {"cassiterite", "coltan"};
  a.site_status = "green";
  a.estimate_kg_per_month = 12000;
  a.agent = kBob;
  a.prefix = "T";
  a.first = 12;
  a.count = 100;
  a.tag = "T0000012";
  a.mineral = "cassiterite";
  a.weight_kg = "25.3";
  a.grade_percent = "45.5";
  a.producer = kAlice;
  a.lots = {"T0000012", "T0000013"};
  if (action == TxAction::kReceive) a.lots = {"T0000012:25.1", "T0000013:1"};
  a.to = kBob;
  a.note = "DN-7";
  return a;
}

TEST(BuildTxAction, EveryActionBuildsItsOwnOneofCase) {
  std::set<int> cases;
  for (const TxActionInfo& info : AllTxActions()) {
    auto body = BuildTxAction(info.action, FullArgs(info.action));
    ASSERT_TRUE(body) << info.command << ": " << body.error().message;
    EXPECT_NE(body->action_case(), v1::TxBody::ACTION_NOT_SET) << info.command;
    cases.insert(body->action_case());
    // Chain id, nonce and time are the caller's to set.
    EXPECT_TRUE(body->chain_id().empty());
    EXPECT_EQ(body->nonce(), 0u);
  }
  EXPECT_EQ(cases.size(), AllTxActions().size());
  EXPECT_EQ(AllTxActions().size(), 9u);  // one per TxBody action: update both together
}

TEST(BuildTxAction, RegisterMember) {
  auto body = BuildTxAction(TxAction::kRegisterMember, FullArgs(TxAction::kRegisterMember));
  ASSERT_TRUE(body);
  const auto& m = body->register_member();
  EXPECT_EQ(m.member_key(), Key(kAlice));
  EXPECT_EQ(m.name(), "Coopérative Minière de Nyabibwe");
  ASSERT_EQ(m.roles_size(), 2);
  EXPECT_EQ(m.roles(0), v1::ROLE_COOPERATIVE);
  EXPECT_EQ(m.roles(1), v1::ROLE_TRADER);
  EXPECT_EQ(m.country(), "CD");
}

TEST(BuildTxAction, RegisterMemberRefusesUnknownRoleAndNoRole) {
  TxArgs a = FullArgs(TxAction::kRegisterMember);
  a.roles = {"agent", "miner"};
  auto bad = BuildTxAction(TxAction::kRegisterMember, a);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--role"), std::string::npos) << bad.error().message;
  a.roles.clear();
  EXPECT_FALSE(BuildTxAction(TxAction::kRegisterMember, a));
}

TEST(BuildTxAction, SuspendNeedsAReasonReinstateDoesNot) {
  TxArgs a = FullArgs(TxAction::kSuspendMember);
  auto body = BuildTxAction(TxAction::kSuspendMember, a);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->suspend_member().member_key(), Key(kAlice));
  EXPECT_EQ(body->suspend_member().reason(), "tag misuse");
  a.reason.clear();
  EXPECT_FALSE(BuildTxAction(TxAction::kSuspendMember, a));
  auto reinstate = BuildTxAction(TxAction::kReinstateMember, a);
  ASSERT_TRUE(reinstate);
  EXPECT_EQ(reinstate->reinstate_member().member_key(), Key(kAlice));
}

TEST(BuildTxAction, RegisterSiteConvertsPositionAndNames) {
  auto body = BuildTxAction(TxAction::kRegisterSite, FullArgs(TxAction::kRegisterSite));
  ASSERT_TRUE(body);
  const auto& s = body->register_mine_site();
  EXPECT_EQ(s.site_id(), "CD-SK-0042");
  EXPECT_EQ(s.country(), "CD");
  EXPECT_EQ(s.latitude_microdeg(), -1500000);
  EXPECT_EQ(s.longitude_microdeg(), 28900000);
  ASSERT_EQ(s.minerals_size(), 2);
  EXPECT_EQ(s.minerals(0), v1::MINERAL_CASSITERITE);
  EXPECT_EQ(s.minerals(1), v1::MINERAL_COLTAN);
  EXPECT_EQ(s.status(), v1::SITE_STATUS_GREEN);
  EXPECT_EQ(s.production_estimate_kg_per_month(), 12000u);
}

TEST(BuildTxAction, RegisterSiteRefusesHalfAPositionAndBadNames) {
  TxArgs a = FullArgs(TxAction::kRegisterSite);
  a.longitude.clear();
  EXPECT_FALSE(BuildTxAction(TxAction::kRegisterSite, a));
  a = FullArgs(TxAction::kRegisterSite);
  a.latitude = "91";
  EXPECT_FALSE(BuildTxAction(TxAction::kRegisterSite, a));
  a = FullArgs(TxAction::kRegisterSite);
  a.site_status = "orange";
  EXPECT_FALSE(BuildTxAction(TxAction::kRegisterSite, a));
  a = FullArgs(TxAction::kRegisterSite);
  a.minerals = {"gold"};
  EXPECT_FALSE(BuildTxAction(TxAction::kRegisterSite, a));
  // Without a position both coordinates stay zero.
  a = FullArgs(TxAction::kRegisterSite);
  a.latitude.clear();
  a.longitude.clear();
  auto body = BuildTxAction(TxAction::kRegisterSite, a);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->register_mine_site().latitude_microdeg(), 0);
}

TEST(BuildTxAction, AllocateTags) {
  auto body = BuildTxAction(TxAction::kAllocateTags, FullArgs(TxAction::kAllocateTags));
  ASSERT_TRUE(body);
  const auto& t = body->allocate_tags();
  EXPECT_EQ(t.site_id(), "CD-SK-0042");
  EXPECT_EQ(t.agent_key(), Key(kBob));
  EXPECT_EQ(t.prefix(), "T");
  EXPECT_EQ(t.first(), 12u);
  EXPECT_EQ(t.count(), 100u);
}

TEST(BuildTxAction, AllocateTagsRefusesCountOutsideOneToTenThousand) {
  TxArgs a = FullArgs(TxAction::kAllocateTags);
  a.count = 0;
  EXPECT_FALSE(BuildTxAction(TxAction::kAllocateTags, a));
  a.count = 10001;
  EXPECT_FALSE(BuildTxAction(TxAction::kAllocateTags, a));
  a.count = 10000;
  EXPECT_TRUE(BuildTxAction(TxAction::kAllocateTags, a));
}

TEST(BuildTxAction, RecordLotConvertsWeightAndGradeExactly) {
  auto body = BuildTxAction(TxAction::kRecordLot, FullArgs(TxAction::kRecordLot));
  ASSERT_TRUE(body);
  const auto& l = body->record_mine_lot();
  EXPECT_EQ(l.tag_id(), "T0000012");
  EXPECT_EQ(l.site_id(), "CD-SK-0042");
  EXPECT_EQ(l.mineral(), v1::MINERAL_CASSITERITE);
  EXPECT_EQ(l.weight_grams(), 25300u);
  EXPECT_EQ(l.grade_basis_points(), 4550u);
  EXPECT_EQ(l.producer_key(), Key(kAlice));
}

TEST(BuildTxAction, RecordLotRefusesBadValuesNamingTheFlag) {
  struct Case {
    void (*mutate)(TxArgs&);
    const char* flag;
  };
  const Case cases[] = {
      {[](TxArgs& a) { a.weight_kg = "1.2345"; }, "--weight-kg"},
      {[](TxArgs& a) { a.weight_kg = "-1"; }, "--weight-kg"},
      {[](TxArgs& a) { a.weight_kg = "abc"; }, "--weight-kg"},
      {[](TxArgs& a) { a.grade_percent = "100.5"; }, "--grade-percent"},
      {[](TxArgs& a) { a.mineral = "gold"; }, "--mineral"},
      {[](TxArgs& a) { a.producer = "nobody"; }, "--producer"},
      {[](TxArgs& a) { a.tag.clear(); }, "--tag"},
  };
  for (const Case& c : cases) {
    TxArgs a = FullArgs(TxAction::kRecordLot);
    c.mutate(a);
    auto body = BuildTxAction(TxAction::kRecordLot, a);
    ASSERT_FALSE(body) << c.flag;
    EXPECT_EQ(body.error().code, ErrorCode::kInvalidArgument) << c.flag;
    EXPECT_NE(body.error().message.find(c.flag), std::string::npos) << body.error().message;
  }
}

TEST(BuildTxAction, DispatchReceiveAndCancel) {
  auto dispatch = BuildTxAction(TxAction::kDispatch, FullArgs(TxAction::kDispatch));
  ASSERT_TRUE(dispatch);
  ASSERT_EQ(dispatch->dispatch_lots().lot_ids_size(), 2);
  EXPECT_EQ(dispatch->dispatch_lots().lot_ids(1), "T0000013");
  EXPECT_EQ(dispatch->dispatch_lots().receiver_key(), Key(kBob));
  EXPECT_EQ(dispatch->dispatch_lots().delivery_note(), "DN-7");

  auto receive = BuildTxAction(TxAction::kReceive, FullArgs(TxAction::kReceive));
  ASSERT_TRUE(receive);
  ASSERT_EQ(receive->receive_lots().lots_size(), 2);
  EXPECT_EQ(receive->receive_lots().lots(0).lot_id(), "T0000012");
  EXPECT_EQ(receive->receive_lots().lots(0).weight_grams(), 25100u);
  EXPECT_EQ(receive->receive_lots().lots(1).weight_grams(), 1000u);

  auto cancel = BuildTxAction(TxAction::kCancelDispatch, FullArgs(TxAction::kCancelDispatch));
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->cancel_dispatch().lot_ids_size(), 2);
  EXPECT_EQ(cancel->cancel_dispatch().reason(), "tag misuse");
}

TEST(BuildTxAction, LotListsRefuseEmptyAndMalformedEntries) {
  TxArgs a = FullArgs(TxAction::kDispatch);
  a.lots.clear();
  EXPECT_FALSE(BuildTxAction(TxAction::kDispatch, a));
  a.lots = {""};
  EXPECT_FALSE(BuildTxAction(TxAction::kCancelDispatch, a));
  a.lots = {"T0000012"};  // receive needs a weight per lot
  EXPECT_FALSE(BuildTxAction(TxAction::kReceive, a));
  a.lots = {"T0000012:0"};
  EXPECT_FALSE(BuildTxAction(TxAction::kReceive, a));
}

}  // namespace
}  // namespace minetrace::cli
