#include "logbook.h"

#include <array>
#include <cctype>
#include <map>
#include <optional>

#include "parse.h"

namespace minetrace::cli {
namespace {

enum Column : size_t {
  kTagId,
  kSiteId,
  kMineral,
  kWeightKg,
  kGradePercent,
  kProducerKey,
  kRecordedAt,
  kColumnCount,
};

constexpr std::array<std::string_view, kColumnCount> kColumnNames = {
    "tag_id", "site_id", "mineral", "weight_kg", "grade_percent", "producer_key", "recorded_at"};

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsBlank(const CsvRecord& r) {
  for (const std::string& f : r.fields) {
    if (!f.empty()) return false;
  }
  return r.error.empty();
}

// Converts one data row; the error message names the column.
Result<v1::TxBody> RowBody(const std::vector<std::string>& f,
                           const std::array<std::optional<size_t>, kColumnCount>& at) {
  auto value = [&](Column c) -> std::string_view {
    return at[c] ? std::string_view(f[*at[c]]) : std::string_view();
  };
  auto required = [&](Column c) -> Result<std::string_view> {
    if (value(c).empty()) {
      return MakeError(ErrorCode::kInvalidArgument, std::string(kColumnNames[c]) + " is empty");
    }
    return value(c);
  };
  auto tag = required(kTagId);
  if (!tag) return tl::unexpected(tag.error());
  auto site = required(kSiteId);
  if (!site) return tl::unexpected(site.error());
  auto mineral_text = required(kMineral);
  if (!mineral_text) return tl::unexpected(mineral_text.error());
  auto mineral = ParseMineral(*mineral_text);
  if (!mineral) {
    return MakeError(ErrorCode::kInvalidArgument, "mineral: " + mineral.error().message);
  }
  auto weight_text = required(kWeightKg);
  if (!weight_text) return tl::unexpected(weight_text.error());
  auto grams = ParseWeightGrams(*weight_text, "weight_kg");
  if (!grams) return tl::unexpected(grams.error());
  auto grade_text = required(kGradePercent);
  if (!grade_text) return tl::unexpected(grade_text.error());
  auto grade = ParseGradeBasisPoints(*grade_text, "grade_percent");
  if (!grade) return tl::unexpected(grade.error());
  auto producer_text = required(kProducerKey);
  if (!producer_text) return tl::unexpected(producer_text.error());
  auto producer = ParseKeyArgument(*producer_text, "producer_key");
  if (!producer) return tl::unexpected(producer.error());

  v1::TxBody body;
  v1::RecordMineLot& lot = *body.mutable_record_mine_lot();
  lot.set_tag_id(std::string(*tag));
  lot.set_site_id(std::string(*site));
  lot.set_mineral(*mineral);
  lot.set_weight_grams(*grams);
  lot.set_grade_basis_points(*grade);
  lot.set_producer_key(std::string(producer->begin(), producer->end()));
  if (!value(kRecordedAt).empty()) {
    auto at_ms = ParseUtcTimeMs(value(kRecordedAt), "recorded_at");
    if (!at_ms) return tl::unexpected(at_ms.error());
    body.set_created_at_ms(*at_ms);
  }
  return body;
}

}  // namespace

std::string LogbookColumns() {
  std::string out;
  for (std::string_view name : kColumnNames) {
    if (!out.empty()) out += ",";
    out += name;
  }
  return out;
}

std::vector<CsvRecord> ParseCsv(std::string_view text) {
  // A spreadsheet's UTF-8 byte order mark is not part of the first column's name.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<CsvRecord> records;
  size_t pos = 0;
  size_t line = 1;
  while (pos < text.size()) {
    CsvRecord record;
    record.line = line;
    bool end_of_record = false;
    while (!end_of_record) {
      std::string field;
      // Skip leading spaces to see whether the field is quoted.
      size_t start = pos;
      while (start < text.size() && (text[start] == ' ' || text[start] == '\t')) ++start;
      if (start < text.size() && text[start] == '"') {
        pos = start + 1;
        bool closed = false;
        while (pos < text.size()) {
          const char c = text[pos];
          if (c == '"') {
            if (pos + 1 < text.size() && text[pos + 1] == '"') {
              field += '"';
              pos += 2;
              continue;
            }
            closed = true;
            ++pos;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++pos;
        }
        if (!closed) {
          record.error = "a quoted field is not closed (a missing \" before the end of the file)";
          record.fields.push_back(std::move(field));
          records.push_back(std::move(record));
          return records;
        }
        while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
        if (pos < text.size() && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') {
          if (record.error.empty()) {
            record.error = "text after the closing quote of field " +
                           std::to_string(record.fields.size() + 1) +
                           " (a quote inside a quoted field is written \"\")";
          }
          while (pos < text.size() && text[pos] != ',' && text[pos] != '\n') ++pos;
        }
      } else {
        const size_t end = text.find_first_of(",\n", pos);
        const size_t stop = end == std::string_view::npos ? text.size() : end;
        std::string_view raw = text.substr(pos, stop - pos);
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        field = std::string(TrimSpaces(raw));
        pos = stop;
      }
      record.fields.push_back(std::move(field));
      // The field ends at ',', at a line end (LF or CRLF) or at the end of the text.
      if (pos < text.size() && text[pos] == '\r') ++pos;
      if (pos >= text.size()) {
        end_of_record = true;
      } else if (text[pos] == ',') {
        ++pos;
        if (pos >= text.size()) {
          record.fields.emplace_back();  // "a,b," ends with an empty field
          end_of_record = true;
        }
      } else if (text[pos] == '\n') {
        ++pos;
        ++line;
        end_of_record = true;
      }
    }
    records.push_back(std::move(record));
  }
  return records;
}

Result<Logbook> ParseLogbook(std::string_view csv_text) {
  std::vector<CsvRecord> records = ParseCsv(csv_text);
  size_t first = 0;
  while (first < records.size() && IsBlank(records[first])) ++first;
  if (first == records.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "line 1: the file is empty; the first row names the columns: " +
                         LogbookColumns());
  }
  const CsvRecord& header = records[first];
  const std::string at_line = "line " + std::to_string(header.line) + ": ";
  if (!header.error.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, at_line + "header: " + header.error);
  }
  std::array<std::optional<size_t>, kColumnCount> at;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    const std::string name = Lower(TrimSpaces(header.fields[i]));
    size_t c = 0;
    while (c < kColumnCount && kColumnNames[c] != name) ++c;
    if (c == kColumnCount) {
      // A misspelt optional column would be silently ignored otherwise.
      return MakeError(ErrorCode::kInvalidArgument, at_line + "unknown column \"" +
                                                        header.fields[i] +
                                                        "\" (the columns are: " +
                                                        LogbookColumns() + ")");
    }
    if (at[c]) {
      return MakeError(ErrorCode::kInvalidArgument,
                       at_line + "column " + name + " appears twice");
    }
    at[c] = i;
  }
  for (size_t c = 0; c < kColumnCount; ++c) {
    if (c == kRecordedAt || at[c]) continue;
    return MakeError(ErrorCode::kInvalidArgument,
                     at_line + "the header has no column " + std::string(kColumnNames[c]) +
                         " (the columns are: " + LogbookColumns() + "; recorded_at optional)");
  }

  Logbook book;
  std::map<std::string, size_t> tag_lines;  // a tag used twice in one logbook is a slip
  for (size_t i = first + 1; i < records.size(); ++i) {
    const CsvRecord& r = records[i];
    if (IsBlank(r)) continue;
    ++book.data_rows;
    if (book.data_rows > kMaxLogbookRows) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "line " + std::to_string(r.line) + ": more than " +
                           std::to_string(kMaxLogbookRows) + " rows; split the file");
    }
    if (!r.error.empty()) {
      book.errors.push_back({r.line, r.error});
      continue;
    }
    if (r.fields.size() != header.fields.size()) {
      book.errors.push_back({r.line, std::to_string(r.fields.size()) + " fields, but the header has " +
                                         std::to_string(header.fields.size()) +
                                         " (a comma inside a value needs quotes)"});
      continue;
    }
    auto body = RowBody(r.fields, at);
    if (!body) {
      book.errors.push_back({r.line, body.error().message});
      continue;
    }
    const std::string& tag = body->record_mine_lot().tag_id();
    auto [seen, inserted] = tag_lines.emplace(tag, r.line);
    if (!inserted) {
      book.errors.push_back({r.line, "tag " + tag + " is already used on line " +
                                         std::to_string(seen->second) + " (a tag is used once)"});
      continue;
    }
    book.rows.push_back({r.line, std::move(*body)});
  }
  return book;
}

}  // namespace minetrace::cli
