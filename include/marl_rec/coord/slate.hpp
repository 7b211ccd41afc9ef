// marl_rec — a page as served by a Coordinator: the item in each slot, which agent filled it,
// with what probability, and why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "marl_rec/objective/ranking_input.hpp"

namespace marl_rec {

/// One page (or list) of several agents' items, slot 0 first. Feedback on it is given to
/// Coordinator::learn by slot position (Feedback::clicked = {2} means slot 2 was clicked).
struct Slate {
  /// Identifies the page for Coordinator::learn; unique per coordinator, increasing (0: none).
  std::uint64_t id = 0;
  /// The catalog item in each slot.
  std::vector<std::size_t> items{};
  /// The index (in the coordinator's agent list) of the agent that filled each slot.
  std::vector<std::size_t> agents{};
  /// Each slot's final score (the sum of its explanation row).
  std::vector<double> scores{};
  /// The probability the slot's item had of being proposed by its agent at that point of the
  /// agent's own decision (Decision::propensities). The coordination step itself is
  /// deterministic given the proposals.
  std::vector<float> propensities{};
  /// Per slot, the contribution of each objective to its score.
  Explanation explanation{};

  std::size_t size() const noexcept { return items.size(); }
};

}  // namespace marl_rec
