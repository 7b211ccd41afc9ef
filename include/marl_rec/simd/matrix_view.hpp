// marl_rec — a non-owning view of a row-major float matrix, the input of every kernel.
#pragma once

#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <type_traits>

#include "marl_rec/core/error.hpp"

namespace marl_rec {

/// A non-owning view of a row-major matrix of `rows` × `cols` floats whose rows start `stride`
/// floats apart (stride ≥ cols, so padded rows are allowed). `T` is `const float` (read-only,
/// `MatrixView`) or `float` (`MutableMatrixView`). Construction checks the shape against the
/// storage and throws marl_rec::Error on a mismatch; the view never owns or frees memory.
template <class T>
class BasicMatrixView {
  static_assert(std::is_same_v<std::remove_const_t<T>, float>, "matrix views hold float");

 public:
  /// An empty 0 × 0 view.
  constexpr BasicMatrixView() noexcept = default;

  /// A view of `rows` × `cols` values in `storage`, rows `stride` apart (0 means `cols`).
  BasicMatrixView(std::span<T> storage, std::size_t rows, std::size_t cols, std::size_t stride = 0)
      : data_(storage.data()), rows_(rows), cols_(cols), stride_(stride == 0 ? cols : stride) {
    detail::require(stride_ >= cols_, [&] {
      return "MatrixView: stride " + std::to_string(stride_) + " is smaller than cols " +
             std::to_string(cols_);
    });
    // (rows - 1) * stride + cols must not wrap around: a forged shape would pass the size check.
    detail::require(rows_ == 0 || stride_ == 0 ||
                        rows_ - 1 <= (std::numeric_limits<std::size_t>::max() - cols_) / stride_,
                    [&] {
                      return "MatrixView: " + std::to_string(rows_) + " x " + std::to_string(cols_) +
                             " (stride " + std::to_string(stride_) + ") overflows size_t";
                    });
    const std::size_t needed = rows_ == 0 ? 0 : (rows_ - 1) * stride_ + cols_;
    detail::require(storage.size() >= needed, [&] {
      return "MatrixView: " + std::to_string(rows_) + " x " + std::to_string(cols_) +
             " (stride " + std::to_string(stride_) + ") needs " + std::to_string(needed) +
             " floats, the storage has " + std::to_string(storage.size());
    });
  }

  /// A read-only view of a mutable one.
  template <class U>
    requires(std::is_const_v<T> && std::is_same_v<U, float>)
  constexpr BasicMatrixView(const BasicMatrixView<U>& other) noexcept  // NOLINT: implicit on purpose
      : data_(other.data()), rows_(other.rows()), cols_(other.cols()), stride_(other.stride()) {}

  constexpr T* data() const noexcept { return data_; }
  constexpr std::size_t rows() const noexcept { return rows_; }
  constexpr std::size_t cols() const noexcept { return cols_; }
  constexpr std::size_t stride() const noexcept { return stride_; }
  constexpr bool empty() const noexcept { return rows_ == 0 || cols_ == 0; }

  /// Row `i` (unchecked: i < rows()).
  constexpr std::span<T> row(std::size_t i) const noexcept { return {data_ + i * stride_, cols_}; }

 private:
  T* data_ = nullptr;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::size_t stride_ = 0;
};

/// A read-only row-major float matrix.
using MatrixView = BasicMatrixView<const float>;
/// A writable row-major float matrix.
using MutableMatrixView = BasicMatrixView<float>;

}  // namespace marl_rec
