// The evaluation layer from several threads: the Simulator's const members may run concurrently
// (eval/simulator.hpp); the off-policy estimators, the metrics and the batch recommendation
// helpers are pure functions of their arguments (their bootstrap draws from an Rng of its own,
// seeded by the options), so concurrent calls give the single-thread results. Run under
// -fsanitize=thread too (docs/threading_and_persistence.md).
#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/logged_decision.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/off_policy.hpp"
#include "marl_rec/eval/simulator.hpp"
#include "marl_rec/eval/split.hpp"
#include "marl_rec/models/ease.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "support/concurrently.hpp"

namespace {

namespace mr = marl_rec;
namespace eval = marl_rec::eval;
using mr::test::disagreements;
using mr::test::no_disagreement;

constexpr std::size_t threads = 4;
constexpr std::size_t rounds = 5;

}  // namespace

TEST_CASE("Simulator: concurrent const members give the single-thread answers") {
  eval::Simulator sim({.users = 40, .items = 120, .seed = 9});
  // Some history first, so that fatigue and satisfaction are not at their initial values.
  for (std::size_t t = 0; t < 200; ++t) {
    const std::size_t user = sim.next_user();
    sim.show(user, sim.top_by_affinity(user, 5));
  }
  const eval::Simulator& world = sim;
  const auto answers = [&](std::size_t user) {
    const std::vector<std::size_t> page = world.top_by_affinity(user, 6);
    std::vector<double> out = world.click_probabilities(user, page);
    out.push_back(world.expected_reward(user, page));
    out.push_back(static_cast<double>(world.best_item(user)));
    out.push_back(world.affinity(user, page[0]));
    out.push_back(world.purchase_probability(user, page[1]));
    out.push_back(world.satisfaction(user));
    out.push_back(world.return_probability(user));
    return out;
  };
  CHECK(disagreements(world.users(), threads, rounds, answers) == no_disagreement(threads));
}

TEST_CASE("Off-policy estimators: concurrent calls give the single-thread estimates and intervals") {
  // A log of 3 actions with a non-uniform logging policy, and a target policy's probabilities.
  mr::Rng rng(21);
  std::vector<mr::LoggedDecision> logs;
  std::vector<double> target, q_logged, value;
  std::vector<std::size_t> target_action;
  for (std::size_t i = 0; i < 600; ++i) {
    const std::size_t action = rng.below(3);
    const double propensity = action == 0 ? 0.5 : 0.25;
    logs.push_back({.context = i, .action = action, .position = i % 2,
                    .reward = rng.uniform() < 0.1 * static_cast<double>(action + 1) ? 1.0 : 0.0,
                    .propensity = propensity});
    target.push_back(action == 2 ? 0.6 : 0.2);
    q_logged.push_back(0.1 * static_cast<double>(action + 1));
    value.push_back(0.2 * 0.1 + 0.2 * 0.2 + 0.6 * 0.3);
    target_action.push_back(2);
  }
  const eval::BootstrapOptions bootstrap{.samples = 200, .seed = 4};
  const auto estimate = [&](std::size_t c) {
    eval::Estimate e;
    switch (c) {
      case 0: e = eval::ips(logs, target, bootstrap); break;
      case 1: e = eval::snips(logs, target, bootstrap); break;
      case 2: e = eval::direct_method(value, bootstrap); break;
      case 3: e = eval::doubly_robust(logs, target, q_logged, value, bootstrap); break;
      case 4: e = eval::replay(logs, target_action, bootstrap); break;
      default: {
        const auto by_position = eval::per_position(logs, [&](const eval::RowSubset& rows) {
          return eval::ips(rows.of(logs), rows.of(target), bootstrap);
        });
        e = by_position.at(1);
      }
    }
    return std::vector<double>{e.value, e.ci_low, e.ci_high, static_cast<double>(e.n)};
  };
  CHECK(disagreements(6, threads, rounds, estimate) == no_disagreement(threads));
}

TEST_CASE("recommend_for_users and evaluate: concurrent calls over one fitted model agree with one thread") {
  mr::Interactions data;
  mr::Rng rng(8);
  for (std::size_t u = 0; u < 40; ++u) {
    const std::size_t user = data.users.intern(mr::numbered_id("u", u));
    for (std::size_t j = 0; j < 8; ++j) {
      const std::size_t item = data.items.intern(mr::numbered_id("i", (u % 5) * 7 + rng.below(30)));
      data.rows.push_back({.user = user, .item = item, .rating = 1.0f, .timestamp = 0.0,
                           .source_row = data.rows.size()});
    }
  }
  const eval::Split split = eval::split_per_user_random(data, 0.25, 3);
  mr::Ease ease({.lambda = 5.0f});
  ease.fit(split.train);
  mr::MostPopular popular;
  popular.fit(split.train);
  std::vector<std::size_t> users(split.train.users.size());
  for (std::size_t u = 0; u < users.size(); ++u) users[u] = u;
  const auto table = [&](std::size_t c) {
    const auto ranked = c == 0 ? eval::ranked_for_test_users(ease, split.train, split.test, 10)
                               : eval::ranked_for_test_users(popular, split.train, split.test, 10);
    return eval::evaluate(ranked, split.test, split.train.items.size(), {.k = 10}).to_string();
  };
  CHECK(disagreements(2, threads, rounds, table) == no_disagreement(threads));
  const auto top = [&](std::size_t c) {
    std::vector<double> out;
    const auto recs = eval::recommend_for_users(ease, split.train, std::span(users).subspan(c * 10, 10), 5);
    for (const auto& list : recs) {
      for (const mr::ScoredItem& s : list) {
        out.push_back(static_cast<double>(s.index));
        out.push_back(static_cast<double>(s.score));
      }
    }
    return out;
  };
  CHECK(disagreements(users.size() / 10, threads, rounds, top) == no_disagreement(threads));
}
