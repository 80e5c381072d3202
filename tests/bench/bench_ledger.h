// What the ledger benchmarks (proof_bench, growth_bench) share: a real Ledger on RocksDB with
// a genesis of 4 validators and one administrator whose keys the program holds, blocks
// committed through Ledger::ExecuteAndCommit (every receipt must be OK), and a QC of all 4
// validators over a consensus header naming the head's root, to build and verify provenance
// bundles as a node and an offline verifier do. Header-only: each benchmark is one program.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "minetrace/ledger/ledger.h"
#include "minetrace/ledger/proof/certificate.h"
#include "minetrace/ledger/proof/provenance_proof.h"
#include "minetrace/ledger/proof/tx.h"
#include "proof_bundle.h"

namespace minetrace::bench {

namespace lp = ledger::proof;
using Clock = std::chrono::steady_clock;

inline constexpr int64_t kGenesisMs = 1'790'000'000'000;
inline constexpr int64_t kBlockIntervalMs = 1000;

// The program's name in its error lines.
inline const char*& ProgramName() {
  static const char* name = "bench";
  return name;
}

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", ProgramName(), what.c_str());
  std::exit(1);
}

// A fixed key per seed, so that every run of a benchmark builds the same ledger.
inline crypto::PrivateKey KeyFromSeed(uint16_t seed) {
  Bytes secret(32, 0);
  secret[30] = static_cast<uint8_t>(seed >> 8);
  secret[31] = static_cast<uint8_t>(seed & 0xff);
  secret[0] = 0x11;
  return *crypto::PrivateKey::FromBytes(secret);
}
inline std::string KeyStr(const crypto::PrivateKey& k) {
  return std::string(k.public_key().begin(), k.public_key().end());
}
// The id of tag number `n` of a series, as AllocateTags names it (7 digits).
inline std::string TagId(const std::string& prefix, uint64_t n) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%07llu", static_cast<unsigned long long>(n));
  return prefix + digits;
}
inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The keys of the genesis: fixed, so that a node can be given the genesis of a ledger a
// benchmark filled (growth_bench --write-genesis) long after the filling run.
inline std::vector<crypto::PrivateKey> ValidatorKeys() {
  return {KeyFromSeed(1), KeyFromSeed(101), KeyFromSeed(102), KeyFromSeed(103)};
}
inline crypto::PrivateKey AdminKey() { return KeyFromSeed(2); }

// 4 validators and one administrator; no addresses (the benchmarks run no network).
inline v1::Genesis BenchGenesis(const std::string& chain_id) {
  v1::Genesis genesis;
  genesis.set_chain_id(chain_id);
  genesis.set_genesis_time_ms(kGenesisMs);
  const auto validators = ValidatorKeys();
  for (size_t i = 0; i < validators.size(); ++i) {
    auto* v = genesis.add_validators();
    v->set_key(KeyStr(validators[i]));
    v->set_name("validator-" + std::to_string(i));
  }
  auto* a = genesis.add_administrators();
  a->set_key(KeyStr(AdminKey()));
  a->set_name("secretariat");
  return genesis;
}

class BenchLedger {
 public:
  BenchLedger(const std::filesystem::path& dir, const std::string& chain_id)
      : chain_id_(chain_id), genesis_(BenchGenesis(chain_id)) {
    auto l = ledger::Ledger::Open(dir, genesis_);
    if (!l) Die(l.error().ToString());
    ledger_ = std::move(*l);
  }

  const ledger::Ledger& ledger() const { return *ledger_; }
  const v1::Genesis& genesis() const { return genesis_; }
  const std::string& chain_id() const { return chain_id_; }
  const crypto::PrivateKey& admin() const { return admin_; }
  uint64_t leaves() const { return ledger_->head().leaf_count(); }
  // The block time of the next block Commit makes (one block per kBlockIntervalMs).
  int64_t now_ms() const { return now_ms_; }

  // After opening a ledger an earlier run filled: the next block follows its head.
  void ResumeAfterHead() { now_ms_ = ledger_->head().block_time_ms() + kBlockIntervalMs; }

  // A body of this chain made at the next block's time, with a nonce of its own.
  v1::TxBody Body() {
    v1::TxBody b;
    b.set_chain_id(chain_id_);
    b.set_nonce(++nonce_);
    b.set_created_at_ms(now_ms_);
    return b;
  }

  // Commits `txs` as the next block and returns how long ExecuteAndCommit took. Every receipt
  // must be OK (a refused step would leave the ledger other than the benchmark says). With
  // `trust_signatures` the txs' signatures (made by the program) are not checked again, as a
  // node skips the check for txs it admitted.
  Clock::duration Commit(std::vector<v1::SignedTx> txs, bool trust_signatures = false) {
    ledger::BlockToExecute block;
    block.height = ledger_->head().height() + 1;
    block.round = block.height;
    block.time_ms = now_ms_;
    block.proposer_key = KeyStr(validators_[0]);
    block.txs = std::move(txs);
    const auto start = Clock::now();
    auto done = ledger_->ExecuteAndCommit(
        block, validators_[0],
        [trust_signatures](const Hash32&, const v1::SignedTx&) { return trust_signatures; });
    const auto took = Clock::now() - start;
    if (!done) Die(done.error().ToString());
    if (!done->skipped.empty()) Die("a tx was skipped: " + done->skipped[0].reason);
    for (const auto& t : done->txs) {
      if (t.receipt.status() != v1::TX_STATUS_OK) {
        Die("a tx was refused: " + t.receipt.error_code() + ": " + t.receipt.reason());
      }
    }
    now_ms_ += kBlockIntervalMs;
    return took;
  }

  // A header one height above the head naming the head's root, and a QC of all 4 validators.
  void CertifyHead() {
    const v1::LedgerInfo head = ledger_->head();
    header_ = lp::ConsensusHeader{};
    header_.epoch = 0;
    header_.round = head.height() + 1;
    header_.height = head.height() + 1;
    header_.proposer = 0;
    header_.timestamp_ms = now_ms_;
    header_.ledger_root.height = head.height();
    std::copy(head.accumulator_root().begin(), head.accumulator_root().end(),
              header_.ledger_root.accumulator_root.begin());
    header_.ledger_root.leaf_count = head.leaf_count();
    qc_ = lp::QuorumCert{};
    qc_.epoch = header_.epoch;
    qc_.round = header_.round;
    qc_.block_id = lp::ConsensusBlockId(header_);
    qc_.height = header_.height;
    const Hash32 digest = lp::ConsensusVoteDigest(qc_.epoch, qc_.round, qc_.block_id, qc_.height);
    for (uint32_t s = 0; s < validators_.size(); ++s) {
      qc_.votes.push_back({s, validators_[s].Sign(digest, Hash32{})});
    }
  }

  // The provenance bundle of `lot` certified by the last CertifyHead, as a node builds it.
  v1::ProvenanceProof Build(const std::string& lot) const {
    auto b = node::BuildProvenanceProof(*ledger_, lot, "", lp::ConsensusHeaderToProto(header_),
                                        lp::QuorumCertToProto(qc_));
    if (!b) Die("building the bundle of " + lot + ": " + b.error().ToString());
    return std::move(*b);
  }

 private:
  std::string chain_id_;
  v1::Genesis genesis_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::vector<crypto::PrivateKey> validators_ = ValidatorKeys();
  crypto::PrivateKey admin_ = AdminKey();
  int64_t now_ms_ = kGenesisMs + kBlockIntervalMs;
  uint64_t nonce_ = 0;
  lp::ConsensusHeader header_;
  lp::QuorumCert qc_;
};

}  // namespace minetrace::bench
