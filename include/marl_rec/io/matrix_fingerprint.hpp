// marl_rec — a fingerprint of a matrix's values (CRC-32C), by which a saved object that referred
// to a caller's matrix (an Agent's pending decisions refer to the item matrix) recognises it
// again when it is loaded, without saving the matrix itself.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "marl_rec/io/crc32c.hpp"
#include "marl_rec/io/detail/little_endian.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec::io {

/// CRC-32C of `m`'s values, row by row, each float as its 4 little-endian bytes (the same on
/// every host; the padding between strided rows is not read). Two matrices of one shape with
/// the same values, whatever their strides, have the same fingerprint.
inline std::uint32_t matrix_crc32c(MatrixView m) noexcept {
  Crc32c crc;
  if (m.empty()) return crc.value();
  for (std::size_t i = 0; i < m.rows(); ++i) {
    const auto row = m.row(i);
    if constexpr (std::endian::native == std::endian::little) {
      crc.add(row.data(), row.size() * sizeof(float));
    } else {
      for (const float v : row) {
        std::byte bytes[4];
        detail::store_le<std::uint32_t>(bytes, std::bit_cast<std::uint32_t>(v));
        crc.add(bytes, 4);
      }
    }
  }
  return crc.value();
}

}  // namespace marl_rec::io
