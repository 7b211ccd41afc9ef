// marl_rec — external ids (strings, or integers written as strings) ↔ dense indices 0..n-1.
#pragma once

#include <cstddef>
#include <functional>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/string_fields.hpp"

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
///
/// Persistence: save() writes the ids in index order (stream type "id_map", version 1); load()
/// replaces the map with a saved one (the same ids at the same indices), refusing duplicates.
class IdMap {
 public:
  IdMap() = default;

  /// The map whose index i is `ids[i]`. Throws Error naming the id and both indices when an id
  /// appears twice (`what` names the ids in the message, e.g. "item").
  static IdMap from_ids(std::vector<std::string> ids, std::string_view what = "id") {
    IdMap map;
    map.index_.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto inserted = map.index_.emplace(ids[i], i);
      detail::require(inserted.second, [&] {
        return "duplicate " + std::string(what) + " '" + ids[i] + "' (indices " +
               std::to_string(inserted.first->second) + " and " + std::to_string(i) + ")";
      });
    }
    map.ids_ = std::move(ids);
    return map;
  }

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

  /// Writes the ids in index order (type "id_map", version 1).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "id_map", 1);
    io::write_strings(w, "ids", ids_);
    w.finish();
  }

  /// Replaces the map with what save() wrote. Throws Error (map unchanged) on a truncated,
  /// corrupted or foreign stream, or an id given twice.
  void load(std::istream& in) {
    constexpr const char* where = "loading a 'id_map' model";
    io::ModelReader r(in, "id_map", 1);
    std::vector<std::string> ids = io::read_strings(r, "ids", where);
    r.finish();
    IdMap loaded;
    try {
      loaded = from_ids(std::move(ids));
    } catch (const Error& e) {
      throw Error(std::string(where) + ": " + e.what());
    }
    *this = std::move(loaded);
  }

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
