// marl_rec — ServingAgent<Model, Explorer>: an agent that serves recommend() on many threads while
// learn() runs on others. Serving threads score an immutable snapshot of the model and of the
// catalog; learning updates the model on the side and publishes a new snapshot every
// `publish_every` answered decisions. No serving thread ever waits for an update.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/coord/shared_model.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/default_explorer.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/rng_state.hpp"
#include "marl_rec/serve/snapshot.hpp"

namespace marl_rec {

namespace detail {
template <class T>
struct is_shared_handle : std::false_type {};
template <class T>
struct is_shared_handle<Shared<T>> : std::true_type {};
}  // namespace detail

/// Settings of a ServingAgent.
struct ServingConfig {
  /// Answered decisions between two published model snapshots (≥ 1). Each publish copies the
  /// model: 1 makes every learned decision visible to the next request; larger values trade
  /// freshness for the cost of the copies.
  std::uint64_t publish_every = 64;
  /// Decisions remembered while their feedback is awaited (≥ 1). As in Agent, a new decision
  /// that needs the slot of an unanswered one expires it.
  std::size_t max_pending = 65536;
  /// Seconds after which a decision expires and its feedback is no longer accepted (> 0).
  double time_to_live = 3600.0;
  /// The reward learned for each shown item of a decision that expires unanswered, or nothing.
  std::optional<double> default_reward = std::nullopt;
  /// How clicks and purchases become rewards.
  RewardWeights rewards{};
  /// Seeds the explorers of the serving threads: the i-th Reader made by `reader()` gets
  /// `make_explorer(s_i)`, s_i the i-th number of Rng(seed); the shared readers behind
  /// `ServingAgent::recommend` draw theirs from Rng(~seed).
  std::uint64_t seed = 1;

  /// The settings an Agent has too (max_pending, time_to_live, default_reward, rewards).
  AgentConfig feedback_settings() const {
    return AgentConfig{.max_pending = max_pending, .time_to_live = time_to_live,
                       .default_reward = default_reward, .rewards = rewards};
  }
};

/// What a ServingAgent has done so far: an Agent's counters (each read on its own: a snapshot
/// taken while threads work may be a moment apart between fields), and the snapshots published.
struct ServingCounters : AgentCounters {
  /// Model snapshots published since construction (the first included; a load publishes one and
  /// does not restore this count).
  std::uint64_t snapshots = 0;
};

/// An agent for a server: `recommend` may be called from any number of threads at once, `learn`
/// too, and catalog changes may be made while both run.
///
/// How it works (docs/reliability.md#serving-while-learning):
/// - Serving (`recommend`, or a Reader's) takes the current model snapshot and catalog snapshot
///   (shared pointers to const: a mutex is held only to copy the pointer), scores the catalog's
///   items with its own explorer, records the decision in one of 64 shards of pending decisions
///   (a per-shard mutex, held to copy the context), and returns. It never waits for learning.
/// - Learning (`learn`) finds the decision (under its shard's mutex), checks the feedback, then
///   updates the learner's own copy of the model under the learner mutex (so several threads may
///   call learn: their updates are serialised) and, every `publish_every` answered decisions,
///   publishes a copy as the new snapshot. Serving threads see it from their next request on.
/// - The catalog: `update_catalog(f)` applies f to a copy of the current catalog and publishes
///   it. Items may be added, retired, given new attributes or vectors; existing items may not be
///   renumbered (no `compact`: models and pending decisions hold item indices — an Error). A
///   decision is learned with the catalog it was made with (the decision keeps that snapshot).
/// - The context's features, history, user and state are copied; `context.items` must be empty
///   (the items are the catalog's). Candidates index the catalog; retired items are never chosen.
/// - Same rules as Agent for feedback: the first for a decision is learned, later ones are
///   duplicates, feedback after expiry is late; an id never issued, a position not shown or a
///   reward that is not finite is an Error and teaches nothing.
/// - Determinism: with one serving thread and `publish_every = 1`, decisions equal those of an
///   Agent over the same model and explorer. With several threads the interleaving (which
///   snapshot a request sees) depends on scheduling; each Reader's own draws are still seeded.
/// - The Clock must be callable from several threads at once (the default, steady_clock, is).
/// - Saving and loading (stream type "serving_agent", version 1; when the model and the explorer
///   can be saved): `save` may run while serving and learning go on. It holds the learner mutex
///   (learning waits; Readers do not; `ServingAgent::recommend` waits only while its shared
///   reader's explorer is written) and writes the learner's model, the current catalog, the
///   config, the counters, the next id, the state of the Reader seed sequence, the shared
///   readers' explorers, and every open decision (with its age, as Agent does: the time between
///   save and load does not count toward the time-to-live) and every expired one whose default
///   reward is still to be learned. A decision recorded while the save walks the shards may be
///   missing from it (its feedback is then late after a load); save at a quiet moment for an
///   exact checkpoint. Decisions are restored over the saved catalog (each decision kept its own
///   catalog snapshot while serving). A loaded agent serves the saved learner's model (published
///   at once), whatever snapshot was being served at the save. `load` needs exclusive access (no Reader in use, no other
///   call) and has the strong guarantee: a stream that fails any check changes nothing. Readers
///   made before a load must not be used after it; make new ones.
template <Model M, ExplorerFor<M> E = DefaultExplorer<M>>
  requires std::copy_constructible<M>
class ServingAgent {
  // A handle (Shared<M>) copies to the same model: the "snapshots" would be the learner's model
  // itself, read while it is written.
  static_assert(!detail::is_shared_handle<M>::value,
                "ServingAgent needs a model whose copies are independent: not a Shared<M> handle");

 public:
  using model_type = M;
  using explorer_type = E;
  /// Makes the explorer of a serving thread from its seed.
  using ExplorerFactory = std::function<E(std::uint64_t seed)>;
  /// Seconds, from any monotonic source, thread-safe.
  using Clock = std::function<double()>;

  /// A serving thread's handle: its own explorer (seeded), so serving through a Reader takes no
  /// lock but the snapshot and shard ones. Use one Reader per thread (a Reader is not
  /// thread-safe); it must not outlive its ServingAgent.
  class Reader {
   public:
    /// Chooses up to k of the catalog's active items into `out` (see ServingAgent).
    void recommend(const Context& context, std::size_t k, Decision& out) {
      owner_->serve(explorer_, context, nullptr, k, out);
    }
    /// Chooses up to k of `candidates` (catalog indices; retired ones are skipped).
    void recommend(const Context& context, Candidates candidates, std::size_t k, Decision& out) {
      owner_->serve(explorer_, context, &candidates, k, out);
    }
    const E& explorer() const noexcept { return explorer_; }

   private:
    friend class ServingAgent;
    Reader(ServingAgent& owner, E explorer) : owner_(&owner), explorer_(std::move(explorer)) {}
    ServingAgent* owner_;
    E explorer_;
  };

  /// Serves `model` over `catalog` (both copied in). `make_explorer` builds each serving
  /// thread's explorer from a seed (the default: `E{}` for every thread, the same seed for all).
  ServingAgent(Catalog catalog, M model, ExplorerFactory make_explorer = default_factory(),
               ServingConfig config = {})
      : config_(checked(config)),
        make_explorer_(std::move(make_explorer)),
        model_(std::move(model)),
        model_snapshot_(std::make_shared<const M>(model_)),
        catalog_snapshot_(std::make_shared<const Catalog>(std::move(catalog))),
        seeds_(config_.seed) {
    marl_rec::detail::require(static_cast<bool>(make_explorer_), "ServingAgent: empty explorer factory");
    slots_per_shard_ = (config_.max_pending + shard_count - 1) / shard_count;
    for (Shard& shard : shards_) shard.slots.resize(slots_per_shard_);
    Rng stripe_seeds(~config_.seed);
    for (auto& stripe : stripes_) {
      stripe = std::make_unique<Stripe>(Reader(*this, make_explorer_(stripe_seeds.next_u64())));
    }
  }
  ServingAgent(const ServingAgent&) = delete;
  ServingAgent& operator=(const ServingAgent&) = delete;

  /// A new Reader for a serving thread (thread-safe). Readers get their seeds in the order they
  /// are made (ServingConfig::seed).
  Reader reader() {
    std::uint64_t seed;
    {
      const std::lock_guard<std::mutex> lock(seed_mutex_);
      seed = seeds_.next_u64();
    }
    return Reader(*this, make_explorer_(seed));
  }

  /// Thread-safe recommend without a Reader: the calling thread borrows one of 16 shared readers
  /// (chosen by thread id, each behind its own mutex). Threads that serve a lot should keep a
  /// Reader of their own instead (no contention, and reproducible draws per thread).
  void recommend(const Context& context, std::size_t k, Decision& out) {
    Stripe& s = stripe();
    const std::lock_guard<std::mutex> lock(s.mutex);
    s.reader.recommend(context, k, out);
  }
  /// As above, among `candidates`.
  void recommend(const Context& context, Candidates candidates, std::size_t k, Decision& out) {
    Stripe& s = stripe();
    const std::lock_guard<std::mutex> lock(s.mutex);
    s.reader.recommend(context, candidates, k, out);
  }
  /// As above, returning a new Decision.
  Decision recommend(const Context& context, std::size_t k) {
    Decision out;
    recommend(context, k, out);
    return out;
  }

  /// Learns from the feedback on decision `id` (thread-safe; see the class rules). Throws Error,
  /// learning nothing, when the id was never issued, a position is not one of the decision's, or
  /// a reward is not finite.
  LearnStatus learn(std::uint64_t id, const Feedback& feedback) {
    marl_rec::detail::require(id >= 1 && id < next_id_.load(std::memory_order_acquire), [&] {
      return "ServingAgent::learn: decision id " + std::to_string(id) + " was never issued";
    });
    thread_local Work work;  // reused: no allocation once warm
    const double now = now_();
    {
      Shard& shard = shard_of(id);
      std::unique_lock<std::mutex> lock(shard.mutex);
      Pending& slot = slot_of(shard, id);
      if (slot.id != id || slot.state == State::expired) {
        late_.fetch_add(1, std::memory_order_relaxed);
        return LearnStatus::expired;
      }
      if (slot.state == State::answered) {
        duplicates_.fetch_add(1, std::memory_order_relaxed);
        return LearnStatus::duplicate;
      }
      if (!(now - slot.time < config_.time_to_live)) {
        expire_locked(slot);
        lock.unlock();
        late_.fetch_add(1, std::memory_order_relaxed);
        learn_deferred();
        return LearnStatus::expired;
      }
      check_feedback(id, slot, feedback);  // before anything changes: bad feedback teaches nothing
      slot.state = State::answered;
      work.take(slot);
    }
    feedback_.fetch_add(1, std::memory_order_relaxed);
    struct Release {  // the decision's catalog snapshot is let go even if the model throws
      Work& w;
      ~Release() { w.catalog.reset(); }
    } release{work};
    const std::lock_guard<std::mutex> lock(learner_mutex_);
    // Counted as answered before learning: a model that throws part way is not taught twice.
    ++answered_since_publish_;
    const Context context = work.context();
    for (std::size_t p = 0; p < work.shown.size(); ++p) {
      model_.update(context, work.shown[p], reward_for(config_.rewards, feedback, p));
      updates_.fetch_add(1, std::memory_order_relaxed);
    }
    drain_deferred_locked();
    if (answered_since_publish_ >= config_.publish_every) publish_locked();
    return LearnStatus::learned;
  }

  /// Expires every decision older than the time-to-live now, learning the default reward for
  /// them if there is one (thread-safe; learn and recommend expire decisions as they meet them).
  void expire_due() {
    const double now = now_();
    for (Shard& shard : shards_) {
      const std::lock_guard<std::mutex> lock(shard.mutex);
      for (Pending& slot : shard.slots) {
        if (slot.id != 0 && slot.state == State::open && !(now - slot.time < config_.time_to_live)) {
          expire_locked(slot);
        }
      }
    }
    learn_deferred();
  }

  /// Publishes the learner's model now (thread-safe), whatever the cadence.
  void publish() {
    const std::lock_guard<std::mutex> lock(learner_mutex_);
    publish_locked();
  }

  /// Applies `change(Catalog&)` to a copy of the current catalog and publishes it (thread-safe;
  /// changes are serialised). Throws Error, publishing nothing, when the change throws or
  /// renumbers existing items (indices must keep their meaning; call compact only on a catalog
  /// that is not being served).
  template <class F>
  void update_catalog(F&& change) {
    const std::lock_guard<std::mutex> lock(catalog_mutex_);
    const std::shared_ptr<const Catalog> current = catalog_snapshot_.get();
    auto next = std::make_shared<Catalog>(*current);
    std::forward<F>(change)(*next);
    marl_rec::detail::require(next->dim() == current->dim(), [&] {
      return "ServingAgent::update_catalog: the change made the item dimension " + std::to_string(next->dim()) +
             " (it was " + std::to_string(current->dim()) + ")";
    });
    marl_rec::detail::require(next->size() >= current->size(), [&] {
      return "ServingAgent::update_catalog: the change removed items (" + std::to_string(current->size()) +
             " rows before, " + std::to_string(next->size()) + " after); retire them instead";
    });
    for (std::size_t i = 0; i < current->size(); ++i) {
      marl_rec::detail::require(next->id(i) == current->id(i), [&] {
        return "ServingAgent::update_catalog: the change renumbered item " + std::to_string(i) + " ('" +
               current->id(i) + "' became '" + next->id(i) + "'); indices must keep their meaning while serving";
      });
    }
    catalog_snapshot_.publish(std::move(next));
  }

  /// The model serving threads use now.
  std::shared_ptr<const M> model() const { return model_snapshot_.get(); }
  /// The catalog serving threads use now.
  std::shared_ptr<const Catalog> catalog() const { return catalog_snapshot_.get(); }
  /// Calls f(const M&) on the learner's own model (the latest, possibly not yet published),
  /// holding the learner mutex: e.g. to read its counters or save the model alone. f must not
  /// call back into this agent's learn, publish, expire_due or save (the mutex is not recursive).
  template <class F>
  decltype(auto) with_learner_model(F&& f) const {
    const std::lock_guard<std::mutex> lock(learner_mutex_);
    return std::forward<F>(f)(static_cast<const M&>(model_));
  }
  const ServingConfig& config() const noexcept { return config_; }
  ServingCounters counters() const {
    ServingCounters c;
    c.decisions = decisions_.load(std::memory_order_relaxed);
    c.feedback = feedback_.load(std::memory_order_relaxed);
    c.updates = updates_.load(std::memory_order_relaxed);
    c.duplicates = duplicates_.load(std::memory_order_relaxed);
    c.late = late_.load(std::memory_order_relaxed);
    c.expired = expired_.load(std::memory_order_relaxed);
    c.defaulted = defaulted_.load(std::memory_order_relaxed);
    c.snapshots = model_snapshot_.version();
    return c;
  }
  /// Decisions awaiting feedback (thread-safe; counts shard by shard).
  std::size_t pending() const {
    std::size_t n = 0;
    for (const Shard& shard : shards_) {
      const std::lock_guard<std::mutex> lock(shard.mutex);
      for (const Pending& p : shard.slots) n += (p.id != 0 && p.state == State::open) ? 1 : 0;
    }
    return n;
  }
  /// Writes the serving agent (see "Saving and loading" above). Thread-safe.
  void save(std::ostream& out) const
    requires PersistentExplorer<E> && requires(const M& m, const Catalog& c, std::ostream& o) {
      m.save(o);
      c.save(o);
    }
  {
    const std::lock_guard<std::mutex> learner(learner_mutex_);
    // The decisions first, shard by shard, then those awaiting a default reward. The clock, the
    // next id and the catalog are read after: ids are taken, items added and the clock read
    // before a decision is recorded, so what is read after covers every decision walked.
    std::vector<Pending> walked;
    for (const Shard& shard : shards_) {
      const std::lock_guard<std::mutex> lock(shard.mutex);
      for (const Pending& p : shard.slots) {
        if (p.id == 0) continue;
        walked.emplace_back();
        Pending& copy = walked.back();
        copy.id = p.id;
        copy.time = p.time;
        copy.state = p.state;
        if (p.state == State::open) {  // answered and expired ones are kept without their data
          copy.features = p.features;
          copy.history = p.history;
          copy.user = p.user;
          copy.session_state = p.session_state;
          copy.shown = p.shown;
        }
      }
    }
    Flat open, deferred;
    std::vector<std::uint64_t> deferred_ids;
    {
      const std::lock_guard<std::mutex> lock(deferred_mutex_);
      for (const Work& d : deferred_) {
        deferred.add(d.id, 0.0, d.features, d.history, d.user, d.session_state, d.shown);
        deferred_ids.push_back(d.id);
      }
    }
    std::sort(deferred_ids.begin(), deferred_ids.end());
    const double now = now_();
    for (const Pending& p : walked) {
      // Expired after its shard was walked: it is in the deferred list, kept there only.
      const bool moved = p.state == State::open && std::binary_search(deferred_ids.begin(), deferred_ids.end(), p.id);
      const State state = moved ? State::expired : p.state;
      if (state == State::open) {
        open.add(p.id, std::max(0.0, now - p.time), p.features, p.history, p.user, p.session_state, p.shown);
      } else {
        open.add(p.id, std::max(0.0, now - p.time), {}, {}, no_user, 0, {});
      }
      open.status.push_back(static_cast<std::uint64_t>(state));
    }
    io::ModelWriter w(out, stream_type, 1);
    w.u64("publish_every", config_.publish_every);
    w.u64("seed", config_.seed);
    detail::write_feedback_state(w, config_.feedback_settings(), counters());
    w.u64("answered_since_publish", answered_since_publish_);
    w.u64("next_id", next_id_.load(std::memory_order_acquire));
    {
      const std::lock_guard<std::mutex> lock(seed_mutex_);
      io::write_rng(w, "reader_seeds", seeds_);
    }
    w.object("model", model_);
    w.object("catalog", *catalog_snapshot_.get());
    for (std::size_t i = 0; i < stripe_count; ++i) {
      // (a serving thread on this shared reader waits while its explorer is written)
      const std::lock_guard<std::mutex> lock(stripes_[i]->mutex);
      w.object(numbered_id("shared_reader_", i), stripes_[i]->reader.explorer_);
    }
    open.write(w, "decisions");
    w.u64s("decision_states", open.status);
    deferred.write(w, "deferred");
    w.f64("saved_at", now);
    w.finish();
  }

  /// Replaces everything with what save() wrote (see "Saving and loading" above). Needs
  /// exclusive access. Throws Error, changing nothing, on a stream of another type, damaged or
  /// inconsistent (ids never issued or repeated, items outside the catalog, sizes that do not
  /// add up, non-finite values), or when the model, catalog or an explorer fails to load.
  void load(std::istream& in)
    requires PersistentExplorer<E> && requires(M& m, Catalog& c, std::istream& i) {
      m.load(i);
      c.load(i);
    }
  {
    constexpr const char* where = "loading a 'serving_agent' model: ";
    io::ModelReader r(in, stream_type, 1);
    ServingConfig config;
    config.publish_every = r.u64("publish_every", 1, std::numeric_limits<std::uint64_t>::max());
    config.seed = r.u64("seed");
    // max_pending capped as Agent's: a forged stream must not make load allocate billions of slots.
    const auto state = detail::read_feedback_state(r, stream_type, agent_max_loaded_pending);
    config.max_pending = state.first.max_pending;
    config.time_to_live = state.first.time_to_live;
    config.default_reward = state.first.default_reward;
    config.rewards = state.first.rewards;
    const AgentCounters counts = state.second;
    const std::uint64_t answered_since_publish = r.u64("answered_since_publish");
    const std::uint64_t next_id = r.u64("next_id", 1, std::uint64_t{1} << 62);  // far from wrapping
    Rng seeds = io::read_rng(r, stream_type, "reader_seeds");
    M model = model_;
    r.object("model", model);
    Catalog catalog = *catalog_snapshot_.get();
    r.object("catalog", catalog);
    std::vector<E> explorers;
    for (std::size_t i = 0; i < stripe_count; ++i) {
      E e = stripes_[i]->reader.explorer_;
      r.object(numbered_id("shared_reader_", i), e);
      explorers.push_back(std::move(e));
    }
    Flat open = Flat::read(r, "decisions", where, catalog.size());
    open.status = r.u64s("decision_states", open.ids.size());
    const Flat deferred = Flat::read(r, "deferred", where, catalog.size());
    const double saved_at = r.f64("saved_at");
    r.finish();
    const auto check = [&](bool ok, auto&& message) {
      marl_rec::detail::require(ok, [&] { return where + message(); });
    };
    check(std::isfinite(saved_at), [] { return std::string("field 'saved_at' is not finite"); });
    // Each open decision needs its own slot among the configured ones.
    const std::size_t per_shard = (config.max_pending + shard_count - 1) / shard_count;
    std::vector<std::uint64_t> seen;
    for (std::size_t d = 0; d < open.ids.size(); ++d) {
      const std::uint64_t id = open.ids[d];
      check(id >= 1 && id < next_id, [&] {
        return "decision " + std::to_string(id) + " was never issued (next id " + std::to_string(next_id) + ")";
      });
      check(std::isfinite(open.ages[d]) && open.ages[d] >= 0.0,
            [&] { return "decision " + std::to_string(id) + " has an age that is not finite and >= 0"; });
      check(open.status[d] <= static_cast<std::uint64_t>(State::expired),
            [&] { return "decision " + std::to_string(id) + " has an unknown state " + std::to_string(open.status[d]); });
      seen.push_back((id % shard_count) * per_shard + (id / shard_count) % per_shard);
    }
    std::sort(seen.begin(), seen.end());
    check(std::adjacent_find(seen.begin(), seen.end()) == seen.end(),
          [] { return std::string("two decisions need the same slot (repeated ids?)"); });

    // Checked. Everything the commit needs is built first; the commit itself only moves.
    const double now = now_();
    auto catalog_ptr = std::make_shared<const Catalog>(std::move(catalog));
    auto model_ptr = std::make_shared<const M>(model);
    std::array<std::vector<Pending>, shard_count> slots;
    for (auto& shard : slots) shard.resize(per_shard);
    for (std::size_t d = 0; d < open.ids.size(); ++d) {
      const std::uint64_t id = open.ids[d];
      Pending& slot = slots[id % shard_count][(id / shard_count) % per_shard];
      slot.id = id;
      slot.time = now - open.ages[d];
      slot.state = static_cast<State>(open.status[d]);
      if (slot.state != State::open) continue;
      open.copy_to(d, slot.features, slot.history, slot.user, slot.session_state, slot.shown);
      slot.catalog = catalog_ptr;
    }
    std::vector<Work> deferred_work(deferred.ids.size());
    for (std::size_t d = 0; d < deferred.ids.size(); ++d) {
      Work& work = deferred_work[d];
      work.id = deferred.ids[d];
      deferred.copy_to(d, work.features, work.history, work.user, work.session_state, work.shown);
      work.catalog = catalog_ptr;
    }

    config_ = config;
    slots_per_shard_ = per_shard;
    for (std::size_t i = 0; i < shard_count; ++i) shards_[i].slots.swap(slots[i]);
    deferred_.swap(deferred_work);
    model_ = std::move(model);
    retired_.clear();
    model_snapshot_.publish(std::move(model_ptr));
    catalog_snapshot_.publish(std::move(catalog_ptr));
    for (std::size_t i = 0; i < stripe_count; ++i) stripes_[i]->reader.explorer_ = std::move(explorers[i]);
    seeds_ = seeds;
    decisions_ = counts.decisions;
    feedback_ = counts.feedback;
    updates_ = counts.updates;
    duplicates_ = counts.duplicates;
    late_ = counts.late;
    expired_ = counts.expired;
    defaulted_ = counts.defaulted;
    answered_since_publish_ = answered_since_publish;
    next_id_ = next_id;
  }

  /// Replaces the clock (not thread-safe: call before serving starts).
  void set_clock(Clock clock) {
    marl_rec::detail::require(static_cast<bool>(clock), "ServingAgent::set_clock: empty clock");
    clock_ = std::move(clock);
  }

 private:
  static constexpr const char* stream_type = "serving_agent";
  static constexpr std::size_t shard_count = 64;
  static constexpr std::size_t stripe_count = 16;
  enum class State { open, answered, expired };

  struct Pending {
    std::uint64_t id = 0;  // 0: never used
    double time = 0.0;
    State state = State::expired;
    std::vector<float> features;
    std::vector<std::size_t> history;
    std::size_t user = no_user;
    std::size_t session_state = 0;
    std::vector<std::size_t> shown;
    // The catalog the decision was made with: keeps its item matrix alive until learned.
    std::shared_ptr<const Catalog> catalog;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::vector<Pending> slots;
  };
  // A decision taken out of its slot to be learned outside the shard's mutex.
  struct Work {
    std::uint64_t id = 0;
    std::vector<float> features;
    std::vector<std::size_t> history;
    std::size_t user = no_user;
    std::size_t session_state = 0;
    std::vector<std::size_t> shown;
    std::shared_ptr<const Catalog> catalog;

    void take(Pending& slot) {
      id = slot.id;
      features.swap(slot.features);
      history.swap(slot.history);
      shown.swap(slot.shown);
      user = slot.user;
      session_state = slot.session_state;
      catalog = std::move(slot.catalog);
    }
    Context context() const {
      return Context{.features = features, .items = catalog->embeddings(), .history = history,
                     .user = user, .state = session_state};
    }
  };
  // Decisions as flat arrays for a stream: per decision its id, age, user, state and the sizes
  // of its features, history and shown items; the values of those one after the other.
  struct Flat {
    std::vector<std::uint64_t> ids, users, states, feature_sizes, history_sizes, shown_sizes;
    std::vector<std::uint64_t> status;  // (decisions only) State of each
    std::vector<double> ages;
    std::vector<float> features;
    std::vector<std::uint64_t> history, shown;
    std::vector<std::size_t> feature_at, history_at, shown_at;  // offsets (after read)

    void add(std::uint64_t id, double age, std::span<const float> f, std::span<const std::size_t> h,
             std::size_t user, std::size_t state, std::span<const std::size_t> s) {
      ids.push_back(id);
      ages.push_back(age);
      users.push_back(user);
      states.push_back(state);
      feature_sizes.push_back(f.size());
      history_sizes.push_back(h.size());
      shown_sizes.push_back(s.size());
      features.insert(features.end(), f.begin(), f.end());
      history.insert(history.end(), h.begin(), h.end());
      shown.insert(shown.end(), s.begin(), s.end());
    }
    void write(io::ModelWriter& w, const std::string& name) const {
      w.u64s(name + "_ids", ids);
      w.doubles(name + "_ages", ages);
      w.u64s(name + "_users", users);
      w.u64s(name + "_states", states);
      w.u64s(name + "_feature_sizes", feature_sizes);
      w.u64s(name + "_history_sizes", history_sizes);
      w.u64s(name + "_shown_sizes", shown_sizes);
      w.floats(name + "_features", features);
      w.u64s(name + "_history", history);
      w.u64s(name + "_shown", shown);
    }
    static Flat read(io::ModelReader& r, const std::string& name, const char* where, std::size_t items) {
      const auto check = [&](bool ok, auto&& message) {
        marl_rec::detail::require(ok, [&] { return where + message(); });
      };
      Flat f;
      const std::size_t n = r.array_size(name + "_ids");
      f.ids = r.u64s(name + "_ids", n);
      f.ages = r.doubles(name + "_ages", n);
      f.users = r.u64s(name + "_users", n);
      f.states = r.u64s(name + "_states", n);
      f.feature_sizes = r.u64s(name + "_feature_sizes", n);
      f.history_sizes = r.u64s(name + "_history_sizes", n);
      f.shown_sizes = r.u64s(name + "_shown_sizes", n);
      const auto offsets = [&](const std::vector<std::uint64_t>& sizes, std::vector<std::size_t>& at,
                               const char* what) {
        std::uint64_t total = 0;
        for (const std::uint64_t size : sizes) {
          at.push_back(static_cast<std::size_t>(total));
          check(size <= (std::uint64_t{1} << 40) && total + size >= total,
                [&] { return "field '" + name + "_" + what + "_sizes' holds an absurd size"; });
          total += size;
        }
        return static_cast<std::size_t>(total);
      };
      f.features = r.floats(name + "_features", offsets(f.feature_sizes, f.feature_at, "feature"));
      f.history = r.u64s(name + "_history", offsets(f.history_sizes, f.history_at, "history"));
      f.shown = r.u64s(name + "_shown", offsets(f.shown_sizes, f.shown_at, "shown"));
      for (const float v : f.features) {
        check(std::isfinite(v), [&] { return "field '" + name + "_features' holds a value that is not finite"; });
      }
      for (const std::uint64_t item : f.shown) {
        check(item < items, [&] {
          return "field '" + name + "_shown' names item " + std::to_string(item) + "; the catalog has " +
                 std::to_string(items);
        });
      }
      return f;
    }
    void copy_to(std::size_t d, std::vector<float>& f, std::vector<std::size_t>& h, std::size_t& user,
                 std::size_t& state, std::vector<std::size_t>& s) const {
      f.assign(features.begin() + static_cast<std::ptrdiff_t>(feature_at[d]),
               features.begin() + static_cast<std::ptrdiff_t>(feature_at[d] + feature_sizes[d]));
      h.assign(history.begin() + static_cast<std::ptrdiff_t>(history_at[d]),
               history.begin() + static_cast<std::ptrdiff_t>(history_at[d] + history_sizes[d]));
      s.assign(shown.begin() + static_cast<std::ptrdiff_t>(shown_at[d]),
               shown.begin() + static_cast<std::ptrdiff_t>(shown_at[d] + shown_sizes[d]));
      user = static_cast<std::size_t>(users[d]);
      state = static_cast<std::size_t>(states[d]);
    }
  };

  struct Stripe {
    explicit Stripe(Reader r) : reader(std::move(r)) {}
    mutable std::mutex mutex;
    Reader reader;
  };

  static ExplorerFactory default_factory() {
    if constexpr (std::default_initializable<E>) {
      return [](std::uint64_t) { return E{}; };
    } else {
      return {};
    }
  }
  static ServingConfig checked(const ServingConfig& c) {
    marl_rec::detail::require(c.publish_every >= 1, "ServingAgent: publish_every must be at least 1");
    detail::check_feedback_settings("ServingAgent", c.feedback_settings());
    return c;
  }

  Shard& shard_of(std::uint64_t id) { return shards_[id % shard_count]; }
  Pending& slot_of(Shard& shard, std::uint64_t id) { return shard.slots[(id / shard_count) % slots_per_shard_]; }
  Stripe& stripe() {
    // Mixed first: thread ids are often addresses whose low bits are all alike.
    std::uint64_t h = std::hash<std::thread::id>{}(std::this_thread::get_id());
    h = (h ^ (h >> 31)) * 0x9E3779B97F4A7C15ull;
    return *stripes_[(h >> 32) % stripe_count];
  }

  template <class T>
  static void copy_into(std::vector<T>& v, std::span<const T> s) {
    v.clear();
    if (!s.empty()) v.insert(v.end(), s.begin(), s.end());
  }

  void serve(E& explorer, const Context& context, const Candidates* candidates, std::size_t k, Decision& out) {
    out.id = 0;
    marl_rec::detail::require(context.items.rows() == 0 && context.items.cols() == 0,
                              "ServingAgent::recommend: the items are the catalog's; leave context.items empty");
    std::shared_ptr<const Catalog> catalog = catalog_snapshot_.get();
    const std::shared_ptr<const M> model = model_snapshot_.get();
    Context ctx = context;
    ctx.items = catalog->embeddings();
    const Candidates pool = candidates != nullptr ? *candidates : Candidates::all(catalog->size());
    thread_local std::vector<std::uint64_t> distinct_scratch;
    detail::check_distinct(pool, distinct_scratch, "ServingAgent::recommend");
    marl_rec::detail::require(pool.index_bound() <= catalog->size(), [&] {
      return "ServingAgent::recommend: a candidate is not an item of the catalog (" +
             std::to_string(catalog->size()) + " items)";
    });
    explorer.choose(*model, ctx, pool, k, catalog->retired_items(), out);
    const double now = now_();
    const std::uint64_t id = next_id_.fetch_add(1, std::memory_order_acq_rel);
    bool expired_at_birth = false;
    {
      Shard& shard = shard_of(id);
      const std::lock_guard<std::mutex> lock(shard.mutex);
      Pending& slot = slot_of(shard, id);
      if (slot.id > id) {
        // Another request, max_pending ids later, recorded first: this one is already evicted.
        expired_at_birth = true;
      } else {
        if (slot.id != 0 && slot.state == State::open) expire_locked(slot);
        slot.state = State::expired;  // until the copies below are complete (they may throw)
        copy_into(slot.features, ctx.features);
        copy_into(slot.history, ctx.history);
        copy_into(slot.shown, std::span<const std::size_t>(out.items));
        slot.user = ctx.user;
        slot.session_state = ctx.state;
        slot.catalog = std::move(catalog);
        slot.id = id;
        slot.time = now;
        slot.state = State::open;
      }
    }
    if (expired_at_birth) {
      expired_.fetch_add(1, std::memory_order_relaxed);
      if (config_.default_reward) {
        Work work;
        work.id = id;
        copy_into(work.features, ctx.features);
        copy_into(work.history, ctx.history);
        work.user = ctx.user;
        work.session_state = ctx.state;
        copy_into(work.shown, std::span<const std::size_t>(out.items));
        work.catalog = std::move(catalog);
        const std::lock_guard<std::mutex> lock(deferred_mutex_);
        deferred_.push_back(std::move(work));
      }
    }
    out.id = id;
    decisions_.fetch_add(1, std::memory_order_relaxed);
  }

  void check_feedback(std::uint64_t id, const Pending& slot, const Feedback& feedback) const {
    const auto check_position = [&](std::size_t p, const char* kind) {
      marl_rec::detail::require(p < slot.shown.size(), [&] {
        return "ServingAgent::learn: decision " + std::to_string(id) + " showed " +
               std::to_string(slot.shown.size()) + " items; " + kind + " position " + std::to_string(p) +
               " is not one of them";
      });
    };
    for (const std::size_t p : feedback.clicked) check_position(p, "clicked");
    for (const std::size_t p : feedback.purchased) check_position(p, "purchased");
    for (const auto& entry : feedback.rewards) check_position(entry.first, "rewarded");
    for (std::size_t p = 0; p < slot.shown.size(); ++p) {
      marl_rec::detail::require(std::isfinite(reward_for(config_.rewards, feedback, p)), [&] {
        return "ServingAgent::learn: decision " + std::to_string(id) + ": the reward for position " +
               std::to_string(p) + " is not finite";
      });
    }
  }

  // Under the slot's shard mutex. The default reward is learned later, by a learner (serving
  // threads never update the model).
  void expire_locked(Pending& slot) {
    slot.state = State::expired;
    expired_.fetch_add(1, std::memory_order_relaxed);
    if (config_.default_reward) {
      Work work;
      work.take(slot);
      const std::lock_guard<std::mutex> lock(deferred_mutex_);
      deferred_.push_back(std::move(work));
    } else {
      slot.catalog.reset();
    }
  }
  void learn_deferred() {
    if (!config_.default_reward) return;
    const std::lock_guard<std::mutex> lock(learner_mutex_);
    drain_deferred_locked();
    if (answered_since_publish_ >= config_.publish_every) publish_locked();
  }
  // Under the learner mutex. Each decision counts as defaulted before it is learned (as in
  // learn); if the model throws, the decisions not yet reached go back to the list.
  void drain_deferred_locked() {
    if (!config_.default_reward) return;
    std::vector<Work> batch;
    {
      const std::lock_guard<std::mutex> lock(deferred_mutex_);
      batch.swap(deferred_);
    }
    std::size_t next = 0;
    try {
      for (; next < batch.size(); ++next) {
        const Work& work = batch[next];
        defaulted_.fetch_add(1, std::memory_order_relaxed);
        ++answered_since_publish_;
        const Context context = work.context();
        for (const std::size_t item : work.shown) {
          model_.update(context, item, *config_.default_reward);
          updates_.fetch_add(1, std::memory_order_relaxed);
        }
      }
    } catch (...) {
      const std::lock_guard<std::mutex> lock(deferred_mutex_);
      deferred_.insert(deferred_.end(), std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(next) + 1),
                       std::make_move_iterator(batch.end()));
      throw;
    }
  }
  // Under the learner mutex. The replaced snapshot is freed here once no reader holds it, so a
  // serving thread is never the one that frees a model.
  void publish_locked() {
    retired_.push_back(model_snapshot_.publish(std::make_shared<const M>(model_)));
    answered_since_publish_ = 0;
    std::erase_if(retired_, [](const std::shared_ptr<const M>& p) { return p.use_count() == 1; });
  }

  // The clock, never going backwards, never NaN (shared by all threads).
  double now_() const {
    const double t = clock_();
    marl_rec::detail::require(!std::isnan(t), "ServingAgent: the clock returned NaN");
    double seen = last_now_.load(std::memory_order_relaxed);
    while (t > seen && !last_now_.compare_exchange_weak(seen, t, std::memory_order_relaxed)) {
    }
    return std::max(t, seen);
  }

  ServingConfig config_;
  ExplorerFactory make_explorer_;
  Clock clock_ = [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  };

  mutable std::mutex learner_mutex_;  // guards model_, answered_since_publish_, retired_
  M model_;
  std::uint64_t answered_since_publish_ = 0;
  std::vector<std::shared_ptr<const M>> retired_;
  Snapshot<M> model_snapshot_;

  std::mutex catalog_mutex_;  // serialises catalog changes
  Snapshot<Catalog> catalog_snapshot_;

  std::array<Shard, shard_count> shards_;
  std::size_t slots_per_shard_ = 1;
  mutable std::mutex deferred_mutex_;
  std::vector<Work> deferred_;

  mutable std::mutex seed_mutex_;
  Rng seeds_;
  std::array<std::unique_ptr<Stripe>, stripe_count> stripes_;

  std::atomic<std::uint64_t> next_id_{1};
  mutable std::atomic<double> last_now_{-std::numeric_limits<double>::infinity()};
  std::atomic<std::uint64_t> decisions_{0}, feedback_{0}, updates_{0}, duplicates_{0}, late_{0}, expired_{0},
      defaulted_{0};
};

}  // namespace marl_rec
