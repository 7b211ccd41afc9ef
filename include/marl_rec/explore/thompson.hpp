// marl_rec — Thompson sampling: rank by one draw from the model's posterior.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/detail/slate_builder.hpp"

namespace marl_rec {

/// Settings of Thompson. `propensity_draws` extra posterior draws estimate each choice's
/// propensity (0 skips the estimate and reports propensity 1 — say so in any log you evaluate).
struct ThompsonConfig {
  std::size_t propensity_draws = 100;
  std::uint64_t seed = 1;
};

/// Draws the model's parameters once (`sample_scores`) and takes the k best candidates of that
/// draw. A Thompson choice's propensity has no closed form, so it is estimated by Monte Carlo:
/// with M = propensity_draws further draws, the propensity of position j is (1 + c_j) / (1 + M),
/// where c_j counts the draws whose best candidate outside positions 0..j-1 is the item placed at
/// j (the decision's own draw counts as one more such draw, so the estimate is never 0). The cost
/// is (1 + M) posterior draws per decision: lower M where latency matters.
class Thompson {
 public:
  explicit Thompson(ThompsonConfig config = {}) : config_(config), rng_(config.seed) {}

  std::string_view name() const noexcept { return "thompson"; }
  const ThompsonConfig& config() const noexcept { return config_; }

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
    counts_.assign(positions_.size(), 0);
    for (std::size_t d = 0; d < config_.propensity_draws; ++d) {
      model.sample_scores(context, candidates, scores, rng_);
      // The draw's best candidate outside positions 0..j-1 is the first of its top-k list not
      // among them (at most j of its k entries are).
      const auto draw = builder_.greedy(scores, candidates, k, exclude);
      for (std::size_t j = 0; j < positions_.size(); ++j) {
        for (const ScoredItem& s : draw) {
          const auto placed_before = positions_.begin() + static_cast<std::ptrdiff_t>(j);
          if (std::find(positions_.begin(), placed_before, s.index) != placed_before) continue;
          if (s.index == positions_[j]) ++counts_[j];
          break;
        }
      }
    }
    const double draws = static_cast<double>(config_.propensity_draws) + 1.0;
    for (std::size_t j = 0; j < positions_.size(); ++j) {
      out.propensities[j] = static_cast<float>((1.0 + static_cast<double>(counts_[j])) / draws);
    }
  }

 private:
  ThompsonConfig config_;
  Rng rng_;
  detail::SlateBuilder builder_;
  std::vector<std::size_t> positions_;
  std::vector<std::size_t> counts_;
};

}  // namespace marl_rec
