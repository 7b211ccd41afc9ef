// marl_rec — one logged decision of a recommender: what it knew, what it showed, with which
// probability, and what came of it. The unit of off-policy evaluation.
#pragma once

#include <cstddef>

namespace marl_rec {

/// One (context, action) decision as logged by a serving policy. For a slate of several
/// positions, each shown item is one LoggedDecision with its position.
struct LoggedDecision {
  /// Row of the context (user features) matrix that goes with the log.
  std::size_t context = 0;
  /// The item shown (dense index).
  std::size_t action = 0;
  /// The slot it was shown in, 0-based (0 = first / leftmost).
  std::size_t position = 0;
  /// What came of it (click = 1, no click = 0, or a rating / revenue).
  double reward = 0.0;
  /// The probability the logging policy had of choosing this action at this position, in (0, 1].
  double propensity = 1.0;
  /// Seconds since the Unix epoch (0 when unknown).
  double timestamp = 0.0;
  friend bool operator==(const LoggedDecision&, const LoggedDecision&) = default;
};

}  // namespace marl_rec
