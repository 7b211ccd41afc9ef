#include "marl_rec/io/fvecs.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "support/errors.hpp"
#include "support/temp_dir.hpp"

namespace io = marl_rec::io;
using marl_rec::test::error_of;

namespace {

/// An int32 then floats, little-endian, as bytes.
std::string row(std::int32_t dim, const std::vector<float>& values) {
  std::string out(4 + 4 * values.size(), '\0');
  const auto d = static_cast<std::uint32_t>(dim);
  for (std::size_t b = 0; b < 4; ++b) out[b] = static_cast<char>((d >> (8 * b)) & 0xFF);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto bits = std::bit_cast<std::uint32_t>(values[i]);
    for (std::size_t b = 0; b < 4; ++b)
      out[4 + 4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xFF);
  }
  return out;
}

io::FvecsArray read(const std::string& bytes) {
  return io::read_fvecs(std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
                        "x.fvecs");
}
std::string error_reading(const std::string& bytes) {
  return error_of([&] { read(bytes); });
}

}  // namespace

TEST_CASE("read_fvecs: rows of int32 dim then dim float32, all the same dim") {
  const io::FvecsArray a = read(row(3, {1, 2, 3}) + row(3, {-4, 5.5f, 0}));
  CHECK(a.rows == 2);
  CHECK(a.cols == 3);
  CHECK(std::vector<float>(a.values.begin(), a.values.end()) ==
        std::vector<float>{1, 2, 3, -4, 5.5f, 0});
  CHECK(a.view().row(1)[1] == 5.5f);
  CHECK(reinterpret_cast<std::uintptr_t>(a.values.data()) % 64 == 0);
  // Unaligned input (a buffer one byte in) reads the same.
  const std::string shifted = std::string("x") + row(1, {7}) + row(1, {8});
  const io::FvecsArray b = io::read_fvecs(
      std::span(reinterpret_cast<const std::byte*>(shifted.data()) + 1, shifted.size() - 1), "s");
  CHECK(std::vector<float>(b.values.begin(), b.values.end()) == std::vector<float>{7, 8});
}

TEST_CASE("write_fvecs / fvecs_bytes: a round trip through a file") {
  marl_rec::test::TempDir dir;
  const std::vector<float> values = {1, 2, 3, 4, 5, 6, -7, 8};
  const marl_rec::MatrixView m(values, 4, 2);
  io::write_fvecs(dir.path("m.fvecs"), m);
  const io::FvecsArray back = io::read_fvecs(dir.path("m.fvecs"));
  CHECK(back.rows == 4);
  CHECK(back.cols == 2);
  CHECK(std::vector<float>(back.values.begin(), back.values.end()) == values);
  const std::vector<std::byte> bytes = io::fvecs_bytes(m);
  CHECK(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()) ==
        row(2, {1, 2}) + row(2, {3, 4}) + row(2, {5, 6}) + row(2, {-7, 8}));
  CHECK(error_of([&] { io::fvecs_bytes(marl_rec::MatrixView(values, 2, 0)); }) ==
        "fvecs_bytes: an .fvecs vector has 1 to 2^31-1 values, got 0");
}

TEST_CASE("read_fvecs: truncation, mixed dims, bad dims and empty files are errors") {
  const std::string two = row(3, {1, 2, 3}) + row(3, {4, 5, 6});
  CHECK(error_reading("") == "x.fvecs: no vectors (the file is empty)");
  CHECK(error_reading("\x03") ==
        "x.fvecs: vector 1: truncated: expected a 4-byte dimension, 1 bytes left");
  CHECK(error_reading(two.substr(0, two.size() - 1)) ==
        "x.fvecs: vector 2: truncated: expected 3 values (12 bytes), 11 bytes left");
  CHECK(error_reading(two + std::string("\x03\x00", 2)) ==
        "x.fvecs: vector 3: truncated: expected a 4-byte dimension, 2 bytes left");
  CHECK(error_reading(row(3, {1, 2, 3}) + row(2, {4, 5})) ==
        "x.fvecs: vector 2: dimension 2, but vector 1 has 3 (every vector of an .fvecs file has "
        "the same dimension)");
  CHECK(error_reading(row(0, {})) ==
        "x.fvecs: vector 1: dimension 0 (expected a positive dimension; is this an .fvecs file?)");
  CHECK(error_reading(row(-5, {1})) ==
        "x.fvecs: vector 1: dimension -5 (expected a positive dimension; is this an .fvecs file?)");
  // A forged dimension: refused from the size alone, nothing allocated.
  CHECK(error_reading(row(0x7FFFFFFF, {1, 2})) ==
        "x.fvecs: vector 1: truncated: expected 2147483647 values (8589934588 bytes), 8 bytes "
        "left");
  CHECK(error_of([] { io::read_fvecs("/nonexistent/x.fvecs"); }) ==
        "/nonexistent/x.fvecs: cannot open: No such file or directory");
}
