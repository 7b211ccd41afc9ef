#include <doctest/doctest.h>

#include <cstddef>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "support/errors.hpp"
#include "support/toy_model.hpp"

namespace mr = marl_rec;
using mr::test::ToyModel;

namespace {

ToyModel toy(std::size_t n) { return mr::test::ranked_toy(n); }  // best: n-1

// A clock the test moves by hand.
struct ManualClock {
  double now = 0.0;
};

using GreedyAgent = mr::Agent<ToyModel, mr::Greedy>;

GreedyAgent make_agent(mr::AgentConfig config, ManualClock& clock, std::size_t items = 6) {
  GreedyAgent agent(toy(items), mr::Greedy{}, config);
  agent.set_clock([&clock] { return clock.now; });
  return agent;
}

}  // namespace

static_assert(std::is_same_v<mr::Agent<ToyModel>::explorer_type, mr::Thompson>);

TEST_CASE("Agent: recommend issues increasing ids, learn turns events into per-item rewards") {
  ManualClock clock;
  GreedyAgent agent = make_agent({.rewards = {.none = -0.1, .click = 1.0, .purchase = 4.0}}, clock);
  std::vector<float> features{1.0f, 2.0f};
  const std::vector<std::size_t> history{3, 1};
  const mr::Context context{.features = features, .history = history, .user = 7, .state = 2};
  const mr::Decision d1 = agent.recommend(context, mr::Candidates::all(6), 3);
  CHECK(d1.id == 1);
  CHECK(d1.items == std::vector<std::size_t>{5, 4, 3});
  const mr::Decision d2 = agent.recommend(context, mr::Candidates::all(6), 2);
  CHECK(d2.id == 2);
  CHECK(agent.pending() == 2);

  features[0] = 99.0f;  // the caller reuses its buffer: the agent kept a copy
  const mr::Feedback feedback{.clicked = {0, 2}, .purchased = {2}, .rewards = {{1, 0.5}, {1, 0.25}}};
  CHECK(agent.learn(1, feedback) == mr::LearnStatus::learned);
  const auto& u = agent.model().updates;
  REQUIRE(u.size() == 3);
  CHECK(u[0].item == 5);
  CHECK(u[0].reward == doctest::Approx(1.0));
  CHECK(u[1].item == 4);
  CHECK(u[1].reward == doctest::Approx(-0.1 + 0.75));  // no event, explicit rewards add up
  CHECK(u[2].item == 3);
  CHECK(u[2].reward == doctest::Approx(5.0));  // click + purchase
  for (const auto& x : u) {
    CHECK(x.features == std::vector<float>{1.0f, 2.0f});
    CHECK(x.history == history);
    CHECK(x.user == 7);
    CHECK(x.state == 2);
    CHECK_FALSE(x.bootstrapped);
  }
  CHECK(agent.counters().decisions == 2);
  CHECK(agent.counters().feedback == 1);
  CHECK(agent.counters().updates == 3);
  CHECK(agent.pending() == 1);
}

TEST_CASE("Agent: feedback out of order, twice, late, or never") {
  ManualClock clock;
  GreedyAgent agent = make_agent({.max_pending = 8, .time_to_live = 10.0}, clock);
  const mr::Context context{};
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(agent.recommend(context, mr::Candidates::all(6), 1).id);
    clock.now += 1.0;
  }
  // Out of order: 3 then 1.
  CHECK(agent.learn(ids[2], {.clicked = {0}}) == mr::LearnStatus::learned);
  CHECK(agent.learn(ids[0], {}) == mr::LearnStatus::learned);
  // Twice: ignored, counted.
  CHECK(agent.learn(ids[2], {.clicked = {0}}) == mr::LearnStatus::duplicate);
  CHECK(agent.counters().duplicates == 1);
  CHECK(agent.model().updates.size() == 2);
  // Late: decision 2 passes its time-to-live (issued at t = 1, expires after t = 11).
  clock.now = 11.5;
  CHECK(agent.learn(ids[1], {.clicked = {0}}) == mr::LearnStatus::expired);
  CHECK(agent.counters().late == 1);
  CHECK(agent.counters().expired == 1);
  CHECK(agent.counters().defaulted == 0);  // no default reward configured: nothing learned
  CHECK(agent.model().updates.size() == 2);
  CHECK(agent.pending() == 0);
}

TEST_CASE("Agent: decisions that never get feedback teach the default reward, once") {
  ManualClock clock;
  GreedyAgent agent = make_agent({.max_pending = 4, .time_to_live = 5.0, .default_reward = -0.5}, clock);
  const mr::Context context{};
  const auto first = agent.recommend(context, mr::Candidates::all(6), 2).id;
  clock.now = 6.0;
  agent.expire_due();
  REQUIRE(agent.model().updates.size() == 2);
  CHECK(agent.model().updates[0].reward == doctest::Approx(-0.5));
  CHECK(agent.counters().defaulted == 1);
  agent.expire_due();  // once only
  CHECK(agent.model().updates.size() == 2);
  CHECK(agent.learn(first, {.clicked = {0}}) == mr::LearnStatus::expired);

  // Capacity: the fifth open decision evicts the oldest open one (expired, default reward).
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(agent.recommend(context, mr::Candidates::all(6), 1).id);
  CHECK(agent.counters().expired == 2);
  CHECK(agent.counters().defaulted == 2);
  CHECK(agent.pending() == 4);
  CHECK(agent.learn(ids[0], {}) == mr::LearnStatus::expired);
  CHECK(agent.learn(ids[4], {}) == mr::LearnStatus::learned);
}

TEST_CASE("Agent: bad feedback is an error and teaches nothing") {
  ManualClock clock;
  GreedyAgent agent = make_agent({}, clock);
  const auto id = agent.recommend(mr::Context{}, mr::Candidates::all(6), 2).id;
  CHECK_THROWS_WITH_AS(agent.learn(0, {}), "Agent::learn: decision id 0 was never issued by this agent (ids 1..1)", mr::Error);
  CHECK_THROWS_WITH_AS(agent.learn(2, {}), "Agent::learn: decision id 2 was never issued by this agent (ids 1..1)", mr::Error);
  CHECK_THROWS_WITH_AS(agent.learn(id, {.clicked = {0, 2}}),
                       "Agent::learn: decision 1 showed 2 items; clicked position 2 is not one of them",
                       mr::Error);
  CHECK_THROWS_WITH_AS(agent.learn(id, {.rewards = {{1, std::nan("")}}}),
                       "Agent::learn: decision 1: the reward for position 1 is not finite", mr::Error);
  CHECK(agent.model().updates.empty());
  CHECK(agent.learn(id, {.clicked = {1}}) == mr::LearnStatus::learned);  // still open after errors
  CHECK_THROWS_AS(GreedyAgent(toy(2), {}, {.max_pending = 0}), mr::Error);
  CHECK_THROWS_AS(GreedyAgent(toy(2), {}, {.time_to_live = 0.0}), mr::Error);
  CHECK_THROWS_AS(GreedyAgent(toy(2), {}, {.default_reward = std::nan("")}), mr::Error);
  CHECK_THROWS_AS(agent.recommend(mr::Context{}, 2), mr::Error);  // no item rows, no candidates
}

TEST_CASE("Agent: a sequential model learns from the transition to the next decision") {
  ManualClock clock;
  mr::Agent<ToyModel, mr::Greedy> agent(toy(6), {}, {});
  agent.set_clock([&clock] { return clock.now; });
  std::vector<float> s1{1.0f}, s2{2.0f};
  const std::vector<std::size_t> next_list{0, 1, 2};
  const auto a = agent.recommend(mr::Context{.features = s1}, mr::Candidates::all(6), 1).id;
  const auto b = agent.recommend(mr::Context{.features = s2}, mr::Candidates(next_list), 1).id;
  CHECK(agent.learn(a, {.clicked = {0}}, b) == mr::LearnStatus::learned);
  REQUIRE(agent.model().updates.size() == 1);
  const auto& u = agent.model().updates[0];
  CHECK(u.bootstrapped);
  CHECK(u.features == s1);
  CHECK(u.next_features == s2);
  CHECK(u.next_candidates == 3);
  CHECK_THROWS_AS(agent.learn(b, {}, 99), mr::Error);
}

TEST_CASE("Agent: the candidates are copied and the exclusion is honoured") {
  ManualClock clock;
  GreedyAgent agent = make_agent({}, clock);
  std::vector<std::size_t> list{0, 2, 5};
  mr::ItemBitset excluded;
  excluded.insert(5);
  mr::Decision d;
  agent.recommend(mr::Context{}, mr::Candidates(list), 2, d, excluded.view());
  CHECK(d.items == std::vector<std::size_t>{2, 0});
  CHECK(d.propensities == std::vector<float>{1, 1});
  list.assign({1, 1, 1});
  CHECK(agent.learn(d.id, {.clicked = {1}}) == mr::LearnStatus::learned);
  CHECK(agent.model().updates[1].item == 0);
}

TEST_CASE("Agent: rewards that overflow when summed are an error, a clock going back changes nothing") {
  ManualClock clock;
  GreedyAgent agent = make_agent({.time_to_live = 10.0}, clock);
  const auto id = agent.recommend(mr::Context{}, mr::Candidates::all(6), 2).id;
  const double big = std::numeric_limits<double>::max();
  CHECK_THROWS_WITH_AS(agent.learn(id, {.rewards = {{1, big}, {1, big}}}),
                       "Agent::learn: decision 1: the reward for position 1 is not finite", mr::Error);
  CHECK(agent.model().updates.empty());
  CHECK(agent.learn(id, {}) == mr::LearnStatus::learned);

  // Issued at t = 100, then the clock jumps back to 0: the agent keeps time at 100, so the second
  // decision expires 10 s after t = 100 whatever the clock says.
  clock.now = 100.0;
  agent.recommend(mr::Context{}, mr::Candidates::all(6), 1);
  clock.now = 0.0;
  const auto late = agent.recommend(mr::Context{}, mr::Candidates::all(6), 1).id;
  clock.now = 105.0;
  CHECK(agent.pending() == 2);
  clock.now = 110.0;
  CHECK(agent.learn(late, {}) == mr::LearnStatus::expired);
  clock.now = std::nan("");
  CHECK_THROWS_WITH_AS(agent.recommend(mr::Context{}, mr::Candidates::all(6), 1),
                       "Agent: the clock returned NaN", mr::Error);
}

TEST_CASE("Agent: a decision the explorer cannot make gets no id") {
  ManualClock clock;
  GreedyAgent agent = make_agent({}, clock);
  const std::vector<std::size_t> bad{0, 99};
  mr::Decision d;
  d.id = 42;
  CHECK_THROWS_AS(agent.recommend(mr::Context{}, mr::Candidates(bad), 1, d), mr::Error);
  CHECK(d.id == 0);
  CHECK(agent.counters().decisions == 0);
  CHECK(agent.recommend(mr::Context{}, mr::Candidates::all(6), 1).id == 1);
}

TEST_CASE("Agent: the README's example runs, and the agent learns what is clicked") {
  namespace mr = marl_rec;
  mr::Catalog catalog(2);
  catalog.add("boots", std::vector<float>{1.0f, 0.0f});
  catalog.add("tent", std::vector<float>{0.0f, 1.0f});
  catalog.add("stove", std::vector<float>{0.7f, 0.7f});
  const std::vector<float> user{1.0f, 0.5f};
  mr::Agent<mr::LinUcb> agent{mr::LinUcb{{.features = mr::FeatureMap::cross}}};
  for (int t = 0; t < 200; ++t) {
    mr::Decision d = agent.recommend({.features = user, .items = catalog.embeddings()}, /*k=*/1);
    // This user only ever clicks the tent.
    agent.learn(d.id, d.items[0] == 1 ? mr::Feedback{.clicked = {0}} : mr::Feedback{});
  }
  std::vector<float> scores(3);
  agent.model().score({.features = user, .items = catalog.embeddings()}, mr::Candidates::all(3), scores);
  CHECK(scores[1] > scores[0]);
  CHECK(scores[1] > scores[2]);
  CHECK(agent.counters().feedback == 200);
}

TEST_CASE("Agent::set_shown: only the positions shown are learned from, by their own numbers") {
  ManualClock clock;
  GreedyAgent agent = make_agent({.rewards = {.none = -0.5, .click = 1.0, .purchase = 2.0}}, clock);
  const mr::Decision d = agent.recommend(mr::Context{}, mr::Candidates::all(6), 4);  // 5 4 3 2
  const std::vector<std::size_t> shown{3, 1};
  agent.set_shown(d.id, shown);
  // Feedback names the decision's positions; 0 and 2 were proposed but not shown.
  CHECK_THROWS_WITH_AS(agent.learn(d.id, {.clicked = {0}}),
                       "Agent::learn: decision 1: clicked position 0 was not shown (set_shown)", mr::Error);
  CHECK_THROWS_WITH_AS(agent.learn(d.id, {.rewards = {{2, 1.0}}}),
                       "Agent::learn: decision 1: rewarded position 2 was not shown (set_shown)", mr::Error);
  CHECK(agent.model().updates.empty());
  CHECK(agent.learn(d.id, {.clicked = {3}}) == mr::LearnStatus::learned);
  const auto& u = agent.model().updates;
  REQUIRE(u.size() == 2);
  CHECK(u[0].item == 4);  // position 1
  CHECK(u[0].reward == doctest::Approx(-0.5));
  CHECK(u[1].item == 2);  // position 3, clicked
  CHECK(u[1].reward == doctest::Approx(1.0));
  CHECK(agent.counters().updates == 2);
}

TEST_CASE("Agent::set_shown: the default reward on expiry goes to the shown positions only") {
  ManualClock clock;
  GreedyAgent agent = make_agent({.time_to_live = 5.0, .default_reward = 0.25}, clock);
  const auto a = agent.recommend(mr::Context{}, mr::Candidates::all(6), 3).id;  // 5 4 3
  const auto b = agent.recommend(mr::Context{}, mr::Candidates::all(6), 3).id;
  agent.set_shown(a, std::vector<std::size_t>{2});
  agent.set_shown(b, std::vector<std::size_t>{});  // proposed, nothing shown
  clock.now = 6.0;
  agent.expire_due();
  const auto& u = agent.model().updates;
  REQUIRE(u.size() == 1);
  CHECK(u[0].item == 3);
  CHECK(u[0].reward == doctest::Approx(0.25));
  CHECK(agent.counters().expired == 2);
}

TEST_CASE("Agent::set_shown: bad positions or a closed decision are errors that change nothing") {
  ManualClock clock;
  GreedyAgent agent = make_agent({.max_pending = 2}, clock);
  const auto id = agent.recommend(mr::Context{}, mr::Candidates::all(6), 3).id;
  using V = std::vector<std::size_t>;
  CHECK_THROWS_WITH_AS(agent.set_shown(id, V{0, 3}),
                       "Agent::set_shown: decision 1 has 3 positions; position 3 is not one of them", mr::Error);
  CHECK_THROWS_WITH_AS(agent.set_shown(id, V{1, 0, 1}),
                       "Agent::set_shown: decision 1: position 1 is listed twice", mr::Error);
  CHECK_THROWS_WITH_AS(agent.set_shown(7, V{}),
                       "Agent::set_shown: decision id 7 was never issued by this agent (ids 1..1)", mr::Error);
  // Nothing was narrowed by the failed calls: every position can still be clicked.
  agent.set_shown(id, V{0, 2});
  CHECK_THROWS_WITH_AS(agent.set_shown(id, V{1}),
                       "Agent::set_shown: decision 1: position 1 was already hidden (a decision is narrowed, never widened)",
                       mr::Error);
  agent.set_shown(id, V{2});  // narrowed again
  CHECK_THROWS_AS(agent.learn(id, {.clicked = {0}}), mr::Error);
  CHECK(agent.learn(id, {.clicked = {2}}) == mr::LearnStatus::learned);
  CHECK(agent.model().updates.size() == 1);
  CHECK_THROWS_WITH_AS(agent.set_shown(id, V{}), "Agent::set_shown: decision 1 is not open (already answered)",
                       mr::Error);
  const auto second = agent.recommend(mr::Context{}, mr::Candidates::all(6), 1).id;
  agent.recommend(mr::Context{}, mr::Candidates::all(6), 1);
  agent.recommend(mr::Context{}, mr::Candidates::all(6), 1);  // evicts `second`
  CHECK_THROWS_WITH_AS(agent.set_shown(second, V{0}), "Agent::set_shown: decision 2 is not open (expired)",
                       mr::Error);
}

TEST_CASE("Agent::set_shown: a sequential model learns the transition for the shown positions only") {
  mr::Agent<ToyModel, mr::Greedy> agent(toy(6), {}, {});
  std::vector<float> s1{1.0f}, s2{2.0f};
  const auto a = agent.recommend(mr::Context{.features = s1}, mr::Candidates::all(6), 2).id;
  const auto b = agent.recommend(mr::Context{.features = s2}, mr::Candidates::all(6), 1).id;
  agent.set_shown(a, std::vector<std::size_t>{1});
  CHECK_THROWS_AS(agent.learn(a, {.clicked = {0}}, b), mr::Error);
  CHECK(agent.learn(a, {.clicked = {1}}, b) == mr::LearnStatus::learned);
  REQUIRE(agent.model().updates.size() == 1);
  CHECK(agent.model().updates[0].item == 4);
  CHECK(agent.model().updates[0].bootstrapped);
}

TEST_CASE("Agent::with_model changes the model between decisions, pending decisions still learn") {
  ManualClock clock;
  GreedyAgent agent = make_agent({}, clock);
  const std::vector<float> features{1.0f};
  const mr::Context context{.features = features};
  const mr::Decision before = agent.recommend(context, mr::Candidates::all(6), 1);
  const std::size_t best = before.items[0];
  // Make another item the best: the next decision follows the changed model.
  const std::size_t other = (best + 1) % 6;
  const float top = agent.with_model([&](ToyModel& m) {
    m.means[other] = m.means[best] + 1.0f;
    return m.means[other];
  });
  CHECK(agent.model().means[other] == top);
  const mr::Decision after = agent.recommend(context, mr::Candidates::all(6), 1);
  CHECK(after.items[0] == other);
  // The decision made before the change is still pending and is learned by the changed model.
  CHECK(agent.learn(before.id, mr::Feedback{.clicked = {0}}) == mr::LearnStatus::learned);
  REQUIRE(agent.model().updates.size() == 1);
  CHECK(agent.model().updates[0].item == best);
}
