// Tests of simd/batch_top_k.hpp and simd/parallel_top_k.hpp: every batched and parallel path
// returns exactly what the single-query kernel returns (items, order, score bits), including the
// register-blocked product's certificate and its fall-back on ties and non-finite values; the
// scalar twin agrees within tolerance; bad arguments are refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <limits>
#include <set>
#include <span>
#include <stdexcept>
#include <vector>

#include "marl_rec/core/serial_executor.hpp"
#include "marl_rec/core/thread_pool.hpp"
#include "marl_rec/simd/batch_top_k.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/parallel_top_k.hpp"
#include "marl_rec/simd/reference.hpp"
#include "support/test_data.hpp"

namespace {

namespace mr = marl_rec;
namespace simd = marl_rec::simd;
namespace ref = marl_rec::simd::reference;
using mr::test::Buffer;
using mr::test::Values;

constexpr std::size_t kWidth = xsimd::batch<float, xsimd::default_arch>::size;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

using mr::test::Items;

template <class Exclude>
std::vector<mr::ScoredItem> single(std::span<const float> query, mr::MatrixView items,
                                   std::size_t k, const Exclude& exclude) {
  std::vector<mr::ScoredItem> out(std::min(k, items.rows()));
  out.resize(simd::score_top_k(query, items, k, out, exclude));
  return out;
}

// Checks that the batch results equal the single-query kernel's, query by query, bit for bit.
template <class Exclude>
void check_equals_single(mr::MatrixView queries, mr::MatrixView items, std::size_t k,
                         const Exclude& exclude, std::span<const mr::ScoredItem> out,
                         std::span<const std::size_t> counts) {
  const std::size_t cap = std::min(k, items.rows());
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    CAPTURE(q);
    const auto exclude_q = [&](std::size_t i) { return exclude(q, i); };
    const auto want = single(queries.row(q), items, k, exclude_q);
    REQUIRE(counts[q] == want.size());
    for (std::size_t j = 0; j < want.size(); ++j) {
      CAPTURE(j);
      CHECK(out[q * cap + j].index == want[j].index);
      CHECK(std::bit_cast<std::uint32_t>(out[q * cap + j].score) ==
            std::bit_cast<std::uint32_t>(want[j].score));
    }
  }
}

// Runs the serial batch, the batch over a 3-thread pool and over SerialExecutor, and checks each.
template <class Exclude>
void check_batch(mr::MatrixView queries, mr::MatrixView items, std::size_t k,
                 const Exclude& exclude) {
  const std::size_t cap = std::min(k, items.rows());
  std::vector<mr::ScoredItem> out(queries.rows() * cap);
  std::vector<std::size_t> counts(queries.rows(), 99);
  simd::score_top_k_batch(queries, items, k, out, counts, exclude);
  check_equals_single(queries, items, k, exclude, out, counts);
  static mr::ThreadPool pool(3);
  std::vector<mr::ScoredItem> par(out.size());
  std::vector<std::size_t> par_counts(queries.rows(), 99);
  simd::score_top_k_batch(queries, items, k, par, par_counts, exclude, pool);
  CHECK(par_counts == counts);
  CHECK(par == out);
  mr::SerialExecutor serial;
  simd::score_top_k_batch(queries, items, k, par, par_counts, exclude, serial);
  CHECK(par_counts == counts);
  CHECK(par == out);
}

}  // namespace

TEST_CASE("score_top_k_batch equals the single-query kernel for every batch size, every scan") {
  // 1 … 3: the single-query arithmetic; up to half a batch: the product with two dimensions per
  // lane; more: one dimension per lane, in tiles of one to several vectors of queries.
  const std::set<std::size_t> nqs = {1, 2, 3, 4, kWidth / 2, kWidth / 2 + 1, kWidth - 1, kWidth,
                                     kWidth + 1, 2 * kWidth + 3, 4 * kWidth, 7 * kWidth + 5};
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, kWidth + 1, std::size_t{241},
                              std::size_t{1000}}) {
    for (const std::size_t d : {std::size_t{1}, std::size_t{3}, std::size_t{16}, std::size_t{64},
                                std::size_t{100}}) {
      for (const std::size_t nq : nqs) {
        for (const std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{10}, n + 5}) {
          CAPTURE(n);
          CAPTURE(d);
          CAPTURE(nq);
          CAPTURE(k);
          Items items(n, d, d + 1, 1, Values::gaussian, 50);
          Items queries(nq, d, d + 2, 1, Values::gaussian, 51);
          check_batch(queries.view, items.view, k, [](std::size_t q, std::size_t i) {
            return (i + q) % 7 == 0;
          });
          check_batch(queries.view, items.view, k, mr::NoExclusion{});
        }
      }
    }
  }
}

TEST_CASE("the register-blocked scan certifies its results on continuous data") {
  // If the certificate failed, every query would be re-scanned and the results would still be
  // right; this checks that the fast path is the one taken, with one and two dimensions per lane
  // (an odd dimension count leaves the two-per-lane scan a last single dimension).
  for (const std::size_t nq : {kWidth / 2, 4 * kWidth}) {
  for (const std::size_t d : {std::size_t{63}, std::size_t{64}}) {
  CAPTURE(nq);
  CAPTURE(d);
  const std::size_t n = 5000;
  Items items(n, d, d, 0, Values::gaussian, 64);
  Items queries(nq, d, d, 0, Values::gaussian, 65);
  std::vector<mr::ScoredItem> out(nq * 10);
  std::vector<std::size_t> counts(nq);
  const std::size_t rescanned = simd::kernels::ScoreTopKBatch{}(
      xsimd::default_arch{}, queries.view, items.view, 10, mr::NoExclusion{}, out.data(),
      counts.data());
  CHECK(rescanned == 0);
  check_equals_single(queries.view, items.view, 10, mr::NoExclusion{}, out, counts);
  // Duplicated rows tie within rounding (exactly), so the queries whose top-k straddles a pair
  // of duplicates cannot be certified and are re-scanned.
  Items dup(n, d, d, 0, Values::gaussian, 66);
  for (std::size_t r = 0; r < n; ++r) {
    std::copy_n(queries.view.row(r % nq).begin(), d, dup.view.row(r).begin());
  }
  const std::size_t rescanned_dup = simd::kernels::ScoreTopKBatch{}(
      xsimd::default_arch{}, queries.view, dup.view, 10, mr::NoExclusion{}, out.data(),
      counts.data());
  CHECK(rescanned_dup == nq);
  check_equals_single(queries.view, dup.view, 10, mr::NoExclusion{}, out, counts);
  }
  }
}

TEST_CASE("the register-blocked scan's bound holds for tiny rows against huge queries") {
  // Row norms summed in float underflow here; the bound must still cover the scans' difference.
  for (const std::size_t nq : {kWidth / 2, kWidth + 3}) {
  CAPTURE(nq);
  const std::size_t n = 400, d = 48;
  Items items(n, d, d, 0, Values::gaussian, 67);
  Items queries(nq, d, d, 0, Values::gaussian, 68);
  for (std::size_t r = 0; r < n; ++r) {
    for (float& x : items.view.row(r)) x *= 1e-23f;
  }
  for (std::size_t q = 0; q < nq; ++q) {
    for (float& x : queries.view.row(q)) x *= 1e22f;
  }
  check_batch(queries.view, items.view, 10, mr::NoExclusion{});
  }
}

TEST_CASE("score_top_k_batch does not re-scan when a range's heap holds all its rows") {
  const std::size_t d = 16, nq = 2 * kWidth;
  Items queries(nq, d, d, 0, Values::gaussian, 69);
  for (const std::size_t n : {std::size_t{5}, std::size_t{12}, std::size_t{30}}) {
    Items items(n, d, d, 0, Values::gaussian, 70);
    for (const std::size_t k : {n - 2, n, n + 3}) {
      CAPTURE(n);
      CAPTURE(k);
      std::vector<mr::ScoredItem> out(nq * std::min(k, n));
      std::vector<std::size_t> counts(nq);
      const std::size_t rescanned = simd::kernels::ScoreTopKBatch{}(
          xsimd::default_arch{}, queries.view, items.view, k, mr::NoExclusion{}, out.data(),
          counts.data());
      if (n <= k + simd::kernels::BatchTuning::extra_candidates) CHECK(rescanned == 0);
      check_equals_single(queries.view, items.view, k, mr::NoExclusion{}, out, counts);
    }
  }
}

TEST_CASE("score_top_k_batch agrees with its scalar twin within tolerance") {
  const std::size_t n = 700, d = 64, nq = 2 * kWidth + 1, k = 12;
  Items items(n, d, d, 0, Values::gaussian, 52);
  Items queries(nq, d, d, 0, Values::gaussian, 53);
  std::vector<mr::ScoredItem> out(nq * k), want(nq * k);
  std::vector<std::size_t> counts(nq), want_counts(nq);
  simd::score_top_k_batch(queries.view, items.view, k, out, counts);
  ref::score_top_k_batch(queries.view, items.view, k, want, want_counts);
  CHECK(counts == want_counts);
  for (std::size_t j = 0; j < out.size(); ++j) {
    CHECK(std::fabs(double(out[j].score) - double(want[j].score)) <= 1e-4);
  }
}

TEST_CASE("score_top_k_batch is exact on ties: small integers and duplicated rows") {
  // Integer values tie everywhere, so many certificates fail and those queries are re-scanned
  // with the single-query kernel; duplicated rows tie exactly and must come out by index.
  for (const std::size_t n : {std::size_t{50}, std::size_t{2000}}) {
    for (const std::size_t d : {std::size_t{3}, std::size_t{64}}) {
      CAPTURE(n);
      CAPTURE(d);
      Items items(n, d, d, 0, Values::small_integers, 54);
      for (std::size_t r = 1; r < n; r += 3) {
        std::copy_n(items.view.row(r - 1).begin(), d, items.view.row(r).begin());
      }
      for (const std::size_t nq : {kWidth / 2, 3 * kWidth}) {
        Items queries(nq, d, d, 0, Values::small_integers, 55);
        for (const std::size_t k : {std::size_t{1}, std::size_t{5}, std::size_t{40}}) {
          CAPTURE(nq);
          CAPTURE(k);
          check_batch(queries.view, items.view, k, mr::NoExclusion{});
        }
      }
    }
  }
}

TEST_CASE("score_top_k_batch handles NaN and infinite queries and rows as score_top_k does") {
  // Two lanes per query (half a batch; on SSE2 only two queries, so the huge query gets its own
  // run) and one lane per query.
  for (const std::size_t nq : std::set<std::size_t>{kWidth / 2, std::max<std::size_t>(kWidth / 2, 3), 2 * kWidth}) {
  CAPTURE(nq);
  const std::size_t n = 300, d = 20;
  Items items(n, d, d, 0, Values::gaussian, 56);
  Items queries(nq, d, d, 0, Values::gaussian, 57);
  queries.view.row(0)[3] = kNaN;
  if (nq == 2) {
    queries.view.row(1)[5] = 3e30f;  // finite, but too large for the product's error bound
  } else {
    queries.view.row(1)[0] = kInf;
    queries.view.row(2)[5] = 3e30f;
  }
  SUBCASE("finite rows") { check_batch(queries.view, items.view, 10, mr::NoExclusion{}); }
  SUBCASE("a NaN row") {
    items.view.row(17)[2] = kNaN;
    check_batch(queries.view, items.view, 10, mr::NoExclusion{});
  }
  SUBCASE("an infinite row") {
    items.view.row(250)[19] = -kInf;
    check_batch(queries.view, items.view, 10, mr::NoExclusion{});
  }
  SUBCASE("huge finite rows") {
    for (float& x : items.view.row(99)) x = 1e30f;
    check_batch(queries.view, items.view, 10, mr::NoExclusion{});
  }
  }
}

TEST_CASE("the certificate's row-norm bound covers every row and flags non-finite ones") {
  // fold_row_norms sums x ⊙ x into one batch per row and keeps the lane-wise maximum: the sum of
  // its lanes must be at least every row's squared norm, whatever the dimension's tail.
  struct Found {
    double max_row_norm2 = 0.0;
    bool non_finite_row = false;
  };
  for (const std::size_t d : {std::size_t{1}, kWidth - 1, kWidth, kWidth + 3, std::size_t{64}, std::size_t{100}}) {
    for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{4}, std::size_t{9}, std::size_t{250}}) {
      CAPTURE(d);
      CAPTURE(n);
      Items items(n, d, d + 1, 1, Values::gaussian, 71);  // unaligned rows
      // One row much longer than the others, so the bound must come from it.
      for (float& x : items.view.row(n / 2)) x *= 5.0f;
      Found found;
      simd::kernels::fold_row_norms<xsimd::default_arch>(items.view, 0, n, found);
      CHECK_FALSE(found.non_finite_row);
      double largest = 0.0;
      for (std::size_t r = 0; r < n; ++r) {
        double n2 = 0.0;
        for (const float x : items.view.row(r)) n2 += double(x) * double(x);
        largest = std::max(largest, n2);
      }
      // The float sums may fall short of the exact ones by their rounding, γ = (d + 2)·2⁻²⁴.
      const double gamma = double(d + 2) * std::ldexp(1.0, -24);
      CHECK(found.max_row_norm2 >= largest * (1.0 - gamma));
      // A bound, but not a useless one: W lanes and the scalar tail, each at most the largest.
      CHECK(found.max_row_norm2 <= double(kWidth + 1) * largest * (1.0 + gamma));
      // One-hot rows put their energy in different lanes: the loosest case, still a bound.
      Items one_hot(n, d, d, 0, Values::gaussian, 74);
      for (std::size_t r = 0; r < n; ++r) {
        std::fill(one_hot.view.row(r).begin(), one_hot.view.row(r).end(), 0.0f);
        one_hot.view.row(r)[r % d] = 1.0f;
      }
      Found sparse;
      simd::kernels::fold_row_norms<xsimd::default_arch>(one_hot.view, 0, n, sparse);
      CHECK(sparse.max_row_norm2 >= 1.0);
      CHECK(sparse.max_row_norm2 <= double(kWidth + 1));
      for (const float bad : {kNaN, kInf}) {
        for (const std::size_t p : {std::size_t{0}, d - 1}) {
          Items damaged(n, d, d, 0, Values::gaussian, 72);
          damaged.view.row(n - 1)[p] = bad;
          Found flagged;
          simd::kernels::fold_row_norms<xsimd::default_arch>(damaged.view, 0, n, flagged);
          CHECK(flagged.non_finite_row);
        }
      }
      // A finite row whose squares overflow float is flagged too.
      Items huge(n, d, d, 0, Values::gaussian, 73);
      for (float& x : huge.view.row(0)) x = 3e38f;
      Found overflow;
      simd::kernels::fold_row_norms<xsimd::default_arch>(huge.view, 0, n, overflow);
      CHECK(overflow.non_finite_row);
    }
  }
}

TEST_CASE("score_top_k_batch spans many blocks and tasks") {
  // More rows than a parallel task's minimum (1 MiB), so the pool splits the rows, and more than
  // several blocks of either scan, so heaps are resumed across blocks.
  const std::size_t d = 64;
  const std::size_t n = 3 * (simd::kernels::BatchTuning::min_task_bytes / (d * sizeof(float))) + 37;
  Items items(n, d, d, 0, Values::gaussian, 58);
  for (const std::size_t nq : {std::size_t{5}, 3 * kWidth + 2}) {
    CAPTURE(nq);
    Items queries(nq, d, d, 0, Values::gaussian, 59);
    check_batch(queries.view, items.view, 20, [](std::size_t q, std::size_t i) {
      return i % (q + 2) == 0;
    });
  }
}

TEST_CASE("parallel score_top_k equals the serial kernel bit for bit") {
  mr::ThreadPool pool(2);
  mr::ThreadPool four(4);
  mr::SerialExecutor serial;
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{20000}}) {
    for (const std::size_t d : {std::size_t{5}, std::size_t{16}, std::size_t{64}}) {
      for (const std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{10}, n + 1}) {
        CAPTURE(n);
        CAPTURE(d);
        CAPTURE(k);
        Items items(n, d, d, 0, Values::gaussian, 60);
        Items query(1, d, d, 0, Values::gaussian, 61);
        const auto exclude = [](std::size_t i) { return i % 5 == 1; };
        const auto want = single(query.view.row(0), items.view, k, exclude);
        for (mr::ThreadPool* p : {&pool, &four}) {
          std::vector<mr::ScoredItem> out(std::min(k, n));
          out.resize(simd::score_top_k(query.view.row(0), items.view, k, out, exclude, *p));
          CHECK(out == want);
        }
        std::vector<mr::ScoredItem> out(std::min(k, n));
        out.resize(simd::score_top_k(query.view.row(0), items.view, k, out, exclude, serial));
        CHECK(out == want);
      }
    }
  }
}

TEST_CASE("parallel kernels rethrow an exception from the exclusion") {
  mr::ThreadPool pool(2);
  const std::size_t n = 20000, d = 16;
  Items items(n, d, d, 0, Values::gaussian, 62);
  Items queries(kWidth, d, d, 0, Values::gaussian, 63);
  std::vector<mr::ScoredItem> out(kWidth * 3);
  std::vector<std::size_t> counts(kWidth);
  const auto bad = [](std::size_t i) -> bool {
    if (i > 15000) throw std::runtime_error("exclusion failed");
    return false;
  };
  CHECK_THROWS_WITH_AS(simd::score_top_k(queries.view.row(0), items.view, 3,
                                         std::span<mr::ScoredItem>(out).first(3), bad, pool),
                       "exclusion failed", std::runtime_error);
  const auto bad_q = [&](std::size_t, std::size_t i) { return bad(i); };
  CHECK_THROWS_AS(simd::score_top_k_batch(queries.view, items.view, 3, out, counts, bad_q, pool),
                  std::runtime_error);
  // The pool is still usable.
  simd::score_top_k_batch(queries.view, items.view, 3, out, counts, mr::NoExclusion{}, pool);
  check_equals_single(queries.view, items.view, 3, mr::NoExclusion{}, out, counts);
}

TEST_CASE("score_top_k_batch refuses wrong dimensions and short outputs") {
  std::vector<float> items(12, 1.0f);
  const mr::MatrixView view(items, 3, 4);
  std::vector<float> q3(3, 1.0f), q4(4, 1.0f);
  std::vector<mr::ScoredItem> top(3);
  std::vector<std::size_t> counts(1);
  mr::ThreadPool pool(2);
  CHECK_THROWS_WITH_AS(
      simd::score_top_k_batch(mr::MatrixView(q3, 1, 3), view, 3, top, counts),
      "simd::score_top_k_batch: query rows has 3 elements but item rows has 4", mr::Error);
  CHECK_THROWS_WITH_AS(
      simd::score_top_k_batch(mr::MatrixView(q4, 1, 4), view, 3,
                              std::span<mr::ScoredItem>(top).first(2), counts),
      "simd::score_top_k_batch: out has room for 2 elements, 3 are needed", mr::Error);
  CHECK_THROWS_AS(simd::score_top_k_batch(mr::MatrixView(q4, 1, 4), view, 3, top,
                                          std::span<std::size_t>(), mr::NoExclusion{}, pool),
                  mr::Error);
  CHECK_THROWS_WITH_AS(simd::score_top_k(q3, view, 3, top, mr::NoExclusion{}, pool),
                       "simd::score_top_k: query has 3 elements but item rows has 4", mr::Error);
}
