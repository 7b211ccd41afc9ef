#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <ratio>
#include <string>
#include <vector>

#include "marl_rec/concepts/objective.hpp"
#include "marl_rec/objective/exposure_fairness.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;

static_assert(mr::RecordingObjective<mr::ExposureFairness>);
static_assert(mr::ExposureFairness::list_dependent);

namespace {

// Items 0, 1 from provider A, 2, 3 from B, 4 from C.
mr::Catalog providers() {
  mr::Catalog c(1);
  const std::vector<float> v{1.0f};
  const std::vector<std::string> provider{"A", "A", "B", "B", "C"};
  for (std::size_t i = 0; i < provider.size(); ++i) c.add(marl_rec::numbered_id("i", static_cast<std::size_t>(i)), v, {.provider = provider[i]});
  return c;
}

}  // namespace

TEST_CASE("ExposureFairness: the slot exposure is the DCG discount") {
  CHECK(mr::ExposureFairness::slot_exposure(0) == 1.0);
  CHECK(mr::ExposureFairness::slot_exposure(1) == doctest::Approx(1.0 / std::log2(3.0)).epsilon(1e-15));
  CHECK(mr::ExposureFairness::slot_exposure(6) == doctest::Approx(1.0 / 3.0).epsilon(1e-15));
}

TEST_CASE("ExposureFairness: under-exposed providers are worth more, within a list and across pages") {
  const mr::Catalog catalog = providers();
  const std::vector<std::size_t> items{0, 1, 2, 3, 4};
  mr::ExposureFairness f;
  CHECK(f.name() == "exposure_fairness");
  f.prepare({.items = items, .catalog = &catalog});
  CHECK(f.providers() == 3);
  CHECK(f.target_share("A") == doctest::Approx(1.0 / 3).epsilon(1e-15));
  CHECK(f.target_share("nobody") == 0.0);
  for (std::size_t p = 0; p < items.size(); ++p) CHECK(f.value(p) == 1.0);  // nothing exposed yet

  f.select(0);  // A takes slot 0: its share is 1, three times its target
  CHECK(f.value(1) == 0.0);
  CHECK(f.value(2) == 1.0);
  f.select(2);  // B takes slot 1: shares A 1 / (1 + e1), B e1 / (1 + e1), e1 = 1/log2(3)
  const double e1 = 1.0 / std::log2(3.0);
  const double share_b = e1 / (1.0 + e1);
  CHECK(f.value(3) == doctest::Approx(1.0 - share_b / (2.0 / 3)).epsilon(1e-12));
  CHECK(f.value(4) == 1.0);
  CHECK(f.exposure("A") == 0.0);  // selection is not recorded exposure

  // Pages shown: {A, B} then the list starts afresh but remembers them.
  const std::vector<std::size_t> page{0, 2};
  f.record(page, catalog);
  CHECK(f.exposure("A") == 1.0);
  CHECK(f.exposure("B") == doctest::Approx(e1).epsilon(1e-15));
  CHECK(f.exposure_share("A") == doctest::Approx(1.0 / (1.0 + e1)).epsilon(1e-12));
  CHECK(f.exposure_share("C") == 0.0);
  f.prepare({.items = items, .catalog = &catalog});
  CHECK(f.value(0) == doctest::Approx(std::max(0.0, 1.0 - (1.0 / (1.0 + e1)) * 1.5)).epsilon(1e-12));
  CHECK(f.value(2) == doctest::Approx(1.0 - share_b * 1.5).epsilon(1e-12));
  CHECK(f.value(4) == 1.0);
  CHECK(f.value(0) < f.value(2));

  f.reset();
  CHECK(f.providers() == 0);
  CHECK(f.exposure("A") == 0.0);
  f.prepare({.items = items, .catalog = &catalog});
  CHECK(f.providers() == 3);
  CHECK(f.value(0) == 1.0);
}

TEST_CASE("ExposureFairness: decay forgets old pages") {
  const mr::Catalog catalog = providers();
  mr::ExposureFairness f({.decay = 0.5});
  const std::vector<std::size_t> a{0}, b{2};
  f.record(a, catalog);
  f.record(b, catalog);  // A's 1 is halved, then B gets 1
  CHECK(f.exposure("A") == 0.5);
  CHECK(f.exposure("B") == 1.0);
  CHECK(f.exposure_share("A") == doctest::Approx(1.0 / 3).epsilon(1e-15));
  // Many pages: the lazy scale is renormalised before it underflows; values stay right.
  for (int i = 0; i < 2000; ++i) f.record(b, catalog);
  CHECK(f.exposure("B") == doctest::Approx(2.0).epsilon(1e-12));  // 1 + 1/2 + 1/4 + …
  CHECK(f.exposure("A") == 0.0);
  CHECK(f.exposure_share("B") == doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("ExposureFairness: configured targets, a provider without one is worth 0") {
  const mr::Catalog catalog = providers();
  mr::ExposureFairness f({.target_share = {{"A", 3.0}, {"B", 1.0}}});
  CHECK(f.target_share("A") == 0.75);
  CHECK(f.target_share("B") == 0.25);
  CHECK(f.target_share("C") == 0.0);
  const std::vector<std::size_t> items{0, 2, 4};
  f.prepare({.items = items, .catalog = &catalog});
  CHECK(f.value(0) == 1.0);
  CHECK(f.value(2) == 0.0);
  f.select(1);  // B takes slot 0: share 1 = four times its target; A at 0
  CHECK(f.value(0) == 1.0);
  CHECK(f.value(1) == 0.0);
}

TEST_CASE("ExposureFairness: with relevance, it spreads exposure across providers over pages") {
  const mr::Catalog catalog = providers();
  const std::vector<std::size_t> items{0, 1, 2, 3};  // A, A, B, B
  using MO = mr::MultiObjective<mr::Weighted<mr::Relevance>, mr::Weighted<mr::ExposureFairness>>;
  const auto serve = [&](MO& mo, const std::vector<float>& relevance) {
    mr::RankedList out;
    std::vector<std::size_t> shown;
    for (int page = 0; page < 60; ++page) {
      mo.rank({.items = items, .relevance = relevance, .catalog = &catalog}, 2, out);
      shown.clear();
      for (const std::size_t p : out.positions) shown.push_back(items[p]);
      mo.record(shown, catalog);
    }
  };
  // Equally relevant providers end up with equal shares (C has no candidate: its third of the
  // target is unreachable; A and B are both over their 1/3 and pulled to the same share).
  MO equal;
  serve(equal, {1.0f, 0.9f, 1.0f, 0.9f});
  CHECK(equal.get<1>().exposure_share("A") == doctest::Approx(0.5).epsilon(0.02));

  // A's items more relevant (normalised 1, 2/3 against B's 1/3, 0). Relevance alone shows A
  // only. With fairness every page is (A1, B1): slot 0 stays A1's (1 + v_A > 1/3 + v_B since
  // v_B − v_A = 1.5 (s_A − s_B) < 2/3 while s_A < 0.72), and once A1 holds slot 0, A's share in
  // the list jumps and B1 (1/3 + v_B) beats A2 (2/3 + v_A ≈ 2/3) for slot 1. So B's share is
  // exactly that of slot 1: e1 / (1 + e1).
  const std::vector<float> a_first{1.0f, 0.9f, 0.8f, 0.7f};
  MO relevance_only;
  relevance_only.set_weights(std::array<double, 2>{1.0, 0.0});
  serve(relevance_only, a_first);
  CHECK(relevance_only.get<1>().exposure_share("B") == 0.0);
  MO fair;
  serve(fair, a_first);
  const double e1 = 1.0 / std::log2(3.0);
  CHECK(fair.get<1>().exposure_share("B") == doctest::Approx(e1 / (1.0 + e1)).epsilon(1e-12));
  CHECK(fair.get<1>().exposure_share("A") + fair.get<1>().exposure_share("B") == doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("ExposureFairness: bad input is refused with a clear error") {
  CHECK(mr::test::error_of([] { mr::ExposureFairness f({.decay = 0.0}); }) ==
        "ExposureFairness: decay must be in (0, 1], got 0.000000");
  CHECK(mr::test::error_of([] { mr::ExposureFairness f({.decay = 1.5}); }) ==
        "ExposureFairness: decay must be in (0, 1], got 1.500000");
  CHECK(mr::test::error_of([] { mr::ExposureFairness f({.target_share = {{"A", -1.0}}}); }) ==
        "ExposureFairness: the target share of 'A' must be finite and >= 0, got -1.000000");
  CHECK(mr::test::error_of([] { mr::ExposureFairness f({.target_share = {{"A", 0.0}}}); }) ==
        "ExposureFairness: the target shares sum to 0");
  const mr::Catalog catalog = providers();
  const std::vector<std::size_t> items{0, 9};
  mr::ExposureFairness f;
  CHECK(mr::test::error_of([&] { f.prepare({.items = items}); }) ==
        "ExposureFairness::prepare: RankingInput::catalog is null");
  CHECK(mr::test::error_of([&] { f.prepare({.items = items, .catalog = &catalog}); }) ==
        "ExposureFairness::prepare: candidate 1 is item 9, outside the catalog (size 5)");
  CHECK(mr::test::error_of([&] { f.record(items, catalog); }) ==
        "ExposureFairness::record: slot 1 holds item 9, outside the catalog (size 5)");
  CHECK(f.exposure("A") == 0.0);  // the failed record changed nothing
  f.prepare({.items = std::span<const std::size_t>(items).first(1), .catalog = &catalog});
  CHECK(mr::test::error_of([&] { f.select(1); }) ==
        "ExposureFairness::select: position 1 out of range (1 candidates)");
}
