// The verifier's domain checks on hand-made ledgers: custody breaks, mass gain in processing,
// histories that do not start at a creation, failed receipts, forks and non-custody actions.
// A correct ledger refuses all of these, so tests/proof/provenance_proof_test.cc (bundles of
// a real ledger) cannot produce them; here a test builds receipts, lot links, the accumulator
// root (the RFC 6962 reference definition), inclusion paths and a QC itself, as a faulty
// quorum could. A baseline bundle of the same builder verifies, so each failure is the one
// named.
#include "minetrace/ledger/proof/provenance_proof.h"

#include <gtest/gtest.h>

#include <bit>
#include <map>

#include "minetrace/ledger/proof/certificate.h"
#include "minetrace/ledger/proof/merkle.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::ledger::proof {
namespace {

crypto::PrivateKey Key(uint8_t n) {
  Bytes secret(32, 0x31);
  secret[31] = n;
  return *crypto::PrivateKey::FromBytes(secret);
}

std::string KeyStr(const crypto::PrivateKey& k) { return HashString(k.public_key()); }

// RFC 6962 PATH(m, D[n]) over leaf hashes, from the leaf upwards.
std::vector<Hash32> Path(uint64_t m, std::span<const Hash32> leaves) {
  if (leaves.size() <= 1) return {};
  const uint64_t k = std::bit_floor(leaves.size() - 1);
  std::vector<Hash32> path;
  if (m < k) {
    path = Path(m, leaves.first(k));
    path.push_back(MerkleRootOfLeafHashes(leaves.subspan(k)));
  } else {
    path = Path(m - k, leaves.subspan(k));
    path.push_back(MerkleRootOfLeafHashes(leaves.first(k)));
  }
  return path;
}

class HandMadeLedger : public ::testing::Test {
 protected:
  void SetUp() override {
    genesis_.set_chain_id("test-chain");
    for (const auto& v : validators_) genesis_.add_validators()->set_key(KeyStr(v));
    genesis_.add_administrators()->set_key(KeyStr(Key(99)));
  }

  // Appends `body` signed by `signer` as the next leaf, its receipt linking `lots` to their
  // previous receipts (none for the lots in `created`).
  void Add(const crypto::PrivateKey& signer, v1::TxBody body, std::vector<std::string> lots,
           v1::TxStatus status = v1::TX_STATUS_OK) {
    body.set_chain_id("test-chain");
    body.set_nonce(txs_.size() + 1);
    body.set_created_at_ms(1'790'000'000'000 + static_cast<int64_t>(txs_.size()) * 1000);
    v1::SignedTx tx = SignTxWithAux(body, signer, Hash32{});
    v1::Receipt r;
    r.set_tx_id(HashString(TxId(tx)));
    r.set_signer(tx.signer());
    r.set_height(txs_.size() + 1);
    r.set_status(status);
    r.set_leaf_index(txs_.size());
    r.set_block_time_ms(body.created_at_ms());
    for (const auto& lot : lots) {
      v1::LotLink* link = r.add_lot_links();
      link->set_lot_id(lot);
      link->set_previous_receipt_hash(last_[lot]);
    }
    const std::string bytes = r.SerializeAsString();
    for (const auto& lot : lots) last_[lot] = HashString(ReceiptHash(AsBytes(bytes)));
    txs_.push_back(tx);
    receipts_.push_back(bytes);
  }

  v1::TxBody Record(const std::string& tag, uint64_t grams) {
    v1::TxBody b;
    auto* a = b.mutable_record_mine_lot();
    a->set_tag_id(tag);
    a->set_site_id("CD-1");
    a->set_mineral(v1::MINERAL_CASSITERITE);
    a->set_weight_grams(grams);
    a->set_grade_basis_points(6500);
    a->set_producer_key(KeyStr(coop_));
    return b;
  }
  v1::TxBody Dispatch(const std::string& lot, const crypto::PrivateKey& to) {
    v1::TxBody b;
    b.mutable_dispatch_lots()->add_lot_ids(lot);
    b.mutable_dispatch_lots()->set_receiver_key(KeyStr(to));
    return b;
  }
  v1::TxBody Receive(const std::string& lot, uint64_t grams) {
    v1::TxBody b;
    auto* r = b.mutable_receive_lots()->add_lots();
    r->set_lot_id(lot);
    r->set_weight_grams(grams);
    return b;
  }

  // The bundle of `lot`: every tx added, a header naming the root of all leaves, a QC of
  // all four validators.
  v1::ProvenanceProof Bundle(const std::string& lot) {
    std::vector<Hash32> leaves;
    for (const auto& r : receipts_) leaves.push_back(ReceiptHash(AsBytes(r)));
    ConsensusHeader h;
    h.round = 40;
    h.height = txs_.size() + 4;
    h.ledger_root = {txs_.size(), MerkleRootOfLeafHashes(leaves), leaves.size()};
    QuorumCert qc;
    qc.round = h.round;
    qc.height = h.height;
    qc.block_id = ConsensusBlockId(h);
    const Hash32 digest = ConsensusVoteDigest(0, qc.round, qc.block_id, qc.height);
    for (uint32_t i = 0; i < validators_.size(); ++i) {
      qc.votes.push_back({i, validators_[i].Sign(digest, Hash32{})});
    }
    v1::ProvenanceProof b;
    b.set_version(1);
    b.set_chain_id("test-chain");
    for (const auto& v : validators_) b.add_validator_keys(KeyStr(v));
    *b.mutable_header() = ConsensusHeaderToProto(h);
    *b.mutable_qc() = QuorumCertToProto(qc);
    *b.mutable_ledger_root() = b.header().ledger_root();
    b.add_lot_ids(lot);
    for (size_t i = 0; i < txs_.size(); ++i) {
      v1::ProofTx* t = b.add_txs();
      *t->mutable_tx() = txs_[i];
      t->set_receipt(receipts_[i]);
      t->set_leaf_index(i);
      for (const Hash32& p : Path(i, leaves)) t->add_inclusion_path(HashString(p));
    }
    return b;
  }

  std::string Failure(const std::string& lot) {
    auto v = VerifyProvenanceProof(Bundle(lot), genesis_);
    return v ? std::string() : v.error().message;
  }

  std::vector<crypto::PrivateKey> validators_ = {Key(1), Key(2), Key(3), Key(4)};
  crypto::PrivateKey agent_ = Key(10), coop_ = Key(11), trader_ = Key(12), processor_ = Key(13),
                     stranger_ = Key(14);
  v1::Genesis genesis_;
  std::vector<v1::SignedTx> txs_;
  std::vector<std::string> receipts_;
  std::map<std::string, std::string> last_;
};

#define EXPECT_FAILURE_NAMES(lot, words)                                                  \
  do {                                                                                    \
    const std::string failure_ = Failure(lot);                                            \
    EXPECT_NE(failure_.find(words), std::string::npos)                                    \
        << "expected a failure naming \"" << (words) << "\", got \"" << failure_ << "\""; \
  } while (0)

TEST_F(HandMadeLedger, BaselineCustodyChainVerifies) {
  Add(agent_, Record("T1", 50000), {"T1"});
  Add(coop_, Dispatch("T1", trader_), {"T1"});
  Add(trader_, Receive("T1", 49000), {"T1"});
  EXPECT_EQ(Failure("T1"), "");
  auto v = VerifyProvenanceProof(Bundle("T1"), genesis_);
  ASSERT_TRUE(v);
  const v1::Lot& lot = v->provenance.lots(0).lot();
  EXPECT_EQ(lot.holder_key(), KeyStr(trader_));
  EXPECT_EQ(lot.weight_grams(), 49000u);
  EXPECT_EQ(lot.status(), v1::LOT_STATUS_HELD);
  EXPECT_EQ(v->provenance.lots(0).events_size(), 3);
}

TEST_F(HandMadeLedger, DispatchByANonHolderBreaksCustody) {
  Add(agent_, Record("T1", 50000), {"T1"});
  Add(stranger_, Dispatch("T1", trader_), {"T1"});
  EXPECT_FAILURE_NAMES("T1", "custody broken: lot 'T1' at tx ");
  EXPECT_FAILURE_NAMES("T1", "dispatch_lots signed by member " +
                                 ToHex(ByteView(stranger_.public_key().data(), 8)) +
                                 "... but the lot is held by member " +
                                 ToHex(ByteView(coop_.public_key().data(), 8)));
}

TEST_F(HandMadeLedger, ReceiptByAnotherThanTheNamedReceiverBreaksCustody) {
  Add(agent_, Record("T1", 50000), {"T1"});
  Add(coop_, Dispatch("T1", trader_), {"T1"});
  Add(stranger_, Receive("T1", 50000), {"T1"});
  EXPECT_FAILURE_NAMES("T1", "was not in transit to it");
}

TEST_F(HandMadeLedger, ProcessingOutputsHeavierThanInputsBreakMassBalance) {
  Add(agent_, Record("T1", 50000), {"T1"});
  Add(coop_, Dispatch("T1", processor_), {"T1"});
  Add(processor_, Receive("T1", 50000), {"T1"});
  v1::TxBody b;
  auto* p = b.mutable_process_lots();
  p->set_kind(v1::PROCESSING_KIND_MERGE);
  p->add_input_lot_ids("T1");
  auto* o = p->add_outputs();
  o->set_tag_id("P1");
  o->set_weight_grams(60000);
  o->set_grade_basis_points(6500);
  Add(processor_, b, {"T1", "P1"});
  EXPECT_FAILURE_NAMES("P1", "mass balance broken at tx ");
  EXPECT_FAILURE_NAMES("P1", "outputs weigh 60000 g but the inputs only 50000 g");
}

TEST_F(HandMadeLedger, ProcessingWithinMassBalanceVerifiesAndFollowsTheInputs) {
  Add(agent_, Record("T1", 50000), {"T1"});
  Add(coop_, Dispatch("T1", processor_), {"T1"});
  Add(processor_, Receive("T1", 50000), {"T1"});
  v1::TxBody b;
  auto* p = b.mutable_process_lots();
  p->set_kind(v1::PROCESSING_KIND_MERGE);
  p->add_input_lot_ids("T1");
  auto* o = p->add_outputs();
  o->set_tag_id("P1");
  o->set_weight_grams(45000);
  Add(processor_, b, {"T1", "P1"});
  auto v = VerifyProvenanceProof(Bundle("P1"), genesis_);
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_EQ(v->provenance.lots_size(), 2);
  EXPECT_EQ(v->provenance.lots(1).lot().status(), v1::LOT_STATUS_CONSUMED);
  EXPECT_EQ(v->provenance.lots(0).lot().processing_loss_grams(), 5000u);
  EXPECT_EQ(v->provenance.lots(0).lot().mine_site_ids(0), "CD-1");
}

TEST_F(HandMadeLedger, HistoryThatDoesNotStartAtACreationFails) {
  // A dispatch whose receipt claims the lot had no previous event.
  Add(coop_, Dispatch("T1", trader_), {"T1"});
  EXPECT_FAILURE_NAMES("T1", "its history starts here, not at its creation");
}

TEST_F(HandMadeLedger, ALotCreatedTwiceFails) {
  Add(agent_, Record("T1", 50000), {"T1"});
  Add(agent_, Record("T1", 50000), {"T1"});
  EXPECT_FAILURE_NAMES("T1", "the lot is created a second time");
}

TEST_F(HandMadeLedger, AFailedReceiptIsNoCustodyEvent) {
  Add(agent_, Record("T1", 50000), {"T1"});
  Add(coop_, Dispatch("T1", trader_), {"T1"}, v1::TX_STATUS_FAILED);
  EXPECT_FAILURE_NAMES("T1", "FAILED on the ledger");
}

TEST_F(HandMadeLedger, ANonCustodyActionLinkingALotFails) {
  Add(agent_, Record("T1", 50000), {"T1"});
  v1::TxBody b;
  b.mutable_report_tags()->add_tag_ids("T1");
  Add(agent_, b, {"T1"});
  EXPECT_FAILURE_NAMES("T1", "report_tags is no custody event");
}

TEST_F(HandMadeLedger, AForkedHistoryFails) {
  Add(agent_, Record("T1", 50000), {"T1"});
  const std::string after_record = last_["T1"];
  Add(coop_, Dispatch("T1", trader_), {"T1"});
  last_["T1"] = after_record;  // a second event claims the same predecessor
  Add(coop_, Dispatch("T1", processor_), {"T1"});
  EXPECT_FAILURE_NAMES("T1", "requested lot 'T1' has 2 latest events");
}

}  // namespace
}  // namespace minetrace::ledger::proof
