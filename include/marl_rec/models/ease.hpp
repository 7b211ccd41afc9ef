// marl_rec — EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a
// closed-form item-item linear model, scores = x_u · B with B learned by ridge regression of
// every item on all the others (diag(B) = 0). Also the user-item sets shared with ItemKnn.
#pragma once

// GCC 12 with AVX-512 enabled (-march=native on such a CPU) reports -Wuninitialized /
// -Wmaybe-uninitialized inside its own intrinsics (the `__Y = __Y` of _mm512_undefined_pd, GCC
// bug 105593) wherever Eigen's AVX-512 code is inlined, and -Wunused-variable in Eigen's bfloat16
// packets when Eigen is not a system include. Both are in code we do not own.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wunused-variable"
#endif
#include <Eigen/Cholesky>
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

namespace detail {

/// One item of a user's (or session's) item set, with its weight: the user's entry in that
/// item's column of X.
struct ItemWeight {
  std::size_t item = 0;
  float weight = 0.0f;
  friend bool operator==(const ItemWeight&, const ItemWeight&) = default;
};

/// The item sets the item-item models (Ease, ItemKnn) score users from: per user its distinct
/// items in ascending index order, each with its weight (1 when binarized, else the sum of the
/// user's ratings of the item). fit builds it from the training rows; an online update adds to
/// it; save / load carry it. Keeping every list sorted makes a score a function of the item set
/// alone: the rows are accumulated in the same order whoever asks (a known user, or an
/// anonymous session with the same items), so the floats come out bit-identical.
class UserItems {
 public:
  /// The most users one update may add past the known ones (user index < users() + this): a
  /// guard against a garbage index making the model allocate without bound.
  static constexpr std::size_t max_user_growth = std::size_t{1} << 20;

  /// The item sets of `train`'s users (one list per user of the id map). Binarized: every row
  /// counts as weight 1, whatever its rating (ratings are not read). Otherwise the weight is
  /// the sum of the user's ratings of the item (summed in double), which must be finite.
  /// Throws Error (prefixed with `where`) on an index outside the id maps or a non-finite
  /// rating / sum.
  static UserItems from(const Interactions& train, bool binarize, std::string_view where) {
    const std::size_t n_users = train.users.size();
    const std::size_t n_items = train.items.size();
    std::vector<std::vector<std::pair<std::size_t, double>>> rows(n_users);
    for (std::size_t r = 0; r < train.rows.size(); ++r) {
      const Interaction& row = train.rows[r];
      marl_rec::detail::require(row.user < n_users && row.item < n_items, [&] {
        return std::string(where) + ": row " + std::to_string(r) + " has user " +
               std::to_string(row.user) + " / item " + std::to_string(row.item) +
               ", outside the id maps (" + std::to_string(n_users) + " users, " +
               std::to_string(n_items) + " items)";
      });
      marl_rec::detail::require(binarize || std::isfinite(row.rating), [&] {
        return std::string(where) + ": row " + std::to_string(r) + " has a non-finite rating";
      });
      rows[row.user].emplace_back(row.item, binarize ? 1.0 : static_cast<double>(row.rating));
    }
    UserItems out;
    out.lists_.resize(n_users);
    for (std::size_t u = 0; u < n_users; ++u) {
      auto& pairs = rows[u];
      std::stable_sort(pairs.begin(), pairs.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      std::vector<ItemWeight>& list = out.lists_[u];
      for (std::size_t k = 0; k < pairs.size();) {
        const std::size_t item = pairs[k].first;
        double sum = 0.0;
        for (; k < pairs.size() && pairs[k].first == item; ++k) sum += pairs[k].second;
        const float weight = binarize ? 1.0f : static_cast<float>(sum);
        marl_rec::detail::require(std::isfinite(weight), [&] {
          return std::string(where) + ": the ratings of user " + std::to_string(u) +
                 " for item " + std::to_string(item) + " sum to a non-finite float";
        });
        list.push_back({item, weight});
      }
      // The per-user pair list is not needed any more: free it as we go (large data sets).
      std::vector<std::pair<std::size_t, double>>().swap(pairs);
    }
    return out;
  }

  /// The number of user slots (training users, plus those online updates added).
  std::size_t users() const noexcept { return lists_.size(); }

  /// User `user`'s items, ascending (empty for an index past the known users).
  std::span<const ItemWeight> of(std::size_t user) const noexcept {
    if (user >= lists_.size()) return {};
    return lists_[user];
  }

  /// Total (user, item) entries.
  std::size_t entries() const noexcept {
    std::size_t n = 0;
    for (const auto& list : lists_) n += list.size();
    return n;
  }

  /// Throws Error (prefixed with `where`) unless add(user, item, weight, binarize) would
  /// succeed: the user index within the growth guard, and (not binarized) a finite new weight.
  void check_add(std::size_t user, std::size_t item, float weight, bool binarize,
                 std::string_view where) const {
    marl_rec::detail::require(user < lists_.size() + max_user_growth, [&] {
      return std::string(where) + ": user " + std::to_string(user) + " is more than " +
             std::to_string(max_user_growth) + " past the " + std::to_string(lists_.size()) +
             " known users";
    });
    if (binarize || user >= lists_.size()) return;
    const auto& list = lists_[user];
    const auto it = lower_bound(list, item);
    if (it == list.end() || it->item != item) return;
    marl_rec::detail::require(std::isfinite(it->weight + weight), [&] {
      return std::string(where) + ": user " + std::to_string(user) + "'s weight for item " +
             std::to_string(item) + " would overflow to a non-finite float";
    });
  }

  /// Records (user, item): binarized, the item joins the user's set with weight 1 (no change
  /// when present); otherwise `weight` is added to the item's weight (a new item starts at
  /// it). A user index past the known users adds empty slots up to it. Call check_add first:
  /// this does not check.
  void add(std::size_t user, std::size_t item, float weight, bool binarize) {
    if (user >= lists_.size()) lists_.resize(user + 1);
    auto& list = lists_[user];
    const auto it = lower_bound(list, item);
    if (it != list.end() && it->item == item) {
      if (!binarize) it->weight += weight;
      return;
    }
    list.insert(it, ItemWeight{item, binarize ? 1.0f : weight});
  }

  /// Writes the lists as fields "users", "entries", "user_counts", "user_items" (indices as
  /// doubles: exact below 2^53, and the stream format has no integer arrays) and
  /// "user_weights".
  void save(io::ModelWriter& w) const {
    const std::size_t total = entries();
    std::vector<double> counts(lists_.size());
    std::vector<double> items;
    std::vector<float> weights;
    items.reserve(total);
    weights.reserve(total);
    for (std::size_t u = 0; u < lists_.size(); ++u) {
      counts[u] = static_cast<double>(lists_[u].size());
      for (const ItemWeight& e : lists_[u]) {
        items.push_back(static_cast<double>(e.item));
        weights.push_back(e.weight);
      }
    }
    w.u64("users", lists_.size());
    w.u64("entries", total);
    w.doubles("user_counts", counts);
    w.doubles("user_items", items);
    w.floats("user_weights", weights);
  }

  /// Reads what save wrote, checking every value: counts and indices integral, items below
  /// `n_items` and strictly ascending per user, weights finite (and 1 when `binarize`).
  /// `where` names the model ("Ease::load").
  static UserItems load(io::ModelReader& r, std::size_t n_items, bool binarize,
                        std::string_view where) {
    const std::uint64_t n_users = r.u64("users", 0, std::uint64_t{1} << 32);
    const std::uint64_t total = r.u64("entries", 0, std::uint64_t{1} << 36);
    const std::vector<double> counts = r.doubles("user_counts", n_users);
    const std::vector<double> items = r.doubles("user_items", total);
    const std::vector<float> weights = r.floats("user_weights", total);
    const auto bad = [&](const std::string& what) {
      return std::string(where) + ": " + what;
    };
    UserItems out;
    out.lists_.resize(n_users);
    std::size_t next = 0;
    for (std::size_t u = 0; u < n_users; ++u) {
      const double c = counts[u];
      marl_rec::detail::require(is_index(c, n_items + 1) && c <= static_cast<double>(total - next),
                                [&] {
                                  return bad("user " + std::to_string(u) + "'s item count " +
                                             std::to_string(c) + " is invalid");
                                });
      const auto count = static_cast<std::size_t>(c);
      auto& list = out.lists_[u];
      list.reserve(count);
      for (std::size_t k = 0; k < count; ++k, ++next) {
        marl_rec::detail::require(is_index(items[next], n_items), [&] {
          return bad("user " + std::to_string(u) + " has item " + std::to_string(items[next]) +
                     ", not an index below the " + std::to_string(n_items) + " items");
        });
        const auto item = static_cast<std::size_t>(items[next]);
        marl_rec::detail::require(list.empty() || list.back().item < item, [&] {
          return bad("user " + std::to_string(u) + "'s items are not strictly ascending");
        });
        const float weight = weights[next];
        marl_rec::detail::require(std::isfinite(weight) && (!binarize || weight == 1.0f), [&] {
          return bad("user " + std::to_string(u) + " has an invalid weight " +
                     std::to_string(weight) + " for item " + std::to_string(item));
        });
        list.push_back({item, weight});
      }
    }
    marl_rec::detail::require(next == total, [&] {
      return bad("the user counts sum to " + std::to_string(next) + ", entries is " +
                 std::to_string(total));
    });
    return out;
  }

 private:
  // True when v is an integer in [0, bound) (false for NaN).
  static bool is_index(double v, std::size_t bound) noexcept {
    return v >= 0.0 && v < static_cast<double>(bound) && v == std::floor(v);
  }
  template <class List>
  static auto lower_bound(List& list, std::size_t item) -> decltype(list.begin()) {
    return std::lower_bound(list.begin(), list.end(), item,
                            [](const ItemWeight& e, std::size_t i) { return e.item < i; });
  }

  std::vector<std::vector<ItemWeight>> lists_;
};

/// Training interactions per item (the cold-start scores of the item-item models).
inline std::vector<float> item_counts(const Interactions& train) {
  std::vector<float> counts(train.items.size(), 0.0f);
  for (const Interaction& row : train.rows) {
    if (row.item < counts.size()) counts[row.item] += 1.0f;  // fit has checked the indices
  }
  return counts;
}

/// Writes the scores of an item set into `out` (one per item): `accumulate(item, weight, out)`
/// adds one item's contribution; an empty set gets `popularity` (nothing to go on).
template <class Accumulate>
inline void score_item_set(std::span<const ItemWeight> set, std::span<const float> popularity,
                           std::span<float> out, const Accumulate& accumulate) {
  if (set.empty()) {
    std::copy(popularity.begin(), popularity.end(), out.begin());
    return;
  }
  std::fill(out.begin(), out.end(), 0.0f);
  for (const ItemWeight& e : set) accumulate(e.item, e.weight, out);
}

/// The Model::score of an item-item model of `popularity.size()` items, given the item sets of
/// its known users. The items scored from: `context.user`'s set when it is a known user with
/// items, else `context.history` (sorted, repeats merged: weight 1 binarized, else the number of
/// occurrences). When the candidates are every item the scores are written in place; otherwise
/// every item is scored into a thread_local scratch that only grows, and the candidates are
/// gathered from it (an item's score is then bit-identical whatever the candidate list). The
/// history is sorted in another thread_local buffer that only grows. So nothing is allocated
/// after a first call of the same shape. `where` names the function in errors.
template <class Accumulate>
inline void score_context(std::string_view where, const UserItems& users,
                          std::span<const float> popularity, bool binarize,
                          const Context& context, Candidates candidates, std::span<float> scores,
                          const Accumulate& accumulate) {
  const std::size_t n = popularity.size();
  marl_rec::detail::require(scores.size() == candidates.size(), [&] {
    return std::string(where) + ": scores has " + std::to_string(scores.size()) +
           " entries, candidates has " + std::to_string(candidates.size());
  });
  const std::size_t bound = candidates.index_bound();
  marl_rec::detail::require(bound <= n, [&] {
    return std::string(where) + ": candidate item " + std::to_string(bound - 1) +
           " is not below the model's " + std::to_string(n) + " items";
  });
  if (candidates.empty()) return;

  // A user slot without items (a user of the id map with no training rows, or a slot an update
  // skipped over) has nothing to score from: the history is used as for an anonymous context.
  std::span<const ItemWeight> set = users.of(context.user);
  if (set.empty()) {
    thread_local std::vector<ItemWeight> history_buffer;
    const std::size_t h = context.history.size();
    if (history_buffer.size() < h) history_buffer.resize(h);
    for (std::size_t k = 0; k < h; ++k) {
      const std::size_t item = context.history[k];
      marl_rec::detail::require(item < n, [&] {
        return std::string(where) + ": history item " + std::to_string(item) +
               " is not below the model's " + std::to_string(n) + " items";
      });
      history_buffer[k] = {item, 1.0f};
    }
    const auto first = history_buffer.begin();
    std::sort(first, first + static_cast<std::ptrdiff_t>(h),
              [](const ItemWeight& a, const ItemWeight& b) { return a.item < b.item; });
    std::size_t kept = 0;
    for (std::size_t k = 0; k < h; ++k) {
      if (kept > 0 && history_buffer[kept - 1].item == history_buffer[k].item) {
        if (!binarize) history_buffer[kept - 1].weight += 1.0f;
      } else {
        history_buffer[kept++] = history_buffer[k];
      }
    }
    set = std::span<const ItemWeight>(history_buffer.data(), kept);
  }

  if (candidates.is_all() && candidates.size() == n) {
    score_item_set(set, popularity, scores, accumulate);
    return;
  }
  thread_local std::vector<float> scratch;
  if (scratch.size() < n) scratch.resize(n);
  const std::span<float> all(scratch.data(), n);
  score_item_set(set, popularity, all, accumulate);
  for (std::size_t c = 0; c < candidates.size(); ++c) scores[c] = all[candidates[c]];
}

/// The checks of an item-item model's Model::update: the item below `n_items`, a finite reward,
/// the user within the growth guard. True when the update records something (a known or new
/// user, reward > 0).
inline bool check_update(std::string_view where, const UserItems& users, std::size_t n_items,
                         bool binarize, const Context& context, std::size_t item,
                         double reward) {
  marl_rec::detail::require(std::isfinite(reward), [&] {
    return std::string(where) + ": the reward " + std::to_string(reward) + " is not finite";
  });
  marl_rec::detail::require(item < n_items, [&] {
    return std::string(where) + ": item " + std::to_string(item) + " is not below the model's " +
           std::to_string(n_items) + " items (refit to add items)";
  });
  if (context.user == no_user || reward <= 0.0) return false;
  const auto weight = static_cast<float>(reward);
  marl_rec::detail::require(std::isfinite(weight), [&] {
    return std::string(where) + ": the reward " + std::to_string(reward) +
           " overflows a float";
  });
  users.check_add(context.user, item, weight, binarize, where);
  return true;
}

}  // namespace detail

/// The settings of Ease.
struct EaseConfig {
  /// The L2 penalty λ on B (added to the Gram matrix's diagonal). Larger: smoother, more
  /// popularity-like scores. Finite and > 0 (it also keeps XᵀX + λI invertible).
  float lambda = 500.0f;
  /// true: X is binary (an interaction is a 1, whatever its rating). false: X holds the rating
  /// (summed over repeated (user, item) rows).
  bool binarize = true;
  /// The largest item count fit accepts (B is dense: n² floats, and fitting needs n² doubles
  /// besides). At most Ease::max_items_limit.
  std::size_t max_items = 20000;
};

/// EASE: B = argmin ‖X − XB‖² + λ‖B‖² subject to diag(B) = 0, in closed form
/// (P = (XᵀX + λI)⁻¹, B_ij = −P_ij / P_jj, B_jj = 0); a user's scores are x_u B, i.e. the sum
/// of the rows of B of the user's items (times their weights).
///
/// - score_user(u) and score(context) score from user u's items — the training items, plus
///   those online updates added; score() uses `context.history` when `context.user` is not a
///   known user with items (an anonymous session, or a user of the id map without training
///   rows). An empty item set (a user training never saw, an empty
///   history) gets the cold-start scores: the training interactions per item, as MostPopular.
/// - update(context, item, reward) does not refit B: it adds `item` to the user's items
///   (binarized: weight 1; otherwise `reward` is added to the item's weight), so the next score
///   reflects it. A reward ≤ 0 (shown, not taken) records nothing; an anonymous context
///   (no_user) records nothing either (its history is the caller's to pass next time). Refit to
///   learn new co-occurrences or new items.
/// - score and score_user are const and thread-safe; they allocate only on a first call of a
///   shape (thread_local scratch, see detail::score_context). A candidate list costs as much as
///   scoring every item.
///
/// Satisfies BatchRecommender and Model.
class Ease {
 public:
  /// The settings type.
  using Config = EaseConfig;

  /// The largest max_items a config may set: B alone would take 4 TB.
  static constexpr std::size_t max_items_limit = std::size_t{1} << 20;

  /// An unfitted model with the default settings.
  Ease() = default;
  /// An unfitted model with `config`. Throws Error when lambda is not finite and > 0, or
  /// max_items is 0 or above max_items_limit.
  explicit Ease(EaseConfig config) : config_(config) { check_config(config_, "Ease"); }

  /// "ease".
  std::string_view name() const noexcept { return "ease"; }
  /// The settings.
  const EaseConfig& config() const noexcept { return config_; }
  /// Items of the fitted model (0 before fit).
  std::size_t items() const noexcept { return popularity_.size(); }
  /// User slots: the training users, plus users online updates added.
  std::size_t users() const noexcept { return users_.users(); }
  /// B, items() × items(), row-major: row i is what item i adds to a user's scores.
  MatrixView weights() const { return MatrixView(std::span<const float>(b_), items(), items()); }
  /// User `user`'s items with their weights, ascending by item (empty for an unknown user).
  std::span<const detail::ItemWeight> user_items(std::size_t user) const noexcept {
    return users_.of(user);
  }

  /// Learns B from `train` (refitting from scratch). Cost: Σ_u |items of u|² to build XᵀX, and
  /// about 5n³/3 flops for the Cholesky factorisation and the inverse (measured on 2 shared
  /// cores at -O2: 0.3–0.5 s for 1,128 items, 7 s for 3,000; the time grows as n³). Throws Error when train has more
  /// than config().max_items items, a row is outside the id maps, a rating is not finite (not
  /// binarized), or XᵀX + λI is not numerically positive definite. A failed fit leaves the
  /// model unchanged.
  void fit(const Interactions& train) {
    const std::size_t n = train.items.size();
    marl_rec::detail::require(n <= config_.max_items, [&] {
      // In double: n² may not fit a size_t for an absurd n.
      const double cells = static_cast<double>(n) * static_cast<double>(n);
      const auto megabytes = [](double bytes) {
        return std::to_string(static_cast<unsigned long long>(bytes / 1e6)) + " MB";
      };
      return "Ease::fit: the training data has " + std::to_string(n) +
             " items, more than max_items = " + std::to_string(config_.max_items) +
             ": B is a dense n x n float matrix (" + megabytes(4 * cells) + " for " +
             std::to_string(n) + " items) and fitting needs an n x n double Gram matrix besides (" +
             megabytes(8 * cells) + "); raise max_items if the memory is there";
    });
    detail::UserItems users = detail::UserItems::from(train, config_.binarize, "Ease::fit");
    std::vector<float> popularity = detail::item_counts(train);
    AlignedVector<float> b = solve(users, n, config_.lambda);
    // Commit only once everything has succeeded.
    b_ = std::move(b);
    users_ = std::move(users);
    popularity_ = std::move(popularity);
  }

  /// Writes one score per item (x_u B, or the cold-start scores for a user with no items; see
  /// the class comment). Throws Error when scores.size() != items().
  void score_user(std::size_t user, std::span<float> scores) const {
    marl_rec::detail::require(scores.size() == items(), [&] {
      return "Ease::score_user: scores has " + std::to_string(scores.size()) +
             " entries, the model knows " + std::to_string(items()) + " items";
    });
    detail::score_item_set(users_.of(user), popularity_, scores, accumulator());
  }

  /// Model::score: the scores of the candidates for the context's user, or its history (see the
  /// class comment). Throws Error when scores.size() != candidates.size(), or a candidate or
  /// history item is not below items().
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    detail::score_context("Ease::score", users_, popularity_, config_.binarize, context,
                          candidates, scores, accumulator());
  }

  /// Model::update: records (context.user, item) without refitting B (see the class comment).
  /// Throws Error, changing nothing, when the reward is not finite, the item is not below
  /// items(), or the user index is absurdly far past the known users.
  void update(const Context& context, std::size_t item, double reward) {
    if (!detail::check_update("Ease::update", users_, items(), config_.binarize, context, item,
                              reward)) {
      return;
    }
    users_.add(context.user, item, static_cast<float>(reward), config_.binarize);
  }

  /// Writes the config, B, the cold-start scores and the user item sets ("ease", version 1).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "ease", 1);
    w.f64("lambda", static_cast<double>(config_.lambda));
    w.u64("binarize", config_.binarize ? 1 : 0);
    w.u64("max_items", config_.max_items);
    w.u64("items", items());
    w.floats("b", b_);
    w.floats("popularity", popularity_);
    users_.save(w);
    w.finish();
  }

  /// Replaces the whole state (config included) with one `save` wrote. Throws Error naming what
  /// is wrong on a truncated, corrupted or foreign stream, and then leaves the model unchanged.
  void load(std::istream& in) {
    io::ModelReader r(in, "ease", 1);
    EaseConfig config;
    config.lambda = static_cast<float>(r.f64("lambda"));
    config.binarize = r.u64("binarize", 0, 1) == 1;
    config.max_items = r.u64("max_items", 1, max_items_limit);
    check_config(config, "Ease::load");
    const std::size_t n = r.u64("items", 0, config.max_items);
    std::vector<float> b_values = r.floats("b", n * n);
    std::vector<float> popularity = r.floats("popularity", n);
    detail::UserItems users = detail::UserItems::load(r, n, config.binarize, "Ease::load");
    r.finish();
    for (std::size_t i = 0; i < n * n; ++i) {
      marl_rec::detail::require(std::isfinite(b_values[i]) && (i % (n + 1) != 0 || b_values[i] == 0.0f),
                                "Ease::load: B has a non-finite or non-zero diagonal entry");
    }
    for (const float p : popularity) {
      marl_rec::detail::require(std::isfinite(p) && p >= 0.0f,
                                "Ease::load: a cold-start score is negative or not finite");
    }
    AlignedVector<float> b(b_values.begin(), b_values.end());
    config_ = config;
    b_ = std::move(b);
    popularity_ = std::move(popularity);
    users_ = std::move(users);
  }

 private:
  static void check_config(const EaseConfig& config, std::string_view where) {
    marl_rec::detail::require(std::isfinite(config.lambda) && config.lambda > 0.0f, [&] {
      return std::string(where) + ": lambda must be finite and > 0, got " +
             std::to_string(config.lambda);
    });
    marl_rec::detail::require(config.max_items >= 1 && config.max_items <= max_items_limit, [&] {
      return std::string(where) + ": max_items must be in [1, " + std::to_string(max_items_limit) +
             "], got " + std::to_string(config.max_items);
    });
  }

  // Adds weight · row(item) of B to out.
  struct RowAccumulator {
    const Ease* model;
    void operator()(std::size_t item, float weight, std::span<float> out) const {
      const std::size_t n = model->items();
      simd::axpy(weight, std::span<const float>(model->b_).subspan(item * n, n), out);
    }
  };
  RowAccumulator accumulator() const noexcept { return {this}; }

  // B from the users' item sets. Precision: the Gram matrix and its inverse are computed in
  // double. XᵀX + λI has condition number up to (largest eigenvalue of XᵀX + λ) / λ, easily
  // 1e3..1e5 with popular items and a small λ; a float Cholesky would keep only a few correct
  // digits of P and thus of B. B itself is stored as float: it only ranks items, a relative
  // rounding of 6e-8 per entry is far below any difference that matters, it halves the memory
  // (n² · 4 bytes) and lets the float SIMD kernels accumulate its rows.
  static AlignedVector<float> solve(const detail::UserItems& users, std::size_t n, float lambda) {
    AlignedVector<float> b(n * n, 0.0f);
    if (n == 0) return b;
    const auto size = static_cast<Eigen::Index>(n);
    // G = XᵀX + λI, lower triangle only (the factorisation reads nothing else). Built from
    // each user's pairs of items, O(Σ_u |items of u|²), as X is sparse.
    Eigen::MatrixXd g = Eigen::MatrixXd::Zero(size, size);
    for (std::size_t u = 0; u < users.users(); ++u) {
      const std::span<const detail::ItemWeight> list = users.of(u);
      for (std::size_t p = 0; p < list.size(); ++p) {
        const auto row = static_cast<Eigen::Index>(list[p].item);
        const double wp = list[p].weight;
        // list is ascending, so list[q].item <= list[p].item: the lower triangle.
        for (std::size_t q = 0; q <= p; ++q) {
          g(row, static_cast<Eigen::Index>(list[q].item)) += wp * list[q].weight;
        }
      }
    }
    g.diagonal().array() += static_cast<double>(lambda);
    // In place: G's storage becomes its Cholesky factor L (no second n² doubles).
    Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>, Eigen::Lower> llt(g);
    marl_rec::detail::require(llt.info() == Eigen::Success, [&] {
      return "Ease::fit: X^T X + lambda I is not numerically positive definite (lambda = " +
             std::to_string(lambda) + "); raise lambda";
    });
    // P = G⁻¹ a block of columns at a time (L Lᵀ Y = the identity's columns), each turned into
    // B's columns right away: memory n × block doubles beside L, not another n². The forward
    // solve L Z = E skips the rows above the block (Z is zero there, as L is lower triangular):
    // n³/3 flops in all instead of n³, so the fit costs about 5n³/3 flops with the Cholesky
    // factorisation and the backward solves.
    constexpr Eigen::Index block = 256;
    Eigen::MatrixXd y(size, std::min(block, size));
    for (Eigen::Index j0 = 0; j0 < size; j0 += block) {
      const Eigen::Index width = std::min(block, size - j0);
      const Eigen::Index rest = size - j0;
      auto cols = y.leftCols(width);
      cols.setZero();
      for (Eigen::Index c = 0; c < width; ++c) cols(j0 + c, c) = 1.0;
      auto below = cols.bottomRows(rest);
      g.bottomRightCorner(rest, rest).triangularView<Eigen::Lower>().solveInPlace(below);
      g.transpose().triangularView<Eigen::Upper>().solveInPlace(cols);
      for (Eigen::Index c = 0; c < width; ++c) {
        const Eigen::Index j = j0 + c;
        const double pjj = cols(j, c);
        marl_rec::detail::require(std::isfinite(pjj) && pjj > 0.0, [&] {
          return "Ease::fit: the inverse Gram matrix has a non-positive diagonal entry (lambda = " +
                 std::to_string(lambda) + "); raise lambda";
        });
        for (Eigen::Index i = 0; i < size; ++i) {
          b[static_cast<std::size_t>(i * size + j)] =
              i == j ? 0.0f : static_cast<float>(-cols(i, c) / pjj);
        }
      }
    }
    return b;
  }

  EaseConfig config_{};
  AlignedVector<float> b_{};
  std::vector<float> popularity_{};
  detail::UserItems users_{};
};

}  // namespace marl_rec
