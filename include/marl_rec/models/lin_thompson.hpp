// marl_rec — linear Gaussian Thompson sampling (Agrawal & Goyal 2013): the ridge regression of
// LinUcb, explored by scoring with a draw from its posterior instead of an optimistic bound.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/detail/ridge_posterior.hpp"
#include "marl_rec/models/feature_map.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// LinThompson's configuration: `LinThompson{{.ridge = 1.0f, .v = 0.1f}}`.
struct LinThompsonConfig {
  /// disjoint: one (A, b) per item over φ; shared: one (A, b) for all items.
  using Mode = LinearMode;
  Mode mode = Mode::shared;
  /// φ(x, a). Disjoint mode typically uses FeatureMap::context.
  FeatureMap features = FeatureMap::cross;
  /// λ: A starts as λI. Finite, > 0.
  float ridge = 1.0f;
  /// Posterior scale: θ̃ ~ N(θ, v² A⁻¹). Around the reward noise's standard deviation is a good
  /// start. Finite, ≥ 0 (0: sample_scores = score).
  float v = 1.0f;
  /// Exact re-inversion of A every this many updates (per A), bounding the float drift of the
  /// Sherman–Morrison updates; 0 = never.
  std::size_t refactor_every = 1000;
};

/// Linear Thompson sampling. The same ridge regression as LinUcb (see there for the inputs,
/// dimensions, modes and costs): A = λI + Σ φφᵀ, b = Σ rφ, θ = A⁻¹b.
/// - score: θ·φ, the posterior mean;
/// - sample_scores: θ̃·φ for a draw θ̃ ~ N(θ, v² A⁻¹) taken with the caller's Rng. Shared mode
///   draws one θ̃ per call (d normals, then an O(d²) triangular solve with the Cholesky factor of
///   A, which update keeps current by an O(d²) rank-1 update). Disjoint mode draws independently
///   per candidate, so it samples each candidate's score θ̃·φ ~ N(θ·φ, v² φᵀA⁻¹φ) directly (one
///   normal per candidate, in candidate order): the same distribution, without a factor per item.
///
/// score / sample_scores are const, thread-safe and allocation-free after a first call of the
/// same shape (their scratch is thread_local and only grows); sample_scores draws only from the
/// Rng it is given, so a seeded Rng gives the same scores. Satisfies SamplingModel.
class LinThompson {
 public:
  /// A model whose dimensions the first update fixes. Throws Error on an invalid config.
  explicit LinThompson(LinThompsonConfig config = {})
      : config_(checked(config)), core_("LinThompson", settings(config)) {}

  /// A model sized for `context_dim` context and `item_dim` item features (give 0 for an input
  /// the feature map does not read). Throws Error on an invalid config or sizes.
  LinThompson(LinThompsonConfig config, std::size_t context_dim, std::size_t item_dim)
      : LinThompson(config) {
    core_.fix_dims(context_dim, item_dim);
  }

  /// "linthompson".
  std::string_view name() const noexcept { return "linthompson"; }

  /// scores[i] = θ·φ(x, a_{candidates[i]}). Throws Error on a size mismatch (scores vs
  /// candidates, context or item features vs the model's dims) or an item index outside the
  /// items matrix.
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    core_.score("LinThompson::score", context, candidates, scores);
  }

  /// scores[i] = θ̃·φ(x, a_{candidates[i]}) for a posterior draw θ̃ (see the class comment).
  /// Same checks as score.
  void sample_scores(const Context& context, Candidates candidates, std::span<float> scores,
                     Rng& rng) const {
    core_.sample_scores("LinThompson::sample_scores", context, candidates, scores, rng, config_.v);
  }

  /// Learns that `item` shown in `context` earned `reward`. Throws Error (leaving the model
  /// unchanged) on a non-finite reward or feature, wrong dimensions, or an item index outside
  /// the items matrix (for maps that read it).
  void update(const Context& context, std::size_t item, double reward) {
    core_.update("LinThompson::update", context, item, reward);
  }

  /// Writes the configuration and the learned state (format "linthompson", version 1).
  void save(std::ostream& out) const {
    io::ModelWriter writer(out, "linthompson", 1);
    writer.f64("v", static_cast<double>(config_.v));
    core_.write(writer);
    writer.finish();
  }

  /// Replaces the configuration and state with a saved LinThompson's. Throws Error on any other
  /// input (wrong type, truncated, corrupted, inconsistent), leaving the model unchanged.
  void load(std::istream& in) {
    io::ModelReader reader(in, "linthompson", 1);
    const double v = reader.f64("v");
    marl_rec::detail::require(
        std::isfinite(v) && v >= 0.0 && v <= static_cast<double>(std::numeric_limits<float>::max()),
        [&] {
          return "loading a 'linthompson' model: v must be finite and >= 0, got " +
                 std::to_string(v);
        });
    detail::LinearBanditCore core =
        detail::LinearBanditCore::read(reader, "LinThompson", "linthompson", true);
    reader.finish();
    const auto& s = core.settings();
    config_ = LinThompsonConfig{.mode = s.mode,
                                .features = s.features,
                                .ridge = static_cast<float>(s.ridge),
                                .v = static_cast<float>(v),
                                .refactor_every = s.refactor_every};
    core_ = std::move(core);
  }

  const LinThompsonConfig& config() const noexcept { return config_; }
  /// The input sizes (all 0 before the first update or the sizing ctor).
  LinearDims dims() const noexcept { return core_.dims(); }
  /// Updates learned (over all items).
  std::uint64_t updates() const noexcept { return core_.updates(); }
  /// How far each maintained float A⁻¹ is from the exact inverse of A, and whether every
  /// parameter is finite (see LinearDiagnostics). Read-only, for long runs and monitoring:
  /// O(d³) per posterior, and it allocates.
  LinearDiagnostics diagnostics() const { return core_.diagnostics(); }

  /// Shared mode: θ (empty before the model is sized). Throws Error in disjoint mode.
  std::span<const float> theta() const {
    marl_rec::detail::require(config_.mode == LinearMode::shared,
                              "LinThompson::theta: disjoint mode keeps one per item; pass the "
                              "item index");
    return theta(0);
  }
  /// The θ that scores `item` (shared mode: the one θ); empty when it has none yet (the prior,
  /// θ = 0).
  std::span<const float> theta(std::size_t item) const noexcept {
    const auto* p = core_.posterior(item);
    return p != nullptr ? p->theta() : std::span<const float>{};
  }

 private:
  static LinThompsonConfig checked(const LinThompsonConfig& config) {
    marl_rec::detail::require(
        std::isfinite(config.ridge) && config.ridge > 0.0f && std::isfinite(1.0f / config.ridge),
        [&] {
          return "LinThompson: ridge must be finite and > 0 (with a finite inverse), got " +
                 std::to_string(config.ridge);
        });
    marl_rec::detail::require(std::isfinite(config.v) && config.v >= 0.0f, [&] {
      return "LinThompson: v must be finite and >= 0, got " + std::to_string(config.v);
    });
    return config;
  }
  static detail::LinearBanditCore::Settings settings(const LinThompsonConfig& config) {
    return {.mode = config.mode,
            .features = config.features,
            .ridge = static_cast<double>(config.ridge),
            .refactor_every = config.refactor_every,
            .keep_factor = config.mode == LinearMode::shared};
  }

  LinThompsonConfig config_;
  detail::LinearBanditCore core_;
};

static_assert(SamplingModel<LinThompson>);

}  // namespace marl_rec
