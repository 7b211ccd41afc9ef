// marl_rec — reads the Open Bandit Dataset layout (ZOZOTOWN logs: {campaign}.csv and
// item_context.csv) into logged decisions with user-context and item-feature matrices, the input
// of off-policy evaluation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <istream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/logged_decision.hpp"
#include "marl_rec/io/csv.hpp"
#include "marl_rec/io/read_report.hpp"
#include "marl_rec/io/timestamp.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec::io {

/// An Open Bandit Dataset log, encoded for learning (see docs/data_formats.md):
/// - `decisions[r]` is row r of the log; its `context` is r (one context row per log row).
/// - context row r: one-hot user_feature_0..3 (one column per distinct value, in order of first
///   appearance in the log), then the K user-item affinities.
/// - action row a (item_id a): item_feature_0, then one-hot item_feature_1..3 (values in order
///   of first appearance in item_context.csv).
struct ObdLog {
  /// K: the items (arms) of item_context.csv, ids 0..K-1.
  std::size_t n_actions{};
  /// The largest position in the log (3 in the published logs).
  std::size_t n_positions{};
  std::vector<LoggedDecision> decisions{};
  /// decisions.size() rows of context_dim floats, row-major.
  AlignedVector<float> context{};
  std::size_t context_dim{};
  /// One name per context column: "user_feature_0=<value>", ..., "user-item_affinity_<k>".
  std::vector<std::string> context_names{};
  /// n_actions rows of action_dim floats, row-major, row a for item_id a.
  AlignedVector<float> action_features{};
  std::size_t action_dim{};
  /// One name per action column: "item_feature_0", "item_feature_1=<value>", ...
  std::vector<std::string> action_feature_names{};

  /// The context matrix (rows = decisions).
  MatrixView context_matrix() const {
    return {std::span<const float>(context), context_dim == 0 ? 0 : context.size() / context_dim,
            context_dim};
  }
  /// The action feature matrix (rows = items).
  MatrixView action_matrix() const {
    return {std::span<const float>(action_features),
            action_dim == 0 ? 0 : action_features.size() / action_dim, action_dim};
  }
};

namespace detail {

/// Finds the OBD columns in `header`: returns the field index of each of `expected`. The
/// unnamed row-index column is allowed (and ignored); a missing, repeated or unknown column
/// throws, naming it.
inline std::vector<std::size_t> obd_columns(const std::vector<std::string>& header,
                                            const std::vector<std::string>& expected,
                                            const CsvReader& csv) {
  constexpr std::size_t absent = std::numeric_limits<std::size_t>::max();
  std::vector<std::size_t> index(expected.size(), absent);
  bool row_index_seen = false;
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty() && !row_index_seen) {
      row_index_seen = true;
      continue;
    }
    const auto it = std::find(expected.begin(), expected.end(), header[i]);
    if (it == expected.end()) {
      throw_error(csv.location(i),
                  "unexpected column " + quoted_for_message(header[i]) +
                      " (expected the Open Bandit Dataset columns; see docs/data_formats.md)");
    }
    std::size_t& slot = index[static_cast<std::size_t>(it - expected.begin())];
    if (slot != absent)
      throw_error(csv.location(i), "column " + quoted_for_message(header[i]) + " appears twice");
    slot = i;
  }
  for (std::size_t k = 0; k < expected.size(); ++k) {
    if (index[k] == absent)
      throw_error(csv.record_location(), "missing column '" + expected[k] + "'");
  }
  return index;
}

/// Checks that a row has the header's field count.
inline void check_width(const std::vector<std::string>& fields, std::size_t width,
                        const CsvReader& csv) {
  if (fields.size() != width) {
    throw_error(csv.record_location(), "expected " + std::to_string(width) +
                                           " fields (as in the header), got " +
                                           std::to_string(fields.size()));
  }
}

/// A finite number that fits a float.
inline float parse_float(std::string_view field, const FieldLocation& where) {
  const double value = parse_double(field, where);
  if (std::fabs(value) > std::numeric_limits<float>::max()) {
    throw_error(where, problem_with("expected a number within the range of float", field));
  }
  return static_cast<float>(value);
}

/// One-hot encodes `indices` (n rows × features.size() categorical features, row-major) into
/// `out` at column `offset` of rows `stride` floats apart.
inline void one_hot(const std::vector<std::size_t>& indices, const std::vector<IdMap>& features,
                    std::span<float> out, std::size_t stride, std::size_t offset) {
  const std::size_t n_features = features.size();
  for (std::size_t r = 0; r * n_features < indices.size(); ++r) {
    std::size_t column = offset;
    for (std::size_t f = 0; f < n_features; ++f) {
      out[r * stride + column + indices[r * n_features + f]] = 1.0f;
      column += features[f].size();
    }
  }
}

/// Appends "<prefix>=<value>" for every value of every feature.
inline void one_hot_names(const std::vector<IdMap>& features, std::string_view prefix,
                          std::size_t first, std::vector<std::string>& names) {
  for (std::size_t f = 0; f < features.size(); ++f) {
    for (const std::string& value : features[f].ids()) {
      names.push_back(std::string(prefix) + std::to_string(first + f) + "=" + value);
    }
  }
}

/// Reads item_context.csv into `log`'s action fields.
inline void read_obd_items(std::istream& in, const std::string& source, ObdLog& log) {
  CsvReader csv(in, source);
  std::vector<std::string> fields;
  if (!csv.next(fields)) throw Error(source + ": no items (the file is empty)");
  const std::vector<std::size_t> col = obd_columns(
      fields, {"item_id", "item_feature_0", "item_feature_1", "item_feature_2", "item_feature_3"},
      csv);
  const std::size_t width = fields.size();
  std::vector<std::int64_t> ids;
  std::vector<FieldLocation> id_locations;
  std::vector<float> numeric;
  std::vector<std::size_t> categories;  // 3 per item
  std::vector<IdMap> features(3);
  while (csv.next(fields)) {
    check_width(fields, width, csv);
    id_locations.push_back(csv.location(col[0], "item_id"));
    ids.push_back(parse_int(fields[col[0]], id_locations.back()));
    numeric.push_back(parse_float(fields[col[1]], csv.location(col[1], "item_feature_0")));
    for (std::size_t f = 0; f < 3; ++f)
      categories.push_back(features[f].intern(fields[col[2 + f]]));
  }
  const std::size_t k = ids.size();
  detail::require(k > 0, [&] { return source + ": no items (no data rows)"; });

  // Ids must be exactly 0..K-1, in any order: row_of[id] is the file row of item id.
  constexpr std::size_t absent = std::numeric_limits<std::size_t>::max();
  std::vector<std::size_t> row_of(k, absent);
  for (std::size_t r = 0; r < k; ++r) {
    if (ids[r] < 0 || static_cast<std::uint64_t>(ids[r]) >= k) {
      throw_error(id_locations[r], "expected an item_id in 0.." + std::to_string(k - 1) +
                                       " (the file has " + std::to_string(k) + " items), got " +
                                       std::to_string(ids[r]));
    }
    std::size_t& slot = row_of[static_cast<std::size_t>(ids[r])];
    if (slot != absent) {
      throw_error(id_locations[r], "item_id " + std::to_string(ids[r]) +
                                       " appears twice (first on line " +
                                       std::to_string(id_locations[slot].line) + ")");
    }
    slot = r;
  }

  log.n_actions = k;
  log.action_dim = 1 + features[0].size() + features[1].size() + features[2].size();
  log.action_feature_names = {"item_feature_0"};
  one_hot_names(features, "item_feature_", 1, log.action_feature_names);
  // The one-hot part is written in file-row order, then the rows are placed by item id.
  std::vector<float> by_row(k * log.action_dim, 0.0f);
  for (std::size_t r = 0; r < k; ++r) by_row[r * log.action_dim] = numeric[r];
  one_hot(categories, features, by_row, log.action_dim, 1);
  log.action_features.assign(k * log.action_dim, 0.0f);
  for (std::size_t id = 0; id < k; ++id) {
    std::copy_n(by_row.begin() + static_cast<std::ptrdiff_t>(row_of[id] * log.action_dim),
                log.action_dim,
                log.action_features.begin() + static_cast<std::ptrdiff_t>(id * log.action_dim));
  }
}

}  // namespace detail

/// Reads an Open Bandit Dataset log (`{campaign}.csv`: an unnamed row index, timestamp,
/// item_id, position, click, propensity_score, user_feature_0..3, user-item_affinity_0..K-1)
/// with its `item_context.csv` (unnamed row index, item_id, item_feature_0..3). Each log row
/// becomes a LoggedDecision: context = row index, action = item_id, position = position - 1,
/// reward = click, propensity = propensity_score, timestamp parsed. Checks: the exact column set
/// (a missing or unknown column is named), item_id in 0..K-1, position >= 1, click 0 or 1,
/// propensity in (0, 1], numbers finite. Throws Error "source:line:column (column): what was
/// expected"; nothing is returned on error. `report` (rows read and kept) is set on success.
inline ObdLog read_obd(std::istream& log_csv, const std::string& log_name,
                       std::istream& item_context_csv, const std::string& item_context_name,
                       ReadReport* report = nullptr) {
  ObdLog log;
  detail::read_obd_items(item_context_csv, item_context_name, log);
  const std::size_t k = log.n_actions;

  CsvReader csv(log_csv, log_name);
  std::vector<std::string> fields;
  if (!csv.next(fields)) throw Error(log_name + ": no decisions (the file is empty)");
  std::vector<std::string> expected = {"timestamp", "item_id", "position", "click",
                                       "propensity_score"};
  for (int f = 0; f < 4; ++f) expected.push_back("user_feature_" + std::to_string(f));
  for (std::size_t a = 0; a < k; ++a) expected.push_back("user-item_affinity_" + std::to_string(a));
  const std::vector<std::size_t> col = detail::obd_columns(fields, expected, csv);
  const std::size_t width = fields.size();

  std::vector<IdMap> user_features(4);
  std::vector<std::size_t> categories;  // 4 per row
  std::vector<float> affinities;        // K per row
  while (csv.next(fields)) {
    detail::check_width(fields, width, csv);
    const auto at = [&](std::size_t c) { return csv.location(col[c], expected[c]); };
    LoggedDecision d;
    d.context = log.decisions.size();
    d.timestamp = parse_timestamp(fields[col[0]], at(0));
    const std::int64_t item = parse_int(fields[col[1]], at(1));
    if (item < 0 || static_cast<std::uint64_t>(item) >= k) {
      throw_error(at(1), "expected an item of " + item_context_name + " (0.." +
                             std::to_string(k - 1) + "), got " + std::to_string(item));
    }
    d.action = static_cast<std::size_t>(item);
    const std::int64_t position = parse_int(fields[col[2]], at(2));
    if (position < 1)
      throw_error(at(2), "expected a position >= 1 (1 = left), got " + std::to_string(position));
    d.position = static_cast<std::size_t>(position - 1);
    const std::int64_t click = parse_int(fields[col[3]], at(3));
    if (click != 0 && click != 1)
      throw_error(at(3), "expected a click of 0 or 1, got " + std::to_string(click));
    d.reward = static_cast<double>(click);
    d.propensity = parse_double(fields[col[4]], at(4));
    if (!(d.propensity > 0.0 && d.propensity <= 1.0)) {
      throw_error(at(4), detail::problem_with("expected a propensity in (0, 1]", fields[col[4]]));
    }
    for (std::size_t f = 0; f < 4; ++f)
      categories.push_back(user_features[f].intern(fields[col[5 + f]]));
    for (std::size_t a = 0; a < k; ++a)
      affinities.push_back(detail::parse_float(fields[col[9 + a]], at(9 + a)));
    log.n_positions = std::max(log.n_positions, d.position + 1);
    log.decisions.push_back(d);
  }
  const std::size_t n = log.decisions.size();
  detail::require(n > 0, [&] { return log_name + ": no decisions (no data rows)"; });

  std::size_t one_hot_dim = 0;
  for (const IdMap& f : user_features) one_hot_dim += f.size();
  log.context_dim = one_hot_dim + k;
  detail::one_hot_names(user_features, "user_feature_", 0, log.context_names);
  for (std::size_t a = 0; a < k; ++a) log.context_names.push_back(expected[9 + a]);
  log.context.assign(n * log.context_dim, 0.0f);
  detail::one_hot(categories, user_features, log.context, log.context_dim, 0);
  for (std::size_t r = 0; r < n; ++r) {
    std::copy_n(
        affinities.begin() + static_cast<std::ptrdiff_t>(r * k), k,
        log.context.begin() + static_cast<std::ptrdiff_t>(r * log.context_dim + one_hot_dim));
  }
  if (report != nullptr) {
    *report = ReadReport{};
    report->source = log_name;
    report->rows_read = n;
    report->rows_kept = n;
  }
  return log;
}

/// read_obd on the files at `log_csv` (e.g. random/men/men.csv) and `item_context_csv`.
inline ObdLog read_obd(const std::string& log_csv, const std::string& item_context_csv,
                       ReadReport* report = nullptr) {
  std::ifstream items = detail::open_input(item_context_csv);
  std::ifstream log = detail::open_input(log_csv);
  return read_obd(log, log_csv, items, item_context_csv, report);
}

}  // namespace marl_rec::io
