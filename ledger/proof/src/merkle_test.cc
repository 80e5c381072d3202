// Goal: the hashing and the two verifiers agree with RFC 6962 / RFC 9162 and with the
// published Certificate Transparency reference values, and refuse every malformed proof.
// Method: known digests and roots; a deliberately naive recursive proof builder written from
// the RFC 6962 definitions (independent of the accumulator) for exhaustive small trees; and
// tampering of every kind on every proof.
#include "minetrace/ledger/proof/merkle.h"

#include <gtest/gtest.h>

#include <bit>
#include <string>
#include <vector>

#include "minetrace/crypto/sha256.h"

namespace minetrace::ledger::proof {
namespace {

Hash32 H(std::string_view hex) {
  auto h = Hash32FromHex(hex);
  EXPECT_TRUE(h.has_value()) << hex;
  return h.value_or(Hash32{});
}

std::vector<Hash32> Hs(std::initializer_list<std::string_view> hexes) {
  std::vector<Hash32> out;
  for (auto hex : hexes) out.push_back(H(hex));
  return out;
}

// The eight leaf inputs of the Certificate Transparency reference tests and the roots of the
// trees over their first n entries (index n; index 0 is the empty tree).
std::vector<Hash32> ReferenceLeafHashes() {
  const char* const kInputsHex[] = {"",
                                    "00",
                                    "10",
                                    "2021",
                                    "3031",
                                    "40414243",
                                    "5051525354555657",
                                    "606162636465666768696a6b6c6d6e6f"};
  std::vector<Hash32> out;
  for (const char* hex : kInputsHex) {
    auto bytes = FromHex(hex);
    EXPECT_TRUE(bytes.has_value());
    out.push_back(LeafHash(*bytes));
  }
  return out;
}

const char* const kReferenceRootsHex[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

// RFC 6962 section 2.1.1 PATH(m, D[n]), literally, ordered from the leaf upwards.
std::vector<Hash32> NaivePath(uint64_t m, std::span<const Hash32> leaves) {
  if (leaves.size() <= 1) return {};
  const uint64_t k = std::bit_floor(leaves.size() - 1);
  std::vector<Hash32> path;
  if (m < k) {
    path = NaivePath(m, leaves.first(k));
    path.push_back(MerkleRootOfLeafHashes(leaves.subspan(k)));
  } else {
    path = NaivePath(m - k, leaves.subspan(k));
    path.push_back(MerkleRootOfLeafHashes(leaves.first(k)));
  }
  return path;
}

// RFC 6962 section 2.1.2 SUBPROOF(m, D[n], b), literally.
std::vector<Hash32> NaiveSubproof(uint64_t m, std::span<const Hash32> leaves, bool whole) {
  if (m == leaves.size()) {
    if (whole) return {};
    return {MerkleRootOfLeafHashes(leaves)};
  }
  const uint64_t k = std::bit_floor(leaves.size() - 1);
  std::vector<Hash32> proof;
  if (m <= k) {
    proof = NaiveSubproof(m, leaves.first(k), whole);
    proof.push_back(MerkleRootOfLeafHashes(leaves.subspan(k)));
  } else {
    proof = NaiveSubproof(m - k, leaves.subspan(k), false);
    proof.push_back(MerkleRootOfLeafHashes(leaves.first(k)));
  }
  return proof;
}

std::vector<Hash32> SyntheticLeaves(size_t n) {
  std::vector<Hash32> leaves;
  for (size_t i = 0; i < n; ++i) {
    const std::string data = "leaf-" + std::to_string(i);
    leaves.push_back(LeafHash(AsBytes(data)));
  }
  return leaves;
}

TEST(MerkleHashing, EmptyRootIsSha256OfTheEmptyString) {
  EXPECT_EQ(ToHex(EmptyRoot()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(MerkleRootOfLeafHashes({}), EmptyRoot());
}

TEST(MerkleHashing, LeafHashPrefixesZeroByte) {
  EXPECT_EQ(ToHex(LeafHash({})),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  const Bytes data = {0xde, 0xad, 0xbe, 0xef};
  Bytes prefixed = {0x00};
  prefixed.insert(prefixed.end(), data.begin(), data.end());
  EXPECT_EQ(LeafHash(data), crypto::Sha256(prefixed));
}

TEST(MerkleHashing, NodeHashPrefixesOneByteAndIsOrdered) {
  const Hash32 a = LeafHash(AsBytes("a"));
  const Hash32 b = LeafHash(AsBytes("b"));
  Bytes buf = {0x01};
  buf.insert(buf.end(), a.begin(), a.end());
  buf.insert(buf.end(), b.begin(), b.end());
  EXPECT_EQ(NodeHash(a, b), crypto::Sha256(buf));
  EXPECT_NE(NodeHash(a, b), NodeHash(b, a));
  // Domain separation: a node over (a, b) is not the leaf hash of the bytes a || b.
  Bytes ab(a.begin(), a.end());
  ab.insert(ab.end(), b.begin(), b.end());
  EXPECT_NE(NodeHash(a, b), LeafHash(ab));
}

TEST(MerkleHashing, OneLeafRootIsTheLeafHash) {
  const Hash32 leaf = LeafHash(AsBytes("lot 42"));
  EXPECT_EQ(MerkleRootOfLeafHashes({&leaf, 1}), leaf);
}

TEST(MerkleHashing, MatchesReferenceRootsForSizesZeroToEight) {
  const auto leaves = ReferenceLeafHashes();
  for (size_t n = 0; n <= leaves.size(); ++n) {
    EXPECT_EQ(ToHex(MerkleRootOfLeafHashes(std::span(leaves).first(n))), kReferenceRootsHex[n])
        << "tree size " << n;
  }
}

TEST(MerkleHashing, SplitsAtLargestPowerOfTwoBelowSize) {
  const auto l = SyntheticLeaves(7);
  const Hash32 n01 = NodeHash(l[0], l[1]);
  const Hash32 n23 = NodeHash(l[2], l[3]);
  const Hash32 n45 = NodeHash(l[4], l[5]);
  const Hash32 n0123 = NodeHash(n01, n23);
  EXPECT_EQ(MerkleRootOfLeafHashes(std::span(l).first(2)), n01);
  EXPECT_EQ(MerkleRootOfLeafHashes(std::span(l).first(3)), NodeHash(n01, l[2]));
  EXPECT_EQ(MerkleRootOfLeafHashes(std::span(l).first(4)), n0123);
  EXPECT_EQ(MerkleRootOfLeafHashes(std::span(l).first(5)), NodeHash(n0123, l[4]));
  EXPECT_EQ(MerkleRootOfLeafHashes(std::span(l).first(6)), NodeHash(n0123, n45));
  EXPECT_EQ(MerkleRootOfLeafHashes(std::span(l).first(7)), NodeHash(n0123, NodeHash(n45, l[6])));
}

TEST(VerifyInclusion, AcceptsReferenceProofs) {
  const auto leaves = ReferenceLeafHashes();
  struct Case {
    uint64_t index;
    uint64_t size;
    std::vector<Hash32> path;
  };
  const std::vector<Case> cases = {
      {0, 8,
       Hs({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
           "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
      {5, 8,
       Hs({"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
           "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
           "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
      {2, 3, Hs({"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"})},
      {1, 5,
       Hs({"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
           "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
  };
  for (const Case& c : cases) {
    const Hash32 root = H(kReferenceRootsHex[c.size]);
    EXPECT_TRUE(VerifyInclusion(c.index, c.size, leaves[c.index], c.path, root))
        << "leaf " << c.index << " of " << c.size;
    EXPECT_EQ(NaivePath(c.index, std::span(leaves).first(c.size)), c.path);
  }
}

TEST(VerifyInclusion, SingleLeafTreeHasEmptyPath) {
  const Hash32 leaf = LeafHash(AsBytes("only"));
  EXPECT_TRUE(VerifyInclusion(0, 1, leaf, {}, leaf));
  EXPECT_FALSE(VerifyInclusion(0, 1, leaf, std::vector<Hash32>{leaf}, leaf));
  EXPECT_FALSE(VerifyInclusion(1, 1, leaf, {}, leaf));
  EXPECT_FALSE(VerifyInclusion(0, 0, leaf, {}, leaf));
  EXPECT_FALSE(VerifyInclusion(0, 0, leaf, {}, EmptyRoot()));
}

TEST(VerifyInclusion, AcceptsEveryNaiveProofAndRefusesEveryTampering) {
  // Trees of 1..70 leaves; leaf 70 is in none of them.
  const auto leaves = SyntheticLeaves(71);
  const Hash32& outsider = leaves[70];
  for (uint64_t n = 1; n <= 70; ++n) {
    const auto tree = std::span(leaves).first(n);
    const Hash32 root = MerkleRootOfLeafHashes(tree);
    const Hash32 root_bigger = MerkleRootOfLeafHashes(std::span(leaves).first(n + 1));
    for (uint64_t i = 0; i < n; ++i) {
      const auto path = NaivePath(i, tree);
      ASSERT_TRUE(VerifyInclusion(i, n, leaves[i], path, root)) << i << "/" << n;
      // Another leaf's hash, the other leaf's position, a neighbouring size (with its own root).
      EXPECT_FALSE(VerifyInclusion(i, n, outsider, path, root));
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion((i + 1) % n, n, leaves[i], path, root));
      }
      EXPECT_FALSE(VerifyInclusion(i, n + 1, leaves[i], path, root_bigger));
      EXPECT_FALSE(VerifyInclusion(i, n, leaves[i], path, root_bigger));
      for (size_t p = 0; p < path.size(); ++p) {
        for (int bit : {0, 77, 255}) {
          auto bad = path;
          bad[p][bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
          EXPECT_FALSE(VerifyInclusion(i, n, leaves[i], bad, root)) << i << "/" << n;
        }
      }
      if (!path.empty()) {
        auto truncated = path;
        truncated.pop_back();
        EXPECT_FALSE(VerifyInclusion(i, n, leaves[i], truncated, root));
      }
      auto extended = path;
      extended.push_back(root);
      EXPECT_FALSE(VerifyInclusion(i, n, leaves[i], extended, root));
    }
  }
}

TEST(VerifyConsistency, AcceptsReferenceProofs) {
  const auto leaves = ReferenceLeafHashes();
  struct Case {
    uint64_t first;
    uint64_t second;
    std::vector<Hash32> path;
  };
  const std::vector<Case> cases = {
      {1, 1, {}},
      {1, 8,
       Hs({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
           "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
      {6, 8,
       Hs({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
           "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
           "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
      {2, 5,
       Hs({"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(VerifyConsistency(c.first, c.second, H(kReferenceRootsHex[c.first]),
                                  H(kReferenceRootsHex[c.second]), c.path))
        << c.first << " -> " << c.second;
    if (c.first < c.second) {
      EXPECT_EQ(NaiveSubproof(c.first, std::span(leaves).first(c.second), true), c.path);
    }
  }
}

TEST(VerifyConsistency, EdgeCasesFollowTheDocumentedConventions) {
  const auto leaves = SyntheticLeaves(5);
  const Hash32 r3 = MerkleRootOfLeafHashes(std::span(leaves).first(3));
  const Hash32 r5 = MerkleRootOfLeafHashes(leaves);
  const std::vector<Hash32> one = {r3};
  // Equal sizes: empty path and equal roots.
  EXPECT_TRUE(VerifyConsistency(3, 3, r3, r3, {}));
  EXPECT_FALSE(VerifyConsistency(3, 3, r3, r5, {}));
  EXPECT_FALSE(VerifyConsistency(3, 3, r3, r3, one));
  EXPECT_TRUE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}));
  EXPECT_FALSE(VerifyConsistency(0, 0, r3, r3, {}));
  // From the empty tree: empty path, first root must be the empty root.
  EXPECT_TRUE(VerifyConsistency(0, 5, EmptyRoot(), r5, {}));
  EXPECT_FALSE(VerifyConsistency(0, 5, r3, r5, {}));
  EXPECT_FALSE(VerifyConsistency(0, 5, EmptyRoot(), r5, one));
  // A tree never shrinks; a real extension always needs a proof.
  EXPECT_FALSE(VerifyConsistency(5, 3, r5, r3, {}));
  EXPECT_FALSE(VerifyConsistency(3, 5, r3, r5, {}));
}

TEST(VerifyConsistency, AcceptsEveryNaiveProofAndRefusesEveryTampering) {
  const auto leaves = SyntheticLeaves(40);
  std::vector<Hash32> roots;
  for (size_t n = 0; n <= leaves.size(); ++n) {
    roots.push_back(MerkleRootOfLeafHashes(std::span(leaves).first(n)));
  }
  for (uint64_t n = 2; n <= leaves.size(); ++n) {
    for (uint64_t m = 1; m < n; ++m) {
      const auto proof = NaiveSubproof(m, std::span(leaves).first(n), true);
      ASSERT_TRUE(VerifyConsistency(m, n, roots[m], roots[n], proof)) << m << " -> " << n;
      EXPECT_FALSE(VerifyConsistency(m, n, roots[m - 1], roots[n], proof));
      EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n - 1], proof));
      if (m + 1 < n) {
        EXPECT_FALSE(VerifyConsistency(m + 1, n, roots[m + 1], roots[n], proof));
      }
      if (n < leaves.size()) {
        EXPECT_FALSE(VerifyConsistency(m, n + 1, roots[m], roots[n + 1], proof));
      }
      for (size_t p = 0; p < proof.size(); ++p) {
        auto bad = proof;
        bad[p][31] ^= 0x80;
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], bad)) << m << " -> " << n;
      }
      auto truncated = proof;
      truncated.pop_back();
      EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], truncated));
      auto extended = proof;
      extended.push_back(roots[n]);
      EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], extended));
    }
  }
}

}  // namespace
}  // namespace minetrace::ledger::proof
