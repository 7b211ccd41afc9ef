// marl_rec — the machinery LinUcb and LinThompson share: the ridge-regression posterior of one
// parameter vector (RidgePosterior), and the linear-bandit core that owns one posterior for all
// items (shared mode) or one per item (disjoint mode), checks contexts, scores candidates,
// learns, and saves itself (LinearBanditCore).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/feature_map.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/quadratic_forms.hpp"

namespace marl_rec {

/// How a linear bandit (LinUcb, LinThompson) shares its parameters among items. Spelled
/// `LinUcbConfig::Mode` / `LinThompsonConfig::Mode` in user code.
enum class LinearMode {
  /// One ridge regression (A, b) per item over φ (typically FeatureMap::context): items learn
  /// nothing from each other.
  disjoint,
  /// One ridge regression for all items: what one item teaches moves every item's score.
  shared,
};

/// The input sizes a linear bandit has been fixed to: `context` values in Context::features and
/// `item` values per row of Context::items (0 for an input its feature map does not read), and
/// `phi` = feature_dim(map, context, item). All 0 until the first update (or the sizing ctor).
struct LinearDims {
  std::size_t context = 0;
  std::size_t item = 0;
  std::size_t phi = 0;
};

/// How close a linear bandit's maintained inverses are to exact (LinUcb::diagnostics(),
/// LinThompson::diagnostics()): a check for long runs and monitoring, not for the hot path.
struct LinearDiagnostics {
  /// Posteriors examined: 1 in shared mode once sized (0 before), one per arm in disjoint mode.
  std::size_t posteriors = 0;
  /// The largest max_ij |(A Â⁻¹ − I)_ij| over them: A exact (double), Â⁻¹ the float inverse
  /// the scores use. Grows with cond(A) even for a correctly rounded Â⁻¹ (float storage).
  double inverse_residual = 0.0;
  /// The largest ‖Â⁻¹ − A⁻¹‖_F / ‖A⁻¹‖_F, A⁻¹ computed from A in double (Cholesky): the drift of
  /// the Sherman–Morrison updates since the last re-inversion, plus float rounding (≈ 1e-7).
  /// Infinity when A is not numerically positive definite.
  double inverse_error = 0.0;
  /// True when every A, b, Â⁻¹ and θ holds only finite values.
  bool finite = true;
};

namespace detail {

/// The largest φ dimension a linear bandit accepts: its A (double) then takes 128 MB. It also
/// bounds what a load allocates from the sizes a stream claims.
inline constexpr std::size_t linear_max_dim = 4096;

/// The largest item index + 1 disjoint mode accepts. Arms are found through a table indexed by
/// item (one 4-byte slot per index up to the largest one seen), the fastest lookup in score();
/// the bound keeps that table under 64 MB whatever index a caller passes.
inline constexpr std::size_t linear_max_disjoint_items = std::size_t{1} << 24;

/// Per-thread scratch of the const scoring paths: buffers only grow, so after a first call of a
/// given shape no call allocates. One set per thread keeps score() thread-safe.
struct LinearScratch {
  std::vector<float> theta;  // a sampled θ̃ (LinThompson, shared mode)
  std::vector<double> z;     // the normal draws behind θ̃
  std::vector<float> w;      // Θᵀx for the cross map (da values)
  std::vector<float> t;      // A⁻¹[:, :dx] x (concat / context / item maps)
  std::vector<float> u;      // da rows of Σ_i x_i A⁻¹[i·da + j, :] (cross map)
  std::vector<float> n;      // N = (x ⊗ I)ᵀ A⁻¹ (x ⊗ I), da × da (cross map)
  std::vector<float> y;      // one matrix-vector product
  std::vector<float> phi;    // one materialised φ (disjoint mode)
  std::vector<float> q;      // one block of candidates' quadratic forms (shared mode)
  simd::QuadraticForm form;  // the per-candidate part of φᵀA⁻¹φ (shared mode)
  // The pruned top k of upper bounds (LinearBanditCore::upper_bound_top_k):
  std::vector<float> scores;           // per candidate: the mean, then (if computed) its bound
  std::vector<float> bounds;           // per candidate: an upper bound of its exact bound
  std::vector<float> norms;            // one block of squared item norms
  std::vector<std::size_t> positions;  // the seed: positions of the highest bounds, sorted
  std::vector<float> gathered;         // one block of item rows whose bonus is computed
  std::vector<std::size_t> survivors;  // positions whose bound reaches the seed's threshold
  std::vector<std::size_t> computed;   // the seed and the survivors, in position order
  std::vector<ScoredItem> seed;        // the candidates of highest bound, then their top k
  std::vector<float> seed_scores;      // the seed's exact bounds, then all computed ones
  std::vector<float> m;                // M of the form, full and symmetric (power iteration)
  std::vector<float> v;                // the power iteration's vector
  std::vector<float> mv;               // M v
  std::vector<double> chol;            // the Cholesky factor of μI − M
  /// Candidates whose bonus the last upper_bound_top_k call on this thread computed exactly (all
  /// of them on the full path): for tests and benchmarks.
  std::size_t exact_bonuses = 0;
  float pruned_base = 0.0f;  // the bonus's base of the pruned top k in progress
};

/// The thread's scratch, one per nesting level: user code that a model calls while its scratch
/// is in use (the exclusion of upper_bound_top_k) runs one level deeper (DeeperLinearScratch), so
/// a LinUcb call made from inside it gets scratch of its own instead of overwriting its caller's.
struct LinearScratchLevels {
  std::vector<std::unique_ptr<LinearScratch>> levels;
  std::size_t depth = 0;
};

inline LinearScratchLevels& linear_scratch_levels() {
  static thread_local LinearScratchLevels levels;
  return levels;
}

/// The scratch of the thread's current level (allocated on a level's first use).
inline LinearScratch& linear_scratch() {
  LinearScratchLevels& l = linear_scratch_levels();
  while (l.levels.size() <= l.depth) l.levels.push_back(std::make_unique<LinearScratch>());
  return *l.levels[l.depth];
}

/// While alive, linear_scratch() is one level deeper on this thread.
class DeeperLinearScratch {
 public:
  DeeperLinearScratch() noexcept { ++linear_scratch_levels().depth; }
  ~DeeperLinearScratch() { --linear_scratch_levels().depth; }
  DeeperLinearScratch(const DeeperLinearScratch&) = delete;
  DeeperLinearScratch& operator=(const DeeperLinearScratch&) = delete;
};

/// Float's and double's unit roundoffs, and γ_n = n·u / (1 − n·u), the relative error bound of a
/// sum of n rounded operations (Higham, Accuracy and Stability of Numerical Algorithms, §3.1).
inline constexpr double float_unit = 0x1p-24;
inline constexpr double double_unit = 0x1p-53;
constexpr double rounding_gamma(double n, double unit) noexcept { return n * unit / (1.0 - n * unit); }

/// A rigorous upper bound on the largest eigenvalue of the symmetric d × d matrix `m` (row-major,
/// finite floats), no larger than `gershgorin` (a bound the caller has: max_j Σ_l |m_jl|).
///
/// Power iteration (in float, through simd::score) estimates λmax from below; μ slightly above
/// the estimate is then certified by a Cholesky factorisation of B = μI − M in double: when it
/// runs to completion, the computed factor R satisfies RᵀR = B + ΔB with |ΔB| ≤ γ_{d+1}|Rᵀ||R|
/// (Higham, Thm 10.3, whatever B is), and RᵀR is positive semidefinite, so
/// λmax(M) ≤ μ + ‖ΔB‖₂ + (the rounding of μ − m_jj) ≤ μ + γ_{d+1}‖R‖_F² + u·max_j |B_jj|.
/// An uncertified μ is raised (by 1/128, 1/16, ×2), a certified one lowered by bisection towards
/// the last refuted one, and without any certified μ below it the answer is `gershgorin`. O(d³);
/// uses the thread's scratch, allocation-free once grown.
inline double largest_eigenvalue_bound(std::span<const float> m, std::size_t d, double gershgorin,
                                       LinearScratch& s) {
  if (d == 0) return 0.0;
  if (s.v.size() < d) s.v.resize(d);
  if (s.mv.size() < d) s.mv.resize(d);
  if (s.chol.size() < d * d) s.chol.resize(d * d);
  const std::span<float> v(s.v.data(), d);
  const std::span<float> mv(s.mv.data(), d);
  const MatrixView matrix(m.first(d * d), d, d);
  // A fixed, uneven start (a start orthogonal to the top eigenvector only costs pruning power:
  // the certificate below does not trust the estimate).
  for (std::size_t j = 0; j < d; ++j) v[j] = 1.0f + 0.125f * static_cast<float>(j % 7);
  simd::l2_normalize(v);
  // 48 steps: the Rayleigh quotient is then within about 1% of λmax on the learned A⁻¹ blocks
  // measured (its convergence depends on the spread of the top eigenvalues, not only their gap).
  double estimate = 0.0;
  for (int step = 0; step < 48; ++step) {
    simd::score(v, matrix, mv);
    estimate = std::max(estimate, static_cast<double>(simd::dot(v, mv)));
    if (!simd::l2_normalize(mv)) break;  // M v = 0 (or overflowed): keep the estimate
    std::copy(mv.begin(), mv.end(), v.begin());
  }
  if (!std::isfinite(estimate)) estimate = 0.0;
  const double floor = gershgorin * 0x1p-20;  // μ > 0 even when M ≈ 0
  double* r = s.chol.data();
  // The certified bound for μ, or +∞ when the factorisation of μI − M breaks down.
  const auto certify = [&](double mu) {
    double largest_diagonal = 0.0;
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j < d; ++j) r[i * d + j] = j < i ? 0.0 : -static_cast<double>(m[i * d + j]);
      r[i * d + i] += mu;
      largest_diagonal = std::max(largest_diagonal, std::abs(r[i * d + i]));
    }
    double frobenius2 = 0.0;
    for (std::size_t k = 0; k < d; ++k) {
      const double pivot = r[k * d + k];
      if (!(pivot > 0.0) || !std::isfinite(pivot)) return std::numeric_limits<double>::infinity();
      const double rkk = std::sqrt(pivot);
      const double inv = 1.0 / rkk;
      r[k * d + k] = rkk;
      frobenius2 += pivot;
      for (std::size_t j = k + 1; j < d; ++j) {
        r[k * d + j] *= inv;
        frobenius2 += r[k * d + j] * r[k * d + j];
      }
      for (std::size_t i = k + 1; i < d; ++i) {
        const double rki = r[k * d + i];
        for (std::size_t j = i; j < d; ++j) r[i * d + j] -= rki * r[k * d + j];
      }
    }
    // The margin's own rounding (a few double operations on it and μ) is covered by 1 + 2⁻²⁰.
    const double margin = rounding_gamma(static_cast<double>(d + 1), double_unit) * frobenius2 +
                          double_unit * largest_diagonal;
    return (mu + margin) * (1.0 + 0x1p-20);
  };
  // μ above the estimate by growing steps; once one is certified, three bisection steps towards
  // the last that was not (each pruned candidate is worth more than a factorisation's d³/6).
  double refuted = estimate;
  for (const double raise : {1.0 / 128.0, 1.0 / 16.0, 1.0}) {
    double mu = estimate * (1.0 + raise) + floor;
    if (!(mu < gershgorin)) break;
    double bound = certify(mu);
    if (!std::isfinite(bound)) {
      refuted = mu;
      continue;
    }
    for (int step = 0; step < 3; ++step) {
      const double middle = 0.5 * (refuted + mu);
      const double tighter = certify(middle);
      if (std::isfinite(tighter)) {
        mu = middle;
        bound = tighter;
      } else {
        refuted = middle;
      }
    }
    return std::min(gershgorin, bound);
  }
  return gershgorin;
}

/// Coefficients of a rigorous bound on what shared-mode scoring computes for the bonus² of an
/// item row a from a prepared QuadraticForm q(a) = aᵀMa + 2c·a and a float `base`:
/// fl(base + fl(q(a))) ≤ base + u|base| + quadratic·‖a‖² + linear·‖a‖ (real arithmetic) for
/// every row a whose float evaluation does not overflow (see LinearBanditCore's pruning, which
/// also bounds the magnitudes: `magnitude`·‖a‖² bounds |aᵀ|M||a|| and every partial sum of the
/// kernel, up to the linear term). All +∞ when M or c holds a non-finite value.
struct QuadraticFormBound {
  double quadratic = 0.0;
  double linear = 0.0;
  double magnitude = 0.0;
};

/// The QuadraticFormBound of `form` (O(d³), see largest_eigenvalue_bound). Error analysis of
/// simd::quadratic_forms: each row's q is a sum of the terms a_j N_jl a_l and 2c_j a_j through at
/// most 2d + 136 rounded operations (z's FMAs, the accumulation over column batches, the lane
/// reduction), so |fl(q) − q| ≤ γ (|a|ᵀ|M||a| + 2|c|·|a|) ≤ γ (G‖a‖² + 2‖c‖‖a‖) with
/// G = max_j Σ_l |M_jl| ≥ λmax(|M|); and q ≤ λmax(M)⁺‖a‖² + 2‖c‖‖a‖. Adding base rounds once
/// more: u|base + fl(q)| ≤ u|base| + u(1 + γ)(G‖a‖² + 2‖c‖‖a‖).
inline QuadraticFormBound quadratic_form_bound(const simd::QuadraticForm& form, LinearScratch& s) {
  constexpr double infinity = std::numeric_limits<double>::infinity();
  const std::size_t d = form.dim();
  if (s.m.size() < d * d) s.m.resize(d * d);
  float* m = s.m.data();
  bool finite = true;
  // M from N: M_jj = N_jj, M_jl = M_lj = N_jl / 2 (halving the doubled float is exact).
  for (std::size_t j = 0; j < d; ++j) {
    const std::span<const float> row = form.doubled_upper_row(j);
    m[j * d + j] = row[j];
    finite = finite && std::isfinite(row[j]);
    for (std::size_t l = j + 1; l < d; ++l) {
      const float value = 0.5f * row[l];
      m[j * d + l] = value;
      m[l * d + j] = value;
      finite = finite && std::isfinite(value);
    }
  }
  double c2 = 0.0;
  for (std::size_t j = 0; j < d; ++j) {
    const double c = 0.5 * static_cast<double>(form.doubled_linear()[j]);
    c2 += c * c;
  }
  finite = finite && std::isfinite(c2);
  if (!finite) return {infinity, infinity, infinity};
  double gershgorin = 0.0;
  for (std::size_t j = 0; j < d; ++j) {
    double sum = 0.0;
    for (std::size_t l = 0; l < d; ++l) sum += std::abs(static_cast<double>(m[j * d + l]));
    gershgorin = std::max(gershgorin, sum);
  }
  // Sums of d non-negative doubles: relative error below γ_d(double) ≪ 2⁻²⁰.
  gershgorin *= 1.0 + 0x1p-20;
  const double c_norm = std::sqrt(c2) * (1.0 + 0x1p-20);
  const double lambda = largest_eigenvalue_bound(std::span<const float>(m, d * d), d, gershgorin, s);
  const double gamma = rounding_gamma(static_cast<double>(2 * d + 136), float_unit);
  const double slack = 1.0 + 0x1p-20;  // this function's own double roundings
  return {.quadratic = (std::max(lambda, 0.0) + gamma * gershgorin + float_unit * (1.0 + gamma) * gershgorin) * slack,
          .linear = 2.0 * (1.0 + gamma) * (1.0 + float_unit) * c_norm * slack,
          .magnitude = gershgorin * slack};
}

/// Update-time work buffers, owned by the model (update is not const, so no thread_local):
/// sized once when the model's dimension is fixed.
struct RidgeWork {
  std::vector<double> r;      // a Cholesky factor being computed (d × d)
  std::vector<double> r_inv;  // its inverse (d × d)
  std::vector<double> x;      // the vector of a rank-1 Cholesky update (d)
  std::vector<float> phi;     // φ of the update (d)
  std::vector<float> u;       // A⁻¹φ (d)

  void reserve(std::size_t d) {
    if (x.size() >= d) return;
    r.assign(d * d, 0.0);
    r_inv.assign(d * d, 0.0);
    x.assign(d, 0.0);
    phi.assign(d, 0.0f);
    u.assign(d, 0.0f);
  }
};

/// The ridge-regression posterior of one parameter vector θ ∈ R^d: A = λI + Σ φφᵀ, b = Σ rφ,
/// θ = A⁻¹b, kept current one observation at a time.
///
/// Precision: A and b accumulate in double (exact enough to re-invert from at any time). A⁻¹
/// and θ are float: score() reads A⁻¹ for every candidate's bonus, and float halves the bytes
/// and doubles the SIMD width of that hot path. Each update applies Sherman–Morrison in float
/// (A⁻¹ -= uuᵀ / (1 + φᵀu), u = A⁻¹φ; θ += u (r − φᵀθ) / (1 + φᵀu)); its rounding drift is
/// bounded by an exact re-inversion from the double A every `refactor_every` updates (and
/// whenever 1 + φᵀA⁻¹φ < 1/2, impossible in exact arithmetic, shows the float inverse has
/// drifted badly). Float A⁻¹ bounds the relative accuracy of φᵀA⁻¹φ along well-explored
/// directions to about cond(A) × 1e-7 (an absolute bonus error of at most ~3e-4 of the prior's
/// bonus): ample for ranking, and the reason features should be scaled to similar magnitudes.
/// The re-inversion is a Cholesky factorisation in double, written here rather
/// than taken from Eigen because Eigen's LLT, its rankUpdate and its triangular solves allocate
/// temporaries, and update() must not allocate unless the model grows.
///
/// With `keep_factor`, the upper Cholesky factor R of A (A = RᵀR, double) is kept current too,
/// by an O(d²) rank-1 update per observation, for sampling θ̃ = θ + v R⁻¹z ~ N(θ, v² A⁻¹).
/// Measured against refactorising: the rank-1 update costs 2–3 µs at d = 64 where Eigen's LLT
/// of A takes about 20 µs (about equal at d = 8, already 3–5 times cheaper at d = 32).
class RidgePosterior {
 public:
  /// The prior: A = λI, b = 0, θ = 0, A⁻¹ = I/λ.
  RidgePosterior(std::size_t dim, double ridge, bool keep_factor)
      : dim_(dim), a_(dim * dim, 0.0), b_(dim, 0.0), inverse_(dim * dim, 0.0f), theta_(dim, 0.0f) {
    const auto inv = static_cast<float>(1.0 / ridge);
    for (std::size_t i = 0; i < dim; ++i) {
      a_[i * dim + i] = ridge;
      inverse_[i * dim + i] = inv;
    }
    if (keep_factor) {
      factor_.assign(dim * dim, 0.0);
      const double root = std::sqrt(ridge);
      for (std::size_t i = 0; i < dim; ++i) factor_[i * dim + i] = root;
    }
  }

  std::size_t dim() const noexcept { return dim_; }
  /// Observations learned.
  std::uint64_t updates() const noexcept { return updates_; }
  /// θ = A⁻¹b.
  std::span<const float> theta() const noexcept { return theta_; }
  /// A⁻¹ (d × d, exactly symmetric).
  MatrixView inverse() const { return MatrixView(std::span<const float>(inverse_), dim_, dim_); }

  /// φᵀA⁻¹φ, using y (d floats) as scratch.
  float quadratic_form(std::span<const float> phi, std::span<float> y) const {
    simd::score(phi, inverse(), y);
    return simd::dot(phi, y);
  }

  /// u = A⁻¹φ; returns 1 + φᵀu (the Sherman–Morrison denominator).
  float gain(std::span<const float> phi, std::span<float> u) const {
    simd::score(phi, inverse(), u);
    return 1.0f + simd::dot(phi, u);
  }

  /// Learns (φ, reward), given u = A⁻¹φ and c = gain(φ, u) (both finite). Does not allocate.
  void add(std::span<const float> phi, double reward, std::span<const float> u, float c,
           std::size_t refactor_every, RidgeWork& work) noexcept {
    const std::size_t d = dim_;
    const double error = reward - static_cast<double>(simd::dot(phi, theta_));
    for (std::size_t i = 0; i < d; ++i) {
      const double pi = phi[i];
      double* row = a_.data() + i * d;
      for (std::size_t j = i; j < d; ++j) row[j] += pi * static_cast<double>(phi[j]);
      b_[i] += reward * pi;
    }
    ++updates_;
    ++since_refactor_;
    const bool due = (refactor_every != 0 && since_refactor_ >= refactor_every) || c < 0.5f;
    if (due && refactor(work)) return;
    if (!factor_.empty()) cholesky_rank1_update(phi, work.x);
    // A re-inversion that failed (A numerically singular) for a badly drifted inverse: better
    // leave A⁻¹ and θ as they are than amplify the drift; the next re-inversion fixes them.
    if (c < 0.5f) return;
    simd::symmetric_rank1_sub(MutableMatrixView(std::span<float>(inverse_), d, d), u, c);
    simd::axpy(static_cast<float>(error / static_cast<double>(c)), u, std::span<float>(theta_));
  }

  /// Recomputes A⁻¹, θ (and the factor) exactly from A and b, in double. Returns false, changing
  /// nothing, when A is not numerically positive definite (a Cholesky pivot ≤ 0).
  bool refactor(RidgeWork& work) noexcept {
    const std::size_t d = dim_;
    double* r = work.r.data();
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j < d; ++j) r[i * d + j] = j >= i ? a_[i * d + j] : 0.0;
    }
    // Right-looking Cholesky, row-oriented: A = RᵀR with R upper triangular.
    for (std::size_t k = 0; k < d; ++k) {
      const double pivot = r[k * d + k];
      if (!(pivot > 0.0) || !std::isfinite(pivot)) return false;
      const double rkk = std::sqrt(pivot);
      const double inv = 1.0 / rkk;
      r[k * d + k] = rkk;
      for (std::size_t j = k + 1; j < d; ++j) r[k * d + j] *= inv;
      for (std::size_t i = k + 1; i < d; ++i) {
        const double rki = r[k * d + i];
        for (std::size_t j = i; j < d; ++j) r[i * d + j] -= rki * r[k * d + j];
      }
    }
    // R⁻¹ (upper), row by row from the bottom: row i = (e_i − Σ_{k>i} R[i,k] R⁻¹[k,:]) / R[i,i].
    double* ri = work.r_inv.data();
    for (std::size_t i = d; i-- > 0;) {
      double* row = ri + i * d;
      std::fill(row, row + d, 0.0);
      row[i] = 1.0;
      for (std::size_t k = i + 1; k < d; ++k) {
        const double c = r[i * d + k];
        const double* rk = ri + k * d;
        for (std::size_t j = k; j < d; ++j) row[j] -= c * rk[j];
      }
      const double inv = 1.0 / r[i * d + i];
      for (std::size_t j = i; j < d; ++j) row[j] *= inv;
    }
    // A⁻¹ = R⁻¹R⁻ᵀ: entry (i, j), j ≥ i, is the dot of rows i and j of R⁻¹ from column j on.
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = i; j < d; ++j) {
        double s = 0.0;
        for (std::size_t k = j; k < d; ++k) s += ri[i * d + k] * ri[j * d + k];
        inverse_[i * d + j] = static_cast<float>(s);
        inverse_[j * d + i] = static_cast<float>(s);
      }
    }
    // θ = R⁻¹(R⁻ᵀb): y = R⁻ᵀb, then θ = R⁻¹y.
    double* y = work.x.data();
    for (std::size_t k = 0; k < d; ++k) {
      double s = 0.0;
      for (std::size_t i = 0; i <= k; ++i) s += ri[i * d + k] * b_[i];
      y[k] = s;
    }
    for (std::size_t i = 0; i < d; ++i) {
      double s = 0.0;
      for (std::size_t k = i; k < d; ++k) s += ri[i * d + k] * y[k];
      theta_[i] = static_cast<float>(s);
    }
    if (!factor_.empty()) factor_.swap(work.r);  // same size: no allocation
    since_refactor_ = 0;
    return true;
  }

  /// θ̃ = θ + v R⁻¹z with z ~ N(0, I) drawn from `rng` (d draws, in index order), so that
  /// θ̃ ~ N(θ, v² A⁻¹). Needs keep_factor. `z` and `out` hold d values.
  void sample_theta(Rng& rng, float v, std::span<double> z, std::span<float> out) const noexcept {
    const std::size_t d = dim_;
    for (std::size_t i = 0; i < d; ++i) z[i] = rng.normal();
    // Back substitution R w = z, in place (R upper, rows contiguous).
    for (std::size_t i = d; i-- > 0;) {
      const double* row = factor_.data() + i * d;
      double s = z[i];
      for (std::size_t j = i + 1; j < d; ++j) s -= row[j] * z[j];
      z[i] = s / row[i];
    }
    for (std::size_t i = 0; i < d; ++i) {
      out[i] = static_cast<float>(static_cast<double>(theta_[i]) + static_cast<double>(v) * z[i]);
    }
  }

  /// Adds this posterior to `out` (see LinearDiagnostics). O(d³) in double; allocates.
  void diagnose(LinearDiagnostics& out) const {
    const std::size_t d = dim_;
    ++out.posteriors;
    const auto finite = [](const auto& values) {
      return std::all_of(values.begin(), values.end(), [](auto v) { return std::isfinite(v); });
    };
    out.finite = out.finite && finite(a_) && finite(b_) && finite(inverse_) && finite(theta_);
    // The full symmetric A from its upper triangle.
    std::vector<double> a(d * d);
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = i; j < d; ++j) a[i * d + j] = a[j * d + i] = a_[i * d + j];
    }
    double residual = 0.0;
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j < d; ++j) {
        double s = i == j ? -1.0 : 0.0;
        for (std::size_t k = 0; k < d; ++k) {
          s += a[i * d + k] * static_cast<double>(inverse_[k * d + j]);
        }
        residual = std::max(residual, std::abs(s));
      }
    }
    out.inverse_residual = std::max(out.inverse_residual, residual);
    // The exact inverse: A = LLᵀ (L lower, in place), then solve A x = e_j column by column.
    std::vector<double> l = a;
    for (std::size_t k = 0; k < d; ++k) {
      double pivot = l[k * d + k];
      for (std::size_t m = 0; m < k; ++m) pivot -= l[k * d + m] * l[k * d + m];
      if (!(pivot > 0.0) || !std::isfinite(pivot)) {
        out.inverse_error = std::numeric_limits<double>::infinity();
        return;
      }
      l[k * d + k] = std::sqrt(pivot);
      for (std::size_t i = k + 1; i < d; ++i) {
        double s = l[i * d + k];
        for (std::size_t m = 0; m < k; ++m) s -= l[i * d + m] * l[k * d + m];
        l[i * d + k] = s / l[k * d + k];
      }
    }
    double difference = 0.0;
    double norm = 0.0;
    std::vector<double> x(d);
    for (std::size_t j = 0; j < d; ++j) {
      for (std::size_t i = 0; i < d; ++i) {  // L y = e_j
        double s = i == j ? 1.0 : 0.0;
        for (std::size_t m = 0; m < i; ++m) s -= l[i * d + m] * x[m];
        x[i] = s / l[i * d + i];
      }
      for (std::size_t i = d; i-- > 0;) {  // Lᵀ x = y
        double s = x[i];
        for (std::size_t m = i + 1; m < d; ++m) s -= l[m * d + i] * x[m];
        x[i] = s / l[i * d + i];
      }
      for (std::size_t i = 0; i < d; ++i) {
        const double e = static_cast<double>(inverse_[i * d + j]) - x[i];
        difference += e * e;
        norm += x[i] * x[i];
      }
    }
    out.inverse_error = std::max(out.inverse_error, std::sqrt(difference / norm));
  }

  /// Writes the posterior's fields.
  void write(io::ModelWriter& out) const {
    out.u64("updates", updates_);
    out.u64("since_refactor", since_refactor_);
    out.doubles("A", a_);
    out.doubles("b", b_);
    out.floats("A_inv", inverse_);
    out.floats("theta", theta_);
    if (!factor_.empty()) out.doubles("cholesky", factor_);
  }

  /// Reads what write() wrote for a posterior of dimension `dim`; checks that every value is
  /// finite and the factor's diagonal positive. `where` prefixes error messages.
  static RidgePosterior read(io::ModelReader& in, const std::string& where, std::size_t dim,
                             double ridge, bool keep_factor) {
    RidgePosterior p(0, ridge, false);
    p.dim_ = dim;
    p.updates_ = in.u64("updates");
    p.since_refactor_ = in.u64("since_refactor", 0, p.updates_);
    p.a_ = in.doubles("A", dim * dim);
    p.b_ = in.doubles("b", dim);
    p.inverse_ = in.floats("A_inv", dim * dim);
    p.theta_ = in.floats("theta", dim);
    if (keep_factor) p.factor_ = in.doubles("cholesky", dim * dim);
    const auto all_finite = [](const auto& values) {
      return std::all_of(values.begin(), values.end(), [](auto v) { return std::isfinite(v); });
    };
    const auto require_finite = [&](bool ok, const char* field) {
      marl_rec::detail::require(
          ok, [&] { return where + ": field '" + field + "' holds a non-finite value"; });
    };
    require_finite(all_finite(p.a_), "A");
    require_finite(all_finite(p.b_), "b");
    require_finite(all_finite(p.inverse_), "A_inv");
    require_finite(all_finite(p.theta_), "theta");
    require_finite(all_finite(p.factor_), "cholesky");
    for (std::size_t i = 0; keep_factor && i < dim; ++i) {
      marl_rec::detail::require(p.factor_[i * dim + i] > 0.0, [&] {
        return where + ": field 'cholesky' has a non-positive diagonal entry at " +
               std::to_string(i);
      });
    }
    return p;
  }

 private:
  // R ← the upper Cholesky factor of RᵀR + φφᵀ (Givens-style rank-1 update, O(d²), stable for
  // a positive update). x: d doubles of scratch.
  void cholesky_rank1_update(std::span<const float> phi, std::span<double> x) noexcept {
    const std::size_t d = dim_;
    for (std::size_t i = 0; i < d; ++i) x[i] = phi[i];
    for (std::size_t k = 0; k < d; ++k) {
      double* row = factor_.data() + k * d;
      const double rkk = row[k];
      const double xk = x[k];
      if (xk == 0.0) continue;  // nothing to rotate into this row
      const double r = std::sqrt(rkk * rkk + xk * xk);
      const double c = r / rkk;
      const double s = xk / rkk;
      const double inv_c = rkk / r;
      row[k] = r;
      for (std::size_t j = k + 1; j < d; ++j) {
        row[j] = (row[j] + s * x[j]) * inv_c;
        x[j] = c * x[j] - s * row[j];
      }
    }
  }

  std::size_t dim_ = 0;
  std::vector<double> a_;  // A: only the upper triangle (j ≥ i) is kept; the lower one stays 0
  std::vector<double> b_;
  std::vector<float> inverse_;
  std::vector<float> theta_;
  std::vector<double> factor_;
  std::uint64_t updates_ = 0;
  std::uint64_t since_refactor_ = 0;
};

/// What LinUcb and LinThompson have in common: sizing, checks, the two parameter-sharing modes,
/// the scoring paths of every feature map, update, save and load. The public classes add their
/// name, their width parameter (α or v) and the concept's member functions.
///
/// Scoring in shared mode never materialises φ per candidate:
/// - mean, cross map: θ·(x ⊗ a) = aᵀ(Θᵀx): w = Θᵀx once (d work), then w·a per candidate;
///   concat/context/item: θ_x·x once, θ_a·a per candidate.
/// - bonus, cross map: φᵀA⁻¹φ = aᵀNa with N = (x ⊗ I)ᵀA⁻¹(x ⊗ I) (da × da), computed once per
///   call in d² work (da · dx row axpys of A⁻¹). concat (context and item are its da = 0 /
///   dx = 0 cases): xᵀA_xx x + 2 (A_ax x)·a + aᵀA_aa a, with the first two factors computed once
///   per call. The per-candidate part is one simd::QuadraticForm (the upper triangle of N or
///   A_aa: da²/2 multiply-adds per candidate, blocked over candidates in registers), evaluated
///   block by block of candidates right after their means, so that each item row is read from
///   memory once per call.
/// Disjoint mode materialises φ per candidate and pays d² per candidate with data; an item never
/// updated scores with the prior (θ = 0, A⁻¹ = I/λ: bonus² = |φ|²/λ) without allocating.
class LinearBanditCore {
 public:
  /// The configuration the core needs (the public configs map onto it).
  struct Settings {
    LinearMode mode = LinearMode::shared;
    FeatureMap features = FeatureMap::cross;
    double ridge = 1.0;
    std::size_t refactor_every = 1000;
    /// Keep the Cholesky factor of A for sampling θ̃ (LinThompson in shared mode).
    bool keep_factor = false;
  };

  /// `name` ("LinUcb") prefixes error messages: "LinUcb::update: ...".
  LinearBanditCore(const char* name, Settings settings) : name_(name), s_(settings) {}

  const Settings& settings() const noexcept { return s_; }
  LinearDims dims() const noexcept { return dims_; }
  std::uint64_t updates() const noexcept { return updates_; }
  bool sized() const noexcept { return dims_.phi != 0; }
  bool reads_context() const noexcept { return s_.features != FeatureMap::item; }
  bool reads_items() const noexcept { return s_.features != FeatureMap::context; }

  /// Fixes the input sizes (the sizing ctor). Only valid on an unsized model.
  void fix_dims(std::size_t context_dim, std::size_t item_dim) {
    const LinearDims dims = checked_dims(std::string(name_) + "::" + name_, context_dim, item_dim);
    work_.reserve(dims.phi);
    if (s_.mode == LinearMode::shared) shared_.emplace(dims.phi, s_.ridge, s_.keep_factor);
    dims_ = dims;
  }

  /// The posterior of `item` (shared mode: the shared one), or nullptr when it has none yet.
  const RidgePosterior* posterior(std::size_t item) const noexcept {
    if (s_.mode == LinearMode::shared) return shared_ ? &*shared_ : nullptr;
    if (item >= slot_of_item_.size() || slot_of_item_[item] == no_slot) return nullptr;
    return &arms_[slot_of_item_[item]];
  }

  /// Posterior means θ·φ.
  void score(const char* fn, const Context& context, Candidates candidates,
             std::span<float> scores) const {
    const LinearDims dims = check_call(fn, context, candidates, scores.size());
    if (s_.mode == LinearMode::shared) {
      if (shared_) {
        shared_means(shared_->theta(), dims, context, candidates, scores);
      } else {
        std::fill(scores.begin(), scores.end(), 0.0f);
      }
      return;
    }
    per_candidate<false>(dims, context, candidates, scores, [](float mean, float) { return mean; });
  }

  /// θ·φ + α sqrt(φᵀA⁻¹φ).
  void upper_bound(const char* fn, const Context& context, Candidates candidates,
                   std::span<float> scores, float alpha) const {
    const LinearDims dims = check_call(fn, context, candidates, scores.size());
    upper_bounds(dims, context, candidates, scores, alpha);
  }

  /// The min(k, eligible) candidates of highest upper_bound (θ·φ + α sqrt(φᵀA⁻¹φ)), best first,
  /// as positions into `candidates` with their bounds, in out[0, count); returns the count.
  /// Exactly what simd::top_k over upper_bound's scores gives with the exclusion
  /// p ↦ exclude(candidates[p]) (eligible: not excluded, bound not NaN; ties: the earlier
  /// candidate), bit for bit. `out` needs min(k, candidates.size()) entries. Same checks as
  /// upper_bound.
  ///
  /// Shared mode (sized, with item features) prunes: every candidate gets its mean θ·φ and an
  /// upper bound of its score (see pruning_bounds), the bonus of the max(2k, 64) candidates of
  /// highest bound is computed exactly, and the k-th best eligible score T among them discards
  /// every candidate whose bound is below T; only the rest get their exact bonus. Those exact
  /// bonuses use the same kernels and operations as upper_bound (simd::quadratic_forms gives a
  /// listed row the bits of the whole-matrix call). Disjoint mode, the unsized prior, the
  /// context map (no per-item bonus), non-finite bound inputs and calls where the seed covers
  /// every candidate take the full path. `exclude` is called in increasing position order, in
  /// up to two passes (the seed's, then the final selection's).
  template <ItemExclusion Exclude>
  std::size_t upper_bound_top_k(const char* fn, const Context& context, Candidates candidates,
                                std::size_t k, const Exclude& exclude, std::span<ScoredItem> out,
                                float alpha) const {
    const std::size_t n = candidates.size();
    const LinearDims dims = check_call(fn, context, candidates, n);
    marl_rec::detail::check_at_least(fn, "out", out.size(), std::min(k, n));
    LinearScratch& scratch = linear_scratch();
    scratch.exact_bonuses = 0;
    if (k == 0 || n == 0) return 0;
    // The exclusion is user code called while the scratch holds this call's state: it runs a
    // scratch level deeper, so that a model call from inside it cannot overwrite that state.
    const auto excluded = [&](std::size_t position) {
      const DeeperLinearScratch deeper;
      return exclude(candidates[position]);
    };
    const std::span<float> scores = grown(scratch.scores, n);
    const std::size_t seed = k >= n / 4 ? n : std::max(2 * k, min_seed);
    const bool prunable = s_.mode == LinearMode::shared && shared_ && dims.item > 0 && seed < n;
    if (!prunable || !pruning_bounds_unchecked(dims, context, candidates, alpha)) {
      upper_bounds(dims, context, candidates, scores, alpha);
      scratch.exact_bonuses = n;
      return simd::top_k(std::span<const float>(scores), k, out.first(std::min(k, n)), excluded);
    }
    // scratch.scores holds the means, scratch.bounds the bounds, scratch.form and base the
    // bonus. The seed: the candidates of highest bound, in position order.
    const std::span<float> bounds(scratch.bounds.data(), n);
    const std::span<ScoredItem> top = grown(scratch.seed, seed);
    const std::size_t seeded = simd::top_k(std::span<const float>(bounds), seed, top);
    std::vector<std::size_t>& positions = scratch.positions;
    positions.clear();
    // Room for every candidate up front: how many survive varies from call to call, and a warm
    // call must not allocate.
    if (positions.capacity() < seed) positions.reserve(seed);
    if (scratch.survivors.capacity() < n) scratch.survivors.reserve(n);
    if (scratch.computed.capacity() < n) scratch.computed.reserve(n);
    (void)grown(scratch.seed_scores, n);
    for (std::size_t j = 0; j < seeded; ++j) positions.push_back(top[j].index);
    std::sort(positions.begin(), positions.end());
    exact_bounds(context, candidates, positions, alpha);
    const std::span<float> seed_scores = grown(scratch.seed_scores, seeded);
    for (std::size_t j = 0; j < seeded; ++j) {
      seed_scores[j] = scores[positions[j]];
      bounds[positions[j]] = std::numeric_limits<float>::quiet_NaN();  // done
    }
    const auto seed_excluded = [&](std::size_t j) { return excluded(positions[j]); };
    const std::size_t best =
        simd::top_k(std::span<const float>(seed_scores), k, top.first(std::min(k, seeded)), seed_excluded);
    // k eligible candidates score ≥ threshold: one whose bound is below it cannot enter (equal
    // may, on a tie with an earlier position), so it is left out of the final selection.
    const float threshold = best == k ? top[k - 1].score : -std::numeric_limits<float>::infinity();
    std::vector<std::size_t>& survivors = scratch.survivors;
    survivors.resize(n);  // reserved: no allocation
    std::size_t surviving = 0;
    for (std::size_t p = 0; p < n; ++p) {
      survivors[surviving] = p;
      surviving += bounds[p] >= threshold ? 1 : 0;  // a NaN bound: in the seed, done
    }
    survivors.resize(surviving);
    exact_bounds(context, candidates, survivors, alpha);
    scratch.exact_bonuses = seeded + survivors.size();
    // The final selection over the computed candidates only, in position order (ties and the
    // exclusion's order as over all of them).
    std::vector<std::size_t>& computed = scratch.computed;
    computed.resize(seeded + survivors.size());
    std::merge(positions.begin(), positions.end(), survivors.begin(), survivors.end(), computed.begin());
    const std::span<float> computed_scores = grown(scratch.seed_scores, computed.size());
    for (std::size_t j = 0; j < computed.size(); ++j) computed_scores[j] = scores[computed[j]];
    const auto computed_excluded = [&](std::size_t j) { return excluded(computed[j]); };
    const std::size_t chosen = simd::top_k(std::span<const float>(computed_scores), k,
                                           out.first(std::min(k, computed.size())), computed_excluded);
    for (std::size_t i = 0; i < chosen; ++i) out[i].index = computed[out[i].index];
    return chosen;
  }

  /// Shared mode, sized, with item features (else false, writing nothing): means[i] = θ·φ_i
  /// (score's bits) and bounds[i] ≥ the float upper_bound of candidate i: +∞ when no finite
  /// bound is known (a non-finite feature, or magnitudes near float overflow), −∞ when the mean
  /// is NaN or −∞ and the bonus finite (the upper_bound is then the mean: never chosen, or −∞). The
  /// bound: bonus² = base + q(a) ≤ base + λ̄‖a‖² + 2‖c‖‖a‖ (λ̄ ≥ λmax(M), certified, see
  /// quadratic_form_bound), with every rounding of the float computation accounted for; per
  /// block of candidates it is relaxed to an affine function of ‖a‖² by the tangent bounds
  /// ‖a‖ ≤ (t + ‖a‖²/t)/2 and √V ≤ (V + V₀)/(2√V₀), tight at the block's typical norm (exact
  /// for unit-norm items). `means` and `bounds` need candidates.size() entries. For tests; the
  /// pruned top k computes the same into the thread's scratch.
  bool pruning_bounds(const char* fn, const Context& context, Candidates candidates,
                      std::span<float> means, std::span<float> bounds, float alpha) const {
    const LinearDims dims = check_call(fn, context, candidates, means.size());
    marl_rec::detail::check_sizes_equal(fn, "bounds", bounds.size(), "candidates", candidates.size());
    if (s_.mode != LinearMode::shared || !shared_ || dims.item == 0) return false;
    if (!pruning_bounds_unchecked(dims, context, candidates, alpha)) return false;
    const LinearScratch& scratch = linear_scratch();
    std::copy_n(scratch.scores.begin(), candidates.size(), means.begin());
    std::copy_n(scratch.bounds.begin(), candidates.size(), bounds.begin());
    return true;
  }

  /// The scores of a draw θ̃ ~ N(θ, v² A⁻¹): one draw per call in shared mode (d normals); in
  /// disjoint mode one independent draw per candidate, taken directly as the score's
  /// distribution θ̃·φ ~ N(θ·φ, v² φᵀA⁻¹φ) (one normal per candidate, in candidate order).
  void sample_scores(const char* fn, const Context& context, Candidates candidates,
                     std::span<float> scores, Rng& rng, float v) const {
    const LinearDims dims = check_call(fn, context, candidates, scores.size());
    if (s_.mode == LinearMode::disjoint) {
      per_candidate<true>(dims, context, candidates, scores, [&rng, v](float mean, float q) {
        return static_cast<float>(static_cast<double>(mean) +
                                  static_cast<double>(v) *
                                      std::sqrt(static_cast<double>(std::max(q, 0.0f))) *
                                      rng.normal());
      });
      return;
    }
    LinearScratch& scratch = linear_scratch();
    const std::span<float> theta = grown(scratch.theta, dims.phi);
    if (shared_) {
      shared_->sample_theta(rng, v, grown(scratch.z, dims.phi), theta);
    } else {
      const double scale = static_cast<double>(v) / std::sqrt(s_.ridge);  // the prior's A⁻¹ = I/λ
      for (float& t : theta) t = static_cast<float>(scale * rng.normal());
    }
    shared_means(theta, dims, context, candidates, scores);
  }

  /// Learns that `item` shown in `context` earned `reward`; on any Error the model is unchanged.
  void update(const char* fn, const Context& context, std::size_t item, double reward) {
    using marl_rec::detail::require;
    require(std::isfinite(reward) &&
                std::abs(reward) <= static_cast<double>(std::numeric_limits<float>::max()),
            [&] {
              return std::string(fn) + ": reward must be finite (and within float range), got " +
                     std::to_string(reward);
            });
    const std::size_t dx = reads_context() ? context.features.size() : 0;
    const std::size_t da = reads_items() ? context.items.cols() : 0;
    const LinearDims dims = sized() ? dims_ : checked_dims(fn, dx, da);
    check_features_dims(fn, dims, dx, da);
    if (reads_items()) check_item_index(fn, item, context.items.rows());
    if (s_.mode == LinearMode::disjoint) {
      require(item < linear_max_disjoint_items, [&] {
        return std::string(fn) + ": item index " + std::to_string(item) +
               " exceeds disjoint mode's limit of " + std::to_string(linear_max_disjoint_items - 1);
      });
    }
    const std::span<const float> x = reads_context() ? context.features : std::span<const float>{};
    const std::span<const float> a =
        reads_items() ? context.items.row(item) : std::span<const float>{};
    for (std::size_t i = 0; i < x.size(); ++i) {
      require(std::isfinite(x[i]), [&] {
        return std::string(fn) + ": context feature " + std::to_string(i) + " is not finite";
      });
    }
    for (std::size_t j = 0; j < a.size(); ++j) {
      require(std::isfinite(a[j]), [&] {
        return std::string(fn) + ": feature " + std::to_string(j) + " of item " +
               std::to_string(item) + " is not finite";
      });
    }
    // The work buffers are scratch, not state: growing them before a failed check is harmless.
    work_.reserve(dims.phi);
    const std::span<float> phi(work_.phi.data(), dims.phi);
    const std::span<float> u(work_.u.data(), dims.phi);
    write_features(s_.features, x, a, phi);
    std::optional<RidgePosterior> fresh;
    const RidgePosterior* current = posterior(item);
    if (current == nullptr) current = &fresh.emplace(dims.phi, s_.ridge, s_.keep_factor);
    const float c = current->gain(phi, u);
    const bool finite =
        std::isfinite(c) &&
        std::all_of(phi.begin(), phi.end(), [](float v) { return std::isfinite(v); }) &&
        std::all_of(u.begin(), u.end(), [](float v) { return std::isfinite(v); });
    require(finite, [&] {
      return std::string(fn) + ": the features are too large for float arithmetic (phi or " +
             "A^-1 phi overflows)";
    });
    // Commit: nothing below throws, except allocating a new arm (then nothing has changed).
    RidgePosterior* target = nullptr;
    if (s_.mode == LinearMode::shared) {
      if (fresh) shared_ = std::move(*fresh);
      target = &*shared_;
    } else if (fresh) {
      if (slot_of_item_.size() <= item) slot_of_item_.resize(item + 1, no_slot);
      arms_.push_back(std::move(*fresh));
      try {
        item_of_arm_.push_back(item);
      } catch (...) {
        arms_.pop_back();
        throw;
      }
      slot_of_item_[item] = static_cast<std::uint32_t>(arms_.size() - 1);
      target = &arms_.back();
    } else {
      target = &arms_[slot_of_item_[item]];
    }
    dims_ = dims;
    target->add(phi, reward, u, c, s_.refactor_every, work_);
    ++updates_;
  }

  /// The accuracy of every posterior's maintained inverse (see LinearDiagnostics).
  LinearDiagnostics diagnostics() const {
    LinearDiagnostics out;
    if (shared_) shared_->diagnose(out);
    for (const RidgePosterior& arm : arms_) arm.diagnose(out);
    return out;
  }

  /// Writes the settings and the learned state (after the public class's own header fields).
  void write(io::ModelWriter& out) const {
    out.u64("mode", s_.mode == LinearMode::disjoint ? 0 : 1);
    out.u64("features", static_cast<std::uint64_t>(s_.features));
    out.f64("ridge", s_.ridge);
    out.u64("refactor_every", s_.refactor_every);
    out.u64("context_dim", dims_.context);
    out.u64("item_dim", dims_.item);
    out.u64("updates", updates_);
    if (s_.mode == LinearMode::shared) {
      out.u64("has_posterior", shared_ ? 1 : 0);
      if (shared_) shared_->write(out);
      return;
    }
    out.u64("arms", arms_.size());
    for (std::size_t k = 0; k < arms_.size(); ++k) {
      out.u64("item", item_of_arm_[k]);
      arms_[k].write(out);
    }
  }

  /// Reads what write() wrote into a new core. `type` is the stream's model type ("linucb"),
  /// for error messages; `keep_factor_if_shared`: LinThompson's flag.
  static LinearBanditCore read(io::ModelReader& in, const char* name, const char* type,
                               bool keep_factor_if_shared) {
    using marl_rec::detail::require;
    const std::string where = "loading a '" + std::string(type) + "' model";
    Settings s;
    s.mode = in.u64("mode", 0, 1) == 0 ? LinearMode::disjoint : LinearMode::shared;
    s.features = static_cast<FeatureMap>(in.u64("features", 0, 3));
    s.ridge = in.f64("ridge");
    // The configs hold λ as a float: it must be one, positive, with a finite inverse.
    const bool ridge_ok = std::isfinite(s.ridge) && s.ridge > 0.0 &&
                          s.ridge <= static_cast<double>(std::numeric_limits<float>::max()) &&
                          static_cast<double>(static_cast<float>(s.ridge)) == s.ridge &&
                          std::isfinite(1.0f / static_cast<float>(s.ridge));
    require(ridge_ok, [&] {
      return where + ": ridge must be a positive float with a finite inverse, got " +
             std::to_string(s.ridge);
    });
    s.refactor_every = static_cast<std::size_t>(
        in.u64("refactor_every", 0, std::numeric_limits<std::size_t>::max()));
    s.keep_factor = keep_factor_if_shared && s.mode == LinearMode::shared;
    LinearBanditCore core(name, s);
    const auto dx = static_cast<std::size_t>(in.u64("context_dim", 0, linear_max_dim));
    const auto da = static_cast<std::size_t>(in.u64("item_dim", 0, linear_max_dim));
    const std::uint64_t updates = in.u64("updates");
    const std::size_t d = feature_dim(s.features, dx, da);
    require((dx == 0 || core.reads_context()) && (da == 0 || core.reads_items()) &&
                d <= linear_max_dim && (d != 0 || (dx == 0 && da == 0)),
            [&] {
              return where + ": dimensions " + std::to_string(dx) + " x " + std::to_string(da) +
                     " do not fit feature map '" + std::string(to_string(s.features)) + "'";
            });
    std::uint64_t learned = 0;
    if (s.mode == LinearMode::shared) {
      if (in.u64("has_posterior", d == 0 ? 0 : 1, d == 0 ? 0 : 1) == 1) {
        core.shared_.emplace(RidgePosterior::read(in, where, d, s.ridge, s.keep_factor));
        learned = core.shared_->updates();
      }
    } else {
      const std::uint64_t arms = in.u64("arms", 0, d == 0 ? 0 : linear_max_disjoint_items);
      for (std::uint64_t k = 0; k < arms; ++k) {
        const auto item =
            static_cast<std::size_t>(in.u64("item", 0, linear_max_disjoint_items - 1));
        require(item >= core.slot_of_item_.size() || core.slot_of_item_[item] == no_slot,
                [&] { return where + ": item " + std::to_string(item) + " appears twice"; });
        RidgePosterior arm = RidgePosterior::read(in, where, d, s.ridge, false);
        learned += arm.updates();
        if (core.slot_of_item_.size() <= item) core.slot_of_item_.resize(item + 1, no_slot);
        core.slot_of_item_[item] = static_cast<std::uint32_t>(core.arms_.size());
        core.arms_.push_back(std::move(arm));
        core.item_of_arm_.push_back(item);
      }
    }
    require(learned == updates, [&] {
      return where + ": the posteriors hold " + std::to_string(learned) +
             " updates, the model claims " + std::to_string(updates);
    });
    if (d != 0) {
      core.work_.reserve(d);
      core.dims_ = {dx, da, d};
    }
    core.updates_ = updates;
    return core;
  }

 private:
  static constexpr std::uint32_t no_slot = std::numeric_limits<std::uint32_t>::max();

  // The first n elements of v, growing it (never shrinking) when it is shorter.
  template <class T>
  static std::span<T> grown(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
    return {v.data(), n};
  }

  LinearDims checked_dims(const std::string& fn, std::size_t dx, std::size_t da) const {
    using marl_rec::detail::require;
    require((dx == 0 || reads_context()) && (da == 0 || reads_items()), [&] {
      return fn + ": feature map '" + std::string(to_string(s_.features)) + "' reads no " +
             (dx != 0 ? "context features" : "item features") + ", but " +
             std::to_string(dx != 0 ? dx : da) + " were given";
    });
    require(dx <= linear_max_dim && da <= linear_max_dim, [&] {
      return fn + ": " + std::to_string(dx) + " context and " + std::to_string(da) +
             " item features exceed the limit of " + std::to_string(linear_max_dim);
    });
    const std::size_t d = feature_dim(s_.features, dx, da);
    require(d >= 1 && d <= linear_max_dim, [&] {
      return fn + ": phi has " + std::to_string(d) + " dimensions (" + std::to_string(dx) +
             " context x " + std::to_string(da) + " item features, map '" +
             std::string(to_string(s_.features)) + "'); it must have 1.." +
             std::to_string(linear_max_dim);
    });
    return {dx, da, d};
  }

  void check_features_dims(const char* fn, const LinearDims& dims, std::size_t dx,
                           std::size_t da) const {
    marl_rec::detail::require(dx == dims.context, [&] {
      return std::string(fn) + ": the context has " + std::to_string(dx) +
             " features, the model was sized for " + std::to_string(dims.context);
    });
    marl_rec::detail::require(da == dims.item, [&] {
      return std::string(fn) + ": the items have " + std::to_string(da) +
             " features, the model was sized for " + std::to_string(dims.item);
    });
  }

  static void check_item_index(const char* fn, std::size_t item, std::size_t rows) {
    marl_rec::detail::require(item < rows, [&] {
      return std::string(fn) + ": item index " + std::to_string(item) +
             " is outside the items matrix (" + std::to_string(rows) + " rows)";
    });
  }

  // The checks every scoring call makes; returns the dims to score with (the model's, or, before
  // the first update, the context's: every shape then scores with the prior).
  LinearDims check_call(const char* fn, const Context& context, Candidates candidates,
                        std::size_t scores_size) const {
    marl_rec::detail::require(scores_size == candidates.size(), [&] {
      return std::string(fn) + ": scores has " + std::to_string(scores_size) +
             " entries, candidates has " + std::to_string(candidates.size());
    });
    const std::size_t dx = reads_context() ? context.features.size() : 0;
    const bool items_needed = reads_items() && !candidates.empty();
    const std::size_t da = items_needed ? context.items.cols() : dims_.item;
    if (items_needed) {
      const std::size_t bound = candidates.index_bound();
      if (bound > 0) check_item_index(fn, bound - 1, context.items.rows());
    }
    if (!sized()) {
      // The prior scores any shape the model could still be sized for.
      const std::size_t d = feature_dim(s_.features, dx, da);
      marl_rec::detail::require(
          dx <= linear_max_dim && da <= linear_max_dim && d <= linear_max_dim, [&] {
            return std::string(fn) + ": phi has " + std::to_string(d) + " dimensions (" +
                   std::to_string(dx) + " context x " + std::to_string(da) +
                   " item features), more than the limit of " + std::to_string(linear_max_dim);
          });
      return {dx, da, d};
    }
    check_features_dims(fn, dims_, dx, da);
    return dims_;
  }

  // scores[i] = query · a_{candidates[i]} + offset. Candidates::all goes through one
  // simd::score over the matrix; a list through a one-row simd::score per candidate, which
  // computes each score with the same operations (the same bits).
  static void score_items(std::span<const float> query, const Context& context,
                          Candidates candidates, std::span<float> scores, float offset) {
    const MatrixView items = context.items;
    const std::size_t n = candidates.size();
    if (n == 0) return;
    if (query.empty()) {
      std::fill(scores.begin(), scores.end(), offset);
      return;
    }
    if (candidates.is_all()) {
      const MatrixView first(
          std::span<const float>(items.data(), (n - 1) * items.stride() + items.cols()), n,
          items.cols(), items.stride());
      simd::score(query, first, scores);
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        const MatrixView row(items.row(candidates[i]), 1, items.cols());
        simd::score(query, row, scores.subspan(i, 1));
      }
    }
    if (offset != 0.0f) {
      for (float& s : scores) s += offset;
    }
  }

  // The posterior mean θ·φ(x, a) as a function of the item vector a: query·a + offset (query
  // empty: the constant offset, the context map).
  struct ItemAffine {
    std::span<const float> query;
    float offset = 0.0f;
  };

  // Shared mode: θ·φ(x, ·) for a θ of dims.phi values (θ̂ or a draw θ̃); the cross map's query
  // w = Θᵀx is kept in the thread's scratch.
  ItemAffine mean_of_items(std::span<const float> theta, const LinearDims& dims,
                           const Context& context) const {
    const std::size_t dx = dims.context;
    const std::size_t da = dims.item;
    const std::span<const float> x = context.features;
    switch (s_.features) {
      case FeatureMap::context: return {{}, simd::dot(theta, x)};
      case FeatureMap::item: return {theta, 0.0f};
      case FeatureMap::concat: return {theta.subspan(dx, da), simd::dot(theta.first(dx), x)};
      case FeatureMap::cross: {
        const std::span<float> w = grown(linear_scratch().w, da);
        std::fill(w.begin(), w.end(), 0.0f);
        for (std::size_t i = 0; i < dx; ++i) simd::axpy(x[i], theta.subspan(i * da, da), w);
        return {w, 0.0f};
      }
    }
    return {};
  }

  // Shared mode: scores[i] = θ·φ(x, a_i) for a θ of dims.phi values (θ̂ or a draw θ̃).
  void shared_means(std::span<const float> theta, const LinearDims& dims, const Context& context,
                    Candidates candidates, std::span<float> scores) const {
    const ItemAffine mean = mean_of_items(theta, dims, context);
    score_items(mean.query, context, candidates, scores, mean.offset);
  }

  // Shared mode, sized: φᵀA⁻¹φ = base + q(a) for every item vector a, without materialising φ:
  // prepares q in the thread's scratch and returns base (see the class comment). The context map
  // (no item part) leaves q the 0-dimensional form.
  float prepare_bonus(const LinearDims& dims, const Context& context) const {
    const std::size_t d = dims.phi;
    const std::size_t dx = dims.context;
    const std::size_t da = dims.item;
    const std::span<const float> x = context.features;
    const MatrixView inv = shared_->inverse();
    LinearScratch& scratch = linear_scratch();
    if (s_.features == FeatureMap::cross) {
      // U_j = Σ_i x_i A⁻¹[i·da + j, :]; N[j, l] = Σ_k x_k U_j[k·da + l] (only l ≥ j is read).
      const std::span<float> u = grown(scratch.u, da * d);
      std::fill(u.begin(), u.end(), 0.0f);
      for (std::size_t j = 0; j < da; ++j) {
        for (std::size_t i = 0; i < dx; ++i)
          simd::axpy(x[i], inv.row(i * da + j), u.subspan(j * d, d));
      }
      const std::span<float> n = grown(scratch.n, da * da);
      for (std::size_t j = 0; j < da; ++j) {
        for (std::size_t l = j; l < da; ++l) {
          float s = 0.0f;
          for (std::size_t k = 0; k < dx; ++k) s += x[k] * u[j * d + k * da + l];
          n[j * da + l] = s;
        }
      }
      scratch.form.assign(MatrixView(std::span<const float>(n.data(), da * da), da, da));
      return 0.0f;
    }
    // concat (context: da = 0, item: dx = 0): t = A⁻¹[:, :dx] x; xᵀA_xx x = x·t[:dx];
    // A_ax x = t[dx:].
    const std::span<float> t = grown(scratch.t, d);
    float base = 0.0f;
    if (dx > 0) {
      simd::score(x, MatrixView(std::span<const float>(inv.data(), d * d), d, dx, d), t);
      base = simd::dot(x, t.first(dx));
    }
    if (da == 0) {
      scratch.form.assign(MatrixView{});
      return base;
    }
    const MatrixView aa(std::span<const float>(inv.data() + dx * d + dx, (da - 1) * d + da), da, da, d);
    scratch.form.assign(aa, dx > 0 ? std::span<const float>(t.subspan(dx, da)) : std::span<const float>{});
    return base;
  }

  // Candidates per block of shared_bounds: the block's item rows (256 × 64 floats = 64 KB at
  // d = 64) are still in cache when the quadratic forms read them after the means.
  static constexpr std::size_t bound_block = 256;

  // Shared mode, sized: scores[i] = combine(θ·φ_i, φ_iᵀA⁻¹φ_i), block by block of candidates.
  // The means are those shared_means gives (the same bits as score()).
  template <class Combine>
  void shared_bounds(const LinearDims& dims, const Context& context, Candidates candidates,
                     std::span<float> scores, Combine&& combine) const {
    const ItemAffine mean = mean_of_items(shared_->theta(), dims, context);
    const float base = prepare_bonus(dims, context);
    LinearScratch& scratch = linear_scratch();
    const simd::QuadraticForm& form = scratch.form;
    const std::size_t n = candidates.size();
    const MatrixView items = context.items;
    const std::span<float> q = grown(scratch.q, std::min(n, bound_block));
    for (std::size_t b = 0; b < n; b += bound_block) {
      const std::size_t count = std::min(bound_block, n - b);
      const std::span<float> block_scores = scores.subspan(b, count);
      const std::span<float> block_q = q.first(count);
      if (dims.item == 0) {
        std::fill(block_q.begin(), block_q.end(), 0.0f);
        score_items(mean.query, context, Candidates::all(count), block_scores, mean.offset);
      } else if (candidates.is_all()) {
        block_means(mean, context, candidates, b, block_scores);
        simd::quadratic_forms(form, block_rows(items, b, count), block_q);
      } else {
        block_means(mean, context, candidates, b, block_scores);
        simd::quadratic_forms(form, items, candidates.list().subspan(b, count), block_q);
      }
      for (std::size_t i = 0; i < count; ++i) block_scores[i] = combine(block_scores[i], base + block_q[i]);
    }
  }

  // Rows b .. b + count of the item matrix, as a matrix of their own.
  static MatrixView block_rows(MatrixView items, std::size_t b, std::size_t count) {
    return MatrixView(
        std::span<const float>(items.data() + b * items.stride(), (count - 1) * items.stride() + items.cols()),
        count, items.cols(), items.stride());
  }

  // The means of candidates [b, b + block_scores.size()) (with item features), as every shared
  // path computes them: the pruned top k relies on getting the full path's bits.
  static void block_means(const ItemAffine& mean, const Context& context, Candidates candidates,
                          std::size_t b, std::span<float> block_scores) {
    const std::size_t count = block_scores.size();
    if (candidates.is_all()) {
      score_items(mean.query, Context{.features = context.features, .items = block_rows(context.items, b, count)},
                  Candidates::all(count), block_scores, mean.offset);
    } else {
      score_items(mean.query, context, Candidates(candidates.list().subspan(b, count)), block_scores, mean.offset);
    }
  }

  // LinUcb's score from a mean and a bonus² (the one expression every path evaluates).
  static float optimistic(float mean, float q, float alpha) noexcept {
    return mean + alpha * std::sqrt(std::max(q, 0.0f));
  }

  // upper_bound after its checks: θ·φ + α sqrt(φᵀA⁻¹φ) for every candidate.
  void upper_bounds(const LinearDims& dims, const Context& context, Candidates candidates,
                    std::span<float> scores, float alpha) const {
    const auto bound = [alpha](float mean, float q) { return optimistic(mean, q, alpha); };
    if (s_.mode == LinearMode::disjoint || !shared_) {
      per_candidate<true>(dims, context, candidates, scores, bound);
      return;
    }
    shared_bounds(dims, context, candidates, scores, bound);
  }

  // The smallest seed of the pruned top k: below it, the seed's k-th score is a poor threshold.
  static constexpr std::size_t min_seed = 64;

  // Shared mode, sized, with item features: the thread's scratch gets the means (scores), the
  // bounds of pruning_bounds (bounds), the bonus's form (form) and base (pruned_base). False
  // when the form or base is not finite (no useful bound: the caller takes the full path).
  bool pruning_bounds_unchecked(const LinearDims& dims, const Context& context, Candidates candidates,
                                float alpha) const {
    const ItemAffine mean = mean_of_items(shared_->theta(), dims, context);
    const float base = prepare_bonus(dims, context);
    LinearScratch& scratch = linear_scratch();
    scratch.pruned_base = base;
    const QuadraticFormBound form_bound = quadratic_form_bound(scratch.form, scratch);
    if (!std::isfinite(base) || !std::isfinite(form_bound.quadratic) || !std::isfinite(form_bound.linear)) {
      return false;
    }
    const std::size_t n = candidates.size();
    const std::size_t da = dims.item;
    const MatrixView items = context.items;
    const std::span<float> scores = grown(scratch.scores, n);
    const std::span<float> bounds = grown(scratch.bounds, n);
    const std::span<float> norms = grown(scratch.norms, std::min(n, bound_block));
    constexpr double u = float_unit;
    constexpr float infinity = std::numeric_limits<float>::infinity();
    // ‖a‖² ≤ its float sum × norm_scale + norm_floor (relative error ≤ γ, plus what
    // underflowing squares lose).
    const double norm_scale = 1.0 + 2.0 * rounding_gamma(static_cast<double>(da + 64), u);
    const double norm_floor = static_cast<double>(da) * 0x1p-149;
    // The kernel's absolute rounding below the normal range (subnormal partial sums).
    const double subnormal_slack = static_cast<double>(da * da + 256) * 0x1p-149;
    const double b0 = static_cast<double>(base);
    // The float error analysis needs every partial sum of the kernel far from overflow: they are
    // below |base| + (magnitude + linear)(‖a‖² + 1)(da + 1), kept under 2¹⁰⁰ by a limit on the
    // float ‖a‖² (rows above it, or NaN, get an infinite bound: computed exactly).
    const double growth = (form_bound.magnitude + form_bound.linear) * static_cast<double>(da + 1);
    const double norm_room = growth > 0.0 ? (0x1p100 - std::abs(b0)) / growth - 1.0 : 0x1p100;
    const float norm_limit = static_cast<float>(std::clamp((norm_room - norm_floor) / norm_scale / 2.0, 0.0, 0x1p100));
    const double alpha_d = static_cast<double>(alpha);
    // Rounded up to float with room for the float evaluation below (1 + 2⁻²⁰ > (1 + u)³).
    const auto float_above = [](double x) {
      // Past float's range the cast would be undefined: +∞ (the caller then bounds by +∞).
      if (!(x * (1.0 + 0x1p-20) <= static_cast<double>(std::numeric_limits<float>::max()))) {
        return std::numeric_limits<float>::infinity();
      }
      const auto f = static_cast<float>(x * (1.0 + 0x1p-20));
      return static_cast<double>(f) >= x ? f : std::nextafter(f, std::numeric_limits<float>::infinity());
    };
    for (std::size_t b = 0; b < n; b += bound_block) {
      const std::size_t count = std::min(bound_block, n - b);
      const std::span<float> block_scores = scores.subspan(b, count);
      block_means(mean, context, candidates, b, block_scores);
      double sum = 0.0;
      std::size_t finite = 0;
      for (std::size_t i = 0; i < count; ++i) {
        // One simd::dot per row (measured faster here, rows in L2, than a batched transposed sum).
        const float* row = items.data() + candidates[b + i] * items.stride();
        norms[i] = simd::kernels::Dot{}(simd::compat::default_arch{}, row, row, da);
        if (norms[i] <= norm_limit) {
          sum += static_cast<double>(norms[i]);
          ++finite;
        }
      }
      // The block's typical ‖a‖², where the tangent bounds below are tight.
      const double typical = finite > 0 ? sum / static_cast<double>(finite) * norm_scale + norm_floor : 1.0;
      double t = std::sqrt(typical);
      if (!(t > 0.0) || !std::isfinite(t)) t = 1.0;
      // bonus² ≤ v0 + v1‖a‖² (by ‖a‖ ≤ (t + ‖a‖²/t)/2; never below 0 where it matters).
      const double v0 = std::max(0.0, b0 + u * std::abs(b0) + subnormal_slack + form_bound.linear * t / 2.0);
      const double v1 = form_bound.quadratic + form_bound.linear / (2.0 * t);
      double at = v0 + v1 * typical;
      if (!(at > 0.0) || !std::isfinite(at)) at = 0x1p-100;
      const double root = std::sqrt(at);
      // α·sqrt(bonus²) ≤ β0 + β1‖a‖² (the tangent of sqrt at `at`). The score
      // fl(m + fl(α fl(sqrt(fl(base + q))))) (or with one FMA) is at most
      // m + u|m| + (1 + u)³(β0 + β1‖a‖²) plus subnormal roundings (< 2⁻¹²⁰).
      const double beta0 = alpha_d * (v0 + at) / (2.0 * root);
      const double beta1 = alpha_d * v1 / (2.0 * root);
      // In float: bound = m + 8u|m| + (p0 + p1·float ‖a‖²): the coefficients, rounded up with
      // room, and 8u instead of u absorb this evaluation's three roundings.
      const float p0 = float_above((1.0 + 4.0 * u) * (beta0 + beta1 * norm_floor) + 0x1p-120);
      const float p1 = float_above((1.0 + 4.0 * u) * beta1 * norm_scale);
      const auto mean_slack = static_cast<float>(8.0 * u);
      if (!std::isfinite(p0) || !std::isfinite(p1)) {
        std::fill_n(bounds.begin() + static_cast<std::ptrdiff_t>(b), count, infinity);
        continue;
      }
      float* block_bounds = bounds.data() + b;
      const float* block_means_data = block_scores.data();
      for (std::size_t i = 0; i < count; ++i) {
        const float m = block_means_data[i];
        const float bound = m + mean_slack * std::abs(m) + (p0 + p1 * norms[i]);
        // A NaN bound means a NaN or infinite mean m with a finite bonus: the score is m (NaN or
        // −∞: +∞ gives +∞ here), so −∞ bounds it (NaN is never chosen).
        const float finite_norm_bound = bound == bound ? bound : -infinity;
        block_bounds[i] = norms[i] <= norm_limit ? finite_norm_bound : infinity;  // NaN norms too
      }
    }
    return true;
  }

  // scores[p] = optimistic(scores[p] (the mean), base + q(a_p)) for every listed position, in
  // blocks, with the form and base pruning_bounds_unchecked left in the thread's scratch. Each
  // block's rows are first copied together: scattered rows are fetched many at a time by the
  // copy rather than one tile at a time by the kernel, and the kernel gives a row the same bits
  // wherever it sits.
  void exact_bounds(const Context& context, Candidates candidates, std::span<const std::size_t> positions,
                    float alpha) const {
    LinearScratch& scratch = linear_scratch();
    const float base = scratch.pruned_base;
    const MatrixView items = context.items;
    const std::size_t da = items.cols();
    const std::size_t block = std::min(positions.size(), bound_block);
    const std::span<float> q = grown(scratch.q, block);
    const std::span<float> gathered = grown(scratch.gathered, block * da);
    float* scores = scratch.scores.data();
    for (std::size_t b = 0; b < positions.size(); b += bound_block) {
      const std::size_t count = std::min(bound_block, positions.size() - b);
      for (std::size_t j = 0; j < count; ++j) {
        const std::span<const float> row = items.row(candidates[positions[b + j]]);
        std::copy(row.begin(), row.end(), gathered.begin() + static_cast<std::ptrdiff_t>(j * da));
      }
      simd::quadratic_forms(scratch.form, MatrixView(gathered.first(count * da), count, da), q.first(count));
      for (std::size_t j = 0; j < count; ++j) {
        float& score = scores[positions[b + j]];
        score = optimistic(score, base + q[j], alpha);
      }
    }
  }

  // Disjoint mode (and the unsized shared model's prior): per candidate, the item's posterior
  // mean and φᵀA⁻¹φ, or the prior's (0 and |φ|²/λ); scores[i] = combine(mean, quadratic form).
  // Without NeedQuadratic, combine gets 0 for the quadratic form (the d² work is skipped).
  template <bool NeedQuadratic, class Combine>
  void per_candidate(const LinearDims& dims, const Context& context, Candidates candidates,
                     std::span<float> scores, Combine&& combine) const {
    LinearScratch& scratch = linear_scratch();
    const std::size_t d = dims.phi;
    const std::span<const float> x = reads_context() ? context.features : std::span<const float>{};
    double x_norm2 = 0.0;
    for (const float v : x) x_norm2 += static_cast<double>(v) * static_cast<double>(v);
    // Only a posterior needs φ and A⁻¹φ (there is none before the model is sized).
    const std::span<float> phi = grown(scratch.phi, sized() ? d : 0);
    const std::span<float> y = grown(scratch.y, sized() ? d : 0);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      const std::size_t item = candidates[i];
      const std::span<const float> a =
          reads_items() ? context.items.row(item) : std::span<const float>{};
      const RidgePosterior* p = s_.mode == LinearMode::disjoint ? posterior(item) : nullptr;
      if (p == nullptr) {
        double a_norm2 = 0.0;
        for (const float v : a) a_norm2 += static_cast<double>(v) * static_cast<double>(v);
        const double phi_norm2 =
            s_.features == FeatureMap::cross ? x_norm2 * a_norm2 : x_norm2 + a_norm2;
        scores[i] = combine(0.0f, NeedQuadratic ? static_cast<float>(phi_norm2 / s_.ridge) : 0.0f);
        continue;
      }
      std::span<const float> f = x;
      if (s_.features != FeatureMap::context) {
        write_features(s_.features, x, a, phi);
        f = phi;
      }
      scores[i] = combine(simd::dot(p->theta(), f), NeedQuadratic ? p->quadratic_form(f, y) : 0.0f);
    }
  }

  const char* name_;
  Settings s_;
  LinearDims dims_{};
  std::uint64_t updates_ = 0;
  std::optional<RidgePosterior> shared_;     // shared mode
  std::vector<RidgePosterior> arms_;         // disjoint mode, in order of first update
  std::vector<std::size_t> item_of_arm_;     // disjoint mode: arms_[k] belongs to this item
  std::vector<std::uint32_t> slot_of_item_;  // disjoint mode: item → index in arms_, or no_slot
  RidgeWork work_;
};

}  // namespace detail
}  // namespace marl_rec
