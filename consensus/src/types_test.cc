// Golden vectors for the canonical sign-bytes: a fixed header, vote and timeout and the exact
// bytes and digests they give. Any accidental change of the encoding (field order, width,
// endianness, domain tag) changes a hex string here and fails, because every replica must
// compute the same block ids and signature digests forever.
#include "minetrace/consensus/types.h"

#include <gtest/gtest.h>

namespace minetrace::consensus {
namespace {

Hash32 Filled(uint8_t start) {
  Hash32 h{};
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(start + i);
  return h;
}

BlockHeader FixedHeader() {
  BlockHeader h;
  h.epoch = 1;
  h.round = 7;
  h.height = 5;
  h.parent_id = Filled(0x00);
  h.proposer = 3;
  h.timestamp_ms = 1700000000123;
  h.payload_hash = Filled(0x40);
  h.ledger_root.height = 4;
  h.ledger_root.accumulator_root = Filled(0x80);
  h.ledger_root.leaf_count = 9;
  return h;
}

// The digests below were checked independently with Python's hashlib over the same bytes.
TEST(ConsensusTypes, HeaderSignBytesGolden) {
  EXPECT_EQ(ToHex(HeaderSignBytes(FixedHeader())),
            "000000000000000100000000000000070000000000000005"  // epoch, round, height
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"  // parent id
            "00000003"                                                          // proposer
            "0000018bcfe5687b"                                                  // timestamp_ms
            "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"  // payload hash
            "0000000000000004"  // ledger root height
            "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"  // accumulator
            "0000000000000009");                                                // leaf count
}

TEST(ConsensusTypes, BlockIdGolden) {
  EXPECT_EQ(ToHex(BlockId(FixedHeader())),
            "831c8790565a8a4a926c7749c9e702aafeec8a6fddda2f453946687c58419385");
}

TEST(ConsensusTypes, VoteDigestGolden) {
  EXPECT_EQ(ToHex(VoteDigest(1, 7, Filled(0x20), 5)),
            "82efaa668319dd04e1715017de768aa5e4243bfbeedcc8dd2e4aa6aaac60740a");
}

TEST(ConsensusTypes, ProposalDigestGolden) {
  EXPECT_EQ(ToHex(ProposalDigest(Filled(0x20))),
            "2693ee5c8618ba151c4d8dbf24049701ecbb89856b29068fcc6a4b65cdfcc5c0");
}

TEST(ConsensusTypes, TimeoutDigestGolden) {
  EXPECT_EQ(ToHex(TimeoutDigest(1, 7, 5)),
            "3952a7ffcc2ab0c9d526acf7a50983ab00ca31677428f0b0af5d6e1185143aa0");
}

TEST(ConsensusTypes, NegativeTimestampIsTwosComplement) {
  BlockHeader h = FixedHeader();
  h.timestamp_ms = -1;
  Bytes b = HeaderSignBytes(h);
  // epoch, round, height (24) + parent id (32) + proposer (4) = 60: the timestamp follows.
  ASSERT_GE(b.size(), 68u);
  for (size_t i = 60; i < 68; ++i) EXPECT_EQ(b[i], 0xff);
}

TEST(ConsensusTypes, EveryHeaderFieldChangesTheId) {
  Hash32 base = BlockId(FixedHeader());
  BlockHeader h = FixedHeader();
  h.epoch++;
  EXPECT_NE(BlockId(h), base);
  h = FixedHeader();
  h.round++;
  EXPECT_NE(BlockId(h), base);
  h = FixedHeader();
  h.height++;
  EXPECT_NE(BlockId(h), base);
  h = FixedHeader();
  h.parent_id[31] ^= 1;
  EXPECT_NE(BlockId(h), base);
  h = FixedHeader();
  h.proposer++;
  EXPECT_NE(BlockId(h), base);
  h = FixedHeader();
  h.timestamp_ms++;
  EXPECT_NE(BlockId(h), base);
  h = FixedHeader();
  h.payload_hash[0] ^= 1;
  EXPECT_NE(BlockId(h), base);
  h = FixedHeader();
  h.ledger_root.height++;
  EXPECT_NE(BlockId(h), base);
  h = FixedHeader();
  h.ledger_root.accumulator_root[5] ^= 1;
  EXPECT_NE(BlockId(h), base);
  h = FixedHeader();
  h.ledger_root.leaf_count++;
  EXPECT_NE(BlockId(h), base);
}

ValidatorSet SetOf(size_t n) {
  ValidatorSet set;
  for (size_t i = 0; i < n; ++i) set.keys.push_back(Filled(static_cast<uint8_t>(i)));
  return set;
}

TEST(ValidatorSet, QuorumIsNMinusF) {
  EXPECT_EQ(SetOf(1).max_faulty(), 0u);
  EXPECT_EQ(SetOf(1).quorum(), 1u);
  EXPECT_EQ(SetOf(4).max_faulty(), 1u);
  EXPECT_EQ(SetOf(4).quorum(), 3u);
  EXPECT_EQ(SetOf(7).max_faulty(), 2u);
  EXPECT_EQ(SetOf(7).quorum(), 5u);
}

TEST(ValidatorSet, IndexOfFindsKeys) {
  ValidatorSet set = SetOf(4);
  EXPECT_EQ(set.IndexOf(Filled(2)), 2u);
  EXPECT_EQ(set.IndexOf(Filled(9)), std::nullopt);
}

}  // namespace
}  // namespace minetrace::consensus
