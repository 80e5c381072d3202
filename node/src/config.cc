#include "minetrace/node/config.h"

#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace minetrace::node {
namespace {

std::filesystem::path Resolve(const std::filesystem::path& base, const std::string& p) {
  std::filesystem::path path(p);
  return path.is_absolute() ? path : base / path;
}

template <class T>
Result<void> ReadPositive(const toml::table& t, std::string_view table, std::string_view key,
                          T& out) {
  const toml::node* n = t.at_path(std::string(table) + "." + std::string(key)).node();
  if (n == nullptr) return {};
  auto v = n->value<int64_t>();
  // At most INT32_MAX for every field: gRPC takes sizes as int.
  if (!v || *v <= 0 || *v > std::numeric_limits<int32_t>::max() ||
      static_cast<uint64_t>(*v) > std::numeric_limits<T>::max()) {
    return MakeError(ErrorCode::kInvalidArgument, "config: [" + std::string(table) + "] " +
                                                      std::string(key) +
                                                      " must be an integer from 1 to 2147483647");
  }
  out = static_cast<T>(*v);
  return {};
}

}  // namespace

Result<NodeConfig> ParseNodeConfig(std::string_view toml_text,
                                   const std::filesystem::path& base_dir) {
  // toml++ (as Debian builds it) reports parse errors by exception; it stops here.
  toml::table t;
  try {
    t = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "config is not valid TOML: " << e.description() << " at line "
        << e.source().begin.line;
    return MakeError(ErrorCode::kInvalidArgument, msg.str());
  }
  NodeConfig c;
  for (const char* key : {"genesis_file", "key_file", "data_dir"}) {
    auto v = t[key].value<std::string>();
    if (!v || v->empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string("config: ") + key + " is missing (a path)");
    }
  }
  c.genesis_file = Resolve(base_dir, *t["genesis_file"].value<std::string>());
  c.key_file = Resolve(base_dir, *t["key_file"].value<std::string>());
  c.data_dir = Resolve(base_dir, *t["data_dir"].value<std::string>());
  auto backup_dir = t["backup_dir"].value<std::string>();
  c.backup_dir = backup_dir && !backup_dir->empty() ? Resolve(base_dir, *backup_dir)
                                                     : c.data_dir.parent_path() / "backups";
  c.grpc_listen = t["grpc_listen"].value_or(c.grpc_listen);
  c.peer_listen = t["peer_listen"].value_or(c.peer_listen);

  int64_t interval_ms = c.block_interval.count();
  MT_TRY(ReadPositive(t, "block", "interval_ms", interval_ms));
  c.block_interval = std::chrono::milliseconds(interval_ms);
  MT_TRY(ReadPositive(t, "block", "max_txs", c.block_max_txs));
  MT_TRY(ReadPositive(t, "block", "max_bytes", c.block_max_bytes));
  int64_t round_timeout_ms = c.round_timeout.count();
  MT_TRY(ReadPositive(t, "consensus", "round_timeout_ms", round_timeout_ms));
  c.round_timeout = std::chrono::milliseconds(round_timeout_ms);
  MT_TRY(ReadPositive(t, "consensus", "max_pending_blocks", c.max_pending_blocks));
  if (c.round_timeout <= c.block_interval) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "config: [consensus] round_timeout_ms must exceed [block] interval_ms, or "
                     "every idle round would time out");
  }
  if (const toml::array* peers = t["peers"].as_array()) {
    for (const toml::node& n : *peers) {
      const toml::table* p = n.as_table();
      auto key = p ? (*p)["key"].value<std::string>() : std::nullopt;
      auto address = p ? (*p)["address"].value<std::string>() : std::nullopt;
      if (!key || !address || key->size() != 64 || address->empty()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "config: each [[peers]] entry needs key (64 hex digits) and address "
                         "(host:port)");
      }
      c.peers.push_back({*key, *address});
    }
  }
  if (const toml::array* observers = t.at_path("network.observers").as_array()) {
    for (const toml::node& n : *observers) {
      auto key = n.value<std::string>();
      if (!key || key->size() != 64) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "config: [network] observers must be keys of 64 hex digits");
      }
      c.observer_keys_hex.push_back(*key);
    }
  }
  {
    // TLS between nodes: all three files or none.
    const char* kTlsKeys[] = {"tls_cert_file", "tls_key_file", "tls_ca_file"};
    std::filesystem::path* tls_paths[] = {&c.tls_cert_file, &c.tls_key_file, &c.tls_ca_file};
    int set = 0;
    for (int i = 0; i < 3; i++) {
      auto v = t.at_path(std::string("network.") + kTlsKeys[i]).value<std::string>();
      if (v && !v->empty()) {
        *tls_paths[i] = Resolve(base_dir, *v);
        set++;
      }
    }
    for (int i = 0; set != 0 && set != 3 && i < 3; i++) {
      if (!tls_paths[i]->empty()) continue;
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string("config: [network] ") + kTlsKeys[i] +
                           " is missing: TLS between nodes needs tls_cert_file, tls_key_file "
                           "and tls_ca_file (or none of them)");
    }
  }
  MT_TRY(ReadPositive(t, "mempool", "max_txs", c.mempool_max_txs));
  MT_TRY(ReadPositive(t, "mempool", "max_bytes", c.mempool_max_bytes));
  MT_TRY(ReadPositive(t, "mempool", "max_tx_bytes", c.max_tx_bytes));
  MT_TRY(ReadPositive(t, "grpc", "max_request_bytes", c.max_request_bytes));
  MT_TRY(ReadPositive(t, "verify", "threads", c.verify_threads));

  if (c.block_max_bytes > (4u << 20) || c.block_max_bytes < c.max_tx_bytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "config: [block] max_bytes must be at most 4194304 and at least [mempool] "
                     "max_tx_bytes");
  }
  if (c.max_tx_bytes > c.max_request_bytes || c.max_tx_bytes > c.mempool_max_bytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "config: [mempool] max_tx_bytes must not exceed [grpc] max_request_bytes "
                     "or [mempool] max_bytes");
  }
  c.log_level = t.at_path("log.level").value_or(c.log_level);
  static const std::set<std::string> kLevels = {"trace", "debug", "info",
                                                "warn",  "error", "critical"};
  if (!kLevels.count(c.log_level)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "config: [log] level must be trace, debug, info, warn, error or critical");
  }
  if (auto f = t.at_path("log.file").value<std::string>(); f && !f->empty()) {
    c.log_file = Resolve(base_dir, *f).string();
  }
  return c;
}

Result<NodeConfig> LoadNodeConfig(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot read config file " + path.string());
  std::stringstream buf;
  buf << in.rdbuf();
  auto c = ParseNodeConfig(buf.str(), std::filesystem::absolute(path).parent_path());
  if (!c) return MakeError(c.error().code, path.string() + ": " + c.error().message);
  return c;
}

}  // namespace minetrace::node
