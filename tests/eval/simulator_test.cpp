#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "marl_rec/core/rng.hpp"
#include "marl_rec/eval/simulator.hpp"
#include "marl_rec/simd/kernels.hpp"

namespace mr = marl_rec;
using mr::eval::PageOutcome;
using mr::eval::SimulationLog;
using mr::eval::Simulator;
using mr::eval::SimulatorConfig;

namespace {

// A world whose users do not change (no fatigue, no satisfaction drift): every page of a user
// has the same probabilities however often it is shown, so frequencies can be compared to them.
SimulatorConfig frozen(std::uint64_t seed) {
  return {.users = 100,
          .items = 200,
          .fatigue_growth = 0.0,
          .satisfaction_click_gain = 0.0,
          .satisfaction_purchase_gain = 0.0,
          .satisfaction_ignore_loss = 0.0,
          .seed = seed};
}

// `n` distinct items drawn with `rng`.
std::vector<std::size_t> random_page(const Simulator& sim, mr::Rng& rng, std::size_t n) {
  std::vector<std::size_t> page;
  while (page.size() < n) {
    const auto i = static_cast<std::size_t>(rng.below(sim.items()));
    if (std::find(page.begin(), page.end(), i) == page.end()) page.push_back(i);
  }
  return page;
}

// The user's items of highest affinity, skipping any that is a near-duplicate of one taken.
std::vector<std::size_t> diverse_page(const Simulator& sim, std::size_t user, std::size_t n) {
  std::vector<std::size_t> page;
  for (const std::size_t i : sim.top_by_affinity(user, sim.items())) {
    bool fits = true;
    for (const std::size_t j : page) fits = fits && !sim.near_duplicates(i, j);
    if (fits) page.push_back(i);
    if (page.size() == n) break;
  }
  return page;
}

// The user's favourite item followed by the n − 1 items whose vectors are closest to it.
std::vector<std::size_t> copies_page(const Simulator& sim, std::size_t user, std::size_t n) {
  const std::size_t favourite = sim.top_by_affinity(user, 1)[0];
  std::vector<mr::ScoredItem> scored;
  for (std::size_t i = 0; i < sim.items(); ++i) {
    scored.push_back(
        {i, i == favourite ? 2.0f : mr::simd::dot(sim.catalog().vector(favourite), sim.catalog().vector(i))});
  }
  std::sort(scored.begin(), scored.end(), mr::ranks_before);
  std::vector<std::size_t> page;
  for (std::size_t k = 0; k < n; ++k) page.push_back(scored[k].index);
  return page;
}

double sum(const std::vector<double>& v) {
  double s = 0.0;
  for (const double x : v) s += x;
  return s;
}

double cosine(std::span<const float> a, std::span<const float> b) {
  return mr::simd::dot(a, b) / std::sqrt(mr::simd::dot(a, a) * mr::simd::dot(b, b));
}

}  // namespace

TEST_CASE("Simulator: the world: a catalog clustered by category, users with latent and observable vectors") {
  const Simulator sim;
  const mr::Catalog& catalog = sim.catalog();
  REQUIRE(catalog.size() == 500);
  CHECK(catalog.dim() == 16);
  CHECK(sim.users() == 1000);
  std::set<std::string> providers;
  std::vector<std::size_t> per_category(10, 0);
  double same = 0.0, other = 0.0;
  std::size_t same_n = 0, other_n = 0;
  for (std::size_t i = 0; i < catalog.size(); ++i) {
    const mr::ItemAttributes& a = catalog.attributes(i);
    CHECK(catalog.id(i) == marl_rec::numbered_id("item", i));
    CHECK(a.price > 0.0f);
    CHECK(static_cast<double>(a.price) == sim.price(i));
    CHECK(a.category == "category " + std::to_string(sim.category(i)));
    ++per_category[sim.category(i)];
    providers.insert(a.provider);
    CHECK(std::fabs(mr::simd::dot(catalog.vector(i), catalog.vector(i)) - 1.0f) < 1e-5f);
    for (std::size_t j = i + 1; j < catalog.size(); j += 7) {
      const double c = mr::simd::dot(catalog.vector(i), catalog.vector(j));
      (sim.category(i) == sim.category(j) ? same : other) += c;
      ++(sim.category(i) == sim.category(j) ? same_n : other_n);
    }
  }
  CHECK(providers.size() == 20);
  for (const std::size_t n : per_category) CHECK(n >= 20);
  // Clustered: items of one category are far more alike than items of different ones.
  CHECK(same / double(same_n) > 0.7);
  CHECK(std::fabs(other / double(other_n)) < 0.2);

  double latent_vs_features = 0.0;
  for (std::size_t u = 0; u < sim.users(); ++u) {
    CHECK(std::fabs(mr::simd::dot(sim.latent(u), sim.latent(u)) - 1.0f) < 1e-5f);
    latent_vs_features += cosine(sim.latent(u), sim.features(u));
    CHECK(sim.satisfaction(u) == 0.5);
  }
  latent_vs_features /= double(sim.users());
  // A noisy view of the truth, not the truth.
  CHECK(latent_vs_features < 0.99);
  CHECK(latent_vs_features > 0.9);
  CHECK(sim.latent_matrix().rows() == 1000);
  CHECK(sim.feature_matrix().cols() == 16);
  CHECK(sim.affinity(3, 7) == doctest::Approx(mr::simd::dot(sim.latent(3), catalog.vector(7))).epsilon(1e-6));
}

TEST_CASE("Simulator: same config and calls, same everything, another seed, another world") {
  const SimulatorConfig config{.users = 200, .items = 120, .seed = 7};
  Simulator a(config), b(config);
  SimulationLog log_a(a), log_b(b);
  mr::Rng pages_a(1), pages_b(1);
  PageOutcome out_b;
  for (int step = 0; step < 400; ++step) {
    const std::size_t ua = a.next_user(), ub = b.next_user();
    REQUIRE(ua == ub);
    const auto slate = random_page(a, pages_a, std::size_t(step % 9));
    REQUIRE(slate == random_page(b, pages_b, std::size_t(step % 9)));
    const std::vector<double> propensities(slate.size(), 0.5);
    const PageOutcome out_a = a.show(ua, slate);
    b.show(ub, slate, out_b);  // the reusing form gives the same outcomes
    REQUIRE(out_a == out_b);
    log_a.record(ua, slate, propensities, out_a);
    log_b.record(ub, slate, propensities, out_b);
    if (step % 100 == 0) CHECK(a.make_groups(3, 4, step % 200 == 0) == b.make_groups(3, 4, step % 200 == 0));
  }
  CHECK(log_a.decisions() == log_b.decisions());
  CHECK(std::equal(log_a.context_matrix().data(), log_a.context_matrix().data() + 400 * 16,
                   log_b.context_matrix().data()));
  for (std::size_t u = 0; u < a.users(); ++u) CHECK(a.satisfaction(u) == b.satisfaction(u));

  Simulator c({.users = 200, .items = 120, .seed = 8});
  CHECK_FALSE(
      std::equal(a.catalog().vector(0).begin(), a.catalog().vector(0).end(), c.catalog().vector(0).begin()));
  CHECK(a.price(0) != c.price(0));
  // Same calls on the new world: different users arrive and different pages are clicked.
  Simulator a2(config);
  int same_user = 0, same_click = 0;
  mr::Rng pages(2);
  for (int step = 0; step < 200; ++step) {
    same_user += a2.next_user() == c.next_user();
    const auto slate = random_page(a2, pages, 8);
    same_click += a2.show(0, slate).clicked_slot == c.show(0, slate).clicked_slot;
  }
  CHECK(same_user < 20);
  CHECK(same_click < 180);
}

TEST_CASE("Simulator: click frequencies match the reported click probabilities") {
  Simulator sim(frozen(3));
  mr::Rng rng(5);
  for (const std::size_t user : {std::size_t{0}, std::size_t{1}}) {
    const auto page = user == 0 ? diverse_page(sim, user, 8) : random_page(sim, rng, 8);
    const std::vector<double> p = sim.click_probabilities(user, page);
    REQUIRE(p.size() == 8);
    constexpr int n = 20000;
    std::vector<int> clicks(8, 0);
    int none = 0;
    PageOutcome out;
    for (int t = 0; t < n; ++t) {
      sim.show(user, page, out);
      REQUIRE(out.click_probabilities == p);  // a frozen user: the same model every time
      if (out.clicked()) {
        REQUIRE(out.clicked_item == page[out.clicked_slot]);
        ++clicks[out.clicked_slot];
      } else {
        ++none;
      }
    }
    // Binomial tolerance: 4.5 standard deviations (fixed seed, so this is a fixed check).
    for (std::size_t k = 0; k < 8; ++k) {
      CHECK(std::fabs(clicks[k] - n * p[k]) < 4.5 * std::sqrt(n * p[k] * (1 - p[k])) + 1);
    }
    const double p_none = 1.0 - sum(p);
    CHECK(std::fabs(none - n * p_none) < 4.5 * std::sqrt(n * p_none * (1 - p_none)));
  }

  // With fatigue and satisfaction changing every page, the reported probabilities still are the
  // ones clicks are drawn with: the click count stays within a few deviations of their sum.
  Simulator moving({.users = 50, .items = 100, .seed = 11});
  double expected = 0.0, variance = 0.0, reward = 0.0, expected_reward = 0.0, reward_variance = 0.0;
  int clicks = 0;
  for (int t = 0; t < 20000; ++t) {
    const std::size_t user = moving.next_user();
    const auto page = t % 2 == 0 ? moving.top_by_affinity(user, 6) : random_page(moving, rng, 6);
    const PageOutcome out = moving.show(user, page);
    const double p = sum(out.click_probabilities);
    expected += p;
    variance += p * (1 - p);
    clicks += out.clicked() ? 1 : 0;
    reward += out.reward;
    expected_reward += out.expected_reward;
    reward_variance += 4.0 * p;  // reward ≤ 2: Var ≤ E[reward²] ≤ 2 · E[reward] ≤ 4 · p
  }
  CHECK(std::fabs(clicks - expected) < 4.5 * std::sqrt(variance));
  CHECK(std::fabs(reward - expected_reward) < 4.5 * std::sqrt(reward_variance));
}

TEST_CASE("Simulator: the model's equations, on a fresh user") {
  const Simulator sim(frozen(4));
  const SimulatorConfig& c = sim.config();
  const std::size_t user = 9;
  const auto page = diverse_page(sim, user, 2);
  const std::size_t x = page[0], y = page[1];
  // One item: P(click) = e^u / (e^u0 + e^u), u = affinity_scale · affinity, u0 = no_click_utility.
  const double u = c.affinity_scale * sim.affinity(user, x);
  const double p1 = std::exp(u) / (std::exp(c.no_click_utility) + std::exp(u));
  CHECK(sim.click_probabilities(user, std::vector<std::size_t>{x})[0] == doctest::Approx(p1).epsilon(1e-12));
  // Expected reward = P(click) · (1 + purchase_bonus · P(buy)), with P(buy) = purchase_rate ·
  // exp(−σ · price / price_mean): the user's σ cancels out of a ratio of logs.
  const double buy = sim.purchase_probability(user, x);
  CHECK(sim.expected_reward(user, std::vector<std::size_t>{x}) ==
        doctest::Approx(p1 * (1.0 + c.purchase_bonus * buy)).epsilon(1e-12));
  CHECK(std::log(buy / c.purchase_rate) / std::log(sim.purchase_probability(user, y) / c.purchase_rate) ==
        doctest::Approx(sim.price(x) / sim.price(y)).epsilon(1e-12));
  // Position bias: swapping two items multiplies the odds of the first against the second by
  // position_decay² (the no-click option and the other terms cancel).
  const auto xy = sim.click_probabilities(user, std::vector<std::size_t>{x, y});
  const auto yx = sim.click_probabilities(user, std::vector<std::size_t>{y, x});
  CHECK((xy[0] / xy[1]) / (yx[1] / yx[0]) ==
        doctest::Approx(1.0 / (c.position_decay * c.position_decay)).epsilon(1e-12));
}

TEST_CASE("Simulator: position bias: the same item gets more clicks in slot 0 than in slot 5") {
  Simulator sim(frozen(6));
  const std::size_t user = 2;
  const auto items = diverse_page(sim, user, 6);
  std::vector<std::size_t> first = items;  // favourite in slot 0
  std::vector<std::size_t> last(items.begin() + 1, items.end());
  last.push_back(items[0]);  // favourite in slot 5
  const double p_first = sim.click_probabilities(user, first)[0];
  const double p_last = sim.click_probabilities(user, last)[5];
  CHECK(p_first > 1.5 * p_last);
  constexpr int n = 10000;
  int clicks_first = 0, clicks_last = 0;
  for (int t = 0; t < n; ++t) {
    clicks_first += sim.show(user, first).clicked_slot == 0;
    clicks_last += sim.show(user, last).clicked_slot == 5;
  }
  CHECK(clicks_first > clicks_last + 500);
  CHECK(std::fabs(clicks_first - n * p_first) < 4.5 * std::sqrt(n * p_first * (1 - p_first)));
  CHECK(std::fabs(clicks_last - n * p_last) < 4.5 * std::sqrt(n * p_last * (1 - p_last)));
}

TEST_CASE("Simulator: near-duplicates on one page lower each other's utility") {
  const Simulator sim(frozen(8));
  const SimulatorConfig& c = sim.config();
  const std::size_t user = 4;
  // Exactly: a near-duplicate beside an item multiplies its odds against no click by
  // exp(−duplicate_penalty); an item that is not one changes nothing.
  const auto copies = copies_page(sim, user, 2);
  const std::size_t x = copies[0], twin = copies[1];
  REQUIRE(sim.near_duplicates(x, twin));
  REQUIRE(sim.near_duplicates(x, x));
  std::size_t stranger = 0;
  while (sim.near_duplicates(x, stranger)) ++stranger;
  const auto odds = [&](std::size_t other) {
    const auto p = sim.click_probabilities(user, std::vector<std::size_t>{x, other});
    return p[0] / (1.0 - p[0] - p[1]);
  };
  const double alone = sim.click_probabilities(user, std::vector<std::size_t>{x})[0];
  CHECK(odds(stranger) == doctest::Approx(alone / (1.0 - alone)).epsilon(1e-12));
  CHECK(odds(twin) == doctest::Approx(odds(stranger) * std::exp(-c.duplicate_penalty)).epsilon(1e-12));

  // A page of 8 copies of the favourite is worth less than 8 diverse high-affinity items.
  const Simulator world;
  int diverse_wins = 0, copies_are_duplicates = 0;
  for (std::size_t u = 0; u < 50; ++u) {
    const auto dup = copies_page(world, u, 8);
    const auto div = diverse_page(world, u, 8);
    REQUIRE(div.size() == 8);
    for (std::size_t k = 1; k < 8; ++k) copies_are_duplicates += world.near_duplicates(dup[0], dup[k]);
    diverse_wins += world.expected_reward(u, div) > world.expected_reward(u, dup);
  }
  CHECK(copies_are_duplicates > 300);  // of 350: near-duplicates exist in the default catalog
  CHECK(diverse_wins >= 48);
}

TEST_CASE("Simulator: fatigue: a category shown again and again is clicked less, and recovers") {
  SimulatorConfig config = frozen(9);
  config.fatigue_growth = 0.05;  // fatigue on, satisfaction still frozen
  Simulator sim(config);
  const std::size_t user = 5;
  const std::size_t x = sim.top_by_affinity(user, 1)[0];
  const std::size_t cat = sim.category(x);
  std::vector<std::size_t> same_category;
  for (std::size_t i = 0; i < sim.items() && same_category.size() < 8; ++i) {
    if (sim.category(i) == cat && i != x) same_category.push_back(i);
  }
  REQUIRE(same_category.size() == 8);
  std::size_t other = 0;
  while (sim.category(other) == cat) ++other;
  const std::vector<std::size_t> probe{x}, probe_other{other};
  const double before = sim.click_probabilities(user, probe)[0];
  const double other_before = sim.click_probabilities(user, probe_other)[0];

  double f = 0.0;
  for (int t = 0; t < 10; ++t) {
    sim.show(user, same_category);
    f = config.fatigue_retention * f + 8 * config.fatigue_growth;
    CHECK(sim.fatigue(user, cat) == doctest::Approx(f).epsilon(1e-12));
  }
  const double tired = sim.click_probabilities(user, probe)[0];
  CHECK(tired < 0.4 * before);
  CHECK(sim.click_probabilities(user, probe_other)[0] == doctest::Approx(other_before).epsilon(1e-12));
  CHECK(sim.fatigue(user, sim.category(other)) == 0.0);
  CHECK(sim.fatigue(7, cat) == 0.0);  // other users are not tired

  // Time passes (pages without the category): fatigue decays by fatigue_retention per page.
  for (int t = 0; t < 25; ++t) sim.show(user, std::vector<std::size_t>{});
  CHECK(sim.fatigue(user, cat) == doctest::Approx(f * std::pow(config.fatigue_retention, 25)).epsilon(1e-9));
  CHECK(sim.click_probabilities(user, probe)[0] == doctest::Approx(before).epsilon(0.01));

  // Also with the default dynamics: the odds of the tired category against another item on one
  // page fall (satisfaction moves the no-click option only, so it cancels out of the odds).
  Simulator moving({.users = 20, .items = 200, .seed = 9});
  const std::vector<std::size_t> pair{x, other};
  const auto ratio = [&] {
    const auto p = moving.click_probabilities(user, pair);
    return p[0] / p[1];
  };
  const double fresh = ratio();
  for (int t = 0; t < 10; ++t) moving.show(user, same_category);
  CHECK(ratio() < 0.4 * fresh);
  for (int t = 0; t < 25; ++t) moving.show(user, std::vector<std::size_t>{other});
  const double gap = moving.fatigue(user, cat) - moving.fatigue(user, moving.category(other));
  CHECK(ratio() == doctest::Approx(fresh * std::exp(-moving.config().fatigue_weight * gap)).epsilon(1e-9));
  CHECK(ratio() > 0.97 * fresh);
}

TEST_CASE("Simulator: satisfaction follows clicks and ignored pages, and brings users back") {
  // Fatigue off: a page shown 40 times would otherwise tire its user (tested above).
  Simulator sim({.users = 40, .items = 200, .fatigue_growth = 0.0, .seed = 12});
  const SimulatorConfig& c = sim.config();
  const std::size_t happy = 3, unhappy = 4;
  const auto good = diverse_page(sim, happy, 8);
  auto worst = sim.top_by_affinity(unhappy, sim.items());
  const std::vector<std::size_t> bad(worst.end() - 8, worst.end());
  for (int t = 0; t < 40; ++t) {
    for (const auto& [user, page] : {std::pair{happy, &good}, std::pair{unhappy, &bad}}) {
      const double s = sim.satisfaction(user);
      const PageOutcome out = sim.show(user, *page);
      double want = s;
      if (out.clicked()) {
        want += c.satisfaction_click_gain * (1 - want);
        if (out.purchased) want += c.satisfaction_purchase_gain * (1 - want);
      } else {
        want -= c.satisfaction_ignore_loss * want;
      }
      CHECK(sim.satisfaction(user) == doctest::Approx(want).epsilon(1e-12));
    }
  }
  const double s_happy = sim.satisfaction(happy);
  sim.show(happy, std::vector<std::size_t>{});  // an empty page is not an ignored page
  CHECK(sim.satisfaction(happy) == s_happy);
  CHECK(s_happy > 0.7);
  CHECK(sim.satisfaction(unhappy) < 0.25);

  // Satisfaction lowers the utility of not clicking ...
  const std::size_t x = good[0];
  const double u =
      c.affinity_scale * sim.affinity(happy, x) - c.fatigue_weight * sim.fatigue(happy, sim.category(x));
  const double u0 = c.no_click_utility + c.satisfaction_weight * (c.initial_satisfaction - s_happy);
  CHECK(sim.click_probabilities(happy, std::vector<std::size_t>{x})[0] ==
        doctest::Approx(std::exp(u) / (std::exp(u0) + std::exp(u))).epsilon(1e-12));

  // ... and arrivals are proportional to the return probability.
  CHECK(sim.return_probability(happy) == doctest::Approx(c.return_floor + (1 - c.return_floor) * s_happy));
  double total = 0.0;
  for (std::size_t user = 0; user < sim.users(); ++user) total += sim.return_probability(user);
  constexpr int n = 100000;
  std::vector<int> arrivals(sim.users(), 0);
  for (int t = 0; t < n; ++t) ++arrivals[sim.next_user()];
  for (const std::size_t user : {happy, unhappy, std::size_t{0}}) {
    const double p = sim.return_probability(user) / total;
    CHECK(std::fabs(arrivals[user] - n * p) < 4.5 * std::sqrt(n * p * (1 - p)));
  }
  CHECK(arrivals[happy] > 2 * arrivals[unhappy]);
}

TEST_CASE("Simulator: purchases only after clicks, revenue is the price, reward is click + bonus") {
  Simulator sim({.users = 100, .items = 200, .seed = 13});
  const double bonus = sim.config().purchase_bonus;
  int clicks = 0, purchases = 0;
  double expected_purchases = 0.0, variance = 0.0;
  PageOutcome out;
  for (int t = 0; t < 20000; ++t) {
    const std::size_t user = sim.next_user();
    const auto page = diverse_page(sim, user, 4);
    const auto p = sim.click_probabilities(user, page);
    const double expected = sim.expected_reward(user, page);
    sim.show(user, page, out);
    REQUIRE(out.click_probabilities == p);  // the exact model probabilities of the state shown in
    REQUIRE(out.expected_reward == expected);
    if (!out.clicked()) {
      REQUIRE(out.clicked_item == PageOutcome::no_click);
      REQUIRE_FALSE(out.purchased);
      REQUIRE(out.revenue == 0.0);
      REQUIRE(out.reward == 0.0);
      continue;
    }
    ++clicks;
    const double buy = sim.purchase_probability(user, out.clicked_item);
    expected_purchases += buy;
    variance += buy * (1 - buy);
    if (out.purchased) {
      ++purchases;
      REQUIRE(out.revenue == sim.price(out.clicked_item));
      REQUIRE(out.revenue == static_cast<double>(sim.catalog().attributes(out.clicked_item).price));
      REQUIRE(out.reward == 1.0 + bonus);
    } else {
      REQUIRE(out.revenue == 0.0);
      REQUIRE(out.reward == 1.0);
    }
  }
  CHECK(clicks > 3000);
  CHECK(purchases > 300);
  CHECK(std::fabs(purchases - expected_purchases) < 4.5 * std::sqrt(variance));
  // Dearer items sell less to the same user.
  std::size_t cheap = 0, dear = 0;
  for (std::size_t i = 0; i < sim.items(); ++i) {
    if (sim.price(i) < sim.price(cheap)) cheap = i;
    if (sim.price(i) > sim.price(dear)) dear = i;
  }
  CHECK(sim.purchase_probability(0, cheap) > sim.purchase_probability(0, dear));
}

TEST_CASE("Simulator: ground truth helpers") {
  Simulator sim({.users = 30, .items = 150, .seed = 14});
  const std::size_t user = 6;
  const auto top = sim.top_by_affinity(user, 10);
  REQUIRE(top.size() == 10);
  for (std::size_t k = 1; k < top.size(); ++k) {
    CHECK(sim.affinity(user, top[k - 1]) >= sim.affinity(user, top[k]));
  }
  for (std::size_t i = 0; i < sim.items(); ++i) {
    if (std::find(top.begin(), top.end(), i) == top.end()) {
      CHECK(sim.affinity(user, i) <= sim.affinity(user, top[9]));
    }
  }
  CHECK(sim.top_by_affinity(user, 1000).size() == 150);
  CHECK(sim.top_by_affinity(user, 0).empty());

  // best_item: the one-slot page of highest expected reward, now (fatigue included).
  const auto best_single = [&] {
    std::size_t best = 0;
    for (std::size_t i = 1; i < sim.items(); ++i) {
      if (sim.expected_reward(user, std::vector<std::size_t>{i}) >
          sim.expected_reward(user, std::vector<std::size_t>{best})) {
        best = i;
      }
    }
    return best;
  };
  const std::size_t best = sim.best_item(user);
  CHECK(best == best_single());
  std::vector<std::size_t> tiring;  // make the best item's category tiresome: the answer follows
  for (std::size_t i = 0; i < sim.items() && tiring.size() < 8; ++i) {
    if (sim.category(i) == sim.category(best)) tiring.push_back(i);
  }
  for (int t = 0; t < 10; ++t) sim.show(user, tiring);
  CHECK(sim.category(sim.best_item(user)) != sim.category(best));
  CHECK(sim.best_item(user) == best_single());
}

TEST_CASE("Simulator: groups of users, random or similar") {
  Simulator sim({.users = 300, .items = 100, .seed = 15});
  for (const bool similar : {false, true}) {
    const auto groups = sim.make_groups(40, 5, similar);
    REQUIRE(groups.size() == 40);
    for (const auto& g : groups) {
      REQUIRE(g.size() == 5);
      CHECK(std::set<std::size_t>(g.begin(), g.end()).size() == 5);
      for (const std::size_t u : g) CHECK(u < sim.users());
      if (similar) {  // a seed user, then its neighbours closest first
        for (std::size_t k = 2; k < g.size(); ++k) {
          CHECK(mr::simd::dot(sim.latent(g[0]), sim.latent(g[k - 1])) >=
                mr::simd::dot(sim.latent(g[0]), sim.latent(g[k])));
        }
      }
    }
  }
  const auto mean_similarity = [&](const std::vector<std::vector<std::size_t>>& groups) {
    double s = 0.0;
    int n = 0;
    for (const auto& g : groups) {
      for (std::size_t a = 0; a < g.size(); ++a) {
        for (std::size_t b = a + 1; b < g.size(); ++b, ++n) s += cosine(sim.latent(g[a]), sim.latent(g[b]));
      }
    }
    return s / n;
  };
  const double random = mean_similarity(sim.make_groups(50, 6, false));
  const double similar = mean_similarity(sim.make_groups(50, 6, true));
  CHECK(similar > random + 0.3);
  CHECK(similar > 0.7);
  CHECK(sim.make_groups(0, 3, true).empty());
  CHECK(sim.make_groups(1, 300, false)[0].size() == 300);
  CHECK_THROWS_WITH_AS(sim.make_groups(1, 0, false),
                       "Simulator::make_groups: size must be in [1, 300], got 0", mr::Error);
  CHECK_THROWS_AS(sim.make_groups(1, 301, true), mr::Error);
}

TEST_CASE("Simulator: bad configs and bad pages are refused with clear errors") {
  CHECK_THROWS_WITH_AS(Simulator({.users = 0}), "SimulatorConfig: users must be at least 1", mr::Error);
  CHECK_THROWS_WITH_AS(Simulator({.dim = 0}), "SimulatorConfig: dim must be at least 1", mr::Error);
  CHECK_THROWS_WITH_AS(Simulator({.position_decay = 1.5}),
                       "SimulatorConfig: position_decay must be in (0, 1], got 1.5", mr::Error);
  CHECK_THROWS_WITH_AS(Simulator({.position_decay = 0.0}),
                       "SimulatorConfig: position_decay must be in (0, 1], got 0", mr::Error);
  CHECK_THROWS_WITH_AS(Simulator({.duplicate_penalty = -0.5}),
                       "SimulatorConfig: duplicate_penalty must be in [0, inf], got -0.5", mr::Error);
  CHECK_THROWS_AS(Simulator({.no_click_utility = std::nan("")}), mr::Error);
  CHECK_THROWS_AS(Simulator({.duplicate_similarity = 1.1}), mr::Error);
  CHECK_THROWS_AS(Simulator({.fatigue_retention = 2.0}), mr::Error);
  CHECK_THROWS_AS(Simulator({.return_floor = 0.0}), mr::Error);
  CHECK_THROWS_AS(Simulator({.price_mean = 0.0}), mr::Error);
  CHECK_THROWS_AS(Simulator({.purchase_rate = -0.1}), mr::Error);
  CHECK_THROWS_AS(Simulator({.purchase_bonus = HUGE_VAL}), mr::Error);
  CHECK_NOTHROW(Simulator({.users = 1, .items = 1, .dim = 1, .categories = 1, .providers = 1}));

  Simulator sim({.users = 10, .items = 20, .seed = 16});
  const std::vector<std::size_t> unknown{3, 20}, twice{3, 5, 3};
  CHECK_THROWS_WITH_AS(sim.show(0, unknown), "Simulator::show: slot 1 holds item 20, out of range (20 items)",
                       mr::Error);
  CHECK_THROWS_WITH_AS(sim.show(0, twice), "Simulator::show: item 3 is in slots 0 and 2", mr::Error);
  CHECK_THROWS_WITH_AS(sim.show(10, std::vector<std::size_t>{1}),
                       "Simulator::show: user 10 out of range (10 users)", mr::Error);
  CHECK_THROWS_AS(sim.expected_reward(0, twice), mr::Error);
  CHECK_THROWS_AS(sim.click_probabilities(0, unknown), mr::Error);
  CHECK_THROWS_AS(sim.affinity(0, 20), mr::Error);
  CHECK_THROWS_WITH_AS(sim.fatigue(0, 10), "Simulator::fatigue: category 10 out of range (10 categories)",
                       mr::Error);
  CHECK(sim.pages_shown() == 0);  // refused pages change nothing

  const PageOutcome empty = sim.show(0, std::vector<std::size_t>{});
  CHECK_FALSE(empty.clicked());
  CHECK(empty.click_probabilities.empty());
  CHECK(empty.reward == 0.0);
  CHECK(empty.expected_reward == 0.0);
  CHECK(sim.expected_reward(0, std::vector<std::size_t>{}) == 0.0);
  CHECK(sim.pages_shown() == 1);
}

TEST_CASE("SimulationLog: one decision per shown slot, with the page's features as context") {
  Simulator sim({.users = 50, .items = 100, .seed = 17});
  SimulationLog log(sim);
  mr::Rng rng(3);
  std::vector<std::vector<std::size_t>> slates;
  std::vector<std::size_t> users;
  std::vector<PageOutcome> outcomes;
  for (int t = 0; t < 200; ++t) {
    const std::size_t user = sim.next_user();
    const auto slate = random_page(sim, rng, std::size_t(t % 5));
    std::vector<double> propensities;
    for (std::size_t k = 0; k < slate.size(); ++k) propensities.push_back(1.0 / double(k + 2));
    const PageOutcome out = sim.show(user, slate);
    log.record(user, slate, propensities, out);
    slates.push_back(slate);
    users.push_back(user);
    outcomes.push_back(out);
  }
  REQUIRE(log.pages() == 200);
  REQUIRE(log.context_matrix().rows() == 200);
  REQUIRE(log.context_matrix().cols() == 16);
  std::size_t d = 0;
  for (std::size_t page = 0; page < 200; ++page) {
    CHECK(log.context_users()[page] == users[page]);
    const auto row = log.context_matrix().row(page);
    CHECK(std::equal(row.begin(), row.end(), sim.features(users[page]).begin()));
    for (std::size_t k = 0; k < slates[page].size(); ++k, ++d) {
      REQUIRE(d < log.decisions().size());
      const mr::LoggedDecision& decision = log.decisions()[d];
      CHECK(decision.context == page);
      CHECK(decision.action == slates[page][k]);
      CHECK(decision.position == k);
      CHECK(decision.reward == (outcomes[page].clicked_slot == k ? 1.0 : 0.0));
      CHECK(decision.propensity == 1.0 / double(k + 2));
    }
  }
  CHECK(d == log.decisions().size());

  const std::vector<std::size_t> slate{1, 2};
  const PageOutcome out = sim.show(0, slate);
  CHECK_THROWS_WITH_AS(log.record(0, slate, std::vector<double>{0.5}, out),
                       "SimulationLog::record: the slate has 2 items but propensities has 1", mr::Error);
  CHECK_THROWS_WITH_AS(log.record(0, slate, std::vector<double>{0.5, 0.0}, out),
                       "SimulationLog::record: propensity of slot 1 must be in (0, 1], got 0", mr::Error);
  CHECK_THROWS_AS(log.record(0, slate, std::vector<double>{1.5, 0.5}, out), mr::Error);
  CHECK_THROWS_AS(log.record(0, slate, std::vector<double>{std::nan(""), 0.5}, out), mr::Error);
  CHECK_THROWS_WITH_AS(log.record(50, slate, std::vector<double>{0.5, 0.5}, out),
                       "SimulationLog::record: user 50 out of range (50 users)", mr::Error);
  CHECK_THROWS_AS(log.record(0, std::vector<std::size_t>{1, 2, 3}, std::vector<double>{0.5, 0.5, 0.5}, out),
                  mr::Error);
  PageOutcome wrong = out;
  wrong.clicked_slot = 1;
  wrong.clicked_item = 7;
  CHECK_THROWS_WITH_AS(log.record(0, slate, std::vector<double>{0.5, 0.5}, wrong),
                       "SimulationLog::record: the outcome's click does not match the slate", mr::Error);
  CHECK(log.pages() == 200);  // refused records add nothing
  CHECK(log.decisions().size() == d);
}

namespace {

// Six items in 3 dims: two categories along two axes, one free article, prices as a shop's.
mr::Catalog small_shop() {
  mr::Catalog shop(3);
  const auto add = [&](const char* id, std::vector<float> v, float price, const char* category, const char* provider) {
    shop.add(id, v, {.title = id, .price = price, .category = category, .provider = provider});
  };
  add("boots-1", {2.0f, 0.1f, 0.0f}, 120.0f, "boots", "Alpina");
  add("boots-2", {1.0f, 0.0f, 0.2f}, 80.0f, "boots", "Kestrel");
  add("boots-guide", {1.0f, 0.1f, 0.1f}, 0.0f, "boots", "editors");
  add("coffee-1", {0.0f, 3.0f, 0.0f}, 12.0f, "coffee", "Roastery");
  add("coffee-2", {0.1f, 1.0f, 0.0f}, 18.0f, "coffee", "Roastery");
  add("mug", {0.0f, 0.5f, 0.5f}, 10.0f, "", "Roastery");
  return shop;
}

}  // namespace

TEST_CASE("Simulator over a user's catalog: items, categories and prices come from the catalog") {
  const mr::Catalog shop = small_shop();
  Simulator sim({.users = 50, .items = 999, .dim = 77, .categories = 40, .price_mean = 5.0, .seed = 3}, shop);
  CHECK(sim.items() == 6);
  CHECK(sim.config().items == 6);
  CHECK(sim.config().dim == 3);
  CHECK(sim.config().categories == 3);  // boots, coffee and the unnamed one
  CHECK(sim.config().providers == 4);
  CHECK(sim.config().price_mean == doctest::Approx((120.0 + 80.0 + 12.0 + 18.0 + 10.0) / 5.0));
  REQUIRE(sim.catalog().size() == 6);
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(sim.catalog().id(i) == shop.id(i));
    CHECK(sim.catalog().attributes(i).title == shop.attributes(i).title);
    CHECK(sim.price(i) == static_cast<double>(shop.attributes(i).price));
    const auto v = sim.catalog().vector(i);
    CHECK(mr::simd::dot(v, v) == doctest::Approx(1.0f).epsilon(1e-5));
  }
  CHECK(sim.category(0) == sim.category(1));
  CHECK(sim.category(0) == sim.category(2));
  CHECK(sim.category(3) == sim.category(4));
  CHECK(sim.category(0) != sim.category(3));
  CHECK(sim.category(5) != sim.category(0));
  CHECK(sim.category(5) != sim.category(3));
  // The free article can be clicked but never bought; priced items can be bought.
  for (std::size_t u = 0; u < sim.users(); ++u) {
    CHECK(sim.purchase_probability(u, 2) == 0.0);
    CHECK(sim.purchase_probability(u, 3) > 0.0);
  }
  // Each user's taste lies near one category's mean: its best item is in that category, and most
  // users like their best boots far more than coffee, or the other way round.
  std::size_t decided = 0;
  for (std::size_t u = 0; u < sim.users(); ++u) {
    const double boots = std::max(sim.affinity(u, 0), sim.affinity(u, 1));
    const double coffee = std::max(sim.affinity(u, 3), sim.affinity(u, 4));
    decided += std::abs(boots - coffee) > 0.3 ? 1 : 0;
  }
  CHECK(decided > sim.users() / 2);
  // Many free pages are shown: the article gets clicks, never purchases.
  PageOutcome out;
  std::size_t article_clicks = 0;
  const std::vector<std::size_t> page{2, 5};
  for (int t = 0; t < 3000; ++t) {
    sim.show(sim.next_user(), page, out);
    if (out.clicked_item == 2) {
      ++article_clicks;
      CHECK_FALSE(out.purchased);
    }
  }
  CHECK(article_clicks > 0);
}

TEST_CASE("Simulator over a user's catalog: same seed same world, the users drawn as in a drawn world") {
  const mr::Catalog shop = small_shop();
  Simulator a({.users = 30, .seed = 9}, shop), b({.users = 30, .seed = 9}, shop), c({.users = 30, .seed = 10}, shop);
  for (std::size_t u = 0; u < 30; ++u) {
    for (std::size_t j = 0; j < 3; ++j) CHECK(a.latent(u)[j] == b.latent(u)[j]);
  }
  bool differs = false;
  for (std::size_t j = 0; j < 3; ++j) differs = differs || a.latent(0)[j] != c.latent(0)[j];
  CHECK(differs);
  PageOutcome x, y;
  const std::vector<std::size_t> page{0, 3, 5};
  for (int t = 0; t < 200; ++t) {
    const std::size_t ua = a.next_user(), ub = b.next_user();
    REQUIRE(ua == ub);
    a.show(ua, page, x);
    b.show(ub, page, y);
    CHECK(x.clicked_slot == y.clicked_slot);
    CHECK(x.purchased == y.purchased);
  }
}

TEST_CASE("Simulator over a user's catalog: bad catalogs are refused, naming the item") {
  CHECK_THROWS_WITH_AS(Simulator({}, mr::Catalog(4)), "Simulator: the catalog is empty", mr::Error);
  {
    mr::Catalog shop = small_shop();
    shop.retire("coffee-2");
    CHECK_THROWS_WITH_AS(Simulator({}, shop), "Simulator: item 'coffee-2' is retired (compact the catalog first)",
                         mr::Error);
  }
  {
    mr::Catalog shop = small_shop();
    shop.add("blank", std::vector<float>{0.0f, 0.0f, 0.0f}, {.category = "boots"});
    CHECK_THROWS_WITH_AS(Simulator({}, shop), "Simulator: item 'blank' has a zero vector", mr::Error);
  }
  // The rest of the config is still checked.
  CHECK_THROWS_AS(Simulator({.position_decay = 0.0}, small_shop()), mr::Error);
}
