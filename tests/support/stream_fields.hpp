// Test helper: a saved stream (format 2) taken apart into its fields, one field replaced, and
// written again through io::ModelWriter, so the forged stream has a valid checksum and only the
// loader's own validation can refuse it.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/io/model_stream.hpp"

namespace marl_rec::test {

/// One field of a stream: its kind (io::detail::FieldKind), name and payload bytes.
struct StreamField {
  std::uint8_t kind = 0;
  std::string name;
  std::string payload;
};

/// A format-2 stream's type, version and fields.
struct StreamFields {
  std::string type;
  std::uint64_t version = 0;
  std::vector<StreamField> fields;
};

namespace stream_detail {
inline std::uint64_t le(std::string_view bytes, std::size_t at, std::size_t n) {
  if (at + n > bytes.size()) throw std::runtime_error("stream_fields: the stream ends early");
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  return v;
}
inline std::string le_bytes(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFFu);
  return s;
}
}  // namespace stream_detail

/// Takes a stream ModelWriter wrote apart (throws std::runtime_error on anything else).
inline StreamFields parse_fields(std::string_view bytes) {
  using stream_detail::le;
  if (bytes.size() < 12 || bytes.substr(0, 8) != "MRECMDL2") throw std::runtime_error("stream_fields: not format 2");
  StreamFields s;
  std::size_t at = 12;
  const std::uint64_t type_size = le(bytes, at, 8);
  at += 8;
  s.type = std::string(bytes.substr(at, type_size));
  at += type_size;
  s.version = le(bytes, at, 8);
  at += 8;
  const std::uint64_t body = le(bytes, at, 8);
  at += 8;
  const std::size_t end = at + body;
  if (end + 4 != bytes.size()) throw std::runtime_error("stream_fields: wrong length");
  while (at < end) {
    StreamField f;
    f.kind = static_cast<std::uint8_t>(bytes[at]);
    ++at;
    const std::uint64_t name = le(bytes, at, 8);
    at += 8;
    f.name = std::string(bytes.substr(at, name));
    at += name;
    const std::uint64_t length = le(bytes, at, 8);
    at += 8;
    f.payload = std::string(bytes.substr(at, length));
    at += length;
    s.fields.push_back(std::move(f));
  }
  return s;
}

/// Writes the fields again through io::ModelWriter (a valid checksum).
inline std::string write_fields(const StreamFields& s) {
  using stream_detail::le;
  std::ostringstream out;
  io::ModelWriter w(out, s.type, static_cast<std::uint32_t>(s.version));
  for (const StreamField& f : s.fields) {
    const std::string_view p = f.payload;
    switch (static_cast<io::detail::FieldKind>(f.kind)) {
      case io::detail::FieldKind::u64: w.u64(f.name, le(p, 0, 8)); break;
      case io::detail::FieldKind::f64: w.f64(f.name, std::bit_cast<double>(le(p, 0, 8))); break;
      case io::detail::FieldKind::string: w.string(f.name, p); break;
      case io::detail::FieldKind::floats: {
        std::vector<float> v(p.size() / 4);
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::bit_cast<float>(static_cast<std::uint32_t>(le(p, 4 * i, 4)));
        w.floats(f.name, v);
        break;
      }
      case io::detail::FieldKind::doubles: {
        std::vector<double> v(p.size() / 8);
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::bit_cast<double>(le(p, 8 * i, 8));
        w.doubles(f.name, v);
        break;
      }
      case io::detail::FieldKind::u64s: {
        std::vector<std::uint64_t> v(p.size() / 8);
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = le(p, 8 * i, 8);
        w.u64s(f.name, v);
        break;
      }
      case io::detail::FieldKind::stream: w.stream(f.name, p); break;
      default: throw std::runtime_error("stream_fields: unknown field kind");
    }
  }
  w.finish();
  return out.str();
}

/// Payloads of each kind, for replacing a field.
inline std::string u64_payload(std::uint64_t v) { return stream_detail::le_bytes(v); }
inline std::string f64_payload(double v) { return stream_detail::le_bytes(std::bit_cast<std::uint64_t>(v)); }
inline std::string u64s_payload(const std::vector<std::uint64_t>& v) {
  std::string s;
  for (const std::uint64_t x : v) s += stream_detail::le_bytes(x);
  return s;
}
inline std::string floats_payload(const std::vector<float>& v) {
  std::string s;
  for (const float x : v) s += stream_detail::le_bytes(std::bit_cast<std::uint32_t>(x)).substr(0, 4);
  return s;
}

/// `bytes` with the payload of the `occurrence`-th field named `name` (0: the first) replaced,
/// written again with a valid checksum. Throws std::runtime_error when there is no such field.
inline std::string with_field(std::string_view bytes, std::string_view name, std::string payload,
                              std::size_t occurrence = 0) {
  StreamFields s = parse_fields(bytes);
  for (StreamField& f : s.fields) {
    if (f.name != name) continue;
    if (occurrence-- != 0) continue;
    f.payload = std::move(payload);
    return write_fields(s);
  }
  throw std::runtime_error("stream_fields: no field '" + std::string(name) + "'");
}

/// The payload of the `occurrence`-th field named `name`.
inline std::string field_payload(std::string_view bytes, std::string_view name, std::size_t occurrence = 0) {
  for (const StreamField& f : parse_fields(bytes).fields) {
    if (f.name == name && occurrence-- == 0) return f.payload;
  }
  throw std::runtime_error("stream_fields: no field '" + std::string(name) + "'");
}

}  // namespace marl_rec::test
