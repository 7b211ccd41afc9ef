// marl_rec — ε-greedy exploration with an optional decay of ε over decisions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <ostream>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/detail/slate_builder.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/rng_state.hpp"

namespace marl_rec {

/// Settings of EpsilonGreedy. At decision t (0-based), ε_t = max(min_epsilon, epsilon / (1 +
/// decay · t)); decay = 0 keeps ε fixed.
struct EpsilonGreedyConfig {
  double epsilon = 0.1;
  double decay = 0.0;
  double min_epsilon = 0.0;
  std::uint64_t seed = 1;
};

/// Fills each position in turn: with probability ε a uniformly random eligible candidate not yet
/// placed, otherwise the best one not yet placed. The propensity of position j is exact:
/// ε / m + (1 − ε) · [the item is the best remaining], m = eligible candidates not yet placed.
///
/// save() writes the config, the Rng's state and the decision count that drives ε's decay
/// (stream type "epsilon_greedy", version 1; scratch buffers are not saved); load(in) replaces
/// all of it, so a loaded explorer draws and decays exactly as the saved one would.
class EpsilonGreedy {
 public:
  explicit EpsilonGreedy(EpsilonGreedyConfig config = {}) : config_(config), rng_(config.seed) {
    constexpr const char* where = "EpsilonGreedy";
    detail::check_parameter(where, "epsilon", config.epsilon, 0.0, 1.0);
    detail::check_parameter(where, "min_epsilon", config.min_epsilon, 0.0, 1.0);
    detail::check_parameter(where, "decay", config.decay, 0.0, 1e300);
  }

  std::string_view name() const noexcept { return "epsilon_greedy"; }
  const EpsilonGreedyConfig& config() const noexcept { return config_; }
  /// The ε the next decision will use.
  double epsilon() const noexcept {
    return std::max(config_.min_epsilon,
                    config_.epsilon / (1.0 + config_.decay * static_cast<double>(decisions_)));
  }

  /// Writes the config, the generator's state and the decision count.
  void save(std::ostream& out) const {
    io::ModelWriter w(out, type, 1);
    w.f64("epsilon", config_.epsilon);
    w.f64("decay", config_.decay);
    w.f64("min_epsilon", config_.min_epsilon);
    w.u64("seed", config_.seed);
    io::write_rng(w, "rng", rng_);
    w.u64("decisions", decisions_);
    w.finish();
  }

  /// Replaces the config and state with a saved EpsilonGreedy's. Throws Error, changing
  /// nothing, on another stream type, a damaged stream, or a value out of range.
  void load(std::istream& in) {
    io::ModelReader r(in, type, 1);
    EpsilonGreedyConfig c;
    // (comparisons written so that NaN fails them)
    c.epsilon = r.f64("epsilon");
    detail::check_loaded(type, "epsilon", c.epsilon >= 0.0 && c.epsilon <= 1.0, "in [0, 1]", c.epsilon);
    c.decay = r.f64("decay");
    detail::check_loaded(type, "decay", c.decay >= 0.0 && c.decay <= 1e300, "in [0, 1e300]", c.decay);
    c.min_epsilon = r.f64("min_epsilon");
    detail::check_loaded(type, "min_epsilon", c.min_epsilon >= 0.0 && c.min_epsilon <= 1.0, "in [0, 1]",
                         c.min_epsilon);
    c.seed = r.u64("seed");
    const Rng rng = io::read_rng(r, type, "rng");
    const std::uint64_t decisions = r.u64("decisions");
    r.finish();
    config_ = c;
    rng_ = rng;
    decisions_ = decisions;
  }

  template <Model M, ItemExclusion Exclude>
  void choose(const M& model, const Context& context, Candidates candidates, std::size_t k,
              const Exclude& exclude, Decision& out) {
    const double eps = epsilon();
    const auto scores = builder_.scores_for(candidates);
    model.score(context, candidates, scores);
    ++decisions_;  // after scoring: a call the model rejects does not advance the decay
    detail::SlateBuilder::start(out);
    // Greedy picks come from the top-k list; exploration may take some of its items first, so
    // the best remaining item is the first of the list not yet placed (the list never runs out:
    // each placement uses up at most one of its k entries).
    const auto best = builder_.greedy(scores, candidates, k, exclude);
    if (best.empty()) return;
    std::vector<std::size_t>& open = builder_.eligible(scores, candidates, exclude);
    std::size_t next_best = 0;
    placed_.assign(candidates.size(), false);
    while (out.size() < k && !open.empty()) {
      while (placed_[best[next_best].index]) ++next_best;
      const std::size_t greedy_pick = best[next_best].index;
      const std::size_t m = open.size();
      std::size_t slot;  // index into `open` of the chosen position
      if (rng_.uniform() < eps) {
        slot = static_cast<std::size_t>(rng_.below(m));
      } else {
        slot = static_cast<std::size_t>(std::find(open.begin(), open.end(), greedy_pick) - open.begin());
      }
      const std::size_t chosen = open[slot];
      const double propensity =
          eps / static_cast<double>(m) + (chosen == greedy_pick ? 1.0 - eps : 0.0);
      detail::SlateBuilder::add(out, candidates[chosen], scores[chosen], propensity);
      placed_[chosen] = true;
      open[slot] = open.back();  // order of `open` only matters for the seeded draw, which is fixed
      open.pop_back();
    }
  }

 private:
  static constexpr const char* type = "epsilon_greedy";

  EpsilonGreedyConfig config_;
  Rng rng_;
  std::uint64_t decisions_ = 0;
  detail::SlateBuilder builder_;
  std::vector<bool> placed_;
};

}  // namespace marl_rec
