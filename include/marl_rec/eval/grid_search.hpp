// marl_rec — choosing a model's hyper-parameters on a validation split carved from the training
// data (never on the test data): what `marl_rec_eval recommend --tune` does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "marl_rec/concepts/batch_recommender.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/split.hpp"

namespace marl_rec::eval {

/// One hyper-parameter setting, name → value as text (as given on a command line).
using ParameterSet = std::map<std::string, std::string>;

/// Every combination of the listed values (the first key varies slowest), e.g.
/// {{"lambda", {"100", "500"}}, {"factors", {"32", "64"}}} → 4 sets. No keys → one empty set.
inline std::vector<ParameterSet> parameter_grid(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& axes) {
  std::vector<ParameterSet> sets{ParameterSet{}};
  for (const auto& axis : axes) {
    // (not a structured binding: clang 14 cannot capture one in the lambda below)
    const std::string& name = axis.first;
    const std::vector<std::string>& values = axis.second;
    marl_rec::detail::require(!values.empty(), [&] {
      return "eval::parameter_grid: parameter '" + name + "' has no values";
    });
    std::vector<ParameterSet> next;
    for (const ParameterSet& set : sets) {
      for (const std::string& value : values) {
        ParameterSet s = set;
        s[name] = value;
        next.push_back(std::move(s));
      }
    }
    sets = std::move(next);
  }
  return sets;
}

/// How grid_search validates: the training data is split — per user at random (validation_fraction
/// of each user's rows, Rng seed `seed`), or, for models of sequences, leave-last-out (each user's
/// last row in time, as split_leave_last_out; fraction and seed unused) — and each setting is
/// fitted on the rest and scored by nDCG@k over the validation rows (full ranking, the user's
/// fitting rows excluded).
struct GridSearchOptions {
  /// How the validation rows are chosen.
  enum class Split : std::uint8_t { per_user_random, leave_last_out };
  std::size_t k = 10;
  double validation_fraction = 0.2;
  std::uint64_t seed = 7;
  Split split = Split::per_user_random;
};

/// One setting tried, and its validation nDCG@k.
struct GridPoint {
  ParameterSet parameters{};
  double ndcg = 0.0;
};

/// Every setting tried, in grid order, and the best (highest nDCG@k; ties: the earlier).
struct GridSearchResult {
  std::vector<GridPoint> points{};
  std::size_t best = 0;
  const ParameterSet& best_parameters() const { return points.at(best).parameters; }
};

/// Fits `make(set)` for every set of `grid` on the fitting part of `train` and returns the
/// validation scores. `make` returns a BatchRecommender (it may throw Error for a set it rejects,
/// which propagates). `after_each(point)` is called after each setting (e.g. to print progress).
/// Throws Error when the grid is empty or the validation part has no rows.
template <class Make, class AfterEach>
GridSearchResult grid_search(const Interactions& train, std::span<const ParameterSet> grid,
                             Make&& make, const GridSearchOptions& options, AfterEach&& after_each) {
  marl_rec::detail::require(!grid.empty(), "eval::grid_search: the grid is empty");
  const Split split = options.split == GridSearchOptions::Split::leave_last_out
                          ? split_leave_last_out(train)
                          : split_per_user_random(train, options.validation_fraction, options.seed);
  marl_rec::detail::require(!split.test.empty(), [&] {
    return "eval::grid_search: the validation part is empty (" + std::to_string(train.size()) +
           " training rows; users need at least 2 rows each to give one to validation)";
  });
  MetricOptions metric_options;
  metric_options.k = options.k;
  const std::string metric = "ndcg@" + std::to_string(options.k);
  GridSearchResult result;
  for (const ParameterSet& set : grid) {
    auto model = make(set);
    static_assert(BatchRecommender<decltype(model)>, "grid_search: make must return a BatchRecommender");
    model.fit(split.train);
    const auto ranked = ranked_for_test_users(model, split.train, split.test, options.k);
    const MetricTable table = evaluate(ranked, split.test, train.items.size(), metric_options);
    result.points.push_back({set, table.at(metric)});
    if (result.points.back().ndcg > result.points[result.best].ndcg) result.best = result.points.size() - 1;
    after_each(result.points.back());
  }
  return result;
}

/// grid_search without a progress callback.
template <class Make>
GridSearchResult grid_search(const Interactions& train, std::span<const ParameterSet> grid,
                             Make&& make, const GridSearchOptions& options = {}) {
  return grid_search(train, grid, std::forward<Make>(make), options, [](const GridPoint&) {});
}

}  // namespace marl_rec::eval
