// simd::detail::canonical_score and certified_top_k: the re-scoring must reproduce the float32
// kernels' scores bit for bit (every dim 1..70, row counts that end in partial blocks, padded and
// unaligned rows, every architecture this unit can run), and the certificate must accept exactly
// when the answer is provably score_top_k's: a bound equal to the k-th score (a tie an outside item
// with a lower index would win) or above it, a NaN bound, or too few candidates are refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/simd/detail/certified_rescore.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "support/simd_archs.hpp"
#include "support/test_data.hpp"

namespace {

namespace mr = marl_rec;
namespace simd = marl_rec::simd;
using mr::ScoredItem;
using mr::test::Buffer;
using mr::test::Values;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::uint32_t bits(float x) { return std::bit_cast<std::uint32_t>(x); }

// An item matrix of n rows of d values, rows `stride` apart, `offset` floats off alignment.
struct Items {
  Items(std::size_t n, std::size_t d, std::size_t stride, std::size_t offset, std::uint32_t seed,
        Values values = Values::gaussian)
      : buffer(n == 0 ? 0 : (n - 1) * stride + d, offset, values, seed),
        view(buffer.span(), n, d, stride) {}
  Buffer buffer;
  mr::MutableMatrixView view;
};

// Every item index in [0, n) in an order shuffled by `seed` (certified_top_k takes any order).
std::vector<ScoredItem> shuffled_candidates(std::size_t n, std::uint32_t seed) {
  std::vector<ScoredItem> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = {i, 0.0f};
  std::mt19937 rng(seed);
  std::shuffle(all.begin(), all.end(), rng);
  return all;
}

// The canonical scores of every row, by simd::score on Arch.
template <class Arch>
std::vector<float> all_scores(std::span<const float> query, mr::MatrixView items) {
  std::vector<float> s(items.rows());
  simd::score<Arch>(query, items, s);
  return s;
}

template <class Arch, class Exclude = mr::NoExclusion>
std::vector<ScoredItem> expected_top_k(std::span<const float> query, mr::MatrixView items,
                                       std::size_t k, const Exclude& exclude = {}) {
  std::vector<ScoredItem> out(std::min(k, items.rows()));
  out.resize(simd::score_top_k<Exclude, Arch>(query, items, k, out, exclude));
  return out;
}

template <class Arch>
std::optional<std::vector<ScoredItem>> certified(std::span<const float> query, mr::MatrixView items,
                                                 std::span<const ScoredItem> candidates,
                                                 bool complete, double outside_bound,
                                                 std::size_t k) {
  std::vector<ScoredItem> out(std::min(k, items.rows()));
  const std::optional<std::size_t> n = simd::detail::certified_top_k<Arch>(
      query.data(), items, candidates, complete, outside_bound, k, out.data());
  if (!n) return std::nullopt;
  out.resize(*n);
  return out;
}

// Bitwise equality of two rankings (== on floats would accept -0 for +0).
void check_same(const std::vector<ScoredItem>& got, const std::vector<ScoredItem>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].index == want[i].index);
    CHECK(bits(got[i].score) == bits(want[i].score));
  }
}

}  // namespace

TEST_CASE("canonical_score is score's and score_top_k's value bit for bit, dims 1..70, tails") {
  mr::test::for_each_arch([](auto arch, const std::string& name) {
    using Arch = decltype(arch);
    CAPTURE(name);
    for (std::size_t d = 1; d <= 70; ++d) {
      for (const std::size_t n : {1, 3, 15, 17, 31, 33, 47, 65}) {
        for (const std::size_t offset : {0, 1}) {
          const std::size_t stride = d + (n % 3 == 0 ? 5 : 0);  // padded rows now and then
          CAPTURE(d);
          CAPTURE(n);
          CAPTURE(offset);
          const auto seed = static_cast<std::uint32_t>(1000 * d + 10 * n + offset);
          Items items(n, d, stride, offset, seed);
          const Buffer query(d, offset, Values::gaussian, seed + 7);
          const std::vector<float> scores = all_scores<Arch>(query.cspan(), items.view);
          for (std::size_t r = 0; r < n; ++r) {
            CHECK(bits(simd::detail::canonical_score<Arch>(query.cspan().data(), items.view, r)) ==
                  bits(scores[r]));
          }
          for (const ScoredItem& item : expected_top_k<Arch>(query.cspan(), items.view, n)) {
            CHECK(bits(simd::detail::canonical_score<Arch>(query.cspan().data(), items.view,
                                                           item.index)) == bits(item.score));
          }
        }
      }
    }
  });
}

TEST_CASE("certified_top_k with every item as candidate (complete) is score_top_k") {
  mr::test::for_each_arch([](auto arch, const std::string& name) {
    using Arch = decltype(arch);
    CAPTURE(name);
    for (const std::size_t d : {1, 7, 16, 64, 70}) {
      for (const std::size_t n : {1, 15, 17, 100, 333}) {
        CAPTURE(d);
        CAPTURE(n);
        const auto seed = static_cast<std::uint32_t>(31 * d + n);
        Items items(n, d, d, 0, seed);
        const Buffer query(d, 0, Values::gaussian, seed + 1);
        const std::vector<ScoredItem> candidates = shuffled_candidates(n, seed + 2);
        for (const std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{5}, n, n + 3}) {
          CAPTURE(k);
          // The bound is ignored when complete: even a NaN bound certifies.
          const auto got = certified<Arch>(query.cspan(), items.view, candidates, true, kNaN, k);
          REQUIRE(got.has_value());
          check_same(*got, expected_top_k<Arch>(query.cspan(), items.view, k));
        }
        // With an exclusion: the candidates are the eligible items only.
        mr::ItemBitset excluded;
        std::vector<ScoredItem> eligible;
        for (const ScoredItem& c : candidates) {
          if (c.index % 3 == 1) {
            excluded.insert(c.index);
          } else {
            eligible.push_back(c);
          }
        }
        const auto got = certified<Arch>(query.cspan(), items.view, eligible, true, 0.0, 10);
        REQUIRE(got.has_value());
        check_same(*got, expected_top_k<Arch>(query.cspan(), items.view, 10, excluded.view()));
      }
    }
  });
}

TEST_CASE("certified_top_k certifies exactly when the outside bound is below the k-th score") {
  mr::test::for_each_arch([](auto arch, const std::string& name) {
    using Arch = decltype(arch);
    CAPTURE(name);
    for (const std::size_t d : {3, 16, 64}) {
      const std::size_t n = 500;
      CAPTURE(d);
      const auto seed = static_cast<std::uint32_t>(77 * d);
      Items items(n, d, d, 1, seed);
      const Buffer query(d, 1, Values::gaussian, seed + 1);
      const std::vector<float> scores = all_scores<Arch>(query.cspan(), items.view);
      std::vector<ScoredItem> ranked(n);
      for (std::size_t i = 0; i < n; ++i) ranked[i] = {i, scores[i]};
      std::sort(ranked.begin(), ranked.end(), mr::ranks_before);
      for (const std::size_t k : {1, 10, 40}) {
        CAPTURE(k);
        const std::vector<ScoredItem> want = expected_top_k<Arch>(query.cspan(), items.view, k);
        for (const std::size_t m : {k, k + 1, 3 * k + 5}) {
          CAPTURE(m);
          // Candidates: the m best, in a shuffled order; the best outside scores ranked[m].
          std::vector<ScoredItem> candidates(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(m));
          std::shuffle(candidates.begin(), candidates.end(), std::mt19937(seed + static_cast<std::uint32_t>(m)));
          const double outside = ranked[m].score;
          const double kth = ranked[k - 1].score;
          REQUIRE(outside < kth);  // Gaussian scores: no ties here
          const auto got = certified<Arch>(query.cspan(), items.view, candidates, false, outside, k);
          REQUIRE(got.has_value());
          check_same(*got, want);
          // Any bound that does not clear the k-th score is refused: equal, above, NaN.
          CHECK_FALSE(certified<Arch>(query.cspan(), items.view, candidates, false, kth, k));
          CHECK_FALSE(
              certified<Arch>(query.cspan(), items.view, candidates, false, kth + 1e-9, k));
          CHECK_FALSE(certified<Arch>(query.cspan(), items.view, candidates, false, kNaN, k));
          // The bound just below the k-th score still certifies.
          CHECK(certified<Arch>(query.cspan(), items.view, candidates, false,
                                std::nextafter(kth, -1e300), k));
        }
        // Fewer than k candidates, not complete: refused whatever the bound.
        const std::vector<ScoredItem> few(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(k - 1));
        CHECK_FALSE(certified<Arch>(query.cspan(), items.view, few, false, -1e300, k));
        // Complete, fewer than k: all of them, certified.
        const auto all_few = certified<Arch>(query.cspan(), items.view, few, true, 0.0, k);
        REQUIRE(all_few.has_value());
        CHECK(all_few->size() == k - 1);
      }
    }
  });
}

TEST_CASE("certified_top_k: ties are ordered by index, and a tie outside the candidates is refused") {
  mr::test::for_each_arch([](auto arch, const std::string& name) {
    using Arch = decltype(arch);
    CAPTURE(name);
    const std::size_t d = 24;
    const std::size_t n = 101;
    // Small integers: only 4 distinct rows, so scores tie in large groups.
    Items items(n, d, d, 0, 5, Values::small_integers);
    for (std::size_t r = 4; r < n; ++r) {
      std::copy_n(items.view.row(r % 4).data(), d, items.view.row(r).data());
    }
    const Buffer query(d, 0, Values::small_integers, 6);
    const std::vector<float> scores = all_scores<Arch>(query.cspan(), items.view);
    const std::size_t k = 7;
    const std::vector<ScoredItem> want = expected_top_k<Arch>(query.cspan(), items.view, k);
    const auto best_row = want.front().index;
    for (std::size_t i = 1; i < k; ++i) CHECK(want[i].index > want[i - 1].index);  // one tie group
    // Candidates: all rows of the best group, listed from the last; everything else outside,
    // bounded by the best score of any other group.
    std::vector<ScoredItem> candidates;
    double outside = -std::numeric_limits<double>::infinity();
    for (std::size_t r = n; r-- > 0;) {
      if (bits(scores[r]) == bits(scores[best_row])) {
        candidates.push_back({r, 0.0f});
      } else {
        outside = std::max(outside, double(scores[r]));
      }
    }
    const auto got = certified<Arch>(query.cspan(), items.view, candidates, false, outside, k);
    REQUIRE(got.has_value());
    check_same(*got, want);
    // Leave out the two lowest indices of the group: the bound is now their (tied) score, and the
    // answer without them would be wrong, so it must be refused.
    std::vector<ScoredItem> missing_low(candidates.begin(), candidates.end() - 2);
    CHECK_FALSE(certified<Arch>(query.cspan(), items.view, missing_low, false,
                                double(scores[best_row]), k));
  });
}

TEST_CASE("certified_top_k: NaN scores are not eligible") {
  mr::test::for_each_arch([](auto arch, const std::string& name) {
    using Arch = decltype(arch);
    CAPTURE(name);
    const std::size_t d = 16;
    const std::size_t n = 40;
    Items items(n, d, d, 0, 9);
    for (const std::size_t r : {0, 5, 17, 39}) items.view.row(r)[3] = kNaN;
    const Buffer query(d, 0, Values::gaussian, 10);
    const std::vector<ScoredItem> candidates = shuffled_candidates(n, 11);
    for (const std::size_t k : {3, 36, 40}) {
      CAPTURE(k);
      const auto got = certified<Arch>(query.cspan(), items.view, candidates, true, 0.0, k);
      REQUIRE(got.has_value());
      check_same(*got, expected_top_k<Arch>(query.cspan(), items.view, k));
    }
    // 36 eligible items: asking for 40 without completeness cannot be certified.
    CHECK_FALSE(certified<Arch>(query.cspan(), items.view, candidates, false, -1e300, 40));
    // A NaN query: nothing is eligible.
    std::vector<float> nan_query(d, 1.0f);
    nan_query[2] = kNaN;
    const auto none = certified<Arch>(nan_query, items.view, candidates, true, 0.0, 5);
    REQUIRE(none.has_value());
    CHECK(none->empty());
    CHECK(expected_top_k<Arch>(nan_query, items.view, 5).empty());
  });
}
