// marl_rec_federated_insteval — measures federated averaging (FederatedAveraging) on real data:
// InstEval's 73,421 ratings of 1,128 lecturers by 2,972 students, as implicit feedback.
//
// Protocol.
// - Split: per-user random 80/20 (eval::split_per_user_random(data, 0.2, 42)); hyper-parameters
//   are chosen on a validation carve-out of the training part (split_per_user_random(train,
//   0.2, 7)); the test part is used only for the final figures.
// - Model: MatrixFactorization over binarised interactions, set up by fit() with epochs = 0
//   (random initialisation over the training id maps), then trained ONLINE: one pass is every
//   training interaction, in a seeded shuffled order, each as update(Context{.user = u}, item,
//   1.0) followed by `negatives` updates with reward 0 on items the user has not interacted with
//   (drawn uniformly). The event stream is generated once per pass and seed, so the central and
//   the federated runs learn from exactly the same events.
// - Central: one model processes the whole stream.
// - Federated: the users are split across the agents (a seeded random, balanced assignment);
//   each agent is a copy of the initial model and processes only its users' events (in the
//   stream's order). Every `round` examples per agent (and at the end of each pass) the item
//   factors are averaged with FederatedAveraging, weighted by the examples each agent processed
//   since the last round. The user factors stay local. Each user is scored by their own agent's
//   model; after the final round every agent holds the global item factors.
// - Metrics: NDCG@10 and Precision@10 over every item, each user's training items excluded, for
//   the users with test rows (eval::ranked_for_test_users + eval::evaluate).
// - Hyper-parameters (factors, learning rate, regularisation, negatives, passes) are chosen for
//   the CENTRAL model on validation by a coordinate search (each knob in turn from the best so
//   far; the pass count read off the same run at 5 / 10 / 20 passes), and used unchanged for the
//   federated runs. 64 factors are left out of the grid for run time: MatrixFactorization::update
//   keeps YᵀY up to date at O(f²) per update (f = 64 gained ~0.02 validation NDCG@10 for 4x the
//   time).
// - Federated rows: plain FedAvg (server learning rate 1, g = the weighted mean: the acceptance
//   figure, federated NDCG@10 within 5% of central) and a server learning rate equal to the
//   number of agents (the sum of the agents' updates; it matters when training is short).
// - Differential privacy (agent-level: one agent's whole data is what is protected): plain
//   FedAvg with clipping and noise, one round per pass by default (each round spends privacy).
//   The clip norm is chosen on validation (noise multiplier 1); the table then gives NDCG@10
//   against ε (δ = 1e-5) for noise multipliers 0.5, 1, 2, 4, beside clipping without noise
//   (ε = ∞) and the same rounds without privacy. With few agents the noise, z · C / n per
//   parameter, swamps the mean update (at most C); --dp-agents splits the users more finely for
//   the private runs only.
//
// Usage: marl_rec_federated_insteval [--data PATH/ratings.csv] [--quick] [--seed N]
//        [--agents N] [--round EXAMPLES] [--dp-agents N] [--dp-round EXAMPLES]
//        [--hyper FACTORS,LR,REG,NEGATIVES,PASSES] [--clip C]
// --agents (4) and --round (1000 examples per agent) set the federated runs; --dp-agents (as
// --agents) and --dp-round (one round per pass) the private ones; --hyper skips the validation
// search, --clip the clip-norm search. --quick: a small run for CTest: fixed hyper-parameters
// (16 factors, 10 passes), no search, clip norm 0.3, DP rows for noise 0 and 1 only; about 8 s.
// The full run takes about 4 minutes of CPU on one core.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/coord/federated_averaging.hpp"
#include "marl_rec/coord/privacy_accountant.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/split.hpp"
#include "marl_rec/io/interactions_csv.hpp"
#include "marl_rec/io/read_report.hpp"
#include "marl_rec/models/matrix_factorization.hpp"

namespace mr = marl_rec;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The hyper-parameters of the online training.
struct Hyper {
  std::size_t factors = 32;
  float learning_rate = 0.05f;
  float regularization = 0.01f;
  std::size_t negatives = 4;
  std::size_t passes = 10;
};

std::string describe(const Hyper& h) {
  char text[160];
  std::snprintf(text, sizeof text, "f=%zu lr=%g reg=%g neg=%zu passes=%zu", h.factors,
                static_cast<double>(h.learning_rate), static_cast<double>(h.regularization),
                h.negatives, h.passes);
  return text;
}

struct Event {
  std::uint32_t user = 0;
  std::uint32_t item = 0;
  float reward = 0.0f;
};

// Per user, a bitset row of the items they have in `train` (for sampling negatives).
class SeenItems {
 public:
  explicit SeenItems(const mr::Interactions& train)
      : n_items_(train.items.size()), seen_(train.users.size() * train.items.size(), 0) {
    for (const mr::Interaction& r : train.rows) seen_[r.user * n_items_ + r.item] = 1;
  }
  bool seen(std::size_t user, std::size_t item) const { return seen_[user * n_items_ + item] != 0; }
  std::size_t items() const { return n_items_; }

 private:
  std::size_t n_items_;
  std::vector<unsigned char> seen_;
};

// The events of pass `pass`: the training rows in an order shuffled by (seed, pass), each
// positive followed by `negatives` unseen items with reward 0.
std::vector<Event> pass_events(const mr::Interactions& train, const SeenItems& seen,
                               std::size_t negatives, std::size_t pass, std::uint64_t seed) {
  mr::Rng rng(seed * 0x9E3779B97F4A7C15ull + pass + 1);
  std::vector<std::size_t> order(train.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  mr::shuffle(order.begin(), order.end(), rng);
  std::vector<Event> events;
  events.reserve(train.size() * (1 + negatives));
  for (const std::size_t row : order) {
    const mr::Interaction& r = train.rows[row];
    events.push_back({static_cast<std::uint32_t>(r.user), static_cast<std::uint32_t>(r.item), 1.0f});
    for (std::size_t k = 0; k < negatives; ++k) {
      std::size_t item = 0;
      do {
        item = static_cast<std::size_t>(rng.below(seen.items()));
      } while (seen.seen(r.user, item));
      events.push_back({static_cast<std::uint32_t>(r.user), static_cast<std::uint32_t>(item), 0.0f});
    }
  }
  return events;
}

mr::MatrixFactorization initial_model(const mr::Interactions& train, const Hyper& h,
                                      std::uint64_t seed) {
  mr::MatrixFactorization model({.factors = h.factors,
                                 .epochs = 0,
                                 .regularization = h.regularization,
                                 .learning_rate = h.learning_rate,
                                 .init_scale = 0.1f,
                                 .seed = seed,
                                 .binarize = true});
  model.fit(train);
  return model;
}

void learn(mr::MatrixFactorization& model, const Event& e) {
  model.update(mr::Context{.user = e.user}, e.item, static_cast<double>(e.reward));
}

struct Figures {
  double ndcg10 = 0.0;
  double precision10 = 0.0;
};

// Each federated user is scored by their own agent's model.
class AgentsRecommender {
 public:
  AgentsRecommender(const std::vector<mr::MatrixFactorization>& agents,
                    const std::vector<std::uint32_t>& agent_of_user)
      : agents_(&agents), agent_of_user_(&agent_of_user) {}
  std::string_view name() const noexcept { return "federated"; }
  void fit(const mr::Interactions&) { throw mr::Error("AgentsRecommender: trained online only"); }
  void score_user(std::size_t user, std::span<float> scores) const {
    (*agents_)[(*agent_of_user_)[user]].score_user(user, scores);
  }

 private:
  const std::vector<mr::MatrixFactorization>* agents_;
  const std::vector<std::uint32_t>* agent_of_user_;
};

template <class Recommender>
Figures evaluate(const Recommender& model, const mr::Interactions& train,
                 const mr::Interactions& test) {
  const auto ranked = mr::eval::ranked_for_test_users(model, train, test, 10);
  const mr::eval::MetricTable t = mr::eval::evaluate(ranked, test, train.items.size(), {.k = 10});
  return {t.at("ndcg@10"), t.at("precision@10")};
}

// Central online training; `checkpoint(pass, model)` after each pass (1-based count).
template <class Checkpoint>
mr::MatrixFactorization train_central(const mr::Interactions& train, const Hyper& h,
                                      std::uint64_t seed, Checkpoint&& checkpoint) {
  const SeenItems seen(train);
  mr::MatrixFactorization model = initial_model(train, h, seed);
  for (std::size_t pass = 0; pass < h.passes; ++pass) {
    for (const Event& e : pass_events(train, seen, h.negatives, pass, seed)) learn(model, e);
    checkpoint(pass + 1, model);
  }
  return model;
}

// A balanced, seeded random assignment of users to agents.
std::vector<std::uint32_t> assign_users(std::size_t n_users, std::size_t agents,
                                        std::uint64_t seed) {
  std::vector<std::uint32_t> order(n_users);
  for (std::size_t u = 0; u < n_users; ++u) order[u] = static_cast<std::uint32_t>(u);
  mr::Rng rng(seed ^ 0xA5A5A5A5ull);
  mr::shuffle(order.begin(), order.end(), rng);
  std::vector<std::uint32_t> agent_of_user(n_users);
  for (std::size_t k = 0; k < n_users; ++k) {
    agent_of_user[order[k]] = static_cast<std::uint32_t>(k % agents);
  }
  return agent_of_user;
}

struct FederatedRun {
  std::vector<mr::MatrixFactorization> agents;
  // Empty, or why training stopped (e.g. the noise made an SGD step diverge).
  std::string failure;
  std::uint64_t rounds = 0;
  double epsilon = 0.0;
  std::size_t clipped = 0;        // agent updates clipped, over all rounds
  std::size_t updates = 0;        // agent updates (with weight > 0), over all rounds
  double mean_update_norm = 0.0;  // before clipping (private runs)
};

// Federated online training: the same events as train_central, each agent processing its own
// users' events, `round` at a time, then one FederatedAveraging round (also at each pass's end).
FederatedRun train_federated(const mr::Interactions& train, const Hyper& h, std::uint64_t seed,
                             const std::vector<std::uint32_t>& agent_of_user, std::size_t n_agents,
                             std::size_t round, const mr::FederatedAveragingConfig& config) {
  const SeenItems seen(train);
  FederatedRun run;
  run.agents.assign(n_agents, initial_model(train, h, seed));
  std::vector<mr::MatrixFactorization*> ptrs;
  for (mr::MatrixFactorization& a : run.agents) ptrs.push_back(&a);
  mr::FederatedAveraging fed(config);
  fed.broadcast(ptrs);
  std::vector<std::vector<Event>> queue(n_agents);
  std::vector<double> weights(n_agents);
  double norm_sum = 0.0;
  for (std::size_t pass = 0; pass < h.passes && run.failure.empty(); ++pass) {
    for (auto& q : queue) q.clear();
    for (const Event& e : pass_events(train, seen, h.negatives, pass, seed)) {
      queue[agent_of_user[e.user]].push_back(e);
    }
    std::vector<std::size_t> cursor(n_agents, 0);
    for (bool more = true; more && run.failure.empty();) {
      more = false;
      for (std::size_t a = 0; a < n_agents; ++a) {
        const std::size_t end = cursor[a] + std::min(round, queue[a].size() - cursor[a]);
        weights[a] = static_cast<double>(end - cursor[a]);
        try {
          for (std::size_t k = cursor[a]; k < end; ++k) learn(run.agents[a], queue[a][k]);
        } catch (const mr::Error& e) {
          run.failure = e.what();
          break;
        }
        cursor[a] = end;
        more = more || end < queue[a].size();
      }
      if (!run.failure.empty()) break;
      fed.average(ptrs, weights);
      run.clipped += fed.last_round().clipped;
      for (const double w : weights) run.updates += w > 0.0 ? 1 : 0;
      norm_sum += fed.last_round().max_update_norm;
    }
  }
  run.rounds = fed.rounds();
  run.epsilon = fed.epsilon();
  run.mean_update_norm = norm_sum / static_cast<double>(std::max<std::uint64_t>(run.rounds, 1));
  return run;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string path = "../shared/data/insteval/ratings.csv";
  bool quick = false;
  std::uint64_t seed = 1;
  std::size_t n_agents = 4;
  std::size_t dp_agents = 0;  // 0: as many as --agents
  std::size_t round = 1000;
  // Private runs: one round per pass by default (few rounds: each one spends privacy).
  std::size_t dp_round = std::numeric_limits<std::size_t>::max();
  std::optional<Hyper> fixed_hyper;
  std::optional<double> fixed_clip;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      path = argv[++i];
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::stoull(argv[++i]);
    } else if (arg == "--agents" && i + 1 < argc) {
      n_agents = std::stoull(argv[++i]);
    } else if (arg == "--dp-agents" && i + 1 < argc) {
      dp_agents = std::stoull(argv[++i]);
    } else if (arg == "--round" && i + 1 < argc) {
      round = std::stoull(argv[++i]);
    } else if (arg == "--dp-round" && i + 1 < argc) {
      dp_round = std::stoull(argv[++i]);
    } else if (arg == "--hyper" && i + 1 < argc) {
      Hyper h;
      if (std::sscanf(argv[++i], "%zu,%f,%f,%zu,%zu", &h.factors, &h.learning_rate,
                      &h.regularization, &h.negatives, &h.passes) != 5 || h.passes == 0) {
        throw mr::Error("--hyper takes FACTORS,LR,REG,NEGATIVES,PASSES (e.g. 32,0.05,0.01,4,20)");
      }
      fixed_hyper = h;
    } else if (arg == "--clip" && i + 1 < argc) {
      fixed_clip = std::stod(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--data PATH/ratings.csv] [--quick] [--seed N] [--agents N] "
                   "[--round EXAMPLES] [--dp-agents N] [--dp-round EXAMPLES] "
                   "[--hyper F,LR,REG,NEG,PASSES] [--clip C]\n",
                   argv[0]);
      return 2;
    }
  }
  if (dp_agents == 0) dp_agents = n_agents;
  if (n_agents < 1 || round < 1 || dp_round < 1) {
    throw mr::Error("--agents, --round and --dp-round must be at least 1");
  }
  const auto start = std::chrono::steady_clock::now();
  mr::io::ReadReport report;
  mr::Interactions data = mr::io::read_interactions_csv(path, {}, &report);
  std::fprintf(stderr, "%s\n", report.summary().c_str());
  const mr::eval::Split split = mr::eval::split_per_user_random(data, 0.2, 42);
  const mr::eval::Split carve = mr::eval::split_per_user_random(split.train, 0.2, 7);
  std::printf("InstEval: %zu ratings, %zu users, %zu items; split %zu train / %zu test "
              "(per-user random 80/20, seed 42); validation %zu / %zu (seed 7)\n",
              data.size(), data.users.size(),
              data.items.size(), split.train.size(), split.test.size(), carve.train.size(),
              carve.test.size());
  std::printf("seed %llu, %zu agents, a round every %zu examples per agent\n\n",
              static_cast<unsigned long long>(seed), n_agents, round);

  // ---- central hyper-parameters on validation ------------------------------------------------
  Hyper best{};
  if (quick) best = {.factors = 16, .learning_rate = 0.05f, .regularization = 0.01f,
                     .negatives = 4, .passes = 10};
  if (fixed_hyper) best = *fixed_hyper;
  const bool search = !quick && !fixed_hyper;
  double best_ndcg = -1.0;
  std::map<std::string, Figures> tried;
  // One training run per (factors, lr, reg, negatives), evaluated after each pass in
  // `checkpoints`: the pass count is chosen along the same run.
  const std::vector<std::size_t> checkpoints = {5, 10, 20};
  const auto try_config = [&](Hyper h) {
    h.passes = checkpoints.front();
    if (tried.count(describe(h)) != 0) return;  // this run was made already
    h.passes = checkpoints.back();
    const auto t0 = std::chrono::steady_clock::now();
    train_central(carve.train, h, seed, [&](std::size_t pass, const mr::MatrixFactorization& m) {
      if (std::find(checkpoints.begin(), checkpoints.end(), pass) == checkpoints.end()) return;
      Hyper at = h;
      at.passes = pass;
      const std::string label = describe(at);
      if (tried.count(label) != 0) return;
      const Figures f = evaluate(m, carve.train, carve.test);
      tried[label] = f;
      std::printf("| %-48s | %7.4f | %7.4f | %6.1f |\n", label.c_str(), f.ndcg10, f.precision10,
                  seconds_since(t0));
      std::fflush(stdout);
      if (f.ndcg10 > best_ndcg) {
        best_ndcg = f.ndcg10;
        best = at;
      }
    });
  };
  if (search) {
    std::printf("Validation search, central model (coordinate search; NDCG@10 / P@10 on the "
                "carve-out)\n\n");
    std::printf("| %-48s | %7s | %7s | %6s |\n|%s|---------|---------|--------|\n",
                "configuration", "NDCG@10", "P@10", "s", std::string(50, '-').c_str());
    using Knob = std::vector<Hyper (*)(Hyper)>;
    const std::vector<Knob> knobs = {
        {[](Hyper h) { h.learning_rate = 0.02f; return h; },
         [](Hyper h) { h.learning_rate = 0.05f; return h; },
         [](Hyper h) { h.learning_rate = 0.1f; return h; }},
        {[](Hyper h) { h.regularization = 0.002f; return h; },
         [](Hyper h) { h.regularization = 0.01f; return h; },
         [](Hyper h) { h.regularization = 0.03f; return h; }},
        {[](Hyper h) { h.negatives = 2; return h; },
         [](Hyper h) { h.negatives = 4; return h; },
         [](Hyper h) { h.negatives = 8; return h; }},
        {[](Hyper h) { h.factors = 16; return h; },
         [](Hyper h) { h.factors = 32; return h; }},
    };
    try_config(best);
    for (const Knob& knob : knobs) {
      const Hyper from = best;  // every value of this knob from the same point
      for (const auto& set : knob) try_config(set(from));
    }
    std::printf("\nchosen on validation: %s (NDCG@10 %.4f)\n\n", describe(best).c_str(),
                best_ndcg);
  } else {
    std::printf("fixed hyper-parameters (%s): %s\n\n", quick ? "--quick" : "--hyper",
                describe(best).c_str());
  }

  // ---- test: central vs federated --------------------------------------------------------------
  const auto t_central = std::chrono::steady_clock::now();
  const mr::MatrixFactorization central =
      train_central(split.train, best, seed, [](std::size_t, const mr::MatrixFactorization&) {});
  const Figures central_figures = evaluate(central, split.train, split.test);
  const double central_seconds = seconds_since(t_central);

  // Trains and evaluates one federated configuration on `train` / `test`.
  struct Result {
    Figures figures{};
    FederatedRun run{};
    double seconds = 0.0;
  };
  const auto federated_run = [&](const mr::Interactions& train, const mr::Interactions& test,
                                 std::size_t agents, std::size_t examples_per_round,
                                 const mr::FederatedAveragingConfig& config) {
    const auto t = std::chrono::steady_clock::now();
    const std::vector<std::uint32_t> agent_of_user = assign_users(data.users.size(), agents, seed);
    Result r;
    r.run = train_federated(train, best, seed, agent_of_user, agents, examples_per_round, config);
    if (r.run.failure.empty()) {
      r.figures = evaluate(AgentsRecommender(r.run.agents, agent_of_user), train, test);
    }
    r.seconds = seconds_since(t);
    return r;
  };
  // Plain FedAvg (server learning rate 1: g = the weighted mean) is the acceptance figure. The
  // second row uses η = number of agents, the sum of the agents' updates (see
  // FederatedAveragingConfig::server_learning_rate): it matters when training is short (plain
  // averaging divides each item's progress by about the number of agents; --quick shows it).
  const auto n_agents_d = static_cast<double>(n_agents);
  const Result plain = federated_run(split.train, split.test, n_agents, round, {.seed = seed});
  const Result summed = federated_run(split.train, split.test, n_agents, round,
                                      {.seed = seed, .server_learning_rate = n_agents_d});
  const double ratio = plain.figures.ndcg10 / central_figures.ndcg10;
  const auto row = [](const char* label, const Result& r) {
    if (!r.run.failure.empty()) {
      std::printf("| %s | diverged | - | %llu | %.1f |\n", label,
                  static_cast<unsigned long long>(r.run.rounds), r.seconds);
      return;
    }
    std::printf("| %s | %.4f | %.4f | %llu | %.1f |\n", label, r.figures.ndcg10,
                r.figures.precision10, static_cast<unsigned long long>(r.run.rounds), r.seconds);
  };
  std::printf("Test split, %s\n\n", search ? "hyper-parameters chosen on validation for the central model"
                                          : "fixed hyper-parameters");
  std::printf("| run | NDCG@10 | P@10 | rounds | s |\n|---|---|---|---|---|\n");
  std::printf("| central (one model, whole stream) | %.4f | %.4f | - | %.1f |\n",
              central_figures.ndcg10, central_figures.precision10, central_seconds);
  const std::string plain_label =
      "federated, " + std::to_string(n_agents) + " agents, FedAvg (server lr 1)";
  const std::string summed_label = "federated, " + std::to_string(n_agents) +
                                   " agents, server lr " + std::to_string(n_agents) +
                                   " (sum of updates)";
  row(plain_label.c_str(), plain);
  row(summed_label.c_str(), summed);
  std::printf("\nfederated (FedAvg) / central NDCG@10 = %.3f (acceptance: >= 0.95): %s\n\n", ratio,
              ratio >= 0.95 ? "PASS" : "FAIL");
  std::fflush(stdout);

  // ---- differential privacy -----------------------------------------------------------------
  const double delta = 1e-5;
  const auto private_config = [&](double clip_norm, double z) {
    return mr::FederatedAveragingConfig{
        .privacy = {.enabled = true, .clip_norm = clip_norm, .noise_multiplier = z,
                    .delta = delta},
        .seed = seed};
  };
  const std::string dp_rounds =
      dp_round == std::numeric_limits<std::size_t>::max()
          ? std::string("one round per pass")
          : "a round every " + std::to_string(dp_round) + " examples per agent";
  double clip = quick ? 0.3 : 1.0;
  if (fixed_clip) clip = *fixed_clip;
  if (!quick && !fixed_clip) {
    std::printf("Clip norm on validation (%zu agents, FedAvg, %s, noise multiplier 1, delta "
                "1e-5)\n\n", dp_agents, dp_rounds.c_str());
    std::printf("| clip norm | NDCG@10 | clipped updates | mean largest update norm |\n"
                "|---|---|---|---|\n");
    double best_clip_ndcg = -1.0;
    for (const double c : {0.03, 0.1, 0.3, 1.0, 3.0}) {
      const Result r = federated_run(carve.train, carve.test, dp_agents, dp_round,
                                     private_config(c, 1.0));
      std::printf("| %g | %s | %zu / %zu | %.3f |\n", c,
                  r.run.failure.empty() ? std::to_string(r.figures.ndcg10).substr(0, 6).c_str()
                                        : "diverged",
                  r.run.clipped, r.run.updates, r.run.mean_update_norm);
      std::fflush(stdout);
      if (r.run.failure.empty() && r.figures.ndcg10 > best_clip_ndcg) {
        best_clip_ndcg = r.figures.ndcg10;
        clip = c;
      }
    }
    std::printf("\nchosen clip norm: %g\n\n", clip);
  }
  std::printf("Differential privacy on the test split (agent-level, delta = %g, clip norm %g, "
              "%zu agents, FedAvg, %s)\n\n", delta, clip, dp_agents, dp_rounds.c_str());
  std::printf("| noise multiplier | epsilon | NDCG@10 | P@10 | rounds | s |\n"
              "|---|---|---|---|---|---|\n");
  const auto dp_row = [](const std::string& z, const std::string& epsilon, const Result& r) {
    if (!r.run.failure.empty()) {
      std::printf("| %s | %s | diverged | - | %llu | %.1f |\n", z.c_str(), epsilon.c_str(),
                  static_cast<unsigned long long>(r.run.rounds), r.seconds);
    } else {
      std::printf("| %s | %s | %.4f | %.4f | %llu | %.1f |\n", z.c_str(), epsilon.c_str(),
                  r.figures.ndcg10, r.figures.precision10,
                  static_cast<unsigned long long>(r.run.rounds), r.seconds);
    }
    std::fflush(stdout);
  };
  dp_row("- (no privacy, no clipping)", "-",
         federated_run(split.train, split.test, dp_agents, dp_round, {.seed = seed}));
  const std::vector<double> multipliers =
      quick ? std::vector<double>{0.0, 1.0} : std::vector<double>{0.0, 0.5, 1.0, 2.0, 4.0};
  for (const double z : multipliers) {
    const Result r =
        federated_run(split.train, split.test, dp_agents, dp_round, private_config(clip, z));
    char label[32], epsilon[32];
    std::snprintf(label, sizeof label, "%g", z);
    std::snprintf(epsilon, sizeof epsilon, "%.3g", r.run.epsilon);
    dp_row(z == 0.0 ? "0 (clipping only)" : label, epsilon, r);
  }
  std::printf("\ntotal %.1f s\n", seconds_since(start));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_federated_insteval: %s\n", e.what());
  return 1;
}
