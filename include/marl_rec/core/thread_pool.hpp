// marl_rec — a fixed set of worker threads that run the tasks of one job at a time; the
// Executor that the parallel kernels are given. The caller owns it: the library starts no
// thread of its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "marl_rec/concepts/executor.hpp"
#include "marl_rec/core/error.hpp"

namespace marl_rec {

/// `threads` − 1 worker threads plus the thread that calls run(): a job's tasks are handed out
/// one at a time to whichever of them is free, so uneven tasks balance themselves. Calls of
/// run() from several threads are serialised (one job at a time). Not copyable or movable;
/// the destructor stops and joins the workers (it must not run while a run() is in progress).
class ThreadPool {
 public:
  /// A pool of concurrency `threads` (≥ 1; 1 runs every task on the caller). Throws
  /// marl_rec::Error for 0 and std::system_error when a thread cannot be started.
  explicit ThreadPool(std::size_t threads) {
    detail::require(threads >= 1, "ThreadPool: threads must be at least 1, got 0");
    workers_.reserve(threads - 1);
    for (std::size_t i = 1; i < threads; ++i) {
      workers_.emplace_back([this](std::stop_token stop) { work(stop); });
    }
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    for (auto& w : workers_) w.request_stop();
    workers_.clear();  // joins; the condition variable wakes them on stop
  }

  /// Worker threads + the calling thread.
  std::size_t concurrency() const noexcept { return workers_.size() + 1; }

  /// Calls f(i) once for every i in [0, n) on the workers and the calling thread, and returns
  /// when all calls have returned. If a call throws, tasks not yet started are skipped and the
  /// first exception is rethrown here once every started call has returned. Called from inside
  /// one of this pool's tasks, it runs the nested job's tasks inline on that thread.
  template <class F>
  void run(std::size_t n, F&& f) {
    if (n == 0) return;
    // Inline when there is nothing to share, and when called from one of this pool's own tasks
    // (e.g. an exclusion that runs a parallel kernel): waiting for the pool from inside it would
    // deadlock.
    if (workers_.empty() || n == 1 || running_here() == this) {
      for (std::size_t i = 0; i < n; ++i) f(i);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    const Job job{const_cast<void*>(static_cast<const void*>(std::addressof(f))),
                  [](void* fn, std::size_t i) { (*static_cast<Fn*>(fn))(i); }, n};
    const std::lock_guard one_job_at_a_time(run_mutex_);
    {
      const std::lock_guard lock(mutex_);
      job_ = job;
      next_.store(0, std::memory_order_relaxed);
      failed_.store(false, std::memory_order_relaxed);
      error_ = nullptr;
      busy_workers_ = workers_.size();
      ++generation_;
    }
    wake_.notify_all();
    drain(job);
    std::exception_ptr error;
    {
      std::unique_lock lock(mutex_);
      done_.wait(lock, [this] { return busy_workers_ == 0; });
      error = error_;
      error_ = nullptr;
    }
    if (error) std::rethrow_exception(error);
  }

 private:
  struct Job {
    void* fn = nullptr;
    void (*call)(void*, std::size_t) = nullptr;
    std::size_t n = 0;
  };

  // The pool whose task the calling thread is running, or null.
  static const ThreadPool*& running_here() noexcept {
    static thread_local const ThreadPool* pool = nullptr;
    return pool;
  }

  // Takes tasks until none is left (or one has failed).
  void drain(const Job& job) {
    const ThreadPool* const outer = running_here();
    running_here() = this;
    struct Restore {
      const ThreadPool* outer;
      ~Restore() { running_here() = outer; }
    } restore{outer};
    while (!failed_.load(std::memory_order_relaxed)) {
      const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= job.n) return;
      try {
        job.call(job.fn, i);
      } catch (...) {
        const std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true, std::memory_order_relaxed);
      }
    }
  }

  void work(std::stop_token stop) {
    std::uint64_t seen = 0;
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        if (!wake_.wait(lock, stop, [&] { return generation_ != seen; })) return;  // stopped
        seen = generation_;
        job = job_;
      }
      drain(job);
      const std::lock_guard lock(mutex_);
      if (--busy_workers_ == 0) done_.notify_one();
    }
  }

  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::condition_variable done_;
  Job job_;
  std::uint64_t generation_ = 0;
  std::size_t busy_workers_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::vector<std::jthread> workers_;  // last: destroyed (joined) before the members they use
};

static_assert(Executor<ThreadPool>);

}  // namespace marl_rec
