// marl_rec — Q-learning over session states as a batch recommender: the state is the user's last
// item, the action the next item. What `marl_rec_eval` trains TabularQ as (model "sessionq").
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
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

 private:
  SessionQConfig config_;
  TabularQ q_;
  std::vector<std::size_t> last_;
  std::size_t items_ = 0;
};

}  // namespace marl_rec
