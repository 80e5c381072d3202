// The queries over the whole chain of custody, end to end through committed transactions:
// flagged refusals (admitted, committed FAILED, kept as flags), provenance of processed and
// shipped lots, incidents and shipments with their filters and pages, inspections, holdings
// with the mass balance, and tags reported withdrawn.
#include <set>

#include "minetrace/ledger/ledger.h"
#include "minetrace/ledger/proof/custody_event.h"
#include "minetrace/ledger/rules.h"
#include "test_fixture.h"

namespace minetrace::ledger::testing {
namespace {

class QueryFlowTest : public LedgerFixture {
 protected:
  template <class T, class Filter, class List>
  std::vector<T> ReadAll(const Filter& filter, size_t page_size, List list) {
    std::vector<T> out;
    std::string token;
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = list(filter, token, page_size);
      EXPECT_TRUE(page) << page.error().ToString();
      if (!page) break;
      EXPECT_LE(page->items.size(), page_size);
      for (auto& item : page->items) out.push_back(std::move(item));
      token = page->next_page_token;
      if (token.empty()) break;
    }
    return out;
  }
  std::vector<std::string> IncidentIds(const IncidentFilter& filter, size_t page_size = 100) {
    auto all = ReadAll<v1::Incident>(filter, page_size, [&](auto& f, auto& t, size_t n) {
      return ledger_->ListIncidents(f, t, n);
    });
    std::vector<std::string> ids;
    for (const auto& i : all) ids.push_back(i.incident_id());
    return ids;
  }
  std::vector<v1::Flag> Flags(const FlagFilter& filter) {
    return ReadAll<v1::Flag>(
        filter, 100, [&](auto& f, auto& t, size_t n) { return ledger_->ListFlags(f, t, n); });
  }
  std::vector<std::string> ShipmentIds(const ShipmentFilter& filter, size_t page_size = 100) {
    auto all = ReadAll<v1::Shipment>(filter, page_size, [&](auto& f, auto& t, size_t n) {
      return ledger_->ListShipments(f, t, n);
    });
    std::vector<std::string> ids;
    for (const auto& s : all) ids.push_back(s.shipment_id());
    return ids;
  }
  v1::TxBody RecordLotBody(const std::string& tag, const std::string& site) {
    auto b = Body();
    auto* a = b.mutable_record_mine_lot();
    a->set_tag_id(tag);
    a->set_site_id(site);
    a->set_mineral(v1::MINERAL_CASSITERITE);
    a->set_weight_grams(50000);
    a->set_grade_basis_points(6500);
    a->set_producer_key(KeyStr(coop_));
    return b;
  }
  v1::Tag TagOf(const std::string& id) {
    auto t = ledger_->GetTag(id);
    EXPECT_TRUE(t && t->has_value()) << id;
    return t && t->has_value() ? **t : v1::Tag();
  }
  v1::Holdings HoldingsOf(const crypto::PrivateKey& who) {
    auto h = ledger_->GetHoldings(KeyStr(who));
    EXPECT_TRUE(h && h->has_value());
    return h && h->has_value() ? **h : v1::Holdings();
  }

  // Mine lots T0000001 (50 kg) and T0000002 (30 kg) merged by the processor into P0000001
  // (70 kg), sold to the exporter, shipped as SH-1, certified, dispatched to the smelter and
  // received there light (60 kg).
  void ShipToSmelter() {
    SetUpChain();
    LotTo("T0000001", processor_, 50000);
    LotTo("T0000002", processor_, 30000);
    ExpectOk(Process(processor_, v1::PROCESSING_KIND_MERGE, {"T0000001", "T0000002"},
                     {{"P0000001", 70000}}));
    ExpectOk(Dispatch(processor_, {"P0000001"}, exporter_));
    ExpectOk(Receive(exporter_, "P0000001", 70000));
    ExpectOk(FormShipment(exporter_, "SH-1", {"P0000001"}));
    ExpectOk(Certify(certifier_, "SH-1", "ICGLR-CD-0001"));
    ExpectOk(DispatchShipment(exporter_, "SH-1", smelter_));
    v1::Receipt received = ReceiveShipment(smelter_, "SH-1", 60000);
    ExpectOk(received);
    EXPECT_EQ(received.anomalies_size(), 1);
  }
};

// ---- flagged refusals ----

TEST_F(QueryFlowTest, TagOffAgentIsAdmittedCommitsFailedAndKeepsItsFlag) {
  SetUpFlow();
  ExpectOk(RegisterMember(agent2_, "agent2", {v1::ROLE_AGENT}));
  v1::TxBody misuse = RecordLotBody("T0000005", "CD-1");  // agent_'s tag, used by agent2_

  // Admission: the refusal carries an anomaly, so the tx is admitted, with no pending effect.
  auto pending = ledger_->NewPendingState();
  EXPECT_TRUE(ledger_->CheckTx(*pending, misuse, KeyStr(agent2_), now_ms_));
  EXPECT_TRUE(
      ledger_->CheckTx(*pending, RecordLotBody("T0000005", "CD-1"), KeyStr(agent_), now_ms_))
      << "the admitted refusal must not have used the tag in the pending state";
  // A refusal without anomalies is still refused at the door.
  auto plain =
      ledger_->CheckTx(*pending, RecordLotBody("T0000006", "CD-1"), KeyStr(stranger_), now_ms_);
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error().code, ErrorCode::kPermissionDenied);

  v1::Receipt r = Commit(misuse, agent2_);
  ExpectRefused(r, "PERMISSION_DENIED", "T0000005");
  ASSERT_EQ(r.anomalies_size(), 1);
  EXPECT_EQ(r.anomalies(0).kind(), "tag_off_agent");
  auto flags = Flags({"tag_off_agent", "", "", ""});
  ASSERT_EQ(flags.size(), 1u);
  const v1::Flag& f = flags[0];
  EXPECT_EQ(f.tx_status(), v1::TX_STATUS_FAILED);
  EXPECT_EQ(f.member_key(), KeyStr(agent2_));
  EXPECT_EQ(f.tag_id(), "T0000005");
  EXPECT_EQ(f.site_id(), "CD-1");
  EXPECT_EQ(f.tx_id(), r.tx_id());
  EXPECT_EQ(f.leaf_index(), r.leaf_index());
  // The refused tx changed nothing else.
  EXPECT_EQ(TagOf("T0000005").status(), v1::TAG_STATUS_ALLOCATED);
  EXPECT_FALSE(ledger_->GetLot("T0000005")->has_value());
  // When the tag's own agent then records with it, the lot's provenance shows the attempt
  // (filed under the tag's site, though another member made it).
  ExpectOk(Commit(RecordLotBody("T0000005", "CD-1"), agent_));
  auto p = ledger_->GetProvenance("T0000005", "");
  ASSERT_TRUE(p) << p.error().ToString();
  ASSERT_EQ(p->flags_size(), 1);
  EXPECT_EQ(p->flags(0).kind(), "tag_off_agent");
  EXPECT_EQ(p->flags(0).member_key(), KeyStr(agent2_));
}

// Filed under the tag's own site: the site an agent claims may not exist, and a flag must not
// land on any site a member names.
TEST_F(QueryFlowTest, TagOffSiteFlagIsListedUnderTheTagsOwnSite) {
  SetUpFlow();
  ExpectOk(RegisterSite("CD-2", v1::SITE_STATUS_GREEN));
  v1::Receipt r = Commit(RecordLotBody("T0000003", "CD-2"), agent_);  // a CD-1 tag at CD-2
  ExpectRefused(r, "FAILED_PRECONDITION", "T0000003");
  auto at_cd1 = Flags({"", "", "CD-1", ""});
  ASSERT_EQ(at_cd1.size(), 1u);
  EXPECT_EQ(at_cd1[0].kind(), "tag_off_site");
  EXPECT_EQ(at_cd1[0].tx_status(), v1::TX_STATUS_FAILED);
  EXPECT_EQ(at_cd1[0].member_key(), KeyStr(agent_));
  EXPECT_NE(at_cd1[0].detail().find("'CD-2'"), std::string::npos);
  EXPECT_TRUE(Flags({"", "", "CD-2", ""}).empty());
  // The tag is then used where it belongs: the lot's provenance shows the earlier attempt.
  ExpectOk(Commit(RecordLotBody("T0000003", "CD-1"), agent_));
  auto p = ledger_->GetProvenance("T0000003", "");
  ASSERT_TRUE(p) << p.error().ToString();
  ASSERT_EQ(p->flags_size(), 1);
  EXPECT_EQ(p->flags(0).kind(), "tag_off_site");
  EXPECT_EQ(p->flags(0).tag_id(), "T0000003");
}

// ---- provenance ----

TEST_F(QueryFlowTest, ProvenanceOfAShipmentWalksBackToTheMineLots) {
  ShipToSmelter();
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 2));
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_MEMBER,
                          ToHex(AsBytes(KeyStr(exporter_))), 3));
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_LOT, "T0000002", 3));
  // Not in the graph: a lot of another chain.
  LotTo("T0000003", trader_);
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_LOT, "T0000003", 3));

  auto p = ledger_->GetProvenance("", "SH-1");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->shipment().shipment_id(), "SH-1");
  EXPECT_EQ(p->shipment().status(), v1::SHIPMENT_STATUS_RECEIVED);
  EXPECT_FALSE(p->truncated());
  ASSERT_EQ(p->lots_size(), 3);
  EXPECT_EQ(p->lots(0).lot().lot_id(), "P0000001");
  EXPECT_EQ(p->lots(1).lot().lot_id(), "T0000001");
  EXPECT_EQ(p->lots(2).lot().lot_id(), "T0000002");

  std::vector<std::string> actions;
  for (const auto& e : p->lots(0).events()) actions.push_back(e.action());
  EXPECT_EQ(actions, (std::vector<std::string>{"process_lots", "dispatch_lots", "receive_lots",
                                               "form_shipment", "review_shipment",
                                               "dispatch_shipment", "receive_shipment"}));
  EXPECT_EQ(p->lots(0).events(0).weight_grams(), 70000u);  // the output's weight
  EXPECT_EQ(p->lots(0).events(0).actor(), KeyStr(processor_));
  EXPECT_EQ(p->lots(0).events(5).counterparty(), KeyStr(smelter_));
  const auto& input = p->lots(1);
  ASSERT_EQ(input.events_size(), 4);
  EXPECT_EQ(input.events(0).action(), "record_mine_lot");
  EXPECT_EQ(input.events(3).action(), "process_lots");
  EXPECT_EQ(input.events(3).weight_grams(), 0u);  // an input: the action states no weight for it
  EXPECT_EQ(input.events(3).tx_id(), p->lots(0).events(0).tx_id());

  ASSERT_EQ(p->sites_size(), 1);
  EXPECT_EQ(p->sites(0).site_id(), "CD-1");
  std::set<std::string> members;
  for (const auto& m : p->members()) EXPECT_TRUE(members.insert(m.key()).second) << m.name();
  for (const auto* k : {&agent_, &coop_, &processor_, &exporter_, &certifier_, &smelter_}) {
    EXPECT_EQ(members.count(KeyStr(*k)), 1u);
  }
  EXPECT_EQ(members.count(KeyStr(trader_)), 0u);

  ASSERT_EQ(p->flags_size(), 1);  // the smelter's receipt mismatch, found through the shipment
  EXPECT_EQ(p->flags(0).kind(), "receipt_weight_mismatch");
  EXPECT_EQ(p->flags(0).shipment_id(), "SH-1");
  std::vector<std::string> incidents;
  for (const auto& i : p->incidents()) incidents.push_back(i.incident_id());
  EXPECT_EQ(incidents, (std::vector<std::string>{"INC-0000001", "INC-0000002", "INC-0000003"}));

  // Each lot's events are its history, tx by tx, though the query reads each tx once (the
  // merge is in the histories of the output and of both inputs) and in batches.
  for (const auto& entry : p->lots()) {
    auto history = ledger_->GetLotHistory(entry.lot(), 100);
    ASSERT_TRUE(history) << history.error().ToString();
    ASSERT_EQ(entry.events_size(), static_cast<int>(history->size()));
    for (size_t i = 0; i < history->size(); ++i) {
      const TxRecord& rec = (*history)[i];
      auto one = ledger_->GetTxAtLeaf(rec.receipt.leaf_index());  // a point read each
      ASSERT_TRUE(one) << one.error().ToString();
      EXPECT_EQ(one->receipt_bytes, rec.receipt_bytes);
      EXPECT_EQ(one->tx.SerializeAsString(), rec.tx.SerializeAsString());
      v1::TxBody body;
      ASSERT_TRUE(body.ParseFromString(rec.tx.body()));
      const v1::CustodyEvent expected = proof::CustodyEventOf(
          body, rec.tx.signer(), rec.receipt, rec.receipt_hash, entry.lot().lot_id());
      EXPECT_EQ(entry.events(static_cast<int>(i)).SerializeAsString(),
                expected.SerializeAsString());
    }
  }

  // Upstream only: a mine lot's provenance is itself; the processed lot's reaches its inputs.
  auto mine = ledger_->GetProvenance("T0000001", "");
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->lots_size(), 1);
  EXPECT_FALSE(mine->has_shipment());
  auto processed = ledger_->GetProvenance("P0000001", "");
  ASSERT_TRUE(processed);
  EXPECT_EQ(processed->lots_size(), 3);
  EXPECT_FALSE(processed->truncated());

  // Beyond the bound the graph is cut, breadth first, and says so.
  auto cut = ledger_->GetProvenance("", "SH-1", 2);
  ASSERT_TRUE(cut);
  EXPECT_TRUE(cut->truncated());
  ASSERT_EQ(cut->lots_size(), 2);
  EXPECT_EQ(cut->lots(0).lot().lot_id(), "P0000001");
  EXPECT_EQ(cut->lots(1).lot().lot_id(), "T0000001");
  auto exact = ledger_->GetProvenance("P0000001", "", 3);
  ASSERT_TRUE(exact);
  EXPECT_FALSE(exact->truncated());
  EXPECT_EQ(exact->lots_size(), 3);
}

// ---- holdings and mass balance ----

TEST_F(QueryFlowTest, HoldingsAndMassBalanceAlongTheChain) {
  SetUpChain();
  LotTo("T0000001", processor_, 50000);
  LotTo("T0000002", processor_, 30000);
  ExpectOk(Process(processor_, v1::PROCESSING_KIND_MERGE, {"T0000001", "T0000002"},
                   {{"P0000001", 70000}}));
  ExpectOk(Dispatch(processor_, {"P0000001"}, exporter_));
  v1::Holdings exporter = HoldingsOf(exporter_);
  EXPECT_EQ(exporter.in_transit_to_lots(), 1u);
  EXPECT_EQ(exporter.in_transit_to_grams(), 70000u);
  ExpectOk(Receive(exporter_, "P0000001", 70000));
  ExpectOk(FormShipment(exporter_, "SH-1", {"P0000001"}));
  exporter = HoldingsOf(exporter_);
  EXPECT_EQ(exporter.held_lots(), 1u);  // in the shipment, still the exporter's
  EXPECT_EQ(exporter.held_grams(), 70000u);
  EXPECT_EQ(exporter.in_transit_to_lots(), 0u);
  ExpectOk(Certify(certifier_, "SH-1", "ICGLR-CD-0001"));
  ExpectOk(DispatchShipment(exporter_, "SH-1", smelter_));
  ExpectOk(ReceiveShipment(smelter_, "SH-1", 69000));

  v1::Holdings processor = HoldingsOf(processor_);
  EXPECT_EQ(processor.held_lots(), 0u);
  EXPECT_EQ(processor.balance().received_grams(), 80000u);
  EXPECT_EQ(processor.balance().processing_input_grams(), 80000u);
  EXPECT_EQ(processor.balance().processing_output_grams(), 70000u);
  EXPECT_EQ(processor.balance().processing_loss_grams(), 10000u);
  EXPECT_EQ(processor.balance().dispatched_grams(), 70000u);
  exporter = HoldingsOf(exporter_);
  EXPECT_EQ(exporter.held_lots(), 0u);
  EXPECT_EQ(exporter.balance().received_grams(), 70000u);
  EXPECT_EQ(exporter.balance().exported_grams(), 70000u);
  v1::Holdings smelter = HoldingsOf(smelter_);
  EXPECT_EQ(smelter.held_lots(), 0u);  // delivered lots are the chain's end, not holdings
  EXPECT_EQ(smelter.balance().smelter_received_grams(), 69000u);
  v1::Holdings coop = HoldingsOf(coop_);
  EXPECT_EQ(coop.balance().produced_grams(), 80000u);
  EXPECT_EQ(coop.balance().dispatched_grams(), 80000u);
}

// ---- incidents ----

TEST_F(QueryFlowTest, ListIncidentsFiltersCombineAndPage) {
  SetUpChain();
  LotTo("T0000001", trader_);
  const std::string coop_hex = ToHex(AsBytes(KeyStr(coop_)));
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 1,
                          v1::INCIDENT_CATEGORY_ARMED_GROUPS));  // INC-0000001
  ExpectOk(ReportIncident(trader_, v1::INCIDENT_SUBJECT_LOT, "T0000001", 2,
                          v1::INCIDENT_CATEGORY_SMUGGLING));  // INC-0000002
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 3,
                          v1::INCIDENT_CATEGORY_SAFETY));  // INC-0000003
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_MEMBER, coop_hex, 1,
                          v1::INCIDENT_CATEGORY_CHILD_LABOUR));  // INC-0000004
  ExpectOk(UpdateIncident(regulator_, "INC-0000001", v1::INCIDENT_STATUS_UNDER_MITIGATION,
                          v1::INCIDENT_OUTCOME_UNSPECIFIED, "patrols agreed"));
  ExpectOk(UpdateIncident(regulator_, "INC-0000003", v1::INCIDENT_STATUS_RESOLVED,
                          v1::INCIDENT_OUTCOME_MITIGATED, "shaft reinforced"));

  auto got = ledger_->GetIncident("INC-0000002");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->subject_id(), "T0000001");

  using Ids = std::vector<std::string>;
  EXPECT_EQ(IncidentIds({}, 3), (Ids{"INC-0000001", "INC-0000002", "INC-0000003", "INC-0000004"}));
  IncidentFilter site;
  site.subject_kind = v1::INCIDENT_SUBJECT_SITE;
  site.subject_id = "CD-1";
  EXPECT_EQ(IncidentIds(site, 1), (Ids{"INC-0000001", "INC-0000003"}));
  IncidentFilter site_open = site;
  site_open.open_only = true;
  EXPECT_EQ(IncidentIds(site_open), (Ids{"INC-0000001"}));
  IncidentFilter site_level3 = site;
  site_level3.level = 3;
  EXPECT_EQ(IncidentIds(site_level3), (Ids{"INC-0000003"}));
  IncidentFilter open;
  open.status = v1::INCIDENT_STATUS_OPEN;
  EXPECT_EQ(IncidentIds(open, 1), (Ids{"INC-0000002", "INC-0000004"}));
  IncidentFilter open_level1 = open;
  open_level1.level = 1;
  EXPECT_EQ(IncidentIds(open_level1), (Ids{"INC-0000004"}));
  IncidentFilter smuggling;
  smuggling.category = v1::INCIDENT_CATEGORY_SMUGGLING;
  EXPECT_EQ(IncidentIds(smuggling), (Ids{"INC-0000002"}));
  IncidentFilter open_only;
  open_only.open_only = true;
  EXPECT_EQ(IncidentIds(open_only, 2), (Ids{"INC-0000001", "INC-0000002", "INC-0000004"}));
  EXPECT_EQ(IncidentIds(open_only, 1), (Ids{"INC-0000001", "INC-0000002", "INC-0000004"}));
  IncidentFilter open_level1_any = open_only;  // what blocks exports, across subjects
  open_level1_any.level = 1;
  EXPECT_EQ(IncidentIds(open_level1_any, 1), (Ids{"INC-0000001", "INC-0000004"}));
  IncidentFilter resolved_open = open_only;  // contradictory filters give nothing
  resolved_open.status = v1::INCIDENT_STATUS_RESOLVED;
  EXPECT_TRUE(IncidentIds(resolved_open).empty());
  IncidentFilter member;
  member.subject_kind = v1::INCIDENT_SUBJECT_MEMBER;
  member.subject_id = coop_hex;
  EXPECT_EQ(IncidentIds(member), (Ids{"INC-0000004"}));
  IncidentFilter none = site;
  none.category = v1::INCIDENT_CATEGORY_SMUGGLING;
  EXPECT_TRUE(IncidentIds(none).empty());
}

TEST_F(QueryFlowTest, ShortPagesCarryOnWhenTheScanBoundIsHit) {
  SetUpChain();
  ExpectOk(RegisterSite("CD-2", v1::SITE_STATUS_GREEN, {v1::MINERAL_CASSITERITE}, 1));
  ExpectOk(Allocate("CD-2", agent_, "U", 1, 10));
  for (int i = 1; i <= 5; ++i) {
    ExpectOk(RecordLot(agent_, "U000000" + std::to_string(i), "CD-2", 5000));  // volume flags
  }
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_SITE, "CD-2", 2));  // INC-0000001
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 2));  // INC-0000002
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 3));  // INC-0000003
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_SITE, "CD-2", 1));  // INC-0000004
  ExpectOk(ReportIncident(regulator_, v1::INCIDENT_SUBJECT_SITE, "CD-2", 3));  // INC-0000005
  // Under mitigation: 1, 2, 3; open: 4, 5.
  for (const char* id : {"INC-0000001", "INC-0000002", "INC-0000003"}) {
    ExpectOk(UpdateIncident(regulator_, id, v1::INCIDENT_STATUS_UNDER_MITIGATION,
                            v1::INCIDENT_OUTCOME_UNSPECIFIED, "patrols agreed"));
  }
  ledger_->set_page_scan_bound_for_testing(2);

  // The agent's five flags, none a receipt mismatch: three empty pages, two with a token.
  FlagFilter none;
  none.member_key = KeyStr(agent_);
  none.kind = "receipt_weight_mismatch";
  std::string token;
  int pages = 0;
  do {
    auto page = ledger_->ListFlags(none, token, 100);
    ASSERT_TRUE(page) << page.error().ToString();
    EXPECT_TRUE(page->items.empty());
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);

  // Open incidents merge two status indexes in id order. With two entries per index a page
  // reads 4, 5 (open) and 1, 2 (under mitigation): it stops at 2, or 3 would be skipped.
  IncidentFilter open_only;
  open_only.open_only = true;
  EXPECT_EQ(IncidentIds(open_only, 100),
            (std::vector<std::string>{"INC-0000001", "INC-0000002", "INC-0000003", "INC-0000004",
                                      "INC-0000005"}));
  open_only.level = 2;
  EXPECT_EQ(IncidentIds(open_only, 1), (std::vector<std::string>{"INC-0000001", "INC-0000002"}));
  ledger_->set_page_scan_bound_for_testing(1);
  open_only.level = 0;
  EXPECT_EQ(IncidentIds(open_only, 1).size(), 5u);
}

TEST_F(QueryFlowTest, IncidentOpenedFromAFlagIsNamedOnTheFlag) {
  SetUpChain();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectOk(Dispatch(coop_, {"T0000001"}, trader_));
  ExpectOk(Receive(trader_, "T0000001", 30000));
  auto flags = Flags({"receipt_weight_mismatch", "", "", ""});
  ASSERT_EQ(flags.size(), 1u);
  auto b = Body();
  auto* a = b.mutable_report_incident();
  a->set_subject_kind(v1::INCIDENT_SUBJECT_LOT);
  a->set_subject_id("T0000001");
  a->set_category(v1::INCIDENT_CATEGORY_TRACEABILITY_BREACH);
  a->set_level(2);
  a->set_description("20 kg missing between the cooperative and the trader");
  a->set_flag_id(flags[0].flag_id());
  ExpectOk(Commit(b, regulator_));
  flags = Flags({"", "T0000001", "", ""});
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].incident_id(), "INC-0000001");
  EXPECT_EQ(IncidentOf("INC-0000001").source(), v1::INCIDENT_SOURCE_ANOMALY);
}

// ---- shipments and inspections ----

TEST_F(QueryFlowTest, ListShipmentsByExporterAndStatusInPages) {
  SetUpChain();
  LotTo("T0000001", exporter_);
  LotTo("T0000002", exporter_);
  LotTo("T0000003", exporter_);
  ExpectOk(FormShipment(exporter_, "SH-1", {"T0000001"}));
  ExpectOk(FormShipment(exporter_, "SH-2", {"T0000002"}));
  ExpectOk(FormShipment(exporter_, "SH-3", {"T0000003"}));
  ExpectOk(Certify(certifier_, "SH-2", "ICGLR-CD-0002"));

  auto got = ledger_->GetShipment("SH-2");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->certificate().number(), "ICGLR-CD-0002");

  using Ids = std::vector<std::string>;
  EXPECT_EQ(ShipmentIds({}, 2), (Ids{"SH-1", "SH-2", "SH-3"}));
  EXPECT_EQ(ShipmentIds({KeyStr(exporter_), v1::SHIPMENT_STATUS_UNSPECIFIED}, 1),
            (Ids{"SH-1", "SH-2", "SH-3"}));
  EXPECT_EQ(ShipmentIds({"", v1::SHIPMENT_STATUS_CERTIFIED}), (Ids{"SH-2"}));
  EXPECT_EQ(ShipmentIds({KeyStr(exporter_), v1::SHIPMENT_STATUS_FORMED}, 1), (Ids{"SH-1", "SH-3"}));
  EXPECT_TRUE(ShipmentIds({KeyStr(trader_), v1::SHIPMENT_STATUS_UNSPECIFIED}).empty());
}

TEST_F(QueryFlowTest, InspectionsAreListedOldestFirst) {
  SetUpChain();
  for (auto result : {v1::SITE_STATUS_YELLOW, v1::SITE_STATUS_GREEN}) {
    auto b = Body();
    auto* a = b.mutable_record_inspection();
    a->set_site_id("CD-1");
    a->set_inspected_at_ms(now_ms_ - 500);
    a->set_result(result);
    a->set_inspector("joint mission 7");
    a->set_report_hash(std::string(32, '\x07'));
    a->set_summary("checked");
    ExpectOk(Commit(b, regulator_));
  }
  auto list = ledger_->ListInspections("CD-1");
  ASSERT_TRUE(list && list->has_value());
  ASSERT_EQ((*list)->size(), 2u);
  EXPECT_EQ((**list)[0].sequence(), 1u);
  EXPECT_EQ((**list)[0].result(), v1::SITE_STATUS_YELLOW);
  EXPECT_EQ((**list)[1].sequence(), 2u);
  EXPECT_EQ((**list)[1].recorded_by(), KeyStr(regulator_));
}

// ---- tags ----

TEST_F(QueryFlowTest, UnusedTagsOfAWithdrawnSiteAreReportedWithdrawn) {
  SetUpChain();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  auto withdraw = Body();
  withdraw.mutable_withdraw_site_tags()->set_site_id("CD-1");
  withdraw.mutable_withdraw_site_tags()->set_reason("tags sold to smugglers");
  ExpectOk(Commit(withdraw, regulator_));
  EXPECT_EQ(TagOf("T0000002").status(), v1::TAG_STATUS_WITHDRAWN);
  EXPECT_EQ(TagOf("T0000001").status(), v1::TAG_STATUS_USED);
  EXPECT_EQ(TagOf("P0000001").status(), v1::TAG_STATUS_ALLOCATED);  // a processor tag: no site
  auto restore = Body();
  restore.mutable_restore_site_tags()->set_site_id("CD-1");
  restore.mutable_restore_site_tags()->set_reason("new committee");
  ExpectOk(Commit(restore, regulator_));
  ExpectOk(Allocate("CD-1", agent_, "T", 11, 2));
  EXPECT_EQ(TagOf("T0000011").status(), v1::TAG_STATUS_ALLOCATED);
  EXPECT_EQ(TagOf("T0000002").status(), v1::TAG_STATUS_WITHDRAWN);  // withdrawn for good
  // Stored as allocated: the withdrawal is derived, never written to each tag.
  auto stored = State()->GetTag("T0000002");
  ASSERT_TRUE(stored && stored->has_value());
  EXPECT_EQ((*stored)->status(), v1::TAG_STATUS_ALLOCATED);
}

}  // namespace
}  // namespace minetrace::ledger::testing
