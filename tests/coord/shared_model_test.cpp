#include <doctest/doctest.h>

#include <cstddef>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/independent.hpp"
#include "marl_rec/coord/shared_model.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/explore/ucb.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "support/errors.hpp"
#include "support/toy_model.hpp"

namespace mr = marl_rec;
using mr::test::ToyModel;

namespace {

using ByRelevance = mr::MultiObjective<mr::Weighted<mr::Relevance>>;

ToyModel toy(std::size_t n) { return mr::test::ranked_toy(n, 100.0f); }

// Six items in 3 dimensions and a user, for the linear models.
struct Small {
  std::vector<float> items{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1};
  std::vector<float> user{0.5f, -1.0f, 2.0f};
  mr::Context context() const {
    return {.features = user, .items = mr::MatrixView(std::span<const float>(items), 6, 3)};
  }
};

}  // namespace

static_assert(mr::SequentialModel<mr::Shared<ToyModel>>);
static_assert(mr::UncertainModel<mr::Shared<ToyModel>>);
static_assert(mr::SamplingModel<mr::Shared<ToyModel>>);
static_assert(mr::UncertainModel<mr::Shared<mr::LinUcb>>);
static_assert(!mr::SamplingModel<mr::Shared<mr::LinUcb>>);
static_assert(mr::SamplingModel<mr::Shared<mr::LinThompson>>);
static_assert(!mr::UncertainModel<mr::Shared<mr::LinThompson>>);
static_assert(mr::SequentialModel<mr::Shared<mr::LinearQ>>);
static_assert(!mr::SequentialModel<mr::Shared<mr::LinUcb>>);
// The default explorer follows the shared model's abilities.
static_assert(std::is_same_v<mr::Agent<mr::Shared<mr::LinUcb>>::explorer_type, mr::Ucb>);
static_assert(std::is_same_v<mr::Agent<mr::Shared<mr::LinThompson>>::explorer_type, mr::Thompson>);

TEST_CASE("Shared: two agents over one model, an update through one is seen by the other") {
  const Small world;
  const mr::Shared<mr::LinUcb> model(mr::LinUcb({.features = mr::FeatureMap::cross, .alpha = 0.5f}));
  mr::Agent<mr::Shared<mr::LinUcb>> first(model);
  mr::Agent<mr::Shared<mr::LinUcb>> second(model);
  CHECK(model.owners() == 3);
  CHECK(first.model().shares_with(second.model()));
  CHECK(first.model().name() == "linucb");
  std::vector<float> before(6), after(6);
  second.model().score(world.context(), mr::Candidates::all(6), before);
  const mr::Decision d = first.recommend(world.context(), 1);
  first.learn(d.id, {.clicked = {0}});
  second.model().score(world.context(), mr::Candidates::all(6), after);
  CHECK(after[d.items[0]] > before[d.items[0]]);  // the second agent sees the first one's lesson
  // An independent copy does not share.
  const mr::Shared<mr::LinUcb> copy(mr::LinUcb(model.get()));
  CHECK_FALSE(copy.shares_with(model));
  CHECK(mr::test::error_of([] { mr::Shared<mr::LinUcb>(std::shared_ptr<mr::LinUcb>{}); }) ==
        "Shared: the model pointer is null");
}

TEST_CASE("Shared: save and load go through the shared model, for every handle") {
  const Small world;
  mr::Shared<mr::LinearQ> a(mr::LinearQ({.features = mr::FeatureMap::cross, .alpha = 0.1f, .gamma = 0.0f,
                                         .history_in_state = false}));
  const mr::Shared<mr::LinearQ> b(a.handle());
  for (int t = 0; t < 20; ++t) a.update(world.context(), static_cast<std::size_t>(t % 6), t % 3 == 0 ? 1.0 : 0.0);
  std::ostringstream saved;
  b.save(saved);
  const std::string bytes = saved.str();
  // A handle's stream is the model's own: it loads into a plain LinearQ, bit-identical scores.
  mr::LinearQ plain;
  std::istringstream in(bytes);
  plain.load(in);
  std::vector<float> expected(6), got(6);
  a.score(world.context(), mr::Candidates::all(6), expected);
  plain.score(world.context(), mr::Candidates::all(6), got);
  CHECK(got == expected);
  // Loading through one handle changes the model for all of them.
  mr::Shared<mr::LinearQ> fresh(mr::LinearQ{});
  const mr::Shared<mr::LinearQ> other(fresh.handle());
  std::istringstream again(bytes);
  fresh.load(again);
  other.score(world.context(), mr::Candidates::all(6), got);
  CHECK(got == expected);
  // A truncated stream is an Error and changes nothing.
  std::istringstream truncated(bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_AS(fresh.load(truncated), mr::Error);
  other.score(world.context(), mr::Candidates::all(6), got);
  CHECK(got == expected);
  // Another model's stream too.
  std::ostringstream ucb;
  mr::LinUcb({.features = mr::FeatureMap::cross}, 3, 3).save(ucb);
  std::istringstream wrong(ucb.str());
  CHECK_THROWS_AS(fresh.load(wrong), mr::Error);
}

TEST_CASE("make_shared_agents and SharedModel: one model, the Independent page, every agent's lessons shared") {
  mr::Catalog catalog(1);
  for (int i = 0; i < 24; ++i) catalog.add(marl_rec::numbered_id("item", static_cast<std::size_t>(i)), std::vector<float>{1.0f});
  auto agents = mr::make_shared_agents(toy(24), {}, mr::Greedy{}, mr::Greedy{}, mr::Greedy{});
  static_assert(std::is_same_v<decltype(agents), std::tuple<mr::Agent<mr::Shared<ToyModel>, mr::Greedy>,
                                                            mr::Agent<mr::Shared<ToyModel>, mr::Greedy>,
                                                            mr::Agent<mr::Shared<ToyModel>, mr::Greedy>>>);
  CHECK(std::get<0>(agents).model().owners() == 3);
  mr::Coordinator shared{catalog, mr::SharedModel{}, std::move(agents)};
  mr::Coordinator independent{catalog, mr::Independent{}, mr::Agent<ToyModel, mr::Greedy>(toy(24)),
                              mr::Agent<ToyModel, mr::Greedy>(toy(24)), mr::Agent<ToyModel, mr::Greedy>(toy(24))};
  std::vector<std::size_t> a, b, c;
  for (std::size_t i = 0; i < 24; ++i) (i % 3 == 0 ? a : i % 3 == 1 ? b : c).push_back(i);
  const std::vector<mr::Candidates> pools{mr::Candidates(a), mr::Candidates(b), mr::Candidates(c)};
  ByRelevance objectives;
  const mr::Slate one = shared.recommend(mr::Context{}, pools, 8, objectives);
  const mr::Slate two = independent.recommend(mr::Context{}, pools, 8, objectives);
  // Same models, same layout: the same page. What differs is only who learns from what.
  CHECK(one.items == two.items);
  CHECK(one.agents == two.agents);
  CHECK(shared.learn(one.id, {.clicked = {0}}) == mr::LearnStatus::learned);
  independent.learn(two.id, {.clicked = {0}});
  // Every agent's lessons went into the one model: each agent sees all 8.
  CHECK(shared.agent<2>().model().get().updates.size() == 8);
  CHECK(independent.agent<2>().model().updates.size() == 2);
  CHECK(shared.agent<0>().counters().updates == 3);
}

TEST_CASE("SharedModel: agents that do not share one model are rejected") {
  mr::Catalog catalog(1);
  for (int i = 0; i < 6; ++i) catalog.add(marl_rec::numbered_id("item", static_cast<std::size_t>(i)), std::vector<float>{1.0f});
  using SharedAgent = mr::Agent<mr::Shared<ToyModel>, mr::Greedy>;
  mr::Coordinator apart{catalog, mr::SharedModel{}, SharedAgent(mr::Shared<ToyModel>(toy(6))),
                        SharedAgent(mr::Shared<ToyModel>(toy(6)))};
  ByRelevance objectives;
  CHECK(mr::test::error_of([&] { apart.recommend(mr::Context{}, mr::Candidates::all(6), 4, objectives); }) ==
        "SharedModel: agent 1's model is not the one agent 0 holds");
  CHECK(apart.counters().pages == 0);
  // Not Shared at all, or Shared models of different types: not a policy for those agents.
  static_assert(!mr::CoordinationPolicy<mr::SharedModel, mr::Agent<ToyModel, mr::Greedy>>);
  static_assert(!mr::CoordinationPolicy<mr::SharedModel, SharedAgent, mr::Agent<mr::Shared<mr::LinUcb>, mr::Greedy>>);
  static_assert(mr::CoordinationPolicy<mr::SharedModel, SharedAgent, mr::Agent<mr::Shared<ToyModel>, mr::EpsilonGreedy>>);
}
