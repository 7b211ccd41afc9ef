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
};

inline LinearScratch& linear_scratch() {
  static thread_local LinearScratch scratch;
  return scratch;
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
    const auto bound = [alpha](float mean, float q) {
      return mean + alpha * std::sqrt(std::max(q, 0.0f));
    };
    if (s_.mode == LinearMode::disjoint || !shared_) {
      per_candidate<true>(dims, context, candidates, scores, bound);
      return;
    }
    shared_bounds(dims, context, candidates, scores, bound);
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
        // Rows b .. b + count of the item matrix, as a matrix of their own.
        const MatrixView rows(
            std::span<const float>(items.data() + b * items.stride(), (count - 1) * items.stride() + items.cols()),
            count, items.cols(), items.stride());
        score_items(mean.query, Context{.features = context.features, .items = rows}, Candidates::all(count),
                    block_scores, mean.offset);
        simd::quadratic_forms(form, rows, block_q);
      } else {
        const std::span<const std::size_t> list = candidates.list().subspan(b, count);
        score_items(mean.query, context, Candidates(list), block_scores, mean.offset);
        simd::quadratic_forms(form, items, list, block_q);
      }
      for (std::size_t i = 0; i < count; ++i) block_scores[i] = combine(block_scores[i], base + block_q[i]);
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
