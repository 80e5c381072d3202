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

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "consensus_codec.h"
#include "minetrace/ledger/proof/genesis.h"
#include "network.h"
#include "peer_transport.h"

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

// Submits `count` RegisterMember txs in batches of 500, to nodes 0..nodes-1 in turn; every
// one must be admitted.
void SubmitInBatches(Network& net, uint32_t count, size_t nodes) {
  constexpr uint32_t kBatch = 500;
  for (uint32_t first = 0; first < count; first += kBatch) {
    v1::SubmitTxsRequest req;
    for (uint32_t i = first; i < std::min(count, first + kBatch); ++i) {
      *req.add_txs() = net.RegisterMemberTx(i);
    }
    v1::SubmitTxsResponse resp;
    auto ctx = Ctx(30000);
    grpc::Status s = net.node((first / kBatch) % nodes).TxStub()->SubmitTxs(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& r : resp.results()) ASSERT_EQ(r.code(), 0) << r.message();
  }
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

TEST(Network, ObserverTxSubmittedWhileNoValidatorRunsCommitsOnceTheValidatorsAreBack) {
  // The observer admits the tx but has no validator to forward it to; it never proposes, so
  // the tx commits only if the observer sends it again once the validators are back.
  Network net;
  net.StartAll();
  const size_t observer = 4;
  for (size_t v = 0; v < 4; ++v) ASSERT_EQ(net.node(v).Stop(), 0);
  const v1::SignedTx tx = net.RegisterMemberTx(1);
  v1::SubmitTxRequest req;
  *req.mutable_tx() = tx;
  v1::SubmitTxResponse resp;
  auto ctx = Ctx(5000);
  const grpc::Status s = net.node(observer).TxStub()->SubmitTx(ctx.get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  for (size_t v = 0; v < 4; ++v) net.node(v).Start();
  v1::WaitTxRequest w;
  w.set_tx_id(resp.tx_id());
  w.set_timeout_ms(30000);
  v1::TxWithReceipt rec;
  auto wctx = Ctx(32000);
  const grpc::Status waited = net.node(observer).TxStub()->WaitTx(wctx.get(), w, &rec);
  ASSERT_TRUE(waited.ok()) << "the observer's tx never reached a validator: "
                           << waited.error_message();
  EXPECT_EQ(rec.receipt().status(), v1::TX_STATUS_OK) << rec.receipt().reason();
  ASSERT_TRUE(net.WaitForAgreement(1, 20000));
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
  auto loaded = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (committed_count() < 20 && std::chrono::steady_clock::now() < loaded) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (committed_count() < 20) {
    stop = true;
    for (auto& c : clients) c.join();  // they hold references to this frame
    FAIL() << "the network did not commit under load";
  }
  net.node(3).Kill();
  size_t at_kill = committed_count();
  // The other three are a quorum: they keep committing.
  // With one of four down, every round it leads and the one before end by timeout: commits
  // go on, at a few per second.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (committed_count() < at_kill + 10 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(committed_count(), at_kill + 10) << "the three live validators stopped committing";
  net.node(3).Start();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  for (auto& c : clients) c.join();
  // A client whose wait timed out while node 3 was down left its tx pending: it commits later.
  // Each client tx stays in the mempool of the validator it was given to until it commits, so
  // once validators 0..2 hold none, the leaf count is final.
  auto drained_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto pending = [&] {
    uint32_t txs = 0;
    for (size_t n = 0; n < 3; ++n) txs += net.Status(n).mempool_txs();
    return txs;
  };
  while (pending() > 0 && std::chrono::steady_clock::now() < drained_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(pending(), 0u) << "txs of the clients stayed pending for 30 s";
  const uint64_t total = net.Status(0).leaf_count();
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

// Goal: an observer that joins late syncs a long chain, verifying every block's QC, and then
// follows the head. Method: 10,000 txs commit on the validators (batched SubmitTxs) before the
// observer is started; it must reach the same root, then commit a tx submitted to it.
TEST(Network, ObserverStartedAfterTenThousandTxsSyncsAndFollows) {
  Network net(NetworkOptions{.observers = 1});
  for (int v = 0; v < 4; ++v) net.node(v).Start();
  constexpr uint32_t kTxs = 10000;
  SubmitInBatches(net, kTxs, 4);
  ASSERT_TRUE(net.WaitForAgreement(kTxs, 180000));
  net.node(4).Start();
  ASSERT_TRUE(net.WaitForAgreement(kTxs, 120000));
  v1::TxWithReceipt rec;
  grpc::Status s = SubmitAndWait(net.node(4), net.RegisterMemberTx(kTxs), &rec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(net.Status(4).role(), "observer");
  ASSERT_TRUE(net.WaitForAgreement(kTxs + 1, 30000));
}

// Goal: a validator restarted far behind (beyond what the consensus core fetches by itself)
// catches up by block sync and takes part in consensus again. Method: validator 3 is killed
// while 3,000 txs and then empty blocks commit, to height 40 at least (sync takes over
// beyond 20 blocks behind); after its restart and
// catch-up, validator 2 is killed, so that nothing can commit unless validator 3 votes.
TEST(Network, ValidatorFarBehindSyncsThenVotesAgain) {
  // Short rounds: with a validator down, every round it leads (and the one before, whose
  // votes go to it) ends by timeout.
  Network net(NetworkOptions{
      .validators = 4, .observers = 0, .block_interval_ms = 50, .round_timeout_ms = 300});
  // A small consensus window, so that 40 blocks are beyond what the core fetches by itself.
  net.EditConfigs("round_timeout_ms = 300\n", "round_timeout_ms = 300\nmax_pending_blocks = 16\n");
  net.StartAll();
  net.node(3).Kill();
  constexpr uint32_t kTxs = 3000;
  SubmitInBatches(net, kTxs, 3);
  ASSERT_TRUE(net.WaitForAgreement(kTxs, 60000));
  // Idle rounds add empty blocks: wait until validator 3 is far behind.
  ASSERT_TRUE(net.WaitForHeight(0, 40, 60000));
  net.node(3).Start();
  ASSERT_TRUE(net.WaitForAgreement(kTxs, 60000));
  EXPECT_NE(net.node(3).Log().find("sync: applied"), std::string::npos) << net.node(3).Log();
  net.node(2).Kill();
  v1::TxWithReceipt rec;
  grpc::Status s = SubmitAndWait(net.node(3), net.RegisterMemberTx(kTxs), &rec, 30000);
  ASSERT_TRUE(s.ok()) << "validators 0, 1 and the caught-up 3 did not commit: "
                      << s.error_message();
  ASSERT_TRUE(net.WaitForAgreement(kTxs + 1, 30000));
}

// Goal: a validator that signs two different votes for one round is caught, and the two
// signed votes are kept as evidence that anyone can query and check. Method: validator 1's
// process is not started; the test speaks for it over the real peer transport with its key
// and sends validator 0 two conflicting votes for a round validator 0 collects.
TEST(Network, EquivocatingValidatorIsRecordedWithItsSignedVotes) {
  Network net(NetworkOptions{.observers = 0});
  net.node(0).Start();
  net.node(2).Start();
  net.node(3).Start();  // three of four: a quorum without validator 1

  auto genesis = ledger::proof::LoadGenesisFile(net.dir() / "genesis.toml");
  ASSERT_TRUE(genesis) << genesis.error().ToString();
  auto key1 = crypto::ReadKeyFile(net.dir() / "node1" / "node.key");
  ASSERT_TRUE(key1) << key1.error().ToString();
  node::PeerTransportConfig config;
  config.chain_id = net.chain_id();
  config.genesis_hash = ledger::proof::GenesisHash(*genesis);
  std::vector<crypto::PublicKey> keys;
  for (const auto& v : genesis->validators()) {
    crypto::PublicKey k{};
    std::copy(v.key().begin(), v.key().end(), k.begin());
    keys.push_back(k);
  }
  config.admitted = keys;
  config.listen = genesis->validators(1).address();  // node 0 may be the one that dials
  config.peers.push_back({keys[0], genesis->validators(0).address(), true});
  boost::asio::io_context io;
  auto log = std::make_shared<spdlog::logger>("fake-validator-1");
  node::PeerTransport transport(io, *key1, config, log, {});
  ASSERT_TRUE(transport.Start());
  auto run_io_for = [&](int ms) { io.run_for(std::chrono::milliseconds(ms)); };
  auto connected = [&] {
    for (const auto& p : transport.Peers()) {
      if (p.key == keys[0] && p.connected) return true;
    }
    return false;
  };
  for (int i = 0; i < 100 && !connected(); ++i) run_io_for(100);
  ASSERT_TRUE(connected()) << "the fake validator 1 did not connect to validator 0";

  // Validator 0 joins consensus once its start-up sync is done (or given up on: the fake
  // validator 1 never answers sync requests).
  for (int i = 0; i < 100 && net.Status(0).round() == 0; ++i) run_io_for(100);
  // A round ahead whose votes validator 0 collects (it leads the round after).
  consensus::Round r = net.Status(0).round() + 8;
  while ((r + 1) % 4 != 0) ++r;
  for (uint8_t which = 1; which <= 2; ++which) {
    consensus::Vote vote;
    vote.round = r;
    vote.block_id.fill(which);
    vote.height = 5;
    vote.voter = 1;
    vote.signature = key1->Sign(consensus::VoteDigest(0, r, vote.block_id, vote.height), Hash32{});
    v1::PeerMessage m;
    *m.mutable_consensus() = node::MessageToProto(consensus::Message{vote});
    ASSERT_TRUE(transport.Send(keys[0], m.SerializeAsString()));
  }
  v1::ListMisbehaviourResponse found;
  for (int i = 0; i < 100 && found.records_size() == 0; ++i) {
    run_io_for(100);
    auto ctx = Ctx(2000);
    found.Clear();
    ASSERT_TRUE(net.node(0).NodeStub()->ListMisbehaviour(ctx.get(), {}, &found).ok());
  }
  transport.Stop();
  ASSERT_EQ(found.records_size(), 1) << net.node(0).Log();
  const v1::MisbehaviourRecord& record = found.records(0);
  EXPECT_EQ(record.validator_index(), 1u);
  EXPECT_EQ(record.validator_key(), std::string(keys[1].begin(), keys[1].end()));
  EXPECT_NE(record.reason().find("equivocation"), std::string::npos) << record.reason();
  ASSERT_EQ(record.evidence_size(), 2);
  // The evidence stands on its own: both votes verify under validator 1's key.
  for (const auto& m : record.evidence()) {
    auto decoded = node::MessageFromProto(m);
    ASSERT_TRUE(decoded);
    const auto& vote = std::get<consensus::Vote>(*decoded);
    EXPECT_TRUE(crypto::VerifySchnorr(
        keys[1], consensus::VoteDigest(vote.epoch, vote.round, vote.block_id, vote.height),
        vote.signature));
  }
  // The network keeps going without validator 1.
  v1::TxWithReceipt rec;
  EXPECT_TRUE(SubmitAndWait(net.node(2), net.RegisterMemberTx(1), &rec).ok());
}

}  // namespace
}  // namespace minetrace::testing
