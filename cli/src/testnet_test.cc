#include "testnet.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "minetrace/base/bytes.h"
#include "minetrace/ledger/proof/genesis.h"
#include "parse.h"

namespace minetrace::cli {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Parses TOML whichever way toml++ was configured (exceptions or parse_result), since the test
// only cares whether the text is valid TOML.
std::optional<toml::table> ParseToml(std::string_view text, std::string& error) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    error = std::string(e.description());
    return std::nullopt;
  }
#else
  toml::parse_result parsed = toml::parse(text);
  if (!parsed) {
    error = std::string(parsed.error().description());
    return std::nullopt;
  }
  return std::move(parsed).table();
#endif
}

class TestnetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("minetrace_cli_testnet_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
};

TEST_F(TestnetTest, WritesGenesisKeysAndConfigsThatLoadBack) {
  TestnetOptions options;
  options.validators = 4;
  options.out_dir = root_ / "net";
  options.chain_id = "minetrace-test";
  options.base_port = 7300;
  options.block_interval_ms = 150;
  options.block_max_txs = 500;
  auto net = CreateTestnet(options, 1790000000000);
  ASSERT_TRUE(net) << net.error().message;
  ASSERT_TRUE(net->dir.is_absolute());

  // The genesis file loads with the same parser the node uses.
  auto genesis = ledger::proof::LoadGenesisFile(options.out_dir / "genesis.toml");
  ASSERT_TRUE(genesis) << genesis.error().message;
  EXPECT_EQ(genesis->chain_id(), "minetrace-test");
  EXPECT_EQ(genesis->genesis_time_ms(), 1790000000000);
  ASSERT_EQ(genesis->validators_size(), 4);
  ASSERT_EQ(genesis->administrators_size(), 1);
  EXPECT_EQ(genesis->administrators(0).name(), "secretariat");
  EXPECT_EQ(ledger::proof::GenesisHash(*genesis), ledger::proof::GenesisHash(net->genesis));

  // The administrator is the key in admin.key, and admin.key.pub agrees.
  auto admin = crypto::ReadKeyFile(options.out_dir / "admin.key");
  ASSERT_TRUE(admin) << admin.error().message;
  EXPECT_EQ(genesis->administrators(0).key(),
            std::string(admin->public_key().begin(), admin->public_key().end()));
  EXPECT_EQ(ReadText(options.out_dir / "admin.key.pub"), ToHex(admin->public_key()) + "\n");

  for (int i = 0; i < 4; ++i) {
    const fs::path node_dir = net->dir / ("node" + std::to_string(i));
    const v1::GenesisValidator& v = genesis->validators(i);
    EXPECT_EQ(v.address(), "127.0.0.1:" + std::to_string(7400 + i));

    // Validator i's key is the one in nodeI/node.key, readable only by its owner.
    struct stat st {};
    ASSERT_EQ(::stat((node_dir / "node.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto key = crypto::ReadKeyFile(node_dir / "node.key");
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_EQ(v.key(), std::string(key->public_key().begin(), key->public_key().end()));
    auto pub = ReadPublicKeyFromFile((node_dir / "node.key.pub").string());
    ASSERT_TRUE(pub);
    EXPECT_EQ(*pub, key->public_key());

    // The config is valid TOML with the ports and absolute paths of node i.
    std::string error;
    std::optional<toml::table> config = ParseToml(ReadText(node_dir / "config.toml"), error);
    ASSERT_TRUE(config) << error;
    const toml::table& t = *config;
    EXPECT_EQ(t["genesis_file"].value_or(std::string()), (net->dir / "genesis.toml").string());
    EXPECT_EQ(t["key_file"].value_or(std::string()), (node_dir / "node.key").string());
    EXPECT_EQ(t["data_dir"].value_or(std::string()), (node_dir / "data").string());
    EXPECT_TRUE(fs::path(t["data_dir"].value_or(std::string())).is_absolute());
    EXPECT_EQ(t["grpc_listen"].value_or(std::string()), "127.0.0.1:" + std::to_string(7300 + i));
    EXPECT_EQ(t["peer_listen"].value_or(std::string()), "127.0.0.1:" + std::to_string(7400 + i));
    EXPECT_EQ(t.at_path("block.max_txs").value_or(0), 500);
    EXPECT_EQ(t.at_path("block.interval_ms").value_or(0), 150);
    EXPECT_EQ(t.at_path("mempool.max_txs").value_or(0), 50000);
    EXPECT_EQ(t.at_path("mempool.max_bytes").value_or(int64_t{0}), 67108864);
    EXPECT_EQ(t.at_path("log.level").value_or(std::string()), "info");
  }
}

TEST_F(TestnetTest, ObserversListTheValidatorsWhichAdmitThem) {
  TestnetOptions options;
  options.validators = 4;
  options.observers = 2;
  options.out_dir = root_ / "net";
  options.base_port = 7300;
  auto net = CreateTestnet(options, 1790000000000);
  ASSERT_TRUE(net) << net.error().message;
  ASSERT_EQ(net->nodes.size(), 6u);
  EXPECT_EQ(net->genesis.validators_size(), 4);  // observers are not in the genesis
  std::vector<std::string> validator_keys, observer_keys;
  for (const auto& node : net->nodes) {
    (node.validator ? validator_keys : observer_keys).push_back(ToHex(node.key));
  }
  for (size_t k = 0; k < net->nodes.size(); ++k) {
    const TestnetNode& node = net->nodes[k];
    EXPECT_EQ(node.dir.filename().string(),
              k < 4 ? "node" + std::to_string(k) : "observer" + std::to_string(k - 4));
    EXPECT_EQ(node.grpc_address, "127.0.0.1:" + std::to_string(7300 + k));
    std::string error;
    std::optional<toml::table> config = ParseToml(ReadText(node.config_file), error);
    ASSERT_TRUE(config) << error;
    std::vector<std::string> peers;
    for (const toml::node& p : *(*config)["peers"].as_array()) {
      peers.push_back((*p.as_table())["key"].value_or(std::string()));
    }
    std::vector<std::string> expected;  // every validator but itself
    for (const auto& v : validator_keys) {
      if (v != ToHex(node.key)) expected.push_back(v);
    }
    EXPECT_EQ(peers, expected) << node.dir;
    std::vector<std::string> admitted;
    if (const toml::array* a = config->at_path("network.observers").as_array()) {
      for (const toml::node& o : *a) admitted.push_back(o.value_or(std::string()));
    }
    EXPECT_EQ(admitted, node.validator ? observer_keys : std::vector<std::string>{}) << node.dir;
  }
}

TEST_F(TestnetTest, AcceptsAnExistingEmptyDirectory) {
  fs::create_directories(root_ / "empty");
  TestnetOptions options;
  options.validators = 1;
  options.out_dir = root_ / "empty";
  auto net = CreateTestnet(options, 1);
  ASSERT_TRUE(net) << net.error().message;
  EXPECT_TRUE(fs::exists(root_ / "empty" / "node0" / "config.toml"));
  EXPECT_FALSE(fs::exists(root_ / "empty" / "node1"));
}

TEST_F(TestnetTest, RefusesANonEmptyDirectoryAndLeavesItAlone) {
  fs::create_directories(root_ / "busy");
  std::ofstream(root_ / "busy" / "notes.txt") << "mine\n";
  TestnetOptions options;
  options.validators = 4;
  options.out_dir = root_ / "busy";
  auto net = CreateTestnet(options, 1);
  ASSERT_FALSE(net);
  EXPECT_EQ(net.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(ReadText(root_ / "busy" / "notes.txt"), "mine\n");
  EXPECT_FALSE(fs::exists(root_ / "busy" / "genesis.toml"));
}

TEST_F(TestnetTest, RefusesAFileInPlaceOfTheDirectory) {
  std::ofstream(root_ / "file") << "x";
  TestnetOptions options;
  options.out_dir = root_ / "file";
  EXPECT_FALSE(CreateTestnet(options, 1));
}

TEST_F(TestnetTest, RefusesBadCountsAndPortsWithoutWritingAnything) {
  TestnetOptions options;
  options.out_dir = root_ / "net";
  options.validators = 0;
  EXPECT_FALSE(CreateTestnet(options, 1));
  options.validators = 101;
  EXPECT_FALSE(CreateTestnet(options, 1));
  options.validators = 4;
  options.base_port = 65433;  // peer port of node 3 would be 65536
  auto r = CreateTestnet(options, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  options.base_port = 65432;
  options.chain_id.clear();
  EXPECT_FALSE(CreateTestnet(options, 1));
  EXPECT_FALSE(fs::exists(root_ / "net"));
}

TEST_F(TestnetTest, KeyPairRefusesToOverwriteEitherFile) {
  const fs::path key = root_ / "alice.key";
  auto first = WriteNewKeyPair(key);
  ASSERT_TRUE(first) << first.error().message;
  const std::string before = ReadText(key);
  auto again = WriteNewKeyPair(key);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(ReadText(key), before);

  // A stray .pub blocks a new pair before any private key is written.
  std::ofstream(root_ / "bob.key.pub") << "stale\n";
  EXPECT_FALSE(WriteNewKeyPair(root_ / "bob.key"));
  EXPECT_FALSE(fs::exists(root_ / "bob.key"));
}

TEST(TomlString, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(TomlString("/a \"b\"\\c\n"), "\"/a \\\"b\\\"\\\\c\\n\"");
  std::string error;
  auto parsed = ParseToml("x = " + TomlString("q\"\\\x01z"), error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ((*parsed)["x"].value_or(std::string()), "q\"\\\x01z");
}

}  // namespace
}  // namespace minetrace::cli
