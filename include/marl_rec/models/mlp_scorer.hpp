// marl_rec — MlpScorer: a small multilayer perceptron over [user features, item features] that
// predicts the probability of a positive outcome, trained online with Adam (one step per update).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "marl_rec/concepts/federated_model.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// The shape and the optimiser of an MlpScorer. Checked by the MlpScorer constructor.
struct MlpScorerConfig {
  /// Widths of the hidden ReLU layers: one or two layers, each 1..65536 units wide.
  std::vector<std::size_t> hidden{32};
  /// Adam's step size (finite, > 0).
  float learning_rate = 1e-2f;
  /// Adam's decay of the gradient's running mean, in [0, 1).
  float beta1 = 0.9f;
  /// Adam's decay of the squared gradient's running mean, in [0, 1).
  float beta2 = 0.999f;
  /// Adam's denominator guard (finite, > 0).
  float epsilon = 1e-8f;
  /// Strength of the penalty (l2 / 2) · Σ w² on the weights (not the biases), added to the loss
  /// before Adam sees the gradient (classic L2, not AdamW's decoupled decay). Finite, ≥ 0.
  float l2 = 0.0f;
  /// Seed of the He initialisation of the weights.
  std::uint64_t seed = 1;
};

/// A multilayer perceptron scorer for contextual recommendation.
///
/// Input: x = [context.features, row `item` of context.items] (the user's vector, then the
/// item's). One or two hidden layers a = ReLU(W a_prev + b), then one logit z = w · a + b_out;
/// the model's estimate is the probability σ(z) that showing the item earns a positive outcome.
///
/// - Initialisation: weights ~ N(0, 2 / fan_in) (He), drawn from Rng(config.seed) layer by
///   layer, each weight matrix in column-major order; biases 0. Same seed, same model.
/// - Dimensions: fixed by the constructor MlpScorer(config, user_dim, item_dim), or else by the
///   first update() (features.size(), items.cols()); checked by every call afterwards. Until
///   then score() knows nothing and writes the uninformed 0.5 (score_logits(): 0) for every
///   candidate, checking only the candidates and scores.size().
/// - update(context, item, reward): one Adam step on the binary cross-entropy
///   −y log σ(z) − (1 − y) log(1 − σ(z)) (+ the L2 penalty) with y = reward clamped to [0, 1]:
///   a reward in (0, 1) is a soft label, a reward ≥ 1 (e.g. click + purchase = 2 with the default
///   RewardWeights) a full positive, a reward ≤ 0 a full negative. A non-finite reward, a
///   non-finite input value, a context that does not fit, or finite inputs so large that the
///   gradient overflows (checked before the step) throws Error and changes nothing. After the
///   first update it does not allocate.
/// - score(): σ(z) as a float, so logits above ≈ 17 all round to 1.0f (ties); score_logits()
///   writes z itself when a ranking must separate very confident items. NaN in the input gives a
///   NaN score (never chosen). The first layer's user part W_u u + b is computed once per call;
///   then the candidates go layer by layer through the network in blocks of `block_size`, each
///   candidate by the same matrix-vector products, so its score does not depend on the other
///   candidates or its position: it is bit-identical however the candidate set is formed.
///   score() is const and thread-safe; its scratch is a thread_local buffer (one per thread and
///   Scalar type) that only grows, so after a first call of the same shape it does not allocate.
///   Cost per candidate ≈ h₁ · item_dim (+ h₁ · h₂) + h_last multiply-adds.
/// - update() costs one forward and backward pass plus an Adam step over every parameter.
///   Adam's moments below ≈ 2e-31 (float) are flushed to 0, keeping the arithmetic off slow
///   subnormal numbers; the step this drops is below lr · 2e-30 / epsilon.
/// - save/load: the configuration, the dimensions, the weights, Adam's moments and step count.
/// - MlpScorer (float) is a FederatedModel: its shared parameters are parameters() (every
///   weight and bias); Adam's state stays local to each agent.
///
/// `Scalar` is the type of the parameters and of the arithmetic: float (MlpScorer), or double
/// (for gradient checks; inputs and scores stay float).
template <class Scalar = float>
class BasicMlpScorer {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "MlpScorer computes in float or double");

 public:
  using Config = MlpScorerConfig;

  /// Candidates per pass of score() through the network (bounds its scratch buffer).
  static constexpr std::size_t block_size = 32;
  /// Largest user or item dimension.
  static constexpr std::size_t max_dimension = std::size_t{1} << 24;
  /// Largest hidden layer width.
  static constexpr std::size_t max_width = std::size_t{1} << 16;
  /// Largest number of parameters (weights and biases).
  static constexpr std::size_t max_parameters = std::size_t{1} << 28;

  /// A model with the default configuration; dimensions fixed by the first update().
  BasicMlpScorer() : BasicMlpScorer(Config{}) {}

  /// A model with `config` (checked: Error on 0 or more than 2 hidden layers, a width of 0 or
  /// above max_width, or an optimiser setting out of range); dimensions fixed by the first
  /// update().
  explicit BasicMlpScorer(Config config) : config_(std::move(config)) {
    check_config("MlpScorer", config_);
  }

  /// A model with `config` for users of `user_dim` and items of `item_dim` features, initialised
  /// now. Throws Error as the one-argument constructor does, when both dimensions are 0, or when
  /// the network would be too large.
  BasicMlpScorer(Config config, std::size_t user_dim, std::size_t item_dim)
      : BasicMlpScorer(std::move(config)) {
    check_dimensions("MlpScorer", config_, user_dim, item_dim);
    initialize(user_dim, item_dim);
  }

  /// "mlp" (float parameters) or "mlp_f64" (double); also the type name in saved streams.
  std::string_view name() const noexcept {
    return std::is_same_v<Scalar, float> ? std::string_view("mlp") : std::string_view("mlp_f64");
  }

  /// The configuration.
  const Config& config() const noexcept { return config_; }
  /// True once the dimensions are known (constructor with dimensions, first update, or load).
  bool initialized() const noexcept { return initialized_; }
  /// The user feature dimension (0 before initialisation).
  std::size_t user_dim() const noexcept { return user_dim_; }
  /// The item feature dimension (0 before initialisation).
  std::size_t item_dim() const noexcept { return item_dim_; }
  /// Number of parameters (0 before initialisation).
  std::size_t parameter_count() const noexcept { return theta_.size(); }
  /// Adam steps taken (updates learned from).
  std::uint64_t steps() const noexcept { return step_; }

  /// The parameters, flat: for each layer (hidden layers, then the output), its weight matrix
  /// (outputs × inputs, column-major; the first layer's inputs are the user features, then the
  /// item features) followed by its bias vector. Empty before initialisation.
  std::span<const Scalar> parameters() const noexcept { return theta_; }

  /// Replaces the parameters (same layout as parameters(); Adam's moments and step count are
  /// kept). Throws Error, changing nothing, before initialisation, on a size other than
  /// parameter_count(), or on a non-finite value.
  void set_parameters(std::span<const Scalar> values) {
    const char* where = "MlpScorer::set_parameters";
    require_initialized(where);
    replace_parameters(where, values);
  }

  /// The parameters federated agents share (FederatedModel): every weight and bias, the
  /// values of parameters(). Adam's moments and step count are the agent's own optimiser state
  /// and stay local. Empty before initialisation. Only for Scalar = float (a requires-clause:
  /// BasicMlpScorer<double>, a gradient-checking aid, is not a FederatedModel).
  std::span<const float> shared_parameters() const noexcept
    requires std::is_same_v<Scalar, float>
  {
    return theta_;
  }

  /// Replaces every weight and bias (set_parameters, for FederatedModel); nothing is derived
  /// from them, Adam's state is kept. Before initialisation the model has 0 shared parameters:
  /// an empty `values` is then accepted (and changes nothing). Throws Error, changing nothing,
  /// on a size other than parameter_count() or a non-finite value. Only for Scalar = float.
  void set_shared_parameters(std::span<const float> values)
    requires std::is_same_v<Scalar, float>
  {
    replace_parameters("MlpScorer::set_shared_parameters", values);
  }

  /// Writes σ(z), the predicted probability of a positive outcome, of every candidate (see the
  /// class comment). Throws Error when scores.size() != candidates.size(), a candidate is not a
  /// row of context.items, or (once initialised) the feature dimensions differ from the model's.
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    score_impl<true>("MlpScorer::score", context, candidates, scores);
  }

  /// Writes the logit z of every candidate (ranks as score() does, without its saturation at 1).
  /// Throws Error as score() does.
  void score_logits(const Context& context, Candidates candidates, std::span<float> scores) const {
    score_impl<false>("MlpScorer::score_logits", context, candidates, scores);
  }

  /// Learns from `reward` for `item` in `context`: one Adam step (see the class comment). Fixes
  /// the dimensions on the first call of an uninitialised model. Throws Error, changing nothing,
  /// on a non-finite reward, an item that is not a row of context.items, a non-finite feature of
  /// the user or the item, feature dimensions that differ from the model's, or a gradient that
  /// is not finite (inputs too large for the arithmetic).
  void update(const Context& context, std::size_t item, double reward) {
    const char* where = "MlpScorer::update";
    marl_rec::detail::require(std::isfinite(reward), [&] {
      return std::string(where) + ": the reward " + std::to_string(reward) + " is not finite";
    });
    check_item(where, context, item);
    if (initialized_) {
      check_context(where, context);
    } else {
      check_dimensions(where, config_, context.features.size(), context.items.cols());
    }
    check_finite(where, context, item);
    const bool fresh = !initialized_;
    if (fresh) initialize(context.features.size(), context.items.cols());
    const auto target = static_cast<Scalar>(std::clamp(reward, 0.0, 1.0));
    const Scalar loss = forward_backward(context.features.data(), context.items.row(item).data(),
                                         target, grad_.data(), work_.data());
    // Finite inputs can still be too large for the arithmetic (activations or g² overflow): the
    // step would then make parameters or Adam's moments infinite or NaN for good. Checked before
    // the step; the first update also undoes its initialisation.
    if (!(std::isfinite(loss) && squares_finite(grad_))) {
      if (fresh) uninitialize();
      marl_rec::detail::require(false, [&] {
        return std::string(where) +
               ": the gradient is not finite (an input too large for the arithmetic)";
      });
    }
    adam_step();
  }

  /// The loss of one example, binary cross-entropy with target clamp(reward, 0, 1) plus the L2
  /// penalty (l2 / 2) · Σ w², and, when `gradient` is not empty, its gradient with respect to
  /// parameters() (same layout). Does not change the model (and, unlike update(), allocates its
  /// scratch). Throws Error as update() does, before initialisation, or when `gradient` is
  /// neither empty nor parameter_count() long.
  Scalar loss_and_gradient(const Context& context, std::size_t item, double reward,
                           std::span<Scalar> gradient) const {
    const char* where = "MlpScorer::loss_and_gradient";
    require_initialized(where);
    marl_rec::detail::require(std::isfinite(reward), [&] {
      return std::string(where) + ": the reward " + std::to_string(reward) + " is not finite";
    });
    check_item(where, context, item);
    check_context(where, context);
    check_finite(where, context, item);
    marl_rec::detail::require(gradient.empty() || gradient.size() == theta_.size(), [&] {
      return std::string(where) + ": gradient has " + std::to_string(gradient.size()) +
             " entries, the model has " + std::to_string(theta_.size()) + " parameters";
    });
    std::vector<Scalar> work(work_.size());
    std::vector<Scalar> scratch_gradient(gradient.empty() ? theta_.size() : 0);
    Scalar* g = gradient.empty() ? scratch_gradient.data() : gradient.data();
    Scalar loss = forward_backward(context.features.data(), context.items.row(item).data(),
                                   static_cast<Scalar>(std::clamp(reward, 0.0, 1.0)), g,
                                   work.data());
    if (config_.l2 > 0.0f) {
      Scalar squares = 0;
      for (std::size_t k = 0; k < layer_count_; ++k) {
        squares += weights(theta_.data(), layers_[k]).squaredNorm();
      }
      loss += static_cast<Scalar>(config_.l2) / 2 * squares;
    }
    return loss;
  }

  /// Writes the configuration, the dimensions, the parameters, Adam's moments and step count.
  void save(std::ostream& out) const {
    io::ModelWriter w(out, name(), format_version);
    w.u64("hidden_layers", config_.hidden.size());
    for (const std::size_t width : config_.hidden) w.u64("hidden", width);
    const std::array<float, 5> optimizer = {config_.learning_rate, config_.beta1, config_.beta2,
                                            config_.epsilon, config_.l2};
    w.floats("optimizer", optimizer);
    w.u64("seed", config_.seed);
    w.u64("initialized", initialized_ ? 1 : 0);
    w.u64("user_dim", user_dim_);
    w.u64("item_dim", item_dim_);
    w.u64("steps", step_);
    if constexpr (std::is_same_v<Scalar, float>) {
      w.floats("parameters", theta_);
      w.floats("adam_m", m_);
      w.floats("adam_v", v_);
    } else {
      w.doubles("parameters", theta_);
      w.doubles("adam_m", m_);
      w.doubles("adam_v", v_);
    }
    w.finish();
  }

  /// Replaces the whole model (configuration included) with one saved by save() of the same
  /// Scalar type. Throws Error naming what is wrong on any other input (wrong type, truncated,
  /// corrupted, out-of-range shape or settings, a non-finite parameter or moment, a negative
  /// second moment) and then leaves the model unchanged.
  void load(std::istream& in) {
    const char* where = "MlpScorer::load";
    io::ModelReader r(in, name(), format_version);
    Config c;
    c.hidden.assign(r.u64("hidden_layers", 1, max_hidden_layers), 0);
    for (std::size_t& width : c.hidden) width = r.u64("hidden", 1, max_width);
    const std::vector<float> optimizer = r.floats("optimizer", 5);
    c.learning_rate = optimizer[0];
    c.beta1 = optimizer[1];
    c.beta2 = optimizer[2];
    c.epsilon = optimizer[3];
    c.l2 = optimizer[4];
    c.seed = r.u64("seed");
    check_config(where, c);
    const bool initialized = r.u64("initialized", 0, 1) == 1;
    const std::size_t user_dim = r.u64("user_dim", 0, initialized ? max_dimension : 0);
    const std::size_t item_dim = r.u64("item_dim", 0, initialized ? max_dimension : 0);
    const std::uint64_t steps = r.u64("steps");
    Shape shape;
    if (initialized) {
      check_dimensions(where, c, user_dim, item_dim);
      shape = make_shape(c, user_dim, item_dim);
    }
    std::vector<Scalar> theta, m, v;
    if constexpr (std::is_same_v<Scalar, float>) {
      theta = r.floats("parameters", shape.parameter_count);
      m = r.floats("adam_m", shape.parameter_count);
      v = r.floats("adam_v", shape.parameter_count);
    } else {
      theta = r.doubles("parameters", shape.parameter_count);
      m = r.doubles("adam_m", shape.parameter_count);
      v = r.doubles("adam_v", shape.parameter_count);
    }
    r.finish();
    // Adam divides by √v: v must be ≥ 0, and everything finite.
    const auto check = [&](const std::vector<Scalar>& values, const char* field, bool non_negative) {
      for (std::size_t i = 0; i < values.size(); ++i) {
        marl_rec::detail::require(std::isfinite(values[i]) && (!non_negative || values[i] >= 0), [&] {
          return std::string(where) + ": field '" + field + "' holds " +
                 (non_negative ? "a negative or non-finite" : "a non-finite") + " value at " +
                 std::to_string(i);
        });
      }
    };
    check(theta, "parameters", false);
    check(m, "adam_m", false);
    check(v, "adam_v", true);
    std::vector<Scalar> grad(shape.parameter_count), work(shape.work_size);
    // Commit: nothing below throws.
    config_ = std::move(c);
    initialized_ = initialized;
    user_dim_ = user_dim;
    item_dim_ = item_dim;
    step_ = steps;
    layers_ = shape.layers;
    layer_count_ = shape.layer_count;
    theta_ = std::move(theta);
    m_ = std::move(m);
    v_ = std::move(v);
    grad_ = std::move(grad);
    work_ = std::move(work);
  }

 private:
  static constexpr std::uint32_t format_version = 1;
  static constexpr std::size_t max_hidden_layers = 2;
  static constexpr std::size_t max_layers = max_hidden_layers + 1;
  // Scratch columns start on 64-byte boundaries (a multiple of every SIMD width): every
  // candidate's column has the same address alignment, so no vectorised/scalar split that Eigen
  // might choose by address can differ between candidates (the bit-identity of the class comment).
  static constexpr std::size_t scratch_alignment = 64;
  static constexpr std::size_t column_multiple = scratch_alignment / sizeof(Scalar);

  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using MatrixMap = Eigen::Map<Matrix>;
  using ConstMatrixMap = Eigen::Map<const Matrix>;
  using VectorMap = Eigen::Map<Vector>;
  using ConstVectorMap = Eigen::Map<const Vector>;

  // Layer k maps `in` inputs to `out` outputs; its weights and bias start at these offsets of
  // the flat parameter vector.
  struct LayerShape {
    std::size_t in = 0;
    std::size_t out = 0;
    std::size_t weights = 0;
    std::size_t bias = 0;
  };

  struct Shape {
    std::array<LayerShape, max_layers> layers{};
    std::size_t layer_count = 0;
    std::size_t parameter_count = 0;
    // update()'s scratch: the input and every hidden activation, and two delta vectors.
    std::size_t work_size = 0;
  };

  static void check_config(const char* where, const Config& c) {
    const auto require = [&](bool ok, const char* what) {
      marl_rec::detail::require(ok, [&] { return std::string(where) + ": config." + what; });
    };
    require(c.hidden.size() >= 1 && c.hidden.size() <= max_hidden_layers,
            "hidden must list 1 or 2 layer widths");
    for (const std::size_t width : c.hidden) {
      require(width >= 1 && width <= max_width, "hidden widths must lie in [1, 65536]");
    }
    require(std::isfinite(c.learning_rate) && c.learning_rate > 0.0f,
            "learning_rate must be finite and positive");
    require(c.beta1 >= 0.0f && c.beta1 < 1.0f, "beta1 must lie in [0, 1)");
    require(c.beta2 >= 0.0f && c.beta2 < 1.0f, "beta2 must lie in [0, 1)");
    require(std::isfinite(c.epsilon) && c.epsilon > 0.0f, "epsilon must be finite and positive");
    require(std::isfinite(c.l2) && c.l2 >= 0.0f, "l2 must be finite and non-negative");
  }

  static void check_dimensions(const char* where, const Config& c, std::size_t user_dim,
                               std::size_t item_dim) {
    marl_rec::detail::require(user_dim + item_dim >= 1, [&] {
      return std::string(where) + ": the user and item feature dimensions are both 0";
    });
    marl_rec::detail::require(user_dim <= max_dimension && item_dim <= max_dimension, [&] {
      return std::string(where) + ": feature dimensions " + std::to_string(user_dim) + " + " +
             std::to_string(item_dim) + " exceed the limit of " + std::to_string(max_dimension);
    });
    const std::size_t count = make_shape(c, user_dim, item_dim).parameter_count;
    marl_rec::detail::require(count <= max_parameters, [&] {
      return std::string(where) + ": the network would have " + std::to_string(count) +
             " parameters, the limit is " + std::to_string(max_parameters);
    });
  }

  // The layout of a network (the sizes are checked by the callers: no overflow below).
  static Shape make_shape(const Config& c, std::size_t user_dim, std::size_t item_dim) {
    Shape s;
    s.layer_count = c.hidden.size() + 1;
    std::size_t in = user_dim + item_dim, offset = 0, widest = 1;
    s.work_size = in;
    for (std::size_t k = 0; k < s.layer_count; ++k) {
      const std::size_t out = k + 1 < s.layer_count ? c.hidden[k] : 1;
      s.layers[k] = {.in = in, .out = out, .weights = offset, .bias = offset + in * out};
      offset += in * out + out;
      if (k + 1 < s.layer_count) s.work_size += out;
      widest = std::max(widest, out);
      in = out;
    }
    s.parameter_count = offset;
    s.work_size += 2 * widest;
    return s;
  }

  // He initialisation (see the class comment) and zero Adam state.
  void initialize(std::size_t user_dim, std::size_t item_dim) {
    const Shape shape = make_shape(config_, user_dim, item_dim);
    std::vector<Scalar> theta(shape.parameter_count, Scalar(0));
    Rng rng(config_.seed);
    for (std::size_t k = 0; k < shape.layer_count; ++k) {
      const LayerShape& l = shape.layers[k];
      const double sd = std::sqrt(2.0 / static_cast<double>(l.in));
      for (std::size_t i = 0; i < l.in * l.out; ++i) {
        theta[l.weights + i] = static_cast<Scalar>(rng.normal(0.0, sd));
      }
    }
    m_.assign(shape.parameter_count, Scalar(0));
    v_.assign(shape.parameter_count, Scalar(0));
    grad_.assign(shape.parameter_count, Scalar(0));
    work_.assign(shape.work_size, Scalar(0));
    theta_ = std::move(theta);
    layers_ = shape.layers;
    layer_count_ = shape.layer_count;
    user_dim_ = user_dim;
    item_dim_ = item_dim;
    step_ = 0;
    initialized_ = true;
  }

  // Back to the state of a model whose first update has not happened (initialize() undone).
  void uninitialize() noexcept {
    theta_.clear();
    m_.clear();
    v_.clear();
    grad_.clear();
    work_.clear();
    layers_ = {};
    layer_count_ = 0;
    user_dim_ = 0;
    item_dim_ = 0;
    step_ = 0;
    initialized_ = false;
  }

  // True when Σ g² is finite, so every g² is (a NaN or infinite g fails). Rejecting a gradient
  // whose squares are finite but sum past the float range is no loss: it is absurd anyway. An
  // Eigen reduction, vectorised: a few per cent of the Adam step's cost.
  static bool squares_finite(const std::vector<Scalar>& g) noexcept {
    return std::isfinite(ConstVectorMap(g.data(), static_cast<Eigen::Index>(g.size())).squaredNorm());
  }

  // set_parameters without the initialisation check: the size and finiteness checks, then the
  // copy (an uninitialised model has 0 parameters, so only an empty `values` passes).
  void replace_parameters(const char* where, std::span<const Scalar> values) {
    marl_rec::detail::require(values.size() == theta_.size(), [&] {
      return std::string(where) + ": got " + std::to_string(values.size()) +
             " values, the model has " + std::to_string(theta_.size()) + " parameters" +
             (initialized_ ? "" : " (no dimensions yet)");
    });
    for (std::size_t i = 0; i < values.size(); ++i) {
      marl_rec::detail::require(std::isfinite(values[i]), [&] {
        return std::string(where) + ": value " + std::to_string(i) + " is not finite";
      });
    }
    std::copy(values.begin(), values.end(), theta_.begin());
  }

  void require_initialized(const char* where) const {
    marl_rec::detail::require(initialized_, [&] {
      return std::string(where) +
             ": the model has no dimensions yet (construct it with dimensions, or update it)";
    });
  }

  static void check_item(const char* where, const Context& context, std::size_t item) {
    marl_rec::detail::require(item < context.items.rows(), [&] {
      return std::string(where) + ": item " + std::to_string(item) +
             " is not a row of context.items (" + std::to_string(context.items.rows()) + " rows)";
    });
  }

  void check_context(const char* where, const Context& context) const {
    marl_rec::detail::require(context.features.size() == user_dim_, [&] {
      return std::string(where) + ": context.features has " +
             std::to_string(context.features.size()) + " values, the model's user dimension is " +
             std::to_string(user_dim_);
    });
    marl_rec::detail::require(context.items.cols() == item_dim_, [&] {
      return std::string(where) + ": context.items has " + std::to_string(context.items.cols()) +
             " columns, the model's item dimension is " + std::to_string(item_dim_);
    });
  }

  static void check_finite(const char* where, const Context& context, std::size_t item) {
    const std::span<const float> user = context.features;
    for (std::size_t i = 0; i < user.size(); ++i) {
      marl_rec::detail::require(std::isfinite(user[i]), [&] {
        return std::string(where) + ": context.features[" + std::to_string(i) + "] is not finite";
      });
    }
    const std::span<const float> row = context.items.row(item);
    for (std::size_t i = 0; i < row.size(); ++i) {
      marl_rec::detail::require(std::isfinite(row[i]), [&] {
        return std::string(where) + ": context.items(" + std::to_string(item) + ", " +
               std::to_string(i) + ") is not finite";
      });
    }
  }

  static void check_candidates(const char* where, const Context& context, Candidates candidates,
                               std::span<float> scores) {
    marl_rec::detail::require(scores.size() == candidates.size(), [&] {
      return std::string(where) + ": scores has " + std::to_string(scores.size()) +
             " entries, there are " + std::to_string(candidates.size()) + " candidates";
    });
    const std::size_t rows = context.items.rows();
    if (candidates.is_all()) {
      marl_rec::detail::require(candidates.size() <= rows, [&] {
        return std::string(where) + ": Candidates::all(" + std::to_string(candidates.size()) +
               ") but context.items has " + std::to_string(rows) + " rows";
      });
      return;
    }
    for (const std::size_t item : candidates.list()) {
      marl_rec::detail::require(item < rows, [&] {
        return std::string(where) + ": candidate item " + std::to_string(item) +
               " is not a row of context.items (" + std::to_string(rows) + " rows)";
      });
    }
  }

  static ConstMatrixMap weights(const Scalar* theta, const LayerShape& l) noexcept {
    return ConstMatrixMap(theta + l.weights, static_cast<Eigen::Index>(l.out),
                          static_cast<Eigen::Index>(l.in));
  }
  static ConstVectorMap bias(const Scalar* theta, const LayerShape& l) noexcept {
    return ConstVectorMap(theta + l.bias, static_cast<Eigen::Index>(l.out));
  }

  static Scalar sigmoid(Scalar z) noexcept {
    // Both branches exponentiate a non-positive number: no overflow.
    if (z >= 0) return Scalar(1) / (Scalar(1) + std::exp(-z));
    const Scalar e = std::exp(z);
    return e / (Scalar(1) + e);
  }

  static std::size_t round_up(std::size_t n) noexcept {
    return (n + column_multiple - 1) / column_multiple * column_multiple;
  }

  template <bool Probability>
  void score_impl(const char* where, const Context& context, Candidates candidates,
                  std::span<float> scores) const {
    check_candidates(where, context, candidates, scores);
    if (!initialized_) {
      std::fill(scores.begin(), scores.end(), Probability ? 0.5f : 0.0f);
      return;
    }
    check_context(where, context);
    if (candidates.empty()) return;

    // Scratch, each part starting on a 64-byte boundary: the user vector (as Scalar), the first
    // layer's user part, the item block, one activation block per hidden layer.
    const std::size_t hidden_layers = layer_count_ - 1;
    const std::size_t user_part = round_up(user_dim_);
    const std::size_t base_part = round_up(layers_[0].out);
    const std::size_t item_ld = round_up(item_dim_);
    std::array<std::size_t, max_hidden_layers> ld{};
    std::size_t needed = user_part + base_part + item_ld * block_size;
    for (std::size_t k = 0; k < hidden_layers; ++k) {
      ld[k] = round_up(layers_[k].out);
      needed += ld[k] * block_size;
    }
    std::vector<Scalar>& buffer = score_scratch();
    const std::size_t slack = scratch_alignment / sizeof(Scalar);
    if (buffer.size() < needed + slack) buffer.resize(needed + slack);
    void* raw = buffer.data();
    std::size_t space = buffer.size() * sizeof(Scalar);
    Scalar* cursor = static_cast<Scalar*>(
        std::align(scratch_alignment, needed * sizeof(Scalar), raw, space));
    const auto take = [&](std::size_t n) {
      Scalar* p = cursor;
      cursor += n;
      return p;
    };
    Scalar* user_scratch = take(user_part);
    Scalar* base_data = take(base_part);
    Scalar* items_scratch = take(item_ld * block_size);
    std::array<Scalar*, max_hidden_layers> activation{};
    for (std::size_t k = 0; k < hidden_layers; ++k) activation[k] = take(ld[k] * block_size);

    const Scalar* theta = theta_.data();
    const LayerShape& first = layers_[0];
    const auto h1 = static_cast<Eigen::Index>(first.out);
    const auto du = static_cast<Eigen::Index>(user_dim_);
    const auto di = static_cast<Eigen::Index>(item_dim_);

    // The first layer's user part and bias, the same for every candidate.
    VectorMap base(base_data, h1);
    base = bias(theta, first);
    if (du > 0) {
      const Scalar* user = cast_to_scalar(context.features.data(), user_dim_, user_scratch);
      base.noalias() += ConstMatrixMap(theta + first.weights, h1, du) * ConstVectorMap(user, du);
    }
    const ConstMatrixMap w_item(theta + first.weights + first.out * user_dim_, h1, di);
    const LayerShape& output = layers_[layer_count_ - 1];
    const ConstVectorMap w_out(theta + output.weights, static_cast<Eigen::Index>(output.in));
    const Scalar b_out = theta[output.bias];

    for (std::size_t start = 0; start < candidates.size(); start += block_size) {
      const std::size_t n = std::min(block_size, candidates.size() - start);
      const auto nb = static_cast<Eigen::Index>(n);
      // The block's item rows as columns.
      const Scalar* items = items_scratch;
      Eigen::Index items_stride = static_cast<Eigen::Index>(item_ld);
      bool direct = false;
      if constexpr (std::is_same_v<Scalar, float>) {
        // Every item in order, already float: the rows are the columns, read in place.
        if (candidates.is_all() && di > 0) {
          items = context.items.row(start).data();
          items_stride = static_cast<Eigen::Index>(context.items.stride());
          direct = true;
        }
      }
      if (!direct) {
        for (std::size_t j = 0; j < n; ++j) {
          const float* row = context.items.row(candidates[start + j]).data();
          std::copy(row, row + item_dim_, items_scratch + j * item_ld);
        }
      }
      // Each candidate's column goes through the same matrix-vector products (Eigen's GEMV, no
      // allocation with these contiguous maps), whatever the block: unlike a matrix-matrix
      // product, whose kernels depend on the block's width, this gives the bit-identity of the
      // class comment, at the same speed for these sizes.
      const auto ld0 = static_cast<Eigen::Index>(ld[0]);
      for (Eigen::Index j = 0; j < nb; ++j) {
        VectorMap a(activation[0] + j * ld0, h1);
        a = base;
        if (di > 0) a.noalias() += w_item * ConstVectorMap(items + j * items_stride, di);
        a = a.cwiseMax(Scalar(0));
      }
      for (std::size_t k = 1; k < hidden_layers; ++k) {
        const LayerShape& l = layers_[k];
        const auto in = static_cast<Eigen::Index>(l.in), out = static_cast<Eigen::Index>(l.out);
        const auto in_ld = static_cast<Eigen::Index>(ld[k - 1]);
        const auto out_ld = static_cast<Eigen::Index>(ld[k]);
        for (Eigen::Index j = 0; j < nb; ++j) {
          VectorMap a(activation[k] + j * out_ld, out);
          a = bias(theta, l);
          a.noalias() += weights(theta, l) * ConstVectorMap(activation[k - 1] + j * in_ld, in);
          a = a.cwiseMax(Scalar(0));
        }
      }
      const Scalar* last = activation[hidden_layers - 1];
      const std::size_t last_ld = ld[hidden_layers - 1];
      for (std::size_t j = 0; j < n; ++j) {
        const Scalar z =
            w_out.dot(ConstVectorMap(last + j * last_ld, static_cast<Eigen::Index>(output.in))) +
            b_out;
        scores[start + j] = static_cast<float>(Probability ? sigmoid(z) : z);
      }
    }
  }

  // score()'s scratch: one per thread (so concurrent const calls do not share it) and Scalar
  // type, grown to the largest shape scored on the thread, never shrunk.
  static std::vector<Scalar>& score_scratch() {
    thread_local std::vector<Scalar> buffer;
    return buffer;
  }

  // `values` as Scalar: the values themselves for float, a copy in `scratch` for double.
  static const Scalar* cast_to_scalar(const float* values, std::size_t n, Scalar* scratch) noexcept {
    if constexpr (std::is_same_v<Scalar, float>) {
      (void)n;
      (void)scratch;
      return values;
    } else {
      std::copy(values, values + n, scratch);
      return scratch;
    }
  }

  // The binary cross-entropy of one example (without the L2 term) and its gradient (with it)
  // into `gradient`. `work` holds work_size Scalars. Allocation-free.
  Scalar forward_backward(const float* user, const float* item, Scalar target, Scalar* gradient,
                          Scalar* work) const {
    const Scalar* theta = theta_.data();
    const std::size_t hidden_layers = layer_count_ - 1;
    // activation[k] is layer k's input: activation[0] = x, activation[k] = hidden layer k's output.
    std::array<Scalar*, max_layers> activation{};
    activation[0] = work;
    std::copy(user, user + user_dim_, work);
    std::copy(item, item + item_dim_, work + user_dim_);
    std::size_t offset = user_dim_ + item_dim_;
    std::size_t widest = 1;
    for (std::size_t k = 0; k < hidden_layers; ++k) {
      activation[k + 1] = work + offset;
      offset += layers_[k].out;
      widest = std::max(widest, layers_[k].out);
    }
    Scalar* delta = work + offset;
    Scalar* delta_next = delta + widest;

    for (std::size_t k = 0; k < hidden_layers; ++k) {
      const LayerShape& l = layers_[k];
      VectorMap out(activation[k + 1], static_cast<Eigen::Index>(l.out));
      out = bias(theta, l);
      out.noalias() += weights(theta, l) * ConstVectorMap(activation[k], static_cast<Eigen::Index>(l.in));
      out = out.cwiseMax(Scalar(0));
    }
    const LayerShape& output = layers_[hidden_layers];
    const auto last_width = static_cast<Eigen::Index>(output.in);
    const ConstVectorMap last(activation[hidden_layers], last_width);
    const ConstVectorMap w_out(theta + output.weights, last_width);
    const Scalar z = w_out.dot(last) + theta[output.bias];
    // Softplus form: log(1 + e^z) − y z, stable for any z.
    const Scalar loss = std::max(z, Scalar(0)) - target * z + std::log1p(std::exp(-std::abs(z)));

    // Backward: d loss / d z = σ(z) − y.
    const Scalar dz = sigmoid(z) - target;
    VectorMap(gradient + output.weights, last_width) = dz * last;
    gradient[output.bias] = dz;
    VectorMap d(delta, last_width);
    d.array() = (last.array() > Scalar(0)).select(dz * w_out.array(), Scalar(0));
    for (std::size_t k = hidden_layers; k-- > 0;) {
      const LayerShape& l = layers_[k];
      const auto in = static_cast<Eigen::Index>(l.in), out = static_cast<Eigen::Index>(l.out);
      const ConstVectorMap input(activation[k], in);
      const ConstVectorMap dk(delta, out);
      MatrixMap(gradient + l.weights, out, in).noalias() = dk * input.transpose();
      VectorMap(gradient + l.bias, out) = dk;
      if (k > 0) {
        VectorMap dn(delta_next, in);
        dn.noalias() = weights(theta, l).transpose() * dk;
        dn.array() = (input.array() > Scalar(0)).select(dn.array(), Scalar(0));
        std::swap(delta, delta_next);
      }
    }
    if (config_.l2 > 0.0f) {
      const auto l2 = static_cast<Scalar>(config_.l2);
      for (std::size_t k = 0; k < layer_count_; ++k) {
        const LayerShape& l = layers_[k];
        MatrixMap(gradient + l.weights, static_cast<Eigen::Index>(l.out),
                  static_cast<Eigen::Index>(l.in)) += l2 * weights(theta, l);
      }
    }
    return loss;
  }

  // One Adam step with bias correction on grad_.
  void adam_step() noexcept {
    ++step_;
    const double t = static_cast<double>(step_);
    const double correction1 = 1.0 - std::pow(static_cast<double>(config_.beta1), t);
    const double correction2 = 1.0 - std::pow(static_cast<double>(config_.beta2), t);
    const auto beta1 = static_cast<Scalar>(config_.beta1);
    const auto beta2 = static_cast<Scalar>(config_.beta2);
    const auto step = static_cast<Scalar>(static_cast<double>(config_.learning_rate) / correction1);
    const auto inv_correction2 = static_cast<Scalar>(1.0 / correction2);
    const auto epsilon = static_cast<Scalar>(config_.epsilon);
    // One pass over chunks of 16 parameters: the moments by a branch-free loop of fixed length
    // (vectorised by g++ -O2 and clang++ -O2), then the parameters by a fixed-size Eigen
    // expression (vectorised, square root included: in float, Eigen's default EIGEN_FAST_MATH
    // square root, within 2 ulp), while the chunk is in L1. The last, partial chunk goes through
    // the same code via zero-padded copies, so every parameter sees the same operations.
    constexpr std::size_t chunk = 16;
    using Chunk = Eigen::Array<Scalar, static_cast<int>(chunk), 1>;
    const auto update_chunk = [&](const Scalar* g, Scalar* m, Scalar* v, Scalar* theta) {
      moments<chunk>(g, m, v, beta1, beta2);
      Eigen::Map<Chunk>(theta) -= step * Eigen::Map<const Chunk>(m) /
                                  ((Eigen::Map<const Chunk>(v) * inv_correction2).sqrt() + epsilon);
    };
    const std::size_t n = theta_.size();
    std::size_t i = 0;
    for (; i + chunk <= n; i += chunk) {
      update_chunk(grad_.data() + i, m_.data() + i, v_.data() + i, theta_.data() + i);
    }
    if (i < n) {
      const std::size_t rest = n - i;
      std::array<Scalar, chunk> g{}, m{}, v{}, theta{};
      std::copy_n(grad_.data() + i, rest, g.data());
      std::copy_n(m_.data() + i, rest, m.data());
      std::copy_n(v_.data() + i, rest, v.data());
      std::copy_n(theta_.data() + i, rest, theta.data());
      update_chunk(g.data(), m.data(), v.data(), theta.data());
      std::copy_n(m.data(), rest, m_.data() + i);
      std::copy_n(v.data(), rest, v_.data() + i);
      std::copy_n(theta.data(), rest, theta_.data() + i);
    }
  }

  // m ← β₁ m + (1 − β₁) g and v ← β₂ v + (1 − β₂) g² over N values. Results below 2^24 times
  // the smallest normal number (≈ 2e-31 in float) are flushed to 0: a parameter whose gradient
  // stays 0 (a dead ReLU, an absent one-hot feature) has moments decaying geometrically, and
  // arithmetic on subnormal numbers (the moments themselves, or lr · m in the step) is up to 100
  // times slower on common CPUs (measured: an update of a 131k-parameter net took twice as long
  // without this). The step dropped is below lr · 2e-30 / epsilon (≈ 2e-24 with the defaults).
  // Branch-free, as Eigen 3.4 does not vectorise select(); restrict: the vectoriser must know
  // the three buffers are distinct.
  template <std::size_t N>
  static void moments(const Scalar* __restrict g, Scalar* __restrict m, Scalar* __restrict v,
                      Scalar beta1, Scalar beta2) noexcept {
    constexpr Scalar tiny = std::numeric_limits<Scalar>::min() * (std::size_t{1} << 24);
    for (std::size_t k = 0; k < N; ++k) {
      const Scalar gk = g[k];
      const Scalar mk = beta1 * m[k] + (Scalar(1) - beta1) * gk;
      const Scalar vk = beta2 * v[k] + (Scalar(1) - beta2) * (gk * gk);
      m[k] = std::abs(mk) < tiny ? Scalar(0) : mk;
      v[k] = vk < tiny ? Scalar(0) : vk;
    }
  }

  Config config_;
  bool initialized_ = false;
  std::size_t user_dim_ = 0;
  std::size_t item_dim_ = 0;
  std::array<LayerShape, max_layers> layers_{};
  std::size_t layer_count_ = 0;
  std::vector<Scalar> theta_{};
  std::vector<Scalar> m_{};
  std::vector<Scalar> v_{};
  std::uint64_t step_ = 0;
  // update()'s scratch (sized at initialisation, so update() does not allocate).
  std::vector<Scalar> grad_{};
  std::vector<Scalar> work_{};
};

/// The MLP scorer with float parameters.
using MlpScorer = BasicMlpScorer<float>;

static_assert(Model<MlpScorer>);
static_assert(Model<BasicMlpScorer<double>>);
static_assert(FederatedModel<MlpScorer>);
static_assert(!FederatedModel<BasicMlpScorer<double>>);

}  // namespace marl_rec
