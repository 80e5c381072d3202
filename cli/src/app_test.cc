// End-to-end tests of the `minetrace` command line through RunCli: argument handling, exit
// statuses, the one-line errors, and the tx/query paths against a fake node served by gRPC on
// 127.0.0.1 (the real node is tested by tests/integration).
#include "app.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/ledger/proof/genesis.h"
#include "minetrace/ledger/proof/tx.h"
#include "minetrace/v1/node.grpc.pb.h"
#include "batch.h"
#include "node_client.h"
#include "testnet.h"

namespace minetrace::cli {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNowMs = 1790000000000;

// What the fake node has seen and will answer; shared by its three services.
struct FakeState {
  std::mutex mu;
  int status_calls = 0;
  std::vector<v1::SignedTx> submitted;
  std::map<std::string, v1::SignedTx> committed;  // by tx id bytes: commits at once
  std::string refuse_tag;  // SubmitTxs refuses a record-lot of this tag (a rule)
  int submit_txs_calls = 0;
  int mempool_room = -1;  // SubmitTxs admits this many, then says the mempool is full once
  v1::GetProvenanceRequest provenance_request;
  v1::ListIncidentsRequest incidents_request;
  v1::ListFlagsRequest flags_request;
  grpc::Status submit_status = grpc::Status::OK;
  v1::TxStatus receipt_status = v1::TX_STATUS_OK;
  std::string receipt_reason;
  std::string receipt_error_code;
  std::vector<v1::Anomaly> receipt_anomalies;
  int lot_pages = 1;  // ListLots answers this many pages of two lots each
  std::vector<std::string> page_tokens_seen;
  // WatchCommits: ids in commit order; every Nth streamed tx is reported FAILED (0 = none).
  // A stream starts after the commits the last Status call saw: the bench reads the height,
  // then asks for the blocks after it, which a real node replays however late the stream
  // opens (starting at the stream's own start lost the commits of txs sent before it).
  std::vector<std::string> commit_order;
  size_t commits_at_status = 0;
  int watch_fail_every = 0;
  int watch_streams = 0;
};

class FakeNodeService final : public v1::NodeService::Service {
 public:
  explicit FakeNodeService(FakeState& state) : state_(state) {}
  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                      v1::StatusResponse* response) override {
    std::lock_guard<std::mutex> lock(state_.mu);
    ++state_.status_calls;
    state_.commits_at_status = state_.commit_order.size();
    response->set_chain_id("fake-chain");
    response->set_height(7);
    return grpc::Status::OK;
  }

 private:
  FakeState& state_;
};

class FakeTxService final : public v1::TxService::Service {
 public:
  explicit FakeTxService(FakeState& state) : state_(state) {}
  grpc::Status SubmitTx(grpc::ServerContext*, const v1::SubmitTxRequest* request,
                        v1::SubmitTxResponse* response) override {
    std::lock_guard<std::mutex> lock(state_.mu);
    if (!state_.submit_status.ok()) return state_.submit_status;
    state_.submitted.push_back(request->tx());
    response->set_tx_id(ledger::proof::HashString(ledger::proof::TxId(request->tx())));
    state_.committed[response->tx_id()] = request->tx();
    return grpc::Status::OK;
  }
  grpc::Status SubmitTxs(grpc::ServerContext*, const v1::SubmitTxsRequest* request,
                         v1::SubmitTxsResponse* response) override {
    std::lock_guard<std::mutex> lock(state_.mu);
    ++state_.submit_txs_calls;
    for (const v1::SignedTx& tx : request->txs()) {
      const std::string id = ledger::proof::HashString(ledger::proof::TxId(tx));
      v1::TxAdmission* a = response->add_results();
      a->set_tx_id(id);
      v1::TxBody body;
      body.ParseFromString(tx.body());
      if (state_.committed.count(id) > 0) {
        a->set_code(grpc::StatusCode::ALREADY_EXISTS);
        a->set_message("tx is already committed; a tx id is accepted once");
      } else if (state_.mempool_room == 0) {
        a->set_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
        a->set_message("mempool is full; retry after the next block");
      } else if (!state_.refuse_tag.empty() &&
                 body.record_mine_lot().tag_id() == state_.refuse_tag) {
        a->set_code(grpc::StatusCode::ALREADY_EXISTS);
        a->set_message("lot " + state_.refuse_tag + " already exists");
      } else {
        state_.submitted.push_back(tx);
        state_.committed[id] = tx;
        state_.commit_order.push_back(id);
        if (state_.mempool_room > 0) --state_.mempool_room;
      }
    }
    if (state_.mempool_room == 0) state_.mempool_room = -1;  // a block drained it
    return grpc::Status::OK;
  }
  // One block per 5 ms holding whatever committed since the last one.
  grpc::Status WatchCommits(grpc::ServerContext* ctx, const v1::WatchCommitsRequest*,
                            grpc::ServerWriter<v1::CommittedBlockSummary>* writer) override {
    size_t streamed = 0;
    {
      std::lock_guard<std::mutex> lock(state_.mu);
      ++state_.watch_streams;
      streamed = state_.commits_at_status;
    }
    uint64_t height = 100;
    while (!ctx->IsCancelled()) {
      v1::CommittedBlockSummary block;
      {
        std::lock_guard<std::mutex> lock(state_.mu);
        block.set_height(++height);
        for (; streamed < state_.commit_order.size(); ++streamed) {
          v1::CommittedTx* t = block.add_txs();
          t->set_tx_id(state_.commit_order[streamed]);
          const bool fail = state_.watch_fail_every > 0 &&
                            (streamed + 1) % static_cast<size_t>(state_.watch_fail_every) == 0;
          t->set_status(fail ? v1::TX_STATUS_FAILED : v1::TX_STATUS_OK);
          if (fail) {
            t->set_error_code("FAILED_PRECONDITION");
            t->set_reason("fake refusal of tx " + std::to_string(streamed));
          }
        }
      }
      if (!writer->Write(block)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return grpc::Status::OK;
  }
  grpc::Status WaitTx(grpc::ServerContext*, const v1::WaitTxRequest* request,
                      v1::TxWithReceipt* response) override {
    std::lock_guard<std::mutex> lock(state_.mu);
    auto found = state_.committed.find(request->tx_id());
    if (found == state_.committed.end()) {
      return {grpc::StatusCode::NOT_FOUND, "tx is neither pending nor committed; submit it"};
    }
    *response->mutable_tx() = found->second;
    v1::Receipt& r = *response->mutable_receipt();
    r.set_tx_id(request->tx_id());
    r.set_height(8);
    r.set_status(state_.receipt_status);
    r.set_reason(state_.receipt_reason);
    r.set_error_code(state_.receipt_error_code);
    for (const v1::Anomaly& a : state_.receipt_anomalies) *r.add_anomalies() = a;
    return grpc::Status::OK;
  }

 private:
  FakeState& state_;
};

class FakeQueryService final : public v1::QueryService::Service {
 public:
  explicit FakeQueryService(FakeState& state) : state_(state) {}
  grpc::Status ListLots(grpc::ServerContext*, const v1::ListLotsRequest* request,
                        v1::ListLotsResponse* response) override {
    std::lock_guard<std::mutex> lock(state_.mu);
    state_.page_tokens_seen.push_back(request->page_token());
    const int page = request->page_token().empty() ? 0 : std::stoi(request->page_token());
    for (int i = 0; i < 2; ++i) {
      v1::Lot* lot = response->add_lots();
      lot->set_lot_id("T" + std::to_string(1000000 + page * 2 + i));
      lot->set_weight_grams(1500);
      lot->set_status(v1::LOT_STATUS_HELD);
    }
    if (page + 1 < state_.lot_pages) response->set_next_page_token(std::to_string(page + 1));
    return grpc::Status::OK;
  }
  grpc::Status GetLot(grpc::ServerContext*, const v1::GetLotRequest* request,
                      v1::Lot* response) override {
    if (request->lot_id() != "T0000012") {
      return {grpc::StatusCode::NOT_FOUND, "no lot " + request->lot_id()};
    }
    response->set_lot_id("T0000012");
    response->set_weight_grams(25300);
    response->set_grade_basis_points(4550);
    response->set_status(v1::LOT_STATUS_HELD);
    return grpc::Status::OK;
  }
  grpc::Status GetProvenance(grpc::ServerContext*, const v1::GetProvenanceRequest* request,
                             v1::Provenance* response) override {
    std::lock_guard<std::mutex> lock(state_.mu);
    state_.provenance_request = *request;
    if (!request->shipment_id().empty()) {
      response->mutable_shipment()->set_shipment_id(request->shipment_id());
      response->mutable_shipment()->add_lot_ids("P0000001");
    }
    v1::Lot& processed = *response->add_lots()->mutable_lot();
    processed.set_lot_id("P0000001");
    processed.set_origin(v1::LOT_ORIGIN_PROCESSING);
    processed.add_parent_lot_ids("T0000012");
    v1::Lot& mine = *response->add_lots()->mutable_lot();
    mine.set_lot_id("T0000012");
    mine.set_origin(v1::LOT_ORIGIN_MINE);
    mine.set_site_id("CD-SK-0042");
    mine.set_site_status_at_record(v1::SITE_STATUS_GREEN);
    return grpc::Status::OK;
  }
  grpc::Status ListIncidents(grpc::ServerContext*, const v1::ListIncidentsRequest* request,
                             v1::ListIncidentsResponse* response) override {
    std::lock_guard<std::mutex> lock(state_.mu);
    state_.incidents_request = *request;
    v1::Incident* i = response->add_incidents();
    i->set_incident_id("INC-0000001");
    i->set_status(v1::INCIDENT_STATUS_UNDER_MITIGATION);
    i->set_level(1);
    return grpc::Status::OK;
  }
  grpc::Status ListFlags(grpc::ServerContext*, const v1::ListFlagsRequest* request,
                         v1::ListFlagsResponse*) override {
    std::lock_guard<std::mutex> lock(state_.mu);
    state_.flags_request = *request;
    return grpc::Status::OK;
  }
  grpc::Status GetTxProof(grpc::ServerContext*, const v1::GetTxProofRequest* request,
                          v1::TxProof* response) override {
    response->mutable_tx()->mutable_receipt()->set_tx_id(request->tx_id());
    response->mutable_inclusion()->set_leaf_index(3);
    response->mutable_inclusion()->set_tree_size(9);
    return grpc::Status::OK;
  }

 private:
  FakeState& state_;
};

struct Output {
  int code = -1;
  std::string out;
  std::string err;
};

// A node that answers Status alone, always with `reply`; for `minetrace status` over several
// nodes.
class StatusOnlyNode {
 public:
  explicit StatusOnlyNode(v1::StatusResponse reply) : service_(std::move(reply)) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    EXPECT_TRUE(server_);
    EXPECT_GT(port, 0);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  ~StatusOnlyNode() {
    if (server_) server_->Shutdown();
  }
  StatusOnlyNode(const StatusOnlyNode&) = delete;
  StatusOnlyNode& operator=(const StatusOnlyNode&) = delete;

  const std::string& address() const { return address_; }

 private:
  class Service final : public v1::NodeService::Service {
   public:
    explicit Service(v1::StatusResponse reply) : reply_(std::move(reply)) {}
    grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                        v1::StatusResponse* response) override {
      *response = reply_;
      return grpc::Status::OK;
    }

   private:
    const v1::StatusResponse reply_;
  };

  Service service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

v1::StatusResponse ValidatorStatus(uint64_t leaves, char root_byte) {
  v1::StatusResponse s;
  s.set_chain_id("fake-chain");
  s.set_genesis_hash(std::string(32, 'g'));
  s.set_role("validator");
  s.set_height(leaves + 3);
  s.set_round(leaves + 4);
  s.set_leaf_count(leaves);
  s.set_accumulator_root(std::string(32, root_byte));
  s.add_peers()->set_connected(true);
  s.add_peers()->set_connected(false);
  return s;
}

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("minetrace_cli_app_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    fs::remove_all(dir_);
  }

  void StartFakeNode() {
    node_service_ = std::make_unique<FakeNodeService>(state_);
    tx_service_ = std::make_unique<FakeTxService>(state_);
    query_service_ = std::make_unique<FakeQueryService>(state_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(node_service_.get());
    builder.RegisterService(tx_service_.get());
    builder.RegisterService(query_service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    ASSERT_GT(port, 0);
    address_ = "127.0.0.1:" + std::to_string(port);
  }

  Output Run(std::vector<std::string> args) {
    args.insert(args.begin(), "minetrace");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out;
    std::ostringstream err;
    ManualClock clock(kNowMs);
    const Env env{out, err, clock, [this] { return nonce_++; }, false};
    Output o;
    o.code = RunCli(static_cast<int>(argv.size()), argv.data(), env);
    o.out = out.str();
    o.err = err.str();
    return o;
  }

  // A signer key file for tx commands.
  std::string SignerKey() {
    const fs::path key = dir_ / "signer.key";
    if (!fs::exists(key)) {
      EXPECT_TRUE(WriteNewKeyPair(key));
    }
    return key.string();
  }

  std::vector<std::string> RecordLotArgs() {
    return {"tx",          "record-lot", "--key",
            SignerKey(),   "--node",     address_,
            "--tag",       "T0000012",   "--site-id",
            "CD-SK-0042",  "--mineral",  "cassiterite",
            "--weight-kg", "25.3",       "--grade-percent",
            "45.5",        "--producer", std::string(64, 'c')};
  }

  static void ExpectOneErrorLine(const Output& o, const std::string& prefix) {
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_EQ(o.err.rfind(prefix, 0), 0u) << o.err;
  }

  fs::path dir_;
  FakeState state_;
  std::unique_ptr<FakeNodeService> node_service_;
  std::unique_ptr<FakeTxService> tx_service_;
  std::unique_ptr<FakeQueryService> query_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_ = "127.0.0.1:1";
  uint64_t nonce_ = 42;
};

TEST_F(AppTest, HelpExistsForEveryCommandAndExitsZero) {
  const std::vector<std::vector<std::string>> cases = {{"--help"},
                                                       {"keys", "--help"},
                                                       {"keys", "new", "--help"},
                                                       {"testnet", "--help"},
                                                       {"tx", "--help"},
                                                       {"tx", "record-lot", "--help"},
                                                       {"query", "--help"},
                                                       {"query", "lots", "--help"},
                                                       {"status", "--help"}};
  for (const std::vector<std::string>& args : cases) {
    Output o = Run(args);
    EXPECT_EQ(o.code, 0) << args.back() << o.err;
    EXPECT_NE(o.out.find("Usage"), std::string::npos) << o.out;
  }
  Output o = Run({"tx", "record-lot", "--help"});
  EXPECT_NE(o.out.find("--weight-kg"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("--wait"), std::string::npos) << o.out;
}

TEST_F(AppTest, UsageErrorsExitTwoWithOneLine) {
  Output none = Run({});
  EXPECT_EQ(none.code, 2);
  ExpectOneErrorLine(none, "minetrace: command line: ");
  Output unknown = Run({"query", "--bogus", "status"});
  EXPECT_EQ(unknown.code, 2);
  ExpectOneErrorLine(unknown, "minetrace: command line: ");
  Output missing = Run({"tx", "dispatch", "--lot", "T1"});
  EXPECT_EQ(missing.code, 2);
  ExpectOneErrorLine(missing, "minetrace: command line: ");
  Output bad_id = Run({"query", "tx", "nothex"});
  EXPECT_EQ(bad_id.code, 2);
  ExpectOneErrorLine(bad_id, "minetrace: query tx: INVALID_ARGUMENT: ");
}

TEST_F(AppTest, BadWeightIsAUsageErrorFoundBeforeAnyNetwork) {
  std::vector<std::string> args = RecordLotArgs();
  *(std::find(args.begin(), args.end(), "25.3")) = "1.2345";
  Output o = Run(args);
  EXPECT_EQ(o.code, 2);
  ExpectOneErrorLine(o, "minetrace: tx record-lot: INVALID_ARGUMENT: --weight-kg");
}

TEST_F(AppTest, KeysNewWritesPairAndShowReadsBoth) {
  const std::string key = (dir_ / "alice.key").string();
  Output made = Run({"keys", "new", "--out", key});
  ASSERT_EQ(made.code, 0) << made.err;
  ASSERT_EQ(made.out.size(), 65u) << made.out;
  Output from_key = Run({"keys", "show", key});
  Output from_pub = Run({"keys", "show", key + ".pub"});
  EXPECT_EQ(from_key.out, made.out);
  EXPECT_EQ(from_pub.out, made.out);
  Output again = Run({"keys", "new", "--out", key});
  EXPECT_EQ(again.code, 1);
  ExpectOneErrorLine(again, "minetrace: keys new " + key + ": ALREADY_EXISTS: ");
}

TEST_F(AppTest, TestnetCommandWritesFilesAndRefusesToRepeat) {
  const std::string out = (dir_ / "net").string();
  Output o = Run({"testnet", "--validators", "2", "--out", out, "--base-port", "7600"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("grpc 127.0.0.1:7601  peer 127.0.0.1:7701"), std::string::npos) << o.out;
  auto genesis = ledger::proof::LoadGenesisFile(dir_ / "net" / "genesis.toml");
  ASSERT_TRUE(genesis) << genesis.error().message;
  EXPECT_EQ(genesis->genesis_time_ms(), kNowMs);
  EXPECT_EQ(genesis->chain_id(), "minetrace-local");
  Output again = Run({"testnet", "--validators", "2", "--out", out});
  EXPECT_EQ(again.code, 1);
  ExpectOneErrorLine(again, "minetrace: testnet --out " + out + ": ALREADY_EXISTS: ");
}

TEST_F(AppTest, UnreachableNodeExitsThree) {
  Output o = Run({"query", "--node", "127.0.0.1:1", "--timeout-ms", "3000", "status"});
  EXPECT_EQ(o.code, 3) << o.err;
  ExpectOneErrorLine(o, "minetrace: Status on 127.0.0.1:1: UNAVAILABLE: ");
  std::vector<std::string> args = RecordLotArgs();  // address_ is still 127.0.0.1:1
  args.insert(args.end(), {"--chain-id", "c", "--timeout-ms", "3000"});
  Output tx = Run(args);
  EXPECT_EQ(tx.code, 3) << tx.err;
  ExpectOneErrorLine(tx, "minetrace: SubmitTx on 127.0.0.1:1: UNAVAILABLE: ");
}

TEST_F(AppTest, TxSignsWithNodeChainIdClockAndNonceAndWaitsForOk) {
  StartFakeNode();
  std::vector<std::string> args = RecordLotArgs();
  args.push_back("--wait");
  Output o = Run(args);
  ASSERT_EQ(o.code, 0) << o.err;
  ASSERT_EQ(state_.submitted.size(), 1u);
  const v1::SignedTx& tx = state_.submitted[0];
  auto body = ledger::proof::CheckTxEnvelope(tx, /*verify_signature=*/true);
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(body->chain_id(), "fake-chain");
  EXPECT_EQ(body->created_at_ms(), kNowMs);
  EXPECT_EQ(body->nonce(), 42u);
  EXPECT_EQ(body->record_mine_lot().weight_grams(), 25300u);
  auto signer = crypto::ReadKeyFile(dir_ / "signer.key");
  ASSERT_TRUE(signer);
  EXPECT_EQ(tx.signer(), std::string(signer->public_key().begin(), signer->public_key().end()));
  EXPECT_EQ(o.out, ToHex(ledger::proof::TxId(tx)) + "\nOK height 8\n");
}

TEST_F(AppTest, TxUsesGivenChainIdNonceAndTimeWithoutAskingTheNode) {
  StartFakeNode();
  std::vector<std::string> args = RecordLotArgs();
  args.insert(args.end(),
              {"--chain-id", "other", "--nonce", "7", "--created-at-ms", "5", "--json"});
  Output o = Run(args);
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(state_.status_calls, 0);
  ASSERT_EQ(state_.submitted.size(), 1u);
  v1::TxBody body;
  ASSERT_TRUE(body.ParseFromString(state_.submitted[0].body()));
  EXPECT_EQ(body.chain_id(), "other");
  EXPECT_EQ(body.nonce(), 7u);
  EXPECT_EQ(body.created_at_ms(), 5);
  EXPECT_EQ(o.out, "{\"txId\":\"" + ToHex(ledger::proof::TxId(state_.submitted[0])) + "\"}\n");
}

TEST_F(AppTest, FailedReceiptExitsOneAndSaysWhy) {
  StartFakeNode();
  state_.receipt_status = v1::TX_STATUS_FAILED;
  state_.receipt_reason = "tag T0000012 is already used";
  state_.receipt_error_code = "TAG_USED";
  std::vector<std::string> args = RecordLotArgs();
  args.push_back("--wait");
  Output o = Run(args);
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.out.find("FAILED: tag T0000012 is already used (height 8)"), std::string::npos)
      << o.out;
  ExpectOneErrorLine(o, "minetrace: tx ");
  EXPECT_NE(o.err.find("committed at height 8: TAG_USED: tag T0000012 is already used"),
            std::string::npos)
      << o.err;
}

TEST_F(AppTest, FailedReceiptShowsItsAnomalies) {
  StartFakeNode();
  state_.receipt_status = v1::TX_STATUS_FAILED;
  state_.receipt_reason = "tag T0000012 is allocated to another agent";
  state_.receipt_error_code = "PERMISSION_DENIED";
  v1::Anomaly a;
  a.set_kind("tag_off_agent");
  a.set_tag_id("T0000012");
  a.set_site_id("CD-SK-0042");
  a.set_detail("signed by another member");
  state_.receipt_anomalies.push_back(a);
  std::vector<std::string> args = RecordLotArgs();
  args.push_back("--wait");
  Output o = Run(args);
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.out.find("FAILED: tag T0000012 is allocated to another agent (height 8)\n"
                       "anomaly tag_off_agent (tag T0000012, site CD-SK-0042): signed by "
                       "another member\n"),
            std::string::npos)
      << o.out;
}

TEST_F(AppTest, EveryTxActionHasHelpWithItsFlags) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"record-inspection", "--report-hash"}, {"set-site-status", "--reason"},
      {"report-tags", "--status"},            {"withdraw-tags", "--site-id"},
      {"restore-tags", "--site-id"},          {"process", "TAG_ID:WEIGHT_KG:GRADE_PERCENT"},
      {"form-shipment", "--destination"},     {"review-shipment", "--refuse"},
      {"dispatch-shipment", "--smelter"},     {"receive-shipment", "--weight-kg"},
      {"cancel-shipment", "--reason"},        {"report-incident", "armed-groups"},
      {"update-incident", "under-mitigation"}, {"set-audit-flag", "--flag"},
      {"allocate-tags", "processor"}};
  for (const auto& [command, words] : cases) {
    Output o = Run({"tx", command, "--help"});
    EXPECT_EQ(o.code, 0) << command << o.err;
    EXPECT_NE(o.out.find(words), std::string::npos) << command << ": " << o.out;
  }
}

TEST_F(AppTest, NewActionsSignTheirBodies) {
  StartFakeNode();
  Output o = Run({"tx", "report-incident", "--key", SignerKey(), "--node", address_, "--subject",
                  "lot", "--subject-id", "T0000012", "--category", "armed-groups", "--level", "1",
                  "--description", "armed escort seen", "--source", "hotline"});
  ASSERT_EQ(o.code, 0) << o.err;
  ASSERT_EQ(state_.submitted.size(), 1u);
  v1::TxBody body;
  ASSERT_TRUE(body.ParseFromString(state_.submitted[0].body()));
  EXPECT_EQ(body.report_incident().subject_kind(), v1::INCIDENT_SUBJECT_LOT);
  EXPECT_EQ(body.report_incident().category(), v1::INCIDENT_CATEGORY_ARMED_GROUPS);
  EXPECT_EQ(body.report_incident().source(), v1::INCIDENT_SOURCE_HOTLINE);

  Output level = Run({"tx", "report-incident", "--key", SignerKey(), "--node", address_,
                      "--subject", "lot", "--subject-id", "T1", "--category", "other", "--level",
                      "4", "--description", "x"});
  EXPECT_EQ(level.code, 2);
  ExpectOneErrorLine(level, "minetrace: command line: ");

  Output both = Run({"tx", "review-shipment", "--key", SignerKey(), "--node", address_,
                     "--shipment-id", "S1", "--issue", "--refuse"});
  EXPECT_EQ(both.code, 2);
  ExpectOneErrorLine(both, "minetrace: command line: ");
  Output neither = Run({"tx", "review-shipment", "--key", SignerKey(), "--node", address_,
                        "--shipment-id", "S1"});
  EXPECT_EQ(neither.code, 2);
  ExpectOneErrorLine(neither, "minetrace: tx review-shipment: INVALID_ARGUMENT: give exactly one "
                              "of --issue and --refuse");
}

// ---- offline signing, batches, logbooks ----

TEST_F(AppTest, OfflineTxAppendsToABatchFileWithoutANode) {
  const std::string batch = (dir_ / "batch.pb").string();
  std::vector<std::string> args = RecordLotArgs();  // --node 127.0.0.1:1: nobody there
  args.insert(args.end(), {"--offline", "--out", batch, "--chain-id", "field-chain"});
  Output first = Run(args);
  ASSERT_EQ(first.code, 0) << first.err;
  *(std::find(args.begin(), args.end(), "T0000012")) = "T0000013";
  args.insert(args.end(), {"--json"});
  Output second = Run(args);
  ASSERT_EQ(second.code, 0) << second.err;

  auto txs = ReadBatch(batch);
  ASSERT_TRUE(txs) << txs.error().message;
  ASSERT_EQ(txs->size(), 2u);
  EXPECT_EQ(first.out, ToHex(ledger::proof::TxId((*txs)[0])) + "\nappended to " + batch +
                           " (record 1)\n");
  EXPECT_EQ(second.out, "{\"txId\":\"" + ToHex(ledger::proof::TxId((*txs)[1])) +
                            "\",\"file\":\"" + batch + "\",\"record\":2}\n");
  auto body = ledger::proof::CheckTxEnvelope((*txs)[1], /*verify_signature=*/true);
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(body->chain_id(), "field-chain");
  EXPECT_EQ(body->created_at_ms(), kNowMs);  // the device time is the signing time
  EXPECT_EQ(body->record_mine_lot().tag_id(), "T0000013");
}

TEST_F(AppTest, OfflineFlagsGoTogether) {
  const std::string batch = (dir_ / "batch.pb").string();
  std::vector<std::string> no_chain = RecordLotArgs();
  no_chain.insert(no_chain.end(), {"--offline", "--out", batch});
  Output a = Run(no_chain);
  EXPECT_EQ(a.code, 2);
  ExpectOneErrorLine(a, "minetrace: tx record-lot: INVALID_ARGUMENT: --offline needs --chain-id");
  std::vector<std::string> no_out = RecordLotArgs();
  no_out.insert(no_out.end(), {"--offline", "--chain-id", "c"});
  Output b = Run(no_out);
  EXPECT_EQ(b.code, 2);
  ExpectOneErrorLine(b, "minetrace: tx record-lot: INVALID_ARGUMENT: --offline needs --out");
  std::vector<std::string> out_only = RecordLotArgs();
  out_only.insert(out_only.end(), {"--out", batch});
  Output c = Run(out_only);
  EXPECT_EQ(c.code, 2);
  ExpectOneErrorLine(c, "minetrace: tx record-lot: INVALID_ARGUMENT: --out goes with --offline");
  std::vector<std::string> wait = RecordLotArgs();
  wait.insert(wait.end(), {"--offline", "--out", batch, "--chain-id", "c", "--wait"});
  EXPECT_EQ(Run(wait).code, 2);
  EXPECT_FALSE(fs::exists(batch));
}

TEST_F(AppTest, SubmitBatchTwiceReportsEveryTxAlreadyCommittedAndExitsZero) {
  StartFakeNode();
  const std::string batch = (dir_ / "batch.pb").string();
  for (const char* tag : {"T0000012", "T0000013", "T0000014"}) {
    std::vector<std::string> args = RecordLotArgs();
    *(std::find(args.begin(), args.end(), "T0000012")) = tag;
    args.insert(args.end(), {"--offline", "--out", batch, "--chain-id", "fake-chain"});
    ASSERT_EQ(Run(args).code, 0);
  }
  EXPECT_TRUE(state_.submitted.empty());

  Output first = Run({"submit-batch", batch, "--node", address_, "--wait"});
  ASSERT_EQ(first.code, 0) << first.err << first.out;
  EXPECT_EQ(state_.submitted.size(), 3u);
  EXPECT_NE(first.out.find("3 txs: 3 OK, 0 FAILED, 0 refused, 0 pending\n"), std::string::npos)
      << first.out;
  EXPECT_NE(first.out.find("Z  OK height 8 "), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("  record-lot T0000013 site CD-SK-0042"), std::string::npos)
      << first.out;
  // Not a terminal: plain progress lines, not a bar.
  EXPECT_NE(first.err.find("minetrace: uploaded 3/3\n"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("minetrace: committed 3/3\n"), std::string::npos) << first.err;
  EXPECT_EQ(first.err.find('\r'), std::string::npos);

  Output again = Run({"submit-batch", batch, "--node", address_, "--wait", "--json"});
  ASSERT_EQ(again.code, 0) << again.err << again.out;
  EXPECT_EQ(state_.submitted.size(), 3u);  // nothing admitted twice
  EXPECT_NE(again.out.find("\"counts\":{\"total\":3,\"ok\":3,\"failed\":0,\"refused\":0,"
                           "\"pending\":0,\"already\":3}"),
            std::string::npos)
      << again.out;
  Output table = Run({"submit-batch", batch, "--node", address_});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("OK height 8 (already)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("(3 were already on the node)"), std::string::npos) << table.out;
}

TEST_F(AppTest, SubmitBatchWaitsOutAFullMempool) {
  StartFakeNode();
  state_.mempool_room = 2;
  const std::string batch = (dir_ / "batch.pb").string();
  for (const char* tag : {"T0000012", "T0000013", "T0000014", "T0000015"}) {
    std::vector<std::string> args = RecordLotArgs();
    *(std::find(args.begin(), args.end(), "T0000012")) = tag;
    args.insert(args.end(), {"--offline", "--out", batch, "--chain-id", "fake-chain"});
    ASSERT_EQ(Run(args).code, 0);
  }
  Output o = Run({"submit-batch", batch, "--node", address_, "--wait"});
  ASSERT_EQ(o.code, 0) << o.err << o.out;
  EXPECT_EQ(state_.submit_txs_calls, 2);  // the last two again, after the first two committed
  EXPECT_EQ(state_.submitted.size(), 4u);
  EXPECT_NE(o.out.find("4 txs: 4 OK, 0 FAILED, 0 refused, 0 pending\n"), std::string::npos)
      << o.out;
}

TEST_F(AppTest, SubmitBatchReportsRefusedTxsAndExitsOne) {
  StartFakeNode();
  state_.refuse_tag = "T0000013";
  const std::string batch = (dir_ / "batch.pb").string();
  for (const char* tag : {"T0000012", "T0000013"}) {
    std::vector<std::string> args = RecordLotArgs();
    *(std::find(args.begin(), args.end(), "T0000012")) = tag;
    args.insert(args.end(), {"--offline", "--out", batch, "--chain-id", "fake-chain"});
    ASSERT_EQ(Run(args).code, 0);
  }
  Output o = Run({"submit-batch", batch, "--node", address_});
  EXPECT_EQ(o.code, 1) << o.err;
  // An ALREADY_EXISTS that is a rule (not this tx) is a refusal, with the node's message.
  EXPECT_NE(o.out.find("refused"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("   ALREADY_EXISTS: lot T0000013 already exists\n"), std::string::npos)
      << o.out;
  // Without --wait the admitted tx is pending, which is not a failure.
  EXPECT_NE(o.out.find("2 txs: 0 OK, 0 FAILED, 1 refused, 1 pending\n"), std::string::npos)
      << o.out;
  EXPECT_NE(o.err.find("minetrace: submit-batch " + batch +
                       ": FAILED: 1 of 2 txs not committed OK: 2 txs: 0 OK, 0 FAILED, 1 refused, "
                       "1 pending\n"),
            std::string::npos)
      << o.err;
}

TEST_F(AppTest, SubmitBatchRefusesATruncatedFileNamingTheRecord) {
  const fs::path batch = dir_ / "batch.pb";
  v1::SignedTx tx;
  tx.set_body("b");
  std::ofstream(batch, std::ios::binary) << EncodeBatchRecord(tx) << std::string("\0\0", 2);
  Output o = Run({"submit-batch", batch.string(), "--node", address_});
  EXPECT_EQ(o.code, 1);
  ExpectOneErrorLine(o, "minetrace: submit-batch " + batch.string() + ": DATA_LOSS: " +
                            batch.string() + ": record 2 is truncated");
}

TEST_F(AppTest, ImportLogbookOfflineSignsGoodRowsAndReportsBadOnesByLine) {
  const fs::path csv = dir_ / "logbook.csv";
  const std::string producer(64, 'c');
  std::ofstream(csv) << "tag_id,site_id,mineral,weight_kg,grade_percent,producer_key,recorded_at\n"
                     << "T0000012,CD-SK-0042,cassiterite,25.3,45.5," << producer
                     << ",2026-03-01T09:30:00Z\n"
                     << "T0000013,CD-SK-0042,cassiterite,-1,45.5," << producer << ",\n"
                     << "\"T0000014\",\"CD-SK-0042\",coltan,\"12\",30," << producer << ",\n";
  const std::string batch = (dir_ / "batch.pb").string();
  Output o = Run({"import-logbook", csv.string(), "--key", SignerKey(), "--offline", "--out",
                  batch, "--chain-id", "field-chain"});
  EXPECT_EQ(o.code, 1);
  EXPECT_EQ(o.out, "signed 2 of 3 rows; appended to " + batch + " as records 1..2\n");
  EXPECT_EQ(o.err.rfind("line 3: weight_kg: \"-1\" is not a non-negative decimal number\n", 0),
            0u)
      << o.err;
  EXPECT_NE(o.err.find("minetrace: import-logbook " + csv.string() +
                       ": INVALID_ARGUMENT: 1 of 3 rows is bad (see the lines above); 2 good "
                       "rows were signed\n"),
            std::string::npos)
      << o.err;
  auto txs = ReadBatch(batch);
  ASSERT_TRUE(txs) << txs.error().message;
  ASSERT_EQ(txs->size(), 2u);
  auto first = ledger::proof::CheckTxEnvelope((*txs)[0], true);
  auto second = ledger::proof::CheckTxEnvelope((*txs)[1], true);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->created_at_ms(), 1772357400000);  // recorded_at
  EXPECT_EQ(second->created_at_ms(), kNowMs);        // no recorded_at: the signing time
  EXPECT_EQ(second->record_mine_lot().tag_id(), "T0000014");
  EXPECT_EQ(second->chain_id(), "field-chain");
  EXPECT_NE(first->nonce(), second->nonce());
}

TEST_F(AppTest, ImportLogbookToANodeUploadsAndShowsTheTable) {
  StartFakeNode();
  const fs::path csv = dir_ / "logbook.csv";
  std::ofstream(csv) << "tag_id,site_id,mineral,weight_kg,grade_percent,producer_key\n"
                     << "T0000012,CD-SK-0042,cassiterite,25.3,45.5," << std::string(64, 'c')
                     << "\n";
  Output o = Run({"import-logbook", csv.string(), "--key", SignerKey(), "--node", address_,
                  "--wait"});
  ASSERT_EQ(o.code, 0) << o.err << o.out;
  ASSERT_EQ(state_.submitted.size(), 1u);
  EXPECT_EQ(state_.status_calls, 1);  // the chain id came from the node
  EXPECT_NE(o.out.find("1 tx: 1 OK, 0 FAILED, 0 refused, 0 pending\n"), std::string::npos)
      << o.out;
  Output bad_header = Run({"import-logbook", csv.string() + ".missing", "--key", SignerKey(),
                           "--offline", "--out", "x", "--chain-id", "c"});
  EXPECT_EQ(bad_header.code, 1);
  ExpectOneErrorLine(bad_header, "minetrace: import-logbook " + csv.string() +
                                     ".missing: NOT_FOUND: cannot read the file");
}

TEST_F(AppTest, SubmitBatchToNoNodeExitsThreeAndSaysRetryingIsHarmless) {
  const std::string batch = (dir_ / "batch.pb").string();
  std::vector<std::string> args = RecordLotArgs();
  args.insert(args.end(), {"--offline", "--out", batch, "--chain-id", "c"});
  ASSERT_EQ(Run(args).code, 0);
  Output o = Run({"submit-batch", batch, "--node", "127.0.0.1:1", "--timeout-ms", "3000"});
  EXPECT_EQ(o.code, 3) << o.err;
  EXPECT_NE(o.err.find("minetrace: SubmitTxs on 127.0.0.1:1: UNAVAILABLE: "), std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find("(after 0 of 1 txs were uploaded; uploading the batch again is "
                       "harmless)\n"),
            std::string::npos)
      << o.err;
  Output no_chain = Run({"import-logbook", batch, "--key", SignerKey(), "--offline", "--out",
                         batch});
  EXPECT_EQ(no_chain.code, 2);
  ExpectOneErrorLine(no_chain, "minetrace: import-logbook " + batch +
                                   ": INVALID_ARGUMENT: --offline needs --chain-id");
  Output empty = Run({"submit-batch", (dir_ / "none.pb").string(), "--node", address_});
  EXPECT_EQ(empty.code, 1);
  ExpectOneErrorLine(empty, "minetrace: submit-batch " + (dir_ / "none.pb").string() +
                                ": NOT_FOUND: cannot open ");
}

TEST_F(AppTest, RefusedSubmitExitsOneWithTheNodesCodeAndMessage) {
  StartFakeNode();
  state_.submit_status = {grpc::StatusCode::PERMISSION_DENIED, "signer is not a member"};
  Output o = Run(RecordLotArgs());
  EXPECT_EQ(o.code, 1);
  ExpectOneErrorLine(
      o, "minetrace: SubmitTx on " + address_ + ": PERMISSION_DENIED: signer is not a member");
}

TEST_F(AppTest, QueryLotsFollowsPageTokensWithAll) {
  StartFakeNode();
  state_.lot_pages = 3;
  Output one = Run({"query", "--node", address_, "lots", "--status", "held"});
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_NE(one.out.find("more: --page-token 1"), std::string::npos) << one.out;

  Output all = Run({"query", "lots", "--all", "--node", address_, "--json"});
  ASSERT_EQ(all.code, 0) << all.err;
  v1::ListLotsResponse merged;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(all.out, &merged).ok()) << all.out;
  EXPECT_EQ(merged.lots_size(), 6);
  EXPECT_TRUE(merged.next_page_token().empty());
  EXPECT_EQ(merged.lots(5).lot_id(), "T1000005");
}

TEST_F(AppTest, QueryLotPrintsKgAndNotFoundExitsOne) {
  StartFakeNode();
  Output o = Run({"query", "--node", address_, "lot", "T0000012"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("25.300 kg"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("45.50 %"), std::string::npos) << o.out;
  Output missing = Run({"query", "--node", address_, "lot", "T9"});
  EXPECT_EQ(missing.code, 1);
  ExpectOneErrorLine(missing, "minetrace: GetLot on " + address_ + ": NOT_FOUND: no lot T9");
}

TEST_F(AppTest, QueryProofWritesBinaryTxProof) {
  StartFakeNode();
  const std::string file = (dir_ / "p.bin").string();
  const std::string id(64, 'e');
  Output o = Run({"query", "--node", address_, "proof", id, "--out", file});
  ASSERT_EQ(o.code, 0) << o.err;
  std::ifstream in(file, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  v1::TxProof proof;
  ASSERT_TRUE(proof.ParseFromString(buf.str()));
  EXPECT_EQ(proof.inclusion().tree_size(), 9u);
  EXPECT_EQ(ToHex(AsBytes(proof.tx().receipt().tx_id())), id);
}

TEST_F(AppTest, QueryProvenanceInEveryFormat) {
  StartFakeNode();
  Output tree = Run({"query", "--node", address_, "provenance", "P0000001"});
  ASSERT_EQ(tree.code, 0) << tree.err;
  EXPECT_EQ(state_.provenance_request.lot_id(), "P0000001");
  EXPECT_EQ(state_.provenance_request.shipment_id(), "");
  EXPECT_NE(tree.out.find("`-- lot P0000001  processing"), std::string::npos) << tree.out;
  EXPECT_NE(tree.out.find("    `-- lot T0000012  mine"), std::string::npos) << tree.out;

  Output dot = Run({"query", "--node", address_, "provenance", "EXP-1", "--shipment", "--format",
                    "dot"});
  ASSERT_EQ(dot.code, 0) << dot.err;
  EXPECT_EQ(state_.provenance_request.shipment_id(), "EXP-1");
  EXPECT_EQ(state_.provenance_request.lot_id(), "");
  EXPECT_NE(dot.out.find("\"shipment:EXP-1\" -> \"lot:P0000001\";"), std::string::npos) << dot.out;
  EXPECT_NE(dot.out.find("\"lot:P0000001\" -> \"lot:T0000012\";"), std::string::npos) << dot.out;

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"query", "--node", address_, "provenance", "P0000001", "--format",
                                 "json"},
        std::vector<std::string>{"query", "--json", "--node", address_, "provenance",
                                 "P0000001"}}) {
    Output json = Run(args);
    ASSERT_EQ(json.code, 0) << json.err;
    v1::Provenance back;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &back).ok()) << json.out;
    EXPECT_EQ(back.lots_size(), 2);
  }
  Output bad = Run({"query", "--node", address_, "provenance", "P1", "--format", "svg"});
  EXPECT_EQ(bad.code, 2);
  ExpectOneErrorLine(bad, "minetrace: command line: ");
}

TEST_F(AppTest, QueryIncidentsAndFlagsSendTheirFilters) {
  StartFakeNode();
  Output o = Run({"query", "--node", address_, "incidents", "--subject", "member", "--id",
                  std::string(64, 'A'), "--status", "under-mitigation", "--level", "1", "--category",
                  "armed-groups", "--open", "--page-size", "5"});
  ASSERT_EQ(o.code, 0) << o.err;
  const v1::ListIncidentsRequest& r = state_.incidents_request;
  EXPECT_EQ(r.subject_kind(), v1::INCIDENT_SUBJECT_MEMBER);
  EXPECT_EQ(r.subject_id(), std::string(64, 'a'));  // members are lowercase hex on the ledger
  EXPECT_EQ(r.status(), v1::INCIDENT_STATUS_UNDER_MITIGATION);
  EXPECT_EQ(r.level(), 1u);
  EXPECT_EQ(r.category(), v1::INCIDENT_CATEGORY_ARMED_GROUPS);
  EXPECT_TRUE(r.open_only());
  EXPECT_EQ(r.page_size(), 5u);
  EXPECT_EQ(o.out.rfind("INC-0000001  under-mitigation  level 1", 0), 0u) << o.out;

  Output half = Run({"query", "--node", address_, "incidents", "--subject", "site"});
  EXPECT_EQ(half.code, 2);
  Output bad = Run({"query", "--node", address_, "incidents", "--status", "reopened"});
  EXPECT_EQ(bad.code, 2);
  ExpectOneErrorLine(bad, "minetrace: query incidents --status: INVALID_ARGUMENT: unknown "
                          "incident status \"reopened\"");

  Output flags = Run({"query", "--node", address_, "flags", "--kind", "tag_off_site", "--lot",
                      "T1", "--site", "S1", "--member", std::string(64, 'b')});
  ASSERT_EQ(flags.code, 0) << flags.err;
  EXPECT_EQ(state_.flags_request.kind(), "tag_off_site");
  EXPECT_EQ(state_.flags_request.lot_id(), "T1");
  EXPECT_EQ(state_.flags_request.site_id(), "S1");
  EXPECT_EQ(state_.flags_request.member_key(), std::string(32, '\xbb'));
  EXPECT_EQ(flags.out, "no flags\n");
}

// ---- minetrace status ----

TEST_F(AppTest, StatusOfNodesOnOneRootExitsZero) {
  StatusOnlyNode a(ValidatorStatus(42, '\xab'));
  StatusOnlyNode b(ValidatorStatus(42, '\xab'));
  Output o = Run({"status", "--node", a.address(), "--node", b.address()});
  ASSERT_EQ(o.code, 0) << o.err << o.out;
  EXPECT_EQ(o.err, "");
  const std::string root = ToHex(AsBytes(std::string(32, '\xab')));
  EXPECT_EQ(o.out, a.address() + "  validator  height 45  round 46  leaves 42  root " +
                       root.substr(0, 16) + "  peers 1/2  mempool 0\n" + b.address() +
                       "  validator  height 45  round 46  leaves 42  root " + root.substr(0, 16) +
                       "  peers 1/2  mempool 0\n" + "all 2 nodes on root " + root +
                       " at 42 leaves\n");
}

TEST_F(AppTest, StatusShowsUnreachableNodesAndExitsThree) {
  StatusOnlyNode a(ValidatorStatus(7, '\x01'));
  Output o =
      Run({"status", "--node", a.address(), "--node", "127.0.0.1:1", "--timeout-ms", "3000"});
  EXPECT_EQ(o.code, 3) << o.err;
  // Labels are padded to the longest address, so the columns line up.
  const std::string padded(a.address().size() - std::string("127.0.0.1:1").size(), ' ');
  EXPECT_NE(o.out.find("\n127.0.0.1:1" + padded + "  unreachable: UNAVAILABLE: "),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("\n1 reachable node on root "), std::string::npos) << o.out;
  ExpectOneErrorLine(o, "minetrace: status: UNAVAILABLE: 1 of 2 nodes unreachable: 127.0.0.1:1");
}

TEST_F(AppTest, StatusOfAForkExitsOneEvenWithANodeDown) {
  StatusOnlyNode a(ValidatorStatus(42, '\xab'));
  StatusOnlyNode b(ValidatorStatus(42, '\xcd'));
  Output o = Run({"status", "--node", a.address(), "--node", b.address(), "--node", "127.0.0.1:1",
                  "--timeout-ms", "3000"});
  EXPECT_EQ(o.code, 1) << o.err;
  ExpectOneErrorLine(o, "minetrace: status: FAILED_PRECONDITION: nodes disagree: at 42 leaves ");
}

TEST_F(AppTest, StatusOfANodeBehindExitsOne) {
  StatusOnlyNode a(ValidatorStatus(42, '\xab'));
  StatusOnlyNode b(ValidatorStatus(40, '\x11'));
  Output o = Run({"status", "--node", a.address(), "--node", b.address()});
  EXPECT_EQ(o.code, 1) << o.err;
  ExpectOneErrorLine(o, "minetrace: status: FAILED_PRECONDITION: nodes not in step ");
}

TEST_F(AppTest, StatusNetReadsEveryNodeConfigInNodeOrder) {
  StatusOnlyNode v0(ValidatorStatus(5, '\x05'));
  StatusOnlyNode v10(ValidatorStatus(5, '\x05'));
  StatusOnlyNode v2(ValidatorStatus(5, '\x05'));
  v1::StatusResponse observer = ValidatorStatus(5, '\x05');
  observer.set_role("observer");
  StatusOnlyNode o0(observer);
  const fs::path net = dir_ / "net";
  auto write_config = [&](const std::string& name, const std::string& address) {
    fs::create_directories(net / name);
    std::ofstream(net / name / "config.toml")
        << NodeConfigToml(net / "genesis.toml", net / name / "node.key", net / name / "data",
                          address, "127.0.0.1:1", {}, {}, TestnetOptions());
  };
  write_config("node10", v10.address());
  write_config("observer0", o0.address());
  write_config("node2", v2.address());
  write_config("node0", v0.address());
  fs::create_directories(net / "not-a-node");  // no config.toml: not a node

  Output o = Run({"status", "--net", net.string()});
  ASSERT_EQ(o.code, 0) << o.err << o.out;
  const size_t p0 = o.out.find("node0 " + v0.address());
  const size_t p2 = o.out.find("node2 " + v2.address());
  const size_t p10 = o.out.find("node10 " + v10.address());
  const size_t po = o.out.find("observer0 " + o0.address());
  ASSERT_NE(po, std::string::npos) << o.out;
  EXPECT_LT(p0, p2) << o.out;
  EXPECT_LT(p2, p10) << o.out;
  EXPECT_LT(p10, po) << o.out;
  EXPECT_NE(o.out.find("observer   height 8  round -"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("all 4 nodes on root "), std::string::npos) << o.out;

  Output json = Run({"status", "--net", net.string(), "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_EQ(json.out.rfind("{\"nodes\":[{\"name\":\"node0\",\"address\":\"" + v0.address() +
                               "\",\"reachable\":true,\"status\":{",
                           0),
            0u)
      << json.out;
  EXPECT_NE(json.out.find("\"verdict\":\"agree\""), std::string::npos) << json.out;
}

TEST_F(AppTest, StatusRefusesNodeWithNetAndAFolderWithoutNodes) {
  Output both = Run({"status", "--node", "127.0.0.1:1", "--net", dir_.string()});
  EXPECT_EQ(both.code, 2);
  ExpectOneErrorLine(both, "minetrace: command line: ");
  Output empty = Run({"status", "--net", dir_.string()});
  EXPECT_EQ(empty.code, 1);
  ExpectOneErrorLine(empty,
                     "minetrace: status --net " + dir_.string() + ": NOT_FOUND: no node configs");
}

TEST_F(AppTest, QueryStatusStillShowsOneNodeInDetail) {
  StartFakeNode();
  Output o = Run({"query", "--node", address_, "status"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("chain id           fake-chain"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("height             7"), std::string::npos) << o.out;
}

TEST(GrpcAddressFromConfig, ReadsWhatTestnetWrites) {
  const std::string toml =
      NodeConfigToml("/n/genesis.toml", "/n/node0/node.key", "/n/node0/data", "127.0.0.1:7003",
                     "127.0.0.1:7103", {}, {}, TestnetOptions());
  auto address = GrpcAddressFromConfig(toml);
  ASSERT_TRUE(address) << address.error().message;
  EXPECT_EQ(*address, "127.0.0.1:7003");
}

TEST(GrpcAddressFromConfig, WildcardsBecomeLoopbackAndAbsentIsTheNodesDefault) {
  EXPECT_EQ(*GrpcAddressFromConfig("grpc_listen = \"0.0.0.0:7005\"  # all interfaces\n"),
            "127.0.0.1:7005");
  EXPECT_EQ(*GrpcAddressFromConfig("  grpc_listen='[::]:7005'\n"), "[::1]:7005");
  EXPECT_EQ(*GrpcAddressFromConfig("grpc_listen = \"10.0.0.5:7005\"\n"), "10.0.0.5:7005");
  // A key of the same name inside a table is not the node's grpc_listen.
  EXPECT_EQ(*GrpcAddressFromConfig("data_dir = \"d\"\n[log]\ngrpc_listen = \"1.2.3.4:1\"\n"),
            "127.0.0.1:7000");
}

TEST(GrpcAddressFromConfig, RefusesWhatItCannotReadExactly) {
  for (const char* bad : {"grpc_listen = 7000\n", "grpc_listen = \"a\\\"b:1\"\n",
                          "grpc_listen = \"127.0.0.1:7000\" extra\n", "grpc_listen = \"\"\n",
                          "grpc_listen = \"127.0.0.1:7000\n"}) {
    auto address = GrpcAddressFromConfig(bad);
    EXPECT_FALSE(address) << bad;
    if (!address) {
      EXPECT_EQ(address.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace minetrace::cli

namespace minetrace::cli {
namespace {

// `minetrace bench` against the fake node: setup commits (WaitTx), then 40 mine lots with 8 in
// flight; every 10th streamed tx is FAILED, and the summary says so by reason.
TEST_F(AppTest, BenchRunsAgainstANodeAndCountsFailedByReason) {
  StartFakeNode();
  const fs::path admin = dir_ / "admin.key";
  ASSERT_TRUE(WriteNewKeyPair(admin));
  state_.watch_fail_every = 10;
  Output o = Run({"bench", "--node", address_, "--admin-key", admin.string(), "--keys", "9",
                  "--in-flight", "8", "--txs", "40", "--seed", "7", "--json", "-"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("\"workload\":\"mine-lots\""), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\"sent\":40,"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\"rejected\":0,"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\"committedOk\":36,"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\"committedFailed\":4,"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\"latencyMs\":{\"count\":40,"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\"failedByReason\":{\"FAILED_PRECONDITION: fake refusal of tx #\":4}"),
            std::string::npos)
      << o.out;
  std::lock_guard<std::mutex> lock(state_.mu);
  // Setup: 3 agents, 3 cooperatives, 3 processors, 3 sites, 3 tag allocations; then the load.
  EXPECT_EQ(state_.submitted.size(), 15u + 40u);
  EXPECT_EQ(state_.watch_streams, 1);
  size_t lots = 0;
  for (const auto& tx : state_.submitted) {
    v1::TxBody body;
    ASSERT_TRUE(body.ParseFromString(tx.body()));
    lots += body.has_record_mine_lot();
    EXPECT_TRUE(ledger::proof::CheckTxEnvelope(tx, true));
  }
  EXPECT_EQ(lots, 40u);
}

TEST_F(AppTest, BenchCommandLineErrorsAndUnreachableNode) {
  StartFakeNode();
  const fs::path admin = dir_ / "admin.key";
  ASSERT_TRUE(WriteNewKeyPair(admin));
  Output both = Run({"bench", "--node", address_, "--admin-key", admin.string(), "--rate", "5",
                     "--in-flight", "5", "--txs", "5"});
  EXPECT_EQ(both.code, 2);
  ExpectOneErrorLine(both, "minetrace: command line: ");
  Output neither = Run({"bench", "--node", address_, "--admin-key", admin.string(), "--txs", "5"});
  EXPECT_EQ(neither.code, 2);
  ExpectOneErrorLine(neither, "minetrace: bench: INVALID_ARGUMENT: give exactly one of --rate");
  Output no_length =
      Run({"bench", "--node", address_, "--admin-key", admin.string(), "--rate", "5"});
  EXPECT_EQ(no_length.code, 2);
  ExpectOneErrorLine(no_length, "minetrace: bench: INVALID_ARGUMENT: give exactly one of --duration");
  Output no_admin = Run({"bench", "--node", address_, "--rate", "5", "--txs", "5"});
  EXPECT_EQ(no_admin.code, 2);
  ExpectOneErrorLine(no_admin, "minetrace: bench: INVALID_ARGUMENT: give --admin-key");
  Output workload = Run({"bench", "--node", address_, "--admin-key", admin.string(), "--rate",
                         "5", "--txs", "5", "--workload", "gold-rush"});
  EXPECT_EQ(workload.code, 2);
  ExpectOneErrorLine(workload, "minetrace: command line: ");
  Output unreachable = Run({"bench", "--node", "127.0.0.1:1", "--timeout-ms", "3000",
                            "--admin-key", admin.string(), "--rate", "5", "--txs", "5"});
  EXPECT_EQ(unreachable.code, 3) << unreachable.err;
  ExpectOneErrorLine(unreachable, "minetrace: Status on 127.0.0.1:1: UNAVAILABLE: ");
  Output help = Run({"bench", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--in-flight"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("WatchCommits"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace minetrace::cli
