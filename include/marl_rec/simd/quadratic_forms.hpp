// marl_rec — many quadratic forms q(a) = aᵀMa + 2c·a with one symmetric M (LinUCB's confidence
// bonus over a whole catalog): a register-blocked kernel that reads only M's upper triangle, and
// its scalar twin.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>

#include "marl_rec/core/error.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/detail/argument_checks.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"

namespace marl_rec::simd {

/// q(a) = aᵀMa + 2c·a for a symmetric d × d matrix M and a vector c, prepared once (O(d²)) for
/// many evaluations by quadratic_forms().
///
/// It keeps N, the upper triangle of M with its off-diagonal entries doubled, so that
/// aᵀMa = Σ_{j ≤ l} N_jl a_j a_l: half of the d² multiply-adds of a·(Ma). Rows of N and the
/// vector 2c are padded with zeros to a multiple of `padding` floats (every batch width divides
/// it), so one prepared form serves every instruction set. Doubling is exact in float; an entry
/// of M or c above FLT_MAX / 2 becomes infinite (q would overflow for most a anyway).
///
/// assign() allocates only when the padded size grows; the form is then read-only, and any
/// number of threads may evaluate it at once.
class QuadraticForm {
 public:
  /// Floats each prepared row is padded to a multiple of.
  static constexpr std::size_t padding = 16;

  /// The form of the 0 × 0 matrix: q = 0 on 0-dimensional rows.
  QuadraticForm() = default;

  /// Prepares q for M (only its upper triangle, column ≥ row, is read, so M need not be exactly
  /// symmetric) and c (empty means c = 0). Throws marl_rec::Error, changing nothing, when M is
  /// not square or c is neither empty nor M.rows() long (when growing the storage fails, the
  /// form is left the 0 × 0 one).
  void assign(MatrixView m, std::span<const float> c = {}) {
    constexpr const char* where = "QuadraticForm::assign";
    marl_rec::detail::check_sizes_equal(where, "M rows", m.rows(), "M cols", m.cols());
    if (!c.empty()) marl_rec::detail::check_sizes_equal(where, "c", c.size(), "M rows", m.rows());
    const std::size_t d = m.rows();
    const std::size_t padded = (d + padding - 1) / padding * padding;
    dim_ = 0;
    padded_ = 0;
    upper_.assign(d * padded, 0.0f);
    linear_.assign(padded, 0.0f);
    for (std::size_t j = 0; j < d; ++j) {
      const float* from = m.data() + j * m.stride();
      float* to = upper_.data() + j * padded;
      to[j] = from[j];
      for (std::size_t l = j + 1; l < d; ++l) to[l] = 2.0f * from[l];
    }
    for (std::size_t j = 0; j < c.size(); ++j) linear_[j] = 2.0f * c[j];
    dim_ = d;
    padded_ = padded;
  }

  /// d: the length of the rows q is evaluated on.
  std::size_t dim() const noexcept { return dim_; }
  /// Floats per prepared row: d rounded up to a multiple of `padding`.
  std::size_t padded() const noexcept { return padded_; }
  /// Row j of N (padded() floats: 0 before column j, M_jj at j, 2 M_jl after it, then zeros).
  std::span<const float> doubled_upper_row(std::size_t j) const noexcept {
    return {upper_.data() + j * padded_, padded_};
  }
  /// 2c, padded with zeros to padded() floats.
  std::span<const float> doubled_linear() const noexcept { return {linear_.data(), padded_}; }

 private:
  AlignedVector<float> upper_;
  AlignedVector<float> linear_;
  std::size_t dim_ = 0;
  std::size_t padded_ = 0;
};

namespace kernels {

/// q of `count` rows, row i at row_at(i) (dim() floats each), into out[0, count).
///
/// Column batch by column batch (`width` columns c·width …), a tile of R rows accumulates
/// z = 2c + Nᵀa over the rows j of N up to the batch's end (N is upper triangular: the rows
/// below it hold zeros there, so they are skipped — the triangle at batch granularity), as R
/// broadcasts of a_j times one load of N; then acc += a ⊙ z. The lanes of acc are summed for
/// `width` rows at once by one transposed reduction. Each row's q is computed with the same
/// operations in the same order whatever the other rows are, so a row gets the same bits alone,
/// in a list, or in the whole matrix.
struct QuadraticForms {
  template <class Arch, class RowAt>
  void operator()(Arch, const QuadraticForm& form, std::size_t count, RowAt row_at, float* out) const noexcept;
};

/// A tile of rows of QuadraticForms (see there).
template <class Arch>
class QuadraticFormTile {
 public:
  using Batch = xsimd::batch<float, Arch>;
  static constexpr std::size_t width = Batch::size;
  /// Rows per tile: R accumulators, the broadcasts and a load of N fit the register file (32
  /// vector registers with AVX-512's 16 lanes, 16 below it). Measured at d = 64, 10⁵ rows: R = 8
  /// with AVX-512 and R = 4 with AVX2 were the fastest of 2, 4 and 8.
  static constexpr std::size_t rows_per_tile = width >= 16 ? 8 : 4;
  /// With fewer than 8 independent sums a loop of FMAs waits on their latency (4 cycles, 2 per
  /// cycle): then even and odd j go to separate sums, added at the end of each batch. Decided per
  /// instruction set, not per call, so that a row's bits do not depend on its tile.
  static constexpr bool split = rows_per_tile < 8;

  explicit QuadraticFormTile(const QuadraticForm& form) noexcept
      : n_(form.doubled_upper_row(0).data()),
        z0_(form.doubled_linear().data()),
        d_(form.dim()),
        stride_(form.padded()),
        batches_((form.dim() + width - 1) / width) {}

  /// lanes[r] = Σ over column batches of a_r ⊙ z_r (lane-wise), for the R rows.
  template <std::size_t R>
  void run(const float* const* rows, Batch* lanes) const noexcept {
    Batch acc[R];
    for (std::size_t r = 0; r < R; ++r) acc[r] = Batch(0.0f);
    for (std::size_t c = 0; c < batches_; ++c) {
      const float* column = n_ + c * width;
      const std::size_t end = std::min(d_, (c + 1) * width);
      Batch z[R];
      Batch odd[R];
      for (std::size_t r = 0; r < R; ++r) {
        z[r] = Batch::load_aligned(z0_ + c * width);
        odd[r] = Batch(0.0f);
      }
      std::size_t j = 0;
      if constexpr (split) {
        for (; j + 2 <= end; j += 2) {
          step<R>(rows, j, column, z);
          step<R>(rows, j + 1, column, odd);
        }
      }
      for (; j < end; ++j) step<R>(rows, j, column, z);
      for (std::size_t r = 0; r < R; ++r) {
        if constexpr (split) z[r] += odd[r];
        acc[r] = xsimd::fma(load_row(rows[r], c), z[r], acc[r]);
      }
    }
    for (std::size_t r = 0; r < R; ++r) lanes[r] = acc[r];
  }

 private:
  // z[r] += a_r[j] N[j, column batch].
  template <std::size_t R>
  void step(const float* const* rows, std::size_t j, const float* column, Batch (&z)[R]) const noexcept {
    const Batch m = Batch::load_aligned(column + j * stride_);
    for (std::size_t r = 0; r < R; ++r) z[r] = xsimd::fma(Batch(rows[r][j]), m, z[r]);
  }

  // Batch c of a row; past the row's end (in its last, partial batch) the lanes are 0.
  Batch load_row(const float* row, std::size_t c) const noexcept {
    if ((c + 1) * width <= d_) return Batch::load_unaligned(row + c * width);
    alignas(64) float tail[width] = {};
    std::copy(row + c * width, row + d_, tail);
    return Batch::load_aligned(tail);
  }

  const float* n_;
  const float* z0_;
  std::size_t d_;
  std::size_t stride_;
  std::size_t batches_;
};

template <class Arch, class RowAt>
void QuadraticForms::operator()(Arch, const QuadraticForm& form, std::size_t count, RowAt row_at,
                                float* out) const noexcept {
  using Tile = QuadraticFormTile<Arch>;
  using Batch = typename Tile::Batch;
  constexpr std::size_t width = Tile::width;
  constexpr std::size_t tile_rows = Tile::rows_per_tile;
  static_assert(width % tile_rows == 0 || tile_rows % width == 0);
  constexpr std::size_t block = std::max(width, tile_rows);
  if (count == 0) return;
  const Tile tile(form);
  const float* rows[block];
  Batch lanes[block];
  std::size_t i = 0;
  for (; i + block <= count; i += block) {
    for (std::size_t g = 0; g < block; ++g) rows[g] = row_at(i + g);
    for (std::size_t g = 0; g < block; g += tile_rows) tile.template run<tile_rows>(rows + g, lanes + g);
    for (std::size_t g = 0; g < block; g += width) compat::transpose_reduce_add(lanes + g).store_unaligned(out + i + g);
  }
  // The last rows, fewer than a block: one at a time (the same operations per row), the lanes
  // of missing rows 0.
  for (std::size_t g = 0; g < block; ++g) lanes[g] = Batch(0.0f);
  const std::size_t left = count - i;
  for (std::size_t g = 0; g < left; ++g) {
    rows[g] = row_at(i + g);
    tile.template run<1>(rows + g, lanes + g);
  }
  for (std::size_t g = 0; g < left; g += width) {
    alignas(64) float sums[width];
    compat::transpose_reduce_add(lanes + g).store_aligned(sums);
    std::copy(sums, sums + std::min(width, left - g), out + i + g);
  }
}

}  // namespace kernels

/// out[i] = q(rows.row(i)) = aᵀMa + 2c·a for every row a of `rows` (see QuadraticForm). Throws
/// marl_rec::Error when rows.cols() differs from form.dim() or `out` has room for fewer than
/// rows.rows() values. Does not allocate.
template <class Arch = compat::default_arch>
inline void quadratic_forms(const QuadraticForm& form, MatrixView rows, std::span<float> out) {
  constexpr const char* where = "simd::quadratic_forms";
  marl_rec::detail::check_sizes_equal(where, "form", form.dim(), "item rows", rows.cols());
  marl_rec::detail::check_at_least(where, "out", out.size(), rows.rows());
  kernels::QuadraticForms{}(
      Arch{}, form, rows.rows(), [&](std::size_t i) { return rows.data() + i * rows.stride(); }, out.data());
}

/// out[i] = q(items.row(indices[i])) for every i (indices may repeat). Each value has the same
/// bits as the one the whole-matrix overload gives that row. Throws marl_rec::Error when
/// items.cols() differs from form.dim(), an index is not a row of `items`, or `out` has room for
/// fewer than indices.size() values. Does not allocate.
template <class Arch = compat::default_arch>
inline void quadratic_forms(const QuadraticForm& form, MatrixView items, std::span<const std::size_t> indices,
                            std::span<float> out) {
  constexpr const char* where = "simd::quadratic_forms";
  marl_rec::detail::check_sizes_equal(where, "form", form.dim(), "item rows", items.cols());
  marl_rec::detail::check_at_least(where, "out", out.size(), indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    marl_rec::detail::require(indices[i] < items.rows(), [&] {
      return std::string(where) + ": index " + std::to_string(indices[i]) + " (at " + std::to_string(i) +
             ") is not a row of the " + std::to_string(items.rows()) + "-row matrix";
    });
  }
  kernels::QuadraticForms{}(
      Arch{}, form, indices.size(), [&](std::size_t i) { return items.data() + indices[i] * items.stride(); },
      out.data());
}

namespace reference {

namespace detail {
// q(a) from the prepared form, in double: Σ_j a_j (2c_j + Σ_{l ≤ j} N_lj a_l).
inline float quadratic_form(const QuadraticForm& form, const float* a) noexcept {
  double q = 0.0;
  for (std::size_t j = 0; j < form.dim(); ++j) {
    double z = static_cast<double>(form.doubled_linear()[j]);
    for (std::size_t l = 0; l <= j; ++l) {
      z += static_cast<double>(form.doubled_upper_row(l)[j]) * static_cast<double>(a[l]);
    }
    q += z * static_cast<double>(a[j]);
  }
  return static_cast<float>(q);
}
}  // namespace detail

/// Scalar twin of simd::quadratic_forms (whole matrix): same checks, sums in double.
inline void quadratic_forms(const QuadraticForm& form, MatrixView rows, std::span<float> out) {
  constexpr const char* where = "simd::quadratic_forms";
  marl_rec::detail::check_sizes_equal(where, "form", form.dim(), "item rows", rows.cols());
  marl_rec::detail::check_at_least(where, "out", out.size(), rows.rows());
  for (std::size_t i = 0; i < rows.rows(); ++i) out[i] = detail::quadratic_form(form, rows.row(i).data());
}

/// Scalar twin of simd::quadratic_forms (listed rows): same checks, sums in double.
inline void quadratic_forms(const QuadraticForm& form, MatrixView items, std::span<const std::size_t> indices,
                            std::span<float> out) {
  constexpr const char* where = "simd::quadratic_forms";
  marl_rec::detail::check_sizes_equal(where, "form", form.dim(), "item rows", items.cols());
  marl_rec::detail::check_at_least(where, "out", out.size(), indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    marl_rec::detail::require(indices[i] < items.rows(), [&] {
      return std::string(where) + ": index " + std::to_string(indices[i]) + " (at " + std::to_string(i) +
             ") is not a row of the " + std::to_string(items.rows()) + "-row matrix";
    });
  }
  for (std::size_t i = 0; i < indices.size(); ++i) {
    out[i] = detail::quadratic_form(form, items.row(indices[i]).data());
  }
}

}  // namespace reference

}  // namespace marl_rec::simd
