// See isa_mix_baseline.cpp; this unit is built with -march=native.
#include <doctest/doctest.h>
#include <marl_rec/marl_rec.hpp>

#include <span>
#include <string>
#include <vector>

using DotFn = float (*)(std::span<const float>, std::span<const float>);
std::string marl_rec_isa_baseline_arch();
DotFn marl_rec_isa_baseline_dot();
float marl_rec_isa_baseline_top(std::span<const float> q, marl_rec::MatrixView items);

TEST_CASE("units built for different ISAs each get their own kernels (no ODR merge)") {
  const std::string native = xsimd::default_arch::name();
  const std::string baseline = marl_rec_isa_baseline_arch();
  CAPTURE(native);
  CAPTURE(baseline);
  DotFn mine = &marl_rec::simd::dot<>;
  // Different architectures must be different functions; the same architecture may be one.
  CHECK((native == baseline) == (mine == marl_rec_isa_baseline_dot()));
  std::vector<float> items(40 * 5);
  for (std::size_t i = 0; i < items.size(); ++i) items[i] = float(int(i % 7) - 3);
  const std::vector<float> q = {1, -1, 2, 0, 1};
  const marl_rec::MatrixView view(items, 40, 5);
  marl_rec::ScoredItem best[1];
  marl_rec::simd::score_top_k(q, view, 1, best);
  CHECK(marl_rec_isa_baseline_top(q, view) == best[0].score);
  CHECK(marl_rec_isa_baseline_dot()(q, q) == marl_rec::simd::dot(q, q));
}
