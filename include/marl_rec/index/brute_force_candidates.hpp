// marl_rec — the exact candidate generator: every item scored against the query with the fused
// SIMD score + top-k kernel. The default CandidateGenerator, the yardstick approximate ones are
// measured against, and their test double.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/concepts/candidate_generator.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace marl_rec {

/// The m items of largest inner product with the query, exactly: simd::score_top_k over the whole
/// item matrix (time O(size() × dim()) per call, no index to build). Order and ties as every
/// marl_rec ranking (score descending, then lower index); rows whose score is NaN are never
/// returned, so fewer than min(m, size()) come back only when fewer rows have a score.
///
/// Non-owning: the item matrix must outlive the generator (and not change while it is used).
/// `generate` is const and thread-safe; it keeps its scores in a thread_local buffer that only
/// grows, so it allocates only when a thread first asks for more candidates than before.
/// Satisfies CandidateGenerator.
class BruteForceCandidates {
 public:
  /// A generator over the rows of `items`. Throws Error when the rows have no columns (an empty
  /// 0 × 0 matrix is accepted: it has no candidates).
  explicit BruteForceCandidates(MatrixView items) : items_(items) {
    detail::require(items.rows() == 0 || items.cols() > 0, [&] {
      return "BruteForceCandidates: the " + std::to_string(items.rows()) +
             " item rows have 0 columns";
    });
  }

  /// The length of a query (the item matrix's columns).
  std::size_t dim() const noexcept { return items_.cols(); }
  /// The number of items (the item matrix's rows).
  std::size_t size() const noexcept { return items_.rows(); }
  /// The item matrix.
  MatrixView items() const noexcept { return items_; }

  /// Writes the min(m, size()) items of largest inner product with `query` to the front of
  /// `out`, best first, and returns how many (fewer only when some rows score NaN). Throws Error
  /// on a bad query or a too-small `out` (detail::check_generate).
  std::size_t generate(std::span<const float> query, std::size_t m,
                       std::span<std::size_t> out) const {
    detail::check_generate("BruteForceCandidates::generate", dim(), size(), query, m, out);
    const std::size_t want = std::min(m, size());
    if (want == 0) return 0;
    thread_local std::vector<ScoredItem> best;
    if (best.size() < want) best.resize(want);
    const std::size_t count =
        simd::score_top_k(query, items_, want, std::span<ScoredItem>(best).first(want));
    for (std::size_t i = 0; i < count; ++i) out[i] = best[i].index;
    return count;
  }

 private:
  MatrixView items_;
};

static_assert(CandidateGenerator<BruteForceCandidates>);

}  // namespace marl_rec
