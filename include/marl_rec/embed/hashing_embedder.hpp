// marl_rec — the default text embedder: feature hashing (Weinberger et al. 2009) of word
// unigrams, word bigrams and character n-grams, with sublinear TF and an optional IDF table
// fitted on a corpus. Needs no model; the same text gives the same vector on every platform.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/embed/text_tokens.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/simd/kernels.hpp"

namespace marl_rec {

namespace embed::detail {

/// A growable array of trivially copyable T whose first N elements live on the stack, so the
/// embedder allocates nothing for ordinary texts and still takes any length. Not copyable (it
/// points into itself).
template <class T, std::size_t N>
class SmallBuffer {
 public:
  SmallBuffer() noexcept : data_(inline_) {}
  SmallBuffer(const SmallBuffer&) = delete;
  SmallBuffer& operator=(const SmallBuffer&) = delete;

  std::size_t size() const noexcept { return size_; }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }

  void push_back(const T& value) {
    if (size_ == capacity_) grow(size_ + 1);
    data_[size_++] = value;
  }
  void append(const T* values, std::size_t n) {
    if (size_ + n > capacity_) grow(size_ + n);
    std::memcpy(data_ + size_, values, n * sizeof(T));
    size_ += n;
  }
  /// Makes the size n; the elements' values are unspecified. Returns data().
  T* resize_uninitialised(std::size_t n) {
    if (n > capacity_) grow(n);
    size_ = n;
    return data_;
  }

 private:
  void grow(std::size_t needed) {
    const std::size_t capacity = std::max(needed, 2 * capacity_);
    if (data_ == inline_) {
      heap_.resize(capacity);
      std::memcpy(heap_.data(), inline_, size_ * sizeof(T));
    } else {
      heap_.resize(capacity);  // keeps the elements
    }
    data_ = heap_.data();
    capacity_ = capacity;
  }

  T inline_[N];  // uninitialised on purpose: only written elements are read
  std::vector<T> heap_;
  T* data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = N;
};

/// The 8 bytes at p as a little-endian integer, on every platform.
inline std::uint64_t load_le64(const char* p) noexcept {
  std::uint64_t x;
  std::memcpy(&x, p, sizeof x);
  if constexpr (std::endian::native == std::endian::big) {
    std::uint64_t swapped = 0;
    for (int k = 0; k < 8; ++k) swapped = (swapped << 8) | ((x >> (8 * k)) & 0xFFu);
    x = swapped;
  }
  return x;
}

/// w with its sign flipped when `negative` (bit 31 toggled: -w exactly, without a branch on a
/// random bit).
inline float with_sign(float w, std::uint64_t negative) noexcept {
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(w) ^
                              (static_cast<std::uint32_t>(negative) << 31));
}

}  // namespace embed::detail

/// Embeds text by feature hashing: every feature of the text is hashed to one of `dim` buckets
/// and added there with a hashed sign (+1 or −1), so colliding features cancel in expectation
/// and inner products are preserved in expectation (Weinberger et al., "Feature Hashing for
/// Large Scale Multitask Learning", ICML 2009). Satisfies Embedder.
///
/// Features of a text, after splitting it into words (embed::for_each_word: ASCII lower-cased,
/// split at whitespace and punctuation):
/// - every distinct word w, weight t(w) = 1 + ln tf(w) (tf = occurrences in the text);
/// - every distinct pair of adjacent words (when `word_bigrams`), weight 1 + ln tf(pair);
/// - the character n-grams of every distinct word framed as "<w>" (as fastText does), for n in
///   [char_ngram_min, char_ngram_max] code points, each with weight
///   t(w) · char_ngram_weight / √(number of n-grams of w): a word's n-grams together weigh about
///   `char_ngram_weight` times its own feature, whatever its length.
/// Each weight is multiplied by the feature's IDF when an IDF table has been fitted (fit_idf),
/// and the vector is L2-normalised.
///
/// Platform independence: words, hashes (FNV-1a 64, or the bytes of a short n-gram packed into
/// an integer, then MurmurHash3's finaliser), buckets and signs are computed on bytes with
/// integer arithmetic; features are added in the order of their first occurrence in the text;
/// every addition is of ±weight (a weight is rounded to float before it is added, so no FMA can
/// fuse a product into the sum), and the final normalisation accumulates in double. The TF
/// weights 1 + ln tf are computed in double and rounded to float, and are far from any float
/// rounding boundary (tested for tf ≤ 10⁶), so a libm that differs in the last bits of a double
/// log still gives the same floats. The IDF table is computed the same way, once, by fit_idf.
///
/// Persistence: the vectors are a pure function of the Config and the IDF table, so save()
/// writes exactly those (type "hashing_embedder", version 1) and load() replaces both.
class HashingEmbedder {
 public:
  /// How text is turned into features. The defaults suit short product texts (titles and
  /// descriptions of a few hundred words); see docs/embedders.md for measurements.
  struct Config {
    /// Output dimension (buckets), 1 .. 2²⁴. A 1 KB text has ~2000 features, so at 256 every
    /// bucket sums several; the random signs make the collisions cancel in expectation, and a
    /// catalog of 10⁶ items stays at 1 GB. Larger dims separate texts better (measured in
    /// docs/embedders.md) at proportionally more memory and scoring time.
    std::size_t dim{256};
    /// Adds pairs of adjacent words as features (phrases: "hard disk" ≠ "hard" + "disk").
    bool word_bigrams{true};
    /// Shortest character n-gram, in code points, counting the '<' and '>' framing the word.
    std::size_t char_ngram_min{3};
    /// Longest character n-gram (≥ char_ngram_min, ≤ 16). fastText's defaults are 3 .. 6; 5
    /// keeps most of the morphology at fewer features per word.
    std::size_t char_ngram_max{5};
    /// Total weight of a word's n-grams relative to the word itself; 0 turns n-grams off.
    /// Finite and ≥ 0. At 0.5 the words dominate and the n-grams catch inflections, typos
    /// and compounds.
    float char_ngram_weight{0.5f};
    /// Selects an independent family of hash functions (a different seed gives unrelated vectors).
    std::uint64_t seed{0};
    /// Buckets of the IDF table (1 .. 2²⁸): fit_idf hashes features into this many buckets,
    /// independently of `dim`, and a feature's IDF is its bucket's. 2¹⁸ buckets (1 MB of floats)
    /// keep collisions rare for vocabularies of ~10⁵ features; the table exists only after
    /// fit_idf.
    std::size_t idf_buckets{std::size_t{1} << 18};
  };

  /// An embedder with the default Config.
  HashingEmbedder() : HashingEmbedder(Config{}) {}

  /// An embedder with `config`; throws marl_rec::Error naming the member when a value is out of
  /// range.
  explicit HashingEmbedder(Config config) : config_(config) {
    constexpr const char* who = "HashingEmbedder";
    marl_rec::detail::require(config_.dim >= 1 && config_.dim <= (std::size_t{1} << 24), [&] {
      return std::string(who) + ": dim must be in [1, 2^24], got " + std::to_string(config_.dim);
    });
    marl_rec::detail::require(
        std::isfinite(config_.char_ngram_weight) && config_.char_ngram_weight >= 0.0f, [&] {
          return std::string(who) + ": char_ngram_weight must be finite and >= 0, got " +
                 std::to_string(config_.char_ngram_weight);
        });
    if (config_.char_ngram_weight > 0.0f) {
      marl_rec::detail::require(
          config_.char_ngram_min >= 1 && config_.char_ngram_min <= config_.char_ngram_max &&
              config_.char_ngram_max <= 16,
          [&] {
            return std::string(who) +
                   ": need 1 <= char_ngram_min <= char_ngram_max <= 16, got char_ngram_min = " +
                   std::to_string(config_.char_ngram_min) +
                   ", char_ngram_max = " + std::to_string(config_.char_ngram_max);
          });
    }
    marl_rec::detail::require(
        config_.idf_buckets >= 1 && config_.idf_buckets <= (std::size_t{1} << 28), [&] {
          return std::string(who) + ": idf_buckets must be in [1, 2^28], got " +
                 std::to_string(config_.idf_buckets);
        });
    word_basis_ = embed::mix64(config_.seed ^ 0x776F7264ull);      // "word"
    ngram_basis_ = embed::mix64(config_.seed ^ 0x6E6772616Dull);   // "ngram"
    bigram_basis_ = embed::mix64(config_.seed ^ 0x626967726Dull);  // "bigrm"
  }

  /// The output dimension.
  std::size_t dim() const noexcept { return config_.dim; }

  /// The configuration.
  const Config& config() const noexcept { return config_; }

  /// Writes the unit-length embedding of `text` to `out` (dim() floats). Throws marl_rec::Error
  /// when out.size() != dim(), or when `text` is empty or only whitespace, has no words, or is
  /// not valid UTF-8 (the message names the problem and quotes the text); `out` is not written
  /// then. Const and thread-safe. Allocates nothing for texts of up to 256 words and ~2 KB
  /// (their scratch space, ~12 KB, is on the stack); longer texts take heap memory for the call.
  void embed(std::string_view text, std::span<float> out) const {
    marl_rec::detail::require(out.size() == config_.dim, [&] {
      return std::string("HashingEmbedder::embed: out has ") + std::to_string(out.size()) +
             " elements, dim is " + std::to_string(config_.dim);
    });
    Tokens tokens;
    tokenise(text, "HashingEmbedder::embed", tokens);
    std::fill(out.begin(), out.end(), 0.0f);
    for_each_feature(tokens, [&](std::uint64_t h, double weight) {
      const std::uint64_t m = embed::mix64(h);
      // The product is rounded to float before the addition, so no FMA can fuse the two.
      const float w = static_cast<float>(idf_.empty() ? weight : weight * idf_[idf_bucket(m)]);
      out[bucket(m)] += embed::detail::with_sign(w, m >> 63);
    });
    // The features could cancel exactly only by a freak of rounding; never return a zero vector.
    marl_rec::detail::require(simd::l2_normalize(out), [&] {
      return std::string("HashingEmbedder::embed: the features of the text cancel out: ") +
             embed::quote_for_message(text);
    });
  }

  /// Fits the IDF table on `corpus` (e.g. the descriptions of the whole catalog): bucket b gets
  /// idf(b) = 1 + ln((1 + N) / (1 + df(b))), N = corpus.size(), df(b) = how many texts have a
  /// feature hashed to b (scikit-learn's smoothed IDF). The table is per bucket of `idf_buckets`
  /// buckets, not per feature: features sharing a bucket share its IDF (rare when idf_buckets
  /// is well above the number of distinct features). Replaces any earlier table. Throws
  /// marl_rec::Error for an empty corpus, or naming the index of a text embed would reject; the
  /// embedder is unchanged then.
  void fit_idf(std::span<const std::string_view> corpus) {
    marl_rec::detail::require(!corpus.empty(), "HashingEmbedder::fit_idf: the corpus is empty");
    std::vector<std::uint32_t> df(config_.idf_buckets, 0);
    // last[b] = 1 + the index of the last text that counted bucket b: each text counts once.
    std::vector<std::uint32_t> last(config_.idf_buckets, 0);
    marl_rec::detail::require(corpus.size() < 0xFFFFFFFFu,
                              "HashingEmbedder::fit_idf: the corpus has 2^32 texts or more");
    Tokens tokens;
    for (std::size_t i = 0; i < corpus.size(); ++i) {
      try {
        tokenise(corpus[i], "HashingEmbedder::fit_idf", tokens);
      } catch (const Error& e) {
        throw embed::detail::corpus_error("HashingEmbedder::fit_idf", i, e.what());
      }
      const auto stamp = static_cast<std::uint32_t>(i + 1);
      for_each_feature(tokens, [&](std::uint64_t h, double) {
        const std::size_t b = idf_bucket(embed::mix64(h));
        if (last[b] != stamp) {
          last[b] = stamp;
          ++df[b];
        }
      });
    }
    std::vector<float> idf(config_.idf_buckets);
    const double n = static_cast<double>(corpus.size());
    for (std::size_t b = 0; b < idf.size(); ++b) {
      idf[b] = static_cast<float>(1.0 + std::log((1.0 + n) / (1.0 + static_cast<double>(df[b]))));
    }
    idf_ = std::move(idf);
  }

  /// True when an IDF table has been fitted.
  bool has_idf() const noexcept { return !idf_.empty(); }

  /// The IDF table, one weight per bucket (empty before fit_idf).
  std::span<const float> idf() const noexcept { return idf_; }

  /// Drops the IDF table (back to TF weights only).
  void clear_idf() noexcept { idf_.clear(); }

  /// Writes the configuration and the IDF table, if fitted (type "hashing_embedder", version 1).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "hashing_embedder", 1);
    w.u64("dim", config_.dim);
    w.u64("word_bigrams", config_.word_bigrams ? 1 : 0);
    w.u64("char_ngram_min", config_.char_ngram_min);
    w.u64("char_ngram_max", config_.char_ngram_max);
    w.f64("char_ngram_weight", static_cast<double>(config_.char_ngram_weight));
    w.u64("seed", config_.seed);
    w.u64("idf_buckets", config_.idf_buckets);
    w.floats("idf", idf_);
    w.finish();
  }

  /// Replaces the configuration and the IDF table with what save() wrote. Throws Error
  /// (embedder unchanged) on a truncated, corrupted or foreign stream, a configuration the
  /// constructor refuses, or an IDF table of another size or with a value that fit_idf cannot
  /// give (not finite, or below 1).
  void load(std::istream& in) {
    constexpr const char* where = "loading a 'hashing_embedder' model";
    constexpr std::uint64_t size_max = std::numeric_limits<std::size_t>::max();
    io::ModelReader r(in, "hashing_embedder", 1);
    Config c;
    c.dim = static_cast<std::size_t>(r.u64("dim", 0, size_max));
    c.word_bigrams = r.u64("word_bigrams", 0, 1) == 1;
    c.char_ngram_min = static_cast<std::size_t>(r.u64("char_ngram_min", 0, size_max));
    c.char_ngram_max = static_cast<std::size_t>(r.u64("char_ngram_max", 0, size_max));
    const double weight = r.f64("char_ngram_weight");
    c.char_ngram_weight = static_cast<float>(weight);
    c.seed = r.u64("seed");
    c.idf_buckets = static_cast<std::size_t>(r.u64("idf_buckets", 0, size_max));
    marl_rec::detail::require(static_cast<double>(c.char_ngram_weight) == weight || std::isnan(weight), [&] {
      return std::string(where) + ": char_ngram_weight " + std::to_string(weight) + " is not a float";
    });
    HashingEmbedder loaded = [&] {
      try {
        return HashingEmbedder(c);
      } catch (const Error& e) {
        throw Error(std::string(where) + ": " + e.what());
      }
    }();
    const std::size_t n = r.array_size("idf");
    marl_rec::detail::require(n == 0 || n == c.idf_buckets, [&] {
      return std::string(where) + ": field 'idf' has " + std::to_string(n) + " values, expected 0 or " +
             std::to_string(c.idf_buckets) + " (idf_buckets)";
    });
    std::vector<float> idf = r.floats("idf", n);
    for (std::size_t b = 0; b < idf.size(); ++b) {
      // 1 + ln((1 + N) / (1 + df)) with df <= N: at least 1.
      marl_rec::detail::require(std::isfinite(idf[b]) && idf[b] >= 1.0f, [&] {
        return std::string(where) + ": IDF bucket " + std::to_string(b) + " holds " +
               std::to_string(idf[b]) + " (fit_idf gives finite values >= 1)";
      });
    }
    r.finish();
    loaded.idf_ = std::move(idf);
    *this = std::move(loaded);
  }

  /// The TF weight of a feature seen `tf` ≥ 1 times: 1 + ln tf, computed in double and rounded.
  static float tf_weight(std::size_t tf) noexcept {
    return tf == 1 ? 1.0f : static_cast<float>(1.0 + std::log(static_cast<double>(tf)));
  }

 private:
  // A word of the text: its hash and where its framed form "<word>" lies in Tokens::bytes.
  struct Word {
    std::uint64_t hash;
    std::uint32_t begin;
    std::uint32_t end;
  };
  // A distinct feature key: its hash, the first word it came from, how often it occurs.
  struct Distinct {
    std::uint64_t hash;
    std::uint32_t word;
    std::uint32_t count;
  };
  // The words of one text, framed and lower-cased, one after another in `bytes` (followed by 8
  // zero bytes, so that an 8-byte load at any byte of a word stays inside the buffer), and the
  // scratch space of counting. Sized for texts of up to ~256 words on the stack (~12 KB).
  struct Tokens {
    embed::detail::SmallBuffer<char, 2048> bytes;
    embed::detail::SmallBuffer<Word, 256> words;
    embed::detail::SmallBuffer<Distinct, 256> distinct;
    embed::detail::SmallBuffer<std::uint32_t, 512> table;
    void clear() noexcept {
      (void)bytes.resize_uninitialised(0);
      (void)words.resize_uninitialised(0);
    }
  };

  // The framed words of `text` into `tokens`, or Error (nothing is written anywhere else).
  void tokenise(std::string_view text, std::string_view who, Tokens& tokens) const {
    // Offsets are 32-bit to keep Word small; 2^30 bytes of text is far beyond any real item.
    marl_rec::detail::require(text.size() < (std::size_t{1} << 30), [&] {
      return std::string(who) + ": text of " + std::to_string(text.size()) +
             " bytes is too long (limit 2^30)";
    });
    tokens.clear();
    const std::size_t n = embed::for_each_word(text, who, [&](std::string_view word) {
      const auto begin = static_cast<std::uint32_t>(tokens.bytes.size());
      tokens.bytes.push_back('<');
      tokens.bytes.append(word.data(), word.size());
      tokens.bytes.push_back('>');
      const std::string_view framed(tokens.bytes.data() + begin, word.size() + 2);
      tokens.words.push_back({embed::fnv1a64(framed, word_basis_), begin,
                              static_cast<std::uint32_t>(tokens.bytes.size())});
    });
    embed::require_words(who, text, n);
    constexpr char padding[8] = {};
    tokens.bytes.append(padding, 8);
  }

  // The distinct keys among key(0) .. key(n - 1), in order of first occurrence, with their
  // counts (an open-addressing table: linear in n, and the order — hence the rounding of the
  // sums — depends only on the text). Returns how many.
  template <class Key>
  static std::size_t count_distinct(std::size_t n, const Key& key, Tokens& tokens, Distinct*& out) {
    std::size_t size = 16;
    while (size < 2 * n) size *= 2;
    std::uint32_t* table = tokens.table.resize_uninitialised(size);
    std::memset(table, 0, size * sizeof(std::uint32_t));
    out = tokens.distinct.resize_uninitialised(n);
    std::size_t distinct = 0;
    const std::size_t mask = size - 1;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t h = key(i);
      std::size_t slot = static_cast<std::size_t>(h ^ (h >> 32)) & mask;
      for (;;) {
        const std::uint32_t at = table[slot];
        if (at == 0) {
          out[distinct++] = {h, static_cast<std::uint32_t>(i), 1};
          table[slot] = static_cast<std::uint32_t>(distinct);
          break;
        }
        if (out[at - 1].hash == h) {
          ++out[at - 1].count;
          break;
        }
        slot = (slot + 1) & mask;
      }
    }
    return distinct;
  }

  // Calls f(feature hash, weight) for every feature of `tokens`.
  template <class F>
  void for_each_feature(Tokens& tokens, F&& f) const {
    const Word* words = tokens.words.data();
    const std::size_t n = tokens.words.size();
    const bool ngrams = config_.char_ngram_weight > 0.0f;
    Distinct* distinct = nullptr;
    const std::size_t n_distinct = count_distinct(
        n, [&](std::size_t i) { return words[i].hash; }, tokens, distinct);
    for (std::size_t d = 0; d < n_distinct; ++d) {
      const double t = tf_weight(distinct[d].count);
      f(distinct[d].hash, t);
      if (ngrams) {
        const Word& w = words[distinct[d].word];
        char_ngrams(tokens.bytes.data() + w.begin, w.end - w.begin, t, f);
      }
    }
    if (config_.word_bigrams && n >= 2) {
      const std::size_t n_pairs = count_distinct(
          n - 1,
          [&](std::size_t i) {
            return embed::mix64(words[i].hash ^ bigram_basis_) ^ words[i + 1].hash;
          },
          tokens, distinct);
      for (std::size_t d = 0; d < n_pairs; ++d) f(distinct[d].hash, tf_weight(distinct[d].count));
    }
  }

  // The hash of the n-gram of `length` bytes at p (8 bytes readable from p): n-grams of up to 7
  // bytes — every ASCII n-gram of the default lengths — are packed with their length into one
  // integer (distinct n-grams, distinct keys; the placement's mix64 does the hashing), longer
  // ones go through FNV-1a.
  std::uint64_t ngram_hash(const char* p, std::size_t length) const noexcept {
    if (length <= 7) {
      const std::uint64_t bytes =
          embed::detail::load_le64(p) & ((std::uint64_t{1} << (8 * length)) - 1);
      return (bytes | (static_cast<std::uint64_t>(length) << 56)) ^ ngram_basis_;
    }
    return embed::fnv1a64(std::string_view(p, length), ngram_basis_);
  }

  // The character n-grams of a framed word "<w>" (valid UTF-8; 8 bytes readable past its end):
  // n counts code points.
  template <class F>
  void char_ngrams(const char* framed, std::size_t size, double t, F& f) const {
    const std::size_t lo = config_.char_ngram_min, hi = config_.char_ngram_max;
    std::size_t code_points = 0;
    for (std::size_t i = 0; i < size; ++i) code_points += is_continuation(framed[i]) ? 0 : 1;
    if (code_points < lo) return;
    std::size_t count = 0;  // Σ over n of (code_points − n + 1)
    for (std::size_t len = lo; len <= hi && len <= code_points; ++len)
      count += code_points - len + 1;
    const double w =
        t * static_cast<double>(config_.char_ngram_weight) / std::sqrt(static_cast<double>(count));
    if (code_points == size) {  // ASCII: one byte per code point
      for (std::size_t start = 0; start + lo <= size; ++start) {
        for (std::size_t len = lo; len <= hi && start + len <= size; ++len) {
          f(ngram_hash(framed + start, len), w);
        }
      }
      return;
    }
    for (std::size_t start = 0; start < size; ++start) {
      if (is_continuation(framed[start])) continue;
      std::size_t len = 0;
      for (std::size_t k = start; k < size; ++k) {
        if (k + 1 < size && is_continuation(framed[k + 1])) continue;  // inside a code point
        ++len;
        if (len >= lo) f(ngram_hash(framed + start, k + 1 - start), w);
        if (len == hi) break;
      }
    }
  }

  static bool is_continuation(char c) noexcept {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
  }

  // Bucket from the low 32 bits (Lemire's multiply-shift: no division), sign from bit 63, IDF
  // bucket from bits 32..62: three independent parts of one mixed hash.
  std::size_t bucket(std::uint64_t m) const noexcept {
    return static_cast<std::size_t>(((m & 0xFFFFFFFFull) * config_.dim) >> 32);
  }
  std::size_t idf_bucket(std::uint64_t m) const noexcept {
    return static_cast<std::size_t>((((m >> 32) & 0x7FFFFFFFull) * config_.idf_buckets) >> 31);
  }

  Config config_;
  std::uint64_t word_basis_ = 0;
  std::uint64_t ngram_basis_ = 0;
  std::uint64_t bigram_basis_ = 0;
  std::vector<float> idf_;
};

}  // namespace marl_rec
