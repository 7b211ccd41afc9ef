// Saving and loading explorers: config, Rng state and counters, so that a loaded explorer
// chooses exactly what the saved one would have.
#include <doctest/doctest.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/softmax.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/explore/ucb.hpp"
#include "support/errors.hpp"
#include "support/stream_checks.hpp"
#include "support/stream_fields.hpp"
#include "support/toy_model.hpp"

namespace mr = marl_rec;
using mr::test::load_error;
using mr::test::saved;
using mr::test::ToyModel;

namespace {

// An explorer that saves but cannot load: not a PersistentExplorer.
struct SaveOnly {
  std::string_view name() const { return "save_only"; }
  template <class M, class Exclude>
  void choose(const M&, const mr::Context&, mr::Candidates, std::size_t, const Exclude&, mr::Decision&) {}
  void save(std::ostream&) const {}
};

// 20 items with random means, bonuses and posterior spreads (so every explorer draws).
ToyModel random_toy() {
  mr::Rng rng(77);
  ToyModel m;
  for (int i = 0; i < 20; ++i) {
    m.means.push_back(static_cast<float>(rng.uniform()));
    m.bonus.push_back(static_cast<float>(rng.uniform()));
    m.sd.push_back(static_cast<float>(0.3 * rng.uniform()));
  }
  return m;
}

// Step t's request: every item, or a varying list of them, and a varying k.
struct Request {
  std::vector<std::size_t> list;
  bool all = false;
  std::size_t k = 1;
};

Request request(int t) {
  Request r;
  r.all = t % 3 == 0;
  r.k = 1 + static_cast<std::size_t>(t % 4);
  for (std::size_t i = static_cast<std::size_t>(t % 5); i < 20; i += 2) r.list.push_back(i);
  return r;
}

template <class E>
mr::Decision choose(E& explorer, const ToyModel& model, int t) {
  const Request r = request(t);
  const mr::Candidates candidates = r.all ? mr::Candidates::all(20) : mr::Candidates(r.list);
  mr::Decision d;
  explorer.choose(model, mr::Context{}, candidates, r.k, mr::NoExclusion{}, d);
  return d;
}

template <class T>
std::vector<std::uint32_t> bits(const std::vector<T>& v) {
  std::vector<std::uint32_t> out;
  for (const T x : v) out.push_back(std::bit_cast<std::uint32_t>(static_cast<float>(x)));
  return out;
}

// Runs `original` 25 steps, saves it, loads the bytes into `other` (built with another config),
// and runs both 40 more steps: every choice must be the same, bit for bit, and so must the
// bytes each saves at the end.
template <class E>
void check_continues_exactly(E original, E other) {
  const ToyModel model = random_toy();
  for (int t = 0; t < 25; ++t) choose(original, model, t);
  const std::string bytes = saved(original);
  CHECK(saved(other) != bytes);
  CHECK(load_error(other, bytes) == "no error");
  CHECK(saved(other) == bytes);
  for (int t = 25; t < 65; ++t) {
    const mr::Decision a = choose(original, model, t);
    const mr::Decision b = choose(other, model, t);
    CHECK(a.items == b.items);
    CHECK(bits(a.scores) == bits(b.scores));
    CHECK(bits(a.propensities) == bits(b.propensities));
  }
  CHECK(saved(other) == saved(original));
}

std::string nan_text() { return std::to_string(std::numeric_limits<double>::quiet_NaN()); }

}  // namespace

static_assert(mr::PersistentExplorer<mr::Greedy>);
static_assert(mr::PersistentExplorer<mr::EpsilonGreedy>);
static_assert(mr::PersistentExplorer<mr::Softmax>);
static_assert(mr::PersistentExplorer<mr::Thompson>);
static_assert(mr::PersistentExplorer<mr::Ucb>);
static_assert(mr::ExplorerFor<SaveOnly, ToyModel>);
static_assert(!mr::PersistentExplorer<SaveOnly>);

TEST_CASE("Explorers: save, load into another config and go on gives the same choices bit for bit") {
  SUBCASE("epsilon_greedy, with ε decaying over decisions") {
    check_continues_exactly(mr::EpsilonGreedy({.epsilon = 0.6, .decay = 0.05, .min_epsilon = 0.1, .seed = 3}),
                            mr::EpsilonGreedy({.epsilon = 0.2, .seed = 9}));
    mr::EpsilonGreedy decaying({.epsilon = 0.5, .decay = 0.5, .seed = 1});
    const ToyModel model = random_toy();
    for (int t = 0; t < 7; ++t) choose(decaying, model, t);
    mr::EpsilonGreedy loaded;
    CHECK(load_error(loaded, saved(decaying)) == "no error");
    CHECK(loaded.epsilon() == decaying.epsilon());  // the decision count came along
    CHECK(loaded.config().decay == 0.5);
  }
  SUBCASE("softmax") {
    check_continues_exactly(mr::Softmax({.temperature = 0.2, .seed = 4}), mr::Softmax({.temperature = 3.0, .seed = 5}));
  }
  SUBCASE("thompson, propensity draws included") {
    check_continues_exactly(mr::Thompson({.propensity_draws = 30, .seed = 6}),
                            mr::Thompson({.propensity_draws = 2, .seed = 7}));
  }
  SUBCASE("greedy and ucb have nothing to save but save like the others") {
    const mr::Greedy greedy;
    mr::Greedy greedy_loaded;
    CHECK(load_error(greedy_loaded, saved(greedy)) == "no error");
    CHECK(saved(greedy_loaded) == saved(greedy));
    const mr::Ucb ucb;
    mr::Ucb ucb_loaded;
    CHECK(load_error(ucb_loaded, saved(ucb)) == "no error");
    CHECK(load_error(greedy_loaded, saved(ucb)) == "loading a 'greedy' model: the stream holds a 'ucb' model");
  }
}

TEST_CASE("Explorers: every truncation and flipped byte is an Error that changes nothing") {
  const ToyModel model = random_toy();
  mr::EpsilonGreedy eg({.epsilon = 0.3, .decay = 0.1, .seed = 2});
  mr::Softmax sm({.seed = 3});
  mr::Thompson th({.propensity_draws = 5, .seed = 4});
  for (int t = 0; t < 5; ++t) {
    choose(eg, model, t);
    choose(sm, model, t);
    choose(th, model, t);
  }
  mr::EpsilonGreedy eg_target({.epsilon = 0.9, .seed = 8});
  mr::Softmax sm_target({.temperature = 2.0, .seed = 8});
  mr::Thompson th_target({.propensity_draws = 1, .seed = 8});
  mr::Greedy greedy_target;
  mr::Ucb ucb_target;
  mr::test::check_damage_rejected(eg_target, saved(eg), "epsilon_greedy");
  mr::test::check_damage_rejected(sm_target, saved(sm), "softmax");
  mr::test::check_damage_rejected(th_target, saved(th), "thompson");
  mr::test::check_damage_rejected(greedy_target, saved(mr::Greedy{}), "greedy");
  mr::test::check_damage_rejected(ucb_target, saved(mr::Ucb{}), "ucb");
}

TEST_CASE("Explorers: a foreign stream, or forged values with a valid checksum, are clear Errors") {
  using mr::test::f64_payload;
  using mr::test::u64s_payload;
  using mr::test::with_field;
  mr::EpsilonGreedy eg({.epsilon = 0.4, .seed = 12});
  const std::string before = saved(eg);
  CHECK(load_error(eg, saved(mr::Softmax{})) == "loading a 'epsilon_greedy' model: the stream holds a 'softmax' model");
  const std::string good = saved(mr::EpsilonGreedy({.epsilon = 0.2, .decay = 1.0, .seed = 5}));
  CHECK(load_error(eg, with_field(good, "epsilon", f64_payload(std::numeric_limits<double>::quiet_NaN()))) ==
        "loading a 'epsilon_greedy' model: field 'epsilon' must be in [0, 1], got " + nan_text());
  CHECK(load_error(eg, with_field(good, "min_epsilon", f64_payload(1.5))) ==
        "loading a 'epsilon_greedy' model: field 'min_epsilon' must be in [0, 1], got 1.500000");
  CHECK(load_error(eg, with_field(good, "decay", f64_payload(-1.0))) ==
        "loading a 'epsilon_greedy' model: field 'decay' must be in [0, 1e300], got -1.000000");
  CHECK(load_error(eg, with_field(good, "rng", u64s_payload({0, 0, 0, 0, 0, 0}))) ==
        "loading a 'epsilon_greedy' model: field 'rng': Rng::from_state: the all-zero xoshiro256** state is invalid");
  CHECK(saved(eg) == before);

  mr::Softmax sm;
  const std::string sm_good = saved(mr::Softmax({.temperature = 0.5}));
  CHECK(load_error(sm, with_field(sm_good, "temperature", f64_payload(0.0))) ==
        "loading a 'softmax' model: field 'temperature' must be finite and positive, got 0.000000");
  CHECK(load_error(sm, with_field(sm_good, "temperature", f64_payload(std::numeric_limits<double>::infinity()))) ==
        "loading a 'softmax' model: field 'temperature' must be finite and positive, got inf");
  CHECK(saved(sm) == saved(mr::Softmax{}));

  mr::Thompson th;
  CHECK(load_error(th, with_field(saved(mr::Thompson{}), "rng", u64s_payload({1, 2, 3, 4, 0, 3}))) ==
        "loading a 'thompson' model: field 'rng': Rng::from_state: the spare flag must be 0 or 1, got 3");
  CHECK(load_error(th, with_field(saved(mr::Thompson{}), "rng", u64s_payload({1, 2, 3}))) ==
        "loading a 'thompson' model: field 'rng' has 3 values, expected 6");
  CHECK(saved(th) == saved(mr::Thompson{}));
}
