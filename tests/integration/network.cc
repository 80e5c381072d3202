#include "network.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "fault_proxy.h"
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

// A base port B with B..B+n-1 and B+100..B+100+n-1 all free now, below Linux's ephemeral
// range (32768..): an outgoing connection could otherwise take one before a node binds it.
int FreeBasePort(int n) {
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    int base = 10000 + static_cast<int>(rng() % 220) * 100;
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

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The quoted value of the first line `<name> = "<value>"` at or after `from`, as
// [begin, end) offsets of the value; npos when there is none.
std::pair<size_t, size_t> FindQuotedValue(const std::string& text, const std::string& name,
                                          size_t from = 0) {
  const std::string prefix = "\n" + name + " = \"";
  const size_t at = text.find(prefix, from);
  if (at == std::string::npos) return {std::string::npos, std::string::npos};
  const size_t begin = at + prefix.size();
  const size_t end = text.find('"', begin);
  if (end == std::string::npos) return {std::string::npos, std::string::npos};
  return {begin, end};
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
  proxies_.clear();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  std::filesystem::remove(dir_.string() + ".testnet.log", ec);
}

void Network::EditConfigs(const std::string& from, const std::string& to) {
  for (auto& node : nodes_) {
    std::filesystem::path file = node->dir() / "config.toml";
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << file << " has no " << from;
    text.replace(at, from.size(), to);
    std::ofstream(file, std::ios::trunc) << text;
  }
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

namespace minetrace::testing {

std::string Network::KeyHex(size_t i) const {
  std::string hex = ReadFile(nodes_.at(i)->dir() / "node.key.pub");
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) hex.pop_back();
  EXPECT_EQ(hex.size(), 64u) << "node " << i << " key " << hex;
  return hex;
}

std::string Network::PeerAddress(size_t i) const {
  const std::string config = ReadFile(nodes_.at(i)->dir() / "config.toml");
  auto [begin, end] = FindQuotedValue(config, "peer_listen");
  EXPECT_NE(begin, std::string::npos) << "node " << i << " has no peer_listen";
  if (begin == std::string::npos) return {};
  return config.substr(begin, end - begin);
}

void Network::SetPeerAddress(size_t i, size_t j, const std::string& address) {
  ASSERT_FALSE(nodes_.at(i)->running()) << "node " << i << " reads its config only at start";
  const std::filesystem::path path = nodes_[i]->dir() / "config.toml";
  std::string config = ReadFile(path);
  const std::string key_hex = KeyHex(j);
  // The address line of the [[peers]] table that names j's key.
  auto key = FindQuotedValue(config, "key");
  while (key.first != std::string::npos &&
         config.compare(key.first, key.second - key.first, key_hex) != 0) {
    key = FindQuotedValue(config, "key", key.second);
  }
  ASSERT_NE(key.first, std::string::npos) << path << " lists no peer with node " << j << "'s key";
  auto at = FindQuotedValue(config, "address", key.second);
  ASSERT_NE(at.first, std::string::npos) << path << ": no address after node " << j << "'s key";
  config.replace(at.first, at.second - at.first, address);
  std::ofstream(path, std::ios::trunc) << config;
}

void Network::RouteThroughProxies() {
  ASSERT_TRUE(proxies_.empty()) << "already routed through proxies";
  // A proxy's ephemeral port may fall in the range the nodes were given (which is free only
  // until they start); such proxies are kept aside until the end so the port is not reused.
  std::set<uint16_t> node_ports;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (const std::string& a : {nodes_[i]->address(), PeerAddress(i)}) {
      node_ports.insert(static_cast<uint16_t>(std::stoi(a.substr(a.rfind(':') + 1))));
    }
  }
  std::vector<std::unique_ptr<FaultProxy>> set_aside;
  const size_t v = static_cast<size_t>(options_.validators);
  for (size_t i = 0; i < v; ++i) {
    for (size_t j = 0; j < v; ++j) {
      if (j == i) continue;
      auto proxy = std::make_unique<FaultProxy>(PeerAddress(j));
      for (int attempt = 0; attempt < 20 && node_ports.count(proxy->port()) != 0; ++attempt) {
        set_aside.push_back(std::move(proxy));
        proxy = std::make_unique<FaultProxy>(PeerAddress(j));
      }
      ASSERT_NE(proxy->port(), 0);
      ASSERT_EQ(node_ports.count(proxy->port()), 0u) << "proxy ports keep hitting node ports";
      SetPeerAddress(i, j, proxy->address());
      proxies_[{i, j}] = std::move(proxy);
    }
  }
}

void Network::Isolate(size_t k) {
  ASSERT_FALSE(proxies_.empty()) << "Isolate needs RouteThroughProxies";
  for (auto& [pair, proxy] : proxies_) {
    if (pair.first == k || pair.second == k) proxy->Cut();
  }
}

void Network::HealAll() {
  for (auto& [pair, proxy] : proxies_) proxy->Heal();
}

}  // namespace minetrace::testing
