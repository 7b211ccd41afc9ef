// marl_rec — a recommendation as served (Decision) and what the user did with it (Feedback).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace marl_rec {

/// One recommendation: the items shown, best first, with the score and the propensity of each.
///
/// `propensities[j]` is the probability the explorer had of putting `items[j]` at position j,
/// given the items it placed at positions 0..j-1 (for k = 1, simply the probability of the
/// choice). A greedy choice has propensity 1. This is what off-policy evaluation needs
/// (eval::ips and friends take it as LoggedDecision::propensity).
struct Decision {
  /// Identifies the decision for Agent::learn; unique per agent, increasing.
  std::uint64_t id = 0;
  std::vector<std::size_t> items{};
  /// The model's score of each item (the value the explorer ranked by: e.g. the UCB for LinUcb).
  std::vector<float> scores{};
  std::vector<float> propensities{};

  std::size_t size() const noexcept { return items.size(); }
};

/// What the user did with a decision's items, by position (0-based index into Decision::items).
/// Every shown position is learned from: a position with no event gets the reward of no action
/// (RewardWeights::none), so impressions without clicks teach too.
struct Feedback {
  /// Positions clicked.
  std::vector<std::size_t> clicked{};
  /// Positions bought.
  std::vector<std::size_t> purchased{};
  /// Explicit rewards by position (e.g. a rating, or revenue), added to the event rewards.
  std::vector<std::pair<std::size_t, double>> rewards{};
};

/// How events become a reward: reward(position) = none, or click (when clicked) + purchase (when
/// bought), plus any explicit reward for that position.
struct RewardWeights {
  double none = 0.0;
  double click = 1.0;
  double purchase = 1.0;
};

/// The reward `feedback` gives position `position` under `weights` (see RewardWeights).
inline double reward_for(const RewardWeights& weights, const Feedback& feedback, std::size_t position) {
  const auto has = [&](const std::vector<std::size_t>& v) {
    for (const std::size_t p : v) {
      if (p == position) return true;
    }
    return false;
  };
  const bool clicked = has(feedback.clicked);
  const bool bought = has(feedback.purchased);
  double r = (clicked || bought) ? 0.0 : weights.none;
  if (clicked) r += weights.click;
  if (bought) r += weights.purchase;
  for (const auto& [p, value] : feedback.rewards) {
    if (p == position) r += value;
  }
  return r;
}

}  // namespace marl_rec
