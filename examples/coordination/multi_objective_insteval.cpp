// marl_rec_multi_objective_insteval — relevance against diversity on real ratings: InstEval's
// 73,421 ratings of 1,128 lecturers by 2,972 students (shared/data/insteval/README.md).
//
// Question: what does MultiObjective<Relevance, Diversity> (greedy MMR on min-max-normalised
// relevance) trade, in NDCG@10, for intra-list diversity, against plain textbook MMR on the raw
// scores; and what does the Pareto mode (rank_pareto) give with Relevance, Diversity and Novelty.
//
// Protocol:
// - Split: per-user random 80/20 (eval::split_per_user_random, seed 42). Users: those with a
//   held-out lecturer (all of them, or --users N of them drawn with Rng(1), ascending).
// - Relevance: EASE, λ = 50, fit on the training part; each user's candidates are the 100
//   lecturers EASE scores highest among those the user did not rate in training (simd::top_k);
//   a candidate's relevance is its EASE score.
// - Similarity: iALS item factors (MatrixFactorization, 64 factors, 15 epochs, seed 42, fit on
//   the training part), unit-normalised, held in a Catalog; Diversity's cosine and the
//   reported intra-list diversity (eval::intra_list_diversity_at: mean 1 − cosine over the
//   list's pairs) use the same vectors. Popularity (for Novelty): the number of training
//   students who rated the lecturer (eval::item_popularity).
// - Sweep: Diversity weight w, Relevance weight 1 − w (MultiObjective::set_weights), lists of 10.
//   Plain MMR at λ = 1 − w: greedily argmax λ·s(c) − (1 − λ)·max_{j chosen} cos(c, j) on the raw
//   EASE scores s (the max term is 0 for the first pick; cosines unclamped), ties to the higher
//   EASE rank. The two differ in scale only: MultiObjective normalises relevance to [0, 1] per
//   user (and clamps negative cosines), so its w means the same trade-off for every user,
//   whereas raw-score MMR's λ depends on the spread of each user's scores.
// - Pareto: MultiObjective<Relevance, Diversity, Novelty>, weights 1/3 each, rank() against
//   rank_pareto() — NDCG@10, ILD@10, novelty@10 (eval::novelty_at, log2) and the mean
//   hypervolume of the list's objective values (the values when each item was chosen; reference
//   0), with the first front's hypervolume and size. At the empty list every diversity value is
//   1, so the fronts are those of (relevance, novelty); diversity acts within a front.
//
// Usage: marl_rec_multi_objective_insteval [--data PATH/ratings.csv] [--quick] [--users N]
// Markdown tables go to standard output. --quick (a CTest smoke run): 300 users, 4 weights, about
// 5 s; the full run (2,956 users, 10 weights) about 7 s, most of it fitting iALS. The program
// exits with status 1 when a consistency check fails (w = 0 must reproduce EASE's top 10; every
// explanation must sum to its score).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <ratio>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/split.hpp"
#include "marl_rec/io/interactions_csv.hpp"
#include "marl_rec/io/read_report.hpp"
#include "marl_rec/models/ease.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/novelty.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "marl_rec/simd/kernels.hpp"

namespace mr = marl_rec;

namespace {

constexpr std::size_t list_length = 10;
constexpr std::size_t candidates_per_user = 100;
constexpr float ease_lambda = 50.0f;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One user's ranking problem.
struct User {
  std::vector<std::size_t> candidates;  // item indices, EASE's order
  std::vector<float> relevance;         // their EASE scores
  std::vector<std::size_t> relevant;    // held-out items
};

// Means of a list's figures over the users.
struct Mean {
  double ndcg = 0.0, ild = 0.0, novelty = 0.0, hv_list = 0.0, hv_front = 0.0, front_size = 0.0;
  void scale(double n) {
    ndcg /= n, ild /= n, novelty /= n, hv_list /= n, hv_front /= n, front_size /= n;
  }
};

// Plain MMR on raw scores (the textbook form): λ·s − (1 − λ)·max cosine to the chosen items.
void plain_mmr(const User& u, const mr::Catalog& catalog, double lambda, std::vector<std::size_t>& out) {
  const std::size_t n = u.candidates.size();
  std::vector<double> max_sim(n, 0.0);
  std::vector<bool> taken(n, false);
  out.clear();
  while (out.size() < std::min(list_length, n)) {
    std::size_t best = n;
    double best_score = -std::numeric_limits<double>::infinity();
    for (std::size_t p = 0; p < n; ++p) {
      if (taken[p]) continue;
      const double score = lambda * u.relevance[p] - (1.0 - lambda) * (out.empty() ? 0.0 : max_sim[p]);
      if (best == n || score > best_score) {
        best = p;
        best_score = score;
      }
    }
    taken[best] = true;
    const auto chosen = catalog.vector(u.candidates[best]);
    for (std::size_t p = 0; p < n; ++p) {
      const double s = mr::simd::dot(catalog.vector(u.candidates[p]), chosen);
      max_sim[p] = out.empty() ? s : std::max(max_sim[p], s);
    }
    out.push_back(u.candidates[best]);
  }
}

bool explained(const mr::RankedList& list) {
  for (std::size_t j = 0; j < list.size(); ++j) {
    double sum = 0.0;
    for (const double c : list.explanation.of(j)) sum += c;
    if (sum != list.scores[j]) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string path = "../shared/data/insteval/ratings.csv";
  bool quick = false;
  std::size_t max_users = 0;
  const auto usage = [&] {
    std::fprintf(stderr, "usage: %s [--data PATH/ratings.csv] [--quick] [--users N]\n", argv[0]);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      path = argv[++i];
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--users" && i + 1 < argc) {
      char* end = nullptr;
      const std::string value = argv[++i];
      const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || value[0] == '-' || v == 0) return usage();
      max_users = static_cast<std::size_t>(v);
    } else {
      return usage();
    }
  }
  if (quick && max_users == 0) max_users = 300;
  const auto start = std::chrono::steady_clock::now();

  mr::io::ReadReport report;
  const mr::Interactions data = mr::io::read_interactions_csv(path, {}, &report);
  std::fprintf(stderr, "%s\n", report.summary().c_str());
  const mr::eval::Split split = mr::eval::split_per_user_random(data, 0.2, 42);
  const std::size_t n_items = data.items.size();
  const std::size_t n_users = data.users.size();

  mr::Ease ease(mr::EaseConfig{.lambda = ease_lambda});
  ease.fit(split.train);
  mr::MatrixFactorization ials({.factors = 64, .epochs = 15, .seed = 42});
  ials.fit(split.train);
  std::fprintf(stderr, "models fit: %.1f s\n", seconds_since(start));

  // The catalog: unit iALS item factors and the training popularity.
  const std::vector<double> popularity = mr::eval::item_popularity(split.train, n_items);
  const mr::MatrixView factors = ials.item_factors();
  mr::Catalog catalog(factors.cols());
  std::size_t zero_vectors = 0;
  for (std::size_t i = 0; i < n_items; ++i) {
    std::vector<float> v(factors.row(i).begin(), factors.row(i).end());
    zero_vectors += mr::simd::l2_normalize(v) ? 0 : 1;
    catalog.add(data.items.id(i), v, {.popularity = static_cast<float>(popularity[i])});
  }

  // The users and their candidates.
  std::vector<std::vector<std::size_t>> train_items(n_users), test_items(n_users);
  for (const mr::Interaction& r : split.train.rows) train_items[r.user].push_back(r.item);
  for (const mr::Interaction& r : split.test.rows) test_items[r.user].push_back(r.item);
  std::vector<std::size_t> user_ids;
  for (std::size_t u = 0; u < n_users; ++u) {
    if (!test_items[u].empty()) user_ids.push_back(u);
  }
  if (max_users != 0 && max_users < user_ids.size()) {
    mr::Rng rng(1);
    for (std::size_t i = 0; i < max_users; ++i) {
      std::swap(user_ids[i], user_ids[i + rng.below(user_ids.size() - i)]);
    }
    user_ids.resize(max_users);
    std::sort(user_ids.begin(), user_ids.end());
  }
  std::vector<User> users(user_ids.size());
  {
    std::vector<float> scores(n_items);
    std::vector<mr::ScoredItem> top(candidates_per_user);
    for (std::size_t k = 0; k < user_ids.size(); ++k) {
      const std::size_t u = user_ids[k];
      ease.score_user(u, scores);
      for (const std::size_t i : train_items[u]) scores[i] = std::numeric_limits<float>::quiet_NaN();
      const std::size_t got = mr::simd::top_k(scores, candidates_per_user, top);
      for (std::size_t j = 0; j < got; ++j) {
        users[k].candidates.push_back(top[j].index);
        users[k].relevance.push_back(top[j].score);
      }
      users[k].relevant = test_items[u];
      std::sort(users[k].relevant.begin(), users[k].relevant.end());
      users[k].relevant.erase(std::unique(users[k].relevant.begin(), users[k].relevant.end()),
                              users[k].relevant.end());
    }
  }
  std::printf("## Relevance against diversity on InstEval\n\n");
  std::printf("%zu ratings, %zu users, %zu items; split per-user random 80/20 (seed 42); %zu users "
              "with held-out items evaluated%s. Relevance: EASE (lambda = %g), top %zu unrated "
              "candidates per user. Similarity: unit iALS item factors (64 factors, 15 epochs; %zu "
              "zero vectors). Lists of %zu.\n\n",
              data.size(), n_users, n_items, users.size(), quick ? " (--quick)" : "",
              static_cast<double>(ease_lambda), candidates_per_user, zero_vectors, list_length);

  bool ok = true;
  std::vector<std::size_t> ranked;
  mr::RankedList list;
  const auto items_of = [&](const User& u, const mr::RankedList& l) {
    ranked.clear();
    for (const std::size_t p : l.positions) ranked.push_back(u.candidates[p]);
  };

  // ---- the sweep -----------------------------------------------------------------------------
  const std::vector<double> weights =
      quick ? std::vector<double>{0.0, 0.3, 0.6, 0.9}
            : std::vector<double>{0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  std::printf("### MultiObjective<Relevance, Diversity> against plain MMR\n\n");
  std::printf("| diversity weight w | MO NDCG@10 | MO ILD@10 | MMR lambda = 1 - w | MMR NDCG@10 | MMR ILD@10 | "
              "MMR NDCG@10 at MO's ILD@10 |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|\n");
  mr::MultiObjective<mr::Weighted<mr::Relevance>, mr::Weighted<mr::Diversity>> mo;
  std::vector<Mean> ours(weights.size()), mmr(weights.size());
  for (std::size_t at = 0; at < weights.size(); ++at) {
    const double w = weights[at];
    mo.set_weights(std::array<double, 2>{1.0 - w, w});
    Mean& a = ours[at];
    Mean& b = mmr[at];
    for (const User& u : users) {
      mo.rank({.items = u.candidates, .relevance = u.relevance, .catalog = &catalog}, list_length, list);
      ok = ok && explained(list);
      items_of(u, list);
      if (w == 0.0) {
        // Relevance alone must reproduce EASE's own top 10.
        ok = ok && std::equal(ranked.begin(), ranked.end(), u.candidates.begin());
      }
      a.ndcg += mr::eval::ndcg_at(ranked, u.relevant, list_length);
      a.ild += mr::eval::intra_list_diversity_at(ranked, list_length, catalog.embeddings());
      plain_mmr(u, catalog, 1.0 - w, ranked);
      b.ndcg += mr::eval::ndcg_at(ranked, u.relevant, list_length);
      b.ild += mr::eval::intra_list_diversity_at(ranked, list_length, catalog.embeddings());
    }
    a.scale(static_cast<double>(users.size()));
    b.scale(static_cast<double>(users.size()));
  }
  for (std::size_t at = 0; at < weights.size(); ++at) {
    // The same weight means a different trade-off for the two methods; compare them at equal
    // diversity instead: MMR's NDCG@10 interpolated linearly, on its own sweep, at MO's ILD@10
    // (blank outside MMR's range).
    std::string matched;
    for (std::size_t j = 0; j + 1 < weights.size(); ++j) {
      const Mean& lo = mmr[j];
      const Mean& hi = mmr[j + 1];
      if (ours[at].ild >= lo.ild && ours[at].ild <= hi.ild && hi.ild > lo.ild) {
        const double t = (ours[at].ild - lo.ild) / (hi.ild - lo.ild);
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.4f", lo.ndcg + t * (hi.ndcg - lo.ndcg));
        matched = buffer;
        break;
      }
    }
    std::printf("| %.1f | %.4f | %.4f | %.1f | %.4f | %.4f | %s |\n", weights[at], ours[at].ndcg, ours[at].ild,
                1.0 - weights[at], mmr[at].ndcg, mmr[at].ild, matched.c_str());
  }

  // ---- Pareto mode ---------------------------------------------------------------------------
  std::printf("\n### Relevance, Diversity, Novelty (weights 1/3 each): weighted against Pareto mode\n\n");
  std::printf("| mode | NDCG@10 | ILD@10 | novelty@10 | hypervolume of the list | "
              "hypervolume of front 0 | size of front 0 |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<1, 3>>, mr::Weighted<mr::Diversity, std::ratio<1, 3>>,
                     mr::Weighted<mr::Novelty, std::ratio<1, 3>>>
      three;
  const std::array<double, 3> origin{};
  std::vector<double> values;
  mr::ParetoSummary summary;
  for (const bool pareto : {false, true}) {
    Mean m;
    for (const User& u : users) {
      const mr::RankingInput input{.items = u.candidates, .relevance = u.relevance, .catalog = &catalog};
      if (pareto) {
        three.rank_pareto(input, list_length, list, &summary);
        m.hv_list += summary.hypervolume_list;
        m.hv_front += summary.hypervolume_front;
        m.front_size += static_cast<double>(summary.first_front.size());
      } else {
        three.rank(input, list_length, list);
        // The values when chosen: contribution / weight.
        values.clear();
        for (std::size_t j = 0; j < list.size(); ++j) {
          for (std::size_t o = 0; o < 3; ++o) values.push_back(list.explanation.of(j)[o] / three.weights()[o]);
        }
        m.hv_list += mr::hypervolume(values, list.size(), 3, origin);
      }
      ok = ok && explained(list);
      items_of(u, list);
      m.ndcg += mr::eval::ndcg_at(ranked, u.relevant, list_length);
      m.ild += mr::eval::intra_list_diversity_at(ranked, list_length, catalog.embeddings());
      m.novelty += mr::eval::novelty_at(ranked, list_length, popularity, n_users);
    }
    m.scale(static_cast<double>(users.size()));
    if (pareto) {
      std::printf("| Pareto (rank_pareto) | %.4f | %.4f | %.3f | %.4f | %.4f | %.1f |\n", m.ndcg, m.ild, m.novelty,
                  m.hv_list, m.hv_front, m.front_size);
    } else {
      std::printf("| weighted (rank) | %.4f | %.4f | %.3f | %.4f | | |\n", m.ndcg, m.ild, m.novelty, m.hv_list);
    }
  }
  std::printf("\nChecks (w = 0 reproduces EASE's top 10; explanations sum to scores): %s. Time: %.1f s.\n",
              ok ? "passed" : "FAILED", seconds_since(start));
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
