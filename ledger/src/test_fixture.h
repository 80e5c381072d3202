// A real Ledger on a temporary RocksDB directory, with keys for each role and helpers that
// sign a body and commit it as its own block. Shared by the ledger tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "minetrace/ledger/ledger.h"
#include "minetrace/ledger/proof/tx.h"
#include "minetrace/ledger/rules.h"

namespace minetrace::ledger::testing {

inline std::filesystem::path FreshDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("minetrace-" + name + "-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::random_device{}()));
  std::filesystem::remove_all(dir);
  return dir;
}

inline crypto::PrivateKey KeyFromSeed(uint8_t seed) {
  Bytes secret(32, 0);
  secret[31] = seed;
  secret[0] = 0x11;
  return *crypto::PrivateKey::FromBytes(secret);
}

inline std::string KeyStr(const crypto::PrivateKey& k) {
  return std::string(k.public_key().begin(), k.public_key().end());
}

constexpr int64_t kGenesisMs = 1'790'000'000'000;  // 2026-09

class LedgerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir("ledger");
    genesis_.set_chain_id("test-chain");
    genesis_.set_genesis_time_ms(kGenesisMs);
    auto* v = genesis_.add_validators();
    v->set_key(KeyStr(validator_));
    v->set_name("validator-0");
    auto* a = genesis_.add_administrators();
    a->set_key(KeyStr(admin_));
    a->set_name("secretariat");
    Reopen();
  }
  void TearDown() override {
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    ledger_.reset();
    auto l = Ledger::Open(dir_, genesis_);
    ASSERT_TRUE(l) << l.error().ToString();
    ledger_ = std::move(*l);
  }

  v1::TxBody Body(int64_t device_ms = 0) {
    v1::TxBody b;
    b.set_chain_id("test-chain");
    b.set_nonce(++nonce_);
    b.set_created_at_ms(device_ms != 0 ? device_ms : now_ms_);
    return b;
  }

  // Signs and commits `body` as one block at now_ms_; returns its receipt.
  v1::Receipt Commit(const v1::TxBody& body, const crypto::PrivateKey& signer) {
    auto tx = proof::SignTx(body, signer);
    auto block = Execute({tx});
    EXPECT_TRUE(block) << block.error().ToString();
    if (!block) return {};
    now_ms_ += 1000;
    return block->txs.at(0).receipt;
  }

  // Executes `txs` as the next block at now_ms_, verifying every signature.
  Result<CommittedBlock> Execute(std::vector<v1::SignedTx> txs) {
    BlockToExecute block;
    block.height = ledger_->head().height() + 1;
    block.round = block.height;
    block.time_ms = now_ms_;
    block.proposer_key = KeyStr(validator_);
    block.txs = std::move(txs);
    return ledger_->ExecuteAndCommit(block, validator_,
                                     [](const Hash32&, const v1::SignedTx&) { return false; });
  }

  void ExpectOk(const v1::Receipt& r) {
    EXPECT_EQ(r.status(), v1::TX_STATUS_OK) << r.error_code() << ": " << r.reason();
  }
  void ExpectRefused(const v1::Receipt& r, const std::string& code, const std::string& words) {
    EXPECT_EQ(r.status(), v1::TX_STATUS_FAILED);
    EXPECT_EQ(r.error_code(), code) << r.reason();
    EXPECT_NE(r.reason().find(words), std::string::npos) << r.reason();
  }

  v1::Receipt RegisterMember(const crypto::PrivateKey& who, const std::string& name,
                             std::initializer_list<v1::Role> roles) {
    auto b = Body();
    auto* a = b.mutable_register_member();
    a->set_member_key(KeyStr(who));
    a->set_name(name);
    for (auto r : roles) a->add_roles(r);
    a->set_country("CD");
    return Commit(b, admin_);
  }

  v1::Receipt RegisterSite(const std::string& id, v1::SiteStatus status,
                           std::initializer_list<v1::Mineral> minerals = {v1::MINERAL_CASSITERITE},
                           uint64_t estimate_kg = 100000) {
    auto b = Body();
    auto* a = b.mutable_register_mine_site();
    a->set_site_id(id);
    a->set_name("Site " + id);
    a->set_country("CD");
    for (auto m : minerals) a->add_minerals(m);
    a->set_status(status);
    a->set_production_estimate_kg_per_month(estimate_kg);
    return Commit(b, admin_);
  }

  v1::Receipt Allocate(const std::string& site, const crypto::PrivateKey& agent,
                       const std::string& prefix, uint64_t first, uint32_t count) {
    auto b = Body();
    auto* a = b.mutable_allocate_tags();
    a->set_site_id(site);
    a->set_agent_key(KeyStr(agent));
    a->set_prefix(prefix);
    a->set_first(first);
    a->set_count(count);
    return Commit(b, admin_);
  }

  v1::Receipt RecordLot(const crypto::PrivateKey& agent, const std::string& tag,
                        const std::string& site, uint64_t grams,
                        v1::Mineral mineral = v1::MINERAL_CASSITERITE) {
    auto b = Body();
    auto* a = b.mutable_record_mine_lot();
    a->set_tag_id(tag);
    a->set_site_id(site);
    a->set_mineral(mineral);
    a->set_weight_grams(grams);
    a->set_grade_basis_points(6500);
    a->set_producer_key(KeyStr(coop_));
    return Commit(b, agent);
  }

  v1::Receipt Dispatch(const crypto::PrivateKey& from, std::initializer_list<std::string> lots,
                       const crypto::PrivateKey& to, int64_t device_ms = 0) {
    auto b = Body(device_ms);
    auto* a = b.mutable_dispatch_lots();
    for (const auto& l : lots) a->add_lot_ids(l);
    a->set_receiver_key(KeyStr(to));
    return Commit(b, from);
  }

  v1::Receipt Receive(const crypto::PrivateKey& who, const std::string& lot, uint64_t grams) {
    auto b = Body();
    auto* r = b.mutable_receive_lots()->add_lots();
    r->set_lot_id(lot);
    r->set_weight_grams(grams);
    return Commit(b, who);
  }

  // Members and a green site with tags T0000001..T0000010 for agent_.
  void SetUpFlow() {
    ExpectOk(RegisterMember(agent_, "agent", {v1::ROLE_AGENT}));
    ExpectOk(RegisterMember(coop_, "coop", {v1::ROLE_COOPERATIVE}));
    ExpectOk(RegisterMember(trader_, "trader", {v1::ROLE_TRADER}));
    ExpectOk(RegisterSite("CD-1", v1::SITE_STATUS_GREEN));
    ExpectOk(Allocate("CD-1", agent_, "T", 1, 10));
  }

  // ---- issue 5: the rest of the chain of custody ----

  // A read-only view of committed state, for records the Ledger has no getter for.
  std::unique_ptr<StateView> State() { return ledger_->NewPendingState(); }
  v1::Shipment ShipmentOf(const std::string& id) {
    auto s = State()->GetShipment(id);
    EXPECT_TRUE(s && s->has_value()) << id;
    return s && s->has_value() ? **s : v1::Shipment();
  }
  v1::Incident IncidentOf(const std::string& id) {
    auto i = State()->GetIncident(id);
    EXPECT_TRUE(i && i->has_value()) << id;
    return i && i->has_value() ? **i : v1::Incident();
  }
  v1::MassBalance BalanceOf(const crypto::PrivateKey& who) {
    auto b = State()->GetMassBalance(KeyStr(who));
    EXPECT_TRUE(b);
    return b ? *b : v1::MassBalance();
  }
  v1::Lot LotOf(const std::string& id) {
    auto l = ledger_->GetLot(id);
    EXPECT_TRUE(l && l->has_value()) << id;
    return l && l->has_value() ? **l : v1::Lot();
  }

  // Runs `body` through the rules alone, on top of committed state, as the next block would
  // (nothing is committed): for the anomalies a refusal raises.
  struct Verdict {
    Result<TxEffects> effects;
    std::vector<v1::Anomaly> refusal_anomalies;
  };
  Verdict Try(const v1::TxBody& body, const crypto::PrivateKey& signer) {
    auto view = State();
    BlockContext ctx{"test-chain", ledger_->head().height() + 1, now_ms_};
    Verdict v{Result<TxEffects>(TxEffects{}), {}};
    v.effects = ExecuteTx(*view, ctx, body, KeyStr(signer), &v.refusal_anomalies);
    return v;
  }

  v1::Receipt AllocateProcessorTags(const crypto::PrivateKey& processor, const std::string& prefix,
                                    uint64_t first, uint32_t count) {
    auto b = Body();
    auto* a = b.mutable_allocate_tags();
    a->set_agent_key(KeyStr(processor));
    a->set_prefix(prefix);
    a->set_first(first);
    a->set_count(count);
    a->set_kind(v1::TAG_KIND_PROCESSOR);
    return Commit(b, admin_);
  }

  struct Output {
    std::string tag;
    uint64_t grams;
    uint32_t grade_bp = 6500;
  };
  v1::TxBody ProcessBody(v1::ProcessingKind kind, std::initializer_list<std::string> inputs,
                         std::initializer_list<Output> outputs) {
    auto b = Body();
    auto* a = b.mutable_process_lots();
    a->set_kind(kind);
    for (const auto& in : inputs) a->add_input_lot_ids(in);
    for (const auto& o : outputs) {
      auto* out = a->add_outputs();
      out->set_tag_id(o.tag);
      out->set_weight_grams(o.grams);
      out->set_grade_basis_points(o.grade_bp);
    }
    return b;
  }
  v1::Receipt Process(const crypto::PrivateKey& who, v1::ProcessingKind kind,
                      std::initializer_list<std::string> inputs,
                      std::initializer_list<Output> outputs) {
    return Commit(ProcessBody(kind, inputs, outputs), who);
  }

  v1::Receipt FormShipment(const crypto::PrivateKey& who, const std::string& id,
                           std::initializer_list<std::string> lots) {
    auto b = Body();
    auto* a = b.mutable_form_shipment();
    a->set_shipment_id(id);
    for (const auto& l : lots) a->add_lot_ids(l);
    a->set_destination_country("MY");
    return Commit(b, who);
  }
  v1::Receipt Certify(const crypto::PrivateKey& who, const std::string& id,
                      const std::string& number) {
    auto b = Body();
    auto* a = b.mutable_review_shipment();
    a->set_shipment_id(id);
    a->set_issue(true);
    a->set_certificate_number(number);
    a->set_certificate_date_ms(now_ms_ - 1000);
    return Commit(b, who);
  }
  v1::Receipt RefuseCertificate(const crypto::PrivateKey& who, const std::string& id,
                                const std::string& reason) {
    auto b = Body();
    auto* a = b.mutable_review_shipment();
    a->set_shipment_id(id);
    a->set_issue(false);
    a->set_reason(reason);
    return Commit(b, who);
  }
  v1::Receipt DispatchShipment(const crypto::PrivateKey& who, const std::string& id,
                               const crypto::PrivateKey& smelter) {
    auto b = Body();
    b.mutable_dispatch_shipment()->set_shipment_id(id);
    b.mutable_dispatch_shipment()->set_smelter_key(KeyStr(smelter));
    return Commit(b, who);
  }
  v1::Receipt ReceiveShipment(const crypto::PrivateKey& who, const std::string& id,
                              uint64_t grams) {
    auto b = Body();
    b.mutable_receive_shipment()->set_shipment_id(id);
    b.mutable_receive_shipment()->set_weight_grams(grams);
    return Commit(b, who);
  }
  v1::Receipt CancelShipment(const crypto::PrivateKey& who, const std::string& id,
                             const std::string& reason = "buyer withdrew") {
    auto b = Body();
    b.mutable_cancel_shipment()->set_shipment_id(id);
    b.mutable_cancel_shipment()->set_reason(reason);
    return Commit(b, who);
  }

  v1::Receipt ReportIncident(const crypto::PrivateKey& who, v1::IncidentSubjectKind kind,
                             const std::string& subject, uint32_t level = 1,
                             v1::IncidentCategory category = v1::INCIDENT_CATEGORY_ARMED_GROUPS) {
    auto b = Body();
    auto* a = b.mutable_report_incident();
    a->set_subject_kind(kind);
    a->set_subject_id(subject);
    a->set_category(category);
    a->set_level(level);
    a->set_description("armed men seen taxing diggers");
    return Commit(b, who);
  }
  v1::Receipt UpdateIncident(const crypto::PrivateKey& who, const std::string& id,
                             v1::IncidentStatus status,
                             v1::IncidentOutcome outcome = v1::INCIDENT_OUTCOME_UNSPECIFIED,
                             const std::string& note = "") {
    auto b = Body();
    auto* a = b.mutable_update_incident();
    a->set_incident_id(id);
    a->set_status(status);
    a->set_outcome(outcome);
    a->set_note(note);
    return Commit(b, who);
  }
  // Open -> resolved (mitigated), by the regulator: the incident stops blocking exports.
  void ResolveIncident(const std::string& id) {
    ExpectOk(UpdateIncident(regulator_, id, v1::INCIDENT_STATUS_RESOLVED,
                            v1::INCIDENT_OUTCOME_MITIGATED, "armed group left the site"));
  }

  v1::Receipt SetAuditFlag(const crypto::PrivateKey& who, const crypto::PrivateKey& exporter,
                           v1::AuditFlag flag, const std::string& reason = "RMAP audit") {
    auto b = Body();
    auto* a = b.mutable_set_audit_flag();
    a->set_member_key(KeyStr(exporter));
    a->set_flag(flag);
    a->set_reason(reason);
    return Commit(b, who);
  }

  // SetUpFlow plus the rest of the chain: processor (tags P0000001..P0000010), exporter,
  // certifier, smelter and regulator.
  void SetUpChain() {
    SetUpFlow();
    ExpectOk(RegisterMember(processor_, "processor", {v1::ROLE_PROCESSOR}));
    ExpectOk(RegisterMember(exporter_, "exporter", {v1::ROLE_EXPORTER}));
    ExpectOk(RegisterMember(certifier_, "ceec", {v1::ROLE_CERTIFIER}));
    ExpectOk(RegisterMember(smelter_, "smelter", {v1::ROLE_SMELTER}));
    ExpectOk(RegisterMember(regulator_, "ministry", {v1::ROLE_REGULATOR}));
    ExpectOk(AllocateProcessorTags(processor_, "P", 1, 10));
  }
  // Records mine lot `tag` (50 kg unless told) at CD-1 and moves it coop -> `to`.
  void LotTo(const std::string& tag, const crypto::PrivateKey& to, uint64_t grams = 50000) {
    ExpectOk(RecordLot(agent_, tag, "CD-1", grams));
    ExpectOk(Dispatch(coop_, {tag}, to));
    ExpectOk(Receive(to, tag, grams));
  }

  std::filesystem::path dir_;
  v1::Genesis genesis_;
  std::unique_ptr<Ledger> ledger_;
  crypto::PrivateKey validator_ = KeyFromSeed(1);
  crypto::PrivateKey admin_ = KeyFromSeed(2);
  crypto::PrivateKey agent_ = KeyFromSeed(3);
  crypto::PrivateKey coop_ = KeyFromSeed(4);
  crypto::PrivateKey trader_ = KeyFromSeed(5);
  crypto::PrivateKey stranger_ = KeyFromSeed(6);
  crypto::PrivateKey agent2_ = KeyFromSeed(7);
  crypto::PrivateKey processor_ = KeyFromSeed(8);
  crypto::PrivateKey exporter_ = KeyFromSeed(9);
  crypto::PrivateKey certifier_ = KeyFromSeed(10);
  crypto::PrivateKey smelter_ = KeyFromSeed(11);
  crypto::PrivateKey regulator_ = KeyFromSeed(12);
  int64_t now_ms_ = kGenesisMs + 1000;
  uint64_t nonce_ = 0;
};

}  // namespace minetrace::ledger::testing
