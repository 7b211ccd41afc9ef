// marl_rec — the layers of SelfAttentionRecommender (layer norm, causal scaled dot-product
// attention, point-wise feed-forward, dropout), each a forward pass that keeps what its
// hand-written backward pass needs. Row i of every matrix is sequence position i.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "marl_rec/core/rng.hpp"

namespace marl_rec::detail::attention {

/// Row-major dynamic matrix (row i = position i; a 1 × d matrix holds a per-feature vector).
template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Added to the variance in layer norm (keeps a constant row finite).
inline constexpr double layer_norm_epsilon = 1e-5;

/// What layer_norm_backward needs from the forward pass.
template <class S>
struct LayerNormCache {
  Mat<S> xhat{};  // (x − mean) / sqrt(var + eps), per row
  Mat<S> rstd{};  // m × 1: 1 / sqrt(var + eps)
};

/// y = γ ∘ (x − mean(x)) / sqrt(var(x) + ε) + β per row (the variance is the biased one).
/// gamma and beta are 1 × d.
template <class S>
void layer_norm_forward(const Mat<S>& x, const Mat<S>& gamma, const Mat<S>& beta,
                        LayerNormCache<S>& cache, Mat<S>& y) {
  const Eigen::Index m = x.rows();
  const Eigen::Index d = x.cols();
  cache.xhat.resize(m, d);
  cache.rstd.resize(m, 1);
  y.resize(m, d);
  const S inv_d = S(1) / static_cast<S>(d);
  for (Eigen::Index r = 0; r < m; ++r) {
    const S mean = x.row(r).sum() * inv_d;
    const S var = (x.row(r).array() - mean).square().sum() * inv_d;
    const S rstd = S(1) / std::sqrt(var + static_cast<S>(layer_norm_epsilon));
    cache.rstd(r, 0) = rstd;
    cache.xhat.row(r) = (x.row(r).array() - mean) * rstd;
    y.row(r) = cache.xhat.row(r).cwiseProduct(gamma) + beta;
  }
}

/// Given dL/dy, writes dL/dx to `dx` and adds dL/dγ, dL/dβ to dgamma, dbeta:
/// dx = rstd · (g − mean(g) − x̂ · mean(g ∘ x̂)) with g = dy ∘ γ, per row.
template <class S>
void layer_norm_backward(const Mat<S>& dy, const Mat<S>& gamma, const LayerNormCache<S>& cache,
                         Mat<S>& dx, Mat<S>& dgamma, Mat<S>& dbeta) {
  const Eigen::Index m = dy.rows();
  const Eigen::Index d = dy.cols();
  dx.resize(m, d);
  const S inv_d = S(1) / static_cast<S>(d);
  for (Eigen::Index r = 0; r < m; ++r) {
    dgamma += dy.row(r).cwiseProduct(cache.xhat.row(r));
    dbeta += dy.row(r);
    const auto g = dy.row(r).cwiseProduct(gamma);
    const S g_mean = g.sum() * inv_d;
    const S gx_mean = g.cwiseProduct(cache.xhat.row(r)).sum() * inv_d;
    dx.row(r) = cache.rstd(r, 0) *
                (g.array() - g_mean - cache.xhat.row(r).array() * gx_mean).matrix();
  }
}

/// Causal scaled dot-product attention: o_t = Σ_{j ≤ t} a_tj v_j with
/// a_t = softmax_j(q_t · k_j / √d) over j ≤ t. Position t never sees a later position j > t
/// (its score is −∞ before the softmax). `a` receives the m × m attention weights (zero above the
/// diagonal).
template <class S>
void causal_attention_forward(const Mat<S>& q, const Mat<S>& k, const Mat<S>& v, Mat<S>& a,
                              Mat<S>& o) {
  const Eigen::Index m = q.rows();
  const S scale = S(1) / std::sqrt(static_cast<S>(q.cols()));
  a.resize(m, m);
  a.noalias() = q * k.transpose();
  for (Eigen::Index t = 0; t < m; ++t) {
    S top = -std::numeric_limits<S>::infinity();
    for (Eigen::Index j = 0; j <= t; ++j) top = std::max(top, a(t, j) * scale);
    S sum = 0;
    for (Eigen::Index j = 0; j <= t; ++j) {
      a(t, j) = std::exp(a(t, j) * scale - top);
      sum += a(t, j);
    }
    for (Eigen::Index j = 0; j <= t; ++j) a(t, j) /= sum;
    for (Eigen::Index j = t + 1; j < m; ++j) a(t, j) = S(0);
  }
  o.resize(m, v.cols());
  o.noalias() = a * v;
}

/// Given dL/do, writes dL/dq, dL/dk, dL/dv (the masked weights are 0, so they pass nothing back):
/// dv = aᵀ do; ds_tj = a_tj (da_tj − Σ_j a_tj da_tj) with da = do vᵀ; dq = ds k / √d;
/// dk = dsᵀ q / √d. `ds` is scratch.
template <class S>
void causal_attention_backward(const Mat<S>& q, const Mat<S>& k, const Mat<S>& v, const Mat<S>& a,
                               const Mat<S>& d_o, Mat<S>& ds, Mat<S>& dq, Mat<S>& dk, Mat<S>& dv) {
  const Eigen::Index m = q.rows();
  const S scale = S(1) / std::sqrt(static_cast<S>(q.cols()));
  dv.resize(v.rows(), v.cols());
  dv.noalias() = a.transpose() * d_o;
  ds.resize(m, m);
  ds.noalias() = d_o * v.transpose();  // da
  for (Eigen::Index t = 0; t < m; ++t) {
    S dot = 0;
    for (Eigen::Index j = 0; j <= t; ++j) dot += a(t, j) * ds(t, j);
    for (Eigen::Index j = 0; j <= t; ++j) ds(t, j) = a(t, j) * (ds(t, j) - dot) * scale;
    for (Eigen::Index j = t + 1; j < m; ++j) ds(t, j) = S(0);
  }
  dq.resize(q.rows(), q.cols());
  dq.noalias() = ds * k;
  dk.resize(k.rows(), k.cols());
  dk.noalias() = ds.transpose() * q;
}

/// What feed_forward_backward needs from the forward pass.
template <class S>
struct FeedForwardCache {
  Mat<S> pre{};     // x w1 + b1
  Mat<S> hidden{};  // relu(pre)
};

/// The point-wise feed-forward layer: y = relu(x w1 + b1) w2 + b2 (w1, w2 d × d; b1, b2 1 × d),
/// applied to every position alike.
template <class S>
void feed_forward_forward(const Mat<S>& x, const Mat<S>& w1, const Mat<S>& b1, const Mat<S>& w2,
                          const Mat<S>& b2, FeedForwardCache<S>& cache, Mat<S>& y) {
  cache.pre.resize(x.rows(), w1.cols());
  cache.pre.noalias() = x * w1;
  cache.pre.rowwise() += b1.row(0);
  cache.hidden = cache.pre.cwiseMax(S(0));
  y.resize(x.rows(), w2.cols());
  y.noalias() = cache.hidden * w2;
  y.rowwise() += b2.row(0);
}

/// Given dL/dy, writes dL/dx to `dx` and adds the parameters' gradients to dw1, db1, dw2, db2.
/// `scratch` is reused for dL/dpre.
template <class S>
void feed_forward_backward(const Mat<S>& x, const Mat<S>& w1, const Mat<S>& w2,
                           const FeedForwardCache<S>& cache, const Mat<S>& dy, Mat<S>& scratch,
                           Mat<S>& dx, Mat<S>& dw1, Mat<S>& db1, Mat<S>& dw2, Mat<S>& db2) {
  dw2.noalias() += cache.hidden.transpose() * dy;
  db2 += dy.colwise().sum();
  scratch.resize(dy.rows(), w2.rows());
  scratch.noalias() = dy * w2.transpose();
  // relu' is 1 where pre > 0 (0 at exactly 0, as the forward pass gives 0 there).
  scratch = (cache.pre.array() > S(0)).select(scratch, S(0));
  dw1.noalias() += x.transpose() * scratch;
  db1 += scratch.colwise().sum();
  dx.resize(x.rows(), w1.rows());
  dx.noalias() = scratch * w1.transpose();
}

/// Inverted dropout: fills `mask` (the shape of the input) with 0 (probability `rate`) or
/// 1 / (1 − rate), drawn from `rng` row by row. The layer's output is input ∘ mask, its backward
/// pass dy ∘ mask. rate in [0, 1).
template <class S>
void dropout_mask(Rng& rng, double rate, Eigen::Index rows, Eigen::Index cols, Mat<S>& mask) {
  mask.resize(rows, cols);
  const S keep = static_cast<S>(1.0 / (1.0 - rate));
  for (Eigen::Index r = 0; r < rows; ++r) {
    for (Eigen::Index c = 0; c < cols; ++c) mask(r, c) = rng.uniform() < rate ? S(0) : keep;
  }
}

}  // namespace marl_rec::detail::attention
