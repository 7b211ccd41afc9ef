#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "marl_rec/core/rng.hpp"
#include "marl_rec/objective/pareto.hpp"

namespace mr = marl_rec;

namespace {

bool dominates(const std::vector<double>& v, std::size_t a, std::size_t b, std::size_t m) {
  bool better = false;
  for (std::size_t o = 0; o < m; ++o) {
    if (v[a * m + o] < v[b * m + o]) return false;
    if (v[a * m + o] > v[b * m + o]) better = true;
  }
  return better;
}

// The hypervolume by inclusion–exclusion over every non-empty subset S of the points:
// Σ (−1)^(|S|+1) Π_o max(0, min_{x∈S} x_o − ref_o). Exact; for a handful of points only.
double inclusion_exclusion(const std::vector<double>& v, std::size_t n, std::size_t m,
                           const std::vector<double>& ref) {
  double total = 0.0;
  for (unsigned subset = 1; subset < (1u << n); ++subset) {
    double box = 1.0;
    int members = 0;
    for (std::size_t o = 0; o < m; ++o) {
      double low = INFINITY;
      for (std::size_t i = 0; i < n; ++i) {
        if (subset & (1u << i)) low = std::min(low, v[i * m + o]);
      }
      box *= std::max(0.0, low - ref[o]);
    }
    for (std::size_t i = 0; i < n; ++i) members += (subset >> i) & 1u;
    total += (members % 2 == 1 ? 1.0 : -1.0) * box;
  }
  return total;
}

}  // namespace

TEST_CASE("non_dominated_sort: the fronts of a hand-made set") {
  // A(3,1) B(1,3) C(2,2) C'(2,2) are mutually non-dominated (C and C' are equal: same front);
  // H(2,1) is dominated by A and C; D(1,1) by H; F(0,0) by D.
  const std::vector<double> v{3, 1, 1, 3, 2, 2, 2, 2, 2, 1, 1, 1, 0, 0};
  std::vector<std::size_t> front{99};
  CHECK(mr::non_dominated_sort(v, 7, 2, front) == 4);
  CHECK(front == std::vector<std::size_t>{0, 0, 0, 0, 1, 2, 3});

  // One objective: fronts are the distinct values, descending.
  const std::vector<double> one{0.5, 1.0, 0.5, -INFINITY, INFINITY};
  CHECK(mr::non_dominated_sort(one, 5, 1, front) == 4);
  CHECK(front == std::vector<std::size_t>{2, 1, 2, 3, 0});

  CHECK(mr::non_dominated_sort({}, 0, 3, front) == 0);
  CHECK(front.empty());
}

TEST_CASE("non_dominated_sort: on random sets with ties, every front is dominated only by earlier ones") {
  mr::Rng rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    const std::size_t n = 40, m = 1 + static_cast<std::size_t>(trial % 4);
    std::vector<double> v(n * m);
    for (auto& x : v) x = static_cast<double>(rng.below(4));  // few levels: many ties
    std::vector<std::size_t> front;
    const std::size_t fronts = mr::non_dominated_sort(v, n, m, front);
    REQUIRE(front.size() == n);
    for (std::size_t q = 0; q < n; ++q) {
      CHECK(front[q] < fronts);
      bool by_previous = false;
      for (std::size_t p = 0; p < n; ++p) {
        if (!dominates(v, p, q, m)) continue;
        CHECK(front[p] < front[q]);  // nothing in the same or a later front dominates q
        by_previous = by_previous || front[p] + 1 == front[q];
      }
      if (front[q] > 0) CHECK(by_previous);  // q is in front f because front f−1 dominates it
    }
  }
}

TEST_CASE("non_dominated_sort: bad input is refused with a clear error") {
  std::vector<std::size_t> front;
  const std::vector<double> v{1, 2, 3};
  CHECK_THROWS_WITH_AS(mr::non_dominated_sort(v, 1, 0, front), "non_dominated_sort: m must be at least 1",
                       mr::Error);
  CHECK_THROWS_WITH_AS(mr::non_dominated_sort(v, 2, 2, front),
                       "non_dominated_sort: values has 3 entries, 2 x 2 expected", mr::Error);
  const std::vector<double> nan{1, NAN};
  CHECK_THROWS_WITH_AS(mr::non_dominated_sort(nan, 1, 2, front),
                       "non_dominated_sort: value 1 of point 0 is NaN", mr::Error);
}

TEST_CASE("hypervolume: 2-D sets computed by hand") {
  const std::vector<double> origin{0, 0};
  // Boxes [0,1]x[0,3], [0,2]x[0,2], [0,3]x[0,1]: 3 + 2 + 1 = 6 (three 1-wide columns).
  const std::vector<double> staircase{1, 3, 2, 2, 3, 1};
  CHECK(mr::hypervolume(staircase, 3, 2, origin) == 6.0);
  // A dominated point, a duplicate and a point below the reference add nothing.
  const std::vector<double> more{1, 3, 2, 2, 3, 1, 1, 1, 2, 2, 5, -1};
  CHECK(mr::hypervolume(more, 6, 2, origin) == 6.0);
  // Reference (1, 1): (1, 3) and (3, 1) touch it (empty boxes); (2, 2) leaves 1 x 1.
  const std::vector<double> one_one{1, 1};
  CHECK(mr::hypervolume(staircase, 3, 2, one_one) == 1.0);
  CHECK(mr::hypervolume({}, 0, 2, origin) == 0.0);
  // One objective: the largest excess over the reference.
  const std::vector<double> line{0.25, 0.75, 0.5};
  const std::vector<double> zero{0};
  CHECK(mr::hypervolume(line, 3, 1, zero) == 0.75);
}

TEST_CASE("hypervolume: 3-D sets computed by hand") {
  const std::vector<double> origin{0, 0, 0};
  const std::vector<double> cube{1, 1, 1};
  CHECK(mr::hypervolume(cube, 1, 3, origin) == 1.0);
  // Three 2x1x1 boxes along the axes: 3·2 − 3·1 (pairwise overlaps, unit cubes) + 1 (triple) = 4.
  const std::vector<double> axes{2, 1, 1, 1, 2, 1, 1, 1, 2};
  CHECK(mr::hypervolume(axes, 3, 3, origin) == 4.0);
  // A 2x2x2 cube and a 3x1x1 bar: 8 + 3 − 2 (the bar's part inside the cube) = 9.
  const std::vector<double> cube_bar{2, 2, 2, 3, 1, 1};
  CHECK(mr::hypervolume(cube_bar, 2, 3, origin) == 9.0);
  // Reference (1, 1, 1) shifts the boxes: the cube-bar set leaves the unit cube [1,2]^3 and an
  // empty bar (it touches the reference): 1.
  CHECK(mr::hypervolume(cube_bar, 2, 3, cube) == 1.0);
}

TEST_CASE("hypervolume: slicing equals inclusion-exclusion on random small sets, m = 2..6") {
  mr::Rng rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t m = 2 + static_cast<std::size_t>(trial % 5);
    const std::size_t n = 1 + rng.below(9);
    std::vector<double> v(n * m);
    // Quarter steps in [-0.25, 1] give ties and points below the reference.
    for (auto& x : v) x = 0.25 * static_cast<double>(rng.below(6)) - 0.25;
    std::vector<double> ref(m, 0.0);
    if (trial % 3 == 0) ref[0] = 0.25;
    const double expected = inclusion_exclusion(v, n, m, ref);
    CHECK(mr::hypervolume(v, n, m, ref) == doctest::Approx(expected).epsilon(1e-12));
  }
  // Continuous values too (no ties).
  for (int trial = 0; trial < 100; ++trial) {
    const std::size_t m = 3 + static_cast<std::size_t>(trial % 3);
    const std::size_t n = 2 + rng.below(8);
    std::vector<double> v(n * m);
    for (auto& x : v) x = rng.uniform();
    const std::vector<double> ref(m, 0.0);
    CHECK(mr::hypervolume(v, n, m, ref) == doctest::Approx(inclusion_exclusion(v, n, m, ref)).epsilon(1e-12));
  }
}

TEST_CASE("hypervolume: equals a cell count on larger sets with values on a grid, m = 2..5") {
  // With every value in {1, …, L} / L, the dominated region is a union of grid cells: a cell
  // (upper corner c) is covered when some point is ≥ c everywhere. Counting cells is exact.
  mr::Rng rng(5);
  constexpr std::size_t levels = 6;
  for (std::size_t m = 2; m <= 5; ++m) {
    const std::size_t n = m == 5 ? 60 : 300;
    std::vector<double> v(n * m);
    for (auto& x : v) x = static_cast<double>(1 + rng.below(levels)) / levels;
    std::size_t cells = 1;
    for (std::size_t o = 0; o < m; ++o) cells *= levels;
    std::size_t covered = 0;
    std::vector<double> corner(m);
    for (std::size_t cell = 0; cell < cells; ++cell) {
      std::size_t rest = cell;
      for (std::size_t o = 0; o < m; ++o, rest /= levels) corner[o] = static_cast<double>(1 + rest % levels) / levels;
      for (std::size_t i = 0; i < n; ++i) {
        bool above = true;
        for (std::size_t o = 0; o < m && above; ++o) above = v[i * m + o] >= corner[o];
        if (above) {
          ++covered;
          break;
        }
      }
    }
    const double expected = static_cast<double>(covered) / static_cast<double>(cells);
    CHECK(mr::hypervolume(v, n, m, std::vector<double>(m, 0.0)) == doctest::Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("hypervolume: limits and bad input give clear errors") {
  const std::vector<double> seven(7, 1.0);
  CHECK_THROWS_WITH_AS(mr::hypervolume(seven, 1, 7, std::vector<double>(7, 0.0)),
                       "hypervolume: 7 objectives; the exact algorithm is limited to 6", mr::Error);
  // m = 6: 151 points above the reference are beyond the limit; points below it do not count.
  mr::Rng rng(3);
  std::vector<double> six(152 * 6);
  for (auto& x : six) x = 0.5 + 0.5 * rng.uniform();
  six[0] = -1.0;
  const std::vector<double> origin6(6, 0.0);
  CHECK_THROWS_WITH_AS(mr::hypervolume(six, 152, 6, origin6),
                       "hypervolume: 151 points in 6 objectives; the exact algorithm is limited to 150",
                       mr::Error);
  const std::vector<double> p{1, 1};
  CHECK_THROWS_WITH_AS(mr::hypervolume(p, 1, 2, std::vector<double>{0}),
                       "hypervolume: the reference has 1 values, the points 2", mr::Error);
  CHECK_THROWS_WITH_AS(mr::hypervolume(p, 1, 2, std::vector<double>{0, NAN}),
                       "hypervolume: reference value 1 is not finite", mr::Error);
  CHECK_THROWS_WITH_AS(mr::hypervolume(p, 2, 2, std::vector<double>{0, 0}),
                       "hypervolume: values has 2 entries, 2 x 2 expected", mr::Error);
}
