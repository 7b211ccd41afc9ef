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

/// The top 20 of `model` (training items excluded, every item ranked) for every user with a test
/// row, scored on `test`.
template <class Model>
RankingFigures ranking_figures(const Model& model, const Interactions& train, const Interactions& test) {
  const auto ranked = eval::ranked_for_test_users(model, train, test, 20);
  const std::size_t n = train.items.size();
  return {eval::evaluate(ranked, test, n, {.k = 10}).at("ndcg@10"),
          eval::evaluate(ranked, test, n, {.k = 20}).at("recall@20")};
}

}  // namespace marl_rec::test
