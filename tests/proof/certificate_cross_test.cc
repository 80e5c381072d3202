// Goal: the proof library's own consensus sign-bytes, block id, vote digest and QC check
// (ledger/proof/certificate.h) agree exactly with the consensus core's (consensus/types.h),
// which every validator uses to sign. Method: the golden vectors of consensus/src/types_test.cc
// against the proof implementation; then many random headers and QCs (seeded, the seed is
// printed; MINETRACE_SEED replays one) through both, comparing bytes, ids, digests and
// verdicts, with QCs mutated in every way the check must refuse.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "minetrace/consensus/types.h"
#include "minetrace/ledger/proof/certificate.h"

namespace minetrace {
namespace {

namespace lp = ledger::proof;

Hash32 Filled(uint8_t start) {
  Hash32 h{};
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(start + i);
  return h;
}

lp::ConsensusHeader FixedHeader() {
  lp::ConsensusHeader h;
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

consensus::BlockHeader ToConsensus(const lp::ConsensusHeader& h) {
  consensus::BlockHeader c;
  c.epoch = h.epoch;
  c.round = h.round;
  c.height = h.height;
  c.parent_id = h.parent_id;
  c.proposer = h.proposer;
  c.timestamp_ms = h.timestamp_ms;
  c.payload_hash = h.payload_hash;
  c.ledger_root.height = h.ledger_root.height;
  c.ledger_root.accumulator_root = h.ledger_root.accumulator_root;
  c.ledger_root.leaf_count = h.ledger_root.leaf_count;
  return c;
}

consensus::QuorumCertificate ToConsensus(const lp::QuorumCert& qc) {
  consensus::QuorumCertificate c;
  c.epoch = qc.epoch;
  c.round = qc.round;
  c.block_id = qc.block_id;
  c.height = qc.height;
  for (const lp::QcVote& v : qc.votes) c.signatures.push_back({v.signer, v.signature});
  return c;
}

// The same vectors as consensus/src/types_test.cc (checked there with Python's hashlib).
TEST(ProofCertificate, HeaderSignBytesMatchConsensusGolden) {
  EXPECT_EQ(ToHex(lp::ConsensusHeaderSignBytes(FixedHeader())),
            "000000000000000100000000000000070000000000000005"
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            "00000003"
            "0000018bcfe5687b"
            "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
            "0000000000000004"
            "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
            "0000000000000009");
}

TEST(ProofCertificate, BlockIdMatchesConsensusGolden) {
  EXPECT_EQ(ToHex(lp::ConsensusBlockId(FixedHeader())),
            "831c8790565a8a4a926c7749c9e702aafeec8a6fddda2f453946687c58419385");
}

TEST(ProofCertificate, VoteDigestMatchesConsensusGolden) {
  EXPECT_EQ(ToHex(lp::ConsensusVoteDigest(1, 7, Filled(0x20), 5)),
            "82efaa668319dd04e1715017de768aa5e4243bfbeedcc8dd2e4aa6aaac60740a");
}

uint64_t Seed() {
  if (const char* s = std::getenv("MINETRACE_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

Hash32 RandomHash(std::mt19937_64& rng) {
  Hash32 h{};
  for (auto& b : h) b = static_cast<uint8_t>(rng());
  return h;
}

// Widths matter at the edges: small values, the top bit set, the all-ones value.
uint64_t RandomU64(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return rng() % 16;
    case 1:
      return ~uint64_t{0} - rng() % 4;
    default:
      return rng();
  }
}

lp::ConsensusHeader RandomHeader(std::mt19937_64& rng) {
  lp::ConsensusHeader h;
  h.epoch = RandomU64(rng);
  h.round = RandomU64(rng);
  h.height = RandomU64(rng);
  h.parent_id = RandomHash(rng);
  h.proposer = static_cast<uint32_t>(RandomU64(rng));
  h.timestamp_ms = static_cast<int64_t>(RandomU64(rng));
  h.payload_hash = RandomHash(rng);
  h.ledger_root.height = RandomU64(rng);
  h.ledger_root.accumulator_root = RandomHash(rng);
  h.ledger_root.leaf_count = RandomU64(rng);
  return h;
}

TEST(ProofCertificate, RandomHeadersGiveIdenticalBytesIdsAndDigests) {
  const uint64_t seed = Seed();
  std::cout << "seed " << seed << " (MINETRACE_SEED=" << seed << " replays)\n";
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 5000; ++i) {
    lp::ConsensusHeader h = RandomHeader(rng);
    consensus::BlockHeader c = ToConsensus(h);
    ASSERT_EQ(lp::ConsensusHeaderSignBytes(h), consensus::HeaderSignBytes(c)) << "case " << i;
    ASSERT_EQ(lp::ConsensusBlockId(h), consensus::BlockId(c)) << "case " << i;
    const uint64_t epoch = RandomU64(rng), round = RandomU64(rng), height = RandomU64(rng);
    const Hash32 id = RandomHash(rng);
    ASSERT_EQ(lp::ConsensusVoteDigest(epoch, round, id, height),
              consensus::VoteDigest(epoch, round, id, height))
        << "case " << i;
    // The proto round trip keeps every field.
    auto back = lp::ConsensusHeaderFromProto(lp::ConsensusHeaderToProto(h));
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(*back, h);
  }
}

TEST(ProofCertificate, RandomQuorumCertificatesGetIdenticalVerdicts) {
  const uint64_t seed = Seed();
  std::cout << "seed " << seed << " (MINETRACE_SEED=" << seed << " replays)\n";
  std::mt19937_64 rng(seed);
  // Keys are made once from the seed: signing is the slow part.
  std::vector<crypto::PrivateKey> keys;
  for (int i = 0; i < 10; ++i) {
    Hash32 secret = RandomHash(rng);
    secret[0] = 0x01;  // keep it far below the curve order
    auto k = crypto::PrivateKey::FromBytes(secret);
    ASSERT_TRUE(k.has_value());
    keys.push_back(*k);
  }
  int accepted = 0, refused = 0;
  for (int i = 0; i < 400; ++i) {
    const size_t n = 1 + rng() % keys.size();
    lp::TrustedValidators trusted;
    consensus::ValidatorSet set;
    for (size_t k = 0; k < n; ++k) {
      trusted.keys.push_back(keys[k].public_key());
      set.keys.push_back(keys[k].public_key());
    }
    ASSERT_EQ(trusted.quorum(), set.quorum());
    lp::QuorumCert qc;
    qc.epoch = rng() % 3;
    qc.round = RandomU64(rng);
    qc.block_id = RandomHash(rng);
    qc.height = RandomU64(rng);
    // Signers: a random subset of a random size around the quorum, in random order.
    std::vector<uint32_t> order(n);
    for (size_t k = 0; k < n; ++k) order[k] = static_cast<uint32_t>(k);
    std::shuffle(order.begin(), order.end(), rng);
    const size_t count = std::min(n, trusted.quorum() - 1 + rng() % 3);
    const Hash32 digest = lp::ConsensusVoteDigest(qc.epoch, qc.round, qc.block_id, qc.height);
    for (size_t k = 0; k < count; ++k) {
      qc.votes.push_back({order[k], keys[order[k]].Sign(digest, Hash32{})});
    }
    switch (rng() % 8) {
      case 0:  // a flipped signature byte
        if (!qc.votes.empty()) qc.votes[rng() % qc.votes.size()].signature[rng() % 64] ^= 0x01;
        break;
      case 1:  // a repeated signer
        if (!qc.votes.empty()) qc.votes.push_back(qc.votes[rng() % qc.votes.size()]);
        break;
      case 2:  // a signer index outside the set
        if (!qc.votes.empty()) qc.votes[rng() % qc.votes.size()].signer += n;
        break;
      case 3:  // a key outside the set signs under an index of the set
        if (!qc.votes.empty()) {
          qc.votes[rng() % qc.votes.size()].signature =
              keys[keys.size() - 1 - rng() % 2].Sign(digest, Hash32{});
        }
        break;
      case 4:  // signatures over another block
        if (!qc.votes.empty()) qc.block_id[rng() % 32] ^= 0x80;
        break;
      default:
        break;
    }
    const bool proof_ok = lp::CheckQuorumCert(trusted, qc).has_value();
    const bool consensus_ok = !consensus::QcSignatureProblem(set, ToConsensus(qc)).has_value();
    ASSERT_EQ(proof_ok, consensus_ok) << "case " << i << " seed " << seed;
    (proof_ok ? accepted : refused)++;
    auto back = lp::QuorumCertFromProto(lp::QuorumCertToProto(qc));
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(ToConsensus(*back), ToConsensus(qc));
  }
  // Both outcomes were exercised, or the comparison proves little.
  EXPECT_GT(accepted, 50);
  EXPECT_GT(refused, 50);
}

}  // namespace
}  // namespace minetrace
