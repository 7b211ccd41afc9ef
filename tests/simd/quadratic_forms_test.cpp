// simd::quadratic_forms against its scalar twin (and the twin against aᵀMa + 2c·a straight from
// M), on the dims and row counts where a blocked kernel goes wrong: 0, 1, a batch and its
// neighbours, a tile and a block of rows and their neighbours, tails, unaligned and padded rows.
// Like kernels_test.cpp, meant to be compiled once per ISA flavour (sse2, fma3<avx2>, native).
//
// Tolerance: the kernel sums in float what the twin sums in double; both evaluate
// Σ_j a_j (2c_j + Σ_{l ≤ j} N_lj a_l), so the difference is at most
// (2d + 4) · FLT_EPSILON · Σ_j |a_j| (|2c_j| + Σ_{l ≤ j} |N_lj a_l|). With small-integer data every
// partial sum is exact in float, and kernel and twin must agree exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <set>
#include <span>
#include <vector>

#include "marl_rec/simd/quadratic_forms.hpp"
#include "support/test_data.hpp"

namespace {

namespace mr = marl_rec;
namespace simd = marl_rec::simd;
namespace ref = marl_rec::simd::reference;
using mr::test::Buffer;
using mr::test::Values;

constexpr std::size_t kWidth = xsimd::batch<float, xsimd::default_arch>::size;
constexpr std::size_t kTile = simd::kernels::QuadraticFormTile<xsimd::default_arch>::rows_per_tile;
constexpr std::size_t kBlock = std::max(kWidth, kTile);

std::vector<std::size_t> dims() {
  std::set<std::size_t> d = {0, 1, 2, 3, 15, 16, 17, 63, 64, 65, 100, 128};
  for (const std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
    d.insert(k * kWidth - 1);
    d.insert(k * kWidth);
    d.insert(k * kWidth + 1);
  }
  return {d.begin(), d.end()};
}

std::vector<std::size_t> row_counts() {
  std::set<std::size_t> n = {0, 1, 2, kTile - 1, kTile, kTile + 1, kBlock - 1, kBlock, kBlock + 1,
                             3 * kBlock + 5};
  return {n.begin(), n.end()};
}

// A symmetric d × d matrix in a buffer `offset` floats off alignment, rows `stride` apart.
struct Symmetric {
  Symmetric(std::size_t d, std::size_t stride, std::size_t offset, Values values, std::uint32_t seed)
      : buffer(d == 0 ? 0 : (d - 1) * stride + d, offset, values, seed), view(buffer.span(), d, d, stride) {
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j < i; ++j) view.row(i)[j] = view.row(j)[i];
    }
  }
  Buffer buffer;
  mr::MutableMatrixView view;
};

// n rows of d values, `stride` apart, `offset` floats off alignment.
struct Rows {
  Rows(std::size_t n, std::size_t d, std::size_t stride, std::size_t offset, Values values, std::uint32_t seed)
      : buffer(n == 0 ? 0 : (n - 1) * stride + d, offset, values, seed), view(buffer.span(), n, d, stride) {}
  Buffer buffer;
  mr::MutableMatrixView view;
};

// aᵀMa + 2c·a in double from the full M (not the prepared form).
double direct(mr::MatrixView m, std::span<const float> c, std::span<const float> a) {
  double q = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t j = 0; j < a.size(); ++j) q += double(a[i]) * double(m.row(i)[j]) * double(a[j]);
    if (!c.empty()) q += 2.0 * double(c[i]) * double(a[i]);
  }
  return q;
}

// The tolerance of the file comment for row a.
double tolerance(const simd::QuadraticForm& form, std::span<const float> a) {
  double bound = 0.0;
  for (std::size_t j = 0; j < form.dim(); ++j) {
    double z = std::fabs(double(form.doubled_linear()[j]));
    for (std::size_t l = 0; l <= j; ++l) z += std::fabs(double(form.doubled_upper_row(l)[j]) * double(a[l]));
    bound += std::fabs(double(a[j])) * z;
  }
  return double(2 * form.dim() + 4) * FLT_EPSILON * bound;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

}  // namespace

TEST_CASE("quadratic_forms matches the reference on every dim, row count, alignment and padding") {
  for (const std::size_t d : dims()) {
    for (const std::size_t n : row_counts()) {
      for (const std::size_t offset : {std::size_t{0}, std::size_t{1}}) {
        for (const std::size_t pad : {std::size_t{0}, std::size_t{3}}) {
          for (const Values values : {Values::gaussian, Values::small_integers}) {
            for (const bool linear : {false, true}) {
              CAPTURE(d);
              CAPTURE(n);
              CAPTURE(offset);
              CAPTURE(pad);
              CAPTURE(linear);
              CAPTURE(values == Values::gaussian);
              const Symmetric m(d, d + pad, offset, values, 1);
              const Buffer c(linear ? d : 0, 1 - offset, values, 2);
              const Rows rows(n, d, d + pad, 1 - offset, values, 3);
              simd::QuadraticForm form;
              form.assign(m.view, c.cspan());
              REQUIRE(form.dim() == d);
              std::vector<float> got(n + 1, -7.0f);
              std::vector<float> want(n + 1, -7.0f);
              simd::quadratic_forms(form, rows.view, got);
              ref::quadratic_forms(form, rows.view, want);
              CHECK(got[n] == -7.0f);  // nothing written past the rows
              for (std::size_t r = 0; r < n; ++r) {
                if (values == Values::small_integers) {
                  CHECK(got[r] == want[r]);
                } else {
                  CHECK(std::fabs(double(got[r]) - double(want[r])) <= tolerance(form, rows.view.row(r)));
                }
                // The twin is aᵀMa + 2c·a: only float rounding of its double sum separates them.
                const double exact = direct(m.view, c.cspan(), rows.view.row(r));
                CHECK(std::fabs(double(want[r]) - exact) <= 1e-6 * std::max(1.0, std::fabs(exact)));
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("quadratic_forms over a list gives each row the bits it gets in the whole matrix") {
  for (const std::size_t d : {std::size_t{1}, kWidth + 1, std::size_t{64}, std::size_t{65}}) {
    CAPTURE(d);
    const std::size_t n = 3 * kBlock + 5;
    const Symmetric m(d, d, 0, Values::gaussian, 4);
    const Buffer c(d, 0, Values::gaussian, 5);
    const Rows rows(n, d, d, 1, Values::gaussian, 6);
    simd::QuadraticForm form;
    form.assign(m.view, c.cspan());
    std::vector<float> all(n);
    simd::quadratic_forms(form, rows.view, all);
    // Repeats, any order, every position of a block and of a tile, and a list of one.
    std::vector<std::size_t> list;
    for (std::size_t i = n; i-- > 0;) list.push_back((i * 7) % n);
    list.push_back(0);
    list.push_back(n - 1);
    list.push_back(0);
    for (const std::size_t size : {std::size_t{1}, kTile + 1, list.size()}) {
      CAPTURE(size);
      const std::span<const std::size_t> part(list.data(), size);
      std::vector<float> got(size);
      simd::quadratic_forms(form, rows.view, part, got);
      for (std::size_t i = 0; i < size; ++i) CHECK(same_bits(got[i], all[part[i]]));
      std::vector<float> want(size);
      ref::quadratic_forms(form, rows.view, part, want);
      for (std::size_t i = 0; i < size; ++i) {
        std::vector<float> alone(1);
        ref::quadratic_forms(form, mr::MatrixView(rows.view.row(part[i]), 1, d), alone);
        CHECK(same_bits(want[i], alone[0]));
      }
    }
  }
}

TEST_CASE("QuadraticForm reads only M's upper triangle, and reuses its storage") {
  const std::size_t d = 2 * kWidth + 3;
  Symmetric m(d, d, 0, Values::gaussian, 7);
  const Rows rows(kBlock + 3, d, d, 0, Values::gaussian, 8);
  simd::QuadraticForm clean;
  clean.assign(m.view);
  std::vector<float> want(rows.view.rows());
  simd::quadratic_forms(clean, rows.view, want);
  for (std::size_t i = 0; i < d; ++i) {
    for (std::size_t j = 0; j < i; ++j) m.view.row(i)[j] = std::numeric_limits<float>::quiet_NaN();
  }
  simd::QuadraticForm form;
  form.assign(m.view);
  std::vector<float> got(rows.view.rows());
  simd::quadratic_forms(form, rows.view, got);
  for (std::size_t r = 0; r < got.size(); ++r) CHECK(same_bits(got[r], want[r]));
  // A form of the same or a smaller size keeps the storage (no allocation after the first).
  const float* before = form.doubled_upper_row(0).data();
  form.assign(mr::MatrixView(std::span<const float>(m.view.data(), (d - 2) * d + d - 1), d - 1, d - 1, d));
  CHECK(form.doubled_upper_row(0).data() == before);
  CHECK(form.dim() == d - 1);
  CHECK(form.padded() % simd::QuadraticForm::padding == 0);
}

TEST_CASE("quadratic_forms: d = 0 gives 0, a NaN in a row spoils that row only") {
  simd::QuadraticForm empty;
  std::vector<float> none;
  std::vector<float> out(5, -1.0f);
  simd::quadratic_forms(empty, mr::MatrixView(none, 5, 0), out);
  CHECK(out == std::vector<float>(5, 0.0f));
  empty.assign(mr::MatrixView{});
  simd::quadratic_forms(empty, mr::MatrixView(none, 5, 0), out);
  CHECK(out == std::vector<float>(5, 0.0f));

  const std::size_t d = kWidth + 1, n = kBlock + 1;
  const Symmetric m(d, d, 0, Values::small_integers, 9);
  Rows rows(n, d, d, 0, Values::small_integers, 10);
  rows.view.row(1)[d - 1] = std::numeric_limits<float>::quiet_NaN();
  simd::QuadraticForm form;
  form.assign(m.view);
  std::vector<float> got(n), want(n);
  simd::quadratic_forms(form, rows.view, got);
  ref::quadratic_forms(form, rows.view, want);
  for (std::size_t r = 0; r < n; ++r) {
    CAPTURE(r);
    CHECK(std::isnan(got[r]) == (r == 1));
    if (r != 1) CHECK(got[r] == want[r]);
  }
}

TEST_CASE("quadratic_forms and QuadraticForm reject wrong shapes with an Error naming the call") {
  std::vector<float> values(12, 1.0f);
  simd::QuadraticForm form;
  CHECK_THROWS_WITH_AS(form.assign(mr::MatrixView(values, 3, 4)),
                       "QuadraticForm::assign: M rows has 3 elements but M cols has 4", mr::Error);
  CHECK_THROWS_WITH_AS(form.assign(mr::MatrixView(values, 3, 3), std::vector<float>(2)),
                       "QuadraticForm::assign: c has 2 elements but M rows has 3", mr::Error);
  CHECK(form.dim() == 0);  // a refused assign changes nothing
  form.assign(mr::MatrixView(values, 3, 3));
  const mr::MatrixView rows4(values, 3, 4);
  const mr::MatrixView rows3(values, 4, 3);
  std::vector<float> out(4);
  CHECK_THROWS_WITH_AS(simd::quadratic_forms(form, rows4, out),
                       "simd::quadratic_forms: form has 3 elements but item rows has 4", mr::Error);
  CHECK_THROWS_WITH_AS(ref::quadratic_forms(form, rows4, out),
                       "simd::quadratic_forms: form has 3 elements but item rows has 4", mr::Error);
  CHECK_THROWS_WITH_AS(simd::quadratic_forms(form, rows3, std::span<float>(out).first(3)),
                       "simd::quadratic_forms: out has room for 3 elements, 4 are needed", mr::Error);
  const std::vector<std::size_t> bad = {0, 4};
  CHECK_THROWS_WITH_AS(simd::quadratic_forms(form, rows3, bad, out),
                       "simd::quadratic_forms: index 4 (at 1) is not a row of the 4-row matrix", mr::Error);
  CHECK_THROWS_WITH_AS(ref::quadratic_forms(form, rows3, bad, out),
                       "simd::quadratic_forms: index 4 (at 1) is not a row of the 4-row matrix", mr::Error);
}
