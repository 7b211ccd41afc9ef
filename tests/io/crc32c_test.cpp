#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/crc32c.hpp"

namespace mr = marl_rec;

TEST_CASE("CRC-32C: the published check values (RFC 3720, B.4)") {
  CHECK(mr::io::crc32c("123456789", 9) == 0xE3069283u);
  CHECK(mr::io::crc32c_reference("123456789", 9) == 0xE3069283u);
  const std::vector<unsigned char> zeros(32, 0x00), ones(32, 0xFF);
  CHECK(mr::io::crc32c(zeros.data(), 32) == 0x8A9136AAu);
  CHECK(mr::io::crc32c(ones.data(), 32) == 0x62A8AB43u);
  std::vector<unsigned char> up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[static_cast<std::size_t>(i)] = static_cast<unsigned char>(i);
    down[static_cast<std::size_t>(i)] = static_cast<unsigned char>(31 - i);
  }
  CHECK(mr::io::crc32c(up.data(), 32) == 0x46DD794Eu);
  CHECK(mr::io::crc32c(down.data(), 32) == 0x113FDB5Cu);
  CHECK(mr::io::crc32c(nullptr, 0) == 0u);
}

TEST_CASE("CRC-32C: slice-by-8 equals the bitwise reference on every size, offset and split") {
  mr::Rng rng(32);
  std::vector<unsigned char> data(1100);
  for (auto& b : data) b = static_cast<unsigned char>(rng.below(256));
  for (std::size_t offset = 0; offset < 9; ++offset) {        // unaligned starts
    for (std::size_t n = 0; n + offset <= 1090; n += (n < 40 ? 1 : 37)) {  // 0, 1, tails, long
      const unsigned char* p = data.data() + offset;
      const std::uint32_t expected = mr::io::crc32c_reference(p, n);
      CHECK(mr::io::crc32c(p, n) == expected);
      // In two pieces, split anywhere: the same checksum.
      const std::size_t cut = n == 0 ? 0 : static_cast<std::size_t>(rng.below(n + 1));
      mr::io::Crc32c running;
      running.add(p, cut);
      running.add(p + cut, n - cut);
      CHECK(running.value() == expected);
    }
  }
}
