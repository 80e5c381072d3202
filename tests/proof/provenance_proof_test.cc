// Goal: a provenance proof bundle built from a real ledger verifies offline against the
// trusted genesis, the verdict rebuilds the same lots and shipment the ledger holds (and the
// members, sites and site status at record from the bundle's context txs), and
// each kind of tampering (a flipped byte, a dropped, extra or reordered tx, a receipt of
// another tx, a wrong root, a QC of another header, too few signatures, keys outside the
// trusted set) fails with a message naming what failed.
// Method: the ledger test fixture runs a whole chain (two mine lots merged by a processor,
// sold to an exporter, shipped, certified, delivered to a smelter) on a 4-validator genesis;
// the test signs a QC over a consensus header naming the ledger's head root with the four
// validator keys, builds the bundle with the node's builder and verifies it, then tampers.
#include "minetrace/ledger/proof/provenance_proof.h"

#include <gtest/gtest.h>

#include "minetrace/ledger/proof/bundle_context.h"
#include "minetrace/ledger/proof/certificate.h"
#include "minetrace/ledger/proof/tx.h"
#include "proof_bundle.h"
#include "test_fixture.h"

namespace minetrace {
namespace {

namespace lp = ledger::proof;
using ledger::testing::KeyFromSeed;
using ledger::testing::KeyStr;

class ProvenanceProofTest : public ledger::testing::LedgerFixture {
 protected:
  void SetUp() override {
    dir_ = ledger::testing::FreshDir("proof");
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

  // Mine lots T0000001 (50 kg) and T0000002 (30 kg) merged into P0000001 (70 kg), sold to
  // the exporter, shipped as SH-1, certified and received by the smelter (60 kg). T0000003
  // goes to a trader: not in SH-1's graph.
  void ShipToSmelter() {
    SetUpChain();
    LotTo("T0000001", processor_, 50000);
    LotTo("T0000002", processor_, 30000);
    ExpectOk(Process(processor_, v1::PROCESSING_KIND_MERGE, {"T0000001", "T0000002"},
                     {{"P0000001", 70000}}));
    ExpectOk(Dispatch(processor_, {"P0000001"}, exporter_));
    ExpectOk(Receive(exporter_, "P0000001", 70000));
    LotTo("T0000003", trader_);
    ExpectOk(FormShipment(exporter_, "SH-1", {"P0000001"}));
    ExpectOk(Certify(certifier_, "SH-1", "ICGLR-CD-0001"));
    ExpectOk(DispatchShipment(exporter_, "SH-1", smelter_));
    ExpectOk(ReceiveShipment(smelter_, "SH-1", 60000));
  }

  // A header one height above the head naming the head's ledger root, and a QC over it
  // signed by the validators `signers` (indexes).
  void CertifyHead(std::vector<uint32_t> signers) {
    v1::LedgerInfo head = ledger_->head();
    header_ = lp::ConsensusHeader{};
    header_.epoch = 0;
    header_.round = head.height() + 7;
    header_.height = head.height() + 1;
    header_.proposer = 1;
    header_.timestamp_ms = now_ms_;
    header_.ledger_root.height = head.height();
    std::copy(head.accumulator_root().begin(), head.accumulator_root().end(),
              header_.ledger_root.accumulator_root.begin());
    header_.ledger_root.leaf_count = head.leaf_count();
    qc_ = Sign(header_, signers);
  }
  lp::QuorumCert Sign(const lp::ConsensusHeader& header, const std::vector<uint32_t>& signers) {
    lp::QuorumCert qc;
    qc.epoch = header.epoch;
    qc.round = header.round;
    qc.block_id = lp::ConsensusBlockId(header);
    qc.height = header.height;
    const Hash32 digest = lp::ConsensusVoteDigest(qc.epoch, qc.round, qc.block_id, qc.height);
    for (uint32_t s : signers) qc.votes.push_back({s, validators_[s].Sign(digest, Hash32{})});
    return qc;
  }

  v1::ProvenanceProof Bundle(std::string_view lot_id, std::string_view shipment_id) {
    auto b =
        node::BuildProvenanceProof(*ledger_, lot_id, shipment_id,
                                   lp::ConsensusHeaderToProto(header_), lp::QuorumCertToProto(qc_));
    EXPECT_TRUE(b) << b.error().ToString();
    return b ? *b : v1::ProvenanceProof();
  }

  // The verifier's error message, or "" when the bundle verifies.
  std::string Failure(const v1::ProvenanceProof& bundle) {
    auto v = lp::VerifyProvenanceProof(bundle, genesis_);
    return v ? std::string() : v.error().message;
  }

  // The index in `bundle.txs` of the tx whose body's action is `action` and names `id`.
  int TxIndex(const v1::ProvenanceProof& bundle, const std::string& action, const std::string& id) {
    for (int i = 0; i < bundle.txs_size(); ++i) {
      v1::TxBody body;
      body.ParseFromString(bundle.txs(i).tx().body());
      v1::Receipt r;
      r.ParseFromString(bundle.txs(i).receipt());
      bool names = false;
      for (const auto& l : r.lot_links()) names = names || l.lot_id() == id;
      const auto* oneof = v1::TxBody::descriptor()->FindOneofByName("action");
      const auto* f = v1::TxBody::GetReflection()->GetOneofFieldDescriptor(body, oneof);
      if (f != nullptr && f->name() == action && names) return i;
    }
    ADD_FAILURE() << "no " << action << " of " << id;
    return 0;
  }

  // The index in `bundle.context_txs` of the tx whose action is `action` and that names
  // `key` (a member key) or `site` (a site id); -1 when there is none.
  int ContextIndex(const v1::ProvenanceProof& bundle, v1::TxBody::ActionCase action,
                   const std::string& key_or_site) {
    for (int i = 0; i < bundle.context_txs_size(); ++i) {
      v1::TxBody body;
      body.ParseFromString(bundle.context_txs(i).tx().body());
      if (body.action_case() != action) continue;
      if (lp::SiteIdOf(body) == key_or_site) return i;
      if (action == v1::TxBody::kRegisterMember &&
          body.register_member().member_key() == key_or_site) {
        return i;
      }
    }
    return -1;
  }
  const v1::Member* MemberIn(const v1::Provenance& p, const crypto::PrivateKey& who) {
    for (const v1::Member& m : p.members()) {
      if (m.key() == KeyStr(who)) return &m;
    }
    return nullptr;
  }
  const v1::Lot* LotIn(const v1::Provenance& p, const std::string& id) {
    for (const auto& l : p.lots()) {
      if (l.lot().lot_id() == id) return &l.lot();
    }
    return nullptr;
  }
  v1::Receipt Inspect(v1::SiteStatus result) {
    auto b = Body();
    auto* a = b.mutable_record_inspection();
    a->set_site_id("CD-1");
    a->set_inspected_at_ms(now_ms_ - 500);
    a->set_result(result);
    a->set_inspector("joint mission");
    a->set_report_hash(std::string(32, '\x07'));
    return Commit(b, regulator_);
  }
  v1::Receipt SetStatus(v1::SiteStatus status) {
    auto b = Body();
    auto* a = b.mutable_set_site_status();
    a->set_site_id("CD-1");
    a->set_status(status);
    a->set_reason("risk review");
    return Commit(b, regulator_);
  }

  std::vector<crypto::PrivateKey> validators_ = {validator_, KeyFromSeed(101), KeyFromSeed(102),
                                                 KeyFromSeed(103)};
  lp::ConsensusHeader header_;
  lp::QuorumCert qc_;
};

#define EXPECT_FAILS_WITH(bundle, words)                                                  \
  do {                                                                                    \
    const std::string failure_ = Failure(bundle);                                         \
    EXPECT_NE(failure_.find(words), std::string::npos)                                    \
        << "expected a failure naming \"" << (words) << "\", got \"" << failure_ << "\""; \
  } while (0)

TEST_F(ProvenanceProofTest, ShipmentBundleVerifiesAndRebuildsTheLedgersRecords) {
  ShipToSmelter();
  CertifyHead({0, 1, 2, 3});
  v1::ProvenanceProof bundle = Bundle("", "SH-1");
  // record, dispatch, receive for each mine lot; process; dispatch, receive; form, certify,
  // dispatch and receive the shipment. T0000003's three txs are not in it.
  EXPECT_EQ(bundle.txs_size(), 13);
  auto v = lp::VerifyProvenanceProof(bundle, genesis_);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->ledger_root.height, ledger_->head().height());
  EXPECT_EQ(v->signature_count, 4u);
  EXPECT_EQ(v->tx_count, 13u);
  const v1::Provenance& p = v->provenance;
  ASSERT_EQ(p.lots_size(), 3);
  EXPECT_EQ(p.lots(0).lot().lot_id(), "P0000001");
  EXPECT_EQ(p.lots(1).lot().lot_id(), "T0000001");
  EXPECT_EQ(p.lots(2).lot().lot_id(), "T0000002");
  // The replay of the verified txs reaches the state the ledger stored.
  for (const auto& entry : p.lots()) {
    const v1::Lot stored = LotOf(entry.lot().lot_id());
    const v1::Lot& rebuilt = entry.lot();
    EXPECT_EQ(rebuilt.status(), stored.status()) << stored.lot_id();
    EXPECT_EQ(rebuilt.holder_key(), stored.holder_key()) << stored.lot_id();
    EXPECT_EQ(rebuilt.weight_grams(), stored.weight_grams()) << stored.lot_id();
    EXPECT_EQ(rebuilt.last_receipt_hash(), stored.last_receipt_hash()) << stored.lot_id();
    EXPECT_EQ(rebuilt.shipment_id(), stored.shipment_id()) << stored.lot_id();
    EXPECT_EQ(rebuilt.mineral(), stored.mineral()) << stored.lot_id();
    EXPECT_EQ(rebuilt.producer_key(), stored.producer_key()) << stored.lot_id();
    EXPECT_EQ(rebuilt.recorded_by(), stored.recorded_by()) << stored.lot_id();
    EXPECT_EQ(rebuilt.processing_input_grams(), stored.processing_input_grams());
    EXPECT_EQ(rebuilt.processing_loss_grams(), stored.processing_loss_grams());
    EXPECT_EQ(
        std::vector<std::string>(rebuilt.mine_site_ids().begin(), rebuilt.mine_site_ids().end()),
        std::vector<std::string>(stored.mine_site_ids().begin(), stored.mine_site_ids().end()));
  }
  EXPECT_EQ(p.lots(0).events_size(), 7);
  const v1::Shipment stored = ShipmentOf("SH-1");
  EXPECT_EQ(p.shipment().status(), v1::SHIPMENT_STATUS_RECEIVED);
  EXPECT_EQ(p.shipment().status(), stored.status());
  EXPECT_EQ(p.shipment().mineral(), stored.mineral());
  EXPECT_EQ(p.shipment().certificate().number(), "ICGLR-CD-0001");
  EXPECT_EQ(p.shipment().certificate().certifier_key(), KeyStr(certifier_));
  EXPECT_EQ(p.shipment().weight_grams(), stored.weight_grams());
  EXPECT_EQ(p.shipment().received_weight_grams(), 60000u);
  EXPECT_EQ(p.shipment().smelter_key(), KeyStr(smelter_));
}

TEST_F(ProvenanceProofTest, LotBundleHoldsOnlyThatLotsHistory) {
  ShipToSmelter();
  CertifyHead({3, 1, 0});
  v1::ProvenanceProof bundle = Bundle("T0000003", "");
  EXPECT_EQ(bundle.txs_size(), 3);
  auto v = lp::VerifyProvenanceProof(bundle, genesis_);
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_EQ(v->provenance.lots_size(), 1);
  EXPECT_EQ(v->provenance.lots(0).lot().holder_key(), KeyStr(trader_));
  EXPECT_EQ(v->signature_count, 3u);
}

TEST_F(ProvenanceProofTest, TamperedTxsReceiptsAndPathsFail) {
  ShipToSmelter();
  CertifyHead({0, 1, 2, 3});
  const v1::ProvenanceProof good = Bundle("", "SH-1");
  ASSERT_EQ(Failure(good), "");

  v1::ProvenanceProof b = good;  // a flipped byte in a signed body
  std::string* body = b.mutable_txs(4)->mutable_tx()->mutable_body();
  (*body)[body->size() - 1] ^= 0x01;
  EXPECT_FAILS_WITH(b, "tx 4 of the bundle");

  b = good;  // a flipped signature byte
  (*b.mutable_txs(2)->mutable_tx()->mutable_signature())[10] ^= 0x01;
  EXPECT_FAILS_WITH(b, "signature does not verify");

  b = good;  // a receipt of another tx
  b.mutable_txs(3)->set_receipt(good.txs(5).receipt());
  EXPECT_FAILS_WITH(b, "the receipt belongs to another tx");

  b = good;  // a flipped inclusion path byte
  (*b.mutable_txs(6)->mutable_inclusion_path(0))[0] ^= 0x01;
  EXPECT_FAILS_WITH(b, "is not in the certified ledger");

  b = good;  // a leaf index that is not the receipt's
  b.mutable_txs(6)->set_leaf_index(good.txs(6).leaf_index() + 1);
  EXPECT_FAILS_WITH(b, "but its receipt says");

  b = good;  // two txs swapped
  b.mutable_txs()->SwapElements(1, 2);
  EXPECT_FAILS_WITH(b, "strictly increasing leaf order");

  b = good;  // a tx the graph does not need (T0000003's record, with its true path)
  {
    CertifyHead({0, 1, 2, 3});
    v1::ProvenanceProof other = Bundle("T0000003", "");
    b = good;
    v1::ProofTx extra = other.txs(0);
    // Keep the leaf order: insert it where it belongs.
    std::vector<v1::ProofTx> txs(b.txs().begin(), b.txs().end());
    auto at = std::find_if(txs.begin(), txs.end(), [&](const v1::ProofTx& t) {
      return t.leaf_index() > extra.leaf_index();
    });
    txs.insert(at, extra);
    b.clear_txs();
    for (auto& t : txs) *b.add_txs() = t;
    EXPECT_FAILS_WITH(b, "is on no requested lot's history");
  }
}

TEST_F(ProvenanceProofTest, DroppedUpstreamStepsFail) {
  ShipToSmelter();
  CertifyHead({0, 1, 2, 3});
  const v1::ProvenanceProof good = Bundle("", "SH-1");
  // Every tx but the newest event of the shipment's lot: dropping any of them breaks a
  // backward link (dropping the newest is undetectable: see provenance_proof.h).
  const int newest = TxIndex(good, "receive_shipment", "P0000001");
  for (int drop = 0; drop < good.txs_size(); ++drop) {
    if (drop == newest) continue;
    v1::ProvenanceProof b = good;
    b.mutable_txs()->DeleteSubrange(drop, 1);
    const std::string failure = Failure(b);
    EXPECT_NE(failure, "") << "dropping tx " << drop << " went unnoticed";
  }
  v1::ProvenanceProof b = good;
  b.mutable_txs()->DeleteSubrange(TxIndex(good, "receive_lots", "T0000002"), 1);
  EXPECT_FAILS_WITH(b, "that the bundle lacks: an upstream step is missing");
  b = good;
  b.mutable_txs()->DeleteSubrange(TxIndex(good, "record_mine_lot", "T0000001"), 1);
  EXPECT_FAILS_WITH(b, "lot 'T0000001'");
  b = good;
  b.mutable_txs()->DeleteSubrange(TxIndex(good, "form_shipment", "P0000001"), 1);
  EXPECT_FAILS_WITH(b, "no form_shipment of shipment 'SH-1'");
}

TEST_F(ProvenanceProofTest, WrongRootOrQcFails) {
  ShipToSmelter();
  CertifyHead({0, 1, 2, 3});
  const v1::ProvenanceProof good = Bundle("", "SH-1");

  v1::ProvenanceProof b = good;  // a root the header does not name
  (*b.mutable_ledger_root()->mutable_accumulator_root())[0] ^= 0x01;
  EXPECT_FAILS_WITH(b, "is not the one the certified header names");

  b = good;  // header and root changed together: the QC no longer certifies the header
  (*b.mutable_ledger_root()->mutable_accumulator_root())[0] ^= 0x01;
  *b.mutable_header()->mutable_ledger_root() = b.ledger_root();
  EXPECT_FAILS_WITH(b, "not the bundle's header");

  b = good;  // a QC of another header (another height)
  lp::ConsensusHeader other = header_;
  other.height += 1;
  other.round += 1;
  *b.mutable_qc() = lp::QuorumCertToProto(Sign(other, {0, 1, 2, 3}));
  EXPECT_FAILS_WITH(b, "not the bundle's header");

  b = good;  // fewer than 2f+1 = 3 signatures
  b.mutable_qc()->mutable_signatures()->DeleteSubrange(0, 2);
  EXPECT_FAILS_WITH(b, "3 of 4 validators (2f+1) are needed");

  b = good;  // one signer counted twice
  b.mutable_qc()->mutable_signatures()->DeleteSubrange(0, 2);
  *b.mutable_qc()->add_signatures() = b.qc().signatures(0);
  EXPECT_FAILS_WITH(b, "repeats a signer");

  b = good;  // a vote by a key outside the set, under a trusted index
  {
    const Hash32 digest = lp::ConsensusVoteDigest(qc_.epoch, qc_.round, qc_.block_id, qc_.height);
    crypto::Signature sig = KeyFromSeed(200).Sign(digest, Hash32{});
    b.mutable_qc()->mutable_signatures(1)->set_signature(std::string(sig.begin(), sig.end()));
    EXPECT_FAILS_WITH(b, "does not verify under that trusted key");
  }
}

TEST_F(ProvenanceProofTest, KeysOutsideTheTrustedSetFail) {
  ShipToSmelter();
  CertifyHead({0, 1, 2, 3});
  const v1::ProvenanceProof good = Bundle("", "SH-1");
  // The verifier trusts another genesis: same chain id, one validator replaced.
  v1::Genesis other = genesis_;
  other.mutable_validators(2)->set_key(KeyStr(KeyFromSeed(201)));
  auto v = lp::VerifyProvenanceProof(good, other);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("outside the trusted set"), std::string::npos)
      << v.error().message;
  // A bundle that lists the other set to match it: its QC has only 3 trusted signatures
  // then, and with validator 2's vote dropped only 2 of 3 needed.
  v1::ProvenanceProof b = good;
  b.set_validator_keys(2, KeyStr(KeyFromSeed(201)));
  v = lp::VerifyProvenanceProof(b, other);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("validator 2"), std::string::npos) << v.error().message;
  // Another chain.
  other = genesis_;
  other.set_chain_id("other-chain");
  v = lp::VerifyProvenanceProof(good, other);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("other-chain"), std::string::npos) << v.error().message;
}

// Every single-byte change of a small bundle's file (each byte XOR 0x01, 0x80 and 0xff) is
// refused: the file no longer parses, or verification fails. A shipment's larger bundle is
// sampled with a stride. Bytes that change nothing would be a gap in the checks.
TEST_F(ProvenanceProofTest, EveryFlippedByteOfABundleFileIsRefused) {
  ShipToSmelter();
  CertifyHead({0, 1, 2, 3});
  auto count_accepted = [&](const v1::ProvenanceProof& good, size_t stride) {
    const std::string bytes = good.SerializeAsString();
    std::vector<std::string> accepted;
    size_t tried = 0;
    for (size_t i = 0; i < bytes.size(); i += stride) {
      for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
        std::string changed = bytes;
        changed[i] = static_cast<char>(static_cast<uint8_t>(changed[i]) ^ mask);
        ++tried;
        v1::ProvenanceProof b;
        if (!b.ParseFromString(changed)) continue;
        if (Failure(b).empty()) {
          accepted.push_back("byte " + std::to_string(i) + " ^ " + std::to_string(mask));
        }
      }
    }
    EXPECT_GT(tried, bytes.size() * 3 / stride - 3);
    return accepted;
  };
  const v1::ProvenanceProof lot = Bundle("T0000003", "");
  std::vector<std::string> accepted = count_accepted(lot, 1);
  EXPECT_TRUE(accepted.empty()) << accepted.size() << " changes accepted, first "
                                << accepted.front();
  const v1::ProvenanceProof shipment = Bundle("", "SH-1");
  accepted = count_accepted(shipment, 7);
  EXPECT_TRUE(accepted.empty()) << accepted.size() << " changes accepted, first "
                                << accepted.front();
}

TEST_F(ProvenanceProofTest, TreeNamesMembersRolesAndSitesFromContextTxs) {
  ShipToSmelter();
  CertifyHead({0, 1, 2, 3});
  const v1::ProvenanceProof bundle = Bundle("", "SH-1");
  // The register_member of agent, coop, processor, exporter, certifier and smelter (the
  // trader and the regulator are in no tx of SH-1's graph) and CD-1's register_mine_site.
  EXPECT_EQ(bundle.context_txs_size(), 7);
  auto v = lp::VerifyProvenanceProof(bundle, genesis_);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->context_tx_count, 7u);
  const v1::Provenance& p = v->provenance;
  ASSERT_EQ(p.members_size(), 6);
  const v1::Member* exporter = MemberIn(p, exporter_);
  ASSERT_NE(exporter, nullptr);
  EXPECT_EQ(exporter->name(), "exporter");
  ASSERT_EQ(exporter->roles_size(), 1);
  EXPECT_EQ(exporter->roles(0), v1::ROLE_EXPORTER);
  EXPECT_EQ(exporter->country(), "CD");
  ASSERT_NE(MemberIn(p, certifier_), nullptr);
  EXPECT_EQ(MemberIn(p, certifier_)->name(), "ceec");
  EXPECT_EQ(MemberIn(p, agent_)->roles(0), v1::ROLE_AGENT);
  EXPECT_EQ(MemberIn(p, trader_), nullptr);
  ASSERT_EQ(p.sites_size(), 1);
  EXPECT_EQ(p.sites(0).site_id(), "CD-1");
  EXPECT_EQ(p.sites(0).name(), "Site CD-1");
  for (const char* id : {"T0000001", "T0000002"}) {
    EXPECT_EQ(LotIn(p, id)->site_status_at_record(), v1::SITE_STATUS_GREEN) << id;
    EXPECT_EQ(LotIn(p, id)->site_status_at_record(), LotOf(id).site_status_at_record()) << id;
    EXPECT_EQ(v->site_status_evidence.at(id).action, "register_mine_site") << id;
  }
  // The processed lot has no site of its own.
  EXPECT_EQ(v->site_status_evidence.count("P0000001"), 0u);
}

// A site's status at each lot's record rests on its registration, its latest inspection and
// a later status change, with the lapse to blue a year after the last inspection; each is
// what the ledger recorded. A superseded inspection is not carried.
TEST_F(ProvenanceProofTest, SiteStatusAtRecordIsTheLedgersFromTheLatestStatusTxs) {
  SetUpChain();
  LotTo("T0000001", processor_);          // green: the registration
  ExpectOk(Inspect(v1::SITE_STATUS_GREEN));  // superseded by the next one
  ExpectOk(Inspect(v1::SITE_STATUS_YELLOW));
  LotTo("T0000002", processor_);          // yellow: the second inspection
  ExpectOk(SetStatus(v1::SITE_STATUS_GREEN));
  LotTo("T0000003", processor_);          // green: the status change
  now_ms_ += 366LL * 24 * 3600 * 1000;
  LotTo("T0000004", processor_);          // blue: a year after the last inspection
  ExpectOk(Process(processor_, v1::PROCESSING_KIND_MERGE,
                   {"T0000001", "T0000002", "T0000003", "T0000004"}, {{"P0000001", 180000}}));
  CertifyHead({0, 1, 2, 3});
  const v1::ProvenanceProof bundle = Bundle("P0000001", "");
  int inspections = 0;
  for (const v1::ProofTx& t : bundle.context_txs()) {
    v1::TxBody body;
    ASSERT_TRUE(body.ParseFromString(t.tx().body()));
    if (body.action_case() != v1::TxBody::kRecordInspection) continue;
    ++inspections;
    EXPECT_EQ(body.record_inspection().result(), v1::SITE_STATUS_YELLOW)
        << "the superseded inspection is carried";
  }
  EXPECT_EQ(inspections, 1);
  auto v = lp::VerifyProvenanceProof(bundle, genesis_);
  ASSERT_TRUE(v) << v.error().message;
  // register_member of agent, coop, processor; the site; one inspection; one status change.
  EXPECT_EQ(v->context_tx_count, 6u);
  const v1::Provenance& p = v->provenance;
  const std::vector<std::pair<std::string, v1::SiteStatus>> expected = {
      {"T0000001", v1::SITE_STATUS_GREEN},
      {"T0000002", v1::SITE_STATUS_YELLOW},
      {"T0000003", v1::SITE_STATUS_GREEN},
      {"T0000004", v1::SITE_STATUS_BLUE}};
  const std::vector<std::string> evidence = {"register_mine_site", "record_inspection",
                                             "set_site_status", "set_site_status"};
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [id, status] = expected[i];
    ASSERT_NE(LotIn(p, id), nullptr) << id;
    EXPECT_EQ(LotIn(p, id)->site_status_at_record(), status) << id;
    EXPECT_EQ(LotOf(id).site_status_at_record(), status) << id;
    EXPECT_EQ(v->site_status_evidence.at(id).action, evidence[i]) << id;
  }
  // Without the site's registration its status txs are used by nothing: refused.
  v1::ProvenanceProof b = bundle;
  b.mutable_context_txs()->DeleteSubrange(
      ContextIndex(bundle, v1::TxBody::kRegisterMineSite, "CD-1"), 1);
  EXPECT_FAILS_WITH(b, "of site 'CD-1' is not the latest inspection or status change");
}

// A status change the builder cannot find (more than 1,024 txs before the record, and
// nothing indexes it) would make the bundle show an older status: the builder checks the
// status its txs give against the one the ledger recorded and leaves the site out instead.
TEST_F(ProvenanceProofTest, BuilderLeavesOutASiteWhoseStatusItCannotFind) {
  SetUpChain();
  ExpectOk(SetStatus(v1::SITE_STATUS_YELLOW));
  std::vector<v1::SignedTx> filler;
  for (uint32_t i = 0; i < 1100; ++i) {
    auto b = Body();
    auto* a = b.mutable_register_member();
    a->set_member_key(KeyStr(KeyFromSeed(5000 + i)));
    a->set_name("filler " + std::to_string(i));
    a->add_roles(v1::ROLE_TRADER);
    filler.push_back(lp::SignTx(b, admin_));
  }
  ASSERT_TRUE(Execute(std::move(filler)));
  now_ms_ += 1000;
  LotTo("T0000001", trader_);
  ASSERT_EQ(LotOf("T0000001").site_status_at_record(), v1::SITE_STATUS_YELLOW);
  CertifyHead({0, 1, 2, 3});
  const v1::ProvenanceProof bundle = Bundle("T0000001", "");
  EXPECT_EQ(ContextIndex(bundle, v1::TxBody::kRegisterMineSite, "CD-1"), -1);
  auto v = lp::VerifyProvenanceProof(bundle, genesis_);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->provenance.sites_size(), 0);
  EXPECT_EQ(LotIn(v->provenance, "T0000001")->site_status_at_record(),
            v1::SITE_STATUS_UNSPECIFIED);
  EXPECT_EQ(v->provenance.members_size(), 3);  // agent, coop, trader: still named
}

// The node can leave context out: the tree then shows the key, or "?" for the site status.
// Nothing of it can be padded or reordered.
TEST_F(ProvenanceProofTest, DroppedContextShowsKeysAndExtraContextIsRefused) {
  ShipToSmelter();
  CertifyHead({0, 1, 2, 3});
  const v1::ProvenanceProof good = Bundle("", "SH-1");

  v1::ProvenanceProof b = good;  // the exporter's registration left out
  b.mutable_context_txs()->DeleteSubrange(
      ContextIndex(good, v1::TxBody::kRegisterMember, KeyStr(exporter_)), 1);
  auto v = lp::VerifyProvenanceProof(b, genesis_);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(MemberIn(v->provenance, exporter_), nullptr);
  EXPECT_EQ(v->provenance.members_size(), 5);

  b = good;  // the site's registration left out: no status at record
  b.mutable_context_txs()->DeleteSubrange(
      ContextIndex(good, v1::TxBody::kRegisterMineSite, "CD-1"), 1);
  v = lp::VerifyProvenanceProof(b, genesis_);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->provenance.sites_size(), 0);
  EXPECT_EQ(LotIn(v->provenance, "T0000001")->site_status_at_record(),
            v1::SITE_STATUS_UNSPECIFIED);
  EXPECT_TRUE(v->site_status_evidence.empty());

  // An unrelated register_member (the trader's, from T0000003's bundle), kept in leaf order.
  const v1::ProvenanceProof other = Bundle("T0000003", "");
  const int trader = ContextIndex(other, v1::TxBody::kRegisterMember, KeyStr(trader_));
  ASSERT_GE(trader, 0);
  b = good;
  {
    std::vector<v1::ProofTx> txs(b.context_txs().begin(), b.context_txs().end());
    const v1::ProofTx extra = other.context_txs(trader);
    auto at = std::find_if(txs.begin(), txs.end(), [&](const v1::ProofTx& t) {
      return t.leaf_index() > extra.leaf_index();
    });
    txs.insert(at, extra);
    b.clear_context_txs();
    for (auto& t : txs) *b.add_context_txs() = t;
  }
  EXPECT_FAILS_WITH(b, "whom no tx of the graph names: an unused tx");

  b = good;  // a registration twice
  *b.add_context_txs() = good.context_txs(0);
  EXPECT_FAILS_WITH(b, "strictly increasing leaf order");

  b = good;  // two context txs swapped
  b.mutable_context_txs()->SwapElements(0, 1);
  EXPECT_FAILS_WITH(b, "strictly increasing leaf order");

  b = good;  // a graph tx among the context
  b.clear_context_txs();
  *b.add_context_txs() = good.txs(0);
  EXPECT_FAILS_WITH(b, "it has no place among the context txs");

  b = good;  // a context tx with another's receipt
  b.mutable_context_txs(1)->set_receipt(good.context_txs(2).receipt());
  EXPECT_FAILS_WITH(b, "the receipt belongs to another tx");

  b = good;  // a field this verifier does not know
  b.mutable_txs(0)->GetReflection()->MutableUnknownFields(b.mutable_txs(0))->AddVarint(99, 1);
  EXPECT_FAILS_WITH(b, "fields this verifier does not know");
}

TEST_F(ProvenanceProofTest, BuilderWaitsForARootThatCoversTheGraph) {
  ShipToSmelter();
  // A header naming the root of an earlier height does not cover the newest receipts.
  CertifyHead({0, 1, 2, 3});
  header_.ledger_root.leaf_count -= 1;
  qc_ = Sign(header_, {0, 1, 2, 3});
  auto b = node::BuildProvenanceProof(*ledger_, "", "SH-1", lp::ConsensusHeaderToProto(header_),
                                      lp::QuorumCertToProto(qc_));
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(b.error().message.find("not covered by a certified ledger root"), std::string::npos);
}

}  // namespace
}  // namespace minetrace
