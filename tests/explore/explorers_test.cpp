#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <set>
#include <type_traits>
#include <vector>

#include "marl_rec/explore/default_explorer.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/softmax.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/explore/ucb.hpp"
#include "support/toy_model.hpp"

namespace mr = marl_rec;
using mr::test::ToyModel;

namespace {

constexpr float nan_score = std::numeric_limits<float>::quiet_NaN();

ToyModel toy(std::vector<float> means) {
  ToyModel m;
  m.bonus.assign(means.size(), 0.0f);
  m.sd.assign(means.size(), 0.0f);
  m.means = std::move(means);
  return m;
}

// A model that scores, nothing more: Greedy, EpsilonGreedy and Softmax need no more.
struct ScoreOnly {
  std::vector<float> means;
  std::string_view name() const { return "score_only"; }
  void score(const mr::Context&, mr::Candidates c, std::span<float> out) const {
    for (std::size_t i = 0; i < c.size(); ++i) out[i] = means[c[i]];
  }
  void update(const mr::Context&, std::size_t, double) {}
  void save(std::ostream&) const {}
  void load(std::istream&) {}
};

void check_well_formed(const mr::Decision& d, std::size_t expected_size) {
  CHECK(d.items.size() == expected_size);
  CHECK(d.scores.size() == expected_size);
  CHECK(d.propensities.size() == expected_size);
  CHECK(std::set<std::size_t>(d.items.begin(), d.items.end()).size() == d.items.size());
  for (const float p : d.propensities) {
    CHECK(p > 0.0f);
    CHECK(p <= 1.0f);
  }
}

}  // namespace

static_assert(mr::ExplorerFor<mr::Greedy, ScoreOnly>);
static_assert(mr::ExplorerFor<mr::EpsilonGreedy, ScoreOnly>);
static_assert(mr::ExplorerFor<mr::Softmax, ScoreOnly>);
static_assert(!mr::ExplorerFor<mr::Ucb, ScoreOnly>);       // needs an upper bound
static_assert(!mr::ExplorerFor<mr::Thompson, ScoreOnly>);  // needs a posterior
static_assert(mr::ExplorerFor<mr::Ucb, ToyModel>);
static_assert(mr::ExplorerFor<mr::Thompson, ToyModel>);
static_assert(std::is_same_v<mr::DefaultExplorer<ScoreOnly>, mr::EpsilonGreedy>);
static_assert(std::is_same_v<mr::DefaultExplorer<ToyModel>, mr::Thompson>);

TEST_CASE("Greedy takes the k best eligible candidates, propensity 1") {
  const ToyModel m = toy({0.1f, 0.9f, nan_score, 0.5f, 0.9f, 0.3f});
  mr::Greedy greedy;
  mr::Decision d;
  greedy.choose(m, {}, mr::Candidates::all(6), 3, mr::NoExclusion{}, d);
  check_well_formed(d, 3);
  CHECK(d.items == std::vector<std::size_t>{1, 4, 3});  // ties: the earlier candidate first
  CHECK(d.scores == std::vector<float>{0.9f, 0.9f, 0.5f});
  CHECK(d.propensities == std::vector<float>{1, 1, 1});

  mr::ItemBitset excluded;
  excluded.insert(1);
  const std::vector<std::size_t> list{5, 4, 1, 2, 0};
  greedy.choose(m, {}, mr::Candidates(list), 10, excluded.view(), d);
  CHECK(d.items == std::vector<std::size_t>{4, 5, 0});  // 1 excluded, 2 is NaN

  greedy.choose(m, {}, mr::Candidates(list), 0, mr::NoExclusion{}, d);
  CHECK(d.items.empty());
  greedy.choose(m, {}, mr::Candidates{}, 3, mr::NoExclusion{}, d);
  CHECK(d.items.empty());
}

TEST_CASE("Ucb ranks by the model's upper bound") {
  ToyModel m = toy({0.5f, 0.4f, 0.3f});
  m.bonus = {0.0f, 0.3f, 0.05f};
  mr::Ucb ucb;
  mr::Decision d;
  ucb.choose(m, {}, mr::Candidates::all(3), 2, mr::NoExclusion{}, d);
  CHECK(d.items == std::vector<std::size_t>{1, 0});
  CHECK(d.scores[0] == doctest::Approx(0.7f));
  CHECK(d.propensities == std::vector<float>{1, 1});
}

TEST_CASE("EpsilonGreedy: reported propensities are exact and match the empirical frequencies") {
  const ToyModel m = toy({0.2f, 0.8f, 0.5f, nan_score, 0.1f});
  mr::ItemBitset excluded;
  excluded.insert(4);
  mr::EpsilonGreedy explorer({.epsilon = 0.3, .seed = 11});
  const int n = 40000;
  std::map<std::pair<std::size_t, std::size_t>, int> first_two;  // (pos0, pos1) counts
  std::map<std::size_t, int> first;
  mr::Decision d;
  for (int t = 0; t < n; ++t) {
    explorer.choose(m, {}, mr::Candidates::all(5), 2, excluded.view(), d);
    REQUIRE(d.items.size() == 2);
    ++first[d.items[0]];
    ++first_two[{d.items[0], d.items[1]}];
    // Eligible: 0, 1, 2 (3 is NaN, 4 excluded). Best = 1, then 2, then 0.
    const double p0 = 0.3 / 3 + (d.items[0] == 1 ? 0.7 : 0.0);
    CHECK(d.propensities[0] == doctest::Approx(p0));
    const std::size_t best_remaining = d.items[0] == 1 ? 2 : 1;
    const double p1 = 0.3 / 2 + (d.items[1] == best_remaining ? 0.7 : 0.0);
    CHECK(d.propensities[1] == doctest::Approx(p1));
  }
  CHECK(first.size() == 3);
  CHECK(first[1] / double(n) == doctest::Approx(0.8).epsilon(0.02));
  CHECK(first[0] / double(n) == doctest::Approx(0.1).epsilon(0.05));
  CHECK(first[2] / double(n) == doctest::Approx(0.1).epsilon(0.05));
  // P(1 then 2) = 0.8 * (0.15 + 0.7).
  CHECK(first_two[{1, 2}] / double(n) == doctest::Approx(0.8 * 0.85).epsilon(0.02));
}

TEST_CASE("EpsilonGreedy: ε = 0 is greedy, ε decays, same seed same decisions, bad settings") {
  const ToyModel m = toy({0.2f, 0.8f, 0.5f, 0.4f});
  mr::EpsilonGreedy off({.epsilon = 0.0});
  mr::Greedy greedy;
  mr::Decision a, b;
  off.choose(m, {}, mr::Candidates::all(4), 4, mr::NoExclusion{}, a);
  greedy.choose(m, {}, mr::Candidates::all(4), 4, mr::NoExclusion{}, b);
  CHECK(a.items == b.items);
  CHECK(a.propensities == std::vector<float>{1, 1, 1, 1});

  mr::EpsilonGreedy decaying({.epsilon = 0.5, .decay = 1.0, .min_epsilon = 0.1});
  CHECK(decaying.epsilon() == doctest::Approx(0.5));
  decaying.choose(m, {}, mr::Candidates::all(4), 1, mr::NoExclusion{}, a);
  CHECK(decaying.epsilon() == doctest::Approx(0.25));
  for (int i = 0; i < 20; ++i) decaying.choose(m, {}, mr::Candidates::all(4), 1, mr::NoExclusion{}, a);
  CHECK(decaying.epsilon() == doctest::Approx(0.1));

  mr::EpsilonGreedy x({.epsilon = 0.5, .seed = 3}), y({.epsilon = 0.5, .seed = 3});
  for (int i = 0; i < 50; ++i) {
    x.choose(m, {}, mr::Candidates::all(4), 3, mr::NoExclusion{}, a);
    y.choose(m, {}, mr::Candidates::all(4), 3, mr::NoExclusion{}, b);
    REQUIRE(a.items == b.items);
    REQUIRE(a.propensities == b.propensities);
  }
  CHECK_THROWS_AS(mr::EpsilonGreedy({.epsilon = 1.5}), mr::Error);
  CHECK_THROWS_AS(mr::EpsilonGreedy({.epsilon = std::nan("")}), mr::Error);
  CHECK_THROWS_AS(mr::EpsilonGreedy({.decay = -1.0}), mr::Error);
}

TEST_CASE("Softmax: exact Plackett–Luce propensities that match the empirical frequencies") {
  const std::vector<float> means{1.0f, 2.0f, 0.0f, 1.5f};
  const ToyModel m = toy(means);
  mr::Softmax explorer({.temperature = 0.7, .seed = 5});
  double z = 0.0;
  for (const float s : means) z += std::exp(s / 0.7);
  const int n = 40000;
  std::map<std::size_t, int> first;
  mr::Decision d;
  for (int t = 0; t < n; ++t) {
    explorer.choose(m, {}, mr::Candidates::all(4), 2, mr::NoExclusion{}, d);
    REQUIRE(d.items.size() == 2);
    ++first[d.items[0]];
    const double p0 = std::exp(means[d.items[0]] / 0.7) / z;
    CHECK(d.propensities[0] == doctest::Approx(p0).epsilon(1e-5));
    const double p1 = std::exp(means[d.items[1]] / 0.7) / (z - std::exp(means[d.items[0]] / 0.7));
    CHECK(d.propensities[1] == doctest::Approx(p1).epsilon(1e-5));
  }
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(first[i] / double(n) == doctest::Approx(std::exp(means[i] / 0.7) / z).epsilon(0.05));
  }
}

TEST_CASE("Softmax: infinite scores, exclusions, and settings") {
  const float inf = std::numeric_limits<float>::infinity();
  const ToyModel m = toy({inf, 1.0f, inf, -inf, nan_score});
  mr::Softmax explorer({.temperature = 1.0, .seed = 2});
  mr::Decision d;
  explorer.choose(m, {}, mr::Candidates::all(5), 5, mr::NoExclusion{}, d);
  REQUIRE(d.items.size() == 4);  // NaN never chosen
  CHECK(std::set<std::size_t>{d.items[0], d.items[1]} == std::set<std::size_t>{0, 2});
  CHECK(d.propensities[0] == doctest::Approx(0.5));
  CHECK(d.propensities[1] == doctest::Approx(1.0));
  CHECK(d.items[2] == 1);
  CHECK(d.propensities[2] == doctest::Approx(1.0));  // exp(-inf) = 0 for the last one
  CHECK(d.items[3] == 3);
  CHECK(d.propensities[3] == doctest::Approx(1.0));  // only −∞ left: uniform over one
  CHECK_THROWS_AS(mr::Softmax({.temperature = 0.0}), mr::Error);
  CHECK_THROWS_AS(mr::Softmax({.temperature = -1.0}), mr::Error);
}

TEST_CASE("Thompson: ranks by a posterior draw, estimated propensities track the frequencies") {
  ToyModel m = toy({0.0f, 0.3f, 0.6f});
  m.sd = {0.5f, 0.5f, 0.5f};
  mr::Thompson explorer({.propensity_draws = 200, .seed = 9});
  const int n = 3000;
  std::map<std::size_t, int> first;
  std::map<std::size_t, double> reported;
  mr::Decision d;
  for (int t = 0; t < n; ++t) {
    explorer.choose(m, {}, mr::Candidates::all(3), 2, mr::NoExclusion{}, d);
    REQUIRE(d.items.size() == 2);
    ++first[d.items[0]];
    reported[d.items[0]] += d.propensities[0];
  }
  for (std::size_t i = 0; i < 3; ++i) {
    REQUIRE(first[i] > 0);
    // Mean reported propensity of item i at position 0 ≈ its frequency there.
    CHECK(reported[i] / first[i] == doctest::Approx(first[i] / double(n)).epsilon(0.1));
  }
  // Later positions are conditional on the earlier ones: item 1's draws are so wide that when
  // item 0 comes first, item 2 almost always comes second (item 1 is then usually far below).
  m.means = {1.0f, 0.0f, 0.5f};
  m.sd = {0.0f, 10.0f, 0.01f};
  int after_0 = 0, then_2 = 0;
  double reported_2 = 0.0;
  for (int t = 0; t < 4000; ++t) {
    explorer.choose(m, {}, mr::Candidates::all(3), 2, mr::NoExclusion{}, d);
    if (d.items[0] != 0) continue;
    ++after_0;
    if (d.items[1] != 2) continue;
    ++then_2;
    reported_2 += d.propensities[1];
  }
  REQUIRE(then_2 > 100);
  CHECK(reported_2 / then_2 == doctest::Approx(then_2 / double(after_0)).epsilon(0.05));
  // With no posterior spread the draw is the mean: greedy, and every draw agrees.
  m.means = {0.0f, 0.3f, 0.6f};
  m.sd = {0.0f, 0.0f, 0.0f};
  explorer.choose(m, {}, mr::Candidates::all(3), 3, mr::NoExclusion{}, d);
  CHECK(d.items == std::vector<std::size_t>{2, 1, 0});
  CHECK(d.propensities == std::vector<float>{1, 1, 1});
  mr::Thompson no_estimate({.propensity_draws = 0});
  m.sd = {1.0f, 1.0f, 1.0f};
  no_estimate.choose(m, {}, mr::Candidates::all(3), 2, mr::NoExclusion{}, d);
  CHECK(d.propensities == std::vector<float>{1, 1});
}

TEST_CASE("Candidates: the index bound saturates instead of wrapping") {
  const std::vector<std::size_t> huge{3, std::numeric_limits<std::size_t>::max()};
  CHECK(mr::Candidates(huge).index_bound() == std::numeric_limits<std::size_t>::max());
  const ToyModel m = toy({0.1f, 0.2f});
  mr::Greedy greedy;
  mr::Decision d;
  CHECK_THROWS_AS(greedy.choose(m, {}, mr::Candidates(huge), 1, mr::NoExclusion{}, d), mr::Error);
}

TEST_CASE("Explorers pass a model's errors through and write nothing of a partial decision") {
  const ToyModel m = toy({0.1f, 0.2f});
  const std::vector<std::size_t> bad{0, 7};
  mr::Greedy greedy;
  mr::Decision d;
  CHECK_THROWS_AS(greedy.choose(m, {}, mr::Candidates(bad), 1, mr::NoExclusion{}, d), mr::Error);
}
