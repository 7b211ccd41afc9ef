// marl_rec — the item2vec recommender: Item2Vec vectors learned from each user's training items,
// and for each user the items nearest to the encoding of their history.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/embed/item2vec.hpp"
#include "marl_rec/embed/sequence_encoder.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// "Recommend the items nearest to the user's history". fit(train) trains Item2Vec on each user's
/// training items in time order (file order without timestamps; see user_item_sequences) and
/// encodes each user's history with a SequenceEncoder. Two ways to score item i for user u
/// (Config::scoring):
///
/// - cosine (the default): the cosine of item i's unit input vector and the encoding of u's
///   history over the unit input vectors — the items nearest to the history;
/// - context: item i's output (context) vector · the encoding of u's history over the raw input
///   vectors. With the mean encoder this ranks as Σ_j in(j)·out(i), the sum of the skip-gram
///   model's own co-occurrence logits for (history item j, item i): first-order co-occurrence
///   instead of similarity, and it keeps the popularity the output vectors' lengths carry.
///
/// - Cold users — an index training never saw, or a user with no training rows (or whose items
///   all lack a vector) — get the item popularity (training interactions per item) as scores, as
///   MostPopular would give them: with no history there is nothing to be near to.
/// - Items without a vector (no training occurrence, or fewer than min_count) score −∞ for known
///   users: they rank after every item with a vector, but stay eligible.
/// - With an attention encoder that has parameters, fit() also trains the encoder on the users'
///   sequences (next-item prediction over the vectors the history is encoded from, see
///   SequenceEncoder).
///
/// Deterministic for a seed; score_user is const and allocates nothing. Satisfies
/// BatchRecommender.
///
/// Persistence: save() writes the scoring mode, the Item2Vec model and the encoder (nested
/// streams, with their configurations), the users' encodings and the item popularity (type
/// "item2vec_recommender", version 1); load() replaces everything, and the loaded model scores
/// every user as the saved one did.
class Item2VecRecommender {
 public:
  /// How items are scored against a user's encoded history (see the class comment).
  enum class Scoring { cosine, context };

  /// The item2vec, encoder and scoring settings.
  struct Config {
    /// How the item vectors are learned (dim, window, whole_sequence, negatives, epochs, ...).
    Item2Vec::Config item2vec{};
    /// How a user's history is encoded (mode mean, recency with half_life, or attention;
    /// max_history).
    SequenceEncoderConfig encoder{};
    /// Cosine of input vectors, or output vectors against the encoded input vectors.
    Scoring scoring{Scoring::cosine};
  };

  Item2VecRecommender() = default;
  /// A recommender with `config` (checked as Item2Vec and SequenceEncoder check theirs).
  explicit Item2VecRecommender(Config config)
      : config_(config), item2vec_(config.item2vec), encoder_(config.encoder) {}

  std::string_view name() const noexcept { return "item2vec"; }

  /// The configuration.
  const Config& config() const noexcept { return config_; }

  /// Trains the item vectors and encodes every user of `train`. Throws Error when the data
  /// cannot be learned from (no user has two items), or a row's index is outside the id maps.
  void fit(const Interactions& train) {
    Item2Vec item2vec(config_.item2vec);
    item2vec.fit(train);  // checks the data before anything else is done
    const auto sequences = user_item_sequences(train);
    SequenceEncoder encoder(config_.encoder);
    const bool cosine = config_.scoring == Scoring::cosine;
    const MatrixView items = cosine ? item2vec.normalized_vectors() : item2vec.vectors();
    if (encoder.trainable()) {
      // Trained on the histories as the recommender sees them: items without a vector left out.
      std::vector<std::vector<std::size_t>> with_vectors;
      for (const auto& sequence : sequences) {
        std::vector<std::size_t> kept;
        for (const std::size_t item : sequence) {
          if (item2vec.has_vector(item)) kept.push_back(item);
        }
        if (kept.size() >= 2) with_vectors.push_back(std::move(kept));
      }
      encoder.train(items, with_vectors);
    }
    const std::size_t dim = item2vec.dim();
    AlignedVector<float> users(sequences.size() * dim, 0.0f);
    std::vector<unsigned char> warm(sequences.size(), 0);
    std::vector<std::size_t> history;
    for (std::size_t u = 0; u < sequences.size(); ++u) {
      history.clear();
      for (const std::size_t item : sequences[u]) {
        if (item2vec.has_vector(item)) history.push_back(item);
      }
      if (history.empty()) continue;
      warm[u] = encoder.encode(items, history, std::span<float>(users).subspan(u * dim, dim)) ? 1 : 0;
    }
    std::vector<float> popularity(train.items.size(), 0.0f);
    for (const Interaction& row : train.rows) popularity[row.item] += 1.0f;
    std::vector<std::size_t> without_vector;
    for (std::size_t i = 0; i < train.items.size(); ++i) {
      if (!item2vec.has_vector(i)) without_vector.push_back(i);
    }
    // Commit only once everything has succeeded.
    item2vec_ = std::move(item2vec);
    encoder_ = std::move(encoder);
    user_vectors_ = std::move(users);
    warm_ = std::move(warm);
    popularity_ = std::move(popularity);
    without_vector_ = std::move(without_vector);
  }

  /// Writes one score per training item: each item's vector (unit input vector, or output vector)
  /// · the user's unit encoding, or the item popularity for a cold user (see the class comment). Throws Error when
  /// scores.size() is not the number of training items.
  void score_user(std::size_t user, std::span<float> scores) const {
    marl_rec::detail::require(scores.size() == popularity_.size(), [&] {
      return std::string("Item2VecRecommender::score_user: scores has ") +
             std::to_string(scores.size()) + " entries, the model knows " +
             std::to_string(popularity_.size()) + " items";
    });
    if (user >= warm_.size() || warm_[user] == 0) {
      std::copy(popularity_.begin(), popularity_.end(), scores.begin());
      return;
    }
    const std::size_t dim = item2vec_.dim();
    simd::score(std::span<const float>(user_vectors_).subspan(user * dim, dim),
                config_.scoring == Scoring::cosine ? item2vec_.normalized_vectors()
                                                   : item2vec_.context_vectors(),
                scores);
    for (const std::size_t item : without_vector_) {
      scores[item] = -std::numeric_limits<float>::infinity();
    }
  }

  /// The trained item model (its normalized_vectors() or context_vectors() are scored).
  const Item2Vec& item2vec() const noexcept { return item2vec_; }
  /// The (trained) history encoder.
  const SequenceEncoder& encoder() const noexcept { return encoder_; }
  /// True when `user` is scored from their history (false: cold, scored by popularity).
  bool is_warm(std::size_t user) const noexcept { return user < warm_.size() && warm_[user] != 0; }

  /// Writes the model (see the class comment).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "item2vec_recommender", 1);
    w.u64("scoring", config_.scoring == Scoring::cosine ? 0 : 1);
    w.object("item2vec", item2vec_);
    w.object("encoder", encoder_);
    w.u64s("warm", std::vector<std::uint64_t>(warm_.begin(), warm_.end()));
    w.floats("user_vectors", user_vectors_);
    w.floats("popularity", popularity_);
    w.finish();
  }

  /// Replaces the model with what save() wrote. Throws Error (model unchanged) on a truncated,
  /// corrupted or foreign stream, a nested model's own load error, or contents fit() cannot
  /// give: a popularity for another number of items than the item model has, a count that is
  /// not a whole number >= 0, a non-finite encoding, an encoding for a cold user, or a trained
  /// encoder of another dimension than the item vectors.
  void load(std::istream& in) {
    constexpr const char* where = "loading a 'item2vec_recommender' model";
    const auto check = [&](bool ok, auto&& message) {
      marl_rec::detail::require(ok, [&] { return std::string(where) + ": " + message(); });
    };
    io::ModelReader r(in, "item2vec_recommender", 1);
    const Scoring scoring = r.u64("scoring", 0, 1) == 0 ? Scoring::cosine : Scoring::context;
    Item2Vec item2vec;
    r.object("item2vec", item2vec);
    SequenceEncoder encoder;
    r.object("encoder", encoder);
    const std::vector<std::uint64_t> warm = r.u64s("warm", r.array_size("warm"));
    const std::size_t users = warm.size();
    const std::size_t dim = item2vec.dim();
    check(users <= std::numeric_limits<std::size_t>::max() / dim,
          [&] { return std::to_string(users) + " users of dim " + std::to_string(dim); });
    const std::vector<float> user_vectors = r.floats("user_vectors", users * dim);
    std::vector<float> popularity = r.floats("popularity", item2vec.n_items());
    r.finish();
    for (std::size_t i = 0; i < popularity.size(); ++i) {
      check(popularity[i] >= 0.0f && std::isfinite(popularity[i]) && popularity[i] == std::floor(popularity[i]),
            [&] { return "the popularity of item " + std::to_string(i) + " is " + std::to_string(popularity[i]); });
    }
    for (std::size_t u = 0; u < users; ++u) {
      check(warm[u] <= 1, [&] { return "field 'warm' holds " + std::to_string(warm[u]) + " for user " + std::to_string(u); });
      for (std::size_t j = 0; j < dim; ++j) {
        const float x = user_vectors[u * dim + j];
        // A cold user has no encoding: fit() leaves its row zero.
        check(std::isfinite(x) && (warm[u] == 1 || x == 0.0f), [&] {
          return "the encoding of user " + std::to_string(u) + " is " +
                 (std::isfinite(x) ? "not zero, but the user is cold" : "not finite");
        });
      }
    }
    check(users == 0 || item2vec.n_items() > 0, [&] { return std::to_string(users) + " users but no item model"; });
    if (encoder.trainable() && item2vec.n_items() > 0) {
      const auto& p = encoder.parameters();
      const auto encoder_dim = static_cast<std::size_t>(encoder.config().projections ? p.w_q.rows() : p.query.size());
      check(encoder_dim == dim, [&] {
        return "the encoder's parameters are for dimension " + std::to_string(encoder_dim) +
               ", the item vectors have " + std::to_string(dim);
      });
    }
    std::vector<std::size_t> without_vector;
    for (std::size_t i = 0; i < popularity.size(); ++i) {
      if (!item2vec.has_vector(i)) without_vector.push_back(i);
    }
    AlignedVector<float> loaded_users(user_vectors.begin(), user_vectors.end());
    std::vector<unsigned char> loaded_warm(warm.begin(), warm.end());
    // Commit: moves only.
    config_ = Config{.item2vec = item2vec.config(), .encoder = encoder.config(), .scoring = scoring};
    item2vec_ = std::move(item2vec);
    encoder_ = std::move(encoder);
    user_vectors_ = std::move(loaded_users);
    warm_ = std::move(loaded_warm);
    popularity_ = std::move(popularity);
    without_vector_ = std::move(without_vector);
  }

 private:
  Config config_{};
  Item2Vec item2vec_{};
  SequenceEncoder encoder_{};
  AlignedVector<float> user_vectors_{};
  std::vector<unsigned char> warm_{};
  std::vector<float> popularity_{};
  std::vector<std::size_t> without_vector_{};
};

}  // namespace marl_rec
