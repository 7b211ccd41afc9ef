// Hostile input at every entry point where a value enters the library: non-finite rewards and
// features, unknown or out-of-range item indices, wrong dimensions, empty and duplicate candidate
// sets, k = 0 and k beyond the candidates, forged sizes in saved streams. Each case has one
// documented outcome (an Error naming what and where, leaving the object unchanged; or a defined
// result) — docs/reliability_inputs.md lists them with the tests that prove them. Cases already
// proven beside their component are not repeated here.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/eval/off_policy.hpp"
#include "marl_rec/io/fvecs.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/softmax.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/explore/ucb.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/ease.hpp"
#include "marl_rec/models/item_knn.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/models/mlp_scorer.hpp"
#include "marl_rec/models/tabular_q.hpp"
#include "support/errors.hpp"
#include "support/interactions.hpp"

namespace {

namespace mr = marl_rec;
using mr::Candidates;
using mr::Context;
using mr::test::error_of;

constexpr double nan_d = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_d = std::numeric_limits<double>::infinity();
constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();
constexpr float inf_f = std::numeric_limits<float>::infinity();
constexpr std::size_t size_max = std::numeric_limits<std::size_t>::max();

template <class M>
std::string saved(const M& model) {
  std::ostringstream out;
  model.save(out);
  return out.str();
}

// The items and user features every contextual model here sees: 6 items of 3 features, a user
// of 4, all drawn from a fixed seed.
struct World {
  std::vector<float> items;
  std::vector<float> user;
  World() {
    mr::Rng rng(11);
    items.resize(6 * 3);
    for (float& v : items) v = static_cast<float>(rng.normal());
    user.resize(4);
    for (float& v : user) v = static_cast<float>(rng.normal());
  }
  mr::MatrixView view() const { return mr::MatrixView(items, 6, 3); }
  Context context() const { return Context{.features = user, .items = view()}; }
};

// Runs `call`, which must throw an Error whose message starts with `prefix`, and checks that
// `model` saves the same bytes afterwards (unchanged).
template <class M, class F>
void check_rejected(const M& model, F&& call, const std::string& prefix) {
  const std::string before = saved(model);
  const std::string message = error_of(call);
  CHECK_MESSAGE(message.starts_with(prefix), message);
  CHECK(saved(model) == before);
}

// The contextual models, each sized by one good update.
mr::LinUcb lin_ucb(const World& w) {
  mr::LinUcb m({.features = mr::FeatureMap::cross});
  m.update(w.context(), 1, 1.0);
  return m;
}
mr::LinThompson lin_thompson(const World& w) {
  mr::LinThompson m({.features = mr::FeatureMap::cross});
  m.update(w.context(), 1, 1.0);
  return m;
}
mr::LinearQ linear_q(const World& w) {
  mr::LinearQ m({.features = mr::FeatureMap::concat});
  m.update(w.context(), 1, 1.0);
  return m;
}
mr::MlpScorer mlp(const World& w) {
  mr::MlpScorer m({.hidden = {8}});
  m.update(w.context(), 1, 1.0);
  return m;
}

// A fitted collaborative model's training data: 3 users over 4 items.
mr::Interactions tiny_data() {
  return mr::test::interactions({{"u0", "a"}, {"u0", "b"}, {"u1", "b"}, {"u1", "c"},
                                 {"u2", "a"}, {"u2", "c"}, {"u2", "d"}});
}

// A format-2 stream taken apart into its fields and written back through io::ModelWriter (so
// with a valid checksum): the way to forge semantic corruption a checksum cannot catch.
struct Field {
  std::uint8_t kind = 0;
  std::string name;
  std::string payload;
};
struct Stream {
  std::string type;
  std::uint32_t version = 0;
  std::vector<Field> fields;

  explicit Stream(const std::string& bytes) {
    std::size_t at = 12;  // magic, byte-order mark
    const auto take = [&](std::size_t n) {
      const std::string s = bytes.substr(at, n);
      at += n;
      return s;
    };
    const auto number = [&] {
      std::uint64_t v = 0;
      const std::string b = take(8);
      for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[i]);
      return v;
    };
    type = take(number());
    version = static_cast<std::uint32_t>(number());
    const std::size_t end = at + number();
    while (at < end) {
      Field f;
      f.kind = static_cast<std::uint8_t>(take(1)[0]);
      f.name = take(number());
      f.payload = take(number());
      fields.push_back(std::move(f));
    }
  }
  Field& operator[](std::string_view name) {
    for (Field& f : fields) {
      if (f.name == name) return f;
    }
    FAIL("no field " << name);
    return fields.front();
  }
  // The field's payload as values of T (u64, float or double).
  template <class T>
  static std::vector<T> values(const Field& f) {
    std::vector<T> out(f.payload.size() / sizeof(T));
    // (an empty payload: nothing to copy, and memcpy from a null pointer is undefined)
    if (!out.empty()) std::memcpy(out.data(), f.payload.data(), f.payload.size());  // little-endian hosts only
    return out;
  }
  template <class T>
  static void set(Field& f, std::size_t i, T value) {
    std::memcpy(f.payload.data() + i * sizeof(T), &value, sizeof(T));
  }
  std::string bytes() const {
    std::ostringstream out;
    mr::io::ModelWriter w(out, type, version);
    for (const Field& f : fields) {
      switch (f.kind) {
        case 1: w.u64(f.name, values<std::uint64_t>(f)[0]); break;
        case 2: w.f64(f.name, values<double>(f)[0]); break;
        case 3: w.string(f.name, f.payload); break;
        case 4: w.floats(f.name, values<float>(f)); break;
        case 5: w.doubles(f.name, values<double>(f)); break;
        case 6: w.u64s(f.name, values<std::uint64_t>(f)); break;
        default: w.stream(f.name, f.payload); break;
      }
    }
    w.finish();
    return out.str();
  }
};

// The Error of loading `bytes` into `model`, which must stay unchanged.
template <class M>
std::string load_error(M& model, const std::string& bytes) {
  const std::string before = saved(model);
  std::istringstream in(bytes);
  const std::string message = error_of([&] { model.load(in); });
  CHECK(saved(model) == before);
  return message;
}

}  // namespace

TEST_CASE("Models: a NaN or infinite reward is an Error naming the model, the model unchanged") {
  const World w;
  const Context c = w.context();
  for (const double r : {nan_d, inf_d, -inf_d}) {
    CAPTURE(r);
    mr::LinUcb a = lin_ucb(w);
    check_rejected(a, [&] { a.update(c, 2, r); }, "LinUcb::update: reward must be finite");
    mr::LinThompson b = lin_thompson(w);
    check_rejected(b, [&] { b.update(c, 2, r); }, "LinThompson::update: reward must be finite");
    mr::LinearQ q = linear_q(w);
    check_rejected(q, [&] { q.update(c, 2, r); }, "LinearQ::update: reward ");
    check_rejected(q, [&] { q.update(c, 2, r, c, Candidates::all(6)); }, "LinearQ::update: reward ");
    mr::MlpScorer m = mlp(w);
    check_rejected(m, [&] { m.update(c, 2, r); }, "MlpScorer::update: the reward ");
    mr::TabularQ t({.states = 2, .actions = 6});
    check_rejected(t, [&] { t.update({.state = 1}, 2, r); }, "TabularQ::update: reward ");
    check_rejected(t, [&] { t.update({.state = 1}, 2, r, {.state = 0}, Candidates::all(6)); },
                   "TabularQ::update: reward ");
    const mr::TabularQ::Transition batch[] = {{.state = 0, .action = 1, .reward = 1.0},
                                              {.state = 1, .action = 2, .reward = r}};
    check_rejected(t, [&] { t.update_batch(batch); }, "TabularQ::update_batch: transition 1: reward ");
    mr::MatrixFactorization f({.factors = 2, .epochs = 2});
    f.fit(tiny_data());
    check_rejected(f, [&] { f.update({.user = 0}, 2, r); },
                   "MatrixFactorization::update: the reward ");
    mr::Ease e;
    e.fit(tiny_data());
    check_rejected(e, [&] { e.update({.user = 0}, 2, r); }, "Ease::update: the reward ");
    mr::ItemKnn k;
    k.fit(tiny_data());
    check_rejected(k, [&] { k.update({.user = 0}, 2, r); }, "ItemKnn::update: the reward ");
  }
  // A finite reward beyond float's range is refused by the models that learn in float...
  mr::LinUcb a = lin_ucb(w);
  check_rejected(a, [&] { a.update(c, 2, 1e300); },
                 "LinUcb::update: reward must be finite (and within float range), got 1");
  mr::LinThompson b = lin_thompson(w);
  check_rejected(b, [&] { b.update(c, 2, 1e300); },
                 "LinThompson::update: reward must be finite (and within float range), got 1");
  mr::LinearQ q = linear_q(w);
  check_rejected(q, [&] { q.update(c, 2, -1e300); }, "LinearQ::update: reward -1");
  mr::TabularQ t({.states = 2, .actions = 6});
  check_rejected(t, [&] { t.update({.state = 0}, 2, 1e300); }, "TabularQ::update: reward 1");
  mr::MatrixFactorization f({.factors = 2, .epochs = 2});
  f.fit(tiny_data());
  check_rejected(f, [&] { f.update({.user = 0}, 2, 1e300); },
                 "MatrixFactorization::update: the step gives non-finite factors");
  mr::Ease e({.binarize = false});
  e.fit(tiny_data());
  check_rejected(e, [&] { e.update({.user = 0}, 2, 1e300); }, "Ease::update: the reward 1");
  // ... while MlpScorer documents the clamp of any finite reward to [0, 1] (a full positive).
  mr::MlpScorer m1 = mlp(w), m2 = mlp(w);
  m1.update(c, 2, 1e300);
  m2.update(c, 2, 1.0);
  CHECK(saved(m1) == saved(m2));
}

TEST_CASE("Models: a NaN or infinite feature in an update is an Error, the model unchanged") {
  const World w;
  World bad_user = w;
  bad_user.user[3] = nan_f;
  World bad_item = w;
  bad_item.items[2 * 3 + 1] = inf_f;  // item 2's second feature
  World other_bad_item = w;
  other_bad_item.items[4 * 3] = nan_f;  // item 4, not the one learned
  for (const World* bad : {&bad_user, &bad_item}) {
    const Context c = bad->context();
    mr::LinUcb a = lin_ucb(w);
    check_rejected(a, [&] { a.update(c, 2, 1.0); }, "LinUcb::update: ");
    mr::LinThompson b = lin_thompson(w);
    check_rejected(b, [&] { b.update(c, 2, 1.0); }, "LinThompson::update: ");
    mr::LinearQ q = linear_q(w);
    check_rejected(q, [&] { q.update(c, 2, 1.0); }, "LinearQ::update: the TD error is not finite");
    mr::MlpScorer m = mlp(w);
    check_rejected(m, [&] { m.update(c, 2, 1.0); }, "MlpScorer::update: context.");
  }
  CHECK(error_of([&] { lin_ucb(w).update(bad_user.context(), 2, 1.0); }) ==
        "LinUcb::update: context feature 3 is not finite");
  CHECK(error_of([&] { lin_ucb(w).update(bad_item.context(), 2, 1.0); }) ==
        "LinUcb::update: feature 1 of item 2 is not finite");
  CHECK(error_of([&] { mlp(w).update(bad_user.context(), 2, 1.0); }) ==
        "MlpScorer::update: context.features[3] is not finite");
  CHECK(error_of([&] { mlp(w).update(bad_item.context(), 2, 1.0); }) ==
        "MlpScorer::update: context.items(2, 1) is not finite");
  // A bad row the update does not read is not an error.
  mr::LinUcb a = lin_ucb(w);
  CHECK_NOTHROW(a.update(other_bad_item.context(), 2, 1.0));
  // A bootstrapped update reads the next candidates' rows: a NaN there is the TD error's.
  mr::LinearQ q = linear_q(w);
  check_rejected(q,
                 [&] { q.update(w.context(), 2, 1.0, other_bad_item.context(), Candidates::all(6)); },
                 "LinearQ::update: the TD error is not finite");
}

TEST_CASE("Models: NaN features in a scored context give NaN scores, not an Error") {
  const World w;
  World bad_user = w;
  bad_user.user[0] = nan_f;
  World bad_item = w;
  bad_item.items[3 * 3 + 2] = nan_f;  // item 3
  const mr::LinUcb a = lin_ucb(w);
  const mr::LinThompson b = lin_thompson(w);
  const mr::LinearQ q = linear_q(w);
  const mr::MlpScorer m = mlp(w);
  mr::Rng rng(5);
  std::vector<float> s(6);
  const auto scores_of = [&](const World& world, int which) {
    const Context c = world.context();
    switch (which) {
      case 0: a.score(c, Candidates::all(6), s); break;
      case 1: a.upper_bound(c, Candidates::all(6), s); break;
      case 2: b.sample_scores(c, Candidates::all(6), s, rng); break;
      case 3: q.score(c, Candidates::all(6), s); break;
      default: m.score(c, Candidates::all(6), s); break;
    }
    return s;
  };
  for (int which = 0; which < 5; ++which) {
    CAPTURE(which);
    for (const float v : scores_of(bad_user, which)) CHECK(std::isnan(v));
    const std::vector<float> row = scores_of(bad_item, which);
    for (std::size_t i = 0; i < row.size(); ++i) CHECK(std::isnan(row[i]) == (i == 3));
  }
}

TEST_CASE("Models: a finite input too large for float arithmetic is an Error, the model unchanged") {
  World w;
  World huge = w;
  huge.items[2 * 3] = 3e38f;
  huge.user[0] = 3e38f;
  const Context c = huge.context();
  mr::LinUcb a = lin_ucb(w);
  check_rejected(a, [&] { a.update(c, 2, 1.0); },
                 "LinUcb::update: the features are too large for float arithmetic");
  mr::MlpScorer m = mlp(w);
  check_rejected(m, [&] { m.update(c, 2, 0.0); },
                 "MlpScorer::update: the gradient is not finite");
}

TEST_CASE("Models: unknown item indices are Errors in score and update, the model unchanged") {
  const World w;
  const Context c = w.context();
  std::vector<float> s(2);
  const std::vector<std::size_t> past_end{0, 6};
  const std::vector<std::size_t> absurd{1, size_max};
  mr::LinUcb a = lin_ucb(w);
  mr::LinThompson b = lin_thompson(w);
  mr::LinearQ q = linear_q(w);
  mr::MlpScorer m = mlp(w);
  mr::TabularQ t({.states = 2, .actions = 6});
  for (const std::size_t item : {std::size_t{6}, size_max}) {
    CAPTURE(item);
    check_rejected(a, [&] { a.update(c, item, 1.0); }, "LinUcb::update: item index ");
    check_rejected(b, [&] { b.update(c, item, 1.0); }, "LinThompson::update: item index ");
    check_rejected(q, [&] { q.update(c, item, 1.0); }, "LinearQ::update: item ");
    check_rejected(m, [&] { m.update(c, item, 1.0); }, "MlpScorer::update: item ");
    check_rejected(t, [&] { t.update({}, item, 1.0); }, "TabularQ::update: item ");
  }
  for (const auto* list : {&past_end, &absurd}) {
    const Candidates bad(*list);
    check_rejected(a, [&] { a.score(c, bad, s); }, "LinUcb::score: item index ");
    check_rejected(a, [&] { a.upper_bound(c, bad, s); }, "LinUcb::upper_bound: item index ");
    mr::Rng rng(1);
    check_rejected(b, [&] { b.sample_scores(c, bad, s, rng); },
                   "LinThompson::sample_scores: item index ");
    check_rejected(q, [&] { q.score(c, bad, s); }, "LinearQ::score: candidates include item ");
    check_rejected(q, [&] { q.update(c, 0, 1.0, c, bad); },
                   "LinearQ::update: next_candidates include item ");
    check_rejected(m, [&] { m.score(c, bad, s); }, "MlpScorer::score: candidate item ");
    check_rejected(t, [&] { t.score({}, bad, s); }, "TabularQ::score: candidates include item ");
  }
  // Candidates::all beyond the item matrix.
  std::vector<float> seven(7);
  check_rejected(a, [&] { a.score(c, Candidates::all(7), seven); }, "LinUcb::score: item index 6");
  check_rejected(q, [&] { q.score(c, Candidates::all(7), seven); },
                 "LinearQ::score: candidates include item 6");
  check_rejected(m, [&] { m.score(c, Candidates::all(7), seven); },
                 "MlpScorer::score: Candidates::all(7) but context.items has 6 rows");
  CHECK(error_of([&] { t.score({}, Candidates::all(7), seven); }) ==
        "TabularQ::score: candidates include item 6, out of range (the model has 6 actions)");
  // The collaborative models: items past their catalog, and users past any sane index.
  mr::MatrixFactorization f({.factors = 2, .epochs = 2});
  f.fit(tiny_data());
  mr::Ease e;
  e.fit(tiny_data());
  mr::ItemKnn k;
  k.fit(tiny_data());
  const std::vector<std::size_t> four{0, 4};
  check_rejected(f, [&] { f.update({.user = 0}, 4, 1.0); }, "MatrixFactorization::update: item 4 ");
  check_rejected(f, [&] { f.score({.user = 0}, Candidates(four), s); },
                 "MatrixFactorization::score: candidate item 4 ");
  check_rejected(e, [&] { e.update({.user = 0}, 4, 1.0); }, "Ease::update: item 4 ");
  check_rejected(e, [&] { e.score({.user = 0}, Candidates(four), s); },
                 "Ease::score: candidate item 4 ");
  check_rejected(k, [&] { k.update({.user = 0}, size_max, 1.0); }, "ItemKnn::update: item ");
  check_rejected(e, [&] { e.update({.user = size_max - 1}, 1, 1.0); }, "Ease::update: user ");
  check_rejected(k, [&] { k.update({.user = size_max - 1}, 1, 1.0); }, "ItemKnn::update: user ");
  const std::vector<std::size_t> bad_history{1, 9};
  const std::span<float> four_scores = std::span<float>(seven).first(4);
  check_rejected(e, [&] { e.score({.history = bad_history}, Candidates::all(4), four_scores); },
                 "Ease::score: history item 9 ");
  check_rejected(f, [&] { f.score({.history = bad_history}, Candidates::all(4), four_scores); },
                 "MatrixFactorization::score: history item 9 ");
  // An unknown user is not an error: it is served as documented (history, or cold start).
  std::vector<float> cold(4), mean(4);
  f.score({.user = 1000}, Candidates::all(4), cold);
  f.score({}, Candidates::all(4), mean);
  CHECK(cold == mean);
}

TEST_CASE("Models: wrong dimensions are Errors naming both sizes, the model unchanged") {
  const World w;
  const std::vector<float> five(5, 0.5f);
  const std::vector<float> wide(6 * 4, 0.5f);
  const Context long_user{.features = five, .items = w.view()};
  const Context wide_items{.features = w.user, .items = mr::MatrixView(wide, 6, 4)};
  std::vector<float> s(6);
  mr::LinUcb a = lin_ucb(w);
  mr::LinThompson b = lin_thompson(w);
  mr::LinearQ q = linear_q(w);
  mr::MlpScorer m = mlp(w);
  check_rejected(a, [&] { a.update(long_user, 0, 1.0); },
                 "LinUcb::update: the context has 5 features, the model was sized for 4");
  check_rejected(a, [&] { a.upper_bound(wide_items, Candidates::all(6), s); },
                 "LinUcb::upper_bound: the items have 4 features, the model was sized for 3");
  check_rejected(b, [&] { b.score(long_user, Candidates::all(6), s); },
                 "LinThompson::score: the context has 5 features, the model was sized for 4");
  check_rejected(q, [&] { q.update(wide_items, 0, 1.0); },
                 "LinearQ::update: context.items has rows of 4 values, the model's item dimension is 3");
  check_rejected(q, [&] { q.score(long_user, Candidates::all(6), s); },
                 "LinearQ::score: context.features has 5 values, the model's context dimension is 4");
  check_rejected(m, [&] { m.update(long_user, 0, 1.0); },
                 "MlpScorer::update: context.features has 5 values, the model's user dimension is 4");
  check_rejected(m, [&] { m.score(wide_items, Candidates::all(6), s); },
                 "MlpScorer::score: context.items has 4 columns, the model's item dimension is 3");
  // scores of the wrong length.
  std::vector<float> five_scores(5);
  check_rejected(a, [&] { a.score(w.context(), Candidates::all(6), five_scores); },
                 "LinUcb::score: scores has 5 entries, candidates has 6");
  check_rejected(q, [&] { q.score(w.context(), Candidates::all(6), five_scores); },
                 "LinearQ::score: scores has 5 entries, there are 6 candidates");
  check_rejected(m, [&] { m.score(w.context(), Candidates::all(6), five_scores); },
                 "MlpScorer::score: scores has 5 entries, there are 6 candidates");
}

TEST_CASE("Models: an empty candidate set scores nothing and is not an error") {
  const World w;
  const Context c = w.context();
  std::vector<float> none;
  mr::Rng rng(3);
  mr::LinUcb a = lin_ucb(w);
  mr::LinThompson b = lin_thompson(w);
  mr::LinearQ q = linear_q(w);
  mr::MlpScorer m = mlp(w);
  mr::TabularQ t({.states = 1, .actions = 6});
  mr::MatrixFactorization f({.factors = 2, .epochs = 2});
  f.fit(tiny_data());
  mr::Ease e;
  e.fit(tiny_data());
  mr::ItemKnn k;
  k.fit(tiny_data());
  for (const Candidates empty : {Candidates{}, Candidates::all(0)}) {
    CHECK_NOTHROW(a.score(c, empty, none));
    CHECK_NOTHROW(a.upper_bound(c, empty, none));
    CHECK_NOTHROW(b.sample_scores(c, empty, none, rng));
    CHECK_NOTHROW(q.score(c, empty, none));
    CHECK_NOTHROW(m.score(c, empty, none));
    CHECK_NOTHROW(t.score(c, empty, none));
    CHECK_NOTHROW(f.score({.user = 0}, empty, none));
    CHECK_NOTHROW(e.score({.user = 0}, empty, none));
    CHECK_NOTHROW(k.score({.user = 0}, empty, none));
  }
  // A bootstrapped update needs a next candidate to take a max over.
  check_rejected(q, [&] { q.update(c, 0, 1.0, c, Candidates{}); },
                 "LinearQ::update: next_candidates is empty (use the three-argument update");
  mr::TabularQ t2({.states = 1, .actions = 6});
  check_rejected(t2, [&] { t2.update({}, 0, 1.0, {}, Candidates{}); },
                 "TabularQ::update: next_candidates is empty (use the three-argument update");
}

TEST_CASE("MlpScorer: a first update too large for the arithmetic leaves the model uninitialised") {
  World huge;
  huge.items[2 * 3] = 3e38f;
  huge.user[0] = 3e38f;
  mr::MlpScorer m({.hidden = {8}});
  check_rejected(m, [&] { m.update(huge.context(), 2, 0.0); },
                 "MlpScorer::update: the gradient is not finite (an input too large for the arithmetic)");
  CHECK_FALSE(m.initialized());
  CHECK(m.parameter_count() == 0);
  // And it still learns from good input afterwards, as a fresh model would.
  const World w;
  m.update(w.context(), 1, 1.0);
  CHECK(saved(m) == saved(mlp(w)));
}

TEST_CASE("Saved streams: forged sizes with a valid checksum are Errors, nothing of their size allocated") {
  const World w;
  // LinearQ: dimensions of 2^40 would have sized 4 TB of weights before the weights were read.
  mr::LinearQ q = linear_q(w);
  Stream forged(saved(q));
  Stream::set<std::uint64_t>(forged["context_dim"], 0, std::uint64_t{1} << 40);
  CHECK(load_error(q, forged.bytes()) ==
        "loading a 'linear_q' model: field 'weights' has 10 values, expected 1099511627782");
  // A replay buffer of 2^50 transitions claimed, none present: read one by one, the first is
  // missing.
  mr::LinearQ r({.replay_capacity = std::size_t{1} << 60, .replay_batch = 1});
  r.update(w.context(), 1, 1.0);
  Stream replay(saved(r));
  Stream::set<std::uint64_t>(replay["replay_size"], 0, std::uint64_t{1} << 50);
  Stream::set<std::uint64_t>(replay["replay_next"], 0, std::uint64_t{1} << 50);
  CHECK(load_error(r, replay.bytes()) ==
        "loading a 'linear_q' model: expected field 'reward', found the end of the stream");
  // TabularQ: a table of 2^20 x 2^20 values claimed, and one of 2^31 x 2^31.
  mr::TabularQ t({.states = 2, .actions = 3});
  Stream table(saved(t));
  Stream::set<std::uint64_t>(table["states"], 0, std::uint64_t{1} << 20);
  Stream::set<std::uint64_t>(table["actions"], 0, std::uint64_t{1} << 20);
  CHECK(load_error(t, table.bytes()) ==
        "loading a 'tabular_q' model: field 'q' has 6 values, expected 1099511627776");
  Stream::set<std::uint64_t>(table["states"], 0, std::uint64_t{1} << 31);
  Stream::set<std::uint64_t>(table["actions"], 0, std::uint64_t{1} << 31);
  CHECK(load_error(t, table.bytes()) ==
        "TabularQ::load: a table of 2147483648 x 2147483648 values is too large");
  // MlpScorer: a network of 2^27 parameters claimed (within its limits), and one beyond them.
  mr::MlpScorer m = mlp(w);
  Stream net(saved(m));
  Stream::set<std::uint64_t>(net["user_dim"], 0, std::uint64_t{1} << 24);
  CHECK(load_error(m, net.bytes()) ==
        "loading a 'mlp' model: field 'parameters' has 73 values, expected 134217769");
  Stream::set<std::uint64_t>(net["hidden"], 0, 65536);
  CHECK(load_error(m, net.bytes()) ==
        "MlpScorer::load: the network would have 1099511955457 parameters, the limit is 268435456");
}

TEST_CASE("Saved streams: NaN and other impossible values forged with a valid checksum are Errors") {
  const World w;
  mr::LinearQ q = linear_q(w);
  Stream weights(saved(q));
  Stream::set<float>(weights["weights"], 3, nan_f);
  CHECK(load_error(q, weights.bytes()) ==
        "LinearQ::load: field 'weights' holds a non-finite value at 3");
  mr::LinearQ r({.replay_capacity = 4, .replay_batch = 1});
  r.update(w.context(), 1, 1.0);
  Stream replay(saved(r));
  Stream::set<float>(replay["action"], 1, inf_f);
  CHECK(load_error(r, replay.bytes()) == "LinearQ::load: field 'action' holds a non-finite value at 1");

  mr::TabularQ t({.states = 2, .actions = 3});
  Stream table(saved(t));
  Stream::set<float>(table["q"], 5, -inf_f);
  CHECK(load_error(t, table.bytes()) == "TabularQ::load: field 'q' holds a non-finite value at 5");

  mr::MlpScorer m = mlp(w);
  Stream net(saved(m));
  Stream::set<float>(net["parameters"], 0, nan_f);
  CHECK(load_error(m, net.bytes()) ==
        "MlpScorer::load: field 'parameters' holds a non-finite value at 0");
  Stream moments(saved(m));
  Stream::set<float>(moments["adam_v"], 2, -1.0f);
  CHECK(load_error(m, moments.bytes()) ==
        "MlpScorer::load: field 'adam_v' holds a negative or non-finite value at 2");

  mr::MatrixFactorization f({.factors = 2, .epochs = 2});
  f.fit(tiny_data());
  Stream factors(saved(f));
  Stream::set<float>(factors["item_factors"], 1, nan_f);
  CHECK(load_error(f, factors.bytes()) ==
        "MatrixFactorization::load: field 'item_factors' holds a non-finite value at 1");
  Stream gram(saved(f));
  Stream::set<double>(gram["gram"], 0, inf_d);
  CHECK(load_error(f, gram.bytes()) ==
        "MatrixFactorization::load: field 'gram' holds a non-finite value at 0");
}

namespace {

// An agent of LinUcb (cross features, 5 items of 2 features, 1 user feature) with explorer E,
// taught a few clicks, on a clock that stands still.
template <class E, class M = mr::LinUcb>
struct AgentFixture {
  std::vector<float> items = {1, 0, 0, 1, 1, 1, 0.5f, 0.5f, 2, 0};
  std::vector<float> x = {1};
  mr::Agent<M, E> agent{M({.features = mr::FeatureMap::cross})};
  AgentFixture() {
    agent.set_clock([] { return 0.0; });
    for (int i = 0; i < 3; ++i) {
      agent.learn(agent.recommend(context(), Candidates::all(5), 2).id, {.clicked = {0}});
    }
  }
  Context context() const { return Context{.features = x, .items = mr::MatrixView(items, 5, 2)}; }
};

// The checks every decision must pass: distinct positions' propensities in (0, 1], one score
// per item, items among `allowed`.
void check_decision(const mr::Decision& d, std::span<const std::size_t> allowed) {
  REQUIRE(d.scores.size() == d.items.size());
  REQUIRE(d.propensities.size() == d.items.size());
  for (std::size_t j = 0; j < d.items.size(); ++j) {
    CHECK(std::find(allowed.begin(), allowed.end(), d.items[j]) != allowed.end());
    CHECK(d.propensities[j] > 0.0f);
    CHECK(d.propensities[j] <= 1.0f);
    CHECK_FALSE(std::isnan(d.scores[j]));
  }
}

template <class E, class M = mr::LinUcb>
void check_agent_edge_cases() {
  AgentFixture<E, M> f;
  const std::vector<std::size_t> all = {0, 1, 2, 3, 4};
  const std::uint64_t before = f.agent.counters().updates;
  // k = 0 and an empty candidate set: a decision with no items (it has an id), nothing learned.
  for (const auto& [candidates, k] :
       {std::pair{Candidates::all(5), std::size_t{0}}, std::pair{Candidates{}, std::size_t{3}},
        std::pair{Candidates::all(0), std::size_t{3}}}) {
    const mr::Decision d = f.agent.recommend(f.context(), candidates, k);
    CHECK(d.id != 0);
    CHECK(d.items.empty());
    CHECK(f.agent.learn(d.id, {}) == mr::LearnStatus::learned);
  }
  CHECK(f.agent.counters().updates == before);
  // k beyond the candidates: every candidate, once each.
  const mr::Decision d = f.agent.recommend(f.context(), Candidates::all(5), 1000);
  check_decision(d, all);
  std::vector<std::size_t> sorted = d.items;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == all);
  const std::vector<std::size_t> two = {3, 1};
  const mr::Decision d2 = f.agent.recommend(f.context(), Candidates(two), size_max);
  check_decision(d2, two);
  CHECK(d2.items.size() == 2);
  // NaN scores are never chosen: a NaN user feature makes every score NaN, a NaN row its item's.
  const std::vector<float> nan_x = {nan_f};
  const mr::Decision none =
      f.agent.recommend({.features = nan_x, .items = f.context().items}, Candidates::all(5), 3);
  CHECK(none.items.empty());
  std::vector<float> bad_items = f.items;
  bad_items[2 * 4] = nan_f;  // item 4
  const mr::Decision without_4 = f.agent.recommend(
      {.features = f.x, .items = mr::MatrixView(bad_items, 5, 2)}, Candidates::all(5), 5);
  const std::vector<std::size_t> not_4 = {0, 1, 2, 3};
  check_decision(without_4, not_4);
  CHECK(without_4.items.size() == 4);
  // Unknown items: an Error, and no decision is issued.
  const std::vector<std::size_t> unknown = {1, 5};
  mr::Decision failed;
  const std::uint64_t decisions = f.agent.counters().decisions;
  // (the function named is the one the explorer ranks by: score, upper_bound, sample_scores)
  CHECK(error_of([&] { f.agent.recommend(f.context(), Candidates(unknown), 1, failed); })
            .ends_with(": item index 5 is outside the items matrix (5 rows)"));
  CHECK(failed.id == 0);
  CHECK(f.agent.counters().decisions == decisions);
  // Retired items, passed as the exclusion, are never recommended.
  mr::ItemBitset retired;
  retired.insert(4);
  retired.insert(0);
  const mr::Decision active = f.agent.recommend(f.context(), Candidates::all(5), 5, retired.view());
  const std::vector<std::size_t> allowed = {1, 2, 3};
  check_decision(active, allowed);
  CHECK(active.items.size() == 3);
}

}  // namespace

TEST_CASE("Agent: k = 0, k beyond the candidates, empty candidates, NaN scores, unknown and retired items") {
  SUBCASE("Greedy") { check_agent_edge_cases<mr::Greedy>(); }
  SUBCASE("Ucb") { check_agent_edge_cases<mr::Ucb>(); }
  SUBCASE("EpsilonGreedy") { check_agent_edge_cases<mr::EpsilonGreedy>(); }
  SUBCASE("Softmax") { check_agent_edge_cases<mr::Softmax>(); }
  SUBCASE("Thompson") { check_agent_edge_cases<mr::Thompson, mr::LinThompson>(); }
}

TEST_CASE("Agent: duplicate candidates are an Error, and no decision is issued") {
  // A repeated item would be served in two positions and learned twice.
  AgentFixture<mr::Greedy> f;
  const std::vector<std::size_t> dup = {4, 1, 4, 0};
  const std::uint64_t decisions = f.agent.counters().decisions;
  CHECK(error_of([&] { (void)f.agent.recommend(f.context(), Candidates(dup), 3); }) ==
        "Agent::recommend: candidate item 4 is listed twice (candidates must be distinct)");
  CHECK(f.agent.counters().decisions == decisions);
  // The check leaves its scratch clean: the same items without the repeat are served.
  const std::vector<std::size_t> distinct = {4, 1, 0};
  CHECK(f.agent.recommend(f.context(), Candidates(distinct), 3).items.size() == 3);
  // Huge indices are checked too, without allocating their range (the model then refuses them).
  const std::vector<std::size_t> huge = {std::size_t{1} << 40, 2, std::size_t{1} << 40};
  CHECK(error_of([&] { (void)f.agent.recommend(f.context(), Candidates(huge), 1); }) ==
        "Agent::recommend: candidate item 1099511627776 is listed twice (candidates must be distinct)");
}

TEST_CASE("Off-policy estimators: weights and terms too large to sum are Errors, never NaN") {
  namespace ev = mr::eval;
  std::vector<mr::LoggedDecision> logs(4);
  for (std::size_t i = 0; i < logs.size(); ++i) {
    logs[i].action = i % 2;
    logs[i].reward = static_cast<double>(i % 2);
    logs[i].propensity = 0.5;
  }
  const std::vector<double> target(4, 0.5);
  // A propensity in (0, 1] whose inverse overflows.
  std::vector<mr::LoggedDecision> tiny = logs;
  tiny[2].propensity = 1e-320;
  for (const auto& message : {error_of([&] { (void)ev::ips(tiny, target); }),
                              error_of([&] { (void)ev::snips(tiny, target); })}) {
    CHECK(message.find(": row 2: the importance weight 0.5 / 9.99989e-321 is not finite (the "
                       "propensity is too small)") != std::string::npos);
  }
  // A finite reward whose sum overflows (4 terms of 1e308).
  std::vector<mr::LoggedDecision> huge = logs;
  for (auto& row : huge) row.reward = 1e308;
  CHECK(error_of([&] { (void)ev::ips(huge, target); }) ==
        "eval::ips: row 0: the term 1e+308 is not finite or too large to sum (a propensity too "
        "small, or a reward or value too large)");
  CHECK(error_of([&] { (void)ev::replay(huge, std::vector<std::size_t>{0, 1, 0, 1}); })
            .starts_with("eval::replay: row 0: the term "));
  const std::vector<double> values(4, 1e308);
  CHECK(error_of([&] { (void)ev::direct_method(values); })
            .starts_with("eval::direct_method: row 0: the term "));
  const std::vector<double> q(4, -1e308);
  CHECK(error_of([&] { (void)ev::doubly_robust(logs, target, q, std::vector<double>(4, 0.0)); })
            .starts_with("eval::doubly_robust: row 0: the term "));
  // Large but summable terms are fine, and the interval stays finite.
  std::vector<mr::LoggedDecision> large = logs;
  for (auto& row : large) row.reward = 1e300;
  const ev::Estimate e = ev::ips(large, target, {.samples = 200});
  CHECK(std::isfinite(e.value));
  CHECK(std::isfinite(e.ci_low));
  CHECK(std::isfinite(e.ci_high));
}

TEST_CASE("read_fvecs: a dimension of 2^31 (or more, as unsigned) reads as negative and is refused") {
  for (const std::uint32_t dim : {0x80000000u, 0xFFFFFFFFu}) {
    std::vector<std::byte> bytes(12, std::byte{0});
    for (std::size_t i = 0; i < 4; ++i) bytes[i] = std::byte((dim >> (8 * i)) & 0xFFu);
    const std::string message = error_of([&] { (void)mr::io::read_fvecs(bytes, "x.fvecs"); });
    CHECK(message == "x.fvecs: vector 1: dimension " +
                         std::to_string(static_cast<std::int32_t>(dim)) +
                         " (expected a positive dimension; is this an .fvecs file?)");
  }
}
