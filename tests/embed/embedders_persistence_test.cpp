// Save/load of the embedders: HashingEmbedder, PrecomputedEmbedder, WordVectorEmbedder, Item2Vec
// and SequenceEncoder. Each: a round trip gives the same bytes and the same vectors, training
// goes on bit for bit, a load replaces another configuration, and damaged or forged streams are
// Errors that change nothing.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/rng.hpp"
#include "marl_rec/embed/hashing_embedder.hpp"
#include "marl_rec/embed/item2vec.hpp"
#include "marl_rec/embed/precomputed_embedder.hpp"
#include "marl_rec/embed/sequence_encoder.hpp"
#include "marl_rec/embed/word_vector_embedder.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/npy.hpp"
#include "marl_rec/io/string_fields.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "support/embedding.hpp"
#include "support/errors.hpp"
#include "support/stream_checks.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace mr = marl_rec;
using mr::test::check_damage_rejected;
using mr::test::embedded;
using mr::test::error_of;
using mr::test::load_error;
using mr::test::saved;
using Sequences = std::vector<std::vector<std::size_t>>;

const float nan_f = std::numeric_limits<float>::quiet_NaN();

std::vector<float> copy(mr::MatrixView m) {
  std::vector<float> out;
  for (std::size_t r = 0; r < m.rows(); ++r) out.insert(out.end(), m.row(r).begin(), m.row(r).end());
  return out;
}

// ---- HashingEmbedder --------------------------------------------------------------------------

const std::vector<std::string_view> kTexts = {"red running shoes", "blue suede shoes",
                                              "a running watch with gps", "Naïve café au lait",
                                              "shoes shoes shoes"};

mr::HashingEmbedder fitted_hasher(std::size_t idf_buckets) {
  mr::HashingEmbedder h({.dim = 16, .word_bigrams = false, .char_ngram_min = 2, .char_ngram_max = 4,
                         .char_ngram_weight = 0.75f, .seed = 9, .idf_buckets = idf_buckets});
  h.fit_idf(kTexts);
  return h;
}

// ---- WordVectorEmbedder ----------------------------------------------------------------------

mr::WordVectorEmbedder small_word_vectors(std::uint64_t seed = 1) {
  const std::vector<std::string_view> words = {"the", "red", "Blue", "shoe", "shoes", "run", "watch"};
  mr::Rng rng(seed);
  std::vector<float> vectors(words.size() * 4);
  for (float& v : vectors) v = static_cast<float>(rng.normal());
  return mr::WordVectorEmbedder(words, 4, vectors, {.sif_a = 1e-2, .oov_ngram_min = 2, .seed = 5});
}

// ---- Item2Vec ------------------------------------------------------------------------------------

Sequences sessions(std::size_t n, std::size_t items, std::uint64_t seed) {
  mr::Rng rng(seed);
  Sequences out(n);
  for (auto& s : out) {
    const std::size_t length = 2 + static_cast<std::size_t>(rng.below(4));
    for (std::size_t i = 0; i < length; ++i) s.push_back(static_cast<std::size_t>(rng.below(items)));
  }
  return out;
}

// ---- SequenceEncoder -------------------------------------------------------------------------

mr::AlignedVector<float> unit_vectors(std::size_t n, std::size_t d, std::uint64_t seed) {
  mr::Rng rng(seed);
  mr::AlignedVector<float> v(n * d);
  for (float& x : v) x = static_cast<float>(rng.normal());
  mr::simd::normalize_rows(mr::MutableMatrixView(v, n, d));
  return v;
}

template <class Encoder>
std::vector<float> encodings(const Encoder& e, mr::MatrixView items, const Sequences& histories) {
  std::vector<float> out;
  std::vector<float> z(items.cols());
  for (const auto& h : histories) {
    e.encode(items, h, z);
    out.insert(out.end(), z.begin(), z.end());
  }
  return out;
}

}  // namespace

TEST_CASE("HashingEmbedder: save and load keep the config and the IDF table, bit for bit") {
  const mr::HashingEmbedder original = fitted_hasher(64);
  const std::string bytes = saved(original);
  mr::HashingEmbedder loaded;  // another config, no IDF
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.dim() == 16);
  CHECK(loaded.config().char_ngram_weight == 0.75f);
  CHECK(loaded.config().seed == 9);
  CHECK(loaded.has_idf());
  for (const std::string_view text : {std::string_view("red shoes"), std::string_view("Café GPS watch"),
                                      std::string_view("unseen words entirely")}) {
    CAPTURE(text);
    CHECK(embedded(loaded, text) == embedded(original, text));
  }
  // Without an IDF table, and refitted after a load: the same as never saved.
  mr::HashingEmbedder plain({.dim = 8, .seed = 1});
  mr::HashingEmbedder target = fitted_hasher(64);
  CHECK(load_error(target, saved(plain)) == "no error");
  CHECK_FALSE(target.has_idf());
  CHECK(embedded(target, "red shoes") == embedded(plain, "red shoes"));
  target.fit_idf(kTexts);
  plain.fit_idf(kTexts);
  CHECK(saved(target) == saved(plain));
}

TEST_CASE("HashingEmbedder: damaged, foreign and forged streams are Errors that change nothing") {
  mr::HashingEmbedder target({.dim = 4});
  const std::string before = saved(target);
  check_damage_rejected(target, saved(fitted_hasher(8)), "hashing_embedder");
  CHECK(load_error(target, saved(mr::Item2Vec())) ==
        "loading a 'hashing_embedder' model: the stream holds a 'item2vec' model");
  struct Fields {
    std::uint64_t dim = 4;
    double weight = 0.5;
    std::vector<float> idf{1.0f, 2.0f};
  };
  const auto forge = [](const Fields& f) {
    std::ostringstream out;
    mr::io::ModelWriter w(out, "hashing_embedder", 1);
    w.u64("dim", f.dim);
    w.u64("word_bigrams", 1);
    w.u64("char_ngram_min", 3);
    w.u64("char_ngram_max", 5);
    w.f64("char_ngram_weight", f.weight);
    w.u64("seed", 0);
    w.u64("idf_buckets", 2);
    w.floats("idf", f.idf);
    w.finish();
    return out.str();
  };
  mr::HashingEmbedder probe;
  CHECK(load_error(probe, forge({})) == "no error");
  CHECK(probe.idf().size() == 2);
  CHECK(load_error(target, forge({.dim = 0})) ==
        "loading a 'hashing_embedder' model: HashingEmbedder: dim must be in [1, 2^24], got 0");
  CHECK(load_error(target, forge({.weight = 0.1})) ==
        "loading a 'hashing_embedder' model: char_ngram_weight 0.100000 is not a float");
  CHECK(load_error(target, forge({.weight = -1.0})) ==
        "loading a 'hashing_embedder' model: HashingEmbedder: char_ngram_weight must be finite and >= 0, got "
        "-1.000000");
  CHECK(load_error(target, forge({.idf = {1.0f, 2.0f, 3.0f}})) ==
        "loading a 'hashing_embedder' model: field 'idf' has 3 values, expected 0 or 2 (idf_buckets)");
  CHECK(load_error(target, forge({.idf = {1.0f, 0.5f}})) ==
        "loading a 'hashing_embedder' model: IDF bucket 1 holds 0.500000 (fit_idf gives finite values >= 1)");
  CHECK(load_error(target, forge({.idf = {nan_f, 1.0f}})).starts_with(
      "loading a 'hashing_embedder' model: IDF bucket 0 holds"));
  CHECK(saved(target) == before);
}

TEST_CASE("PrecomputedEmbedder: save and load give the same table, and other copies keep theirs") {
  // Rows of unit length, written to an .npy file: the source is used from its memory map.
  const std::vector<float> rows = {0.6f, 0.8f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.5f, 0.5f, 0.5f, 0.5f};
  mr::test::TempDir dir;
  const std::string ids = dir.write("ids.txt", std::string_view("a\nb b\nc\n"));
  const std::string npy = dir.path("v.npy");
  mr::io::write_npy(npy, mr::MatrixView(rows, 3, 4));
  const mr::PrecomputedEmbedder mapped = mr::PrecomputedEmbedder::from_npy(npy, ids);
  REQUIRE(mapped.memory_mapped());
  const std::string bytes = saved(mapped);

  const mr::PrecomputedEmbedder loaded = [&] {
    std::istringstream in(bytes);
    return mr::PrecomputedEmbedder::from_saved(in);
  }();
  CHECK_FALSE(loaded.memory_mapped());  // loaded into memory of its own
  CHECK(loaded.config().memory_map);    // the setting itself is kept
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.ids() == mapped.ids());
  CHECK(copy(loaded.matrix()) == rows);
  CHECK(embedded(loaded, "b b") == embedded(mapped, "b b"));
  CHECK(loaded.find("c") == std::optional<std::size_t>(2));

  // A load into an embedder of another shape and config: its copies keep the old table.
  const std::vector<float> other_rows = {3.0f, 4.0f, 0.0f, 2.0f};  // normalised by the constructor
  mr::PrecomputedEmbedder target({"x", "y"}, mr::MatrixView(other_rows, 2, 2),
                                 {.normalize = true, .memory_map = false});
  const mr::PrecomputedEmbedder copy_of_target = target;
  const std::vector<float> target_rows = copy(target.matrix());
  CHECK(load_error(target, bytes) == "no error");
  CHECK(target.dim() == 4);
  CHECK(target.ids() == mapped.ids());
  CHECK(target.config().memory_map);
  CHECK(copy_of_target.dim() == 2);
  CHECK(copy(copy_of_target.matrix()) == target_rows);
  CHECK(embedded(copy_of_target, "y") == std::vector<float>{0.0f, 1.0f});

  // normalize off: rows within the tolerance are kept as they are, and round-trip.
  const std::vector<float> loose = {1.0005f, 0.0f, 0.0f, 0.9995f};
  const mr::PrecomputedEmbedder strict({"p", "q"}, mr::MatrixView(loose, 2, 2),
                                       {.normalize = false, .norm_tolerance = 1e-3f});
  mr::PrecomputedEmbedder reloaded = target;
  CHECK(load_error(reloaded, saved(strict)) == "no error");
  CHECK(copy(reloaded.matrix()) == loose);
  CHECK(saved(reloaded) == saved(strict));
}

TEST_CASE("PrecomputedEmbedder: damaged, foreign and forged streams are Errors that change nothing") {
  const std::vector<float> rows = {1.0f, 0.0f, 0.0f, 1.0f};
  mr::PrecomputedEmbedder target({"x", "y"}, mr::MatrixView(rows, 2, 2));
  const std::string before = saved(target);
  const std::vector<float> other = {0.6f, 0.8f, 0.8f, -0.6f, 0.0f, 1.0f};
  check_damage_rejected(target, saved(mr::PrecomputedEmbedder({"a", "b", "c"}, mr::MatrixView(other, 3, 2))),
                        "precomputed_embedder");
  CHECK(load_error(target, saved(mr::HashingEmbedder())) ==
        "loading a 'precomputed_embedder' model: the stream holds a 'hashing_embedder' model");
  struct Fields {
    std::uint64_t normalize = 1;
    double tolerance = 0.0009765625;  // 2^-10, a float
    std::uint64_t dim = 2;
    std::vector<std::string> ids{"a", "b"};
    std::vector<float> vectors{1.0f, 0.0f, 0.0f, 1.0f};
  };
  const auto forge = [](const Fields& f) {
    std::ostringstream out;
    mr::io::ModelWriter w(out, "precomputed_embedder", 1);
    w.u64("normalize", f.normalize);
    w.u64("memory_map", 1);
    w.f64("norm_tolerance", f.tolerance);
    w.u64("dim", f.dim);
    mr::io::write_strings(w, "ids", f.ids);
    w.floats("vectors", f.vectors);
    w.finish();
    return out.str();
  };
  mr::PrecomputedEmbedder probe = target;
  CHECK(load_error(probe, forge({})) == "no error");
  const std::string where = "loading a 'precomputed_embedder' model: ";
  CHECK(load_error(target, forge({.ids = {"a", "a"}})) ==
        where + "PrecomputedEmbedder: duplicate id 'a' at row 1 and row 2");
  CHECK(load_error(target, forge({.ids = {"a", ""}})) == where + "id 1 is empty");
  CHECK(load_error(target, forge({.ids = {}, .vectors = {}})) ==
        where + "PrecomputedEmbedder: the matrix has no vectors (0 rows)");
  CHECK(load_error(target, forge({.vectors = {1.0f, 0.0f, 0.0f, 2.0f}})) ==
        where + "the vector of id 'b' has length 2.000000, not 1");
  CHECK(load_error(target, forge({.vectors = {1.0f, 0.0f, nan_f, 1.0f}})) ==
        where + "PrecomputedEmbedder: row 2 (id 'b'): element [0] is NaN (every value must be finite)");
  CHECK(load_error(target, forge({.normalize = 0, .vectors = {1.0f, 0.0f, 0.0f, 1.5f}})).starts_with(
      where + "PrecomputedEmbedder: row 2 (id 'b'): length 1.500000, expected 1 within"));
  CHECK(load_error(target, forge({.tolerance = 0.1})) == where + "norm_tolerance 0.100000 is not a finite float");
  CHECK(load_error(target, forge({.dim = 0})) == where + "field 'dim' = 0 is outside [1, 16777216]");
  CHECK(saved(target) == before);
}

TEST_CASE("WordVectorEmbedder: save and load keep vocabulary, weights and common component") {
  mr::WordVectorEmbedder original = small_word_vectors();
  const std::vector<mr::WordVectorEmbedder::WordCount> counts = {
      {"the", 50.0}, {"red", 3.0}, {"shoes", 7.0}, {"unseen", 40.0}};
  original.set_word_counts(counts);
  const std::vector<std::string_view> corpus = {"the red shoes", "blue shoe run", "the watch", "red run"};
  original.fit_common_component(corpus);
  const std::string bytes = saved(original);

  mr::WordVectorEmbedder loaded = [&] {
    std::istringstream in(bytes);
    return mr::WordVectorEmbedder::from_saved(in);
  }();
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.vocabulary_size() == original.vocabulary_size());
  CHECK(loaded.find("blue") == original.find("blue"));  // the lower-cased alias of "Blue"
  CHECK(loaded.mean_norm() == original.mean_norm());
  for (const std::string_view text : {std::string_view("the red shoes"), std::string_view("BLUE watch"),
                                      std::string_view("zebra crossing"), std::string_view("run run shoe")}) {
    CAPTURE(text);
    CHECK(embedded(loaded, text) == embedded(original, text));
  }
  // Refitted alike afterwards.
  original.fit_common_component({corpus.data(), 2});
  loaded.fit_common_component({corpus.data(), 2});
  CHECK(saved(loaded) == saved(original));

  // A load into an embedder of another dim and config.
  const std::vector<std::string_view> words = {"only"};
  const std::vector<float> vector = {1.0f, 2.0f};
  mr::WordVectorEmbedder target(words, 2, vector, {.oov = mr::WordVectorOov::skip, .seed = 77});
  CHECK(load_error(target, bytes) == "no error");
  CHECK(target.dim() == 4);
  CHECK(target.config().oov == mr::WordVectorOov::hash);
  CHECK(target.config().sif_a == 1e-2);
  CHECK(saved(target) == bytes);
}

TEST_CASE("WordVectorEmbedder: damaged, foreign and forged streams are Errors that change nothing") {
  mr::WordVectorEmbedder target = small_word_vectors(2);
  const std::string before = saved(target);
  check_damage_rejected(target, saved(small_word_vectors(3)), "word_vector_embedder", 3);
  CHECK(load_error(target, saved(mr::HashingEmbedder())) ==
        "loading a 'word_vector_embedder' model: the stream holds a 'hashing_embedder' model");
  struct Fields {
    double sif_a = 1e-3;
    std::uint64_t dim = 2;
    std::vector<std::string> words{"a", "b"};
    std::vector<float> vectors{1, 0, 0, 1};
    std::vector<float> weights{0.5f, 1.0f};
    std::vector<float> component{};
  };
  const auto forge = [](const Fields& f) {
    std::ostringstream out;
    mr::io::ModelWriter w(out, "word_vector_embedder", 1);
    w.u64("oov", 0);
    w.f64("sif_a", f.sif_a);
    w.u64("max_words", 0);
    w.u64("oov_ngram_min", 3);
    w.u64("oov_ngram_max", 5);
    w.u64("seed", 0);
    w.u64("dim", f.dim);
    mr::io::write_strings(w, "words", f.words);
    w.floats("vectors", f.vectors);
    w.floats("weights", f.weights);
    w.floats("common_component", f.component);
    w.finish();
    return out.str();
  };
  mr::WordVectorEmbedder probe = small_word_vectors();
  CHECK(load_error(probe, forge({.component = {0.6f, 0.8f}})) == "no error");
  CHECK(probe.weight(0) == 0.5f);
  CHECK(probe.common_component().size() == 2);
  const std::string where = "loading a 'word_vector_embedder' model: ";
  CHECK(load_error(target, forge({.sif_a = 0.0})) ==
        where + "WordVectorEmbedder: sif_a must be finite and > 0, got 0.000000");
  CHECK(load_error(target, forge({.words = {"a", "a"}})) ==
        where + "word 1: duplicate word 'a' (also word 0)");
  CHECK(load_error(target, forge({.words = {"a", ""}})) == where + "word 1: an empty word");
  CHECK(load_error(target, forge({.words = {}, .vectors = {}, .weights = {}})) ==
        where + "0 words (need 1 .. 2^31 - 2)");
  CHECK(load_error(target, forge({.vectors = {1, 0, nan_f, 1}})).starts_with(
      where + "word 1: value 1 of 'b' is not finite"));
  CHECK(load_error(target, forge({.weights = {0.5f, 2.0f}})) ==
        where + "the SIF weight of 'b' is 2.000000, not in [0, 1]");
  CHECK(load_error(target, forge({.component = {1.0f, 1.0f}})) ==
        where + "the common component has length 1.414214, not 1");
  CHECK(load_error(target, forge({.component = {1.0f}})) ==
        where + "field 'common_component' has 1 values, expected 0 or 2 (dim)");
  CHECK(saved(target) == before);
}

TEST_CASE("Item2Vec: save and load mid-way, then fold_in, give the same model as never stopping") {
  const mr::Item2Vec::Config config{.dim = 6, .window = 2, .negatives = 3, .epochs = 3,
                                    .learning_rate = 0.05f, .subsample = 0.05, .min_count = 2,
                                    .seed = 17};
  mr::Item2Vec never_saved(config);
  never_saved.fit(sessions(40, 12, 1), 12);
  const std::string bytes = saved(never_saved);

  mr::Item2Vec loaded({.dim = 3, .whole_sequence = true, .seed = 1});
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.config().dim == 6);
  CHECK(loaded.config().min_count == 2);
  CHECK(loaded.n_items() == 12);
  CHECK(copy(loaded.vectors()) == copy(never_saved.vectors()));
  CHECK(copy(loaded.context_vectors()) == copy(never_saved.context_vectors()));
  CHECK(copy(loaded.normalized_vectors()) == copy(never_saved.normalized_vectors()));
  CHECK(loaded.last_training().pairs == never_saved.last_training().pairs);

  // Fold-ins with new items (the generator, counts and noise tables carry on identically).
  for (int round = 0; round < 4; ++round) {
    const Sequences more = sessions(15, 12 + 3 * static_cast<std::size_t>(round), 100 + static_cast<std::uint64_t>(round));
    loaded.fold_in(more, 2);
    never_saved.fold_in(more, 2);
    CHECK(saved(loaded) == saved(never_saved));
  }
  CHECK(loaded.item_index("14") == 14);
  CHECK(copy(loaded.normalized_vectors()) == copy(never_saved.normalized_vectors()));

  SUBCASE("an unfitted model round-trips, and cannot fold in") {
    mr::Item2Vec fresh({.dim = 2});
    CHECK(load_error(loaded, saved(fresh)) == "no error");
    CHECK(loaded.n_items() == 0);
    CHECK(error_of([&] { loaded.fold_in(sessions(3, 4, 1), 1); }) ==
          "Item2Vec::fold_in: the model has not been fitted");
  }
}

TEST_CASE("Item2Vec: damaged, foreign and forged streams are Errors that change nothing") {
  mr::Item2Vec target({.dim = 2, .epochs = 1, .seed = 3});
  target.fit(sessions(6, 5, 2), 5);
  const std::string before = saved(target);
  mr::Item2Vec source({.dim = 2, .epochs = 1, .min_count = 2, .seed = 4});
  source.fit(sessions(8, 4, 3), 4);
  check_damage_rejected(target, saved(source), "item2vec", 4);
  CHECK(load_error(target, saved(mr::SequenceEncoder())) ==
        "loading a 'item2vec' model: the stream holds a 'sequence_encoder' model");
  struct Fields {
    std::uint64_t dim = 2, negatives = 1, fitted = 1;
    std::vector<std::uint64_t> rng{1, 2, 3, 4, 0, 0};
    std::vector<std::string> ids{"a", "b"};
    std::vector<std::uint64_t> counts{2, 0};
    std::vector<float> input{0.1f, 0.2f, 0.0f, 0.0f};
    std::vector<float> output{0.0f, 0.3f, 0.0f, 0.0f};
  };
  const auto forge = [](const Fields& f) {
    std::ostringstream out;
    mr::io::ModelWriter w(out, "item2vec", 1);
    w.u64("dim", f.dim);
    w.u64("window", 5);
    w.u64("whole_sequence", 0);
    w.u64("negatives", f.negatives);
    w.u64("epochs", 5);
    w.f64("learning_rate", 0.025f);
    w.f64("subsample", 1e-3);
    w.u64("min_count", 1);
    w.u64("seed", 42);
    w.u64("fitted", f.fitted);
    w.u64s("rng", f.rng);
    mr::io::write_strings(w, "ids", f.ids);
    w.u64s("counts", f.counts);
    w.floats("input", f.input);
    w.floats("output", f.output);
    w.u64("last_words", 0);
    w.u64("last_pairs", 0);
    w.finish();
    return out.str();
  };
  mr::Item2Vec probe;
  CHECK(load_error(probe, forge({})) == "no error");
  CHECK(probe.has_vector(0));
  CHECK_FALSE(probe.has_vector(1));
  const std::string where = "loading a 'item2vec' model: ";
  CHECK(load_error(target, forge({.negatives = 0})) == where + "Item2Vec: config.negatives must be at least 1");
  CHECK(load_error(target, forge({.rng = {0, 0, 0, 0, 0, 0}})) ==
        where + "field 'rng': Rng::from_state: the all-zero xoshiro256** state is invalid");
  CHECK(load_error(target, forge({.ids = {"a", "a"}})) == where + "duplicate item id 'a' (indices 0 and 1)");
  CHECK(load_error(target, forge({.fitted = 0})) == where + "2 items in a model never fitted");
  CHECK(load_error(target, forge({.input = {0.1f, nan_f, 0.0f, 0.0f}})) ==
        where + "a vector value of item 'a' is not finite");
  CHECK(load_error(target, forge({.output = {0.0f, 0.3f, 0.0f, 0.5f}})) ==
        where + "item 'b' has 0 occurrences (below min_count) but a vector");
  CHECK(load_error(target, forge({.counts = {2}})) == where + "field 'counts' has 1 values, expected 2");
  CHECK(saved(target) == before);
}

TEST_CASE("SequenceEncoder: save and load keep the config and the learned parameters") {
  const mr::AlignedVector<float> items = unit_vectors(10, 4, 1);
  const mr::MatrixView view(items, 10, 4);
  const Sequences train = sessions(12, 10, 5);
  mr::SequenceEncoder original({.mode = mr::SequenceEncoderConfig::Mode::attention,
                                .max_history = 3,
                                .query = mr::SequenceEncoderConfig::Query::learned,
                                .projections = true,
                                .learning_rate = 0.05,
                                .epochs = 2,
                                .negatives = 3,
                                .seed = 8});
  original.train(view, train);
  const std::string bytes = saved(original);
  mr::SequenceEncoder loaded;  // mean mode, no parameters
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.trainable());
  CHECK(loaded.config().max_history == 3);
  CHECK(encodings(loaded, view, train) == encodings(original, view, train));
  CHECK(loaded.mean_loss(view, train, 4) == original.mean_loss(view, train, 4));
  // Trained again on other data: the same parameters.
  const Sequences more = sessions(9, 10, 6);
  CHECK(loaded.train(view, more) == original.train(view, more));
  CHECK(saved(loaded) == saved(original));

  // Configurations without parameters, and the double encoder (its own stream type).
  mr::SequenceEncoder recency({.mode = mr::SequenceEncoderConfig::Mode::recency, .half_life = 2.5});
  CHECK(load_error(loaded, saved(recency)) == "no error");
  CHECK(encodings(loaded, view, train) == encodings(recency, view, train));
  mr::BasicSequenceEncoder<double> f64({.mode = mr::SequenceEncoderConfig::Mode::attention,
                                        .query = mr::SequenceEncoderConfig::Query::learned, .seed = 2});
  f64.initialize(4);
  mr::BasicSequenceEncoder<double> f64_loaded;
  CHECK(load_error(f64_loaded, saved(f64)) == "no error");
  CHECK(f64_loaded.parameters().query == f64.parameters().query);
  CHECK(load_error(loaded, saved(f64)) ==
        "loading a 'sequence_encoder' model: the stream holds a 'sequence_encoder_f64' model");
}

TEST_CASE("SequenceEncoder: damaged and forged streams are Errors that change nothing") {
  mr::SequenceEncoder target({.mode = mr::SequenceEncoderConfig::Mode::attention, .projections = true});
  target.initialize(2);
  const std::string before = saved(target);
  mr::SequenceEncoder source({.mode = mr::SequenceEncoderConfig::Mode::attention,
                              .query = mr::SequenceEncoderConfig::Query::learned, .seed = 3});
  source.initialize(3);
  check_damage_rejected(target, saved(source), "sequence_encoder");
  struct Fields {
    std::uint64_t mode = 2, projections = 0, epochs = 5, dim = 2;
    std::vector<float> query{0.5f, -0.5f};
  };
  const auto forge = [](const Fields& f) {
    std::ostringstream out;
    mr::io::ModelWriter w(out, "sequence_encoder", 1);
    w.u64("mode", f.mode);
    w.u64("max_history", 50);
    w.f64("half_life", 5.0);
    w.u64("query", 1);
    w.u64("projections", f.projections);
    w.u64("optimizer", 1);
    w.f64("learning_rate", 0.01);
    w.u64("epochs", f.epochs);
    w.u64("negatives", 20);
    w.f64("init_scale", 0.1);
    w.u64("seed", 42);
    w.u64("dim", f.dim);
    const std::vector<float> none;
    w.floats("w_q", none);
    w.floats("w_k", none);
    w.floats("w_v", none);
    w.floats("query_vector", f.query);
    w.finish();
    return out.str();
  };
  mr::SequenceEncoder probe;
  CHECK(load_error(probe, forge({})) == "no error");
  CHECK(probe.parameters().query.size() == 2);
  const std::string where = "loading a 'sequence_encoder' model: ";
  CHECK(load_error(target, forge({.epochs = 0})) == where + "SequenceEncoder: config.epochs must be at least 1");
  CHECK(load_error(target, forge({.mode = 3})) == where + "field 'mode' = 3 is outside [0, 2]");
  CHECK(load_error(target, forge({.mode = 0})) == where + "field 'dim' = 2 is outside [0, 0]");
  CHECK(load_error(target, forge({.query = {0.5f}})) == where + "field 'query_vector' has 1 values, expected 2");
  CHECK(load_error(target, forge({.projections = 1})) == where + "field 'w_q' has 0 values, expected 4");
  CHECK(load_error(target, forge({.query = {0.5f, nan_f}})) ==
        where + "field 'query_vector' holds a non-finite value");
  CHECK(saved(target) == before);
}
