// Test support: the golden recipe of "serving_agent" (see golden_models.hpp).
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/serve/serving_agent.hpp"
#include "persist/golden_models.hpp"

namespace marl_rec::test::golden {

namespace serve_recipe {

using GoldenServing = ServingAgent<LinUcb, EpsilonGreedy>;

inline Catalog catalog() {
  const GoldenItems its = items(41);
  Catalog c(its.cols);
  for (std::size_t i = 0; i < its.rows; ++i) {
    c.add(numbered_id("item", i), std::span<const float>(its.data).subspan(i * its.cols, its.cols));
  }
  return c;
}

inline GoldenServing::ExplorerFactory explorers() {
  return [](std::uint64_t seed) { return EpsilonGreedy({.epsilon = 0.25, .seed = seed}); };
}

// The next decisions of a new Reader (seeded from the saved seed sequence), the counters, and
// the model's scores.
inline std::vector<double> probe(GoldenServing& s) {
  std::vector<double> out;
  GoldenServing::Reader reader = s.reader();
  Decision d;
  for (int t = 0; t < 4; ++t) {
    const std::vector<float> x = {static_cast<float>(t) - 1.5f, 1.0f};
    reader.recommend(Context{.features = x}, 3, d);
    out.push_back(static_cast<double>(d.id));
    for (std::size_t j = 0; j < d.size(); ++j) {
      out.push_back(static_cast<double>(d.items[j]));
      out.push_back(d.propensities[j]);
    }
  }
  const ServingCounters c = s.counters();
  for (const std::uint64_t v : {c.decisions, c.feedback, c.updates, c.late, c.expired, c.defaulted}) {
    out.push_back(static_cast<double>(v));
  }
  out.push_back(static_cast<double>(s.pending()));
  return out;
}

}  // namespace serve_recipe

inline void add_serve_recipes(std::vector<Recipe>& r) {
  namespace sr = serve_recipe;
  r.push_back({"serving_agent",
               [](std::ostream& out) {
                 double now = 0.0;
                 sr::GoldenServing s(sr::catalog(), LinUcb({.features = FeatureMap::cross, .alpha = 0.4f}),
                                     sr::explorers(),
                                     {.publish_every = 3, .max_pending = 16, .time_to_live = 20.0,
                                      .default_reward = 0.0, .seed = 5});
                 s.set_clock([&now] { return now; });
                 sr::GoldenServing::Reader reader = s.reader();
                 Decision d;
                 std::vector<std::uint64_t> ids;
                 for (int t = 0; t < 12; ++t) {
                   now += 2.0;
                   const std::vector<float> x = {static_cast<float>(t % 4), 1.0f};
                   reader.recommend(Context{.features = x}, 3, d);
                   ids.push_back(d.id);
                   if (t % 2 == 1) s.learn(ids[static_cast<std::size_t>(t) - 1], {.clicked = {1}});
                 }
                 s.update_catalog([](Catalog& c) { c.retire(2); });
                 s.publish();
                 s.save(out);
                 return sr::probe(s);
               },
               [](std::istream& in) {
                 double now = 24.0;
                 sr::GoldenServing s(Catalog(1), LinUcb(), sr::explorers());
                 s.set_clock([&now] { return now; });
                 s.load(in);
                 return sr::probe(s);
               }});
}

}  // namespace marl_rec::test::golden
