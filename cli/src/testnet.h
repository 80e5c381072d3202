// `minetrace testnet`: everything needed to run a local network of N validators and M
// observers on 127.0.0.1: one key per node, the founding administrator's key, a genesis
// naming the validators, and one node config per node. Layout of DIR (all paths written into
// files are absolute); node K (validators first, then observers) listens on
// grpc 127.0.0.1:(base+K) and peers 127.0.0.1:(base+100+K):
//   DIR/genesis.toml                    chain id, validators, administrators
//   DIR/admin.key, DIR/admin.key.pub    the "secretariat" administrator
//   DIR/nodeI/node.key, node.key.pub    validator I's key (I = 0..N-1)
//   DIR/nodeI/config.toml               peers: the other validators; admits the observers
//   DIR/observerJ/...                   observer J (J = 0..M-1); peers: the validators
// data_dir is DIR/<node>/data (created by the node).
// Thread-safety: CreateTestnet writes files; one call per directory at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "minetrace/base/result.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::cli {

struct TestnetOptions {
  int validators = 4;
  int observers = 0;
  std::filesystem::path out_dir;
  std::string chain_id = "minetrace-local";
  uint32_t base_port = 7000;
  uint32_t block_interval_ms = 200;
  uint32_t block_max_txs = 1000;
  uint32_t round_timeout_ms = 2000;
};

struct TestnetNode {
  std::filesystem::path dir;
  std::filesystem::path config_file;
  std::string grpc_address;
  std::string peer_address;
  crypto::PublicKey key{};
  bool validator = true;
};

struct TestnetPeer {
  crypto::PublicKey key{};
  std::string address;
};

struct Testnet {
  std::filesystem::path dir;  // absolute
  std::filesystem::path genesis_file;
  std::filesystem::path admin_key_file;
  crypto::PublicKey admin_key{};
  v1::Genesis genesis;
  std::vector<TestnetNode> nodes;  // validators first, then observers
};

// The node config TOML for one node (see the format in node/include/.../config.h): `peers`
// to connect to, and the `observers` a validator admits.
std::string NodeConfigToml(const std::filesystem::path& genesis_file,
                           const std::filesystem::path& key_file,
                           const std::filesystem::path& data_dir, const std::string& grpc_listen,
                           const std::string& peer_listen, const std::vector<TestnetPeer>& peers,
                           const std::vector<crypto::PublicKey>& observers,
                           const TestnetOptions& options);

// A TOML basic string: quoted, with backslash, quote and control characters escaped, so that
// any path can be written.
std::string TomlString(std::string_view s);

// Writes key_file (mode 0600, refusing to overwrite) and key_file + ".pub" (the public key in
// hex and a newline, refusing to overwrite too).
Result<crypto::PublicKey> WriteNewKeyPair(const std::filesystem::path& key_file);

// Creates the testnet. Refuses (kInvalidArgument) fewer than 1 or more than 100 validators
// (peer ports are base+100+I, so more would collide with gRPC ports) or ports beyond 65535,
// and (kAlreadyExists) an out_dir that exists and is not an empty directory. On failure it
// removes what it wrote, so a retry starts clean.
Result<Testnet> CreateTestnet(const TestnetOptions& options, int64_t genesis_time_ms);

}  // namespace minetrace::cli
