#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "marl_rec/concepts/objective.hpp"
#include "marl_rec/objective/revenue.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;

static_assert(mr::Objective<mr::Revenue>);
static_assert(!mr::Revenue::list_dependent);

namespace {

mr::Catalog priced(const std::vector<float>& prices) {
  mr::Catalog c(1);
  const std::vector<float> v{1.0f};
  for (std::size_t i = 0; i < prices.size(); ++i) c.add(marl_rec::numbered_id("i", static_cast<std::size_t>(i)), v, {.price = prices[i]});
  return c;
}

}  // namespace

TEST_CASE("Revenue: price x relevance clamped to [0, 1], divided by the candidates' maximum") {
  const mr::Catalog catalog = priced({10, 0, 5, 20, 8});
  const std::vector<std::size_t> items{0, 1, 2, 3, 4};
  // Probabilities 0.5, 1, 1 (2 clamped), 0 (−1 clamped), 1 (+∞): x = 5, 0, 5, 0, 8.
  const std::vector<float> relevance{0.5f, 1.0f, 2.0f, -1.0f, std::numeric_limits<float>::infinity()};
  mr::Revenue r;
  CHECK(r.name() == "revenue");
  r.prepare({.items = items, .relevance = relevance, .catalog = &catalog});
  CHECK(r.expected_revenue(0) == 5.0);
  CHECK(r.expected_revenue(4) == 8.0);
  const std::vector<double> expected{5.0 / 8, 0.0, 5.0 / 8, 0.0, 1.0};
  for (std::size_t p = 0; p < items.size(); ++p) CHECK(r.value(p) == expected[p]);
}

TEST_CASE("Revenue: the given purchase probability takes precedence over relevance") {
  const mr::Catalog catalog = priced({10, 0, 5, 20});
  const std::vector<std::size_t> items{0, 1, 2, 3};
  const std::vector<float> relevance{1.0f, 1.0f, 1.0f, 1.0f};
  const std::vector<float> probability{0.1f, 0.9f, 0.5f, 0.3f};  // x = 1, 0, 2.5, 6
  mr::Revenue r;
  r.prepare({.items = items, .relevance = relevance, .catalog = &catalog, .purchase_probability = probability});
  CHECK(r.value(0) == doctest::Approx(1.0 / 6).epsilon(1e-6));
  CHECK(r.value(1) == 0.0);  // free
  CHECK(r.value(2) == doctest::Approx(2.5 / 6).epsilon(1e-6));
  CHECK(r.value(3) == 1.0);
  // Relevance may be absent when the probability is given.
  r.prepare({.items = items, .catalog = &catalog, .purchase_probability = probability});
  CHECK(r.value(3) == 1.0);
}

TEST_CASE("Revenue: NaN-relevance candidates are worth 0 and do not set the maximum, all 0 gives 0") {
  const mr::Catalog catalog = priced({10, 0, 5, 20});
  const std::vector<std::size_t> items{0, 1, 2, 3};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> relevance{1.0f, 1.0f, 1.0f, nan};
  const std::vector<float> probability{1.0f, 1.0f, 1.0f, 1.0f};
  mr::Revenue r;
  r.prepare({.items = items, .relevance = relevance, .catalog = &catalog, .purchase_probability = probability});
  CHECK(r.value(0) == 1.0);  // 10 / 10: item 3 (20) is not eligible
  CHECK(r.value(2) == 0.5);
  CHECK(r.value(3) == 0.0);

  const std::vector<float> zero{0.0f, 0.0f, 0.0f, 0.0f};
  r.prepare({.items = items, .relevance = zero, .catalog = &catalog});
  for (std::size_t p = 0; p < items.size(); ++p) CHECK(r.value(p) == 0.0);
  r.prepare({.catalog = &catalog});  // no candidates
}

TEST_CASE("Revenue: bad input is refused with a clear error") {
  const mr::Catalog catalog = priced({10, 5});
  const std::vector<std::size_t> items{0, 1};
  const std::vector<float> relevance{1.0f, 1.0f};
  mr::Revenue r;
  CHECK(mr::test::error_of([&] { r.prepare({.items = items, .relevance = relevance}); }) ==
        "Revenue::prepare: RankingInput::catalog is null");
  const std::vector<std::size_t> outside{0, 2};
  CHECK(mr::test::error_of([&] { r.prepare({.items = outside, .relevance = relevance, .catalog = &catalog}); }) ==
        "Revenue::prepare: candidate 1 is item 2, outside the catalog (size 2)");
  CHECK(mr::test::error_of([&] { r.prepare({.items = items, .catalog = &catalog}); }) ==
        "Revenue::prepare: 0 relevance scores for 2 candidates");
  const std::vector<float> one{0.5f};
  CHECK(mr::test::error_of([&] {
          r.prepare({.items = items, .relevance = relevance, .catalog = &catalog, .purchase_probability = one});
        }) == "Revenue::prepare: 1 purchase probabilities for 2 candidates");
  const std::vector<float> too_high{0.5f, 1.5f};
  CHECK(mr::test::error_of([&] {
          r.prepare({.items = items, .relevance = relevance, .catalog = &catalog, .purchase_probability = too_high});
        }) == "Revenue::prepare: the purchase probability of candidate 1 must be in [0, 1], got 1.500000");
  const std::vector<float> nan{std::nanf(""), 0.5f};
  CHECK(mr::test::error_of([&] {
          r.prepare({.items = items, .relevance = relevance, .catalog = &catalog, .purchase_probability = nan});
        }).starts_with("Revenue::prepare: the purchase probability of candidate 0 must be in [0, 1]"));
}
