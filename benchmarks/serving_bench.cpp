// Serving while learning: latency of recommend() on 4 serving threads while one thread learns.
// One iteration = the whole scenario: 4 threads × `calls` recommend() each, 100 candidates of
// dimension 8 under LinUcb with cross features (φ of 64 dimensions: an update is O(64²), a
// refactorisation every 64 updates O(64³)). Counters: p50_us, p99_us, p999_us, max_us of the
// serving calls; learns (learn() calls made meanwhile).
//   serving/alone        ServingAgent, nobody learning (the baseline of the ratios)
//   serving/learning     ServingAgent, a learner thread answering every decision
//   mutex/learning       the alternative: one Agent behind one mutex, the same learner
// x_p99_vs_alone: the alone run's p99 ÷ this run's p99 (1 = learning costs the servers nothing).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/serve/serving_agent.hpp"

namespace {

namespace mr = marl_rec;

constexpr std::size_t serving_threads = 4;
constexpr std::size_t k = 3;
const mr::LinUcbConfig model_config{.features = mr::FeatureMap::cross, .alpha = 0.3f, .refactor_every = 64};

mr::Catalog make_catalog() {
  mr::Rng rng(7);
  mr::Catalog catalog(8);
  std::vector<float> v(8);
  for (std::size_t i = 0; i < 100; ++i) {
    for (float& x : v) x = static_cast<float>(rng.normal());
    catalog.add(mr::numbered_id("item", i), v);
  }
  return catalog;
}

// The model after 500 decisions' worth of updates: sized, and scoring as it will in production.
mr::LinUcb trained_model(const mr::Catalog& catalog) {
  mr::LinUcb model(model_config);
  mr::Rng rng(3);
  std::vector<float> x(8);
  for (int t = 0; t < 500; ++t) {
    for (float& v : x) v = static_cast<float>(rng.normal());
    model.update(mr::Context{.features = x, .items = catalog.embeddings()},
                 static_cast<std::size_t>(rng.below(catalog.size())), rng.bernoulli(0.3) ? 1.0 : 0.0);
  }
  return model;
}

double percentile(std::vector<double>& sorted, double q) {
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())))];
}

struct Figures {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
  std::uint64_t learns = 0;
};

// Runs `serve(t, x, out_id)` on the serving threads (each timing its calls) and, if `learn` is
// set, a learner thread answering decision ids as they come, until the servers are done.
template <class Serve, class Learn>
Figures run(std::size_t calls, Serve serve, Learn learn, bool learning) {
  std::vector<std::vector<double>> latencies(serving_threads);
  std::mutex queue_mutex;
  std::deque<std::uint64_t> queue;
  std::atomic<std::size_t> done{0};
  std::uint64_t learns = 0;
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < serving_threads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<double>& lat = latencies[t];
      lat.reserve(calls);
      mr::Rng rng(t + 1);
      std::vector<float> x(8);
      for (std::size_t i = 0; i < calls; ++i) {
        for (float& v : x) v = static_cast<float>(rng.normal());
        const auto t0 = std::chrono::steady_clock::now();
        const std::uint64_t id = serve(t, x);
        lat.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
        if (learning) {
          const std::lock_guard<std::mutex> lock(queue_mutex);
          queue.push_back(id);
        }
      }
      done.fetch_add(1);
    });
  }
  if (learning) {
    threads.emplace_back([&] {
      mr::Rng rng(99);
      while (done.load() < serving_threads) {
        std::uint64_t id = 0;
        {
          const std::lock_guard<std::mutex> lock(queue_mutex);
          if (!queue.empty()) {
            id = queue.front();
            queue.pop_front();
          }
        }
        if (id == 0) {
          std::this_thread::yield();
          continue;
        }
        learn(id, mr::Feedback{.clicked = {static_cast<std::size_t>(rng.below(k))}});
        ++learns;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  return {percentile(all, 0.5), percentile(all, 0.99), percentile(all, 0.999), all.back(), learns};
}

double& alone_p99() {
  static double value = 0.0;
  return value;
}

void report(benchmark::State& state, const Figures& f, bool baseline) {
  state.counters["p50_us"] = f.p50;
  state.counters["p99_us"] = f.p99;
  state.counters["p999_us"] = f.p999;
  state.counters["max_us"] = f.max;
  state.counters["learns"] = static_cast<double>(f.learns);
  if (baseline) alone_p99() = f.p99;
  if (!baseline && alone_p99() > 0.0) state.counters["x_p99_vs_alone"] = alone_p99() / f.p99;
}

using Serving = mr::ServingAgent<mr::LinUcb, mr::EpsilonGreedy>;

void BM_Serving(benchmark::State& state) {
  const bool learning = state.range(0) != 0;
  const auto calls = static_cast<std::size_t>(state.range(1));
  Figures f;
  for (auto _ : state) {
    const mr::Catalog catalog = make_catalog();
    Serving serving(catalog, trained_model(catalog),
                    [](std::uint64_t seed) { return mr::EpsilonGreedy({.epsilon = 0.1, .seed = seed}); },
                    {.publish_every = 64, .max_pending = std::size_t{1} << 20});
    std::vector<Serving::Reader> readers;
    for (std::size_t t = 0; t < serving_threads; ++t) readers.push_back(serving.reader());
    std::vector<mr::Decision> outs(serving_threads);
    f = run(
        calls,
        [&](std::size_t t, const std::vector<float>& x) {
          readers[t].recommend(mr::Context{.features = x}, k, outs[t]);
          return outs[t].id;
        },
        [&](std::uint64_t id, const mr::Feedback& fb) { serving.learn(id, fb); }, learning);
  }
  report(state, f, !learning);
}

void BM_MutexAgent(benchmark::State& state) {
  const auto calls = static_cast<std::size_t>(state.range(1));
  Figures f;
  for (auto _ : state) {
    const mr::Catalog catalog = make_catalog();
    std::mutex mutex;
    mr::Agent<mr::LinUcb, mr::EpsilonGreedy> agent(trained_model(catalog),
                                                   mr::EpsilonGreedy({.epsilon = 0.1, .seed = 1}),
                                                   {.max_pending = std::size_t{1} << 20});
    std::vector<mr::Decision> outs(serving_threads);
    f = run(
        calls,
        [&](std::size_t t, const std::vector<float>& x) {
          const std::lock_guard<std::mutex> lock(mutex);
          agent.recommend(mr::Context{.features = x, .items = catalog.embeddings()},
                          mr::Candidates::all(catalog.size()), k, outs[t]);
          return outs[t].id;
        },
        [&](std::uint64_t id, const mr::Feedback& fb) {
          const std::lock_guard<std::mutex> lock(mutex);
          agent.learn(id, fb);
        },
        true);
  }
  report(state, f, false);
}

}  // namespace

BENCHMARK(BM_Serving)->Name("serving/alone")->Args({0, 20000})->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Serving)->Name("serving/learning")->Args({1, 20000})->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MutexAgent)->Name("mutex/learning")->Args({1, 20000})->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
