// marl_rec — the random baseline: a seeded random ranking per user.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"

namespace marl_rec {

/// Scores every item uniformly at random. A user's scores depend only on (seed, user), not on
/// which users were scored before. Satisfies BatchRecommender.
class RandomRecommender {
 public:
  struct Config {
    std::uint64_t seed{42};
  };

  RandomRecommender() = default;
  explicit RandomRecommender(Config config) : config_(config) {}

  std::string_view name() const noexcept { return "random"; }

  /// Remembers how many items there are.
  void fit(const Interactions& train) { n_items_ = train.items.size(); }

  /// Writes uniform [0, 1) scores drawn from a generator seeded by (seed, user).
  void score_user(std::size_t user, std::span<float> scores) const {
    detail::require(scores.size() == n_items_, [&] {
      return std::string("RandomRecommender::score_user: scores has ") + std::to_string(scores.size()) +
             " entries, the model knows " + std::to_string(n_items_) + " items";
    });
    Rng rng(config_.seed ^ (0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(user) + 1)));
    for (float& s : scores) s = static_cast<float>(rng.uniform());
  }

 private:
  Config config_{};
  std::size_t n_items_ = 0;
};

}  // namespace marl_rec
