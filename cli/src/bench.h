// `minetrace bench`, the pure parts: the members, sites and tags a load needs (derived from a
// seed, so that a run can be repeated), the pre-signed workload (independent mine lots and
// custody chains whose steps depend on each other), open-loop pacing, latency percentiles and
// the summary (text and JSON). The part that talks to nodes is bench_run.h.
// Thread-safety: free functions over values; a Pacer is used by one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/base/result.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::cli {

enum class Workload {
  kMineLots,  // independent RecordMineLot txs, each with a fresh tag
  kCustody,   // chains: two mine lots -> dispatch -> receive -> merge -> split
  kMixed,     // custody chains and mine lots, about half the txs each
};

std::optional<Workload> ParseWorkload(std::string_view name);  // "mine-lots", "custody", "mixed"
std::string_view WorkloadName(Workload workload);

// The members and sites of one run. Keys come from the run id, so two runs with one seed use
// the same members (their registration is then refused ALREADY_EXISTS: use a new seed).
struct BenchWorld {
  std::string run_id;  // 8 lowercase hex digits
  std::vector<crypto::PrivateKey> agents;        // record mine lots
  std::vector<crypto::PrivateKey> cooperatives;  // produce them, then dispatch them
  std::vector<crypto::PrivateKey> processors;    // receive, merge and split them
  std::vector<std::string> site_ids;             // one mine site per agent

  std::string MineTagPrefix(size_t agent) const;          // "M<run>-<agent>", at most 16 chars
  std::string ProcessorTagPrefix(size_t processor) const;  // "P<run>-<processor>"
};

// Keys are split evenly between the three roles (at least one each); at most kMaxBenchKeys.
inline constexpr size_t kMaxBenchKeys = 30000;
Result<BenchWorld> MakeBenchWorld(uint64_t seed, size_t keys);

// A piece of load: a mine lot (one stage, one tx) or a custody chain (stages; a stage is
// submitted only once every tx of the stage before committed OK, so that no tx fails for
// ordering).
struct LoadUnit {
  std::vector<std::vector<v1::SignedTx>> stages;
  size_t TxCount() const;
};

struct WorkloadPlan {
  // Setup, before the clock starts: members and sites, then (once those committed) tags.
  std::vector<v1::SignedTx> setup_members_sites;
  std::vector<v1::SignedTx> setup_tags;
  std::vector<LoadUnit> units;  // in the order they are started
  size_t load_txs = 0;          // all txs of all units
};

struct PlanParams {
  Workload workload = Workload::kMineLots;
  size_t load_txs = 0;  // units are added until they hold at least this many txs
  std::string chain_id;
  int64_t now_ms = 0;  // device time of the txs (a chain's steps add 1 ms each)
  std::function<uint64_t()> nonce;
  size_t signing_threads = 1;
};

// Signs every setup and load tx. Custody chain k uses agent, cooperative and processor
// k modulo their counts; mine lot k likewise; tags are allocated for exactly what is used.
WorkloadPlan PlanWorkload(const BenchWorld& world, const crypto::PrivateKey& admin,
                          const PlanParams& params);

// Open-loop pacing: how many txs may go now so that `sent` keeps up with rate x elapsed, at
// most `max_batch` at a time (a sender that fell behind catches up in full batches).
class Pacer {
 public:
  Pacer(double rate_per_s, size_t max_batch) : rate_per_s_(rate_per_s), max_batch_(max_batch) {}
  size_t Due(std::chrono::nanoseconds elapsed, size_t sent) const;

 private:
  double rate_per_s_;
  size_t max_batch_;
};

// Latency over the measured txs, in milliseconds; percentiles are nearest-rank (the value at
// rank ceil(p x n / 100) of the sorted sample), so each is a latency some tx really had.
struct LatencyStats {
  size_t count = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
};
LatencyStats SummarizeLatencies(std::vector<double> latencies_ms);
double NearestRankPercentile(const std::vector<double>& sorted, double percent);

struct BenchSummary {
  std::string workload;
  std::string mode;      // "open-loop" or "closed-loop"
  double target_rate = 0;  // open loop: tx/s
  size_t in_flight = 0;    // closed loop
  std::vector<std::string> nodes;  // where txs were sent; latency is seen on the same node
  size_t keys = 0;
  std::string run_id;
  double warmup_s = 0;
  double measured_s = 0;  // the window after warmup in which commits are counted
  size_t presigned = 0;   // load txs signed before the clock started
  size_t sent = 0;        // load txs submitted (warmup included)
  size_t admitted = 0;
  size_t committed_ok = 0;
  size_t committed_failed = 0;
  size_t skipped = 0;           // in a block, not executed
  size_t uncommitted = 0;       // admitted, not seen committed by the end of the drain
  size_t rejected = 0;          // refused by SubmitTxs
  size_t committed_in_window = 0;
  double committed_tx_per_s = 0;  // committed_in_window / measured_s
  LatencyStats latency;           // txs submitted after warmup, submit -> commit seen
  std::map<std::string, size_t> rejects_by_reason;  // "RESOURCE_EXHAUSTED: mempool is full"
  std::map<std::string, size_t> failed_by_reason;   // receipt error codes
  bool ran_out_of_txs = false;  // the pre-signed txs were all sent before the duration ended
  double setup_s = 0;
  double signing_s = 0;
};

// "<code>: <message>" with digits and hex runs replaced by '#', so that one cause is one key
// ("tag # is already used by lot '#'").
std::string RejectReasonKey(std::string_view code, std::string_view message);

void PrintBenchSummary(std::ostream& out, const BenchSummary& summary);
std::string BenchSummaryJson(const BenchSummary& summary);

}  // namespace minetrace::cli
