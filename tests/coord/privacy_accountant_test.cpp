// RdpAccountant and noise_multiplier_for: hand-computed values over the documented grid of
// orders, monotonicity, composition, calibration round trips, save / load and errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

#include "marl_rec/coord/privacy_accountant.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::RdpAccountant;
using marl_rec::test::error_of;

// log(1/δ) for δ = 1e-5.
const double log_inverse_delta = std::log(1e5);  // 11.512925464970229

}  // namespace

TEST_CASE("RdpAccountant: the grid of orders is the documented one") {
  const auto& orders = RdpAccountant::orders;
  REQUIRE(orders.size() == 165);
  CHECK(orders[0] == doctest::Approx(1.1).epsilon(1e-15));
  CHECK(orders[98] == doctest::Approx(10.9).epsilon(1e-15));
  CHECK(orders[99] == 11.0);
  CHECK(orders[151] == 63.0);
  CHECK(orders[152] == 64.0);
  CHECK(orders.back() == 1024.0);
  for (std::size_t k = 1; k < orders.size(); ++k) CHECK(orders[k] > orders[k - 1]);
}

TEST_CASE("RdpAccountant: known values of the Gaussian mechanism") {
  SUBCASE("z = 1, one step, delta = 1e-5") {
    // ε(α) = α / 2 + log(1e5) / (α − 1). The continuous optimum is at α − 1 = √(2 log 1e5) =
    // 4.7985, so α = 5.7985; on the grid: α = 5.7 gives 2.85 + 11.5129 / 4.7 = 5.299554,
    // α = 5.8 gives 2.9 + 11.5129 / 4.8 = 2.9 + 2.398526 = 5.298526, α = 5.9 gives
    // 2.95 + 11.5129 / 4.9 = 5.299577: the minimum is at 5.8.
    RdpAccountant a;
    a.add_gaussian(1.0);
    CHECK(a.steps() == 1);
    CHECK(a.optimal_order(1e-5) == doctest::Approx(5.8).epsilon(1e-14));
    CHECK(a.epsilon(1e-5) == doctest::Approx(2.9 + log_inverse_delta / 4.8).epsilon(1e-12));
    CHECK(a.epsilon(1e-5) == doctest::Approx(5.298526138535).epsilon(1e-12));
    // The grid's minimum is an upper bound of the continuous one, 1/2 + √(2 log 1e5).
    CHECK(a.epsilon(1e-5) >= 0.5 + std::sqrt(2.0 * log_inverse_delta));
  }
  SUBCASE("z = 2, ten steps, delta = 1e-5") {
    // RDP = 10 α / 8 = 1.25 α; optimum α − 1 = √(11.5129 / 1.25) = 3.035; on the grid α = 4.0:
    // 5 + 11.5129 / 3 = 8.837642 (α = 4.1 gives 5.125 + 11.5129 / 3.1 = 8.838847).
    RdpAccountant a;
    a.add_gaussian(2.0, 10);
    CHECK(a.steps() == 10);
    CHECK(a.optimal_order(1e-5) == doctest::Approx(4.0).epsilon(1e-14));
    CHECK(a.epsilon(1e-5) == doctest::Approx(5.0 + log_inverse_delta / 3.0).epsilon(1e-12));
  }
  SUBCASE("z = 4, one step: an integer order") {
    // RDP = α / 32; optimum α − 1 = √(32 · 11.5129) = 19.19, grid α = 20: 0.625 + 11.5129 / 19.
    RdpAccountant a;
    a.add_gaussian(4.0);
    CHECK(a.optimal_order(1e-5) == 20.0);
    CHECK(a.epsilon(1e-5) == doctest::Approx(0.625 + log_inverse_delta / 19.0).epsilon(1e-12));
  }
  SUBCASE("the RDP of each order is alpha / (2 z^2) per step") {
    RdpAccountant a;
    a.add_gaussian(0.5, 3);
    const auto rdp = a.rdp();
    for (std::size_t k = 0; k < rdp.size(); ++k) {
      CHECK(rdp[k] == doctest::Approx(3.0 * RdpAccountant::orders[k] / 0.5).epsilon(1e-14));
    }
  }
}

TEST_CASE("RdpAccountant: epsilon grows with the steps and shrinks with the noise") {
  double previous = 0.0;
  for (const std::uint64_t steps : {1u, 2u, 5u, 10u, 100u, 1000u}) {
    const double e = marl_rec::gaussian_epsilon(1.0, 1e-5, steps);
    CHECK(e > previous);
    previous = e;
  }
  previous = std::numeric_limits<double>::infinity();
  for (const double z : {0.3, 0.5, 1.0, 2.0, 4.0, 8.0, 50.0}) {
    const double e = marl_rec::gaussian_epsilon(z, 1e-5, 10);
    CHECK(e < previous);
    previous = e;
  }
  // And with a smaller delta.
  CHECK(marl_rec::gaussian_epsilon(1.0, 1e-7, 5) > marl_rec::gaussian_epsilon(1.0, 1e-5, 5));
}

TEST_CASE("RdpAccountant: composition adds RDP, heterogeneous noise") {
  RdpAccountant one_by_one, at_once;
  for (int i = 0; i < 5; ++i) one_by_one.add_gaussian(1.5);
  at_once.add_gaussian(1.5, 5);
  CHECK(one_by_one.steps() == 5);
  CHECK(one_by_one.epsilon(1e-6) == doctest::Approx(at_once.epsilon(1e-6)).epsilon(1e-13));

  // z₁ = 1 then z₂ = 2: RDP = α/2 + α/8 = 5α/8, the same as one step at z = √(4/5).
  RdpAccountant mixed, equivalent;
  mixed.add_gaussian(1.0);
  mixed.add_gaussian(2.0);
  equivalent.add_gaussian(std::sqrt(0.8));
  CHECK(mixed.steps() == 2);
  CHECK(mixed.epsilon(1e-5) == doctest::Approx(equivalent.epsilon(1e-5)).epsilon(1e-12));
}

TEST_CASE("RdpAccountant: no step spends nothing, a step without noise spends infinitely much") {
  RdpAccountant a;
  CHECK(a.epsilon(1e-5) == 0.0);
  CHECK(std::isnan(a.optimal_order(1e-5)));
  a.add_gaussian(1.0);
  a.add_unbounded();
  CHECK(a.steps() == 2);
  CHECK(a.unbounded());
  CHECK(std::isinf(a.epsilon(1e-5)));
  CHECK(std::isinf(a.rdp()[0]));
  a.add_unbounded(0);
  CHECK(a.steps() == 2);
}

TEST_CASE("noise_multiplier_for calibrates z for a target and round-trips") {
  for (const double target : {0.5, 1.0, 3.0, 8.0}) {
    for (const std::uint64_t steps : {1u, 10u, 100u}) {
      for (const double delta : {1e-5, 1e-3}) {
        CAPTURE(target);
        CAPTURE(steps);
        CAPTURE(delta);
        const double z = marl_rec::noise_multiplier_for(target, delta, steps);
        // At most the target, and a hair less noise is above it (the relative tolerance 1e-9).
        CHECK(marl_rec::gaussian_epsilon(z, delta, steps) <= target);
        CHECK(marl_rec::gaussian_epsilon(z * (1.0 - 1e-8), delta, steps) > target);
        // ε is continuous in z: the calibrated z spends the target to ~1e-8 relative.
        CHECK(marl_rec::gaussian_epsilon(z, delta, steps) == doctest::Approx(target).epsilon(1e-7));
      }
    }
  }
  // The known case backwards: 5.298526... at one step needs z = 1.
  CHECK(marl_rec::noise_multiplier_for(2.9 + log_inverse_delta / 4.8, 1e-5, 1) ==
        doctest::Approx(1.0).epsilon(1e-8));
}

TEST_CASE("RdpAccountant: save / load round trip, bad streams are errors") {
  RdpAccountant a;
  a.add_gaussian(0.7, 3);
  a.add_gaussian(2.0);
  std::stringstream stream;
  a.save(stream);
  const std::string bytes = stream.str();
  RdpAccountant b;
  std::istringstream in(bytes);
  b.load(in);
  CHECK(b.steps() == 4);
  CHECK(b.epsilon(1e-5) == a.epsilon(1e-5));
  CHECK(b.rdp() == a.rdp());

  RdpAccountant kept;
  kept.add_gaussian(3.0);
  std::istringstream truncated(bytes.substr(0, bytes.size() - 20));
  CHECK_THROWS_AS(kept.load(truncated), marl_rec::Error);
  CHECK(kept.steps() == 1);
  std::istringstream foreign("not a model stream at all");
  CHECK_THROWS_AS(kept.load(foreign), marl_rec::Error);
  CHECK(kept.epsilon(1e-5) == marl_rec::gaussian_epsilon(3.0, 1e-5, 1));
}

TEST_CASE("RdpAccountant and noise_multiplier_for reject invalid input") {
  RdpAccountant a;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const double delta : {0.0, 1.0, -0.5, 2.0, nan}) {
    CAPTURE(delta);
    CHECK(error_of([&] { (void)a.epsilon(delta); }).find("RdpAccountant::epsilon: delta") == 0);
    CHECK(error_of([&] { (void)marl_rec::noise_multiplier_for(1.0, delta, 1); })
              .find("noise_multiplier_for: delta") == 0);
  }
  for (const double z : {0.0, -1.0, nan, inf}) {
    CAPTURE(z);
    CHECK(error_of([&] { a.add_gaussian(z); })
              .find("RdpAccountant::add_gaussian: the noise multiplier") == 0);
    CHECK_THROWS_AS((void)marl_rec::gaussian_epsilon(z, 1e-5, 1), marl_rec::Error);
  }
  CHECK(a.steps() == 0);
  for (const double e : {0.0, -1.0, nan, inf}) {
    CAPTURE(e);
    CHECK(error_of([&] { (void)marl_rec::noise_multiplier_for(e, 1e-5, 1); })
              .find("noise_multiplier_for: epsilon") == 0);
  }
  CHECK(error_of([] { (void)marl_rec::noise_multiplier_for(1.0, 1e-5, 0); }) ==
        "noise_multiplier_for: steps must be at least 1");
  // log(1e5) / 1023 = 0.01125: below it no noise is enough with the grid.
  CHECK(error_of([] { (void)marl_rec::noise_multiplier_for(0.011, 1e-5, 1); })
            .find("is not reachable") != std::string::npos);
  CHECK(marl_rec::noise_multiplier_for(0.012, 1e-5, 1) > 0.0);
}
