#include "minetrace/crypto/verify_pool.h"

#include <gtest/gtest.h>

#include <future>
#include <vector>

#include "minetrace/crypto/sha256.h"

namespace minetrace::crypto {
namespace {

PrivateKey KeyNumber(uint8_t n) {
  Bytes secret(32, 0);
  secret[0] = 0x5a;  // keeps the secret well below the curve order
  secret[31] = n;
  auto key = PrivateKey::FromBytes(secret);
  EXPECT_TRUE(key.has_value());
  return *key;
}

// Job i is valid unless i % 3 == 1 (message changed after signing) or i % 5 == 4 (signature
// bit flipped), so valid and invalid jobs interleave within every chunk.
std::vector<VerifyJob> MixedJobs(size_t count, std::vector<bool>* expected) {
  std::vector<PrivateKey> keys;
  for (uint8_t k = 1; k <= 4; ++k) keys.push_back(KeyNumber(k));
  std::vector<VerifyJob> jobs;
  expected->clear();
  for (size_t i = 0; i < count; ++i) {
    const PrivateKey& key = keys[i % keys.size()];
    const Hash32 msg = DomainHash(kTxDomain, AsBytes("tx " + std::to_string(i)));
    VerifyJob job{key.public_key(), msg, key.Sign(msg, Hash32{})};
    bool valid = true;
    if (i % 3 == 1) {
      job.msg32[0] ^= 1;
      valid = false;
    }
    if (i % 5 == 4) {
      job.signature[63] ^= 0x80;
      valid = false;
    }
    jobs.push_back(job);
    expected->push_back(valid);
  }
  return jobs;
}

TEST(VerifyPool, VerifyAllReturnsOneResultPerJobInOrder) {
  std::vector<bool> expected;
  const std::vector<VerifyJob> jobs = MixedJobs(103, &expected);
  VerifyPool pool(3);
  EXPECT_EQ(pool.VerifyAll(jobs), expected);
}

TEST(VerifyPool, VerifyAllHandlesFewerJobsThanThreadsAndEmptyInput) {
  VerifyPool pool(4);
  EXPECT_TRUE(pool.VerifyAll({}).empty());
  std::vector<bool> expected;
  const std::vector<VerifyJob> jobs = MixedJobs(2, &expected);
  EXPECT_EQ(pool.VerifyAll(jobs), expected);
}

TEST(VerifyPool, SingleThreadPoolGivesSameResults) {
  std::vector<bool> expected;
  const std::vector<VerifyJob> jobs = MixedJobs(17, &expected);
  VerifyPool pool(1);
  EXPECT_EQ(pool.VerifyAll(jobs), expected);
}

TEST(VerifyPool, SubmitFuturesCarryEachResult) {
  std::vector<bool> expected;
  const std::vector<VerifyJob> jobs = MixedJobs(30, &expected);
  VerifyPool pool(2);
  std::vector<std::future<bool>> futures;
  for (const VerifyJob& job : jobs) futures.push_back(pool.Submit(job));
  for (size_t i = 0; i < futures.size(); ++i) EXPECT_EQ(futures[i].get(), expected[i]) << i;
}

TEST(VerifyPool, DestructionCompletesQueuedWork) {
  std::vector<bool> expected;
  const std::vector<VerifyJob> jobs = MixedJobs(20, &expected);
  std::vector<std::future<bool>> futures;
  {
    VerifyPool pool(1);
    for (const VerifyJob& job : jobs) futures.push_back(pool.Submit(job));
  }
  for (size_t i = 0; i < futures.size(); ++i) EXPECT_EQ(futures[i].get(), expected[i]) << i;
}

TEST(VerifyPool, SubmitFromManyThreadsWhileVerifyAllRuns) {
  std::vector<bool> expected;
  const std::vector<VerifyJob> jobs = MixedJobs(40, &expected);
  VerifyPool pool(2);
  std::vector<std::thread> submitters;
  std::vector<std::vector<bool>> seen(3);
  for (size_t t = 0; t < seen.size(); ++t) {
    submitters.emplace_back([&, t] {
      std::vector<std::future<bool>> futures;
      for (const VerifyJob& job : jobs) futures.push_back(pool.Submit(job));
      for (auto& f : futures) seen[t].push_back(f.get());
    });
  }
  EXPECT_EQ(pool.VerifyAll(jobs), expected);
  for (std::thread& t : submitters) t.join();
  for (const auto& s : seen) EXPECT_EQ(s, expected);
}

}  // namespace
}  // namespace minetrace::crypto
