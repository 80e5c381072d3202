// Goal: a node given the wrong files refuses to start with one line that says what to fix,
// and exits non-zero, without touching the data it was pointed at.
// Method: real minetrace-node processes on prepared folders: a data folder of another
// network, a peer port already taken, a key file readable by others, a broken config.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "node_process.h"

namespace minetrace::testing {
namespace {

void ExpectRefusal(NodeProcess& node, const std::string& words) {
  int status = node.RunExpectingExit();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "status " << status;
  std::string log = node.Log();
  EXPECT_NE(log.find(words), std::string::npos) << log;
}

TEST(NodeStart, RefusesDataFolderOfAnotherNetwork) {
  NodeProcess node;
  node.Start();
  ASSERT_EQ(node.Stop(), 0);
  node.RewriteGenesis("another-chain");
  ExpectRefusal(node, "belongs to another network");
}

TEST(NodeStart, RefusesAPeerPortInUse) {
  // Hold a loopback port, and point the node's peer listener at it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  NodeProcess node(NodeOptions{.peer_listen = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port))});
  ExpectRefusal(node, "cannot listen for peers on 127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) +
                          ": Address already in use");
  ::close(fd);
}

TEST(NodeStart, RefusesKeyFileReadableByOthers) {
  NodeProcess node;
  ASSERT_EQ(::chmod((node.dir() / "node.key").c_str(), 0644), 0);
  ExpectRefusal(node, "chmod 600");
}

TEST(NodeStart, RefusesBrokenConfigNamingTheProblem) {
  NodeProcess node;
  std::string config;
  {
    std::ifstream in(node.dir() / "config.toml");
    config.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto at = config.find("max_txs = 500");
  ASSERT_NE(at, std::string::npos);
  config.replace(at, 13, "max_txs = -5");
  std::ofstream(node.dir() / "config.toml", std::ios::trunc) << config;
  ExpectRefusal(node, "max_txs");
}

}  // namespace
}  // namespace minetrace::testing
