// marl_rec_embed_neighbours: how well do text embeddings group real items? Reads a Debian package
// catalog (the output of `apt-cache dumpavail`, or of `apt-cache show` — see docs/embedders.md),
// embeds every package's description, finds each package's nearest neighbour by cosine
// similarity (itself excluded) and reports how often that neighbour is in the same Section
// (games, libdevel, python, ...), against the rate expected by chance. The Sections are used
// only to score the result, never to build the embeddings.
//
//   apt-cache dumpavail > dump.txt
//   marl_rec_embed_neighbours [--input FILE|-] [--max-packages N] [--seed S] [--dim D]
//       [--idf] [--no-bigrams] [--ngram-min N] [--ngram-max N] [--ngram-weight W]
//       [--other-sources]
//       [--vectors FILE [--binary] [--max-words N] [--oov hash|skip] [--no-common-component]]
//
// Parsing (Debian control format, deb822): records are separated by blank lines; a field is
// "Name: value" and continues on the following lines that start with a space or a tab. The text
// embedded is the Description field: its first line (the short description) and the extended
// description that follows (" ." lines are paragraph breaks). apt's "Description-en" (what
// `apt-cache show` prints when translations are installed) is taken as the Description.
// Records without a Package, a Section or a Description are skipped and counted; a package that
// appears again (another version or architecture) keeps its first record and the repeats are
// counted. Sections are compared without their archive area: "contrib/utils" and "utils" are the
// same section, because the area (main, contrib, non-free) says what licence a package has, not
// what it is about.
//
// Packages built from one source package often have near-identical descriptions (libfoo1,
// libfoo-dev, libfoo-doc). The program reports how often the nearest neighbour is such a
// sibling; --other-sources looks for the nearest neighbour among the packages of other source
// packages only (the chance rate is then computed over those packages too).
#include <marl_rec/core/error.hpp>
#include <marl_rec/core/rng.hpp>
#include <marl_rec/embed/hashing_embedder.hpp>
#include <marl_rec/embed/text_tokens.hpp>
#include <marl_rec/embed/word_vector_embedder.hpp>
#include <marl_rec/simd/aligned_vector.hpp>
#include <marl_rec/simd/batch_top_k.hpp>
#include <marl_rec/simd/kernels.hpp>
#include <marl_rec/simd/matrix_view.hpp>
#include <marl_rec/simd/top_k.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <istream>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace mr = marl_rec;

namespace {

// ---- options -----------------------------------------------------------------------------------

struct Options {
  std::string input = "-";
  std::size_t max_packages = 0;  // 0: all
  std::uint64_t seed = 1;
  mr::HashingEmbedder::Config hashing{};
  bool idf = false;
  std::string vectors{};
  bool binary = false;
  std::size_t max_words = 0;
  mr::WordVectorEmbedder::Oov oov = mr::WordVectorEmbedder::Oov::hash;
  bool common_component = true;
  bool other_sources = false;
};

constexpr const char* usage =
    "usage: marl_rec_embed_neighbours [--input FILE|-] [--max-packages N] [--seed S] [--dim D]\n"
    "           [--idf] [--no-bigrams] [--ngram-min N] [--ngram-max N] [--ngram-weight W]\n"
    "           [--other-sources]\n"
    "           [--vectors FILE [--binary] [--max-words N] [--oov hash|skip]\n"
    "            [--no-common-component]]\n"
    "Reads `apt-cache dumpavail` output (stdin by default) and reports how often a package's\n"
    "nearest neighbour by description embedding shares its Section, against chance.\n";

std::size_t parse_count(std::string_view flag, const std::string& text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || end == text.c_str() || *end != '\0') {
    throw mr::Error(std::string(flag) + " expects a whole number, got '" + text + "'");
  }
  return static_cast<std::size_t>(v);
}

float parse_weight(std::string_view flag, const std::string& text) {
  char* end = nullptr;
  const float v = std::strtof(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0') {
    throw mr::Error(std::string(flag) + " expects a number, got '" + text + "'");
  }
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("%s", usage);
      std::exit(0);
    }
    // Flags without a value.
    if (flag == "--idf") {
      o.idf = true;
      continue;
    }
    if (flag == "--no-bigrams") {
      o.hashing.word_bigrams = false;
      continue;
    }
    if (flag == "--binary") {
      o.binary = true;
      continue;
    }
    if (flag == "--other-sources") {
      o.other_sources = true;
      continue;
    }
    if (flag == "--no-common-component") {
      o.common_component = false;
      continue;
    }
    if (i + 1 >= argc) throw mr::Error(flag + " needs a value (see --help)");
    const std::string value = argv[++i];
    if (flag == "--input")
      o.input = value;
    else if (flag == "--max-packages")
      o.max_packages = parse_count(flag, value);
    else if (flag == "--seed")
      o.seed = parse_count(flag, value);
    else if (flag == "--dim")
      o.hashing.dim = parse_count(flag, value);
    else if (flag == "--ngram-min")
      o.hashing.char_ngram_min = parse_count(flag, value);
    else if (flag == "--ngram-max")
      o.hashing.char_ngram_max = parse_count(flag, value);
    else if (flag == "--ngram-weight")
      o.hashing.char_ngram_weight = parse_weight(flag, value);
    else if (flag == "--vectors")
      o.vectors = value;
    else if (flag == "--max-words")
      o.max_words = parse_count(flag, value);
    else if (flag == "--oov") {
      if (value == "hash")
        o.oov = mr::WordVectorEmbedder::Oov::hash;
      else if (value == "skip")
        o.oov = mr::WordVectorEmbedder::Oov::skip;
      else
        throw mr::Error("--oov expects hash or skip, got '" + value + "'");
    } else {
      throw mr::Error("unknown option " + flag + " (see --help)");
    }
  }
  return o;
}

// ---- the package catalog -----------------------------------------------------------------------

struct Package {
  std::string name;
  std::string source;  // the source package (the Source field, else the package's own name)
  std::string section;
  std::string description;  // short description, newline, extended description
};

struct Catalog {
  std::vector<Package> packages;
  std::size_t records = 0;
  std::map<std::string, std::size_t> skipped;  // reason → records
};

/// The extended-description line `line` (its leading space already removed) as text: " ." lines
/// are paragraph breaks.
void append_description_line(std::string& text, std::string_view line) {
  text += '\n';
  if (line != ".") text += line;
}

/// Reads deb822 records from `in` (see the file comment for the rules).
Catalog read_catalog(std::istream& in) {
  Catalog catalog;
  std::unordered_set<std::string> seen;
  Package current;
  bool has_description = false;
  bool in_description = false;  // continuation lines belong to the Description field
  bool any_field = false;
  const auto finish = [&] {
    if (!any_field) return;
    ++catalog.records;
    if (current.name.empty()) {
      ++catalog.skipped["no Package field"];
    } else if (current.section.empty()) {
      ++catalog.skipped["no Section field"];
    } else if (!has_description) {
      ++catalog.skipped["no Description field"];
    } else if (!seen.insert(current.name).second) {
      ++catalog.skipped["repeated package (first record kept)"];
    } else {
      if (current.source.empty()) current.source = current.name;
      catalog.packages.push_back(std::move(current));
    }
    current = Package{};
    has_description = in_description = any_field = false;
  };
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      finish();
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (in_description)
        append_description_line(current.description, std::string_view(line).substr(1));
      continue;
    }
    any_field = true;
    const std::size_t colon = line.find(':');
    in_description = false;
    if (colon == std::string::npos) continue;  // not a field: ignored (deb822 has none)
    const std::string_view name = std::string_view(line).substr(0, colon);
    std::string_view value = std::string_view(line).substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "Package") {
      current.name = value;
    } else if (name == "Source") {
      current.source = value.substr(0, value.find(' '));  // "foo (1.2-3)": the version is dropped
    } else if (name == "Section") {
      const std::size_t slash = value.rfind('/');
      current.section = value.substr(slash == std::string_view::npos ? 0 : slash + 1);
    } else if (name == "Description" || name == "Description-en") {
      current.description = value;
      has_description = in_description = true;
    }
  }
  finish();
  return catalog;
}

// ---- nearest neighbours ------------------------------------------------------------------------

/// For every row of `vectors` (unit rows), the index of its nearest other row by dot product
/// (ties: the lower index), through the batched form of simd::score_top_k; with `groups`, rows
/// of the same group are excluded too (the row itself when it has no eligible neighbour).
std::vector<std::size_t> nearest_neighbours(mr::MatrixView vectors,
                                            const std::vector<std::size_t>* groups) {
  const std::size_t n = vectors.rows();
  std::vector<std::size_t> nearest(n, 0);
  constexpr std::size_t block = 32;  // queries per pass over the matrix
  std::vector<mr::ScoredItem> out(block);
  std::vector<std::size_t> counts(block);
  for (std::size_t first = 0; first < n; first += block) {
    const std::size_t rows = std::min(block, n - first);
    const mr::MatrixView queries(
        std::span<const float>(vectors.data() + first * vectors.stride(), rows * vectors.stride()),
        rows, vectors.cols(), vectors.stride());
    const auto excluded = [first, groups](std::size_t q, std::size_t item) noexcept {
      return item == first + q || (groups != nullptr && (*groups)[item] == (*groups)[first + q]);
    };
    mr::simd::score_top_k_batch(queries, vectors, 1, out, counts, excluded);
    for (std::size_t q = 0; q < rows; ++q) {
      nearest[first + q] = counts[q] == 1 ? out[q].index : first + q;
    }
  }
  return nearest;
}

struct Figures {
  std::size_t n = 0;  // packages with an eligible neighbour
  std::size_t sections = 0;
  std::size_t hits = 0;  // nearest neighbour in the same section
  std::size_t same_source = 0;
  double hit_rate = 0.0;
  double chance = 0.0;
};

/// Hit rate of the nearest neighbours and the chance rate: the probability that a random
/// eligible other package shares the section. Every other package is eligible by default, and
/// then chance = Σ_s (n_s/N)·((n_s − 1)/(N − 1)); with `other_sources`, only the packages of
/// other source packages are, and chance is the mean over packages i of
/// (n_section(i) − n_section∧source(i)) / (N − n_source(i)).
Figures score(const std::vector<std::string>& sections, const std::vector<std::string>& sources,
              const std::vector<std::size_t>& nearest, bool other_sources) {
  Figures f;
  const std::size_t n = sections.size();
  std::map<std::string, std::size_t> per_section, per_source;
  std::map<std::pair<std::string, std::string>, std::size_t> per_both;
  for (std::size_t i = 0; i < n; ++i) {
    ++per_section[sections[i]];
    ++per_source[sources[i]];
    ++per_both[{sections[i], sources[i]}];
  }
  f.sections = per_section.size();
  for (std::size_t i = 0; i < n; ++i) {
    const double eligible =
        static_cast<double>(n - (other_sources ? per_source[sources[i]] : std::size_t{1}));
    if (eligible <= 0.0 || nearest[i] == i) continue;
    const double matching = static_cast<double>(
        per_section[sections[i]] - (other_sources ? per_both[{sections[i], sources[i]}] : 1));
    ++f.n;
    f.chance += matching / eligible;
    f.hits += sections[nearest[i]] == sections[i] ? 1 : 0;
    f.same_source += sources[nearest[i]] == sources[i] ? 1 : 0;
  }
  if (f.n > 0) {
    f.chance /= static_cast<double>(f.n);
    f.hit_rate = static_cast<double>(f.hits) / static_cast<double>(f.n);
  }
  return f;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Embeds every package with `embedder` into the rows of a new matrix; packages whose text the
/// embedder rejects are dropped (`kept` says which remain) and counted by reason.
template <class E>
mr::AlignedVector<float> embed_all(const E& embedder, const std::vector<std::string_view>& texts,
                                   std::vector<std::size_t>& kept,
                                   std::map<std::string, std::size_t>& rejected) {
  const std::size_t d = embedder.dim();
  mr::AlignedVector<float> matrix(texts.size() * d);
  std::size_t rows = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      embedder.embed(texts[i], std::span<float>(matrix).subspan(rows * d, d));
      kept.push_back(i);
      ++rows;
    } catch (const mr::Error& e) {
      // "Embedder::embed: <reason>: '<text>'" → count by reason.
      std::string reason = e.what();
      const std::size_t quote = reason.find(": '");
      if (quote != std::string::npos) reason.resize(quote);
      ++rejected[reason];
    }
  }
  matrix.resize(rows * d);
  return matrix;
}

void report(const char* label, const Figures& f, double embed_s, double search_s) {
  std::printf("%s\n", label);
  std::printf("  N = %zu packages, %zu sections\n", f.n, f.sections);
  std::printf("  nearest neighbour from the same source package: %.4f\n",
              f.n > 0 ? static_cast<double>(f.same_source) / static_cast<double>(f.n) : 0.0);
  std::printf("  nearest neighbour in the same section: %.4f (%zu of %zu)\n", f.hit_rate, f.hits,
              f.n);
  std::printf("  chance (a random eligible package):    %.4f\n", f.chance);
  if (f.chance > 0.0) {
    std::printf("  ratio to chance:                       %.2f\n", f.hit_rate / f.chance);
  } else {
    std::printf("  ratio to chance:                       undefined (no section has 2 packages)\n");
  }
  std::printf("  time: embedding %.2f s, neighbour search %.2f s\n", embed_s, search_s);
}

template <class E>
void evaluate(const char* label, const E& embedder, const std::vector<Package>& packages,
              const std::vector<std::string_view>& texts, bool other_sources, double setup_s) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::size_t> kept;
  std::map<std::string, std::size_t> rejected;
  const mr::AlignedVector<float> matrix = embed_all(embedder, texts, kept, rejected);
  const double embed_s = setup_s + seconds_since(t0);
  for (const auto& [reason, count] : rejected) {
    std::printf("  %s: %zu package(s) not embedded: %s\n", label, count, reason.c_str());
  }
  std::vector<std::string> sections, sources;
  std::map<std::string, std::size_t> source_ids;
  std::vector<std::size_t> groups;
  for (const std::size_t i : kept) {
    sections.push_back(packages[i].section);
    sources.push_back(packages[i].source);
    groups.push_back(source_ids.emplace(packages[i].source, source_ids.size()).first->second);
  }
  const auto t1 = std::chrono::steady_clock::now();
  const mr::MatrixView view(matrix, kept.size(), embedder.dim());
  const std::vector<std::size_t> nearest =
      nearest_neighbours(view, other_sources ? &groups : nullptr);
  const double search_s = seconds_since(t1);
  report(label, score(sections, sources, nearest, other_sources), embed_s, search_s);
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse_options(argc, argv);
  const mr::HashingEmbedder::Config hashing_config = o.hashing;
  mr::HashingEmbedder hashing(hashing_config);  // checks the options before the long read

  Catalog catalog;
  if (o.input == "-") {
    catalog = read_catalog(std::cin);
  } else {
    std::ifstream file(o.input, std::ios::binary);
    if (!file) throw mr::Error("cannot open " + o.input);
    catalog = read_catalog(file);
  }
  std::printf("input: %s: %zu records, %zu packages kept\n",
              o.input == "-" ? "stdin" : o.input.c_str(), catalog.records, catalog.packages.size());
  for (const auto& [reason, count] : catalog.skipped)
    std::printf("  skipped: %s: %zu\n", reason.c_str(), count);

  // A seeded random sample keeps the quadratic neighbour search short; sorted back into input
  // order so that the result does not depend on the order of the sample.
  std::vector<Package>& packages = catalog.packages;
  if (o.max_packages > 0 && o.max_packages < packages.size()) {
    std::vector<std::size_t> order(packages.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    mr::Rng rng(o.seed);
    mr::shuffle(order.begin(), order.end(), rng);
    order.resize(o.max_packages);
    std::sort(order.begin(), order.end());
    std::vector<Package> sample;
    sample.reserve(order.size());
    for (const std::size_t i : order) sample.push_back(std::move(packages[i]));
    packages = std::move(sample);
    std::printf("sample: %zu packages (--max-packages %zu, --seed %llu)\n", packages.size(),
                o.max_packages, static_cast<unsigned long long>(o.seed));
  }
  if (packages.size() < 2)
    throw mr::Error("need at least 2 packages, got " + std::to_string(packages.size()));
  std::vector<std::string_view> texts;
  texts.reserve(packages.size());
  for (const Package& p : packages) texts.push_back(p.description);

  if (o.vectors.empty()) {
    const auto t0 = std::chrono::steady_clock::now();
    if (o.idf) {
      // Fitted on the descriptions themselves: unsupervised, the Sections are not used. A
      // description the embedder rejects would make fit_idf throw, so only the usable ones.
      std::vector<std::string_view> usable;
      for (const std::string_view t : texts) {
        bool has_word = false;
        try {
          has_word = mr::embed::for_each_word(t, "idf", [](std::string_view) {}) > 0;
        } catch (const mr::Error&) {
        }
        if (has_word) usable.push_back(t);
      }
      hashing.fit_idf(usable);
    }
    const auto& c = hashing.config();
    std::string label = "HashingEmbedder dim=" + std::to_string(c.dim) +
                        " bigrams=" + (c.word_bigrams ? "on" : "off") +
                        " ngrams=" + std::to_string(c.char_ngram_min) + ".." +
                        std::to_string(c.char_ngram_max) +
                        " ngram_weight=" + std::to_string(c.char_ngram_weight) +
                        " idf=" + (o.idf ? "fitted on the descriptions" : "off");
    evaluate(label.c_str(), hashing, packages, texts, o.other_sources, seconds_since(t0));
  } else {
    const auto t0 = std::chrono::steady_clock::now();
    const mr::WordVectorEmbedder::Config wv_config{.oov = o.oov, .max_words = o.max_words};
    mr::WordVectorEmbedder words = o.binary
                                       ? mr::WordVectorEmbedder::load_binary(o.vectors, wv_config)
                                       : mr::WordVectorEmbedder::load_text(o.vectors, wv_config);
    if (o.common_component) {
      // Fitted on the descriptions themselves (unsupervised), those the embedder can embed: under
      // --oov skip a description may have no word with a vector, and fit_common_component
      // refuses a corpus with such a text.
      std::vector<std::string_view> usable;
      std::vector<float> scratch(words.dim());
      for (const std::string_view t : texts) {
        try {
          words.embed(t, scratch);
          usable.push_back(t);
        } catch (const mr::Error&) {
        }
      }
      words.fit_common_component(usable);
    }
    std::string label = "WordVectorEmbedder " + o.vectors + " (" +
                        std::to_string(words.vocabulary_size()) + " words, dim " +
                        std::to_string(words.dim()) +
                        ") oov=" + (o.oov == mr::WordVectorEmbedder::Oov::hash ? "hash" : "skip") +
                        " common component " + (o.common_component ? "removed" : "kept");
    evaluate(label.c_str(), words, packages, texts, o.other_sources, seconds_since(t0));
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_embed_neighbours: %s\n", e.what());
  return 1;
}
