// marl_rec — the contract of a coordination policy: how a Coordinator's agents fill one page
// together, how the page's feedback is credited to them, and what happens after they learn.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>
#include <string_view>
#include <tuple>

#include "marl_rec/coord/page_assembly.hpp"
#include "marl_rec/coord/page_credit.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"

namespace marl_rec {

namespace detail {
/// The objectives the concept is checked with: a policy's assemble() is a template over the
/// objectives, and must at least accept this one.
using ArchetypeObjectives = MultiObjective<Weighted<Relevance>>;
}  // namespace detail

/// A policy that coordinates the agents `Agents...` of a Coordinator.
///
/// The Coordinator keeps the books (page ids, the ring of pending pages, which agent's decision
/// position each slot came from, narrowing each agent's decision to what was shown, checking the
/// feedback, calling Agent::learn, telling the objectives what was served). The policy decides:
///
/// - `assemble(page)` fills one page (a PageAssembly<Objectives, Agents...>, for any
///   PageObjectives type: write it as a member template). It may ask each agent at most once for
///   proposals (`page.propose(i, k)`, in any order, any number of them; agents it does not ask
///   take no part in this page), re-rank any of them with the page's objectives (`page.rank`),
///   and place proposals into the slots, slot 0 first (`page.place`), up to `page.slots()`; it
///   may leave slots empty (a shorter page). It does not call the agents' learn or set_shown.
///   Given the agents' proposals it is deterministic (any randomness of its own comes from a
///   seeded Rng in its config). On bad input it throws marl_rec::Error naming the policy and the
///   problem; the Coordinator then withdraws the proposals already made (they teach nothing).
/// - `credit(page, feedback, out)` says what each agent learns from a served page's feedback.
///   `page` (PageCredit) tells, per slot, the agent, the position in its decision, the item and
///   the agent's bid; `feedback` names slots and has been checked (slots on the page, finite
///   rewards); `out` holds one empty Feedback per agent, to be filled with events or explicit
///   rewards on that agent's own decision positions — only positions it showed on this page.
///   Deterministic and free of side effects on the agents. What it writes is checked again
///   (positions shown, finite rewards) before any agent learns, so a policy's bad credit is an
///   Error that teaches nobody anything.
/// - `after_learn(agents, pages_learned)` runs after each page whose feedback was learned
///   (Coordinator::learn returning learned; not after duplicates, late or rejected feedback),
///   with the total number of pages learned so far: the place for acting on the agents between pages, e.g. averaging their
///   parameters every N pages. It must leave every agent usable and does not recommend or learn
///   through them.
/// - `name()` is a short lowercase identifier ("slot_auction").
/// - Like Agent, a policy is used from one thread (the Coordinator's).
template <class P, class... Agents>
concept CoordinationPolicy =
    (CoordinatedAgent<Agents> && ...) &&
    requires(P& policy, const P& const_policy, PageAssembly<detail::ArchetypeObjectives, Agents...>& page,
             const PageCredit<Agents...>& credited_page, const Feedback& feedback, std::span<Feedback> out,
             std::tuple<Agents...>& agents, std::uint64_t pages_learned) {
      policy.assemble(page);
      policy.credit(credited_page, feedback, out);
      policy.after_learn(agents, pages_learned);
      { const_policy.name() } -> std::convertible_to<std::string_view>;
    };

}  // namespace marl_rec
