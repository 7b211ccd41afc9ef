#include <doctest/doctest.h>

#include <vector>

#include "marl_rec/models/random_recommender.hpp"
#include "support/interactions.hpp"

TEST_CASE("RandomRecommender: seeded, per user, independent of the order users are scored in") {
  const auto train = marl_rec::test::interactions({{"u1", "a"}, {"u2", "b"}, {"u2", "c"}, {"u3", "d"}});
  marl_rec::RandomRecommender a({.seed = 5}), b({.seed = 5}), c({.seed = 6});
  a.fit(train);
  b.fit(train);
  c.fit(train);
  std::vector<float> a1(4), a2(4), b2(4), b1(4), c1(4);
  a.score_user(1, a1);
  a.score_user(2, a2);
  b.score_user(2, b2);  // the other order
  b.score_user(1, b1);
  c.score_user(1, c1);
  CHECK(a1 == b1);
  CHECK(a2 == b2);
  CHECK(a1 != a2);
  CHECK(a1 != c1);
  for (const float s : a1) CHECK((s >= 0.0f && s < 1.0f));
}
