// Export rules (domain.md rule 6), each with the refusal that shows it: shipments formed from
// lots the exporter holds, the ICGLR certificate, the export checks over everything upstream
// (red site, open level-1 incident on a site, lot, tag or the exporter, red audit flag),
// dispatch only with a certificate, the smelter's receipt, cancellation.
#include "test_fixture.h"

namespace minetrace::ledger::testing {
namespace {

class ExportRules : public LedgerFixture {
 protected:
  // Mine lot T0000001 (CD-1) -> processor -> P0000001 (40 kg) -> exporter, who also holds
  // mine lot T0000002 (CD-1, 50 kg) bought directly.
  void SetUpExport() {
    SetUpChain();
    LotTo("T0000001", processor_);
    ExpectOk(Process(processor_, v1::PROCESSING_KIND_MERGE, {"T0000001"}, {{"P0000001", 40000}}));
    ExpectOk(Dispatch(processor_, {"P0000001"}, exporter_));
    ExpectOk(Receive(exporter_, "P0000001", 40000));
    LotTo("T0000002", exporter_);
  }
  void ExpectCertifyRefused(const std::string& words, const std::string& number = "CD-0001") {
    ExpectRefused(Certify(certifier_, "SH-1", number), "FAILED_PRECONDITION", words);
    EXPECT_EQ(ShipmentOf("SH-1").status(), v1::SHIPMENT_STATUS_FORMED);
  }
};

TEST_F(ExportRules, WholeFlowFormCertifyDispatchReceive) {
  SetUpExport();
  ExpectOk(FormShipment(exporter_, "SH-1", {"P0000001", "T0000002"}));
  auto s = ShipmentOf("SH-1");
  EXPECT_EQ(s.status(), v1::SHIPMENT_STATUS_FORMED);
  EXPECT_EQ(s.weight_grams(), 90000u);
  EXPECT_EQ(s.mineral(), v1::MINERAL_CASSITERITE);
  EXPECT_EQ(s.exporter_key(), KeyStr(exporter_));
  EXPECT_EQ(s.destination_country(), "MY");
  auto lot = LotOf("P0000001");
  EXPECT_EQ(lot.status(), v1::LOT_STATUS_IN_SHIPMENT);
  EXPECT_EQ(lot.shipment_id(), "SH-1");
  EXPECT_EQ(lot.holder_key(), KeyStr(exporter_));

  auto review = Certify(certifier_, "SH-1", "CD-0001");
  ExpectOk(review);
  // The review is in each lot's history: one link per lot of the shipment.
  ASSERT_EQ(review.lot_links_size(), 2);
  EXPECT_EQ(review.lot_links(0).lot_id(), "P0000001");
  EXPECT_EQ(review.lot_links(1).lot_id(), "T0000002");
  s = ShipmentOf("SH-1");
  EXPECT_EQ(s.status(), v1::SHIPMENT_STATUS_CERTIFIED);
  EXPECT_EQ(s.certificate().number(), "CD-0001");
  EXPECT_EQ(s.certificate().certifier_key(), KeyStr(certifier_));
  EXPECT_EQ(s.reviewed_by(), KeyStr(certifier_));

  ExpectOk(DispatchShipment(exporter_, "SH-1", smelter_));
  s = ShipmentOf("SH-1");
  EXPECT_EQ(s.status(), v1::SHIPMENT_STATUS_DISPATCHED);
  EXPECT_EQ(s.smelter_key(), KeyStr(smelter_));
  lot = LotOf("T0000002");
  EXPECT_EQ(lot.status(), v1::LOT_STATUS_EXPORTED);
  EXPECT_TRUE(lot.holder_key().empty());
  EXPECT_EQ(lot.dispatched_to(), KeyStr(smelter_));
  EXPECT_EQ(BalanceOf(exporter_).exported_grams(), 90000u);

  auto receipt = ReceiveShipment(smelter_, "SH-1", 89500);
  ExpectOk(receipt);
  EXPECT_EQ(receipt.anomalies_size(), 0);
  s = ShipmentOf("SH-1");
  EXPECT_EQ(s.status(), v1::SHIPMENT_STATUS_RECEIVED);
  EXPECT_EQ(s.received_weight_grams(), 89500u);
  lot = LotOf("P0000001");
  EXPECT_EQ(lot.status(), v1::LOT_STATUS_DELIVERED);
  EXPECT_EQ(lot.holder_key(), KeyStr(smelter_));
  EXPECT_TRUE(lot.dispatched_to().empty());
  EXPECT_EQ(BalanceOf(smelter_).smelter_received_grams(), 89500u);
  // The chain's end: the smelter does not send lots on, nor does anyone else.
  ExpectRefused(Dispatch(exporter_, {"P0000001"}, trader_), "FAILED_PRECONDITION",
                "was delivered to the smelter in shipment 'SH-1'");
  ExpectRefused(ReceiveShipment(smelter_, "SH-1", 89500), "FAILED_PRECONDITION",
                "only a dispatched shipment is received");
}

TEST_F(ExportRules, FormRefusals) {
  SetUpExport();
  ExpectRefused(FormShipment(trader_, "SH-1", {"T0000002"}), "PERMISSION_DENIED",
                "lacks the role exporter");
  ExpectRefused(FormShipment(exporter_, "SH 1", {"T0000002"}), "INVALID_ARGUMENT", "shipment_id");
  ExpectRefused(FormShipment(exporter_, "SH-1", {}), "INVALID_ARGUMENT", "no lots named");
  ExpectRefused(FormShipment(exporter_, "SH-1", {"T0000002", "T0000002"}), "INVALID_ARGUMENT",
                "named twice");
  ExpectOk(RecordLot(agent_, "T0000003", "CD-1", 50000));
  ExpectRefused(FormShipment(exporter_, "SH-1", {"T0000003"}), "FAILED_PRECONDITION",
                "held by another member");
  ExpectRefused(FormShipment(exporter_, "SH-1", {"T0000001"}), "FAILED_PRECONDITION",
                "was consumed by processing into 'P0000001'");
  auto b = Body();
  b.mutable_form_shipment()->set_shipment_id("SH-1");
  b.mutable_form_shipment()->add_lot_ids("T0000002");
  b.mutable_form_shipment()->set_destination_country("malaysia");
  ExpectRefused(Commit(b, exporter_), "INVALID_ARGUMENT", "destination country");
  ExpectOk(FormShipment(exporter_, "SH-1", {"T0000002"}));
  ExpectRefused(FormShipment(exporter_, "SH-1", {"P0000001"}), "ALREADY_EXISTS",
                "shipment 'SH-1' already exists");
  // A lot in a shipment is not dispatched, processed or shipped twice.
  ExpectRefused(FormShipment(exporter_, "SH-2", {"T0000002"}), "FAILED_PRECONDITION",
                "is in shipment 'SH-1'");
  ExpectRefused(Dispatch(exporter_, {"T0000002"}, trader_), "FAILED_PRECONDITION",
                "is in shipment 'SH-1'");
}

TEST_F(ExportRules, ShipmentIsOfOneMineral) {
  SetUpExport();
  ExpectOk(RegisterSite("CD-C", v1::SITE_STATUS_GREEN, {v1::MINERAL_COLTAN}));
  ExpectOk(Allocate("CD-C", agent_, "C", 1, 1));
  ExpectOk(RecordLot(agent_, "C0000001", "CD-C", 20000, v1::MINERAL_COLTAN));
  ExpectOk(Dispatch(coop_, {"C0000001"}, exporter_));
  ExpectOk(Receive(exporter_, "C0000001", 20000));
  ExpectRefused(FormShipment(exporter_, "SH-1", {"T0000002", "C0000001"}), "FAILED_PRECONDITION",
                "a shipment is of one mineral");
}

TEST_F(ExportRules, ReviewRefusals) {
  SetUpExport();
  ExpectOk(
      RegisterMember(stranger_, "exporter-certifier", {v1::ROLE_EXPORTER, v1::ROLE_CERTIFIER}));
  ExpectOk(FormShipment(exporter_, "SH-1", {"T0000002"}));
  ExpectRefused(Certify(exporter_, "SH-1", "CD-0001"), "PERMISSION_DENIED",
                "lacks the role certifier");
  ExpectRefused(Certify(certifier_, "SH-404", "CD-0001"), "NOT_FOUND", "no shipment 'SH-404'");
  ExpectRefused(Certify(certifier_, "SH-1", ""), "INVALID_ARGUMENT", "certificate number");
  auto b = Body();
  b.mutable_review_shipment()->set_shipment_id("SH-1");
  b.mutable_review_shipment()->set_issue(true);
  b.mutable_review_shipment()->set_certificate_number("CD-0001");
  ExpectRefused(Commit(b, certifier_), "INVALID_ARGUMENT", "certificate date");
  b.mutable_review_shipment()->set_certificate_date_ms(now_ms_ + 24LL * 3600 * 1000);
  ExpectRefused(Commit(b, certifier_), "INVALID_ARGUMENT", "not after the block");
  ExpectRefused(RefuseCertificate(certifier_, "SH-1", ""), "INVALID_ARGUMENT",
                "reason for refusing the certificate");
  // A certifier that is also an exporter does not certify its own shipment.
  LotTo("T0000003", stranger_);
  ExpectOk(FormShipment(stranger_, "SH-OWN", {"T0000003"}));
  ExpectRefused(Certify(stranger_, "SH-OWN", "CD-0009"), "PERMISSION_DENIED",
                "may not review its own shipment");
  ExpectOk(Certify(stranger_, "SH-1", "CD-0001"));
  ExpectRefused(Certify(certifier_, "SH-1", "CD-0002"), "FAILED_PRECONDITION",
                "is certified; only a formed or refused shipment is reviewed");
  ExpectRefused(Certify(certifier_, "SH-OWN", "CD-0001"), "ALREADY_EXISTS",
                "certificate number CD-0001 was already issued for shipment 'SH-1'");
}

TEST_F(ExportRules, RefusedCertificateMayBeReviewedAgainButNotDispatched) {
  SetUpExport();
  ExpectOk(FormShipment(exporter_, "SH-1", {"T0000002"}));
  ExpectOk(RefuseCertificate(certifier_, "SH-1", "delivery notes missing"));
  auto s = ShipmentOf("SH-1");
  EXPECT_EQ(s.status(), v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED);
  EXPECT_EQ(s.refusal_reason(), "delivery notes missing");
  ExpectRefused(DispatchShipment(exporter_, "SH-1", smelter_), "FAILED_PRECONDITION",
                "had its certificate refused (delivery notes missing)");
  ExpectOk(Certify(certifier_, "SH-1", "CD-0001"));
  EXPECT_TRUE(ShipmentOf("SH-1").refusal_reason().empty());
}

TEST_F(ExportRules, DispatchOnlyWithCertificateByItsExporterToASmelter) {
  SetUpExport();
  ExpectOk(RegisterMember(stranger_, "exporter2", {v1::ROLE_EXPORTER}));
  ExpectOk(FormShipment(exporter_, "SH-1", {"T0000002"}));
  ExpectRefused(DispatchShipment(exporter_, "SH-1", smelter_), "FAILED_PRECONDITION",
                "has no ICGLR certificate yet; a certifier must issue it first");
  ExpectOk(Certify(certifier_, "SH-1", "CD-0001"));
  ExpectRefused(DispatchShipment(stranger_, "SH-1", smelter_), "PERMISSION_DENIED",
                "belongs to another exporter");
  ExpectRefused(DispatchShipment(exporter_, "SH-1", trader_), "FAILED_PRECONDITION",
                "does not hold the role smelter");
  ExpectOk(DispatchShipment(exporter_, "SH-1", smelter_));
  ExpectRefused(DispatchShipment(exporter_, "SH-1", smelter_), "FAILED_PRECONDITION",
                "is dispatched; only a certified shipment is dispatched");
}

TEST_F(ExportRules, SmelterReceiptRefusalsAndWeightMismatchFlag) {
  SetUpExport();
  ExpectOk(RegisterMember(stranger_, "smelter2", {v1::ROLE_SMELTER}));
  ExpectOk(FormShipment(exporter_, "SH-1", {"T0000002"}));
  ExpectRefused(ReceiveShipment(smelter_, "SH-1", 50000), "FAILED_PRECONDITION",
                "is formed; only a dispatched shipment is received");
  ExpectOk(Certify(certifier_, "SH-1", "CD-0001"));
  ExpectOk(DispatchShipment(exporter_, "SH-1", smelter_));
  ExpectRefused(ReceiveShipment(stranger_, "SH-1", 50000), "PERMISSION_DENIED",
                "dispatched to another smelter");
  ExpectRefused(ReceiveShipment(exporter_, "SH-1", 50000), "PERMISSION_DENIED",
                "lacks the role smelter");
  ExpectRefused(ReceiveShipment(smelter_, "SH-1", 0), "INVALID_ARGUMENT", "more than 0");
  auto r = ReceiveShipment(smelter_, "SH-1", 48000);  // -4 %, beyond the 2 % tolerance
  ExpectOk(r);
  ASSERT_EQ(r.anomalies_size(), 1);
  EXPECT_EQ(r.anomalies(0).kind(), "receipt_weight_mismatch");
  EXPECT_EQ(r.anomalies(0).shipment_id(), "SH-1");
  EXPECT_EQ(r.anomalies(0).member_key(), KeyStr(smelter_));
}

TEST_F(ExportRules, CancelReturnsLotsCertificateNumberStaysUsed) {
  SetUpExport();
  ExpectOk(FormShipment(exporter_, "SH-1", {"T0000002"}));
  ExpectOk(Certify(certifier_, "SH-1", "CD-0001"));
  ExpectRefused(CancelShipment(exporter_, "SH-1", ""), "INVALID_ARGUMENT", "reason");
  ExpectRefused(CancelShipment(trader_, "SH-1"), "PERMISSION_DENIED", "lacks the role exporter");
  ExpectOk(RegisterMember(stranger_, "exporter2", {v1::ROLE_EXPORTER}));
  ExpectRefused(CancelShipment(stranger_, "SH-1"), "PERMISSION_DENIED",
                "belongs to another exporter; only its exporter cancels it");
  ExpectOk(CancelShipment(exporter_, "SH-1"));
  EXPECT_EQ(ShipmentOf("SH-1").status(), v1::SHIPMENT_STATUS_CANCELLED);
  auto lot = LotOf("T0000002");
  EXPECT_EQ(lot.status(), v1::LOT_STATUS_HELD);
  EXPECT_TRUE(lot.shipment_id().empty());
  ExpectRefused(CancelShipment(exporter_, "SH-1"), "FAILED_PRECONDITION",
                "is cancelled; only a shipment not yet dispatched is cancelled");
  ExpectOk(FormShipment(exporter_, "SH-2", {"T0000002"}));
  ExpectRefused(Certify(certifier_, "SH-2", "CD-0001"), "ALREADY_EXISTS", "already issued");
  ExpectOk(Certify(certifier_, "SH-2", "CD-0002"));
  ExpectOk(DispatchShipment(exporter_, "SH-2", smelter_));
  ExpectRefused(CancelShipment(exporter_, "SH-2"), "FAILED_PRECONDITION", "is dispatched");
}

TEST_F(ExportRules, RedUpstreamSiteBlocksCertification) {
  SetUpExport();
  ExpectOk(FormShipment(exporter_, "SH-1", {"P0000001"}));
  auto b = Body();
  b.mutable_set_site_status()->set_site_id("CD-1");
  b.mutable_set_site_status()->set_status(v1::SITE_STATUS_RED);
  b.mutable_set_site_status()->set_reason("armed group took the site");
  ExpectOk(Commit(b, regulator_));
  ExpectCertifyRefused(
      "shipment 'SH-1': mine site 'CD-1' (origin of lot 'T0000001' (upstream of lot "
      "'P0000001')) is red");
}

TEST_F(ExportRules, SiteLapsedToRedBlocksDispatch) {
  SetUpExport();
  ExpectOk(FormShipment(exporter_, "SH-1", {"P0000001"}));
  ExpectOk(Certify(certifier_, "SH-1", "CD-0001"));
  // No inspection for four years and more: green -> blue -> red, from block time alone.
  constexpr int64_t kDay = 24LL * 3600 * 1000;
  now_ms_ += 4 * 365 * kDay + kDay;
  ExpectRefused(DispatchShipment(exporter_, "SH-1", smelter_), "FAILED_PRECONDITION",
                "mine site 'CD-1' (origin of lot 'T0000001' (upstream of lot 'P0000001')) is "
                "red; nothing from a red site is exported");
  ExpectRefused(DispatchShipment(trader_, "SH-1", smelter_), "PERMISSION_DENIED",
                "lacks the role exporter");
}

TEST_F(ExportRules, OpenLevelOneIncidentUpstreamBlocksUntilResolved) {
  SetUpExport();
  ExpectOk(FormShipment(exporter_, "SH-1", {"P0000001"}));
  // On the upstream mine site.
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_SITE, "CD-1"));
  ExpectCertifyRefused(
      "mine site 'CD-1' (origin of lot 'T0000001' (upstream of lot "
      "'P0000001')) has an open level-1 incident ('INC-0000001')");
  ResolveIncident("INC-0000001");
  // On the upstream (consumed) lot.
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_LOT, "T0000001"));
  ExpectCertifyRefused(
      "lot 'T0000001' (upstream of lot 'P0000001') has an open level-1 "
      "incident ('INC-0000002')");
  ResolveIncident("INC-0000002");
  // On the tag of the upstream lot.
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_TAG, "T0000001"));
  ExpectCertifyRefused("tag T0000001 of lot 'T0000001'");
  ResolveIncident("INC-0000003");
  // On the exporter.
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_MEMBER, ToHex(AsBytes(KeyStr(exporter_)))));
  ExpectCertifyRefused("exporter 'exporter' has an open level-1 incident ('INC-0000004')");
  // Under mitigation still blocks; resolved does not.
  ExpectOk(UpdateIncident(regulator_, "INC-0000004", v1::INCIDENT_STATUS_UNDER_MITIGATION));
  ExpectCertifyRefused("exporter 'exporter' has an open level-1 incident");
  ResolveIncident("INC-0000004");
  // Level 2 and 3 incidents do not block.
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 2));
  ExpectOk(Certify(certifier_, "SH-1", "CD-0001"));
}

TEST_F(ExportRules, IncidentOpenedAfterCertificationBlocksDispatch) {
  SetUpExport();
  ExpectOk(FormShipment(exporter_, "SH-1", {"P0000001"}));
  ExpectOk(Certify(certifier_, "SH-1", "CD-0001"));
  ExpectOk(ReportIncident(trader_, v1::INCIDENT_SUBJECT_LOT, "P0000001"));
  ExpectRefused(DispatchShipment(exporter_, "SH-1", smelter_), "FAILED_PRECONDITION",
                "lot 'P0000001' has an open level-1 incident ('INC-0000001'); nothing derived "
                "from it is exported until the incident is resolved");
  ResolveIncident("INC-0000001");
  ExpectOk(DispatchShipment(exporter_, "SH-1", smelter_));
}

TEST_F(ExportRules, RedAuditFlagBlocksCertificationAndDispatch) {
  SetUpExport();
  ExpectOk(FormShipment(exporter_, "SH-1", {"T0000002"}));
  ExpectOk(SetAuditFlag(regulator_, exporter_, v1::AUDIT_FLAG_YELLOW));
  ExpectOk(Certify(certifier_, "SH-1", "CD-0001"));  // yellow: export goes on
  ExpectOk(SetAuditFlag(regulator_, exporter_, v1::AUDIT_FLAG_RED, "laundered lots"));
  ExpectRefused(DispatchShipment(exporter_, "SH-1", smelter_), "FAILED_PRECONDITION",
                "exporter 'exporter' has a red audit flag (laundered lots)");
  ExpectOk(FormShipment(exporter_, "SH-2", {"P0000001"}));
  ExpectRefused(Certify(certifier_, "SH-2", "CD-0002"), "FAILED_PRECONDITION", "red audit flag");
  ExpectOk(SetAuditFlag(regulator_, exporter_, v1::AUDIT_FLAG_GREEN, "re-audited"));
  ExpectOk(DispatchShipment(exporter_, "SH-1", smelter_));
}

TEST_F(ExportRules, SuspendedExporterIsNotCertified) {
  SetUpExport();
  ExpectOk(FormShipment(exporter_, "SH-1", {"T0000002"}));
  auto s = Body();
  s.mutable_suspend_member()->set_member_key(KeyStr(exporter_));
  s.mutable_suspend_member()->set_reason("smuggling inquiry");
  ExpectOk(Commit(s, admin_));
  ExpectCertifyRefused("exporter 'exporter' is suspended (smuggling inquiry)");
}

TEST_F(ExportRules, UpstreamWalkVisitsSharedAncestorsOnce) {
  SetUpChain();
  // Two outputs of one merge, both in the shipment: their common inputs are checked once and
  // a blocking incident on them is found from either.
  LotTo("T0000001", processor_);
  LotTo("T0000002", processor_);
  ExpectOk(Process(processor_, v1::PROCESSING_KIND_SPLIT, {"T0000001"},
                   {{"P0000001", 25000}, {"P0000002", 25000}}));
  ExpectOk(Process(processor_, v1::PROCESSING_KIND_MERGE, {"P0000001", "P0000002", "T0000002"},
                   {{"P0000003", 45000}, {"P0000004", 50000}}));
  ExpectOk(Dispatch(processor_, {"P0000003", "P0000004"}, exporter_));
  ExpectOk(Receive(exporter_, "P0000003", 45000));
  ExpectOk(Receive(exporter_, "P0000004", 50000));
  ExpectOk(FormShipment(exporter_, "SH-1", {"P0000003", "P0000004"}));
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_LOT, "T0000001"));
  ExpectCertifyRefused("lot 'T0000001' (upstream of lot 'P0000003')");
  ResolveIncident("INC-0000001");
  ExpectOk(Certify(certifier_, "SH-1", "CD-0001"));
}

TEST_F(ExportRules, RefusesUpstreamGraphTooLargeToCheck) {
  SetUpChain();
  // Written straight into a view (no tx could build it quickly): lot X0 has 1000 parents, each
  // with 100 parents of its own, so more than 100,000 lots lie upstream.
  auto view = State();
  v1::Lot top;
  top.set_lot_id("X0");
  top.set_status(v1::LOT_STATUS_IN_SHIPMENT);
  top.set_holder_key(KeyStr(exporter_));
  top.set_shipment_id("SH-BIG");
  for (int i = 1; i <= 1000; ++i) {
    std::string id = "X" + std::to_string(i);
    top.add_parent_lot_ids(id);
    v1::Lot mid;
    mid.set_lot_id(id);
    mid.set_status(v1::LOT_STATUS_CONSUMED);
    for (int j = 0; j < 100; ++j) mid.add_parent_lot_ids(id + "-" + std::to_string(j));
    view->PutLot(std::nullopt, mid);
  }
  view->PutLot(std::nullopt, top);
  v1::Shipment big;
  big.set_shipment_id("SH-BIG");
  big.set_exporter_key(KeyStr(exporter_));
  big.add_lot_ids("X0");
  big.set_status(v1::SHIPMENT_STATUS_FORMED);
  view->PutShipment(std::nullopt, big);
  auto b = Body();
  auto* a = b.mutable_review_shipment();
  a->set_shipment_id("SH-BIG");
  a->set_issue(true);
  a->set_certificate_number("CD-0001");
  a->set_certificate_date_ms(now_ms_);
  BlockContext ctx{"test-chain", ledger_->head().height() + 1, now_ms_};
  StateView layer(*view);
  auto r = ExecuteTx(layer, ctx, b, KeyStr(certifier_));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("shipment 'SH-BIG': more than 100000 lots upstream: too large "
                                   "to check in one transaction"),
            std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace minetrace::ledger::testing
