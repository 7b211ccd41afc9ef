#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/tabular_q.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::Candidates;
using marl_rec::Context;
using marl_rec::TabularQ;
using Transition = marl_rec::TabularQ::Transition;
using marl_rec::test::error_of;

static_assert(marl_rec::SequentialModel<TabularQ>);

std::vector<float> copy(std::span<const float> v) { return {v.begin(), v.end()}; }

// Applies `batch` one transition at a time through the public update overloads (a
// non-terminal transition bootstraps from all actions of its next state).
void apply_sequentially(TabularQ& model, const std::vector<Transition>& batch) {
  for (const Transition& t : batch) {
    if (t.terminal) {
      model.update(Context{.state = t.state}, t.action, t.reward);
    } else {
      model.update(Context{.state = t.state}, t.action, t.reward, Context{.state = t.next_state},
                   Candidates::all(model.actions()));
    }
  }
}

std::vector<Transition> random_batch(std::size_t n, std::size_t states, std::size_t actions,
                                     std::uint64_t seed) {
  marl_rec::Rng rng(seed);
  std::vector<Transition> batch(n);
  for (Transition& t : batch) {
    t.state = rng.below(states);
    t.action = rng.below(actions);
    t.reward = rng.uniform(-1.0, 1.0);
    t.next_state = rng.below(states);
    t.terminal = rng.bernoulli(0.2);
  }
  return batch;
}

}  // namespace

TEST_CASE("TabularQ starts every value at initial_q and scores by Q(state, item)") {
  TabularQ model({.states = 3, .actions = 4, .initial_q = 0.25f});
  CHECK(model.name() == "tabular_q");
  CHECK(model.values().size() == 12);
  for (const float v : model.values()) CHECK(v == 0.25f);
  model.update(Context{.state = 2}, 3, 1.0);  // 0.25 + 0.1 (1 − 0.25) = 0.325
  const std::vector<std::size_t> list = {3, 0, 3};
  std::vector<float> scores(3);
  model.score(Context{.state = 2}, Candidates(list), scores);
  CHECK(scores[0] == doctest::Approx(0.325f).epsilon(1e-6));
  CHECK(scores[1] == 0.25f);
  CHECK(scores[2] == scores[0]);
  std::vector<float> all(4);
  model.score(Context{.state = 2}, Candidates::all(4), all);
  CHECK(all[3] == scores[0]);
  CHECK(model.q(2, 3) == scores[0]);
  model.score(Context{.state = 1}, Candidates::all(4), all);
  CHECK(all == std::vector<float>(4, 0.25f));
  std::vector<float> none;
  model.score(Context{.state = 0}, Candidates{}, none);  // nothing to score is fine
}

TEST_CASE("TabularQ takes hand-computed TD(0) steps, terminal and bootstrapped") {
  TabularQ model({.states = 3, .actions = 2, .alpha = 0.5f, .gamma = 0.9f});
  // Terminal: Q(0, 1) = 0 + 0.5 (1 − 0) = 0.5.
  model.update(Context{.state = 0}, 1, 1.0);
  CHECK(model.q(0, 1) == 0.5f);
  // Bootstrapped over both actions of state 0: max = 0.5, so
  // Q(1, 0) = 0 + 0.5 (0.5 + 0.9 · 0.5 − 0) = 0.475.
  model.update(Context{.state = 1}, 0, 0.5, Context{.state = 0}, Candidates::all(2));
  CHECK(model.q(1, 0) == doctest::Approx(0.475).epsilon(1e-6));
  // Bootstrapped over the list {0} only: max = Q(0, 0) = 0, so
  // Q(2, 1) = 0 + 0.5 (0.5 + 0 − 0) = 0.25.
  const std::vector<std::size_t> only_left = {0};
  model.update(Context{.state = 2}, 1, 0.5, Context{.state = 0}, Candidates(only_left));
  CHECK(model.q(2, 1) == 0.25f);
  // A transition into its own state reads the value before the step:
  // Q(1, 0) = 0.475 + 0.5 (0 + 0.9 · 0.475 − 0.475) = 0.45125.
  model.update(Context{.state = 1}, 0, 0.0, Context{.state = 1}, Candidates::all(2));
  CHECK(model.q(1, 0) == doctest::Approx(0.45125).epsilon(1e-6));
  // Nothing else moved.
  CHECK(model.q(0, 0) == 0.0f);
  CHECK(model.q(1, 1) == 0.0f);
  CHECK(model.q(2, 0) == 0.0f);
}

TEST_CASE("TabularQ converges to the fixed point of a terminal reward") {
  TabularQ model({.states = 1, .actions = 1, .alpha = 0.5f, .initial_q = 4.0f});
  for (int i = 0; i < 60; ++i) model.update(Context{}, 0, -2.0);
  CHECK(model.q(0, 0) == doctest::Approx(-2.0).epsilon(1e-6));
}

TEST_CASE("TabularQ::update_batch equals sequential updates, repeats and chains included") {
  SUBCASE("the same (s, a) twice: the second step starts from the first's result") {
    TabularQ model({.states = 2, .actions = 2, .alpha = 0.5f});
    const std::vector<Transition> batch = {{.state = 1, .action = 0, .reward = 1.0, .terminal = true},
                                           {.state = 1, .action = 0, .reward = 1.0, .terminal = true}};
    model.update_batch(batch);
    CHECK(model.q(1, 0) == 0.75f);  // 0 → 0.5 → 0.75 (not 0.5, as two synchronous steps would give)
  }
  SUBCASE("a transition into a state updated earlier in the batch bootstraps from the new value") {
    TabularQ model({.states = 2, .actions = 2, .alpha = 0.5f, .gamma = 0.9f});
    const std::vector<Transition> batch = {
        {.state = 1, .action = 1, .reward = 1.0, .terminal = true},                   // Q(1,1) = 0.5
        {.state = 0, .action = 0, .reward = 0.0, .next_state = 1, .terminal = false}};  // 0.5·0.9·0.5
    model.update_batch(batch);
    CHECK(model.q(1, 1) == 0.5f);
    CHECK(model.q(0, 0) == doctest::Approx(0.225).epsilon(1e-6));
  }
  SUBCASE("random batches over a small table (many conflicts) and a large one (long runs)") {
    struct Shape {
      std::size_t states, actions, n;
    };
    for (const Shape shape : {Shape{3, 2, 300}, Shape{500, 4, 200}, Shape{64, 3, 1000}}) {
      CAPTURE(shape.states);
      const marl_rec::TabularQConfig config{.states = shape.states, .actions = shape.actions,
                                            .alpha = 0.3f, .gamma = 0.8f, .initial_q = 0.1f};
      TabularQ batched(config);
      TabularQ sequential(config);
      for (std::uint64_t round = 0; round < 3; ++round) {
        const auto batch = random_batch(shape.n, shape.states, shape.actions, 100 + round);
        batched.update_batch(batch);
        apply_sequentially(sequential, batch);
      }
      // Both paths run the TD kernel's vector body on the same values: bit-identical results.
      CHECK(copy(batched.values()) == copy(sequential.values()));
      // And the batches really moved the table.
      std::size_t changed = 0;
      for (const float v : batched.values()) changed += v != 0.1f;
      CHECK(changed >= std::min<std::size_t>(batched.values().size(), 100));
    }
  }
  SUBCASE("an empty batch changes nothing") {
    TabularQ model({.states = 2, .actions = 2});
    model.update_batch({});
    CHECK(model.values()[0] == 0.0f);
  }
}

TEST_CASE("TabularQ rejects bad input with an Error and stays unchanged") {
  TabularQ model({.states = 3, .actions = 2, .alpha = 0.5f});
  model.update(Context{.state = 1}, 1, 2.0);
  const std::vector<float> before = copy(model.values());
  std::vector<float> scores(2);

  CHECK(error_of([&] { model.update(Context{.state = 3}, 0, 1.0); }) ==
        "TabularQ::update: context.state 3 is out of range (the model has 3 states)");
  CHECK(error_of([&] { model.update(Context{.state = 0}, 2, 1.0); }) ==
        "TabularQ::update: item 2 is out of range (the model has 2 actions)");
  CHECK(error_of([&] {
          model.update(Context{}, 0, std::numeric_limits<double>::quiet_NaN());
        }).find("TabularQ::update: reward nan is not finite") == 0);
  CHECK(error_of([&] { model.update(Context{}, 0, 1e300); }).find("is not finite as a float") !=
        std::string::npos);
  CHECK(error_of([&] {
          model.update(Context{}, 0, 1.0, Context{.state = 7}, Candidates::all(2));
        }) == "TabularQ::update: next.state 7 is out of range (the model has 3 states)");
  CHECK(error_of([&] { model.update(Context{}, 0, 1.0, Context{.state = 1}, Candidates{}); })
            .find("next_candidates is empty") != std::string::npos);
  const std::vector<std::size_t> bad_list = {1, 5};
  CHECK(error_of([&] {
          model.update(Context{}, 0, 1.0, Context{.state = 1}, Candidates(bad_list));
        }) == "TabularQ::update: next_candidates include item 5, out of range (the model has 2 "
              "actions)");
  CHECK(error_of([&] { model.score(Context{}, Candidates::all(3), std::span<float>()); }) ==
        "TabularQ::score: scores has 0 entries, there are 3 candidates");
  std::vector<float> three(3);
  CHECK(error_of([&] { model.score(Context{}, Candidates::all(3), three); }) ==
        "TabularQ::score: candidates include item 2, out of range (the model has 2 actions)");
  CHECK(error_of([&] { model.score(Context{.state = 9}, Candidates::all(2), scores); }) ==
        "TabularQ::score: context.state 9 is out of range (the model has 3 states)");
  CHECK(error_of([&] { (void)model.q(0, 2); }) ==
        "TabularQ::q: item 2 is out of range (the model has 2 actions)");

  // A batch is checked whole before any transition is applied.
  const std::vector<Transition> batch = {
      {.state = 0, .action = 0, .reward = 1.0, .terminal = true},
      {.state = 1, .action = 1, .reward = 1.0, .next_state = 3, .terminal = false}};
  CHECK(error_of([&] { model.update_batch(batch); }) ==
        "TabularQ::update_batch: transition 1: next_state 3 is out of range (the model has 3 "
        "states)");
  const std::vector<Transition> nan_batch = {
      {.state = 0, .action = 0, .reward = 1.0, .terminal = true},
      {.state = 0, .action = 0, .reward = std::numeric_limits<double>::infinity(), .terminal = true}};
  CHECK(error_of([&] { model.update_batch(nan_batch); })
            .find("TabularQ::update_batch: transition 1: reward inf is not finite") == 0);
  // A terminal transition's next_state is not read.
  CHECK(copy(model.values()) == before);
  model.update_batch(std::vector<Transition>{{.state = 0, .action = 0, .next_state = 99, .terminal = true}});
}

TEST_CASE("TabularQ rejects invalid configurations") {
  CHECK(error_of([] { TabularQ({.states = 0}); }) ==
        "TabularQ: states (0) and actions (1) must be at least 1");
  CHECK(error_of([] { TabularQ({.alpha = 0.0f}); }).find("alpha must be in (0, 1]") !=
        std::string::npos);
  CHECK(error_of([] { TabularQ({.alpha = 1.5f}); }).find("alpha must be in (0, 1]") !=
        std::string::npos);
  CHECK(error_of([] { TabularQ({.gamma = -0.1f}); }).find("gamma must be in [0, 1]") !=
        std::string::npos);
  CHECK(error_of([] { TabularQ({.initial_q = std::numeric_limits<float>::infinity()}); })
            .find("initial_q must be finite") != std::string::npos);
  CHECK(error_of([] {
          TabularQ({.states = std::size_t{1} << 40, .actions = std::size_t{1} << 40});
        }).find("is too large") != std::string::npos);
}

TEST_CASE("TabularQ save/load round-trips bit-identically and rejects bad streams") {
  TabularQ model({.states = 4, .actions = 3, .alpha = 0.3f, .gamma = 0.7f, .initial_q = 0.5f});
  model.update_batch(random_batch(50, 4, 3, 9));
  std::stringstream stream;
  model.save(stream);
  const std::string bytes = stream.str();

  TabularQ loaded;  // 1 × 1: load replaces the shape too
  std::istringstream in(bytes);
  loaded.load(in);
  CHECK(loaded.states() == 4);
  CHECK(loaded.actions() == 3);
  CHECK(loaded.config().alpha == 0.3f);
  CHECK(loaded.config().gamma == 0.7f);
  CHECK(loaded.config().initial_q == 0.5f);
  CHECK(copy(loaded.values()) == copy(model.values()));
  for (std::size_t s = 0; s < 4; ++s) {
    std::vector<float> a(3), b(3);
    model.score(Context{.state = s}, Candidates::all(3), a);
    loaded.score(Context{.state = s}, Candidates::all(3), b);
    CHECK(a == b);
  }
  // And it learns on identically.
  model.update(Context{.state = 1}, 2, 1.0, Context{.state = 3}, Candidates::all(3));
  loaded.update(Context{.state = 1}, 2, 1.0, Context{.state = 3}, Candidates::all(3));
  CHECK(copy(loaded.values()) == copy(model.values()));

  const std::vector<float> kept = copy(loaded.values());
  SUBCASE("every truncation is an Error and leaves the model unchanged") {
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      std::istringstream cut(bytes.substr(0, n));
      CHECK_THROWS_AS(loaded.load(cut), marl_rec::Error);
    }
    CHECK(copy(loaded.values()) == kept);
    CHECK(loaded.states() == 4);
  }
  SUBCASE("a corrupted value fails the checksum") {
    std::string bad = bytes;
    bad[bad.size() - 12] ^= 0x01;
    std::istringstream corrupted(bad);
    CHECK(error_of([&] { loaded.load(corrupted); }) ==
          "loading a 'tabular_q' model: checksum mismatch (the stream is corrupted)");
    CHECK(copy(loaded.values()) == kept);
  }
  SUBCASE("another model type is an Error naming it") {
    std::stringstream other;
    marl_rec::LinearQ({}, 2, 2).save(other);
    CHECK(error_of([&] { loaded.load(other); }) ==
          "loading a 'tabular_q' model: the stream holds a 'linear_q' model");
    CHECK(copy(loaded.values()) == kept);
  }
}
