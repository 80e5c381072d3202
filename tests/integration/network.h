// A loopback network for integration tests: `minetrace testnet` (the real CLI binary) writes
// keys, genesis and configs for N validators and M observers into a fresh temporary folder,
// on ports found free; each node is a NodeProcess. Helpers sign as the founding administrator
// and wait for the nodes to agree.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "node_process.h"

namespace minetrace::testing {

class FaultProxy;

struct NetworkOptions {
  int validators = 4;
  int observers = 1;
  uint32_t block_interval_ms = 100;
  uint32_t round_timeout_ms = 1000;
  std::string chain_id = "integration-net";
};

class Network {
 public:
  explicit Network(NetworkOptions options = {});
  ~Network();  // kills every node, removes the folder
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Replaces `from` with `to` in every node's config.toml (before the nodes start).
  void EditConfigs(const std::string& from, const std::string& to);
  void StartAll();  // starts every node and waits until each answers Status
  size_t size() const { return nodes_.size(); }
  NodeProcess& node(size_t i) { return *nodes_.at(i); }  // validators first, then observers
  int validators() const { return options_.validators; }
  const crypto::PrivateKey& admin() const { return admin_; }
  const std::string& chain_id() const { return options_.chain_id; }
  const std::filesystem::path& dir() const { return dir_; }

  // A signed RegisterMember tx (a fresh member key derived from `n`) as the administrator.
  v1::SignedTx RegisterMemberTx(uint32_t n);
  // The node's Status, or a failed test.
  v1::StatusResponse Status(size_t i);
  // Waits until every running node has `leaf_count` leaves and they all report the same
  // accumulator root; false (with every node's view printed) after `timeout_ms`.
  bool WaitForAgreement(uint64_t leaf_count, int timeout_ms);
  // Waits until node i reaches `height`.
  bool WaitForHeight(size_t i, uint64_t height, int timeout_ms);

  // Node i's public key in hex (its node.key.pub) and the address it listens on for peers
  // (peer_listen in its config.toml).
  std::string KeyHex(size_t i) const;
  std::string PeerAddress(size_t i) const;
  // Rewrites node i's config.toml (before it starts) so that its [[peers]] entry for node j
  // names `address` instead of j's peer port.
  void SetPeerAddress(size_t i, size_t j, const std::string& address);

  // Link faults between validators. RouteThroughProxies (call it before the nodes start)
  // puts a FaultProxy on every ordered pair (i, j) of distinct validators: node i's [[peers]]
  // entry for j names the proxy, which forwards to j's peer port. Only the pair's dialer
  // (the smaller key) uses its proxy; the other one stays idle, which is harmless.
  void RouteThroughProxies();
  // Cuts every proxy into or out of validator k: its established links close, and its
  // redials (and the others' dials to it) are closed as soon as they are accepted.
  void Isolate(size_t k);
  void HealAll();  // every proxy forwards again
  FaultProxy& proxy(size_t from, size_t to) { return *proxies_.at({from, to}); }

 private:
  NetworkOptions options_;
  std::filesystem::path dir_;
  crypto::PrivateKey admin_;
  uint64_t nonce_ = 0;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  // (dialer, target) -> the proxy in node dialer's config for target; empty unless routed.
  std::map<std::pair<size_t, size_t>, std::unique_ptr<FaultProxy>> proxies_;
};

}  // namespace minetrace::testing
