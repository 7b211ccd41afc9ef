// marl_rec — fused score + top-k of one query with the item rows split over an executor's threads.
// One core cannot read memory as fast as two: each task streams a contiguous range of rows (the
// access pattern that reaches a core's bandwidth) into its own k best, and the k best of those
// are the answer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "marl_rec/concepts/executor.hpp"
#include "marl_rec/simd/batch_top_k.hpp"
#include "marl_rec/simd/detail/argument_checks.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"

namespace marl_rec::simd {

/// score_top_k with the rows of `items` split over the tasks of `executor` (ranges of at least
/// 1 MiB of rows, so a small matrix is one task). The result is the serial score_top_k's, bit
/// for bit. `exclude` is called from several threads at once and must allow that (NoExclusion
/// and ExcludeBitset do); it is called in increasing index order within each range. Allocates
/// scratch of k items per task. Throws marl_rec::Error as score_top_k does; an exception from
/// `exclude` is rethrown.
template <ItemExclusion Exclude, Executor Exec, class Arch = compat::default_arch>
inline std::size_t score_top_k(std::span<const float> query, MatrixView items, std::size_t k,
                               std::span<ScoredItem> out, const Exclude& exclude, Exec& executor) {
  marl_rec::detail::check_sizes_equal("simd::score_top_k", "query", query.size(), "item rows",
                                      items.cols());
  marl_rec::detail::check_at_least("simd::score_top_k", "out", out.size(),
                                   std::min(k, items.rows()));
  const std::size_t capacity = std::min(k, items.rows());
  if (capacity == 0) return 0;
  constexpr std::size_t width = xsimd::batch<float, Arch>::size;
  const std::size_t per =
      kernels::rows_per_task(items.rows(), items.cols() * sizeof(float),
                             static_cast<std::size_t>(executor.concurrency()), width);
  const std::size_t tasks = (items.rows() + per - 1) / per;
  if (tasks <= 1) return kernels::ScoreTopK{}(Arch{}, query.data(), items, k, exclude, out.data());
  std::vector<ScoredItem> scratch(tasks * capacity);
  std::vector<std::size_t> sizes(tasks, 0);
  executor.run(tasks, [&](std::size_t t) {
    marl_rec::detail::TopKBuffer<Arch> top(scratch.data() + t * capacity, capacity);
    kernels::with_row_scorer<Arch>(query.data(), items.cols(), [&](const auto& scorer) {
      kernels::scan_rows(scorer, items, t * per, std::min(items.rows(), (t + 1) * per), top,
                         exclude);
    });
    sizes[t] = top.size();
  });
  marl_rec::detail::TopKBuffer<Arch> top(out.data(), capacity);
  for (std::size_t t = 0; t < tasks; ++t) {
    for (std::size_t i = 0; i < sizes[t]; ++i) {
      const ScoredItem& item = scratch[t * capacity + i];
      if (item.score >= top.threshold()) top.offer(item.index, item.score);
    }
  }
  return top.finish();
}

}  // namespace marl_rec::simd
