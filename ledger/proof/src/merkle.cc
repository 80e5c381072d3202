#include "minetrace/ledger/proof/merkle.h"

#include <algorithm>
#include <bit>

#include "minetrace/base/assert.h"
#include "minetrace/crypto/sha256.h"

namespace minetrace::ledger::proof {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// Moves one level up the tree: the node numbers at the next level are the halves.
void ShiftUp(uint64_t& fn, uint64_t& sn) {
  fn >>= 1;
  sn >>= 1;
}

// On the right edge of a tree whose size is not a power of two, a node may have no sibling on
// some levels: it is carried up unchanged. Skips those levels, stopping where `fn` becomes a
// right child (it then has a left sibling to combine with) or reaches the root's column.
// At most 64 iterations: `fn` is not zero, so it has a set bit within 64 shifts.
void SkipLevelsWithoutSibling(uint64_t& fn, uint64_t& sn) {
  while ((fn & 1) == 0 && fn != 0) ShiftUp(fn, sn);
}

}  // namespace

Hash32 LeafHash(ByteView data) {
  const uint8_t prefix[1] = {kLeafPrefix};
  crypto::Sha256Hasher hasher;
  hasher.Update(ByteView(prefix, 1));
  hasher.Update(data);
  return hasher.Finish();
}

Hash32 NodeHash(const Hash32& left, const Hash32& right) {
  // One contiguous buffer and a one-shot hash: this runs log(n) times per proof and per
  // append, so it avoids the three separate Update calls.
  std::array<uint8_t, 1 + 2 * sizeof(Hash32)> buf;
  buf[0] = kNodePrefix;
  std::copy(left.begin(), left.end(), buf.begin() + 1);
  std::copy(right.begin(), right.end(), buf.begin() + 1 + left.size());
  return crypto::Sha256(ByteView(buf.data(), buf.size()));
}

Hash32 EmptyRoot() { return crypto::Sha256(ByteView()); }

Hash32 MerkleRootOfLeafHashes(std::span<const Hash32> leaf_hashes) {
  const uint64_t n = leaf_hashes.size();
  if (n == 0) return EmptyRoot();
  if (n == 1) return leaf_hashes[0];
  // The largest power of two strictly smaller than n, so the left part is a perfect tree and
  // never empty, and the right part is never empty either. Recursion depth is log2(n).
  const uint64_t k = std::bit_floor(n - 1);
  MT_ASSERT(k >= 1);
  MT_ASSERT(k < n);
  return NodeHash(MerkleRootOfLeafHashes(leaf_hashes.first(k)),
                  MerkleRootOfLeafHashes(leaf_hashes.subspan(k)));
}

bool VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash32& leaf_hash,
                     std::span<const Hash32> path, const Hash32& root) {
  if (leaf_index >= tree_size) return false;
  // fn is the position of the running node at its level, sn the position of the last node of
  // that level; the walk ends exactly at the root when sn reaches 0 with the path used up.
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Hash32 r = leaf_hash;
  for (const Hash32& p : path) {
    // The root is reached but the path goes on: too long for this position.
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      // A right child (or the last node on the right edge, which has no right sibling and so
      // meets its next sibling, which is on the left, further up).
      r = NodeHash(p, r);
      if ((fn & 1) == 0) SkipLevelsWithoutSibling(fn, sn);
    } else {
      r = NodeHash(r, p);
    }
    ShiftUp(fn, sn);
  }
  // sn != 0 means the path was too short to reach the root.
  return sn == 0 && r == root;
}

bool VerifyConsistency(uint64_t first_size, uint64_t second_size, const Hash32& first_root,
                       const Hash32& second_root, std::span<const Hash32> path) {
  if (first_size > second_size) return false;
  if (first_size == second_size) {
    if (!path.empty()) return false;
    if (first_root != second_root) return false;
    return first_size != 0 || first_root == EmptyRoot();
  }
  if (first_size == 0) return path.empty() && first_root == EmptyRoot();
  // From here 0 < first_size < second_size, and the proof always holds at least one hash.
  if (path.empty()) return false;

  // When first_size is a power of two the first tree is itself a node of the second tree and
  // the proof leaves its hash out (the verifier has it): start from first_root in that case.
  size_t next = 0;
  Hash32 start = first_root;
  if (!std::has_single_bit(first_size)) start = path[next++];

  uint64_t fn = first_size - 1;
  uint64_t sn = second_size - 1;
  // Climb over the levels where the last node of the first tree is a right child of a node
  // that lies entirely inside the first tree: the proof starts above them. Bounded by 64.
  while ((fn & 1) == 1) ShiftUp(fn, sn);

  // fr rebuilds the first root and sr the second one from the same nodes.
  Hash32 fr = start;
  Hash32 sr = start;
  for (; next < path.size(); ++next) {
    const Hash32& c = path[next];
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if ((fn & 1) == 0) SkipLevelsWithoutSibling(fn, sn);
    } else {
      // A right sibling that exists only in the second tree.
      sr = NodeHash(sr, c);
    }
    ShiftUp(fn, sn);
  }
  return sn == 0 && fr == first_root && sr == second_root;
}

}  // namespace minetrace::ledger::proof
