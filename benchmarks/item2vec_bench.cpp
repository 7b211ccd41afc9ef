// Item2Vec training throughput against its scalar baseline, in the same run on the same corpus:
//  - Reference: the training loop with the scalar twins of the kernels (ReferenceDotAxpy:
//    simd::reference::dot / axpy, double accumulators) — what the loop costs without SIMD;
//  - Simd: the same loop with simd::dot / simd::axpy (the default Item2Vec).
// One iteration is one fit() of one epoch (initialisation included, < 2% of the time) over a
// synthetic corpus: 20,000 items in 200 clusters of 100, 10,000 sessions of 20 items drawn within
// one cluster each (200,000 words), window 5, 5 negatives, subsampling off.
// Counters: items_per_second = words (item occurrences) per second, pairs_per_second = (context,
// item) pairs trained per second; on Simd, x_reference = Reference's time / its time.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "bench_support.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/embed/item2vec.hpp"

namespace {

namespace bench = marl_rec::bench;

constexpr std::size_t kItems = 20000;
constexpr std::size_t kClusterSize = 100;
constexpr std::size_t kSessions = 10000;
constexpr std::size_t kLength = 20;

const std::vector<std::vector<std::size_t>>& corpus() {
  static const std::vector<std::vector<std::size_t>> sessions = [] {
    marl_rec::Rng rng(2024);
    std::vector<std::vector<std::size_t>> out(kSessions);
    for (auto& session : out) {
      const std::size_t base = rng.below(kItems / kClusterSize) * kClusterSize;
      for (std::size_t i = 0; i < kLength; ++i) session.push_back(base + rng.below(kClusterSize));
    }
    return out;
  }();
  return sessions;
}

template <class Ops>
void train(benchmark::State& state, const char* name) {
  const auto dim = static_cast<std::size_t>(state.range(0));
  const auto& sessions = corpus();
  const typename marl_rec::BasicItem2Vec<Ops>::Config config{
      .dim = dim, .window = 5, .negatives = 5, .epochs = 1, .subsample = 0.0, .seed = 1};
  std::uint64_t words = 0, pairs = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    marl_rec::BasicItem2Vec<Ops> model(config);
    model.fit(sessions, kItems);
    words += model.last_training().words;
    pairs += model.last_training().pairs;
    benchmark::DoNotOptimize(model.vectors().data());
  }
  const double seconds = timer.record(state, name, std::to_string(dim));
  state.SetItemsProcessed(static_cast<int64_t>(words));
  state.counters["pairs_per_second"] =
      benchmark::Counter(static_cast<double>(pairs), benchmark::Counter::kIsRate);
  if constexpr (std::is_same_v<Ops, marl_rec::SimdDotAxpy>) {
    bench::ratio_counter(state, "x_reference", "Item2VecReference", std::to_string(dim), seconds);
  }
}

void Item2VecReference(benchmark::State& state) {
  train<marl_rec::ReferenceDotAxpy>(state, "Item2VecReference");
}
void Item2VecSimd(benchmark::State& state) { train<marl_rec::SimdDotAxpy>(state, "Item2VecSimd"); }

// The baseline of a dim runs before the kernel that compares to it.
void register_all() {
  for (const long dim : {64L, 128L}) {
    benchmark::RegisterBenchmark("Item2VecReference", Item2VecReference)
        ->Arg(dim)->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark("Item2VecSimd", Item2VecSimd)
        ->Arg(dim)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
}

const int kRegistered = (register_all(), 0);

}  // namespace
