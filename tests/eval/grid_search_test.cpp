#include <doctest/doctest.h>

#include <span>
#include <string>
#include <string_view>
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

namespace {
// Ranks item "last" first for everyone (the fitted item map's index of "last").
struct PrefersLast {
  std::size_t last = 0, items = 0;
  void fit(const mr::Interactions& train) {
    items = train.items.size();
    last = train.items.find("last").value();
  }
  void score_user(std::size_t, std::span<float> scores) const {
    for (std::size_t i = 0; i < scores.size(); ++i) scores[i] = i == last ? 1.0f : 0.0f;
  }
  std::string_view name() const { return "prefers_last"; }
};
}  // namespace

TEST_CASE("grid_search with leave-last-out validation holds out each user's last row in time") {
  // Every user's last row in time is item "last"; it comes first in the file, so file order alone
  // would hold out another item.
  mr::Interactions train;
  train.has_timestamp = true;
  for (std::size_t u = 0; u < 20; ++u) {
    const std::size_t user = train.users.intern(mr::numbered_id("u", u));
    train.rows.push_back({.user = user, .item = train.items.intern("last"), .timestamp = 100.0,
                          .source_row = train.rows.size()});
    for (std::size_t j = 0; j < 3; ++j) {
      train.rows.push_back({.user = user, .item = train.items.intern(mr::numbered_id("i", (u + j) % 7)),
                            .timestamp = static_cast<double>(j), .source_row = train.rows.size()});
    }
  }
  const auto grid = mr::eval::parameter_grid({});
  using Options = mr::eval::GridSearchOptions;
  const auto last_out = mr::eval::grid_search(train, grid, [](const mr::eval::ParameterSet&) { return PrefersLast{}; },
                                              Options{.k = 5, .split = Options::Split::leave_last_out});
  CHECK(last_out.points.at(0).ndcg == doctest::Approx(1.0));
  // Per-user random validation holds out other rows too: "last" is the answer for some only.
  const auto random = mr::eval::grid_search(train, grid, [](const mr::eval::ParameterSet&) { return PrefersLast{}; },
                                            Options{.k = 5, .validation_fraction = 0.5, .seed = 3});
  CHECK(random.points.at(0).ndcg < 0.9);
}
