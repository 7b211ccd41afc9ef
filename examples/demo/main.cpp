// marl_rec demo.
//
// 1. The storefront: the project's example catalog (examples/data/catalog.csv, 300 items with
//    titles, descriptions, categories and prices) embedded with the hashing text embedder; a few
//    shoppers describe what they want in words and get the best-matching items.
// 2. Scale: a random catalog of unit vectors (200,000 × 64 by default) and the top-k items of a
//    few users by cosine similarity, each computed by the fused SIMD score + top-k kernel, with
//    the time it took.
//
//   marl_rec_demo [--catalog FILE] [--items N] [--dim D] [--users U] [--k K] [--seed S]
#include <marl_rec/marl_rec.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/embed/catalog_builder.hpp"
#include "marl_rec/embed/hashing_embedder.hpp"

namespace mr = marl_rec;

namespace {

struct Options {
#ifdef MARL_REC_EXAMPLES_DATA_DIR
  std::string catalog = MARL_REC_EXAMPLES_DATA_DIR "/catalog.csv";
#else
  std::string catalog = "examples/data/catalog.csv";
#endif
  std::size_t items = 200'000;
  std::size_t dim = 64;
  std::size_t users = 5;
  std::size_t k = 10;
  std::uint32_t seed = 42;
};

std::size_t parse_count(std::string_view flag, const char* text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || text[0] == '-') {
    throw std::invalid_argument(std::string(flag) + " expects a whole number, got '" + text + "'");
  }
  return static_cast<std::size_t>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: marl_rec_demo [--catalog FILE] [--items N] [--dim D] [--users U] [--k K] [--seed S]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::invalid_argument(std::string(flag) + " needs a value");
    const char* value = argv[++i];
    if (flag == "--catalog") o.catalog = value;
    else if (flag == "--items") o.items = parse_count(flag, value);
    else if (flag == "--dim") o.dim = parse_count(flag, value);
    else if (flag == "--users") o.users = parse_count(flag, value);
    else if (flag == "--k") o.k = parse_count(flag, value);
    else if (flag == "--seed") o.seed = static_cast<std::uint32_t>(parse_count(flag, value));
    else throw std::invalid_argument("unknown option " + std::string(flag));
  }
  if (o.dim == 0) throw std::invalid_argument("--dim must be at least 1");
  return o;
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void storefront(const Options& o) {
  mr::io::ReadReport report;
  const auto records = mr::io::read_items_csv(o.catalog, {}, &report);
  std::printf("== the storefront: %s\n", report.summary().c_str());

  // The text embedder needs no model. 1024 buckets keep the collisions of words, word pairs and
  // character n-grams rare for texts of this length.
  const auto start = std::chrono::steady_clock::now();
  const mr::HashingEmbedder embedder({.dim = 1024});
  const mr::Catalog catalog = mr::build_catalog(records, embedder);
  std::printf("embedded %zu items into %zu dims in %.1f ms\n", catalog.size(), catalog.dim(),
              milliseconds_since(start));

  const char* shoppers[] = {"waterproof boots for a multi-day trek in the alps",
                            "something to make good espresso at home",
                            "a game for a family evening", "headphones that block noise on long flights"};
  std::vector<float> query(catalog.dim());
  std::vector<mr::ScoredItem> best(3);
  for (const char* wish : shoppers) {
    embedder.embed(wish, query);
    const auto t = std::chrono::steady_clock::now();
    const std::size_t n = mr::simd::score_top_k(query, catalog.embeddings(), 3, best);
    std::printf("\n\"%s\" (%.3f ms)\n", wish, milliseconds_since(t));
    for (std::size_t j = 0; j < n; ++j) {
      const auto& a = catalog.attributes(best[j].index);
      std::printf("  %.3f  %-48s %-14s %8.2f\n", best[j].score, a.title.c_str(), a.category.c_str(),
                  static_cast<double>(a.price));
    }
  }
}

void scale(const Options& o) {
  mr::Rng rng(o.seed);
  // The catalog: one unit-length vector per item, stored once, row-major, 64-byte aligned.
  mr::AlignedVector<float> storage(o.items * o.dim);
  for (float& x : storage) x = static_cast<float>(rng.normal());
  const mr::MutableMatrixView items(storage, o.items, o.dim);
  mr::simd::normalize_rows(items);

  std::printf("\n== scale: %zu random items x %zu dims (%.1f MB), top-%zu for %zu users\n", o.items,
              o.dim, double(storage.size() * sizeof(float)) / 1e6, o.k, o.users);
  std::vector<float> user(o.dim);
  std::vector<mr::ScoredItem> best(o.k);
  for (std::size_t u = 0; u < o.users; ++u) {
    for (float& x : user) x = static_cast<float>(rng.normal());
    mr::simd::l2_normalize(user);
    mr::ItemBitset seen(o.items);  // items the user already has are excluded
    for (std::size_t i = 0; i < 3 && o.items > 0; ++i) seen.insert(rng.below(o.items));

    const auto start = std::chrono::steady_clock::now();
    const std::size_t n = mr::simd::score_top_k(user, items, o.k, best, seen.view());
    std::printf("user %zu (%.3f ms):", u, milliseconds_since(start));
    for (std::size_t j = 0; j < n; ++j) std::printf(" %zu:%.3f", best[j].index, best[j].score);
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  std::printf("marl_rec %s demo\n\n", mr::version_string);
  storefront(o);
  scale(o);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_demo: %s\n", e.what());
  return 2;
}
