// marl_rec — train / validation / test splits of a set of interactions: random per user,
// temporal, and leave-last-out. Every split is a pure function of its input (and seed).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"

namespace marl_rec::eval {

/// A data set cut in three. The parts share the input's id maps and flags (so an index means the
/// same user or item in each); every input row is in exactly one part, and rows keep their input
/// order within each part.
struct Split {
  Interactions train{};
  Interactions validation{};
  Interactions test{};
};

namespace detail {
using marl_rec::detail::require;

/// Which part of a Split a row goes to.
enum class Part : unsigned char { train, validation, test };

inline void check_fractions(const std::string& where, double test_fraction,
                            double validation_fraction) {
  // Written as "in range" so that NaN fails too.
  const auto check = [&](double f, const char* name) {
    require(f >= 0.0 && f < 1.0,
            [&] { return where + ": " + name + " " + std::to_string(f) + " is not in [0, 1)"; });
  };
  check(test_fraction, "test_fraction");
  check(validation_fraction, "validation_fraction");
  require(test_fraction + validation_fraction < 1.0, [&] {
    return where + ": test_fraction + validation_fraction = " +
           std::to_string(test_fraction + validation_fraction) + " is not below 1";
  });
}

/// round(n · fraction), halves rounded up (std::round on a non-negative value).
inline std::size_t rounded_share(std::size_t n, double fraction) {
  return static_cast<std::size_t>(std::round(static_cast<double>(n) * fraction));
}

/// The shares of n rows that go to test and to validation: round(n · fraction) each, capped so
/// that at least one row stays in train (nothing is taken from n = 0 or 1).
struct Shares {
  std::size_t test = 0;
  std::size_t validation = 0;
};
inline Shares shares(std::size_t n, double test_fraction, double validation_fraction) {
  if (n <= 1) return {};
  const std::size_t test = std::min(rounded_share(n, test_fraction), n - 1);
  return {test, std::min(rounded_share(n, validation_fraction), n - 1 - test)};
}

/// Row indices grouped by user index, in row order within each user. Users are numbered up to
/// the larger of the id map's size and the largest user index in the rows.
inline std::vector<std::vector<std::size_t>> rows_by_user(const Interactions& data) {
  std::size_t n_users = data.users.size();
  for (const Interaction& r : data.rows) n_users = std::max(n_users, r.user + 1);
  std::vector<std::vector<std::size_t>> out(n_users);
  for (std::size_t i = 0; i < data.rows.size(); ++i) out[data.rows[i].user].push_back(i);
  return out;
}

/// Sorts `rows` (indices into data.rows) by time: (timestamp, source_row) when `by_timestamp`,
/// source_row alone otherwise; rows equal in both keep their order (stable sort).
inline void sort_by_time(std::vector<std::size_t>& rows, const Interactions& data,
                         bool by_timestamp) {
  std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
    const Interaction& x = data.rows[a];
    const Interaction& y = data.rows[b];
    if (by_timestamp && x.timestamp != y.timestamp) return x.timestamp < y.timestamp;
    return x.source_row < y.source_row;
  });
}

/// Throws Error when a timestamp is not finite (it would break the ordering).
inline void check_timestamps(const std::string& where, const Interactions& data) {
  for (std::size_t i = 0; i < data.rows.size(); ++i) {
    require(std::isfinite(data.rows[i].timestamp),
            [&] { return where + ": row " + std::to_string(i) + " has a non-finite timestamp"; });
  }
}

/// The Split that puts row i in part[i], rows in input order within each part.
inline Split assemble(const Interactions& data, const std::vector<Part>& part) {
  Split out{data.with_no_rows(), data.with_no_rows(), data.with_no_rows()};
  for (std::size_t i = 0; i < data.rows.size(); ++i) {
    Interactions& target = part[i] == Part::test         ? out.test
                           : part[i] == Part::validation ? out.validation
                                                         : out.train;
    target.rows.push_back(data.rows[i]);
  }
  return out;
}
}  // namespace detail

/// Random split per user. Each user's rows are shuffled (one Rng seeded with `seed`, users taken
/// in index order, so the split is reproducible); of a user's n rows, the first
/// round(n · test_fraction) go to test and the next round(n · validation_fraction) to
/// validation, the rest to train. round() rounds halves up (n = 5, fraction 0.1 gives 1), and the
/// shares are capped so that every user keeps at least one training row: a user with one row is
/// all train, test takes at most n − 1, validation at most what test left minus one.
/// Throws Error when a fraction is outside [0, 1) or the two sum to 1 or more.
inline Split split_per_user_random(const Interactions& data, double test_fraction,
                                   std::uint64_t seed, double validation_fraction = 0.0) {
  detail::check_fractions("eval::split_per_user_random", test_fraction, validation_fraction);
  std::vector<detail::Part> part(data.size(), detail::Part::train);
  Rng rng(seed);
  for (std::vector<std::size_t>& rows : detail::rows_by_user(data)) {
    shuffle(rows.begin(), rows.end(), rng);
    const detail::Shares s = detail::shares(rows.size(), test_fraction, validation_fraction);
    for (std::size_t j = 0; j < s.test; ++j) part[rows[j]] = detail::Part::test;
    for (std::size_t j = s.test; j < s.test + s.validation; ++j) {
      part[rows[j]] = detail::Part::validation;
    }
  }
  return detail::assemble(data, part);
}

/// Global temporal split: rows ordered by (timestamp, source_row) — ties in time broken by file
/// order — the last round(n · test_fraction) go to test, the round(n · validation_fraction)
/// before them to validation, the rest to train (same rounding and caps as
/// split_per_user_random over all n rows: train keeps at least one row). A user may be in any
/// of the parts, or in test only. Throws Error when the data has no timestamps, a timestamp is
/// not finite, or the fractions are invalid (outside [0, 1), summing to 1 or more).
inline Split split_temporal(const Interactions& data, double test_fraction,
                            double validation_fraction = 0.0) {
  const std::string where = "eval::split_temporal";
  detail::check_fractions(where, test_fraction, validation_fraction);
  detail::require(data.has_timestamp, where + ": the data has no timestamps");
  detail::check_timestamps(where, data);
  std::vector<std::size_t> order(data.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  detail::sort_by_time(order, data, true);
  const std::size_t n = order.size();
  const detail::Shares s = detail::shares(n, test_fraction, validation_fraction);
  std::vector<detail::Part> part(n, detail::Part::train);
  for (std::size_t j = n - s.test; j < n; ++j) part[order[j]] = detail::Part::test;
  for (std::size_t j = n - s.test - s.validation; j < n - s.test; ++j) {
    part[order[j]] = detail::Part::validation;
  }
  return detail::assemble(data, part);
}

/// Leave-last-out: per user, the last row in time goes to test and, when `with_validation`, the
/// one before it to validation. "In time" is (timestamp, source_row) when the data has
/// timestamps, and source_row alone (file order) when it has not. Every user keeps at least one
/// training row: a user with one row stays in train, and validation is taken only from users
/// with three rows or more. Throws Error when a timestamp is not finite.
inline Split split_leave_last_out(const Interactions& data, bool with_validation = false) {
  if (data.has_timestamp) detail::check_timestamps("eval::split_leave_last_out", data);
  std::vector<detail::Part> part(data.size(), detail::Part::train);
  for (std::vector<std::size_t>& rows : detail::rows_by_user(data)) {
    detail::sort_by_time(rows, data, data.has_timestamp);
    const std::size_t n = rows.size();
    if (n >= 2) part[rows[n - 1]] = detail::Part::test;
    if (with_validation && n >= 3) part[rows[n - 2]] = detail::Part::validation;
  }
  return detail::assemble(data, part);
}

}  // namespace marl_rec::eval
