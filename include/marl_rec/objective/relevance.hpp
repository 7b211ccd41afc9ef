// marl_rec — Relevance: the recommender's own score, as one objective among several.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <string_view>

#include "marl_rec/core/error.hpp"
#include "marl_rec/objective/ranking_input.hpp"

namespace marl_rec {

/// The candidate's relevance score (RankingInput::relevance: the agent's estimate of its reward),
/// min-max normalised over the ranking's candidates: v = (s − min) / (max − min), where min and
/// max are over the finite scores; +∞ counts as 1 and −∞ as 0; when every finite score is equal,
/// v = 1. (NaN candidates are never ranked.) Not list-dependent.
class Relevance {
 public:
  static constexpr bool list_dependent = false;
  std::string_view name() const noexcept { return "relevance"; }

  void prepare(const RankingInput& input) {
    marl_rec::detail::require(input.relevance.size() == input.items.size(), [&] {
      return "Relevance::prepare: " + std::to_string(input.relevance.size()) + " relevance scores for " +
             std::to_string(input.items.size()) + " candidates";
    });
    scores_ = input.relevance;
    lo_ = std::numeric_limits<double>::infinity();
    hi_ = -std::numeric_limits<double>::infinity();
    for (const float s : scores_) {
      if (!std::isfinite(s)) continue;
      lo_ = std::min(lo_, static_cast<double>(s));
      hi_ = std::max(hi_, static_cast<double>(s));
    }
  }

  double value(std::size_t position) const noexcept {
    const double s = scores_[position];
    if (std::isnan(s)) return 0.0;
    if (s == std::numeric_limits<double>::infinity()) return 1.0;
    if (s == -std::numeric_limits<double>::infinity()) return 0.0;
    if (!(hi_ > lo_)) return 1.0;
    return (s - lo_) / (hi_ - lo_);
  }

  void select(std::size_t) noexcept {}

 private:
  std::span<const float> scores_{};
  double lo_ = 0.0;
  double hi_ = 0.0;
};

}  // namespace marl_rec
