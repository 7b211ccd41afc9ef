// marl_rec — the contract of one ranking goal (relevance, revenue, diversity, …) that
// MultiObjective combines.
#pragma once

#include <concepts>
#include <cstddef>
#include <span>
#include <string_view>

#include "marl_rec/objective/ranking_input.hpp"

namespace marl_rec {

/// One goal of a ranking. A ranking is built greedily, one item at a time; the objective says how
/// much each remaining candidate is worth to it given the items already chosen.
///
/// Semantic rules the compiler cannot check:
/// - `prepare(input)` starts a ranking of input's candidates (the list chosen so far is empty).
///   It throws marl_rec::Error, naming the objective and the problem, when the input does not
///   suit it (sizes that differ, a null catalog it needs, an item index outside the catalog).
/// - `value(position)` is the current worth of candidate `position` (an index into input.items),
///   in [0, 1] — the normalisation each objective documents — given the candidates selected since
///   prepare(). It is const and does not allocate.
/// - `select(position)` tells the objective that candidate `position` joined the list.
/// - `list_dependent` is true when value() depends on the selected items (diversity, calibration,
///   fairness within the list), false when it is fixed from prepare() on.
/// - `name()` is a short lowercase identifier ("relevance") returned as a std::string_view into
///   static storage (explanations and slates keep it): a string literal.
/// - Deterministic; not thread-safe (an objective keeps per-ranking scratch).
template <class O>
concept Objective = requires(O& objective, const O& prepared, const RankingInput& input,
                             std::size_t position) {
  objective.prepare(input);
  { prepared.value(position) } -> std::convertible_to<double>;
  objective.select(position);
  { prepared.name() } -> std::same_as<std::string_view>;
  { O::list_dependent } -> std::convertible_to<bool>;
};

/// An objective that also remembers what was served across rankings (e.g. provider exposure):
/// `record(items, catalog)` is told the items of each page actually shown, best first.
template <class O>
concept RecordingObjective = Objective<O> && requires(O& objective, std::span<const std::size_t> items,
                                                      const Catalog& catalog) {
  objective.record(items, catalog);
};

/// A constraint on a greedy ranking beyond the objectives (quotas, no item twice): `allows(p)`
/// says whether candidate p may be chosen next, `chosen(p)` is told it was.
template <class R>
concept SelectionRule = requires(R& rule, const R& const_rule, std::size_t position) {
  { const_rule.allows(position) } -> std::convertible_to<bool>;
  rule.chosen(position);
};

/// No constraint.
struct NoSelectionRule {
  constexpr bool allows(std::size_t) const noexcept { return true; }
  constexpr void chosen(std::size_t) const noexcept {}
};

}  // namespace marl_rec
