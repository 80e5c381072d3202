// Goal: the accumulator computes exactly the RFC 6962 tree (roots, inclusion and consistency
// proofs) at every size, whether leaves arrive one at a time or in batches, committed or
// pending, and reports bad arguments and lost storage as errors.
// Method: property tests against the naive proof::MerkleRootOfLeafHashes for every tree size
// 0..2000 (every root, every inclusion proof of every leaf, all consistency pairs up to 300
// and a seeded sample beyond), checked with the independent proof:: verifiers, plus tampering
// and storage cases. Randomised parts print their seed; set MINETRACE_TEST_SEED to replay.
#include "minetrace/ledger/accumulator.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "minetrace/ledger/proof/merkle.h"

namespace minetrace::ledger {
namespace {

constexpr uint64_t kMaxSize = 2000;
constexpr uint64_t kAllPairsMaxSize = 300;
constexpr uint64_t kDefaultSeed = 0x6d696e6574726163;  // "minetrac"

uint64_t TestSeed(const char* test_name) {
  uint64_t seed = kDefaultSeed;
  if (const char* env = std::getenv("MINETRACE_TEST_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 0);
  }
  std::cout << "[ seed     ] " << test_name << " seed=" << seed
            << " (replay: MINETRACE_TEST_SEED=" << seed << ")\n";
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

std::string Hex(const Hash32& h) { return ToHex(h); }

// Leaf i of every test tree: the leaf hash of the 8 big-endian bytes of i.
const std::vector<Hash32>& Leaves() {
  static const std::vector<Hash32> leaves = [] {
    std::vector<Hash32> out;
    out.reserve(kMaxSize);
    for (uint64_t i = 0; i < kMaxSize; ++i) {
      std::string data;
      AppendBigEndian64(data, i);
      out.push_back(proof::LeafHash(AsBytes(data)));
    }
    return out;
  }();
  return leaves;
}

// NaiveRoots()[k] is the plain RFC 6962 root of the first k leaves.
const std::vector<Hash32>& NaiveRoots() {
  static const std::vector<Hash32> roots = [] {
    std::vector<Hash32> out;
    out.reserve(kMaxSize + 1);
    for (uint64_t k = 0; k <= kMaxSize; ++k) {
      out.push_back(proof::MerkleRootOfLeafHashes(std::span(Leaves()).first(k)));
    }
    return out;
  }();
  return roots;
}

void WritePending(const Accumulator& acc, InMemoryAccumulatorStore& store) {
  for (const AccumulatorNode& node : acc.PendingNodes()) store.Put(node);
}

// An accumulator over `store` holding the first `n` leaves, committed.
void AppendCommitted(Accumulator& acc, InMemoryAccumulatorStore& store, uint64_t n) {
  acc.Append(std::span(Leaves()).subspan(acc.leaf_count(), n - acc.leaf_count()));
  WritePending(acc, store);
  acc.MarkCommitted();
}

// Checks the inclusion proof of leaf i in the tree of size n; false (with a failure recorded)
// when it is refused or differs from the naive root.
bool CheckInclusion(const Accumulator& acc, uint64_t i, uint64_t n) {
  Result<std::vector<Hash32>> path = acc.InclusionProof(i, n);
  if (!path) {
    ADD_FAILURE() << "InclusionProof(" << i << ", " << n << "): " << path.error().ToString();
    return false;
  }
  if (!proof::VerifyInclusion(i, n, Leaves()[i], *path, NaiveRoots()[n])) {
    ADD_FAILURE() << "inclusion proof of leaf " << i << " in tree size " << n
                  << " does not verify against the naive root";
    return false;
  }
  return true;
}

bool CheckConsistency(const Accumulator& acc, uint64_t m, uint64_t n) {
  Result<std::vector<Hash32>> path = acc.ConsistencyProof(m, n);
  if (!path) {
    ADD_FAILURE() << "ConsistencyProof(" << m << ", " << n << "): " << path.error().ToString();
    return false;
  }
  if (!proof::VerifyConsistency(m, n, NaiveRoots()[m], NaiveRoots()[n], *path)) {
    ADD_FAILURE() << "consistency proof " << m << " -> " << n
                  << " does not verify against the naive roots";
    return false;
  }
  return true;
}

TEST(AccumulatorProperty, RootsMatchNaiveAtEverySizeAppendingOneLeafAtATime) {
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  ASSERT_TRUE(acc.status().has_value());
  for (uint64_t n = 0; n <= kMaxSize; ++n) {
    if (n > 0) {
      acc.Append(std::span(Leaves()).subspan(n - 1, 1));
      // Alternate between committing at once and leaving the leaf pending for a while, so
      // RootAt reads both the store and the pending nodes.
      if (n % 3 != 1) {
        WritePending(acc, store);
        acc.MarkCommitted();
      }
    }
    ASSERT_EQ(acc.leaf_count(), n);
    ASSERT_EQ(Hex(acc.Root()), Hex(NaiveRoots()[n])) << "Root() at size " << n;
    for (uint64_t k = 0; k <= n; ++k) {
      Result<Hash32> root = acc.RootAt(k);
      ASSERT_TRUE(root.has_value()) << root.error().ToString();
      if (*root != NaiveRoots()[k]) {
        FAIL() << "RootAt(" << k << ") at size " << n << " is " << Hex(*root) << ", naive root is "
               << Hex(NaiveRoots()[k]);
      }
    }
  }
}

TEST(AccumulatorProperty, RootsMatchNaiveAppendingRandomBatches) {
  const uint64_t seed = TestSeed("RootsMatchNaiveAppendingRandomBatches");
  std::mt19937_64 rng(seed);
  // Several runs, each with its own batch-size range, so both tiny and large batches occur.
  for (uint64_t max_batch : {1ull, 3ull, 17ull, 64ull, 300ull}) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " max_batch " + std::to_string(max_batch));
    InMemoryAccumulatorStore store;
    Accumulator acc(store, 0);
    std::vector<uint64_t> committed_sizes = {0};
    while (acc.leaf_count() < kMaxSize) {
      const uint64_t room = kMaxSize - acc.leaf_count();
      const uint64_t batch = std::min<uint64_t>(room, rng() % (max_batch + 1));  // 0 happens
      const uint64_t before = acc.leaf_count();
      acc.Append(std::span(Leaves()).subspan(before, batch));
      ASSERT_EQ(acc.leaf_count(), before + batch);
      ASSERT_EQ(acc.Root(), NaiveRoots()[before + batch]) << "after batch to " << before + batch;
      // A few sizes below the current one, answered from pending and committed nodes.
      for (int probe = 0; probe < 4; ++probe) {
        const uint64_t k = rng() % (acc.leaf_count() + 1);
        auto root = acc.RootAt(k);
        ASSERT_TRUE(root.has_value()) << root.error().ToString();
        ASSERT_EQ(*root, NaiveRoots()[k]) << "RootAt(" << k << ")";
      }
      // One batch in five is rolled back, as after a failed commit.
      if (rng() % 5 == 0) {
        acc.DiscardPending();
        ASSERT_EQ(acc.leaf_count(), before);
        ASSERT_EQ(acc.Root(), NaiveRoots()[before]);
        ASSERT_TRUE(acc.PendingNodes().empty());
        continue;
      }
      WritePending(acc, store);
      acc.MarkCommitted();
      ASSERT_TRUE(acc.PendingNodes().empty());
      committed_sizes.push_back(acc.leaf_count());
    }
    // Reopening the store at every committed size gives back that size's root.
    for (uint64_t size : committed_sizes) {
      Accumulator reopened(store, size);
      ASSERT_TRUE(reopened.status().has_value()) << reopened.status().error().ToString();
      ASSERT_EQ(reopened.Root(), NaiveRoots()[size]) << "reopened at " << size;
    }
  }
}

// Every leaf of every tree size 0..2000 (about two million proofs), produced by one
// accumulator holding all 2000 leaves (historical sizes) and verified against the naive root.
TEST(AccumulatorProperty, EveryInclusionProofOfEveryLeafAtEverySizeVerifies) {
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  AppendCommitted(acc, store, kMaxSize);
  uint64_t proofs = 0;
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    for (uint64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(CheckInclusion(acc, i, n));
      ++proofs;
    }
  }
  EXPECT_EQ(proofs, kMaxSize * (kMaxSize + 1) / 2);
}

// The same at the accumulator's current size, with the newest nodes still pending: the path
// through the right edge comes from memory, the rest from the store.
TEST(AccumulatorProperty, InclusionProofsAtTheCurrentSizeWithPendingNodesVerify) {
  const uint64_t seed = TestSeed("InclusionProofsAtTheCurrentSizeWithPendingNodesVerify");
  std::mt19937_64 rng(seed);
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    acc.Append(std::span(Leaves()).subspan(n - 1, 1));
    if (rng() % 7 == 0) {
      WritePending(acc, store);
      acc.MarkCommitted();
    }
    // All leaves for small trees; first, last and a seeded sample otherwise.
    if (n <= kAllPairsMaxSize) {
      for (uint64_t i = 0; i < n; ++i) ASSERT_TRUE(CheckInclusion(acc, i, n));
    } else {
      ASSERT_TRUE(CheckInclusion(acc, 0, n));
      ASSERT_TRUE(CheckInclusion(acc, n - 1, n));
      for (int s = 0; s < 8; ++s) ASSERT_TRUE(CheckInclusion(acc, rng() % n, n)) << "seed " << seed;
    }
  }
}

TEST(AccumulatorProperty, ConsistencyProofsVerifyForAllSmallPairsAndASampleOfLargeOnes) {
  const uint64_t seed = TestSeed("ConsistencyProofsVerifyForAllSmallPairsAndASampleOfLargeOnes");
  std::mt19937_64 rng(seed);
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  AppendCommitted(acc, store, kMaxSize);
  for (uint64_t n = 0; n <= kAllPairsMaxSize; ++n) {
    for (uint64_t m = 0; m <= n; ++m) ASSERT_TRUE(CheckConsistency(acc, m, n));
  }
  for (int s = 0; s < 50000; ++s) {
    const uint64_t n = rng() % (kMaxSize + 1);
    const uint64_t m = rng() % (n + 1);
    ASSERT_TRUE(CheckConsistency(acc, m, n)) << "seed " << seed;
  }
  // The largest size against every smaller one.
  for (uint64_t m = 0; m <= kMaxSize; ++m) ASSERT_TRUE(CheckConsistency(acc, m, kMaxSize));
}

TEST(AccumulatorProofs, MatchTheReferenceProofsOfRfc6962TestVectors) {
  const char* const kInputsHex[] = {"",
                                    "00",
                                    "10",
                                    "2021",
                                    "3031",
                                    "40414243",
                                    "5051525354555657",
                                    "606162636465666768696a6b6c6d6e6f"};
  std::vector<Hash32> leaves;
  for (const char* hex : kInputsHex) leaves.push_back(proof::LeafHash(*FromHex(hex)));
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  acc.Append(leaves);
  EXPECT_EQ(Hex(acc.Root()), "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
  auto path = acc.InclusionProof(5, 8);
  ASSERT_TRUE(path.has_value());
  ASSERT_EQ(path->size(), 3u);
  EXPECT_EQ(Hex((*path)[0]), "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b");
  EXPECT_EQ(Hex((*path)[1]), "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0");
  EXPECT_EQ(Hex((*path)[2]), "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
  auto consistency = acc.ConsistencyProof(6, 8);
  ASSERT_TRUE(consistency.has_value());
  ASSERT_EQ(consistency->size(), 3u);
  EXPECT_EQ(Hex((*consistency)[0]),
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a");
  EXPECT_EQ(Hex((*consistency)[1]),
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0");
  EXPECT_EQ(Hex((*consistency)[2]),
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
}

TEST(AccumulatorProofs, TamperedInclusionProofsAreRefused) {
  const uint64_t seed = TestSeed("TamperedInclusionProofsAreRefused");
  std::mt19937_64 rng(seed);
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  AppendCommitted(acc, store, kMaxSize);
  std::vector<uint64_t> sizes;
  for (uint64_t n = 1; n <= 70; ++n) sizes.push_back(n);
  for (int s = 0; s < 200; ++s) sizes.push_back(2 + rng() % (kMaxSize - 2));
  sizes.push_back(kMaxSize - 1);
  for (uint64_t n : sizes) {
    const Hash32& root = NaiveRoots()[n];
    for (uint64_t i : {uint64_t{0}, n / 2, n - 1, rng() % n}) {
      auto path = acc.InclusionProof(i, n);
      ASSERT_TRUE(path.has_value());
      ASSERT_TRUE(proof::VerifyInclusion(i, n, Leaves()[i], *path, root));
      for (size_t p = 0; p < path->size(); ++p) {
        auto bad = *path;
        const size_t bit = rng() % 256;
        bad[p][bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        EXPECT_FALSE(proof::VerifyInclusion(i, n, Leaves()[i], bad, root))
            << "flipped bit " << bit << " of element " << p << ", leaf " << i << "/" << n;
      }
      if (n > 1) {
        const uint64_t other = (i + 1 + rng() % (n - 1)) % n;
        EXPECT_FALSE(proof::VerifyInclusion(other, n, Leaves()[i], *path, root))
            << "leaf " << i << " claimed at index " << other << " of " << n;
        EXPECT_FALSE(proof::VerifyInclusion(i, n, Leaves()[other], *path, root));
      }
      // Another size, checked against that size's own root, as a verifier holding a signed
      // {root, leaf_count} would.
      EXPECT_FALSE(proof::VerifyInclusion(i, n + 1, Leaves()[i], *path, NaiveRoots()[n + 1]));
      if (i < n - 1) {
        EXPECT_FALSE(proof::VerifyInclusion(i, n - 1, Leaves()[i], *path, NaiveRoots()[n - 1]));
      }
      if (!path->empty()) {
        auto truncated = *path;
        truncated.pop_back();
        EXPECT_FALSE(proof::VerifyInclusion(i, n, Leaves()[i], truncated, root));
        auto headless = std::vector<Hash32>(path->begin() + 1, path->end());
        EXPECT_FALSE(proof::VerifyInclusion(i, n, Leaves()[i], headless, root));
      }
      auto extended = *path;
      extended.push_back(root);
      EXPECT_FALSE(proof::VerifyInclusion(i, n, Leaves()[i], extended, root));
    }
  }
}

TEST(AccumulatorProofs, TamperedConsistencyProofsAreRefused) {
  const uint64_t seed = TestSeed("TamperedConsistencyProofsAreRefused");
  std::mt19937_64 rng(seed);
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  AppendCommitted(acc, store, kMaxSize);
  const auto& roots = NaiveRoots();
  for (int s = 0; s < 3000; ++s) {
    const uint64_t n = 2 + rng() % (kMaxSize - 2);  // 2..1999, so n + 1 exists
    const uint64_t m = 1 + rng() % (n - 1);         // 0 < m < n
    auto path = acc.ConsistencyProof(m, n);
    ASSERT_TRUE(path.has_value());
    ASSERT_FALSE(path->empty());
    ASSERT_TRUE(proof::VerifyConsistency(m, n, roots[m], roots[n], *path));
    for (size_t p = 0; p < path->size(); ++p) {
      auto bad = *path;
      const size_t bit = rng() % 256;
      bad[p][bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      EXPECT_FALSE(proof::VerifyConsistency(m, n, roots[m], roots[n], bad))
          << "flipped bit " << bit << " of element " << p << ", " << m << " -> " << n;
    }
    EXPECT_FALSE(proof::VerifyConsistency(m, n + 1, roots[m], roots[n + 1], *path));
    EXPECT_FALSE(proof::VerifyConsistency(m, n - 1, roots[m], roots[n - 1], *path));
    EXPECT_FALSE(proof::VerifyConsistency(m - 1, n, roots[m - 1], roots[n], *path));
    if (m + 1 < n) {
      EXPECT_FALSE(proof::VerifyConsistency(m + 1, n, roots[m + 1], roots[n], *path));
    }
    // A first root from another history.
    const Hash32 foreign = proof::LeafHash(AsBytes("another history"));
    EXPECT_FALSE(proof::VerifyConsistency(m, n, foreign, roots[n], *path)) << m << " -> " << n;
    auto truncated = *path;
    truncated.pop_back();
    EXPECT_FALSE(proof::VerifyConsistency(m, n, roots[m], roots[n], truncated));
    auto extended = *path;
    extended.push_back(roots[n]);
    EXPECT_FALSE(proof::VerifyConsistency(m, n, roots[m], roots[n], extended));
  }
}

TEST(Accumulator, EmptyAccumulatorHasTheEmptyRoot) {
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  EXPECT_EQ(acc.leaf_count(), 0u);
  EXPECT_EQ(acc.Root(), proof::EmptyRoot());
  EXPECT_EQ(*acc.RootAt(0), proof::EmptyRoot());
  acc.Append({});
  EXPECT_TRUE(acc.PendingNodes().empty());
  acc.MarkCommitted();
  EXPECT_EQ(acc.Root(), proof::EmptyRoot());
  EXPECT_TRUE(acc.ConsistencyProof(0, 0)->empty());
}

TEST(Accumulator, PendingNodesAreExactlyTheNewlyFrozenSubtrees) {
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  AppendCommitted(acc, store, 5);
  const size_t stored_before = store.size();
  acc.Append(std::span(Leaves()).subspan(5, 6));  // 5 -> 11 leaves
  // Nodes frozen by 11 leaves but not by 5: level 0: 6, level 1: 5-2=3, level 2: 2-1=1,
  // level 3: 1-0=1.
  ASSERT_EQ(acc.PendingNodes().size(), 11u);
  for (const AccumulatorNode& node : acc.PendingNodes()) {
    const uint64_t first = node.index << node.level;
    const uint64_t count = uint64_t{1} << node.level;
    EXPECT_GE(first + count, 6u) << "node already frozen at 5 leaves";
    EXPECT_LE(first + count, 11u) << "node not yet frozen at 11 leaves";
    EXPECT_EQ(node.hash, proof::MerkleRootOfLeafHashes(std::span(Leaves()).subspan(first, count)))
        << "level " << node.level << " index " << node.index;
  }
  // Nothing was written by the accumulator itself.
  EXPECT_EQ(store.size(), stored_before);
  // Pending nodes serve proofs before the commit.
  EXPECT_TRUE(CheckInclusion(acc, 10, 11));
  EXPECT_TRUE(CheckConsistency(acc, 5, 11));
}

TEST(Accumulator, DiscardPendingRollsBackToTheCommittedSize) {
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  AppendCommitted(acc, store, 100);
  acc.Append(std::span(Leaves()).subspan(100, 37));
  EXPECT_EQ(acc.leaf_count(), 137u);
  EXPECT_EQ(acc.committed_leaf_count(), 100u);
  acc.DiscardPending();
  EXPECT_EQ(acc.leaf_count(), 100u);
  EXPECT_TRUE(acc.PendingNodes().empty());
  EXPECT_EQ(acc.Root(), NaiveRoots()[100]);
  EXPECT_EQ(acc.RootAt(101).error().code, ErrorCode::kInvalidArgument);
  // Appending other leaves after a rollback gives their tree, not a mix.
  std::vector<Hash32> different(Leaves().begin() + 500, Leaves().begin() + 537);
  acc.Append(different);
  std::vector<Hash32> expected(Leaves().begin(), Leaves().begin() + 100);
  expected.insert(expected.end(), different.begin(), different.end());
  EXPECT_EQ(acc.Root(), proof::MerkleRootOfLeafHashes(expected));
}

TEST(Accumulator, ReopeningAtTheCommittedSizeGivesTheSameRootAndProofs) {
  InMemoryAccumulatorStore store;
  Hash32 root{};
  {
    Accumulator acc(store, 0);
    AppendCommitted(acc, store, 777);
    // Pending appends that are never committed must not affect a reopened accumulator.
    acc.Append(std::span(Leaves()).subspan(777, 10));
    root = *acc.RootAt(777);
  }
  Accumulator reopened(store, 777);
  ASSERT_TRUE(reopened.status().has_value());
  EXPECT_EQ(reopened.Root(), root);
  EXPECT_EQ(reopened.Root(), NaiveRoots()[777]);
  for (uint64_t i : {0ull, 1ull, 500ull, 776ull}) EXPECT_TRUE(CheckInclusion(reopened, i, 777));
  // And it goes on appending from there.
  AppendCommitted(reopened, store, 1500);
  EXPECT_EQ(reopened.Root(), NaiveRoots()[1500]);
  Accumulator again(store, 1500);
  EXPECT_EQ(again.Root(), NaiveRoots()[1500]);
}

TEST(Accumulator, OutOfRangeArgumentsAreInvalid) {
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  AppendCommitted(acc, store, 10);
  auto expect_invalid = [](const auto& result, const char* what) {
    ASSERT_FALSE(result.has_value()) << what;
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << what;
    EXPECT_FALSE(result.error().message.empty()) << what;
  };
  expect_invalid(acc.RootAt(11), "RootAt beyond size");
  expect_invalid(acc.InclusionProof(10, 10), "leaf index == size");
  expect_invalid(acc.InclusionProof(0, 0), "empty tree");
  expect_invalid(acc.InclusionProof(3, 11), "size beyond leaf count");
  expect_invalid(acc.ConsistencyProof(5, 4), "shrinking");
  expect_invalid(acc.ConsistencyProof(0, 11), "second beyond leaf count");
  EXPECT_TRUE(acc.ConsistencyProof(0, 10)->empty());
  EXPECT_TRUE(acc.ConsistencyProof(10, 10)->empty());
}

TEST(Accumulator, MissingStoredNodeIsDataLoss) {
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  AppendCommitted(acc, store, 12);  // peaks: (3, 0) and (2, 2)
  // An inner node that proofs need, but the peaks do not: only proofs fail.
  ASSERT_TRUE(store.Remove(0, 3));
  Accumulator without_leaf(store, 12);
  ASSERT_TRUE(without_leaf.status().has_value());
  EXPECT_EQ(without_leaf.Root(), NaiveRoots()[12]);
  auto path = without_leaf.InclusionProof(2, 12);
  ASSERT_FALSE(path.has_value());
  EXPECT_EQ(path.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(path.error().message.find("level 0, index 3"), std::string::npos)
      << path.error().message;
  EXPECT_EQ(without_leaf.ConsistencyProof(3, 12).error().code, ErrorCode::kDataLoss);
  // Proofs that do not touch the lost node still work.
  EXPECT_TRUE(CheckInclusion(without_leaf, 9, 12));
  // A lost peak: the accumulator cannot give its root at all, and says so.
  ASSERT_TRUE(store.Remove(2, 2));
  Accumulator without_peak(store, 12);
  ASSERT_FALSE(without_peak.status().has_value());
  EXPECT_EQ(without_peak.status().error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(without_peak.RootAt(12).error().code, ErrorCode::kDataLoss);
}

TEST(AccumulatorDeathTest, InMemoryStoreRefusesToRewriteAFrozenNode) {
  InMemoryAccumulatorStore store;
  store.Put({0, 0, Leaves()[0]});
  store.Put({0, 0, Leaves()[0]});  // the same node again is harmless
  EXPECT_DEATH(store.Put({0, 0, Leaves()[1]}), "assertion failed");
}

TEST(AccumulatorDeathTest, MarkCommittedBeforeTheNodesAreWrittenIsABug) {
  InMemoryAccumulatorStore store;
  Accumulator acc(store, 0);
  acc.Append(std::span(Leaves()).first(3));
  EXPECT_DEATH(acc.MarkCommitted(), "assertion failed");
}

}  // namespace
}  // namespace minetrace::ledger
