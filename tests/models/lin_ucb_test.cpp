#include <doctest/doctest.h>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::Candidates;
using marl_rec::Context;
using marl_rec::FeatureMap;
using marl_rec::LinUcb;
using marl_rec::LinUcbConfig;
using marl_rec::MatrixView;
using marl_rec::Rng;
using marl_rec::test::error_of;

// A row-major item matrix that owns its storage.
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

// φ(x, a) in double, straight from the definition (the reference for the fast paths).
std::vector<double> reference_phi(FeatureMap map, std::span<const float> x,
                                  std::span<const float> a) {
  std::vector<float> phi(marl_rec::feature_dim(map, x.size(), a.size()));
  marl_rec::write_features(map, x, a, phi);
  return {phi.begin(), phi.end()};
}

// The exact A = λI + Σ φφᵀ and b = Σ rφ of a sequence of updates, in double.
struct ExactRidge {
  Eigen::MatrixXd a;
  Eigen::VectorXd b;
  ExactRidge(std::size_t d, double ridge)
      : a(Eigen::MatrixXd::Identity(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d)) *
          ridge),
        b(Eigen::VectorXd::Zero(static_cast<Eigen::Index>(d))) {}
  void add(const std::vector<double>& phi, double reward) {
    const Eigen::Map<const Eigen::VectorXd> p(phi.data(), static_cast<Eigen::Index>(phi.size()));
    a += p * p.transpose();
    b += reward * p;
  }
};

// max |model − exact| / max |exact| over A⁻¹.
double inverse_error(MatrixView model, const Eigen::MatrixXd& exact) {
  double worst = 0.0;
  for (std::size_t i = 0; i < model.rows(); ++i) {
    for (std::size_t j = 0; j < model.cols(); ++j) {
      const double e = exact(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
      worst = std::max(worst, std::abs(static_cast<double>(model.row(i)[j]) - e));
    }
  }
  return worst / exact.cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("LinUcb: hand-computed two-dimensional case") {
  // φ = a (FeatureMap::item), items e1 = (1, 0), e2 = (0, 1), g = (1, 1); λ = 1, α = 2.
  const Items items{3, 2, {1, 0, 0, 1, 1, 1}};
  const Context ctx{.items = items.view()};
  LinUcb model({.features = FeatureMap::item, .alpha = 2.0f, .ridge = 1.0f});
  std::vector<float> s(3), u(3);

  // Prior: θ = 0, A⁻¹ = I: bound = α |a|.
  model.score(ctx, Candidates::all(3), s);
  model.upper_bound(ctx, Candidates::all(3), u);
  CHECK(s == std::vector<float>{0, 0, 0});
  CHECK(u[0] == doctest::Approx(2.0).epsilon(1e-6));
  CHECK(u[2] == doctest::Approx(2.0 * std::sqrt(2.0)).epsilon(1e-6));
  CHECK(model.dims().phi == 0);

  // One update, φ = (1, 0), r = 1: A = diag(2, 1), b = (1, 0), θ = (0.5, 0).
  model.update(ctx, 0, 1.0);
  CHECK(model.dims().item == 2);
  CHECK(model.dims().context == 0);
  CHECK(model.dims().phi == 2);
  CHECK(model.updates() == 1);
  REQUIRE(model.theta().size() == 2);
  CHECK(model.theta()[0] == doctest::Approx(0.5).epsilon(1e-7));
  CHECK(model.theta()[1] == 0.0f);
  model.score(ctx, Candidates::all(3), s);
  model.upper_bound(ctx, Candidates::all(3), u);
  CHECK(s[0] == doctest::Approx(0.5).epsilon(1e-7));
  CHECK(s[1] == 0.0f);
  CHECK(u[0] == doctest::Approx(0.5 + 2.0 * std::sqrt(0.5)).epsilon(1e-6));
  CHECK(u[1] == doctest::Approx(2.0).epsilon(1e-6));  // e2 is still unexplored: bonus α·1
  CHECK(u[2] == doctest::Approx(0.5 + 2.0 * std::sqrt(1.5)).epsilon(1e-6));

  // Then φ = (1, 1), r = 0: A = [[3, 1], [1, 2]], A⁻¹ = [[2, −1], [−1, 3]] / 5, b = (1, 0),
  // θ = (0.4, −0.2).
  model.update(ctx, 2, 0.0);
  CHECK(model.theta()[0] == doctest::Approx(0.4).epsilon(1e-6));
  CHECK(model.theta()[1] == doctest::Approx(-0.2).epsilon(1e-6));
  const MatrixView inv = model.inverse();
  CHECK(inv.row(0)[0] == doctest::Approx(0.4).epsilon(1e-6));
  CHECK(inv.row(0)[1] == doctest::Approx(-0.2).epsilon(1e-6));
  CHECK(inv.row(1)[1] == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(inv.row(1)[0] == inv.row(0)[1]);  // exactly symmetric
  model.upper_bound(ctx, Candidates::all(3), u);
  CHECK(u[1] == doctest::Approx(-0.2 + 2.0 * std::sqrt(0.6)).epsilon(1e-6));
}

TEST_CASE("LinUcb: Sherman–Morrison in float against the exact inverse after 500 updates") {
  // Shared cross model, dx = 5, da = 4 (d = 20), N(0, 1) features, no re-inversion. The float
  // inverse must stay within 1e-4 of the exact double inverse, relative to its largest entry
  // (measured: about 1e-6 on x86-64; float rounding is 6e-8 per operation), and θ likewise.
  Rng rng(11);
  const Items items = random_items(rng, 30, 4);
  LinUcb model({.alpha = 1.0f, .ridge = 1.0f, .refactor_every = 0});
  ExactRidge exact(20, 1.0);
  for (int t = 0; t < 500; ++t) {
    const std::vector<float> x = random_vector(rng, 5);
    const std::size_t item = rng.below(30);
    const double reward = rng.normal();
    const Context ctx{.features = x, .items = items.view()};
    model.update(ctx, item, reward);
    exact.add(reference_phi(FeatureMap::cross, x, items.view().row(item)), reward);
  }
  const Eigen::MatrixXd inverse = exact.a.inverse();
  const Eigen::VectorXd theta = exact.a.ldlt().solve(exact.b);
  const double error = inverse_error(model.inverse(), inverse);
  double theta_error = 0.0;
  for (Eigen::Index i = 0; i < 20; ++i) {
    theta_error = std::max(
        theta_error,
        std::abs(static_cast<double>(model.theta()[static_cast<std::size_t>(i)]) - theta(i)));
  }
  theta_error /= theta.cwiseAbs().maxCoeff();
  MESSAGE("Sherman-Morrison float drift after 500 updates (d = 20): A^-1 ", error, ", theta ",
          theta_error);
  CHECK(error < 1e-4);
  CHECK(theta_error < 1e-4);
}

TEST_CASE("LinUcb: the exact re-inversion bounds the drift") {
  // Ill-conditioned features (coordinate scales from 1 to 100, d = 12, item map): the float
  // inverse M is measured by |A M - I| (Frobenius), its relative accuracy in every direction,
  // the well-explored ones (small eigenvalues of A⁻¹, where Sherman–Morrison cancels) included.
  // With refactor_every = 50, right after each re-inversion M is the exact inverse rounded to
  // float (measured 3e-6: cond(A) times float rounding); between re-inversions the error stays
  // below 1e-4 (measured 1.4e-5) once the first re-inversion is done; without re-inversion the same
  // run ends with an error 10 times larger at least (measured 3e-4 against 1.4e-6, printed).
  Rng rng(5);
  const std::size_t d = 12;
  Items items = random_items(rng, 40, d);
  for (std::size_t r = 0; r < items.rows; ++r) {
    for (std::size_t j = 0; j < d; ++j) {
      items.data[r * d + j] *=
          static_cast<float>(std::pow(100.0, static_cast<double>(j) / (d - 1)));
    }
  }
  const Context ctx{.items = items.view()};
  LinUcb refactored({.features = FeatureMap::item, .ridge = 1.0f, .refactor_every = 50});
  LinUcb never({.features = FeatureMap::item, .ridge = 1.0f, .refactor_every = 0});
  ExactRidge exact(d, 1.0);
  const auto residual = [&](MatrixView m) {
    Eigen::MatrixXd mm(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d));
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j < d; ++j) {
        mm(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = m.row(i)[j];
      }
    }
    return (exact.a * mm - Eigen::MatrixXd::Identity(mm.rows(), mm.cols())).norm();
  };
  double worst_between = 0.0, worst_after = 0.0;
  for (int t = 1; t <= 2000; ++t) {
    const std::size_t item = rng.below(items.rows);
    const double reward = rng.normal();
    refactored.update(ctx, item, reward);
    never.update(ctx, item, reward);
    exact.add(reference_phi(FeatureMap::item, {}, items.view().row(item)), reward);
    if (t % 10 != 0 || t < 50) continue;
    const double e = residual(refactored.inverse());
    if (t % 50 == 0) {
      worst_after = std::max(worst_after, e);
    } else {
      worst_between = std::max(worst_between, e);
    }
  }
  const double final_refactored = residual(refactored.inverse());
  const double final_never = residual(never.inverse());
  MESSAGE("|A M - I|: right after re-inversion <= ", worst_after, ", between <= ", worst_between,
          "; at the end: re-inverted every 50 ", final_refactored, ", never ", final_never);
  CHECK(worst_after < 1e-5);
  CHECK(worst_between < 1e-4);
  CHECK(final_never > 10.0 * final_refactored);
}

TEST_CASE("LinUcb: every feature map's fast scoring path matches the definition") {
  // Shared mode, after 300 random updates: score = θ·φ and upper_bound = θ·φ + α sqrt(φᵀA⁻¹φ)
  // with φ materialised and the products taken in double from the model's θ and A⁻¹. The fast
  // paths sum in another order, in float: tolerance 1e-4 absolute (scores are O(1)). A list of
  // candidates scores bit-identically to Candidates::all.
  for (const FeatureMap map :
       {FeatureMap::context, FeatureMap::item, FeatureMap::concat, FeatureMap::cross}) {
    CAPTURE(marl_rec::to_string(map));
    Rng rng(3);
    const std::size_t dx = 7, da = 5, n = 13;
    const Items items = random_items(rng, n, da);
    LinUcb model({.features = map, .alpha = 0.7f, .ridge = 2.0f, .refactor_every = 64});
    for (int t = 0; t < 300; ++t) {
      const std::vector<float> x = random_vector(rng, dx);
      const std::size_t item = rng.below(n);
      model.update({.features = x, .items = items.view()}, item, rng.normal());
    }
    const std::vector<float> x = random_vector(rng, dx);
    const Context ctx{.features = x, .items = items.view()};
    std::vector<float> s(n), u(n);
    model.score(ctx, Candidates::all(n), s);
    model.upper_bound(ctx, Candidates::all(n), u);
    const std::size_t d = model.dims().phi;
    const MatrixView inv = model.inverse();
    for (std::size_t i = 0; i < n; ++i) {
      const std::vector<double> phi = reference_phi(
          map, map == FeatureMap::item ? std::span<const float>{} : std::span<const float>(x),
          map == FeatureMap::context ? std::span<const float>{} : items.view().row(i));
      REQUIRE(phi.size() == d);
      double mean = 0.0, q = 0.0;
      for (std::size_t j = 0; j < d; ++j) {
        mean += static_cast<double>(model.theta()[j]) * phi[j];
        for (std::size_t k = 0; k < d; ++k)
          q += phi[j] * static_cast<double>(inv.row(j)[k]) * phi[k];
      }
      CHECK(std::abs(static_cast<double>(s[i]) - mean) < 1e-4);
      CHECK(std::abs(static_cast<double>(u[i]) - (mean + 0.7 * std::sqrt(q))) < 1e-4);
    }
    const std::vector<std::size_t> list{4, 0, 12, 4, 7};
    std::vector<float> ls(list.size()), lu(list.size());
    model.score(ctx, Candidates(list), ls);
    model.upper_bound(ctx, Candidates(list), lu);
    for (std::size_t i = 0; i < list.size(); ++i) {
      CHECK(std::memcmp(&ls[i], &s[list[i]], sizeof(float)) == 0);
      CHECK(std::memcmp(&lu[i], &u[list[i]], sizeof(float)) == 0);
    }
  }
}

TEST_CASE("LinUcb: a cross model recovers a known interaction matrix") {
  // Noiseless rewards r = xᵀ W a for a fixed 3 × 2 W: with λ = 0.01 and 400 random (x, a)
  // pairs, θ (row-major W) is W to within 1e-3.
  const float w[6] = {1.0f, -0.5f, 0.25f, 2.0f, 0.0f, -1.0f};
  Rng rng(21);
  const Items items = random_items(rng, 10, 2);
  LinUcb model({.features = FeatureMap::cross, .ridge = 0.01f});
  for (int t = 0; t < 400; ++t) {
    const std::vector<float> x = random_vector(rng, 3);
    const std::size_t item = rng.below(10);
    double r = 0.0;
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::size_t j = 0; j < 2; ++j) r += x[i] * w[i * 2 + j] * items.view().row(item)[j];
    }
    model.update({.features = x, .items = items.view()}, item, r);
  }
  for (std::size_t k = 0; k < 6; ++k) CHECK(std::abs(model.theta()[k] - w[k]) < 1e-3);
}

TEST_CASE("LinUcb: disjoint mode keeps one regression per item") {
  // FeatureMap::context, x fixed = (1, 0.5) (|x|² = 1.25), λ = 1, α = 1. Item 2 is rewarded 1
  // four times, item 0 rewarded 0 twice: item 2's mean is n|x|²/(λ + n|x|²) = 5/6 and its
  // bound adds sqrt(|x|²/(λ + n|x|²)) (A = λI + n xxᵀ); item 0's mean is 0; an item never
  // updated (1, or 9 — beyond every index seen) scores with the prior: 0 and |x|/sqrt(λ).
  const std::vector<float> x{1.0f, 0.5f};
  const Context ctx{.features = x};
  LinUcb model({.mode = LinUcbConfig::Mode::disjoint, .features = FeatureMap::context});
  for (int t = 0; t < 4; ++t) model.update(ctx, 2, 1.0);
  for (int t = 0; t < 2; ++t) model.update(ctx, 0, 0.0);
  CHECK(model.updates() == 6);
  const std::vector<std::size_t> list{0, 1, 2, 9};
  std::vector<float> s(4), u(4);
  model.score(ctx, Candidates(list), s);
  model.upper_bound(ctx, Candidates(list), u);
  CHECK(s[0] == doctest::Approx(0.0));
  CHECK(s[1] == 0.0f);
  CHECK(s[2] == doctest::Approx(5.0 / 6.0).epsilon(1e-6));
  CHECK(s[3] == 0.0f);
  CHECK(u[1] == doctest::Approx(std::sqrt(1.25)).epsilon(1e-6));
  CHECK(u[3] == doctest::Approx(std::sqrt(1.25)).epsilon(1e-6));
  CHECK(u[2] == doctest::Approx(5.0 / 6.0 + std::sqrt(1.25 / 6.0)).epsilon(1e-6));
  CHECK(u[0] == doctest::Approx(std::sqrt(1.25 / 3.5)).epsilon(1e-6));
  CHECK(model.theta(1).empty());
  CHECK(model.theta(2).size() == 2);
  CHECK(model.inverse(9).empty());
  CHECK(error_of([&] { (void)model.theta(); }) ==
        "LinUcb::theta: disjoint mode keeps one per item; pass the item index");

  // The same data in shared mode: one θ, so every item scores alike (what item 2 learned is
  // averaged with item 0's zeros: mean = 4|x|²/(λ + 6|x|²) = 5/8.5).
  LinUcb shared({.mode = LinUcbConfig::Mode::shared, .features = FeatureMap::context});
  for (int t = 0; t < 4; ++t) shared.update(ctx, 2, 1.0);
  for (int t = 0; t < 2; ++t) shared.update(ctx, 0, 0.0);
  shared.score(ctx, Candidates(list), s);
  for (const float v : s) CHECK(v == doctest::Approx(5.0 / 8.5).epsilon(1e-6));
}

TEST_CASE("LinUcb: each disjoint arm is the shared model of its own item's data") {
  // Disjoint cross model vs one shared cross model per item, fed only that item's updates:
  // the same θ and A⁻¹ (bit-identical: the same operations), and scores within 1e-5 (the
  // shared path factors θ·φ differently).
  Rng rng(8);
  const Items items = random_items(rng, 4, 3);
  LinUcb disjoint(
      {.mode = LinUcbConfig::Mode::disjoint, .features = FeatureMap::cross, .alpha = 0.5f});
  std::vector<LinUcb> per_item(4, LinUcb({.features = FeatureMap::cross, .alpha = 0.5f}));
  for (int t = 0; t < 200; ++t) {
    const std::vector<float> x = random_vector(rng, 2);
    const std::size_t item = rng.below(4);
    const double r = rng.normal();
    const Context ctx{.features = x, .items = items.view()};
    disjoint.update(ctx, item, r);
    per_item[item].update(ctx, item, r);
  }
  const std::vector<float> x = random_vector(rng, 2);
  const Context ctx{.features = x, .items = items.view()};
  std::vector<float> s(4), u(4), one(4);
  disjoint.score(ctx, Candidates::all(4), s);
  disjoint.upper_bound(ctx, Candidates::all(4), u);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(std::equal(disjoint.theta(i).begin(), disjoint.theta(i).end(),
                     per_item[i].theta().begin()));
    per_item[i].score(ctx, Candidates::all(4), one);
    CHECK(std::abs(s[i] - one[i]) < 1e-5);
    per_item[i].upper_bound(ctx, Candidates::all(4), one);
    CHECK(std::abs(u[i] - one[i]) < 1e-5);
  }
}

TEST_CASE("LinUcb: dimensions, indices, rewards and features are checked") {
  Rng rng(1);
  const Items items = random_items(rng, 5, 3);
  const std::vector<float> x = random_vector(rng, 4);
  const Context ctx{.features = x, .items = items.view()};
  LinUcb model({.features = FeatureMap::cross});
  std::vector<float> s(5);

  model.update(ctx, 1, 1.0);
  CHECK(model.dims().context == 4);
  CHECK(model.dims().item == 3);
  CHECK(model.dims().phi == 12);
  const std::string before = saved(model);

  const std::vector<float> short_x(3, 0.0f);
  const Context wrong_x{.features = short_x, .items = items.view()};
  CHECK(error_of([&] { model.update(wrong_x, 1, 1.0); }) ==
        "LinUcb::update: the context has 3 features, the model was sized for 4");
  CHECK(error_of([&] { model.score(wrong_x, Candidates::all(5), s); }) ==
        "LinUcb::score: the context has 3 features, the model was sized for 4");
  const Items wide = random_items(rng, 5, 2);
  const Context wrong_a{.features = x, .items = wide.view()};
  CHECK(error_of([&] { model.upper_bound(wrong_a, Candidates::all(5), s); }) ==
        "LinUcb::upper_bound: the items have 2 features, the model was sized for 3");
  CHECK(error_of([&] { model.update(ctx, 5, 1.0); }) ==
        "LinUcb::update: item index 5 is outside the items matrix (5 rows)");
  const std::vector<std::size_t> bad_list{0, 7};
  std::vector<float> two(2);
  CHECK(error_of([&] { model.score(ctx, Candidates(bad_list), two); }) ==
        "LinUcb::score: item index 7 is outside the items matrix (5 rows)");
  CHECK(error_of([&] { model.score(ctx, Candidates::all(6), std::span<float>(s.data(), 5)); }) ==
        "LinUcb::score: scores has 5 entries, candidates has 6");
  CHECK(error_of([&] { model.update(ctx, 1, std::nan("")); }) ==
        "LinUcb::update: reward must be finite (and within float range), got nan");
  CHECK(error_of([&] {
          model.update(ctx, 1, std::numeric_limits<double>::infinity());
        }).starts_with("LinUcb::update: reward must be finite"));
  CHECK(error_of([&] {
          model.update(ctx, 1, 1e300);
        }).starts_with("LinUcb::update: reward must be finite (and within float range)"));
  std::vector<float> nan_x = x;
  nan_x[2] = std::nanf("");
  CHECK(error_of([&] { model.update({.features = nan_x, .items = items.view()}, 1, 1.0); }) ==
        "LinUcb::update: context feature 2 is not finite");
  Items inf_items = items;
  inf_items.data[1 * 3 + 1] = std::numeric_limits<float>::infinity();
  CHECK(error_of([&] { model.update({.features = x, .items = inf_items.view()}, 1, 1.0); }) ==
        "LinUcb::update: feature 1 of item 1 is not finite");
  std::vector<float> huge_x = x;
  huge_x[0] = 1e30f;
  Items huge_items = items;
  huge_items.data[1 * 3 + 0] = 1e30f;  // x ⊗ a overflows float
  CHECK(error_of([&] {
          model.update({.features = huge_x, .items = huge_items.view()}, 1, 1.0);
        }).starts_with("LinUcb::update: the features are too large for float arithmetic"));
  CHECK(saved(model) == before);  // every failed update left the model unchanged
  CHECK(model.updates() == 1);

  // An unsized model accepts any shape (prior scores) until an update fixes it.
  LinUcb fresh({.features = FeatureMap::cross});
  CHECK_NOTHROW(fresh.score(wrong_x, Candidates::all(5), s));
  CHECK(error_of([&] { fresh.update({.features = {}, .items = items.view()}, 0, 1.0); }) ==
        "LinUcb::update: phi has 0 dimensions (0 context x 3 item features, map 'cross'); it "
        "must have 1..4096");
  CHECK(fresh.dims().phi == 0);
  const std::vector<float> big(4097, 0.0f);
  CHECK(error_of([&] {
          fresh.score({.features = big, .items = items.view()}, Candidates::all(5), s);
        }) ==
        "LinUcb::score: phi has 12291 dimensions (4097 context x 3 item features), more "
        "than the limit of 4096");

  // Config and sizing ctor.
  CHECK(error_of([] { LinUcb bad({.ridge = 0.0f}); }) ==
        "LinUcb: ridge must be finite and > 0 (with a finite inverse), got 0.000000");
  CHECK(error_of([] { LinUcb bad({.alpha = -1.0f}); }) ==
        "LinUcb: alpha must be finite and >= 0, got -1.000000");
  CHECK(error_of([] { LinUcb bad({.features = FeatureMap::item}, 4, 3); }) ==
        "LinUcb::LinUcb: feature map 'item' reads no context features, but 4 were given");
  CHECK(error_of([] { LinUcb bad({.features = FeatureMap::cross}, 100, 100); }) ==
        "LinUcb::LinUcb: phi has 10000 dimensions (100 context x 100 item features, map "
        "'cross'); it must have 1..4096");
  LinUcb sized({.features = FeatureMap::cross}, 4, 3);
  CHECK(sized.dims().phi == 12);
  CHECK(sized.theta().size() == 12);
  CHECK(error_of([&] { sized.score(wrong_x, Candidates::all(5), s); }) ==
        "LinUcb::score: the context has 3 features, the model was sized for 4");

  // Disjoint mode bounds item indices it cannot check against a matrix.
  LinUcb disjoint({.mode = LinUcbConfig::Mode::disjoint, .features = FeatureMap::context});
  CHECK(error_of([&] { disjoint.update({.features = x}, std::size_t{1} << 24, 1.0); }) ==
        "LinUcb::update: item index 16777216 exceeds disjoint mode's limit of 16777215");
}

TEST_CASE("LinUcb: save and load round trip, bit-identical, and learning continues alike") {
  Rng rng(4);
  const Items items = random_items(rng, 20, 3);
  for (const auto mode : {LinUcbConfig::Mode::shared, LinUcbConfig::Mode::disjoint}) {
    LinUcb model({.mode = mode,
                  .features = FeatureMap::cross,
                  .alpha = 0.3f,
                  .ridge = 0.5f,
                  .refactor_every = 17});
    for (int t = 0; t < 100; ++t) {
      const std::vector<float> x = random_vector(rng, 4);
      model.update({.features = x, .items = items.view()}, rng.below(20), rng.normal());
    }
    std::stringstream stream;
    model.save(stream);
    LinUcb loaded;  // another config: load replaces it
    loaded.load(stream);
    CHECK(loaded.config().alpha == 0.3f);
    CHECK(loaded.config().ridge == 0.5f);
    CHECK(loaded.config().refactor_every == 17);
    CHECK(loaded.config().mode == mode);
    CHECK(loaded.updates() == 100);
    const std::vector<float> x = random_vector(rng, 4);
    const Context ctx{.features = x, .items = items.view()};
    std::vector<float> a(20), b(20);
    model.upper_bound(ctx, Candidates::all(20), a);
    loaded.upper_bound(ctx, Candidates::all(20), b);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    model.score(ctx, Candidates::all(20), a);
    loaded.score(ctx, Candidates::all(20), b);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    // The same further updates (across a re-inversion) keep them identical.
    for (int t = 0; t < 30; ++t) {
      const std::size_t item = rng.below(20);
      const double r = rng.normal();
      model.update(ctx, item, r);
      loaded.update(ctx, item, r);
    }
    CHECK(saved(model) == saved(loaded));
  }
  // An unsized model round-trips too.
  LinUcb empty({.features = FeatureMap::concat});
  std::stringstream stream;
  empty.save(stream);
  LinUcb loaded;
  loaded.load(stream);
  CHECK(loaded.dims().phi == 0);
  CHECK(loaded.config().features == FeatureMap::concat);
}

TEST_CASE("LinUcb: truncated, corrupted and foreign streams are Errors that change nothing") {
  Rng rng(9);
  const Items items = random_items(rng, 6, 2);
  LinUcb model({.mode = LinUcbConfig::Mode::disjoint, .features = FeatureMap::item});
  for (int t = 0; t < 20; ++t) model.update({.items = items.view()}, rng.below(6), rng.normal());
  const std::string bytes = saved(model);

  LinUcb target({.features = FeatureMap::cross});
  target.update({.features = std::vector<float>{1.0f}, .items = items.view()}, 0, 1.0);
  const std::string target_before = saved(target);
  const auto load = [&](const std::string& s) {
    std::istringstream in(s);
    return error_of([&] { target.load(in); });
  };
  for (const std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{30}, bytes.size() / 2,
                                bytes.size() - 9, bytes.size() - 1}) {
    CAPTURE(cut);
    const std::string message = load(bytes.substr(0, cut));
    CHECK(message.starts_with("loading a 'linucb' model: "));
    CHECK(message.find("truncated") != std::string::npos);
  }
  for (const std::size_t at : {bytes.size() / 3, bytes.size() / 2, bytes.size() - 20}) {
    std::string corrupted = bytes;
    corrupted[at] = static_cast<char>(corrupted[at] ^ 0x40);
    CHECK(load(corrupted).starts_with("loading a 'linucb' model: "));
  }
  marl_rec::LinThompson other;
  CHECK(load(saved(other)) == "loading a 'linucb' model: the stream holds a 'linthompson' model");
  CHECK(load("not a model at all").starts_with("loading a 'linucb' model: "));
  CHECK(saved(target) == target_before);
  CHECK(load(bytes) == "no error");
  CHECK(saved(target) == bytes);
}

TEST_CASE("LinUcb: concurrent const calls agree with serial ones") {
  Rng rng(13);
  const Items items = random_items(rng, 64, 6);
  LinUcb model({.features = FeatureMap::cross});
  for (int t = 0; t < 200; ++t) {
    const std::vector<float> x = random_vector(rng, 10);
    model.update({.features = x, .items = items.view()}, rng.below(64), rng.normal());
  }
  const std::vector<float> x = random_vector(rng, 10);
  const Context ctx{.features = x, .items = items.view()};
  std::vector<float> expected(64);
  model.upper_bound(ctx, Candidates::all(64), expected);
  std::vector<int> mismatches(2, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 2; ++k) {
    threads.emplace_back([&, k] {
      std::vector<float> s(64);
      for (int rep = 0; rep < 200; ++rep) {
        model.upper_bound(ctx, Candidates::all(64), s);
        mismatches[static_cast<std::size_t>(k)] += s != expected;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(mismatches[0] == 0);
  CHECK(mismatches[1] == 0);
}

TEST_CASE("LinUcb: a stream with a valid checksum but inconsistent contents is an Error") {
  // Streams forged with io::ModelWriter (so only the model's own validation can reject them).
  struct Fields {
    std::uint64_t mode = 1, features = 1, context_dim = 0, item_dim = 2, updates = 1;
    double ridge = 1.0;
    std::vector<float> inverse{1.0f, 0.0f, 0.0f, 1.0f};
  };
  const auto forge = [](const Fields& f) {
    std::ostringstream out;
    marl_rec::io::ModelWriter w(out, "linucb", 1);
    w.f64("alpha", 1.0);
    w.u64("mode", f.mode);
    w.u64("features", f.features);
    w.f64("ridge", f.ridge);
    w.u64("refactor_every", 1000);
    w.u64("context_dim", f.context_dim);
    w.u64("item_dim", f.item_dim);
    w.u64("updates", f.updates);
    w.u64("has_posterior", 1);
    w.u64("updates", 1);
    w.u64("since_refactor", 1);
    w.doubles("A", std::vector<double>{2, 0, 0, 1});
    w.doubles("b", std::vector<double>{1, 0});
    w.floats("A_inv", f.inverse);
    w.floats("theta", std::vector<float>{0.5f, 0.0f});
    w.finish();
    return out.str();
  };
  LinUcb model;
  const auto load = [&](const std::string& s) {
    std::istringstream in(s);
    return error_of([&] { model.load(in); });
  };
  CHECK(load(forge({})) == "no error");  // the baseline is valid: φ = a, one update
  CHECK(model.dims().item == 2);
  CHECK(model.theta()[0] == 0.5f);
  const std::string valid = saved(model);
  CHECK(load(forge({.mode = 5})) == "loading a 'linucb' model: field 'mode' = 5 is outside [0, 1]");
  CHECK(load(forge({.ridge = -1.0})) ==
        "loading a 'linucb' model: ridge must be a positive float with a finite inverse, got "
        "-1.000000");
  CHECK(load(forge({.context_dim = 3})) ==
        "loading a 'linucb' model: dimensions 3 x 2 do not fit feature map 'item'");
  CHECK(load(forge({.updates = 3})) ==
        "loading a 'linucb' model: the posteriors hold 1 updates, the model claims 3");
  CHECK(load(forge({.inverse = {1.0f, std::nanf(""), 0.0f, 1.0f}})) ==
        "loading a 'linucb' model: field 'A_inv' holds a non-finite value");
  CHECK(saved(model) == valid);
}

TEST_CASE("LinUcb::diagnostics: the inverse's distance from the exact inverse of A, per posterior") {
  // The figures diagnostics() reports, against the same figures computed here with Eigen from an
  // independent A (the exact sums in double): max |A Â⁻¹ − I| and ‖Â⁻¹ − A⁻¹‖_F / ‖A⁻¹‖_F.
  Rng rng(21);
  const Items items = random_items(rng, 30, 4);
  LinUcb fresh({.features = FeatureMap::cross});
  CHECK(fresh.diagnostics().posteriors == 0);
  CHECK(fresh.diagnostics().inverse_error == 0.0);

  LinUcb model({.features = FeatureMap::cross, .refactor_every = 0});
  ExactRidge exact(20, 1.0);
  for (int t = 0; t < 300; ++t) {
    const std::vector<float> x = random_vector(rng, 5);
    const std::size_t item = rng.below(30);
    const double reward = rng.normal();
    model.update({.features = x, .items = items.view()}, item, reward);
    exact.add(reference_phi(FeatureMap::cross, x, items.view().row(item)), reward);
  }
  Eigen::MatrixXd m(20, 20);
  for (Eigen::Index i = 0; i < 20; ++i) {
    for (Eigen::Index j = 0; j < 20; ++j) {
      m(i, j) = model.inverse().row(static_cast<std::size_t>(i))[static_cast<std::size_t>(j)];
    }
  }
  const Eigen::MatrixXd inverse = exact.a.inverse();
  const double residual = (exact.a * m - Eigen::MatrixXd::Identity(20, 20)).cwiseAbs().maxCoeff();
  const double error = (m - inverse).norm() / inverse.norm();
  const marl_rec::LinearDiagnostics d = model.diagnostics();
  MESSAGE("after 300 updates without re-inversion: |A M - I| ", d.inverse_residual,
          ", relative Frobenius error ", d.inverse_error);
  CHECK(d.posteriors == 1);
  CHECK(d.finite);
  CHECK(d.inverse_residual == doctest::Approx(residual).epsilon(1e-6));
  CHECK(d.inverse_error == doctest::Approx(error).epsilon(1e-6));
  CHECK(d.inverse_error > 0.0);  // the float inverse is not exact
  CHECK(d.inverse_error < 1e-4);

  // Disjoint mode: one posterior per arm; the worst of them is reported.
  LinUcb disjoint({.mode = LinUcbConfig::Mode::disjoint, .features = FeatureMap::context});
  for (std::size_t item : {3u, 7u, 3u, 9u}) {
    disjoint.update({.features = random_vector(rng, 4)}, item, 1.0);
  }
  CHECK(disjoint.diagnostics().posteriors == 3);
  CHECK(disjoint.diagnostics().inverse_error < 1e-6);
  // LinThompson reports the same for its posterior.
  marl_rec::LinThompson thompson({.features = FeatureMap::cross});
  thompson.update({.features = random_vector(rng, 5), .items = items.view()}, 2, 1.0);
  CHECK(thompson.diagnostics().posteriors == 1);
  CHECK(thompson.diagnostics().inverse_error < 1e-6);
}
