#include <doctest/doctest.h>

#include <vector>

#include "marl_rec/models/most_popular.hpp"
#include "support/interactions.hpp"

TEST_CASE("MostPopular scores every item by its number of interactions, for every user") {
  const auto train = marl_rec::test::interactions(
      {{"u1", "a"}, {"u1", "b"}, {"u2", "b"}, {"u3", "b"}, {"u3", "c"}, {"u2", "c"}});
  marl_rec::MostPopular model;
  model.fit(train);
  std::vector<float> scores(3);
  model.score_user(0, scores);
  CHECK(scores == std::vector<float>{1, 3, 2});
  std::vector<float> cold(3);
  model.score_user(99, cold);  // a user training never saw
  CHECK(cold == scores);
  std::vector<float> wrong(2);
  CHECK_THROWS_WITH_AS(model.score_user(0, wrong),
                       "MostPopular::score_user: scores has 2 entries, the model knows 3 items",
                       marl_rec::Error);
}
