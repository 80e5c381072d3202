// A real Ledger on a temporary RocksDB directory, with keys for each role and helpers that
// sign a body and commit it as its own block. Shared by the ledger tests.
#pragma once

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "minetrace/ledger/ledger.h"
#include "minetrace/ledger/proof/tx.h"

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
    return ledger_->ExecuteAndCommit(block, validator_, [](const Hash32&, const v1::SignedTx&) { return false; });
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
  int64_t now_ms_ = kGenesisMs + 1000;
  uint64_t nonce_ = 0;
};

}  // namespace minetrace::ledger::testing
