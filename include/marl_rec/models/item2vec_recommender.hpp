// marl_rec — the item2vec recommender: Item2Vec vectors learned from each user's training items,
// and for each user the items nearest to the encoding of their history.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/embed/item2vec.hpp"
#include "marl_rec/embed/sequence_encoder.hpp"
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
