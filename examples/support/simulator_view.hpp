// What an agent sees of a simulated world (eval::Simulator): each user's observable features and
// each item's vector, both with a constant 1 appended, so that cross features (FeatureMap::cross)
// also hold the user's own and the item's own terms, not only their products.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "marl_rec/core/context.hpp"
#include "marl_rec/eval/simulator.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec::examples {

/// The agents' view of `sim`, which must outlive it. context() reuses one buffer: the Context it
/// returns is valid until the next call.
class SimulatorView {
 public:
  explicit SimulatorView(const eval::Simulator& sim) : sim_(&sim) {
    const MatrixView vectors = sim.catalog().embeddings();
    dim_ = vectors.cols() + 1;
    items_.resize(vectors.rows() * dim_);
    for (std::size_t i = 0; i < vectors.rows(); ++i) {
      const auto row = vectors.row(i);
      std::copy(row.begin(), row.end(), items_.begin() + static_cast<std::ptrdiff_t>(i * dim_));
      items_[i * dim_ + dim_ - 1] = 1.0f;
    }
    features_.resize(vectors.cols() + 1);
  }

  /// The context of `user`: observable features + 1, over the item vectors + 1.
  Context context(std::size_t user) {
    const auto x = sim_->features(user);
    std::copy(x.begin(), x.end(), features_.begin());
    features_.back() = 1.0f;
    return Context{.features = features_, .items = items(), .user = user};
  }
  /// The item vectors, each followed by 1.
  MatrixView items() const { return MatrixView(std::span<const float>(items_), sim_->items(), dim_); }

 private:
  const eval::Simulator* sim_;
  std::size_t dim_ = 0;
  std::vector<float> items_{};
  std::vector<float> features_{};
};

}  // namespace marl_rec::examples
