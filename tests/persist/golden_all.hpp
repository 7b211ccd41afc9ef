// Test support: every golden recipe (tests/persist/golden_models.hpp, golden_agent.hpp,
// golden_catalog.hpp, golden_serve.hpp) in one list, for the golden files' writer and tests.
#pragma once

#include <vector>

#include "persist/golden_agent.hpp"
#include "persist/golden_catalog.hpp"
#include "persist/golden_models.hpp"
#include "persist/golden_serve.hpp"

namespace marl_rec::test::golden {

/// Every kept stream type's recipe.
inline std::vector<Recipe> all_recipes() {
  std::vector<Recipe> r = recipes();
  add_agent_recipes(r);
  add_catalog_recipes(r);
  add_serve_recipes(r);
  return r;
}

}  // namespace marl_rec::test::golden
