// Test helper: a catalog of `items` items ("item0", "item1", ...) with N(0, 1) vectors of `dim`
// values from Rng(seed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/rng.hpp"

namespace marl_rec::test {

inline Catalog random_catalog(std::size_t items, std::size_t dim, std::uint64_t seed) {
  Rng rng(seed);
  Catalog catalog(dim);
  std::vector<float> v(dim);
  for (std::size_t i = 0; i < items; ++i) {
    for (float& x : v) x = static_cast<float>(rng.normal());
    catalog.add(numbered_id("item", i), v);
  }
  return catalog;
}

}  // namespace marl_rec::test
