// Goal: a smelter checks a shipment's chain of custody from one file without trusting any
// node (issue 6): the bundle one node of a real 4-validator network serves verifies offline
// with the `minetrace` binary after that node is stopped, and a tampered copy does not.
// Method: `minetrace testnet` writes the network; the test signs the whole chain (members, a
// site, tags, a mine lot, its sale to an exporter, the shipment, its certificate, dispatch
// and receipt by the smelter) and submits it over gRPC, then runs `minetrace proof get` on
// node 1, kills node 1, and runs `minetrace proof verify --trust genesis.toml` on the file and
// on a copy with one byte flipped, reading exit status and output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "minetrace/ledger/proof/genesis.h"
#include "minetrace/ledger/proof/provenance_proof.h"
#include "minetrace/ledger/proof/tx.h"
#include "network.h"
#include "node_process.h"

namespace minetrace::testing {
namespace {

namespace fs = std::filesystem;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

crypto::PrivateKey Key(uint8_t n) {
  Bytes secret(32, 0x21);
  secret[31] = n;
  return *crypto::PrivateKey::FromBytes(secret);
}

std::string KeyStr(const crypto::PrivateKey& k) {
  return std::string(k.public_key().begin(), k.public_key().end());
}

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

CliRun Cli(const fs::path& dir, const std::string& args) {
  const fs::path out = dir / "cli-out.txt";
  const fs::path err = dir / "cli-err.txt";
  const std::string cmd =
      std::string(MINETRACE_CLI_BIN) + " " + args + " > " + out.string() + " 2> " + err.string();
  CliRun r;
  const int status = std::system(cmd.c_str());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

class ProofNetwork : public ::testing::Test {
 protected:
  // Signs `fill`'s body as `signer`, submits it to node 0 and waits for an OK receipt.
  template <class Fill>
  void Commit(const crypto::PrivateKey& signer, Fill&& fill) {
    CommitOn(net_.node(0), net_.chain_id(), signer, std::forward<Fill>(fill));
  }
  template <class Fill>
  void CommitOn(NodeProcess& node, const std::string& chain_id, const crypto::PrivateKey& signer,
                Fill&& fill) {
    v1::TxBody body;
    body.set_chain_id(chain_id);
    body.set_nonce(++nonce_);
    body.set_created_at_ms(WallMs());
    fill(body);
    v1::SubmitTxRequest req;
    *req.mutable_tx() = ledger::proof::SignTx(body, signer);
    v1::SubmitTxResponse resp;
    auto ctx = Ctx(5000);
    grpc::Status s = node.TxStub()->SubmitTx(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::WaitTxRequest w;
    w.set_tx_id(resp.tx_id());
    w.set_timeout_ms(20000);
    v1::TxWithReceipt out;
    auto wctx = Ctx(22000);
    s = node.TxStub()->WaitTx(wctx.get(), w, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(out.receipt().status(), v1::TX_STATUS_OK) << out.receipt().reason();
  }

  void Register(const crypto::PrivateKey& who, const std::string& name, v1::Role role) {
    RegisterOn(net_.node(0), net_.chain_id(), net_.admin(), who, name, role);
  }
  void RegisterOn(NodeProcess& node, const std::string& chain_id, const crypto::PrivateKey& admin,
                  const crypto::PrivateKey& who, const std::string& name, v1::Role role) {
    CommitOn(node, chain_id, admin, [&](v1::TxBody& b) {
      auto* a = b.mutable_register_member();
      a->set_member_key(KeyStr(who));
      a->set_name(name);
      a->add_roles(role);
      a->set_country("CD");
    });
  }

  Network net_;
  uint64_t nonce_ = 0;
};

TEST_F(ProofNetwork, ShipmentBundleFromOneNodeVerifiesOfflineAfterThatNodeStops) {
  net_.StartAll();
  const auto agent = Key(1), coop = Key(2), exporter = Key(3), certifier = Key(4), smelter = Key(5);
  Register(agent, "agent", v1::ROLE_AGENT);
  Register(coop, "coop", v1::ROLE_COOPERATIVE);
  Register(exporter, "exporter", v1::ROLE_EXPORTER);
  Register(certifier, "ceec", v1::ROLE_CERTIFIER);
  Register(smelter, "smelter", v1::ROLE_SMELTER);
  Commit(net_.admin(), [&](v1::TxBody& b) {
    auto* a = b.mutable_register_mine_site();
    a->set_site_id("CD-1");
    a->set_name("Site CD-1");
    a->set_country("CD");
    a->add_minerals(v1::MINERAL_CASSITERITE);
    a->set_status(v1::SITE_STATUS_GREEN);
    a->set_production_estimate_kg_per_month(100000);
  });
  Commit(net_.admin(), [&](v1::TxBody& b) {
    auto* a = b.mutable_allocate_tags();
    a->set_site_id("CD-1");
    a->set_agent_key(KeyStr(agent));
    a->set_prefix("T");
    a->set_first(1);
    a->set_count(10);
  });
  Commit(agent, [&](v1::TxBody& b) {
    auto* a = b.mutable_record_mine_lot();
    a->set_tag_id("T0000001");
    a->set_site_id("CD-1");
    a->set_mineral(v1::MINERAL_CASSITERITE);
    a->set_weight_grams(50000);
    a->set_grade_basis_points(6500);
    a->set_producer_key(KeyStr(coop));
  });
  Commit(coop, [&](v1::TxBody& b) {
    b.mutable_dispatch_lots()->add_lot_ids("T0000001");
    b.mutable_dispatch_lots()->set_receiver_key(KeyStr(exporter));
  });
  Commit(exporter, [&](v1::TxBody& b) {
    auto* r = b.mutable_receive_lots()->add_lots();
    r->set_lot_id("T0000001");
    r->set_weight_grams(49000);
  });
  Commit(exporter, [&](v1::TxBody& b) {
    b.mutable_form_shipment()->set_shipment_id("SH-1");
    b.mutable_form_shipment()->add_lot_ids("T0000001");
    b.mutable_form_shipment()->set_destination_country("MY");
  });
  Commit(certifier, [&](v1::TxBody& b) {
    auto* a = b.mutable_review_shipment();
    a->set_shipment_id("SH-1");
    a->set_issue(true);
    a->set_certificate_number("ICGLR-CD-0001");
    a->set_certificate_date_ms(WallMs() - 60000);
  });
  Commit(exporter, [&](v1::TxBody& b) {
    b.mutable_dispatch_shipment()->set_shipment_id("SH-1");
    b.mutable_dispatch_shipment()->set_smelter_key(KeyStr(smelter));
  });
  Commit(smelter, [&](v1::TxBody& b) {
    b.mutable_receive_shipment()->set_shipment_id("SH-1");
    b.mutable_receive_shipment()->set_weight_grams(49000);
  });
  if (HasFatalFailure()) return;

  const fs::path file = net_.dir() / "sh-1.proof";
  CliRun get = Cli(net_.dir(), "proof get SH-1 --shipment --node " + net_.node(1).address() +
                                   " --out " + file.string());
  ASSERT_EQ(get.code, 0) << get.out << get.err;
  EXPECT_NE(get.out.find("shipment 'SH-1', 7 txs"), std::string::npos) << get.out;
  net_.node(1).Kill();

  const std::string trust = "--trust " + (net_.dir() / "genesis.toml").string();
  CliRun verify = Cli(net_.dir(), "proof verify " + file.string() + " " + trust);
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("ICGLR-CD-0001"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("T0000001"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("\nVERIFIED: shipment 'SH-1', 1 lot, 7 txs (+6 naming members and "
                            "sites)"),
            std::string::npos)
      << verify.out;
  // Names, roles and the site come from the bundle's context txs (5 members + the site).
  EXPECT_NE(verify.out.find("exporter     exporter ("), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("by ceec ("), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("smelter      smelter ("), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("site CD-1 \"Site CD-1\" CD, registered at height "),
            std::string::npos)
      << verify.out;
  EXPECT_NE(verify.out.find("; green (per register_mine_site at height "), std::string::npos)
      << verify.out;
  EXPECT_NE(verify.out.find("  exporter  exporter  "), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find(", as of ledger height "), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("note: the newest event shown is at ledger height "), std::string::npos)
      << verify.out;
  // The verdict is the last line.
  EXPECT_EQ(verify.out.find('\n', verify.out.find("\nVERIFIED: ") + 1), verify.out.size() - 1)
      << verify.out;

  CliRun json = Cli(net_.dir(), "proof verify " + file.string() + " " + trust + " --json");
  EXPECT_EQ(json.code, 0) << json.out << json.err;
  EXPECT_EQ(json.out.rfind("{\"verdict\":\"VERIFIED\"", 0), 0u) << json.out;
  EXPECT_NE(json.out.find("\"asOf\":{\"ledgerHeight\":"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"certifiedTimeMs\":"), std::string::npos) << json.out;

  // One byte flipped in the middle of the file: the verdict is no, and says why.
  std::string bytes = ReadFile(file);
  bytes[bytes.size() / 2] ^= 0x01;
  const fs::path tampered = net_.dir() / "sh-1-tampered.proof";
  std::ofstream(tampered, std::ios::binary | std::ios::trunc) << bytes;
  CliRun bad = Cli(net_.dir(), "proof verify " + tampered.string() + " " + trust);
  EXPECT_EQ(bad.code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("NOT VERIFIED: "), std::string::npos) << bad.out;
  EXPECT_EQ(bad.out.find("\nVERIFIED"), std::string::npos) << bad.out;
}

// Issue 6's tamper cases on bundles from the real 4-validator network (the tamper tests on
// a hand-certified ledger are in tests/proof): a receipt swapped in from another lot, the QC
// (or header and QC) of another height, any one tx or receipt dropped, two txs reordered --
// every one fails. And the consistency bundle: the root kept from the first bundle is
// extended by the head's root (proof consistency-get --from-bundle, proof consistency
// --bundle, exit 0); a flipped path byte or another bundle's root is refused (exit 1).
TEST_F(ProofNetwork, TamperedNetworkBundlesFailAndALaterRootExtendsTheKeptOne) {
  net_.StartAll();
  const auto agent = Key(1), coop = Key(2), exporter = Key(3), certifier = Key(4);
  Register(agent, "agent", v1::ROLE_AGENT);
  Register(coop, "coop", v1::ROLE_COOPERATIVE);
  Register(exporter, "exporter", v1::ROLE_EXPORTER);
  Register(certifier, "ceec", v1::ROLE_CERTIFIER);
  Commit(net_.admin(), [&](v1::TxBody& b) {
    auto* a = b.mutable_register_mine_site();
    a->set_site_id("CD-1");
    a->set_name("Site CD-1");
    a->set_country("CD");
    a->add_minerals(v1::MINERAL_CASSITERITE);
    a->set_status(v1::SITE_STATUS_GREEN);
    a->set_production_estimate_kg_per_month(100000);
  });
  Commit(net_.admin(), [&](v1::TxBody& b) {
    auto* a = b.mutable_allocate_tags();
    a->set_site_id("CD-1");
    a->set_agent_key(KeyStr(agent));
    a->set_prefix("T");
    a->set_first(1);
    a->set_count(10);
  });
  for (const std::string tag : {"T0000001", "T0000002"}) {
    Commit(agent, [&](v1::TxBody& b) {
      auto* a = b.mutable_record_mine_lot();
      a->set_tag_id(tag);
      a->set_site_id("CD-1");
      a->set_mineral(v1::MINERAL_CASSITERITE);
      a->set_weight_grams(50000);
      a->set_grade_basis_points(6500);
      a->set_producer_key(KeyStr(coop));
    });
    Commit(coop, [&](v1::TxBody& b) {
      b.mutable_dispatch_lots()->add_lot_ids(tag);
      b.mutable_dispatch_lots()->set_receiver_key(KeyStr(exporter));
    });
    Commit(exporter, [&](v1::TxBody& b) {
      auto* r = b.mutable_receive_lots()->add_lots();
      r->set_lot_id(tag);
      r->set_weight_grams(49000);
    });
  }
  Commit(exporter, [&](v1::TxBody& b) {
    b.mutable_form_shipment()->set_shipment_id("SH-1");
    b.mutable_form_shipment()->add_lot_ids("T0000001");
    b.mutable_form_shipment()->set_destination_country("MY");
  });
  if (HasFatalFailure()) return;

  auto genesis = ledger::proof::LoadGenesisFile(net_.dir() / "genesis.toml");
  ASSERT_TRUE(genesis) << genesis.error().message;
  auto fetch = [&](int node, const std::string& lot, const std::string& shipment) {
    v1::GetProvenanceRequest req;
    req.set_lot_id(lot);
    req.set_shipment_id(shipment);
    v1::ProvenanceProof bundle;
    auto ctx = Ctx(10000);
    grpc::Status s = net_.node(node).QueryStub()->GetProvenanceProof(ctx.get(), req, &bundle);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return bundle;
  };
  auto failure = [&](const v1::ProvenanceProof& bundle) {
    auto v = ledger::proof::VerifyProvenanceProof(bundle, *genesis);
    return v ? std::string() : v.error().message;
  };
  const fs::path kept = net_.dir() / "sh-1.proof";
  CliRun get = Cli(net_.dir(), "proof get SH-1 --shipment --node " + net_.node(0).address() +
                                   " --out " + kept.string());
  ASSERT_EQ(get.code, 0) << get.out << get.err;
  v1::ProvenanceProof shipment;
  ASSERT_TRUE(shipment.ParseFromString(ReadFile(kept)));
  ASSERT_EQ(failure(shipment), "");
  ASSERT_EQ(shipment.txs_size(), 4);  // record, dispatch, receive, form
  const v1::ProvenanceProof other_lot = fetch(0, "T0000002", "");
  ASSERT_EQ(failure(other_lot), "");
  ASSERT_EQ(other_lot.txs_size(), 3);

  // A receipt of the other lot's tx at the same step, in place of each of SH-1's receipts.
  for (int i = 0; i < 3; ++i) {
    v1::ProvenanceProof bad = shipment;
    bad.mutable_txs(i)->set_receipt(other_lot.txs(i).receipt());
    EXPECT_NE(failure(bad).find("the receipt belongs to another tx"), std::string::npos)
        << i << ": " << failure(bad);
    // The whole ProofTx of the other lot (tx, receipt and path all genuine): the lot links
    // no longer lead from SH-1 to its mine lot.
    bad = shipment;
    *bad.mutable_txs(i) = other_lot.txs(i);
    EXPECT_NE(failure(bad), "") << i;
  }
  // Any one tx dropped, any one receipt dropped, any two adjacent txs swapped.
  for (int i = 0; i < shipment.txs_size(); ++i) {
    v1::ProvenanceProof bad = shipment;
    bad.mutable_txs()->DeleteSubrange(i, 1);
    EXPECT_NE(failure(bad), "") << "tx " << i << " dropped";
    bad = shipment;
    bad.mutable_txs(i)->clear_receipt();
    EXPECT_NE(failure(bad).find("receipt"), std::string::npos)
        << "receipt " << i << " dropped: " << failure(bad);
    if (i + 1 < shipment.txs_size()) {
      bad = shipment;
      bad.mutable_txs()->SwapElements(i, i + 1);
      EXPECT_NE(failure(bad), "") << "txs " << i << " and " << i + 1 << " swapped";
    }
  }

  // More blocks, then the same shipment certified at a later height (another QC).
  Commit(exporter, [&](v1::TxBody& b) {
    b.mutable_form_shipment()->set_shipment_id("SH-2");
    b.mutable_form_shipment()->add_lot_ids("T0000002");
    b.mutable_form_shipment()->set_destination_country("MY");
  });
  Commit(certifier, [&](v1::TxBody& b) {
    auto* a = b.mutable_review_shipment();
    a->set_shipment_id("SH-2");
    a->set_issue(true);
    a->set_certificate_number("ICGLR-CD-0002");
    a->set_certificate_date_ms(WallMs() - 60000);
  });
  if (HasFatalFailure()) return;
  // The certified root lags the head by three heights: wait until it covers the new txs.
  v1::ProvenanceProof later;
  for (int attempt = 0; attempt < 40; ++attempt) {
    later = fetch(0, "", "SH-1");
    if (later.ledger_root().leaf_count() > shipment.ledger_root().leaf_count()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_EQ(failure(later), "");
  ASSERT_GT(later.header().height(), shipment.header().height());
  ASSERT_GT(later.ledger_root().leaf_count(), shipment.ledger_root().leaf_count());
  v1::ProvenanceProof bad = shipment;
  *bad.mutable_qc() = later.qc();
  EXPECT_NE(failure(bad).find("is not certified by the trusted validators"), std::string::npos)
      << failure(bad);
  bad = shipment;
  *bad.mutable_qc() = later.qc();
  *bad.mutable_header() = later.header();
  EXPECT_NE(failure(bad), "");  // the bundle's ledger root is not the header's
  *bad.mutable_ledger_root() = later.ledger_root();
  EXPECT_NE(failure(bad), "");  // the inclusion paths lead to the older root

  // The kept root is extended by the head's root.
  const std::string trust = "--trust " + (net_.dir() / "genesis.toml").string();
  const fs::path cons = net_.dir() / "sh-1.consistency";
  // From another node than the one that served the bundle; it may lag a block behind.
  CliRun cget;
  for (int attempt = 0; attempt < 20; ++attempt) {
    cget = Cli(net_.dir(), "proof consistency-get --from-bundle " + kept.string() + " --node " +
                               net_.node(2).address() + " --out " + cons.string());
    if (cget.code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_EQ(cget.code, 0) << cget.out << cget.err;
  CliRun check = Cli(net_.dir(), "proof consistency " + cons.string() + " " + trust + " --bundle " +
                                     kept.string());
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("CONSISTENT: the ledger at height "), std::string::npos) << check.out;
  v1::ConsistencyBundle consistency;
  ASSERT_TRUE(consistency.ParseFromString(ReadFile(cons)));
  EXPECT_EQ(consistency.first().header().ledger_root().accumulator_root(),
            shipment.ledger_root().accumulator_root());
  EXPECT_GE(consistency.second().header().ledger_root().leaf_count(),
            later.ledger_root().leaf_count());
  ASSERT_GT(consistency.consistency_path_size(), 0);
  // A flipped byte of the path.
  v1::ConsistencyBundle flipped = consistency;
  (*flipped.mutable_consistency_path(0))[3] ^= 0x01;
  const fs::path bad_cons = net_.dir() / "bad.consistency";
  std::ofstream(bad_cons, std::ios::binary | std::ios::trunc) << flipped.SerializeAsString();
  CliRun refused = Cli(net_.dir(), "proof consistency " + bad_cons.string() + " " + trust);
  EXPECT_EQ(refused.code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("NOT CONSISTENT: the consistency path does not prove"),
            std::string::npos)
      << refused.out;
  // A genuine consistency bundle, but the root kept is another one (the later bundle's).
  const fs::path later_file = net_.dir() / "sh-1-later.proof";
  std::ofstream(later_file, std::ios::binary | std::ios::trunc) << later.SerializeAsString();
  CliRun other = Cli(net_.dir(), "proof consistency " + cons.string() + " " + trust + " --bundle " +
                                     later_file.string());
  EXPECT_EQ(other.code, 1) << other.out << other.err;
  EXPECT_NE(other.out.find("is not the root of"), std::string::npos) << other.out;
}

// A single-validator dev node certifies its blocks with a QC of its one signature: the same
// RPC serves a bundle that verifies (in process here) against its genesis; bad requests get
// INVALID_ARGUMENT or NOT_FOUND.
TEST_F(ProofNetwork, SingleValidatorNodeServesAVerifiableLotBundle) {
  NodeProcess node;
  node.Start();
  const auto agent = Key(1), coop = Key(2);
  RegisterOn(node, node.chain_id(), node.admin(), agent, "agent", v1::ROLE_AGENT);
  RegisterOn(node, node.chain_id(), node.admin(), coop, "coop", v1::ROLE_COOPERATIVE);
  CommitOn(node, node.chain_id(), node.admin(), [&](v1::TxBody& b) {
    auto* a = b.mutable_register_mine_site();
    a->set_site_id("CD-1");
    a->set_name("Site CD-1");
    a->set_country("CD");
    a->add_minerals(v1::MINERAL_CASSITERITE);
    a->set_status(v1::SITE_STATUS_GREEN);
    a->set_production_estimate_kg_per_month(100000);
  });
  CommitOn(node, node.chain_id(), node.admin(), [&](v1::TxBody& b) {
    auto* a = b.mutable_allocate_tags();
    a->set_site_id("CD-1");
    a->set_agent_key(KeyStr(agent));
    a->set_prefix("T");
    a->set_first(1);
    a->set_count(10);
  });
  CommitOn(node, node.chain_id(), agent, [&](v1::TxBody& b) {
    auto* a = b.mutable_record_mine_lot();
    a->set_tag_id("T0000001");
    a->set_site_id("CD-1");
    a->set_mineral(v1::MINERAL_CASSITERITE);
    a->set_weight_grams(50000);
    a->set_grade_basis_points(6500);
    a->set_producer_key(KeyStr(coop));
  });
  if (HasFatalFailure()) return;

  v1::GetProvenanceRequest req;
  req.set_lot_id("T0000001");
  v1::ProvenanceProof bundle;
  auto ctx = Ctx(10000);
  grpc::Status s = node.QueryStub()->GetProvenanceProof(ctx.get(), req, &bundle);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto genesis = ledger::proof::LoadGenesisFile(node.dir() / "genesis.toml");
  ASSERT_TRUE(genesis) << genesis.error().message;
  auto verified = ledger::proof::VerifyProvenanceProof(bundle, *genesis);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->signature_count, 1u);
  EXPECT_EQ(verified->tx_count, 1u);
  ASSERT_EQ(verified->provenance.lots_size(), 1);
  EXPECT_EQ(verified->provenance.lots(0).lot().holder_key(), KeyStr(coop));

  req.set_lot_id("T0000009");
  auto ctx2 = Ctx(10000);
  s = node.QueryStub()->GetProvenanceProof(ctx2.get(), req, &bundle);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  req.set_shipment_id("SH-1");
  auto ctx3 = Ctx(10000);
  s = node.QueryStub()->GetProvenanceProof(ctx3.get(), req, &bundle);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
}

}  // namespace
}  // namespace minetrace::testing
