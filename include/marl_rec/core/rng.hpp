// marl_rec — the library's random number generator: seeded, and the same sequence on every
// platform and standard library (std::*_distribution is not: libstdc++ and libc++ differ).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "marl_rec/core/error.hpp"

namespace marl_rec {

/// xoshiro256** seeded through SplitMix64, with portable uniform, integer and normal draws.
/// Same seed, same numbers, everywhere. Not thread-safe: give each thread its own Rng (e.g.
/// seeded with `split()`). `state()` / `from_state()` capture and restore the whole generator
/// (for saving it: io/rng_state.hpp writes it as one field of a model stream).
class Rng {
 public:
  /// The whole state: the four xoshiro256** words, the bits of the spare normal draw, and
  /// whether that spare is pending (0 or 1).
  using State = std::array<std::uint64_t, 6>;

  /// A generator whose whole sequence is determined by `seed`.
  explicit Rng(std::uint64_t seed = 0x9E3779B97F4A7C15ull) noexcept {
    std::uint64_t x = seed;
    for (auto& s : state_) s = splitmix64(x);
  }

  /// The next 64 random bits.
  std::uint64_t next_u64() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, 1), 53 random bits.
  double uniform() noexcept { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }

  /// Uniform integer in [0, n) without modulo bias (Lemire's method); 0 when n == 0.
  std::uint64_t below(std::uint64_t n) noexcept {
    if (n == 0) return 0;
    std::uint64_t high = 0;
    std::uint64_t low = multiply(next_u64(), n, high);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) low = multiply(next_u64(), n, high);
    }
    return high;
  }

  /// Standard normal N(0, 1) (Marsaglia's polar method, second value kept for the next call).
  double normal() noexcept {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = uniform(-1.0, 1.0);
      v = uniform(-1.0, 1.0);
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }

  /// N(mean, stddev²).
  double normal(double mean, double stddev) noexcept { return mean + stddev * normal(); }

  /// True with probability p.
  bool bernoulli(double p) noexcept { return uniform() < p; }

  /// A new generator for a sub-component, derived from (and advancing) this one.
  Rng split() noexcept { return Rng(next_u64()); }

  /// Everything that decides the numbers to come: a generator restored from it with
  /// from_state() draws exactly what this one would.
  State state() const noexcept {
    return {state_[0], state_[1], state_[2], state_[3], std::bit_cast<std::uint64_t>(spare_),
            has_spare_ ? 1u : 0u};
  }

  /// The generator whose state() is `state`. Throws Error on a state no generator can be in:
  /// the four xoshiro words all zero (it would return 0 forever), a pending flag other than 0
  /// or 1, or a pending spare that is not finite.
  static Rng from_state(const State& state) {
    marl_rec::detail::require((state[0] | state[1] | state[2] | state[3]) != 0,
                              "Rng::from_state: the all-zero xoshiro256** state is invalid");
    marl_rec::detail::require(state[5] <= 1, [&] {
      return "Rng::from_state: the spare flag must be 0 or 1, got " + std::to_string(state[5]);
    });
    const double spare = std::bit_cast<double>(state[4]);
    marl_rec::detail::require(state[5] == 0 || std::isfinite(spare),
                              "Rng::from_state: the pending spare normal is not finite");
    Rng rng;
    for (std::size_t i = 0; i < 4; ++i) rng.state_[i] = state[i];
    rng.spare_ = spare;
    rng.has_spare_ = state[5] == 1;
    return rng;
  }

 private:
  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // The 128-bit product a·b: returns the low 64 bits, stores the high ones (portable: no __int128).
  static std::uint64_t multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& high) noexcept {
    const std::uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32;
    const std::uint64_t b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
    const std::uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi, hl = a_hi * b_lo, hh = a_hi * b_hi;
    const std::uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFu) + (hl & 0xFFFFFFFFu);
    high = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return (mid << 32) | (ll & 0xFFFFFFFFu);
  }
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

  std::uint64_t state_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

/// Shuffles [first, last) with `rng` (Fisher–Yates; the same order on every platform, unlike
/// std::shuffle).
template <class RandomIt>
void shuffle(RandomIt first, RandomIt last, Rng& rng) noexcept {
  const auto n = static_cast<std::uint64_t>(last - first);
  for (std::uint64_t i = n; i > 1; --i) {
    const std::uint64_t j = rng.below(i);
    using std::swap;
    swap(first[static_cast<std::ptrdiff_t>(i - 1)], first[static_cast<std::ptrdiff_t>(j)]);
  }
}

}  // namespace marl_rec
