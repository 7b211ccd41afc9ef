// Test support: the small models whose saved files are kept under tests/data/golden/<format>/,
// one recipe per stream type, and the probe that reads a loaded model back out (its scores on
// fixed inputs). make_golden writes <type>.bin and <type>.expected (the probe, as hex floats);
// golden_test loads every file kept and checks the probe bit for bit. The recipes may change in
// later versions: the files, once kept, never do.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "marl_rec/marl_rec.hpp"

namespace marl_rec::test::golden {

/// Owning item matrix for the recipes.
struct GoldenItems {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<float> data;
  MatrixView view() const { return MatrixView(data, rows, cols); }
};

inline GoldenItems items(std::uint64_t seed, std::size_t rows = 12, std::size_t cols = 3) {
  Rng rng(seed);
  GoldenItems m{rows, cols, std::vector<float>(rows * cols)};
  for (float& v : m.data) v = static_cast<float>(rng.normal());
  return m;
}

inline std::vector<float> vec(Rng& rng, std::size_t n) {
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal());
  return v;
}

/// The probe of a context model: scores of every item for 3 fixed contexts.
template <class M>
std::vector<double> probe_context_model(const M& model, std::size_t feature_dim) {
  const GoldenItems its = items(7);
  Rng rng(99);
  std::vector<double> out;
  for (int c = 0; c < 3; ++c) {
    const std::vector<float> x = vec(rng, feature_dim);
    const std::vector<std::size_t> history = {static_cast<std::size_t>(c), 5};
    std::vector<float> s(its.rows);
    model.score(Context{.features = x, .items = its.view(), .history = history,
                        .user = static_cast<std::size_t>(c), .state = static_cast<std::size_t>(c)},
                Candidates::all(its.rows), s);
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

template <class M>
void train_context_model(M& model, std::size_t feature_dim, std::uint64_t seed, int steps) {
  const GoldenItems its = items(7);
  Rng rng(seed);
  for (int t = 0; t < steps; ++t) {
    const std::vector<float> x = vec(rng, feature_dim);
    const std::vector<std::size_t> history = {static_cast<std::size_t>(rng.below(its.rows))};
    model.update(Context{.features = x, .items = its.view(), .history = history},
                 static_cast<std::size_t>(rng.below(its.rows)), rng.normal());
  }
}

/// A small rated data set (users u0..u7, items i0..i5).
inline Interactions ratings() {
  Interactions data;
  Rng rng(5);
  std::size_t row = 0;
  for (int u = 0; u < 8; ++u) {
    for (int i = 0; i < 6; ++i) {
      if (rng.uniform() < 0.5) continue;
      data.rows.push_back({.user = data.users.intern(numbered_id("u", static_cast<std::size_t>(u))),
                           .item = data.items.intern(numbered_id("i", static_cast<std::size_t>(i))),
                           .rating = 1.0f + static_cast<float>(rng.below(4)),
                           .timestamp = 0.0,
                           .source_row = row++});
    }
  }
  return data;
}

template <class M>
std::vector<double> probe_users(const M& model, std::size_t users, std::size_t n_items) {
  std::vector<double> out;
  for (std::size_t u = 0; u < users; ++u) {
    std::vector<float> s(n_items);
    model.score_user(u, s);
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

/// One kept stream type: how to make a model of it, save it, and load + probe a saved one.
struct Recipe {
  std::string type;
  /// Builds the model and writes it to the stream; returns its probe.
  std::function<std::vector<double>(std::ostream&)> save;
  /// Loads a model from the stream and returns its probe.
  std::function<std::vector<double>(std::istream&)> load;
};

inline std::vector<double> probe_fed(const FederatedAveraging& fed) {
  std::vector<double> out(fed.global_parameters().begin(), fed.global_parameters().end());
  out.push_back(fed.epsilon());
  out.push_back(static_cast<double>(fed.rounds()));
  out.push_back(static_cast<double>(fed.config().pages_per_round));
  return out;
}

inline std::vector<Recipe> recipes() {
  std::vector<Recipe> r;
  r.push_back({"linucb",
               [](std::ostream& out) {
                 LinUcb m({.mode = LinUcbConfig::Mode::disjoint, .features = FeatureMap::cross,
                           .alpha = 0.4f, .ridge = 0.7f, .refactor_every = 9});
                 train_context_model(m, 2, 1, 40);
                 m.save(out);
                 return probe_context_model(m, 2);
               },
               [](std::istream& in) {
                 LinUcb m;
                 m.load(in);
                 return probe_context_model(m, 2);
               }});
  r.push_back({"linthompson",
               [](std::ostream& out) {
                 LinThompson m({.features = FeatureMap::concat});
                 train_context_model(m, 2, 2, 40);
                 m.save(out);
                 return probe_context_model(m, 2);
               },
               [](std::istream& in) {
                 LinThompson m;
                 m.load(in);
                 return probe_context_model(m, 2);
               }});
  r.push_back({"linear_q",
               [](std::ostream& out) {
                 LinearQ m({.features = FeatureMap::concat, .alpha = 0.05f, .gamma = 0.8f,
                            .replay_capacity = 16, .replay_batch = 4, .seed = 3});
                 train_context_model(m, 2, 3, 40);
                 m.save(out);
                 return probe_context_model(m, 2);
               },
               [](std::istream& in) {
                 LinearQ m;
                 m.load(in);
                 return probe_context_model(m, 2);
               }});
  r.push_back({"tabular_q",
               [](std::ostream& out) {
                 TabularQ m({.states = 3, .actions = 12, .alpha = 0.3f, .gamma = 0.5f,
                             .initial_q = 0.25f});
                 Rng rng(4);
                 for (int t = 0; t < 60; ++t) {
                   m.update(Context{.state = static_cast<std::size_t>(rng.below(3))},
                            static_cast<std::size_t>(rng.below(12)), rng.normal());
                 }
                 m.save(out);
                 return probe_context_model(m, 0);
               },
               [](std::istream& in) {
                 TabularQ m;
                 m.load(in);
                 return probe_context_model(m, 0);
               }});
  r.push_back({"mlp",
               [](std::ostream& out) {
                 MlpScorer m({.hidden = {5, 3}, .learning_rate = 0.05f, .l2 = 0.001f, .seed = 5});
                 train_context_model(m, 2, 5, 40);
                 m.save(out);
                 return probe_context_model(m, 2);
               },
               [](std::istream& in) {
                 MlpScorer m;
                 m.load(in);
                 return probe_context_model(m, 2);
               }});
  r.push_back({"mlp_f64",
               [](std::ostream& out) {
                 BasicMlpScorer<double> m({.hidden = {4}, .learning_rate = 0.05f, .seed = 6});
                 train_context_model(m, 2, 6, 40);
                 m.save(out);
                 return probe_context_model(m, 2);
               },
               [](std::istream& in) {
                 BasicMlpScorer<double> m;
                 m.load(in);
                 return probe_context_model(m, 2);
               }});
  r.push_back({"matrix_factorization",
               [](std::ostream& out) {
                 MatrixFactorization m({.factors = 3, .epochs = 4, .regularization = 0.1f,
                                        .seed = 7});
                 const Interactions data = ratings();
                 m.fit(data);
                 m.update(Context{.user = 1}, 2, 1.0);
                 m.save(out);
                 return probe_users(m, 8, 6);
               },
               [](std::istream& in) {
                 MatrixFactorization m;
                 m.load(in);
                 return probe_users(m, 8, 6);
               }});
  r.push_back({"ease",
               [](std::ostream& out) {
                 Ease m({.lambda = 2.0f, .binarize = false});
                 m.fit(ratings());
                 m.update(Context{.user = 3}, 4, 2.0);
                 m.save(out);
                 return probe_users(m, 8, 6);
               },
               [](std::istream& in) {
                 Ease m;
                 m.load(in);
                 return probe_users(m, 8, 6);
               }});
  r.push_back({"self_attention_recommender",
               [](std::ostream& out) {
                 SelfAttentionRecommender m({.dim = 4, .max_len = 4, .blocks = 1, .dropout = 0.1,
                                             .epochs = 3, .min_steps = 0, .negatives = 2,
                                             .batch_size = 4, .seed = 7});
                 m.fit(ratings());
                 m.update(Context{.user = 1}, 2, 1.0);
                 m.save(out);
                 return probe_users(m, 8, 6);
               },
               [](std::istream& in) {
                 SelfAttentionRecommender m;
                 m.load(in);
                 return probe_users(m, 8, 6);
               }});
  r.push_back({"irgan",
               [](std::ostream& out) {
                 Irgan m({.factors = 3, .rounds = 2, .pretrain_epochs = 3, .seed = 7});
                 m.fit(ratings());
                 m.update(Context{.user = 2}, 1, 1.0);
                 m.save(out);
                 return probe_users(m, 8, 6);
               },
               [](std::istream& in) {
                 Irgan m;
                 m.load(in);
                 return probe_users(m, 8, 6);
               }});
  r.push_back({"itemknn",
               [](std::ostream& out) {
                 ItemKnn m({.neighbours = 2, .shrink = 0.5f, .alpha = 0.6f, .binarize = false});
                 m.fit(ratings());
                 m.update(Context{.user = 2}, 1, 1.5);
                 m.save(out);
                 return probe_users(m, 8, 6);
               },
               [](std::istream& in) {
                 ItemKnn m;
                 m.load(in);
                 return probe_users(m, 8, 6);
               }});
  r.push_back({"rdp_accountant",
               [](std::ostream& out) {
                 RdpAccountant a;
                 a.add_gaussian(1.3, 25);
                 a.add_gaussian(0.9, 3);
                 a.save(out);
                 return std::vector<double>{a.epsilon(1e-5), a.epsilon(1e-3),
                                            static_cast<double>(a.steps())};
               },
               [](std::istream& in) {
                 RdpAccountant a;
                 a.load(in);
                 return std::vector<double>{a.epsilon(1e-5), a.epsilon(1e-3),
                                            static_cast<double>(a.steps())};
               }});
  r.push_back({"federated_averaging",
               [](std::ostream& out) {
                 FederatedAveragingConfig c;
                 c.privacy = {.enabled = true, .clip_norm = 0.5, .noise_multiplier = 1.1,
                              .delta = 1e-5};
                 c.seed = 8;
                 c.pages_per_round = 77;
                 FederatedAveraging fed(c);
                 LinearQ a({.features = FeatureMap::concat, .seed = 1});
                 LinearQ b({.features = FeatureMap::concat, .seed = 2});
                 train_context_model(a, 2, 10, 10);
                 train_context_model(b, 2, 11, 10);
                 const std::vector<LinearQ*> models = {&a, &b};
                 fed.broadcast(models);
                 train_context_model(a, 2, 12, 10);
                 train_context_model(b, 2, 13, 10);
                 const std::vector<double> weights = {1.0, 2.0};
                 fed.average(models, weights);
                 fed.save(out);
                 return probe_fed(fed);
               },
               [](std::istream& in) {
                 FederatedAveraging fed;
                 fed.load(in);
                 return probe_fed(fed);
               }});
  return r;
}

}  // namespace marl_rec::test::golden
