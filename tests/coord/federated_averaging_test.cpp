// FederatedAveraging: exact weighted means, the no-op on identical agents, clipping, the noise's
// standard deviation, privacy accounting, determinism, save / load and errors; on a vector model
// with known answers, and on MatrixFactorization agents (shared item factors, local users).
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/concepts/coordination_policy.hpp"
#include "marl_rec/concepts/federated_model.hpp"
#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/federated_averaging.hpp"
#include "marl_rec/coord/privacy_accountant.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::FederatedAveraging;
using marl_rec::test::error_of;

// A FederatedModel whose shared parameters are a plain vector (the score of item i is p[i]).
class VectorModel {
 public:
  explicit VectorModel(std::vector<float> p = {}) : p_(std::move(p)) {}
  void score(const marl_rec::Context&, marl_rec::Candidates c, std::span<float> s) const {
    for (std::size_t k = 0; k < c.size(); ++k) s[k] = p_[c[k]];
  }
  void update(const marl_rec::Context&, std::size_t item, double reward) {
    p_[item] += static_cast<float>(reward);
  }
  void save(std::ostream&) const {}
  void load(std::istream&) {}
  std::string_view name() const { return "vector"; }
  std::span<const float> shared_parameters() const { return p_; }
  void set_shared_parameters(std::span<const float> v) {
    marl_rec::detail::require(v.size() == p_.size(), "VectorModel: size mismatch");
    p_.assign(v.begin(), v.end());
  }
  const std::vector<float>& values() const { return p_; }

 private:
  std::vector<float> p_;
};
static_assert(marl_rec::FederatedModel<VectorModel>);

std::vector<VectorModel*> pointers(std::vector<VectorModel>& models) {
  std::vector<VectorModel*> out;
  for (VectorModel& m : models) out.push_back(&m);
  return out;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<float> random_vector(std::size_t n, marl_rec::Rng& rng, double scale = 1.0) {
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(scale * rng.normal());
  return v;
}

double norm(std::span<const float> a, std::span<const float> b) {
  double s = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const double d = static_cast<double>(a[k]) - static_cast<double>(b[k]);
    s += d * d;
  }
  return std::sqrt(s);
}

FederatedAveraging::Config private_config(double clip, double z, std::uint64_t seed = 1) {
  return {.privacy = {.enabled = true, .clip_norm = clip, .noise_multiplier = z, .delta = 1e-5},
          .seed = seed};
}

}  // namespace

TEST_CASE("FederatedAveraging: averaging identical agents is exactly a no-op") {
  marl_rec::Rng rng(4);
  const std::vector<float> p = random_vector(257, rng, 3.0);
  std::vector<VectorModel> models(4, VectorModel(p));
  FederatedAveraging fed;
  const std::vector<double> weights = {0.3, 1.7, 2.9, 1e6};
  for (int round = 0; round < 3; ++round) fed.average(pointers(models), weights);
  for (const VectorModel& m : models) CHECK(same_bits(m.values(), p));
  CHECK(same_bits(fed.global_parameters(), p));
  CHECK(fed.rounds() == 3);
}

TEST_CASE("FederatedAveraging: two agents with weights 1 and 3 get the exact weighted mean") {
  // (1 · p₀ + 3 · p₁) / 4 on values whose mean is exact in float.
  std::vector<VectorModel> models = {VectorModel({1.0f, 5.0f, -2.0f, 0.5f}),
                                     VectorModel({5.0f, 1.0f, 2.0f, 8.5f})};
  FederatedAveraging fed;
  CHECK_FALSE(fed.has_global());
  CHECK(fed.epsilon() == 0.0);
  const std::vector<double> weights = {1.0, 3.0};
  fed.average(pointers(models), weights);
  const std::vector<float> expected = {4.0f, 2.0f, 1.0f, 6.5f};
  CHECK(models[0].values() == expected);
  CHECK(models[1].values() == expected);
  CHECK(fed.has_global());
  CHECK(same_bits(fed.global_parameters(), expected));
  CHECK(fed.rounds() == 1);
  CHECK(fed.last_round().total_weight == 4.0);
  // Without privacy a round releases the exact mean: no finite ε.
  CHECK(std::isinf(fed.epsilon()));
  CHECK(fed.accountant().steps() == 1);

  SUBCASE("a third agent with weight 0 does not count") {
    std::vector<VectorModel> three = {VectorModel({1.0f, 5.0f, -2.0f, 0.5f}),
                                      VectorModel({5.0f, 1.0f, 2.0f, 8.5f}),
                                      VectorModel({100.0f, 100.0f, 100.0f, 100.0f})};
    const std::vector<double> w = {1.0, 3.0, 0.0};
    fed.average(pointers(three), w);
    for (const VectorModel& m : three) CHECK(m.values() == expected);
  }
  SUBCASE("arbitrary weights: the mean rounded once to float") {
    marl_rec::Rng rng(8);
    std::vector<VectorModel> many;
    for (int i = 0; i < 5; ++i) many.emplace_back(random_vector(100, rng));
    const std::vector<double> w = {0.1, 7.25, 3.0, 0.0, 1e-3};
    std::vector<double> mean(100, 0.0);
    double total = 0.0;
    for (std::size_t i = 0; i < many.size(); ++i) {
      total += w[i];
      for (std::size_t k = 0; k < 100; ++k) mean[k] += w[i] * many[i].values()[k];
    }
    fed.average(pointers(many), w);
    for (std::size_t k = 0; k < 100; ++k) {
      // The two double sums differ by ~1e-16 relative: within a float's rounding.
      CHECK(many[2].values()[k] == doctest::Approx(mean[k] / total).epsilon(1e-6));
    }
  }
}

TEST_CASE("FederatedAveraging: a server learning rate scales the mean update") {
  // g = 1 everywhere; agents move to 2 and 4 (updates +1 and +3, weights 1 and 1): the mean
  // update is 2, so η = 2 gives g = 1 + 2 · 2 = 5 (the sum of the updates), η = 1 gives 3.
  std::vector<VectorModel> models(2, VectorModel({1.0f, 1.0f, 1.0f}));
  FederatedAveraging fed({.server_learning_rate = 2.0});
  const std::vector<double> weights = {1.0, 1.0};
  CHECK(error_of([&] { fed.average(pointers(models), weights); }) ==
        "FederatedAveraging::average: a server learning rate other than 1 measures each agent's "
        "update from the global parameters: call broadcast(models) on the initial models first");
  fed.broadcast(pointers(models));
  models[0].set_shared_parameters(std::vector<float>{2.0f, 2.0f, 2.0f});
  models[1].set_shared_parameters(std::vector<float>{4.0f, 4.0f, 4.0f});
  fed.average(pointers(models), weights);
  CHECK(models[0].values() == std::vector<float>{5.0f, 5.0f, 5.0f});
  CHECK(models[1].values() == std::vector<float>{5.0f, 5.0f, 5.0f});
  // Untrained agents (equal to g): a no-op, exactly.
  fed.average(pointers(models), weights);
  CHECK(models[0].values() == std::vector<float>{5.0f, 5.0f, 5.0f});

  SUBCASE("with privacy, clipping and noise are scaled too") {
    // Updates +1 and +3 on 3 coordinates (norms √3 and 3√3), clipped to C = 0.5; η = 2, z = 0.
    FederatedAveraging private_fed(
        {.privacy = {.enabled = true, .clip_norm = 0.5, .noise_multiplier = 0.0},
         .server_learning_rate = 2.0});
    std::vector<VectorModel> agents(2, VectorModel({0.0f, 0.0f, 0.0f}));
    private_fed.broadcast(pointers(agents));
    agents[0].set_shared_parameters(std::vector<float>{1.0f, 1.0f, 1.0f});
    agents[1].set_shared_parameters(std::vector<float>{3.0f, 3.0f, 3.0f});
    private_fed.average(pointers(agents), weights);
    // Each clipped update is 0.5 / √3 per coordinate; their mean too; times η = 2.
    for (const float v : agents[0].values()) {
      CHECK(v == doctest::Approx(2.0 * 0.5 / std::sqrt(3.0)).epsilon(1e-6));
    }
    CHECK(private_fed.last_round().clipped == 2);
  }
}

TEST_CASE("FederatedAveraging: MatrixFactorization agents share item factors, keep user factors") {
  marl_rec::Interactions data;
  for (std::size_t u = 0; u < 6; ++u) data.users.intern(marl_rec::numbered_id("u", u));
  for (std::size_t i = 0; i < 5; ++i) data.items.intern(marl_rec::numbered_id("i", i));
  for (std::size_t u = 0; u < 6; ++u) data.rows.push_back({.user = u, .item = u % 5});
  marl_rec::MatrixFactorization initial(
      {.factors = 3, .epochs = 0, .learning_rate = 0.1f, .init_scale = 0.3f, .seed = 2});
  initial.fit(data);
  std::vector<marl_rec::MatrixFactorization> agents(3, initial);
  std::vector<marl_rec::MatrixFactorization*> ptrs = {&agents[0], &agents[1], &agents[2]};
  FederatedAveraging fed;
  fed.broadcast(ptrs);  // a no-op here: the copies are equal already
  // Agent a learns from its users u ≡ a (mod 3).
  for (std::size_t u = 0; u < 6; ++u) agents[u % 3].update({.user = u}, (u + 1) % 5, 1.0);
  std::vector<std::vector<float>> users_before;
  for (const auto& a : agents) {
    users_before.emplace_back(a.user_factors().data(), a.user_factors().data() + 18);
  }
  std::vector<double> mean(15, 0.0);
  for (const auto& a : agents) {
    for (std::size_t k = 0; k < 15; ++k) mean[k] += a.shared_parameters()[k] / 3.0;
  }
  const std::vector<double> weights = {2.0, 2.0, 2.0};
  fed.average(ptrs, weights);
  for (std::size_t a = 0; a < 3; ++a) {
    CHECK(same_bits(agents[a].shared_parameters(), fed.global_parameters()));
    const std::span<const float> users(agents[a].user_factors().data(), 18);
    CHECK(same_bits(users, users_before[a]));
  }
  for (std::size_t k = 0; k < 15; ++k) {
    CHECK(fed.global_parameters()[k] == doctest::Approx(mean[k]).epsilon(1e-6));
  }
  // Averaging again, untrained: a no-op.
  const std::vector<float> global(fed.global_parameters().begin(), fed.global_parameters().end());
  fed.average(ptrs, weights);
  CHECK(same_bits(agents[1].shared_parameters(), global));
}

TEST_CASE("FederatedAveraging: clipping bounds each agent's influence (noise 0)") {
  const std::size_t n = 50;
  std::vector<VectorModel> models(3, VectorModel(std::vector<float>(n, 0.5f)));
  FederatedAveraging fed(private_config(/*clip=*/2.0, /*z=*/0.0));
  fed.broadcast(pointers(models));
  // Agent 0 makes a huge update (norm 1000, along a random direction); the others none.
  marl_rec::Rng rng(5);
  std::vector<float> direction = random_vector(n, rng);
  const double length = norm(direction, std::vector<float>(n, 0.0f));
  std::vector<float> huge(n);
  for (std::size_t k = 0; k < n; ++k) {
    huge[k] = 0.5f + static_cast<float>(1000.0 * direction[k] / length);
  }
  models[0].set_shared_parameters(huge);
  const std::vector<float> before(n, 0.5f);
  const std::vector<double> weights = {1.0, 2.0, 1.0};
  fed.average(pointers(models), weights);
  // g moved by exactly C · w₀ / Σw = 2 · 1 / 4 = 0.5, along agent 0's direction.
  CHECK(norm(fed.global_parameters(), before) == doctest::Approx(0.5).epsilon(1e-5));
  for (std::size_t k = 0; k < n; ++k) {
    CHECK(fed.global_parameters()[k] - 0.5f ==
          doctest::Approx(0.5 * direction[k] / length).epsilon(1e-4));
  }
  CHECK(fed.last_round().clipped == 1);
  CHECK(fed.last_round().max_update_norm == doctest::Approx(1000.0).epsilon(1e-5));
  CHECK(fed.last_round().noise_std == 0.0);
  // Clipping only: no privacy guarantee.
  CHECK(fed.accountant().unbounded());
  CHECK(std::isinf(fed.epsilon()));

  SUBCASE("updates shorter than the clip norm are averaged unchanged") {
    std::vector<VectorModel> small;
    for (int i = 0; i < 3; ++i) small.emplace_back(std::vector<float>(n, 0.0f));
    FederatedAveraging clipped(private_config(100.0, 0.0));
    FederatedAveraging plain;
    clipped.broadcast(pointers(small));
    std::vector<VectorModel> same = small;
    marl_rec::Rng r(6);
    for (std::size_t i = 0; i < 3; ++i) {
      const std::vector<float> v = random_vector(n, r);
      small[i].set_shared_parameters(v);
      same[i].set_shared_parameters(v);
    }
    clipped.average(pointers(small), weights);
    plain.average(pointers(same), weights);
    CHECK(clipped.last_round().clipped == 0);
    for (std::size_t k = 0; k < n; ++k) {
      CHECK(small[0].values()[k] == doctest::Approx(same[0].values()[k]).epsilon(1e-6));
    }
  }
}

TEST_CASE("FederatedAveraging: the noise has standard deviation z * C * max w / sum w") {
  // Agents equal to g every round (they do not train), so each round adds pure noise to g:
  // 20 rounds × 2000 parameters = 40,000 draws. With σ = 2 · 0.5 · 5 / 8 = 0.625, the sample
  // standard deviation has a relative standard error of 1 / √(2 · 40000) = 0.35%: the 2%
  // tolerance is 5.7 standard errors.
  const std::size_t n = 2000;
  const double z = 2.0, clip = 0.5;
  std::vector<VectorModel> models(3, VectorModel(std::vector<float>(n, 1.0f)));
  FederatedAveraging fed(private_config(clip, z, 77));
  fed.broadcast(pointers(models));
  const std::vector<double> weights = {1.0, 2.0, 5.0};
  const double sigma = z * clip * 5.0 / 8.0;
  double sum = 0.0, squares = 0.0;
  std::size_t count = 0;
  for (int round = 0; round < 20; ++round) {
    const std::vector<float> before(fed.global_parameters().begin(), fed.global_parameters().end());
    fed.average(pointers(models), weights);
    CHECK(fed.last_round().noise_std == doctest::Approx(sigma).epsilon(1e-15));
    CHECK(fed.last_round().max_update_norm == 0.0);
    for (std::size_t k = 0; k < n; ++k) {
      const double d = static_cast<double>(fed.global_parameters()[k]) - before[k];
      sum += d;
      squares += d * d;
      ++count;
    }
    CHECK(same_bits(models[2].values(), fed.global_parameters()));
  }
  const double mean = sum / static_cast<double>(count);
  const double sd = std::sqrt(squares / static_cast<double>(count) - mean * mean);
  CHECK(std::fabs(mean) < 0.02);  // standard error 0.625 / 200 = 0.003
  CHECK(sd == doctest::Approx(sigma).epsilon(0.02));
  // Twenty Gaussian steps at z = 2.
  CHECK(fed.rounds() == 20);
  CHECK(fed.accountant().steps() == 20);
  CHECK(fed.epsilon() == doctest::Approx(marl_rec::gaussian_epsilon(2.0, 1e-5, 20)).epsilon(1e-14));
}

TEST_CASE("FederatedAveraging: the same seed gives the same parameters, another seed others") {
  const auto run = [](std::uint64_t seed) {
    marl_rec::Rng rng(12);
    std::vector<VectorModel> models(3, VectorModel(random_vector(64, rng)));
    FederatedAveraging fed(private_config(1.0, 1.5, seed));
    fed.broadcast(pointers(models));
    const std::vector<double> weights = {3.0, 1.0, 1.0};
    for (int round = 0; round < 4; ++round) {
      for (VectorModel& m : models) {
        for (std::size_t item = 0; item < 64; item += 3) m.update({}, item, rng.normal());
      }
      fed.average(pointers(models), weights);
    }
    return std::vector<float>(fed.global_parameters().begin(), fed.global_parameters().end());
  };
  const std::vector<float> a = run(5), b = run(5), c = run(6);
  CHECK(same_bits(a, b));
  CHECK_FALSE(same_bits(a, c));
}

TEST_CASE("FederatedAveraging: save / load continues exactly, bad streams are errors") {
  marl_rec::Rng rng(3);
  std::vector<VectorModel> models(2, VectorModel(random_vector(30, rng)));
  FederatedAveraging::Config config = private_config(0.8, 1.1, 9);
  config.server_learning_rate = 1.5;
  FederatedAveraging fed(config);
  fed.broadcast(pointers(models));
  const std::vector<double> weights = {1.0, 1.0};
  fed.average(pointers(models), weights);
  fed.average(pointers(models), weights);
  std::stringstream stream;
  fed.save(stream);
  const std::string bytes = stream.str();
  FederatedAveraging loaded;
  std::istringstream in(bytes);
  loaded.load(in);
  CHECK(loaded.rounds() == 2);
  CHECK(loaded.config().privacy.enabled);
  CHECK(loaded.config().privacy.clip_norm == 0.8);
  CHECK(loaded.config().seed == 9);
  CHECK(loaded.config().server_learning_rate == 1.5);
  CHECK(loaded.epsilon() == fed.epsilon());
  CHECK(same_bits(loaded.global_parameters(), fed.global_parameters()));
  std::vector<VectorModel> copies = models;
  fed.average(pointers(models), weights);
  loaded.average(pointers(copies), weights);
  CHECK(same_bits(models[0].values(), copies[0].values()));

  FederatedAveraging kept;
  for (std::size_t cut : {std::size_t{0}, std::size_t{40}, bytes.size() - 1}) {
    std::istringstream truncated(bytes.substr(0, cut));
    CHECK_THROWS_AS(kept.load(truncated), marl_rec::Error);
  }
  std::stringstream other;
  marl_rec::RdpAccountant().save(other);
  CHECK(error_of([&] { kept.load(other); }) ==
        "loading a 'federated_averaging' model: the stream holds a 'rdp_accountant' model");
  CHECK(kept.rounds() == 0);
  CHECK_FALSE(kept.has_global());
}

TEST_CASE("FederatedAveraging: invalid input is an Error naming it, and changes nothing") {
  std::vector<VectorModel> models = {VectorModel({1.0f, 2.0f}), VectorModel({3.0f, 4.0f}),
                                     VectorModel({5.0f, 6.0f})};
  std::vector<VectorModel*> ptrs = pointers(models);
  FederatedAveraging fed;
  const std::vector<double> ok = {1.0, 1.0, 1.0};
  const std::string where = "FederatedAveraging::average: ";
  CHECK(error_of([&] { fed.average(std::vector<VectorModel*>{}, {}); }) == where + "no agents");
  CHECK(error_of([&] { fed.average(ptrs, std::vector<double>{1.0, 1.0}); }) ==
        where + "2 weights for 3 agents");
  CHECK(error_of([&] { fed.average(ptrs, std::vector<double>{1.0, -1.0, 1.0}); }) ==
        where + "agent 1's weight -1.000000 is not finite and >= 0");
  CHECK(error_of([&] {
          fed.average(ptrs, std::vector<double>{1.0, 1.0, std::numeric_limits<double>::infinity()});
        }) == where + "agent 2's weight inf is not finite and >= 0");
  CHECK(error_of([&] {
          fed.average(ptrs, std::vector<double>{std::numeric_limits<double>::quiet_NaN(), 1, 1});
        }).find(where + "agent 0's weight") == 0);
  CHECK(error_of([&] { fed.average(ptrs, std::vector<double>{0.0, 0.0, 0.0}); }) ==
        where + "the weights sum to 0.000000 (they must not all be 0, and their sum must be "
                "finite)");
  CHECK(error_of([&] { fed.average(ptrs, std::vector<double>{1e308, 1e308, 1e308}); })
            .find(where + "the weights sum to inf") == 0);
  std::vector<VectorModel*> with_null = ptrs;
  with_null[1] = nullptr;
  CHECK(error_of([&] { fed.average(with_null, ok); }) == where + "agent 1 is a null pointer");
  VectorModel longer({1.0f, 2.0f, 3.0f});
  std::vector<VectorModel*> mixed = {ptrs[0], ptrs[1], &longer};
  CHECK(error_of([&] { fed.average(mixed, ok); }) ==
        where + "agent 2 has 3 shared parameters, agent 0 has 2");
  CHECK(error_of([&] { fed.broadcast(mixed); }) ==
        "FederatedAveraging::broadcast: agent 2 has 3 shared parameters, agent 0 has 2");
  // A (faulty) model with a NaN parameter: the mean is not finite, nothing is written.
  VectorModel faulty({1.0f, std::numeric_limits<float>::quiet_NaN()});
  std::vector<VectorModel*> with_faulty = {ptrs[0], ptrs[1], &faulty};
  CHECK(error_of([&] { fed.average(with_faulty, std::vector<double>{1.0, 1.0, 1.0}); }) ==
        where + "the averaged parameter 1 is not finite (an agent's parameters, or the noise, are "
                "too large)");
  // Nothing changed.
  CHECK(models[0].values() == std::vector<float>{1.0f, 2.0f});
  CHECK(models[1].values() == std::vector<float>{3.0f, 4.0f});
  CHECK(fed.rounds() == 0);
  CHECK_FALSE(fed.has_global());

  SUBCASE("a private round needs a broadcast first, and models of the global size") {
    FederatedAveraging private_fed(private_config(1.0, 1.0));
    CHECK(error_of([&] { private_fed.average(ptrs, ok); }) ==
          where + "a private round measures each agent's update from the global parameters: "
                  "call broadcast(models) on the initial models first");
    private_fed.broadcast(ptrs);
    CHECK(models[2].values() == std::vector<float>{1.0f, 2.0f});
    VectorModel a({1.0f, 2.0f, 3.0f}), b({1.0f, 2.0f, 3.0f});
    CHECK(error_of([&] {
            private_fed.average(std::vector<VectorModel*>{&a, &b}, std::vector<double>{1, 1});
          }) == where + "the agents have 3 shared parameters, the global parameters 2");
    CHECK(private_fed.rounds() == 0);
    CHECK(private_fed.epsilon() == 0.0);
  }
  SUBCASE("configurations out of range") {
    using Config = FederatedAveraging::Config;
    CHECK(error_of([] { FederatedAveraging(Config{.privacy = {.clip_norm = 0.0}}); }) ==
          "FederatedAveraging: config.privacy.clip_norm 0.000000 is not finite and > 0");
    CHECK(error_of([] {
            FederatedAveraging(Config{.privacy = {.clip_norm = std::numeric_limits<double>::infinity()}});
          }) == "FederatedAveraging: config.privacy.clip_norm inf is not finite and > 0");
    CHECK(error_of([] { FederatedAveraging(Config{.privacy = {.noise_multiplier = -0.5}}); }) ==
          "FederatedAveraging: config.privacy.noise_multiplier -0.500000 is not finite and >= 0");
    CHECK(error_of([] { FederatedAveraging(Config{.privacy = {.delta = 1.0}}); }) ==
          "FederatedAveraging: config.privacy.delta 1.000000 is not in (0, 1)");
    CHECK(error_of([] { FederatedAveraging(Config{.privacy = {.delta = 0.0}}); }) ==
          "FederatedAveraging: config.privacy.delta 0.000000 is not in (0, 1)");
    CHECK(error_of([] { FederatedAveraging(Config{.server_learning_rate = 0.0}); }) ==
          "FederatedAveraging: config.server_learning_rate 0.000000 is not finite and > 0");
    CHECK(error_of([] {
            FederatedAveraging(Config{.privacy = {.enabled = true, .noise_multiplier = 0.0}});
          }) == "no error");  // clipping only is allowed (epsilon() = +inf)
  }
}

// ---- FederatedAveraging as a Coordinator policy -----------------------------------------------

namespace mr = marl_rec;

namespace {

using FedAgent = mr::Agent<mr::LinearQ, mr::Greedy>;

FedAgent fed_agent() {
  return FedAgent(mr::LinearQ({.features = mr::FeatureMap::cross, .alpha = 0.1f, .gamma = 0.0f,
                               .history_in_state = false}),
                  mr::Greedy{}, {.max_pending = 8});
}

}  // namespace

TEST_CASE("FederatedAveraging as a policy: each user's agent serves them, rounds average by pages learned") {
  // 4 items in 2 dimensions; users carry 2 features.
  mr::Catalog catalog(2);
  const std::vector<std::vector<float>> vectors{{1, 0}, {0, 1}, {1, 1}, {1, -1}};
  for (std::size_t i = 0; i < vectors.size(); ++i) catalog.add(marl_rec::numbered_id("item", static_cast<std::size_t>(i)), vectors[i]);
  mr::Coordinator page{catalog, mr::FederatedAveraging({.pages_per_round = 3}), fed_agent(), fed_agent()};
  static_assert(mr::CoordinationPolicy<mr::FederatedAveraging, FedAgent, FedAgent>);
  mr::MultiObjective<mr::Weighted<mr::Relevance>> ranking;
  const std::vector<float> features{1.0f, 0.5f};
  const auto context = [&](std::size_t user) {
    return mr::Context{.features = features, .items = catalog.embeddings(), .user = user};
  };
  const mr::Candidates all = mr::Candidates::all(catalog.size());

  // Users 0 and 2 belong to agent 0, user 1 to agent 1 (user mod 2).
  mr::Slate s0 = page.recommend(context(0), all, 2, ranking);
  CHECK(s0.agents == std::vector<std::size_t>{0, 0});
  mr::Slate s1 = page.recommend(context(1), all, 2, ranking);
  CHECK(s1.agents == std::vector<std::size_t>{1, 1});
  mr::Slate s2 = page.recommend(context(2), all, 2, ranking);
  CHECK(s2.agents == std::vector<std::size_t>{0, 0});

  // Two pages learned: no round yet, the agents differ.
  page.learn(s0.id, mr::Feedback{.clicked = {0}});
  page.learn(s1.id, mr::Feedback{.clicked = {1}});
  CHECK(page.policy().rounds() == 0);
  const auto shared = [&](const auto& agent) {
    const auto p = agent.model().shared_parameters();
    return std::vector<float>(p.begin(), p.end());
  };
  const std::vector<float> a0 = shared(page.agent<0>());
  const std::vector<float> a1 = shared(page.agent<1>());
  CHECK(a0 != a1);

  // The third page learned (agent 0's second) starts a round, weighted 2 : 1 by pages learned.
  mr::LinearQ expected0 = page.agent<0>().model();
  page.learn(s2.id, mr::Feedback{});
  CHECK(page.policy().rounds() == 1);
  CHECK(page.policy().last_round().total_weight == 3.0);
  const std::vector<float> after0 = shared(page.agent<0>());
  CHECK(after0 == shared(page.agent<1>()));
  // Agent 0's parameters just before the round: after learning s2 (no click) from a0.
  mr::Context c2 = context(2);
  for (const std::size_t item : s2.items) expected0.update(c2, item, 0.0);
  const auto p0 = expected0.shared_parameters();
  for (std::size_t k = 0; k < after0.size(); ++k) {
    const double mean = (2.0 * static_cast<double>(p0[k]) + static_cast<double>(a1[k])) / 3.0;
    CHECK(static_cast<double>(after0[k]) == doctest::Approx(mean).epsilon(1e-6));
  }

  // Saved and loaded (v3), the policy keeps its cadence and proposals, whatever the config it
  // is loaded into; saving the loaded one gives the same bytes.
  std::stringstream saved;
  page.policy().save(saved);
  mr::FederatedAveraging restored({.pages_per_round = 77, .proposals = 5});
  restored.load(saved);
  CHECK(restored.config().pages_per_round == 3);
  CHECK(restored.config().proposals == 0);
  CHECK(restored.rounds() == 1);
  std::stringstream again;
  restored.save(again);
  CHECK(again.str() == saved.str());

  // A restart: the whole coordinator saved and loaded (agents with their counters, the policy
  // with the counts it averaged at its last round, v3). The next round weighs each agent by the
  // feedback learned since the last round, exactly as the coordinator that never stopped does.
  const mr::FederatedAveraging after_one_round = page.policy();
  std::stringstream whole;
  page.save(whole);
  mr::Coordinator after{catalog, mr::FederatedAveraging({.pages_per_round = 77}), fed_agent(), fed_agent()};
  after.load(whole, catalog.embeddings());
  CHECK(after.policy().config().pages_per_round == 3);
  for (auto* c : {&page, &after}) {
    const mr::Slate r0 = c->recommend(context(0), all, 2, ranking);
    const mr::Slate r1 = c->recommend(context(1), all, 2, ranking);
    const mr::Slate r2 = c->recommend(context(2), all, 2, ranking);
    c->learn(r0.id, mr::Feedback{.clicked = {0}});
    c->learn(r1.id, mr::Feedback{});
    c->learn(r2.id, mr::Feedback{});
    CHECK(c->policy().rounds() == 2);
    CHECK(c->policy().last_round().total_weight == 3.0);
  }
  CHECK(shared(after.agent<0>()) == shared(page.agent<0>()));
  CHECK(shared(after.agent<1>()) == shared(page.agent<1>()));
  // A policy copied over other agents (not a supported use: load, or build a new policy) must
  // still never see a count go backwards: agent 0 has learned 1 page, fewer than the 2 the
  // policy averaged, and counts from its own start (1); agent 1 has 2 - 1. Finite weights.
  mr::Coordinator swapped{catalog, mr::FederatedAveraging(after_one_round), fed_agent(), fed_agent()};
  const mr::Slate w0 = swapped.recommend(context(0), all, 2, ranking);
  const mr::Slate w1 = swapped.recommend(context(1), all, 2, ranking);
  const mr::Slate w2 = swapped.recommend(context(3), all, 2, ranking);
  swapped.learn(w0.id, mr::Feedback{});
  swapped.learn(w1.id, mr::Feedback{});
  swapped.learn(w2.id, mr::Feedback{});
  CHECK(swapped.policy().rounds() == 2);
  CHECK(swapped.policy().last_round().total_weight == 2.0);

  // A context without a user cannot be routed to a shard.
  CHECK_THROWS_WITH_AS(page.recommend(mr::Context{.features = features, .items = catalog.embeddings()}, all, 2,
                                      ranking),
                       "FederatedAveraging: the context has no user (each user belongs to one agent's shard)",
                       mr::Error);
  // With privacy, the agents need a common start first.
  mr::Coordinator private_page{catalog, mr::FederatedAveraging({.privacy = {.enabled = true}}), fed_agent(),
                               fed_agent()};
  CHECK_THROWS_AS(private_page.recommend(context(0), all, 2, ranking), mr::Error);
}

TEST_CASE("FederatedAveraging: a v1 stream (no cadence, no per-agent counts) still loads") {
  // What version 1 wrote: the config without the policy's fields, rounds, parameters, accountant
  // (here a fresh one: the RDP of every order 0, no step).
  const auto orders = mr::detail::make_rdp_orders();
  std::stringstream v1;
  {
    mr::io::ModelWriter w(v1, "federated_averaging", 1);
    w.u64("privacy_enabled", 1);
    w.f64("clip_norm", 0.5);
    w.f64("noise_multiplier", 1.5);
    w.f64("delta", 1e-5);
    w.u64("seed", 4);
    w.f64("server_learning_rate", 1.0);
    w.u64("rounds", 1);
    w.u64("has_global", 1);
    const std::vector<float> global{0.25f, -0.5f};
    w.u64("global_size", global.size());
    w.floats("global", global);
    w.doubles("rdp_orders", orders);
    w.doubles("rdp", std::vector<double>(orders.size(), 0.0));
    w.u64("rdp_steps", 0);
    w.u64("rdp_unbounded", 0);
    w.finish();
  }
  mr::FederatedAveraging fed({.pages_per_round = 12, .proposals = 4});
  fed.load(v1);
  CHECK(fed.rounds() == 1);
  CHECK(fed.config().privacy.clip_norm == 0.5);
  CHECK(fed.config().seed == 4);
  CHECK(fed.config().pages_per_round == 12);  // kept: v1 did not hold them
  CHECK(fed.config().proposals == 4);
  CHECK(fed.epsilon() == mr::RdpAccountant().epsilon(1e-5));
  REQUIRE(fed.global_parameters().size() == 2);
  CHECK(fed.global_parameters()[1] == -0.5f);
}
