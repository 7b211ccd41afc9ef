// One iALS epoch (fit with epochs = 1: user and item solves once each, plus the set-up) on
// InstEval (73k ratings, 2,972 users × 1,128 items, 64 factors) when the shared data is there,
// else on a random data set of the same shape. Cholesky solves are the baseline; the conjugate-
// gradient solver (3 steps) reports x_cholesky = Cholesky time / its time, from the same run.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <filesystem>
#include <random>
#include <string>

#include "bench_support.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/io/interactions_csv.hpp"
#include "marl_rec/models/matrix_factorization.hpp"

namespace {

namespace mr = marl_rec;
namespace bench = marl_rec::bench;

const mr::Interactions& data() {
  static const mr::Interactions d = [] {
#ifdef MARL_REC_SHARED_DATA_DIR
    const std::string path = std::string(MARL_REC_SHARED_DATA_DIR) + "/insteval/ratings.csv";
    if (std::filesystem::exists(path)) return mr::io::read_interactions_csv(path);
#endif
    mr::Interactions out;
    std::mt19937 rng(1);
    for (std::size_t r = 0; r < 73421; ++r) {
      out.rows.push_back({.user = out.users.intern(mr::numbered_id("u", rng() % 2972)),
                          .item = out.items.intern(mr::numbered_id("i", rng() % 1128)),
                          .rating = 1.0f, .timestamp = 0.0, .source_row = r});
    }
    return out;
  }();
  return d;
}

template <mr::MatrixFactorizationConfig::Solver S>
void ials_epoch(benchmark::State& state) {
  const mr::Interactions& train = data();
  const bool cg = S == mr::MatrixFactorizationConfig::Solver::conjugate_gradient;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    mr::MatrixFactorization model({.factors = 64, .epochs = 1, .solver = S});
    model.fit(train);
    benchmark::DoNotOptimize(model.item_factors().data());
  }
  const double seconds = timer.record(state, cg ? "ials_cg" : "ials_cholesky", "insteval");
  state.counters["ms_per_epoch"] = seconds * 1e3;
  state.counters["interactions_per_s"] =
      benchmark::Counter(static_cast<double>(train.size()), benchmark::Counter::kIsIterationInvariantRate);
  if (cg) bench::ratio_counter(state, "x_cholesky", "ials_cholesky", "insteval", seconds);
}

BENCHMARK(ials_epoch<mr::MatrixFactorizationConfig::Solver::cholesky>)->Unit(benchmark::kMillisecond);
BENCHMARK(ials_epoch<mr::MatrixFactorizationConfig::Solver::conjugate_gradient>)->Unit(benchmark::kMillisecond);

}  // namespace
