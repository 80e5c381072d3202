// The chain-of-custody queries of the Ledger: anomalies kept as flag records, admission of
// flagged refusals, provenance, incidents, flags, shipments, inspections, site production and
// holdings, with their filters, pages and refusals.
#include "minetrace/ledger/ledger.h"
#include "minetrace/ledger/proof/custody_event.h"
#include "minetrace/ledger/rules.h"
#include "test_fixture.h"

namespace minetrace::ledger::testing {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

class QueryTest : public LedgerFixture {
 protected:
  // All flags matching `filter`, reading page after page of `page_size`.
  std::vector<v1::Flag> AllFlags(const FlagFilter& filter, size_t page_size = 100) {
    std::vector<v1::Flag> out;
    std::string token;
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = ledger_->ListFlags(filter, token, page_size);
      EXPECT_TRUE(page) << page.error().ToString();
      if (!page) break;
      EXPECT_LE(page->items.size(), page_size);
      for (auto& f : page->items) out.push_back(std::move(f));
      token = page->next_page_token;
      if (token.empty()) break;
    }
    return out;
  }

  // A lot recorded, dispatched to the trader and received by it with `received_grams`.
  void LotToTrader(const std::string& lot, uint64_t grams, uint64_t received_grams) {
    ExpectOk(RecordLot(agent_, lot, "CD-1", grams));
    ExpectOk(Dispatch(coop_, {lot}, trader_));
    ExpectOk(Receive(trader_, lot, received_grams));
  }
};

// ---- flags ----

TEST_F(QueryTest, AnomalyOfAnOkReceiptBecomesAFlagRecord) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectOk(Dispatch(coop_, {"T0000001"}, trader_));
  v1::Receipt r = Receive(trader_, "T0000001", 40000);  // 20 % light: beyond tolerance
  ExpectOk(r);
  ASSERT_EQ(r.anomalies_size(), 1);
  auto flags = AllFlags({});
  ASSERT_EQ(flags.size(), 1u);
  const v1::Flag& f = flags[0];
  EXPECT_EQ(f.flag_id(), "FLG-000000001");
  EXPECT_EQ(f.kind(), "receipt_weight_mismatch");
  EXPECT_EQ(f.detail(), r.anomalies(0).detail());
  EXPECT_EQ(f.lot_id(), "T0000001");
  EXPECT_EQ(f.member_key(), KeyStr(trader_));  // the signer: the anomaly names no member
  EXPECT_EQ(f.tx_id(), r.tx_id());
  EXPECT_EQ(f.height(), r.height());
  EXPECT_EQ(f.leaf_index(), r.leaf_index());
  EXPECT_EQ(f.raised_at_ms(), r.block_time_ms());
  EXPECT_EQ(f.tx_status(), v1::TX_STATUS_OK);
  EXPECT_TRUE(f.incident_id().empty());
}

TEST_F(QueryTest, LateUploadFlagNamesTheSigner) {
  // Signed offline nine days before it reached the ledger.
  auto b = Body(now_ms_ - 9 * kDayMs);
  auto* a = b.mutable_register_member();
  a->set_member_key(KeyStr(agent_));
  a->set_name("agent");
  a->add_roles(v1::ROLE_AGENT);
  v1::Receipt r = Commit(b, admin_);
  ExpectOk(r);
  auto flags = AllFlags({"late_upload", "", "", ""});
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].member_key(), KeyStr(admin_));
  EXPECT_NE(flags[0].detail().find("days"), std::string::npos) << flags[0].detail();
  EXPECT_TRUE(flags[0].lot_id().empty());
}

TEST_F(QueryTest, FlagsOfOneBlockAreNumberedInReceiptThenAnomalyOrder) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 50000));
  ExpectOk(RecordLot(agent_, "T0000002", "CD-1", 50000));
  ExpectOk(Dispatch(coop_, {"T0000001", "T0000002"}, trader_));
  // One tx receiving both lots light (two anomalies), then a late upload, in one block.
  auto receive = Body();
  for (const char* lot : {"T0000002", "T0000001"}) {
    auto* r = receive.mutable_receive_lots()->add_lots();
    r->set_lot_id(lot);
    r->set_weight_grams(10000);
  }
  auto late = Body(now_ms_ - 8 * kDayMs);
  auto* m = late.mutable_register_member();
  m->set_member_key(KeyStr(stranger_));
  m->set_name("late");
  m->add_roles(v1::ROLE_TRADER);
  auto block = Execute({proof::SignTx(receive, trader_), proof::SignTx(late, admin_)});
  ASSERT_TRUE(block) << block.error().ToString();
  ASSERT_EQ(block->txs.size(), 2u);
  auto flags = AllFlags({});
  ASSERT_EQ(flags.size(), 3u);
  EXPECT_EQ(flags[0].flag_id(), "FLG-000000001");
  EXPECT_EQ(flags[0].lot_id(), "T0000002");
  EXPECT_EQ(flags[1].flag_id(), "FLG-000000002");
  EXPECT_EQ(flags[1].lot_id(), "T0000001");
  EXPECT_EQ(flags[2].flag_id(), "FLG-000000003");
  EXPECT_EQ(flags[2].kind(), "late_upload");
  EXPECT_EQ(flags[2].leaf_index(), flags[0].leaf_index() + 1);
}

TEST_F(QueryTest, ListFlagsFiltersCombineAndPage) {
  SetUpFlow();
  ExpectOk(RegisterSite("CD-2", v1::SITE_STATUS_GREEN, {v1::MINERAL_CASSITERITE}, 1));
  ExpectOk(Allocate("CD-2", agent_, "U", 1, 10));
  // Five lots at CD-2 above its 1 kg estimate: five volume flags.
  for (int i = 1; i <= 5; ++i) {
    ExpectOk(RecordLot(agent_, "U000000" + std::to_string(i), "CD-2", 5000));
  }
  LotToTrader("T0000001", 50000, 30000);  // one receipt mismatch, signed by the trader
  auto all = AllFlags({}, 2);
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].flag_id(), all[i].flag_id());

  auto volume = AllFlags({"site_volume_above_estimate", "", "", ""}, 2);
  EXPECT_EQ(volume.size(), 5u);
  auto by_lot = AllFlags({"", "U0000003", "", ""});
  ASSERT_EQ(by_lot.size(), 1u);
  EXPECT_EQ(by_lot[0].kind(), "site_volume_above_estimate");
  auto by_agent = AllFlags({"", "", "", KeyStr(agent_)}, 3);
  EXPECT_EQ(by_agent.size(), 5u);
  auto by_trader = AllFlags({"", "", "", KeyStr(trader_)});
  ASSERT_EQ(by_trader.size(), 1u);
  EXPECT_EQ(by_trader[0].kind(), "receipt_weight_mismatch");
  // AND: the trader raised no volume flag; lot U0000001 has no receipt mismatch.
  EXPECT_TRUE(AllFlags({"site_volume_above_estimate", "", "", KeyStr(trader_)}).empty());
  EXPECT_TRUE(AllFlags({"receipt_weight_mismatch", "U0000001", "", ""}).empty());
  EXPECT_TRUE(AllFlags({"no_such_kind", "", "", ""}).empty());

  auto bad = ledger_->ListFlags({}, "not hex", 10);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

// ---- provenance ----

TEST_F(QueryTest, ProvenanceOfAMineLotListsItsCustodyEvents) {
  SetUpFlow();
  LotToTrader("T0000001", 50000, 40000);
  auto p = ledger_->GetProvenance("T0000001", "");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_FALSE(p->has_shipment());
  EXPECT_FALSE(p->truncated());
  ASSERT_EQ(p->lots_size(), 1);
  const auto& entry = p->lots(0);
  EXPECT_EQ(entry.lot().lot_id(), "T0000001");
  ASSERT_EQ(entry.events_size(), 3);
  EXPECT_EQ(entry.events(0).action(), "record_mine_lot");
  EXPECT_EQ(entry.events(0).actor(), KeyStr(agent_));
  EXPECT_EQ(entry.events(0).counterparty(), KeyStr(coop_));
  EXPECT_EQ(entry.events(0).weight_grams(), 50000u);
  EXPECT_EQ(entry.events(1).action(), "dispatch_lots");
  EXPECT_EQ(entry.events(1).actor(), KeyStr(coop_));
  EXPECT_EQ(entry.events(1).counterparty(), KeyStr(trader_));
  EXPECT_EQ(entry.events(1).weight_grams(), 0u);  // a dispatch states no weight
  EXPECT_EQ(entry.events(2).action(), "receive_lots");
  EXPECT_EQ(entry.events(2).weight_grams(), 40000u);
  EXPECT_TRUE(entry.events(2).counterparty().empty());
  for (int i = 0; i < entry.events_size(); ++i) {
    const auto& e = entry.events(i);
    EXPECT_GT(e.height(), 0u);
    EXPECT_GT(e.ledger_time_ms(), 0);
    EXPECT_GT(e.device_time_ms(), 0);
    EXPECT_EQ(e.tx_id().size(), 32u);
    if (i > 0) {
      EXPECT_GT(e.height(), entry.events(i - 1).height());
    }
  }
  // The last event's receipt is the lot's last receipt.
  EXPECT_EQ(entry.events(2).receipt_hash(), entry.lot().last_receipt_hash());
  ASSERT_EQ(p->sites_size(), 1);
  EXPECT_EQ(p->sites(0).site_id(), "CD-1");
  std::set<std::string> members;
  for (const auto& m : p->members()) EXPECT_TRUE(members.insert(m.key()).second);
  EXPECT_EQ(members, (std::set<std::string>{KeyStr(agent_), KeyStr(coop_), KeyStr(trader_)}));
  ASSERT_EQ(p->flags_size(), 1);
  EXPECT_EQ(p->flags(0).kind(), "receipt_weight_mismatch");
  EXPECT_EQ(p->incidents_size(), 0);
}

// A provenance reads a subject's flag or incident index only when its record counts some:
// the counts must follow every new flag and incident, and an update must not count again.
TEST_F(QueryTest, SubjectRecordsCountTheFlagsAndIncidentsNamingThem) {
  SetUpFlow();
  ExpectOk(RegisterMember(regulator_, "ministry", {v1::ROLE_REGULATOR}));
  LotToTrader("T0000001", 50000, 40000);  // a receipt_weight_mismatch flag on the lot
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_LOT, "T0000001", 3));
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 2));
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_SITE, "CD-1", 3));
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_MEMBER, ToHex(AsBytes(KeyStr(trader_))),
                          3));
  ExpectOk(ReportIncident(coop_, v1::INCIDENT_SUBJECT_TAG, "T0000001", 3));  // not counted
  ExpectOk(UpdateIncident(regulator_, "INC-0000002", v1::INCIDENT_STATUS_UNDER_MITIGATION));

  auto lot = ledger_->GetLot("T0000001");
  ASSERT_TRUE(lot && lot->has_value());
  EXPECT_EQ((*lot)->flag_count(), 1u);
  EXPECT_EQ((*lot)->incident_count(), 1u);
  auto site = ledger_->GetMineSite("CD-1");
  ASSERT_TRUE(site && site->has_value());
  EXPECT_EQ((*site)->flag_count(), 0u);
  EXPECT_EQ((*site)->incident_count(), 2u);
  auto trader = ledger_->GetMember(KeyStr(trader_));
  ASSERT_TRUE(trader && trader->has_value());
  EXPECT_EQ((*trader)->incident_count(), 1u);
  auto coop = ledger_->GetMember(KeyStr(coop_));
  ASSERT_TRUE(coop && coop->has_value());
  EXPECT_EQ((*coop)->incident_count(), 0u);

  auto p = ledger_->GetProvenance("T0000001", "");
  ASSERT_TRUE(p) << p.error().ToString();
  ASSERT_EQ(p->flags_size(), 1);
  EXPECT_EQ(p->flags(0).kind(), "receipt_weight_mismatch");
  std::vector<std::string> incidents;
  for (const auto& i : p->incidents()) incidents.push_back(i.incident_id());
  EXPECT_EQ(incidents, (std::vector<std::string>{"INC-0000001", "INC-0000002", "INC-0000003",
                                                 "INC-0000004", "INC-0000005"}));
}

// A lot keeps its first kMaxStoredEventsPerLot events with it (v1::LotEvents); a provenance
// lists those and takes the later ones from their txs, the same events either way.
TEST_F(QueryTest, ProvenanceTakesTheEventsBeyondTheStoredOnesFromTheirTxs) {
  SetUpChain();
  LotToTrader("T0000001", 50000, 50000);
  const crypto::PrivateKey* holder = &trader_;
  const crypto::PrivateKey* other = &processor_;
  size_t events = 3;
  while (events <= kMaxStoredEventsPerLot + 1) {
    ExpectOk(Dispatch(*holder, {"T0000001"}, *other));
    ExpectOk(Receive(*other, "T0000001", 50000));
    std::swap(holder, other);
    events += 2;
  }
  auto lot = ledger_->GetLot("T0000001");
  ASSERT_TRUE(lot && lot->has_value());
  ASSERT_EQ(static_cast<size_t>((*lot)->history_leaves_size()), events);
  auto stored = State()->GetLotEvents("T0000001");
  ASSERT_TRUE(stored && stored->has_value());
  EXPECT_EQ(static_cast<size_t>((*stored)->events_size()), kMaxStoredEventsPerLot);

  auto p = ledger_->GetProvenance("T0000001", "");
  ASSERT_TRUE(p) << p.error().ToString();
  ASSERT_EQ(p->lots_size(), 1);
  const auto& entry = p->lots(0);
  auto history = ledger_->GetLotHistory(**lot, events);
  ASSERT_TRUE(history) << history.error().ToString();
  ASSERT_EQ(static_cast<size_t>(entry.events_size()), events);
  for (size_t i = 0; i < events; ++i) {
    const TxRecord& rec = (*history)[i];
    v1::TxBody body;
    ASSERT_TRUE(body.ParseFromString(rec.tx.body()));
    EXPECT_EQ(entry.events(static_cast<int>(i)).SerializeAsString(),
              proof::CustodyEventOf(body, rec.tx.signer(), rec.receipt, rec.receipt_hash,
                                    "T0000001")
                  .SerializeAsString())
        << "event " << i;
  }
  EXPECT_EQ(entry.events(static_cast<int>(events) - 1).action(), "receive_lots");
}

TEST_F(QueryTest, ProvenanceRefusesBothOrNeitherIdAndUnknownIds) {
  SetUpFlow();
  auto neither = ledger_->GetProvenance("", "");
  ASSERT_FALSE(neither);
  EXPECT_EQ(neither.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(neither.error().message.find("exactly one of lot_id and shipment_id"),
            std::string::npos);
  auto both = ledger_->GetProvenance("T0000001", "S-1");
  ASSERT_FALSE(both);
  EXPECT_EQ(both.error().code, ErrorCode::kInvalidArgument);
  auto lot = ledger_->GetProvenance("T0000009", "");
  ASSERT_FALSE(lot);
  EXPECT_EQ(lot.error().code, ErrorCode::kNotFound);
  EXPECT_NE(lot.error().message.find("no lot 'T0000009'"), std::string::npos);
  auto shipment = ledger_->GetProvenance("", "S-1");
  ASSERT_FALSE(shipment);
  EXPECT_EQ(shipment.error().code, ErrorCode::kNotFound);
  EXPECT_NE(shipment.error().message.find("no shipment 'S-1'"), std::string::npos);
}

// ---- site production ----

TEST_F(QueryTest, SiteProductionCountsEveryMonthAgainstTheEstimate) {
  SetUpFlow();
  ExpectOk(RegisterSite("CD-2", v1::SITE_STATUS_GREEN, {v1::MINERAL_CASSITERITE}, 60));
  ExpectOk(Allocate("CD-2", agent_, "U", 1, 10));
  ExpectOk(RecordLot(agent_, "U0000001", "CD-2", 40000));
  int64_t first_month = now_ms_ / kProductionMonthMs;
  // Two months later (the site was inspected at registration: still green).
  now_ms_ = (first_month + 2) * kProductionMonthMs + 1000;
  ExpectOk(RecordLot(agent_, "U0000002", "CD-2", 40000));
  ExpectOk(RecordLot(agent_, "U0000003", "CD-2", 30000));

  auto p = ledger_->GetSiteProduction("CD-2", 0, 0);  // registration to the head
  ASSERT_TRUE(p && p->has_value()) << (p ? "" : p.error().ToString());
  const v1::SiteProduction& sp = **p;
  EXPECT_EQ(sp.site().site_id(), "CD-2");
  ASSERT_EQ(sp.months_size(), 3);
  EXPECT_EQ(sp.months(0).month(), static_cast<uint64_t>(first_month));
  EXPECT_EQ(sp.months(0).start_ms(), first_month * kProductionMonthMs);
  EXPECT_EQ(sp.months(0).tagged_grams(), 40000u);
  EXPECT_FALSE(sp.months(0).above_estimate());
  EXPECT_EQ(sp.months(1).tagged_grams(), 0u);  // zeros are listed
  EXPECT_EQ(sp.months(2).tagged_grams(), 70000u);
  EXPECT_TRUE(sp.months(2).above_estimate());
  for (const auto& m : sp.months()) EXPECT_EQ(m.estimate_grams(), 60000u);

  // An explicit range of one month.
  auto one = ledger_->GetSiteProduction("CD-2", (first_month + 2) * kProductionMonthMs,
                                        (first_month + 2) * kProductionMonthMs + 5);
  ASSERT_TRUE(one && one->has_value());
  ASSERT_EQ((*one)->months_size(), 1);
  EXPECT_EQ((*one)->months(0).tagged_grams(), 70000u);
}

TEST_F(QueryTest, SiteProductionRefusesLongOrBackwardRangesAndUnknownSite) {
  SetUpFlow();
  int64_t from = kGenesisMs;
  auto ok = ledger_->GetSiteProduction("CD-1", from, from + 119 * kProductionMonthMs);
  EXPECT_TRUE(ok && ok->has_value());
  auto too_long = ledger_->GetSiteProduction("CD-1", from, from + 121 * kProductionMonthMs);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(too_long.error().message.find("at most 120 months"), std::string::npos)
      << too_long.error().message;
  auto backward = ledger_->GetSiteProduction("CD-1", from, from - 1);
  ASSERT_FALSE(backward);
  EXPECT_EQ(backward.error().code, ErrorCode::kInvalidArgument);
  auto negative = ledger_->GetSiteProduction("CD-1", -5, 0);
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().code, ErrorCode::kInvalidArgument);
  auto unknown = ledger_->GetSiteProduction("CD-404", 0, 0);
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(unknown->has_value());
}

// ---- holdings ----

TEST_F(QueryTest, HoldingsCountLotsHeldAndInTransitToTheMember) {
  SetUpFlow();
  ExpectOk(RecordLot(agent_, "T0000001", "CD-1", 10000));
  ExpectOk(RecordLot(agent_, "T0000002", "CD-1", 20000));
  ExpectOk(RecordLot(agent_, "T0000003", "CD-1", 40000));
  ExpectOk(Dispatch(coop_, {"T0000002", "T0000003"}, trader_));
  ExpectOk(Receive(trader_, "T0000003", 40000));

  auto coop = ledger_->GetHoldings(KeyStr(coop_));
  ASSERT_TRUE(coop && coop->has_value());
  EXPECT_EQ((*coop)->member().key(), KeyStr(coop_));
  EXPECT_EQ((*coop)->balance().member_key(), KeyStr(coop_));
  EXPECT_EQ((*coop)->held_lots(), 1u);
  EXPECT_EQ((*coop)->held_grams(), 10000u);
  EXPECT_EQ((*coop)->in_transit_to_lots(), 0u);
  EXPECT_FALSE((*coop)->truncated());

  auto trader = ledger_->GetHoldings(KeyStr(trader_));
  ASSERT_TRUE(trader && trader->has_value());
  EXPECT_EQ((*trader)->held_lots(), 1u);
  EXPECT_EQ((*trader)->held_grams(), 40000u);
  EXPECT_EQ((*trader)->in_transit_to_lots(), 1u);
  EXPECT_EQ((*trader)->in_transit_to_grams(), 20000u);

  auto unknown = ledger_->GetHoldings(KeyStr(stranger_));
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(unknown->has_value());
}

// ---- records not yet made: empty answers and refusals ----

TEST_F(QueryTest, EmptyListsAndUnknownRecords) {
  SetUpFlow();
  auto inspections = ledger_->ListInspections("CD-1");
  ASSERT_TRUE(inspections && inspections->has_value());
  EXPECT_TRUE((*inspections)->empty());
  auto no_site = ledger_->ListInspections("CD-404");
  ASSERT_TRUE(no_site);
  EXPECT_FALSE(no_site->has_value());
  auto incident = ledger_->GetIncident("INC-0000001");
  ASSERT_TRUE(incident);
  EXPECT_FALSE(incident->has_value());
  auto shipment = ledger_->GetShipment("S-1");
  ASSERT_TRUE(shipment);
  EXPECT_FALSE(shipment->has_value());
  auto incidents = ledger_->ListIncidents({}, "", 10);
  ASSERT_TRUE(incidents);
  EXPECT_TRUE(incidents->items.empty());
  EXPECT_TRUE(incidents->next_page_token.empty());
  auto shipments = ledger_->ListShipments({KeyStr(trader_), v1::SHIPMENT_STATUS_FORMED}, "", 10);
  ASSERT_TRUE(shipments);
  EXPECT_TRUE(shipments->items.empty());
}

TEST_F(QueryTest, ListIncidentsRefusesHalfASubject) {
  IncidentFilter only_kind;
  only_kind.subject_kind = v1::INCIDENT_SUBJECT_SITE;
  auto a = ledger_->ListIncidents(only_kind, "", 10);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(a.error().message.find("give both or neither"), std::string::npos);
  IncidentFilter only_id;
  only_id.subject_id = "CD-1";
  auto b = ledger_->ListIncidents(only_id, "", 10);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace minetrace::ledger::testing
