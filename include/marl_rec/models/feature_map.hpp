// marl_rec — how the linear models (LinUcb, LinThompson, LinearQ) turn a context vector x and an
// item vector a into the feature vector φ(x, a) their weights apply to.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "marl_rec/core/error.hpp"

namespace marl_rec {

/// The feature map φ(x, a) of a linear model, for context vector x (dx values) and item vector a
/// (da values). To give a cross model linear terms as well, append a constant 1 to x and to a.
enum class FeatureMap {
  /// φ = x. Only meaningful with one parameter vector per item (LinUcb's disjoint mode).
  context,
  /// φ = a: the item alone (a non-contextual linear bandit over item features).
  item,
  /// φ = [x, a]: additive effects of user and item, no interaction.
  concat,
  /// φ = x ⊗ a, i.e. φ[i·da + j] = x[i]·a[j]: every user-feature × item-feature interaction
  /// (Vowpal Wabbit's -q crosses). w·φ = xᵀ W a for the dx × da matrix W = w (row-major).
  cross,
};

/// The dimension of φ for the given input sizes.
constexpr std::size_t feature_dim(FeatureMap map, std::size_t dx, std::size_t da) noexcept {
  switch (map) {
    case FeatureMap::context: return dx;
    case FeatureMap::item: return da;
    case FeatureMap::concat: return dx + da;
    case FeatureMap::cross: return dx * da;
  }
  return 0;
}

/// A short name ("context", "item", "concat", "cross").
constexpr std::string_view to_string(FeatureMap map) noexcept {
  switch (map) {
    case FeatureMap::context: return "context";
    case FeatureMap::item: return "item";
    case FeatureMap::concat: return "concat";
    case FeatureMap::cross: return "cross";
  }
  return "?";
}

/// Writes φ(x, a) into `out` (exactly feature_dim(map, x.size(), a.size()) values). Throws
/// marl_rec::Error when `out` has another size.
inline void write_features(FeatureMap map, std::span<const float> x, std::span<const float> a,
                           std::span<float> out) {
  const std::size_t n = feature_dim(map, x.size(), a.size());
  marl_rec::detail::require(out.size() == n, [&] {
    return "write_features(" + std::string(to_string(map)) + "): out has " +
           std::to_string(out.size()) + " values, phi has " + std::to_string(n);
  });
  switch (map) {
    case FeatureMap::context:
      for (std::size_t i = 0; i < x.size(); ++i) out[i] = x[i];
      break;
    case FeatureMap::item:
      for (std::size_t j = 0; j < a.size(); ++j) out[j] = a[j];
      break;
    case FeatureMap::concat:
      for (std::size_t i = 0; i < x.size(); ++i) out[i] = x[i];
      for (std::size_t j = 0; j < a.size(); ++j) out[x.size() + j] = a[j];
      break;
    case FeatureMap::cross:
      for (std::size_t i = 0; i < x.size(); ++i) {
        for (std::size_t j = 0; j < a.size(); ++j) out[i * a.size() + j] = x[i] * a[j];
      }
      break;
  }
}

}  // namespace marl_rec
