// Test helper: NDCG@10 and Recall@20 of a batch model's full ranking, as the real-data tests report.
#pragma once

#include <cstddef>
#include <vector>

#include "marl_rec/core/interactions.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/eval/metrics.hpp"

namespace marl_rec::test {

struct RankingFigures {
  double ndcg10 = 0;
  double recall20 = 0;
};

/// The top 20 of `model` (training items excluded, every item ranked) for every training user,
/// scored on `test`.
template <class Model>
RankingFigures ranking_figures(const Model& model, const Interactions& train, const Interactions& test) {
  std::vector<std::size_t> users(train.users.size());
  for (std::size_t u = 0; u < users.size(); ++u) users[u] = u;
  const auto recs = eval::recommend_for_users(model, train, users, 20);
  std::vector<std::vector<std::size_t>> ranked(recs.size());
  for (std::size_t u = 0; u < recs.size(); ++u) {
    for (const ScoredItem& s : recs[u]) ranked[u].push_back(s.index);
  }
  const std::size_t n = train.items.size();
  return {eval::evaluate(ranked, test, n, {.k = 10}).at("ndcg@10"),
          eval::evaluate(ranked, test, n, {.k = 20}).at("recall@20")};
}

}  // namespace marl_rec::test
