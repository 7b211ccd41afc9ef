// marl_rec — reads and writes NumPy .npy files of float32 (or float16) vectors: the format in
// which embeddings exported from an LLM or an embedding model usually arrive (`np.save`).
#pragma once

#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/io/csv.hpp"
#include "marl_rec/io/detail/little_endian.hpp"
#include "marl_rec/io/mapped_file.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec::io {

/// The element types read_npy accepts (little-endian only).
enum class NpyDtype {
  float32,  // '<f4'
  float16,  // '<f2', converted to float32 on reading
};

/// What the header of a .npy file says, checked against the file's size.
struct NpyHeader {
  /// The format version: 1, 2 or 3 (the minor version is always 0).
  int version{1};
  NpyDtype dtype{NpyDtype::float32};
  /// The shape as a matrix: (rows, cols) for a 2-D array, (1, n) for a 1-D array of n values.
  std::size_t rows{};
  std::size_t cols{};
  /// True when the array is 1-D (a single vector).
  bool one_dimensional{false};
  /// Where the data starts, in bytes from the start of the file. np.save pads the header so that
  /// this is a multiple of 64 (of 16 before NumPy 1.14).
  std::size_t data_offset{};

  /// Bytes per value: 4 or 2.
  std::size_t item_size() const noexcept { return dtype == NpyDtype::float32 ? 4 : 2; }
  /// Bytes of data: rows · cols · item_size (checked not to overflow when the header was parsed).
  std::size_t data_bytes() const noexcept { return rows * cols * item_size(); }
};

/// A float32 matrix read from a .npy file.
struct NpyArray {
  NpyHeader header{};
  /// rows · cols values, row-major, 64-byte aligned.
  AlignedVector<float> values{};

  /// The values as a rows × cols matrix.
  MatrixView view() const { return MatrixView(values, header.rows, header.cols); }
};

/// The IEEE 754 binary16 value with bits `h`, as a float (exactly: every binary16 value is a
/// float). Subnormals become normal floats, infinities stay infinities, and a NaN stays a NaN with
/// its sign and payload.
inline float float16_to_float32(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  const std::uint32_t mantissa = h & 0x3FFu;
  std::uint32_t bits = 0;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // infinity (mantissa 0) or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  } else {
    // Zero or subnormal: mantissa · 2^-24, exact in float (a power-of-two scaling of an integer
    // below 2^10, far above float's smallest normal).
    bits = sign | std::bit_cast<std::uint32_t>(static_cast<float>(mantissa) * 0x1p-24f);
  }
  return std::bit_cast<float>(bits);
}

namespace detail {

/// Throws Error("<source>: <what>").
[[noreturn]] inline void throw_npy_error(std::string_view source, const std::string& what) {
  throw Error(std::string(source) + ": " + what);
}

/// A parser of the Python dict literal in a .npy header. Only what np.save writes is accepted:
/// string keys, and values that are strings, True/False, or tuples of non-negative integers.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  /// Parses the dict and returns the header's fields (rows/cols/dtype); throws Error otherwise.
  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false;
    bool seen_order = false;
    bool seen_shape = false;
    std::vector<std::uint64_t> shape;
    skip_spaces();
    expect('{');
    skip_spaces();
    while (!at('}')) {
      const std::string_view key = string_literal();
      skip_spaces();
      expect(':');
      skip_spaces();
      if (key == "descr") {
        once(seen_descr, key);
        header.dtype = dtype(string_literal_or_fail("descr"));
      } else if (key == "fortran_order") {
        once(seen_order, key);
        if (boolean()) {
          fail(
              "the array is in Fortran order (fortran_order: True); save a C-order array "
              "(np.save(path, np.ascontiguousarray(a)))");
        }
      } else if (key == "shape") {
        once(seen_shape, key);
        shape = tuple();
      } else {
        fail("unexpected key " + quoted_for_message(key) +
             " (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
      }
      skip_spaces();
      if (at(',')) {
        ++pos_;
        skip_spaces();
      } else if (!at('}')) {
        fail("expected ',' or '}' after the value of " + quoted_for_message(key));
      }
    }
    ++pos_;
    for (; pos_ < text_.size(); ++pos_) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') fail("unexpected text after the dict");
    }
    if (!seen_descr || !seen_order || !seen_shape) {
      fail(std::string("the header has no '") +
           (!seen_descr   ? "descr"
            : !seen_order ? "fortran_order"
                          : "shape") +
           "' key");
    }
    if (shape.size() == 2) {
      header.rows = static_cast<std::size_t>(shape[0]);
      header.cols = static_cast<std::size_t>(shape[1]);
    } else if (shape.size() == 1) {
      header.rows = 1;
      header.cols = static_cast<std::size_t>(shape[0]);
      header.one_dimensional = true;
    } else {
      fail(std::string("expected a 2-D shape (rows, dim) or a 1-D shape (dim,), got a ") +
           std::to_string(shape.size()) + "-D shape");
    }
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(std::string(source_) + ": .npy header: " + what);
  }

  /// "at byte N of the header", or "at the end of the header".
  std::string position() const {
    if (pos_ >= text_.size()) return "at the end of the header";
    return std::string("at byte ") + std::to_string(pos_) + " of the header";
  }

  bool at(char c) const noexcept { return pos_ < text_.size() && text_[pos_] == c; }

  void expect(char c) {
    if (!at(c)) {
      fail(std::string("expected '") + c + "' " + position());
    }
    ++pos_;
  }

  void skip_spaces() noexcept {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  void once(bool& seen, std::string_view key) {
    if (seen) fail("the key " + quoted_for_message(key) + " appears twice");
    seen = true;
  }

  /// A '...' or "..." literal without escapes.
  std::string_view string_literal() {
    if (!at('\'') && !at('"')) {
      fail("expected a quoted key " + position());
    }
    const char quote = text_[pos_++];
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') fail("unexpected escape in a string of the header");
      ++pos_;
    }
    if (pos_ == text_.size()) fail("a string in the header is not closed");
    return text_.substr(start, pos_++ - start);
  }

  std::string_view string_literal_or_fail(std::string_view key) {
    if (!at('\'') && !at('"')) {
      fail("expected a string as the value of '" + std::string(key) +
           "' (structured dtypes are not supported)");
    }
    return string_literal();
  }

  bool boolean() {
    for (const std::string_view word : {std::string_view("True"), std::string_view("False")}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return word == "True";
      }
    }
    fail("expected True or False as the value of 'fortran_order'");
  }

  /// A tuple of non-negative integers: "()", "(3,)", "(3, 4)", "(3L, 4L)" (Python 2).
  std::vector<std::uint64_t> tuple() {
    std::vector<std::uint64_t> values;
    if (!at('(')) fail("expected a tuple as the value of 'shape'");
    ++pos_;
    skip_spaces();
    while (!at(')')) {
      std::uint64_t v = 0;
      const char* first = text_.data() + pos_;
      const char* last = text_.data() + text_.size();
      const auto [end, ec] = std::from_chars(first, last, v);
      if (ec == std::errc::result_out_of_range) fail("a dimension of 'shape' does not fit 64 bits");
      if (ec != std::errc() || end == first) fail("expected a non-negative integer in 'shape'");
      pos_ += static_cast<std::size_t>(end - first);
      if (at('L')) ++pos_;
      values.push_back(v);
      if (values.size() > 32) fail("'shape' has more than 32 dimensions");
      skip_spaces();
      if (at(',')) {
        ++pos_;
        skip_spaces();
      } else if (!at(')')) {
        fail("expected ',' or ')' in 'shape'");
      }
    }
    ++pos_;
    return values;
  }

  NpyDtype dtype(std::string_view descr) const {
    if (descr == "<f4") return NpyDtype::float32;
    if (descr == "<f2") return NpyDtype::float16;
    if (descr == ">f4" || descr == ">f2") {
      fail("big-endian data (" + quoted_for_message(descr) +
           ") is not supported: save little-endian data (a.astype('<f4'))");
    }
    fail("dtype " + quoted_for_message(descr) +
         " is not supported: expected '<f4' (float32) or '<f2' (float16); convert with "
         "a.astype(np.float32)");
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t pos_ = 0;
};

}  // namespace detail

/// Parses and checks the header of the .npy file whose bytes are `file` (the whole file):
/// - the magic "\x93NUMPY" and a version of 1.0, 2.0 or 3.0;
/// - a header length that fits the file (and at most 1 MiB: np.save writes a few hundred bytes);
/// - a header dict with exactly the keys 'descr' ('<f4' or '<f2'; big-endian '>f4' is refused
///   with its own message), 'fortran_order' (False only) and 'shape' (2-D, or 1-D for a single
///   vector);
/// - data of exactly rows · cols · item_size bytes after the header: a truncated file or trailing
///   bytes are errors, so a forged shape is caught before anything is allocated.
/// Throws Error "<source>: what was wrong".
inline NpyHeader parse_npy_header(std::span<const std::byte> file, std::string_view source) {
  const auto fail = [&](const std::string& what) { detail::throw_npy_error(source, what); };
  constexpr unsigned char magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (file.empty()) fail("not a .npy file: the file is empty");
  if (file.size() < 10 || std::memcmp(file.data(), magic, sizeof magic) != 0) {
    fail("not a .npy file: it does not start with \"\\x93NUMPY\"");
  }
  const int major = std::to_integer<int>(file[6]);
  const int minor = std::to_integer<int>(file[7]);
  if ((major < 1 || major > 3) || minor != 0) {
    fail(std::string("unsupported .npy version ") + std::to_string(major) + "." +
         std::to_string(minor) + " (expected 1.0, 2.0 or 3.0)");
  }
  // Version 1.0 stores the header length in 2 bytes, 2.0 and 3.0 (UTF-8 header) in 4.
  const std::size_t prefix = major == 1 ? 10 : 12;
  if (file.size() < prefix) fail("truncated .npy header");
  const std::uint64_t header_length = major == 1 ? detail::load_le<std::uint16_t>(file.data() + 8)
                                                 : detail::load_le<std::uint32_t>(file.data() + 8);
  constexpr std::uint64_t max_header_length = std::uint64_t{1} << 20;
  if (header_length > max_header_length) {
    fail(std::string("the .npy header claims ") + std::to_string(header_length) +
         " bytes (more than 1 MiB): not a .npy file, or a corrupted one");
  }
  if (header_length > file.size() - prefix) {
    fail(std::string("truncated .npy header: it claims ") + std::to_string(header_length) +
         " bytes, the file has " + std::to_string(file.size() - prefix) + " after the magic");
  }
  const std::string_view text(reinterpret_cast<const char*>(file.data() + prefix),
                              static_cast<std::size_t>(header_length));
  NpyHeader header = detail::NpyHeaderParser(text, source).parse();
  header.version = major;
  header.data_offset = prefix + static_cast<std::size_t>(header_length);

  const auto shape = [&] {
    return header.one_dimensional ? std::string("(") + std::to_string(header.cols) + ",)"
                                  : std::string("(") + std::to_string(header.rows) + ", " +
                                        std::to_string(header.cols) + ")";
  };
  constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
  const std::size_t item = header.item_size();
  if (header.cols != 0 && header.rows > max / header.cols / item) {
    fail("the shape " + shape() + " is too large (the data size overflows)");
  }
  // Rows without values take no bytes, so the file's size cannot bound their count: a forged
  // (2^62, 0) would pass every size check, and whatever walks the rows would never finish (the
  // fuzzer found it). Only a single empty row, as in (0,) or (1, 0), is an array worth reading.
  if (header.cols == 0 && header.rows > 1) {
    fail("the shape " + shape() + " has rows but no values (at most one empty row is accepted)");
  }
  const std::size_t needed = header.data_bytes();
  const std::size_t available = file.size() - header.data_offset;
  if (available < needed) {
    fail("truncated data: the shape " + shape() + " needs " + std::to_string(needed) +
         " bytes, the file has " + std::to_string(available) + " after the header");
  }
  if (available > needed) {
    fail(std::to_string(available - needed) + " trailing bytes after the data (the shape " +
         shape() + " needs " + std::to_string(needed) + " bytes)");
  }
  return header;
}

/// Reads a .npy file from its bytes (`source` names it in messages): checks it with
/// parse_npy_header, then copies the values (float16 converted to float32). The values are not
/// checked: NaN and infinities are read as they are.
inline NpyArray read_npy(std::span<const std::byte> file, std::string_view source) {
  NpyArray array;
  array.header = parse_npy_header(file, source);
  const std::size_t count = array.header.rows * array.header.cols;
  const std::byte* data = file.data() + array.header.data_offset;
  if (array.header.dtype == NpyDtype::float32) {
    detail::append_le_floats(data, count, array.values);
  } else {
    array.values.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      array.values[i] = float16_to_float32(detail::load_le<std::uint16_t>(data + 2 * i));
    }
  }
  return array;
}

/// Reads the .npy file at `path` (memory-mapped, then copied). Throws Error naming the path.
inline NpyArray read_npy(const std::string& path) {
  const MappedFile file(path, MapAccess::whole_file);
  return read_npy(file.bytes(), path);
}

namespace detail {

/// The magic, version, length and dict of a version 1.0 float32 .npy header, padded with spaces
/// and a newline so that the data starts at a multiple of 64 bytes (as np.save does).
inline std::vector<std::byte> npy_header(std::size_t rows, std::size_t cols, bool one_dimensional) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  dict += one_dimensional ? std::to_string(cols) + ",), }"
                          : std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  const std::size_t total = (10 + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - 10 - dict.size() - 1, ' ');
  dict += '\n';
  std::vector<std::byte> out(total);
  constexpr unsigned char magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  std::memcpy(out.data(), magic, sizeof magic);
  store_le(out.data() + 8, static_cast<std::uint16_t>(dict.size()));  // < 200 bytes
  std::memcpy(out.data() + 10, dict.data(), dict.size());
  return out;
}

/// Row r of m as little-endian float32 bytes appended to out.
inline void append_le_row(std::span<const float> row, std::vector<std::byte>& out) {
  const std::size_t at = out.size();
  out.resize(at + row.size() * sizeof(float));
  for (std::size_t i = 0; i < row.size(); ++i) {
    store_le(out.data() + at + i * sizeof(float), std::bit_cast<std::uint32_t>(row[i]));
  }
}

inline void check_one_dimensional(const char* function, MatrixView m, bool one_dimensional) {
  marl_rec::detail::require(!one_dimensional || m.rows() == 1, [&] {
    return std::string(function) + ": a 1-D array needs exactly one row, got " +
           std::to_string(m.rows());
  });
}

}  // namespace detail

/// The bytes of a version 1.0 .npy file holding `m` as float32 ('<f4', C order), its header padded
/// so that the data starts 64 bytes in (as np.save does). `one_dimensional` writes the shape
/// (cols,) and needs a single row.
inline std::vector<std::byte> npy_bytes(MatrixView m, bool one_dimensional = false) {
  detail::check_one_dimensional("npy_bytes", m, one_dimensional);
  std::vector<std::byte> out = detail::npy_header(m.rows(), m.cols(), one_dimensional);
  out.reserve(out.size() + m.rows() * m.cols() * sizeof(float));
  for (std::size_t r = 0; r < m.rows(); ++r) detail::append_le_row(m.row(r), out);
  return out;
}

/// Writes `m` to `path` as a float32 .npy file (see npy_bytes), readable by np.load; a row at a
/// time, so a large table is not copied in memory first. Throws Error naming the path when it
/// cannot be written.
inline void write_npy(const std::string& path, MatrixView m, bool one_dimensional = false) {
  detail::check_one_dimensional("write_npy", m, one_dimensional);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  marl_rec::detail::require(out.is_open(), [&] { return path + ": cannot open for writing"; });
  const auto write = [&](const std::vector<std::byte>& bytes) {
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  };
  write(detail::npy_header(m.rows(), m.cols(), one_dimensional));
  std::vector<std::byte> row;
  for (std::size_t r = 0; r < m.rows() && out; ++r) {
    row.clear();
    detail::append_le_row(m.row(r), row);
    write(row);
  }
  out.close();
  marl_rec::detail::require(!out.fail(), [&] { return path + ": write failed (disk full?)"; });
}

}  // namespace marl_rec::io
