#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "marl_rec/concepts/batch_recommender.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/eval/any_batch_recommender.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/models/item2vec_recommender.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "support/errors.hpp"
#include "support/interactions.hpp"

namespace {

using marl_rec::Item2VecRecommender;
using Mode = marl_rec::SequenceEncoderConfig::Mode;

static_assert(marl_rec::BatchRecommender<Item2VecRecommender>);

// 200 users in two clusters: user u takes 8 distinct items of cluster u % 2 (items "a0".."a19" or
// "b0".."b19"), in a random order. Items are interned cluster by cluster: a* are 0..19, b* 20..39.
marl_rec::Interactions two_cluster_data() {
  marl_rec::Interactions data;
  for (std::size_t i = 0; i < 20; ++i) data.items.intern(marl_rec::numbered_id("a", i));
  for (std::size_t i = 0; i < 20; ++i) data.items.intern(marl_rec::numbered_id("b", i));
  marl_rec::Rng rng(21);
  for (std::size_t u = 0; u < 200; ++u) {
    const std::size_t user = data.users.intern(marl_rec::numbered_id("u", u));
    std::vector<std::size_t> pool(20);
    for (std::size_t i = 0; i < 20; ++i) pool[i] = (u % 2) * 20 + i;
    marl_rec::shuffle(pool.begin(), pool.end(), rng);
    for (std::size_t i = 0; i < 8; ++i) {
      data.rows.push_back({.user = user, .item = pool[i], .source_row = data.rows.size()});
    }
  }
  return data;
}

// Share of the recommended items (top 5, training items excluded) in the user's own cluster.
double same_cluster_share(const Item2VecRecommender& model, const marl_rec::Interactions& train) {
  std::vector<std::size_t> users(train.users.size());
  for (std::size_t u = 0; u < users.size(); ++u) users[u] = u;
  const auto recs = marl_rec::eval::recommend_for_users(model, train, users, 5);
  std::size_t same = 0, total = 0;
  for (std::size_t u = 0; u < users.size(); ++u) {
    for (const marl_rec::ScoredItem& s : recs[u]) {
      same += s.index / 20 == u % 2;
      ++total;
    }
  }
  return static_cast<double>(same) / static_cast<double>(total);
}

}  // namespace

TEST_CASE("Item2VecRecommender recommends items of the user's own cluster") {
  // Subsampling off: with 40 items every item is far above the 1e-3 frequency threshold.
  const marl_rec::Interactions train = two_cluster_data();
  SUBCASE("with the mean and the recency encoders") {
    for (const Mode mode : {Mode::mean, Mode::recency}) {
      CAPTURE(static_cast<int>(mode));
      Item2VecRecommender model({.item2vec = {.dim = 16, .epochs = 5, .subsample = 0.0},
                                 .encoder = {.mode = mode, .half_life = 3.0}});
      model.fit(train);
      CHECK(model.name() == "item2vec");
      CHECK(model.is_warm(0));
      CHECK(same_cluster_share(model, train) >= 0.95);
    }
  }
  SUBCASE("scoring with the context vectors") {
    Item2VecRecommender model({.item2vec = {.dim = 16, .epochs = 5, .subsample = 0.0},
                               .scoring = Item2VecRecommender::Scoring::context});
    model.fit(train);
    CHECK(same_cluster_share(model, train) >= 0.95);
  }
  SUBCASE("with a trained attention encoder") {
    Item2VecRecommender model({.item2vec = {.dim = 16, .epochs = 5, .subsample = 0.0},
                               .encoder = {.mode = Mode::attention, .projections = true,
                                           .epochs = 1}});
    model.fit(train);
    CHECK(model.encoder().parameters().w_k.rows() == 16);
    CHECK(same_cluster_share(model, train) >= 0.95);
  }
}

TEST_CASE("Item2VecRecommender: deterministic, cold users get the popularity") {
  marl_rec::Interactions train = two_cluster_data();
  // A user known to the id map but without training rows, and an item nobody has.
  train.users.intern("no_rows");
  train.items.intern("unseen");
  const Item2VecRecommender::Config config{.item2vec = {.dim = 8, .epochs = 2, .seed = 4}};
  Item2VecRecommender a(config), b(config);
  a.fit(train);
  b.fit(train);
  const std::size_t n = train.items.size();
  std::vector<float> sa(n), sb(n);
  a.score_user(3, sa);
  b.score_user(3, sb);
  CHECK(sa == sb);
  CHECK(sa[n - 1] == -std::numeric_limits<float>::infinity());  // the unseen item
  for (std::size_t i = 0; i + 1 < n; ++i) CHECK(std::abs(sa[i]) <= 1.0001f);  // cosines

  marl_rec::MostPopular popular;
  popular.fit(train);
  std::vector<float> expected(n), cold(n);
  popular.score_user(0, expected);
  const std::size_t no_rows = train.users.size() - 1;
  CHECK_FALSE(a.is_warm(no_rows));
  a.score_user(no_rows, cold);
  CHECK(cold == expected);
  a.score_user(12345, cold);  // an index training never saw
  CHECK(cold == expected);

  // Behind the evaluation command's type-erased shell.
  marl_rec::eval::AnyBatchRecommender any(Item2VecRecommender{config});
  any.fit(train);
  CHECK(any.name() == "item2vec");
  any.score_user(3, sb);
  CHECK(sa == sb);
}

TEST_CASE("Item2VecRecommender errors") {
  using marl_rec::test::error_of;
  Item2VecRecommender model;
  CHECK(error_of([&] { model.fit(marl_rec::Interactions{}); }) ==
        "Item2Vec::fit: no sequence has two items with at least min_count (1) occurrences: "
        "nothing to learn from");
  CHECK(error_of([] { Item2VecRecommender({.item2vec = {.dim = 0}}); }) ==
        "Item2Vec: config.dim must be at least 1");
  CHECK(error_of([] { Item2VecRecommender({.encoder = {.half_life = -1.0}}); }) ==
        "SequenceEncoder: config.half_life must be finite and positive");
  model.fit(marl_rec::test::interactions({{"u1", "a"}, {"u1", "b"}, {"u2", "b"}, {"u2", "c"}}));
  std::vector<float> wrong(2);
  CHECK(error_of([&] { model.score_user(0, wrong); }) ==
        "Item2VecRecommender::score_user: scores has 2 entries, the model knows 3 items");
}
