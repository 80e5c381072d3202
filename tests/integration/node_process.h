// A real minetrace-node child process for integration tests. The default constructor writes
// a one-validator genesis, key and config into a fresh temporary folder; the other runs a
// node of a network that `minetrace testnet` wrote. It starts the binary on a free
// loopback port, and stops it (SIGTERM) or kills it (SIGKILL). Keys are fixed so that tests
// can sign as the founding administrator.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "minetrace/crypto/keys.h"
#include "minetrace/v1/node.grpc.pb.h"

namespace minetrace::testing {

struct NodeOptions {
  uint32_t block_interval_ms = 50;
  uint32_t block_max_txs = 500;
  uint32_t mempool_max_txs = 10000;
  uint32_t max_tx_bytes = 16 * 1024;
  uint32_t max_request_bytes = 1 << 20;
  std::string peer_listen = "127.0.0.1:0";  // an ephemeral port: nobody dials a lone node
};

class NodeProcess {
 public:
  explicit NodeProcess(NodeOptions options = {});
  // A node of a network written by `minetrace testnet`: `dir` holds its config.toml (the
  // network owns the folder); `admin` signs as the network's founding administrator.
  NodeProcess(std::filesystem::path dir, std::string grpc_address, std::string chain_id,
              crypto::PrivateKey admin);
  ~NodeProcess();  // kills the process if running, removes the folder
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Starts the node and waits until Status answers (fails the test after 30 s).
  void Start();
  void Kill();             // SIGKILL, then reap
  void Signal(int signo);  // e.g. SIGUSR1 (write a backup checkpoint)
  int Stop();              // SIGTERM, wait; returns the exit status
  // Runs the node expecting it to refuse to start; returns its exit status (fails the test
  // if it is still running after 30 s).
  int RunExpectingExit();
  // Rewrites genesis.toml with another chain id (a different network).
  void RewriteGenesis(const std::string& chain_id);
  bool running() const { return pid_ > 0; }

  const std::string& address() const { return address_; }
  const std::string& chain_id() const { return chain_id_; }
  const crypto::PrivateKey& admin() const { return admin_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string Log() const;  // the node's stderr so far

  std::unique_ptr<v1::TxService::Stub> TxStub() const;
  std::unique_ptr<v1::QueryService::Stub> QueryStub() const;
  std::unique_ptr<v1::NodeService::Stub> NodeStub() const;
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

 private:
  NodeOptions options_;
  std::filesystem::path dir_;
  std::string address_;
  std::string chain_id_ = "integration-chain";
  crypto::PrivateKey admin_;
  crypto::PrivateKey validator_;  // of the one-validator network
  pid_t pid_ = -1;
  bool owns_dir_ = true;
  void Spawn();
  void WriteGenesis();
  std::shared_ptr<grpc::Channel> channel_;
};

// A loopback port that was free a moment ago.
int FreeLoopbackPort();

// Per-call context with a deadline.
std::unique_ptr<grpc::ClientContext> Ctx(int timeout_ms = 10000);

}  // namespace minetrace::testing
