// Every model's recommend path, inside an Agent with its default explorer and with Greedy, does
// not allocate once warmed up: counted by replacing the global operator new. Built as its own
// executable (marl_rec_alloc_tests), and not under the sanitizers, which replace operator new
// themselves.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/independent.hpp"
#include "marl_rec/coord/slot_auction.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/softmax.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/explore/ucb.hpp"
#include "marl_rec/models/ease.hpp"
#include "marl_rec/models/item_knn.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/models/mlp_scorer.hpp"
#include "marl_rec/models/tabular_q.hpp"
#include "marl_rec/objective/calibration.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/exposure_fairness.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/novelty.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "marl_rec/objective/revenue.hpp"
#include "marl_rec/simd/aligned_vector.hpp"

namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

// GCC pairs malloc'd memory with free, not with operator delete, and warns where the replaced
// operator delete frees what the replaced operator new malloc'd: here that pairing is the point.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  const std::size_t align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

namespace mr = marl_rec;

/// A small world: 40 items of 6 features, 16 users of 5 features, histories of 3 items.
struct World {
  World() {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& x : items) x = normal(rng);
    for (float& x : users) x = normal(rng);
    for (std::size_t u = 0; u < 16; ++u) {
      for (std::size_t j = 0; j < 3; ++j) histories[u * 3 + j] = (u * 7 + j * 5) % 40;
    }
    for (std::size_t u = 0; u < 16; ++u) {
      for (std::size_t j = 0; j < 6; ++j) {
        train.rows.push_back({.user = train.users.intern(mr::numbered_id("u", u)),
                              .item = train.items.intern(mr::numbered_id("i", (u * 3 + j * 7) % 40)),
                              .rating = 1.0f, .timestamp = 0.0, .source_row = train.rows.size()});
      }
    }
    for (std::size_t i = 0; i < 40; ++i) train.items.intern(mr::numbered_id("i", i));
  }
  mr::Context context(std::size_t t) const {
    const std::size_t u = t % 16;
    return {.features = std::span<const float>(users.data() + u * 5, 5),
            .items = mr::MatrixView(std::span<const float>(items), 40, 6),
            .history = std::span<const std::size_t>(histories.data() + u * 3, 3),
            .user = u,
            .state = t % 4};
  }
  mr::AlignedVector<float> items = mr::AlignedVector<float>(40 * 6);
  mr::AlignedVector<float> users = mr::AlignedVector<float>(16 * 5);
  std::vector<std::size_t> histories = std::vector<std::size_t>(16 * 3);
  mr::Interactions train;
};

/// Allocations made by 200 recommend + learn rounds after 2 × max_pending warm-up rounds.
template <class AgentType>
std::size_t allocations_in_recommend(AgentType& agent, const World& world) {
  mr::Decision decision;
  const mr::Feedback click{.clicked = {0}};
  std::size_t t = 0;
  for (; t < 2 * agent.config().max_pending; ++t) {
    agent.recommend(world.context(t), mr::Candidates::all(40), 3, decision);
    agent.learn(decision.id, click);
  }
  std::size_t counted = 0;
  for (std::size_t round = 0; round < 200; ++round, ++t) {
    const std::size_t before = allocations.load();
    agent.recommend(world.context(t), mr::Candidates::all(40), 3, decision);
    counted += allocations.load() - before;
    agent.learn(decision.id, click);  // learning may allocate (e.g. replay, a new item)
  }
  return counted;
}

template <class Model, class... Explorers>
void check_model(const char* name, const Model& model, const World& world, Explorers... explorers) {
  const auto one = [&](auto explorer) {
    mr::Agent<Model, decltype(explorer)> agent(model, explorer, {.max_pending = 32});
    CAPTURE(name);
    CAPTURE(explorer.name());
    CHECK(allocations_in_recommend(agent, world) == 0);
  };
  (one(explorers), ...);
}

}  // namespace

TEST_CASE("the counting allocator counts") {
  const std::size_t before = allocations.load();
  std::vector<int>* v = new std::vector<int>(100);
  CHECK(allocations.load() - before == 2);
  delete v;
}

TEST_CASE("recommend does not allocate after warm-up, for every model and explorer") {
  const World world;
  const mr::Greedy greedy;
  const mr::EpsilonGreedy egreedy({.epsilon = 0.2});
  const mr::Softmax softmax({.temperature = 0.5});
  using F = mr::FeatureMap;
  check_model("linucb disjoint", mr::LinUcb({.mode = mr::LinUcbConfig::Mode::disjoint, .features = F::context}),
              world, greedy, egreedy, softmax, mr::Ucb{});
  check_model("linucb shared cross", mr::LinUcb({.mode = mr::LinUcbConfig::Mode::shared, .features = F::cross}),
              world, greedy, mr::Ucb{});
  check_model("linthompson", mr::LinThompson({.features = F::concat}), world, greedy, egreedy,
              mr::Thompson({.propensity_draws = 20}));
  check_model("linear_q", mr::LinearQ({.features = F::cross, .replay_capacity = 64}), world, greedy,
              egreedy, softmax);
  check_model("tabular_q", mr::TabularQ({.states = 4, .actions = 40}), world, greedy, egreedy, softmax);
  check_model("mlp", mr::MlpScorer({.hidden = {16, 8}}), world, greedy, egreedy, softmax);
  mr::MatrixFactorization mf({.factors = 8, .epochs = 2});
  mf.fit(world.train);
  check_model("ials", mf, world, greedy, egreedy, softmax);
  mr::Ease ease({.lambda = 10.0f});
  ease.fit(world.train);
  check_model("ease", ease, world, greedy, egreedy);
  mr::ItemKnn knn({.neighbours = 10});
  knn.fit(world.train);
  check_model("itemknn", knn, world, greedy, egreedy);
}

namespace {

// The world's 40 items as a catalog, with categories, providers, prices and popularity.
mr::Catalog catalog_of(const World& world) {
  mr::Catalog catalog(6);
  for (std::size_t i = 0; i < 40; ++i) {
    catalog.add(mr::numbered_id("i", i), std::span<const float>(world.items).subspan(i * 6, 6),
                {.price = static_cast<float>(1 + i % 7),
                 .category = mr::numbered_id("c", i % 5),
                 .provider = mr::numbered_id("p", i % 4),
                 .popularity = static_cast<float>(i % 9)});
  }
  return catalog;
}

using AllObjectives = mr::MultiObjective<mr::Weighted<mr::Relevance>, mr::Weighted<mr::Revenue>,
                                         mr::Weighted<mr::Diversity>, mr::Weighted<mr::Novelty>,
                                         mr::Weighted<mr::ExposureFairness>, mr::Weighted<mr::Calibration>>;

}  // namespace

TEST_CASE("MultiObjective::rank and rank_pareto do not allocate after warm-up (all six objectives)") {
  const World world;
  const mr::Catalog catalog = catalog_of(world);
  AllObjectives objectives;
  std::vector<std::size_t> items(40);
  std::vector<float> relevance(40);
  for (std::size_t i = 0; i < 40; ++i) {
    items[i] = i;
    relevance[i] = static_cast<float>((i * 7) % 11);
  }
  mr::RankedList list;
  mr::ParetoSummary summary;
  std::size_t counted = 0;
  for (std::size_t round = 0; round < 50; ++round) {
    const mr::Context context = world.context(round);
    const mr::RankingInput input{.items = items, .relevance = relevance, .catalog = &catalog,
                                 .history = context.history};
    const std::size_t before = allocations.load();
    objectives.rank(input, 8, list);
    objectives.record(std::span<const std::size_t>(list.positions), catalog);
    objectives.rank_pareto(input, 8, list, &summary);
    if (round >= 2) counted += allocations.load() - before;
  }
  CHECK(counted == 0);
}

TEST_CASE("Coordinator::recommend into a reused Slate does not allocate after warm-up") {
  const World world;
  const mr::Catalog catalog = catalog_of(world);
  using Lin = mr::Agent<mr::LinearQ, mr::Greedy>;
  const auto agent = [] {
    return Lin(mr::LinearQ({.features = mr::FeatureMap::cross, .gamma = 0.0f, .history_in_state = false}),
               mr::Greedy{}, {.max_pending = 8});
  };
  std::vector<std::size_t> pool[3];
  for (std::size_t i = 0; i < 40; ++i) pool[i % 3].push_back(i);
  const std::vector<mr::Candidates> pools{mr::Candidates(pool[0]), mr::Candidates(pool[1]), mr::Candidates(pool[2])};
  const auto measure = [&](auto& page) {
    AllObjectives objectives;
    mr::Slate slate;
    std::size_t counted = 0;
    for (std::size_t t = 0; t < 60; ++t) {
      const std::size_t before = allocations.load();
      page.recommend(world.context(t), pools, 6, objectives, slate);
      if (t >= 20) counted += allocations.load() - before;
      page.learn(slate.id, mr::Feedback{.clicked = {t % 6}});
    }
    return counted;
  };
  mr::Coordinator auction{catalog, mr::SlotAuction({.quotas = {6, 6, 2}}), mr::CoordinatorConfig{.max_pending = 8},
                          agent(), agent(), agent()};
  CHECK(measure(auction) == 0);
  mr::Coordinator independent{catalog, mr::Independent{}, mr::CoordinatorConfig{.max_pending = 8}, agent(), agent(),
                              agent()};
  CHECK(measure(independent) == 0);
}
