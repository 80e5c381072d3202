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

TEST(NodeConfig, PeerTlsNeedsAllThreeFilesOrNone) {
  const std::string base = "genesis_file = \"g\"\nkey_file = \"k\"\ndata_dir = \"d\"\n";
  auto none = ParseNodeConfig(base, "/etc/mt");
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_TRUE(none->tls_cert_file.empty());
  EXPECT_TRUE(none->tls_key_file.empty());
  EXPECT_TRUE(none->tls_ca_file.empty());

  auto all = ParseNodeConfig(base +
                                 "[network]\ntls_cert_file = \"tls/node.crt\"\n"
                                 "tls_key_file = \"/keys/node.tls.key\"\ntls_ca_file = \"ca.crt\"\n",
                             "/etc/mt");
  ASSERT_TRUE(all) << all.error().ToString();
  EXPECT_EQ(all->tls_cert_file, "/etc/mt/tls/node.crt");
  EXPECT_EQ(all->tls_key_file, "/keys/node.tls.key");
  EXPECT_EQ(all->tls_ca_file, "/etc/mt/ca.crt");

  // Each partial set names the first missing file.
  const std::pair<std::string, std::string> partial[] = {
      {"tls_key_file = \"k.pem\"\ntls_ca_file = \"ca.pem\"\n", "tls_cert_file"},
      {"tls_cert_file = \"c.pem\"\ntls_ca_file = \"ca.pem\"\n", "tls_key_file"},
      {"tls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\n", "tls_ca_file"},
      {"tls_cert_file = \"c.pem\"\n", "tls_key_file"},
      {"tls_cert_file = \"c.pem\"\ntls_key_file = \"\"\ntls_ca_file = \"ca.pem\"\n",
       "tls_key_file"},
  };
  for (const auto& [lines, missing] : partial) {
    auto r = ParseNodeConfig(base + "[network]\n" + lines, "/");
    ASSERT_FALSE(r) << lines;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("[network] " + missing + " is missing"), std::string::npos)
        << r.error().message;
  }
}

}  // namespace
}  // namespace minetrace::node
