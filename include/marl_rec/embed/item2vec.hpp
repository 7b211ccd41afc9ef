// marl_rec — Item2Vec: item vectors learned from behaviour sequences (what users clicked, bought or
// rated, in order) with word2vec's skip-gram and negative sampling (Barkan & Koenigstein 2016,
// "Item2Vec: Neural Item Embedding for Collaborative Filtering"; Mikolov et al. 2013).
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
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/rng_state.hpp"
#include "marl_rec/io/string_fields.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/reference.hpp"

namespace marl_rec {

/// The vector operations of Item2Vec's training loop: the SIMD kernels (the default).
struct SimdDotAxpy {
  /// a · b.
  static float dot(std::span<const float> a, std::span<const float> b) { return simd::dot(a, b); }
  /// y += a · x.
  static void axpy(float a, std::span<const float> x, std::span<float> y) { simd::axpy(a, x, y); }
};

/// The vector operations of Item2Vec's training loop: the scalar twins of the kernels. Slower;
/// use them for vectors that are the same bits on every machine (with -ffp-contract=off, see
/// docs/simd.md), or as the baseline the SIMD loop is measured against.
struct ReferenceDotAxpy {
  /// a · b, accumulated in double.
  static float dot(std::span<const float> a, std::span<const float> b) {
    return simd::reference::dot(a, b);
  }
  /// y += a · x, computed in double.
  static void axpy(float a, std::span<const float> x, std::span<float> y) {
    simd::reference::axpy(a, x, y);
  }
};

/// Each user's item indices in time order: by (timestamp, source_row) when `data.has_timestamp`,
/// by source_row (the order of the file) otherwise. Entry u belongs to user index u; users with no
/// rows get an empty sequence. Throws Error when a row's index is outside the id maps.
inline std::vector<std::vector<std::size_t>> user_item_sequences(const Interactions& data) {
  std::vector<std::vector<std::size_t>> rows_of(data.users.size());
  for (std::size_t r = 0; r < data.rows.size(); ++r) {
    const Interaction& row = data.rows[r];
    marl_rec::detail::require(row.user < data.users.size() && row.item < data.items.size(), [&] {
      return std::string("user_item_sequences: row ") + std::to_string(r) +
             " has an index outside the id maps";
    });
    rows_of[row.user].push_back(r);
  }
  std::vector<std::vector<std::size_t>> sequences(rows_of.size());
  for (std::size_t u = 0; u < rows_of.size(); ++u) {
    std::vector<std::size_t>& rows = rows_of[u];
    std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
      const Interaction& x = data.rows[a];
      const Interaction& y = data.rows[b];
      if (data.has_timestamp && x.timestamp != y.timestamp) return x.timestamp < y.timestamp;
      return x.source_row < y.source_row;
    });
    sequences[u].reserve(rows.size());
    for (const std::size_t r : rows) sequences[u].push_back(data.rows[r].item);
  }
  return sequences;
}

/// An Embedder view over a set of unit item vectors, whose text is the item's id: embed("1002")
/// writes the unit vector of item "1002". It refers to the id map and the vectors it was made
/// from (e.g. by Item2Vec::embedder()), which must outlive it and stay unchanged.
class Item2VecEmbedder {
 public:
  /// A view of `ids` (item index ↔ id) and `unit_vectors` (row i = item i's unit vector, or
  /// zeros when the item has none). Throws Error when the id map has more items than rows.
  Item2VecEmbedder(const IdMap& ids, MatrixView unit_vectors) : ids_(&ids), vectors_(unit_vectors) {
    marl_rec::detail::require(ids.size() <= unit_vectors.rows(), [&] {
      return std::string("Item2VecEmbedder: ") + std::to_string(ids.size()) + " ids but only " +
             std::to_string(unit_vectors.rows()) + " vectors";
    });
  }

  /// The vectors' dimension.
  std::size_t dim() const noexcept { return vectors_.cols(); }

  /// Writes the unit vector of the item whose id is `text`. Throws Error when out.size() !=
  /// dim(), when the id is unknown, or when the item has no vector (it occurred fewer than
  /// min_count times in training).
  void embed(std::string_view text, std::span<float> out) const {
    marl_rec::detail::require(out.size() == dim(), [&] {
      return std::string("Item2VecEmbedder::embed: out has ") + std::to_string(out.size()) +
             " floats, dim() is " + std::to_string(dim());
    });
    const auto index = ids_->find(text);
    marl_rec::detail::require(index.has_value(), [&] {
      return std::string("Item2VecEmbedder::embed: unknown item id '") + std::string(text) + "'";
    });
    const std::span<const float> row = vectors_.row(*index);
    marl_rec::detail::require(
        std::any_of(row.begin(), row.end(), [](float x) { return x != 0.0f; }), [&] {
          return std::string("Item2VecEmbedder::embed: item '") + std::string(text) +
                 "' has no vector (too few occurrences in training)";
        });
    std::copy(row.begin(), row.end(), out.begin());
  }

 private:
  const IdMap* ids_;
  MatrixView vectors_;
};

/// Item vectors learned from behaviour sequences with skip-gram and negative sampling (SGNS):
/// items that occur near each other in users' sequences get similar vectors.
///
/// Training (one thread, deterministic: the same seed and data give the same bits on one build):
/// - Each sequence is one user's items in order. Items with fewer than `min_count` occurrences
///   are dropped from the sequences and get no vector (a zero row).
/// - Each epoch visits the sequences in an order shuffled by the seeded Rng. An occurrence of
///   item i is kept with probability min(1, (√(c_i/(t·T)) + 1)·t·T/c_i) (word2vec's subsampling
///   of frequent items; c_i = occurrences of i, T = all occurrences, t = `subsample`, 0 = off).
/// - Context: with `whole_sequence` false, the items within a window of b positions on either
///   side, b drawn uniformly from 1..window for each position (word2vec's shrinking window, which
///   weights near neighbours more); with `whole_sequence` true, every other item of the sequence
///   (the item2vec paper: the sequence is a set, every pair is a context pair; O(n²) per
///   sequence of n items).
/// - For each (context c, item w) pair: a logistic step on the input vector of c against the
///   output vector of w (label 1) and of `negatives` items drawn from the unigram distribution
///   raised to 0.75 (label 0), with learning rate learning_rate · max(1 − progress, 10⁻⁴),
///   progress = occurrences read / (epochs · T), updated at the start of each sequence.
///   Negatives equal to w are skipped.
/// - Initial input vectors are uniform in [−0.5/dim, 0.5/dim), output vectors zero (word2vec).
///
/// Results: vectors() — the input vectors, one row per item index; normalized_vectors() — their
/// unit-length copies, for cosine similarity. `Ops` chooses the dot/axpy implementation
/// (SimdDotAxpy by default, ReferenceDotAxpy for the scalar twins).
///
/// Persistence: save() writes the Config, the item ids, the counts, the input and output
/// vectors, the random generator's state and last_training() (type "item2vec", version 1, the
/// same for every `Ops`); normalized_vectors() and the negative-sampling tables are recomputed
/// from those. A loaded model goes on with fold_in exactly as the saved one would (same build).
template <class Ops = SimdDotAxpy>
class BasicItem2Vec {
 public:
  /// How Item2Vec trains (see the class comment).
  struct Config {
    /// Vector dimension.
    std::size_t dim{64};
    /// The largest distance between an item and a context item (with whole_sequence false).
    std::size_t window{5};
    /// Every pair of a sequence is a context pair (the sequence as a set; window ignored).
    bool whole_sequence{false};
    /// Negative samples per context pair (≥ 1).
    std::size_t negatives{5};
    /// Passes over the sequences in fit().
    std::size_t epochs{5};
    /// Initial learning rate, linearly decayed to 10⁻⁴ of itself.
    float learning_rate{0.025f};
    /// Subsampling threshold t (0 = keep every occurrence).
    double subsample{1e-3};
    /// Items with fewer occurrences get no vector and are left out of training.
    std::size_t min_count{1};
    /// Seed of every random draw (initial vectors, shuffles, windows, subsampling, negatives).
    std::uint64_t seed{42};
  };

  /// What the last fit() or fold_in() did.
  struct TrainingCounts {
    /// Item occurrences read, over all epochs (before subsampling).
    std::uint64_t words{0};
    /// (context, item) pairs trained, over all epochs.
    std::uint64_t pairs{0};
  };

  BasicItem2Vec() = default;
  /// A model with `config` (checked: throws Error for dim, negatives, epochs, min_count or (with
  /// whole_sequence false) window of 0, a learning rate that is not finite and positive, or a
  /// subsample threshold that is negative or not finite).
  explicit BasicItem2Vec(Config config) : config_(config) { check_config(config_); }

  /// The configuration.
  const Config& config() const noexcept { return config_; }

  /// Trains from scratch on each user's items of `data` in time order (user_item_sequences:
  /// without timestamps, the order of the file). Item index i is data.items' index i, and the
  /// model keeps a copy of data.items for item_index() and embedder(). Throws Error when no
  /// sequence has two items with at least min_count occurrences (nothing to learn from).
  void fit(const Interactions& data) {
    const auto sequences = user_item_sequences(data);
    fit_indexed(sequences, data.items.size(), data.items);
  }

  /// Trains from scratch on `sequences` of item indices below `n_items`; item i's id is the
  /// decimal text of i. Throws Error when an index is ≥ n_items or nothing can be learned.
  void fit(std::span<const std::vector<std::size_t>> sequences, std::size_t n_items) {
    IdMap ids;
    for (std::size_t i = 0; i < n_items; ++i) ids.intern(std::to_string(i));
    fit_indexed(sequences, n_items, ids);
  }

  /// Continues training for `epochs` passes over `new_sessions` (item indices; an index ≥
  /// n_items() is a new item). Existing vectors are kept and go on learning; the item set grows to
  /// the largest index + 1, new items getting the decimal text of their index as id (Error if
  /// that id is already taken — with an id map from an Interactions, fold in an Interactions).
  /// Occurrences are added to the counts, and the noise (negative-sampling) distribution and the
  /// subsampling are recomputed from the combined counts, so new items are drawn as negatives in
  /// proportion to their count^0.75 alongside the old ones. An item whose count reaches
  /// min_count gets a fresh random input vector and a zero output vector. The learning rate
  /// decays again from learning_rate over this call's occurrences. Throws Error before fit(),
  /// for epochs = 0, or when the sessions hold no trainable pair.
  void fold_in(std::span<const std::vector<std::size_t>> new_sessions, std::size_t epochs) {
    require_fitted("fold_in");
    std::size_t needed = n_items_;
    for (const auto& session : new_sessions) {
      for (const std::size_t item : session) needed = std::max(needed, item + 1);
    }
    IdMap ids = items_;
    for (std::size_t i = ids.size(); i < needed; ++i) {
      const std::string id = std::to_string(i);
      marl_rec::detail::require(!ids.contains(id), [&] {
        return std::string("Item2Vec::fold_in: new item index ") + id + " would get the id '" + id +
               "', which another item has; fold in an Interactions instead";
      });
      ids.intern(id);
    }
    fold_in_indexed(new_sessions, epochs, std::move(ids));
  }

  /// fold_in on each user's items of `new_data` in time order, items matched by id: ids the
  /// model knows keep their vectors, new ids are appended (new_data may have its own id maps).
  void fold_in(const Interactions& new_data, std::size_t epochs) {
    require_fitted("fold_in");
    IdMap ids = items_;
    std::vector<std::size_t> index_of(new_data.items.size());
    for (std::size_t i = 0; i < new_data.items.size(); ++i) {
      index_of[i] = ids.intern(new_data.items.id(i));
    }
    auto sessions = user_item_sequences(new_data);
    for (auto& session : sessions) {
      for (std::size_t& item : session) item = index_of[item];
    }
    fold_in_indexed(sessions, epochs, std::move(ids));
  }

  /// Number of items (rows of vectors()).
  std::size_t n_items() const noexcept { return n_items_; }
  /// Vector dimension.
  std::size_t dim() const noexcept { return config_.dim; }

  /// The learned input vectors, row i = item i (zeros for items without a vector).
  MatrixView vectors() const { return MatrixView(input_, n_items_, config_.dim); }
  /// The output (context) vectors of the negative-sampling objective, row i = item i.
  MatrixView context_vectors() const { return MatrixView(output_, n_items_, config_.dim); }
  /// Unit-length copies of vectors() (zero rows stay zero): dot products are cosines.
  MatrixView normalized_vectors() const { return MatrixView(normalized_, n_items_, config_.dim); }

  /// True when item `item` has a vector (it occurred at least min_count times).
  bool has_vector(std::size_t item) const noexcept {
    return item < n_items_ && counts_[item] >= config_.min_count;
  }
  /// Occurrences of each item in the training sequences (fit and fold-ins together).
  std::span<const std::uint64_t> item_counts() const noexcept { return counts_; }

  /// The item ids, by index.
  const IdMap& items() const noexcept { return items_; }
  /// The index of the item whose id is `id`; throws Error when the id is unknown.
  std::size_t item_index(std::string_view id) const { return items_.at(id, "item"); }

  /// An Embedder over the items: embed(id) writes the item's unit vector. Valid while this model
  /// lives and is not changed (fit and fold_in reallocate the vectors).
  Item2VecEmbedder embedder() const { return Item2VecEmbedder(items_, normalized_vectors()); }

  /// What the last fit() or fold_in() trained.
  TrainingCounts last_training() const noexcept { return last_; }

  /// Writes the model (see the class comment).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "item2vec", 1);
    w.u64("dim", config_.dim);
    w.u64("window", config_.window);
    w.u64("whole_sequence", config_.whole_sequence ? 1 : 0);
    w.u64("negatives", config_.negatives);
    w.u64("epochs", config_.epochs);
    w.f64("learning_rate", static_cast<double>(config_.learning_rate));
    w.f64("subsample", config_.subsample);
    w.u64("min_count", config_.min_count);
    w.u64("seed", config_.seed);
    w.u64("fitted", fitted_ ? 1 : 0);
    io::write_rng(w, "rng", rng_);
    io::write_strings(w, "ids", items_.ids());
    w.u64s("counts", counts_);
    w.floats("input", input_);
    w.floats("output", output_);
    w.u64("last_words", last_.words);
    w.u64("last_pairs", last_.pairs);
    w.finish();
  }

  /// Replaces the model with what save() wrote. Throws Error (model unchanged) on a truncated,
  /// corrupted or foreign stream, a Config the constructor refuses (or a dim above 2^20), a
  /// duplicate id, a non-finite vector value, or an item below min_count whose vectors are not
  /// zero.
  void load(std::istream& in) {
    constexpr const char* where = "loading a 'item2vec' model";
    constexpr std::uint64_t size_max = std::numeric_limits<std::size_t>::max();
    const auto check = [&](bool ok, auto&& message) {
      marl_rec::detail::require(ok, [&] { return std::string(where) + ": " + message(); });
    };
    io::ModelReader r(in, "item2vec", 1);
    Config c;
    // At most 2^20 floats per vector: no real embedding is wider, and n_items × dim cannot overflow.
    c.dim = static_cast<std::size_t>(r.u64("dim", 0, std::uint64_t{1} << 20));
    c.window = static_cast<std::size_t>(r.u64("window", 0, size_max));
    c.whole_sequence = r.u64("whole_sequence", 0, 1) == 1;
    c.negatives = static_cast<std::size_t>(r.u64("negatives", 0, size_max));
    c.epochs = static_cast<std::size_t>(r.u64("epochs", 0, size_max));
    const double rate = r.f64("learning_rate");
    c.learning_rate = static_cast<float>(rate);
    check(static_cast<double>(c.learning_rate) == rate || std::isnan(rate),
          [&] { return "learning_rate " + std::to_string(rate) + " is not a float"; });
    c.subsample = r.f64("subsample");
    c.min_count = static_cast<std::size_t>(r.u64("min_count", 0, size_max));
    c.seed = r.u64("seed");
    BasicItem2Vec loaded = [&] {
      try {
        return BasicItem2Vec(c);
      } catch (const Error& e) {
        throw Error(std::string(where) + ": " + e.what());
      }
    }();
    loaded.fitted_ = r.u64("fitted", 0, 1) == 1;
    loaded.rng_ = io::read_rng(r, "item2vec", "rng");
    std::vector<std::string> ids = io::read_strings(r, "ids", where);
    const std::size_t n = ids.size();
    check(loaded.fitted_ || n == 0, [&] { return std::to_string(n) + " items in a model never fitted"; });
    check(n < (std::size_t{1} << 40), [&] { return std::to_string(n) + " items (at most 2^40)"; });
    const std::vector<std::uint64_t> counts = r.u64s("counts", n);
    const std::vector<float> input = r.floats("input", n * c.dim);
    const std::vector<float> output = r.floats("output", n * c.dim);
    loaded.last_.words = r.u64("last_words");
    loaded.last_.pairs = r.u64("last_pairs");
    r.finish();
    for (std::size_t k = 0; k < input.size(); ++k) {
      check(std::isfinite(input[k]) && std::isfinite(output[k]), [&] {
        return "a vector value of item '" + ids[k / c.dim] + "' is not finite";
      });
    }
    for (std::size_t i = 0; i < n; ++i) {
      // An item below min_count was never initialised nor trained: both its rows are zero.
      if (counts[i] >= c.min_count) continue;
      for (std::size_t j = 0; j < c.dim; ++j) {
        check(input[i * c.dim + j] == 0.0f && output[i * c.dim + j] == 0.0f, [&] {
          return "item '" + ids[i] + "' has " + std::to_string(counts[i]) +
                 " occurrences (below min_count) but a vector";
        });
      }
    }
    try {
      loaded.items_ = IdMap::from_ids(std::move(ids), "item id");
    } catch (const Error& e) {
      throw Error(std::string(where) + ": " + e.what());
    }
    loaded.n_items_ = n;
    loaded.counts_ = counts;
    loaded.input_.assign(input.begin(), input.end());
    loaded.output_.assign(output.begin(), output.end());
    loaded.normalized_.assign(input.begin(), input.end());
    simd::normalize_rows(MutableMatrixView(loaded.normalized_, n, c.dim));
    *this = std::move(loaded);
  }

 private:
  static void check_config(const Config& c) {
    const auto require = [](bool ok, const char* what) {
      marl_rec::detail::require(ok, [&] { return std::string("Item2Vec: config.") + what; });
    };
    require(c.dim >= 1, "dim must be at least 1");
    require(c.whole_sequence || c.window >= 1, "window must be at least 1 (or whole_sequence)");
    require(c.negatives >= 1, "negatives must be at least 1");
    require(c.epochs >= 1, "epochs must be at least 1");
    require(std::isfinite(c.learning_rate) && c.learning_rate > 0.0f,
            "learning_rate must be finite and positive");
    require(std::isfinite(c.subsample) && c.subsample >= 0.0,
            "subsample must be finite and non-negative");
    require(c.min_count >= 1, "min_count must be at least 1");
  }

  void require_fitted(const char* what) const {
    marl_rec::detail::require(fitted_, [&] {
      return std::string("Item2Vec::") + what + ": the model has not been fitted";
    });
  }

  std::span<float> input_row(std::size_t i) noexcept {
    return {input_.data() + i * config_.dim, config_.dim};
  }
  std::span<float> output_row(std::size_t i) noexcept {
    return {output_.data() + i * config_.dim, config_.dim};
  }

  // A fresh input vector for item i (uniform in [−0.5/dim, 0.5/dim), as word2vec) and a zero
  // output vector.
  void initialise_item(std::size_t i) {
    const double half_width = 0.5 / static_cast<double>(config_.dim);
    for (float& x : input_row(i)) x = static_cast<float>(rng_.uniform(-half_width, half_width));
    std::fill(output_row(i).begin(), output_row(i).end(), 0.0f);
  }

  // Grows the vector arrays to `n` items (new rows zero: no vector yet).
  void resize_items(std::size_t n) {
    n_items_ = n;
    input_.resize(n * config_.dim, 0.0f);
    output_.resize(n * config_.dim, 0.0f);
  }

  void check_indices(const char* where, std::span<const std::vector<std::size_t>> sequences,
                     std::size_t n_items) const {
    for (std::size_t s = 0; s < sequences.size(); ++s) {
      for (const std::size_t item : sequences[s]) {
        marl_rec::detail::require(item < n_items, [&] {
          return std::string("Item2Vec::") + where + ": sequence " + std::to_string(s) +
                 " has item index " + std::to_string(item) + ", but there are " +
                 std::to_string(n_items) + " items";
        });
      }
    }
  }

  // Counts of `sequences` added to `counts` (grown to n_items); throws Error (naming `where`)
  // when no sequence has two items that reach min_count with these counts.
  std::vector<std::uint64_t> counts_with(const char* where,
                                         std::span<const std::vector<std::size_t>> sequences,
                                         std::vector<std::uint64_t> counts,
                                         std::size_t n_items) const {
    check_indices(where, sequences, n_items);
    counts.resize(n_items, 0);
    for (const auto& sequence : sequences) {
      for (const std::size_t item : sequence) ++counts[item];
    }
    bool has_pair = false;
    for (const auto& sequence : sequences) {
      std::size_t kept = 0;
      for (const std::size_t item : sequence) kept += counts[item] >= config_.min_count ? 1 : 0;
      has_pair = has_pair || kept >= 2;
    }
    marl_rec::detail::require(has_pair, [&] {
      return std::string("Item2Vec::") + where +
             ": no sequence has two items with at least min_count (" +
             std::to_string(config_.min_count) + ") occurrences: nothing to learn from";
    });
    return counts;
  }

  // Everything is checked before the model changes, so a throwing fit leaves it as it was.
  void fit_indexed(std::span<const std::vector<std::size_t>> sequences, std::size_t n_items,
                   const IdMap& ids) {
    std::vector<std::uint64_t> counts = counts_with("fit", sequences, {}, n_items);
    rng_ = Rng(config_.seed);
    items_ = ids;
    n_items_ = 0;
    input_.clear();
    output_.clear();
    counts_.clear();
    resize_items(n_items);
    counts_ = std::move(counts);
    for (std::size_t i = 0; i < n_items_; ++i) {
      if (has_vector(i)) initialise_item(i);
    }
    train(sequences, config_.epochs);
    fitted_ = true;
  }

  void fold_in_indexed(std::span<const std::vector<std::size_t>> sessions, std::size_t epochs,
                       IdMap ids) {
    marl_rec::detail::require(epochs >= 1, "Item2Vec::fold_in: epochs must be at least 1");
    const std::size_t n = std::max(ids.size(), n_items_);
    std::vector<std::uint64_t> counts = counts_with("fold_in", sessions, counts_, n);
    std::vector<unsigned char> had_vector(n_items_);
    for (std::size_t i = 0; i < n_items_; ++i) had_vector[i] = has_vector(i) ? 1 : 0;
    const std::size_t old_n = n_items_;
    items_ = std::move(ids);
    resize_items(n);
    counts_ = std::move(counts);
    for (std::size_t i = 0; i < n_items_; ++i) {
      if (has_vector(i) && (i >= old_n || had_vector[i] == 0)) initialise_item(i);
    }
    train(sessions, epochs);
  }

  // Walker's alias table over the items with a vector, weights count^0.75: one uniform draw per
  // negative, exact probabilities, O(n_items) memory.
  void build_noise_table() {
    noise_items_.clear();
    std::vector<double> weight;
    for (std::size_t i = 0; i < n_items_; ++i) {
      if (!has_vector(i)) continue;
      noise_items_.push_back(i);
      weight.push_back(std::pow(static_cast<double>(counts_[i]), 0.75));
    }
    const std::size_t n = noise_items_.size();
    double total = 0.0;
    for (const double w : weight) total += w;
    noise_probability_.assign(n, 1.0);
    noise_alias_.resize(n);
    for (std::size_t i = 0; i < n; ++i) noise_alias_[i] = i;
    std::vector<double> scaled(n);
    std::vector<std::size_t> small, large;
    for (std::size_t i = 0; i < n; ++i) {
      scaled[i] = weight[i] * static_cast<double>(n) / total;
      (scaled[i] < 1.0 ? small : large).push_back(i);
    }
    while (!small.empty() && !large.empty()) {
      const std::size_t s = small.back();
      small.pop_back();
      const std::size_t l = large.back();
      noise_probability_[s] = scaled[s];
      noise_alias_[s] = l;
      scaled[l] = (scaled[l] + scaled[s]) - 1.0;
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // Whatever is left has probability 1 up to rounding (noise_probability_ is already 1).
  }

  std::size_t draw_negative() noexcept {
    const double u = rng_.uniform() * static_cast<double>(noise_items_.size());
    const auto slot = std::min(static_cast<std::size_t>(u), noise_items_.size() - 1);
    const double fraction = u - static_cast<double>(slot);
    return noise_items_[fraction < noise_probability_[slot] ? slot : noise_alias_[slot]];
  }

  // One (context, item) pair: a logistic step of the context's input vector against the item's
  // output vector (label 1) and the negatives' output vectors (label 0).
  void train_pair(std::size_t context, std::size_t item, float alpha, std::span<float> gradient) {
    std::fill(gradient.begin(), gradient.end(), 0.0f);
    const std::span<float> in = input_row(context);
    for (std::size_t d = 0; d <= config_.negatives; ++d) {
      std::size_t target = item;
      if (d > 0) {
        target = draw_negative();
        if (target == item) continue;
      }
      const std::span<float> out = output_row(target);
      const float f = Ops::dot(in, out);
      const float label = d == 0 ? 1.0f : 0.0f;
      const float g = (label - 1.0f / (1.0f + std::exp(-f))) * alpha;
      Ops::axpy(g, out, gradient);
      Ops::axpy(g, in, out);
    }
    Ops::axpy(1.0f, gradient, in);
  }

  void train(std::span<const std::vector<std::size_t>> sequences, std::size_t epochs) {
    // Occurrences of items with a vector, per sequence (the rest is left out of training).
    std::vector<std::vector<std::size_t>> kept_sequences;
    kept_sequences.reserve(sequences.size());
    std::uint64_t words_per_epoch = 0;
    for (const auto& sequence : sequences) {
      std::vector<std::size_t> kept;
      for (const std::size_t item : sequence) {
        if (has_vector(item)) kept.push_back(item);
      }
      words_per_epoch += kept.size();
      if (kept.size() >= 2) kept_sequences.push_back(std::move(kept));
    }
    build_noise_table();

    // Keep probability per item (word2vec's formula), from the counts of every item trained so far.
    std::uint64_t total_count = 0;
    for (std::size_t i = 0; i < n_items_; ++i) {
      if (has_vector(i)) total_count += counts_[i];
    }
    std::vector<double> keep(n_items_, 1.0);
    if (config_.subsample > 0.0) {
      const double threshold = config_.subsample * static_cast<double>(total_count);
      for (std::size_t i = 0; i < n_items_; ++i) {
        if (counts_[i] == 0) continue;
        const double c = static_cast<double>(counts_[i]);
        keep[i] = std::min(1.0, (std::sqrt(c / threshold) + 1.0) * threshold / c);
      }
    }

    last_ = {};
    const double total_words = static_cast<double>(epochs) * static_cast<double>(words_per_epoch);
    std::vector<std::size_t> order(kept_sequences.size());
    std::vector<std::size_t> sample;
    AlignedVector<float> gradient(config_.dim);
    for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      shuffle(order.begin(), order.end(), rng_);
      for (const std::size_t s : order) {
        const std::vector<std::size_t>& sequence = kept_sequences[s];
        const double progress = static_cast<double>(last_.words) / (total_words + 1.0);
        const float alpha =
            config_.learning_rate * static_cast<float>(std::max(1.0 - progress, 1e-4));
        last_.words += sequence.size();
        sample.clear();
        for (const std::size_t item : sequence) {
          if (keep[item] >= 1.0 || rng_.uniform() < keep[item]) sample.push_back(item);
        }
        const std::size_t n = sample.size();
        for (std::size_t pos = 0; pos < n; ++pos) {
          std::size_t first = 0;
          std::size_t last = n;  // one past
          if (!config_.whole_sequence) {
            const std::size_t b = static_cast<std::size_t>(rng_.below(config_.window)) + 1;
            first = pos >= b ? pos - b : 0;
            last = std::min(n, pos + b + 1);
          }
          for (std::size_t c = first; c < last; ++c) {
            if (c == pos) continue;
            train_pair(sample[c], sample[pos], alpha, gradient);
            ++last_.pairs;
          }
        }
      }
    }
    normalized_.assign(input_.begin(), input_.end());
    simd::normalize_rows(MutableMatrixView(normalized_, n_items_, config_.dim));
  }

  Config config_{};
  bool fitted_ = false;
  Rng rng_{};
  IdMap items_{};
  std::size_t n_items_ = 0;
  AlignedVector<float> input_{};
  AlignedVector<float> output_{};
  AlignedVector<float> normalized_{};
  std::vector<std::uint64_t> counts_{};
  std::vector<std::size_t> noise_items_{};
  std::vector<double> noise_probability_{};
  std::vector<std::size_t> noise_alias_{};
  TrainingCounts last_{};
};

/// Item2Vec with the SIMD kernels.
using Item2Vec = BasicItem2Vec<>;

}  // namespace marl_rec
