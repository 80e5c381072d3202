// Goal: every kind of bad submission gets the right gRPC status code and a message a person
// can act on, and the node keeps serving afterwards.
// Method: one real minetrace-node on loopback; the test signs transactions as the genesis
// administrator and as members it registers, and submits good and bad ones over gRPC.
#include <sys/wait.h>

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include "minetrace/ledger/proof/tx.h"
#include "node_process.h"

namespace minetrace::testing {
namespace {

crypto::PrivateKey Member(uint8_t seed) {
  Bytes secret(32, 0x33);
  secret[31] = seed;
  return *crypto::PrivateKey::FromBytes(secret);
}

std::string KeyStr(const crypto::PrivateKey& k) {
  return std::string(k.public_key().begin(), k.public_key().end());
}

class SubmitErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    node_.Start();
    tx_ = node_.TxStub();
  }

  v1::TxBody Body() {
    v1::TxBody b;
    b.set_chain_id(node_.chain_id());
    b.set_nonce(++nonce_);
    b.set_created_at_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
    return b;
  }

  // Submits; when admitted and `wait`, waits for the commit and expects an OK receipt.
  grpc::Status Submit(const v1::SignedTx& tx, bool wait = true) {
    v1::SubmitTxRequest req;
    *req.mutable_tx() = tx;
    v1::SubmitTxResponse resp;
    auto ctx = Ctx();
    grpc::Status s = tx_->SubmitTx(ctx.get(), req, &resp);
    if (s.ok() && wait) {
      v1::WaitTxRequest w;
      w.set_tx_id(resp.tx_id());
      v1::TxWithReceipt r;
      auto wctx = Ctx();
      grpc::Status ws = tx_->WaitTx(wctx.get(), w, &r);
      EXPECT_TRUE(ws.ok()) << ws.error_message();
      EXPECT_EQ(r.receipt().status(), v1::TX_STATUS_OK) << r.receipt().reason();
    }
    return s;
  }

  void ExpectCode(const grpc::Status& s, grpc::StatusCode code, const std::string& words) {
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_NE(s.error_message().find(words), std::string::npos) << s.error_message();
  }

  v1::SignedTx RegisterTx(const crypto::PrivateKey& who, v1::Role role) {
    auto b = Body();
    auto* a = b.mutable_register_member();
    a->set_member_key(KeyStr(who));
    a->set_name("member-" + std::to_string(who.public_key()[0]));
    a->add_roles(role);
    return ledger::proof::SignTx(b, node_.admin());
  }

  v1::SignedTx SiteTx(const std::string& id) {
    auto b = Body();
    auto* s = b.mutable_register_mine_site();
    s->set_site_id(id);
    s->set_name("Site " + id);
    s->set_country("CD");
    s->add_minerals(v1::MINERAL_CASSITERITE);
    s->set_status(v1::SITE_STATUS_GREEN);
    return ledger::proof::SignTx(b, node_.admin());
  }

  NodeProcess node_;
  std::unique_ptr<v1::TxService::Stub> tx_;
  uint64_t nonce_ = 0;
};

TEST_F(SubmitErrors, MalformedBodyIsInvalidArgument) {
  v1::SignedTx tx = RegisterTx(Member(1), v1::ROLE_AGENT);
  tx.set_body("\xff\xff\xff not a protobuf");
  ExpectCode(Submit(tx), grpc::StatusCode::INVALID_ARGUMENT, "not a valid minetrace.v1.TxBody");
  v1::SignedTx no_action = ledger::proof::SignTx(Body(), node_.admin());
  ExpectCode(Submit(no_action), grpc::StatusCode::INVALID_ARGUMENT, "no action");
  v1::SignedTx short_sig = RegisterTx(Member(1), v1::ROLE_AGENT);
  short_sig.set_signature("abc");
  ExpectCode(Submit(short_sig), grpc::StatusCode::INVALID_ARGUMENT, "64 bytes");
}

TEST_F(SubmitErrors, MalformedRequestBytesAreRefusedAndNodeSurvives) {
  // Raw bytes that are not a SubmitTxRequest, sent on the real method path.
  grpc::GenericStub generic(node_.channel());
  grpc::Slice slice(std::string("\x0a\xff\xff\xff\xff\x0f garbage"));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  auto ctx = Ctx();
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      generic.PrepareUnaryCall(ctx.get(), "/minetrace.v1.TxService/SubmitTx", request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  // gRPC C++ itself refuses request bytes that do not parse, with INTERNAL, before any
  // handler runs (docs/PROTOCOL.md, Errors); a malformed tx body inside a valid request is
  // INVALID_ARGUMENT (previous test).
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL) << status.error_message();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  // Still serving.
  EXPECT_TRUE(Submit(RegisterTx(Member(2), v1::ROLE_AGENT)).ok());
}

TEST_F(SubmitErrors, BadSignatureIsInvalidArgument) {
  v1::SignedTx tx = RegisterTx(Member(1), v1::ROLE_AGENT);
  tx.mutable_signature()->at(10) ^= 0x01;
  ExpectCode(Submit(tx), grpc::StatusCode::INVALID_ARGUMENT, "signature does not verify");
}

TEST_F(SubmitErrors, UnknownSignerIsPermissionDenied) {
  auto b = Body();
  b.mutable_suspend_member()->set_member_key(KeyStr(node_.admin()));
  ExpectCode(Submit(ledger::proof::SignTx(b, Member(9))), grpc::StatusCode::PERMISSION_DENIED,
             "not a registered member");
}

TEST_F(SubmitErrors, SuspendedMemberAndWrongRoleArePermissionDenied) {
  auto agent = Member(1);
  ASSERT_TRUE(Submit(RegisterTx(agent, v1::ROLE_AGENT)).ok());
  // Wrong role: an agent may not register mine sites.
  v1::SignedTx site = SiteTx("CD-1");
  v1::SignedTx by_agent = ledger::proof::SignTx([&] {
    v1::TxBody b;
    b.ParseFromString(site.body());
    return b;
  }(), agent);
  ExpectCode(Submit(by_agent), grpc::StatusCode::PERMISSION_DENIED, "lacks the role");
  // Suspended: nothing at all.
  auto suspend = Body();
  suspend.mutable_suspend_member()->set_member_key(KeyStr(agent));
  suspend.mutable_suspend_member()->set_reason("audit");
  ASSERT_TRUE(Submit(ledger::proof::SignTx(suspend, node_.admin())).ok());
  auto lot = Body();
  lot.mutable_record_mine_lot()->set_tag_id("T0000001");
  ExpectCode(Submit(ledger::proof::SignTx(lot, agent)), grpc::StatusCode::PERMISSION_DENIED,
             "suspended");
}

TEST_F(SubmitErrors, ReusedTagIsFailedPrecondition) {
  auto agent = Member(1);
  auto coop = Member(2);
  ASSERT_TRUE(Submit(RegisterTx(agent, v1::ROLE_AGENT)).ok());
  ASSERT_TRUE(Submit(RegisterTx(coop, v1::ROLE_COOPERATIVE)).ok());
  ASSERT_TRUE(Submit(SiteTx("CD-1")).ok());
  auto tags = Body();
  auto* t = tags.mutable_allocate_tags();
  t->set_site_id("CD-1");
  t->set_agent_key(KeyStr(agent));
  t->set_prefix("T");
  t->set_first(1);
  t->set_count(5);
  ASSERT_TRUE(Submit(ledger::proof::SignTx(tags, node_.admin())).ok());
  auto record = [&] {
    auto b = Body();
    auto* l = b.mutable_record_mine_lot();
    l->set_tag_id("T0000001");
    l->set_site_id("CD-1");
    l->set_mineral(v1::MINERAL_CASSITERITE);
    l->set_weight_grams(50000);
    l->set_producer_key(KeyStr(coop));
    return ledger::proof::SignTx(b, agent);
  };
  ASSERT_TRUE(Submit(record()).ok());
  ExpectCode(Submit(record()), grpc::StatusCode::FAILED_PRECONDITION, "already used");
}

TEST_F(SubmitErrors, DuplicateTxIsAlreadyExistsPendingOrCommitted) {
  v1::SignedTx tx = RegisterTx(Member(1), v1::ROLE_AGENT);
  ASSERT_TRUE(Submit(tx).ok());  // committed
  ExpectCode(Submit(tx), grpc::StatusCode::ALREADY_EXISTS, "already committed");
}

TEST_F(SubmitErrors, OversizedTxAndRequestAreResourceExhausted) {
  auto b = Body();
  auto* a = b.mutable_register_member();
  a->set_member_key(KeyStr(Member(1)));
  a->set_name(std::string(20000, 'n'));  // over max_tx_bytes (16 KiB here)
  a->add_roles(v1::ROLE_AGENT);
  ExpectCode(Submit(ledger::proof::SignTx(b, node_.admin())),
             grpc::StatusCode::RESOURCE_EXHAUSTED, "limit");
  // A request over the server's message limit (1 MiB here) is refused by gRPC itself.
  v1::SubmitTxsRequest big;
  for (int i = 0; i < 80; ++i) big.add_txs()->set_body(std::string(15000, 'x'));
  v1::SubmitTxsResponse resp;
  auto ctx = Ctx();
  grpc::Status s = tx_->SubmitTxs(ctx.get(), big, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
}

TEST_F(SubmitErrors, BatchReportsEachTxSeparately) {
  v1::SubmitTxsRequest req;
  *req.add_txs() = RegisterTx(Member(1), v1::ROLE_AGENT);
  v1::SignedTx bad = RegisterTx(Member(2), v1::ROLE_AGENT);
  bad.mutable_signature()->at(0) ^= 1;
  *req.add_txs() = bad;
  *req.add_txs() = req.txs(0);  // duplicate of the first, in the same batch
  v1::SubmitTxsResponse resp;
  auto ctx = Ctx();
  ASSERT_TRUE(tx_->SubmitTxs(ctx.get(), req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).code(), 0);
  EXPECT_EQ(resp.results(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(resp.results(2).code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(SubmitErrors, WaitTxForUnknownTxIsNotFoundAndBadIdInvalid) {
  v1::WaitTxRequest w;
  w.set_tx_id(std::string(32, '\x01'));
  v1::TxWithReceipt r;
  auto ctx = Ctx();
  ExpectCode(tx_->WaitTx(ctx.get(), w, &r), grpc::StatusCode::NOT_FOUND, "neither pending");
  w.set_tx_id("short");
  auto ctx2 = Ctx();
  ExpectCode(tx_->WaitTx(ctx2.get(), w, &r), grpc::StatusCode::INVALID_ARGUMENT, "32 bytes");
}

TEST_F(SubmitErrors, QueriesAnswerNotFoundAndInvalidArgument) {
  auto q = node_.QueryStub();
  v1::GetLotRequest lot;
  lot.set_lot_id("NOPE");
  v1::Lot out;
  auto ctx = Ctx();
  ExpectCode(q->GetLot(ctx.get(), lot, &out), grpc::StatusCode::NOT_FOUND, "no lot 'NOPE'");
  v1::ListLotsRequest list;
  list.set_site_id("A");
  list.set_status(v1::LOT_STATUS_HELD);
  v1::ListLotsResponse lots;
  auto ctx2 = Ctx();
  ExpectCode(q->ListLots(ctx2.get(), list, &lots), grpc::StatusCode::INVALID_ARGUMENT,
             "at most one filter");
}

TEST_F(SubmitErrors, SigtermStopsCleanlyAndRestartKeepsState) {
  ASSERT_TRUE(Submit(RegisterTx(Member(1), v1::ROLE_AGENT)).ok());
  int status = node_.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << node_.Log();
  node_.Start();
  auto q = node_.QueryStub();
  v1::GetMemberRequest req;
  req.set_member_key(KeyStr(Member(1)));
  v1::Member m;
  auto ctx = Ctx();
  EXPECT_TRUE(q->GetMember(ctx.get(), req, &m).ok());
}

}  // namespace
}  // namespace minetrace::testing

namespace minetrace::testing {
namespace {

// Goal: server reflection is on, so operators can explore the API with standard gRPC tools.
// Method: a raw ServerReflectionInfo call with list_services (field 7, empty string); the
// answer must name every minetrace service.
TEST(Reflection, ListsMinetraceServices) {
  NodeProcess node;
  node.Start();
  grpc::GenericStub generic(node.channel());
  grpc::CompletionQueue cq;
  auto ctx = Ctx();
  auto call = generic.PrepareCall(ctx.get(),
                                  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                  &cq);
  void* tag = nullptr;
  bool ok = false;
  auto next = [&](intptr_t want) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), want);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(next(1));
  std::string request("\x3a\x00", 2);  // ServerReflectionRequest { list_services: "" }
  grpc::Slice slice(request);
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  ASSERT_TRUE(next(2));
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(3));
  ASSERT_TRUE(next(3));
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(in.Dump(&slices).ok());
  std::string answer;
  for (const auto& s : slices) answer.append(reinterpret_cast<const char*>(s.begin()), s.size());
  for (const char* service :
       {"minetrace.v1.TxService", "minetrace.v1.QueryService", "minetrace.v1.NodeService"}) {
    EXPECT_NE(answer.find(service), std::string::npos) << service;
  }
  call->WritesDone(reinterpret_cast<void*>(4));
  next(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  next(5);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace minetrace::testing
