// marl_rec — Pareto tools for multi-objective ranking: non-dominated sorting (Deb's fronts) and
// the exact hypervolume of a set of points (maximisation).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "marl_rec/core/error.hpp"

namespace marl_rec {

/// What MultiObjective::rank_pareto reports besides the list (reused from call to call).
struct ParetoSummary {
  /// The non-dominated front of every candidate (0 = the first front), from the objectives'
  /// values at the empty list; `not_ranked` for a candidate that could not be ranked (NaN
  /// relevance or a NaN objective value).
  std::vector<std::size_t> front_of{};
  /// The candidates of the first front (positions into RankingInput::items), ascending.
  std::vector<std::size_t> first_front{};
  /// The hypervolume of the first front's values at the empty list, reference point 0: the
  /// largest hypervolume any subset of the candidates has in that space.
  double hypervolume_front = 0.0;
  /// The hypervolume of the chosen items' values at the moment each was chosen (the values their
  /// explanation shows, before weighting; so a list-dependent objective such as Diversity counts
  /// with its in-list value), reference point 0. Not bounded by hypervolume_front: the spaces
  /// differ when a list-dependent value can rise as the list grows (Calibration: a y after an x
  /// completes a half-x, half-y history's mix; ExposureFairness: the other providers' shares fall
  /// when one is shown). With objectives whose values only fall (Diversity) or stay fixed, it is
  /// at most hypervolume_front.
  double hypervolume_list = 0.0;

  /// front_of's value for a candidate that was not ranked.
  static constexpr std::size_t not_ranked = std::numeric_limits<std::size_t>::max();
};

namespace detail {

// True when point a dominates point b (maximisation): a ≥ b everywhere, > somewhere.
inline bool dominates(const double* a, const double* b, std::size_t m) noexcept {
  bool better = false;
  for (std::size_t o = 0; o < m; ++o) {
    if (a[o] < b[o]) return false;
    if (a[o] > b[o]) better = true;
  }
  return better;
}

inline void check_points(const char* where, std::span<const double> values, std::size_t n, std::size_t m) {
  marl_rec::detail::require(m >= 1, [&] { return std::string(where) + ": m must be at least 1"; });
  marl_rec::detail::require(n <= values.size() / m && values.size() == n * m, [&] {
    return std::string(where) + ": values has " + std::to_string(values.size()) + " entries, " +
           std::to_string(n) + " x " + std::to_string(m) + " expected";
  });
  for (std::size_t i = 0; i < values.size(); ++i) {
    marl_rec::detail::require(!std::isnan(values[i]), [&] {
      return std::string(where) + ": value " + std::to_string(i % m) + " of point " + std::to_string(i / m) +
             " is NaN";
    });
  }
}

// Scratch of hypervolume(): the gathered rows of each slicing level (level k holds n·k doubles,
// k = 4, …, m), one index buffer (each level sorts before it recurses, so one is enough) and the
// pairs of the 2-D / 3-D base cases (leaves of the recursion, so one buffer is enough).
struct HypervolumeScratch {
  std::vector<double> rows;
  std::vector<std::size_t> order;
  std::vector<std::pair<double, double>> pairs;
};

// Sorts rows [0, n) of `points` (rows `stride` apart) by column c, descending, into `order`.
inline void order_by_column(const double* points, std::size_t n, std::size_t stride, std::size_t c,
                            std::vector<std::size_t>& order) {
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n),
            [&](std::size_t a, std::size_t b) { return points[a * stride + c] > points[b * stride + c]; });
}

// Adds point (x, y) to the 2-D staircase `stairs` — the non-dominated points seen so far, x
// ascending (so y descending) — and returns the area it adds to the region they dominate
// (reference (rx, ry), every point above it).
inline double add_to_staircase(std::vector<std::pair<double, double>>& stairs, std::size_t& size, double x,
                               double y, double rx, double ry) {
  // j: the first step with x ≥ the new x; it has the highest y of the steps to the right.
  std::size_t lo = 0, hi = size;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (stairs[mid].first < x) lo = mid + 1; else hi = mid;
  }
  const std::size_t j = lo;
  if (j < size && stairs[j].second >= y) return 0.0;  // dominated (or equal): nothing new
  // Walk left from x: over each interval the covered height is that of the step to its right;
  // the new point adds (y − height) × width until a step at least as high as y.
  double height = j < size ? stairs[j].second : ry;
  double right = x;
  double gain = 0.0;
  std::size_t k = j;  // steps [k, j) are dominated by the new point
  while (k > 0 && stairs[k - 1].second <= y) {
    --k;
    gain += (right - stairs[k].first) * (y - height);
    height = stairs[k].second;
    right = stairs[k].first;
  }
  const double left = k > 0 ? stairs[k - 1].first : rx;
  gain += (right - left) * (y - height);
  // Replace the dominated steps [k, end) by the new point (a step at the same x with a lower y is
  // dominated too).
  const std::size_t end = (j < size && stairs[j].first == x) ? j + 1 : j;
  if (end == k) {
    // Insert: shift the tail right by one.
    stairs[size] = {x, y};
    std::rotate(stairs.begin() + static_cast<std::ptrdiff_t>(k), stairs.begin() + static_cast<std::ptrdiff_t>(size),
                stairs.begin() + static_cast<std::ptrdiff_t>(size + 1));
    ++size;
  } else {
    stairs[k] = {x, y};
    std::copy(stairs.begin() + static_cast<std::ptrdiff_t>(end), stairs.begin() + static_cast<std::ptrdiff_t>(size),
              stairs.begin() + static_cast<std::ptrdiff_t>(k + 1));
    size -= end - k - 1;
  }
  return gain;
}

// The hypervolume of n rows of `points` (rows `stride` apart, the first k columns used), every
// coordinate already above the reference `ref`. `rows` has room for Σ_{j=4..k} n·j doubles.
inline double hypervolume_rows(const double* points, std::size_t n, std::size_t stride, std::size_t k,
                               const double* ref, double* rows, HypervolumeScratch& scratch) {
  if (n == 0) return 0.0;
  if (k == 1) {
    double best = ref[0];
    for (std::size_t i = 0; i < n; ++i) best = std::max(best, points[i * stride]);
    return best - ref[0];
  }
  auto& order = scratch.order;
  if (k <= 3) {
    // Sweep down the last axis, keeping the staircase of the points above the sweep in the first
    // two (for k = 2, a staircase in one dimension: the widest first coordinate so far).
    order_by_column(points, n, stride, k - 1, order);
    double measure = 0.0;  // of the current cross-section
    double volume = 0.0;
    std::size_t steps = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double* p = points + order[i] * stride;
      if (k == 2) {
        measure = std::max(measure, p[0] - ref[0]);
      } else {
        measure += add_to_staircase(scratch.pairs, steps, p[0], p[1], ref[0], ref[1]);
      }
      const double next = i + 1 < n ? points[order[i + 1] * stride + k - 1] : ref[k - 1];
      volume += measure * (p[k - 1] - next);
    }
    return volume;
  }
  // k ≥ 4: gather the rows sorted by the last coordinate, descending, then slice along it:
  // between the i-th and the (i+1)-th highest values the covered region is the
  // (k−1)-dimensional hypervolume of the first i+1 rows, times the slice depth.
  order_by_column(points, n, stride, k - 1, order);
  for (std::size_t i = 0; i < n; ++i) {
    const double* from = points + order[i] * stride;
    std::copy(from, from + k, rows + i * k);
  }
  double volume = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double top = rows[i * k + k - 1];
    const double bottom = i + 1 < n ? rows[(i + 1) * k + k - 1] : ref[k - 1];
    if (!(top > bottom)) continue;  // equal last coordinates: an empty slice
    volume += (top - bottom) * hypervolume_rows(rows, i + 1, k, k - 1, ref, rows + n * k, scratch);
  }
  return volume;
}

}  // namespace detail

/// Deb's fast non-dominated sort (NSGA-II), maximising every objective: `values` holds n points of
/// m values each, row-major; `front_of[i]` receives point i's front — 0 for the points no other
/// point dominates, 1 for those only front-0 points dominate, and so on. a dominates b when a ≥ b
/// in every objective and a > b in at least one; equal points share a front. Returns the number
/// of fronts (0 when n = 0).
///
/// O(m·n²) time: one pass counts each point's dominators; then each front's points, taken in
/// ascending index order, release the points they dominate (dominance is recomputed rather than
/// stored, so the memory is O(n), not Deb's O(n²) lists). Deterministic. Uses a thread_local
/// scratch buffer that only grows (no allocation after a first call of the same size). Throws
/// Error when m = 0, values.size() ≠ n·m or a value is NaN (±∞ are ordinary values).
inline std::size_t non_dominated_sort(std::span<const double> values, std::size_t n, std::size_t m,
                                      std::vector<std::size_t>& front_of) {
  detail::check_points("non_dominated_sort", values, n, m);
  front_of.assign(n, 0);
  if (n == 0) return 0;
  thread_local std::vector<std::size_t> scratch;
  if (scratch.size() < 2 * n) scratch.resize(2 * n);
  std::size_t* count = scratch.data();  // dominators not yet assigned to a front
  std::size_t* queue = count + n;       // points in front order
  const double* v = values.data();
  for (std::size_t q = 0; q < n; ++q) {
    count[q] = 0;
    for (std::size_t p = 0; p < n; ++p) count[q] += detail::dominates(v + p * m, v + q * m, m) ? 1 : 0;
  }
  std::size_t tail = 0;
  for (std::size_t q = 0; q < n; ++q) {
    if (count[q] == 0) queue[tail++] = q;
  }
  std::size_t head = 0;
  std::size_t fronts = 0;
  while (head < tail) {
    const std::size_t end = tail;  // the current front is queue[head, end)
    for (; head < end; ++head) {
      const std::size_t p = queue[head];
      front_of[p] = fronts;
      for (std::size_t q = 0; q < n; ++q) {
        if (count[q] > 0 && detail::dominates(v + p * m, v + q * m, m) && --count[q] == 0) queue[tail++] = q;
      }
    }
    // Keep each front in ascending index order (it was filled in release order).
    std::sort(queue + end, queue + tail);
    ++fronts;
  }
  return fronts;
}

/// Largest number of objectives hypervolume() accepts.
inline constexpr std::size_t hypervolume_max_objectives = 6;
/// hypervolume_max_points[m]: the most points above the reference hypervolume() accepts in m
/// objectives (each limit costs about a second at -O2 on one core, worst case measured on points
/// that are all non-dominated); no limit up to m = 3.
inline constexpr std::size_t hypervolume_max_points[hypervolume_max_objectives + 1] = {
    0, std::numeric_limits<std::size_t>::max(), std::numeric_limits<std::size_t>::max(),
    std::numeric_limits<std::size_t>::max(), 3000, 400, 150};

/// The exact hypervolume of n points (m values each, row-major) with respect to `reference`
/// (m values), maximising: the measure of the union of the boxes [reference, point]. A point that
/// does not exceed the reference in every objective adds nothing (its box is empty).
///
/// m = 1: the largest excess. m = 2: a sweep down the second axis after a sort, O(n log n).
/// m = 3: a sweep down the third axis that keeps the 2-D staircase of the points above it in a
/// sorted array and adds each point's new area (O(n log n) plus the array's shifts, O(n²) moves
/// at worst; 10⁶ points take under 2 s). m ≥ 4: Hypervolume by Slicing Objectives (While et al.
/// 2006) — sort by the last objective and sum, over the slices between consecutive values, the
/// slice depth times the (m−1)-dimensional hypervolume of the points above it, down to the 3-D
/// sweep: O(n^(m−2) log n). Limits (Error beyond): m ≤ 6, and at most
/// hypervolume_max_points[m] points above the reference (m = 4: 3000, 5: 400, 6: 150). Uses
/// thread_local scratch that only grows (O(m²·n) doubles). Throws Error when m = 0, a size is
/// wrong, a value is NaN or the reference is not finite; an infinite point coordinate yields ∞
/// (or NaN for ∞ × 0).
inline double hypervolume(std::span<const double> points, std::size_t n, std::size_t m,
                          std::span<const double> reference) {
  detail::check_points("hypervolume", points, n, m);
  marl_rec::detail::require(reference.size() == m, [&] {
    return "hypervolume: the reference has " + std::to_string(reference.size()) + " values, the points " +
           std::to_string(m);
  });
  for (std::size_t o = 0; o < m; ++o) {
    marl_rec::detail::require(std::isfinite(reference[o]), [&] {
      return "hypervolume: reference value " + std::to_string(o) + " is not finite";
    });
  }
  marl_rec::detail::require(m <= hypervolume_max_objectives, [&] {
    return "hypervolume: " + std::to_string(m) + " objectives; the exact algorithm is limited to " +
           std::to_string(hypervolume_max_objectives);
  });
  // Keep the points whose box is not empty.
  std::size_t above = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bool inside = true;
    for (std::size_t o = 0; o < m; ++o) inside = inside && points[i * m + o] > reference[o];
    above += inside ? 1 : 0;
  }
  marl_rec::detail::require(above <= hypervolume_max_points[m], [&] {
    return "hypervolume: " + std::to_string(above) + " points in " + std::to_string(m) +
           " objectives; the exact algorithm is limited to " + std::to_string(hypervolume_max_points[m]);
  });
  thread_local detail::HypervolumeScratch scratch;
  // The kept points, then the slicing levels' rows.
  std::size_t need = above * m;
  for (std::size_t k = 4; k <= m; ++k) need += above * k;
  if (scratch.rows.size() < need) scratch.rows.resize(need);
  if (scratch.order.size() < above) scratch.order.resize(above);
  if (scratch.pairs.size() < above + 1) scratch.pairs.resize(above + 1);
  double* kept = scratch.rows.data();
  std::size_t r = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bool inside = true;
    for (std::size_t o = 0; o < m; ++o) inside = inside && points[i * m + o] > reference[o];
    if (!inside) continue;
    std::copy(points.data() + i * m, points.data() + i * m + m, kept + r * m);
    ++r;
  }
  return detail::hypervolume_rows(kept, above, m, m, reference.data(), kept + above * m, scratch);
}

}  // namespace marl_rec
