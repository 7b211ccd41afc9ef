// A program that uses marl_rec as a consumer would: the umbrella header, a top-k query, and a
// check of the answer. Built against the installed package, through add_subdirectory, and through
// pkg-config (and it is Conan's test_package).
#include <marl_rec/marl_rec.hpp>

#include <array>
#include <cstdio>
#include <vector>

int main() {
  namespace mr = marl_rec;
  // Three items in two dimensions; the query prefers the second axis.
  const std::vector<float> items = {1.0f, 0.0f, 0.0f, 1.0f, 0.6f, 0.8f};
  const std::array<float, 2> query = {0.0f, 1.0f};
  std::array<mr::ScoredItem, 2> best{};
  const std::size_t n = mr::simd::score_top_k(query, mr::MatrixView(items, 3, 2), 2, best);
  const bool ok = n == 2 && best[0].index == 1 && best[1].index == 2;
  std::printf("marl_rec %s: top-2 = {%zu, %zu} %s\n", mr::version_string, best[0].index,
              best[1].index, ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
