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
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/reference.hpp"

namespace {

using marl_rec::AlignedVector;
using marl_rec::MatrixView;
using marl_rec::ScoredItem;
namespace simd = marl_rec::simd;
namespace bench = marl_rec::bench;

constexpr std::size_t kTop = 10;
constexpr std::size_t kQueries = 256;

struct Data {
  AlignedVector<float> items;
  AlignedVector<float> queries;
  std::size_t n = 0;
  std::size_t d = 0;
  MatrixView view() const { return MatrixView(items, n, d); }
  std::span<const float> query(std::size_t q = 0) const {
    return std::span<const float>(queries).subspan(q * d, d);
  }
};

// One matrix per shape, built once and shared by every benchmark of that shape (10⁶ × 128 is
// 512 MB). Only the most recent shape is kept, so memory stays at one matrix.
const Data& data_for(std::size_t n, std::size_t d) {
  static Data data;
  if (data.n != n || data.d != d) {
    data = Data{};
    data.n = n;
    data.d = d;
    std::mt19937 rng(12345);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    data.items.resize(n * d);
    for (float& x : data.items) x = normal(rng);
    data.queries.resize(kQueries * d);
    for (float& x : data.queries) x = normal(rng);
  }
  return data;
}

const Data& data_for(const benchmark::State& state) {
  return data_for(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)));
}

std::string shape_of(const benchmark::State& state) {
  return std::to_string(state.range(0)) + "x" + std::to_string(state.range(1));
}

// A plain streaming read: the sum of every float, four accumulators so that arithmetic is never
// the limit.
float stream_sum(const float* p, std::size_t count) {
  using Batch = xsimd::batch<float, xsimd::default_arch>;
  constexpr std::size_t w = Batch::size;
  Batch a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
  std::size_t i = 0;
  for (; i + 4 * w <= count; i += 4 * w) {
    a0 += Batch::load_aligned(p + i);
    a1 += Batch::load_aligned(p + i + w);
    a2 += Batch::load_aligned(p + i + 2 * w);
    a3 += Batch::load_aligned(p + i + 3 * w);
  }
  float s = marl_rec::simd::compat::reduce_add((a0 + a1) + (a2 + a3));
  for (; i < count; ++i) s += p[i];
  return s;
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
  for (auto _ : state) benchmark::DoNotOptimize(stream_sum(data.items.data(), data.items.size()));
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
