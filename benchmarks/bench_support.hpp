// Helpers shared by the benchmark programs: wall time of a benchmark's timed loop, remembered per
// name and shape so that later benchmarks in the same run can report ratios against baselines.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <string>
#include <utility>

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

}  // namespace marl_rec::bench
