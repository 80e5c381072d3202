// Mempool holds admitted transactions until a block takes them, first come first served.
// It is bounded by count and bytes (a full pool refuses, it does not evict), deduplicates by
// tx id, and remembers that every tx in it had its signature checked on admission, so that
// execution does not check it again.
// Thread-safety: none; the node's executor thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::node {

class Mempool {
 public:
  Mempool(uint32_t max_txs, uint64_t max_bytes) : max_txs_(max_txs), max_bytes_(max_bytes) {}

  bool Contains(const Hash32& tx_id) const { return ids_.count(tx_id) > 0; }
  // Refuses a full pool (kResourceExhausted) and a tx already in it (kAlreadyExists).
  Result<void> Add(const Hash32& tx_id, v1::SignedTx tx);
  // Removes and returns up to `max` txs, oldest first. The ids stay marked as
  // signature-checked until Forget() after the block that holds them commits.
  std::vector<v1::SignedTx> Take(size_t max);
  void Forget(const Hash32& tx_id) { ids_.erase(tx_id); }
  // Every pending tx, oldest first (to rebuild the admission state after a block).
  const std::deque<std::pair<Hash32, v1::SignedTx>>& pending() const { return queue_; }

  size_t size() const { return queue_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  uint32_t max_txs_;
  uint64_t max_bytes_;
  std::deque<std::pair<Hash32, v1::SignedTx>> queue_;
  std::set<Hash32> ids_;  // pending and taken-but-not-yet-committed
  uint64_t bytes_ = 0;    // of queue_; never more than max_bytes_
};

}  // namespace minetrace::node
