// Saving and loading an Agent: pending decisions, counters, times, item matrices, and the
// model and explorer nested; save, load and go on must give what never stopping gives.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/io/matrix_fingerprint.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "support/errors.hpp"
#include "support/stream_checks.hpp"
#include "support/stream_fields.hpp"
#include "support/toy_model.hpp"

namespace mr = marl_rec;
using mr::test::error_of;
using mr::test::saved;

namespace {

struct ManualClock {
  double now = 0.0;
};

// An owned item matrix.
struct Items {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<float> data;
  mr::MatrixView view() const { return mr::MatrixView(data, rows, cols); }
};

Items random_items(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  mr::Rng rng(seed);
  Items m{rows, cols, std::vector<float>(rows * cols)};
  for (float& v : m.data) v = static_cast<float>(rng.normal());
  return m;
}

using UcbAgent = mr::Agent<mr::LinUcb, mr::EpsilonGreedy>;

UcbAgent ucb_agent(ManualClock& clock) {
  UcbAgent agent(mr::LinUcb({.alpha = 0.5f}), mr::EpsilonGreedy({.epsilon = 0.3, .decay = 0.01, .seed = 5}),
                 {.max_pending = 24, .time_to_live = 30.0, .default_reward = -0.05,
                  .rewards = {.none = 0.0, .click = 1.0, .purchase = 3.0}});
  agent.set_clock([&clock] { return clock.now; });
  return agent;
}

// Another config in every respect, to load into.
UcbAgent other_ucb_agent(ManualClock& clock) {
  UcbAgent agent(mr::LinUcb({.alpha = 2.0f, .ridge = 3.0f}), mr::EpsilonGreedy({.epsilon = 0.9, .seed = 99}),
                 {.max_pending = 5, .time_to_live = 1000.0, .rewards = {.none = -1.0, .click = 2.0}});
  agent.set_clock([&clock] { return clock.now; });
  return agent;
}

// One step of a scripted run: the clock moves, some feedback arrives (late, out of order,
// twice, or never), a decision is made and possibly narrowed.
struct Delivery {
  std::size_t decision = 0;  // the step whose decision it answers
  mr::Feedback feedback;
};
struct Step {
  double dt = 0.0;
  std::vector<float> features;
  bool all = false;
  std::vector<std::size_t> candidates;
  std::size_t k = 1;
  bool narrow = false;
  std::vector<std::size_t> shown;  // when narrowed
  std::vector<Delivery> deliveries;
};

std::vector<Step> script(int steps, std::size_t items, std::uint64_t seed) {
  mr::Rng rng(seed);
  std::vector<Step> s(static_cast<std::size_t>(steps));
  for (std::size_t t = 0; t < s.size(); ++t) {
    Step& step = s[t];
    step.dt = 0.5 * static_cast<double>(rng.below(5));  // exact in binary: no rounding differences
    for (int i = 0; i < 3; ++i) step.features.push_back(static_cast<float>(rng.normal()));
    step.all = rng.bernoulli(0.3);
    if (!step.all) {
      for (std::size_t i = 0; i < items; ++i) {
        if (rng.bernoulli(0.4)) step.candidates.push_back(i);
      }
      if (step.candidates.size() < 5) step.candidates = {0, 1, 2, 3, 4};
    }
    step.k = 1 + static_cast<std::size_t>(rng.below(4));
    std::vector<std::size_t> visible;
    for (std::size_t p = 0; p < step.k; ++p) visible.push_back(p);
    if (rng.bernoulli(0.2)) {
      step.narrow = true;
      visible.clear();
      for (std::size_t p = step.k; p-- > 0;) {
        if (rng.bernoulli(0.5)) visible.push_back(p);
      }
      step.shown = visible;
    }
    // Feedback for this decision: usually once, after a delay (possibly past the time-to-live),
    // sometimes twice, sometimes never.
    const double u = rng.uniform();
    const int copies = u < 0.15 ? 0 : (u < 0.85 ? 1 : 2);
    for (int c = 0; c < copies; ++c) {
      const std::size_t at = t + 1 + static_cast<std::size_t>(rng.below(45));
      if (at >= s.size()) continue;
      Delivery d{.decision = t, .feedback = {}};
      for (const std::size_t p : visible) {
        if (rng.bernoulli(0.3)) d.feedback.clicked.push_back(p);
        if (rng.bernoulli(0.1)) d.feedback.purchased.push_back(p);
        if (rng.bernoulli(0.1)) d.feedback.rewards.emplace_back(p, rng.normal());
      }
      s[at].deliveries.push_back(d);
    }
  }
  return s;
}

template <class T>
void append_bits(std::vector<std::uint64_t>& trace, const std::vector<T>& values) {
  for (const T v : values) trace.push_back(std::bit_cast<std::uint32_t>(static_cast<float>(v)));
}

void append_counters(std::vector<std::uint64_t>& trace, const mr::AgentCounters& c) {
  trace.insert(trace.end(), {c.decisions, c.feedback, c.updates, c.duplicates, c.late, c.expired, c.defaulted});
}

// Runs steps [begin, end) of `steps` on `agent` over `items`; `ids[t]` receives step t's
// decision id. Every decision, score, propensity, learn status and counter goes to `trace`.
template <class A>
void drive(A& agent, ManualClock& clock, mr::MatrixView items, const std::vector<Step>& steps, std::size_t begin,
           std::size_t end, std::vector<std::uint64_t>& ids, std::vector<std::uint64_t>& trace) {
  for (std::size_t t = begin; t < end; ++t) {
    const Step& step = steps[t];
    clock.now += step.dt;
    for (const Delivery& d : step.deliveries) {
      trace.push_back(static_cast<std::uint64_t>(agent.learn(ids[d.decision], d.feedback)));
    }
    const mr::Context context{.features = step.features, .items = items};
    const mr::Candidates candidates =
        step.all ? mr::Candidates::all(items.rows()) : mr::Candidates(step.candidates);
    const mr::Decision d = agent.recommend(context, candidates, step.k);
    ids[t] = d.id;
    trace.push_back(d.id);
    trace.insert(trace.end(), d.items.begin(), d.items.end());
    append_bits(trace, d.scores);
    append_bits(trace, d.propensities);
    if (step.narrow) agent.set_shown(d.id, step.shown);
    if (t % 37 == 0) agent.expire_due();
    append_counters(trace, agent.counters());
    trace.push_back(agent.pending());
  }
}

// A learn-from-any-explorer agent whose explorer cannot be saved: it still works.
struct NoSaveExplorer {
  mr::Greedy greedy;
  std::string_view name() const { return "no_save"; }
  template <class M, class Exclude>
  void choose(const M& m, const mr::Context& c, mr::Candidates k, std::size_t n, const Exclude& e, mr::Decision& out) {
    greedy.choose(m, c, k, n, e, out);
  }
};

std::string crc_text(mr::MatrixView m) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(mr::io::matrix_crc32c(m)));
  return text;
}

}  // namespace

static_assert(mr::ExplorerFor<NoSaveExplorer, mr::test::ToyModel>);
static_assert(!mr::PersistentExplorer<NoSaveExplorer>);
template <class A>
concept Saveable = requires(const A& a, A& b, std::ostream& out, std::istream& in) {
  a.save(out);
  b.load(in);
};
static_assert(!Saveable<mr::Agent<mr::test::ToyModel, NoSaveExplorer>>);
static_assert(Saveable<UcbAgent>);

TEST_CASE("Agent persistence: save at N/2, load into another config, go on: identical to never stopping") {
  const Items items = random_items(40, 4, 1);
  const std::vector<Step> steps = script(400, items.rows, 2);
  const std::size_t half = steps.size() / 2;

  ManualClock clock_a;
  UcbAgent uninterrupted = ucb_agent(clock_a);
  std::vector<std::uint64_t> ids_a(steps.size()), trace_a;
  drive(uninterrupted, clock_a, items.view(), steps, 0, steps.size(), ids_a, trace_a);

  ManualClock clock_b;
  UcbAgent first = ucb_agent(clock_b);
  std::vector<std::uint64_t> ids_b(steps.size()), trace_b;
  drive(first, clock_b, items.view(), steps, 0, half, ids_b, trace_b);
  REQUIRE(first.pending() > 0);
  const std::string bytes = saved(first);

  // The loaded agent gets a copy of the matrix (other memory, same values): it is found by its
  // fingerprint, and the run goes on over the copy.
  const Items copy = items;
  ManualClock clock_c{clock_b.now};
  UcbAgent loaded = other_ucb_agent(clock_c);
  const mr::MatrixView given[] = {copy.view()};
  CHECK(mr::test::load_error(loaded, bytes, std::span<const mr::MatrixView>(given)) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.pending() == first.pending());
  CHECK(loaded.next_id() == first.next_id());
  CHECK(loaded.config().max_pending == 24);
  CHECK(loaded.config().time_to_live == 30.0);
  CHECK(loaded.config().default_reward == -0.05);
  CHECK(loaded.config().rewards.purchase == 3.0);
  CHECK(loaded.model().config().alpha == 0.5f);
  CHECK(loaded.explorer().config().seed == 5);
  CHECK(loaded.counters().decisions == first.counters().decisions);
  drive(loaded, clock_c, copy.view(), steps, half, steps.size(), ids_b, trace_b);

  CHECK(ids_b == ids_a);
  REQUIRE(trace_b.size() == trace_a.size());
  std::size_t first_difference = trace_a.size();
  for (std::size_t i = 0; i < trace_a.size() && first_difference == trace_a.size(); ++i) {
    if (trace_a[i] != trace_b[i]) first_difference = i;
  }
  CHECK_MESSAGE(first_difference == trace_a.size(), "the traces differ at entry ", first_difference);
  CHECK(saved(loaded) == saved(uninterrupted));
  // The run met every case: late, duplicate, expired and defaulted decisions.
  const mr::AgentCounters& c = uninterrupted.counters();
  CHECK(c.late > 0);
  CHECK(c.duplicates > 0);
  CHECK(c.expired > 0);
  CHECK(c.defaulted == c.expired);
}

TEST_CASE("Agent persistence: the time between save and load does not count toward the time-to-live") {
  const Items items = random_items(10, 2, 3);
  ManualClock clock{100.0};
  mr::Agent<mr::LinUcb, mr::Greedy> agent(mr::LinUcb{}, mr::Greedy{}, {.time_to_live = 10.0});
  agent.set_clock([&clock] { return clock.now; });
  const std::vector<float> x{1.0f, 0.5f};
  const mr::Context context{.features = x, .items = items.view()};
  const auto d1 = agent.recommend(context, 2);  // t = 100
  clock.now = 106.0;
  const auto d2 = agent.recommend(context, 2);  // t = 106
  clock.now = 108.0;
  const std::string bytes = saved(agent);  // ages 8 and 2

  ManualClock later{5000.0};
  mr::Agent<mr::LinUcb, mr::Greedy> loaded;
  loaded.set_clock([&later] { return later.now; });
  std::istringstream in(bytes);
  loaded.load(in, items.view());  // the one-matrix overload
  CHECK(loaded.pending() == 2);
  later.now = 5001.5;  // d1 is 9.5 s old: still open
  CHECK(loaded.learn(d1.id, {}) == mr::LearnStatus::learned);
  later.now = 5002.0;  // d2 is 4 s old; at 5008 it is 10 s old, and expires
  loaded.expire_due();
  CHECK(loaded.pending() == 1);
  later.now = 5008.0;
  CHECK(loaded.learn(d2.id, {}) == mr::LearnStatus::expired);
  // The loaded agent's clock never goes back below the load-time reading.
  CHECK(saved(loaded) != bytes);
}

TEST_CASE("Agent persistence: item matrices are matched by shape and fingerprint") {
  const Items items = random_items(30, 3, 4);
  ManualClock clock;
  mr::Agent<mr::LinUcb, mr::Greedy> agent(mr::LinUcb{}, mr::Greedy{}, {.max_pending = 8});
  agent.set_clock([&clock] { return clock.now; });
  const std::vector<float> x{1.0f, -1.0f};
  agent.recommend({.features = x, .items = items.view()}, 3);
  const auto answered = agent.recommend({.features = x, .items = items.view()}, 3);
  agent.learn(answered.id, {.clicked = {0}});
  const std::string bytes = saved(agent);

  mr::Agent<mr::LinUcb, mr::Greedy> target;
  target.set_clock([&clock] { return clock.now; });
  const std::string before = saved(target);
  const std::string missing = "loading a 'agent' model: pending decision 1 refers to a 30 x 3 item matrix (crc " +
                              crc_text(items.view()) + ") that was not given to load";
  CHECK(mr::test::load_error(target, bytes) == missing);
  // Same shape, other values: not the matrix the decision was made over.
  Items changed = items;
  changed.data[17] += 1.0f;
  const Items other_shape = random_items(29, 3, 4);
  const mr::MatrixView wrong[] = {changed.view(), other_shape.view()};
  CHECK(mr::test::load_error(target, bytes, std::span<const mr::MatrixView>(wrong)) == missing);
  CHECK(saved(target) == before);
  // The same values with padded rows, among other matrices: found.
  std::vector<float> padded;
  for (std::size_t i = 0; i < items.rows; ++i) {
    padded.insert(padded.end(), items.data.begin() + static_cast<std::ptrdiff_t>(3 * i),
                  items.data.begin() + static_cast<std::ptrdiff_t>(3 * i + 3));
    padded.push_back(-7.0f);
  }
  const mr::MatrixView right[] = {changed.view(), mr::MatrixView(padded, 30, 3, 4)};
  CHECK(mr::test::load_error(target, bytes, std::span<const mr::MatrixView>(right)) == "no error");
  CHECK(target.pending() == 1);
  CHECK(target.learn(1, {.clicked = {1}}) == mr::LearnStatus::learned);
  CHECK(target.learn(answered.id, {}) == mr::LearnStatus::duplicate);

  // Decisions over an empty item matrix (a model with its own item parameters) need none.
  mr::Agent<mr::test::ToyModel, mr::Greedy> toy(mr::test::ranked_toy(6), mr::Greedy{});
  toy.recommend(mr::Context{}, mr::Candidates::all(6), 2);
  toy.recommend(mr::Context{.user = 3}, mr::Candidates::all(6), 1);
  mr::Agent<mr::test::ToyModel, mr::Greedy> toy_loaded(mr::test::ranked_toy(6), mr::Greedy{});
  CHECK(mr::test::load_error(toy_loaded, saved(toy)) == "no error");
  CHECK(toy_loaded.pending() == 2);
  CHECK(toy_loaded.learn(2, {.clicked = {0}}) == mr::LearnStatus::learned);
  REQUIRE(toy_loaded.model().updates.size() == 1);
  CHECK(toy_loaded.model().updates[0].user == 3);
  CHECK(toy_loaded.model().updates[0].item == 5);
}

TEST_CASE("Agent persistence: learn with a next decision works across a load, unless its matrix was lost") {
  const Items items = random_items(12, 2, 5);
  const Items other = random_items(12, 2, 6);
  ManualClock clock;
  using QAgent = mr::Agent<mr::LinearQ, mr::Greedy>;
  QAgent agent(mr::LinearQ({.alpha = 0.1f, .gamma = 0.5f}), mr::Greedy{});
  agent.set_clock([&clock] { return clock.now; });
  const std::vector<float> x{0.5f, 1.0f};
  const auto on_other = agent.recommend({.features = x, .items = other.view()}, 2);  // 1
  agent.learn(on_other.id, {});                                                        // answered
  const auto a = agent.recommend({.features = x, .items = items.view()}, 2);          // 2
  const auto b = agent.recommend({.features = x, .items = items.view()}, 2);          // 3
  agent.learn(b.id, {.clicked = {0}});  // answered, over the same matrix as the open decision 2
  const std::string bytes = saved(agent);

  const auto loaded_agent = [&] {
    QAgent q;
    q.set_clock([&clock] { return clock.now; });
    const mr::MatrixView given[] = {items.view()};
    std::istringstream in(bytes);
    q.load(in, given);
    return q;
  };
  // Decision 3's matrix is decision 2's, so it was kept: the bootstrapped update is the same.
  QAgent kept = loaded_agent();
  QAgent reference = agent;
  CHECK(kept.learn(a.id, {.clicked = {1}}, b.id) == mr::LearnStatus::learned);
  CHECK(reference.learn(a.id, {.clicked = {1}}, b.id) == mr::LearnStatus::learned);
  CHECK(saved(kept) == saved(reference));
  // Decision 1's matrix was referred to by no open decision: not kept.
  QAgent lost = loaded_agent();
  const std::string before = saved(lost);
  CHECK(error_of([&] { lost.learn(a.id, {}, on_other.id); }) ==
        "Agent::learn: the next decision 1 was answered before a save, and its item matrix was not given to load");
  CHECK(saved(lost) == before);
  CHECK(agent.learn(a.id, {}, on_other.id) == mr::LearnStatus::learned);  // the original still can
}

TEST_CASE("Agent persistence: damaged, foreign and forged streams are Errors that change nothing") {
  using mr::test::f64_payload;
  using mr::test::u64_payload;
  using mr::test::u64s_payload;
  using mr::test::with_field;
  const Items items = random_items(40, 4, 1);
  const std::vector<Step> steps = script(30, items.rows, 8);
  ManualClock clock;
  UcbAgent agent = ucb_agent(clock);
  std::vector<std::uint64_t> ids(steps.size()), trace;
  drive(agent, clock, items.view(), steps, 0, steps.size(), ids, trace);
  const std::string bytes = saved(agent);

  ManualClock target_clock{3.0};
  UcbAgent target = other_ucb_agent(target_clock);
  mr::test::check_damage_rejected(target, bytes, "agent", 7);

  const std::string before = saved(target);
  const mr::MatrixView given[] = {items.view()};
  const auto load = [&](const std::string& stream) {
    return mr::test::load_error(target, stream, std::span<const mr::MatrixView>(given));
  };
  CHECK(load(saved(agent.model())) == "loading a 'agent' model: the stream holds a 'linucb' model");
  CHECK(load(with_field(bytes, "max_pending", u64_payload(std::uint64_t{1} << 21))) ==
        "loading a 'agent' model: field 'max_pending' = 2097152 is outside [1, 1048576]");
  CHECK(load(with_field(bytes, "time_to_live", f64_payload(-1.0))) ==
        "loading a 'agent' model: field 'time_to_live' must be positive, got -1.000000");
  CHECK(load(with_field(bytes, "reward_click", f64_payload(std::numeric_limits<double>::infinity()))) ==
        "loading a 'agent' model: field 'reward_click' is not finite");
  // The remembered decisions are the last 24 of 30: the first saved one is decision 7, and the
  // oldest decision expiry looks at lies in [7, 31].
  REQUIRE(agent.next_id() == 31);
  CHECK(load(with_field(bytes, "oldest", u64_payload(3))) ==
        "loading a 'agent' model: field 'oldest' = 3 is outside [7, 31]");
  CHECK(load(with_field(bytes, "oldest", u64_payload(32))) ==
        "loading a 'agent' model: field 'oldest' = 32 is outside [7, 31]");
  CHECK(load(with_field(bytes, "state", u64_payload(3))) ==
        "loading a 'agent' model: field 'state' = 3 is outside [0, 2]");
  CHECK(load(with_field(bytes, "time", f64_payload(std::numeric_limits<double>::quiet_NaN()))) ==
        "loading a 'agent' model: decision 7: time " + std::to_string(std::numeric_limits<double>::quiet_NaN()) +
            " is not finite, or before an earlier decision's, or after the save");
  CHECK(load(with_field(bytes, "time", f64_payload(1e9), 3)) ==
        "loading a 'agent' model: decision 10: time 1000000000.000000 is not finite, or before an earlier "
        "decision's, or after the save");
  CHECK(load(with_field(bytes, "candidate_count", u64_payload(1000))).find("does not match") != std::string::npos);
  CHECK(load(with_field(bytes, "shown", u64s_payload({400}))) ==
        "loading a 'agent' model: decision 7: shown item 400 is not a candidate");
  const std::size_t shown = mr::test::field_payload(bytes, "shown").size() / 8;
  CHECK(load(with_field(bytes, "visible", u64s_payload(std::vector<std::uint64_t>(shown, 2)))) ==
        "loading a 'agent' model: decision 7: visible flags are 0 or 1");
  // The last decision is open: it must refer to a recorded matrix.
  CHECK(load(with_field(bytes, "matrix", u64_payload(0), 23)) ==
        "loading a 'agent' model: field 'matrix' = 0 is outside [1, 1]");
  const std::string no_matrix = load(with_field(bytes, "crc", u64_payload(1)));
  CHECK(no_matrix.rfind("loading a 'agent' model: pending decision ", 0) == 0);
  CHECK(no_matrix.find(" refers to a 40 x 4 item matrix (crc 0x00000001) that was not given to load") !=
        std::string::npos);
  CHECK(load(with_field(bytes, "explorer", saved(mr::Greedy{}))) ==
        "loading a 'epsilon_greedy' model: the stream holds a 'greedy' model");
  const std::string bad_explorer =
      with_field(saved(agent.explorer()), "epsilon", f64_payload(std::numeric_limits<double>::quiet_NaN()));
  CHECK(load(with_field(bytes, "explorer", bad_explorer)).find("field 'epsilon' must be in [0, 1]") !=
        std::string::npos);
  CHECK(load(with_field(bytes, "model", saved(agent.explorer()))) ==
        "loading a 'linucb' model: the stream holds a 'epsilon_greedy' model");
  CHECK(load(with_field(bytes, "model", saved(agent.model()) + "x")) ==
        "loading a 'agent' model: field 'model' has bytes after its stream");
  CHECK(saved(target) == before);
  CHECK(load(bytes) == "no error");  // and the unforged stream loads
}

TEST_CASE("Agent persistence: a clock that reads NaN or infinity cannot save or load") {
  ManualClock clock{std::numeric_limits<double>::infinity()};
  mr::Agent<mr::test::ToyModel, mr::Greedy> agent(mr::test::ranked_toy(3), mr::Greedy{});
  agent.set_clock([&clock] { return clock.now; });
  CHECK(error_of([&] { saved(agent); }) == "Agent::save: the clock reads inf (saved times are finite)");
  clock.now = 1.0;
  const std::string bytes = saved(agent);
  clock.now = std::numeric_limits<double>::quiet_NaN();
  CHECK(mr::test::load_error(agent, bytes) ==
        "Agent::load: the clock reads " + std::to_string(clock.now) + " (saved times are finite)");
}

TEST_CASE("Agent persistence: an agent whose explorer cannot be saved still recommends and learns") {
  mr::Agent<mr::test::ToyModel, NoSaveExplorer> agent(mr::test::ranked_toy(4), NoSaveExplorer{});
  const mr::Decision d = agent.recommend(mr::Context{}, mr::Candidates::all(4), 2);
  CHECK(d.items == std::vector<std::size_t>{3, 2});
  CHECK(agent.learn(d.id, {}) == mr::LearnStatus::learned);
}
