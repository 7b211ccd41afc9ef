// marl_rec_storefront — three agents fill one storefront page of 8 slots under different
// coordination policies, in the simulated world of eval::Simulator (docs/simulator.md).
//
// The agents are "products", "content" and "ads". Their item pools partition the catalog by item
// index mod 3, so each sells a bit of every category: they compete for the same user's taste, and
// near-duplicates across agents cost the page (the simulator's duplicate penalty). Ads may take at
// most 2 of the 8 slots.
//
// Protocol (the same for every policy):
// - World: eval::Simulator with its default config (1,000 users, 500 items in 16 dimensions, 10
//   categories, fatigue and satisfaction on), built with seed s for run s.
// - Agents: Agent<LinearQ, EpsilonGreedy>, a contextual bandit (γ = 0) over user × item cross
//   features — the user's observable features and the item's vector, each with a constant 1
//   appended: 17 × 17 = 289 weights —, learning rate 0.01; ε = 0.1 / (1 + t / 2000), at least
//   0.01, t the agent's decisions; explorer seeds derived from s. Each agent has its own weights,
//   except under shared_model, where the three read and write one LinearQ (make_shared_agents).
// - Feedback: the simulator's outcome (at most one click; maybe a purchase after it) goes back to
//   Coordinator::learn at once as Feedback{clicked, purchased}; the agents' reward weights (click
//   1, purchase +1) make that the simulator's reward.
// - Policies: random (a uniform page of 8 distinct items, no learning: the floor); independent
//   (round-robin layout 0 1 2 0 1 2 0 1 — ads get 2 slots —, each agent re-ranking 2 × its slots
//   proposals for its own slots); slot_auction (8 proposals per agent, quotas 8 / 8 / 2, one
//   greedy ranking of all 24) with local and with difference credit; shared_model (the independent
//   layout over one shared model).
// - Objectives, the same for every policy, in two runs:
//   A. MultiObjective<Relevance, Diversity, Revenue> (Diversity: MMR on the catalog vectors) with
//      weights 0.2 / 0.7 / 0.1: of eight (Relevance, Revenue) pairs in {0.2, 0.4, 0.6, 0.8} ×
//      {0.1, 0.2} (Diversity the rest), the weights best for independent (the baseline) on seeds
//      101–102 × 20,000 steps, which are not among the reported seeds.
//   B. The same with Diversity as a near-duplicate filter (DiversityConfig::near_duplicate): a
//      candidate is worth 0 once a near-duplicate of it (cosine ≥ 0.85, the simulated shop's own
//      definition: SimulatorConfig::duplicate_similarity; --near-duplicate changes it) is on the
//      page, else 1 — at weight 0.7 against 0.3, a hard filter. A shop knows what it counts as
//      a near-copy of a product; MMR's graded similarity penalises everything alike instead.
//   The agents' scores are their estimates of the page reward of an item (click + purchase);
//   Revenue takes them, clamped to [0, 1], as the purchase probability (its documented fallback:
//   the coordinator has no purchase probability to give).
// - Reported: cumulative page reward (Σ PageOutcome::reward) and revenue over --steps page views,
//   mean ± sd over --seeds seeds, with the ratio of the means to independent's under the same
//   objectives; near-duplicate pairs and distinct categories per page; learning curves (mean page
//   reward per 1,000 steps, mean over seeds) to DIR/storefront_curves.csv and .svg.
//
// Usage: marl_rec_storefront [--steps N] [--seeds S] [--first-seed F] [--weights R,D,V]
//                            [--near-duplicate T] [--out DIR] [--quick] [--help]
// --quick: 3,000 steps × 2 seeds (a CTest smoke run, a few seconds). --weights R,D,V replaces
// objectives A's weights (for the sweep that chose them: --first-seed 101 --seeds 2 --steps 20000).
// The full run (50,000 steps × 5 seeds, 45 runs) takes about a minute on one core at -O2.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <ratio>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "../support/flags.hpp"
#include "../support/simulator_view.hpp"
#include "../support/svg_plot.hpp"
#include "marl_rec/agent/agent.hpp"
#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/independent.hpp"
#include "marl_rec/coord/shared_model.hpp"
#include "marl_rec/coord/slot_auction.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/eval/simulator.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/ranking_input.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "marl_rec/objective/revenue.hpp"
#include "marl_rec/simd/kernels.hpp"

namespace mr = marl_rec;
namespace ev = marl_rec::eval;

namespace {

constexpr std::size_t slots = 8;
constexpr std::size_t agent_count = 3;
constexpr std::size_t bin = 1000;  // steps per point of the learning curves
// Objectives B's near-duplicate threshold (--near-duplicate): by default the simulated shop's own
// definition, SimulatorConfig::duplicate_similarity's default.
float near_duplicate_cosine = 0.85f;

using Mmr = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<2, 10>>,
                               mr::Weighted<mr::Diversity, std::ratio<7, 10>>,
                               mr::Weighted<mr::Revenue, std::ratio<1, 10>>>;
using DedupRanking = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<2, 10>>,
                                        mr::Weighted<mr::Diversity, std::ratio<7, 10>>,
                                        mr::Weighted<mr::Revenue, std::ratio<1, 10>>>;
/// Objectives B: Diversity as a near-duplicate filter (DiversityConfig::near_duplicate).
struct Dedup : DedupRanking {
  Dedup() : DedupRanking(mr::Relevance{}, mr::Diversity{{.near_duplicate = near_duplicate_cosine}}, mr::Revenue{}) {}
};

struct Options {
  std::size_t steps = 50'000;
  std::size_t seeds = 5;
  std::uint64_t first_seed = 1;
  // Objectives A's weights (Relevance, Diversity, Revenue); empty: the compile-time ones.
  std::vector<double> weights{};
  std::string out = ".";
};

// What one run of one policy gave.
struct Run {
  double reward = 0.0;
  double revenue = 0.0;
  double duplicates = 0.0;  // near-duplicate pairs, summed over pages
  double categories = 0.0;  // distinct categories, summed over pages
  double seconds = 0.0;
  std::vector<double> curve;  // mean page reward per bin of `bin` steps
};

// The world of one seed: the simulator, the agents' item matrix (catalog vectors + a constant 1),
// and the three pools.
class World {
 public:
  explicit World(std::uint64_t seed) : sim_(ev::SimulatorConfig{.seed = seed}), view_(sim_) {
    for (std::size_t i = 0; i < sim_.items(); ++i) pool_items_[i % agent_count].push_back(i);
    for (std::size_t a = 0; a < agent_count; ++a) pools_.emplace_back(pool_items_[a]);
  }
  World(const World&) = delete;  // view_ points at sim_
  World& operator=(const World&) = delete;

  ev::Simulator& sim() noexcept { return sim_; }
  std::span<const mr::Candidates> pools() const noexcept { return pools_; }

  // The context of `user`: observable features + a constant 1, over the item matrix (+ 1).
  mr::Context context(std::size_t user) { return view_.context(user); }

  // Shows `page` to `user`, adds the outcome to `run` (step `step`), and returns the feedback.
  mr::Feedback show(std::size_t user, std::span<const std::size_t> page, Run& run, std::size_t step) {
    for (std::size_t a = 0; a < page.size(); ++a) {
      bool new_category = true;
      for (std::size_t b = 0; b < a; ++b) {
        run.duplicates += sim_.near_duplicates(page[a], page[b]) ? 1.0 : 0.0;
        new_category = new_category && sim_.category(page[a]) != sim_.category(page[b]);
      }
      run.categories += new_category ? 1.0 : 0.0;
    }
    sim_.show(user, page, outcome_);
    run.reward += outcome_.reward;
    run.revenue += outcome_.revenue;
    run.curve[step / bin] += outcome_.reward;
    mr::Feedback feedback;
    if (outcome_.clicked()) {
      feedback.clicked.push_back(outcome_.clicked_slot);
      if (outcome_.purchased) feedback.purchased.push_back(outcome_.clicked_slot);
    }
    return feedback;
  }

 private:
  ev::Simulator sim_;
  mr::examples::SimulatorView view_;
  std::vector<std::size_t> pool_items_[agent_count];
  std::vector<mr::Candidates> pools_;
  ev::PageOutcome outcome_;
};

using LinAgent = mr::Agent<mr::LinearQ, mr::EpsilonGreedy>;

mr::LinearQ model() {
  return mr::LinearQ({.features = mr::FeatureMap::cross, .alpha = 0.01f, .gamma = 0.0f, .history_in_state = false});
}
mr::EpsilonGreedy explorer(std::uint64_t seed, std::size_t agent) {
  return mr::EpsilonGreedy({.epsilon = 0.1, .decay = 1.0 / 2000.0, .min_epsilon = 0.01, .seed = seed * 100 + agent + 1});
}
mr::AgentConfig agent_config() { return {.max_pending = 16, .rewards = {.none = 0.0, .click = 1.0, .purchase = 1.0}}; }

std::tuple<LinAgent, LinAgent, LinAgent> separate_agents(std::uint64_t seed) {
  return {LinAgent(model(), explorer(seed, 0), agent_config()), LinAgent(model(), explorer(seed, 1), agent_config()),
          LinAgent(model(), explorer(seed, 2), agent_config())};
}
auto shared_agents(std::uint64_t seed) {
  return mr::make_shared_agents(model(), agent_config(), explorer(seed, 0), explorer(seed, 1), explorer(seed, 2));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Run start_run(std::size_t steps) {
  Run run;
  run.curve.assign((steps + bin - 1) / bin, 0.0);
  return run;
}

Run run_random(std::uint64_t seed, std::size_t steps) {
  World world(seed);
  Run run = start_run(steps);
  mr::Rng rng(seed * 7919 + 1);
  std::vector<std::size_t> all(world.sim().items());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t t = 0; t < steps; ++t) {
    const std::size_t user = world.sim().next_user();
    // The first `slots` of a partial Fisher–Yates shuffle: a uniform page of distinct items.
    for (std::size_t k = 0; k < slots; ++k) {
      const std::size_t j = k + static_cast<std::size_t>(rng.below(all.size() - k));
      std::swap(all[k], all[j]);
    }
    world.show(user, std::span<const std::size_t>(all).first(slots), run, t);
  }
  run.seconds = seconds_since(start);
  return run;
}

template <class Objectives, class Policy, class Agents>
Run run_coordinated(std::uint64_t seed, std::size_t steps, std::span<const double> weights, Policy policy,
                    Agents agents) {
  World world(seed);
  Run run = start_run(steps);
  mr::Coordinator page{world.sim().catalog(), std::move(policy), std::move(agents)};
  Objectives objectives;
  if constexpr (std::is_same_v<Objectives, Mmr>) {
    if (!weights.empty()) objectives.set_weights(weights);
  }
  mr::Slate slate;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t t = 0; t < steps; ++t) {
    const std::size_t user = world.sim().next_user();
    page.recommend(world.context(user), world.pools(), slots, objectives, slate);
    page.learn(slate.id, world.show(user, slate.items, run, t));
  }
  run.seconds = seconds_since(start);
  return run;
}

enum class Kind { random, independent, auction_local, auction_difference, shared_model };
constexpr Kind kinds[] = {Kind::random, Kind::independent, Kind::auction_local, Kind::auction_difference,
                          Kind::shared_model};
const char* name_of(Kind kind) {
  switch (kind) {
    case Kind::random: return "random";
    case Kind::independent: return "independent";
    case Kind::auction_local: return "slot_auction, local credit";
    case Kind::auction_difference: return "slot_auction, difference credit";
    case Kind::shared_model: return "shared_model";
  }
  return "?";
}

template <class Objectives>
Run run(Kind kind, std::uint64_t seed, const Options& o) {
  const std::vector<std::size_t> quotas{8, 8, 2};
  switch (kind) {
    case Kind::random: return run_random(seed, o.steps);
    case Kind::independent:
      return run_coordinated<Objectives>(seed, o.steps, o.weights, mr::Independent{}, separate_agents(seed));
    case Kind::auction_local:
      return run_coordinated<Objectives>(seed, o.steps, o.weights, mr::SlotAuction({.quotas = quotas}),
                                         separate_agents(seed));
    case Kind::auction_difference:
      return run_coordinated<Objectives>(seed, o.steps, o.weights,
                                         mr::SlotAuction({.quotas = quotas, .credit = mr::Credit::difference}),
                                         separate_agents(seed));
    case Kind::shared_model:
      return run_coordinated<Objectives>(seed, o.steps, o.weights, mr::SharedModel{}, shared_agents(seed));
  }
  return {};
}

using mr::examples::Summary;
using mr::examples::summarise;

// Every seed's runs of every policy under one set of objectives.
struct Table {
  std::string title;
  std::vector<Kind> policies;
  std::vector<std::vector<Run>> runs;  // per policy, per seed
};

template <class Objectives>
Table measure(const std::string& title, const Options& options, const std::vector<Kind>& policies) {
  Table table{title, policies, {}};
  for (const Kind kind : policies) {
    table.runs.emplace_back();
    for (std::uint64_t seed = options.first_seed; seed < options.first_seed + options.seeds; ++seed) {
      table.runs.back().push_back(run<Objectives>(kind, seed, options));
      const Run& r = table.runs.back().back();
      std::fprintf(stderr, "%s / %s, seed %llu: reward %.0f, revenue %.0f, %.1f s\n", title.c_str(), name_of(kind),
                   static_cast<unsigned long long>(seed), r.reward, r.revenue, r.seconds);
    }
  }
  return table;
}

// The mean page reward per bin over the seeds of one policy's runs.
std::vector<double> curve_of(const std::vector<Run>& runs, std::size_t steps) {
  std::vector<double> curve(runs[0].curve.size(), 0.0);
  for (const Run& r : runs) {
    for (std::size_t i = 0; i < curve.size(); ++i) {
      const std::size_t in_bin = std::min(bin, steps - i * bin);
      curve[i] += r.curve[i] / static_cast<double>(in_bin) / static_cast<double>(runs.size());
    }
  }
  return curve;
}

void print_table(const Table& table, const Options& options, const Table& with_baseline) {
  // The baseline (independent) of the same objectives; random has none of its own.
  const std::vector<Run>* base = nullptr;
  for (std::size_t p = 0; p < with_baseline.policies.size(); ++p) {
    if (with_baseline.policies[p] == Kind::independent) base = &with_baseline.runs[p];
  }
  std::vector<double> base_reward, base_revenue;
  for (const Run& r : *base) {
    base_reward.push_back(r.reward);
    base_revenue.push_back(r.revenue);
  }
  const double br = summarise(base_reward).mean, bv = summarise(base_revenue).mean;
  std::printf("\n%s\n\n", table.title.c_str());
  std::printf("| policy | cumulative page reward | × independent | revenue | × independent | near-duplicate pairs / page "
              "| categories / page | s / run |\n|---|---|---|---|---|---|---|---|\n");
  const double pages = static_cast<double>(options.steps);
  for (std::size_t p = 0; p < table.policies.size(); ++p) {
    std::vector<double> reward, revenue, dups, cats, secs;
    for (const Run& r : table.runs[p]) {
      reward.push_back(r.reward);
      revenue.push_back(r.revenue);
      dups.push_back(r.duplicates / pages);
      cats.push_back(r.categories / pages);
      secs.push_back(r.seconds);
    }
    const Summary rw = summarise(reward), rv = summarise(revenue);
    std::printf("| %s | %.0f ± %.0f | %.3f | %.0f ± %.0f | %.3f | %.2f | %.2f | %.2f |\n", name_of(table.policies[p]),
                rw.mean, rw.sd, rw.mean / br, rv.mean, rv.sd, rv.mean / bv, summarise(dups).mean, summarise(cats).mean,
                summarise(secs).mean);
  }
}

void write_curves(const Options& options, const std::vector<const Table*>& tables) {
  std::vector<std::string> names;
  std::vector<std::vector<double>> curves;
  for (const Table* t : tables) {
    for (std::size_t p = 0; p < t->policies.size(); ++p) {
      names.push_back(t->title.substr(0, 1) + ": " + name_of(t->policies[p]));
      curves.push_back(curve_of(t->runs[p], options.steps));
    }
  }
  std::ofstream csv(options.out + "/storefront_curves.csv");
  csv << "steps";
  for (const std::string& n : names) csv << ",\"" << n << "\"";
  csv << "\n";
  for (std::size_t i = 0; i < curves[0].size(); ++i) {
    csv << std::min((i + 1) * bin, options.steps);
    for (const auto& c : curves) csv << "," << c[i];
    csv << "\n";
  }
  // One panel per set of objectives; random (the first curve) is drawn in both.
  std::vector<mr::examples::LinePlot> panels;
  std::size_t at = 0;
  for (std::size_t t = 0; t < tables.size(); ++t) {
    mr::examples::LinePlot panel{.title = tables[t]->title.substr(0, 1) + ": mean page reward per " +
                                          std::to_string(bin) + " page views",
                                 .x_label = "page views",
                                 .y_label = "mean page reward",
                                 .x = {},
                                 .series = {}};
    for (std::size_t i = 0; i < curves[0].size(); ++i) {
      panel.x.push_back(static_cast<double>(std::min((i + 1) * bin, options.steps)));
    }
    if (t > 0) panel.series.push_back({name_of(Kind::random), curves[0]});
    for (std::size_t p = 0; p < tables[t]->policies.size(); ++p, ++at) {
      panel.series.push_back({name_of(tables[t]->policies[p]), curves[at]});
    }
    panels.push_back(std::move(panel));
  }
  mr::examples::write_svg(options.out + "/storefront_curves.svg", panels);
}

const char* const usage =
    "usage: marl_rec_storefront [--steps N] [--seeds S] [--first-seed F] [--weights R,D,V]\n"
    "                           [--near-duplicate T] [--out DIR] [--quick]\n"
    "  --steps N           page views per run (default 50000)\n"
    "  --seeds S           runs per policy, seeds F .. F+S-1 (default 5)\n"
    "  --first-seed F      the first seed (default 1)\n"
    "  --weights R,D,V     objectives A's weights: Relevance, Diversity, Revenue\n"
    "  --near-duplicate T  objectives B's near-duplicate cosine (default 0.85)\n"
    "  --out DIR           where storefront_curves.csv and .svg go (default .)\n"
    "  --quick             3000 steps x 2 seeds (a smoke run)\n";

Options parse(int argc, char** argv) {
  Options o;
  mr::examples::Flags flags(argc, argv);
  while (flags.next()) {
    if (flags.is("--help") || flags.is("-h")) {
      std::printf("%s", usage);
      std::exit(0);
    } else if (flags.is("--steps")) {
      o.steps = flags.whole(1);
    } else if (flags.is("--seeds")) {
      o.seeds = flags.whole(1);
    } else if (flags.is("--first-seed")) {
      o.first_seed = flags.whole();
    } else if (flags.is("--weights")) {
      // R,D,V: objectives A's three weights.
      o.weights = flags.numbers(0.0, 1e6);
      if (o.weights.size() != 3) throw mr::Error("--weights: expected three numbers R,D,V");
    } else if (flags.is("--near-duplicate")) {
      near_duplicate_cosine = static_cast<float>(flags.number(-1.0, 1.0));
    } else if (flags.is("--out")) {
      o.out = flags.text();
    } else if (flags.is("--quick")) {
      o.steps = 3000;
      o.seeds = 2;
    } else {
      flags.unknown();
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  std::filesystem::create_directories(options.out);
  const auto start = std::chrono::steady_clock::now();
  const auto defaults = Mmr::default_weights();
  const std::vector<double> w = options.weights.empty() ? std::vector<double>(defaults.begin(), defaults.end())
                                                        : options.weights;
  char mmr_title[128];
  std::snprintf(mmr_title, sizeof mmr_title, "A. objectives: Relevance %.2f + Diversity (MMR) %.2f + Revenue %.2f", w[0],
                w[1], w[2]);
  const Table mmr = measure<Mmr>(mmr_title, options, {kinds, kinds + 5});
  char dedup_title[128];
  std::snprintf(dedup_title, sizeof dedup_title,
                "B. objectives: Relevance 0.20 + Diversity (near-duplicate filter, cosine >= %.2f) 0.70 + Revenue 0.10",
                static_cast<double>(near_duplicate_cosine));
  const Table dedup = measure<Dedup>(dedup_title, options,
                                     {kinds + 1, kinds + 5});
  std::printf("Storefront: %zu slots filled by %zu agents (pools: item index mod 3), ads at most 2 slots; %zu page "
              "views x %zu seeds (first %llu)\n",
              slots, agent_count, options.steps, options.seeds, static_cast<unsigned long long>(options.first_seed));
  print_table(mmr, options, mmr);
  print_table(dedup, options, dedup);
  write_curves(options, {&mmr, &dedup});
  std::printf("\nLearning curves: %s/storefront_curves.csv and .svg; total %.0f s\n", options.out.c_str(),
              seconds_since(start));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_storefront: %s\n", e.what());
  return 1;
}
