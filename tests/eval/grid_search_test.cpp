#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "marl_rec/core/id_map.hpp"
#include "marl_rec/eval/grid_search.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "marl_rec/models/random_recommender.hpp"
#include "support/errors.hpp"
#include "support/interactions.hpp"

namespace mr = marl_rec;

TEST_CASE("parameter_grid: every combination, first key slowest") {
  const auto grid = mr::eval::parameter_grid({{"a", {"1", "2"}}, {"b", {"x", "y", "z"}}});
  REQUIRE(grid.size() == 6);
  CHECK(grid[0] == mr::eval::ParameterSet{{"a", "1"}, {"b", "x"}});
  CHECK(grid[2] == mr::eval::ParameterSet{{"a", "1"}, {"b", "z"}});
  CHECK(grid[5] == mr::eval::ParameterSet{{"a", "2"}, {"b", "z"}});
  CHECK(mr::eval::parameter_grid({}).size() == 1);
  CHECK(mr::test::error_of([] { mr::eval::parameter_grid({{"a", {}}}); }) ==
        "eval::parameter_grid: parameter 'a' has no values");
}

namespace {

// A model that is MostPopular when "good" = "1" and a seeded random ranking otherwise.
struct Switch {
  bool good = false;
  mr::MostPopular popular;
  mr::RandomRecommender random{{.seed = 3}};
  std::string_view name() const { return "switch"; }
  void fit(const mr::Interactions& t) {
    popular.fit(t);
    random.fit(t);
  }
  void score_user(std::size_t u, std::span<float> s) const {
    if (good) {
      popular.score_user(u, s);
    } else {
      random.score_user(u, s);
    }
  }
};

}  // namespace

TEST_CASE("grid_search picks the setting that validates best, on the training data only") {
  // Item "hit" is in almost every user's history: MostPopular finds it in validation, random
  // rarely does.
  std::vector<std::pair<std::string, std::string>> rows;
  for (int u = 0; u < 60; ++u) {
    const std::string user = mr::numbered_id("u", static_cast<std::size_t>(u));
    rows.push_back({user, "hit"});
    rows.push_back({user, "hit2"});
    for (int j = 0; j < 3; ++j) rows.push_back({user, mr::numbered_id("i", static_cast<std::size_t>((u * 7 + j * 13) % 50))});
  }
  const mr::Interactions train = mr::test::interactions(rows);
  const auto grid = mr::eval::parameter_grid({{"good", {"0", "1"}}});
  std::size_t calls = 0;
  const auto result = mr::eval::grid_search(
      train, grid,
      [](const mr::eval::ParameterSet& p) {
        Switch s;
        s.good = p.at("good") == "1";
        return s;
      },
      {.k = 5, .validation_fraction = 0.4, .seed = 1}, [&](const mr::eval::GridPoint&) { ++calls; });
  CHECK(calls == 2);
  REQUIRE(result.points.size() == 2);
  CHECK(result.best == 1);
  CHECK(result.best_parameters().at("good") == "1");
  CHECK(result.points[1].ndcg > result.points[0].ndcg + 0.2);
  const std::vector<mr::eval::ParameterSet> none;
  CHECK(mr::test::error_of([&] {
          mr::eval::grid_search(train, none, [](const mr::eval::ParameterSet&) { return Switch{}; });
        }) == "eval::grid_search: the grid is empty");
}
