// Agents on OBD-shaped decisions (the Open Bandit Dataset's shape: 34 or 80 items with 8 item
// features, a user of 4 one-hot categorical features plus one affinity per item, 3 positions):
// one iteration = recommend 3 items, then learn from the feedback on all 3 (3 model updates).
// Counters: decisions_per_s, us_per_decision; x_naive = speed-up over a straightforward cross-
// feature learner measured in the same run (it materialises φ = x ⊗ a for every item);
// x_vw_anchor = decisions/s ÷ 45,000 (Vowpal Wabbit --cb_explore_adf -q on this machine, as
// measured for the issue; VW itself is not packaged for Debian 12, so it is not rerun here).
//
// Also: recommend() latency percentiles for 10⁴ candidates at d = 64 (counters p50_us, p99_us),
// and the end-to-end serving latency of issue 9 (agent_recommend_e2e: LinUcb over 10⁵ items at
// d = 64 proposing 100, a MultiObjective re-ranking them to 10; wall-clock p50_us, p99_us,
// p999_us and CPU-time cpu_p50_us, cpu_p99_us), with two baselines from the same run: the agent's
// own top 10 without the re-rank, and the pipeline ranked by the posterior mean alone (no bonus).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <random>
#include <ratio>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "bench_support.hpp"
#include "marl_rec/agent/agent.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/explore/ucb.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/mlp_scorer.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/novelty.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "marl_rec/objective/revenue.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"

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

// --- End to end (issue 9): "Agent::recommend (LinUcb, 10⁵ items, d = 64, MultiObjective re-rank
// of the top 100 down to 10): p99 <= 5 ms on one core". The composition is the public one of
// docs/getting_started.md §4: recommend k = 100, MultiObjective::rank to 10, set_shown, learn.
//
// Feature map: concat, φ = [x, a] (d = 128). The user context is a 64-d vector and so is every
// item; cross (x ⊗ a) would be 4096-d (A alone 128 MB, an update 16 M multiply-adds) and item
// ignores the user. concat's per-candidate cost is that of the 64 × 64 item block of A⁻¹ plus a
// 64-d dot (the user block is paid once per call), the same d² = 4096 per item as `item`.

/// A shop of 10⁵ items with unit-norm N(0, 1) 64-d vectors (cosine geometry, as text and LLM
/// embeddings are normalised), made-up prices and log-normal popularity, and 256 users with
/// unit-norm 64-d vectors. Built once per process (about a second).
struct E2eShop {
  static constexpr std::size_t items = 100000, dim = 64, users = 256;
  mr::Catalog catalog{dim};
  mr::AlignedVector<float> user_rows = mr::AlignedVector<float>(users * dim);
  std::vector<float> taste = std::vector<float>(dim);  // the simulated shoppers' common taste

  E2eShop() {
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::vector<float> row(dim);
    for (std::size_t i = 0; i < items; ++i) {
      for (float& v : row) v = normal(rng);
      mr::simd::l2_normalize(std::span<float>(row));
      mr::ItemAttributes attributes;
      attributes.price = std::round(100.0f * (1.0f + 49.0f * uniform(rng))) / 100.0f;  // 1 .. 50
      attributes.popularity = std::floor(std::exp(2.0f * normal(rng) + 3.0f));
      catalog.add(mr::numbered_id("item", i), row, std::move(attributes));
    }
    for (float& v : user_rows) v = normal(rng);
    mr::simd::normalize_rows(mr::MutableMatrixView(std::span<float>(user_rows), users, dim));
    for (float& v : taste) v = normal(rng);
    mr::simd::l2_normalize(std::span<float>(taste));
  }

  mr::Context context(std::size_t t) const {
    return {.features = std::span<const float>(user_rows.data() + (t % users) * dim, dim),
            .items = catalog.embeddings()};
  }

  /// Simulated feedback on the positions shown: a click with probability 0.05 + 0.5 (a·taste +
  /// a·x)⁺, clamped to 1 (what concat can learn is the taste part).
  mr::Feedback feedback(const mr::Context& c, const mr::Decision& d, std::span<const std::size_t> shown,
                        std::mt19937& rng) const {
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    mr::Feedback f;
    for (const std::size_t position : shown) {
      const std::span<const float> a = c.items.row(d.items[position]);
      const float affinity = mr::simd::dot(a, taste) + mr::simd::dot(a, c.features);
      if (uniform(rng) < 0.05f + 0.5f * std::max(affinity, 0.0f)) f.clicked.push_back(position);
    }
    return f;
  }
};

const E2eShop& e2e_shop() {
  static const E2eShop shop;
  return shop;
}

/// relevance + revenue + diversity (MMR on the item vectors) + novelty.
using E2eRanking = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<55, 100>>,
                                      mr::Weighted<mr::Revenue, std::ratio<15, 100>>,
                                      mr::Weighted<mr::Diversity, std::ratio<20, 100>>,
                                      mr::Weighted<mr::Novelty, std::ratio<10, 100>>>;
constexpr std::size_t e2e_proposals = 100, e2e_page = 10;

/// One served page: recommend 100, re-rank to 10, narrow the decision to them.
template <class AgentType>
void serve_page(AgentType& agent, E2eRanking& ranking, const mr::Context& c, mr::Decision& decision,
                mr::RankedList& page) {
  agent.recommend(c, mr::Candidates::all(E2eShop::items), e2e_proposals, decision);
  ranking.rank({.items = decision.items, .relevance = decision.scores, .catalog = &e2e_shop().catalog},
               e2e_page, page);
  agent.set_shown(decision.id, page.positions);
}

/// A LinUcb (concat, α = 1, λ = 1) that has served 500 pages and learned from their clicks
/// (5,000 updates, so A⁻¹ is far from the identity and shaped by the agent's own choices, as in
/// production). Trained once per process (500 recommends over 10⁵ items: seconds).
const mr::LinUcb& e2e_trained_model() {
  static const mr::LinUcb model = [] {
    const E2eShop& shop = e2e_shop();
    mr::Agent<mr::LinUcb, mr::Ucb> agent(mr::LinUcb({.features = mr::FeatureMap::concat}), mr::Ucb{},
                                         {.max_pending = 64});
    E2eRanking ranking;
    mr::Decision decision;
    mr::RankedList page;
    std::mt19937 rng(21);
    for (std::size_t t = 0; agent.model().updates() < 5000; ++t) {
      const mr::Context c = shop.context(t);
      serve_page(agent, ranking, c, decision, page);
      agent.learn(decision.id, shop.feedback(c, decision, page.positions, rng));
    }
    return agent.model();
  }();
  return model;
}

/// Latency percentiles of serve(agent, ranking, context, decision, page) for an agent of the
/// trained model and `Explorer`; serve returns the decision positions shown, and the agent learns
/// from the simulated clicks on them between iterations (untimed). Single thread. Counters:
/// p50_us, p99_us, p999_us (wall clock, what a user waits: preemption on a busy machine counts),
/// cpu_p50_us, cpu_p99_us (this process's CPU time: what the code costs), exact_bonus_share (Ucb:
/// the share of candidates whose bonus was computed, not pruned), and, when `baseline`
/// ran before in the same process, x_<baseline> = its median ÷ this median (wall clock).
template <class Explorer, class Serve>
void e2e_latency(benchmark::State& state, const char* name, const char* baseline, Serve serve) {
  const E2eShop& shop = e2e_shop();
  mr::Agent<mr::LinUcb, Explorer> agent(e2e_trained_model(), Explorer{}, {.max_pending = 256});
  E2eRanking ranking;
  mr::Decision decision;
  mr::RankedList page;
  std::mt19937 rng(33);
  std::vector<double> wall_us, cpu_us;
  wall_us.reserve(1 << 16);
  cpu_us.reserve(1 << 16);
  std::size_t t = 0;
  double exact_bonuses = 0.0;  // summed over the timed iterations (Ucb: LinUcb's pruned top k)
  const auto one = [&](bool timed) {
    const mr::Context c = shop.context(t++);
    const std::clock_t cpu_start = std::clock();
    const auto start = std::chrono::steady_clock::now();
    const std::span<const std::size_t> shown = serve(agent, ranking, c, decision, page);
    const auto stop = std::chrono::steady_clock::now();
    const std::clock_t cpu_stop = std::clock();
    if (timed) {
      wall_us.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
      cpu_us.push_back(1e6 * static_cast<double>(cpu_stop - cpu_start) / CLOCKS_PER_SEC);
      exact_bonuses += static_cast<double>(mr::detail::linear_scratch().exact_bonuses);
    }
    agent.learn(decision.id, shop.feedback(c, decision, shown, rng));
  };
  for (int i = 0; i < 20; ++i) one(false);  // scratch buffers reach their size
  for (auto _ : state) one(true);
  const auto at = [](std::vector<double>& v, std::size_t per_mille) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, v.size() * per_mille / 1000)];
  };
  state.counters["p50_us"] = at(wall_us, 500);
  state.counters["p99_us"] = at(wall_us, 990);
  state.counters["p999_us"] = at(wall_us, 999);
  state.counters["cpu_p50_us"] = at(cpu_us, 500);
  state.counters["cpu_p99_us"] = at(cpu_us, 990);
  if constexpr (std::is_same_v<Explorer, mr::Ucb>) {
    // The share of candidates whose bonus α·sqrt(φᵀA⁻¹φ) was computed exactly (the rest were
    // pruned by their upper bound; see LinUcb::upper_bound_top_k).
    state.counters["exact_bonus_share"] =
        exact_bonuses / (static_cast<double>(wall_us.size()) * static_cast<double>(E2eShop::items));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(E2eShop::items));
  const double median_s = at(wall_us, 500) * 1e-6;
  bench::seconds_per_iteration()[{name, "e2e"}] = median_s;
  if (baseline != nullptr) {
    bench::ratio_counter(state, (std::string("x_") + baseline).c_str(), baseline, "e2e", median_s);
  }
}

/// Baseline: the same LinUcb agent serving its own top 10, no re-rank.
void agent_recommend_e2e_linucb_top10(benchmark::State& state) {
  std::vector<std::size_t> all_shown;
  e2e_latency<mr::Ucb>(state, "agent_recommend_e2e_linucb_top10", nullptr,
                       [&](auto& agent, E2eRanking&, const mr::Context& c, mr::Decision& decision,
                           mr::RankedList&) -> std::span<const std::size_t> {
                         agent.recommend(c, mr::Candidates::all(E2eShop::items), e2e_page, decision);
                         all_shown.resize(decision.items.size());
                         for (std::size_t p = 0; p < all_shown.size(); ++p) all_shown[p] = p;
                         return all_shown;
                       });
}

/// Floor: the same pipeline ranking by the posterior mean θ·φ alone (Greedy: no exploration
/// bonus, so no φᵀA⁻¹φ per item), to show what the bonus costs.
void agent_recommend_e2e_greedy_mean(benchmark::State& state) {
  e2e_latency<mr::Greedy>(state, "agent_recommend_e2e_greedy_mean", nullptr,
                          [](auto& agent, E2eRanking& ranking, const mr::Context& c, mr::Decision& decision,
                             mr::RankedList& page) -> std::span<const std::size_t> {
                            serve_page(agent, ranking, c, decision, page);
                            return page.positions;
                          });
}

/// The target: LinUcb proposes 100, the MultiObjective re-ranks them to 10.
void agent_recommend_e2e(benchmark::State& state) {
  e2e_latency<mr::Ucb>(state, "agent_recommend_e2e", "agent_recommend_e2e_linucb_top10",
                       [](auto& agent, E2eRanking& ranking, const mr::Context& c, mr::Decision& decision,
                          mr::RankedList& page) -> std::span<const std::size_t> {
                         serve_page(agent, ranking, c, decision, page);
                         return page.positions;
                       });
}

// 2,000 samples each: p999 is the second-slowest.
BENCHMARK(agent_recommend_e2e_linucb_top10)->Iterations(2000)->Unit(benchmark::kMillisecond);
BENCHMARK(agent_recommend_e2e_greedy_mean)->Iterations(2000)->Unit(benchmark::kMillisecond);
BENCHMARK(agent_recommend_e2e)->Iterations(2000)->Unit(benchmark::kMillisecond);

}  // namespace
