// marl_rec — reads and writes .fvecs files (the vector format of the ANN benchmarks, FAISS and
// many embedding exporters): per vector, its dimension as a little-endian int32, then that many
// little-endian float32 values.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/io/detail/little_endian.hpp"
#include "marl_rec/io/mapped_file.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec::io {

/// The vectors of an .fvecs file as a matrix.
struct FvecsArray {
  /// rows · cols values, row-major, 64-byte aligned.
  AlignedVector<float> values{};
  std::size_t rows{};
  std::size_t cols{};

  /// The values as a rows × cols matrix.
  MatrixView view() const { return MatrixView(values, rows, cols); }
};

/// Reads an .fvecs file from its bytes (`source` names it in messages). Every vector must have
/// the same dimension, at least 1; the file must hold whole vectors and nothing else. Every row
/// header is checked before anything is allocated, so a forged dimension costs nothing. The
/// values are not checked: NaN and infinities are read as they are. Throws Error
/// "<source>: vector N: what was wrong" (N is 1-based) or "<source>: the file is empty".
inline FvecsArray read_fvecs(std::span<const std::byte> file, std::string_view source) {
  const auto fail = [&](const std::string& what) {
    throw Error(std::string(source) + ": " + what);
  };
  if (file.empty()) fail("no vectors (the file is empty)");
  if (file.size() < 4) {
    fail(std::string("vector 1: truncated: expected a 4-byte dimension, ") +
         std::to_string(file.size()) + " bytes left");
  }
  const auto dim = static_cast<std::int32_t>(detail::load_le<std::uint32_t>(file.data()));
  if (dim <= 0) {
    fail(std::string("vector 1: dimension ") + std::to_string(dim) +
         " (expected a positive dimension; is this an .fvecs file?)");
  }
  const std::size_t cols = static_cast<std::size_t>(dim);
  const std::size_t row_bytes = 4 + 4 * cols;
  std::size_t rows = 0;
  const auto vector = [&] { return std::string("vector ") + std::to_string(rows); };
  for (std::size_t at = 0; at < file.size(); at += row_bytes) {
    ++rows;
    const std::size_t left = file.size() - at;
    if (left < 4) {
      fail(vector() + ": truncated: expected a 4-byte dimension, " + std::to_string(left) +
           " bytes left");
    }
    const auto d = static_cast<std::int32_t>(detail::load_le<std::uint32_t>(file.data() + at));
    if (d != dim) {
      fail(vector() + ": dimension " + std::to_string(d) + ", but vector 1 has " +
           std::to_string(dim) + " (every vector of an .fvecs file has the same dimension)");
    }
    if (left - 4 < 4 * cols) {
      fail(vector() + ": truncated: expected " + std::to_string(cols) + " values (" +
           std::to_string(4 * cols) + " bytes), " + std::to_string(left - 4) + " bytes left");
    }
  }
  FvecsArray array;
  array.rows = rows;
  array.cols = cols;
  array.values.reserve(rows * cols);
  for (std::size_t r = 0; r < rows; ++r) {
    detail::append_le_floats(file.data() + r * row_bytes + 4, cols, array.values);
  }
  return array;
}

/// Reads the .fvecs file at `path` (memory-mapped, then copied). Throws Error naming the path.
inline FvecsArray read_fvecs(const std::string& path) {
  const MappedFile file(path, MapAccess::whole_file);
  return read_fvecs(file.bytes(), path);
}

/// The bytes of an .fvecs file holding the rows of `m` (which needs at least one column).
inline std::vector<std::byte> fvecs_bytes(MatrixView m) {
  marl_rec::detail::require(m.cols() >= 1 && m.cols() <= 0x7FFFFFFF, [&] {
    return std::string("fvecs_bytes: an .fvecs vector has 1 to 2^31-1 values, got ") +
           std::to_string(m.cols());
  });
  std::vector<std::byte> out(m.rows() * (4 + 4 * m.cols()));
  std::byte* p = out.data();
  for (std::size_t r = 0; r < m.rows(); ++r) {
    detail::store_le(p, static_cast<std::uint32_t>(m.cols()));
    p += 4;
    for (const float v : m.row(r)) {
      detail::store_le(p, std::bit_cast<std::uint32_t>(v));
      p += 4;
    }
  }
  return out;
}

/// Writes `m` to `path` as an .fvecs file (see fvecs_bytes). Throws Error naming the path when it
/// cannot be written.
inline void write_fvecs(const std::string& path, MatrixView m) {
  const std::vector<std::byte> bytes = fvecs_bytes(m);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  marl_rec::detail::require(out.is_open(), [&] { return path + ": cannot open for writing"; });
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  marl_rec::detail::require(!out.fail(), [&] { return path + ": write failed (disk full?)"; });
}

}  // namespace marl_rec::io
