#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ratio>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/independent.hpp"
#include "marl_rec/coord/slot_auction.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/softmax.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "marl_rec/objective/revenue.hpp"
#include "support/errors.hpp"
#include "support/toy_model.hpp"

namespace mr = marl_rec;
using mr::test::ToyModel;

namespace {

using Ranking = mr::MultiObjective<mr::Weighted<mr::Relevance>>;
using ToyAgent = mr::Agent<ToyModel, mr::Greedy>;

// A catalog of n items in 2 dimensions (the coordinator only needs it for the objectives).
mr::Catalog catalog_of(std::size_t n) {
  mr::Catalog catalog(2);
  for (std::size_t i = 0; i < n; ++i) {
    catalog.add(marl_rec::numbered_id("item", static_cast<std::size_t>(i)), std::vector<float>{static_cast<float>(i), 1.0f});
  }
  return catalog;
}

// Item i scores i / 100 (higher items are better).
ToyModel toy(std::size_t n) { return mr::test::ranked_toy(n, 100.0f); }

struct ManualClock {
  double now = 0.0;
};

ToyAgent toy_agent(std::size_t n, ManualClock& clock, mr::AgentConfig config = {}) {
  ToyAgent agent(toy(n), mr::Greedy{}, config);
  agent.set_clock([&clock] { return clock.now; });
  return agent;
}

// A policy that places fixed (agent, position) pairs, to test the coordinator's bookkeeping:
// agent 0 proposes 4 items, agent 1 proposes 3, and the page is
// (agent 1, pos 2), (agent 0, pos 3), (agent 0, pos 0), (agent 1, pos 0).
struct FixedPlacement {
  // When set, the next *fail_count assemblies throw after the agents have proposed.
  int* fail_count = nullptr;
  std::vector<std::size_t> seen_pages{};

  std::string_view name() const { return "fixed"; }
  template <class Objectives, class... Agents>
  void assemble(mr::PageAssembly<Objectives, Agents...>& page) {
    page.propose(0, 4);
    page.propose(1, 3);
    if (fail_count != nullptr && *fail_count > 0) {
      --*fail_count;
      throw mr::Error("FixedPlacement: asked to fail");
    }
    const std::vector<double> row(page.page().explanation.objectives.size(), 0.25);
    page.place(1, 2, 0.25, row);
    page.place(0, 3, 0.25, row);
    page.place(0, 0, 0.25, row);
    page.place(1, 0, 0.25, row);
  }
  template <class... Agents>
  void credit(const mr::PageCredit<Agents...>& page, const mr::Feedback& feedback, std::span<mr::Feedback> out) {
    mr::local_credit(page, feedback, out);
  }
  template <class... Agents>
  void after_learn(std::tuple<Agents...>&, std::uint64_t pages) {
    seen_pages.push_back(static_cast<std::size_t>(pages));
  }
};

// A policy whose credit names a position its agent did not show.
struct BadCredit : FixedPlacement {
  template <class... Agents>
  void credit(const mr::PageCredit<Agents...>&, const mr::Feedback&, std::span<mr::Feedback> out) {
    out[0].clicked.push_back(1);  // agent 0's position 1 was proposed, not shown
  }
};

// Agents 0 and 1 over items 0..11: agent 0 gets the even items, agent 1 the odd ones.
struct TwoPools {
  std::vector<std::size_t> even{0, 2, 4, 6, 8, 10};
  std::vector<std::size_t> odd{1, 3, 5, 7, 9, 11};
  std::vector<mr::Candidates> pools{mr::Candidates(even), mr::Candidates(odd)};
};

// An objective that remembers the pages served.
struct Recorder {
  static constexpr bool list_dependent = false;
  std::vector<std::vector<std::size_t>> pages;
  std::string_view name() const { return "recorder"; }
  void prepare(const mr::RankingInput&) {}
  double value(std::size_t p) const { return static_cast<double>(p % 3) / 3.0; }
  void select(std::size_t) {}
  void record(std::span<const std::size_t> items, const mr::Catalog&) { pages.emplace_back(items.begin(), items.end()); }
};

}  // namespace

TEST_CASE("Coordinator: learn maps each slot to its agent's decision position") {
  const mr::Catalog catalog = catalog_of(12);
  ManualClock clock;
  mr::Coordinator page{catalog, FixedPlacement{}, toy_agent(12, clock, {.rewards = {.none = -0.5}}),
                       toy_agent(12, clock)};
  static_assert(std::is_same_v<decltype(page), mr::Coordinator<FixedPlacement, ToyAgent, ToyAgent>>);
  const TwoPools pools;
  Ranking ranking;
  const mr::Slate slate = page.recommend(mr::Context{}, pools.pools, 4, ranking);
  // Greedy proposals, best first: agent 0: 10 8 6 4; agent 1: 11 9 7.
  CHECK(slate.id == 1);
  CHECK(slate.items == std::vector<std::size_t>{7, 4, 10, 11});
  CHECK(slate.agents == std::vector<std::size_t>{1, 0, 0, 1});
  CHECK(slate.propensities == std::vector<float>{1, 1, 1, 1});
  REQUIRE(slate.explanation.size() == 4);
  CHECK(slate.explanation.objectives == std::vector<std::string_view>{"relevance"});

  // Slot 1 (agent 0, position 3) clicked and bought, slot 3 (agent 1, position 0) rated 0.5.
  CHECK(page.learn(slate.id, {.clicked = {1}, .purchased = {1}, .rewards = {{3, 0.5}}}) == mr::LearnStatus::learned);
  const auto& u0 = page.agent<0>().model().updates;
  REQUIRE(u0.size() == 2);  // positions 0 and 3 only: 1 and 2 were proposed, not shown
  CHECK(u0[0].item == 10);
  CHECK(u0[0].reward == doctest::Approx(-0.5));  // shown, no event: agent 0's `none`
  CHECK(u0[1].item == 4);
  CHECK(u0[1].reward == doctest::Approx(2.0));
  const auto& u1 = page.agent<1>().model().updates;
  REQUIRE(u1.size() == 2);
  CHECK(u1[0].item == 11);
  CHECK(u1[0].reward == doctest::Approx(0.5));
  CHECK(u1[1].item == 7);
  CHECK(u1[1].reward == doctest::Approx(0.0));
  CHECK(page.policy().seen_pages == std::vector<std::size_t>{1});
  CHECK(page.counters().pages == 1);
  CHECK(page.counters().feedback == 1);
}

TEST_CASE("Coordinator: duplicate, late and unknown pages") {
  const mr::Catalog catalog = catalog_of(12);
  ManualClock clock;
  mr::Coordinator page{catalog, FixedPlacement{}, mr::CoordinatorConfig{.max_pending = 2},
                       toy_agent(12, clock, {.time_to_live = 10.0}), toy_agent(12, clock, {.time_to_live = 10.0})};
  const TwoPools pools;
  Ranking ranking;
  mr::Slate slate;
  page.recommend(mr::Context{}, pools.pools, 4, ranking, slate);
  const std::uint64_t first = slate.id;
  CHECK(page.learn(first, {.clicked = {0}}) == mr::LearnStatus::learned);
  CHECK(page.learn(first, {.clicked = {0}}) == mr::LearnStatus::duplicate);
  CHECK(page.counters().duplicates == 1);
  CHECK(page.agent<1>().model().updates.size() == 2);  // learned once

  // Evicted from the ring of 2 by two newer pages.
  page.recommend(mr::Context{}, pools.pools, 4, ranking, slate);
  const std::uint64_t second = slate.id;
  page.recommend(mr::Context{}, pools.pools, 4, ranking, slate);
  page.recommend(mr::Context{}, pools.pools, 4, ranking, slate);
  CHECK(page.counters().evicted == 1);
  CHECK(page.learn(second, {}) == mr::LearnStatus::expired);
  // In the ring, but every agent's decision has passed its time-to-live.
  clock.now = 20.0;
  CHECK(page.learn(slate.id, {.clicked = {0}}) == mr::LearnStatus::expired);
  CHECK(page.counters().late == 2);
  // A retry of late feedback is late again, not a duplicate.
  CHECK(page.learn(slate.id, {.clicked = {0}}) == mr::LearnStatus::expired);
  CHECK(page.counters().late == 3);
  CHECK(page.counters().duplicates == 1);
  CHECK(page.agent<0>().model().updates.size() == 2);
  CHECK(mr::test::error_of([&] { page.learn(0, {}); }) ==
        "Coordinator::learn: slate id 0 was never issued by this coordinator (ids 1..4)");
  CHECK(mr::test::error_of([&] { page.learn(5, {}); }) ==
        "Coordinator::learn: slate id 5 was never issued by this coordinator (ids 1..4)");
}

namespace {
// An objective whose record() fails.
struct FailingRecorder : Recorder {
  void record(std::span<const std::size_t>, const mr::Catalog&) { throw mr::Error("FailingRecorder: cannot record"); }
};
}  // namespace

TEST_CASE("Coordinator: an objective failing to record the page means no page is issued") {
  const mr::Catalog catalog = catalog_of(12);
  ManualClock clock;
  mr::Coordinator page{catalog, FixedPlacement{}, toy_agent(12, clock, {.default_reward = 0.5}),
                       toy_agent(12, clock, {.default_reward = 0.5})};
  const TwoPools pools;
  mr::MultiObjective<mr::Weighted<FailingRecorder>> failing;
  mr::Slate slate;
  CHECK(mr::test::error_of([&] { page.recommend(mr::Context{}, pools.pools, 4, failing, slate); }) ==
        "FailingRecorder: cannot record");
  CHECK(slate.id == 0);
  CHECK(page.counters().pages == 0);
  CHECK(page.pending() == 0);
  // The proposals were withdrawn: when they expire, the default reward teaches nothing.
  page.with_agent<0>([](ToyAgent& agent) { agent.expire_due(); });
  clock.now = 1e9;
  page.with_agent<0>([](ToyAgent& agent) { agent.expire_due(); });
  page.with_agent<1>([](ToyAgent& agent) { agent.expire_due(); });
  CHECK(page.agent<0>().model().updates.empty());
  CHECK(page.agent<1>().model().updates.empty());
  // with_agent gives write access: e.g. a change to an agent's model.
  const float before = page.agent<1>().model().means[3];
  page.with_agent<1>([](ToyAgent& agent) { agent.with_model([](ToyModel& m) { m.means[3] += 1.0f; }); });
  CHECK(page.agent<1>().model().means[3] == before + 1.0f);
}

TEST_CASE("Coordinator: bad feedback or bad credit teaches no agent anything") {
  const mr::Catalog catalog = catalog_of(12);
  ManualClock clock;
  mr::Coordinator page{catalog, FixedPlacement{}, toy_agent(12, clock), toy_agent(12, clock)};
  const TwoPools pools;
  Ranking ranking;
  const mr::Slate slate = page.recommend(mr::Context{}, pools.pools, 4, ranking);
  CHECK(mr::test::error_of([&] { page.learn(slate.id, {.clicked = {0, 4}}); }) ==
        "Coordinator::learn: slate 1 has 4 slots; clicked slot 4 is not one of them");
  CHECK(mr::test::error_of([&] { page.learn(slate.id, {.purchased = {9}}); }) ==
        "Coordinator::learn: slate 1 has 4 slots; purchased slot 9 is not one of them");
  CHECK(mr::test::error_of([&] { page.learn(slate.id, {.clicked = {0}, .rewards = {{2, std::nan("")}}}); }) ==
        "Coordinator::learn: slate 1: the reward for slot 2 is not finite");
  const double big = std::numeric_limits<double>::max();
  CHECK(mr::test::error_of([&] { page.learn(slate.id, {.rewards = {{1, big}, {1, big}}}); }) ==
        "Coordinator::learn: slate 1: the reward for slot 1 is not finite");
  CHECK(page.agent<0>().model().updates.empty());
  CHECK(page.agent<1>().model().updates.empty());
  CHECK(page.counters().feedback == 0);
  // Still open: good feedback is learned afterwards.
  CHECK(page.learn(slate.id, {.clicked = {3}}) == mr::LearnStatus::learned);
  CHECK(page.agent<1>().model().updates.size() == 2);

  mr::Coordinator bad{catalog, BadCredit{}, toy_agent(12, clock), toy_agent(12, clock)};
  const mr::Slate other = bad.recommend(mr::Context{}, pools.pools, 4, ranking);
  CHECK(mr::test::error_of([&] { bad.learn(other.id, {.clicked = {0}}); }) ==
        "Coordinator::learn: slate 1: the policy credited agent 0 with position 1 of its decision, which the page "
        "did not show");
  CHECK(bad.agent<0>().model().updates.empty());
  CHECK(bad.agent<1>().model().updates.empty());
}

TEST_CASE("Coordinator: a failed assembly withdraws the proposals and issues no page") {
  const mr::Catalog catalog = catalog_of(12);
  ManualClock clock;
  const mr::AgentConfig config{.time_to_live = 5.0, .default_reward = -1.0};
  int failures = 1;
  mr::Coordinator page{catalog, FixedPlacement{.fail_count = &failures}, toy_agent(12, clock, config),
                       toy_agent(12, clock, config)};
  const TwoPools pools;
  Ranking ranking;
  mr::Slate slate;
  slate.id = 99;
  CHECK(mr::test::error_of([&] { page.recommend(mr::Context{}, pools.pools, 4, ranking, slate); }) ==
        "FixedPlacement: asked to fail");
  CHECK(slate.id == 0);
  CHECK(page.counters().pages == 0);
  CHECK(page.agent<0>().pending() == 1);  // proposed, withdrawn: shows nothing
  clock.now = 10.0;
  page.recommend(mr::Context{}, pools.pools, 4, ranking, slate);  // the agents expire the old decision
  CHECK(slate.id == 1);
  CHECK(page.agent<0>().counters().expired == 1);
  CHECK(page.agent<0>().counters().defaulted == 1);
  CHECK(page.agent<0>().model().updates.empty());  // the default reward went to no position

  CHECK(mr::test::error_of([&] { page.recommend(mr::Context{}, std::span(pools.pools).first(1), 4, ranking); }) ==
        "Coordinator::recommend: 1 candidate pools for 2 agents");
  CHECK(mr::test::error_of([&] { page.recommend(mr::Context{}, pools.pools, 0, ranking); }) ==
        "Coordinator::recommend: slots must be at least 1");
}

TEST_CASE("Coordinator: the slate's explanation rows sum to its scores, objectives record the page") {
  using Two = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<7, 10>>, mr::Weighted<Recorder, std::ratio<3, 10>>>;
  const mr::Catalog catalog = catalog_of(30);
  ManualClock clock;
  mr::Coordinator page{catalog, mr::SlotAuction{}, toy_agent(30, clock), toy_agent(30, clock),
                       mr::Agent<ToyModel, mr::Softmax>(toy(30), mr::Softmax({.temperature = 0.05, .seed = 3}))};
  std::vector<std::size_t> pool(30);
  for (std::size_t i = 0; i < 30; ++i) pool[i] = (i * 7) % 30;
  Two objectives;
  mr::Slate slate;
  page.recommend(mr::Context{}, mr::Candidates(pool), 6, objectives, slate);  // one pool for all
  REQUIRE(slate.size() == 6);
  REQUIRE(slate.explanation.size() == 6);
  CHECK(slate.explanation.objectives == std::vector<std::string_view>{"relevance", "recorder"});
  for (std::size_t s = 0; s < slate.size(); ++s) {
    const auto row = slate.explanation.of(s);
    CHECK(row[0] + row[1] == slate.scores[s]);  // exactly: the same sum, in the same order
  }
  REQUIRE(objectives.get<1>().pages.size() == 1);
  CHECK(objectives.get<1>().pages[0] == slate.items);
}

TEST_CASE("Coordinator: heterogeneous agents, built as in the docs, learn from their own slots") {
  // Six items in 2 dimensions; the user likes the first coordinate.
  mr::Catalog catalog(2);
  const std::vector<float> vectors{1, 0, 0.9f, 0.1f, 0, 1, 0.1f, 0.9f, 0.7f, 0.7f, 0.5f, -0.5f};
  for (std::size_t i = 0; i < 6; ++i) {
    catalog.add(marl_rec::numbered_id("item", static_cast<std::size_t>(i)), std::span<const float>(vectors).subspan(2 * i, 2));
  }
  const std::vector<float> user{1.0f, 0.0f};
  const mr::Context context{.features = user, .items = catalog.embeddings()};
  mr::Agent<mr::LinUcb> products{mr::LinUcb{{.features = mr::FeatureMap::cross, .alpha = 0.1f}}};
  mr::Agent<mr::LinThompson, mr::Softmax> content{mr::LinThompson{{.features = mr::FeatureMap::cross}},
                                                   mr::Softmax({.temperature = 0.2, .seed = 5})};
  mr::Agent<mr::LinUcb> ads{mr::LinUcb{{.features = mr::FeatureMap::cross, .alpha = 0.1f}}};
  mr::Coordinator page{catalog, mr::SlotAuction{{.quotas = {4, 4, 2}}}, products, content, ads};
  static_assert(page.agent_count == 3);
  const std::vector<std::size_t> p0{0, 3}, p1{1, 4}, p2{2, 5};
  const std::vector<mr::Candidates> pools{mr::Candidates(p0), mr::Candidates(p1), mr::Candidates(p2)};
  Ranking ranking;
  mr::Slate slate;
  for (int t = 0; t < 30; ++t) {
    page.recommend(context, pools, 4, ranking, slate);
    REQUIRE(slate.size() == 4);
    // The user clicks item 0 or 1 whenever shown.
    mr::Feedback feedback;
    for (std::size_t s = 0; s < slate.size(); ++s) {
      if (slate.items[s] <= 1) feedback.clicked.push_back(s);
    }
    CHECK(page.learn(slate.id, feedback) == mr::LearnStatus::learned);
  }
  CHECK(page.counters().pages == 30);
  CHECK(page.counters().feedback == 30);
  // Every agent learned once per slot it filled (its proposals that were not shown taught nothing).
  std::size_t updates = 0;
  std::apply([&](const auto&... a) { ((updates += a.counters().updates), ...); }, page.agents());
  CHECK(updates == 30 * 4);
  // The products agent learned from its slots: item 0 (clicked whenever shown) now scores far
  // above item 3 (never clicked).
  std::vector<float> scores(2);
  page.agent<0>().model().score(context, mr::Candidates(p0), scores);
  CHECK(scores[0] > 0.5f);
  CHECK(scores[1] < 0.2f);
}

TEST_CASE("Coordinator: the docs/coordination.md snippets, as written") {
  mr::Catalog catalog(2);
  for (std::size_t i = 0; i < 30; ++i) {
    catalog.add(mr::numbered_id("i", i), std::vector<float>{static_cast<float>(i % 3), 1.0f}, {.price = 1.0f});
  }
  using Ranking = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<7, 10>>,
                                     mr::Weighted<mr::Revenue, std::ratio<2, 10>>,
                                     mr::Weighted<mr::Diversity, std::ratio<1, 10>>>;
  Ranking ranking;
  ranking.set_weights(std::array{0.5, 0.4, 0.1});
  using Seller = mr::Agent<mr::LinearQ, mr::EpsilonGreedy>;
  const auto seller = [](std::uint64_t seed) {
    return Seller{mr::LinearQ{{.features = mr::FeatureMap::cross, .gamma = 0.0f}},
                  mr::EpsilonGreedy{{.epsilon = 0.1, .seed = seed}}};
  };
  mr::Coordinator page{catalog, mr::SlotAuction{{.quotas = {8, 8, 2}}}, seller(1), seller(2), seller(3)};
  const std::vector<float> user{0.5f, 1.0f};
  const mr::Context context{.features = user, .items = catalog.embeddings()};
  std::vector<std::size_t> pool[3];
  for (std::size_t i = 0; i < 30; ++i) pool[i % 3].push_back(i);
  const std::vector<mr::Candidates> pools{mr::Candidates(pool[0]), mr::Candidates(pool[1]), mr::Candidates(pool[2])};
  const mr::Slate slate = page.recommend(context, pools, /*slots=*/8, ranking);
  REQUIRE(slate.size() == 8);
  std::size_t ads = 0;
  for (const std::size_t a : slate.agents) ads += a == 2 ? 1 : 0;
  CHECK(ads <= 2);
  for (std::size_t s = 0; s < slate.size(); ++s) {
    double sum = 0.0;
    for (const double c : slate.explanation.of(s)) sum += c;
    CHECK(sum == slate.scores[s]);
  }
  CHECK(page.learn(slate.id, mr::Feedback{.clicked = {2}, .purchased = {2}}) == mr::LearnStatus::learned);
}
