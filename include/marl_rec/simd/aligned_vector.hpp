// marl_rec — a std::vector whose storage starts on a 64-byte boundary (a cache line, and the
// widest SIMD register), used for item matrices and other kernel inputs.
#pragma once

#include <cstddef>
#include <vector>

#include "marl_rec/simd/xsimd_compat.hpp"

namespace marl_rec {

/// Alignment of every matrix marl_rec allocates, in bytes.
inline constexpr std::size_t matrix_alignment = 64;

/// A vector of T whose data() is aligned to `matrix_alignment` bytes.
template <class T>
using AlignedVector = std::vector<T, xsimd::aligned_allocator<T, matrix_alignment>>;

}  // namespace marl_rec
