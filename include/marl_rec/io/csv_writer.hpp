// marl_rec — writing CSV that marl_rec's readers (and any RFC 4180 reader) read back unchanged.
#pragma once

#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>

#include "marl_rec/core/interactions.hpp"

namespace marl_rec::io {

/// `field` as a CSV field: quoted (with "" for ") when it holds a comma, quote, CR or LF, or
/// starts or ends with a space; as it is otherwise.
inline std::string csv_field(std::string_view field) {
  const bool quote = field.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!field.empty() && (field.front() == ' ' || field.back() == ' '));
  if (!quote) return std::string(field);
  std::string out = "\"";
  for (const char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

/// A double written with enough digits to read back as the same double.
inline std::string csv_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

/// A float written with enough digits to read back as the same float ("4.5", not 4.5000000).
inline std::string csv_number(float value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(value));
  return buffer;
}

/// Writes `data` as `user_id,item_id[,rating][,timestamp]` with a header, in row order.
inline void write_interactions_csv(std::ostream& out, const Interactions& data) {
  out << "user_id,item_id";
  if (data.has_rating) out << ",rating";
  if (data.has_timestamp) out << ",timestamp";
  out << '\n';
  for (const Interaction& row : data.rows) {
    out << csv_field(data.users.id(row.user)) << ',' << csv_field(data.items.id(row.item));
    if (data.has_rating) out << ',' << csv_number(row.rating);
    if (data.has_timestamp) out << ',' << csv_number(row.timestamp);
    out << '\n';
  }
}

}  // namespace marl_rec::io
