#include "node_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "minetrace/ledger/proof/genesis.h"

namespace minetrace::testing {
namespace {

// A channel of its own (local subchannel pool): a channel that saw the node down backs off
// for seconds, so each start probes and then talks on fresh channels.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

crypto::PrivateKey Key(uint8_t seed) {
  Bytes secret(32, 0x22);
  secret[31] = seed;
  return *crypto::PrivateKey::FromBytes(secret);
}

}  // namespace

int FreeLoopbackPort() {
  // Below Linux's ephemeral range (32768..), so that no outgoing connection takes the port
  // between this check and the node binding it.
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = 10000 + static_cast<int>(rng() % 22000);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return port;
  }
  ADD_FAILURE() << "no free loopback port below 32000";
  return 0;
}

std::unique_ptr<grpc::ClientContext> Ctx(int timeout_ms) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  return ctx;
}

NodeProcess::NodeProcess(NodeOptions options)
    : options_(options), admin_(Key(1)), validator_(Key(2)) {
  dir_ = std::filesystem::temp_directory_path() /
         ("minetrace-it-" + std::to_string(::getpid()) + "-" +
          std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir_);
  address_ = "127.0.0.1:" + std::to_string(FreeLoopbackPort());

  WriteGenesis();
  EXPECT_TRUE(crypto::WriteKeyFile(dir_ / "node.key", validator_));
  std::ofstream(dir_ / "config.toml")
      << "genesis_file = \"genesis.toml\"\nkey_file = \"node.key\"\ndata_dir = \"data\"\n"
      << "grpc_listen = \"" << address_ << "\"\n"
      << "peer_listen = \"" << options_.peer_listen << "\"\n"
      << "[block]\ninterval_ms = " << options_.block_interval_ms
      << "\nmax_txs = " << options_.block_max_txs << "\n"
      << "[mempool]\nmax_txs = " << options_.mempool_max_txs
      << "\nmax_tx_bytes = " << options_.max_tx_bytes << "\n"
      << "[grpc]\nmax_request_bytes = " << options_.max_request_bytes << "\n"
      << "[log]\nlevel = \"info\"\n";
  channel_ = NewChannel(address_);
}

NodeProcess::NodeProcess(std::filesystem::path dir, std::string grpc_address,
                         std::string chain_id, crypto::PrivateKey admin)
    : dir_(std::move(dir)),
      address_(std::move(grpc_address)),
      chain_id_(std::move(chain_id)),
      admin_(std::move(admin)),
      validator_(Key(2)),
      owns_dir_(false) {
  channel_ = NewChannel(address_);
}

void NodeProcess::WriteGenesis() {
  v1::Genesis g;
  g.set_chain_id(chain_id_);
  g.set_genesis_time_ms(1'790'000'000'000);
  auto* v = g.add_validators();
  v->set_key(std::string(validator_.public_key().begin(), validator_.public_key().end()));
  v->set_name("validator-0");
  v->set_address("127.0.0.1:1");
  auto* a = g.add_administrators();
  a->set_key(std::string(admin_.public_key().begin(), admin_.public_key().end()));
  a->set_name("secretariat");
  std::ofstream(dir_ / "genesis.toml", std::ios::trunc) << ledger::proof::GenesisToToml(g);
}

void NodeProcess::RewriteGenesis(const std::string& chain_id) {
  chain_id_ = chain_id;
  WriteGenesis();
}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) Kill();
  if (!owns_dir_) return;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void NodeProcess::Start() {
  ASSERT_LT(pid_, 0) << "node already running";
  Spawn();
  if (pid_ <= 0) return;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    v1::StatusResponse resp;
    auto ctx = Ctx(1000);
    auto stub = v1::NodeService::NewStub(NewChannel(address_));
    if (stub->Status(ctx.get(), v1::StatusRequest(), &resp).ok()) {
      channel_ = NewChannel(address_);
      return;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL() << "minetrace-node exited during start-up; log:\n" << Log();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "minetrace-node did not answer Status within 30 s; log:\n" << Log();
}

void NodeProcess::Spawn() {
  std::string config = (dir_ / "config.toml").string();
  std::string log = (dir_ / "node.log").string();
  pid_ = ::fork();
  ASSERT_GE(pid_, 0);
  if (pid_ == 0) {
    // Only async-signal-safe calls between fork and exec: the test process has threads.
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) ::dup2(fd, STDERR_FILENO);
    ::execl(MINETRACE_NODE_BIN, "minetrace-node", "--config", config.c_str(),
            static_cast<char*>(nullptr));
    std::_Exit(127);
  }
}

int NodeProcess::RunExpectingExit() {
  EXPECT_LT(pid_, 0) << "node already running";
  Spawn();
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "node did not refuse to start; log:\n" << Log();
  Kill();
  return -1;
}

void NodeProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void NodeProcess::Signal(int signo) {
  ASSERT_GT(pid_, 0) << "node not running";
  ::kill(pid_, signo);
}

int NodeProcess::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string NodeProcess::Log() const {
  std::ifstream in(dir_ / "node.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unique_ptr<v1::TxService::Stub> NodeProcess::TxStub() const {
  return v1::TxService::NewStub(channel_);
}
std::unique_ptr<v1::QueryService::Stub> NodeProcess::QueryStub() const {
  return v1::QueryService::NewStub(channel_);
}
std::unique_ptr<v1::NodeService::Stub> NodeProcess::NodeStub() const {
  return v1::NodeService::NewStub(channel_);
}

}  // namespace minetrace::testing
