#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/simd/kernels.hpp"

namespace mr = marl_rec;

TEST_CASE("Catalog: add, look up, score") {
  mr::Catalog c(2);
  CHECK(c.add("shoe", std::vector<float>{1, 0}, {.title = "Shoe", .price = 30.0f}) == 0);
  CHECK(c.add("hat", std::vector<float>{0, 1}) == 1);
  CHECK(c.add("scarf", std::vector<float>{0.6f, 0.8f}) == 2);
  CHECK(c.size() == 3);
  CHECK(c.active_size() == 3);
  CHECK(c.index_of("hat") == 1);
  CHECK(c.id(2) == "scarf");
  CHECK(c.attributes(0).price == 30.0f);
  CHECK(c.vector(2)[1] == 0.8f);
  CHECK(reinterpret_cast<std::uintptr_t>(c.embeddings().data()) % mr::matrix_alignment == 0);
  std::vector<mr::ScoredItem> best(2);
  const std::vector<float> q = {0, 1};
  REQUIRE(mr::simd::score_top_k(q, c.embeddings(), 2, best) == 2);
  CHECK(best[0].index == 1);
}

TEST_CASE("Catalog: bad items are refused with a clear error, and nothing is added") {
  mr::Catalog c(2);
  c.add("a", std::vector<float>{1, 0});
  CHECK_THROWS_WITH_AS(c.add("a", std::vector<float>{1, 0}),
                       "Catalog::add('a'): the id is already in the catalog", mr::Error);
  CHECK_THROWS_WITH_AS(c.add("b", std::vector<float>{1, 0, 0}),
                       "Catalog::add('b'): the vector has 3 values, the catalog's dim is 2", mr::Error);
  CHECK_THROWS_AS(c.add("c", std::vector<float>{std::numeric_limits<float>::quiet_NaN(), 0}), mr::Error);
  CHECK_THROWS_AS(c.add("d", std::vector<float>{1, 0}, {.price = -1.0f}), mr::Error);
  CHECK_THROWS_AS(c.add("e", std::vector<float>{1, 0}, {.popularity = std::numeric_limits<float>::infinity()}),
                  mr::Error);
  CHECK(c.size() == 1);
  CHECK(c.embeddings().rows() == 1);
  CHECK_THROWS_WITH_AS(c.index_of("zz"), "unknown item 'zz'", mr::Error);
  CHECK_THROWS_AS(c.vector(5), mr::Error);
  CHECK_THROWS_AS(mr::Catalog(0), mr::Error);
}

TEST_CASE("Catalog: retired items are never recommended, and compaction keeps the others intact") {
  mr::Catalog c(1);
  for (int i = 0; i < 6; ++i) c.add(marl_rec::numbered_id("item", i), std::vector<float>{float(i)}, {.price = float(i)});
  c.retire("item5");  // the best-scoring one
  c.retire(std::size_t{2});
  c.retire(std::size_t{2});  // idempotent
  CHECK(c.active_size() == 4);
  CHECK(c.retired(5));
  std::vector<mr::ScoredItem> best(6);
  const std::vector<float> q = {1};
  const std::size_t n = mr::simd::score_top_k(q, c.embeddings(), 6, best, c.retired_items());
  REQUIRE(n == 4);
  for (std::size_t j = 0; j < n; ++j) CHECK((best[j].index != 5 && best[j].index != 2));
  CHECK(best[0].index == 4);

  const auto remap = c.compact();
  CHECK(remap == std::vector<std::size_t>{0, 1, mr::Catalog::removed, 2, 3, mr::Catalog::removed});
  CHECK(c.size() == 4);
  CHECK(c.active_size() == 4);
  for (const char* id : {"item0", "item1", "item3", "item4"}) {
    const std::size_t i = c.index_of(id);
    CHECK(c.vector(i)[0] == float(id[4] - '0'));
    CHECK(c.attributes(i).price == float(id[4] - '0'));
  }
  CHECK_FALSE(c.find("item5").has_value());
  c.add("item5", std::vector<float>{9});  // its id is free again
  CHECK(c.index_of("item5") == 4);
  CHECK_FALSE(c.retired(4));
}

TEST_CASE("Catalog: an item can be added with a copy of another item's vector") {
  mr::Catalog c(3);
  c.add("a", std::vector<float>{1, 2, 3});
  for (int i = 0; i < 50; ++i) {  // enough adds to make the matrix grow several times
    c.add(marl_rec::numbered_id("copy", static_cast<std::size_t>(i)), c.vector(0));
  }
  for (std::size_t i = 0; i < c.size(); ++i) CHECK(c.vector(i)[2] == 3.0f);
}
