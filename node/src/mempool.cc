#include "minetrace/node/mempool.h"

#include "minetrace/base/assert.h"

namespace minetrace::node {

bool Mempool::SignatureChecked(const Hash32& tx_id, const v1::SignedTx& tx) const {
  auto it = by_id_.find(tx_id);
  if (it == by_id_.end()) return false;
  const v1::SignedTx& pending = queue_.at(it->second).second;
  return pending.signer() == tx.signer() && pending.signature() == tx.signature();
}

Result<void> Mempool::Add(const Hash32& tx_id, v1::SignedTx tx) {
  if (by_id_.contains(tx_id)) {
    return MakeError(ErrorCode::kAlreadyExists,
                     "tx " + ToHex(tx_id) + " is already pending; it will commit once");
  }
  uint64_t size = tx.ByteSizeLong();
  if (queue_.size() >= max_txs_ || bytes_ + size > max_bytes_) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "mempool is full (" + std::to_string(queue_.size()) + " txs, " +
                         std::to_string(bytes_) + " bytes); retry after the next block");
  }
  uint64_t seq = next_seq_++;
  by_id_.emplace(tx_id, seq);
  bytes_ += size;
  queue_.emplace(seq, std::make_pair(tx_id, std::move(tx)));
  return {};
}

std::vector<v1::SignedTx> Mempool::Select(
    size_t max_txs, uint64_t max_bytes,
    const std::function<bool(const Hash32&)>& exclude) const {
  std::vector<v1::SignedTx> out;
  uint64_t bytes = 0;
  for (const auto& [seq, entry] : queue_) {
    if (out.size() >= max_txs) break;
    if (exclude(entry.first)) continue;
    uint64_t size = entry.second.ByteSizeLong();
    if (bytes + size > max_bytes) break;
    bytes += size;
    out.push_back(entry.second);
  }
  return out;
}

std::vector<v1::SignedTx> Mempool::OldestAdmittedBefore(uint64_t mark, size_t max_txs) const {
  std::vector<v1::SignedTx> out;
  for (auto it = queue_.begin(); it != queue_.end() && it->first < mark && out.size() < max_txs;
       ++it) {
    out.push_back(it->second.second);
  }
  return out;
}

void Mempool::Remove(const Hash32& tx_id) {
  auto it = by_id_.find(tx_id);
  if (it == by_id_.end()) return;
  auto entry = queue_.find(it->second);
  MT_ASSERT(entry != queue_.end());
  uint64_t size = entry->second.second.ByteSizeLong();
  MT_ASSERT(bytes_ >= size);
  bytes_ -= size;
  queue_.erase(entry);
  by_id_.erase(it);
  MT_ASSERT(!queue_.empty() || bytes_ == 0);
}

}  // namespace minetrace::node
