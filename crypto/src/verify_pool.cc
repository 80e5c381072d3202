#include "minetrace/crypto/verify_pool.h"

#include <algorithm>
#include <memory>
#include <system_error>
#include <utility>

#include "minetrace/base/assert.h"

namespace minetrace::crypto {
namespace {

// More threads than this is a configuration mistake, not a bigger machine.
constexpr size_t kMaxThreads = 1024;
// Chunks per worker in VerifyAll: a few per thread evens out threads that are slowed by other
// work on the machine, while keeping the per-chunk queue overhead negligible next to the
// ~50 us of a signature check.
constexpr size_t kChunksPerThread = 4;

bool Verify(const VerifyJob& job) {
  return VerifySchnorr(job.public_key, job.msg32, job.signature);
}

}  // namespace

VerifyPool::VerifyPool(size_t threads) {
  MT_ASSERT(threads > 0);
  MT_ASSERT(threads <= kMaxThreads);
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    // std::thread reports failure by exception; none may leave the module, and a node that
    // cannot start its verifier threads cannot run at all.
    bool started = true;
    try {
      threads_.emplace_back([this] { Run(); });
    } catch (const std::system_error&) {
      started = false;
    }
    MT_ASSERT(started);
  }
}

VerifyPool::~VerifyPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // Workers drain the queue before they exit, so every future handed out gets its value.
  for (std::thread& t : threads_) t.join();
  MT_ASSERT(queue_.empty());
}

void VerifyPool::Run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        MT_ASSERT(stopping_);
        return;
      }
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

std::future<bool> VerifyPool::Submit(const VerifyJob& job) {
  // std::function needs a copyable callable and packaged_task is move-only, hence shared_ptr.
  auto task = std::make_shared<std::packaged_task<bool()>>([job] { return Verify(job); });
  std::future<bool> result = task->get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Submitting to a pool that is being destroyed is a lifetime bug in the caller.
    MT_ASSERT(!stopping_);
    queue_.emplace_back([task] { (*task)(); });
  }
  cv_.notify_one();
  return result;
}

std::vector<bool> VerifyPool::VerifyAll(const std::vector<VerifyJob>& jobs) {
  if (jobs.empty()) return {};
  // std::vector<bool> packs bits, so two threads writing neighbouring results would race;
  // each job gets its own byte here and the packing happens after all chunks are done.
  std::vector<uint8_t> ok(jobs.size(), 0);
  const size_t chunks = std::min(jobs.size(), threads_.size() * kChunksPerThread);
  const size_t chunk_size = (jobs.size() + chunks - 1) / chunks;

  std::vector<std::future<void>> done;
  done.reserve(chunks);
  {
    std::lock_guard<std::mutex> lock(mu_);
    MT_ASSERT(!stopping_);
    for (size_t begin = 0; begin < jobs.size(); begin += chunk_size) {
      const size_t end = std::min(jobs.size(), begin + chunk_size);
      // jobs and ok outlive the tasks: this function waits for every future below.
      auto task = std::make_shared<std::packaged_task<void()>>([&jobs, &ok, begin, end] {
        for (size_t i = begin; i < end; ++i) ok[i] = Verify(jobs[i]) ? 1 : 0;
      });
      done.push_back(task->get_future());
      queue_.emplace_back([task] { (*task)(); });
    }
  }
  MT_ASSERT(done.size() <= chunks);
  cv_.notify_all();
  // Called from a worker of this same pool, this wait could deadlock; callers are the node's
  // event loop and tools, never pool tasks.
  for (std::future<void>& f : done) f.wait();

  std::vector<bool> result(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) result[i] = ok[i] != 0;
  return result;
}

}  // namespace minetrace::crypto
