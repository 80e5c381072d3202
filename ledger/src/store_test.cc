// Store's batched and reused reads: MultiGet and Scan with kept iterators answer as one Get or
// one fresh Scan per key or prefix would. A directory of another store format is refused.
#include "minetrace/ledger/store.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <rocksdb/db.h>

#include "test_fixture.h"

namespace minetrace::ledger::testing {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir("store");
    auto s = Store::Open(dir_);
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Put(Column c, std::string key, std::string value) {
    auto r = store_->Commit({StoreWrite{c, std::move(key), std::move(value)}});
    ASSERT_TRUE(r) << r.error().ToString();
  }
  // The keys of one scan, with `reuse` or a fresh iterator.
  std::vector<std::string> Keys(Column c, const std::string& prefix, const std::string& after,
                                size_t limit, Store::Iterators* reuse) {
    std::vector<std::string> keys;
    auto r = store_->Scan(
        c, prefix, after, limit,
        [&](std::string_view k, std::string_view) {
          keys.emplace_back(k);
          return true;
        },
        reuse);
    EXPECT_TRUE(r) << r.error().ToString();
    return keys;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

std::string Z(std::string s) { return s + std::string(1, '\0'); }

TEST_F(StoreTest, ScansWithKeptIteratorsAnswerAsFreshOnes) {
  // Extractor prefixes (up to the first NUL) and others, in the index and state columns.
  for (const char* lot : {"A", "B", "C"}) {
    for (char leaf : {'1', '2', '3'}) Put(Column::kIndex, Z(std::string("ls/") + lot) + leaf, "");
  }
  Put(Column::kIndex, "lh/key1-A", "");
  Put(Column::kIndex, "lh/key1-B", "");
  Put(Column::kIndex, "lh/key2-C", "");
  Put(Column::kState, "l/A", "a");
  Put(Column::kState, "l/B", "b");

  struct ScanCase {
    Column column;
    std::string prefix, after;
    size_t limit;
  };
  const std::vector<ScanCase> cases = {
      {Column::kIndex, Z("ls/B"), "", 100},
      {Column::kIndex, Z("ls/A"), "", 100},
      {Column::kIndex, Z("ls/Q"), "", 100},  // nothing under it
      {Column::kIndex, Z("ls/C"), Z("ls/C") + "1", 100},
      {Column::kIndex, Z("ls/A"), "", 2},
      {Column::kIndex, "lh/key1", "", 100},
      {Column::kIndex, Z("ls/B"), "", 100},  // again, after scans of the other kind
      {Column::kIndex, "lh/key", "lh/key1-B", 100},
      {Column::kState, "l/", "", 100},
      {Column::kIndex, "lh/key2", "", 100},
  };
  Store::Iterators kept;
  for (const auto& c : cases) {
    const auto fresh = Keys(c.column, c.prefix, c.after, c.limit, nullptr);
    EXPECT_EQ(Keys(c.column, c.prefix, c.after, c.limit, &kept), fresh) << c.prefix;
  }
  EXPECT_EQ(Keys(Column::kIndex, Z("ls/B"), "", 100, &kept),
            (std::vector<std::string>{Z("ls/B") + "1", Z("ls/B") + "2", Z("ls/B") + "3"}));
  EXPECT_EQ(Keys(Column::kIndex, Z("ls/C"), Z("ls/C") + "1", 100, &kept),
            (std::vector<std::string>{Z("ls/C") + "2", Z("ls/C") + "3"}));
  EXPECT_EQ(Keys(Column::kIndex, "lh/key", "lh/key1-B", 100, &kept),
            (std::vector<std::string>{"lh/key2-C"}));

  // A kept iterator reads the database as it was when it was made (one view per query); a new
  // set of iterators sees the later commit.
  Put(Column::kIndex, Z("ls/A") + "4", "");
  EXPECT_EQ(Keys(Column::kIndex, Z("ls/A"), "", 100, &kept).size(), 3u);
  Store::Iterators later;
  EXPECT_EQ(Keys(Column::kIndex, Z("ls/A"), "", 100, &later).size(), 4u);
}

TEST_F(StoreTest, MultiGetAnswersInTheOrderAsked) {
  Put(Column::kTxs, "k1", "one");
  Put(Column::kTxs, "k3", "three");
  Put(Column::kTxIndex, "k2", "other column");
  for (const std::vector<std::string>& keys :
       {std::vector<std::string>{"k1", "k2", "k3"}, std::vector<std::string>{"k3", "k1", "k2"},
        std::vector<std::string>{"k3", "k3"}, std::vector<std::string>{}}) {
    auto got = store_->MultiGet(Column::kTxs, keys);
    ASSERT_TRUE(got) << got.error().ToString();
    ASSERT_EQ(got->size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      auto one = store_->Get(Column::kTxs, keys[i]);
      ASSERT_TRUE(one);
      EXPECT_EQ((*got)[i], *one) << keys[i];
    }
  }
  auto got = store_->MultiGet(Column::kTxs, {"k3", "k2", "k1"});
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)[0], std::optional<std::string>("three"));
  EXPECT_EQ((*got)[1], std::nullopt);
  EXPECT_EQ((*got)[2], std::optional<std::string>("one"));
}

// Reopening `dir_` fails with kFailedPrecondition and a message that names what it found and
// what to do.
void ExpectRefused(const std::filesystem::path& dir, const std::string& found) {
  auto again = Store::Open(dir);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
  const std::string& m = again.error().message;
  EXPECT_NE(m.find(dir.string() + " holds " + found), std::string::npos) << m;
  EXPECT_NE(m.find("reads store format " + std::string(Store::kFormat)), std::string::npos) << m;
  EXPECT_NE(m.find("start the node on a new data directory"), std::string::npos) << m;
}

TEST_F(StoreTest, ADirectoryKeepsItsFormatAcrossReopens) {
  Put(Column::kTxs, "k", "v");
  store_.reset();
  auto again = Store::Open(dir_);
  ASSERT_TRUE(again) << again.error().ToString();
  auto got = (*again)->Get(Column::kTxs, "k");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, std::optional<std::string>("v"));
}

TEST_F(StoreTest, ADirectoryOfAnotherFormatIsRefusedWithWhatToDo) {
  Put(Column::kMeta, "store_format", "3");  // index entries removed by Delete, not SingleDelete
  store_.reset();
  ExpectRefused(dir_, "store format 3");
}

TEST_F(StoreTest, ADirectoryWithDataButNoFormatPredatesFormat2) {
  Put(Column::kMeta, "head", "x");
  ASSERT_TRUE(store_->Commit({StoreWrite{Column::kMeta, "store_format", std::nullopt}}));
  store_.reset();
  ExpectRefused(dir_, "store format 1");
}

TEST(StoreFormat, ADirectoryWithFormat1ColumnsIsRefusedBeforeAnythingIsWrittenInIt) {
  // Format 1 kept receipts in a column of their own.
  const std::filesystem::path dir = FreshDir("store-format1");
  std::vector<std::string> names = {"default", "blocks", "block_ids", "txs", "tx_index",
                                    "receipts", "state", "index", "accumulator", "consensus",
                                    "ledger_infos", "certificates"};
  {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> columns;
    for (const auto& n : names) columns.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir.string(), columns, &handles, &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[5], "k", "receipt").ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }
  ExpectRefused(dir, "another store format (its columns: accumulator, block_ids, blocks, "
                     "certificates, consensus, default, index, ledger_infos, receipts, state, "
                     "tx_index, txs)");
  // Nothing was added: the old release can still open it.
  std::vector<std::string> after;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.string(), &after).ok());
  EXPECT_EQ(after.size(), names.size());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace minetrace::ledger::testing
