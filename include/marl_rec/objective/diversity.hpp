// marl_rec — Diversity: how unlike the items already in the list a candidate is (the "novelty
// within the list" half of Maximal Marginal Relevance).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/objective/ranking_input.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// How Diversity measures the similarity of two items.
enum class Similarity {
  /// Cosine of the items' catalog vectors (a zero vector is orthogonal to everything).
  embedding,
  /// 1 when the items have the same catalog category string, else 0 (two items without a
  /// category — both "" — count as the same category).
  category,
};

/// Settings of Diversity.
struct DiversityConfig {
  Similarity similarity = Similarity::embedding;
  /// Embedding mode only. When set (a cosine in [−1, 1]), similarity becomes a near-duplicate
  /// test: 1 when the cosine is ≥ this threshold, else 0. A candidate is then worth 0 once a
  /// near-duplicate of it is in the list and 1 otherwise: a filter of near-copies (the same
  /// product in another colour) rather than MMR's graded penalty on everything alike. Set it to
  /// the shop's own definition of a near-duplicate.
  std::optional<float> near_duplicate{};
};

/// MMR-style diversity: v(c) = 1 − max(0, max_{j chosen} sim(c, j)), and v(c) = 1 while the list
/// is empty. So v ∈ [0, 1]: 1 for a candidate orthogonal to (or unlike) everything chosen, 0 for
/// a duplicate of a chosen item (the same item at another position included). Negative cosines
/// count as 0: an "opposite" item is as diverse as an unrelated one, not more. With Relevance at
/// weight λ and Diversity at weight 1 − λ, a greedy MultiObjective ranking is MMR on normalised
/// relevance: λ·rel − (1 − λ)·max sim, plus the constant 1 − λ.
///
/// With DiversityConfig::near_duplicate set, sim is 1 for a near-duplicate (cosine ≥ the
/// threshold) and 0 otherwise, so v(c) is 0 after a near-copy of c was chosen and 1 before.
///
/// Incremental: prepare() copies the candidates' vectors, unit-normalised, into one contiguous
/// matrix (O(n·dim)); select(j) scores that matrix against j's row with simd::score and updates
/// every candidate's running maximum similarity (O(n·dim) per step). value() is O(1). With
/// Similarity::category, prepare() numbers the candidates' categories (O(n log n) string
/// comparisons) and select() is O(n).
///
/// Needs RankingInput::catalog (Error when null, or when a candidate's item index is outside it).
/// Allocates in prepare() only when the candidate count (or catalog dim) grows past what an
/// earlier ranking needed. list_dependent = true. Not thread-safe.
class Diversity {
 public:
  static constexpr bool list_dependent = true;

  Diversity() = default;
  /// Throws Error when config.near_duplicate is set but not a finite cosine in [−1, 1].
  explicit Diversity(DiversityConfig config) : config_(checked(config)) {}

  const DiversityConfig& config() const noexcept { return config_; }
  std::string_view name() const noexcept { return "diversity"; }

  /// Starts a ranking of input's candidates (nothing chosen: every value is 1).
  void prepare(const RankingInput& input) {
    const Catalog* catalog = input.catalog;
    marl_rec::detail::require(catalog != nullptr, "Diversity::prepare: RankingInput::catalog is null");
    const std::size_t n = input.items.size();
    for (std::size_t p = 0; p < n; ++p) {
      marl_rec::detail::require(input.items[p] < catalog->size(), [&] {
        return "Diversity::prepare: candidate " + std::to_string(p) + " is item " +
               std::to_string(input.items[p]) + ", outside the catalog (size " +
               std::to_string(catalog->size()) + ")";
      });
    }
    n_ = n;
    max_similarity_.assign(n, 0.0f);
    if (config_.similarity == Similarity::embedding) {
      prepare_vectors(input.items, *catalog);
    } else {
      prepare_categories(input.items, *catalog);
    }
  }

  /// 1 − max(0, the highest similarity to a chosen item); 1 while nothing is chosen.
  double value(std::size_t position) const noexcept {
    return 1.0 - static_cast<double>(max_similarity_[position]);
  }

  /// Candidate `position` joined the list: every candidate's maximum similarity takes it into
  /// account. Throws Error when position is not a candidate of the prepared ranking.
  void select(std::size_t position) {
    marl_rec::detail::require(position < n_, [&] {
      return "Diversity::select: position " + std::to_string(position) + " out of range (" +
             std::to_string(n_) + " candidates)";
    });
    if (config_.similarity == Similarity::embedding) {
      const MatrixView vectors(std::span<const float>(vectors_), n_, dim_);
      simd::score(vectors.row(position), vectors, similarity_);
      for (std::size_t p = 0; p < n_; ++p) {
        // Rounding can take a unit vector's self-similarity a hair above 1: clamp to [0, 1].
        float s = std::min(similarity_[p], 1.0f);
        if (config_.near_duplicate) s = s >= *config_.near_duplicate ? 1.0f : 0.0f;
        if (s > max_similarity_[p]) max_similarity_[p] = s;
      }
    } else {
      const std::size_t group = group_[position];
      for (std::size_t p = 0; p < n_; ++p) {
        if (group_[p] == group) max_similarity_[p] = 1.0f;
      }
    }
  }

 private:
  static DiversityConfig checked(const DiversityConfig& config) {
    if (config.near_duplicate) {
      const float t = *config.near_duplicate;
      marl_rec::detail::require(t >= -1.0f && t <= 1.0f, [&] {
        return "Diversity: near_duplicate must be a cosine in [-1, 1], got " + std::to_string(t);
      });
    }
    return config;
  }

  // Unit-normalised copies of the candidates' vectors (zero rows stay zero: cosine 0).
  void prepare_vectors(std::span<const std::size_t> items, const Catalog& catalog) {
    dim_ = catalog.dim();
    vectors_.resize(n_ * dim_);
    similarity_.resize(n_);
    for (std::size_t p = 0; p < n_; ++p) {
      const auto from = catalog.vector(items[p]);
      const auto to = std::span<float>(vectors_).subspan(p * dim_, dim_);
      std::copy(from.begin(), from.end(), to.begin());
      if (!simd::l2_normalize(to)) std::fill(to.begin(), to.end(), 0.0f);
    }
  }

  // Numbers the distinct categories of the candidates: group_[p] == group_[q] iff same category.
  void prepare_categories(std::span<const std::size_t> items, const Catalog& catalog) {
    order_.resize(n_);
    group_.resize(n_);
    for (std::size_t p = 0; p < n_; ++p) order_[p] = p;
    const auto category = [&](std::size_t p) -> const std::string& {
      return catalog.attributes(items[p]).category;
    };
    std::sort(order_.begin(), order_.end(),
              [&](std::size_t a, std::size_t b) { return category(a) < category(b); });
    std::size_t group = 0;
    for (std::size_t r = 0; r < n_; ++r) {
      if (r > 0 && category(order_[r]) != category(order_[r - 1])) ++group;
      group_[order_[r]] = group;
    }
  }

  DiversityConfig config_{};
  std::size_t n_ = 0;
  std::size_t dim_ = 0;
  // Per candidate: max(0, the highest similarity to a chosen item).
  std::vector<float> max_similarity_;
  // Embedding mode: n_ × dim_ unit rows, and select()'s scratch scores.
  AlignedVector<float> vectors_;
  std::vector<float> similarity_;
  // Category mode: the candidates' category numbers, and prepare()'s sort scratch.
  std::vector<std::size_t> group_;
  std::vector<std::size_t> order_;
};

}  // namespace marl_rec
