// marl_rec — Novelty: how little known a candidate is (the self-information of its popularity),
// as one objective among several.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/objective/ranking_input.hpp"

namespace marl_rec {

/// The self-information of the candidate's popularity share, min-max normalised over the
/// ranking's candidates. With pop_c the catalog's ItemAttributes::popularity of candidate c, the
/// raw novelty is −log((pop_c + 1) / (Σ_catalog pop + n_catalog)) — add-one smoothed, so an item
/// nobody has seen is the most novel and finite — and
///
///   v(c) = (raw(c) − min raw) / (max raw − min raw) = (log(max pop + 1) − log(pop_c + 1)) /
///          (log(max pop + 1) − log(min pop + 1)),
///
/// min and max over the candidates. The catalog-wide denominator only shifts every raw value by
/// the same constant, which min-max normalisation removes, so prepare() never sums the catalog
/// (O(n), not O(catalog)). When every candidate is equally popular, v = 1 for all (equally novel,
/// as Relevance does with equal scores; 1 rather than 0 also keeps the hypervolume of a Pareto
/// ranking from collapsing to 0).
///
/// Needs RankingInput::catalog. Not list-dependent. Allocates in prepare() only when the candidate
/// count grows past an earlier ranking's.
class Novelty {
 public:
  static constexpr bool list_dependent = false;
  std::string_view name() const noexcept { return "novelty"; }

  /// Reads the candidates' popularity. Throws Error when the catalog is null or a candidate is
  /// outside it.
  void prepare(const RankingInput& input) {
    const Catalog* catalog = input.catalog;
    marl_rec::detail::require(catalog != nullptr, "Novelty::prepare: RankingInput::catalog is null");
    const std::size_t n = input.items.size();
    log_popularity_.resize(n);
    lo_ = std::numeric_limits<double>::infinity();
    hi_ = -std::numeric_limits<double>::infinity();
    for (std::size_t p = 0; p < n; ++p) {
      marl_rec::detail::require(input.items[p] < catalog->size(), [&] {
        return "Novelty::prepare: candidate " + std::to_string(p) + " is item " + std::to_string(input.items[p]) +
               ", outside the catalog (size " + std::to_string(catalog->size()) + ")";
      });
      // Popularity is finite and >= 0 (the catalog checks it): log1p is finite.
      const double l = std::log1p(static_cast<double>(catalog->attributes(input.items[p]).popularity));
      log_popularity_[p] = l;
      lo_ = std::min(lo_, l);
      hi_ = std::max(hi_, l);
    }
  }

  /// In [0, 1]: 1 for the least popular candidate, 0 for the most popular.
  double value(std::size_t position) const noexcept {
    if (!(hi_ > lo_)) return 1.0;
    return (hi_ - log_popularity_[position]) / (hi_ - lo_);
  }

  void select(std::size_t) noexcept {}

 private:
  std::vector<double> log_popularity_;
  double lo_ = 0.0;
  double hi_ = 0.0;
};

}  // namespace marl_rec
