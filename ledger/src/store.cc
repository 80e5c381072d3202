#include "minetrace/ledger/store.h"

#include <algorithm>
#include <cstring>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "minetrace/base/assert.h"

namespace minetrace::ledger {
namespace {

constexpr const char* kColumnNames[] = {"default", "blocks", "block_ids", "txs", "tx_index",
                                        "state", "index", "accumulator", "consensus",
                                        "ledger_infos", "certificates"};
// In the meta column (default): the store format the directory was written in (Store::kFormat).
constexpr std::string_view kFormatKey = "store_format";
static_assert(std::size(kColumnNames) == static_cast<size_t>(Column::kCount));

Error FromRocks(const rocksdb::Status& s, const std::string& what) {
  ErrorCode code = s.IsCorruption() ? ErrorCode::kDataLoss : ErrorCode::kInternal;
  return Error{code, what + ": " + s.ToString()};
}

constexpr size_t kBlockCacheBytes = 256ull << 20;

// The prefix of a key up to and including its first '\0' (keys without one are outside the
// domain): the variable-length component that ends with '\0' -- a site's lots "ls/<site>\0",
// a lot's flags "fl/<lot>\0", ... -- so that a scan of one such prefix skips every table
// whose prefix Bloom filter says it holds none of it. At 10^6 txs a lot's history (then an
// index scan) cost half the CPU with it (docs/PERFORMANCE.md, "Store options").
class UpToFirstZero final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "minetrace.UpToFirstZero"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    // RocksDB may ask for keys outside the domain too: their prefix is the whole key.
    const void* zero = std::memchr(key.data(), '\0', key.size());
    if (zero == nullptr) return key;
    return rocksdb::Slice(key.data(), static_cast<const char*>(zero) - key.data() + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), '\0', key.size()) != nullptr;
  }
};

tl::unexpected<Error> FormatMismatch(const std::filesystem::path& dir, const std::string& found) {
  return MakeError(ErrorCode::kFailedPrecondition,
                   "data directory " + dir.string() + " holds " + found +
                       " and this minetrace reads store format " + std::string(Store::kFormat) +
                       ": start the node on a new data directory, which syncs the ledger from "
                       "its peers (docs/OPERATIONS.md, \"Store format\"), or run the release "
                       "that wrote it");
}

// A scan of `prefix` may use the prefix filters only when the prefix is exactly one
// extractor prefix.
bool IsExtractorPrefix(std::string_view prefix) {
  return !prefix.empty() && prefix.find('\0') == prefix.size() - 1;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kInternal,
                     "cannot create data directory " + dir.string() + ": " + ec.message());
  }
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // Every table file stays open, its index and filters in memory (~16 MB per 10^6 txs): with
  // a bound (512 before) a ledger of 10^7 txs (~1,000 tables) opened tables again on reads,
  // reading their index and filter each time, and a lot's history cost 30 times its 10^4
  // cost in process (docs/PERFORMANCE.md, "Eighth session"). The node raises its open-file
  // limit to match (node/src/main.cc).
  options.max_open_files = -1;
  options.keep_log_file_num = 4;
  // A write-ahead log file stays until every column with data in it has flushed, and the
  // columns written little per block (blocks, ledger infos, certificates, ...) fill their
  // 64 MB memtables only after many log files: without a bound the live directory held about
  // 1 KB of log per committed tx (docs/PERFORMANCE.md, "Store options"). Past this total,
  // RocksDB flushes the columns that hold the oldest log so that it can be deleted.
  options.max_total_wal_size = 64ull << 20;

  // Most reads of execution and admission ask for keys that do not exist (a new tx id, a new
  // tag, lot or index entry): without filters each such read searches the whole memtable
  // skiplist and the index of every table file that could hold the key. A whole-key Bloom
  // filter on the memtable and on each table file answers most of them without a search
  // (docs/PERFORMANCE.md, "Store options"). The state and index columns also filter by
  // prefix, for scans (UpToFirstZero).
  // One block cache for all columns (RocksDB's default is 8 MB per table factory): the
  // blocks queries read again -- recent lots, their history, index pages -- stay in memory.
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions column_options;
  column_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  column_options.memtable_whole_key_filtering = true;
  column_options.memtable_prefix_bloom_size_ratio = 0.05;
  // A block's writes reach Commit sorted by column and key (Ledger::ExecuteAndCommit), so each
  // memtable insert lands after the one before it. With one insert hint per memtable (an
  // empty prefix for every key) the skiplist search starts from the last insert's position
  // instead of the top: keys in commit order (txs, accumulator) cost almost no search, keys
  // at random places (lots, index entries, tx ids) a shorter one (docs/PERFORMANCE.md,
  // "Eleventh session").
  column_options.memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewFixedPrefixTransform(0));
  std::vector<rocksdb::ColumnFamilyDescriptor> columns;
  for (const char* name : kColumnNames) {
    rocksdb::ColumnFamilyOptions o = column_options;
    if (std::string_view(name) == "index" || std::string_view(name) == "state") {
      o.prefix_extractor = std::make_shared<UpToFirstZero>();
    }
    if (std::string_view(name) == "state") {
      // A provenance reads some 20 records at scattered places (lots, their events, members,
      // sites): at 10^7 txs most are first read from a table file, and a 2 KB block is half
      // the bytes of the default 4 KB to read, check and decompress per record. Its median
      // cost about 8 % less in process and over gRPC (docs/PERFORMANCE.md, "Tenth session"),
      // for 4 % more disk.
      rocksdb::BlockBasedTableOptions state_table = table;
      state_table.block_size = 2048;
      o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(state_table));
    }
    if (std::string_view(name) == "txs") {
      // Committed txs are read one by one at random leaves (a history, a provenance, a
      // proof): a smaller block than the default 4 KB is less to read, check and decompress
      // per tx. At 10^7 txs a provenance's batch of ~100 txs cost about a third less
      // (docs/PERFORMANCE.md, "Seventh session"), for a larger table index.
      rocksdb::BlockBasedTableOptions txs_table = table;
      txs_table.block_size = 2048;
      o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(txs_table));
    }
    columns.emplace_back(name, o);
  }
  // A directory of another format is refused before anything is created in it.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(options, dir.string(), &existing).ok()) {
    std::vector<std::string> ours(std::begin(kColumnNames), std::end(kColumnNames));
    std::sort(existing.begin(), existing.end());
    std::sort(ours.begin(), ours.end());
    if (existing != ours) {
      std::string names;
      for (const auto& n : existing) names += (names.empty() ? "" : ", ") + n;
      return FormatMismatch(dir, "another store format (its columns: " + names + ")");
    }
  }
  std::unique_ptr<Store> store(new Store());
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir.string(), columns, &store->handles_, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return MakeError(ErrorCode::kUnavailable,
                       "data directory " + dir.string() +
                           " is in use by another process (is a node already running?)");
    }
    return tl::unexpected(FromRocks(s, "cannot open RocksDB at " + dir.string()));
  }
  store->db_.reset(raw);
  MT_ASSERT(store->handles_.size() == static_cast<size_t>(Column::kCount));
  auto format = store->Get(Column::kMeta, kFormatKey);
  if (!format) return tl::unexpected(format.error());
  if (format->has_value()) {
    if (**format != Store::kFormat) return FormatMismatch(dir, "store format " + **format);
  } else {
    // A new directory gets the format; one with data but no format predates format 2.
    bool empty = true;
    MT_TRY(store->Scan(Column::kMeta, "", "", 1, [&](std::string_view, std::string_view) {
      empty = false;
      return false;
    }));
    if (!empty) return FormatMismatch(dir, "store format 1");
    MT_TRY(store->Commit({{Column::kMeta, std::string(kFormatKey), std::string(Store::kFormat)}}));
  }
  return store;
}

Store::~Store() {
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

rocksdb::ColumnFamilyHandle* Store::Handle(Column c) const {
  auto i = static_cast<size_t>(c);
  MT_ASSERT(i < handles_.size());
  return handles_[i];
}

Result<std::optional<std::string>> Store::Get(Column column, std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Handle(column), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return tl::unexpected(FromRocks(s, "read failed"));
  return std::optional<std::string>(std::move(value));
}

Result<std::vector<std::optional<std::string>>> Store::MultiGet(
    Column column, const std::vector<std::string>& keys) const {
  if (keys.empty()) return std::vector<std::optional<std::string>>();
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  const bool sorted = std::is_sorted(keys.begin(), keys.end());
  db_->MultiGet(rocksdb::ReadOptions(), Handle(column), keys.size(), slices.data(), values.data(),
                statuses.data(), sorted);
  std::vector<std::optional<std::string>> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return tl::unexpected(FromRocks(statuses[i], "read failed"));
    out[i] = values[i].ToString();
  }
  return out;
}

Store::Iterators::Iterators() = default;
Store::Iterators::~Iterators() = default;

Result<void> Store::Scan(
    Column column, std::string_view prefix, std::string_view start_after, size_t limit,
    const std::function<bool(std::string_view, std::string_view)>& visit,
    Iterators* reuse) const {
  const bool by_prefix = IsExtractorPrefix(prefix);
  auto make = [&] {
    rocksdb::ReadOptions read;
    if (by_prefix) {
      read.prefix_same_as_start = true;
    } else {
      read.total_order_seek = true;
    }
    return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(read, Handle(column)));
  };
  std::unique_ptr<rocksdb::Iterator> own;
  rocksdb::Iterator* it = nullptr;
  if (reuse != nullptr) {
    auto& kept = reuse->iterators_[static_cast<size_t>(column)][by_prefix ? 0 : 1];
    if (!kept) kept = make();
    it = kept.get();
  } else {
    own = make();
    it = own.get();
  }
  if (start_after.empty() || start_after < prefix) {
    it->Seek(prefix);
  } else {
    it->Seek(start_after);
    if (it->Valid() && it->key() == rocksdb::Slice(start_after)) it->Next();
  }
  size_t visited = 0;
  for (; it->Valid() && visited < limit; it->Next(), ++visited) {
    rocksdb::Slice k = it->key();
    if (!k.starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) break;
    if (!visit(std::string_view(k.data(), k.size()),
               std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  if (!it->status().ok()) return tl::unexpected(FromRocks(it->status(), "scan failed"));
  return {};
}

Result<void> Store::Commit(const std::vector<StoreWrite>& writes) {
  rocksdb::WriteBatch batch;
  for (const auto& w : writes) {
    // An index entry is put once and removed at most once after (StateView writes only
    // changes): a SingleDelete, which drops out together with its put wherever a flush or
    // compaction finds both. A Delete stays until compaction reaches the last level, and the
    // lists over entries that come and go (lots in transit, by holder, by status) stepped over
    // every one waiting (docs/PERFORMANCE.md, "Ninth session").
    rocksdb::Status s;
    if (w.value) {
      s = batch.Put(Handle(w.column), w.key, *w.value);
    } else if (w.column == Column::kIndex) {
      s = batch.SingleDelete(Handle(w.column), w.key);
    } else {
      s = batch.Delete(Handle(w.column), w.key);
    }
    if (!s.ok()) return tl::unexpected(FromRocks(s, "cannot build write batch"));
  }
  rocksdb::WriteOptions options;
  options.sync = true;  // a committed block survives power loss
  rocksdb::Status s = db_->Write(options, &batch);
  if (!s.ok()) return tl::unexpected(FromRocks(s, "commit write failed"));
  return {};
}

Result<void> Store::Checkpoint(const std::filesystem::path& dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return tl::unexpected(FromRocks(s, "cannot start a checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0: flush the memtables, so the checkpoint needs no WAL replay.
  s = checkpoint->CreateCheckpoint(dir.string(), /*log_size_for_flush=*/0);
  if (!s.ok()) return tl::unexpected(FromRocks(s, "checkpoint into " + dir.string() + " failed"));
  return {};
}

}  // namespace minetrace::ledger
