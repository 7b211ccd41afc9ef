#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "marl_rec/concepts/objective.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/objective/calibration.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;

static_assert(mr::Objective<mr::Calibration>);
static_assert(mr::Calibration::list_dependent);

namespace {

mr::Catalog categorised(const std::vector<std::string>& categories) {
  mr::Catalog c(1);
  const std::vector<float> v{1.0f};
  for (std::size_t i = 0; i < categories.size(); ++i) {
    c.add(marl_rec::numbered_id("i", static_cast<std::size_t>(i)), v, {.category = categories[i]});
  }
  return c;
}

// The definition, computed directly: 1 − KL(p ‖ (1 − α) q + α p) / log(1/α), with p the
// category distribution of `history` and q that of `list`.
double reference_value(const mr::Catalog& catalog, const std::vector<std::size_t>& history,
                       const std::vector<std::size_t>& list, double alpha) {
  if (history.empty()) return 1.0;
  std::map<std::string, double> p, q;
  for (const auto i : history) p[catalog.attributes(i).category] += 1.0 / static_cast<double>(history.size());
  for (const auto i : list) q[catalog.attributes(i).category] += 1.0 / static_cast<double>(list.size());
  double kl = 0.0;
  for (const auto& [g, pg] : p) kl += pg * std::log(pg / ((1 - alpha) * q[g] + alpha * pg));
  // The bound: KL ≤ log(1/α).
  CHECK(kl <= std::log(1 / alpha) * (1 + 1e-12));
  CHECK(kl >= -1e-12);
  return 1.0 - kl / std::log(1 / alpha);
}

}  // namespace

TEST_CASE("Calibration: hand-computed values for a half-x, half-y history") {
  // Items: 0, 1 in x; 2, 3 in y; 4 in z; 5 without a category.
  const mr::Catalog catalog = categorised({"x", "x", "y", "y", "z", ""});
  const std::vector<std::size_t> history{0, 2};
  const std::vector<std::size_t> items{1, 3, 4, 5};
  mr::Calibration c;
  CHECK(c.name() == "calibration");
  CHECK(c.config().alpha == 0.01);
  c.prepare({.items = items, .catalog = &catalog, .history = history});
  // An x alone: q̃ = (0.995, 0.005): KL = 0.5 log(0.5/0.995) + 0.5 log(0.5/0.005).
  const double bound = std::log(100.0);
  const double x_alone = 1 - (0.5 * std::log(0.5 / 0.995) + 0.5 * std::log(100.0)) / bound;
  CHECK(c.value(0) == doctest::Approx(x_alone).epsilon(1e-12));
  CHECK(c.value(1) == doctest::Approx(x_alone).epsilon(1e-12));  // y alone: symmetric
  CHECK(c.value(2) == doctest::Approx(0.0).epsilon(1e-12));      // none of the history's categories
  CHECK(c.value(3) == doctest::Approx(0.0).epsilon(1e-12));
  c.select(0);  // x in the list
  CHECK(c.value(1) == doctest::Approx(1.0).epsilon(1e-12));  // x + y: exactly the history's mix
  // x + z: q̃(x) = 0.99·0.5 + 0.005 = 0.5, q̃(y) = 0.005: KL = 0.5 log(100): v = 0.5.
  CHECK(c.value(2) == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(c.value(0) == doctest::Approx(x_alone).epsilon(1e-12));  // x + x (the same position again)
}

TEST_CASE("Calibration: values equal the definition on random cases, and KL stays within log(1/alpha)") {
  const mr::Catalog catalog = categorised({"a", "a", "b", "c", "c", "c", "d", "", "e", "b"});
  mr::Rng rng(17);
  for (int trial = 0; trial < 50; ++trial) {
    const double alpha = trial % 2 == 0 ? 0.01 : 0.3;
    mr::Calibration c({.alpha = alpha});
    std::vector<std::size_t> history(rng.below(6)), items(1 + rng.below(8));
    for (auto& i : history) i = rng.below(catalog.size());
    for (auto& i : items) i = rng.below(catalog.size());
    c.prepare({.items = items, .catalog = &catalog, .history = history});
    std::vector<std::size_t> list;
    for (std::size_t step = 0; step < items.size(); ++step) {
      for (std::size_t p = 0; p < items.size(); ++p) {
        list.push_back(items[p]);
        const double expected = std::clamp(reference_value(catalog, history, list, alpha), 0.0, 1.0);
        list.pop_back();
        CHECK(c.value(p) == doctest::Approx(expected).epsilon(1e-9));
        CHECK(c.value(p) >= 0.0);
        CHECK(c.value(p) <= 1.0);
      }
      const std::size_t chosen = rng.below(items.size());
      c.select(chosen);
      list.push_back(items[chosen]);
    }
  }
}

TEST_CASE("Calibration: an empty history has nothing to calibrate to") {
  const mr::Catalog catalog = categorised({"x", "y"});
  const std::vector<std::size_t> items{0, 1};
  mr::Calibration c;
  c.prepare({.items = items, .catalog = &catalog});
  c.select(0);
  CHECK(c.value(0) == 1.0);
  CHECK(c.value(1) == 1.0);
}

TEST_CASE("Calibration: a greedy list reproduces the history's mix") {
  // History 2/3 x, 1/3 y; candidates three of each. A calibrated list of 3 holds 2 x and 1 y.
  const mr::Catalog catalog = categorised({"x", "x", "x", "y", "y", "y"});
  const std::vector<std::size_t> history{0, 1, 3};
  const std::vector<std::size_t> items{3, 4, 5, 0, 1, 2};
  const std::vector<float> relevance(6, 1.0f);
  mr::MultiObjective<mr::Weighted<mr::Calibration>> mo;
  mr::RankedList out;
  mo.rank({.items = items, .relevance = relevance, .catalog = &catalog, .history = history}, 3, out);
  std::size_t x = 0;
  for (const std::size_t p : out.positions) x += catalog.attributes(items[p]).category == "x" ? 1 : 0;
  CHECK(x == 2);
  CHECK(out.scores.back() == doctest::Approx(1.0).epsilon(1e-12));  // the full list is calibrated
}

TEST_CASE("Calibration: bad input is refused with a clear error") {
  CHECK(mr::test::error_of([] { mr::Calibration c({.alpha = 0.0}); }) ==
        "Calibration: alpha must be in (0, 1), got 0.000000");
  CHECK(mr::test::error_of([] { mr::Calibration c({.alpha = 1.0}); }) ==
        "Calibration: alpha must be in (0, 1), got 1.000000");
  const mr::Catalog catalog = categorised({"x", "y"});
  const std::vector<std::size_t> items{0, 1};
  const std::vector<std::size_t> bad{1, 5};
  mr::Calibration c;
  CHECK(mr::test::error_of([&] { c.prepare({.items = items}); }) == "Calibration::prepare: RankingInput::catalog is null");
  CHECK(mr::test::error_of([&] { c.prepare({.items = bad, .catalog = &catalog}); }) ==
        "Calibration::prepare: candidate 1 is item 5, outside the catalog (size 2)");
  CHECK(mr::test::error_of([&] { c.prepare({.items = items, .catalog = &catalog, .history = bad}); }) ==
        "Calibration::prepare: history item 1 is item 5, outside the catalog (size 2)");
  c.prepare({.items = items, .catalog = &catalog});
  CHECK(mr::test::error_of([&] { c.select(2); }) == "Calibration::select: position 2 out of range (2 candidates)");
}
