// marl_rec — a strict RFC 4180 CSV reader (quoted fields, CRLF or LF, UTF-8 checked) and the
// field parsers every data reader shares, all reporting errors as "file:line:column: what".
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <istream>
#include <memory>
#include <optional>
#include <streambuf>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "marl_rec/core/error.hpp"

namespace marl_rec::io {

/// How CsvReader splits its input.
struct CsvOptions {
  /// The field separator: an ASCII character other than '"', CR, LF and NUL.
  char delimiter{','};
  /// The longest record accepted, in bytes (line ends included). The reader stops at the first
  /// byte past it, so a file without line ends (or with a quote that never closes) fails fast
  /// instead of being read whole into memory.
  std::size_t max_record_bytes{1 << 20};
};

/// Where a value came from, for error messages: `source:line:column (name)`. `line` and
/// `column` are 1-based (the column counts bytes, as compilers do); column 0 means "the whole
/// row" and `name` may be empty. It holds views: the source and name must outlive it.
struct FieldLocation {
  std::string_view source{};
  std::size_t line{};
  std::size_t column{};
  std::string_view name{};
};

/// `where` as "source:line:column (name)", leaving out what is unknown.
inline std::string to_string(const FieldLocation& where) {
  std::string s(where.source);
  if (where.line > 0) s += ':' + std::to_string(where.line);
  if (where.line > 0 && where.column > 0) s += ':' + std::to_string(where.column);
  if (!where.name.empty()) {
    s += " (";
    s += where.name;
    s += ')';
  }
  return s;
}

/// Throws Error("<where>: <what>").
[[noreturn]] inline void throw_error(const FieldLocation& where, std::string_view what) {
  throw Error(to_string(where) + ": " + std::string(what));
}

/// Whether parse_double accepts NaN and ±infinity.
enum class NonFinite { reject, allow };

namespace detail {

// io::detail hides marl_rec::detail; bring the check helper back in.
using marl_rec::detail::require;

/// Incremental UTF-8 validation, one byte at a time (RFC 3629: no overlong forms, no UTF-16
/// surrogates, nothing above U+10FFFF). Incremental so that CsvReader can name the exact line
/// and column of a bad byte, and needs no second pass over the field.
class Utf8Validator {
 public:
  /// Takes the next byte; returns nullptr when it is acceptable so far, else what it is.
  const char* take(unsigned char b) noexcept {
    if (pending_ == 0) {
      lead_ = b;
      if (b < 0x80) return nullptr;
      if (b >= 0xC2 && b <= 0xDF) return expect(1, 0x80, 0xBF);
      if (b == 0xE0) return expect(2, 0xA0, 0xBF);  // below A0: overlong
      if (b == 0xED) return expect(2, 0x80, 0x9F);  // above 9F: a surrogate
      if (b >= 0xE1 && b <= 0xEF) return expect(2, 0x80, 0xBF);
      if (b == 0xF0) return expect(3, 0x90, 0xBF);  // below 90: overlong
      if (b >= 0xF1 && b <= 0xF3) return expect(3, 0x80, 0xBF);
      if (b == 0xF4) return expect(3, 0x80, 0x8F);  // above 8F: beyond U+10FFFF
      if (b == 0xC0 || b == 0xC1) return "an overlong encoding";
      if (b >= 0xF5) return "a byte that never occurs in UTF-8";
      return "a continuation byte with no lead byte";
    }
    if (b < low_ || b > high_) {
      if (b < 0x80 || b > 0xBF) return "a truncated sequence";
      return lead_ == 0xED   ? "a UTF-16 surrogate"
             : lead_ == 0xF4 ? "a code point above U+10FFFF"
                             : "an overlong encoding";
    }
    --pending_;
    low_ = 0x80;
    high_ = 0xBF;
    return nullptr;
  }
  /// True when no multi-byte sequence is open.
  bool complete() const noexcept { return pending_ == 0; }

 private:
  const char* expect(int pending, unsigned char low, unsigned char high) noexcept {
    pending_ = pending;
    low_ = low;
    high_ = high;
    return nullptr;
  }
  int pending_ = 0;
  unsigned char low_ = 0x80;
  unsigned char high_ = 0xBF;
  unsigned char lead_ = 0;
};

/// A byte as "0xAB".
inline std::string hex_byte(unsigned char b) {
  constexpr char digits[] = "0123456789ABCDEF";
  return {'0', 'x', digits[b >> 4], digits[b & 0xF]};
}

/// True when `s` is valid UTF-8.
inline bool is_valid_utf8(std::string_view s) noexcept {
  Utf8Validator v;
  for (const char c : s) {
    if (v.take(static_cast<unsigned char>(c)) != nullptr) return false;
  }
  return v.complete();
}

/// `text` in single quotes for an error message: at most 60 bytes (cut on a character
/// boundary), control bytes — and every non-ASCII byte when `text` is not valid UTF-8 — as \xNN.
inline std::string quoted_for_message(std::string_view text) {
  constexpr std::size_t limit = 60;
  const bool utf8 = is_valid_utf8(text);
  std::size_t n = text.size();
  if (n > limit) {
    n = limit;
    while (utf8 && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  }
  std::string s = "'";
  for (std::size_t i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x20 || b == 0x7F || (b >= 0x80 && !utf8)) {
      s += "\\x" + hex_byte(b).substr(2);
    } else {
      s += static_cast<char>(b);
    }
  }
  s += n < text.size() ? "'..." : "'";
  return s;
}

/// "<problem>, got <field>" (or "an empty field").
inline std::string problem_with(std::string_view problem, std::string_view field) {
  return std::string(problem) + ", got " +
         (field.empty() ? "an empty field" : quoted_for_message(field));
}

/// A leading '+' is accepted (std::from_chars takes only '-'), but not "+-1" or "++1".
inline std::string_view drop_plus(std::string_view s) noexcept {
  if (s.size() >= 2 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  return s;
}

/// Parses a whole field as a double. Returns nullptr on success, else what was expected (a
/// fixed string, so a reader can count skipped rows by it).
inline const char* to_double(std::string_view field, double& out, NonFinite non_finite) noexcept {
  const std::string_view s = drop_plus(field);
  double value = 0.0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || end != s.data() + s.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return "expected a number";
  }
  if (ec == std::errc::result_out_of_range) return "expected a number within the range of double";
  if (non_finite == NonFinite::reject && !std::isfinite(value)) return "expected a finite number";
  out = value;
  return nullptr;
}

/// Parses a whole field as a decimal integer; same contract as to_double.
inline const char* to_int(std::string_view field, std::int64_t& out) noexcept {
  const std::string_view s = drop_plus(field);
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || end != s.data() + s.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return "expected an integer";
  }
  if (ec == std::errc::result_out_of_range) return "expected an integer within the range of int64";
  out = value;
  return nullptr;
}

/// `name` lower-cased (ASCII) with surrounding spaces removed: how header names are compared.
inline std::string header_key(std::string_view name) {
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  std::string key(name);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

/// Opens `path` for reading, or throws Error naming the path and the reason.
inline std::ifstream open_input(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  detail::require(std::filesystem::exists(status),
                  [&] { return path + ": cannot open: no such file"; });
  detail::require(!std::filesystem::is_directory(status),
                  [&] { return path + ": cannot open: it is a directory"; });
  std::ifstream in(path, std::ios::binary);
  detail::require(in.is_open(), [&] { return path + ": cannot open (permissions?)"; });
  return in;
}

}  // namespace detail

/// Parses a whole field as a double: no empty field, no spaces, no trailing characters, a leading
/// '+' allowed; NaN and infinities only with NonFinite::allow. Throws Error
/// "<where>: expected a finite number, got 'nan'".
inline double parse_double(std::string_view field, const FieldLocation& where,
                           NonFinite non_finite = NonFinite::reject) {
  double value = 0.0;
  if (const char* problem = detail::to_double(field, value, non_finite)) {
    throw_error(where, detail::problem_with(problem, field));
  }
  return value;
}

/// Parses a whole field as a decimal std::int64_t (same rules as parse_double; "3.0" is not an
/// integer). Throws Error "<where>: expected an integer, got '3.0'".
inline std::int64_t parse_int(std::string_view field, const FieldLocation& where) {
  std::int64_t value = 0;
  if (const char* problem = detail::to_int(field, value)) {
    throw_error(where, detail::problem_with(problem, field));
  }
  return value;
}

/// Reads CSV records (RFC 4180) from a stream, one at a time:
/// - fields may be quoted; inside quotes, `""` is a quote and delimiters, CR and LF are data;
/// - records end with LF or CRLF, or at the end of the input; blank lines are skipped;
/// - a UTF-8 byte order mark at the very start is skipped;
/// - every byte must be valid UTF-8 and not NUL.
/// Anything else — an unterminated quote, a quote inside an unquoted field, text after a closing
/// quote, a CR not followed by LF, invalid UTF-8, a NUL byte, a record longer than
/// `max_record_bytes` — throws Error "source:line:column: what was expected". The reader cannot
/// go on after an error. It keeps only the current record in memory.
class CsvReader {
 public:
  /// A reader of `in`, which must outlive it; `source` names it in messages (the file name).
  CsvReader(std::istream& in, std::string source, CsvOptions options = {})
      : in_(in.rdbuf()),
        source_(std::move(source)),
        options_(options),
        buffer_(new char[buffer_size]) {
    const auto d = static_cast<unsigned char>(options_.delimiter);
    detail::require(d != 0 && d < 0x80 && d != '"' && d != '\r' && d != '\n', [&] {
      return source_ +
             ": CsvOptions::delimiter must be an ASCII character other than '\"', CR, LF and NUL";
    });
    detail::require(options_.max_record_bytes > 0,
                    [&] { return source_ + ": CsvOptions::max_record_bytes must be at least 1"; });
    detail::require(in_ != nullptr, [&] { return source_ + ": the stream has no buffer"; });
    // A BOM is only a BOM at the very start; anywhere else it is an ordinary character.
    if (fill() && end_ >= 3 && buffer_[0] == '\xEF' && buffer_[1] == '\xBB' && buffer_[2] == '\xBF')
      pos_ = 3;
  }

  /// Reads the next record into `fields` (reusing its strings); false at the end of the input.
  bool next(std::vector<std::string>& fields) {
    for (int c = peek(); c == '\n' || c == '\r'; c = peek()) {  // blank lines
      record_line_ = line_;
      record_bytes_ = 0;
      end_line();
    }
    if (peek() < 0) return false;
    record_line_ = line_;
    record_bytes_ = 0;
    starts_.clear();
    std::size_t n = 0;
    bool last = false;
    while (!last) {
      if (n == fields.size()) fields.emplace_back();
      std::string& field = fields[n++];
      field.clear();
      starts_.push_back({line_, column_});
      last = peek() == '"' ? read_quoted(field) : read_unquoted(field);
    }
    fields.resize(n);
    ++records_;
    return true;
  }

  /// The 1-based line where the last record returned started (0 before the first).
  std::size_t line() const noexcept { return record_line_; }
  /// How many records next() has returned.
  std::size_t records() const noexcept { return records_; }
  /// The name given to the input.
  const std::string& source() const noexcept { return source_; }

  /// Where field `index` of the last record starts, named `name` in messages (an index past the
  /// end of the record gives the record's line and no column).
  FieldLocation location(std::size_t index, std::string_view name = {}) const noexcept {
    if (index < starts_.size()) return {source_, starts_[index].line, starts_[index].column, name};
    return {source_, record_line_, 0, name};
  }
  /// The location of the whole last record (its line, no column).
  FieldLocation record_location() const noexcept { return {source_, record_line_, 0, {}}; }

 private:
  struct Position {
    std::size_t line{};
    std::size_t column{};
  };

  /// Refills the buffer when it is used up; false at the end of the input.
  bool fill() {
    if (pos_ < end_) return true;
    if (at_end_) return false;
    pos_ = 0;
    end_ = static_cast<std::size_t>(
        in_->sgetn(buffer_.get(), static_cast<std::streamsize>(buffer_size)));
    at_end_ = end_ == 0;
    if (at_end_ && !utf8_.complete())
      fail("expected the rest of a UTF-8 sequence before the end of the input");
    return !at_end_;
  }

  /// The next byte (0..255) without taking it, or -1 at the end of the input.
  int peek() { return fill() ? static_cast<unsigned char>(buffer_[pos_]) : -1; }

  /// Takes the next byte (peek() must have returned one), checking it on the way.
  char take() {
    const auto b = static_cast<unsigned char>(buffer_[pos_]);
    if (record_bytes_ >= options_.max_record_bytes) {
      fail("the record starting on line " + std::to_string(record_line_) + " is longer than " +
           std::to_string(options_.max_record_bytes) +
           " bytes (CsvOptions::max_record_bytes); an unclosed quote can cause this");
    }
    if (b == 0) fail("expected text, got a NUL byte (is this a binary file?)");
    if (const char* problem = utf8_.take(b)) {
      fail(std::string("expected valid UTF-8, got ") + problem + " (byte " + detail::hex_byte(b) +
           ")");
    }
    ++pos_;
    ++record_bytes_;
    if (b == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    return static_cast<char>(b);
  }

  /// Takes a line end (LF or CRLF; a CR just before the end of the input is accepted too).
  void end_line() {
    if (take() == '\r') {
      const int c = peek();
      if (c >= 0 && c != '\n') fail("expected LF after CR (a lone CR is not a line end)");
      if (c == '\n') take();
    }
  }

  /// Reads an unquoted field; true when it ends the record.
  bool read_unquoted(std::string& field) {
    for (;;) {
      const int c = peek();
      if (c < 0) return true;
      if (c == '\n' || c == '\r') {
        end_line();
        return true;
      }
      if (c == options_.delimiter) {
        take();
        return false;
      }
      if (c == '"')
        fail(
            "expected no quote inside an unquoted field (quote the whole field and double its "
            "quotes)");
      field.push_back(take());
    }
  }

  /// Reads a quoted field (peek() is its opening quote); true when it ends the record.
  bool read_quoted(std::string& field) {
    const Position open{line_, column_};
    take();
    for (;;) {
      const int c = peek();
      if (c < 0) {
        throw_error(
            {source_, open.line, open.column, {}},
            "expected a closing quote for the quote opened here before the end of the input");
      }
      if (c != '"') {
        field.push_back(take());
        continue;
      }
      take();
      const int after = peek();
      if (after == '"') {
        field.push_back(take());
      } else if (after < 0) {
        return true;
      } else if (after == '\n' || after == '\r') {
        end_line();
        return true;
      } else if (after == options_.delimiter) {
        take();
        return false;
      } else {
        fail("expected a delimiter or a line end after a closing quote, got " +
             detail::quoted_for_message(std::string(1, static_cast<char>(after))));
      }
    }
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw_error({source_, line_, column_, {}}, what);
  }

  std::streambuf* in_;
  std::string source_;
  CsvOptions options_;
  static constexpr std::size_t buffer_size = std::size_t{1} << 16;
  std::unique_ptr<char[]> buffer_;  // not zeroed: sgetn writes what is read
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  bool at_end_ = false;
  std::size_t line_ = 1;
  std::size_t column_ = 1;
  std::size_t record_line_ = 0;
  std::size_t record_bytes_ = 0;
  std::size_t records_ = 0;
  std::vector<Position> starts_;
  detail::Utf8Validator utf8_;
};

namespace detail {

/// What is wrong with a row: a reason to count it under, and the message to throw.
struct RowProblem {
  std::string reason{};
  FieldLocation where{};
  std::string message{};
};

/// Finds which field of `header`, normalised by `key` (e.g. header_key), is one of `names`;
/// throws when several are.
template <class Key>
inline std::optional<std::size_t> find_column_by(const std::vector<std::string>& header,
                                                 std::span<const std::string_view> names, Key&& key,
                                                 const CsvReader& csv) {
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < header.size(); ++i) {
    const std::string k = key(header[i]);
    for (const std::string_view name : names) {
      if (k != name) continue;
      if (found) {
        throw_error(csv.location(i), "expected a single '" + std::string(names.front()) +
                                         "' column, but field " + std::to_string(*found + 1) +
                                         " is one too");
      }
      found = i;
    }
  }
  return found;
}

/// Finds which field of `header` has one of `names` (case and surrounding spaces ignored);
/// throws when several do.
inline std::optional<std::size_t> find_column(const std::vector<std::string>& header,
                                              std::initializer_list<std::string_view> names,
                                              const CsvReader& csv) {
  return find_column_by(header, std::span<const std::string_view>(names.begin(), names.size()),
                        [](std::string_view name) { return header_key(name); }, csv);
}

}  // namespace detail

}  // namespace marl_rec::io
