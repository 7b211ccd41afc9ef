#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <vector>

#include "marl_rec/io/crc32c.hpp"
#include "marl_rec/io/matrix_fingerprint.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace mr = marl_rec;

TEST_CASE("matrix_crc32c: the CRC-32C of the values row by row, whatever the stride") {
  const std::vector<float> dense{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  const std::vector<float> padded{1.0f, 2.0f, 3.0f, -9.0f, 4.0f, 5.0f, 6.0f, 7.0f};
  const mr::MatrixView a(dense, 2, 3);
  const mr::MatrixView b(padded, 2, 3, 4);
  if constexpr (std::endian::native == std::endian::little) {  // the bytes in memory are the stored ones
    CHECK(mr::io::matrix_crc32c(a) == mr::io::crc32c(dense.data(), dense.size() * sizeof(float)));
  }
  CHECK(mr::io::matrix_crc32c(b) == mr::io::matrix_crc32c(a));
  std::vector<float> changed = dense;
  changed[4] = 5.5f;
  CHECK(mr::io::matrix_crc32c(mr::MatrixView(changed, 2, 3)) != mr::io::matrix_crc32c(a));
  CHECK(mr::io::matrix_crc32c(mr::MatrixView{}) == 0u);  // CRC-32C of no bytes
}
