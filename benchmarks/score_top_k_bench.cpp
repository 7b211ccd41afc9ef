// Fused score + top-k against its yardsticks, all measured in the same run on the same data:
//  - StreamRead: a plain SIMD sum over the whole item matrix — the memory ceiling: nothing that
//    reads every item once can be faster;
//  - NaiveEigen: Eigen's matrix-vector product into a score array, then std::nth_element and a
//    sort of the k best — what one writes without a fused kernel.
// Counters: bytes_per_second of item matrix read; on FusedTopK, of_ceiling (StreamRead's time /
// this time) and x_naive (NaiveEigen's time / this time), and max_abs_err of the returned scores
// against the double-precision reference. BatchTopK scores 8 queries per pass over the matrix.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/batch_top_k.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/reference.hpp"

namespace {

using marl_rec::MatrixView;
using marl_rec::ScoredItem;
namespace simd = marl_rec::simd;
namespace bench = marl_rec::bench;

constexpr std::size_t kTop = 10;

using Data = bench::NormalData;

// The shared N(0, 1) data of the shape (bench_support.hpp: one matrix at a time).
const Data& data_for(const benchmark::State& state) {
  return bench::normal_data(static_cast<std::size_t>(state.range(0)),
                            static_cast<std::size_t>(state.range(1)));
}

std::string shape_of(const benchmark::State& state) {
  return std::to_string(state.range(0)) + "x" + std::to_string(state.range(1));
}

void set_bytes(benchmark::State& state, const Data& data, std::size_t passes = 1) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(passes * data.n * data.d * sizeof(float)));
}

// Largest |score - double-precision reference score| over the returned items.
double max_abs_error(const Data& data, std::span<const float> query,
                     std::span<const ScoredItem> got) {
  double err = 0.0;
  for (const ScoredItem& item : got) {
    const float want = simd::reference::dot(data.view().row(item.index), query);
    err = std::max(err, std::fabs(double(item.score) - double(want)));
  }
  return err;
}

}  // namespace

static void StreamRead(benchmark::State& state) {
  const Data& data = data_for(state);
  const bench::LoopTimer timer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(bench::stream_sum(data.items.data(), data.items.size()));
  }
  timer.record(state, "StreamRead", shape_of(state));
  set_bytes(state, data);
}

static void NaiveEigen(benchmark::State& state) {
  const Data& data = data_for(state);
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const RowMajor> items(data.items.data(), static_cast<Eigen::Index>(data.n),
                                         static_cast<Eigen::Index>(data.d));
  const Eigen::Map<const Eigen::VectorXf> query(data.queries.data(),
                                                static_cast<Eigen::Index>(data.d));
  Eigen::VectorXf scores(static_cast<Eigen::Index>(data.n));
  std::vector<ScoredItem> all(data.n);
  const bench::LoopTimer timer;
  for (auto _ : state) {
    scores.noalias() = items * query;
    for (std::size_t i = 0; i < data.n; ++i) all[i] = {i, scores[static_cast<Eigen::Index>(i)]};
    const std::size_t k = std::min(kTop, data.n);
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                     marl_rec::ranks_before);
    std::sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), marl_rec::ranks_before);
    benchmark::DoNotOptimize(all.data());
  }
  timer.record(state, "NaiveEigen", shape_of(state));
  set_bytes(state, data);
}

static void FusedTopK(benchmark::State& state) {
  const Data& data = data_for(state);
  std::vector<ScoredItem> out(kTop);
  std::size_t got = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    got = simd::score_top_k(data.query(), data.view(), kTop, out);
    benchmark::DoNotOptimize(out.data());
  }
  const double seconds = timer.record(state, "FusedTopK", shape_of(state));
  set_bytes(state, data);
  bench::ratio_counter(state, "of_ceiling", "StreamRead", shape_of(state), seconds);
  bench::ratio_counter(state, "x_naive", "NaiveEigen", shape_of(state), seconds);
  state.counters["max_abs_err"] =
      max_abs_error(data, data.query(), std::span<const ScoredItem>(out).first(got));
}

// 8 queries per call: the matrix is read once per block for all of them.
static void BatchTopK8(benchmark::State& state) {
  const Data& data = data_for(state);
  constexpr std::size_t nq = 8;
  const MatrixView queries(std::span<const float>(data.queries).first(nq * data.d), nq, data.d);
  std::vector<ScoredItem> out(nq * kTop);
  std::vector<std::size_t> counts(nq);
  const bench::LoopTimer timer;
  for (auto _ : state) {
    simd::score_top_k_batch(queries, data.view(), kTop, out, counts);
    benchmark::DoNotOptimize(out.data());
  }
  const double seconds = timer.record(state, "BatchTopK8", shape_of(state));
  set_bytes(state, data, nq);  // bytes of matrix that 8 single queries would read
  state.counters["ms_per_query"] = seconds * 1e3 / nq;
  bench::ratio_counter(state, "x_single", "FusedTopK", shape_of(state), seconds / nq);
}

// Registration order matters: the baselines of a shape run before the kernels that compare to
// them. Shapes are the outer loop so that each matrix is built once.
static void register_all() {
  for (const auto& [n, d] : std::vector<std::pair<long, long>>{
           {100000, 64}, {100000, 128}, {1000000, 64}, {1000000, 128}}) {
    for (const auto& [name, fn] : std::vector<std::pair<const char*, void (*)(benchmark::State&)>>{
             {"StreamRead", StreamRead},
             {"NaiveEigen", NaiveEigen},
             {"FusedTopK", FusedTopK},
             {"BatchTopK8", BatchTopK8}}) {
      benchmark::RegisterBenchmark(name, fn)->Args({n, d})->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  }
}

static const int kRegistered = (register_all(), 0);
