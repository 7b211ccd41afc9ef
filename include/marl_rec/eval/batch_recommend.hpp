// marl_rec — full-ranking top-k recommendations from a BatchRecommender, with each user's
// training items excluded (the protocol of the evaluation command and of docs/evaluation.md).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "marl_rec/concepts/batch_recommender.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace marl_rec::eval {

/// The top-k items for each user in `users` (indices into `train`'s user map, or past its end
/// for users training never saw), best first, excluding the items the user has in `train`.
/// Scores every item (full ranking, no sampled negatives). Items with NaN scores are never
/// returned. Result i belongs to users[i].
template <BatchRecommender R>
std::vector<std::vector<ScoredItem>> recommend_for_users(const R& model, const Interactions& train,
                                                         std::span<const std::size_t> users,
                                                         std::size_t k) {
  const std::size_t n_items = train.items.size();
  // Each known user's training items, as index lists (to set and clear one reused bitset).
  std::vector<std::vector<std::size_t>> seen(train.users.size());
  for (const Interaction& row : train.rows) {
    marl_rec::detail::require(row.user < seen.size() && row.item < n_items,
                    "recommend_for_users: a training row's index is outside the id maps");
    seen[row.user].push_back(row.item);
  }
  std::vector<float> scores(n_items);
  std::vector<ScoredItem> top(std::min(k, n_items));
  ItemBitset excluded(n_items);
  std::vector<std::vector<ScoredItem>> result;
  result.reserve(users.size());
  for (const std::size_t user : users) {
    model.score_user(user, scores);
    const bool known = user < seen.size();
    if (known) {
      for (const std::size_t item : seen[user]) excluded.insert(item);
    }
    const std::size_t n = simd::top_k(std::span<const float>(scores), k, top, excluded.view());
    result.emplace_back(top.begin(), top.begin() + static_cast<std::ptrdiff_t>(n));
    if (known) {
      for (const std::size_t item : seen[user]) excluded.erase(item);
    }
  }
  return result;
}

/// The top-k item indices (as recommend_for_users ranks them) of every user with a row in `test`,
/// indexed by user over `train`'s user map; users without a test row get an empty list. This is
/// the input eval::evaluate takes. Throws Error when a test row's user is outside train's user map.
template <BatchRecommender R>
std::vector<std::vector<std::size_t>> ranked_for_test_users(const R& model, const Interactions& train,
                                                            const Interactions& test, std::size_t k) {
  std::vector<unsigned char> listed(train.users.size(), 0);
  std::vector<std::size_t> users;
  for (const Interaction& row : test.rows) {
    marl_rec::detail::require(row.user < listed.size(),
                              "ranked_for_test_users: a test row's user is outside the training user map");
    if (listed[row.user] != 0) continue;
    listed[row.user] = 1;
    users.push_back(row.user);
  }
  const auto recs = recommend_for_users(model, train, users, k);
  std::vector<std::vector<std::size_t>> ranked(train.users.size());
  for (std::size_t i = 0; i < users.size(); ++i) {
    for (const ScoredItem& r : recs[i]) ranked[users[i]].push_back(r.index);
  }
  return ranked;
}

}  // namespace marl_rec::eval
