// minetrace-node: the daemon. Parses flags, sets up logging, runs the Node until a signal.
#include <sys/resource.h>

#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "minetrace/base/clock.h"
#include "minetrace/node/config.h"
#include "minetrace/node/node.h"

namespace {

// The store keeps every table file open (docs/DECISIONS.md, "every table file stays open"):
// at 10^7 txs about a thousand, beyond a login shell's soft limit of 1,024 open files. Raise
// the soft limit to the hard one, as the service unit does (deploy/systemd, LimitNOFILE).
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);  // best effort: the store's open says if files run out
  }
}

int RunNode(const std::string& config_path) {
  using namespace minetrace;
  auto config = node::LoadNodeConfig(config_path);
  if (!config) {
    std::fprintf(stderr, "minetrace-node: %s\n", config.error().message.c_str());
    return 1;
  }
  std::shared_ptr<spdlog::logger> log;
  if (config->log_file.empty()) {
    log = spdlog::stderr_color_mt("node");
  } else {
    log = spdlog::basic_logger_mt("node", config->log_file);
  }
  log->set_level(spdlog::level::from_str(config->log_level));
  log->flush_on(spdlog::level::info);

  RaiseOpenFileLimit();
  SystemClock clock;
  auto n = node::Node::Create(*config, clock, log);
  if (!n) {
    std::fprintf(stderr, "minetrace-node: %s\n", n.error().ToString().c_str());
    return 1;
  }
  auto ran = (*n)->Run();
  if (!ran) {
    std::fprintf(stderr, "minetrace-node: %s\n", ran.error().ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "minetrace-node: a minetrace node. A validator (its key is in the genesis) agrees on\n"
      "blocks with the other validators (BFT); any other admitted key runs an observer that\n"
      "follows and verifies the chain. Both admit signed custody transactions, commit blocks\n"
      "to RocksDB (synced writes) and serve the gRPC API (minetrace.v1.TxService,\n"
      "QueryService, NodeService; reflection on).\n"
      "Stop it with SIGINT or SIGTERM: committed blocks are never lost.\n"
      "SIGUSR1 writes a backup checkpoint into backup_dir (docs/OPERATIONS.md).",
      "minetrace-node"};
  std::string config_path;
  app.add_option("--config", config_path, "node config file (TOML), as `minetrace testnet` writes")
      ->required();
  app.set_version_flag("--version", MINETRACE_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return RunNode(config_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "minetrace-node: unexpected error: %s\n", e.what());
    return 1;
  }
}
