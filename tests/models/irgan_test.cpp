// Irgan on tiny problems with known answers: the policy-gradient estimator against the exact
// gradient of the expected reward, the discriminator's gradient against finite differences,
// determinism, save / load, bad input, the hard-negative sampler's distribution, the BPR hook,
// and a planted two-group data set on which the generator must rank held-out items well.
#include "marl_rec/models/irgan.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <functional>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/concepts/batch_recommender.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "support/errors.hpp"
#include "support/concurrently.hpp"
#include "support/stream_checks.hpp"
#include "support/stream_fields.hpp"

namespace {

using marl_rec::Irgan;
using Config = marl_rec::IrganConfig;
using marl_rec::test::check_damage_rejected;
using marl_rec::test::error_of;
using marl_rec::test::load_error;
using marl_rec::test::saved;
using marl_rec::test::with_field;
namespace irgan = marl_rec::detail::irgan;

static_assert(marl_rec::BatchRecommender<Irgan>);
static_assert(marl_rec::Model<Irgan>);

// Two groups of 60 users and 12 items each: user u is in group u % 2 and has 6 of their group's
// 12 items, drawn at random (seeded); `held_out` of them go to `test` instead of the result.
constexpr std::size_t n_users = 120, n_items = 24, group_items = 12, per_user = 6;

marl_rec::Interactions block_data(std::size_t held_out = 0,
                                  marl_rec::Interactions* test = nullptr) {
  marl_rec::Interactions data;
  for (std::size_t u = 0; u < n_users; ++u) data.users.intern(marl_rec::numbered_id("u", u));
  for (std::size_t i = 0; i < n_items; ++i) data.items.intern(marl_rec::numbered_id("i", i));
  if (test != nullptr) *test = data.with_no_rows();
  marl_rec::Rng rng(21);
  for (std::size_t u = 0; u < n_users; ++u) {
    std::vector<std::size_t> pool(group_items);
    for (std::size_t k = 0; k < group_items; ++k) pool[k] = (u % 2) * group_items + k;
    marl_rec::shuffle(pool.begin(), pool.end(), rng);
    for (std::size_t k = 0; k < per_user; ++k) {
      marl_rec::Interactions& to = k < held_out ? *test : data;
      to.rows.push_back({.user = u, .item = pool[k], .rating = 1.0f, .source_row = k});
    }
  }
  return data;
}

Config small_config() {
  return {.factors = 4,
          .rounds = 3,
          .g_learning_rate = 0.05f,
          .d_learning_rate = 0.05f,
          .pretrain_epochs = 20,
          .pretrain_learning_rate = 0.05f,
          .pretrain_regularization = 0.01f,
          .init_scale = 0.1f,
          .seed = 5};
}

std::vector<float> scores_of(const Irgan& m, std::size_t user) {
  std::vector<float> s(m.items());
  m.score_user(user, s);
  return s;
}

// ---- the policy-gradient estimator -------------------------------------------------------------

// A tiny game: a generator (n items, f factors) and a discriminator with fixed parameters; the
// generator's reward for item j is reward(d_j), d_j = xd·yd_j + bd_j.
struct Tiny {
  static constexpr std::size_t n = 5, f = 3;
  static constexpr double tau = 0.8;
  std::vector<double> x{0.3, -0.5, 0.8};
  std::vector<double> y{0.1, 0.4, -0.2, -0.6, 0.2,  0.5,  0.9, -0.1,
                        0.3, 0.0, 0.7,  -0.4, -0.3, -0.8, 0.6};
  std::vector<double> b{0.1, -0.2, 0.0, 0.3, -0.1};
  std::vector<float> xd{0.9f, -0.4f, 0.6f};
  std::vector<float> yd{1.2f, 0.3f, -0.5f, -0.7f, 0.8f, 0.2f, 0.4f, -1.1f,
                        0.9f, 0.6f, 0.1f, -0.3f, -0.9f, 0.5f, 1.4f};
  std::vector<float> bd{0.2f, -0.6f, 0.4f, 0.0f, -0.3f};
  std::vector<double> r;

  explicit Tiny(Config::Reward kind) : r(n) {
    for (std::size_t j = 0; j < n; ++j) {
      double d = static_cast<double>(bd[j]);
      for (std::size_t k = 0; k < f; ++k) {
        d += static_cast<double>(xd[k]) * static_cast<double>(yd[j * f + k]);
      }
      r[j] = irgan::reward(kind, d);
    }
  }

  std::vector<double> probabilities(const std::vector<double>& xx, const std::vector<double>& yy,
                                    const std::vector<double>& bb) const {
    std::vector<double> z(n), p(n);
    double top = -1e300, total = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
      z[j] = bb[j];
      for (std::size_t k = 0; k < f; ++k) z[j] += xx[k] * yy[j * f + k];
      z[j] /= tau;
      top = std::max(top, z[j]);
    }
    for (std::size_t j = 0; j < n; ++j) total += p[j] = std::exp(z[j] - top);
    for (double& v : p) v /= total;
    return p;
  }
  // The expected reward J = Σ_j p_j r_j.
  double expected_reward(const std::vector<double>& xx, const std::vector<double>& yy,
                         const std::vector<double>& bb) const {
    const std::vector<double> p = probabilities(xx, yy, bb);
    double j = 0.0;
    for (std::size_t i = 0; i < n; ++i) j += p[i] * r[i];
    return j;
  }
  // ∇J by central differences of the exact objective, laid out [x (f), y (n f), b (n)].
  std::vector<double> numeric_gradient() const {
    std::vector<double> g;
    const double h = 1e-6;
    Tiny copy = *this;
    const auto diff = [&](std::vector<double>& v, std::size_t k) {
      const double keep = v[k];
      v[k] = keep + h;
      const double up = copy.expected_reward(copy.x, copy.y, copy.b);
      v[k] = keep - h;
      const double down = copy.expected_reward(copy.x, copy.y, copy.b);
      v[k] = keep;
      g.push_back((up - down) / (2 * h));
    };
    for (std::size_t k = 0; k < f; ++k) diff(copy.x, k);
    for (std::size_t k = 0; k < n * f; ++k) diff(copy.y, k);
    for (std::size_t k = 0; k < n; ++k) diff(copy.b, k);
    return g;
  }
};

// The mean and standard error, per parameter, of the change one generator_user_step (the code
// Irgan::fit runs per user: sampling from q, importance weights, the discriminator's reward,
// the step) makes at lr 1, λ 0, over `batches` steps of 3 samples from the same start.
void estimate(const Tiny& t, Config::Reward kind, double mix,
              std::span<const std::size_t> positives, std::size_t batches,
              std::vector<double>& mean, std::vector<double>& standard_error) {
  constexpr std::size_t n = Tiny::n, f = Tiny::f;
  const Config c{.factors = f,
                 .g_learning_rate = 1.0f,
                 .g_regularization = 0.0f,
                 .samples_per_user = 3,
                 .importance_mix = static_cast<float>(mix),
                 .temperature = static_cast<float>(Tiny::tau),
                 .reward = kind};
  const std::size_t dim = f + n * f + n;
  std::vector<double> sum(dim, 0.0), sum2(dim, 0.0);
  marl_rec::Rng rng(99);
  irgan::GeneratorUserScratch scratch;
  for (std::size_t batch = 0; batch < batches; ++batch) {
    std::vector<float> x(t.x.begin(), t.x.end()), y(t.y.begin(), t.y.end()),
        b(t.b.begin(), t.b.end());
    irgan::generator_user_step(c, x.data(), y.data(), b.data(), t.xd.data(), t.yd.data(),
                               t.bd.data(), n, positives, rng, scratch);
    std::size_t k = 0;
    const auto add = [&](double now, double before) {
      const double d = now - before;
      sum[k] += d;
      sum2[k] += d * d;
      ++k;
    };
    for (std::size_t i = 0; i < f; ++i) add(x[i], static_cast<float>(t.x[i]));
    for (std::size_t i = 0; i < n * f; ++i) add(y[i], static_cast<float>(t.y[i]));
    for (std::size_t i = 0; i < n; ++i) add(b[i], static_cast<float>(t.b[i]));
  }
  mean.resize(dim);
  standard_error.resize(dim);
  const auto m = static_cast<double>(batches);
  for (std::size_t k = 0; k < dim; ++k) {
    mean[k] = sum[k] / m;
    standard_error[k] = std::sqrt(std::max(0.0, sum2[k] / m - mean[k] * mean[k]) / m);
  }
}

TEST_CASE("Irgan: the generator's per-user step is, in expectation, the exact gradient of E_p[reward(D)]") {
  for (const Config::Reward kind : {Config::Reward::softplus, Config::Reward::centered_sigmoid}) {
    CAPTURE(static_cast<int>(kind));
    const Tiny t(kind);
    const std::vector<double> exact = t.numeric_gradient();
    // The analytic form too: dJ/dz_j = p_j (r_j − J), dJ/db_j = that / τ.
    const std::vector<double> p = t.probabilities(t.x, t.y, t.b);
    const double j_value = t.expected_reward(t.x, t.y, t.b);
    for (std::size_t j = 0; j < Tiny::n; ++j) {
      CHECK(exact[Tiny::f + Tiny::n * Tiny::f + j] ==
            doctest::Approx(p[j] * (t.r[j] - j_value) / Tiny::tau).epsilon(1e-6));
    }
    const std::size_t positives[] = {1, 3};
    for (const double mix : {0.0, 0.5}) {
      CAPTURE(mix);
      std::vector<double> mean, se;
      estimate(t, kind, mix, positives, 40000, mean, se);
      double largest = 0.0, misfit = 0.0;
      for (std::size_t k = 0; k < exact.size(); ++k) {
        CAPTURE(k);
        // 5 standard errors, plus float rounding of the one-step deltas.
        CHECK(std::abs(mean[k] - exact[k]) <= 5.0 * se[k] + 1e-5);
        largest = std::max(largest, std::abs(exact[k]));
        misfit = std::max(misfit, std::abs(mean[k] - exact[k]));
      }
      CHECK(largest > 0.05);  // the gradient is not trivially zero
      CHECK(misfit < 0.1 * largest);
    }
  }
}

TEST_CASE("Irgan: the discriminator step is gradient descent on its regularised logistic loss") {
  constexpr std::size_t f = 4;
  const float x0[f] = {0.3f, -0.7f, 0.2f, 0.9f};
  const float y0[f] = {-0.4f, 0.5f, 0.8f, 0.1f};
  const float b0 = 0.25f;
  const double lambda = 0.1;
  for (const float label : {0.0f, 1.0f}) {
    CAPTURE(label);
    // Finite differences of the loss, in double.
    std::vector<double> numeric;
    const double h = 1e-3;
    const auto loss_at = [&](std::size_t k, double delta) {
      float x[f], y[f];
      std::copy(x0, x0 + f, x);
      std::copy(y0, y0 + f, y);
      float b = b0;
      if (k < f)
        x[k] += static_cast<float>(delta);
      else if (k < 2 * f)
        y[k - f] += static_cast<float>(delta);
      else
        b += static_cast<float>(delta);
      return irgan::discriminator_loss(x, y, b, f, label, lambda);
    };
    for (std::size_t k = 0; k < 2 * f + 1; ++k) {
      numeric.push_back((loss_at(k, h) - loss_at(k, -h)) / (2 * h));
    }
    float x[f], y[f];
    std::copy(x0, x0 + f, x);
    std::copy(y0, y0 + f, y);
    float b = b0;
    const float lr = 1e-2f;
    irgan::discriminator_step(x, y, b, f, label, lr, static_cast<float>(lambda));
    for (std::size_t k = 0; k < f; ++k) {
      CHECK((x[k] - x0[k]) / lr == doctest::Approx(-numeric[k]).epsilon(2e-3));
      CHECK((y[k] - y0[k]) / lr == doctest::Approx(-numeric[f + k]).epsilon(2e-3));
    }
    CHECK((b - b0) / lr == doctest::Approx(-numeric[2 * f]).epsilon(2e-3));
  }
}

// ---- fitting -----------------------------------------------------------------------------------

TEST_CASE("Irgan: no rounds leaves the generator exactly at its BPR pre-training") {
  const marl_rec::Interactions data = block_data();
  Config c = small_config();
  c.rounds = 0;
  Irgan m(c);
  m.fit(data);
  marl_rec::MatrixFactorization bpr(Irgan::pretrain_config(c));
  bpr.fit(data);
  for (const std::size_t u : {std::size_t{0}, std::size_t{7}, n_users + 3}) {
    std::vector<float> expected(n_items);
    bpr.score_user(u, expected);
    const std::vector<float> got = scores_of(m, u);
    CHECK(std::memcmp(got.data(), expected.data(), n_items * sizeof(float)) == 0);
  }
  // Adversarial rounds move it.
  Irgan trained(small_config());
  trained.fit(data);
  CHECK(scores_of(trained, 0) != scores_of(m, 0));
  CHECK(trained.last_training().generator_epochs == 3);
  CHECK(trained.last_training().discriminator_epochs == 3);
}

TEST_CASE("Irgan: deterministic for a seed") {
  const marl_rec::Interactions data = block_data();
  Irgan a(small_config()), b(small_config());
  a.fit(data);
  b.fit(data);
  const auto same = [](marl_rec::MatrixView p, marl_rec::MatrixView q) {
    return p.rows() == q.rows() &&
           std::memcmp(p.row(0).data(), q.row(0).data(), p.rows() * p.cols() * sizeof(float)) == 0;
  };
  CHECK(same(a.generator_item_factors(), b.generator_item_factors()));
  CHECK(same(a.generator_user_factors(), b.generator_user_factors()));
  CHECK(same(a.discriminator_item_factors(), b.discriminator_item_factors()));
  CHECK(
      std::equal(a.generator_bias().begin(), a.generator_bias().end(), b.generator_bias().begin()));
  Config other = small_config();
  other.seed = 6;
  Irgan c(other);
  c.fit(data);
  CHECK_FALSE(same(a.generator_item_factors(), c.generator_item_factors()));
  // Refitting from scratch gives the same model again.
  a.fit(data);
  CHECK(same(a.generator_item_factors(), b.generator_item_factors()));
}

TEST_CASE("Irgan: on planted groups the generator ranks held-out items far above chance") {
  marl_rec::Interactions test;
  const marl_rec::Interactions train = block_data(2, &test);
  Config c = small_config();
  c.rounds = 5;
  c.reward = Config::Reward::centered_sigmoid;
  Irgan m(c);
  m.fit(train);
  // For each held-out item: the share of the user's other non-training items ranked below it.
  // Chance is 0.5; the held-out item is one of 8 same-group items among 20 candidates, so even
  // a perfect group model only separates groups (≈ 0.8); the generator must do that.
  double total = 0.0;
  std::size_t count = 0;
  for (const marl_rec::Interaction& row : test.rows) {
    const std::vector<float> s = scores_of(m, row.user);
    const auto pos = m.positives(row.user);
    std::size_t below = 0, others = 0;
    for (std::size_t j = 0; j < n_items; ++j) {
      if (j == row.item || std::binary_search(pos.begin(), pos.end(), j)) continue;
      ++others;
      below += s[j] < s[row.item] ? 1 : 0;
    }
    total += static_cast<double>(below) / static_cast<double>(others);
    ++count;
  }
  CHECK(total / static_cast<double>(count) > 0.7);
  // The discriminator is a working classifier too (real positives above generated items).
  std::vector<float> d(n_items);
  m.discriminator_score_user(0, d);
  double in_group = 0.0, out_group = 0.0;
  for (std::size_t j = 0; j < n_items; ++j) (j < group_items ? in_group : out_group) += d[j];
  CHECK(in_group > out_group);  // user 0 is in group 0
}

// What the discriminator is trained for, averaged over the users with positives: its logistic
// loss on the real pairs and, in expectation over the generator, on generated ones,
//   mean_{i ∈ pos} softplus(−d_i) + Σ_j p_j softplus(d_j),
// and its margin mean_{i ∈ pos} d_i − Σ_j p_j d_j. And what the generator is trained for: E_p[reward(d)].
struct GameValues {
  double d_loss = 0.0;
  double d_margin = 0.0;
  std::vector<double> expected_reward{};  // per user
};

GameValues game_values(const Irgan& m) {
  GameValues v;
  std::vector<float> p(m.items()), d(m.items());
  std::size_t users = 0;
  for (std::size_t u = 0; u < m.users(); ++u) {
    const auto pos = m.positives(u);
    if (pos.empty()) continue;
    ++users;
    m.probabilities(u, p);
    m.discriminator_score_user(u, d);
    double real_loss = 0.0, real_d = 0.0, fake_loss = 0.0, fake_d = 0.0, reward = 0.0;
    for (const std::size_t i : pos) {
      real_loss += irgan::softplus(-static_cast<double>(d[i]));
      real_d += static_cast<double>(d[i]);
    }
    for (std::size_t j = 0; j < m.items(); ++j) {
      const auto pj = static_cast<double>(p[j]), dj = static_cast<double>(d[j]);
      fake_loss += pj * irgan::softplus(dj);
      fake_d += pj * dj;
      reward += pj * irgan::reward(m.config().reward, dj);
    }
    const auto n_pos = static_cast<double>(pos.size());
    v.d_loss += real_loss / n_pos + fake_loss;
    v.d_margin += real_d / n_pos - fake_d;
    v.expected_reward.push_back(reward);
  }
  v.d_loss /= static_cast<double>(users);
  v.d_margin /= static_cast<double>(users);
  return v;
}

TEST_CASE("Irgan: with the generator frozen, fit's discriminator epochs lower its loss and widen its margin") {
  const marl_rec::Interactions data = block_data();
  Config c = small_config();
  c.g_epochs = 0;
  // No L2: it shrinks BPR's scores, and with them the margin, while the loss still falls.
  c.d_regularization = 0.0f;
  c.d_epochs = 10;
  c.d_learning_rate = 0.2f;
  c.rounds = 0;
  Irgan start(c);
  start.fit(data);
  c.rounds = 4;
  Irgan trained(c);
  trained.fit(data);
  // The generator did not move, so both discriminators face the same generated items.
  CHECK(scores_of(trained, 0) == scores_of(start, 0));
  const GameValues before = game_values(start), after = game_values(trained);
  // Measured: loss 2.030 -> 1.294, margin 0.135 -> 0.532.
  CHECK(after.d_loss < 0.95 * before.d_loss);
  CHECK(after.d_margin > before.d_margin + 0.2);
}

TEST_CASE("Irgan: with the discriminator frozen, fit's generator epochs raise each user's expected reward") {
  const marl_rec::Interactions data = block_data();
  for (const Config::Reward kind : {Config::Reward::softplus, Config::Reward::centered_sigmoid}) {
    CAPTURE(static_cast<int>(kind));
    Config c = small_config();
    c.reward = kind;
    c.d_epochs = 0;
    c.rounds = 0;
    Irgan start(c);
    start.fit(data);
    c.rounds = 4;
    Irgan trained(c);
    trained.fit(data);
    std::vector<float> d0(n_items), d1(n_items);
    start.discriminator_score_user(5, d0);
    trained.discriminator_score_user(5, d1);
    CHECK(d0 == d1);  // the discriminator did not move
    const GameValues before = game_values(start), after = game_values(trained);
    REQUIRE(before.expected_reward.size() == n_users);
    double mean_before = 0.0, mean_after = 0.0;
    std::size_t rose = 0;
    for (std::size_t u = 0; u < n_users; ++u) {
      mean_before += before.expected_reward[u] / n_users;
      mean_after += after.expected_reward[u] / n_users;
      rose += after.expected_reward[u] > before.expected_reward[u] ? 1 : 0;
    }
    // Measured: softplus 1.871 -> 1.939, centered_sigmoid 0.656 -> 0.671, for all 120 users.
    CHECK(mean_after > mean_before + 0.01);
    CHECK(rose >= n_users * 9 / 10);
  }
}

// ---- the Model interface -----------------------------------------------------------------------

TEST_CASE("Irgan: score matches score_user, and update moves probability to the rewarded item") {
  const marl_rec::Interactions data = block_data();
  Irgan m(small_config());
  m.fit(data);
  const std::vector<float> all = scores_of(m, 3);
  const std::size_t list[] = {5, 0, 23};
  std::vector<float> s(3);
  m.score({.user = 3}, marl_rec::Candidates(std::span<const std::size_t>(list)), s);
  for (std::size_t k = 0; k < 3; ++k) CHECK(s[k] == all[list[k]]);
  std::vector<float> everything(n_items);
  m.score({.user = 3}, marl_rec::Candidates::all(n_items), everything);
  CHECK(everything == all);

  std::vector<float> before(n_items), after(n_items);
  m.probabilities(3, before);
  m.update({.user = 3}, 20, 1.0);
  m.probabilities(3, after);
  CHECK(after[20] > before[20]);
  // A cold context moves only the item side; the mean user stays.
  std::vector<float> cold_before(n_items), cold_after(n_items);
  m.score_user(n_users + 1, cold_before);
  m.update({}, 20, -1.0);
  m.score_user(n_users + 1, cold_after);
  CHECK(cold_after[20] < cold_before[20]);
}

TEST_CASE("Irgan: after updates the cold user is still the mean of the users with positives") {
  marl_rec::Interactions data = block_data();
  data.users.intern("no rows");  // user n_users: in the map, no training rows
  Irgan m(small_config());
  m.fit(data);
  const auto mean_scores = [&] {
    // g(mean of the rows of users with positives, i), in double.
    const marl_rec::MatrixView users = m.generator_user_factors();
    const marl_rec::MatrixView items = m.generator_item_factors();
    std::vector<double> mean(m.factors(), 0.0);
    for (std::size_t u = 0; u < n_users; ++u) {
      for (std::size_t k = 0; k < m.factors(); ++k) mean[k] += users.row(u)[k] / double{n_users};
    }
    std::vector<double> s(n_items);
    for (std::size_t j = 0; j < n_items; ++j) {
      s[j] = static_cast<double>(m.generator_bias()[j]);
      for (std::size_t k = 0; k < m.factors(); ++k) s[j] += mean[k] * items.row(j)[k];
    }
    return s;
  };
  const auto check_cold = [&] {
    const std::vector<float> cold = scores_of(m, n_users + 7);
    const std::vector<double> expected = mean_scores();
    for (std::size_t j = 0; j < n_items; ++j) CHECK(cold[j] == doctest::Approx(expected[j]).epsilon(1e-4));
  };
  check_cold();
  for (int k = 0; k < 5; ++k) m.update({.user = 3}, 7, 5.0);
  check_cold();
  // The user without rows is not part of the mean: moving it does not move the cold user.
  const std::vector<float> no_rows_before = scores_of(m, n_users);
  m.update({.user = n_users}, 7, 5.0);
  CHECK(scores_of(m, n_users) != no_rows_before);
  check_cold();
}

TEST_CASE("Irgan: an update that would give non-finite parameters throws and changes nothing") {
  Irgan m(small_config());
  m.fit(block_data());
  const std::string before = saved(m);
  CHECK(error_of([&] { m.update({.user = 1}, 4, 1e300); }).find("non-finite") !=
        std::string::npos);
  CHECK(error_of([&] { m.update({}, 4, -1e300); }).find("non-finite") != std::string::npos);
  CHECK(saved(m) == before);
}

// ---- save / load -------------------------------------------------------------------------------

TEST_CASE("Irgan: save / load round trip") {
  const marl_rec::Interactions data = block_data();
  Irgan m(small_config());
  m.fit(data);
  const std::string bytes = saved(m);
  Irgan loaded;
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.config().seed == 5);
  for (const std::size_t u : {std::size_t{0}, std::size_t{11}, n_users + 5}) {
    CHECK(scores_of(loaded, u) == scores_of(m, u));
    std::vector<float> d1(n_items), d2(n_items);
    m.discriminator_score_user(u, d1);
    loaded.discriminator_score_user(u, d2);
    CHECK(d1 == d2);
  }
  CHECK(std::equal(m.positives(4).begin(), m.positives(4).end(), loaded.positives(4).begin(),
                   loaded.positives(4).end()));
  marl_rec::Rng r1(3), r2(3);
  std::vector<std::size_t> n1, n2;
  m.sample_negatives(4, 50, r1, n1);
  loaded.sample_negatives(4, 50, r2, n2);
  CHECK(n1 == n2);
  // The loaded model keeps the count of users with positives: an update moves the cold user alike.
  m.update({.user = 2}, 3, 1.0);
  loaded.update({.user = 2}, 3, 1.0);
  CHECK(scores_of(loaded, n_users + 1) == scores_of(m, n_users + 1));
}

TEST_CASE("Irgan: damaged, foreign and forged streams are Errors that change nothing") {
  // A small model, so that every truncation and flipped byte can be tried.
  marl_rec::Interactions d;
  for (std::size_t u = 0; u < 4; ++u) d.users.intern(marl_rec::numbered_id("u", u));
  for (std::size_t i = 0; i < 5; ++i) d.items.intern(marl_rec::numbered_id("i", i));
  for (std::size_t u = 0; u < 3; ++u) {
    d.rows.push_back({.user = u, .item = u});
    d.rows.push_back({.user = u, .item = u + 2});
  }
  // offsets [0, 2, 4, 6, 6] (user 3 has no rows), items [0 2 1 3 2 4].
  Config c{.factors = 2, .rounds = 1, .pretrain_epochs = 2, .seed = 3};
  Irgan source(c);
  source.fit(d);
  const std::string bytes = saved(source);
  Irgan target(small_config());
  target.fit(block_data());
  const std::string before = saved(target);
  check_damage_rejected(target, bytes, "irgan", 7);
  CHECK(load_error(target, saved(marl_rec::MatrixFactorization(Irgan::pretrain_config(c)))) ==
        "loading a 'irgan' model: the stream holds a 'matrix_factorization' model");

  const std::string where = "loading a 'irgan' model: ";
  const auto forged = [&](std::string_view field, std::string payload) {
    return load_error(target, with_field(bytes, field, std::move(payload)));
  };
  using marl_rec::test::u64s_payload;
  Irgan control;  // the payloads below differ from the saved ones only where they say
  CHECK(load_error(control, with_field(bytes, "positive_offset", u64s_payload({0, 2, 4, 6, 6}))) ==
        "no error");
  CHECK(load_error(control, with_field(bytes, "positive_items", u64s_payload({0, 2, 1, 3, 2, 4}))) ==
        "no error");
  // An offset past the item list in the middle (the reviewer's [0, 100, 3, 3]) is refused
  // before any item is read.
  CHECK(forged("positive_offset", u64s_payload({0, 100, 4, 6, 6})) ==
        where + "the positives' offsets decrease or pass the item list at user 0");
  CHECK(forged("positive_offset", u64s_payload({0, 4, 2, 6, 6})) ==
        where + "the positives' offsets decrease or pass the item list at user 1");
  CHECK(forged("positive_offset", u64s_payload({1, 2, 4, 6, 6})) ==
        where + "the positives' offsets do not span the item list");
  CHECK(forged("positive_offset", u64s_payload({0, 2, 4, 6, 5})) ==
        where + "the positives' offsets do not span the item list");
  CHECK(forged("positive_items", u64s_payload({0, 2, 1, 3, 2, 5})) ==
        where + "user 2's positives are not sorted distinct items below 5");
  CHECK(forged("positive_items", u64s_payload({2, 0, 1, 3, 2, 4})) ==
        where + "user 0's positives are not sorted distinct items below 5");
  CHECK(forged("positive_items", u64s_payload({0, 2, 3, 3, 2, 4})) ==
        where + "user 1's positives are not sorted distinct items below 5");
  std::vector<float> items(10, 0.1f);
  items[7] = std::numeric_limits<float>::infinity();
  CHECK(forged("g_items", marl_rec::test::floats_payload(items)) ==
        where + "field 'g_items' holds a non-finite value at 7");
  CHECK(forged("samples_per_user", marl_rec::test::u64_payload(std::uint64_t{1} << 61)) ==
        where + "config.samples_per_user 2305843009213693952 exceeds 1000000");
  CHECK(forged("temperature", marl_rec::test::f64_payload(0.0)).find(where + "config.temperature") ==
        0);
  CHECK(forged("reward", marl_rec::test::u64_payload(2)) ==
        where + "field 'reward' = 2 is outside [0, 1]");
  CHECK(saved(target) == before);
}

// ---- bad input ---------------------------------------------------------------------------------

TEST_CASE("Irgan: bad input throws with messages naming what") {
  const auto config_error = [](auto edit) {
    Config c = small_config();
    edit(c);
    return error_of([&] { Irgan m(c); });
  };
  CHECK(config_error([](Config& c) { c.factors = 0; }).find("factors") != std::string::npos);
  CHECK(config_error([](Config& c) { c.importance_mix = 1.0f; }).find("importance_mix") !=
        std::string::npos);
  CHECK(config_error([](Config& c) { c.temperature = 0.0f; }).find("temperature") !=
        std::string::npos);
  CHECK(config_error([](Config& c) {
          c.g_learning_rate = std::nanf("");
        }).find("g_learning_rate") != std::string::npos);
  CHECK(config_error([](Config& c) { c.d_regularization = -1.0f; }).find("d_regularization") !=
        std::string::npos);
  // An unbounded sample count would fail only after the whole pre-training (std::length_error).
  CHECK(config_error([](Config& c) { c.samples_per_user = std::size_t{1} << 61; }) ==
        "Irgan: config.samples_per_user 2305843009213693952 exceeds 1000000");
  CHECK(config_error([](Config& c) { c.samples_per_user = 1'000'000; }) == "no error");

  Irgan m(small_config());
  CHECK(error_of([&] { m.fit(marl_rec::Interactions{}); }).find("empty") != std::string::npos);
  marl_rec::Interactions bad = block_data();
  bad.rows.push_back({.user = 0, .item = n_items + 4});
  CHECK(error_of([&] { m.fit(bad); }).find("row") != std::string::npos);
  marl_rec::Interactions nan_rating = block_data();
  nan_rating.rows[9].rating = std::nanf("");
  CHECK(error_of([&] { m.fit(nan_rating); }) ==
        "Irgan::fit: row 9 has a non-finite rating (nan); ratings are ignored but must be finite");
  CHECK(m.items() == 0);  // unchanged
  marl_rec::Rng rng(1);
  std::vector<std::size_t> out;
  CHECK(error_of([&] { m.sample_negatives(0, 3, rng, out); }).find("not fitted") !=
        std::string::npos);
  CHECK(error_of([&] { (void)m.negative_sampler(); }).find("not fitted") != std::string::npos);

  m.fit(block_data());
  std::vector<float> wrong(n_items + 1);
  CHECK(error_of([&] { m.score_user(0, wrong); }).find("scores has") != std::string::npos);
  CHECK(error_of([&] { m.update({.user = 0}, 0, std::nan("")); }).find("reward") !=
        std::string::npos);
  CHECK(error_of([&] { m.update({.user = 0}, n_items, 1.0); }).find("item") != std::string::npos);
  const std::size_t outside[] = {n_items};
  std::vector<float> one(1);
  CHECK(error_of([&] {
          m.score({}, marl_rec::Candidates(std::span<const std::size_t>(outside)), one);
        }).find("outside") != std::string::npos);
  CHECK(error_of([&] { (void)m.negative_sampler(-1.0f); }).find("temperature") !=
        std::string::npos);
  // The sampler's table is (users + 1) × items doubles: 121 × 24 × 8 = 23,232 bytes here.
  CHECK(error_of([&] { (void)m.negative_sampler(0.0f, 23'231); }) ==
        "Irgan::negative_sampler: the table of (120 + 1) x 24 doubles would need 23232.000000 "
        "bytes, above max_table_bytes 23231 (draw with sample_negatives(), or raise the cap)");
  CHECK(error_of([&] { (void)m.negative_sampler(0.0f, 23'232); }) == "no error");

  // A user with every item has no negative.
  marl_rec::Interactions full;
  full.users.intern("a");
  full.users.intern("b");
  for (std::size_t i = 0; i < 3; ++i) {
    full.items.intern(marl_rec::numbered_id("i", i));
    full.rows.push_back({.user = 0, .item = i});
  }
  full.rows.push_back({.user = 1, .item = 0});
  Config c = small_config();
  c.factors = 2;
  Irgan f(c);
  f.fit(full);
  CHECK(error_of([&] { f.sample_negatives(0, 1, rng, out); }).find("every item") !=
        std::string::npos);
  const marl_rec::IrganNegativeSampler sampler = f.negative_sampler();
  CHECK(error_of([&] { (void)sampler(0, rng); }).find("every item") != std::string::npos);
  for (int k = 0; k < 20; ++k) CHECK(sampler(1, rng) != 0);
  CHECK(error_of([&] { (void)marl_rec::IrganNegativeSampler{}(0, rng); }).find("empty") !=
        std::string::npos);
}

// ---- hard negatives ----------------------------------------------------------------------------

// Pearson's chi-square of `counts` against `expected` probabilities (cells with p > 0), and the
// number of such cells.
double chi_square(const std::vector<std::size_t>& counts, const std::vector<double>& expected,
                  std::size_t draws, std::size_t& cells) {
  double chi = 0.0;
  cells = 0;
  for (std::size_t j = 0; j < counts.size(); ++j) {
    if (expected[j] == 0.0) continue;
    ++cells;
    const double e = expected[j] * static_cast<double>(draws);
    chi += (static_cast<double>(counts[j]) - e) * (static_cast<double>(counts[j]) - e) / e;
  }
  return chi;
}

// The 0.999 quantile of chi-square with df degrees of freedom (Wilson–Hilferty).
double chi_square_999(std::size_t df) {
  const double d = static_cast<double>(df), z = 3.0902;
  const double a = 1.0 - 2.0 / (9.0 * d) + z * std::sqrt(2.0 / (9.0 * d));
  return d * a * a * a;
}

TEST_CASE("Irgan: hard negatives exclude positives and follow the generator's distribution") {
  const marl_rec::Interactions data = block_data();
  Config c = small_config();
  c.temperature = 2.0f;  // a spread-out distribution, so every cell has expected counts
  Irgan m(c);
  m.fit(data);
  const std::size_t user = 8;
  const auto pos = m.positives(user);
  REQUIRE(pos.size() == per_user);
  // Expected: softmax(g / τ) over the non-positives.
  const std::vector<float> s = scores_of(m, user);
  std::vector<double> expected(n_items, 0.0);
  double total = 0.0;
  for (std::size_t j = 0; j < n_items; ++j) {
    if (std::binary_search(pos.begin(), pos.end(), j)) continue;
    total += expected[j] = std::exp(static_cast<double>(s[j]) / 2.0);
  }
  for (double& e : expected) e /= total;

  const std::size_t draws = 40000;
  const marl_rec::IrganNegativeSampler sampler = m.negative_sampler();
  marl_rec::Rng rng(17);
  std::vector<std::size_t> from_sampler(n_items, 0), from_call(n_items, 0);
  for (std::size_t k = 0; k < draws; ++k) ++from_sampler[sampler(user, rng)];
  std::vector<std::size_t> out;
  m.sample_negatives(user, draws, rng, out);
  REQUIRE(out.size() == draws);
  for (const std::size_t j : out) ++from_call[j];
  for (const std::size_t j : pos) {
    CHECK(from_sampler[j] == 0);
    CHECK(from_call[j] == 0);
  }
  std::size_t cells = 0;
  CHECK(chi_square(from_sampler, expected, draws, cells) < chi_square_999(cells - 1));
  CHECK(chi_square(from_call, expected, draws, cells) < chi_square_999(cells - 1));
  CHECK(cells == n_items - per_user);
  // The test can fail: uniform over the non-positives is rejected (the generator's distribution
  // is far from uniform).
  std::vector<double> uniform(n_items, 0.0);
  for (std::size_t j = 0; j < n_items; ++j) {
    if (!std::binary_search(pos.begin(), pos.end(), j)) uniform[j] = 1.0 / (n_items - per_user);
  }
  CHECK(chi_square(from_sampler, uniform, draws, cells) > chi_square_999(cells - 1));
  // A sampler at another temperature is another distribution.
  const marl_rec::IrganNegativeSampler hot = m.negative_sampler(50.0f);
  std::vector<std::size_t> from_hot(n_items, 0);
  for (std::size_t k = 0; k < draws; ++k) ++from_hot[hot(user, rng)];
  CHECK(chi_square(from_hot, expected, draws, cells) > chi_square_999(cells - 1));
}

TEST_CASE("Irgan: the negative sampler builds each user's distribution once, safely under threads") {
  Irgan m(small_config());
  m.fit(block_data());
  // Serial draws from one sampler, then the same draws from a fresh one on 4 threads at once
  // (each user's row is built by whichever thread draws for it first).
  constexpr std::size_t threads = 4, draws = 200;
  std::vector<std::vector<std::size_t>> serial(threads), parallel(threads);
  const marl_rec::IrganNegativeSampler first = m.negative_sampler();
  for (std::size_t t = 0; t < threads; ++t) {
    marl_rec::Rng rng(100 + t);
    for (std::size_t k = 0; k < draws; ++k) serial[t].push_back(first((k * 7 + t) % (n_users + 2), rng));
  }
  const marl_rec::IrganNegativeSampler second = m.negative_sampler();
  marl_rec::test::concurrently(threads, [&](std::size_t t) {
    marl_rec::Rng rng(100 + t);
    for (std::size_t k = 0; k < draws; ++k) parallel[t].push_back(second((k * 7 + t) % (n_users + 2), rng));
  });
  for (std::size_t t = 0; t < threads; ++t) CHECK(parallel[t] == serial[t]);
  // The sampler keeps the generator it was made from: training the model again changes nothing.
  Config other = small_config();
  other.seed = 77;
  m = Irgan(other);
  m.fit(block_data());
  marl_rec::Rng rng(100);
  for (std::size_t k = 0; k < draws; ++k) CHECK(second((k * 7) % (n_users + 2), rng) == serial[0][k]);
}

TEST_CASE("MatrixFactorization BPR: the negative-sampler hook") {
  const marl_rec::Interactions data = block_data();
  const marl_rec::MatrixFactorizationConfig c = Irgan::pretrain_config(small_config());
  marl_rec::MatrixFactorization plain(c), hooked(c);
  plain.fit(data);
  hooked.fit(data, marl_rec::MatrixFactorization::NegativeSampler{});  // empty: uniform, same bits
  CHECK(std::memcmp(plain.item_factors().row(0).data(), hooked.item_factors().row(0).data(),
                    n_items * c.factors * sizeof(float)) == 0);

  // The generator's hard negatives train a different model, deterministically.
  Irgan g(small_config());
  g.fit(data);
  marl_rec::MatrixFactorization hard1(c), hard2(c);
  hard1.fit(data, g.negative_sampler());
  hard2.fit(data, g.negative_sampler());
  CHECK(std::memcmp(hard1.item_factors().row(0).data(), hard2.item_factors().row(0).data(),
                    n_items * c.factors * sizeof(float)) == 0);
  CHECK(std::memcmp(plain.item_factors().row(0).data(), hard1.item_factors().row(0).data(),
                    n_items * c.factors * sizeof(float)) != 0);

  // A sampler that returns a positive is refused, and the model is unchanged.
  std::vector<float> kept(n_items), now(n_items);
  plain.score_user(0, kept);
  const marl_rec::MatrixFactorization::NegativeSampler liar = [&](std::size_t u, marl_rec::Rng&) {
    return data.rows[u * per_user].item;  // the user's first training item
  };
  CHECK(error_of([&] { plain.fit(data, liar); }).find("interacted with") != std::string::npos);
  const marl_rec::MatrixFactorization::NegativeSampler outside = [](std::size_t, marl_rec::Rng&) {
    return n_items;
  };
  CHECK(error_of([&] { plain.fit(data, outside); }).find("outside") != std::string::npos);
  plain.score_user(0, now);
  CHECK(now == kept);
  marl_rec::MatrixFactorizationConfig als = c;
  als.algorithm = marl_rec::MatrixFactorizationConfig::Algorithm::als;
  marl_rec::MatrixFactorization ials(als);
  CHECK(error_of([&] { ials.fit(data, g.negative_sampler()); }).find("bpr") != std::string::npos);
}

}  // namespace
