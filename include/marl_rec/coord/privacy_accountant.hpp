// marl_rec — a Rényi-differential-privacy accountant for compositions of Gaussian mechanisms
// (Mironov 2017), and the calibration of the noise multiplier for a target (ε, δ).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/io/model_stream.hpp"

namespace marl_rec {

namespace detail {
/// The Rényi orders of RdpAccountant: 1.1, 1.2, ..., 10.9 (step 0.1), 11, 12, ..., 63 (step 1),
/// then 64, 80, 96, 112, 128, 160, 192, 224, 256, 384, 512, 768, 1024.
inline constexpr std::size_t rdp_order_count = 99 + 53 + 13;

constexpr std::array<double, rdp_order_count> make_rdp_orders() {
  std::array<double, rdp_order_count> orders{};
  std::size_t n = 0;
  for (int k = 1; k <= 99; ++k) orders[n++] = 1.0 + k / 10.0;
  for (int a = 11; a <= 63; ++a) orders[n++] = a;
  for (const double a : {64.0, 80.0, 96.0, 112.0, 128.0, 160.0, 192.0, 224.0, 256.0, 384.0,
                         512.0, 768.0, 1024.0}) {
    orders[n++] = a;
  }
  return orders;
}

inline void check_privacy_delta(const char* where, double delta) {
  marl_rec::detail::require(delta > 0.0 && delta < 1.0, [&] {
    return std::string(where) + ": delta " + std::to_string(delta) + " is not in (0, 1)";
  });
}

inline void check_privacy_noise_multiplier(const char* where, double z) {
  marl_rec::detail::require(std::isfinite(z) && z > 0.0, [&] {
    return std::string(where) + ": the noise multiplier " + std::to_string(z) +
           " is not finite and > 0";
  });
}
}  // namespace detail

/// Tracks the privacy spent by a sequence of Gaussian mechanisms in Rényi differential privacy
/// (RDP, Mironov 2017) and converts it to (ε, δ)-DP.
///
/// - A Gaussian mechanism with noise multiplier z (noise standard deviation / L2 sensitivity)
///   is (α, α / (2 z²))-RDP at every order α > 1. No subsampling is assumed: every participant
///   takes part in every step (as in FederatedAveraging, where every agent is averaged in every
///   round), so there is no amplification to claim.
/// - Composition adds the RDP of each order; the accountant keeps the sum at each order of a
///   fixed grid, `orders`: 1.1 to 10.9 in steps of 0.1, 11 to 63 in steps of 1, then 64, 80, 96,
///   112, 128, 160, 192, 224, 256, 384, 512, 768 and 1024 (165 orders). The fine steps near 1
///   serve many steps at small z (optimum close to 1), the large orders few steps at large z.
/// - epsilon(δ) = min over the grid of rdp(α) + log(1/δ) / (α − 1) (Mironov 2017, Prop. 3).
///   The minimum over a grid is an upper bound of the continuous minimum, so the ε reported is
///   valid (never below the true guarantee of this conversion).
/// - A step released without noise (add_unbounded) has no finite RDP: ε is then +∞.
///
/// Not thread-safe for writing; the const members may run concurrently.
class RdpAccountant {
 public:
  /// The grid of Rényi orders (see the class comment).
  static constexpr std::array<double, detail::rdp_order_count> orders = detail::make_rdp_orders();

  /// Composes `count` steps of a Gaussian mechanism with noise multiplier `noise_multiplier`.
  /// Throws Error, changing nothing, when the multiplier is not finite and > 0.
  void add_gaussian(double noise_multiplier, std::uint64_t count = 1) {
    detail::check_privacy_noise_multiplier("RdpAccountant::add_gaussian", noise_multiplier);
    const double per_order = static_cast<double>(count) / (2.0 * noise_multiplier * noise_multiplier);
    for (std::size_t k = 0; k < orders.size(); ++k) rdp_[k] += orders[k] * per_order;
    steps_ += count;
  }

  /// Records `count` steps released without noise (e.g. averaging with noise multiplier 0,
  /// clipping only): their privacy loss is unbounded, so epsilon() is +∞ from now on.
  void add_unbounded(std::uint64_t count = 1) noexcept {
    if (count == 0) return;
    unbounded_ = true;
    steps_ += count;
  }

  /// Steps composed so far (Gaussian and unbounded).
  std::uint64_t steps() const noexcept { return steps_; }
  /// True once a step without noise was recorded (ε = +∞).
  bool unbounded() const noexcept { return unbounded_; }
  /// The accumulated RDP at each of `orders` (+∞ everywhere once unbounded()).
  std::array<double, detail::rdp_order_count> rdp() const noexcept {
    if (!unbounded_) return rdp_;
    std::array<double, detail::rdp_order_count> out{};
    out.fill(std::numeric_limits<double>::infinity());
    return out;
  }

  /// The ε of (ε, δ)-DP spent so far: min over the orders of rdp(α) + log(1/δ) / (α − 1);
  /// 0 before any step (nothing was released), +∞ once unbounded(). Throws Error when δ is not
  /// in (0, 1).
  double epsilon(double delta) const { return best(delta, "RdpAccountant::epsilon").epsilon; }

  /// The order at which epsilon(delta) is reached (NaN before any step or once unbounded()).
  /// Throws Error when δ is not in (0, 1).
  double optimal_order(double delta) const {
    return best(delta, "RdpAccountant::optimal_order").order;
  }

  /// Writes the accumulated state (format "rdp_accountant" v1, with the grid of orders).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "rdp_accountant", 1);
    write_fields(w);
    w.finish();
  }

  /// Replaces the state with one saved by save(). Throws Error, changing nothing, on a stream of
  /// another type, a truncated or corrupted stream, or one saved with another grid of orders.
  void load(std::istream& in) {
    io::ModelReader r(in, "rdp_accountant", 1);
    RdpAccountant loaded;
    loaded.read_fields(r, "RdpAccountant::load");
    r.finish();
    *this = loaded;
  }

 private:
  friend class FederatedAveraging;

  struct Best {
    double epsilon = 0.0;
    double order = std::numeric_limits<double>::quiet_NaN();
  };

  Best best(double delta, const char* where) const {
    detail::check_privacy_delta(where, delta);
    if (steps_ == 0) return {};
    if (unbounded_) return {std::numeric_limits<double>::infinity(), Best{}.order};
    const double log_inverse_delta = -std::log(delta);
    Best b{std::numeric_limits<double>::infinity(), orders[0]};
    for (std::size_t k = 0; k < orders.size(); ++k) {
      const double e = rdp_[k] + log_inverse_delta / (orders[k] - 1.0);
      if (e < b.epsilon) b = {e, orders[k]};
    }
    return b;
  }

  void write_fields(io::ModelWriter& w) const {
    w.doubles("rdp_orders", orders);
    w.doubles("rdp", rdp_);
    w.u64("rdp_steps", steps_);
    w.u64("rdp_unbounded", unbounded_ ? 1 : 0);
  }

  void read_fields(io::ModelReader& r, const char* where) {
    const std::vector<double> grid = r.doubles("rdp_orders", orders.size());
    for (std::size_t k = 0; k < orders.size(); ++k) {
      marl_rec::detail::require(grid[k] == orders[k], [&] {
        return std::string(where) + ": the stream was saved with another grid of Renyi orders "
               "(order " + std::to_string(k) + " is " + std::to_string(grid[k]) + ", expected " +
               std::to_string(orders[k]) + ")";
      });
    }
    const std::vector<double> rdp = r.doubles("rdp", orders.size());
    for (std::size_t k = 0; k < orders.size(); ++k) {
      marl_rec::detail::require(std::isfinite(rdp[k]) && rdp[k] >= 0.0, [&] {
        return std::string(where) + ": the stored RDP at order " + std::to_string(orders[k]) +
               " is not finite and >= 0";
      });
      rdp_[k] = rdp[k];
    }
    steps_ = r.u64("rdp_steps");
    unbounded_ = r.u64("rdp_unbounded", 0, 1) == 1;
  }

  std::array<double, detail::rdp_order_count> rdp_{};
  std::uint64_t steps_ = 0;
  bool unbounded_ = false;
};

/// The ε (at δ) of `steps` compositions of a Gaussian mechanism with noise multiplier
/// `noise_multiplier`, as RdpAccountant reports it. Throws Error on δ ∉ (0, 1) or a multiplier
/// that is not finite and > 0.
inline double gaussian_epsilon(double noise_multiplier, double delta, std::uint64_t steps) {
  detail::check_privacy_noise_multiplier("gaussian_epsilon", noise_multiplier);
  detail::check_privacy_delta("gaussian_epsilon", delta);
  RdpAccountant a;
  a.add_gaussian(noise_multiplier, steps);
  return a.epsilon(delta);
}

/// The smallest noise multiplier z (to a relative tolerance of 1e-9) for which `steps`
/// Gaussian steps spend at most `epsilon` at `delta`, as RdpAccountant accounts them: the result
/// z satisfies gaussian_epsilon(z, delta, steps) ≤ epsilon, and z · (1 − 1e-9) does not. Found by
/// bisection (ε is strictly decreasing in z). Throws Error when ε is not finite and > 0, δ is
/// not in (0, 1), steps is 0, or ε is at or below log(1/δ) / 1023, the limit of the grid as
/// z → ∞ (the largest order is 1024): no noise reaches it.
inline double noise_multiplier_for(double epsilon, double delta, std::uint64_t steps) {
  const char* where = "noise_multiplier_for";
  marl_rec::detail::require(std::isfinite(epsilon) && epsilon > 0.0, [&] {
    return std::string(where) + ": epsilon " + std::to_string(epsilon) + " is not finite and > 0";
  });
  detail::check_privacy_delta(where, delta);
  marl_rec::detail::require(steps >= 1, std::string(where) + ": steps must be at least 1");
  const double floor = -std::log(delta) / (RdpAccountant::orders.back() - 1.0);
  marl_rec::detail::require(epsilon > floor, [&] {
    return std::string(where) + ": epsilon " + std::to_string(epsilon) +
           " is not reachable at delta " + std::to_string(delta) +
           " (any noise gives more than log(1/delta) / 1023 = " + std::to_string(floor) + ")";
  });
  const auto spent = [&](double z) {
    RdpAccountant a;
    a.add_gaussian(z, steps);
    return a.epsilon(delta);
  };
  // Bracket: spent(lo) > epsilon >= spent(hi). Both loops end: spent(z) → +∞ as z → 0 and
  // → floor < epsilon as z → ∞.
  double hi = 1.0;
  while (spent(hi) > epsilon) hi *= 2.0;
  double lo = hi / 2.0;
  while (spent(lo) <= epsilon) {
    hi = lo;
    lo /= 2.0;
  }
  constexpr double tolerance = 1e-9;
  while (hi - lo > tolerance * hi) {
    const double mid = lo + (hi - lo) / 2.0;
    (spent(mid) > epsilon ? lo : hi) = mid;
  }
  return hi;
}

}  // namespace marl_rec
