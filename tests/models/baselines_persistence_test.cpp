// Save/load of the baseline batch recommenders: MostPopular, RandomRecommender,
// Item2VecRecommender and SessionQ. Each: a round trip gives the same bytes and the same scores
// for every user, a load replaces another configuration, damaged or forged streams are Errors
// that change nothing.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/item2vec_recommender.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "marl_rec/models/random_recommender.hpp"
#include "marl_rec/models/session_q.hpp"
#include "marl_rec/models/tabular_q.hpp"
#include "support/errors.hpp"
#include "support/stream_checks.hpp"

namespace {

namespace mr = marl_rec;
using mr::test::check_damage_rejected;
using mr::test::load_error;
using mr::test::saved;
using Mode = mr::SequenceEncoderConfig::Mode;

const float nan_f = std::numeric_limits<float>::quiet_NaN();

// `users` users, each with 2..6 interactions over `items` items, with timestamps.
mr::Interactions data(std::size_t users, std::size_t items, std::uint64_t seed) {
  mr::Interactions d;
  d.has_timestamp = true;
  for (std::size_t i = 0; i < items; ++i) d.items.intern(mr::numbered_id("i", i));
  mr::Rng rng(seed);
  for (std::size_t u = 0; u < users; ++u) {
    const std::size_t user = d.users.intern(mr::numbered_id("u", u));
    const std::size_t n = 2 + static_cast<std::size_t>(rng.below(5));
    for (std::size_t k = 0; k < n; ++k) {
      d.rows.push_back({.user = user, .item = static_cast<std::size_t>(rng.below(items)),
                        .timestamp = rng.uniform(), .source_row = d.rows.size()});
    }
  }
  return d;
}

// Every user's scores (and a few unknown users'), one after another.
template <class M>
std::vector<float> all_scores(const M& model, std::size_t users, std::size_t items) {
  std::vector<float> out;
  std::vector<float> s(items);
  for (std::size_t u = 0; u < users + 3; ++u) {
    model.score_user(u, s);
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("MostPopular: save and load round-trip the counts") {
  mr::MostPopular model;
  model.fit(data(10, 7, 1));
  const std::string bytes = saved(model);
  mr::MostPopular loaded;
  loaded.fit(data(3, 2, 2));
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(all_scores(loaded, 10, 7) == all_scores(model, 10, 7));

  mr::MostPopular target;
  check_damage_rejected(target, bytes, "most_popular");
  CHECK(load_error(target, saved(mr::RandomRecommender())) ==
        "loading a 'most_popular' model: the stream holds a 'random_recommender' model");
  const auto forge = [](const std::vector<float>& counts) {
    std::ostringstream out;
    mr::io::ModelWriter w(out, "most_popular", 1);
    w.floats("counts", counts);
    w.finish();
    return out.str();
  };
  CHECK(load_error(target, forge({1.0f, 0.0f})) == "no error");
  CHECK(load_error(target, forge({1.0f, 0.5f})) ==
        "loading a 'most_popular' model: the count of item 1 is 0.500000, not a whole number >= 0");
  CHECK(load_error(target, forge({nan_f})) ==
        "loading a 'most_popular' model: the count of item 0 is nan, not a whole number >= 0");
  CHECK(target.counts().size() == 2);
}

TEST_CASE("RandomRecommender: save and load round-trip the seed and the item count") {
  mr::RandomRecommender model({.seed = 99});
  model.fit(data(5, 9, 1));
  const std::string bytes = saved(model);
  mr::RandomRecommender loaded({.seed = 1});
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.config().seed == 99);
  CHECK(all_scores(loaded, 5, 9) == all_scores(model, 5, 9));

  mr::RandomRecommender target;
  check_damage_rejected(target, bytes, "random_recommender");
  CHECK(load_error(target, saved(mr::MostPopular())) ==
        "loading a 'random_recommender' model: the stream holds a 'most_popular' model");
}

TEST_CASE("Item2VecRecommender: save and load keep every user's scores") {
  const mr::Interactions train = data(30, 15, 3);
  using Scoring = mr::Item2VecRecommender::Scoring;
  for (const Scoring scoring : {Scoring::cosine, Scoring::context}) {
    CAPTURE(scoring == Scoring::cosine);
    mr::Item2VecRecommender model(
        {.item2vec = {.dim = 4, .window = 2, .negatives = 2, .epochs = 2, .min_count = 3, .seed = 5},
         .encoder = {.mode = Mode::attention,
                     .query = mr::SequenceEncoderConfig::Query::learned,
                     .epochs = 1,
                     .negatives = 3},
         .scoring = scoring});
    model.fit(train);
    const std::string bytes = saved(model);
    mr::Item2VecRecommender loaded({.item2vec = {.dim = 2}, .encoder = {.mode = Mode::recency}});
    CHECK(load_error(loaded, bytes) == "no error");
    CHECK(saved(loaded) == bytes);
    CHECK(loaded.config().scoring == scoring);
    CHECK(loaded.config().item2vec.min_count == 3);
    CHECK(loaded.config().encoder.mode == Mode::attention);
    CHECK(same_bits(all_scores(loaded, 30, 15), all_scores(model, 30, 15)));
    for (std::size_t u = 0; u < 33; ++u) CHECK(loaded.is_warm(u) == model.is_warm(u));
  }
  // An unfitted recommender round-trips.
  mr::Item2VecRecommender fresh;
  mr::Item2VecRecommender target({.item2vec = {.dim = 3}});
  target.fit(train);
  CHECK(load_error(target, saved(fresh)) == "no error");
  CHECK(saved(target) == saved(fresh));
  CHECK_FALSE(target.is_warm(0));
}

TEST_CASE("Item2VecRecommender: damaged, foreign and forged streams are Errors that change nothing") {
  mr::Item2VecRecommender source({.item2vec = {.dim = 2, .epochs = 1, .seed = 2}});
  source.fit(data(4, 5, 4));
  mr::Item2VecRecommender target({.item2vec = {.dim = 2, .epochs = 1}});
  target.fit(data(3, 4, 5));
  const std::string before = saved(target);
  check_damage_rejected(target, saved(source), "item2vec_recommender", 8);
  CHECK(load_error(target, saved(mr::SessionQ())) ==
        "loading a 'item2vec_recommender' model: the stream holds a 'session_q' model");

  // Forged around a real item model of 5 items in dim 2 (items 0..4; some may lack a vector).
  mr::Item2Vec item2vec({.dim = 2, .epochs = 1, .seed = 2});
  item2vec.fit(data(4, 5, 4));
  struct Fields {
    std::vector<std::uint64_t> warm{1, 0};
    std::vector<float> users{0.6f, 0.8f, 0.0f, 0.0f};
    std::vector<float> popularity{1, 2, 0, 3, 1};
    std::string encoder{};
  };
  const auto forge = [&](const Fields& f) {
    std::ostringstream out;
    mr::io::ModelWriter w(out, "item2vec_recommender", 1);
    w.u64("scoring", 0);
    w.object("item2vec", item2vec);
    if (f.encoder.empty()) {
      w.object("encoder", mr::SequenceEncoder());
    } else {
      w.stream("encoder", f.encoder);
    }
    w.u64s("warm", f.warm);
    w.floats("user_vectors", f.users);
    w.floats("popularity", f.popularity);
    w.finish();
    return out.str();
  };
  mr::Item2VecRecommender probe;
  CHECK(load_error(probe, forge({})) == "no error");
  CHECK(probe.is_warm(0));
  CHECK_FALSE(probe.is_warm(1));
  const std::string where = "loading a 'item2vec_recommender' model: ";
  CHECK(load_error(target, forge({.warm = {2, 0}})) == where + "field 'warm' holds 2 for user 0");
  CHECK(load_error(target, forge({.users = {0.6f, 0.8f, 0.0f, 0.1f}})) ==
        where + "the encoding of user 1 is not zero, but the user is cold");
  CHECK(load_error(target, forge({.users = {nan_f, 0.8f, 0.0f, 0.0f}})) ==
        where + "the encoding of user 0 is not finite");
  CHECK(load_error(target, forge({.users = {0.6f, 0.8f}})) ==
        where + "field 'user_vectors' has 2 values, expected 4");
  CHECK(load_error(target, forge({.popularity = {1, 2, 0}})) ==
        where + "field 'popularity' has 3 values, expected 5");
  CHECK(load_error(target, forge({.popularity = {1, 2, -1, 3, 1}})) ==
        where + "the popularity of item 2 is -1.000000");
  mr::SequenceEncoder wide({.mode = Mode::attention, .projections = true});
  wide.initialize(3);
  CHECK(load_error(target, forge({.encoder = saved(wide)})) ==
        where + "the encoder's parameters are for dimension 3, the item vectors have 2");
  CHECK(load_error(target, forge({.encoder = saved(mr::MostPopular())})) ==
        "loading a 'sequence_encoder' model: the stream holds a 'most_popular' model");
  CHECK(saved(target) == before);
}

TEST_CASE("SessionQ: save and load keep the table and every user's last state") {
  const mr::Interactions train = data(12, 8, 6);
  mr::SessionQ model({.alpha = 0.25f, .gamma = 0.75f, .epochs = 7, .max_items = 50});
  model.fit(train);
  const std::string bytes = saved(model);
  mr::SessionQ loaded({.epochs = 2, .max_items = 9});
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.config().alpha == 0.25f);
  CHECK(loaded.config().max_items == 50);
  CHECK(all_scores(loaded, 12, 8) == all_scores(model, 12, 8));
  // Refitted alike (the config came with the load).
  const mr::Interactions more = data(5, 6, 7);
  loaded.fit(more);
  model.fit(more);
  CHECK(saved(loaded) == saved(model));
  mr::SessionQ fresh;
  CHECK(load_error(loaded, saved(fresh)) == "no error");
  CHECK(saved(loaded) == saved(fresh));
}

TEST_CASE("SessionQ: damaged, foreign and forged streams are Errors that change nothing") {
  mr::SessionQ source({.epochs = 2});
  source.fit(data(3, 3, 8));
  mr::SessionQ target;
  target.fit(data(2, 2, 9));
  const std::string before = saved(target);
  check_damage_rejected(target, saved(source), "session_q", 2);
  CHECK(load_error(target, saved(mr::TabularQ())) ==
        "loading a 'session_q' model: the stream holds a 'tabular_q' model");
  struct Fields {
    double alpha = 0.5;
    std::uint64_t items = 2, max_items = 10;
    mr::TabularQConfig table{.states = 3, .actions = 2, .alpha = 0.5f, .gamma = 0.5f};
    std::vector<std::uint64_t> last{2, 0, 1};
    float q = 0.0f;
  };
  const auto forge = [](const Fields& f) {
    std::ostringstream out;
    mr::io::ModelWriter w(out, "session_q", 1);
    w.f64("alpha", f.alpha);
    w.f64("gamma", 0.5);
    w.u64("epochs", 10);
    w.u64("max_items", f.max_items);
    w.u64("items", f.items);
    // The table's own stream, forged too (so that it can hold a value no update gives).
    std::ostringstream table;
    mr::io::ModelWriter t(table, "tabular_q", 1);
    t.u64("states", f.table.states);
    t.u64("actions", f.table.actions);
    t.f64("alpha", f.table.alpha);
    t.f64("gamma", f.table.gamma);
    t.f64("initial_q", 0.0);
    std::vector<float> values(f.table.states * f.table.actions, 0.0f);
    values[0] = f.q;
    t.floats("q", values);
    t.finish();
    w.stream("table", table.view());
    w.u64s("last", f.last);
    w.finish();
    return out.str();
  };
  mr::SessionQ probe;
  CHECK(load_error(probe, forge({})) == "no error");
  std::vector<float> s(2);
  probe.score_user(0, s);  // user 0 is in state 2
  CHECK(s == std::vector<float>{0.0f, 0.0f});
  const std::string where = "loading a 'session_q' model: ";
  CHECK(load_error(target, forge({.alpha = 2.0})) == where + "TabularQ: alpha must be in (0, 1], got 2.000000");
  CHECK(load_error(target, forge({.alpha = 0.1})) == where + "alpha 0.100000 or gamma 0.500000 is not a float");
  CHECK(load_error(target, forge({.items = 11})) == where + "field 'items' = 11 is outside [0, 10]");
  CHECK(load_error(target, forge({.table = {.states = 4, .actions = 3, .alpha = 0.5f, .gamma = 0.5f}})) ==
        where + "the table (4 x 3) does not fit 2 items and the config");
  CHECK(load_error(target, forge({.table = {.states = 3, .actions = 2, .alpha = 0.25f, .gamma = 0.5f}})) ==
        where + "the table (3 x 2) does not fit 2 items and the config");
  CHECK(load_error(target, forge({.last = {3}})) == where + "user 0 is in state 3 of 3");
  CHECK(load_error(target, forge({.items = 0})) == where + "3 users but no items");
  // The table's own load may refuse it first (TabularQ checks its values too).
  const std::string nan_message = load_error(target, forge({.q = nan_f}));
  CHECK(nan_message.find("finite") != std::string::npos);
  CHECK(saved(target) == before);
}
