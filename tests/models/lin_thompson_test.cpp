#include <doctest/doctest.h>

#include <Eigen/Dense>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::Candidates;
using marl_rec::Context;
using marl_rec::FeatureMap;
using marl_rec::LinThompson;
using marl_rec::LinThompsonConfig;
using marl_rec::MatrixView;
using marl_rec::Rng;
using marl_rec::test::error_of;

struct Items {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<float> data;
  MatrixView view() const { return MatrixView(data, rows, cols); }
};

Items random_items(Rng& rng, std::size_t rows, std::size_t cols) {
  Items items{rows, cols, std::vector<float>(rows * cols)};
  for (float& v : items.data) v = static_cast<float>(rng.normal());
  return items;
}

std::vector<float> random_vector(Rng& rng, std::size_t n) {
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal());
  return v;
}

template <class M>
std::string saved(const M& model) {
  std::ostringstream out;
  model.save(out);
  return out.str();
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Items 0..2 are e1, e2, e3 (so an item map's score of item i is θ_i); items 3.. are random.
Items identity_then_random(Rng& rng, std::size_t random_rows) {
  Items items = random_items(rng, 3 + random_rows, 3);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 3; ++j) items.data[i * 3 + j] = i == j ? 1.0f : 0.0f;
  }
  return items;
}

// Checks the sample mean and covariance of θ̃ (read through the identity items) against θ and
// v² A⁻¹ for A = λI + Σ a aᵀ over the `updated` rows. n = 20000 draws: the standard error of a
// mean is sd/141 and of a covariance entry about 1% of the variances; the tolerances are 5 of
// those.
void check_posterior_draws(const LinThompson& model, const Items& items,
                           const std::vector<std::size_t>& updated, double ridge, double v) {
  Eigen::Matrix3d a = Eigen::Matrix3d::Identity() * ridge;
  for (const std::size_t k : updated) {
    const Eigen::Vector3d p(items.view().row(k)[0], items.view().row(k)[1], items.view().row(k)[2]);
    a += p * p.transpose();
  }
  const Eigen::Matrix3d cov = v * v * a.inverse();
  const Context ctx{.items = items.view()};
  const std::vector<std::size_t> basis{0, 1, 2};
  Rng rng(99);
  const int n = 20000;
  Eigen::Vector3d sum = Eigen::Vector3d::Zero();
  Eigen::Matrix3d outer = Eigen::Matrix3d::Zero();
  std::vector<float> s(3);
  for (int i = 0; i < n; ++i) {
    model.sample_scores(ctx, Candidates(basis), s, rng);
    const Eigen::Vector3d t(s[0], s[1], s[2]);
    sum += t;
    outer += t * t.transpose();
  }
  const Eigen::Vector3d mean = sum / n;
  const Eigen::Matrix3d sample_cov = outer / n - mean * mean.transpose();
  const double scale = cov.diagonal().maxCoeff();
  const std::span<const float> theta = model.theta();  // empty for the prior: θ = 0
  for (int i = 0; i < 3; ++i) {
    const double expected = theta.empty() ? 0.0 : theta[static_cast<std::size_t>(i)];
    CHECK(std::abs(mean(i) - expected) < 5.0 * std::sqrt(cov(i, i) / n));
    for (int j = 0; j < 3; ++j) CHECK(std::abs(sample_cov(i, j) - cov(i, j)) < 0.05 * scale);
  }
}

}  // namespace

TEST_CASE("LinThompson: score is the posterior mean, the same as LinUcb's") {
  Rng rng(1);
  const Items items = random_items(rng, 12, 3);
  for (const auto mode : {LinThompsonConfig::Mode::shared, LinThompsonConfig::Mode::disjoint}) {
    LinThompson ts(
        {.mode = mode, .features = FeatureMap::cross, .ridge = 0.5f, .refactor_every = 40});
    marl_rec::LinUcb ucb(
        {.mode = mode, .features = FeatureMap::cross, .ridge = 0.5f, .refactor_every = 40});
    for (int t = 0; t < 150; ++t) {
      const std::vector<float> x = random_vector(rng, 4);
      const Context ctx{.features = x, .items = items.view()};
      const std::size_t item = rng.below(12);
      const double r = rng.normal();
      ts.update(ctx, item, r);
      ucb.update(ctx, item, r);
    }
    const std::vector<float> x = random_vector(rng, 4);
    const Context ctx{.features = x, .items = items.view()};
    std::vector<float> a(12), b(12);
    ts.score(ctx, Candidates::all(12), a);
    ucb.score(ctx, Candidates::all(12), b);
    CHECK(same_bits(a, b));
    CHECK(ts.updates() == 150);
    CHECK(ts.dims().phi == 12);
  }
}

TEST_CASE("LinThompson: sample_scores is determined by the Rng's seed") {
  Rng rng(2);
  const Items items = random_items(rng, 20, 3);
  for (const auto mode : {LinThompsonConfig::Mode::shared, LinThompsonConfig::Mode::disjoint}) {
    LinThompson model({.mode = mode, .features = FeatureMap::cross, .v = 0.3f});
    for (int t = 0; t < 60; ++t) {
      const std::vector<float> x = random_vector(rng, 2);
      model.update({.features = x, .items = items.view()}, rng.below(20), rng.normal());
    }
    const std::vector<float> x = random_vector(rng, 2);
    const Context ctx{.features = x, .items = items.view()};
    std::vector<float> a(20), b(20), c(20), d(20);
    Rng r1(42), r2(42), r3(43);
    model.sample_scores(ctx, Candidates::all(20), a, r1);
    model.sample_scores(ctx, Candidates::all(20), b, r2);
    model.sample_scores(ctx, Candidates::all(20), c, r3);
    model.sample_scores(ctx, Candidates::all(20), d, r1);  // the generator moved on
    CHECK(same_bits(a, b));
    CHECK(a != c);
    CHECK(a != d);
    // A candidate list scores as its items do in Candidates::all, draw for draw, in shared
    // mode (one θ̃ per call); in disjoint mode position i takes the i-th draw.
    const std::vector<std::size_t> list{3, 1, 4};
    std::vector<float> l(3);
    Rng r4(42);
    model.sample_scores(ctx, Candidates(list), l, r4);
    if (mode == LinThompsonConfig::Mode::shared) {
      for (std::size_t i = 0; i < 3; ++i)
        CHECK(std::memcmp(&l[i], &a[list[i]], sizeof(float)) == 0);
    }
    // v = 0: the draw is the mean.
    LinThompson zero({.mode = mode, .features = FeatureMap::cross, .v = 0.0f});
    for (int t = 0; t < 5; ++t) zero.update(ctx, static_cast<std::size_t>(t), 1.0);
    std::vector<float> mean(20);
    zero.score(ctx, Candidates::all(20), mean);
    zero.sample_scores(ctx, Candidates::all(20), a, r1);
    CHECK(same_bits(a, mean));
  }
}

TEST_CASE("LinThompson: shared-mode draws have mean θ and covariance v² A⁻¹") {
  // d = 3 item map; 40 updates on random items (so A⁻¹ is far from diagonal), then 20000
  // draws read through the identity items. Both with the Cholesky factor kept by rank-1
  // updates only (refactor_every = 1000) and with frequent exact refactorisation (7).
  for (const std::size_t refactor_every : {std::size_t{1000}, std::size_t{7}}) {
    CAPTURE(refactor_every);
    Rng rng(3);
    const Items items = identity_then_random(rng, 10);
    LinThompson model(
        {.features = FeatureMap::item, .ridge = 2.0f, .v = 0.5f, .refactor_every = refactor_every});
    std::vector<std::size_t> updated;
    for (int t = 0; t < 40; ++t) {
      const std::size_t item = 3 + rng.below(10);
      model.update({.items = items.view()}, item, rng.normal());
      updated.push_back(item);
    }
    check_posterior_draws(model, items, updated, 2.0, 0.5);
  }
  // Before any update: the prior, θ̃ ~ N(0, (v²/λ) I).
  Rng rng(4);
  const Items items = identity_then_random(rng, 1);
  check_posterior_draws(LinThompson({.features = FeatureMap::item, .ridge = 2.0f, .v = 0.5f}),
                        items, {}, 2.0, 0.5);
}

TEST_CASE("LinThompson: the rank-1 Cholesky updates agree with exact refactorisation") {
  // Same data, factor kept by rank-1 updates only (refactor_every = 0) or recomputed exactly
  // at every update (1): the same draws from the same seed to within 1e-5 (both in double,
  // rounded to float at the end).
  Rng rng(6);
  const Items items = random_items(rng, 30, 4);
  LinThompson rank1({.features = FeatureMap::cross, .v = 1.0f, .refactor_every = 0});
  LinThompson exact({.features = FeatureMap::cross, .v = 1.0f, .refactor_every = 1});
  for (int t = 0; t < 300; ++t) {
    const std::vector<float> x = random_vector(rng, 3);
    const Context ctx{.features = x, .items = items.view()};
    const std::size_t item = rng.below(30);
    const double r = rng.normal();
    rank1.update(ctx, item, r);
    exact.update(ctx, item, r);
  }
  const std::vector<float> x = random_vector(rng, 3);
  const Context ctx{.features = x, .items = items.view()};
  std::vector<float> a(30), b(30);
  Rng r1(7), r2(7);
  rank1.sample_scores(ctx, Candidates::all(30), a, r1);
  exact.sample_scores(ctx, Candidates::all(30), b, r2);
  for (std::size_t i = 0; i < 30; ++i) CHECK(std::abs(a[i] - b[i]) < 1e-5);
}

TEST_CASE("LinThompson: disjoint mode draws each candidate independently") {
  // Context map, x fixed = (1, 2); item 0 learned r = 1 three times, item 1 never. Item 0's
  // draws: mean 3|x|²/(λ + 3|x|²) = 15/16, variance v² |x|²/(λ + 3|x|²) = v² 5/16; item 1's:
  // the prior, mean 0, variance v² |x|²/λ = 5 v². A duplicate of item 0 in the list is drawn
  // independently: correlation near 0. 20000 draws, v = 0.5, λ = 1; tolerances of 5 standard
  // errors.
  const std::vector<float> x{1.0f, 2.0f};
  const Context ctx{.features = x};
  LinThompson model({.mode = LinThompsonConfig::Mode::disjoint,
                     .features = FeatureMap::context,
                     .ridge = 1.0f,
                     .v = 0.5f});
  for (int t = 0; t < 3; ++t) model.update(ctx, 0, 1.0);
  const std::vector<std::size_t> list{0, 1, 0};
  std::vector<float> s(3);
  Rng rng(8);
  const int n = 20000;
  double sum[3] = {0, 0, 0}, sum2[3] = {0, 0, 0}, cross = 0.0;
  for (int i = 0; i < n; ++i) {
    model.sample_scores(ctx, Candidates(list), s, rng);
    for (int k = 0; k < 3; ++k) {
      sum[k] += s[k];
      sum2[k] += static_cast<double>(s[k]) * s[k];
    }
    cross += static_cast<double>(s[0]) * s[2];
  }
  const double var0 = 0.25 * 5.0 / 16.0, var1 = 0.25 * 5.0;
  const double m0 = sum[0] / n, m1 = sum[1] / n, m2 = sum[2] / n;
  CHECK(std::abs(m0 - 15.0 / 16.0) < 5.0 * std::sqrt(var0 / n));
  CHECK(std::abs(m2 - 15.0 / 16.0) < 5.0 * std::sqrt(var0 / n));
  CHECK(std::abs(m1) < 5.0 * std::sqrt(var1 / n));
  CHECK(std::abs(sum2[0] / n - m0 * m0 - var0) < 5.0 * var0 * std::sqrt(2.0 / n));
  CHECK(std::abs(sum2[1] / n - m1 * m1 - var1) < 5.0 * var1 * std::sqrt(2.0 / n));
  const double correlation = (cross / n - m0 * m2) / var0;
  CHECK(std::abs(correlation) < 5.0 / std::sqrt(static_cast<double>(n)));
}

TEST_CASE("LinThompson: checks, save and load") {
  Rng rng(10);
  const Items items = random_items(rng, 8, 3);
  const std::vector<float> x = random_vector(rng, 2);
  const Context ctx{.features = x, .items = items.view()};
  LinThompson model(
      {.features = FeatureMap::concat, .ridge = 0.5f, .v = 0.2f, .refactor_every = 9});
  for (int t = 0; t < 40; ++t) model.update(ctx, rng.below(8), rng.normal());
  CHECK(model.dims().phi == 5);

  std::vector<float> s(8);
  Rng draw(1);
  CHECK(error_of([&] { model.sample_scores(ctx, Candidates::all(7), s, draw); }) ==
        "LinThompson::sample_scores: scores has 8 entries, candidates has 7");
  const std::vector<float> long_x(3, 0.0f);
  CHECK(error_of([&] {
          model.sample_scores({.features = long_x, .items = items.view()}, Candidates::all(8), s,
                              draw);
        }) == "LinThompson::sample_scores: the context has 3 features, the model was sized for 2");
  CHECK(error_of([&] { model.update(ctx, 2, std::nan("")); }) ==
        "LinThompson::update: reward must be finite (and within float range), got nan");
  CHECK(error_of([] { LinThompson bad({.v = -0.5f}); }) ==
        "LinThompson: v must be finite and >= 0, got -0.500000");
  CHECK(error_of([] {
          LinThompson bad({.ridge = std::nanf("")});
        }).starts_with("LinThompson: ridge must be finite and > 0"));

  // Round trip: the loaded model draws the same scores from the same seed, and learns alike.
  std::stringstream stream;
  model.save(stream);
  const std::string bytes = stream.str();
  LinThompson loaded({.mode = LinThompsonConfig::Mode::disjoint});
  loaded.load(stream);
  CHECK(loaded.config().v == 0.2f);
  CHECK(loaded.config().mode == LinThompsonConfig::Mode::shared);
  CHECK(loaded.config().features == FeatureMap::concat);
  std::vector<float> a(8), b(8);
  Rng r1(5), r2(5);
  model.sample_scores(ctx, Candidates::all(8), a, r1);
  loaded.sample_scores(ctx, Candidates::all(8), b, r2);
  CHECK(same_bits(a, b));
  for (int t = 0; t < 12; ++t) {
    const std::size_t item = rng.below(8);
    const double r = rng.normal();
    model.update(ctx, item, r);
    loaded.update(ctx, item, r);
  }
  CHECK(saved(model) == saved(loaded));

  // Broken streams: Errors, and the target is unchanged.
  const std::string before = saved(loaded);
  const auto load = [&](const std::string& s) {
    std::istringstream in(s);
    return error_of([&] { loaded.load(in); });
  };
  CHECK(load(bytes.substr(0, bytes.size() / 2)).find("(truncated)") != std::string::npos);
  CHECK(load(bytes.substr(0, bytes.size() - 3)) ==
        "loading a 'linthompson' model: the stream ends before its checksum (truncated)");
  std::string corrupted = bytes;
  corrupted[bytes.size() - 30] = static_cast<char>(corrupted[bytes.size() - 30] ^ 0x01);
  CHECK(load(corrupted) ==
        "loading a 'linthompson' model: checksum mismatch (the stream is corrupted)");
  CHECK(load(saved(marl_rec::LinUcb{})) ==
        "loading a 'linthompson' model: the stream holds a 'linucb' model");
  CHECK(saved(loaded) == before);
}
