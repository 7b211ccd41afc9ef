// marl_rec — sentence vectors from pre-trained word vectors (word2vec, GloVe, fastText files):
// the SIF embedding of Arora, Liang and Ma, "A Simple but Tough-to-Beat Baseline for Sentence
// Embeddings" (ICLR 2017): a frequency-weighted average of the word vectors, minus its projection
// on the first principal component of a corpus' sentence vectors.
#pragma once

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <span>
#include <streambuf>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/embed/hashing_embedder.hpp"
#include "marl_rec/embed/text_tokens.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/string_fields.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"

namespace marl_rec {

/// What WordVectorEmbedder does with words that have no vector.
enum class WordVectorOov {
  hash,  ///< a hashed vector of the word's character n-grams (see WordVectorEmbedder)
  skip,  ///< leave the word out
};

/// Options of WordVectorEmbedder (WordVectorEmbedder::Config). At namespace scope because a
/// nested aggregate with default member initialisers cannot be a default argument of its
/// enclosing class's functions (GCC and clang reject `Config config = {}` there).
struct WordVectorEmbedderConfig {
  /// Out-of-vocabulary words: hashed (default: a product code or a new brand still counts)
  /// or skipped.
  WordVectorOov oov{WordVectorOov::hash};
  /// The SIF constant a (finite, > 0): weight a / (a + p(w)). Arora et al. found 10⁻³ to 10⁻⁴
  /// best across tasks; 10⁻³ is their default.
  double sif_a{1e-3};
  /// Read only the first max_words words of a file (0: all). Files are sorted by frequency, so
  /// this keeps the most frequent words (fastText's 2·10⁶ × 300 floats are 2.4 GB).
  std::size_t max_words{0};
  /// Character n-gram lengths of the hashed vectors of out-of-vocabulary words.
  std::size_t oov_ngram_min{3};
  std::size_t oov_ngram_max{5};
  /// Seeds the hashing of out-of-vocabulary words and the power iteration's start vector.
  std::uint64_t seed{0};
};

/// Embeds text as the SIF-weighted average of pre-trained word vectors. Satisfies Embedder.
///
/// For a text with words w₁ … w_n (embed::for_each_word: ASCII lower-cased, split at whitespace
/// and punctuation), with vectors v(w):
///   s = (1/n) Σᵢ a / (a + p(wᵢ)) · v(wᵢ)       (a = Config::sif_a, p = the word's frequency)
///   s ← s − (u·s) u                             (u: the common component, once fitted)
///   out = s / ‖s‖
/// p(w) comes from word counts given to set_word_counts, or else is estimated from the word's
/// rank r in the file (1 = the first word) by Zipf's law, p = 1 / (r · H_V) with H_V the V-th
/// harmonic number (V = the header's word count, or the words read): word2vec, GloVe and fastText
/// files list words from most to least frequent. A word without a known frequency (absent from
/// the counts, or out of vocabulary) has p = 0, weight 1.
///
/// Out-of-vocabulary words: Oov::hash gives each one the vector of a HashingEmbedder of the
/// vectors' dimension over that word alone (its character n-grams: words sharing n-grams get
/// related vectors), scaled to the mean norm of the loaded vectors; Oov::skip leaves them out,
/// and a text none of whose words has a vector is an error.
///
/// Lookup: words are looked up as the tokeniser gives them (ASCII lower-cased). A vocabulary
/// entry with upper-case ASCII ("Linux") also answers for its lower-cased form ("linux") unless
/// that form is an entry itself; of several such entries the first (most frequent) wins. Entries
/// the tokeniser can never produce (with punctuation: "New_York", "can't") are loaded but unused.
///
/// Platform independence: the sums are accumulated in double from products of two floats (exact
/// in double, so an FMA gives the same result), in a fixed order; the power iteration starts
/// from Rng's uniform draws. The same file, counts and corpus give the same bits everywhere.
///
/// Memory: the vectors live in one contiguous 64-byte-aligned block (rows × dim floats), the
/// words in a hash map word → row.
///
/// Persistence: save() writes the Config, the words (in row order) and their vectors, the SIF
/// weights in use (from the Zipf estimate or set_word_counts; the counts themselves are not
/// kept) and the fitted common component (type "word_vector_embedder", version 1). load()
/// replaces everything; from_saved() makes a new embedder from such a stream. A loaded embedder
/// embeds every text to the same bits as the one saved.
class WordVectorEmbedder {
 public:
  /// What to do with words that have no vector (see WordVectorOov).
  using Oov = WordVectorOov;
  /// Options of the embedder (see WordVectorEmbedderConfig).
  using Config = WordVectorEmbedderConfig;

  /// A word with its count in some corpus, for set_word_counts.
  struct WordCount {
    std::string_view word{};
    double count{};
  };

  /// An embedder over `words` (unique, valid UTF-8, not empty) whose vectors are the rows of
  /// `vectors` (words.size() × dim floats, all finite), in order of decreasing frequency when
  /// the Zipf estimate is to be used. Throws marl_rec::Error naming the first problem.
  WordVectorEmbedder(std::span<const std::string_view> words, std::size_t dim,
                     std::span<const float> vectors, Config config = {})
      : config_(checked(config)) {
    constexpr const char* who = "WordVectorEmbedder";
    marl_rec::detail::require(!words.empty(), "WordVectorEmbedder: no words");
    marl_rec::detail::require(dim >= 1 && dim <= max_dim, [&] {
      return std::string(who) + ": dim must be in [1, 2^20], got " + std::to_string(dim);
    });
    marl_rec::detail::require(
        vectors.size() / dim == words.size() && vectors.size() % dim == 0, [&] {
          return std::string(who) + ": " + std::to_string(words.size()) + " words of dim " +
                 std::to_string(dim) + " need " + std::to_string(words.size() * dim) +
                 " floats, got " + std::to_string(vectors.size());
        });
    Loader loader{who, dim};
    for (std::size_t i = 0; i < words.size(); ++i) {
      const auto where = [&] { return std::string(who) + ": words[" + std::to_string(i) + "]"; };
      loader.check_word(words[i], where);
      loader.check_values(vectors.subspan(i * dim, dim), words[i], where);
      loader.add(words[i], vectors.subspan(i * dim, dim), i, [&](std::size_t first) {
        return where() + ": duplicate word " + embed::quote_for_message(words[i]) +
               " (also words[" + std::to_string(first) + "])";
      });
    }
    finish(std::move(loader), words.size());
  }

  /// Loads a text file: word2vec or fastText `.vec` (a first line "count dim", then one line per
  /// word: the word and dim numbers, separated by spaces) or GloVe (the same without the first
  /// line; dim is taken from the first word's line). Throws marl_rec::Error "path:line: what"
  /// for a file it cannot open, a word with a different number of values, a value that is not
  /// a finite number, a duplicate word (naming the line of its first occurrence), a word that
  /// is not valid UTF-8, a count that does not match the header, or a header whose sizes the
  /// file cannot hold (no allocation is made from a header's claims alone). Nothing is returned
  /// half-loaded. A first line of exactly two whole numbers is read as the header.
  static WordVectorEmbedder load_text(const std::string& path, Config config = {}) {
    std::ifstream in = open(path);
    return load_text(in, path, config);
  }

  /// load_text from a stream; `source` names it in messages.
  static WordVectorEmbedder load_text(std::istream& in, std::string_view source,
                                      Config config = {}) {
    config = checked(config);
    const std::optional<std::uint64_t> size = bytes_left(in);
    std::string line;
    std::size_t line_number = 0;
    const auto where = [&] { return std::string(source) + ":" + std::to_string(line_number); };
    const auto next_line = [&] {
      if (!std::getline(in, line)) return false;
      ++line_number;
      trim_line_end(line);
      return true;
    };
    // The first line that is not blank: a header, or the first word (GloVe).
    bool have = false;
    while ((have = next_line()) && line.empty()) {
    }
    marl_rec::detail::require(
        have, [&] { return std::string(source) + ": no word vectors (the input is empty)"; });
    std::optional<std::size_t> header_count;
    std::size_t dim = 0;
    bool pending = true;  // `line` holds a data line not yet parsed
    if (const auto header = parse_header(line)) {
      header_count = header->first;
      dim = header->second;
      pending = false;
      marl_rec::detail::require(dim >= 1 && dim <= max_dim, [&] {
        return where() + ": the header's dim must be in [1, 2^20], got " + std::to_string(dim);
      });
      // A row takes at least 2·dim + 2 bytes ("w 0 0 ... 0\n").
      check_room(where, rows_to_read(*header_count, config), 2 * dim + 2,
                 size ? bytes_left(in) : size);
    } else {
      dim = count_fields(line) - 1;
      marl_rec::detail::require(dim >= 1 && dim <= max_dim, [&] {
        return where() + ": expected a word and its values, got " + embed::quote_for_message(line);
      });
    }
    Loader loader{std::string(source), dim};
    // Room for the rows to come, never more than the input can hold: from the header when the
    // file can hold that many, else from the first row's length (GloVe); an input of unknown
    // size gets at most 64 MB up front and grows as it is read.
    const std::size_t wanted =
        rows_to_read(header_count.value_or(std::numeric_limits<std::size_t>::max()), config);
    if (size && header_count) {
      loader.reserve(wanted);  // check_room has bounded it by the file's size
    } else if (size) {
      loader.reserve(std::min<std::uint64_t>(wanted, *size / (line.size() + 1) + 1));
    } else {
      loader.reserve(std::min<std::uint64_t>(wanted, unknown_size_reserve / dim));
    }
    std::vector<float> row;
    row.reserve(dim);
    for (;;) {
      if (!pending && !next_line()) break;
      pending = false;
      if (line.empty()) continue;
      if (config.max_words != 0 && loader.rows() == config.max_words) break;
      if (header_count) {
        marl_rec::detail::require(loader.rows() < *header_count, [&] {
          return where() + ": more words than the " + std::to_string(*header_count) +
                 " the header announces";
        });
      }
      const std::string_view word = parse_text_row(line, dim, row, where);
      loader.check_word(word, where);
      loader.add(word, row, line_number, [&](std::size_t first) {
        return where() + ": duplicate word " + embed::quote_for_message(word) + " (first on line " +
               std::to_string(first) + ")";
      });
    }
    marl_rec::detail::require(!in.bad(), [&] { return std::string(source) + ": read error"; });
    const bool cut = config.max_words != 0 && loader.rows() == config.max_words;
    if (header_count && !cut) {
      marl_rec::detail::require(loader.rows() == *header_count, [&] {
        return std::string(source) + ": the header announces " + std::to_string(*header_count) +
               " words, the file has " + std::to_string(loader.rows()) + " (truncated?)";
      });
    }
    marl_rec::detail::require(loader.rows() > 0,
                              [&] { return std::string(source) + ": no word vectors"; });
    WordVectorEmbedder result(config);
    result.finish(std::move(loader), header_count.value_or(0));
    return result;
  }

  /// Loads a binary word2vec file: a first line "count dim", then per word the word's bytes, a
  /// space and dim little-endian IEEE float32 values, optionally followed by a newline (word2vec
  /// writes one, gensim does not). Throws marl_rec::Error "path: entry N (byte B): what" for
  /// truncated data, a non-finite value, a duplicate word, a word that is not valid UTF-8, data
  /// after the announced words, or a header whose sizes the file cannot hold.
  static WordVectorEmbedder load_binary(const std::string& path, Config config = {}) {
    std::ifstream in = open(path);
    return load_binary(in, path, config);
  }

  /// load_binary from a stream (opened in binary mode); `source` names it in messages.
  static WordVectorEmbedder load_binary(std::istream& in, std::string_view source,
                                        Config config = {}) {
    config = checked(config);
    const std::optional<std::uint64_t> size = bytes_left(in);
    std::streambuf& sb = *in.rdbuf();
    std::uint64_t offset = 0;
    std::string header;
    for (;;) {
      const int c = sb.sbumpc();
      if (c == std::char_traits<char>::eof() || c == '\n') break;
      ++offset;
      marl_rec::detail::require(header.size() < 64, [&] {
        return std::string(source) + ":1: expected a header line \"count dim\" (binary word2vec)";
      });
      header += static_cast<char>(c);
    }
    ++offset;
    trim_line_end(header);
    const auto parsed = parse_header(header);
    marl_rec::detail::require(parsed.has_value(), [&] {
      return std::string(source) +
             ":1: expected a header line \"count dim\" (binary word2vec), got " +
             embed::quote_for_message(header);
    });
    // (Not a structured binding: clang 14 cannot capture those in the lambdas below.)
    const std::size_t count = parsed->first;
    const std::size_t dim = parsed->second;
    marl_rec::detail::require(dim >= 1 && dim <= max_dim, [&] {
      return std::string(source) + ":1: the header's dim must be in [1, 2^20], got " +
             std::to_string(dim);
    });
    const std::size_t to_read = rows_to_read(count, config);
    const std::optional<std::uint64_t> body =
        size ? std::optional<std::uint64_t>(*size - std::min(*size, offset)) : std::nullopt;
    // An entry takes at least 4·dim + 2 bytes (a one-byte word and the space).
    check_room([&] { return std::string(source) + ":1"; }, to_read, 4 * dim + 2, body);
    Loader loader{std::string(source), dim};
    // check_room has bounded to_read by the file's size; of an input of unknown size, at most
    // 64 MB are reserved up front.
    loader.reserve(body ? to_read : std::min<std::size_t>(to_read, unknown_size_reserve / dim));
    std::string word;
    std::vector<char> bytes(dim * 4);
    std::vector<float> row(dim);
    std::uint64_t word_offset = offset;
    std::size_t entry = 0;
    const auto where = [&] {
      return std::string(source) + ": entry " + std::to_string(entry) + " (byte " +
             std::to_string(word_offset) + ")";
    };
    for (entry = 1; entry <= to_read; ++entry) {
      int c = sb.sbumpc();
      while (c == '\n') {  // the newline word2vec writes after each vector
        ++offset;
        c = sb.sbumpc();
      }
      word_offset = offset;
      word.clear();
      while (c != ' ') {
        marl_rec::detail::require(c != std::char_traits<char>::eof(), [&] {
          return where() + ": truncated: the file ends " +
                 (word.empty() ? std::string("before the word")
                               : "inside the word " + embed::quote_for_message(word)) +
                 " (the header announces " + std::to_string(count) + " words)";
        });
        marl_rec::detail::require(word.size() < max_word_bytes, [&] {
          return where() + ": a word longer than " + std::to_string(max_word_bytes) +
                 " bytes (not a binary word2vec file?)";
        });
        word += static_cast<char>(c);
        ++offset;
        c = sb.sbumpc();
      }
      ++offset;
      loader.check_word(word, where);
      const auto got = static_cast<std::size_t>(
          sb.sgetn(bytes.data(), static_cast<std::streamsize>(bytes.size())));
      offset += got;
      marl_rec::detail::require(got == bytes.size(), [&] {
        return where() + ": truncated: the vector of " + embed::quote_for_message(word) + " has " +
               std::to_string(got) + " of its " + std::to_string(bytes.size()) + " bytes";
      });
      for (std::size_t j = 0; j < dim; ++j) {
        const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + 4 * j);
        const std::uint32_t bits =
            static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
            (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
        row[j] = std::bit_cast<float>(bits);
      }
      loader.check_values(row, word, where);
      loader.add(word, row, entry, [&](std::size_t first) {
        return where() + ": duplicate word " + embed::quote_for_message(word) +
               " (first as entry " + std::to_string(first) + ")";
      });
    }
    if (to_read == count) {
      // Only line ends may follow the last entry.
      for (int c = sb.sbumpc(); c != std::char_traits<char>::eof(); c = sb.sbumpc(), ++offset) {
        marl_rec::detail::require(c == '\n' || c == '\r', [&] {
          return std::string(source) + ": byte " + std::to_string(offset) + ": data after the " +
                 std::to_string(count) + " words the header announces";
        });
      }
    }
    marl_rec::detail::require(!in.bad(), [&] { return std::string(source) + ": read error"; });
    marl_rec::detail::require(loader.rows() > 0,
                              [&] { return std::string(source) + ": no word vectors"; });
    WordVectorEmbedder result(config);
    result.finish(std::move(loader), count);
    return result;
  }

  /// An embedder read from a stream save() wrote (see load()).
  static WordVectorEmbedder from_saved(std::istream& in) {
    WordVectorEmbedder e(Config{});
    e.load(in);
    return e;
  }

  /// Writes the Config, the vocabulary with its vectors and SIF weights, and the common
  /// component (see the class comment).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "word_vector_embedder", 1);
    w.u64("oov", config_.oov == Oov::hash ? 0 : 1);
    w.f64("sif_a", config_.sif_a);
    w.u64("max_words", config_.max_words);
    w.u64("oov_ngram_min", config_.oov_ngram_min);
    w.u64("oov_ngram_max", config_.oov_ngram_max);
    w.u64("seed", config_.seed);
    w.u64("dim", dim_);
    std::vector<std::string_view> words(vocabulary_size());
    for (const auto& entry : index_) {
      if ((entry.second & alias_bit) == 0) words[entry.second] = entry.first;
    }
    io::write_strings(w, "words", words.size(), [&](std::size_t i) { return words[i]; });
    w.floats("vectors", vectors_);
    w.floats("weights", weights_);
    w.floats("common_component", component_);
    w.finish();
  }

  /// Replaces everything with what save() wrote. Throws Error (embedder unchanged) on a
  /// truncated, corrupted or foreign stream, or contents the constructor refuses (an invalid
  /// Config, an empty, duplicate or non-UTF-8 word, a non-finite value), a SIF weight outside
  /// [0, 1], or a common component that is not a unit vector of dim() floats.
  void load(std::istream& in) {
    constexpr const char* where = "loading a 'word_vector_embedder' model";
    constexpr std::uint64_t size_max = std::numeric_limits<std::size_t>::max();
    io::ModelReader r(in, "word_vector_embedder", 1);
    Config c;
    c.oov = r.u64("oov", 0, 1) == 0 ? Oov::hash : Oov::skip;
    c.sif_a = r.f64("sif_a");
    c.max_words = static_cast<std::size_t>(r.u64("max_words", 0, size_max));
    c.oov_ngram_min = static_cast<std::size_t>(r.u64("oov_ngram_min", 0, size_max));
    c.oov_ngram_max = static_cast<std::size_t>(r.u64("oov_ngram_max", 0, size_max));
    c.seed = r.u64("seed");
    const auto dim = static_cast<std::size_t>(r.u64("dim", 1, max_dim));
    const std::vector<std::string> words = io::read_strings(r, "words", where);
    const std::size_t rows = words.size();
    marl_rec::detail::require(rows >= 1 && rows < row_mask, [&] {
      return std::string(where) + ": " + std::to_string(rows) + " words (need 1 .. 2^31 - 2)";
    });
    const std::vector<float> vectors = r.floats("vectors", rows * dim);
    std::vector<float> weights = r.floats("weights", rows);
    const std::size_t component_size = r.array_size("common_component");
    marl_rec::detail::require(component_size == 0 || component_size == dim, [&] {
      return std::string(where) + ": field 'common_component' has " + std::to_string(component_size) +
             " values, expected 0 or " + std::to_string(dim) + " (dim)";
    });
    std::vector<float> component = r.floats("common_component", component_size);
    r.finish();
    for (std::size_t k = 0; k < rows; ++k) {
      // a / (a + p) with 0 <= p <= 1 and a > 0 (0 only when it underflows the float).
      marl_rec::detail::require(weights[k] >= 0.0f && weights[k] <= 1.0f, [&] {
        return std::string(where) + ": the SIF weight of " + embed::quote_for_message(words[k]) + " is " +
               std::to_string(weights[k]) + ", not in [0, 1]";
      });
    }
    if (!component.empty()) {
      double n2 = 0.0;
      for (const float e : component) n2 += static_cast<double>(e) * static_cast<double>(e);
      marl_rec::detail::require(std::isfinite(n2) && std::fabs(n2 - 1.0) <= 1e-4, [&] {
        return std::string(where) + ": the common component has length " + std::to_string(std::sqrt(n2)) +
               ", not 1";
      });
    }
    WordVectorEmbedder loaded = [&] {
      try {
        WordVectorEmbedder e(checked(c));
        Loader loader{"WordVectorEmbedder", dim};
        loader.reserve(rows);
        const std::span<const float> all(vectors);
        for (std::size_t i = 0; i < rows; ++i) {
          const auto at = [&] { return std::string("word ") + std::to_string(i); };
          loader.check_word(words[i], at);
          loader.check_values(all.subspan(i * dim, dim), words[i], at);
          loader.add(words[i], all.subspan(i * dim, dim), i, [&](std::size_t first) {
            return at() + ": duplicate word " + embed::quote_for_message(words[i]) + " (also word " +
                   std::to_string(first) + ")";
          });
        }
        e.finish(std::move(loader), rows);
        return e;
      } catch (const Error& e) {
        throw Error(std::string(where) + ": " + e.what());
      }
    }();
    loaded.weights_ = std::move(weights);
    loaded.component_ = std::move(component);
    *this = std::move(loaded);
  }

  /// The vectors' dimension (and the output's).
  std::size_t dim() const noexcept { return dim_; }

  /// Number of words with a vector (lower-cased aliases not counted).
  std::size_t vocabulary_size() const noexcept { return weights_.size(); }

  /// The configuration.
  const Config& config() const noexcept { return config_; }

  /// The row of `word` (looked up as given: pass it lower-cased to look up as embed does).
  std::optional<std::size_t> find(std::string_view word) const {
    const auto it = index_.find(word);
    if (it == index_.end()) return std::nullopt;
    return static_cast<std::size_t>(it->second & row_mask);
  }

  /// The vector of row `row` (< vocabulary_size(); throws Error otherwise).
  std::span<const float> vector(std::size_t row) const {
    marl_rec::detail::require(row < vocabulary_size(), [&] {
      return std::string("WordVectorEmbedder::vector: row ") + std::to_string(row) +
             " out of range (vocabulary " + std::to_string(vocabulary_size()) + ")";
    });
    return std::span<const float>(vectors_).subspan(row * dim_, dim_);
  }

  /// The SIF weight a / (a + p(w)) of row `row`.
  float weight(std::size_t row) const {
    (void)vector(row);  // range check
    return weights_[row];
  }

  /// The mean L2 norm of the vectors (the norm given to hashed out-of-vocabulary vectors).
  double mean_norm() const noexcept { return mean_norm_; }

  /// Replaces the Zipf estimate of p(w) by counts: p(w) = count(w) / Σ counts (the sum runs over
  /// every entry, including words without a vector, which are part of the corpus). Words are
  /// matched exactly against the file's words; words of the vocabulary without a count get
  /// p = 0 (weight 1, like a rare word). Drops a fitted common component (it was computed with
  /// the old weights). Throws marl_rec::Error for a negative or non-finite count, a word given
  /// twice, or counts summing to 0; the embedder is unchanged then.
  void set_word_counts(std::span<const WordCount> counts) {
    constexpr const char* who = "WordVectorEmbedder::set_word_counts";
    double total = 0.0;
    std::unordered_map<std::string_view, std::size_t> seen;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      const WordCount& c = counts[i];
      marl_rec::detail::require(std::isfinite(c.count) && c.count >= 0.0, [&] {
        return std::string(who) + ": the count of " + embed::quote_for_message(c.word) +
               " must be finite and >= 0, got " + std::to_string(c.count);
      });
      const auto inserted = seen.emplace(c.word, i);
      marl_rec::detail::require(inserted.second, [&] {
        return std::string(who) + ": " + embed::quote_for_message(c.word) +
               " is given twice (counts[" + std::to_string(inserted.first->second) +
               "] and counts[" + std::to_string(i) + "])";
      });
      total += c.count;
    }
    marl_rec::detail::require(total > 0.0 && std::isfinite(total), [&] {
      return std::string(who) + ": the counts sum to " + std::to_string(total) +
             ", need a finite sum > 0";
    });
    std::vector<double> p(vocabulary_size(), 0.0);
    for (const WordCount& c : counts) {
      const auto it = index_.find(c.word);
      if (it != index_.end() && (it->second & alias_bit) == 0) p[it->second] = c.count / total;
    }
    set_weights(p);
    component_.clear();
  }

  /// Fits the common component u: the first principal component (uncentred, as in Arora et al.)
  /// of the SIF vectors of the texts of `corpus`, by power iteration on Σ s sᵀ from a seeded
  /// start vector; deterministic. It stops when no entry of u changes by more than 10⁻⁶, or after
  /// 1000 iterations (when the two largest singular values are nearly equal, any vector of their
  /// span serves). The sign is chosen so that u's largest entry is positive. Throws
  /// marl_rec::Error for an empty corpus, naming the index of a text embed would reject, or when
  /// all the corpus' vectors are zero; the embedder is unchanged then.
  void fit_common_component(std::span<const std::string_view> corpus) {
    constexpr const char* who = "WordVectorEmbedder::fit_common_component";
    marl_rec::detail::require(!corpus.empty(), std::string(who) + ": the corpus is empty");
    const std::size_t n = corpus.size(), d = dim_;
    AlignedVector<float> x(n * d);
    Scratch scratch(d);
    for (std::size_t i = 0; i < n; ++i) {
      try {
        sentence_vector(corpus[i], who, std::span<float>(x).subspan(i * d, d), scratch);
      } catch (const Error& e) {
        throw embed::detail::corpus_error(who, i, e.what());
      }
    }
    // v: float, so that every product below is float × float, exact in double.
    std::vector<float> v(d);
    Rng rng(config_.seed ^ 0x636F6D706F6Eull);  // "compon"
    for (float& e : v) e = static_cast<float>(rng.uniform(-1.0, 1.0));
    normalise_into(std::vector<double>(v.begin(), v.end()), v);
    std::vector<float> s(n);
    std::vector<double> y(d);
    for (int iteration = 0; iteration < 1000; ++iteration) {
      for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<float>(dot_exact(&x[i * d], v.data(), d));
      std::fill(y.begin(), y.end(), 0.0);
      for (std::size_t i = 0; i < n; ++i) {
        const double si = s[i];
        const float* row = &x[i * d];
        for (std::size_t j = 0; j < d; ++j) y[j] += si * static_cast<double>(row[j]);
      }
      std::vector<float> next(d);
      marl_rec::detail::require(normalise_into(y, next), [&] {
        return std::string(who) + ": the sentence vectors of the corpus are all zero";
      });
      double change = 0.0;
      for (std::size_t j = 0; j < d; ++j)
        change = std::max(change, std::fabs(double(next[j]) - double(v[j])));
      v = std::move(next);
      if (change <= 1e-6) break;
    }
    std::size_t largest = 0;
    for (std::size_t j = 1; j < d; ++j) {
      if (std::fabs(v[j]) > std::fabs(v[largest])) largest = j;
    }
    if (v[largest] < 0.0f) {
      for (float& e : v) e = -e;
    }
    component_.assign(v.begin(), v.end());
  }

  /// The fitted common component u (unit length), or empty.
  std::span<const float> common_component() const noexcept { return component_; }

  /// Forgets the common component: the outputs are then the normalised SIF averages.
  void clear_common_component() noexcept { component_.clear(); }

  /// Writes the unit-length embedding of `text` to `out` (dim() floats). Throws marl_rec::Error
  /// when out.size() != dim(), or when `text` is empty or only whitespace, has no words, is not
  /// valid UTF-8, has no word with a vector (Oov::skip), or its vector is zero (e.g. all of it
  /// lies along the common component); `out` is not written then. Const and thread-safe.
  void embed(std::string_view text, std::span<float> out) const {
    constexpr const char* who = "WordVectorEmbedder::embed";
    marl_rec::detail::require(out.size() == dim_, [&] {
      return std::string(who) + ": out has " + std::to_string(out.size()) + " elements, dim is " +
             std::to_string(dim_);
    });
    Scratch scratch(dim_);
    std::vector<float> s(dim_);
    sentence_vector(text, who, s, scratch);
    if (!component_.empty()) {
      // s − (u·s) u, with u·s rounded to float: both products are exact in double.
      const double c = static_cast<float>(dot_exact(component_.data(), s.data(), dim_));
      for (std::size_t j = 0; j < dim_; ++j) {
        s[j] =
            static_cast<float>(static_cast<double>(s[j]) - c * static_cast<double>(component_[j]));
      }
    }
    marl_rec::detail::require(simd::l2_normalize(std::span<float>(s)), [&] {
      return std::string(who) + ": the text's vector is zero" +
             (component_.empty() ? "" : " once the common component is removed") + ": " +
             embed::quote_for_message(text);
    });
    std::copy(s.begin(), s.end(), out.begin());
  }

 private:
  static constexpr std::size_t max_dim = std::size_t{1} << 20;
  static constexpr std::size_t max_word_bytes = 4096;
  // Floats reserved up front when the input's size is unknown (a pipe): 64 MB.
  static constexpr std::size_t unknown_size_reserve = std::size_t{1} << 24;
  static constexpr std::uint32_t alias_bit = 0x80000000u;
  static constexpr std::uint32_t row_mask = 0x7FFFFFFFu;

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using Index = std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>>;

  // Scratch space of one embed call.
  struct Scratch {
    explicit Scratch(std::size_t d) : acc(d) {}
    std::vector<double> acc;
    std::vector<float> oov{};
  };

  // Collects validated rows; `lines` remembers where each word was, for duplicate messages.
  struct Loader {
    std::string source;
    std::size_t dim;
    AlignedVector<float> vectors{};
    Index index{};
    std::vector<std::size_t> lines{};

    std::size_t rows() const noexcept { return lines.size(); }
    void reserve(std::uint64_t rows) {
      vectors.reserve(static_cast<std::size_t>(rows) * dim);
      lines.reserve(static_cast<std::size_t>(rows));
    }
    template <class Where>
    void check_word(std::string_view word, const Where& where) const {
      marl_rec::detail::require(!word.empty(), [&] { return where() + ": an empty word"; });
      marl_rec::detail::require(embed::is_valid_utf8(word), [&] {
        return where() + ": the word " + embed::quote_for_message(word) + " is not valid UTF-8";
      });
    }
    template <class Where>
    void check_values(std::span<const float> row, std::string_view word, const Where& where) const {
      for (std::size_t j = 0; j < row.size(); ++j) {
        marl_rec::detail::require(std::isfinite(row[j]), [&] {
          return where() + ": value " + std::to_string(j + 1) + " of " +
                 embed::quote_for_message(word) + " is not finite (" + std::to_string(row[j]) + ")";
        });
      }
    }
    template <class Duplicate>
    void add(std::string_view word, std::span<const float> row, std::size_t line,
             const Duplicate& duplicate) {
      marl_rec::detail::require(rows() < row_mask,
                                [&] { return source + ": more than 2^31 - 1 words"; });
      const auto inserted =
          index.try_emplace(std::string(word), static_cast<std::uint32_t>(rows()));
      marl_rec::detail::require(inserted.second,
                                [&] { return duplicate(lines[inserted.first->second]); });
      vectors.insert(vectors.end(), row.begin(), row.end());
      lines.push_back(line);
    }
  };

  explicit WordVectorEmbedder(Config config) : config_(config) {}

  static Config checked(Config config) {
    marl_rec::detail::require(std::isfinite(config.sif_a) && config.sif_a > 0.0, [&] {
      return std::string("WordVectorEmbedder: sif_a must be finite and > 0, got ") +
             std::to_string(config.sif_a);
    });
    marl_rec::detail::require(
        config.oov_ngram_min >= 1 && config.oov_ngram_min <= config.oov_ngram_max &&
            config.oov_ngram_max <= 16,
        [&] {
          return std::string(
                     "WordVectorEmbedder: need 1 <= oov_ngram_min <= oov_ngram_max <= 16, got ") +
                 std::to_string(config.oov_ngram_min) + " and " +
                 std::to_string(config.oov_ngram_max);
        });
    return config;
  }

  // Takes the loaded rows; builds the lower-cased aliases, the weights, the mean norm and the
  // hasher for out-of-vocabulary words.
  void finish(Loader&& loader, std::size_t announced_words) {
    dim_ = loader.dim;
    vectors_ = std::move(loader.vectors);
    index_ = std::move(loader.index);
    const std::size_t rows = vectors_.size() / dim_;
    // Aliases in row order (most frequent first). The words are collected first: inserting into
    // the map while walking it is not allowed.
    std::vector<std::pair<std::uint32_t, std::string>> lowered;
    for (const auto& [word, row] : index_) {
      std::string lower = word;
      bool changed = false;
      for (char& c : lower) {
        if (c >= 'A' && c <= 'Z') {
          c = static_cast<char>(c + ('a' - 'A'));
          changed = true;
        }
      }
      if (changed) lowered.emplace_back(row, std::move(lower));
    }
    std::sort(lowered.begin(), lowered.end());
    for (auto& [row, lower] : lowered) index_.try_emplace(std::move(lower), row | alias_bit);
    // Zipf: p(rank r) = 1 / (r · H_V).
    const std::size_t v = std::max(rows, announced_words);
    double harmonic = 0.0;
    for (std::size_t k = v; k >= 1; --k) harmonic += 1.0 / static_cast<double>(k);
    std::vector<double> p(rows);
    for (std::size_t r = 0; r < rows; ++r) p[r] = 1.0 / (static_cast<double>(r + 1) * harmonic);
    set_weights(p);
    double norms = 0.0;
    for (std::size_t r = 0; r < rows; ++r)
      norms += std::sqrt(dot_exact(&vectors_[r * dim_], &vectors_[r * dim_], dim_));
    mean_norm_ = norms / static_cast<double>(rows);
    oov_ = HashingEmbedder({.dim = dim_,
                            .word_bigrams = false,
                            .char_ngram_min = config_.oov_ngram_min,
                            .char_ngram_max = config_.oov_ngram_max,
                            .char_ngram_weight = 1.0f,
                            .seed = config_.seed,
                            .idf_buckets = 1});
  }

  void set_weights(const std::vector<double>& p) {
    weights_.resize(p.size());
    for (std::size_t r = 0; r < p.size(); ++r) {
      weights_[r] = static_cast<float>(config_.sif_a / (config_.sif_a + p[r]));
    }
  }

  // The SIF average of `text` into `out` (not normalised, common component not removed).
  void sentence_vector(std::string_view text, std::string_view who, std::span<float> out,
                       Scratch& scratch) const {
    std::vector<double>& acc = scratch.acc;
    std::fill(acc.begin(), acc.end(), 0.0);
    // acc += w · v: float × float products, exact in double (an FMA gives the same sum).
    const auto add_scaled = [&](float w, const float* v) {
      for (std::size_t j = 0; j < dim_; ++j)
        acc[j] += static_cast<double>(w) * static_cast<double>(v[j]);
    };
    std::size_t used = 0;
    const std::size_t words = embed::for_each_word(text, who, [&](std::string_view word) {
      const auto it = index_.find(word);
      if (it != index_.end()) {
        const std::size_t row = it->second & row_mask;
        add_scaled(weights_[row], &vectors_[row * dim_]);
        ++used;
      } else if (config_.oov == Oov::hash) {
        scratch.oov.resize(dim_);
        try {
          oov_.embed(word, scratch.oov);
        } catch (const Error&) {
          // The word's few hashed features cancelled exactly (possible only at a tiny dim, e.g.
          // "<1>" and its one 3-gram in the same bucket with opposite signs): no vector for it,
          // as for any word whose vector is zero.
          std::fill(scratch.oov.begin(), scratch.oov.end(), 0.0f);
        }
        const auto norm = static_cast<float>(mean_norm_);
        for (float& e : scratch.oov) e *= norm;
        add_scaled(1.0f, scratch.oov.data());  // p = 0: weight a / (a + 0) = 1
        ++used;
      }
    });
    embed::require_words(who, text, words);
    marl_rec::detail::require(used > 0, [&] {
      return std::string(who) +
             ": no word of the text has a vector (oov = skip): " + embed::quote_for_message(text);
    });
    const double inverse = 1.0 / static_cast<double>(used);
    for (std::size_t j = 0; j < dim_; ++j) out[j] = static_cast<float>(acc[j] * inverse);
  }

  static double dot_exact(const float* a, const float* b, std::size_t n) noexcept {
    double sum = 0.0;
    for (std::size_t j = 0; j < n; ++j)
      sum += static_cast<double>(a[j]) * static_cast<double>(b[j]);
    return sum;
  }

  // out = y / ‖y‖, with y first rounded to float so that the squares are exact in double (an
  // FMA then gives the same sum); false when ‖y‖ is 0 or not finite.
  static bool normalise_into(const std::vector<double>& y, std::vector<float>& out) {
    double n2 = 0.0;
    for (std::size_t j = 0; j < y.size(); ++j) {
      out[j] = static_cast<float>(y[j]);
      n2 += static_cast<double>(out[j]) * static_cast<double>(out[j]);
    }
    if (!(n2 > 0.0) || !std::isfinite(n2)) return false;
    const double norm = std::sqrt(n2);
    for (float& e : out) e = static_cast<float>(static_cast<double>(e) / norm);
    return true;
  }

  static std::ifstream open(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    marl_rec::detail::require(static_cast<bool>(in), [&] { return path + ": cannot open"; });
    return in;
  }

  // Bytes from the current position to the end, when the stream can tell.
  static std::optional<std::uint64_t> bytes_left(std::istream& in) {
    // At the end (e.g. the header was the input's last line) tellg fails, yet nothing is left:
    // the header's claims must still be checked (a gap the fuzzer found).
    if (in.eof()) return 0;
    const std::istream::pos_type here = in.tellg();
    if (here == std::istream::pos_type(-1)) {
      in.clear();
      return std::nullopt;
    }
    in.seekg(0, std::ios::end);
    const std::istream::pos_type end = in.tellg();
    in.seekg(here);
    if (end == std::istream::pos_type(-1) || !in) {
      in.clear();
      in.seekg(here);
      return std::nullopt;
    }
    return static_cast<std::uint64_t>(end - here);
  }

  static std::size_t rows_to_read(std::size_t announced, const Config& config) noexcept {
    return config.max_words == 0 ? announced : std::min(announced, config.max_words);
  }

  // Throws when `rows` rows of at least `row_bytes` bytes cannot fit in `size` bytes.
  template <class Where>
  static void check_room(const Where& where, std::size_t rows, std::size_t row_bytes,
                         std::optional<std::uint64_t> size) {
    if (!size) return;
    const std::uint64_t fit = *size / row_bytes;
    marl_rec::detail::require(rows <= fit, [&] {
      return where() + ": the header announces " + std::to_string(rows) + " words of " +
             std::to_string(row_bytes) + "+ bytes, but only " + std::to_string(*size) +
             " bytes follow (truncated or not a word-vector file)";
    });
  }

  static void trim_line_end(std::string& line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
  }

  static bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

  static std::size_t count_fields(std::string_view line) noexcept {
    std::size_t fields = 0;
    for (std::size_t i = 0; i < line.size();) {
      while (i < line.size() && is_space(line[i])) ++i;
      if (i == line.size()) break;
      ++fields;
      while (i < line.size() && !is_space(line[i])) ++i;
    }
    return fields;
  }

  // "count dim": exactly two whole numbers.
  static std::optional<std::pair<std::size_t, std::size_t>> parse_header(std::string_view line) {
    std::size_t values[2] = {0, 0};
    std::size_t fields = 0;
    for (std::size_t i = 0; i < line.size();) {
      while (i < line.size() && is_space(line[i])) ++i;
      if (i == line.size()) break;
      std::size_t j = i;
      while (j < line.size() && !is_space(line[j])) ++j;
      if (fields == 2) return std::nullopt;
      const std::string_view field = line.substr(i, j - i);
      for (const char c : field) {
        if (c < '0' || c > '9') return std::nullopt;
      }
      const auto r = std::from_chars(field.data(), field.data() + field.size(), values[fields]);
      if (r.ec != std::errc{}) return std::nullopt;  // too large for size_t: not a header
      ++fields;
      i = j;
    }
    if (fields != 2) return std::nullopt;
    return std::pair{values[0], values[1]};
  }

  // Splits a text row into its word (returned, a view into `line`) and exactly `dim` finite
  // values (into `row`); throws naming `where()`.
  template <class Where>
  static std::string_view parse_text_row(const std::string& line, std::size_t dim,
                                         std::vector<float>& row, const Where& where) {
    std::size_t i = 0;
    while (i < line.size() && is_space(line[i])) ++i;
    std::size_t j = i;
    while (j < line.size() && !is_space(line[j])) ++j;
    const std::string_view word(line.data() + i, j - i);
    row.clear();
    const char* p = line.data() + j;
    const char* end = line.data() + line.size();
    for (;;) {
      while (p != end && is_space(*p)) ++p;
      if (p == end) break;
      marl_rec::detail::require(row.size() < dim, [&] {
        return where() + ": expected " + std::to_string(dim) + " values after " +
               embed::quote_for_message(word) + ", got " +
               std::to_string(count_fields(std::string_view(line).substr(j)));
      });
      float value = 0.0f;
      const auto r = std::from_chars(p, end, value);
      const char* field_end = p;
      while (field_end != end && !is_space(*field_end)) ++field_end;
      marl_rec::detail::require(
          r.ec == std::errc{} && r.ptr == field_end && std::isfinite(value), [&] {
            return where() + ": value " + std::to_string(row.size() + 1) + " of " +
                   embed::quote_for_message(word) + " is not a finite number: " +
                   embed::quote_for_message(
                       std::string_view(p, static_cast<std::size_t>(field_end - p)));
          });
      row.push_back(value);
      p = field_end;
    }
    marl_rec::detail::require(row.size() == dim, [&] {
      return where() + ": expected " + std::to_string(dim) + " values after " +
             embed::quote_for_message(word) + ", got " + std::to_string(row.size());
    });
    return word;
  }

  Config config_;
  std::size_t dim_ = 0;
  AlignedVector<float> vectors_;
  Index index_;
  std::vector<float> weights_;
  double mean_norm_ = 0.0;
  std::vector<float> component_;
  HashingEmbedder oov_;
};

}  // namespace marl_rec
