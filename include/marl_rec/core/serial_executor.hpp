// marl_rec — the executor that runs every task on the calling thread, one after another.
#pragma once

#include <cstddef>

#include "marl_rec/concepts/executor.hpp"

namespace marl_rec {

/// Runs the tasks of a job on the calling thread, in order (concurrency 1). What a kernel's
/// parallel overload does with it is what its serial overload does.
struct SerialExecutor {
  /// Always 1.
  static constexpr std::size_t concurrency() noexcept { return 1; }

  /// Calls f(0), ..., f(n-1) in order; an exception from f propagates at once.
  template <class F>
  void run(std::size_t n, F&& f) const {
    for (std::size_t i = 0; i < n; ++i) f(i);
  }
};

static_assert(Executor<SerialExecutor>);

}  // namespace marl_rec
