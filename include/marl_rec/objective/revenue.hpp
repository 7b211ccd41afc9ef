// marl_rec — Revenue: what a candidate is expected to earn (price × purchase probability), as one
// objective among several.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/objective/ranking_input.hpp"

namespace marl_rec {

/// Expected revenue x(c) = price(c) × P(purchase | c), normalised by the largest over the
/// ranking's candidates: v = x / max x, so v ∈ [0, 1], a free item is worth 0, the best earner 1,
/// and when every x is 0 every v is 0 (revenue then has no opinion).
///
/// The price is the catalog's ItemAttributes::price. The purchase probability is
/// RankingInput::purchase_probability when the engine gives one (each value must be in [0, 1]),
/// else the relevance score clamped to [0, 1] (+∞ → 1, −∞ → 0): a model trained on click or
/// purchase rewards (0/1) estimates a probability, so its score is one; for a model whose score is
/// not on that scale (a rating, an unbounded dot product) give purchase_probability instead.
///
/// Candidates whose relevance is NaN (never ranked) are worth 0 and do not count in the maximum.
/// Needs RankingInput::catalog. Not list-dependent. Allocates in prepare() only when the candidate
/// count grows past an earlier ranking's.
class Revenue {
 public:
  static constexpr bool list_dependent = false;
  std::string_view name() const noexcept { return "revenue"; }

  /// Computes every candidate's expected revenue. Throws Error when the catalog is null, a
  /// candidate is outside it, relevance (when no purchase probability is given) or
  /// purchase_probability differ from items in size, or a purchase probability is not in [0, 1].
  void prepare(const RankingInput& input) {
    const Catalog* catalog = input.catalog;
    marl_rec::detail::require(catalog != nullptr, "Revenue::prepare: RankingInput::catalog is null");
    const std::size_t n = input.items.size();
    const bool given = !input.purchase_probability.empty();
    if (given) {
      marl_rec::detail::require(input.purchase_probability.size() == n, [&] {
        return "Revenue::prepare: " + std::to_string(input.purchase_probability.size()) +
               " purchase probabilities for " + std::to_string(n) + " candidates";
      });
    }
    const bool has_relevance = !input.relevance.empty();
    marl_rec::detail::require((given && !has_relevance) || input.relevance.size() == n, [&] {
      return "Revenue::prepare: " + std::to_string(input.relevance.size()) + " relevance scores for " +
             std::to_string(n) + " candidates";
    });
    expected_.resize(n);
    double best = 0.0;
    for (std::size_t p = 0; p < n; ++p) {
      marl_rec::detail::require(input.items[p] < catalog->size(), [&] {
        return "Revenue::prepare: candidate " + std::to_string(p) + " is item " + std::to_string(input.items[p]) +
               ", outside the catalog (size " + std::to_string(catalog->size()) + ")";
      });
      double probability = 0.0;
      if (given) {
        const float q = input.purchase_probability[p];
        marl_rec::detail::require(q >= 0.0f && q <= 1.0f, [&] {
          return "Revenue::prepare: the purchase probability of candidate " + std::to_string(p) +
                 " must be in [0, 1], got " + std::to_string(q);
        });
        probability = q;
      } else {
        const float s = input.relevance[p];
        probability = std::isnan(s) ? 0.0 : std::clamp(static_cast<double>(s), 0.0, 1.0);
      }
      const bool ranked = !has_relevance || !std::isnan(input.relevance[p]);
      // Prices are finite and >= 0 (the catalog checks them).
      expected_[p] = ranked ? static_cast<double>(catalog->attributes(input.items[p]).price) * probability : 0.0;
      best = std::max(best, expected_[p]);
    }
    best_ = best;
  }

  /// x(c) / max x: in [0, 1].
  double value(std::size_t position) const noexcept {
    // x ≤ max, and a correctly rounded x / max is then ≤ 1 (exactly 1 for the maximum).
    return best_ > 0.0 ? expected_[position] / best_ : 0.0;
  }

  /// Candidate `position`'s expected revenue before normalisation (price × probability).
  double expected_revenue(std::size_t position) const noexcept { return expected_[position]; }

  void select(std::size_t) noexcept {}

 private:
  std::vector<double> expected_;
  double best_ = 0.0;
};

}  // namespace marl_rec
