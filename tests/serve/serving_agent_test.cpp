#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/serve/serving_agent.hpp"
#include "support/random_catalog.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;
using mr::test::error_of;

namespace {


using Serving = mr::ServingAgent<mr::LinUcb, mr::EpsilonGreedy>;

Serving::ExplorerFactory epsilon(double eps) {
  return [eps](std::uint64_t seed) { return mr::EpsilonGreedy({.epsilon = eps, .seed = seed}); };
}

std::string saved(const mr::LinUcb& m) {
  std::ostringstream out;
  m.save(out);
  return out.str();
}

const mr::LinUcbConfig linucb_config{.mode = mr::LinUcbConfig::Mode::shared,
                                     .features = mr::FeatureMap::cross,
                                     .alpha = 0.5f};

}  // namespace

TEST_CASE("ServingAgent on one thread, publishing every decision, decides and learns as an Agent does") {
  const mr::Catalog catalog = mr::test::random_catalog(30, 4, 1);
  Serving serving(catalog, mr::LinUcb(linucb_config), epsilon(0.2), {.publish_every = 1, .seed = 77});
  Serving::Reader reader = serving.reader();
  // The first Reader's seed is the first number of Rng(seed).
  mr::Agent<mr::LinUcb, mr::EpsilonGreedy> agent(
      mr::LinUcb(linucb_config), mr::EpsilonGreedy({.epsilon = 0.2, .seed = mr::Rng(77).next_u64()}));
  mr::Rng rng(5);
  mr::Decision a, b;
  for (int t = 0; t < 300; ++t) {
    std::vector<float> x(3);
    for (float& v : x) v = static_cast<float>(rng.normal());
    const mr::Context ctx{.features = x};
    reader.recommend(ctx, 3, a);
    agent.recommend(mr::Context{.features = x, .items = catalog.embeddings()},
                    mr::Candidates::all(catalog.size()), 3, b, catalog.retired_items());
    REQUIRE(a.items == b.items);
    REQUIRE(a.scores == b.scores);
    REQUIRE(a.propensities == b.propensities);
    CHECK(a.id == b.id);
    const mr::Feedback fb{.clicked = {static_cast<std::size_t>(rng.below(3))}};
    CHECK(serving.learn(a.id, fb) == mr::LearnStatus::learned);
    CHECK(agent.learn(b.id, fb) == mr::LearnStatus::learned);
  }
  CHECK(saved(*serving.model()) == saved(agent.model()));
  const mr::ServingCounters c = serving.counters();
  CHECK(c.decisions == 300);
  CHECK(c.feedback == 300);
  CHECK(c.updates == 900);
  CHECK(c.snapshots == 301);
  CHECK(serving.pending() == 0);
}

TEST_CASE("ServingAgent publishes a snapshot every publish_every answered decisions") {
  Serving serving(mr::test::random_catalog(10, 3, 2), mr::LinUcb(linucb_config), epsilon(0.0), {.publish_every = 5});
  const std::shared_ptr<const mr::LinUcb> first = serving.model();
  std::vector<std::uint64_t> ids;
  const std::vector<float> x = {1.0f, 0.5f};
  for (int t = 0; t < 12; ++t) ids.push_back(serving.recommend(mr::Context{.features = x}, 2).id);
  for (int t = 0; t < 4; ++t) serving.learn(ids[static_cast<std::size_t>(t)], {.clicked = {0}});
  CHECK(serving.model() == first);  // 4 answered: not yet published
  CHECK(first->updates() == 0);
  serving.learn(ids[4], {});
  const std::shared_ptr<const mr::LinUcb> second = serving.model();
  CHECK(second != first);
  CHECK(second->updates() == 10);
  CHECK(first->updates() == 0);  // a reader still holding the old snapshot sees it unchanged
  for (int t = 5; t < 10; ++t) serving.learn(ids[static_cast<std::size_t>(t)], {});
  CHECK(serving.model()->updates() == 20);
  serving.learn(ids[10], {});
  CHECK(serving.model()->updates() == 20);
  serving.publish();  // on demand
  CHECK(serving.model()->updates() == 22);
  CHECK(serving.with_learner_model([](const mr::LinUcb& m) { return m.updates(); }) == 22);
  CHECK(serving.counters().snapshots == 4);
}

TEST_CASE("ServingAgent feedback: unknown ids, bad positions, non-finite rewards, duplicates, expiry") {
  double now = 0.0;
  Serving serving(mr::test::random_catalog(10, 3, 3), mr::LinUcb(linucb_config), epsilon(0.0),
                  {.publish_every = 1, .max_pending = 64, .time_to_live = 10.0});
  serving.set_clock([&] { return now; });
  const std::vector<float> x = {1.0f, -1.0f};
  const mr::Decision d = serving.recommend(mr::Context{.features = x}, 3);
  CHECK(error_of([&] { serving.learn(0, {}); }) == "ServingAgent::learn: decision id 0 was never issued");
  CHECK(error_of([&] { serving.learn(d.id + 1, {}); }) ==
        "ServingAgent::learn: decision id 2 was never issued");
  CHECK(error_of([&] { serving.learn(d.id, {.clicked = {3}}); }) ==
        "ServingAgent::learn: decision 1 showed 3 items; clicked position 3 is not one of them");
  CHECK(error_of([&] {
          serving.learn(d.id, {.rewards = {{1, std::numeric_limits<double>::quiet_NaN()}}});
        }) == "ServingAgent::learn: decision 1: the reward for position 1 is not finite");
  CHECK(error_of([&] {
          serving.learn(d.id, {.rewards = {{0, 1e308}, {0, 1e308}}});
        }) == "ServingAgent::learn: decision 1: the reward for position 0 is not finite");
  CHECK(serving.counters().feedback == 0);
  CHECK(serving.model()->updates() == 0);  // nothing learned from bad feedback
  CHECK(serving.learn(d.id, {.clicked = {0}}) == mr::LearnStatus::learned);
  CHECK(serving.learn(d.id, {.clicked = {0}}) == mr::LearnStatus::duplicate);
  CHECK(serving.model()->updates() == 3);
  // Time-to-live.
  const mr::Decision old = serving.recommend(mr::Context{.features = x}, 2);
  now = 10.0;
  CHECK(serving.learn(old.id, {}) == mr::LearnStatus::expired);
  // Eviction: 64 slots, so the decision made 64 ids later takes the slot.
  const mr::Decision evicted = serving.recommend(mr::Context{.features = x}, 2);
  for (int i = 0; i < 64; ++i) serving.recommend(mr::Context{.features = x}, 2);
  CHECK(serving.learn(evicted.id, {}) == mr::LearnStatus::expired);
  const mr::ServingCounters c = serving.counters();
  CHECK(c.duplicates == 1);
  CHECK(c.late == 2);
  CHECK(c.expired == 2);
  CHECK(c.defaulted == 0);
  CHECK(serving.pending() == 64);
}

TEST_CASE("ServingAgent: the default reward is learned for expired decisions, by a learner") {
  double now = 0.0;
  Serving serving(mr::test::random_catalog(10, 3, 4), mr::LinUcb(linucb_config), epsilon(0.0),
                  {.publish_every = 1, .max_pending = 64, .time_to_live = 5.0, .default_reward = -0.5});
  serving.set_clock([&] { return now; });
  const std::vector<float> x = {0.5f, 0.5f};
  for (int i = 0; i < 3; ++i) serving.recommend(mr::Context{.features = x}, 2);
  now = 6.0;
  CHECK(serving.model()->updates() == 0);
  serving.expire_due();
  CHECK(serving.model()->updates() == 6);
  const mr::ServingCounters c = serving.counters();
  CHECK(c.expired == 3);
  CHECK(c.defaulted == 3);
  CHECK(c.updates == 6);
  CHECK(serving.pending() == 0);
}

TEST_CASE("ServingAgent: the catalog changes while serving, and retired items are never chosen") {
  Serving serving(mr::test::random_catalog(6, 2, 5), mr::LinUcb(linucb_config), epsilon(0.5), {.publish_every = 1});
  const std::vector<float> x = {1.0f};
  const mr::Decision before = serving.recommend(mr::Context{.features = x}, 6);
  CHECK(before.items.size() == 6);
  const std::vector<float> v = {0.1f, 0.2f};
  serving.update_catalog([&](mr::Catalog& c) {
    c.add("new", v);
    c.retire(0);
    c.retire(3);
  });
  CHECK(serving.catalog()->size() == 7);
  for (int t = 0; t < 50; ++t) {
    const mr::Decision d = serving.recommend(mr::Context{.features = x}, 7);
    CHECK(d.items.size() == 5);
    for (const std::size_t i : d.items) CHECK((i != 0 && i != 3 && i < 7));
  }
  // A decision made before the change is learned with the catalog it was made with.
  CHECK(serving.learn(before.id, {.clicked = {0}}) == mr::LearnStatus::learned);
  // Renumbering (compact) or removing rows is refused, and nothing is published.
  CHECK(error_of([&] { serving.update_catalog([](mr::Catalog& c) { c.compact(); }); }) ==
        "ServingAgent::update_catalog: the change removed items (7 rows before, 5 after); retire them instead");
  CHECK(serving.catalog()->size() == 7);
  CHECK(error_of([&] { serving.update_catalog([](mr::Catalog& c) { c.retire(99); }); }) != "no error");
  // Items must come from the catalog; candidates must be catalog items.
  const std::vector<float> items = {1, 2};
  CHECK(error_of([&] { serving.recommend(mr::Context{.features = x, .items = mr::MatrixView(items, 1, 2)}, 1); }) ==
        "ServingAgent::recommend: the items are the catalog's; leave context.items empty");
  const std::vector<std::size_t> beyond = {1, 7};
  mr::Decision out;
  CHECK(error_of([&] { serving.recommend(mr::Context{.features = x}, mr::Candidates(beyond), 1, out); }) ==
        "ServingAgent::recommend: a candidate is not an item of the catalog (7 items)");
  const std::vector<std::size_t> twice = {1, 2, 1};
  CHECK(error_of([&] { serving.recommend(mr::Context{.features = x}, mr::Candidates(twice), 1, out); }) ==
        "ServingAgent::recommend: candidate item 1 is listed twice (candidates must be distinct)");
  // Empty candidates and k = 0 give empty decisions (still issued: feedback on them is accepted).
  serving.recommend(mr::Context{.features = x}, mr::Candidates(std::span<const std::size_t>{}), 3, out);
  CHECK(out.items.empty());
  CHECK(serving.learn(out.id, {}) == mr::LearnStatus::learned);
  serving.recommend(mr::Context{.features = x}, 0, out);
  CHECK(out.items.empty());
  CHECK(out.id != 0);
}

TEST_CASE("ServingAgent: settings are checked") {
  const mr::Catalog catalog = mr::test::random_catalog(2, 2, 6);
  CHECK(error_of([&] { Serving(catalog, mr::LinUcb(), epsilon(0.1), {.publish_every = 0}); }) ==
        "ServingAgent: publish_every must be at least 1");
  CHECK(error_of([&] { Serving(catalog, mr::LinUcb(), epsilon(0.1), {.max_pending = 0}); }) ==
        "ServingAgent: max_pending must be at least 1");
  CHECK(error_of([&] {
          Serving(catalog, mr::LinUcb(), epsilon(0.1), {.time_to_live = std::nan("")});
        }) == "ServingAgent: time_to_live must be positive");
  CHECK(error_of([&] { Serving(catalog, mr::LinUcb(), {}, {}); }) == "ServingAgent: empty explorer factory");
}

TEST_CASE("ServingAgent save / load: pending decisions, deferred defaults and explorers carry on exactly") {
  double now = 0.0;
  const Serving::ExplorerFactory explore = epsilon(0.3);
  const mr::ServingConfig config{.publish_every = 2, .max_pending = 64, .time_to_live = 50.0,
                                 .default_reward = -0.25, .seed = 9};
  Serving original(mr::test::random_catalog(12, 3, 7), mr::LinUcb(linucb_config), explore, config);
  original.set_clock([&] { return now; });
  mr::Rng rng(8);
  std::vector<std::uint64_t> ids;
  const auto step = [&](Serving& s, std::vector<float> x) { return s.recommend(mr::Context{.features = x}, 3).id; };
  for (int t = 0; t < 40; ++t) {
    now += 1.0;
    ids.push_back(step(original, {static_cast<float>(rng.normal()), 1.0f}));
    if (t % 3 == 0) original.learn(ids[static_cast<std::size_t>(t) / 2], {.clicked = {1}});
  }
  original.update_catalog([](mr::Catalog& c) { c.retire(4); });
  // Some decisions expired (their default reward waits for a learner), others stay open.
  now = 60.0;
  // A loaded agent serves its learner's model from the start: publish it here too, so that the
  // two serve the same snapshot.
  original.publish();
  std::ostringstream bytes;
  original.save(bytes);

  Serving restored(mr::test::random_catalog(2, 3, 1), mr::LinUcb(), explore, {.publish_every = 7, .seed = 1});
  restored.set_clock([&] { return now; });
  std::istringstream in(bytes.str());
  restored.load(in);
  CHECK(restored.config().publish_every == 2);
  CHECK(restored.config().max_pending == 64);
  CHECK(restored.catalog()->size() == 12);
  CHECK(restored.catalog()->retired(4));
  CHECK(restored.pending() == original.pending());
  CHECK(saved(*restored.model()) == saved(*original.model()));
  std::ostringstream again;
  restored.save(again);
  CHECK(again.str() == bytes.str());
  // Both go on alike: new decisions, feedback on old ones, expiry.
  mr::Rng rng2(10);
  for (int t = 0; t < 30; ++t) {
    now += 1.0;
    const std::vector<float> x = {static_cast<float>(rng2.normal()), 1.0f};
    const mr::Decision a = original.recommend(mr::Context{.features = x}, 3);
    const mr::Decision b = restored.recommend(mr::Context{.features = x}, 3);
    REQUIRE(a.items == b.items);
    REQUIRE(a.propensities == b.propensities);
    REQUIRE(a.id == b.id);
    const std::uint64_t old = ids[static_cast<std::size_t>(20 + t) % ids.size()];
    CHECK(original.learn(old, {.clicked = {0}}) == restored.learn(old, {.clicked = {0}}));
  }
  original.expire_due();
  restored.expire_due();
  original.publish();
  restored.publish();
  CHECK(saved(*restored.model()) == saved(*original.model()));
  const mr::ServingCounters a = original.counters(), b = restored.counters();
  CHECK(a.decisions == b.decisions);
  CHECK(a.feedback == b.feedback);
  CHECK(a.updates == b.updates);
  CHECK(a.late == b.late);
  CHECK(a.expired == b.expired);
  CHECK(a.defaulted == b.defaulted);
  CHECK(a.defaulted > 0);

  // A damaged stream changes nothing.
  std::ostringstream before;
  restored.save(before);
  const std::string good = bytes.str();
  for (const std::size_t cut : {std::size_t{0}, std::size_t{100}, good.size() / 2, good.size() - 1}) {
    std::istringstream bad(good.substr(0, cut));
    CHECK(error_of([&] { restored.load(bad); }) != "no error");
  }
  std::string flipped = good;
  flipped[good.size() / 3] = static_cast<char>(flipped[good.size() / 3] ^ 0x10);
  std::istringstream bad(flipped);
  CHECK(error_of([&] { restored.load(bad); }) == "loading a 'serving_agent' model: checksum mismatch (the stream is corrupted)");
  std::ostringstream after;
  restored.save(after);
  CHECK(after.str() == before.str());
}
