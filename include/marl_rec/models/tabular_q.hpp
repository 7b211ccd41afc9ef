// marl_rec — tabular Q-learning: one value per (discrete state, item), learned by TD(0) with
// discounting, for sessions whose stage is a small discrete state (Context::state).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/models/detail/float_reward.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"

namespace marl_rec {

/// The shape and learning rates of a TabularQ.
struct TabularQConfig {
  /// Number of discrete states (Context::state ranges over 0..states-1).
  std::size_t states = 1;
  /// Number of actions (items; candidate indices range over 0..actions-1).
  std::size_t actions = 1;
  /// Step size, in (0, 1]: each update moves Q(s, a) this fraction of the way to its target.
  float alpha = 0.1f;
  /// Discount of the next state's value, in [0, 1].
  float gamma = 0.9f;
  /// The value every (state, action) starts with (optimistic values encourage exploration).
  float initial_q = 0.0f;
};

/// Q-learning over a table of states × actions (row-major, 64-byte aligned). The state is
/// `Context::state`, the action is the item index; the item features and the rest of the
/// context are ignored. Satisfies SequentialModel.
///
/// - `score` writes Q(state, item) for every candidate.
/// - `update(ctx, item, r)` is a transition into a terminal state: Q += α (r − Q).
/// - `update(ctx, item, r, next, next_candidates)` bootstraps:
///   Q += α (r + γ max over next_candidates of Q(next.state, ·) − Q).
/// - `update_batch` applies many transitions with one SIMD TD kernel call per conflict-free run;
///   the result is the same as applying them one by one, in order (see there).
///
/// Every update goes through the vector body of `simd::td_update` (the gathered values are
/// padded to a whole number of SIMD batches, so the kernel's scalar tail, which a compiler may
/// contract into FMAs differently, is never used): a single update and a batched one compute a
/// value with the same operations and agree bit for bit, on every architecture.
///
/// Values stay bounded: with α in (0, 1] each update is a convex combination of Q and its target,
/// so |Q| ≤ max(|initial_q|, R / (1 − γ)) for rewards |r| ≤ R and γ < 1. (With γ = 1 or rewards
/// near the float range the table can overflow to infinity; this is not checked.)
///
/// Thread safety: `score`, `q`, `values` and `save` are const and may run concurrently with each
/// other; `update*` and `load` need exclusive access. `score` never allocates.
class TabularQ {
 public:
  /// One transition of a batch: in `state`, `action` earned `reward` and led to `next_state`,
  /// or ended the episode when `terminal` (then `next_state` is not read).
  struct Transition {
    std::size_t state = 0;
    std::size_t action = 0;
    double reward = 0.0;
    std::size_t next_state = 0;
    bool terminal = false;
  };

  /// A table of config.states × config.actions values, all config.initial_q. Throws
  /// marl_rec::Error when a dimension is 0 or the table would not fit in memory, when alpha is
  /// not in (0, 1], gamma not in [0, 1], or initial_q is not finite.
  explicit TabularQ(TabularQConfig config = {}) : config_(config) {
    validate(config_, "TabularQ");
    q_.assign(config_.states * config_.actions, config_.initial_q);
  }

  /// "tabular_q".
  std::string_view name() const noexcept { return "tabular_q"; }

  /// The configuration (shape, learning rates) in force.
  const TabularQConfig& config() const noexcept { return config_; }
  std::size_t states() const noexcept { return config_.states; }
  std::size_t actions() const noexcept { return config_.actions; }

  /// Q(state, action). Throws marl_rec::Error when either is out of range.
  float q(std::size_t state, std::size_t action) const {
    check_state("TabularQ::q", "state", state);
    check_action("TabularQ::q", action);
    return q_[state * config_.actions + action];
  }

  /// The whole table, row-major: Q(s, a) is values()[s * actions() + a].
  std::span<const float> values() const noexcept { return q_; }

  /// scores[i] = Q(context.state, candidates[i]). Throws marl_rec::Error when scores.size() !=
  /// candidates.size(), the state is out of range or a candidate is not an action.
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    constexpr const char* where = "TabularQ::score";
    marl_rec::detail::require(scores.size() == candidates.size(), [&] {
      return std::string(where) + ": scores has " + std::to_string(scores.size()) +
             " entries, there are " + std::to_string(candidates.size()) + " candidates";
    });
    check_state(where, "context.state", context.state);
    check_candidates(where, "candidates", candidates);
    const float* row = q_.data() + context.state * config_.actions;
    for (std::size_t i = 0; i < candidates.size(); ++i) scores[i] = row[candidates[i]];
  }

  /// A transition into a terminal state: Q(context.state, item) += α (reward − Q). Throws
  /// marl_rec::Error (model unchanged) on an out-of-range state or item, or a reward that is
  /// not finite as a float.
  void update(const Context& context, std::size_t item, double reward) {
    constexpr const char* where = "TabularQ::update";
    check_state(where, "context.state", context.state);
    check_action(where, item);
    const float r = checked_reward(where, reward);
    step(context.state * config_.actions + item, r, 0.0f);
  }

  /// A transition to `next`: Q(context.state, item) += α (reward + γ max_a Q(next.state, a) − Q),
  /// the max over `next_candidates`. Throws marl_rec::Error (model unchanged) on an out-of-range
  /// state, item or next candidate, a non-finite reward, or empty next_candidates (a transition
  /// with nothing to choose next is terminal: use the three-argument update).
  void update(const Context& context, std::size_t item, double reward, const Context& next,
              Candidates next_candidates) {
    constexpr const char* where = "TabularQ::update";
    check_state(where, "context.state", context.state);
    check_action(where, item);
    const float r = checked_reward(where, reward);
    check_state(where, "next.state", next.state);
    marl_rec::detail::require(!next_candidates.empty(), [&] {
      return std::string(where) +
             ": next_candidates is empty (use the three-argument update for a terminal "
             "transition)";
    });
    check_candidates(where, "next_candidates", next_candidates);
    const float* row = q_.data() + next.state * config_.actions;
    float next_max = row[next_candidates[0]];
    for (std::size_t i = 1; i < next_candidates.size(); ++i) {
      next_max = std::max(next_max, row[next_candidates[i]]);
    }
    step(context.state * config_.actions + item, r, next_max);
  }

  /// Applies `batch` with the result of calling update() for each transition in order (a
  /// non-terminal transition bootstraps from the max over *all* actions of its next state).
  ///
  /// How: the batch is cut into maximal runs in which no transition reads a value an earlier
  /// transition of the same run writes (its own Q(s, a), or any value of its next state's row).
  /// Each run's Q, rewards and next-state maxima are gathered, updated with one
  /// `simd::td_update` call and scattered back. So the same (s, a) twice in a batch is updated
  /// twice, the second time from the result of the first, and a transition into a state updated
  /// earlier in the batch bootstraps from the updated values — exactly as sequential updates.
  /// Batches over many distinct states form long runs; batches that revisit few states
  /// degrade gracefully to short runs.
  ///
  /// Every transition is checked before any is applied: an out-of-range state, action or next
  /// state, or a non-finite reward throws marl_rec::Error naming the transition, and leaves the
  /// model unchanged. Scratch: about 16 bytes per transition of the largest batch seen plus 8
  /// bytes per state (the run that last wrote each row), allocated on first use, then reused.
  /// Cost: linear in the batch, except that a transition whose state was already written in the
  /// current run scans that run for a repeated (s, a).
  void update_batch(std::span<const Transition> batch) {
    constexpr const char* where = "TabularQ::update_batch";
    for (std::size_t k = 0; k < batch.size(); ++k) {
      const Transition& t = batch[k];
      const auto fail = [&](const std::string& what) {
        return std::string(where) + ": transition " + std::to_string(k) + ": " + what;
      };
      marl_rec::detail::require(t.state < config_.states, [&] {
        return fail("state " + std::to_string(t.state) + " is out of range (the model has " +
                    std::to_string(config_.states) + " states)");
      });
      marl_rec::detail::require(t.action < config_.actions, [&] {
        return fail("action " + std::to_string(t.action) + " is out of range (the model has " +
                    std::to_string(config_.actions) + " actions)");
      });
      marl_rec::detail::require(t.terminal || t.next_state < config_.states, [&] {
        return fail("next_state " + std::to_string(t.next_state) +
                    " is out of range (the model has " + std::to_string(config_.states) +
                    " states)");
      });
      marl_rec::detail::require(std::isfinite(static_cast<float>(t.reward)), [&] {
        return fail("reward " + std::to_string(t.reward) + " is not finite as a float");
      });
    }
    if (batch.empty()) return;

    const std::size_t n = batch.size();
    if (cells_.size() < n) {
      cells_.resize(n);
      // Room for the padding of the last run.
      q_buf_.resize(n + lanes);
      reward_buf_.resize(n + lanes);
      next_max_buf_.resize(n + lanes);
    }
    if (row_run_.size() != config_.states) {
      row_run_.assign(config_.states, 0);
      run_ = 0;
    }
    ++run_;
    std::size_t begin = 0;  // first transition of the current run
    for (std::size_t k = 0; k < n; ++k) {
      const Transition& t = batch[k];
      const std::size_t cell = t.state * config_.actions + t.action;
      bool conflict = !t.terminal && row_run_[t.next_state] == run_;
      if (!conflict && row_run_[t.state] == run_) {
        for (std::size_t j = begin; j < k && !conflict; ++j) conflict = cells_[j] == cell;
      }
      if (conflict) {
        apply_run(begin, k);
        begin = k;
        ++run_;
      }
      // Nothing in the current run has written what t reads, so gathering now sees the values
      // the sequential updates would see.
      cells_[k] = cell;
      q_buf_[k] = q_[cell];
      reward_buf_[k] = static_cast<float>(t.reward);
      next_max_buf_[k] = t.terminal ? 0.0f : row_max(t.next_state);
      row_run_[t.state] = run_;
    }
    apply_run(begin, n);
  }

  /// Writes the configuration and the table (model type "tabular_q", format version 1).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "tabular_q", 1);
    w.u64("states", config_.states);
    w.u64("actions", config_.actions);
    w.f64("alpha", config_.alpha);
    w.f64("gamma", config_.gamma);
    w.f64("initial_q", config_.initial_q);
    w.floats("q", q_);
    w.finish();
  }

  /// Replaces the configuration and the table with those `save` wrote. Throws marl_rec::Error
  /// (model unchanged) on a stream of another model type or version, a truncated or corrupted
  /// stream, an invalid configuration in it, or a non-finite value.
  void load(std::istream& in) {
    io::ModelReader r(in, "tabular_q", 1);
    TabularQConfig c;
    constexpr std::uint64_t size_max = std::numeric_limits<std::size_t>::max();
    c.states = static_cast<std::size_t>(r.u64("states", 1, size_max));
    c.actions = static_cast<std::size_t>(r.u64("actions", 1, size_max));
    c.alpha = static_cast<float>(r.f64("alpha"));
    c.gamma = static_cast<float>(r.f64("gamma"));
    c.initial_q = static_cast<float>(r.f64("initial_q"));
    validate(c, "TabularQ::load");
    const std::vector<float> values = r.floats("q", c.states * c.actions);
    r.finish();
    for (std::size_t i = 0; i < values.size(); ++i) {
      marl_rec::detail::require(std::isfinite(values[i]), [&] {
        return "TabularQ::load: field 'q' holds a non-finite value at " + std::to_string(i);
      });
    }
    AlignedVector<float> table(values.begin(), values.end());
    config_ = c;
    q_ = std::move(table);
  }

 private:
  static void validate(const TabularQConfig& c, const char* where) {
    marl_rec::detail::require(c.states >= 1 && c.actions >= 1, [&] {
      return std::string(where) + ": states (" + std::to_string(c.states) + ") and actions (" +
             std::to_string(c.actions) + ") must be at least 1";
    });
    marl_rec::detail::require(
        c.states <= AlignedVector<float>().max_size() / c.actions, [&] {
          return std::string(where) + ": a table of " + std::to_string(c.states) + " x " +
                 std::to_string(c.actions) + " values is too large";
        });
    marl_rec::detail::require(c.alpha > 0.0f && c.alpha <= 1.0f, [&] {
      return std::string(where) + ": alpha must be in (0, 1], got " + std::to_string(c.alpha);
    });
    marl_rec::detail::require(c.gamma >= 0.0f && c.gamma <= 1.0f, [&] {
      return std::string(where) + ": gamma must be in [0, 1], got " + std::to_string(c.gamma);
    });
    marl_rec::detail::require(std::isfinite(c.initial_q), [&] {
      return std::string(where) + ": initial_q must be finite, got " +
             std::to_string(c.initial_q);
    });
  }

  void check_state(const char* where, const char* what, std::size_t state) const {
    marl_rec::detail::require(state < config_.states, [&] {
      return std::string(where) + ": " + what + " " + std::to_string(state) +
             " is out of range (the model has " + std::to_string(config_.states) + " states)";
    });
  }

  void check_action(const char* where, std::size_t action) const {
    marl_rec::detail::require(action < config_.actions, [&] {
      return std::string(where) + ": item " + std::to_string(action) +
             " is out of range (the model has " + std::to_string(config_.actions) + " actions)";
    });
  }

  void check_candidates(const char* where, const char* what, Candidates candidates) const {
    const std::size_t bound = candidates.index_bound();
    marl_rec::detail::require(bound <= config_.actions, [&] {
      return std::string(where) + ": " + what + " include item " + std::to_string(bound - 1) +
             ", out of range (the model has " + std::to_string(config_.actions) + " actions)";
    });
  }

  static float checked_reward(const char* where, double reward) {
    return marl_rec::detail::float_reward(where, reward);
  }

  float row_max(std::size_t state) const noexcept {
    const float* row = q_.data() + state * config_.actions;
    float m = row[0];
    for (std::size_t a = 1; a < config_.actions; ++a) m = std::max(m, row[a]);
    return m;
  }

  // Floats per SIMD batch of the kernels' default architecture.
  static constexpr std::size_t lanes = xsimd::batch<float, simd::compat::default_arch>::size;

  // n rounded up to whole batches.
  static constexpr std::size_t padded(std::size_t n) noexcept {
    return (n + lanes - 1) / lanes * lanes;
  }

  // One TD(0) step through the same kernel path as the batches (one padded batch).
  void step(std::size_t cell, float reward, float next_max) {
    alignas(64) float q[lanes] = {};
    alignas(64) float r[lanes] = {};
    alignas(64) float m[lanes] = {};
    q[0] = q_[cell];
    r[0] = reward;
    m[0] = next_max;
    simd::td_update(std::span<float>(q), std::span<const float>(r), std::span<const float>(m),
                    config_.alpha, config_.gamma);
    q_[cell] = q[0];
  }

  // Updates the gathered run [begin, end) with one kernel call and scatters it back. The run is
  // padded with zeros to whole batches (entries from `end` on are not gathered yet).
  void apply_run(std::size_t begin, std::size_t end) {
    const std::size_t n = padded(end - begin);
    for (std::size_t k = end; k < begin + n; ++k) {
      q_buf_[k] = 0.0f;
      reward_buf_[k] = 0.0f;
      next_max_buf_[k] = 0.0f;
    }
    simd::td_update(std::span<float>(q_buf_.data() + begin, n),
                    std::span<const float>(reward_buf_.data() + begin, n),
                    std::span<const float>(next_max_buf_.data() + begin, n), config_.alpha,
                    config_.gamma);
    for (std::size_t k = begin; k < end; ++k) q_[cells_[k]] = q_buf_[k];
  }

  TabularQConfig config_;
  AlignedVector<float> q_;
  // update_batch scratch: the cell, Q, reward and next-state max of each transition, and the
  // run in which each state's row was last written (runs are numbered, so no clearing).
  std::vector<std::size_t> cells_;
  AlignedVector<float> q_buf_;
  AlignedVector<float> reward_buf_;
  AlignedVector<float> next_max_buf_;
  std::vector<std::uint64_t> row_run_;
  std::uint64_t run_ = 0;
};

}  // namespace marl_rec
