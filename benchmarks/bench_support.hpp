// Helpers shared by the benchmark programs: wall time of a benchmark's timed loop, remembered per
// name and shape so that later benchmarks in the same run can report ratios against baselines;
// the N(0, 1) data of the scoring benchmarks and the streaming read that is their ceiling.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <random>
#include <span>
#include <string>
#include <utility>

#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"

namespace marl_rec::bench {

/// Seconds per iteration of benchmarks run so far in this process, keyed by (name, shape).
inline std::map<std::pair<std::string, std::string>, double>& seconds_per_iteration() {
  static std::map<std::pair<std::string, std::string>, double> table;
  return table;
}

/// Times the loop of `state`: construct before the loop, call `record` after it.
class LoopTimer {
 public:
  LoopTimer() : start_(std::chrono::steady_clock::now()) {}

  /// Stores this run's seconds per iteration under (name, shape) and returns it.
  double record(const benchmark::State& state, const std::string& name,
                const std::string& shape) const {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double per_iteration =
        state.iterations() == 0 ? 0.0 : seconds / static_cast<double>(state.iterations());
    seconds_per_iteration()[{name, shape}] = per_iteration;
    return per_iteration;
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

/// Sets counter `counter` to baseline time / this time, when the baseline ran earlier in this
/// run at the same shape (a ratio > 1 means faster than the baseline).
inline void ratio_counter(benchmark::State& state, const char* counter, const std::string& baseline,
                          const std::string& shape, double seconds) {
  const auto it = seconds_per_iteration().find({baseline, shape});
  if (it != seconds_per_iteration().end() && seconds > 0.0) {
    state.counters[counter] = it->second / seconds;
  }
}

/// Queries per shape in NormalData.
inline constexpr std::size_t normal_data_queries = 256;

/// The scoring benchmarks' data: `n` items and normal_data_queries queries of `d` N(0, 1) floats.
struct NormalData {
  AlignedVector<float> items;
  AlignedVector<float> queries;
  std::size_t n = 0;
  std::size_t d = 0;
  /// The n x d item matrix.
  MatrixView view() const { return MatrixView(items, n, d); }
  /// Query `q` (q < normal_data_queries).
  std::span<const float> query(std::size_t q = 0) const {
    return std::span<const float>(queries).subspan(q * d, d);
  }
};

/// The data of shape n x d, the same in every benchmark program and run: std::mt19937(12345) and
/// std::normal_distribution, items first, then queries. Built once per shape and shared by every
/// benchmark of the process; only the most recent shape is kept (10^6 x 128 is 512 MB), so
/// benchmarks should be registered shape by shape.
inline const NormalData& normal_data(std::size_t n, std::size_t d) {
  static NormalData data;
  if (data.n != n || data.d != d) {
    data = NormalData{};
    data.n = n;
    data.d = d;
    std::mt19937 rng(12345);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    data.items.resize(n * d);
    for (float& x : data.items) x = normal(rng);
    data.queries.resize(normal_data_queries * d);
    for (float& x : data.queries) x = normal(rng);
  }
  return data;
}

/// A plain streaming read: the sum of `count` floats from `p` (64-byte aligned), four
/// accumulators so that arithmetic is never the limit. Reading every item once cannot be faster.
inline float stream_sum(const float* p, std::size_t count) {
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
  float s = simd::compat::reduce_add((a0 + a1) + (a2 + a3));
  for (; i < count; ++i) s += p[i];
  return s;
}

}  // namespace marl_rec::bench
