// marl_rec — the most-popular baseline: every user gets the items with the most interactions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <istream>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/io/model_stream.hpp"

namespace marl_rec {

/// Scores each item by how many training interactions it has (ties: lower index first, by the
/// ranking order). The same list for every user, known or not. Satisfies BatchRecommender.
///
/// Persistence: save() writes the counts (type "most_popular", version 1); load() replaces them.
class MostPopular {
 public:
  std::string_view name() const noexcept { return "mostpop"; }

  /// Counts the interactions of each item of `train`.
  void fit(const Interactions& train) {
    counts_.assign(train.items.size(), 0.0f);
    for (const Interaction& row : train.rows) {
      detail::require(row.item < counts_.size(),
                      "MostPopular::fit: an interaction's item index is outside the item map");
      counts_[row.item] += 1.0f;
    }
  }

  /// Writes the item counts (the same for every user).
  void score_user(std::size_t /*user*/, std::span<float> scores) const {
    detail::require(scores.size() == counts_.size(), [&] {
      return std::string("MostPopular::score_user: scores has ") + std::to_string(scores.size()) +
             " entries, the model knows " + std::to_string(counts_.size()) + " items";
    });
    std::copy(counts_.begin(), counts_.end(), scores.begin());
  }

  /// Interactions per item, as fitted.
  std::span<const float> counts() const noexcept { return counts_; }

  /// Writes the item counts.
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "most_popular", 1);
    w.floats("counts", counts_);
    w.finish();
  }

  /// Replaces the counts with saved ones. Throws Error (model unchanged) on a truncated,
  /// corrupted or foreign stream, or a count that is not a whole number >= 0.
  void load(std::istream& in) {
    io::ModelReader r(in, "most_popular", 1);
    std::vector<float> counts = r.floats("counts", r.array_size("counts"));
    r.finish();
    for (std::size_t i = 0; i < counts.size(); ++i) {
      detail::require(std::isfinite(counts[i]) && counts[i] >= 0.0f && counts[i] == std::floor(counts[i]), [&] {
        return "loading a 'most_popular' model: the count of item " + std::to_string(i) + " is " +
               std::to_string(counts[i]) + ", not a whole number >= 0";
      });
    }
    counts_ = std::move(counts);
  }

 private:
  std::vector<float> counts_;
};

}  // namespace marl_rec
