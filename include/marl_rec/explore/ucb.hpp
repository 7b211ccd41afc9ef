// marl_rec — optimism in the face of uncertainty: rank by the model's upper confidence bound.
#pragma once

#include <algorithm>
#include <cstddef>
#include <istream>
#include <ostream>
#include <string_view>

#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/explore/detail/slate_builder.hpp"
#include "marl_rec/io/model_stream.hpp"

namespace marl_rec {

/// Chooses the k candidates with the highest `upper_bound` (e.g. LinUCB's θ·φ + α·σ): the model's
/// own exploration bonus. Deterministic, so every propensity is 1 (a log of UCB decisions
/// supports replay-style evaluation only, not IPS; see docs/models.md). A model that satisfies
/// TopKUncertainModel (LinUcb) selects the k itself, computing fewer bonuses.
class Ucb {
 public:
  std::string_view name() const noexcept { return "ucb"; }

  /// Writes an empty stream of type "ucb" (version 1): the explorer has no config and no
  /// state, but saves like every explorer (an Agent saves its explorer).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "ucb", 1);
    w.finish();
  }
  /// Reads what save() wrote. Throws Error on another stream type or a damaged stream.
  void load(std::istream& in) {
    io::ModelReader r(in, "ucb", 1);
    r.finish();
  }

  /// The k best candidates by the model's upper_bound (ties: the earlier candidate), through the
  /// model's own upper_bound_top_k when it has one (the same decision, bit for bit).
  template <UncertainModel M, ItemExclusion Exclude>
  void choose(const M& model, const Context& context, Candidates candidates, std::size_t k,
              const Exclude& exclude, Decision& out) {
    if constexpr (TopKUncertainModel<M, Exclude>) {
      const auto top = builder_.top_for(std::min(k, candidates.size()));
      const std::size_t n = model.upper_bound_top_k(context, candidates, k, exclude, top);
      builder_.take_ranked(top.first(n), candidates, out);
    } else {
      const auto scores = builder_.scores_for(candidates);
      model.upper_bound(context, candidates, scores);
      builder_.take_best(scores, candidates, k, exclude, out);
    }
  }

 private:
  detail::SlateBuilder builder_;
};

}  // namespace marl_rec
