// marl_rec — item matrices stored in fewer bytes (bf16, int8 with a scale per row), their fused
// score + top-k kernels, and exact float32 top-k through them.
//
// A scan that reads every item is bounded by memory bandwidth (simd::score_top_k on float32 runs
// at that ceiling), so storing 2 bytes (bf16) or 1 byte (int8) per value is what makes it faster.
// The query stays float32; stored values are widened to float in registers and multiplied with
// FMAs, rows are scored in blocks of `width` with one transposed reduction (as the float32 block
// scorer does), and no score array is written.
//
// Two kinds of call:
//  - score_top_k(query, quantised, k, out): the top-k by the approximate (quantised) scores;
//  - score_top_k(query, quantised, exact, k, out): exactly score_top_k(query, exact, k, out), bit
//    for bit and in the same order. It scans the quantised matrix for a few more candidates than k,
//    re-scores them with the float32 kernel's arithmetic, and returns when a rigorous error bound
//    proves that no other item can enter (simd::detail::certified_top_k); otherwise it retries with
//    more candidates once, then falls back to the float32 scan of `exact`.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/detail/argument_checks.hpp"
#include "marl_rec/simd/detail/certified_rescore.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"

#if XSIMD_WITH_SSE2 || XSIMD_WITH_AVX2 || XSIMD_WITH_AVX512F
#include <immintrin.h>
#endif

namespace marl_rec {

namespace detail {

/// Stored rows hold a multiple of this many values (zero-padded): one AVX-512 batch of codes, so
/// every kernel reads whole batches and no row needs a scalar tail.
inline constexpr std::size_t quantized_row_multiple = 16;

/// cols rounded up to quantized_row_multiple; throws when rows × that overflows size_t.
inline std::size_t quantized_stride(const char* where, std::size_t rows, std::size_t cols) {
  constexpr std::size_t m = quantized_row_multiple;
  require(cols <= std::numeric_limits<std::size_t>::max() - m, [&] {
    return std::string(where) + ": " + std::to_string(cols) + " columns overflow size_t";
  });
  const std::size_t stride = (cols + m - 1) / m * m;
  require(stride == 0 || rows <= std::numeric_limits<std::size_t>::max() / stride, [&] {
    return std::string(where) + ": " + std::to_string(rows) + " x " + std::to_string(cols) +
           " overflows size_t";
  });
  return stride;
}

/// "row R column C is X" for an error message (X with 9 significant digits: 3.4e+38, nan, inf).
inline std::string describe_entry(std::size_t row, std::size_t col, float x) {
  char value[32];
  std::snprintf(value, sizeof(value), "%.9g", static_cast<double>(x));
  return "row " + std::to_string(row) + " column " + std::to_string(col) + " is " + value;
}

/// Throws unless x is finite, naming the matrix entry.
inline void check_finite_entry(const char* where, std::size_t row, std::size_t col, float x) {
  require(std::isfinite(x), [&] {
    return std::string(where) + ": " + describe_entry(row, col, x) + ", not a finite value";
  });
}

/// The float nearest above the double v (v ≥ 0, v ≤ FLT_MAX), so that bounds stay bounds.
inline float float_at_least(double v) noexcept {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) < v) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

}  // namespace detail

/// An item matrix stored as bfloat16: each value is the float rounded to nearest-even to its 8
/// significant bits (the upper half of its float32 bits), 2 bytes per value, rows padded with
/// zeros to a multiple of 16 values and 64-byte aligned storage. Keeps per row the float32 L2
/// norm of the source row (for the error bound of the exact search). Immutable once built.
class Bf16Matrix {
 public:
  /// The stored code of one value.
  using code_type = std::uint16_t;

  /// An empty 0 × 0 matrix.
  Bf16Matrix() = default;

  /// Rounds every value of `source` to bf16. Throws marl_rec::Error naming the row and column of
  /// the first value that is not finite or whose rounding overflows bf16 (|x| ≥ 3.3961e38).
  static Bf16Matrix quantize(MatrixView source) {
    constexpr const char* where = "Bf16Matrix::quantize";
    Bf16Matrix m;
    m.rows_ = source.rows();
    m.cols_ = source.cols();
    m.stride_ = detail::quantized_stride(where, m.rows_, m.cols_);
    m.codes_.assign(m.rows_ * m.stride_, 0);
    m.norms_.resize(m.rows_);
    for (std::size_t r = 0; r < m.rows_; ++r) {
      const std::span<const float> row = source.row(r);
      code_type* codes = m.codes_.data() + r * m.stride_;
      double norm2 = 0.0;
      double stored2 = 0.0;
      for (std::size_t c = 0; c < m.cols_; ++c) {
        detail::check_finite_entry(where, r, c, row[c]);
        codes[c] = encode(row[c]);
        detail::require(std::isfinite(decode(codes[c])), [&] {
          return std::string(where) + ": " + detail::describe_entry(r, c, row[c]) +
                 ", which overflows bf16 (it rounds to infinity)";
        });
        norm2 += static_cast<double>(row[c]) * static_cast<double>(row[c]);
        stored2 += static_cast<double>(decode(codes[c])) * static_cast<double>(decode(codes[c]));
      }
      const double norm = std::sqrt(norm2);
      m.norms_[r] = detail::float_at_least(norm);
      m.max_norm_ = std::max(m.max_norm_, norm);
      m.max_norm_sum_ = std::max(m.max_norm_sum_, norm + std::sqrt(stored2));
    }
    return m;
  }

  /// The bf16 code of x: round to nearest, ties to even (x finite; may round up to infinity).
  static code_type encode(float x) noexcept {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
    return static_cast<code_type>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
  }
  /// The float a bf16 code stands for (exact).
  static float decode(code_type code) noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(code) << 16);
  }

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  /// Codes from one row to the next (cols() rounded up to a multiple of 16).
  std::size_t stride() const noexcept { return stride_; }
  /// Bytes of storage: the codes (padding included) and the per-row norms.
  std::size_t bytes() const noexcept {
    return codes_.size() * sizeof(code_type) + norms_.size() * sizeof(float);
  }
  /// All codes, row-major with stride(); padding codes are 0.
  const code_type* data() const noexcept { return codes_.data(); }
  /// The codes of row i (unchecked: i < rows()).
  std::span<const code_type> row(std::size_t i) const noexcept {
    return {codes_.data() + i * stride_, cols_};
  }
  /// The stored value of (row, col), as a float (unchecked).
  float value(std::size_t row, std::size_t col) const noexcept {
    return decode(codes_[row * stride_ + col]);
  }
  /// The L2 norm of each source row (float32, rounded up).
  std::span<const float> norms() const noexcept { return norms_; }
  /// The largest L2 norm of a source row.
  double max_norm() const noexcept { return max_norm_; }
  /// The largest ‖x_i‖ + ‖x̃_i‖ over rows (source row and stored row): the error bound's factor.
  double max_norm_sum() const noexcept { return max_norm_sum_; }

 private:
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::size_t stride_ = 0;
  AlignedVector<code_type> codes_;
  std::vector<float> norms_;
  double max_norm_ = 0.0;
  double max_norm_sum_ = 0.0;
};

/// An item matrix stored as int8 with one float scale per row (symmetric quantisation):
/// s_i = max_j |x_ij| / 127 (rounded up to a float, so that no value needs clamping) and codes
/// round(x_ij / s_i) in [-127, 127]; the stored value is s_i × code, within s_i / 2 of the source.
/// 1 byte per value plus the scale and the float32 L2 norm of each source row; rows padded with
/// zeros to a multiple of 16 codes, 64-byte aligned storage. Immutable once built.
class Int8Matrix {
 public:
  /// The stored code of one value.
  using code_type = std::int8_t;

  /// An empty 0 × 0 matrix.
  Int8Matrix() = default;

  /// Quantises every row of `source`. Throws marl_rec::Error naming the row and column of the
  /// first value that is not finite. A row of zeros gets scale 0.
  static Int8Matrix quantize(MatrixView source) {
    constexpr const char* where = "Int8Matrix::quantize";
    Int8Matrix m;
    m.rows_ = source.rows();
    m.cols_ = source.cols();
    m.stride_ = detail::quantized_stride(where, m.rows_, m.cols_);
    m.codes_.assign(m.rows_ * m.stride_, 0);
    // Padded to whole batches of zeros so the kernels load the scales of a partial block whole.
    constexpr std::size_t pad = detail::quantized_row_multiple;
    m.scales_.assign((m.rows_ + pad - 1) / pad * pad, 0.0f);
    m.norms_.resize(m.rows_);
    for (std::size_t r = 0; r < m.rows_; ++r) {
      const std::span<const float> row = source.row(r);
      float max_abs = 0.0f;
      for (std::size_t c = 0; c < m.cols_; ++c) {
        detail::check_finite_entry(where, r, c, row[c]);
        max_abs = std::max(max_abs, std::fabs(row[c]));
      }
      // Rounded up (also out of the subnormal range, where /127 may round to 0): |x / s| ≤ 127.
      const float scale = max_abs == 0.0f ? 0.0f : detail::float_at_least(max_abs / 127.0);
      m.scales_[r] = scale;
      code_type* codes = m.codes_.data() + r * m.stride_;
      double norm2 = 0.0;
      double stored2 = 0.0;
      for (std::size_t c = 0; c < m.cols_; ++c) {
        const double x = row[c];
        const double code =
            scale == 0.0f ? 0.0 : std::clamp(std::nearbyint(x / scale), -127.0, 127.0);
        codes[c] = static_cast<code_type>(code);
        norm2 += x * x;
        stored2 += (code * scale) * (code * scale);
      }
      const double norm = std::sqrt(norm2);
      m.norms_[r] = detail::float_at_least(norm);
      m.max_norm_ = std::max(m.max_norm_, norm);
      m.max_norm_sum_ = std::max(m.max_norm_sum_, norm + std::sqrt(stored2));
      m.max_scale_ = std::max(m.max_scale_, static_cast<double>(scale));
    }
    return m;
  }

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  /// Codes from one row to the next (cols() rounded up to a multiple of 16).
  std::size_t stride() const noexcept { return stride_; }
  /// Bytes of storage: the codes (padding included), the scales and the per-row norms.
  std::size_t bytes() const noexcept {
    return codes_.size() * sizeof(code_type) + (scales_.size() + norms_.size()) * sizeof(float);
  }
  /// All codes, row-major with stride(); padding codes are 0.
  const code_type* data() const noexcept { return codes_.data(); }
  /// The codes of row i (unchecked: i < rows()).
  std::span<const code_type> row(std::size_t i) const noexcept {
    return {codes_.data() + i * stride_, cols_};
  }
  /// The scale of each row. The storage behind it is 64-byte aligned and zero-padded to a
  /// multiple of 16 entries (the kernels load whole batches of scales).
  std::span<const float> scales() const noexcept { return {scales_.data(), rows_}; }
  /// The stored value of (row, col) = scale × code, as a float (unchecked).
  float value(std::size_t row, std::size_t col) const noexcept {
    return scales_[row] * static_cast<float>(codes_[row * stride_ + col]);
  }
  /// The L2 norm of each source row (float32, rounded up).
  std::span<const float> norms() const noexcept { return norms_; }
  /// The largest L2 norm of a source row.
  double max_norm() const noexcept { return max_norm_; }
  /// The largest ‖x_i‖ + ‖x̃_i‖ over rows (source row and stored row): the error bound's factor.
  double max_norm_sum() const noexcept { return max_norm_sum_; }
  /// The largest row scale.
  double max_scale() const noexcept { return max_scale_; }

 private:
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::size_t stride_ = 0;
  AlignedVector<code_type> codes_;
  AlignedVector<float> scales_;
  std::vector<float> norms_;
  double max_norm_ = 0.0;
  double max_norm_sum_ = 0.0;
  double max_scale_ = 0.0;
};

/// Bf16Matrix or Int8Matrix.
template <class M>
concept QuantizedMatrix = std::is_same_v<M, Bf16Matrix> || std::is_same_v<M, Int8Matrix>;

}  // namespace marl_rec

// GCC 12 reports -Warray-bounds on the register-resident scorer variants for dims a call cannot
// have (the same false positives as in kernels.hpp; the variants are guarded by the dim).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif

namespace marl_rec::simd {

namespace kernels {

/// `width` stored values from p, widened to floats: the batch width of Arch. Raw intrinsics on
/// AVX-512, AVX2 and SSE2 (xsimd 8.1 has no widening loads); elsewhere (e.g. NEON, or AVX
/// without AVX2) a scalar widening through the stack, which any architecture xsimd supports can
/// run (tested through xsimd::avx).
template <class Arch>
inline xsimd::batch<float, Arch> widen(const std::uint16_t* p) noexcept {
  using Batch = xsimd::batch<float, Arch>;
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    // bf16 bits are the upper half of the float's: zero-extend to 32 bits, shift left 16. The
    // maskz forms with a full mask are the same instructions; the plain ones trip GCC 12's
    // -Wmaybe-uninitialized (bug 105593, see xsimd_compat.hpp).
    constexpr __mmask16 all = 0xFFFF;
    const __m256i codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return Batch(_mm512_castsi512_ps(
        _mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, codes), 16)));
  } else
#endif
#if XSIMD_WITH_AVX2
  if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
    const __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return Batch(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(codes), 16)));
  } else
#endif
#if XSIMD_WITH_SSE2
  if constexpr (std::is_base_of_v<xsimd::sse2, Arch>) {
    // Interleaving zeros below each code puts it in the upper half of a 32-bit lane.
    const __m128i codes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return Batch(_mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), codes)));
  } else
#endif
  {
    alignas(64) float v[Batch::size];
    for (std::size_t j = 0; j < Batch::size; ++j) v[j] = Bf16Matrix::decode(p[j]);
    return Batch::load_aligned(v);
  }
}

/// `width` int8 codes from p, widened to floats (see the bf16 overload).
template <class Arch>
inline xsimd::batch<float, Arch> widen(const std::int8_t* p) noexcept {
  using Batch = xsimd::batch<float, Arch>;
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    constexpr __mmask16 all = 0xFFFF;  // maskz forms: see the bf16 overload
    const __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return Batch(_mm512_maskz_cvtepi32_ps(all, _mm512_maskz_cvtepi8_epi32(all, codes)));
  } else
#endif
#if XSIMD_WITH_AVX2
  if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
    const __m128i codes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return Batch(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(codes)));
  } else
#endif
#if XSIMD_WITH_SSE2
  if constexpr (std::is_base_of_v<xsimd::sse2, Arch>) {
    // SSE2 has no sign extension: copy each byte to the top of its 32-bit lane, shift back.
    std::int32_t four;
    std::memcpy(&four, p, sizeof(four));
    __m128i v = _mm_cvtsi32_si128(four);
    v = _mm_unpacklo_epi8(v, v);
    v = _mm_unpacklo_epi16(v, v);
    return Batch(_mm_cvtepi32_ps(_mm_srai_epi32(v, 24)));
  } else
#endif
  {
    alignas(64) float v[Batch::size];
    for (std::size_t j = 0; j < Batch::size; ++j) v[j] = static_cast<float>(p[j]);
    return Batch::load_aligned(v);
  }
}

/// 2 × `width` bf16 codes from p, widened to floats without a shuffle: loaded as `width` 32-bit
/// lanes, lane i holds code 2i in its low half and code 2i + 1 in its high half, so a shift
/// gives the even codes as floats and a mask the odd ones: two ALU operations per 2 × width
/// codes instead of four (two widening shuffles, two shifts), which the bf16 scan needed to keep
/// up with memory. The query is de-interleaved to match, once per query.
template <class Arch>
inline void widen_pair(const std::uint16_t* p, xsimd::batch<float, Arch>& even,
                       xsimd::batch<float, Arch>& odd) noexcept {
  using Batch = xsimd::batch<float, Arch>;
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    constexpr __mmask16 all = 0xFFFF;  // maskz form: see widen()
    const __m512i v = _mm512_loadu_si512(p);
    even = Batch(_mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, v, 16)));
    odd = Batch(_mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(-65536))));
  } else
#endif
#if XSIMD_WITH_AVX2
  if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    even = Batch(_mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    odd = Batch(_mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(-65536))));
  } else
#endif
#if XSIMD_WITH_SSE2
  if constexpr (std::is_base_of_v<xsimd::sse2, Arch>) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    even = Batch(_mm_castsi128_ps(_mm_slli_epi32(v, 16)));
    odd = Batch(_mm_castsi128_ps(_mm_and_si128(v, _mm_set1_epi32(-65536))));
  } else
#endif
  {
    using Bits = xsimd::batch<std::uint32_t, Arch>;
    alignas(64) std::uint32_t lanes[Batch::size];
    std::memcpy(lanes, p, sizeof(lanes));  // codes as 32-bit lanes, without type punning
    const Bits v = Bits::load_aligned(lanes);
    even = xsimd::bitwise_cast<Batch>(v << 16);
    odd = xsimd::bitwise_cast<Batch>(v & Bits(0xFFFF0000u));
  }
}

/// a × b + c, fused where the architecture has FMA (xsimd 8.1's fma on avx512f is a*b+c).
template <class Arch>
inline xsimd::batch<float, Arch> multiply_add(const xsimd::batch<float, Arch>& a,
                                              const xsimd::batch<float, Arch>& b,
                                              const xsimd::batch<float, Arch>& c) noexcept {
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    return xsimd::batch<float, Arch>(_mm512_fmadd_ps(a, b, c));
  } else
#endif
  {
    return xsimd::fma(a, b, c);
  }
}

/// Scores blocks of `width` consecutive rows of quantised codes (Code = uint16_t for bf16, int8_t
/// for int8) against a float32 query, like RowBlockScorer: lane g of the result is row g's
/// Σ_j query_j × widened code_j, one accumulator per row, one transposed reduction per block.
/// Rows are zero-padded to whole batches, so there is no scalar tail: the query's last partial
/// batch is a zero-padded copy. For 1, 2, 4 or 8 batches (`Chunks`) the query stays in registers
/// (bf16 then reads codes in pairs of batches, widen_pair, against a de-interleaved query); other
/// dims (`Chunks` = 0) loop over batches.
template <class Arch, class Code, std::size_t Chunks>
class QuantizedRowBlockScorer {
 public:
  using Batch = xsimd::batch<float, Arch>;
  static constexpr std::size_t width = Batch::size;
  // Every batch of codes a row's dim needs lies inside its zero-padded stride.
  static_assert(marl_rec::detail::quantized_row_multiple % width == 0);

  QuantizedRowBlockScorer(const float* query, std::size_t dim) noexcept
      : query_(query), full_chunks_(dim / width), chunks_((dim + width - 1) / width) {
    std::fill(tail_, tail_ + width, 0.0f);
    std::copy(query + full_chunks_ * width, query + dim, tail_);
    if constexpr (paired) {
      // q_[2p] holds the even and q_[2p + 1] the odd query values of the codes 2p·width onwards.
      alignas(64) float pair[2 * width];
      alignas(64) float even[width];
      alignas(64) float odd[width];
      for (std::size_t p = 0; p < Chunks / 2; ++p) {
        query_chunk(2 * p).store_aligned(pair);
        query_chunk(2 * p + 1).store_aligned(pair + width);
        for (std::size_t i = 0; i < width; ++i) {
          even[i] = pair[2 * i];
          odd[i] = pair[2 * i + 1];
        }
        q_[2 * p] = Batch::load_aligned(even);
        q_[2 * p + 1] = Batch::load_aligned(odd);
      }
    } else {
      for (std::size_t c = 0; c < Chunks; ++c) q_[c] = query_chunk(c);
    }
  }

  /// Scores the `width` rows starting at `first`, `stride` codes apart.
  Batch full(const Code* first, std::size_t stride) const noexcept {
    Batch acc[width];
    for (std::size_t g = 0; g < width; ++g) acc[g] = row(first + g * stride);
    return compat::transpose_reduce_add(acc);
  }

  /// Scores `count` < width rows; the other lanes are 0.
  Batch partial(const Code* first, std::size_t stride, std::size_t count) const noexcept {
    Batch acc[width];
    for (std::size_t g = 0; g < width; ++g) acc[g] = g < count ? row(first + g * stride) : Batch(0.0f);
    return compat::transpose_reduce_add(acc);
  }

 private:
  static constexpr bool paired =
      std::is_same_v<Code, std::uint16_t> && Chunks >= 2 && Chunks % 2 == 0;

  Batch query_chunk(std::size_t c) const noexcept {
    return c < full_chunks_ ? Batch::load_unaligned(query_ + c * width) : Batch::load_aligned(tail_);
  }

  Batch row(const Code* r) const noexcept {
    if constexpr (paired) {
      Batch even;
      Batch odd;
      widen_pair<Arch>(r, even, odd);
      Batch a = even * q_[0];
      a = multiply_add(odd, q_[1], a);
      for (std::size_t p = 1; p < Chunks / 2; ++p) {
        widen_pair<Arch>(r + 2 * p * width, even, odd);
        a = multiply_add(even, q_[2 * p], a);
        a = multiply_add(odd, q_[2 * p + 1], a);
      }
      return a;
    } else if constexpr (Chunks > 0) {
      Batch a = widen<Arch>(r) * q_[0];
      for (std::size_t c = 1; c < Chunks; ++c) a = multiply_add(widen<Arch>(r + c * width), q_[c], a);
      return a;
    } else {
      Batch a(0.0f);
      std::size_t c = 0;
      for (; c < full_chunks_; ++c) {
        a = multiply_add(widen<Arch>(r + c * width), Batch::load_unaligned(query_ + c * width), a);
      }
      if (c < chunks_) a = multiply_add(widen<Arch>(r + c * width), Batch::load_aligned(tail_), a);
      return a;
    }
  }

  const float* query_;
  std::size_t full_chunks_;
  std::size_t chunks_;
  alignas(64) float tail_[width];
  Batch q_[Chunks == 0 ? 1 : Chunks];
};

/// Calls f(scorer) with the QuantizedRowBlockScorer suited to `dim`.
template <class Arch, class Code, class F>
inline decltype(auto) with_quantized_scorer(const float* query, std::size_t dim, F&& f) {
  constexpr std::size_t width = xsimd::batch<float, Arch>::size;
  switch ((dim + width - 1) / width) {
    case 1: return f(QuantizedRowBlockScorer<Arch, Code, 1>(query, dim));
    case 2: return f(QuantizedRowBlockScorer<Arch, Code, 2>(query, dim));
    case 4: return f(QuantizedRowBlockScorer<Arch, Code, 4>(query, dim));
    case 8: return f(QuantizedRowBlockScorer<Arch, Code, 8>(query, dim));
    default: return f(QuantizedRowBlockScorer<Arch, Code, 0>(query, dim));
  }
}

/// The approximate score of a block: the scorer's sums, times the rows' scales for int8.
template <class Batch>
inline Batch finish_block(const Batch& sums, const Bf16Matrix&, std::size_t) noexcept {
  return sums;
}
template <class Batch>
inline Batch finish_block(const Batch& sums, const Int8Matrix& items, std::size_t first) noexcept {
  // `first` is a multiple of the width and the scales are zero-padded to whole batches.
  return sums * Batch::load_aligned(items.scales().data() + first);
}

/// How far ahead the scan prefetches, in bytes. Measured at 10^6 rows with the cache flushed:
/// prefetching only the next block left the int8 scan at d = 64 about 1.5x slower than 4-16 KiB
/// ahead (the hardware prefetcher alone does not keep enough lines in flight while the core
/// widens and multiplies); 4, 8 and 16 KiB measured alike, 32 KiB slowed bf16 down.
inline constexpr std::size_t quantized_prefetch_bytes = 8192;

/// Asks for the cache lines of `bytes` bytes from p (no effect where the compiler has no
/// prefetch builtin).
inline void prefetch_lines(const void* p, std::size_t bytes) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  const char* c = static_cast<const char*>(p);
  for (std::size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(c + offset, 0, 3);
#else
  (void)p;
  (void)bytes;
#endif
}

/// Offers every row of a quantised matrix to `top`, one block of `width` rows after another (a
/// single sequential stream, as for float32), prefetching the block quantized_prefetch_bytes
/// ahead.
template <class Scorer, class Matrix, class Top, class Exclude>
inline void scan_quantized_rows(const Scorer& scorer, const Matrix& items, Top& top,
                                const Exclude& exclude)
    noexcept(std::is_nothrow_invocable_v<const Exclude&, std::size_t>) {
  constexpr std::size_t width = Scorer::width;
  const std::size_t stride = items.stride();
  const std::size_t rows = items.rows();
  const std::size_t block_bytes = width * stride * sizeof(typename Matrix::code_type);
  // Blocks ahead, rounded up; the prefetched block is always inside the matrix.
  const std::size_t ahead =
      block_bytes == 0 ? 0 : (quantized_prefetch_bytes + block_bytes - 1) / block_bytes * width;
  std::size_t r = 0;
  for (; r + width <= rows; r += width) {
    if (r + ahead + width <= rows) prefetch_lines(items.data() + (r + ahead) * stride, block_bytes);
    offer_block(finish_block(scorer.full(items.data() + r * stride, stride), items, r), r, width,
                top, exclude);
  }
  if (r < rows) {
    offer_block(finish_block(scorer.partial(items.data() + r * stride, stride, rows - r), items, r),
                r, rows - r, top, exclude);
  }
}

/// The min(k, eligible) best rows of a quantised matrix by approximate score, best first, written
/// to out[0, min(k, rows)); returns how many. `query` has items.cols() floats.
struct QuantizedScoreTopK {
  template <class Arch, QuantizedMatrix Matrix, class Exclude>
  std::size_t operator()(Arch, const float* query, const Matrix& items, std::size_t k,
                         const Exclude& exclude, ScoredItem* out) const
      noexcept(std::is_nothrow_invocable_v<const Exclude&, std::size_t>);
};

template <class Arch, QuantizedMatrix Matrix, class Exclude>
std::size_t QuantizedScoreTopK::operator()(Arch, const float* query, const Matrix& items,
                                           std::size_t k, const Exclude& exclude,
                                           ScoredItem* out) const
    noexcept(std::is_nothrow_invocable_v<const Exclude&, std::size_t>) {
  const std::size_t capacity = std::min(k, items.rows());
  if (capacity == 0) return 0;
  marl_rec::detail::TopKBuffer<Arch> top(out, capacity);
  with_quantized_scorer<Arch, typename Matrix::code_type>(
      query, items.cols(), [&](const auto& scorer) { scan_quantized_rows(scorer, items, top, exclude); });
  return top.finish();
}

}  // namespace kernels

namespace detail {

/// An upper bound on |approximate score − canonical float32 score| of every row of `items`, for a
/// query of L1 norm q1 and L2 norm q2 (finite, and q2 × items.max_norm() ≤ 1e30 so that no sum
/// overflows).
///
/// Derivation. For a row x (source) with stored values x̃ and the query q, let c be the float32
/// kernel's score and a the quantised kernel's. Then
///   |a − c| ≤ |a − q·x̃| + |q·(x̃ − x)| + |q·x − c|.
/// Float accumulation (both kernels): each product passes through at most m = stride + 6 roundings
/// (its multiply, one add per batch of its lane, ≤ 4 levels of transposed reduction, and for the
/// float32 kernel's scalar tail ≤ width − 1 adds; stride ≥ dim), so for any summation order
/// |fl(Σ p_j) − Σ p_j| ≤ γ_m Σ |p_j| with γ_m = m u / (1 − m u), u = 2⁻²⁴ (Higham, Accuracy and
/// Stability, §3.1), plus 2⁻¹⁵⁰ per multiply that underflows (subnormal sums are exact).
/// Cauchy–Schwarz: Σ |q_j x_j| ≤ ‖q‖₂ ‖x‖₂. So |q·x − c| + |a − q·x̃| ≤ γ_m ‖q‖₂ (‖x‖ + ‖x̃‖) + η.
/// Int8 multiplies the sum by the scale once more: one more rounding, ≤ u (1 + γ_m) ‖q‖₂ ‖x̃‖.
/// Quantisation: bf16 keeps 8 significant bits, |x_j − x̃_j| ≤ 2⁻⁸ |x_j| + 2⁻¹³⁴ (half the spacing
/// of bf16 subnormals), so |q·(x̃ − x)| ≤ 2⁻⁸ ‖q‖₂ ‖x‖₂ + 2⁻¹³⁴ ‖q‖₁. Int8: s is rounded up so
/// |x_j / s| ≤ 127 (no clamping) and the code is the nearest integer to a double quotient
/// (relative error 2⁻⁵³), so |x_j − s c_j| ≤ s (1/2 + 2⁻⁴⁰) and |q·(x̃ − x)| ≤ s (1/2 + 2⁻⁴⁰) ‖q‖₁.
/// Over all rows: the largest s, ‖x‖ and ‖x‖ + ‖x̃‖ (kept by the matrix). m is doubled as a
/// margin for the compiler's freedom (contracting or not), the sum is taken in double and grown
/// by 2⁻²⁰ relative, which covers the double roundings many times over.
template <QuantizedMatrix Matrix>
inline double score_error_bound(const Matrix& items, double q1, double q2) noexcept {
  constexpr double u = 0x1p-24;
  const double m = 2.0 * (static_cast<double>(items.stride()) + 8.0);
  const double gamma = m * u / (1.0 - m * u);
  const double underflow = 2.0 * m * 0x1p-149;
  double accumulation = gamma * q2 * items.max_norm_sum() + underflow;
  double quantisation = 0.0;
  if constexpr (std::is_same_v<Matrix, Bf16Matrix>) {
    quantisation = 0x1p-8 * q2 * items.max_norm() + 0x1p-134 * q1;
  } else {
    quantisation = items.max_scale() * (0.5 + 0x1p-40) * q1;
    accumulation += u * (1.0 + gamma) * q2 * items.max_norm_sum() + 0x1p-149;
  }
  return (quantisation + accumulation) * (1.0 + 0x1p-20);
}

/// True when the exact search may use the quantised scan for this query: finite, and small enough
/// (‖q‖₂ max‖x‖ ≤ 1e30, and for int8 127 ‖q‖₁ ≤ 1e30) that no float sum overflows.
template <QuantizedMatrix Matrix>
inline bool quantized_search_applies(const Matrix& items, double q1, double q2) noexcept {
  constexpr double limit = 1e30;
  if (!std::isfinite(q1) || !std::isfinite(q2)) return false;
  if (q2 * items.max_norm() > limit) return false;
  if constexpr (std::is_same_v<Matrix, Int8Matrix>) {
    if (127.0 * q1 > limit) return false;
  }
  return true;
}

/// How an exact search through a quantised matrix went.
struct QuantizedSearchReport {
  /// Items written to `out`.
  std::size_t count = 0;
  /// Scans of the quantised matrix (0 when the float32 kernel was used from the start).
  std::size_t quantized_scans = 0;
  /// True when the answer came from a certified re-scoring, false when from the float32 kernel.
  bool certified = false;
};

/// The candidate pools the exact search tries: 2k + 64 best by approximate score, then 4× that.
inline constexpr std::size_t exact_search_attempts = 2;
inline constexpr std::size_t exact_search_growth = 4;
inline std::size_t first_candidate_pool(std::size_t k) noexcept {
  return k > (std::numeric_limits<std::size_t>::max() - 64) / 2 ? std::numeric_limits<std::size_t>::max()
                                                                 : 2 * k + 64;
}

/// score_top_k(query, exact, k, out, exclude) on Arch, through the quantised `items` when that
/// can be certified (unchecked arguments; see simd::score_top_k for quantised matrices).
template <class Arch, QuantizedMatrix Matrix, class Exclude>
QuantizedSearchReport exact_top_k_via_quantized(std::span<const float> query, const Matrix& items,
                                                MatrixView exact, std::size_t k,
                                                std::span<ScoredItem> out, const Exclude& exclude) {
  QuantizedSearchReport report;
  double q1 = 0.0;
  double q2 = 0.0;
  for (const float v : query) {
    q1 += std::fabs(static_cast<double>(v));
    q2 += static_cast<double>(v) * static_cast<double>(v);
  }
  q2 = std::sqrt(q2);
  if (k > 0 && quantized_search_applies(items, q1, q2)) {
    const double bound = score_error_bound(items, q1, q2);
    std::vector<ScoredItem> candidates;
    std::size_t pool = first_candidate_pool(k);
    for (std::size_t attempt = 0; attempt < exact_search_attempts; ++attempt) {
      // A pool holding every row re-scores every row: the float32 scan does that cheaper.
      if (pool >= items.rows()) break;
      candidates.resize(pool);
      const std::size_t found =
          kernels::QuantizedScoreTopK{}(Arch{}, query.data(), items, pool, exclude, candidates.data());
      ++report.quantized_scans;
      const bool complete = found < pool;  // every eligible item was kept
      const double outside_bound =
          complete ? 0.0 : static_cast<double>(candidates[found - 1].score) + bound;
      // By index: consecutive candidates in one block of rows share one block scoring.
      std::sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(found),
                [](const ScoredItem& a, const ScoredItem& b) { return a.index < b.index; });
      const std::optional<std::size_t> count = certified_top_k<Arch>(
          query.data(), exact, std::span<const ScoredItem>(candidates.data(), found), complete,
          outside_bound, k, out.data());
      if (count) {
        report.count = *count;
        report.certified = true;
        return report;
      }
      pool = pool > std::numeric_limits<std::size_t>::max() / exact_search_growth
                 ? std::numeric_limits<std::size_t>::max()
                 : pool * exact_search_growth;
    }
  }
  report.count = kernels::ScoreTopK{}(Arch{}, query.data(), exact, k, exclude, out.data());
  return report;
}

/// The argument checks shared by the kernels and their scalar twins.
template <QuantizedMatrix Matrix>
inline void check_quantized_top_k(std::span<const float> query, const Matrix& items, std::size_t k,
                                  std::span<const ScoredItem> out) {
  marl_rec::detail::check_sizes_equal("simd::score_top_k", "query", query.size(), "item rows",
                                      items.cols());
  marl_rec::detail::check_at_least("simd::score_top_k", "out", out.size(),
                                   std::min(k, items.rows()));
}

template <QuantizedMatrix Matrix>
inline void check_quantized_top_k(std::span<const float> query, const Matrix& items,
                                  MatrixView exact, std::size_t k,
                                  std::span<const ScoredItem> out) {
  marl_rec::detail::require(exact.rows() == items.rows() && exact.cols() == items.cols(), [&] {
    return "simd::score_top_k: the exact matrix is " + std::to_string(exact.rows()) + " x " +
           std::to_string(exact.cols()) + " but the quantised one is " +
           std::to_string(items.rows()) + " x " + std::to_string(items.cols());
  });
  check_quantized_top_k(query, items, k, out);
}

}  // namespace detail

/// Fused score + top-k over a quantised matrix: the min(k, eligible) best items by APPROXIMATE
/// score (query · stored values, float32 arithmetic), best first (score descending, then lower
/// index), written to the front of `out`; returns how many. Same rules as score_top_k on a
/// MatrixView: eligible = not excluded and score not NaN; `out` needs min(k, items.rows())
/// elements; no allocation. Throws marl_rec::Error on a dimension mismatch or a too-small `out`.
template <ItemExclusion Exclude = NoExclusion, class Arch = compat::default_arch,
          QuantizedMatrix Matrix>
inline std::size_t score_top_k(std::span<const float> query, const Matrix& items, std::size_t k,
                               std::span<ScoredItem> out, const Exclude& exclude = {}) {
  detail::check_quantized_top_k(query, items, k, out);
  return kernels::QuantizedScoreTopK{}(Arch{}, query.data(), items, k, exclude, out.data());
}

/// Exact top-k through a quantised matrix: returns exactly what score_top_k(query, exact, k, out,
/// exclude) returns on the same architecture — the same items, order and score bits — usually
/// reading only the quantised matrix. `exact` must be the float32 matrix `items` was quantised
/// from (only its shape is checked; another matrix gives unspecified, though memory-safe, results).
/// The quantised scan keeps the 2k + 64 best by approximate score; they are re-scored exactly and
/// the answer is returned when the error bound (detail::score_error_bound) proves that no other
/// item can enter; otherwise a scan with 4× as many candidates is tried, then the float32 scan of
/// `exact`. Goes straight to the float32 scan when the query has a non-finite value or is so large
/// that float sums could overflow (‖q‖ max‖x‖ > 1e30), or when the candidates would be every row.
/// `exclude` may be called once per scan for the same item (each scan in increasing index order).
/// Allocates the candidate buffer. Throws marl_rec::Error on a shape mismatch or a too-small `out`.
template <ItemExclusion Exclude = NoExclusion, class Arch = compat::default_arch,
          QuantizedMatrix Matrix>
inline std::size_t score_top_k(std::span<const float> query, const Matrix& items, MatrixView exact,
                               std::size_t k, std::span<ScoredItem> out,
                               const Exclude& exclude = {}) {
  detail::check_quantized_top_k(query, items, exact, k, out);
  return detail::exact_top_k_via_quantized<Arch>(query, items, exact, k, out, exclude).count;
}

}  // namespace marl_rec::simd

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
