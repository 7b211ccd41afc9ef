// marl_rec — Boltzmann (softmax) exploration: better-scored items are proportionally likelier.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/detail/slate_builder.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/rng_state.hpp"

namespace marl_rec {

/// Settings of Softmax: the temperature τ > 0 (small: nearly greedy; large: nearly uniform).
struct SoftmaxConfig {
  double temperature = 1.0;
  std::uint64_t seed = 1;
};

/// Fills each position in turn by drawing one of the eligible candidates not yet placed with
/// probability exp(s_i / τ) / Σ_remaining exp(s_j / τ) (a Plackett–Luce draw without
/// replacement); the propensity of position j is exactly that probability. Scores of +∞ share all
/// the mass among themselves; when every remaining score is −∞ the draw is uniform.
///
/// save() writes the config and the Rng's state (stream type "softmax", version 1; scratch
/// buffers are not saved); load(in) replaces both, so a loaded explorer draws exactly as the
/// saved one would.
class Softmax {
 public:
  explicit Softmax(SoftmaxConfig config = {}) : config_(config), rng_(config.seed) {
    detail::check_parameter("Softmax", "temperature", config.temperature,
                            std::numeric_limits<double>::min(), std::numeric_limits<double>::max());
  }

  std::string_view name() const noexcept { return "softmax"; }
  const SoftmaxConfig& config() const noexcept { return config_; }

  /// Writes the config and the generator's state.
  void save(std::ostream& out) const {
    io::ModelWriter w(out, type, 1);
    w.f64("temperature", config_.temperature);
    w.u64("seed", config_.seed);
    io::write_rng(w, "rng", rng_);
    w.finish();
  }

  /// Replaces the config and state with a saved Softmax's. Throws Error, changing nothing, on
  /// another stream type, a damaged stream, or a temperature that is not finite and positive.
  void load(std::istream& in) {
    io::ModelReader r(in, type, 1);
    SoftmaxConfig c;
    c.temperature = r.f64("temperature");
    detail::check_loaded(type, "temperature",
                         c.temperature >= std::numeric_limits<double>::min() &&
                             c.temperature <= std::numeric_limits<double>::max(),
                         "finite and positive", c.temperature);
    c.seed = r.u64("seed");
    const Rng rng = io::read_rng(r, type, "rng");
    r.finish();
    config_ = c;
    rng_ = rng;
  }

  template <Model M, ItemExclusion Exclude>
  void choose(const M& model, const Context& context, Candidates candidates, std::size_t k,
              const Exclude& exclude, Decision& out) {
    const auto scores = builder_.scores_for(candidates);
    model.score(context, candidates, scores);
    detail::SlateBuilder::start(out);
    std::vector<std::size_t>& open = builder_.eligible(scores, candidates, exclude);
    while (out.size() < k && !open.empty()) {
      // Weights relative to the best remaining score, so exp never overflows and the best
      // remaining item always has weight 1 (the sum cannot underflow to 0).
      double top = -std::numeric_limits<double>::infinity();
      for (const std::size_t p : open) top = std::max(top, static_cast<double>(scores[p]));
      weights_.resize(open.size());
      double total = 0.0;
      for (std::size_t i = 0; i < open.size(); ++i) {
        const double s = scores[open[i]];
        const double w = std::isinf(top) ? (s == top ? 1.0 : 0.0)
                                         : std::exp((s - top) / config_.temperature);
        weights_[i] = w;
        total += w;
      }
      double u = rng_.uniform() * total;
      std::size_t slot = open.size() - 1;
      for (std::size_t i = 0; i < open.size(); ++i) {
        if (u < weights_[i]) {
          slot = i;
          break;
        }
        u -= weights_[i];
      }
      while (weights_[slot] == 0.0) --slot;  // rounding at the end of the scan: a weighted item
      const std::size_t chosen = open[slot];
      detail::SlateBuilder::add(out, candidates[chosen], scores[chosen], weights_[slot] / total);
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(slot));
    }
  }

 private:
  static constexpr const char* type = "softmax";

  SoftmaxConfig config_;
  Rng rng_;
  detail::SlateBuilder builder_;
  std::vector<double> weights_;
};

}  // namespace marl_rec
