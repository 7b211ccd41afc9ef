#include <doctest/doctest.h>

#include <cstddef>

#include "marl_rec/simd/xsimd_compat.hpp"

namespace {
using Batch = xsimd::batch<float, marl_rec::simd::compat::default_arch>;
constexpr std::size_t kWidth = Batch::size;
}  // namespace

TEST_CASE("reduce_add sums the lanes") {
  alignas(64) float v[kWidth];
  float want = 0.0f;
  for (std::size_t i = 0; i < kWidth; ++i) want += (v[i] = float(i + 1));
  CHECK(marl_rec::simd::compat::reduce_add(Batch::load_aligned(v)) == want);
}

TEST_CASE("transpose_reduce_add puts the sum of row i in lane i, from row i alone") {
  alignas(64) float v[kWidth];
  Batch rows[kWidth];
  for (std::size_t r = 0; r < kWidth; ++r) {
    for (std::size_t i = 0; i < kWidth; ++i) v[i] = float(100 * r + i);
    rows[r] = Batch::load_aligned(v);
  }
  alignas(64) float out[kWidth];
  marl_rec::simd::compat::transpose_reduce_add(rows).store_aligned(out);
  for (std::size_t r = 0; r < kWidth; ++r) {
    float want = 0.0f;
    for (std::size_t i = 0; i < kWidth; ++i) want += float(100 * r + i);
    CHECK(out[r] == want);
  }
  // Changing other rows leaves lane 0 as it was.
  for (std::size_t r = 1; r < kWidth; ++r) rows[r] = Batch(1e30f);
  marl_rec::simd::compat::transpose_reduce_add(rows).store_aligned(v);
  CHECK(v[0] == out[0]);
}
