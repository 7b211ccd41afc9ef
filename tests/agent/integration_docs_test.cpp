// The snippets of docs/integration.md and docs/threading_and_persistence.md, run as written
// (the docs build only compiles them): each block below is a copy of one snippet, between the
// lines that give it its inputs and check what the page says of it. Keep both in step.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <ratio>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/independent.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/logged_decision.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/eval/off_policy.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/io/model_file.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "marl_rec/objective/revenue.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "support/errors.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace mr = marl_rec;

/// 24 unit item vectors of 4 dims, with prices and categories.
mr::Catalog shop_catalog() {
  mr::Catalog catalog(4);
  mr::Rng rng(6);
  std::vector<float> v(4);
  for (std::size_t i = 0; i < 24; ++i) {
    for (float& x : v) x = static_cast<float>(rng.normal());
    catalog.add(mr::numbered_id("sku", i), v,
                {.price = static_cast<float>(5 + i % 7), .category = mr::numbered_id("c", i % 4)});
  }
  mr::simd::normalize_rows(catalog.mutable_embeddings());
  return catalog;
}

struct GameClock {
  double seconds = 0.0;
};

// docs/integration.md, "Requests and events" (the class, as written).
class Recommendations {
 public:
  explicit Recommendations(const mr::Catalog& catalog) : catalog_(catalog) {}

  // A request handler, on any thread: one Context per request, built from this shopper.
  mr::Decision recommend(std::span<const float> shopper, std::size_t k) {
    const mr::Context context{.features = shopper, .items = catalog_.embeddings()};
    const std::lock_guard lock(mutex_);  // an Agent is used by one thread at a time
    return agent_.recommend(context, mr::Candidates::all(catalog_.size()), k, catalog_.retired_items());
  }

  // The queue's consumer: everything the shopper did with one list, once (a second Feedback for
  // the same decision is a duplicate and is ignored).
  mr::LearnStatus learn(std::uint64_t decision, const mr::Feedback& what_happened) {
    const std::lock_guard lock(mutex_);
    return agent_.learn(decision, what_happened);
  }

 private:
  const mr::Catalog& catalog_;  // must not change while decisions are pending
  std::mutex mutex_;
  // ε-greedy over LinUcb's ridge estimate: exact propensities for A/B tests (below).
  mr::Agent<mr::LinUcb, mr::EpsilonGreedy> agent_{
      mr::LinUcb{{.features = mr::FeatureMap::cross}},
      mr::EpsilonGreedy{{.epsilon = 0.05, .seed = 1}},
      {.max_pending = 100'000, .time_to_live = 1800.0, .rewards = {.click = 1.0, .purchase = 5.0}}};
};

template <class M>
std::string saved(const M& model) {
  std::ostringstream out;
  model.save(out);
  return out.str();
}

}  // namespace

TEST_CASE("integration.md, in a game loop: offers, a purchase, a duplicate, an offer left to expire") {
  const mr::Catalog shop = shop_catalog();
  GameClock clock;
  const std::vector<float> player_features = {0.5f, -1.0f, 0.25f};
  const std::span<const float> player(player_features);

  // --- the snippet ---
  mr::Agent<mr::LinearQ, mr::EpsilonGreedy> shopkeeper{
      mr::LinearQ{{.features = mr::FeatureMap::cross, .gamma = 0.0f, .history_in_state = false}},
      mr::EpsilonGreedy{{.epsilon = 0.1, .seed = 7}},
      {.max_pending = 64, .time_to_live = 300.0, .default_reward = 0.0}};
  shopkeeper.set_clock([&clock] { return clock.seconds; });
  mr::Decision offer;  // reused by every recommend

  shopkeeper.recommend({.features = player, .items = shop.embeddings()}, mr::Candidates::all(shop.size()), 3,
                       offer, shop.retired_items());
  const std::uint64_t offer_id = offer.id;

  const mr::LearnStatus status = shopkeeper.learn(offer_id, mr::Feedback{.purchased = {1}});
  // --- end of the snippet ---

  CHECK(offer.size() == 3);
  CHECK(status == mr::LearnStatus::learned);
  CHECK(shopkeeper.learn(offer_id, mr::Feedback{.purchased = {1}}) == mr::LearnStatus::duplicate);
  // An offer the player walks away from: 300 s of game time later it has expired, and its three
  // items were learned with the default reward 0.
  clock.seconds = 10.0;
  shopkeeper.recommend({.features = player, .items = shop.embeddings()}, mr::Candidates::all(shop.size()), 3,
                       offer, shop.retired_items());
  const std::uint64_t ignored = offer.id;
  clock.seconds = 311.0;
  shopkeeper.expire_due();
  CHECK(shopkeeper.counters().expired == 1);
  CHECK(shopkeeper.counters().defaulted == 1);
  CHECK(shopkeeper.counters().updates == 3 + 3);
  CHECK(shopkeeper.learn(ignored, mr::Feedback{.clicked = {0}}) == mr::LearnStatus::expired);
  CHECK(shopkeeper.counters().late == 1);
  // A retired item is never offered.
  mr::Catalog smaller = shop_catalog();
  for (std::size_t i = 0; i < smaller.size(); ++i) {
    if (i != 5) smaller.retire(i);
  }
  shopkeeper.recommend({.features = player, .items = smaller.embeddings()}, mr::Candidates::all(smaller.size()), 3,
                       offer, smaller.retired_items());
  CHECK(offer.items == std::vector<std::size_t>{5});
}

TEST_CASE("integration.md, requests and events: one agent behind a mutex, feedback once per decision") {
  const mr::Catalog catalog = shop_catalog();
  Recommendations service(catalog);
  const std::vector<float> shopper = {1.0f, 0.0f, -0.5f};
  const mr::Decision d = service.recommend(shopper, 4);
  CHECK(d.size() == 4);
  CHECK(service.learn(d.id, mr::Feedback{.clicked = {2}, .purchased = {2}}) == mr::LearnStatus::learned);
  CHECK(service.learn(d.id, mr::Feedback{.purchased = {3}}) == mr::LearnStatus::duplicate);
}

TEST_CASE("integration.md, a page with business goals: 8 slots, feedback by slot, weights changed at run time") {
  const mr::Catalog catalog = shop_catalog();
  const std::vector<float> features = {0.3f, 0.8f};
  const mr::Context request{.features = features, .items = catalog.embeddings()};
  const std::array<double, 3> weights = {0.2, 0.7, 0.1};
  const std::span<const double> merchandiser_weights(weights);

  // --- the snippet ---
  using Seller = mr::Agent<mr::LinUcb, mr::EpsilonGreedy>;
  using PageGoals = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<6, 10>>,
                                       mr::Weighted<mr::Revenue, std::ratio<3, 10>>,
                                       mr::Weighted<mr::Diversity, std::ratio<1, 10>>>;
  mr::Coordinator shop{catalog, mr::Independent{},
                       Seller{mr::LinUcb{{.features = mr::FeatureMap::cross}}, mr::EpsilonGreedy{{.seed = 2}}}};
  PageGoals goals;

  mr::Slate page = shop.recommend(request, mr::Candidates::all(catalog.size()), /*slots=*/8, goals);
  const mr::LearnStatus learned = shop.learn(page.id, mr::Feedback{.clicked = {2}, .purchased = {2}});

  goals.set_weights(merchandiser_weights);
  // --- end of the snippet ---

  CHECK(page.size() == 8);
  CHECK(page.explanation.size() == 8);
  CHECK(learned == mr::LearnStatus::learned);
  CHECK(shop.agent<0>().counters().updates == 8);  // the 8 shown of its 16 proposals
  CHECK(goals.weights() == PageGoals::Weights{0.2, 0.7, 0.1});
  const std::array<double, 3> bad = {0.0, -1.0, 0.5};
  CHECK_THROWS_AS(goals.set_weights(bad), mr::Error);
  CHECK(goals.weights() == PageGoals::Weights{0.2, 0.7, 0.1});
}

TEST_CASE("integration.md and threading_and_persistence.md checkpoints: save_file, then load_file after a restart") {
  const mr::Catalog catalog = shop_catalog();
  const std::vector<float> features = {0.3f, 0.8f, -0.2f};
  const mr::Context context{.features = features, .items = catalog.embeddings()};
  mr::Agent<mr::LinUcb, mr::EpsilonGreedy> trained{mr::LinUcb{{.features = mr::FeatureMap::cross}},
                                                   mr::EpsilonGreedy{{.seed = 3}}};
  double now = 100.0;  // one clock for both agents, so that their saved bytes can be compared
  trained.set_clock([&] { return now; });
  for (int t = 0; t < 50; ++t) {
    const mr::Decision d = trained.recommend(context, 2);
    trained.learn(d.id, t % 3 == 0 ? mr::Feedback{.clicked = {0}} : mr::Feedback{});
  }
  const mr::Decision awaiting = trained.recommend(context, 2);  // feedback comes after the restart
  const mr::test::TempDir dir;
  const std::filesystem::path path = dir.path("agent.bin");
  {
    auto& agent = trained;  // the snippet's names
    // --- the snippet (integration.md), its save line, with the test's path ---
    mr::io::save_file(path, agent);
    // --- end ---
  }
  mr::Agent<mr::LinUcb, mr::EpsilonGreedy> agent{mr::LinUcb{}, mr::EpsilonGreedy{{.seed = 99}}};
  agent.set_clock([&] { return now; });
  // --- the snippet (integration.md), its load line ---
  mr::io::load_file(path, agent, catalog.embeddings());
  // --- end ---
  CHECK(saved(agent) == saved(trained));
  // The decision made before the restart is learned as it would have been.
  CHECK(agent.learn(awaiting.id, mr::Feedback{.clicked = {1}}) == mr::LearnStatus::learned);
  CHECK(trained.learn(awaiting.id, mr::Feedback{.clicked = {1}}) == mr::LearnStatus::learned);
  CHECK(saved(agent) == saved(trained));
  CHECK(agent.recommend(context, 2).id == awaiting.id + 1);
  // A bad file is an Error, and the agent keeps its state; no temporary is left beside the file.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << saved(trained).substr(0, 100);
  CHECK_THROWS_AS(mr::io::load_file(path, agent, catalog.embeddings()), mr::Error);
  CHECK(mr::test::error_of([&] { mr::io::load_file(dir.path("missing.bin"), agent); })
            .starts_with("loading '"));
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(path.parent_path())) files += e.is_regular_file() ? 1 : 0;
  CHECK(files == 1);
}

TEST_CASE("integration.md, A/B tests from logged decisions: log, then estimate a candidate with SNIPS") {
  const mr::Catalog catalog = shop_catalog();
  // A feature log of 20 shoppers (row = LoggedDecision::context), and a live ε-greedy agent.
  mr::Rng rng(11);
  mr::AlignedVector<float> shopper_rows(20 * 3);
  for (float& x : shopper_rows) x = static_cast<float>(rng.normal());
  const mr::MatrixView features(std::span<const float>(shopper_rows), 20, 3);
  mr::Agent<mr::LinUcb, mr::EpsilonGreedy> live{mr::LinUcb{{.features = mr::FeatureMap::cross}},
                                                mr::EpsilonGreedy{{.epsilon = 0.3, .seed = 5}}};
  std::vector<mr::LoggedDecision> log;
  for (std::size_t t = 0; t < 400; ++t) {
    const std::size_t context_row = t % 20;
    const mr::Decision d = live.recommend({.features = features.row(context_row), .items = catalog.embeddings()}, 3);
    const std::size_t first_row = log.size();
    // --- the logging snippet ---
    for (std::size_t j = 0; j < d.items.size(); ++j) {
      log.push_back({.context = context_row,
                     .action = d.items[j], .position = j, .reward = 0.0,
                     .propensity = d.propensities[j]});
    }
    // --- end ---
    // The shopper clicks items of even index in the first slot, sometimes.
    const bool click = d.items[0] % 2 == 0 && rng.uniform() < 0.5;
    log[first_row].reward = click ? 1.0 : 0.0;
    live.learn(d.id, click ? mr::Feedback{.clicked = {0}} : mr::Feedback{});
  }
  const mr::LinUcb& candidate = live.model();

  // --- the evaluation snippet ---
  std::vector<mr::LoggedDecision> first;  // the rows of position 0
  std::vector<double> target;             // π_candidate(logged item | context)
  std::vector<float> scores(catalog.size());
  for (const mr::LoggedDecision& row : log) {
    if (row.position != 0) continue;
    candidate.score({.features = features.row(row.context), .items = catalog.embeddings()},
                    mr::Candidates::all(catalog.size()), scores);
    const auto best = static_cast<std::size_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
    first.push_back(row);
    target.push_back(best == row.action ? 1.0 : 0.0);
  }
  const mr::eval::Estimate snips = mr::eval::snips(first, target, {.samples = 1000, .seed = 1});
  // --- end ---

  CHECK(first.size() == 400);
  CHECK(snips.value >= 0.0);
  CHECK(snips.value <= 1.0);
  CHECK(snips.ci_low <= snips.value);
  CHECK(snips.value <= snips.ci_high);
  CHECK(log[1].propensity > 0.0f);  // ε-greedy: every logged choice had a positive probability
}
