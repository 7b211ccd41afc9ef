// marl_rec — the contract of a recommender trained on a batch of interactions and asked for a
// full ranking per user: what the evaluation command (marl_rec_eval) trains and scores.
#pragma once

#include <concepts>
#include <cstddef>
#include <span>
#include <string_view>

#include "marl_rec/core/interactions.hpp"

namespace marl_rec {

/// A model fitted on interactions that scores every item for a user.
///
/// Semantic rules the compiler cannot check:
/// - `fit(train)` learns from `train` alone and may be called again (refitting from scratch);
///   it throws marl_rec::Error on data it cannot use.
/// - `score_user(user, scores)` writes one score per item of the training item map
///   (`scores.size() == train.items.size()`; higher is better; NaN = never recommend). `user`
///   is any index; users the training data never saw (index ≥ train.users.size()) get the
///   model's cold-start scores. It is deterministic (a seeded model gives the same scores for the
///   same user however many users were scored before) and const, so it may run concurrently.
/// - Excluding the user's training items is the caller's job (see eval::recommend_top_k).
/// - `name()` is a short lowercase identifier ("mostpop").
template <class R>
concept BatchRecommender = requires(R& model, const R& fitted, const Interactions& train,
                                    std::size_t user, std::span<float> scores) {
  model.fit(train);
  fitted.score_user(user, scores);
  { fitted.name() } -> std::convertible_to<std::string_view>;
};

}  // namespace marl_rec
