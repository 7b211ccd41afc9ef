// marl_rec — exact float32 top-k from an approximate candidate set, with a certificate.
//
// An approximate scan (quantised items, an index, ...) proposes candidates; re-scoring them with
// the float32 kernel's own arithmetic and comparing the k-th best against an upper bound on every
// item the scan left out decides whether the result is provably what simd::score_top_k would have
// returned on the float32 matrix — bit for bit and in the same order — without reading it all.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>

#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"

namespace marl_rec::simd::detail {

/// Re-scores rows with exactly the arithmetic of score / score_top_k / score_top_k_batch on
/// architecture Arch. Those kernels score blocks of `width` rows starting at multiples of `width`
/// (kernels::scan_rows), and a lane's bits depend on whether its block was scored with full() or
/// partial(), so a row is re-scored by scoring its whole block the same way. The last block scored
/// is kept, so rows visited in increasing order cost one block scoring per block.
template <class Arch>
class CanonicalRowScorer {
 public:
  using Batch = xsimd::batch<float, Arch>;
  static constexpr std::size_t width = Batch::size;

  CanonicalRowScorer(const float* query, MatrixView items) noexcept : query_(query), items_(items) {}

  /// The canonical score of row `row` (< items.rows()).
  float operator()(std::size_t row) noexcept {
    const std::size_t first = row - row % width;
    if (!has_block_ || first != cached_first_) {
      const std::size_t count = std::min(width, items_.rows() - first);
      const float* block = items_.data() + first * items_.stride();
      kernels::with_row_scorer<Arch>(query_, items_.cols(), [&](const auto& scorer) {
        const Batch s = count == width ? scorer.full(block, items_.stride())
                                       : scorer.partial(block, items_.stride(), count);
        s.store_aligned(scores_);
      });
      cached_first_ = first;
      has_block_ = true;
    }
    return scores_[row - first];
  }

 private:
  const float* query_;
  MatrixView items_;
  std::size_t cached_first_ = 0;
  bool has_block_ = false;
  alignas(64) float scores_[width] = {};
};

/// The score of row `row` of `items` against `query`, bit-identical to what score_top_k /
/// score (kernels.hpp) compute for that row on architecture Arch: score the aligned block of
/// `width` rows containing it (kernels::RowBlockScorer via with_row_scorer, full() or partial()
/// exactly as kernels::scan_rows does for the block starting at row - row % width) and take its
/// lane. Unchecked: `query` has items.cols() floats and row < items.rows().
template <class Arch>
float canonical_score(const float* query, MatrixView items, std::size_t row) noexcept {
  return CanonicalRowScorer<Arch>(query, items)(row);
}

/// Exact top-k from an approximate candidate set. `candidates` came from an approximate scan that
/// already applied the exclusion (distinct indices below items.rows(); their scores are not read);
/// `complete` is true when every eligible item is among them; otherwise `outside_bound` (double) is
/// an upper bound on the canonical score of every eligible item NOT among them. Re-scores every
/// candidate with canonical_score, keeps the k best by ranks_before (NaN ineligible) in `out`
/// (capacity min(k, items.rows())), best first, and returns their count when the result is
/// certified equal to score_top_k(query, items, k, out, same exclusion); std::nullopt when not
/// certified (complete is false and either fewer than k eligible candidates remain or
/// outside_bound >= the k-th best canonical score, or outside_bound is NaN); `out` then holds
/// unspecified items. Candidates sorted by index are cheapest (one block scoring per block).
///
/// Why it is exact: an item outside the candidates scores at most outside_bound < the k-th best
/// kept score, so it ranks after all k kept items whatever its index (strict inequality: an equal
/// score with a lower index would rank first); the kept items are ranked by the very scores
/// score_top_k computes, so their order and bits are its own.
template <class Arch>
std::optional<std::size_t> certified_top_k(const float* query, MatrixView items,
                                           std::span<const ScoredItem> candidates, bool complete,
                                           double outside_bound, std::size_t k,
                                           ScoredItem* out) noexcept {
  const std::size_t capacity = std::min(k, items.rows());
  if (capacity == 0) return std::size_t{0};  // the empty answer is everyone's answer
  marl_rec::detail::TopKBuffer<Arch> top(out, capacity);
  CanonicalRowScorer<Arch> canonical(query, items);
  for (const ScoredItem& candidate : candidates) {
    const float s = canonical(candidate.index);
    if (s >= top.threshold()) top.offer(candidate.index, s);  // NaN fails the test: ineligible
  }
  const std::size_t count = top.finish();
  if (complete) return count;
  if (count < k) return std::nullopt;  // an outside item could fill a free place
  if (!(outside_bound < static_cast<double>(out[count - 1].score))) return std::nullopt;
  return count;
}

}  // namespace marl_rec::simd::detail
