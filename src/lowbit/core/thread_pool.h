// A persistent pool of worker threads for the inference loop, where a forward pass
// issues hundreds of small parallel regions per token and starting threads each time
// (core/parallel.h) would cost more than the work. Workers spin briefly on a
// generation counter before sleeping, so back-to-back regions wake them in
// microseconds. Work is split into contiguous chunks by thread index, so results
// never depend on scheduling.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lowbit {

class ThreadPool {
 public:
  // threads counts the calling thread too; 0 means all hardware threads.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }

  // Calls fn(begin, end) on disjoint contiguous chunks covering [0, n), one chunk per
  // thread (the caller runs chunk 0), and returns when all are done. The first
  // exception thrown by any chunk is rethrown. Not reentrant: fn must not call run().
  void run(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

  // Calls fn(thread_index, thread_count) once on every thread.
  void run_on_all(const std::function<void(int thread, int count)>& fn);

 private:
  void worker(int index);
  void run_chunk(int index);

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::function<void(int, int)> job_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

// pool->run(n, fn), or fn(0, n) on the calling thread when there is no pool.
template <typename Fn>
void run_split(ThreadPool* pool, int64_t n, Fn&& fn) {
  if (pool == nullptr) {
    fn(int64_t{0}, n);
  } else {
    pool->run(n, fn);
  }
}

}  // namespace lowbit
