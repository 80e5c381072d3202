// Mine logbooks as CSV, for `minetrace import-logbook`: each data row is one weighed, tagged
// mine lot, turned into a RecordMineLot body. The first row names the columns (any order,
// case-insensitive):
//   tag_id         the tag attached to the bag; becomes the lot id          (required)
//   site_id        the mine site                                            (required)
//   mineral        cassiterite, wolframite or coltan                        (required)
//   weight_kg      kg with up to 3 decimals, e.g. 25.3                      (required)
//   grade_percent  percent with up to 2 decimals, e.g. 45.5                 (required)
//   producer_key   the producing cooperative: 64 hex characters or a .pub   (required)
//   recorded_at    UTC time the bag was weighed, 2026-03-01T09:30:00Z; it   (optional)
//                  becomes the tx's device time (created_at_ms); empty or
//                  absent: the time of signing
// Fields follow RFC 4180: a field in double quotes may hold commas, line breaks and doubled
// quotes (""); spaces around unquoted fields are ignored; CRLF or LF line ends; a UTF-8 byte
// order mark (spreadsheets write one) is skipped. Blank rows (no characters or only commas)
// are skipped. A bad row is reported with its line number (where the row starts) and does not
// stop the others; a bad header stops everything.
// Thread-safety: free functions over values (a producer_key naming a .pub file reads it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/base/result.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::cli {

// At most this many data rows per file (a logbook covers days or weeks of one site).
inline constexpr size_t kMaxLogbookRows = 100'000;

// The documented column names, comma-separated in the order above.
std::string LogbookColumns();

// One CSV record: the line it starts on (1-based) and its fields, or why it cannot be read.
struct CsvRecord {
  size_t line = 0;
  std::vector<std::string> fields;
  std::string error;  // non-empty: unterminated quote, text after a closing quote
};

// Splits CSV text into records. Never fails as a whole: a broken record carries its error
// and, for an unterminated quote, is the last one.
std::vector<CsvRecord> ParseCsv(std::string_view text);

struct LogbookRow {
  size_t line = 0;
  v1::TxBody body;  // record_mine_lot set; created_at_ms from recorded_at, else 0
};

struct LogbookRowError {
  size_t line = 0;
  std::string reason;  // for a person: which column, what is wrong
};

struct Logbook {
  std::vector<LogbookRow> rows;
  std::vector<LogbookRowError> errors;  // in line order
  size_t data_rows = 0;                 // rows read after the header, blank rows not counted
};

// Parses a whole logbook. kInvalidArgument ("line 1: ...") when the file is empty, the header
// names an unknown or repeated column or lacks a required one, or there are too many rows.
Result<Logbook> ParseLogbook(std::string_view csv_text);

}  // namespace minetrace::cli
