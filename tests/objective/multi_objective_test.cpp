#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <ratio>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;

namespace {

// An objective whose values are given: values[p] for candidate p.
struct Fixed {
  static constexpr bool list_dependent = false;
  std::vector<double> values{};
  void prepare(const mr::RankingInput& input) {
    mr::detail::require(values.size() == input.items.size(), "Fixed::prepare: wrong size");
  }
  double value(std::size_t p) const { return values[p]; }
  void select(std::size_t) {}
  std::string_view name() const { return "fixed"; }
};

// A recording objective that counts what it is told.
struct Counter {
  static constexpr bool list_dependent = false;
  std::size_t pages = 0;
  std::size_t items = 0;
  void prepare(const mr::RankingInput&) {}
  double value(std::size_t) const { return 0.5; }
  void select(std::size_t) {}
  std::string_view name() const { return "counter"; }
  void record(std::span<const std::size_t> shown, const mr::Catalog&) {
    ++pages;
    items += shown.size();
  }
};

struct TwoAndAHalf {
  static constexpr double value = 2.5;
};

// Allows at most one candidate per group (a quota rule).
struct OnePerGroup {
  std::vector<int> group_of;
  std::set<int> used{};
  bool allows(std::size_t p) const { return !used.contains(group_of[p]); }
  void chosen(std::size_t p) { used.insert(group_of[p]); }
};

void check_explained(const mr::RankedList& out) {
  REQUIRE(out.explanation.size() == out.size());
  REQUIRE(out.scores.size() == out.size());
  for (std::size_t j = 0; j < out.size(); ++j) {
    double sum = 0.0;
    for (const double c : out.explanation.of(j)) sum += c;
    CHECK(sum == out.scores[j]);  // exactly: same terms, same order
  }
}

}  // namespace

static_assert(mr::RecordingObjective<Counter>);
static_assert(!mr::RecordingObjective<Fixed>);

TEST_CASE("MultiObjective: weights from std::ratio and tag types, and their runtime override") {
  using MO = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<7, 10>>, mr::Weighted<Fixed, TwoAndAHalf>,
                                mr::Weighted<Counter>>;
  static_assert(MO::size == 3);
  static_assert(MO::default_weights() == MO::Weights{0.7, 2.5, 1.0});
  MO mo;
  CHECK(mo.weights() == MO::Weights{0.7, 2.5, 1.0});
  CHECK(mo.names() == std::array<std::string_view, 3>{"relevance", "fixed", "counter"});

  const std::array<double, 3> w{0.0, 1.0, 0.25};
  mo.set_weights(w);
  CHECK(mo.weights() == MO::Weights{0.0, 1.0, 0.25});

  // Bad overrides are refused and change nothing.
  const std::array<double, 2> two{1.0, 1.0};
  CHECK(mr::test::error_of([&] { mo.set_weights(two); }) ==
        "MultiObjective::set_weights: 2 weights for 3 objectives");
  const std::array<double, 3> negative{1.0, -0.5, 1.0};
  CHECK(mr::test::error_of([&] { mo.set_weights(negative); }).starts_with(
      "MultiObjective::set_weights: the weight of 'fixed' must be finite and >= 0, got -0.5"));
  const std::array<double, 3> nan{1.0, 1.0, std::nan("")};
  CHECK(mr::test::error_of([&] { mo.set_weights(nan); }).starts_with(
      "MultiObjective::set_weights: the weight of 'counter' must be finite and >= 0"));
  const std::array<double, 3> zeros{0.0, 0.0, 0.0};
  CHECK(mr::test::error_of([&] { mo.set_weights(zeros); }) == "MultiObjective::set_weights: every weight is 0");
  CHECK(mo.weights() == MO::Weights{0.0, 1.0, 0.25});
  mo.reset_weights();
  CHECK(mo.weights() == MO::default_weights());
}

TEST_CASE("MultiObjective::rank: greedy by the weighted sum, explanations sum to the scores exactly") {
  using MO = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<1, 10>>, mr::Weighted<Fixed, std::ratio<7, 10>>>;
  const std::vector<std::size_t> items{0, 1, 2, 3, 4};
  const std::vector<float> relevance{0.0f, 1.0f, 0.5f, 0.25f, 0.75f};  // already in [0, 1]
  MO mo(mr::Relevance{}, Fixed{{0.3, 0.1, 0.9, 0.3, 0.2}});
  mr::RankedList out;
  mo.rank({.items = items, .relevance = relevance}, 10, out);
  // 0.1·rel + 0.7·fixed: 0.21, 0.17, 0.68, 0.235, 0.215.
  CHECK(out.positions == std::vector<std::size_t>{2, 3, 4, 0, 1});
  CHECK(out.scores[0] == doctest::Approx(0.68).epsilon(1e-12));
  CHECK(out.fronts.empty());
  CHECK(out.explanation.objectives == std::vector<std::string_view>{"relevance", "fixed"});
  check_explained(out);
  CHECK(out.explanation.of(0)[0] == doctest::Approx(0.05).epsilon(1e-12));
  CHECK(out.explanation.of(0)[1] == doctest::Approx(0.63).epsilon(1e-12));

  // k limits the list; a reused RankedList is overwritten.
  mo.rank({.items = items, .relevance = relevance}, 2, out);
  CHECK(out.positions == std::vector<std::size_t>{2, 3});
  check_explained(out);

  const std::vector<float> short_relevance{1.0f};
  CHECK(mr::test::error_of([&] { mo.rank({.items = items, .relevance = short_relevance}, 2, out); }) ==
        "MultiObjective::rank: 1 relevance scores for 5 candidates");
}

TEST_CASE("MultiObjective::rank: NaN relevance is never chosen, ties go to the lower position, rules apply") {
  using MO = mr::MultiObjective<mr::Weighted<mr::Relevance>>;
  MO mo;
  const std::vector<std::size_t> items{5, 6, 7, 8, 9};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> relevance{1.0f, nan, 1.0f, 1.0f, nan};
  mr::RankedList out;
  mo.rank({.items = items, .relevance = relevance}, 10, out);
  CHECK(out.positions == std::vector<std::size_t>{0, 2, 3});  // all tied: position order
  check_explained(out);

  const std::vector<float> graded{0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
  OnePerGroup rule{{0, 0, 1, 1, 2}};
  mo.rank({.items = items, .relevance = graded}, 10, out, rule);
  CHECK(out.positions == std::vector<std::size_t>{0, 2, 4});
  // The rule is taken by reference: it saw the choices.
  CHECK(rule.used == std::set<int>{0, 1, 2});
}

TEST_CASE("MultiObjective::record reaches the recording objectives only") {
  mr::MultiObjective<mr::Weighted<mr::Relevance>, mr::Weighted<Counter>> mo;
  const mr::Catalog catalog(2);
  const std::vector<std::size_t> page{1, 2, 3};
  mo.record(page, catalog);
  mo.record(std::span<const std::size_t>(page).first(1), catalog);
  CHECK(mo.get<1>().pages == 2);
  CHECK(mo.get<1>().items == 4);
}

TEST_CASE("MultiObjective<Relevance, Diversity> is MMR: a hand-computed case") {
  // Unit vectors: i0 = (1, 0), i1 = (0.96, 0.28), i2 = (0, 1), i3 = (0.6, 0.8).
  // cos(i0,i1) = 0.96, cos(i0,i2) = 0, cos(i0,i3) = 0.6, cos(i1,i2) = 0.28, cos(i1,i3) = 0.8,
  // cos(i2,i3) = 0.8. Relevance 1, 0.9, 0.5, 0 (already min-max normalised).
  // Score = 0.5·rel + 0.5·(1 − max sim to the chosen):
  //   step 1: 1, 0.95, 0.75, 0.5              → i0 (1)
  //   step 2: i1 0.45 + 0.02 = 0.47, i2 0.25 + 0.5 = 0.75, i3 0 + 0.2 = 0.2 → i2 (0.75)
  //   step 3: i1 max(0.96, 0.28) → 0.47, i3 max(0.6, 0.8) → 0.1          → i1 (0.47)
  //   step 4: i3 max(0.8, 0.8) → 0.1                                       → i3 (0.1)
  mr::Catalog catalog(2);
  const std::vector<std::vector<float>> v{{1, 0}, {0.96f, 0.28f}, {0, 1}, {0.6f, 0.8f}};
  for (std::size_t i = 0; i < v.size(); ++i) catalog.add(marl_rec::numbered_id("i", static_cast<std::size_t>(i)), v[i]);
  const std::vector<std::size_t> items{0, 1, 2, 3};
  const std::vector<float> relevance{1.0f, 0.9f, 0.5f, 0.0f};
  mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<1, 2>>, mr::Weighted<mr::Diversity, std::ratio<1, 2>>> mmr;
  mr::RankedList out;
  mmr.rank({.items = items, .relevance = relevance, .catalog = &catalog}, 4, out);
  CHECK(out.positions == std::vector<std::size_t>{0, 2, 1, 3});
  const std::vector<double> expected{1.0, 0.75, 0.47, 0.1};
  for (std::size_t j = 0; j < 4; ++j) CHECK(out.scores[j] == doctest::Approx(expected[j]).epsilon(1e-6));
  check_explained(out);
  // Relevance alone would keep the near-duplicate i1 second.
  mmr.set_weights(std::array<double, 2>{1.0, 0.0});
  mmr.rank({.items = items, .relevance = relevance, .catalog = &catalog}, 4, out);
  CHECK(out.positions == std::vector<std::size_t>{0, 1, 2, 3});
}

TEST_CASE("MultiObjective::rank_pareto: fronts first, weighted sum within a front") {
  // (relevance, fixed) values: c0 (1, 0.1), c1 (0, 1), c2 (0.5, 0.5), c3 (0.25, 0.25),
  // c4 (0.5, 0.25). Fronts: {c0, c1, c2}, {c4} (c2 dominates it), {c3} (c4 dominates it).
  // Fixed has weight 0 and still shapes the fronts.
  using MO = mr::MultiObjective<mr::Weighted<mr::Relevance>, mr::Weighted<Fixed, std::ratio<0>>>;
  const std::vector<std::size_t> items{0, 1, 2, 3, 4, 5};
  const std::vector<float> relevance{1.0f, 0.0f, 0.5f, 0.25f, 0.5f, std::numeric_limits<float>::quiet_NaN()};
  MO mo(mr::Relevance{}, Fixed{{0.1, 1.0, 0.5, 0.25, 0.25, 1.0}});
  const mr::RankingInput input{.items = items, .relevance = relevance};
  mr::RankedList out;
  mr::ParetoSummary summary;
  mo.rank_pareto(input, 10, out, &summary);
  CHECK(out.positions == std::vector<std::size_t>{0, 2, 1, 4, 3});  // c1 (relevance 0) before c4
  CHECK(out.fronts == std::vector<std::size_t>{0, 0, 0, 1, 2});
  check_explained(out);
  CHECK(out.explanation.of(2)[0] == 0.0);
  CHECK(summary.front_of ==
        std::vector<std::size_t>{0, 0, 0, 2, 1, mr::ParetoSummary::not_ranked});
  CHECK(summary.first_front == std::vector<std::size_t>{0, 1, 2});
  // Boxes [0,1]x[0,0.1] and [0,0.5]x[0,0.5] (c1's box is flat): 0.1 + 0.5·0.4 = 0.3.
  CHECK(summary.hypervolume_front == doctest::Approx(0.3).epsilon(1e-12));
  CHECK(summary.hypervolume_list == doctest::Approx(0.3).epsilon(1e-12));

  // The weighted ranking differs: c4 (0.5) before c1 (0).
  mo.rank(input, 10, out);
  CHECK(out.positions == std::vector<std::size_t>{0, 2, 4, 3, 1});

  // k = 1: only c0 — the list covers 0.1 of the 0.3 the front could.
  mo.rank_pareto(input, 1, out, &summary);
  CHECK(out.positions == std::vector<std::size_t>{0});
  CHECK(summary.hypervolume_list == doctest::Approx(0.1).epsilon(1e-12));
  CHECK(summary.hypervolume_front == doctest::Approx(0.3).epsilon(1e-12));

  // A rule that forbids c2: front 0 gives c0, c1; then c4 (front 1), c3.
  OnePerGroup rule{{0, 1, 2, 3, 4, 5}, {2}};
  mo.rank_pareto(input, 10, out, nullptr, rule);
  CHECK(out.positions == std::vector<std::size_t>{0, 1, 4, 3});
  CHECK(out.fronts == std::vector<std::size_t>{0, 0, 1, 2});

  const std::vector<float> short_relevance{1.0f};
  CHECK(mr::test::error_of([&] { mo.rank_pareto({.items = items, .relevance = short_relevance}, 2, out); }) ==
        "MultiObjective::rank_pareto: 1 relevance scores for 6 candidates");
  // No candidates: an empty list and summary.
  mr::MultiObjective<mr::Weighted<mr::Relevance>> plain;
  CHECK(mr::test::error_of([&] { plain.rank_pareto({}, 2, out, &summary); }) == "no error");
  CHECK(out.size() == 0);
  CHECK(summary.front_of.empty());
  CHECK(summary.hypervolume_front == 0.0);
}

TEST_CASE("MultiObjective::rank_pareto: a list-dependent objective acts within a front") {
  // Three equally relevant items: one front. Diversity then spreads the list: after i0, the
  // orthogonal i2 before i0's near-duplicate i1.
  mr::Catalog catalog(2);
  const std::vector<std::vector<float>> v{{1, 0}, {0.96f, 0.28f}, {0, 1}, {1, 0}};
  for (std::size_t i = 0; i < v.size(); ++i) catalog.add(marl_rec::numbered_id("i", static_cast<std::size_t>(i)), v[i]);
  const std::vector<std::size_t> items{0, 1, 2, 3};
  const std::vector<float> relevance{1.0f, 1.0f, 1.0f, 0.0f};
  mr::MultiObjective<mr::Weighted<mr::Relevance>, mr::Weighted<mr::Diversity>> mo;
  mr::RankedList out;
  mr::ParetoSummary summary;
  mo.rank_pareto({.items = items, .relevance = relevance, .catalog = &catalog}, 4, out, &summary);
  CHECK(out.positions == std::vector<std::size_t>{0, 2, 1, 3});
  CHECK(out.fronts == std::vector<std::size_t>{0, 0, 0, 1});
  check_explained(out);
  // At the empty list every diversity value is 1: the front has hypervolume 1·1. The list's
  // values when chosen: (1, 1), (1, 1), (1, 1 − 0.96), (0, 0): hypervolume 1.
  CHECK(summary.hypervolume_front == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(summary.hypervolume_list == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(summary.first_front == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("MultiObjective::rank_pareto: a summary beyond the hypervolume limits fails before choosing") {
  // 4 objectives (limit 3000 points) and 3001 mutually non-dominated candidates: value
  // (i, n - i, i, n - i) / n for candidate i, so every candidate is in the first front.
  const std::size_t n = 3001;
  std::vector<std::size_t> items(n);
  std::vector<float> relevance(n, 1.0f);
  Fixed a, b;
  for (std::size_t i = 0; i < n; ++i) {
    items[i] = i;
    a.values.push_back(static_cast<double>(i) / static_cast<double>(n));
    b.values.push_back(static_cast<double>(n - i) / static_cast<double>(n));
  }
  mr::MultiObjective<mr::Weighted<Fixed>, mr::Weighted<Fixed>, mr::Weighted<Fixed>, mr::Weighted<Fixed>> ranking{a, b, a,
                                                                                                              b};
  mr::RankedList list;
  mr::ParetoSummary summary;
  OnePerGroup rule{std::vector<int>(n, 0)};
  CHECK_THROWS_WITH_AS(ranking.rank_pareto({.items = items, .relevance = relevance}, 5, list, &summary, rule),
                       "MultiObjective::rank_pareto: the first front (3001 candidates) or the list (5 items) exceeds "
                       "the 3000 points an exact hypervolume in 4 objectives allows; rank without a summary",
                       mr::Error);
  CHECK(rule.used.empty());  // nothing was chosen
  // Without a summary, the same ranking works.
  ranking.rank_pareto({.items = items, .relevance = relevance}, 5, list);
  CHECK(list.size() == 5);
}
