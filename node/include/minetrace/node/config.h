// NodeConfig is what `minetrace-node --config FILE` reads: where the genesis, key and data
// live, where to listen, and the block and mempool bounds. Written by `minetrace testnet`;
// docs/OPERATIONS.md documents every field. Relative paths are taken from the config file's
// folder.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "minetrace/base/result.h"

namespace minetrace::node {

struct NodeConfig {
  std::filesystem::path genesis_file;
  std::filesystem::path key_file;
  std::filesystem::path data_dir;
  // Where SIGUSR1 writes a checkpoint of the data (a folder per checkpoint); default: a
  // "backups" folder beside data_dir.
  std::filesystem::path backup_dir;
  std::string grpc_listen = "127.0.0.1:7000";
  std::string peer_listen = "127.0.0.1:7100";

  // Other nodes to connect to (validators, for a validator; validators, for an observer).
  // A validator dials only those with a greater key; the others dial it.
  struct Peer {
    std::string key_hex;
    std::string address;  // host:port of its peer_listen
  };
  std::vector<Peer> peers;
  // Observer keys a validator admits besides the validators (regulators, auditors).
  std::vector<std::string> observer_keys_hex;
  // [network] tls_cert_file, tls_key_file, tls_ca_file (PEM): all three set = mutual TLS 1.3
  // on every peer connection, the peer's chain verified against the CA file; all empty = plain
  // TCP. The parser refuses a partial set.
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  std::filesystem::path tls_ca_file;

  // A leader proposes as soon as txs wait (at most block_max_txs per block); with none, it
  // waits up to block_interval and then proposes an empty block, so the chain keeps moving
  // and earlier blocks commit.
  std::chrono::milliseconds block_interval{200};
  uint32_t block_max_txs = 1000;
  // Payload bytes per block at most (<= 4 MiB); a network parameter: validators refuse to
  // vote for larger blocks, so every validator must use the same value.
  uint32_t block_max_bytes = 2 << 20;
  // First round timeout of the pacemaker; must exceed block_interval.
  std::chrono::milliseconds round_timeout{2000};
  // Uncommitted blocks the consensus core keeps, and recent committed ones it serves to peers;
  // a validator further behind than this catches up by block sync.
  uint32_t max_pending_blocks = 1000;

  uint32_t mempool_max_txs = 50000;
  uint64_t mempool_max_bytes = 64ull << 20;
  uint32_t max_tx_bytes = 64 * 1024;
  uint32_t max_request_bytes = 8 << 20;
  uint32_t verify_threads = 0;  // 0 = one per core

  std::string log_level = "info";
  std::string log_file;  // empty = stderr
};

// Refuses unknown levels, zero bounds and missing paths with a message naming the field.
Result<NodeConfig> ParseNodeConfig(std::string_view toml_text,
                                   const std::filesystem::path& base_dir);
Result<NodeConfig> LoadNodeConfig(const std::filesystem::path& path);

}  // namespace minetrace::node
