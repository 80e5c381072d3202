// Goal: an operator can back a running node up and restore it: SIGUSR1 writes a checkpoint
// of the data between two blocks, and a node started on a copy of that checkpoint serves the
// ledger as it was then, and goes on committing.
// Method: a real one-validator node commits txs; SIGUSR1; the checkpoint folder named in the
// log replaces the data folder of the stopped node; the restarted node must report the
// checkpoint's height and root, keep the txs from before, lack the ones after, and commit.
#include <signal.h>

#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "minetrace/ledger/proof/tx.h"
#include "node_process.h"

namespace minetrace::testing {
namespace {

v1::SignedTx RegisterMember(const NodeProcess& node, uint8_t seed) {
  Bytes secret(32, 0x66);
  secret[31] = seed;
  auto member = crypto::PrivateKey::FromBytes(secret);
  v1::TxBody body;
  body.set_chain_id(node.chain_id());
  body.set_nonce(seed);
  body.set_created_at_ms(1'790'000'000'000);
  auto* reg = body.mutable_register_member();
  reg->set_member_key(std::string(member->public_key().begin(), member->public_key().end()));
  reg->set_name("member");
  reg->add_roles(v1::ROLE_TRADER);
  reg->set_country("CD");
  return ledger::proof::SignTx(body, node.admin());
}

std::string Commit(NodeProcess& node, const v1::SignedTx& tx) {
  v1::SubmitTxRequest req;
  *req.mutable_tx() = tx;
  v1::SubmitTxResponse resp;
  auto ctx = Ctx(5000);
  EXPECT_TRUE(node.TxStub()->SubmitTx(ctx.get(), req, &resp).ok());
  v1::WaitTxRequest w;
  w.set_tx_id(resp.tx_id());
  v1::TxWithReceipt rec;
  auto wctx = Ctx(10000);
  EXPECT_TRUE(node.TxStub()->WaitTx(wctx.get(), w, &rec).ok());
  return resp.tx_id();
}

v1::StatusResponse Status(NodeProcess& node) {
  v1::StatusResponse s;
  auto ctx = Ctx(3000);
  EXPECT_TRUE(node.NodeStub()->Status(ctx.get(), v1::StatusRequest(), &s).ok());
  return s;
}

bool HasTx(NodeProcess& node, const std::string& id) {
  v1::GetTxRequest req;
  req.set_tx_id(id);
  v1::TxWithReceipt rec;
  auto ctx = Ctx(3000);
  return node.TxStub()->GetTx(ctx.get(), req, &rec).ok();
}

TEST(Backup, CheckpointOnSigusr1RestoresTheLedgerAsItWas) {
  NodeProcess node;
  node.Start();
  std::string before = Commit(node, RegisterMember(node, 1));
  Commit(node, RegisterMember(node, 2));
  node.Signal(SIGUSR1);
  std::smatch match;
  std::string log;
  const std::regex written("backup: checkpoint at height (\\d+) written to (\\S+)");
  for (int i = 0; i < 100 && !std::regex_search(log, match, written); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    log = node.Log();
  }
  ASSERT_FALSE(match.empty()) << log;
  const uint64_t height = std::stoull(match[1].str());
  const std::filesystem::path checkpoint = match[2].str();
  EXPECT_EQ(checkpoint.parent_path(), node.dir() / "backups");
  // Empty blocks may have committed since, but no tx: the root and leaf count are as then.
  v1::StatusResponse at_checkpoint = Status(node);
  ASSERT_GE(at_checkpoint.height(), height);
  std::string after = Commit(node, RegisterMember(node, 3));
  ASSERT_EQ(node.Stop(), 0);

  std::filesystem::rename(node.dir() / "data", node.dir() / "data.lost");
  std::filesystem::copy(checkpoint, node.dir() / "data",
                        std::filesystem::copy_options::recursive);
  node.Start();
  v1::StatusResponse restored = Status(node);
  EXPECT_GE(restored.height(), height);  // empty blocks may follow at once
  EXPECT_EQ(restored.accumulator_root(), at_checkpoint.accumulator_root());
  EXPECT_EQ(restored.leaf_count(), at_checkpoint.leaf_count());
  EXPECT_TRUE(HasTx(node, before));
  EXPECT_FALSE(HasTx(node, after));  // a lone validator has nobody to sync it back from
  Commit(node, RegisterMember(node, 4));
  EXPECT_EQ(Status(node).leaf_count(), at_checkpoint.leaf_count() + 1);
}

}  // namespace
}  // namespace minetrace::testing
