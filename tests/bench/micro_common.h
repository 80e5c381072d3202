// Shared pieces of micro_bench (issue 7): fixed keys, a typical signed custody tx, and a
// temporary directory on the real disk (RocksDB syncs must reach it, so never a tmpfs).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "minetrace/crypto/keys.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::bench {

inline constexpr int64_t kGenesisMs = 1'790'000'000'000;  // 2026-09
inline constexpr char kChainId[] = "bench-chain";

inline crypto::PrivateKey KeyFromSeed(uint8_t seed) {
  Bytes secret(32, 0);
  secret[31] = seed;
  secret[0] = 0x11;
  return *crypto::PrivateKey::FromBytes(secret);
}

inline std::string KeyStr(const crypto::PrivateKey& k) {
  return std::string(k.public_key().begin(), k.public_key().end());
}

// Tag ids as the CLI and the proof benchmark write them: a prefix and 7 digits.
inline std::string TagId(const std::string& prefix, uint64_t n) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%07llu", static_cast<unsigned long long>(n));
  return prefix + digits;
}

// The body of a mine lot record, the most frequent custody tx: what "a typical signed tx"
// means in the crypto and proto benchmarks.
inline v1::TxBody TypicalRecordBody(uint64_t nonce, const std::string& producer_key) {
  v1::TxBody b;
  b.set_chain_id(kChainId);
  b.set_nonce(nonce);
  b.set_created_at_ms(kGenesisMs + 1000);
  auto* a = b.mutable_record_mine_lot();
  a->set_tag_id(TagId("T", nonce));
  a->set_site_id("CD-1");
  a->set_mineral(v1::MINERAL_CASSITERITE);
  a->set_weight_grams(48'250);
  a->set_grade_basis_points(6500);
  a->set_producer_key(producer_key);
  return b;
}

// A fresh directory under the system temp dir (on this machine the root disk), removed by
// the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("minetrace-micro-" + name + "-" + std::to_string(::getpid()) + "-" +
               std::to_string(std::random_device{}()))) {
    std::filesystem::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace minetrace::bench
