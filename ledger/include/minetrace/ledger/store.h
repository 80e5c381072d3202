// Store is the node's one RocksDB database, split into column families by what they hold.
// Every committed block goes in as one WriteBatch with sync on (Commit), so a crash leaves
// either all of a block (its receipts, state changes, indexes and accumulator nodes) or none.
// Thread-safety: reads may run on any thread concurrently with one writer (RocksDB's
// guarantee); Commit is called by the single executing thread.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/base/result.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Iterator;
}  // namespace rocksdb

namespace minetrace::ledger {

enum class Column : int {
  kMeta = 0,     // head ledger info, genesis hash, latest signed ledger info, store format
  kBlocks,       // be64 height -> block header bytes
  kBlockIds,     // block id -> be64 height
  kTxs,          // be64 leaf index -> StoredTx (the SignedTx and its Receipt bytes)
  kTxIndex,      // tx id -> be64 leaf index
  kState,        // typed key -> state record (protobuf)
  kIndex,        // secondary indexes: typed key -> empty
  kAccumulator,  // be32 level + be64 index -> 32-byte node hash
  kConsensus,    // the node's consensus records (safety data, uncommitted blocks): opaque here
  kLedgerInfos,  // be64 height -> LedgerInfo bytes: the state after each block
  kCertificates, // be64 height -> the node's proof that the block committed: opaque here
  kCount,
};

// One change to apply in a commit. value == nullopt deletes the key.
struct StoreWrite {
  Column column;
  std::string key;
  std::optional<std::string> value;
};

class Store {
 public:
  // The iterators of one query's many scans, kept for reuse (Scan's `reuse`). A query that
  // scans many short prefixes -- provenance: the flags and the incidents of each upstream
  // lot, site and member, about 140 scans -- creates each iterator once instead of
  // once per scan; creating one costs more the more table files and levels the column has.
  // Each iterator reads the database as it was when the first scan that needed it ran (a
  // consistent view of that column for the rest of the query). One thread; destroy it before
  // the Store.
  class Iterators {
   public:
    Iterators();
    ~Iterators();
    Iterators(const Iterators&) = delete;
    Iterators& operator=(const Iterators&) = delete;

   private:
    friend class Store;
    // Per column: [0] scans of exactly one extractor prefix (prefix_same_as_start), [1] the
    // others (total_order_seek).
    std::unique_ptr<rocksdb::Iterator> iterators_[static_cast<size_t>(Column::kCount)][2];
  };

  // Opens (creating if needed) the database in `dir`. A directory written in another store
  // format (kFormat: which columns there are and what they hold) is refused with
  // kFailedPrecondition; there is no conversion in place.
  static Result<std::unique_ptr<Store>> Open(const std::filesystem::path& dir);
  // 4: index entries removed by SingleDelete (3: by Delete; the two must not mix on a key),
  // a lot's events keyed next to it (l/<lot>\0; 3: le/<lot>).
  // 3: a lot's first custody events stored beside it (le/), and lot, site and member records
  // counting the flags and incidents naming them (2: neither; 1: receipts and lot history
  // entries in columns of their own)
  static constexpr std::string_view kFormat = "4";
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Result<std::optional<std::string>> Get(Column column, std::string_view key) const;
  // The values of `keys` (in that order; nullopt where absent), read as one batch: RocksDB
  // looks each table file up once for all the keys it may hold and reads each data block
  // once, however many of the keys it holds. `keys` sorted ascending (bytewise) read fastest.
  Result<std::vector<std::optional<std::string>>> MultiGet(
      Column column, const std::vector<std::string>& keys) const;

  // Visits keys starting with `prefix`, in key order, beginning strictly after `start_after`
  // when it is non-empty. The visitor returns false to stop. At most `limit` entries. With
  // `reuse`, the scan uses (and leaves there) the iterator `reuse` holds for its column and
  // kind of prefix, created on first use.
  Result<void> Scan(Column column, std::string_view prefix, std::string_view start_after,
                    size_t limit,
                    const std::function<bool(std::string_view key, std::string_view value)>&
                        visit,
                    Iterators* reuse = nullptr) const;

  // Applies all writes atomically, synced to disk before returning.
  Result<void> Commit(const std::vector<StoreWrite>& writes);

  // Writes a consistent copy of the database into `dir` (which must not exist), hard-linking
  // table files where it can: a data directory a node can be started on. Call it on the
  // committing thread, so that it falls between two blocks.
  Result<void> Checkpoint(const std::filesystem::path& dir) const;

 private:
  Store() = default;
  rocksdb::ColumnFamilyHandle* Handle(Column c) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace minetrace::ledger
