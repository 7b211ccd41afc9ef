#include <doctest/doctest.h>

#include <cstddef>
#include <limits>
#include <ratio>
#include <string>
#include <vector>

#include "marl_rec/concepts/objective.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"

namespace mr = marl_rec;

static_assert(mr::Objective<mr::Diversity>);
static_assert(!mr::RecordingObjective<mr::Diversity>);
static_assert(mr::Diversity::list_dependent);

namespace {

// a = (1, 0); b at cos 0.6 to a; c = (0, 2) (orthogonal to a, cos 0.8 to b); d opposite to a;
// z the zero vector.
mr::Catalog toy_catalog() {
  mr::Catalog c(2);
  const std::vector<std::vector<float>> v{{1, 0}, {0.6f, 0.8f}, {0, 2}, {-1, 0}, {0, 0}};
  const std::vector<std::string> category{"x", "y", "x", "", "y"};
  for (std::size_t i = 0; i < v.size(); ++i) {
    c.add(marl_rec::numbered_id("item", static_cast<std::size_t>(i)), v[i], {.category = category[i]});
  }
  return c;
}

}  // namespace

TEST_CASE("Diversity (embedding): 1 - max(0, max cosine to the chosen items), updated per select") {
  const mr::Catalog catalog = toy_catalog();
  const std::vector<std::size_t> items{0, 1, 2, 3, 4};
  const mr::RankingInput input{.items = items, .catalog = &catalog};
  mr::Diversity d;
  CHECK(d.name() == "diversity");
  d.prepare(input);
  for (std::size_t p = 0; p < items.size(); ++p) CHECK(d.value(p) == 1.0);

  d.select(0);  // a
  CHECK(d.value(0) == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(d.value(1) == doctest::Approx(0.4).epsilon(1e-6));
  CHECK(d.value(2) == 1.0);  // orthogonal
  CHECK(d.value(3) == 1.0);  // opposite: a negative cosine counts as 0, not as "more diverse"
  CHECK(d.value(4) == 1.0);  // a zero vector is orthogonal to everything

  d.select(2);  // c: b is now closer to c (0.8) than to a (0.6)
  CHECK(d.value(1) == doctest::Approx(0.2).epsilon(1e-6));
  CHECK(d.value(3) == 1.0);
  CHECK(d.value(0) == doctest::Approx(0.0).epsilon(1e-6));

  // prepare() starts over.
  d.prepare(input);
  for (std::size_t p = 0; p < items.size(); ++p) CHECK(d.value(p) == 1.0);
}

TEST_CASE("Diversity: the same item at two positions is a duplicate, values stay in [0, 1]") {
  const mr::Catalog catalog = toy_catalog();
  const std::vector<std::size_t> items{1, 3, 1};
  mr::Diversity d;
  d.prepare({.items = items, .catalog = &catalog});
  d.select(0);
  CHECK(d.value(2) == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(d.value(2) >= 0.0);
  CHECK(d.value(2) <= 1.0);
  CHECK(d.value(1) == 1.0);
}

TEST_CASE("Diversity (category): 0 once an item of the same category is chosen, else 1") {
  const mr::Catalog catalog = toy_catalog();
  const std::vector<std::size_t> items{0, 1, 2, 3, 4};
  mr::Diversity d({.similarity = mr::Similarity::category});
  CHECK(d.config().similarity == mr::Similarity::category);
  d.prepare({.items = items, .catalog = &catalog});
  d.select(0);  // category "x"
  CHECK(d.value(0) == 0.0);
  CHECK(d.value(1) == 1.0);
  CHECK(d.value(2) == 0.0);
  CHECK(d.value(3) == 1.0);
  CHECK(d.value(4) == 1.0);
  d.select(4);  // category "y"
  CHECK(d.value(1) == 0.0);
  CHECK(d.value(3) == 1.0);  // no category: its own group
  d.select(3);
  CHECK(d.value(3) == 0.0);
}

TEST_CASE("Diversity: an empty ranking is fine") {
  const mr::Catalog catalog = toy_catalog();
  for (const auto s : {mr::Similarity::embedding, mr::Similarity::category}) {
    mr::Diversity d({.similarity = s});
    d.prepare({.catalog = &catalog});
    CHECK_THROWS_AS(d.select(0), mr::Error);
  }
}

TEST_CASE("Diversity: bad input is refused with a clear error") {
  const mr::Catalog catalog = toy_catalog();
  const std::vector<std::size_t> items{0, 7};
  mr::Diversity d;
  CHECK_THROWS_WITH_AS(d.prepare({.items = items}), "Diversity::prepare: RankingInput::catalog is null",
                       mr::Error);
  CHECK_THROWS_WITH_AS(d.prepare({.items = items, .catalog = &catalog}),
                       "Diversity::prepare: candidate 1 is item 7, outside the catalog (size 5)", mr::Error);
  const std::vector<std::size_t> good{0, 1};
  d.prepare({.items = good, .catalog = &catalog});
  CHECK_THROWS_WITH_AS(d.select(2), "Diversity::select: position 2 out of range (2 candidates)", mr::Error);
}

TEST_CASE("Diversity (near_duplicate): a filter of near-copies, not a graded penalty") {
  const mr::Catalog catalog = toy_catalog();
  const std::vector<std::size_t> items{0, 1, 2, 3, 4};
  const mr::RankingInput input{.items = items, .catalog = &catalog};
  mr::Diversity d{{.near_duplicate = 0.7f}};
  d.prepare(input);
  d.select(0);  // a: b is at cos 0.6 (below 0.7: not a near-duplicate), a itself at 1
  CHECK(d.value(0) == 0.0);
  CHECK(d.value(1) == 1.0);
  CHECK(d.value(2) == 1.0);
  d.select(2);  // c: b is at cos 0.8 to c, a near-duplicate now
  CHECK(d.value(1) == 0.0);
  CHECK(d.value(3) == 1.0);
  CHECK(d.value(4) == 1.0);

  // In a ranking: with the filter, b (cos 0.6 to a) keeps its full relevance; graded MMR docks it.
  using Ranking = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<1, 2>>,
                                     mr::Weighted<mr::Diversity, std::ratio<1, 2>>>;
  const std::vector<std::size_t> three{0, 1, 2};
  const std::vector<float> relevance{1.0f, 0.5f, 0.0f};
  mr::RankedList list;
  Ranking graded;
  graded.rank({.items = three, .relevance = relevance, .catalog = &catalog}, 2, list);
  CHECK(list.positions == std::vector<std::size_t>{0, 2});  // b: 0.5·0.5 + 0.5·0.4 < c: 0.5·0 + 0.5·1
  Ranking filtered{mr::Relevance{}, mr::Diversity{{.near_duplicate = 0.7f}}};
  filtered.rank({.items = three, .relevance = relevance, .catalog = &catalog}, 2, list);
  CHECK(list.positions == std::vector<std::size_t>{0, 1});  // b: 0.5·0.5 + 0.5·1 > c: 0.5

  CHECK_THROWS_WITH_AS(mr::Diversity({.near_duplicate = 1.5f}),
                       "Diversity: near_duplicate must be a cosine in [-1, 1], got 1.500000", mr::Error);
  CHECK_THROWS_AS(mr::Diversity({.near_duplicate = std::numeric_limits<float>::quiet_NaN()}), mr::Error);
}
