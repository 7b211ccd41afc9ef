#include <doctest/doctest.h>

// The same GCC 12 + AVX-512 false positives as in ease.hpp (see there).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wunused-variable"
#endif
#include <Eigen/LU>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
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
using marl_rec::Ease;
using marl_rec::test::error_of;

static_assert(marl_rec::BatchRecommender<Ease>);
static_assert(marl_rec::Model<Ease>);

// 5 users × 4 items (a, b, c, d interned in that order), d only with u5.
marl_rec::Interactions small_data() {
  return marl_rec::test::interactions({{"u1", "a"}, {"u1", "b"}, {"u1", "c"}, {"u2", "a"},
                                       {"u2", "b"}, {"u3", "b"}, {"u3", "c"}, {"u4", "a"},
                                       {"u4", "c"}, {"u5", "c"}, {"u5", "d"}, {"u5", "a"}});
}

// The same pairs with ratings (and a repeated (u1, a) row whose ratings add up).
marl_rec::Interactions rated_data() {
  marl_rec::Interactions data = small_data();
  const float ratings[] = {5, 1, 3, 2, 4, 4, 1, 3, 5, 2, 1, 4};
  for (std::size_t r = 0; r < data.rows.size(); ++r) data.rows[r].rating = ratings[r];
  data.rows.push_back({.user = 0, .item = 0, .rating = 0.5f, .source_row = data.rows.size()});
  data.has_rating = true;
  return data;
}

// B computed independently: X dense, G = XᵀX + λI inverted by full-pivot LU, in double.
Eigen::MatrixXd reference_b(const marl_rec::Interactions& data, double lambda, bool binarize) {
  const auto m = static_cast<Eigen::Index>(data.users.size());
  const auto n = static_cast<Eigen::Index>(data.items.size());
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(m, n);
  for (const marl_rec::Interaction& row : data.rows) {
    const auto u = static_cast<Eigen::Index>(row.user);
    const auto i = static_cast<Eigen::Index>(row.item);
    x(u, i) = binarize ? 1.0 : x(u, i) + row.rating;
  }
  const Eigen::MatrixXd g = x.transpose() * x + lambda * Eigen::MatrixXd::Identity(n, n);
  const Eigen::MatrixXd p = g.fullPivLu().inverse();
  Eigen::MatrixXd b(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) b(i, j) = i == j ? 0.0 : -p(i, j) / p(j, j);
  }
  return b;
}

std::vector<float> user_scores(const Ease& model, std::size_t user) {
  std::vector<float> scores(model.items());
  model.score_user(user, scores);
  return scores;
}

std::vector<float> context_scores(const Ease& model, const Context& context) {
  std::vector<float> scores(model.items());
  model.score(context, Candidates::all(model.items()), scores);
  return scores;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string saved(const Ease& model) {
  std::ostringstream out;
  model.save(out);
  return out.str();
}

}  // namespace

TEST_CASE("Ease on two items: B_ab = co-occurrences / (users of a + lambda)") {
  // With two items G = [[d_a + λ, c], [c, d_b + λ]], so B_ab = −P_ab / P_bb = c / (d_a + λ).
  // d_a = 4, d_b = 3, c = 2, λ = 1: B_ab = 2 / 5, B_ba = 2 / 4.
  const auto train = marl_rec::test::interactions(
      {{"u1", "a"}, {"u1", "b"}, {"u2", "a"}, {"u2", "b"}, {"u3", "a"}, {"u4", "b"}, {"u5", "a"}});
  Ease model{{.lambda = 1.0f}};
  model.fit(train);
  CHECK(model.name() == "ease");
  REQUIRE(model.items() == 2);
  const marl_rec::MatrixView b = model.weights();
  CHECK(b.row(0)[0] == 0.0f);
  CHECK(b.row(1)[1] == 0.0f);
  CHECK(b.row(0)[1] == doctest::Approx(0.4).epsilon(1e-6));
  CHECK(b.row(1)[0] == doctest::Approx(0.5).epsilon(1e-6));
  // u3 has only a: its scores are row a of B.
  CHECK(user_scores(model, 2) == std::vector<float>{0.0f, b.row(0)[1]});
}

TEST_CASE("Ease B matches an independent dense inverse, binarized and with ratings") {
  for (const bool binarize : {true, false}) {
    CAPTURE(binarize);
    const marl_rec::Interactions train = binarize ? small_data() : rated_data();
    for (const float lambda : {0.5f, 3.0f, 500.0f}) {
      CAPTURE(lambda);
      Ease model{{.lambda = lambda, .binarize = binarize}};
      model.fit(train);
      const Eigen::MatrixXd expected = reference_b(train, lambda, binarize);
      const marl_rec::MatrixView b = model.weights();
      REQUIRE(b.rows() == 4);
      REQUIRE(b.cols() == 4);
      for (std::size_t i = 0; i < 4; ++i) {
        CHECK(b.row(i)[i] == 0.0f);  // exactly: the constraint diag(B) = 0
        for (std::size_t j = 0; j < 4; ++j) {
          const double want = expected(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
          // float storage: relative 1e-6, plus an absolute floor for entries near 0.
          CHECK(std::abs(b.row(i)[j] - want) <= 1e-6 * std::abs(want) + 1e-9);
        }
      }
      // Scores are x_u B, in double from the reference: user u1 (items a, b, c; rated: a twice).
      const std::vector<float> got = user_scores(model, 0);
      const double xa = binarize ? 1.0 : 5.5, xb = binarize ? 1.0 : 1.0, xc = binarize ? 1.0 : 3.0;
      for (std::size_t j = 0; j < 4; ++j) {
        const auto jj = static_cast<Eigen::Index>(j);
        const double want = xa * expected(0, jj) + xb * expected(1, jj) + xc * expected(2, jj);
        CHECK(std::abs(got[j] - want) <= 1e-5 * (std::abs(want) + 1.0));
      }
    }
  }
}

TEST_CASE("Ease B matches the dense inverse across several column blocks (600 items)") {
  // fit inverts in blocks of 256 columns: 600 items make three, the last one partial.
  marl_rec::Interactions data;
  marl_rec::Rng rng(11);
  for (std::size_t i = 0; i < 600; ++i) data.items.intern(marl_rec::numbered_id("i", i));
  for (std::size_t u = 0; u < 300; ++u) {
    const std::size_t user = data.users.intern(marl_rec::numbered_id("u", u));
    for (std::size_t k = 0; k < 12; ++k) {
      // Skewed towards low indices, so that items co-occur unevenly.
      const std::size_t item = static_cast<std::size_t>(600.0 * std::pow(rng.uniform(), 2.0));
      data.rows.push_back({.user = user, .item = item, .source_row = data.rows.size()});
    }
  }
  Ease model{{.lambda = 4.0f}};
  model.fit(data);
  const Eigen::MatrixXd expected = reference_b(data, 4.0, true);
  const marl_rec::MatrixView b = model.weights();
  double worst = 0.0;
  for (std::size_t i = 0; i < 600; ++i) {
    for (std::size_t j = 0; j < 600; ++j) {
      const double want = expected(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
      worst = std::max(worst, std::abs(b.row(i)[j] - want) / (std::abs(want) + 1e-6));
    }
  }
  CHECK(worst < 1e-5);
  bool zero_diagonal = true;
  for (std::size_t i = 0; i < 600; ++i) zero_diagonal = zero_diagonal && b.row(i)[i] == 0.0f;
  CHECK(zero_diagonal);
}

TEST_CASE("Ease scores: history equals the user with the same items, cold users get popularity") {
  Ease model{{.lambda = 2.0f}};
  model.fit(small_data());
  const std::vector<float> u1 = user_scores(model, 0);  // items a, b, c
  // An anonymous session with the same items, out of order and with a repeat (binarized: once).
  const std::vector<std::size_t> history{2, 0, 1, 0};
  CHECK(bit_identical(context_scores(model, {.history = history}), u1));
  // A known user is scored from their items; the history is then ignored.
  CHECK(bit_identical(context_scores(model, {.history = std::vector<std::size_t>{3}, .user = 0}), u1));
  // A user index training never saw is anonymous too.
  CHECK(bit_identical(context_scores(model, {.history = history, .user = 99}), u1));
  // No items at all: the training interactions per item (a 4, b 3, c 4, d 1), as MostPopular.
  const std::vector<float> popularity{4, 3, 4, 1};
  CHECK(user_scores(model, 99) == popularity);
  CHECK(context_scores(model, {}) == popularity);
}

TEST_CASE("Ease scores a candidate list exactly as the same items among all") {
  Ease model{{.lambda = 2.0f}};
  model.fit(small_data());
  const std::vector<float> all = user_scores(model, 3);
  const std::vector<std::size_t> list{3, 1, 1, 0};
  std::vector<float> scores(list.size());
  model.score({.user = 3}, Candidates(list), scores);
  CHECK(bit_identical(scores, {all[3], all[1], all[1], all[0]}));
  std::vector<float> prefix(3);
  model.score({.user = 3}, Candidates::all(3), prefix);
  CHECK(bit_identical(prefix, {all[0], all[1], all[2]}));
  std::vector<float> none;
  model.score({.user = 3}, Candidates(), none);  // nothing to do, no error
}

TEST_CASE("Ease scores concurrently from two threads as it does alone") {
  Ease model{{.lambda = 2.0f}};
  model.fit(small_data());
  const std::vector<std::size_t> list{2, 0};
  std::vector<float> alone(2);
  model.score({.user = 1}, Candidates(list), alone);
  std::vector<float> first(2), second(2);
  bool same_first = true, same_second = true;
  std::thread a([&] {
    for (int k = 0; k < 200; ++k) {
      model.score({.user = 1}, Candidates(list), first);
      same_first = same_first && bit_identical(first, alone);
    }
  });
  std::thread b([&] {
    for (int k = 0; k < 200; ++k) {
      model.score({.history = std::vector<std::size_t>{0, 1}}, Candidates(list), second);
      same_second = same_second && bit_identical(second, alone);  // u2 has items a, b
    }
  });
  a.join();
  b.join();
  CHECK(same_first);
  CHECK(same_second);
}

TEST_CASE("Ease update adds the item to the user's items without refitting B") {
  Ease model{{.lambda = 2.0f}};
  model.fit(small_data());
  const std::vector<float> b_before(model.weights().data(), model.weights().data() + 16);
  const std::vector<float> u4 = user_scores(model, 3);  // items a, c

  SUBCASE("a positive reward: the next scores are those of the larger item set") {
    model.update({.user = 3}, 1, 1.0);
    const std::vector<std::size_t> abc{0, 1, 2};
    CHECK(bit_identical(user_scores(model, 3), context_scores(model, {.history = abc})));
    CHECK(bit_identical(user_scores(model, 3), user_scores(model, 0)));  // u1 has a, b, c
    CHECK(std::vector<float>(model.weights().data(), model.weights().data() + 16) == b_before);
    model.update({.user = 3}, 1, 3.0);  // binarized: already there, nothing changes
    CHECK(model.user_items(3).size() == 3);
    CHECK(model.user_items(3)[1].weight == 1.0f);
  }
  SUBCASE("a reward <= 0, or an anonymous context, records nothing") {
    model.update({.user = 3}, 1, 0.0);
    model.update({.user = 3}, 1, -1.0);
    model.update({}, 1, 1.0);
    CHECK(bit_identical(user_scores(model, 3), u4));
    CHECK(model.users() == 5);
  }
  SUBCASE("a new user index makes room for it") {
    model.update({.user = 6}, 3, 1.0);
    CHECK(model.users() == 7);
    CHECK(model.user_items(5).empty());
    const std::vector<std::size_t> d{3};
    CHECK(bit_identical(user_scores(model, 6), context_scores(model, {.history = d})));
    // The skipped slot 5 has no items: a context naming it is scored from its history.
    CHECK(bit_identical(context_scores(model, {.history = d, .user = 5}), user_scores(model, 6)));
  }
  SUBCASE("bad input throws and changes nothing") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK(error_of([&] { model.update({.user = 3}, 1, nan); }) ==
          "Ease::update: the reward nan is not finite");
    CHECK(error_of([&] { model.update({.user = 3}, 4, 1.0); }) ==
          "Ease::update: item 4 is not below the model's 4 items (refit to add items)");
    CHECK(error_of([&] { model.update({.user = 3}, 1, 1e300); }) ==
          "Ease::update: the reward " + std::to_string(1e300) + " overflows a float");
    CHECK(error_of([&] { model.update({.user = std::size_t{1} << 40}, 1, 1.0); })
              .starts_with("Ease::update: user 1099511627776 is more than 1048576 past the 5"));
    CHECK(bit_identical(user_scores(model, 3), u4));
    CHECK(model.users() == 5);
  }
}

TEST_CASE("Ease without binarize: ratings weigh the rows, updates add the reward") {
  Ease model{{.lambda = 2.0f, .binarize = false}};
  model.fit(rated_data());
  REQUIRE(model.user_items(0).size() == 3);
  CHECK(model.user_items(0)[0].weight == 5.5f);  // (u1, a) rated 5 and 0.5
  model.update({.user = 0}, 0, 2.0);
  CHECK(model.user_items(0)[0].weight == 7.5f);
  // A session's repeats count as often as they appear.
  const std::vector<std::size_t> twice{1, 1};
  std::vector<float> expected(4);
  const marl_rec::MatrixView b = model.weights();
  for (std::size_t j = 0; j < 4; ++j) expected[j] = 2.0f * b.row(1)[j];
  CHECK(context_scores(model, {.history = twice}) == expected);
  model.update({.user = 0}, 0, 3e38);
  CHECK(error_of([&] { model.update({.user = 0}, 0, 3e38); }) ==
        "Ease::update: user 0's weight for item 0 would overflow to a non-finite float");
}

TEST_CASE("Ease rejects bad configs, data and arguments with a message") {
  CHECK(error_of([] { Ease{{.lambda = 0.0f}}; }) == "Ease: lambda must be finite and > 0, got 0.000000");
  CHECK(error_of([] { Ease{{.lambda = std::numeric_limits<float>::infinity()}}; }) ==
        "Ease: lambda must be finite and > 0, got inf");
  CHECK(error_of([] { Ease{{.max_items = 0}}; }) == "Ease: max_items must be in [1, 1048576], got 0");

  Ease small{{.max_items = 3}};
  CHECK(error_of([&] { small.fit(small_data()); }) ==
        "Ease::fit: the training data has 4 items, more than max_items = 3: B is a dense n x n "
        "float matrix (0 MB for 4 items) and fitting needs an n x n double Gram matrix besides "
        "(0 MB); raise max_items if the memory is there");
  marl_rec::Interactions big;
  for (std::size_t i = 0; i < 20001; ++i) big.items.intern(marl_rec::numbered_id("i", i));
  CHECK(error_of([&] { Ease{}.fit(big); })
            .find("20001 items, more than max_items = 20000: B is a dense n x n float matrix "
                  "(1600 MB for 20001 items) and fitting needs an n x n double Gram matrix "
                  "besides (3200 MB)") != std::string::npos);

  Ease model{{.lambda = 2.0f, .binarize = false}};
  marl_rec::Interactions bad = small_data();
  bad.rows[3].rating = std::numeric_limits<float>::quiet_NaN();
  CHECK(error_of([&] { model.fit(bad); }) == "Ease::fit: row 3 has a non-finite rating");
  bad = small_data();
  bad.rows[2].item = 9;
  CHECK(error_of([&] { model.fit(bad); }) ==
        "Ease::fit: row 2 has user 0 / item 9, outside the id maps (5 users, 4 items)");
  CHECK(model.items() == 0);  // failed fits left the model unfitted

  model.fit(small_data());
  std::vector<float> three(3);
  CHECK(error_of([&] { model.score_user(0, three); }) ==
        "Ease::score_user: scores has 3 entries, the model knows 4 items");
  CHECK(error_of([&] { model.score({}, Candidates::all(4), three); }) ==
        "Ease::score: scores has 3 entries, candidates has 4");
  const std::vector<std::size_t> list{1, 7, 2};
  CHECK(error_of([&] { model.score({}, Candidates(list), three); }) ==
        "Ease::score: candidate item 7 is not below the model's 4 items");
  const std::vector<std::size_t> history{0, 4};
  std::vector<float> four(4);
  CHECK(error_of([&] { model.score({.history = history}, Candidates::all(4), four); }) ==
        "Ease::score: history item 4 is not below the model's 4 items");
  std::vector<float> five(5);
  CHECK(error_of([&] { model.score({}, Candidates::all(5), five); }) ==
        "Ease::score: candidate item 4 is not below the model's 4 items");
}

TEST_CASE("Ease save / load: a round trip scores bit-identically") {
  Ease model{{.lambda = 3.0f, .binarize = false, .max_items = 10}};
  model.fit(rated_data());
  model.update({.user = 7}, 2, 1.5);  // the online state is saved too
  const std::string bytes = saved(model);

  Ease loaded;  // another config: load replaces it
  std::istringstream in(bytes);
  loaded.load(in);
  CHECK(loaded.config().lambda == 3.0f);
  CHECK_FALSE(loaded.config().binarize);
  CHECK(loaded.config().max_items == 10);
  REQUIRE(loaded.items() == 4);
  REQUIRE(loaded.users() == 8);
  for (std::size_t u = 0; u < 9; ++u) {
    CAPTURE(u);
    CHECK(bit_identical(user_scores(loaded, u), user_scores(model, u)));
  }
  const std::vector<std::size_t> history{3, 1};
  CHECK(bit_identical(context_scores(loaded, {.history = history}),
                      context_scores(model, {.history = history})));
  CHECK(saved(loaded) == bytes);
  // An unfitted model round-trips too.
  Ease empty;
  std::istringstream in_empty(saved(Ease{}));
  empty.load(in_empty);
  CHECK(empty.items() == 0);
}

TEST_CASE("Ease load rejects truncated, corrupted and foreign streams and keeps its state") {
  Ease model{{.lambda = 2.0f}};
  model.fit(small_data());
  const std::string bytes = saved(model);

  Ease target{{.lambda = 5.0f}};
  target.fit(marl_rec::test::interactions({{"x", "p"}, {"x", "q"}, {"y", "q"}}));
  const std::vector<float> before = user_scores(target, 0);

  for (std::size_t length = 0; length < bytes.size(); ++length) {
    std::istringstream in(bytes.substr(0, length));
    CHECK_THROWS_AS(target.load(in), marl_rec::Error);
  }
  std::istringstream cut(bytes.substr(0, bytes.size() - 1));
  CHECK(error_of([&] { target.load(cut); }) ==
        "loading a 'ease' model: the stream ends before its checksum (truncated)");
  std::string corrupted = bytes;
  corrupted[bytes.size() / 2] = static_cast<char>(corrupted[bytes.size() / 2] ^ 0x10);
  std::istringstream bad(corrupted);
  CHECK_THROWS_AS(target.load(bad), marl_rec::Error);

  marl_rec::ItemKnn knn;
  knn.fit(small_data());
  std::ostringstream other;
  knn.save(other);
  std::istringstream foreign(other.str());
  CHECK(error_of([&] { target.load(foreign); }) ==
        "loading a 'ease' model: the stream holds a 'itemknn' model");
  CHECK(target.config().lambda == 5.0f);
  CHECK(target.items() == 2);
  CHECK(user_scores(target, 0) == before);
}
