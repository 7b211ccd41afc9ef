// marl_rec — SIMD kernels (xsimd): scoring, fused top-k, and the update loops of the learners.
//
// Each kernel is written once, as a functor templated on the xsimd architecture (defined out of
// class, stepping by batch::size with a scalar tail), and is called by a checked function of the
// same name in marl_rec::simd. Every checked function has a scalar twin with the same name and
// signature in marl_rec::simd::reference (simd/reference.hpp); the tests compare the two.
//
// The architecture is the one the consumer's flags enable (xsimd::default_arch): the library adds
// no -m/-march flag of its own. Scores from different architectures may differ in the last bits
// (summation order); on one architecture the scoring kernels (score, score_top_k, and
// score_top_k_batch in simd/batch_top_k.hpp) compute a given score bit-identically.
//
// NaN policy: a NaN score never enters a top-k (it is not eligible, like an excluded item);
// `score` writes NaN where the arithmetic gives NaN; `td_update`, `axpy` and `rank1_sub`
// propagate NaN inputs as IEEE arithmetic does (validating learner inputs is the learners' job);
// `normalize_rows` leaves rows whose norm is zero or not finite (NaN/Inf entries) unchanged and
// counts them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <type_traits>

#include "marl_rec/simd/detail/argument_checks.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"

// GCC 12 at -O2/-O3 reports -Warray-bounds / -Wstringop-overread on dispatch branches that are
// unreachable for the dim at hand (e.g. the 16-batch scorer when a caller's 1-float query is
// visible to it), and -Waggressive-loop-optimizations on scalar tails it inlines with
// -march=native. The branches are guarded by the dim; the diagnostics are false positives.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Waggressive-loop-optimizations"
#endif

namespace marl_rec::simd {

namespace kernels {

/// Scores blocks of `width` consecutive rows against one query: lane g of the result is row g's
/// score. A block is reduced with one transposed horizontal add (no per-row horizontal sum),
/// and for dims of 1, 2, 4, 8 or 16 batches (`Chunks`) the query stays in registers; other dims
/// (`Chunks` = 0) loop over batches and add the scalar tail per row. Every scoring kernel goes
/// through this class with blocks starting at multiples of `width`, so they all compute a given
/// score with the same operations in the same order: the same bits.
template <class Arch, std::size_t Chunks>
class RowBlockScorer {
 public:
  using Batch = xsimd::batch<float, Arch>;
  static constexpr std::size_t width = Batch::size;

  RowBlockScorer(const float* query, std::size_t dim) noexcept : query_(query), dim_(dim) {
    for (std::size_t c = 0; c < Chunks; ++c) q_[c] = Batch::load_unaligned(query + c * width);
  }

  /// Scores the `width` rows starting at `first`, `stride` floats apart.
  Batch full(const float* first, std::size_t stride) const noexcept {
    // A dim below one batch is all tail: its zero vector sums need no transposition (same bits).
    if (Chunks == 0 && dim_ < width) return add_tails(Batch(0.0f), first, stride, width);
    Batch acc[width];
    for (std::size_t g = 0; g < width; ++g) acc[g] = row(first + g * stride);
    return add_tails(compat::transpose_reduce_add(acc), first, stride, width);
  }

  /// Scores `count` < width rows; the other lanes are 0.
  Batch partial(const float* first, std::size_t stride, std::size_t count) const noexcept {
    if (Chunks == 0 && dim_ < width) return add_tails(Batch(0.0f), first, stride, count);
    Batch acc[width];
    for (std::size_t g = 0; g < width; ++g) acc[g] = g < count ? row(first + g * stride) : Batch(0.0f);
    return add_tails(compat::transpose_reduce_add(acc), first, stride, count);
  }

 private:
  Batch row(const float* r) const noexcept {
    if constexpr (Chunks > 0) {
      Batch a = Batch::load_unaligned(r) * q_[0];
      for (std::size_t c = 1; c < Chunks; ++c) a = xsimd::fma(Batch::load_unaligned(r + c * width), q_[c], a);
      return a;
    } else {
      Batch a(0.0f);
      for (std::size_t c = 0; c + width <= dim_; c += width) {
        a = xsimd::fma(Batch::load_unaligned(r + c), Batch::load_unaligned(query_ + c), a);
      }
      return a;
    }
  }

  Batch add_tails(Batch sums, const float* first, std::size_t stride,
                  std::size_t count) const noexcept {
    if constexpr (Chunks > 0) {
      return sums;
    } else {
      const std::size_t tail = dim_ - dim_ % width;
      if (tail == dim_) return sums;
      alignas(64) float s[width];
      sums.store_aligned(s);
      for (std::size_t g = 0; g < count; ++g) {
        const float* r = first + g * stride;
        for (std::size_t j = tail; j < dim_; ++j) s[g] += r[j] * query_[j];
      }
      return Batch::load_aligned(s);
    }
  }

  const float* query_;
  std::size_t dim_;
  Batch q_[Chunks == 0 ? 1 : Chunks];
};

/// Calls f(scorer) with the RowBlockScorer suited to `dim`.
template <class Arch, class F>
inline decltype(auto) with_row_scorer(const float* query, std::size_t dim, F&& f) {
  constexpr std::size_t width = xsimd::batch<float, Arch>::size;
  if (dim % width == 0) {
    switch (dim / width) {
      case 1: return f(RowBlockScorer<Arch, 1>(query, dim));
      case 2: return f(RowBlockScorer<Arch, 2>(query, dim));
      case 4: return f(RowBlockScorer<Arch, 4>(query, dim));
      case 8: return f(RowBlockScorer<Arch, 8>(query, dim));
      case 16: return f(RowBlockScorer<Arch, 16>(query, dim));
      default: break;
    }
  }
  return f(RowBlockScorer<Arch, 0>(query, dim));
}


/// Offers the `count` scores of a block whose first row is `first` to `top`. One vector compare
/// decides whether any lane can enter; NaN lanes never pass it.
template <class Batch, class Top, class Exclude>
inline void offer_block(const Batch& scores, std::size_t first, std::size_t count, Top& top,
                        const Exclude& exclude)
    noexcept(std::is_nothrow_invocable_v<const Exclude&, std::size_t>) {
  if (!xsimd::any(scores >= Batch(top.threshold()))) return;
  alignas(64) float s[Batch::size];
  scores.store_aligned(s);
  for (std::size_t g = 0; g < count; ++g) {
    if (s[g] >= top.threshold() && !exclude(first + g)) top.offer(first + g, s[g]);
  }
}

/// Offers rows [begin, end) of `items` to `top` (begin a multiple of the batch width). Rows are
/// read one after another: a single sequential stream is what reaches the memory bandwidth.
template <class Scorer, class Top, class Exclude>
inline void scan_rows(Scorer scorer, MatrixView items, std::size_t begin, std::size_t end, Top& top,
                      const Exclude& exclude)
    noexcept(std::is_nothrow_invocable_v<const Exclude&, std::size_t>) {
  constexpr std::size_t width = Scorer::width;
  const std::size_t stride = items.stride();
  // Row pointers are formed from r, never stepped past the end of the storage.
  std::size_t r = begin;
  for (; r + width <= end; r += width) {
    offer_block(scorer.full(items.data() + r * stride, stride), r, width, top, exclude);
  }
  if (r < end) {
    offer_block(scorer.partial(items.data() + r * stride, stride, end - r), r, end - r, top,
                exclude);
  }
}

/// a · b over n floats.
struct Dot {
  template <class Arch>
  float operator()(Arch, const float* a, const float* b, std::size_t n) const noexcept;
};

/// x *= s over n floats.
struct Scale {
  template <class Arch>
  void operator()(Arch, float* x, float s, std::size_t n) const noexcept;
};

/// out[i] = row_i · query for every row of `items`.
struct Score {
  template <class Arch>
  void operator()(Arch, const float* query, MatrixView items, float* out) const noexcept;
};

/// The min(k, eligible) best (index, score) pairs of `items` against `query`, best first, written
/// to out[0, min(k, rows)); returns how many. No score array is written.
struct ScoreTopK {
  template <class Arch, class Exclude>
  std::size_t operator()(Arch, const float* query, MatrixView items, std::size_t k,
                         const Exclude& exclude, ScoredItem* out) const
      noexcept(std::is_nothrow_invocable_v<const Exclude&, std::size_t>);
};

/// The min(k, eligible) best entries of a score array, best first (top-k selection for models
/// that produce a score per item).
struct TopK {
  template <class Arch, class Exclude>
  std::size_t operator()(Arch, const float* scores, std::size_t n, std::size_t k,
                         const Exclude& exclude, ScoredItem* out) const
      noexcept(std::is_nothrow_invocable_v<const Exclude&, std::size_t>);
};

/// q[i] += alpha * (reward[i] + gamma * next_max[i] - q[i]) over n entries (the TD(0) update).
struct TdUpdate {
  template <class Arch>
  void operator()(Arch, float* q, const float* reward, const float* next_max, float alpha,
                  float gamma, std::size_t n) const noexcept;
};

/// y += a * x over n floats.
struct Axpy {
  template <class Arch>
  void operator()(Arch, float a, const float* x, float* y, std::size_t n) const noexcept;
};

/// A -= (u vᵀ) / c, computed per element as (u[i] * v[j]) * (1 / c).
struct Rank1Sub {
  template <class Arch>
  void operator()(Arch, MutableMatrixView a, const float* u, const float* v,
                  float c) const noexcept;
};

/// A -= (u uᵀ) / c for a symmetric A: the upper triangle is computed and mirrored, so A stays
/// exactly symmetric whatever the compiler contracts into FMAs.
struct SymmetricRank1Sub {
  template <class Arch>
  void operator()(Arch, MutableMatrixView a, const float* u, float c) const noexcept;
};

// ---- definitions -------------------------------------------------------------------------------

template <class Arch>
float Dot::operator()(Arch, const float* a, const float* b, std::size_t n) const noexcept {
  using Batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = Batch::size;
  Batch acc0(0.0f);
  Batch acc1(0.0f);
  std::size_t i = 0;
  for (; i + 2 * width <= n; i += 2 * width) {
    acc0 = xsimd::fma(Batch::load_unaligned(a + i), Batch::load_unaligned(b + i), acc0);
    acc1 = xsimd::fma(Batch::load_unaligned(a + i + width), Batch::load_unaligned(b + i + width),
                      acc1);
  }
  if (i + width <= n) {
    acc0 = xsimd::fma(Batch::load_unaligned(a + i), Batch::load_unaligned(b + i), acc0);
    i += width;
  }
  float sum = compat::reduce_add(acc0 + acc1);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

template <class Arch>
void Scale::operator()(Arch, float* x, float s, std::size_t n) const noexcept {
  using Batch = xsimd::batch<float, Arch>;
  const Batch vs(s);
  std::size_t i = 0;
  for (; i + Batch::size <= n; i += Batch::size) {
    (Batch::load_unaligned(x + i) * vs).store_unaligned(x + i);
  }
  for (; i < n; ++i) x[i] *= s;
}

template <class Arch>
void Score::operator()(Arch, const float* query, MatrixView items, float* out) const noexcept {
  with_row_scorer<Arch>(query, items.cols(), [&](const auto& scorer) {
    using Batch = xsimd::batch<float, Arch>;
    constexpr std::size_t width = Batch::size;
    const std::size_t stride = items.stride();
    std::size_t r = 0;
    for (; r + width <= items.rows(); r += width) {
      scorer.full(items.data() + r * stride, stride).store_unaligned(out + r);
    }
    if (r < items.rows()) {
      alignas(64) float s[width];
      scorer.partial(items.data() + r * stride, stride, items.rows() - r).store_aligned(s);
      std::copy(s, s + (items.rows() - r), out + r);
    }
  });
}

template <class Arch, class Exclude>
std::size_t ScoreTopK::operator()(Arch, const float* query, MatrixView items, std::size_t k,
                                  const Exclude& exclude, ScoredItem* out) const
    noexcept(std::is_nothrow_invocable_v<const Exclude&, std::size_t>) {
  const std::size_t capacity = std::min(k, items.rows());
  if (capacity == 0) return 0;
  marl_rec::detail::TopKBuffer<Arch> top(out, capacity);
  with_row_scorer<Arch>(query, items.cols(), [&](const auto& scorer) {
    scan_rows(scorer, items, 0, items.rows(), top, exclude);
  });
  return top.finish();
}

template <class Arch, class Exclude>
std::size_t TopK::operator()(Arch, const float* scores, std::size_t n, std::size_t k,
                             const Exclude& exclude, ScoredItem* out) const
    noexcept(std::is_nothrow_invocable_v<const Exclude&, std::size_t>) {
  using Batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = Batch::size;
  const std::size_t capacity = std::min(k, n);
  if (capacity == 0) return 0;
  marl_rec::detail::TopKBuffer<Arch> top(out, capacity);
  std::size_t i = 0;
  for (; i + width <= n; i += width) {
    offer_block(Batch::load_unaligned(scores + i), i, width, top, exclude);
  }
  if (i < n) {
    // The tail is padded with NaN, which never passes the threshold test.
    alignas(64) float tail[width];
    std::fill(tail, tail + width, std::numeric_limits<float>::quiet_NaN());
    std::copy(scores + i, scores + n, tail);
    offer_block(Batch::load_aligned(tail), i, n - i, top, exclude);
  }
  return top.finish();
}

template <class Arch>
void TdUpdate::operator()(Arch, float* q, const float* reward, const float* next_max, float alpha,
                          float gamma, std::size_t n) const noexcept {
  using Batch = xsimd::batch<float, Arch>;
  const Batch va(alpha);
  const Batch vg(gamma);
  std::size_t i = 0;
  for (; i + Batch::size <= n; i += Batch::size) {
    const Batch qi = Batch::load_unaligned(q + i);
    const Batch target =
        xsimd::fma(vg, Batch::load_unaligned(next_max + i), Batch::load_unaligned(reward + i));
    xsimd::fma(va, target - qi, qi).store_unaligned(q + i);
  }
  for (; i < n; ++i) q[i] += alpha * ((reward[i] + gamma * next_max[i]) - q[i]);
}

template <class Arch>
void Axpy::operator()(Arch, float a, const float* x, float* y, std::size_t n) const noexcept {
  using Batch = xsimd::batch<float, Arch>;
  const Batch va(a);
  std::size_t i = 0;
  for (; i + Batch::size <= n; i += Batch::size) {
    xsimd::fma(va, Batch::load_unaligned(x + i), Batch::load_unaligned(y + i)).store_unaligned(y + i);
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

// Rows [0, rows) of A -= (u vᵀ) / c over columns [first_col(r), cols).
template <class Arch, class FirstCol>
inline void rank1_sub_rows(MutableMatrixView a, const float* u, const float* v, float c,
                           FirstCol first_col) noexcept {
  using Batch = xsimd::batch<float, Arch>;
  const float inv_c = 1.0f / c;
  const Batch vinv(inv_c);
  const std::size_t n = a.cols();
  for (std::size_t r = 0; r < a.rows(); ++r) {
    float* row = a.data() + r * a.stride();
    const Batch ur(u[r]);
    std::size_t j = first_col(r);
    for (; j + Batch::size <= n; j += Batch::size) {
      const Batch t = (ur * Batch::load_unaligned(v + j)) * vinv;
      (Batch::load_unaligned(row + j) - t).store_unaligned(row + j);
    }
    for (; j < n; ++j) row[j] -= (u[r] * v[j]) * inv_c;
  }
}

template <class Arch>
void Rank1Sub::operator()(Arch, MutableMatrixView a, const float* u, const float* v,
                          float c) const noexcept {
  rank1_sub_rows<Arch>(a, u, v, c, [](std::size_t) { return std::size_t{0}; });
}

template <class Arch>
void SymmetricRank1Sub::operator()(Arch, MutableMatrixView a, const float* u,
                                   float c) const noexcept {
  // The vector body and the scalar tail may round differently (FMA contraction), so (i, j) and
  // (j, i) are not computed separately: the upper triangle is mirrored.
  rank1_sub_rows<Arch>(a, u, u, c, [](std::size_t r) { return r; });
  for (std::size_t r = 1; r < a.rows(); ++r) {
    float* row = a.data() + r * a.stride();
    for (std::size_t j = 0; j < r; ++j) row[j] = a.data()[j * a.stride() + r];
  }
}

}  // namespace kernels

// ---- checked entry points ----------------------------------------------------------------------
//
// Each entry point is a template on the architecture, defaulting to the one the caller's flags
// enable. The architecture is thus part of the symbol: translation units built with different
// -m flags (e.g. per-ISA units of a dispatching program) get different functions, and the linker
// cannot pick an AVX-512 body for a caller built for SSE2.

/// a · b. Throws marl_rec::Error when the sizes differ.
template <class Arch = compat::default_arch>
inline float dot(std::span<const float> a, std::span<const float> b) {
  marl_rec::detail::check_sizes_equal("simd::dot", "a", a.size(), "b", b.size());
  return kernels::Dot{}(Arch{}, a.data(), b.data(), a.size());
}

/// Scales x to unit L2 norm. The squared norm is accumulated in double, so tiny and huge finite
/// vectors normalise correctly. Returns false, leaving x unchanged, when the norm is zero or not
/// finite (a NaN or Inf entry).
template <class Arch = compat::default_arch>
inline bool l2_normalize(std::span<float> x) noexcept {
  double n2 = 0.0;
  for (const float v : x) n2 += static_cast<double>(v) * static_cast<double>(v);
  if (!(n2 > 0.0) || !std::isfinite(n2)) return false;
  const double inverse = 1.0 / std::sqrt(n2);
  if (inverse <= static_cast<double>(std::numeric_limits<float>::max())) {
    kernels::Scale{}(Arch{}, x.data(), static_cast<float>(inverse), x.size());
  } else {
    // A subnormal-length vector: its inverse norm does not fit a float; scale in double.
    for (float& v : x) v = static_cast<float>(static_cast<double>(v) * inverse);
  }
  return true;
}

/// Scales every row of m to unit L2 norm (for cosine scoring). Returns how many rows were left
/// unchanged because their norm is zero or not finite (see l2_normalize).
template <class Arch = compat::default_arch>
inline std::size_t normalize_rows(MutableMatrixView m) noexcept {
  std::size_t unchanged = 0;
  for (std::size_t r = 0; r < m.rows(); ++r) unchanged += l2_normalize<Arch>(m.row(r)) ? 0 : 1;
  return unchanged;
}

/// out[i] = items.row(i) · query for every item. Throws marl_rec::Error when query.size() !=
/// items.cols() or out has fewer than items.rows() elements.
template <class Arch = compat::default_arch>
inline void score(std::span<const float> query, MatrixView items, std::span<float> out) {
  marl_rec::detail::check_sizes_equal("simd::score", "query", query.size(), "item rows",
                                      items.cols());
  marl_rec::detail::check_at_least("simd::score", "out", out.size(), items.rows());
  kernels::Score{}(Arch{}, query.data(), items, out.data());
}

/// Fused score + top-k: the min(k, eligible) best items of `items` against `query`, best first
/// (score descending, then lower index), written to the front of `out`; returns how many.
/// Eligible: not excluded and score not NaN. `out` needs min(k, items.rows()) elements. k = 0,
/// k ≥ rows and rows = 0 are all valid. No score array is written. Throws marl_rec::Error on a
/// dimension mismatch or a too-small `out`.
template <ItemExclusion Exclude = NoExclusion, class Arch = compat::default_arch>
inline std::size_t score_top_k(std::span<const float> query, MatrixView items, std::size_t k,
                               std::span<ScoredItem> out, const Exclude& exclude = {}) {
  marl_rec::detail::check_sizes_equal("simd::score_top_k", "query", query.size(), "item rows",
                                      items.cols());
  marl_rec::detail::check_at_least("simd::score_top_k", "out", out.size(),
                                   std::min(k, items.rows()));
  return kernels::ScoreTopK{}(Arch{}, query.data(), items, k, exclude, out.data());
}

/// Top-k selection over a score array: the min(k, eligible) best entries (index = position in
/// `scores`), best first, written to the front of `out`; returns how many. Same order, NaN and
/// exclusion rules as score_top_k. `out` needs min(k, scores.size()) elements.
template <ItemExclusion Exclude = NoExclusion, class Arch = compat::default_arch>
inline std::size_t top_k(std::span<const float> scores, std::size_t k, std::span<ScoredItem> out,
                         const Exclude& exclude = {}) {
  marl_rec::detail::check_at_least("simd::top_k", "out", out.size(), std::min(k, scores.size()));
  return kernels::TopK{}(Arch{}, scores.data(), scores.size(), k, exclude, out.data());
}

/// The TD(0) update q[i] += alpha * (reward[i] + gamma * next_max[i] - q[i]) for every i.
/// Throws marl_rec::Error when the sizes differ or alpha / gamma are not finite.
template <class Arch = compat::default_arch>
inline void td_update(std::span<float> q, std::span<const float> reward,
                      std::span<const float> next_max, float alpha, float gamma) {
  constexpr const char* where = "simd::td_update";
  marl_rec::detail::check_sizes_equal(where, "q", q.size(), "reward", reward.size());
  marl_rec::detail::check_sizes_equal(where, "q", q.size(), "next_max", next_max.size());
  marl_rec::detail::check_finite(where, "alpha", alpha);
  marl_rec::detail::check_finite(where, "gamma", gamma);
  kernels::TdUpdate{}(Arch{}, q.data(), reward.data(), next_max.data(), alpha, gamma, q.size());
}

/// y += a * x. Throws marl_rec::Error when the sizes differ.
template <class Arch = compat::default_arch>
inline void axpy(float a, std::span<const float> x, std::span<float> y) {
  marl_rec::detail::check_sizes_equal("simd::axpy", "x", x.size(), "y", y.size());
  kernels::Axpy{}(Arch{}, a, x.data(), y.data(), x.size());
}

/// A -= (u vᵀ) / c (u has A.rows() entries, v has A.cols()). Throws marl_rec::Error on a size
/// mismatch, or when c is zero or not finite or 1/c is not finite.
template <class Arch = compat::default_arch>
inline void rank1_sub(MutableMatrixView a, std::span<const float> u, std::span<const float> v,
                      float c) {
  constexpr const char* where = "simd::rank1_sub";
  marl_rec::detail::check_sizes_equal(where, "u", u.size(), "A rows", a.rows());
  marl_rec::detail::check_sizes_equal(where, "v", v.size(), "A cols", a.cols());
  marl_rec::detail::check_invertible(where, "c", c);
  kernels::Rank1Sub{}(Arch{}, a, u.data(), v.data(), c);
}

/// A -= (u uᵀ) / c for a symmetric A (e.g. the Sherman–Morrison update of an inverse): only the
/// upper triangle is read and computed, then mirrored, so A stays exactly symmetric. The lower
/// triangle's old values are not read. Throws marl_rec::Error when A is not square, u's size
/// differs, or c is zero or not finite or 1/c is not finite.
template <class Arch = compat::default_arch>
inline void symmetric_rank1_sub(MutableMatrixView a, std::span<const float> u, float c) {
  constexpr const char* where = "simd::symmetric_rank1_sub";
  marl_rec::detail::check_sizes_equal(where, "A rows", a.rows(), "A cols", a.cols());
  marl_rec::detail::check_sizes_equal(where, "u", u.size(), "A rows", a.rows());
  marl_rec::detail::check_invertible(where, "c", c);
  kernels::SymmetricRank1Sub{}(Arch{}, a, u.data(), c);
}

}  // namespace marl_rec::simd

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
