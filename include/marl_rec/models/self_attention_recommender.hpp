// marl_rec — SelfAttentionRecommender: a SASRec-style next-item model (Kang & McAuley 2018):
// causal self-attention over a user's most recent items, trained with a hand-written backward
// pass and Adam on next-item prediction.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "marl_rec/concepts/embedder.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/embed/item2vec.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/detail/attention_layers.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// The settings of SelfAttentionRecommender (shared by every BasicSelfAttentionRecommender<S>).
/// The defaults (SASRec's, except for the step size, the batch size, the negatives and the
/// step floor, which were chosen on the validation split of the sequential users,
/// docs/models.md) fit 85,000 interactions (22 passes) in about 20 s on one core.
struct SelfAttentionRecommenderConfig {
  /// Width of the item and position embeddings and of every layer, in [1, 4096].
  std::size_t dim = 32;
  /// Only a user's last max_len items are attended to (positions), in [1, 4096].
  std::size_t max_len = 50;
  /// Self-attention blocks, in [1, 8] (SASRec uses 2).
  std::size_t blocks = 2;
  /// Dropout rate on the embeddings, the attention output and the feed-forward output during
  /// training, in [0, 1).
  double dropout = 0.2;
  /// Adam's step size (finite, > 0). Adam uses β₁ = 0.9, β₂ = 0.98 (as SASRec) and ε = 1e-8
  /// (SASRec's TensorFlow default).
  double learning_rate = 0.003;
  /// L2 penalty λ on the weights (embeddings and weight matrices, not biases or layer-norm
  /// parameters): λ · w is added to each gradient (finite, ≥ 0).
  double l2 = 0.0;
  /// Passes over the training windows, in [1, 100,000] (the minimum: see min_steps).
  std::size_t epochs = 20;
  /// Training runs at least this many Adam steps, in [0, 10,000,000]: when epochs passes give
  /// fewer (small data: few windows, so few batches per epoch), more passes are made, up to the
  /// first one that reaches min_steps. Why: with a fixed number of passes, the amount of
  /// training grows with the data, and a small data set stopped far from convergence (600
  /// sequential users, 20 passes = 380 steps: validation NDCG@10 .016; 2,000 steps: .461;
  /// 4,000: .463). 0 turns the floor off (exactly `epochs` passes).
  std::size_t min_steps = 2000;
  /// Sampled negatives per position, in [1, 10,000], uniform over the items other than the
  /// positive (SASRec samples outside the user's whole history instead; here an item the user
  /// consumed earlier can be a negative). SASRec samples 1; more rank better over the whole
  /// catalog (validation NDCG@10 of the sequential users: 0.29 with 1, 0.45 with 10, 0.51 with
  /// 50).
  std::size_t negatives = 50;
  /// Training windows per Adam step, in [1, 1,000,000].
  std::size_t batch_size = 32;
  /// Seeds the initial parameters, the window order, the negatives and the dropout masks.
  std::uint64_t seed = 42;
};

/// A SASRec-style next-item model (Kang & McAuley, "Self-Attentive Sequential Recommendation",
/// ICDM 2018), single-head, with standard pre-LN blocks. It differs from the paper's model in
/// three ways: each block normalises its whole input (the paper's code normalises only the
/// queries, with K = V = the unnormalised input and the residual added to the normalised
/// queries); negatives are drawn from all items but the positive (the paper: outside the
/// user's history); and training has a floor in Adam steps (Config::min_steps).
///
/// A history x_1..x_m (m ≤ max_len, most recent last) sits at positions max_len − m ..
/// max_len − 1 — left-padded, so the most recent item is always at the last position. The input
/// of position p is E[x] + P[p] (item and learned position embeddings, d each). Each block is
/// pre-norm: h = LN₁(x); x ← x + Dropout(Attn(h W_q, h W_k, h W_v)) with causal scaled
/// dot-product attention (position t attends to positions ≤ t); h = LN₂(x);
/// x ← x + Dropout(ReLU(h W₁ + b₁) W₂ + b₂). A final layer norm gives the output z_t, and the
/// score of item i after position t is z_t · E[i] (the item embeddings are shared between input
/// and output, as in SASRec). Padding positions are never computed: a padded (masked) position
/// contributes nothing to a real one, so leaving it out is the same function at lower cost.
///
/// Training (fit): every row is one consumed item; ratings are ignored (implicit feedback: a
/// row with rating 1 and one with rating 5, or NaN, count alike; filter the rows first to train
/// on liked items only). Each user's training items in time order (user_item_sequences: by
/// (timestamp, source_row), or file order without timestamps — the order split_leave_last_out
/// uses) are cut, from the end, into windows of at most max_len inputs whose targets are the
/// inputs shifted by one. The loss of a position is the binary cross-entropy of the positive
/// (the next item) and `negatives` items drawn uniformly from all the other items (items
/// without training rows too, so that they do not keep a random score above the rest; SASRec
/// draws them outside the user's history):
/// −log σ(z·E[pos]) − Σ log(1 − σ(z·E[neg])), averaged over the positions of a batch of
/// `batch_size` windows (order shuffled each epoch); one Adam step per batch, with the gradient
/// of every parameter computed by a hand-written backward pass (checked against finite
/// differences in the tests). `epochs` passes, or more until min_steps Adam steps were made.
/// Single-threaded and deterministic for a seed. Cost: besides the windows' forward and
/// backward passes, every step zeroes the item gradient and updates Adam's moments of the
/// whole n_items × dim item table (dense, not only the rows the batch touched): negligible for
/// thousands of items, dominant for millions (then raise batch_size).
///
/// Scoring:
/// - score_user(u): the output at the last position of u's last max_len training items
///   (computed once by fit and load) · every item's embedding.
/// - Cold users (an index fit never saw, or a user without training rows) get the item
///   popularity (training interactions per item), as MostPopular: there is no sequence to read.
/// - Items without training interactions are trained only as negatives: they start from random
///   vectors, or from the vectors given by set_initial_item_vectors (e.g. from an Embedder over
///   the items' text, so that new items start from their text's similarity to the others).
/// - score_sequence / encode serve any history (item indices): the model as a sequence encoder
///   for other models. (embed/sequence_encoder.hpp defines no concept to satisfy; its encode
///   takes the item matrix as an argument, this model owns its embeddings.)
///
/// Model (for an Agent): score(context) reads `context.history` (the user's recent items, oldest
/// first) when it is not empty, else the known user's training history, else popularity.
/// update(context, item, reward > 0) appends `item` to a known user's history (and counts it in
/// the popularity); it does not train the network — refit for that. Satisfies BatchRecommender
/// and Model.
///
/// score / score_user / score_sequence / encode are const and thread-safe; they use a
/// thread_local workspace, kept until the thread ends and resized to each window scored (Eigen
/// reallocates when a shape changes, so histories of changing lengths allocate): at most
/// max_len · (dim · (12 · blocks + 3) + blocks · (max_len + 2)) scalars per thread that scored
/// (194 KB of floats at the defaults).
///
/// Persistence: save() writes the Config, the parameters, the users' histories (their last
/// max_len items) and the popularity (type "self_attention_recommender", or
/// "self_attention_recommender_f64" for double; version 1); load() replaces the model and scores
/// every user exactly as the saved one did. Initial item vectors and the training losses are
/// not saved (they belong to fitting); load() clears both.
///
/// `Scalar` is the arithmetic of the network (float; double for the gradient checks).
template <class Scalar = float>
class BasicSelfAttentionRecommender {
 public:
  using Config = SelfAttentionRecommenderConfig;
  /// Row-major matrix; per-feature vectors are 1 × d.
  using Matrix = detail::attention::Mat<Scalar>;

  /// The parameters of one block.
  struct Block {
    Matrix ln1_gamma{}, ln1_beta{};
    Matrix w_q{}, w_k{}, w_v{};
    Matrix ln2_gamma{}, ln2_beta{};
    Matrix w1{}, b1{}, w2{}, b2{};
  };

  /// Every learned parameter (or its gradient, same shapes).
  struct Parameters {
    /// n_items × d, shared by input and output.
    Matrix item{};
    /// max_len × d.
    Matrix position{};
    std::vector<Block> blocks{};
    Matrix final_gamma{}, final_beta{};

    /// Every tensor, in the fixed order save() writes them.
    std::vector<Matrix*> tensors() {
      std::vector<Matrix*> out{&item, &position};
      for (Block& b : blocks) {
        for (Matrix* m : {&b.ln1_gamma, &b.ln1_beta, &b.w_q, &b.w_k, &b.w_v, &b.ln2_gamma,
                          &b.ln2_beta, &b.w1, &b.b1, &b.w2, &b.b2}) {
          out.push_back(m);
        }
      }
      out.push_back(&final_gamma);
      out.push_back(&final_beta);
      return out;
    }
    std::vector<const Matrix*> tensors() const {
      std::vector<Matrix*> all = const_cast<Parameters*>(this)->tensors();
      return std::vector<const Matrix*>(all.begin(), all.end());
    }
    /// Whether tensor `index` (of tensors()) is a weight the L2 penalty applies to.
    static bool is_weight(std::size_t index) noexcept {
      if (index < 2) return true;
      const std::size_t in_block = (index - 2) % 11;
      return in_block == 2 || in_block == 3 || in_block == 4 || in_block == 7 || in_block == 9;
    }
  };

  /// An unfitted model with the default configuration.
  BasicSelfAttentionRecommender() = default;
  /// An unfitted model with `config`. Throws Error when a setting is out of range (see Config).
  explicit BasicSelfAttentionRecommender(Config config) : config_(config) {
    check_config(config_, "SelfAttentionRecommender");
  }

  /// "sasrec".
  std::string_view name() const noexcept { return "sasrec"; }
  /// The configuration.
  const Config& config() const noexcept { return config_; }
  /// Items of the fitted model (0 before fit or initialize).
  std::size_t items() const noexcept { return static_cast<std::size_t>(params_.item.rows()); }
  /// Users of the fitted model (the training id map's size).
  std::size_t users() const noexcept { return histories_.size(); }
  /// The parameters.
  const Parameters& parameters() const noexcept { return params_; }
  /// The mean training loss (per position) of each epoch of the last fit (empty after load).
  const std::vector<double>& training_losses() const noexcept { return losses_; }
  /// User `user`'s history as the model reads it (the last max_len training items, plus what
  /// update() appended); empty for an unknown user.
  std::span<const std::size_t> history(std::size_t user) const noexcept {
    return user < histories_.size() ? std::span<const std::size_t>(histories_[user])
                                    : std::span<const std::size_t>{};
  }

  /// Sets the initial item embeddings fit() starts from (row i = item i of the training item
  /// map; the rows are checked against the item count by fit). Items without training rows keep
  /// them. Throws Error when vectors.cols() != config.dim or a value is not finite.
  void set_initial_item_vectors(MatrixView vectors) {
    detail::require(vectors.cols() == config_.dim, [&] {
      return "SelfAttentionRecommender::set_initial_item_vectors: the vectors have " +
             std::to_string(vectors.cols()) + " columns, the model's dim is " +
             std::to_string(config_.dim);
    });
    Matrix m(static_cast<Eigen::Index>(vectors.rows()), static_cast<Eigen::Index>(vectors.cols()));
    for (std::size_t r = 0; r < vectors.rows(); ++r) {
      for (std::size_t c = 0; c < vectors.cols(); ++c) {
        const float x = vectors.row(r)[c];
        detail::require(std::isfinite(x), [&] {
          return "SelfAttentionRecommender::set_initial_item_vectors: row " + std::to_string(r) +
                 " holds a non-finite value";
        });
        m(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = static_cast<Scalar>(x);
      }
    }
    initial_items_ = std::move(m);
  }

  /// Sets the initial item embeddings from `embedder` over `item_texts` (item_texts[i] describes
  /// item i). Throws Error when embedder.dim() != config.dim, or what the embedder throws.
  template <Embedder E>
  void set_initial_item_vectors(const E& embedder, std::span<const std::string_view> item_texts) {
    const std::size_t d = embedder.dim();
    detail::require(d == config_.dim, [&] {
      return "SelfAttentionRecommender::set_initial_item_vectors: the embedder's dim " +
             std::to_string(d) + " is not the model's dim " + std::to_string(config_.dim);
    });
    std::vector<float> storage(item_texts.size() * d);
    embed_batch(embedder, item_texts, MutableMatrixView(std::span<float>(storage), item_texts.size(), d));
    set_initial_item_vectors(MatrixView(std::span<const float>(storage), item_texts.size(), d));
  }

  /// (Re)creates the parameters for `n_items` items from config.seed: what fit() starts from.
  /// Weights and embeddings N(0, 1/d), biases 0, layer-norm gains 1 (the initial item vectors
  /// replace the item embeddings when they were set and have n_items rows). Clears the users.
  /// Throws Error when n_items is 0.
  void initialize(std::size_t n_items) {
    detail::require(n_items >= 1, "SelfAttentionRecommender::initialize: needs at least 1 item");
    Rng rng(config_.seed);
    params_ = initial_parameters(n_items, rng);
    histories_.clear();
    user_encodings_.resize(0, static_cast<Eigen::Index>(config_.dim));
    popularity_.assign(n_items, 0.0f);
  }

  /// Replaces the parameters (the users' encodings are recomputed). Throws Error unless the
  /// model has parameters (fit or initialize) of the same shapes as `p`, or when a value of `p`
  /// is not finite.
  void set_parameters(Parameters p) {
    detail::require(items() >= 1 && same_shapes(p, params_) && all_finite(p),
                    "SelfAttentionRecommender::set_parameters: the shapes are not those of "
                    "parameters(), or a value is not finite");
    params_ = std::move(p);
    recompute_encodings();
  }

  /// Trains from scratch on `train` (see the class comment). Throws Error, leaving the model
  /// unchanged, when a row is outside the id maps, a timestamp is not finite, the item map has
  /// fewer than 2 items, or no user has two items.
  void fit(const Interactions& train) {
    const char* where = "SelfAttentionRecommender::fit";
    if (train.has_timestamp) {
      for (std::size_t r = 0; r < train.rows.size(); ++r) {
        detail::require(std::isfinite(train.rows[r].timestamp), [&] {
          return std::string(where) + ": row " + std::to_string(r) + " has a non-finite timestamp";
        });
      }
    }
    const std::vector<std::vector<std::size_t>> sequences = user_item_sequences(train);
    const std::size_t n_items = train.items.size();
    detail::require(n_items >= 2, std::string(where) + ": needs at least 2 items");
    detail::require(initial_items_.size() == 0 ||
                        (static_cast<std::size_t>(initial_items_.rows()) == n_items &&
                         static_cast<std::size_t>(initial_items_.cols()) == config_.dim),
                    [&] {
                      return std::string(where) + ": the initial item vectors are " +
                             std::to_string(initial_items_.rows()) + " rows x " +
                             std::to_string(initial_items_.cols()) + ", the data has " +
                             std::to_string(n_items) + " items and the model's dim is " +
                             std::to_string(config_.dim);
                    });
    // Windows (user, begin, end): inputs sequence[begin, end), targets sequence[begin+1, end+1).
    std::vector<Window> windows;
    for (std::size_t u = 0; u < sequences.size(); ++u) {
      if (sequences[u].size() < 2) continue;
      for (std::size_t end = sequences[u].size() - 1; end >= 1;) {
        const std::size_t begin = end > config_.max_len ? end - config_.max_len : 0;
        windows.push_back({u, begin, end});
        end = begin;
      }
    }
    detail::require(!windows.empty(), std::string(where) + ": no user has two items");
    std::vector<float> popularity(n_items, 0.0f);
    for (const Interaction& row : train.rows) popularity[row.item] += 1.0f;

    BasicSelfAttentionRecommender next(config_);
    Rng rng(config_.seed);
    next.params_ = initial_parameters(n_items, rng);
    Parameters grad = shaped(n_items);
    Parameters mean = shaped(n_items);
    Parameters var = shaped(n_items);
    Workspace ws;
    std::vector<std::size_t> negatives;
    std::vector<std::size_t> order(windows.size());
    std::uint64_t step = 0;
    // Passes: `epochs`, or more until min_steps Adam steps (every pass makes the same number).
    const std::size_t batches = (windows.size() + config_.batch_size - 1) / config_.batch_size;
    const std::size_t passes = std::max(config_.epochs, (config_.min_steps + batches - 1) / batches);
    for (std::size_t epoch = 0; epoch < passes; ++epoch) {
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      shuffle(order.begin(), order.end(), rng);
      double epoch_loss = 0.0;
      std::size_t epoch_positions = 0;
      for (std::size_t first = 0; first < order.size(); first += config_.batch_size) {
        const std::size_t last = std::min(order.size(), first + config_.batch_size);
        std::size_t positions = 0;
        for (std::size_t b = first; b < last; ++b) positions += windows[order[b]].end - windows[order[b]].begin;
        const Scalar weight = Scalar(1) / static_cast<Scalar>(positions);
        set_zero(grad);
        for (std::size_t b = first; b < last; ++b) {
          const Window& w = windows[order[b]];
          const std::vector<std::size_t>& s = sequences[w.user];
          const std::span<const std::size_t> inputs(s.data() + w.begin, w.end - w.begin);
          const std::span<const std::size_t> targets(s.data() + w.begin + 1, w.end - w.begin);
          negatives.resize(inputs.size() * config_.negatives);
          for (std::size_t t = 0; t < inputs.size(); ++t) {
            draw_negatives(rng, n_items, targets[t],
                           std::span<std::size_t>(negatives).subspan(t * config_.negatives, config_.negatives));
          }
          epoch_loss += static_cast<double>(
              next.forward_backward(inputs, targets, negatives, weight, &rng, ws, &grad) / weight);
        }
        epoch_positions += positions;
        ++step;
        next.adam_step(grad, mean, var, step);
      }
      next.losses_.push_back(epoch_loss / static_cast<double>(epoch_positions));
      detail::require(std::isfinite(next.losses_.back()), [&] {
        return std::string(where) + ": the loss became non-finite in epoch " +
               std::to_string(epoch + 1) + " (lower the learning rate)";
      });
    }
    next.histories_.resize(sequences.size());
    for (std::size_t u = 0; u < sequences.size(); ++u) {
      const std::vector<std::size_t>& s = sequences[u];
      const std::size_t keep = std::min(s.size(), config_.max_len);
      next.histories_[u].assign(s.end() - static_cast<std::ptrdiff_t>(keep), s.end());
    }
    next.popularity_ = std::move(popularity);
    next.recompute_encodings();
    // Commit: moves only.
    params_ = std::move(next.params_);
    histories_ = std::move(next.histories_);
    user_encodings_ = std::move(next.user_encodings_);
    popularity_ = std::move(next.popularity_);
    losses_ = std::move(next.losses_);
  }

  /// Writes user `user`'s score of every item (scores.size() must be items()): the model's
  /// next-item scores after the user's history, or the popularity for a cold user. Throws Error
  /// on a size mismatch.
  void score_user(std::size_t user, std::span<float> scores) const {
    check_scores(scores.size(), "SelfAttentionRecommender::score_user");
    if (user >= histories_.size() || histories_[user].empty()) {
      std::copy(popularity_.begin(), popularity_.end(), scores.begin());
      return;
    }
    score_all(user_encodings_.row(static_cast<Eigen::Index>(user)), scores);
  }

  /// Writes the encoding of `history` (item indices, most recent last; only the last max_len
  /// are read) to `out` (dim floats): the network's output at the last position, whose dot
  /// product with item i's embedding is the score of i as the next item. Throws Error when the
  /// history is empty, an item is not below items(), or out.size() != dim.
  void encode(std::span<const std::size_t> history, std::span<float> out) const {
    const char* where = "SelfAttentionRecommender::encode";
    detail::require(!history.empty(), std::string(where) + ": the history is empty");
    check_items(history, where, "history item");
    detail::require(out.size() == config_.dim, [&] {
      return std::string(where) + ": out has " + std::to_string(out.size()) +
             " floats, the model's dim is " + std::to_string(config_.dim);
    });
    const Matrix& z = inference_outputs(history);
    for (std::size_t c = 0; c < out.size(); ++c) {
      out[c] = static_cast<float>(z(z.rows() - 1, static_cast<Eigen::Index>(c)));
    }
  }

  /// The outputs z_t of every position of `history`'s last max_len items (one row per position,
  /// oldest first). Row t depends on items 0..t of the window and on the window's length m:
  /// the window is left-padded, so item t sits at position max_len − m + t, and its position
  /// embedding changes when items are inserted or removed anywhere. So two windows of the same
  /// length that agree on items 0..t agree on rows 0..t (causal attention); a prefix of a window
  /// does not give the window's first rows. Throws Error as encode().
  Matrix encode_positions(std::span<const std::size_t> history) const {
    const char* where = "SelfAttentionRecommender::encode_positions";
    detail::require(!history.empty(), std::string(where) + ": the history is empty");
    check_items(history, where, "history item");
    return inference_outputs(history);
  }

  /// Writes the score of every item as the next one after `history` (scores.size() must be
  /// items()); an empty history gets the popularity. Throws Error as encode() does for items, or
  /// on a size mismatch.
  void score_sequence(std::span<const std::size_t> history, std::span<float> scores) const {
    const char* where = "SelfAttentionRecommender::score_sequence";
    check_scores(scores.size(), where);
    check_items(history, where, "history item");
    if (history.empty()) {
      std::copy(popularity_.begin(), popularity_.end(), scores.begin());
      return;
    }
    const Matrix& z = inference_outputs(history);
    score_all(z.row(z.rows() - 1), scores);
  }

  /// The Model interface: the score of each candidate after `context.history` when it is not
  /// empty, else after the known user's history, else the popularity. Throws Error when
  /// scores.size() != candidates.size(), or a candidate or history item is not below items().
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    const char* where = "SelfAttentionRecommender::score";
    detail::require(scores.size() == candidates.size(), [&] {
      return std::string(where) + ": scores has " + std::to_string(scores.size()) + " entries for " +
             std::to_string(candidates.size()) + " candidates";
    });
    detail::require(candidates.index_bound() <= items(), [&] {
      return std::string(where) + ": a candidate item is outside the model's " +
             std::to_string(items()) + " items";
    });
    check_items(context.history, where, "history item");
    if (candidates.empty()) return;
    const std::span<const std::size_t> history =
        !context.history.empty() ? context.history : this->history(context.user);
    if (history.empty()) {
      for (std::size_t k = 0; k < candidates.size(); ++k) scores[k] = popularity_[candidates[k]];
      return;
    }
    const bool known = context.history.empty();
    const Matrix& outputs = known ? user_encodings_ : inference_outputs(history);
    const auto z = outputs.row(known ? static_cast<Eigen::Index>(context.user) : outputs.rows() - 1);
    if (candidates.is_all() && candidates.size() == items()) {
      score_all(z, scores);
      return;
    }
    for (std::size_t k = 0; k < candidates.size(); ++k) scores[k] = score_one(z, candidates[k]);
  }

  /// The Model interface: a reward > 0 appends `item` to the known user's history (keeping the
  /// last max_len) and counts it in the popularity; the network is not trained (refit for that).
  /// Rewards ≤ 0 and contexts without a known user (no_user, or a user fit never saw) change
  /// nothing, not even the popularity. Throws Error, model unchanged, on a
  /// non-finite reward or an item not below items().
  void update(const Context& context, std::size_t item, double reward) {
    const char* where = "SelfAttentionRecommender::update";
    detail::require(std::isfinite(reward), [&] {
      return std::string(where) + ": the reward " + std::to_string(reward) + " is not finite";
    });
    detail::require(item < items(), [&] {
      return std::string(where) + ": item " + std::to_string(item) + " is outside the model's " +
             std::to_string(items()) + " items";
    });
    if (reward <= 0.0 || context.user >= histories_.size()) return;
    popularity_[item] += 1.0f;
    std::vector<std::size_t>& h = histories_[context.user];
    h.push_back(item);
    if (h.size() > config_.max_len) h.erase(h.begin());
    const Matrix& z = inference_outputs(h);
    user_encodings_.row(static_cast<Eigen::Index>(context.user)) = z.row(z.rows() - 1);
  }

  /// The stream type: "self_attention_recommender" (float) or "..._f64" (double).
  static constexpr const char* stream_type() noexcept {
    return std::is_same_v<Scalar, float> ? "self_attention_recommender"
                                         : "self_attention_recommender_f64";
  }

  /// Writes the model (see the class comment).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, stream_type(), 1);
    w.u64("dim", config_.dim);
    w.u64("max_len", config_.max_len);
    w.u64("blocks", config_.blocks);
    w.f64("dropout", config_.dropout);
    w.f64("learning_rate", config_.learning_rate);
    w.f64("l2", config_.l2);
    w.u64("epochs", config_.epochs);
    w.u64("min_steps", config_.min_steps);
    w.u64("negatives", config_.negatives);
    w.u64("batch_size", config_.batch_size);
    w.u64("seed", config_.seed);
    w.u64("items", items());
    for (const Matrix* m : params_.tensors()) {
      const std::span<const Scalar> values(m->data(), static_cast<std::size_t>(m->size()));
      if constexpr (std::is_same_v<Scalar, float>) {
        w.floats("tensor", values);
      } else {
        w.doubles("tensor", values);
      }
    }
    std::vector<std::uint64_t> lengths, flat;
    for (const auto& h : histories_) {
      lengths.push_back(h.size());
      flat.insert(flat.end(), h.begin(), h.end());
    }
    w.u64s("history_lengths", lengths);
    w.u64s("history_items", flat);
    w.floats("popularity", popularity_);
    w.finish();
  }

  /// Replaces the model with what save() wrote. Throws Error (model unchanged) on a truncated,
  /// corrupted or foreign stream, a Config the constructor refuses, a non-finite parameter, a
  /// history longer than max_len or naming an item not below items(), or a popularity count that
  /// is not a whole number ≥ 0.
  void load(std::istream& in) {
    const std::string where = std::string("loading a '") + stream_type() + "' model";
    const auto check = [&](bool ok, auto&& message) {
      detail::require(ok, [&] { return where + ": " + message(); });
    };
    io::ModelReader r(in, stream_type(), 1);
    Config c;
    c.dim = static_cast<std::size_t>(r.u64("dim", 1, max_dim));
    c.max_len = static_cast<std::size_t>(r.u64("max_len", 1, max_dim));
    c.blocks = static_cast<std::size_t>(r.u64("blocks", 1, max_blocks));
    c.dropout = r.f64("dropout");
    c.learning_rate = r.f64("learning_rate");
    c.l2 = r.f64("l2");
    c.epochs = static_cast<std::size_t>(r.u64("epochs", 1, max_epochs));
    c.min_steps = static_cast<std::size_t>(r.u64("min_steps", 0, max_min_steps));
    c.negatives = static_cast<std::size_t>(r.u64("negatives", 1, max_negatives));
    c.batch_size = static_cast<std::size_t>(r.u64("batch_size", 1, max_batch_size));
    c.seed = r.u64("seed");
    BasicSelfAttentionRecommender next = [&] {
      try {
        return BasicSelfAttentionRecommender(c);
      } catch (const Error& e) {
        throw Error(where + ": " + e.what());
      }
    }();
    // 2^32 items of at most 4096 floats keep every size below 2^44 (no overflow).
    const auto n_items = static_cast<std::size_t>(r.u64("items", 1, std::uint64_t{1} << 32));
    // Each tensor is read (the reader checks that its bytes are in the stream) before anything
    // of its size is allocated: a forged header claiming 2^32 items allocates nothing.
    const std::size_t d = c.dim;
    std::vector<std::size_t> rows = {n_items, c.max_len};
    for (std::size_t b = 0; b < c.blocks; ++b) {
      // ln1_gamma, ln1_beta, w_q, w_k, w_v, ln2_gamma, ln2_beta, w1, b1, w2, b2 (tensors() order).
      for (const std::size_t n : {1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1}) rows.push_back(n == 1 ? 1 : d);
    }
    rows.push_back(1);  // final_gamma
    rows.push_back(1);  // final_beta
    std::vector<Matrix> tensors;
    tensors.reserve(rows.size());
    for (const std::size_t n : rows) {
      std::vector<Scalar> values;
      if constexpr (std::is_same_v<Scalar, float>) {
        values = r.floats("tensor", n * d);
      } else {
        values = r.doubles("tensor", n * d);
      }
      for (const Scalar v : values) check(std::isfinite(v), [] { return std::string("a parameter is not finite"); });
      tensors.push_back(Eigen::Map<const Matrix>(values.data(), static_cast<Eigen::Index>(n),
                                                 static_cast<Eigen::Index>(d)));
    }
    Parameters p;
    p.blocks.resize(c.blocks);
    {
      const auto slots = p.tensors();
      for (std::size_t i = 0; i < slots.size(); ++i) *slots[i] = std::move(tensors[i]);
    }
    const std::vector<std::uint64_t> lengths = r.u64s("history_lengths", r.array_size("history_lengths"));
    const std::vector<std::uint64_t> flat = r.u64s("history_items", r.array_size("history_items"));
    std::vector<float> popularity = r.floats("popularity", n_items);
    r.finish();
    std::uint64_t total = 0;
    for (std::size_t u = 0; u < lengths.size(); ++u) {
      check(lengths[u] <= c.max_len, [&] {
        return "the history of user " + std::to_string(u) + " has " + std::to_string(lengths[u]) +
               " items, more than max_len";
      });
      total += lengths[u];
    }
    check(total == flat.size(), [&] {
      return "the history lengths sum to " + std::to_string(total) + ", but " +
             std::to_string(flat.size()) + " history items are stored";
    });
    for (const std::uint64_t item : flat) {
      check(item < n_items, [&] { return "history item " + std::to_string(item) + " is not below " + std::to_string(n_items); });
    }
    for (std::size_t i = 0; i < popularity.size(); ++i) {
      check(std::isfinite(popularity[i]) && popularity[i] >= 0.0f && popularity[i] == std::floor(popularity[i]), [&] {
        return "the popularity of item " + std::to_string(i) + " is " + std::to_string(popularity[i]) +
               ", not a whole number >= 0";
      });
    }
    next.params_ = std::move(p);
    next.histories_.resize(lengths.size());
    std::size_t at = 0;
    for (std::size_t u = 0; u < lengths.size(); ++u) {
      next.histories_[u].assign(flat.begin() + static_cast<std::ptrdiff_t>(at),
                                flat.begin() + static_cast<std::ptrdiff_t>(at + lengths[u]));
      at += static_cast<std::size_t>(lengths[u]);
    }
    next.popularity_ = std::move(popularity);
    next.recompute_encodings();
    // Commit: moves only.
    config_ = next.config_;
    params_ = std::move(next.params_);
    histories_ = std::move(next.histories_);
    user_encodings_ = std::move(next.user_encodings_);
    popularity_ = std::move(next.popularity_);
    losses_.clear();
    initial_items_.resize(0, 0);  // they belonged to fitting the replaced model (maybe another dim)
  }

  /// The training loss of one window: inputs x_1..x_m (m ≤ max_len, at the last
  /// m positions), targets[t] the positive after position t, negatives[t · config.negatives + j]
  /// its negatives. Returns the mean over the m positions of the BCE loss (see the class
  /// comment) and, when `gradient` is given, writes its gradient with respect to every
  /// parameter (shapes of parameters()). Without `dropout_seed` there is no dropout (as at
  /// inference); with one, the dropout masks are drawn from Rng(*dropout_seed) as training draws
  /// them, so the same seed gives the same function. Throws Error on an empty or too long window,
  /// sizes that do not match, an item not below items(), or an uninitialised model.
  Scalar loss_and_gradient(std::span<const std::size_t> inputs, std::span<const std::size_t> targets,
                           std::span<const std::size_t> negatives, Parameters* gradient,
                           std::optional<std::uint64_t> dropout_seed = std::nullopt) const {
    const char* where = "SelfAttentionRecommender::loss_and_gradient";
    detail::require(items() >= 1, std::string(where) + ": the model has no parameters (fit or initialize it)");
    detail::require(!inputs.empty() && inputs.size() <= config_.max_len && targets.size() == inputs.size() &&
                        negatives.size() == inputs.size() * config_.negatives,
                    std::string(where) + ": needs 1..max_len inputs, as many targets, and negatives per target");
    check_items(inputs, where, "input");
    check_items(targets, where, "target");
    check_items(negatives, where, "negative");
    Workspace ws;
    if (gradient != nullptr) *gradient = shaped(items());
    std::optional<Rng> rng;
    if (dropout_seed) rng.emplace(*dropout_seed);
    return forward_backward(inputs, targets, negatives, Scalar(1) / static_cast<Scalar>(inputs.size()),
                            rng ? &*rng : nullptr, ws, gradient);
  }

 private:
  static constexpr std::uint64_t max_dim = 4096;
  static constexpr std::uint64_t max_blocks = 8;
  // Caps that keep every size product (windows × negatives, passes × steps) far from overflow.
  static constexpr std::uint64_t max_epochs = 100'000;
  static constexpr std::uint64_t max_min_steps = 10'000'000;
  static constexpr std::uint64_t max_negatives = 10'000;
  static constexpr std::uint64_t max_batch_size = 1'000'000;
  static constexpr double adam_beta1 = 0.9, adam_beta2 = 0.98, adam_epsilon = 1e-8;

  struct Window {
    std::size_t user = 0, begin = 0, end = 0;
  };

  // The forward caches of one block and the backward scratch.
  struct BlockCache {
    Matrix h, q, k, v, a, att, drop1, x1, h2, f, drop2;
    detail::attention::LayerNormCache<Scalar> ln1, ln2;
    detail::attention::FeedForwardCache<Scalar> ff;
  };
  struct Workspace {
    Matrix drop0, x;
    std::vector<BlockCache> blocks;
    detail::attention::LayerNormCache<Scalar> lnf;
    Matrix z;
    Matrix dz, dx, dx1, df, dh, dh2, dq, dk, dv, ds, datt, tmp, scratch;
  };

  static void check_config(const Config& c, const std::string& where) {
    const auto require = [&](bool ok, const char* what) {
      detail::require(ok, [&] { return where + ": config." + what; });
    };
    require(c.dim >= 1 && c.dim <= max_dim, "dim must be in [1, 4096]");
    require(c.max_len >= 1 && c.max_len <= max_dim, "max_len must be in [1, 4096]");
    require(c.blocks >= 1 && c.blocks <= max_blocks, "blocks must be in [1, 8]");
    require(c.dropout >= 0.0 && c.dropout < 1.0, "dropout must be in [0, 1)");
    require(std::isfinite(c.learning_rate) && c.learning_rate > 0.0,
            "learning_rate must be finite and positive");
    require(std::isfinite(c.l2) && c.l2 >= 0.0, "l2 must be finite and non-negative");
    require(c.epochs >= 1 && c.epochs <= max_epochs, "epochs must be in [1, 100000]");
    require(c.min_steps <= max_min_steps, "min_steps must be in [0, 10000000]");
    require(c.negatives >= 1 && c.negatives <= max_negatives, "negatives must be in [1, 10000]");
    require(c.batch_size >= 1 && c.batch_size <= max_batch_size, "batch_size must be in [1, 1000000]");
  }

  void check_scores(std::size_t n, const char* where) const {
    detail::require(n == items(), [&] {
      return std::string(where) + ": scores has " + std::to_string(n) + " entries, the model knows " +
             std::to_string(items()) + " items";
    });
  }

  void check_items(std::span<const std::size_t> list, const char* where, const char* what) const {
    for (const std::size_t item : list) {
      detail::require(item < items(), [&] {
        return std::string(where) + ": " + what + " " + std::to_string(item) +
               " is outside the model's " + std::to_string(items()) + " items";
      });
    }
  }

  // Parameters of the right shapes for n items, all zero.
  Parameters shaped(std::size_t n_items) const {
    const auto d = static_cast<Eigen::Index>(config_.dim);
    Parameters p;
    p.item = Matrix::Zero(static_cast<Eigen::Index>(n_items), d);
    p.position = Matrix::Zero(static_cast<Eigen::Index>(config_.max_len), d);
    p.blocks.resize(config_.blocks);
    for (Block& b : p.blocks) {
      for (Matrix* m : {&b.w_q, &b.w_k, &b.w_v, &b.w1, &b.w2}) *m = Matrix::Zero(d, d);
      for (Matrix* m : {&b.ln1_gamma, &b.ln1_beta, &b.ln2_gamma, &b.ln2_beta, &b.b1, &b.b2}) {
        *m = Matrix::Zero(1, d);
      }
    }
    p.final_gamma = Matrix::Zero(1, d);
    p.final_beta = Matrix::Zero(1, d);
    return p;
  }

  static bool same_shapes(const Parameters& a, const Parameters& b) {
    const auto x = a.tensors();
    const auto y = b.tensors();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (x[i]->rows() != y[i]->rows() || x[i]->cols() != y[i]->cols()) return false;
    }
    return true;
  }

  static bool all_finite(const Parameters& p) {
    for (const Matrix* m : p.tensors()) {
      if (!m->allFinite()) return false;
    }
    return true;
  }

  static void set_zero(Parameters& p) {
    for (Matrix* m : p.tensors()) m->setZero();
  }

  Parameters initial_parameters(std::size_t n_items, Rng& rng) const {
    Parameters p = shaped(n_items);
    const double sd = 1.0 / std::sqrt(static_cast<double>(config_.dim));
    const auto normal = [&](Matrix& m) {
      for (Eigen::Index r = 0; r < m.rows(); ++r) {
        for (Eigen::Index c = 0; c < m.cols(); ++c) m(r, c) = static_cast<Scalar>(rng.normal(0.0, sd));
      }
    };
    normal(p.item);  // drawn even when replaced, so the other parameters do not depend on it
    if (initial_items_.size() != 0 && static_cast<std::size_t>(initial_items_.rows()) == n_items) {
      p.item = initial_items_;
    }
    normal(p.position);
    for (Block& b : p.blocks) {
      for (Matrix* m : {&b.w_q, &b.w_k, &b.w_v, &b.w1, &b.w2}) normal(*m);
      b.ln1_gamma.setOnes();
      b.ln2_gamma.setOnes();
    }
    p.final_gamma.setOnes();
    return p;
  }

  // Uniform over the n − 1 items other than the positive.
  static void draw_negatives(Rng& rng, std::size_t n_items, std::size_t positive,
                             std::span<std::size_t> out) noexcept {
    for (std::size_t& x : out) {
      const auto r = static_cast<std::size_t>(rng.below(n_items - 1));
      x = r >= positive ? r + 1 : r;
    }
  }

  // The forward pass over `inputs` (the last max_len of a history), with dropout masks drawn
  // from `rng` when it is given and the rate is positive. Leaves every cache in `ws`; ws.z holds
  // the outputs.
  void forward(std::span<const std::size_t> inputs, Rng* rng, Workspace& ws) const {
    namespace la = detail::attention;
    const auto m = static_cast<Eigen::Index>(inputs.size());
    const auto d = static_cast<Eigen::Index>(config_.dim);
    const Eigen::Index offset = static_cast<Eigen::Index>(config_.max_len) - m;
    const bool drop = rng != nullptr && config_.dropout > 0.0;
    ws.x.resize(m, d);
    for (Eigen::Index t = 0; t < m; ++t) {
      ws.x.row(t) = params_.item.row(static_cast<Eigen::Index>(inputs[static_cast<std::size_t>(t)])) +
                    params_.position.row(offset + t);
    }
    if (drop) {
      la::dropout_mask(*rng, config_.dropout, m, d, ws.drop0);
      ws.x.array() *= ws.drop0.array();
    }
    ws.blocks.resize(params_.blocks.size());
    for (std::size_t b = 0; b < params_.blocks.size(); ++b) {
      const Block& p = params_.blocks[b];
      BlockCache& c = ws.blocks[b];
      la::layer_norm_forward(ws.x, p.ln1_gamma, p.ln1_beta, c.ln1, c.h);
      c.q.resize(m, d);
      c.q.noalias() = c.h * p.w_q;
      c.k.resize(m, d);
      c.k.noalias() = c.h * p.w_k;
      c.v.resize(m, d);
      c.v.noalias() = c.h * p.w_v;
      la::causal_attention_forward(c.q, c.k, c.v, c.a, c.att);
      if (drop) {
        la::dropout_mask(*rng, config_.dropout, m, d, c.drop1);
        c.x1 = ws.x + c.att.cwiseProduct(c.drop1);
      } else {
        c.x1 = ws.x + c.att;
      }
      la::layer_norm_forward(c.x1, p.ln2_gamma, p.ln2_beta, c.ln2, c.h2);
      la::feed_forward_forward(c.h2, p.w1, p.b1, p.w2, p.b2, c.ff, c.f);
      if (drop) {
        la::dropout_mask(*rng, config_.dropout, m, d, c.drop2);
        ws.x = c.x1 + c.f.cwiseProduct(c.drop2);
      } else {
        ws.x = c.x1 + c.f;
      }
    }
    la::layer_norm_forward(ws.x, params_.final_gamma, params_.final_beta, ws.lnf, ws.z);
  }

  // Forward, the loss of every position (weighted by `weight`), and, when `grad` is given, the
  // backward pass adding weight · dloss to it. Returns weight · Σ losses.
  Scalar forward_backward(std::span<const std::size_t> inputs, std::span<const std::size_t> targets,
                          std::span<const std::size_t> negatives, Scalar weight, Rng* rng,
                          Workspace& ws, Parameters* grad) const {
    namespace la = detail::attention;
    forward(inputs, rng, ws);
    const bool drop = rng != nullptr && config_.dropout > 0.0;
    const auto m = static_cast<Eigen::Index>(inputs.size());
    const auto d = static_cast<Eigen::Index>(config_.dim);
    const std::size_t k = config_.negatives;
    const auto softplus = [](Scalar x) { return std::max(x, Scalar(0)) + std::log1p(std::exp(-std::abs(x))); };
    const auto sigmoid = [](Scalar x) {
      return x >= 0 ? Scalar(1) / (Scalar(1) + std::exp(-x)) : std::exp(x) / (Scalar(1) + std::exp(x));
    };
    Scalar loss = 0;
    if (grad != nullptr) ws.dz = Matrix::Zero(m, d);
    for (Eigen::Index t = 0; t < m; ++t) {
      const auto z = ws.z.row(t);
      for (std::size_t j = 0; j <= k; ++j) {
        const std::size_t item = j == 0 ? targets[static_cast<std::size_t>(t)]
                                        : negatives[static_cast<std::size_t>(t) * k + j - 1];
        const auto e = params_.item.row(static_cast<Eigen::Index>(item));
        const Scalar logit = z.dot(e);
        // BCE: label 1 for the positive (loss softplus(−x)), 0 for a negative (softplus(x)).
        loss += softplus(j == 0 ? -logit : logit);
        if (grad == nullptr) continue;
        const Scalar g = weight * (j == 0 ? sigmoid(logit) - Scalar(1) : sigmoid(logit));
        ws.dz.row(t) += g * e;
        grad->item.row(static_cast<Eigen::Index>(item)) += g * z;
      }
    }
    if (grad == nullptr) return weight * loss;

    la::layer_norm_backward(ws.dz, params_.final_gamma, ws.lnf, ws.dx, grad->final_gamma, grad->final_beta);
    for (std::size_t bi = params_.blocks.size(); bi-- > 0;) {
      const Block& p = params_.blocks[bi];
      Block& g = grad->blocks[bi];
      const BlockCache& c = ws.blocks[bi];
      // x_out = x1 + Dropout(FFN(LN₂(x1)))
      if (drop) ws.df = ws.dx.cwiseProduct(c.drop2);
      la::feed_forward_backward(c.h2, p.w1, p.w2, c.ff, drop ? ws.df : ws.dx, ws.scratch, ws.dh2, g.w1, g.b1, g.w2, g.b2);
      la::layer_norm_backward(ws.dh2, p.ln2_gamma, c.ln2, ws.tmp, g.ln2_gamma, g.ln2_beta);
      ws.dx1 = ws.dx + ws.tmp;
      // x1 = x_in + Dropout(Attn(h W_q, h W_k, h W_v)), h = LN₁(x_in)
      if (drop) ws.datt = ws.dx1.cwiseProduct(c.drop1);
      la::causal_attention_backward(c.q, c.k, c.v, c.a, drop ? ws.datt : ws.dx1, ws.ds, ws.dq, ws.dk, ws.dv);
      g.w_q.noalias() += c.h.transpose() * ws.dq;
      g.w_k.noalias() += c.h.transpose() * ws.dk;
      g.w_v.noalias() += c.h.transpose() * ws.dv;
      ws.dh.resize(m, d);
      ws.dh.noalias() = ws.dq * p.w_q.transpose();
      ws.dh.noalias() += ws.dk * p.w_k.transpose();
      ws.dh.noalias() += ws.dv * p.w_v.transpose();
      la::layer_norm_backward(ws.dh, p.ln1_gamma, c.ln1, ws.tmp, g.ln1_gamma, g.ln1_beta);
      ws.dx = ws.dx1 + ws.tmp;
    }
    if (drop) ws.dx.array() *= ws.drop0.array();
    const Eigen::Index offset = static_cast<Eigen::Index>(config_.max_len) - m;
    for (Eigen::Index t = 0; t < m; ++t) {
      grad->item.row(static_cast<Eigen::Index>(inputs[static_cast<std::size_t>(t)])) += ws.dx.row(t);
      grad->position.row(offset + t) += ws.dx.row(t);
    }
    return weight * loss;
  }

  // One Adam step (with the L2 penalty added to the weights' gradients).
  void adam_step(Parameters& grad, Parameters& mean, Parameters& var, std::uint64_t step) {
    const auto p = params_.tensors();
    const auto g = grad.tensors();
    const auto m = mean.tensors();
    const auto v = var.tensors();
    const auto lr = static_cast<Scalar>(config_.learning_rate);
    const auto l2 = static_cast<Scalar>(config_.l2);
    const auto b1 = static_cast<Scalar>(adam_beta1), b2 = static_cast<Scalar>(adam_beta2);
    const auto eps = static_cast<Scalar>(adam_epsilon);
    const auto t = static_cast<double>(step);
    const auto c1 = static_cast<Scalar>(1.0 - std::pow(adam_beta1, t));
    const auto c2 = static_cast<Scalar>(1.0 - std::pow(adam_beta2, t));
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (l2 > 0 && Parameters::is_weight(i)) *g[i] += l2 * *p[i];
      m[i]->array() = b1 * m[i]->array() + (Scalar(1) - b1) * g[i]->array();
      v[i]->array() = b2 * v[i]->array() + (Scalar(1) - b2) * g[i]->array().square();
      p[i]->array() -= lr * (m[i]->array() / c1) / ((v[i]->array() / c2).sqrt() + eps);
    }
  }

  // The outputs for the last max_len items of `history` (checked by the caller), in this
  // thread's workspace (valid until its next use on this thread).
  const Matrix& inference_outputs(std::span<const std::size_t> history) const {
    thread_local Workspace ws;
    const std::span<const std::size_t> window =
        history.size() > config_.max_len ? history.last(config_.max_len) : history;
    forward(window, nullptr, ws);
    return ws.z;
  }

  void recompute_encodings() {
    user_encodings_ = Matrix::Zero(static_cast<Eigen::Index>(histories_.size()),
                                   static_cast<Eigen::Index>(config_.dim));
    for (std::size_t u = 0; u < histories_.size(); ++u) {
      if (histories_[u].empty()) continue;
      const Matrix& z = inference_outputs(histories_[u]);
      user_encodings_.row(static_cast<Eigen::Index>(u)) = z.row(z.rows() - 1);
    }
  }

  // scores[i] = E[i] · z for every item.
  template <class Row>
  void score_all(const Row& z, std::span<float> scores) const {
    if constexpr (std::is_same_v<Scalar, float>) {
      const Matrix& e = params_.item;
      simd::score(std::span<const float>(z.data(), config_.dim),
                  MatrixView(std::span<const float>(e.data(), static_cast<std::size_t>(e.size())), items(), config_.dim),
                  scores);
    } else {
      for (std::size_t i = 0; i < items(); ++i) {
        scores[i] = static_cast<float>(params_.item.row(static_cast<Eigen::Index>(i)).dot(z));
      }
    }
  }

  // One item's score, computed as score_all computes it (same kernel on a one-row view).
  template <class Row>
  float score_one(const Row& z, std::size_t item) const {
    if constexpr (std::is_same_v<Scalar, float>) {
      float s = 0.0f;
      simd::score(std::span<const float>(z.data(), config_.dim),
                  MatrixView(std::span<const float>(params_.item.row(static_cast<Eigen::Index>(item)).data(), config_.dim), 1, config_.dim),
                  std::span<float>(&s, 1));
      return s;
    } else {
      return static_cast<float>(params_.item.row(static_cast<Eigen::Index>(item)).dot(z));
    }
  }

  Config config_{};
  Parameters params_{};
  Matrix initial_items_{};
  std::vector<std::vector<std::size_t>> histories_{};
  Matrix user_encodings_{};
  std::vector<float> popularity_{};
  std::vector<double> losses_{};
};

/// The float SelfAttentionRecommender.
using SelfAttentionRecommender = BasicSelfAttentionRecommender<float>;

}  // namespace marl_rec
