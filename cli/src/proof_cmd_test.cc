// `minetrace proof` through RunCli, offline: what a person sees when the bundle file or the
// trusted genesis is missing or wrong, and when the node cannot be reached. (A real bundle is
// fetched and verified by tests/integration/proof_network_test.cc.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app.h"
#include "minetrace/base/clock.h"
#include "minetrace/ledger/proof/genesis.h"

namespace minetrace::cli {
namespace {

namespace fs = std::filesystem;

struct Output {
  int code = -1;
  std::string out;
  std::string err;
};

class ProofCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("minetrace-proof-cmd-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    v1::Genesis g;
    g.set_chain_id("test-chain");
    g.add_validators()->set_key(std::string(32, '\x01'));
    g.add_administrators()->set_key(std::string(32, '\x02'));
    std::ofstream(dir_ / "genesis.toml") << ledger::proof::GenesisToToml(g);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Output Run(std::vector<std::string> args) {
    args.insert(args.begin(), "minetrace");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out;
    std::ostringstream err;
    ManualClock clock(1'790'000'000'000);
    const Env env{out, err, clock, [] { return uint64_t{1}; }, false};
    Output o;
    o.code = RunCli(static_cast<int>(argv.size()), argv.data(), env);
    o.out = out.str();
    o.err = err.str();
    return o;
  }

  std::string Trust() const { return (dir_ / "genesis.toml").string(); }

  fs::path dir_;
};

TEST_F(ProofCommand, VerifyOfAMissingFileExitsOneAndSaysSo) {
  Output o = Run({"proof", "verify", (dir_ / "none.proof").string(), "--trust", Trust()});
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.err.find("cannot read"), std::string::npos) << o.err;
  EXPECT_EQ(o.out.find("VERIFIED"), std::string::npos) << o.out;
}

TEST_F(ProofCommand, VerifyOfAFileThatIsNoBundleExitsOne) {
  std::ofstream(dir_ / "junk.proof") << "\xff\xff\xff this is not protobuf";
  Output o = Run({"proof", "verify", (dir_ / "junk.proof").string(), "--trust", Trust()});
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.err.find("is not a provenance proof bundle"), std::string::npos) << o.err;
}

TEST_F(ProofCommand, AnEmptyBundleIsNotVerifiedAndJsonSaysWhy) {
  std::ofstream(dir_ / "empty.proof") << "";
  Output o = Run({"proof", "verify", (dir_ / "empty.proof").string(), "--trust", Trust()});
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.out.find("NOT VERIFIED: bundle version 0 is not supported"), std::string::npos)
      << o.out;
  o = Run({"proof", "verify", (dir_ / "empty.proof").string(), "--trust", Trust(), "--json"});
  EXPECT_EQ(o.code, 1);
  EXPECT_EQ(o.out.rfind("{\"verdict\":\"NOT_VERIFIED\",\"error\":\"bundle version 0", 0), 0u)
      << o.out;
}

TEST_F(ProofCommand, VerifyNeedsATrustedGenesis) {
  Output o = Run({"proof", "verify", (dir_ / "x.proof").string()});
  EXPECT_EQ(o.code, 2) << o.err;
  o = Run({"proof", "verify", (dir_ / "x.proof").string(), "--trust",
           (dir_ / "missing.toml").string()});
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.err.find("genesis"), std::string::npos) << o.err;
}

TEST_F(ProofCommand, GetFromAnUnreachableNodeExitsThree) {
  Output o = Run({"proof", "get", "T0000001", "--node", "127.0.0.1:1", "--timeout-ms", "300",
                  "--out", (dir_ / "t.proof").string()});
  EXPECT_EQ(o.code, 3) << o.err;
  EXPECT_FALSE(fs::exists(dir_ / "t.proof"));
}

TEST_F(ProofCommand, ConsistencyOfMissingJunkOrEmptyFilesIsRefused) {
  Output o = Run({"proof", "consistency", (dir_ / "none.cons").string(), "--trust", Trust()});
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.err.find("cannot read"), std::string::npos) << o.err;
  std::ofstream(dir_ / "junk.cons") << "\xff\xff\xff this is not protobuf";
  o = Run({"proof", "consistency", (dir_ / "junk.cons").string(), "--trust", Trust()});
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.err.find("is not a consistency bundle"), std::string::npos) << o.err;
  std::ofstream(dir_ / "empty.cons") << "";
  o = Run({"proof", "consistency", (dir_ / "empty.cons").string(), "--trust", Trust()});
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.out.find("NOT CONSISTENT: consistency bundle version 0 is not supported"),
            std::string::npos)
      << o.out;
  EXPECT_EQ(o.out.find("\nCONSISTENT"), std::string::npos) << o.out;
  o = Run({"proof", "consistency", (dir_ / "empty.cons").string()});
  EXPECT_EQ(o.code, 2) << o.err;
}

TEST_F(ProofCommand, ConsistencyGetFromAnUnreachableNodeExitsThree) {
  Output o = Run({"proof", "consistency-get", "--node", "127.0.0.1:1", "--timeout-ms", "300",
                  "--out", (dir_ / "c.cons").string()});
  EXPECT_EQ(o.code, 3) << o.err;
  EXPECT_FALSE(fs::exists(dir_ / "c.cons"));
  o = Run({"proof", "consistency-get", "--from-bundle", (dir_ / "none.proof").string(), "--out",
           (dir_ / "c.cons").string()});
  EXPECT_EQ(o.code, 1) << o.err;
  EXPECT_NE(o.err.find("cannot read"), std::string::npos) << o.err;
}

}  // namespace
}  // namespace minetrace::cli
