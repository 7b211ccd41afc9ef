// LinUcb::upper_bound_top_k (the pruned top k of the confidence bounds) against the full path:
// upper_bound over every candidate, then simd::top_k. The two must agree bit for bit.
#include <doctest/doctest.h>

// GCC 12's false "may be used uninitialized" inside Eigen's solvers (as in ease_test.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wunused-variable"
#endif
#include <Eigen/Eigenvalues>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/concepts/model.hpp"
#include "marl_rec/coord/shared_model.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/explore/ucb.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::Candidates;
using marl_rec::Context;
using marl_rec::ExcludeBitset;
using marl_rec::FeatureMap;
using marl_rec::ItemBitset;
using marl_rec::LinUcb;
using marl_rec::LinUcbConfig;
using marl_rec::MatrixView;
using marl_rec::NoExclusion;
using marl_rec::Rng;
using marl_rec::ScoredItem;
using marl_rec::test::error_of;

constexpr FeatureMap all_maps[] = {FeatureMap::context, FeatureMap::item, FeatureMap::concat, FeatureMap::cross};

// A shop: item rows of uneven norms (so the per-block norm relaxations are exercised), a pool of
// users, and a hidden linear taste the rewards follow (so the model learns a real A⁻¹ and θ).
struct Shop {
  std::size_t n = 0, dx = 0, da = 0;
  std::vector<float> items;
  std::vector<std::vector<float>> users;
  std::vector<float> taste;

  Shop(Rng& rng, std::size_t items_count, std::size_t context_dim, std::size_t item_dim, bool unit_norm)
      : n(items_count), dx(context_dim), da(item_dim), items(items_count * item_dim), taste(item_dim) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::span<float> row(items.data() + i * da, da);
      for (float& v : row) v = static_cast<float>(rng.normal());
      if (unit_norm) {
        marl_rec::simd::l2_normalize(row);
      } else {
        const auto scale = static_cast<float>(0.2 + 2.0 * rng.uniform());
        for (float& v : row) v *= scale;
      }
    }
    for (int u = 0; u < 8; ++u) {
      std::vector<float> x(dx);
      for (float& v : x) v = static_cast<float>(rng.normal() / std::sqrt(static_cast<double>(dx)));
      users.push_back(x);
    }
    for (float& v : taste) v = static_cast<float>(rng.normal() / std::sqrt(static_cast<double>(da)));
  }
  MatrixView view() const { return MatrixView(items, n, da); }
  Context context(std::size_t t) const { return {.features = users[t % users.size()], .items = view()}; }
  double reward(std::size_t item, Rng& rng) const {
    double r = 0.1 * rng.normal();
    for (std::size_t j = 0; j < da; ++j) r += static_cast<double>(items[item * da + j]) * taste[j];
    return r;
  }
};

// The context/item sizes a map reads.
Context for_map(FeatureMap map, const Context& c) {
  Context out = c;
  if (map == FeatureMap::item) out.features = {};
  if (map == FeatureMap::context) out.items = MatrixView{};
  return out;
}

// `updates` updates, each on the best-bound item of a random user (as a UCB agent would choose).
void train(LinUcb& model, const Shop& shop, std::size_t updates, Rng& rng) {
  std::vector<float> scores(shop.n);
  const FeatureMap map = model.config().features;
  for (std::size_t t = 0; t < updates; ++t) {
    const Context c = shop.context(t);
    const Context fed = for_map(map, c);
    std::size_t item = static_cast<std::size_t>(rng.uniform() * static_cast<double>(shop.n)) % shop.n;
    if (t % 2 == 0 && map != FeatureMap::context) {
      model.upper_bound(fed, Candidates::all(shop.n), scores);
      item = static_cast<std::size_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
    }
    model.update(fed, item, shop.reward(item, rng));
  }
}

// The full path: every bound, then simd::top_k with the positional exclusion.
template <class Model, class Exclude>
std::vector<ScoredItem> full_top_k(const Model& model, const Context& c, Candidates candidates, std::size_t k,
                                   const Exclude& exclude) {
  std::vector<float> scores(candidates.size());
  model.upper_bound(c, candidates, scores);
  std::vector<ScoredItem> out(std::min(k, candidates.size()));
  const auto excluded = [&](std::size_t p) { return exclude(candidates[p]); };
  out.resize(marl_rec::simd::top_k(std::span<const float>(scores), k, std::span<ScoredItem>(out), excluded));
  return out;
}

template <class Model, class Exclude>
std::vector<ScoredItem> pruned_top_k(const Model& model, const Context& c, Candidates candidates, std::size_t k,
                                     const Exclude& exclude) {
  std::vector<ScoredItem> out(std::min(k, candidates.size()));
  out.resize(model.upper_bound_top_k(c, candidates, k, exclude, std::span<ScoredItem>(out)));
  return out;
}

// Items, order and score bits.
void check_same(const std::vector<ScoredItem>& pruned, const std::vector<ScoredItem>& full) {
  REQUIRE(pruned.size() == full.size());
  for (std::size_t i = 0; i < full.size(); ++i) {
    CHECK(pruned[i].index == full[i].index);
    CHECK(std::bit_cast<std::uint32_t>(pruned[i].score) == std::bit_cast<std::uint32_t>(full[i].score));
  }
}

std::size_t exact_bonuses() { return marl_rec::detail::linear_scratch().exact_bonuses; }

// Every k and candidate set of interest, with and without exclusions, on several users.
void check_all_cases(const LinUcb& model, const Shop& shop, Rng& rng) {
  const FeatureMap map = model.config().features;
  std::vector<std::size_t> list;
  for (std::size_t i = 0; i < shop.n; ++i) {
    if (rng.uniform() < 0.6) list.push_back(i);
  }
  std::reverse(list.begin(), list.end());  // positions and items in different orders
  std::vector<std::size_t> repeats = list;
  repeats.insert(repeats.end(), list.begin(), list.begin() + static_cast<std::ptrdiff_t>(list.size() / 3));
  ItemBitset excluded_items(shop.n);
  for (std::size_t i = 0; i < shop.n; ++i) {
    if (rng.uniform() < 0.3) excluded_items.insert(i);
  }
  const ExcludeBitset exclude = excluded_items.view();
  const std::vector<Candidates> candidate_sets = {Candidates::all(shop.n), Candidates(list), Candidates(repeats),
                                                  Candidates::all(0)};
  for (std::size_t t = 0; t < 3; ++t) {
    const Context c = for_map(map, shop.context(t));
    for (const Candidates& candidates : candidate_sets) {
      for (const std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{10}, std::size_t{40},
                                  std::size_t{200}, shop.n, shop.n + 5}) {
        CAPTURE(t);
        CAPTURE(k);
        CAPTURE(candidates.size());
        check_same(pruned_top_k(model, c, candidates, k, NoExclusion{}),
                   full_top_k(model, c, candidates, k, NoExclusion{}));
        check_same(pruned_top_k(model, c, candidates, k, exclude), full_top_k(model, c, candidates, k, exclude));
      }
    }
  }
}

}  // namespace

TEST_CASE("LinUcb::upper_bound_top_k equals the full path for every feature map, candidate set and k") {
  for (const FeatureMap map : all_maps) {
    for (const bool unit_norm : {true, false}) {
      CAPTURE(static_cast<int>(map));
      CAPTURE(unit_norm);
      Rng rng(101 + static_cast<std::uint64_t>(map) * 7 + (unit_norm ? 1 : 0));
      const std::size_t dx = map == FeatureMap::cross ? 3 : 5;
      const std::size_t da = map == FeatureMap::cross ? 4 : 7;
      const Shop shop(rng, 900, dx, da, unit_norm);
      LinUcb model({.features = map, .alpha = 0.7f, .ridge = 1.0f, .refactor_every = 50});
      check_all_cases(model, shop, rng);  // the unsized prior
      train(model, shop, 300, rng);
      check_all_cases(model, shop, rng);
    }
  }
}

TEST_CASE("LinUcb::upper_bound_top_k prunes on a learned model, and not on the paths that cannot") {
  Rng rng(7);
  const Shop shop(rng, 4000, 6, 8, true);
  LinUcb model({.features = FeatureMap::concat, .alpha = 0.5f});
  train(model, shop, 400, rng);
  const Context c = shop.context(1);
  const std::size_t k = 10;
  check_same(pruned_top_k(model, c, Candidates::all(shop.n), k, NoExclusion{}),
             full_top_k(model, c, Candidates::all(shop.n), k, NoExclusion{}));
  // Recomputed after the full path (which does not count) ran.
  const auto top = pruned_top_k(model, c, Candidates::all(shop.n), k, NoExclusion{});
  CHECK(top.size() == k);
  CHECK(exact_bonuses() >= std::max<std::size_t>(4 * k, 64));  // the seed
  CHECK(exact_bonuses() < shop.n / 4);
  // k = 0 computes nothing; a seed covering every candidate computes them all.
  (void)pruned_top_k(model, c, Candidates::all(shop.n), 0, NoExclusion{});
  CHECK(exact_bonuses() == 0);
  (void)pruned_top_k(model, c, Candidates::all(shop.n), shop.n / 4, NoExclusion{});
  CHECK(exact_bonuses() == shop.n);
  // Disjoint mode takes the full path.
  LinUcb disjoint({.mode = LinUcbConfig::Mode::disjoint, .features = FeatureMap::concat});
  for (std::size_t t = 0; t < 50; ++t) disjoint.update(shop.context(t), t % 20, shop.reward(t % 20, rng));
  check_same(pruned_top_k(disjoint, c, Candidates::all(shop.n), k, NoExclusion{}),
             full_top_k(disjoint, c, Candidates::all(shop.n), k, NoExclusion{}));
  (void)pruned_top_k(disjoint, c, Candidates::all(shop.n), k, NoExclusion{});
  CHECK(exact_bonuses() == shop.n);
}

TEST_CASE("LinUcb::upper_bound_top_k: an exclusion that calls other LinUcb models cannot disturb it") {
  // The exclusion runs while the call's scratch holds its state; a model call from inside it
  // (same thread) must get scratch of its own. Every kind of call, pruned ones included.
  Rng rng(23);
  const Shop shop(rng, 3000, 6, 8, true);
  LinUcb model({.features = FeatureMap::concat, .alpha = 0.5f});
  train(model, shop, 300, rng);
  LinUcb other({.features = FeatureMap::concat, .alpha = 2.0f, .ridge = 1e-3f});
  train(other, shop, 5, rng);
  const Context c = shop.context(2);
  std::vector<float> tmp(shop.n);
  std::vector<ScoredItem> tmp_top(20);
  const std::vector<std::size_t> one = {5};
  std::size_t calls = 0;
  const auto reentrant = [&](std::size_t item) {
    ++calls;
    other.upper_bound(c, Candidates(one), std::span<float>(tmp).first(1));
    (void)other.upper_bound_top_k(c, Candidates::all(shop.n), 20, NoExclusion{}, std::span<ScoredItem>(tmp_top));
    other.score(c, Candidates::all(shop.n), std::span<float>(tmp));
    return item % 10 == 0;
  };
  const auto plain = [](std::size_t item) { return item % 10 == 0; };
  for (const std::size_t k : {std::size_t{1}, std::size_t{10}, std::size_t{100}}) {
    CAPTURE(k);
    const auto want = full_top_k(model, c, Candidates::all(shop.n), k, plain);
    calls = 0;
    check_same(pruned_top_k(model, c, Candidates::all(shop.n), k, reentrant), want);
    CHECK(calls > 0);
    // The outer call's counter is its own, not the nested calls'.
    CHECK(exact_bonuses() < shop.n / 4);
  }
}

TEST_CASE("LinUcb::upper_bound_top_k: ties go to the earlier candidate, as on the full path") {
  Rng rng(11);
  Shop shop(rng, 700, 4, 6, true);
  // Many copies of a few rows: equal bounds everywhere, across the pruning threshold too.
  for (std::size_t i = 0; i < shop.n; ++i) {
    const std::size_t source = (i * 7) % 23;
    std::copy_n(shop.items.begin() + static_cast<std::ptrdiff_t>(source * shop.da), shop.da,
                shop.items.begin() + static_cast<std::ptrdiff_t>(i * shop.da));
  }
  for (const FeatureMap map : {FeatureMap::item, FeatureMap::concat, FeatureMap::cross}) {
    LinUcb model({.features = map, .alpha = 0.3f});
    train(model, shop, 150, rng);
    check_all_cases(model, shop, rng);
  }
  // α = 0: the bound is the mean (ties between the bounds and the scores themselves).
  LinUcb greedy({.features = FeatureMap::concat, .alpha = 0.0f});
  train(greedy, shop, 150, rng);
  check_all_cases(greedy, shop, rng);
}

TEST_CASE("LinUcb::upper_bound_top_k: NaN, infinite and huge item features") {
  Rng rng(13);
  for (const FeatureMap map : {FeatureMap::item, FeatureMap::concat, FeatureMap::cross}) {
    CAPTURE(static_cast<int>(map));
    Shop shop(rng, 800, 3, 5, false);
    LinUcb model({.features = map, .alpha = 1.0f});
    train(model, shop, 200, rng);
    // Learned from finite rows; scored with some broken ones.
    shop.items[7 * shop.da + 1] = std::numeric_limits<float>::quiet_NaN();
    shop.items[8 * shop.da + 2] = std::numeric_limits<float>::infinity();
    shop.items[9 * shop.da + 0] = -std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < shop.da; ++j) shop.items[10 * shop.da + j] = 3e18f;   // q overflows
    for (std::size_t j = 0; j < shop.da; ++j) shop.items[11 * shop.da + j] = -1e30f;  // a² overflows
    shop.items[12 * shop.da + 3] = 1e-40f;  // subnormal
    check_all_cases(model, shop, rng);
    // A NaN context feature makes every bound NaN (the full path's answer: nothing eligible).
    if (map != FeatureMap::item) {
      std::vector<float> x = shop.users[0];
      x[0] = std::numeric_limits<float>::quiet_NaN();
      const Context c{.features = x, .items = shop.view()};
      check_same(pruned_top_k(model, c, Candidates::all(shop.n), 5, NoExclusion{}),
                 full_top_k(model, c, Candidates::all(shop.n), 5, NoExclusion{}));
    }
  }
}

TEST_CASE("LinearBanditCore::pruning_bounds bound every score, on ill-conditioned models too") {
  Rng rng(17);
  for (const FeatureMap map : {FeatureMap::item, FeatureMap::concat, FeatureMap::cross}) {
    for (const double spread : {1.0, 1e3}) {
      CAPTURE(static_cast<int>(map));
      CAPTURE(spread);
      Shop shop(rng, 1500, 4, 6, false);
      // Columns of very different scales: A and A⁻¹ are badly conditioned.
      for (std::size_t i = 0; i < shop.n; ++i) {
        for (std::size_t j = 0; j < shop.da; ++j) {
          shop.items[i * shop.da + j] *= static_cast<float>(std::pow(spread, static_cast<double>(j) / 5.0 - 0.5));
        }
      }
      marl_rec::detail::LinearBanditCore core(
          "LinUcb", {.mode = marl_rec::LinearMode::shared, .features = map, .ridge = 0.5, .refactor_every = 100});
      for (std::size_t t = 0; t < 250; ++t) {
        const std::size_t item = (t * 37) % shop.n;
        core.update("update", for_map(map, shop.context(t)), item, shop.reward(item, rng));
      }
      for (std::size_t t = 0; t < 4; ++t) {
        const Context c = for_map(map, shop.context(t));
        std::vector<float> scores(shop.n), means(shop.n), bounds(shop.n), expected_means(shop.n);
        core.upper_bound("bound", c, Candidates::all(shop.n), scores, 1.5f);
        core.score("score", c, Candidates::all(shop.n), expected_means);
        REQUIRE(core.pruning_bounds("prune", c, Candidates::all(shop.n), means, bounds, 1.5f));
        std::size_t violations = 0, mismatched_means = 0;
        double slack = 0.0;
        for (std::size_t i = 0; i < shop.n; ++i) {
          violations += bounds[i] >= scores[i] ? 0 : 1;
          mismatched_means += std::bit_cast<std::uint32_t>(means[i]) == std::bit_cast<std::uint32_t>(expected_means[i]) ? 0 : 1;
          slack = std::max(slack, static_cast<double>(bounds[i]) - static_cast<double>(scores[i]));
        }
        CHECK(violations == 0);
        CHECK(mismatched_means == 0);
        CHECK(std::isfinite(slack));
      }
    }
  }
  // Disjoint mode has no shared bound.
  marl_rec::detail::LinearBanditCore disjoint("LinUcb", {.mode = marl_rec::LinearMode::disjoint,
                                                         .features = FeatureMap::item});
  Shop shop(rng, 10, 0, 3, true);
  disjoint.update("update", shop.context(0), 1, 1.0);
  std::vector<float> means(shop.n), bounds(shop.n);
  CHECK_FALSE(disjoint.pruning_bounds("prune", for_map(FeatureMap::item, shop.context(0)), Candidates::all(shop.n),
                                      means, bounds, 1.0f));
}

TEST_CASE("LinearBanditCore: the λmax certificate is an upper bound, close to λmax") {
  Rng rng(19);
  marl_rec::detail::LinearScratch scratch;
  for (const std::size_t d : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{33}}) {
    // M = QΛQᵀ from a random orthogonal-ish basis (Gram–Schmidt) and chosen eigenvalues.
    std::vector<double> q(d * d);
    for (double& v : q) v = rng.normal();
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        double dot = 0.0;
        for (std::size_t l = 0; l < d; ++l) dot += q[i * d + l] * q[j * d + l];
        for (std::size_t l = 0; l < d; ++l) q[i * d + l] -= dot * q[j * d + l];
      }
      double norm = 0.0;
      for (std::size_t l = 0; l < d; ++l) norm += q[i * d + l] * q[i * d + l];
      for (std::size_t l = 0; l < d; ++l) q[i * d + l] /= std::sqrt(norm);
    }
    std::vector<double> lambda(d);
    for (std::size_t i = 0; i < d; ++i) lambda[i] = 0.01 + std::pow(0.8, static_cast<double>(i));
    if (d > 1) lambda[1] = lambda[0] * 0.999;  // a clustered top
    std::vector<float> m(d * d);
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j <= i; ++j) {
        double s = 0.0;
        for (std::size_t l = 0; l < d; ++l) s += q[l * d + i] * lambda[l] * q[l * d + j];
        m[i * d + j] = m[j * d + i] = static_cast<float>(s);
      }
    }
    // The float matrix's own λmax (Jacobi-free check: Rayleigh quotients of the float M bound it
    // from below; the true λmax of the float M is within float rounding of lambda[0]).
    double gershgorin = 0.0;
    for (std::size_t i = 0; i < d; ++i) {
      double s = 0.0;
      for (std::size_t j = 0; j < d; ++j) s += std::abs(static_cast<double>(m[i * d + j]));
      gershgorin = std::max(gershgorin, s);
    }
    const double bound = marl_rec::detail::largest_eigenvalue_bound(m, d, gershgorin * (1 + 1e-9), scratch);
    CAPTURE(d);
    // The float matrix's own λmax, in double (Eigen's error, ~1e-15 relative, is far inside the
    // certificate's margins): the bound may not be below it at all.
    Eigen::MatrixXd md(d, d);
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j < d; ++j) {
        md(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = static_cast<double>(m[i * d + j]);
      }
    }
    const double float_lambda_max = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(md, Eigen::EigenvaluesOnly).eigenvalues().maxCoeff();
    CHECK(bound >= float_lambda_max);
    CHECK(bound <= gershgorin * (1 + 1e-9));
    CHECK(bound <= lambda[0] * 1.1);  // certified near the top, not Gershgorin's
    // The Rayleigh quotient of the top eigenvector of the float matrix never exceeds the bound.
    double num = 0.0;
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j < d; ++j) num += q[i] * static_cast<double>(m[i * d + j]) * q[j];
    }
    CHECK(num <= bound);
  }
}

TEST_CASE("Ucb chooses through upper_bound_top_k exactly as through upper_bound") {
  // A model with upper_bound only: Ucb's full path.
  struct BoundsOnly {
    const LinUcb* model;
    void score(const Context& c, Candidates candidates, std::span<float> s) const { model->score(c, candidates, s); }
    void upper_bound(const Context& c, Candidates candidates, std::span<float> s) const {
      model->upper_bound(c, candidates, s);
    }
    void update(const Context&, std::size_t, double) {}
    void save(std::ostream&) const {}
    void load(std::istream&) {}
    std::string_view name() const { return "bounds_only"; }
  };
  static_assert(marl_rec::UncertainModel<BoundsOnly> && !marl_rec::TopKUncertainModel<BoundsOnly>);
  static_assert(marl_rec::TopKUncertainModel<marl_rec::Shared<LinUcb>, ExcludeBitset>);

  Rng rng(23);
  const Shop shop(rng, 3000, 5, 6, true);
  LinUcb model({.features = FeatureMap::concat, .alpha = 0.8f});
  train(model, shop, 300, rng);
  const marl_rec::Shared<LinUcb> shared(model);
  ItemBitset excluded_items(shop.n);
  for (std::size_t i = 0; i < shop.n; i += 3) excluded_items.insert(i);
  marl_rec::Ucb explorer;
  marl_rec::Decision pruned, full, through_shared;
  for (const std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{10}, std::size_t{100}}) {
    const Context c = shop.context(k);
    explorer.choose(model, c, Candidates::all(shop.n), k, excluded_items.view(), pruned);
    CHECK(exact_bonuses() < (k == 0 ? 1 : shop.n));
    explorer.choose(BoundsOnly{&model}, c, Candidates::all(shop.n), k, excluded_items.view(), full);
    explorer.choose(shared, c, Candidates::all(shop.n), k, excluded_items.view(), through_shared);
    CHECK(pruned.items.size() == std::min<std::size_t>(k, shop.n));
    CHECK(pruned.items == full.items);
    CHECK(pruned.scores == full.scores);
    CHECK(pruned.propensities == full.propensities);
    CHECK(through_shared.items == full.items);
    CHECK(through_shared.scores == full.scores);
  }
}

TEST_CASE("LinUcb::upper_bound_top_k: errors") {
  Rng rng(29);
  const Shop shop(rng, 300, 4, 5, true);
  LinUcb model({.features = FeatureMap::concat});
  train(model, shop, 20, rng);
  std::vector<ScoredItem> out(3);
  const Context c = shop.context(0);
  CHECK(error_of([&] { (void)model.upper_bound_top_k(c, Candidates::all(shop.n), 4, NoExclusion{}, out); }) ==
        "LinUcb::upper_bound_top_k: out has room for 3 elements, 4 are needed");
  const std::vector<float> wrong_x(5);
  CHECK(error_of([&] {
          (void)model.upper_bound_top_k({.features = wrong_x, .items = shop.view()}, Candidates::all(shop.n), 3,
                                        NoExclusion{}, out);
        }) == "LinUcb::upper_bound_top_k: the context has 5 features, the model was sized for 4");
  const std::vector<std::size_t> outside = {1, shop.n};
  CHECK(error_of([&] { (void)model.upper_bound_top_k(c, Candidates(outside), 2, NoExclusion{}, out); }) ==
        "LinUcb::upper_bound_top_k: item index 300 is outside the items matrix (300 rows)");
}
