#include "network.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "minetrace/ledger/proof/tx.h"

namespace minetrace::testing {
namespace {

bool PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A base port B with B..B+n-1 and B+100..B+100+n-1 all free now.
int FreeBasePort(int n) {
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    int base = 20000 + static_cast<int>(rng() % 400) * 100;
    bool free = true;
    for (int k = 0; k < n && free; ++k) free = PortFree(base + k) && PortFree(base + 100 + k);
    if (free) return base;
  }
  ADD_FAILURE() << "no free port range found";
  return 20000;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Network::Network(NetworkOptions options)
    : options_(std::move(options)),
      admin_(*crypto::PrivateKey::FromBytes(Bytes(32, 0x11))) {
  dir_ = std::filesystem::temp_directory_path() /
         ("minetrace-net-" + std::to_string(::getpid()) + "-" +
          std::to_string(std::random_device{}()));
  const int n = options_.validators + options_.observers;
  const int base = FreeBasePort(n);
  std::ostringstream cmd;
  cmd << MINETRACE_CLI_BIN << " testnet --validators " << options_.validators << " --observers "
      << options_.observers << " --out " << dir_.string() << " --chain-id " << options_.chain_id
      << " --base-port " << base << " --block-interval-ms " << options_.block_interval_ms
      << " --round-timeout-ms " << options_.round_timeout_ms << " > " << dir_.string()
      << ".testnet.log 2>&1";
  int rc = std::system(cmd.str().c_str());
  EXPECT_EQ(rc, 0) << cmd.str();
  auto admin = crypto::ReadKeyFile(dir_ / "admin.key");
  EXPECT_TRUE(admin) << admin.error().ToString();
  if (admin) admin_ = std::move(*admin);
  for (int k = 0; k < n; ++k) {
    std::string name = k < options_.validators
                           ? "node" + std::to_string(k)
                           : "observer" + std::to_string(k - options_.validators);
    nodes_.push_back(std::make_unique<NodeProcess>(
        dir_ / name, "127.0.0.1:" + std::to_string(base + k), options_.chain_id, admin_));
  }
}

Network::~Network() {
  nodes_.clear();  // kills the processes
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  std::filesystem::remove(dir_.string() + ".testnet.log", ec);
}

void Network::StartAll() {
  for (auto& node : nodes_) node->Start();
}

v1::SignedTx Network::RegisterMemberTx(uint32_t n) {
  Bytes secret(32, 0x55);
  secret[28] = static_cast<uint8_t>(n >> 24);
  secret[29] = static_cast<uint8_t>(n >> 16);
  secret[30] = static_cast<uint8_t>(n >> 8);
  secret[31] = static_cast<uint8_t>(n);
  auto member = crypto::PrivateKey::FromBytes(secret);
  v1::TxBody body;
  body.set_chain_id(options_.chain_id);
  body.set_nonce(++nonce_);
  body.set_created_at_ms(NowMs());
  auto* reg = body.mutable_register_member();
  reg->set_member_key(std::string(member->public_key().begin(), member->public_key().end()));
  reg->set_name("member-" + std::to_string(n));
  reg->add_roles(v1::ROLE_TRADER);
  reg->set_country("CD");
  return ledger::proof::SignTx(body, admin_);
}

v1::StatusResponse Network::Status(size_t i) {
  v1::StatusResponse resp;
  auto ctx = Ctx(3000);
  grpc::Status s = node(i).NodeStub()->Status(ctx.get(), v1::StatusRequest(), &resp);
  EXPECT_TRUE(s.ok()) << "node " << i << ": " << s.error_message();
  return resp;
}

bool Network::WaitForAgreement(uint64_t leaf_count, int timeout_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string views;
  while (std::chrono::steady_clock::now() < until) {
    bool agree = true;
    std::string root;
    std::ostringstream seen;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!nodes_[i]->running()) continue;
      v1::StatusResponse resp;
      auto ctx = Ctx(2000);
      if (!nodes_[i]->NodeStub()->Status(ctx.get(), v1::StatusRequest(), &resp).ok()) {
        agree = false;
        seen << "node " << i << ": no answer\n";
        continue;
      }
      seen << "node " << i << ": height " << resp.height() << " leaves " << resp.leaf_count()
           << " round " << resp.round() << "\n";
      if (resp.leaf_count() != leaf_count) agree = false;
      if (root.empty()) root = resp.accumulator_root();
      if (resp.accumulator_root() != root) agree = false;
    }
    if (agree) return true;
    views = seen.str();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "nodes did not agree on " << leaf_count << " leaves:\n" << views;
  return false;
}

bool Network::WaitForHeight(size_t i, uint64_t height, int timeout_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    v1::StatusResponse resp;
    auto ctx = Ctx(2000);
    if (node(i).NodeStub()->Status(ctx.get(), v1::StatusRequest(), &resp).ok() &&
        resp.height() >= height) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace minetrace::testing
