// marl_rec — the binary format every model, agent and coordinator saves itself in (format 2,
// docs/reliability.md#the-file-format): a header (magic, byte-order mark, the object's type and
// type version, the body's length), then named, typed, length-prefixed fields, then a CRC-32C of
// everything before it. Streams of format 1 (the first format) are still read. A truncated,
// corrupted, forged or foreign stream is an Error naming the field where reading failed, never a
// crash and never an allocation of whatever size the stream claims.
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
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/io/crc32c.hpp"
#include "marl_rec/io/detail/little_endian.hpp"

namespace marl_rec::io {

namespace detail {
/// Format 1 (the first format): fields without types or lengths, FNV-1a checksum. Read only.
inline constexpr char model_magic_v1[8] = {'M', 'R', 'E', 'C', 'M', 'D', 'L', '1'};
/// Format 2: typed, length-prefixed fields, CRC-32C.
inline constexpr char model_magic_v2[8] = {'M', 'R', 'E', 'C', 'M', 'D', 'L', '2'};
/// Stored as a little-endian u32: a reader finds the bytes 0D 0C 0B 0A.
inline constexpr std::uint32_t byte_order_mark = 0x0A0B0C0Du;
/// Longest type or field name.
inline constexpr std::size_t max_name = 256;

/// What a field of format 2 holds (the byte before its name).
enum class FieldKind : std::uint8_t {
  u64 = 1,
  f64 = 2,
  string = 3,
  floats = 4,
  doubles = 5,
  u64s = 6,
  /// A whole model stream (format 2) of another object, e.g. an agent's model.
  stream = 7,
};

inline const char* kind_name(std::uint8_t kind) noexcept {
  switch (kind) {
    case 1: return "an integer";
    case 2: return "a double";
    case 3: return "a string";
    case 4: return "a float array";
    case 5: return "a double array";
    case 6: return "an integer array";
    case 7: return "a nested stream";
    default: return "of unknown kind";
  }
}

/// FNV-1a, 64-bit: format 1's checksum (detects corruption, not tampering).
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

/// Writes an object: `ModelWriter w(out, "linucb", 1); w.u64("dim", d); w.floats("theta", t);
/// w.finish();`. Field names and kinds are stored, so a reader names the field it expected.
/// Values are little-endian on every host. The fields are gathered in memory and written by
/// finish() in one piece (the header needs the body's length): a save that throws half way
/// writes nothing to `out`. Throws Error when the stream fails.
class ModelWriter {
 public:
  /// `type` names the object (at most 256 bytes); `version` is its own format version.
  ModelWriter(std::ostream& out, std::string_view type, std::uint32_t version)
      : out_(out), type_(type), version_(version) {
    marl_rec::detail::require(!type.empty() && type.size() <= detail::max_name,
                              "ModelWriter: a type name has 1 to 256 bytes");
  }

  void u64(std::string_view field, std::uint64_t value) {
    begin(field, detail::FieldKind::u64, 8);
    put_u64(value);
  }
  void f64(std::string_view field, double value) {
    begin(field, detail::FieldKind::f64, 8);
    put_u64(std::bit_cast<std::uint64_t>(value));
  }
  void string(std::string_view field, std::string_view value) {
    begin(field, detail::FieldKind::string, value.size());
    body_.append(value);
  }
  void floats(std::string_view field, std::span<const float> values) {
    begin(field, detail::FieldKind::floats, values.size() * 4);
    const std::size_t at = body_.size();
    body_.resize(at + values.size() * 4);
    auto* p = reinterpret_cast<std::byte*>(body_.data() + at);
    for (std::size_t i = 0; i < values.size(); ++i) {
      marl_rec::io::detail::store_le<std::uint32_t>(p + 4 * i, std::bit_cast<std::uint32_t>(values[i]));
    }
  }
  void doubles(std::string_view field, std::span<const double> values) {
    begin(field, detail::FieldKind::doubles, values.size() * 8);
    for (const double v : values) put_u64(std::bit_cast<std::uint64_t>(v));
  }
  void u64s(std::string_view field, std::span<const std::uint64_t> values) {
    begin(field, detail::FieldKind::u64s, values.size() * 8);
    for (const std::uint64_t v : values) put_u64(v);
  }
  /// A whole stream of another object (what its `save` wrote), kept as one field.
  void stream(std::string_view field, std::string_view bytes) {
    begin(field, detail::FieldKind::stream, bytes.size());
    body_.append(bytes);
  }
  /// `object.save(...)`'s stream as one field.
  template <class T>
  void object(std::string_view field, const T& object) {
    std::ostringstream nested;
    object.save(nested);
    stream(field, nested.view());
  }

  /// Writes the header, the fields and the checksum. Nothing may be written after it.
  void finish() {
    marl_rec::detail::require(!finished_, "ModelWriter: finish() called twice");
    finished_ = true;
    std::string header;
    header.append(detail::model_magic_v2, sizeof detail::model_magic_v2);
    append_le(header, detail::byte_order_mark, 4);
    append_le(header, type_.size(), 8);
    header.append(type_);
    append_le(header, version_, 8);
    append_le(header, body_.size(), 8);
    Crc32c crc;
    crc.add(header.data(), header.size());
    crc.add(body_.data(), body_.size());
    std::string trailer;
    append_le(trailer, crc.value(), 4);
    out_.write(header.data(), static_cast<std::streamsize>(header.size()));
    out_.write(body_.data(), static_cast<std::streamsize>(body_.size()));
    out_.write(trailer.data(), static_cast<std::streamsize>(trailer.size()));
    marl_rec::detail::require(static_cast<bool>(out_), "ModelWriter: the output stream failed");
  }

 private:
  static void append_le(std::string& s, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
  }
  void put_u64(std::uint64_t v) { append_le(body_, v, 8); }
  void begin(std::string_view field, detail::FieldKind kind, std::size_t payload) {
    marl_rec::detail::require(!finished_, "ModelWriter: a field after finish()");
    marl_rec::detail::require(!field.empty() && field.size() <= detail::max_name,
                              "ModelWriter: a field name has 1 to 256 bytes");
    body_.push_back(static_cast<char>(kind));
    put_u64(field.size());
    body_.append(field);
    put_u64(payload);
  }

  std::ostream& out_;
  std::string type_;
  std::uint32_t version_;
  std::string body_;
  bool finished_ = false;
};

/// Reads what ModelWriter wrote, field by field in the same order. Every read checks the field's
/// name, kind and length; errors name the object type, the field and what was found.
///
/// Format 2: the constructor reads the whole body (in chunks, as the data arrives: a forged
/// length in a short stream is a truncation error, not an allocation) and checks the CRC-32C
/// before any field is read, so the fields are parsed from data known to be what was written.
/// `finish()` checks that every field was read. Format 1 streams are read field by field
/// and their checksum checked by `finish()`. Either way, read into temporaries and commit only
/// after finish(): a failed load must leave the object unchanged.
class ModelReader {
 public:
  /// Reads the header: the type must be `type` and its version at most `max_version`.
  ModelReader(std::istream& in, std::string_view type, std::uint32_t max_version)
      : in_(in), type_(type) {
    char magic[8];
    raw(magic, sizeof magic, "the header");
    if (std::memcmp(magic, detail::model_magic_v1, 8) == 0) {
      format_ = 1;
      fnv_.add(magic, 8);
      const std::string found = v1_text("the model type", detail::max_name);
      require(found == type, "the stream holds a '" + found + "' model");
      version_ = v1_u64("the format version");
    } else {
      require(std::memcmp(magic, detail::model_magic_v2, 8) == 0,
              "not a marl_rec model stream (bad magic bytes)");
      format_ = 2;
      crc_.add(magic, 8);
      const std::uint32_t mark = static_cast<std::uint32_t>(header_uint(4, "the byte-order mark"));
      require(mark != 0x0D0C0B0Au, "the stream was written big-endian (marl_rec writes little-endian)");
      require(mark == detail::byte_order_mark, "bad byte-order mark (the stream is corrupted)");
      const std::uint64_t n = header_uint(8, "the model type");
      require(n <= detail::max_name, "the model type claims " + std::to_string(n) + " bytes");
      std::string found(n, '\0');
      raw(found.data(), found.size(), "the model type");
      crc_.add(found.data(), found.size());
      require(found == type, "the stream holds a '" + found + "' model");
      version_ = header_uint(8, "the format version");
    }
    require(version_ >= 1 && version_ <= max_version,
            "format version " + std::to_string(version_) + " is not supported (this build reads 1.." +
                std::to_string(max_version) + ")");
    if (format_ == 2) read_body();
  }

  /// The object's format version the stream was written with.
  std::uint64_t version() const noexcept { return version_; }
  /// The container format: 1 (the first) or 2.
  int format() const noexcept { return format_; }

  std::uint64_t u64(std::string_view field) {
    if (format_ == 1) {
      v1_expect(field);
      return v1_u64(field);
    }
    expect(field, detail::FieldKind::u64, 8);
    return take_u64();
  }
  /// A u64 field that must lie in [lo, hi].
  std::uint64_t u64(std::string_view field, std::uint64_t lo, std::uint64_t hi) {
    const std::uint64_t v = u64(field);
    require(v >= lo && v <= hi, "field '" + std::string(field) + "' = " + std::to_string(v) +
                                    " is outside [" + std::to_string(lo) + ", " +
                                    std::to_string(hi) + "]");
    return v;
  }
  double f64(std::string_view field) {
    if (format_ == 1) return std::bit_cast<double>(u64(field));
    expect(field, detail::FieldKind::f64, 8);
    return std::bit_cast<double>(take_u64());
  }
  std::string string(std::string_view field, std::size_t max_size = 1u << 20) {
    if (format_ == 1) {
      v1_expect(field);
      return v1_text(field, max_size);
    }
    const std::size_t n = expect(field, detail::FieldKind::string, AnyLength{});
    require(n <= max_size, "field '" + std::string(field) + "' claims " + std::to_string(n) + " bytes");
    std::string s(body_.data() + pos_, n);
    pos_ += n;
    return s;
  }
  /// A float array of exactly `count` values (pass the size the model's shape implies).
  std::vector<float> floats(std::string_view field, std::size_t count) {
    if (format_ == 1) return v1_floats(field, count);
    expect_array(field, detail::FieldKind::floats, 4, count);
    std::vector<float> values(count);
    marl_rec::io::detail::copy_le_floats(bytes_at(pos_), count, values.data());
    pos_ += 4 * count;
    return values;
  }
  std::vector<double> doubles(std::string_view field, std::size_t count) {
    if (format_ == 1) return v1_doubles(field, count);
    expect_array(field, detail::FieldKind::doubles, 8, count);
    std::vector<double> values(count);
    for (double& v : values) v = std::bit_cast<double>(take_u64());
    return values;
  }
  /// An integer array of exactly `count` values (format 2 only).
  std::vector<std::uint64_t> u64s(std::string_view field, std::size_t count) {
    require_format2(field);
    expect_array(field, detail::FieldKind::u64s, 8, count);
    std::vector<std::uint64_t> values(count);
    for (std::uint64_t& v : values) v = take_u64();
    return values;
  }
  /// The number of values in the next field, which must be the array `field` (format 2 only):
  /// for arrays whose size the model's shape does not imply. Checked against the bytes present,
  /// so a caller may allocate it.
  std::size_t array_size(std::string_view field) {
    require_format2(field);
    const std::size_t saved = pos_;
    const Record rec = record();
    pos_ = saved;
    require(rec.name == field, "expected field '" + std::string(field) + "', found '" + rec.name + "'");
    const std::size_t size = rec.kind == static_cast<std::uint8_t>(detail::FieldKind::floats) ? 4 : 8;
    require(rec.kind == static_cast<std::uint8_t>(detail::FieldKind::floats) ||
                rec.kind == static_cast<std::uint8_t>(detail::FieldKind::doubles) ||
                rec.kind == static_cast<std::uint8_t>(detail::FieldKind::u64s),
            "field '" + std::string(field) + "' is " + detail::kind_name(rec.kind) + ", not an array");
    return rec.length / size;
  }
  /// A nested stream's bytes (format 2 only).
  std::string stream(std::string_view field) {
    require_format2(field);
    const std::size_t n = expect(field, detail::FieldKind::stream, AnyLength{});
    std::string s(body_.data() + pos_, n);
    pos_ += n;
    return s;
  }
  /// Loads a nested stream into `object` (`object.load(stream, extra...)`).
  template <class T, class... Extra>
  void object(std::string_view field, T& object, Extra&&... extra) {
    std::istringstream nested(stream(field));
    object.load(nested, std::forward<Extra>(extra)...);
    require(nested.peek() == std::char_traits<char>::eof(),
            "field '" + std::string(field) + "' has bytes after its stream");
  }
  /// Whether the next field is named `field` (format 2; always false for format 1): for fields
  /// a later version added, absent from older streams.
  bool next_is(std::string_view field) {
    if (format_ == 1 || pos_ >= body_.size()) return false;
    const std::size_t saved = pos_;
    const Record rec = record();
    pos_ = saved;
    return rec.name == field;
  }

  /// Format 2: checks that every field was read. Format 1: checks the checksum. Call after the
  /// last field.
  void finish() {
    if (format_ == 2) {
      require(pos_ == body_.size(), [&] {
        const std::size_t saved = pos_;
        const Record rec = record();
        pos_ = saved;
        return "field '" + rec.name + "' was not expected (the stream has more fields than this "
               "version reads)";
      });
      return;
    }
    const std::uint64_t expected = fnv_.value();
    std::byte bytes[8];
    in_.read(reinterpret_cast<char*>(bytes), 8);
    require(in_.gcount() == 8, "the stream ends before its checksum (truncated)");
    require(marl_rec::io::detail::load_le<std::uint64_t>(bytes) == expected,
            "checksum mismatch (the stream is corrupted)");
  }

 private:
  struct AnyLength {};
  struct Record {
    std::uint8_t kind = 0;
    std::string name;
    std::size_t length = 0;
  };

  void require(bool ok, const std::string& what) const {
    marl_rec::detail::require(ok, [&] { return "loading a '" + type_ + "' model: " + what; });
  }
  template <class F>
    requires std::is_invocable_r_v<std::string, F>
  void require(bool ok, F&& what) const {
    marl_rec::detail::require(ok, [&] { return "loading a '" + type_ + "' model: " + what(); });
  }
  void require_format2(std::string_view field) const {
    require(format_ == 2, "field '" + std::string(field) + "' cannot be in a format 1 stream");
  }
  const std::byte* bytes_at(std::size_t at) const {
    return reinterpret_cast<const std::byte*>(body_.data() + at);
  }

  // --- the stream, before the body ---
  void raw(void* data, std::size_t n, std::string_view what) {
    in_.read(static_cast<char*>(data), static_cast<std::streamsize>(n));
    require(static_cast<std::size_t>(in_.gcount()) == n,
            "the stream ends inside " + std::string(what) + " (truncated)");
  }
  std::uint64_t header_uint(int bytes, std::string_view what) {
    std::byte b[8];
    raw(b, static_cast<std::size_t>(bytes), what);
    crc_.add(b, static_cast<std::size_t>(bytes));
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t{std::to_integer<unsigned>(b[i])} << (8 * i);
    return v;
  }
  void read_body() {
    const std::uint64_t n = header_uint(8, "the body length");
    // In chunks, growing as the data arrives.
    for (std::uint64_t done = 0; done < n;) {
      const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(n - done, chunk_bytes));
      const std::size_t at = body_.size();
      body_.resize(at + chunk);
      in_.read(body_.data() + at, static_cast<std::streamsize>(chunk));
      require(static_cast<std::size_t>(in_.gcount()) == chunk,
              "the stream ends inside its body after " +
                  std::to_string(at + static_cast<std::size_t>(in_.gcount())) + " of " +
                  std::to_string(n) + " bytes (truncated)");
      done += chunk;
    }
    crc_.add(body_.data(), body_.size());
    std::byte b[4];
    in_.read(reinterpret_cast<char*>(b), 4);
    require(in_.gcount() == 4, "the stream ends before its checksum (truncated)");
    require(marl_rec::io::detail::load_le<std::uint32_t>(b) == crc_.value(),
            "checksum mismatch (the stream is corrupted)");
  }

  // --- format 2 fields, from the checked body ---
  std::uint64_t take_u64() {
    const std::uint64_t v = marl_rec::io::detail::load_le<std::uint64_t>(bytes_at(pos_));
    pos_ += 8;
    return v;
  }
  std::uint64_t take_length(std::string_view what) {
    require(body_.size() - pos_ >= 8, "the body ends inside " + std::string(what));
    return take_u64();
  }
  // The next field's header; pos_ moves to its payload.
  Record record() {
    require(pos_ < body_.size(), "the stream has no more fields");
    Record rec;
    rec.kind = static_cast<std::uint8_t>(body_[pos_]);
    ++pos_;
    const std::uint64_t name = take_length("a field name");
    require(name <= detail::max_name && name <= body_.size() - pos_,
            "a field name claims " + std::to_string(name) + " bytes");
    rec.name.assign(body_.data() + pos_, name);
    pos_ += name;
    const std::uint64_t length = take_length("field '" + rec.name + "'");
    require(length <= body_.size() - pos_, [&] {
      return "field '" + rec.name + "' claims " + std::to_string(length) + " bytes; " +
             std::to_string(body_.size() - pos_) + " remain";
    });
    rec.length = static_cast<std::size_t>(length);
    return rec;
  }
  std::size_t expect(std::string_view field, detail::FieldKind kind, std::size_t length) {
    const std::size_t n = expect(field, kind, AnyLength{});
    require(n == length, "field '" + std::string(field) + "' has " + std::to_string(n) +
                             " bytes, expected " + std::to_string(length));
    return n;
  }
  std::size_t expect(std::string_view field, detail::FieldKind kind, AnyLength) {
    require(pos_ < body_.size(), [&] {
      return "expected field '" + std::string(field) + "', found the end of the stream";
    });
    const Record rec = record();
    require(rec.name == field, "expected field '" + std::string(field) + "', found '" + rec.name + "'");
    require(rec.kind == static_cast<std::uint8_t>(kind), [&] {
      return "field '" + std::string(field) + "' is " + detail::kind_name(rec.kind) + ", expected " +
             detail::kind_name(static_cast<std::uint8_t>(kind));
    });
    return rec.length;
  }
  void expect_array(std::string_view field, detail::FieldKind kind, std::size_t size, std::size_t count) {
    const std::size_t n = expect(field, kind, AnyLength{});
    require(n % size == 0 && n / size == count, [&] {
      return "field '" + std::string(field) + "' has " + std::to_string(n / size) +
             " values, expected " + std::to_string(count);
    });
  }

  // --- format 1, field by field from the stream ---
  void v1_raw(void* data, std::size_t n, std::string_view field) {
    raw(data, n, field);
    fnv_.add(data, n);
  }
  std::uint64_t v1_u64(std::string_view field) {
    std::byte bytes[8];
    v1_raw(bytes, 8, field);
    return marl_rec::io::detail::load_le<std::uint64_t>(bytes);
  }
  std::string v1_text(std::string_view field, std::size_t max_size) {
    const std::uint64_t n = v1_u64(field);
    require(n <= max_size, std::string(field) + " claims " + std::to_string(n) + " bytes");
    std::string s(n, '\0');
    v1_raw(s.data(), s.size(), field);
    return s;
  }
  void v1_expect(std::string_view field) {
    const std::string found = v1_text("a field name", detail::max_name);
    require(found == field, "expected field '" + std::string(field) + "', found '" + found + "'");
  }
  std::uint64_t v1_count(std::string_view field, std::size_t count) {
    v1_expect(field);
    const std::uint64_t n = v1_u64(field);
    require(n == count, "field '" + std::string(field) + "' has " + std::to_string(n) +
                            " values, expected " + std::to_string(count));
    return n;
  }
  std::vector<float> v1_floats(std::string_view field, std::size_t count) {
    v1_count(field, count);
    std::vector<float> values;
    std::vector<std::byte> buffer;
    for (std::size_t done = 0; done < count;) {
      const std::size_t n = std::min<std::size_t>(count - done, chunk_bytes / 4);
      buffer.resize(n * 4);
      v1_raw(buffer.data(), buffer.size(), field);
      values.resize(done + n);
      marl_rec::io::detail::copy_le_floats(buffer.data(), n, values.data() + done);
      done += n;
    }
    return values;
  }
  std::vector<double> v1_doubles(std::string_view field, std::size_t count) {
    v1_count(field, count);
    std::vector<double> values;
    for (std::size_t i = 0; i < count; ++i) {
      if (i % (chunk_bytes / 8) == 0) values.reserve(std::min(count, i + chunk_bytes / 8));
      values.push_back(std::bit_cast<double>(v1_u64(field)));
    }
    return values;
  }

  static constexpr std::size_t chunk_bytes = std::size_t{1} << 22;

  std::istream& in_;
  std::string type_;
  int format_ = 0;
  std::uint64_t version_ = 0;
  std::string body_;
  std::size_t pos_ = 0;
  Crc32c crc_;
  detail::Fnv1a fnv_;
};

}  // namespace marl_rec::io
