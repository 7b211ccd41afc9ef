// marl_rec — off-policy evaluation: what a new (target) policy would have earned, estimated from
// the decisions another (logging) policy made, with percentile-bootstrap confidence intervals.
// Besides the checks each estimator lists, every one throws Error when an importance weight is not
// finite (a propensity so small that 1 / propensity overflows) or a term of its sum is larger than
// DBL_MAX / n: so no sum (the estimate, any bootstrap resample) overflows and no NaN is sorted.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/logged_decision.hpp"
#include "marl_rec/core/rng.hpp"

namespace marl_rec::eval {

/// An estimate of a policy's value (mean reward per logged decision) with a confidence interval.
struct Estimate {
  /// The estimate on the full data.
  double value{};
  /// The percentile-bootstrap interval (both equal to `value` when no bootstrap was asked for).
  double ci_low{};
  double ci_high{};
  /// The rows the estimate is based on (all rows, or the matching ones for replay).
  std::size_t n{};
};

/// The percentile bootstrap: `samples` resamples of the rows, drawn with replacement by an Rng
/// seeded with `seed` (so an interval is reproducible); the interval is the (1 − confidence)/2
/// and (1 + confidence)/2 quantiles of the resampled estimates (linear interpolation between
/// order statistics). samples = 0 skips the bootstrap.
struct BootstrapOptions {
  std::size_t samples{1000};
  /// In (0, 1).
  double confidence{0.95};
  std::uint64_t seed{1};
};

namespace detail {
using marl_rec::detail::require;

/// A value as a stream prints it: "1e-320", not std::to_string's "0.000000".
inline std::string number(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

inline void check_rows(const std::string& where, std::size_t n) {
  require(n > 0, where + ": there are no logged decisions");
}

inline void check_size(const std::string& where, const char* name, std::size_t size,
                       std::size_t n) {
  require(size == n, [&] {
    return where + ": " + name + " has " + std::to_string(size) + " values, logs has " +
           std::to_string(n);
  });
}

/// Rewards finite; with `propensities`, propensities in (0, 1] too.
inline void check_logs(const std::string& where, std::span<const LoggedDecision> logs,
                       bool propensities) {
  for (std::size_t i = 0; i < logs.size(); ++i) {
    require(std::isfinite(logs[i].reward), [&] {
      return where + ": row " + std::to_string(i) + ": reward " + std::to_string(logs[i].reward) +
             " is not finite";
    });
    // Written as "in range" so that NaN fails too.
    require(!propensities || (logs[i].propensity > 0.0 && logs[i].propensity <= 1.0), [&] {
      return where + ": row " + std::to_string(i) + ": propensity " +
             std::to_string(logs[i].propensity) + " is not in (0, 1]";
    });
  }
}

inline void check_probabilities(const std::string& where, const char* name,
                                std::span<const double> p) {
  for (std::size_t i = 0; i < p.size(); ++i) {
    require(p[i] >= 0.0 && p[i] <= 1.0, [&] {
      return where + ": row " + std::to_string(i) + ": " + name + " " + std::to_string(p[i]) +
             " is not in [0, 1]";
    });
  }
}

inline void check_finite(const std::string& where, const char* name, std::span<const double> x) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    require(std::isfinite(x[i]), [&] {
      return where + ": row " + std::to_string(i) + ": " + name + " " + std::to_string(x[i]) +
             " is not finite";
    });
  }
}

/// The q-quantile of sorted values (q in [0, 1]; linear interpolation, "type 7").
inline double quantile(const std::vector<double>& sorted, double q) {
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

/// Σ numerator / Σ denominator over the rows (denominator empty: divided by the row count,
/// i.e. a mean), with its percentile bootstrap over rows. A resample whose denominator sums to
/// 0 counts as 0 (the full data's may not: Error).
inline Estimate ratio_estimate(const std::string& where, std::span<const double> numerator,
                               std::span<const double> denominator,
                               const BootstrapOptions& options) {
  require(options.confidence > 0.0 && options.confidence < 1.0, [&] {
    return where + ": confidence " + std::to_string(options.confidence) + " is not in (0, 1)";
  });
  const std::size_t n = numerator.size();
  const bool normalised = !denominator.empty();
  // Finite inputs can still give non-finite terms (a weight 1 / 1e-320, a reward near the double
  // range): every term is bounded so that no sum of n of them (the estimate, any resample)
  // overflows, and no NaN reaches the bootstrap's sort.
  const double term_limit = std::numeric_limits<double>::max() / static_cast<double>(n);
  const auto check_terms = [&](std::span<const double> terms, const char* what) {
    for (std::size_t i = 0; i < terms.size(); ++i) {
      require(std::abs(terms[i]) <= term_limit, [&] {
        return where + ": row " + std::to_string(i) + ": the " + what + " " + number(terms[i]) +
               " is not finite or too large to sum (a propensity too small, or a reward or "
               "value too large)";
      });
    }
  };
  check_terms(numerator, "term");
  check_terms(denominator, "importance weight");
  const auto total = [](std::span<const double> x) {
    double s = 0.0;
    for (const double v : x) s += v;
    return s;
  };
  const double full_denominator = normalised ? total(denominator) : static_cast<double>(n);
  require(full_denominator != 0.0,
          where + ": the target policy gives probability 0 to every logged action");
  Estimate out;
  out.value = total(numerator) / full_denominator;
  out.ci_low = out.ci_high = out.value;
  out.n = n;
  if (options.samples == 0) return out;

  Rng rng(options.seed);
  std::vector<double> resampled(options.samples);
  for (double& estimate : resampled) {
    double num = 0.0, den = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t i = rng.below(n);
      num += numerator[i];
      if (normalised) den += denominator[i];
    }
    if (!normalised) den = static_cast<double>(n);
    estimate = den == 0.0 ? 0.0 : num / den;
  }
  std::sort(resampled.begin(), resampled.end());
  const double tail = (1.0 - options.confidence) / 2.0;
  out.ci_low = quantile(resampled, tail);
  out.ci_high = quantile(resampled, 1.0 - tail);
  return out;
}

/// The importance weights π_e(a|x) / π_0(a|x) after the checks shared by IPS, SNIPS and DR.
inline std::vector<double> weights(const std::string& where, std::span<const LoggedDecision> logs,
                                   std::span<const double> target_probability) {
  check_rows(where, logs.size());
  check_size(where, "target_probability", target_probability.size(), logs.size());
  check_logs(where, logs, true);
  check_probabilities(where, "target_probability", target_probability);
  std::vector<double> w(logs.size());
  for (std::size_t i = 0; i < logs.size(); ++i) {
    w[i] = target_probability[i] / logs[i].propensity;
    require(std::isfinite(w[i]), [&] {
      return where + ": row " + std::to_string(i) + ": the importance weight " +
             number(target_probability[i]) + " / " + number(logs[i].propensity) +
             " is not finite (the propensity is too small)";
    });
  }
  return w;
}
}  // namespace detail

/// Rejection-sampling replay (Li, Chu, Langford, Wang 2011): the mean reward over the rows where
/// the target policy's (deterministic) choice target_action[i] equals the logged action; n is the
/// number of such rows and the bootstrap resamples them. Unbiased when the logging policy chose
/// uniformly at random; propensities are not used. Throws Error when the sizes differ, a reward
/// is not finite, or no row matches.
inline Estimate replay(std::span<const LoggedDecision> logs,
                       std::span<const std::size_t> target_action,
                       const BootstrapOptions& options = {}) {
  const std::string where = "eval::replay";
  detail::check_rows(where, logs.size());
  detail::check_size(where, "target_action", target_action.size(), logs.size());
  detail::check_logs(where, logs, false);
  std::vector<double> matched;
  for (std::size_t i = 0; i < logs.size(); ++i) {
    if (logs[i].action == target_action[i]) matched.push_back(logs[i].reward);
  }
  detail::require(!matched.empty(), where + ": no logged action matches the target action");
  return detail::ratio_estimate(where, matched, {}, options);
}

/// Inverse propensity scoring: (1/n) Σ_i w_i r_i with w_i = π_e(a_i|x_i) / π_0(a_i|x_i), where
/// target_probability[i] = π_e(a_i|x_i) for the logged action a_i and π_0 is the logged
/// propensity. Unbiased when the propensities are right and π_0 > 0 wherever π_e > 0; its
/// variance grows with the weights. Throws Error when the sizes differ, logs is empty, a
/// propensity is not in (0, 1], a target probability not in [0, 1] or a reward not finite.
inline Estimate ips(std::span<const LoggedDecision> logs,
                    std::span<const double> target_probability,
                    const BootstrapOptions& options = {}) {
  const std::string where = "eval::ips";
  std::vector<double> terms = detail::weights(where, logs, target_probability);
  for (std::size_t i = 0; i < logs.size(); ++i) terms[i] *= logs[i].reward;
  return detail::ratio_estimate(where, terms, {}, options);
}

/// Self-normalised IPS: Σ_i w_i r_i / Σ_i w_i (weights as in ips). Slightly biased, consistent,
/// usually with a much smaller variance than IPS, and always within the range of the rewards.
/// Same checks as ips, and Error when every weight is 0.
inline Estimate snips(std::span<const LoggedDecision> logs,
                      std::span<const double> target_probability,
                      const BootstrapOptions& options = {}) {
  const std::string where = "eval::snips";
  const std::vector<double> w = detail::weights(where, logs, target_probability);
  std::vector<double> terms(w.size());
  for (std::size_t i = 0; i < logs.size(); ++i) terms[i] = w[i] * logs[i].reward;
  return detail::ratio_estimate(where, terms, w, options);
}

/// Direct method: (1/n) Σ_i v_i with v_i = estimated_value[i] = Σ_a π_e(a|x_i) q̂(x_i, a), the
/// target policy's value under a reward model q̂. Low variance, biased as much as q̂ is. Throws
/// Error when estimated_value is empty or a value is not finite.
inline Estimate direct_method(std::span<const double> estimated_value,
                              const BootstrapOptions& options = {}) {
  const std::string where = "eval::direct_method";
  detail::require(!estimated_value.empty(), where + ": estimated_value is empty");
  detail::check_finite(where, "estimated_value", estimated_value);
  return detail::ratio_estimate(where, estimated_value, {}, options);
}

/// Doubly robust (Dudík, Langford, Li 2011): (1/n) Σ_i [v_i + w_i (r_i − q̂(x_i, a_i))], the
/// direct method corrected by IPS on the model's residual: unbiased when either the propensities
/// or q̂ are right. q_hat_logged[i] = q̂(x_i, a_i) for the logged action, estimated_value[i] as in
/// direct_method, weights as in ips. Same checks as ips, and Error when q_hat_logged or
/// estimated_value has the wrong size or a value that is not finite.
inline Estimate doubly_robust(std::span<const LoggedDecision> logs,
                              std::span<const double> target_probability,
                              std::span<const double> q_hat_logged,
                              std::span<const double> estimated_value,
                              const BootstrapOptions& options = {}) {
  const std::string where = "eval::doubly_robust";
  std::vector<double> terms = detail::weights(where, logs, target_probability);
  detail::check_size(where, "q_hat_logged", q_hat_logged.size(), logs.size());
  detail::check_size(where, "estimated_value", estimated_value.size(), logs.size());
  detail::check_finite(where, "q_hat_logged", q_hat_logged);
  detail::check_finite(where, "estimated_value", estimated_value);
  for (std::size_t i = 0; i < logs.size(); ++i) {
    terms[i] = estimated_value[i] + terms[i] * (logs[i].reward - q_hat_logged[i]);
  }
  return detail::ratio_estimate(where, terms, {}, options);
}

/// Some rows of a log (indices in increasing order), and the same rows of any per-row array:
/// what per_position hands to its estimator.
class RowSubset {
 public:
  /// The rows `rows` (increasing, each < log_size) of a log of `log_size` rows.
  RowSubset(std::vector<std::size_t> rows, std::size_t log_size)
      : rows_(std::move(rows)), log_size_(log_size) {}

  /// The selected row indices into the full log.
  const std::vector<std::size_t>& rows() const noexcept { return rows_; }
  std::size_t size() const noexcept { return rows_.size(); }

  /// The selected entries of a per-row array of the full log (a copy). Throws Error when the
  /// array does not have one entry per row of the log.
  template <class T, std::size_t Extent>
  std::vector<std::remove_cv_t<T>> of(std::span<T, Extent> values) const {
    detail::require(values.size() == log_size_, [&] {
      return "eval::RowSubset::of: the array has " + std::to_string(values.size()) +
             " values, the log has " + std::to_string(log_size_);
    });
    std::vector<std::remove_cv_t<T>> out;
    out.reserve(rows_.size());
    for (const std::size_t i : rows_) out.push_back(values[i]);
    return out;
  }
  /// of() for a vector.
  template <class T, class Allocator>
  std::vector<T> of(const std::vector<T, Allocator>& values) const {
    return of(std::span<const T>(values));
  }

 private:
  std::vector<std::size_t> rows_;
  std::size_t log_size_;
};

/// Runs an estimator separately for the rows of each position: `estimate(rows)` is called once
/// per distinct position with the RowSubset of the rows logged at it, and its results are
/// returned by position (ascending). The estimator takes the rows of whatever it needs, so every
/// estimator and any per-row input works:
///
///     auto by_position = eval::per_position(logs, [&](const eval::RowSubset& rows) {
///       return eval::ips(rows.of(logs), rows.of(target_probability), bootstrap);
///     });
///
/// Errors thrown by `estimate` propagate (e.g. replay for a position where nothing matches:
/// catch inside the estimator to skip such positions).
template <class F>
auto per_position(std::span<const LoggedDecision> logs, F&& estimate)
    -> std::map<std::size_t, std::invoke_result_t<F&, const RowSubset&>> {
  std::map<std::size_t, std::vector<std::size_t>> rows_at;
  for (std::size_t i = 0; i < logs.size(); ++i) rows_at[logs[i].position].push_back(i);
  std::map<std::size_t, std::invoke_result_t<F&, const RowSubset&>> out;
  for (auto& [position, rows] : rows_at) {
    out.emplace(position, estimate(RowSubset(std::move(rows), logs.size())));
  }
  return out;
}

}  // namespace marl_rec::eval
