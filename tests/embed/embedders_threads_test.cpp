// The Embedder contract (concepts/embedder.hpp): `embed` is const and safe to call from many
// threads at once. HashingEmbedder, PrecomputedEmbedder and CachedEmbedder have their own thread
// tests in their files; this one covers WordVectorEmbedder, Item2Vec's embedder and
// SequenceEncoder::encode, and CachedEmbedder::clear() racing with lookups. Run under
// -fsanitize=thread too (docs/threading_and_persistence.md).
#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/embed/cached_embedder.hpp"
#include "marl_rec/embed/hashing_embedder.hpp"
#include "marl_rec/embed/item2vec.hpp"
#include "marl_rec/embed/sequence_encoder.hpp"
#include "marl_rec/embed/word_vector_embedder.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "support/concurrently.hpp"

namespace {

namespace mr = marl_rec;
using mr::test::disagreements;
using mr::test::no_disagreement;

constexpr std::size_t threads = 4;
constexpr std::size_t rounds = 20;

const std::string data_dir = MARL_REC_TEST_DATA_DIR "/embed/";

template <class E>
std::vector<float> embedded(const E& embedder, std::string_view text) {
  std::vector<float> out(embedder.dim());
  embedder.embed(text, out);
  return out;
}

}  // namespace

TEST_CASE("WordVectorEmbedder: concurrent embed gives the single-thread vectors") {
  // Known words, an out-of-vocabulary word (hashed), and a fitted common component.
  mr::WordVectorEmbedder e = mr::WordVectorEmbedder::load_text(data_dir + "words.vec");
  const std::vector<std::string_view> texts = {"the cat and the dog", "a red car", "fast blue truck engine",
                                               "Linux kernel", "a puppy of zzqx", "green bus"};
  e.fit_common_component(texts);
  const mr::WordVectorEmbedder& shared = e;
  CHECK(disagreements(texts.size(), threads, rounds, [&](std::size_t c) { return embedded(shared, texts[c]); }) ==
        no_disagreement(threads));
}

TEST_CASE("Item2Vec's embedder: concurrent embed gives the single-thread vectors") {
  mr::Interactions data;
  for (std::size_t u = 0; u < 30; ++u) {
    const std::size_t user = data.users.intern(mr::numbered_id("u", u));
    for (std::size_t j = 0; j < 6; ++j) {
      const std::size_t item = data.items.intern(mr::numbered_id("i", (u + j * 3) % 20));
      data.rows.push_back({.user = user, .item = item, .rating = 1.0f, .timestamp = 0.0,
                           .source_row = data.rows.size()});
    }
  }
  mr::Item2Vec model({.dim = 8, .epochs = 2, .seed = 3});
  model.fit(data);
  const mr::Item2VecEmbedder e = model.embedder();
  CHECK(disagreements(20, threads, rounds,
                      [&](std::size_t c) { return embedded(e, mr::numbered_id("i", c)); }) == no_disagreement(threads));
}

TEST_CASE("SequenceEncoder: concurrent encode gives the single-thread encodings") {
  constexpr std::size_t n = 30, d = 8;
  mr::AlignedVector<float> storage(n * d);
  mr::Rng rng(5);
  for (float& x : storage) x = static_cast<float>(rng.normal());
  const mr::MatrixView items(std::span<const float>(storage), n, d);
  std::vector<std::vector<std::size_t>> histories(12);
  for (std::size_t h = 0; h < histories.size(); ++h) {
    for (std::size_t j = 0; j <= h; ++j) histories[h].push_back((h * 7 + j * 3) % n);
  }
  using Config = mr::SequenceEncoder::Config;
  for (const Config::Mode mode : {Config::Mode::mean, Config::Mode::recency, Config::Mode::attention}) {
    CAPTURE(static_cast<int>(mode));
    mr::SequenceEncoder encoder({.mode = mode, .query = Config::Query::learned, .projections = true});
    if (encoder.trainable()) encoder.initialize(d);
    const mr::SequenceEncoder& shared = encoder;
    const auto encode = [&](std::size_t h) {
      std::vector<float> out(d);
      shared.encode(items, histories[h], out);
      return out;
    };
    CHECK(disagreements(histories.size(), threads, rounds, encode) == no_disagreement(threads));
  }
}

TEST_CASE("CachedEmbedder: clear() while other threads embed, every vector still the inner one's") {
  const mr::HashingEmbedder inner({.dim = 16});
  mr::CachedEmbedder<mr::HashingEmbedder> cache(inner, {.capacity = 8});
  std::vector<std::string> texts;
  for (std::size_t k = 0; k < 12; ++k) texts.push_back(mr::numbered_id("waterproof boots ", k));
  std::vector<std::vector<float>> expected;
  for (const std::string& t : texts) expected.push_back(embedded(inner, t));
  std::vector<std::size_t> wrong(threads, 0);
  std::atomic<bool> done{false};
  mr::test::concurrently(threads, [&](std::size_t t) {
    if (t == 0) {  // one thread empties the cache again and again
      while (!done.load()) {
        cache.clear();
        if (cache.size() > 8) ++wrong[t];
      }
      return;
    }
    for (std::size_t r = 0; r < 300; ++r) {
      const std::size_t k = (r * 5 + t) % texts.size();
      if (!mr::test::identical(embedded(cache, texts[k]), expected[k])) ++wrong[t];
    }
    if (t == 1) done.store(true);
  });
  CHECK(wrong == no_disagreement(threads));
  const mr::CacheStats s = cache.stats();
  CHECK(s.hits + s.misses == 3 * 300);
}
