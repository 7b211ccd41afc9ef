#include "marl_rec/models/mlp_scorer.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "marl_rec/concepts/federated_model.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::Candidates;
using marl_rec::Context;
using marl_rec::MatrixView;
using marl_rec::MlpScorer;
using marl_rec::MlpScorerConfig;
using MlpScorer64 = marl_rec::BasicMlpScorer<double>;
using marl_rec::test::error_of;

static_assert(marl_rec::Model<MlpScorer>);

// A random world: `users` user vectors of `user_dim` and `items` item vectors of `item_dim`
// features, N(0, 1) entries.
struct World {
  std::size_t user_dim = 0;
  std::size_t item_dim = 0;
  std::size_t n_items = 0;
  std::vector<float> users{};
  std::vector<float> items{};

  World(std::size_t n_users, std::size_t du, std::size_t item_rows, std::size_t di,
        std::uint64_t seed)
      : user_dim(du), item_dim(di), n_items(item_rows), users(n_users * du), items(item_rows * di) {
    marl_rec::Rng rng(seed);
    for (float& x : users) x = static_cast<float>(rng.normal());
    for (float& x : items) x = static_cast<float>(rng.normal());
  }
  std::size_t item_count() const { return n_items; }
  Context context(std::size_t user) const {
    return {.features = std::span<const float>(users).subspan(user * user_dim, user_dim),
            .items = MatrixView(items, item_count(), item_dim)};
  }
};

// `steps` updates on random (user, item) pairs with rewards in [0, 1] drawn from Rng(seed).
template <class Model>
void train_randomly(Model& model, const World& world, std::size_t n_users, std::size_t steps,
                    std::uint64_t seed) {
  marl_rec::Rng rng(seed);
  for (std::size_t s = 0; s < steps; ++s) {
    const std::size_t user = rng.below(n_users);
    const std::size_t item = rng.below(world.item_count());
    model.update(world.context(user), item, rng.uniform());
  }
}

template <class Model>
std::vector<float> scores_of(const Model& model, const Context& context, Candidates candidates) {
  std::vector<float> scores(candidates.size());
  model.score(context, candidates, scores);
  return scores;
}

// Exact AUC: the fraction of (positive, negative) pairs ranked correctly, ties counting 1/2.
double auc(const std::vector<float>& scores, const std::vector<int>& labels) {
  double correct = 0.0, pairs = 0.0;
  for (std::size_t p = 0; p < scores.size(); ++p) {
    if (labels[p] != 1) continue;
    for (std::size_t n = 0; n < scores.size(); ++n) {
      if (labels[n] != 0) continue;
      pairs += 1.0;
      correct += scores[p] > scores[n] ? 1.0 : (scores[p] == scores[n] ? 0.5 : 0.0);
    }
  }
  return correct / pairs;
}

// Largest |analytic − numeric| / max(|analytic| + |numeric|, 1e-6) over every parameter, the
// numeric derivative by central differences with step 1e-6 in double (truncation ~1e-12,
// rounding ~1e-10: far below the 1e-6 tolerance unless the backward pass is wrong).
double worst_gradient_error(MlpScorer64& model, const Context& context, std::size_t item,
                            double reward) {
  const std::vector<double> base(model.parameters().begin(), model.parameters().end());
  std::vector<double> analytic(base.size());
  model.loss_and_gradient(context, item, reward, analytic);
  const double h = 1e-6;
  double worst = 0.0;
  for (std::size_t i = 0; i < base.size(); ++i) {
    std::vector<double> shifted = base;
    shifted[i] = base[i] + h;
    model.set_parameters(shifted);
    const double plus = model.loss_and_gradient(context, item, reward, {});
    shifted[i] = base[i] - h;
    model.set_parameters(shifted);
    const double minus = model.loss_and_gradient(context, item, reward, {});
    const double numeric = (plus - minus) / (2 * h);
    worst = std::max(worst, std::fabs(analytic[i] - numeric) /
                                std::max(std::fabs(analytic[i]) + std::fabs(numeric), 1e-6));
  }
  model.set_parameters(base);
  return worst;
}

std::string saved(const auto& model) {
  std::ostringstream out;
  model.save(out);
  return out.str();
}

}  // namespace

TEST_CASE("MlpScorer checks its configuration and dimensions") {
  CHECK_THROWS_WITH_AS(MlpScorer({.hidden = {}}),
                       "MlpScorer: config.hidden must list 1 or 2 layer widths", marl_rec::Error);
  CHECK_THROWS_AS(MlpScorer({.hidden = {4, 4, 4}}), marl_rec::Error);
  CHECK_THROWS_WITH_AS(MlpScorer({.hidden = {4, 0}}),
                       "MlpScorer: config.hidden widths must lie in [1, 65536]", marl_rec::Error);
  CHECK_THROWS_AS(MlpScorer({.learning_rate = 0.0f}), marl_rec::Error);
  CHECK_THROWS_AS(MlpScorer({.learning_rate = std::numeric_limits<float>::quiet_NaN()}),
                  marl_rec::Error);
  CHECK_THROWS_WITH_AS(MlpScorer({.beta1 = 1.0f}), "MlpScorer: config.beta1 must lie in [0, 1)",
                       marl_rec::Error);
  CHECK_THROWS_AS(MlpScorer({.beta2 = -0.1f}), marl_rec::Error);
  CHECK_THROWS_AS(MlpScorer({.epsilon = 0.0f}), marl_rec::Error);
  CHECK_THROWS_AS(MlpScorer({.l2 = -1.0f}), marl_rec::Error);
  CHECK_THROWS_WITH_AS(MlpScorer({}, 0, 0),
                       "MlpScorer: the user and item feature dimensions are both 0",
                       marl_rec::Error);
  CHECK_THROWS_AS(MlpScorer({.hidden = {65536, 65536}}, 1 << 20, 0), marl_rec::Error);

  const MlpScorer model({.hidden = {4, 3}}, 3, 2);
  CHECK(model.name() == "mlp");
  CHECK(model.initialized());
  CHECK(model.user_dim() == 3);
  CHECK(model.item_dim() == 2);
  // (5 · 4 + 4) + (4 · 3 + 3) + (3 + 1) weights and biases.
  CHECK(model.parameter_count() == 43);
  CHECK(model.steps() == 0);
  // Biases start at 0; weights are He-initialised, N(0, 2 / fan_in).
  const auto p = model.parameters();
  CHECK(std::all_of(p.begin() + 20, p.begin() + 24, [](float b) { return b == 0.0f; }));
  CHECK(p[42] == 0.0f);
  CHECK(std::none_of(p.begin(), p.begin() + 20, [](float w) { return w == 0.0f; }));
}

TEST_CASE("MlpScorer: He initialisation has variance 2 / fan_in") {
  const MlpScorer model({.hidden = {400}}, 30, 20);
  const auto p = model.parameters();
  double sum = 0.0, squares = 0.0;
  for (std::size_t i = 0; i < 400 * 50; ++i) {
    sum += p[i];
    squares += static_cast<double>(p[i]) * p[i];
  }
  const double n = 400.0 * 50.0;
  const double variance = squares / n - (sum / n) * (sum / n);
  // 20000 draws: the sample variance's relative standard error is sqrt(2 / n) = 1%.
  CHECK(variance == doctest::Approx(2.0 / 50.0).epsilon(0.05));
}

TEST_CASE("MlpScorer: backpropagation matches finite differences (double)") {
  const World world(3, 3, 4, 2, 11);
  for (const std::vector<std::size_t>& hidden :
       {std::vector<std::size_t>{5}, std::vector<std::size_t>{4, 3}}) {
    CAPTURE(hidden.size());
    MlpScorer64 model({.hidden = hidden, .learning_rate = 0.05f, .l2 = 0.05f, .seed = 3}, 3, 2);
    // Move away from the initial zero biases first.
    train_randomly(model, world, 3, 30, 5);
    CHECK(worst_gradient_error(model, world.context(0), 1, 0.3) < 1e-6);
    CHECK(worst_gradient_error(model, world.context(2), 3, 1.0) < 1e-6);
    CHECK(worst_gradient_error(model, world.context(1), 0, 0.0) < 1e-6);
  }
  // Only user features, and only item features.
  const World users_only(2, 3, 3, 0, 12), items_only(1, 0, 3, 4, 13);
  MlpScorer64 a({.hidden = {4}, .l2 = 0.1f}, 3, 0), b({.hidden = {4, 2}}, 0, 4);
  train_randomly(a, users_only, 2, 10, 1);
  train_randomly(b, items_only, 1, 10, 2);
  CHECK(worst_gradient_error(a, users_only.context(1), 2, 1.0) < 1e-6);
  CHECK(worst_gradient_error(b, items_only.context(0), 1, 0.0) < 1e-6);
}

TEST_CASE("MlpScorer: the loss is the cross-entropy of the scored probability") {
  const World world(2, 3, 40, 5, 21);
  MlpScorer model({.hidden = {8, 6}, .seed = 4}, 3, 5);
  train_randomly(model, world, 2, 50, 6);
  const Context context = world.context(1);
  const auto probability = scores_of(model, context, Candidates::all(40));
  std::vector<float> logits(40);
  model.score_logits(context, Candidates::all(40), logits);
  for (std::size_t item = 0; item < 40; ++item) {
    const double p = probability[item];
    CHECK(model.loss_and_gradient(context, item, 1.0, {}) ==
          doctest::Approx(-std::log(p)).epsilon(1e-5));
    CHECK(model.loss_and_gradient(context, item, 0.0, {}) ==
          doctest::Approx(-std::log(1 - p)).epsilon(1e-5));
    CHECK(p == doctest::Approx(1 / (1 + std::exp(-static_cast<double>(logits[item])))).epsilon(1e-6));
  }
}

TEST_CASE("MlpScorer: one update is one Adam step (checked by hand, two steps)") {
  const World world(2, 3, 3, 2, 31);
  const float lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  MlpScorer64 model(
      {.hidden = {4}, .learning_rate = lr, .beta1 = b1, .beta2 = b2, .epsilon = eps, .seed = 8}, 3,
      2);
  const std::size_t n = model.parameter_count();
  const std::vector<double> theta0(model.parameters().begin(), model.parameters().end());
  std::vector<double> g1(n), g2(n);
  model.loss_and_gradient(world.context(0), 1, 1.0, g1);
  model.update(world.context(0), 1, 1.0);
  const std::vector<double> theta1(model.parameters().begin(), model.parameters().end());
  model.loss_and_gradient(world.context(1), 2, 0.0, g2);
  model.update(world.context(1), 2, 0.0);
  CHECK(model.steps() == 2);
  const auto theta2 = model.parameters();

  const double B1 = b1, B2 = b2;  // the float settings, as the model widens them
  for (std::size_t i = 0; i < n; ++i) {
    CAPTURE(i);
    const double m1 = (1 - B1) * g1[i], v1 = (1 - B2) * g1[i] * g1[i];
    const double expected1 =
        theta0[i] - double{lr} / (1 - B1) * m1 / (std::sqrt(v1 / (1 - B2)) + double{eps});
    CHECK(theta1[i] == doctest::Approx(expected1).epsilon(1e-12));
    const double m2 = B1 * m1 + (1 - B1) * g2[i], v2 = B2 * v1 + (1 - B2) * g2[i] * g2[i];
    const double expected2 = theta1[i] - double{lr} / (1 - B1 * B1) * m2 /
                                             (std::sqrt(v2 / (1 - B2 * B2)) + double{eps});
    CHECK(theta2[i] == doctest::Approx(expected2).epsilon(1e-12));
  }
}

TEST_CASE("MlpScorer: rewards are clamped to [0, 1], a reward inside is a soft label") {
  const World world(1, 2, 3, 2, 41);
  const MlpScorer fresh({.hidden = {4}}, 2, 2);
  const auto after = [&](double reward) {
    MlpScorer model = fresh;
    model.update(world.context(0), 1, reward);
    return std::vector<float>(model.parameters().begin(), model.parameters().end());
  };
  CHECK(after(2.0) == after(1.0));
  CHECK(after(-3.0) == after(0.0));
  CHECK(after(0.3) != after(0.0));
  CHECK(after(0.3) != after(1.0));
}

TEST_CASE("MlpScorer learns XOR of a user feature and an item feature, a linear model cannot") {
  // Users i = 16 u + a and items j = 16 v + b, with bits u, v in {0, 1}; the label of (i, j) is
  // u XOR v. A user's vector is [u, two N(0, 1) noise values, one-hot(i) over 32]; an item's is
  // [v, two noise values, one-hot(j)]. Held out: the pairs with (a + b) % 4 == 0 (a quarter). For
  // every user the held-out items are half v = 0, half v = 1, and for every item the held-out
  // users are half u = 0, half u = 1: the training data has no per-user or per-item imbalance a
  // linear model could exploit on the held-out pairs.
  constexpr std::size_t half = 16, n = 2 * half, dim = 3 + n;
  marl_rec::Rng rng(2024);
  std::vector<float> users(n * dim, 0.0f), items(n * dim, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::vector<float>* m : {&users, &items}) {
      float* row = m->data() + i * dim;
      row[0] = i >= half ? 1.0f : 0.0f;
      row[1] = static_cast<float>(rng.normal());
      row[2] = static_cast<float>(rng.normal());
      row[3 + i] = 1.0f;
    }
  }
  const MatrixView item_view(items, n, dim);
  const auto context = [&](std::size_t user) {
    return Context{.features = std::span<const float>(users).subspan(user * dim, dim),
                   .items = item_view};
  };
  const auto label = [&](std::size_t user, std::size_t item) {
    return (user >= half) != (item >= half) ? 1 : 0;
  };
  std::vector<std::pair<std::size_t, std::size_t>> train, test;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      ((i % half + j % half) % 4 == 0 ? test : train).emplace_back(i, j);
    }
  }
  REQUIRE(test.size() == 256);

  // The linear baseline: logistic regression on the same concatenated input, plain SGD.
  std::vector<double> w(2 * dim, 0.0);
  double bias = 0.0;
  const auto linear_logit = [&](std::size_t user, std::size_t item) {
    double z = bias;
    for (std::size_t k = 0; k < dim; ++k) {
      z += w[k] * users[user * dim + k] + w[dim + k] * items[item * dim + k];
    }
    return z;
  };

  MlpScorer model({.hidden = {32}, .learning_rate = 0.01f, .seed = 7});
  marl_rec::Rng order(99);
  for (int epoch = 0; epoch < 20; ++epoch) {
    marl_rec::shuffle(train.begin(), train.end(), order);
    for (const auto& [user, item] : train) {
      const int y = label(user, item);
      model.update(context(user), item, y);
      const double g = 1 / (1 + std::exp(-linear_logit(user, item))) - y;
      for (std::size_t k = 0; k < dim; ++k) {
        w[k] -= 0.05 * g * users[user * dim + k];
        w[dim + k] -= 0.05 * g * items[item * dim + k];
      }
      bias -= 0.05 * g;
    }
  }
  CHECK(model.user_dim() == dim);
  CHECK(model.item_dim() == dim);

  std::vector<float> mlp_scores, linear_scores;
  std::vector<int> labels;
  for (std::size_t user = 0; user < n; ++user) {
    std::vector<std::size_t> held_out;
    for (const auto& [i, j] : test) {
      if (i == user) held_out.push_back(j);
    }
    const auto s = scores_of(model, context(user), Candidates(held_out));
    for (std::size_t k = 0; k < held_out.size(); ++k) {
      mlp_scores.push_back(s[k]);
      linear_scores.push_back(static_cast<float>(linear_logit(user, held_out[k])));
      labels.push_back(label(user, held_out[k]));
    }
  }
  const double mlp_auc = auc(mlp_scores, labels), linear_auc = auc(linear_scores, labels);
  MESSAGE("held-out AUC: MLP " << mlp_auc << ", logistic regression " << linear_auc);
  CHECK(mlp_auc >= 0.95);
  CHECK(linear_auc >= 0.4);
  CHECK(linear_auc <= 0.6);
}

TEST_CASE("MlpScorer is deterministic: same seed, same scores") {
  const World world(3, 4, 50, 6, 51);
  MlpScorer a({.hidden = {16, 8}, .seed = 5}), b({.hidden = {16, 8}, .seed = 5}),
      c({.hidden = {16, 8}, .seed = 6});
  train_randomly(a, world, 3, 200, 9);
  train_randomly(b, world, 3, 200, 9);
  train_randomly(c, world, 3, 200, 9);
  for (std::size_t user = 0; user < 3; ++user) {
    const Context context = world.context(user);
    CHECK(scores_of(a, context, Candidates::all(50)) == scores_of(b, context, Candidates::all(50)));
    CHECK(scores_of(a, context, Candidates::all(50)) != scores_of(c, context, Candidates::all(50)));
  }
}

TEST_CASE("MlpScorer: a candidate's score does not depend on the other candidates") {
  // 70 items: more than two blocks of 32, with a partial last block.
  const World world(2, 5, 70, 7, 61);
  for (const std::vector<std::size_t>& hidden :
       {std::vector<std::size_t>{13}, std::vector<std::size_t>{9, 5}}) {
    MlpScorer model({.hidden = hidden, .seed = 2}, 5, 7);
    train_randomly(model, world, 2, 100, 3);
    const Context context = world.context(1);
    const auto all = scores_of(model, context, Candidates::all(70));
    std::vector<std::size_t> reversed(70);
    for (std::size_t i = 0; i < 70; ++i) reversed[i] = 69 - i;
    const auto backwards = scores_of(model, context, Candidates(reversed));
    for (std::size_t i = 0; i < 70; ++i) {
      CAPTURE(i);
      CHECK(backwards[69 - i] == all[i]);
      const std::size_t one[] = {i};
      CHECK(scores_of(model, context, Candidates(one))[0] == all[i]);
    }
    // The double model, from the same seed, scores the same to float precision.
    MlpScorer64 wide({.hidden = hidden, .seed = 2}, 5, 7);
    train_randomly(wide, world, 2, 100, 3);
    const auto wide_scores = scores_of(wide, context, Candidates::all(70));
    for (std::size_t i = 0; i < 70; ++i) CHECK(wide_scores[i] == doctest::Approx(all[i]).epsilon(1e-4));
    // Empty candidate sets are fine.
    std::vector<float> none;
    model.score(context, Candidates(), none);
  }
}

TEST_CASE("MlpScorer: dimensions come from the first update, before it every score is 0.5") {
  const World world(2, 3, 5, 4, 71);
  MlpScorer model;
  CHECK_FALSE(model.initialized());
  CHECK(model.parameter_count() == 0);
  CHECK(scores_of(model, world.context(0), Candidates::all(5)) == std::vector<float>(5, 0.5f));
  std::vector<float> logits(5, 1.0f);
  model.score_logits(world.context(0), Candidates::all(5), logits);
  CHECK(logits == std::vector<float>(5, 0.0f));
  CHECK(error_of([&] { (void)model.loss_and_gradient(world.context(0), 0, 1.0, {}); }) ==
        "MlpScorer::loss_and_gradient: the model has no dimensions yet (construct it with "
        "dimensions, or update it)");
  // A failed first update fixes nothing.
  CHECK_THROWS_AS(model.update(world.context(0), 9, 1.0), marl_rec::Error);
  CHECK_FALSE(model.initialized());
  model.update(world.context(0), 2, 1.0);
  CHECK(model.initialized());
  CHECK(model.user_dim() == 3);
  CHECK(model.item_dim() == 4);
  CHECK(model.steps() == 1);
  // Same seed, dimensions fixed by the constructor instead: the same model.
  MlpScorer explicit_dims(MlpScorerConfig{}, 3, 4);
  explicit_dims.update(world.context(0), 2, 1.0);
  CHECK(std::equal(model.parameters().begin(), model.parameters().end(),
                   explicit_dims.parameters().begin(), explicit_dims.parameters().end()));
}

TEST_CASE("MlpScorer reports bad input and changes nothing") {
  const World world(2, 3, 5, 4, 81);
  MlpScorer model({.hidden = {6}}, 3, 4);
  train_randomly(model, world, 2, 20, 1);
  const std::string before = saved(model);
  const Context context = world.context(0);
  std::vector<float> scores(5);

  CHECK(error_of([&] { model.score(context, Candidates::all(5), std::span(scores).first(4)); }) ==
        "MlpScorer::score: scores has 4 entries, there are 5 candidates");
  const std::size_t outside[] = {1, 5};
  std::vector<float> two(2);
  CHECK(error_of([&] { model.score(context, Candidates(outside), two); }) ==
        "MlpScorer::score: candidate item 5 is not a row of context.items (5 rows)");
  std::vector<float> six(6);
  CHECK(error_of([&] { model.score(context, Candidates::all(6), six); }) ==
        "MlpScorer::score: Candidates::all(6) but context.items has 5 rows");
  Context short_user = context;
  short_user.features = context.features.first(2);
  CHECK(error_of([&] { model.score(short_user, Candidates::all(5), scores); }) ==
        "MlpScorer::score: context.features has 2 values, the model's user dimension is 3");
  const World narrow(1, 3, 5, 3, 82);
  Context narrow_items = context;
  narrow_items.items = narrow.context(0).items;
  CHECK(error_of([&] { model.score_logits(narrow_items, Candidates::all(5), scores); }) ==
        "MlpScorer::score_logits: context.items has 3 columns, the model's item dimension is 4");

  CHECK(error_of([&] { model.update(context, 0, std::nan("")); }) ==
        "MlpScorer::update: the reward nan is not finite");
  CHECK_THROWS_AS(model.update(context, 0, std::numeric_limits<double>::infinity()),
                  marl_rec::Error);
  CHECK(error_of([&] { model.update(context, 7, 1.0); }) ==
        "MlpScorer::update: item 7 is not a row of context.items (5 rows)");
  CHECK_THROWS_AS(model.update(short_user, 0, 1.0), marl_rec::Error);
  CHECK_THROWS_AS(model.update(narrow_items, 0, 1.0), marl_rec::Error);
  std::vector<float> bad_user(context.features.begin(), context.features.end());
  bad_user[1] = std::numeric_limits<float>::infinity();
  Context bad = context;
  bad.features = bad_user;
  CHECK(error_of([&] { model.update(bad, 0, 1.0); }) ==
        "MlpScorer::update: context.features[1] is not finite");
  std::vector<float> bad_items = world.items;
  bad_items[2 * 4 + 3] = std::nanf("");
  Context bad_item = context;
  bad_item.items = MatrixView(bad_items, 5, 4);
  CHECK(error_of([&] { model.update(bad_item, 2, 1.0); }) ==
        "MlpScorer::update: context.items(2, 3) is not finite");
  CHECK(saved(model) == before);
  model.update(bad_item, 1, 1.0);  // another row of the same matrix is fine...
  CHECK(saved(model) != before);
  // ... and scoring a NaN row gives NaN (never chosen), the others stay finite.
  const auto s = scores_of(model, bad_item, Candidates::all(5));
  CHECK(std::isnan(s[2]));
  CHECK(std::isfinite(s[0]));

  MlpScorer unchanged({.hidden = {6}}, 3, 4);
  train_randomly(unchanged, world, 2, 20, 1);
  const std::vector<float> wrong_size(unchanged.parameter_count() - 1, 0.0f);
  CHECK(error_of([&] { unchanged.set_parameters(wrong_size); }) ==
        "MlpScorer::set_parameters: got 54 values, the model has 55 parameters");
  std::vector<float> nan_values(unchanged.parameter_count(), 0.0f);
  nan_values[3] = std::nanf("");
  CHECK_THROWS_AS(unchanged.set_parameters(nan_values), marl_rec::Error);
  std::vector<float> short_gradient(3);
  CHECK_THROWS_AS(unchanged.loss_and_gradient(context, 0, 1.0, short_gradient), marl_rec::Error);
  CHECK(saved(unchanged) == before);
}

TEST_CASE("MlpScorer save/load: the loaded model scores bit-identically and trains on alike") {
  const World world(3, 4, 40, 5, 91);
  MlpScorer model({.hidden = {12, 7}, .learning_rate = 0.02f, .l2 = 0.001f, .seed = 3});
  train_randomly(model, world, 3, 150, 4);
  std::istringstream in(saved(model));
  MlpScorer loaded({.hidden = {3}, .seed = 99}, 2, 2);  // another shape: load replaces it all
  loaded.load(in);
  CHECK(loaded.config().hidden == std::vector<std::size_t>{12, 7});
  CHECK(loaded.config().learning_rate == 0.02f);
  CHECK(loaded.config().l2 == 0.001f);
  CHECK(loaded.config().seed == 3);
  CHECK(loaded.steps() == 150);
  CHECK(loaded.user_dim() == 4);
  CHECK(loaded.item_dim() == 5);
  for (std::size_t user = 0; user < 3; ++user) {
    CHECK(scores_of(loaded, world.context(user), Candidates::all(40)) ==
          scores_of(model, world.context(user), Candidates::all(40)));
  }
  // Adam's moments and step count came along: further training stays identical.
  train_randomly(model, world, 3, 20, 5);
  train_randomly(loaded, world, 3, 20, 5);
  CHECK(saved(loaded) == saved(model));

  // An uninitialised model round-trips too.
  const MlpScorer blank({.hidden = {5, 2}, .beta2 = 0.99f});
  std::istringstream blank_in(saved(blank));
  MlpScorer target({}, 3, 3);
  target.load(blank_in);
  CHECK_FALSE(target.initialized());
  CHECK(target.config().hidden == std::vector<std::size_t>{5, 2});
  CHECK(target.config().beta2 == 0.99f);
  CHECK(saved(target) == saved(blank));

  // The double model saves doubles under its own type name.
  MlpScorer64 wide({.hidden = {3}}, 2, 2);
  std::istringstream wide_in(saved(wide));
  MlpScorer64 wide_loaded;
  wide_loaded.load(wide_in);
  CHECK(saved(wide_loaded) == saved(wide));
}

TEST_CASE("MlpScorer load: a truncated, corrupted or foreign stream is an Error, the model is kept") {
  const World world(2, 3, 10, 2, 101);
  MlpScorer source({.hidden = {4}}, 3, 2);
  train_randomly(source, world, 2, 10, 1);
  const std::string bytes = saved(source);
  MlpScorer model({.hidden = {5, 3}, .seed = 8}, 3, 2);
  train_randomly(model, world, 2, 10, 2);
  const std::string before = saved(model);
  const auto expected_scores = scores_of(model, world.context(1), Candidates::all(10));

  for (std::size_t size = 0; size < bytes.size(); ++size) {
    CAPTURE(size);
    std::istringstream in(bytes.substr(0, size));
    CHECK_THROWS_AS(model.load(in), marl_rec::Error);
  }
  std::string corrupted = bytes;
  corrupted[bytes.size() / 2] = static_cast<char>(corrupted[bytes.size() / 2] ^ 0x10);
  std::istringstream corrupted_in(corrupted);
  CHECK_THROWS_AS(model.load(corrupted_in), marl_rec::Error);

  MlpScorer64 wide({.hidden = {4}}, 3, 2);
  std::istringstream wide_in(saved(wide));
  CHECK(error_of([&] { model.load(wide_in); }) ==
        "loading a 'mlp' model: the stream holds a 'mlp_f64' model");

  // A well-formed stream with a shape the model does not allow.
  std::ostringstream forged;
  marl_rec::io::ModelWriter w(forged, "mlp", 1);
  w.u64("hidden_layers", 3);
  w.finish();
  std::istringstream forged_in(forged.str());
  CHECK(error_of([&] { model.load(forged_in); }) ==
        "loading a 'mlp' model: field 'hidden_layers' = 3 is outside [1, 2]");
  std::ostringstream bad_rate;
  marl_rec::io::ModelWriter v(bad_rate, "mlp", 1);
  v.u64("hidden_layers", 1);
  v.u64("hidden", 4);
  const float optimizer[] = {-1.0f, 0.9f, 0.999f, 1e-8f, 0.0f};
  v.floats("optimizer", optimizer);
  v.u64("seed", 1);
  v.finish();
  std::istringstream bad_rate_in(bad_rate.str());
  CHECK(error_of([&] { model.load(bad_rate_in); }) ==
        "MlpScorer::load: config.learning_rate must be finite and positive");

  CHECK(saved(model) == before);
  CHECK(scores_of(model, world.context(1), Candidates::all(10)) == expected_scores);
}

TEST_CASE("MlpScorer: concurrent scoring gives the serial scores") {
  const World world(4, 6, 300, 8, 111);
  MlpScorer model({.hidden = {24, 12}}, 6, 8);
  train_randomly(model, world, 4, 100, 7);
  std::vector<std::vector<float>> serial(4), parallel(4, std::vector<float>(300));
  for (std::size_t u = 0; u < 4; ++u) serial[u] = scores_of(model, world.context(u), Candidates::all(300));
  std::vector<std::thread> threads;
  for (std::size_t u = 0; u < 4; ++u) {
    threads.emplace_back([&, u] {
      for (int repeat = 0; repeat < 20; ++repeat) {
        model.score(world.context(u), Candidates::all(300), parallel[u]);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(parallel == serial);
}

TEST_CASE("MlpScorer: shared parameters are every weight and bias, the round trip is exact") {
  static_assert(marl_rec::FederatedModel<MlpScorer>);
  static_assert(!marl_rec::FederatedModel<MlpScorer64>);  // float only (a requires-clause)
  const World world(3, 4, 40, 5, 17);
  MlpScorer model({.hidden = {6, 3}, .seed = 8});
  // Before the dimensions are known there is nothing to share.
  CHECK(model.shared_parameters().empty());
  model.set_shared_parameters({});
  CHECK_FALSE(model.initialized());
  const std::vector<float> one{1.0f};
  CHECK(error_of([&] { model.set_shared_parameters(one); }) ==
        "MlpScorer::set_shared_parameters: got 1 values, the model has 0 parameters (no "
        "dimensions yet)");

  train_randomly(model, world, 3, 60, 9);
  const std::span<const float> shared = model.shared_parameters();
  // (4 + 5) · 6 + 6, 6 · 3 + 3, 3 · 1 + 1
  CHECK(shared.size() == 60 + 21 + 4);
  CHECK(shared.data() == model.parameters().data());
  const std::vector<float> copy(shared.begin(), shared.end());
  const std::vector<float> before = scores_of(model, world.context(1), Candidates::all(40));
  const std::string state = saved(model);
  model.set_shared_parameters(copy);
  CHECK(scores_of(model, world.context(1), Candidates::all(40)) == before);
  CHECK(saved(model) == state);

  // Another agent's parameters: the model then scores as that agent does, and keeps its own
  // Adam state (so the two differ again after the same update).
  MlpScorer other({.hidden = {6, 3}, .seed = 8});
  train_randomly(other, world, 3, 25, 10);
  model.set_shared_parameters(other.shared_parameters());
  CHECK(scores_of(model, world.context(2), Candidates::all(40)) ==
        scores_of(other, world.context(2), Candidates::all(40)));
  CHECK(model.steps() == 60);
  model.update(world.context(0), 3, 1.0);
  other.update(world.context(0), 3, 1.0);
  CHECK(scores_of(model, world.context(0), Candidates::all(40)) !=
        scores_of(other, world.context(0), Candidates::all(40)));
}

TEST_CASE("MlpScorer: set_shared_parameters rejects a wrong size or a non-finite value") {
  MlpScorer model({.hidden = {4}, .seed = 2}, 2, 3);  // (2 + 3) · 4 + 4 + 4 + 1 = 29
  const std::string state = saved(model);
  const std::vector<float> wrong(28, 0.1f);
  CHECK(error_of([&] { model.set_shared_parameters(wrong); }) ==
        "MlpScorer::set_shared_parameters: got 28 values, the model has 29 parameters");
  std::vector<float> bad(29, 0.1f);
  bad[28] = -std::numeric_limits<float>::infinity();
  CHECK(error_of([&] { model.set_shared_parameters(bad); }) ==
        "MlpScorer::set_shared_parameters: value 28 is not finite");
  CHECK(saved(model) == state);
}
