// Mempool holds admitted transactions until a block that holds them commits, first come
// first served. A leader selects a block's txs from it without removing them (the block may
// lose its round); they leave on commit. It is bounded by count and bytes (a full pool
// refuses, it does not evict) and deduplicates by tx id. Every tx in it had its signature
// checked on admission, so execution need not check the same bytes again.
// Tx ids are looked up in a hash table keyed against grinding (TxIdHash).
// Thread-safety: none; the node's io thread owns it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/node/tx_id_hash.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::node {

class Mempool {
 public:
  Mempool(uint32_t max_txs, uint64_t max_bytes, const TxIdHash& id_hash)
      : max_txs_(max_txs), max_bytes_(max_bytes), by_id_(0, id_hash) {}

  bool Contains(const Hash32& tx_id) const { return by_id_.contains(tx_id); }
  // Whether this exact tx (same id, signer and signature) is pending: its signature was
  // checked on admission.
  bool SignatureChecked(const Hash32& tx_id, const v1::SignedTx& tx) const;
  // Refuses a full pool (kResourceExhausted) and a tx already in it (kAlreadyExists).
  Result<void> Add(const Hash32& tx_id, v1::SignedTx tx);
  // Up to `max_txs` txs and `max_bytes` bytes, oldest first, leaving out those `exclude`
  // names (txs already in uncommitted blocks). They stay pending.
  std::vector<v1::SignedTx> Select(size_t max_txs, uint64_t max_bytes,
                                   const std::function<bool(const Hash32&)>& exclude) const;
  // Removes a tx (committed); no-op for one not pending.
  void Remove(const Hash32& tx_id);
  // Every pending tx with its id, oldest first.
  template <class Visit>
  void ForEach(Visit&& visit) const {
    for (const auto& [seq, entry] : queue_) visit(entry.first, entry.second);
  }

  // Admissions so far: a mark for OldestAdmittedBefore.
  uint64_t admissions() const { return next_seq_; }
  // Up to `max_txs` pending txs admitted before `mark` (an earlier admissions()), oldest first.
  std::vector<v1::SignedTx> OldestAdmittedBefore(uint64_t mark, size_t max_txs) const;

  size_t size() const { return queue_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  uint32_t max_txs_;
  uint64_t max_bytes_;
  uint64_t next_seq_ = 0;
  std::map<uint64_t, std::pair<Hash32, v1::SignedTx>> queue_;  // by arrival
  std::unordered_map<Hash32, uint64_t, TxIdHash> by_id_;       // same entries as queue_
  uint64_t bytes_ = 0;  // of queue_; never more than max_bytes_
};

}  // namespace minetrace::node
