// Test helpers for the thread-safety tests: run one body on several threads at once, and compare
// what concurrent calls return with what the same calls return on one thread. These tests are
// also built with -fsanitize=thread, where a data race is a failure even when the values agree.
#pragma once

#include <cstddef>
#include <cstring>
#include <latch>
#include <span>
#include <thread>
#include <type_traits>
#include <vector>

namespace marl_rec::test {

/// Runs body(t) on `threads` threads, t = 0 .. threads − 1, released together by a latch so that
/// their calls overlap, and joins them all. The body must not use doctest's assertions (count
/// mismatches into per-thread slots and CHECK them after this returns).
template <class Body>
void concurrently(std::size_t threads, Body body) {
  std::latch start(static_cast<std::ptrdiff_t>(threads));
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&start, &body, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  for (std::thread& thread : pool) thread.join();
}

/// True when both spans hold the same bits, element by element (so NaN equals the same NaN).
template <class T>
bool identical(std::span<const T> a, std::span<const T> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}
template <class T>
bool identical(const std::vector<T>& a, const std::vector<T>& b) {
  return identical(std::span<const T>(a), std::span<const T>(b));
}

namespace detail {
template <class T>
bool same_result(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::memcmp(&a, &b, sizeof(T)) == 0;
  } else if constexpr (requires { typename T::value_type; } &&
                       std::is_floating_point_v<typename T::value_type>) {
    return identical(a, b);
  } else {
    return a == b;
  }
}
}  // namespace detail

/// Computes f(c) for every case c = 0 .. cases − 1 on this thread, then on `threads` threads at
/// once, each going `rounds` times over every case, starting at case t (so that the threads work
/// on different cases, of different shapes, at the same moment). Returns, per thread, how many of
/// its results differed from the single-thread ones (floating-point results: in any bit).
template <class F>
std::vector<std::size_t> disagreements(std::size_t cases, std::size_t threads, std::size_t rounds, F f) {
  using Result = std::decay_t<decltype(f(std::size_t{0}))>;
  std::vector<Result> serial;
  serial.reserve(cases);
  for (std::size_t c = 0; c < cases; ++c) serial.push_back(f(c));
  std::vector<std::size_t> wrong(threads, 0);
  concurrently(threads, [&](std::size_t t) {
    for (std::size_t r = 0; r < rounds; ++r) {
      for (std::size_t i = 0; i < cases; ++i) {
        const std::size_t c = (i + t) % cases;
        if (!detail::same_result(f(c), serial[c])) ++wrong[t];
      }
    }
  });
  return wrong;
}

/// The value disagreements() returns when every result agreed.
inline std::vector<std::size_t> no_disagreement(std::size_t threads) { return std::vector<std::size_t>(threads, 0); }

}  // namespace marl_rec::test
