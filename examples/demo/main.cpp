// marl_rec demo: a random catalog of item vectors, a few users, and each user's top-k items by
// cosine similarity — computed by the fused SIMD score + top-k kernel, with the time it took.
//
//   marl_rec_demo [--items N] [--dim D] [--users U] [--k K] [--seed S]
#include <marl_rec/marl_rec.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mr = marl_rec;

namespace {

struct Options {
  std::size_t items = 200'000;
  std::size_t dim = 64;
  std::size_t users = 5;
  std::size_t k = 10;
  std::uint32_t seed = 42;
};

std::size_t parse_count(std::string_view flag, const char* text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') {
    throw std::invalid_argument(std::string(flag) + " expects a whole number, got '" + text + "'");
  }
  return static_cast<std::size_t>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("usage: marl_rec_demo [--items N] [--dim D] [--users U] [--k K] [--seed S]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::invalid_argument(std::string(flag) + " needs a value");
    const char* value = argv[++i];
    if (flag == "--items") o.items = parse_count(flag, value);
    else if (flag == "--dim") o.dim = parse_count(flag, value);
    else if (flag == "--users") o.users = parse_count(flag, value);
    else if (flag == "--k") o.k = parse_count(flag, value);
    else if (flag == "--seed") o.seed = static_cast<std::uint32_t>(parse_count(flag, value));
    else throw std::invalid_argument("unknown option " + std::string(flag));
  }
  if (o.dim == 0) throw std::invalid_argument("--dim must be at least 1");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  std::mt19937 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);

  // The catalog: one unit-length vector per item, stored once, row-major, 64-byte aligned.
  mr::AlignedVector<float> storage(o.items * o.dim);
  for (float& x : storage) x = normal(rng);
  const mr::MutableMatrixView items(storage, o.items, o.dim);
  mr::simd::normalize_rows(items);

  std::printf("marl_rec %s demo: %zu items x %zu dims (%.1f MB), top-%zu for %zu users\n",
              mr::version_string, o.items, o.dim,
              double(storage.size() * sizeof(float)) / 1e6, o.k, o.users);

  std::vector<float> user(o.dim);
  std::vector<mr::ScoredItem> best(o.k);
  mr::ItemBitset seen;  // items each user already has are excluded
  for (std::size_t u = 0; u < o.users; ++u) {
    for (float& x : user) x = normal(rng);
    mr::simd::l2_normalize(user);
    seen = mr::ItemBitset(o.items);
    for (std::size_t i = 0; i < 3 && o.items > 0; ++i) seen.insert(rng() % o.items);

    const auto start = std::chrono::steady_clock::now();
    const std::size_t n = mr::simd::score_top_k(user, items, o.k, best, seen.view());
    const auto stop = std::chrono::steady_clock::now();

    std::printf("user %zu (%.3f ms):", u, std::chrono::duration<double, std::milli>(stop - start).count());
    for (std::size_t j = 0; j < n; ++j) std::printf(" %zu:%.3f", best[j].index, best[j].score);
    std::printf("\n");
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_demo: %s\n", e.what());
  return 2;
}
