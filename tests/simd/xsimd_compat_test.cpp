#include <doctest/doctest.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "marl_rec/simd/xsimd_compat.hpp"
#include "support/simd_archs.hpp"

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

TEST_CASE("swap_adjacent_lanes swaps lanes 2j and 2j + 1, bits included, on every arch") {
  marl_rec::test::for_each_arch([](auto arch, const std::string& name) {
    using A = decltype(arch);
    using B = xsimd::batch<float, A>;
    CAPTURE(name);
    alignas(64) float v[B::size];
    for (std::size_t i = 0; i < B::size; ++i) v[i] = float(i) + 0.25f;
    v[0] = std::numeric_limits<float>::quiet_NaN();
    v[B::size - 1] = -std::numeric_limits<float>::infinity();
    alignas(64) float out[B::size];
    marl_rec::simd::compat::swap_adjacent_lanes<A>(B::load_aligned(v)).store_aligned(out);
    for (std::size_t i = 0; i < B::size; ++i) {
      CAPTURE(i);
      CHECK(std::bit_cast<std::uint32_t>(out[i]) == std::bit_cast<std::uint32_t>(v[i ^ 1]));
    }
  });
}
