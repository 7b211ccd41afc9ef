#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <ratio>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/slot_auction.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/softmax.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "support/errors.hpp"
#include "support/toy_model.hpp"

namespace mr = marl_rec;
using mr::test::ToyModel;

namespace {

using ByRelevance = mr::MultiObjective<mr::Weighted<mr::Relevance>>;
using Mmr = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<6, 10>>,
                               mr::Weighted<mr::Diversity, std::ratio<4, 10>>>;
using ToyAgent = mr::Agent<ToyModel, mr::Greedy>;

// n items with random unit vectors in 4 dimensions.
mr::Catalog random_catalog(std::size_t n, mr::Rng& rng) {
  mr::Catalog catalog(4);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<float> v(4);
    for (float& x : v) x = static_cast<float>(rng.normal());
    catalog.add(marl_rec::numbered_id("item", static_cast<std::size_t>(i)), v);
  }
  return catalog;
}

// A model whose score of every item is drawn uniformly in [0, 1).
ToyModel random_toy(std::size_t n, mr::Rng& rng) {
  ToyModel m;
  for (std::size_t i = 0; i < n; ++i) m.means.push_back(static_cast<float>(rng.uniform()));
  m.bonus.assign(n, 0.0f);
  m.sd.assign(n, 0.0f);
  return m;
}

// Items 0..n-1 split among `agents` pools by index mod agents.
std::vector<std::vector<std::size_t>> partition(std::size_t n, std::size_t agents) {
  std::vector<std::vector<std::size_t>> pools(agents);
  for (std::size_t i = 0; i < n; ++i) pools[i % agents].push_back(i);
  return pools;
}

// The page respects the quotas, shows no item twice, and each explanation row sums to its score.
void check_page(const mr::Slate& slate, const std::vector<std::size_t>& quotas, std::size_t slots) {
  CHECK(slate.size() <= slots);
  std::vector<std::size_t> wins(quotas.size(), 0);
  for (const std::size_t a : slate.agents) ++wins[a];
  for (std::size_t a = 0; a < quotas.size(); ++a) CHECK(wins[a] <= quotas[a]);
  std::vector<std::size_t> items = slate.items;
  std::sort(items.begin(), items.end());
  CHECK(std::adjacent_find(items.begin(), items.end()) == items.end());
  REQUIRE(slate.explanation.size() == slate.size());
  const std::size_t m = slate.explanation.objectives.size();
  for (std::size_t s = 0; s < slate.size(); ++s) {
    double sum = 0.0;
    for (std::size_t o = 0; o < m; ++o) sum += slate.explanation.of(s)[o];
    CHECK(sum == slate.scores[s]);  // exactly: summed in objective order, as the ranking did
  }
}

}  // namespace

TEST_CASE("SlotAuction: quotas are never exceeded and no item appears twice (random cases)") {
  mr::Rng rng(20240611);
  for (int round = 0; round < 150; ++round) {
    CAPTURE(round);
    const std::size_t n = 6 + rng.below(40);
    const mr::Catalog catalog = random_catalog(n, rng);
    const std::size_t slots = 1 + rng.below(10);
    std::vector<std::size_t> quotas(3);
    for (std::size_t& q : quotas) q = rng.below(5);
    const std::size_t proposals = rng.below(8);  // 0: as many as slots
    const bool shared_pool = rng.bernoulli(0.5);  // then agents may propose the same items
    mr::Coordinator page{catalog, mr::SlotAuction({.quotas = quotas, .proposals = proposals}),
                         ToyAgent(random_toy(n, rng)), ToyAgent(random_toy(n, rng)),
                         mr::Agent<ToyModel, mr::Softmax>(random_toy(n, rng), mr::Softmax({.temperature = 0.1, .seed = 7}))};
    const auto parts = partition(n, 3);
    const std::vector<mr::Candidates> pools{mr::Candidates(parts[0]), mr::Candidates(parts[1]),
                                            mr::Candidates(parts[2])};
    Mmr mmr;
    ByRelevance by_relevance;
    mr::Slate slate;
    for (int t = 0; t < 3; ++t) {
      if (shared_pool) {
        page.recommend(mr::Context{}, mr::Candidates::all(n), slots, mmr, slate);
      } else {
        page.recommend(mr::Context{}, pools, slots, mmr, slate);
      }
      check_page(slate, quotas, slots);
      page.recommend(mr::Context{}, pools, slots, by_relevance, slate);
      check_page(slate, quotas, slots);
      if (!shared_pool) {
        // Each agent proposes min(k, pool) distinct items of its own pool: with partitioned pools
        // the page is as long as the quotas and proposals allow.
        const std::size_t k = proposals != 0 ? proposals : slots;
        std::size_t capacity = 0;
        for (std::size_t a = 0; a < 3; ++a) capacity += std::min({quotas[a], k, parts[a].size()});
        CHECK(slate.size() == std::min(slots, capacity));
      }
    }
  }
}

TEST_CASE("SlotAuction: with list-independent objectives and partitioned pools, the page maximises the "
          "position-weighted value (brute force)") {
  mr::Rng rng(99);
  for (int round = 0; round < 40; ++round) {
    CAPTURE(round);
    const std::size_t n = 9;  // 3 agents × 3 items
    const mr::Catalog catalog = random_catalog(n, rng);
    const std::vector<std::size_t> quotas{1 + rng.below(3), 1 + rng.below(3), 1 + rng.below(3)};
    const std::size_t slots = 4;
    std::array<ToyModel, 3> models{random_toy(n, rng), random_toy(n, rng), random_toy(n, rng)};
    mr::Coordinator page{catalog, mr::SlotAuction({.quotas = quotas, .proposals = 3}), ToyAgent(models[0]),
                         ToyAgent(models[1]), ToyAgent(models[2])};
    const auto parts = partition(n, 3);
    const std::vector<mr::Candidates> pools{mr::Candidates(parts[0]), mr::Candidates(parts[1]),
                                            mr::Candidates(parts[2])};
    ByRelevance objectives;
    const mr::Slate slate = page.recommend(mr::Context{}, pools, slots, objectives);
    // The bids, normalised as Relevance does (min-max over all 9 proposals).
    float lo = 1.0f, hi = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
      lo = std::min(lo, models[i % 3].means[i]);
      hi = std::max(hi, models[i % 3].means[i]);
    }
    const auto value = [&](std::size_t i) { return (models[i % 3].means[i] - lo) / (hi - lo); };
    const std::array<double, slots> weight{1.0, 0.85, 0.85 * 0.85, 0.85 * 0.85 * 0.85};
    double got = 0.0;
    for (std::size_t s = 0; s < slate.size(); ++s) got += weight[s] * value(slate.items[s]);
    // Every ordered page of up to 4 distinct items within the quotas.
    double best = 0.0;
    std::vector<std::size_t> chosen;
    const auto search = [&](auto&& self, double so_far) -> void {
      best = std::max(best, so_far);
      if (chosen.size() == slots) return;
      for (std::size_t i = 0; i < n; ++i) {
        if (std::find(chosen.begin(), chosen.end(), i) != chosen.end()) continue;
        std::size_t used = 0;
        for (const std::size_t c : chosen) used += (c % 3 == i % 3) ? 1 : 0;
        if (used >= quotas[i % 3]) continue;
        chosen.push_back(i);
        self(self, so_far + weight[chosen.size() - 1] * value(i));
        chosen.pop_back();
      }
    };
    search(search, 0.0);
    CHECK(got == doctest::Approx(best).epsilon(1e-6));
    // Slot 0 holds the highest bid.
    REQUIRE(!slate.items.empty());
    for (std::size_t i = 0; i < n; ++i) CHECK(value(slate.items[0]) >= value(i));
  }
}

TEST_CASE("SlotAuction: an agent at quota 0 is not asked, bad settings are errors") {
  mr::Rng rng(5);
  const mr::Catalog catalog = random_catalog(12, rng);
  mr::Coordinator page{catalog, mr::SlotAuction({.quotas = {2, 0}}), ToyAgent(random_toy(12, rng)),
                       ToyAgent(random_toy(12, rng))};
  ByRelevance objectives;
  const mr::Slate slate = page.recommend(mr::Context{}, mr::Candidates::all(12), 4, objectives);
  CHECK(slate.size() == 2);
  CHECK(slate.agents == std::vector<std::size_t>{0, 0});
  CHECK(page.agent<1>().counters().decisions == 0);

  mr::Coordinator wrong{catalog, mr::SlotAuction({.quotas = {2, 2, 2}}), ToyAgent(random_toy(12, rng)),
                        ToyAgent(random_toy(12, rng))};
  mr::Slate out;
  CHECK(mr::test::error_of([&] { wrong.recommend(mr::Context{}, mr::Candidates::all(12), 4, objectives, out); }) ==
        "SlotAuction: 3 quotas for 2 agents");
  CHECK(out.id == 0);
  CHECK(wrong.counters().pages == 0);
  CHECK(mr::test::error_of([] { mr::SlotAuction({.min_no_action = 0.0}); }) ==
        "SlotAuction: min_no_action must be in (0, 1], got 0.000000");
}

TEST_CASE("SlotAuction: difference credit on a hand-made page") {
  // Two agents; agent 0 rewards a purchase 3 on top of the click, and an impression -0.1.
  using A = mr::Agent<ToyModel, mr::Greedy>;
  const std::tuple<A, A> agents{A(ToyModel{}, {}, {.rewards = {.none = -0.1, .click = 1.0, .purchase = 3.0}}),
                                A(ToyModel{}, {}, {})};
  // Slots: agent 0 (position 0, bid 0.3), agent 1 (position 2, bid 0.2), agent 0 (position 1, bid 0.1).
  const std::vector<std::size_t> who{0, 1, 0}, positions{0, 2, 1}, items{7, 8, 9};
  const std::vector<float> bids{0.3f, 0.2f, 0.1f};
  const mr::PageCredit<A, A> page(agents, who, positions, items, bids);
  const double eps = 0.05;
  // Σ p̂ = 0.6, p̂_0 = 0.4; agent 0: others 0.2, q_0 = 0.2 / 0.6; agent 1: others 0.4, q_1 = 0.4 / 0.8.
  CHECK(mr::SlotAuction::switch_probability(page, 0, eps) == doctest::Approx(1.0 / 3.0));
  CHECK(mr::SlotAuction::switch_probability(page, 1, eps) == doctest::Approx(0.5));

  std::array<mr::Feedback, 2> out{};
  // Agent 0's slot 2 clicked and bought: r = 1 + 3, R = r − none = 4.1, credited (1 − 1/3) of it.
  mr::SlotAuction::difference_credit(page, mr::Feedback{.clicked = {2}, .purchased = {2}}, out, eps);
  REQUIRE(out[0].rewards.size() == 1);
  CHECK(out[0].rewards[0].first == 1);  // slot 2 is agent 0's position 1
  CHECK(out[0].rewards[0].second == doctest::Approx(4.1 * 2.0 / 3.0));
  CHECK(out[0].clicked.empty());
  CHECK(out[1].rewards.empty());  // agent 1 earned nothing: D = 0
  // What agent 0 learns for that position: none + (r − none)(1 − q).
  CHECK(std::get<0>(agents).reward_of(out[0], 1) == doctest::Approx(-0.1 + 4.1 * 2.0 / 3.0));
  CHECK(std::get<0>(agents).reward_of(out[0], 0) == doctest::Approx(-0.1));

  // A click on agent 1's slot: agent 0 learns nothing but its no-event rewards.
  out = {};
  mr::SlotAuction::difference_credit(page, mr::Feedback{.clicked = {1}}, out, eps);
  CHECK(out[0].rewards.empty());
  REQUIRE(out[1].rewards.size() == 1);
  CHECK(out[1].rewards[0].first == 2);
  CHECK(out[1].rewards[0].second == doctest::Approx(0.5));

  // Bids summing past 1 and out of [0, 1]: clamped, and p̂_0 = ε.
  const std::vector<float> high{1.7f, 0.5f, -0.4f};
  const mr::PageCredit<A, A> crowded(agents, who, positions, items, high);
  // Σ p̂ = 1 + 0.5 + 0 → p̂_0 = ε; q_1 = 1 / (ε + 1); q_0 = 0.5 / (ε + 0.5).
  CHECK(mr::SlotAuction::switch_probability(crowded, 1, eps) == doctest::Approx(1.0 / 1.05));
  CHECK(mr::SlotAuction::switch_probability(crowded, 0, eps) == doctest::Approx(0.5 / 0.55));
  // An agent alone on the page keeps everything.
  const std::vector<std::size_t> alone{0, 0, 0};
  const mr::PageCredit<A, A> solo(agents, alone, positions, items, bids);
  CHECK(mr::SlotAuction::switch_probability(solo, 0, eps) == 0.0);
}

TEST_CASE("SlotAuction: difference credit through the coordinator teaches the estimated contribution") {
  mr::Catalog catalog(2);
  for (int i = 0; i < 6; ++i) catalog.add(marl_rec::numbered_id("item", static_cast<std::size_t>(i)), std::vector<float>{1.0f, static_cast<float>(i)});
  // Agent 0 owns items 0-2, agent 1 items 3-5; the bids are the toy means.
  ToyModel m0, m1;
  m0.means = {0.3f, 0.1f, 0.05f, 0, 0, 0};
  m1.means = {0, 0, 0, 0.2f, 0.02f, 0.01f};
  for (ToyModel* m : {&m0, &m1}) {
    m->bonus.assign(6, 0.0f);
    m->sd.assign(6, 0.0f);
  }
  const std::vector<std::size_t> own0{0, 1, 2}, own1{3, 4, 5};
  const std::vector<mr::Candidates> pools{mr::Candidates(own0), mr::Candidates(own1)};
  mr::Coordinator local{catalog, mr::SlotAuction({.quotas = {2, 1}}), ToyAgent(m0), ToyAgent(m1)};
  mr::Coordinator difference{catalog, mr::SlotAuction({.quotas = {2, 1}, .credit = mr::Credit::difference}),
                             ToyAgent(m0), ToyAgent(m1)};
  ByRelevance objectives;
  const mr::Slate a = local.recommend(mr::Context{}, pools, 3, objectives);
  const mr::Slate b = difference.recommend(mr::Context{}, pools, 3, objectives);
  REQUIRE(a.items == std::vector<std::size_t>{0, 3, 1});
  REQUIRE(b.items == a.items);
  local.learn(a.id, {.clicked = {0}});
  difference.learn(b.id, {.clicked = {0}});
  // Local: item 0 learns 1. Difference: Σ p̂ = 0.6, p̂_0 = 0.4, q_0 = 0.2 / 0.6, so 2/3.
  REQUIRE(local.agent<0>().model().updates.size() == 2);
  REQUIRE(difference.agent<0>().model().updates.size() == 2);
  CHECK(local.agent<0>().model().updates[0].reward == doctest::Approx(1.0));
  CHECK(difference.agent<0>().model().updates[0].item == 0);
  CHECK(difference.agent<0>().model().updates[0].reward == doctest::Approx(2.0 / 3.0));
  CHECK(difference.agent<0>().model().updates[1].reward == doctest::Approx(0.0));
  REQUIRE(difference.agent<1>().model().updates.size() == 1);
  CHECK(difference.agent<1>().model().updates[0].reward == doctest::Approx(0.0));
}

TEST_CASE("SlotAuction: the same seeds give the same pages and lessons, others differ") {
  mr::Rng world(3);
  const mr::Catalog catalog = random_catalog(60, world);
  const ToyModel base = random_toy(60, world);
  using Explore = mr::Agent<ToyModel, mr::EpsilonGreedy>;
  const auto run = [&](std::uint64_t seed) {
    mr::Coordinator page{catalog, mr::SlotAuction({.quotas = {3, 3, 2}}),
                         Explore(base, mr::EpsilonGreedy({.epsilon = 0.3, .seed = seed})),
                         Explore(base, mr::EpsilonGreedy({.epsilon = 0.3, .seed = seed + 1})),
                         Explore(base, mr::EpsilonGreedy({.epsilon = 0.3, .seed = seed + 2}))};
    const auto parts = partition(60, 3);
    const std::vector<mr::Candidates> pools{mr::Candidates(parts[0]), mr::Candidates(parts[1]),
                                            mr::Candidates(parts[2])};
    Mmr objectives;
    mr::Rng clicks(11);
    std::vector<std::size_t> trace;
    mr::Slate slate;
    for (int t = 0; t < 50; ++t) {
      page.recommend(mr::Context{}, pools, 6, objectives, slate);
      trace.insert(trace.end(), slate.items.begin(), slate.items.end());
      page.learn(slate.id, {.clicked = {static_cast<std::size_t>(clicks.below(slate.size()))}});
    }
    std::vector<double> lessons;
    for (const auto& u : page.agent<0>().model().updates) lessons.push_back(u.reward);
    return std::make_pair(trace, lessons);
  };
  const auto first = run(1);
  CHECK(first == run(1));
  CHECK(first.first != run(4).first);
}
