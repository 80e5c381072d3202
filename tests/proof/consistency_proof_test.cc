// Goal: a consistency bundle joining two certified roots of a real ledger verifies offline
// against the trusted genesis, and fails with a message naming what failed when the roots
// come in the wrong order, the path is altered, shortened or lengthened, the later root is
// one the ledger never had (a rewritten history certified by a quorum), a QC lacks a quorum,
// or the chain or keys are not the trusted ones.
// Method: the ledger test fixture runs part of a chain on a 4-validator genesis, the test
// signs a QC over a header naming the ledger's root then (first), runs the rest of the chain
// and certifies the new root (second); the node's builder joins them and ledger/proof's
// VerifyConsistencyBundle checks the bundle and tampered copies.
#include "minetrace/ledger/proof/consistency_proof.h"

#include <gtest/gtest.h>

#include "minetrace/ledger/proof/certificate.h"
#include "proof_bundle.h"
#include "test_fixture.h"

namespace minetrace {
namespace {

namespace lp = ledger::proof;
using ledger::testing::KeyFromSeed;
using ledger::testing::KeyStr;

class ConsistencyProofTest : public ledger::testing::LedgerFixture {
 protected:
  void SetUp() override {
    dir_ = ledger::testing::FreshDir("consistency");
    genesis_.set_chain_id("test-chain");
    genesis_.set_genesis_time_ms(ledger::testing::kGenesisMs);
    for (size_t i = 0; i < validators_.size(); ++i) {
      auto* v = genesis_.add_validators();
      v->set_key(KeyStr(validators_[i]));
      v->set_name("validator-" + std::to_string(i));
    }
    auto* a = genesis_.add_administrators();
    a->set_key(KeyStr(admin_));
    a->set_name("secretariat");
    Reopen();
  }

  // A header one height above the head naming the head's ledger root (or `root` when given),
  // and a QC over it by the validators `signers`.
  v1::CertifiedHeader CertifyHead(const std::vector<uint32_t>& signers,
                                  const std::optional<Hash32>& root = std::nullopt) {
    v1::LedgerInfo head = ledger_->head();
    lp::ConsensusHeader header;
    header.epoch = 0;
    header.round = head.height() + 7;
    header.height = head.height() + 1;
    header.proposer = 1;
    header.timestamp_ms = now_ms_;
    header.ledger_root.height = head.height();
    std::copy(head.accumulator_root().begin(), head.accumulator_root().end(),
              header.ledger_root.accumulator_root.begin());
    if (root) header.ledger_root.accumulator_root = *root;
    header.ledger_root.leaf_count = head.leaf_count();
    lp::QuorumCert qc;
    qc.epoch = header.epoch;
    qc.round = header.round;
    qc.block_id = lp::ConsensusBlockId(header);
    qc.height = header.height;
    const Hash32 digest = lp::ConsensusVoteDigest(qc.epoch, qc.round, qc.block_id, qc.height);
    for (uint32_t s : signers) qc.votes.push_back({s, validators_[s].Sign(digest, Hash32{})});
    v1::CertifiedHeader out;
    *out.mutable_header() = lp::ConsensusHeaderToProto(header);
    *out.mutable_qc() = lp::QuorumCertToProto(qc);
    return out;
  }

  // Certifies the root after the first lots (first_), then after more txs (second_).
  void TwoRoots() {
    SetUpChain();
    LotTo("T0000001", processor_, 50000);
    first_ = CertifyHead({0, 1, 2, 3});
    LotTo("T0000002", processor_, 30000);
    ExpectOk(Process(processor_, v1::PROCESSING_KIND_MERGE, {"T0000001", "T0000002"},
                     {{"P0000001", 70000}}));
    LotTo("T0000003", trader_);
    second_ = CertifyHead({0, 1, 2, 3});
    ASSERT_LT(first_.header().ledger_root().leaf_count(),
              second_.header().ledger_root().leaf_count());
  }

  v1::ConsistencyBundle Bundle() {
    auto b = node::BuildConsistencyBundle(*ledger_, first_, second_);
    EXPECT_TRUE(b) << b.error().ToString();
    return b ? *b : v1::ConsistencyBundle();
  }

  std::string Failure(const v1::ConsistencyBundle& bundle) {
    auto v = lp::VerifyConsistencyBundle(bundle, genesis_);
    return v ? std::string() : v.error().message;
  }

  std::vector<crypto::PrivateKey> validators_ = {validator_, KeyFromSeed(101), KeyFromSeed(102),
                                                 KeyFromSeed(103)};
  v1::CertifiedHeader first_;
  v1::CertifiedHeader second_;
};

#define EXPECT_FAILS_WITH(bundle, words)                                                  \
  do {                                                                                    \
    const std::string failure_ = Failure(bundle);                                         \
    EXPECT_NE(failure_.find(words), std::string::npos)                                    \
        << "expected a failure naming \"" << (words) << "\", got \"" << failure_ << "\""; \
  } while (0)

TEST_F(ConsistencyProofTest, LaterRootExtendsEarlierOne) {
  TwoRoots();
  v1::ConsistencyBundle bundle = Bundle();
  EXPECT_GT(bundle.consistency_path_size(), 0);
  auto v = lp::VerifyConsistencyBundle(bundle, genesis_);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->first.leaf_count, first_.header().ledger_root().leaf_count());
  EXPECT_EQ(v->second.leaf_count, ledger_->head().leaf_count());
  EXPECT_EQ(v->second.height, ledger_->head().height());
  EXPECT_EQ(v->first_signatures, 4u);
  EXPECT_EQ(v->validator_count, 4u);
  EXPECT_EQ(v->path_length, static_cast<size_t>(bundle.consistency_path_size()));
  // The same root twice: the empty path.
  second_ = first_;
  bundle = Bundle();
  EXPECT_EQ(bundle.consistency_path_size(), 0);
  EXPECT_EQ(Failure(bundle), "");
}

TEST_F(ConsistencyProofTest, RootsInTheWrongOrderAreRefused) {
  TwoRoots();
  auto refused = node::BuildConsistencyBundle(*ledger_, second_, first_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("older than the first"), std::string::npos);
  v1::ConsistencyBundle bundle = Bundle();
  std::swap(*bundle.mutable_first(), *bundle.mutable_second());
  EXPECT_FAILS_WITH(bundle, "is older than the first");
}

TEST_F(ConsistencyProofTest, AlteredPathsFail) {
  TwoRoots();
  const v1::ConsistencyBundle good = Bundle();
  ASSERT_EQ(Failure(good), "");
  for (int i = 0; i < good.consistency_path_size(); ++i) {
    v1::ConsistencyBundle bad = good;
    (*bad.mutable_consistency_path(i))[5] ^= 0x01;
    EXPECT_FAILS_WITH(bad, "does not prove that the second root");
  }
  v1::ConsistencyBundle shorter = good;
  shorter.mutable_consistency_path()->RemoveLast();
  EXPECT_FAILS_WITH(shorter, "does not prove");
  v1::ConsistencyBundle longer = good;
  longer.add_consistency_path(good.consistency_path(0));
  EXPECT_FAILS_WITH(longer, "does not prove");
  v1::ConsistencyBundle empty = good;
  empty.clear_consistency_path();
  EXPECT_FAILS_WITH(empty, "does not prove");
  v1::ConsistencyBundle short_hash = good;
  short_hash.mutable_consistency_path(0)->pop_back();
  EXPECT_FAILS_WITH(short_hash, "hash 0 of the consistency path is not 32 bytes");
}

TEST_F(ConsistencyProofTest, ARewrittenHistoryCertifiedByAQuorumIsCaught) {
  TwoRoots();
  v1::ConsistencyBundle bundle = Bundle();
  // A quorum that signs a root the ledger never had (the same size, other receipts): its
  // QC checks, the path does not.
  Hash32 forged{};
  forged[0] = 0x42;
  *bundle.mutable_second() = CertifyHead({0, 1, 2, 3}, forged);
  EXPECT_FAILS_WITH(bundle, "the ledger was rewritten between them");
  // The first root altered in the header alone: its QC no longer certifies it.
  bundle = Bundle();
  (*bundle.mutable_first()
        ->mutable_header()
        ->mutable_ledger_root()
        ->mutable_accumulator_root())[0] ^= 0x01;
  EXPECT_FAILS_WITH(bundle, "the first header (block at height");
}

TEST_F(ConsistencyProofTest, QuorumChainAndKeysAreChecked) {
  TwoRoots();
  const v1::ConsistencyBundle good = Bundle();
  v1::ConsistencyBundle bad = good;
  *bad.mutable_second() = CertifyHead({0, 2});
  auto v = lp::VerifyConsistencyBundle(bad, genesis_);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(v.error().message.find("the second header"), std::string::npos) << v.error().message;
  bad = good;
  bad.set_chain_id("other-chain");
  EXPECT_FAILS_WITH(bad, "is for chain 'other-chain'");
  bad = good;
  *bad.mutable_validator_keys(2) = KeyStr(KeyFromSeed(200));
  EXPECT_FAILS_WITH(bad, "outside the trusted set");
  bad = good;
  bad.set_version(2);
  EXPECT_FAILS_WITH(bad, "version 2 is not supported");
  bad = good;
  bad.clear_first();
  EXPECT_FAILS_WITH(bad, "the first certified header lacks its header or QC");
}

TEST_F(ConsistencyProofTest, StoredCertificatesBeforeTheFirstBlockAreUnavailable) {
  auto b = node::BuildConsistencyBundleAtHeights(*ledger_, 0, 0);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace minetrace
