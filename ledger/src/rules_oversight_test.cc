// Issue 5 oversight rules, each with the refusal that shows it: inspections and site status,
// withdrawal of a site's tags, tags reported lost or void, exporter audit flags, and the
// incident lifecycle. Runs against a real Ledger on RocksDB (test_fixture.h).
#include "test_fixture.h"

namespace minetrace::ledger::testing {
namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;

class Oversight : public LedgerFixture {
 protected:
  v1::TxBody InspectionBody(const std::string& site, int64_t at_ms, v1::SiteStatus result) {
    auto b = Body();
    auto* a = b.mutable_record_inspection();
    a->set_site_id(site);
    a->set_inspected_at_ms(at_ms);
    a->set_result(result);
    a->set_inspector("joint mission 12");
    a->set_report_hash(std::string(32, 'h'));
    a->set_summary("no armed presence");
    return b;
  }
  v1::Receipt SetStatus(const crypto::PrivateKey& who, const std::string& site,
                        v1::SiteStatus status, const std::string& reason = "no production") {
    auto b = Body();
    auto* a = b.mutable_set_site_status();
    a->set_site_id(site);
    a->set_status(status);
    a->set_reason(reason);
    return Commit(b, who);
  }
  v1::Receipt Withdraw(const crypto::PrivateKey& who, const std::string& site, bool withdraw,
                       const std::string& reason = "tag sale") {
    auto b = Body();
    if (withdraw) {
      b.mutable_withdraw_site_tags()->set_site_id(site);
      b.mutable_withdraw_site_tags()->set_reason(reason);
    } else {
      b.mutable_restore_site_tags()->set_site_id(site);
      b.mutable_restore_site_tags()->set_reason(reason);
    }
    return Commit(b, who);
  }
  v1::Receipt ReportTags(const crypto::PrivateKey& who, std::initializer_list<std::string> tags,
                         v1::TagStatus status) {
    auto b = Body();
    auto* a = b.mutable_report_tags();
    for (const auto& t : tags) a->add_tag_ids(t);
    a->set_status(status);
    a->set_reason("bag torn open in transport");
    return Commit(b, who);
  }
};

using InspectionRules = Oversight;
using SiteStatusRules = Oversight;
using WithdrawalRules = Oversight;
using TagReportRules = Oversight;
using AuditFlagRules = Oversight;
using IncidentRules = Oversight;

TEST_F(InspectionRules, RegulatorRecordsInspectionItBecomesStatusAndRestartsLapseClock) {
  SetUpChain();
  ExpectRefused(Commit(InspectionBody("CD-1", now_ms_, v1::SITE_STATUS_YELLOW), agent_),
                "PERMISSION_DENIED", "lacks the role regulator");
  now_ms_ += 300 * kDay;
  int64_t inspected = now_ms_ - kDay;
  ExpectOk(Commit(InspectionBody("CD-1", inspected, v1::SITE_STATUS_GREEN), regulator_));
  auto site = *ledger_->GetMineSite("CD-1");
  EXPECT_EQ(site->status(), v1::SITE_STATUS_GREEN);
  EXPECT_EQ(site->last_inspection_ms(), inspected);
  EXPECT_EQ(site->inspection_count(), 1u);
  EXPECT_EQ(site->status_changed_ms(), now_ms_ - 1000);
  auto in = State()->GetInspection("CD-1", 1);
  ASSERT_TRUE(in && in->has_value());
  EXPECT_EQ((*in)->inspector(), "joint mission 12");
  EXPECT_EQ((*in)->recorded_by(), KeyStr(regulator_));
  // 300 days + 300 days after registration: without the inspection the site would be blue.
  now_ms_ += 300 * kDay;
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  EXPECT_EQ(LotOf("T0000001").site_status_at_record(), v1::SITE_STATUS_GREEN);
}

TEST_F(InspectionRules, RefusesBadInspections) {
  SetUpChain();
  ExpectRefused(Commit(InspectionBody("CD-404", now_ms_, v1::SITE_STATUS_GREEN), regulator_),
                "NOT_FOUND", "no mine site 'CD-404'");
  ExpectRefused(Commit(InspectionBody("CD-1", now_ms_, v1::SITE_STATUS_BLUE), regulator_),
                "INVALID_ARGUMENT", "green, yellow or red");
  ExpectRefused(Commit(InspectionBody("CD-1", 0, v1::SITE_STATUS_GREEN), regulator_),
                "INVALID_ARGUMENT", "must be set");
  ExpectRefused(Commit(InspectionBody("CD-1", now_ms_ + kDay, v1::SITE_STATUS_GREEN), regulator_),
                "INVALID_ARGUMENT", "after the block");
  // Registration counts as the first inspection (the lapse clock starts there).
  ExpectRefused(
      Commit(InspectionBody("CD-1", kGenesisMs - kDay, v1::SITE_STATUS_GREEN), regulator_),
      "FAILED_PRECONDITION", "before the last inspection of site 'CD-1'");
  auto b = InspectionBody("CD-1", now_ms_, v1::SITE_STATUS_GREEN);
  b.mutable_record_inspection()->set_report_hash("short");
  ExpectRefused(Commit(b, regulator_), "INVALID_ARGUMENT", "32-byte");
  b = InspectionBody("CD-1", now_ms_, v1::SITE_STATUS_GREEN);
  b.mutable_record_inspection()->clear_inspector();
  ExpectRefused(Commit(b, regulator_), "INVALID_ARGUMENT", "inspector must be 1 to 200");
  b = InspectionBody("CD-1", now_ms_, v1::SITE_STATUS_GREEN);
  b.mutable_record_inspection()->set_summary(std::string(1001, 's'));
  ExpectRefused(Commit(b, regulator_), "INVALID_ARGUMENT", "summary must be at most 1000");
}

TEST_F(SiteStatusRules, RegulatorSetsStatusWithoutRestartingLapseClock) {
  SetUpChain();
  ExpectRefused(SetStatus(admin_, "CD-1", v1::SITE_STATUS_RED), "PERMISSION_DENIED",
                "lacks the role regulator");
  ExpectRefused(SetStatus(regulator_, "CD-1", v1::SITE_STATUS_BLUE), "INVALID_ARGUMENT",
                "blue is derived");
  ExpectRefused(SetStatus(regulator_, "CD-1", v1::SITE_STATUS_RED, ""), "INVALID_ARGUMENT",
                "reason must be 1 to 1000");
  ExpectRefused(SetStatus(regulator_, "CD-404", v1::SITE_STATUS_RED), "NOT_FOUND",
                "no mine site 'CD-404'");
  ExpectOk(SetStatus(regulator_, "CD-1", v1::SITE_STATUS_RED));
  ExpectRefused(RecordLot(agent_, "T0000001", "CD-1", 50000), "FAILED_PRECONDITION", "is red");
  ExpectOk(SetStatus(regulator_, "CD-1", v1::SITE_STATUS_GREEN, "production resumed"));
  auto site = *ledger_->GetMineSite("CD-1");
  EXPECT_EQ(site->status_reason(), "production resumed");
  int64_t inspected = site->last_inspection_ms();
  // Still lapses a year after the last inspection (registration), not after the status change.
  now_ms_ = inspected + 366 * kDay;
  ExpectOk(SetStatus(regulator_, "CD-1", v1::SITE_STATUS_GREEN, "still fine"));
  EXPECT_EQ((*ledger_->GetMineSite("CD-1"))->last_inspection_ms(), inspected);
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  EXPECT_EQ(LotOf("T0000001").site_status_at_record(), v1::SITE_STATUS_BLUE);
}

TEST_F(WithdrawalRules, WithdrawnTagsNeverUsableRestoredSiteTakesNewTags) {
  SetUpChain();
  ExpectRefused(Withdraw(agent_, "CD-1", true), "PERMISSION_DENIED",
                "lacks the role administrator or regulator");
  ExpectRefused(Withdraw(regulator_, "CD-1", true, ""), "INVALID_ARGUMENT", "reason");
  ExpectRefused(Withdraw(regulator_, "CD-404", true), "NOT_FOUND", "no mine site");
  ExpectRefused(Withdraw(regulator_, "CD-1", false), "FAILED_PRECONDITION", "are not withdrawn");
  ExpectOk(Withdraw(regulator_, "CD-1", true));
  uint64_t height = ledger_->head().height();
  EXPECT_EQ((*ledger_->GetMineSite("CD-1"))->tags_withdrawn_height(), height);
  ExpectRefused(Withdraw(admin_, "CD-1", true), "FAILED_PRECONDITION", "already withdrawn");
  ExpectRefused(RecordLot(agent_, "T0000001", "CD-1", 50000), "FAILED_PRECONDITION",
                "was withdrawn with the tags of site 'CD-1' at height " + std::to_string(height) +
                    " and can never be used");
  ExpectRefused(Allocate("CD-1", agent_, "N", 1, 2), "FAILED_PRECONDITION", "withdrawn");
  ExpectRefused(Withdraw(agent_, "CD-1", false), "PERMISSION_DENIED",
                "needed to restore a site's tags");
  ExpectRefused(Withdraw(admin_, "CD-1", false, ""), "INVALID_ARGUMENT", "reason");
  ExpectOk(Withdraw(admin_, "CD-1", false, "sanction lifted"));
  EXPECT_FALSE((*ledger_->GetMineSite("CD-1"))->tags_withdrawn());
  // The old tags stay unusable; new ones work.
  ExpectRefused(RecordLot(agent_, "T0000002", "CD-1", 50000), "FAILED_PRECONDITION",
                "can never be used");
  ExpectOk(Allocate("CD-1", agent_, "N", 1, 2));
  ExpectOk(RecordLot(agent_, "N0000001", "CD-1", 50000));
}

TEST_F(TagReportRules, HolderReportsLostOrVoidNeverUsedAfter) {
  SetUpChain();
  ExpectOk(RegisterMember(agent2_, "agent2", {v1::ROLE_AGENT}));
  ExpectRefused(ReportTags(agent2_, {"T0000001"}, v1::TAG_STATUS_LOST), "PERMISSION_DENIED",
                "allocated to another member");
  ExpectRefused(ReportTags(agent_, {"T0000001"}, v1::TAG_STATUS_USED), "INVALID_ARGUMENT",
                "lost or void");
  ExpectRefused(ReportTags(agent_, {"T0000001", "T0000001"}, v1::TAG_STATUS_LOST),
                "INVALID_ARGUMENT", "named twice");
  ExpectRefused(ReportTags(agent_, {"T9999999"}, v1::TAG_STATUS_LOST), "NOT_FOUND",
                "never allocated");
  ExpectRefused(ReportTags(agent_, {}, v1::TAG_STATUS_LOST), "INVALID_ARGUMENT", "1 to 1000");
  ExpectOk(RecordLot(agent_, "T0000003", "CD-1", 50000));
  ExpectRefused(ReportTags(agent_, {"T0000003"}, v1::TAG_STATUS_VOID), "FAILED_PRECONDITION",
                "already used by lot 'T0000003'");
  ExpectOk(ReportTags(agent_, {"T0000001", "T0000002"}, v1::TAG_STATUS_LOST));
  ExpectOk(ReportTags(admin_, {"T0000004"}, v1::TAG_STATUS_VOID));
  ExpectOk(ReportTags(processor_, {"P0000001"}, v1::TAG_STATUS_VOID));
  auto tag = *ledger_->GetTag("T0000001");
  EXPECT_EQ(tag->status(), v1::TAG_STATUS_LOST);
  EXPECT_EQ(tag->status_reason(), "bag torn open in transport");
  ExpectRefused(ReportTags(agent_, {"T0000001"}, v1::TAG_STATUS_VOID), "FAILED_PRECONDITION",
                "already reported lost");
  ExpectRefused(RecordLot(agent_, "T0000001", "CD-1", 50000), "FAILED_PRECONDITION",
                "void or lost");
  ExpectRefused(RecordLot(agent_, "T0000004", "CD-1", 50000), "FAILED_PRECONDITION",
                "void or lost");
}

TEST_F(AuditFlagRules, RegulatorFlagsExportersOnly) {
  SetUpChain();
  ExpectRefused(SetAuditFlag(admin_, exporter_, v1::AUDIT_FLAG_RED), "PERMISSION_DENIED",
                "lacks the role regulator");
  ExpectRefused(SetAuditFlag(regulator_, trader_, v1::AUDIT_FLAG_RED), "FAILED_PRECONDITION",
                "is not an exporter");
  ExpectRefused(SetAuditFlag(regulator_, stranger_, v1::AUDIT_FLAG_RED), "NOT_FOUND", "no member");
  ExpectRefused(SetAuditFlag(regulator_, exporter_, v1::AUDIT_FLAG_UNSPECIFIED), "INVALID_ARGUMENT",
                "green, yellow or red");
  ExpectRefused(SetAuditFlag(regulator_, exporter_, v1::AUDIT_FLAG_RED, ""), "INVALID_ARGUMENT",
                "reason");
  ExpectOk(SetAuditFlag(regulator_, exporter_, v1::AUDIT_FLAG_YELLOW, "gaps in records"));
  auto m = *ledger_->GetMember(KeyStr(exporter_));
  EXPECT_EQ(m->audit_flag(), v1::AUDIT_FLAG_YELLOW);
  EXPECT_EQ(m->audit_flag_reason(), "gaps in records");
  EXPECT_EQ(m->audit_flag_set_ms(), now_ms_ - 1000);
}

TEST_F(IncidentRules, AnyMemberReportsAgainstAnExistingSubject) {
  SetUpChain();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectRefused(ReportIncident(stranger_, v1::INCIDENT_SUBJECT_SITE, "CD-1"), "PERMISSION_DENIED",
                "not a registered member");
  ExpectRefused(ReportIncident(coop_, v1::INCIDENT_SUBJECT_SITE, "CD-404"), "NOT_FOUND",
                "no mine site");
  ExpectRefused(ReportIncident(coop_, v1::INCIDENT_SUBJECT_LOT, "NOPE"), "NOT_FOUND", "no lot");
  ExpectRefused(ReportIncident(coop_, v1::INCIDENT_SUBJECT_TAG, "X1"), "NOT_FOUND",
                "never allocated");
  ExpectRefused(ReportIncident(coop_, v1::INCIDENT_SUBJECT_MEMBER, "ABC"), "INVALID_ARGUMENT",
                "lowercase hex");
  ExpectRefused(ReportIncident(coop_, v1::INCIDENT_SUBJECT_MEMBER, std::string(64, 'a')),
                "NOT_FOUND", "no member");
  ExpectRefused(ReportIncident(coop_, v1::INCIDENT_SUBJECT_UNSPECIFIED, "CD-1"), "INVALID_ARGUMENT",
                "site, lot, member or tag");
  ExpectRefused(ReportIncident(coop_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 4), "INVALID_ARGUMENT",
                "level must be 1");
  ExpectRefused(ReportIncident(coop_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 1,
                               v1::INCIDENT_CATEGORY_UNSPECIFIED),
                "INVALID_ARGUMENT", "category");
  auto b = Body();
  auto* a = b.mutable_report_incident();
  a->set_subject_kind(v1::INCIDENT_SUBJECT_SITE);
  a->set_subject_id("CD-1");
  a->set_category(v1::INCIDENT_CATEGORY_SAFETY);
  a->set_level(2);
  ExpectRefused(Commit(b, coop_), "INVALID_ARGUMENT", "description must be 1 to 4000");
  a->set_description("shaft collapse");
  a->set_occurred_at_ms(now_ms_ + kDay);
  ExpectRefused(Commit(b, coop_), "INVALID_ARGUMENT", "not after the block");
  const int64_t occurred = now_ms_ - kDay;
  a->set_occurred_at_ms(occurred);
  ExpectOk(Commit(b, coop_));
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_LOT, "T0000001"));
  ExpectOk(ReportIncident(trader_, v1::INCIDENT_SUBJECT_TAG, "T0000002", 3));
  ExpectOk(ReportIncident(trader_, v1::INCIDENT_SUBJECT_MEMBER, ToHex(AsBytes(KeyStr(agent_)))));
  auto first = IncidentOf("INC-0000001");
  EXPECT_EQ(first.status(), v1::INCIDENT_STATUS_OPEN);
  EXPECT_EQ(first.source(), v1::INCIDENT_SOURCE_OTHER);
  EXPECT_EQ(first.reported_by(), KeyStr(coop_));
  EXPECT_EQ(first.occurred_at_ms(), occurred);
  EXPECT_EQ(IncidentOf("INC-0000004").subject_kind(), v1::INCIDENT_SUBJECT_MEMBER);
  auto open = State()->GetOpenLevelOneIncidents(v1::INCIDENT_SUBJECT_LOT, "T0000001");
  ASSERT_TRUE(open);
  EXPECT_EQ(*open, std::vector<std::string>{"INC-0000002"});
}

TEST_F(IncidentRules, IncidentFromFlagNeedsAnExistingFlagOnce) {
  SetUpChain();
  auto b = Body();
  auto* a = b.mutable_report_incident();
  a->set_subject_kind(v1::INCIDENT_SUBJECT_SITE);
  a->set_subject_id("CD-1");
  a->set_category(v1::INCIDENT_CATEGORY_TAG_MISUSE);
  a->set_level(2);
  a->set_description("tag used off its site");
  a->set_flag_id("FLG-000000001");
  ExpectRefused(Commit(b, regulator_), "NOT_FOUND", "no flag 'FLG-000000001'");
  // A flag as the ledger keeps one (the query side writes them from receipts).
  v1::Flag flag;
  flag.set_flag_id("FLG-000000001");
  flag.set_kind("tag_off_site");
  flag.set_site_id("CD-1");
  auto view = State();
  ASSERT_TRUE(view->PutFlag(std::nullopt, flag));
  BlockContext ctx{"test-chain", ledger_->head().height() + 1, now_ms_};
  a->set_source(v1::INCIDENT_SOURCE_HOTLINE);
  {
    StateView layer(*view);
    auto refused = ExecuteTx(layer, ctx, b, KeyStr(regulator_));
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("source anomaly"), std::string::npos);
  }
  a->set_source(v1::INCIDENT_SOURCE_UNSPECIFIED);
  {
    StateView layer(*view);
    ASSERT_TRUE(ExecuteTx(layer, ctx, b, KeyStr(regulator_)));
    layer.MergeIntoParent();
  }
  auto f = view->GetFlag("FLG-000000001");
  EXPECT_EQ((*f)->incident_id(), "INC-0000001");
  auto i = view->GetIncident("INC-0000001");
  EXPECT_EQ((*i)->source(), v1::INCIDENT_SOURCE_ANOMALY);
  EXPECT_EQ((*i)->flag_id(), "FLG-000000001");
  b.set_nonce(++nonce_);
  StateView again(*view);
  auto twice = ExecuteTx(again, ctx, b, KeyStr(regulator_));
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("already opened incident 'INC-0000001'"), std::string::npos);
}

TEST_F(IncidentRules, LifecycleOnlyForwardOutcomeOnResolveCloseFromResolved) {
  SetUpChain();
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_SITE, "CD-1"));
  const std::string id = "INC-0000001";
  ExpectRefused(UpdateIncident(regulator_, "INC-0000099", v1::INCIDENT_STATUS_RESOLVED),
                "NOT_FOUND", "no incident");
  ExpectRefused(UpdateIncident(coop_, id, v1::INCIDENT_STATUS_UNDER_MITIGATION),
                "PERMISSION_DENIED", "lacks the role regulator");
  ExpectRefused(UpdateIncident(regulator_, id, v1::INCIDENT_STATUS_OPEN), "FAILED_PRECONDITION",
                "only moves forward");
  ExpectRefused(UpdateIncident(regulator_, id, v1::INCIDENT_STATUS_CLOSED), "FAILED_PRECONDITION",
                "closed only once resolved");
  ExpectRefused(UpdateIncident(regulator_, id, v1::INCIDENT_STATUS_RESOLVED), "INVALID_ARGUMENT",
                "needs an outcome");
  ExpectRefused(UpdateIncident(regulator_, id, v1::INCIDENT_STATUS_UNDER_MITIGATION,
                               v1::INCIDENT_OUTCOME_MITIGATED),
                "INVALID_ARGUMENT", "only when the incident becomes resolved");
  ExpectRefused(UpdateIncident(coop_, id, v1::INCIDENT_STATUS_UNSPECIFIED), "INVALID_ARGUMENT",
                "nothing to change");
  auto level = Body();
  level.mutable_update_incident()->set_incident_id(id);
  level.mutable_update_incident()->set_level(4);
  ExpectRefused(Commit(level, regulator_), "INVALID_ARGUMENT", "level must be 1 (serious), 2 or 3");
  ExpectRefused(UpdateIncident(coop_, id, v1::INCIDENT_STATUS_UNSPECIFIED,
                               v1::INCIDENT_OUTCOME_UNSPECIFIED, std::string(4001, 'n')),
                "INVALID_ARGUMENT", "note must be at most 4000 characters");
  ExpectOk(UpdateIncident(coop_, id, v1::INCIDENT_STATUS_UNSPECIFIED,
                          v1::INCIDENT_OUTCOME_UNSPECIFIED, "seen again on Tuesday"));
  ExpectOk(UpdateIncident(regulator_, id, v1::INCIDENT_STATUS_UNDER_MITIGATION));
  ExpectRefused(UpdateIncident(regulator_, id, v1::INCIDENT_STATUS_UNDER_MITIGATION),
                "FAILED_PRECONDITION", "is under mitigation");
  ExpectOk(UpdateIncident(regulator_, id, v1::INCIDENT_STATUS_RESOLVED,
                          v1::INCIDENT_OUTCOME_REFERRED, "handed to the prosecutor"));
  ExpectOk(UpdateIncident(regulator_, id, v1::INCIDENT_STATUS_CLOSED));
  ExpectRefused(UpdateIncident(coop_, id, v1::INCIDENT_STATUS_UNSPECIFIED,
                               v1::INCIDENT_OUTCOME_UNSPECIFIED, "late note"),
                "FAILED_PRECONDITION", "is closed");
  auto i = IncidentOf(id);
  EXPECT_EQ(i.status(), v1::INCIDENT_STATUS_CLOSED);
  EXPECT_EQ(i.outcome(), v1::INCIDENT_OUTCOME_REFERRED);
  EXPECT_EQ(i.closed_at_ms(), now_ms_ - 2000);
  ASSERT_EQ(i.notes_size(), 4);
  EXPECT_EQ(i.notes(0).text(), "seen again on Tuesday");
  EXPECT_EQ(i.notes(0).status_after(), v1::INCIDENT_STATUS_OPEN);
  EXPECT_EQ(i.notes(0).author(), KeyStr(coop_));
  EXPECT_EQ(i.notes(2).text(),
            "status under mitigation -> resolved (outcome referred): handed to the prosecutor");
  EXPECT_EQ(i.notes(3).status_after(), v1::INCIDENT_STATUS_CLOSED);
}

TEST_F(IncidentRules, OpenToResolvedSkipsMitigationAndReclassifyIsRegulatorOnly) {
  SetUpChain();
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 2));
  auto b = Body();
  b.mutable_update_incident()->set_incident_id("INC-0000001");
  b.mutable_update_incident()->set_level(1);
  ExpectRefused(Commit(b, coop_), "PERMISSION_DENIED", "lacks the role regulator");
  b.set_nonce(++nonce_);
  ExpectOk(Commit(b, regulator_));
  b.set_nonce(++nonce_);
  ExpectRefused(Commit(b, regulator_), "FAILED_PRECONDITION", "already level 1");
  auto i = IncidentOf("INC-0000001");
  EXPECT_EQ(i.level(), 1u);
  EXPECT_EQ(i.notes(0).text(), "level 2 -> 1");
  auto c = Body();
  c.mutable_update_incident()->set_incident_id("INC-0000001");
  c.mutable_update_incident()->set_category(v1::INCIDENT_CATEGORY_BRIBERY_FRAUD);
  c.mutable_update_incident()->set_note("origin misstated");
  ExpectOk(Commit(c, regulator_));
  c.set_nonce(++nonce_);
  ExpectRefused(Commit(c, regulator_), "FAILED_PRECONDITION", "already has that category");
  i = IncidentOf("INC-0000001");
  EXPECT_EQ(i.category(), v1::INCIDENT_CATEGORY_BRIBERY_FRAUD);
  EXPECT_EQ(i.notes(1).text(), "category armed groups -> bribery fraud: origin misstated");
  // Raised to level 1, it now blocks exports; resolving straight from open lifts that.
  auto open = State()->GetOpenLevelOneIncidents(v1::INCIDENT_SUBJECT_SITE, "CD-1");
  EXPECT_EQ(*open, std::vector<std::string>{"INC-0000001"});
  ExpectOk(UpdateIncident(regulator_, "INC-0000001", v1::INCIDENT_STATUS_RESOLVED,
                          v1::INCIDENT_OUTCOME_UNSUBSTANTIATED));
  open = State()->GetOpenLevelOneIncidents(v1::INCIDENT_SUBJECT_SITE, "CD-1");
  EXPECT_TRUE(open->empty());
}

TEST_F(IncidentRules, PlainNotesAreBounded) {
  SetUpChain();
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 3));
  // 100 notes in one block (one tx each), then the 101st is refused; a status change is not.
  std::vector<v1::SignedTx> txs;
  for (int n = 0; n < 100; ++n) {
    auto b = Body();
    b.mutable_update_incident()->set_incident_id("INC-0000001");
    b.mutable_update_incident()->set_note("note " + std::to_string(n));
    txs.push_back(proof::SignTx(b, coop_));
  }
  auto block = Execute(txs);
  ASSERT_TRUE(block);
  for (const auto& tx : block->txs) ExpectOk(tx.receipt);
  now_ms_ += 1000;
  ExpectRefused(UpdateIncident(coop_, "INC-0000001", v1::INCIDENT_STATUS_UNSPECIFIED,
                               v1::INCIDENT_OUTCOME_UNSPECIFIED, "one more"),
                "RESOURCE_EXHAUSTED", "100 notes");
  ExpectOk(UpdateIncident(regulator_, "INC-0000001", v1::INCIDENT_STATUS_UNDER_MITIGATION));
  EXPECT_EQ(IncidentOf("INC-0000001").notes_size(), 101);
}

}  // namespace
}  // namespace minetrace::ledger::testing
