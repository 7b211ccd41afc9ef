// marl_rec — lists of strings in a model stream (ids, titles, words): two fields, the lengths
// (`<field>.lengths`, an integer array) and the bytes of every string one after another
// (`<field>`, a string), so a million ids cost two fields, not a million.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/io/model_stream.hpp"

namespace marl_rec::io {

/// Writes `count` strings, string i being `get(i)` (anything convertible to std::string_view),
/// as the fields `<field>.lengths` and `<field>`.
template <class Get>
void write_strings(ModelWriter& w, std::string_view field, std::size_t count, Get&& get) {
  std::vector<std::uint64_t> lengths(count);
  std::string bytes;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string_view s = get(i);
    lengths[i] = s.size();
    bytes.append(s);
  }
  w.u64s(std::string(field) + ".lengths", lengths);
  w.string(field, bytes);
}

/// Writes `strings` as the fields `<field>.lengths` and `<field>`.
inline void write_strings(ModelWriter& w, std::string_view field, std::span<const std::string> strings) {
  write_strings(w, field, strings.size(), [&](std::size_t i) -> std::string_view { return strings[i]; });
}

/// Reads what write_strings wrote: exactly `count` strings. `where` ("loading a 'catalog'
/// model") prefixes the message when the lengths do not add up to the bytes.
inline std::vector<std::string> read_strings(ModelReader& r, std::string_view field, std::size_t count,
                                             std::string_view where) {
  const std::vector<std::uint64_t> lengths = r.u64s(std::string(field) + ".lengths", count);
  // The bytes field is bounded by the body already read: no limit of its own.
  const std::string bytes = r.string(field, std::string::npos);
  std::vector<std::string> strings;
  strings.reserve(count);
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    marl_rec::detail::require(lengths[i] <= bytes.size() - at, [&] {
      return std::string(where) + ": field '" + std::string(field) + "' ends inside string " +
             std::to_string(i) + " of " + std::to_string(count);
    });
    strings.emplace_back(bytes, at, static_cast<std::size_t>(lengths[i]));
    at += static_cast<std::size_t>(lengths[i]);
  }
  marl_rec::detail::require(at == bytes.size(), [&] {
    return std::string(where) + ": field '" + std::string(field) + "' has " +
           std::to_string(bytes.size() - at) + " bytes after its " + std::to_string(count) + " strings";
  });
  return strings;
}

/// read_strings for a list whose length the stream gives (the count of `<field>.lengths`,
/// bounded by the bytes present).
inline std::vector<std::string> read_strings(ModelReader& r, std::string_view field, std::string_view where) {
  const std::size_t count = r.array_size(std::string(field) + ".lengths");
  return read_strings(r, field, count, where);
}

}  // namespace marl_rec::io
