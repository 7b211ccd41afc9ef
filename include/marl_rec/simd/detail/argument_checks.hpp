// marl_rec — argument checks shared by the SIMD kernels and their scalar twins, so that both
// reject exactly the same calls with exactly the same messages.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include "marl_rec/core/error.hpp"

namespace marl_rec::detail {

inline void check_sizes_equal(const char* where, const char* a_name, std::size_t a,
                              const char* b_name, std::size_t b) {
  require(a == b, [&] {
    return std::string(where) + ": " + a_name + " has " + std::to_string(a) + " elements but " +
           b_name + " has " + std::to_string(b);
  });
}

inline void check_at_least(const char* where, const char* name, std::size_t have,
                           std::size_t need) {
  require(have >= need, [&] {
    return std::string(where) + ": " + name + " has room for " + std::to_string(have) +
           " elements, " + std::to_string(need) + " are needed";
  });
}

inline void check_invertible(const char* where, const char* name, float value) {
  require(std::isfinite(value) && value != 0.0f && std::isfinite(1.0f / value), [&] {
    return std::string(where) + ": " + name + " must be finite, non-zero and have a finite " +
           "inverse, got " + std::to_string(value);
  });
}

inline void check_finite(const char* where, const char* name, float value) {
  require(std::isfinite(value), [&] {
    return std::string(where) + ": " + name + " must be finite, got " + std::to_string(value);
  });
}

}  // namespace marl_rec::detail
