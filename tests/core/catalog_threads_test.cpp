// A Catalog is not thread-safe for writing (add may move the matrix), but while nobody adds,
// retires or compacts, its const members may be called from many threads at once: they only
// read. This test does exactly that and compares with one thread; it runs under
// -fsanitize=thread too (docs/threading_and_persistence.md).
#include <doctest/doctest.h>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "support/concurrently.hpp"

namespace mr = marl_rec;

TEST_CASE("Catalog: concurrent const reads (lookups, attributes, vectors, top-k over the retired exclusion)") {
  constexpr std::size_t n = 300, dim = 16;
  mr::Catalog catalog(dim);
  mr::Rng rng(12);
  std::vector<float> v(dim);
  for (std::size_t i = 0; i < n; ++i) {
    for (float& x : v) x = static_cast<float>(rng.normal());
    catalog.add(mr::numbered_id("sku-", i), v,
                {.title = mr::numbered_id("item ", i), .price = static_cast<float>(i % 17),
                 .category = mr::numbered_id("c", i % 6)});
  }
  mr::simd::normalize_rows(catalog.mutable_embeddings());
  for (std::size_t i = 0; i < n; i += 7) catalog.retire(i);
  const mr::Catalog& shared = catalog;

  std::vector<std::vector<float>> users(8, std::vector<float>(dim));
  for (auto& u : users) {
    for (float& x : u) x = static_cast<float>(rng.normal());
  }
  const auto read = [&](std::size_t c) {
    std::vector<double> out;
    const std::size_t i = shared.index_of(mr::numbered_id("sku-", c * 31 % n));
    out.push_back(static_cast<double>(i));
    out.push_back(static_cast<double>(shared.find(shared.id(i)).value()));
    out.push_back(shared.attributes(i).price);
    out.push_back(static_cast<double>(shared.attributes(i).category.size()));
    out.push_back(shared.retired(i) ? 1.0 : 0.0);
    const std::span<const float> row = shared.vector(i);
    out.insert(out.end(), row.begin(), row.end());
    std::vector<mr::ScoredItem> best(10);
    const std::size_t k =
        mr::simd::score_top_k(std::span<const float>(users[c % users.size()]), shared.embeddings(), 10, best,
                              shared.retired_items());
    for (std::size_t j = 0; j < k; ++j) {
      out.push_back(static_cast<double>(best[j].index));
      out.push_back(best[j].score);
    }
    return out;
  };
  CHECK(mr::test::disagreements(16, 4, 10, read) == mr::test::no_disagreement(4));
}
