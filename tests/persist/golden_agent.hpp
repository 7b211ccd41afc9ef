// Test support: golden-file recipes of an explorer (epsilon_greedy), an agent with pending
// decisions and a coordinator (see golden_models.hpp for Recipe). The probes are what the
// loaded object does next: its next decisions' items, scores and propensities, the status of
// feedback on decisions made before the save, and its counters. The saved objects run on a
// clock that continues where it stopped; the loaded ones on a clock far later (the time between
// save and load does not count), over the recipe's item matrix passed to load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <ostream>
#include <span>
#include <sstream>
#include <string_view>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/slot_auction.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/softmax.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/explore/ucb.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "persist/golden_models.hpp"

namespace marl_rec::test::golden {

namespace agent_recipes {

/// A model with fixed scores (item i scores means[i]), for probing an explorer alone.
struct FixedScores {
  std::vector<float> means;
  std::string_view name() const { return "fixed_scores"; }
  void score(const Context&, Candidates c, std::span<float> out) const {
    for (std::size_t i = 0; i < c.size(); ++i) out[i] = means[c[i]];
  }
  void update(const Context&, std::size_t, double) {}
  void save(std::ostream&) const {}
  void load(std::istream&) {}
  // For Ucb and Thompson: an upper bound a little above the mean, a draw around it.
  void upper_bound(const Context&, Candidates c, std::span<float> out) const {
    for (std::size_t i = 0; i < c.size(); ++i) out[i] = means[c[i]] + 0.05f * static_cast<float>(c[i] % 3);
  }
  void sample_scores(const Context&, Candidates c, std::span<float> out, Rng& rng) const {
    for (std::size_t i = 0; i < c.size(); ++i) out[i] = means[c[i]] + static_cast<float>(0.3 * rng.normal());
  }
};


inline void put_decision(std::vector<double>& out, const Decision& d) {
  out.push_back(static_cast<double>(d.id));
  for (std::size_t j = 0; j < d.size(); ++j) {
    out.push_back(static_cast<double>(d.items[j]));
    out.push_back(d.scores[j]);
    out.push_back(d.propensities[j]);
  }
}

inline void put_counters(std::vector<double>& out, const AgentCounters& c) {
  for (const std::uint64_t v : {c.decisions, c.feedback, c.updates, c.duplicates, c.late, c.expired, c.defaulted}) {
    out.push_back(static_cast<double>(v));
  }
}

// --- any explorer: its next choices over fixed scores ---

template <class E>
std::vector<double> probe_explorer(E& e) {
  FixedScores model;
  Rng rng(5);
  for (int i = 0; i < 9; ++i) model.means.push_back(static_cast<float>(rng.uniform()));
  std::vector<double> out;
  for (std::size_t t = 0; t < 6; ++t) {
    Decision d;
    e.choose(model, Context{}, Candidates::all(9), 1 + t % 3, NoExclusion{}, d);
    put_decision(out, d);
  }
  return out;
}

// --- epsilon_greedy: ε after some decisions, and the next choices ---

inline std::vector<double> probe_epsilon_greedy(EpsilonGreedy& e) {
  FixedScores model;
  Rng rng(3);
  for (int i = 0; i < 9; ++i) model.means.push_back(static_cast<float>(rng.uniform()));
  std::vector<double> out{e.epsilon()};
  for (std::size_t t = 0; t < 6; ++t) {
    Decision d;
    e.choose(model, Context{}, Candidates::all(9), 1 + t % 3, NoExclusion{}, d);
    put_decision(out, d);
  }
  out.push_back(e.epsilon());
  return out;
}

// --- agent: LinUcb + ε-greedy with open, answered, narrowed and expired decisions ---

using GoldenAgent = Agent<LinUcb, EpsilonGreedy>;

inline GoldenAgent make_agent() {
  return GoldenAgent(LinUcb({.alpha = 0.6f}), EpsilonGreedy({.epsilon = 0.4, .decay = 0.1, .seed = 23}),
                     {.max_pending = 6, .time_to_live = 5.0, .default_reward = -0.25,
                      .rewards = {.none = 0.0, .click = 1.0, .purchase = 2.5}});
}

inline std::vector<float> agent_features(std::size_t t) {
  return {0.5f * static_cast<float>(t % 4) - 0.75f, 1.0f - 0.25f * static_cast<float>(t % 3)};
}

// Ten decisions a second apart, with feedback on some; saved at second 10.
inline void run_agent(GoldenAgent& agent, double& now, MatrixView items) {
  for (std::size_t t = 0; t < 10; ++t) {
    now = static_cast<double>(t);
    const std::vector<float> x = agent_features(t);
    const Decision d = agent.recommend(Context{.features = x, .items = items}, 3);
    if (t == 6) agent.set_shown(d.id, std::vector<std::size_t>{2, 0});
    if (t % 3 == 1) agent.learn(d.id, {.clicked = {0}, .purchased = {1}});
  }
  now = 10.0;
}

// What the agent does next, `start` being its clock at the save (or the load).
inline std::vector<double> probe_agent(GoldenAgent& agent, double& now, double start, MatrixView items) {
  std::vector<double> out;
  put_counters(out, agent.counters());
  out.push_back(static_cast<double>(agent.next_id()));
  out.push_back(static_cast<double>(agent.pending()));
  now = start + 1.0;
  // Decisions 6 and 7 (the narrowed one) expire now, with their default reward.
  out.push_back(static_cast<double>(agent.learn(9, {.clicked = {1}})));  // open, 3 s old
  out.push_back(static_cast<double>(agent.learn(7, {.clicked = {0}})));  // expired: late
  out.push_back(static_cast<double>(agent.learn(8, {})));                // answered: duplicate
  for (std::size_t t = 0; t < 3; ++t) {
    now = start + 2.0 + static_cast<double>(t);
    const std::vector<float> x = agent_features(t + 5);
    put_decision(out, agent.recommend(Context{.features = x, .items = items}, 2));
  }
  put_counters(out, agent.counters());  // decision 10 expired on the way too
  out.push_back(static_cast<double>(agent.pending()));
  return out;
}

// --- coordinator: a slot auction between a LinUcb and a LinThompson agent ---

using Products = Agent<LinUcb, EpsilonGreedy>;
using Ads = Agent<LinThompson, Thompson>;
using GoldenPage = Coordinator<SlotAuction, Products, Ads>;
using ByRelevance = MultiObjective<Weighted<Relevance>>;

inline Catalog make_catalog() {
  Rng rng(41);
  Catalog catalog(3);
  for (std::size_t i = 0; i < 10; ++i) catalog.add(numbered_id("g", i), vec(rng, 3));
  return catalog;
}

inline GoldenPage make_page(const Catalog& catalog, double& now) {
  GoldenPage page(catalog, SlotAuction({.quotas = {2, 1}, .proposals = 3}), {.max_pending = 5},
                  Products(LinUcb({.alpha = 0.2f}), EpsilonGreedy({.epsilon = 0.25, .seed = 5}),
                           {.max_pending = 8, .time_to_live = 20.0}),
                  Ads(LinThompson{}, Thompson({.propensity_draws = 6, .seed = 6}), {.max_pending = 8}));
  page.with_agent<0>([&now](Products& a) { a.set_clock([&now] { return now; }); });
  page.with_agent<1>([&now](Ads& a) { a.set_clock([&now] { return now; }); });
  return page;
}

struct PagePools {
  std::vector<std::size_t> even{0, 2, 4, 6, 8};
  std::vector<std::size_t> odd{1, 3, 5, 7, 9};
  std::vector<Candidates> pools{Candidates(even), Candidates(odd)};
};

inline Slate serve(GoldenPage& page, const Catalog& catalog, std::size_t t) {
  const PagePools pools;
  ByRelevance ranking;
  const std::vector<float> x = agent_features(t);
  return page.recommend(Context{.features = x, .items = catalog.embeddings()}, pools.pools, 3, ranking);
}

inline void run_page(GoldenPage& page, const Catalog& catalog, double& now) {
  for (std::size_t t = 0; t < 7; ++t) {
    now = static_cast<double>(t);
    const Slate slate = serve(page, catalog, t);
    if (t % 2 == 0) page.learn(slate.id, {.clicked = {t % 3}});
  }
  now = 7.0;
}

inline std::vector<double> probe_page(GoldenPage& page, const Catalog& catalog, double& now, double start) {
  std::vector<double> out;
  const CoordinatorCounters& c = page.counters();
  for (const std::uint64_t v : {c.pages, c.feedback, c.duplicates, c.late, c.evicted}) out.push_back(static_cast<double>(v));
  now = start + 1.0;
  out.push_back(static_cast<double>(page.learn(7, {.clicked = {1}})));  // answered: duplicate
  out.push_back(static_cast<double>(page.learn(4, {.clicked = {0}})));  // open
  out.push_back(static_cast<double>(page.learn(6, {.clicked = {2}})));  // open
  for (std::size_t t = 0; t < 2; ++t) {
    now = start + 2.0 + static_cast<double>(t);
    const Slate slate = serve(page, catalog, t + 3);
    out.push_back(static_cast<double>(slate.id));
    for (std::size_t s = 0; s < slate.size(); ++s) {
      out.push_back(static_cast<double>(slate.items[s]));
      out.push_back(static_cast<double>(slate.agents[s]));
      out.push_back(slate.scores[s]);
      out.push_back(slate.propensities[s]);
    }
  }
  put_counters(out, page.agent<0>().counters());
  put_counters(out, page.agent<1>().counters());
  return out;
}

}  // namespace agent_recipes

/// The recipes of the explorers, "agent" and "coordinator".
inline void add_agent_recipes(std::vector<Recipe>& r) {
  namespace ar = agent_recipes;
  r.push_back({"epsilon_greedy",
               [](std::ostream& out) {
                 EpsilonGreedy e({.epsilon = 0.35, .decay = 0.2, .min_epsilon = 0.05, .seed = 17});
                 ar::probe_epsilon_greedy(e);  // some decisions before the save
                 e.save(out);
                 return ar::probe_epsilon_greedy(e);
               },
               [](std::istream& in) {
                 EpsilonGreedy e;
                 e.load(in);
                 return ar::probe_epsilon_greedy(e);
               }});
  const auto explorer_recipe = [&](const char* type, auto make) {
    r.push_back({type,
                 [make](std::ostream& out) {
                   auto e = make(23);
                   ar::probe_explorer(e);  // some decisions before the save
                   e.save(out);
                   return ar::probe_explorer(e);
                 },
                 [make](std::istream& in) {
                   auto e = make(1);  // another seed: load replaces it
                   e.load(in);
                   return ar::probe_explorer(e);
                 }});
  };
  explorer_recipe("greedy", [](std::uint64_t) { return Greedy{}; });
  explorer_recipe("ucb", [](std::uint64_t) { return Ucb{}; });
  explorer_recipe("softmax", [](std::uint64_t seed) { return Softmax({.temperature = 0.3, .seed = seed}); });
  explorer_recipe("thompson", [](std::uint64_t seed) { return Thompson({.seed = seed}); });
  r.push_back({"agent",
               [](std::ostream& out) {
                 const GoldenItems its = items(31);
                 double now = 0.0;
                 ar::GoldenAgent agent = ar::make_agent();
                 agent.set_clock([&now] { return now; });
                 ar::run_agent(agent, now, its.view());
                 agent.save(out);
                 return ar::probe_agent(agent, now, 10.0, its.view());
               },
               [](std::istream& in) {
                 const GoldenItems its = items(31);
                 double now = 1000.0;
                 ar::GoldenAgent agent;
                 agent.set_clock([&now] { return now; });
                 agent.load(in, its.view());
                 return ar::probe_agent(agent, now, 1000.0, its.view());
               }});
  r.push_back({"coordinator",
               [](std::ostream& out) {
                 const Catalog catalog = ar::make_catalog();
                 double now = 0.0;
                 ar::GoldenPage page = ar::make_page(catalog, now);
                 ar::run_page(page, catalog, now);
                 page.save(out);
                 return ar::probe_page(page, catalog, now, 7.0);
               },
               [](std::istream& in) {
                 const Catalog catalog = ar::make_catalog();
                 double now = 500.0;
                 ar::GoldenPage page = ar::make_page(catalog, now);
                 page.load(in, catalog.embeddings());
                 return ar::probe_page(page, catalog, now, 500.0);
               }});
}

}  // namespace marl_rec::test::golden
