// marl_rec — Q-learning over session states as a batch recommender: the state is the user's last
// item, the action the next item. What `marl_rec_eval` trains TabularQ as (model "sessionq").
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
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/tabular_q.hpp"

namespace marl_rec {

/// Settings of SessionQ.
struct SessionQConfig {
  /// Learning rate and discount of the underlying TabularQ.
  float alpha = 0.5f;
  float gamma = 0.5f;
  /// Sweeps over all transitions.
  std::size_t epochs = 10;
  /// More items than this is an Error: the table has (items + 1) × items floats.
  std::size_t max_items = 10000;
};

/// Each user's interactions, in time order (timestamp, then file order), are an episode: from a
/// start state to the first item, then from each item to the next (reward 1 each; the last step
/// ends the episode). A TabularQ with states = items + 1 (state 0 = start, state i + 1 = "the
/// last item was i") learns from them by Q-learning, every epoch one batched sweep
/// (TabularQ::update_batch, through the SIMD TD kernel). A user is scored by the Q row of their
/// last training item, so items that usually come next, and lead on to more, rank first; a user
/// without training items gets the start state's row. Satisfies BatchRecommender.
///
/// Persistence: save() writes the config, the Q table (a nested TabularQ stream) and each user's
/// last state (type "session_q", version 1); load() replaces them all.
class SessionQ {
 public:
  explicit SessionQ(SessionQConfig config = {}) : config_(config) {
    marl_rec::detail::require(config_.epochs >= 1, "SessionQ: epochs must be at least 1");
  }

  std::string_view name() const noexcept { return "sessionq"; }

  void fit(const Interactions& train) {
    const std::size_t n = train.items.size();
    marl_rec::detail::require(n >= 1 && n <= config_.max_items, [&] {
      return "SessionQ::fit: " + std::to_string(n) + " items; the table needs 1.." +
             std::to_string(config_.max_items) + " (max_items)";
    });
    std::vector<std::vector<const Interaction*>> by_user(train.users.size());
    for (const Interaction& row : train.rows) {
      marl_rec::detail::require(row.user < by_user.size() && row.item < n,
                                "SessionQ::fit: an interaction's index is outside the id maps");
      by_user[row.user].push_back(&row);
    }
    std::vector<TabularQ::Transition> transitions;
    last_.assign(train.users.size(), 0);
    for (std::size_t u = 0; u < by_user.size(); ++u) {
      auto& rows = by_user[u];
      std::stable_sort(rows.begin(), rows.end(), [](const Interaction* a, const Interaction* b) {
        return a->timestamp < b->timestamp;
      });
      std::size_t state = 0;
      for (std::size_t j = 0; j < rows.size(); ++j) {
        const std::size_t next = rows[j]->item + 1;
        transitions.push_back({.state = state, .action = rows[j]->item, .reward = 1.0,
                               .next_state = next, .terminal = j + 1 == rows.size()});
        state = next;
      }
      last_[u] = state;
    }
    TabularQ q({.states = n + 1, .actions = n, .alpha = config_.alpha, .gamma = config_.gamma});
    for (std::size_t e = 0; e < config_.epochs; ++e) q.update_batch(transitions);
    q_ = std::move(q);
    items_ = n;
  }

  void score_user(std::size_t user, std::span<float> scores) const {
    marl_rec::detail::require(scores.size() == items_, [&] {
      return "SessionQ::score_user: scores has " + std::to_string(scores.size()) +
             " entries, the model knows " + std::to_string(items_) + " items";
    });
    const std::size_t state = user < last_.size() ? last_[user] : 0;
    const auto row = q_.values().subspan(state * items_, items_);
    std::copy(row.begin(), row.end(), scores.begin());
  }

  /// The underlying table (states × items).
  const TabularQ& table() const noexcept { return q_; }

  const SessionQConfig& config() const noexcept { return config_; }

  /// Writes the config, the table and the users' last states.
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "session_q", 1);
    w.f64("alpha", static_cast<double>(config_.alpha));
    w.f64("gamma", static_cast<double>(config_.gamma));
    w.u64("epochs", config_.epochs);
    w.u64("max_items", config_.max_items);
    w.u64("items", items_);
    w.object("table", q_);
    w.u64s("last", std::vector<std::uint64_t>(last_.begin(), last_.end()));
    w.finish();
  }

  /// Replaces everything with what save() wrote. Throws Error (model unchanged) on a truncated,
  /// corrupted or foreign stream, a config fit() would refuse, a table whose shape or rates do not
  /// match it, a non-finite Q value, or a user's state outside the table.
  void load(std::istream& in) {
    constexpr const char* where = "loading a 'session_q' model";
    constexpr std::uint64_t size_max = std::numeric_limits<std::size_t>::max();
    const auto check = [&](bool ok, auto&& message) {
      marl_rec::detail::require(ok, [&] { return std::string(where) + ": " + message(); });
    };
    io::ModelReader r(in, "session_q", 1);
    SessionQConfig c;
    const double alpha = r.f64("alpha");
    const double gamma = r.f64("gamma");
    c.alpha = static_cast<float>(alpha);
    c.gamma = static_cast<float>(gamma);
    check(static_cast<double>(c.alpha) == alpha && static_cast<double>(c.gamma) == gamma,
          [&] { return "alpha " + std::to_string(alpha) + " or gamma " + std::to_string(gamma) + " is not a float"; });
    c.epochs = static_cast<std::size_t>(r.u64("epochs", 1, size_max));
    c.max_items = static_cast<std::size_t>(r.u64("max_items", 0, size_max));
    try {
      (void)TabularQ({.states = 1, .actions = 1, .alpha = c.alpha, .gamma = c.gamma});  // checks the rates
    } catch (const Error& e) {
      throw Error(std::string(where) + ": " + e.what());
    }
    const auto items = static_cast<std::size_t>(r.u64("items", 0, c.max_items));
    TabularQ q;
    r.object("table", q);
    const std::vector<std::uint64_t> last = r.u64s("last", r.array_size("last"));
    r.finish();
    check(items >= 1 || last.empty(), [&] { return std::to_string(last.size()) + " users but no items"; });
    if (items >= 1) {
      const TabularQConfig& t = q.config();
      check(t.states == items + 1 && t.actions == items && t.alpha == c.alpha && t.gamma == c.gamma &&
                t.initial_q == 0.0f,
            [&] {
              return "the table (" + std::to_string(t.states) + " x " + std::to_string(t.actions) +
                     ") does not fit " + std::to_string(items) + " items and the config";
            });
      for (const float v : q.values()) check(std::isfinite(v), [&] { return std::string("a Q value is not finite"); });
    }
    for (std::size_t u = 0; u < last.size(); ++u) {
      check(last[u] <= items, [&] {
        return "user " + std::to_string(u) + " is in state " + std::to_string(last[u]) + " of " +
               std::to_string(items + 1);
      });
    }
    std::vector<std::size_t> loaded_last(last.begin(), last.end());
    config_ = c;
    q_ = std::move(q);
    last_ = std::move(loaded_last);
    items_ = items;
  }

 private:
  SessionQConfig config_;
  TabularQ q_;
  std::vector<std::size_t> last_;
  std::size_t items_ = 0;
};

}  // namespace marl_rec
