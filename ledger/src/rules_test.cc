// Every ledger rule of domain.md that the member, site, tag, mine lot and custody actions
// touch (issues 2 and 5), each with the refusal that
// shows it. Runs against a real Ledger on RocksDB (test_fixture.h).
#include "minetrace/ledger/rules.h"

#include "test_fixture.h"

namespace minetrace::ledger::testing {
namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;

using MemberRules = LedgerFixture;
using SiteRules = LedgerFixture;
using TagRules = LedgerFixture;
using LotRules = LedgerFixture;
using CustodyRules = LedgerFixture;
using Envelope = LedgerFixture;

TEST_F(MemberRules, RefusesUnknownSigner) {
  auto b = Body();
  b.mutable_register_mine_site()->set_site_id("X");
  ExpectRefused(Commit(b, stranger_), "PERMISSION_DENIED", "not a registered member");
}

TEST_F(MemberRules, RefusesWrongRole) {
  ExpectOk(RegisterMember(trader_, "trader", {v1::ROLE_TRADER}));
  auto b = Body();
  auto* a = b.mutable_register_member();
  a->set_member_key(KeyStr(stranger_));
  a->set_name("x");
  a->add_roles(v1::ROLE_AGENT);
  ExpectRefused(Commit(b, trader_), "PERMISSION_DENIED", "lacks the role administrator");
}

TEST_F(MemberRules, RefusesRegisteringTwice) {
  ExpectOk(RegisterMember(agent_, "agent", {v1::ROLE_AGENT}));
  ExpectRefused(RegisterMember(agent_, "again", {v1::ROLE_TRADER}), "ALREADY_EXISTS",
                "already registered");
}

TEST_F(MemberRules, RefusesMemberWithoutRolesOrBadKey) {
  ExpectRefused(RegisterMember(agent_, "agent", {}), "INVALID_ARGUMENT", "at least one role");
  auto b = Body();
  b.mutable_register_member()->set_member_key("short");
  b.mutable_register_member()->set_name("x");
  b.mutable_register_member()->add_roles(v1::ROLE_AGENT);
  ExpectRefused(Commit(b, admin_), "INVALID_ARGUMENT", "32-byte");
}

TEST_F(MemberRules, SuspendedMemberMayNotActUntilReinstated) {
  SetUpFlow();
  auto s = Body();
  s.mutable_suspend_member()->set_member_key(KeyStr(agent_));
  s.mutable_suspend_member()->set_reason("tag sale");
  ExpectOk(Commit(s, admin_));
  ExpectRefused(RecordLot(agent_, "T0000001", "CD-1", 50000), "PERMISSION_DENIED", "suspended");
  s.set_nonce(++nonce_);  // same body = same tx id = replay; a new nonce makes a new tx
  ExpectRefused(Commit(s, admin_), "FAILED_PRECONDITION", "already suspended");
  auto r = Body();
  r.mutable_reinstate_member()->set_member_key(KeyStr(agent_));
  ExpectOk(Commit(r, admin_));
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
}

TEST_F(MemberRules, RefusesSuspendingUnknownOrSelfAndReinstatingActive) {
  auto s = Body();
  s.mutable_suspend_member()->set_member_key(KeyStr(stranger_));
  ExpectRefused(Commit(s, admin_), "NOT_FOUND", "no member");
  auto self = Body();
  self.mutable_suspend_member()->set_member_key(KeyStr(admin_));
  ExpectRefused(Commit(self, admin_), "FAILED_PRECONDITION", "itself");
  ExpectOk(RegisterMember(agent_, "agent", {v1::ROLE_AGENT}));
  auto r = Body();
  r.mutable_reinstate_member()->set_member_key(KeyStr(agent_));
  ExpectRefused(Commit(r, admin_), "FAILED_PRECONDITION", "not suspended");
}

TEST_F(Envelope, RefusesOtherChainAndDeviceClockFarAhead) {
  auto b = Body();
  b.set_chain_id("other-chain");
  b.mutable_suspend_member()->set_member_key(KeyStr(agent_));
  ExpectRefused(Commit(b, admin_), "INVALID_ARGUMENT", "chain");
  auto ahead = Body(now_ms_ + 3600 * 1000);
  ahead.mutable_suspend_member()->set_member_key(KeyStr(agent_));
  ExpectRefused(Commit(ahead, admin_), "INVALID_ARGUMENT", "ahead of ledger time");
}

TEST_F(Envelope, LateUploadIsFlagged) {
  now_ms_ += 30 * kDay;
  auto late = Body(now_ms_ - 8 * kDay);  // signed offline, uploaded 8 days later
  auto* a = late.mutable_register_member();
  a->set_member_key(KeyStr(agent_));
  a->set_name("agent");
  a->add_roles(v1::ROLE_AGENT);
  auto r = Commit(late, admin_);
  ExpectOk(r);
  ASSERT_EQ(r.anomalies_size(), 1);
  EXPECT_EQ(r.anomalies(0).kind(), "late_upload");
  EXPECT_EQ(r.anomalies(0).detail(), "signed 8 days before it reached the ledger");
  auto timely = Body(now_ms_ - 6 * kDay);
  a = timely.mutable_register_member();
  a->set_member_key(KeyStr(coop_));
  a->set_name("coop");
  a->add_roles(v1::ROLE_COOPERATIVE);
  r = Commit(timely, admin_);
  ExpectOk(r);
  EXPECT_EQ(r.anomalies_size(), 0);
}

TEST_F(SiteRules, RegulatorRegistersAgentMayNot) {
  ExpectOk(RegisterMember(agent_, "agent", {v1::ROLE_AGENT}));
  ExpectOk(RegisterMember(stranger_, "ministry", {v1::ROLE_REGULATOR}));
  auto b = Body();
  auto* a = b.mutable_register_mine_site();
  a->set_site_id("CD-9");
  a->set_name("Nine");
  a->set_country("CD");
  a->add_minerals(v1::MINERAL_COLTAN);
  a->set_status(v1::SITE_STATUS_GREEN);
  ExpectRefused(Commit(b, agent_), "PERMISSION_DENIED", "lacks the role");
  b.set_nonce(++nonce_);
  ExpectOk(Commit(b, stranger_));
  b.set_nonce(++nonce_);
  ExpectRefused(Commit(b, stranger_), "ALREADY_EXISTS", "already registered");
}

TEST_F(SiteRules, RefusesBadSiteFields) {
  ExpectRefused(RegisterSite("bad id!", v1::SITE_STATUS_GREEN), "INVALID_ARGUMENT", "site_id");
  ExpectRefused(RegisterSite("CD-2", v1::SITE_STATUS_GREEN, {}), "INVALID_ARGUMENT", "mineral");
  ExpectRefused(RegisterSite("CD-2", v1::SITE_STATUS_UNSPECIFIED), "INVALID_ARGUMENT", "status");
}

TEST_F(SiteRules, StatusLapsesFromBlockTime) {
  v1::MineSite s;
  s.set_status(v1::SITE_STATUS_GREEN);
  s.set_last_inspection_ms(0);
  EXPECT_EQ(EffectiveSiteStatus(s, 365 * kDay), v1::SITE_STATUS_GREEN);
  EXPECT_EQ(EffectiveSiteStatus(s, 366 * kDay), v1::SITE_STATUS_BLUE);
  EXPECT_EQ(EffectiveSiteStatus(s, 4 * 365 * kDay), v1::SITE_STATUS_BLUE);
  EXPECT_EQ(EffectiveSiteStatus(s, 4 * 365 * kDay + 1), v1::SITE_STATUS_RED);
  s.set_status(v1::SITE_STATUS_BLUE);
  EXPECT_EQ(EffectiveSiteStatus(s, 3 * 365 * kDay + 1), v1::SITE_STATUS_RED);
  s.set_status(v1::SITE_STATUS_YELLOW);
  EXPECT_EQ(EffectiveSiteStatus(s, 10 * 365 * kDay), v1::SITE_STATUS_YELLOW);
}

TEST_F(TagRules, AllocatesOnceOnly) {
  SetUpFlow();  // T0000001..T0000010
  ExpectRefused(Allocate("CD-1", agent_, "T", 10, 5), "ALREADY_EXISTS", "T0000010");
  ExpectOk(Allocate("CD-1", agent_, "T", 11, 5));
  auto tag = ledger_->GetTag("T0000015");
  ASSERT_TRUE(tag && tag->has_value());
  EXPECT_EQ((*tag)->status(), v1::TAG_STATUS_ALLOCATED);
}

TEST_F(TagRules, RefusesAllocationToNonAgentOrRedSiteOrUnknownSite) {
  SetUpFlow();
  ExpectRefused(Allocate("CD-1", trader_, "U", 1, 5), "FAILED_PRECONDITION", "role agent");
  ExpectRefused(Allocate("CD-404", agent_, "U", 1, 5), "NOT_FOUND", "no mine site");
  ExpectOk(RegisterSite("CD-RED", v1::SITE_STATUS_RED));
  ExpectRefused(Allocate("CD-RED", agent_, "U", 1, 5), "FAILED_PRECONDITION", "red");
  ExpectRefused(Allocate("CD-1", agent_, "U", 1, 0), "INVALID_ARGUMENT", "count");
  ExpectRefused(Allocate("CD-1", agent_, "U", 9'999'999, 5), "INVALID_ARGUMENT", "7 digits");
}

TEST_F(TagRules, TagIsUsedAtMostOnce) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectRefused(RecordLot(agent_, "T0000001", "CD-1", 40000), "FAILED_PRECONDITION",
                "already used");
}

TEST_F(TagRules, RefusesTagAtAnotherSite) {
  SetUpFlow();
  ExpectOk(RegisterSite("CD-2", v1::SITE_STATUS_GREEN));
  ExpectRefused(RecordLot(agent_, "T0000001", "CD-2", 50000), "FAILED_PRECONDITION",
                "allocated to site 'CD-1'");
}

TEST_F(TagRules, RefusesAnotherAgentsTagAndUnallocatedTag) {
  SetUpFlow();
  ExpectOk(RegisterMember(agent2_, "agent2", {v1::ROLE_AGENT}));
  ExpectRefused(RecordLot(agent2_, "T0000001", "CD-1", 50000), "PERMISSION_DENIED",
                "another agent");
  ExpectRefused(RecordLot(agent_, "T9999999", "CD-1", 50000), "NOT_FOUND", "never allocated");
}

// A tag used by another agent than its allocation is refused and flagged: the anomaly goes
// on the failed receipt (ExecuteTx's refusal_anomalies).
TEST_F(TagRules, AnotherAgentsTagIsRefusedAndFlagged) {
  SetUpFlow();
  ExpectOk(RegisterMember(agent2_, "agent2", {v1::ROLE_AGENT}));
  auto b = Body();
  auto* a = b.mutable_record_mine_lot();
  a->set_tag_id("T0000001");
  a->set_site_id("CD-1");
  a->set_mineral(v1::MINERAL_CASSITERITE);
  a->set_weight_grams(50000);
  a->set_producer_key(KeyStr(coop_));
  auto v = Try(b, agent2_);
  ASSERT_FALSE(v.effects);
  EXPECT_EQ(v.effects.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(v.effects.error().message.find("allocated to another agent"), std::string::npos);
  ASSERT_EQ(v.refusal_anomalies.size(), 1u);
  const v1::Anomaly& an = v.refusal_anomalies[0];
  EXPECT_EQ(an.kind(), "tag_off_agent");
  EXPECT_EQ(an.tag_id(), "T0000001");
  EXPECT_EQ(an.site_id(), "CD-1");
  EXPECT_EQ(an.member_key(), KeyStr(agent2_));
  EXPECT_FALSE(an.detail().empty());
  // Committed, it is a FAILED receipt that carries the anomaly; the tag stays unused.
  auto r = Commit(b, agent2_);
  ExpectRefused(r, "PERMISSION_DENIED", "allocated to another agent");
  ASSERT_EQ(r.anomalies_size(), 1);
  EXPECT_EQ(r.anomalies(0).kind(), "tag_off_agent");
  EXPECT_EQ((*ledger_->GetTag("T0000001"))->status(), v1::TAG_STATUS_ALLOCATED);
}

TEST_F(TagRules, TagAtAnotherSiteIsRefusedAndFlagged) {
  SetUpFlow();
  ExpectOk(RegisterSite("CD-2", v1::SITE_STATUS_GREEN));
  auto b = Body();
  auto* a = b.mutable_record_mine_lot();
  a->set_tag_id("T0000001");
  a->set_site_id("CD-2");
  a->set_mineral(v1::MINERAL_CASSITERITE);
  a->set_weight_grams(50000);
  a->set_producer_key(KeyStr(coop_));
  auto v = Try(b, agent_);
  ASSERT_FALSE(v.effects);
  EXPECT_EQ(v.effects.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(v.effects.error().message.find("allocated to site 'CD-1', not 'CD-2'"),
            std::string::npos);
  ASSERT_EQ(v.refusal_anomalies.size(), 1u);
  EXPECT_EQ(v.refusal_anomalies[0].kind(), "tag_off_site");
  // Filed under the tag's own site (the claimed one may not even exist), naming both.
  EXPECT_EQ(v.refusal_anomalies[0].site_id(), "CD-1");
  EXPECT_NE(v.refusal_anomalies[0].detail().find("'CD-2'"), std::string::npos);
  EXPECT_EQ(v.refusal_anomalies[0].member_key(), KeyStr(agent_));
  // An ordinary refusal raises nothing.
  a->set_site_id("CD-1");
  a->set_weight_grams(0);
  auto plain = Try(b, agent_);
  ASSERT_FALSE(plain.effects);
  EXPECT_TRUE(plain.refusal_anomalies.empty());
}

TEST_F(TagRules, ProcessorTagsGoToProcessorsWithoutSiteAndMarkNoMineLot) {
  SetUpFlow();
  ExpectOk(RegisterMember(processor_, "processor", {v1::ROLE_PROCESSOR}));
  ExpectRefused(AllocateProcessorTags(agent_, "P", 1, 5), "FAILED_PRECONDITION", "role processor");
  auto b = Body();
  auto* a = b.mutable_allocate_tags();
  a->set_site_id("CD-1");
  a->set_agent_key(KeyStr(processor_));
  a->set_prefix("P");
  a->set_first(1);
  a->set_count(5);
  a->set_kind(v1::TAG_KIND_PROCESSOR);
  ExpectRefused(Commit(b, admin_), "INVALID_ARGUMENT", "leave site_id empty");
  ExpectOk(AllocateProcessorTags(processor_, "P", 1, 5));
  auto tag = *ledger_->GetTag("P0000001");
  EXPECT_EQ(tag->kind(), v1::TAG_KIND_PROCESSOR);
  EXPECT_TRUE(tag->site_id().empty());
  EXPECT_EQ((*ledger_->GetTag("T0000001"))->kind(), v1::TAG_KIND_MINE);
  ExpectRefused(Allocate("", agent_, "M", 1, 1), "INVALID_ARGUMENT", "set site_id");
  ExpectRefused(AllocateProcessorTags(processor_, "T", 1, 1), "ALREADY_EXISTS", "to site 'CD-1'");
  // Even allocated to an agent by mistake, a processor tag never marks a mine lot.
  ExpectOk(RegisterMember(agent2_, "agent-processor", {v1::ROLE_AGENT, v1::ROLE_PROCESSOR}));
  ExpectOk(AllocateProcessorTags(agent2_, "Q", 1, 1));
  ExpectRefused(RecordLot(agent2_, "Q0000001", "CD-1", 50000), "FAILED_PRECONDITION",
                "is a processor tag");
}

TEST_F(LotRules, MineLotRecordsOriginAndSiteStatusAndProducerBalance) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  auto lot = LotOf("T0000001");
  EXPECT_EQ(lot.origin(), v1::LOT_ORIGIN_MINE);
  EXPECT_EQ(lot.origin_weight_grams(), 50000u);
  EXPECT_EQ(lot.site_status_at_record(), v1::SITE_STATUS_GREEN);
  EXPECT_EQ(BalanceOf(coop_).produced_grams(), 50000u);
}

TEST_F(CustodyRules, MassBalanceFollowsDispatchCancelAndReceipt) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectOk(RecordLot(agent_, "T0000002", "CD-1", 30000));
  ExpectOk(Dispatch(coop_, {"T0000001", "T0000002"}, trader_));
  EXPECT_EQ(BalanceOf(coop_).dispatched_grams(), 80000u);
  auto cancel = Body();
  cancel.mutable_cancel_dispatch()->add_lot_ids("T0000002");
  ExpectOk(Commit(cancel, coop_));
  EXPECT_EQ(BalanceOf(coop_).dispatched_grams(), 50000u);
  ExpectOk(Receive(trader_, "T0000001", 49500));
  auto trader = BalanceOf(trader_);
  EXPECT_EQ(trader.received_grams(), 49500u);
  EXPECT_EQ(trader.member_key(), KeyStr(trader_));
}

TEST_F(CustodyRules, MassGainAlongTheChainIsFlagged) {
  SetUpFlow();
  ExpectOk(RegisterMember(stranger_, "trader2", {v1::ROLE_TRADER}));
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectOk(Dispatch(coop_, {"T0000001"}, trader_));
  ExpectOk(Receive(trader_, "T0000001", 50900));  // +1.8 %: within tolerance, no flag
  ExpectOk(Dispatch(trader_, {"T0000001"}, stranger_));
  // +1.8 % against the dispatch (within the receipt tolerance), +3.6 % against the mine.
  auto r = Receive(stranger_, "T0000001", 51800);
  ExpectOk(r);
  ASSERT_EQ(r.anomalies_size(), 1);
  EXPECT_EQ(r.anomalies(0).kind(), "mass_gain");
  EXPECT_EQ(r.anomalies(0).lot_id(), "T0000001");
  EXPECT_NE(r.anomalies(0).detail().find("50.000 kg"), std::string::npos);
}

TEST_F(LotRules, RefusesRedSiteLot) {
  SetUpFlow();
  ExpectOk(RegisterSite("CD-R", v1::SITE_STATUS_YELLOW));
  ExpectOk(Allocate("CD-R", agent_, "R", 1, 2));
  ExpectOk(RecordLot(agent_, "R0000001", "CD-R", 50000));  // yellow: trade goes on
  // Four years and a day without inspection: green -> blue -> red, from block time.
  ExpectOk(RegisterSite("CD-L", v1::SITE_STATUS_GREEN));
  ExpectOk(Allocate("CD-L", agent_, "L", 1, 2));
  now_ms_ += 366 * kDay;
  ExpectOk(RecordLot(agent_, "L0000001", "CD-L", 50000));  // blue: trade goes on
  now_ms_ += 3 * 365 * kDay;
  ExpectRefused(RecordLot(agent_, "L0000002", "CD-L", 50000), "FAILED_PRECONDITION", "red");
  auto site = ledger_->GetMineSite("CD-L");
  ASSERT_TRUE(site && site->has_value());
  EXPECT_EQ((*site)->status(), v1::SITE_STATUS_RED);
}

TEST_F(LotRules, RefusesUndeclaredMineralAndBadWeightAndNonCooperativeProducer) {
  SetUpFlow();
  ExpectRefused(RecordLot(agent_, "T0000001", "CD-1", 50000, v1::MINERAL_COLTAN),
                "FAILED_PRECONDITION", "does not declare");
  ExpectRefused(RecordLot(agent_, "T0000001", "CD-1", 0), "INVALID_ARGUMENT", "weight");
  auto b = Body();
  auto* a = b.mutable_record_mine_lot();
  a->set_tag_id("T0000001");
  a->set_site_id("CD-1");
  a->set_mineral(v1::MINERAL_CASSITERITE);
  a->set_weight_grams(1000);
  a->set_producer_key(KeyStr(trader_));
  ExpectRefused(Commit(b, agent_), "FAILED_PRECONDITION", "cooperative");
}

TEST_F(LotRules, RefusesCooperativeRecordingLots) {
  SetUpFlow();
  ExpectRefused(RecordLot(coop_, "T0000001", "CD-1", 50000), "PERMISSION_DENIED", "role agent");
}

TEST_F(LotRules, FlagsMonthlyVolumeAboveEstimate) {
  ExpectOk(RegisterMember(agent_, "agent", {v1::ROLE_AGENT}));
  ExpectOk(RegisterMember(coop_, "coop", {v1::ROLE_COOPERATIVE}));
  ExpectOk(RegisterSite("CD-S", v1::SITE_STATUS_GREEN, {v1::MINERAL_CASSITERITE}, 100));
  ExpectOk(Allocate("CD-S", agent_, "S", 1, 3));
  auto first = RecordLot(agent_, "S0000001", "CD-S", 60000);
  ExpectOk(first);
  EXPECT_EQ(first.anomalies_size(), 0);
  auto second = RecordLot(agent_, "S0000002", "CD-S", 60000);
  ExpectOk(second);
  ASSERT_EQ(second.anomalies_size(), 1);
  EXPECT_EQ(second.anomalies(0).kind(), "site_volume_above_estimate");
}

TEST_F(CustodyRules, OnlyHolderDispatchesAndInTransitIsHeldByNobody) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectOk(RegisterMember(stranger_, "trader2", {v1::ROLE_TRADER}));
  ExpectRefused(Dispatch(trader_, {"T0000001"}, stranger_), "FAILED_PRECONDITION",
                "held by another member");
  ExpectOk(Dispatch(coop_, {"T0000001"}, trader_));
  auto lot = ledger_->GetLot("T0000001");
  ASSERT_TRUE(lot && lot->has_value());
  EXPECT_EQ((*lot)->status(), v1::LOT_STATUS_IN_TRANSIT);
  EXPECT_TRUE((*lot)->holder_key().empty());
  ExpectRefused(Dispatch(coop_, {"T0000001"}, trader_), "FAILED_PRECONDITION", "in transit");
}

TEST_F(CustodyRules, OnlyCustodyRolesDispatch) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectRefused(Dispatch(agent_, {"T0000001"}, trader_), "PERMISSION_DENIED",
                "lacks the role cooperative or trader or processor or exporter");
  // Metal reaches a smelter only in a certified export shipment, never by a plain sale.
  ExpectOk(RegisterMember(stranger_, "smelter", {v1::ROLE_SMELTER}));
  ExpectRefused(Dispatch(coop_, {"T0000001"}, stranger_), "FAILED_PRECONDITION",
                "receiver 'smelter' does not hold the role trader or processor or exporter");
}

TEST_F(CustodyRules, RefusesBadReceiverAndDuplicateLots) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectRefused(Dispatch(coop_, {"T0000001"}, agent_), "FAILED_PRECONDITION", "receiver");
  ExpectRefused(Dispatch(coop_, {"T0000001"}, stranger_), "FAILED_PRECONDITION",
                "not a registered member");
  ExpectRefused(Dispatch(coop_, {"T0000001", "T0000001"}, trader_), "INVALID_ARGUMENT", "twice");
  ExpectRefused(Dispatch(coop_, {"NOPE"}, trader_), "NOT_FOUND", "no lot");
}

TEST_F(CustodyRules, OnlyNamedReceiverReceives) {
  SetUpFlow();
  ExpectOk(RegisterMember(stranger_, "trader2", {v1::ROLE_TRADER}));
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectOk(Dispatch(coop_, {"T0000001"}, trader_));
  ExpectRefused(Receive(stranger_, "T0000001", 50000), "FAILED_PRECONDITION", "named receiver");
  ExpectOk(Receive(trader_, "T0000001", 50000));
  auto lot = ledger_->GetLot("T0000001");
  EXPECT_EQ((*lot)->holder_key(), KeyStr(trader_));
  EXPECT_EQ((*lot)->status(), v1::LOT_STATUS_HELD);
  ExpectRefused(Receive(trader_, "T0000001", 50000), "FAILED_PRECONDITION", "not in transit");
}

TEST_F(CustodyRules, SenderCancelsOthersMayNot) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectOk(Dispatch(coop_, {"T0000001"}, trader_));
  auto cancel = Body();
  cancel.mutable_cancel_dispatch()->add_lot_ids("T0000001");
  ExpectRefused(Commit(cancel, trader_), "FAILED_PRECONDITION", "only its sender");
  cancel.set_nonce(++nonce_);
  ExpectOk(Commit(cancel, coop_));
  auto lot = ledger_->GetLot("T0000001");
  EXPECT_EQ((*lot)->holder_key(), KeyStr(coop_));
  ExpectRefused(Receive(trader_, "T0000001", 50000), "FAILED_PRECONDITION", "not in transit");
}

TEST_F(CustodyRules, LotEventsNeverGoBackInTime) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  int64_t recorded = now_ms_ - 1000;
  ExpectRefused(Dispatch(coop_, {"T0000001"}, trader_, recorded - 1), "FAILED_PRECONDITION",
                "never go back in time");
  ExpectOk(Dispatch(coop_, {"T0000001"}, trader_, recorded));
}

TEST_F(CustodyRules, ReceiptWeightDifferenceIsFlagged) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectOk(Dispatch(coop_, {"T0000001"}, trader_));
  auto r = Receive(trader_, "T0000001", 47000);
  ExpectOk(r);
  ASSERT_EQ(r.anomalies_size(), 1);
  EXPECT_EQ(r.anomalies(0).kind(), "receipt_weight_mismatch");
  EXPECT_EQ((*ledger_->GetLot("T0000001"))->weight_grams(), 47000u);
}

TEST_F(CustodyRules, ReceiptsLinkEachLotBackToItsPreviousEvent) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectOk(Dispatch(coop_, {"T0000001"}, trader_));
  ExpectOk(Receive(trader_, "T0000001", 50000));
  auto lot = ledger_->GetLot("T0000001");
  ASSERT_TRUE(lot && lot->has_value());
  auto history = ledger_->GetLotHistory(**lot, 100);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 3u);
  EXPECT_TRUE((*history)[0].receipt.lot_links(0).previous_receipt_hash().empty());
  for (size_t i = 1; i < history->size(); ++i) {
    const auto& link = (*history)[i].receipt.lot_links(0);
    EXPECT_EQ(link.lot_id(), "T0000001");
    EXPECT_EQ(link.previous_receipt_hash(), proof::HashString((*history)[i - 1].receipt_hash));
  }
  EXPECT_EQ((*lot)->last_receipt_hash(), proof::HashString(history->back().receipt_hash));
  // Its record lists the same events, and a history can be cut short.
  for (size_t i = 0; i < history->size(); ++i) {
    EXPECT_EQ((*lot)->history_leaves(static_cast<int>(i)), (*history)[i].receipt.leaf_index());
  }
  auto first = ledger_->GetLotHistory(**lot, 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[1].receipt_bytes, (*history)[1].receipt_bytes);
}

TEST_F(CustodyRules, RefusedTxChangesNothing) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  auto before = *ledger_->GetLot("T0000001");
  // Second lot is not held by the coop: the whole dispatch is refused, the first lot too.
  ExpectOk(RegisterMember(agent2_, "coop2", {v1::ROLE_COOPERATIVE}));
  ExpectRefused(Dispatch(coop_, {"T0000001", "NOPE"}, trader_), "NOT_FOUND", "no lot");
  auto after = *ledger_->GetLot("T0000001");
  EXPECT_EQ(before->SerializeAsString(), after->SerializeAsString());
}

}  // namespace
}  // namespace minetrace::ledger::testing
