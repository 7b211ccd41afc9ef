// marl_rec — reads user–item interactions (user_id,item_id[,rating][,timestamp]) and user id
// lists from CSV, strictly by default: a bad row stops the read with its file, line and column.
#pragma once

#include <cmath>
#include <array>
#include <cstddef>
#include <fstream>
#include <functional>
#include <istream>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/io/csv.hpp"
#include "marl_rec/io/read_report.hpp"
#include "marl_rec/io/timestamp.hpp"

namespace marl_rec::io {

/// How read_interactions_csv reads.
struct InteractionsCsvOptions {
  char delimiter{','};
  /// What to do when a (user, item) pair occurs on several rows. keep_last / keep_first keep one
  /// row (its own rating, timestamp and source_row; the result stays in file order) and count
  /// the others in the report; error throws at the second occurrence.
  enum class Duplicates { keep_last, keep_first, error } duplicates{Duplicates::keep_last};
  /// false: the first malformed row throws and nothing is returned. true: malformed rows
  /// (wrong field count, empty id, bad rating or timestamp) are skipped and counted by reason.
  /// CSV syntax errors (quotes, invalid UTF-8, ...) and duplicates under Duplicates::error
  /// always throw.
  bool skip_bad_rows{false};
};

namespace detail {

/// The columns of an interactions file: indices into a record (rating and timestamp optional).
struct InteractionColumns {
  bool header{false};
  std::size_t fields{0};
  std::size_t user{0};
  std::size_t item{0};
  std::optional<std::size_t> rating{};
  std::optional<std::size_t> timestamp{};
};

/// A header name with case, spaces, '_' and '-' removed ("User_ID" and "userId" → "userid").
inline std::string alias_key(std::string_view name) {
  std::string key;
  for (const char c : header_key(name)) {
    if (c != '_' && c != '-' && c != ' ') key += c;
  }
  return key;
}

/// The column whose alias_key is one of `aliases`; throws when two columns match.
inline std::optional<std::size_t> find_alias(const std::vector<std::string>& first,
                                             std::span<const std::string_view> aliases,
                                             const CsvReader& csv) {
  return find_column_by(first, aliases, [](std::string_view name) { return alias_key(name); }, csv);
}

// Header names recognised for each column, compared by alias_key: the names of this library's
// own files and of the common public data sets (MovieLens userId/movieId, Amazon reviewerID/asin,
// Last.fm artistId, Book-Crossing ISBN, ...).
inline constexpr std::array<std::string_view, 11> user_aliases = {
    "user", "userid", "uid", "customer", "customerid", "visitorid", "memberid", "reviewerid",
    "playerid", "readerid", "accountid"};
inline constexpr std::array<std::string_view, 17> item_aliases = {
    "item", "itemid", "iid", "movieid", "productid", "asin", "artistid", "trackid", "songid",
    "bookid", "isbn", "articleid", "gameid", "courseid", "lecturerid", "contentid", "videoid"};
inline constexpr std::array<std::string_view, 5> rating_aliases = {"rating", "score", "stars",
                                                                   "preference", "bookrating"};
inline constexpr std::array<std::string_view, 6> timestamp_aliases = {
    "timestamp", "time", "ts", "datetime", "unixtime", "unixreviewtime"};

/// Reads the columns from the first record: a header when it names a user and an item column
/// (by alias, see user_aliases / item_aliases), else positional (user, item, [rating],
/// [timestamp]).
inline InteractionColumns interaction_columns(const std::vector<std::string>& first,
                                              const CsvReader& csv) {
  InteractionColumns c;
  c.fields = first.size();
  const auto user = find_alias(first, user_aliases, csv);
  const auto item = find_alias(first, item_aliases, csv);
  const auto rating = find_alias(first, rating_aliases, csv);
  const auto timestamp = find_alias(first, timestamp_aliases, csv);
  if (user && item) {
    c.header = true;
    c.user = *user;
    c.item = *item;
    c.rating = rating;
    c.timestamp = timestamp;
    return c;
  }
  // A row that names some columns is a broken header, not data: say which column is missing.
  if (user || item || rating || timestamp) {
    throw_error(csv.record_location(), std::string("the header has no ") +
                                           (user ? "item column (expected 'item_id' or 'item')"
                                                 : "user column (expected 'user_id' or 'user')"));
  }
  if (c.fields < 2 || c.fields > 4) {
    throw_error(csv.record_location(),
                "expected 2 to 4 fields (user, item, [rating], [timestamp]) in a file without a "
                "header, got " +
                    std::to_string(c.fields) + "; add a header row to name the columns");
  }
  c.user = 0;
  c.item = 1;
  if (c.fields >= 3) c.rating = 2;
  if (c.fields == 4) c.timestamp = 3;
  return c;
}

/// Hashes a (user, item) index pair (the key of the duplicate check).
struct PairHash {
  std::size_t operator()(const std::pair<std::size_t, std::size_t>& p) const noexcept {
    return std::hash<std::size_t>{}(p.first * 0x9E3779B97F4A7C15ull ^ p.second);
  }
};

}  // namespace detail

/// Reads interactions from CSV text. Columns: `user_id,item_id[,rating][,timestamp]`.
/// - Header: when the first record names a user and an item column it is a header. Names are
///   compared ignoring case, spaces, '_' and '-' against detail::user_aliases / item_aliases /
///   rating_aliases / timestamp_aliases (user_id, userId, uid, …; item_id, movieId, asin, …;
///   rating, score, …; timestamp, time, …); rating and timestamp are optional and other
///   columns are ignored. A file read without a header gets a note in the report. Otherwise columns are positional: 2 to 4
///   fields, user, item, [rating], [timestamp]. Every row has the first row's field count.
/// - Ratings are finite numbers (stored as float); without a rating column every rating is 1.
///   Timestamps are parsed by parse_timestamp. Ids are any non-empty text, kept as written.
/// - `id_base`: the result's id maps start as copies of id_base's, so ids known there keep
///   their indices (read a test file with the training set as base) and new ids come after.
/// - Duplicates follow options.duplicates (merged rows are counted in the report under
///   "duplicate (user, item): kept the last" / "...: kept the first").
/// - Interaction::source_row is the 0-based data row (header excluded, skipped rows counted).
/// Throws Error "source:line:column (column): what was expected" on the first bad row (unless
/// options.skip_bad_rows), and "source: no interactions" when no row is left. On error nothing
/// is returned and `report` is left untouched; on success it is overwritten.
inline Interactions read_interactions_csv(std::istream& in, const std::string& source_name,
                                          const InteractionsCsvOptions& options = {},
                                          ReadReport* report = nullptr,
                                          const Interactions* id_base = nullptr) {
  using Duplicates = InteractionsCsvOptions::Duplicates;
  CsvReader csv(in, source_name, {.delimiter = options.delimiter});
  ReadReport rep;
  rep.source = source_name;
  std::vector<std::string> fields;
  if (!csv.next(fields)) throw Error(source_name + ": no interactions (the file is empty)");
  const detail::InteractionColumns cols = detail::interaction_columns(fields, csv);

  Interactions out;
  if (id_base != nullptr) {
    out.users = id_base->users;
    out.items = id_base->items;
  }
  out.has_rating = cols.rating.has_value();
  out.has_timestamp = cols.timestamp.has_value();
  std::vector<std::size_t> lines;  // of out.rows, for the duplicate message
  std::vector<bool> dropped;       // rows of out.rows replaced by a later duplicate
  std::unordered_map<std::pair<std::size_t, std::size_t>, std::size_t, detail::PairHash> seen;

  // Checks a data row; returns what is wrong with it, if anything.
  Interaction row;
  const auto check = [&]() -> std::optional<detail::RowProblem> {
    if (fields.size() != cols.fields) {
      return detail::RowProblem{"wrong number of fields", csv.record_location(),
                                "expected " + std::to_string(cols.fields) +
                                    " fields (as in the first row), got " +
                                    std::to_string(fields.size())};
    }
    if (fields[cols.user].empty()) {
      return detail::RowProblem{"empty user id", csv.location(cols.user, "user"),
                                "expected a user id, got an empty field"};
    }
    if (fields[cols.item].empty()) {
      return detail::RowProblem{"empty item id", csv.location(cols.item, "item"),
                                "expected an item id, got an empty field"};
    }
    row.rating = 1.0f;
    if (cols.rating) {
      const std::string& f = fields[*cols.rating];
      double value = 0.0;
      const char* problem = detail::to_double(f, value, NonFinite::reject);
      if (problem == nullptr && std::fabs(value) > std::numeric_limits<float>::max()) {
        problem = "expected a number within the range of float";
      }
      if (problem != nullptr) {
        return detail::RowProblem{std::string("rating: ") + problem,
                                  csv.location(*cols.rating, "rating"),
                                  detail::problem_with(problem, f)};
      }
      row.rating = static_cast<float>(value);
    }
    row.timestamp = 0.0;
    if (cols.timestamp) {
      const std::string problem =
          detail::parse_timestamp_into(fields[*cols.timestamp], row.timestamp);
      if (!problem.empty()) {
        return detail::RowProblem{"timestamp: not a valid timestamp",
                                  csv.location(*cols.timestamp, "timestamp"), problem};
      }
    }
    return std::nullopt;
  };

  for (bool has_row = !cols.header || csv.next(fields); has_row; has_row = csv.next(fields)) {
    row.source_row = rep.rows_read++;
    if (const auto problem = check()) {
      if (!options.skip_bad_rows) throw_error(problem->where, problem->message);
      rep.skip(problem->reason);
      continue;
    }
    row.user = out.users.intern(fields[cols.user]);
    row.item = out.items.intern(fields[cols.item]);
    const auto [it, fresh] = seen.try_emplace({row.user, row.item}, out.rows.size());
    if (!fresh) {
      switch (options.duplicates) {
        case Duplicates::error:
          throw_error(csv.record_location(),
                      "expected each (user, item) pair once, but (user " +
                          detail::quoted_for_message(fields[cols.user]) + ", item " +
                          detail::quoted_for_message(fields[cols.item]) +
                          ") was first seen on line " + std::to_string(lines[it->second]));
        case Duplicates::keep_first:
          rep.skip("duplicate (user, item): kept the first");
          continue;
        case Duplicates::keep_last:
          rep.skip("duplicate (user, item): kept the last");
          dropped[it->second] = true;
          it->second = out.rows.size();
          break;
      }
    }
    out.rows.push_back(row);
    lines.push_back(csv.line());
    dropped.push_back(false);
  }

  std::size_t kept = 0;
  for (std::size_t i = 0; i < out.rows.size(); ++i) {
    if (!dropped[i]) out.rows[kept++] = out.rows[i];
  }
  out.rows.resize(kept);
  rep.rows_kept = kept;
  if (out.rows.empty()) {
    throw Error(source_name + ": no interactions" +
                (rep.rows_read == 0 ? std::string(" (no data rows)")
                                    : " (" + rep.summary().substr(rep.source.size() + 2) + ")"));
  }
  if (!cols.header) {
    rep.notes.push_back("no header recognised: the first row was read as data (columns by "
                        "position: user, item" +
                        std::string(cols.rating ? ", rating" : "") +
                        (cols.timestamp ? ", timestamp" : "") + ")");
  }
  if (report != nullptr) *report = std::move(rep);
  return out;
}

/// read_interactions_csv on the file at `path` (which names it in messages).
inline Interactions read_interactions_csv(const std::string& path,
                                          const InteractionsCsvOptions& options = {},
                                          ReadReport* report = nullptr,
                                          const Interactions* id_base = nullptr) {
  std::ifstream in = detail::open_input(path);
  return read_interactions_csv(in, path, options, report, id_base);
}

/// Reads a list of user ids: the `user_id` (or `user`) column when the first record has one
/// (a header), else the first column of every record. Empty ids are an error; repeated ids are
/// kept once, in order of first appearance, and counted in `report` as "duplicate user id".
/// Throws Error "source: no users" when the list is empty.
inline std::vector<std::string> read_user_list(std::istream& in, const std::string& source_name,
                                               ReadReport* report = nullptr) {
  CsvReader csv(in, source_name);
  ReadReport rep;
  rep.source = source_name;
  std::vector<std::string> fields;
  IdMap users;
  if (!csv.next(fields)) throw Error(source_name + ": no users (the file is empty)");
  const auto named = detail::find_alias(fields, detail::user_aliases, csv);
  const std::size_t column = named.value_or(0);
  const std::size_t width = fields.size();
  for (bool has_row = !named || csv.next(fields); has_row; has_row = csv.next(fields)) {
    ++rep.rows_read;
    if (fields.size() != width) {
      throw_error(csv.record_location(), "expected " + std::to_string(width) +
                                             " fields (as in the first row), got " +
                                             std::to_string(fields.size()));
    }
    if (fields[column].empty())
      throw_error(csv.location(column, "user"), "expected a user id, got an empty field");
    if (users.contains(fields[column])) {
      rep.skip("duplicate user id");
      continue;
    }
    users.intern(fields[column]);
  }
  detail::require(!users.empty(), [&] { return source_name + ": no users (no data rows)"; });
  rep.rows_kept = users.size();
  if (report != nullptr) *report = std::move(rep);
  return users.ids();
}

/// read_user_list on the file at `path`.
inline std::vector<std::string> read_user_list(const std::string& path,
                                               ReadReport* report = nullptr) {
  std::ifstream in = detail::open_input(path);
  return read_user_list(in, path, report);
}

}  // namespace marl_rec::io
