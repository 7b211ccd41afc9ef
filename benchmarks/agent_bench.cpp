// Agents on OBD-shaped decisions (the Open Bandit Dataset's shape: 34 or 80 items with 8 item
// features, a user of 4 one-hot categorical features plus one affinity per item, 3 positions):
// one iteration = recommend 3 items, then learn from the feedback on all 3 (3 model updates).
// Counters: decisions_per_s, us_per_decision; x_naive = speed-up over a straightforward cross-
// feature learner measured in the same run (it materialises φ = x ⊗ a for every item);
// x_vw_anchor = decisions/s ÷ 45,000 (Vowpal Wabbit --cb_explore_adf -q on this machine, as
// measured for the issue; VW itself is not packaged for Debian 12, so it is not rerun here).
//
// Also: recommend() latency percentiles for 10⁴ candidates at d = 64 (counters p50_us, p99_us).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "marl_rec/agent/agent.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/explore/ucb.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/mlp_scorer.hpp"
#include "marl_rec/simd/aligned_vector.hpp"

namespace {

namespace mr = marl_rec;
namespace bench = marl_rec::bench;

constexpr double vw_decisions_per_second = 45000.0;
constexpr std::size_t positions = 3;

/// Users and items shaped like an OBD campaign with `k` items.
struct ObdShape {
  explicit ObdShape(std::size_t k) : items(k) {
    std::mt19937 rng(17);
    // Items: item_feature_0 (numeric), one-hot of a 7-value category, a constant 1 (so the cross
    // with the user also keeps the user's main effects).
    item_dim = 1 + 7 + 1;
    item_rows.assign(k * item_dim, 0.0f);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::size_t i = 0; i < k; ++i) {
      float* row = item_rows.data() + i * item_dim;
      row[0] = normal(rng);
      row[1 + rng() % 7] = 1.0f;
      row[item_dim - 1] = 1.0f;
    }
    // Users: one-hots of 3, 5, 9 and 8 values, k affinities (mostly 0), a constant 1.
    const std::size_t cards[] = {3, 5, 9, 8};
    user_dim = 3 + 5 + 9 + 8 + k + 1;
    users.assign(user_count * user_dim, 0.0f);
    for (std::size_t u = 0; u < user_count; ++u) {
      float* row = users.data() + u * user_dim;
      std::size_t offset = 0;
      for (const std::size_t c : cards) {
        row[offset + rng() % c] = 1.0f;
        offset += c;
      }
      if (rng() % 50 == 0) row[offset + rng() % k] = 1.0f;
      row[user_dim - 1] = 1.0f;
    }
  }
  mr::Context context(std::size_t u) const {
    return {.features = std::span<const float>(users.data() + (u % user_count) * user_dim, user_dim),
            .items = mr::MatrixView(std::span<const float>(item_rows), items, item_dim)};
  }
  static constexpr std::size_t user_count = 1024;
  std::size_t items, item_dim = 0, user_dim = 0;
  mr::AlignedVector<float> item_rows, users;
};

/// Feedback: a click on the first position one time in 20 (about OBD's rate per page).
const mr::Feedback& feedback_for(std::size_t t) {
  static const mr::Feedback none{}, click{.clicked = {0}};
  return t % 20 == 0 ? click : none;
}

void report(benchmark::State& state, const std::string& name, const bench::LoopTimer& timer) {
  const std::string shape = std::to_string(state.range(0));
  const double seconds = timer.record(state, name, shape);
  state.SetItemsProcessed(state.iterations());
  state.counters["decisions_per_s"] = seconds > 0 ? 1.0 / seconds : 0.0;
  state.counters["us_per_decision"] = seconds * 1e6;
  state.counters["x_vw_anchor"] = seconds > 0 ? 1.0 / seconds / vw_decisions_per_second : 0.0;
  bench::ratio_counter(state, "x_naive", "naive_cross", shape, seconds);
}

/// The baseline: a linear model over φ = x ⊗ a, written the obvious way (φ built per item into a
/// vector, a dot product, ε-greedy over the items, an SGD step per shown item).
void naive_cross(benchmark::State& state) {
  const ObdShape shape(static_cast<std::size_t>(state.range(0)));
  const std::size_t d = shape.user_dim * shape.item_dim;
  std::vector<float> w(d, 0.0f);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::size_t t = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    const mr::Context c = shape.context(t);
    std::vector<float> scores(shape.items);
    for (std::size_t i = 0; i < shape.items; ++i) {
      std::vector<float> phi(d);
      for (std::size_t p = 0; p < shape.user_dim; ++p) {
        for (std::size_t q = 0; q < shape.item_dim; ++q) phi[p * shape.item_dim + q] = c.features[p] * c.items.row(i)[q];
      }
      float s = 0.0f;
      for (std::size_t j = 0; j < d; ++j) s += w[j] * phi[j];
      scores[i] = s;
    }
    std::vector<std::size_t> order(shape.items);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::partial_sort(order.begin(), order.begin() + positions, order.end(),
                      [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    if (uniform(rng) < 0.1f) order[0] = rng() % shape.items;
    for (std::size_t pos = 0; pos < positions; ++pos) {
      const float reward = (t % 20 == 0 && pos == 0) ? 1.0f : 0.0f;
      std::vector<float> phi(d);
      for (std::size_t p = 0; p < shape.user_dim; ++p) {
        for (std::size_t q = 0; q < shape.item_dim; ++q) phi[p * shape.item_dim + q] = c.features[p] * c.items.row(order[pos])[q];
      }
      float s = 0.0f;
      for (std::size_t j = 0; j < d; ++j) s += w[j] * phi[j];
      const float step = 0.01f * (reward - s);
      for (std::size_t j = 0; j < d; ++j) w[j] += step * phi[j];
    }
    benchmark::DoNotOptimize(w.data());
    ++t;
  }
  report(state, "naive_cross", timer);
}

template <class AgentType>
void decisions(benchmark::State& state, AgentType agent, const char* name) {
  const ObdShape shape(static_cast<std::size_t>(state.range(0)));
  mr::Decision decision;
  std::size_t t = 0;
  // Warm up: every scratch buffer and pending slot reaches its size.
  for (std::size_t i = 0; i < 2 * agent.config().max_pending; ++i, ++t) {
    agent.recommend(shape.context(t), mr::Candidates::all(shape.items), positions, decision);
    agent.learn(decision.id, feedback_for(t));
  }
  const bench::LoopTimer timer;
  for (auto _ : state) {
    agent.recommend(shape.context(t), mr::Candidates::all(shape.items), positions, decision);
    agent.learn(decision.id, feedback_for(t));
    ++t;
  }
  benchmark::DoNotOptimize(decision.items.data());
  report(state, name, timer);
}

constexpr mr::AgentConfig agent_config{.max_pending = 256};

void linear_cross_egreedy(benchmark::State& state) {
  using A = mr::Agent<mr::LinearQ, mr::EpsilonGreedy>;
  decisions(state,
            A(mr::LinearQ({.features = mr::FeatureMap::cross, .alpha = 0.01f, .gamma = 0.0f,
                           .history_in_state = false}),
              mr::EpsilonGreedy({.epsilon = 0.05}), agent_config),
            "linear_cross_egreedy");
}
void linucb_disjoint(benchmark::State& state) {
  using A = mr::Agent<mr::LinUcb, mr::Ucb>;
  decisions(state,
            A(mr::LinUcb({.mode = mr::LinUcbConfig::Mode::disjoint, .features = mr::FeatureMap::context}),
              mr::Ucb{}, agent_config),
            "linucb_disjoint");
}
void linucb_shared_concat(benchmark::State& state) {
  using A = mr::Agent<mr::LinUcb, mr::Ucb>;
  decisions(state,
            A(mr::LinUcb({.mode = mr::LinUcbConfig::Mode::shared, .features = mr::FeatureMap::concat}),
              mr::Ucb{}, agent_config),
            "linucb_shared_concat");
}
void linthompson_shared_concat(benchmark::State& state) {
  using A = mr::Agent<mr::LinThompson, mr::Thompson>;
  decisions(state,
            A(mr::LinThompson({.mode = mr::LinThompsonConfig::Mode::shared,
                               .features = mr::FeatureMap::concat}),
              mr::Thompson({.propensity_draws = 0}), agent_config),
            "linthompson_shared_concat");
}
void mlp_egreedy(benchmark::State& state) {
  using A = mr::Agent<mr::MlpScorer, mr::EpsilonGreedy>;
  decisions(state, A(mr::MlpScorer({.hidden = {32}}), mr::EpsilonGreedy({.epsilon = 0.05}), agent_config),
            "mlp_egreedy");
}

BENCHMARK(naive_cross)->Arg(34)->Arg(80);
BENCHMARK(linear_cross_egreedy)->Arg(34)->Arg(80);
BENCHMARK(linucb_disjoint)->Arg(34)->Arg(80);
BENCHMARK(linucb_shared_concat)->Arg(34)->Arg(80);
BENCHMARK(linthompson_shared_concat)->Arg(34)->Arg(80);
BENCHMARK(mlp_egreedy)->Arg(34)->Arg(80);

/// recommend() latency over 10⁴ candidates at d = 64 (a user vector scored against every item
/// vector through FeatureMap::concat, i.e. one matrix–vector product and a top-10).
void recommend_latency(benchmark::State& state) {
  const std::size_t n = 10000, d = 64;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  mr::AlignedVector<float> items(n * d), user(d);
  for (float& x : items) x = normal(rng);
  for (float& x : user) x = normal(rng);
  mr::LinearQ model({.features = mr::FeatureMap::concat, .gamma = 0.0f, .history_in_state = false});
  const mr::Context c{.features = user, .items = mr::MatrixView(std::span<const float>(items), n, d)};
  for (std::size_t i = 0; i < 100; ++i) model.update(c, i, normal(rng));
  mr::Agent<mr::LinearQ, mr::Greedy> agent(model, {}, {.max_pending = 64});
  mr::Decision decision;
  std::vector<double> us;
  us.reserve(1 << 20);
  for (int i = 0; i < 200; ++i) agent.recommend(c, mr::Candidates::all(n), 10, decision);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    agent.recommend(c, mr::Candidates::all(n), 10, decision);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(recommend_latency);

}  // namespace
