// Compiled only where hnswlib is installed (tests/CMakeLists.txt leaves it out otherwise).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "marl_rec/core/rng.hpp"
#include "marl_rec/index/brute_force_candidates.hpp"
#include "marl_rec/index/hnsw_candidates.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "support/concurrently.hpp"
#include "support/errors.hpp"

namespace {

namespace mr = marl_rec;

std::vector<float> normal_values(std::size_t count, std::uint64_t seed) {
  mr::Rng rng(seed);
  std::vector<float> v(count);
  for (float& x : v) x = static_cast<float>(rng.normal());
  return v;
}

// Unit-length rows: the case HNSW's inner-product search is designed for.
std::vector<float> unit_rows(std::size_t n, std::size_t d, std::uint64_t seed) {
  std::vector<float> v = normal_values(n * d, seed);
  REQUIRE(mr::simd::normalize_rows(mr::MutableMatrixView(v, n, d)) == 0);
  return v;
}

// Mean fraction of the exact top-k (BruteForceCandidates) that `generator` returns, over
// `queries` (rows of d floats).
template <class Generator>
double recall_at(const Generator& generator, const mr::BruteForceCandidates& exact,
                 const std::vector<float>& queries, std::size_t d, std::size_t k) {
  const std::size_t nq = queries.size() / d;
  std::vector<std::size_t> got(k);
  std::vector<std::size_t> want(k);
  std::size_t hits = 0;
  for (std::size_t q = 0; q < nq; ++q) {
    const std::span<const float> query = std::span<const float>(queries).subspan(q * d, d);
    const std::size_t got_count = generator.generate(query, k, got);
    REQUIRE(exact.generate(query, k, want) == k);
    for (std::size_t i = 0; i < got_count; ++i) {
      hits += std::find(want.begin(), want.end(), got[i]) != want.end() ? 1 : 0;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(nq * k);
}

}  // namespace

TEST_CASE("HnswCandidates: recall@10 against the exact scan on a random catalog, rising with ef") {
  const std::size_t n = 3000;
  const std::size_t d = 16;
  const std::vector<float> items = unit_rows(n, d, 21);
  const mr::MatrixView view(items, n, d);
  const std::vector<float> queries = unit_rows(100, d, 22);
  const mr::BruteForceCandidates exact(view);
  mr::HnswCandidates hnsw(view, {.links = 16, .ef_construction = 200, .ef_search = 10, .seed = 7});
  CHECK(hnsw.dim() == d);
  CHECK(hnsw.size() == n);
  const double narrow = recall_at(hnsw, exact, queries, d, 10);
  hnsw.set_ef_search(200);
  CHECK(hnsw.config().ef_search == 200);
  const double wide = recall_at(hnsw, exact, queries, d, 10);
  MESSAGE("recall@10 at ef 10: " << narrow << ", at ef 200: " << wide);
  CHECK(wide >= 0.98);
  CHECK(wide >= narrow);
  CHECK(narrow >= 0.5);  // a graph that does not work at all finds ~10/3000 of them

  // Unnormalised N(0, 1) vectors: the inner product is only approximately searchable, but a wide
  // search still finds most of the best items.
  const std::vector<float> raw = normal_values(n * d, 23);
  const mr::MatrixView raw_view(raw, n, d);
  const mr::HnswCandidates raw_hnsw(raw_view, {.ef_search = 200, .seed = 7});
  const double raw_recall = recall_at(raw_hnsw, mr::BruteForceCandidates(raw_view),
                                      normal_values(100 * d, 24), d, 10);
  MESSAGE("recall@10 on unnormalised vectors at ef 200: " << raw_recall);
  CHECK(raw_recall >= 0.8);
}

TEST_CASE("HnswCandidates: the same seed and items give the same candidates, and a moved one still works") {
  const std::size_t n = 1500;
  const std::size_t d = 8;
  const std::vector<float> items = normal_values(n * d, 31);
  const mr::MatrixView view(items, n, d);
  const mr::HnswCandidates a(view, {.links = 8, .ef_construction = 50, .ef_search = 20, .seed = 42});
  mr::HnswCandidates b(view, {.links = 8, .ef_construction = 50, .ef_search = 20, .seed = 42});
  const std::vector<float> queries = normal_values(50 * d, 32);
  std::vector<std::size_t> from_a(30);
  std::vector<std::size_t> from_b(30);
  std::vector<std::vector<std::size_t>> all_a;
  for (std::size_t q = 0; q < 50; ++q) {
    const std::span<const float> query = std::span<const float>(queries).subspan(q * d, d);
    const std::size_t count_a = a.generate(query, 30, from_a);
    REQUIRE(b.generate(query, 30, from_b) == count_a);
    CHECK(from_a == from_b);
    all_a.push_back(from_a);
    // Distinct indices of the catalog.
    std::vector<std::size_t> sorted(from_a.begin(), from_a.begin() + static_cast<std::ptrdiff_t>(count_a));
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    CHECK(sorted.back() < n);
  }
  const mr::HnswCandidates moved = std::move(b);
  for (std::size_t q = 0; q < 50; ++q) {
    const std::span<const float> query = std::span<const float>(queries).subspan(q * d, d);
    REQUIRE(moved.generate(query, 30, from_b) == 30);
    CHECK(from_b == all_a[q]);
  }
}

TEST_CASE("HnswCandidates: m = 0, m beyond the catalog, a one-item catalog") {
  const std::vector<float> items = normal_values(5 * 3, 41);
  const mr::HnswCandidates hnsw(mr::MatrixView(items, 5, 3));
  const std::vector<float> query = {1.0f, -0.5f, 0.25f};
  std::vector<std::size_t> out(5);
  CHECK(hnsw.generate(query, 0, std::span<std::size_t>()) == 0);
  REQUIRE(hnsw.generate(query, 100, out) == 5);  // ef = max(ef_search, m) covers all 5
  std::vector<std::size_t> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<std::size_t>{0, 1, 2, 3, 4});
  // All five, best first: the exact order.
  std::vector<std::size_t> exact(5);
  REQUIRE(mr::BruteForceCandidates(mr::MatrixView(items, 5, 3)).generate(query, 5, exact) == 5);
  CHECK(out == exact);

  const std::vector<float> one = {0.5f, 0.5f};
  const mr::HnswCandidates single(mr::MatrixView(one, 1, 2));
  std::vector<std::size_t> first(1, 99);
  CHECK(single.generate(std::vector<float>{1.0f, 0.0f}, 3, first) == 1);
  CHECK(first[0] == 0);
}

TEST_CASE("HnswCandidates: bad input names what and where") {
  std::vector<float> items = normal_values(10 * 4, 51);
  CHECK(mr::test::error_of([] { mr::HnswCandidates h{mr::MatrixView{}}; }) ==
        "HnswCandidates: the item matrix is empty (0 rows)");
  CHECK(mr::test::error_of([&] { mr::HnswCandidates h(mr::MatrixView(items, 10, 0)); }) ==
        "HnswCandidates: the 10 item rows have 0 columns");
  items[6 * 4 + 1] = std::numeric_limits<float>::quiet_NaN();
  CHECK(mr::test::error_of([&] { mr::HnswCandidates h(mr::MatrixView(items, 10, 4)); }) ==
        "HnswCandidates: item 6 value 1 is not finite");
  items[6 * 4 + 1] = std::numeric_limits<float>::infinity();
  CHECK(mr::test::error_of([&] { mr::HnswCandidates h(mr::MatrixView(items, 10, 4)); }) ==
        "HnswCandidates: item 6 value 1 is not finite");
  items[6 * 4 + 1] = 0.0f;
  const mr::MatrixView view(items, 10, 4);
  CHECK(mr::test::error_of([&] { mr::HnswCandidates h(view, {.links = 1}); }) ==
        "HnswCandidates: links must be in [2, 10000], got 1");
  CHECK(mr::test::error_of([&] { mr::HnswCandidates h(view, {.links = 10001}); }) ==
        "HnswCandidates: links must be in [2, 10000], got 10001");
  CHECK(mr::test::error_of([&] { mr::HnswCandidates h(view, {.ef_construction = 0}); }) ==
        "HnswCandidates: ef_construction must be >= 1");
  CHECK(mr::test::error_of([&] { mr::HnswCandidates h(view, {.ef_search = 0}); }) ==
        "HnswCandidates: ef_search must be >= 1");

  mr::HnswCandidates hnsw(view);
  CHECK(mr::test::error_of([&] { hnsw.set_ef_search(0); }) ==
        "HnswCandidates::set_ef_search: ef_search must be >= 1");
  CHECK(hnsw.config().ef_search == 64);
  std::vector<std::size_t> out(10);
  CHECK(mr::test::error_of([&] { (void)hnsw.generate(std::vector<float>(5, 1.0f), 3, out); }) ==
        "HnswCandidates::generate: query has 5 elements, the items have 4");
  std::vector<float> query(4, 1.0f);
  query[0] = -std::numeric_limits<float>::infinity();
  CHECK(mr::test::error_of([&] { (void)hnsw.generate(query, 3, out); }) ==
        "HnswCandidates::generate: query value 0 is not finite");
  query[0] = 1.0f;
  CHECK(mr::test::error_of([&] { (void)hnsw.generate(query, 4, std::span<std::size_t>(out).first(3)); }) ==
        "HnswCandidates::generate: out has room for 3 indices, 4 are needed");
}

TEST_CASE("HnswCandidates: generate is safe to call from several threads at once") {
  const std::size_t n = 2000;
  const std::size_t d = 12;
  const std::vector<float> items = normal_values(n * d, 61);
  const mr::HnswCandidates hnsw(mr::MatrixView(items, n, d), {.ef_search = 40, .seed = 3});
  const std::size_t nq = 64;
  const std::vector<float> queries = normal_values(nq * d, 62);
  std::vector<std::vector<std::size_t>> alone(nq, std::vector<std::size_t>(20));
  for (std::size_t q = 0; q < nq; ++q) {
    REQUIRE(hnsw.generate(std::span<const float>(queries).subspan(q * d, d), 20, alone[q]) == 20);
  }
  const std::size_t threads = 4;
  std::vector<std::size_t> mismatches(threads, 0);
  mr::test::concurrently(threads, [&](std::size_t t) {
    std::vector<std::size_t> out(20);
    for (std::size_t round = 0; round < 3; ++round) {
      for (std::size_t q = (t * 7) % nq, i = 0; i < nq; ++i, q = (q + 1) % nq) {
        const std::size_t count = hnsw.generate(std::span<const float>(queries).subspan(q * d, d), 20, out);
        mismatches[t] += count == 20 && out == alone[q] ? 0 : 1;
      }
    }
  });
  for (std::size_t t = 0; t < threads; ++t) CHECK(mismatches[t] == 0);
}
