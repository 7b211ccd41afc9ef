// marl_rec — batched fused score + top-k: many queries against one item matrix, the matrix read
// once per batch, on one thread or split over an executor's threads.
//
// Two scans, chosen by the number of queries; both return exactly what score_top_k returns for
// each query (the same items, the same order, the same score bits):
// - 1 to 3 queries (1 with SSE2): the rows are scored in blocks small enough to stay in L1 while
//   every query scores them, with the single-query kernel's arithmetic.
// - More: a register-blocked product in which each lane belongs to a query (the queries are
//   transposed once; the item rows are read in place and broadcast), so no horizontal sum is
//   needed and the FMA units do nearly all the work. Up to half a batch of queries, each query
//   takes two lanes (even and odd dimensions) and the rows are broadcast two floats at a time, so
//   that no lane idles. Its summation order differs from the single-query kernel's, so it keeps
//   a few more candidates than k per query, re-scores them with the single-query kernel's
//   arithmetic and certifies the result with a rounding-error bound
//   (simd/detail/certified_rescore.hpp); a query whose result cannot be certified (scores tied
//   within rounding, non-finite or huge values) is re-scanned with the single-query kernel.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <span>
#include <type_traits>
#include <utility>
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

#if defined(__GNUC__)
#define MARL_REC_DETAIL_NOINLINE __attribute__((noinline))
#else
#define MARL_REC_DETAIL_NOINLINE
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
  /// Bytes of rows per block when the register-blocked scan has one tile of queries (the block
  /// stays in L1 between the row norms and the product).
  static constexpr std::size_t product_single_tile_block_bytes = 16 * 1024;
  /// Candidates kept per query beyond k by the register-blocked scan, for the certificate.
  static constexpr std::size_t extra_candidates = 8;
  /// A task of a parallel scan gets at least this many bytes of item rows.
  static constexpr std::size_t min_task_bytes = 1 << 20;
};

/// True when the register-blocked scan is used for `queries` queries on architecture Arch: from
/// 4 queries on (from 2 with SSE2's 4 lanes). Below that the single-query arithmetic is used.
template <class Arch>
constexpr bool use_product_scan(std::size_t queries) noexcept {
  return queries >= std::min<std::size_t>(4, xsimd::batch<float, Arch>::size / 2);
}

/// Dimensions per lane of the register-blocked scan: with at most half a batch of queries, two
/// (each query takes a pair of lanes, one for the even and one for the odd dimensions, and the
/// rows are broadcast two floats at a time), so that no lane idles and the product does half the
/// FMAs per row that one dimension per lane would.
template <class Arch>
constexpr std::size_t product_lanes_per_query(std::size_t queries) noexcept {
  return queries <= xsimd::batch<float, Arch>::size / 2 ? 2 : 1;
}

/// Per-query candidate heaps of a scan over one range of rows.
template <class Arch>
struct BatchCandidates {
  std::vector<ScoredItem> storage;              // query q's heap at q * capacity
  std::size_t rows = 0;                         // rows of the range (set by batch_scan)
  std::vector<marl_rec::detail::TopKBuffer<Arch>> heaps;
  std::size_t capacity = 0;
  double max_row_norm2 = 0.0;                   // ≥ every squared row norm seen (product scan)
  bool non_finite_row = false;                  // a row's squared norm was not finite

  BatchCandidates(std::size_t queries, std::size_t cap) : storage(queries * cap), capacity(cap) {
    heaps.reserve(queries);
    for (std::size_t q = 0; q < queries; ++q) heaps.emplace_back(storage.data() + q * cap, cap);
  }
};

/// `G` consecutive floats from `p` repeated across a batch: lane l gets p[l % G] (G = 1 or 2).
template <class Arch, std::size_t G>
inline xsimd::batch<float, Arch> broadcast_elements(const float* p) noexcept {
  if constexpr (G == 1) {
    return xsimd::batch<float, Arch>(*p);
  } else {
    static_assert(G == 2, "one or two floats per broadcast");
    double pair;  // the two floats' bits, broadcast as one 64-bit element
    std::memcpy(&pair, p, sizeof pair);
    return xsimd::bitwise_cast<xsimd::batch<float, Arch>>(xsimd::batch<double, Arch>(pair));
  }
}

/// Lanes 2j and 2j + 1 of the result both hold lane 2j + lane 2j + 1 of `b` (the even and the
/// odd dimensions' sums of one query, added in either order: the same float).
template <class Arch>
inline xsimd::batch<float, Arch> add_lane_pairs(const xsimd::batch<float, Arch>& b) noexcept {
  return b + compat::swap_adjacent_lanes<Arch>(b);
}

/// f(integral_constant<0>) … f(integral_constant<N − 1>), unrolled: a loop over registers that
/// the compiler leaves rolled keeps them in memory.
template <std::size_t N, class F>
inline void unrolled(F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (f(std::integral_constant<std::size_t, I>{}), ...);
  }(std::make_index_sequence<N>{});
}

/// The register-blocked product: sink(r, v, s) gets, in lane l of s, row r · the query in lane l
/// of the tile's vector v, summed over the dimensions in order (G = 2: the even and the odd
/// dimensions summed apart, then added; both lanes of a query hold its score). `qt` holds the
/// tile's queries transposed: step t's V vectors are at qt[t · V·W ...], lane l of vector v
/// holding element t·G + l % G of its query (0 past the last dimension).
template <class Arch, std::size_t R, std::size_t V, std::size_t G, class Sink>
inline void product_tile(const float* const* rows, const float* qt, std::size_t dim,
                         const char* prefetch, std::size_t prefetch_bytes, Sink&& sink) {
  using Batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = Batch::size;
  // The accumulators are locals handed to the sink by value: stored through a pointer or a
  // reference they could alias the rows' floats, and the compiler would keep them in memory.
  Batch a[R][V];
  unrolled<R>([&](auto r) { unrolled<V>([&](auto v) { a[r][v] = Batch(0.0f); }); });
  const auto step = [&](const float* q, auto broadcast) {
    Batch qv[V];
    unrolled<V>([&](auto v) { qv[v] = Batch::load_aligned(q + v * width); });
    unrolled<R>([&](auto r) {
      const Batch x = broadcast(rows[r]);
      unrolled<V>([&](auto v) { a[r][v] = xsimd::fma(x, qv[v], a[r][v]); });
    });
  };
  const std::size_t steps = dim / G;
  // The cache lines of [prefetch, prefetch + prefetch_bytes) are requested one per step (a burst
  // of them would fill the line fill buffers and stall the FMAs behind it), the rest after.
  // Only offsets below prefetch_bytes form a pointer.
  std::size_t line = 0;
  for (std::size_t t = 0; t < steps; ++t) {
#if defined(__GNUC__)  // GCC and clang; elsewhere the hardware prefetcher alone
    if (line < prefetch_bytes) {
      __builtin_prefetch(prefetch + line, 0, 2);
      line += 64;
    }
#endif
    step(qt + t * V * width, [t](const float* row) { return broadcast_elements<Arch, G>(row + t * G); });
  }
#if defined(__GNUC__)
  for (; line < prefetch_bytes; line += 64) __builtin_prefetch(prefetch + line, 0, 2);
#endif
  if constexpr (G == 2) {
    // An odd last dimension: the odd lanes' query elements are 0 there (the row's last float is
    // broadcast alone, so nothing past the row is read).
    if (dim % 2 != 0) {
      step(qt + steps * V * width, [dim](const float* row) { return Batch(row[dim - 1]); });
    }
    unrolled<R>([&](auto r) { unrolled<V>([&](auto v) { sink(r, v, add_lane_pairs<Arch>(a[r][v])); }); });
  } else {
    unrolled<R>([&](auto r) { unrolled<V>([&](auto v) { sink(r, v, a[r][v]); }); });
  }
}

/// Folds a bound on the squared norms of rows [begin, end) into found.max_row_norm2 (or flags a
/// row whose squared norm is not finite). Each row's x ⊙ x is summed into one batch (the
/// dimensions past the last whole batch into a scalar); the lanes of the lane-wise maximum of
/// those batches plus the largest scalar are at least every row's squared norm
/// (Σ_l max_r s_r[l] ≥ max_r Σ_l s_r[l]) and at most W + 1 times the largest; it costs one max
/// per row, not a horizontal sum.
template <class Arch, class Found>
void fold_row_norms(MatrixView items, std::size_t begin, std::size_t end, Found& found) noexcept {
  using Batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = Batch::size;
  const std::size_t dim = items.cols();
  const std::size_t body = dim / width * width;
  Batch largest(0.0f);
  Batch poison(0.0f);  // gains a NaN from the first non-finite sum (x − x is 0 for finite x)
  float largest_tail = 0.0f;
  bool finite = true;
  // A select, not xsimd::max: GCC 12's _mm512_max_ps reaches its self-initialised "undefined"
  // register (GCC bug 105593). NaN sums are caught by `poison`, so how max treats them is moot.
  const auto larger = [](const Batch& a, const Batch& b) { return xsimd::select(a < b, b, a); };
  const auto row_sums = [&](std::size_t r) {
    const float* row = items.data() + r * items.stride();
    Batch s(0.0f);
    for (std::size_t p = 0; p < body; p += width) {
      const Batch x = Batch::load_unaligned(row + p);
      s = xsimd::fma(x, x, s);
    }
    if (body < dim) {
      float tail = 0.0f;
      for (std::size_t p = body; p < dim; ++p) tail += row[p] * row[p];
      finite = finite && std::isfinite(tail);
      largest_tail = std::max(largest_tail, tail);
    }
    return s;
  };
  std::size_t r = begin;
  // Four rows at a time: their sums are independent chains, folded by a tree.
  for (; r + 4 <= end; r += 4) {
    const Batch s0 = row_sums(r), s1 = row_sums(r + 1), s2 = row_sums(r + 2), s3 = row_sums(r + 3);
    largest = larger(largest, larger(larger(s0, s1), larger(s2, s3)));
    poison += ((s0 - s0) + (s1 - s1)) + ((s2 - s2) + (s3 - s3));
  }
  for (; r < end; ++r) {
    const Batch s0 = row_sums(r);
    largest = larger(largest, s0);
    poison += s0 - s0;
  }
  if (!finite || !xsimd::all(poison == Batch(0.0f))) {  // == is false for NaN on every arch
    found.non_finite_row = true;
    return;
  }
  alignas(64) float lanes[width];
  largest.store_aligned(lanes);
  double bound = static_cast<double>(largest_tail);
  for (const float lane : lanes) bound += static_cast<double>(lane);
  found.max_row_norm2 = std::max(found.max_row_norm2, bound);
}

/// Rows of the register-blocked product's tile and query vectors per tile, by register count.
template <class Arch>
struct ProductShape {
  static constexpr std::size_t width = xsimd::batch<float, Arch>::size;
  static constexpr std::size_t rows = width >= 16 ? 8 : 4;  // R
  static constexpr std::size_t vectors = width >= 16 ? 3 : width >= 8 ? 3 : 2;  // V at most
  /// R when all the queries fit one vector: 8 chains of FMAs cover the FMA latency × 2 ports.
  static constexpr std::size_t single_vector_rows = 8;
};

/// Scans rows [begin, end) of `items` for every query with the register-blocked product, G
/// dimensions per lane (product_lanes_per_query), offering to `found` (capacity ≥ k + extra).
/// Scores are the product's, not canonical.
template <class Arch, std::size_t G, std::size_t R, class Exclude>
void product_scan(MatrixView queries, MatrixView items, std::size_t begin, std::size_t end,
                  const Exclude& exclude, BatchCandidates<Arch>& found) {
  using Batch = xsimd::batch<float, Arch>;
  using Shape = ProductShape<Arch>;
  constexpr std::size_t width = Shape::width;
  constexpr std::size_t per_vector = width / G;  // queries per vector
  const std::size_t nq = queries.rows();
  const std::size_t dim = items.cols();
  const std::size_t stride = items.stride();
  const std::size_t steps = (dim + G - 1) / G;
  // Query tiles of up to V vectors; each tile transposed into its own step-major panel. Query
  // q is in vector q / per_vector, lanes (q % per_vector)·G … + G − 1.
  const std::size_t vectors_total = (nq + per_vector - 1) / per_vector;
  const std::size_t tiles = (vectors_total + Shape::vectors - 1) / Shape::vectors;
  AlignedVector<float> panels(vectors_total * width * std::max<std::size_t>(steps, 1), 0.0f);
  // Query q's heap threshold in each of its lanes (+∞ in the lanes of no query).
  AlignedVector<float> thresholds(vectors_total * width, std::numeric_limits<float>::infinity());
  for (std::size_t t = 0; t < tiles; ++t) {
    const std::size_t v0 = t * Shape::vectors;
    const std::size_t vt = std::min(Shape::vectors, vectors_total - v0);
    float* panel = panels.data() + v0 * width * steps;
    for (std::size_t j = 0; j < vt * per_vector; ++j) {
      const std::size_t q = v0 * per_vector + j;
      if (q >= nq) break;
      const float* query = queries.data() + q * queries.stride();
      const std::size_t lane = (j / per_vector) * width + (j % per_vector) * G;
      for (std::size_t p = 0; p < dim; ++p) panel[p / G * vt * width + lane + p % G] = query[p];
    }
  }
  const auto lane_of = [](std::size_t q) { return q / per_vector * width + q % per_vector * G; };
  const auto set_threshold = [&](std::size_t q) {
    const float threshold = found.heaps[q].threshold();
    for (std::size_t g = 0; g < G; ++g) thresholds[lane_of(q) + g] = threshold;
  };
  for (std::size_t q = 0; q < nq; ++q) set_threshold(q);

  // `scores`: vector `vector`'s queries against row `row`, each query's score in its lanes.
  // Offers the row to the queries of `vector` whose thresholds `scores` reaches: the rare path,
  // kept out of line so that the test of the thresholds below inlines into the tile.
  const auto offer = [&](const Batch& scores, std::size_t vector, std::size_t row) MARL_REC_DETAIL_NOINLINE {
    const float* vector_thresholds = thresholds.data() + vector * width;
    alignas(64) float s[width];
    scores.store_aligned(s);
    for (std::size_t j = 0; j < per_vector; ++j) {
      const std::size_t q = vector * per_vector + j;
      if (q < nq && s[j * G] >= vector_thresholds[j * G] && !exclude(q, row)) {
        found.heaps[q].offer(row, s[j * G]);
        set_threshold(q);
      }
    }
  };
  const auto run_tile = [&]<std::size_t V>(std::integral_constant<std::size_t, V>,
                                           const float* const* rows, std::size_t first,
                                           std::size_t count, const float* panel,
                                           std::size_t v0, const char* prefetch,
                                           std::size_t prefetch_bytes) {
    product_tile<Arch, R, V, G>(rows, panel, dim, prefetch, prefetch_bytes,
                                [&](std::size_t r, std::size_t v, const Batch& scores) {
      if (r < count &&
          xsimd::any(scores >= Batch::load_aligned(thresholds.data() + (v0 + v) * width))) {
        offer(scores, v0 + v, first + r);
      }
    });
  };

  // With one tile of queries the scan is as fast as memory: a block small enough for L1 is read
  // twice (row norms, then the product), and the next block is prefetched during the product.
  const std::size_t row_bytes = stride * sizeof(float);
  const std::size_t block_rows =
      tiles == 1 ? std::clamp<std::size_t>(BatchTuning::product_single_tile_block_bytes / std::max<std::size_t>(row_bytes, 1) / R * R, R, BatchTuning::product_block_rows)
                 : BatchTuning::product_block_rows;
  // Prefetches stay inside rows [begin, end) (no pointer is formed past them).
  const char* const base = reinterpret_cast<const char*>(items.data() + begin * stride);
  const std::size_t range_bytes = dim == 0 ? 0 : ((end - 1 - begin) * stride + dim) * sizeof(float);
  for (std::size_t block = begin; block < end; block += block_rows) {
    const std::size_t block_end = std::min(end, block + block_rows);
    // The bound of the certificate needs the largest row norm; the rows are about to be read.
    fold_row_norms<Arch>(items, block, block_end, found);
    for (std::size_t t = 0; t < tiles; ++t) {
      const std::size_t v0 = t * Shape::vectors;
      const std::size_t vt = std::min(Shape::vectors, vectors_total - v0);
      const float* panel = panels.data() + v0 * width * steps;
      for (std::size_t first = block; first < block_end; first += R) {
        const std::size_t count = std::min(R, block_end - first);
        // The first tile of queries prefetches the rows one block ahead of its own.
        const std::size_t from = std::min((first + block_rows - begin) * row_bytes / 64 * 64, range_bytes);
        const std::size_t to = t == 0 ? std::min(from + R * row_bytes, range_bytes) : from;
        // A short tile repeats its last row; the repeats are computed and not offered.
        const float* rows[R];
        for (std::size_t r = 0; r < R; ++r) {
          rows[r] = items.data() + (first + std::min(r, count - 1)) * stride;
        }
        switch (vt) {
          case 1: run_tile(std::integral_constant<std::size_t, 1>{}, rows, first, count, panel, v0, base + from, to - from); break;
          case 2: if constexpr (Shape::vectors >= 2) run_tile(std::integral_constant<std::size_t, 2>{}, rows, first, count, panel, v0, base + from, to - from); break;
          case 3: if constexpr (Shape::vectors >= 3) run_tile(std::integral_constant<std::size_t, 3>{}, rows, first, count, panel, v0, base + from, to - from); break;
          default: if constexpr (Shape::vectors >= 4) run_tile(std::integral_constant<std::size_t, 4>{}, rows, first, count, panel, v0, base + from, to - from); break;
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
  if (!(n * u < 0.5)) return std::numeric_limits<double>::infinity();  // γ's formula needs n·u < 1
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
  if (!use_product_scan<Arch>(queries.rows())) {
    small_batch_scan<Arch>(queries, items, begin, end, exclude, found);
  } else if (product_lanes_per_query<Arch>(queries.rows()) == 2) {
    product_scan<Arch, 2, ProductShape<Arch>::single_vector_rows>(queries, items, begin, end, exclude, found);
  } else if (queries.rows() <= xsimd::batch<float, Arch>::size) {
    product_scan<Arch, 1, ProductShape<Arch>::single_vector_rows>(queries, items, begin, end, exclude, found);
  } else {
    product_scan<Arch, 1, ProductShape<Arch>::rows>(queries, items, begin, end, exclude, found);
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
/// 4 queries on (2 with SSE2), a transposed copy of the queries. Throws
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

#undef MARL_REC_DETAIL_NOINLINE

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
