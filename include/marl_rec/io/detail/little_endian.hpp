// marl_rec — little-endian loads and stores for the binary readers (.npy, .fvecs), correct on
// hosts of either byte order and at any alignment.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "marl_rec/simd/aligned_vector.hpp"

namespace marl_rec::io::detail {

// The byte-swapping paths below assume one of the two common byte orders.
static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "marl_rec reads little-endian files on little- or big-endian hosts only");

/// A little-endian unsigned integer of type T at p (any alignment).
template <class T>
inline T load_le(const std::byte* p) noexcept {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value = static_cast<T>(value | (static_cast<T>(std::to_integer<unsigned>(p[i])) << (8 * i)));
  }
  return value;
}

/// Writes `value` as a little-endian unsigned integer of type T to p.
template <class T>
inline void store_le(std::byte* p, T value) noexcept {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    p[i] = static_cast<std::byte>((value >> (8 * i)) & 0xFFu);
  }
}

/// Copies `count` little-endian float32 values from `from` (any alignment) to `to`.
inline void copy_le_floats(const std::byte* from, std::size_t count, float* to) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    if (count > 0) std::memcpy(to, from, count * sizeof(float));
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      to[i] = std::bit_cast<float>(load_le<std::uint32_t>(from + 4 * i));
    }
  }
}

/// `count` little-endian float32 values at `from` appended to `out`, in one pass (no zero-fill
/// of a 256 MB buffer before the copy) when they can be read in place.
inline void append_le_floats(const std::byte* from, std::size_t count, AlignedVector<float>& out) {
  if constexpr (std::endian::native == std::endian::little) {
    if (reinterpret_cast<std::uintptr_t>(from) % alignof(float) == 0) {
      const auto* first = reinterpret_cast<const float*>(from);
      out.insert(out.end(), first, first + count);
      return;
    }
  }
  const std::size_t old_size = out.size();
  out.resize(old_size + count);
  copy_le_floats(from, count, out.data() + old_size);
}

}  // namespace marl_rec::io::detail
