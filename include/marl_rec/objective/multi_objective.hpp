// marl_rec — MultiObjective<Weighted<Objective, Weight>...>: ranks candidates by a weighted sum
// of several goals (relevance, revenue, diversity, …), greedily, one item at a time, and explains
// every chosen item by the contribution of each goal.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
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
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/string_fields.hpp"
#include "marl_rec/objective/pareto.hpp"
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

/// An objective that saves and loads its own state (e.g. ExposureFairness's remembered exposure):
/// MultiObjective's save/load nest its stream (and load it into a copy first, so it must be
/// copyable). Objectives without state need neither.
template <class O>
concept PersistentObjective = requires(const O& saved, O& loaded, std::ostream& out, std::istream& in) {
  saved.save(out);
  loaded.load(in);
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
///
/// Persistence: save() writes the objectives' names, the weights in use (compile-time or set at
/// run time) and, nested, the stream of every objective that has save/load (state such as
/// ExposureFairness's remembered exposure); type "multi_objective", version 1. load() replaces
/// those; it refuses a stream of another list of objectives. Objectives without save/load are
/// not saved: they keep the configuration they were built with.
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
    check_weights(weights, "MultiObjective::set_weights");
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
    greedy(
        k, out, rule, [](std::size_t p) { return p; }, [](std::size_t) { return std::size_t{0}; },
        [](std::size_t, std::size_t) {});
  }

  /// Chooses up to k candidates of `input` into `out` front by front (Pareto mode). Right after
  /// the objectives' prepare(), every eligible candidate's values (v_1(c), …, v_m(c)) at the empty
  /// list are sorted into non-dominated fronts (non_dominated_sort, maximising). The list then
  /// takes front 0 first, then front 1, and so on: at each step the chosen candidate is, among the
  /// remaining ones the rule allows, one of the lowest front, and within that front the one with
  /// the highest weighted sum given the items chosen so far (so list-dependent objectives act
  /// within a front), ties to the lower position. Every chosen item carries its explanation
  /// (contributions summing exactly to its score, as in rank()) and its front in `out.fronts`.
  ///
  /// Every objective takes part in the dominance comparison, including one whose weight is 0: the
  /// weights only order the candidates within a front. Diversity's empty-list value is 1 for
  /// every candidate, so it does not change the fronts and acts only through the greedy choice
  /// within each front; Calibration's and ExposureFairness's empty-list values differ between
  /// candidates (history, past exposure), so they shape the fronts too.
  ///
  /// Eligible: relevance not NaN and no objective value NaN at the empty list (the others are
  /// never chosen; their front is ParetoSummary::not_ranked). When `summary` is not null it
  /// receives every candidate's front, the first front, and the hypervolumes of the first front
  /// (values at the empty list) and of the chosen list (values when chosen), reference point 0
  /// (hypervolume() limits apply: with a summary, a first front or a list beyond them — e.g. more
  /// than 150 candidates with 6 objectives — is an Error raised before anything is chosen).
  ///
  /// Throws Error when input.relevance and input.items differ in size, or an objective rejects
  /// the input. After a first call of the same size, allocates nothing (scratch is kept in the
  /// MultiObjective, in `out` and `summary`, and in thread_local buffers of the Pareto functions).
  template <SelectionRule Rule = NoSelectionRule>
  void rank_pareto(const RankingInput& input, std::size_t k, RankedList& out, ParetoSummary* summary = nullptr,
                   Rule&& rule = {}) {
    marl_rec::detail::require(input.relevance.size() == input.items.size(), [&] {
      return "MultiObjective::rank_pareto: " + std::to_string(input.relevance.size()) +
             " relevance scores for " + std::to_string(input.items.size()) + " candidates";
    });
    start(out);
    std::apply([&](auto&... o) { (o.prepare(input), ...); }, objectives_);
    // Row r of pareto_values_ holds the values at the empty list of eligible candidate
    // pareto_positions_[r].
    pareto_positions_.clear();
    pareto_values_.clear();
    for (std::size_t p = 0; p < input.items.size(); ++p) {
      if (std::isnan(input.relevance[p])) continue;
      const std::size_t at = pareto_values_.size();
      pareto_values_.resize(at + size);
      values_of(p, pareto_values_.data() + at, std::make_index_sequence<size>{});
      bool any_nan = false;
      for (std::size_t o = 0; o < size; ++o) any_nan = any_nan || std::isnan(pareto_values_[at + o]);
      if (any_nan) {
        pareto_values_.resize(at);
      } else {
        pareto_positions_.push_back(p);
      }
    }
    const std::size_t eligible = pareto_positions_.size();
    non_dominated_sort(pareto_values_, eligible, size, pareto_front_);
    if (summary != nullptr) {
      // The hypervolumes' limits, checked before anything is chosen (so a summary that cannot be
      // computed fails the call before it changes the rule or the objectives' list state).
      marl_rec::detail::require(size <= hypervolume_max_objectives, [&] {
        return "MultiObjective::rank_pareto: a summary's hypervolume is limited to " +
               std::to_string(hypervolume_max_objectives) + " objectives, not " + std::to_string(size);
      });
      std::size_t front0 = 0;
      for (std::size_t r = 0; r < eligible; ++r) front0 += pareto_front_[r] == 0 ? 1 : 0;
      const std::size_t limit = hypervolume_max_points[std::min(size, hypervolume_max_objectives)];
      marl_rec::detail::require(front0 <= limit && std::min(k, eligible) <= limit, [&] {
        return "MultiObjective::rank_pareto: the first front (" + std::to_string(front0) + " candidates) or the list (" +
               std::to_string(std::min(k, eligible)) + " items) exceeds the " + std::to_string(limit) +
               " points an exact hypervolume in " + std::to_string(size) + " objectives allows; rank without a summary";
      });
    }
    // The greedy choice, over the rows not yet taken (remaining_ holds row indices here).
    remaining_.clear();
    for (std::size_t r = 0; r < eligible; ++r) remaining_.push_back(r);
    list_values_.clear();
    greedy(
        k, out, rule, [&](std::size_t r) { return pareto_positions_[r]; },
        [&](std::size_t r) { return pareto_front_[r]; },
        [&](std::size_t chosen, std::size_t front) {
          if (summary != nullptr) {
            const std::size_t at = list_values_.size();
            list_values_.resize(at + size);
            values_of(chosen, list_values_.data() + at, std::make_index_sequence<size>{});
          }
          out.fronts.push_back(front);
        });
    if (summary == nullptr) return;
    summary->front_of.assign(input.items.size(), ParetoSummary::not_ranked);
    summary->first_front.clear();
    front_values_.clear();
    for (std::size_t r = 0; r < eligible; ++r) {
      summary->front_of[pareto_positions_[r]] = pareto_front_[r];
      if (pareto_front_[r] != 0) continue;
      summary->first_front.push_back(pareto_positions_[r]);
      const auto row = pareto_values_.begin() + static_cast<std::ptrdiff_t>(r * size);
      front_values_.insert(front_values_.end(), row, row + static_cast<std::ptrdiff_t>(size));
    }
    const std::array<double, size> origin{};
    summary->hypervolume_front = hypervolume(front_values_, summary->first_front.size(), size, origin);
    summary->hypervolume_list = hypervolume(list_values_, out.positions.size(), size, origin);
  }

  /// Writes the objectives' names, the weights and the persistent objectives' state (see the
  /// class comment).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "multi_objective", 1);
    const auto n = names();
    io::write_strings(w, "objectives", size, [&](std::size_t o) { return n[o]; });
    w.doubles("weights", weights_);
    save_objectives(w, std::make_index_sequence<size>{});
    w.finish();
  }

  /// Replaces the weights and the persistent objectives' state with what save() wrote. Throws
  /// Error (everything unchanged) on a truncated, corrupted or foreign stream, a stream of other
  /// objectives (the names differ), weights set_weights() would refuse (unless they are the
  /// compile-time ones), or an objective's own load error.
  void load(std::istream& in) {
    constexpr const char* where = "loading a 'multi_objective' model";
    io::ModelReader r(in, "multi_objective", 1);
    const std::vector<std::string> stream_names = io::read_strings(r, "objectives", where);
    const auto n = names();
    const auto list = [](const auto& names_of) {
      std::string s;
      for (const auto& name : names_of) s += (s.empty() ? "" : ", ") + std::string(name);
      return "(" + s + ")";
    };
    marl_rec::detail::require(std::equal(stream_names.begin(), stream_names.end(), n.begin(), n.end()), [&] {
      return std::string(where) + ": the stream's objectives are " + list(stream_names) + ", these are " +
             list(n);
    });
    const std::vector<double> weights = r.doubles("weights", size);
    Weights loaded_weights{};
    std::copy(weights.begin(), weights.end(), loaded_weights.begin());
    if (loaded_weights != default_weights()) check_weights(weights, where);
    std::tuple<std::optional<typename W::objective>...> loaded;
    load_objectives(r, loaded, std::make_index_sequence<size>{});
    r.finish();
    commit_objectives(loaded, std::make_index_sequence<size>{});
    weights_ = loaded_weights;
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
  // set_weights' checks; messages start with `who`.
  void check_weights(std::span<const double> weights, const char* who) const {
    marl_rec::detail::require(weights.size() == size, [&] {
      return std::string(who) + ": " + std::to_string(weights.size()) + " weights for " +
             std::to_string(size) + " objectives";
    });
    bool any = false;
    for (std::size_t o = 0; o < size; ++o) {
      marl_rec::detail::require(std::isfinite(weights[o]) && weights[o] >= 0.0, [&] {
        return std::string(who) + ": the weight of '" + std::string(names()[o]) +
               "' must be finite and >= 0, got " + std::to_string(weights[o]);
      });
      any = any || weights[o] > 0.0;
    }
    marl_rec::detail::require(any, [&] { return std::string(who) + ": every weight is 0"; });
  }

  static std::string objective_field(std::size_t o) { return "objective_" + std::to_string(o); }

  template <std::size_t... I>
  void save_objectives(io::ModelWriter& w, std::index_sequence<I...>) const {
    (
        [&] {
          using O = std::tuple_element_t<I, Objectives>;
          if constexpr (detail::PersistentObjective<O>) w.object(objective_field(I), std::get<I>(objectives_));
        }(),
        ...);
  }
  // Loads every persistent objective into a copy of it (the originals change only on commit).
  template <class Loaded, std::size_t... I>
  void load_objectives(io::ModelReader& r, Loaded& loaded, std::index_sequence<I...>) const {
    (
        [&] {
          using O = std::tuple_element_t<I, Objectives>;
          if constexpr (detail::PersistentObjective<O>) {
            static_assert(std::copyable<O>,
                          "MultiObjective::load: an objective with save/load must be copyable (it is "
                          "loaded into a copy, so that a failed load changes nothing)");
            std::get<I>(loaded).emplace(std::get<I>(objectives_));
            r.object(objective_field(I), *std::get<I>(loaded));
          }
        }(),
        ...);
  }
  template <class Loaded, std::size_t... I>
  void commit_objectives(Loaded& loaded, std::index_sequence<I...>) {
    (
        [&] {
          using O = std::tuple_element_t<I, Objectives>;
          if constexpr (detail::PersistentObjective<O>) std::get<I>(objectives_) = std::move(*std::get<I>(loaded));
        }(),
        ...);
  }

  // The greedy loop of rank() and rank_pareto(), over remaining_ (entries e; candidate
  // position_of(e), front front_of(e)): each step takes, among the entries the rule allows, one
  // of the lowest front and within it the highest weighted sum (ties: the earlier entry).
  // before_take(position, front) runs just before the chosen candidate is taken (so it sees the
  // values the candidate was chosen with).
  template <class Rule, class PositionOf, class FrontOf, class BeforeTake>
  void greedy(std::size_t k, RankedList& out, Rule& rule, PositionOf position_of, FrontOf front_of,
              BeforeTake before_take) {
    while (out.positions.size() < k) {
      std::size_t best_at = remaining_.size();
      double best = -std::numeric_limits<double>::infinity();
      std::size_t best_front = 0;
      for (std::size_t i = 0; i < remaining_.size(); ++i) {
        const std::size_t front = front_of(remaining_[i]);
        if (best_at != remaining_.size() && front > best_front) continue;
        const std::size_t p = position_of(remaining_[i]);
        if (!rule.allows(p)) continue;
        const double total = total_of(p, std::make_index_sequence<size>{});
        if (std::isnan(total)) continue;
        if (best_at == remaining_.size() || front < best_front || total > best) {
          best = total;
          best_at = i;
          best_front = front;
        }
      }
      if (best_at == remaining_.size()) break;
      const std::size_t chosen = position_of(remaining_[best_at]);
      before_take(chosen, best_front);
      take(chosen, out, std::make_index_sequence<size>{});
      rule.chosen(chosen);
      remaining_.erase(remaining_.begin() + static_cast<std::ptrdiff_t>(best_at));
    }
  }

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

  // Candidate p's objective values (unweighted), into out[0, size).
  template <std::size_t... I>
  void values_of(std::size_t p, double* out, std::index_sequence<I...>) const {
    ((out[I] = static_cast<double>(std::get<I>(objectives_).value(p))), ...);
  }

  Objectives objectives_{};
  Weights weights_ = default_weights();
  std::vector<std::size_t> remaining_;
  // rank_pareto's scratch: the eligible candidates, their values at the empty list (row-major)
  // and fronts, the chosen items' values when chosen, and the first front's values.
  std::vector<std::size_t> pareto_positions_;
  std::vector<double> pareto_values_;
  std::vector<std::size_t> pareto_front_;
  std::vector<double> list_values_;
  std::vector<double> front_values_;
};

}  // namespace marl_rec
