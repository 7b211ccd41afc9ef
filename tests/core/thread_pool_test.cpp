// Tests of core/thread_pool.hpp and core/serial_executor.hpp: every task runs exactly once,
// on several threads; exceptions come back to the caller and leave the pool usable; concurrent
// run() calls are serialised; bad sizes are refused.
#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/serial_executor.hpp"
#include "marl_rec/core/thread_pool.hpp"

namespace mr = marl_rec;

TEST_CASE("ThreadPool runs every task exactly once, on several threads") {
  for (const std::size_t threads : {std::size_t{1}, std::size_t{2}, std::size_t{4}}) {
    mr::ThreadPool pool(threads);
    CHECK(pool.concurrency() == threads);
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{7},
                                std::size_t{1000}}) {
      CAPTURE(threads);
      CAPTURE(n);
      std::vector<std::atomic<int>> calls(n);
      std::mutex m;
      std::set<std::thread::id> ids;
      pool.run(n, [&](std::size_t i) {
        calls[i].fetch_add(1);
        // Long enough tasks that the workers take some of them.
        volatile double x = 0.0;
        for (int j = 0; j < 20000; ++j) x = x + 1.0;
        const std::lock_guard lock(m);
        ids.insert(std::this_thread::get_id());
      });
      for (std::size_t i = 0; i < n; ++i) CHECK(calls[i].load() == 1);
      CHECK(ids.size() <= threads);
    }
  }
}

TEST_CASE("ThreadPool uses its workers: tasks that wait for each other complete") {
  // Two tasks that each wait for the other to start can only finish if they run at once.
  mr::ThreadPool pool(2);
  std::atomic<int> started{0};
  pool.run(2, [&](std::size_t) {
    started.fetch_add(1);
    while (started.load() < 2) std::this_thread::yield();
  });
  CHECK(started.load() == 2);
}

TEST_CASE("ThreadPool rethrows a task's exception and stays usable") {
  mr::ThreadPool pool(3);
  std::atomic<int> ran{0};
  CHECK_THROWS_WITH_AS(pool.run(100,
                                [&](std::size_t i) {
                                  ran.fetch_add(1);
                                  if (i == 10) throw std::runtime_error("task 10 failed");
                                }),
                       "task 10 failed", std::runtime_error);
  CHECK(ran.load() >= 1);
  CHECK(ran.load() <= 100);
  std::atomic<int> after{0};
  pool.run(50, [&](std::size_t) { after.fetch_add(1); });
  CHECK(after.load() == 50);
}

TEST_CASE("ThreadPool serialises run() calls from several threads") {
  mr::ThreadPool pool(2);
  std::atomic<int> running_job{-1};  // the job whose tasks are running, -1 between jobs
  std::atomic<int> overlaps{0};
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 50; ++round) {
        const int job = c * 1000 + round;
        std::atomic<int> done{0};
        pool.run(4, [&](std::size_t) {
          const int before = running_job.exchange(job);
          if (before != -1 && before != job) overlaps.fetch_add(1);
          total.fetch_add(c + 1);
          // Every task has marked the job before the last one ends it.
          if (done.fetch_add(1) + 1 == 4) running_job.store(-1);
        });
      }
    });
  }
  for (auto& t : callers) t.join();
  CHECK(total.load() == 50 * 4 * (1 + 2 + 3));
  CHECK(overlaps.load() == 0);
}

TEST_CASE("ThreadPool runs a job started from inside one of its tasks inline") {
  mr::ThreadPool pool(2);
  std::atomic<int> inner{0};
  pool.run(4, [&](std::size_t) { pool.run(3, [&](std::size_t) { inner.fetch_add(1); }); });
  CHECK(inner.load() == 12);
}

TEST_CASE("ThreadPool refuses zero threads and SerialExecutor runs in order") {
  CHECK_THROWS_WITH_AS(mr::ThreadPool(0), "ThreadPool: threads must be at least 1, got 0",
                       mr::Error);
  mr::SerialExecutor serial;
  CHECK(serial.concurrency() == 1);
  std::vector<std::size_t> order;
  serial.run(5, [&](std::size_t i) { order.push_back(i); });
  CHECK(order == std::vector<std::size_t>{0, 1, 2, 3, 4});
  CHECK_THROWS_AS(serial.run(3, [](std::size_t i) { if (i == 1) throw std::logic_error("x"); }),
                  std::logic_error);
}
