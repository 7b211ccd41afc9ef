// marl_rec — Agent<Model, Explorer>: recommends with a model and an explorer, remembers what it
// showed, and learns when the feedback arrives (late, out of order, twice, or never).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/explore/default_explorer.hpp"
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
/// - The agent copies the context's features, history, user, state and candidate list; the item
///   matrix (`context.items`) is kept as a view, so it must stay alive and unchanged until the
///   decision is answered or expires.
/// - Not thread-safe: one thread calls recommend and learn (serving from many threads is the
///   reliability layer's job).
/// - A decision may be narrowed to the positions actually shown (`set_shown`: a coordinator asks
///   for more proposals than it shows). Positions keep their numbers; only the shown ones are
///   learned from (feedback, and the default reward on expiry), and feedback naming another
///   position is an Error.
/// - After warm-up (every pending slot used once with contexts of the same size), `recommend`
///   into a reused Decision does not allocate.
template <Model M, ExplorerFor<M> E = DefaultExplorer<M>>
class Agent {
 public:
  using model_type = M;
  using explorer_type = E;
  /// Seconds, from any monotonic source; the default is std::chrono::steady_clock.
  using Clock = std::function<double()>;

  explicit Agent(M model = M{}, E explorer = E{}, AgentConfig config = {})
      : model_(std::move(model)), explorer_(std::move(explorer)), config_(std::move(config)) {
    marl_rec::detail::require(config_.max_pending >= 1, "Agent: max_pending must be at least 1");
    marl_rec::detail::require(config_.time_to_live > 0.0 && !std::isnan(config_.time_to_live),
                              "Agent: time_to_live must be positive");
    marl_rec::detail::require(!config_.default_reward || std::isfinite(*config_.default_reward),
                              "Agent: default_reward must be finite");
    const RewardWeights& w = config_.rewards;
    marl_rec::detail::require(std::isfinite(w.none) && std::isfinite(w.click) && std::isfinite(w.purchase),
                              "Agent: reward weights must be finite");
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
    const RewardWeights& w = config_.rewards;
    const auto has = [&](const std::vector<std::size_t>& v) {
      for (const std::size_t p : v) {
        if (p == position) return true;
      }
      return false;
    };
    const bool clicked = has(feedback.clicked);
    const bool bought = has(feedback.purchased);
    double r = (clicked || bought) ? 0.0 : w.none;
    if (clicked) r += w.click;
    if (bought) r += w.purchase;
    for (const auto& [p, value] : feedback.rewards) {
      if (p == position) r += value;
    }
    return r;
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
  /// Decisions awaiting feedback.
  std::size_t pending() const noexcept {
    std::size_t n = 0;
    for (const Pending& p : pending_) n += (p.id != 0 && p.state == State::open) ? 1 : 0;
    return n;
  }

 private:
  enum class State { open, answered, expired };
  struct Pending {
    std::uint64_t id = 0;  // 0: never used
    double time = 0.0;
    State state = State::expired;
    std::vector<float> features;
    std::vector<std::size_t> history;
    MatrixView items;
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
};

}  // namespace marl_rec
