// Top-k over reduced-precision item storage (bf16, int8 with a scale per row) against the float32
// memory ceiling, all in the same run on the same N(0, 1) data as score_top_k_bench.cpp:
//  - Fp32StreamRead: a plain SIMD sum over the float32 matrix — the ceiling of any float32 scan;
//  - Fp32TopK: simd::score_top_k on the float32 matrix (runs at that ceiling);
//  - Bf16TopK / Int8TopK: the top-k by approximate (quantised) score;
//  - Bf16TopKExact / Int8TopKExact: the exact float32 top-k through the quantised matrix
//    (quantised scan, certified re-scoring, float32 fallback).
// Shapes: N in {10^4, 10^5, 10^6} x d in {64, 128}. At 10^4 every matrix sits in cache, so there
// bytes_per_second is what the kernel can compute, to compare with what DRAM streams at 10^6 (a
// kernel is memory-bound when the first exceeds the second).
// The timed loops cycle through 64 queries. Counters: x_fp32_ceiling (Fp32StreamRead's time /
// this time), x_fp32_topk (Fp32TopK's time / this time), recall_at_10 against the float32 top-10
// over the 64 queries (before re-scoring for the approximate kernels), and for the exact ones
// certified (fraction of queries answered without the float32 fallback) and mismatches (queries
// whose answer differs in any bit from score_top_k on float32: must be 0). bytes_per_second counts
// the bytes of the matrix each benchmark reads.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/quantized_matrix.hpp"

namespace {

using marl_rec::Bf16Matrix;
using marl_rec::Int8Matrix;
using marl_rec::MatrixView;
using marl_rec::ScoredItem;
namespace simd = marl_rec::simd;
namespace bench = marl_rec::bench;

constexpr std::size_t kTop = 10;
constexpr std::size_t kQueries = 64;

// The shape's float32 data, its quantised copies and the float32 top-10 of each query, built once
// per shape (benchmarks are registered shape by shape).
struct Shape {
  const bench::NormalData* data = nullptr;
  Bf16Matrix bf16;
  Int8Matrix int8;
  std::vector<std::vector<ScoredItem>> truth;
};

const Shape& shape_data(const benchmark::State& state) {
  static Shape shape;
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto d = static_cast<std::size_t>(state.range(1));
  if (shape.data == nullptr || shape.data->n != n || shape.data->d != d) {
    shape = Shape{};
    shape.data = &bench::normal_data(n, d);
    shape.bf16 = Bf16Matrix::quantize(shape.data->view());
    shape.int8 = Int8Matrix::quantize(shape.data->view());
    for (std::size_t q = 0; q < kQueries; ++q) {
      std::vector<ScoredItem> top(kTop);
      top.resize(simd::score_top_k(shape.data->query(q), shape.data->view(), kTop, top));
      shape.truth.push_back(std::move(top));
    }
  }
  return shape;
}

std::string shape_of(const benchmark::State& state) {
  return std::to_string(state.range(0)) + "x" + std::to_string(state.range(1));
}

// The fraction of `truth`'s items that `got` holds.
double recall(std::span<const ScoredItem> got, const std::vector<ScoredItem>& truth) {
  std::size_t hits = 0;
  for (const ScoredItem& t : truth) {
    hits += std::any_of(got.begin(), got.end(), [&](const ScoredItem& g) { return g.index == t.index; })
                ? 1
                : 0;
  }
  return truth.empty() ? 1.0 : double(hits) / double(truth.size());
}

// items_per_second counts the items scanned (N per query), as peers_bench.cpp does.
void report(benchmark::State& state, const std::string& name, const bench::LoopTimer& timer,
            std::size_t bytes_per_pass) {
  const double seconds = timer.record(state, name, shape_of(state));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes_per_pass));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  bench::ratio_counter(state, "x_fp32_ceiling", "Fp32StreamRead", shape_of(state), seconds);
  bench::ratio_counter(state, "x_fp32_topk", "Fp32TopK", shape_of(state), seconds);
}

std::size_t fp32_bytes(const Shape& s) { return s.data->n * s.data->d * sizeof(float); }

}  // namespace

static void Fp32StreamRead(benchmark::State& state) {
  const Shape& s = shape_data(state);
  const bench::LoopTimer timer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(bench::stream_sum(s.data->items.data(), s.data->items.size()));
  }
  report(state, "Fp32StreamRead", timer, fp32_bytes(s));
}

static void Fp32TopK(benchmark::State& state) {
  const Shape& s = shape_data(state);
  std::vector<ScoredItem> out(kTop);
  std::size_t q = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(simd::score_top_k(s.data->query(q), s.data->view(), kTop, out));
    q = (q + 1) % kQueries;
  }
  report(state, "Fp32TopK", timer, fp32_bytes(s));
}

// The approximate top-k of a quantised matrix; recall of its top-10 against float32's.
template <class Matrix>
void approximate_top_k(benchmark::State& state, const char* name, const Matrix Shape::*matrix) {
  const Shape& s = shape_data(state);
  const Matrix& m = s.*matrix;
  std::vector<ScoredItem> out(kTop);
  std::size_t q = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(simd::score_top_k(s.data->query(q), m, kTop, out));
    q = (q + 1) % kQueries;
  }
  report(state, name, timer, m.bytes());
  double total = 0.0;
  for (std::size_t i = 0; i < kQueries; ++i) {
    const std::size_t got = simd::score_top_k(s.data->query(i), m, kTop, out);
    total += recall(std::span<const ScoredItem>(out).first(got), s.truth[i]);
  }
  state.counters["recall_at_10"] = total / kQueries;
}

// The exact top-k through a quantised matrix; how often it was certified, and whether any answer
// differs from float32's.
template <class Matrix>
void exact_top_k(benchmark::State& state, const char* name, const Matrix Shape::*matrix) {
  const Shape& s = shape_data(state);
  const Matrix& m = s.*matrix;
  std::vector<ScoredItem> out(kTop);
  std::size_t q = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(simd::score_top_k(s.data->query(q), m, s.data->view(), kTop, out));
    q = (q + 1) % kQueries;
  }
  report(state, name, timer, m.bytes());
  double total = 0.0;
  std::size_t certified = 0;
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < kQueries; ++i) {
    const auto r = simd::detail::exact_top_k_via_quantized<simd::compat::default_arch>(
        s.data->query(i), m, s.data->view(), kTop, out, marl_rec::NoExclusion{});
    total += recall(std::span<const ScoredItem>(out).first(r.count), s.truth[i]);
    certified += r.certified ? 1 : 0;
    const bool same = r.count == s.truth[i].size() &&
                      std::equal(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(r.count),
                                 s.truth[i].begin());
    mismatches += same ? 0 : 1;
  }
  state.counters["recall_at_10"] = total / kQueries;
  state.counters["certified"] = double(certified) / kQueries;
  state.counters["mismatches"] = double(mismatches);
}

static void Bf16TopK(benchmark::State& state) { approximate_top_k(state, "Bf16TopK", &Shape::bf16); }
static void Int8TopK(benchmark::State& state) { approximate_top_k(state, "Int8TopK", &Shape::int8); }
static void Bf16TopKExact(benchmark::State& state) { exact_top_k(state, "Bf16TopKExact", &Shape::bf16); }
static void Int8TopKExact(benchmark::State& state) { exact_top_k(state, "Int8TopKExact", &Shape::int8); }

// Registration order matters: the baselines of a shape run before the kernels compared to them.
static void register_quantized() {
  for (const auto& [n, d] : std::vector<std::pair<long, long>>{
           {10000, 64}, {10000, 128}, {100000, 64}, {100000, 128}, {1000000, 64}, {1000000, 128}}) {
    for (const auto& [name, fn] : std::vector<std::pair<const char*, void (*)(benchmark::State&)>>{
             {"Fp32StreamRead", Fp32StreamRead},
             {"Fp32TopK", Fp32TopK},
             {"Bf16TopK", Bf16TopK},
             {"Bf16TopKExact", Bf16TopKExact},
             {"Int8TopK", Int8TopK},
             {"Int8TopKExact", Int8TopKExact}}) {
      benchmark::RegisterBenchmark(name, fn)->Args({n, d})->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  }
}

static const int kQuantizedRegistered = (register_quantized(), 0);
