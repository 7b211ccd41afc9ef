#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "marl_rec/concepts/batch_recommender.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/models/ease.hpp"
#include "marl_rec/models/item_knn.hpp"
#include "support/errors.hpp"
#include "support/interactions.hpp"

namespace {

using marl_rec::Candidates;
using marl_rec::Context;
using marl_rec::ItemKnn;
using marl_rec::ItemNeighbour;
using marl_rec::test::error_of;

static_assert(marl_rec::BatchRecommender<ItemKnn>);
static_assert(marl_rec::Model<ItemKnn>);

// Items a, b, c (0, 1, 2). U_a = {u1, u2, u4}, U_b = {u1, u2, u3}, U_c = {u2, u3}:
// |U_a ∩ U_b| = 2, |U_a ∩ U_c| = 1, |U_b ∩ U_c| = 2.
marl_rec::Interactions hand_data() {
  return marl_rec::test::interactions({{"u1", "a"}, {"u1", "b"}, {"u2", "a"}, {"u2", "b"},
                                       {"u2", "c"}, {"u3", "b"}, {"u3", "c"}, {"u4", "a"}});
}

std::vector<float> user_scores(const ItemKnn& model, std::size_t user) {
  std::vector<float> scores(model.items());
  model.score_user(user, scores);
  return scores;
}

std::vector<float> context_scores(const ItemKnn& model, const Context& context) {
  std::vector<float> scores(model.items());
  model.score(context, Candidates::all(model.items()), scores);
  return scores;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string saved(const ItemKnn& model) {
  std::ostringstream out;
  model.save(out);
  return out.str();
}

void check_neighbours(const ItemKnn& model, std::size_t item,
                      const std::vector<std::pair<std::size_t, double>>& expected) {
  CAPTURE(item);
  const std::span<const ItemNeighbour> got = model.neighbours_of(item);
  REQUIRE(got.size() == expected.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    CHECK(got[k].item == expected[k].first);
    CHECK(got[k].similarity == doctest::Approx(expected[k].second).epsilon(1e-6));
  }
}

}  // namespace

TEST_CASE("ItemKnn similarities by hand: cosine, asymmetric cosine with shrink, pruning") {
  const double s6 = std::sqrt(6.0);
  SUBCASE("cosine (alpha 0.5), no shrink: most similar first") {
    ItemKnn model{{.neighbours = 10, .shrink = 0.0f, .alpha = 0.5f}};
    model.fit(hand_data());
    CHECK(model.name() == "itemknn");
    check_neighbours(model, 0, {{1, 2.0 / 3.0}, {2, 1.0 / s6}});
    check_neighbours(model, 1, {{2, 2.0 / s6}, {0, 2.0 / 3.0}});
    check_neighbours(model, 2, {{1, 2.0 / s6}, {0, 1.0 / s6}});
  }
  SUBCASE("alpha 0.8, shrink 1: sim(i, j) = c / (|U_i|^0.8 |U_j|^0.2 + 1), not symmetric") {
    ItemKnn model{{.neighbours = 10, .shrink = 1.0f, .alpha = 0.8f}};
    model.fit(hand_data());
    const double a = static_cast<double>(0.8f), b = 1.0 - a;
    const auto sim = [&](double c, double ui, double uj) {
      return c / (std::pow(ui, a) * std::pow(uj, b) + 1.0);
    };
    check_neighbours(model, 0, {{1, sim(2, 3, 3)}, {2, sim(1, 3, 2)}});
    check_neighbours(model, 1, {{2, sim(2, 3, 2)}, {0, sim(2, 3, 3)}});
    check_neighbours(model, 2, {{1, sim(2, 2, 3)}, {0, sim(1, 2, 3)}});
    CHECK(model.neighbours_of(0)[1].similarity != model.neighbours_of(2)[1].similarity);
  }
  SUBCASE("one neighbour each: only the most similar is kept") {
    ItemKnn model{{.neighbours = 1, .shrink = 0.0f}};
    model.fit(hand_data());
    check_neighbours(model, 0, {{1, 2.0 / 3.0}});
    check_neighbours(model, 1, {{2, 2.0 / s6}});
    check_neighbours(model, 2, {{1, 2.0 / s6}});
    // u4 has only a: its scores are a's neighbourhood.
    CHECK(user_scores(model, 3) == std::vector<float>{0.0f, static_cast<float>(2.0 / 3.0), 0.0f});
  }
  SUBCASE("equal similarities: the lower index first") {
    ItemKnn model{{.neighbours = 1, .shrink = 0.0f}};
    model.fit(marl_rec::test::interactions({{"x", "p"}, {"x", "q"}, {"x", "r"}}));
    check_neighbours(model, 0, {{1, 1.0}});
    check_neighbours(model, 2, {{0, 1.0}});
  }
  SUBCASE("ratings: Σ r_ui r_uj over the rating vectors' norms") {
    marl_rec::Interactions data =
        marl_rec::test::interactions({{"u1", "a"}, {"u1", "b"}, {"u2", "a"}, {"u2", "b"}});
    const float ratings[] = {2, 1, 1, 3};
    for (std::size_t r = 0; r < 4; ++r) data.rows[r].rating = ratings[r];
    ItemKnn model{{.shrink = 1.0f, .binarize = false}};
    model.fit(data);
    // Σ r_a r_b = 2·1 + 1·3 = 5, ‖r_a‖² = 5, ‖r_b‖² = 10.
    check_neighbours(model, 0, {{1, 5.0 / (std::sqrt(5.0) * std::sqrt(10.0) + 1.0)}});
    ItemKnn binary{{.shrink = 1.0f}};
    binary.fit(data);
    check_neighbours(binary, 0, {{1, 2.0 / (2.0 + 1.0)}});
  }
}

TEST_CASE("ItemKnn's sparse counting matches a brute-force similarity on random data") {
  // 60 users, 25 items, each user 1..10 random items with random ratings 1..5 (repeats allowed).
  marl_rec::Interactions data;
  marl_rec::Rng rng(5);
  for (std::size_t i = 0; i < 25; ++i) data.items.intern(marl_rec::numbered_id("i", i));
  for (std::size_t u = 0; u < 60; ++u) {
    const std::size_t user = data.users.intern(marl_rec::numbered_id("u", u));
    const std::size_t count = 1 + rng.below(10);
    for (std::size_t k = 0; k < count; ++k) {
      data.rows.push_back({.user = user, .item = rng.below(25),
                           .rating = static_cast<float>(1 + rng.below(5)),
                           .source_row = data.rows.size()});
    }
  }
  for (const bool binarize : {true, false}) {
    CAPTURE(binarize);
    const marl_rec::ItemKnnConfig config{.neighbours = 6, .shrink = 2.0f, .alpha = 0.65f,
                                         .binarize = binarize};
    ItemKnn model{config};
    model.fit(data);
    // Dense X (ratings summed over repeats, or 1), then every pair's similarity.
    std::vector<double> x(60 * 25, 0.0);
    for (const marl_rec::Interaction& r : data.rows) {
      double& cell = x[r.user * 25 + r.item];
      cell = binarize ? 1.0 : cell + r.rating;
    }
    const double alpha = static_cast<double>(config.alpha);
    for (std::size_t i = 0; i < 25; ++i) {
      std::vector<std::pair<std::size_t, double>> sims;
      for (std::size_t j = 0; j < 25; ++j) {
        if (j == i) continue;
        double co = 0, ni = 0, nj = 0;
        for (std::size_t u = 0; u < 60; ++u) {
          co += x[u * 25 + i] * x[u * 25 + j];
          ni += x[u * 25 + i] * x[u * 25 + i];
          nj += x[u * 25 + j] * x[u * 25 + j];
        }
        if (co > 0) sims.emplace_back(j, co / (std::pow(ni, alpha) * std::pow(nj, 1 - alpha) + 2.0));
      }
      std::stable_sort(sims.begin(), sims.end(),
                       [](const auto& p, const auto& q) { return p.second > q.second; });
      sims.resize(std::min<std::size_t>(sims.size(), 6));
      check_neighbours(model, i, sims);
    }
  }
}

TEST_CASE("ItemKnn scores: sums of neighbourhoods, history equals the user with the same items") {
  ItemKnn model{{.neighbours = 2, .shrink = 0.0f}};
  model.fit(hand_data());
  const double s6 = std::sqrt(6.0);
  // u3 has b and c: a gets sim(b, a) + sim(c, a), b gets sim(c, b), c gets sim(b, c).
  const std::vector<float> u3 = user_scores(model, 2);
  CHECK(u3[0] == doctest::Approx(2.0 / 3.0 + 1.0 / s6).epsilon(1e-6));
  CHECK(u3[1] == doctest::Approx(2.0 / s6).epsilon(1e-6));
  CHECK(u3[2] == doctest::Approx(2.0 / s6).epsilon(1e-6));
  const std::vector<std::size_t> history{2, 1, 2};
  CHECK(bit_identical(context_scores(model, {.history = history}), u3));
  CHECK(bit_identical(context_scores(model, {.history = history, .user = 50}), u3));
  CHECK(bit_identical(context_scores(model, {.user = 2}), u3));
  // No items: training interactions per item (a 3, b 3, c 2).
  CHECK(user_scores(model, 4) == std::vector<float>{3, 3, 2});
  CHECK(context_scores(model, {}) == std::vector<float>{3, 3, 2});
  // A candidate list scores as the same items among all.
  const std::vector<std::size_t> list{2, 0};
  std::vector<float> scores(2);
  model.score({.user = 2}, Candidates(list), scores);
  CHECK(bit_identical(scores, {u3[2], u3[0]}));
}

TEST_CASE("ItemKnn update adds the item to the user's items, bad input changes nothing") {
  ItemKnn model{{.neighbours = 2, .shrink = 0.0f}};
  model.fit(hand_data());
  const std::vector<float> u4 = user_scores(model, 3);  // item a
  const std::vector<ItemNeighbour> neighbours_a(model.neighbours_of(0).begin(),
                                                model.neighbours_of(0).end());
  model.update({.user = 3}, 0, 0.0);  // not taken: nothing
  model.update({}, 2, 1.0);           // anonymous: nothing
  CHECK(bit_identical(user_scores(model, 3), u4));
  model.update({.user = 3}, 2, 1.0);
  const std::vector<std::size_t> ac{0, 2};
  CHECK(bit_identical(user_scores(model, 3), context_scores(model, {.history = ac})));
  CHECK_FALSE(bit_identical(user_scores(model, 3), u4));
  CHECK(std::equal(neighbours_a.begin(), neighbours_a.end(), model.neighbours_of(0).begin(),
                   model.neighbours_of(0).end()));  // no refit
  const std::vector<float> after = user_scores(model, 3);
  CHECK(error_of([&] { model.update({.user = 3}, 1, std::numeric_limits<double>::infinity()); }) ==
        "ItemKnn::update: the reward inf is not finite");
  CHECK(error_of([&] { model.update({.user = 3}, 3, 1.0); }) ==
        "ItemKnn::update: item 3 is not below the model's 3 items (refit to add items)");
  CHECK(bit_identical(user_scores(model, 3), after));
}

TEST_CASE("ItemKnn rejects bad configs and arguments with a message") {
  CHECK(error_of([] { ItemKnn{{.neighbours = 0}}; }) == "ItemKnn: neighbours must be at least 1");
  CHECK(error_of([] { ItemKnn{{.shrink = -1.0f}}; }) ==
        "ItemKnn: shrink must be finite and >= 0, got -1.000000");
  CHECK(error_of([] { ItemKnn{{.alpha = 1.5f}}; }) == "ItemKnn: alpha must be in [0, 1], got 1.500000");
  CHECK(error_of([] { ItemKnn{{.alpha = std::numeric_limits<float>::quiet_NaN()}}; }) ==
        "ItemKnn: alpha must be in [0, 1], got nan");
  ItemKnn model;
  marl_rec::Interactions bad = hand_data();
  bad.rows[5].user = 10;
  CHECK(error_of([&] { model.fit(bad); }) ==
        "ItemKnn::fit: row 5 has user 10 / item 1, outside the id maps (4 users, 3 items)");
  CHECK(model.items() == 0);
  model.fit(hand_data());
  CHECK(error_of([&] { (void)model.neighbours_of(3); }) ==
        "ItemKnn::neighbours_of: item 3 is not below the 3 items");
  std::vector<float> two(2);
  CHECK(error_of([&] { model.score_user(0, two); }) ==
        "ItemKnn::score_user: scores has 2 entries, the model knows 3 items");
  const std::vector<std::size_t> list{0, 3};
  CHECK(error_of([&] { model.score({}, Candidates(list), two); }) ==
        "ItemKnn::score: candidate item 3 is not below the model's 3 items");
  const std::vector<std::size_t> history{5};
  std::vector<float> three(3);
  CHECK(error_of([&] { model.score({.history = history}, Candidates::all(3), three); }) ==
        "ItemKnn::score: history item 5 is not below the model's 3 items");
}

TEST_CASE("ItemKnn save / load: a round trip scores bit-identically") {
  ItemKnn model{{.neighbours = 1, .shrink = 0.5f, .alpha = 0.7f, .binarize = false}};
  marl_rec::Interactions data = hand_data();
  for (std::size_t r = 0; r < data.rows.size(); ++r) data.rows[r].rating = 1.0f + static_cast<float>(r % 3);
  model.fit(data);
  model.update({.user = 5}, 1, 2.5);
  const std::string bytes = saved(model);
  ItemKnn loaded;
  std::istringstream in(bytes);
  loaded.load(in);
  CHECK(loaded.config().neighbours == 1);
  CHECK(loaded.config().shrink == 0.5f);
  CHECK(loaded.config().alpha == 0.7f);
  CHECK_FALSE(loaded.config().binarize);
  REQUIRE(loaded.items() == 3);
  REQUIRE(loaded.users() == 6);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(std::equal(loaded.neighbours_of(i).begin(), loaded.neighbours_of(i).end(),
                     model.neighbours_of(i).begin(), model.neighbours_of(i).end()));
  }
  for (std::size_t u = 0; u < 7; ++u) {
    CAPTURE(u);
    CHECK(bit_identical(user_scores(loaded, u), user_scores(model, u)));
  }
  CHECK(saved(loaded) == bytes);
  ItemKnn empty;
  std::istringstream in_empty(saved(ItemKnn{}));
  empty.load(in_empty);
  CHECK(empty.items() == 0);
}

TEST_CASE("ItemKnn load rejects truncated, corrupted and foreign streams and keeps its state") {
  ItemKnn model;
  model.fit(hand_data());
  const std::string bytes = saved(model);
  ItemKnn target{{.neighbours = 7}};
  target.fit(marl_rec::test::interactions({{"x", "p"}, {"x", "q"}}));
  const std::vector<float> before = user_scores(target, 0);
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    std::istringstream in(bytes.substr(0, length));
    CHECK_THROWS_AS(target.load(in), marl_rec::Error);
  }
  std::string corrupted = bytes;
  corrupted[bytes.size() - 20] = static_cast<char>(corrupted[bytes.size() - 20] ^ 0x01);
  std::istringstream bad(corrupted);
  CHECK_THROWS_AS(target.load(bad), marl_rec::Error);
  marl_rec::Ease ease{{.lambda = 1.0f}};
  ease.fit(hand_data());
  std::ostringstream other;
  ease.save(other);
  std::istringstream foreign(other.str());
  CHECK(error_of([&] { target.load(foreign); }) ==
        "loading a 'itemknn' model: the stream holds a 'ease' model");
  CHECK(target.config().neighbours == 7);
  CHECK(target.items() == 2);
  CHECK(user_scores(target, 0) == before);
}
