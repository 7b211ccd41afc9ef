// marl_rec — CRC-32C (Castagnoli, the iSCSI / ext4 / SSE4.2 polynomial), the checksum of the
// model file format: slice-by-8 tables built at compile time, with a bitwise reference beside it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace marl_rec::io {

namespace detail {
inline constexpr std::uint32_t crc32c_polynomial = 0x82F63B78u;  // reflected 0x1EDC6F41

struct Crc32cTables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
};

constexpr Crc32cTables make_crc32c_tables() {
  Crc32cTables tables;
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ crc32c_polynomial : c >> 1;
    tables.t[0][i] = c;
  }
  for (std::size_t s = 1; s < 8; ++s) {
    for (std::size_t i = 0; i < 256; ++i) {
      const std::uint32_t prev = tables.t[s - 1][i];
      tables.t[s][i] = (prev >> 8) ^ tables.t[0][prev & 0xFFu];
    }
  }
  return tables;
}

inline constexpr Crc32cTables crc32c_tables = make_crc32c_tables();
}  // namespace detail

/// Running CRC-32C: `add` bytes in any pieces, `value()` is the checksum of all of them (the
/// same as one call over the concatenation). Reads 8 bytes per step (slice-by-8), byte order
/// independent of the host.
class Crc32c {
 public:
  void add(const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    const auto& t = detail::crc32c_tables.t;
    std::uint32_t c = state_;
    for (; n >= 8; n -= 8, p += 8) {
      const std::uint32_t lo = c ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 |
                                    std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24);
      c = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
          t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    for (; n > 0; --n, ++p) c = (c >> 8) ^ t[0][(c ^ *p) & 0xFFu];
    state_ = c;
  }
  std::uint32_t value() const noexcept { return ~state_; }

 private:
  std::uint32_t state_ = 0xFFFFFFFFu;
};

/// CRC-32C of `n` bytes.
inline std::uint32_t crc32c(const void* data, std::size_t n) noexcept {
  Crc32c c;
  c.add(data, n);
  return c.value();
}

/// The same checksum a bit at a time: the plain reference the table version is tested against.
inline std::uint32_t crc32c_reference(const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ detail::crc32c_polynomial : c >> 1;
  }
  return ~c;
}

}  // namespace marl_rec::io
