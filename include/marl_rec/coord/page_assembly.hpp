// marl_rec — PageAssembly: what a coordination policy builds one page with (the request, the
// agents' proposals, the objectives, and the slots it fills).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/concepts/objective.hpp"
#include "marl_rec/coord/slate.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/objective/ranking_input.hpp"

namespace marl_rec {

namespace detail {

template <class T>
struct IsAgent : std::false_type {};
template <class M, class E>
struct IsAgent<Agent<M, E>> : std::true_type {};

template <class Tuple, class F, std::size_t... I>
void visit_at(Tuple& agents, std::size_t i, F& f, std::index_sequence<I...>) {
  ((i == I ? static_cast<void>(f(std::get<I>(agents))) : static_cast<void>(0)), ...);
}

/// Calls f(std::get<i>(agents)) for a runtime index i (< the tuple's size; unchecked): the
/// agents of a coordinator have different types, so each is reached through its own branch.
template <class Tuple, class F>
void visit_at(Tuple& agents, std::size_t i, F&& f) {
  visit_at(agents, i, f, std::make_index_sequence<std::tuple_size_v<std::remove_const_t<Tuple>>>{});
}

/// Throws Error when agent index `agent` is not below `count`.
inline void check_agent_index(const char* where, std::size_t agent, std::size_t count) {
  marl_rec::detail::require(agent < count, [&] {
    return std::string(where) + ": agent " + std::to_string(agent) + " out of range (" +
           std::to_string(count) + " agents)";
  });
}

}  // namespace detail

/// An agent a Coordinator can hold: a specialisation of Agent<Model, Explorer>.
template <class A>
concept CoordinatedAgent = detail::IsAgent<A>::value;

/// The objectives a page is re-ranked with: a MultiObjective<...> (or any type with the same
/// rank / record / names interface; names() gives a range of std::string_view into storage that
/// outlives the objectives, since slates keep them).
template <class O>
concept PageObjectives = requires(O& objectives, const RankingInput& input, std::size_t k, RankedList& out,
                                  std::span<const std::size_t> items, const Catalog& catalog) {
  objectives.rank(input, k, out);
  objectives.record(items, catalog);
  { *std::begin(objectives.names()) } -> std::convertible_to<std::string_view>;
  requires !std::is_same_v<std::remove_cvref_t<decltype(*std::begin(objectives.names()))>, std::string>;
};

/// One page being assembled by a coordination policy (see CoordinationPolicy): the request
/// (context, each agent's candidate pool, the number of slots), the objectives, and the page so
/// far. The policy asks agents for proposals (`propose`), re-ranks them (`rank`) and fills the
/// slots in order, slot 0 first (`place`).
///
/// Built by Coordinator::recommend for one call (every reference must outlive it); a test may
/// build one around its own agents and buffers. Not thread-safe.
template <class Objectives, class... Agents>
class PageAssembly {
 public:
  /// Number of agents.
  static constexpr std::size_t agent_count = sizeof...(Agents);

  /// A page of up to `slots` slots for `context`. `pools` holds one candidate pool per agent, or
  /// one pool for all; `decisions` one reused Decision per agent (their ids are reset to 0: not
  /// asked); `slate` is cleared and receives the page; `positions` receives, per slot, the
  /// position of the slot's item in its agent's decision. Throws Error on sizes that differ.
  PageAssembly(std::tuple<Agents...>& agents, const Catalog& catalog, const Context& context,
               std::span<const Candidates> pools, std::size_t slots, Objectives& objectives,
               std::span<Decision> decisions, Slate& slate, std::vector<std::size_t>& positions)
      : agents_(agents), catalog_(catalog), context_(context), pools_(pools), slots_(slots),
        objectives_(objectives), decisions_(decisions), slate_(slate), positions_(positions) {
    marl_rec::detail::require(pools.size() == agent_count || pools.size() == 1, [&] {
      return "PageAssembly: " + std::to_string(pools.size()) + " candidate pools for " +
             std::to_string(agent_count) + " agents (give one per agent, or one for all)";
    });
    marl_rec::detail::require(decisions.size() == agent_count, [&] {
      return "PageAssembly: " + std::to_string(decisions.size()) + " decisions for " +
             std::to_string(agent_count) + " agents";
    });
    for (Decision& d : decisions_) d.id = 0;
    slate_.id = 0;
    slate_.items.clear();
    slate_.agents.clear();
    slate_.scores.clear();
    slate_.propensities.clear();
    slate_.explanation.clear();
    const auto names = objectives_.names();
    slate_.explanation.objectives.assign(names.begin(), names.end());
    positions_.clear();
  }

  /// The request's context (the same for every agent).
  const Context& context() const noexcept { return context_; }
  /// Agent `agent`'s candidate pool. Throws Error when the index is out of range.
  Candidates pool(std::size_t agent) const {
    detail::check_agent_index("PageAssembly::pool", agent, agent_count);
    return pools_.size() == 1 ? pools_[0] : pools_[agent];
  }
  /// The most slots the page may have.
  std::size_t slots() const noexcept { return slots_; }
  /// The catalog the objectives read (attributes, vectors).
  const Catalog& catalog() const noexcept { return catalog_; }
  /// The page's objectives (rank() uses them; a policy may also rank with them directly).
  Objectives& objectives() noexcept { return objectives_; }
  /// Agent I, read-only (its model, explorer, config and counters).
  template <std::size_t I>
  const auto& agent() const noexcept {
    return std::get<I>(agents_);
  }

  /// Asks agent `agent` for up to k proposals from its pool: its explorer chooses them (the
  /// catalog's retired items excluded) and the agent remembers the decision for the feedback to
  /// come; only the proposals the policy places will count as shown. At most once per agent and
  /// page. Returns the decision (items, scores — the agent's bids —, propensities). Throws Error
  /// on an index out of range or a second call; the agent's own errors propagate.
  const Decision& propose(std::size_t agent, std::size_t k) {
    detail::check_agent_index("PageAssembly::propose", agent, agent_count);
    marl_rec::detail::require(decisions_[agent].id == 0, [&] {
      return "PageAssembly::propose: agent " + std::to_string(agent) + " was already asked for this page";
    });
    const Candidates candidates = pool(agent);
    const ExcludeBitset retired = catalog_.retired_items();
    detail::visit_at(agents_, agent, [&](auto& a) { a.recommend(context_, candidates, k, decisions_[agent], retired); });
    return decisions_[agent];
  }
  /// True once agent `agent` has proposed for this page.
  bool proposed(std::size_t agent) const {
    detail::check_agent_index("PageAssembly::proposed", agent, agent_count);
    return decisions_[agent].id != 0;
  }
  /// Agent `agent`'s proposals for this page (empty until propose()).
  const Decision& proposals(std::size_t agent) const {
    detail::check_agent_index("PageAssembly::proposals", agent, agent_count);
    return decisions_[agent];
  }

  /// Ranks up to k of `items` (scored `relevance`, the agents' bids) with the page's objectives
  /// under `rule`: RankingInput{items, relevance, &catalog(), context().history}.
  template <SelectionRule Rule = NoSelectionRule>
  void rank(std::span<const std::size_t> items, std::span<const float> relevance, std::size_t k,
            RankedList& out, Rule&& rule = {}) {
    const RankingInput input{.items = items, .relevance = relevance, .catalog = &catalog_,
                             .history = context_.history};
    objectives_.rank(input, k, out, std::forward<Rule>(rule));
  }

  /// Puts proposal `position` of agent `agent`'s decision into the next slot, with row `row` of
  /// `ranking` as its score and explanation. Throws Error, placing nothing, when the agent has not
  /// proposed, the position or row is out of range, the ranking's objectives differ from the
  /// page's, the page is full, or the item is already on the page.
  void place(std::size_t agent, std::size_t position, const RankedList& ranking, std::size_t row) {
    marl_rec::detail::require(row < ranking.size() && row < ranking.explanation.size(), [&] {
      return "PageAssembly::place: row " + std::to_string(row) + " of a ranking of " +
             std::to_string(ranking.size()) + " items";
    });
    place(agent, position, ranking.scores[row], ranking.explanation.of(row));
  }

  /// As above, with the score and its per-objective contributions given directly (one per
  /// objective, in the page's objective order).
  void place(std::size_t agent, std::size_t position, double score, std::span<const double> contributions) {
    detail::check_agent_index("PageAssembly::place", agent, agent_count);
    const Decision& d = decisions_[agent];
    marl_rec::detail::require(d.id != 0, [&] {
      return "PageAssembly::place: agent " + std::to_string(agent) + " has not proposed for this page";
    });
    marl_rec::detail::require(position < d.size(), [&] {
      return "PageAssembly::place: agent " + std::to_string(agent) + " proposed " + std::to_string(d.size()) +
             " items; position " + std::to_string(position) + " is not one of them";
    });
    marl_rec::detail::require(contributions.size() == slate_.explanation.objectives.size(), [&] {
      return "PageAssembly::place: " + std::to_string(contributions.size()) + " contributions for " +
             std::to_string(slate_.explanation.objectives.size()) + " objectives";
    });
    marl_rec::detail::require(slate_.items.size() < slots_, [&] {
      return "PageAssembly::place: the page is full (" + std::to_string(slots_) + " slots)";
    });
    const std::size_t item = d.items[position];
    marl_rec::detail::require(!on_page(item), [&] {
      return "PageAssembly::place: item " + std::to_string(item) + " is already on the page";
    });
    slate_.items.push_back(item);
    slate_.agents.push_back(agent);
    slate_.scores.push_back(score);
    slate_.propensities.push_back(d.propensities[position]);
    slate_.explanation.contributions.insert(slate_.explanation.contributions.end(), contributions.begin(),
                                            contributions.end());
    positions_.push_back(position);
  }

  /// Slots filled so far.
  std::size_t placed() const noexcept { return slate_.items.size(); }
  /// True when `item` is already on the page. O(placed()).
  bool on_page(std::size_t item) const noexcept {
    for (const std::size_t i : slate_.items) {
      if (i == item) return true;
    }
    return false;
  }
  /// The page so far.
  const Slate& page() const noexcept { return slate_; }

 private:
  std::tuple<Agents...>& agents_;
  const Catalog& catalog_;
  const Context& context_;
  std::span<const Candidates> pools_;
  std::size_t slots_;
  Objectives& objectives_;
  std::span<Decision> decisions_;
  Slate& slate_;
  std::vector<std::size_t>& positions_;
};

}  // namespace marl_rec
