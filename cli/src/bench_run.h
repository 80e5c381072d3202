// `minetrace bench`, the part that talks to nodes: setup (members, sites and tags committed
// with the administrator's key, untimed), pre-signing of the whole load, then the timed run:
// txs go out in SubmitTxs batches (open loop at a rate, or closed loop with N in flight), each
// load unit to one node, and a tx counts as committed when that node's WatchCommits stream
// shows it. Progress goes to `err` once a second.
// Threads: one sender and one stream reader per node beside the pacing thread (the caller's);
// RunBench returns after joining them all.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bench.h"
#include "failure.h"
#include "minetrace/base/clock.h"
#include "minetrace/crypto/keys.h"

namespace minetrace::cli {

struct BenchConfig {
  std::vector<std::string> nodes;  // gRPC addresses; load unit k goes to node k mod n
  std::optional<crypto::PrivateKey> admin;  // required: signs the setup
  Workload workload = Workload::kMineLots;
  std::optional<double> rate;        // open loop, tx/s
  std::optional<size_t> in_flight;   // closed loop
  std::optional<double> duration_s;  // after warmup
  std::optional<size_t> txs;         // or a fixed number of load txs
  double warmup_s = 0;
  size_t keys = 30;
  size_t presign = 0;    // 0 = as the mode needs (see --help)
  size_t max_batch = 200;  // txs per SubmitTxs call
  double drain_s = 30;   // after the last send, how long to wait for commits
  uint64_t seed = 0;
  std::chrono::milliseconds timeout{10000};  // each unary call
};

// Pre-signed load txs for a mode: --presign if given; else --txs; else rate x (warmup +
// duration) for an open loop; else 50,000 for a closed loop with a duration.
size_t PresignCount(const BenchConfig& config);

// A Failure (exit 3) when a node cannot be reached, (exit 1) when setup does not commit or a
// commit stream breaks; otherwise the summary, rejects and FAILED receipts included.
CommandResult<BenchSummary> RunBench(const BenchConfig& config, const Clock& clock,
                                     std::ostream& err, bool err_is_terminal,
                                     const std::function<uint64_t()>& nonce);

}  // namespace minetrace::cli
