// TxIdHash hashes tx ids (SHA-256 digests) for the node's hash tables of pending txs. Signers
// choose their tx bodies, so an unkeyed hash would let one grind ids that all fall into one
// bucket and make every lookup walk them. This hash is keyed by a secret of the node (Node
// derives it from its private key), so which ids share a bucket cannot be predicted from
// outside. It is NH, the inner hash of UMAC (RFC 4418): for two different ids, the share of
// keys under which their 64-bit hashes are equal is at most 2^-32.
// Thread-safety: a const value; any number of threads may hash with it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <unordered_set>

#include "minetrace/base/bytes.h"

namespace minetrace::node {

class TxIdHash {
 public:
  explicit TxIdHash(const Hash32& key) { std::memcpy(key_.data(), key.data(), key.size()); }

  size_t operator()(const Hash32& id) const noexcept {
    uint64_t sum = 0;
    for (size_t i = 0; i < key_.size(); i += 2) {
      uint32_t a = 0;
      uint32_t b = 0;
      std::memcpy(&a, id.data() + 4 * i, 4);
      std::memcpy(&b, id.data() + 4 * (i + 1), 4);
      // Both sums wrap modulo 2^32, the product fits 64 bits, the total wraps modulo 2^64.
      sum += static_cast<uint64_t>(static_cast<uint32_t>(a + key_[i])) *
             static_cast<uint32_t>(b + key_[i + 1]);
    }
    return static_cast<size_t>(sum);
  }

 private:
  static_assert(sizeof(Hash32) == 8 * sizeof(uint32_t));
  std::array<uint32_t, 8> key_{};
};

using TxIdSet = std::unordered_set<Hash32, TxIdHash>;

}  // namespace minetrace::node
