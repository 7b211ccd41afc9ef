// marl_rec — MultiObjective<Weighted<Objective, Weight>...>: ranks candidates by a weighted sum
// of several goals (relevance, revenue, diversity, …), greedily, one item at a time, and explains
// every chosen item by the contribution of each goal.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <ratio>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "marl_rec/concepts/objective.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/objective/ranking_input.hpp"

namespace marl_rec {

namespace detail {

template <class W>
concept RatioWeight = requires {
  { W::num } -> std::convertible_to<long long>;
  { W::den } -> std::convertible_to<long long>;
};
template <class W>
concept ValueWeight = requires {
  { W::value } -> std::convertible_to<double>;
};

template <class W>
constexpr double weight_of() {
  if constexpr (RatioWeight<W>) {
    return static_cast<double>(W::num) / static_cast<double>(W::den);
  } else {
    static_assert(ValueWeight<W>, "a weight is a std::ratio or a type with static constexpr double value");
    return static_cast<double>(W::value);
  }
}

}  // namespace detail

/// An objective with its compile-time weight: a `std::ratio` (`std::ratio<7, 10>`) or a tag type
/// with `static constexpr double value` (floating-point template parameters are not portable).
/// The weight must be finite and ≥ 0.
template <Objective O, class Weight = std::ratio<1>>
struct Weighted {
  using objective = O;
  static constexpr double weight = detail::weight_of<Weight>();
  static_assert(weight >= 0.0 && weight <= std::numeric_limits<double>::max(),
                "Weighted: the weight must be finite and >= 0");
};

namespace detail {
template <class T>
struct IsWeighted : std::false_type {};
template <class O, class W>
struct IsWeighted<Weighted<O, W>> : std::true_type {};
}  // namespace detail

/// Ranks candidates by Σ_o w_o · v_o, where v_o ∈ [0, 1] is objective o's normalised value of a
/// candidate (each objective documents its normalisation) and w_o its weight — the compile-time
/// weight, or the runtime override set_weights() (for a merchandiser who changes them live).
///
/// The list is built greedily: at each step every remaining eligible candidate is valued given the
/// items chosen so far (list-dependent objectives such as diversity change their values as the
/// list grows: with Relevance and Diversity this is MMR), and the best is taken; ties go to the
/// lower candidate position, so a ranking is deterministic. A candidate is eligible when its
/// relevance is not NaN and the SelectionRule allows it. Each chosen item carries its
/// explanation: the contribution w_o · v_o of every objective at the moment it was chosen; the
/// item's score is their sum (in objective order), exactly.
///
/// Not thread-safe (the objectives keep per-ranking scratch); after a first ranking of the same
/// size, rank() into a reused RankedList does not allocate unless an objective documents it does.
template <class... W>
  requires(sizeof...(W) >= 1 && (detail::IsWeighted<W>::value && ...))
class MultiObjective {
 public:
  /// Number of objectives.
  static constexpr std::size_t size = sizeof...(W);
  using Objectives = std::tuple<typename W::objective...>;
  using Weights = std::array<double, size>;

  /// Default-constructed objectives.
  MultiObjective() = default;
  /// The given objectives (e.g. configured ones: `Diversity{{.similarity = …}}`).
  explicit MultiObjective(typename W::objective... objectives) : objectives_(std::move(objectives)...) {}

  /// The compile-time weights.
  static constexpr Weights default_weights() noexcept { return Weights{W::weight...}; }
  /// The weights in use.
  const Weights& weights() const noexcept { return weights_; }
  /// Overrides the weights at run time (one per objective, in order; each finite and ≥ 0, not all
  /// 0). Throws Error, changing nothing, otherwise.
  void set_weights(std::span<const double> weights) {
    marl_rec::detail::require(weights.size() == size, [&] {
      return "MultiObjective::set_weights: " + std::to_string(weights.size()) + " weights for " +
             std::to_string(size) + " objectives";
    });
    bool any = false;
    for (std::size_t o = 0; o < size; ++o) {
      marl_rec::detail::require(std::isfinite(weights[o]) && weights[o] >= 0.0, [&] {
        return "MultiObjective::set_weights: the weight of '" + std::string(names()[o]) +
               "' must be finite and >= 0, got " + std::to_string(weights[o]);
      });
      any = any || weights[o] > 0.0;
    }
    marl_rec::detail::require(any, "MultiObjective::set_weights: every weight is 0");
    for (std::size_t o = 0; o < size; ++o) weights_[o] = weights[o];
  }
  /// Back to the compile-time weights.
  void reset_weights() noexcept { weights_ = default_weights(); }

  /// The objectives' names, in order.
  std::array<std::string_view, size> names() const {
    return std::apply([](const auto&... o) { return std::array<std::string_view, size>{o.name()...}; },
                      objectives_);
  }
  /// Objective I (e.g. to read its state or change its settings).
  template <std::size_t I>
  auto& get() noexcept {
    return std::get<I>(objectives_);
  }
  template <std::size_t I>
  const auto& get() const noexcept {
    return std::get<I>(objectives_);
  }

  /// Chooses up to k candidates of `input` into `out` (see the class comment). Throws Error when
  /// input.relevance and input.items differ in size, or an objective rejects the input.
  template <SelectionRule Rule = NoSelectionRule>
  void rank(const RankingInput& input, std::size_t k, RankedList& out, Rule&& rule = {}) {
    marl_rec::detail::require(input.relevance.size() == input.items.size(), [&] {
      return "MultiObjective::rank: " + std::to_string(input.relevance.size()) + " relevance scores for " +
             std::to_string(input.items.size()) + " candidates";
    });
    start(out);
    std::apply([&](auto&... o) { (o.prepare(input), ...); }, objectives_);
    remaining_.clear();
    for (std::size_t p = 0; p < input.items.size(); ++p) {
      if (!std::isnan(input.relevance[p])) remaining_.push_back(p);
    }
    while (out.positions.size() < k) {
      std::size_t best_at = remaining_.size();
      double best = -std::numeric_limits<double>::infinity();
      for (std::size_t r = 0; r < remaining_.size(); ++r) {
        const std::size_t p = remaining_[r];
        if (!rule.allows(p)) continue;
        const double total = total_of(p, std::make_index_sequence<size>{});
        if (std::isnan(total)) continue;
        if (best_at == remaining_.size() || total > best) {
          best = total;
          best_at = r;
        }
      }
      if (best_at == remaining_.size()) break;
      const std::size_t chosen = remaining_[best_at];
      take(chosen, out, std::make_index_sequence<size>{});
      rule.chosen(chosen);
      remaining_.erase(remaining_.begin() + static_cast<std::ptrdiff_t>(best_at));
    }
  }

  /// Tells the objectives that remember what was served (RecordingObjective, e.g. exposure
  /// fairness) which items a page actually showed, best first.
  void record(std::span<const std::size_t> items, const Catalog& catalog) {
    std::apply(
        [&](auto&... o) {
          (
              [&](auto& objective) {
                if constexpr (RecordingObjective<std::remove_cvref_t<decltype(objective)>>) {
                  objective.record(items, catalog);
                }
              }(o),
              ...);
        },
        objectives_);
  }

 private:
  void start(RankedList& out) const {
    out.positions.clear();
    out.scores.clear();
    out.fronts.clear();
    out.explanation.clear();
    const auto n = names();
    out.explanation.objectives.assign(n.begin(), n.end());
  }

  template <std::size_t... I>
  double total_of(std::size_t p, std::index_sequence<I...>) const {
    double total = 0.0;
    ((total += weights_[I] * static_cast<double>(std::get<I>(objectives_).value(p))), ...);
    return total;
  }

  // Records candidate p's contributions and score (summed in the same order as total_of, so the
  // score is exactly the sum of the explanation's row), then tells every objective.
  template <std::size_t... I>
  void take(std::size_t p, RankedList& out, std::index_sequence<I...>) {
    double total = 0.0;
    (
        [&] {
          const double c = weights_[I] * static_cast<double>(std::get<I>(objectives_).value(p));
          out.explanation.contributions.push_back(c);
          total += c;
        }(),
        ...);
    out.positions.push_back(p);
    out.scores.push_back(total);
    (std::get<I>(objectives_).select(p), ...);
  }

  Objectives objectives_{};
  Weights weights_ = default_weights();
  std::vector<std::size_t> remaining_;
};

}  // namespace marl_rec
