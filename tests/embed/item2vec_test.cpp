#include "marl_rec/embed/item2vec.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "marl_rec/concepts/embedder.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "support/errors.hpp"
#include "support/interactions.hpp"

namespace {

using marl_rec::Item2Vec;
using Sequences = std::vector<std::vector<std::size_t>>;

static_assert(marl_rec::Embedder<marl_rec::Item2VecEmbedder>);

constexpr std::size_t kPerCluster = 30;

// Sessions drawn within one of two clusters: items [0, 30) and [30, 60). Session s belongs to
// cluster s % 2 and holds `length` items of it, drawn uniformly.
Sequences two_cluster_sessions(std::size_t sessions, std::size_t length, std::uint64_t seed) {
  marl_rec::Rng rng(seed);
  Sequences out(sessions);
  for (std::size_t s = 0; s < sessions; ++s) {
    const std::size_t base = (s % 2) * kPerCluster;
    for (std::size_t i = 0; i < length; ++i) out[s].push_back(base + rng.below(kPerCluster));
  }
  return out;
}

// The item most similar (cosine) to `item` among the others.
std::size_t nearest(const Item2Vec& model, std::size_t item) {
  const marl_rec::MatrixView v = model.normalized_vectors();
  std::size_t best = item == 0 ? 1 : 0;
  float best_score = -2.0f;
  for (std::size_t j = 0; j < v.rows(); ++j) {
    if (j == item || !model.has_vector(j)) continue;
    const float s = marl_rec::simd::dot(v.row(item), v.row(j));
    if (s > best_score) {
      best_score = s;
      best = j;
    }
  }
  return best;
}

double same_cluster_share(const Item2Vec& model, std::size_t n_items) {
  std::size_t same = 0;
  for (std::size_t i = 0; i < n_items; ++i)
    same += nearest(model, i) / kPerCluster == i / kPerCluster;
  return static_cast<double>(same) / static_cast<double>(n_items);
}

}  // namespace

TEST_CASE("Item2Vec: the same seed gives the same bits, another seed other vectors") {
  const Sequences sessions = two_cluster_sessions(200, 8, 1);
  Item2Vec a({.dim = 16, .epochs = 2, .seed = 7}), b({.dim = 16, .epochs = 2, .seed = 7}),
      c({.dim = 16, .epochs = 2, .seed = 8});
  a.fit(sessions, 60);
  b.fit(sessions, 60);
  c.fit(sessions, 60);
  const auto bits = [](const Item2Vec& m) {
    const marl_rec::MatrixView v = m.vectors();
    return std::vector<float>(v.data(), v.data() + v.rows() * v.cols());
  };
  CHECK(bits(a) == bits(b));  // exact float equality: same bits
  CHECK(bits(a) != bits(c));
  a.fit(sessions, 60);  // refitting starts from scratch
  CHECK(bits(a) == bits(b));
  CHECK(a.last_training().words == 2 * 200 * 8);
  CHECK(a.last_training().pairs > 0);
}

TEST_CASE("Item2Vec: items' nearest neighbours are in their own cluster") {
  // Subsampling is off: with 60 items every item is "frequent" (1/60 of the occurrences, far
  // above the 1e-3 threshold), so the default would drop 70% of the occurrences of this tiny
  // corpus.
  const Sequences sessions = two_cluster_sessions(600, 10, 2);
  SUBCASE("skip-gram window") {
    Item2Vec model({.dim = 16, .window = 3, .epochs = 5, .subsample = 0.0, .seed = 3});
    model.fit(sessions, 60);
    CHECK(same_cluster_share(model, 60) >= 0.95);
  }
  SUBCASE("whole sequence (every pair)") {
    Item2Vec model({.dim = 16, .whole_sequence = true, .epochs = 3, .subsample = 0.0, .seed = 3});
    model.fit(sessions, 60);
    CHECK(same_cluster_share(model, 60) >= 0.95);
  }
  SUBCASE("with the scalar reference kernels") {
    marl_rec::BasicItem2Vec<marl_rec::ReferenceDotAxpy> model(
        {.dim = 16, .epochs = 5, .subsample = 0.0, .seed = 3});
    model.fit(sessions, 60);
    std::size_t same = 0;
    const marl_rec::MatrixView v = model.normalized_vectors();
    for (std::size_t i = 0; i < 60; ++i) {
      std::size_t best = 0;
      float best_score = -2.0f;
      for (std::size_t j = 0; j < 60; ++j) {
        const float s = marl_rec::simd::dot(v.row(i), v.row(j));
        if (j != i && s > best_score) {
          best_score = s;
          best = j;
        }
      }
      same += best / kPerCluster == i / kPerCluster;
    }
    CHECK(same >= 57);
  }
}

TEST_CASE("Item2Vec: normalized vectors are unit copies, items below min_count get none") {
  Sequences sessions = two_cluster_sessions(100, 6, 4);
  sessions.push_back({0, 61});  // item 61 occurs once; item 60 never
  Item2Vec model({.dim = 8, .epochs = 2, .min_count = 2});
  model.fit(sessions, 62);
  CHECK(model.n_items() == 62);
  CHECK(model.dim() == 8);
  CHECK(model.item_counts()[61] == 1);
  CHECK(model.item_counts()[60] == 0);
  CHECK_FALSE(model.has_vector(60));
  CHECK_FALSE(model.has_vector(61));
  CHECK(model.has_vector(0));
  for (std::size_t i = 0; i < 60; ++i) {
    const auto row = model.normalized_vectors().row(i);
    CHECK(std::sqrt(marl_rec::simd::dot(row, row)) == doctest::Approx(1.0).epsilon(1e-5));
    const auto raw = model.vectors().row(i);
    const float norm = std::sqrt(marl_rec::simd::dot(raw, raw));
    CHECK(row[3] == doctest::Approx(raw[3] / norm).epsilon(1e-5));
  }
  for (const std::size_t i : {std::size_t{60}, std::size_t{61}}) {
    for (const float x : model.vectors().row(i)) CHECK(x == 0.0f);
    for (const float x : model.normalized_vectors().row(i)) CHECK(x == 0.0f);
  }
}

TEST_CASE("Item2Vec trains on each user's items in time order, with the data's item ids") {
  marl_rec::Interactions data = marl_rec::test::interactions(
      {{"u1", "a"}, {"u2", "c"}, {"u1", "b"}, {"u1", "c"}, {"u2", "d"}});
  SUBCASE("without timestamps: the order of the file") {
    const auto seq = marl_rec::user_item_sequences(data);
    CHECK(seq == Sequences{{0, 2, 1}, {1, 3}});  // items a, c, b, d are 0, 1, 2, 3
  }
  SUBCASE("with timestamps: by time, then by file order") {
    data.has_timestamp = true;
    data.rows[0].timestamp = 5;  // u1 a
    data.rows[2].timestamp = 9;  // u1 b
    data.rows[3].timestamp = 1;  // u1 c
    const auto seq = marl_rec::user_item_sequences(data);
    CHECK(seq == Sequences{{1, 0, 2}, {1, 3}});
  }
  Item2Vec model({.dim = 4, .epochs = 1});
  model.fit(data);
  CHECK(model.n_items() == 4);
  CHECK(model.item_index("c") == 1);
  CHECK(model.items().id(3) == "d");
  CHECK(marl_rec::test::error_of([&] { (void)model.item_index("zz"); }) == "unknown item 'zz'");
}

TEST_CASE("Item2Vec::embedder: the unit vector of an item id, unknown ids are errors") {
  marl_rec::Interactions data;
  marl_rec::Rng rng(5);
  for (std::size_t u = 0; u < 40; ++u) {
    const std::string user = marl_rec::numbered_id("u", u);
    for (std::size_t i = 0; i < 6; ++i) {
      const std::string item = marl_rec::numbered_id("item", (u % 2) * 10 + rng.below(10));
      data.rows.push_back({.user = data.users.intern(user),
                           .item = data.items.intern(item),
                           .source_row = data.rows.size()});
    }
  }
  data.rows.push_back({.user = data.users.intern("u99"),
                       .item = data.items.intern("rare"),
                       .source_row = data.rows.size()});
  Item2Vec model({.dim = 8, .epochs = 2, .min_count = 2});
  model.fit(data);
  const marl_rec::Item2VecEmbedder embedder = model.embedder();
  CHECK(embedder.dim() == 8);
  std::vector<float> out(8);
  embedder.embed("item3", out);
  const auto row = model.normalized_vectors().row(model.item_index("item3"));
  CHECK(std::vector<float>(row.begin(), row.end()) == out);
  CHECK(std::sqrt(marl_rec::simd::dot(out, out)) == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(marl_rec::test::error_of([&] { embedder.embed("nope", out); }) ==
        "Item2VecEmbedder::embed: unknown item id 'nope'");
  CHECK(marl_rec::test::error_of([&] { embedder.embed("rare", out); }) ==
        "Item2VecEmbedder::embed: item 'rare' has no vector (too few occurrences in training)");
  std::vector<float> small(7);
  CHECK(marl_rec::test::error_of([&] { embedder.embed("item3", small); }) ==
        "Item2VecEmbedder::embed: out has 7 floats, dim() is 8");
  // Through the Embedder concept's batch helper.
  std::vector<float> batch(16);
  const std::vector<std::string_view> ids = {"item3", "item12"};
  marl_rec::embed_batch(embedder, ids, marl_rec::MutableMatrixView(batch, 2, 8));
  CHECK(std::vector<float>(batch.begin(), batch.begin() + 8) == out);
}

TEST_CASE("Item2Vec::fold_in adds new items and places them near their co-occurring items") {
  const Sequences sessions = two_cluster_sessions(600, 10, 6);
  Item2Vec model({.dim = 16, .epochs = 5, .subsample = 0.0, .seed = 9});
  model.fit(sessions, 60);
  const std::vector<float> old_vector(model.vectors().row(5).begin(), model.vectors().row(5).end());

  // Two new items: 60 appears in cluster-0 sessions, 61 in cluster-1 sessions.
  marl_rec::Rng rng(10);
  Sequences fresh;
  for (std::size_t s = 0; s < 100; ++s) {
    const std::size_t base = (s % 2) * kPerCluster;
    std::vector<std::size_t> session;
    for (std::size_t i = 0; i < 6; ++i) session.push_back(base + rng.below(kPerCluster));
    session.insert(session.begin() + 3, 60 + s % 2);
    fresh.push_back(session);
  }
  model.fold_in(fresh, 5);
  CHECK(model.n_items() == 62);
  CHECK(model.items().id(61) == "61");
  CHECK(model.item_counts()[60] == 50);
  CHECK(model.has_vector(61));
  CHECK(nearest(model, 60) < kPerCluster);
  CHECK(nearest(model, 61) >= kPerCluster);
  CHECK(nearest(model, 61) < 2 * kPerCluster);
  // Old items keep their place: same-cluster neighbours, vectors moved but not re-initialised.
  CHECK(same_cluster_share(model, 60) >= 0.95);
  const auto now = model.vectors().row(5);
  CHECK(marl_rec::simd::dot(old_vector, now) > 0.0f);
}

TEST_CASE("Item2Vec::fold_in of an Interactions matches items by id and appends new ids") {
  marl_rec::Interactions first = marl_rec::test::interactions(
      {{"u1", "a"}, {"u1", "b"}, {"u2", "b"}, {"u2", "c"}, {"u3", "a"}, {"u3", "c"}});
  Item2Vec model({.dim = 4, .epochs = 3});
  model.fit(first);
  const marl_rec::Interactions second =
      marl_rec::test::interactions({{"v1", "new"}, {"v1", "c"}, {"v2", "a"}, {"v2", "new"}});
  model.fold_in(second, 2);
  CHECK(model.n_items() == 4);
  CHECK(model.item_index("new") == 3);
  CHECK(model.item_index("c") == 2);
  CHECK(model.item_counts()[2] == 3);
  CHECK(model.has_vector(3));
  // With string ids, index-based fold-in cannot name new items when their decimal id is taken.
  marl_rec::Interactions numeric =
      marl_rec::test::interactions({{"u1", "7"}, {"u1", "4"}, {"u2", "4"}, {"u2", "5"}});
  Item2Vec m2({.dim = 4, .epochs = 1});
  m2.fit(numeric);                    // ids "7", "4", "5" at indices 0, 1, 2
  const Sequences add = {{0, 3, 4}};  // index 3 is named "3", index 4 "4": taken by index 1
  CHECK(marl_rec::test::error_of([&] { m2.fold_in(add, 1); }) ==
        "Item2Vec::fold_in: new item index 4 would get the id '4', which another item has; "
        "fold in an Interactions instead");
  CHECK(m2.n_items() == 3);  // unchanged by the failed call
}

TEST_CASE("Item2Vec errors: bad configuration, no usable data, bad indices") {
  using marl_rec::test::error_of;
  CHECK(error_of([] { Item2Vec({.dim = 0}); }) == "Item2Vec: config.dim must be at least 1");
  CHECK(error_of([] { Item2Vec({.window = 0}); }) ==
        "Item2Vec: config.window must be at least 1 (or whole_sequence)");
  CHECK_NOTHROW(Item2Vec({.window = 0, .whole_sequence = true}));
  CHECK(error_of([] { Item2Vec({.negatives = 0}); }) ==
        "Item2Vec: config.negatives must be at least 1");
  CHECK(error_of([] { Item2Vec({.epochs = 0}); }) == "Item2Vec: config.epochs must be at least 1");
  CHECK(error_of([] { Item2Vec({.learning_rate = -1.0f}); }) ==
        "Item2Vec: config.learning_rate must be finite and positive");
  CHECK(error_of([] { Item2Vec({.learning_rate = NAN}); }) ==
        "Item2Vec: config.learning_rate must be finite and positive");
  CHECK(error_of([] { Item2Vec({.subsample = -1e-3}); }) ==
        "Item2Vec: config.subsample must be finite and non-negative");
  CHECK(error_of([] { Item2Vec({.min_count = 0}); }) ==
        "Item2Vec: config.min_count must be at least 1");

  Item2Vec model({.dim = 4});
  CHECK(error_of([&] { model.fit(marl_rec::Interactions{}); }) ==
        "Item2Vec::fit: no sequence has two items with at least min_count (1) occurrences: "
        "nothing to learn from");
  CHECK(error_of([&] {
          model.fit(marl_rec::test::interactions({{"u1", "a"}, {"u2", "a"}}));
        }) ==
        "Item2Vec::fit: no sequence has two items with at least min_count (1) occurrences: "
        "nothing to learn from");
  const Sequences bad = {{0, 1, 5}};
  CHECK(error_of([&] { model.fit(bad, 3); }) ==
        "Item2Vec::fit: sequence 0 has item index 5, but there are 3 items");
  CHECK(error_of([&] { model.fold_in(bad, 1); }) ==
        "Item2Vec::fold_in: the model has not been fitted");
  const Sequences good = {{0, 1, 2}, {2, 1}};
  model.fit(good, 3);
  const std::vector<float> before(model.vectors().data(), model.vectors().data() + 12);
  CHECK(error_of([&] { model.fold_in(good, 0); }) ==
        "Item2Vec::fold_in: epochs must be at least 1");
  const Sequences singletons = {{0}, {1}};
  CHECK(error_of([&] { model.fold_in(singletons, 1); }) ==
        "Item2Vec::fold_in: no sequence has two items with at least min_count (1) occurrences: "
        "nothing to learn from");
  CHECK(error_of([&] { model.fit(singletons, 3); }).find("nothing to learn from") !=
        std::string::npos);
  // Failed calls leave the model as it was.
  CHECK(std::vector<float>(model.vectors().data(), model.vectors().data() + 12) == before);
  CHECK(model.item_counts()[0] == 1);
}
