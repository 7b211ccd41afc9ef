// MatrixFactorization (iALS and BPR) on small data with known answers: a rank-2 block structure,
// the iALS objective, fold-in, the Model interface, online updates, save / load and errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/concepts/batch_recommender.hpp"
#include "marl_rec/concepts/federated_model.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "support/errors.hpp"
#include "support/interactions.hpp"

namespace {

using marl_rec::MatrixFactorization;
using Config = marl_rec::MatrixFactorizationConfig;
using marl_rec::test::error_of;

static_assert(marl_rec::BatchRecommender<MatrixFactorization>);
static_assert(marl_rec::Model<MatrixFactorization>);

// Two groups of 100 users and 20 items each: user u is in group u % 2 and interacts with 8 of
// their group's 20 items, drawn at random (seeded). Items are numbered group by group (0..19,
// 20..39). The interaction matrix has rank 2, so f = 2 is the known right dimension: with more
// factors than the data's rank, both algorithms can also fit each user's particular choice of 8
// among 20 (and push the 12 others down), which is over-fitting, not what these tests check.
constexpr std::size_t n_users = 200, n_items = 40, group_items = 20, per_user = 8;

std::size_t group_of_user(std::size_t u) { return u % 2; }
std::size_t group_of_item(std::size_t i) { return i / group_items; }

marl_rec::Interactions block_data() {
  marl_rec::Interactions data;
  for (std::size_t u = 0; u < n_users; ++u) data.users.intern(marl_rec::numbered_id("u", u));
  for (std::size_t i = 0; i < n_items; ++i) data.items.intern(marl_rec::numbered_id("i", i));
  marl_rec::Rng rng(21);
  for (std::size_t u = 0; u < n_users; ++u) {
    std::vector<std::size_t> pool(group_items);
    for (std::size_t k = 0; k < group_items; ++k) pool[k] = group_of_user(u) * group_items + k;
    marl_rec::shuffle(pool.begin(), pool.end(), rng);
    for (std::size_t k = 0; k < per_user; ++k) {
      data.rows.push_back(
          {.user = u, .item = pool[k], .rating = 1.0f, .source_row = data.rows.size()});
    }
  }
  return data;
}

Config als_config() {
  return {.algorithm = Config::Algorithm::als,
          .factors = 2,
          .epochs = 10,
          .regularization = 0.1f,
          .alpha = 10.0f,
          .init_scale = 0.1f,
          .seed = 7};
}

Config bpr_config() {
  return {.algorithm = Config::Algorithm::bpr,
          .factors = 2,
          .epochs = 30,
          .regularization = 0.05f,
          .learning_rate = 0.05f,
          .init_scale = 0.1f,
          .seed = 7};
}

MatrixFactorization fitted(const Config& config) {
  MatrixFactorization model(config);
  model.fit(block_data());
  return model;
}

std::vector<float> scores_of(const MatrixFactorization& model, std::size_t user) {
  std::vector<float> s(model.items());
  model.score_user(user, s);
  return s;
}

// Users all of whose unseen in-group items score above every item of the other group.
std::size_t users_ranking_in_group_first(const MatrixFactorization& model) {
  const marl_rec::Interactions data = block_data();
  std::vector<unsigned char> seen(n_users * n_items, 0);
  for (const marl_rec::Interaction& r : data.rows) seen[r.user * n_items + r.item] = 1;
  std::size_t good = 0;
  for (std::size_t u = 0; u < n_users; ++u) {
    const std::vector<float> s = scores_of(model, u);
    float worst_unseen = std::numeric_limits<float>::infinity();
    float best_other = -std::numeric_limits<float>::infinity();
    for (std::size_t i = 0; i < n_items; ++i) {
      if (group_of_item(i) != group_of_user(u)) {
        best_other = std::max(best_other, s[i]);
      } else if (seen[u * n_items + i] == 0) {
        worst_unseen = std::min(worst_unseen, s[i]);
      }
    }
    good += worst_unseen > best_other ? 1 : 0;
  }
  return good;
}

// The iALS objective Σ_{u,i} c_ui (p_ui − x_uᵀy_i)² + λ(Σ‖x_u‖² + Σ‖y_i‖²), in double, over
// every cell of the block data (each observed pair once: c = 1 + alpha, p = 1).
double als_objective(const MatrixFactorization& model, const marl_rec::Interactions& data) {
  const Config& c = model.config();
  std::vector<unsigned char> observed(n_users * n_items, 0);
  for (const marl_rec::Interaction& r : data.rows) observed[r.user * n_items + r.item] = 1;
  const marl_rec::MatrixView x = model.user_factors(), y = model.item_factors();
  double loss = 0.0;
  for (std::size_t u = 0; u < n_users; ++u) {
    for (std::size_t i = 0; i < n_items; ++i) {
      double dot = 0.0;
      for (std::size_t k = 0; k < c.factors; ++k) {
        dot += static_cast<double>(x.row(u)[k]) * static_cast<double>(y.row(i)[k]);
      }
      const bool seen = observed[u * n_items + i] != 0;
      const double conf = seen ? 1.0 + static_cast<double>(c.alpha) : 1.0;
      const double err = (seen ? 1.0 : 0.0) - dot;
      loss += conf * err * err;
    }
  }
  double norms = 0.0;
  for (const marl_rec::MatrixView m : {x, y}) {
    for (std::size_t r = 0; r < m.rows(); ++r) {
      for (const float v : m.row(r)) norms += static_cast<double>(v) * static_cast<double>(v);
    }
  }
  return loss + static_cast<double>(c.regularization) * norms;
}

double cosine(std::span<const float> a, std::span<const float> b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    ab += static_cast<double>(a[k]) * b[k];
    aa += static_cast<double>(a[k]) * a[k];
    bb += static_cast<double>(b[k]) * b[k];
  }
  return ab / std::sqrt(aa * bb);
}

std::string saved(const MatrixFactorization& model) {
  std::ostringstream out;
  model.save(out);
  return out.str();
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("MatrixFactorization: name and configuration checks") {
  CHECK(MatrixFactorization().name() == "ials");
  CHECK(MatrixFactorization(bpr_config()).name() == "bpr");
  CHECK(error_of([] { MatrixFactorization({.factors = 0}); }) ==
        "MatrixFactorization: config.factors must be at least 1");
  CHECK(error_of([] { MatrixFactorization({.factors = 5000}); }) ==
        "MatrixFactorization: config.factors 5000 exceeds 4096");
  CHECK(error_of([] { MatrixFactorization({.regularization = -1.0f}); }) ==
        "MatrixFactorization: config.regularization -1.000000 is not finite and >= 0");
  CHECK(error_of([] { MatrixFactorization({.alpha = std::numeric_limits<float>::infinity()}); }) ==
        "MatrixFactorization: config.alpha inf is not finite and >= 0");
  CHECK(error_of([] { MatrixFactorization({.learning_rate = 0.0f}); }) ==
        "MatrixFactorization: config.learning_rate 0.000000 is not finite and > 0");
  CHECK(error_of([] { MatrixFactorization({.init_scale = std::nanf("")}); }).find("init_scale") !=
        std::string::npos);
  CHECK(
      error_of([] {
        MatrixFactorization({.solver = Config::Solver::conjugate_gradient, .cg_steps = 0});
      }) ==
      "MatrixFactorization: config.cg_steps must be at least 1 with the conjugate-gradient solver");
}

TEST_CASE(
    "MatrixFactorization: both algorithms rank the unseen in-group items above the other group") {
  SUBCASE("iALS, Cholesky") {
    CHECK(users_ranking_in_group_first(fitted(als_config())) == n_users);
  }
  SUBCASE("iALS, conjugate gradient") {
    Config c = als_config();
    c.solver = Config::Solver::conjugate_gradient;
    c.cg_steps = 1;  // fewer steps than factors: an inexact solve per row
    c.epochs = 20;
    CHECK(users_ranking_in_group_first(fitted(c)) == n_users);
  }
  SUBCASE("BPR") { CHECK(users_ranking_in_group_first(fitted(bpr_config())) == n_users); }
  SUBCASE("iALS, cosine scores") {
    Config c = als_config();
    c.cosine = true;
    CHECK(users_ranking_in_group_first(fitted(c)) == n_users);
  }
}

TEST_CASE("MatrixFactorization: the iALS objective decreases every epoch") {
  const marl_rec::Interactions data = block_data();
  std::vector<double> final_loss;
  for (const Config::Solver solver :
       {Config::Solver::cholesky, Config::Solver::conjugate_gradient}) {
    CAPTURE(static_cast<int>(solver));
    // Same seed, so a fit of e epochs is the first e epochs of a longer one.
    std::vector<double> loss;
    for (std::size_t e = 0; e <= 8; ++e) {
      Config c = als_config();
      c.factors = 8;  // more than cg_steps, so that CG is not exact
      c.solver = solver;
      c.cg_steps = 2;
      c.epochs = e;
      MatrixFactorization model(c);
      model.fit(data);
      loss.push_back(als_objective(model, data));
    }
    for (std::size_t e = 1; e < loss.size(); ++e) {
      CAPTURE(e);
      CAPTURE(loss[e - 1]);
      CAPTURE(loss[e]);
      CHECK(loss[e] < loss[e - 1]);
    }
    // It has learned something: well below the loss of all-zero factors, Σ c p² = 1600 · 11.
    CHECK(loss.back() < 0.2 * 17600.0);
    final_loss.push_back(loss.back());
  }
  // Two CG steps for 8 unknowns are not the exact solve: the CG path really ran.
  CHECK(final_loss[0] != final_loss[1]);
}

TEST_CASE("MatrixFactorization: iALS fold-in of a training user's items recovers their factors") {
  // At convergence a user's factors are a fixed point of the user solve; fold-in is that solve
  // against the final item factors (training solved the user against the previous epoch's), so
  // after 30 epochs the two vectors differ only by one epoch's movement of the item factors:
  // measured worst cosine 0.99994. The bound is tighter than 0.9 on purpose: a fold-in with the
  // wrong confidence is still close in direction (alpha 3 or 30 instead of 10: 0.991 / 0.996).
  Config c = als_config();
  c.factors = 4;
  c.epochs = 30;
  const marl_rec::Interactions data = block_data();
  const MatrixFactorization model = fitted(c);
  std::vector<std::vector<std::size_t>> items_of(n_users);
  for (const marl_rec::Interaction& r : data.rows) items_of[r.user].push_back(r.item);
  double worst = 1.0;
  std::vector<float> folded(c.factors);
  for (std::size_t u = 0; u < n_users; ++u) {
    model.fold_in(items_of[u], folded);
    worst = std::min(worst, cosine(folded, model.user_factors().row(u)));
  }
  CAPTURE(worst);
  CHECK(worst > 0.999);
  // Fold-in of nothing is the solve with no interactions: zero.
  model.fold_in({}, folded);
  CHECK(folded == std::vector<float>(c.factors, 0.0f));
}

TEST_CASE("MatrixFactorization: score() serves known, folded-in and cold users") {
  const MatrixFactorization model = fitted(als_config());
  std::vector<float> all(n_items);
  marl_rec::Context known{.user = 3};
  model.score(known, marl_rec::Candidates::all(n_items), all);
  CHECK(same_bits(all, scores_of(model, 3)));

  // An explicit list gives bit-identical values to the all-items path.
  const std::vector<std::size_t> list = {39, 0, 5, 5};
  std::vector<float> listed(list.size());
  model.score(known, marl_rec::Candidates(list), listed);
  for (std::size_t k = 0; k < list.size(); ++k)
    CHECK(std::memcmp(&listed[k], &all[list[k]], 4) == 0);

  // Candidates::all(n) with n < items(): the first n items.
  std::vector<float> first(4);
  model.score(known, marl_rec::Candidates::all(4), first);
  CHECK(std::memcmp(first.data(), all.data(), 4 * sizeof(float)) == 0);

  // Anonymous with a group-1 history: fold-in; the history's group ranks first.
  const std::vector<std::size_t> history = {20, 21, 22};
  std::vector<float> folded(model.factors());
  model.fold_in(history, folded);
  std::vector<float> expected(n_items);
  marl_rec::simd::score(folded, model.item_factors(), expected);
  std::vector<float> anonymous(n_items);
  for (const std::size_t user : {marl_rec::no_user, std::size_t{999}}) {
    model.score({.history = history, .user = user}, marl_rec::Candidates::all(n_items), anonymous);
    CHECK(same_bits(anonymous, expected));
  }
  const float best_other = *std::max_element(anonymous.begin(), anonymous.begin() + group_items);
  CHECK(*std::min_element(anonymous.begin() + 23, anonymous.end()) > best_other);

  // No user, no history: the mean user, as score_user gives a user index it never saw.
  std::vector<float> cold(n_items);
  model.score({}, marl_rec::Candidates::all(n_items), cold);
  CHECK(same_bits(cold, scores_of(model, 12345)));
  std::vector<float> mean_scores(n_items);
  marl_rec::simd::score(model.mean_user_factors(), model.item_factors(), mean_scores);
  CHECK(same_bits(cold, mean_scores));

  // Errors.
  std::vector<float> wrong(3);
  CHECK(error_of([&] { model.score(known, marl_rec::Candidates::all(n_items), wrong); }) ==
        "MatrixFactorization::score: scores has 3 entries for 40 candidates");
  std::vector<float> big(41);
  CHECK(error_of([&] { model.score(known, marl_rec::Candidates::all(41), big); }) ==
        "MatrixFactorization::score: Candidates::all(41) exceeds the model's 40 items");
  const std::vector<std::size_t> outside = {1, 40};
  std::vector<float> two(2);
  CHECK(error_of([&] { model.score(known, marl_rec::Candidates(outside), two); }) ==
        "MatrixFactorization::score: candidate item 40 is outside the model's 40 items");
  const std::vector<std::size_t> bad_history = {2, 41};
  CHECK(error_of([&] {
          model.score({.history = bad_history}, marl_rec::Candidates::all(n_items), all);
        }) == "MatrixFactorization::score: history item 41 is outside the model's 40 items");
  std::vector<float> short_scores(39);
  CHECK(error_of([&] { model.score_user(0, short_scores); }) ==
        "MatrixFactorization::score_user: scores has 39 entries, the model knows 40 items");
  std::vector<float> wrong_factors(3);
  CHECK(error_of([&] { model.fold_in(history, wrong_factors); }) ==
        "MatrixFactorization::fold_in: user_factors has 3 entries, the model has 2 factors");
  CHECK(error_of([&] { model.fold_in(bad_history, folded); }) ==
        "MatrixFactorization::fold_in: history item 41 is outside the model's 40 items");
}

TEST_CASE("MatrixFactorization: users without training rows get the mean user factor") {
  marl_rec::Interactions data = block_data();
  const std::size_t idle = data.users.intern("idle");  // in the id map, no rows
  MatrixFactorization model(als_config());
  model.fit(data);
  CHECK(model.users() == n_users + 1);
  const auto row = model.user_factors().row(idle);
  CHECK(std::vector<float>(row.begin(), row.end()) ==
        std::vector<float>(model.mean_user_factors().begin(), model.mean_user_factors().end()));
  double sum0 = 0;
  for (std::size_t u = 0; u < n_users; ++u) sum0 += model.user_factors().row(u)[0];
  CHECK(model.mean_user_factors()[0] == doctest::Approx(sum0 / n_users).epsilon(1e-5));
}

TEST_CASE("MatrixFactorization: probabilities are a softmax of the scores") {
  const MatrixFactorization model = fitted(als_config());
  const std::vector<float> s = scores_of(model, 4);
  std::vector<float> p(n_items);
  for (const float temperature : {1.0f, 0.05f, 100.0f}) {
    CAPTURE(temperature);
    model.probabilities(4, p, temperature);
    double total = 0;
    for (const float v : p) {
      CHECK(v >= 0.0f);
      total += v;
    }
    CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
    for (std::size_t i = 0; i < n_items; ++i) {
      const double expected =
          std::exp((static_cast<double>(s[i]) - s[0]) / temperature) * static_cast<double>(p[0]);
      CHECK(static_cast<double>(p[i]) == doctest::Approx(expected).epsilon(1e-4));
    }
  }
  // A high temperature flattens towards uniform; a low one concentrates on the best item.
  model.probabilities(4, p, 1e4f);
  for (const float v : p) CHECK(v == doctest::Approx(1.0 / n_items).epsilon(1e-3));
  model.probabilities(4, p, 1e-6f);  // exponents far below float range: stable, no NaN
  CHECK(*std::max_element(p.begin(), p.end()) == doctest::Approx(1.0f));
  CHECK(error_of([&] { model.probabilities(4, p, 0.0f); }) ==
        "MatrixFactorization::probabilities: temperature 0.000000 is not finite and > 0");
  std::vector<float> wrong(2);
  CHECK(error_of([&] { model.probabilities(4, wrong); }) ==
        "MatrixFactorization::probabilities: out has 2 entries, the model knows 40 items");
}

TEST_CASE("MatrixFactorization: a seed determines the model") {
  for (const Config& base : {als_config(), bpr_config()}) {
    const std::string a = saved(fitted(base));
    CHECK(saved(fitted(base)) == a);
    Config other = base;
    other.seed = 8;
    CHECK(saved(fitted(other)) != a);
  }
}

TEST_CASE("MatrixFactorization: cosine scores are the cosines of the factors") {
  Config c = als_config();
  c.cosine = true;
  const MatrixFactorization model = fitted(c);
  for (const std::size_t u : {std::size_t{0}, std::size_t{15}}) {
    const std::vector<float> s = scores_of(model, u);
    for (std::size_t i = 0; i < n_items; ++i) {
      CHECK(s[i] >= -1.0f - 1e-6f);
      CHECK(s[i] <= 1.0f + 1e-6f);
      CHECK(s[i] ==
            doctest::Approx(cosine(model.user_factors().row(u), model.item_factors().row(i)))
                .epsilon(1e-5));
    }
  }
}

TEST_CASE("MatrixFactorization: update is an SGD step on the squared loss") {
  MatrixFactorization model = fitted(als_config());
  const std::size_t f = model.factors();
  const std::vector<float> x(model.user_factors().row(2).begin(),
                             model.user_factors().row(2).end());
  const std::vector<float> y(model.item_factors().row(29).begin(),
                             model.item_factors().row(29).end());
  float dot = 0;
  for (std::size_t k = 0; k < f; ++k) dot += x[k] * y[k];
  const float lr = model.config().learning_rate, lambda = model.config().regularization;
  const float e = 1.0f - dot;
  model.update({.user = 2}, 29, 1.0);
  for (std::size_t k = 0; k < f; ++k) {
    CHECK(model.user_factors().row(2)[k] ==
          doctest::Approx(x[k] + lr * (e * y[k] - lambda * x[k])).epsilon(1e-6));
    CHECK(model.item_factors().row(29)[k] ==
          doctest::Approx(y[k] + lr * (e * x[k] - lambda * y[k])).epsilon(1e-6));
  }
  // Repeated rewards of 1 pull the (out-of-group) score towards 1.
  for (int step = 0; step < 200; ++step) model.update({.user = 2}, 29, 1.0);
  CHECK(scores_of(model, 2)[29] == doctest::Approx(1.0).epsilon(0.05));

  // A cold context moves the item only, against the folded-in user.
  const std::string before = saved(model);
  const std::vector<float> users_before(model.user_factors().data(),
                                        model.user_factors().data() + n_users * f);
  const std::vector<std::size_t> history = {0, 1};
  model.update({.history = history}, 3, 0.0);
  CHECK(std::vector<float>(model.user_factors().data(),
                           model.user_factors().data() + n_users * f) == users_before);
  CHECK(saved(model) != before);

  // The Gram matrix fold-in uses follows the updates: fold-in equals a fresh model's fold-in of
  // the same factors (the loaded copy recomputes nothing, so compare to an explicit solve).
  std::vector<float> folded(f);
  model.fold_in(history, folded);
  MatrixFactorization reloaded;
  std::istringstream in(saved(model));
  reloaded.load(in);
  std::vector<float> folded_again(f);
  reloaded.fold_in(history, folded_again);
  CHECK(same_bits(folded, folded_again));
  {
    // Reference: solve (YᵀY + λI + alpha Σ y yᵀ) x = (1 + alpha) Σ y from scratch in double.
    const marl_rec::MatrixView items = model.item_factors();
    const double a = model.config().alpha;
    std::vector<double> m(f * f, 0.0), b(f, 0.0);
    for (std::size_t i = 0; i < n_items; ++i) {
      const double w = (i == 0 || i == 1) ? 1.0 + a : 1.0;
      for (std::size_t r = 0; r < f; ++r) {
        for (std::size_t c = 0; c < f; ++c) m[r * f + c] += w * items.row(i)[r] * items.row(i)[c];
        if (i == 0 || i == 1) b[r] += (1.0 + a) * items.row(i)[r];
      }
    }
    for (std::size_t r = 0; r < f; ++r) m[r * f + r] += model.config().regularization;
    // Gaussian elimination (m is symmetric positive definite).
    for (std::size_t p = 0; p < f; ++p) {
      for (std::size_t r = p + 1; r < f; ++r) {
        const double q = m[r * f + p] / m[p * f + p];
        for (std::size_t c = p; c < f; ++c) m[r * f + c] -= q * m[p * f + c];
        b[r] -= q * b[p];
      }
    }
    std::vector<double> sol(f);
    for (std::size_t p = f; p-- > 0;) {
      double v = b[p];
      for (std::size_t c = p + 1; c < f; ++c) v -= m[p * f + c] * sol[c];
      sol[p] = v / m[p * f + p];
    }
    for (std::size_t k = 0; k < f; ++k) CHECK(folded[k] == doctest::Approx(sol[k]).epsilon(1e-4));
  }

  // Errors leave the model unchanged.
  const std::string state = saved(model);
  CHECK(error_of([&] { model.update({.user = 2}, 29, std::nan("")); }) ==
        "MatrixFactorization::update: the reward nan is not finite");
  CHECK(error_of([&] { model.update({.user = 2}, 40, 1.0); }) ==
        "MatrixFactorization::update: item 40 is outside the model's 40 items");
  const std::vector<std::size_t> bad_history = {41};
  CHECK(error_of([&] { model.update({.history = bad_history}, 1, 1.0); }) ==
        "MatrixFactorization::update: history item 41 is outside the model's 40 items");
  CHECK(saved(model) == state);
  MatrixFactorization wild({.factors = 4, .learning_rate = 1e30f});
  wild.fit(block_data());
  const std::string wild_state = saved(wild);
  CHECK(error_of([&] { wild.update({.user = 0}, 0, 1e30); }) ==
        "MatrixFactorization::update: the step gives non-finite factors (lower the learning rate)");
  CHECK(saved(wild) == wild_state);
}

TEST_CASE("MatrixFactorization: save / load round trip scores bit-identically") {
  for (Config c : {als_config(), bpr_config()}) {
    c.cosine = c.algorithm == Config::Algorithm::bpr;  // cover both scorings
    MatrixFactorization model = fitted(c);
    model.update({.user = 1}, 2, 1.0);
    const std::string bytes = saved(model);
    MatrixFactorization loaded;
    std::istringstream in(bytes);
    loaded.load(in);
    CHECK(loaded.name() == model.name());
    CHECK(loaded.config().cosine == c.cosine);
    CHECK(saved(loaded) == bytes);
    for (const std::size_t u : {std::size_t{0}, std::size_t{13}, std::size_t{500}}) {
      CHECK(same_bits(scores_of(loaded, u), scores_of(model, u)));
    }
    const std::vector<std::size_t> history = {1, 2};
    std::vector<float> a(n_items), b(n_items);
    model.score({.history = history}, marl_rec::Candidates::all(n_items), a);
    loaded.score({.history = history}, marl_rec::Candidates::all(n_items), b);
    CHECK(same_bits(a, b));
    // Both keep learning identically.
    model.update({.history = history}, 4, 1.0);
    loaded.update({.history = history}, 4, 1.0);
    CHECK(saved(loaded) == saved(model));
  }
}

TEST_CASE("MatrixFactorization: truncated, corrupted and foreign streams are errors") {
  const MatrixFactorization source = fitted(als_config());
  const std::string bytes = saved(source);
  MatrixFactorization model = fitted(bpr_config());
  const std::string before = saved(model);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    std::istringstream in(bytes.substr(0, n));
    bool threw = false;
    try {
      model.load(in);
    } catch (const marl_rec::Error&) {
      threw = true;
    }
    if (!threw) FAIL("a stream truncated to ", n, " bytes loaded");
  }
  CHECK(saved(model) == before);
  std::istringstream truncated(bytes.substr(0, bytes.size() - 3));
  CHECK(error_of([&] { model.load(truncated); }) ==
        "loading a 'matrix_factorization' model: the stream ends before its checksum (truncated)");

  std::string corrupted = bytes;
  corrupted[bytes.size() / 2] = static_cast<char>(corrupted[bytes.size() / 2] ^ 0x10);
  std::istringstream in_corrupted(corrupted);
  CHECK_THROWS_AS(model.load(in_corrupted), marl_rec::Error);

  std::ostringstream other;
  marl_rec::io::ModelWriter w(other, "linucb", 1);
  w.u64("dim", 3);
  w.finish();
  std::istringstream in_other(other.str());
  CHECK(error_of([&] { model.load(in_other); }) ==
        "loading a 'matrix_factorization' model: the stream holds a 'linucb' model");
  CHECK(saved(model) == before);
}

TEST_CASE("MatrixFactorization: fit rejects data it cannot use") {
  MatrixFactorization model(als_config());
  marl_rec::Interactions empty;
  CHECK(error_of([&] { model.fit(empty); }) ==
        "MatrixFactorization::fit: the training data is empty");

  marl_rec::Interactions bad_item = block_data();
  bad_item.rows[3].item = 40;
  CHECK(error_of([&] { model.fit(bad_item); }) ==
        "MatrixFactorization::fit: row 3 has item index 40, outside the item map of 40 items");
  marl_rec::Interactions bad_user = block_data();
  bad_user.rows[0].user = 200;
  CHECK(error_of([&] { model.fit(bad_user); }) ==
        "MatrixFactorization::fit: row 0 has user index 200, outside the user map of 200 users");
  marl_rec::Interactions bad_rating = block_data();
  bad_rating.rows[5].rating = std::numeric_limits<float>::infinity();
  CHECK(error_of([&] { model.fit(bad_rating); }) ==
        "MatrixFactorization::fit: row 5 has a non-finite rating");
  marl_rec::Interactions negative = block_data();
  negative.rows[1].rating = -2.0f;
  model.fit(negative);  // binarize: the rating is not used
  MatrixFactorization rated({.factors = 4, .binarize = false});
  CHECK(error_of([&] { rated.fit(negative); }) ==
        "MatrixFactorization::fit: row 1 has the negative rating -2.000000 (confidences 1 + alpha "
        "* r "
        "must stay >= 1)");
  // A failed fit leaves the model unchanged.
  const std::string state = saved(model);
  CHECK_THROWS_AS(model.fit(bad_item), marl_rec::Error);
  CHECK(saved(model) == state);
}

TEST_CASE(
    "MatrixFactorization: duplicate rows add their confidences; ratings weigh when not binarized") {
  // (u, a) on two rows: c − 1 = alpha · 2, the same matrix as one row rated 2 without binarize.
  const marl_rec::Interactions once = marl_rec::test::interactions({{"u", "a"}, {"v", "b"}});
  const marl_rec::Interactions twice =
      marl_rec::test::interactions({{"u", "a"}, {"u", "a"}, {"v", "b"}});
  Config c{.factors = 2, .epochs = 5, .alpha = 4.0f, .init_scale = 0.1f};
  MatrixFactorization a(c), b(c);
  a.fit(once);
  b.fit(twice);
  CHECK(scores_of(a, 0) != scores_of(b, 0));
  // Not binarized, a rating of 2 is the same as two rows of 1.
  marl_rec::Interactions rated = once;
  rated.rows[0].rating = 2.0f;
  Config by_rating = c;
  by_rating.binarize = false;
  MatrixFactorization r(by_rating);
  r.fit(rated);
  CHECK(scores_of(r, 0) == scores_of(b, 0));
}

TEST_CASE("MatrixFactorization: shared parameters are the item factors, the round trip is exact") {
  static_assert(marl_rec::FederatedModel<MatrixFactorization>);
  for (Config c : {als_config(), bpr_config()}) {
    c.cosine = c.algorithm == Config::Algorithm::bpr;  // cover both scorings
    MatrixFactorization model = fitted(c);
    // Updates make YᵀY incremental: the round trip must not recompute it (fold-in bits).
    model.update({.user = 1}, 2, 1.0);
    model.update({.user = 3}, 7, 0.0);
    const std::span<const float> shared = model.shared_parameters();
    REQUIRE(shared.size() == n_items * c.factors);
    const marl_rec::MatrixView y = model.item_factors();
    CHECK(shared.data() == y.data());  // a view, no copy
    const std::vector<float> copy(shared.begin(), shared.end());
    const std::vector<std::size_t> history = {1, 2, 30};
    std::vector<float> cold_before(n_items), cold_after(n_items);
    model.score({.history = history}, marl_rec::Candidates::all(n_items), cold_before);
    const std::vector<float> known_before = scores_of(model, 5);
    const std::string state = saved(model);
    model.set_shared_parameters(copy);
    model.score({.history = history}, marl_rec::Candidates::all(n_items), cold_after);
    CHECK(same_bits(scores_of(model, 5), known_before));
    CHECK(same_bits(cold_after, cold_before));
    CHECK(saved(model) == state);
  }
  MatrixFactorization unfitted;
  CHECK(unfitted.shared_parameters().empty());
  unfitted.set_shared_parameters({});  // 0 items × f: nothing to set
}

TEST_CASE("MatrixFactorization: set_shared_parameters replaces the item factors and their "
          "derived state") {
  Config c = als_config();
  c.cosine = true;
  MatrixFactorization model = fitted(c);
  // New item factors: item i gets (i + 1, −i) / 8.
  std::vector<float> values(n_items * 2);
  for (std::size_t i = 0; i < n_items; ++i) {
    values[2 * i] = static_cast<float>(i + 1) / 8.0f;
    values[2 * i + 1] = -static_cast<float>(i) / 8.0f;
  }
  model.set_shared_parameters(values);
  CHECK(same_bits(std::vector<float>(model.shared_parameters().begin(),
                                     model.shared_parameters().end()),
                  values));
  // Cosine scores use the new item norms.
  const std::vector<float> s = scores_of(model, 4);
  const marl_rec::MatrixView x = model.user_factors();
  for (std::size_t i = 0; i < n_items; ++i) {
    CHECK(s[i] == doctest::Approx(cosine(x.row(4), std::span<const float>(values).subspan(2 * i, 2)))
                       .epsilon(1e-5));
  }
  // Fold-in uses the new YᵀY: the same as another model (other seed, other factors before)
  // given the same item factors.
  Config other_config = c;
  other_config.seed = 99;
  MatrixFactorization other = fitted(other_config);
  other.update({.user = 0}, 1, 1.0);
  other.set_shared_parameters(values);
  const std::vector<std::size_t> history = {0, 5, 21};
  std::vector<float> a(2), b(2);
  model.fold_in(history, a);
  other.fold_in(history, b);
  CHECK(same_bits(a, b));
  // Online learning continues from the new factors: an update moves y_i from the set value.
  model.update({.user = 4}, 3, 1.0);
  CHECK(model.item_factors().row(3)[0] != values[6]);
  CHECK(model.item_factors().row(5)[0] == values[10]);
}

TEST_CASE("MatrixFactorization: set_shared_parameters rejects a wrong size or a non-finite value") {
  MatrixFactorization model = fitted(als_config());
  const std::string state = saved(model);
  std::vector<float> wrong(n_items * 2 - 1, 0.5f);
  CHECK(error_of([&] { model.set_shared_parameters(wrong); }) ==
        "MatrixFactorization::set_shared_parameters: got 79 values, the model has 80 item "
        "factors (40 items x 2)");
  std::vector<float> bad(n_items * 2, 0.5f);
  bad[13] = std::numeric_limits<float>::quiet_NaN();
  CHECK(error_of([&] { model.set_shared_parameters(bad); }) ==
        "MatrixFactorization::set_shared_parameters: value 13 (item 6, factor 1) is not finite");
  bad[13] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(model.set_shared_parameters(bad), marl_rec::Error);
  CHECK(saved(model) == state);
}
