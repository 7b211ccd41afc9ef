// HashingEmbedder::embed against its yardstick, on ~1 KB product-description-like texts (the
// same 256 texts for every benchmark, built from a seeded generator):
//  - Tokenise: embed::for_each_word over the text — UTF-8 validation, ASCII lower-casing and
//    word splitting, and nothing else: what any embedder of this text has to do at least.
//  - HashingEmbed/<config>: the whole embedding (features, hashing, TF, IDF, normalisation) with
//    the default config, the default + a fitted IDF table, and words only (no char n-grams).
// Counters: bytes_per_second of text; on each HashingEmbed, of_tokenise = Tokenise's time / this
// time (the fraction of the tokeniser's speed that the embedder keeps).
#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/embed/hashing_embedder.hpp"
#include "marl_rec/embed/text_tokens.hpp"

namespace {

namespace bench = marl_rec::bench;

// Words of product descriptions, with the punctuation and numbers they come with.
constexpr std::string_view kWords[] = {
    "wireless",    "Bluetooth",
    "headphones",  "noise-cancelling",
    "battery",     "life",
    "hours",       "charging",
    "USB-C",       "cable",
    "fast",        "stainless",
    "steel",       "water",
    "bottle",      "insulated",
    "keeps",       "drinks",
    "cold",        "hot",
    "lightweight", "durable",
    "design",      "comfortable",
    "fit",         "for",
    "the",         "and",
    "with",        "a",
    "of",          "to",
    "in",          "your",
    "on",          "running",
    "shoes",       "breathable",
    "mesh",        "upper",
    "cushioned",   "sole",
    "organic",     "cotton",
    "T-shirt",     "machine",
    "washable",    "sizes",
    "S-XXL",       "kitchen",
    "knife",       "set",
    "ergonomic",   "handle",
    "dishwasher",  "safe",
    "smart",       "watch",
    "heart",       "rate",
    "monitor",     "GPS",
    "waterproof",  "coffee",
    "maker",       "programmable",
    "12-cup",      "carafe",
    "auto",        "shut-off",
    "LED",         "desk",
    "lamp",        "dimmable",
    "brightness",  "levels",
    "eye-care",    "yoga",
    "mat",         "non-slip",
    "6mm",         "thick",
    "travel",      "backpack",
    "laptop",      "compartment",
    "15.6\"",      "anti-theft",
    "pocket",      "ideal",
    "gift",        "warranty",
    "2-year",      "included",
    "compatible",  "iPhone",
    "Android",     "devices",
    "premium",     "quality",
    "materials",   "easy",
    "clean",       "store",
    "compact",     "café",
    "crème",       "naïve",
    "résumé",      "über",
    "façade",      "jalapeño",
};

// ~1 KB texts: sentences of 6–14 words, a comma or a full stop between them.
const std::vector<std::string>& texts() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> out;
    marl_rec::Rng rng(2024);
    constexpr std::size_t n_words = sizeof(kWords) / sizeof(kWords[0]);
    for (int t = 0; t < 256; ++t) {
      std::string text;
      while (text.size() < 1000) {
        const std::size_t sentence = 6 + rng.below(9);
        for (std::size_t w = 0; w < sentence; ++w) {
          text += kWords[rng.below(n_words)];
          text += w + 1 == sentence ? (rng.bernoulli(0.3) ? ", " : ". ") : " ";
        }
      }
      out.push_back(std::move(text));
    }
    return out;
  }();
  return all;
}

std::size_t total_bytes() {
  std::size_t n = 0;
  for (const std::string& t : texts()) n += t.size();
  return n;
}

void set_bytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(total_bytes()));
}

}  // namespace

// One iteration = all 256 texts.
static void Tokenise(benchmark::State& state) {
  const bench::LoopTimer timer;
  for (auto _ : state) {
    std::size_t letters = 0;
    for (const std::string& t : texts()) {
      marl_rec::embed::for_each_word(t, "bench", [&](std::string_view w) { letters += w.size(); });
    }
    benchmark::DoNotOptimize(letters);
  }
  timer.record(state, "Tokenise", "1KB");
  set_bytes(state);
}

static void embed_all(benchmark::State& state, const marl_rec::HashingEmbedder& embedder,
                      const char* name) {
  std::vector<float> out(embedder.dim());
  const bench::LoopTimer timer;
  for (auto _ : state) {
    for (const std::string& t : texts()) {
      embedder.embed(t, out);
      benchmark::DoNotOptimize(out.data());
    }
  }
  const double seconds = timer.record(state, name, "1KB");
  set_bytes(state);
  bench::ratio_counter(state, "of_tokenise", "Tokenise", "1KB", seconds);
}

static void HashingEmbedDefault(benchmark::State& state) {
  embed_all(state, marl_rec::HashingEmbedder{}, "HashingEmbed/default");
}

static void HashingEmbedIdf(benchmark::State& state) {
  marl_rec::HashingEmbedder embedder;
  const std::vector<std::string_view> corpus(texts().begin(), texts().end());
  embedder.fit_idf(corpus);
  embed_all(state, embedder, "HashingEmbed/idf");
}

static void HashingEmbedWordsOnly(benchmark::State& state) {
  embed_all(state, marl_rec::HashingEmbedder{{.char_ngram_weight = 0.0f}},
            "HashingEmbed/words_only");
}

// The baseline first: the ratios need its time.
BENCHMARK(Tokenise)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(HashingEmbedDefault)
    ->Name("HashingEmbed/default")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(HashingEmbedIdf)->Name("HashingEmbed/idf")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(HashingEmbedWordsOnly)
    ->Name("HashingEmbed/words_only")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
