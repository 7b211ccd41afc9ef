// The Model contract (concepts/model.hpp): `score` — and each model's other const calls the
// headers name — may run on many threads at once and give exactly what they give on one thread.
// Every model keeps its scoring scratch per thread (thread_local, grown on first use), so the
// threads below score different shapes at the same moment to make those buffers grow together.
// LinUcb's upper bound, Ease's and MlpScorer's score have their own tests in their files; this
// one covers the rest, and `save` (const too) for every model. Run under -fsanitize=thread too (docs/threading_and_persistence.md).
#include <doctest/doctest.h>

#include <cstddef>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/core/context.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/models/ease.hpp"
#include "marl_rec/models/item_knn.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/models/mlp_scorer.hpp"
#include "marl_rec/models/tabular_q.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "support/concurrently.hpp"

namespace {

namespace mr = marl_rec;
using mr::Candidates;
using mr::Context;
using mr::test::disagreements;
using mr::test::no_disagreement;

constexpr std::size_t threads = 4;
constexpr std::size_t rounds = 10;

/// 48 items of 6 features, 8 users of 5 features, each user with a history and a candidate list
/// of its own length (6 + 4u items), and an interaction log for the collaborative models.
struct World {
  static constexpr std::size_t n_items = 48, item_dim = 6, users = 8, user_dim = 5;

  World() {
    mr::Rng rng(2024);
    for (float& x : items) x = static_cast<float>(rng.normal());
    for (float& x : features) x = static_cast<float>(rng.normal());
    for (std::size_t u = 0; u < users; ++u) {
      for (std::size_t j = 0; j < 3; ++j) histories[u].push_back((u * 11 + j * 5) % n_items);
      // 7 is coprime with 48: the list has no repeated item.
      for (std::size_t j = 0; j < 6 + 4 * u; ++j) candidates[u].push_back((u * 5 + j * 7) % n_items);
    }
    for (std::size_t i = 0; i < n_items; ++i) train.items.intern(mr::numbered_id("i", i));
    for (std::size_t u = 0; u < users; ++u) {
      const std::size_t user = train.users.intern(mr::numbered_id("u", u));
      for (std::size_t j = 0; j < 10; ++j) {
        train.rows.push_back({.user = user, .item = (u * 6 + j * (u % 3 + 1)) % n_items, .rating = 1.0f,
                              .timestamp = 0.0, .source_row = train.rows.size()});
      }
    }
  }

  /// User u's context; a known user (for the collaborative models) unless `anonymous`.
  Context context(std::size_t u, bool anonymous = false) const {
    return {.features = std::span<const float>(features).subspan(u * user_dim, user_dim),
            .items = mr::MatrixView(std::span<const float>(items), n_items, item_dim),
            .history = histories[u],
            .user = anonymous ? mr::no_user : u,
            .state = u % 4};
  }
  Candidates candidates_of(std::size_t u) const { return Candidates(candidates[u]); }

  mr::AlignedVector<float> items = mr::AlignedVector<float>(n_items * item_dim);
  mr::AlignedVector<float> features = mr::AlignedVector<float>(users * user_dim);
  std::vector<std::size_t> histories[users];
  std::vector<std::size_t> candidates[users];
  mr::Interactions train;
};

/// `model` after 300 updates on the world's users, a seeded reward each.
template <class M>
M trained(M model, const World& world) {
  mr::Rng rng(7);
  for (std::size_t t = 0; t < 300; ++t) {
    const std::size_t u = t % World::users;
    const std::vector<std::size_t>& list = world.candidates[u];
    model.update(world.context(u), list[rng.below(list.size())], rng.uniform() < 0.3 ? 1.0 : 0.0);
  }
  return model;
}

/// model.score of user u over its own candidate list (cases 0 .. users − 1) and over every item
/// (cases users .. 2·users − 1).
template <class M>
std::vector<float> scores(const M& model, const World& world, std::size_t c, bool anonymous = false) {
  const std::size_t u = c % World::users;
  const Candidates candidates = c < World::users ? world.candidates_of(u) : Candidates::all(World::n_items);
  std::vector<float> out(candidates.size());
  model.score(world.context(u, anonymous), candidates, out);
  return out;
}

template <class M>
std::string saved(const M& model) {
  std::ostringstream out;
  model.save(out);
  return out.str();
}

}  // namespace

TEST_CASE("LinThompson: concurrent score and sample_scores give the single-thread results") {
  const World world;
  const mr::LinThompson model = trained(mr::LinThompson({.features = mr::FeatureMap::cross, .v = 0.5f}), world);
  CHECK(disagreements(2 * World::users, threads, rounds,
                      [&](std::size_t c) { return scores(model, world, c); }) == no_disagreement(threads));
  // A posterior draw uses only the Rng it is given: one Rng per call, seeded by the case.
  const auto draw = [&](std::size_t c) {
    const std::size_t u = c % World::users;
    std::vector<float> out(world.candidates[u].size());
    mr::Rng rng(100 + c);
    model.sample_scores(world.context(u), world.candidates_of(u), out, rng);
    return out;
  };
  CHECK(disagreements(World::users, threads, rounds, draw) == no_disagreement(threads));
}

TEST_CASE("LinUcb, disjoint: concurrent score and upper_bound give the single-thread results") {
  const World world;
  const mr::LinUcb model =
      trained(mr::LinUcb({.mode = mr::LinUcbConfig::Mode::disjoint, .features = mr::FeatureMap::context}), world);
  CHECK(disagreements(2 * World::users, threads, rounds,
                      [&](std::size_t c) { return scores(model, world, c); }) == no_disagreement(threads));
  const auto bound = [&](std::size_t u) {
    std::vector<float> out(World::n_items);
    model.upper_bound(world.context(u), Candidates::all(World::n_items), out);
    return out;
  };
  CHECK(disagreements(World::users, threads, rounds, bound) == no_disagreement(threads));
}

TEST_CASE("LinearQ: concurrent score, weights and save give the single-thread results") {
  const World world;
  const mr::LinearQ model =
      trained(mr::LinearQ({.features = mr::FeatureMap::cross, .replay_capacity = 16, .replay_batch = 4}), world);
  CHECK(disagreements(2 * World::users, threads, rounds,
                      [&](std::size_t c) { return scores(model, world, c); }) == no_disagreement(threads));
  // The const calls the header names, side by side: scoring, reading the weights, saving.
  const auto mixed = [&](std::size_t c) -> std::string {
    if (c == 0) return saved(model);
    if (c == 1) {
      const std::span<const float> w = model.weights();
      return std::string(reinterpret_cast<const char*>(w.data()), w.size_bytes());
    }
    const std::vector<float> s = scores(model, world, c);
    return std::string(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(float));
  };
  CHECK(disagreements(2 * World::users, threads, rounds, mixed) == no_disagreement(threads));
}

TEST_CASE("TabularQ: concurrent score, q, values and save give the single-thread results") {
  const World world;
  const mr::TabularQ model = trained(mr::TabularQ({.states = 4, .actions = World::n_items}), world);
  const auto mixed = [&](std::size_t c) -> std::string {
    if (c == 0) return saved(model);
    if (c == 1) {
      const std::span<const float> v = model.values();
      return std::string(reinterpret_cast<const char*>(v.data()), v.size_bytes());
    }
    if (c == 2) return std::to_string(model.q(3, 17));
    const std::vector<float> s = scores(model, world, c);
    return std::string(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(float));
  };
  CHECK(disagreements(2 * World::users, threads, rounds, mixed) == no_disagreement(threads));
}

TEST_CASE("MatrixFactorization: concurrent score, score_user, fold_in and probabilities agree with one thread") {
  const World world;
  mr::MatrixFactorization model({.factors = 8, .epochs = 3});
  model.fit(world.train);
  // Known users, and anonymous contexts whose history is folded in (the thread_local scratch).
  CHECK(disagreements(2 * World::users, threads, rounds,
                      [&](std::size_t c) { return scores(model, world, c); }) == no_disagreement(threads));
  CHECK(disagreements(2 * World::users, threads, rounds,
                      [&](std::size_t c) { return scores(model, world, c, /*anonymous=*/true); }) ==
        no_disagreement(threads));
  const auto per_user = [&](std::size_t c) {
    const std::size_t u = c % World::users;
    std::vector<float> out(c < World::users ? World::n_items : 8);
    if (c < World::users) {
      model.score_user(u, out);
    } else {
      model.fold_in(world.histories[u], out);
    }
    return out;
  };
  CHECK(disagreements(2 * World::users, threads, rounds, per_user) == no_disagreement(threads));
  const auto probabilities = [&](std::size_t u) {
    std::vector<float> out(World::n_items);
    model.probabilities(u, out, 0.5f);
    return out;
  };
  CHECK(disagreements(World::users, threads, rounds, probabilities) == no_disagreement(threads));
}

TEST_CASE("ItemKnn: concurrent score and score_user give the single-thread results") {
  const World world;
  mr::ItemKnn model({.neighbours = 10});
  model.fit(world.train);
  CHECK(disagreements(2 * World::users, threads, rounds,
                      [&](std::size_t c) { return scores(model, world, c); }) == no_disagreement(threads));
  CHECK(disagreements(2 * World::users, threads, rounds,
                      [&](std::size_t c) { return scores(model, world, c, /*anonymous=*/true); }) ==
        no_disagreement(threads));
  const auto per_user = [&](std::size_t u) {
    std::vector<float> out(World::n_items);
    model.score_user(u, out);
    return out;
  };
  CHECK(disagreements(World::users, threads, rounds, per_user) == no_disagreement(threads));
}

TEST_CASE("save is const: concurrent saves give the single-thread bytes, for every model") {
  const World world;
  const mr::LinUcb linucb = trained(mr::LinUcb({.features = mr::FeatureMap::concat}), world);
  const mr::LinThompson linthompson = trained(mr::LinThompson({.features = mr::FeatureMap::concat}), world);
  const mr::LinearQ linear = trained(mr::LinearQ({.features = mr::FeatureMap::cross, .replay_capacity = 8, .replay_batch = 2}), world);
  const mr::TabularQ tabular = trained(mr::TabularQ({.states = 4, .actions = World::n_items}), world);
  const mr::MlpScorer mlp = trained(mr::MlpScorer({.hidden = {8}}), world);
  mr::MatrixFactorization mf({.factors = 4, .epochs = 2});
  mf.fit(world.train);
  mr::Ease ease({.lambda = 5.0f});
  ease.fit(world.train);
  mr::ItemKnn knn({.neighbours = 5});
  knn.fit(world.train);
  const auto bytes = [&](std::size_t c) {
    switch (c) {
      case 0: return saved(linucb);
      case 1: return saved(linthompson);
      case 2: return saved(linear);
      case 3: return saved(tabular);
      case 4: return saved(mlp);
      case 5: return saved(mf);
      case 6: return saved(ease);
      default: return saved(knn);
    }
  };
  CHECK(disagreements(8, threads, rounds, bytes) == no_disagreement(threads));
}
