#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "marl_rec/concepts/objective.hpp"
#include "marl_rec/objective/novelty.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;

static_assert(mr::Objective<mr::Novelty>);
static_assert(!mr::Novelty::list_dependent);

namespace {

mr::Catalog popular(const std::vector<float>& popularity) {
  mr::Catalog c(1);
  const std::vector<float> v{1.0f};
  for (std::size_t i = 0; i < popularity.size(); ++i) {
    c.add(marl_rec::numbered_id("i", static_cast<std::size_t>(i)), v, {.popularity = popularity[i]});
  }
  return c;
}

}  // namespace

TEST_CASE("Novelty: smoothed self-information of the popularity, min-max normalised") {
  // log(pop + 1) = 0, log 2, log 4, log 8: v = (log 8 − log(pop + 1)) / log 8 = 1, 2/3, 1/3, 0.
  const mr::Catalog catalog = popular({0, 1, 3, 7, 100});
  const std::vector<std::size_t> items{0, 1, 2, 3};  // item 4 is not a candidate: it does not count
  mr::Novelty n;
  CHECK(n.name() == "novelty");
  n.prepare({.items = items, .catalog = &catalog});
  CHECK(n.value(0) == 1.0);
  CHECK(n.value(1) == doctest::Approx(2.0 / 3).epsilon(1e-12));
  CHECK(n.value(2) == doctest::Approx(1.0 / 3).epsilon(1e-12));
  CHECK(n.value(3) == 0.0);
  // Equivalently, the raw −log((pop + 1) / (Σ pop + n)) min-max normalised: the catalog-wide
  // denominator cancels.
  const double denominator = 0 + 1 + 3 + 7 + 100 + 5;
  const auto raw = [&](double pop) { return -std::log((pop + 1) / denominator); };
  CHECK(n.value(1) == doctest::Approx((raw(1) - raw(7)) / (raw(0) - raw(7))).epsilon(1e-12));
}

TEST_CASE("Novelty: equally popular candidates are all worth 1, a repeated item is consistent") {
  const mr::Catalog catalog = popular({5, 5, 9});
  const std::vector<std::size_t> same{0, 1, 0};
  mr::Novelty n;
  n.prepare({.items = same, .catalog = &catalog});
  for (std::size_t p = 0; p < same.size(); ++p) CHECK(n.value(p) == 1.0);
  const std::vector<std::size_t> mixed{2, 0, 2};
  n.prepare({.items = mixed, .catalog = &catalog});
  CHECK(n.value(0) == 0.0);
  CHECK(n.value(1) == 1.0);
  CHECK(n.value(2) == 0.0);
  n.prepare({.catalog = &catalog});
}

TEST_CASE("Novelty: bad input is refused with a clear error") {
  const mr::Catalog catalog = popular({1});
  const std::vector<std::size_t> items{0, 3};
  mr::Novelty n;
  CHECK(mr::test::error_of([&] { n.prepare({.items = items}); }) == "Novelty::prepare: RankingInput::catalog is null");
  CHECK(mr::test::error_of([&] { n.prepare({.items = items, .catalog = &catalog}); }) ==
        "Novelty::prepare: candidate 1 is item 3, outside the catalog (size 1)");
}
