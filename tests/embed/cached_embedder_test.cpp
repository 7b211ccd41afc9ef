#include "marl_rec/embed/cached_embedder.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "marl_rec/concepts/embedder.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;
using mr::test::error_of;

// ---- the example of docs/embedders.md ("CachedEmbedder (your own LLM call)"), verbatim ---------
// The docs show everything between the two marker lines, after the includes of this file's
// <marl_rec/...> headers (the anonymous namespace keeps these names out of the way of the other
// test files).
namespace {
// [docs example begin]
// The engine's own LLM service. Here a stub that counts its calls; a real one sends the text
// over the network and returns the model's raw (not normalised) embedding.
struct LlmClient {
  mutable std::atomic<int> calls{0};
  std::vector<float> embed(std::string_view text) const {
    ++calls;
    return {static_cast<float>(text.size()), static_cast<float>(text.front()), 1.0f, 2.0f};
  }
};

// An Embedder over that service: one call per text, output scaled to unit length as the
// Embedder contract requires, a clear error for what it cannot embed.
class LlmEmbedder {
 public:
  explicit LlmEmbedder(const LlmClient& client) : client_(&client) {}

  std::size_t dim() const { return 4; }

  void embed(std::string_view text, std::span<float> out) const {
    if (text.empty()) throw marl_rec::Error("LlmEmbedder: cannot embed an empty text");
    const std::vector<float> v = client_->embed(text);  // the slow, remote part
    if (v.size() != out.size()) throw marl_rec::Error("LlmEmbedder: wrong dimension");
    std::copy(v.begin(), v.end(), out.begin());
    if (!marl_rec::simd::l2_normalize(out)) {
      throw marl_rec::Error("LlmEmbedder: the service returned a zero vector for '" +
                            std::string(text) + "'");
    }
  }

 private:
  const LlmClient* client_;
};
static_assert(marl_rec::Embedder<LlmEmbedder>);

int docs_example() {
  LlmClient client;
  marl_rec::CachedEmbedder<LlmEmbedder> cached{LlmEmbedder{client}, {.capacity = 100'000}};
  std::vector<float> v(cached.dim());
  cached.embed("red running shoes", v);  // calls the service
  cached.embed("red running shoes", v);  // from the cache

  // Many texts at once: the cached ones are copied, the others go to the embedder together.
  const std::vector<std::string_view> texts = {"red running shoes", "blue hat", "blue hat"};
  std::vector<float> rows(texts.size() * cached.dim());
  cached.embed_batch(texts, marl_rec::MutableMatrixView(rows, texts.size(), cached.dim()));

  // 2 hits, 3 misses ("blue hat" twice), 2 texts computed: the service was called twice.
  const marl_rec::CacheStats s = cached.stats();
  return client.calls * 100 + static_cast<int>(s.hits * 10 + s.misses);
}
// [docs example end]

// A deterministic unit vector for a text: ±1 on one axis (hashed from the text), so results can
// be compared exactly.
std::vector<float> expected_vector(std::string_view text, std::size_t dim) {
  std::uint32_t h = 2166136261u;
  for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  std::vector<float> v(dim, 0.0f);
  v[h % dim] = (h & 0x100u) != 0 ? 1.0f : -1.0f;
  return v;
}

struct Calls {
  std::atomic<int> single{0};   // embed calls
  std::atomic<int> batches{0};  // embed_batch calls
  std::mutex mutex;
  std::vector<std::vector<std::string>> batch_texts;  // what each batch asked for
};

// A stand-in for an LLM-backed embedder: counts its calls; `scale` breaks the contract on
// purpose when it is not 1.
struct CountingEmbedder {
  std::shared_ptr<Calls> calls = std::make_shared<Calls>();
  std::size_t d = 4;
  float scale = 1.0f;
  std::string bad_text{};  // this text gets a NaN
  std::size_t dim() const { return d; }
  void embed(std::string_view text, std::span<float> out) const {
    ++calls->single;
    if (text == "throw") throw std::runtime_error("service unavailable");
    const std::vector<float> v = expected_vector(text, d);
    for (std::size_t i = 0; i < d; ++i) out[i] = v[i] * scale;
    if (!bad_text.empty() && text == bad_text) out[1] = std::numeric_limits<float>::quiet_NaN();
  }
};

// The same with a batch form (one round trip for many texts).
struct CountingBatchEmbedder : CountingEmbedder {
  void embed_batch(std::span<const std::string_view> texts, mr::MutableMatrixView out) const {
    ++calls->batches;
    {
      const std::lock_guard lock(calls->mutex);
      calls->batch_texts.emplace_back(texts.begin(), texts.end());
    }
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::vector<float> v = expected_vector(texts[i], d);
      std::copy(v.begin(), v.end(), out.row(i).begin());
    }
  }
};

template <class T>
concept Cacheable = requires {
  typename mr::CachedEmbedder<T>;
};

struct EmbedNotConst {
  std::size_t dim() const { return 1; }
  void embed(std::string_view, std::span<float>) {}
};

template <class E>
std::vector<float> embed(const mr::CachedEmbedder<E>& e, std::string_view text) {
  std::vector<float> out(e.dim());
  e.embed(text, out);
  return out;
}

bool stats_equal(const mr::CacheStats& s, std::uint64_t hits, std::uint64_t misses,
                 std::uint64_t computed, std::uint64_t evictions) {
  return s.hits == hits && s.misses == misses && s.computed == computed && s.evictions == evictions;
}

}  // namespace

TEST_CASE("CachedEmbedder: the docs example compiles and behaves as its comments say") {
  CHECK(docs_example() == 223);
}

TEST_CASE("CachedEmbedder satisfies Embedder and BatchEmbedder, it only wraps Embedders") {
  static_assert(mr::Embedder<mr::CachedEmbedder<CountingEmbedder>>);
  static_assert(mr::BatchEmbedder<mr::CachedEmbedder<CountingEmbedder>>);
  static_assert(mr::BatchEmbedder<mr::CachedEmbedder<CountingBatchEmbedder>>);
  static_assert(mr::Embedder<mr::CachedEmbedder<LlmEmbedder>>);
  static_assert(Cacheable<CountingEmbedder>);
  static_assert(!Cacheable<EmbedNotConst>);
  static_assert(!Cacheable<int>);
}

TEST_CASE("CachedEmbedder: least recently used eviction, and the counters") {
  const CountingEmbedder inner;
  const mr::CachedEmbedder<CountingEmbedder> e(inner, {.capacity = 2});
  CHECK(embed(e, "a") == expected_vector("a", 4));
  CHECK(embed(e, "b") == expected_vector("b", 4));
  CHECK(stats_equal(e.stats(), 0, 2, 2, 0));
  CHECK(embed(e, "a") == expected_vector("a", 4));  // hit: "a" is now the most recent
  CHECK(stats_equal(e.stats(), 1, 2, 2, 0));
  CHECK(embed(e, "c") == expected_vector("c", 4));  // evicts "b", the least recent
  CHECK(e.contains("a"));
  CHECK_FALSE(e.contains("b"));
  CHECK(e.contains("c"));
  CHECK(e.size() == 2);
  CHECK(stats_equal(e.stats(), 1, 3, 3, 1));
  CHECK(embed(e, "b") == expected_vector("b", 4));  // miss again; evicts "a"
  CHECK_FALSE(e.contains("a"));
  CHECK(stats_equal(e.stats(), 1, 4, 4, 2));
  CHECK(inner.calls->single == 4);
  CHECK(embed(e, "c") == expected_vector("c", 4));
  CHECK(inner.calls->single == 4);
  // A long text replacing a short one in a recycled entry.
  const std::string long_text(1000, 'x');
  CHECK(embed(e, long_text) == expected_vector(long_text, 4));
  CHECK(embed(e, long_text) == expected_vector(long_text, 4));
  CHECK(inner.calls->single == 5);
  e.inner();  // the wrapped embedder is reachable
  mr::CachedEmbedder<CountingEmbedder> clearable(inner, {.capacity = 2});
  (void)embed(clearable, "a");
  clearable.clear();
  CHECK(clearable.size() == 0);
  CHECK(stats_equal(clearable.stats(), 0, 1, 1, 0));
  CHECK(mr::CachedEmbedder<CountingEmbedder>(inner).config().capacity == 10'000);
}

TEST_CASE("CachedEmbedder: capacity 0 caches nothing") {
  const CountingEmbedder inner;
  const mr::CachedEmbedder<CountingEmbedder> e(inner, {.capacity = 0});
  for (int i = 0; i < 3; ++i) CHECK(embed(e, "a") == expected_vector("a", 4));
  CHECK(inner.calls->single == 3);
  CHECK(e.size() == 0);
  CHECK(stats_equal(e.stats(), 0, 3, 3, 0));
  // A batch still sends each distinct text once.
  const std::vector<std::string_view> texts = {"a", "b", "a"};
  std::vector<float> out(3 * 4);
  e.embed_batch(texts, mr::MutableMatrixView(out, 3, 4));
  CHECK(inner.calls->single == 5);
  CHECK(stats_equal(e.stats(), 0, 6, 5, 0));
}

TEST_CASE(
    "CachedEmbedder::embed_batch: only the distinct misses go to the inner embedder, in one "
    "batch") {
  const CountingBatchEmbedder inner;
  const mr::CachedEmbedder<CountingBatchEmbedder> e(inner, {.capacity = 10});
  (void)embed(e, "a");  // single embed goes through embed
  CHECK(inner.calls->single == 1);

  const std::vector<std::string_view> texts = {"b", "a", "c", "b", "b"};
  std::vector<float> out(texts.size() * 4, -7.0f);
  e.embed_batch(texts, mr::MutableMatrixView(out, texts.size(), 4));
  for (std::size_t i = 0; i < texts.size(); ++i) {
    CHECK(std::vector<float>(out.begin() + 4 * i, out.begin() + 4 * i + 4) ==
          expected_vector(texts[i], 4));
  }
  CHECK(inner.calls->batches == 1);
  CHECK(inner.calls->batch_texts.at(0) == std::vector<std::string>{"b", "c"});
  CHECK(stats_equal(e.stats(), 1, 5, 3, 0));  // "a" hit; b, c, b, b missed; b and c computed

  // Everything is cached now: no call at all.
  e.embed_batch(texts, mr::MutableMatrixView(out, texts.size(), 4));
  CHECK(inner.calls->batches == 1);
  CHECK(stats_equal(e.stats(), 6, 5, 3, 0));
  // An empty batch is fine.
  e.embed_batch({}, mr::MutableMatrixView(out, 0, 4));
  CHECK(inner.calls->batches == 1);

  // An inner embedder without a batch form gets one embed call per distinct miss.
  const CountingEmbedder plain;
  const mr::CachedEmbedder<CountingEmbedder> p(plain, {.capacity = 10});
  p.embed_batch(texts, mr::MutableMatrixView(out, texts.size(), 4));
  CHECK(plain.calls->single == 3);
  CHECK(std::vector<float>(out.begin() + 8, out.begin() + 12) == expected_vector("c", 4));

  CHECK(error_of([&] { e.embed_batch(texts, mr::MutableMatrixView(out, 4, 5)); }) ==
        "CachedEmbedder::embed_batch: out is 4 x 5, expected 5 x 4");
  std::vector<float> small(3);
  CHECK(error_of([&] { e.embed("a", small); }) ==
        "CachedEmbedder::embed: out has 3 floats, dim is 4");
}

TEST_CASE(
    "CachedEmbedder: an inner embedder that breaks the contract is an error naming the text") {
  CountingEmbedder twice;
  twice.scale = 2.0f;
  const mr::CachedEmbedder<CountingEmbedder> e(twice);
  CHECK(error_of([&] { embed(e, "shoe"); }) ==
        "CachedEmbedder: the wrapped embedder returned a vector of length 2.000000 for 'shoe' (the "
        "Embedder contract requires unit length, within 0.001000; normalise its output)");
  CHECK(e.size() == 0);  // nothing cached
  const std::vector<std::string_view> texts = {"hat", "shoe"};
  std::vector<float> out(2 * 4);
  CHECK(error_of([&] {
          e.embed_batch(texts, mr::MutableMatrixView(out, 2, 4));
        }).find("for 'hat'") != std::string::npos);
  CHECK(e.size() == 0);

  CountingEmbedder nan;
  nan.bad_text = "bad";
  const mr::CachedEmbedder<CountingEmbedder> n(nan);
  CHECK(error_of([&] { embed(n, "bad"); }) ==
        "CachedEmbedder: the wrapped embedder returned NaN at element [1] for 'bad' (the Embedder "
        "contract requires finite values)");
  CHECK(embed(n, "good") == expected_vector("good", 4));
  CHECK(n.size() == 1);

  // Within the tolerance is accepted; a tighter tolerance refuses it.
  CountingEmbedder nearly;
  nearly.scale = 1.0005f;
  CHECK(embed(mr::CachedEmbedder<CountingEmbedder>(nearly), "x")[0] != 0.5f);
  CHECK(error_of([&] {
          embed(mr::CachedEmbedder<CountingEmbedder>(nearly,
                                                     {.capacity = 1, .norm_tolerance = 1e-4f}),
                "x");
        }).find("length 1.000500") != std::string::npos);
  CHECK(error_of([&] {
          mr::CachedEmbedder<CountingEmbedder>(nearly, {.norm_tolerance = -1.0f});
        }) == "CachedEmbedder: norm_tolerance must be finite and >= 0");

  // What the inner embedder throws passes through; nothing is cached.
  const mr::CachedEmbedder<CountingEmbedder> t{CountingEmbedder{}};
  std::vector<float> v(4);
  CHECK_THROWS_WITH_AS(t.embed("throw", v), "service unavailable", std::runtime_error);
  CHECK(t.size() == 0);
  CHECK(stats_equal(t.stats(), 0, 1, 1, 0));
}

TEST_CASE("CachedEmbedder: 4 threads over a small key set get the inner embedder's vectors") {
  constexpr std::size_t threads = 4;
  constexpr std::size_t rounds = 2000;
  constexpr std::size_t keys = 24;
  std::vector<std::string> texts;
  for (std::size_t k = 0; k < keys; ++k) texts.push_back(mr::numbered_id("text ", k));
  const CountingBatchEmbedder inner;
  // Capacity below the key count, so that evictions race with lookups too.
  const mr::CachedEmbedder<CountingBatchEmbedder> e(inner, {.capacity = 16});
  std::vector<std::size_t> wrong(threads, 0);
  std::vector<std::size_t> lookups(threads, 0);
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<float> out(4);
      std::vector<float> rows(3 * 4);
      std::uint32_t state = 12345u + static_cast<std::uint32_t>(t);
      const auto next = [&] {
        state = state * 1664525u + 1013904223u;
        return (state >> 8) % keys;
      };
      for (std::size_t r = 0; r < rounds; ++r) {
        if (r % 4 == 3) {
          const std::vector<std::string_view> batch = {texts[next()], texts[next()], texts[next()]};
          e.embed_batch(batch, mr::MutableMatrixView(rows, 3, 4));
          for (std::size_t i = 0; i < 3; ++i) {
            if (!std::equal(rows.begin() + 4 * i, rows.begin() + 4 * i + 4,
                            expected_vector(batch[i], 4).begin())) {
              ++wrong[t];
            }
          }
          lookups[t] += 3;
        } else {
          const std::string& text = texts[next()];
          e.embed(text, out);
          if (out != expected_vector(text, 4)) ++wrong[t];
          ++lookups[t];
        }
      }
    });
  }
  for (std::thread& t : pool) t.join();
  CHECK(wrong == std::vector<std::size_t>(threads, 0));
  const mr::CacheStats s = e.stats();
  std::size_t total = 0;
  for (const std::size_t n : lookups) total += n;
  CHECK(s.hits + s.misses == total);
  std::size_t batched = 0;
  for (const auto& b : inner.calls->batch_texts) batched += b.size();
  CHECK(s.computed == static_cast<std::uint64_t>(inner.calls->single) + batched);
  CHECK(s.computed >= keys);
  CHECK(s.computed <= s.misses);
  CHECK(s.hits > 0);
  CHECK(e.size() <= 16);
  // Every entry is either cached or was evicted: inserts = size + evictions, and no more inserts
  // than computed vectors.
  CHECK(e.size() + s.evictions <= s.computed);
}
