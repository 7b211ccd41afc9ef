// marl_rec — external ids (strings, or integers written as strings) ↔ dense indices 0..n-1.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "marl_rec/core/error.hpp"

namespace marl_rec {

/// The id `prefix` followed by the decimal `n` ("item" and 17 give "item17"). Built by appending,
/// because GCC 12 reports a false -Wrestrict for `"literal" + std::to_string(n)` at -O3.
inline std::string numbered_id(std::string_view prefix, std::size_t n) {
  std::string id(prefix);
  id += std::to_string(n);
  return id;
}

/// A bijection between external ids and dense indices, in order of first appearance. Integer
/// ids are kept as their decimal text, so "007" and "7" are different ids (as in the file).
class IdMap {
 public:
  /// Number of ids.
  std::size_t size() const noexcept { return ids_.size(); }
  bool empty() const noexcept { return ids_.empty(); }

  /// The index of `id`, adding it at the end when new.
  std::size_t intern(std::string_view id) {
    if (const auto it = index_.find(id); it != index_.end()) return it->second;
    ids_.emplace_back(id);
    try {
      index_.emplace(ids_.back(), ids_.size() - 1);
    } catch (...) {
      ids_.pop_back();  // keep the two in step if the map cannot grow
      throw;
    }
    return ids_.size() - 1;
  }

  /// The index of `id`, if known.
  std::optional<std::size_t> find(std::string_view id) const {
    const auto it = index_.find(id);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }

  /// True when `id` is known.
  bool contains(std::string_view id) const { return index_.find(id) != index_.end(); }

  /// The index of `id`; throws Error naming the id (and `what`, e.g. "item") when unknown.
  std::size_t at(std::string_view id, std::string_view what = "id") const {
    const auto it = index_.find(id);
    detail::require(it != index_.end(),
                    [&] { return "unknown " + std::string(what) + " '" + std::string(id) + "'"; });
    return it->second;
  }

  /// The external id of `index`; throws Error when out of range.
  const std::string& id(std::size_t index) const {
    detail::require(index < ids_.size(), [&] {
      return "IdMap: index " + std::to_string(index) + " out of range (size " +
             std::to_string(ids_.size()) + ")";
    });
    return ids_[index];
  }

  /// All ids, by index.
  const std::vector<std::string>& ids() const noexcept { return ids_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::vector<std::string> ids_;
  std::unordered_map<std::string, std::size_t, Hash, std::equal_to<>> index_;
};

}  // namespace marl_rec
