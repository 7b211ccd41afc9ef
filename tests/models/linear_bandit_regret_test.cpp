// The acceptance test of LinUcb and LinThompson: on a synthetic linear bandit they must learn
// (regret falls over time) and beat ε-greedy on the same ridge model by a wide margin.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"

namespace {

using marl_rec::Candidates;
using marl_rec::Context;
using marl_rec::FeatureMap;
using marl_rec::Rng;

// The problem: d = 10, 50 arms a_k ~ N(0, I) scaled to unit length, θ* a random unit vector
// (so the expected rewards θ*·a_k lie in [-1, 1]), reward = θ*·a_k + N(0, 0.1²).
constexpr std::size_t dim = 10;
constexpr std::size_t arms = 50;
constexpr std::size_t horizon = 20000;
constexpr double noise = 0.1;

void normalise(std::span<float> v) {
  double n2 = 0.0;
  for (const float x : v) n2 += static_cast<double>(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(n2));
}

struct Problem {
  std::vector<float> items = std::vector<float>(arms * dim);
  std::vector<double> mean = std::vector<double>(arms);
  double best = -1.0;

  explicit Problem(Rng& rng) {
    std::vector<float> theta(dim);
    for (float& x : items) x = static_cast<float>(rng.normal());
    for (float& x : theta) x = static_cast<float>(rng.normal());
    normalise(theta);
    for (std::size_t k = 0; k < arms; ++k) {
      normalise(std::span<float>(items.data() + k * dim, dim));
      double m = 0.0;
      for (std::size_t j = 0; j < dim; ++j) m += static_cast<double>(theta[j]) * items[k * dim + j];
      mean[k] = m;
      best = std::max(best, m);
    }
  }
  Context context() const { return {.items = marl_rec::MatrixView(items, arms, dim)}; }
};

// The first index of the largest score (the selection loops' argmax).
std::size_t argmax(std::span<const float> scores) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < scores.size(); ++i) {
    if (scores[i] > scores[best]) best = i;
  }
  return best;
}

struct Regret {
  double first_half = 0.0;
  double second_half = 0.0;
  double total() const { return first_half + second_half; }
};

// Runs `choose(scores) -> arm` for `horizon` rounds against `problem`, updating `model` with
// the noisy reward of the chosen arm; the noise has its own seeded stream.
template <class Model, class Choose>
Regret run(const Problem& problem, Model& model, Choose&& choose) {
  Rng noise_rng(77);
  const Context ctx = problem.context();
  std::vector<float> scores(arms);
  Regret regret;
  for (std::size_t t = 0; t < horizon; ++t) {
    const std::size_t arm = choose(model, ctx, std::span<float>(scores));
    model.update(ctx, arm, problem.mean[arm] + noise * noise_rng.normal());
    (t < horizon / 2 ? regret.first_half : regret.second_half) += problem.best - problem.mean[arm];
  }
  return regret;
}

}  // namespace

TEST_CASE(
    "Linear bandit (d = 10, 50 arms, T = 20000): LinUcb and LinThompson learn, and beat "
    "epsilon-greedy") {
  // Choices: shared mode, FeatureMap::item (no context features). λ = 0.1 for every model,
  // with v = σ = 0.1 for LinThompson: its posterior N(θ̂, v²A⁻¹) is then the exact Bayesian
  // posterior for the prior θ* ~ N(0, (σ²/λ) I) = N(0, I/10), which is what a random unit
  // vector in 10 dimensions looks like (E θ*_i² = 1/d). LinUcb keeps the default α = 1.
  // (With λ = 1 and v = 0.1 that prior is 10 times too confident and Thompson sampling stops
  // exploring: measured regret 852, no better than ε-greedy. Of the settings tried, λ ∈ {0.1, 1}
  // × (α, v) ∈ {(0.5, 0.1), (1, 0.2), (1.5, 0.316)} on problem seeds 2024, 1, 2, 3, that is the
  // only one to fail.)
  // ε-greedy: ε = 0.1, uniform over the arms, else greedy on its own ridge model's mean score.
  // Every policy sees the same reward-noise stream (seed 77); the problem is seeded 2024,
  // Thompson's and ε-greedy's own choices 5. Runs in about 0.3 s at -O2.
  Rng problem_rng(2024);
  const Problem problem(problem_rng);

  marl_rec::LinUcb ucb({.mode = marl_rec::LinUcbConfig::Mode::shared,
                        .features = FeatureMap::item,
                        .alpha = 1.0f,
                        .ridge = 0.1f});
  const Regret ucb_regret = run(problem, ucb, [](auto& m, const Context& ctx, std::span<float> s) {
    m.upper_bound(ctx, Candidates::all(arms), s);
    return argmax(s);
  });

  marl_rec::LinThompson ts({.mode = marl_rec::LinThompsonConfig::Mode::shared,
                            .features = FeatureMap::item,
                            .ridge = 0.1f,
                            .v = 0.1f});
  Rng ts_rng(5);
  const Regret ts_regret = run(problem, ts, [&](auto& m, const Context& ctx, std::span<float> s) {
    m.sample_scores(ctx, Candidates::all(arms), s, ts_rng);
    return argmax(s);
  });

  marl_rec::LinUcb greedy_model({.features = FeatureMap::item, .ridge = 0.1f});
  Rng eps_rng(5);
  const Regret eps_regret =
      run(problem, greedy_model, [&](auto& m, const Context& ctx, std::span<float> s) {
        if (eps_rng.bernoulli(0.1)) return static_cast<std::size_t>(eps_rng.below(arms));
        m.score(ctx, Candidates::all(arms), s);
        return argmax(s);
      });

  MESSAGE("regret (first half, second half, total): LinUcb ", ucb_regret.first_half, ", ",
          ucb_regret.second_half, ", ", ucb_regret.total(), "; LinThompson ", ts_regret.first_half,
          ", ", ts_regret.second_half, ", ", ts_regret.total(), "; epsilon-greedy ",
          eps_regret.first_half, ", ", eps_regret.second_half, ", ", eps_regret.total());
  CHECK(ucb_regret.second_half < 0.6 * ucb_regret.first_half);
  CHECK(ts_regret.second_half < 0.6 * ts_regret.first_half);
  CHECK(ucb_regret.total() <= 0.25 * eps_regret.total());
  CHECK(ts_regret.total() <= 0.25 * eps_regret.total());
}
