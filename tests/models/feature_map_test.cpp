#include <doctest/doctest.h>

#include <vector>

#include "marl_rec/models/feature_map.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;

TEST_CASE("feature maps: dimensions and values") {
  const std::vector<float> x{1.0f, 2.0f}, a{3.0f, 4.0f, 5.0f};
  using F = mr::FeatureMap;
  CHECK(mr::feature_dim(F::context, 2, 3) == 2);
  CHECK(mr::feature_dim(F::item, 2, 3) == 3);
  CHECK(mr::feature_dim(F::concat, 2, 3) == 5);
  CHECK(mr::feature_dim(F::cross, 2, 3) == 6);
  std::vector<float> phi(6);
  mr::write_features(F::cross, x, a, phi);
  CHECK(phi == std::vector<float>{3, 4, 5, 6, 8, 10});
  phi.resize(5);
  mr::write_features(F::concat, x, a, phi);
  CHECK(phi == std::vector<float>{1, 2, 3, 4, 5});
  phi.resize(3);
  mr::write_features(F::item, x, a, phi);
  CHECK(phi == std::vector<float>{3, 4, 5});
  phi.resize(2);
  mr::write_features(F::context, x, a, phi);
  CHECK(phi == std::vector<float>{1, 2});
  CHECK(mr::test::error_of([&] { mr::write_features(F::cross, x, a, phi); }) ==
        "write_features(cross): out has 2 values, phi has 6");
}
