// marl_rec — user–item interactions (clicks, purchases, ratings) as the readers, splits, metrics
// and batch models exchange them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "marl_rec/core/id_map.hpp"

namespace marl_rec {

/// One interaction of a user with an item. Indices refer to an Interactions' id maps.
struct Interaction {
  std::size_t user = 0;
  std::size_t item = 0;
  /// The rating, or 1 for implicit feedback (a file without a rating column).
  float rating = 1.0f;
  /// Seconds since the Unix epoch (fractions allowed), or 0 when the data has no timestamps.
  double timestamp = 0.0;
  /// Position in the source (0-based data row), kept so that every split is reproducible and
  /// ties in time keep the file's order.
  std::size_t source_row = 0;
  friend bool operator==(const Interaction&, const Interaction&) = default;
};

/// A set of interactions with the id maps that give their indices meaning. Splits of one data
/// set share its id maps, so an index means the same user or item in train and test.
struct Interactions {
  IdMap users;
  IdMap items;
  std::vector<Interaction> rows;
  /// Whether the source had a rating column / a timestamp column.
  bool has_rating = false;
  bool has_timestamp = false;

  std::size_t size() const noexcept { return rows.size(); }
  bool empty() const noexcept { return rows.empty(); }

  /// The same id maps and flags with no rows (for building a split).
  Interactions with_no_rows() const {
    Interactions out;
    out.users = users;
    out.items = items;
    out.has_rating = has_rating;
    out.has_timestamp = has_timestamp;
    return out;
  }
};

}  // namespace marl_rec
