// The TD(0) update over arrays (simd::td_update) against its scalar twin
// (simd::reference::td_update), in elements/s, with the ratio as counter x_reference.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/reference.hpp"

namespace {

namespace bench = marl_rec::bench;

struct Arrays {
  explicit Arrays(std::size_t n) : q(n), reward(n), next_max(n) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::size_t i = 0; i < n; ++i) {
      q[i] = normal(rng);
      reward[i] = normal(rng);
      next_max[i] = normal(rng);
    }
  }
  marl_rec::AlignedVector<float> q, reward, next_max;
};

template <bool Simd>
void td(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  Arrays a(n);
  const bench::LoopTimer timer;
  for (auto _ : state) {
    // alpha small and gamma < 1 keep q bounded however many iterations run.
    if constexpr (Simd) {
      marl_rec::simd::td_update(a.q, a.reward, a.next_max, 0.01f, 0.9f);
    } else {
      marl_rec::simd::reference::td_update(a.q, a.reward, a.next_max, 0.01f, 0.9f);
    }
    benchmark::DoNotOptimize(a.q.data());
  }
  const double seconds = timer.record(state, Simd ? "TdUpdate" : "TdUpdateReference",
                                      std::to_string(n));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
  if constexpr (Simd) bench::ratio_counter(state, "x_reference", "TdUpdateReference", std::to_string(n), seconds);
}

}  // namespace

BENCHMARK(td<false>)->Name("TdUpdateReference")->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(td<true>)->Name("TdUpdate")->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
