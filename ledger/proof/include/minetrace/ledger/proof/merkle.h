// Merkle hashing and proof verification for the ledger accumulator, as RFC 6962 and RFC 9162
// define them: leaf = SHA256(0x00 || data), node = SHA256(0x01 || left || right), and the
// empty tree hashes to SHA256(""). The two prefixes keep a leaf from ever being read as an
// inner node, so a proof cannot pass off a subtree as a leaf (second-preimage attack).
//
// This header is part of the RocksDB-free proof library: the CLI and an offline verifier link
// it to check inclusion and consistency proofs that a node built (ledger/accumulator.h) without
// trusting that node. Everything here is a pure function over values and spans the caller
// owns; all of it is safe to call from any number of threads.
//
// The verifiers never crash on bad input: a malformed proof (wrong length, wrong index or size,
// tampered hash) is simply refused with `false`, and their loops are bounded by the path
// length and by the 64 bits of the tree size.
#pragma once

#include <cstdint>
#include <span>

#include "minetrace/base/bytes.h"

namespace minetrace::ledger::proof {

// SHA256(0x00 || data): the hash of one leaf.
Hash32 LeafHash(ByteView data);

// SHA256(0x01 || left || right): the hash of an inner node.
Hash32 NodeHash(const Hash32& left, const Hash32& right);

// SHA256(""): the root of the tree with no leaves.
Hash32 EmptyRoot();

// The RFC 6962 Merkle Tree Hash over leaves that are already hashed with LeafHash: empty ->
// EmptyRoot(), one leaf -> that leaf hash, otherwise split at the largest power of two smaller
// than the count and hash the two halves. This is the plain O(n) reference definition; the
// accumulator computes the same roots in O(log n) from stored subtrees.
Hash32 MerkleRootOfLeafHashes(std::span<const Hash32> leaf_hashes);

// True iff `path` (ordered from the leaf upwards, as Accumulator::InclusionProof returns it)
// proves that `leaf_hash` is leaf number `leaf_index` of the tree of `tree_size` leaves whose
// root is `root` (RFC 9162 section 2.1.3.2). False when leaf_index >= tree_size, when the path
// is too short or too long for that position, or when the recomputed root differs.
bool VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash32& leaf_hash,
                     std::span<const Hash32> path, const Hash32& root);

// True iff `path` proves that the tree of `first_size` leaves with root `first_root` is a
// prefix of the tree of `second_size` leaves with root `second_root` (RFC 9162 section
// 2.1.4.2, the proof Accumulator::ConsistencyProof returns). RFC 9162 defines proofs only for
// 0 < first_size < second_size; the edge cases are decided here so that every pair has exactly
// one valid proof:
//   - first_size > second_size: always false (a tree cannot shrink).
//   - first_size == second_size: valid iff the path is empty and the roots are equal (and,
//     when both sizes are 0, the root is EmptyRoot()).
//   - first_size == 0 < second_size: valid iff the path is empty and first_root is
//     EmptyRoot(); the empty tree is a prefix of every tree, so second_root is not checked.
// A proof for 0 < first_size < second_size is never empty.
bool VerifyConsistency(uint64_t first_size, uint64_t second_size, const Hash32& first_root,
                       const Hash32& second_root, std::span<const Hash32> path);

}  // namespace minetrace::ledger::proof
