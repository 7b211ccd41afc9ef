// Test helper: a chain MDP with a known optimal Q, for learning tests of sequential models.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "marl_rec/core/rng.hpp"

namespace marl_rec::test {

/// States 0..length-1 in a line; state length-1 is the goal (terminal). Action 0 moves left
/// (staying put at state 0), action 1 moves right. Reaching the goal earns 1, every other
/// transition 0. Only states 0..length-2 are decision states.
struct ChainMdp {
  struct Step {
    std::size_t next = 0;
    double reward = 0.0;
    bool terminal = false;
  };
  struct Transition {
    std::size_t state = 0;
    std::size_t action = 0;
    Step step{};
  };

  std::size_t length = 6;
  double gamma = 0.9;

  static constexpr std::size_t left = 0;
  static constexpr std::size_t right = 1;
  static constexpr std::size_t actions = 2;

  /// Decision (non-terminal) states.
  std::size_t states() const noexcept { return length - 1; }

  Step step(std::size_t state, std::size_t action) const noexcept {
    const std::size_t next = action == right ? state + 1 : (state == 0 ? 0 : state - 1);
    const bool goal = next == length - 1;
    return {next, goal ? 1.0 : 0.0, goal};
  }

  /// Q* in closed form: going right from s reaches the goal in length-1-s steps, the reward
  /// arriving with the last one, so Q*(s, right) = γ^(length-2-s); going left leads to
  /// s' = max(s-1, 0), whose value is Q*(s', right), so Q*(s, left) = γ · γ^(length-2-s').
  /// Row-major: q[s * 2 + a].
  std::vector<double> q_star() const {
    std::vector<double> q(states() * actions);
    for (std::size_t s = 0; s < states(); ++s) {
      const std::size_t back = s == 0 ? 0 : s - 1;
      q[s * actions + right] = std::pow(gamma, static_cast<double>(length - 2 - s));
      q[s * actions + left] = gamma * std::pow(gamma, static_cast<double>(length - 2 - back));
    }
    return q;
  }

  /// Q* by value iteration on step() (an independent check of the closed form): `sweeps`
  /// synchronous Bellman optimality backups from Q = 0; the error after k sweeps is at most γ^k.
  std::vector<double> value_iteration(std::size_t sweeps) const {
    std::vector<double> q(states() * actions, 0.0);
    for (std::size_t k = 0; k < sweeps; ++k) {
      std::vector<double> next_q(q.size());
      for (std::size_t s = 0; s < states(); ++s) {
        for (std::size_t a = 0; a < actions; ++a) {
          const Step t = step(s, a);
          const double v = t.terminal ? 0.0 : std::max(q[t.next * actions], q[t.next * actions + 1]);
          next_q[s * actions + a] = t.reward + gamma * v;
        }
      }
      q = next_q;
    }
    return q;
  }

  /// `steps` transitions of a uniformly random behaviour policy: each episode starts in a
  /// uniformly random decision state and runs until the goal or `max_episode` steps (a cut
  /// episode's last transition is not terminal: it still bootstraps).
  std::vector<Transition> random_walk(std::size_t steps, std::size_t max_episode,
                                      std::uint64_t seed) const {
    Rng rng(seed);
    std::vector<Transition> out;
    out.reserve(steps);
    std::size_t state = rng.below(states());
    std::size_t in_episode = 0;
    while (out.size() < steps) {
      const std::size_t action = rng.below(actions);
      const Step t = step(state, action);
      out.push_back({state, action, t});
      ++in_episode;
      if (t.terminal || in_episode == max_episode) {
        state = rng.below(states());
        in_episode = 0;
      } else {
        state = t.next;
      }
    }
    return out;
  }
};

}  // namespace marl_rec::test
