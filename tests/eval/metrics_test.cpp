#include "marl_rec/eval/metrics.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/core/interactions.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace mr = marl_rec;
namespace ev = marl_rec::eval;
using Items = std::vector<std::size_t>;

TEST_CASE("relevance metrics against hand-computed values") {
  // ranked 3 1 7 5 9, relevant {1, 5, 8}: hits at ranks 2 and 4.
  const Items ranked = {3, 1, 7, 5, 9};
  const Items relevant = {1, 5, 8};
  const double l3 = 1.0 / std::log2(3.0), l5 = 1.0 / std::log2(5.0);

  // k = 5: precision 2/5, recall 2/3; DCG = 1/log2(3) + 1/log2(5), IDCG over min(5, 3) = 3 hits
  // = 1 + 1/log2(3) + 1/log2(4); AP = (1/2 + 2/4) / 3; first hit at rank 2.
  CHECK(ev::precision_at(ranked, relevant, 5) == doctest::Approx(0.4));
  CHECK(ev::recall_at(ranked, relevant, 5) == doctest::Approx(2.0 / 3.0));
  CHECK(ev::ndcg_at(ranked, relevant, 5) == doctest::Approx((l3 + l5) / (1.0 + l3 + 0.5)));
  CHECK(ev::average_precision_at(ranked, relevant, 5) == doctest::Approx(1.0 / 3.0));
  CHECK(ev::hit_rate_at(ranked, relevant, 5) == 1.0);
  CHECK(ev::reciprocal_rank_at(ranked, relevant, 5) == 0.5);

  // k = 3 (top 3 1 7): one hit at rank 2. precision 1/3, recall 1/3, nDCG = (1/log2 3) / IDCG@3,
  // AP = (1/2) / min(3, 3).
  CHECK(ev::precision_at(ranked, relevant, 3) == doctest::Approx(1.0 / 3.0));
  CHECK(ev::recall_at(ranked, relevant, 3) == doctest::Approx(1.0 / 3.0));
  CHECK(ev::ndcg_at(ranked, relevant, 3) == doctest::Approx(l3 / (1.0 + l3 + 0.5)));
  CHECK(ev::average_precision_at(ranked, relevant, 3) == doctest::Approx(1.0 / 6.0));

  // k = 1 (top: 3): nothing relevant.
  CHECK(ev::precision_at(ranked, relevant, 1) == 0.0);
  CHECK(ev::hit_rate_at(ranked, relevant, 1) == 0.0);
  CHECK(ev::reciprocal_rank_at(ranked, relevant, 1) == 0.0);
  CHECK(ev::ndcg_at(ranked, relevant, 1) == 0.0);

  // relevant {1, 3, 7}, k = 2: both of the top 2 (3, 1) are relevant. AP divides by
  // min(2, 3) = 2: (1/1 + 2/2) / 2 = 1; IDCG has min(2, 3) = 2 hits → nDCG 1; recall 2/3.
  CHECK(ev::average_precision_at(ranked, Items{1, 3, 7}, 2) == 1.0);
  CHECK(ev::ndcg_at(ranked, Items{1, 3, 7}, 2) == doctest::Approx(1.0));
  CHECK(ev::recall_at(ranked, Items{1, 3, 7}, 2) == doctest::Approx(2.0 / 3.0));
}

TEST_CASE("relevance metrics: perfect list, short list, k = 0, empty relevant") {
  const Items relevant = {1, 5, 8};
  const Items perfect = {8, 5, 1};
  CHECK(ev::precision_at(perfect, relevant, 3) == 1.0);
  CHECK(ev::recall_at(perfect, relevant, 3) == 1.0);
  CHECK(ev::ndcg_at(perfect, relevant, 3) == 1.0);
  CHECK(ev::average_precision_at(perfect, relevant, 3) == 1.0);

  // A list of 2 with k = 10: precision divides by k (2/10), the rest as if the list went on
  // with misses. nDCG = (1 + 1/log2 3) / (1 + 1/log2 3 + 1/log2 4), AP = (1/1 + 2/2) / 3.
  const Items shorter = {1, 5};
  const double l3 = 1.0 / std::log2(3.0);
  CHECK(ev::precision_at(shorter, relevant, 10) == doctest::Approx(0.2));
  CHECK(ev::recall_at(shorter, relevant, 10) == doctest::Approx(2.0 / 3.0));
  CHECK(ev::ndcg_at(shorter, relevant, 10) == doctest::Approx((1.0 + l3) / (1.0 + l3 + 0.5)));
  CHECK(ev::average_precision_at(shorter, relevant, 10) == doctest::Approx(2.0 / 3.0));
  CHECK(ev::reciprocal_rank_at(shorter, relevant, 10) == 1.0);

  // k = 0 and empty inputs: every metric 0, no division by zero.
  for (const double v :
       {ev::precision_at(perfect, relevant, 0), ev::recall_at(perfect, relevant, 0),
        ev::ndcg_at(perfect, relevant, 0), ev::average_precision_at(perfect, relevant, 0),
        ev::hit_rate_at(perfect, relevant, 0), ev::reciprocal_rank_at(perfect, relevant, 0),
        ev::precision_at(perfect, Items{}, 3), ev::recall_at(perfect, Items{}, 3),
        ev::ndcg_at(perfect, Items{}, 3), ev::average_precision_at(perfect, Items{}, 3),
        ev::hit_rate_at(perfect, Items{}, 3), ev::reciprocal_rank_at(perfect, Items{}, 3),
        ev::precision_at(Items{}, relevant, 3), ev::ndcg_at(Items{}, relevant, 3)}) {
    CHECK(v == 0.0);
  }
}

TEST_CASE("metric inputs are checked: repeated items in the top k, unsorted relevant sets") {
  const Items relevant = {1, 5};
  CHECK_THROWS_WITH_AS(ev::precision_at(Items{1, 2, 1}, relevant, 3),
                       "eval::precision_at: item 1 appears more than once in the top 3 of ranked",
                       mr::Error);
  CHECK(ev::precision_at(Items{1, 2, 1}, relevant, 2) == 0.5);  // the repeat is past k
  CHECK_THROWS_WITH_AS(ev::ndcg_at(Items{1}, Items{5, 1}, 3),
                       "eval::ndcg_at: relevant is not sorted and unique (at position 0)",
                       mr::Error);
  CHECK_THROWS_AS(ev::recall_at(Items{1}, Items{1, 1}, 3), mr::Error);
  CHECK_THROWS_AS(ev::average_precision_at(Items{1}, Items{1, 3, 2}, 3), mr::Error);
  CHECK_THROWS_AS(ev::hit_rate_at(Items{4, 4}, relevant, 5), mr::Error);
  CHECK_THROWS_AS(ev::reciprocal_rank_at(Items{4, 4}, relevant, 5), mr::Error);
  CHECK_THROWS_AS(ev::intra_list_category_diversity_at(Items{0, 0}, 2, Items{1, 2}), mr::Error);
}

TEST_CASE("intra-list diversity: mean pairwise cosine distance, zero vectors orthogonal") {
  // item 0 (1,0), 1 (0,1), 2 (1,1), 3 (0,0), 4 (-2,0)
  const std::vector<float> storage = {1, 0, 0, 1, 1, 1, 0, 0, -2, 0};
  const mr::MatrixView e(storage, 5, 2);
  // {0, 1, 2}: distances 1 (0-1), 1 − 1/√2 (0-2), 1 − 1/√2 (1-2); mean = (3 − √2) / 3.
  CHECK(ev::intra_list_diversity_at(Items{0, 1, 2}, 3, e) ==
        doctest::Approx((3.0 - std::sqrt(2.0)) / 3.0));
  CHECK(ev::intra_list_diversity_at(Items{0, 1, 2}, 2, e) == doctest::Approx(1.0));  // {0, 1}
  CHECK(ev::intra_list_diversity_at(Items{0, 3}, 5, e) == 1.0);  // zero vector: distance 1
  CHECK(ev::intra_list_diversity_at(Items{0, 4}, 5, e) == 2.0);  // opposite
  CHECK(ev::intra_list_diversity_at(Items{2}, 5, e) == 0.0);     // no pair
  CHECK(ev::intra_list_diversity_at(Items{0, 1}, 0, e) == 0.0);
  CHECK_THROWS_WITH_AS(
      ev::intra_list_diversity_at(Items{0, 5}, 2, e),
      "eval::intra_list_diversity_at: item 5 is out of range (embeddings rows = 5)", mr::Error);
  const std::vector<float> bad = {1, 0, std::numeric_limits<float>::infinity(), 0};
  CHECK_THROWS_AS(ev::intra_list_diversity_at(Items{0, 1}, 2, mr::MatrixView(bad, 2, 2)),
                  mr::Error);
}

TEST_CASE("category diversity, novelty and revenue against hand-computed values") {
  // categories 0 0 1 2: of the 6 pairs of {0, 1, 2, 3} only (0, 1) share a category → 5/6.
  const Items category = {0, 0, 1, 2};
  CHECK(ev::intra_list_category_diversity_at(Items{0, 1, 2, 3}, 4, category) ==
        doctest::Approx(5.0 / 6.0));
  CHECK(ev::intra_list_category_diversity_at(Items{0, 1}, 4, category) == 0.0);
  CHECK(ev::intra_list_category_diversity_at(Items{3}, 4, category) == 0.0);
  CHECK_THROWS_AS(ev::intra_list_category_diversity_at(Items{0, 4}, 4, category), mr::Error);

  // popularity 0, 3, 9 of n_users = 9: p = 1/10, 4/10, 10/10;
  // novelty = (log2 10 + log2 2.5 + 0) / 3 = log2(25) / 3.
  const std::vector<double> popularity = {0, 3, 9};
  CHECK(ev::novelty_at(Items{0, 1, 2}, 3, popularity, 9) == doctest::Approx(std::log2(25.0) / 3.0));
  CHECK(ev::novelty_at(Items{0}, 3, popularity, 9) == doctest::Approx(std::log2(10.0)));
  CHECK(ev::novelty_at(Items{}, 3, popularity, 9) == 0.0);
  CHECK_THROWS_WITH_AS(
      ev::novelty_at(Items{2}, 3, popularity, 8),
      "eval::novelty_at: popularity of item 2 (9.000000) is not in [0, n_users = 8]", mr::Error);
  CHECK_THROWS_AS(ev::novelty_at(Items{0}, 3, std::vector<double>{-1.0}, 9), mr::Error);
  CHECK_THROWS_AS(ev::novelty_at(Items{3}, 3, popularity, 9), mr::Error);

  // prices 10, 2.5, 7, 100; ranked 3 1 2, relevant {1, 2}: top 2 → 2.5; top 3 → 2.5 + 7.
  const std::vector<float> prices = {10, 2.5f, 7, 100};
  CHECK(ev::revenue_at(Items{3, 1, 2}, Items{1, 2}, 2, prices) == 2.5);
  CHECK(ev::revenue_at(Items{3, 1, 2}, Items{1, 2}, 3, prices) == 9.5);
  CHECK(ev::revenue_at(Items{3, 1, 2}, Items{}, 3, prices) == 0.0);
  CHECK_THROWS_AS(ev::revenue_at(Items{3, 1}, Items{1}, 2, std::vector<float>{1, -1, 1, 1}),
                  mr::Error);
  CHECK_THROWS_AS(ev::revenue_at(Items{4}, Items{1}, 2, prices), mr::Error);
}

TEST_CASE("group_ndcg_at: mean and least-served member") {
  // ranked 1 2 3: member A wants {1} → nDCG 1; B wants {3} → (1/log2 4) / 1 = 0.5; C wants
  // nothing → 0. Mean 0.5, min 0.
  const Items ranked = {1, 2, 3};
  const Items a = {1}, b = {3}, c = {};
  const std::vector<std::span<const std::size_t>> members = {a, b, c};
  const ev::GroupScore s = ev::group_ndcg_at(ranked, members, 3);
  CHECK(s.mean_ndcg == doctest::Approx(0.5));
  CHECK(s.min_ndcg == 0.0);
  const std::vector<std::span<const std::size_t>> two = {a, b};
  CHECK(ev::group_ndcg_at(ranked, two, 3).min_ndcg == doctest::Approx(0.5));
  CHECK(ev::group_ndcg_at(ranked, two, 3).mean_ndcg == doctest::Approx(0.75));
  CHECK_THROWS_WITH_AS(ev::group_ndcg_at(ranked, {}, 3),
                       "eval::group_ndcg_at: the group has no members", mr::Error);
  const Items unsorted = {3, 1};
  const std::vector<std::span<const std::size_t>> bad = {a, unsorted};
  CHECK_THROWS_AS(ev::group_ndcg_at(ranked, bad, 3), mr::Error);
}

namespace {
mr::Interactions interactions(std::size_t n_users, std::size_t n_items,
                              const std::vector<std::pair<std::size_t, std::size_t>>& pairs) {
  mr::Interactions data;
  for (std::size_t u = 0; u < n_users; ++u) data.users.intern(marl_rec::numbered_id("u", u));
  for (std::size_t i = 0; i < n_items; ++i) data.items.intern(marl_rec::numbered_id("i", i));
  for (const auto& [user, item] : pairs) {
    data.rows.push_back({.user = user, .item = item, .source_row = data.rows.size()});
  }
  return data;
}
}  // namespace

TEST_CASE("items_by_user and item_popularity") {
  const mr::Interactions data = interactions(3, 3, {{0, 2}, {1, 0}, {0, 1}, {0, 2}, {1, 2}});
  const std::vector<Items> by_user = ev::items_by_user(data, 3);
  CHECK(by_user == std::vector<Items>{{1, 2}, {0, 2}, {}});
  // item 2: users 0 (twice, counted once) and 1.
  CHECK(ev::item_popularity(data, 4) == std::vector<double>{1, 1, 2, 0});
  CHECK_THROWS_WITH_AS(ev::items_by_user(data, 1),
                       "eval::items_by_user: row 1 has user 1, not below n_users = 1", mr::Error);
  CHECK_THROWS_AS(ev::item_popularity(data, 2), mr::Error);
}

TEST_CASE("evaluate: averages over users with test rows, coverage over their top k") {
  // 4 users, 6 items. Test: u0 {1, 4}, u1 {2}, u2 nothing, u3 {5}.
  // Lists: u0 4 0 1 | u1 3 0 | u2 0 1 2 (not counted: no test rows) | u3 none (counts as 0).
  // k = 2. u0: top 4 0, one hit at rank 1: P 1/2, R 1/2, nDCG 1 / (1 + 1/log2 3), AP 1/2,
  // hit 1, RR 1. u1: all 0. u3: all 0. Means over 3 users.
  const mr::Interactions test = interactions(4, 6, {{0, 1}, {1, 2}, {0, 4}, {3, 5}});
  const std::vector<Items> ranked = {{4, 0, 1}, {3, 0}, {0, 1, 2}};
  const double l3 = 1.0 / std::log2(3.0);
  // Optional inputs. diversity: u0 {4, 0} same direction → 0, u1 {3, 0} orthogonal → 1.
  const std::vector<float> vectors = {1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1};
  const Items category = {0, 0, 1, 1, 2, 2};  // u0 {4, 0}: 2 vs 0, u1 {3, 0}: 1 vs 0 → 1 each
  const std::vector<double> popularity = {0, 1, 2, 3, 4, 5};
  const std::vector<float> prices = {1, 2, 3, 4, 5, 6};  // u0 bought 4 at 5 → 5 / 3
  const ev::MetricOptions options{.k = 2,
                                  .embeddings = mr::MatrixView(vectors, 6, 2),
                                  .category_of_item = category,
                                  .popularity = popularity,
                                  .popularity_users = 5,
                                  .prices = prices};
  const ev::MetricTable table = ev::evaluate(ranked, test, 6, options);
  CHECK(table.users_evaluated == 3);
  std::vector<std::string> names;
  for (const ev::MetricValue& v : table.values) names.push_back(v.name);
  CHECK(names == std::vector<std::string>{"precision@2", "recall@2", "ndcg@2", "map@2",
                                          "hit_rate@2", "mrr@2", "coverage@2", "diversity@2",
                                          "category_diversity@2", "novelty@2", "revenue@2"});
  CHECK(table.at("precision@2") == doctest::Approx(1.0 / 6.0));
  CHECK(table.at("recall@2") == doctest::Approx(1.0 / 6.0));
  CHECK(table.at("ndcg@2") == doctest::Approx(1.0 / (1.0 + l3) / 3.0));
  CHECK(table.at("map@2") == doctest::Approx(1.0 / 6.0));
  CHECK(table.at("hit_rate@2") == doctest::Approx(1.0 / 3.0));
  CHECK(table.at("mrr@2") == doctest::Approx(1.0 / 3.0));
  CHECK(table.at("coverage@2") == doctest::Approx(3.0 / 6.0));  // {4, 0} ∪ {3, 0}; u2's 1, 2 not
  CHECK(table.at("diversity@2") == doctest::Approx(1.0 / 3.0));
  CHECK(table.at("category_diversity@2") == doctest::Approx(2.0 / 3.0));
  // novelty, n_users 5: u0 items 4, 0 → p 5/6, 1/6: (log2 1.2 + log2 6) / 2 = log2(7.2) / 2;
  // u1 items 3, 0 → p 4/6, 1/6: log2(9) / 2; u3 0. Mean = log2(64.8) / 6.
  CHECK(table.at("novelty@2") == doctest::Approx(std::log2(64.8) / 6.0));
  CHECK(table.at("revenue@2") == doctest::Approx(5.0 / 3.0));
  CHECK(table.find("auc") == std::nullopt);
  CHECK_THROWS_WITH_AS(table.at("auc"), "MetricTable: no metric named 'auc'", mr::Error);

  // Without optional inputs only the seven standard rows; popularity_users defaults to the test
  // set's user count (4 here).
  const ev::MetricTable plain = ev::evaluate(ranked, test, 6, {.k = 2});
  CHECK(plain.values.size() == 7);
  const ev::MetricTable novelty =
      ev::evaluate(ranked, test, 6, {.k = 2, .popularity = std::vector<double>{0, 1, 2, 3, 4, 4}});
  // u0 items 4, 0 → p 5/5, 1/5: log2(5) / 2; u1 items 3, 0 → p 4/5, 1/5: log2(6.25) / 2.
  CHECK(novelty.at("novelty@2") == doctest::Approx((std::log2(5.0) + std::log2(6.25)) / 6.0));
}

TEST_CASE("evaluate: input checks and the empty test set") {
  const mr::Interactions test = interactions(2, 3, {{0, 1}, {1, 2}});
  const std::vector<Items> ranked = {{1, 0}, {2}};
  CHECK_THROWS_WITH_AS(ev::evaluate(ranked, test, 3, {.k = 0}),
                       "eval::evaluate: options.k must be at least 1", mr::Error);
  const std::vector<float> prices = {1, 2};
  CHECK_THROWS_WITH_AS(ev::evaluate(ranked, test, 3, {.prices = prices}),
                       "eval::evaluate: options.prices has 2 items, n_items is 3", mr::Error);
  CHECK_THROWS_WITH_AS(ev::evaluate(std::vector<Items>{{1, 3}}, test, 3, {}),
                       "eval::evaluate (user 0), ranked: item 3 is out of range (n_items = 3)",
                       mr::Error);
  CHECK_THROWS_WITH_AS(
      ev::evaluate(std::vector<Items>{{1, 1}}, test, 3, {}),
      "eval::evaluate (user 0): item 1 appears more than once in the top 10 of ranked", mr::Error);
  CHECK_THROWS_WITH_AS(ev::evaluate(ranked, test, 2, {}),
                       "eval::evaluate (user 1), test: item 2 is out of range (n_items = 2)",
                       mr::Error);

  const ev::MetricTable empty = ev::evaluate(ranked, interactions(2, 3, {}), 3, {});
  CHECK(empty.users_evaluated == 0);
  for (const ev::MetricValue& v : empty.values) CHECK(v.value == 0.0);
}

TEST_CASE("MetricTable::to_string is an aligned two-column table") {
  const ev::MetricTable t{{{"ndcg@10", 0.5}, {"coverage@10", 0.25}}, 3};
  CHECK(t.to_string() ==
        "metric       value\n"
        "ndcg@10      0.500000\n"
        "coverage@10  0.250000\n"
        "users evaluated: 3\n");
}
