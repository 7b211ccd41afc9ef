// marl_rec — the one place that knows which xsimd version it is built against.
//
// Debian 12 ships xsimd 8.1; Conan and vcpkg ship 9+ (where `hadd` became `reduce_add`).
// Every version-sensitive call goes through here so that the kernels are written once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#if !defined(XSIMD_VERSION_MAJOR) || XSIMD_VERSION_MAJOR < 8
#error "marl_rec needs xsimd 8.1 or newer"
#endif

namespace marl_rec::simd::compat {

/// Horizontal sum of the lanes of a batch.
template <class T, class Arch>
inline T reduce_add(const xsimd::batch<T, Arch>& b) noexcept {
#if XSIMD_VERSION_MAJOR >= 9
  return xsimd::reduce_add(b);
#else
  return xsimd::hadd(b);
#endif
}

/// Transposed horizontal sum: lane i of the result is the sum of the lanes of rows[i], for
/// rows[0 .. batch::size). Lane i depends on rows[i] alone.
template <class T, class Arch>
inline xsimd::batch<T, Arch> transpose_reduce_add(const xsimd::batch<T, Arch>* rows) noexcept {
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_same_v<T, float> && std::is_base_of_v<xsimd::avx512f, Arch>) {
    // xsimd's own AVX-512 haddp goes through intrinsics that GCC 12 implements with a
    // self-initialised "undefined" register, which its -Wuninitialized reports wherever it is
    // inlined (GCC bug 105593, fixed in GCC 13). This tree uses two-source permutes only:
    // each level halves the vectors and the partial sums per row, keeping row i in lane i.
    const auto level = [](const __m512* in, __m512* out, std::size_t n_out, const __m512i lo,
                          const __m512i hi) noexcept {
      for (std::size_t j = 0; j < n_out; ++j) {
        out[j] = _mm512_add_ps(_mm512_permutex2var_ps(in[2 * j], lo, in[2 * j + 1]),
                               _mm512_permutex2var_ps(in[2 * j], hi, in[2 * j + 1]));
      }
    };
    __m512 a[16];
    __m512 b[8];
    for (std::size_t i = 0; i < 16; ++i) a[i] = rows[i];
    // Index 0..15 picks from the first source, 16..31 from the second.
    level(a, b, 8, _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
          _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
    level(b, a, 4, _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27),
          _mm512_setr_epi32(4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31));
    level(a, b, 2, _mm512_setr_epi32(0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29),
          _mm512_setr_epi32(2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31));
    level(b, a, 1, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
          _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
    return xsimd::batch<T, Arch>(a[0]);
  } else
#endif
  {
    return xsimd::haddp(rows);
  }
}

/// Lanes 2j and 2j + 1 of `b` swapped, for every j.
template <class Arch>
inline xsimd::batch<float, Arch> swap_adjacent_lanes(const xsimd::batch<float, Arch>& b) noexcept {
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    // A two-source permute: xsimd's 64-bit shifts and the one-source permutes reach GCC 12's
    // self-initialised "undefined" register (GCC bug 105593, see transpose_reduce_add).
    const __m512i swap = _mm512_setr_epi32(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    return xsimd::batch<float, Arch>(_mm512_permutex2var_ps(b, swap, b));
  } else
#endif
  {
    using Bits = xsimd::batch<std::uint64_t, Arch>;
    const Bits bits = xsimd::bitwise_cast<Bits>(b);
    return xsimd::bitwise_cast<xsimd::batch<float, Arch>>((bits << 32) | (bits >> 32));
  }
}

/// The architecture the consumer's compiler flags enable (sse2 with no flags on x86-64).
using default_arch = xsimd::default_arch;

}  // namespace marl_rec::simd::compat
