#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/model.hpp"
#include "marl_rec/coord/group_aggregation.hpp"
#include "marl_rec/core/rng.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;
using mr::GroupConfig;
using mr::GroupList;
using mr::GroupRule;
using Positions = std::vector<std::size_t>;

namespace {

constexpr float nan_score = std::numeric_limits<float>::quiet_NaN();

// A members × candidates matrix from its rows.
struct Scores {
  std::vector<float> values;
  std::size_t rows = 0;
  std::size_t cols = 0;
  Scores(std::initializer_list<std::vector<float>> r) : rows(r.size()), cols(r.begin()->size()) {
    for (const auto& row : r) values.insert(values.end(), row.begin(), row.end());
  }
  mr::MatrixView view() const { return mr::MatrixView(std::span<const float>(values), rows, cols); }
};

GroupList aggregate(const Scores& s, GroupConfig config, std::size_t k = 10,
                    std::vector<double> weights = {}) {
  GroupList out;
  mr::aggregate_group(s.view(), weights, k, config, out);
  return out;
}

// Three members whose normalised scores are exact quarters:
//   A [4 0 2 3] -> [1   0   .5  .75]
//   B [0 4 2 1] -> [0   1   .5  .25]
//   C [2 4 3 0] -> [.5  1   .75 0  ]
const Scores three{{4, 0, 2, 3}, {0, 4, 2, 1}, {2, 4, 3, 0}};

// Two members who agree (A, B) and one with the opposite taste (C), six items.
//   normalised A = B = [1 .8 .6 .4 .2 0], C = [0 .2 .4 .6 .8 1]
//   mean = [2/3 .6 1.6/3 1.4/3 .4 1/3]
const Scores two_against_one{{6, 5, 4, 3, 2, 1}, {6, 5, 4, 3, 2, 1}, {1, 2, 3, 4, 5, 6}};

// How many of member r's `liked` best positions (by raw score, ties: lower position, among
// `eligible`) are in `list`.
std::size_t liked_in_list(const std::vector<float>& row, const std::vector<unsigned char>& eligible,
                          std::size_t liked, const Positions& list) {
  Positions order;
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (eligible[i] != 0) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return row[a] > row[b] || (row[a] == row[b] && a < b);
  });
  order.resize(std::min(liked, order.size()));
  std::size_t count = 0;
  for (const std::size_t i : list) count += std::count(order.begin(), order.end(), i) > 0 ? 1 : 0;
  return count;
}

// A model whose score of item i for user u is table[u][i] (whatever else the context holds).
struct TableModel {
  std::vector<std::vector<float>> table;
  std::string_view name() const noexcept { return "table"; }
  void score(const mr::Context& context, mr::Candidates candidates, std::span<float> out) const {
    mr::detail::require(out.size() == candidates.size(), "TableModel::score: scores size");
    mr::detail::require(context.user < table.size(), "TableModel::score: unknown user");
    const std::vector<float>& row = table[context.user];
    mr::detail::require(candidates.index_bound() <= row.size(), "TableModel::score: unknown item");
    for (std::size_t i = 0; i < candidates.size(); ++i) out[i] = row[candidates[i]];
  }
  void update(const mr::Context&, std::size_t, double) {}
  void save(std::ostream&) const {}
  void load(std::istream&) {}
};
static_assert(mr::Model<TableModel>);

// The least_satisfied rule's greedy step, recomputed from its definition for the list prefix
// `prefix`: the position the next pick must be (npos when nothing is left). `rows` are the
// members' scores (NaN: vetoed), `w` their weights (all positive or 0), `k` the list length.
// Every sum runs in the order the definition states (members by index; a member's best scores
// in descending order; picks in order of choice), so that on the exact data of the brute-force
// test the comparisons are exact.
std::size_t least_satisfied_next(const std::vector<std::vector<float>>& rows,
                                 const std::vector<double>& w, std::size_t k, double beta,
                                 const Positions& prefix) {
  const std::size_t m = rows.size();
  const std::size_t n = rows.front().size();
  std::vector<unsigned char> eligible(n, 1);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isnan(row[i])) eligible[i] = 0;
    }
  }
  std::size_t ne = 0;
  for (const unsigned char e : eligible) ne += e;
  const std::size_t want = std::min(k, ne);
  double total = 0.0;
  for (const double x : w) total += x;
  // Normalised scores, ideals and satisfactions (per unit of weight) of the members.
  std::vector<std::vector<double>> norm(m, std::vector<double>(n, 0.0));
  std::vector<double> need(m, 0.0);
  for (std::size_t r = 0; r < m; ++r) {
    if (!(w[r] > 0.0)) continue;
    double lo = 1e300, hi = -1e300;
    for (std::size_t i = 0; i < n; ++i) {
      if (eligible[i] != 0) {
        lo = std::min(lo, double{rows[r][i]});
        hi = std::max(hi, double{rows[r][i]});
      }
    }
    std::vector<double> values;
    for (std::size_t i = 0; i < n; ++i) {
      if (eligible[i] == 0) continue;
      norm[r][i] = hi > lo ? (double{rows[r][i]} - lo) / (hi - lo) : 0.5;
      values.push_back(norm[r][i]);
    }
    std::sort(values.begin(), values.end(), [](double a, double b) { return a > b; });
    double ideal = 0.0;
    for (std::size_t j = 0; j < want; ++j) ideal += values[j];
    double gained = 0.0;
    for (const std::size_t i : prefix) gained += norm[r][i];
    need[r] = gained / ideal / w[r];
  }
  double lowest = 1e300;
  for (std::size_t r = 0; r < m; ++r) {
    if (w[r] > 0.0) lowest = std::min(lowest, need[r]);
  }
  std::size_t best = std::numeric_limits<std::size_t>::max();
  double best_value = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    if (eligible[i] == 0 || std::count(prefix.begin(), prefix.end(), i) != 0) continue;
    double mean = 0.0, least = 0.0, least_weight = 0.0;
    for (std::size_t r = 0; r < m; ++r) {
      if (!(w[r] > 0.0)) continue;
      mean += w[r] * norm[r][i];
      if (need[r] == lowest) {
        least += w[r] * norm[r][i];
        least_weight += w[r];
      }
    }
    mean /= total;
    const double value = mean + beta * (least / least_weight - mean);
    if (best == std::numeric_limits<std::size_t>::max() || value > best_value) {
      best = i;
      best_value = value;
    }
  }
  return best;
}

}  // namespace

TEST_CASE("group_rule_name names every rule") {
  CHECK(mr::group_rule_name(GroupRule::average) == "average");
  CHECK(mr::group_rule_name(GroupRule::least_misery) == "least_misery");
  CHECK(mr::group_rule_name(GroupRule::most_pleasure) == "most_pleasure");
  CHECK(mr::group_rule_name(GroupRule::borda) == "borda");
  CHECK(mr::group_rule_name(GroupRule::fair) == "fair");
  CHECK(mr::group_rule_name(GroupRule::least_satisfied) == "least_satisfied");
  CHECK(mr::group_rule_name(static_cast<GroupRule>(17)) == "unknown");
}

TEST_CASE("average, least misery and most pleasure on normalised scores") {
  SUBCASE("average: the mean of the normalised scores") {
    const GroupList g = aggregate(three, {.rule = GroupRule::average});
    CHECK(g.positions == Positions{1, 2, 0, 3});
    REQUIRE(g.scores.size() == 4);
    CHECK(g.scores[0] == doctest::Approx(2.0 / 3.0).epsilon(1e-12));
    CHECK(g.scores[1] == doctest::Approx(1.75 / 3.0).epsilon(1e-12));
    CHECK(g.scores[2] == doctest::Approx(0.5).epsilon(1e-12));
    CHECK(g.scores[3] == doctest::Approx(1.0 / 3.0).epsilon(1e-12));
  }
  SUBCASE("least misery: the item whose worst member rating is highest comes first") {
    const GroupList g = aggregate(three, {.rule = GroupRule::least_misery});
    // min = [0 0 .5 0]: item 2, then the tied items by position.
    CHECK(g.positions == Positions{2, 0, 1, 3});
    CHECK(g.scores == std::vector<double>{0.5, 0.0, 0.0, 0.0});
  }
  SUBCASE("most pleasure: the item whose best member rating is highest comes first") {
    const GroupList g = aggregate(three, {.rule = GroupRule::most_pleasure});
    // max = [1 1 .75 .75]
    CHECK(g.positions == Positions{0, 1, 2, 3});
    CHECK(g.scores == std::vector<double>{1.0, 1.0, 0.75, 0.75});
  }
  SUBCASE("k cuts the list; k = 0 gives an empty one") {
    CHECK(aggregate(three, {.rule = GroupRule::least_misery}, 1).positions == Positions{2});
    CHECK(aggregate(three, {}, 0).size() == 0);
  }
  SUBCASE("scale does not matter: a member's scores times 100 plus 7 give the same list") {
    const Scores scaled{{407, 7, 207, 307}, {0, 4, 2, 1}, {2, 4, 3, 0}};
    for (const GroupRule rule : {GroupRule::average, GroupRule::least_misery,
                                 GroupRule::most_pleasure, GroupRule::borda, GroupRule::fair,
                                 GroupRule::least_satisfied}) {
      CAPTURE(mr::group_rule_name(rule));
      const GroupList a = aggregate(three, {.rule = rule});
      const GroupList b = aggregate(scaled, {.rule = rule});
      CHECK(a.positions == b.positions);
      CHECK(a.scores == b.scores);
    }
  }
}

TEST_CASE("member weights: a weighted mean, zero weight takes a member out of every rule") {
  const std::vector<double> weights{3.0, 1.0, 0.0};
  // average: (3A + B) / 4 = [.75 .25 .5 .625]
  const GroupList avg = aggregate(three, {.rule = GroupRule::average}, 10, weights);
  CHECK(avg.positions == Positions{0, 3, 2, 1});
  CHECK(avg.scores == std::vector<double>{0.75, 0.625, 0.5, 0.25});
  // least misery over A and B only: min = [0 0 .5 .25] (C's zeros do not count).
  const GroupList lm = aggregate(three, {.rule = GroupRule::least_misery}, 10, weights);
  CHECK(lm.positions == Positions{2, 3, 0, 1});
  CHECK(lm.scores == std::vector<double>{0.5, 0.25, 0.0, 0.0});
  // Scaling every weight changes nothing.
  const GroupList scaled = aggregate(three, {.rule = GroupRule::average}, 10, {6.0, 2.0, 0.0});
  CHECK(scaled.positions == avg.positions);
  CHECK(scaled.scores == avg.scores);
  // liked_by counts members of positive weight only: with liked = 1, A likes 0 and B likes 1.
  const GroupList liked = aggregate(three, {.rule = GroupRule::average, .liked = 1}, 10, weights);
  CHECK(liked.positions == Positions{0, 3, 2, 1});
  CHECK(liked.liked_by == Positions{1, 0, 0, 1});
  // An empty weight span is every weight 1.
  CHECK(aggregate(three, {}, 10, {1.0, 1.0, 1.0}).scores == aggregate(three, {}).scores);
}

TEST_CASE("borda: n - 1 - rank points per member, tied ranks share their mean") {
  // A [5 5 1]: items 0 and 1 tie for ranks 0 and 1 -> 1.5 points each, item 2 -> 0.
  // B [1 2 3]: 0, 1, 2 points.
  const Scores s{{5, 5, 1}, {1, 2, 3}};
  const GroupList g = aggregate(s, {.rule = GroupRule::borda});
  CHECK(g.positions == Positions{1, 2, 0});
  CHECK(g.scores == std::vector<double>{2.5, 2.0, 1.5});
  // Weighted sum: 2A + B = [3 4 2].
  const GroupList w = aggregate(s, {.rule = GroupRule::borda}, 10, {2.0, 1.0});
  CHECK(w.positions == Positions{1, 0, 2});
  CHECK(w.scores == std::vector<double>{4.0, 3.0, 2.0});
  // A three-way tie gives every item the mean rank 1: one point each.
  const GroupList tie = aggregate(Scores{{7, 7, 7}}, {.rule = GroupRule::borda});
  CHECK(tie.positions == Positions{0, 1, 2});
  CHECK(tie.scores == std::vector<double>{1.0, 1.0, 1.0});
  // Borda uses ranks only: A's huge gap counts like a small one. Normalised, A = [1 .01 .005 0]
  // and B = [.9 1 .95 0], so the average prefers item 0; Borda points are A [3 2 1 0] and
  // B [1 3 2 0], so Borda prefers item 1.
  const Scores gap{{100, 1, 0.5f, 0}, {90, 100, 95, 0}};
  CHECK(aggregate(gap, {.rule = GroupRule::average}).positions.front() == 0);
  const GroupList b = aggregate(gap, {.rule = GroupRule::borda});
  CHECK(b.positions == Positions{1, 0, 2, 3});
  CHECK(b.scores == std::vector<double>{5.0, 4.0, 3.0, 0.0});
}

TEST_CASE("fair: every member gets its minimum of liked items where possible") {
  SUBCASE("the average list leaves the minority member out; the fair list does not") {
    const GroupList avg = aggregate(two_against_one, {.rule = GroupRule::average, .liked = 1}, 3);
    CHECK(avg.positions == Positions{0, 1, 2});
    CHECK(avg.liked_by == Positions{2, 0, 0});  // C likes item 5 only
    const GroupList fair =
        aggregate(two_against_one, {.rule = GroupRule::fair, .liked = 1, .fair_minimum = 1}, 3);
    // Picks: 0 (liked by A and B, best mean), then 5 for C, then the fill by the mean: 1. The
    // list is in order of choice, so C's item stays second and the scores do not descend.
    CHECK(fair.positions == Positions{0, 5, 1});
    CHECK(fair.liked_by == Positions{2, 1, 0});
    CHECK(fair.scores[0] == doctest::Approx(2.0 / 3.0).epsilon(1e-12));
    CHECK(fair.scores[1] == doctest::Approx(1.0 / 3.0).epsilon(1e-12));
    CHECK(fair.scores[2] == doctest::Approx(0.6).epsilon(1e-12));
    // A longer list: the fill after the fairness picks is in mean order.
    const GroupList longer =
        aggregate(two_against_one, {.rule = GroupRule::fair, .liked = 1, .fair_minimum = 1}, 5);
    CHECK(longer.positions == Positions{0, 5, 1, 2, 3});
  }
  SUBCASE("fair_minimum 2: the neediest member is served first") {
    // liked = 2: A, B like {0, 1}; C likes {5, 4}. Picks: 0 (all at 0 liked, best mean of
    // {0,1,4,5}), 4 (C now the neediest; 4 has a higher mean than 5), 1 (all at 1), 5 (C).
    const GroupConfig config{.rule = GroupRule::fair, .liked = 2, .fair_minimum = 2};
    const GroupList four = aggregate(two_against_one, config, 4);
    CHECK(four.positions == Positions{0, 4, 1, 5});
    CHECK(four.liked_by == Positions{2, 1, 2, 1});
    // With k = 3 there is no room for all: the first three picks, C gets one.
    const GroupList three_items = aggregate(two_against_one, config, 3);
    CHECK(three_items.positions == Positions{0, 4, 1});
    // With k = 2 the second pick goes to C, who has fewer liked items (0) than A and B (1),
    // although item 1 (liked by A and B, still below their minimum) has the higher mean.
    CHECK(aggregate(two_against_one, config, 2).positions == Positions{0, 4});
  }
  SUBCASE("falls back to the average when the minimum is already met") {
    // Everybody agrees: the average list already gives everyone their liked items.
    const Scores agree{{3, 1, 2, 0}, {3, 2, 1, 0}};
    const GroupList avg = aggregate(agree, {.rule = GroupRule::average}, 2);
    const GroupList fair = aggregate(agree, {.rule = GroupRule::fair, .liked = 2}, 2);
    CHECK(fair.positions == avg.positions);
    CHECK(fair.scores == avg.scores);
  }
  SUBCASE("a member with fewer eligible items than the minimum gets all of them") {
    // Two eligible items (the others vetoed by NaN); fair_minimum 3 cannot be met, the rule
    // stops asking once a member has no liked item left, and fills by the mean.
    const Scores s{{2, nan_score, 1, nan_score}, {1, 0, 2, 0}};
    const GroupList g = aggregate(s, {.rule = GroupRule::fair, .liked = 3, .fair_minimum = 3});
    CHECK(g.positions == Positions{0, 2});
  }
  SUBCASE("random groups: the guarantee holds whenever k leaves room") {
    mr::Rng rng(20240601);
    for (int trial = 0; trial < 200; ++trial) {
      const std::size_t m = 1 + rng.below(6);
      const std::size_t n = 1 + rng.below(40);
      const std::size_t liked = 1 + rng.below(5);
      const std::size_t minimum = 1 + rng.below(liked);
      std::vector<std::vector<float>> rows(m, std::vector<float>(n));
      std::vector<unsigned char> eligible(n, 1);
      std::vector<float> flat;
      for (auto& row : rows) {
        for (std::size_t i = 0; i < n; ++i) {
          // Few distinct values, so that ties are common; now and then a veto.
          row[i] = rng.uniform() < 0.05 ? nan_score : static_cast<float>(rng.below(5));
          if (std::isnan(row[i])) eligible[i] = 0;
        }
        flat.insert(flat.end(), row.begin(), row.end());
      }
      const std::size_t n_eligible = static_cast<std::size_t>(
          std::count(eligible.begin(), eligible.end(), static_cast<unsigned char>(1)));
      const std::size_t k = m * minimum + rng.below(4);
      GroupList g;
      mr::aggregate_group(mr::MatrixView(std::span<const float>(flat), m, n), {}, k,
                          {.rule = GroupRule::fair, .liked = liked, .fair_minimum = minimum}, g);
      CAPTURE(trial);
      REQUIRE(g.size() == std::min(k, n_eligible));
      Positions sorted = g.positions;
      std::sort(sorted.begin(), sorted.end());
      CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
      for (const std::size_t i : g.positions) CHECK(eligible[i] == 1);
      for (std::size_t r = 0; r < m; ++r) {
        CHECK(liked_in_list(rows[r], eligible, liked, g.positions) >=
              std::min({minimum, liked, n_eligible}));
      }
    }
  }
}

TEST_CASE("least_satisfied: each pick leans towards the member the list serves least") {
  SUBCASE("the minority member's favourite comes second; then the consensus resumes") {
    // k = 3: every member's ideal is 1 + .8 + .6 = 2.4. Pick 1: all at 0, so the mean decides:
    // item 0 (2/3). Pick 2: C is the least satisfied (0 against 1/2.4); with beta .5, item i
    // scores mean + .5 (C's score − mean): [-, .4, .4667, .5333, .6, .6667]: item 5. Pick 3:
    // A, B and C all at 1/2.4, so L's mean is the mean: item 1 (.6).
    const GroupList g =
        aggregate(two_against_one, {.rule = GroupRule::least_satisfied, .beta = 0.5}, 3);
    CHECK(g.positions == Positions{0, 5, 1});
    // Scores are the weighted means, in order of choice; every member likes all six items.
    REQUIRE(g.scores.size() == 3);
    CHECK(g.scores[0] == doctest::Approx(2.0 / 3.0).epsilon(1e-12));
    CHECK(g.scores[1] == doctest::Approx(1.0 / 3.0).epsilon(1e-12));
    CHECK(g.scores[2] == doctest::Approx(0.6).epsilon(1e-12));
    CHECK(g.liked_by == Positions{3, 3, 3});
    // The average list leaves C's favourite out.
    CHECK(aggregate(two_against_one, {.rule = GroupRule::average}, 3).positions ==
          Positions{0, 1, 2});
  }
  SUBCASE("a small beta keeps the consensus list") {
    // beta .1, pick 2: item 1 scores .6 + .1 (.2 − .6) = .56, item 5 .3333 + .1 · .6667 = .4.
    // Pick 3: C (at .2 / 2.4) is still the least satisfied; item 2 (.52) beats item 5 (.4).
    CHECK(aggregate(two_against_one, {.rule = GroupRule::least_satisfied, .beta = 0.1}, 3)
              .positions == Positions{0, 1, 2});
  }
  SUBCASE("beta 1: every pick after the first is the least satisfied member's best") {
    // k = 4, ideals 1 + .8 + .6 + .4 = 2.8. Picks: 0 (the mean), 5 (C's best), 1 (all tie at
    // 1 / 2.8: the mean), then C again (1.2 / 2.8 against A's and B's 1.8 / 2.8): C's best
    // unlisted item is 4.
    CHECK(aggregate(two_against_one, {.rule = GroupRule::least_satisfied, .beta = 1.0}, 4)
              .positions == Positions{0, 5, 1, 4});
  }
  SUBCASE("weights: a weighted mean, and an entitlement to satisfaction") {
    // Opposite tastes, normalised A = [1 .75 .5 .25 0], B = [0 .25 .5 .75 1]; k = 3, both
    // ideals 2.25; beta 1.
    const Scores opposite{{4, 3, 2, 1, 0}, {0, 1, 2, 3, 4}};
    const GroupConfig config{.rule = GroupRule::least_satisfied, .beta = 1.0};
    // Equal weights: every mean is .5, so item 0 (lower position); then B's best (4); then both
    // at 1 / 2.25 tie and the mean (.5 everywhere) gives the lowest unlisted position, 1.
    CHECK(aggregate(opposite, config, 3).positions == Positions{0, 4, 1});
    // Weights 1 and 3: the mean prefers B's favourite (4); then A (0); then both have 1 / 2.25,
    // but B's satisfaction per unit of weight is a third of A's: B's next best, 3.
    const GroupList weighted = aggregate(opposite, config, 3, {1.0, 3.0});
    CHECK(weighted.positions == Positions{4, 0, 3});
    CHECK(weighted.scores == std::vector<double>{0.75, 0.25, 0.625});
    // Only the ratios of the weights matter.
    CHECK(aggregate(opposite, config, 3, {2.0, 6.0}).positions == weighted.positions);
    // A member of weight 0 takes no part: A's own ranking.
    CHECK(aggregate(opposite, config, 3, {1.0, 0.0}).positions == Positions{0, 1, 2});
  }
  SUBCASE("beta 0 gives the average rule's list and scores, bit for bit") {
    mr::Rng rng(31);
    for (int trial = 0; trial < 100; ++trial) {
      const std::size_t m = 1 + rng.below(5);
      const std::size_t n = 1 + rng.below(40);
      std::vector<float> flat(m * n);
      for (float& v : flat) v = rng.uniform() < 0.03 ? nan_score : static_cast<float>(rng.normal());
      std::vector<double> w(m);
      for (double& x : w) x = rng.uniform() < 0.2 ? 0.0 : rng.uniform(0.1, 3.0);
      w[rng.below(m)] = 1.0;
      const std::size_t k = rng.below(12);
      const mr::MatrixView view(std::span<const float>(flat), m, n);
      GroupList avg, ls;
      mr::aggregate_group(view, w, k, {.rule = GroupRule::average}, avg);
      mr::aggregate_group(view, w, k, {.rule = GroupRule::least_satisfied, .beta = 0.0}, ls);
      CAPTURE(trial);
      CHECK(ls.positions == avg.positions);
      CHECK(ls.scores == avg.scores);
      CHECK(ls.liked_by == avg.liked_by);
    }
  }
  SUBCASE("every pick is the argmax of the definition (brute force, random small cases)") {
    mr::Rng rng(2718);
    std::size_t differs_from_average = 0;
    for (int trial = 0; trial < 300; ++trial) {
      const std::size_t m = 1 + rng.below(5);
      const std::size_t n = 1 + rng.below(12);
      // Values 0..4 with a 0 and a 4 in every row (n > 1), now and then a veto: the normalised
      // scores are exact quarters, so ties in the satisfactions and the values are real.
      std::vector<std::vector<float>> rows(m, std::vector<float>(n));
      for (auto& row : rows) {
        for (float& v : row) v = static_cast<float>(rng.below(5));
        if (n > 1) {
          const std::size_t p = rng.below(n);
          row[p] = 0.0f;
          row[(p + 1 + rng.below(n - 1)) % n] = 4.0f;
        }
      }
      for (std::size_t i = 0; i < n; ++i) {
        if (rng.uniform() < 0.1) rows[rng.below(m)][i] = nan_score;
      }
      std::vector<double> w(m);
      for (double& x : w) x = static_cast<double>(rng.below(4));  // 0..3
      w[rng.below(m)] = 2.0;
      const double beta = 0.25 * static_cast<double>(rng.below(5));
      const std::size_t k = 1 + rng.below(n + 2);
      std::vector<float> flat;
      for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
      GroupList g;
      mr::aggregate_group(mr::MatrixView(std::span<const float>(flat), m, n), w, k,
                          {.rule = GroupRule::least_satisfied, .beta = beta}, g);
      CAPTURE(trial);
      Positions prefix;
      for (std::size_t j = 0; j <= g.size(); ++j) {
        const std::size_t expected = least_satisfied_next(rows, w, k, beta, prefix);
        if (j == g.size()) {
          // The list stops at k, or when nothing eligible is left.
          CHECK((j == k || expected == std::numeric_limits<std::size_t>::max()));
          break;
        }
        CHECK(g.positions[j] == expected);
        prefix.push_back(g.positions[j]);
      }
      GroupList avg;
      mr::aggregate_group(mr::MatrixView(std::span<const float>(flat), m, n), w, k,
                          {.rule = GroupRule::average}, avg);
      differs_from_average += g.positions != avg.positions ? 1 : 0;
    }
    // The cases exercise the fairness term, not only the mean.
    CHECK(differs_from_average >= 50);
  }
}

TEST_CASE("NaN vetoes an item for the whole group, scales use the eligible items only") {
  // A vetoes item 0. B's 10 there does not stretch B's scale: over items 1..3, B is [0 .5 1].
  const Scores s{{nan_score, 0, 4, 2}, {10, 1, 2, 3}};
  const GroupList g = aggregate(s, {.rule = GroupRule::average});
  CHECK(g.positions == Positions{2, 3, 1});
  CHECK(g.scores == std::vector<double>{0.75, 0.75, 0.0});
  // A member of weight 0 still vetoes.
  CHECK(aggregate(s, {}, 10, {0.0, 1.0}).positions == Positions{3, 2, 1});
  // Every item vetoed: an empty list, for every rule.
  const Scores all{{nan_score, nan_score}, {1, 2}};
  for (const GroupRule rule : {GroupRule::average, GroupRule::least_misery,
                               GroupRule::most_pleasure, GroupRule::borda, GroupRule::fair,
                               GroupRule::least_satisfied}) {
    CHECK(aggregate(all, {.rule = rule}).size() == 0);
  }
  // No candidates at all: an empty list.
  GroupList empty;
  mr::aggregate_group(mr::MatrixView(std::span<const float>(), 2, 0), {}, 5, {}, empty);
  CHECK(empty.size() == 0);
}

TEST_CASE("an indifferent member (all scores equal) is at 0.5 everywhere") {
  // A [3 3 3] -> .5 .5 .5; B [0 1 2] -> 0 .5 1. Least misery: [0 .5 .5].
  const Scores s{{3, 3, 3}, {0, 1, 2}};
  const GroupList lm = aggregate(s, {.rule = GroupRule::least_misery});
  CHECK(lm.positions == Positions{1, 2, 0});
  CHECK(lm.scores == std::vector<double>{0.5, 0.5, 0.0});
  // One eligible item: 0.5 for everyone.
  const GroupList one = aggregate(Scores{{nan_score, 4}, {1, 9}}, {});
  CHECK(one.positions == Positions{1});
  CHECK(one.scores == std::vector<double>{0.5});
}

TEST_CASE("exclusion: excluded positions are out of the list and of the scales") {
  std::vector<std::size_t> asked;
  const auto exclude = [&](std::size_t i) {
    asked.push_back(i);
    return i == 2;
  };
  // A vetoes 0 (NaN): the exclusion is asked about 1, 2, 3 only, in order.
  const Scores s{{nan_score, 0, 100, 2}, {1, 1, 0, 3}};
  GroupList g;
  mr::aggregate_group(s.view(), {}, 10, {.rule = GroupRule::least_misery}, g, exclude);
  CHECK(asked == Positions{1, 2, 3});
  // Over {1, 3}: A [0 1], B [0 1]; A's 100 at the excluded item does not squash its scale.
  CHECK(g.positions == Positions{3, 1});
  CHECK(g.scores == std::vector<double>{1.0, 0.0});
}

TEST_CASE("deterministic, and a reused GroupList is refilled") {
  mr::Rng rng(7);
  std::vector<float> flat(5 * 200);
  for (float& v : flat) v = static_cast<float>(rng.normal());
  const mr::MatrixView view(std::span<const float>(flat), 5, 200);
  const std::vector<double> weights{1.0, 0.5, 2.0, 0.0, 1.0};
  for (const GroupRule rule : {GroupRule::average, GroupRule::least_misery,
                               GroupRule::most_pleasure, GroupRule::borda, GroupRule::fair,
                               GroupRule::least_satisfied}) {
    CAPTURE(mr::group_rule_name(rule));
    const GroupConfig config{.rule = rule, .liked = 7, .fair_minimum = 2};
    GroupList a, b;
    mr::aggregate_group(view, weights, 20, config, a);
    mr::aggregate_group(view, weights, 20, config, b);
    CHECK(a.positions == b.positions);
    CHECK(a.scores == b.scores);
    CHECK(a.liked_by == b.liked_by);
    CHECK(a.size() == 20);
    // The same list object, reused with a smaller k, holds exactly the new list: the first 5.
    mr::aggregate_group(view, weights, 5, config, b);
    // fair's set depends on k, and so does least_satisfied's (through each member's ideal).
    if (rule != GroupRule::fair && rule != GroupRule::least_satisfied) {
      CHECK(b.positions == Positions(a.positions.begin(), a.positions.begin() + 5));
    }
    CHECK(b.size() == 5);
    CHECK(b.scores.size() == 5);
    CHECK(b.liked_by.size() == 5);
  }
}

TEST_CASE("average, least misery, most pleasure and borda match a brute-force ranking") {
  mr::Rng rng(99);
  for (int trial = 0; trial < 50; ++trial) {
    const std::size_t m = 1 + rng.below(4);
    const std::size_t n = 1 + rng.below(30);
    // Values 0..4 with a 0 and a 4 in every row (n > 1): the normalised scores are exact
    // quarters, so equal group scores are exactly equal and the reference's ties are real.
    std::vector<float> flat(m * n);
    for (std::size_t r = 0; r < m; ++r) {
      float* row = flat.data() + r * n;
      for (std::size_t i = 0; i < n; ++i) row[i] = static_cast<float>(rng.below(5));
      if (n > 1) {
        const std::size_t p = rng.below(n);
        row[p] = 0.0f;
        row[(p + 1 + rng.below(n - 1)) % n] = 4.0f;
      }
    }
    std::vector<double> w(m);
    for (double& x : w) x = static_cast<double>(1 + rng.below(3));
    const mr::MatrixView view(std::span<const float>(flat), m, n);
    for (const GroupRule rule : {GroupRule::average, GroupRule::least_misery,
                                 GroupRule::most_pleasure, GroupRule::borda}) {
      // The reference: the group score of every item by the definition, then a full sort.
      std::vector<double> score(n, 0.0);
      double total = 0.0;
      for (const double x : w) total += x;
      for (std::size_t i = 0; i < n; ++i) {
        double lo_acc = 1e300, hi_acc = -1e300, sum = 0.0;
        for (std::size_t r = 0; r < m; ++r) {
          const auto row = view.row(r);
          const float lo = *std::min_element(row.begin(), row.end());
          const float hi = *std::max_element(row.begin(), row.end());
          const double s = hi > lo ? (double{row[i]} - lo) / (double{hi} - lo) : 0.5;
          lo_acc = std::min(lo_acc, s);
          hi_acc = std::max(hi_acc, s);
          if (rule == GroupRule::borda) {
            double better = 0, equal = 0;
            for (const float v : row) {
              better += v > row[i] ? 1 : 0;
              equal += v == row[i] ? 1 : 0;
            }
            sum += w[r] * (static_cast<double>(n) - 1.0 - (better + (equal - 1.0) / 2.0));
          } else {
            sum += w[r] * s;
          }
        }
        score[i] = rule == GroupRule::least_misery    ? lo_acc
                   : rule == GroupRule::most_pleasure ? hi_acc
                   : rule == GroupRule::borda         ? sum
                                                      : sum / total;
      }
      Positions expected(n);
      for (std::size_t i = 0; i < n; ++i) expected[i] = i;
      std::sort(expected.begin(), expected.end(), [&](std::size_t a, std::size_t b) {
        return score[a] > score[b] || (score[a] == score[b] && a < b);
      });
      expected.resize(std::min<std::size_t>(n, 8));
      GroupList g;
      mr::aggregate_group(view, w, 8, {.rule = rule}, g);
      CAPTURE(trial);
      CAPTURE(mr::group_rule_name(rule));
      CHECK(g.positions == expected);
      for (std::size_t j = 0; j < g.size(); ++j) {
        CHECK(g.scores[j] == score[g.positions[j]]);
      }
    }
  }
}

TEST_CASE("aggregate_group rejects bad input with a message naming what is wrong") {
  using mr::test::error_of;
  GroupList out;
  out.positions = {42};
  const auto run = [&](const Scores& s, std::vector<double> w, GroupConfig c) {
    return error_of([&] { mr::aggregate_group(s.view(), w, 3, c, out); });
  };
  const Scores two{{1, 2}, {3, 4}};
  CHECK(error_of([&] { mr::aggregate_group(mr::MatrixView(), {}, 3, {}, out); }) ==
        "aggregate_group: the group has no members");
  CHECK(run(two, {1.0}, {}) == "aggregate_group: member_weights has 1 entries, the group has 2 "
                               "members");
  CHECK(run(two, {1.0, -0.5}, {}) ==
        "aggregate_group: member_weights[1] = -0.500000 is not finite and >= 0");
  CHECK(run(two, {std::nan(""), 1.0}, {}) ==
        "aggregate_group: member_weights[0] = nan is not finite and >= 0");
  CHECK(run(two, {1.0, std::numeric_limits<double>::infinity()}, {}) ==
        "aggregate_group: member_weights[1] = inf is not finite and >= 0");
  CHECK(run(two, {0.0, 0.0}, {}) == "aggregate_group: every member weight is 0");
  CHECK(run(two, {1e308, 1e308}, {}).starts_with(
      "aggregate_group: the member weights sum to inf"));
  const Scores infinite{{1, 2}, {3, -std::numeric_limits<float>::infinity()}};
  CHECK(run(infinite, {}, {}) ==
        "aggregate_group: member 1's score at candidate position 1 is -inf (scores must be "
        "finite, or NaN for an item the member cannot be shown)");
  CHECK(run(two, {}, {.liked = 0}) == "aggregate_group: config.liked must be at least 1, got 0");
  CHECK(run(two, {}, {.liked = 3, .fair_minimum = 0}) ==
        "aggregate_group: config.fair_minimum 0 is not in [1, config.liked = 3]");
  CHECK(run(two, {}, {.liked = 3, .fair_minimum = 4}) ==
        "aggregate_group: config.fair_minimum 4 is not in [1, config.liked = 3]");
  CHECK(run(two, {}, {.rule = static_cast<GroupRule>(9)}) ==
        "aggregate_group: config.rule 9 is not a GroupRule");
  CHECK(run(two, {}, {.rule = GroupRule::least_satisfied, .beta = -0.25}) ==
        "aggregate_group: config.beta -0.250000 is not in [0, 1]");
  CHECK(run(two, {}, {.rule = GroupRule::least_satisfied, .beta = 1.5}) ==
        "aggregate_group: config.beta 1.500000 is not in [0, 1]");
  CHECK(run(two, {}, {.rule = GroupRule::least_satisfied, .beta = std::nan("")}) ==
        "aggregate_group: config.beta nan is not in [0, 1]");
  CHECK(run(two, {}, {.rule = GroupRule::least_satisfied,
                      .beta = std::numeric_limits<double>::infinity()}) ==
        "aggregate_group: config.beta inf is not in [0, 1]");
  // Checked whatever the rule, as every other field.
  CHECK(run(two, {}, {.rule = GroupRule::average, .beta = 2.0}) ==
        "aggregate_group: config.beta 2.000000 is not in [0, 1]");
  // A failed call leaves the list as it was.
  CHECK(out.positions == Positions{42});
}

TEST_CASE("recommend_for_group scores each member with the model, then aggregates") {
  const TableModel model{{{4, 0, 2, 3}, {0, 4, 2, 1}, {2, 4, 3, 0}, {1, 1, 1, 9}}};
  const std::vector<mr::Context> members{{.user = 0}, {.user = 1}, {.user = 2}};
  SUBCASE("every item: the same list as aggregate_group on the members' scores") {
    for (const GroupRule rule : {GroupRule::average, GroupRule::least_misery,
                                 GroupRule::most_pleasure, GroupRule::borda, GroupRule::fair,
                                 GroupRule::least_satisfied}) {
      const GroupConfig config{.rule = rule, .liked = 1};
      GroupList via_model;
      mr::recommend_for_group(model, members, mr::Candidates::all(4), {}, 3, config, via_model);
      const GroupList direct = aggregate(three, config, 3);
      CAPTURE(mr::group_rule_name(rule));
      CHECK(via_model.positions == direct.positions);
      CHECK(via_model.scores == direct.scores);
      CHECK(via_model.liked_by == direct.liked_by);
    }
  }
  SUBCASE("an explicit candidate list: positions index the list; exclusion by position") {
    const std::vector<std::size_t> items{3, 1, 2};
    GroupList g;
    const std::vector<double> weights{1.0, 1.0, 1.0};
    mr::recommend_for_group(model, members, mr::Candidates(items), weights, 10,
                            {.rule = GroupRule::least_misery}, g,
                            [](std::size_t position) { return position == 0; });
    // Items 1 and 2: A [0 2] -> [0 1], B [4 2] -> [1 0], C [4 3] -> [1 0]: min = [0 0].
    CHECK(g.positions == Positions{1, 2});
    CHECK(items[g.positions[0]] == 1);
  }
  SUBCASE("errors name recommend_for_group, or come from the model") {
    using mr::test::error_of;
    GroupList g;
    CHECK(error_of([&] {
            mr::recommend_for_group(model, std::span<const mr::Context>(), mr::Candidates::all(4),
                                    {}, 3, {}, g);
          }) == "recommend_for_group: the group has no members");
    const std::vector<double> two_weights{1.0, 2.0};
    CHECK(error_of([&] {
            mr::recommend_for_group(model, members, mr::Candidates::all(4), two_weights, 3, {}, g);
          }) == "recommend_for_group: member_weights has 2 entries, the group has 3 members");
    CHECK(error_of([&] {
            mr::recommend_for_group(model, members, mr::Candidates::all(4), {}, 3,
                                    {.liked = 0}, g);
          }) == "recommend_for_group: config.liked must be at least 1, got 0");
    CHECK(error_of([&] {
            mr::recommend_for_group(model, members, mr::Candidates::all(4), {}, 3,
                                    {.rule = GroupRule::least_satisfied, .beta = -1.0}, g);
          }) == "recommend_for_group: config.beta -1.000000 is not in [0, 1]");
    CHECK(error_of([&] {
            mr::recommend_for_group(model, members, mr::Candidates::all(5), {}, 3, {}, g);
          }) == "TableModel::score: unknown item");
    const TableModel infinite{{{1, std::numeric_limits<float>::infinity()}}};
    const std::vector<mr::Context> one{{.user = 0}};
    CHECK(error_of([&] {
            mr::recommend_for_group(infinite, one, mr::Candidates::all(2), {}, 3, {}, g);
          }).starts_with("recommend_for_group: member 0's score at candidate position 1 is inf"));
  }
}
