// marl_rec — group recommendation: one list for several users at once (a party of players
// choosing a map, a family choosing a film), aggregated from each member's own scores by one of
// six rules (average, least misery, most pleasure, Borda count, greedy proportional fairness,
// greedy least-satisfied-member fairness).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace marl_rec {

/// How a group's list is aggregated from its members' scores (see aggregate_group for the exact
/// definitions). Every rule works on the members' normalised scores or on their rankings.
enum class GroupRule {
  /// The weighted mean of the members' normalised scores: the group's expected satisfaction.
  average,
  /// The minimum normalised score over the members: nobody is shown what they dislike.
  least_misery,
  /// The maximum normalised score over the members: somebody loves every item.
  most_pleasure,
  /// The weighted sum of Borda points (n − 1 − rank per member): uses ranks only, so one member's
  /// score scale cannot dominate.
  borda,
  /// Greedy proportional fairness: every member first gets `fair_minimum` of their liked items
  /// (where possible), then the list is filled by the weighted mean.
  fair,
  /// Greedy max-min satisfaction: each pick maximises (1 − β) · the weighted mean + β · the
  /// normalised score of the member(s) least satisfied by the list so far (GroupConfig::beta),
  /// satisfaction being measured against the member's own best possible list.
  least_satisfied,
};

/// A short lowercase name of `rule` ("average", "least_misery", "most_pleasure", "borda",
/// "fair", "least_satisfied"), or "unknown" for a value outside the enum.
constexpr std::string_view group_rule_name(GroupRule rule) noexcept {
  switch (rule) {
    case GroupRule::average: return "average";
    case GroupRule::least_misery: return "least_misery";
    case GroupRule::most_pleasure: return "most_pleasure";
    case GroupRule::borda: return "borda";
    case GroupRule::fair: return "fair";
    case GroupRule::least_satisfied: return "least_satisfied";
  }
  return "unknown";
}

/// The settings of aggregate_group and recommend_for_group.
struct GroupConfig {
  /// The aggregation rule.
  GroupRule rule = GroupRule::average;
  /// A member "likes" an item when it is among the member's `liked` best eligible candidates
  /// (by the member's own score; ties: lower candidate position). Drives the fair rule and the
  /// GroupList::liked_by counts of every rule. At least 1.
  std::size_t liked = 10;
  /// The fair rule's target: how many of their liked items every member (of positive weight)
  /// should find in the list before it is filled by the weighted mean. In [1, liked] (a member
  /// cannot have more liked items than `liked`).
  std::size_t fair_minimum = 1;
  /// The least_satisfied rule's β, in [0, 1]: how much each greedy pick weighs the score of the
  /// least-satisfied member(s) against the group's weighted mean. 0 gives exactly the average
  /// rule's list; 1 serves nothing but the least-satisfied member at each step (pure max-min).
  /// The default 0.25 is what InstEval's validation part chose among {0.1, 0.25, 0.5, 0.75, 1}
  /// (examples/coordination/group_insteval.cpp, both exclusion modes): the highest worst-member
  /// NDCG@10 while the mean member NDCG@10 stayed within 3% of the average rule's in every
  /// group size and kind; larger values cost more of the mean (up to 9% in a cell at 1) for a
  /// marginal gain at best.
  double beta = 0.25;
};

/// A group's list, best first. Reuse one GroupList across calls: its vectors are cleared and
/// refilled, so they allocate only when a call returns more items than any before.
struct GroupList {
  /// The chosen candidate positions (columns of the member-score matrix; for
  /// recommend_for_group, positions in its Candidates: the item is candidates[position]).
  std::vector<std::size_t> positions;
  /// The group score of each chosen position: descending, except under the fair and
  /// least_satisfied rules, whose lists are in order of choice and whose scores are the
  /// weighted means (see aggregate_group).
  std::vector<double> scores;
  /// How many members (of positive weight) like each chosen position (GroupConfig::liked).
  std::vector<std::size_t> liked_by;

  /// The number of items chosen.
  std::size_t size() const noexcept { return positions.size(); }
};

namespace detail {

/// The working memory of one aggregation, kept per thread and only grown (see aggregate_group).
struct GroupScratch {
  std::vector<unsigned char> eligible;  // per position: no member vetoes it, not excluded
  std::vector<std::size_t> order;       // eligible positions (then sorted by group score)
  std::vector<std::size_t> ranked;      // eligible positions sorted by one member's score
  std::vector<double> normalised;       // members × positions, for the eligible positions
  std::vector<unsigned char> liked;     // members × positions: 1 when the member likes it
  std::vector<double> group_score;      // per position
  std::vector<unsigned char> picked;    // per position (fair, least_satisfied)
  std::vector<std::size_t> counts;      // per member: liked items in the list so far
  std::vector<std::size_t> remaining;   // per member: liked items not in the list yet
  std::vector<double> ideal;            // per member: sum of its best min(k, n_e) normalised
  std::vector<double> gained;           // per member: sum of its normalised scores chosen so far
  std::vector<unsigned char> least;     // per member: 1 when among the least satisfied
  std::vector<std::size_t> chosen;      // positions chosen, in order of choice
};

/// This thread's scratch. Not re-entrant: an exclusion predicate must not itself aggregate.
inline GroupScratch& group_scratch() {
  thread_local GroupScratch scratch;
  return scratch;
}

/// Throws Error (prefixed with `where`) unless `config` is valid.
inline void check_group_config(std::string_view where, const GroupConfig& config) {
  marl_rec::detail::require(group_rule_name(config.rule) != "unknown", [&] {
    return std::string(where) + ": config.rule " + std::to_string(static_cast<int>(config.rule)) +
           " is not a GroupRule";
  });
  marl_rec::detail::require(config.liked >= 1, [&] {
    return std::string(where) + ": config.liked must be at least 1, got 0";
  });
  marl_rec::detail::require(config.fair_minimum >= 1 && config.fair_minimum <= config.liked, [&] {
    return std::string(where) + ": config.fair_minimum " + std::to_string(config.fair_minimum) +
           " is not in [1, config.liked = " + std::to_string(config.liked) + "]";
  });
  marl_rec::detail::require(config.beta >= 0.0 && config.beta <= 1.0, [&] {
    return std::string(where) + ": config.beta " + std::to_string(config.beta) +
           " is not in [0, 1]";
  });
}

/// Throws Error (prefixed with `where`) unless `weights` is empty or has `members` entries, all
/// finite and ≥ 0, not all 0, with a finite sum; returns that sum (`members` when empty).
inline double check_group_weights(std::string_view where, std::span<const double> weights,
                                  std::size_t members) {
  marl_rec::detail::require(members >= 1, [&] {
    return std::string(where) + ": the group has no members";
  });
  if (weights.empty()) return static_cast<double>(members);
  marl_rec::detail::require(weights.size() == members, [&] {
    return std::string(where) + ": member_weights has " + std::to_string(weights.size()) +
           " entries, the group has " + std::to_string(members) + " members";
  });
  double total = 0.0;
  for (std::size_t r = 0; r < weights.size(); ++r) {
    marl_rec::detail::require(std::isfinite(weights[r]) && weights[r] >= 0.0, [&] {
      return std::string(where) + ": member_weights[" + std::to_string(r) + "] = " +
             std::to_string(weights[r]) + " is not finite and >= 0";
    });
    total += weights[r];
  }
  marl_rec::detail::require(total > 0.0,
                            [&] { return std::string(where) + ": every member weight is 0"; });
  marl_rec::detail::require(std::isfinite(total), [&] {
    return std::string(where) + ": the member weights sum to " + std::to_string(total) +
           ", not a finite number";
  });
  return total;
}

/// aggregate_group, with `where` naming the public function in errors.
template <class Exclude>
inline void aggregate_group_impl(std::string_view where, MatrixView scores,
                                 std::span<const double> weights, std::size_t k,
                                 const GroupConfig& config, GroupList& out,
                                 const Exclude& exclude) {
  check_group_config(where, config);
  const std::size_t m = scores.rows();
  const std::size_t n = scores.cols();
  const double total_weight = check_group_weights(where, weights, m);
  for (std::size_t r = 0; r < m; ++r) {
    const std::span<const float> row = scores.row(r);
    for (std::size_t i = 0; i < n; ++i) {
      marl_rec::detail::require(!std::isinf(row[i]), [&] {
        return std::string(where) + ": member " + std::to_string(r) +
               "'s score at candidate position " + std::to_string(i) + " is " +
               std::to_string(row[i]) + " (scores must be finite, or NaN for an item the member " +
               "cannot be shown)";
      });
    }
  }
  const auto weight = [&](std::size_t r) { return weights.empty() ? 1.0 : weights[r]; };

  GroupScratch& t = group_scratch();
  // Eligibility: a NaN of any member (whatever its weight: NaN is a hard "cannot be shown")
  // vetoes the position; then the caller's exclusion, asked once per remaining position.
  t.eligible.assign(n, 1);
  for (std::size_t r = 0; r < m; ++r) {
    const std::span<const float> row = scores.row(r);
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isnan(row[i])) t.eligible[i] = 0;
    }
  }
  t.order.resize(n);
  std::size_t ne = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (t.eligible[i] != 0 && exclude(i)) t.eligible[i] = 0;
    if (t.eligible[i] != 0) t.order[ne++] = i;
  }
  const std::span<std::size_t> order(t.order.data(), ne);

  // Per member of positive weight: the normalised scores, the liked set, and (Borda) the points.
  t.normalised.resize(m * n);
  t.liked.assign(m * n, 0);
  t.group_score.assign(n, 0.0);
  t.ranked.resize(n);
  const std::size_t n_liked = std::min(config.liked, ne);
  const std::size_t want = std::min(k, ne);
  // least_satisfied also needs each member's best `want` positions (its ideal list).
  const std::size_t n_top =
      config.rule == GroupRule::least_satisfied ? std::max(n_liked, want) : n_liked;
  t.ideal.assign(m, 0.0);
  for (std::size_t r = 0; r < m; ++r) {
    if (!(weight(r) > 0.0) || ne == 0) continue;
    const std::span<const float> row = scores.row(r);
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (const std::size_t i : order) {
      lo = std::min(lo, static_cast<double>(row[i]));
      hi = std::max(hi, static_cast<double>(row[i]));
    }
    double* norm = t.normalised.data() + r * n;
    for (const std::size_t i : order) {
      // hi > lo: (x − lo) / (hi − lo) is in [0, 1] (both differences are rounded alike).
      norm[i] = hi > lo ? (static_cast<double>(row[i]) - lo) / (hi - lo) : 0.5;
    }
    // The member's ranking of the eligible positions: raw score descending, then position (the
    // raw floats decide ties, not the rounded normalised values).
    const std::span<std::size_t> ranked(t.ranked.data(), ne);
    std::copy(order.begin(), order.end(), ranked.begin());
    const auto before = [&](std::size_t a, std::size_t b) {
      return row[a] > row[b] || (row[a] == row[b] && a < b);
    };
    if (config.rule == GroupRule::borda) {
      std::sort(ranked.begin(), ranked.end(), before);
    } else {
      std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(n_top),
                        ranked.end(), before);
    }
    for (std::size_t j = 0; j < n_liked; ++j) t.liked[r * n + ranked[j]] = 1;
    if (config.rule == GroupRule::least_satisfied) {
      // The normalisation is monotone, so the best raw scores carry the best normalised ones.
      // At least 0.5 when want ≥ 1 (the best is 1, or 0.5 for an indifferent member).
      for (std::size_t j = 0; j < want; ++j) t.ideal[r] += norm[ranked[j]];
    }
    if (config.rule == GroupRule::borda) {
      // Tied positions share the mean of their ranks: ranks g0..g1−1 give (g0 + g1 − 1) / 2.
      for (std::size_t g0 = 0; g0 < ne;) {
        std::size_t g1 = g0 + 1;
        while (g1 < ne && row[ranked[g1]] == row[ranked[g0]]) ++g1;
        const double points =
            static_cast<double>(ne - 1) - 0.5 * static_cast<double>(g0 + g1 - 1);
        for (std::size_t j = g0; j < g1; ++j) t.group_score[ranked[j]] += weight(r) * points;
        g0 = g1;
      }
    }
  }

  // The group scores (members summed in index order, so the result is deterministic).
  if (config.rule != GroupRule::borda) {
    for (const std::size_t i : order) {
      double acc = config.rule == GroupRule::least_misery    ? std::numeric_limits<double>::infinity()
                   : config.rule == GroupRule::most_pleasure ? -std::numeric_limits<double>::infinity()
                                                             : 0.0;
      for (std::size_t r = 0; r < m; ++r) {
        if (!(weight(r) > 0.0)) continue;
        const double s = t.normalised[r * n + i];
        if (config.rule == GroupRule::least_misery) {
          acc = std::min(acc, s);
        } else if (config.rule == GroupRule::most_pleasure) {
          acc = std::max(acc, s);
        } else {
          acc += weight(r) * s;
        }
      }
      t.group_score[i] = (config.rule == GroupRule::average || config.rule == GroupRule::fair ||
                          config.rule == GroupRule::least_satisfied)
                             ? acc / total_weight
                             : acc;
    }
  }
  const double* group = t.group_score.data();
  const auto ranks_higher = [group](std::size_t a, std::size_t b) {
    return group[a] > group[b] || (group[a] == group[b] && a < b);
  };
  t.chosen.clear();
  if (config.rule == GroupRule::least_satisfied) {
    // `order` still holds the eligible positions ascending, so a strict > keeps the lower
    // position on ties.
    t.picked.assign(n, 0);
    t.gained.assign(m, 0.0);
    t.least.assign(m, 0);
    const double beta = config.beta;
    const auto need = [&](std::size_t r) { return t.gained[r] / t.ideal[r] / weight(r); };
    while (t.chosen.size() < want) {
      // The least satisfied: the lowest satisfaction per unit of weight (every member ties at
      // 0 before the first pick, which is therefore the average rule's first item).
      double lowest = std::numeric_limits<double>::infinity();
      for (std::size_t r = 0; r < m; ++r) {
        if (weight(r) > 0.0) lowest = std::min(lowest, need(r));
      }
      double least_weight = 0.0;
      for (std::size_t r = 0; r < m; ++r) {
        t.least[r] = weight(r) > 0.0 && need(r) == lowest ? 1 : 0;
        if (t.least[r] != 0) least_weight += weight(r);
      }
      std::size_t best = 0;
      double best_value = -std::numeric_limits<double>::infinity();
      for (const std::size_t i : order) {
        if (t.picked[i] != 0) continue;
        double least = 0.0;
        for (std::size_t r = 0; r < m; ++r) {
          if (t.least[r] != 0) least += weight(r) * t.normalised[r * n + i];
        }
        // (1 − β) · mean + β · L, written so that β = 0, or L equal to the mean (the first
        // pick), gives the mean bit for bit.
        const double value = group[i] + beta * (least / least_weight - group[i]);
        if (value > best_value) {
          best_value = value;
          best = i;
        }
      }
      t.picked[best] = 1;
      t.chosen.push_back(best);
      for (std::size_t r = 0; r < m; ++r) {
        if (weight(r) > 0.0) t.gained[r] += t.normalised[r * n + best];
      }
    }
    // In order of choice, as under the fair rule (and for the same reason): a member served
    // for fairness finds its item where it was placed for it.
  } else if (config.rule != GroupRule::fair) {
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(want), order.end(),
                      ranks_higher);
    t.chosen.insert(t.chosen.end(), order.begin(), order.begin() + static_cast<std::ptrdiff_t>(want));
  } else {
    std::sort(order.begin(), order.end(), ranks_higher);
    t.picked.assign(n, 0);
    t.counts.assign(m, 0);
    t.remaining.assign(m, 0);
    for (std::size_t r = 0; r < m; ++r) t.remaining[r] = weight(r) > 0.0 ? n_liked : 0;
    const auto pick = [&](std::size_t i) {
      t.picked[i] = 1;
      t.chosen.push_back(i);
      for (std::size_t r = 0; r < m; ++r) {
        if (t.liked[r * n + i] != 0) {
          ++t.counts[r];
          --t.remaining[r];
        }
      }
    };
    while (t.chosen.size() < want) {
      // The neediest: members below the minimum who still have a liked item to give them.
      std::size_t fewest = std::numeric_limits<std::size_t>::max();
      for (std::size_t r = 0; r < m; ++r) {
        if (t.counts[r] < config.fair_minimum && t.remaining[r] > 0) {
          fewest = std::min(fewest, t.counts[r]);
        }
      }
      if (fewest == std::numeric_limits<std::size_t>::max()) break;
      // The best unpicked item (by the weighted mean) liked by one of them. One exists: each of
      // them has remaining > 0.
      for (const std::size_t i : order) {
        if (t.picked[i] != 0) continue;
        bool helps = false;
        for (std::size_t r = 0; r < m && !helps; ++r) {
          helps = t.liked[r * n + i] != 0 && t.counts[r] == fewest &&
                  t.counts[r] < config.fair_minimum && t.remaining[r] > 0;
        }
        if (helps) {
          pick(i);
          break;
        }
      }
    }
    for (const std::size_t i : order) {
      if (t.chosen.size() >= want) break;
      if (t.picked[i] == 0) pick(i);
    }
    // The list stays in order of choice: a member served for fairness finds its item where it
    // was placed for it, not pushed down below the consensus items by a re-sort (NDCG rewards
    // the top places; on InstEval's validation part, re-sorting by the mean lost about a third
    // of the rule's gain in the worst member's NDCG@10).
  }

  out.positions.clear();
  out.scores.clear();
  out.liked_by.clear();
  for (const std::size_t i : t.chosen) {
    std::size_t likers = 0;
    for (std::size_t r = 0; r < m; ++r) likers += t.liked[r * n + i];
    out.positions.push_back(i);
    out.scores.push_back(group[i]);
    out.liked_by.push_back(likers);
  }
}

}  // namespace detail

/// One list of at most `k` candidates for a group, from `member_scores` (members × candidates:
/// row r holds member r's score of each candidate position, higher is better).
///
/// Semantics, in order:
/// 1. Eligibility. A position is eligible unless some member's score there is NaN (that member
///    cannot be shown the item: a veto, whatever the member's weight) or `exclude(position)` is
///    true. `exclude` is called once per position no member vetoed, in increasing order; it
///    must not itself call aggregate_group. The list holds min(k, eligible) positions.
/// 2. Weights. `member_weights` is empty (every member weighs 1) or has one finite weight ≥ 0
///    per member, not all 0. A member of weight 0 takes no part in any rule below (only its
///    NaN vetoes count); "the members" means the members of positive weight from here on.
/// 3. One scale. Each member's scores are min-max normalised over the eligible positions:
///    s' = (s − min) / (max − min), in [0, 1]; a member whose eligible scores are all equal
///    (or who has one eligible position) gets 0.5 everywhere (indifferent: neither the best nor
///    the worst — note that under least_misery it caps every item at 0.5, under most_pleasure
///    it floors every item at 0.5).
/// 4. Liked items. A member likes its `config.liked` best eligible positions by its own raw
///    score (ties: lower position); fewer when fewer are eligible.
/// 5. The group score of an eligible position, by `config.rule`:
///    - average: Σ w_r s'_r / Σ w_r (the weighted mean);
///    - least_misery: min_r s'_r; most_pleasure: max_r s'_r (the weights' values do not enter
///      the min / max; a weight only decides whether a member counts, by being positive);
///    - borda: Σ w_r points_r with points_r = (n_e − 1 − rank_r), rank_r the 0-based rank of
///      the position in member r's ranking of the n_e eligible positions (by raw score); tied
///      raw scores share the mean of their ranks (two tied best of three: 1.5 points each);
///    - fair: the weighted mean (as average); the list is chosen greedily: while some member has
///      fewer than `config.fair_minimum` of its liked items in the list and still has a liked
///      item outside it, take the members with the fewest liked items in the list so far among
///      those, and add the unlisted position with the highest weighted mean that one of them
///      likes (ties: lower position; no member order is involved). Then fill up to k by the
///      weighted mean. Every member thus gets at least min(fair_minimum, its liked items) of
///      its liked items whenever k ≥ (members of positive weight) · fair_minimum, or k ≥ the
///      eligible positions (each pick serves at least one member still below the minimum).
///    - least_satisfied: the weighted mean (as average); the list is chosen greedily, trading
///      the group's welfare against its least-satisfied member. The satisfaction is that of
///      Xiao et al., "Fairness-aware group recommendation with Pareto-efficiency" (RecSys 2017;
///      GFAR, Kaya, Bridge & Tintarev, RecSys 2020, builds on the same utility): let K =
///      min(k, eligible) and I_r the sum of member r's K best normalised scores (what its own
///      top K would give it); after the picks S so far, sat_r = Σ_{j∈S} s'_r(j) / I_r, in
///      [0, 1] and comparable across members whatever the shape of their score distributions.
///      The least satisfied, L, are the members with the lowest sat_r / w_r (weighted max-min
///      fairness: a member of weight 2 is entitled to twice the satisfaction of a member of
///      weight 1 before counting as equally served; with equal weights, the lowest sat_r; all
///      members who tie exactly). Each pick is the unlisted position maximising
///        (1 − β) · Σ_r w_r s'_r / Σ_r w_r  +  β · Σ_{r∈L} w_r s'_r / Σ_{r∈L} w_r
///      (computed as mean + β · (L's mean − mean)), β = `config.beta`; ties: lower position.
///      Before the first pick every member ties at 0, so the first item is the average rule's;
///      β = 0 gives exactly the average rule's list and scores; β = 1 gives each pick to the
///      least satisfied alone. Weights thus act three times: in the mean, in who is least
///      satisfied, and in the mean over tied least-satisfied members.
/// 6. Order. The list is ordered by group score, descending; ties by lower candidate position.
///    The fair and least_satisfied lists are in order of choice instead (for fair: its
///    fairness picks first, as they were made, then the fill in weighted-mean order), so their
///    scores, the weighted means, need not descend. out.scores holds each position's group
///    score, out.liked_by how many members like it.
///
/// Deterministic (a pure function of its arguments). Cost (m members, n candidates):
/// O(m · n log n) for Borda (a full ranking per member); otherwise O(m · n log(liked)) for the
/// liked sets plus O(n log k) for the top k, or for the fair rule O(n log n) and at worst
/// O(k · n · m) for its greedy picks, or for least_satisfied O(m · n log max(liked, k)) and
/// O(k · n · m) for its picks. Thread-safe; after a first call of the same or a larger shape
/// (members, candidates, k) it does not allocate: its working memory is a thread_local scratch
/// that only grows (about m · n · 9 + n · 34 + m · 33 bytes) and `out`'s vectors keep their
/// capacity.
///
/// Throws marl_rec::Error, leaving `out` unchanged, when the matrix has no rows (0 members),
/// `member_weights` has the wrong size or a negative / non-finite entry or sums to 0 (or to a
/// non-finite number), a score is ±infinity, config.liked is 0, config.fair_minimum is not in
/// [1, liked], config.beta is not in [0, 1] (or is NaN), or config.rule is not a GroupRule
/// value (every field is checked whatever the rule). k = 0 and 0 candidates give an empty
/// list. An exception from `exclude` propagates (`out` unchanged).
template <ItemExclusion Exclude = NoExclusion>
inline void aggregate_group(MatrixView member_scores, std::span<const double> member_weights,
                            std::size_t k, const GroupConfig& config, GroupList& out,
                            const Exclude& exclude = {}) {
  detail::aggregate_group_impl("aggregate_group", member_scores, member_weights, k, config, out,
                               exclude);
}

/// Scores every member's context with `model.score` over `candidates` into a per-thread scratch
/// matrix (members × candidates floats, only grown), then aggregate_group over it: a list of
/// candidate positions (the items are candidates[position]) for the group. `exclude` takes a
/// candidate position, as in aggregate_group. Same rules, errors and guarantees as
/// aggregate_group (messages name recommend_for_group); besides, `model.score`'s own errors
/// propagate (a candidate outside the model, a context that does not fit it). The config and
/// weights are checked before any member is scored. Thread-safe when the model's score is (the
/// Model concept requires it); allocates nothing after a first call of the same shape when the
/// model does not.
template <Model M, ItemExclusion Exclude = NoExclusion>
inline void recommend_for_group(const M& model, std::span<const Context> members,
                                Candidates candidates, std::span<const double> member_weights,
                                std::size_t k, const GroupConfig& config, GroupList& out,
                                const Exclude& exclude = {}) {
  constexpr std::string_view where = "recommend_for_group";
  detail::check_group_config(where, config);
  detail::check_group_weights(where, member_weights, members.size());
  const std::size_t m = members.size();
  const std::size_t n = candidates.size();
  marl_rec::detail::require(n == 0 || m <= std::numeric_limits<std::size_t>::max() / n, [&] {
    return std::string(where) + ": " + std::to_string(m) + " members x " + std::to_string(n) +
           " candidates overflows size_t";
  });
  thread_local std::vector<float> matrix;
  if (matrix.size() < m * n) matrix.resize(m * n);
  for (std::size_t r = 0; r < m; ++r) {
    model.score(members[r], candidates, std::span<float>(matrix.data() + r * n, n));
  }
  const MatrixView view(std::span<const float>(matrix.data(), m * n), m, n);
  detail::aggregate_group_impl(where, view, member_weights, k, config, out, exclude);
}

}  // namespace marl_rec
