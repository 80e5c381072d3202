#include "tx_build.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "format.h"
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
  a.date = "2026-03-01";
  a.result = "yellow";
  a.inspector = "joint mission JM-12";
  a.report_hash = std::string(64, 'd');
  a.summary = "one pit flooded";
  a.tags = {"T0000012", "T0000013"};
  a.tag_status = "lost";
  a.processing_kind = "merge";
  a.inputs = {"T0000012", "T0000013"};
  a.outputs = {"P0000001:40.5:62.25"};
  a.shipment_id = "EXP-2026-001";
  a.destination = "MY";
  a.issue = true;
  a.certificate = "RW-ICGLR-000123";
  a.smelter = kBob;
  a.subject = "site";
  a.subject_id = "CD-SK-0042";
  a.category = "armed-groups";
  a.level = 1;
  a.description = "armed men at the pit";
  a.occurred_at = "2026-02-27T06:00:00Z";
  a.source = "field";
  a.incident_id = "INC-0000001";
  a.incident_status = "under-mitigation";
  a.audit_flag = "red";
  if (action == TxAction::kSetSiteStatus) a.site_status = "red";
  if (action == TxAction::kAllocateTags) a.tag_kind = "mine";
  if (action == TxAction::kReviewShipment) a.reason.clear();
  if (action == TxAction::kUpdateIncident) a.level = 0;
  return a;
}

// Builds `action` from FullArgs changed by `mutate`, expecting a refusal that names `words`.
void ExpectRefusal(TxAction action, const std::function<void(TxArgs&)>& mutate,
                   const std::string& words) {
  TxArgs a = FullArgs(action);
  mutate(a);
  auto body = BuildTxAction(action, a);
  ASSERT_FALSE(body) << words;
  EXPECT_EQ(body.error().code, ErrorCode::kInvalidArgument) << words;
  EXPECT_NE(body.error().message.find(words), std::string::npos)
      << "expected \"" << words << "\" in: " << body.error().message;
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
  // One per TxBody action: update both together.
  EXPECT_EQ(AllTxActions().size(), static_cast<size_t>(v1::TxBody::kSetAuditFlag -
                                                       v1::TxBody::kRegisterMember + 1));
}

TEST(BuildTxAction, EverySummaryStartsWithItsCommandName) {
  for (const TxActionInfo& info : AllTxActions()) {
    auto body = BuildTxAction(info.action, FullArgs(info.action));
    ASSERT_TRUE(body) << info.command;
    const std::string summary = SummarizeTxBody(*body);
    EXPECT_EQ(summary.rfind(std::string(info.command) + " ", 0), 0u) << summary;
  }
}

TEST(BuildTxAction, SummariesOfNewActionsShowTheirValues) {
  auto summary = [](TxAction action, const std::function<void(TxArgs&)>& mutate) {
    TxArgs a = FullArgs(action);
    mutate(a);
    auto body = BuildTxAction(action, a);
    EXPECT_TRUE(body);
    return body ? SummarizeTxBody(*body) : std::string();
  };
  auto same = [](TxArgs&) {};
  EXPECT_EQ(summary(TxAction::kProcess, same),
            "process merge T0000012, T0000013 into P0000001 40.500 kg 62.25 % note \"DN-7\"");
  EXPECT_EQ(summary(TxAction::kReviewShipment, same),
            "review-shipment EXP-2026-001 issue certificate RW-ICGLR-000123 dated "
            "2026-03-01T00:00:00.000Z");
  EXPECT_EQ(summary(TxAction::kReviewShipment,
                    [](TxArgs& a) {
                      a.issue = false;
                      a.refuse = true;
                      a.certificate.clear();
                      a.date.clear();
                      a.reason = "incomplete custody";
                    }),
            "review-shipment EXP-2026-001 refuse: incomplete custody");
  EXPECT_EQ(summary(TxAction::kReportIncident, same),
            "report-incident site CD-SK-0042 level 1 armed-groups source field occurred "
            "2026-02-27T06:00:00.000Z: armed men at the pit");
  EXPECT_EQ(summary(TxAction::kUpdateIncident,
                    [](TxArgs& a) {
                      a.incident_status = "resolved";
                      a.outcome = "mitigated";
                      a.category.clear();
                      a.note = "armed men left";
                    }),
            "update-incident INC-0000001 status resolved outcome mitigated: armed men left");
  EXPECT_EQ(summary(TxAction::kReceiveShipment, same), "receive-shipment EXP-2026-001 25.300 kg");
  EXPECT_EQ(summary(TxAction::kAllocateTags,
                    [](TxArgs& a) {
                      a.tag_kind = "processor";
                      a.site_id.clear();
                      a.prefix = "P";
                      a.first = 1;
                      a.count = 2;
                    }),
            "allocate-tags P0000001..P0000002 (2) processor tags to " + kBob);
  EXPECT_EQ(summary(TxAction::kSetAuditFlag, same),
            "set-audit-flag " + kAlice + " red: tag misuse");
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

TEST(BuildTxAction, AllocateProcessorTagsHaveNoSite) {
  TxArgs a = FullArgs(TxAction::kAllocateTags);
  a.tag_kind = "processor";
  a.site_id.clear();
  auto body = BuildTxAction(TxAction::kAllocateTags, a);
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(body->allocate_tags().kind(), v1::TAG_KIND_PROCESSOR);
  EXPECT_EQ(body->allocate_tags().site_id(), "");
  EXPECT_EQ(body->allocate_tags().agent_key(), Key(kBob));
  // Mine tags are the default kind.
  a = FullArgs(TxAction::kAllocateTags);
  a.tag_kind.clear();
  EXPECT_EQ(BuildTxAction(TxAction::kAllocateTags, a)->allocate_tags().kind(), v1::TAG_KIND_MINE);
  ExpectRefusal(
      TxAction::kAllocateTags, [](TxArgs& x) { x.tag_kind = "processor"; },
      "processor tags (--kind processor) have no site");
  ExpectRefusal(
      TxAction::kAllocateTags, [](TxArgs& x) { x.site_id.clear(); }, "--site-id is required");
  ExpectRefusal(
      TxAction::kAllocateTags, [](TxArgs& x) { x.tag_kind = "smelter"; },
      "--kind: unknown tag kind \"smelter\" (one of: mine, processor)");
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

TEST(BuildTxAction, RecordInspection) {
  auto body = BuildTxAction(TxAction::kRecordInspection, FullArgs(TxAction::kRecordInspection));
  ASSERT_TRUE(body) << body.error().message;
  const auto& i = body->record_inspection();
  EXPECT_EQ(i.site_id(), "CD-SK-0042");
  EXPECT_EQ(i.inspected_at_ms(), 1772323200000);  // 2026-03-01T00:00:00Z
  EXPECT_EQ(i.result(), v1::SITE_STATUS_YELLOW);
  EXPECT_EQ(i.inspector(), "joint mission JM-12");
  EXPECT_EQ(i.report_hash(), Key(std::string(64, 'd')));
  EXPECT_EQ(i.summary(), "one pit flooded");
}

TEST(BuildTxAction, RecordInspectionHashesTheReportFile) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("minetrace_report_" + std::to_string(::getpid()) + ".txt");
  std::ofstream(file) << "abc";
  TxArgs a = FullArgs(TxAction::kRecordInspection);
  a.report_hash.clear();
  a.report_file = file.string();
  auto body = BuildTxAction(TxAction::kRecordInspection, a);
  std::filesystem::remove(file);
  ASSERT_TRUE(body) << body.error().message;
  // SHA-256("abc"), the FIPS 180-2 example.
  EXPECT_EQ(ToHex(AsBytes(body->record_inspection().report_hash())),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(BuildTxAction, RecordInspectionRefusals) {
  ExpectRefusal(
      TxAction::kRecordInspection, [](TxArgs& a) { a.result = "blue"; },
      "--result: blue is derived from time");
  ExpectRefusal(
      TxAction::kRecordInspection, [](TxArgs& a) { a.date = "01/03/2026"; },
      "--date: \"01/03/2026\" is not a UTC date or time");
  ExpectRefusal(
      TxAction::kRecordInspection, [](TxArgs& a) { a.report_file = "r.pdf"; },
      "give exactly one of --report-hash");
  ExpectRefusal(
      TxAction::kRecordInspection, [](TxArgs& a) { a.report_hash.clear(); },
      "give exactly one of --report-hash");
  ExpectRefusal(
      TxAction::kRecordInspection, [](TxArgs& a) { a.report_hash = "abc"; },
      "--report-hash: \"abc\" is not 64 hex characters");
  ExpectRefusal(
      TxAction::kRecordInspection, [](TxArgs& a) { a.inspector.clear(); },
      "--inspector is required");
}

TEST(BuildTxAction, SetSiteStatusAndTagWithdrawal) {
  auto status = BuildTxAction(TxAction::kSetSiteStatus, FullArgs(TxAction::kSetSiteStatus));
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->set_site_status().status(), v1::SITE_STATUS_RED);
  EXPECT_EQ(status->set_site_status().reason(), "tag misuse");
  ExpectRefusal(
      TxAction::kSetSiteStatus, [](TxArgs& a) { a.reason.clear(); }, "--reason is required");
  ExpectRefusal(
      TxAction::kSetSiteStatus, [](TxArgs& a) { a.site_status = "purple"; },
      "--status: unknown site status \"purple\"");

  auto withdraw = BuildTxAction(TxAction::kWithdrawTags, FullArgs(TxAction::kWithdrawTags));
  ASSERT_TRUE(withdraw);
  EXPECT_EQ(withdraw->withdraw_site_tags().site_id(), "CD-SK-0042");
  auto restore = BuildTxAction(TxAction::kRestoreTags, FullArgs(TxAction::kRestoreTags));
  ASSERT_TRUE(restore);
  EXPECT_EQ(restore->restore_site_tags().reason(), "tag misuse");
  ExpectRefusal(
      TxAction::kWithdrawTags, [](TxArgs& a) { a.reason.clear(); }, "--reason is required");
  ExpectRefusal(
      TxAction::kRestoreTags, [](TxArgs& a) { a.site_id.clear(); }, "--site-id is required");
}

TEST(BuildTxAction, ReportTagsLostOrVoidOnly) {
  auto body = BuildTxAction(TxAction::kReportTags, FullArgs(TxAction::kReportTags));
  ASSERT_TRUE(body);
  EXPECT_EQ(body->report_tags().tag_ids_size(), 2);
  EXPECT_EQ(body->report_tags().status(), v1::TAG_STATUS_LOST);
  TxArgs a = FullArgs(TxAction::kReportTags);
  a.tag_status = "VOID";
  EXPECT_EQ(BuildTxAction(TxAction::kReportTags, a)->report_tags().status(), v1::TAG_STATUS_VOID);
  ExpectRefusal(
      TxAction::kReportTags, [](TxArgs& x) { x.tag_status = "used"; },
      "--status: tags are reported lost or void");
  ExpectRefusal(
      TxAction::kReportTags, [](TxArgs& x) { x.tags.clear(); }, "--tag is required");
  ExpectRefusal(
      TxAction::kReportTags, [](TxArgs& x) { x.reason.clear(); }, "--reason is required");
}

TEST(BuildTxAction, ProcessMergeAndSplit) {
  auto merge = BuildTxAction(TxAction::kProcess, FullArgs(TxAction::kProcess));
  ASSERT_TRUE(merge) << merge.error().message;
  const auto& m = merge->process_lots();
  EXPECT_EQ(m.kind(), v1::PROCESSING_KIND_MERGE);
  ASSERT_EQ(m.input_lot_ids_size(), 2);
  ASSERT_EQ(m.outputs_size(), 1);
  EXPECT_EQ(m.outputs(0).tag_id(), "P0000001");
  EXPECT_EQ(m.outputs(0).weight_grams(), 40500u);
  EXPECT_EQ(m.outputs(0).grade_basis_points(), 6225u);
  EXPECT_EQ(m.note(), "DN-7");

  TxArgs a = FullArgs(TxAction::kProcess);
  a.processing_kind = "split";
  a.inputs = {"T0000012"};
  a.outputs = {"P0000001:10:40", "P0000002:15.3:41"};
  auto split = BuildTxAction(TxAction::kProcess, a);
  ASSERT_TRUE(split) << split.error().message;
  EXPECT_EQ(split->process_lots().kind(), v1::PROCESSING_KIND_SPLIT);
  EXPECT_EQ(split->process_lots().outputs(1).weight_grams(), 15300u);

  ExpectRefusal(
      TxAction::kProcess, [](TxArgs& x) { x.processing_kind = "split"; },
      "--input: a split has exactly one input lot");
  ExpectRefusal(
      TxAction::kProcess,
      [](TxArgs& x) {
        x.processing_kind = "split";
        x.inputs = {"T0000012"};
      },
      "--output: a split makes at least two lots");
  ExpectRefusal(
      TxAction::kProcess, [](TxArgs& x) { x.outputs = {"P0000001:40.5"}; },
      "--output: \"P0000001:40.5\" must be TAG_ID:WEIGHT_KG:GRADE_PERCENT");
  ExpectRefusal(
      TxAction::kProcess, [](TxArgs& x) { x.outputs = {"P0000001:40.5:101"}; },
      "--output: a grade is at most 100 %");
  ExpectRefusal(
      TxAction::kProcess, [](TxArgs& x) { x.outputs = {":40.5:10"}; }, "has no tag id");
  ExpectRefusal(
      TxAction::kProcess, [](TxArgs& x) { x.processing_kind = "smelt"; },
      "--kind: unknown processing kind \"smelt\" (one of: merge, split)");
  ExpectRefusal(
      TxAction::kProcess, [](TxArgs& x) { x.inputs.clear(); }, "--input is required");
}

TEST(BuildTxAction, ShipmentLifecycle) {
  auto form = BuildTxAction(TxAction::kFormShipment, FullArgs(TxAction::kFormShipment));
  ASSERT_TRUE(form);
  EXPECT_EQ(form->form_shipment().shipment_id(), "EXP-2026-001");
  EXPECT_EQ(form->form_shipment().lot_ids_size(), 2);
  EXPECT_EQ(form->form_shipment().destination_country(), "MY");
  ExpectRefusal(
      TxAction::kFormShipment, [](TxArgs& a) { a.destination.clear(); },
      "--destination is required");

  auto issue = BuildTxAction(TxAction::kReviewShipment, FullArgs(TxAction::kReviewShipment));
  ASSERT_TRUE(issue) << issue.error().message;
  EXPECT_TRUE(issue->review_shipment().issue());
  EXPECT_EQ(issue->review_shipment().certificate_number(), "RW-ICGLR-000123");
  EXPECT_EQ(issue->review_shipment().certificate_date_ms(), 1772323200000);

  TxArgs refuse = FullArgs(TxAction::kReviewShipment);
  refuse.issue = false;
  refuse.refuse = true;
  refuse.certificate.clear();
  refuse.date.clear();
  refuse.reason = "lot T0000012 lacks its mine record";
  auto refused = BuildTxAction(TxAction::kReviewShipment, refuse);
  ASSERT_TRUE(refused) << refused.error().message;
  EXPECT_FALSE(refused->review_shipment().issue());
  EXPECT_EQ(refused->review_shipment().reason(), "lot T0000012 lacks its mine record");

  ExpectRefusal(
      TxAction::kReviewShipment, [](TxArgs& a) { a.issue = false; },
      "give exactly one of --issue and --refuse");
  ExpectRefusal(
      TxAction::kReviewShipment, [](TxArgs& a) { a.certificate.clear(); },
      "--certificate is required");
  ExpectRefusal(
      TxAction::kReviewShipment, [](TxArgs& a) { a.date.clear(); }, "--date is required");
  ExpectRefusal(
      TxAction::kReviewShipment,
      [](TxArgs& a) {
        a.issue = false;
        a.refuse = true;
      },
      "--certificate and --date are for --issue");
  ExpectRefusal(
      TxAction::kReviewShipment,
      [](TxArgs& a) {
        a.issue = false;
        a.refuse = true;
        a.certificate.clear();
        a.date.clear();
      },
      "--reason is required");

  auto dispatch =
      BuildTxAction(TxAction::kDispatchShipment, FullArgs(TxAction::kDispatchShipment));
  ASSERT_TRUE(dispatch);
  EXPECT_EQ(dispatch->dispatch_shipment().smelter_key(), Key(kBob));
  ExpectRefusal(
      TxAction::kDispatchShipment, [](TxArgs& a) { a.smelter = "x"; }, "--smelter");

  auto receive = BuildTxAction(TxAction::kReceiveShipment, FullArgs(TxAction::kReceiveShipment));
  ASSERT_TRUE(receive);
  EXPECT_EQ(receive->receive_shipment().weight_grams(), 25300u);
  ExpectRefusal(
      TxAction::kReceiveShipment, [](TxArgs& a) { a.weight_kg = "0"; },
      "--weight-kg: a weight must be more than 0 kg");

  auto cancel = BuildTxAction(TxAction::kCancelShipment, FullArgs(TxAction::kCancelShipment));
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->cancel_shipment().reason(), "tag misuse");
  ExpectRefusal(
      TxAction::kCancelShipment, [](TxArgs& a) { a.reason.clear(); }, "--reason is required");
}

TEST(BuildTxAction, ReportIncident) {
  auto body = BuildTxAction(TxAction::kReportIncident, FullArgs(TxAction::kReportIncident));
  ASSERT_TRUE(body) << body.error().message;
  const auto& i = body->report_incident();
  EXPECT_EQ(i.subject_kind(), v1::INCIDENT_SUBJECT_SITE);
  EXPECT_EQ(i.subject_id(), "CD-SK-0042");
  EXPECT_EQ(i.category(), v1::INCIDENT_CATEGORY_ARMED_GROUPS);
  EXPECT_EQ(i.level(), 1u);
  EXPECT_EQ(i.occurred_at_ms(), 1772172000000);  // 2026-02-27T06:00:00Z
  EXPECT_EQ(i.source(), v1::INCIDENT_SOURCE_FIELD);

  // A member is named by its key; the subject id is its lowercase hex.
  TxArgs a = FullArgs(TxAction::kReportIncident);
  a.subject = "member";
  a.subject_id = std::string(64, 'A');
  auto member = BuildTxAction(TxAction::kReportIncident, a);
  ASSERT_TRUE(member) << member.error().message;
  EXPECT_EQ(member->report_incident().subject_id(), std::string(64, 'a'));

  ExpectRefusal(
      TxAction::kReportIncident, [](TxArgs& x) { x.level = 4; }, "--level is required: 1");
  ExpectRefusal(
      TxAction::kReportIncident, [](TxArgs& x) { x.category = "theft"; },
      "--category: unknown incident category \"theft\"");
  ExpectRefusal(
      TxAction::kReportIncident, [](TxArgs& x) { x.subject = "shipment"; },
      "--subject: unknown incident subject");
  ExpectRefusal(
      TxAction::kReportIncident,
      [](TxArgs& x) {
        x.subject = "member";
        x.subject_id = "bob";
      },
      "--subject-id: \"bob\" is neither 64 hex characters");
  ExpectRefusal(
      TxAction::kReportIncident, [](TxArgs& x) { x.description.clear(); },
      "--description is required");
  ExpectRefusal(
      TxAction::kReportIncident, [](TxArgs& x) { x.occurred_at = "2026-02-30"; },
      "--occurred-at: \"2026-02-30\" has no day 30");
}

TEST(BuildTxAction, UpdateIncident) {
  auto body = BuildTxAction(TxAction::kUpdateIncident, FullArgs(TxAction::kUpdateIncident));
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(body->update_incident().status(), v1::INCIDENT_STATUS_UNDER_MITIGATION);
  EXPECT_EQ(body->update_incident().level(), 0u);

  TxArgs a = FullArgs(TxAction::kUpdateIncident);
  a.incident_status = "resolved";
  a.outcome = "sanction-applied";
  auto resolved = BuildTxAction(TxAction::kUpdateIncident, a);
  ASSERT_TRUE(resolved) << resolved.error().message;
  EXPECT_EQ(resolved->update_incident().outcome(), v1::INCIDENT_OUTCOME_SANCTION_APPLIED);

  a = FullArgs(TxAction::kUpdateIncident);
  a.incident_status.clear();
  a.note = "site visited, no one there";
  auto note = BuildTxAction(TxAction::kUpdateIncident, a);
  ASSERT_TRUE(note);
  EXPECT_EQ(note->update_incident().status(), v1::INCIDENT_STATUS_UNSPECIFIED);

  ExpectRefusal(
      TxAction::kUpdateIncident, [](TxArgs& x) { x.incident_status = "resolved"; },
      "--outcome is required with --status resolved");
  ExpectRefusal(
      TxAction::kUpdateIncident, [](TxArgs& x) { x.outcome = "mitigated"; },
      "--outcome goes with --status resolved");
  ExpectRefusal(
      TxAction::kUpdateIncident,
      [](TxArgs& x) {
        x.incident_status.clear();
        x.category.clear();
        x.note.clear();
      },
      "nothing to change");
  ExpectRefusal(
      TxAction::kUpdateIncident, [](TxArgs& x) { x.incident_status = "reopened"; },
      "--status: unknown incident status");
  ExpectRefusal(
      TxAction::kUpdateIncident, [](TxArgs& x) { x.incident_id.clear(); },
      "--incident is required");
}

TEST(BuildTxAction, SetAuditFlag) {
  auto body = BuildTxAction(TxAction::kSetAuditFlag, FullArgs(TxAction::kSetAuditFlag));
  ASSERT_TRUE(body);
  EXPECT_EQ(body->set_audit_flag().member_key(), Key(kAlice));
  EXPECT_EQ(body->set_audit_flag().flag(), v1::AUDIT_FLAG_RED);
  ExpectRefusal(
      TxAction::kSetAuditFlag, [](TxArgs& a) { a.audit_flag = "black"; },
      "--flag: unknown audit flag \"black\" (one of: green, yellow, red)");
  ExpectRefusal(
      TxAction::kSetAuditFlag, [](TxArgs& a) { a.reason.clear(); }, "--reason is required");
}

}  // namespace
}  // namespace minetrace::cli
