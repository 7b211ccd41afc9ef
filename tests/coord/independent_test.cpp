#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <ratio>
#include <string>
#include <vector>

#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/independent.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "support/errors.hpp"
#include "support/toy_model.hpp"

namespace mr = marl_rec;
using mr::test::ToyModel;

namespace {

using ByRelevance = mr::MultiObjective<mr::Weighted<mr::Relevance>>;
using ToyAgent = mr::Agent<ToyModel, mr::Greedy>;

// Items 0..n-1, item i scoring i / 100 for every agent (higher is better).
ToyModel toy(std::size_t n) { return mr::test::ranked_toy(n, 100.0f); }

// Item i's vector points at (i mod 4) · 30 degrees.
mr::Catalog catalog_of(std::size_t n) {
  mr::Catalog catalog(2);
  for (std::size_t i = 0; i < n; ++i) {
    const double angle = static_cast<double>(i % 4) * 3.14159265358979 / 6.0;
    catalog.add(marl_rec::numbered_id("item", static_cast<std::size_t>(i)),
                std::vector<float>{static_cast<float>(std::cos(angle)), static_cast<float>(std::sin(angle))});
  }
  return catalog;
}

struct ThreePools {
  std::vector<std::size_t> a{0, 3, 6, 9, 12, 15, 18, 21};
  std::vector<std::size_t> b{1, 4, 7, 10, 13, 16, 19, 22};
  std::vector<std::size_t> c{2, 5, 8, 11, 14, 17, 20, 23};
  std::vector<mr::Candidates> pools{mr::Candidates(a), mr::Candidates(b), mr::Candidates(c)};
};

}  // namespace

TEST_CASE("Independent: round-robin slots, each agent filling its own with its own best items") {
  const mr::Catalog catalog = catalog_of(24);
  mr::Coordinator page{catalog, mr::Independent{}, ToyAgent(toy(24)), ToyAgent(toy(24)), ToyAgent(toy(24))};
  const ThreePools pools;
  ByRelevance objectives;
  const mr::Slate slate = page.recommend(mr::Context{}, pools.pools, 8, objectives);
  CHECK(slate.agents == std::vector<std::size_t>{0, 1, 2, 0, 1, 2, 0, 1});
  // Agent 0: 3 slots from 6 proposals (21 18 15 12 9 6), its best 3 in order.
  CHECK(slate.items == std::vector<std::size_t>{21, 22, 23, 18, 19, 20, 15, 16});
  // Proposed 2 × its slots each: 6, 6 and 4.
  CHECK(page.agent<0>().counters().decisions == 1);
  REQUIRE(slate.explanation.size() == 8);
  for (std::size_t s = 0; s < 8; ++s) CHECK(slate.explanation.of(s)[0] == slate.scores[s]);

  // Credit is local: a click on slot 4 (agent 1's second item) teaches agent 1 only.
  CHECK(page.learn(slate.id, {.clicked = {4}}) == mr::LearnStatus::learned);
  const auto& u1 = page.agent<1>().model().updates;
  REQUIRE(u1.size() == 3);  // its 3 shown items, not the 3 proposed and not shown
  CHECK(u1[1].item == 19);
  CHECK(u1[1].reward == 1.0);
  CHECK(u1[0].reward == 0.0);
  for (const auto& u : page.agent<0>().model().updates) CHECK(u.reward == 0.0);
}

TEST_CASE("Independent: a fixed layout, a proposal count, re-ranking within each agent's proposals only") {
  const mr::Catalog catalog = catalog_of(24);
  // Agent 2 gets slots 0 and 3, agent 0 slots 1 and 2; agent 1 none (not asked).
  mr::Coordinator page{catalog, mr::Independent({.layout = {2, 0, 0, 2, 1}, .proposals = 3}), ToyAgent(toy(24)),
                       ToyAgent(toy(24)), ToyAgent(toy(24))};
  const ThreePools pools;
  // Diversity at a high weight: each agent's second item is the most unlike its first among its
  // own 3 proposals — the other agents' items are never compared with.
  using Mmr = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<1, 10>>,
                                 mr::Weighted<mr::Diversity, std::ratio<9, 10>>>;
  Mmr objectives;
  const mr::Slate slate = page.recommend(mr::Context{}, pools.pools, 4, objectives);
  CHECK(slate.agents == std::vector<std::size_t>{2, 0, 0, 2});
  CHECK(page.agent<1>().counters().decisions == 0);
  // Agent 0 proposes 21 18 15 (at 30, 60 and 90 degrees): after 21, 15 is the least similar.
  CHECK(slate.items[1] == 21);
  CHECK(slate.items[2] == 15);
  // Agent 2 proposes 23 20 17 (90, 0 and 30 degrees): after 23, 20.
  CHECK(slate.items[0] == 23);
  CHECK(slate.items[3] == 20);
}

TEST_CASE("Independent: no item twice, a shorter page when an agent runs out, and layout errors") {
  const mr::Catalog catalog = catalog_of(24);
  mr::Coordinator page{catalog, mr::Independent{}, ToyAgent(toy(24)), ToyAgent(toy(24))};
  ByRelevance objectives;
  // One pool for both agents: agent 1 proposes the same items as agent 0 and must skip them.
  const std::vector<std::size_t> few{3, 5, 7, 9, 11};
  const mr::Slate slate = page.recommend(mr::Context{}, mr::Candidates(few), 6, objectives);
  // Agent 0 takes 11 9 7 (its 3 slots); agent 1 proposes 11 9 7 5 3 and gets what is left: 5 3.
  CHECK(slate.items == std::vector<std::size_t>{11, 5, 9, 3, 7});
  CHECK(slate.agents == std::vector<std::size_t>{0, 1, 0, 1, 0});
  // Slots 1 and 3 of agent 1 came from positions 3 and 4 of its decision.
  CHECK(page.learn(slate.id, {.clicked = {3}}) == mr::LearnStatus::learned);
  REQUIRE(page.agent<1>().model().updates.size() == 2);
  CHECK(page.agent<1>().model().updates[1].item == 3);
  CHECK(page.agent<1>().model().updates[1].reward == 1.0);

  mr::Coordinator short_layout{catalog, mr::Independent({.layout = {0, 1}}), ToyAgent(toy(24)), ToyAgent(toy(24))};
  CHECK(mr::test::error_of([&] { short_layout.recommend(mr::Context{}, mr::Candidates::all(24), 3, objectives); }) ==
        "Independent: the layout has 2 slots, the page 3");
  mr::Coordinator bad_agent{catalog, mr::Independent({.layout = {0, 2}}), ToyAgent(toy(24)), ToyAgent(toy(24))};
  CHECK(mr::test::error_of([&] { bad_agent.recommend(mr::Context{}, mr::Candidates::all(24), 2, objectives); }) ==
        "Independent: the layout gives slot 1 to agent 2, but there are 2 agents");
  CHECK(bad_agent.counters().pages == 0);
  CHECK(bad_agent.agent<0>().counters().decisions == 0);
}
