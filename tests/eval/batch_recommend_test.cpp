#include <doctest/doctest.h>

#include <vector>

#include "marl_rec/eval/any_batch_recommender.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "support/interactions.hpp"

TEST_CASE("recommend_for_users excludes each user's training items and serves unseen users") {
  // Popularity: b 3, c 2, a 1, d 1.
  const auto train = marl_rec::test::interactions(
      {{"u1", "a"}, {"u1", "b"}, {"u2", "b"}, {"u3", "b"}, {"u3", "c"}, {"u2", "c"}, {"u4", "d"}});
  marl_rec::eval::AnyBatchRecommender model(marl_rec::MostPopular{});
  model.fit(train);
  CHECK(model.name() == "mostpop");
  const std::vector<std::size_t> users = {0, 1, 3, 7};  // u1, u2, u4, and one training never saw
  const auto recs = marl_rec::eval::recommend_for_users(model, train, users, 2);
  REQUIRE(recs.size() == 4);
  // u1 has a and b: c (2), then d (1).
  CHECK(recs[0].size() == 2);
  CHECK(recs[0][0].index == train.items.at("c"));
  CHECK(recs[0][1].index == train.items.at("d"));
  // u2 has b, c: a and d tie at 1; the lower index (a) first.
  CHECK(recs[1][0].index == train.items.at("a"));
  CHECK(recs[1][1].index == train.items.at("d"));
  // u4 has d: b, c.
  CHECK(recs[2][0].index == train.items.at("b"));
  CHECK(recs[2][1].index == train.items.at("c"));
  // An unseen user: the plain popularity order, nothing excluded.
  CHECK(recs[3][0].index == train.items.at("b"));
  CHECK(recs[3][1].index == train.items.at("c"));
  // k larger than what is left: only the items the user does not have.
  const std::vector<std::size_t> u1 = {0};
  CHECK(marl_rec::eval::recommend_for_users(model, train, u1, 10)[0].size() == 2);
}

TEST_CASE("ranked_for_test_users: the lists of the users with test rows, indexed by user") {
  const auto train = marl_rec::test::interactions(
      {{"u1", "a"}, {"u1", "b"}, {"u2", "b"}, {"u3", "b"}, {"u3", "c"}, {"u2", "c"}, {"u4", "d"}});
  marl_rec::eval::AnyBatchRecommender model(marl_rec::MostPopular{});
  model.fit(train);
  marl_rec::Interactions test;
  test.users = train.users;
  test.items = train.items;
  test.rows = {{.user = 3, .item = train.items.at("a")}, {.user = 0, .item = train.items.at("c")},
               {.user = 3, .item = train.items.at("c")}};
  const auto ranked = marl_rec::eval::ranked_for_test_users(model, train, test, 2);
  REQUIRE(ranked.size() == train.users.size());
  const std::vector<std::size_t> users = {0, 3};
  const auto recs = marl_rec::eval::recommend_for_users(model, train, users, 2);
  for (std::size_t i = 0; i < users.size(); ++i) {
    REQUIRE(ranked[users[i]].size() == recs[i].size());
    for (std::size_t j = 0; j < recs[i].size(); ++j) CHECK(ranked[users[i]][j] == recs[i][j].index);
  }
  CHECK(ranked[1].empty());  // no test row
  CHECK(ranked[2].empty());
  test.rows.push_back({.user = 9, .item = 0});
  CHECK_THROWS_AS(marl_rec::eval::ranked_for_test_users(model, train, test, 2), marl_rec::Error);
}
