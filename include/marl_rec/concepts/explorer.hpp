// marl_rec — the contract of an exploration strategy: it turns a model's scores into the items
// of a decision, with the probability each choice had.
#pragma once

#include <concepts>
#include <cstddef>
#include <iosfwd>
#include <string_view>

#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace marl_rec {

/// An explorer for models of type M.
///
/// Semantic rules the compiler cannot check:
/// - `choose(model, context, candidates, k, exclude, out)` asks the model for scores of the
///   candidates (its mean, upper bound or a posterior draw, as the explorer works), then replaces
///   out.items / out.scores / out.propensities with min(k, eligible) distinct items, best first;
///   `out.id` is left alone. Eligible: a candidate whose item is not excluded (`exclude(item)`)
///   and whose score is not NaN.
/// - out.propensities[j] is the probability the explorer had of placing out.items[j] at position
///   j given the items at positions 0..j-1 (exact, except where an explorer documents an
///   estimate), in (0, 1].
/// - Randomness comes only from the explorer's own seeded Rng: the same seed, model and calls
///   give the same decisions.
/// - After a first call of the same shape, `choose` does not allocate (out's vectors keep their
///   capacity). An explorer is not thread-safe (its Rng and scratch are its own).
template <class E, class M>
concept ExplorerFor = Model<M> && requires(E& explorer, const M& model, const Context& context,
                                           Candidates candidates, std::size_t k, Decision& out) {
  explorer.choose(model, context, candidates, k, NoExclusion{}, out);
  explorer.choose(model, context, candidates, k, ExcludeBitset{}, out);
  { explorer.name() } -> std::convertible_to<std::string_view>;
};

/// An explorer that saves and restores itself: `save(out)` writes its config and everything
/// that decides its future choices (its Rng's state, counters such as a decay schedule's);
/// `load(in)` replaces all of that with what a save of the same explorer type wrote, so the
/// loaded explorer chooses exactly as the saved one would have (throws marl_rec::Error, changing
/// nothing, on any other input). Every explorer of the library is one; an Agent whose explorer
/// is not still works, only its own save and load are unavailable.
template <class E>
concept PersistentExplorer = requires(const E& explorer, E& target, std::ostream& out, std::istream& in) {
  explorer.save(out);
  target.load(in);
};

}  // namespace marl_rec
