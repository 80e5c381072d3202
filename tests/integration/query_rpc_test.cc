// Goal: the chain-of-custody queries of QueryService answer over gRPC from a real node:
// provenance of a lot with its events, a flag raised by execution, site production, holdings,
// and INVALID_ARGUMENT / NOT_FOUND with messages a person can act on.
// Method: one real minetrace-node on loopback; the test signs as the genesis administrator and
// members it registers, commits a mine lot that is dispatched and received light (a
// receipt_weight_mismatch flag), then calls the new RPCs.
#include <gtest/gtest.h>

#include "minetrace/ledger/proof/tx.h"
#include "node_process.h"

namespace minetrace::testing {
namespace {

crypto::PrivateKey Member(uint8_t seed) {
  Bytes secret(32, 0x44);
  secret[31] = seed;
  return *crypto::PrivateKey::FromBytes(secret);
}

std::string KeyStr(const crypto::PrivateKey& k) {
  return std::string(k.public_key().begin(), k.public_key().end());
}

class QueryRpc : public ::testing::Test {
 protected:
  void SetUp() override {
    node_.Start();
    tx_ = node_.TxStub();
    q_ = node_.QueryStub();
  }

  v1::TxBody Body() {
    v1::TxBody b;
    b.set_chain_id(node_.chain_id());
    b.set_nonce(++nonce_);
    b.set_created_at_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
    return b;
  }

  // Submits and waits for the commit; returns the receipt.
  v1::Receipt Commit(const v1::TxBody& body, const crypto::PrivateKey& signer) {
    v1::SubmitTxRequest req;
    *req.mutable_tx() = ledger::proof::SignTx(body, signer);
    v1::SubmitTxResponse resp;
    auto ctx = Ctx();
    grpc::Status s = tx_->SubmitTx(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) return {};
    v1::WaitTxRequest w;
    w.set_tx_id(resp.tx_id());
    v1::TxWithReceipt r;
    auto wctx = Ctx();
    grpc::Status ws = tx_->WaitTx(wctx.get(), w, &r);
    EXPECT_TRUE(ws.ok()) << ws.error_message();
    return r.receipt();
  }

  void ExpectOk(const v1::Receipt& r) {
    EXPECT_EQ(r.status(), v1::TX_STATUS_OK) << r.error_code() << ": " << r.reason();
  }

  void ExpectCode(const grpc::Status& s, grpc::StatusCode code, const std::string& words) {
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_NE(s.error_message().find(words), std::string::npos) << s.error_message();
  }

  void Register(const crypto::PrivateKey& who, v1::Role role) {
    auto b = Body();
    auto* a = b.mutable_register_member();
    a->set_member_key(KeyStr(who));
    a->set_name("member-" + std::to_string(who.public_key()[0]));
    a->add_roles(role);
    a->set_country("CD");
    ExpectOk(Commit(b, node_.admin()));
  }

  // Agent, cooperative and trader; site CD-1 with tags; lot T0000001 of 50 kg received as 40 kg.
  void LotReceivedLight() {
    Register(agent_, v1::ROLE_AGENT);
    Register(coop_, v1::ROLE_COOPERATIVE);
    Register(trader_, v1::ROLE_TRADER);
    auto site = Body();
    auto* s = site.mutable_register_mine_site();
    s->set_site_id("CD-1");
    s->set_name("Site CD-1");
    s->set_country("CD");
    s->add_minerals(v1::MINERAL_CASSITERITE);
    s->set_status(v1::SITE_STATUS_GREEN);
    s->set_production_estimate_kg_per_month(1000);
    ExpectOk(Commit(site, node_.admin()));
    auto tags = Body();
    auto* t = tags.mutable_allocate_tags();
    t->set_site_id("CD-1");
    t->set_agent_key(KeyStr(agent_));
    t->set_prefix("T");
    t->set_first(1);
    t->set_count(5);
    ExpectOk(Commit(tags, node_.admin()));
    auto lot = Body();
    auto* l = lot.mutable_record_mine_lot();
    l->set_tag_id("T0000001");
    l->set_site_id("CD-1");
    l->set_mineral(v1::MINERAL_CASSITERITE);
    l->set_weight_grams(50000);
    l->set_grade_basis_points(6000);
    l->set_producer_key(KeyStr(coop_));
    ExpectOk(Commit(lot, agent_));
    auto dispatch = Body();
    dispatch.mutable_dispatch_lots()->add_lot_ids("T0000001");
    dispatch.mutable_dispatch_lots()->set_receiver_key(KeyStr(trader_));
    ExpectOk(Commit(dispatch, coop_));
    auto receive = Body();
    auto* r = receive.mutable_receive_lots()->add_lots();
    r->set_lot_id("T0000001");
    r->set_weight_grams(40000);
    v1::Receipt received = Commit(receive, trader_);
    ExpectOk(received);
    EXPECT_EQ(received.anomalies_size(), 1);
  }

  NodeProcess node_;
  std::unique_ptr<v1::TxService::Stub> tx_;
  std::unique_ptr<v1::QueryService::Stub> q_;
  crypto::PrivateKey agent_ = Member(1);
  crypto::PrivateKey coop_ = Member(2);
  crypto::PrivateKey trader_ = Member(3);
  uint64_t nonce_ = 0;
};

TEST_F(QueryRpc, ProvenanceFlagsProductionAndHoldingsOfACommittedLot) {
  LotReceivedLight();

  v1::GetProvenanceRequest preq;
  preq.set_lot_id("T0000001");
  v1::Provenance p;
  auto ctx = Ctx();
  grpc::Status s = q_->GetProvenance(ctx.get(), preq, &p);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(p.lots_size(), 1);
  ASSERT_EQ(p.lots(0).events_size(), 3);
  EXPECT_EQ(p.lots(0).events(0).action(), "record_mine_lot");
  EXPECT_EQ(p.lots(0).events(1).action(), "dispatch_lots");
  EXPECT_EQ(p.lots(0).events(2).action(), "receive_lots");
  EXPECT_EQ(p.lots(0).events(2).weight_grams(), 40000u);
  ASSERT_EQ(p.sites_size(), 1);
  EXPECT_EQ(p.members_size(), 3);
  ASSERT_EQ(p.flags_size(), 1);
  EXPECT_EQ(p.flags(0).kind(), "receipt_weight_mismatch");

  v1::ListFlagsRequest freq;
  freq.set_member_key(KeyStr(trader_));
  v1::ListFlagsResponse flags;
  auto fctx = Ctx();
  s = q_->ListFlags(fctx.get(), freq, &flags);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(flags.flags_size(), 1);
  EXPECT_EQ(flags.flags(0).flag_id(), "FLG-000000001");
  EXPECT_EQ(flags.flags(0).lot_id(), "T0000001");
  EXPECT_TRUE(flags.next_page_token().empty());

  v1::GetSiteProductionRequest sreq;
  sreq.set_site_id("CD-1");
  v1::SiteProduction production;
  auto sctx = Ctx();
  s = q_->GetSiteProduction(sctx.get(), sreq, &production);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GE(production.months_size(), 1);
  EXPECT_EQ(production.months(production.months_size() - 1).tagged_grams(), 50000u);
  EXPECT_EQ(production.months(0).estimate_grams(), 1000000u);

  v1::GetHoldingsRequest hreq;
  hreq.set_member_key(KeyStr(trader_));
  v1::Holdings holdings;
  auto hctx = Ctx();
  s = q_->GetHoldings(hctx.get(), hreq, &holdings);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(holdings.held_lots(), 1u);
  EXPECT_EQ(holdings.held_grams(), 40000u);
}

// A tag used by an agent it was not allocated to: the node admits the tx (its refusal is
// evidence), it commits FAILED with the anomaly, and the flag is listed.
TEST_F(QueryRpc, FlaggedRefusalIsAdmittedCommittedFailedAndListed) {
  LotReceivedLight();
  crypto::PrivateKey other_agent = Member(4);
  Register(other_agent, v1::ROLE_AGENT);
  auto misuse = Body();
  auto* l = misuse.mutable_record_mine_lot();
  l->set_tag_id("T0000002");  // allocated to agent_
  l->set_site_id("CD-1");
  l->set_mineral(v1::MINERAL_CASSITERITE);
  l->set_weight_grams(50000);
  l->set_producer_key(KeyStr(coop_));
  v1::Receipt r = Commit(misuse, other_agent);  // Commit expects SubmitTx to succeed
  EXPECT_EQ(r.status(), v1::TX_STATUS_FAILED);
  EXPECT_EQ(r.error_code(), "PERMISSION_DENIED") << r.reason();
  ASSERT_EQ(r.anomalies_size(), 1);
  EXPECT_EQ(r.anomalies(0).kind(), "tag_off_agent");

  v1::ListFlagsRequest freq;
  freq.set_kind("tag_off_agent");
  v1::ListFlagsResponse flags;
  auto ctx = Ctx();
  grpc::Status s = q_->ListFlags(ctx.get(), freq, &flags);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(flags.flags_size(), 1);
  EXPECT_EQ(flags.flags(0).tx_status(), v1::TX_STATUS_FAILED);
  EXPECT_EQ(flags.flags(0).member_key(), KeyStr(other_agent));
  EXPECT_EQ(flags.flags(0).tag_id(), "T0000002");

  // An ordinary refusal is still turned away at admission.
  auto by_stranger = misuse;
  by_stranger.set_nonce(++nonce_);
  v1::SubmitTxRequest req;
  *req.mutable_tx() = ledger::proof::SignTx(by_stranger, Member(9));  // not a member
  v1::SubmitTxResponse resp;
  auto sctx = Ctx();
  ExpectCode(tx_->SubmitTx(sctx.get(), req, &resp), grpc::StatusCode::PERMISSION_DENIED,
             "not a registered member");

  // The tag was not used: its agent still records the lot with it.
  auto proper = misuse;
  proper.set_nonce(++nonce_);
  ExpectOk(Commit(proper, agent_));
}

TEST_F(QueryRpc, NewQueriesAnswerInvalidArgumentAndNotFound) {
  auto call = [&](auto method, const auto& req, auto* resp) {
    auto ctx = Ctx();
    return ((*q_).*method)(ctx.get(), req, resp);
  };
  v1::Provenance p;
  v1::GetProvenanceRequest neither;
  ExpectCode(call(&v1::QueryService::Stub::GetProvenance, neither, &p),
             grpc::StatusCode::INVALID_ARGUMENT, "exactly one of lot_id and shipment_id");
  v1::GetProvenanceRequest both;
  both.set_lot_id("T0000001");
  both.set_shipment_id("S-1");
  ExpectCode(call(&v1::QueryService::Stub::GetProvenance, both, &p),
             grpc::StatusCode::INVALID_ARGUMENT, "exactly one");
  v1::GetProvenanceRequest unknown_lot;
  unknown_lot.set_lot_id("NOPE");
  ExpectCode(call(&v1::QueryService::Stub::GetProvenance, unknown_lot, &p),
             grpc::StatusCode::NOT_FOUND, "no lot 'NOPE'");

  v1::ListFlagsRequest big_page;
  big_page.set_page_size(1001);
  v1::ListFlagsResponse flags;
  ExpectCode(call(&v1::QueryService::Stub::ListFlags, big_page, &flags),
             grpc::StatusCode::INVALID_ARGUMENT, "page_size is at most 1000");

  v1::GetHoldingsRequest short_key;
  short_key.set_member_key("abc");
  v1::Holdings holdings;
  ExpectCode(call(&v1::QueryService::Stub::GetHoldings, short_key, &holdings),
             grpc::StatusCode::INVALID_ARGUMENT, "32-byte public key");

  v1::GetShipmentRequest shipment;
  shipment.set_shipment_id("S-404");
  v1::Shipment sh;
  ExpectCode(call(&v1::QueryService::Stub::GetShipment, shipment, &sh), grpc::StatusCode::NOT_FOUND,
             "no shipment 'S-404'");

  v1::GetIncidentRequest incident;
  incident.set_incident_id("INC-0000404");
  v1::Incident inc;
  ExpectCode(call(&v1::QueryService::Stub::GetIncident, incident, &inc),
             grpc::StatusCode::NOT_FOUND, "no incident 'INC-0000404'");

  v1::ListIncidentsRequest half_subject;
  half_subject.set_subject_kind(v1::INCIDENT_SUBJECT_SITE);
  v1::ListIncidentsResponse incidents;
  ExpectCode(call(&v1::QueryService::Stub::ListIncidents, half_subject, &incidents),
             grpc::StatusCode::INVALID_ARGUMENT, "give both or neither");

  // A site exists for the range checks.
  auto site = Body();
  auto* s = site.mutable_register_mine_site();
  s->set_site_id("CD-9");
  s->set_name("Site CD-9");
  s->set_country("CD");
  s->add_minerals(v1::MINERAL_COLTAN);
  s->set_status(v1::SITE_STATUS_GREEN);
  ExpectOk(Commit(site, node_.admin()));
  v1::GetSiteProductionRequest too_long;
  too_long.set_site_id("CD-9");
  too_long.set_from_ms(1'700'000'000'000);
  too_long.set_to_ms(1'700'000'000'000 + 121LL * 30 * 24 * 3600 * 1000);
  v1::SiteProduction production;
  ExpectCode(call(&v1::QueryService::Stub::GetSiteProduction, too_long, &production),
             grpc::StatusCode::INVALID_ARGUMENT, "at most 120 months");
  v1::GetSiteProductionRequest no_site;
  no_site.set_site_id("CD-404");
  ExpectCode(call(&v1::QueryService::Stub::GetSiteProduction, no_site, &production),
             grpc::StatusCode::NOT_FOUND, "no mine site 'CD-404'");

  v1::ListInspectionsRequest inspections;
  inspections.set_site_id("CD-9");
  v1::ListInspectionsResponse list;
  auto ictx = Ctx();
  grpc::Status ok = q_->ListInspections(ictx.get(), inspections, &list);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(list.inspections_size(), 0);
  inspections.set_site_id("CD-404");
  ExpectCode(call(&v1::QueryService::Stub::ListInspections, inspections, &list),
             grpc::StatusCode::NOT_FOUND, "no mine site 'CD-404'");
}

}  // namespace
}  // namespace minetrace::testing
