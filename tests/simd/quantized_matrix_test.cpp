// Bf16Matrix / Int8Matrix and their kernels: quantisation round trip and its error bound; the
// approximate top-k kernel against its scalar twin (rows 0, 1, 15, 16, 17, 1000+; dims 1..70 and
// 128; exclusions; NaN query) on every architecture this unit can run (sse2 = the portable path,
// fma3<avx2> and avx512bw = the intrinsics paths); the error bound of the exact search against the
// float32 kernel's scores; the exact search against score_top_k on the float32 matrix, bit for
// bit, including near ties that must fall back; bad input.
//
// Tolerance of kernel vs twin (both score the stored values): a float sum of d products may differ
// from the double one by (d + 1) · FLT_EPSILON · Σ|q_j x̃_j| (docs/simd.md), int8 adds one rounding
// for its scale; (d + 8) is used. With small-integer data every sum is exact and the two agree
// exactly, ties and all.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/quantized_matrix.hpp"
#include "marl_rec/simd/reference.hpp"
#include "support/simd_archs.hpp"
#include "support/test_data.hpp"

namespace {

namespace mr = marl_rec;
namespace simd = marl_rec::simd;
namespace ref = marl_rec::simd::reference;
using mr::Bf16Matrix;
using mr::Int8Matrix;
using mr::ScoredItem;
using mr::test::Buffer;
using mr::test::Values;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::uint32_t bits(float x) { return std::bit_cast<std::uint32_t>(x); }

using mr::test::Items;

// A matrix from explicit values (rows of equal length).
struct Explicit {
  explicit Explicit(const std::vector<std::vector<float>>& rows)
      : cols(rows.empty() ? 0 : rows[0].size()) {
    for (const auto& r : rows) values.insert(values.end(), r.begin(), r.end());
  }
  mr::MatrixView view() const { return mr::MatrixView(values, values.size() / std::max<std::size_t>(cols, 1), cols); }
  std::size_t cols;
  std::vector<float> values;
};

template <class Matrix>
double abs_dot_stored(std::span<const float> q, const Matrix& m, std::size_t r) {
  double s = 0.0;
  for (std::size_t j = 0; j < q.size(); ++j) s += std::fabs(double(q[j]) * double(m.value(r, j)));
  return s;
}

template <class Matrix>
double max_twin_tolerance(std::span<const float> q, const Matrix& m) {
  double tol = 0.0;
  for (std::size_t r = 0; r < m.rows(); ++r) {
    tol = std::max(tol, double(q.size() + 8) * FLT_EPSILON * abs_dot_stored(q, m, r));
  }
  return tol;
}

template <class Arch, class Matrix, class Exclude = mr::NoExclusion>
std::vector<ScoredItem> approx_top_k(std::span<const float> q, const Matrix& m, std::size_t k,
                                     const Exclude& exclude = {}) {
  std::vector<ScoredItem> out(std::min(k, m.rows()));
  out.resize(simd::score_top_k<Exclude, Arch>(q, m, k, out, exclude));
  return out;
}

template <class Matrix, class Exclude = mr::NoExclusion>
std::vector<ScoredItem> twin_top_k(std::span<const float> q, const Matrix& m, std::size_t k,
                                   const Exclude& exclude = {}) {
  std::vector<ScoredItem> out(std::min(k, m.rows()));
  out.resize(ref::score_top_k(q, m, k, out, exclude));
  return out;
}

template <class Arch, class Exclude = mr::NoExclusion>
std::vector<ScoredItem> float_top_k(std::span<const float> q, mr::MatrixView m, std::size_t k,
                                    const Exclude& exclude = {}) {
  std::vector<ScoredItem> out(std::min(k, m.rows()));
  out.resize(simd::score_top_k<Exclude, Arch>(q, m, k, out, exclude));
  return out;
}

template <class Arch, class Matrix, class Exclude = mr::NoExclusion>
std::vector<ScoredItem> exact_top_k(std::span<const float> q, const Matrix& m, mr::MatrixView exact,
                                    std::size_t k, const Exclude& exclude = {},
                                    simd::detail::QuantizedSearchReport* report = nullptr) {
  std::vector<ScoredItem> out(std::min(k, m.rows()));
  const auto r = simd::detail::exact_top_k_via_quantized<Arch>(q, m, exact, k, out, exclude);
  // The public entry point gives the same answer.
  std::vector<ScoredItem> out2(std::min(k, m.rows()));
  out2.resize(simd::score_top_k<Exclude, Arch>(q, m, exact, k, out2, exclude));
  out.resize(r.count);
  REQUIRE(out2.size() == out.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    CHECK(out2[i].index == out[i].index);
    CHECK(bits(out2[i].score) == bits(out[i].score));
  }
  if (report != nullptr) *report = r;
  return out;
}

void check_bitwise_equal(const std::vector<ScoredItem>& got, const std::vector<ScoredItem>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].index == want[i].index);
    CHECK(bits(got[i].score) == bits(want[i].score));
  }
}

// The exact top-k of a score array (NaN and excluded entries ineligible).
template <class Exclude>
std::vector<ScoredItem> top_k_of(const std::vector<float>& scores, std::size_t k,
                                 const Exclude& exclude) {
  std::vector<ScoredItem> all;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!std::isnan(scores[i]) && !exclude(i)) all.push_back({i, scores[i]});
  }
  std::sort(all.begin(), all.end(), mr::ranks_before);
  all.resize(std::min(k, all.size()));
  return all;
}

// Every row's approximate score on Arch, read from a full ranking (no exclusion, finite data).
template <class Arch, class Matrix>
std::vector<float> approx_scores(std::span<const float> q, const Matrix& m) {
  std::vector<float> s(m.rows(), kNaN);
  for (const ScoredItem& item : approx_top_k<Arch>(q, m, m.rows())) s[item.index] = item.score;
  return s;
}

// Checks the kernel against its twin and against itself, for one matrix and query on Arch.
template <class Arch, class Matrix>
void check_kernel(std::span<const float> q, const Matrix& m, bool exact_data) {
  const std::size_t n = m.rows();
  const std::vector<float> scores = approx_scores<Arch>(q, m);
  mr::ItemBitset every_third;
  for (std::size_t i = 0; i < n; i += 3) every_third.insert(i);
  const auto predicate = [](std::size_t i) { return i % 5 == 2; };
  const double tol = exact_data ? 0.0 : max_twin_tolerance(q, m);
  for (const std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{10}, n, n + 5}) {
    CAPTURE(k);
    const auto check_one = [&](const auto& exclude) {
      // (1) exactly the top-k of the kernel's own scores: same bits, order, ties to lower index;
      const auto got = approx_top_k<Arch>(q, m, k, exclude);
      check_bitwise_equal(got, top_k_of(scores, k, exclude));
      // (2) position by position within tolerance of the twin's (equal for exact data).
      const auto want = twin_top_k(q, m, k, exclude);
      REQUIRE(got.size() == want.size());
      for (std::size_t j = 0; j < got.size(); ++j) {
        CHECK(std::fabs(double(got[j].score) - double(want[j].score)) <= tol);
        if (exact_data) CHECK(got[j].index == want[j].index);
      }
    };
    check_one(mr::NoExclusion{});
    check_one(every_third.view());
    check_one(predicate);
  }
}

double l1(std::span<const float> q) {
  double s = 0.0;
  for (const float v : q) s += std::fabs(double(v));
  return s;
}
double l2(std::span<const float> q) {
  double s = 0.0;
  for (const float v : q) s += double(v) * double(v);
  return std::sqrt(s);
}

template <class Matrix>
Matrix quantize(mr::MatrixView m) {
  return Matrix::quantize(m);
}

template <class F>
void for_each_format(F&& f) {
  f(static_cast<Bf16Matrix*>(nullptr), std::string("bf16"));
  f(static_cast<Int8Matrix*>(nullptr), std::string("int8"));
}

std::string error_of(auto&& call) {
  try {
    call();
  } catch (const mr::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("Bf16Matrix: round to nearest even, the 2^-8 bound, padding, norms, bytes") {
  for (const std::size_t d : {1, 15, 16, 17, 64, 70}) {
    for (const std::size_t offset : {0, 1}) {
      CAPTURE(d);
      CAPTURE(offset);
      Items items(37, d, d + offset, offset, Values::gaussian, static_cast<std::uint32_t>(d));
      // A spread of magnitudes down to subnormals in the first rows.
      for (std::size_t c = 0; c < d; ++c) {
        items.view.row(0)[c] = std::ldexp(items.view.row(0)[c], -130);
        items.view.row(1)[c] = std::ldexp(items.view.row(1)[c], 100);
        items.view.row(2)[c] = std::ldexp(items.view.row(2)[c], -60);
      }
      const Bf16Matrix m = Bf16Matrix::quantize(items.view);
      REQUIRE(m.rows() == 37);
      REQUIRE(m.cols() == d);
      CHECK(m.stride() % 16 == 0);
      CHECK(m.stride() >= d);
      CHECK(m.stride() < d + 16);
      CHECK(reinterpret_cast<std::uintptr_t>(m.data()) % 64 == 0);
      CHECK(m.bytes() == 37 * m.stride() * 2 + 37 * 4);
      double max_norm = 0.0;
      for (std::size_t r = 0; r < m.rows(); ++r) {
        double norm2 = 0.0;
        for (std::size_t c = 0; c < d; ++c) {
          const float x = items.view.row(r)[c];
          const float y = m.value(r, c);
          CHECK(std::fabs(double(x) - double(y)) <= std::ldexp(std::fabs(double(x)), -8) + 0x1p-134);
          CHECK((bits(y) & 0xFFFFu) == 0);  // a bf16 value
          CHECK(m.row(r)[c] == Bf16Matrix::encode(x));
          norm2 += double(x) * double(x);
        }
        for (std::size_t c = d; c < m.stride(); ++c) CHECK(m.data()[r * m.stride() + c] == 0);
        CHECK(double(m.norms()[r]) >= std::sqrt(norm2));
        CHECK(double(m.norms()[r]) <= std::sqrt(norm2) * (1 + 1e-6));
        max_norm = std::max(max_norm, std::sqrt(norm2));
      }
      CHECK(m.max_norm() == doctest::Approx(max_norm).epsilon(1e-12));
    }
  }
  // Ties go to the even code; bf16 values round-trip exactly; the sign is kept.
  CHECK(Bf16Matrix::decode(Bf16Matrix::encode(1.0f + 0x1p-8f)) == 1.0f);
  CHECK(Bf16Matrix::decode(Bf16Matrix::encode(1.0f + 3 * 0x1p-8f)) == 1.0f + 0x1p-6f);
  CHECK(Bf16Matrix::decode(Bf16Matrix::encode(1.0f + 0x1p-8f + 0x1p-20f)) == 1.0f + 0x1p-7f);
  CHECK(Bf16Matrix::decode(Bf16Matrix::encode(-1.5f)) == -1.5f);
  CHECK(Bf16Matrix::decode(Bf16Matrix::encode(0x1p-133f)) == 0x1p-133f);
  CHECK(Bf16Matrix::decode(Bf16Matrix::encode(-0.0f)) == 0.0f);
  CHECK(std::signbit(Bf16Matrix::decode(Bf16Matrix::encode(-0.0f))));
}

TEST_CASE("Bf16Matrix refuses non-finite values and values that overflow bf16, naming the entry") {
  const float big_ok = 3.38e38f;  // below the largest bf16 (3.3895e38) after rounding
  for (const float bad : {kNaN, kInf, -kInf, 3.4e38f, -3.4e38f, std::numeric_limits<float>::max()}) {
    CAPTURE(bad);
    Explicit e({{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, bad, 12}});
    const std::string message = error_of([&] { (void)Bf16Matrix::quantize(e.view()); });
    CHECK(message.find("Bf16Matrix::quantize") != std::string::npos);
    CHECK(message.find("row 2 column 2") != std::string::npos);
    if (std::isfinite(bad)) CHECK(message.find("overflows bf16") != std::string::npos);
    if (std::isnan(bad)) CHECK(message.find("row 2 column 2 is nan, not a finite value") != std::string::npos);
  }
  Explicit ok({{big_ok, -big_ok}});
  const Bf16Matrix m = Bf16Matrix::quantize(ok.view());
  CHECK(std::isfinite(m.value(0, 0)));
  CHECK(m.value(0, 1) == -m.value(0, 0));
}

TEST_CASE("Int8Matrix: codes in [-127, 127], |x - s*code| <= s/2, zero and subnormal rows") {
  for (const std::size_t d : {1, 15, 16, 17, 64, 70}) {
    for (const std::size_t offset : {0, 1}) {
      CAPTURE(d);
      CAPTURE(offset);
      Items items(41, d, d + 2 * offset, offset, Values::gaussian, static_cast<std::uint32_t>(d + 100));
      for (std::size_t c = 0; c < d; ++c) {
        items.view.row(0)[c] = 0.0f;                                         // scale 0
        items.view.row(1)[c] = std::ldexp(items.view.row(1)[c], -140);      // subnormal
        items.view.row(2)[c] = std::ldexp(items.view.row(2)[c], 120);       // huge
      }
      // max/127 falls between two subnormals: s must round up, or 190 would be clamped to 127.
      std::fill_n(items.view.row(3).data(), d, 0.0f);
      items.view.row(3)[0] = 190 * 0x1p-149f;
      const Int8Matrix m = Int8Matrix::quantize(items.view);
      REQUIRE(m.rows() == 41);
      CHECK(m.stride() % 16 == 0);
      CHECK(reinterpret_cast<std::uintptr_t>(m.data()) % 64 == 0);
      CHECK(reinterpret_cast<std::uintptr_t>(m.scales().data()) % 64 == 0);
      CHECK(m.bytes() == 41 * m.stride() + 48 * 4 + 41 * 4);
      CHECK(m.scales()[0] == 0.0f);
      double max_scale = 0.0;
      for (std::size_t r = 0; r < m.rows(); ++r) {
        const double s = m.scales()[r];
        max_scale = std::max(max_scale, s);
        int max_code = 0;
        float max_abs = 0.0f;
        for (std::size_t c = 0; c < d; ++c) {
          const float x = items.view.row(r)[c];
          const int code = m.row(r)[c];
          CHECK(code >= -127);
          CHECK(code <= 127);
          max_code = std::max(max_code, std::abs(code));
          max_abs = std::max(max_abs, std::fabs(x));
          CHECK(std::fabs(double(x) - s * code) <= s * (0.5 + 0x1p-40));
          CHECK(m.value(r, c) == static_cast<float>(s * code));
        }
        for (std::size_t c = d; c < m.stride(); ++c) CHECK(m.data()[r * m.stride() + c] == 0);
        if (max_abs > 0.0f) CHECK(s * 127 >= double(max_abs));  // rounded up: nothing clamped
        if (s >= FLT_MIN) CHECK(max_code >= 126);  // the scale is not coarser than it must be
      }
      CHECK(m.max_scale() == max_scale);
    }
  }
}

TEST_CASE("Int8Matrix refuses non-finite values, naming the entry") {
  for (const float bad : {kNaN, kInf, -kInf}) {
    Explicit e({{1, 2}, {bad, 4}});
    const std::string message = error_of([&] { (void)Int8Matrix::quantize(e.view()); });
    CHECK(message.find("Int8Matrix::quantize: row 1 column 0") != std::string::npos);
  }
  Explicit empty({});
  CHECK(Int8Matrix::quantize(empty.view()).rows() == 0);
  CHECK(Bf16Matrix::quantize(empty.view()).bytes() == 0);
}

TEST_CASE("quantised score_top_k matches its scalar twin: rows 0..1000+, dims 1..70 and 128, exclusions") {
  mr::test::for_each_arch([](auto arch, const std::string& arch_name) {
    using Arch = decltype(arch);
    for_each_format([&](auto* tag, const std::string& format) {
      using Matrix = std::remove_pointer_t<decltype(tag)>;
      CAPTURE(arch_name);
      CAPTURE(format);
      std::vector<std::pair<std::size_t, std::size_t>> shapes;  // (rows, dim)
      for (std::size_t d = 1; d <= 70; ++d) {
        for (const std::size_t n : {0, 1, 15, 16, 17, 33}) shapes.emplace_back(n, d);
      }
      for (const std::size_t d : {1, 16, 17, 31, 63, 64, 70, 128}) {
        for (const std::size_t n : {1000, 1037}) shapes.emplace_back(n, d);
      }
      for (const auto& shape : shapes) {
        const std::size_t n = shape.first;  // not a structured binding: clang 14 cannot capture one
        const std::size_t d = shape.second;
        for (const Values values : {Values::gaussian, Values::small_integers}) {
          const std::size_t offset = (n + d) % 2;
          CAPTURE(n);
          CAPTURE(d);
          CAPTURE(offset);
          const auto seed = static_cast<std::uint32_t>(n * 131 + d);
          Items items(n, d, d + offset, offset, values, seed);
          const Buffer query(d, 1 - offset, values, seed + 1);
          const Matrix m = quantize<Matrix>(items.view);
          check_kernel<Arch>(query.cspan(), m, values == Values::small_integers);
        }
      }
    });
  });
}

TEST_CASE("quantised score_top_k: a NaN query returns nothing, exactly like the twin") {
  mr::test::for_each_arch([](auto arch, const std::string& arch_name) {
    using Arch = decltype(arch);
    for_each_format([&](auto* tag, const std::string& format) {
      using Matrix = std::remove_pointer_t<decltype(tag)>;
      CAPTURE(arch_name);
      CAPTURE(format);
      Items items(50, 20, 20, 0, Values::gaussian, 3);
      const Matrix m = quantize<Matrix>(items.view);
      std::vector<float> q(20, 1.0f);
      q[7] = kNaN;
      CHECK(approx_top_k<Arch>(q, m, 5).empty());
      CHECK(twin_top_k(q, m, 5).empty());
      CHECK(exact_top_k<Arch>(q, m, items.view, 5).empty());
    });
  });
}

TEST_CASE("the error bound holds: |approximate - float32 score| <= score_error_bound, every row") {
  mr::test::for_each_arch([](auto arch, const std::string& arch_name) {
    using Arch = decltype(arch);
    for_each_format([&](auto* tag, const std::string& format) {
      using Matrix = std::remove_pointer_t<decltype(tag)>;
      CAPTURE(arch_name);
      CAPTURE(format);
      for (const std::size_t d : {1, 7, 16, 64, 70, 128}) {
        for (const double magnitude : {1.0, 1e-30, 1e12}) {
          CAPTURE(d);
          CAPTURE(magnitude);
          const std::size_t n = 700;
          const auto seed = static_cast<std::uint32_t>(d * 7 + 1);
          Items items(n, d, d, 0, Values::gaussian, seed);
          for (float& x : items.buffer.span()) x = static_cast<float>(x * magnitude);
          const Buffer query(d, 0, Values::gaussian, seed + 3);
          const Matrix m = quantize<Matrix>(items.view);
          const double bound = simd::detail::score_error_bound(m, l1(query.cspan()), l2(query.cspan()));
          const std::vector<float> approx = approx_scores<Arch>(query.cspan(), m);
          std::vector<float> exact(n);
          simd::score<Arch>(query.cspan(), items.view, exact);
          double worst = 0.0;
          for (std::size_t r = 0; r < n; ++r) {
            worst = std::max(worst, std::fabs(double(approx[r]) - double(exact[r])));
          }
          CHECK(worst <= bound);
          // Not vacuous: the bound is within a small factor of the worst error seen (for d = 1
          // an int8 row is its own maximum, ±127 codes: no error to compare with).
          if (d > 1) CHECK(bound <= 200.0 * worst);
        }
      }
    });
  });
}

TEST_CASE("exact score_top_k through a quantised matrix is score_top_k on float32, bit for bit") {
  mr::test::for_each_arch([](auto arch, const std::string& arch_name) {
    using Arch = decltype(arch);
    for_each_format([&](auto* tag, const std::string& format) {
      using Matrix = std::remove_pointer_t<decltype(tag)>;
      CAPTURE(arch_name);
      CAPTURE(format);
      std::size_t certified = 0;
      std::size_t searches = 0;
      for (const std::size_t n : {0, 1, 17, 100, 1000, 3001}) {
        for (const std::size_t d : {1, 5, 16, 64, 70, 128}) {
          CAPTURE(n);
          CAPTURE(d);
          const auto seed = static_cast<std::uint32_t>(n + 1000 * d);
          Items items(n, d, d + 1, 1, Values::gaussian, seed);
          const Matrix m = quantize<Matrix>(items.view);
          mr::ItemBitset excluded;
          for (std::size_t i = 0; i < n; i += 4) excluded.insert(i);
          for (std::uint32_t query_seed = 0; query_seed < 3; ++query_seed) {
            const Buffer query(d, query_seed % 2, Values::gaussian, seed + 10 + query_seed);
            for (const std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{10},
                                        std::size_t{50}, n, n + 1}) {
              CAPTURE(k);
              simd::detail::QuantizedSearchReport report;
              check_bitwise_equal(exact_top_k<Arch>(query.cspan(), m, items.view, k, mr::NoExclusion{}, &report),
                                  float_top_k<Arch>(query.cspan(), items.view, k));
              if (n >= 1000 && d >= 16 && k == 10) {
                ++searches;
                certified += report.certified ? 1 : 0;
              }
              check_bitwise_equal(exact_top_k<Arch>(query.cspan(), m, items.view, k, excluded.view()),
                                  float_top_k<Arch>(query.cspan(), items.view, k, excluded.view()));
            }
          }
        }
      }
      // On Gaussian data the certificate almost always holds (no float32 rescan).
      CHECK(certified >= searches - 1);
      CHECK(searches == 24);
    });
  });
}

TEST_CASE("exact search: duplicated rows and near ties fall back and stay exact") {
  mr::test::for_each_arch([](auto arch, const std::string& arch_name) {
    using Arch = decltype(arch);
    for_each_format([&](auto* tag, const std::string& format) {
      using Matrix = std::remove_pointer_t<decltype(tag)>;
      CAPTURE(arch_name);
      CAPTURE(format);
      const std::size_t n = 2000;
      const std::size_t d = 64;
      Items items(n, d, d, 0, Values::gaussian, 42);
      const Buffer query(d, 0, Values::gaussian, 43);
      // (a) Every row the same: one 2000-way tie. Only the float32 scan can prove the answer.
      Items same(n, d, d, 0, Values::gaussian, 44);
      for (std::size_t r = 1; r < n; ++r) std::copy_n(same.view.row(0).data(), d, same.view.row(r).data());
      simd::detail::QuantizedSearchReport report;
      const Matrix ms = quantize<Matrix>(same.view);
      check_bitwise_equal(exact_top_k<Arch>(query.cspan(), ms, same.view, 10, mr::NoExclusion{}, &report),
                          float_top_k<Arch>(query.cspan(), same.view, 10));
      CHECK_FALSE(report.certified);
      CHECK(report.quantized_scans == 2);
      // (b) Near ties: 10 base rows, each copied 200 times with perturbations far below the
      // quantisation step; the float32 order among copies is decided by what quantisation loses.
      std::mt19937 rng(45);
      std::uniform_real_distribution<float> tiny(-1e-5f, 1e-5f);
      for (std::size_t r = 10; r < n; ++r) {
        for (std::size_t c = 0; c < d; ++c) items.view.row(r)[c] = items.view.row(r % 10)[c] + tiny(rng);
      }
      const Matrix mt = quantize<Matrix>(items.view);
      for (const std::size_t k : {1, 10, 100, 250}) {
        CAPTURE(k);
        check_bitwise_equal(exact_top_k<Arch>(query.cspan(), mt, items.view, k),
                            float_top_k<Arch>(query.cspan(), items.view, k));
      }
      // (c) Groups of 100 identical rows: the first pool (84) holds only part of the best group,
      // so it cannot be certified; 4x that pool covers the best groups.
      Items groups(n, d, d, 0, Values::gaussian, 46);
      for (std::size_t r = 0; r < n; ++r) {
        std::copy_n(groups.view.row(r / 100 * 100).data(), d, groups.view.row(r).data());
      }
      const Matrix mg = quantize<Matrix>(groups.view);
      check_bitwise_equal(exact_top_k<Arch>(query.cspan(), mg, groups.view, 10, mr::NoExclusion{}, &report),
                          float_top_k<Arch>(query.cspan(), groups.view, 10));
      CHECK(report.certified);
      CHECK(report.quantized_scans == 2);
    });
  });
}

TEST_CASE("exact search: huge, tiny, infinite queries and d = 0") {
  mr::test::for_each_arch([](auto arch, const std::string& arch_name) {
    using Arch = decltype(arch);
    for_each_format([&](auto* tag, const std::string& format) {
      using Matrix = std::remove_pointer_t<decltype(tag)>;
      CAPTURE(arch_name);
      CAPTURE(format);
      Items items(500, 32, 32, 0, Values::gaussian, 50);
      const Matrix m = quantize<Matrix>(items.view);
      for (const float scale : {1e26f, 1e-30f, 1e36f}) {
        CAPTURE(scale);
        Buffer query(32, 0, Values::gaussian, 51);
        for (float& x : query.span()) x *= scale;
        simd::detail::QuantizedSearchReport report;
        check_bitwise_equal(exact_top_k<Arch>(query.cspan(), m, items.view, 7, mr::NoExclusion{}, &report),
                            float_top_k<Arch>(query.cspan(), items.view, 7));
        // Past 1e30 the quantised scan is not used at all.
        CHECK((report.quantized_scans == 0) == (scale > 1e30f));
      }
      std::vector<float> inf_query(32, 0.5f);
      inf_query[3] = kInf;
      check_bitwise_equal(exact_top_k<Arch>(inf_query, m, items.view, 7),
                          float_top_k<Arch>(inf_query, items.view, 7));
      // d = 0: every score is 0, the first k rows.
      std::vector<float> none;
      const mr::MatrixView empty_rows(std::span<const float>(none), 40, 0);
      const Matrix m0 = quantize<Matrix>(empty_rows);
      const auto got = approx_top_k<Arch>(std::span<const float>(), m0, 3);
      REQUIRE(got.size() == 3);
      for (std::size_t i = 0; i < 3; ++i) CHECK(got[i] == ScoredItem{i, 0.0f});
      check_bitwise_equal(exact_top_k<Arch>(std::span<const float>(), m0, empty_rows, 3),
                          float_top_k<Arch>(std::span<const float>(), empty_rows, 3));
    });
  });
}

TEST_CASE("quantised score_top_k rejects bad arguments with the same Error as its twin") {
  for_each_format([&](auto* tag, const std::string& format) {
    using Matrix = std::remove_pointer_t<decltype(tag)>;
    CAPTURE(format);
    Items items(10, 4, 4, 0, Values::gaussian, 60);
    Items other(9, 4, 4, 0, Values::gaussian, 61);
    const Matrix m = quantize<Matrix>(items.view);
    std::vector<float> q3(3, 1.0f);
    std::vector<float> q4(4, 1.0f);
    std::vector<ScoredItem> out(10);
    std::vector<ScoredItem> small(2);
    const auto both = [&](auto&& simd_call, auto&& twin_call, const std::string& expected) {
      const std::string a = error_of(simd_call);
      CHECK(a == error_of(twin_call));
      CHECK(a.find(expected) != std::string::npos);
    };
    both([&] { (void)simd::score_top_k(q3, m, 3, out); }, [&] { (void)ref::score_top_k(q3, m, 3, out); },
         "simd::score_top_k: query has 3 elements but item rows has 4");
    both([&] { (void)simd::score_top_k(q4, m, 3, small); },
         [&] { (void)ref::score_top_k(q4, m, 3, small); },
         "simd::score_top_k: out has room for 2 elements, 3 are needed");
    both([&] { (void)simd::score_top_k(q4, m, other.view, 3, out); },
         [&] { (void)ref::score_top_k(q4, m, other.view, 3, out); },
         "simd::score_top_k: the exact matrix is 9 x 4 but the quantised one is 10 x 4");
    both([&] { (void)simd::score_top_k(q3, m, items.view, 3, out); },
         [&] { (void)ref::score_top_k(q3, m, items.view, 3, out); },
         "simd::score_top_k: query has 3 elements");
    both([&] { (void)simd::score_top_k(q4, m, items.view, 3, small); },
         [&] { (void)ref::score_top_k(q4, m, items.view, 3, small); }, "out has room for 2");
    // k beyond the rows needs only `rows` places.
    CHECK(simd::score_top_k(q4, m, 50, out) == 10);
    CHECK(simd::score_top_k(q4, m, items.view, 50, out) == 10);
  });
}
