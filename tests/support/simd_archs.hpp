// Test helper: run a check once per xsimd architecture this translation unit can execute, so one
// -march=native build tests the sse2, fma3<avx2> and avx512bw code paths of a kernel.
#pragma once

#include <string>
#include <type_traits>

#include "marl_rec/simd/xsimd_compat.hpp"

namespace marl_rec::test {

/// Calls f(Arch{}, name) for sse2, avx, fma3<avx2> and avx512bw when this unit's flags enable
/// them, and for xsimd::default_arch when it is none of those (e.g. on ARM). avx (without AVX2)
/// is where kernels with x86 intrinsics for sse2 / avx2 / avx512 fall back to portable code.
template <class F>
void for_each_arch(F&& f) {
  using Default = marl_rec::simd::compat::default_arch;
  bool default_done = false;
#if XSIMD_WITH_SSE2
  f(xsimd::sse2{}, std::string("sse2"));
  default_done = default_done || std::is_same_v<Default, xsimd::sse2>;
#endif
#if XSIMD_WITH_AVX
  f(xsimd::avx{}, std::string("avx"));
  default_done = default_done || std::is_same_v<Default, xsimd::avx>;
#endif
#if XSIMD_WITH_FMA3_AVX2
  f(xsimd::fma3<xsimd::avx2>{}, std::string("fma3<avx2>"));
  default_done = default_done || std::is_same_v<Default, xsimd::fma3<xsimd::avx2>>;
#endif
#if XSIMD_WITH_AVX512BW
  f(xsimd::avx512bw{}, std::string("avx512bw"));
  default_done = default_done || std::is_same_v<Default, xsimd::avx512bw>;
#endif
  if (!default_done) f(Default{}, std::string("default_arch"));
}

}  // namespace marl_rec::test
