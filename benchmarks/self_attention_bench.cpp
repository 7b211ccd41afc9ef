// SelfAttentionRecommender (SASRec) training and inference against baselines in the same run, on
// the sequential users of eval::SequentialUsers (1,000 users, 2,000 items, about 30,000
// interactions; docs/simulator.md):
//  - Training: one fit() of 3 epochs (single-threaded; the final encoding of every user is
//    included, about a tenth of the time), items_per_second = trained positions (tokens) per
//    second. Baseline: Item2Vec (window 5, 5 negatives, dim 64, no subsampling) fitted for 3 epochs on the same
//    interactions, items_per_second = item occurrences per second; x_item2vec = Item2Vec's time /
//    SASRec's time for the same data and epochs.
//  - Inference for one user: score_sequence over a history of 10 or 50 items (the network's
//    forward pass, then every item's embedding · the output). Baselines: DotScoreAll, a plain
//    dot-product scoring of all items (simd::score of one d-vector against the item embeddings,
//    what score_user costs for a user encoded at fit), and MostPopScoreUser (copying the counts);
//    x_dot = DotScoreAll's time / this time (below 1: slower), x_mostpop likewise.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "marl_rec/embed/item2vec.hpp"
#include "marl_rec/eval/sequential_users.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "marl_rec/models/self_attention_recommender.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace {

namespace bench = marl_rec::bench;

const marl_rec::eval::SequentialUsers& world() {
  static const marl_rec::eval::SequentialUsers w({.users = 1000, .seed = 5});
  return w;
}

// Fitted once per dim (3 epochs), for the inference benchmarks. A std::map: a reference to a
// model stays valid when another dim is added (a vector's would dangle on reallocation).
const marl_rec::SelfAttentionRecommender& fitted(std::size_t dim) {
  static std::map<std::size_t, marl_rec::SelfAttentionRecommender> models;
  if (const auto found = models.find(dim); found != models.end()) return found->second;
  marl_rec::SelfAttentionRecommender m({.dim = dim, .epochs = 3, .min_steps = 0});
  m.fit(world().interactions());
  return models.emplace(dim, std::move(m)).first->second;
}

void Item2VecFit(benchmark::State& state) {
  const auto& data = world().interactions();
  std::uint64_t words = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    marl_rec::Item2Vec model({.dim = 64, .window = 5, .negatives = 5, .epochs = 3, .subsample = 0.0, .seed = 1});
    model.fit(data);
    words += 3 * data.rows.size();
    benchmark::DoNotOptimize(model.vectors().data());
  }
  timer.record(state, "Item2VecFit", "");
  state.SetItemsProcessed(static_cast<int64_t>(words));
}

void SasrecFit(benchmark::State& state) {
  const auto dim = static_cast<std::size_t>(state.range(0));
  const auto blocks = static_cast<std::size_t>(state.range(1));
  const auto& data = world().interactions();
  // Trained positions per epoch: every item but each user's first.
  const std::uint64_t positions = data.rows.size() - data.users.size();
  std::uint64_t tokens = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    marl_rec::SelfAttentionRecommender model({.dim = dim, .blocks = blocks, .epochs = 3, .min_steps = 0});
    model.fit(data);
    tokens += 3 * positions;
    benchmark::DoNotOptimize(model.parameters().item.data());
  }
  const double seconds = timer.record(state, "SasrecFit", std::to_string(dim) + "/" + std::to_string(blocks));
  state.SetItemsProcessed(static_cast<int64_t>(tokens));
  bench::ratio_counter(state, "x_item2vec", "Item2VecFit", "", seconds);
}

void DotScoreAll(benchmark::State& state) {
  const auto dim = static_cast<std::size_t>(state.range(0));
  const auto& model = fitted(dim);
  const auto& e = model.parameters().item;
  const marl_rec::MatrixView items(std::span<const float>(e.data(), static_cast<std::size_t>(e.size())),
                                   model.items(), dim);
  std::vector<float> query(dim, 0.1f), scores(model.items());
  const bench::LoopTimer timer;
  for (auto _ : state) {
    marl_rec::simd::score(query, items, scores);
    benchmark::DoNotOptimize(scores.data());
  }
  timer.record(state, "DotScoreAll", std::to_string(dim));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * model.items()));
}

void MostPopScoreUser(benchmark::State& state) {
  marl_rec::MostPopular model;
  model.fit(world().interactions());
  std::vector<float> scores(world().interactions().items.size());
  const bench::LoopTimer timer;
  for (auto _ : state) {
    model.score_user(0, scores);
    benchmark::DoNotOptimize(scores.data());
  }
  timer.record(state, "MostPopScoreUser", "");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * scores.size()));
}

void SasrecScoreSequence(benchmark::State& state) {
  const auto dim = static_cast<std::size_t>(state.range(0));
  const auto length = static_cast<std::size_t>(state.range(1));
  const auto& model = fitted(dim);
  std::vector<std::size_t> history;
  for (std::size_t i = 0; i < length; ++i) history.push_back((i * 37) % model.items());
  std::vector<float> scores(model.items());
  model.score_sequence(history, scores);  // the thread's workspace grows once
  const bench::LoopTimer timer;
  for (auto _ : state) {
    model.score_sequence(history, scores);
    benchmark::DoNotOptimize(scores.data());
  }
  const double seconds = timer.record(state, "SasrecScoreSequence", std::to_string(dim) + "/" + std::to_string(length));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * model.items()));
  bench::ratio_counter(state, "x_dot", "DotScoreAll", std::to_string(dim), seconds);
  bench::ratio_counter(state, "x_mostpop", "MostPopScoreUser", "", seconds);
}

// Each baseline runs before what compares to it.
void register_all() {
  benchmark::RegisterBenchmark("Item2VecFit", Item2VecFit)->Unit(benchmark::kMillisecond)->UseRealTime();
  for (const long dim : {32L, 64L}) {
    benchmark::RegisterBenchmark("SasrecFit", SasrecFit)->Args({dim, 2})->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::RegisterBenchmark("MostPopScoreUser", MostPopScoreUser)->Unit(benchmark::kMicrosecond)->UseRealTime();
  for (const long dim : {32L, 64L}) {
    benchmark::RegisterBenchmark("DotScoreAll", DotScoreAll)->Arg(dim)->Unit(benchmark::kMicrosecond)->UseRealTime();
    for (const long length : {10L, 50L}) {
      benchmark::RegisterBenchmark("SasrecScoreSequence", SasrecScoreSequence)
          ->Args({dim, length})->Unit(benchmark::kMicrosecond)->UseRealTime();
    }
  }
}

const int kRegistered = (register_all(), 0);

}  // namespace
