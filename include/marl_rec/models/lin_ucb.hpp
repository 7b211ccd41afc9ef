// marl_rec — LinUCB (Li, Chu, Langford, Schapire 2010): a ridge regression of the reward on the
// feature vector φ(x, a), scored optimistically by its confidence bound.
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
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/detail/ridge_posterior.hpp"
#include "marl_rec/models/feature_map.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// LinUcb's configuration: `LinUcb{{.alpha = 0.5f, .ridge = 1.0f}}`.
struct LinUcbConfig {
  /// disjoint: one (A, b) per item over φ; shared: one (A, b) for all items.
  using Mode = LinearMode;
  Mode mode = Mode::shared;
  /// φ(x, a). Disjoint mode typically uses FeatureMap::context.
  FeatureMap features = FeatureMap::cross;
  /// Width of the confidence bound: upper_bound = θ·φ + α sqrt(φᵀA⁻¹φ). Finite, ≥ 0.
  float alpha = 1.0f;
  /// λ: A starts as λI (the prior θ ~ N(0, I/λ) up to the noise scale). Finite, > 0.
  float ridge = 1.0f;
  /// Exact re-inversion of A every this many updates (per A), bounding the float drift of the
  /// Sherman–Morrison updates; 0 = never.
  std::size_t refactor_every = 1000;
};

/// Linear UCB. For context x = Context::features and item vector a = row `item` of
/// Context::items (the items matrix may be empty for FeatureMap::context), the model keeps
/// A = λI + Σ φφᵀ and b = Σ rφ over the updates it learned from (one pair for all items, or one
/// per item in disjoint mode), θ = A⁻¹b, and scores
/// - score: θ·φ (the ridge estimate),
/// - upper_bound: θ·φ + α sqrt(φᵀA⁻¹φ).
///
/// Dimensions are fixed by the first update (or the sizing constructor) and checked on every
/// later call. Before that, score/upper_bound accept any shape and answer with the prior
/// (θ = 0, A⁻¹ = I/λ): a const call cannot fix the model's shape without a lock. In disjoint
/// mode an item never updated scores with the prior too, without allocating; its (A, b) is
/// created by its first update. Disjoint item indices must be below 2^24.
///
/// Cost: an update is O(d²) (d = dim φ) plus an O(d³) re-inversion every `refactor_every`
/// updates. Shared mode scores a whole call in O(d²) + O(n·da²) for the bound (n candidates, da
/// item features) and O(d) + O(n·da) for the mean; disjoint mode in O(n·d²). See
/// detail::RidgePosterior for the precision choices.
///
/// score / upper_bound / upper_bound_top_k are const, thread-safe and allocation-free after a
/// first call of the same shape (their scratch is thread_local and only grows). Satisfies
/// UncertainModel and TopKUncertainModel.
class LinUcb {
 public:
  /// A model whose dimensions the first update fixes. Throws Error on an invalid config.
  explicit LinUcb(LinUcbConfig config = {})
      : config_(checked(config)), core_("LinUcb", settings(config)) {}

  /// A model sized for `context_dim` context and `item_dim` item features (give 0 for an input
  /// the feature map does not read). Throws Error on an invalid config or sizes.
  LinUcb(LinUcbConfig config, std::size_t context_dim, std::size_t item_dim) : LinUcb(config) {
    core_.fix_dims(context_dim, item_dim);
  }

  /// "linucb".
  std::string_view name() const noexcept { return "linucb"; }

  /// scores[i] = θ·φ(x, a_{candidates[i]}). Throws Error on a size mismatch (scores vs
  /// candidates, context or item features vs the model's dims) or an item index outside the
  /// items matrix. Non-finite features give NaN or infinite scores, not an Error.
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    core_.score("LinUcb::score", context, candidates, scores);
  }

  /// scores[i] = θ·φ + α sqrt(φᵀA⁻¹φ) for φ = φ(x, a_{candidates[i]}). Same checks as score.
  void upper_bound(const Context& context, Candidates candidates, std::span<float> scores) const {
    core_.upper_bound("LinUcb::upper_bound", context, candidates, scores, config_.alpha);
  }

  /// The min(k, eligible) candidates of highest upper_bound, best first, as positions into
  /// `candidates` with their bounds, in out[0, count); returns the count. Exactly (bit for bit)
  /// what simd::top_k over upper_bound's scores gives (see TopKUncertainModel); in shared mode
  /// only the candidates whose bound can still reach the top k get their O(da²) bonus computed,
  /// after an O(d³) certificate of λmax of the bonus matrix per call (see
  /// detail::LinearBanditCore::upper_bound_top_k). `out` needs min(k, candidates.size())
  /// entries. Same checks as upper_bound, plus `out`'s size.
  template <ItemExclusion Exclude = NoExclusion>
  std::size_t upper_bound_top_k(const Context& context, Candidates candidates, std::size_t k,
                                const Exclude& exclude, std::span<ScoredItem> out) const {
    return core_.upper_bound_top_k("LinUcb::upper_bound_top_k", context, candidates, k, exclude,
                                   out, config_.alpha);
  }

  /// Learns that `item` shown in `context` earned `reward`: A += φφᵀ, b += rφ. Throws Error
  /// (leaving the model unchanged) on a non-finite reward or feature, wrong dimensions, or an
  /// item index outside the items matrix (for maps that read it).
  void update(const Context& context, std::size_t item, double reward) {
    core_.update("LinUcb::update", context, item, reward);
  }

  /// Writes the configuration and the learned state (format "linucb", version 1).
  void save(std::ostream& out) const {
    io::ModelWriter writer(out, "linucb", 1);
    writer.f64("alpha", static_cast<double>(config_.alpha));
    core_.write(writer);
    writer.finish();
  }

  /// Replaces the configuration and state with a saved LinUcb's. Throws Error on any other
  /// input (wrong type, truncated, corrupted, inconsistent), leaving the model unchanged.
  void load(std::istream& in) {
    io::ModelReader reader(in, "linucb", 1);
    const double alpha = reader.f64("alpha");
    marl_rec::detail::require(std::isfinite(alpha) && alpha >= 0.0 &&
                                  alpha <= static_cast<double>(std::numeric_limits<float>::max()),
                              [&] {
                                return "loading a 'linucb' model: alpha must be finite and "
                                       ">= 0, got " +
                                       std::to_string(alpha);
                              });
    detail::LinearBanditCore core =
        detail::LinearBanditCore::read(reader, "LinUcb", "linucb", false);
    reader.finish();
    const auto& s = core.settings();
    config_ = LinUcbConfig{.mode = s.mode,
                           .features = s.features,
                           .alpha = static_cast<float>(alpha),
                           .ridge = static_cast<float>(s.ridge),
                           .refactor_every = s.refactor_every};
    core_ = std::move(core);
  }

  const LinUcbConfig& config() const noexcept { return config_; }
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
    require_shared("LinUcb::theta");
    return theta(0);
  }
  /// The θ that scores `item` (shared mode: the one θ); empty when it has none yet (the prior,
  /// θ = 0).
  std::span<const float> theta(std::size_t item) const noexcept {
    const auto* p = core_.posterior(item);
    return p != nullptr ? p->theta() : std::span<const float>{};
  }
  /// Shared mode: A⁻¹ (d × d; empty before the model is sized). Throws Error in disjoint mode.
  MatrixView inverse() const {
    require_shared("LinUcb::inverse");
    return inverse(0);
  }
  /// The A⁻¹ that scores `item` (shared mode: the one A⁻¹); empty when it has none yet (the
  /// prior, I/λ).
  MatrixView inverse(std::size_t item) const {
    const auto* p = core_.posterior(item);
    return p != nullptr ? p->inverse() : MatrixView{};
  }

 private:
  static LinUcbConfig checked(const LinUcbConfig& config) {
    marl_rec::detail::require(std::isfinite(config.alpha) && config.alpha >= 0.0f, [&] {
      return "LinUcb: alpha must be finite and >= 0, got " + std::to_string(config.alpha);
    });
    marl_rec::detail::require(
        std::isfinite(config.ridge) && config.ridge > 0.0f && std::isfinite(1.0f / config.ridge),
        [&] {
          return "LinUcb: ridge must be finite and > 0 (with a finite inverse), got " +
                 std::to_string(config.ridge);
        });
    return config;
  }
  static detail::LinearBanditCore::Settings settings(const LinUcbConfig& config) {
    return {.mode = config.mode,
            .features = config.features,
            .ridge = static_cast<double>(config.ridge),
            .refactor_every = config.refactor_every,
            .keep_factor = false};
  }
  void require_shared(const char* fn) const {
    marl_rec::detail::require(config_.mode == LinearMode::shared, [&] {
      return std::string(fn) + ": disjoint mode keeps one per item; pass the item index";
    });
  }

  LinUcbConfig config_;
  detail::LinearBanditCore core_;
};

static_assert(UncertainModel<LinUcb>);
static_assert(TopKUncertainModel<LinUcb> && TopKUncertainModel<LinUcb, ExcludeBitset>);

}  // namespace marl_rec
