// Coordination and ranking from several threads, as the headers state it:
// - aggregate_group and recommend_for_group are thread-safe (their scratch is thread_local);
// - RdpAccountant's const members may run concurrently;
// - MultiObjective is not thread-safe (its objectives keep per-ranking scratch), so each thread
//   owns one: instances on different threads share nothing (the Pareto functions' scratch is
//   thread_local) and rank exactly as one instance does alone.
// Run under -fsanitize=thread too (docs/threading_and_persistence.md).
#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <ratio>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/coord/group_aggregation.hpp"
#include "marl_rec/coord/privacy_accountant.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/objective/calibration.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/exposure_fairness.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/novelty.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "marl_rec/objective/revenue.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "support/concurrently.hpp"

namespace {

namespace mr = marl_rec;
using mr::test::disagreements;
using mr::test::no_disagreement;

constexpr std::size_t threads = 4;
constexpr std::size_t rounds = 5;

/// 60 unit item vectors of 8 dims with prices, categories, providers and popularity.
mr::Catalog make_catalog() {
  mr::Catalog catalog(8);
  mr::Rng rng(31);
  std::vector<float> v(8);
  for (std::size_t i = 0; i < 60; ++i) {
    for (float& x : v) x = static_cast<float>(rng.normal());
    catalog.add(mr::numbered_id("i", i), v,
                {.price = static_cast<float>(1 + i % 9), .category = mr::numbered_id("c", i % 5),
                 .provider = mr::numbered_id("p", i % 4), .popularity = static_cast<float>(i % 11)});
  }
  mr::simd::normalize_rows(catalog.mutable_embeddings());
  return catalog;
}

/// The positions and scores of a group list, as one vector.
std::vector<double> flattened(const mr::GroupList& list) {
  std::vector<double> out;
  for (std::size_t j = 0; j < list.size(); ++j) {
    out.push_back(static_cast<double>(list.positions[j]));
    out.push_back(list.scores[j]);
    out.push_back(static_cast<double>(list.liked_by[j]));
  }
  return out;
}

}  // namespace

TEST_CASE("aggregate_group: concurrent calls, every rule and shape, give the single-thread lists") {
  mr::Rng rng(3);
  std::vector<float> scores(5 * 40);
  for (float& s : scores) s = static_cast<float>(rng.normal());
  const std::array rules = {mr::GroupRule::average, mr::GroupRule::least_misery, mr::GroupRule::most_pleasure,
                            mr::GroupRule::borda,   mr::GroupRule::fair,         mr::GroupRule::least_satisfied};
  // Case c: a rule, and a group of 2..5 members over 10..40 candidates (shapes grow the scratch).
  const auto list = [&](std::size_t c) {
    const std::size_t members = 2 + c % 4, candidates = 10 + 10 * (c % 4);
    std::vector<float> matrix(members * candidates);
    for (std::size_t m = 0; m < members; ++m) {
      for (std::size_t j = 0; j < candidates; ++j) matrix[m * candidates + j] = scores[m * 40 + j];
    }
    const std::vector<double> weights(members, 1.0 + static_cast<double>(c % 3));
    mr::GroupList out;
    mr::aggregate_group(mr::MatrixView(std::span<const float>(matrix), members, candidates), weights, 8,
                        {.rule = rules[c % rules.size()], .liked = 5, .fair_minimum = 2}, out);
    return flattened(out);
  };
  CHECK(disagreements(24, threads, rounds, list) == no_disagreement(threads));
}

TEST_CASE("recommend_for_group: concurrent calls over one model give the single-thread lists") {
  constexpr std::size_t items = 30, dim = 4;
  mr::Rng rng(17);
  mr::AlignedVector<float> item_rows(items * dim);
  for (float& x : item_rows) x = static_cast<float>(rng.normal());
  std::vector<float> users(6 * dim);
  for (float& x : users) x = static_cast<float>(rng.normal());
  const mr::MatrixView item_view(std::span<const float>(item_rows), items, dim);
  mr::LinearQ model({.features = mr::FeatureMap::cross, .gamma = 0.0f, .history_in_state = false});
  for (std::size_t t = 0; t < 200; ++t) {
    const std::size_t u = t % 6;
    model.update({.features = std::span<const float>(users).subspan(u * dim, dim), .items = item_view},
                 rng.below(items), rng.uniform() < 0.4 ? 1.0 : 0.0);
  }
  std::vector<mr::Context> members;
  for (std::size_t u = 0; u < 6; ++u) {
    members.push_back({.features = std::span<const float>(users).subspan(u * dim, dim), .items = item_view});
  }
  const auto list = [&](std::size_t c) {
    const std::size_t size = 2 + c % 5;
    const std::vector<double> weights(size, 1.0);
    mr::GroupList out;
    mr::recommend_for_group(model, std::span<const mr::Context>(members).first(size), mr::Candidates::all(items),
                            weights, 6, {.rule = c % 2 == 0 ? mr::GroupRule::average : mr::GroupRule::least_satisfied},
                            out);
    return flattened(out);
  };
  CHECK(disagreements(10, threads, rounds, list) == no_disagreement(threads));
}

TEST_CASE("RdpAccountant: concurrent const members give the single-thread answers") {
  mr::RdpAccountant accountant;
  accountant.add_gaussian(1.1, 20);
  accountant.add_gaussian(2.0, 5);
  const mr::RdpAccountant& shared = accountant;
  const auto answer = [&](std::size_t c) -> std::string {
    if (c == 0) {
      std::ostringstream out;
      shared.save(out);
      return out.str();
    }
    const double delta = 1e-3 / static_cast<double>(c);
    return std::to_string(shared.epsilon(delta)) + " " + std::to_string(shared.optimal_order(delta)) + " " +
           std::to_string(shared.rdp()[c]) + " " + std::to_string(shared.steps());
  };
  CHECK(disagreements(8, threads, rounds, answer) == no_disagreement(threads));
}

TEST_CASE("MultiObjective: one instance per thread ranks exactly as an instance alone (rank, record, rank_pareto)") {
  const mr::Catalog catalog = make_catalog();
  using Ranking = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<4, 10>>, mr::Weighted<mr::Revenue, std::ratio<1, 10>>,
                                     mr::Weighted<mr::Diversity, std::ratio<2, 10>>, mr::Weighted<mr::Novelty, std::ratio<1, 10>>,
                                     mr::Weighted<mr::ExposureFairness, std::ratio<1, 10>>,
                                     mr::Weighted<mr::Calibration, std::ratio<1, 10>>>;
  // Case c: a fresh instance serves 6 pages of one seeded session (exposure is recorded between
  // pages, so later pages depend on earlier ones), in weighted and in Pareto mode.
  const auto session = [&](std::size_t c) {
    Ranking ranking;
    mr::Rng rng(50 + c);
    std::vector<std::size_t> items(25);
    std::vector<float> relevance(25);
    const std::vector<std::size_t> history = {c % 60, (c * 7 + 3) % 60, (c * 13 + 5) % 60};
    mr::RankedList list;
    mr::ParetoSummary summary;
    std::vector<double> out;
    for (std::size_t page = 0; page < 6; ++page) {
      for (std::size_t j = 0; j < items.size(); ++j) {
        items[j] = rng.below(60);
        relevance[j] = static_cast<float>(rng.uniform());
      }
      const mr::RankingInput input{.items = items, .relevance = relevance, .catalog = &catalog, .history = history};
      ranking.rank(input, 6, list);
      for (std::size_t j = 0; j < list.size(); ++j) out.push_back(list.scores[j]);
      std::vector<std::size_t> shown;
      for (const std::size_t p : list.positions) shown.push_back(items[p]);
      ranking.record(shown, catalog);
      ranking.rank_pareto(input, 6, list, &summary);
      for (std::size_t j = 0; j < list.size(); ++j) out.push_back(static_cast<double>(list.positions[j]));
      out.push_back(summary.hypervolume_front);
      out.push_back(summary.hypervolume_list);
    }
    return out;
  };
  CHECK(disagreements(8, threads, rounds, session) == no_disagreement(threads));
}
