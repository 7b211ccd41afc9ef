// Every SIMD kernel against its scalar twin (simd/reference.hpp), on the sizes, dims, offsets,
// k values and exclusions where kernels go wrong: 0, 1, one batch and its neighbours, tails,
// unaligned and padded rows, ties, NaN. This file is compiled once per ISA flavour (see
// tests/CMakeLists.txt), so each test runs on sse2, fma3<avx2> and the host's best ISA.
//
// Tolerances (documented in docs/simd.md): a kernel's float sum of n products may differ from the
// double-accumulated reference by at most (n + 1) · FLT_EPSILON · Σ|aᵢbᵢ|. With small-integer data
// every partial sum is exact, so kernel and reference must agree exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <limits>
#include <set>
#include <stdexcept>
#include <span>
#include <vector>

#include "marl_rec/simd/kernels.hpp"
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

std::vector<std::size_t> sizes() {
  std::set<std::size_t> s = {0, 1, kWidth - 1, kWidth, kWidth + 1, 2 * kWidth + 3, 1000};
  return {s.begin(), s.end()};
}
// The dims, plus every block-scorer variant of this ISA: 1, 2, 4, 8 and 16 batches with
// the query in registers, 32 batches and 3 batches through the generic loop.
const std::vector<std::size_t> kDims = [] {
  std::set<std::size_t> d = {1, 3, 16, 63, 64, 100, 128};
  for (const std::size_t batches : {1, 2, 3, 4, 8, 16, 32}) d.insert(batches * kWidth);
  return std::vector<std::size_t>(d.begin(), d.end());
}();
const std::vector<std::size_t> kOffsets = {0, 1};

double abs_dot(std::span<const float> a, std::span<const float> b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += std::fabs(double(a[i]) * double(b[i]));
  return s;
}

double dot_tolerance(std::span<const float> a, std::span<const float> b) {
  return double(a.size() + 1) * FLT_EPSILON * abs_dot(a, b);
}

using mr::test::Items;

// The largest tolerance over all rows of `items` against `query`.
double max_row_tolerance(mr::MatrixView items, std::span<const float> query) {
  double tol = 0.0;
  for (std::size_t r = 0; r < items.rows(); ++r) tol = std::max(tol, dot_tolerance(items.row(r), query));
  return tol;
}

// The exact top-k of a score array under the library's order and eligibility rules.
template <class Exclude>
std::vector<mr::ScoredItem> top_k_of(std::span<const float> scores, std::size_t k,
                                     const Exclude& exclude) {
  std::vector<mr::ScoredItem> all;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!std::isnan(scores[i]) && !exclude(i)) all.push_back({i, scores[i]});
  }
  std::sort(all.begin(), all.end(), mr::ranks_before);
  all.resize(std::min(k, all.size()));
  return all;
}

template <class Exclude>
std::vector<mr::ScoredItem> run_top_k(std::span<const float> query, mr::MatrixView items,
                                      std::size_t k, const Exclude& exclude, bool use_reference) {
  std::vector<mr::ScoredItem> out(std::min(k, items.rows()));
  const std::size_t n = use_reference ? ref::score_top_k(query, items, k, out, exclude)
                                      : simd::score_top_k(query, items, k, out, exclude);
  out.resize(n);
  return out;
}

// Checks the kernel's top-k: (1) exactly the top-k of the kernel's own scores (same bits, same
// order, ties to the lower index), (2) position by position within tolerance of the reference's.
template <class Exclude>
void check_top_k(std::span<const float> query, mr::MatrixView items, std::size_t k,
                 const Exclude& exclude, bool exact) {
  std::vector<float> scores(items.rows());
  simd::score(query, items, scores);
  const auto got = run_top_k(query, items, k, exclude, false);
  const auto expected_exact = top_k_of(std::span<const float>(scores), k, exclude);
  REQUIRE(got.size() == expected_exact.size());
  for (std::size_t j = 0; j < got.size(); ++j) {
    CHECK(got[j].index == expected_exact[j].index);
    CHECK(got[j].score == expected_exact[j].score);
  }
  const auto want = run_top_k(query, items, k, exclude, true);
  REQUIRE(got.size() == want.size());
  const double tol = exact ? 0.0 : max_row_tolerance(items, query);
  for (std::size_t j = 0; j < got.size(); ++j) {
    CHECK((got[j].score == want[j].score ||  // also ±Inf, where the difference is NaN
           std::fabs(double(got[j].score) - double(want[j].score)) <= tol));
    if (exact) CHECK(got[j].index == want[j].index);
  }
}

}  // namespace

TEST_CASE("dot matches the reference within tolerance, on every size and alignment") {
  std::vector<std::size_t> lengths = sizes();
  lengths.insert(lengths.end(), kDims.begin(), kDims.end());
  for (const std::size_t n : lengths) {
    for (const std::size_t offset : kOffsets) {
      CAPTURE(n);
      CAPTURE(offset);
      Buffer a(n, offset, Values::gaussian, 1);
      Buffer b(n, 1 - offset, Values::gaussian, 2);
      const float got = simd::dot(a.cspan(), b.cspan());
      const float want = ref::dot(a.cspan(), b.cspan());
      CHECK(std::fabs(double(got) - double(want)) <= dot_tolerance(a.cspan(), b.cspan()));
      Buffer ia(n, offset, Values::small_integers, 3);
      Buffer ib(n, offset, Values::small_integers, 4);
      CHECK(simd::dot(ia.cspan(), ib.cspan()) == ref::dot(ia.cspan(), ib.cspan()));
    }
  }
}

TEST_CASE("score matches the reference for every shape, alignment and row padding") {
  for (const std::size_t n : sizes()) {
    for (const std::size_t d : kDims) {
      for (const std::size_t offset : kOffsets) {
        for (const std::size_t pad : {std::size_t{0}, std::size_t{1}}) {
          CAPTURE(n);
          CAPTURE(d);
          CAPTURE(offset);
          CAPTURE(pad);
          for (const Values values : {Values::gaussian, Values::small_integers}) {
            Items items(n, d, d + pad, offset, values, 10);
            Buffer query(d, 1 - offset, values, 11);
            std::vector<float> got(n + 1, -7.0f);
            std::vector<float> want(n + 1, -7.0f);
            simd::score(query.cspan(), items.view, got);
            ref::score(query.cspan(), items.view, want);
            CHECK(got[n] == -7.0f);  // nothing written past the rows
            for (std::size_t r = 0; r < n; ++r) {
              if (values == Values::small_integers) {
                CHECK(got[r] == want[r]);
              } else {
                CHECK(std::fabs(double(got[r]) - double(want[r])) <=
                      dot_tolerance(items.view.row(r), query.cspan()));
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("score_top_k: every size, dim, alignment, k and exclusion") {
  mr::ItemBitset every_third;
  for (std::size_t i = 0; i < 1000; i += 3) every_third.insert(i);
  const auto bitset = every_third.view();
  const auto predicate = [](std::size_t i) { return i % 5 == 2; };
  for (const std::size_t n : sizes()) {
    for (const std::size_t d : kDims) {
      for (const std::size_t offset : kOffsets) {
        for (const std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{10}, n, n + 5}) {
          CAPTURE(n);
          CAPTURE(d);
          CAPTURE(offset);
          CAPTURE(k);
          Items items(n, d, d + offset, offset, Values::gaussian, 20);
          Buffer query(d, offset, Values::gaussian, 21);
          check_top_k(query.cspan(), items.view, k, mr::NoExclusion{}, false);
          check_top_k(query.cspan(), items.view, k, bitset, false);
          check_top_k(query.cspan(), items.view, k, predicate, false);
        }
      }
    }
  }
}

TEST_CASE("score_top_k breaks ties by the lower index, exactly like the reference") {
  // Small integers in 3 dims give few distinct scores, so most of the top-k are ties.
  for (const std::size_t n : sizes()) {
    for (const std::size_t k : {std::size_t{1}, std::size_t{10}, n, n + 5}) {
      CAPTURE(n);
      CAPTURE(k);
      Items items(n, 3, 3, 1, Values::small_integers, 30);
      Buffer query(3, 0, Values::small_integers, 31);
      check_top_k(query.cspan(), items.view, k, mr::NoExclusion{}, true);
      check_top_k(query.cspan(), items.view, k, [](std::size_t i) { return i % 2 == 0; }, true);
    }
  }
  // All scores equal: the first k indices, in order.
  std::vector<float> zeros(40 * 8, 0.0f);
  std::vector<float> query(8, 1.0f);
  std::vector<mr::ScoredItem> out(5);
  REQUIRE(simd::score_top_k(query, mr::MatrixView(zeros, 40, 8), 5, out) == 5);
  for (std::size_t j = 0; j < 5; ++j) CHECK(out[j] == mr::ScoredItem{j, 0.0f});
}

TEST_CASE("score_top_k: NaN scores never enter, and exactly min(k, eligible) items come back") {
  for (const std::size_t n : sizes()) {
    for (const std::size_t d : {std::size_t{3}, std::size_t{64}}) {
      Items items(n, d, d, 0, Values::small_integers, 40);
      // Every fourth row gets a NaN (its score is NaN); one row gets +Inf and one -Inf values.
      for (std::size_t r = 0; r < n; r += 4) items.view.row(r)[d - 1] = kNaN;
      if (n > 1) items.view.row(1)[0] = std::numeric_limits<float>::infinity();
      if (n > 2) items.view.row(2)[0] = -std::numeric_limits<float>::infinity();
      std::vector<float> query(d, 1.0f);
      std::size_t nan_rows = 0;
      for (std::size_t r = 0; r < n; r += 4) ++nan_rows;
      for (const std::size_t k : {std::size_t{1}, std::size_t{10}, n, n + 5}) {
        CAPTURE(n);
        CAPTURE(d);
        CAPTURE(k);
        const auto got = run_top_k(query, items.view, k, mr::NoExclusion{}, false);
        CHECK(got.size() == std::min(k, n - nan_rows));
        for (const auto& item : got) CHECK_FALSE(std::isnan(item.score));
        check_top_k(query, items.view, k, mr::NoExclusion{}, true);
      }
    }
  }
  // A NaN query makes every score NaN: nothing is eligible.
  std::vector<float> items(10 * 4, 1.0f);
  std::vector<float> nan_query(4, kNaN);
  std::vector<mr::ScoredItem> out(3);
  CHECK(simd::score_top_k(nan_query, mr::MatrixView(items, 10, 4), 3, out) == 0);
  CHECK(ref::score_top_k(nan_query, mr::MatrixView(items, 10, 4), 3, out) == 0);
}

TEST_CASE("score_top_k: excluded items never come back, even when they score best") {
  std::vector<float> items = {5, 4, 3, 2, 1, 0};  // 6 items, d = 1
  std::vector<float> query = {1.0f};
  std::vector<mr::ScoredItem> out(3);
  mr::ItemBitset excluded;
  excluded.insert(0);
  excluded.insert(2);
  const std::size_t n = simd::score_top_k(query, mr::MatrixView(items, 6, 1), 3, out, excluded.view());
  REQUIRE(n == 3);
  CHECK(out[0] == mr::ScoredItem{1, 4.0f});
  CHECK(out[1] == mr::ScoredItem{3, 2.0f});
  CHECK(out[2] == mr::ScoredItem{4, 1.0f});
  // Everything excluded: nothing comes back.
  CHECK(simd::score_top_k(query, mr::MatrixView(items, 6, 1), 3, out,
                          [](std::size_t) { return true; }) == 0);
}

TEST_CASE("top_k over a score array equals the reference exactly: sizes, ties, NaN, exclusions") {
  for (const std::size_t n : sizes()) {
    for (const std::size_t offset : kOffsets) {
      for (const std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{10}, n, n + 5}) {
        CAPTURE(n);
        CAPTURE(offset);
        CAPTURE(k);
        // Small integers: many ties. Every 7th score NaN, one +Inf and one -Inf.
        Buffer scores(n, offset, Values::small_integers, 35);
        for (std::size_t i = 3; i < n; i += 7) scores.span()[i] = kNaN;
        if (n > 1) scores.span()[1] = std::numeric_limits<float>::infinity();
        if (n > 2) scores.span()[n - 1] = -std::numeric_limits<float>::infinity();
        const auto exclude = [](std::size_t i) { return i % 4 == 1; };
        for (const bool with_exclusion : {false, true}) {
          std::vector<mr::ScoredItem> got(std::min(k, n)), want(std::min(k, n));
          std::size_t got_n, want_n;
          if (with_exclusion) {
            got_n = simd::top_k(scores.cspan(), k, got, exclude);
            want_n = ref::top_k(scores.cspan(), k, want, exclude);
          } else {
            got_n = simd::top_k(scores.cspan(), k, got);
            want_n = ref::top_k(scores.cspan(), k, want);
          }
          REQUIRE(got_n == want_n);
          for (std::size_t j = 0; j < got_n; ++j) CHECK(got[j] == want[j]);
        }
      }
    }
  }
  std::vector<mr::ScoredItem> small(1);
  const std::vector<float> three = {1, 2, 3};
  CHECK_THROWS_WITH_AS(simd::top_k(three, 2, small),
                       "simd::top_k: out has room for 1 elements, 2 are needed", mr::Error);
}

TEST_CASE("td_update, axpy match the reference on every size and alignment") {
  for (const std::size_t n : sizes()) {
    for (const std::size_t offset : kOffsets) {
      CAPTURE(n);
      CAPTURE(offset);
      Buffer q(n, offset, Values::gaussian, 70);
      Buffer q_ref(n, offset, Values::gaussian, 70);
      Buffer reward(n, 1 - offset, Values::gaussian, 71);
      Buffer next_max(n, offset, Values::gaussian, 72);
      const float alpha = 0.1f;
      const float gamma = 0.9f;
      simd::td_update(q.span(), reward.cspan(), next_max.cspan(), alpha, gamma);
      ref::td_update(q_ref.span(), reward.cspan(), next_max.cspan(), alpha, gamma);
      Buffer q0(n, offset, Values::gaussian, 70);
      for (std::size_t i = 0; i < n; ++i) {
        // A few roundings of terms no larger than these.
        const double scale = std::fabs(q0.cspan()[i]) +
                             alpha * (std::fabs(reward.cspan()[i]) +
                                      gamma * std::fabs(next_max.cspan()[i]) + std::fabs(q0.cspan()[i]));
        CHECK(std::fabs(double(q.cspan()[i]) - double(q_ref.cspan()[i])) <= 4 * FLT_EPSILON * scale);
      }

      Buffer y(n, offset, Values::gaussian, 73);
      Buffer y_ref(n, offset, Values::gaussian, 73);
      Buffer y0(n, offset, Values::gaussian, 73);
      simd::axpy(-0.75f, reward.cspan(), y.span());
      ref::axpy(-0.75f, reward.cspan(), y_ref.span());
      for (std::size_t i = 0; i < n; ++i) {
        const double scale = std::fabs(y0.cspan()[i]) + 0.75 * std::fabs(reward.cspan()[i]);
        CHECK(std::fabs(double(y.cspan()[i]) - double(y_ref.cspan()[i])) <= 2 * FLT_EPSILON * scale);
      }
    }
  }
}

TEST_CASE("td_update with alpha = 1 and gamma = 0 sets q to the reward exactly") {
  std::vector<float> q(37, 5.0f);
  std::vector<float> reward(37);
  for (std::size_t i = 0; i < reward.size(); ++i) reward[i] = float(i);
  std::vector<float> next_max(37, 100.0f);
  simd::td_update(q, reward, next_max, 1.0f, 0.0f);
  CHECK(q == reward);
}

TEST_CASE("rank1_sub matches the reference on any shape, stride and alignment") {
  for (const std::size_t rows : {std::size_t{0}, std::size_t{1}, std::size_t{5}, kWidth + 1}) {
    for (const std::size_t cols : sizes()) {
      if (cols > 100) continue;
      for (const std::size_t offset : kOffsets) {
        CAPTURE(rows);
        CAPTURE(cols);
        CAPTURE(offset);
        Items a(rows, cols, cols + offset, offset, Values::gaussian, 83);
        Items a_ref(rows, cols, cols + offset, offset, Values::gaussian, 83);
        Items a0(rows, cols, cols + offset, offset, Values::gaussian, 83);
        Buffer u(rows, offset, Values::gaussian, 84);
        Buffer v(cols, 1 - offset, Values::gaussian, 85);
        simd::rank1_sub(a.view, u.cspan(), v.cspan(), -0.7f);
        ref::rank1_sub(a_ref.view, u.cspan(), v.cspan(), -0.7f);
        for (std::size_t i = 0; i < rows; ++i) {
          for (std::size_t j = 0; j < cols; ++j) {
            const double scale = std::fabs(a0.view.row(i)[j]) +
                                 std::fabs(double(u.cspan()[i]) * v.cspan()[j] / 0.7);
            CHECK(std::fabs(double(a.view.row(i)[j]) - double(a_ref.view.row(i)[j])) <=
                  4 * FLT_EPSILON * scale + FLT_MIN);
          }
        }
      }
    }
  }
  // The same vector as u and v on a square, non-symmetric A is still the general update.
  std::vector<float> m = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> x = {1, 1, 1};
  simd::rank1_sub(mr::MutableMatrixView(m, 3, 3), x, x, 1.0f);
  CHECK(m == std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("symmetric_rank1_sub matches the reference and keeps A exactly symmetric") {
  std::vector<std::size_t> orders;
  for (const std::size_t n : sizes()) if (n <= 100) orders.push_back(n);
  orders.push_back(63);
  orders.push_back(100);
  for (const std::size_t n : orders) {
    for (const std::size_t offset : kOffsets) {
      CAPTURE(n);
      CAPTURE(offset);
      // A symmetric A = M Mᵀ / n + I, rows padded by `offset`.
      Items m(n, n, n, 0, Values::gaussian, 80);
      Items a(n, n, n + offset, offset, Values::gaussian, 81);
      Items a_ref(n, n, n + offset, offset, Values::gaussian, 81);
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          double s = i == j ? 1.0 : 0.0;
          for (std::size_t t = 0; t < n; ++t) s += double(m.view.row(i)[t]) * m.view.row(j)[t] / double(n);
          a.view.row(i)[j] = a_ref.view.row(i)[j] = float(s);
        }
      }
      Buffer u(n, offset, Values::gaussian, 82);
      const float c = 1.7f;
      simd::symmetric_rank1_sub(a.view, u.cspan(), c);
      ref::symmetric_rank1_sub(a_ref.view, u.cspan(), c);
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          CHECK(a.view.row(i)[j] == a.view.row(j)[i]);
          const double scale = std::fabs(a_ref.view.row(i)[j]) +
                               std::fabs(double(u.cspan()[i]) * u.cspan()[j] / c);
          CHECK(std::fabs(double(a.view.row(i)[j]) - double(a_ref.view.row(i)[j])) <=
                4 * FLT_EPSILON * scale + FLT_MIN);
        }
      }
    }
  }
  std::vector<float> rect(6);
  const std::vector<float> u2 = {1, 1};
  CHECK_THROWS_WITH_AS(simd::symmetric_rank1_sub(mr::MutableMatrixView(rect, 2, 3), u2, 1.0f),
                       "simd::symmetric_rank1_sub: A rows has 2 elements but A cols has 3", mr::Error);
}

TEST_CASE("td_update, axpy and rank1_sub propagate NaN as IEEE arithmetic does") {
  std::vector<float> q(2 * kWidth + 3, 1.0f);
  std::vector<float> reward(q.size(), 0.5f);
  std::vector<float> next_max(q.size(), 0.25f);
  reward[1] = kNaN;
  next_max[q.size() - 1] = kNaN;
  simd::td_update(q, reward, next_max, 0.5f, 0.9f);
  for (std::size_t i = 0; i < q.size(); ++i) {
    CHECK(std::isnan(q[i]) == (i == 1 || i == q.size() - 1));
  }
  std::vector<float> y(q.size(), 1.0f);
  simd::axpy(2.0f, reward, y);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(std::isnan(y[i]) == (i == 1));
  std::vector<float> a(3 * q.size(), 1.0f);
  const std::vector<float> u = {1.0f, kNaN, 1.0f};
  simd::rank1_sub(mr::MutableMatrixView(a, 3, q.size()), u, y, 2.0f);
  for (std::size_t r = 0; r < 3; ++r) {
    for (std::size_t j = 0; j < q.size(); ++j) {
      CHECK(std::isnan(a[r * q.size() + j]) == (r == 1 || j == 1));
    }
  }
}

TEST_CASE("normalize_rows matches the reference, and zero or non-finite rows are left and counted") {
  for (const std::size_t n : sizes()) {
    for (const std::size_t d : kDims) {
      CAPTURE(n);
      CAPTURE(d);
      Items a(n, d, d + 1, 1, Values::gaussian, 90);
      Items b(n, d, d + 1, 1, Values::gaussian, 90);
      std::size_t bad = 0;
      for (std::size_t r = 0; r < n; r += 5) {
        std::fill(a.view.row(r).begin(), a.view.row(r).end(), 0.0f);
        std::fill(b.view.row(r).begin(), b.view.row(r).end(), 0.0f);
        ++bad;
      }
      for (std::size_t r = 1; r < n; r += 5) {
        a.view.row(r)[0] = b.view.row(r)[0] = kNaN;
        ++bad;
      }
      CHECK(simd::normalize_rows(a.view) == bad);
      CHECK(ref::normalize_rows(b.view) == bad);
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t j = 0; j < d; ++j) {
          const float x = a.view.row(r)[j];
          const float y = b.view.row(r)[j];
          if (std::isnan(y)) {
            CHECK(std::isnan(x));
          } else {
            CHECK(std::fabs(double(x) - double(y)) <= 4 * FLT_EPSILON * (std::fabs(y) + 1e-30));
          }
        }
        if (r % 5 > 1) CHECK(std::fabs(simd::dot(a.view.row(r), a.view.row(r)) - 1.0f) <= 1e-5f);
      }
    }
  }
  // The squared norm is accumulated in double: huge, tiny and subnormal rows normalise.
  for (const float scale : {3e30f, 1e-23f, 1e-42f}) {
    std::vector<float> x = {3 * scale, 4 * scale};
    std::vector<float> y = x;
    CHECK(simd::l2_normalize(x));
    CHECK(ref::l2_normalize(y));
    CAPTURE(scale);
    CHECK(std::fabs(x[0] - 0.6f) <= 1e-6f);
    CHECK(std::fabs(x[1] - 0.8f) <= 1e-6f);
    CHECK(std::fabs(x[0] - y[0]) <= 2 * FLT_EPSILON);
    CHECK(std::fabs(x[1] - y[1]) <= 2 * FLT_EPSILON);
  }
  // An Inf entry: the norm is not finite, the row is left as it is.
  std::vector<float> inf = {1.0f, std::numeric_limits<float>::infinity()};
  CHECK_FALSE(simd::l2_normalize(inf));
  CHECK_FALSE(ref::l2_normalize(inf));
  CHECK(inf[0] == 1.0f);
  std::vector<float> empty;
  CHECK_FALSE(simd::l2_normalize(empty));
}

TEST_CASE("exclusions are asked only about candidates, in increasing index order") {
  // Scores rise with the index, so after the first k every row is a candidate; with falling
  // scores, only the first k are.
  const std::size_t n = 3 * kWidth + 2;
  std::vector<float> rising(n), falling(n);
  for (std::size_t i = 0; i < n; ++i) {
    rising[i] = float(i);
    falling[i] = float(n - i);
  }
  const std::vector<float> one = {1.0f};
  std::vector<mr::ScoredItem> out(3);
  std::vector<std::size_t> asked;
  const auto record = [&](std::size_t i) {
    asked.push_back(i);
    return false;
  };
  simd::score_top_k(one, mr::MatrixView(rising, n, 1), 3, out, record);
  CHECK(asked.size() == n);
  CHECK(std::is_sorted(asked.begin(), asked.end()));
  asked.clear();
  simd::score_top_k(one, mr::MatrixView(falling, n, 1), 3, out, record);
  CHECK(asked == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("an exclusion that throws makes the kernel throw, and nothing else breaks") {
  std::vector<float> items(20, 1.0f);
  const std::vector<float> one = {1.0f};
  std::vector<mr::ScoredItem> out(3);
  const auto throwing = [](std::size_t i) -> bool {
    if (i == 5) throw std::runtime_error("rule engine down");
    return false;
  };
  static_assert(!noexcept(simd::kernels::ScoreTopK{}(xsimd::default_arch{}, one.data(),
                                                     mr::MatrixView(items, 20, 1), 3, throwing,
                                                     out.data())));
  // Scores all equal: items 0..2 fill the heap, later ties are still candidates (>= threshold).
  CHECK_THROWS_WITH_AS(simd::score_top_k(one, mr::MatrixView(items, 20, 1), 3, out, throwing),
                       "rule engine down", std::runtime_error);
  CHECK(simd::score_top_k(one, mr::MatrixView(items, 20, 1), 3, out) == 3);
}

TEST_CASE("d = 0: every score is 0, and the top-k is the first k items") {
  std::vector<float> none;
  const mr::MatrixView items(none, 10, 0);
  std::vector<float> scores(10, -1.0f);
  simd::score(none, items, scores);
  CHECK(scores == std::vector<float>(10, 0.0f));
  std::vector<mr::ScoredItem> out(4);
  REQUIRE(simd::score_top_k(none, items, 4, out) == 4);
  for (std::size_t j = 0; j < 4; ++j) CHECK(out[j] == mr::ScoredItem{j, 0.0f});
  CHECK(simd::dot(none, none) == 0.0f);
}

TEST_CASE("kernels reject wrong dimensions with an Error that names the call and the argument") {
  std::vector<float> items(12, 1.0f);
  const mr::MatrixView view(items, 3, 4);
  std::vector<float> q3(3, 1.0f);
  std::vector<float> out(3);
  std::vector<mr::ScoredItem> top(3);
  CHECK_THROWS_WITH_AS(simd::dot(q3, std::vector<float>(4)),
                       "simd::dot: a has 3 elements but b has 4", mr::Error);
  CHECK_THROWS_WITH_AS(simd::score(q3, view, out),
                       "simd::score: query has 3 elements but item rows has 4", mr::Error);
  CHECK_THROWS_WITH_AS(ref::score(q3, view, out),
                       "simd::score: query has 3 elements but item rows has 4", mr::Error);
  std::vector<float> q4(4, 1.0f);
  std::vector<float> short_out(2);
  CHECK_THROWS_AS(simd::score(q4, view, short_out), mr::Error);
  CHECK_THROWS_WITH_AS(simd::score_top_k(q4, view, 3, std::span<mr::ScoredItem>(top).first(2)),
                       "simd::score_top_k: out has room for 2 elements, 3 are needed", mr::Error);
  CHECK_THROWS_AS(simd::score_top_k(q3, view, 3, top), mr::Error);
  std::vector<float> q(3);
  CHECK_THROWS_AS(simd::td_update(q, std::vector<float>(2), std::vector<float>(3), 0.1f, 0.9f), mr::Error);
  CHECK_THROWS_WITH_AS(simd::td_update(q, q3, q3, kNaN, 0.9f),
                       doctest::Contains("simd::td_update: alpha must be finite"), mr::Error);
  std::vector<float> y2(2);
  CHECK_THROWS_AS(simd::axpy(1.0f, q3, y2), mr::Error);
  std::vector<float> a(16);
  CHECK_THROWS_WITH_AS(simd::rank1_sub(mr::MutableMatrixView(a, 4, 4), q4, q4, 0.0f),
                       doctest::Contains("simd::rank1_sub: c must be finite, non-zero"), mr::Error);
  // A subnormal c has no finite inverse: refused rather than turned into Inf / NaN.
  CHECK_THROWS_AS(simd::rank1_sub(mr::MutableMatrixView(a, 4, 4), q4, q4, 1e-39f), mr::Error);
  CHECK_THROWS_AS(simd::rank1_sub(mr::MutableMatrixView(a, 4, 4), q3, q4, 1.0f), mr::Error);
}
