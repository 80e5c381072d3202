// Batch files of signed transactions, for agents who sign offline (`minetrace tx ... --offline
// --out FILE`, `minetrace import-logbook ... --offline --out FILE`) and upload later
// (`minetrace submit-batch FILE`).
//
// Format: a sequence of records, each a 4-byte big-endian length N (1..kMaxBatchRecordBytes)
// followed by N bytes, a serialized minetrace.v1.SignedTx. Nothing else: no header, no
// trailer; an empty file is an empty batch. Records are only ever appended.
//
// Appending never damages earlier records: the file is opened for append and locked, the
// existing records are checked first (a damaged file is refused, not extended), all new
// records go in one write, and the file is fsynced before success is reported. A write that
// fails part-way is cut back to the old size. Reading refuses a truncated tail, naming the
// record (1-based), so an interrupted append is found rather than silently dropped.
// Thread-safety: free functions; concurrent appenders to one file are serialized by flock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/base/result.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::cli {

// A record larger than this is not a transaction (nodes refuse txs above 16 KiB by default).
inline constexpr uint32_t kMaxBatchRecordBytes = 1u << 20;

// The records of a batch file's bytes. kDataLoss naming the record number and what is wrong
// (truncated length or body, a length of 0 or above the limit, bytes that do not parse).
Result<std::vector<v1::SignedTx>> ParseBatch(std::string_view bytes);

// Reads and parses a batch file (kNotFound when it cannot be opened).
Result<std::vector<v1::SignedTx>> ReadBatch(const std::filesystem::path& file);

// Appends `txs` (at least one) to `file`, creating it (mode 0644) if needed. Returns the
// number of records the file held before, so the first new record is that + 1.
Result<size_t> AppendToBatch(const std::filesystem::path& file, std::span<const v1::SignedTx> txs);

// One record's bytes: the 4-byte big-endian length and the serialized tx.
std::string EncodeBatchRecord(const v1::SignedTx& tx);

}  // namespace minetrace::cli
