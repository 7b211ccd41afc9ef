// marl_rec_group_insteval — group recommendation measured on real ratings: InstEval's 73,421
// ratings of 1,128 lecturers by 2,972 students (shared/data/insteval/README.md).
//
// One list of 10 lecturers is recommended to a whole group of students, and each member is judged
// on their own held-out lecturers. The question is who a group list serves: the average member,
// or every member. Per aggregation rule (coord/group_aggregation.hpp) and per group size (2, 4, 8)
// and kind (random students, or similar students), the program reports the mean member NDCG@10
// and the mean over groups of the worst member's NDCG@10.
//
// Protocol:
// - Split: per-user random 80/20 (eval::split_per_user_random, seed 42), as the evaluation
//   command does. The model, EASE with λ = 50 (the best single model on this split), is fit on
//   the training part and scores each member from their own training lecturers.
// - Groups: only students with held-out items. Random: `size` distinct such students drawn
//   uniformly. Similar: a random seed student plus the size − 1 students (with held-out items)
//   whose training rating vectors have the highest cosine with the seed's (ties: lower index).
//   --groups groups per (size, kind); the groups come from one Rng seeded with --seed.
// - A group's list excludes every lecturer any member rated in training (--exclude any, the
//   default), or only those every member rated (--exclude all: a lecturer one member knows may be
//   new to the others, and is then a wasted slot for that member only); each member's NDCG@10 is
//   computed against their own held-out lecturers (eval::ndcg_at).
// - A member gains nothing from a lecturer they already rated: before aggregation, each member's
//   score of their own training lecturers is set to that member's lowest score over all
//   lecturers (the rules see the same thing the evaluation counts: a known lecturer is never a
//   hit for that member). Under --exclude any those lecturers are excluded anyway, so this
//   changes nothing there; under --exclude all it keeps EASE, which scores a student's own
//   lecturers highly, from making them that member's favourites (on the validation part,
//   without it the fairness-aware rules "served" the least-satisfied member with lecturers
//   they already knew, and lost up to 22% of the mean in random groups).
// - The fairness-aware configuration is chosen on a validation carve-out of the training part
//   (split_per_user_random(train, 0.2, 7)): EASE refit on its training part, groups drawn the
//   same way among students with validation items. The grid: the fair rule's `liked` ×
//   `fair_minimum`, and the least_satisfied rule's `beta` (it has no other parameter). The
//   rule, fixed before looking at any figure: among the grid's configurations whose mean member
//   NDCG@10 is within 5% of the average rule's in every (size, kind) cell (half the 10% the
//   acceptance allows, as a margin for the step from validation to test), take the one with the
//   highest minimum-member NDCG@10 averaged over the cells (ties: the earlier in the grid; when
//   none qualifies, the one whose worst cell loses least). That ONE configuration is the one the
//   acceptance judges; each rule's own pick by the same rule is also shown on test, for the
//   record. The test part is used once.
// - Also printed: each member's own top 10 (a reference, not a group list); per cell, how many
//   members still have a held-out item no member rated in training (similar students share
//   lecturers, so in similar groups many members' held-out items are excluded by the others'
//   training items and their NDCG@10 is 0 whatever the rule); and, per cell, the paired standard
//   error of the chosen rule's change in the worst member's NDCG@10.
// - Acceptance (per cell, on the test part): the chosen configuration's mean minimum-member
//   NDCG@10 is above the average rule's, and its mean member NDCG@10 at least 90% of the
//   average rule's.
//
// Usage: marl_rec_group_insteval [--data PATH/ratings.csv] [--quick] [--groups N] [--seed S]
//                                [--exclude any|all] [--validation-only]
// Markdown tables go to standard output. --quick (a CTest smoke run) draws 40 groups per cell and
// searches a smaller grid. --validation-only stops after the choice, before the test part is
// touched. The full run (300 groups per cell) takes about 10 s of CPU (18 s on a busy 2-core
// machine); --quick about 2 s.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "marl_rec/coord/group_aggregation.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/split.hpp"
#include "marl_rec/io/interactions_csv.hpp"
#include "marl_rec/io/read_report.hpp"
#include "marl_rec/models/ease.hpp"

namespace mr = marl_rec;
using mr::GroupConfig;
using mr::GroupRule;

namespace {

constexpr std::size_t list_length = 10;
constexpr float ease_lambda = 50.0f;
constexpr double validation_max_loss = 0.05;  // the selection rule's margin (see the top)
constexpr double acceptance_max_loss = 0.10;
constexpr std::size_t group_sizes[] = {2, 4, 8};

enum class Kind { random, similar };
const char* kind_name(Kind kind) { return kind == Kind::random ? "random" : "similar"; }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One evaluation setting: a model fit on `train`, members judged on `heldout`.
struct Setting {
  mr::Ease model{mr::EaseConfig{.lambda = ease_lambda}};
  std::size_t n_items = 0;
  // Per user: training (item, rating) pairs, the L2 norm of that rating vector, and the sorted
  // held-out items.
  std::vector<std::vector<std::pair<std::size_t, float>>> ratings;
  std::vector<double> norm;
  std::vector<std::vector<std::size_t>> relevant;
  // Users with at least one held-out item, ascending.
  std::vector<std::size_t> users;
};

void build(Setting& s, const mr::Interactions& train, const mr::Interactions& heldout) {
  s.model.fit(train);
  s.n_items = train.items.size();
  const std::size_t n_users = train.users.size();
  s.ratings.assign(n_users, {});
  s.norm.assign(n_users, 0.0);
  s.relevant.assign(n_users, {});
  for (const mr::Interaction& row : train.rows) {
    s.ratings[row.user].emplace_back(row.item, row.rating);
    s.norm[row.user] += static_cast<double>(row.rating) * static_cast<double>(row.rating);
  }
  for (double& x : s.norm) x = std::sqrt(x);
  for (const mr::Interaction& row : heldout.rows) s.relevant[row.user].push_back(row.item);
  s.users.clear();
  for (std::size_t u = 0; u < n_users; ++u) {
    auto& r = s.relevant[u];
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    if (!r.empty()) s.users.push_back(u);
  }
}

// `size` distinct users drawn uniformly from s.users.
std::vector<std::size_t> random_group(const Setting& s, std::size_t size, mr::Rng& rng) {
  std::vector<std::size_t> group;
  while (group.size() < size) {
    const std::size_t u = s.users[rng.below(s.users.size())];
    if (std::find(group.begin(), group.end(), u) == group.end()) group.push_back(u);
  }
  return group;
}

// A random seed user and its size − 1 most similar users of s.users (cosine of the training
// rating vectors; ties: lower index). `dense` is an all-zero scratch of n_items doubles.
std::vector<std::size_t> similar_group(const Setting& s, std::size_t size, mr::Rng& rng,
                                       std::vector<double>& dense) {
  const std::size_t seed = s.users[rng.below(s.users.size())];
  for (const auto& [item, rating] : s.ratings[seed]) dense[item] = rating;
  std::vector<std::pair<double, std::size_t>> similarity;
  similarity.reserve(s.users.size());
  for (const std::size_t u : s.users) {
    if (u == seed) continue;
    double dot = 0.0;
    for (const auto& [item, rating] : s.ratings[u]) dot += dense[item] * rating;
    const double denominator = s.norm[seed] * s.norm[u];
    similarity.emplace_back(denominator > 0.0 ? dot / denominator : 0.0, u);
  }
  for (const auto& [item, rating] : s.ratings[seed]) dense[item] = 0.0;
  const std::size_t take = std::min(size - 1, similarity.size());
  std::partial_sort(similarity.begin(), similarity.begin() + static_cast<std::ptrdiff_t>(take),
                    similarity.end(), [](const auto& a, const auto& b) {
                      return a.first > b.first || (a.first == b.first && a.second < b.second);
                    });
  std::vector<std::size_t> group{seed};
  for (std::size_t j = 0; j < take; ++j) group.push_back(similarity[j].second);
  return group;
}

// The groups of one (size, kind) cell.
struct Cell {
  std::size_t size = 0;
  Kind kind = Kind::random;
  std::vector<std::vector<std::size_t>> groups;
};

std::vector<Cell> make_cells(const Setting& s, std::size_t groups_per_cell, std::uint64_t seed) {
  mr::Rng rng(seed);
  std::vector<double> dense(s.n_items, 0.0);
  std::vector<Cell> cells;
  for (const Kind kind : {Kind::random, Kind::similar}) {
    for (const std::size_t size : group_sizes) {
      Cell cell{size, kind, {}};
      for (std::size_t g = 0; g < groups_per_cell; ++g) {
        cell.groups.push_back(kind == Kind::random ? random_group(s, size, rng)
                                                   : similar_group(s, size, rng, dense));
      }
      cells.push_back(std::move(cell));
    }
  }
  return cells;
}

// Mean member NDCG@10 and mean over groups of the worst member's NDCG@10 (and, from evaluate,
// the worst member's NDCG@10 of each group, for paired comparisons).
struct Figures {
  double mean = 0.0;
  double min = 0.0;
  std::vector<double> group_min{};
};

// Which training items a group list leaves out (--exclude): `any` — every item any member rated
// (nobody is shown what they know; the default), or `all` — only items every member rated (an
// item one member knows may still be new to the others).
bool exclude_all_only = false;
std::size_t exclusion_threshold(std::size_t members) { return exclude_all_only ? members : 1; }

// Each group gets one list by `config`, excluding what any (or every: --exclude) member rated in
// training, each member's own training items scored at that member's lowest score (see the
// top). With `individual`, each member gets their own list instead (a group of one, their own
// training items excluded): the reference of what a personal list achieves.
Figures evaluate(const Setting& s, const Cell& cell, const GroupConfig& config,
                 bool individual = false) {
  std::vector<std::size_t> seen(s.n_items, 0);  // members who rated each item in training
  std::vector<float> scores;                    // members × items
  mr::GroupList list;
  std::vector<std::size_t> ranked;
  Figures out;
  const auto ndcg_of = [&](std::size_t user) {
    ranked.assign(list.positions.begin(), list.positions.end());  // Candidates::all: item = position
    return mr::eval::ndcg_at(ranked, s.relevant[user], list_length);
  };
  const auto recommend = [&](std::span<const std::size_t> members) {
    const std::size_t n = s.n_items;
    scores.resize(members.size() * n);
    for (std::size_t r = 0; r < members.size(); ++r) {
      const std::size_t u = members[r];
      const std::span<float> row(scores.data() + r * n, n);
      s.model.score(mr::Context{.user = u}, mr::Candidates::all(n), row);
      const float lowest = *std::min_element(row.begin(), row.end());
      for (const auto& [item, rating] : s.ratings[u]) {
        ++seen[item];
        row[item] = lowest;
      }
    }
    const std::size_t threshold = exclusion_threshold(members.size());
    mr::aggregate_group(mr::MatrixView(std::span<const float>(scores), members.size(), n), {},
                        list_length, config, list,
                        [&](std::size_t item) { return seen[item] >= threshold; });
    for (const std::size_t u : members) {
      for (const auto& [item, rating] : s.ratings[u]) seen[item] = 0;
    }
  };
  for (const std::vector<std::size_t>& group : cell.groups) {
    double total = 0.0, worst = 1.0;
    if (!individual) recommend(group);
    for (const std::size_t u : group) {
      if (individual) recommend(std::span<const std::size_t>(&u, 1));
      const double ndcg = ndcg_of(u);
      total += ndcg;
      worst = std::min(worst, ndcg);
    }
    out.mean += total / static_cast<double>(group.size());
    out.min += worst;
    out.group_min.push_back(worst);
  }
  const auto n = static_cast<double>(cell.groups.size());
  out.mean /= n;
  out.min /= n;
  return out;
}

// Of the members, the share with at least one held-out item that no member rated in training
// (a list that excludes the group's training items can reach it); of the groups, the share in
// which every member has one (elsewhere the worst member's NDCG@10 is 0 whatever the list).
Figures reachability(const Setting& s, const Cell& cell) {
  std::vector<std::size_t> seen(s.n_items, 0);
  double members = 0.0, reachable_members = 0.0, all_reachable = 0.0;
  for (const std::vector<std::size_t>& group : cell.groups) {
    for (const std::size_t u : group) {
      for (const auto& [item, rating] : s.ratings[u]) ++seen[item];
    }
    const std::size_t threshold = exclusion_threshold(group.size());
    bool all = true;
    for (const std::size_t u : group) {
      const bool any = std::any_of(s.relevant[u].begin(), s.relevant[u].end(),
                                   [&](std::size_t item) { return seen[item] < threshold; });
      members += 1.0;
      reachable_members += any ? 1.0 : 0.0;
      all = all && any;
    }
    all_reachable += all ? 1.0 : 0.0;
    for (const std::size_t u : group) {
      for (const auto& [item, rating] : s.ratings[u]) seen[item] = 0;
    }
  }
  return {reachable_members / members, all_reachable / static_cast<double>(cell.groups.size()), {}};
}

// A rule as the tables label it.
struct Rule {
  std::string label;
  GroupConfig config;
  bool individual = false;
};

// A fairness-aware configuration as the tables label it.
std::string fairness_label(const GroupConfig& c) {
  if (c.rule == GroupRule::least_satisfied) {
    char beta[32];
    std::snprintf(beta, sizeof beta, "%g", c.beta);
    return std::string("least satisfied (beta ") + beta + ")";
  }
  return "fair (liked " + std::to_string(c.liked) + ", min " + std::to_string(c.fair_minimum) + ")";
}

// The selection rule (see the top of the file) applied to one set of candidates.
struct Selection {
  GroupConfig best{};
  double best_min = -1.0;    // < 0 while no candidate is eligible
  double best_ratio = -1.0;  // the fallback: the smallest worst-cell loss
  GroupConfig least_loss{};

  void offer(const GroupConfig& config, double min, double worst_ratio) {
    if (worst_ratio >= 1.0 - validation_max_loss && min > best_min) {
      best_min = min;
      best = config;
    }
    if (worst_ratio > best_ratio) {
      best_ratio = worst_ratio;
      least_loss = config;
    }
  }
  GroupConfig chosen() const { return best_min >= 0.0 ? best : least_loss; }
};

// What the validation part picks: the one fairness-aware configuration of the whole grid (the
// acceptance is judged on it), and, for the record, each rule's own pick by the same rule.
struct Choice {
  GroupConfig chosen;
  GroupConfig fair;
  GroupConfig least_satisfied;
};

// Runs the grid (both fairness-aware rules) on the validation part and applies the selection
// rule at the top of the file.
Choice choose_fairness(const Setting& validation, const std::vector<Cell>& cells, bool quick) {
  const std::vector<std::size_t> liked_grid =
      quick ? std::vector<std::size_t>{3, 5, 10} : std::vector<std::size_t>{1, 2, 3, 5, 10, 20};
  const std::vector<std::size_t> minimum_grid =
      quick ? std::vector<std::size_t>{1, 3} : std::vector<std::size_t>{1, 2, 3, 5};
  const std::vector<double> beta_grid =
      quick ? std::vector<double>{0.25, 0.5, 1.0} : std::vector<double>{0.1, 0.25, 0.5, 0.75, 1.0};
  std::vector<GroupConfig> grid;
  for (const std::size_t liked : liked_grid) {
    for (const std::size_t minimum : minimum_grid) {
      if (minimum <= liked) {
        grid.push_back({.rule = GroupRule::fair, .liked = liked, .fair_minimum = minimum});
      }
    }
  }
  for (const double beta : beta_grid) {
    grid.push_back({.rule = GroupRule::least_satisfied, .beta = beta});
  }
  std::vector<Figures> average;
  for (const Cell& cell : cells) average.push_back(evaluate(validation, cell, {}));

  std::printf("### Validation: the fairness-aware rules' grid (EASE refit on the carve-out's "
              "training part)\n\n");
  std::printf("Per cell, the average rule's mean member NDCG@10 / mean min-member NDCG@10:");
  for (std::size_t c = 0; c < cells.size(); ++c) {
    std::printf(" %s-%zu %.4f / %.4f%s", kind_name(cells[c].kind), cells[c].size, average[c].mean,
                average[c].min, c + 1 < cells.size() ? ";" : "\n\n");
  }
  std::printf("| rule | liked | fair_minimum | beta | mean NDCG@10 (cells' mean) | min-member "
              "NDCG@10 (cells' mean) | worst cell's mean / average's | eligible (loss <= %.0f%%) "
              "|\n",
              validation_max_loss * 100);
  std::printf("|---|---:|---:|---:|---:|---:|---:|:---:|\n");
  Selection overall, fair, least_satisfied;
  for (const GroupConfig& config : grid) {
    double mean = 0.0, min = 0.0, worst_ratio = 1e300;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const Figures f = evaluate(validation, cells[c], config);
      mean += f.mean / static_cast<double>(cells.size());
      min += f.min / static_cast<double>(cells.size());
      worst_ratio = std::min(worst_ratio, average[c].mean > 0.0 ? f.mean / average[c].mean : 1.0);
    }
    const bool eligible = worst_ratio >= 1.0 - validation_max_loss;
    if (config.rule == GroupRule::fair) {
      std::printf("| fair | %zu | %zu | - |", config.liked, config.fair_minimum);
    } else {
      std::printf("| least_satisfied | - | - | %g |", config.beta);
    }
    std::printf(" %.4f | %.4f | %.3f | %s |\n", mean, min, worst_ratio, eligible ? "yes" : "no");
    overall.offer(config, min, worst_ratio);
    (config.rule == GroupRule::fair ? fair : least_satisfied).offer(config, min, worst_ratio);
  }
  if (overall.best_min < 0.0) {
    std::printf("\nNo configuration loses at most %.0f%% in every cell: taking the one that loses "
                "least.\n",
                validation_max_loss * 100);
  }
  const Choice choice{overall.chosen(), fair.chosen(), least_satisfied.chosen()};
  std::printf("\nChosen on validation: %s (each rule's own pick by the same rule: %s; %s).\n\n",
              fairness_label(choice.chosen).c_str(), fairness_label(choice.fair).c_str(),
              fairness_label(choice.least_satisfied).c_str());
  return choice;
}

void print_tables(const std::vector<Rule>& rules, const std::vector<Cell>& cells,
                  const std::vector<std::vector<Figures>>& figures) {
  for (const Kind kind : {Kind::random, Kind::similar}) {
    std::printf("### Test: %s groups (mean member NDCG@10 / mean over groups of the min member "
                "NDCG@10)\n\n| rule |",
                kind_name(kind));
    for (const Cell& cell : cells) {
      if (cell.kind == kind) std::printf(" size %zu mean | size %zu min |", cell.size, cell.size);
    }
    std::printf("\n|---|");
    for (const Cell& cell : cells) {
      if (cell.kind == kind) std::printf("---:|---:|");
    }
    std::printf("\n");
    for (std::size_t r = 0; r < rules.size(); ++r) {
      std::printf("| %s |", rules[r].label.c_str());
      for (std::size_t c = 0; c < cells.size(); ++c) {
        if (cells[c].kind == kind) std::printf(" %.4f | %.4f |", figures[r][c].mean, figures[r][c].min);
      }
      std::printf("\n");
    }
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) try {
  std::string path = "../shared/data/insteval/ratings.csv";
  bool quick = false;
  bool validation_only = false;
  std::size_t groups = 0;
  std::uint64_t seed = 1;
  const auto usage = [&] {
    std::fprintf(stderr,
                 "usage: %s [--data PATH/ratings.csv] [--quick] [--groups N] [--seed S] "
                 "[--exclude any|all] [--validation-only]\n",
                 argv[0]);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      path = argv[++i];
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--validation-only") {
      validation_only = true;
    } else if (arg == "--exclude" && i + 1 < argc) {
      const std::string mode = argv[++i];
      if (mode != "any" && mode != "all") return usage();
      exclude_all_only = mode == "all";
    } else if ((arg == "--groups" || arg == "--seed") && i + 1 < argc) {
      char* end = nullptr;
      const std::string value = argv[++i];
      const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || value[0] == '-') return usage();
      if (arg == "--groups") {
        if (v == 0) return usage();
        groups = static_cast<std::size_t>(v);
      } else {
        seed = v;
      }
    } else {
      return usage();
    }
  }
  if (groups == 0) groups = quick ? 40 : 300;
  const auto start = std::chrono::steady_clock::now();

  mr::io::ReadReport report;
  const mr::Interactions data = mr::io::read_interactions_csv(path, {}, &report);
  std::fprintf(stderr, "%s\n", report.summary().c_str());
  const mr::eval::Split split = mr::eval::split_per_user_random(data, 0.2, 42);
  const mr::eval::Split carve = mr::eval::split_per_user_random(split.train, 0.2, 7);
  std::printf("## Group recommendation on InstEval\n\n");
  std::printf("Group lists exclude the training items of %s member.\n\n",
              exclude_all_only ? "every (all)" : "any (any)");
  std::printf("%zu ratings, %zu users, %zu items. Split: %zu train / %zu test rows (per-user "
              "random 80/20, seed 42); validation carve-out of the train part: %zu / %zu rows "
              "(seed 7). Model: EASE, lambda = %g. Lists of %zu; a member's own training items "
              "are scored at their lowest score. %zu groups per (size, kind), group seed "
              "%llu%s.\n\n",
              data.size(), data.users.size(), data.items.size(), split.train.size(),
              split.test.size(), carve.train.size(), carve.test.size(),
              static_cast<double>(ease_lambda), list_length, groups,
              static_cast<unsigned long long>(seed), quick ? " (--quick)" : "");

  // ---- validation: choose the fairness-aware configuration ------------------------------------
  Choice choice;
  {
    Setting validation;
    build(validation, carve.train, carve.test);
    // Another stream than the test groups', so that no group is shared by accident.
    const std::vector<Cell> cells = make_cells(validation, groups, seed ^ 0x5A17D00Dull);
    choice = choose_fairness(validation, cells, quick);
  }
  if (validation_only) {
    std::printf("--validation-only: the test part is not used. Total time %.1f s.\n",
                seconds_since(start));
    return 0;
  }

  // ---- test: every rule, once ------------------------------------------------------------------
  Setting test;
  build(test, split.train, split.test);
  std::printf("Students with test items: %zu.\n\n", test.users.size());
  const std::vector<Cell> cells = make_cells(test, groups, seed);
  const std::vector<Rule> rules{
      {"individual lists (reference)", {}, true},
      {"average", {.rule = GroupRule::average}},
      {"least misery", {.rule = GroupRule::least_misery}},
      {"most pleasure", {.rule = GroupRule::most_pleasure}},
      {"borda", {.rule = GroupRule::borda}},
      {fairness_label(choice.fair), choice.fair},
      {fairness_label(choice.least_satisfied), choice.least_satisfied},
  };
  std::vector<std::vector<Figures>> figures(rules.size());
  for (std::size_t r = 0; r < rules.size(); ++r) {
    for (const Cell& cell : cells) {
      figures[r].push_back(evaluate(test, cell, rules[r].config, rules[r].individual));
    }
  }
  print_tables(rules, cells, figures);
  std::printf("### Test: reachable held-out items (not excluded from the group's list)\n\n"
              "| group | members with one | groups where every member has one |\n"
              "|---|---:|---:|\n");
  for (const Cell& cell : cells) {
    const Figures r = reachability(test, cell);
    std::printf("| %s, size %zu | %.1f%% | %.1f%% |\n", kind_name(cell.kind), cell.size,
                100 * r.mean, 100 * r.min);
  }
  std::printf("\n");

  // ---- acceptance: the chosen configuration against average, per cell ---------------------------
  const std::size_t average_row = 1;
  // The one configuration chosen on validation (the other rule's row is for the record only).
  const std::size_t chosen_row =
      choice.chosen.rule == GroupRule::least_satisfied ? rules.size() - 1 : rules.size() - 2;
  std::printf("### Acceptance: %s (chosen on validation) against average (min must rise, mean "
              "may lose at most %.0f%%)\n\n",
              rules[chosen_row].label.c_str(), acceptance_max_loss * 100);
  std::printf("| group | average mean | chosen mean | mean change | average min | chosen min | min "
              "change | min difference ± paired s.e. | met |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|:---:|\n");
  std::size_t met = 0;
  for (std::size_t c = 0; c < cells.size(); ++c) {
    const Figures a = figures[average_row][c];
    const Figures f = figures[chosen_row][c];
    const double mean_change = a.mean > 0.0 ? f.mean / a.mean - 1.0 : 0.0;
    const double min_change = a.min > 0.0 ? f.min / a.min - 1.0 : 0.0;
    const bool ok = f.min > a.min && f.mean >= (1.0 - acceptance_max_loss) * a.mean;
    met += ok ? 1 : 0;
    // The standard error of the mean per-group difference (chosen − average) of the worst
    // member's NDCG@10: the same groups under both rules, so the difference is paired.
    const std::size_t g = f.group_min.size();
    double d_mean = 0.0, d_var = 0.0;
    for (std::size_t j = 0; j < g; ++j) d_mean += (f.group_min[j] - a.group_min[j]) / static_cast<double>(g);
    for (std::size_t j = 0; j < g; ++j) {
      const double d = f.group_min[j] - a.group_min[j] - d_mean;
      d_var += d * d / static_cast<double>(g > 1 ? g - 1 : 1);
    }
    const double d_se = std::sqrt(d_var / static_cast<double>(g));
    std::printf("| %s, size %zu | %.4f | %.4f | %+.1f%% | %.4f | %.4f | %+.1f%% | %+.4f ± %.4f | %s |\n",
                kind_name(cells[c].kind), cells[c].size, a.mean, f.mean, 100 * mean_change, a.min,
                f.min, 100 * min_change, d_mean, d_se, ok ? "yes" : "NO");
  }
  double avg_mean = 0.0, avg_min = 0.0, chosen_mean = 0.0, chosen_min = 0.0;
  for (std::size_t c = 0; c < cells.size(); ++c) {
    avg_mean += figures[average_row][c].mean / static_cast<double>(cells.size());
    avg_min += figures[average_row][c].min / static_cast<double>(cells.size());
    chosen_mean += figures[chosen_row][c].mean / static_cast<double>(cells.size());
    chosen_min += figures[chosen_row][c].min / static_cast<double>(cells.size());
  }
  std::printf("\nAcceptance met in %zu of %zu cells. Over the cells' mean: average %.4f / %.4f, "
              "chosen %.4f / %.4f (mean / min). Total time %.1f s.\n",
              met, cells.size(), avg_mean, avg_min, chosen_mean, chosen_min, seconds_since(start));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
