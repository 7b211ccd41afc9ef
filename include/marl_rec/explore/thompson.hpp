// marl_rec — Thompson sampling: rank by one draw from the model's posterior.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/detail/slate_builder.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/rng_state.hpp"

namespace marl_rec {

/// Settings of Thompson. `propensity_draws` extra posterior draws estimate each choice's
/// propensity (0 skips the estimate and reports propensity 1 — say so in any log you evaluate).
struct ThompsonConfig {
  std::size_t propensity_draws = 100;
  std::uint64_t seed = 1;
};

/// Draws the model's parameters once (`sample_scores`) and takes the k best candidates of that
/// draw. A Thompson choice's propensity has no closed form, so it is estimated by Monte Carlo
/// over M = propensity_draws further draws: the propensity of position j is (1 + c_j) / (1 + n_j),
/// where n_j counts the draws whose top j candidates are the decision's items 0..j-1 in order,
/// and c_j those of them whose next candidate is the decision's item j (the conditional
/// probability of position j given the earlier ones; the decision's own draw counts once in both,
/// so the estimate is never 0). Later positions rest on fewer draws (n_j shrinks), so their
/// estimates are noisier. The cost is (1 + M) posterior draws per decision: lower M where latency
/// matters.
///
/// save() writes the config and the Rng's state (stream type "thompson", version 1; scratch
/// buffers are not saved); load(in) replaces both, so a loaded explorer draws exactly as the
/// saved one would.
class Thompson {
 public:
  explicit Thompson(ThompsonConfig config = {}) : config_(config), rng_(config.seed) {}

  std::string_view name() const noexcept { return "thompson"; }
  const ThompsonConfig& config() const noexcept { return config_; }

  /// Writes the config and the generator's state.
  void save(std::ostream& out) const {
    io::ModelWriter w(out, type, 1);
    w.u64("propensity_draws", config_.propensity_draws);
    w.u64("seed", config_.seed);
    io::write_rng(w, "rng", rng_);
    w.finish();
  }

  /// Replaces the config and state with a saved Thompson's. Throws Error, changing nothing, on
  /// another stream type or a damaged stream.
  void load(std::istream& in) {
    io::ModelReader r(in, type, 1);
    ThompsonConfig c;
    c.propensity_draws = static_cast<std::size_t>(r.u64("propensity_draws", 0, std::numeric_limits<std::size_t>::max()));
    c.seed = r.u64("seed");
    const Rng rng = io::read_rng(r, type, "rng");
    r.finish();
    config_ = c;
    rng_ = rng;
  }

  template <SamplingModel M, ItemExclusion Exclude>
  void choose(const M& model, const Context& context, Candidates candidates, std::size_t k,
              const Exclude& exclude, Decision& out) {
    const auto scores = builder_.scores_for(candidates);
    model.sample_scores(context, candidates, scores, rng_);
    detail::SlateBuilder::start(out);
    const auto best = builder_.greedy(scores, candidates, k, exclude);
    positions_.clear();
    for (const ScoredItem& s : best) {
      detail::SlateBuilder::add(out, candidates[s.index], s.score, 1.0);
      positions_.push_back(s.index);
    }
    if (config_.propensity_draws == 0 || positions_.empty()) return;
    // P(item j at position j | items 0..j-1 at positions 0..j-1) for a slate that is one draw's
    // top k: among the draws whose top j are the decision's first j items in order (n_j), the
    // share whose next item is the decision's item j (c_j).
    counts_.assign(positions_.size(), 0);
    matches_.assign(positions_.size(), 0);
    for (std::size_t d = 0; d < config_.propensity_draws; ++d) {
      model.sample_scores(context, candidates, scores, rng_);
      const auto draw = builder_.greedy(scores, candidates, k, exclude);
      for (std::size_t j = 0; j < positions_.size() && j < draw.size(); ++j) {
        ++matches_[j];
        if (draw[j].index != positions_[j]) break;
        ++counts_[j];
      }
    }
    for (std::size_t j = 0; j < positions_.size(); ++j) {
      out.propensities[j] = static_cast<float>((1.0 + static_cast<double>(counts_[j])) /
                                               (1.0 + static_cast<double>(matches_[j])));
    }
  }

 private:
  static constexpr const char* type = "thompson";

  ThompsonConfig config_;
  Rng rng_;
  detail::SlateBuilder builder_;
  std::vector<std::size_t> positions_;
  std::vector<std::size_t> counts_;
  std::vector<std::size_t> matches_;
};

}  // namespace marl_rec
