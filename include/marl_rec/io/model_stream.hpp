// marl_rec — the binary format every model saves itself in: a header naming the model type and
// format version, then named fields, then a checksum of everything before it. A truncated,
// corrupted or foreign stream is an Error naming the field where reading failed, never a crash.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/io/detail/little_endian.hpp"

namespace marl_rec::io {

namespace detail {
inline constexpr char model_magic[8] = {'M', 'R', 'E', 'C', 'M', 'D', 'L', '1'};

/// FNV-1a, 64-bit: detects corruption (not tampering).
class Fnv1a {
 public:
  void add(const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) hash_ = (hash_ ^ p[i]) * 0x100000001B3ull;
  }
  std::uint64_t value() const noexcept { return hash_; }

 private:
  std::uint64_t hash_ = 0xCBF29CE484222325ull;
};
}  // namespace detail

/// Writes a model: `ModelWriter w(out, "linucb", 1); w.u64("dim", d); w.floats("theta", t);
/// w.finish();`. Field names are stored, so a reader names the field it expected.
/// Values are little-endian on every host. Throws Error when the stream fails.
class ModelWriter {
 public:
  ModelWriter(std::ostream& out, std::string_view type, std::uint32_t version) : out_(out) {
    raw(detail::model_magic, sizeof detail::model_magic);
    text(type);
    u64_raw(version);
  }

  void u64(std::string_view field, std::uint64_t value) {
    text(field);
    u64_raw(value);
  }
  void f64(std::string_view field, double value) {
    u64(field, std::bit_cast<std::uint64_t>(value));
  }
  void string(std::string_view field, std::string_view value) {
    text(field);
    text(value);
  }
  void floats(std::string_view field, std::span<const float> values) {
    text(field);
    u64_raw(values.size());
    std::vector<std::byte> buffer(values.size() * 4);
    for (std::size_t i = 0; i < values.size(); ++i) {
      marl_rec::io::detail::store_le<std::uint32_t>(buffer.data() + 4 * i,
                                                    std::bit_cast<std::uint32_t>(values[i]));
    }
    raw(buffer.data(), buffer.size());
  }
  void doubles(std::string_view field, std::span<const double> values) {
    text(field);
    u64_raw(values.size());
    for (const double v : values) u64_raw(std::bit_cast<std::uint64_t>(v));
  }
  /// Writes the checksum; nothing may be written after it.
  void finish() {
    const std::uint64_t sum = hash_.value();
    std::byte bytes[8];
    marl_rec::io::detail::store_le<std::uint64_t>(bytes, sum);
    out_.write(reinterpret_cast<const char*>(bytes), 8);
    marl_rec::detail::require(static_cast<bool>(out_), "ModelWriter: the output stream failed");
  }

 private:
  void raw(const void* data, std::size_t n) {
    hash_.add(data, n);
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    marl_rec::detail::require(static_cast<bool>(out_), "ModelWriter: the output stream failed");
  }
  void u64_raw(std::uint64_t v) {
    std::byte bytes[8];
    marl_rec::io::detail::store_le<std::uint64_t>(bytes, v);
    raw(bytes, 8);
  }
  void text(std::string_view s) {
    u64_raw(s.size());
    raw(s.data(), s.size());
  }

  std::ostream& out_;
  detail::Fnv1a hash_;
};

/// Reads what ModelWriter wrote, field by field in the same order. Every read checks the field
/// name and the remaining data; `finish()` checks the checksum. Errors name the model type, the
/// field and what was found. Read into temporaries and commit only after finish(), so a failed
/// load leaves the model unchanged.
class ModelReader {
 public:
  /// Reads the header: the type must be `type` and the version at most `max_version`.
  ModelReader(std::istream& in, std::string_view type, std::uint32_t max_version)
      : in_(in), type_(type) {
    char magic[sizeof detail::model_magic];
    raw(magic, sizeof magic, "the header");
    require(std::memcmp(magic, detail::model_magic, sizeof magic) == 0,
            "not a marl_rec model stream (bad magic bytes)");
    const std::string found = text("the model type", 256);
    require(found == type, "the stream holds a '" + found + "' model");
    version_ = u64_raw("the format version");
    require(version_ >= 1 && version_ <= max_version,
            "format version " + std::to_string(version_) + " is not supported (this build reads 1.." +
                std::to_string(max_version) + ")");
  }

  /// The format version the stream was written with.
  std::uint64_t version() const noexcept { return version_; }

  std::uint64_t u64(std::string_view field) {
    expect(field);
    return u64_raw(field);
  }
  /// A u64 field that must lie in [lo, hi].
  std::uint64_t u64(std::string_view field, std::uint64_t lo, std::uint64_t hi) {
    const std::uint64_t v = u64(field);
    require(v >= lo && v <= hi, "field '" + std::string(field) + "' = " + std::to_string(v) +
                                    " is outside [" + std::to_string(lo) + ", " +
                                    std::to_string(hi) + "]");
    return v;
  }
  double f64(std::string_view field) { return std::bit_cast<double>(u64(field)); }
  std::string string(std::string_view field, std::size_t max_size = 1u << 20) {
    expect(field);
    return text(field, max_size);
  }
  /// A float array of exactly `count` values (pass the size the model's shape implies).
  std::vector<float> floats(std::string_view field, std::size_t count) {
    expect(field);
    const std::uint64_t n = u64_raw(field);
    require(n == count, "field '" + std::string(field) + "' has " + std::to_string(n) +
                            " values, expected " + std::to_string(count));
    // Read in chunks, growing as the data arrives: a forged count in a truncated stream is an
    // Error about truncation, not an attempt to allocate whatever the stream claims.
    std::vector<float> values;
    std::vector<std::byte> buffer;
    for (std::size_t done = 0; done < count;) {
      const std::size_t n = std::min<std::size_t>(count - done, chunk_values);
      buffer.resize(n * 4);
      raw(buffer.data(), buffer.size(), field);
      values.resize(done + n);
      marl_rec::io::detail::copy_le_floats(buffer.data(), n, values.data() + done);
      done += n;
    }
    return values;
  }
  std::vector<double> doubles(std::string_view field, std::size_t count) {
    expect(field);
    const std::uint64_t n = u64_raw(field);
    require(n == count, "field '" + std::string(field) + "' has " + std::to_string(n) +
                            " values, expected " + std::to_string(count));
    std::vector<double> values;
    for (std::size_t i = 0; i < count; ++i) {
      if (i % chunk_values == 0) values.reserve(std::min(count, i + chunk_values));
      values.push_back(std::bit_cast<double>(u64_raw(field)));
    }
    return values;
  }
  /// Checks the checksum. Call after the last field.
  void finish() {
    const std::uint64_t expected = hash_.value();
    std::byte bytes[8];
    in_.read(reinterpret_cast<char*>(bytes), 8);
    require(in_.gcount() == 8, "the stream ends before its checksum (truncated)");
    require(marl_rec::io::detail::load_le<std::uint64_t>(bytes) == expected,
            "checksum mismatch (the stream is corrupted)");
  }

 private:
  void require(bool ok, const std::string& what) const {
    marl_rec::detail::require(ok, [&] { return "loading a '" + type_ + "' model: " + what; });
  }
  void raw(void* data, std::size_t n, std::string_view field) {
    in_.read(static_cast<char*>(data), static_cast<std::streamsize>(n));
    require(static_cast<std::size_t>(in_.gcount()) == n,
            "the stream ends inside " + std::string(field) + " (truncated)");
    hash_.add(data, n);
  }
  std::uint64_t u64_raw(std::string_view field) {
    std::byte bytes[8];
    raw(bytes, 8, field);
    return marl_rec::io::detail::load_le<std::uint64_t>(bytes);
  }
  std::string text(std::string_view field, std::size_t max_size) {
    const std::uint64_t n = u64_raw(field);
    require(n <= max_size, std::string(field) + " claims " + std::to_string(n) + " bytes");
    std::string s(n, '\0');
    raw(s.data(), s.size(), field);
    return s;
  }
  void expect(std::string_view field) {
    const std::string found = text("a field name", 256);
    require(found == field, "expected field '" + std::string(field) + "', found '" + found + "'");
  }

  static constexpr std::size_t chunk_values = std::size_t{1} << 20;

  std::istream& in_;
  std::string type_;
  std::uint64_t version_ = 0;
  detail::Fnv1a hash_;
};

}  // namespace marl_rec::io
