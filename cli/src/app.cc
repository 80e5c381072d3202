#include "app.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <iomanip>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "batch.h"
#include "bench.h"
#include "bench_run.h"
#include "failure.h"
#include "format.h"
#include "logbook.h"
#include "minetrace/base/bytes.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/ledger/proof/genesis.h"
#include "minetrace/ledger/proof/tx.h"
#include "node_client.h"
#include "parse.h"
#include "proof_cmd.h"
#include "provenance.h"
#include "records.h"
#include "submit.h"
#include "testnet.h"
#include "tx_build.h"

#ifndef MINETRACE_VERSION
#define MINETRACE_VERSION "unknown"
#endif

namespace minetrace::cli {
namespace {

constexpr const char* kDefaultNode = "127.0.0.1:7000";
constexpr uint32_t kDefaultTimeoutMs = 10000;
// Following page tokens stops here even if a node keeps answering with new tokens.
constexpr int kMaxPages = 1'000'000;

// `minetrace status` asks every node at once, one thread each; more nodes than this is a
// mistake on the command line.
constexpr size_t kMaxStatusNodes = 1000;
constexpr uint32_t kDefaultStatusTimeoutMs = 5000;

constexpr const char* kKeyHelp = "64 hex characters, or a .pub or .key file";

constexpr const char* kRootFooter =
    "Exit status: 0 success; 1 refused or failed (the node said no, a FAILED receipt, a file\n"
    "error); 2 bad command line; 3 the node could not be reached.\n"
    "Errors are one line on stderr: minetrace: <what failed>: <code>: <message>";

// A subcommand's own footer replaces the inherited one, so each keeps the exit statuses.
std::string Footer(const std::string& text) { return text + "\n\n" + kRootFooter; }

// Options shared by every `tx <action>`.
struct TxOptions {
  std::string key_file;
  std::string node = kDefaultNode;
  std::string chain_id;
  std::optional<int64_t> created_at_ms;
  std::optional<uint64_t> nonce;
  bool wait = false;
  uint32_t timeout_ms = kDefaultTimeoutMs;
  bool json = false;
  bool offline = false;
  std::string out_file;  // the batch file an offline tx is appended to
};

// `submit-batch` and `import-logbook`.
struct BatchOptions {
  std::string file;  // the batch file, or the logbook CSV
  std::string node = kDefaultNode;
  bool wait = false;
  uint32_t timeout_ms = kDefaultTimeoutMs;
  bool json = false;
  // import-logbook
  std::string key_file;
  std::string chain_id;
  bool offline = false;
  std::string out_file;
};

constexpr const char* kBatchFormatHelp =
    "Batch file format: a sequence of records, each a 4-byte big-endian length N and then N\n"
    "bytes, a serialized minetrace.v1.SignedTx; no header. Records are only appended (the\n"
    "file is locked, checked, written in one go and fsynced); a damaged file is refused, and\n"
    "a truncated last record is reported with its number.";

constexpr const char* kSubmitResultHelp =
    "Each tx is reported: OK or FAILED with its height (committed; FAILED means a domain rule\n"
    "refused it at execution, with the reason), refused (the node did not admit it; its code\n"
    "and message), or pending (admitted, not committed yet). \"(already)\": the node had the\n"
    "tx before this upload (resubmitting is harmless; nothing happens twice).";

// Exit status of an upload: with --wait, success only when every tx committed OK; without,
// when no tx was refused or FAILED (admitted ones may still be pending).
CommandResult<> UploadVerdict(const std::vector<BatchTxResult>& results, bool wait,
                              const std::string& what) {
  const BatchCounts c = CountResults(results);
  const size_t bad = c.failed + c.refused + (wait ? c.pending : 0);
  if (bad == 0) return {};
  return Fail(ExitCode::kFailed, what, "FAILED",
              std::to_string(bad) + " of " + std::to_string(results.size()) +
                  " txs not committed OK: " + CountLine(c, results.size()));
}

struct QueryOptions {
  std::string node = kDefaultNode;
  uint32_t timeout_ms = kDefaultTimeoutMs;
  bool json = false;
  // Positional argument of the chosen query (lot id, site id, key, tx id).
  std::string subject;
  // `lots` and `sites`.
  std::string holder;
  std::string site;
  std::string status;
  std::string country;
  uint32_t page_size = 0;
  std::string page_token;
  bool all = false;
  // `proof`.
  std::string out_file;
  // `provenance`.
  bool shipment = false;
  std::string format = "tree";
  // `incidents`, `flags`, `shipments`, `production`.
  std::string subject_kind;  // `incidents --subject`
  std::string subject_id;
  uint32_t level = 0;
  std::string category;
  bool open_only = false;
  std::string kind;
  std::string lot;
  std::string member;
  std::string from;
  std::string to;
};

struct BenchOptions {
  std::vector<std::string> nodes;
  std::string net_dir;
  std::string admin_key_file;
  std::string workload = "mine-lots";
  std::optional<double> rate;
  std::optional<size_t> in_flight;
  std::optional<double> duration_s;
  std::optional<size_t> txs;
  double warmup_s = 0;
  size_t keys = 30;
  size_t presign = 0;
  size_t batch = 200;
  double drain_s = 30;
  std::optional<uint64_t> seed;
  uint32_t timeout_ms = kDefaultTimeoutMs;
  std::string json_file;
};

struct StatusOptions {
  std::vector<std::string> nodes;
  std::string net_dir;
  uint32_t timeout_ms = kDefaultStatusTimeoutMs;
  bool json = false;
};

// Prints rendered JSON and a newline.
CommandResult<> PrintJson(std::ostream& out, const Result<std::string>& json, std::string what) {
  if (!json) return LocalFailure(std::move(what), json.error());
  out << *json << '\n';
  return {};
}

// An error from a command-line value: a malformed value is a usage error (exit 2); a key file
// that is missing or unreadable is a failed operation (exit 1), like any other file error.
tl::unexpected<Failure> ArgumentFailure(std::string what, const Error& error) {
  if (error.code == ErrorCode::kInvalidArgument) return UsageFailure(std::move(what), error);
  return LocalFailure(std::move(what), error);
}

class Cli {
 public:
  explicit Cli(const Env& env) : env_(env) {}
  Cli(const Cli&) = delete;
  Cli& operator=(const Cli&) = delete;

  int Run(int argc, const char* const argv[]) {
    CLI::App app(
        "minetrace: client of a minetrace ledger, the chain of custody of tin, "
        "tantalum and tungsten (3T) minerals",
        "minetrace");
    Define(app);
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e, env_.out, env_.err);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e, env_.out, env_.err);
    } catch (const CLI::CallForVersion& e) {
      return app.exit(e, env_.out, env_.err);
    } catch (const CLI::ParseError& e) {
      Failure f{ExitCode::kUsage, "command line", e.get_name(),
                std::string(e.what()) + " (see --help)"};
      env_.err << f.Line() << '\n';
      return static_cast<int>(ExitCode::kUsage);
    }
    if (!command_) {
      // require_subcommand makes this unreachable; say so rather than exit 0 silently.
      env_.err << "minetrace: command line: RequiredError: no command given (see --help)\n";
      return static_cast<int>(ExitCode::kUsage);
    }
    CommandResult<> result = command_();
    env_.out.flush();
    if (!result) {
      env_.err << result.error().Line() << '\n';
      return static_cast<int>(result.error().exit_code);
    }
    return static_cast<int>(ExitCode::kOk);
  }

 private:
  void Define(CLI::App& app) {
    app.require_subcommand(1);
    app.footer(kRootFooter);
    app.set_version_flag("--version", "minetrace " MINETRACE_VERSION);
    DefineKeys(app);
    DefineTestnet(app);
    DefineTx(app);
    DefineQuery(app);
    DefineStatus(app);
    DefineSubmitBatch(app);
    DefineImportLogbook(app);
    DefineProof(app);
    DefineBench(app);
  }

  // ---- bench (issue 7): the load generator ----

  void DefineBench(CLI::App& app) {
    CLI::App* sub = app.add_subcommand(
        "bench",
        "Load generator: signed custody txs at a rate or N in flight; committed tx/s and "
        "commit latency");
    sub->footer(
        "Setup (not timed): with the administrator's key, registers the members the load needs\n"
        "(--keys: a third agents, a third cooperatives, a third processors), one mine site per\n"
        "agent and the tags the load will use, and waits until every node has them. Then every\n"
        "load tx is signed before the clock starts (--presign; default --txs, or rate x (warmup\n"
        "+ duration), or 50000 for a closed loop with --duration).\n"
        "Workloads: mine-lots (independent record-lot txs, each a fresh tag); custody (chains of\n"
        "six txs: two mine lots, dispatch to a processor, receive, merge, split; a step is sent\n"
        "only once the step before committed OK, so none fails for ordering); mixed (half the\n"
        "txs each). Load unit k goes to node k mod n (--node order; --net: DIR's validators).\n"
        "Open loop (--rate): txs leave in SubmitTxs batches (--batch) every 2 ms to keep up with\n"
        "the rate; latency runs from the moment a tx was due. Closed loop (--in-flight N): a new\n"
        "tx goes as soon as one of the N commits or is rejected.\n"
        "A tx counts as committed when the WatchCommits stream of the node it was sent to shows\n"
        "it; latency is measured for txs sent after --warmup, committed tx/s over the commits\n"
        "seen after the warmup until sending stops (--duration) or the last commit (--txs).\n"
        "A progress line goes to stderr every second; the summary to stdout (text), and as JSON\n"
        "to --json FILE (\"-\": JSON to stdout instead of the text).\n"
        "Exit status: 0 the run completed (rejects and FAILED receipts are in the summary);\n"
        "1 setup did not commit or a commit stream broke; 2 bad command line; 3 a node could\n"
        "not be reached.");
    CLI::Option* node = sub->add_option(
        "--node", bench_.nodes, "Node gRPC address host:port; repeatable (default 127.0.0.1:7000)");
    CLI::Option* net = sub->add_option(
        "--net", bench_.net_dir,
        "Network folder (as `minetrace testnet` writes): its validators, and DIR/admin.key");
    node->excludes(net);
    sub->add_option("--admin-key", bench_.admin_key_file,
                    "Administrator's private key file (default with --net: DIR/admin.key)");
    sub->add_option("--workload", bench_.workload, "mine-lots, custody or mixed")
        ->capture_default_str()
        ->check(CLI::IsMember({"mine-lots", "custody", "mixed"}));
    CLI::Option* rate =
        sub->add_option("--rate", bench_.rate, "Open loop: txs per second")
            ->check(CLI::Range(0.1, 1'000'000.0));
    CLI::Option* in_flight =
        sub->add_option("--in-flight", bench_.in_flight, "Closed loop: txs in flight")
            ->check(CLI::Range(size_t{1}, size_t{1'000'000}));
    rate->excludes(in_flight);
    CLI::Option* duration =
        sub->add_option("--duration", bench_.duration_s, "Seconds of load after the warmup")
            ->check(CLI::Range(0.1, 86'400.0));
    CLI::Option* txs = sub->add_option("--txs", bench_.txs, "Or a number of load txs to send")
                           ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
    duration->excludes(txs);
    sub->add_option("--warmup", bench_.warmup_s,
                    "Seconds of load before measuring (their txs are not measured)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 3600.0));
    sub->add_option("--keys", bench_.keys, "Member keys of the load (3 to 30000)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{3}, kMaxBenchKeys));
    sub->add_option("--presign", bench_.presign, "Load txs to sign before the clock starts")
        ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
    sub->add_option("--batch", bench_.batch, "At most this many txs per SubmitTxs call")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{1000}));
    sub->add_option("--drain", bench_.drain_s,
                    "Seconds to wait for commits after the last send (and, with --txs, the "
                    "longest wait for any commit before giving up)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 3600.0));
    sub->add_option("--seed", bench_.seed,
                    "Seed of the run's member keys and tag series (default random; a seed "
                    "already used on the network makes setup fail with ALREADY_EXISTS)");
    sub->add_option("--timeout-ms", bench_.timeout_ms, "Deadline of each unary call (ms)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 3'600'000u));
    sub->add_option("--json", bench_.json_file,
                    "Write the summary as JSON to FILE (\"-\": to stdout, instead of the text)");
    On(sub, [this] { return RunBench(); });
  }

  CommandResult<> RunBench() {
    if (bench_.rate.has_value() == bench_.in_flight.has_value()) {
      return Fail(ExitCode::kUsage, "bench", "INVALID_ARGUMENT",
                  "give exactly one of --rate (open loop) and --in-flight (closed loop)");
    }
    if (bench_.duration_s.has_value() == bench_.txs.has_value()) {
      return Fail(ExitCode::kUsage, "bench", "INVALID_ARGUMENT",
                  "give exactly one of --duration and --txs");
    }
    BenchConfig config;
    std::string admin_key_file = bench_.admin_key_file;
    if (!bench_.net_dir.empty()) {
      auto nodes = FindNetworkNodes(bench_.net_dir);
      if (!nodes) return LocalFailure("bench --net " + bench_.net_dir, nodes.error());
      // Validators only: observers forward to them, and follow rather than order.
      for (const NetworkNode& n : *nodes) {
        if (n.name.rfind("node", 0) == 0) config.nodes.push_back(n.grpc_address);
      }
      if (config.nodes.empty()) {
        return Fail(ExitCode::kFailed, "bench --net " + bench_.net_dir, "NOT_FOUND",
                    "no validator folder (node0, node1, ...) in the network folder");
      }
      if (admin_key_file.empty()) {
        admin_key_file = (std::filesystem::path(bench_.net_dir) / "admin.key").string();
      }
    } else {
      config.nodes = bench_.nodes.empty() ? std::vector<std::string>{kDefaultNode} : bench_.nodes;
    }
    if (admin_key_file.empty()) {
      return Fail(ExitCode::kUsage, "bench", "INVALID_ARGUMENT",
                  "give --admin-key (setup registers members as the administrator) or --net");
    }
    auto admin = crypto::ReadKeyFile(admin_key_file);
    if (!admin) return ArgumentFailure("bench --admin-key " + admin_key_file, admin.error());
    config.admin = *admin;
    config.workload = *ParseWorkload(bench_.workload);  // CLI11 checked the name
    config.rate = bench_.rate;
    config.in_flight = bench_.in_flight;
    config.duration_s = bench_.duration_s;
    config.txs = bench_.txs;
    config.warmup_s = bench_.warmup_s;
    config.keys = bench_.keys;
    config.presign = bench_.presign;
    config.max_batch = bench_.batch;
    config.drain_s = bench_.drain_s;
    config.seed = bench_.seed ? *bench_.seed : env_.random_u64();
    config.timeout = std::chrono::milliseconds(bench_.timeout_ms);

    auto summary = cli::RunBench(config, env_.clock, env_.err, env_.err_is_terminal,
                                 env_.random_u64);
    if (!summary) return tl::unexpected(summary.error());
    const std::string json = BenchSummaryJson(*summary);
    if (bench_.json_file == "-") {
      env_.out << json << '\n';
      return {};
    }
    PrintBenchSummary(env_.out, *summary);
    if (!bench_.json_file.empty()) {
      std::ofstream file(bench_.json_file, std::ios::trunc);
      file << json << '\n';
      file.close();
      if (!file) {
        return Fail(ExitCode::kFailed, "bench --json " + bench_.json_file, "INTERNAL",
                    "cannot write the file");
      }
    }
    return {};
  }

  // ---- proof (issue 6): provenance proof bundles ----

  void DefineProof(CLI::App& app) {
    CLI::App* proof = app.add_subcommand(
        "proof", "Provenance proof bundles: fetch one from a node, verify one offline");
    proof->require_subcommand(1);
    proof_get_.node = kDefaultNode;
    proof_get_.timeout_ms = kDefaultTimeoutMs;
    CLI::App* get = proof->add_subcommand(
        "get", "Write the proof bundle of a lot or shipment (its whole upstream graph) to a file");
    get->add_option("ID", proof_get_.id, "Lot id, or shipment id with --shipment")->required();
    get->add_flag("--shipment", proof_get_.shipment, "ID is a shipment id");
    get->add_option("--out", proof_get_.out_file, "File to write the binary bundle to")
        ->required();
    get->add_option("--node", proof_get_.node, "Node gRPC address host:port")
        ->capture_default_str();
    get->add_option("--timeout-ms", proof_get_.timeout_ms, "Deadline of the call (ms)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 3'600'000u));
    On(get, [this] { return ProofGet(env_, proof_get_); });

    CLI::App* verify = proof->add_subcommand(
        "verify", "Check a proof bundle offline against a trusted genesis; exit 0 only if valid");
    verify->footer(Footer(
        "Checks every tx signature, every receipt's tx id, every inclusion path into the\n"
        "certified ledger root, the QC (2f+1 distinct trusted validators), the backward lot\n"
        "links down to the mine lots, custody continuity and mass balance. Prints the\n"
        "provenance tree and one verdict line (VERIFIED or NOT VERIFIED); --json for machines."));
    verify->add_option("FILE", proof_verify_.file, "The bundle file (from proof get)")
        ->required();
    verify->add_option("--trust", proof_verify_.trust, "The genesis TOML file to trust")
        ->required();
    verify->add_flag("--json", proof_verify_.json, "One JSON object instead of the tree");
    On(verify, [this] { return ProofVerify(env_, proof_verify_); });

    proof_consistency_get_.node = kDefaultNode;
    proof_consistency_get_.timeout_ms = kDefaultTimeoutMs;
    CLI::App* cget = proof->add_subcommand(
        "consistency-get",
        "Write a consistency bundle (two certified ledger roots and the path between them)");
    cget->add_option("--from-block", proof_consistency_get_.from_block,
                     "Block whose certified root comes first (0 = head)");
    cget->add_option("--to-block", proof_consistency_get_.to_block,
                     "Block whose certified root comes second (0 = head)");
    cget->add_option("--from-bundle", proof_consistency_get_.from_bundle,
                     "A provenance bundle file: its certified root comes first");
    cget->add_option("--out", proof_consistency_get_.out_file, "File to write the bundle to")
        ->required();
    cget->add_option("--node", proof_consistency_get_.node, "Node gRPC address host:port")
        ->capture_default_str();
    cget->add_option("--timeout-ms", proof_consistency_get_.timeout_ms, "Deadline of the call (ms)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 3'600'000u));
    On(cget, [this] { return ProofConsistencyGet(env_, proof_consistency_get_); });

    CLI::App* consistency = proof->add_subcommand(
        "consistency",
        "Check offline that a later certified ledger root extends an earlier one; exit 0 only "
        "if it does");
    consistency->footer(Footer(
        "Checks both QCs (2f+1 distinct trusted validators) and the RFC 9162 consistency path\n"
        "from the first root to the second: every receipt certified by the first is still in\n"
        "the second, unchanged and in place. With --bundle, the first root must also be the\n"
        "root of that provenance bundle (the one you kept)."));
    consistency->add_option("FILE", proof_consistency_.file,
                            "The consistency bundle file (from proof consistency-get)")
        ->required();
    consistency->add_option("--trust", proof_consistency_.trust, "The genesis TOML file to trust")
        ->required();
    consistency->add_option("--bundle", proof_consistency_.bundle,
                            "A provenance bundle whose root must be the first root");
    On(consistency, [this] { return ProofConsistency(env_, proof_consistency_); });
  }

  // Sets the command to run after parsing. CLI11 calls this when `sub` was given.
  void On(CLI::App* sub, std::function<CommandResult<>()> command) {
    sub->callback([this, command = std::move(command)] { command_ = command; });
  }

  // ---- keys ----

  void DefineKeys(CLI::App& app) {
    CLI::App* keys = app.add_subcommand("keys", "Create and show BIP340 (secp256k1) keys");
    keys->require_subcommand(1);

    CLI::App* make = keys->add_subcommand(
        "new",
        "Create a private key file (mode 0600) and FILE.pub (its x-only public key in hex); "
        "print the public key. Refuses to overwrite either file.");
    make->add_option("--out", key_out_, "Private key file to create, e.g. alice.key")->required();
    On(make, [this] { return KeysNew(); });

    CLI::App* show = keys->add_subcommand(
        "show", "Print the public key (64 hex characters) of a .key or .pub file");
    show->add_option("FILE", key_out_, "A private key file (.key) or public key file (.pub)")
        ->required();
    On(show, [this] { return KeysShow(); });
  }

  CommandResult<> KeysNew() {
    auto pub = WriteNewKeyPair(key_out_);
    if (!pub) return LocalFailure("keys new " + key_out_, pub.error());
    env_.out << ToHex(*pub) << '\n';
    return {};
  }

  CommandResult<> KeysShow() {
    auto pub = ReadPublicKeyFromFile(key_out_);
    if (!pub) return LocalFailure("keys show " + key_out_, pub.error());
    env_.out << ToHex(*pub) << '\n';
    return {};
  }

  // ---- testnet ----

  void DefineTestnet(CLI::App& app) {
    CLI::App* net = app.add_subcommand(
        "testnet", "Create keys, genesis and node configs of a local network on 127.0.0.1");
    net->footer(Footer(
        "Writes DIR/genesis.toml; DIR/admin.key and admin.key.pub (the founding administrator\n"
        "\"secretariat\"); for each validator I = 0..N-1, DIR/nodeI/node.key, node.key.pub and\n"
        "DIR/nodeI/config.toml; for each observer J = 0..M-1 the same under DIR/observerJ.\n"
        "Node K (validators first) serves gRPC on 127.0.0.1:BASE+K and peers on\n"
        "127.0.0.1:BASE+100+K, with its data in its folder's data/. Validators connect to each\n"
        "other and admit the observers; observers connect to the validators.\n"
        "Start a node with: minetrace-node --config DIR/nodeI/config.toml"));
    net->add_option("--validators", testnet_.validators, "Number of validators (1..100)")
        ->required()
        ->check(CLI::Range(1, 100));
    net->add_option("--observers", testnet_.observers,
                    "Number of observer nodes (0..100): follow and verify, never vote")
        ->capture_default_str()
        ->check(CLI::Range(0, 100));
    net->add_option("--out", testnet_.out_dir,
                    "Directory to create; refused if it exists and is not empty")
        ->required();
    net->add_option("--chain-id", testnet_.chain_id, "Chain id written into the genesis")
        ->capture_default_str();
    net->add_option("--base-port", testnet_.base_port,
                    "First gRPC port; peer ports start at BASE+100")
        ->capture_default_str()
        ->check(CLI::Range(1, 65535));
    net->add_option("--block-interval-ms", testnet_.block_interval_ms,
                    "How long an idle leader waits (ms) before proposing an empty block")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    net->add_option("--block-max-txs", testnet_.block_max_txs, "At most this many txs per block")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    net->add_option("--round-timeout-ms", testnet_.round_timeout_ms,
                    "First consensus round timeout (ms); must exceed --block-interval-ms")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    On(net, [this] { return RunTestnet(); });
  }

  CommandResult<> RunTestnet() {
    auto net = CreateTestnet(testnet_, env_.clock.NowUnixMs());
    if (!net) {
      const std::string what = "testnet --out " + testnet_.out_dir.string();
      return ArgumentFailure(what, net.error());
    }
    std::ostream& out = env_.out;
    out << "testnet " << net->genesis.chain_id() << " with " << testnet_.validators
        << " validator" << (testnet_.validators == 1 ? "" : "s") << " and " << testnet_.observers
        << " observer" << (testnet_.observers == 1 ? "" : "s") << " in " << net->dir.string()
        << "\n";
    out << "genesis      " << net->genesis_file.string() << " (hash "
        << ToHex(ledger::proof::GenesisHash(net->genesis)) << ")\n";
    out << "admin key    " << net->admin_key_file.string() << " (secretariat, public key "
        << ToHex(net->admin_key) << ")\n";
    for (size_t i = 0; i < net->nodes.size(); ++i) {
      const TestnetNode& node = net->nodes[i];
      out << std::left << std::setw(13) << node.dir.filename().string() << "grpc "
          << node.grpc_address << "  peer " << node.peer_address << "  key " << ToHex(node.key)
          << "\n";
    }
    out << "start each node with: minetrace-node --config " << (net->dir / "<node>").string()
        << "/config.toml\n";
    return {};
  }

  // ---- tx ----

  void DefineTx(CLI::App& app) {
    CLI::App* tx =
        app.add_subcommand("tx", "Sign a transaction with --key and submit it to a node");
    tx->footer(Footer(
        "Prints the tx id (hex). With --wait, also the receipt: \"OK height H\" or\n"
        "\"FAILED: reason (height H)\" and its anomalies; a FAILED receipt exits with status 1.\n"
        "With --offline --out FILE --chain-id C: no node is contacted; the signed tx (device\n"
        "time = now, or --created-at-ms) is appended to FILE and \"appended to FILE (record N)\"\n"
        "is printed after the tx id.\n" +
        std::string(kBatchFormatHelp)));
    tx->require_subcommand(1);
    for (const TxActionInfo& info : AllTxActions()) {
      CLI::App* sub = tx->add_subcommand(std::string(info.command), std::string(info.description));
      AddTxActionOptions(sub, info.action);
      AddTxCommonOptions(sub);
      const TxActionInfo chosen = info;
      On(sub, [this, chosen] { return RunTx(chosen); });
    }
  }

  void AddTxCommonOptions(CLI::App* sub) {
    sub->add_option("--key", tx_.key_file, "Signer's private key file (.key, mode 0600)")
        ->required();
    sub->add_option("--node", tx_.node, "Node gRPC address host:port")->capture_default_str();
    sub->add_option("--chain-id", tx_.chain_id,
                    "Chain id to sign for (default: the node's, from its Status)");
    sub->add_option_function<int64_t>(
        "--created-at-ms", [this](const int64_t& v) { tx_.created_at_ms = v; },
        "Device time of signing, Unix ms (default: now)");
    sub->add_option_function<uint64_t>(
        "--nonce", [this](const uint64_t& v) { tx_.nonce = v; },
        "Nonce making the body unique (default: random 64-bit)");
    sub->add_flag("--wait", tx_.wait,
                  "Wait for the commit; print the receipt status (OK / FAILED: reason) and "
                  "height");
    sub->add_option("--timeout-ms", tx_.timeout_ms,
                    "Deadline of each call to the node, and how long --wait waits (ms)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 3'600'000u));
    sub->add_flag("--json", tx_.json,
                  "Print {\"txId\":hex} (and \"receipt\" with --wait, or \"file\" and "
                  "\"record\" with --offline) as JSON");
    sub->add_flag("--offline", tx_.offline,
                  "Sign without a node and append the signed tx to the batch file --out (needs "
                  "--chain-id); upload it later with `minetrace submit-batch`");
    sub->add_option("--out", tx_.out_file, "With --offline: the batch file to append to");
  }

  void AddTxActionOptions(CLI::App* sub, TxAction action) {
    TxArgs& a = tx_args_;
    switch (action) {
      case TxAction::kRegisterMember:
        sub->add_option("--member", a.member, std::string("Member's public key: ") + kKeyHelp)
            ->required();
        sub->add_option("--name", a.name, "Member's name, e.g. the company")->required();
        sub->add_option("--role", a.roles,
                        "Role, repeatable: administrator, regulator, agent, cooperative, "
                        "trader, processor, exporter, certifier, smelter")
            ->required();
        sub->add_option("--country", a.country, "ISO 3166-1 alpha-2 country code, e.g. CD");
        break;
      case TxAction::kSuspendMember:
        sub->add_option("--member", a.member, std::string("Member's public key: ") + kKeyHelp)
            ->required();
        sub->add_option("--reason", a.reason, "Why the member is suspended")->required();
        break;
      case TxAction::kReinstateMember:
        sub->add_option("--member", a.member, std::string("Member's public key: ") + kKeyHelp)
            ->required();
        sub->add_option("--reason", a.reason, "Why the suspension ends");
        break;
      case TxAction::kRegisterSite:
        sub->add_option("--site-id", a.site_id,
                        "Site id, e.g. CD-SK-0042 (letters, digits, '-', '_', '.')")
            ->required();
        sub->add_option("--name", a.name, "Site name")->required();
        sub->add_option("--country", a.country, "ISO 3166-1 alpha-2 country code, e.g. CD")
            ->required();
        sub->add_option("--lat", a.latitude,
                        "Latitude in decimal degrees, up to 6 decimals, e.g. -1.5 (with --lon)");
        sub->add_option("--lon", a.longitude,
                        "Longitude in decimal degrees, up to 6 decimals (with --lat)");
        sub->add_option("--mineral", a.minerals,
                        "Declared mineral, repeatable: cassiterite, wolframite, coltan")
            ->required();
        sub->add_option("--status", a.site_status, "ICGLR status: green, yellow, red or blue")
            ->required();
        sub->add_option("--estimate-kg-per-month", a.estimate_kg_per_month,
                        "Production estimate (capacity), kg per month")
            ->required();
        break;
      case TxAction::kAllocateTags:
        sub->add_option("--kind", a.tag_kind,
                        "mine (default: tags for one site, to an agent) or processor (tags for "
                        "the lots a processor makes; no --site-id)");
        sub->add_option("--site-id", a.site_id, "Site the mine tags are for");
        sub->add_option("--agent", a.agent,
                        std::string("Agent's (mine tags) or processor's (processor tags) public "
                                    "key: ") +
                            kKeyHelp)
            ->required();
        sub->add_option("--prefix", a.prefix, "Tag id prefix; ids are PREFIX + 7 digits")
            ->required();
        sub->add_option("--first", a.first, "Number of the first tag")->required();
        sub->add_option("--count", a.count, "Number of tags (1..10000)")
            ->required()
            ->check(CLI::Range(1u, 10000u));
        break;
      case TxAction::kRecordLot:
        sub->add_option("--tag", a.tag, "Tag attached to the bag; becomes the lot id")->required();
        sub->add_option("--site-id", a.site_id, "Mine site")->required();
        sub->add_option("--mineral", a.mineral, "cassiterite, wolframite or coltan")->required();
        sub->add_option("--weight-kg", a.weight_kg, "Weight in kg, up to 3 decimals, e.g. 25.3")
            ->required();
        sub->add_option("--grade-percent", a.grade_percent,
                        "Grade in percent, up to 2 decimals, e.g. 45.5")
            ->required();
        sub->add_option(
               "--producer", a.producer,
               std::string("Producing cooperative's public key (the first holder): ") + kKeyHelp)
            ->required();
        break;
      case TxAction::kDispatch:
        sub->add_option("--lot", a.lots, "Lot id, repeatable")->required();
        sub->add_option("--to", a.to, std::string("Receiver's public key: ") + kKeyHelp)
            ->required();
        sub->add_option("--note", a.note, "Delivery note");
        break;
      case TxAction::kReceive:
        sub->add_option("--lot", a.lots,
                        "LOT_ID:WEIGHT_KG as weighed on receipt (kg, up to 3 decimals), "
                        "repeatable, e.g. T0000012:25.1")
            ->required();
        break;
      case TxAction::kCancelDispatch:
        sub->add_option("--lot", a.lots, "Lot id in transit, repeatable")->required();
        sub->add_option("--reason", a.reason, "Why the dispatch is cancelled");
        break;
      case TxAction::kRecordInspection:
        sub->add_option("--site-id", a.site_id, "Inspected mine site")->required();
        sub->add_option("--date", a.date,
                        "Inspection date, UTC: 2026-03-01 or 2026-03-01T09:30:00Z")
            ->required();
        sub->add_option("--result", a.result, "green, yellow or red: the site's new status")
            ->required();
        sub->add_option("--inspector", a.inspector,
                        "Who inspected (names or mission id), 1..200 characters")
            ->required();
        sub->add_option("--report-hash", a.report_hash,
                        "SHA-256 of the inspection report, 64 hex characters");
        sub->add_option("--report", a.report_file,
                        "The inspection report file; its SHA-256 is signed (instead of "
                        "--report-hash)");
        sub->add_option("--summary", a.summary, "Summary, at most 1000 characters");
        break;
      case TxAction::kSetSiteStatus:
        sub->add_option("--site-id", a.site_id, "Mine site")->required();
        sub->add_option("--status", a.site_status,
                        "green, yellow or red (blue is a lapse derived from time)")
            ->required();
        sub->add_option("--reason", a.reason, "Why, 1..1000 characters")->required();
        break;
      case TxAction::kReportTags:
        sub->add_option("--tag", a.tags, "Unused tag id, repeatable (1..1000)")->required();
        sub->add_option("--status", a.tag_status, "lost or void")->required();
        sub->add_option("--reason", a.reason, "What happened to the tags")->required();
        break;
      case TxAction::kWithdrawTags:
        sub->add_option("--site-id", a.site_id, "Mine site whose unused tags are withdrawn")
            ->required();
        sub->add_option("--reason", a.reason, "Why (the sanction or finding)")->required();
        break;
      case TxAction::kRestoreTags:
        sub->add_option("--site-id", a.site_id, "Mine site")->required();
        sub->add_option("--reason", a.reason, "Why the withdrawal ends")->required();
        break;
      case TxAction::kProcess:
        sub->add_option("--kind", a.processing_kind,
                        "merge (1..1000 input lots of one mineral into 1..100 lots, output <= "
                        "input) or split (1 input into 2..100 lots, same total weight)")
            ->required();
        sub->add_option("--input", a.inputs, "Input lot id you hold, repeatable")->required();
        sub->add_option("--output", a.outputs,
                        "TAG_ID:WEIGHT_KG:GRADE_PERCENT of a new lot, repeatable, e.g. "
                        "P0000001:120.5:62.25 (an unused processor tag of yours)")
            ->required();
        sub->add_option("--note", a.note, "Note, e.g. the batch or plant run");
        break;
      case TxAction::kFormShipment:
        sub->add_option("--shipment-id", a.shipment_id,
                        "New shipment id (letters, digits, '-', '_', '.'), e.g. EXP-2026-001")
            ->required();
        sub->add_option("--lot", a.lots, "Lot id you hold, repeatable (1..1000, one mineral)")
            ->required();
        sub->add_option("--destination", a.destination,
                        "Destination country, ISO 3166-1 alpha-2, e.g. MY")
            ->required();
        sub->add_option("--note", a.note, "Note");
        break;
      case TxAction::kReviewShipment: {
        CLI::Option* issue =
            sub->add_flag("--issue", a.issue, "Issue the certificate (with --certificate, --date)");
        CLI::Option* refuse =
            sub->add_flag("--refuse", a.refuse, "Refuse the certificate (with --reason)");
        issue->excludes(refuse);
        sub->add_option("--shipment-id", a.shipment_id, "Shipment to review")->required();
        sub->add_option("--certificate", a.certificate,
                        "ICGLR certificate number, unique on the ledger");
        sub->add_option("--date", a.date, "Certificate date, UTC: 2026-03-01");
        sub->add_option("--reason", a.reason, "Why the certificate is refused");
        break;
      }
      case TxAction::kDispatchShipment:
        sub->add_option("--shipment-id", a.shipment_id, "Certified shipment")->required();
        sub->add_option("--smelter", a.smelter, std::string("Smelter's public key: ") + kKeyHelp)
            ->required();
        break;
      case TxAction::kReceiveShipment:
        sub->add_option("--shipment-id", a.shipment_id, "Shipment dispatched to you")
            ->required();
        sub->add_option("--weight-kg", a.weight_kg,
                        "Weight found, kg with up to 3 decimals, e.g. 5012.5")
            ->required();
        break;
      case TxAction::kCancelShipment:
        sub->add_option("--shipment-id", a.shipment_id, "Shipment not yet dispatched")
            ->required();
        sub->add_option("--reason", a.reason, "Why it is dissolved")->required();
        break;
      case TxAction::kReportIncident:
        sub->add_option("--subject", a.subject, "What the incident is about: site, lot, member, tag")
            ->required();
        sub->add_option("--subject-id", a.subject_id,
                        std::string("Site, lot or tag id; for a member its key: ") + kKeyHelp)
            ->required();
        sub->add_option("--category", a.category, "One of: " + IncidentCategoryNames())
            ->required();
        sub->add_option("--level", a.level,
                        "1 (serious: blocks exports of everything derived from the subject "
                        "while open), 2 or 3")
            ->required()
            ->check(CLI::Range(1u, 3u));
        sub->add_option("--description", a.description, "What happened, 1..4000 characters")
            ->required();
        sub->add_option("--occurred-at", a.occurred_at,
                        "When it happened, UTC: 2026-03-01 or 2026-03-01T09:30:00Z");
        sub->add_option("--source", a.source, "field, hotline, anomaly, audit or other");
        sub->add_option("--flag", a.flag_id,
                        "The flag (FLG-...) this incident is opened from (source anomaly)");
        break;
      case TxAction::kUpdateIncident:
        sub->add_option("--incident", a.incident_id, "Incident id, e.g. INC-0000001")
            ->required();
        sub->add_option("--status", a.incident_status,
                        "Regulator: under-mitigation, resolved (with --outcome) or closed");
        sub->add_option("--outcome", a.outcome, "With --status resolved: " + IncidentOutcomeNames());
        sub->add_option("--level", a.level, "Regulator: reclassify to level 1, 2 or 3")
            ->check(CLI::Range(1u, 3u));
        sub->add_option("--category", a.category, "Regulator: reclassify (a category name)");
        sub->add_option("--note", a.note,
                        "A note, at most 4000 characters (required when nothing else changes)");
        break;
      case TxAction::kSetAuditFlag:
        sub->add_option("--member", a.member, std::string("Exporter's public key: ") + kKeyHelp)
            ->required();
        sub->add_option("--flag", a.audit_flag, "green, yellow or red (red blocks exports)")
            ->required();
        sub->add_option("--reason", a.reason, "Why (the audit and its finding)")->required();
        break;
    }
  }

  // The flags of offline signing go together; a usage error otherwise.
  static CommandResult<> CheckOfflineFlags(const std::string& command, bool offline,
                                           const std::string& out_file,
                                           const std::string& chain_id, bool wait) {
    auto usage = [&](const std::string& message) {
      return Fail(ExitCode::kUsage, command, "INVALID_ARGUMENT", message);
    };
    if (!offline) {
      if (!out_file.empty()) return usage("--out goes with --offline");
      return {};
    }
    if (out_file.empty()) return usage("--offline needs --out FILE, the batch file to append to");
    if (chain_id.empty()) {
      return usage("--offline needs --chain-id: no node is asked for it (see `minetrace query "
                   "status` on a node of the network)");
    }
    if (wait) return usage("--wait needs a node; upload the batch with `submit-batch --wait`");
    return {};
  }

  CommandResult<> RunTx(const TxActionInfo& info) {
    const std::string command = "tx " + std::string(info.command);
    auto body = BuildTxAction(info.action, tx_args_);
    if (!body) return ArgumentFailure(command, body.error());
    auto flags = CheckOfflineFlags(command, tx_.offline, tx_.out_file, tx_.chain_id, tx_.wait);
    if (!flags) return flags;
    auto key = crypto::ReadKeyFile(tx_.key_file);
    if (!key) return LocalFailure(command + " --key " + tx_.key_file, key.error());

    if (tx_.offline) {
      body->set_chain_id(tx_.chain_id);
      body->set_nonce(tx_.nonce ? *tx_.nonce : env_.random_u64());
      // The device time is the signing time: what the agent's clock says now, offline.
      body->set_created_at_ms(tx_.created_at_ms ? *tx_.created_at_ms : env_.clock.NowUnixMs());
      const v1::SignedTx tx = ledger::proof::SignTx(*body, *key);
      const std::string id_hex = ToHex(ledger::proof::TxId(tx));
      auto before = AppendToBatch(tx_.out_file, std::span<const v1::SignedTx>(&tx, 1));
      if (!before) return LocalFailure(command + " --out " + tx_.out_file, before.error());
      if (tx_.json) {
        env_.out << "{\"txId\":\"" << id_hex << "\",\"file\":" << JsonString(tx_.out_file)
                 << ",\"record\":" << (*before + 1) << "}\n";
      } else {
        env_.out << id_hex << "\nappended to " << tx_.out_file << " (record " << (*before + 1)
                 << ")\n";
      }
      return {};
    }

    NodeClient client(tx_.node, std::chrono::milliseconds(tx_.timeout_ms));
    std::string chain_id = tx_.chain_id;
    if (chain_id.empty()) {
      auto status = client.Status();
      if (!status) return tl::unexpected(status.error());
      chain_id = status->chain_id();
    }
    body->set_chain_id(chain_id);
    body->set_nonce(tx_.nonce ? *tx_.nonce : env_.random_u64());
    body->set_created_at_ms(tx_.created_at_ms ? *tx_.created_at_ms : env_.clock.NowUnixMs());

    const v1::SignedTx tx = ledger::proof::SignTx(*body, *key);
    const Hash32 tx_id = ledger::proof::TxId(tx);
    const std::string id_hex = ToHex(tx_id);
    auto submitted = client.SubmitTx(tx);
    if (!submitted) return tl::unexpected(submitted.error());
    if (submitted->tx_id() != ledger::proof::HashString(tx_id)) {
      return Fail(
          ExitCode::kFailed, "SubmitTx on " + client.address(), "INTERNAL",
          "the node reports tx id " + HexOrDash(submitted->tx_id()) + ", expected " + id_hex);
    }
    if (!tx_.wait) {
      if (tx_.json) {
        env_.out << "{\"txId\":\"" << id_hex << "\"}\n";
      } else {
        env_.out << id_hex << '\n';
      }
      return {};
    }
    if (!tx_.json) env_.out << id_hex << std::endl;  // shown before a possibly long wait

    auto committed = client.WaitTx(tx_id, std::chrono::milliseconds(tx_.timeout_ms));
    if (!committed) {
      Failure f = committed.error();
      f.what = "wait for tx " + id_hex + ": " + f.what;
      return tl::unexpected(std::move(f));
    }
    const v1::Receipt& receipt = committed->receipt();
    if (tx_.json) {
      auto receipt_json = ToJson(receipt);
      if (!receipt_json) return LocalFailure(command, receipt_json.error());
      env_.out << "{\"txId\":\"" << id_hex << "\",\"receipt\":" << *receipt_json << "}\n";
    } else {
      if (receipt.status() == v1::TX_STATUS_OK) {
        env_.out << "OK height " << receipt.height() << '\n';
      } else {
        env_.out << "FAILED: " << receipt.reason() << " (height " << receipt.height() << ")\n";
      }
      for (const v1::Anomaly& a : receipt.anomalies()) env_.out << AnomalyLine(a) << '\n';
    }
    if (receipt.status() != v1::TX_STATUS_OK) {
      return Fail(ExitCode::kFailed,
                  "tx " + id_hex + " committed at height " + std::to_string(receipt.height()),
                  receipt.error_code().empty() ? "FAILED" : receipt.error_code(),
                  receipt.reason().empty() ? "(no reason given)" : receipt.reason());
    }
    return {};
  }

  // ---- query ----

  void DefineQuery(CLI::App& app) {
    CLI::App* query = app.add_subcommand(
        "query", "Read the ledger from a node (human-readable, or protobuf JSON with --json)");
    query->require_subcommand(1);
    // The options may come before or after <what>.
    query->fallthrough();
    query->add_option("--node", query_.node, "Node gRPC address host:port")->capture_default_str();
    query->add_option("--timeout-ms", query_.timeout_ms, "Deadline of each call (ms)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 3'600'000u));
    query->add_flag("--json", query_.json,
                    "Print protobuf JSON (bytes fields in base64; decoded tx bodies and ledger "
                    "infos with hex ids and keys)");
    query->footer(Footer("Options --node, --timeout-ms and --json go before or after <what>."));

    CLI::App* status = query->add_subcommand("status", "The node's chain, height and mempool");
    On(status, [this] { return QueryStatus(); });

    CLI::App* lot = query->add_subcommand("lot", "A lot's current state");
    lot->add_option("ID", query_.subject, "Lot id")->required();
    On(lot, [this] { return QueryLot(); });

    CLI::App* history = query->add_subcommand(
        "history",
        "A lot and every event of it, oldest first: height, time, action, signer, status, "
        "anomalies");
    history->add_option("ID", query_.subject, "Lot id")->required();
    On(history, [this] { return QueryHistory(); });

    CLI::App* lots = query->add_subcommand("lots",
                                           "List lots, filtered by at most one of "
                                           "--holder, --site, --status");
    CLI::Option* holder =
        lots->add_option("--holder", query_.holder, std::string("Holder's key: ") + kKeyHelp);
    CLI::Option* site = lots->add_option("--site", query_.site, "Mine site id");
    CLI::Option* lot_status =
        lots->add_option("--status", query_.status,
                         "held, in-transit, consumed, exported, in-shipment or delivered");
    holder->excludes(site)->excludes(lot_status);
    site->excludes(lot_status);
    AddPageOptions(lots);
    On(lots, [this] { return QueryLots(); });

    CLI::App* site_cmd = query->add_subcommand("site", "A mine site");
    site_cmd->add_option("ID", query_.subject, "Site id")->required();
    On(site_cmd, [this] { return QuerySite(); });

    CLI::App* sites = query->add_subcommand("sites", "List mine sites");
    sites->add_option("--country", query_.country, "Only sites in this country, e.g. CD");
    AddPageOptions(sites);
    On(sites, [this] { return QuerySites(); });

    CLI::App* member = query->add_subcommand("member", "A member: name, roles, status");
    member->add_option("KEY", query_.subject, std::string("Member's key: ") + kKeyHelp)->required();
    On(member, [this] { return QueryMember(); });

    CLI::App* tag = query->add_subcommand("tag", "A tag: site, agent, status, lot");
    tag->add_option("ID", query_.subject, "Tag id, e.g. T0000012")->required();
    On(tag, [this] { return QueryTag(); });

    CLI::App* tx = query->add_subcommand("tx", "A committed transaction and its receipt");
    tx->add_option("TXID", query_.subject, "Tx id, 64 hex characters")->required();
    On(tx, [this] { return QueryTx(); });

    CLI::App* info = query->add_subcommand(
        "ledger-info", "The latest certified ledger info: height, accumulator root, signers");
    On(info, [this] { return QueryLedgerInfo(); });

    CLI::App* proof = query->add_subcommand(
        "proof", "A transaction's inclusion proof: binary TxProof to --out FILE, or JSON");
    proof->footer(Footer(
        "The TxProof holds the tx with its receipt, the accumulator audit path and the signed\n"
        "ledger info it leads to; --out writes it as binary protobuf (for offline checks)."));
    proof->add_option("TXID", query_.subject, "Tx id, 64 hex characters")->required();
    proof->add_option("--out", query_.out_file, "File to write the binary TxProof to");
    On(proof, [this] { return QueryProof(); });

    DefineRecordQueries(query);
  }

  void DefineRecordQueries(CLI::App* query) {
    CLI::App* provenance = query->add_subcommand(
        "provenance",
        "The upstream graph of a lot or shipment back to its mine lots: sites and their status "
        "then and now, agents, dates, weights, grades, holders, certificate, flags, incidents");
    provenance->footer(Footer(
        "--format tree (default): an ASCII tree from the lot or shipment down to the mine\n"
        "lots, each lot with its site, custody events, flags and incidents, then the members\n"
        "with their full keys. --format dot: a Graphviz digraph (minetrace query provenance\n"
        "ID --format dot | dot -Tsvg > p.svg): shipment -> lots -> parent lots -> sites.\n"
        "--format json (or --json): the Provenance message as protobuf JSON."));
    provenance->add_option("ID", query_.subject, "Lot id, or shipment id with --shipment")
        ->required();
    provenance->add_flag("--shipment", query_.shipment, "ID is a shipment id");
    provenance->add_option("--format", query_.format, "tree, json or dot")
        ->capture_default_str()
        ->check(CLI::IsMember({"tree", "json", "dot"}));
    On(provenance, [this] { return QueryProvenance(); });

    CLI::App* incident = query->add_subcommand("incident", "An incident with its notes");
    incident->add_option("ID", query_.subject, "Incident id, e.g. INC-0000001")->required();
    On(incident, [this] { return QueryIncident(); });

    CLI::App* incidents = query->add_subcommand(
        "incidents", "List incidents in id order; the filters combine (AND)");
    CLI::Option* subject =
        incidents->add_option("--subject", query_.subject_kind, "site, lot, member or tag (with --id)");
    CLI::Option* subject_id = incidents->add_option(
        "--id", query_.subject_id,
        std::string("The subject's id; a member by its key: ") + kKeyHelp);
    subject->needs(subject_id);
    subject_id->needs(subject);
    incidents->add_option("--status", query_.status,
                          "open, under-mitigation, resolved or closed");
    incidents->add_option("--level", query_.level, "1, 2 or 3")->check(CLI::Range(1u, 3u));
    incidents->add_option("--category", query_.category, "One of: " + IncidentCategoryNames());
    incidents->add_flag("--open", query_.open_only, "Only open or under mitigation");
    AddPageOptions(incidents);
    On(incidents, [this] { return QueryIncidents(); });

    CLI::App* flags = query->add_subcommand(
        "flags", "List flags (anomalies raised by execution) in id order; filters combine (AND)");
    flags->add_option("--kind", query_.kind,
                      "e.g. tag_off_site, tag_off_agent, mass_gain, grade_jump, "
                      "receipt_weight_mismatch, site_volume_above_estimate, late_upload");
    flags->add_option("--lot", query_.lot, "Lot id");
    flags->add_option("--site", query_.site, "Site id");
    flags->add_option("--member", query_.member, std::string("Member's key: ") + kKeyHelp);
    AddPageOptions(flags);
    On(flags, [this] { return QueryFlags(); });

    CLI::App* shipment = query->add_subcommand("shipment", "An export shipment");
    shipment->add_option("ID", query_.subject, "Shipment id")->required();
    On(shipment, [this] { return QueryShipment(); });

    CLI::App* shipments =
        query->add_subcommand("shipments", "List export shipments; filters combine (AND)");
    shipments->add_option("--exporter", query_.member, std::string("Exporter's key: ") + kKeyHelp);
    shipments->add_option("--status", query_.status,
                          "formed, certified, certificate-refused, dispatched, received or "
                          "cancelled");
    AddPageOptions(shipments);
    On(shipments, [this] { return QueryShipments(); });

    CLI::App* inspections =
        query->add_subcommand("inspections", "A site's recorded inspections, oldest first");
    inspections->add_option("SITE", query_.subject, "Site id")->required();
    On(inspections, [this] { return QueryInspections(); });

    CLI::App* production = query->add_subcommand(
        "production",
        "Tagged mine-lot volume of a site per 30-day ledger month against its estimate");
    production->add_option("SITE", query_.subject, "Site id")->required();
    production->add_option("--from", query_.from,
                           "First day, UTC (2026-01-01); default the site's registration");
    production->add_option("--to", query_.to, "Last day, UTC; default the latest block's time");
    On(production, [this] { return QueryProduction(); });

    CLI::App* holdings = query->add_subcommand(
        "holdings",
        "A member's lots held and in transit to it, and its mass balance (produced, received, "
        "dispatched, processed, lost, exported)");
    holdings->add_option("KEY", query_.subject, std::string("Member's key: ") + kKeyHelp)
        ->required();
    On(holdings, [this] { return QueryHoldings(); });
  }

  CommandResult<> QueryProvenance() {
    v1::GetProvenanceRequest request;
    if (query_.shipment) {
      request.set_shipment_id(query_.subject);
    } else {
      request.set_lot_id(query_.subject);
    }
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    auto provenance = client.GetProvenance(request);
    if (!provenance) return tl::unexpected(provenance.error());
    if (query_.json || query_.format == "json") {
      return PrintJson(env_.out, ToJson(*provenance), "print JSON");
    }
    if (query_.format == "dot") {
      env_.out << ProvenanceDot(*provenance);
    } else {
      PrintProvenanceTree(env_.out, *provenance);
    }
    return {};
  }

  CommandResult<> QueryIncident() {
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return Show(client.GetIncident(query_.subject),
                [&](const auto& m) { PrintIncident(env_.out, m); });
  }

  CommandResult<> QueryIncidents() {
    const std::string what = "query incidents";
    v1::ListIncidentsRequest request;
    if (!query_.subject_kind.empty()) {
      auto kind = ParseIncidentSubjectKind(query_.subject_kind);
      if (!kind) return UsageFailure(what + " --subject", kind.error());
      request.set_subject_kind(*kind);
      std::string id = query_.subject_id;
      if (*kind == v1::INCIDENT_SUBJECT_MEMBER) {
        auto key = ParseKeyArgument(query_.subject_id, "--id");
        if (!key) return ArgumentFailure(what, key.error());
        id = ToHex(*key);
      }
      request.set_subject_id(id);
    }
    if (!query_.status.empty()) {
      auto status = ParseIncidentStatus(query_.status);
      if (!status) return UsageFailure(what + " --status", status.error());
      request.set_status(*status);
    }
    request.set_level(query_.level);
    if (!query_.category.empty()) {
      auto category = ParseIncidentCategory(query_.category);
      if (!category) return UsageFailure(what + " --category", category.error());
      request.set_category(*category);
    }
    request.set_open_only(query_.open_only);
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return ListPages<v1::ListIncidentsRequest, v1::ListIncidentsResponse>(
        request, [&](const v1::ListIncidentsRequest& r) { return client.ListIncidents(r); },
        [](v1::ListIncidentsResponse* r) { return r->mutable_incidents(); },
        [](std::ostream& out, const v1::Incident& i) { PrintIncidentLine(out, i); }, "incidents");
  }

  CommandResult<> QueryFlags() {
    v1::ListFlagsRequest request;
    request.set_kind(query_.kind);
    request.set_lot_id(query_.lot);
    request.set_site_id(query_.site);
    if (!query_.member.empty()) {
      auto key = ParseKeyArgument(query_.member, "--member");
      if (!key) return ArgumentFailure("query flags", key.error());
      request.set_member_key(std::string(key->begin(), key->end()));
    }
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return ListPages<v1::ListFlagsRequest, v1::ListFlagsResponse>(
        request, [&](const v1::ListFlagsRequest& r) { return client.ListFlags(r); },
        [](v1::ListFlagsResponse* r) { return r->mutable_flags(); },
        [](std::ostream& out, const v1::Flag& f) { PrintFlagLine(out, f); }, "flags");
  }

  CommandResult<> QueryShipment() {
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return Show(client.GetShipment(query_.subject),
                [&](const auto& m) { PrintShipment(env_.out, m); });
  }

  CommandResult<> QueryShipments() {
    v1::ListShipmentsRequest request;
    if (!query_.member.empty()) {
      auto key = ParseKeyArgument(query_.member, "--exporter");
      if (!key) return ArgumentFailure("query shipments", key.error());
      request.set_exporter_key(std::string(key->begin(), key->end()));
    }
    if (!query_.status.empty()) {
      auto status = ParseShipmentStatus(query_.status);
      if (!status) return UsageFailure("query shipments --status", status.error());
      request.set_status(*status);
    }
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return ListPages<v1::ListShipmentsRequest, v1::ListShipmentsResponse>(
        request, [&](const v1::ListShipmentsRequest& r) { return client.ListShipments(r); },
        [](v1::ListShipmentsResponse* r) { return r->mutable_shipments(); },
        [](std::ostream& out, const v1::Shipment& s) { PrintShipmentLine(out, s); },
        "shipments");
  }

  CommandResult<> QueryInspections() {
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return Show(client.ListInspections(query_.subject), [&](const auto& m) {
      if (m.inspections().empty()) env_.out << "no inspections\n";
      for (const v1::Inspection& i : m.inspections()) PrintInspectionLine(env_.out, i);
    });
  }

  CommandResult<> QueryProduction() {
    v1::GetSiteProductionRequest request;
    request.set_site_id(query_.subject);
    if (!query_.from.empty()) {
      auto from = ParseUtcTimeMs(query_.from, "--from");
      if (!from) return UsageFailure("query production", from.error());
      request.set_from_ms(*from);
    }
    if (!query_.to.empty()) {
      auto to = ParseUtcTimeMs(query_.to, "--to");
      if (!to) return UsageFailure("query production", to.error());
      request.set_to_ms(*to);
    }
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return Show(client.GetSiteProduction(request),
                [&](const auto& m) { PrintSiteProduction(env_.out, m); });
  }

  CommandResult<> QueryHoldings() {
    auto key = ParseKeyArgument(query_.subject, "KEY");
    if (!key) return ArgumentFailure("query holdings", key.error());
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return Show(client.GetHoldings(*key), [&](const auto& m) { PrintHoldings(env_.out, m); });
  }

  void AddPageOptions(CLI::App* sub) {
    sub->add_option("--page-size", query_.page_size,
                    "Items per page (the node's default is 100, at most 1000)")
        ->check(CLI::Range(1u, 1000u));
    CLI::Option* token =
        sub->add_option("--page-token", query_.page_token, "Continue from this page token");
    sub->add_flag("--all", query_.all, "Follow page tokens and print every page")->excludes(token);
  }

  // Prints a single message: JSON, or the human form.
  template <class Message, class Human>
  CommandResult<> Show(const CommandResult<Message>& message, Human&& human) {
    if (!message) return tl::unexpected(message.error());
    if (query_.json) return PrintJson(env_.out, ToJson(*message), "print JSON");
    human(*message);
    return {};
  }

  CommandResult<> QueryStatus() {
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return Show(client.Status(), [&](const auto& m) { PrintStatus(env_.out, m); });
  }

  CommandResult<> QueryLot() {
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return Show(client.GetLot(query_.subject), [&](const auto& m) { PrintLot(env_.out, m); });
  }

  CommandResult<> QueryHistory() {
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    auto history = client.GetLotHistory(query_.subject);
    if (!history) return tl::unexpected(history.error());
    if (query_.json) return PrintJson(env_.out, HistoryJson(*history), "print JSON");
    PrintHistory(env_.out, *history);
    return {};
  }

  // Fetches one page, or every page with --all (merged into one response), and prints it.
  template <class Request, class Response, class Fetch, class Items, class Line>
  CommandResult<> ListPages(Request request, Fetch&& fetch, Items&& items, Line&& line,
                            std::string_view noun) {
    if (query_.page_size != 0) request.set_page_size(query_.page_size);
    request.set_page_token(query_.page_token);
    Response all;
    for (int page = 0;; ++page) {
      if (page >= kMaxPages) {
        return Fail(ExitCode::kFailed, "list " + std::string(noun), "ABORTED",
                    "gave up after " + std::to_string(kMaxPages) + " pages");
      }
      CommandResult<Response> response = fetch(request);
      if (!response) return tl::unexpected(response.error());
      items(&all)->MergeFrom(*items(&*response));
      all.set_next_page_token(response->next_page_token());
      if (!query_.all || response->next_page_token().empty()) break;
      if (response->next_page_token() == request.page_token()) {
        return Fail(ExitCode::kFailed, "list " + std::string(noun), "INTERNAL",
                    "the node returned the same page token twice");
      }
      request.set_page_token(response->next_page_token());
    }
    if (query_.json) return PrintJson(env_.out, ToJson(all), "print JSON");
    if (items(&all)->empty()) env_.out << "no " << noun << '\n';
    for (const auto& item : *items(&all)) line(env_.out, item);
    if (!all.next_page_token().empty()) {
      env_.out << "more: --page-token " << all.next_page_token() << '\n';
    }
    return {};
  }

  CommandResult<> QueryLots() {
    v1::ListLotsRequest request;
    if (!query_.holder.empty()) {
      auto key = ParseKeyArgument(query_.holder, "--holder");
      if (!key) return ArgumentFailure("query lots", key.error());
      request.set_holder_key(std::string(key->begin(), key->end()));
    }
    request.set_site_id(query_.site);
    if (!query_.status.empty()) {
      auto status = ParseLotStatus(query_.status);
      if (!status) return UsageFailure("query lots --status", status.error());
      request.set_status(*status);
    }
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return ListPages<v1::ListLotsRequest, v1::ListLotsResponse>(
        request, [&](const v1::ListLotsRequest& r) { return client.ListLots(r); },
        [](v1::ListLotsResponse* r) { return r->mutable_lots(); },
        [](std::ostream& out, const v1::Lot& lot) { PrintLotLine(out, lot); }, "lots");
  }

  CommandResult<> QuerySite() {
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return Show(client.GetMineSite(query_.subject), [&](const auto& m) { PrintSite(env_.out, m); });
  }

  CommandResult<> QuerySites() {
    v1::ListMineSitesRequest request;
    request.set_country(query_.country);
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return ListPages<v1::ListMineSitesRequest, v1::ListMineSitesResponse>(
        request, [&](const v1::ListMineSitesRequest& r) { return client.ListMineSites(r); },
        [](v1::ListMineSitesResponse* r) { return r->mutable_sites(); },
        [](std::ostream& out, const v1::MineSite& site) { PrintSiteLine(out, site); }, "sites");
  }

  CommandResult<> QueryMember() {
    auto key = ParseKeyArgument(query_.subject, "KEY");
    if (!key) return ArgumentFailure("query member", key.error());
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return Show(client.GetMember(*key), [&](const auto& m) { PrintMember(env_.out, m); });
  }

  CommandResult<> QueryTag() {
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    return Show(client.GetTag(query_.subject), [&](const auto& m) { PrintTag(env_.out, m); });
  }

  CommandResult<> QueryTx() {
    auto id = ParseHashArgument(query_.subject, "TXID");
    if (!id) return UsageFailure("query tx", id.error());
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    auto tx = client.GetTx(*id);
    if (!tx) return tl::unexpected(tx.error());
    if (query_.json) return PrintJson(env_.out, TxWithReceiptJson(*tx), "print JSON");
    PrintTxWithReceipt(env_.out, *tx);
    return {};
  }

  CommandResult<> QueryLedgerInfo() {
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    auto info = client.GetLedgerInfo();
    if (!info) return tl::unexpected(info.error());
    if (query_.json) return PrintJson(env_.out, LedgerInfoJson(*info), "print JSON");
    auto printed = PrintLedgerInfo(env_.out, *info);
    if (!printed) return LocalFailure("GetLedgerInfo on " + query_.node, printed.error());
    return {};
  }

  CommandResult<> QueryProof() {
    auto id = ParseHashArgument(query_.subject, "TXID");
    if (!id) return UsageFailure("query proof", id.error());
    NodeClient client(query_.node, std::chrono::milliseconds(query_.timeout_ms));
    auto proof = client.GetTxProof(*id);
    if (!proof) return tl::unexpected(proof.error());
    if (query_.out_file.empty()) return PrintJson(env_.out, ToJson(*proof), "print JSON");

    std::string bytes;
    if (!proof->SerializeToString(&bytes)) {
      return Fail(ExitCode::kFailed, "query proof", "INTERNAL", "cannot serialize the proof");
    }
    const std::string what = "write proof to " + query_.out_file;
    std::ofstream file(query_.out_file, std::ios::binary | std::ios::trunc);
    if (!file) return Fail(ExitCode::kFailed, what, "INTERNAL", "cannot open the file");
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    file.close();
    if (!file) return Fail(ExitCode::kFailed, what, "INTERNAL", "write failed");
    if (query_.json) {
      env_.out << "{\"txId\":\"" << ToHex(*id) << "\",\"file\":" << JsonString(query_.out_file)
               << ",\"bytes\":" << bytes.size() << "}\n";
    } else {
      env_.out << "wrote proof of tx " << ToHex(*id) << " (leaf " << proof->inclusion().leaf_index()
               << " of " << proof->inclusion().tree_size() << ", " << bytes.size() << " bytes) to "
               << query_.out_file << '\n';
    }
    return {};
  }

  // ---- submit-batch, import-logbook ----

  void DefineSubmitBatch(CLI::App& app) {
    CLI::App* sub = app.add_subcommand(
        "submit-batch",
        "Upload a batch file of signed txs (from `tx ... --offline`, `import-logbook "
        "--offline`); idempotent");
    sub->footer(
        "Uploads every tx in order (SubmitTxs in chunks) and prints one line per tx:\n"
        "index, tx id (first 16 hex), device time, result, action; then a count line.\n" +
        std::string(kSubmitResultHelp) +
        "\nProgress goes to stderr: a bar on a terminal, else a line at each quarter.\n" +
        std::string(kBatchFormatHelp) +
        "\nExit status: 0 with --wait when every tx committed OK, without --wait when no tx\n"
        "was refused or FAILED; 1 otherwise (a count line on stderr says how many), or the file\n"
        "is unreadable or damaged; 2 bad command line; 3 the node could not be reached.");
    sub->add_option("FILE", batch_.file, "Batch file")->required();
    sub->add_option("--node", batch_.node, "Node gRPC address host:port")->capture_default_str();
    sub->add_flag("--wait", batch_.wait, "Wait for every tx to commit and show its receipt");
    sub->add_option("--timeout-ms", batch_.timeout_ms,
                    "Deadline of each call to the node, and how long --wait waits per tx (ms)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 3'600'000u));
    sub->add_flag("--json", batch_.json,
                  "Print {\"results\":[{index, txId, action, deviceTimeMs, result, already, "
                  "height, code, reason, anomalies}], \"counts\":{...}}");
    On(sub, [this] { return RunSubmitBatch(); });
  }

  // Uploads `txs` and prints the table (or JSON); the exit status as UploadVerdict says.
  CommandResult<> Upload(const std::vector<v1::SignedTx>& txs, NodeClient& client,
                         const std::string& what) {
    Progress progress(env_.err, env_.err_is_terminal);
    SubmitOptions options;
    options.wait = batch_.wait;
    options.wait_timeout = std::chrono::milliseconds(batch_.timeout_ms);
    auto results = SubmitBatch(client, txs, options, progress);
    if (!results) return tl::unexpected(results.error());
    if (batch_.json) {
      auto printed = PrintJson(env_.out, BatchResultsJson(*results), "print JSON");
      if (!printed) return printed;
    } else {
      PrintBatchTable(env_.out, *results);
    }
    return UploadVerdict(*results, batch_.wait, what);
  }

  CommandResult<> RunSubmitBatch() {
    const std::string what = "submit-batch " + batch_.file;
    auto txs = ReadBatch(batch_.file);
    if (!txs) return LocalFailure(what, txs.error());
    if (txs->empty()) {
      return Fail(ExitCode::kFailed, what, "INVALID_ARGUMENT", "the batch file holds no txs");
    }
    NodeClient client(batch_.node, std::chrono::milliseconds(batch_.timeout_ms));
    return Upload(*txs, client, what);
  }

  void DefineImportLogbook(CLI::App& app) {
    CLI::App* sub = app.add_subcommand(
        "import-logbook",
        "Turn a mine logbook (CSV) into signed record-lot txs: to a batch file (--offline "
        "--out) or to a node");
    sub->footer(
        "The first row names the columns (any order, case-insensitive):\n"
        "  tag_id         the tag attached to the bag; becomes the lot id      (required)\n"
        "  site_id        the mine site                                        (required)\n"
        "  mineral        cassiterite, wolframite or coltan                    (required)\n"
        "  weight_kg      kg, up to 3 decimals, e.g. 25.3                      (required)\n"
        "  grade_percent  percent, up to 2 decimals, e.g. 45.5                 (required)\n"
        "  producer_key   the cooperative's key: 64 hex characters or a .pub   (required)\n"
        "  recorded_at    when the bag was weighed, UTC, 2026-03-01T09:30:00Z  (optional)\n"
        "                 -> the tx's device time; empty or absent: now\n"
        "Example:\n"
        "  tag_id,site_id,mineral,weight_kg,grade_percent,producer_key,recorded_at\n"
        "  T0000012,CD-SK-0042,cassiterite,25.3,45.5,<64 hex>,2026-03-01T09:30:00Z\n"
        "Fields may be quoted (\"a, b\"; a quote inside is \"\"); blank rows are skipped.\n"
        "Every row becomes one tx signed by --key. A bad row is reported on stderr as\n"
        "\"line N: <reason>\" (N = the file's line where the row starts) and the good rows\n"
        "are still signed. With --offline the txs are appended to --out (a batch file, see\n"
        "`submit-batch --help`); otherwise they are uploaded as by submit-batch.\n" +
        std::string(kSubmitResultHelp) +
        "\nExit status: 0 when every row was good (and, with a node, uploaded as submit-batch\n"
        "counts success); 1 when any row was bad, the file is unreadable or an upload failed;\n"
        "2 bad command line; 3 the node could not be reached.");
    sub->add_option("FILE", batch_.file, "The logbook, CSV")->required();
    sub->add_option("--key", batch_.key_file, "Signer's private key file (the agent)")
        ->required();
    sub->add_option("--chain-id", batch_.chain_id,
                    "Chain id to sign for (default: the node's; required with --offline)");
    sub->add_flag("--offline", batch_.offline, "Sign without a node; append to --out");
    sub->add_option("--out", batch_.out_file, "With --offline: the batch file to append to");
    sub->add_option("--node", batch_.node, "Node gRPC address host:port")->capture_default_str();
    sub->add_flag("--wait", batch_.wait, "Wait for every tx to commit and show its receipt");
    sub->add_option("--timeout-ms", batch_.timeout_ms,
                    "Deadline of each call to the node, and how long --wait waits per tx (ms)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 3'600'000u));
    sub->add_flag("--json", batch_.json, "With a node: print the results as submit-batch --json");
    On(sub, [this] { return RunImportLogbook(); });
  }

  CommandResult<> RunImportLogbook() {
    const std::string what = "import-logbook " + batch_.file;
    auto flags =
        CheckOfflineFlags(what, batch_.offline, batch_.out_file, batch_.chain_id, batch_.wait);
    if (!flags) return flags;
    std::string text;
    {
      constexpr std::streamsize kMaxLogbookBytes = 64 << 20;
      std::ifstream in(batch_.file, std::ios::binary);
      if (!in) return Fail(ExitCode::kFailed, what, "NOT_FOUND", "cannot read the file");
      text.resize(static_cast<size_t>(kMaxLogbookBytes) + 1);
      in.read(text.data(), kMaxLogbookBytes + 1);
      if (in.bad()) return Fail(ExitCode::kFailed, what, "INTERNAL", "error reading the file");
      text.resize(static_cast<size_t>(in.gcount()));
      if (text.size() > static_cast<size_t>(kMaxLogbookBytes)) {
        return Fail(ExitCode::kFailed, what, "RESOURCE_EXHAUSTED",
                    "the file is larger than 64 MiB; split it");
      }
    }
    auto book = ParseLogbook(text);
    if (!book) return LocalFailure(what, book.error());
    auto key = crypto::ReadKeyFile(batch_.key_file);
    if (!key) return LocalFailure(what + " --key " + batch_.key_file, key.error());

    std::optional<NodeClient> client;
    std::string chain_id = batch_.chain_id;
    if (!batch_.offline) {
      client.emplace(batch_.node, std::chrono::milliseconds(batch_.timeout_ms));
      if (chain_id.empty()) {
        auto status = client->Status();
        if (!status) return tl::unexpected(status.error());
        chain_id = status->chain_id();
      }
    }

    for (const LogbookRowError& e : book->errors) {
      env_.err << "line " << e.line << ": " << e.reason << '\n';
    }
    std::vector<v1::SignedTx> txs;
    txs.reserve(book->rows.size());
    const int64_t now_ms = env_.clock.NowUnixMs();
    for (LogbookRow& row : book->rows) {
      row.body.set_chain_id(chain_id);
      row.body.set_nonce(env_.random_u64());
      if (row.body.created_at_ms() == 0) row.body.set_created_at_ms(now_ms);
      txs.push_back(ledger::proof::SignTx(row.body, *key));
    }

    CommandResult<> uploaded;
    if (txs.empty()) {
      env_.out << "no good rows to sign\n";
    } else if (batch_.offline) {
      auto before = AppendToBatch(batch_.out_file, txs);
      if (!before) return LocalFailure(what + " --out " + batch_.out_file, before.error());
      env_.out << "signed " << txs.size() << " of " << book->data_rows
               << (book->data_rows == 1 ? " row" : " rows") << "; appended to "
               << batch_.out_file;
      if (txs.size() == 1) {
        env_.out << " as record " << (*before + 1) << '\n';
      } else {
        env_.out << " as records " << (*before + 1) << ".." << (*before + txs.size()) << '\n';
      }
    } else {
      uploaded = Upload(txs, *client, what);
    }
    if (!book->errors.empty()) {
      const size_t bad = book->errors.size();
      return Fail(ExitCode::kFailed, what, "INVALID_ARGUMENT",
                  std::to_string(bad) + " of " + std::to_string(book->data_rows) +
                      (book->data_rows == 1 ? " row " : " rows ") + (bad == 1 ? "is" : "are") +
                      " bad (see the lines above); " +
                      std::to_string(txs.size()) +
                      (txs.size() == 1 ? " good row was " : " good rows were ") +
                      (batch_.offline ? "signed" : "uploaded"));
    }
    return uploaded;
  }

  // ---- status ----

  void DefineStatus(CLI::App& app) {
    CLI::App* status = app.add_subcommand(
        "status",
        "One line per node (role, height, round, leaves, root, peers, mempool) and whether "
        "the nodes agree");
    status->footer(
        "Nodes agree when they report the same genesis and the same accumulator root at the\n"
        "same leaf count (heights may differ: empty blocks add no leaf). The last line says\n"
        "\"all N nodes on root <hex> at L leaves\", or how they differ.\n"
        "Exit status: 0 every node answered and all agree; 1 a fork (two roots at one leaf\n"
        "count, or two genesis hashes; 1 even if a node is also unreachable), a node answered\n"
        "with an error, or some nodes are behind the others; 2 bad command line; 3 a node\n"
        "could not be reached (the others are still shown and compared).");
    CLI::Option* node =
        status->add_option("--node", status_.nodes,
                           "Node gRPC address host:port; repeatable (default 127.0.0.1:7000)");
    CLI::Option* net = status->add_option(
        "--net", status_.net_dir,
        "Network folder (as `minetrace testnet` writes): every DIR/<node>/config.toml's "
        "grpc_listen");
    node->excludes(net);
    status->add_option("--timeout-ms", status_.timeout_ms, "Deadline of each node's answer (ms)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 3'600'000u));
    status->add_flag("--json", status_.json,
                     "Print {\"nodes\":[{name, address, reachable, status | error}], "
                     "\"agreement\":{verdict, summary, leafCount, root}}");
    On(status, [this] { return RunStatus(); });
  }

  CommandResult<> RunStatus() {
    std::vector<NodeStatusReport> reports;
    if (!status_.net_dir.empty()) {
      auto nodes = FindNetworkNodes(status_.net_dir);
      if (!nodes) return LocalFailure("status --net " + status_.net_dir, nodes.error());
      for (const NetworkNode& n : *nodes) {
        NodeStatusReport& r = reports.emplace_back();
        r.name = n.name;
        r.address = n.grpc_address;
      }
    } else {
      if (status_.nodes.empty()) status_.nodes.push_back(kDefaultNode);
      for (const std::string& address : status_.nodes) {
        NodeStatusReport& r = reports.emplace_back();
        r.name = address;
        r.address = address;
      }
    }
    if (reports.size() > kMaxStatusNodes) {
      return Fail(ExitCode::kUsage, "status", "INVALID_ARGUMENT",
                  "at most " + std::to_string(kMaxStatusNodes) + " nodes at a time");
    }

    // All at once, so that one slow or silent node costs one timeout, not one per node.
    const auto timeout = std::chrono::milliseconds(status_.timeout_ms);
    std::vector<std::future<CommandResult<v1::StatusResponse>>> answers;
    for (const NodeStatusReport& r : reports) {
      answers.push_back(std::async(std::launch::async, [address = r.address, timeout] {
        NodeClient client(address, timeout);
        return client.Status();
      }));
    }
    std::vector<std::string> unreachable;
    std::vector<std::string> failed;
    for (size_t i = 0; i < reports.size(); ++i) {
      CommandResult<v1::StatusResponse> answer = answers[i].get();
      NodeStatusReport& r = reports[i];
      if (answer) {
        r.status = std::move(*answer);
        continue;
      }
      r.unreachable = answer.error().exit_code == ExitCode::kUnreachable;
      r.error = answer.error().code_name + ": " + answer.error().message;
      (r.unreachable ? unreachable : failed).push_back(r.name);
    }

    const AgreementVerdict verdict = CheckAgreement(reports);
    if (status_.json) {
      auto printed = PrintJson(env_.out, NetworkStatusJson(reports, verdict), "print JSON");
      if (!printed) return printed;
    } else {
      PrintNetworkStatus(env_.out, reports, verdict);
    }

    auto names = [](const std::vector<std::string>& list) {
      std::string s;
      for (const std::string& n : list) s += (s.empty() ? "" : ", ") + n;
      return s;
    };
    const std::string total = std::to_string(reports.size());
    if (verdict.agreement == Agreement::kFork) {
      return Fail(ExitCode::kFailed, "status", "FAILED_PRECONDITION", verdict.line);
    }
    if (!unreachable.empty()) {
      return Fail(ExitCode::kUnreachable, "status", "UNAVAILABLE",
                  std::to_string(unreachable.size()) + " of " + total +
                      " nodes unreachable: " + names(unreachable));
    }
    if (!failed.empty()) {
      return Fail(ExitCode::kFailed, "status", "FAILED",
                  std::to_string(failed.size()) + " of " + total +
                      " nodes answered Status with an error: " + names(failed));
    }
    if (verdict.agreement != Agreement::kAgree) {
      return Fail(ExitCode::kFailed, "status", "FAILED_PRECONDITION", verdict.line);
    }
    return {};
  }

  const Env& env_;
  std::function<CommandResult<>()> command_;
  std::string key_out_;
  TestnetOptions testnet_;
  TxOptions tx_;
  TxArgs tx_args_;
  QueryOptions query_;
  ProofGetOptions proof_get_;
  ProofVerifyOptions proof_verify_;
  ProofConsistencyGetOptions proof_consistency_get_;
  ProofConsistencyOptions proof_consistency_;
  StatusOptions status_;
  BatchOptions batch_;
  BenchOptions bench_;
};

}  // namespace

int RunCli(int argc, const char* const argv[], const Env& env) {
  // Nothing may escape: CLI11 reports errors by exception, and std::bad_alloc or a
  // filesystem_error from a library must still become one line and an exit status.
  try {
    Cli cli(env);
    return cli.Run(argc, argv);
  } catch (const std::exception& e) {
    env.err << "minetrace: internal error: INTERNAL: " << e.what() << '\n';
  } catch (...) {
    env.err << "minetrace: internal error: INTERNAL: unknown exception\n";
  }
  return static_cast<int>(ExitCode::kFailed);
}

}  // namespace minetrace::cli
