// marl_rec — Coordinator<Policy, Agents...>: several agents fill one page together, under a
// coordination policy (Independent, SlotAuction, SharedModel, ...), and learn from its feedback.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/concepts/coordination_policy.hpp"
#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/coord/page_assembly.hpp"
#include "marl_rec/coord/page_credit.hpp"
#include "marl_rec/coord/slate.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// The largest max_pending Coordinator::load accepts (every ring slot is allocated on load): a
/// bound on what a forged stream can make a load allocate.
inline constexpr std::size_t coordinator_max_loaded_pending = std::size_t{1} << 20;

/// Settings of a Coordinator.
struct CoordinatorConfig {
  /// Pages remembered while their feedback is awaited (a ring, like Agent's pending decisions):
  /// the page issued max_pending pages after an unanswered one takes its place, and that one's
  /// feedback is then late. Keep each agent's own max_pending at least as large, or its
  /// decisions expire first.
  std::size_t max_pending = 4096;
};

/// What a coordinator has done so far.
struct CoordinatorCounters {
  /// Pages served.
  std::uint64_t pages = 0;
  /// Pages whose feedback was learned (by at least one agent).
  std::uint64_t feedback = 0;
  /// Second and later copies of a page's feedback, ignored.
  std::uint64_t duplicates = 0;
  /// Feedback that came after its page was evicted from the ring, or after every agent's
  /// decision on it had expired: ignored.
  std::uint64_t late = 0;
  /// Pages evicted from the ring without feedback.
  std::uint64_t evicted = 0;
};

/// Agents working on one page. `recommend` lets the policy assemble a page from the agents'
/// proposals, re-ranked by a MultiObjective, and returns it as a Slate; `learn(slate_id,
/// feedback)` has the policy credit the page's feedback (by slot) to the agents (by their own
/// decision positions), and the agents learn it.
///
/// ```cpp
/// Coordinator page{catalog, SlotAuction{{.quotas = {4, 4, 2}}}, products, content, ads};
/// Slate slate = page.recommend(context, pools, /*slots=*/8, objectives);
/// page.learn(slate.id, Feedback{.clicked = {2}});
/// ```
///
/// Rules:
/// - The catalog is held by reference and must outlive the coordinator; the agents are owned
///   (copied or moved in). Agents may be of different types (Agent<LinUcb>, Agent<LinThompson,
///   Softmax>, ...).
/// - Each agent the policy asks proposes with its own explorer (retired catalog items excluded);
///   its decision is then narrowed (Agent::set_shown) to the positions the policy placed on the
///   page, so only what was shown is ever learned from (including an agent's default reward on
///   expiry).
/// - Feedback: the first for a page is credited and learned; later copies are duplicates; feedback
///   for a page evicted from the ring, or whose agents' decisions have all expired (their
///   time-to-live), is late. A page id never issued, a slot not on the page, a reward that is not
///   finite (alone or summed under an agent's reward weights), or a policy's credit naming a
///   position its agent did not show are Errors, and then no agent learns anything: everything is
///   checked before the first agent learns. What cannot be checked ahead is an agent's own
///   failure while learning — its model throwing, its clock returning NaN — and then, as in
///   Agent, the page counts as answered, the agents before it having learned.
/// - Agents learn each page as a terminal step: a SequentialModel (e.g. LinearQ with γ > 0) gets
///   no bootstrapped next state through a Coordinator.
/// - If recommend throws (a policy error, an agent's error, an objective failing to record the
///   page), the proposals already made are withdrawn (narrowed to nothing: they expire teaching
///   nothing) and no page is issued.
/// - Before each page is issued, `objectives.record(slate.items, catalog)` tells the objectives
///   that remember what was shown (e.g. exposure fairness).
/// - Copying a coordinator copies its agents; agents over a Shared<M> model (SharedModel) then
///   share that model with the copy.
/// - Not thread-safe: one thread recommends and learns (as with Agent). After warm-up (every ring
///   slot used once, same page shapes) recommend into a reused Slate does not allocate, unless
///   an agent, the policy or an objective does.
///
/// Saving and loading (`save(out)`, `load(in, item_matrices)`; stream type "coordinator",
/// version 1; available when every agent's explorer is a PersistentExplorer):
/// - Saved: the config, the counters, the next page id, every page the ring remembers (answered
///   or not, with its slots' agents, positions, items and bids, and each agent's decision id),
///   the policy when it has save/load of its own (Independent, SlotAuction and SharedModel save
///   their config, FederatedAveraging its rounds and parameters; a policy without them keeps its
///   own state on load), and every agent (Agent::save, nested). Save, load and go on gives bit
///   for bit what never stopping gives.
/// - Not saved: the catalog, held by reference: save it separately (the loaded coordinator uses
///   the one it was built with). `item_matrices` goes to each agent's load (typically
///   `catalog.embeddings()`: see Agent's "Saving and loading" for matrices and times).
/// - A load that throws leaves the coordinator, its policy and its agents unchanged, except that
///   agents over a Shared<M> model load it through their handles: a load that fails at a later
///   agent leaves the shared model loaded.
template <class Policy, CoordinatedAgent... Agents>
  requires(sizeof...(Agents) >= 1 && CoordinationPolicy<Policy, Agents...>)
class Coordinator {
 public:
  /// The coordination policy's type.
  using policy_type = Policy;
  /// Number of agents.
  static constexpr std::size_t agent_count = sizeof...(Agents);

  /// Coordinates `agents` (moved or copied in) under `policy`, over `catalog` (kept by reference).
  Coordinator(const Catalog& catalog, Policy policy, Agents... agents)
      : Coordinator(catalog, std::move(policy), CoordinatorConfig{}, std::move(agents)...) {}
  /// As above, with settings.
  Coordinator(const Catalog& catalog, Policy policy, CoordinatorConfig config, Agents... agents)
      : Coordinator(catalog, std::move(policy), std::tuple<Agents...>(std::move(agents)...), config) {}
  /// Coordinates a tuple of agents (e.g. from make_shared_agents).
  Coordinator(const Catalog& catalog, Policy policy, std::tuple<Agents...> agents, CoordinatorConfig config = {})
      : catalog_(catalog), policy_(std::move(policy)), agents_(std::move(agents)), config_(config) {
    marl_rec::detail::require(config_.max_pending >= 1, "Coordinator: max_pending must be at least 1");
    pending_.resize(config_.max_pending);
  }
  // The catalog is kept by reference: a temporary would dangle.
  Coordinator(const Catalog&&, Policy, Agents...) = delete;
  Coordinator(const Catalog&&, Policy, CoordinatorConfig, Agents...) = delete;
  Coordinator(const Catalog&&, Policy, std::tuple<Agents...>, CoordinatorConfig = {}) = delete;

  /// Fills `out` (reusing its storage) with a page of up to `slots` slots for `context`: `pools`
  /// holds each agent's candidate items (one per agent, in order); the policy assembles the page
  /// from the agents' proposals re-ranked by `objectives`. out.id is the page's id for learn().
  /// Throws Error when pools.size() differs from the agent count or slots is 0 (no page issued).
  template <PageObjectives Objectives>
  void recommend(const Context& context, std::span<const Candidates> pools, std::size_t slots,
                 Objectives& objectives, Slate& out) {
    marl_rec::detail::require(pools.size() == agent_count, [&] {
      return "Coordinator::recommend: " + std::to_string(pools.size()) + " candidate pools for " +
             std::to_string(agent_count) + " agents";
    });
    serve(context, pools, slots, objectives, out);
  }
  /// As above, returning a new Slate.
  template <PageObjectives Objectives>
  Slate recommend(const Context& context, std::span<const Candidates> pools, std::size_t slots,
                  Objectives& objectives) {
    Slate out;
    recommend(context, pools, slots, objectives, out);
    return out;
  }
  /// One candidate pool for every agent.
  template <PageObjectives Objectives>
  void recommend(const Context& context, Candidates pool, std::size_t slots, Objectives& objectives, Slate& out) {
    serve(context, std::span<const Candidates>(&pool, 1), slots, objectives, out);
  }
  /// One candidate pool for every agent, returning a new Slate.
  template <PageObjectives Objectives>
  Slate recommend(const Context& context, Candidates pool, std::size_t slots, Objectives& objectives) {
    Slate out;
    recommend(context, pool, slots, objectives, out);
    return out;
  }

  /// Learns the feedback on page `slate_id` (positions are slots) through the policy's credit
  /// (see the class rules). Returns learned (at least one agent learned it, or no agent took part
  /// in the page), duplicate, or expired (the page left the ring, or every agent's decision on
  /// it had expired).
  LearnStatus learn(std::uint64_t slate_id, const Feedback& feedback) {
    marl_rec::detail::require(slate_id >= 1 && slate_id < next_id_, [&] {
      return "Coordinator::learn: slate id " + std::to_string(slate_id) +
             " was never issued by this coordinator (ids 1.." + std::to_string(next_id_ - 1) + ")";
    });
    PendingPage& page = slot_of(slate_id);
    if (page.id != slate_id) {
      ++counters_.late;
      return LearnStatus::expired;
    }
    if (page.answered) {
      if (page.late) {
        ++counters_.late;
        return LearnStatus::expired;
      }
      ++counters_.duplicates;
      return LearnStatus::duplicate;
    }
    const PageCredit<Agents...> view(agents_, page.agents, page.positions, page.items, page.relevance);
    check_page_feedback(slate_id, view, feedback);
    for (Feedback& f : credited_) {
      f.clicked.clear();
      f.purchased.clear();
      f.rewards.clear();
    }
    policy_.credit(view, feedback, std::span<Feedback>(credited_));
    check_credit(slate_id, page);
    // Answered before learning: if a model throws midway, a retry is a duplicate, not a second
    // lesson for the agents that already learned.
    page.answered = true;
    bool any_agent = false;
    bool any_learned = false;
    bool any_duplicate = false;
    for (std::size_t a = 0; a < agent_count; ++a) {
      if (page.decisions[a] == 0) continue;
      any_agent = true;
      LearnStatus status = LearnStatus::expired;
      detail::visit_at(agents_, a, [&](auto& agent) { status = agent.learn(page.decisions[a], credited_[a]); });
      any_learned = any_learned || status == LearnStatus::learned;
      any_duplicate = any_duplicate || status == LearnStatus::duplicate;
    }
    if (any_learned || !any_agent) {  // a page no agent took part in has nothing to teach
      ++counters_.feedback;
      policy_.after_learn(agents_, counters_.feedback);
      return LearnStatus::learned;
    }
    if (any_duplicate) {  // someone answered the agents' decisions directly
      ++counters_.duplicates;
      return LearnStatus::duplicate;
    }
    page.late = true;
    ++counters_.late;
    return LearnStatus::expired;
  }

  /// Calls f(agent I) with write access to it (e.g. to load a checkpoint into its model with
  /// Agent::with_model, or to set its clock), and returns what f returns. The agent must stay
  /// usable: its pending decisions belong to pages this coordinator still remembers.
  template <std::size_t I, class F>
  decltype(auto) with_agent(F&& f) {
    return std::forward<F>(f)(std::get<I>(agents_));
  }

  /// Agent I.
  template <std::size_t I>
  const auto& agent() const noexcept {
    return std::get<I>(agents_);
  }
  /// All agents.
  const std::tuple<Agents...>& agents() const noexcept { return agents_; }
  /// The coordination policy.
  const Policy& policy() const noexcept { return policy_; }
  /// The catalog (held by reference).
  const Catalog& catalog() const noexcept { return catalog_; }
  /// The settings.
  const CoordinatorConfig& config() const noexcept { return config_; }
  /// What the coordinator has done so far (each agent keeps its own counters too).
  const CoordinatorCounters& counters() const noexcept { return counters_; }
  /// Pages awaiting feedback.
  std::size_t pending() const noexcept {
    std::size_t n = 0;
    for (const PendingPage& p : pending_) n += (p.id != 0 && !p.answered) ? 1 : 0;
    return n;
  }

  /// Writes the coordinator (see "Saving and loading" in the class comment). Throws Error when
  /// an agent or the policy fails to save.
  void save(std::ostream& out) const
    requires(PersistentExplorer<typename Agents::explorer_type> && ...)
  {
    io::ModelWriter w(out, stream_type, 1);
    w.u64("agents", agent_count);
    w.u64("max_pending", config_.max_pending);
    w.u64("pages", counters_.pages);
    w.u64("feedback", counters_.feedback);
    w.u64("duplicates", counters_.duplicates);
    w.u64("late", counters_.late);
    w.u64("evicted", counters_.evicted);
    w.u64("next_id", next_id_);
    // The remembered pages are the last min(max_pending, next_id - 1) ids, in id order.
    for (std::uint64_t id = first_remembered(next_id_, pending_.size()); id < next_id_; ++id) {
      const PendingPage& p = pending_[id % pending_.size()];
      w.u64("answered", p.answered ? 1 : 0);
      w.u64("answered_late", p.late ? 1 : 0);
      w.u64s("slot_agents", as_u64s(p.agents));
      w.u64s("positions", as_u64s(p.positions));
      w.u64s("items", as_u64s(p.items));
      w.floats("relevance", p.relevance);
      w.u64s("decisions", p.decisions);
    }
    if constexpr (policy_saved) w.object("policy", policy_);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (w.object("agent_" + std::to_string(I), std::get<I>(agents_)), ...);
    }(std::make_index_sequence<agent_count>{});
    w.finish();
  }

  /// Replaces the whole coordinator but its catalog with a saved one (see "Saving and loading"
  /// in the class comment): config, counters, pages, the policy (when it saves itself) and every
  /// agent, each loaded with `item_matrices`. Throws Error, changing nothing (but see Shared<M>
  /// in the class comment), on a stream of another type or agent count, a damaged or
  /// inconsistent stream, or an agent's or the policy's load failing.
  void load(std::istream& in, std::span<const MatrixView> item_matrices = {})
    requires(PersistentExplorer<typename Agents::explorer_type> && ...)
  {
    constexpr std::uint64_t size_max = std::numeric_limits<std::size_t>::max();
    io::ModelReader r(in, stream_type, 1);
    const auto fail_unless = [](bool ok, const auto& what) {
      marl_rec::detail::require(ok, [&] { return std::string("loading a 'coordinator' model: ") + what(); });
    };
    r.u64("agents", agent_count, agent_count);
    CoordinatorConfig config;
    config.max_pending = static_cast<std::size_t>(r.u64("max_pending", 1, coordinator_max_loaded_pending));
    CoordinatorCounters counters;
    counters.pages = r.u64("pages");
    counters.feedback = r.u64("feedback");
    counters.duplicates = r.u64("duplicates");
    counters.late = r.u64("late");
    counters.evicted = r.u64("evicted");
    const std::uint64_t next_id = r.u64("next_id", 1, std::numeric_limits<std::uint64_t>::max());
    const std::uint64_t first = first_remembered(next_id, config.max_pending);
    std::vector<PendingPage> pending(config.max_pending);
    for (std::uint64_t id = first; id < next_id; ++id) {
      const auto at = [&](const std::string& what) { return "page " + std::to_string(id) + ": " + what; };
      PendingPage& p = pending[id % pending.size()];
      p.id = id;
      p.answered = r.u64("answered", 0, 1) == 1;
      p.late = r.u64("answered_late", 0, p.answered ? 1 : 0) == 1;
      const std::vector<std::uint64_t> agents = r.u64s("slot_agents", r.array_size("slot_agents"));
      const std::vector<std::uint64_t> positions = r.u64s("positions", agents.size());
      const std::vector<std::uint64_t> items = r.u64s("items", agents.size());
      p.relevance = r.floats("relevance", agents.size());
      const std::vector<std::uint64_t> decisions = r.u64s("decisions", agent_count);
      for (std::size_t a = 0; a < agent_count; ++a) p.decisions[a] = decisions[a];
      for (std::size_t s = 0; s < agents.size(); ++s) {
        fail_unless(agents[s] < agent_count && p.decisions[agents[s]] != 0, [&] {
          return at("slot " + std::to_string(s) + " names agent " + std::to_string(agents[s]) +
                    ", which has no decision on the page");
        });
        fail_unless(positions[s] <= size_max && items[s] <= size_max,
                    [&] { return at("slot " + std::to_string(s) + " does not fit this platform's size_t"); });
        p.agents.push_back(static_cast<std::size_t>(agents[s]));
        p.positions.push_back(static_cast<std::size_t>(positions[s]));
        p.items.push_back(static_cast<std::size_t>(items[s]));
      }
    }
    std::optional<Policy> policy;  // a copy, loaded, when the policy saves itself
    if constexpr (policy_saved) r.object("policy", policy.emplace(policy_));
    std::array<std::string, agent_count> streams;
    for (std::size_t a = 0; a < agent_count; ++a) streams[a] = r.stream("agent_" + std::to_string(a));
    r.finish();

    std::tuple<Agents...> loaded = agents_;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      const auto load_agent = [&](auto& agent, std::size_t a) {
        std::istringstream nested(streams[a]);
        agent.load(nested, item_matrices);
        fail_unless(nested.peek() == std::char_traits<char>::eof(),
                    [&] { return "field 'agent_" + std::to_string(a) + "' has bytes after its stream"; });
      };
      (load_agent(std::get<I>(loaded), I), ...);
    }(std::make_index_sequence<agent_count>{});
    // Every page's decisions were issued by their agents.
    for (std::uint64_t id = first; id < next_id; ++id) {
      const PendingPage& p = pending[id % pending.size()];
      for (std::size_t a = 0; a < agent_count; ++a) {
        std::uint64_t issued = 0;
        detail::visit_at(loaded, a, [&](const auto& agent) { issued = agent.next_id(); });
        fail_unless(p.decisions[a] < issued, [&] {
          return "page " + std::to_string(id) + ": agent " + std::to_string(a) + "'s decision " +
                 std::to_string(p.decisions[a]) + " was never issued by it";
        });
      }
    }
    config_ = config;
    counters_ = counters;
    pending_ = std::move(pending);
    next_id_ = next_id;
    if constexpr (policy_saved) policy_ = std::move(*policy);
    agents_ = std::move(loaded);
  }

  /// load() with one item matrix (typically `catalog.embeddings()`).
  void load(std::istream& in, MatrixView item_matrix)
    requires(PersistentExplorer<typename Agents::explorer_type> && ...)
  {
    load(in, std::span<const MatrixView>(&item_matrix, 1));
  }

 private:
  // What learn() needs of a served page: per slot its agent, the position in that agent's
  // decision, the item and the agent's bid; per agent its decision id (0: not asked).
  struct PendingPage {
    std::uint64_t id = 0;  // 0: never used
    bool answered = false;
    // Answered too late (every agent's decision had expired): a retry is late again.
    bool late = false;
    std::vector<std::size_t> agents;
    std::vector<std::size_t> positions;
    std::vector<std::size_t> items;
    std::vector<float> relevance;
    std::array<std::uint64_t, agent_count> decisions{};
  };

  static constexpr const char* stream_type = "coordinator";
  // Whether the policy saves itself (its save/load are then part of the coordinator's stream).
  static constexpr bool policy_saved = requires(const Policy& p, Policy& q, std::ostream& out, std::istream& in) {
    p.save(out);
    q.load(in);
  };

  // The oldest id the ring can still hold: the last min(slots, next_id - 1) ids are remembered.
  static std::uint64_t first_remembered(std::uint64_t next_id, std::size_t slots) noexcept {
    return next_id - 1 > slots ? next_id - slots : 1;
  }
  template <class T>
  static std::vector<std::uint64_t> as_u64s(const std::vector<T>& v) {
    return std::vector<std::uint64_t>(v.begin(), v.end());
  }

  PendingPage& slot_of(std::uint64_t id) { return pending_[id % pending_.size()]; }

  template <class T>
  static void copy_into(std::vector<T>& v, std::span<const T> s) {
    v.clear();
    if (!s.empty()) v.insert(v.end(), s.begin(), s.end());
  }

  template <class Objectives>
  void serve(const Context& context, std::span<const Candidates> pools, std::size_t slots, Objectives& objectives,
             Slate& out) {
    out.id = 0;
    marl_rec::detail::require(slots >= 1, "Coordinator::recommend: slots must be at least 1");
    PageAssembly<Objectives, Agents...> page(agents_, catalog_, context, pools, slots, objectives,
                                             std::span<Decision>(decisions_), out, positions_);
    try {
      policy_.assemble(page);
      // Narrow each asked agent's decision to what the page shows of it.
      for (std::size_t a = 0; a < agent_count; ++a) {
        if (decisions_[a].id == 0) continue;
        shown_.clear();
        for (std::size_t s = 0; s < out.agents.size(); ++s) {
          if (out.agents[s] == a) shown_.push_back(positions_[s]);
        }
        detail::visit_at(agents_, a, [&](auto& agent) { agent.set_shown(decisions_[a].id, shown_); });
      }
      // Before the page is issued: if an objective fails to record it, no page exists.
      objectives.record(std::span<const std::size_t>(out.items), catalog_);
    } catch (...) {
      withdraw();
      out.id = 0;
      throw;
    }
    const std::uint64_t id = next_id_++;
    PendingPage& p = slot_of(id);
    if (p.id != 0 && !p.answered) ++counters_.evicted;
    p.id = id;
    p.answered = false;
    p.late = false;
    copy_into(p.agents, std::span<const std::size_t>(out.agents));
    copy_into(p.positions, std::span<const std::size_t>(positions_));
    copy_into(p.items, std::span<const std::size_t>(out.items));
    p.relevance.clear();
    for (std::size_t s = 0; s < out.agents.size(); ++s) {
      p.relevance.push_back(decisions_[out.agents[s]].scores[positions_[s]]);
    }
    for (std::size_t a = 0; a < agent_count; ++a) p.decisions[a] = decisions_[a].id;
    out.id = id;
    ++counters_.pages;
  }

  // After a failed assembly: every decision made for the page shows nothing (best effort: an
  // agent that cannot narrow it any more has already closed it).
  void withdraw() noexcept {
    for (std::size_t a = 0; a < agent_count; ++a) {
      if (decisions_[a].id == 0) continue;
      try {
        detail::visit_at(agents_, a, [&](auto& agent) { agent.set_shown(decisions_[a].id, std::span<const std::size_t>{}); });
      } catch (...) {  // NOLINT(bugprone-empty-catch): nothing left to undo
      }
    }
  }

  // The page's feedback names slots of the page and has finite rewards, also when summed under
  // each slot's agent's reward weights.
  void check_page_feedback(std::uint64_t id, const PageCredit<Agents...>& view, const Feedback& feedback) const {
    const auto check_slot = [&](std::size_t s, const char* kind) {
      marl_rec::detail::require(s < view.size(), [&] {
        return "Coordinator::learn: slate " + std::to_string(id) + " has " + std::to_string(view.size()) +
               " slots; " + kind + " slot " + std::to_string(s) + " is not one of them";
      });
    };
    for (const std::size_t s : feedback.clicked) check_slot(s, "clicked");
    for (const std::size_t s : feedback.purchased) check_slot(s, "purchased");
    for (const auto& entry : feedback.rewards) {
      const std::size_t s = entry.first;
      check_slot(s, "rewarded");
      marl_rec::detail::require(std::isfinite(entry.second), [&] {
        return "Coordinator::learn: slate " + std::to_string(id) + ": the reward for slot " + std::to_string(s) +
               " is not finite";
      });
    }
    for (std::size_t s = 0; s < view.size(); ++s) {
      marl_rec::detail::require(std::isfinite(view.reward_of(feedback, s)), [&] {
        return "Coordinator::learn: slate " + std::to_string(id) + ": the reward for slot " + std::to_string(s) +
               " is not finite";
      });
    }
  }

  // What the policy credited names only positions each agent showed on the page, with finite
  // rewards (summed, under the agent's weights): otherwise an agent would throw midway, after
  // others had learned.
  void check_credit(std::uint64_t id, const PendingPage& page) const {
    for (std::size_t a = 0; a < agent_count; ++a) {
      const Feedback& f = credited_[a];
      const auto shown = [&](std::size_t position) {
        for (std::size_t s = 0; s < page.agents.size(); ++s) {
          if (page.agents[s] == a && page.positions[s] == position) return true;
        }
        return false;
      };
      const auto check_position = [&](std::size_t position) {
        marl_rec::detail::require(shown(position), [&] {
          return "Coordinator::learn: slate " + std::to_string(id) + ": the policy credited agent " +
                 std::to_string(a) + " with position " + std::to_string(position) +
                 " of its decision, which the page did not show";
        });
      };
      for (const std::size_t p : f.clicked) check_position(p);
      for (const std::size_t p : f.purchased) check_position(p);
      for (const auto& entry : f.rewards) check_position(entry.first);
      for (std::size_t s = 0; s < page.agents.size(); ++s) {
        if (page.agents[s] != a) continue;
        double r = 0.0;
        detail::visit_at(agents_, a, [&](const auto& agent) { r = agent.reward_of(f, page.positions[s]); });
        marl_rec::detail::require(std::isfinite(r), [&] {
          return "Coordinator::learn: slate " + std::to_string(id) + ": the policy credited agent " +
                 std::to_string(a) + " a reward that is not finite";
        });
      }
    }
  }

  const Catalog& catalog_;
  Policy policy_;
  std::tuple<Agents...> agents_;
  CoordinatorConfig config_;
  std::vector<PendingPage> pending_;
  std::uint64_t next_id_ = 1;
  CoordinatorCounters counters_;
  // Per-call scratch, reused.
  std::array<Decision, agent_count> decisions_{};
  std::vector<std::size_t> positions_;
  std::vector<std::size_t> shown_;
  std::array<Feedback, agent_count> credited_{};
};

template <class Policy, class... Agents>
Coordinator(const Catalog&, Policy, Agents...) -> Coordinator<Policy, Agents...>;
template <class Policy, class... Agents>
Coordinator(const Catalog&, Policy, CoordinatorConfig, Agents...) -> Coordinator<Policy, Agents...>;
template <class Policy, class... Agents>
Coordinator(const Catalog&, Policy, std::tuple<Agents...>) -> Coordinator<Policy, Agents...>;
template <class Policy, class... Agents>
Coordinator(const Catalog&, Policy, std::tuple<Agents...>, CoordinatorConfig) -> Coordinator<Policy, Agents...>;

}  // namespace marl_rec
