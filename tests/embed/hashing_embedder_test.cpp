#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "marl_rec/concepts/embedder.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/embed/hashing_embedder.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;
using marl_rec::test::error_of;

namespace {

// Near misses of the Embedder concept: each lacks one requirement.
struct NoDim {
  void embed(std::string_view, std::span<float>) const {}
};
struct EmbedNotConst {
  std::size_t dim() const { return 1; }
  void embed(std::string_view, std::span<float>) {}
};
struct EmbedsIntoVector {
  std::size_t dim() const { return 1; }
  void embed(std::string_view, std::vector<float>&) const {}
};

std::vector<float> embed(const mr::HashingEmbedder& e, std::string_view text) {
  std::vector<float> v(e.dim());
  e.embed(text, v);
  return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
  return s;
}

double norm(const std::vector<float>& a) { return std::sqrt(dot(a, a)); }

// FNV-1a over the IEEE bits of every value, little-endian: a digest of the whole vector that is
// the same on every platform.
std::uint64_t digest(const std::vector<float>& v) {
  std::uint64_t h = mr::embed::fnv1a64_basis;
  for (const float x : v) {
    const auto bits = std::bit_cast<std::uint32_t>(x);
    for (int k = 0; k < 4; ++k) {
      h ^= (bits >> (8 * k)) & 0xFFu;
      h *= mr::embed::fnv1a64_prime;
    }
  }
  return h;
}

std::size_t nonzeros(const std::vector<float>& v) {
  std::size_t n = 0;
  for (const float x : v) n += x != 0.0f ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("HashingEmbedder satisfies Embedder, near misses do not") {
  static_assert(mr::Embedder<mr::HashingEmbedder>);
  static_assert(!mr::Embedder<NoDim>);
  static_assert(!mr::Embedder<EmbedNotConst>);
  static_assert(!mr::Embedder<EmbedsIntoVector>);
  static_assert(!mr::Embedder<int>);
  const mr::HashingEmbedder e;
  CHECK(e.dim() == 256);
  CHECK(e.config().word_bigrams);
  CHECK(e.config().char_ngram_min == 3);
  CHECK(e.config().char_ngram_max == 5);
  CHECK(e.config().char_ngram_weight == 0.5f);
  CHECK_FALSE(e.has_idf());
  CHECK(mr::HashingEmbedder{{.dim = 64}}.dim() == 64);
}

TEST_CASE(
    "HashingEmbedder: golden values, pinned (a change of tokeniser, hash or weights shows here)") {
  // Computed by this implementation; the same with g++ and clang++, baseline and -march=native.
  const std::vector<float> v =
      embed(mr::HashingEmbedder{}, "Wireless noise-cancelling headphones, 30 h battery");
  CHECK(nonzeros(v) == 99);
  CHECK(v[0] == 0x1.0e990ep-5f);
  CHECK(v[1] == -0x1.f50cc8p-6f);
  CHECK(v[6] == 0x1.81d2eap-4f);
  CHECK(v[7] == 0x1.b9e26ep-6f);
  CHECK(v[10] == -0x1.8d3ebep-8f);
  CHECK(v[12] == 0x1.eb8a46p-5f);
  CHECK(v[14] == 0x1.f50cc8p-6f);
  CHECK(v[16] == 0x1.b9e26ep-6f);
  CHECK(digest(v) == 0x2BACE1255A8B6C89ull);
  for (std::size_t i : {2u, 3u, 4u, 5u, 8u, 9u, 11u, 13u, 15u}) CHECK(v[i] == 0.0f);
}

TEST_CASE(
    "HashingEmbedder: unit length and finite, for short, long, repetitive and non-Latin texts") {
  const mr::HashingEmbedder e;
  std::string many_words;
  for (int i = 0; i < 600; ++i)
    many_words += mr::numbered_id("w", static_cast<std::size_t>(i % 400)) + " ";
  for (const std::string& text :
       {std::string("a"), std::string("ok"), std::string("USB-C cable, 2 m"),
        std::string(5000, 'z'), many_words,
        std::string("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE6\x9C\xAC"),
        std::string("na\xC3\xAFve caf\xC3\xA9 cr\xC3\xA8me br\xC3\xBBl\xC3\xA9"
                    "e")}) {
    const std::vector<float> v = embed(e, text);
    CHECK(std::fabs(norm(v) - 1.0) < 1e-6);
    for (const float x : v) CHECK(std::isfinite(x));
  }
  // A one-letter word has no 3-gram besides "<a>": still a feature, still unit length.
  const mr::HashingEmbedder words_only({.word_bigrams = false, .char_ngram_weight = 0.0f});
  CHECK(nonzeros(embed(words_only, "a")) == 1);
}

TEST_CASE("HashingEmbedder: deterministic, case and punctuation do not matter, the seed does") {
  const mr::HashingEmbedder a, b;
  const std::string text = "Stainless steel water bottle (750 ml), keeps drinks cold for 24 hours";
  CHECK(embed(a, text) == embed(b, text));
  CHECK(embed(a, text) == embed(a, text));
  CHECK(embed(a, "HELLO, World!") == embed(a, "hello world"));
  CHECK(embed(a, "real-time") == embed(a, "real time"));
  CHECK(embed(a, "  spaced\tout\n") == embed(a, "spaced out"));
  const mr::HashingEmbedder seeded({.seed = 7});
  CHECK(embed(seeded, text) != embed(a, text));
  CHECK(std::fabs(dot(embed(seeded, text), embed(a, text))) < 0.3);
  // Word order matters through the bigrams only.
  const mr::HashingEmbedder no_bigrams({.word_bigrams = false});
  CHECK(embed(no_bigrams, "red wine glass") == embed(no_bigrams, "glass wine red"));
  CHECK(embed(a, "red wine glass") != embed(a, "glass wine red"));
}

TEST_CASE("HashingEmbedder: near-duplicates are close, unrelated texts are not") {
  const mr::HashingEmbedder e;
  const auto cos = [&](std::string_view x, std::string_view y) {
    return dot(embed(e, x), embed(e, y));
  };
  CHECK(cos("Wireless noise cancelling headphones with 30 hour battery",
            "Wireless noise-cancelling headphones, 30-hour battery life") > 0.7);
  // Inflections share character n-grams. At the default weight the words dominate and the
  // n-grams' share (about 0.05 here) is of the order of the hashing noise at dim 256; when the
  // n-grams weigh more than the words, it is clear.
  const mr::HashingEmbedder ngrams({.word_bigrams = false, .char_ngram_weight = 3.0f});
  const auto ngram_cos = [&](std::string_view x, std::string_view y) {
    return dot(embed(ngrams, x), embed(ngrams, y));
  };
  CHECK(ngram_cos("running shoes", "runner shoe") > 0.3);
  CHECK(std::fabs(ngram_cos("running shoes", "leather wallet")) < 0.15);
  const std::vector<std::string> unrelated = {
      "Cast iron skillet, pre-seasoned, 12 inch", "Children's picture book about dinosaurs",
      "USB-C charging cable 2 metres braided",    "Organic green tea, 100 bags",
      "Mechanical keyboard with brown switches",  "Yoga mat, non-slip, 6 mm thick"};
  double worst = 0.0, total = 0.0;
  std::size_t pairs = 0;
  for (std::size_t i = 0; i < unrelated.size(); ++i) {
    for (std::size_t j = i + 1; j < unrelated.size(); ++j) {
      const double c = std::fabs(cos(unrelated[i], unrelated[j]));
      worst = std::max(worst, c);
      total += c;
      ++pairs;
    }
  }
  CHECK(worst < 0.25);
  CHECK(total / static_cast<double>(pairs) < 0.1);
}

TEST_CASE("HashingEmbedder: signed hashing spreads single features evenly over buckets and signs") {
  // With words only, a one-word text is ±1 in exactly one bucket: the bucket and the sign are the
  // hash's. 4096 words over 64 buckets: every bucket is used and about half the signs are +.
  const mr::HashingEmbedder e({.dim = 64, .word_bigrams = false, .char_ngram_weight = 0.0f});
  std::vector<std::size_t> per_bucket(64, 0);
  std::size_t positive = 0;
  for (std::size_t w = 0; w < 4096; ++w) {
    const std::vector<float> v = embed(e, mr::numbered_id("word", w));
    REQUIRE(nonzeros(v) == 1);
    for (std::size_t b = 0; b < 64; ++b) {
      if (v[b] != 0.0f) {
        ++per_bucket[b];
        CHECK(std::fabs(v[b]) == 1.0f);
        positive += v[b] > 0.0f ? 1 : 0;
      }
    }
  }
  // Expected 64 per bucket (sd 7.9) and 2048 positive (sd 32): loose bounds on a fixed outcome.
  for (const std::size_t n : per_bucket) {
    CHECK(n >= 30);
    CHECK(n <= 100);
  }
  CHECK(positive >= 1900);
  CHECK(positive <= 2200);
  // Texts of random letters share few features: their cosines are about 0 on average (the few
  // shared letter triples make it slightly positive).
  const mr::HashingEmbedder d;
  mr::Rng rng(3);
  const auto random_text = [&] {
    std::string text;
    for (int w = 0; w < 3; ++w) {
      for (std::uint64_t k = 0, n = 6 + rng.below(5); k < n; ++k)
        text += static_cast<char>('a' + rng.below(26));
      text += ' ';
    }
    return text;
  };
  double mean = 0.0, mean_abs = 0.0;
  for (std::size_t i = 0; i < 200; ++i) {
    const double c = dot(embed(d, random_text()), embed(d, random_text()));
    mean += c / 200.0;
    mean_abs += std::fabs(c) / 200.0;
  }
  CHECK(std::fabs(mean) < 0.02);
  CHECK(mean_abs < 0.1);
}

TEST_CASE("HashingEmbedder: TF weight 1 + ln tf") {
  const mr::HashingEmbedder e({.dim = 16, .word_bigrams = false, .char_ngram_weight = 0.0f});
  const std::vector<float> v = embed(e, "cat cat dog");
  REQUIRE(nonzeros(v) == 2);  // "cat" and "dog" land in different buckets with this hash
  std::vector<float> magnitudes;
  for (const float x : v) {
    if (x != 0.0f) magnitudes.push_back(std::fabs(x));
  }
  const double big = std::max(magnitudes[0], magnitudes[1]);
  const double small = std::min(magnitudes[0], magnitudes[1]);
  CHECK(big / small == doctest::Approx(1.0 + std::log(2.0)).epsilon(1e-6));
  CHECK(mr::HashingEmbedder::tf_weight(1) == 1.0f);
  CHECK(mr::HashingEmbedder::tf_weight(3) == static_cast<float>(1.0 + std::log(3.0)));
}

TEST_CASE("HashingEmbedder: TF weights are far from float rounding boundaries (libm-independent)") {
  // The weight is 1 + ln tf computed in double, rounded to float. A libm whose log differs from
  // this one by up to 4 ulp in double gives the same float whenever the double is at least 4 ulp
  // away from the midpoint between two floats — checked here for every tf up to 10^6.
  for (std::size_t tf = 1; tf <= 1000000; ++tf) {
    const double w = 1.0 + std::log(static_cast<double>(tf));
    double below = w, above = w;
    for (int k = 0; k < 4; ++k) {
      below = std::nextafter(below, 0.0);
      above = std::nextafter(above, 100.0);
    }
    if (static_cast<float>(below) != static_cast<float>(above)) {
      FAIL("tf = " << tf << ": 1 + ln tf is within 4 ulp of a float rounding boundary");
    }
  }
}

TEST_CASE("HashingEmbedder: fit_idf weights rare features up, common ones down, per bucket") {
  mr::HashingEmbedder e({.dim = 32, .word_bigrams = false, .char_ngram_weight = 0.0f});
  const std::vector<float> before = embed(e, "the zebra");
  REQUIRE(nonzeros(before) == 2);
  std::vector<std::size_t> at;
  for (std::size_t b = 0; b < before.size(); ++b) {
    if (before[b] != 0.0f) at.push_back(b);
  }
  CHECK(std::fabs(before[at[0]]) == std::fabs(before[at[1]]));
  // "the" is in all 4 texts, "zebra" in 1.
  const std::vector<std::string_view> corpus = {"the cat", "the dog", "the zebra", "the end"};
  e.fit_idf(corpus);
  REQUIRE(e.has_idf());
  CHECK(e.idf().size() == e.config().idf_buckets);
  const std::vector<float> after = embed(e, "the zebra");
  REQUIRE(nonzeros(after) == 2);
  // idf(the) = 1 + ln(5/5) = 1, idf(zebra) = 1 + ln(5/2): the zebra's entry is that much larger.
  const std::vector<float> the = embed(e, "the");
  const std::size_t the_bucket = the[at[0]] != 0.0f ? at[0] : at[1];
  const std::size_t zebra_bucket = the_bucket == at[0] ? at[1] : at[0];
  CHECK(std::fabs(after[zebra_bucket]) / std::fabs(after[the_bucket]) ==
        doctest::Approx(1.0 + std::log(5.0 / 2.0)).epsilon(1e-6));
  // A bucket no feature of the corpus reached has the largest IDF, 1 + ln(5).
  float largest = 0.0f;
  for (const float w : e.idf()) largest = std::max(largest, w);
  CHECK(largest == static_cast<float>(1.0 + std::log(5.0)));
  e.clear_idf();
  CHECK_FALSE(e.has_idf());
  CHECK(embed(e, "the zebra") == before);
}

TEST_CASE(
    "HashingEmbedder::fit_idf: errors name the text; a failed fit leaves the embedder as it was") {
  mr::HashingEmbedder e;
  CHECK(error_of([&] { e.fit_idf({}); }) == "HashingEmbedder::fit_idf: the corpus is empty");
  const std::vector<std::string_view> bad = {"fine", "also fine", "  "};
  CHECK(error_of([&] { e.fit_idf(bad); }) ==
        "HashingEmbedder::fit_idf: corpus[2]: text is empty or only whitespace: '  '");
  CHECK_FALSE(e.has_idf());
  const std::vector<std::string_view> invalid = {"ok", "caf\xC3"};
  CHECK(error_of([&] { e.fit_idf(invalid); }) ==
        "HashingEmbedder::fit_idf: corpus[1]: text is not valid UTF-8 (a truncated sequence at "
        "byte 3): "
        "'caf\\xC3'");
}

TEST_CASE("HashingEmbedder::embed: errors name the problem and quote the text, out is left alone") {
  const mr::HashingEmbedder e;
  std::vector<float> out(256, 7.0f);
  CHECK(error_of([&] { e.embed("", out); }) ==
        "HashingEmbedder::embed: text is empty or only whitespace: ''");
  CHECK(error_of([&] { e.embed(" \t ", out); }) ==
        "HashingEmbedder::embed: text is empty or only whitespace: ' \\x09 '");
  CHECK(error_of([&] { e.embed("!!! ?! ?", out); }) ==
        "HashingEmbedder::embed: text has no words (only punctuation or symbols): '!!! ?! ?'");
  CHECK(error_of([&] { e.embed("good text \xC0\xAF", out); }) ==
        "HashingEmbedder::embed: text is not valid UTF-8 (an overlong encoding at byte 10): "
        "'good text \\xC0\\xAF'");
  const std::string long_bad = std::string(100, 'x') + "\xFF";
  CHECK(error_of([&] { e.embed(long_bad, out); }) ==
        "HashingEmbedder::embed: text is not valid UTF-8 (a byte that never occurs in UTF-8 at "
        "byte 100): '" +
            std::string(40, 'x') + "'...");
  for (const float x : out) REQUIRE(x == 7.0f);
  std::vector<float> small(10);
  CHECK(error_of([&] { e.embed("text", small); }) ==
        "HashingEmbedder::embed: out has 10 elements, dim is 256");
}

TEST_CASE("HashingEmbedder: the constructor rejects out-of-range settings, naming them") {
  CHECK(error_of([] { mr::HashingEmbedder({.dim = 0}); }) ==
        "HashingEmbedder: dim must be in [1, 2^24], got 0");
  CHECK(
      error_of([] { mr::HashingEmbedder({.char_ngram_min = 4, .char_ngram_max = 3}); }) ==
      "HashingEmbedder: need 1 <= char_ngram_min <= char_ngram_max <= 16, got char_ngram_min = 4, "
      "char_ngram_max = 3");
  CHECK(error_of([] { mr::HashingEmbedder({.char_ngram_min = 0}); }) != "no error");
  CHECK(error_of([] { mr::HashingEmbedder({.char_ngram_max = 17}); }) != "no error");
  CHECK(error_of([] { mr::HashingEmbedder({.char_ngram_weight = -1.0f}); }) ==
        "HashingEmbedder: char_ngram_weight must be finite and >= 0, got -1.000000");
  CHECK(error_of([] {
          mr::HashingEmbedder({.char_ngram_weight = std::numeric_limits<float>::quiet_NaN()});
        }) != "no error");
  CHECK(error_of([] { mr::HashingEmbedder({.idf_buckets = 0}); }) ==
        "HashingEmbedder: idf_buckets must be in [1, 2^28], got 0");
  // With n-grams off, their lengths are not looked at.
  CHECK(error_of([] { mr::HashingEmbedder({.char_ngram_min = 0, .char_ngram_weight = 0.0f}); }) ==
        "no error");
}

TEST_CASE("HashingEmbedder: char n-grams count code points, not bytes") {
  // "<é>" is 3 code points (4 bytes): with n = 3 only, it has exactly one n-gram; with words and
  // bigrams off that is the unigram plus one n-gram feature: at most 2 buckets.
  const mr::HashingEmbedder e({.dim = 1024,
                               .word_bigrams = false,
                               .char_ngram_min = 3,
                               .char_ngram_max = 3,
                               .char_ngram_weight = 1.0f});
  CHECK(nonzeros(embed(e, "\xC3\xA9")) == 2);
  // "<ab>" is 4 code points: 2 n-grams of length 3, plus the word.
  CHECK(nonzeros(embed(e, "ab")) == 3);
}

TEST_CASE("HashingEmbedder: embed is safe to call from several threads at once") {
  const mr::HashingEmbedder e;
  const std::string text = "Portable espresso maker, manual, no batteries needed";
  const std::vector<float> want = embed(e, text);
  std::vector<std::vector<float>> got(4, std::vector<float>(e.dim()));
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 200; ++r) e.embed(text, got[t]);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::vector<float>& g : got) CHECK(g == want);
}

TEST_CASE("docs/embedders.md: the HashingEmbedder example") {
  const std::vector<std::string_view> catalog_texts = {
      "Wireless noise-cancelling headphones, 30 h battery", "Wired earbuds with microphone",
      "Stainless steel water bottle, 750 ml"};
  // --- begin docs snippet
  const marl_rec::HashingEmbedder embedder;  // dim 256: words, word pairs, 3- to 5-grams
  std::vector<float> v(embedder.dim());
  embedder.embed("Wireless noise-cancelling headphones, 30 h battery", v);  // unit length

  marl_rec::HashingEmbedder weighted{{.dim = 1024}};
  weighted.fit_idf(catalog_texts);  // optional, unsupervised: measure before keeping it
  std::vector<float> w(weighted.dim());
  weighted.embed("Wireless earbuds", w);
  // --- end docs snippet
  CHECK(std::fabs(norm(v) - 1.0) < 1e-6);
  CHECK(std::fabs(norm(w) - 1.0) < 1e-6);
}
