// marl_rec — matrix factorisation for implicit feedback: implicit ALS (Hu, Koren, Volinsky 2008)
// and BPR (Rendle et al. 2009), as a batch recommender and as an online Model.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <istream>
#include <limits>
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
#include "marl_rec/models/detail/matrix_factorization_solvers.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// The settings of MatrixFactorization. Checked by its constructor.
struct MatrixFactorizationConfig {
  /// How fit() learns the factors.
  enum class Algorithm {
    /// Implicit alternating least squares (weighted squared loss over every cell).
    als,
    /// Bayesian personalised ranking by SGD (pairwise log-sigmoid loss).
    bpr,
  };
  /// How an iALS half-step solves each row's normal equations.
  enum class Solver {
    /// Exact (LLT in double): O(f³) per row.
    cholesky,
    /// `cg_steps` conjugate-gradient steps from the previous solution: O(f²) per row.
    conjugate_gradient,
  };

  /// iALS or BPR (also the model's name(): "ials" / "bpr").
  Algorithm algorithm = Algorithm::als;
  /// Latent dimension f (1 ≤ f ≤ 4096).
  std::size_t factors = 64;
  /// Passes over the data (iALS: one user and one item half-step each; BPR: one SGD epoch).
  /// 0 leaves the random initialisation.
  std::size_t epochs = 15;
  /// λ, the L2 weight of every factor (finite, ≥ 0; iALS with λ = 0 may be singular).
  float regularization = 0.05f;
  /// iALS confidence c = 1 + alpha · r (finite, ≥ 0). Fold-in uses it for both algorithms.
  float alpha = 10.0f;
  /// The iALS row solver.
  Solver solver = Solver::cholesky;
  /// Conjugate-gradient steps per row and half-step (≥ 1 with the CG solver).
  std::size_t cg_steps = 3;
  /// Step size of BPR and of the online update (finite, > 0).
  float learning_rate = 0.05f;
  /// BPR draws per epoch; 0 means the number of training interactions (rows).
  std::size_t bpr_samples_per_epoch = 0;
  /// Initial factors are N(0, init_scale²) (finite, ≥ 0).
  float init_scale = 0.01f;
  /// Seeds the initial factors and BPR's sampling: same seed, same model.
  std::uint64_t seed = 42;
  /// Score by the cosine of the user and item factors instead of their dot product.
  bool cosine = false;
  /// Every interaction counts as r = 1 (false: r = its rating, which must then be ≥ 0).
  bool binarize = true;
};

/// Matrix factorisation: a user u and an item i each get f latent factors (x_u, y_i), and
/// u's score of i is x_uᵀ y_i (or their cosine, Config::cosine). Satisfies BatchRecommender
/// (fit / score_user), Model (score / update / save / load) and FederatedModel (the shared
/// parameters are the item factors; see shared_parameters()).
///
/// fit(train) learns the factors from scratch, by one of:
/// - iALS (Hu, Koren, Volinsky 2008), `Algorithm::als`: minimises
///   Σ_{u,i} c_ui (p_ui − x_uᵀy_i)² + λ(Σ‖x_u‖² + Σ‖y_i‖²) over every (user, item) cell, with
///   p_ui = 1 and c_ui = 1 + alpha · r_ui for an observed pair, p_ui = 0 and c_ui = 1 otherwise.
///   Duplicate (user, item) rows sum their r (their confidences above the baseline 1 add up).
///   Each epoch solves every user, then every item, exactly (Cholesky) or by a few CG steps, so
///   the objective never increases from one epoch to the next.
/// - BPR-SGD (Rendle et al. 2009), `Algorithm::bpr`: per epoch, draws an observed pair (u, i)
///   uniformly among the distinct pairs and a non-interacted item j uniformly, and takes an
///   ascent step on ln σ(x_uᵀ(y_i − y_j)) − λ(‖x_u‖² + ‖y_i‖² + ‖y_j‖²). Ratings and duplicate
///   rows do not matter to it. fit(train, negatives) draws j from a NegativeSampler instead
///   (e.g. an IRGAN generator's hard negatives, models/irgan.hpp).
///
/// Users:
/// - a known user (index < users()) is scored by their row of user_factors();
/// - users of the id map without training rows get, after fit, the mean user factor;
/// - an unknown user index in score_user, and in score() a context whose `user` is no_user or
///   not below users(), is cold: score() folds its `history` in (fold_in), and with no history
///   (and score_user always) it gets the mean user factor: an average taste, which ranks first
///   the items the whole population likes (all-zero scores would rank nothing).
///
/// update(context, item, reward) is one SGD step on the squared loss
/// (reward − x_uᵀy_i)² + λ(‖x_u‖² + ‖y_i‖²) at `learning_rate` (the factor 2 folded into the step):
/// x_u += lr (e y_i − λ x_u), y_i += lr (e x_u − λ y_i) with e = reward − x_uᵀy_i, both from the
/// old values. For a known user both rows move; for a cold context only y_i moves, against the
/// folded-in (or mean) user vector. With iALS-trained factors, reward 1 means "interacted" and 0
/// "shown, ignored", as p_ui does in training. It keeps the mean user factor and YᵀY (which
/// fold-in needs) up to date: YᵀY incrementally, recomputed exactly every max(items(), 64)
/// updates so that rounding drift stays bounded.
///
/// Deterministic for a seed (single-threaded). score / score_user / probabilities / fold_in are
/// const and thread-safe; after a first call of the same shape on a thread they do not allocate
/// (fold-in and cold contexts use a thread_local scratch that is sized once, see
/// detail::mf::FoldInScratch). The item factors are stored row-major in 64-byte aligned storage
/// and all items are scored by simd::score; a single candidate is scored by simd::score too, on
/// a one-row view, so a score does not depend on how the candidates were given.
class MatrixFactorization {
 public:
  using Config = MatrixFactorizationConfig;
  using Algorithm = Config::Algorithm;
  using Solver = Config::Solver;

  /// A model with the default configuration (not fitted: no users, no items).
  MatrixFactorization() = default;
  /// A model with `config`. Throws Error when a setting is out of range (factors = 0, a negative
  /// or non-finite regularization / alpha / init_scale, learning_rate ≤ 0, cg_steps = 0 with the
  /// CG solver).
  explicit MatrixFactorization(Config config) : config_(checked(config, "MatrixFactorization")) {}

  /// "ials" or "bpr".
  std::string_view name() const noexcept {
    return config_.algorithm == Algorithm::als ? "ials" : "bpr";
  }
  /// The configuration (replaced by load()).
  const Config& config() const noexcept { return config_; }
  /// Users the model has factors for (the fitted user map's size; 0 before fit).
  std::size_t users() const noexcept { return n_users_; }
  /// Items the model has factors for (the fitted item map's size; 0 before fit).
  std::size_t items() const noexcept { return n_items_; }
  /// The latent dimension f.
  std::size_t factors() const noexcept { return config_.factors; }

  /// users() × f, row-major.
  MatrixView user_factors() const { return MatrixView(user_factors_, n_users_, config_.factors); }
  /// items() × f, row-major, 64-byte aligned.
  MatrixView item_factors() const { return MatrixView(item_factors_, n_items_, config_.factors); }
  /// The cold user's factors (the mean user factor).
  std::span<const float> mean_user_factors() const noexcept { return mean_user_; }

  /// The parameters federated agents share (FederatedModel): the item factors, items() × f
  /// row-major (the values of item_factors()). The user factors stay local: each agent learns
  /// its own users' tastes. Empty before fit.
  std::span<const float> shared_parameters() const noexcept {
    return std::span<const float>(item_factors_.data(), n_items_ * config_.factors);
  }

  /// Replaces the item factors with `values` (layout of shared_parameters()) and recomputes what
  /// depends on them: YᵀY (used by fold-in, for cold users) and the item norms (cosine scores).
  /// Values bit-identical to the current ones change nothing (YᵀY, which update() keeps
  /// incrementally, is then kept as it is, so even fold-in scores stay bit-identical). Throws
  /// Error, leaving the model unchanged, when values.size() != items() × factors() or a value
  /// is not finite. Does not allocate; costs O(items · f²) when the values differ.
  void set_shared_parameters(std::span<const float> values) {
    const std::size_t f = config_.factors;
    marl_rec::detail::require(values.size() == n_items_ * f, [&] {
      return "MatrixFactorization::set_shared_parameters: got " + std::to_string(values.size()) +
             " values, the model has " + std::to_string(n_items_ * f) + " item factors (" +
             std::to_string(n_items_) + " items x " + std::to_string(f) + ")";
    });
    for (std::size_t k = 0; k < values.size(); ++k) {
      marl_rec::detail::require(std::isfinite(values[k]), [&] {
        return "MatrixFactorization::set_shared_parameters: value " + std::to_string(k) +
               " (item " + std::to_string(k / f) + ", factor " + std::to_string(k % f) +
               ") is not finite";
      });
    }
    if (values.empty() ||
        std::memcmp(values.data(), item_factors_.data(), values.size() * sizeof(float)) == 0) {
      return;
    }
    std::copy(values.begin(), values.end(), item_factors_.begin());
    detail::mf::gram_in_place(item_factors_.data(), n_items_, f, gram_);
    updates_since_gram_ = 0;
    for (std::size_t i = 0; i < n_items_; ++i) {
      item_inverse_norms_[i] = detail::mf::inverse_norm(item_factors_.data() + i * f, f);
    }
  }

  /// Learns the factors of every user and item of `train`'s id maps from scratch (see the class
  /// comment). Throws Error, leaving the model unchanged, when `train` has no rows, a row's user
  /// or item index is outside the id maps, a rating is not finite (or, with binarize = false,
  /// negative), or a normal equation is singular (λ = 0).
  void fit(const Interactions& train) { fit_impl(train, nullptr); }

  /// Draws the negative item of one BPR step for a user index: given (user, fit's Rng), it
  /// returns an item index the user has not interacted with in the training data (fit throws
  /// Error otherwise). It may draw from the Rng (fit stays deterministic for a seed when it does
  /// not read other randomness). Irgan::negative_sampler() is one (the IRGAN generator's hard
  /// negatives).
  using NegativeSampler = std::function<std::size_t(std::size_t user, Rng& rng)>;

  /// fit(train) with BPR's negatives drawn by `negatives` instead of uniformly among the items
  /// the user has not interacted with (an empty function keeps the uniform draw, and then this
  /// is exactly fit(train)). Only for Algorithm::bpr: throws Error for iALS (which has no
  /// negative sampling), and, leaving the model unchanged, when the sampler returns an item the
  /// user interacted with or one outside the item map (or when fit(train) would throw).
  void fit(const Interactions& train, const NegativeSampler& negatives) {
    marl_rec::detail::require(
        !negatives || config_.algorithm == Algorithm::bpr,
        "MatrixFactorization::fit: a negative sampler needs Algorithm::bpr (iALS samples nothing)");
    fit_impl(train, negatives ? &negatives : nullptr);
  }

  /// Writes user `user`'s score of every item (scores.size() must be items()); an index ≥
  /// users() is a cold user, scored with the mean user factor. Throws Error on a size mismatch.
  void score_user(std::size_t user, std::span<float> scores) const {
    marl_rec::detail::require(scores.size() == n_items_, [&] {
      return "MatrixFactorization::score_user: scores has " + std::to_string(scores.size()) +
             " entries, the model knows " + std::to_string(n_items_) + " items";
    });
    if (n_items_ == 0) return;
    const std::span<const float> x =
        user < n_users_
            ? std::span<const float>(user_factors_).subspan(user * config_.factors, config_.factors)
            : std::span<const float>(mean_user_);
    score_all(x, n_items_, scores);
  }

  /// The Model interface: writes the score of each candidate for the context's user — the known
  /// user `context.user`, or else the fold-in of `context.history`, or else the mean user (see
  /// the class comment). Throws Error when scores.size() != candidates.size(), or a candidate or
  /// history item is not below items().
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    marl_rec::detail::require(scores.size() == candidates.size(), [&] {
      return "MatrixFactorization::score: scores has " + std::to_string(scores.size()) +
             " entries for " + std::to_string(candidates.size()) + " candidates";
    });
    if (candidates.is_all()) {
      marl_rec::detail::require(candidates.size() <= n_items_, [&] {
        return "MatrixFactorization::score: Candidates::all(" + std::to_string(candidates.size()) +
               ") exceeds the model's " + std::to_string(n_items_) + " items";
      });
    } else {
      for (const std::size_t item : candidates.list()) {
        marl_rec::detail::require(item < n_items_, [&] {
          return "MatrixFactorization::score: candidate item " + std::to_string(item) +
                 " is outside the model's " + std::to_string(n_items_) + " items";
        });
      }
    }
    if (candidates.empty()) return;
    const std::span<const float> x = context_user(context, "MatrixFactorization::score");
    if (candidates.is_all()) {
      score_all(x, candidates.size(), scores);
      return;
    }
    for (std::size_t k = 0; k < candidates.size(); ++k) scores[k] = score_one(x, candidates[k]);
  }

  /// One online SGD step for (context's user, item, reward) on the squared loss (see the class
  /// comment). Throws Error, leaving the model unchanged, when the reward is not finite, the
  /// item or a history item is not below items(), or the step diverges (non-finite factors:
  /// lower the learning rate).
  void update(const Context& context, std::size_t item, double reward) {
    marl_rec::detail::require(std::isfinite(reward), [&] {
      return "MatrixFactorization::update: the reward " + std::to_string(reward) + " is not finite";
    });
    marl_rec::detail::require(item < n_items_, [&] {
      return "MatrixFactorization::update: item " + std::to_string(item) +
             " is outside the model's " + std::to_string(n_items_) + " items";
    });
    const std::size_t f = config_.factors;
    const bool known = context.user < n_users_;
    const std::span<const float> x = context_user(context, "MatrixFactorization::update");
    float* y = item_factors_.data() + item * f;
    // New rows computed from the old ones into scratch; committed only if finite.
    std::vector<float>& next = update_scratch();
    next.resize(2 * f);
    float prediction = 0.0f;
    for (std::size_t k = 0; k < f; ++k) prediction += x[k] * y[k];
    const float e = static_cast<float>(reward) - prediction;
    const float lr = config_.learning_rate;
    const float lambda = config_.regularization;
    bool finite = true;
    for (std::size_t k = 0; k < f; ++k) {
      next[k] = x[k] + lr * (e * y[k] - lambda * x[k]);
      next[f + k] = y[k] + lr * (e * x[k] - lambda * y[k]);
      finite = finite && std::isfinite(next[k]) && std::isfinite(next[f + k]);
    }
    marl_rec::detail::require(finite,
                              "MatrixFactorization::update: the step gives non-finite "
                              "factors (lower the learning rate)");
    // YᵀY += y'y'ᵀ − yyᵀ, in double (before y is overwritten). YᵀY is exactly symmetric (built
    // mirrored by gram_in_place), and each entry's change is the same products either way round,
    // so the lower triangle is computed and mirrored: the same bits as updating every entry, at
    // half the work, on raw column-major storage the compiler can vectorise.
    {
      double* g = gram_.data();
      for (std::size_t c = 0; c < f; ++c) {
        const double new_c = static_cast<double>(next[f + c]);
        const double old_c = static_cast<double>(y[c]);
        double* column = g + c * f;
        for (std::size_t r = c; r < f; ++r) {
          column[r] += static_cast<double>(next[f + r]) * new_c - static_cast<double>(y[r]) * old_c;
        }
      }
      for (std::size_t c = 0; c < f; ++c) {
        for (std::size_t r = c + 1; r < f; ++r) g[r * f + c] = g[c * f + r];
      }
    }
    std::copy(next.begin() + static_cast<std::ptrdiff_t>(f), next.end(), y);
    item_inverse_norms_[item] = detail::mf::inverse_norm(y, f);
    // The incremental YᵀY loses precision when rows change by orders of magnitude (cancellation);
    // recomputing it exactly every max(items, 64) updates bounds the drift at an amortised cost
    // of O(f²) per update, the same order as the incremental step.
    if (++updates_since_gram_ >= std::max<std::uint64_t>(n_items_, 64)) {
      detail::mf::gram_in_place(item_factors_.data(), n_items_, f, gram_);
      updates_since_gram_ = 0;
    }
    if (known) {
      float* xu = user_factors_.data() + context.user * f;
      const float share = 1.0f / static_cast<float>(n_users_);
      for (std::size_t k = 0; k < f; ++k) {
        mean_user_[k] += (next[k] - xu[k]) * share;
        xu[k] = next[k];
      }
    }
  }

  /// The factors a new user with interactions `history` (item indices; each counts r = 1, so
  /// confidence 1 + alpha, repeats adding up) would get without retraining: the exact iALS user
  /// solve (YᵀY + Yᵀ(C − I)Y + λI) x = Yᵀ C p against the current item factors. For BPR models
  /// the same least-squares solve is used: a user vector whose scores fit p = 1 on the history
  /// and 0 elsewhere, in the BPR item space (BPR itself has no closed-form user solve). An empty
  /// history gives zeros. Throws Error when user_factors.size() != factors() or an item is not
  /// below items().
  void fold_in(std::span<const std::size_t> history, std::span<float> user_factors) const {
    marl_rec::detail::require(user_factors.size() == config_.factors, [&] {
      return "MatrixFactorization::fold_in: user_factors has " +
             std::to_string(user_factors.size()) + " entries, the model has " +
             std::to_string(config_.factors) + " factors";
    });
    check_history(history, "MatrixFactorization::fold_in");
    fold_in_unchecked(history, user_factors);
  }

  /// P(item | user) = softmax(score / temperature) over every item, written to `out`
  /// (out.size() must be items()). Numerically stable (the largest score is subtracted first);
  /// NaN scores get probability 0. Throws Error on a size mismatch, a temperature that is not
  /// finite and > 0, or when no score is finite.
  void probabilities(std::size_t user, std::span<float> out, float temperature = 1.0f) const {
    marl_rec::detail::require(std::isfinite(temperature) && temperature > 0.0f, [&] {
      return "MatrixFactorization::probabilities: temperature " + std::to_string(temperature) +
             " is not finite and > 0";
    });
    marl_rec::detail::require(out.size() == n_items_, [&] {
      return "MatrixFactorization::probabilities: out has " + std::to_string(out.size()) +
             " entries, the model knows " + std::to_string(n_items_) + " items";
    });
    if (n_items_ == 0) return;
    score_user(user, out);
    float top = -std::numeric_limits<float>::infinity();
    for (const float s : out) {
      if (!std::isnan(s)) top = std::max(top, s);
    }
    marl_rec::detail::require(std::isfinite(top),
                              "MatrixFactorization::probabilities: no finite score");
    const double inverse_t = 1.0 / static_cast<double>(temperature);
    double total = 0.0;
    for (float& s : out) {
      const double p = std::isnan(s) ? 0.0 : std::exp((static_cast<double>(s) - top) * inverse_t);
      s = static_cast<float>(p);
      total += p;  // ≥ 1: the top score contributes exp(0)
    }
    const double inverse_total = 1.0 / total;
    for (float& s : out) s = static_cast<float>(static_cast<double>(s) * inverse_total);
  }

  /// Writes the configuration and the learned state (format "matrix_factorization" v1).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, model_type, 1);
    w.u64("algorithm", static_cast<std::uint64_t>(config_.algorithm));
    w.u64("factors", config_.factors);
    w.u64("epochs", config_.epochs);
    w.f64("regularization", static_cast<double>(config_.regularization));
    w.f64("alpha", static_cast<double>(config_.alpha));
    w.u64("solver", static_cast<std::uint64_t>(config_.solver));
    w.u64("cg_steps", config_.cg_steps);
    w.f64("learning_rate", static_cast<double>(config_.learning_rate));
    w.u64("bpr_samples_per_epoch", config_.bpr_samples_per_epoch);
    w.f64("init_scale", static_cast<double>(config_.init_scale));
    w.u64("seed", config_.seed);
    w.u64("cosine", config_.cosine ? 1 : 0);
    w.u64("binarize", config_.binarize ? 1 : 0);
    w.u64("users", n_users_);
    w.u64("items", n_items_);
    w.floats("user_factors", user_factors_);
    w.floats("item_factors", item_factors_);
    w.floats("mean_user", mean_user_);
    w.doubles("gram",
              std::span<const double>(gram_.data(), static_cast<std::size_t>(gram_.size())));
    w.u64("updates_since_gram", updates_since_gram_);
    w.finish();
  }

  /// Replaces the configuration and state with a saved MatrixFactorization. Throws Error (the
  /// model unchanged) on a stream of another type, a newer version, a truncated or corrupted
  /// stream, an invalid configuration, or a non-finite factor.
  void load(std::istream& in) {
    io::ModelReader r(in, model_type, 1);
    Config c;
    c.algorithm = static_cast<Algorithm>(r.u64("algorithm", 0, 1));
    c.factors = static_cast<std::size_t>(r.u64("factors", 1, max_factors));
    c.epochs = static_cast<std::size_t>(r.u64("epochs"));
    c.regularization = static_cast<float>(r.f64("regularization"));
    c.alpha = static_cast<float>(r.f64("alpha"));
    c.solver = static_cast<Solver>(r.u64("solver", 0, 1));
    c.cg_steps = static_cast<std::size_t>(r.u64("cg_steps"));
    c.learning_rate = static_cast<float>(r.f64("learning_rate"));
    c.bpr_samples_per_epoch = static_cast<std::size_t>(r.u64("bpr_samples_per_epoch"));
    c.init_scale = static_cast<float>(r.f64("init_scale"));
    c.seed = r.u64("seed");
    c.cosine = r.u64("cosine", 0, 1) == 1;
    c.binarize = r.u64("binarize", 0, 1) == 1;
    const std::size_t f = c.factors;
    const std::size_t n_users = static_cast<std::size_t>(r.u64("users", 0, max_rows));
    const std::size_t n_items = static_cast<std::size_t>(r.u64("items", 0, max_rows));
    std::vector<float> users = r.floats("user_factors", n_users * f);
    std::vector<float> items = r.floats("item_factors", n_items * f);
    std::vector<float> mean = r.floats("mean_user", f);
    const std::vector<double> gram = r.doubles("gram", f * f);
    const std::uint64_t updates_since_gram = r.u64("updates_since_gram");
    r.finish();
    check_config(c, "MatrixFactorization::load");
    const auto check_finite = [](const auto& values, const char* field) {
      for (std::size_t i = 0; i < values.size(); ++i) {
        marl_rec::detail::require(std::isfinite(values[i]), [&] {
          return std::string("MatrixFactorization::load: field '") + field +
                 "' holds a non-finite value at " + std::to_string(i);
        });
      }
    };
    check_finite(users, "user_factors");
    check_finite(items, "item_factors");
    check_finite(mean, "mean_user");
    check_finite(gram, "gram");

    AlignedVector<float> user_storage(users.begin(), users.end());
    AlignedVector<float> item_storage(items.begin(), items.end());
    const auto fi = static_cast<Eigen::Index>(f);
    detail::mf::MatrixXd g = Eigen::Map<const detail::mf::MatrixXd>(gram.data(), fi, fi);
    std::vector<float> inverse_norms = item_inverse_norms(item_storage, n_items, f);
    config_ = c;
    n_users_ = n_users;
    n_items_ = n_items;
    user_factors_ = std::move(user_storage);
    item_factors_ = std::move(item_storage);
    mean_user_ = std::move(mean);
    gram_ = std::move(g);
    updates_since_gram_ = updates_since_gram;
    item_inverse_norms_ = std::move(inverse_norms);
  }

 private:
  static constexpr std::string_view model_type = "matrix_factorization";
  // Bounds of a configured or loaded shape, far above any practical model: f ≤ 4096 keeps the
  // f × f YᵀY at 128 MiB at most, and n ≤ 2^40 keeps n × f from overflowing.
  static constexpr std::uint64_t max_factors = 4096;
  static constexpr std::uint64_t max_rows = std::uint64_t{1} << 40;

  // `c`, after check_config (so that no member is sized from an unchecked config).
  static Config checked(const Config& c, const char* where) {
    check_config(c, where);
    return c;
  }

  static void check_config(const Config& c, const char* where) {
    const auto fail = [&](const std::string& what) {
      return [where, what] { return std::string(where) + ": config." + what; };
    };
    marl_rec::detail::require(c.factors >= 1, fail("factors must be at least 1"));
    marl_rec::detail::require(
        std::isfinite(c.regularization) && c.regularization >= 0.0f,
        fail("regularization " + std::to_string(c.regularization) + " is not finite and >= 0"));
    marl_rec::detail::require(std::isfinite(c.alpha) && c.alpha >= 0.0f,
                              fail("alpha " + std::to_string(c.alpha) + " is not finite and >= 0"));
    marl_rec::detail::require(
        std::isfinite(c.learning_rate) && c.learning_rate > 0.0f,
        fail("learning_rate " + std::to_string(c.learning_rate) + " is not finite and > 0"));
    marl_rec::detail::require(
        std::isfinite(c.init_scale) && c.init_scale >= 0.0f,
        fail("init_scale " + std::to_string(c.init_scale) + " is not finite and >= 0"));
    marl_rec::detail::require(
        c.solver != Solver::conjugate_gradient || c.cg_steps >= 1,
        fail("cg_steps must be at least 1 with the conjugate-gradient solver"));
    marl_rec::detail::require(
        c.factors <= max_factors,
        fail("factors " + std::to_string(c.factors) + " exceeds " + std::to_string(max_factors)));
  }

  // fit(train) and fit(train, negatives): `negatives` null draws BPR's negatives uniformly.
  void fit_impl(const Interactions& train, const NegativeSampler* negatives) {
    marl_rec::detail::require(!train.empty(),
                              "MatrixFactorization::fit: the training data is empty");
    const std::size_t f = config_.factors;
    const std::size_t n_users = train.users.size();
    const std::size_t n_items = train.items.size();
    const std::size_t limit = std::numeric_limits<std::size_t>::max() / f / sizeof(float);
    marl_rec::detail::require(n_users <= limit && n_items <= limit, [&] {
      return "MatrixFactorization::fit: " + std::to_string(n_users) + " users or " +
             std::to_string(n_items) + " items times " + std::to_string(f) +
             " factors overflow size_t";
    });
    const detail::mf::TrainingMatrix m = detail::mf::build_training_matrix(
        train, static_cast<double>(config_.alpha), config_.binarize);

    Rng rng(config_.seed);
    AlignedVector<float> users(n_users * f);
    AlignedVector<float> items(n_items * f);
    const double scale = static_cast<double>(config_.init_scale);
    for (float& v : users) v = static_cast<float>(scale * rng.normal());
    for (float& v : items) v = static_cast<float>(scale * rng.normal());

    if (config_.algorithm == Algorithm::als) {
      const bool cholesky = config_.solver == Solver::cholesky;
      const auto lambda = static_cast<double>(config_.regularization);
      for (std::size_t e = 0; e < config_.epochs; ++e) {
        detail::mf::als_half_step(items, n_items, m.by_user, users, f, lambda, cholesky,
                                  config_.cg_steps, "user");
        detail::mf::als_half_step(users, n_users, m.by_item, items, f, lambda, cholesky,
                                  config_.cg_steps, "item");
      }
    } else {
      std::vector<std::size_t> pair_user(m.by_user.index.size());
      for (std::size_t u = 0; u < n_users; ++u) {
        for (std::size_t k = m.by_user.offset[u]; k < m.by_user.offset[u + 1]; ++k)
          pair_user[k] = u;
      }
      const std::size_t samples =
          config_.bpr_samples_per_epoch != 0 ? config_.bpr_samples_per_epoch : train.size();
      for (std::size_t e = 0; e < config_.epochs; ++e) {
        detail::mf::bpr_epoch(m.by_user, pair_user, n_items, samples, users, items, f,
                              config_.learning_rate, config_.regularization, rng, negatives);
      }
    }

    // Users without training rows take the mean of those with rows.
    std::vector<float> mean = detail::mf::fill_cold_rows(users, m.by_user.offset, f);
    detail::mf::MatrixXd gram(static_cast<Eigen::Index>(f), static_cast<Eigen::Index>(f));
    detail::mf::gram_in_place(items.data(), n_items, f, gram);
    std::vector<float> inverse_norms = item_inverse_norms(items, n_items, f);

    // Commit only once everything has succeeded.
    n_users_ = n_users;
    n_items_ = n_items;
    user_factors_ = std::move(users);
    item_factors_ = std::move(items);
    mean_user_ = std::move(mean);
    gram_ = std::move(gram);
    updates_since_gram_ = 0;
    item_inverse_norms_ = std::move(inverse_norms);
  }

  // Scratch of update() (new user and item rows): per thread, grown once.
  static std::vector<float>& update_scratch() {
    thread_local std::vector<float> scratch;
    return scratch;
  }

  void check_history(std::span<const std::size_t> history, const char* where) const {
    for (const std::size_t item : history) {
      marl_rec::detail::require(item < n_items_, [&] {
        return std::string(where) + ": history item " + std::to_string(item) +
               " is outside the model's " + std::to_string(n_items_) + " items";
      });
    }
  }

  void fold_in_unchecked(std::span<const std::size_t> history, std::span<float> out) const {
    detail::mf::fold_in_solve(gram_, item_factors_, config_.factors,
                              static_cast<double>(config_.regularization),
                              static_cast<double>(config_.alpha), history, out);
  }

  // The user vector of a context: the known user's row, the fold-in of the history (in this
  // thread's scratch, valid until the next fold-in on this thread), or the mean user.
  std::span<const float> context_user(const Context& context, const char* where) const {
    const std::size_t f = config_.factors;
    if (context.user < n_users_) {
      return std::span<const float>(user_factors_).subspan(context.user * f, f);
    }
    check_history(context.history, where);
    if (context.history.empty()) return mean_user_;
    std::vector<float>& x = detail::mf::fold_in_scratch().user;
    x.resize(f);
    fold_in_unchecked(context.history, x);
    return x;
  }

  // The scores of items 0..n-1 (n ≤ items()) for user vector x.
  void score_all(std::span<const float> x, std::size_t n, std::span<float> scores) const {
    const std::size_t f = config_.factors;
    simd::score(x, MatrixView(std::span<const float>(item_factors_).first(n * f), n, f),
                scores.first(n));
    if (!config_.cosine) return;
    const float inverse_x = detail::mf::inverse_norm(x.data(), f);
    for (std::size_t i = 0; i < n; ++i) scores[i] = cosine_scale(scores[i], inverse_x, i);
  }

  // One item's score, computed as score_all computes it (same kernel on a one-row view).
  float score_one(std::span<const float> x, std::size_t item) const {
    const std::size_t f = config_.factors;
    float s = 0.0f;
    simd::score(x, MatrixView(std::span<const float>(item_factors_).subspan(item * f, f), 1, f),
                std::span<float>(&s, 1));
    if (!config_.cosine) return s;
    return cosine_scale(s, detail::mf::inverse_norm(x.data(), f), item);
  }

  // dot → cosine; 0 when either vector is zero.
  float cosine_scale(float dot, float inverse_x, std::size_t item) const noexcept {
    const float scale = inverse_x * item_inverse_norms_[item];
    return scale == 0.0f ? 0.0f : dot * scale;
  }

  // 1 / ‖y_i‖ of every row of an n × f factor matrix.
  static std::vector<float> item_inverse_norms(const AlignedVector<float>& items, std::size_t n,
                                               std::size_t f) {
    std::vector<float> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = detail::mf::inverse_norm(items.data() + i * f, f);
    return out;
  }

  Config config_{};
  std::size_t n_users_ = 0;
  std::size_t n_items_ = 0;
  AlignedVector<float> user_factors_{};
  AlignedVector<float> item_factors_{};
  // The cold user: the mean of the user factors (of users with training rows, at fit).
  std::vector<float> mean_user_ = std::vector<float>(config_.factors, 0.0f);
  // YᵀY of the item factors (f × f), for fold-in; kept in step by update().
  detail::mf::MatrixXd gram_ = detail::mf::MatrixXd::Zero(
      static_cast<Eigen::Index>(config_.factors), static_cast<Eigen::Index>(config_.factors));
  // update() calls since gram_ was last computed from scratch.
  std::uint64_t updates_since_gram_ = 0;
  // 1 / ‖y_i‖ per item (0 for a zero row), for cosine scoring.
  std::vector<float> item_inverse_norms_{};
};

}  // namespace marl_rec
