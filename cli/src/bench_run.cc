#include "bench_run.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <iomanip>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "minetrace/base/assert.h"
#include "minetrace/ledger/proof/tx.h"
#include "node_client.h"
#include "submit.h"

namespace minetrace::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

constexpr size_t kClosedLoopPresign = 50'000;
constexpr auto kTick = std::chrono::milliseconds(2);
constexpr auto kSetupWait = std::chrono::milliseconds(60'000);
constexpr auto kCatchUpWait = std::chrono::seconds(60);
// With --txs, the run ends when every unit is done; this bounds a run whose node stopped.
constexpr auto kMaxTxsRun = std::chrono::hours(1);

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }
double Millis(SteadyClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

enum class TxState : uint8_t { kWaiting, kSent, kAdmitted, kRejected, kCommitted };

struct TxTrack {
  size_t unit = 0;
  size_t node = 0;
  TxState state = TxState::kWaiting;
  TimePoint sent_at{};
};

struct UnitTrack {
  size_t stage = 0;      // the stage in flight (or next to send)
  size_t remaining = 0;  // txs of that stage not yet committed OK
  bool dead = false;     // a tx was rejected or FAILED: later stages are never sent
  bool done = false;
};

// Everything the threads share, under `mu`.
struct RunState {
  std::mutex mu;
  std::condition_variable cv;  // senders wait for batches
  std::vector<TxTrack> txs;
  std::vector<std::vector<std::vector<size_t>>> unit_stage_txs;  // unit -> stage -> tx index
  std::vector<UnitTrack> units;
  std::deque<size_t> ready_units;  // a next stage became sendable
  std::vector<std::deque<std::vector<size_t>>> outbox;  // per node: batches to send
  bool closing = false;

  TimePoint window_start{};
  TimePoint window_end = TimePoint::max();
  size_t sent = 0;
  size_t admitted = 0;
  size_t rejected = 0;
  size_t committed_ok = 0;
  size_t committed_failed = 0;
  size_t skipped = 0;
  size_t committed_in_window = 0;
  size_t outstanding = 0;  // sent, neither rejected nor committed
  size_t units_finished = 0;
  std::vector<double> latencies_ms;  // of txs sent in the window
  std::vector<double> last_second_ms;
  std::map<std::string, size_t> rejects;
  std::map<std::string, size_t> failures;
  std::string stream_error;  // a commit stream that ended early
  TimePoint last_progress_at{};  // a tx of the run was last committed or rejected
};

// Called under mu: a unit's tx is over (committed OK or not); moves the unit along.
void FinishTx(RunState& s, size_t tx, bool ok) {
  UnitTrack& u = s.units[s.txs[tx].unit];
  if (u.done) return;
  if (!ok) {
    u.dead = true;
  } else {
    MT_ASSERT(u.remaining > 0);
    --u.remaining;
  }
  const auto& stages = s.unit_stage_txs[s.txs[tx].unit];
  // A dead unit is finished once nothing of its current stage is still out.
  bool stage_out = false;
  for (size_t i : stages[u.stage]) {
    stage_out |= s.txs[i].state == TxState::kSent || s.txs[i].state == TxState::kAdmitted;
  }
  if (u.dead) {
    if (!stage_out) {
      u.done = true;
      ++s.units_finished;
    }
    return;
  }
  if (u.remaining > 0) return;
  if (u.stage + 1 == stages.size()) {
    u.done = true;
    ++s.units_finished;
    return;
  }
  ++u.stage;
  u.remaining = stages[u.stage].size();
  s.ready_units.push_back(s.txs[tx].unit);
}

// Reads one node's commit stream and marks the txs that were sent to that node.
void ReadCommits(RunState& s, size_t node, grpc::ClientReader<v1::CommittedBlockSummary>& reader,
                 const std::unordered_map<std::string, size_t>& ids, const std::string& address) {
  v1::CommittedBlockSummary block;
  while (reader.Read(&block)) {
    const TimePoint now = SteadyClock::now();
    std::lock_guard lock(s.mu);
    for (const v1::CommittedTx& c : block.txs()) {
      auto it = ids.find(c.tx_id());
      if (it == ids.end()) continue;
      TxTrack& t = s.txs[it->second];
      if (t.node != node) continue;
      if (t.state != TxState::kSent && t.state != TxState::kAdmitted) continue;
      t.state = TxState::kCommitted;
      --s.outstanding;
      s.last_progress_at = now;
      const bool ok = !c.skipped() && c.status() == v1::TX_STATUS_OK;
      if (c.skipped()) {
        ++s.skipped;
        ++s.failures["skipped: " + c.reason()];
      } else if (ok) {
        ++s.committed_ok;
      } else {
        ++s.committed_failed;
        ++s.failures[RejectReasonKey(c.error_code(), c.reason())];
      }
      if (!c.skipped() && now >= s.window_start && now <= s.window_end) ++s.committed_in_window;
      if (t.sent_at >= s.window_start) {
        const double ms = Millis(now - t.sent_at);
        s.latencies_ms.push_back(ms);
        s.last_second_ms.push_back(ms);
      }
      FinishTx(s, it->second, ok);
    }
  }
  grpc::Status status = reader.Finish();
  std::lock_guard lock(s.mu);
  if (!s.closing && s.stream_error.empty()) {
    s.stream_error = "WatchCommits on " + address + " ended: " +
                     std::string(GrpcCodeName(status.error_code())) + ": " +
                     status.error_message();
  }
}

// Sends one node's batches in order, one SubmitTxs call at a time.
void SendBatches(RunState& s, size_t node, NodeClient& client,
                 const std::vector<const v1::SignedTx*>& signed_txs, size_t max_batch) {
  for (;;) {
    std::vector<size_t> batch;
    {
      std::unique_lock lock(s.mu);
      s.cv.wait(lock, [&] { return s.closing || !s.outbox[node].empty(); });
      // At the end, batches still queued are dropped: their txs stay counted as uncommitted.
      if (s.closing || s.outbox[node].empty()) return;
      // Everything queued while the last call ran goes in one call, up to the batch bound.
      while (!s.outbox[node].empty() &&
             batch.size() + s.outbox[node].front().size() <= max_batch) {
        auto& next = s.outbox[node].front();
        batch.insert(batch.end(), next.begin(), next.end());
        s.outbox[node].pop_front();
      }
      if (batch.empty()) {  // a batch larger than the bound was queued whole
        batch = std::move(s.outbox[node].front());
        s.outbox[node].pop_front();
      }
    }
    v1::SubmitTxsRequest request;
    for (size_t i : batch) *request.add_txs() = *signed_txs[i];
    auto response = client.SubmitTxs(request);
    std::lock_guard lock(s.mu);
    for (size_t j = 0; j < batch.size(); ++j) {
      TxTrack& t = s.txs[batch[j]];
      std::string reason;
      if (!response) {
        reason = RejectReasonKey(response.error().code_name, response.error().message);
      } else if (static_cast<int>(j) >= response->results_size()) {
        reason = "INTERNAL: the node answered fewer results than txs";
      } else if (response->results(static_cast<int>(j)).code() != 0) {
        const auto& a = response->results(static_cast<int>(j));
        reason = RejectReasonKey(GrpcCodeName(static_cast<grpc::StatusCode>(a.code())),
                                 a.message());
      }
      if (reason.empty()) {
        ++s.admitted;
        if (t.state == TxState::kSent) t.state = TxState::kAdmitted;
        continue;
      }
      // Already committed (seen on the stream before this answer): nothing to undo.
      if (t.state == TxState::kCommitted) continue;
      t.state = TxState::kRejected;
      s.last_progress_at = SteadyClock::now();
      ++s.rejected;
      --s.outstanding;
      ++s.rejects[reason];
      FinishTx(s, batch[j], false);
    }
  }
}

// Submits setup txs and waits for each; a Failure unless every one committed OK.
CommandResult<> CommitSetup(NodeClient& client, const std::vector<v1::SignedTx>& txs,
                            std::ostream& err, bool err_is_terminal, const std::string& what) {
  if (txs.empty()) return {};
  Progress progress(err, err_is_terminal);
  SubmitOptions options;
  options.wait = true;
  options.wait_timeout = kSetupWait;
  auto results = SubmitBatch(client, txs, options, progress);
  if (!results) return tl::unexpected(results.error());
  for (const BatchTxResult& r : *results) {
    if (r.outcome == TxOutcome::kOk) continue;
    return Fail(ExitCode::kFailed, "bench setup: " + what, r.code.empty() ? "FAILED" : r.code,
                "tx " + std::to_string(r.index) + " of " + std::to_string(results->size()) +
                    " (" + r.action + ") is " + std::string(TxOutcomeName(r.outcome)) + ": " +
                    r.reason + (r.code == "ALREADY_EXISTS" ? " (use another --seed)" : ""));
  }
  return {};
}

std::string Fixed(double v, int decimals) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(decimals) << v;
  return s.str();
}

}  // namespace

size_t PresignCount(const BenchConfig& c) {
  if (c.presign > 0) return c.presign;
  if (c.txs) return *c.txs;
  if (c.rate && c.duration_s) {
    // Chains still under way when the time is up hold txs never sent: sign twice as many.
    const double factor = c.workload == Workload::kMineLots ? 1.0 : 2.0;
    return static_cast<size_t>(std::ceil(factor * *c.rate * (c.warmup_s + *c.duration_s)));
  }
  return kClosedLoopPresign;
}

CommandResult<BenchSummary> RunBench(const BenchConfig& config, const Clock& clock,
                                     std::ostream& err, bool err_is_terminal,
                                     const std::function<uint64_t()>& nonce) {
  MT_ASSERT(!config.nodes.empty());
  MT_ASSERT(config.admin.has_value());
  MT_ASSERT(config.rate.has_value() != config.in_flight.has_value());
  MT_ASSERT(config.duration_s.has_value() != config.txs.has_value());
  const size_t n_nodes = config.nodes.size();
  BenchSummary summary;
  summary.workload = std::string(WorkloadName(config.workload));
  summary.mode = config.rate ? "open-loop" : "closed-loop";
  summary.target_rate = config.rate.value_or(0);
  summary.in_flight = config.in_flight.value_or(0);
  summary.nodes = config.nodes;
  summary.keys = config.keys;
  summary.warmup_s = config.warmup_s;

  // ---- reach every node; the first names the chain ----
  std::vector<std::unique_ptr<NodeClient>> senders;
  std::vector<std::unique_ptr<NodeClient>> watchers;
  std::vector<uint64_t> heights;
  std::string chain_id;
  for (const std::string& address : config.nodes) {
    senders.push_back(std::make_unique<NodeClient>(address, config.timeout));
    watchers.push_back(std::make_unique<NodeClient>(address, config.timeout));
    auto status = senders.back()->Status();
    if (!status) return tl::unexpected(status.error());
    if (chain_id.empty()) chain_id = status->chain_id();
    if (status->chain_id() != chain_id) {
      return Fail(ExitCode::kUsage, "bench", "INVALID_ARGUMENT",
                  address + " is on chain '" + status->chain_id() + "', " + config.nodes[0] +
                      " on '" + chain_id + "': give nodes of one network");
    }
  }

  // ---- sign everything before the clock starts ----
  auto world = MakeBenchWorld(config.seed, config.keys);
  if (!world) return UsageFailure("bench --keys", world.error());
  summary.run_id = world->run_id;
  const TimePoint signing_started = SteadyClock::now();
  PlanParams params;
  params.workload = config.workload;
  params.load_txs = PresignCount(config);
  params.chain_id = chain_id;
  params.now_ms = clock.NowUnixMs();
  params.nonce = nonce;
  params.signing_threads = std::max(1u, std::thread::hardware_concurrency());
  err << "bench: run " << world->run_id << ": signing " << params.load_txs << " load txs for "
      << world->agents.size() * 3 << " members on " << n_nodes << " node(s)\n";
  WorkloadPlan plan = PlanWorkload(*world, *config.admin, params);
  summary.presigned = plan.load_txs;

  RunState s;
  std::unordered_map<std::string, size_t> ids;
  std::vector<const v1::SignedTx*> signed_txs;
  ids.reserve(plan.load_txs);
  s.units.resize(plan.units.size());
  s.unit_stage_txs.resize(plan.units.size());
  for (size_t u = 0; u < plan.units.size(); ++u) {
    for (const auto& stage : plan.units[u].stages) {
      auto& stage_txs = s.unit_stage_txs[u].emplace_back();
      for (const v1::SignedTx& tx : stage) {
        const Hash32 id = ledger::proof::TxId(tx);
        const size_t index = s.txs.size();
        ids.emplace(std::string(id.begin(), id.end()), index);
        s.txs.push_back(TxTrack{u, u % n_nodes, TxState::kWaiting, {}});
        signed_txs.push_back(&tx);
        stage_txs.push_back(index);
      }
    }
    s.units[u].remaining = s.unit_stage_txs[u][0].size();
  }
  summary.signing_s = Seconds(SteadyClock::now() - signing_started);

  // ---- setup: members and sites, then tags; every node must have them ----
  const TimePoint setup_started = SteadyClock::now();
  err << "bench: setup: " << plan.setup_members_sites.size() << " members and sites, "
      << plan.setup_tags.size() << " tag allocations\n";
  auto members = CommitSetup(*senders[0], plan.setup_members_sites, err, err_is_terminal,
                             "members and sites");
  if (!members) return tl::unexpected(members.error());
  auto tags = CommitSetup(*senders[0], plan.setup_tags, err, err_is_terminal, "tags");
  if (!tags) return tl::unexpected(tags.error());
  auto head = senders[0]->Status();
  if (!head) return tl::unexpected(head.error());
  for (size_t i = 0; i < n_nodes; ++i) {
    const TimePoint deadline = SteadyClock::now() + kCatchUpWait;
    for (;;) {
      auto status = senders[i]->Status();
      if (!status) return tl::unexpected(status.error());
      if (status->leaf_count() >= head->leaf_count()) {
        heights.push_back(status->height());
        break;
      }
      if (SteadyClock::now() > deadline) {
        return Fail(ExitCode::kFailed, "bench setup", "DEADLINE_EXCEEDED",
                    config.nodes[i] + " did not reach the setup's " +
                        std::to_string(head->leaf_count()) + " leaves within 60 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  summary.setup_s = Seconds(SteadyClock::now() - setup_started);

  // ---- the run ----
  s.outbox.resize(n_nodes);
  std::vector<std::unique_ptr<grpc::ClientContext>> stream_contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::CommittedBlockSummary>>> streams;
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n_nodes; ++i) {
    stream_contexts.push_back(std::make_unique<grpc::ClientContext>());
    // From the height after the one seen: no commit is missed, however late the stream opens.
    streams.push_back(watchers[i]->OpenCommitStream(*stream_contexts[i], heights[i] + 1));
  }
  for (size_t i = 0; i < n_nodes; ++i) {
    threads.emplace_back([&, i] { ReadCommits(s, i, *streams[i], ids, config.nodes[i]); });
    threads.emplace_back([&, i] { SendBatches(s, i, *senders[i], signed_txs, config.max_batch); });
  }
  auto stop_threads = [&] {
    {
      std::lock_guard lock(s.mu);
      s.closing = true;
    }
    s.cv.notify_all();
    for (auto& ctx : stream_contexts) ctx->TryCancel();
    for (auto& t : threads) t.join();
  };

  const TimePoint start = SteadyClock::now();
  const auto warmup = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(config.warmup_s));
  {
    std::lock_guard lock(s.mu);
    s.window_start = start + warmup;
    s.last_progress_at = start;
  }
  const std::optional<TimePoint> send_until =
      config.duration_s ? std::optional<TimePoint>(
                              s.window_start +
                              std::chrono::duration_cast<SteadyClock::duration>(
                                  std::chrono::duration<double>(*config.duration_s)))
                        : std::nullopt;
  const Pacer pacer(config.rate.value_or(0), config.max_batch * n_nodes);
  size_t next_unit = 0;
  TimePoint next_progress = start + std::chrono::seconds(1);
  size_t committed_at_last_progress = 0;
  TimePoint sending_stopped{};
  bool sending = true;
  std::string stream_error;

  for (TimePoint now = start;; now = SteadyClock::now()) {
    {
      std::lock_guard lock(s.mu);
      if (!s.stream_error.empty()) {
        stream_error = s.stream_error;
        break;
      }
      if (sending) {
        // With --txs the run ends when every unit is over; a node that stops committing
        // (nothing committed or rejected for the drain time) ends it too.
        const bool stalled =
            !send_until && s.outstanding > 0 &&
            now - s.last_progress_at >= std::chrono::duration<double>(config.drain_s);
        const bool time_up =
            send_until ? now >= *send_until : (stalled || now - start >= kMaxTxsRun);
        const bool all_started = next_unit == plan.units.size() && s.ready_units.empty();
        if (time_up || (all_started && s.units_finished == plan.units.size())) {
          sending = false;
          sending_stopped = now;
          if (send_until) s.window_end = now;
        }
      }
      if (sending) {
        size_t quota = config.rate ? pacer.Due(now - start, s.sent)
                                   : (s.outstanding < *config.in_flight
                                          ? *config.in_flight - s.outstanding
                                          : 0);
        std::vector<std::vector<size_t>> batches(n_nodes);
        auto send_stage = [&](size_t unit) {
          const UnitTrack& u = s.units[unit];
          for (size_t i : s.unit_stage_txs[unit][u.stage]) {
            TxTrack& t = s.txs[i];
            t.state = TxState::kSent;
            t.sent_at = now;
            batches[t.node].push_back(i);
            ++s.sent;
            ++s.outstanding;
          }
          quota -= std::min(quota, s.unit_stage_txs[unit][u.stage].size());
        };
        // Dependent steps first (their lots wait), then new units.
        while (quota > 0 && !s.ready_units.empty()) {
          const size_t unit = s.ready_units.front();
          s.ready_units.pop_front();
          send_stage(unit);
        }
        while (quota > 0 && next_unit < plan.units.size()) send_stage(next_unit++);
        // The load wanted more than the pre-signed txs could give.
        if (quota > 0 && next_unit == plan.units.size() && send_until) {
          summary.ran_out_of_txs = true;
        }
        for (size_t i = 0; i < n_nodes; ++i) {
          for (size_t first = 0; first < batches[i].size(); first += config.max_batch) {
            const size_t last = std::min(batches[i].size(), first + config.max_batch);
            s.outbox[i].emplace_back(batches[i].begin() + static_cast<std::ptrdiff_t>(first),
                                     batches[i].begin() + static_cast<std::ptrdiff_t>(last));
          }
        }
      }
      if (!sending) {
        const bool drained = s.outstanding == 0;
        const bool drain_over = now - sending_stopped >=
                                std::chrono::duration<double>(config.drain_s);
        if (drained || drain_over) {
          if (!send_until) s.window_end = now;
          break;
        }
      }
      if (now >= next_progress) {
        std::vector<double> last = std::move(s.last_second_ms);
        s.last_second_ms.clear();
        const size_t committed = s.committed_ok + s.committed_failed + s.skipped;
        err << "bench " << Fixed(Seconds(now - start), 0) << " s"
            << (now < s.window_start ? " (warmup)" : "") << (sending ? "" : " (draining)")
            << ": sent " << s.sent << ", committed " << committed << " (+"
            << committed - committed_at_last_progress << "), in flight " << s.outstanding
            << ", rejected " << s.rejected << ", FAILED " << s.committed_failed;
        if (!last.empty()) {
          LatencyStats l = SummarizeLatencies(std::move(last));
          err << ", latency p50 " << Fixed(l.p50_ms, 1) << " ms p99 " << Fixed(l.p99_ms, 1)
              << " ms";
        }
        err << '\n';
        committed_at_last_progress = committed;
        next_progress += std::chrono::seconds(1);
      }
    }
    s.cv.notify_all();
    std::this_thread::sleep_for(kTick);
  }
  stop_threads();
  if (!stream_error.empty()) return Fail(ExitCode::kFailed, "bench", "UNAVAILABLE", stream_error);

  summary.sent = s.sent;
  summary.admitted = s.admitted;
  summary.rejected = s.rejected;
  summary.committed_ok = s.committed_ok;
  summary.committed_failed = s.committed_failed;
  summary.skipped = s.skipped;
  summary.uncommitted = s.outstanding;
  summary.committed_in_window = s.committed_in_window;
  summary.measured_s = Seconds(s.window_end - s.window_start);
  if (summary.measured_s > 0) {
    summary.committed_tx_per_s =
        static_cast<double>(s.committed_in_window) / summary.measured_s;
  }
  summary.latency = SummarizeLatencies(std::move(s.latencies_ms));
  summary.rejects_by_reason = std::move(s.rejects);
  summary.failed_by_reason = std::move(s.failures);
  return summary;
}

}  // namespace minetrace::cli
