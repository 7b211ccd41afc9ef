#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "marl_rec/simd/top_k.hpp"

namespace mr = marl_rec;

TEST_CASE("ranks_before: higher score first, then lower index") {
  CHECK(mr::ranks_before({5, 2.0f}, {1, 1.0f}));
  CHECK_FALSE(mr::ranks_before({1, 1.0f}, {5, 2.0f}));
  CHECK(mr::ranks_before({1, 1.0f}, {2, 1.0f}));
  CHECK_FALSE(mr::ranks_before({2, 1.0f}, {1, 1.0f}));
  CHECK_FALSE(mr::ranks_before({1, 1.0f}, {1, 1.0f}));
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(mr::ranks_before({9, -1e30f}, {0, -inf}));
}

TEST_CASE("TopKBuffer keeps the k best of a stream, and resumes from its storage") {
  std::vector<mr::ScoredItem> storage(3);
  mr::detail::TopKBuffer<> top(storage.data(), 3);
  CHECK(top.threshold() == -std::numeric_limits<float>::infinity());
  const float scores[] = {0.5f, 3.0f, -2.0f, 3.0f, 1.0f, 7.0f, 1.0f};
  for (std::size_t i = 0; i < 4; ++i) {
    if (scores[i] >= top.threshold()) top.offer(i, scores[i]);
  }
  CHECK(top.size() == 3);
  CHECK(top.threshold() == 0.5f);
  // Set aside and resumed: only the storage and the size carry the state.
  mr::detail::TopKBuffer<> resumed(storage.data(), 3, top.size());
  CHECK(resumed.threshold() == 0.5f);
  for (std::size_t i = 4; i < 7; ++i) {
    if (scores[i] >= resumed.threshold()) resumed.offer(i, scores[i]);
  }
  REQUIRE(resumed.finish() == 3);
  CHECK(storage[0] == mr::ScoredItem{5, 7.0f});
  CHECK(storage[1] == mr::ScoredItem{1, 3.0f});
  CHECK(storage[2] == mr::ScoredItem{3, 3.0f});
}

TEST_CASE("TopKBuffer of capacity 0 accepts nothing") {
  mr::detail::TopKBuffer<> none;
  none.offer(1, 1.0f);
  CHECK(none.size() == 0);
  CHECK(none.finish() == 0);
}

TEST_CASE("ItemBitset and ExcludeBitset") {
  mr::ItemBitset set(10);
  set.insert(3);
  set.insert(200);  // grows
  CHECK(set.contains(3));
  CHECK(set.contains(200));
  CHECK_FALSE(set.contains(4));
  CHECK_FALSE(set.contains(100000));  // past the end: not in the set
  set.erase(3);
  set.erase(100000);  // absent: no effect
  CHECK_FALSE(set.contains(3));
  const mr::ExcludeBitset view = set.view();
  CHECK(view(200));
  CHECK_FALSE(view(199));
  CHECK_FALSE(mr::ExcludeBitset{}(0));
  static_assert(mr::ItemExclusion<mr::ExcludeBitset>);
  static_assert(mr::ItemExclusion<mr::NoExclusion>);
  static_assert(mr::BatchItemExclusion<mr::NoExclusion>);
  static_assert(!mr::ItemExclusion<int>);
}
