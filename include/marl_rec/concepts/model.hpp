// marl_rec — the contract of a learner an Agent owns: it scores candidate items for a context
// and learns from the reward of one item at a time.
#pragma once

#include <concepts>
#include <cstddef>
#include <iosfwd>
#include <span>
#include <string_view>

#include "marl_rec/core/context.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace marl_rec {

/// A model that scores candidates and learns online.
///
/// Semantic rules the compiler cannot check:
/// - `score(context, candidates, scores)` writes, for every candidate position i, the model's
///   estimate of the reward of item candidates[i] (higher is better; NaN = never choose) into
///   scores[i]; it throws marl_rec::Error when scores.size() != candidates.size() or the context
///   does not fit the model (wrong feature dimension, item index out of range). It is const,
///   deterministic and thread-safe (it may run concurrently with other const calls), and after a
///   first call of the same shape it does not allocate.
/// - `update(context, item, reward)` learns that showing `item` in `context` earned `reward`.
///   It throws marl_rec::Error on a non-finite reward or a context that does not fit, and then
///   leaves the model unchanged.
/// - `save(out)` writes the whole learned state; `load(in)` replaces it with one saved by the
///   same model type (throws marl_rec::Error naming what is wrong on any other input, and
///   leaves the model unchanged). A loaded model scores exactly as the saved one did.
/// - `name()` is a short lowercase identifier ("linucb").
template <class M>
concept Model = requires(M& model, const M& fitted, const Context& context, Candidates candidates,
                         std::span<float> scores, std::size_t item, double reward,
                         std::ostream& out, std::istream& in) {
  fitted.score(context, candidates, scores);
  model.update(context, item, reward);
  fitted.save(out);
  model.load(in);
  { fitted.name() } -> std::convertible_to<std::string_view>;
};

/// A model that knows how uncertain its scores are: `upper_bound` writes an optimistic score
/// (estimate + the model's configured multiple of its standard error; e.g. LinUCB's bound).
/// Same rules as score(). The Ucb explorer ranks by it.
template <class M>
concept UncertainModel = Model<M> && requires(const M& fitted, const Context& context,
                                              Candidates candidates, std::span<float> scores) {
  fitted.upper_bound(context, candidates, scores);
};

/// An UncertainModel that selects the top k of its own upper bounds (LinUcb does, skipping the
/// bonus of candidates that cannot enter): `upper_bound_top_k(context, candidates, k, exclude,
/// out)` writes the min(k, eligible) candidates of highest upper_bound as ScoredItem{position in
/// candidates, bound}, best first, to out[0, n) and returns n: exactly, bit for bit, what
/// simd::top_k over upper_bound's scores gives with the exclusion p ↦ exclude(candidates[p])
/// (eligible: not excluded, bound not NaN; equal bounds: the earlier position first). `out` has
/// room for min(k, candidates.size()); same checks and thread-safety as upper_bound. `exclude`
/// may be asked about an item more than once (in increasing position order within each pass).
/// The Ucb explorer uses it when the model has it.
template <class M, class Exclude = NoExclusion>
concept TopKUncertainModel =
    UncertainModel<M> && ItemExclusion<Exclude> &&
    requires(const M& fitted, const Context& context, Candidates candidates, std::size_t k,
             const Exclude& exclude, std::span<ScoredItem> out) {
      { fitted.upper_bound_top_k(context, candidates, k, exclude, out) } -> std::same_as<std::size_t>;
    };

/// A model with a posterior to sample from: `sample_scores` writes the scores of one draw of
/// its parameters, using (only) `rng` for randomness, so a seeded Rng gives the same draw. Same
/// rules as score() otherwise. The Thompson explorer ranks by it.
template <class M>
concept SamplingModel = Model<M> && requires(const M& fitted, const Context& context,
                                             Candidates candidates, std::span<float> scores,
                                             Rng& rng) {
  fitted.sample_scores(context, candidates, scores, rng);
};

/// A model of sequential decisions (Q-learning): besides the one-step update, it learns from a
/// transition to a next state whose best candidate's value is bootstrapped
/// (target = reward + γ · max over next_candidates of Q(next, a)). The three-argument update is
/// then a transition into a terminal state (target = reward).
template <class M>
concept SequentialModel = Model<M> && requires(M& model, const Context& context, std::size_t item,
                                               double reward, const Context& next,
                                               Candidates next_candidates) {
  model.update(context, item, reward, next, next_candidates);
};

}  // namespace marl_rec
