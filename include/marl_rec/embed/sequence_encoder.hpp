// marl_rec — SequenceEncoder: a user's vector from the vectors of the items they interacted with
// most recently (mean, recency-weighted mean, or scaled dot-product attention with learned
// projections trained on next-item prediction).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// How a SequenceEncoder combines a history (shared by every BasicSequenceEncoder<Scalar>).
struct SequenceEncoderConfig {
  /// How the history's item vectors are combined.
  enum class Mode {
    /// The plain mean.
    mean,
    /// Weights halving every `half_life` items back from the most recent.
    recency,
    /// Scaled dot-product attention of a query over the history.
    attention,
  };
  /// The attention query before its projection.
  enum class Query {
    /// The most recent item's vector.
    last_item,
    /// A learned vector (the same for every user).
    learned,
  };
  /// The optimiser of train().
  enum class Optimizer { sgd, adam };

  Mode mode{Mode::mean};
  /// Only the last `max_history` items of a history are used (≥ 1).
  std::size_t max_history{50};
  /// Recency: the weight of the item a positions before the most recent is 2^(−a / half_life)
  /// (finite, > 0).
  double half_life{5.0};
  /// Attention: the query source.
  Query query{Query::last_item};
  /// Attention: learned d × d projections W_q, W_k, W_v (initialised near the identity).
  bool projections{false};
  /// Training (attention with a learned query or projections): the optimiser.
  Optimizer optimizer{Optimizer::adam};
  /// Training: step size (finite, > 0). Adam uses β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
  double learning_rate{0.01};
  /// Training: passes over the sequences (≥ 1).
  std::size_t epochs{5};
  /// Training: sampled negatives per next-item example (≥ 1), uniform over the other items.
  std::size_t negatives{20};
  /// Initial parameters: W = I + init_scale · N(0, 1/d) entries; learned query init_scale ·
  /// N(0, 1/d) entries (finite, ≥ 0).
  double init_scale{0.1};
  /// Seed of the initial parameters, the example order and the negatives.
  std::uint64_t seed{42};
};

/// A user vector from the item vectors of the user's history (item indices, most recent last):
///
/// - mean: the mean of the last max_history item vectors;
/// - recency: their weighted mean, weight 2^(−a / half_life) for the item a positions before the
///   most recent (a = 0 for the most recent);
/// - attention: z = Σ_j softmax_j(q·k_j / √d) v_j with q = W_q q₀, k_j = W_k h_j, v_j = W_v h_j
///   (h_j the history's item vectors; q₀ the most recent one or a learned vector; without
///   projections the W are the identity).
///
/// The output is L2-normalised, so its dot product with unit item vectors is a cosine. Learned
/// parameters (W_q, W_k, W_v, the query) are trained by train() on next-item prediction: for each
/// position t ≥ 1 of a sequence, the history before t is encoded into z (unnormalised; it ranks
/// the items as the output does) and the loss is the sampled softmax cross-entropy
/// −log(exp(z·x_y) / Σ_{i ∈ {y} ∪ N} exp(z·x_i)), y the next item, N `negatives` items drawn
/// uniformly from the others. The backward pass is written by hand (loss_and_gradient) and
/// checked against finite differences in the tests. `Scalar` is the arithmetic of the attention
/// and its parameters (float, or double for the gradient check); item vectors are float.
///
/// Persistence: save() writes the Config and the learned parameters with their dimension (type
/// "sequence_encoder", or "sequence_encoder_f64" for double; version 1); load() replaces both.
/// Nothing else is kept between calls: train() starts from initialize() and keeps its optimiser
/// state only for the call, so a loaded encoder encodes, and trains again, exactly as the saved one.
template <class Scalar = float>
class BasicSequenceEncoder {
 public:
  using Config = SequenceEncoderConfig;
  using Mode = SequenceEncoderConfig::Mode;
  using Query = SequenceEncoderConfig::Query;
  using Optimizer = SequenceEncoderConfig::Optimizer;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// The learned parameters (or their gradients). Members not used by the configuration are
  /// empty (0 × 0, or size 0).
  struct Parameters {
    Matrix w_q{};
    Matrix w_k{};
    Matrix w_v{};
    Vector query{};
  };

  BasicSequenceEncoder() = default;
  /// An encoder with `config` (checked: throws Error for max_history, epochs or negatives of 0,
  /// a half-life or learning rate that is not finite and positive, or a negative init_scale).
  explicit BasicSequenceEncoder(Config config) : config_(config) { check_config(config_); }

  /// The configuration.
  const Config& config() const noexcept { return config_; }

  /// True when the configuration has parameters to learn (attention with a learned query or
  /// projections).
  bool trainable() const noexcept {
    return config_.mode == Mode::attention &&
           (config_.projections || config_.query == Query::learned);
  }

  /// (Re)creates the parameters for item vectors of `dim` floats from config.seed (what train()
  /// starts from). Throws Error when the configuration has none, or dim = 0.
  void initialize(std::size_t dim) {
    marl_rec::detail::require(trainable(),
                              "SequenceEncoder::initialize: the configuration has no parameters "
                              "(only attention with a learned query or projections has)");
    marl_rec::detail::require(dim >= 1, "SequenceEncoder::initialize: dim must be at least 1");
    Rng rng(config_.seed);
    const double sd = config_.init_scale / std::sqrt(static_cast<double>(dim));
    const auto d = static_cast<Eigen::Index>(dim);
    Parameters p;
    if (config_.projections) {
      for (Matrix* w : {&p.w_q, &p.w_k, &p.w_v}) {
        w->resize(d, d);
        for (Eigen::Index c = 0; c < d; ++c) {
          for (Eigen::Index r = 0; r < d; ++r) {
            (*w)(r, c) = static_cast<Scalar>((r == c ? 1.0 : 0.0) + rng.normal(0.0, sd));
          }
        }
      }
    }
    if (config_.query == Query::learned) {
      p.query.resize(d);
      for (Eigen::Index i = 0; i < d; ++i) p.query(i) = static_cast<Scalar>(rng.normal(0.0, sd));
    }
    params_ = std::move(p);
    dim_ = dim;
  }

  /// The learned parameters (empty before initialize(), train() or set_parameters()).
  const Parameters& parameters() const noexcept { return params_; }

  /// Replaces the parameters. Throws Error unless their shapes fit the configuration (d × d
  /// projections when `projections`, a d-vector query when the query is learned, the others
  /// empty) for one d ≥ 1.
  void set_parameters(Parameters p) {
    const std::size_t d = config_.projections ? static_cast<std::size_t>(p.w_q.rows())
                                              : static_cast<std::size_t>(p.query.size());
    const auto square = [&](const Matrix& w) {
      return config_.projections ? (static_cast<std::size_t>(w.rows()) == d &&
                                    static_cast<std::size_t>(w.cols()) == d)
                                 : w.size() == 0;
    };
    const bool query_ok = config_.query == Query::learned
                              ? static_cast<std::size_t>(p.query.size()) == d
                              : p.query.size() == 0;
    marl_rec::detail::require(
        trainable() && d >= 1 && square(p.w_q) && square(p.w_k) && square(p.w_v) && query_ok,
        "SequenceEncoder::set_parameters: the shapes do not fit the "
        "configuration");
    params_ = std::move(p);
    dim_ = d;
  }

  /// The stream type: "sequence_encoder" (float) or "sequence_encoder_f64" (double).
  static constexpr const char* stream_type() noexcept {
    return std::is_same_v<Scalar, float> ? "sequence_encoder" : "sequence_encoder_f64";
  }

  /// Writes the Config and the learned parameters (see the class comment). The matrices are
  /// written column by column.
  void save(std::ostream& out) const {
    io::ModelWriter w(out, stream_type(), 1);
    w.u64("mode", static_cast<std::uint64_t>(config_.mode));
    w.u64("max_history", config_.max_history);
    w.f64("half_life", config_.half_life);
    w.u64("query", static_cast<std::uint64_t>(config_.query));
    w.u64("projections", config_.projections ? 1 : 0);
    w.u64("optimizer", static_cast<std::uint64_t>(config_.optimizer));
    w.f64("learning_rate", config_.learning_rate);
    w.u64("epochs", config_.epochs);
    w.u64("negatives", config_.negatives);
    w.f64("init_scale", config_.init_scale);
    w.u64("seed", config_.seed);
    w.u64("dim", dim_);
    const auto put = [&](const char* field, const auto& m) {
      const std::span<const Scalar> values(m.data(), static_cast<std::size_t>(m.size()));
      if constexpr (std::is_same_v<Scalar, float>) {
        w.floats(field, values);
      } else {
        w.doubles(field, values);
      }
    };
    put("w_q", params_.w_q);
    put("w_k", params_.w_k);
    put("w_v", params_.w_v);
    put("query_vector", params_.query);
    w.finish();
  }

  /// Replaces the Config and the parameters with what save() wrote. Throws Error (encoder
  /// unchanged) on a truncated, corrupted or foreign stream, a Config the constructor refuses,
  /// parameters whose shapes do not fit the Config (see set_parameters) or of a dim above 2^20,
  /// or a non-finite value.
  void load(std::istream& in) {
    const std::string where = std::string("loading a '") + stream_type() + "' model";
    constexpr std::uint64_t size_max = std::numeric_limits<std::size_t>::max();
    io::ModelReader r(in, stream_type(), 1);
    Config c;
    c.mode = static_cast<Mode>(r.u64("mode", 0, 2));
    c.max_history = static_cast<std::size_t>(r.u64("max_history", 0, size_max));
    c.half_life = r.f64("half_life");
    c.query = static_cast<Query>(r.u64("query", 0, 1));
    c.projections = r.u64("projections", 0, 1) == 1;
    c.optimizer = static_cast<Optimizer>(r.u64("optimizer", 0, 1));
    c.learning_rate = r.f64("learning_rate");
    c.epochs = static_cast<std::size_t>(r.u64("epochs", 0, size_max));
    c.negatives = static_cast<std::size_t>(r.u64("negatives", 0, size_max));
    c.init_scale = r.f64("init_scale");
    c.seed = r.u64("seed");
    BasicSequenceEncoder loaded = [&] {
      try {
        return BasicSequenceEncoder(c);
      } catch (const Error& e) {
        throw Error(where + ": " + e.what());
      }
    }();
    // Item vectors of more than 2^20 floats are beyond any embedding, and keep d² from overflowing.
    const auto d = static_cast<std::size_t>(r.u64("dim", 0, loaded.trainable() ? std::uint64_t{1} << 20 : 0));
    const std::size_t w_size = c.projections ? d * d : 0;
    const std::size_t q_size = c.query == Query::learned ? d : 0;
    const auto get = [&](const char* field, std::size_t count) {
      std::vector<Scalar> values;
      if constexpr (std::is_same_v<Scalar, float>) {
        values = r.floats(field, count);
      } else {
        values = r.doubles(field, count);
      }
      for (const Scalar v : values) {
        marl_rec::detail::require(std::isfinite(v), [&] {
          return where + ": field '" + field + "' holds a non-finite value";
        });
      }
      return values;
    };
    const auto matrix = [&](const char* field) {
      const std::vector<Scalar> values = get(field, w_size);
      const auto n = static_cast<Eigen::Index>(values.empty() ? 0 : d);
      return Matrix(Eigen::Map<const Matrix>(values.data(), n, n));
    };
    Parameters p;
    p.w_q = matrix("w_q");
    p.w_k = matrix("w_k");
    p.w_v = matrix("w_v");
    const std::vector<Scalar> query = get("query_vector", q_size);
    p.query = Eigen::Map<const Vector>(query.data(), static_cast<Eigen::Index>(query.size()));
    r.finish();
    if (d != 0) loaded.set_parameters(std::move(p));  // the shapes were read to fit
    *this = std::move(loaded);
  }

  /// Writes the unit-length encoding of `history` (indices into the rows of `items`, most recent
  /// last; only the last max_history are used) to `out` (items.cols() floats). Returns false,
  /// writing zeros, when the combination has zero length (e.g. every history item has a zero
  /// vector). Throws Error when the history is empty, an index is not a row of `items`,
  /// out.size() != items.cols(), or learned parameters are needed but missing or of another
  /// dimension.
  bool encode(MatrixView items, std::span<const std::size_t> history, std::span<float> out) const {
    const char* where = "SequenceEncoder::encode";
    check_history(where, items, history);
    marl_rec::detail::require(out.size() == items.cols(), [&] {
      return std::string(where) + ": out has " + std::to_string(out.size()) +
             " floats, the item vectors have " + std::to_string(items.cols());
    });
    const std::span<const std::size_t> recent = window(history);
    std::fill(out.begin(), out.end(), 0.0f);
    if (config_.mode == Mode::attention) {
      check_parameters(where, items.cols());
      const Forward f = forward(items, recent);
      for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = static_cast<float>(f.z(static_cast<Eigen::Index>(i)));
      }
    } else {
      const std::size_t n = recent.size();
      for (std::size_t j = 0; j < n; ++j) {
        const float w = config_.mode == Mode::mean ? 1.0f : recency_weight(n - 1 - j);
        simd::axpy(w, items.row(recent[j]), out);
      }
    }
    if (simd::l2_normalize(out)) return true;
    std::fill(out.begin(), out.end(), 0.0f);
    return false;
  }

  /// The recency weight of the item `age` positions before the most recent: 2^(−age / half_life).
  float recency_weight(std::size_t age) const noexcept {
    return static_cast<float>(std::exp2(-static_cast<double>(age) / config_.half_life));
  }

  /// The next-item loss of one example, −log softmax of the target among {target} ∪ negatives
  /// with logits z·x_i (z the unnormalised attention output for `history`), and, when `gradient`
  /// is given, its gradient with respect to every learned parameter (same shapes). A negative
  /// equal to the target counts as a separate candidate. Throws Error as encode() does, when the
  /// configuration is not trainable, or when the target or a negative is not a row of `items`.
  Scalar loss_and_gradient(MatrixView items, std::span<const std::size_t> history,
                           std::size_t target, std::span<const std::size_t> negatives,
                           Parameters* gradient) const {
    const char* where = "SequenceEncoder::loss_and_gradient";
    marl_rec::detail::require(trainable(),
                              std::string(where) + ": the configuration has no parameters");
    check_history(where, items, history);
    check_parameters(where, items.cols());
    marl_rec::detail::require(target < items.rows(), [&] {
      return std::string(where) + ": target " + std::to_string(target) + " is not an item row";
    });
    for (const std::size_t item : negatives) {
      marl_rec::detail::require(item < items.rows(), [&] {
        return std::string(where) + ": negative " + std::to_string(item) + " is not an item row";
      });
    }
    return loss_and_gradient_unchecked(items, window(history), target, negatives, gradient);
  }

  /// Trains the parameters from their initial values (initialize(items.cols())) on next-item
  /// prediction over `sequences` (indices into the rows of `items`, oldest first): `epochs`
  /// passes, examples (sequence, position t ≥ 1) in an order shuffled each epoch, one optimiser
  /// step per example. Returns the mean training loss of each epoch. Throws Error when the
  /// configuration is not trainable, `items` has fewer than 2 rows, an index is not a row, or no
  /// sequence has two items.
  std::vector<double> train(MatrixView items, std::span<const std::vector<std::size_t>> sequences) {
    const char* where = "SequenceEncoder::train";
    marl_rec::detail::require(trainable(),
                              std::string(where) +
                                  ": the configuration has no parameters (only "
                                  "attention with a learned query or projections has)");
    marl_rec::detail::require(items.rows() >= 2 && items.cols() >= 1,
                              std::string(where) + ": needs at least 2 item vectors");
    const auto examples = examples_of(where, items, sequences);
    initialize(items.cols());
    Rng rng(config_.seed ^ 0xD1B54A32D192ED03ull);  // not the initialisation's stream
    Parameters m = zeros_like(params_), v = zeros_like(params_), g = zeros_like(params_);
    std::vector<std::size_t> order(examples.size());
    std::vector<std::size_t> negatives(config_.negatives);
    std::vector<double> losses;
    std::uint64_t step = 0;
    for (std::size_t epoch = 0; epoch < config_.epochs; ++epoch) {
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      shuffle(order.begin(), order.end(), rng);
      double total = 0.0;
      for (const std::size_t e : order) {
        const auto [s, t] = examples[e];
        const std::vector<std::size_t>& sequence = sequences[s];
        draw_negatives(rng, items.rows(), sequence[t], negatives);
        const std::span<const std::size_t> history = window(std::span(sequence).first(t));
        total += static_cast<double>(
            loss_and_gradient_unchecked(items, history, sequence[t], negatives, &g));
        ++step;
        update(params_, g, m, v, step);
      }
      losses.push_back(total / static_cast<double>(examples.size()));
    }
    return losses;
  }

  /// The mean next-item loss over every (sequence, position t ≥ 1) of `sequences`, with negatives
  /// drawn from Rng(negatives_seed) in example order (so two calls with the same seed compare
  /// parameters on the same negatives). Throws Error as train() does.
  double mean_loss(MatrixView items, std::span<const std::vector<std::size_t>> sequences,
                   std::uint64_t negatives_seed) const {
    const char* where = "SequenceEncoder::mean_loss";
    marl_rec::detail::require(trainable(),
                              std::string(where) + ": the configuration has no parameters");
    marl_rec::detail::require(items.rows() >= 2,
                              std::string(where) + ": needs at least 2 item vectors");
    check_parameters(where, items.cols());
    const auto examples = examples_of(where, items, sequences);
    Rng rng(negatives_seed);
    std::vector<std::size_t> negatives(config_.negatives);
    double total = 0.0;
    for (const auto& [s, t] : examples) {
      const std::vector<std::size_t>& sequence = sequences[s];
      draw_negatives(rng, items.rows(), sequence[t], negatives);
      total += static_cast<double>(loss_and_gradient_unchecked(
          items, window(std::span(sequence).first(t)), sequence[t], negatives, nullptr));
    }
    return total / static_cast<double>(examples.size());
  }

 private:
  struct Forward {
    Matrix h{};   // n × d history vectors (rows)
    Vector q0{};  // query before projection
    Vector q{};   // projected query
    Matrix k{};   // n × d keys (rows)
    Matrix v{};   // n × d values (rows)
    Vector a{};   // attention weights
    Vector z{};   // output before normalisation
  };

  static void check_config(const Config& c) {
    const auto require = [](bool ok, const char* what) {
      marl_rec::detail::require(ok, [&] { return std::string("SequenceEncoder: config.") + what; });
    };
    require(c.max_history >= 1, "max_history must be at least 1");
    require(std::isfinite(c.half_life) && c.half_life > 0.0,
            "half_life must be finite and positive");
    require(std::isfinite(c.learning_rate) && c.learning_rate > 0.0,
            "learning_rate must be finite and positive");
    require(c.epochs >= 1, "epochs must be at least 1");
    require(c.negatives >= 1, "negatives must be at least 1");
    require(std::isfinite(c.init_scale) && c.init_scale >= 0.0,
            "init_scale must be finite and non-negative");
  }

  static void check_history(const char* where, MatrixView items,
                            std::span<const std::size_t> history) {
    marl_rec::detail::require(!history.empty(), std::string(where) + ": the history is empty");
    for (const std::size_t item : history) {
      marl_rec::detail::require(item < items.rows(), [&] {
        return std::string(where) + ": history item " + std::to_string(item) +
               " is not a row of the " + std::to_string(items.rows()) + " item vectors";
      });
    }
  }

  void check_parameters(const char* where, std::size_t dim) const {
    if (!trainable()) return;
    marl_rec::detail::require(dim_ == dim, [&] {
      return std::string(where) + ": the learned parameters are for dimension " +
             std::to_string(dim_) + ", the item vectors have " + std::to_string(dim) +
             " (call train(), initialize() or set_parameters() first)";
    });
  }

  std::span<const std::size_t> window(std::span<const std::size_t> history) const noexcept {
    return history.size() > config_.max_history ? history.last(config_.max_history) : history;
  }

  static std::vector<std::pair<std::size_t, std::size_t>> examples_of(
      const char* where, MatrixView items, std::span<const std::vector<std::size_t>> sequences) {
    std::vector<std::pair<std::size_t, std::size_t>> examples;
    for (std::size_t s = 0; s < sequences.size(); ++s) {
      for (const std::size_t item : sequences[s]) {
        marl_rec::detail::require(item < items.rows(), [&] {
          return std::string(where) + ": sequence " + std::to_string(s) + " has item " +
                 std::to_string(item) + ", not a row of the " + std::to_string(items.rows()) +
                 " item vectors";
        });
      }
      for (std::size_t t = 1; t < sequences[s].size(); ++t) examples.emplace_back(s, t);
    }
    marl_rec::detail::require(!examples.empty(),
                              std::string(where) + ": no sequence has two items");
    return examples;
  }

  void draw_negatives(Rng& rng, std::size_t n_items, std::size_t target,
                      std::span<std::size_t> out) const noexcept {
    // Uniform over the n − 1 items other than the target.
    for (std::size_t& x : out) {
      const auto r = static_cast<std::size_t>(rng.below(n_items - 1));
      x = r >= target ? r + 1 : r;
    }
  }

  Forward forward(MatrixView items, std::span<const std::size_t> history) const {
    Forward f;
    const auto n = static_cast<Eigen::Index>(history.size());
    const auto d = static_cast<Eigen::Index>(items.cols());
    f.h.resize(n, d);
    for (Eigen::Index j = 0; j < n; ++j) {
      const std::span<const float> row = items.row(history[static_cast<std::size_t>(j)]);
      for (Eigen::Index c = 0; c < d; ++c)
        f.h(j, c) = static_cast<Scalar>(row[static_cast<std::size_t>(c)]);
    }
    f.q0 = config_.query == Query::learned ? params_.query : Vector(f.h.row(n - 1).transpose());
    if (config_.projections) {
      f.q = params_.w_q * f.q0;
      f.k = f.h * params_.w_k.transpose();
      f.v = f.h * params_.w_v.transpose();
    } else {
      f.q = f.q0;
      f.k = f.h;
      f.v = f.h;
    }
    const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(d));
    Vector s = (f.k * f.q) * scale;
    const Scalar top = s.maxCoeff();
    f.a = (s.array() - top).exp().matrix();
    f.a /= f.a.sum();
    f.z = f.v.transpose() * f.a;
    return f;
  }

  Scalar loss_and_gradient_unchecked(MatrixView items, std::span<const std::size_t> history,
                                     std::size_t target, std::span<const std::size_t> negatives,
                                     Parameters* gradient) const {
    const Forward f = forward(items, history);
    const auto d = static_cast<Eigen::Index>(items.cols());
    const auto m = static_cast<Eigen::Index>(negatives.size() + 1);
    Matrix x(m, d);  // candidates: the target, then the negatives
    for (Eigen::Index i = 0; i < m; ++i) {
      const std::size_t item = i == 0 ? target : negatives[static_cast<std::size_t>(i - 1)];
      const std::span<const float> row = items.row(item);
      for (Eigen::Index c = 0; c < d; ++c)
        x(i, c) = static_cast<Scalar>(row[static_cast<std::size_t>(c)]);
    }
    const Vector logits = x * f.z;
    const Scalar top = logits.maxCoeff();
    Vector p = (logits.array() - top).exp().matrix();
    const Scalar sum = p.sum();
    const Scalar loss = std::log(sum) + top - logits(0);
    if (gradient == nullptr) return loss;

    // Backward, step by step through the forward pass above.
    p /= sum;
    p(0) -= Scalar(1);                       // dL/dlogits = softmax − one-hot(target)
    const Vector dz = x.transpose() * p;     // logits = X z
    const Matrix dv = f.a * dz.transpose();  // z = Vᵀ a: dv_j = a_j dz
    const Vector da = f.v * dz;              //           da_j = v_j · dz
    const Vector ds = f.a.cwiseProduct((da.array() - f.a.dot(da)).matrix());  // softmax
    const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(d));
    const Vector dq = (f.k.transpose() * ds) * scale;  // s_j = q · k_j / √d
    const Matrix dk = (ds * f.q.transpose()) * scale;
    Parameters& g = *gradient;
    g = Parameters{};
    Vector dq0 = dq;
    if (config_.projections) {
      g.w_q = dq * f.q0.transpose();  // q = W_q q₀
      g.w_k = dk.transpose() * f.h;   // k_j = W_k h_j
      g.w_v = dv.transpose() * f.h;   // v_j = W_v h_j
      dq0 = params_.w_q.transpose() * dq;
    }
    if (config_.query == Query::learned) g.query = dq0;
    return loss;
  }

  static Parameters zeros_like(const Parameters& p) {
    Parameters z;
    z.w_q = Matrix::Zero(p.w_q.rows(), p.w_q.cols());
    z.w_k = Matrix::Zero(p.w_k.rows(), p.w_k.cols());
    z.w_v = Matrix::Zero(p.w_v.rows(), p.w_v.cols());
    z.query = Vector::Zero(p.query.size());
    return z;
  }

  // One optimiser step on every parameter (SGD, or Adam with bias correction).
  void update(Parameters& p, const Parameters& g, Parameters& m, Parameters& v,
              std::uint64_t step) const {
    const auto lr = static_cast<Scalar>(config_.learning_rate);
    const auto apply = [&](auto& param, const auto& grad, auto& mean, auto& var) {
      if (param.size() == 0) return;
      if (config_.optimizer == Optimizer::sgd) {
        param -= lr * grad;
        return;
      }
      constexpr Scalar beta1 = Scalar(0.9), beta2 = Scalar(0.999), epsilon = Scalar(1e-8);
      mean = beta1 * mean + (Scalar(1) - beta1) * grad;
      var = (beta2 * var.array() + (Scalar(1) - beta2) * grad.array().square()).matrix();
      const auto t = static_cast<Scalar>(step);
      const Scalar c1 = Scalar(1) - std::pow(beta1, t);
      const Scalar c2 = Scalar(1) - std::pow(beta2, t);
      param.array() -= lr * (mean.array() / c1) / ((var.array() / c2).sqrt() + epsilon);
    };
    apply(p.w_q, g.w_q, m.w_q, v.w_q);
    apply(p.w_k, g.w_k, m.w_k, v.w_k);
    apply(p.w_v, g.w_v, m.w_v, v.w_v);
    apply(p.query, g.query, m.query, v.query);
  }

  Config config_{};
  Parameters params_{};
  std::size_t dim_ = 0;
};

/// The float SequenceEncoder.
using SequenceEncoder = BasicSequenceEncoder<float>;

}  // namespace marl_rec
