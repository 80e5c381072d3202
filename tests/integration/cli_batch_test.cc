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
#include <map>
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

// Goal: every step of the chain of custody can be driven through the `minetrace` command line
// against a real node, with the refusal a person sees when an open level-1 incident blocks
// the certificate, and the queries show the result (provenance tree, dot and json; shipment;
// flags; incidents; holdings).
// Method: one real node; each actor has a key made by `minetrace keys new`; every tx is
// `minetrace tx <action> --wait`; the test reads exit statuses and output.
TEST_F(CliBatch, MineToSmelterThroughTheCommandLine) {
  std::map<std::string, std::string> pub;
  for (const char* who :
       {"agent", "coop", "processor", "exporter", "certifier", "smelter", "regulator"}) {
    CliRun made = Cli(std::string("keys new --out ") + Path(std::string(who) + ".key"));
    ASSERT_EQ(made.code, 0) << made.err;
    pub[who] = made.out.substr(0, 64);
  }
  const std::string node = " --node " + node_.address() + " --wait";
  auto tx = [&](const std::string& signer, const std::string& args) {
    return Cli("tx " + args + " --key " + Path(signer + ".key") + node);
  };
  auto ok = [&](const std::string& signer, const std::string& args) {
    CliRun r = tx(signer, args);
    EXPECT_EQ(r.code, 0) << signer << ": tx " << args << "\n" << r.out << r.err;
    return r;
  };

  for (const char* role :
       {"agent", "coop", "processor", "exporter", "certifier", "smelter", "regulator"}) {
    const std::string name = role;
    ok("admin", "register-member --member " + pub[name] + " --name " + name + " --role " +
                    (name == "coop" ? std::string("cooperative") : name));
  }
  ok("admin", "register-site --site-id CD-A --name Nyabibwe --country CD --mineral cassiterite "
              "--status green --estimate-kg-per-month 100000");
  ok("admin", "allocate-tags --site-id CD-A --agent " + pub["agent"] +
                  " --prefix T --first 1 --count 10");
  ok("admin", "allocate-tags --kind processor --agent " + pub["processor"] +
                  " --prefix P --first 1 --count 5");
  ok("agent", "record-lot --tag T0000001 --site-id CD-A --mineral cassiterite --weight-kg 25.3 "
              "--grade-percent 45.5 --producer " + pub["coop"]);
  ok("agent", "record-lot --tag T0000002 --site-id CD-A --mineral cassiterite --weight-kg 20 "
              "--grade-percent 40 --producer " + pub["coop"]);
  ok("coop", "dispatch --lot T0000001 --lot T0000002 --to " + pub["processor"]);
  ok("processor", "receive --lot T0000001:25.3 --lot T0000002:20");
  // Contained tin rises from 1951.15 to 2000 kg-% (> 2 %): a grade_jump flag, not a refusal.
  CliRun merged = ok("processor", "process --kind merge --input T0000001 --input T0000002 "
                                  "--output P0000001:40:50");
  EXPECT_NE(merged.out.find("anomaly grade_jump"), std::string::npos) << merged.out;
  ok("processor", "dispatch --lot P0000001 --to " + pub["exporter"]);
  ok("exporter", "receive --lot P0000001:40");
  ok("exporter", "form-shipment --shipment-id EXP-1 --lot P0000001 --destination MY");
  ok("regulator", "report-incident --subject site --subject-id CD-A --category armed-groups "
                  "--level 1 --description \"armed group at the pit\" --source field");

  const std::string review = "review-shipment --shipment-id EXP-1 --issue --certificate C-0001 "
                             "--date 2026-01-01";
  CliRun blocked = tx("certifier", review);
  EXPECT_EQ(blocked.code, 1) << blocked.out << blocked.err;
  EXPECT_NE(blocked.err.find("INC-0000001"), std::string::npos) << blocked.err;

  ok("regulator", "update-incident --incident INC-0000001 --status resolved --outcome mitigated "
                  "--note \"the group left\"");
  ok("certifier", review);
  ok("exporter", "dispatch-shipment --shipment-id EXP-1 --smelter " + pub["smelter"]);
  ok("smelter", "receive-shipment --shipment-id EXP-1 --weight-kg 39.9");

  const std::string q = "query --node " + node_.address() + " ";
  CliRun tree = Cli(q + "provenance EXP-1 --shipment");
  ASSERT_EQ(tree.code, 0) << tree.err;
  EXPECT_NE(tree.out.find("shipment EXP-1  received  cassiterite  40.000 kg  1 lot  to MY\n"),
            std::string::npos)
      << tree.out;
  EXPECT_NE(tree.out.find("  certificate  C-0001 dated 2026-01-01T00:00:00.000Z by certifier ("),
            std::string::npos)
      << tree.out;
  EXPECT_NE(tree.out.find("`-- lot P0000001  processing  cassiterite"), std::string::npos)
      << tree.out;
  EXPECT_NE(tree.out.find("+-- lot T0000001  mine  cassiterite  25.300 kg  45.50 %  consumed"),
            std::string::npos)
      << tree.out;
  EXPECT_NE(tree.out.find("site CD-A \"Nyabibwe\" CD  now green"), std::string::npos)
      << tree.out;
  EXPECT_NE(tree.out.find("site incident INC-0000001  resolved  level 1  armed-groups  outcome "
                          "mitigated"),
            std::string::npos)
      << tree.out;
  EXPECT_NE(tree.out.find("flag FLG-000000001  grade_jump"), std::string::npos) << tree.out;

  CliRun dot = Cli(q + "provenance P0000001 --format dot");
  ASSERT_EQ(dot.code, 0) << dot.err;
  EXPECT_NE(dot.out.find("\"lot:P0000001\" -> \"lot:T0000002\";"), std::string::npos) << dot.out;
  CliRun json = Cli(q + "provenance EXP-1 --shipment --format json");
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_NE(json.out.find("\"shipmentId\":\"EXP-1\""), std::string::npos) << json.out;

  CliRun shipment = Cli(q + "shipment EXP-1");
  ASSERT_EQ(shipment.code, 0) << shipment.err;
  EXPECT_NE(shipment.out.find("39.900 kg found"), std::string::npos) << shipment.out;
  CliRun flags = Cli(q + "flags --kind grade_jump");
  ASSERT_EQ(flags.code, 0) << flags.err;
  EXPECT_NE(flags.out.find("FLG-000000001  grade_jump  lot P0000001"), std::string::npos)
      << flags.out;
  CliRun incidents = Cli(q + "incidents --subject site --id CD-A");
  ASSERT_EQ(incidents.code, 0) << incidents.err;
  EXPECT_EQ(incidents.out.rfind("INC-0000001  resolved  level 1  armed-groups  site CD-A", 0), 0u)
      << incidents.out;
  CliRun holdings = Cli(q + "holdings " + pub["smelter"]);
  ASSERT_EQ(holdings.code, 0) << holdings.err;
  EXPECT_NE(holdings.out.find("  smelter received   39.900\n"), std::string::npos) << holdings.out;
  CliRun missing = Cli(q + "incident INC-0000009");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find(": NOT_FOUND: "), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace minetrace::testing
