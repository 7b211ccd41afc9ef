// marl_rec_federated_private — federated averaging with differential privacy: what a privacy
// budget ε costs in accuracy.
//
// Users are dealt to many agents (stores, regions, groups of devices). Each agent trains its own
// MatrixFactorization on its own users and never sees another agent's rows. After each round of
// local training, FederatedAveraging moves every agent's item factors (the shared parameters) by
// the agents' mean update; user factors never leave their agent. With privacy, each update is
// clipped to L2 norm C and Gaussian noise is added to the mean; the RdpAccountant counts the
// (ε, δ) spent. The guarantee is agent-level: it covers everything one agent contributes. Held-out
// accuracy is printed for several budgets ε, beside four references: the same rounds without
// privacy, clipping alone (ε = ∞), one central model, and most-popular.
//
// Protocol.
// - Data: by default a synthetic world from eval::Simulator (users' and items' taste vectors in
//   10 categories); each user picks 20 distinct items, item i with probability
//   ∝ exp(4 · affinity). --data FILE reads an interactions CSV instead (user_id,item_id[,...],
//   e.g. InstEval's ratings.csv), each row one implicit interaction.
// - Split: per-user random 80/20 (eval::split_per_user_random).
// - Model: MatrixFactorization, 8 factors, trained online. A pass takes every training row once
//   in a shuffled order: update(user, item, 1), then 4 random items outside the user's training
//   rows with reward 0 (learning rate 0.05 and L2 0.01, as federated_insteval chose on InstEval).
// - Central: one model, --rounds passes over all the training rows.
// - Federated: a seeded shuffle deals the users to --agents agents (sizes differ by at most one);
//   each holds its users under local indices, with the global item map. Each of --rounds rounds
//   is one pass per agent over its own rows, then one FederatedAveraging round with equal weights
//   and server learning rate η (--server-lr): as many passes as central.
// - Privacy: δ = 1e-5, clip norm C (--clip), one Gaussian accountant step per round; for each
//   target ε, the noise multiplier z = noise_multiplier_for(ε, δ, rounds).
// - Metrics: NDCG@10 and recall@10 over the full catalog, training items excluded
//   (eval::ranked_for_test_users + eval::evaluate), each user ranked by their agent's model.
// - η and C were chosen on a validation carve-out (a per-user random 20%) of seed 1's training
//   part: first η = 50 among {10, 25, 50, 100, 200}, for federated averaging without privacy;
//   then C = 0.1 among {0.03, 0.1, 0.3, 1}, for the private run at ε = 4 with that η. The search
//   is not in this program, and (as in most DP studies) its own privacy cost is not counted.
//
// Usage: marl_rec_federated_private [--data FILE] [--agents N] [--rounds R]
//          [--epsilons E1,E2,...] [--clip C] [--server-lr ETA] [--seed S] [--out DIR] [--quick]
// Defaults: the synthetic world of 5,000 users, 200 items and 20 picks each; 500 agents,
// 16 rounds, ε = 1,2,4,8,16, C = 0.1, η = 50, seed 1. --seed seeds everything random (the
// world, the split, the dealing, the initial factors, each model's shuffles and negatives, the
// noise), each stream through its own seed drawn from it. The plot goes to
// DIR/federated_private.svg (DIR: "."). --quick, the CTest run:
// 1,000 users, 100 agents, 8 rounds, ε = 2,8 (other flags override it, wherever it is). The
// default run takes about 9 s of CPU at -O3, --quick about 0.6 s.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <marl_rec/marl_rec.hpp>

#include "../support/flags.hpp"
#include "../support/svg_plot.hpp"

namespace mr = marl_rec;

namespace {

constexpr double delta = 1e-5;
constexpr double not_applicable = std::numeric_limits<double>::quiet_NaN();  // printed "-"

// Every random stream has its own seed, all drawn from one generator seeded by --seed.
struct Seeds {
  std::uint64_t world, picks, split, deal, model, central, agents, noise;
};

Seeds seeds_from(std::uint64_t seed) {
  mr::Rng root(seed);
  Seeds s{};
  for (std::uint64_t* field : {&s.world, &s.picks, &s.split, &s.deal, &s.model, &s.central,
                               &s.agents, &s.noise}) {
    *field = root.next_u64();
  }
  return s;
}

struct Options {
  std::string data;  // empty: the synthetic world
  std::size_t users = 5000, items = 200, history = 20;  // the synthetic world
  std::size_t agents = 500, rounds = 16;
  std::vector<double> epsilons{1, 2, 4, 8, 16};
  double clip = 0.1, server_lr = 50.0;
  std::uint64_t seed = 1;
  Seeds seeds = seeds_from(1);
  std::string out = ".";
};

// The top `history` items by 4 · affinity + Gumbel noise: a draw without replacement, each
// item with probability ∝ exp(4 · affinity).
mr::Interactions synthetic_world(const Options& o) {
  const mr::eval::Simulator world({.users = o.users, .items = o.items, .seed = o.seeds.world});
  mr::Rng rng(o.seeds.picks);
  mr::Interactions data;
  for (std::size_t i = 0; i < o.items; ++i) data.items.intern(mr::numbered_id("item", i));
  std::vector<std::pair<double, std::size_t>> keys(o.items);
  for (std::size_t u = 0; u < o.users; ++u) {
    data.users.intern(mr::numbered_id("user", u));
    for (std::size_t i = 0; i < o.items; ++i) {
      keys[i] = {4.0 * world.affinity(u, i) - std::log(-std::log(1.0 - rng.uniform())), i};
    }
    const auto end = keys.begin() + static_cast<std::ptrdiff_t>(o.history);
    std::partial_sort(keys.begin(), end, keys.end(), std::greater<>{});
    for (auto k = keys.begin(); k != end; ++k) {
      data.rows.push_back({.user = u, .item = k->second, .source_row = data.rows.size()});
    }
  }
  return data;
}

// The untrained model every agent and the central model start from.
mr::MatrixFactorization fresh_model(const mr::Interactions& train, std::uint64_t seed) {
  mr::MatrixFactorization model({.factors = 8, .epochs = 0, .regularization = 0.01f,
                                 .learning_rate = 0.05f, .init_scale = 0.1f, .seed = seed});
  model.fit(train);  // epochs = 0: random factors sized to train's id maps, no training
  return model;
}

// The rows one model learns from, and each user's items (sorted): negatives come from the rest.
struct Shard {
  mr::Interactions train;
  std::vector<std::vector<std::size_t>> seen;
  explicit Shard(mr::Interactions t)
      : train(std::move(t)), seen(mr::eval::items_by_user(train, train.users.size())) {}
};

// One online pass over the shard's rows, each positive followed by 4 negatives.
void sgd_pass(mr::MatrixFactorization& model, Shard& shard, mr::Rng& rng) {
  const std::size_t n_items = shard.train.items.size();
  mr::shuffle(shard.train.rows.begin(), shard.train.rows.end(), rng);
  for (const mr::Interaction& row : shard.train.rows) {
    const mr::Context user{.user = row.user};
    model.update(user, row.item, 1.0);
    const std::vector<std::size_t>& seen = shard.seen[row.user];
    for (int k = 0; k < 4 && seen.size() < n_items; ++k) {
      std::size_t item = 0;
      do {
        item = static_cast<std::size_t>(rng.below(n_items));
      } while (std::binary_search(seen.begin(), seen.end(), item));
      model.update(user, item, 0.0);
    }
  }
}

// The users dealt to agents: one shard per agent, and where each global user went.
struct Federation {
  std::vector<Shard> shards;
  std::vector<std::size_t> agent_of, local_of;  // by global user index
};

Federation deal(const mr::Interactions& train, std::size_t agents, std::uint64_t seed) {
  std::vector<std::size_t> order(train.users.size());
  for (std::size_t u = 0; u < order.size(); ++u) order[u] = u;
  mr::Rng rng(seed);
  mr::shuffle(order.begin(), order.end(), rng);
  mr::Interactions empty = train.with_no_rows();
  empty.users = mr::IdMap{};  // an agent knows only its own users
  std::vector<mr::Interactions> parts(agents, empty);
  Federation f{{}, std::vector<std::size_t>(order.size()), std::vector<std::size_t>(order.size())};
  for (std::size_t k = 0; k < order.size(); ++k) {
    f.agent_of[order[k]] = k % agents;
    f.local_of[order[k]] = parts[k % agents].users.intern(train.users.id(order[k]));
  }
  for (mr::Interaction row : train.rows) {
    const std::size_t agent = f.agent_of[row.user];
    row.user = f.local_of[row.user];
    parts[agent].rows.push_back(row);
  }
  for (mr::Interactions& p : parts) f.shards.emplace_back(std::move(p));
  return f;
}

// Ranks each user with their own agent's model, as a BatchRecommender for ranked_for_test_users.
class FederatedRecommender {
 public:
  FederatedRecommender(const Federation& f, const std::vector<mr::MatrixFactorization>& agents)
      : f_(&f), agents_(&agents) {}
  std::string_view name() const noexcept { return "federated"; }
  void fit(const mr::Interactions&) { throw mr::Error("trained by federated rounds, not by fit"); }
  void score_user(std::size_t user, std::span<float> scores) const {
    (*agents_)[f_->agent_of[user]].score_user(f_->local_of[user], scores);
  }

 private:
  const Federation* f_;
  const std::vector<mr::MatrixFactorization>* agents_;
};

// One row of the table. ε = ∞: no guarantee; NaN prints as "-" (NDCG: "diverged").
struct Result {
  std::string run;
  double ndcg = 0.0, recall = 0.0, epsilon = std::numeric_limits<double>::infinity();
  double z = not_applicable, clipped = not_applicable;
};

template <class Recommender>
Result evaluate(const Recommender& model, const mr::eval::Split& split, std::string run) {
  const auto ranked = mr::eval::ranked_for_test_users(model, split.train, split.test, 10);
  const auto table = mr::eval::evaluate(ranked, split.test, split.train.items.size(), {.k = 10});
  return {std::move(run), table.at("ndcg@10"), table.at("recall@10")};
}

// --rounds times: one local pass per agent, then one FederatedAveraging round. `f` is taken by
// value so that every run starts from the same shards and random streams.
Result federated(const char* run, const mr::eval::Split& split, Federation f, const Options& o,
                 const mr::FederatedAveragingConfig& config) {
  std::vector<mr::MatrixFactorization> agents;
  std::vector<mr::Rng> rngs;  // each agent's own shuffles and negatives
  for (std::size_t a = 0; a < f.shards.size(); ++a) {
    agents.push_back(fresh_model(f.shards[a].train, o.seeds.model));
    rngs.emplace_back(o.seeds.agents + a);
  }
  std::vector<mr::MatrixFactorization*> models;
  for (mr::MatrixFactorization& m : agents) models.push_back(&m);
  mr::FederatedAveraging fed(config);
  fed.broadcast(models);  // a common start, from which the private rounds measure the updates
  // Equal weights. The DP analysis treats weights as public: equal ones reveal no agent's size
  // and give the least noise (σ = z · C · max w / Σ w = z · C / agents).
  const std::vector<double> weights(agents.size(), 1.0);
  double clipped = 0.0;
  for (std::size_t round = 0; round < o.rounds; ++round) {
    try {
      for (std::size_t a = 0; a < agents.size(); ++a) sgd_pass(agents[a], f.shards[a], rngs[a]);
    } catch (const mr::Error& e) {  // too large a step (η · noisy mean): a row of its own
      std::fprintf(stderr, "%s, round %zu: %s (a smaller --server-lr may help)\n", run, round + 1,
                   e.what());
      return {run, not_applicable, not_applicable, fed.epsilon()};  // NDCG NaN: diverged
    }
    fed.average(models, weights);
    clipped += static_cast<double>(fed.last_round().clipped);
  }
  Result r = evaluate(FederatedRecommender(f, agents), split, run);
  r.epsilon = fed.epsilon();
  if (config.privacy.enabled) r.clipped = clipped / static_cast<double>(o.rounds * agents.size());
  return r;
}

// NDCG@10 against ε (log axis) as SVG; each reference is a level line across it.
bool write_plot(const std::vector<Result>& refs, std::vector<Result> dp, const Options& o) {
  std::erase_if(dp, [](const Result& r) { return std::isnan(r.ndcg); });  // diverged runs
  if (dp.empty()) return false;
  mr::examples::LinePlot plot{.title = "NDCG@10 against epsilon: agent-level DP, delta = 1e-5, " +
                                       std::to_string(o.agents) + " agents, " + std::to_string(o.rounds) + " rounds",
                              .x_label = "epsilon (log scale)",
                              .y_label = "NDCG@10",
                              .x = {},
                              .series = {{"private", {}}},
                              .log_x = true};
  for (const Result& r : dp) {
    plot.x.push_back(r.epsilon);
    plot.series[0].y.push_back(r.ndcg);
  }
  for (const Result& r : refs) {
    if (!std::isnan(r.ndcg)) plot.series.push_back({r.run, std::vector<double>(dp.size(), r.ndcg)});
  }
  mr::examples::write_svg(o.out + "/federated_private.svg", plot);
  return true;
}

constexpr const char* usage =
    "usage: marl_rec_federated_private [--data FILE] [--agents N] [--rounds R]\n"
    "         [--epsilons E1,E2,...] [--clip C] [--server-lr ETA] [--seed S] [--out DIR]\n"
    "         [--quick] [--help]\n"
    "Defaults: the synthetic world (5000 users, 200 items), 500 agents, 16 rounds, epsilons\n"
    "1,2,4,8,16, clip 0.1, server-lr 50, seed 1, out '.'. --quick: 1000 users, 100 agents,\n"
    "8 rounds, epsilons 2,8 (other flags override it). The protocol: the header of\n"
    "examples/federated_private/main.cpp.\n";

Options parse(int argc, char** argv) {
  Options o;
  // --quick first, wherever it is: the flags given with it override its settings.
  if (std::find(argv + 1, argv + argc, std::string_view("--quick")) != argv + argc) {
    o.users = 1000, o.agents = 100, o.rounds = 8, o.epsilons = {2, 8};
  }
  mr::examples::Flags flags(argc, argv);
  while (flags.next()) {
    if (flags.is("--help") || flags.is("-h")) {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (flags.is("--data")) {
      o.data = flags.text();
    } else if (flags.is("--agents")) {
      o.agents = flags.whole(1);
    } else if (flags.is("--rounds")) {
      o.rounds = flags.whole(1);
    } else if (flags.is("--epsilons")) {
      o.epsilons = flags.numbers(0.0, 1e9, true);
      std::sort(o.epsilons.begin(), o.epsilons.end());
    } else if (flags.is("--clip")) {
      o.clip = flags.number(0.0, 1e9, true);
    } else if (flags.is("--server-lr")) {
      o.server_lr = flags.number(0.0, 1e9, true);
    } else if (flags.is("--seed")) {
      o.seed = flags.whole();
    } else if (flags.is("--out")) {
      o.out = flags.text();
    } else if (!flags.is("--quick")) {
      flags.unknown();
    }
  }
  o.seeds = seeds_from(o.seed);
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  std::vector<double> noise;  // per target ε: the least z whose rounds spend at most ε at δ
  for (const double target : o.epsilons) {
    noise.push_back(mr::noise_multiplier_for(target, delta, o.rounds));
  }
  std::filesystem::create_directories(o.out);
  const auto start = std::chrono::steady_clock::now();
  mr::Interactions data;
  if (o.data.empty()) {
    data = synthetic_world(o);
  } else {
    mr::io::ReadReport report;
    data = mr::io::read_interactions_csv(o.data, {}, &report);
    std::fprintf(stderr, "%s\n", report.summary().c_str());
  }
  const mr::eval::Split split = mr::eval::split_per_user_random(data, 0.2, o.seeds.split);
  if (o.agents > data.users.size()) throw mr::Error("--agents is larger than the number of users");
  const Federation federation = deal(split.train, o.agents, o.seeds.deal);
  std::printf("%s: %zu users, %zu items, %zu train / %zu test rows; %zu agents (%.1f users "
              "each), %zu rounds, clip %g, server lr %g, seed %llu\n\n",
              o.data.empty() ? "synthetic world" : o.data.c_str(), data.users.size(),
              data.items.size(), split.train.size(), split.test.size(), o.agents,
              static_cast<double>(data.users.size()) / static_cast<double>(o.agents), o.rounds,
              o.clip, o.server_lr, static_cast<unsigned long long>(o.seed));

  const auto private_config = [&](double z) {
    return mr::FederatedAveragingConfig{
        .privacy = {.enabled = true, .clip_norm = o.clip, .noise_multiplier = z, .delta = delta},
        .seed = o.seeds.noise,
        .server_learning_rate = o.server_lr};
  };
  std::vector<Result> refs, dp;
  {
    Shard all(split.train);
    mr::MatrixFactorization model = fresh_model(all.train, o.seeds.model);
    mr::Rng rng(o.seeds.central);
    for (std::size_t pass = 0; pass < o.rounds; ++pass) sgd_pass(model, all, rng);
    refs.push_back(evaluate(model, split, "central"));
  }
  refs.push_back(federated("federated, no privacy", split, federation, o,
                           {.seed = o.seeds.noise, .server_learning_rate = o.server_lr}));
  refs.push_back(federated("clipping only", split, federation, o, private_config(0.0)));
  refs.back().z = 0.0;
  mr::MostPopular popular;
  popular.fit(split.train);
  refs.push_back(evaluate(popular, split, "most popular"));
  for (std::size_t k = 0; k < noise.size(); ++k) {
    dp.push_back(federated("private", split, federation, o, private_config(noise[k])));
    dp.back().z = noise[k];
    // The averager's accountant took one step per round; gaussian_epsilon composes them at once.
    const double planned = mr::gaussian_epsilon(noise[k], delta, o.rounds);
    if (std::isnan(dp.back().ndcg)) continue;  // diverged before the last round
    if (std::abs(dp.back().epsilon - planned) > 1e-9 * planned || planned > o.epsilons[k]) {
      throw mr::Error("the accountant disagrees with gaussian_epsilon");
    }
  }

  std::printf("| run | epsilon (delta = 1e-5) | noise multiplier z | NDCG@10 | recall@10 | "
              "updates clipped |\n|---|---|---|---|---|---|\n");
  for (const auto* rows : {&refs, &dp}) {
    for (const Result& r : *rows) {
      char z[16] = "-", clipped[16] = "-", figures[32] = "diverged | -";
      if (!std::isnan(r.z)) std::snprintf(z, sizeof z, "%.3g", r.z);
      if (!std::isnan(r.clipped)) std::snprintf(clipped, sizeof clipped, "%.0f%%", 100 * r.clipped);
      if (!std::isnan(r.ndcg)) std::snprintf(figures, sizeof figures, "%.4f | %.4f", r.ndcg, r.recall);
      std::printf("| %s | %.3g | %s | %s | %s |\n", r.run.c_str(), r.epsilon, z, figures, clipped);
    }
  }
  const bool plotted = write_plot(refs, dp, o);
  std::printf("\n%s%s; %.1f s\n", plotted ? "plot: " : "no plot (every private run diverged)",
              plotted ? (o.out + "/federated_private.svg").c_str() : "",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_federated_private: %s\n", e.what());
  return 1;
}
