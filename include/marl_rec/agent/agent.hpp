// marl_rec — Agent<Model, Explorer>: recommends with a model and an explorer, remembers what it
// showed, and learns when the feedback arrives (late, out of order, twice, or never).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/explore/default_explorer.hpp"
#include "marl_rec/io/matrix_fingerprint.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace marl_rec {

/// Settings of an Agent.
struct AgentConfig {
  /// Decisions remembered while their feedback is awaited. When a new decision needs the slot of
  /// an unanswered one, the old one expires (as if its time-to-live had passed).
  std::size_t max_pending = 4096;
  /// Seconds after which a decision expires and its feedback is no longer accepted.
  double time_to_live = 3600.0;
  /// The reward learned for each shown item of a decision that expires without feedback, or
  /// nothing learned when empty (the usual choice when silence is not evidence).
  std::optional<double> default_reward = std::nullopt;
  /// How clicks and purchases become rewards.
  RewardWeights rewards{};
};

/// What learn() did with a piece of feedback.
enum class LearnStatus {
  /// The model learned from it.
  learned,
  /// The decision already had its feedback: this copy was ignored (counted in duplicates).
  duplicate,
  /// The decision had expired (time-to-live, or evicted by newer decisions): ignored (counted in
  /// late).
  expired,
};

/// The largest max_pending Agent::load accepts: every slot is allocated when an agent is built
/// or loaded, so this bounds what a forged stream can make a load allocate (a few hundred MB).
inline constexpr std::size_t agent_max_loaded_pending = std::size_t{1} << 20;

/// What an agent has done so far.
struct AgentCounters {
  std::uint64_t decisions = 0;
  /// Feedback accepted (one per answered decision).
  std::uint64_t feedback = 0;
  /// Model updates (one per shown item of an answered or defaulted decision; after set_shown,
  /// one per position still shown).
  std::uint64_t updates = 0;
  std::uint64_t duplicates = 0;
  /// Feedback that arrived after its decision expired.
  std::uint64_t late = 0;
  /// Decisions that expired without feedback.
  std::uint64_t expired = 0;
  /// Of those, the ones the default reward was learned for.
  std::uint64_t defaulted = 0;
};

/// An agent owns a model and an explorer. `recommend` asks the explorer for k items, keeps a
/// copy of the context for the feedback to come, and returns a Decision; `learn(id, feedback)`
/// finds that decision and updates the model once per shown item.
///
/// Rules:
/// - Feedback may arrive in any order. The first feedback for a decision is learned; later ones
///   are counted as duplicates and ignored (no double counting). Feedback for a decision that
///   expired is counted as late and ignored. A decision id this agent never issued is an Error
///   (a caller bug, not a late message). Feedback whose rewards are not finite (alone or summed)
///   is an Error and teaches nothing. If the model itself throws while learning, the decision
///   counts as answered (the positions before the failure were learned; a retry is a duplicate).
/// - The clock is read as never going backwards (the largest time seen so far is used).
/// - An explicit candidate list that names an item twice is an Error, and no decision is issued.
/// - The agent copies the context's features, history, user, state and candidate list; the item
///   matrix (`context.items`) is kept as a view, so it must stay alive and unchanged until the
///   decision is answered or expires.
/// - Not thread-safe: one thread calls recommend and learn (to serve from many threads while
///   learning, use a ServingAgent).
/// - A decision may be narrowed to the positions actually shown (`set_shown`: a coordinator asks
///   for more proposals than it shows). Positions keep their numbers; only the shown ones are
///   learned from (feedback, and the default reward on expiry), and feedback naming another
///   position is an Error.
/// - After warm-up (every pending slot used once with contexts of the same size), `recommend`
///   into a reused Decision does not allocate.
///
/// Saving and loading (`save(out)`, `load(in, item_matrices)`; stream type "agent", version 1;
/// available when the explorer is a PersistentExplorer, as every library explorer is):
/// - Saved: the config, the counters, the next decision id, every remembered decision (open,
///   answered or expired: its state, features, history, user, session state, candidates, shown
///   and hidden positions), the model and the explorer (each as its own nested stream, so their
///   Rng states too). A loaded agent issues ids from the saved next id on, and learn / set_shown
///   on decisions made before the save work exactly as they would have: save, load and go on
///   gives bit for bit what never stopping gives (with the same clock readings).
/// - Not saved: the clock (a loaded agent keeps its own), and the item matrices the decisions
///   refer to. For each distinct matrix an open decision refers to, the stream records its shape
///   and a fingerprint of its values (io::matrix_crc32c); `load` takes the matrices the caller
///   has now (typically `catalog.embeddings()`) and gives each decision the one of the same
///   shape and fingerprint. An open decision whose matrix is not among them is an Error;
///   decisions over an empty matrix (0 rows or columns) need none. An answered decision keeps its matrix
///   only when an open decision referred to the same one (learn(id, feedback, next) with such a
///   decision as `next` is otherwise an Error after a load).
/// - Times: each decision's age at the save (the save-time clock reading minus its time) is
///   kept, and after a load its time is the load-time clock reading minus that age: the time
///   between save and load does not count toward the time-to-live. The load-time reading is
///   the loaded agent's new clock high-water mark. (The stream holds the save-time reading and
///   the decisions' times, so a clock that goes on from the save-time reading restores them
///   exactly.) A clock reading NaN or infinity cannot save or load.
/// - Strong guarantee: a load that throws (a stream of another type, damaged, inconsistent, a
///   missing matrix, the model's or explorer's own load failing) leaves the agent unchanged. The
///   model is loaded last, into a copy: a model that is a handle to one shared with other agents
///   (Shared<M>) is loaded through the handle, so a successful load changes it for all of them.
/// - A loaded agent warms up again before recommend stops allocating.
namespace detail {

/// Checks the feedback settings an Agent and a ServingAgent share (AgentConfig's fields); the
/// Error names `who` ("Agent: max_pending must be at least 1").
inline void check_feedback_settings(const std::string& who, const AgentConfig& c) {
  marl_rec::detail::require(c.max_pending >= 1, who + ": max_pending must be at least 1");
  marl_rec::detail::require(c.time_to_live > 0.0 && !std::isnan(c.time_to_live),
                            who + ": time_to_live must be positive");
  marl_rec::detail::require(!c.default_reward || std::isfinite(*c.default_reward),
                            who + ": default_reward must be finite");
  const RewardWeights& w = c.rewards;
  marl_rec::detail::require(std::isfinite(w.none) && std::isfinite(w.click) && std::isfinite(w.purchase),
                            who + ": reward weights must be finite");
}

/// AgentConfig's fields and AgentCounters as stream fields (the same in both agents' streams).
inline void write_feedback_state(io::ModelWriter& w, const AgentConfig& c, const AgentCounters& n) {
  w.u64("max_pending", c.max_pending);
  w.f64("time_to_live", c.time_to_live);
  w.u64("has_default_reward", c.default_reward ? 1 : 0);
  w.f64("default_reward", c.default_reward.value_or(0.0));
  w.f64("reward_none", c.rewards.none);
  w.f64("reward_click", c.rewards.click);
  w.f64("reward_purchase", c.rewards.purchase);
  w.u64("decisions", n.decisions);
  w.u64("feedback", n.feedback);
  w.u64("updates", n.updates);
  w.u64("duplicates", n.duplicates);
  w.u64("late", n.late);
  w.u64("expired", n.expired);
  w.u64("defaulted", n.defaulted);
}

/// Reads what write_feedback_state wrote, checking it; Errors start "loading a '<type>' model: ".
inline std::pair<AgentConfig, AgentCounters> read_feedback_state(io::ModelReader& r, const std::string& type,
                                                                 std::size_t max_pending_limit) {
  const auto require = [&](bool ok, const auto& what) {
    marl_rec::detail::require(ok, [&] { return "loading a '" + type + "' model: " + what(); });
  };
  const auto check_finite = [&](const char* field, double value) {
    require(std::isfinite(value), [&] { return std::string("field '") + field + "' is not finite"; });
    return value;
  };
  AgentConfig config;
  config.max_pending = static_cast<std::size_t>(r.u64("max_pending", 1, max_pending_limit));
  config.time_to_live = r.f64("time_to_live");
  require(config.time_to_live > 0.0, [&] {
    return "field 'time_to_live' must be positive, got " + std::to_string(config.time_to_live);
  });
  const bool has_default = r.u64("has_default_reward", 0, 1) == 1;
  const double default_reward = r.f64("default_reward");
  if (has_default) config.default_reward = check_finite("default_reward", default_reward);
  config.rewards.none = check_finite("reward_none", r.f64("reward_none"));
  config.rewards.click = check_finite("reward_click", r.f64("reward_click"));
  config.rewards.purchase = check_finite("reward_purchase", r.f64("reward_purchase"));
  AgentCounters counters;
  counters.decisions = r.u64("decisions");
  counters.feedback = r.u64("feedback");
  counters.updates = r.u64("updates");
  counters.duplicates = r.u64("duplicates");
  counters.late = r.u64("late");
  counters.expired = r.u64("expired");
  counters.defaulted = r.u64("defaulted");
  return {config, counters};
}

}  // namespace detail

template <Model M, ExplorerFor<M> E = DefaultExplorer<M>>
class Agent {
 public:
  using model_type = M;
  using explorer_type = E;
  /// Seconds, from any monotonic source; the default is std::chrono::steady_clock.
  using Clock = std::function<double()>;

  explicit Agent(M model = M{}, E explorer = E{}, AgentConfig config = {})
      : model_(std::move(model)), explorer_(std::move(explorer)), config_(std::move(config)) {
    detail::check_feedback_settings("Agent", config_);
    pending_.resize(config_.max_pending);
  }

  /// Replaces the clock (e.g. a simulation's time, or a test's).
  void set_clock(Clock clock) {
    marl_rec::detail::require(static_cast<bool>(clock), "Agent::set_clock: empty clock");
    clock_ = std::move(clock);
  }

  /// Chooses up to k of `candidates` (excluding those `exclude` names) into `out`, reusing its
  /// storage. out.id is the new decision's id.
  template <ItemExclusion Exclude = NoExclusion>
  void recommend(const Context& context, Candidates candidates, std::size_t k, Decision& out,
                 const Exclude& exclude = {}) {
    out.id = 0;  // until this decision is issued (0 is never an id)
    detail::check_distinct(candidates, distinct_scratch_, "Agent::recommend");
    const double now = now_();
    expire_due(now);
    explorer_.choose(model_, context, candidates, k, exclude, out);
    const std::uint64_t id = next_id_;
    Pending& slot = slot_of(id);
    if (slot.id != 0 && slot.state == State::open) expire(slot);
    ++next_id_;
    slot.id = id;
    slot.time = now;
    slot.state = State::open;
    copy_into(slot.features, context.features);
    copy_into(slot.history, context.history);
    slot.items = context.items;
    slot.items_lost = false;
    slot.user = context.user;
    slot.session_state = context.state;
    slot.all_candidates = candidates.is_all();
    slot.candidate_count = candidates.size();
    copy_into(slot.candidates, candidates.list());
    copy_into(slot.shown, std::span<const std::size_t>(out.items));
    slot.visible.assign(slot.shown.size(), 1);  // within capacity after warm-up: no allocation
    out.id = id;
    ++counters_.decisions;
  }

  /// As above, returning a new Decision.
  template <ItemExclusion Exclude = NoExclusion>
  Decision recommend(const Context& context, Candidates candidates, std::size_t k,
                     const Exclude& exclude = {}) {
    Decision out;
    recommend(context, candidates, k, out, exclude);
    return out;
  }

  /// Chooses among every row of context.items.
  template <ItemExclusion Exclude = NoExclusion>
  Decision recommend(const Context& context, std::size_t k, const Exclude& exclude = {}) {
    marl_rec::detail::require(context.items.rows() > 0,
                              "Agent::recommend: the context has no item rows; pass the candidates");
    return recommend(context, Candidates::all(context.items.rows()), k, exclude);
  }

  /// Learns from the feedback on decision `id` (see the class rules). Throws marl_rec::Error,
  /// learning nothing, when the id was never issued, a position is not one of the decision's, or
  /// an explicit reward is not finite.
  LearnStatus learn(std::uint64_t id, const Feedback& feedback) {
    return learn_impl(id, feedback, nullptr);
  }

  /// Learns from the feedback on decision `id` as a transition to the state of decision `next`
  /// (the next request of the same session): each shown item's target is its reward plus γ times
  /// the model's best value among `next`'s candidates. `next` must be a decision this agent still
  /// remembers (answered or not).
  LearnStatus learn(std::uint64_t id, const Feedback& feedback, std::uint64_t next)
    requires SequentialModel<M>
  {
    check_issued("Agent::learn", next);
    const Pending& n = slot_of(next);
    marl_rec::detail::require(n.id == next && n.state != State::expired, [&] {
      return "Agent::learn: the next decision " + std::to_string(next) +
             " has expired; its state is no longer known";
    });
    marl_rec::detail::require(!n.items_lost, [&] {
      return "Agent::learn: the next decision " + std::to_string(next) +
             " was answered before a save, and its item matrix was not given to load";
    });
    return learn_impl(id, feedback, &n);
  }

  /// Narrows open decision `id` to `positions` (indices into its Decision::items, distinct, in
  /// any order; may be empty): the other positions were proposed but not shown, so they are never
  /// learned from — feedback naming one is an Error, and on expiry the default reward goes to the
  /// shown positions only. Positions keep their numbers. A decision can be narrowed again, never
  /// widened. Throws marl_rec::Error, changing nothing, when the id was never issued, the decision
  /// is no longer open (answered, or marked expired by eviction or a time-to-live sweep), or a
  /// position is out of range, repeated, or already hidden by an earlier call. The clock is not
  /// read: a decision past its time-to-live that no sweep has marked yet can still be narrowed
  /// (which only decides where its default reward goes when the sweep comes). Does not allocate.
  void set_shown(std::uint64_t id, std::span<const std::size_t> positions) {
    check_issued("Agent::set_shown", id);
    Pending& slot = slot_of(id);
    marl_rec::detail::require(slot.id == id && slot.state == State::open, [&] {
      return "Agent::set_shown: decision " + std::to_string(id) + " is not open (" +
             (slot.id == id && slot.state == State::answered ? "already answered" : "expired") + ")";
    });
    for (std::size_t j = 0; j < positions.size(); ++j) {
      const std::size_t p = positions[j];
      marl_rec::detail::require(p < slot.shown.size(), [&] {
        return "Agent::set_shown: decision " + std::to_string(id) + " has " +
               std::to_string(slot.shown.size()) + " positions; position " + std::to_string(p) +
               " is not one of them";
      });
      marl_rec::detail::require(slot.visible[p] != 0, [&] {
        return "Agent::set_shown: decision " + std::to_string(id) + ": position " + std::to_string(p) +
               " was already hidden (a decision is narrowed, never widened)";
      });
      // Quadratic, but the lists are a page's slots: no allocation beats a set here.
      for (std::size_t i = 0; i < j; ++i) {
        marl_rec::detail::require(positions[i] != p, [&] {
          return "Agent::set_shown: decision " + std::to_string(id) + ": position " + std::to_string(p) +
                 " is listed twice";
        });
      }
    }
    // Checked: now mark. Every position not listed is hidden.
    for (unsigned char& v : slot.visible) v = 0;
    for (const std::size_t p : positions) slot.visible[p] = 1;
  }

  /// Expires every decision older than the time-to-live now (recommend and learn do this too).
  void expire_due() { expire_due(now_()); }

  /// The reward the feedback gives position `position` under this agent's reward weights.
  double reward_of(const Feedback& feedback, std::size_t position) const {
    return reward_for(config_.rewards, feedback, position);
  }

  const M& model() const noexcept { return model_; }
  /// Calls f(model) with write access to the model and returns what f returns: the one way to
  /// change the model between decisions other than learn() (e.g. a coordinator averaging
  /// parameters across agents, or loading a checkpoint). Pending decisions stay pending and are
  /// learned later by the changed model.
  template <class F>
  decltype(auto) with_model(F&& f) {
    return std::forward<F>(f)(model_);
  }
  const E& explorer() const noexcept { return explorer_; }
  const AgentConfig& config() const noexcept { return config_; }
  const AgentCounters& counters() const noexcept { return counters_; }
  /// The id the next decision will get (ids 1..next_id() - 1 have been issued).
  std::uint64_t next_id() const noexcept { return next_id_; }
  /// Decisions awaiting feedback.
  std::size_t pending() const noexcept {
    std::size_t n = 0;
    for (const Pending& p : pending_) n += (p.id != 0 && p.state == State::open) ? 1 : 0;
    return n;
  }

  /// Writes the agent (see "Saving and loading" in the class comment): config, counters, every
  /// remembered decision with its age, a fingerprint of each item matrix an open decision refers
  /// to, the explorer and the model. Reads the clock (not kept as a high-water mark). Throws
  /// Error when the clock reads NaN or infinity, or when the model or explorer fails to save.
  void save(std::ostream& out) const
    requires PersistentExplorer<E>
  {
    const double now = std::max(last_now_, finite_reading("Agent::save"));
    io::ModelWriter w(out, stream_type, 1);
    detail::write_feedback_state(w, config_, counters_);
    w.u64("next_id", next_id_);
    // Ids below the first remembered one are all overwritten, which expire_due skips anyway:
    // saved as that first id, so a forged stream cannot make expire_due walk 2^64 ids.
    w.u64("oldest", std::max(oldest_, first_remembered(next_id_, pending_.size())));
    w.f64("clock", now);
    const MatrixTable table = matrix_table();
    w.u64("matrices", table.entries.size());
    for (const MatrixView& m : table.entries) {
      w.u64("rows", m.rows());
      w.u64("cols", m.cols());
      w.u64("crc", io::matrix_crc32c(m));
    }
    // The remembered decisions are the last min(max_pending, next_id - 1) ids, in id order.
    for (std::uint64_t id = first_remembered(next_id_, pending_.size()), k = 0; id < next_id_; ++id, ++k) {
      const Pending& p = pending_[id % pending_.size()];
      w.u64("state", static_cast<std::uint64_t>(p.state));
      w.f64("time", p.time);
      w.floats("features", p.features);
      w.u64s("history", as_u64s(p.history));
      w.u64("user", p.user);
      w.u64("session_state", p.session_state);
      w.u64("all_candidates", p.all_candidates ? 1 : 0);
      w.u64("candidate_count", p.candidate_count);
      w.u64s("candidates", as_u64s(p.candidates));
      w.u64s("shown", as_u64s(p.shown));
      w.u64s("visible", as_u64s(p.visible));
      w.u64("matrix", table.index[k]);
    }
    w.object("explorer", explorer_);
    w.object("model", model_);
    w.finish();
  }

  /// Replaces the whole agent but its clock with a saved one (see "Saving and loading" in the
  /// class comment). `item_matrices`: the item matrices the saved open decisions referred to, as
  /// the caller has them now (any order; extra ones are ignored). Throws Error, changing
  /// nothing, on a stream of another type, a damaged or inconsistent stream, an open decision
  /// whose matrix is not given (naming the decision and the matrix), a clock reading NaN or
  /// infinity, or a failing model or explorer load.
  void load(std::istream& in, std::span<const MatrixView> item_matrices = {})
    requires PersistentExplorer<E>
  {
    io::ModelReader r(in, stream_type, 1);
    const auto require = [](bool ok, const auto& what) {
      marl_rec::detail::require(ok, [&] { return std::string("loading a 'agent' model: ") + what(); });
    };
    const auto check_finite = [&](const char* field, double value) {
      require(std::isfinite(value), [&] { return std::string("field '") + field + "' is not finite"; });
      return value;
    };
    const auto state = detail::read_feedback_state(r, stream_type, agent_max_loaded_pending);
    AgentConfig config = state.first;  // (not structured bindings: clang 14 cannot capture them)
    AgentCounters counters = state.second;
    const std::uint64_t next_id = r.u64("next_id", 1, std::numeric_limits<std::uint64_t>::max());
    const std::uint64_t first = first_remembered(next_id, config.max_pending);
    const std::uint64_t oldest = r.u64("oldest", first, next_id);
    const double clock = check_finite("clock", r.f64("clock"));
    const std::uint64_t matrix_count = r.u64("matrices", 0, next_id - first);
    std::vector<MatrixEntry> entries;
    for (std::uint64_t m = 0; m < matrix_count; ++m) {
      MatrixEntry e;
      e.rows = to_size(r.u64("rows"));
      e.cols = to_size(r.u64("cols"));
      e.crc = static_cast<std::uint32_t>(r.u64("crc", 0, 0xFFFFFFFFu));
      entries.push_back(e);
    }
    std::vector<Pending> pending(config.max_pending);
    std::vector<std::uint64_t> matrix_of;  // per remembered decision, in id order
    double previous = -std::numeric_limits<double>::infinity();
    for (std::uint64_t id = first; id < next_id; ++id) {
      const auto at = [&](const std::string& what) { return "decision " + std::to_string(id) + ": " + what; };
      Pending& p = pending[id % pending.size()];
      p.id = id;
      p.state = static_cast<State>(r.u64("state", 0, 2));
      p.time = r.f64("time");
      require(std::isfinite(p.time) && p.time >= previous && p.time <= clock, [&] {
        return at("time " + std::to_string(p.time) + " is not finite, or before an earlier decision's, or after "
                  "the save");
      });
      previous = p.time;
      p.features = r.floats("features", r.array_size("features"));
      p.history = to_sizes(r.u64s("history", r.array_size("history")));
      p.user = to_size(r.u64("user"));
      p.session_state = to_size(r.u64("session_state"));
      p.all_candidates = r.u64("all_candidates", 0, 1) == 1;
      p.candidate_count = to_size(r.u64("candidate_count"));
      p.candidates = to_sizes(r.u64s("candidates", r.array_size("candidates")));
      require(p.all_candidates ? p.candidates.empty() : p.candidates.size() == p.candidate_count, [&] {
        return at("candidate_count " + std::to_string(p.candidate_count) + " does not match " +
                  std::to_string(p.candidates.size()) + " listed candidates");
      });
      p.shown = to_sizes(r.u64s("shown", r.array_size("shown")));
      check_shown(p, at);
      const std::vector<std::uint64_t> visible = r.u64s("visible", p.shown.size());
      p.visible.resize(visible.size());
      for (std::size_t j = 0; j < visible.size(); ++j) {
        require(visible[j] <= 1, [&] { return at("visible flags are 0 or 1"); });
        p.visible[j] = static_cast<unsigned char>(visible[j]);
      }
      matrix_of.push_back(r.u64("matrix", p.state == State::open ? 1 : 0, entries.size()));
    }
    E explorer = explorer_;
    r.object("explorer", explorer);
    const std::string model_stream = r.stream("model");
    r.finish();

    // The time between save and load does not count: each decision keeps its age.
    const double now = finite_reading("Agent::load");
    for (std::uint64_t id = first; id < next_id; ++id) pending[id % pending.size()].time += now - clock;
    // Each recorded matrix: rebuilt when empty, else the given one of its shape and fingerprint.
    std::vector<std::optional<MatrixView>> resolved(entries.size());
    std::vector<std::optional<std::uint32_t>> given_crc(item_matrices.size());
    for (std::size_t m = 0; m < entries.size(); ++m) {
      const MatrixEntry& e = entries[m];
      if (e.rows == 0 || e.cols == 0) {
        resolved[m] = MatrixView(std::span<const float>{}, e.rows, e.cols);
        continue;
      }
      for (std::size_t g = 0; g < item_matrices.size() && !resolved[m]; ++g) {
        const MatrixView& candidate = item_matrices[g];
        if (candidate.rows() != e.rows || candidate.cols() != e.cols) continue;
        if (!given_crc[g]) given_crc[g] = io::matrix_crc32c(candidate);
        if (*given_crc[g] == e.crc) resolved[m] = candidate;
      }
    }
    for (std::uint64_t id = first, k = 0; id < next_id; ++id, ++k) {
      Pending& p = pending[id % pending.size()];
      const std::uint64_t m = matrix_of[k];
      if (m != 0 && resolved[m - 1]) {
        p.items = *resolved[m - 1];
        continue;
      }
      require(p.state != State::open, [&] {
        const MatrixEntry& e = entries[m - 1];
        char crc[11];
        std::snprintf(crc, sizeof crc, "0x%08x", static_cast<unsigned>(e.crc));
        return "pending decision " + std::to_string(id) + " refers to a " + std::to_string(e.rows) + " x " +
               std::to_string(e.cols) + " item matrix (crc " + crc + ") that was not given to load";
      });
      p.items_lost = true;  // answered or expired: its matrix was not kept
    }
    // Last, so that nothing after it can fail (a shared model changes for every holder).
    M model = model_;
    {
      std::istringstream nested(model_stream);
      model.load(nested);
      require(nested.peek() == std::char_traits<char>::eof(),
              [] { return std::string("field 'model' has bytes after its stream"); });
    }
    config_ = std::move(config);
    counters_ = counters;
    pending_ = std::move(pending);
    next_id_ = next_id;
    oldest_ = oldest;
    last_now_ = now;
    explorer_ = std::move(explorer);
    model_ = std::move(model);
  }

  /// load() with one item matrix (typically `catalog.embeddings()`).
  void load(std::istream& in, MatrixView item_matrix)
    requires PersistentExplorer<E>
  {
    load(in, std::span<const MatrixView>(&item_matrix, 1));
  }

 private:
  // The values are saved: do not renumber.
  enum class State : std::uint8_t { open = 0, answered = 1, expired = 2 };
  struct Pending {
    std::uint64_t id = 0;  // 0: never used
    double time = 0.0;
    State state = State::expired;
    std::vector<float> features;
    std::vector<std::size_t> history;
    MatrixView items;
    // Loaded without its item matrix (an answered decision's matrix that was not given to load):
    // `items` is empty and the decision cannot serve as learn's `next`.
    bool items_lost = false;
    std::size_t user = no_user;
    std::size_t session_state = 0;
    bool all_candidates = false;
    std::size_t candidate_count = 0;
    std::vector<std::size_t> candidates;
    std::vector<std::size_t> shown;
    // visible[p] != 0: position p was shown (all of them unless set_shown narrowed the decision).
    std::vector<unsigned char> visible;

    Context context() const {
      return Context{.features = features, .items = items, .history = history, .user = user,
                     .state = session_state};
    }
    Candidates candidate_set() const {
      return all_candidates ? Candidates::all(candidate_count) : Candidates(candidates);
    }
  };


  static constexpr const char* stream_type = "agent";

  // A recorded item matrix: its shape and fingerprint.
  struct MatrixEntry {
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::uint32_t crc = 0;
  };
  // The matrices a save records, and per remembered decision (id order) its entry + 1, or 0.
  struct MatrixTable {
    std::vector<MatrixView> entries;
    std::vector<std::uint64_t> index;
  };

  // The oldest id the ring can still hold: the last min(slots, next_id - 1) ids are remembered.
  static std::uint64_t first_remembered(std::uint64_t next_id, std::size_t slots) noexcept {
    return next_id - 1 > slots ? next_id - slots : 1;
  }

  // One matrix for the save's purposes: empty ones by shape alone (no values to refer to).
  static bool same_matrix(MatrixView a, MatrixView b) noexcept {
    if (a.empty() || b.empty()) return a.empty() && b.empty() && a.rows() == b.rows() && a.cols() == b.cols();
    return a.data() == b.data() && a.rows() == b.rows() && a.cols() == b.cols() && a.stride() == b.stride();
  }

  // Open decisions first (their matrices must be alive): each distinct one is recorded. An
  // answered or expired decision's matrix may no longer exist, so it is never read: such a
  // decision refers to a recorded matrix only when it is the same view as an open decision's
  // (or empty), else to none.
  MatrixTable matrix_table() const {
    MatrixTable table;
    const std::uint64_t first = first_remembered(next_id_, pending_.size());
    table.index.assign(next_id_ - first, 0);
    const auto find = [&](MatrixView m) -> std::uint64_t {
      for (std::size_t e = 0; e < table.entries.size(); ++e) {
        if (same_matrix(table.entries[e], m)) return e + 1;
      }
      return 0;
    };
    const auto add = [&](MatrixView m) {
      const std::uint64_t e = find(m);
      if (e != 0) return e;
      table.entries.push_back(m);
      return static_cast<std::uint64_t>(table.entries.size());
    };
    for (std::uint64_t id = first; id < next_id_; ++id) {
      const Pending& p = pending_[id % pending_.size()];
      if (p.state == State::open) table.index[id - first] = add(p.items);
    }
    for (std::uint64_t id = first; id < next_id_; ++id) {
      const Pending& p = pending_[id % pending_.size()];
      if (p.state == State::open || p.items_lost) continue;
      table.index[id - first] = p.items.empty() ? add(p.items) : find(p.items);
    }
    return table;
  }

  template <class T>
  static std::vector<std::uint64_t> as_u64s(const std::vector<T>& v) {
    return std::vector<std::uint64_t>(v.begin(), v.end());
  }
  static std::size_t to_size(std::uint64_t v) {
    marl_rec::detail::require(v <= std::numeric_limits<std::size_t>::max(), [&] {
      return "loading a 'agent' model: " + std::to_string(v) + " does not fit this platform's size_t";
    });
    return static_cast<std::size_t>(v);
  }
  static std::vector<std::size_t> to_sizes(std::vector<std::uint64_t> v) {
    if constexpr (std::is_same_v<std::size_t, std::uint64_t>) {
      return v;
    } else {
      std::vector<std::size_t> out;
      out.reserve(v.size());
      for (const std::uint64_t x : v) out.push_back(to_size(x));
      return out;
    }
  }

  // A loaded decision's shown items are among its candidates.
  template <class At>
  static void check_shown(const Pending& p, const At& at) {
    std::vector<std::size_t> sorted;
    if (!p.all_candidates) {
      sorted = p.candidates;
      std::sort(sorted.begin(), sorted.end());
    }
    for (const std::size_t item : p.shown) {
      const bool ok = p.all_candidates ? item < p.candidate_count
                                       : std::binary_search(sorted.begin(), sorted.end(), item);
      marl_rec::detail::require(ok, [&] {
        return "loading a 'agent' model: " + at("shown item " + std::to_string(item) + " is not a candidate");
      });
    }
  }

  // A clock reading for save and load, which keep times as finite numbers.
  double finite_reading(const char* where) const {
    const double t = clock_();
    marl_rec::detail::require(std::isfinite(t), [&] {
      return std::string(where) + ": the clock reads " + std::to_string(t) + " (saved times are finite)";
    });
    return t;
  }

  Pending& slot_of(std::uint64_t id) { return pending_[id % pending_.size()]; }

  // v = s, reusing v's storage. An empty span (possibly a null pointer) copies nothing: GCC 12
  // at -O3 warns about a memmove from null otherwise.
  template <class T>
  static void copy_into(std::vector<T>& v, std::span<const T> s) {
    v.clear();
    if (!s.empty()) v.insert(v.end(), s.begin(), s.end());
  }

  void check_issued(const char* where, std::uint64_t id) const {
    marl_rec::detail::require(id >= 1 && id < next_id_, [&] {
      return std::string(where) + ": decision id " + std::to_string(id) +
             " was never issued by this agent (ids 1.." + std::to_string(next_id_ - 1) + ")";
    });
  }

  LearnStatus learn_impl(std::uint64_t id, const Feedback& feedback, const Pending* next) {
    check_issued("Agent::learn", id);
    const double now = now_();
    expire_due(now);
    Pending& slot = slot_of(id);
    if (slot.id == id && slot.state == State::open && !(now - slot.time < config_.time_to_live)) {
      expire(slot);  // older than its time-to-live, though not at the front of the queue
    }
    if (slot.id != id || slot.state == State::expired) {
      ++counters_.late;
      return LearnStatus::expired;
    }
    if (slot.state == State::answered) {
      ++counters_.duplicates;
      return LearnStatus::duplicate;
    }
    // Check everything before learning anything, so bad feedback teaches nothing.
    const auto check_position = [&](std::size_t p, const char* kind) {
      marl_rec::detail::require(p < slot.shown.size(), [&] {
        return "Agent::learn: decision " + std::to_string(id) + " showed " +
               std::to_string(slot.shown.size()) + " items; " + kind + " position " +
               std::to_string(p) + " is not one of them";
      });
      marl_rec::detail::require(slot.visible[p] != 0, [&] {
        return "Agent::learn: decision " + std::to_string(id) + ": " + kind + " position " +
               std::to_string(p) + " was not shown (set_shown)";
      });
    };
    for (const std::size_t p : feedback.clicked) check_position(p, "clicked");
    for (const std::size_t p : feedback.purchased) check_position(p, "purchased");
    for (const auto& entry : feedback.rewards) {
      // (not a structured binding: clang 14 cannot capture those in the lambda below)
      const std::size_t p = entry.first;
      const double value = entry.second;
      check_position(p, "rewarded");
      marl_rec::detail::require(std::isfinite(value), [&] {
        return "Agent::learn: decision " + std::to_string(id) + ": the reward for position " +
               std::to_string(p) + " is not finite";
      });
    }
    // Sums of finite rewards can still overflow: check every position's total first.
    for (std::size_t p = 0; p < slot.shown.size(); ++p) {
      if (slot.visible[p] == 0) continue;
      marl_rec::detail::require(std::isfinite(reward_of(feedback, p)), [&] {
        return "Agent::learn: decision " + std::to_string(id) + ": the reward for position " +
               std::to_string(p) + " is not finite";
      });
    }
    // Answered before learning: if the model throws midway, the feedback is not learned twice
    // by a retry (the exception propagates; the positions before it were learned).
    slot.state = State::answered;
    ++counters_.feedback;
    const Context context = slot.context();
    for (std::size_t p = 0; p < slot.shown.size(); ++p) {
      if (slot.visible[p] == 0) continue;
      const double r = reward_of(feedback, p);
      if constexpr (SequentialModel<M>) {
        if (next != nullptr) {
          model_.update(context, slot.shown[p], r, next->context(), next->candidate_set());
          ++counters_.updates;
          continue;
        }
      }
      model_.update(context, slot.shown[p], r);
      ++counters_.updates;
    }
    return LearnStatus::learned;
  }

  // Marked expired before the default reward is learned, so a model that throws here is never
  // taught the same decision twice.
  void expire(Pending& slot) {
    slot.state = State::expired;
    ++counters_.expired;
    if (!config_.default_reward) return;
    const Context context = slot.context();
    for (std::size_t p = 0; p < slot.shown.size(); ++p) {
      if (slot.visible[p] == 0) continue;
      model_.update(context, slot.shown[p], *config_.default_reward);
      ++counters_.updates;
    }
    ++counters_.defaulted;
  }

  // Decisions are issued in time order, so the expired ones are a prefix of the open ones.
  void expire_due(double now) {
    while (oldest_ < next_id_) {
      Pending& slot = slot_of(oldest_);
      if (slot.id != oldest_) {  // overwritten: it was expired when its slot was reused
        ++oldest_;
        continue;
      }
      if (slot.time + config_.time_to_live > now) break;
      if (slot.state == State::open) expire(slot);
      ++oldest_;
    }
  }

  // The clock, never going backwards (a clock that does would let old feedback through) and
  // never NaN.
  double now_() {
    const double t = clock_();
    marl_rec::detail::require(!std::isnan(t), "Agent: the clock returned NaN");
    last_now_ = std::max(last_now_, t);
    return last_now_;
  }

  M model_;
  E explorer_;
  AgentConfig config_;
  Clock clock_ = [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  };
  std::vector<Pending> pending_;
  std::uint64_t next_id_ = 1;
  std::uint64_t oldest_ = 1;
  double last_now_ = -std::numeric_limits<double>::infinity();
  AgentCounters counters_;
  std::vector<std::uint64_t> distinct_scratch_;  // check_distinct's bitset (all zero between calls)
};

}  // namespace marl_rec
