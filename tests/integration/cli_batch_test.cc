// Goal: offline collection works end to end against a real node: txs signed by the
// `minetrace` binary without a node (`tx ... --offline`, `import-logbook --offline`) upload
// with `submit-batch`, and uploading the same batch again is harmless: every tx is reported
// already committed and the command exits 0.
// Method: one real minetrace-node on loopback; the test runs the minetrace binary as a
// person would (key files, a batch file, a CSV logbook) and reads its exit status and output.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "minetrace/base/bytes.h"
#include "node_process.h"

namespace minetrace::testing {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

class CliBatch : public ::testing::Test {
 protected:
  void SetUp() override {
    node_.Start();
    dir_ = fs::temp_directory_path() / ("minetrace-cli-batch-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(crypto::WriteKeyFile(dir_ / "admin.key", node_.admin()));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `minetrace <args>`; stdout and stderr are captured through files.
  CliRun Cli(const std::string& args) {
    const fs::path out = dir_ / "out.txt";
    const fs::path err = dir_ / "err.txt";
    const std::string cmd = std::string(MINETRACE_CLI_BIN) + " " + args + " > " + out.string() +
                            " 2> " + err.string();
    CliRun r;
    const int status = std::system(cmd.c_str());
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = Read(out);
    r.err = Read(err);
    return r;
  }

  static std::string Read(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  NodeProcess node_;
  fs::path dir_;
};

TEST_F(CliBatch, OfflineBatchUploadsOnceAndResubmittingIsHarmless) {
  // Keys of an agent and a cooperative, made by the CLI.
  CliRun agent = Cli("keys new --out " + Path("agent.key"));
  ASSERT_EQ(agent.code, 0) << agent.err;
  CliRun coop = Cli("keys new --out " + Path("coop.key"));
  ASSERT_EQ(coop.code, 0) << coop.err;
  const std::string agent_key = agent.out.substr(0, 64);
  const std::string coop_key = coop.out.substr(0, 64);

  // The administrator signs four txs offline into one batch file.
  const std::string batch = Path("admin-batch.pb");
  const std::string offline =
      " --key " + Path("admin.key") + " --offline --out " + batch + " --chain-id " +
      node_.chain_id();
  for (const std::string& tx :
       {"register-member --member " + agent_key + " --name Agent --role agent",
        "register-member --member " + coop_key + " --name Coop --role cooperative",
        std::string("register-site --site-id CD-SK-0042 --name Nyabibwe --country CD --mineral "
                    "cassiterite --status green --estimate-kg-per-month 100000"),
        "allocate-tags --site-id CD-SK-0042 --agent " + agent_key +
            " --prefix T --first 1 --count 10"}) {
    CliRun signed_tx = Cli("tx " + tx + offline);
    ASSERT_EQ(signed_tx.code, 0) << tx << ": " << signed_tx.err;
  }

  CliRun first = Cli("submit-batch " + batch + " --node " + node_.address() + " --wait");
  ASSERT_EQ(first.code, 0) << first.out << first.err << node_.Log();
  EXPECT_NE(first.out.find("4 txs: 4 OK, 0 FAILED, 0 refused, 0 pending\n"), std::string::npos)
      << first.out;

  CliRun again = Cli("submit-batch " + batch + " --node " + node_.address() + " --wait");
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("4 txs: 4 OK, 0 FAILED, 0 refused, 0 pending (4 were already on the "
                           "node)\n"),
            std::string::npos)
      << again.out;

  // The agent's logbook, one bad row among good ones, signed offline and uploaded.
  {
    std::ofstream csv(Path("logbook.csv"));
    csv << "tag_id,site_id,mineral,weight_kg,grade_percent,producer_key\n"
        << "T0000001,CD-SK-0042,cassiterite,25.3,45.5," << coop_key << "\n"
        << "T0000002,CD-SK-0042,cassiterite,25.3.1,45.5," << coop_key << "\n"
        << "\"T0000003\",CD-SK-0042,cassiterite,\"12\",\"40\"," << coop_key << "\n";
  }
  const std::string lots = Path("lots.pb");
  CliRun imported = Cli("import-logbook " + Path("logbook.csv") + " --key " + Path("agent.key") +
                        " --offline --out " + lots + " --chain-id " + node_.chain_id());
  EXPECT_EQ(imported.code, 1) << imported.err;
  EXPECT_EQ(imported.err.rfind("line 3: weight_kg: ", 0), 0u) << imported.err;
  EXPECT_NE(imported.out.find("signed 2 of 3 rows"), std::string::npos) << imported.out;

  CliRun uploaded = Cli("submit-batch " + lots + " --node " + node_.address() + " --wait");
  ASSERT_EQ(uploaded.code, 0) << uploaded.out << uploaded.err;
  EXPECT_NE(uploaded.out.find("2 txs: 2 OK"), std::string::npos) << uploaded.out;
  CliRun lot = Cli("query --node " + node_.address() + " lot T0000003");
  ASSERT_EQ(lot.code, 0) << lot.err;
  EXPECT_NE(lot.out.find("12.000 kg"), std::string::npos) << lot.out;
}

}  // namespace
}  // namespace minetrace::testing
