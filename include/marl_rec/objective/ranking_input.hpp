// marl_rec — what a multi-objective ranking works on (the candidates, their relevance, the
// catalog), and what it returns (the chosen items with a per-objective explanation of each).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "marl_rec/core/catalog.hpp"

namespace marl_rec {

/// The candidates of one ranking. Non-owning: everything must outlive the ranking call.
struct RankingInput {
  /// The candidate items (catalog indices). The same item may appear more than once (e.g. offered
  /// by two agents); objectives treat each position as its own candidate.
  std::span<const std::size_t> items{};
  /// The recommender's score of each candidate (same size as items; NaN = not eligible).
  std::span<const float> relevance{};
  /// Attributes and vectors of the items (price, category, provider, popularity). Objectives
  /// that need it throw Error when it is null.
  const Catalog* catalog = nullptr;
  /// The user's recent items (catalog indices), oldest first, for objectives that compare the
  /// list with the user's history (Calibration). May be empty.
  std::span<const std::size_t> history{};
  /// Estimated purchase probability of each candidate when the engine has one (same size as
  /// items), or empty (Revenue then documents its fallback).
  std::span<const float> purchase_probability{};
};

/// Why each chosen item was chosen: the contribution (weight × normalised value) of every
/// objective. Row j holds item j's contributions, in the order of `objectives`; they sum to the
/// item's final score.
struct Explanation {
  /// The objectives' names, one per column.
  std::vector<std::string_view> objectives{};
  /// Row-major, items × objectives.
  std::vector<double> contributions{};

  /// Items explained.
  std::size_t size() const noexcept {
    return objectives.empty() ? 0 : contributions.size() / objectives.size();
  }
  /// Item j's contributions, one per objective.
  std::span<const double> of(std::size_t j) const noexcept {
    return std::span<const double>(contributions).subspan(j * objectives.size(), objectives.size());
  }
  /// Empties the explanation, keeping its storage.
  void clear() noexcept {
    objectives.clear();
    contributions.clear();
  }
};

/// The result of a ranking, reused from call to call (its vectors keep their capacity).
struct RankedList {
  /// The chosen candidates, as positions into RankingInput::items, best first.
  std::vector<std::size_t> positions{};
  /// Each chosen item's final score: the sum of its row of the explanation, in objective order.
  std::vector<double> scores{};
  Explanation explanation{};
  /// Pareto mode only: the non-dominated front of each chosen item (0 = the first front);
  /// empty after a weighted ranking.
  std::vector<std::size_t> fronts{};

  std::size_t size() const noexcept { return positions.size(); }
};

}  // namespace marl_rec
