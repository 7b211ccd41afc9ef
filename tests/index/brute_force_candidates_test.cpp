#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/concepts/candidate_generator.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/index/brute_force_candidates.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/reference.hpp"
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

}  // namespace

TEST_CASE("BruteForceCandidates: the indices of simd::score_top_k, for every size, dim, offset and m") {
  for (const std::size_t n : {0u, 1u, 7u, 16u, 17u, 100u, 1000u}) {
    for (const std::size_t d : {1u, 3u, 16u, 33u}) {
      for (const std::size_t offset : {0u, 1u}) {  // 1: rows not on a batch boundary
        const std::vector<float> storage = normal_values(n * d + offset, 1000 + n * 7 + d);
        const mr::MatrixView items(std::span<const float>(storage).subspan(offset), n, d);
        const std::vector<float> query = normal_values(d, 5 + d);
        const mr::BruteForceCandidates generator(items);
        CHECK(generator.dim() == d);
        CHECK(generator.size() == n);
        for (const std::size_t m : {std::size_t{0}, std::size_t{1}, std::size_t{5}, n, n + 3}) {
          CAPTURE(n);
          CAPTURE(d);
          CAPTURE(offset);
          CAPTURE(m);
          std::vector<std::size_t> got(std::min(m, n) + 2, 12345);
          const std::size_t count = generator.generate(query, m, got);
          std::vector<mr::ScoredItem> want(std::min(m, n));
          const std::size_t want_count = mr::simd::score_top_k(query, items, m, want);
          REQUIRE(count == want_count);
          CHECK(count == std::min(m, n));
          for (std::size_t i = 0; i < count; ++i) CHECK(got[i] == want[i].index);
          // Nothing past the count is written.
          for (std::size_t i = count; i < got.size(); ++i) CHECK(got[i] == 12345);
        }
      }
    }
  }
}

TEST_CASE("BruteForceCandidates: exact against the double-precision reference, up to float near-ties") {
  const std::size_t n = 5000;
  const std::size_t d = 24;
  const std::vector<float> storage = normal_values(n * d, 77);
  const mr::MatrixView items(storage, n, d);
  const mr::BruteForceCandidates generator(items);
  for (std::uint64_t q = 0; q < 20; ++q) {
    const std::vector<float> query = normal_values(d, 900 + q);
    std::vector<std::size_t> got(50);
    REQUIRE(generator.generate(query, 50, got) == 50);
    std::vector<mr::ScoredItem> want(50);
    REQUIRE(mr::simd::reference::score_top_k(query, items, 50, want) == 50);
    // Every returned item scores at least the reference's 50th best (less a float rounding).
    const float last = want.back().score;
    for (const std::size_t i : got) {
      CHECK(mr::simd::reference::dot(items.row(i), query) >= last - 1e-4f * (1.0f + std::fabs(last)));
    }
    CHECK(std::count_if(got.begin(), got.end(), [&](std::size_t i) {
            return std::find_if(want.begin(), want.end(), [&](const mr::ScoredItem& w) {
                     return w.index == i;
                   }) != want.end();
          }) >= 49);
  }
}

TEST_CASE("BruteForceCandidates: rows that score NaN are never candidates, and a larger m after a smaller one") {
  std::vector<float> storage = normal_values(40 * 4, 3);
  storage[7 * 4 + 2] = std::numeric_limits<float>::quiet_NaN();
  storage[30 * 4] = std::numeric_limits<float>::quiet_NaN();
  const mr::BruteForceCandidates generator(mr::MatrixView(storage, 40, 4));
  const std::vector<float> query = {0.5f, -1.0f, 2.0f, 0.25f};
  std::vector<std::size_t> out(40);
  REQUIRE(generator.generate(query, 40, out) == 38);
  CHECK(std::find(out.begin(), out.begin() + 38, std::size_t{7}) == out.begin() + 38);
  CHECK(std::find(out.begin(), out.begin() + 38, std::size_t{30}) == out.begin() + 38);
  // The thread_local scores grow and shrink with m: results agree with a fresh call's prefix.
  std::vector<std::size_t> few(3);
  REQUIRE(generator.generate(query, 3, few) == 3);
  CHECK(std::equal(few.begin(), few.end(), out.begin()));
}

TEST_CASE("BruteForceCandidates: bad input names what and where") {
  std::vector<float> storage(12, 1.0f);
  CHECK(mr::test::error_of([&] { mr::BruteForceCandidates g(mr::MatrixView(storage, 3, 0)); }) ==
        "BruteForceCandidates: the 3 item rows have 0 columns");
  const mr::BruteForceCandidates empty{mr::MatrixView{}};
  std::vector<std::size_t> out(4);
  CHECK(empty.generate(std::span<const float>(), 4, out) == 0);

  const mr::BruteForceCandidates g(mr::MatrixView(storage, 3, 4));
  CHECK(mr::test::error_of([&] { (void)g.generate(std::vector<float>(3, 1.0f), 2, out); }) ==
        "BruteForceCandidates::generate: query has 3 elements, the items have 4");
  std::vector<float> query(4, 1.0f);
  query[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK(mr::test::error_of([&] { (void)g.generate(query, 2, out); }) ==
        "BruteForceCandidates::generate: query value 3 is not finite");
  query[3] = 1.0f;
  CHECK(mr::test::error_of([&] { (void)g.generate(query, 3, std::span<std::size_t>(out).first(2)); }) ==
        "BruteForceCandidates::generate: out has room for 2 indices, 3 are needed");
  // m beyond the catalog needs room for the catalog only.
  CHECK(g.generate(query, 100, std::span<std::size_t>(out).first(3)) == 3);
}

TEST_CASE("BruteForceCandidates: its candidates go to Agent::recommend over the same item matrix") {
  const std::size_t n = 200;
  const std::size_t d = 6;
  const std::vector<float> storage = normal_values(n * d, 11);
  const mr::MatrixView items(storage, n, d);
  const mr::BruteForceCandidates generator(items);
  const std::vector<float> user = normal_values(d, 12);
  std::vector<std::size_t> list;
  const mr::Candidates candidates = mr::generate_candidates(generator, user, 20, list);
  REQUIRE(candidates.size() == 20);
  mr::Agent<mr::LinUcb> agent{mr::LinUcb{{.features = mr::FeatureMap::cross}}};
  const mr::Decision decision = agent.recommend({.features = user, .items = items}, candidates, 5);
  REQUIRE(decision.items.size() == 5);
  for (const std::size_t item : decision.items) {
    CHECK(std::find(list.begin(), list.end(), item) != list.end());
  }
}

TEST_CASE("BruteForceCandidates: generate is safe to call from several threads at once") {
  const std::size_t n = 3000;
  const std::size_t d = 16;
  const std::vector<float> storage = normal_values(n * d, 71);
  const mr::BruteForceCandidates generator(mr::MatrixView(storage, n, d));
  const std::size_t nq = 32;
  const std::vector<float> queries = normal_values(nq * d, 72);
  // Each thread asks for a different m, so the thread_local buffers differ in size.
  const std::size_t threads = 4;
  std::vector<std::vector<std::vector<std::size_t>>> alone(threads);
  for (std::size_t t = 0; t < threads; ++t) {
    for (std::size_t q = 0; q < nq; ++q) {
      std::vector<std::size_t> out(5 + 10 * t);
      REQUIRE(generator.generate(std::span<const float>(queries).subspan(q * d, d), out.size(), out) ==
              out.size());
      alone[t].push_back(out);
    }
  }
  std::vector<std::size_t> mismatches(threads, 0);
  mr::test::concurrently(threads, [&](std::size_t t) {
    std::vector<std::size_t> out(5 + 10 * t);
    for (std::size_t q = 0; q < nq; ++q) {
      const std::size_t count =
          generator.generate(std::span<const float>(queries).subspan(q * d, d), out.size(), out);
      mismatches[t] += count == out.size() && out == alone[t][q] ? 0 : 1;
    }
  });
  for (std::size_t t = 0; t < threads; ++t) CHECK(mismatches[t] == 0);
}
