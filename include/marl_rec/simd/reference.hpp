// marl_rec — scalar twins of the SIMD kernels (simd/kernels.hpp).
//
// Same names, same signatures, same argument checks and the same documented behaviour as
// marl_rec::simd, written as the simplest loops with double accumulators. They are the yardstick
// the kernels are tested against, and a portable path for users who need one (e.g. bit-for-bit
// reproducibility across machines, together with -ffp-contract=off).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "marl_rec/simd/detail/argument_checks.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/quantized_matrix.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace marl_rec::simd::reference {

namespace detail {
inline double dot_double(const float* a, const float* b, std::size_t n) noexcept {
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}
}  // namespace detail

/// a · b (see simd::dot).
inline float dot(std::span<const float> a, std::span<const float> b) {
  marl_rec::detail::check_sizes_equal("simd::dot", "a", a.size(), "b", b.size());
  return static_cast<float>(detail::dot_double(a.data(), b.data(), a.size()));
}

/// Scales x to unit L2 norm (see simd::l2_normalize).
inline bool l2_normalize(std::span<float> x) noexcept {
  const double n2 = detail::dot_double(x.data(), x.data(), x.size());
  if (!(n2 > 0.0) || !std::isfinite(n2)) return false;
  const double inv = 1.0 / std::sqrt(n2);
  for (float& v : x) v = static_cast<float>(v * inv);
  return true;
}

/// Scales every row of m to unit L2 norm (see simd::normalize_rows).
inline std::size_t normalize_rows(MutableMatrixView m) noexcept {
  std::size_t unchanged = 0;
  for (std::size_t r = 0; r < m.rows(); ++r) unchanged += l2_normalize(m.row(r)) ? 0 : 1;
  return unchanged;
}

/// out[i] = items.row(i) · query (see simd::score).
inline void score(std::span<const float> query, MatrixView items, std::span<float> out) {
  marl_rec::detail::check_sizes_equal("simd::score", "query", query.size(), "item rows",
                                      items.cols());
  marl_rec::detail::check_at_least("simd::score", "out", out.size(), items.rows());
  for (std::size_t r = 0; r < items.rows(); ++r) {
    out[r] = static_cast<float>(detail::dot_double(items.row(r).data(), query.data(), query.size()));
  }
}

/// Top-k selection over a score array (see simd::top_k): sorts the eligible entries.
template <ItemExclusion Exclude = NoExclusion>
inline std::size_t top_k(std::span<const float> scores, std::size_t k, std::span<ScoredItem> out,
                         const Exclude& exclude = {}) {
  marl_rec::detail::check_at_least("simd::top_k", "out", out.size(), std::min(k, scores.size()));
  std::vector<ScoredItem> all;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!std::isnan(scores[i]) && !exclude(i)) all.push_back({i, scores[i]});
  }
  std::sort(all.begin(), all.end(), ranks_before);
  const std::size_t n = std::min(k, all.size());
  std::copy(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), out.begin());
  return n;
}

/// Fused score + top-k (see simd::score_top_k): scores everything, then sorts.
template <ItemExclusion Exclude = NoExclusion>
inline std::size_t score_top_k(std::span<const float> query, MatrixView items, std::size_t k,
                               std::span<ScoredItem> out, const Exclude& exclude = {}) {
  marl_rec::detail::check_sizes_equal("simd::score_top_k", "query", query.size(), "item rows",
                                      items.cols());
  marl_rec::detail::check_at_least("simd::score_top_k", "out", out.size(),
                                   std::min(k, items.rows()));
  std::vector<ScoredItem> all;
  for (std::size_t r = 0; r < items.rows(); ++r) {
    const float s =
        static_cast<float>(detail::dot_double(items.row(r).data(), query.data(), query.size()));
    if (!std::isnan(s) && !exclude(r)) all.push_back({r, s});
  }
  std::sort(all.begin(), all.end(), ranks_before);
  const std::size_t n = std::min(k, all.size());
  std::copy(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), out.begin());
  return n;
}

/// score_top_k for every row of `queries` (see simd::score_top_k_batch).
template <BatchItemExclusion Exclude = NoExclusion>
inline void score_top_k_batch(MatrixView queries, MatrixView items, std::size_t k,
                              std::span<ScoredItem> out, std::span<std::size_t> counts,
                              const Exclude& exclude = {}) {
  constexpr const char* where = "simd::score_top_k_batch";
  marl_rec::detail::check_sizes_equal(where, "query rows", queries.cols(), "item rows",
                                      items.cols());
  marl_rec::detail::check_at_least(where, "counts", counts.size(), queries.rows());
  const std::size_t capacity = std::min(k, items.rows());
  marl_rec::detail::require(
      capacity == 0 || queries.rows() <= std::numeric_limits<std::size_t>::max() / capacity,
      "simd::score_top_k_batch: queries x k overflows size_t");
  marl_rec::detail::check_at_least(where, "out", out.size(), queries.rows() * capacity);
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    counts[q] = score_top_k(
        queries.row(q), items, k, out.subspan(q * capacity, capacity),
        [&exclude, q](std::size_t i) { return static_cast<bool>(exclude(q, i)); });
  }
}

/// q[i] += alpha * (reward[i] + gamma * next_max[i] - q[i]) (see simd::td_update).
inline void td_update(std::span<float> q, std::span<const float> reward,
                      std::span<const float> next_max, float alpha, float gamma) {
  constexpr const char* where = "simd::td_update";
  marl_rec::detail::check_sizes_equal(where, "q", q.size(), "reward", reward.size());
  marl_rec::detail::check_sizes_equal(where, "q", q.size(), "next_max", next_max.size());
  marl_rec::detail::check_finite(where, "alpha", alpha);
  marl_rec::detail::check_finite(where, "gamma", gamma);
  for (std::size_t i = 0; i < q.size(); ++i) {
    const double qi = q[i];
    const double target = static_cast<double>(reward[i]) +
                          static_cast<double>(gamma) * static_cast<double>(next_max[i]);
    q[i] = static_cast<float>(qi + static_cast<double>(alpha) * (target - qi));
  }
}

/// y += a * x (see simd::axpy).
inline void axpy(float a, std::span<const float> x, std::span<float> y) {
  marl_rec::detail::check_sizes_equal("simd::axpy", "x", x.size(), "y", y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    y[i] = static_cast<float>(static_cast<double>(y[i]) +
                              static_cast<double>(a) * static_cast<double>(x[i]));
  }
}

/// A -= (u vᵀ) / c (see simd::rank1_sub).
inline void rank1_sub(MutableMatrixView a, std::span<const float> u, std::span<const float> v,
                      float c) {
  constexpr const char* where = "simd::rank1_sub";
  marl_rec::detail::check_sizes_equal(where, "u", u.size(), "A rows", a.rows());
  marl_rec::detail::check_sizes_equal(where, "v", v.size(), "A cols", a.cols());
  marl_rec::detail::check_invertible(where, "c", c);
  for (std::size_t i = 0; i < a.rows(); ++i) {
    float* row = a.row(i).data();
    for (std::size_t j = 0; j < a.cols(); ++j) {
      row[j] = static_cast<float>(static_cast<double>(row[j]) -
                                  static_cast<double>(u[i]) * static_cast<double>(v[j]) /
                                      static_cast<double>(c));
    }
  }
}

/// A -= (u uᵀ) / c for a symmetric A (see simd::symmetric_rank1_sub): the upper triangle is
/// computed and mirrored.
inline void symmetric_rank1_sub(MutableMatrixView a, std::span<const float> u, float c) {
  constexpr const char* where = "simd::symmetric_rank1_sub";
  marl_rec::detail::check_sizes_equal(where, "A rows", a.rows(), "A cols", a.cols());
  marl_rec::detail::check_sizes_equal(where, "u", u.size(), "A rows", a.rows());
  marl_rec::detail::check_invertible(where, "c", c);
  for (std::size_t i = 0; i < a.rows(); ++i) {
    for (std::size_t j = i; j < a.cols(); ++j) {
      const double v = static_cast<double>(a.row(i)[j]) -
                       static_cast<double>(u[i]) * static_cast<double>(u[j]) / static_cast<double>(c);
      a.row(i)[j] = a.row(j)[i] = static_cast<float>(v);
    }
  }
}

namespace detail {
/// query · stored row r, accumulated in double (bf16: the decoded values; int8: scale × Σ q·code).
inline double quantized_dot(std::span<const float> query, const Bf16Matrix& items, std::size_t r) {
  double sum = 0.0;
  for (std::size_t j = 0; j < query.size(); ++j) {
    sum += static_cast<double>(query[j]) * static_cast<double>(items.value(r, j));
  }
  return sum;
}
inline double quantized_dot(std::span<const float> query, const Int8Matrix& items, std::size_t r) {
  double sum = 0.0;
  const std::span<const std::int8_t> codes = items.row(r);
  for (std::size_t j = 0; j < query.size(); ++j) sum += static_cast<double>(query[j]) * codes[j];
  return static_cast<double>(items.scales()[r]) * sum;
}
}  // namespace detail

/// Top-k by approximate score over a quantised matrix (see simd::score_top_k for Bf16Matrix /
/// Int8Matrix): scores every row in double, then sorts.
template <ItemExclusion Exclude = NoExclusion, QuantizedMatrix Matrix>
inline std::size_t score_top_k(std::span<const float> query, const Matrix& items, std::size_t k,
                               std::span<ScoredItem> out, const Exclude& exclude = {}) {
  simd::detail::check_quantized_top_k(query, items, k, out);
  std::vector<ScoredItem> all;
  for (std::size_t r = 0; r < items.rows(); ++r) {
    const float s = static_cast<float>(detail::quantized_dot(query, items, r));
    if (!std::isnan(s) && !exclude(r)) all.push_back({r, s});
  }
  std::sort(all.begin(), all.end(), ranks_before);
  const std::size_t n = std::min(k, all.size());
  std::copy(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), out.begin());
  return n;
}

/// Exact top-k through a quantised matrix (see simd::score_top_k with `exact`): by definition the
/// top-k of `exact`, so its twin is score_top_k on `exact`.
template <ItemExclusion Exclude = NoExclusion, QuantizedMatrix Matrix>
inline std::size_t score_top_k(std::span<const float> query, const Matrix& items, MatrixView exact,
                               std::size_t k, std::span<ScoredItem> out,
                               const Exclude& exclude = {}) {
  simd::detail::check_quantized_top_k(query, items, exact, k, out);
  return score_top_k(query, exact, k, out, exclude);
}

}  // namespace marl_rec::simd::reference
