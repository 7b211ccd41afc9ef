// Test helpers: seeded data, and buffers placed off the 64-byte boundary on purpose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>

#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec::test {

/// Gaussian N(0, 1) values, or small integers in [-3, 3] (whose dot products are exact in float
/// whatever the summation order, so kernel and reference must agree bit for bit).
enum class Values { gaussian, small_integers };

/// `size` floats starting `offset` floats past a 64-byte boundary, filled from a seeded RNG.
/// The storage ends exactly at the last float, so AddressSanitizer catches a one-float overread.
class Buffer {
 public:
  Buffer(std::size_t size, std::size_t offset, Values values, std::uint32_t seed)
      : storage_(size + offset), offset_(offset), size_(size) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_int_distribution<int> small(-3, 3);
    for (float& x : span()) {
      x = values == Values::gaussian ? normal(rng) : static_cast<float>(small(rng));
    }
  }
  std::span<float> span() noexcept { return {storage_.data() + offset_, size_}; }
  std::span<const float> cspan() const noexcept { return {storage_.data() + offset_, size_}; }

 private:
  AlignedVector<float> storage_;
  std::size_t offset_;
  std::size_t size_;
};

/// An n × d matrix of Buffer values, rows `stride` floats apart, `offset` floats off alignment;
/// the storage ends exactly at the last row's last value.
struct Items {
  Items(std::size_t n, std::size_t d, std::size_t stride, std::size_t offset, Values values,
        std::uint32_t seed)
      : buffer(n == 0 ? 0 : (n - 1) * stride + d, offset, values, seed),
        view(buffer.span(), n, d, stride) {}
  Buffer buffer;
  MutableMatrixView view;
};

}  // namespace marl_rec::test
