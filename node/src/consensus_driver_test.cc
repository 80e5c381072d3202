// The consensus driver against a real Ledger: what it stores and refuses before the engine
// ever votes. Validator 0 of four; the tests speak for validator 1, the leader of round 1.
#include "consensus_driver.h"

#include <unistd.h>

#include <filesystem>
#include <random>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include "consensus_codec.h"
#include "minetrace/base/clock.h"
#include "minetrace/crypto/sha256.h"
#include "minetrace/v1/node.pb.h"

namespace minetrace::node {
namespace {

crypto::PrivateKey Key(uint8_t seed) {
  Bytes secret(32, 0x33);
  secret[31] = seed;
  return *crypto::PrivateKey::FromBytes(secret);
}

class DriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("minetrace-driver-" + std::to_string(::getpid()) + "-" +
            std::to_string(std::random_device{}()));
    v1::Genesis genesis;
    genesis.set_chain_id("driver-chain");
    genesis.set_genesis_time_ms(1'790'000'000'000);
    for (uint8_t i = 0; i < 4; ++i) {
      keys_.push_back(Key(i));
      validators_.keys.push_back(keys_.back().public_key());
      auto* v = genesis.add_validators();
      v->set_key(std::string(keys_.back().public_key().begin(), keys_.back().public_key().end()));
    }
    auto ledger = ledger::Ledger::Open(dir_, genesis);
    ASSERT_TRUE(ledger) << ledger.error().ToString();
    ledger_ = std::move(*ledger);
    ConsensusDriver::Hooks hooks;
    hooks.send = [this](consensus::ValidatorIndex to, const v1::PeerMessage& m) {
      if (m.consensus().has_vote()) votes_to_.push_back(to);
    };
    hooks.broadcast = [](const v1::PeerMessage&) {};
    hooks.select_txs = [](const std::function<bool(const Hash32&)>&) {
      return std::vector<v1::SignedTx>{};
    };
    hooks.signature_checked = [](const Hash32&, const v1::SignedTx&) { return false; };
    hooks.committed = [](const ledger::CommittedBlock&) {};
    hooks.fatal = [](const std::string& why) { ADD_FAILURE() << why; };
    DriverConfig config;
    config.block_max_bytes = 1000;
    driver_ = std::make_unique<ConsensusDriver>(
        io_, *ledger_, clock_, keys_[0], validators_, 0, config, pool_,
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>()),
        hooks);
    ASSERT_TRUE(driver_->Start());
  }
  void TearDown() override {
    driver_.reset();
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A validly signed round-1 proposal by validator 1 with `payload_bytes` of payload.
  consensus::Block RoundOneBlock(size_t payload_bytes, int64_t time_ms) {
    auto genesis_info = ledger_->GetLedgerInfo(0);
    consensus::Block genesis = GenesisBlockFor(**genesis_info);
    consensus::Block b;
    b.header.round = 1;
    b.header.height = 1;
    b.header.parent_id = consensus::BlockId(genesis.header);
    b.header.proposer = 1;
    b.header.timestamp_ms = time_ms;
    b.payload = Bytes(payload_bytes, 0);  // zero bytes: an empty BlockPayload when parsed
    b.header.payload_hash = crypto::Sha256(b.payload);
    b.header.ledger_root = genesis.header.ledger_root;
    b.parent_qc = consensus::GenesisQc(genesis);
    b.proposer_signature =
        keys_[1].Sign(consensus::ProposalDigest(consensus::BlockId(b.header)), Hash32{});
    return b;
  }

  size_t Records(std::string_view prefix) {
    size_t n = 0;
    EXPECT_TRUE(ledger_->ScanConsensusRecords(prefix, [&](std::string_view, std::string_view) {
      ++n;
      return true;
    }));
    return n;
  }

  std::vector<consensus::ValidatorIndex> votes_to_;
  std::filesystem::path dir_;
  boost::asio::io_context io_;
  ManualClock clock_{1'790'000'100'000};
  crypto::VerifyPool pool_{1};
  std::vector<crypto::PrivateKey> keys_;
  consensus::ValidatorSet validators_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<ConsensusDriver> driver_;
};

TEST_F(DriverTest, StoresAndVotesForAValidProposal) {
  driver_->OnMessage(1, consensus::Proposal{RoundOneBlock(0, clock_.NowUnixMs())});
  EXPECT_EQ(Records("block/"), 1u);
  EXPECT_EQ(Records("safety"), 1u);  // on disk before the vote left
  EXPECT_EQ(votes_to_, std::vector<consensus::ValidatorIndex>{2});  // the leader of round 2
  EXPECT_EQ(driver_->peer_reports(), 0u);
}

TEST_F(DriverTest, RefusesAnOversizedBlockBeforeStoringIt) {
  driver_->OnMessage(1, consensus::Proposal{RoundOneBlock(1001, clock_.NowUnixMs())});
  EXPECT_EQ(Records("block/"), 0u);
  EXPECT_TRUE(votes_to_.empty());
  EXPECT_EQ(driver_->peer_reports(), 1u);
}

TEST_F(DriverTest, KeepsOneProposalPerRoundAndEvidenceWithoutPayload) {
  driver_->OnMessage(1, consensus::Proposal{RoundOneBlock(10, clock_.NowUnixMs())});
  for (int64_t t = 1; t <= 5; ++t) {  // the leader equivocates again and again
    driver_->OnMessage(1, consensus::Proposal{RoundOneBlock(10, clock_.NowUnixMs() + t)});
  }
  EXPECT_EQ(Records("block/"), 1u);      // only the first is stored
  ASSERT_EQ(Records(kEvidencePrefix), 1u);  // one record for the round
  v1::MisbehaviourRecord record;
  ASSERT_TRUE(ledger_->ScanConsensusRecords(kEvidencePrefix,
                                            [&](std::string_view, std::string_view value) {
                                              record.ParseFromString(std::string(value));
                                              return false;
                                            }));
  EXPECT_EQ(record.validator_index(), 1u);
  ASSERT_EQ(record.evidence_size(), 2);
  for (const auto& m : record.evidence()) {
    ASSERT_TRUE(m.has_proposal());
    EXPECT_TRUE(m.proposal().block().payload().empty());
    // Still proof: the proposer signed the header's id.
    auto header = HeaderFromProto(m.proposal().block().header());
    ASSERT_TRUE(header);
    crypto::Signature sig{};
    const std::string& s = m.proposal().block().proposer_signature();
    std::copy(s.begin(), s.end(), sig.begin());
    EXPECT_TRUE(crypto::VerifySchnorr(keys_[1].public_key(),
                                      consensus::ProposalDigest(consensus::BlockId(*header)),
                                      sig));
  }
}

TEST_F(DriverTest, RefusesAForeignLedgerRootAtAnExecutedHeight) {
  consensus::LedgerRoot wrong;
  wrong.height = 0;
  wrong.accumulator_root.fill(7);
  auto checked = CheckLedgerRoot(*ledger_, wrong);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, ErrorCode::kDataLoss);
  consensus::LedgerRoot ahead;
  ahead.height = 5;  // not executed here yet: nothing to compare
  EXPECT_TRUE(CheckLedgerRoot(*ledger_, ahead));
}

}  // namespace
}  // namespace minetrace::node
