#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/concepts/federated_model.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/models/feature_map.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/tabular_q.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::Candidates;
using marl_rec::Context;
using marl_rec::FeatureMap;
using marl_rec::LinearQ;
using marl_rec::MatrixView;
using marl_rec::test::error_of;

static_assert(marl_rec::SequentialModel<LinearQ>);

std::vector<float> copy(std::span<const float> v) { return {v.begin(), v.end()}; }

std::vector<float> random_values(std::size_t n, marl_rec::Rng& rng) {
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.uniform(-1.0, 1.0));
  return v;
}

// A random stream of (context, item, reward, next context) over a fixed item matrix: features
// of dx values, a history of 0..3 items, bootstrapped 2 times in 3.
struct Stream {
  std::size_t dx, da, n_items;
  std::vector<float> items;
  std::vector<std::vector<float>> features;
  std::vector<std::vector<std::size_t>> histories;
  std::vector<std::size_t> chosen;
  std::vector<double> rewards;

  Stream(std::size_t context_dim, std::size_t item_dim, std::size_t count, std::size_t steps,
         std::uint64_t seed)
      : dx(context_dim), da(item_dim), n_items(count) {
    marl_rec::Rng rng(seed);
    items = random_values(n_items * da, rng);
    for (std::size_t t = 0; t <= steps; ++t) {
      features.push_back(random_values(dx, rng));
      std::vector<std::size_t> h(rng.below(4));
      for (std::size_t& i : h) i = rng.below(n_items);
      histories.push_back(h);
      chosen.push_back(rng.below(n_items));
      rewards.push_back(rng.uniform());
    }
  }
  MatrixView matrix() const { return MatrixView(std::span<const float>(items), n_items, da); }
  Context context(std::size_t t) const {
    return Context{.features = features[t], .items = matrix(), .history = histories[t]};
  }
  // Steps [begin, end) of the stream: step t's next state is step t + 1's context.
  void train(LinearQ& model, std::size_t begin, std::size_t end) const {
    for (std::size_t t = begin; t < end; ++t) {
      if (t % 3 == 2) {
        model.update(context(t), chosen[t], rewards[t]);
      } else {
        model.update(context(t), chosen[t], rewards[t], context(t + 1),
                     Candidates::all(n_items));
      }
    }
  }
};

// w · φ(s, a) with φ materialised, in double: the reference the fast scoring paths must match.
double reference_q(const LinearQ& model, const Context& c, std::size_t item) {
  std::vector<float> s(c.features.begin(), c.features.end());
  const std::size_t da = c.items.cols();
  if (model.config().history_in_state) {
    std::vector<float> mean(da, 0.0f);
    for (const std::size_t h : c.history) {
      for (std::size_t j = 0; j < da; ++j) mean[j] += c.items.row(h)[j];
    }
    for (float& m : mean) m = c.history.empty() ? 0.0f : m / static_cast<float>(c.history.size());
    s.insert(s.end(), mean.begin(), mean.end());
  }
  std::vector<float> phi(marl_rec::feature_dim(model.config().features, s.size(), da));
  marl_rec::write_features(model.config().features, s, c.items.row(item), phi);
  double q = 0.0;
  for (std::size_t i = 0; i < phi.size(); ++i) q += double(model.weights()[i]) * phi[i];
  return q;
}

}  // namespace

TEST_CASE("LinearQ takes hand-computed semi-gradient steps (concat, terminal and bootstrapped)") {
  // Items a0 = [1, 0], a1 = [0, 1]; states x = [1, 2] and x' = [0, 1]; φ = [x, a].
  const std::vector<float> items = {1, 0, 0, 1};
  const MatrixView m(std::span<const float>(items), 2, 2);
  const std::vector<float> x = {1, 2};
  const std::vector<float> x_next = {0, 1};
  const Context c{.features = x, .items = m};
  const Context c_next{.features = x_next, .items = m};
  LinearQ model({.alpha = 0.5f, .gamma = 0.9f, .history_in_state = false});
  CHECK(model.name() == "linear_q");
  CHECK_FALSE(model.dims_fixed());

  // Terminal: δ = 1 − 0, w = 0.5 · [1, 2, 1, 0].
  model.update(c, 0, 1.0);
  CHECK(model.dims_fixed());
  CHECK(model.context_dim() == 2);
  CHECK(model.item_dim() == 2);
  CHECK(model.state_dim() == 2);
  CHECK(copy(model.weights()) == std::vector<float>{0.5f, 1.0f, 0.5f, 0.0f});
  std::vector<float> scores(2);
  model.score(c, Candidates::all(2), scores);
  CHECK(scores == std::vector<float>{3.0f, 2.5f});

  // Bootstrapped: Q(x, a1) = 2.5; Q(x', a0) = 1 + 0.5 = 1.5, Q(x', a1) = 1, max 1.5;
  // δ = 0 + 0.9 · 1.5 − 2.5 = −1.15; w += 0.5 · −1.15 · [1, 2, 0, 1].
  model.update(c, 1, 0.0, c_next, Candidates::all(2));
  const std::vector<float> expected = {-0.075f, -0.15f, 0.5f, -0.575f};
  for (std::size_t i = 0; i < 4; ++i) CHECK(model.weights()[i] == doctest::Approx(expected[i]).epsilon(1e-6));

  // The max runs over next_candidates only: with {a1}, max = Q(x', a1) = −0.15 − 0.575.
  LinearQ listed({.alpha = 0.5f, .gamma = 0.9f, .history_in_state = false});
  listed.update(c, 0, 1.0);
  const std::vector<std::size_t> only_a1 = {1};
  listed.update(c, 1, 0.0, c_next, Candidates(only_a1));
  // Q(x', a1) = 1 before the step, δ = 0.9 · 1 − 2.5 = −1.6, w += −0.8 · [1, 2, 0, 1].
  const std::vector<float> expected_listed = {-0.3f, -0.6f, 0.5f, -0.8f};
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(listed.weights()[i] == doctest::Approx(expected_listed[i]).epsilon(1e-6));
  }
}

TEST_CASE("LinearQ's state is the user vector plus the mean of the history's items") {
  // a0 = [1, 0], a1 = [0, 2], a2 = [4, 0]; history {0, 2}: mean [2.5, 0]; s = [1, 2.5, 0].
  const std::vector<float> items = {1, 0, 0, 2, 4, 0};
  const MatrixView m(std::span<const float>(items), 3, 2);
  const std::vector<float> x = {1};
  const std::vector<std::size_t> history = {0, 2};
  LinearQ model({.alpha = 0.1f});  // concat, history_in_state = true
  model.update(Context{.features = x, .items = m, .history = history}, 1, 1.0);
  CHECK(model.state_dim() == 3);
  // δ = 1: w = 0.1 · [1, 2.5, 0, 0, 2].
  const std::vector<float> w = {0.1f, 0.25f, 0.0f, 0.0f, 0.2f};
  for (std::size_t i = 0; i < 5; ++i) CHECK(model.weights()[i] == doctest::Approx(w[i]).epsilon(1e-6));
  std::vector<float> scores(3);
  model.score(Context{.features = x, .items = m, .history = history}, Candidates::all(3), scores);
  CHECK(scores[0] == doctest::Approx(0.725).epsilon(1e-6));  // 0.1 + 0.625 + 0
  CHECK(scores[1] == doctest::Approx(1.125).epsilon(1e-6));  // 0.1 + 0.625 + 0.4
  CHECK(scores[2] == doctest::Approx(0.725).epsilon(1e-6));
  // An empty history contributes zeros: s = [1, 0, 0].
  model.score(Context{.features = x, .items = m}, Candidates::all(3), scores);
  CHECK(scores[1] == doctest::Approx(0.5).epsilon(1e-6));
}

TEST_CASE("LinearQ scores w·φ for every feature map, without materialising φ") {
  for (const FeatureMap map : {FeatureMap::item, FeatureMap::concat, FeatureMap::cross}) {
    for (const bool history : {false, true}) {
      CAPTURE(to_string(map));
      CAPTURE(history);
      const Stream stream(3, 5, 37, 40, 7);
      LinearQ model({.features = map, .alpha = 0.05f, .gamma = 0.8f, .history_in_state = history});
      stream.train(model, 0, 40);
      const Context c = stream.context(40);
      std::vector<float> all(37);
      model.score(c, Candidates::all(37), all);
      double worst = 0.0;
      for (std::size_t i = 0; i < 37; ++i) {
        worst = std::max(worst, std::abs(all[i] - reference_q(model, c, i)));
      }
      CHECK(worst <= 1e-5);
      CHECK(std::abs(all[0]) > 1e-3);  // the weights are not trivially zero
      // A candidate list scores an item bit-identically to Candidates::all.
      std::vector<std::size_t> reversed(37);
      for (std::size_t i = 0; i < 37; ++i) reversed[i] = 36 - i;
      std::vector<float> listed(37);
      model.score(c, Candidates(reversed), listed);
      for (std::size_t i = 0; i < 37; ++i) CHECK(listed[i] == all[36 - i]);
    }
  }
}

TEST_CASE("LinearQ scores both SIMD row paths (item dims that are and are not batch multiples)") {
  for (const std::size_t da : {std::size_t{1}, std::size_t{8}, std::size_t{16}, std::size_t{19}}) {
    CAPTURE(da);
    const Stream stream(2, da, 21, 20, 3);
    LinearQ model({.features = FeatureMap::cross, .alpha = 0.05f});
    stream.train(model, 0, 20);
    const Context c = stream.context(20);
    std::vector<float> all(21);
    model.score(c, Candidates::all(21), all);
    const std::vector<std::size_t> list = {20, 3, 3, 0};
    std::vector<float> listed(4);
    model.score(c, Candidates(list), listed);
    CHECK(listed == std::vector<float>{all[20], all[3], all[3], all[0]});
    for (std::size_t i = 0; i < 21; ++i) CHECK(all[i] == doctest::Approx(reference_q(model, c, i)).epsilon(1e-5));
  }
}

TEST_CASE("LinearQ fixes its dimensions once and checks them after") {
  const std::vector<float> items = {1, 0, 0, 1, 1, 1};
  const MatrixView m(std::span<const float>(items), 3, 2);
  const std::vector<float> x = {1, 2};
  std::vector<float> scores(3);

  SUBCASE("before the first update every score is 0, for any dimensions") {
    const LinearQ model;
    const std::vector<float> other = {1, 2, 3, 4};
    model.score(Context{.features = other, .items = m}, Candidates::all(3), scores);
    CHECK(scores == std::vector<float>(3, 0.0f));
    CHECK(model.weights().empty());
    CHECK(error_of([&] { model.score(Context{.items = m}, Candidates::all(4), std::span<float>(scores.data(), 3)); }) ==
          "LinearQ::score: scores has 3 entries, there are 4 candidates");
  }
  SUBCASE("the explicit constructor fixes them") {
    LinearQ model({.features = FeatureMap::cross}, 2, 2);
    CHECK(model.dims_fixed());
    CHECK(model.state_dim() == 4);
    CHECK(model.weights().size() == 8);
    model.score(Context{.features = x, .items = m}, Candidates::all(3), scores);
    CHECK(scores == std::vector<float>(3, 0.0f));
    CHECK(error_of([] { LinearQ({}, 2, 0); }) ==
          "LinearQ: items have 0 values (the item dimension must be at least 1)");
    CHECK(error_of([] { LinearQ({.features = FeatureMap::cross, .history_in_state = false}, 0, 3); }) ==
          "LinearQ: phi would have no dimension (0 state values x 3 item values, cross)");
  }
  SUBCASE("after the first update, other dimensions are an Error naming both numbers") {
    LinearQ model;
    model.update(Context{.features = x, .items = m}, 0, 1.0);
    const std::vector<float> w = copy(model.weights());
    const std::vector<float> x3 = {1, 2, 3};
    CHECK(error_of([&] { model.update(Context{.features = x3, .items = m}, 0, 1.0); }) ==
          "LinearQ::update: context.features has 3 values, the model's context dimension is 2");
    CHECK(error_of([&] { model.score(Context{.features = x3, .items = m}, Candidates::all(3), scores); }) ==
          "LinearQ::score: context.features has 3 values, the model's context dimension is 2");
    const MatrixView wide(std::span<const float>(items), 2, 3);
    CHECK(error_of([&] {
            model.update(Context{.features = x, .items = m}, 0, 1.0, Context{.features = x, .items = wide},
                         Candidates::all(2));
          }) == "LinearQ::update: next.items has rows of 3 values, the model's item dimension is 2");
    CHECK(copy(model.weights()) == w);
  }
}

TEST_CASE("LinearQ rejects bad input with an Error and leaves the model unchanged") {
  const std::vector<float> items = {1, 0, 0, 1, 1, 1};
  const MatrixView m(std::span<const float>(items), 3, 2);
  const std::vector<float> x = {1, 2};
  const std::vector<std::size_t> bad_history = {0, 3};
  const std::vector<float> nan_x = {1, std::numeric_limits<float>::quiet_NaN()};
  const Context c{.features = x, .items = m};

  SUBCASE("on the first update, the dimensions stay unfixed") {
    LinearQ model;
    CHECK(error_of([&] { model.update(c, 0, std::numeric_limits<double>::infinity()); })
              .find("LinearQ::update: reward inf is not finite") == 0);
    CHECK(error_of([&] { model.update(Context{.features = x, .items = m, .history = bad_history}, 0, 1.0); }) ==
          "LinearQ::update: context.history names item 3, but the item matrix has 3 rows");
    CHECK(error_of([&] { model.update(Context{.features = nan_x, .items = m}, 0, 1.0); })
              .find("LinearQ::update: the TD error is not finite") == 0);
    CHECK_FALSE(model.dims_fixed());
    CHECK(model.weights().empty());
    CHECK(model.updates() == 0);
  }
  SUBCASE("later updates") {
    LinearQ model({.alpha = 0.5f, .replay_capacity = 4, .replay_batch = 2});
    model.update(c, 0, 1.0);
    const std::vector<float> w = copy(model.weights());
    CHECK(error_of([&] { model.update(c, 3, 1.0); }) ==
          "LinearQ::update: item 3 is out of range (the item matrix has 3 rows)");
    CHECK(error_of([&] { model.update(c, 0, 1e40); }).find("is not finite as a float") !=
          std::string::npos);
    CHECK(error_of([&] { model.update(c, 0, 1.0, c, Candidates{}); })
              .find("LinearQ::update: next_candidates is empty") == 0);
    CHECK(error_of([&] { model.update(c, 0, 1.0, c, Candidates::all(4)); }) ==
          "LinearQ::update: next_candidates include item 3, but the item matrix has 3 rows");
    CHECK(error_of([&] {
            model.update(c, 0, 1.0, Context{.features = x, .items = m, .history = bad_history},
                         Candidates::all(3));
          }) == "LinearQ::update: next.history names item 3, but the item matrix has 3 rows");
    CHECK(error_of([&] { model.update(c, 0, 1.0, Context{.features = nan_x, .items = m}, Candidates::all(3)); })
              .find("LinearQ::update: the TD error is not finite") == 0);
    std::vector<float> scores(3);
    CHECK(error_of([&] { model.score(c, Candidates::all(4), std::span<float>(scores.data(), 3)); }) ==
          "LinearQ::score: scores has 3 entries, there are 4 candidates");
    std::vector<float> four(4);
    CHECK(error_of([&] { model.score(c, Candidates::all(4), four); }) ==
          "LinearQ::score: candidates include item 3, but the item matrix has 3 rows");
    CHECK(error_of([&] {
            model.score(Context{.features = x, .items = m, .history = bad_history},
                        Candidates::all(3), scores);
          }) == "LinearQ::score: context.history names item 3, but the item matrix has 3 rows");
    CHECK(copy(model.weights()) == w);
    CHECK(model.updates() == 1);
    CHECK(model.replay_size() == 1);
  }
}

TEST_CASE("LinearQ rejects invalid configurations") {
  CHECK(error_of([] { LinearQ({.features = FeatureMap::context}); }).find("FeatureMap::context") !=
        std::string::npos);
  CHECK(error_of([] { LinearQ({.alpha = 0.0f}); }) ==
        "LinearQ: alpha must be finite and positive, got 0.000000");
  CHECK(error_of([] { LinearQ({.alpha = std::numeric_limits<float>::quiet_NaN()}); })
            .find("alpha must be finite and positive") != std::string::npos);
  CHECK(error_of([] { LinearQ({.gamma = 1.01f}); }).find("gamma must be in [0, 1]") !=
        std::string::npos);
  CHECK(error_of([] { LinearQ({.replay_capacity = 8, .replay_batch = 0}); }) ==
        "LinearQ: replay_batch must be at least 1 when replay_capacity is 8");
}

TEST_CASE("LinearQ replay: hand-computed targets from the weights before the replayed batch") {
  // One item a = [1], x = [1], φ = [1, 1], α = 0.25, a terminal reward 1.
  const std::vector<float> items = {1};
  const MatrixView m(std::span<const float>(items), 1, 1);
  const std::vector<float> x = {1};
  const Context c{.features = x, .items = m};
  std::vector<float> q(1);
  // No replay: w = 0.25 · [1, 1], Q = 0.5.
  LinearQ plain({.alpha = 0.25f, .history_in_state = false});
  plain.update(c, 0, 1.0);
  plain.score(c, Candidates::all(1), q);
  CHECK(q[0] == 0.5f);
  // One replay of the only stored transition: δ = 1 − 0.5, w += 0.125 · [1, 1], Q = 0.75.
  LinearQ once({.alpha = 0.25f, .replay_capacity = 1, .replay_batch = 1, .history_in_state = false});
  once.update(c, 0, 1.0);
  once.score(c, Candidates::all(1), q);
  CHECK(q[0] == 0.75f);
  // Two replays: both targets are formed before either step (δ = 0.5 twice), so Q = 1.0
  // (sequential replays would give 0.875).
  LinearQ twice({.alpha = 0.25f, .replay_capacity = 1, .replay_batch = 2, .history_in_state = false});
  twice.update(c, 0, 1.0);
  twice.score(c, Candidates::all(1), q);
  CHECK(q[0] == 1.0f);
  CHECK(twice.replay_size() == 1);
}

TEST_CASE("LinearQ replay is deterministic given the seed, and survives save/load") {
  const Stream stream(3, 4, 9, 60, 11);
  const marl_rec::LinearQConfig config{.features = FeatureMap::cross, .alpha = 0.02f,
                                       .gamma = 0.9f, .replay_capacity = 16, .replay_batch = 4,
                                       .seed = 5};
  LinearQ a(config), b(config);
  stream.train(a, 0, 60);
  stream.train(b, 0, 60);
  CHECK(copy(a.weights()) == copy(b.weights()));
  CHECK(a.replay_size() == 16);  // the ring buffer is full and was overwritten

  marl_rec::LinearQConfig other_seed = config;
  other_seed.seed = 6;
  LinearQ c(other_seed);
  stream.train(c, 0, 60);
  CHECK(copy(c.weights()) != copy(a.weights()));

  LinearQ no_replay({.features = FeatureMap::cross, .alpha = 0.02f, .gamma = 0.9f});
  stream.train(no_replay, 0, 60);
  CHECK(copy(no_replay.weights()) != copy(a.weights()));

  // Saved halfway, loaded into a fresh model and trained on: the same weights as uninterrupted.
  LinearQ first(config);
  stream.train(first, 0, 30);
  std::stringstream saved;
  first.save(saved);
  LinearQ resumed;
  resumed.load(saved);
  CHECK(resumed.updates() == 30);
  CHECK(resumed.replay_size() == 16);
  stream.train(resumed, 30, 60);
  CHECK(copy(resumed.weights()) == copy(a.weights()));
}

TEST_CASE("LinearQ save/load round-trips bit-identically and rejects bad streams") {
  const Stream stream(2, 3, 6, 12, 17);
  LinearQ model({.features = FeatureMap::concat, .alpha = 0.1f, .gamma = 0.5f,
                 .replay_capacity = 5, .replay_batch = 2, .seed = 9});
  stream.train(model, 0, 12);
  std::stringstream out;
  model.save(out);
  const std::string bytes = out.str();

  LinearQ loaded({.features = FeatureMap::item});
  std::istringstream in(bytes);
  loaded.load(in);
  CHECK(loaded.config().features == FeatureMap::concat);
  CHECK(loaded.config().alpha == 0.1f);
  CHECK(loaded.config().replay_capacity == 5);
  CHECK(loaded.config().seed == 9);
  CHECK(loaded.context_dim() == 2);
  CHECK(loaded.item_dim() == 3);
  CHECK(copy(loaded.weights()) == copy(model.weights()));
  for (std::size_t t = 0; t < 12; ++t) {
    std::vector<float> a(6), b(6);
    model.score(stream.context(t), Candidates::all(6), a);
    loaded.score(stream.context(t), Candidates::all(6), b);
    CHECK(a == b);
  }

  SUBCASE("an unfitted model round-trips too") {
    std::stringstream empty;
    LinearQ({.features = FeatureMap::cross, .seed = 3}).save(empty);
    LinearQ target;
    target.load(empty);
    CHECK_FALSE(target.dims_fixed());
    CHECK(target.config().features == FeatureMap::cross);
    CHECK(target.config().seed == 3);
  }
  SUBCASE("every truncation is an Error and leaves the model unchanged") {
    const std::vector<float> kept = copy(loaded.weights());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      std::istringstream cut(bytes.substr(0, n));
      CHECK_THROWS_AS(loaded.load(cut), marl_rec::Error);
    }
    CHECK(copy(loaded.weights()) == kept);
    CHECK(loaded.replay_size() == 5);
  }
  SUBCASE("another model type is an Error naming it") {
    std::stringstream other;
    marl_rec::TabularQ().save(other);
    const std::vector<float> kept = copy(loaded.weights());
    CHECK(error_of([&] { loaded.load(other); }) ==
          "loading a 'linear_q' model: the stream holds a 'tabular_q' model");
    CHECK(copy(loaded.weights()) == kept);
  }
}

TEST_CASE("LinearQ: shared parameters are the weights, the round trip is exact") {
  static_assert(marl_rec::FederatedModel<LinearQ>);
  LinearQ model({.features = FeatureMap::cross, .alpha = 0.05f, .replay_capacity = 4,
                 .replay_batch = 2, .seed = 5});
  CHECK(model.shared_parameters().empty());
  model.set_shared_parameters({});  // no dimensions yet: nothing to set
  CHECK_FALSE(model.dims_fixed());
  const std::vector<float> one{1.0f};
  CHECK(error_of([&] { model.set_shared_parameters(one); }) ==
        "LinearQ::set_shared_parameters: got 1 values, the model has 0 weights (no dimensions "
        "yet)");

  const Stream stream(2, 3, 6, 10, 23);
  stream.train(model, 0, 10);
  REQUIRE(model.shared_parameters().size() == (2 + 3) * 3);  // cross: ds × da
  CHECK(model.shared_parameters().data() == model.weights().data());
  const std::vector<float> shared = copy(model.shared_parameters());
  std::vector<float> before(6), after(6);
  model.score(stream.context(3), Candidates::all(6), before);
  std::stringstream saved_before;
  model.save(saved_before);
  model.set_shared_parameters(shared);
  model.score(stream.context(3), Candidates::all(6), after);
  CHECK(after == before);
  std::stringstream saved_after;
  model.save(saved_after);
  CHECK(saved_after.str() == saved_before.str());

  // Set weights score as w · φ, and the replay buffer (local) is kept.
  marl_rec::Rng rng(3);
  const std::vector<float> w = random_values(15, rng);
  model.set_shared_parameters(w);
  CHECK(copy(model.weights()) == w);
  CHECK(model.replay_size() == 4);
  model.score(stream.context(4), Candidates::all(6), after);
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(after[i] == doctest::Approx(reference_q(model, stream.context(4), i)).epsilon(1e-5));
  }
}

TEST_CASE("LinearQ: set_shared_parameters rejects a wrong size or a non-finite value") {
  LinearQ model({.features = FeatureMap::concat}, 2, 3);  // φ = [s (2 + 3), a (3)]: 8 weights
  const std::vector<float> wrong(9, 0.0f);
  CHECK(error_of([&] { model.set_shared_parameters(wrong); }) ==
        "LinearQ::set_shared_parameters: got 9 values, the model has 8 weights");
  std::vector<float> bad(8, 0.25f);
  bad[2] = std::numeric_limits<float>::quiet_NaN();
  CHECK(error_of([&] { model.set_shared_parameters(bad); }) ==
        "LinearQ::set_shared_parameters: value 2 is not finite");
  CHECK(copy(model.weights()) == std::vector<float>(8, 0.0f));
}
