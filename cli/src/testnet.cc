#include "testnet.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>
#include <vector>

#include "minetrace/base/bytes.h"
#include "format.h"
#include "minetrace/ledger/proof/genesis.h"

namespace minetrace::cli {
namespace fs = std::filesystem;
namespace {

// Creates path exclusively (O_EXCL: never replaces a file, never follows a planted symlink)
// and writes text.
Result<void> WriteNewFile(const fs::path& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return MakeError(ErrorCode::kAlreadyExists,
                       path.string() + " already exists; refusing to overwrite it");
    }
    return MakeError(ErrorCode::kInternal,
                     "cannot create " + path.string() + ": " + std::strerror(err));
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return MakeError(ErrorCode::kInternal,
                       "cannot write " + path.string() + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return MakeError(ErrorCode::kInternal,
                     "cannot write " + path.string() + ": " + std::strerror(err));
  }
  return {};
}

Result<void> MakeDirectory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directory(dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kInternal,
                     "cannot create directory " + dir.string() + ": " + ec.message());
  }
  return {};
}

// Writes the files of the testnet into dir, which exists and is empty.
Result<Testnet> WriteTestnet(const TestnetOptions& options, const fs::path& dir,
                             int64_t genesis_time_ms) {
  Testnet net;
  net.dir = dir;
  net.genesis_file = dir / "genesis.toml";
  net.admin_key_file = dir / "admin.key";
  v1::Genesis& genesis = net.genesis;
  genesis.set_chain_id(options.chain_id);
  genesis.set_genesis_time_ms(genesis_time_ms);

  auto admin = WriteNewKeyPair(net.admin_key_file);
  if (!admin) return tl::unexpected(admin.error());
  net.admin_key = *admin;
  v1::GenesisMember* admin_entry = genesis.add_administrators();
  admin_entry->set_key(std::string(admin->begin(), admin->end()));
  admin_entry->set_name("secretariat");

  // Keys first: every config names the other nodes.
  const int total = options.validators + options.observers;
  for (int i = 0; i < total; ++i) {
    TestnetNode node;
    const auto index = static_cast<uint32_t>(i);
    node.validator = i < options.validators;
    node.dir = dir / (node.validator ? "node" + std::to_string(i)
                                     : "observer" + std::to_string(i - options.validators));
    node.config_file = node.dir / "config.toml";
    node.grpc_address = "127.0.0.1:" + std::to_string(options.base_port + index);
    node.peer_address = "127.0.0.1:" + std::to_string(options.base_port + 100 + index);
    MT_TRY(MakeDirectory(node.dir));
    auto key = WriteNewKeyPair(node.dir / "node.key");
    if (!key) return tl::unexpected(key.error());
    node.key = *key;
    if (node.validator) {
      v1::GenesisValidator* v = genesis.add_validators();
      v->set_key(std::string(key->begin(), key->end()));
      v->set_name("validator-" + std::to_string(i));
      v->set_address(node.peer_address);
    }
    net.nodes.push_back(std::move(node));
  }
  for (const TestnetNode& node : net.nodes) {
    std::vector<TestnetPeer> peers;
    std::vector<crypto::PublicKey> observers;
    for (const TestnetNode& other : net.nodes) {
      if (!other.validator) observers.push_back(other.key);
      if (other.validator && other.key != node.key) peers.push_back({other.key, other.peer_address});
    }
    if (!node.validator) observers.clear();  // only validators admit observers
    MT_TRY(WriteNewFile(node.config_file,
                        NodeConfigToml(net.genesis_file, node.dir / "node.key", node.dir / "data",
                                       node.grpc_address, node.peer_address, peers, observers,
                                       options),
                        0644));
  }

  const std::string toml = ledger::proof::GenesisToToml(genesis);
  // Check the file we hand to every node the way the nodes will read it: a genesis that does
  // not load back would only be found when the first node refuses to start.
  auto reparsed = ledger::proof::ParseGenesisToml(toml);
  if (!reparsed) {
    return MakeError(ErrorCode::kInternal,
                     "the generated genesis does not parse back: " + reparsed.error().message);
  }
  if (ledger::proof::GenesisHash(*reparsed) != ledger::proof::GenesisHash(genesis)) {
    return MakeError(ErrorCode::kInternal, "the generated genesis does not round-trip");
  }
  MT_TRY(WriteNewFile(net.genesis_file, toml, 0644));
  return net;
}

}  // namespace

std::string TomlString(std::string_view s) {
  // A JSON string with every control character escaped is also a TOML basic string.
  return JsonString(s);
}

std::string NodeConfigToml(const fs::path& genesis_file, const fs::path& key_file,
                           const fs::path& data_dir, const std::string& grpc_listen,
                           const std::string& peer_listen, const std::vector<TestnetPeer>& peers,
                           const std::vector<crypto::PublicKey>& observers,
                           const TestnetOptions& options) {
  std::string t;
  t += "# node config written by `minetrace testnet`\n";
  t += "genesis_file = " + TomlString(genesis_file.string()) + "\n";
  t += "key_file = " + TomlString(key_file.string()) + "\n";
  t += "data_dir = " + TomlString(data_dir.string()) + "\n";
  t += "grpc_listen = " + TomlString(grpc_listen) + "\n";
  t += "peer_listen = " + TomlString(peer_listen) + "\n";
  t += "\n[block]\n";
  t += "max_txs = " + std::to_string(options.block_max_txs) + "\n";
  t += "interval_ms = " + std::to_string(options.block_interval_ms) + "\n";
  t += "\n[consensus]\n";
  t += "round_timeout_ms = " + std::to_string(options.round_timeout_ms) + "\n";
  t += "\n[network]\n";
  t += "observers = [";
  for (size_t i = 0; i < observers.size(); ++i) {
    t += (i ? ", " : "") + TomlString(ToHex(observers[i]));
  }
  t += "]\n";
  for (const TestnetPeer& peer : peers) {
    t += "\n[[peers]]\n";
    t += "key = " + TomlString(ToHex(peer.key)) + "\n";
    t += "address = " + TomlString(peer.address) + "\n";
  }
  t += "\n[mempool]\n";
  t += "max_txs = 50000\n";
  t += "max_bytes = 67108864\n";
  t += "\n[log]\n";
  t += "level = \"info\"\n";
  return t;
}

Result<crypto::PublicKey> WriteNewKeyPair(const fs::path& key_file) {
  const fs::path pub_file = key_file.string() + ".pub";
  std::error_code ec;
  // Check the .pub first so that a refusal leaves no new private key behind.
  if (fs::symlink_status(pub_file, ec).type() != fs::file_type::not_found) {
    return MakeError(ErrorCode::kAlreadyExists,
                     pub_file.string() + " already exists; refusing to overwrite it");
  }
  auto key = crypto::PrivateKey::Generate();
  if (!key) return tl::unexpected(key.error());
  MT_TRY(crypto::WriteKeyFile(key_file, *key));
  const crypto::PublicKey pub = key->public_key();
  if (auto written = WriteNewFile(pub_file, ToHex(pub) + "\n", 0644); !written) {
    // Keep the pair together: a private key without its .pub is removed again, since nobody
    // has seen its public key yet.
    fs::remove(key_file, ec);
    return tl::unexpected(written.error());
  }
  return pub;
}

Result<Testnet> CreateTestnet(const TestnetOptions& options, int64_t genesis_time_ms) {
  if (options.validators < 1 || options.validators > 100) {
    return MakeError(ErrorCode::kInvalidArgument, "--validators must be between 1 and 100");
  }
  if (options.observers < 0 || options.observers > 100) {
    return MakeError(ErrorCode::kInvalidArgument, "--observers must be between 0 and 100");
  }
  const uint64_t top_port = uint64_t{options.base_port} + 100 +
                            static_cast<uint64_t>(options.validators + options.observers) - 1;
  if (options.base_port == 0 || top_port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--base-port: ports base..base+N-1 and base+100..base+100+N-1 (N nodes, "
                     "validators and observers) must lie in 1..65535");
  }
  if (options.chain_id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--chain-id must not be empty");
  }
  if (options.block_interval_ms == 0 || options.block_max_txs == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--block-interval-ms and --block-max-txs must be positive");
  }
  if (options.round_timeout_ms <= options.block_interval_ms) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--round-timeout-ms must exceed --block-interval-ms");
  }

  std::error_code ec;
  const fs::path dir = fs::absolute(options.out_dir, ec).lexically_normal();
  if (ec) {
    return MakeError(ErrorCode::kInternal,
                     "cannot resolve " + options.out_dir.string() + ": " + ec.message());
  }
  const fs::file_status st = fs::symlink_status(dir, ec);
  bool created = false;
  if (st.type() == fs::file_type::not_found) {
    fs::create_directories(dir, ec);
    if (ec) {
      return MakeError(ErrorCode::kInternal,
                       "cannot create directory " + dir.string() + ": " + ec.message());
    }
    created = true;
  } else if (st.type() != fs::file_type::directory) {
    return MakeError(ErrorCode::kAlreadyExists,
                     dir.string() + " exists and is not a directory; refusing to use it");
  } else if (!fs::is_empty(dir, ec) || ec) {
    return MakeError(ErrorCode::kAlreadyExists,
                     dir.string() +
                         " exists and is not empty; refusing to write a testnet "
                         "over it (choose a new --out)");
  }

  auto net = WriteTestnet(options, dir, genesis_time_ms);
  if (!net) {
    // The directory was empty or ours, so everything in it is ours to remove.
    if (created) {
      fs::remove_all(dir, ec);
    } else {
      // Collect first: removing while iterating would invalidate the iterator.
      std::vector<fs::path> entries;
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        entries.push_back(it->path());
      }
      for (const fs::path& entry : entries) fs::remove_all(entry, ec);
    }
  }
  return net;
}

}  // namespace minetrace::cli
