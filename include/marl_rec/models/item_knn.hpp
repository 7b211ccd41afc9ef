// marl_rec — item-based nearest neighbours: each item's most similar items by (asymmetric)
// cosine of their user sets; a user's scores are the summed similarities of their items'
// neighbours.
#pragma once

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
// The user item sets and the scoring driver shared with Ease (detail::UserItems,
// detail::score_context) live there.
#include "marl_rec/models/ease.hpp"

namespace marl_rec {

/// The settings of ItemKnn.
struct ItemKnnConfig {
  /// How many neighbours each item keeps (the most similar ones); ≥ 1.
  std::size_t neighbours = 100;
  /// Added to the similarity's denominator: pulls the similarity of items with few users
  /// towards 0 (finite, ≥ 0).
  float shrink = 10.0f;
  /// The asymmetric cosine's exponent, in [0, 1]: sim(i, j) = |U_i ∩ U_j| /
  /// (|U_i|^alpha · |U_j|^(1−alpha) + shrink). 0.5 is the cosine; alpha → 1 favours popular
  /// neighbours j (sim → P(j | i)), alpha → 0 penalises them.
  float alpha = 0.5f;
  /// true: an interaction counts 1 whatever its rating. false: the rating (summed over repeated
  /// (user, item) rows): |U_i ∩ U_j| becomes Σ_u r_ui r_uj and |U_i| becomes Σ_u r_ui², the same
  /// formula on the rating vectors (the cosine of the ratings at alpha 0.5).
  bool binarize = true;
};

/// One neighbour of an item: its index and its similarity.
struct ItemNeighbour {
  std::size_t item = 0;
  float similarity = 0.0f;
  friend bool operator==(const ItemNeighbour&, const ItemNeighbour&) = default;
};

/// Item-item k nearest neighbours. fit computes, for every item i, the similarity (see
/// ItemKnnConfig) to every item j ≠ i that shares a user with it, and keeps the `neighbours`
/// most similar with a positive similarity (ties: lower index first). A user's score for item
/// j is Σ over the user's items i of weight_i · sim(i, j) over the kept pairs: the
/// neighbourhoods of the user's items, summed.
///
/// Co-occurrences are counted one item at a time in a dense n-vector of doubles (sparse in the
/// data, dense in the scratch): time Σ_u |items of u|², memory O(n + interactions) besides the
/// n × neighbours result. No n × n matrix is ever built, so the item count is bounded only by
/// the result's memory.
///
/// - score_user(u) and score(context) score from user u's items — the training items, plus
///   those online updates added; score() uses `context.history` when `context.user` is not a
///   known user with items (an anonymous session, or a user of the id map without training
///   rows). An empty item set (a user training never saw, an empty
///   history) gets the cold-start scores: the training interactions per item, as MostPopular.
/// - update(context, item, reward) does not recompute the similarities: it adds `item` to the
///   user's items (binarized: weight 1; otherwise `reward` is added to the item's weight), so
///   the next score reflects it. A reward ≤ 0 (shown, not taken) records nothing; an anonymous
///   context (no_user) records nothing either (its history is the caller's to pass next time).
///   Refit to learn new co-occurrences or new items.
/// - score and score_user are const and thread-safe; they allocate only on a first call of a
///   shape (thread_local scratch, see detail::score_context).
///
/// Satisfies BatchRecommender and Model.
class ItemKnn {
 public:
  /// The settings type.
  using Config = ItemKnnConfig;

  /// An unfitted model with the default settings.
  ItemKnn() = default;
  /// An unfitted model with `config`. Throws Error when neighbours is 0, shrink is negative or
  /// not finite, or alpha is outside [0, 1].
  explicit ItemKnn(ItemKnnConfig config) : config_(config) { check_config(config_, "ItemKnn"); }

  /// "itemknn".
  std::string_view name() const noexcept { return "itemknn"; }
  /// The settings.
  const ItemKnnConfig& config() const noexcept { return config_; }
  /// Items of the fitted model (0 before fit).
  std::size_t items() const noexcept { return popularity_.size(); }
  /// User slots: the training users, plus users online updates added.
  std::size_t users() const noexcept { return users_.users(); }
  /// The kept neighbours of `item`, most similar first. Throws Error when item ≥ items().
  std::span<const ItemNeighbour> neighbours_of(std::size_t item) const {
    marl_rec::detail::require(item < items(), [&] {
      return "ItemKnn::neighbours_of: item " + std::to_string(item) + " is not below the " +
             std::to_string(items()) + " items";
    });
    return std::span<const ItemNeighbour>(neighbours_)
        .subspan(offsets_[item], offsets_[item + 1] - offsets_[item]);
  }
  /// User `user`'s items with their weights, ascending by item (empty for an unknown user).
  std::span<const detail::ItemWeight> user_items(std::size_t user) const noexcept {
    return users_.of(user);
  }

  /// Computes every item's neighbours from `train` (refitting from scratch). Throws Error when a
  /// row is outside the id maps or a rating is not finite (not binarized). A failed fit leaves
  /// the model unchanged.
  void fit(const Interactions& train) {
    detail::UserItems users = detail::UserItems::from(train, config_.binarize, "ItemKnn::fit");
    std::vector<float> popularity = detail::item_counts(train);
    const std::size_t n = train.items.size();

    // The users of each item (the transpose of the user lists), with their weights.
    std::vector<std::size_t> by_item_offsets(n + 1, 0);
    for (std::size_t u = 0; u < users.users(); ++u) {
      for (const detail::ItemWeight& e : users.of(u)) ++by_item_offsets[e.item + 1];
    }
    for (std::size_t i = 0; i < n; ++i) by_item_offsets[i + 1] += by_item_offsets[i];
    std::vector<detail::ItemWeight> by_item(by_item_offsets[n]);  // .item holds the user here
    std::vector<double> norm2(n, 0.0);                           // Σ_u w_ui² (|U_i| binarized)
    {
      std::vector<std::size_t> next(by_item_offsets.begin(), by_item_offsets.end() - 1);
      for (std::size_t u = 0; u < users.users(); ++u) {
        for (const detail::ItemWeight& e : users.of(u)) {
          by_item[next[e.item]++] = {u, e.weight};
          norm2[e.item] += static_cast<double>(e.weight) * e.weight;
        }
      }
    }

    // Co-occurrences of one item i at a time: co[j] = Σ_u w_ui w_uj over i's users u.
    std::vector<double> co(n, 0.0);
    std::vector<unsigned char> touched_flag(n, 0);
    std::vector<std::size_t> touched;
    std::vector<std::pair<std::size_t, double>> row;
    std::vector<std::size_t> offsets(n + 1, 0);
    std::vector<ItemNeighbour> neighbours;
    const double alpha = config_.alpha;
    const double shrink = config_.shrink;
    const auto before = [](const std::pair<std::size_t, double>& a,
                           const std::pair<std::size_t, double>& b) {
      return a.second > b.second || (a.second == b.second && a.first < b.first);
    };
    for (std::size_t i = 0; i < n; ++i) {
      touched.clear();
      for (std::size_t k = by_item_offsets[i]; k < by_item_offsets[i + 1]; ++k) {
        const std::size_t u = by_item[k].item;
        const double wi = by_item[k].weight;
        for (const detail::ItemWeight& e : users.of(u)) {
          if (e.item == i) continue;
          if (touched_flag[e.item] == 0) {
            touched_flag[e.item] = 1;
            touched.push_back(e.item);
          }
          co[e.item] += wi * e.weight;
        }
      }
      row.clear();
      const double left = std::pow(norm2[i], alpha);
      for (const std::size_t j : touched) {
        const double c = co[j];
        co[j] = 0.0;
        touched_flag[j] = 0;
        const double denominator = left * std::pow(norm2[j], 1.0 - alpha) + shrink;
        if (!(c > 0.0) || !(denominator > 0.0)) continue;  // no positive evidence
        const double sim = c / denominator;
        if (std::isfinite(sim) && static_cast<float>(sim) > 0.0f) row.emplace_back(j, sim);
      }
      const std::size_t keep = std::min(config_.neighbours, row.size());
      std::partial_sort(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(keep), row.end(),
                        before);
      for (std::size_t k = 0; k < keep; ++k) {
        neighbours.push_back({row[k].first, static_cast<float>(row[k].second)});
      }
      offsets[i + 1] = neighbours.size();
    }
    // Commit only once everything has succeeded.
    users_ = std::move(users);
    popularity_ = std::move(popularity);
    offsets_ = std::move(offsets);
    neighbours_ = std::move(neighbours);
  }

  /// Writes one score per item (the summed neighbour similarities of the user's items, or the
  /// cold-start scores for a user with no items; see the class comment). Throws Error when
  /// scores.size() != items().
  void score_user(std::size_t user, std::span<float> scores) const {
    marl_rec::detail::require(scores.size() == items(), [&] {
      return "ItemKnn::score_user: scores has " + std::to_string(scores.size()) +
             " entries, the model knows " + std::to_string(items()) + " items";
    });
    detail::score_item_set(users_.of(user), popularity_, scores, accumulator());
  }

  /// Model::score: the scores of the candidates for the context's user, or its history (see the
  /// class comment). Throws Error when scores.size() != candidates.size(), or a candidate or
  /// history item is not below items().
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    detail::score_context("ItemKnn::score", users_, popularity_, config_.binarize, context,
                          candidates, scores, accumulator());
  }

  /// Model::update: records (context.user, item) without recomputing similarities (see the class
  /// comment). Throws Error, changing nothing, when the reward is not finite, the item is not
  /// below items(), or the user index is absurdly far past the known users.
  void update(const Context& context, std::size_t item, double reward) {
    if (!detail::check_update("ItemKnn::update", users_, items(), config_.binarize, context,
                              item, reward)) {
      return;
    }
    users_.add(context.user, item, static_cast<float>(reward), config_.binarize);
  }

  /// Writes the config, the neighbour lists, the cold-start scores and the user item sets
  /// ("itemknn", version 1).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "itemknn", 1);
    w.u64("neighbours", config_.neighbours);
    w.f64("shrink", static_cast<double>(config_.shrink));
    w.f64("alpha", static_cast<double>(config_.alpha));
    w.u64("binarize", config_.binarize ? 1 : 0);
    w.u64("items", items());
    w.u64("neighbour_entries", neighbours_.size());
    std::vector<double> counts(items());
    for (std::size_t i = 0; i < items(); ++i) {
      counts[i] = static_cast<double>(offsets_[i + 1] - offsets_[i]);
    }
    std::vector<double> neighbour_items(neighbours_.size());
    std::vector<float> similarities(neighbours_.size());
    for (std::size_t k = 0; k < neighbours_.size(); ++k) {
      neighbour_items[k] = static_cast<double>(neighbours_[k].item);
      similarities[k] = neighbours_[k].similarity;
    }
    w.doubles("neighbour_counts", counts);
    w.doubles("neighbour_items", neighbour_items);
    w.floats("similarities", similarities);
    w.floats("popularity", popularity_);
    users_.save(w);
    w.finish();
  }

  /// Replaces the whole state (config included) with one `save` wrote. Throws Error naming what
  /// is wrong on a truncated, corrupted or foreign stream, and then leaves the model unchanged.
  void load(std::istream& in) {
    io::ModelReader r(in, "itemknn", 1);
    ItemKnnConfig config;
    config.neighbours = r.u64("neighbours", 1, std::uint64_t{1} << 32);
    config.shrink = static_cast<float>(r.f64("shrink"));
    config.alpha = static_cast<float>(r.f64("alpha"));
    config.binarize = r.u64("binarize", 0, 1) == 1;
    check_config(config, "ItemKnn::load");
    const std::size_t n = r.u64("items", 0, std::uint64_t{1} << 32);
    const std::size_t total = r.u64("neighbour_entries", 0, std::uint64_t{1} << 36);
    const std::vector<double> counts = r.doubles("neighbour_counts", n);
    const std::vector<double> neighbour_items = r.doubles("neighbour_items", total);
    const std::vector<float> similarities = r.floats("similarities", total);
    std::vector<float> popularity = r.floats("popularity", n);
    detail::UserItems users = detail::UserItems::load(r, n, config.binarize, "ItemKnn::load");
    r.finish();

    const auto is_index = [](double v, std::size_t bound) {
      return v >= 0.0 && v < static_cast<double>(bound) && v == std::floor(v);
    };
    std::vector<std::size_t> offsets(n + 1, 0);
    std::vector<ItemNeighbour> neighbours;
    neighbours.reserve(total);
    for (std::size_t i = 0; i < n; ++i) {
      const double c = counts[i];
      marl_rec::detail::require(is_index(c, std::min(config.neighbours, n) + 1) &&
                                    c <= static_cast<double>(total - neighbours.size()),
                                [&] {
                                  return "ItemKnn::load: item " + std::to_string(i) +
                                         "'s neighbour count " + std::to_string(c) +
                                         " is invalid";
                                });
      const auto count = static_cast<std::size_t>(c);
      for (std::size_t k = 0; k < count; ++k) {
        const std::size_t at = neighbours.size();
        const double j = neighbour_items[at];
        const float sim = similarities[at];
        marl_rec::detail::require(is_index(j, n) && static_cast<std::size_t>(j) != i &&
                                      std::isfinite(sim) && sim > 0.0f,
                                  [&] {
                                    return "ItemKnn::load: item " + std::to_string(i) +
                                           " has an invalid neighbour (" + std::to_string(j) +
                                           ", " + std::to_string(sim) + ")";
                                  });
        neighbours.push_back({static_cast<std::size_t>(j), sim});
      }
      offsets[i + 1] = neighbours.size();
    }
    marl_rec::detail::require(neighbours.size() == total, [&] {
      return "ItemKnn::load: the neighbour counts sum to " + std::to_string(neighbours.size()) +
             ", neighbour_entries is " + std::to_string(total);
    });
    for (const float p : popularity) {
      marl_rec::detail::require(std::isfinite(p) && p >= 0.0f,
                                "ItemKnn::load: a cold-start score is negative or not finite");
    }
    config_ = config;
    users_ = std::move(users);
    popularity_ = std::move(popularity);
    offsets_ = std::move(offsets);
    neighbours_ = std::move(neighbours);
  }

 private:
  static void check_config(const ItemKnnConfig& config, std::string_view where) {
    marl_rec::detail::require(config.neighbours >= 1, [&] {
      return std::string(where) + ": neighbours must be at least 1";
    });
    marl_rec::detail::require(std::isfinite(config.shrink) && config.shrink >= 0.0f, [&] {
      return std::string(where) + ": shrink must be finite and >= 0, got " +
             std::to_string(config.shrink);
    });
    marl_rec::detail::require(config.alpha >= 0.0f && config.alpha <= 1.0f, [&] {
      return std::string(where) + ": alpha must be in [0, 1], got " +
             std::to_string(config.alpha);
    });
  }

  // Adds weight · sim(item, j) to out[j] for every kept neighbour j of item.
  struct NeighbourAccumulator {
    const ItemKnn* model;
    void operator()(std::size_t item, float weight, std::span<float> out) const noexcept {
      const std::vector<ItemNeighbour>& neighbours = model->neighbours_;
      for (std::size_t k = model->offsets_[item]; k < model->offsets_[item + 1]; ++k) {
        out[neighbours[k].item] += weight * neighbours[k].similarity;
      }
    }
  };
  NeighbourAccumulator accumulator() const noexcept { return {this}; }

  ItemKnnConfig config_{};
  detail::UserItems users_{};
  std::vector<float> popularity_{};
  /// Item i's neighbours are neighbours_[offsets_[i], offsets_[i + 1]), most similar first.
  std::vector<std::size_t> offsets_{0};
  std::vector<ItemNeighbour> neighbours_{};
};

}  // namespace marl_rec
