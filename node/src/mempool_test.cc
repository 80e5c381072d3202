#include "minetrace/node/mempool.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

namespace minetrace::node {
namespace {

v1::SignedTx Tx(size_t body_bytes) {
  v1::SignedTx tx;
  tx.set_body(std::string(body_bytes, 'x'));
  return tx;
}

Hash32 Id(uint8_t n) {
  Hash32 h{};
  h[0] = n;
  return h;
}

TEST(Mempool, DedupesByTxIdUntilRemoved) {
  Mempool pool(10, 1 << 20, TxIdHash(Hash32{}));
  ASSERT_TRUE(pool.Add(Id(1), Tx(10)));
  auto again = pool.Add(Id(1), Tx(10));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  // Selected into a block that has not committed: still pending, still a duplicate.
  EXPECT_EQ(pool.Select(10, 1 << 20, [](const Hash32&) { return false; }).size(), 1u);
  EXPECT_FALSE(pool.Add(Id(1), Tx(10)));
  pool.Remove(Id(1));
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_TRUE(pool.Add(Id(1), Tx(10)));
}

TEST(Mempool, SignatureCheckedOnlyForTheSameBytes) {
  Mempool pool(10, 1 << 20, TxIdHash(Hash32{}));
  v1::SignedTx tx = Tx(10);
  tx.set_signature(std::string(64, 'a'));
  ASSERT_TRUE(pool.Add(Id(1), tx));
  EXPECT_TRUE(pool.SignatureChecked(Id(1), tx));
  v1::SignedTx other = tx;
  other.set_signature(std::string(64, 'b'));  // same id (body), another signature
  EXPECT_FALSE(pool.SignatureChecked(Id(1), other));
  EXPECT_FALSE(pool.SignatureChecked(Id(2), tx));
}

TEST(Mempool, OldestAdmittedBeforeAMarkAreThoseStillPendingFromBeforeIt) {
  Mempool pool(10, 1 << 20, TxIdHash(Hash32{}));
  ASSERT_TRUE(pool.Add(Id(1), Tx(1)));
  ASSERT_TRUE(pool.Add(Id(2), Tx(2)));
  const uint64_t mark = pool.admissions();
  ASSERT_TRUE(pool.Add(Id(3), Tx(3)));
  pool.Remove(Id(1));
  auto before = pool.OldestAdmittedBefore(mark, 10);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].body().size(), 2u);  // tx 2: tx 1 left, tx 3 came after the mark
  EXPECT_EQ(pool.OldestAdmittedBefore(pool.admissions(), 1).size(), 1u);
  EXPECT_EQ(pool.OldestAdmittedBefore(pool.admissions(), 10).size(), 2u);
}

TEST(Mempool, RefusesWhenFullByCountOrBytes) {
  Mempool by_count(2, 1 << 20, TxIdHash(Hash32{}));
  ASSERT_TRUE(by_count.Add(Id(1), Tx(1)));
  ASSERT_TRUE(by_count.Add(Id(2), Tx(1)));
  auto full = by_count.Add(Id(3), Tx(1));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);

  Mempool by_bytes(100, 150, TxIdHash(Hash32{}));
  ASSERT_TRUE(by_bytes.Add(Id(1), Tx(100)));
  EXPECT_EQ(by_bytes.Add(Id(2), Tx(100)).error().code, ErrorCode::kResourceExhausted);
}

TEST(Mempool, SelectsOldestFirstWithinBoundsSkippingExcluded) {
  Mempool pool(10, 1 << 20, TxIdHash(Hash32{}));
  for (uint8_t i = 1; i <= 5; ++i) ASSERT_TRUE(pool.Add(Id(i), Tx(i)));
  auto first = pool.Select(2, 1 << 20, [](const Hash32& id) { return id == Id(1); });
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].body().size(), 2u);
  EXPECT_EQ(first[1].body().size(), 3u);
  EXPECT_EQ(pool.size(), 5u);  // selecting does not remove
  auto small = pool.Select(10, 7, [](const Hash32&) { return false; });
  EXPECT_EQ(small.size(), 2u);  // 3 + 4 encoded bytes fit, + 5 would not
  for (uint8_t i = 1; i <= 5; ++i) pool.Remove(Id(i));
  EXPECT_EQ(pool.bytes(), 0u);
  EXPECT_EQ(pool.size(), 0u);
}

// Goal: the hash of a tx id depends on the node's key (so buckets cannot be aimed at from
// outside) and spreads ids that differ in few bits. Method: one id under two keys; 10,000
// ids that differ only in their first four bytes over 1,021 buckets.
TEST(TxIdHash, DependsOnTheKeyAndSpreadsCloseIds) {
  Hash32 key_a{};
  Hash32 key_b{};
  key_b[5] = 1;
  Hash32 id{};
  id.fill(0x5a);
  EXPECT_EQ(TxIdHash(key_a)(id), TxIdHash(key_a)(id));
  EXPECT_NE(TxIdHash(key_a)(id), TxIdHash(key_b)(id));

  Hash32 key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(17 * i + 3);
  const TxIdHash hash(key);
  std::vector<int> buckets(1021, 0);
  for (uint32_t n = 0; n < 10'000; ++n) {
    Hash32 close = id;
    std::memcpy(close.data(), &n, sizeof n);
    ++buckets[hash(close) % buckets.size()];
  }
  // About 10 per bucket on average; a poor spread would pile them into a few.
  EXPECT_LT(*std::max_element(buckets.begin(), buckets.end()), 40);
}

}  // namespace
}  // namespace minetrace::node
