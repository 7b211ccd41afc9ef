// marl_rec — the training loops of MatrixFactorization: the interaction matrix in compressed
// rows, the iALS half-step (Cholesky or conjugate gradient), one BPR-SGD epoch, and the
// least-squares user solve that fold-in uses. Internal: include models/matrix_factorization.hpp.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/simd/aligned_vector.hpp"

namespace marl_rec::detail::mf {

/// Column-major double matrix (Gram matrices, normal equations).
using MatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;
/// Row-major double matrix (factor rows gathered for one solve).
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// Row-major float matrix, the layout of the stored factors.
using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorXd = Eigen::Matrix<double, Eigen::Dynamic, 1>;

/// A sparse matrix in compressed rows: row r holds the columns index[offset[r] .. offset[r+1]),
/// in increasing order, each with weight = c − 1 = alpha · (Σ of the pair's r), the confidence
/// above the baseline 1 that every (observed or not) cell has.
struct SparseRows {
  std::vector<std::size_t> offset{};
  std::vector<std::size_t> index{};
  std::vector<double> weight{};

  std::size_t rows() const noexcept { return offset.empty() ? 0 : offset.size() - 1; }
  std::size_t count(std::size_t r) const noexcept { return offset[r + 1] - offset[r]; }
  /// True when row r has column c (binary search: columns are sorted).
  bool contains(std::size_t r, std::size_t c) const noexcept {
    const auto first = index.begin() + static_cast<std::ptrdiff_t>(offset[r]);
    const auto last = index.begin() + static_cast<std::ptrdiff_t>(offset[r + 1]);
    return std::binary_search(first, last, c);
  }
};

/// The interaction matrix by user and by item.
struct TrainingMatrix {
  SparseRows by_user{};
  SparseRows by_item{};
};

/// Builds the matrix of `train`: each row's r is 1 (binarize) or its rating; duplicate (user,
/// item) rows sum their r, so their confidences above the baseline add up; pairs whose r sums to
/// 0 are left out (they say nothing beyond an unobserved cell). Throws Error naming the row when
/// an index is outside the id maps, a rating is not finite, or (binarize = false) negative.
inline TrainingMatrix build_training_matrix(const Interactions& train, double alpha,
                                            bool binarize) {
  const std::size_t n_users = train.users.size();
  const std::size_t n_items = train.items.size();
  struct Entry {
    std::size_t user;
    std::size_t item;
    double r;
  };
  std::vector<Entry> entries;
  entries.reserve(train.rows.size());
  for (std::size_t k = 0; k < train.rows.size(); ++k) {
    const Interaction& row = train.rows[k];
    marl_rec::detail::require(row.user < n_users, [&] {
      return "MatrixFactorization::fit: row " + std::to_string(k) + " has user index " +
             std::to_string(row.user) + ", outside the user map of " + std::to_string(n_users) +
             " users";
    });
    marl_rec::detail::require(row.item < n_items, [&] {
      return "MatrixFactorization::fit: row " + std::to_string(k) + " has item index " +
             std::to_string(row.item) + ", outside the item map of " + std::to_string(n_items) +
             " items";
    });
    marl_rec::detail::require(std::isfinite(row.rating), [&] {
      return "MatrixFactorization::fit: row " + std::to_string(k) + " has a non-finite rating";
    });
    marl_rec::detail::require(binarize || row.rating >= 0.0f, [&] {
      return "MatrixFactorization::fit: row " + std::to_string(k) + " has the negative rating " +
             std::to_string(row.rating) + " (confidences 1 + alpha * r must stay >= 1)";
    });
    entries.push_back({row.user, row.item, binarize ? 1.0 : static_cast<double>(row.rating)});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.user != b.user ? a.user < b.user : a.item < b.item;
  });

  TrainingMatrix m;
  SparseRows& u = m.by_user;
  u.offset.assign(n_users + 1, 0);
  for (std::size_t k = 0; k < entries.size();) {
    std::size_t end = k;
    double r = 0.0;
    while (end < entries.size() && entries[end].user == entries[k].user &&
           entries[end].item == entries[k].item) {
      r += entries[end].r;
      ++end;
    }
    if (r > 0.0) {
      u.index.push_back(entries[k].item);
      u.weight.push_back(alpha * r);
      ++u.offset[entries[k].user + 1];
    }
    k = end;
  }
  for (std::size_t r = 0; r < n_users; ++r) u.offset[r + 1] += u.offset[r];

  // The transpose by counting sort: users stay in increasing order within each item.
  SparseRows& t = m.by_item;
  t.offset.assign(n_items + 1, 0);
  for (const std::size_t item : u.index) ++t.offset[item + 1];
  for (std::size_t i = 0; i < n_items; ++i) t.offset[i + 1] += t.offset[i];
  t.index.resize(u.index.size());
  t.weight.resize(u.index.size());
  std::vector<std::size_t> next(t.offset.begin(), t.offset.end() - 1);
  for (std::size_t user = 0; user < n_users; ++user) {
    for (std::size_t k = u.offset[user]; k < u.offset[user + 1]; ++k) {
      const std::size_t slot = next[u.index[k]]++;
      t.index[slot] = user;
      t.weight[slot] = u.weight[k];
    }
  }
  return m;
}

/// g = YᵀY (f × f, in double) of the row-major n × f float matrix `factors`, computed in place
/// (g must already be f × f: no allocation) with the lower triangle accumulated row by row and
/// mirrored, so g is exactly symmetric.
inline void gram_in_place(const float* factors, std::size_t n, std::size_t f, MatrixXd& g) {
  g.setZero();
  const auto fi = static_cast<Eigen::Index>(f);
  for (std::size_t i = 0; i < n; ++i) {
    const float* y = factors + i * f;
    for (Eigen::Index c = 0; c < fi; ++c) {
      const double yc = static_cast<double>(y[c]);
      for (Eigen::Index r = c; r < fi; ++r) g(r, c) += static_cast<double>(y[r]) * yc;
    }
  }
  for (Eigen::Index c = 0; c < fi; ++c) {
    for (Eigen::Index r = c + 1; r < fi; ++r) g(c, r) = g(r, c);
  }
}

/// One iALS half-step (Hu, Koren, Volinsky 2008): every row x_r of `solved` (n_rows × f)
/// minimises Σ_c c_rc (p_rc − x_rᵀ y_c)² + λ‖x_r‖² over all columns c, with the other side's
/// factors Y = `fixed` held, p_rc = 1 for the pairs of `rows` and 0 elsewhere. The normal
/// equations (YᵀY + Yᵀ(C_r − I)Y + λI) x_r = Yᵀ C_r p_r cost O(f² n_r + f³) per row: YᵀY is
/// computed once, and only the row's n_r observed columns add to it.
/// - cholesky: the exact solution (LLT in double);
/// - conjugate_gradient: `cg_steps` CG iterations started from the current x_r (Takács, Pilászy,
///   Tikk 2011), never forming the matrix: O(cg_steps · (f² + f n_r)) per row. Each CG step is an
///   exact line search on the row's quadratic, so the objective never increases either way.
/// Throws Error when a Cholesky factorisation fails (only possible with λ = 0).
inline void als_half_step(const AlignedVector<float>& fixed, std::size_t n_fixed,
                          const SparseRows& rows, AlignedVector<float>& solved, std::size_t f,
                          double lambda, bool cholesky, std::size_t cg_steps, const char* side) {
  const auto fi = static_cast<Eigen::Index>(f);
  const Eigen::Map<const RowMatrixXf> yf(fixed.data(), static_cast<Eigen::Index>(n_fixed), fi);
  const RowMatrixXd y = yf.cast<double>();
  MatrixXd g(fi, fi);
  g.noalias() = y.transpose() * y;

  std::size_t max_count = 0;
  for (std::size_t r = 0; r < rows.rows(); ++r) max_count = std::max(max_count, rows.count(r));
  const auto max_n = static_cast<Eigen::Index>(max_count);
  RowMatrixXd yu(max_n, fi);  // the row's observed columns' factors
  RowMatrixXd z(max_n, fi);   // the same, scaled by sqrt(c − 1)
  VectorXd w(max_n), t(max_n);
  MatrixXd a(fi, fi);
  VectorXd b(fi), x(fi), res(fi), p(fi), ap(fi);
  Eigen::LLT<MatrixXd> llt(fi);

  for (std::size_t r = 0; r < rows.rows(); ++r) {
    const auto n = static_cast<Eigen::Index>(rows.count(r));
    for (Eigen::Index k = 0; k < n; ++k) {
      const std::size_t e = rows.offset[r] + static_cast<std::size_t>(k);
      yu.row(k) = y.row(static_cast<Eigen::Index>(rows.index[e]));
      w(k) = rows.weight[e];
    }
    const auto yr = yu.topRows(n);
    const auto wr = w.head(n);
    b.noalias() = yr.transpose() * (wr.array() + 1.0).matrix();
    float* out = solved.data() + r * f;
    if (cholesky) {
      a = g;
      a.diagonal().array() += lambda;
      if (n > 0) {
        z.topRows(n) = wr.cwiseSqrt().asDiagonal() * yr;
        a.selfadjointView<Eigen::Lower>().rankUpdate(z.topRows(n).transpose());
      }
      llt.compute(a);
      marl_rec::detail::require(llt.info() == Eigen::Success, [&] {
        return std::string("MatrixFactorization::fit: the normal equations of ") + side + " " +
               std::to_string(r) + " are not positive definite (regularization is too small)";
      });
      x = llt.solve(b);
    } else {
      for (Eigen::Index c = 0; c < fi; ++c) x(c) = static_cast<double>(out[c]);
      const auto apply = [&](const VectorXd& v, VectorXd& result) {
        result.noalias() = g * v;
        result += lambda * v;
        if (n > 0) {
          t.head(n).noalias() = yr * v;
          t.head(n).array() *= wr.array();
          result.noalias() += yr.transpose() * t.head(n);
        }
      };
      apply(x, ap);
      res = b - ap;
      p = res;
      double rs = res.squaredNorm();
      for (std::size_t step = 0; step < cg_steps && rs > 1e-30; ++step) {
        apply(p, ap);
        const double pap = p.dot(ap);
        if (!(pap > 0.0)) break;  // a singular direction (λ = 0): stop where we are
        const double step_size = rs / pap;
        x += step_size * p;
        res -= step_size * ap;
        const double rs_next = res.squaredNorm();
        p = res + (rs_next / rs) * p;
        rs = rs_next;
      }
    }
    for (Eigen::Index c = 0; c < fi; ++c) out[c] = static_cast<float>(x(c));
  }
}

/// Cold users: gives every row u of `rows` (n × f, n = offset.size() − 1) with no entries
/// (offset[u + 1] == offset[u]) the mean of the rows with entries (summed in double; zeros when
/// no row has entries), and returns that mean.
inline std::vector<float> fill_cold_rows(AlignedVector<float>& rows, std::span<const std::size_t> offset,
                                         std::size_t f) {
  const std::size_t n = offset.empty() ? 0 : offset.size() - 1;
  std::vector<double> sum(f, 0.0);
  std::size_t warm = 0;
  for (std::size_t u = 0; u < n; ++u) {
    if (offset[u + 1] == offset[u]) continue;
    ++warm;
    for (std::size_t k = 0; k < f; ++k) sum[k] += static_cast<double>(rows[u * f + k]);
  }
  std::vector<float> mean(f, 0.0f);
  for (std::size_t k = 0; k < f; ++k) {
    mean[k] = static_cast<float>(sum[k] / static_cast<double>(std::max<std::size_t>(warm, 1)));
  }
  for (std::size_t u = 0; u < n; ++u) {
    if (offset[u + 1] != offset[u]) continue;
    std::copy(mean.begin(), mean.end(), rows.begin() + static_cast<std::ptrdiff_t>(u * f));
  }
  return mean;
}

/// One epoch of BPR-SGD (Rendle et al. 2009): `samples` draws of an observed pair (u, i),
/// uniform over the distinct pairs, and an item j drawn uniformly among those u has not
/// interacted with; then one gradient-ascent step on ln σ(x_uij) − λ(‖x_u‖² + ‖y_i‖² + ‖y_j‖²)
/// with x_uij = x_uᵀ(y_i − y_j) (the factor 2 of the L2 gradient folded into λ). Users who
/// interacted with every item have no negative and are skipped.
///
/// `negatives`, when not null, draws the negative j for user u instead (called as
/// (*negatives)(u, rng), only for users with at least one non-interacted item); it must return
/// an item below n_items that u has not interacted with, or this throws Error. When null, the
/// uniform draw above is made exactly as before the hook existed (same draws, same bits).
inline void bpr_epoch(const SparseRows& by_user, const std::vector<std::size_t>& pair_user,
                      std::size_t n_items, std::size_t samples, AlignedVector<float>& users,
                      AlignedVector<float>& items, std::size_t f, float learning_rate, float lambda,
                      Rng& rng,
                      const std::function<std::size_t(std::size_t, Rng&)>* negatives = nullptr) {
  if (pair_user.empty()) return;
  for (std::size_t s = 0; s < samples; ++s) {
    const std::size_t pair = static_cast<std::size_t>(rng.below(pair_user.size()));
    const std::size_t u = pair_user[pair];
    if (by_user.count(u) >= n_items) continue;
    const std::size_t i = by_user.index[pair];
    std::size_t j = 0;
    if (negatives != nullptr) {
      j = (*negatives)(u, rng);
      marl_rec::detail::require(j < n_items && !by_user.contains(u, j), [&] {
        return "MatrixFactorization::fit: the negative sampler returned item " +
               std::to_string(j) + " for user " + std::to_string(u) +
               (j < n_items ? ", an item the user interacted with"
                            : ", outside the " + std::to_string(n_items) + " items");
      });
    } else {
      do {
        j = static_cast<std::size_t>(rng.below(n_items));
      } while (by_user.contains(u, j));
    }
    float* xu = users.data() + u * f;
    float* yi = items.data() + i * f;
    float* yj = items.data() + j * f;
    float x = 0.0f;
    for (std::size_t k = 0; k < f; ++k) x += xu[k] * (yi[k] - yj[k]);
    // σ(−x) = d ln σ(x) / dx, written to stay finite for large |x|.
    const float g = x >= 0.0f ? std::exp(-x) / (1.0f + std::exp(-x)) : 1.0f / (1.0f + std::exp(x));
    for (std::size_t k = 0; k < f; ++k) {
      const float u_k = xu[k], i_k = yi[k], j_k = yj[k];
      xu[k] += learning_rate * (g * (i_k - j_k) - lambda * u_k);
      yi[k] += learning_rate * (g * u_k - lambda * i_k);
      yj[k] += learning_rate * (-g * u_k - lambda * j_k);
    }
  }
}

/// Scratch of the const paths (fold-in, scoring an anonymous user): one per thread, sized on
/// first use and reused, so that those calls do not allocate after a first call of the same
/// shape.
struct FoldInScratch {
  MatrixXd a{};
  VectorXd b{};
  VectorXd x{};
  VectorXd y{};
  Eigen::LLT<MatrixXd> llt{};
  std::vector<float> user{};
};

/// This thread's scratch.
inline FoldInScratch& fold_in_scratch() {
  thread_local FoldInScratch scratch;
  return scratch;
}

/// The iALS user solve for the interactions `history` (each occurrence r = 1, so confidence
/// 1 + alpha; repeats add up) against the item factors `items` (n_items × f) whose Gram matrix
/// is `g`: (YᵀY + Yᵀ(C − I)Y + λI) x = Yᵀ C p, written to `out` (f floats). An empty history
/// gives x = 0. Items must be < n_items (the caller checks). Does not allocate once this
/// thread's scratch has size f. Throws Error when the system is singular (λ = 0).
inline void fold_in_solve(const MatrixXd& g, const AlignedVector<float>& items, std::size_t f,
                          double lambda, double alpha, std::span<const std::size_t> history,
                          std::span<float> out) {
  FoldInScratch& s = fold_in_scratch();
  const auto fi = static_cast<Eigen::Index>(f);
  s.a.resize(fi, fi);
  s.b.resize(fi);
  s.x.resize(fi);
  s.y.resize(fi);
  s.a = g;
  s.a.diagonal().array() += lambda;
  s.b.setZero();
  for (const std::size_t item : history) {
    const float* row = items.data() + item * f;
    for (Eigen::Index c = 0; c < fi; ++c) s.y(c) = static_cast<double>(row[c]);
    s.a.selfadjointView<Eigen::Lower>().rankUpdate(s.y, alpha);
    s.b += (1.0 + alpha) * s.y;
  }
  s.llt.compute(s.a);
  marl_rec::detail::require(s.llt.info() == Eigen::Success,
                            "MatrixFactorization::fold_in: the normal equations are not positive "
                            "definite (regularization is too small)");
  s.x = s.llt.solve(s.b);
  for (Eigen::Index c = 0; c < fi; ++c)
    out[static_cast<std::size_t>(c)] = static_cast<float>(s.x(c));
}

/// 1 / ‖v‖ (the norm accumulated in double), or 0 when the norm is zero or not finite.
inline float inverse_norm(const float* v, std::size_t n) noexcept {
  double n2 = 0.0;
  for (std::size_t k = 0; k < n; ++k) n2 += static_cast<double>(v[k]) * static_cast<double>(v[k]);
  if (!(n2 > 0.0) || !std::isfinite(n2)) return 0.0f;
  const double inverse = 1.0 / std::sqrt(n2);
  return inverse <= static_cast<double>(std::numeric_limits<float>::max())
             ? static_cast<float>(inverse)
             : 0.0f;
}

}  // namespace marl_rec::detail::mf
