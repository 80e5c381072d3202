#include "minetrace/ledger/accumulator.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <string>

#include "minetrace/base/assert.h"
#include "minetrace/ledger/proof/merkle.h"

namespace minetrace::ledger {
namespace {

bool HasBit(uint64_t value, uint32_t level) { return ((value >> level) & 1) == 1; }

// The level of the lowest set bit; loops over set bits use it with `rest &= rest - 1`, which
// visits one bit per iteration and so at most 64 times.
uint32_t LowestLevel(uint64_t nonzero) {
  MT_ASSERT(nonzero != 0);
  return static_cast<uint32_t>(std::countr_zero(nonzero));
}

uint64_t Pow2(uint32_t level) {
  MT_ASSERT(level < 64);
  return uint64_t{1} << level;
}

// Folds the peaks of a tree of `leaf_count` leaves (one per set bit) from right to left: the
// smallest peak is the rightmost subtree, and each larger one is the left child of the next
// node up. This is the RFC 6962 split at the largest power of two, unrolled.
template <class PeakAt>
Hash32 FoldRightToLeft(uint64_t leaf_count, PeakAt peak_at) {
  MT_ASSERT(leaf_count > 0);
  std::optional<Hash32> acc;
  for (uint64_t rest = leaf_count; rest != 0; rest &= rest - 1) {
    const Hash32& peak = peak_at(LowestLevel(rest));
    acc = acc.has_value() ? proof::NodeHash(peak, *acc) : peak;
  }
  MT_ASSERT(acc.has_value());
  return *acc;
}

Error MissingNode(uint32_t level, uint64_t index, uint64_t leaf_count) {
  return Error{ErrorCode::kDataLoss,
               "accumulator node (level " + std::to_string(level) + ", index " +
                   std::to_string(index) + ") is missing from storage, but a tree of " +
                   std::to_string(leaf_count) +
                   " leaves must have it: the accumulator store is incomplete or corrupt"};
}

}  // namespace

std::optional<Hash32> InMemoryAccumulatorStore::GetNode(uint32_t level, uint64_t index) const {
  if (level >= levels_.size()) return std::nullopt;
  const auto& row = levels_[level];
  if (index >= row.size()) return std::nullopt;
  return row[index];
}

void InMemoryAccumulatorStore::Put(const AccumulatorNode& node) {
  MT_ASSERT(node.level < 64);
  if (node.level >= levels_.size()) levels_.resize(node.level + 1);
  auto& row = levels_[node.level];
  if (node.index >= row.size()) row.resize(node.index + 1);
  std::optional<Hash32>& slot = row[node.index];
  if (slot.has_value()) {
    // A frozen node never changes: rewriting it with another hash means two different trees
    // were written into one store.
    MT_ASSERT(*slot == node.hash);
    return;
  }
  slot = node.hash;
  ++size_;
}

bool InMemoryAccumulatorStore::Remove(uint32_t level, uint64_t index) {
  if (level >= levels_.size() || index >= levels_[level].size()) return false;
  std::optional<Hash32>& slot = levels_[level][index];
  if (!slot.has_value()) return false;
  slot.reset();
  --size_;
  return true;
}

Accumulator::Accumulator(const AccumulatorReader& reader, uint64_t leaf_count)
    : reader_(reader), committed_leaf_count_(leaf_count), leaf_count_(leaf_count) {
  // The peaks are everything Root() and Append() need, so both can work without reads (and
  // without an error path) afterwards.
  for (uint64_t rest = leaf_count; rest != 0; rest &= rest - 1) {
    const uint32_t level = LowestLevel(rest);
    const uint64_t index = (leaf_count >> level) - 1;
    std::optional<Hash32> node = reader_.GetNode(level, index);
    if (!node.has_value()) {
      load_error_ = MissingNode(level, index, leaf_count);
      break;
    }
    peaks_[level] = *node;
  }
  committed_peaks_ = peaks_;
}

Result<void> Accumulator::status() const {
  if (load_error_.has_value()) return tl::unexpected(*load_error_);
  return {};
}

Hash32 Accumulator::Root() const {
  // Calling Root() without checking status() on an accumulator over a broken store is a bug
  // in the caller: there is no root to give.
  MT_ASSERT(!load_error_.has_value());
  if (leaf_count_ == 0) return proof::EmptyRoot();
  return FoldRightToLeft(leaf_count_,
                         [this](uint32_t level) -> const Hash32& { return peaks_[level]; });
}

void Accumulator::Append(std::span<const Hash32> leaf_hashes) {
  MT_ASSERT(!load_error_.has_value());
  if (pending_by_level_.empty()) pending_by_level_.resize(kMaxLevels);
  auto add_pending = [this](uint32_t level, uint64_t index, const Hash32& hash) {
    MT_ASSERT(level < kMaxLevels);
    std::vector<Hash32>& row = pending_by_level_[level];
    // Pending nodes of one level are contiguous, right after the committed ones; GetFrozen
    // relies on that to find them by position.
    MT_ASSERT(index == (committed_leaf_count_ >> level) + row.size());
    row.push_back(hash);
    pending_nodes_.push_back(AccumulatorNode{level, index, hash});
  };

  for (const Hash32& leaf : leaf_hashes) {
    const uint64_t n = leaf_count_;
    // 2^64 - 1 leaves would need a 65th level; no ledger gets anywhere near it.
    MT_ASSERT(n < std::numeric_limits<uint64_t>::max());
    uint32_t level = 0;
    uint64_t index = n;
    Hash32 node = leaf;
    add_pending(level, index, node);
    // While n has a peak at this level, the new node is that peak's right sibling and their
    // parent is now frozen. Ends before level 64 because n has a zero bit there (see above).
    while (HasBit(n, level)) {
      MT_ASSERT((index & 1) == 1);
      node = proof::NodeHash(peaks_[level], node);
      ++level;
      index >>= 1;
      add_pending(level, index, node);
    }
    MT_ASSERT(level < kMaxLevels);
    peaks_[level] = node;
    leaf_count_ = n + 1;
    // The carried node is the new peak of n + 1 at this level, and the peaks below are gone.
    MT_ASSERT(HasBit(leaf_count_, level));
    MT_ASSERT(index == (leaf_count_ >> level) - 1);
    MT_ASSERT((leaf_count_ & (Pow2(level) - 1)) == 0);
  }
}

void Accumulator::MarkCommitted() {
  MT_ASSERT(!load_error_.has_value());
  // Pair assertion with Append: exactly the nodes that the new size froze are pending.
  uint64_t expected_pending = 0;
  for (uint32_t level = 0; level < kMaxLevels; ++level) {
    expected_pending += (leaf_count_ >> level) - (committed_leaf_count_ >> level);
  }
  MT_ASSERT(pending_nodes_.size() == expected_pending);
  // Pair assertion around the store: the caller says the nodes were written, so the new peaks
  // must read back as they were computed. Calling MarkCommitted before the batch is written
  // fails here instead of silently serving proofs from nodes that are not there.
  for (uint64_t rest = leaf_count_; rest != 0; rest &= rest - 1) {
    const uint32_t level = LowestLevel(rest);
    const std::optional<Hash32> stored = reader_.GetNode(level, (leaf_count_ >> level) - 1);
    MT_ASSERT(stored.has_value());
    MT_ASSERT(*stored == peaks_[level]);
  }
  committed_leaf_count_ = leaf_count_;
  committed_peaks_ = peaks_;
  pending_nodes_.clear();
  pending_by_level_.clear();
}

void Accumulator::DiscardPending() {
  MT_ASSERT(committed_leaf_count_ <= leaf_count_);
  leaf_count_ = committed_leaf_count_;
  peaks_ = committed_peaks_;
  pending_nodes_.clear();
  pending_by_level_.clear();
}

Result<Hash32> Accumulator::GetFrozen(uint32_t level, uint64_t index) const {
  MT_ASSERT(level < kMaxLevels);
  // Only nodes whose leaves all exist are frozen; asking for another one is a bug in the
  // proof construction, not bad input (arguments are checked before).
  MT_ASSERT(index < (leaf_count_ >> level));
  const uint64_t committed_at_level = committed_leaf_count_ >> level;
  if (index >= committed_at_level) {
    MT_ASSERT(level < pending_by_level_.size());
    const std::vector<Hash32>& row = pending_by_level_[level];
    const uint64_t position = index - committed_at_level;
    MT_ASSERT(position < row.size());
    return row[position];
  }
  std::optional<Hash32> node = reader_.GetNode(level, index);
  if (!node.has_value()) return tl::unexpected(MissingNode(level, index, committed_leaf_count_));
  return *node;
}

Result<Hash32> Accumulator::RangeRoot(uint64_t begin, uint64_t end) const {
  MT_ASSERT(begin < end);
  MT_ASSERT(end <= leaf_count_);
  const uint64_t size = end - begin;
  // The RFC 6962 recursion only produces ranges that start at a multiple of the largest
  // power of two not above their size; then every piece below is a frozen node.
  MT_ASSERT((begin & (std::bit_floor(size) - 1)) == 0);
  // Walk the pieces from the right end, smallest first, folding as in FoldRightToLeft.
  uint64_t cursor = end;
  std::optional<Hash32> acc;
  for (uint64_t rest = size; rest != 0; rest &= rest - 1) {
    const uint32_t level = LowestLevel(rest);
    cursor -= Pow2(level);
    MT_ASSERT((cursor & (Pow2(level) - 1)) == 0);
    Result<Hash32> piece = GetFrozen(level, cursor >> level);
    if (!piece) return tl::unexpected(piece.error());
    acc = acc.has_value() ? proof::NodeHash(*piece, *acc) : *piece;
  }
  MT_ASSERT(cursor == begin);
  MT_ASSERT(acc.has_value());
  return *acc;
}

Result<Hash32> Accumulator::RootAt(uint64_t tree_size) const {
  if (tree_size > leaf_count_) {
    return MakeError(ErrorCode::kInvalidArgument, "root at tree size " + std::to_string(tree_size) +
                                                      " requested, but the accumulator has only " +
                                                      std::to_string(leaf_count_) + " leaves");
  }
  if (tree_size == 0) return proof::EmptyRoot();
  if (tree_size == leaf_count_ && !load_error_.has_value()) return Root();
  return RangeRoot(0, tree_size);
}

Result<std::vector<Hash32>> Accumulator::InclusionProof(uint64_t leaf_index,
                                                        uint64_t tree_size) const {
  if (tree_size > leaf_count_) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "inclusion proof in a tree of " + std::to_string(tree_size) +
                         " leaves requested, but the accumulator has only " +
                         std::to_string(leaf_count_) + " leaves");
  }
  if (leaf_index >= tree_size) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "inclusion proof for leaf " + std::to_string(leaf_index) +
                         " requested, but a tree of " + std::to_string(tree_size) +
                         " leaves has leaves 0.." +
                         (tree_size == 0 ? std::string("(none)") : std::to_string(tree_size - 1)));
  }
  // Descend the RFC 6962 recursion from the root towards the leaf; the sibling of each split
  // is one path entry. [lo, hi) is the current subtree and always contains leaf_index.
  std::vector<Hash32> path;
  path.reserve(std::bit_width(tree_size));
  uint64_t lo = 0;
  uint64_t hi = tree_size;
  // Each step takes a strictly smaller power of two as the split, so at most 64 steps.
  for (uint32_t steps = 0; hi - lo > 1; ++steps) {
    MT_ASSERT(steps < 64);
    const uint64_t k = std::bit_floor(hi - lo - 1);
    Result<Hash32> sibling = leaf_index < lo + k ? RangeRoot(lo + k, hi) : RangeRoot(lo, lo + k);
    if (!sibling) return tl::unexpected(sibling.error());
    path.push_back(*sibling);
    if (leaf_index < lo + k) {
      hi = lo + k;
    } else {
      lo += k;
    }
  }
  MT_ASSERT(lo == leaf_index);
  MT_ASSERT(hi == leaf_index + 1);
  // The verifier walks from the leaf upwards.
  std::reverse(path.begin(), path.end());
  return path;
}

Result<std::vector<Hash32>> Accumulator::ConsistencyProof(uint64_t first_size,
                                                          uint64_t second_size) const {
  if (second_size > leaf_count_) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "consistency proof to a tree of " + std::to_string(second_size) +
                         " leaves requested, but the accumulator has only " +
                         std::to_string(leaf_count_) + " leaves");
  }
  if (first_size > second_size) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "consistency proof from a tree of " + std::to_string(first_size) +
                         " leaves to a smaller tree of " + std::to_string(second_size) +
                         " leaves requested: the first size must not exceed the second");
  }
  // The conventions of proof::VerifyConsistency: nothing to prove in these cases.
  if (first_size == 0 || first_size == second_size) return std::vector<Hash32>{};

  // RFC 6962 SUBPROOF, descended iteratively. [lo, hi) is the current subtree of the second
  // tree; the first tree ends inside it (lo < first_size <= hi). `whole` is the RFC's flag b:
  // true while the current subtree starts at leaf 0, where the verifier already knows the hash
  // of a subtree that is exactly the first tree.
  std::vector<Hash32> path;
  path.reserve(2 * std::bit_width(second_size));
  uint64_t lo = 0;
  uint64_t hi = second_size;
  bool whole = true;
  for (uint32_t steps = 0;; ++steps) {
    MT_ASSERT(steps <= 64);
    MT_ASSERT(lo < first_size);
    MT_ASSERT(first_size <= hi);
    if (first_size == hi) {
      if (!whole) {
        Result<Hash32> node = RangeRoot(lo, hi);
        if (!node) return tl::unexpected(node.error());
        path.push_back(*node);
      }
      break;
    }
    const uint64_t k = std::bit_floor(hi - lo - 1);
    if (first_size <= lo + k) {
      Result<Hash32> right = RangeRoot(lo + k, hi);
      if (!right) return tl::unexpected(right.error());
      path.push_back(*right);
      hi = lo + k;
    } else {
      Result<Hash32> left = RangeRoot(lo, lo + k);
      if (!left) return tl::unexpected(left.error());
      path.push_back(*left);
      lo += k;
      whole = false;
    }
  }
  MT_ASSERT(!path.empty());
  std::reverse(path.begin(), path.end());
  return path;
}

}  // namespace minetrace::ledger
