#include "minetrace/node/mempool.h"

#include "minetrace/base/assert.h"

namespace minetrace::node {

Result<void> Mempool::Add(const Hash32& tx_id, v1::SignedTx tx) {
  if (ids_.count(tx_id)) {
    return MakeError(ErrorCode::kAlreadyExists,
                     "tx " + ToHex(tx_id) + " is already pending; it will commit once");
  }
  uint64_t size = tx.ByteSizeLong();
  if (queue_.size() >= max_txs_ || bytes_ + size > max_bytes_) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "mempool is full (" + std::to_string(queue_.size()) + " txs, " +
                         std::to_string(bytes_) + " bytes); retry after the next block");
  }
  ids_.insert(tx_id);
  bytes_ += size;
  queue_.emplace_back(tx_id, std::move(tx));
  return {};
}

std::vector<v1::SignedTx> Mempool::Take(size_t max) {
  std::vector<v1::SignedTx> out;
  while (!queue_.empty() && out.size() < max) {
    uint64_t size = queue_.front().second.ByteSizeLong();
    MT_ASSERT(bytes_ >= size);
    bytes_ -= size;
    out.push_back(std::move(queue_.front().second));
    queue_.pop_front();
  }
  MT_ASSERT(!queue_.empty() || bytes_ == 0);
  return out;
}

}  // namespace minetrace::node
