// VerifyPool checks BIP340 signatures on a fixed set of worker threads so that signature
// checks (the dominant cost of admitting a transaction) use every core. Submit() returns a
// future; the pool owns its threads and joins them on destruction.
// Thread-safety: Submit may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/crypto/keys.h"

namespace minetrace::crypto {

struct VerifyJob {
  PublicKey public_key;
  Hash32 msg32;
  Signature signature;
};

class VerifyPool {
 public:
  explicit VerifyPool(size_t threads);
  ~VerifyPool();
  VerifyPool(const VerifyPool&) = delete;
  VerifyPool& operator=(const VerifyPool&) = delete;

  std::future<bool> Submit(const VerifyJob& job);
  // Verifies all jobs, spread over the pool; result[i] belongs to jobs[i].
  std::vector<bool> VerifyAll(const std::vector<VerifyJob>& jobs);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace minetrace::crypto
