// Acceptance test of the Q-learners: off-policy Q-learning on a chain MDP whose Q* is known.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "marl_rec/core/context.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/tabular_q.hpp"
#include "support/chain_mdp.hpp"

namespace {

using marl_rec::Candidates;
using marl_rec::Context;
using marl_rec::test::ChainMdp;

// N = 6 (decision states 0..4, goal 5), γ = 0.9: Q*(s, right) = 0.9^(4 − s), from 1 down to
// 0.6561; Q*(s, left) = 0.9 · Q*(max(s − 1, 0), right).
const ChainMdp chain{.length = 6, .gamma = 0.9};

// 3000 steps of a seeded uniform-random behaviour policy (episodes cut at 50 steps). The
// environment is deterministic, so every TD target is exact given Q and constant-α Q-learning
// converges to Q* itself (no noise floor, only float rounding ~1e-6). With α = 0.1, 3000 steps
// (every (s, a) visited 100+ times) bring the error to ~1e-5 for this and other seeds; 1000
// steps leave ~0.05-0.12, 500 steps ~0.4: the 0.05 bound checks real learning.
constexpr std::size_t steps = 3000;
const std::vector<ChainMdp::Transition> walk = chain.random_walk(steps, 50, 2024);

double max_error(const std::vector<double>& q, const std::vector<double>& q_star) {
  double worst = 0.0;
  for (std::size_t i = 0; i < q.size(); ++i) worst = std::max(worst, std::abs(q[i] - q_star[i]));
  return worst;
}

// LinearQ on x = one-hot(state), a = one-hot(action), φ = x ⊗ a: w is the Q table.
struct OneHot {
  std::vector<std::vector<float>> states;
  std::vector<float> actions = {1, 0, 0, 1};
  marl_rec::MatrixView items{std::span<const float>(actions), 2, 2};

  explicit OneHot(std::size_t n) : states(n, std::vector<float>(n, 0.0f)) {
    for (std::size_t s = 0; s < n; ++s) states[s][s] = 1.0f;
  }
  Context context(std::size_t s) const { return Context{.features = states[s], .items = items}; }
};

void train(marl_rec::LinearQ& model, const OneHot& features) {
  for (const ChainMdp::Transition& t : walk) {
    if (t.step.terminal) {
      model.update(features.context(t.state), t.action, t.step.reward);
    } else {
      model.update(features.context(t.state), t.action, t.step.reward,
                   features.context(t.step.next), Candidates::all(2));
    }
  }
}

std::vector<double> q_of(const marl_rec::LinearQ& model, const OneHot& features) {
  std::vector<double> q;
  std::vector<float> scores(2);
  for (std::size_t s = 0; s < chain.states(); ++s) {
    model.score(features.context(s), Candidates::all(2), scores);
    q.push_back(scores[0]);
    q.push_back(scores[1]);
  }
  return q;
}

std::vector<double> q_of(const marl_rec::TabularQ& model) {
  return {model.values().begin(), model.values().end()};
}

}  // namespace

TEST_CASE("The chain MDP's closed-form Q* matches value iteration") {
  const std::vector<double> q_star = chain.q_star();
  CHECK(max_error(chain.value_iteration(300), q_star) < 1e-12);
  CHECK(q_star[4 * 2 + ChainMdp::right] == 1.0);
  CHECK(q_star[0 * 2 + ChainMdp::left] == doctest::Approx(std::pow(0.9, 5)).epsilon(1e-12));
  // The behaviour data covers every (s, a).
  std::vector<std::size_t> visits(chain.states() * 2, 0);
  for (const ChainMdp::Transition& t : walk) ++visits[t.state * 2 + t.action];
  CHECK(*std::min_element(visits.begin(), visits.end()) >= 100);
}

TEST_CASE("TabularQ learns the chain's Q* off-policy, one update and in batches") {
  const std::vector<double> q_star = chain.q_star();
  const marl_rec::TabularQConfig config{.states = chain.states(), .actions = 2, .alpha = 0.1f,
                                        .gamma = 0.9f};
  marl_rec::TabularQ single(config);
  for (const ChainMdp::Transition& t : walk) {
    if (t.step.terminal) {
      single.update(Context{.state = t.state}, t.action, t.step.reward);
    } else {
      single.update(Context{.state = t.state}, t.action, t.step.reward,
                    Context{.state = t.step.next}, Candidates::all(2));
    }
  }
  const double single_error = max_error(q_of(single), q_star);
  MESSAGE("TabularQ (single updates): max |Q - Q*| = " << single_error);
  CHECK(single_error < 0.05);

  marl_rec::TabularQ batched(config);
  std::vector<marl_rec::TabularQ::Transition> batch;
  for (const ChainMdp::Transition& t : walk) {
    batch.push_back({.state = t.state, .action = t.action, .reward = t.step.reward,
                     .next_state = t.step.next, .terminal = t.step.terminal});
    if (batch.size() == 64) {
      batched.update_batch(batch);
      batch.clear();
    }
  }
  batched.update_batch(batch);
  const double batched_error = max_error(q_of(batched), q_star);
  MESSAGE("TabularQ (batches of 64): max |Q - Q*| = " << batched_error);
  CHECK(batched_error < 0.05);
}

TEST_CASE("LinearQ with one-hot cross features learns the chain's Q* off-policy") {
  const std::vector<double> q_star = chain.q_star();
  const OneHot features(chain.states());

  marl_rec::LinearQ plain({.features = marl_rec::FeatureMap::cross, .alpha = 0.1f, .gamma = 0.9f,
                           .history_in_state = false});
  train(plain, features);
  const double plain_error = max_error(q_of(plain, features), q_star);
  MESSAGE("LinearQ (cross, one-hot): max |Q - Q*| = " << plain_error);
  CHECK(plain_error < 0.05);

  // With replay the same data is reused: 4 replayed transitions per step.
  marl_rec::LinearQ replayed({.features = marl_rec::FeatureMap::cross, .alpha = 0.05f,
                              .gamma = 0.9f, .replay_capacity = 500, .replay_batch = 4,
                              .seed = 7, .history_in_state = false});
  train(replayed, features);
  const double replay_error = max_error(q_of(replayed, features), q_star);
  MESSAGE("LinearQ (cross, one-hot, replay 500 x 4): max |Q - Q*| = " << replay_error);
  CHECK(replay_error < 0.05);
}
