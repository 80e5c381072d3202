// Goal: link faults and strangers do not break the network. With one validator of four cut
// off the other three keep committing; with two cut off nothing commits and no two nodes
// disagree about a committed prefix; once the links heal every node converges and the txs
// held back commit. A node of another network, a node whose key is not admitted and a client
// that sends garbage instead of a handshake are all refused: both sides log why, and the
// network keeps committing.
// Method: `minetrace testnet` writes a 4-validator loopback network of real minetrace-node
// processes. For partitions every validator-to-validator link goes through a FaultProxy
// (tests/integration/fault_proxy.h) that the test cuts and heals; strangers are extra node
// processes (another testnet, or a node with a fresh key on this network's genesis) or a raw
// TCP socket. Every wait polls against a deadline.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "fault_proxy.h"
#include "minetrace/base/bytes.h"
#include "network.h"

namespace minetrace::testing {
namespace {

using Clock = std::chrono::steady_clock;

grpc::Status Submit(NodeProcess& node, const v1::SignedTx& tx, std::string* tx_id) {
  v1::SubmitTxRequest req;
  *req.mutable_tx() = tx;
  v1::SubmitTxResponse resp;
  auto ctx = Ctx(5000);
  grpc::Status s = node.TxStub()->SubmitTx(ctx.get(), req, &resp);
  if (s.ok()) *tx_id = resp.tx_id();
  return s;
}

grpc::Status Wait(NodeProcess& node, const std::string& tx_id, int wait_ms) {
  v1::WaitTxRequest w;
  w.set_tx_id(tx_id);
  w.set_timeout_ms(static_cast<uint32_t>(wait_ms));
  v1::TxWithReceipt rec;
  auto ctx = Ctx(wait_ms + 2000);
  grpc::Status s = node.TxStub()->WaitTx(ctx.get(), w, &rec);
  if (s.ok() && rec.receipt().status() != v1::TX_STATUS_OK) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "tx failed: " + rec.receipt().reason());
  }
  return s;
}

grpc::Status SubmitAndWait(NodeProcess& node, const v1::SignedTx& tx, int wait_ms = 20000) {
  std::string id;
  grpc::Status s = Submit(node, tx, &id);
  return s.ok() ? Wait(node, id, wait_ms) : s;
}

// Status of node i, or nullopt if it does not answer.
std::optional<v1::StatusResponse> TryStatus(Network& net, size_t i) {
  v1::StatusResponse resp;
  auto ctx = Ctx(2000);
  if (!net.node(i).NodeStub()->Status(ctx.get(), v1::StatusRequest(), &resp).ok()) return {};
  return resp;
}

// No fork: nodes that report the same leaf count report the same root. Returns the highest
// leaf count seen.
uint64_t ExpectNoFork(Network& net, const std::string& when) {
  std::map<uint64_t, std::pair<size_t, std::string>> root_at;  // leaf count -> (node, root)
  uint64_t highest = 0;
  for (size_t i = 0; i < net.size(); ++i) {
    auto s = TryStatus(net, i);
    EXPECT_TRUE(s.has_value()) << when << ": node " << i << " does not answer Status";
    if (!s) continue;
    highest = std::max(highest, s->leaf_count());
    auto [it, fresh] = root_at.try_emplace(s->leaf_count(), i, s->accumulator_root());
    EXPECT_TRUE(fresh || it->second.second == s->accumulator_root())
        << when << ": nodes " << it->second.first << " and " << i << " both have "
        << s->leaf_count() << " leaves but different roots (a fork)";
  }
  return highest;
}

// Whether node i reports an established connection with the node whose key is `key_hex`.
bool ConnectedTo(Network& net, size_t i, const std::string& key_hex) {
  auto s = TryStatus(net, i);
  if (!s) return false;
  for (const auto& p : s->peers()) {
    if (ToHex(AsBytes(p.key())) == key_hex) return p.connected();
  }
  return false;
}

// Polls `done` every 100 ms until it holds or `timeout` passes.
template <class F>
bool PollUntil(F done, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

bool LogSays(const NodeProcess& node, const std::string& words) {
  return node.Log().find(words) != std::string::npos;
}

// Every validator reports every other validator connected (through whatever its config names).
bool AllValidatorsConnected(Network& net) {
  for (size_t i = 0; i < static_cast<size_t>(net.validators()); ++i) {
    for (size_t j = 0; j < static_cast<size_t>(net.validators()); ++j) {
      if (i != j && !ConnectedTo(net, i, net.KeyHex(j))) return false;
    }
  }
  return true;
}

TEST(NetworkFaults, PartitionOfOneKeepsCommittingTwoStopsWithoutForkAndAllConverge) {
  Network net(NetworkOptions{.observers = 0});
  net.RouteThroughProxies();
  net.StartAll();
  ASSERT_TRUE(PollUntil([&] { return AllValidatorsConnected(net); }, std::chrono::seconds(15)))
      << "the validators did not connect through the proxies";
  // Each pair's dialer (the smaller key) went through its proxy to reach the other.
  for (size_t i = 0; i < 4; ++i) {
    for (size_t j = 0; j < 4; ++j) {
      if (i == j || net.KeyHex(i) > net.KeyHex(j)) continue;
      EXPECT_GT(net.proxy(i, j).accepted(), 0u)
          << "validator " << i << " did not dial " << j << " through its proxy";
    }
  }
  uint32_t n = 0;
  for (size_t i = 0; i < 4; ++i) {
    grpc::Status s = SubmitAndWait(net.node(i), net.RegisterMemberTx(n++));
    ASSERT_TRUE(s.ok()) << "node " << i << ", all links up: " << s.error_message();
  }

  // One of four cut off: the other three are a quorum.
  net.Isolate(3);
  const std::string key3 = net.KeyHex(3);
  EXPECT_TRUE(PollUntil([&] { return !ConnectedTo(net, 0, key3) && !ConnectedTo(net, 1, key3); },
                        std::chrono::seconds(5)))
      << "validators 0 and 1 still report validator 3 connected after the cut";
  for (size_t i = 0; i < 3; ++i) {
    grpc::Status s = SubmitAndWait(net.node(i), net.RegisterMemberTx(n++));
    ASSERT_TRUE(s.ok()) << "node " << i << ", validator 3 cut off: " << s.error_message();
  }
  const uint64_t committed = n;

  // Two of four cut off: no side has a quorum of three.
  net.Isolate(2);
  std::vector<std::pair<size_t, std::string>> held;  // (node, tx id) submitted meanwhile
  for (size_t i : {0, 1}) {
    std::string id;
    grpc::Status s = Submit(net.node(i), net.RegisterMemberTx(n++), &id);
    ASSERT_TRUE(s.ok()) << s.error_message();
    held.emplace_back(i, id);
  }
  ExpectNoFork(net, "right after the second cut");
  const auto window_start = Clock::now();
  grpc::Status s0 = Wait(net.node(0), held[0].second, 5000);
  EXPECT_EQ(s0.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << "a tx committed with two of four validators cut off: " << s0.error_message();
  EXPECT_GE(Clock::now() - window_start, std::chrono::milliseconds(4500));
  grpc::Status s1 = Wait(net.node(1), held[1].second, 500);
  EXPECT_EQ(s1.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s1.error_message();
  const uint64_t highest = ExpectNoFork(net, "after 5 s without a quorum");
  EXPECT_EQ(highest, committed) << "leaves were added without a quorum";

  // Healed: the held txs commit and every node ends on the same root.
  const auto heal_start = Clock::now();
  net.HealAll();
  for (const auto& [i, id] : held) {
    grpc::Status s = Wait(net.node(i), id, 30000);
    EXPECT_TRUE(s.ok()) << "the tx held on node " << i
                        << " did not commit after healing: " << s.error_message();
  }
  ASSERT_TRUE(net.WaitForAgreement(n, 30000));
  std::cout
      << "after healing, all " << net.size() << " nodes agreed on " << n << " leaves in "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - heal_start).count()
      << " ms\n";
  ExpectNoFork(net, "after healing");
}

TEST(NetworkFaults, NodeOfAnotherNetworkIsRefusedAndSaysWhy) {
  Network net(NetworkOptions{.observers = 0});
  net.StartAll();
  // A validator dials only validators of its own genesis (the smaller key of a pair dials),
  // so the stranger is one of two validators of another network, and its config says that
  // its peer lives at validator 0's peer port. Its peer never starts.
  Network other(NetworkOptions{.validators = 2, .observers = 0, .chain_id = "another-net"});
  const size_t dialer = other.KeyHex(0) < other.KeyHex(1) ? 0 : 1;
  other.SetPeerAddress(dialer, 1 - dialer, net.PeerAddress(0));
  other.node(dialer).Start();

  // The other network's chain id differs, which the handshake checks before the genesis hash.
  const std::string why = "different chain";
  EXPECT_TRUE(PollUntil([&] { return LogSays(net.node(0), why); }, std::chrono::seconds(10)))
      << "validator 0 does not say why it refused the stranger; its log:\n"
      << net.node(0).Log();
  EXPECT_TRUE(PollUntil([&] { return LogSays(other.node(dialer), why); }, std::chrono::seconds(10)))
      << "the stranger does not say why it was refused; its log:\n"
      << other.node(dialer).Log();
  // The stranger's Status names the reason too, under the peer it meant to reach.
  auto st = TryStatus(other, dialer);
  ASSERT_TRUE(st.has_value());
  bool reported = false;
  for (const auto& p : st->peers()) {
    if (p.last_error().find(why) != std::string::npos) reported = true;
  }
  EXPECT_TRUE(reported) << st->DebugString();

  for (uint32_t i = 0; i < 3; ++i) {
    grpc::Status s = SubmitAndWait(net.node(i), net.RegisterMemberTx(i));
    EXPECT_TRUE(s.ok()) << "node " << i << ": " << s.error_message();
  }
  ASSERT_TRUE(net.WaitForAgreement(3, 20000));
}

TEST(NetworkFaults, UnknownKeyIsRefusedAndSaysWhy) {
  Network net(NetworkOptions{.observers = 0});
  net.StartAll();
  // An outsider: this network's genesis, a key nobody admits, every validator as a peer. Its
  // key is no validator's, so it runs as an observer, and observers dial validators.
  const std::filesystem::path dir = net.dir() / "outsider";
  std::filesystem::create_directories(dir);
  auto key = crypto::PrivateKey::FromBytes(Bytes(32, 0x77));
  ASSERT_TRUE(key);
  ASSERT_TRUE(crypto::WriteKeyFile(dir / "node.key", *key));
  const std::string grpc_address = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  {
    std::ofstream config(dir / "config.toml");
    config << "genesis_file = \"" << (net.dir() / "genesis.toml").string() << "\"\n"
           << "key_file = \"node.key\"\ndata_dir = \"data\"\n"
           << "grpc_listen = \"" << grpc_address << "\"\n"
           << "peer_listen = \"127.0.0.1:0\"\n"
           << "[log]\nlevel = \"info\"\n";
    for (size_t v = 0; v < 4; ++v) {
      config << "[[peers]]\nkey = \"" << net.KeyHex(v) << "\"\naddress = \"" << net.PeerAddress(v)
             << "\"\n";
    }
  }
  NodeProcess outsider(dir, grpc_address, net.chain_id(), net.admin());
  outsider.Start();
  ASSERT_TRUE(outsider.running());

  const std::string why = "is not a validator or configured observer";
  for (size_t v = 0; v < 4; ++v) {
    EXPECT_TRUE(PollUntil([&] { return LogSays(net.node(v), why); }, std::chrono::seconds(10)))
        << "validator " << v << " does not say why it refused the outsider; its log:\n"
        << net.node(v).Log();
  }
  EXPECT_TRUE(PollUntil([&] { return LogSays(outsider, why); }, std::chrono::seconds(10)))
      << "the outsider does not say why it was refused; its log:\n"
      << outsider.Log();
  const std::string outsider_hex = ToHex(key->public_key());
  EXPECT_NE(net.node(0).Log().find(outsider_hex), std::string::npos)
      << "validator 0's refusal does not name the outsider's key";
  // Nobody counts the outsider as connected, and it has learnt nothing it could serve.
  for (size_t v = 0; v < 4; ++v) EXPECT_FALSE(ConnectedTo(net, v, outsider_hex));
  for (uint32_t i = 0; i < 2; ++i) {
    grpc::Status s = SubmitAndWait(net.node(i), net.RegisterMemberTx(i));
    EXPECT_TRUE(s.ok()) << "node " << i << ": " << s.error_message();
  }
  ASSERT_TRUE(net.WaitForAgreement(2, 20000));
  v1::StatusResponse mine;
  {
    auto ctx = Ctx(2000);
    ASSERT_TRUE(outsider.NodeStub()->Status(ctx.get(), v1::StatusRequest(), &mine).ok());
  }
  EXPECT_EQ(mine.role(), "observer");
  EXPECT_EQ(mine.leaf_count(), 0u) << "the outsider synced from a network that refused it";
}

// Connects to `address` (127.0.0.1:port), sends `bytes`, and returns how long the peer took
// to close the connection (reading and discarding what it sends), or nullopt after `timeout`.
std::optional<std::chrono::milliseconds> SendAndAwaitClose(const std::string& address,
                                                           const std::string& bytes,
                                                           std::chrono::milliseconds timeout) {
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ADD_FAILURE() << "cannot connect to " << address << ": " << std::strerror(errno);
    ::close(fd);
    return std::nullopt;
  }
  const auto start = Clock::now();
  if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    // The node may already have closed on a prefix: that is a close as well.
    ::close(fd);
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  }
  std::optional<std::chrono::milliseconds> closed_after;
  while (Clock::now() - start < timeout) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got <= 0) {  // EOF or reset
      closed_after = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      break;
    }
  }
  ::close(fd);
  return closed_after;
}

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

TEST(NetworkFaults, GarbledHandshakeIsRefusedAndNodeKeepsServing) {
  Network net(NetworkOptions{.observers = 0});
  net.StartAll();
  ASSERT_TRUE(SubmitAndWait(net.node(1), net.RegisterMemberTx(0)).ok());
  const std::string target = net.PeerAddress(0);

  struct Garbage {
    std::string name;
    std::string bytes;
    std::string why;  // what validator 0 logs when it closes the connection
  };
  std::vector<Garbage> cases;
  // A well-framed payload that is no protobuf (field number 0, wire type 7).
  cases.push_back({"invalid frame",
                   BigEndian32(16) + std::string(1, '\x07') + std::string(15, '\xab'),
                   "not a transport frame"});
  // A length prefix far beyond the handshake bound.
  cases.push_back(
      {"oversized length", BigEndian32(0x7fffffff) + std::string(64, 'x'), "exceeds the limit"});
  // Random bytes behind a plausible length prefix (fixed seed, printed for replay).
  constexpr uint32_t kSeed = 20240611;
  std::mt19937 rng(kSeed);
  std::string noise = BigEndian32(200);
  for (int i = 0; i < 200; ++i) noise.push_back(static_cast<char>(rng() & 0xff));
  cases.push_back({"random bytes, seed " + std::to_string(kSeed), noise, ""});

  for (const Garbage& g : cases) {
    auto closed_after = SendAndAwaitClose(target, g.bytes, std::chrono::seconds(5));
    ASSERT_TRUE(closed_after.has_value())
        << g.name << ": validator 0 kept the connection open for 5 s";
    std::cout << g.name << ": closed after " << closed_after->count() << " ms\n";
    if (!g.why.empty()) {
      EXPECT_TRUE(PollUntil([&] { return LogSays(net.node(0), g.why); }, std::chrono::seconds(3)))
          << g.name << ": validator 0 does not say why it closed; its log:\n"
          << net.node(0).Log();
    }
  }

  // Validator 0 still serves: txs submitted to it commit, and everyone agrees.
  for (uint32_t i = 1; i <= 3; ++i) {
    grpc::Status s = SubmitAndWait(net.node(0), net.RegisterMemberTx(i));
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_TRUE(net.WaitForAgreement(4, 20000));
  EXPECT_TRUE(AllValidatorsConnected(net));
}

}  // namespace
}  // namespace minetrace::testing
