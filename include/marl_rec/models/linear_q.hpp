// marl_rec — Q-learning with a linear value function over a feature map of (state vector, item
// vector), for sessions described by a user vector and the items seen so far. Optional
// experience replay.
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
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/detail/float_reward.hpp"
#include "marl_rec/models/feature_map.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// The feature map, learning rates, replay and state definition of a LinearQ.
struct LinearQConfig {
  /// How the state vector s and the item vector a form φ(s, a). FeatureMap::context is rejected
  /// (φ = s would give every item the same value).
  FeatureMap features = FeatureMap::concat;
  /// Learning rate of the semi-gradient step (> 0).
  float alpha = 0.01f;
  /// Discount of the next state's value, in [0, 1].
  float gamma = 0.9f;
  /// Transitions kept for experience replay (0 = no replay).
  std::size_t replay_capacity = 0;
  /// Stored transitions replayed after each update (at least 1 when replay is on).
  std::size_t replay_batch = 32;
  /// Seeds the choice of replayed transitions.
  std::uint64_t seed = 1;
  /// The state vector is the context's features followed by the mean item vector of its history
  /// (true), or the features alone (false).
  bool history_in_state = true;
};

/// Semi-gradient Q-learning with a linear value: Q(s, a) = w · φ(s, a). Satisfies
/// SequentialModel and FederatedModel (the shared parameters are w).
///
/// - The state vector s is `context.features`, followed (when `history_in_state`) by the mean of
///   the rows of `context.items` named by `context.history` (zeros for an empty history). The
///   action vector a is row `item` of `context.items`.
/// - `update(ctx, item, r)` (terminal) and `update(ctx, item, r, next, next_candidates)`
///   (bootstrapped) take one step w += α δ φ(s, a) with δ = r [+ γ max_a' Q(s', a')] − Q(s, a).
/// - Dimensions (context dimension dx = features.size(), item dimension da = items.cols()) are
///   fixed by the first update, or by the two-dimension constructor, and checked afterwards.
///   Before that every score is 0.
/// - Scoring never materialises φ: for concat, Q = w_s·s + w_a·a (w_s·s once per call, then one
///   SIMD score of the items); for cross, Q = sᵀ W a = (Wᵀ s)·a. A candidate list and
///   Candidates::all score an item bit-identically.
///
/// Experience replay (replay_capacity > 0): each update also stores its transition in a ring
/// buffer and then replays `replay_batch` stored transitions drawn uniformly with replacement
/// (the just-stored one included), with a generator seeded by (seed, number of updates so far),
/// so the same seed and the same updates give the same weights, also across save/load. The
/// replayed transitions' Q and next-state maxima are all computed with the weights of the moment,
/// their TD targets formed by one `simd::td_update` call (α = 1), and then each takes a
/// semi-gradient step of size α, in draw order: a replayed transition counts as much as a new one.
/// A stored transition keeps copies of what its target needs: s, a, and, unless terminal, s' and
/// the item vectors of all its next candidates. Memory per transition: 4 · (2·ds + da · (1 + k))
/// bytes plus about 100 bytes of bookkeeping, for state dimension ds, item dimension da and k next
/// candidates (k = 0 when terminal): with a large Candidates::all(n), pass a short candidate list
/// to the bootstrapped update (e.g. the top items shown) or keep the capacity small.
///
/// Errors: a non-finite reward, a context that does not fit (dimensions, named with both
/// numbers), an out-of-range item, history entry or candidate, or a TD error that is not finite
/// (non-finite features, or weights that have diverged — off-policy linear Q-learning can) throw
/// marl_rec::Error and leave the model unchanged.
///
/// Thread safety and allocation: `score`, `weights` and `save` are const and may run
/// concurrently; `score` uses a thread_local scratch buffer that only grows (ds + 17·da floats), so
/// it allocates only when a thread first meets a larger shape. `update` and `load` need exclusive
/// access; `update` allocates when the dimensions are fixed, when the replay buffer grows, and
/// when its grow-only scratch meets a larger shape.
class LinearQ {
 public:
  /// A model whose dimensions the first update fixes. Throws marl_rec::Error on an invalid
  /// config (alpha not finite and positive, gamma outside [0, 1], FeatureMap::context, replay
  /// with replay_batch = 0).
  explicit LinearQ(LinearQConfig config = {}) : config_(config) { validate(config_, "LinearQ"); }

  /// A model with fixed dimensions (context features of context_dim values, item rows of
  /// item_dim values), all weights 0. Throws marl_rec::Error on an invalid config or when
  /// item_dim is 0 or φ would have no dimension.
  LinearQ(LinearQConfig config, std::size_t context_dim, std::size_t item_dim) : LinearQ(config) {
    check_new_dims("LinearQ", context_dim, item_dim);
    fix(context_dim, item_dim);
  }

  /// "linear_q".
  std::string_view name() const noexcept { return "linear_q"; }

  /// The configuration in force.
  const LinearQConfig& config() const noexcept { return config_; }
  /// True once the dimensions are fixed.
  bool dims_fixed() const noexcept { return fixed_; }
  /// dx: values of Context::features (0 before the dimensions are fixed).
  std::size_t context_dim() const noexcept { return dx_; }
  /// da: values of an item row (0 before the dimensions are fixed).
  std::size_t item_dim() const noexcept { return da_; }
  /// ds: values of the state vector (dx, plus da when history_in_state).
  std::size_t state_dim() const noexcept { return dx_ + (config_.history_in_state ? da_ : 0); }
  /// w, laid out as φ (feature_dim(features, state_dim(), item_dim()) values; empty before the
  /// dimensions are fixed). For cross, w is the state_dim() × item_dim() matrix W, row-major.
  std::span<const float> weights() const noexcept { return w_; }
  /// Successful updates so far.
  std::uint64_t updates() const noexcept { return updates_; }
  /// Transitions in the replay buffer.
  std::size_t replay_size() const noexcept { return replay_.size(); }

  /// The parameters federated agents share (FederatedModel): the weight vector w (the values of
  /// weights()). The replay buffer and the update count stay local to each agent. Empty before
  /// the dimensions are fixed.
  std::span<const float> shared_parameters() const noexcept { return w_; }

  /// Replaces w (layout of weights()); nothing is derived from it. Before the dimensions are
  /// fixed the model has 0 shared parameters: an empty `values` is then accepted (and changes
  /// nothing). Throws marl_rec::Error, leaving the model unchanged, on a size other than
  /// weights().size() or a non-finite value.
  void set_shared_parameters(std::span<const float> values) {
    constexpr const char* where = "LinearQ::set_shared_parameters";
    marl_rec::detail::require(values.size() == w_.size(), [&] {
      return std::string(where) + ": got " + std::to_string(values.size()) +
             " values, the model has " + std::to_string(w_.size()) + " weights" +
             (fixed_ ? "" : " (no dimensions yet)");
    });
    for (std::size_t i = 0; i < values.size(); ++i) {
      marl_rec::detail::require(std::isfinite(values[i]), [&] {
        return std::string(where) + ": value " + std::to_string(i) + " is not finite";
      });
    }
    std::copy(values.begin(), values.end(), w_.begin());
  }

  /// scores[i] = Q(s, items.row(candidates[i])). Throws marl_rec::Error when scores.size() !=
  /// candidates.size(), a candidate or history entry is not a row of context.items, or the
  /// context's dimensions differ from the model's.
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    constexpr const char* where = "LinearQ::score";
    marl_rec::detail::require(scores.size() == candidates.size(), [&] {
      return std::string(where) + ": scores has " + std::to_string(scores.size()) +
             " entries, there are " + std::to_string(candidates.size()) + " candidates";
    });
    if (fixed_) check_context(where, "context", context, dx_, da_);
    check_candidates(where, "candidates", candidates, context.items.rows());
    if (!fixed_) {
      for (float& s : scores) s = 0.0f;
      return;
    }
    if (candidates.empty()) return;
    const std::size_t ds = state_dim();
    const std::span<float> scratch = score_scratch(ds + da_ + gather_rows * da_);
    const std::span<float> s = scratch.first(ds);
    build_state(where, "context", context, s, dx_, da_);
    const Query query = prepare(s, scratch.subspan(ds, da_));
    if (candidates.is_all()) {
      score_rows(query, rows_view(context.items, 0, candidates.size()), scores.data());
    } else {
      const std::span<float> gather = scratch.subspan(ds + da_, gather_rows * da_);
      for (std::size_t begin = 0; begin < candidates.size(); begin += gather_rows) {
        score_listed(query, context.items, candidates, begin, gather, scores.data() + begin);
      }
    }
  }

  /// A transition into a terminal state: w += α (reward − Q(s, a)) φ(s, a).
  void update(const Context& context, std::size_t item, double reward) {
    learn(context, item, reward, nullptr, Candidates{});
  }

  /// A transition to `next`: w += α (reward + γ max_a' Q(s', a') − Q(s, a)) φ(s, a), the max over
  /// `next_candidates` (rows of next.items). Empty next_candidates is an Error (a transition with
  /// nothing to choose next is terminal: use the three-argument update).
  void update(const Context& context, std::size_t item, double reward, const Context& next,
              Candidates next_candidates) {
    learn(context, item, reward, &next, next_candidates);
  }

  /// Writes the config, dimensions, weights, update count and replay buffer (model type
  /// "linear_q", format version 1), so a loaded model scores identically and, trained on, learns
  /// identically.
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "linear_q", 1);
    w.u64("features", static_cast<std::uint64_t>(config_.features));
    w.f64("alpha", config_.alpha);
    w.f64("gamma", config_.gamma);
    w.u64("replay_capacity", config_.replay_capacity);
    w.u64("replay_batch", config_.replay_batch);
    w.u64("seed", config_.seed);
    w.u64("history_in_state", config_.history_in_state ? 1 : 0);
    w.u64("dims_fixed", fixed_ ? 1 : 0);
    w.u64("context_dim", dx_);
    w.u64("item_dim", da_);
    w.floats("weights", w_);
    w.u64("updates", updates_);
    w.u64("replay_size", replay_.size());
    w.u64("replay_next", replay_next_);
    for (const Replayed& e : replay_) {
      w.f64("reward", e.reward);
      w.u64("terminal", e.terminal ? 1 : 0);
      w.u64("next_count", e.terminal ? 0 : e.next_items.size() / da_);
      w.floats("state", e.state);
      w.floats("action", e.action);
      w.floats("next_state", e.next_state);
      w.floats("next_items", e.next_items);
    }
    w.finish();
  }

  /// Replaces everything with what `save` wrote. Throws marl_rec::Error (model unchanged) on a
  /// stream of another model type or version, a truncated or corrupted stream, or inconsistent
  /// contents (dimensions that do not match the weights present, a non-finite weight or stored
  /// value); nothing is allocated from a size the stream claims before its data is present.
  void load(std::istream& in) {
    constexpr const char* where = "LinearQ::load";
    constexpr std::uint64_t size_max = std::numeric_limits<std::size_t>::max();
    io::ModelReader r(in, "linear_q", 1);
    LinearQConfig c;
    c.features = static_cast<FeatureMap>(r.u64("features", 0, 3));
    c.alpha = static_cast<float>(r.f64("alpha"));
    c.gamma = static_cast<float>(r.f64("gamma"));
    c.replay_capacity = static_cast<std::size_t>(r.u64("replay_capacity", 0, size_max));
    c.replay_batch = static_cast<std::size_t>(r.u64("replay_batch", 0, size_max));
    c.seed = r.u64("seed");
    c.history_in_state = r.u64("history_in_state", 0, 1) == 1;
    validate(c, where);
    LinearQ loaded(c);
    const bool fixed = r.u64("dims_fixed", 0, 1) == 1;
    const auto dx = static_cast<std::size_t>(r.u64("context_dim", 0, fixed ? size_max : 0));
    const auto da = static_cast<std::size_t>(r.u64("item_dim", 0, fixed ? size_max : 0));
    std::size_t count = 0;
    if (fixed) {
      check_new_dims(where, dx, da, c);
      count = feature_dim(c.features, dx + (c.history_in_state ? da : 0), da);
    }
    // Read before the model is sized: the reader checks the count against the bytes present,
    // so forged dimensions are an Error, never an allocation of their size.
    const std::vector<float> weights = r.floats("weights", count);
    require_finite(where, "weights", weights);
    if (fixed) loaded.fix(dx, da);
    std::copy(weights.begin(), weights.end(), loaded.w_.begin());
    loaded.updates_ = r.u64("updates");
    const std::size_t size =
        static_cast<std::size_t>(r.u64("replay_size", 0, fixed ? c.replay_capacity : 0));
    const std::uint64_t next_max = c.replay_capacity == 0 ? 0 : c.replay_capacity - 1;
    loaded.replay_next_ = static_cast<std::size_t>(r.u64("replay_next", 0, next_max));
    marl_rec::detail::require(size == c.replay_capacity || loaded.replay_next_ == size, [&] {
      return std::string(where) + ": replay_next " + std::to_string(loaded.replay_next_) +
             " does not follow a partly filled buffer of " + std::to_string(size);
    });
    const std::size_t ds = loaded.state_dim();
    // One entry at a time, not resized up front: a forged size fails at its first missing field.
    for (std::size_t i = 0; i < size; ++i) {
      Replayed& e = loaded.replay_.emplace_back();
      e.reward = static_cast<float>(r.f64("reward"));
      marl_rec::detail::require(std::isfinite(e.reward), [&] {
        return std::string(where) + ": a stored reward is not finite";
      });
      e.terminal = r.u64("terminal", 0, 1) == 1;
      const auto k = static_cast<std::size_t>(
          r.u64("next_count", e.terminal ? 0 : 1, e.terminal ? 0 : size_max / da));
      e.state = r.floats("state", ds);
      e.action = r.floats("action", da);
      e.next_state = r.floats("next_state", e.terminal ? 0 : ds);
      e.next_items = r.floats("next_items", k * da);
      require_finite(where, "state", e.state);
      require_finite(where, "action", e.action);
      require_finite(where, "next_state", e.next_state);
      require_finite(where, "next_items", e.next_items);
    }
    r.finish();
    *this = std::move(loaded);
  }

 private:
  // A stored transition (see the class comment for its memory).
  struct Replayed {
    std::vector<float> state;
    std::vector<float> action;
    std::vector<float> next_state;  // empty when terminal
    std::vector<float> next_items;  // next_count × da, row-major; empty when terminal
    float reward = 0.0f;
    bool terminal = true;
  };

  // Q(s, a) = score(q, a) + offset for every item row a: what a state vector reduces to.
  struct Query {
    std::span<const float> q;
    float offset = 0.0f;
  };

  static void validate(const LinearQConfig& c, const char* where) {
    marl_rec::detail::require(c.features != FeatureMap::context, [&] {
      return std::string(where) +
             ": FeatureMap::context gives every item the same value (use concat or cross)";
    });
    marl_rec::detail::require(std::isfinite(c.alpha) && c.alpha > 0.0f, [&] {
      return std::string(where) + ": alpha must be finite and positive, got " +
             std::to_string(c.alpha);
    });
    marl_rec::detail::require(c.gamma >= 0.0f && c.gamma <= 1.0f, [&] {
      return std::string(where) + ": gamma must be in [0, 1], got " + std::to_string(c.gamma);
    });
    marl_rec::detail::require(c.replay_capacity == 0 || c.replay_batch >= 1, [&] {
      return std::string(where) + ": replay_batch must be at least 1 when replay_capacity is " +
             std::to_string(c.replay_capacity);
    });
  }

  void check_new_dims(const char* where, std::size_t dx, std::size_t da) const {
    check_new_dims(where, dx, da, config_);
  }

  // load(): a field of loaded values must hold finite numbers only.
  static void require_finite(const char* where, const char* field, std::span<const float> values) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      marl_rec::detail::require(std::isfinite(values[i]), [&] {
        return std::string(where) + ": field '" + field + "' holds a non-finite value at " +
               std::to_string(i);
      });
    }
  }

  // Dimensions a model can be fixed at: items have values, and φ has a dimension that fits.
  static void check_new_dims(const char* where, std::size_t dx, std::size_t da,
                             const LinearQConfig& c) {
    marl_rec::detail::require(da >= 1, [&] {
      return std::string(where) + ": items have 0 values (the item dimension must be at least 1)";
    });
    constexpr std::size_t limit = std::numeric_limits<std::size_t>::max() / 4;
    const std::size_t ds_extra = c.history_in_state ? da : 0;
    marl_rec::detail::require(dx <= limit - da - ds_extra, [&] {
      return std::string(where) + ": context dimension " + std::to_string(dx) + " is too large";
    });
    const std::size_t ds = dx + ds_extra;
    marl_rec::detail::require(c.features != FeatureMap::cross || ds <= limit / da, [&] {
      return std::string(where) + ": a cross feature map of " + std::to_string(ds) + " x " +
             std::to_string(da) + " is too large";
    });
    marl_rec::detail::require(feature_dim(c.features, ds, da) >= 1, [&] {
      return std::string(where) + ": phi would have no dimension (" + std::to_string(ds) +
             " state values x " + std::to_string(da) + " item values, " +
             std::string(to_string(c.features)) + ")";
    });
  }

  void fix(std::size_t dx, std::size_t da) {
    const std::size_t ds = dx + (config_.history_in_state ? da : 0);
    w_.assign(feature_dim(config_.features, ds, da), 0.0f);
    dx_ = dx;
    da_ = da;
    fixed_ = true;
  }

  void unfix() noexcept {
    dx_ = 0;
    da_ = 0;
    w_.clear();
    fixed_ = false;
  }

  static void check_context(const char* where, const char* what, const Context& c,
                            std::size_t dx, std::size_t da) {
    marl_rec::detail::require(c.features.size() == dx, [&] {
      return std::string(where) + ": " + what + ".features has " +
             std::to_string(c.features.size()) + " values, the model's context dimension is " +
             std::to_string(dx);
    });
    marl_rec::detail::require(c.items.cols() == da, [&] {
      return std::string(where) + ": " + what + ".items has rows of " +
             std::to_string(c.items.cols()) + " values, the model's item dimension is " +
             std::to_string(da);
    });
  }

  static void check_candidates(const char* where, const char* what, Candidates candidates,
                               std::size_t rows) {
    const std::size_t bound = candidates.index_bound();
    marl_rec::detail::require(bound <= rows, [&] {
      return std::string(where) + ": " + what + " include item " + std::to_string(bound - 1) +
             ", but the item matrix has " + std::to_string(rows) + " rows";
    });
  }

  static float checked_reward(const char* where, double reward) {
    return marl_rec::detail::float_reward(where, reward);
  }

  // The per-thread scratch of score(): grows, never shrinks.
  static std::span<float> score_scratch(std::size_t n) {
    thread_local AlignedVector<float> buffer;
    if (buffer.size() < n) buffer.resize(n);
    return {buffer.data(), n};
  }

  // Rows [begin, begin + count) of m (count ≥ 1), as a view of their own.
  static MatrixView rows_view(MatrixView m, std::size_t begin, std::size_t count) {
    const std::size_t needed = (count - 1) * m.stride() + m.cols();
    return MatrixView(std::span<const float>(m.data() + begin * m.stride(), needed), count,
                      m.cols(), m.stride());
  }

  // Writes s for context c (dimensions already checked to be dx and da): features, then the
  // history's mean item. Throws on a history entry that is not a row of c.items.
  void build_state(const char* where, const char* what, const Context& c, std::span<float> s,
                   std::size_t dx, std::size_t da) const {
    std::copy(c.features.begin(), c.features.end(), s.begin());
    if (!config_.history_in_state) return;
    for (const std::size_t h : c.history) {
      marl_rec::detail::require(h < c.items.rows(), [&] {
        return std::string(where) + ": " + what + ".history names item " + std::to_string(h) +
               ", but the item matrix has " + std::to_string(c.items.rows()) + " rows";
      });
    }
    const std::span<float> mean = s.subspan(dx, da);
    for (float& m : mean) m = 0.0f;
    if (c.history.empty()) return;
    for (const std::size_t h : c.history) {
      const float* row = c.items.row(h).data();
      for (std::size_t j = 0; j < da; ++j) mean[j] += row[j];
    }
    const auto count = static_cast<float>(c.history.size());
    for (float& m : mean) m /= count;
  }

  // Reduces the state vector s to a query over item rows (`v` is da floats of scratch for cross).
  Query prepare(std::span<const float> s, std::span<float> v) const {
    const std::span<const float> w(w_);
    switch (config_.features) {
      case FeatureMap::item:
        return {w, 0.0f};
      case FeatureMap::concat: {
        const std::size_t ds = s.size();
        return {w.subspan(ds, da_), simd::dot(w.first(ds), s)};
      }
      case FeatureMap::cross:
      default: {
        for (float& x : v) x = 0.0f;
        for_each_nonzero(s, [&](std::size_t i) { simd::axpy(s[i], w.subspan(i * da_, da_), v); });
        return {v, 0.0f};
      }
    }
  }

  static void score_rows(const Query& query, MatrixView rows, float* out) {
    simd::score(query.q, rows, std::span<float>(out, rows.rows()));
    for (std::size_t i = 0; i < rows.rows(); ++i) out[i] += query.offset;
  }

  // One row through the same kernel as score_rows (a row's score does not depend on its
  // position in a block), so lists and Candidates::all agree bit for bit.
  float score_one(const Query& query, const float* row) const {
    float out = 0.0f;
    score_rows(query, MatrixView(std::span<const float>(row, da_), 1, da_), &out);
    return out;
  }

  // Listed candidates are copied in blocks of this many rows and scored as one matrix.
  static constexpr std::size_t gather_rows = 16;

  // Scores candidates [begin, begin + min(gather_rows, rest)) of a list into out, through a copy
  // of their rows in `gather` (gather_rows × da floats). A row's score does not depend on its
  // position in a block, so this equals scoring the rows in place.
  void score_listed(const Query& query, MatrixView items, Candidates candidates, std::size_t begin,
                    std::span<float> gather, float* out) const {
    const std::size_t count = std::min(gather_rows, candidates.size() - begin);
    for (std::size_t i = 0; i < count; ++i) {
      const std::span<const float> row = items.row(candidates[begin + i]);
      std::copy(row.begin(), row.end(), gather.begin() + static_cast<std::ptrdiff_t>(i * da_));
    }
    score_rows(query, MatrixView(std::span<const float>(gather.data(), count * da_), count, da_),
               out);
  }

  // max(m, x), where a NaN x makes (and keeps) the result NaN.
  static float nan_max(float m, float x) noexcept { return (std::isnan(x) || x > m) ? x : m; }

  // The largest Q over the rows of `rows` (NaN if any is NaN), scored in blocks on the stack.
  static float max_rows(const Query& query, MatrixView rows) {
    constexpr std::size_t block = 256;
    float buffer[block];
    float m = -std::numeric_limits<float>::infinity();
    for (std::size_t begin = 0; begin < rows.rows(); begin += block) {
      const std::size_t count = std::min(block, rows.rows() - begin);
      score_rows(query, rows_view(rows, begin, count), buffer);
      for (std::size_t i = 0; i < count; ++i) m = nan_max(m, buffer[i]);
    }
    return m;
  }

  // w += coeff · φ(s, a).
  void step(std::span<const float> s, const float* a, float coeff) {
    const std::span<const float> action(a, da_);
    const std::span<float> w(w_);
    switch (config_.features) {
      case FeatureMap::item:
        simd::axpy(coeff, action, w);
        break;
      case FeatureMap::concat:
        simd::axpy(coeff, s, w.first(s.size()));
        simd::axpy(coeff, action, w.subspan(s.size(), da_));
        break;
      case FeatureMap::cross:
      default:
        for_each_nonzero(s, [&](std::size_t i) { simd::axpy(coeff * s[i], action, w.subspan(i * da_, da_)); });
        break;
    }
  }

  // Calls f(i) for every i with s[i] != 0, in increasing order. User features are mostly zeros
  // (one-hot), at unpredictable places: the indices are first collected without branches, since
  // a test-and-branch per feature costs a misprediction per non-zero.
  template <class F>
  static void for_each_nonzero(std::span<const float> s, F&& f) {
    constexpr std::size_t chunk = 256;
    std::size_t index[chunk];
    for (std::size_t begin = 0; begin < s.size(); begin += chunk) {
      const std::size_t end = std::min(s.size(), begin + chunk);
      std::size_t n = 0;
      for (std::size_t i = begin; i < end; ++i) {
        index[n] = i;
        n += s[i] != 0.0f ? 1 : 0;
      }
      for (std::size_t k = 0; k < n; ++k) f(index[k]);
    }
  }

  static void grow(AlignedVector<float>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
  }

  void learn(const Context& context, std::size_t item, double reward, const Context* next,
             Candidates next_candidates) {
    constexpr const char* where = "LinearQ::update";
    const float r = checked_reward(where, reward);
    const bool fixing = !fixed_;
    const std::size_t dx = fixing ? context.features.size() : dx_;
    const std::size_t da = fixing ? context.items.cols() : da_;
    if (fixing) check_new_dims(where, dx, da);
    check_context(where, "context", context, dx, da);
    marl_rec::detail::require(item < context.items.rows(), [&] {
      return std::string(where) + ": item " + std::to_string(item) +
             " is out of range (the item matrix has " + std::to_string(context.items.rows()) +
             " rows)";
    });
    if (next != nullptr) {
      check_context(where, "next", *next, dx, da);
      marl_rec::detail::require(!next_candidates.empty(), [&] {
        return std::string(where) +
               ": next_candidates is empty (use the three-argument update for a terminal "
               "transition)";
      });
      check_candidates(where, "next_candidates", next_candidates, next->items.rows());
    }
    // History entries are checked while building the states, before the model is changed.
    const std::size_t ds = dx + (config_.history_in_state ? da : 0);
    grow(s_, ds);
    grow(v_, da);
    grow(gather_, gather_rows * da);
    build_state(where, "context", context, std::span<float>(s_).first(ds), dx, da);
    if (next != nullptr) {
      grow(s_next_, ds);
      build_state(where, "next", *next, std::span<float>(s_next_).first(ds), dx, da);
    }
    if (fixing) fix(dx, da);

    const std::span<const float> s(s_.data(), ds);
    const float* a = context.items.row(item).data();
    const std::span<float> v(v_.data(), da_);
    const float q = score_one(prepare(s, v), a);
    float next_max = 0.0f;
    if (next != nullptr) {
      const Query query = prepare(std::span<const float>(s_next_.data(), ds), v);
      if (next_candidates.is_all()) {
        next_max = max_rows(query, rows_view(next->items, 0, next_candidates.size()));
      } else {
        float block[gather_rows];
        next_max = -std::numeric_limits<float>::infinity();
        for (std::size_t begin = 0; begin < next_candidates.size(); begin += gather_rows) {
          score_listed(query, next->items, next_candidates, begin, gather_, block);
          const std::size_t count = std::min(gather_rows, next_candidates.size() - begin);
          for (std::size_t i = 0; i < count; ++i) next_max = nan_max(next_max, block[i]);
        }
      }
    }
    const float delta = (r + config_.gamma * next_max) - q;
    if (!std::isfinite(delta)) {
      if (fixing) unfix();
      marl_rec::detail::require(false, [&] {
        return std::string(where) + ": the TD error is not finite (non-finite features, or the "
               "weights have diverged: Q(s, a) = " + std::to_string(q) + ", next max = " +
               std::to_string(next_max) + ")";
      });
    }
    step(s, a, config_.alpha * delta);
    ++updates_;
    if (config_.replay_capacity > 0) {
      store(s, a, r, next, next_candidates);
      replay();
    }
  }

  void store(std::span<const float> s, const float* a, float reward, const Context* next,
             Candidates next_candidates) {
    if (replay_next_ == replay_.size()) replay_.emplace_back();
    Replayed& e = replay_[replay_next_];
    replay_next_ = (replay_next_ + 1) % config_.replay_capacity;
    e.state.assign(s.begin(), s.end());
    e.action.assign(a, a + da_);
    e.reward = reward;
    e.terminal = next == nullptr;
    if (e.terminal) {
      e.next_state.clear();
      e.next_items.clear();
      return;
    }
    e.next_state.assign(s_next_.begin(), s_next_.begin() + static_cast<std::ptrdiff_t>(s.size()));
    e.next_items.resize(next_candidates.size() * da_);
    for (std::size_t i = 0; i < next_candidates.size(); ++i) {
      const std::span<const float> row = next->items.row(next_candidates[i]);
      std::copy(row.begin(), row.end(), e.next_items.begin() + static_cast<std::ptrdiff_t>(i * da_));
    }
  }

  void replay() {
    const std::size_t n = config_.replay_batch;
    Rng rng(config_.seed ^ (0x9E3779B97F4A7C15ull * updates_));
    grow(replay_q_, n);
    grow(replay_target_, n);
    grow(replay_reward_, n);
    grow(replay_next_max_, n);
    if (replay_pick_.size() < n) replay_pick_.resize(n);
    const std::span<float> v(v_.data(), da_);
    for (std::size_t b = 0; b < n; ++b) {
      const auto pick = static_cast<std::size_t>(rng.below(replay_.size()));
      replay_pick_[b] = pick;
      const Replayed& e = replay_[pick];
      replay_q_[b] = score_one(prepare(e.state, v), e.action.data());
      replay_reward_[b] = e.reward;
      replay_next_max_[b] = 0.0f;
      if (!e.terminal) {
        const std::size_t k = e.next_items.size() / da_;
        replay_next_max_[b] = max_rows(prepare(e.next_state, v),
                                       MatrixView(std::span<const float>(e.next_items), k, da_));
      }
    }
    std::copy(replay_q_.begin(), replay_q_.begin() + static_cast<std::ptrdiff_t>(n),
              replay_target_.begin());
    simd::td_update(std::span<float>(replay_target_.data(), n),
                    std::span<const float>(replay_reward_.data(), n),
                    std::span<const float>(replay_next_max_.data(), n), 1.0f, config_.gamma);
    for (std::size_t b = 0; b < n; ++b) {
      const Replayed& e = replay_[replay_pick_[b]];
      step(e.state, e.action.data(), config_.alpha * (replay_target_[b] - replay_q_[b]));
    }
  }

  LinearQConfig config_;
  bool fixed_ = false;
  std::size_t dx_ = 0;
  std::size_t da_ = 0;
  AlignedVector<float> w_;
  std::uint64_t updates_ = 0;
  std::vector<Replayed> replay_;
  std::size_t replay_next_ = 0;  // where the next transition is stored
  // update() scratch, grow-only: state vectors, Wᵀs, and the replayed batch.
  AlignedVector<float> s_;
  AlignedVector<float> s_next_;
  AlignedVector<float> v_;
  AlignedVector<float> gather_;
  AlignedVector<float> replay_q_;
  AlignedVector<float> replay_target_;
  AlignedVector<float> replay_reward_;
  AlignedVector<float> replay_next_max_;
  std::vector<std::size_t> replay_pick_;
};

}  // namespace marl_rec
