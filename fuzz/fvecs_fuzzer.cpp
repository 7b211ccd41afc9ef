// libFuzzer target: read_fvecs over arbitrary bytes. Only marl_rec::Error is an acceptable
// failure. A result must account for every byte (rows × (4 + 4 · cols) == size), hold the file's
// float bits, and write back to exactly the input bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "marl_rec/io/fvecs.hpp"

namespace io = marl_rec::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  io::FvecsArray a;
  try {
    a = io::read_fvecs(bytes, "fuzz.fvecs");
  } catch (const marl_rec::Error&) {
    return 0;
  }
  MARL_REC_FUZZ_CHECK(a.rows >= 1 && a.cols >= 1);
  MARL_REC_FUZZ_CHECK(a.values.size() == a.rows * a.cols);
  MARL_REC_FUZZ_CHECK(a.rows * (4 + 4 * a.cols) == size);
  for (std::size_t r = 0; r < a.rows; ++r) {
    MARL_REC_FUZZ_CHECK(std::memcmp(a.values.data() + r * a.cols, data + r * (4 + 4 * a.cols) + 4,
                                    4 * a.cols) == 0);
  }
  const std::vector<std::byte> again = io::fvecs_bytes(a.view());
  MARL_REC_FUZZ_CHECK(again.size() == size && std::memcmp(again.data(), data, size) == 0);
  return 0;
}
