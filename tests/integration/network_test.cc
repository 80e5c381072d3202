// Goal: validators agree over real TCP connections and observers follow them: every tx
// submitted to any node (observers included) commits once, and every node ends on the same
// accumulator root; a validator killed under load catches up after a restart without losing
// a tx reported committed; killing the leader again and again does not stop the network.
// Method: `minetrace testnet` writes a 4-validator + 1-observer loopback network; the tests
// start real minetrace-node processes, submit signed txs over gRPC to different nodes, wait
// for WaitTx, kill -9 nodes and compare Status (leaf count, root) across all of them.
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "network.h"

namespace minetrace::testing {
namespace {

// Submits `tx` to `node` and waits for its commit; the status of whichever step failed.
grpc::Status SubmitAndWait(NodeProcess& node, const v1::SignedTx& tx, v1::TxWithReceipt* out,
                           int wait_ms = 20000) {
  auto stub = node.TxStub();
  v1::SubmitTxRequest req;
  *req.mutable_tx() = tx;
  v1::SubmitTxResponse resp;
  auto ctx = Ctx(5000);
  grpc::Status s = stub->SubmitTx(ctx.get(), req, &resp);
  if (!s.ok()) return s;
  v1::WaitTxRequest w;
  w.set_tx_id(resp.tx_id());
  w.set_timeout_ms(static_cast<uint32_t>(wait_ms));
  auto wctx = Ctx(wait_ms + 2000);
  return stub->WaitTx(wctx.get(), w, out);
}

TEST(Network, TxsSubmittedToEveryNodeCommitOnceAndAllNodesAgree) {
  Network net;
  net.StartAll();
  constexpr uint32_t kTxs = 40;
  std::vector<std::thread> clients;
  std::atomic<uint32_t> committed{0};
  std::mutex mu;
  std::vector<std::string> failures;
  for (size_t n = 0; n < net.size(); ++n) {
    clients.emplace_back([&, n] {
      for (uint32_t i = n; i < kTxs; i += static_cast<uint32_t>(net.size())) {
        v1::TxWithReceipt rec;
        grpc::Status s = SubmitAndWait(net.node(n), net.RegisterMemberTx(i), &rec);
        std::lock_guard lock(mu);
        if (!s.ok()) {
          failures.push_back("node " + std::to_string(n) + ": " + s.error_message());
        } else if (rec.receipt().status() != v1::TX_STATUS_OK) {
          failures.push_back("tx failed: " + rec.receipt().reason());
        } else {
          ++committed;
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(committed.load(), kTxs);
  ASSERT_TRUE(net.WaitForAgreement(kTxs, 20000));
  // Every node holds every tx once (a tx gossiped to all validators commits once).
  for (size_t n = 0; n < net.size(); ++n) {
    v1::StatusResponse s = net.Status(n);
    EXPECT_EQ(s.role(), n < 4 ? "validator" : "observer");
    EXPECT_EQ(s.leaf_count(), kTxs);
  }
}

TEST(Network, ValidatorKilledUnderLoadCatchesUpAndNothingCommittedIsLost) {
  Network net(NetworkOptions{.observers = 0});
  net.StartAll();
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::string, std::string> committed;  // tx id -> receipt bytes, as reported
  std::atomic<uint32_t> next{0};
  // Clients talk to validators 0..2; validator 3 is the one killed.
  std::vector<std::thread> clients;
  for (size_t n = 0; n < 3; ++n) {
    clients.emplace_back([&, n] {
      while (!stop) {
        v1::TxWithReceipt rec;
        if (SubmitAndWait(net.node(n), net.RegisterMemberTx(next++), &rec).ok()) {
          std::lock_guard lock(mu);
          committed[rec.receipt().tx_id()] = rec.receipt_bytes();
        }
      }
    });
  }
  auto committed_count = [&] {
    std::lock_guard lock(mu);
    return committed.size();
  };
  while (committed_count() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  net.node(3).Kill();
  size_t at_kill = committed_count();
  // The other three are a quorum: they keep committing.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (committed_count() < at_kill + 30 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(committed_count(), at_kill + 30) << "the three live validators stopped committing";
  net.node(3).Start();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  for (auto& c : clients) c.join();
  uint64_t total = 0;
  {
    v1::StatusResponse s = net.Status(0);
    total = s.leaf_count();
  }
  ASSERT_TRUE(net.WaitForAgreement(total, 30000));
  // Every tx a client saw committed is on every node, with the same receipt.
  std::lock_guard lock(mu);
  for (size_t n = 0; n < net.size(); ++n) {
    auto query = net.node(n).TxStub();
    for (const auto& [id, receipt] : committed) {
      v1::GetTxRequest req;
      req.set_tx_id(id);
      v1::TxWithReceipt rec;
      auto ctx = Ctx(5000);
      grpc::Status s = query->GetTx(ctx.get(), req, &rec);
      ASSERT_TRUE(s.ok()) << "node " << n << ": " << s.error_message();
      EXPECT_EQ(rec.receipt_bytes(), receipt);
    }
  }
}

TEST(Network, KillingTheLeaderAgainAndAgainDoesNotStopCommits) {
  Network net(NetworkOptions{.observers = 0});
  net.StartAll();
  uint32_t n = 0;
  for (int kill = 0; kill < 3; ++kill) {
    // The leader of the current round (round-robin over the genesis order).
    v1::StatusResponse s = net.Status((kill + 1) % 4);
    size_t leader = s.round() % 4;
    net.node(leader).Kill();
    size_t client = (leader + 1) % 4;
    for (int i = 0; i < 5; ++i) {
      v1::TxWithReceipt rec;
      grpc::Status st = SubmitAndWait(net.node(client), net.RegisterMemberTx(n++), &rec);
      EXPECT_TRUE(st.ok()) << "with validator " << leader << " down: " << st.error_message();
    }
    net.node(leader).Start();
  }
  ASSERT_TRUE(net.WaitForAgreement(n, 30000));
}

}  // namespace
}  // namespace minetrace::testing
