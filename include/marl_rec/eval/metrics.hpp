// marl_rec — offline ranking metrics (binary relevance, full ranking), list-level metrics
// (diversity, novelty, revenue), group metrics, and their average over the users of a test set.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <iomanip>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec::eval {

// Conventions of every function below:
// - `ranked` is a list of item indices, best first. Only its first k entries count (the top k);
//   a list shorter than k is fine (the missing places are misses). An item may appear only once
//   in the top k: a repeat would be counted twice, so it is an Error.
// - `relevant` is the set of relevant item indices, sorted and unique (checked, O(|relevant|)).
// - Ranks are 1-based in the formulas: the item at ranked[i] has rank i + 1. hit(i) = 1 when
//   ranked[i] is relevant, 0 otherwise; n = min(k, ranked.size()).
// - Every metric is 0 when k = 0.

namespace detail {
using marl_rec::detail::require;

/// Throws Error unless `relevant` is sorted and unique.
inline void check_relevant(std::string_view where, std::span<const std::size_t> relevant) {
  const auto bad = std::adjacent_find(relevant.begin(), relevant.end(), std::greater_equal<>());
  require(bad == relevant.end(), [&] {
    return std::string(where) + ": relevant is not sorted and unique (at position " +
           std::to_string(bad - relevant.begin()) + ")";
  });
}

/// The top k of `ranked` (the first min(k, size) entries); throws Error when an item repeats.
inline std::span<const std::size_t> top(std::string_view where, std::span<const std::size_t> ranked,
                                        std::size_t k) {
  const std::span<const std::size_t> head = ranked.first(std::min(k, ranked.size()));
  if (head.size() < 2) return head;
  std::vector<std::size_t> sorted(head.begin(), head.end());
  std::sort(sorted.begin(), sorted.end());
  const auto repeat = std::adjacent_find(sorted.begin(), sorted.end());
  require(repeat == sorted.end(), [&] {
    return std::string(where) + ": item " + std::to_string(*repeat) +
           " appears more than once in the top " + std::to_string(k) + " of ranked";
  });
  return head;
}

/// Throws Error when an item of `items` is not below `size`, named `limit` in the message (the
/// length of a per-item array, or the number of items).
inline void check_items_below(std::string_view where, std::span<const std::size_t> items,
                              std::size_t size, std::string_view limit) {
  for (const std::size_t item : items) {
    require(item < size, [&] {
      return std::string(where) + ": item " + std::to_string(item) + " is out of range (" +
             std::string(limit) + " = " + std::to_string(size) + ")";
    });
  }
}

/// hit(i) for the top k: 1 when head[i] is in `relevant`.
inline std::vector<unsigned char> hits(std::span<const std::size_t> head,
                                       std::span<const std::size_t> relevant) {
  std::vector<unsigned char> out(head.size());
  for (std::size_t i = 0; i < head.size(); ++i) {
    out[i] = std::binary_search(relevant.begin(), relevant.end(), head[i]) ? 1 : 0;
  }
  return out;
}

/// 1 / log2(rank + 1) for the 0-based position i (rank i + 1).
inline double discount(std::size_t i) { return 1.0 / std::log2(static_cast<double>(i) + 2.0); }

// The metrics from hit flags of the top k (unchecked; the public functions check first).
inline std::size_t hit_count(std::span<const unsigned char> hit) {
  return static_cast<std::size_t>(std::count(hit.begin(), hit.end(), 1));
}
inline double precision(std::span<const unsigned char> hit, std::size_t k) {
  return k == 0 ? 0.0 : static_cast<double>(hit_count(hit)) / static_cast<double>(k);
}
inline double recall(std::span<const unsigned char> hit, std::size_t n_relevant) {
  return n_relevant == 0 ? 0.0
                         : static_cast<double>(hit_count(hit)) / static_cast<double>(n_relevant);
}
inline double ndcg(std::span<const unsigned char> hit, std::size_t n_relevant, std::size_t k) {
  double dcg = 0.0, ideal = 0.0;
  for (std::size_t i = 0; i < hit.size(); ++i) dcg += hit[i] * discount(i);
  for (std::size_t i = 0; i < std::min(k, n_relevant); ++i) ideal += discount(i);
  return ideal == 0.0 ? 0.0 : dcg / ideal;
}
inline double average_precision(std::span<const unsigned char> hit, std::size_t n_relevant,
                                std::size_t k) {
  const std::size_t norm = std::min(k, n_relevant);
  if (norm == 0) return 0.0;
  double sum = 0.0;
  std::size_t so_far = 0;
  for (std::size_t i = 0; i < hit.size(); ++i) {
    if (!hit[i]) continue;
    ++so_far;
    sum += static_cast<double>(so_far) / static_cast<double>(i + 1);
  }
  return sum / static_cast<double>(norm);
}
inline double hit_rate(std::span<const unsigned char> hit) {
  return hit_count(hit) > 0 ? 1.0 : 0.0;
}
inline double reciprocal_rank(std::span<const unsigned char> hit) {
  const auto first = std::find(hit.begin(), hit.end(), 1);
  return first == hit.end() ? 0.0 : 1.0 / static_cast<double>(first - hit.begin() + 1);
}

// List-level metrics over a checked top k.
inline double intra_list_diversity(std::string_view where, std::span<const std::size_t> head,
                                   MatrixView embeddings) {
  check_items_below(where, head, embeddings.rows(), "embeddings rows");
  if (head.size() < 2) return 0.0;
  std::vector<double> norm(head.size());
  for (std::size_t i = 0; i < head.size(); ++i) {
    double sq = 0.0;
    for (const float x : embeddings.row(head[i])) sq += static_cast<double>(x) * x;
    require(std::isfinite(sq), [&] {
      return std::string(where) + ": the vector of item " + std::to_string(head[i]) +
             " is not finite";
    });
    norm[i] = std::sqrt(sq);
  }
  double sum = 0.0;
  for (std::size_t i = 0; i < head.size(); ++i) {
    for (std::size_t j = i + 1; j < head.size(); ++j) {
      double cosine = 0.0;  // a zero vector is taken as orthogonal to everything
      if (norm[i] > 0.0 && norm[j] > 0.0) {
        const auto a = embeddings.row(head[i]);
        const auto b = embeddings.row(head[j]);
        double dot = 0.0;
        for (std::size_t d = 0; d < a.size(); ++d) dot += static_cast<double>(a[d]) * b[d];
        cosine = std::clamp(dot / (norm[i] * norm[j]), -1.0, 1.0);
      }
      sum += 1.0 - cosine;
    }
  }
  const double pairs = static_cast<double>(head.size() * (head.size() - 1) / 2);
  return sum / pairs;
}

inline double category_diversity(std::string_view where, std::span<const std::size_t> head,
                                 std::span<const std::size_t> category_of_item) {
  check_items_below(where, head, category_of_item.size(), "category_of_item size");
  if (head.size() < 2) return 0.0;
  std::size_t different = 0;
  for (std::size_t i = 0; i < head.size(); ++i) {
    for (std::size_t j = i + 1; j < head.size(); ++j) {
      different += category_of_item[head[i]] != category_of_item[head[j]];
    }
  }
  return static_cast<double>(different) / static_cast<double>(head.size() * (head.size() - 1) / 2);
}

inline double novelty(std::string_view where, std::span<const std::size_t> head,
                      std::span<const double> popularity, std::size_t n_users) {
  check_items_below(where, head, popularity.size(), "popularity size");
  if (head.empty()) return 0.0;
  double sum = 0.0;
  for (const std::size_t item : head) {
    const double count = popularity[item];
    require(count >= 0.0 && count <= static_cast<double>(n_users), [&] {
      return std::string(where) + ": popularity of item " + std::to_string(item) + " (" +
             std::to_string(count) + ") is not in [0, n_users = " + std::to_string(n_users) + "]";
    });
    sum -= std::log2((count + 1.0) / (static_cast<double>(n_users) + 1.0));
  }
  return sum / static_cast<double>(head.size());
}

inline double revenue(std::string_view where, std::span<const std::size_t> head,
                      std::span<const unsigned char> hit, std::span<const float> prices) {
  check_items_below(where, head, prices.size(), "prices size");
  double sum = 0.0;
  for (std::size_t i = 0; i < head.size(); ++i) {
    const float price = prices[head[i]];
    require(std::isfinite(price) && price >= 0.0f, [&] {
      return std::string(where) + ": price of item " + std::to_string(head[i]) + " (" +
             std::to_string(price) + ") is not finite and non-negative";
    });
    if (hit[i]) sum += price;
  }
  return sum;
}
}  // namespace detail

/// Precision@k = (Σ_{i<n} hit(i)) / k: the share of the k places that hold a relevant item (a
/// list shorter than k is penalised for its empty places).
inline double precision_at(std::span<const std::size_t> ranked,
                           std::span<const std::size_t> relevant, std::size_t k) {
  detail::check_relevant("eval::precision_at", relevant);
  return detail::precision(detail::hits(detail::top("eval::precision_at", ranked, k), relevant), k);
}

/// Recall@k = (Σ_{i<n} hit(i)) / |relevant|: the share of the relevant items found in the top k;
/// 0 when `relevant` is empty.
inline double recall_at(std::span<const std::size_t> ranked, std::span<const std::size_t> relevant,
                        std::size_t k) {
  detail::check_relevant("eval::recall_at", relevant);
  return detail::recall(detail::hits(detail::top("eval::recall_at", ranked, k), relevant),
                        relevant.size());
}

/// nDCG@k = DCG / IDCG with DCG = Σ_{i<n} hit(i) / log2(i + 2) (gain 1 / log2(rank + 1)) and
/// IDCG = Σ_{i < min(k, |relevant|)} 1 / log2(i + 2), the DCG of a list with every relevant item
/// first. In [0, 1]; 0 when `relevant` is empty.
inline double ndcg_at(std::span<const std::size_t> ranked, std::span<const std::size_t> relevant,
                      std::size_t k) {
  detail::check_relevant("eval::ndcg_at", relevant);
  return detail::ndcg(detail::hits(detail::top("eval::ndcg_at", ranked, k), relevant),
                      relevant.size(), k);
}

/// AP@k = (1 / min(k, |relevant|)) · Σ_{i<n} hit(i) · Precision@(i + 1): the mean of the
/// precisions at the ranks of the hits, normalised so that a perfect list scores 1; 0 when
/// `relevant` is empty. Its mean over users is MAP@k.
inline double average_precision_at(std::span<const std::size_t> ranked,
                                   std::span<const std::size_t> relevant, std::size_t k) {
  detail::check_relevant("eval::average_precision_at", relevant);
  return detail::average_precision(
      detail::hits(detail::top("eval::average_precision_at", ranked, k), relevant), relevant.size(),
      k);
}

/// HitRate@k = 1 when the top k holds at least one relevant item, else 0.
inline double hit_rate_at(std::span<const std::size_t> ranked,
                          std::span<const std::size_t> relevant, std::size_t k) {
  detail::check_relevant("eval::hit_rate_at", relevant);
  return detail::hit_rate(detail::hits(detail::top("eval::hit_rate_at", ranked, k), relevant));
}

/// RR@k = 1 / (rank of the first relevant item) when it is in the top k, else 0. Its mean over
/// users is MRR@k.
inline double reciprocal_rank_at(std::span<const std::size_t> ranked,
                                 std::span<const std::size_t> relevant, std::size_t k) {
  detail::check_relevant("eval::reciprocal_rank_at", relevant);
  return detail::reciprocal_rank(
      detail::hits(detail::top("eval::reciprocal_rank_at", ranked, k), relevant));
}

/// ILD@k = mean over the n(n − 1)/2 pairs of the top k of (1 − cos(e_a, e_b)), e = the items'
/// rows of `embeddings`: 0 for identical directions, 1 for orthogonal, up to 2 for opposite.
/// A zero vector counts as orthogonal to every vector (distance 1). 0 when n < 2. Throws Error
/// when an item is not a row of `embeddings` or its vector is not finite.
inline double intra_list_diversity_at(std::span<const std::size_t> ranked, std::size_t k,
                                      MatrixView embeddings) {
  const char* where = "eval::intra_list_diversity_at";
  return detail::intra_list_diversity(where, detail::top(where, ranked, k), embeddings);
}

/// Category ILD@k = the share of the n(n − 1)/2 pairs of the top k whose items have different
/// categories (category_of_item[item], any integer coding); 0 when n < 2.
inline double intra_list_category_diversity_at(std::span<const std::size_t> ranked, std::size_t k,
                                               std::span<const std::size_t> category_of_item) {
  const char* where = "eval::intra_list_category_diversity_at";
  return detail::category_diversity(where, detail::top(where, ranked, k), category_of_item);
}

/// Novelty@k = (1/n) Σ_{i<n} −log2(p_i), the mean self-information of the recommended items,
/// with p_i = (popularity[item] + 1) / (n_users + 1): the share of users who interacted with the
/// item, add-one smoothed so that an item nobody has seen gets a finite novelty
/// (log2(n_users + 1), the largest). `popularity` holds per item the number of distinct users
/// who interacted with it (see item_popularity), so 0 ≤ popularity ≤ n_users (checked).
/// 0 when n = 0.
inline double novelty_at(std::span<const std::size_t> ranked, std::size_t k,
                         std::span<const double> popularity, std::size_t n_users) {
  const char* where = "eval::novelty_at";
  return detail::novelty(where, detail::top(where, ranked, k), popularity, n_users);
}

/// Revenue@k = Σ_{i<n} hit(i) · prices[ranked[i]]: what the user would have paid for the
/// relevant items of the top k. Prices must be finite and ≥ 0 (checked for the top k).
inline double revenue_at(std::span<const std::size_t> ranked, std::span<const std::size_t> relevant,
                         std::size_t k, std::span<const float> prices) {
  const char* where = "eval::revenue_at";
  detail::check_relevant(where, relevant);
  const std::span<const std::size_t> head = detail::top(where, ranked, k);
  return detail::revenue(where, head, detail::hits(head, relevant), prices);
}

/// The nDCG@k of one list shown to a group, from each member's point of view.
struct GroupScore {
  /// Mean over the members of their nDCG@k (how good the list is on average).
  double mean_ndcg{};
  /// The lowest member nDCG@k (how good it is for the least served member: "least misery").
  double min_ndcg{};
};

/// ndcg_at(ranked, relevant_per_member[m], k) for every member m, summarised as mean and
/// minimum. Each member's relevant set is sorted and unique. Throws Error for an empty group.
inline GroupScore group_ndcg_at(std::span<const std::size_t> ranked,
                                std::span<const std::span<const std::size_t>> relevant_per_member,
                                std::size_t k) {
  const char* where = "eval::group_ndcg_at";
  detail::require(!relevant_per_member.empty(), std::string(where) + ": the group has no members");
  const std::span<const std::size_t> head = detail::top(where, ranked, k);
  GroupScore out{0.0, std::numeric_limits<double>::infinity()};
  for (const std::span<const std::size_t> relevant : relevant_per_member) {
    detail::check_relevant(where, relevant);
    const double score = detail::ndcg(detail::hits(head, relevant), relevant.size(), k);
    out.mean_ndcg += score;
    out.min_ndcg = std::min(out.min_ndcg, score);
  }
  out.mean_ndcg /= static_cast<double>(relevant_per_member.size());
  return out;
}

/// Per user index u < n_users, the sorted unique item indices u interacted with in `data` (the
/// relevant sets of a test set). Throws Error when a row's user is not below n_users.
inline std::vector<std::vector<std::size_t>> items_by_user(const Interactions& data,
                                                           std::size_t n_users) {
  std::vector<std::vector<std::size_t>> out(n_users);
  for (std::size_t i = 0; i < data.rows.size(); ++i) {
    const Interaction& r = data.rows[i];
    detail::require(r.user < n_users, [&] {
      return "eval::items_by_user: row " + std::to_string(i) + " has user " +
             std::to_string(r.user) + ", not below n_users = " + std::to_string(n_users);
    });
    out[r.user].push_back(r.item);
  }
  for (std::vector<std::size_t>& items : out) {
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
  }
  return out;
}

/// Per item index i < n_items, the number of distinct users who interacted with i in `data`
/// (repeated (user, item) rows count once): the popularity novelty_at expects, when computed on
/// the training set. Throws Error when a row's item is not below n_items.
inline std::vector<double> item_popularity(const Interactions& data, std::size_t n_items) {
  std::size_t n_users = data.users.size();
  for (const Interaction& r : data.rows) n_users = std::max(n_users, r.user + 1);
  std::vector<double> out(n_items, 0.0);
  for (const std::vector<std::size_t>& items : items_by_user(data, n_users)) {
    for (const std::size_t item : items) {
      detail::require(item < n_items, [&] {
        return "eval::item_popularity: item " + std::to_string(item) +
               " is not below n_items = " + std::to_string(n_items);
      });
      out[item] += 1.0;
    }
  }
  return out;
}

/// What evaluate() computes besides the relevance metrics. Each optional input is a per-item
/// array indexed by item (of exactly n_items entries); an empty one leaves its metric out of
/// the table. The arrays are not copied: they must outlive the call.
struct MetricOptions {
  /// The cut-off: only the first k items of each list count (k ≥ 1).
  std::size_t k{10};
  /// Item vectors (one row per item) for "diversity@k" (intra_list_diversity_at).
  MatrixView embeddings{};
  /// Category per item for "category_diversity@k" (intra_list_category_diversity_at).
  std::span<const std::size_t> category_of_item{};
  /// Distinct users per item (item_popularity of the training set) for "novelty@k".
  std::span<const double> popularity{};
  /// The n_users of novelty_at; 0 means the size of the test set's user id map (which a Split
  /// shares with the training set the popularity was counted on).
  std::size_t popularity_users{0};
  /// Price per item for "revenue@k".
  std::span<const float> prices{};
};

/// One named value of a MetricTable.
struct MetricValue {
  std::string name{};
  double value{};
};

/// Metric values in a fixed order, and how many users they were averaged over.
struct MetricTable {
  std::vector<MetricValue> values{};
  std::size_t users_evaluated{};

  /// The value named `name` (e.g. "ndcg@10"), if present.
  std::optional<double> find(std::string_view name) const {
    for (const MetricValue& v : values) {
      if (v.name == name) return v.value;
    }
    return std::nullopt;
  }

  /// The value named `name`; throws Error when the table has none.
  double at(std::string_view name) const {
    const std::optional<double> v = find(name);
    detail::require(v.has_value(),
                    [&] { return "MetricTable: no metric named '" + std::string(name) + "'"; });
    return *v;
  }

  /// An aligned two-column text table (metric, value with 6 decimals), one metric a line, then
  /// a line "users evaluated: N".
  std::string to_string() const {
    std::size_t width = 6;  // "metric"
    for (const MetricValue& v : values) width = std::max(width, v.name.size());
    std::ostringstream out;
    out << std::left << std::setw(static_cast<int>(width + 2)) << "metric"
        << "value\n";
    out << std::fixed << std::setprecision(6);
    for (const MetricValue& v : values) {
      out << std::left << std::setw(static_cast<int>(width + 2)) << v.name << v.value << '\n';
    }
    out << "users evaluated: " << users_evaluated << '\n';
    return out.str();
  }
};

/// Averages the metrics of each user's top-k list over the users who have at least one row in
/// `test`: ranked_by_user[u] is user u's list (best first), their relevant set is the items of
/// their test rows (items_by_user). Users without test rows are not counted, whatever their
/// list; a user with test rows but no list (an empty one, or u ≥ ranked_by_user.size()) counts,
/// with 0 on every metric. When no user has test rows every value is 0 and users_evaluated is 0.
///
/// Rows, in this order (K = options.k): precision@K, recall@K, ndcg@K, map@K, hit_rate@K,
/// mrr@K, coverage@K = |∪ top-K items of the evaluated users| / n_items, then when their input
/// is given diversity@K, category_diversity@K, novelty@K, revenue@K (mean revenue per user).
///
/// Throws Error when k = 0, an optional array does not have n_items entries, an item (listed or
/// in `test`) is not below n_items, an item repeats in a top K, or a per-metric check fails.
inline MetricTable evaluate(const std::vector<std::vector<std::size_t>>& ranked_by_user,
                            const Interactions& test, std::size_t n_items,
                            const MetricOptions& options) {
  const std::string where = "eval::evaluate";
  const std::size_t k = options.k;
  detail::require(k >= 1, where + ": options.k must be at least 1");
  const auto check_size = [&](std::size_t size, const char* name, bool given) {
    detail::require(!given || size == n_items, [&] {
      return where + ": options." + name + " has " + std::to_string(size) + " items, n_items is " +
             std::to_string(n_items);
    });
  };
  const bool with_diversity = !options.embeddings.empty();
  const bool with_categories = !options.category_of_item.empty();
  const bool with_novelty = !options.popularity.empty();
  const bool with_revenue = !options.prices.empty();
  check_size(options.embeddings.rows(), "embeddings", with_diversity);
  check_size(options.category_of_item.size(), "category_of_item", with_categories);
  check_size(options.popularity.size(), "popularity", with_novelty);
  check_size(options.prices.size(), "prices", with_revenue);
  const std::size_t popularity_users =
      options.popularity_users != 0 ? options.popularity_users : test.users.size();

  std::size_t n_users = std::max(test.users.size(), ranked_by_user.size());
  for (const Interaction& r : test.rows) n_users = std::max(n_users, r.user + 1);
  const std::vector<std::vector<std::size_t>> relevant_by_user = items_by_user(test, n_users);

  // Sums over the evaluated users, in table order.
  struct Sums {
    double precision = 0, recall = 0, ndcg = 0, map = 0, hit_rate = 0, mrr = 0;
    double diversity = 0, category_diversity = 0, novelty = 0, revenue = 0;
  } sum;
  std::vector<unsigned char> covered(n_items, 0);
  std::size_t evaluated = 0;
  for (std::size_t u = 0; u < n_users; ++u) {
    const std::vector<std::size_t>& relevant = relevant_by_user[u];
    if (relevant.empty()) continue;
    ++evaluated;
    const std::string where_user = where + " (user " + std::to_string(u) + ")";
    detail::check_items_below(where_user + ", test", relevant, n_items, "n_items");
    if (u >= ranked_by_user.size()) continue;
    const std::span<const std::size_t> head = detail::top(where_user, ranked_by_user[u], k);
    detail::check_items_below(where_user + ", ranked", head, n_items, "n_items");
    for (const std::size_t item : head) covered[item] = 1;
    const std::vector<unsigned char> hit = detail::hits(head, relevant);
    sum.precision += detail::precision(hit, k);
    sum.recall += detail::recall(hit, relevant.size());
    sum.ndcg += detail::ndcg(hit, relevant.size(), k);
    sum.map += detail::average_precision(hit, relevant.size(), k);
    sum.hit_rate += detail::hit_rate(hit);
    sum.mrr += detail::reciprocal_rank(hit);
    if (with_diversity) {
      sum.diversity += detail::intra_list_diversity(where_user, head, options.embeddings);
    }
    if (with_categories) {
      sum.category_diversity +=
          detail::category_diversity(where_user, head, options.category_of_item);
    }
    if (with_novelty) {
      sum.novelty += detail::novelty(where_user, head, options.popularity, popularity_users);
    }
    if (with_revenue) sum.revenue += detail::revenue(where_user, head, hit, options.prices);
  }

  MetricTable table;
  table.users_evaluated = evaluated;
  const std::string at_k = numbered_id("@", k);
  const auto add_mean = [&](const char* name, double total) {
    const double mean = evaluated == 0 ? 0.0 : total / static_cast<double>(evaluated);
    table.values.push_back({name + at_k, mean});
  };
  add_mean("precision", sum.precision);
  add_mean("recall", sum.recall);
  add_mean("ndcg", sum.ndcg);
  add_mean("map", sum.map);
  add_mean("hit_rate", sum.hit_rate);
  add_mean("mrr", sum.mrr);
  const auto n_covered = static_cast<double>(std::count(covered.begin(), covered.end(), 1));
  table.values.push_back(
      {"coverage" + at_k, n_items == 0 ? 0.0 : n_covered / static_cast<double>(n_items)});
  if (with_diversity) add_mean("diversity", sum.diversity);
  if (with_categories) add_mean("category_diversity", sum.category_diversity);
  if (with_novelty) add_mean("novelty", sum.novelty);
  if (with_revenue) add_mean("revenue", sum.revenue);
  return table;
}

}  // namespace marl_rec::eval
