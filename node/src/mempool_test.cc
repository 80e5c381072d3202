#include "minetrace/node/mempool.h"

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

TEST(Mempool, DedupesByTxIdUntilForgotten) {
  Mempool pool(10, 1 << 20);
  ASSERT_TRUE(pool.Add(Id(1), Tx(10)));
  auto again = pool.Add(Id(1), Tx(10));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(pool.Take(10).size(), 1u);
  // Taken into a block but not yet committed: still a duplicate.
  EXPECT_FALSE(pool.Add(Id(1), Tx(10)));
  pool.Forget(Id(1));
  EXPECT_TRUE(pool.Add(Id(1), Tx(10)));
}

TEST(Mempool, RefusesWhenFullByCountOrBytes) {
  Mempool by_count(2, 1 << 20);
  ASSERT_TRUE(by_count.Add(Id(1), Tx(1)));
  ASSERT_TRUE(by_count.Add(Id(2), Tx(1)));
  auto full = by_count.Add(Id(3), Tx(1));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);

  Mempool by_bytes(100, 150);
  ASSERT_TRUE(by_bytes.Add(Id(1), Tx(100)));
  EXPECT_EQ(by_bytes.Add(Id(2), Tx(100)).error().code, ErrorCode::kResourceExhausted);
}

TEST(Mempool, TakesOldestFirstAndTracksBytes) {
  Mempool pool(10, 1 << 20);
  for (uint8_t i = 1; i <= 5; ++i) ASSERT_TRUE(pool.Add(Id(i), Tx(i)));
  auto first = pool.Take(2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].body().size(), 1u);
  EXPECT_EQ(first[1].body().size(), 2u);
  EXPECT_EQ(pool.size(), 3u);
  EXPECT_GT(pool.bytes(), 0u);
  pool.Take(10);
  EXPECT_EQ(pool.bytes(), 0u);
}

}  // namespace
}  // namespace minetrace::node
