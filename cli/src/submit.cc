#include "submit.h"

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <thread>

#include "format.h"
#include "minetrace/base/assert.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::cli {
namespace {

constexpr int kAlreadyExists = static_cast<int>(grpc::StatusCode::ALREADY_EXISTS);
// How long to look for a tx the node says it already has when not waiting: enough for the
// node to answer from its mempool or store, not a wait for a block.
constexpr std::chrono::milliseconds kLookupWait{1};
constexpr size_t kBarWidth = 30;
constexpr int kResourceExhausted = static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED);
// A batch larger than the node's mempool is uploaded in rounds, each after a commit.
constexpr int kMaxFullMempoolWaits = 1000;
constexpr std::chrono::milliseconds kFullMempoolPause{1000};

// RESOURCE_EXHAUSTED also means "this tx is too large", which no wait cures.
bool IsMempoolFull(const std::string& message) {
  return message.find("mempool is full") != std::string::npos;
}

void FromReceipt(const v1::TxWithReceipt& committed, BatchTxResult& r) {
  const v1::Receipt& receipt = committed.receipt();
  r.outcome = receipt.status() == v1::TX_STATUS_OK ? TxOutcome::kOk : TxOutcome::kFailed;
  r.height = receipt.height();
  r.code = receipt.status() == v1::TX_STATUS_OK ? "" : receipt.error_code();
  r.reason = receipt.reason();
  r.anomalies.assign(receipt.anomalies().begin(), receipt.anomalies().end());
}

}  // namespace

void Progress::Start(std::string_view phase, size_t total) {
  phase_ = std::string(phase);
  total_ = total;
  quarters_shown_ = 0;
  drawn_ = false;
  Update(0);
}

void Progress::Update(size_t done) {
  MT_ASSERT(done <= total_);
  if (terminal_) {
    const size_t filled = total_ == 0 ? kBarWidth : done * kBarWidth / total_;
    err_ << "\r" << phase_ << " [" << std::string(filled, '#')
         << std::string(kBarWidth - filled, '-') << "] " << done << "/" << total_ << std::flush;
    drawn_ = true;
    return;
  }
  // Plain output (a log file, a pipe): a line at each quarter reached, never a flood.
  const size_t quarters = total_ == 0 ? 4 : done * 4 / total_;
  if (done == 0 || quarters <= quarters_shown_) return;
  quarters_shown_ = quarters;
  err_ << "minetrace: " << phase_ << " " << done << "/" << total_ << '\n';
}

void Progress::Finish() {
  if (terminal_ && drawn_) err_ << '\n' << std::flush;
  drawn_ = false;
}

std::string_view TxOutcomeName(TxOutcome outcome) {
  switch (outcome) {
    case TxOutcome::kOk:
      return "OK";
    case TxOutcome::kFailed:
      return "FAILED";
    case TxOutcome::kRefused:
      return "refused";
    case TxOutcome::kPending:
      return "pending";
  }
  return "?";
}

CommandResult<std::vector<BatchTxResult>> SubmitBatch(NodeClient& client,
                                                      std::span<const v1::SignedTx> txs,
                                                      const SubmitOptions& options,
                                                      Progress& progress) {
  MT_ASSERT(options.chunk_txs > 0);
  std::vector<BatchTxResult> results(txs.size());
  std::vector<int> admission(txs.size(), 0);
  for (size_t i = 0; i < txs.size(); ++i) {
    BatchTxResult& r = results[i];
    r.index = i + 1;
    r.tx_id = ledger::proof::TxId(txs[i]);
    v1::TxBody body;
    if (body.ParseFromString(txs[i].body())) {
      r.action = SummarizeTxBody(body);
      r.device_time_ms = body.created_at_ms();
    } else {
      r.action = "(the body does not parse as a TxBody)";
    }
  }

  // Upload in order: a later tx may depend on an earlier one (dispatch after record), and the
  // node admits each against the pending state of those before it.
  progress.Start("uploaded", txs.size());
  std::vector<bool> admitted_now(txs.size(), false);
  int full_mempool_waits = 0;
  size_t next = 0;
  while (next < txs.size()) {
    v1::SubmitTxsRequest request;
    size_t bytes = 0;
    const size_t first = next;
    while (next < txs.size() && static_cast<size_t>(request.txs_size()) < options.chunk_txs) {
      const size_t size = txs[next].ByteSizeLong();
      if (request.txs_size() > 0 && bytes + size > options.chunk_bytes) break;
      *request.add_txs() = txs[next];
      bytes += size;
      ++next;
    }
    auto response = client.SubmitTxs(request);
    if (!response) {
      progress.Finish();
      Failure f = response.error();
      f.message += " (after " + std::to_string(first) + " of " + std::to_string(txs.size()) +
                   " txs were uploaded; uploading the batch again is harmless)";
      return tl::unexpected(std::move(f));
    }
    if (response->results_size() != request.txs_size()) {
      progress.Finish();
      return Fail(ExitCode::kFailed, "SubmitTxs on " + client.address(), "INTERNAL",
                  "the node answered " + std::to_string(response->results_size()) +
                      " results for " + std::to_string(request.txs_size()) + " txs");
    }
    // A full mempool is transient: resume from the first tx it refused once blocks drain it.
    size_t resume = txs.size();
    for (int j = 0; j < response->results_size(); ++j) {
      const size_t i = first + static_cast<size_t>(j);
      const v1::TxAdmission& a = response->results(j);
      if (a.code() == kResourceExhausted && IsMempoolFull(a.message()) &&
          full_mempool_waits < kMaxFullMempoolWaits) {
        resume = std::min(resume, i);
        continue;
      }
      // Admitted earlier in this run, before a full mempool made us resend it.
      if (admitted_now[i] && a.code() == kAlreadyExists) continue;
      BatchTxResult& r = results[i];
      admission[i] = a.code();
      admitted_now[i] = a.code() == 0;
      r.code.clear();
      r.reason.clear();
      r.outcome = TxOutcome::kPending;
      if (a.code() == 0) continue;
      r.code = std::string(GrpcCodeName(static_cast<grpc::StatusCode>(a.code())));
      r.reason = a.message();
      r.outcome = TxOutcome::kRefused;
    }
    if (resume < txs.size()) {
      ++full_mempool_waits;
      // Wait for the newest tx we got in before it to commit; with none, give blocks a moment.
      size_t k = resume;
      while (k > 0 && !admitted_now[k - 1]) --k;
      if (k > 0) {
        auto waited = client.WaitTx(results[k - 1].tx_id, options.wait_timeout);
        if (!waited && waited.error().exit_code == ExitCode::kUnreachable) {
          progress.Finish();
          return tl::unexpected(waited.error());
        }
      } else {
        std::this_thread::sleep_for(kFullMempoolPause);
      }
      next = resume;
    }
    progress.Update(next);
  }
  progress.Finish();

  // What became of each: the receipt of a committed tx, or still pending, or refused.
  const bool look = options.wait ||
                    std::any_of(admission.begin(), admission.end(),
                                [](int code) { return code == kAlreadyExists; });
  if (!look) return results;
  progress.Start(options.wait ? "committed" : "looked up", txs.size());
  bool node_stalled = false;
  for (size_t i = 0; i < txs.size(); ++i) {
    BatchTxResult& r = results[i];
    const bool already = admission[i] == kAlreadyExists;
    if (admission[i] != 0 && !already) {
      progress.Update(i + 1);
      continue;
    }
    if (!options.wait && !already) {
      progress.Update(i + 1);
      continue;
    }
    // Once one wait runs out the node is not committing; do not spend a full wait per tx.
    const auto wait = options.wait && !node_stalled ? options.wait_timeout : kLookupWait;
    auto committed = client.WaitTx(r.tx_id, wait);
    if (committed) {
      FromReceipt(*committed, r);
      r.already = already;
    } else if (committed.error().code_name == "NOT_FOUND") {
      // Neither pending nor committed: for ALREADY_EXISTS the admission refusal was a rule
      // (keep its message); for an admitted tx the node dropped it (a restart).
      if (!already) {
        r.code = "NOT_FOUND";
        r.reason = "admitted but no longer pending nor committed (the node restarted?); "
                   "upload the batch again";
      }
      r.outcome = TxOutcome::kRefused;
    } else if (committed.error().code_name == "DEADLINE_EXCEEDED" &&
               committed.error().exit_code != ExitCode::kUnreachable) {
      r.outcome = TxOutcome::kPending;
      r.code.clear();
      r.reason.clear();
      r.already = already;
      if (options.wait) node_stalled = true;
    } else {
      progress.Finish();
      Failure f = committed.error();
      f.what = "wait for tx " + ToHex(r.tx_id) + ": " + f.what;
      return tl::unexpected(std::move(f));
    }
    progress.Update(i + 1);
  }
  progress.Finish();
  return results;
}

BatchCounts CountResults(const std::vector<BatchTxResult>& results) {
  BatchCounts c;
  for (const BatchTxResult& r : results) {
    switch (r.outcome) {
      case TxOutcome::kOk:
        ++c.ok;
        break;
      case TxOutcome::kFailed:
        ++c.failed;
        break;
      case TxOutcome::kRefused:
        ++c.refused;
        break;
      case TxOutcome::kPending:
        ++c.pending;
        break;
    }
    if (r.already) ++c.already;
  }
  return c;
}

std::string CountLine(const BatchCounts& c, size_t total) {
  std::string line = std::to_string(total) + (total == 1 ? " tx: " : " txs: ") +
                     std::to_string(c.ok) + " OK, " + std::to_string(c.failed) + " FAILED, " +
                     std::to_string(c.refused) + " refused, " + std::to_string(c.pending) +
                     " pending";
  if (c.already > 0) {
    line += " (" + std::to_string(c.already) + (c.already == 1 ? " was" : " were") +
            " already on the node)";
  }
  return line;
}

void PrintBatchTable(std::ostream& out, const std::vector<BatchTxResult>& results) {
  const size_t index_width = std::max<size_t>(1, std::to_string(results.size()).size());
  out << std::left << std::setw(static_cast<int>(index_width)) << "#" << "  "
      << std::setw(16) << "tx" << "  " << std::setw(24) << "device time" << "  "
      << std::setw(24) << "result" << "  action\n";
  for (const BatchTxResult& r : results) {
    std::string result(TxOutcomeName(r.outcome));
    if (r.outcome == TxOutcome::kOk || r.outcome == TxOutcome::kFailed) {
      result += " height " + std::to_string(r.height);
    }
    if (r.already) result += " (already)";
    out << std::right << std::setw(static_cast<int>(index_width)) << r.index << std::left << "  "
        << ToHex(r.tx_id).substr(0, 16) << "  " << std::setw(24) << FormatTimeMs(r.device_time_ms)
        << "  " << std::setw(24) << result << "  " << r.action << '\n';
    const std::string pad(index_width + 2, ' ');
    if (r.outcome == TxOutcome::kFailed || r.outcome == TxOutcome::kRefused) {
      out << pad << (r.code.empty() ? "" : r.code + ": ")
          << (r.reason.empty() ? "(no reason given)" : r.reason) << '\n';
    }
    for (const v1::Anomaly& a : r.anomalies) out << pad << AnomalyLine(a) << '\n';
  }
  out << CountLine(CountResults(results), results.size()) << '\n';
}

Result<std::string> BatchResultsJson(const std::vector<BatchTxResult>& results) {
  std::string json = "{\"results\":[";
  for (size_t i = 0; i < results.size(); ++i) {
    const BatchTxResult& r = results[i];
    json += i ? "," : "";
    json += "{\"index\":" + std::to_string(r.index) + ",\"txId\":\"" + ToHex(r.tx_id) +
            "\",\"action\":" + JsonString(r.action) + ",\"deviceTimeMs\":\"" +
            std::to_string(r.device_time_ms) + "\",\"result\":" +
            JsonString(TxOutcomeName(r.outcome)) + ",\"already\":" +
            (r.already ? "true" : "false") + ",\"height\":\"" + std::to_string(r.height) +
            "\",\"code\":" + JsonString(r.code) + ",\"reason\":" + JsonString(r.reason) +
            ",\"anomalies\":[";
    for (size_t j = 0; j < r.anomalies.size(); ++j) {
      auto a = ToJson(r.anomalies[j]);
      if (!a) return a;
      json += (j ? "," : "") + *a;
    }
    json += "]}";
  }
  const BatchCounts c = CountResults(results);
  json += "],\"counts\":{\"total\":" + std::to_string(results.size()) +
          ",\"ok\":" + std::to_string(c.ok) + ",\"failed\":" + std::to_string(c.failed) +
          ",\"refused\":" + std::to_string(c.refused) + ",\"pending\":" +
          std::to_string(c.pending) + ",\"already\":" + std::to_string(c.already) + "}}";
  return json;
}

}  // namespace minetrace::cli
