// marl_rec — reads an item catalogue's text and attributes (item_id,title[,text][,price]
// [,category]) from CSV, the input of the text embedders and of Catalog::add.
#pragma once

#include <cstddef>
#include <fstream>
#include <istream>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/io/csv.hpp"
#include "marl_rec/io/read_report.hpp"

namespace marl_rec::io {

/// One item as an items file describes it.
struct ItemRecord {
  std::string id{};
  std::string title{};
  /// A longer description (empty when the file has no `text` column).
  std::string text{};
  /// ≥ 0; 0 when the file has no `price` column or the cell is empty.
  float price{0.0f};
  std::string category{};
  /// Who supplies the item (empty when the file has no `provider` column).
  std::string provider{};
  friend bool operator==(const ItemRecord&, const ItemRecord&) = default;
};

/// How read_items_csv reads.
struct ItemsCsvOptions {
  char delimiter{','};
  /// false: the first malformed row throws. true: rows with a wrong field count, an empty id or
  /// a bad price are skipped and counted by reason. Duplicate ids and CSV syntax errors always
  /// throw (which of two descriptions is right cannot be guessed).
  bool skip_bad_rows{false};
};

/// Reads items from CSV text with a header row naming the columns (case-insensitive):
/// `item_id` (or `item`) and `title` are required; `text`, `price`, `category` and `provider` are
/// optional; other columns are ignored. Every row has the header's field count. Ids are non-empty and
/// unique; a price is a finite number ≥ 0 (an empty cell means 0). The items come in file order.
/// Throws Error "source:line:column (column): what was expected" on the first bad row (unless
/// options.skip_bad_rows) and "source: no items" when none is left; on error nothing is
/// returned and `report` is left untouched.
inline std::vector<ItemRecord> read_items_csv(std::istream& in, const std::string& source_name,
                                              const ItemsCsvOptions& options = {},
                                              ReadReport* report = nullptr) {
  CsvReader csv(in, source_name, {.delimiter = options.delimiter});
  ReadReport rep;
  rep.source = source_name;
  std::vector<std::string> fields;
  if (!csv.next(fields)) throw Error(source_name + ": no items (the file is empty)");
  const auto id_column = detail::find_column(fields, {"item_id", "item"}, csv);
  const auto title_column = detail::find_column(fields, {"title"}, csv);
  if (!id_column || !title_column) {
    throw_error(csv.record_location(),
                std::string("expected a header row naming the columns, with ") +
                    (id_column ? "a 'title' column" : "an 'item_id' column") +
                    " (item_id,title[,text][,price][,category][,provider])");
  }
  const auto text_column = detail::find_column(fields, {"text"}, csv);
  const auto price_column = detail::find_column(fields, {"price"}, csv);
  const auto category_column = detail::find_column(fields, {"category"}, csv);
  const auto provider_column = detail::find_column(fields, {"provider"}, csv);
  const std::size_t width = fields.size();

  std::vector<ItemRecord> items;
  std::vector<std::size_t> lines;  // of items, for the duplicate message
  IdMap ids;
  while (csv.next(fields)) {
    ++rep.rows_read;
    std::optional<detail::RowProblem> problem;
    float price = 0.0f;
    if (fields.size() != width) {
      problem = {"wrong number of fields", csv.record_location(),
                 "expected " + std::to_string(width) + " fields (as in the header), got " +
                     std::to_string(fields.size())};
    } else if (fields[*id_column].empty()) {
      problem = {"empty item id", csv.location(*id_column, "item_id"),
                 "expected an item id, got an empty field"};
    } else if (price_column && !fields[*price_column].empty()) {
      const std::string& f = fields[*price_column];
      double value = 0.0;
      const char* what = detail::to_double(f, value, NonFinite::reject);
      if (what == nullptr && value < 0.0) what = "expected a price >= 0";
      if (what == nullptr && value > std::numeric_limits<float>::max())
        what = "expected a price within the range of float";
      if (what != nullptr) {
        problem = {std::string("price: ") + what, csv.location(*price_column, "price"),
                   detail::problem_with(what, f)};
      }
      price = static_cast<float>(value);
    }
    if (problem) {
      if (!options.skip_bad_rows) throw_error(problem->where, problem->message);
      rep.skip(problem->reason);
      continue;
    }
    const std::string& id = fields[*id_column];
    if (const auto first = ids.find(id)) {
      throw_error(csv.location(*id_column, "item_id"),
                  "expected unique item ids, but " + detail::quoted_for_message(id) +
                      " was first seen on line " + std::to_string(lines[*first]));
    }
    ids.intern(id);
    lines.push_back(csv.line());
    items.push_back({.id = id,
                     .title = fields[*title_column],
                     .text = text_column ? fields[*text_column] : std::string(),
                     .price = price,
                     .category = category_column ? fields[*category_column] : std::string(),
                     .provider = provider_column ? fields[*provider_column] : std::string()});
  }
  rep.rows_kept = items.size();
  if (items.empty()) {
    throw Error(source_name + ": no items" +
                (rep.rows_read == 0 ? std::string(" (no data rows)")
                                    : " (" + rep.summary().substr(rep.source.size() + 2) + ")"));
  }
  if (report != nullptr) *report = std::move(rep);
  return items;
}

/// read_items_csv on the file at `path` (which names it in messages).
inline std::vector<ItemRecord> read_items_csv(const std::string& path,
                                              const ItemsCsvOptions& options = {},
                                              ReadReport* report = nullptr) {
  std::ifstream in = detail::open_input(path);
  return read_items_csv(in, path, options, report);
}

}  // namespace marl_rec::io
