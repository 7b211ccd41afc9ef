// Test helper: an Interactions built from (user id, item id) pairs.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "marl_rec/core/interactions.hpp"

namespace marl_rec::test {

template <class Pairs>
inline Interactions interactions_of(const Pairs& pairs) {
  Interactions data;
  std::size_t row = 0;
  for (const auto& [user, item] : pairs) {
    data.rows.push_back({.user = data.users.intern(user), .item = data.items.intern(item),
                         .rating = 1.0f, .timestamp = 0.0, .source_row = row++});
  }
  return data;
}

inline Interactions interactions(std::initializer_list<std::pair<std::string, std::string>> pairs) {
  return interactions_of(pairs);
}
inline Interactions interactions(const std::vector<std::pair<std::string, std::string>>& pairs) {
  return interactions_of(pairs);
}

}  // namespace marl_rec::test
