// The ledger accumulator: an append-only Merkle tree (RFC 6962 hashing, see
// ledger/proof/merkle.h) over receipt hashes in commit order, stored as frozen subtrees.
//
// Node (level, index) is the root of the perfect subtree over leaves
// [index << level, (index + 1) << level); level 0 holds the leaf hashes themselves. Such a node
// is "frozen" once all its leaves exist: it is written once and never changes, so a reader can
// serve it to any number of threads while new leaves are appended. A tree of n leaves has
// exactly the frozen nodes with (index + 1) << level <= n. Its root is not stored: it is folded
// from the "peaks" of n (one perfect subtree per set bit of n, largest on the left), and every
// subtree a proof needs, perfect or not, is composed from O(log n) frozen nodes.
//
// Ownership: an Accumulator borrows its AccumulatorReader (which must outlive it) and owns
// only its pending (appended, not yet committed) nodes and the peaks of its current size.
// Thread-safety: an Accumulator is used by one thread at a time. Its const methods read the
// reader, so concurrent const calls are safe iff the reader's GetNode is; a fresh Accumulator
// over the committed size is the way to serve proofs beside a writer.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"

namespace minetrace::ledger {

// One frozen node, as written to storage.
struct AccumulatorNode {
  uint32_t level = 0;  // 0 = leaf hashes
  uint64_t index = 0;  // position among the nodes of this level, from the left
  Hash32 hash{};
};

// Storage of frozen nodes: node (level, index) is the root of the perfect subtree over leaves
// [index << level, (index + 1) << level). A node is written once and never changes.
class AccumulatorReader {
 public:
  virtual ~AccumulatorReader() = default;
  // std::nullopt when the node was never written (or is lost: the accumulator reports that
  // as kDataLoss, since it only asks for nodes that a committed size guarantees).
  virtual std::optional<Hash32> GetNode(uint32_t level, uint64_t index) const = 0;
};

// Frozen nodes in memory, for tests and tools. Memory grows with the largest index written
// at each level, which is what the accumulator writes anyway (frozen nodes are dense from 0).
// Not thread-safe for writes; concurrent GetNode calls without a concurrent Put are safe.
class InMemoryAccumulatorStore final : public AccumulatorReader {
 public:
  InMemoryAccumulatorStore() = default;
  InMemoryAccumulatorStore(const InMemoryAccumulatorStore&) = delete;
  InMemoryAccumulatorStore& operator=(const InMemoryAccumulatorStore&) = delete;

  std::optional<Hash32> GetNode(uint32_t level, uint64_t index) const override;

  // Writing the same node again with the same hash is a no-op; with a different hash it is a
  // bug (frozen nodes never change) and fails an assertion.
  void Put(const AccumulatorNode& node);
  // Forgets a node, to let tests simulate lost or corrupt storage. True if it was there.
  bool Remove(uint32_t level, uint64_t index);
  // The number of nodes held.
  size_t size() const { return size_; }

 private:
  // levels_[level][index]: frozen nodes are dense from index 0 at every level, so a vector
  // per level is both the smallest and the fastest map.
  std::vector<std::vector<std::optional<Hash32>>> levels_;
  size_t size_ = 0;
};

// The append-only accumulator over a reader of committed frozen nodes. Appends are kept
// pending (and readable by this object) until the caller has written PendingNodes() in the
// same batch as the rest of the block and calls MarkCommitted(), or throws them away with
// DiscardPending().
class Accumulator {
 public:
  // `reader` must outlive this Accumulator, and must hold every frozen node of a tree of
  // `leaf_count` leaves (the committed size). Reads the peaks of `leaf_count` (at most one
  // node per set bit, so O(log n) reads); if one is missing, status() reports it.
  Accumulator(const AccumulatorReader& reader, uint64_t leaf_count);
  Accumulator(const Accumulator&) = delete;
  Accumulator& operator=(const Accumulator&) = delete;

  // kDataLoss if the constructor could not read the peaks of the committed size from the
  // reader (a lost or corrupt store). Root() and Append() require an OK status; check it once
  // after construction when the store is not trusted to be whole.
  Result<void> status() const;

  // The number of leaves, including pending appends.
  uint64_t leaf_count() const { return leaf_count_; }
  // The number of leaves whose nodes are readable through the reader.
  uint64_t committed_leaf_count() const { return committed_leaf_count_; }

  // The root at leaf_count(); EmptyRoot() when 0. Computed from the in-memory peaks: no reads.
  Hash32 Root() const;

  // Appends leaf hashes (already LeafHash()ed); the new frozen nodes are kept pending
  // (readable by this object) until MarkCommitted(). Reads nothing: a new node's left
  // sibling is always one of the current peaks.
  void Append(std::span<const Hash32> leaf_hashes);

  // The nodes frozen by appends since the last commit, in the order they were created: what to
  // write in the commit batch.
  const std::vector<AccumulatorNode>& PendingNodes() const { return pending_nodes_; }

  // Declares that the pending nodes are now readable through `reader`; the committed size
  // becomes leaf_count().
  void MarkCommitted();

  // Rolls back to the last committed size, forgetting the pending nodes.
  void DiscardPending();

  // The root of the tree of the first `tree_size` leaves, for any tree_size <= leaf_count().
  // kInvalidArgument beyond leaf_count(), kDataLoss if a stored node is missing.
  Result<Hash32> RootAt(uint64_t tree_size) const;

  // The RFC 6962 audit path of leaf `leaf_index` in the tree of the first `tree_size` leaves,
  // ordered from the leaf upwards (what proof::VerifyInclusion takes). Requires
  // leaf_index < tree_size <= leaf_count() (kInvalidArgument otherwise); kDataLoss if a
  // stored node is missing. O(log n) node reads.
  Result<std::vector<Hash32>> InclusionProof(uint64_t leaf_index, uint64_t tree_size) const;

  // The RFC 6962 consistency proof from the tree of `first_size` leaves to the tree of
  // `second_size` leaves (what proof::VerifyConsistency takes). Requires
  // first_size <= second_size <= leaf_count() (kInvalidArgument otherwise). Empty when
  // first_size is 0 or equal to second_size (see VerifyConsistency); kDataLoss if a stored
  // node is missing. O(log n) node reads.
  Result<std::vector<Hash32>> ConsistencyProof(uint64_t first_size, uint64_t second_size) const;

 private:
  // One entry per possible level: a tree of fewer than 2^64 leaves has levels 0..63.
  static constexpr uint32_t kMaxLevels = 64;
  using Peaks = std::array<Hash32, kMaxLevels>;

  // A frozen node of the tree of leaf_count() leaves, from the pending nodes or the reader.
  Result<Hash32> GetFrozen(uint32_t level, uint64_t index) const;
  // The Merkle Tree Hash of leaves [begin, end), an aligned range as the RFC 6962 recursion
  // produces them: composed from one frozen node per set bit of end - begin.
  Result<Hash32> RangeRoot(uint64_t begin, uint64_t end) const;

  const AccumulatorReader& reader_;
  // Invariant: committed_leaf_count_ <= leaf_count_; committed_leaf_count_ never decreases.
  uint64_t committed_leaf_count_ = 0;
  uint64_t leaf_count_ = 0;
  // peaks_[level] is node (level, (leaf_count_ >> level) - 1) for every set bit `level` of
  // leaf_count_; the other entries are meaningless. committed_peaks_ is the same for
  // committed_leaf_count_, so that DiscardPending needs no reads.
  Peaks peaks_{};
  Peaks committed_peaks_{};
  // Set by the constructor when a peak could not be read; never cleared.
  std::optional<Error> load_error_;
  // pending_nodes_ in creation order; pending_by_level_[level][i] is the hash of node
  // (level, (committed_leaf_count_ >> level) + i). Both are empty when nothing is pending.
  std::vector<AccumulatorNode> pending_nodes_;
  std::vector<std::vector<Hash32>> pending_by_level_;
};

}  // namespace minetrace::ledger
