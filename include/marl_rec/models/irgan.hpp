// marl_rec — IRGAN for item recommendation (Wang et al., SIGIR 2017): a generator (softmax over
// the catalog from matrix-factorisation scores) trained by policy gradient against a logistic
// matrix-factorisation discriminator, both pre-trained by BPR.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <memory>
#include <mutex>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// The settings of Irgan. Checked by its constructor (and by load()).
///
/// The defaults are a generic, cheap starting point (the paper's reward, 10 rounds, the step of
/// the authors' code), not a setting tuned to a data set. On InstEval, validation chose
/// factors = 128, rounds = 60 (120 scored the same), g_learning_rate = 0.02 and
/// Reward::centered_sigmoid (docs/models.md, "IRGAN (adversarial)"; marl_rec_eval's "irgan"
/// defaults): 6× these defaults' rounds at twice the factors, and a choice made on one data
/// set, so it is not made the library's default. Choose rounds and steps on a validation split.
struct IrganConfig {
  /// What the generator is rewarded with for an item the discriminator scores f = D(u, i).
  enum class Reward {
    /// log(1 + exp(f)): the reward of the paper's equation (the generator minimises
    /// log(1 − σ(f)), whose negative is log(1 + exp(f))).
    softplus,
    /// 2σ(f) − 1 (= tanh(f / 2)): what the authors' released item-recommendation code uses
    /// (`reward = 2 * (sigmoid(logits) - 0.5)`), bounded in (−1, 1).
    centered_sigmoid,
  };

  /// Latent dimension f of both players (1 ≤ f ≤ 4096).
  std::size_t factors = 64;
  /// Adversarial rounds; each trains the discriminator d_epochs epochs, then the generator
  /// g_epochs epochs. 0 leaves both players at their BPR pre-training.
  std::size_t rounds = 10;
  /// Discriminator epochs per round (each over every positive and as many generated items).
  std::size_t d_epochs = 1;
  /// Generator epochs per round (each one policy-gradient step per user with positives).
  std::size_t g_epochs = 1;
  /// SGD step of the generator (finite, > 0); also the step of update().
  float g_learning_rate = 0.05f;
  /// SGD step of the discriminator (finite, > 0).
  float d_learning_rate = 0.05f;
  /// L2 weight of the generator (finite, ≥ 0): on the user's row and the sampled items' rows.
  float g_regularization = 0.0f;
  /// L2 weight of the discriminator (finite, ≥ 0): on the rows of each training pair.
  float d_regularization = 0.01f;
  /// Items the generator samples per user and step; 0 means twice the user's positives (the
  /// authors' code). At most 1,000,000.
  std::size_t samples_per_user = 0;
  /// λ of the importance sampling: the generator's samples are drawn from
  /// (1 − λ)·p_θ + λ·uniform(user's positives) and reweighted by p_θ / that (the authors' code
  /// uses 0.2). 0 samples from p_θ itself. In [0, 1).
  float importance_mix = 0.2f;
  /// Softmax temperature τ of the generator: p_θ(i | u) ∝ exp(g(u, i) / τ) (finite, > 0).
  float temperature = 1.0f;
  /// The generator's reward.
  Reward reward = Reward::softplus;
  /// BPR pre-training of both players (MatrixFactorization, Algorithm::bpr, with factors, seed
  /// and the three settings below). 0 epochs leaves BPR's random initialisation.
  std::size_t pretrain_epochs = 100;
  /// BPR's step size (finite, > 0).
  float pretrain_learning_rate = 0.1f;
  /// BPR's λ (finite, ≥ 0).
  float pretrain_regularization = 0.005f;
  /// BPR's initial factors are N(0, init_scale²) (finite, ≥ 0).
  float init_scale = 0.1f;
  /// Seeds the pre-training and the adversarial sampling: same seed, same model.
  std::uint64_t seed = 42;
};

class Irgan;

namespace detail::irgan {

/// log(1 + exp(s)) without overflow.
inline double softplus(double s) noexcept {
  return s > 0.0 ? s + std::log1p(std::exp(-s)) : std::log1p(std::exp(s));
}

/// σ(s) = 1 / (1 + exp(−s)) without overflow.
inline double sigmoid(double s) noexcept {
  if (s >= 0.0) return 1.0 / (1.0 + std::exp(-s));
  const double e = std::exp(s);
  return e / (1.0 + e);
}

/// The generator's reward for a discriminator score (IrganConfig::Reward).
inline double reward(IrganConfig::Reward kind, double d_score) noexcept {
  return kind == IrganConfig::Reward::softplus ? softplus(d_score) : 2.0 * sigmoid(d_score) - 1.0;
}

/// p = softmax(logits / τ) over every entry, in double (the largest logit subtracted first).
inline void softmax(std::span<const float> logits, double temperature, std::span<double> p) {
  float top = -std::numeric_limits<float>::infinity();
  for (const float z : logits) top = std::max(top, z);
  double total = 0.0;
  for (std::size_t j = 0; j < logits.size(); ++j) {
    p[j] = std::exp((static_cast<double>(logits[j]) - static_cast<double>(top)) / temperature);
    total += p[j];
  }
  for (double& v : p) v /= total;
}

/// An index drawn from the cumulative sums `cdf` (non-decreasing, last entry > 0): the first j
/// with cdf[j] > u · total, which always has mass cdf[j] − cdf[j−1] > 0.
inline std::size_t draw(std::span<const double> cdf, Rng& rng) noexcept {
  const double r = rng.uniform() * cdf.back();
  std::size_t j =
      static_cast<std::size_t>(std::upper_bound(cdf.begin(), cdf.end(), r) - cdf.begin());
  // u · total can round up to total: take the last entry with mass.
  if (j >= cdf.size()) {
    j = cdf.size() - 1;
    while (j > 0 && cdf[j] == cdf[j - 1]) --j;
  }
  return j;
}

/// The per-step buffers of the generator's policy-gradient step (grown once, then reused).
struct GeneratorScratch {
  std::vector<double> g{};
  std::vector<double> grad_user{};
  std::vector<unsigned char> sampled{};
};

// generator_step (Write) or its check pass (!Write): the same arithmetic; the check pass writes
// nothing and returns whether every new value is finite.
template <bool Write>
bool generator_step_impl(float* x, float* items, float* bias, std::size_t n, std::size_t f,
                         double temperature, float learning_rate, float lambda,
                         std::span<const double> p, std::span<const std::size_t> samples,
                         std::span<const double> weights, bool update_user,
                         GeneratorScratch& scratch) {
  if (samples.empty()) return true;
  scratch.g.assign(n, 0.0);
  scratch.sampled.assign(n, 0);
  double total = 0.0;
  for (std::size_t s = 0; s < samples.size(); ++s) {
    scratch.g[samples[s]] += weights[s];
    scratch.sampled[samples[s]] = 1;
    total += weights[s];
  }
  const double inverse_s = 1.0 / static_cast<double>(samples.size());
  const double inverse_t = 1.0 / temperature;
  for (std::size_t j = 0; j < n; ++j)
    scratch.g[j] = (scratch.g[j] - total * p[j]) * inverse_s * inverse_t;
  // ∇_x from the old item rows.
  scratch.grad_user.assign(f, 0.0);
  if (update_user) {
    for (std::size_t j = 0; j < n; ++j) {
      const double gj = scratch.g[j];
      const float* y = items + j * f;
      for (std::size_t k = 0; k < f; ++k) scratch.grad_user[k] += gj * static_cast<double>(y[k]);
    }
  }
  bool finite = true;
  // Items and biases from the old x.
  for (std::size_t j = 0; j < n; ++j) {
    const auto gj = static_cast<float>(scratch.g[j]);
    const float decay = scratch.sampled[j] != 0 ? lambda : 0.0f;
    float* y = items + j * f;
    if constexpr (Write) {
      for (std::size_t k = 0; k < f; ++k) y[k] += learning_rate * (gj * x[k] - decay * y[k]);
      bias[j] += learning_rate * (gj - decay * bias[j]);
    } else {
      for (std::size_t k = 0; k < f; ++k)
        finite = finite && std::isfinite(y[k] + learning_rate * (gj * x[k] - decay * y[k]));
      finite = finite && std::isfinite(bias[j] + learning_rate * (gj - decay * bias[j]));
    }
  }
  if (update_user) {
    for (std::size_t k = 0; k < f; ++k) {
      const float next =
          x[k] + learning_rate * (static_cast<float>(scratch.grad_user[k]) - lambda * x[k]);
      if constexpr (Write) {
        x[k] = next;
      } else {
        finite = finite && std::isfinite(next);
      }
    }
  }
  return finite;
}

/// One policy-gradient (REINFORCE) ascent step of the generator for one user with user factors
/// x (f floats) against items (n × f row-major) and biases b (n), whose logits are
/// z_j = (x·y_j + b_j) / τ and p = softmax(z) (given, `p`). The step ascends the surrogate
///   Ĵ = (1/S) Σ_s w_s log p(samples[s])
/// whose expectation, for samples drawn from p and w_s = r(samples[s]) (or drawn from q and
/// w_s = r · p / q), is the gradient of the expected reward J = Σ_j p_j r_j. With
/// c_j = Σ_{s: samples[s] = j} w_s and R = Σ_s w_s, dĴ/dz_j = (c_j − R p_j) / S, so
///   ∇_x Ĵ = (1/τ) Σ_j (dĴ/dz_j) y_j,  ∇_{y_j} Ĵ = (1/τ) (dĴ/dz_j) x,  ∇_{b_j} Ĵ = (1/τ) dĴ/dz_j,
/// and every item moves (the softmax couples them). The step is θ += lr (∇Ĵ − λθ), the L2 term
/// on x and on the rows (and biases) of the distinct sampled items; all gradients are taken at
/// the old values. x moves only when `update_user`.
inline void generator_step(float* x, float* items, float* bias, std::size_t n, std::size_t f,
                           double temperature, float learning_rate, float lambda,
                           std::span<const double> p, std::span<const std::size_t> samples,
                           std::span<const double> weights, bool update_user,
                           GeneratorScratch& scratch) {
  generator_step_impl<true>(x, items, bias, n, f, temperature, learning_rate, lambda, p, samples,
                            weights, update_user, scratch);
}

/// Whether generator_step with the same arguments would leave every parameter finite. Writes
/// nothing (the values are computed and dropped), so a caller can refuse a step without keeping
/// a copy of the item matrix.
inline bool generator_step_finite(const float* x, const float* items, const float* bias,
                                  std::size_t n, std::size_t f, double temperature,
                                  float learning_rate, float lambda, std::span<const double> p,
                                  std::span<const std::size_t> samples,
                                  std::span<const double> weights, bool update_user,
                                  GeneratorScratch& scratch) {
  // The check pass only reads through these pointers.
  return generator_step_impl<false>(const_cast<float*>(x), const_cast<float*>(items),
                                    const_cast<float*>(bias), n, f, temperature, learning_rate,
                                    lambda, p, samples, weights, update_user, scratch);
}

/// The buffers of generator_user_step (grown once, then reused across users).
struct GeneratorUserScratch {
  std::vector<float> z{};
  std::vector<double> prob{}, q{}, cdf{}, weights{};
  std::vector<std::size_t> samples{};
  GeneratorScratch step{};
};

/// One generator step for one user with positives, as Irgan::fit takes it (c gives f =
/// c.factors, τ, λ = c.importance_mix, the reward, S and the step): with
/// p = softmax((x·y_j + b_j) / τ) over the n items, draws S items (c.samples_per_user, 0: twice
/// the positives) from q = (1 − λ) p + λ·uniform(positives), weighs each drawn i by
/// w = reward(d(u, i)) · p_i / q_i with d(u, i) = xd·yd_i + bd_i, and takes generator_step
/// (x moves). So the step's expectation is c.g_learning_rate times the gradient of
/// E_p[reward(d)] (plus the L2 term). `positives` must be non-empty, distinct, below n.
/// Generator: x (f), items (n × f), bias (n); discriminator (read only): xd, d_items, d_bias.
inline void generator_user_step(const IrganConfig& c, float* x, float* items, float* bias,
                                const float* xd, const float* d_items, const float* d_bias,
                                std::size_t n, std::span<const std::size_t> positives, Rng& rng,
                                GeneratorUserScratch& s) {
  const std::size_t f = c.factors;
  const double t = static_cast<double>(c.temperature);
  const double mix = static_cast<double>(c.importance_mix);
  s.z.resize(n);
  s.prob.resize(n);
  s.q.resize(n);
  s.cdf.resize(n);
  simd::score(std::span<const float>(x, f), MatrixView(std::span<const float>(items, n * f), n, f),
              s.z);
  for (std::size_t j = 0; j < n; ++j) s.z[j] = s.z[j] + bias[j];
  softmax(s.z, t, s.prob);
  const std::size_t n_pos = positives.size();
  for (std::size_t j = 0; j < n; ++j) s.q[j] = (1.0 - mix) * s.prob[j];
  for (const std::size_t i : positives) s.q[i] += mix / static_cast<double>(n_pos);
  double total = 0.0;
  for (std::size_t j = 0; j < n; ++j) s.cdf[j] = total += s.q[j];
  const std::size_t count = c.samples_per_user != 0 ? c.samples_per_user : 2 * n_pos;
  s.samples.resize(count);
  s.weights.resize(count);
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t i = draw(s.cdf, rng);
    s.samples[k] = i;
    float d = d_bias[i];
    const float* yd = d_items + i * f;
    for (std::size_t m = 0; m < f; ++m) d += xd[m] * yd[m];
    s.weights[k] = reward(c.reward, static_cast<double>(d)) * s.prob[i] / s.q[i];
  }
  generator_step(x, items, bias, n, f, t, c.g_learning_rate, c.g_regularization, s.prob,
                 s.samples, s.weights, true, s.step);
}

/// The discriminator's loss on one pair: the logistic loss of score s = x·y + b against
/// `label` (1 real, 0 generated), −[l log σ(s) + (1 − l) log(1 − σ(s))] = softplus(s) − l s,
/// plus (λ/2)(‖x‖² + ‖y‖² + b²). In double.
inline double discriminator_loss(const float* x, const float* y, float b, std::size_t f,
                                 double label, double lambda) noexcept {
  double s = static_cast<double>(b);
  double norms = static_cast<double>(b) * static_cast<double>(b);
  for (std::size_t k = 0; k < f; ++k) {
    s += static_cast<double>(x[k]) * static_cast<double>(y[k]);
    norms += static_cast<double>(x[k]) * x[k] + static_cast<double>(y[k]) * y[k];
  }
  return softplus(s) - label * s + 0.5 * lambda * norms;
}

/// One SGD step on discriminator_loss: with e = label − σ(s) (= −dloss/ds),
/// x += lr (e y − λx), y += lr (e x − λy), b += lr (e − λb), all from the old values.
inline void discriminator_step(float* x, float* y, float& b, std::size_t f, float label,
                               float learning_rate, float lambda) noexcept {
  float s = b;
  for (std::size_t k = 0; k < f; ++k) s += x[k] * y[k];
  const auto e = static_cast<float>(static_cast<double>(label) - sigmoid(static_cast<double>(s)));
  for (std::size_t k = 0; k < f; ++k) {
    const float xk = x[k], yk = y[k];
    x[k] += learning_rate * (e * yk - lambda * xk);
    y[k] += learning_rate * (e * xk - lambda * yk);
  }
  b += learning_rate * (e - lambda * b);
}

/// The CDF over n items of P(j) ∝ exp(z_j / t) for the items not in `positives` (sorted,
/// distinct; mass 0 on them), written to cdf (n). Returns false (cdf all 0) when every item is
/// a positive.
inline bool negative_cdf(std::span<const float> z, std::span<const std::size_t> positives,
                         double t, std::span<double> cdf) {
  const std::size_t n = z.size();
  if (positives.size() >= n) {
    std::fill(cdf.begin(), cdf.end(), 0.0);
    return false;
  }
  float top = -std::numeric_limits<float>::infinity();
  std::size_t next = 0;
  for (std::size_t j = 0; j < n; ++j) {
    if (next < positives.size() && positives[next] == j) {
      ++next;
      continue;
    }
    top = std::max(top, z[j]);
  }
  double total = 0.0;
  next = 0;
  for (std::size_t j = 0; j < n; ++j) {
    if (next < positives.size() && positives[next] == j) {
      ++next;
    } else {
      total += std::exp((static_cast<double>(z[j]) - static_cast<double>(top)) / t);
    }
    cdf[j] = total;
  }
  return true;
}

/// What an IrganNegativeSampler draws from: a copy of the generator taken when the sampler was
/// made, and the per-user CDFs, each computed on its first draw and kept (rows[u]; row `users`
/// is the cold user). A row is published through an atomic pointer after it is complete, and
/// built under the mutex, so concurrent draws are safe and each row is built once.
struct NegativeSource {
  std::size_t users = 0;
  std::size_t items = 0;
  std::size_t factors = 0;
  double temperature = 1.0;
  AlignedVector<float> g_users{};  // users × factors (aligned as the model's: the same bits)
  AlignedVector<float> g_items{};  // items × factors
  std::vector<float> g_bias{};
  std::vector<float> g_mean_user{};
  std::vector<std::size_t> pos_offset{};
  std::vector<std::size_t> pos_index{};

  NegativeSource(std::size_t n_users, std::size_t n_items)
      : users(n_users),
        items(n_items),
        owned_(n_users + 1),
        ready_(new std::atomic<const double*>[n_users + 1]()) {}

  /// The CDF row of `row` (≤ users), built on first use.
  std::span<const double> cdf(std::size_t row) const {
    const double* ready = ready_[row].load(std::memory_order_acquire);
    if (ready == nullptr) {
      const std::lock_guard<std::mutex> lock(mutex_);
      ready = ready_[row].load(std::memory_order_relaxed);
      if (ready == nullptr) {
        auto values = std::make_unique<double[]>(items);
        std::vector<float> z(items);
        const std::span<const float> x =
            row < users ? std::span<const float>(g_users).subspan(row * factors, factors)
                        : std::span<const float>(g_mean_user);
        simd::score(x, MatrixView(std::span<const float>(g_items), items, factors), z);
        for (std::size_t j = 0; j < items; ++j) z[j] = z[j] + g_bias[j];
        const std::span<const std::size_t> pos =
            row < users ? std::span<const std::size_t>(pos_index)
                              .subspan(pos_offset[row], pos_offset[row + 1] - pos_offset[row])
                        : std::span<const std::size_t>();
        negative_cdf(z, pos, temperature, std::span<double>(values.get(), items));
        ready = values.get();
        owned_[row] = std::move(values);
        ready_[row].store(ready, std::memory_order_release);
      }
    }
    return {ready, items};
  }

 private:
  mutable std::mutex mutex_{};
  mutable std::vector<std::unique_ptr<double[]>> owned_;
  std::unique_ptr<std::atomic<const double*>[]> ready_;
};

}  // namespace detail::irgan

/// Draws hard negatives from a trained Irgan's generator: for user u, item j with probability
/// ∝ exp(g(u, j) / τ) among the items u has no training interaction with (users past the
/// model's users: the cold user's distribution over every item). It keeps a copy of the
/// generator as it was when Irgan::negative_sampler() made it (it does not change when the
/// Irgan trains again) and computes a user's distribution on that user's first draw
/// (O(items · f)), then keeps it: up to (users + 1) × items doubles when every user is drawn
/// for (negative_sampler refuses tables above a cap). Later draws are one uniform and a binary
/// search (O(log items)). Copies share the copy and the kept rows. Callable as a
/// MatrixFactorization::NegativeSampler. Const and thread-safe apart from the caller's Rng:
/// a row is built once, under a lock, and published complete.
class IrganNegativeSampler {
 public:
  /// A negative for `user`, drawn with `rng`. Throws Error when the user interacted with every
  /// item (there is no negative) or the sampler is empty (default-constructed).
  std::size_t operator()(std::size_t user, Rng& rng) const {
    marl_rec::detail::require(source_ != nullptr && source_->items != 0,
                              "IrganNegativeSampler: empty sampler (no fitted model)");
    const std::span<const double> cdf = source_->cdf(std::min(user, source_->users));
    marl_rec::detail::require(cdf.back() > 0.0, [&] {
      return "IrganNegativeSampler: user " + std::to_string(user) +
             " interacted with every item: there is no negative to draw";
    });
    return detail::irgan::draw(cdf, rng);
  }
  /// The users with their own distribution (the fitted model's users()).
  std::size_t users() const noexcept { return source_ ? source_->users : 0; }
  /// The items drawn from (the fitted model's items()).
  std::size_t items() const noexcept { return source_ ? source_->items : 0; }

 private:
  friend class Irgan;
  std::shared_ptr<const detail::irgan::NegativeSource> source_{};
};

/// What the last Irgan::fit did and how long it took (wall seconds, one thread).
struct IrganTraining {
  double pretrain_seconds = 0.0;
  double discriminator_seconds = 0.0;
  double generator_seconds = 0.0;
  std::size_t discriminator_epochs = 0;
  std::size_t generator_epochs = 0;
};

/// IRGAN for item recommendation (Wang et al., "IRGAN: A Minimax Game for Unifying Generative
/// and Discriminative Information Retrieval Models", SIGIR 2017). Two matrix-factorisation
/// players with item biases:
/// - the generator G scores g(u, i) = x_u·y_i + b_i and samples items from
///   p_θ(i | u) = softmax_i(g(u, i) / τ) over the whole catalog;
/// - the discriminator D scores d(u, i) = x'_u·y'_i + b'_i and is a logistic classifier of
///   "real positive" against "generated".
///
/// fit(train): both players start from one BPR fit (MatrixFactorization, Algorithm::bpr, with
/// the pre-training settings; biases 0), then each of `rounds` rounds
/// - trains D d_epochs times: each epoch draws, for every user with positives, as many items
///   from p_θ(· | u) as the user has positives (the draw may hit a positive, as in the authors'
///   code; their released cf_gan.py may draw these at a sharper temperature, 0.2, where this
///   draws at the generator's τ),
///   and takes one SGD step on the logistic loss (+ L2) per pair, label 1 for the positives and
///   0 for the drawn items, the pairs in a seeded random order;
/// - trains G g_epochs times: per user with positives (users in a seeded random order), draws
///   S = samples_per_user items (0: twice the positives) from the mixture
///   q = (1 − λ) p_θ + λ·uniform(positives) (λ = importance_mix), weighs each by
///   w = reward(D(u, i)) · p_θ(i) / q(i), and takes one REINFORCE ascent step
///   (detail::irgan::generator_step) on (1/S) Σ w log p_θ(i): an unbiased estimate of the
///   gradient of E_{p_θ}[reward].
/// Duplicate rows and ratings do not matter: a (user, item) pair seen once is a positive (the
/// ratings must still be finite: fit checks them, as the BPR pre-training would).
///
/// Ranking (BatchRecommender) uses the generator: score_user writes g(u, i). Users of the id
/// map without training rows, and unknown indices (cold users), get the mean generator user
/// factor over the users with rows: an average taste. discriminator_score_user gives D's
/// ranking. With rounds = 0 the generator's scores are exactly the BPR model's.
///
/// As a Model (for an Agent): score(context, candidates, scores) is g for context.user (cold:
/// the mean user; the context's history is not read); update(context, item, reward) is one
/// REINFORCE step with that reward on the shown item (one sample, weight = reward, at
/// g_learning_rate and g_regularization; for a cold context only the item side moves; a move
/// of a user with positives moves the cold user's mean by its share). It assumes the item was
/// drawn from p_θ itself (on-policy): the Model interface passes no propensity, so when an
/// explorer picks the item with another distribution (greedy, ε-greedy, a softmax at another
/// temperature) the step follows the gradient of E_p[reward] only approximately (an unbiased
/// step would weigh the reward by p_θ(item) / propensity). It costs O(items · f) (the softmax
/// couples every item), twice: once to check that the step stays finite, once to take it.
///
/// As a source of hard negatives: sample_negatives() draws from G's distribution without the
/// user's positives, and negative_sampler() returns a sampler (each user's distribution
/// computed on first use and kept) that MatrixFactorization::fit(train, negatives) accepts
/// (BPR with generator negatives).
///
/// Deterministic for a seed (single-threaded). score / score_user / probabilities are const and
/// thread-safe; score does not allocate.
class Irgan {
 public:
  using Config = IrganConfig;
  using Reward = Config::Reward;

  /// A model with the default configuration (not fitted).
  Irgan() = default;
  /// A model with `config`. Throws Error when a setting is out of range (see IrganConfig).
  explicit Irgan(Config config) : config_(checked(config, "Irgan")) {}

  /// "irgan".
  std::string_view name() const noexcept { return "irgan"; }
  /// The configuration (replaced by load()).
  const Config& config() const noexcept { return config_; }
  /// Users the model has factors for (the fitted user map's size; 0 before fit).
  std::size_t users() const noexcept { return n_users_; }
  /// Items the model has factors for (the fitted item map's size; 0 before fit).
  std::size_t items() const noexcept { return n_items_; }
  /// The latent dimension f.
  std::size_t factors() const noexcept { return config_.factors; }
  /// What the last fit did, with timings (zeros after load()).
  const IrganTraining& last_training() const noexcept { return training_; }

  /// The generator's user factors, users() × f row-major.
  MatrixView generator_user_factors() const {
    return MatrixView(g_users_, n_users_, config_.factors);
  }
  /// The generator's item factors, items() × f row-major.
  MatrixView generator_item_factors() const {
    return MatrixView(g_items_, n_items_, config_.factors);
  }
  /// The generator's item biases.
  std::span<const float> generator_bias() const noexcept { return g_bias_; }
  /// The discriminator's user factors, users() × f row-major.
  MatrixView discriminator_user_factors() const {
    return MatrixView(d_users_, n_users_, config_.factors);
  }
  /// The discriminator's item factors, items() × f row-major.
  MatrixView discriminator_item_factors() const {
    return MatrixView(d_items_, n_items_, config_.factors);
  }
  /// The discriminator's item biases.
  std::span<const float> discriminator_bias() const noexcept { return d_bias_; }

  /// The training items of user `user` (sorted, distinct); empty for cold users.
  std::span<const std::size_t> positives(std::size_t user) const noexcept {
    if (user >= n_users_) return {};
    return std::span<const std::size_t>(pos_index_)
        .subspan(pos_offset_[user], pos_offset_[user + 1] - pos_offset_[user]);
  }

  /// Learns both players from `train` (see the class comment), from scratch. Throws Error,
  /// leaving the model unchanged, when `train` has no rows or a row's user or item index is
  /// outside the id maps.
  void fit(const Interactions& train) {
    using clock = std::chrono::steady_clock;
    marl_rec::detail::require(!train.empty(), "Irgan::fit: the training data is empty");
    const std::size_t f = config_.factors;
    const std::size_t n_users = train.users.size();
    const std::size_t n_items = train.items.size();
    for (std::size_t k = 0; k < train.rows.size(); ++k) {
      const Interaction& row = train.rows[k];
      marl_rec::detail::require(row.user < n_users && row.item < n_items, [&] {
        return "Irgan::fit: row " + std::to_string(k) + " has (user, item) index (" +
               std::to_string(row.user) + ", " + std::to_string(row.item) +
               "), outside the id maps (" + std::to_string(n_users) + " users, " +
               std::to_string(n_items) + " items)";
      });
      // Ratings are ignored, but the BPR pre-training refuses non-finite ones: say so here.
      marl_rec::detail::require(std::isfinite(row.rating), [&] {
        return "Irgan::fit: row " + std::to_string(k) + " has a non-finite rating (" +
               std::to_string(row.rating) + "); ratings are ignored but must be finite";
      });
    }
    IrganTraining training;
    // Positives by user, sorted and distinct (counting sort by user, then sort each row).
    std::vector<std::size_t> offset(n_users + 1, 0);
    for (const Interaction& row : train.rows) ++offset[row.user + 1];
    for (std::size_t u = 0; u < n_users; ++u) offset[u + 1] += offset[u];
    std::vector<std::size_t> index(train.rows.size());
    {
      std::vector<std::size_t> next(offset.begin(), offset.end() - 1);
      for (const Interaction& row : train.rows) index[next[row.user]++] = row.item;
      std::size_t out = 0;
      for (std::size_t u = 0; u < n_users; ++u) {
        const auto first = index.begin() + static_cast<std::ptrdiff_t>(offset[u]);
        const auto last = index.begin() + static_cast<std::ptrdiff_t>(offset[u + 1]);
        std::sort(first, last);
        const auto end = std::unique(first, last);
        offset[u] = out;
        for (auto it = first; it != end; ++it) index[out++] = *it;
      }
      offset[n_users] = out;
      index.resize(out);
    }

    // Pre-training: one BPR fit, copied into both players.
    auto start = clock::now();
    MatrixFactorization bpr(pretrain_config(config_));
    bpr.fit(train);
    const auto copy_rows = [](MatrixView m) {
      AlignedVector<float> out(m.rows() * m.cols());
      for (std::size_t r = 0; r < m.rows(); ++r)
        std::copy(m.row(r).begin(), m.row(r).end(),
                  out.begin() + static_cast<std::ptrdiff_t>(r * m.cols()));
      return out;
    };
    AlignedVector<float> g_users = copy_rows(bpr.user_factors());
    AlignedVector<float> g_items = copy_rows(bpr.item_factors());
    std::vector<float> g_bias(n_items, 0.0f);
    AlignedVector<float> d_users = g_users;
    AlignedVector<float> d_items = g_items;
    std::vector<float> d_bias(n_items, 0.0f);
    training.pretrain_seconds = seconds_since(start);

    Rng rng(config_.seed ^ 0x1A5A17C0FFEE5EEDull);
    Players players{g_users, g_items, g_bias, d_users, d_items, d_bias};
    std::vector<std::size_t> order;
    for (std::size_t u = 0; u < n_users; ++u) {
      if (offset[u + 1] > offset[u]) order.push_back(u);
    }
    for (std::size_t round = 0; round < config_.rounds; ++round) {
      start = clock::now();
      for (std::size_t e = 0; e < config_.d_epochs; ++e) {
        discriminator_epoch(players, n_items, offset, index, order, rng);
      }
      training.discriminator_seconds += seconds_since(start);
      training.discriminator_epochs += config_.d_epochs;
      start = clock::now();
      for (std::size_t e = 0; e < config_.g_epochs; ++e) {
        generator_epoch(players, n_items, offset, index, order, rng);
      }
      training.generator_seconds += seconds_since(start);
      training.generator_epochs += config_.g_epochs;
    }
    for (const AlignedVector<float>* v : {&g_users, &g_items, &d_users, &d_items}) {
      for (const float x : *v) {
        marl_rec::detail::require(std::isfinite(x),
                                  "Irgan::fit: training diverged (non-finite factors): lower "
                                  "g_learning_rate / d_learning_rate");
      }
    }
    for (const std::vector<float>* v : {&g_bias, &d_bias}) {
      for (const float x : *v) {
        marl_rec::detail::require(std::isfinite(x),
                                  "Irgan::fit: training diverged (non-finite biases): lower "
                                  "g_learning_rate / d_learning_rate");
      }
    }
    // Users without rows take the mean of those with rows (in both players).
    std::vector<float> g_mean = marl_rec::detail::mf::fill_cold_rows(g_users, offset, f);
    std::vector<float> d_mean = marl_rec::detail::mf::fill_cold_rows(d_users, offset, f);

    // Commit only once everything has succeeded.
    n_users_ = n_users;
    n_items_ = n_items;
    g_users_ = std::move(g_users);
    g_items_ = std::move(g_items);
    g_bias_ = std::move(g_bias);
    g_mean_user_ = std::move(g_mean);
    d_users_ = std::move(d_users);
    d_items_ = std::move(d_items);
    d_bias_ = std::move(d_bias);
    d_mean_user_ = std::move(d_mean);
    n_warm_ = order.size();
    pos_offset_ = std::move(offset);
    pos_index_ = std::move(index);
    training_ = training;
  }

  /// Writes the generator's score g(user, i) of every item (scores.size() must be items()); an
  /// index ≥ users() is a cold user (the mean generator user). Throws Error on a size mismatch.
  void score_user(std::size_t user, std::span<float> scores) const {
    marl_rec::detail::require(scores.size() == n_items_, [&] {
      return "Irgan::score_user: scores has " + std::to_string(scores.size()) +
             " entries, the model knows " + std::to_string(n_items_) + " items";
    });
    all_scores(generator_user(user), g_items_, g_bias_, scores);
  }

  /// Writes the discriminator's score d(user, i) of every item (as score_user; cold users get
  /// the mean discriminator user). Throws Error on a size mismatch.
  void discriminator_score_user(std::size_t user, std::span<float> scores) const {
    marl_rec::detail::require(scores.size() == n_items_, [&] {
      return "Irgan::discriminator_score_user: scores has " + std::to_string(scores.size()) +
             " entries, the model knows " + std::to_string(n_items_) + " items";
    });
    const std::size_t f = config_.factors;
    const std::span<const float> x = user < n_users_
                                         ? std::span<const float>(d_users_).subspan(user * f, f)
                                         : std::span<const float>(d_mean_user_);
    all_scores(x, d_items_, d_bias_, scores);
  }

  /// p_θ(i | user) = softmax(g(user, i) / temperature) over every item, written to `out`
  /// (out.size() must be items()). Throws Error on a size mismatch.
  void probabilities(std::size_t user, std::span<float> out) const {
    marl_rec::detail::require(out.size() == n_items_, [&] {
      return "Irgan::probabilities: out has " + std::to_string(out.size()) +
             " entries, the model knows " + std::to_string(n_items_) + " items";
    });
    if (n_items_ == 0) return;
    score_user(user, out);
    std::vector<double> p(n_items_);
    detail::irgan::softmax(out, static_cast<double>(config_.temperature), p);
    for (std::size_t j = 0; j < n_items_; ++j) out[j] = static_cast<float>(p[j]);
  }

  /// Replaces `out` with `count` items drawn independently (with replacement) from the
  /// generator's distribution for `user` restricted to the items the user has no training
  /// interaction with: P(j) ∝ exp(g(user, j) / temperature) (cold users: every item, with the
  /// mean user). Costs O(items · f) per call; for many draws use negative_sampler(). Throws
  /// Error when the model is not fitted or the user has every item as a positive (count > 0).
  void sample_negatives(std::size_t user, std::size_t count, Rng& rng,
                        std::vector<std::size_t>& out) const {
    out.clear();
    if (count == 0) return;
    marl_rec::detail::require(n_items_ != 0, "Irgan::sample_negatives: the model is not fitted");
    std::vector<double> cdf(n_items_);
    const bool usable = negative_cdf(user, static_cast<double>(config_.temperature), cdf);
    marl_rec::detail::require(usable, [&] {
      return "Irgan::sample_negatives: user " + std::to_string(user) +
             " interacted with every item: there is no negative to draw";
    });
    out.resize(count);
    for (std::size_t& item : out) item = detail::irgan::draw(cdf, rng);
  }

  /// The largest table negative_sampler() accepts by default: 2 GiB.
  static constexpr std::size_t default_max_table_bytes = std::size_t{1} << 31;

  /// A sampler of the generator's hard negatives (see IrganNegativeSampler), at `temperature`
  /// (0: the configured one). It copies the generator ((users + items + 1) × f floats) and
  /// keeps each user's distribution once drawn for: up to (users + 1) × items doubles, which
  /// must not exceed `max_table_bytes` (for larger catalogs draw with sample_negatives(), or
  /// raise the cap). Throws Error when the model is not fitted, the temperature is negative or
  /// not finite, or the table would exceed the cap (the message gives its size).
  IrganNegativeSampler negative_sampler(
      float temperature = 0.0f, std::size_t max_table_bytes = default_max_table_bytes) const {
    marl_rec::detail::require(n_items_ != 0, "Irgan::negative_sampler: the model is not fitted");
    marl_rec::detail::require(std::isfinite(temperature) && temperature >= 0.0f, [&] {
      return "Irgan::negative_sampler: temperature " + std::to_string(temperature) +
             " is not finite and >= 0";
    });
    const std::size_t most = std::numeric_limits<std::size_t>::max();
    const bool fits = n_users_ < most && n_users_ + 1 <= most / n_items_ / sizeof(double) &&
                      (n_users_ + 1) * n_items_ * sizeof(double) <= max_table_bytes;
    marl_rec::detail::require(fits, [&] {
      const double bytes = (static_cast<double>(n_users_) + 1.0) * static_cast<double>(n_items_) *
                           static_cast<double>(sizeof(double));
      return "Irgan::negative_sampler: the table of (" + std::to_string(n_users_) + " + 1) x " +
             std::to_string(n_items_) + " doubles would need " + std::to_string(bytes) +
             " bytes, above max_table_bytes " + std::to_string(max_table_bytes) +
             " (draw with sample_negatives(), or raise the cap)";
    });
    auto source = std::make_shared<detail::irgan::NegativeSource>(n_users_, n_items_);
    source->factors = config_.factors;
    source->temperature =
        static_cast<double>(temperature > 0.0f ? temperature : config_.temperature);
    source->g_users.assign(g_users_.begin(), g_users_.end());
    source->g_items.assign(g_items_.begin(), g_items_.end());
    source->g_bias = g_bias_;
    source->g_mean_user = g_mean_user_;
    source->pos_offset = pos_offset_;
    source->pos_index = pos_index_;
    IrganNegativeSampler sampler;
    sampler.source_ = std::move(source);
    return sampler;
  }

  /// The Model interface: the generator's score of each candidate for context.user (cold: the
  /// mean user). Throws Error when scores.size() != candidates.size() or a candidate is not
  /// below items().
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    marl_rec::detail::require(scores.size() == candidates.size(), [&] {
      return "Irgan::score: scores has " + std::to_string(scores.size()) + " entries for " +
             std::to_string(candidates.size()) + " candidates";
    });
    marl_rec::detail::require(candidates.index_bound() <= n_items_, [&] {
      return "Irgan::score: a candidate item is outside the model's " + std::to_string(n_items_) +
             " items";
    });
    if (candidates.empty()) return;
    const std::span<const float> x = generator_user(context.user);
    if (candidates.is_all()) {
      all_scores(x, g_items_, g_bias_, scores);
      return;
    }
    const std::size_t f = config_.factors;
    for (std::size_t k = 0; k < candidates.size(); ++k) {
      const std::size_t item = candidates[k];
      float s = 0.0f;
      simd::score(x, MatrixView(std::span<const float>(g_items_).subspan(item * f, f), 1, f),
                  std::span<float>(&s, 1));
      scores[k] = s + g_bias_[item];
    }
  }

  /// The Model interface: one REINFORCE step of the generator that treats `item` as drawn for
  /// the context's user from p_θ and `reward` as its reward (see the class comment). Throws
  /// Error, leaving the model unchanged, when the reward is not finite, the item is not below
  /// items(), or the step gives non-finite parameters. The step is computed twice (once to
  /// check it, once to write it), so no copy of the item matrix is made.
  void update(const Context& context, std::size_t item, double reward) {
    marl_rec::detail::require(std::isfinite(reward), [&] {
      return "Irgan::update: the reward " + std::to_string(reward) + " is not finite";
    });
    marl_rec::detail::require(item < n_items_, [&] {
      return "Irgan::update: item " + std::to_string(item) + " is outside the model's " +
             std::to_string(n_items_) + " items";
    });
    const std::size_t f = config_.factors;
    const bool known = context.user < n_users_;
    const std::span<const float> current = generator_user(context.user);
    // Per-thread scratch, reused: an agent calls update once per feedback.
    UpdateScratch& u = update_scratch();
    std::vector<float>& x = u.x;
    x.assign(current.begin(), current.end());
    u.logits.resize(n_items_);
    all_scores(x, g_items_, g_bias_, u.logits);
    u.p.resize(n_items_);
    const auto t = static_cast<double>(config_.temperature);
    detail::irgan::softmax(u.logits, t, u.p);
    const std::size_t sample[1] = {item};
    const double weight[1] = {reward};
    const bool finite = detail::irgan::generator_step_finite(
        x.data(), g_items_.data(), g_bias_.data(), n_items_, f, t, config_.g_learning_rate,
        config_.g_regularization, u.p, sample, weight, known, u.step);
    marl_rec::detail::require(finite,
                              "Irgan::update: the step gives non-finite parameters (lower "
                              "g_learning_rate or the reward's scale)");
    detail::irgan::generator_step(x.data(), g_items_.data(), g_bias_.data(), n_items_, f, t,
                                  config_.g_learning_rate, config_.g_regularization, u.p, sample,
                                  weight, known, u.step);
    if (!known) return;
    float* xu = g_users_.data() + context.user * f;
    // The cold user is the mean over the users with positives: follow a move of one of them
    // (xu still holds the old row).
    const bool warm = !positives(context.user).empty();
    const float share = warm ? 1.0f / static_cast<float>(n_warm_) : 0.0f;
    for (std::size_t k = 0; k < f; ++k) {
      if (warm) g_mean_user_[k] += (x[k] - xu[k]) * share;
      xu[k] = x[k];
    }
  }

  /// Writes the configuration and the learned state of both players (format "irgan" v1).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, model_type, 1);
    w.u64("factors", config_.factors);
    w.u64("rounds", config_.rounds);
    w.u64("d_epochs", config_.d_epochs);
    w.u64("g_epochs", config_.g_epochs);
    w.f64("g_learning_rate", static_cast<double>(config_.g_learning_rate));
    w.f64("d_learning_rate", static_cast<double>(config_.d_learning_rate));
    w.f64("g_regularization", static_cast<double>(config_.g_regularization));
    w.f64("d_regularization", static_cast<double>(config_.d_regularization));
    w.u64("samples_per_user", config_.samples_per_user);
    w.f64("importance_mix", static_cast<double>(config_.importance_mix));
    w.f64("temperature", static_cast<double>(config_.temperature));
    w.u64("reward", static_cast<std::uint64_t>(config_.reward));
    w.u64("pretrain_epochs", config_.pretrain_epochs);
    w.f64("pretrain_learning_rate", static_cast<double>(config_.pretrain_learning_rate));
    w.f64("pretrain_regularization", static_cast<double>(config_.pretrain_regularization));
    w.f64("init_scale", static_cast<double>(config_.init_scale));
    w.u64("seed", config_.seed);
    w.u64("users", n_users_);
    w.u64("items", n_items_);
    w.floats("g_users", g_users_);
    w.floats("g_items", g_items_);
    w.floats("g_bias", g_bias_);
    w.floats("g_mean_user", g_mean_user_);
    w.floats("d_users", d_users_);
    w.floats("d_items", d_items_);
    w.floats("d_bias", d_bias_);
    w.floats("d_mean_user", d_mean_user_);
    const std::vector<std::uint64_t> offset(pos_offset_.begin(), pos_offset_.end());
    const std::vector<std::uint64_t> index(pos_index_.begin(), pos_index_.end());
    w.u64s("positive_offset", offset);
    w.u64s("positive_items", index);
    w.finish();
  }

  /// Replaces the configuration and state with a saved Irgan. Throws Error (the model
  /// unchanged; messages start "loading a 'irgan' model: ") on a stream of another type, a
  /// newer version, a truncated or corrupted stream, an invalid configuration, a non-finite
  /// parameter, or positives that are not sorted distinct items below items() with offsets
  /// that do not add up.
  void load(std::istream& in) {
    io::ModelReader r(in, model_type, 1);
    Config c;
    c.factors = static_cast<std::size_t>(r.u64("factors", 1, max_factors));
    c.rounds = static_cast<std::size_t>(r.u64("rounds"));
    c.d_epochs = static_cast<std::size_t>(r.u64("d_epochs"));
    c.g_epochs = static_cast<std::size_t>(r.u64("g_epochs"));
    c.g_learning_rate = static_cast<float>(r.f64("g_learning_rate"));
    c.d_learning_rate = static_cast<float>(r.f64("d_learning_rate"));
    c.g_regularization = static_cast<float>(r.f64("g_regularization"));
    c.d_regularization = static_cast<float>(r.f64("d_regularization"));
    c.samples_per_user = static_cast<std::size_t>(r.u64("samples_per_user"));
    c.importance_mix = static_cast<float>(r.f64("importance_mix"));
    c.temperature = static_cast<float>(r.f64("temperature"));
    c.reward = static_cast<Reward>(r.u64("reward", 0, 1));
    c.pretrain_epochs = static_cast<std::size_t>(r.u64("pretrain_epochs"));
    c.pretrain_learning_rate = static_cast<float>(r.f64("pretrain_learning_rate"));
    c.pretrain_regularization = static_cast<float>(r.f64("pretrain_regularization"));
    c.init_scale = static_cast<float>(r.f64("init_scale"));
    c.seed = r.u64("seed");
    const std::size_t f = c.factors;
    const auto n_users = static_cast<std::size_t>(r.u64("users", 0, max_rows));
    const auto n_items = static_cast<std::size_t>(r.u64("items", 0, max_rows));
    std::vector<float> g_users = r.floats("g_users", n_users * f);
    std::vector<float> g_items = r.floats("g_items", n_items * f);
    std::vector<float> g_bias = r.floats("g_bias", n_items);
    std::vector<float> g_mean = r.floats("g_mean_user", f);
    std::vector<float> d_users = r.floats("d_users", n_users * f);
    std::vector<float> d_items = r.floats("d_items", n_items * f);
    std::vector<float> d_bias = r.floats("d_bias", n_items);
    std::vector<float> d_mean = r.floats("d_mean_user", f);
    const std::vector<std::uint64_t> offset = r.u64s("positive_offset", n_users + 1);
    const std::vector<std::uint64_t> index =
        r.u64s("positive_items", r.array_size("positive_items"));
    r.finish();
    const std::string where = "loading a '" + std::string(model_type) + "' model";
    check_config(c, where.c_str());
    const auto check = [&](bool ok, auto&& message) {
      marl_rec::detail::require(ok, [&] { return where + ": " + message(); });
    };
    const auto check_finite = [&](const std::vector<float>& values, const char* field) {
      for (std::size_t i = 0; i < values.size(); ++i) {
        check(std::isfinite(values[i]), [&] {
          return std::string("field '") + field + "' holds a non-finite value at " +
                 std::to_string(i);
        });
      }
    };
    check_finite(g_users, "g_users");
    check_finite(g_items, "g_items");
    check_finite(g_bias, "g_bias");
    check_finite(g_mean, "g_mean_user");
    check_finite(d_users, "d_users");
    check_finite(d_items, "d_items");
    check_finite(d_bias, "d_bias");
    check_finite(d_mean, "d_mean_user");
    // Every offset first (the item loop below reads index[offset[u] .. offset[u + 1])), then
    // the items.
    check(offset[0] == 0 && offset[n_users] == index.size(),
          [] { return std::string("the positives' offsets do not span the item list"); });
    for (std::size_t u = 0; u < n_users; ++u) {
      check(offset[u] <= offset[u + 1] && offset[u + 1] <= index.size(), [&] {
        return "the positives' offsets decrease or pass the item list at user " +
               std::to_string(u);
      });
    }
    std::size_t warm = 0;
    for (std::size_t u = 0; u < n_users; ++u) {
      warm += offset[u + 1] > offset[u] ? 1 : 0;
      for (std::uint64_t k = offset[u]; k < offset[u + 1]; ++k) {
        check(index[k] < n_items && (k == offset[u] || index[k - 1] < index[k]), [&] {
          return "user " + std::to_string(u) + "'s positives are not sorted distinct items below " +
                 std::to_string(n_items);
        });
      }
    }
    // Build every member's new value, then move them in (no throw past this point).
    AlignedVector<float> new_g_users(g_users.begin(), g_users.end());
    AlignedVector<float> new_g_items(g_items.begin(), g_items.end());
    AlignedVector<float> new_d_users(d_users.begin(), d_users.end());
    AlignedVector<float> new_d_items(d_items.begin(), d_items.end());
    std::vector<std::size_t> new_offset(offset.begin(), offset.end());
    std::vector<std::size_t> new_index(index.begin(), index.end());
    config_ = c;
    n_users_ = n_users;
    n_items_ = n_items;
    n_warm_ = warm;
    g_users_ = std::move(new_g_users);
    g_items_ = std::move(new_g_items);
    g_bias_ = std::move(g_bias);
    g_mean_user_ = std::move(g_mean);
    d_users_ = std::move(new_d_users);
    d_items_ = std::move(new_d_items);
    d_bias_ = std::move(d_bias);
    d_mean_user_ = std::move(d_mean);
    pos_offset_ = std::move(new_offset);
    pos_index_ = std::move(new_index);
    training_ = {};
  }

  /// The BPR configuration the pre-training of `c` uses.
  static MatrixFactorizationConfig pretrain_config(const Config& c) {
    return {.algorithm = MatrixFactorizationConfig::Algorithm::bpr,
            .factors = c.factors,
            .epochs = c.pretrain_epochs,
            .regularization = c.pretrain_regularization,
            .learning_rate = c.pretrain_learning_rate,
            .init_scale = c.init_scale,
            .seed = c.seed};
  }

 private:
  static constexpr std::string_view model_type = "irgan";
  static constexpr std::uint64_t max_factors = 4096;
  static constexpr std::uint64_t max_rows = std::uint64_t{1} << 40;
  static constexpr std::size_t max_samples_per_user = 1'000'000;

  // The six parameter blocks fit() trains (references to its locals).
  struct Players {
    AlignedVector<float>& g_users;
    AlignedVector<float>& g_items;
    std::vector<float>& g_bias;
    AlignedVector<float>& d_users;
    AlignedVector<float>& d_items;
    std::vector<float>& d_bias;
  };

  static double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  static Config checked(const Config& c, const char* where) {
    check_config(c, where);
    return c;
  }

  static void check_config(const Config& c, const char* where) {
    const auto fail = [&](const std::string& what) {
      return [where, what] { return std::string(where) + ": config." + what; };
    };
    const auto positive = [&](float v, const char* name) {
      marl_rec::detail::require(
          std::isfinite(v) && v > 0.0f,
          fail(std::string(name) + " " + std::to_string(v) + " is not finite and > 0"));
    };
    const auto non_negative = [&](float v, const char* name) {
      marl_rec::detail::require(
          std::isfinite(v) && v >= 0.0f,
          fail(std::string(name) + " " + std::to_string(v) + " is not finite and >= 0"));
    };
    marl_rec::detail::require(
        c.factors >= 1 && c.factors <= max_factors,
        fail("factors " + std::to_string(c.factors) + " is outside [1, 4096]"));
    positive(c.g_learning_rate, "g_learning_rate");
    positive(c.d_learning_rate, "d_learning_rate");
    non_negative(c.g_regularization, "g_regularization");
    non_negative(c.d_regularization, "d_regularization");
    marl_rec::detail::require(
        std::isfinite(c.importance_mix) && c.importance_mix >= 0.0f && c.importance_mix < 1.0f,
        fail("importance_mix " + std::to_string(c.importance_mix) + " is outside [0, 1)"));
    positive(c.temperature, "temperature");
    marl_rec::detail::require(c.samples_per_user <= max_samples_per_user, [&] {
      return std::string(where) + ": config.samples_per_user " +
             std::to_string(c.samples_per_user) + " exceeds " +
             std::to_string(max_samples_per_user);
    });
    marl_rec::detail::require(c.reward == Reward::softplus || c.reward == Reward::centered_sigmoid,
                              fail("reward is not a Reward"));
    positive(c.pretrain_learning_rate, "pretrain_learning_rate");
    non_negative(c.pretrain_regularization, "pretrain_regularization");
    non_negative(c.init_scale, "init_scale");
  }

  // Mean of the rows of users with positives (zeros when none has).
  struct UpdateScratch {
    std::vector<float> x, logits;
    std::vector<double> p;
    detail::irgan::GeneratorScratch step;
  };
  static UpdateScratch& update_scratch() {
    thread_local UpdateScratch scratch;
    return scratch;
  }


  std::span<const float> generator_user(std::size_t user) const {
    const std::size_t f = config_.factors;
    return user < n_users_ ? std::span<const float>(g_users_).subspan(user * f, f)
                           : std::span<const float>(g_mean_user_);
  }

  // scores[j] = x·y_j + b_j for every item (the kernel, then the bias: score() adds the bias to
  // the same kernel's one-row result, so both give the same bits).
  void all_scores(std::span<const float> x, const AlignedVector<float>& items,
                  const std::vector<float>& bias, std::span<float> scores) const {
    const std::size_t n = bias.size();
    if (n == 0) return;
    simd::score(x, MatrixView(items, n, config_.factors), scores);
    for (std::size_t j = 0; j < n; ++j) scores[j] = scores[j] + bias[j];
  }

  // The CDF of the generator's distribution for `user` (or the cold user past users())
  // without the user's positives, at temperature t; false when every item is a positive.
  bool negative_cdf(std::size_t user, double t, std::span<double> cdf) const {
    std::vector<float> z(n_items_);
    score_user(user, z);
    return detail::irgan::negative_cdf(z, positives(user), t, cdf);
  }

  // One discriminator epoch (see the class comment).
  void discriminator_epoch(Players& p, std::size_t n_items, const std::vector<std::size_t>& offset,
                           const std::vector<std::size_t>& index,
                           const std::vector<std::size_t>& order, Rng& rng) const {
    const std::size_t f = config_.factors;
    const double t = static_cast<double>(config_.temperature);
    struct Pair {
      std::size_t user;
      std::size_t item;
      float label;
    };
    std::vector<Pair> pairs;
    pairs.reserve(2 * index.size());
    std::vector<float> z(n_items);
    std::vector<double> cdf(n_items);
    for (const std::size_t u : order) {
      all_scores(std::span<const float>(p.g_users).subspan(u * f, f), p.g_items, p.g_bias, z);
      detail::irgan::softmax(z, t, cdf);  // the probabilities, summed in place below
      double total = 0.0;
      for (std::size_t j = 0; j < n_items; ++j) cdf[j] = total += cdf[j];
      for (std::size_t k = offset[u]; k < offset[u + 1]; ++k) {
        pairs.push_back({u, index[k], 1.0f});
        pairs.push_back({u, detail::irgan::draw(cdf, rng), 0.0f});
      }
    }
    marl_rec::shuffle(pairs.begin(), pairs.end(), rng);
    for (const Pair& pair : pairs) {
      detail::irgan::discriminator_step(
          p.d_users.data() + pair.user * f, p.d_items.data() + pair.item * f, p.d_bias[pair.item],
          f, pair.label, config_.d_learning_rate, config_.d_regularization);
    }
  }

  // One generator epoch (see the class comment).
  void generator_epoch(Players& p, std::size_t n_items, const std::vector<std::size_t>& offset,
                       const std::vector<std::size_t>& index, const std::vector<std::size_t>& order,
                       Rng& rng) const {
    const std::size_t f = config_.factors;
    std::vector<std::size_t> users = order;
    marl_rec::shuffle(users.begin(), users.end(), rng);
    detail::irgan::GeneratorUserScratch scratch;
    for (const std::size_t u : users) {
      const std::span<const std::size_t> pos =
          std::span<const std::size_t>(index).subspan(offset[u], offset[u + 1] - offset[u]);
      detail::irgan::generator_user_step(config_, p.g_users.data() + u * f, p.g_items.data(),
                                         p.g_bias.data(), p.d_users.data() + u * f,
                                         p.d_items.data(), p.d_bias.data(), n_items, pos, rng,
                                         scratch);
    }
  }

  Config config_{};
  std::size_t n_users_ = 0;
  std::size_t n_items_ = 0;
  // Users with positives (the cold user is their mean).
  std::size_t n_warm_ = 0;
  AlignedVector<float> g_users_{};
  AlignedVector<float> g_items_{};
  std::vector<float> g_bias_{};
  // The cold user of the generator: the mean of the rows of users with positives.
  std::vector<float> g_mean_user_ = std::vector<float>(config_.factors, 0.0f);
  AlignedVector<float> d_users_{};
  AlignedVector<float> d_items_{};
  std::vector<float> d_bias_{};
  std::vector<float> d_mean_user_ = std::vector<float>(config_.factors, 0.0f);
  // The training positives by user, compressed rows (sorted, distinct).
  std::vector<std::size_t> pos_offset_ = std::vector<std::size_t>(1, 0);
  std::vector<std::size_t> pos_index_{};
  IrganTraining training_{};
};

}  // namespace marl_rec
