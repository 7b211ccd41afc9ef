// marl_rec — the random baseline: a seeded random ranking per user.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"

namespace marl_rec {

/// Scores every item uniformly at random. A user's scores depend only on (seed, user), not on
/// which users were scored before. Satisfies BatchRecommender.
///
/// Persistence: its generator is made afresh from (seed, user) for every call, so the seed and
/// the item count are its whole state: save() writes them (type "random_recommender", version
/// 1), load() replaces them.
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

  const Config& config() const noexcept { return config_; }

  /// Writes the seed and the item count.
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "random_recommender", 1);
    w.u64("seed", config_.seed);
    w.u64("items", n_items_);
    w.finish();
  }

  /// Replaces the seed and the item count with saved ones. Throws Error (model unchanged) on a
  /// truncated, corrupted or foreign stream.
  void load(std::istream& in) {
    io::ModelReader r(in, "random_recommender", 1);
    const std::uint64_t seed = r.u64("seed");
    const auto items = static_cast<std::size_t>(r.u64("items", 0, std::numeric_limits<std::size_t>::max()));
    r.finish();
    config_.seed = seed;
    n_items_ = items;
  }

  /// Writes uniform [0, 1) scores drawn from a generator seeded by (seed, user).
  void score_user(std::size_t user, std::span<float> scores) const {
    detail::require(scores.size() == n_items_, [&] {
      return std::string("RandomRecommender::score_user: scores has ") + std::to_string(scores.size()) +
             " entries, the model knows " + std::to_string(n_items_) + " items";
    });
    Rng rng(config_.seed ^ (0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(user) + 1)));
    // The 53-bit draw of Rng::uniform, rounded to float as an integer first (the same value as
    // static_cast<float>(rng.uniform()), which GCC 12 at -O3 vectorizes into a loop that skips
    // the rounding for some elements: the scores then differed between -O2 and -O3 builds).
    for (float& s : scores) s = static_cast<float>(static_cast<std::int64_t>(rng.next_u64() >> 11)) * 0x1.0p-53f;
  }

 private:
  Config config_{};
  std::size_t n_items_ = 0;
};

}  // namespace marl_rec
