// marl_rec — batched fused score + top-k: many queries against one item matrix, the matrix read
// once per batch, on one thread or split over an executor's threads.
//
// Two scans, chosen by the number of queries; both return exactly what score_top_k returns for
// each query (the same items, the same order, the same score bits):
// - Fewer queries than one SIMD batch has lanes: the rows are scored in blocks small enough to
//   stay in L1 while every query scores them, with the single-query kernel's arithmetic.
// - More: a register-blocked product in which each lane is a query (the queries are transposed
//   once; the item rows are read in place and broadcast element by element), so no horizontal sum
//   is needed and the FMA units do nearly all the work. Its summation order differs from the
//   single-query kernel's, so it keeps a few more candidates than k per query, re-scores them
//   with the single-query kernel's arithmetic and certifies the result with a rounding-error
//   bound (simd/detail/certified_rescore.hpp); a query whose result cannot be certified (scores
//   tied within rounding, non-finite or huge values) is re-scanned with the single-query kernel.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <span>
#include <type_traits>
#include <vector>

#include "marl_rec/concepts/executor.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/detail/argument_checks.hpp"
#include "marl_rec/simd/detail/certified_rescore.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#pragma GCC diagnostic ignored "-Waggressive-loop-optimizations"
#endif

namespace marl_rec::simd {

namespace kernels {

/// How a batched scan splits its work; the defaults suit current x86 caches.
struct BatchTuning {
  /// Bytes of item rows that every query scores before the scan moves on (with few queries the
  /// rows are read from memory once and re-read from L1).
  static constexpr std::size_t small_batch_block_bytes = 4 * 1024;
  /// How many blocks ahead the few-query scan prefetches. While the other queries score a block
  /// from L1 no load reaches memory, and the hardware prefetcher, which follows loads, idles;
  /// software prefetches spread over the queries keep memory busy meanwhile.
  static constexpr std::size_t small_batch_prefetch_blocks = 2;
  /// Rows per block of the register-blocked scan (the block stays in L2 while every query tile
  /// passes over it).
  static constexpr std::size_t product_block_rows = 240;
  /// Candidates kept per query beyond k by the register-blocked scan, for the certificate.
  static constexpr std::size_t extra_candidates = 8;
  /// A task of a parallel scan gets at least this many bytes of item rows.
  static constexpr std::size_t min_task_bytes = 1 << 20;
};

/// True when the register-blocked scan is used for `queries` queries on architecture Arch.
template <class Arch>
constexpr bool use_product_scan(std::size_t queries) noexcept {
  return queries >= xsimd::batch<float, Arch>::size;
}

/// Per-query candidate heaps of a scan over one range of rows.
template <class Arch>
struct BatchCandidates {
  std::vector<ScoredItem> storage;              // query q's heap at q * capacity
  std::size_t rows = 0;                         // rows of the range (set by batch_scan)
  std::vector<marl_rec::detail::TopKBuffer<Arch>> heaps;
  std::size_t capacity = 0;
  double max_row_norm2 = 0.0;                   // largest squared row norm seen (product scan)
  bool non_finite_row = false;                  // a row's squared norm was not finite

  BatchCandidates(std::size_t queries, std::size_t cap) : storage(queries * cap), capacity(cap) {
    heaps.reserve(queries);
    for (std::size_t q = 0; q < queries; ++q) heaps.emplace_back(storage.data() + q * cap, cap);
  }
};

/// The register-blocked product: acc[r][v] lane j = row r · query (tile's vector v, lane j),
/// summed over the dimension in order. `qt` holds the tile's queries transposed: element p of the
/// tile's query v·W + j is at qt[p · V·W + v·W + j].
template <class Arch, std::size_t R, std::size_t V>
inline void product_tile(const float* const* rows, const float* qt, std::size_t dim,
                         xsimd::batch<float, Arch> (&acc)[R][V]) noexcept {
  using Batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = Batch::size;
  // Local accumulators: stores through `acc` could alias the rows' floats, which would make the
  // compiler keep the accumulators in memory.
  Batch a[R][V];
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t v = 0; v < V; ++v) a[r][v] = Batch(0.0f);
  }
  for (std::size_t p = 0; p < dim; ++p) {
    Batch qv[V];
    for (std::size_t v = 0; v < V; ++v) qv[v] = Batch::load_aligned(qt + p * V * width + v * width);
    for (std::size_t r = 0; r < R; ++r) {
      const Batch x(rows[r][p]);
      for (std::size_t v = 0; v < V; ++v) a[r][v] = xsimd::fma(x, qv[v], a[r][v]);
    }
  }
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t v = 0; v < V; ++v) acc[r][v] = a[r][v];
  }
}

/// Rows of the register-blocked product's tile and query vectors per tile, by register count.
template <class Arch>
struct ProductShape {
  static constexpr std::size_t width = xsimd::batch<float, Arch>::size;
  static constexpr std::size_t rows = width >= 16 ? 8 : 4;  // R
  static constexpr std::size_t vectors = width >= 16 ? 3 : width >= 8 ? 3 : 2;  // V at most
};

/// Scans rows [begin, end) of `items` for every query with the register-blocked product,
/// offering to `found` (capacity ≥ k + extra). Scores are the product's, not canonical.
template <class Arch, class Exclude>
void product_scan(MatrixView queries, MatrixView items, std::size_t begin, std::size_t end,
                  const Exclude& exclude, BatchCandidates<Arch>& found) {
  using Batch = xsimd::batch<float, Arch>;
  using Shape = ProductShape<Arch>;
  constexpr std::size_t width = Shape::width;
  constexpr std::size_t R = Shape::rows;
  const std::size_t nq = queries.rows();
  const std::size_t dim = items.cols();
  const std::size_t stride = items.stride();
  // Query tiles of up to V vectors; each tile transposed into its own p-major panel.
  const std::size_t vectors_total = (nq + width - 1) / width;
  const std::size_t tiles = (vectors_total + Shape::vectors - 1) / Shape::vectors;
  AlignedVector<float> panels(vectors_total * width * std::max<std::size_t>(dim, 1), 0.0f);
  AlignedVector<float> thresholds(vectors_total * width, std::numeric_limits<float>::infinity());
  for (std::size_t t = 0; t < tiles; ++t) {
    const std::size_t v0 = t * Shape::vectors;
    const std::size_t vt = std::min(Shape::vectors, vectors_total - v0);
    float* panel = panels.data() + v0 * width * dim;
    for (std::size_t j = 0; j < vt * width; ++j) {
      const std::size_t q = v0 * width + j;
      if (q >= nq) break;
      const float* query = queries.data() + q * queries.stride();
      for (std::size_t p = 0; p < dim; ++p) panel[p * vt * width + j] = query[p];
    }
  }
  for (std::size_t q = 0; q < nq; ++q) thresholds[q] = found.heaps[q].threshold();

  const auto offer = [&](const Batch& scores, std::size_t q0, std::size_t row) {
    if (!xsimd::any(scores >= Batch::load_aligned(thresholds.data() + q0))) return;
    alignas(64) float s[width];
    scores.store_aligned(s);
    for (std::size_t j = 0; j < width; ++j) {
      const std::size_t q = q0 + j;
      if (q < nq && s[j] >= thresholds[q] && !exclude(q, row)) {
        found.heaps[q].offer(row, s[j]);
        thresholds[q] = found.heaps[q].threshold();
      }
    }
  };
  const auto run_tile = [&]<std::size_t V>(std::integral_constant<std::size_t, V>,
                                           const float* const* rows, std::size_t first,
                                           std::size_t count, const float* panel,
                                           std::size_t q0) {
    Batch acc[R][V];
    product_tile<Arch, R, V>(rows, panel, dim, acc);
    for (std::size_t r = 0; r < count; ++r) {
      for (std::size_t v = 0; v < V; ++v) offer(acc[r][v], q0 + v * width, first + r);
    }
  };

  const std::size_t block_rows = BatchTuning::product_block_rows;
  for (std::size_t block = begin; block < end; block += block_rows) {
    const std::size_t block_end = std::min(end, block + block_rows);
    // The bound of the certificate needs the largest row norm; the rows are about to be read.
    for (std::size_t r = block; r < block_end; ++r) {
      const float* row = items.data() + r * stride;
      const float n2 = Dot{}(Arch{}, row, row, dim);
      if (!std::isfinite(n2)) {
        found.non_finite_row = true;
      } else {
        found.max_row_norm2 = std::max(found.max_row_norm2, static_cast<double>(n2));
      }
    }
    for (std::size_t t = 0; t < tiles; ++t) {
      const std::size_t v0 = t * Shape::vectors;
      const std::size_t vt = std::min(Shape::vectors, vectors_total - v0);
      const float* panel = panels.data() + v0 * width * dim;
      for (std::size_t first = block; first < block_end; first += R) {
        const std::size_t count = std::min(R, block_end - first);
        // A short tile repeats its last row; the repeats are computed and not offered.
        const float* rows[R];
        for (std::size_t r = 0; r < R; ++r) {
          rows[r] = items.data() + (first + std::min(r, count - 1)) * stride;
        }
        switch (vt) {
          case 1: run_tile(std::integral_constant<std::size_t, 1>{}, rows, first, count, panel, v0 * width); break;
          case 2: if constexpr (Shape::vectors >= 2) run_tile(std::integral_constant<std::size_t, 2>{}, rows, first, count, panel, v0 * width); break;
          case 3: if constexpr (Shape::vectors >= 3) run_tile(std::integral_constant<std::size_t, 3>{}, rows, first, count, panel, v0 * width); break;
          default: if constexpr (Shape::vectors >= 4) run_tile(std::integral_constant<std::size_t, 4>{}, rows, first, count, panel, v0 * width); break;
        }
      }
    }
  }
}

/// Scans rows [begin, end) (begin a multiple of the batch width) for every query with the
/// single-query kernel's arithmetic, in L1-sized blocks of rows.
template <class Arch, class Exclude>
void small_batch_scan(MatrixView queries, MatrixView items, std::size_t begin, std::size_t end,
                      const Exclude& exclude, BatchCandidates<Arch>& found) {
  constexpr std::size_t width = xsimd::batch<float, Arch>::size;
  const std::size_t row_bytes = std::max<std::size_t>(items.cols(), 1) * sizeof(float);
  // A multiple of the width, so that blocks of rows line up with the single-query kernel's.
  const std::size_t block_rows =
      std::max<std::size_t>(BatchTuning::small_batch_block_bytes / row_bytes / width, 1) * width;
  const std::size_t nq = queries.rows();
  const std::size_t block_bytes = block_rows * items.stride() * sizeof(float);
  // Prefetches stay inside rows [begin, end) (no pointer is formed past them).
  const char* const base = reinterpret_cast<const char*>(items.data() + begin * items.stride());
  const std::size_t range_bytes =
      items.cols() == 0 ? 0 : ((end - 1 - begin) * items.stride() + items.cols()) * sizeof(float);
  for (std::size_t block = begin; block < end; block += block_rows) {
    const std::size_t block_end = std::min(end, block + block_rows);
    // The bytes (relative to `base`) of the block to prefetch, a share of it per query.
    const std::size_t ahead = (block - begin) * items.stride() * sizeof(float) +
                              BatchTuning::small_batch_prefetch_blocks * block_bytes;
    for (std::size_t q = 0; q < nq; ++q) {
      const std::size_t from = ahead + block_bytes * q / nq;
      const std::size_t to = std::min(ahead + block_bytes * (q + 1) / nq, range_bytes);
#if defined(__GNUC__)  // GCC and clang; elsewhere the hardware prefetcher alone
      for (std::size_t b = from / 64 * 64; b < to; b += 64) __builtin_prefetch(base + b, 0, 3);
#endif
      const auto exclude_q = [&exclude, q](std::size_t i) { return exclude(q, i); };
      with_row_scorer<Arch>(queries.data() + q * queries.stride(), items.cols(),
                            [&](const auto& scorer) {
                              scan_rows(scorer, items, block, block_end, found.heaps[q], exclude_q);
                            });
    }
  }
}

/// Rows per task when `rows` rows of `row_bytes` bytes are split over `concurrency` tasks: a
/// multiple of `width`, at least BatchTuning::min_task_bytes of rows.
inline std::size_t rows_per_task(std::size_t rows, std::size_t row_bytes, std::size_t concurrency,
                                 std::size_t width) noexcept {
  const std::size_t min_rows = std::max<std::size_t>(BatchTuning::min_task_bytes / std::max<std::size_t>(row_bytes, 1), 1);
  std::size_t per = std::max(min_rows, (rows + concurrency - 1) / std::max<std::size_t>(concurrency, 1));
  per = (per + width - 1) / width * width;
  return std::max(per, width);
}

/// A bound on |product scan score − canonical score| for one query, or +∞ when the query and
/// rows are too large for it (or not finite). Both sums of `dim` products err by at most
/// γ·Σ|q_p·x_p| ≤ γ·‖q‖·‖x‖ with γ = n·u / (1 − n·u), n = dim + 2 (the accumulation depth with a
/// margin), u = 2⁻²⁴; the squared row norms were summed in float (relative error ≤ γ, covered by
/// the factor 1 + 2γ), and each subnormal result adds at most 2⁻¹⁵⁰. Below ‖q‖·‖x‖ = 10³⁰ no
/// partial sum of either scan can overflow, so neither produces Inf or NaN.
inline double product_error_bound(const float* query, std::size_t dim, double max_row_norm2,
                                  bool non_finite_row) noexcept {
  double q2 = 0.0;
  for (std::size_t p = 0; p < dim; ++p) q2 += static_cast<double>(query[p]) * query[p];
  const double n = static_cast<double>(dim) + 2.0;
  const double u = std::ldexp(1.0, -24);
  const double gamma = n * u / (1.0 - n * u);
  // The squared norms were summed in float: squares below 2⁻¹⁴⁹ underflow to 0 and subnormal
  // sums lose precision, an absolute error of at most 2⁻¹⁴⁹ per term.
  const double norm2 = max_row_norm2 * (1.0 + 2.0 * gamma) +
                       static_cast<double>(dim) * std::ldexp(1.0, -147);
  const double product = std::sqrt(q2 * norm2);
  if (non_finite_row || !std::isfinite(product) || !(product < 1e30)) {
    return std::numeric_limits<double>::infinity();
  }
  return 2.0 * gamma * 1.0001 * product + 2.0 * n * std::ldexp(1.0, -149);
}

/// Scans rows [begin, end) for every query into `found` with the scan suited to the batch.
template <class Arch, class Exclude>
void batch_scan(MatrixView queries, MatrixView items, std::size_t begin, std::size_t end,
                const Exclude& exclude, BatchCandidates<Arch>& found) {
  found.rows = end - begin;
  if (use_product_scan<Arch>(queries.rows())) {
    product_scan<Arch>(queries, items, begin, end, exclude, found);
  } else {
    small_batch_scan<Arch>(queries, items, begin, end, exclude, found);
  }
}

/// Turns the candidates of every range into each query's final top-k in `out` / `counts`.
/// Returns how many queries the certificate failed for (re-scanned with the single-query kernel).
template <class Arch, class Exclude>
std::size_t finish_batch(MatrixView queries, MatrixView items, std::size_t k, const Exclude& exclude,
                  std::span<BatchCandidates<Arch>> ranges, ScoredItem* out, std::size_t* counts) {
  const std::size_t nq = queries.rows();
  const std::size_t capacity = std::min(k, items.rows());
  if (!use_product_scan<Arch>(nq)) {
    // Canonical scores: the k best of the ranges' k best are the k best.
    for (std::size_t q = 0; q < nq; ++q) {
      marl_rec::detail::TopKBuffer<Arch> top(out + q * capacity, capacity);
      for (auto& range : ranges) {
        const auto& heap = range.heaps[q];
        const ScoredItem* items_q = range.storage.data() + q * range.capacity;
        for (std::size_t i = 0; i < heap.size(); ++i) {
          if (items_q[i].score >= top.threshold()) top.offer(items_q[i].index, items_q[i].score);
        }
      }
      counts[q] = top.finish();
    }
    return 0;
  }
  double max_norm2 = 0.0;
  bool non_finite = false;
  for (const auto& range : ranges) {
    max_norm2 = std::max(max_norm2, range.max_row_norm2);
    non_finite = non_finite || range.non_finite_row;
  }
  std::vector<ScoredItem> candidates;
  std::size_t rescanned = 0;
  for (std::size_t q = 0; q < nq; ++q) {
    const float* query = queries.data() + q * queries.stride();
    ScoredItem* out_q = out + q * capacity;
    candidates.clear();
    bool complete = true;
    double outside = -std::numeric_limits<double>::infinity();
    for (auto& range : ranges) {
      const auto& heap = range.heaps[q];
      const ScoredItem* items_q = range.storage.data() + q * range.capacity;
      candidates.insert(candidates.end(), items_q, items_q + heap.size());
      // A heap that holds every row of its range left nothing out, whatever its size.
      if (heap.size() == range.capacity && range.rows > range.capacity) {
        complete = false;
        outside = std::max(outside, static_cast<double>(heap.threshold()));
      }
    }
    const double bound = product_error_bound(query, items.cols(), max_norm2, non_finite);
    bool certified = false;
    if (std::isfinite(bound)) {
      std::sort(candidates.begin(), candidates.end(),
                [](const ScoredItem& a, const ScoredItem& b) { return a.index < b.index; });
      const auto count = marl_rec::simd::detail::certified_top_k<Arch>(
          query, items, candidates, complete, outside + bound, k, out_q);
      if (count) {
        counts[q] = *count;
        certified = true;
      }
    }
    if (!certified) {
      const auto exclude_q = [&exclude, q](std::size_t i) { return exclude(q, i); };
      counts[q] = ScoreTopK{}(Arch{}, query, items, k, exclude_q, out_q);
      ++rescanned;
    }
  }
  return rescanned;
}

/// score_top_k for every row of `queries`, over all rows of `items`, on the calling thread.
/// Returns how many queries were re-scanned because their certificate failed (tests use it).
struct ScoreTopKBatch {
  template <class Arch, class Exclude>
  std::size_t operator()(Arch, MatrixView queries, MatrixView items, std::size_t k, const Exclude& exclude,
                  ScoredItem* out, std::size_t* counts) const;
};

template <class Arch, class Exclude>
std::size_t ScoreTopKBatch::operator()(Arch, MatrixView queries, MatrixView items, std::size_t k,
                                const Exclude& exclude, ScoredItem* out,
                                std::size_t* counts) const {
  const std::size_t nq = queries.rows();
  std::fill(counts, counts + nq, std::size_t{0});
  const std::size_t capacity = std::min(k, items.rows());
  if (capacity == 0 || nq == 0) return 0;
  const std::size_t kept =
      use_product_scan<Arch>(nq)
          ? std::min(items.rows(), capacity + BatchTuning::extra_candidates)
          : capacity;
  BatchCandidates<Arch> found(nq, kept);
  batch_scan<Arch>(queries, items, 0, items.rows(), exclude, found);
  return finish_batch<Arch>(queries, items, k, exclude,
                            std::span<BatchCandidates<Arch>>(&found, 1), out, counts);
}

}  // namespace kernels

namespace detail {
inline void check_batch_arguments(const char* where, MatrixView queries, MatrixView items,
                                  std::size_t k, std::size_t out_size, std::size_t counts_size) {
  marl_rec::detail::check_sizes_equal(where, "query rows", queries.cols(), "item rows",
                                      items.cols());
  marl_rec::detail::check_at_least(where, "counts", counts_size, queries.rows());
  const std::size_t capacity = std::min(k, items.rows());
  marl_rec::detail::require(
      capacity == 0 || queries.rows() <= std::numeric_limits<std::size_t>::max() / capacity,
      [&] { return std::string(where) + ": queries x k overflows size_t"; });
  marl_rec::detail::check_at_least(where, "out", out_size, queries.rows() * capacity);
}
}  // namespace detail

/// score_top_k for every row of `queries` (Q × d) at once, reading `items` once per batch.
/// Query q's results are at out[q * min(k, items.rows()) ...], counts[q] of them: exactly what
/// score_top_k returns for that query (items, order and score bits). `exclude(q, i)` is true when
/// item i may not be returned to query q. Allocates scratch of about Q × (k + 8) items and, from
/// 16 queries on (AVX-512; 8 with AVX2, 4 with SSE2), a transposed copy of the queries. Throws
/// marl_rec::Error on a dimension mismatch or when `out` / `counts` are too small.
template <BatchItemExclusion Exclude = NoExclusion, class Arch = compat::default_arch>
inline void score_top_k_batch(MatrixView queries, MatrixView items, std::size_t k,
                              std::span<ScoredItem> out, std::span<std::size_t> counts,
                              const Exclude& exclude = {}) {
  detail::check_batch_arguments("simd::score_top_k_batch", queries, items, k, out.size(),
                                counts.size());
  kernels::ScoreTopKBatch{}(Arch{}, queries, items, k, exclude, out.data(), counts.data());
}

/// score_top_k_batch with the item rows split over the tasks of `executor` (each task scans a
/// contiguous range of rows for every query; the results are merged). The results are the
/// serial overload's, bit for bit. `exclude` is called from several threads at once and must
/// allow that (NoExclusion and ExcludeBitset do). An exception from `exclude` is rethrown.
template <BatchItemExclusion Exclude, Executor Exec, class Arch = compat::default_arch>
inline void score_top_k_batch(MatrixView queries, MatrixView items, std::size_t k,
                              std::span<ScoredItem> out, std::span<std::size_t> counts,
                              const Exclude& exclude, Exec& executor) {
  detail::check_batch_arguments("simd::score_top_k_batch", queries, items, k, out.size(),
                                counts.size());
  using namespace kernels;
  const std::size_t nq = queries.rows();
  std::fill(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(nq), std::size_t{0});
  const std::size_t capacity = std::min(k, items.rows());
  if (capacity == 0 || nq == 0) return;
  constexpr std::size_t width = xsimd::batch<float, Arch>::size;
  const std::size_t per = rows_per_task(items.rows(), items.cols() * sizeof(float),
                                        static_cast<std::size_t>(executor.concurrency()), width);
  const std::size_t tasks = (items.rows() + per - 1) / per;
  const std::size_t kept = use_product_scan<Arch>(nq)
                               ? std::min(items.rows(), capacity + BatchTuning::extra_candidates)
                               : capacity;
  std::vector<BatchCandidates<Arch>> ranges;
  ranges.reserve(tasks);
  for (std::size_t t = 0; t < tasks; ++t) ranges.emplace_back(nq, std::min(kept, items.rows()));
  executor.run(tasks, [&](std::size_t t) {
    batch_scan<Arch>(queries, items, t * per, std::min(items.rows(), (t + 1) * per), exclude,
                     ranges[t]);
  });
  finish_batch<Arch>(queries, items, k, exclude, std::span<BatchCandidates<Arch>>(ranges),
                     out.data(), counts.data());
}

}  // namespace marl_rec::simd

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
