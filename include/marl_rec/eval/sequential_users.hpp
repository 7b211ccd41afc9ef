// marl_rec — a generator of users who consume items in sequences whose order matters: items form
// ordered chains (series) within categories; a user continues the current chain or jumps to a
// new item drawn from their long-term taste. The dynamics are known (docs/simulator.md,
// "Sequential users"), so next-item models can be measured where both the recent items and the
// long-term taste count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"

namespace marl_rec::eval {

/// The settings of SequentialUsers. Same config (seed included), same data. The defaults give
/// about 90,000 interactions (3,000 users, 2,000 items).
struct SequentialUsersConfig {
  /// Users (≥ 1).
  std::size_t users{3000};
  /// Items (≥ categories · chain_length): item i belongs to category i / (items / categories)
  /// (the last category takes the remainder), and the items of a category are cut, in index
  /// order, into chains of chain_length (the last one may be shorter).
  std::size_t items{2000};
  /// Categories (≥ 1).
  std::size_t categories{20};
  /// Items per chain (≥ 1).
  std::size_t chain_length{10};
  /// Each user's sequence length is drawn uniformly from [min_length, max_length]
  /// (1 ≤ min_length ≤ max_length ≤ items).
  std::size_t min_length{10};
  std::size_t max_length{50};
  /// After an item with an unconsumed successor in its chain, the probability that the next
  /// item is that successor (in [0, 1]).
  double continue_probability{0.6};
  /// On a jump, the probability that the category is the user's favourite (else a uniform
  /// category, which may also be the favourite), in [0, 1].
  double taste{0.7};
  /// Probability that any step is noise instead: a uniform unconsumed item (in [0, 1]).
  double noise{0.05};
  /// On a jump, chain k (0-based) of the category is drawn with probability ∝ (k + 1)^−s:
  /// popularity skew within a category (s ≥ 0, finite; 0 = uniform).
  double chain_popularity_exponent{1.0};
  /// On a jump, the probability of starting at the chain's first item (else a uniform position
  /// of the chain), in [0, 1].
  double start_at_first{0.5};
  std::uint64_t seed{42};
};

/// Users who read chains of items (episodes of a series, levels of a game, parts of a course).
///
/// The world: items in `categories` categories, each category's items cut into ordered chains
/// of `chain_length`. Each user u has a favourite category f_u (uniform). The user's sequence of
/// L_u ~ U[min_length, max_length] distinct items is drawn step by step:
///
/// 1. with probability `noise`: a uniform item the user has not consumed;
/// 2. else, if the previous item has a successor in its chain that the user has not consumed,
///    with probability `continue_probability`: that successor (the short-term transition);
/// 3. else a jump (the long-term taste): category f_u with probability `taste`, otherwise a
///    uniform category; in it a chain k with probability ∝ (k + 1)^−s
///    (`chain_popularity_exponent`); in the chain its first item with probability
///    `start_at_first`, otherwise a uniform position. A consumed item is redrawn in the same
///    category (chain and position, up to 100 times; then the category's first unconsumed item,
///    or a uniform unconsumed item when the user has consumed the whole category).
///
/// Users never consume an item twice, so a leave-last-out test item is never among the user's
/// training items. Timestamps: user u starts at a uniform second of a 30-day window and consumes
/// one item per minute; rows are written user by user in time order (source_row = row index).
class SequentialUsers {
 public:
  using Config = SequentialUsersConfig;

  /// Builds the world and every user's sequence. Throws Error on a config outside the ranges
  /// documented in Config.
  explicit SequentialUsers(Config config) : config_(config) {
    check(config_);
    const std::size_t per = config_.items / config_.categories;
    category_.resize(config_.items);
    chain_.resize(config_.items);
    position_.resize(config_.items);
    chains_of_category_.resize(config_.categories);
    for (std::size_t i = 0; i < config_.items; ++i) {
      const std::size_t c = std::min(i / per, config_.categories - 1);
      const std::size_t first_of_category = c * per;
      category_[i] = c;
      position_[i] = (i - first_of_category) % config_.chain_length;
      if (position_[i] == 0) {
        chains_of_category_[c].push_back(chain_starts_.size());
        chain_starts_.push_back(i);
      }
      chain_[i] = chain_starts_.size() - 1;
    }
    chain_starts_.push_back(config_.items);  // sentinel: chain j is [starts[j], starts[j + 1])
    generate();
  }

  /// The configuration.
  const Config& config() const noexcept { return config_; }
  /// The generated interactions: users "u<index>", items "i<index>" (ids interned in index
  /// order, so index = the number in the id), rating 1, timestamps, in time order per user.
  const Interactions& interactions() const noexcept { return data_; }
  /// Item `item`'s category.
  std::size_t category(std::size_t item) const { return category_.at(item); }
  /// Item `item`'s chain (a global index) and its position in the chain (0 = first).
  std::size_t chain(std::size_t item) const { return chain_.at(item); }
  std::size_t position(std::size_t item) const { return position_.at(item); }
  /// The item after `item` in its chain, or `item` itself when it is the chain's last.
  std::size_t successor(std::size_t item) const {
    const std::size_t next = item + 1;
    return next < chain_starts_[chain_.at(item) + 1] ? next : item;
  }
  /// User `user`'s favourite category.
  std::size_t favourite(std::size_t user) const { return favourite_.at(user); }
  /// How each step of the sequences was drawn (user by user, in row order).
  enum class Step : unsigned char { first, noise, continuation, jump };
  const std::vector<Step>& steps() const noexcept { return steps_; }

 private:
  static void check(const Config& c) {
    const auto require = [](bool ok, const char* what) {
      marl_rec::detail::require(ok, [&] { return std::string("SequentialUsers: config.") + what; });
    };
    const auto probability = [](double p) { return p >= 0.0 && p <= 1.0; };
    require(c.users >= 1, "users must be at least 1");
    require(c.categories >= 1, "categories must be at least 1");
    require(c.chain_length >= 1, "chain_length must be at least 1");
    require(c.items >= 1 && c.items / c.categories >= c.chain_length,
            "items must be at least categories * chain_length");
    require(c.min_length >= 1 && c.min_length <= c.max_length && c.max_length <= c.items,
            "lengths must satisfy 1 <= min_length <= max_length <= items");
    require(probability(c.continue_probability), "continue_probability must be in [0, 1]");
    require(probability(c.taste), "taste must be in [0, 1]");
    require(probability(c.noise), "noise must be in [0, 1]");
    require(probability(c.start_at_first), "start_at_first must be in [0, 1]");
    require(std::isfinite(c.chain_popularity_exponent) && c.chain_popularity_exponent >= 0.0,
            "chain_popularity_exponent must be finite and >= 0");
  }

  std::size_t uniform_unconsumed(Rng& rng, const std::vector<unsigned char>& used, std::size_t count) const {
    // The k-th unconsumed item, k uniform (count = items already consumed < items).
    std::size_t k = static_cast<std::size_t>(rng.below(config_.items - count));
    for (std::size_t i = 0; i < config_.items; ++i) {
      if (used[i] != 0) continue;
      if (k-- == 0) return i;
    }
    return config_.items;  // unreachable: count < items
  }

  std::size_t jump(Rng& rng, std::size_t user, const std::vector<unsigned char>& used, std::size_t count) const {
    const std::size_t c = rng.bernoulli(config_.taste)
                              ? favourite_[user]
                              : static_cast<std::size_t>(rng.below(config_.categories));
    const std::vector<std::size_t>& chains = chains_of_category_[c];
    const std::vector<double>& cdf = chain_cdf_[chains.size()];
    for (int attempt = 0; attempt < 100; ++attempt) {
      const double x = rng.uniform() * cdf.back();
      std::size_t k = 0;
      while (k + 1 < cdf.size() && cdf[k] <= x) ++k;
      const std::size_t chain = chains[k];
      const std::size_t first = chain_starts_[chain];
      const std::size_t length = chain_starts_[chain + 1] - first;
      const std::size_t item = rng.bernoulli(config_.start_at_first)
                                   ? first
                                   : first + static_cast<std::size_t>(rng.below(length));
      if (used[item] == 0) return item;
    }
    // Rarely reached: the first unconsumed item of the category, else any unconsumed item.
    for (std::size_t i = chain_starts_[chains.front()]; i < chain_starts_[chains.back() + 1]; ++i) {
      if (used[i] == 0) return i;
    }
    return uniform_unconsumed(rng, used, count);
  }

  void generate() {
    Rng rng(config_.seed);
    // Cumulative chain weights for every chain count a category can have.
    std::size_t most = 0;
    for (const auto& chains : chains_of_category_) most = std::max(most, chains.size());
    chain_cdf_.assign(most + 1, {});
    for (std::size_t n = 1; n <= most; ++n) {
      double total = 0.0;
      for (std::size_t k = 0; k < n; ++k) {
        total += std::pow(static_cast<double>(k + 1), -config_.chain_popularity_exponent);
        chain_cdf_[n].push_back(total);
      }
    }
    for (std::size_t i = 0; i < config_.items; ++i) data_.items.intern(numbered_id("i", i));
    favourite_.resize(config_.users);
    std::vector<unsigned char> used(config_.items, 0);
    std::vector<std::size_t> sequence;
    for (std::size_t u = 0; u < config_.users; ++u) {
      const std::size_t user = data_.users.intern(numbered_id("u", u));
      favourite_[u] = static_cast<std::size_t>(rng.below(config_.categories));
      const std::size_t length =
          config_.min_length + static_cast<std::size_t>(rng.below(config_.max_length - config_.min_length + 1));
      const double start = std::floor(rng.uniform(0.0, 30.0 * 86400.0));
      sequence.clear();
      for (std::size_t t = 0; t < length; ++t) {
        std::size_t item = 0;
        Step step = Step::jump;
        if (t > 0 && rng.bernoulli(config_.noise)) {
          step = Step::noise;
          item = uniform_unconsumed(rng, used, t);
        } else if (t == 0) {
          step = Step::first;
          item = jump(rng, u, used, t);
        } else {
          const std::size_t previous = sequence.back();
          const std::size_t next = successor(previous);
          if (next != previous && used[next] == 0 && rng.bernoulli(config_.continue_probability)) {
            step = Step::continuation;
            item = next;
          } else {
            item = jump(rng, u, used, t);
          }
        }
        used[item] = 1;
        sequence.push_back(item);
        steps_.push_back(step);
        data_.rows.push_back({.user = user, .item = item, .rating = 1.0f,
                              .timestamp = start + 60.0 * static_cast<double>(t),
                              .source_row = data_.rows.size()});
      }
      for (const std::size_t item : sequence) used[item] = 0;
    }
    data_.has_timestamp = true;
  }

  Config config_;
  std::vector<std::size_t> category_, chain_, position_, favourite_;
  std::vector<std::size_t> chain_starts_;
  std::vector<std::vector<std::size_t>> chains_of_category_;
  std::vector<std::vector<double>> chain_cdf_;
  std::vector<Step> steps_;
  Interactions data_;
};

}  // namespace marl_rec::eval
