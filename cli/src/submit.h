// Uploading many signed transactions (`minetrace submit-batch`, `minetrace import-logbook
// --node`): SubmitTxs in chunks, then, per tx, what became of it. Resubmitting is harmless:
// a tx the node already has (ALREADY_EXISTS) is looked up, and reported with its receipt if it
// committed or as pending if it is still in the mempool; an ALREADY_EXISTS that is a domain
// refusal (the lot exists because another tx made it) is neither, and is reported refused.
// Progress goes to stderr: a bar redrawn in place on a terminal, else a line at every quarter.
// Not thread-safe: one upload at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "failure.h"
#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/v1/ledger.pb.h"
#include "node_client.h"

namespace minetrace::cli {

// Progress of a long operation on stderr.
class Progress {
 public:
  // `terminal`: redraw one bar with '\r'; otherwise print a plain line at 25/50/75/100 %.
  Progress(std::ostream& err, bool terminal) : err_(err), terminal_(terminal) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Start(std::string_view phase, size_t total);  // e.g. "uploaded", 120
  void Update(size_t done);
  void Finish();  // ends the bar's line

 private:
  std::ostream& err_;
  bool terminal_;
  std::string phase_;
  size_t total_ = 0;
  size_t quarters_shown_ = 0;
  bool drawn_ = false;
};

enum class TxOutcome {
  kOk,       // committed with an OK receipt
  kFailed,   // committed with a FAILED receipt (a domain rule refused it at execution)
  kRefused,  // the node did not admit it (the reason is the node's)
  kPending,  // admitted, not committed yet (no --wait, or the wait ran out)
};

std::string_view TxOutcomeName(TxOutcome outcome);  // "OK", "FAILED", "refused", "pending"

struct BatchTxResult {
  size_t index = 0;  // 1-based position in the batch
  Hash32 tx_id{};
  std::string action;  // SummarizeTxBody, or why the body does not parse
  int64_t device_time_ms = 0;
  TxOutcome outcome = TxOutcome::kPending;
  bool already = false;  // the node had it before this upload
  uint64_t height = 0;   // committed: the block
  std::string code;      // FAILED: the receipt's error code; refused: the gRPC code name
  std::string reason;
  std::vector<v1::Anomaly> anomalies;
};

struct SubmitOptions {
  bool wait = false;  // wait for each tx to commit
  std::chrono::milliseconds wait_timeout{10000};
  size_t chunk_txs = 256;          // the node takes at most 1000 per SubmitTxs
  size_t chunk_bytes = 512 << 10;  // and at most its max_request_bytes (1 MiB by default)
};

// Uploads `txs` in order and reports each. A Failure only when the node cannot be reached
// or answers a call with an error (what was uploaded before stays uploaded: run it again).
CommandResult<std::vector<BatchTxResult>> SubmitBatch(NodeClient& client,
                                                      std::span<const v1::SignedTx> txs,
                                                      const SubmitOptions& options,
                                                      Progress& progress);

struct BatchCounts {
  size_t ok = 0;
  size_t failed = 0;
  size_t refused = 0;
  size_t pending = 0;
  size_t already = 0;
};
BatchCounts CountResults(const std::vector<BatchTxResult>& results);
// "5 txs: 3 OK, 1 FAILED, 1 refused, 0 pending (2 were already on the node)".
std::string CountLine(const BatchCounts& counts, size_t total);

// The per-tx table: "#  tx  device time  result  action", then an indented reason line for a
// FAILED or refused tx and a line per anomaly, then the count line.
void PrintBatchTable(std::ostream& out, const std::vector<BatchTxResult>& results);
// {"results":[{"index","txId","action","deviceTimeMs","result","already","height","code",
// "reason","anomalies":[Anomaly JSON]}],"counts":{"total","ok","failed","refused","pending",
// "already"}} with uint64/int64 as decimal strings like protobuf JSON.
Result<std::string> BatchResultsJson(const std::vector<BatchTxResult>& results);

}  // namespace minetrace::cli
