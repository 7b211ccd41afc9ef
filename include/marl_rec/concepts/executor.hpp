// marl_rec — the contract of an executor: how a kernel that can use several cores is handed them.
// The library starts no thread of its own: a caller passes an executor (a ThreadPool it owns, or
// SerialExecutor), and the kernel splits its work into tasks that the executor runs.
#pragma once

#include <concepts>
#include <cstddef>

namespace marl_rec {

/// An executor runs the tasks 0 .. n-1 of a job, possibly at the same time on several threads.
///
/// Semantic rules the compiler cannot check:
/// - `run(n, f)` calls `f(i)` exactly once for every i in [0, n) and returns when all calls have
///   returned; calls may run concurrently on different threads, in any order. If calls throw, the
///   tasks not yet started may be skipped and `run` rethrows one of the exceptions after all
///   started calls have returned.
/// - `concurrency()` is how many tasks can usefully run at once (≥ 1); kernels split their work
///   into that many tasks.
/// - `run` may be called from several threads; an executor may serialise such calls.
template <class E>
concept Executor = requires(E& executor, std::size_t n, void (*task)(std::size_t)) {
  { executor.concurrency() } -> std::convertible_to<std::size_t>;
  executor.run(n, task);
};

}  // namespace marl_rec
