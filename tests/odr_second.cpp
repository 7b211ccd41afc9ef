// See odr_first.cpp.
#include <doctest/doctest.h>
#include <marl_rec/marl_rec.hpp>

#include <vector>

float marl_rec_odr_first(std::span<const float> a);

TEST_CASE("two translation units including marl_rec.hpp link together and agree") {
  const std::vector<float> a = {1.0f, 2.0f, 2.0f};
  CHECK(marl_rec_odr_first(a) == marl_rec::simd::dot(a, a));
  CHECK(marl_rec::simd::dot(a, a) == 9.0f);
}
