// marl_rec — the explorer that never explores: the model's k best candidates.
#pragma once

#include <cstddef>
#include <istream>
#include <ostream>
#include <string_view>

#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/explore/detail/slate_builder.hpp"
#include "marl_rec/io/model_stream.hpp"

namespace marl_rec {

/// Chooses the k candidates with the highest `score` (ties: the earlier candidate); every
/// propensity is 1. For serving a trained model, or as the baseline of an exploration study.
class Greedy {
 public:
  std::string_view name() const noexcept { return "greedy"; }

  /// Writes an empty stream of type "greedy" (version 1): the explorer has no config and no
  /// state, but saves like every explorer (an Agent saves its explorer).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "greedy", 1);
    w.finish();
  }
  /// Reads what save() wrote. Throws Error on another stream type or a damaged stream.
  void load(std::istream& in) {
    io::ModelReader r(in, "greedy", 1);
    r.finish();
  }

  template <Model M, ItemExclusion Exclude>
  void choose(const M& model, const Context& context, Candidates candidates, std::size_t k,
              const Exclude& exclude, Decision& out) {
    const auto scores = builder_.scores_for(candidates);
    model.score(context, candidates, scores);
    builder_.take_best(scores, candidates, k, exclude, out);
  }

 private:
  detail::SlateBuilder builder_;
};

}  // namespace marl_rec
