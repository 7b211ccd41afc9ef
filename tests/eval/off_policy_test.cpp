#include "marl_rec/eval/off_policy.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "marl_rec/core/logged_decision.hpp"
#include "marl_rec/core/rng.hpp"

namespace mr = marl_rec;
namespace ev = marl_rec::eval;

namespace {

mr::LoggedDecision row(std::size_t action, double reward, double propensity,
                       std::size_t position = 0) {
  return {.context = 0,
          .action = action,
          .position = position,
          .reward = reward,
          .propensity = propensity};
}

// Four rows shared by the hand-computed cases:
//   action  reward  propensity  target_probability  weight w = target / propensity
//   1       1       0.5         1                   2
//   2       0       0.25        0.5                 2
//   3       0.5     0.5         0.25                0.5
//   1       2       1           0                   0
const std::vector<mr::LoggedDecision> tiny = {row(1, 1, 0.5), row(2, 0, 0.25), row(3, 0.5, 0.5),
                                              row(1, 2, 1)};
const std::vector<double> tiny_target = {1, 0.5, 0.25, 0};
const ev::BootstrapOptions no_bootstrap{.samples = 0};

// A contextual bandit whose policy values are known exactly: 5 equally likely contexts,
// 4 actions, click probability click[c][a].
constexpr std::size_t contexts = 5, actions = 4;
constexpr double click[contexts][actions] = {{0.10, 0.30, 0.50, 0.70},
                                             {0.60, 0.20, 0.40, 0.10},
                                             {0.25, 0.75, 0.15, 0.35},
                                             {0.80, 0.05, 0.45, 0.30},
                                             {0.40, 0.55, 0.20, 0.65}};
// Logging policy: probabilities 0.35, 0.25, 0.2, 0.2 rotated by the context (importance weights
// up to 0.7 / 0.2 = 3.5).
double logging(std::size_t c, std::size_t a) {
  constexpr double base[actions] = {0.35, 0.25, 0.2, 0.2};
  return base[(a + c) % actions];
}
// Target policy: 0.7 on the best action of the context, 0.1 on each other one.
double target(std::size_t c, std::size_t a) {
  std::size_t best = 0;
  for (std::size_t b = 1; b < actions; ++b) best = click[c][b] > click[c][best] ? b : best;
  return a == best ? 0.7 : 0.1;
}
// A deliberately biased reward model.
double q_hat(std::size_t c, std::size_t a) { return click[c][a] + 0.15; }

double policy_value(double (*policy)(std::size_t, std::size_t)) {
  double v = 0.0;
  for (std::size_t c = 0; c < contexts; ++c) {
    for (std::size_t a = 0; a < actions; ++a) v += policy(c, a) * click[c][a] / contexts;
  }
  return v;
}

struct Logged {
  std::vector<mr::LoggedDecision> logs;
  std::vector<double> target_probability, q_hat_logged, estimated_value;
};

Logged simulate(std::size_t n, std::uint64_t seed) {
  mr::Rng rng(seed);
  Logged out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = rng.below(contexts);
    const double u = rng.uniform();
    std::size_t a = 0;
    for (double cumulative = logging(c, 0); a + 1 < actions && u >= cumulative;) {
      cumulative += logging(c, ++a);
    }
    out.logs.push_back({.context = c,
                        .action = a,
                        .position = 0,
                        .reward = rng.bernoulli(click[c][a]) ? 1.0 : 0.0,
                        .propensity = logging(c, a)});
    out.target_probability.push_back(target(c, a));
    out.q_hat_logged.push_back(q_hat(c, a));
    double v = 0.0;
    for (std::size_t b = 0; b < actions; ++b) v += target(c, b) * q_hat(c, b);
    out.estimated_value.push_back(v);
  }
  return out;
}

}  // namespace

TEST_CASE("estimators against hand-computed values") {
  // replay, target actions 1 0 3 2: rows 0 and 2 match → (1 + 0.5) / 2.
  const ev::Estimate r = ev::replay(tiny, std::vector<std::size_t>{1, 0, 3, 2}, no_bootstrap);
  CHECK(r.value == 0.75);
  CHECK(r.n == 2);
  // IPS = (2·1 + 2·0 + 0.5·0.5 + 0·2) / 4 = 2.25 / 4.
  const ev::Estimate i = ev::ips(tiny, tiny_target, no_bootstrap);
  CHECK(i.value == doctest::Approx(0.5625));
  CHECK(i.n == 4);
  CHECK((i.ci_low == i.value && i.ci_high == i.value));  // no bootstrap
  // SNIPS = 2.25 / (2 + 2 + 0.5 + 0).
  CHECK(ev::snips(tiny, tiny_target, no_bootstrap).value == doctest::Approx(0.5));
  // DM = mean(0.4, 0.6, 0.2, 0.8).
  const std::vector<double> value = {0.4, 0.6, 0.2, 0.8};
  CHECK(ev::direct_method(value, no_bootstrap).value == doctest::Approx(0.5));
  // DR with q̂ = 0.5 everywhere: 0.4 + 2(1 − 0.5) = 1.4; 0.6 + 2(0 − 0.5) = −0.4;
  // 0.2 + 0.5(0.5 − 0.5) = 0.2; 0.8 + 0 = 0.8 → 2.0 / 4.
  const std::vector<double> q = {0.5, 0.5, 0.5, 0.5};
  CHECK(ev::doubly_robust(tiny, tiny_target, q, value, no_bootstrap).value == doctest::Approx(0.5));
  // DR with an exact model of the rewards (q̂ = r) reduces to DM.
  const std::vector<double> exact = {1, 0, 0.5, 2};
  CHECK(ev::doubly_robust(tiny, tiny_target, exact, value, no_bootstrap).value ==
        doctest::Approx(0.5));
  // DR with a zero model and v = 0 reduces to IPS.
  const std::vector<double> zeros(4, 0.0);
  CHECK(ev::doubly_robust(tiny, tiny_target, zeros, zeros, no_bootstrap).value ==
        doctest::Approx(0.5625));
}

TEST_CASE("IPS of the logging policy itself is the empirical mean reward, exactly") {
  const Logged data = simulate(1000, 3);
  std::vector<double> propensity;
  double sum = 0.0;
  for (const mr::LoggedDecision& d : data.logs) {
    propensity.push_back(d.propensity);
    sum += d.reward;
  }
  CHECK(ev::ips(data.logs, propensity, no_bootstrap).value == sum / 1000.0);
  CHECK(ev::snips(data.logs, propensity, no_bootstrap).value == sum / 1000.0);
}

TEST_CASE("the bootstrap is deterministic for a seed and has the expected width") {
  // 200 rewards of 1 and 200 of 0 with weight 1: mean 0.5, standard error sqrt(0.25 / 400) =
  // 0.025, so the 95% interval is about 0.5 ± 1.96 · 0.025 = [0.451, 0.549].
  std::vector<mr::LoggedDecision> logs;
  for (int i = 0; i < 400; ++i) logs.push_back(row(0, i % 2, 0.5));
  const std::vector<double> same(400, 0.5);
  const ev::BootstrapOptions options{.samples = 2000, .confidence = 0.95, .seed = 11};
  const ev::Estimate a = ev::ips(logs, same, options);
  const ev::Estimate b = ev::ips(logs, same, options);
  CHECK(a.value == 0.5);
  CHECK(a.ci_low == b.ci_low);
  CHECK(a.ci_high == b.ci_high);
  CHECK(std::fabs(a.ci_low - 0.451) < 0.01);
  CHECK(std::fabs(a.ci_high - 0.549) < 0.01);
  const ev::Estimate other = ev::ips(logs, same, {.samples = 2000, .confidence = 0.95, .seed = 12});
  CHECK(other.ci_low != a.ci_low);
  // A narrower confidence gives a narrower interval (same seed, same resamples).
  const ev::Estimate narrow = ev::ips(logs, same, {.samples = 2000, .confidence = 0.5, .seed = 11});
  CHECK(narrow.ci_low > a.ci_low);
  CHECK(narrow.ci_high < a.ci_high);
  // A constant estimate has a zero-width interval.
  const ev::Estimate flat = ev::direct_method(std::vector<double>(50, 0.3), {.samples = 100});
  CHECK((flat.ci_low == flat.value && flat.ci_high == flat.value));
  CHECK_THROWS_WITH_AS(ev::ips(logs, same, {.confidence = 1.0}),
                       "eval::ips: confidence 1.000000 is not in (0, 1)", mr::Error);
}

TEST_CASE("IPS, SNIPS and DR are unbiased on a bandit with a known target value") {
  // Target value Σ_c 1/5 Σ_a π_e(a|c) click(c, a), per context: 0.58, 0.49, 0.60, 0.64, 0.57.
  const double truth = policy_value(target);
  REQUIRE(truth == doctest::Approx(0.576));
  // The logging policy is worth 0.3585: a plain mean of the logged rewards is far off.
  REQUIRE(policy_value(logging) == doctest::Approx(0.3585));
  // Fixed seeds. The intervals' coverage on this problem is about 94% (measured over 400
  // repetitions), so 200 repetitions clear the 90% bar by about 2.4 standard deviations.
  constexpr std::size_t repetitions = 200, n = 2000;
  const ev::BootstrapOptions options{.samples = 200, .confidence = 0.95, .seed = 5};
  std::array<std::size_t, 3> covered{};
  std::array<double, 4> mean{};  // IPS, SNIPS, DR, DM
  for (std::uint64_t rep = 0; rep < repetitions; ++rep) {
    const Logged d = simulate(n, 1000 + rep);
    const std::array<ev::Estimate, 3> e = {
        ev::ips(d.logs, d.target_probability, options),
        ev::snips(d.logs, d.target_probability, options),
        ev::doubly_robust(d.logs, d.target_probability, d.q_hat_logged, d.estimated_value,
                          options)};
    for (std::size_t j = 0; j < 3; ++j) {
      covered[j] += e[j].ci_low <= truth && truth <= e[j].ci_high;
      mean[j] += e[j].value / repetitions;
    }
    mean[3] += ev::direct_method(d.estimated_value, no_bootstrap).value / repetitions;
  }
  for (std::size_t j = 0; j < 3; ++j) {
    CAPTURE(j);
    CHECK(covered[j] >= repetitions * 9 / 10);
    // One IPS estimate has a standard deviation of about 0.024 here, so the mean of 200 has
    // one of about 0.0017: the tolerance is 4.5 of them.
    CAPTURE(mean[j]);
    CHECK(std::fabs(mean[j] - truth) < 0.0075);
  }
  // The direct method inherits q̂'s bias of +0.15; DR corrects it.
  CHECK(std::fabs(mean[3] - (truth + 0.15)) < 0.01);
}

TEST_CASE("per_position runs any estimator on the rows of each position") {
  const std::vector<mr::LoggedDecision> logs = {row(1, 1, 0.5, 0), row(2, 0, 0.25, 1),
                                                row(3, 1, 0.5, 0), row(1, 1, 1, 2),
                                                row(4, 1, 0.2, 1), row(5, 0, 0.5, 0)};
  const std::vector<double> target = {1, 0.5, 0.25, 1, 0.1, 0.5};
  const auto by_position = ev::per_position(logs, [&](const ev::RowSubset& rows) {
    return ev::ips(rows.of(logs), rows.of(target), no_bootstrap);
  });
  REQUIRE(by_position.size() == 3);
  // position 0: rows 0, 2, 5 → (2·1 + 0.5·1 + 1·0) / 3; 1: rows 1, 4 → (2·0 + 0.5·1) / 2;
  // 2: row 3 → 1·1.
  CHECK(by_position.at(0).value == doctest::Approx(2.5 / 3.0));
  CHECK(by_position.at(0).n == 3);
  CHECK(by_position.at(1).value == doctest::Approx(0.25));
  CHECK(by_position.at(2).value == doctest::Approx(1.0));

  // Any result type: here the rows themselves.
  const auto rows_at =
      ev::per_position(logs, [](const ev::RowSubset& rows) { return rows.rows(); });
  CHECK(rows_at.at(1) == std::vector<std::size_t>{1, 4});

  // An array of the wrong length, and an estimator's own error, propagate.
  CHECK_THROWS_WITH_AS(ev::per_position(logs,
                                        [&](const ev::RowSubset& rows) {
                                          return rows.of(std::vector<double>{1, 2});
                                        }),
                       "eval::RowSubset::of: the array has 2 values, the log has 6", mr::Error);
  const std::vector<std::size_t> target_action = {1, 0, 3, 0, 0, 0};  // nothing matches at 1
  CHECK_THROWS_WITH_AS(ev::per_position(logs,
                                        [&](const ev::RowSubset& rows) {
                                          return ev::replay(rows.of(logs), rows.of(target_action),
                                                            no_bootstrap);
                                        }),
                       "eval::replay: no logged action matches the target action", mr::Error);
}

TEST_CASE("estimator inputs are checked") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> four(4, 0.5);
  CHECK_THROWS_WITH_AS(ev::ips(tiny, std::vector<double>{1, 1, 1}),
                       "eval::ips: target_probability has 3 values, logs has 4", mr::Error);
  CHECK_THROWS_WITH_AS(ev::ips({}, {}), "eval::ips: there are no logged decisions", mr::Error);
  for (const double p : {0.0, -0.5, 1.5, nan}) {
    std::vector<mr::LoggedDecision> logs = tiny;
    logs[1].propensity = p;
    CHECK_THROWS_AS(ev::ips(logs, tiny_target), mr::Error);
    CHECK_THROWS_AS(ev::snips(logs, tiny_target), mr::Error);
    CHECK_THROWS_AS(ev::doubly_robust(logs, tiny_target, four, four), mr::Error);
  }
  std::vector<mr::LoggedDecision> zero = tiny;
  zero[1].propensity = 0.0;
  CHECK_THROWS_WITH_AS(ev::ips(zero, tiny_target),
                       "eval::ips: row 1: propensity 0.000000 is not in (0, 1]", mr::Error);
  for (const double p : {-0.1, 1.1, nan}) {
    CHECK_THROWS_AS(ev::ips(tiny, std::vector<double>{1, p, 0, 0}), mr::Error);
  }
  CHECK_THROWS_WITH_AS(ev::snips(tiny, std::vector<double>{1.1, 0, 0, 0}),
                       "eval::snips: row 0: target_probability 1.100000 is not in [0, 1]",
                       mr::Error);
  for (const double r : {nan, inf}) {
    std::vector<mr::LoggedDecision> logs = tiny;
    logs[2].reward = r;
    CHECK_THROWS_AS(ev::ips(logs, tiny_target), mr::Error);
    CHECK_THROWS_AS(ev::replay(logs, std::vector<std::size_t>{1, 2, 3, 1}), mr::Error);
  }
  CHECK_THROWS_WITH_AS(ev::snips(tiny, std::vector<double>(4, 0.0)),
                       "eval::snips: the target policy gives probability 0 to every logged action",
                       mr::Error);
  CHECK_THROWS_AS(
      ev::doubly_robust(tiny, tiny_target, std::vector<double>{0.5, nan, 0.5, 0.5}, four),
      mr::Error);
  CHECK_THROWS_AS(
      ev::doubly_robust(tiny, tiny_target, four, std::vector<double>{0.5, 0.5, inf, 0.5}),
      mr::Error);
  CHECK_THROWS_WITH_AS(ev::doubly_robust(tiny, tiny_target, four, std::vector<double>{0.5}),
                       "eval::doubly_robust: estimated_value has 1 values, logs has 4", mr::Error);
  CHECK_THROWS_AS(ev::direct_method(std::vector<double>{0.5, nan}), mr::Error);
  CHECK_THROWS_WITH_AS(ev::direct_method({}), "eval::direct_method: estimated_value is empty",
                       mr::Error);
  CHECK_THROWS_WITH_AS(ev::replay(tiny, std::vector<std::size_t>{0, 0, 0, 0}),
                       "eval::replay: no logged action matches the target action", mr::Error);
  CHECK_THROWS_AS(ev::replay(tiny, std::vector<std::size_t>{1}), mr::Error);
  // Replay does not use propensities, so it accepts logs without meaningful ones.
  CHECK(ev::replay(zero, std::vector<std::size_t>{1, 2, 0, 0}, no_bootstrap).value == 0.5);
}
