#include "minetrace/node/config.h"

#include <gtest/gtest.h>

namespace minetrace::node {
namespace {

TEST(NodeConfig, ParsesFieldsAndResolvesRelativePaths) {
  auto c = ParseNodeConfig(R"(
genesis_file = "genesis.toml"
key_file = "/keys/node.key"
data_dir = "data"
grpc_listen = "127.0.0.1:7010"
[block]
max_txs = 50
interval_ms = 25
[mempool]
max_txs = 10
max_bytes = 1048576
[log]
level = "debug"
)",
                           "/etc/mt");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->genesis_file, "/etc/mt/genesis.toml");
  EXPECT_EQ(c->key_file, "/keys/node.key");
  EXPECT_EQ(c->data_dir, "/etc/mt/data");
  EXPECT_EQ(c->grpc_listen, "127.0.0.1:7010");
  EXPECT_EQ(c->block_max_txs, 50u);
  EXPECT_EQ(c->block_interval, std::chrono::milliseconds(25));
  EXPECT_EQ(c->mempool_max_txs, 10u);
  EXPECT_EQ(c->mempool_max_bytes, 1048576u);
  EXPECT_EQ(c->log_level, "debug");
}

TEST(NodeConfig, RefusesMissingPathsBadBoundsAndBadTomlNamingTheField) {
  auto missing = ParseNodeConfig("key_file = \"k\"\ndata_dir = \"d\"\n", "/");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("genesis_file"), std::string::npos);
  auto zero = ParseNodeConfig(
      "genesis_file = \"g\"\nkey_file = \"k\"\ndata_dir = \"d\"\n[block]\nmax_txs = 0\n", "/");
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().message.find("max_txs"), std::string::npos);
  auto level = ParseNodeConfig(
      "genesis_file = \"g\"\nkey_file = \"k\"\ndata_dir = \"d\"\n[log]\nlevel = \"loud\"\n", "/");
  ASSERT_FALSE(level);
  auto too_big = ParseNodeConfig(
      "genesis_file = \"g\"\nkey_file = \"k\"\ndata_dir = \"d\"\n[grpc]\n"
      "max_request_bytes = 4294967296\n",
      "/");
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message.find("2147483647"), std::string::npos);
  auto bad = ParseNodeConfig("genesis_file = \n", "/");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("line 1"), std::string::npos);
}

}  // namespace
}  // namespace minetrace::node
