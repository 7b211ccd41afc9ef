// marl_rec — PageCredit: a served page as a coordination policy sees it when its feedback arrives
// (which agent filled each slot, from which position of its decision, with what bid), and
// local_credit, the plain mapping of a page's feedback to each agent's own positions.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <tuple>

#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/coord/page_assembly.hpp"

namespace marl_rec {

/// One served page, slot by slot, for crediting its feedback (see CoordinationPolicy::credit).
/// Non-owning: built by Coordinator::learn around its record of the page (a test may build one
/// around its own vectors). Accessors taking a slot are unchecked (slot < size()).
template <class... Agents>
class PageCredit {
 public:
  /// Number of agents.
  static constexpr std::size_t agent_count = sizeof...(Agents);

  /// A page whose slot s holds `items[s]`, placed by agent `agents[s]` from position
  /// `positions[s]` of its decision, which scored it `relevance[s]`. Throws Error when the spans
  /// differ in size or an agent index is out of range.
  PageCredit(const std::tuple<Agents...>& coordinated, std::span<const std::size_t> agents,
             std::span<const std::size_t> positions, std::span<const std::size_t> items,
             std::span<const float> relevance)
      : coordinated_(coordinated), agents_(agents), positions_(positions), items_(items), relevance_(relevance) {
    const std::size_t n = agents.size();
    marl_rec::detail::require(positions.size() == n && items.size() == n && relevance.size() == n, [&] {
      return "PageCredit: " + std::to_string(n) + " agents, " + std::to_string(positions.size()) + " positions, " +
             std::to_string(items.size()) + " items and " + std::to_string(relevance.size()) +
             " relevance scores: one of each per slot";
    });
    for (const std::size_t a : agents) detail::check_agent_index("PageCredit", a, agent_count);
  }

  /// Slots on the page.
  std::size_t size() const noexcept { return agents_.size(); }
  /// The agent that filled `slot`.
  std::size_t agent_of(std::size_t slot) const noexcept { return agents_[slot]; }
  /// The position of `slot`'s item in its agent's decision (what that agent's feedback names).
  std::size_t position_of(std::size_t slot) const noexcept { return positions_[slot]; }
  /// The catalog item in `slot`.
  std::size_t item_of(std::size_t slot) const noexcept { return items_[slot]; }
  /// The agent's own score of `slot`'s item when it proposed it (Decision::scores: its bid).
  float relevance_of(std::size_t slot) const noexcept { return relevance_[slot]; }

  /// The reward `slot` earned under its agent's reward weights, `page_feedback` naming slots
  /// (Agent::reward_of with the slot as the position).
  double reward_of(const Feedback& page_feedback, std::size_t slot) const {
    double r = 0.0;
    detail::visit_at(coordinated_, agents_[slot], [&](const auto& a) { r = a.reward_of(page_feedback, slot); });
    return r;
  }
  /// The reward of a slot without any event under its agent's weights (RewardWeights::none).
  double no_event_reward_of(std::size_t slot) const {
    double r = 0.0;
    detail::visit_at(coordinated_, agents_[slot], [&](const auto& a) { r = a.config().rewards.none; });
    return r;
  }
  /// Agent I, read-only.
  template <std::size_t I>
  const auto& agent() const noexcept {
    return std::get<I>(coordinated_);
  }

 private:
  const std::tuple<Agents...>& coordinated_;
  std::span<const std::size_t> agents_;
  std::span<const std::size_t> positions_;
  std::span<const std::size_t> items_;
  std::span<const float> relevance_;
};

/// Local credit: each agent learns exactly the events of its own slots — a click, purchase or
/// explicit reward on slot s becomes the same event on position_of(s) of agent_of(s)'s feedback
/// (out[agent_of(s)]). Appends to `out` (one Feedback per agent). Throws Error, appending
/// nothing, when a slot is not on the page or `out` has another size than the agent count.
template <class... Agents>
void local_credit(const PageCredit<Agents...>& page, const Feedback& feedback, std::span<Feedback> out) {
  marl_rec::detail::require(out.size() == page.agent_count, [&] {
    return "local_credit: " + std::to_string(out.size()) + " feedbacks for " + std::to_string(page.agent_count) +
           " agents";
  });
  const auto check = [&](std::size_t s) {
    marl_rec::detail::require(s < page.size(), [&] {
      return "local_credit: slot " + std::to_string(s) + " is not on the page (" + std::to_string(page.size()) +
             " slots)";
    });
  };
  for (const std::size_t s : feedback.clicked) check(s);
  for (const std::size_t s : feedback.purchased) check(s);
  for (const auto& entry : feedback.rewards) check(entry.first);
  for (const std::size_t s : feedback.clicked) out[page.agent_of(s)].clicked.push_back(page.position_of(s));
  for (const std::size_t s : feedback.purchased) out[page.agent_of(s)].purchased.push_back(page.position_of(s));
  for (const auto& [s, value] : feedback.rewards) {
    out[page.agent_of(s)].rewards.emplace_back(page.position_of(s), value);
  }
}

}  // namespace marl_rec
