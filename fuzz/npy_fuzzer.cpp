// libFuzzer target: read_npy over arbitrary bytes, then PrecomputedEmbedder over what it read.
// Only marl_rec::Error is an acceptable failure. A result must match the bytes exactly (the data
// fills the file after the header; float32 values are the file's bits, float16 values their
// conversion), survive a write/read round trip, and — when the embedder accepts it — give rows of
// unit length.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/embed/precomputed_embedder.hpp"
#include "marl_rec/io/detail/little_endian.hpp"
#include "marl_rec/io/npy.hpp"

namespace io = marl_rec::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  io::NpyArray a;
  try {
    a = io::read_npy(bytes, "fuzz.npy");
  } catch (const marl_rec::Error&) {
    return 0;
  }
  const io::NpyHeader& h = a.header;
  MARL_REC_FUZZ_CHECK(h.version >= 1 && h.version <= 3);
  MARL_REC_FUZZ_CHECK(!h.one_dimensional || h.rows == 1);
  MARL_REC_FUZZ_CHECK(a.values.size() == h.rows * h.cols);
  MARL_REC_FUZZ_CHECK(h.data_offset + h.data_bytes() == size);
  const std::byte* first = bytes.data() + h.data_offset;
  if (h.dtype == io::NpyDtype::float32) {
    MARL_REC_FUZZ_CHECK(a.values.empty() ||
                        std::memcmp(a.values.data(), first, a.values.size() * sizeof(float)) == 0);
  } else {
    for (std::size_t i = 0; i < a.values.size(); ++i) {
      const float want = io::float16_to_float32(io::detail::load_le<std::uint16_t>(first + 2 * i));
      MARL_REC_FUZZ_CHECK(std::memcmp(&want, &a.values[i], sizeof(float)) == 0);
    }
  }
  // Written back as float32 and read again: the same values, bit for bit.
  const std::vector<std::byte> again = io::npy_bytes(a.view(), h.one_dimensional);
  const io::NpyArray b = io::read_npy(again, "again.npy");
  MARL_REC_FUZZ_CHECK(b.header.rows == h.rows && b.header.cols == h.cols);
  MARL_REC_FUZZ_CHECK(b.header.data_offset % 64 == 0);
  MARL_REC_FUZZ_CHECK(a.values.empty() || std::memcmp(a.values.data(), b.values.data(),
                                                      a.values.size() * sizeof(float)) == 0);

  // The embedder: either an Error (no rows, NaN, a zero row, ...) or unit rows.
  std::vector<std::string> ids;
  for (std::size_t r = 0; r < h.rows && r < 4096; ++r)
    ids.push_back(marl_rec::numbered_id("id", r));
  if (ids.size() != h.rows) return 0;
  try {
    const marl_rec::PrecomputedEmbedder e(ids, a.view());
    for (std::size_t r = 0; r < e.size(); ++r) {
      double n2 = 0.0;
      for (const float v : e.matrix().row(r)) {
        MARL_REC_FUZZ_CHECK(std::isfinite(v));
        n2 += static_cast<double>(v) * static_cast<double>(v);
      }
      MARL_REC_FUZZ_CHECK(std::fabs(n2 - 1.0) <= 2e-5);
      MARL_REC_FUZZ_CHECK(e.find(ids[r]) == r);
    }
  } catch (const marl_rec::Error&) {
  }
  return 0;
}
