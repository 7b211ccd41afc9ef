#include "marl_rec/io/npy.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "support/errors.hpp"
#include "support/temp_dir.hpp"

namespace io = marl_rec::io;
using marl_rec::test::error_of;

namespace {

const std::string data_dir = MARL_REC_TEST_DATA_DIR "/embed_precomputed/";

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A .npy file with header dict `dict` (padded with spaces and a newline to a multiple of 64
/// bytes, as np.save does, unless `pad` is false), version `major`.`minor`, then `data_bytes`
/// bytes of float32 0, 1, 2, ... (cut to the size).
std::string npy(std::string dict, std::size_t data_bytes, int major = 1, int minor = 0,
                bool pad = true) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  if (pad) {
    const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
    dict.append(total - prefix - dict.size() - 1, ' ');
    dict += '\n';
  }
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += static_cast<char>(minor);
  for (std::size_t i = 0; i < prefix - 8; ++i)
    out += static_cast<char>((dict.size() >> (8 * i)) & 0xFF);
  out += dict;
  for (std::size_t i = 0; i * 4 < data_bytes; ++i) {
    const auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(i));
    for (std::size_t b = 0; b < 4 && i * 4 + b < data_bytes; ++b) {
      out += static_cast<char>((bits >> (8 * b)) & 0xFF);
    }
  }
  return out;
}

std::string dict(std::string_view descr, std::string_view shape, std::string_view order = "False") {
  return std::string("{'descr': '") + std::string(descr) +
         "', 'fortran_order': " + std::string(order) + ", 'shape': " + std::string(shape) + ", }";
}

io::NpyArray read(const std::string& bytes) { return io::read_npy(as_bytes(bytes), "x.npy"); }
std::string error_reading(const std::string& bytes) {
  return error_of([&] { read(bytes); });
}

// The binary16 value of bits h, computed independently of float16_to_float32.
double half_reference(std::uint16_t h) {
  const int sign = (h >> 15) != 0 ? -1 : 1;
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

}  // namespace

TEST_CASE("float16_to_float32: every one of the 65536 values, exactly") {
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float f = io::float16_to_float32(static_cast<std::uint16_t>(h));
    const bool negative = (h & 0x8000) != 0;
    CHECK(std::signbit(f) == negative);
    if (((h >> 10) & 0x1F) == 0x1F) {
      if ((h & 0x3FF) == 0) {
        CHECK(std::isinf(f));
      } else {
        REQUIRE(std::isnan(f));
        // The payload is kept (shifted into the top of float's mantissa).
        CHECK((std::bit_cast<std::uint32_t>(f) & 0x7FFFFF) == (h & 0x3FFu) << 13);
      }
    } else if (static_cast<double>(f) != half_reference(static_cast<std::uint16_t>(h))) {
      FAIL("binary16 bits " << h << " gave " << f << ", expected "
                            << half_reference(static_cast<std::uint16_t>(h)));
    }
  }
  CHECK(io::float16_to_float32(0x3C00) == 1.0f);
  CHECK(io::float16_to_float32(0xC000) == -2.0f);
  CHECK(io::float16_to_float32(0x7BFF) == 65504.0f);               // largest finite
  CHECK(io::float16_to_float32(0x0400) == std::ldexp(1.0f, -14));  // smallest normal
  CHECK(io::float16_to_float32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(io::float16_to_float32(0x03FF) == std::ldexp(1023.0f, -24));
  CHECK(io::float16_to_float32(0x7C00) == std::numeric_limits<float>::infinity());
  CHECK(io::float16_to_float32(0xFC00) == -std::numeric_limits<float>::infinity());
}

TEST_CASE(
    "read_npy: files written by NumPy itself (versions 1.0, 2.0, 3.0; float32, float16, 1-D)") {
  const std::vector<float> expected = {3, 4, 0, 0, 0, 0, 2, 0, 1, 1, 1, 1};
  for (const char* name : {"f4.npy", "f2.npy", "v2.npy", "v3.npy"}) {
    CAPTURE(name);
    const io::NpyArray a = io::read_npy(data_dir + name);
    CHECK(a.header.rows == 3);
    CHECK(a.header.cols == 4);
    CHECK_FALSE(a.header.one_dimensional);
    CHECK(a.header.data_offset % 64 == 0);
    CHECK(std::vector<float>(a.values.begin(), a.values.end()) == expected);
    CHECK(a.view().row(2)[3] == 1.0f);
    CHECK(reinterpret_cast<std::uintptr_t>(a.values.data()) % 64 == 0);
  }
  CHECK(io::read_npy(data_dir + "f4.npy").header.version == 1);
  CHECK(io::read_npy(data_dir + "v2.npy").header.version == 2);
  CHECK(io::read_npy(data_dir + "v3.npy").header.version == 3);
  CHECK(io::read_npy(data_dir + "f2.npy").header.dtype == io::NpyDtype::float16);

  const io::NpyArray one = io::read_npy(data_dir + "one.npy");
  CHECK(one.header.one_dimensional);
  CHECK(one.header.rows == 1);
  CHECK(one.header.cols == 4);
  CHECK(std::vector<float>(one.values.begin(), one.values.end()) == std::vector<float>{3, 4, 0, 0});
}

TEST_CASE("npy_bytes and write_npy: the same bytes as np.save, and a round trip") {
  const io::NpyArray a = io::read_npy(data_dir + "f4.npy");
  const std::vector<std::byte> bytes = io::npy_bytes(a.view());
  const std::string numpy_bytes = file_bytes(data_dir + "f4.npy");
  CHECK(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()) == numpy_bytes);

  const io::NpyArray one = io::read_npy(data_dir + "one.npy");
  const std::vector<std::byte> one_bytes = io::npy_bytes(one.view(), true);
  CHECK(std::string(reinterpret_cast<const char*>(one_bytes.data()), one_bytes.size()) ==
        file_bytes(data_dir + "one.npy"));
  CHECK(error_of([&] { io::npy_bytes(a.view(), true); }) ==
        "npy_bytes: a 1-D array needs exactly one row, got 3");

  // Odd shapes and special values survive the round trip bit for bit.
  marl_rec::test::TempDir dir;
  std::vector<float> values(7 * 3);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * -0.37f;
  values[4] = std::numeric_limits<float>::quiet_NaN();
  values[5] = -std::numeric_limits<float>::infinity();
  values[6] = std::numeric_limits<float>::denorm_min();
  const marl_rec::MatrixView m(values, 7, 3);
  io::write_npy(dir.path("m.npy"), m);
  const io::NpyArray back = io::read_npy(dir.path("m.npy"));
  REQUIRE(back.values.size() == values.size());
  CHECK(std::memcmp(back.values.data(), values.data(), values.size() * sizeof(float)) == 0);
  CHECK(back.header.data_offset == 128);  // 10 + 60 + 1 bytes, padded to 64

  // A matrix with padded rows (stride > cols) is written without the padding.
  const std::vector<float> padded = {1, 2, -1, 3, 4, -1, 5, 6};
  const std::vector<std::byte> strided = io::npy_bytes(marl_rec::MatrixView(padded, 3, 2, 3));
  const io::NpyArray s = io::read_npy(strided, "strided.npy");
  CHECK(std::vector<float>(s.values.begin(), s.values.end()) ==
        std::vector<float>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("read_npy: header variants NumPy can write or read") {
  // Double quotes, no trailing comma, other key order, extra spaces.
  CHECK(read(npy("{\"shape\": ( 2 , 3 ), \"fortran_order\": False, \"descr\": \"<f4\"}", 24))
            .header.rows == 2);
  // Python 2's long integers.
  CHECK(read(npy(dict("<f4", "(2L, 3L)"), 24)).header.cols == 3);
  // Unpadded header (data right after it, not aligned).
  const io::NpyArray unpadded = read(npy(dict("<f4", "(2, 3)"), 24, 1, 0, false));
  CHECK(unpadded.header.data_offset % 64 != 0);
  CHECK(unpadded.values[5] == 5.0f);
  // Zero rows, or one empty row, are valid arrays (the embedders refuse them).
  CHECK(read(npy(dict("<f4", "(0, 3)"), 0)).values.empty());
  CHECK(read(npy(dict("<f4", "(0,)"), 0)).header.cols == 0);
  CHECK(read(npy(dict("<f4", "(1, 0)"), 0)).header.rows == 1);
  // Rows without values: their count is not bounded by the file's size (found by npy_fuzzer: a
  // round trip over (2^62, 0) never finished). Refused.
  CHECK(error_reading(npy(dict("<f4", "(4611686018427387904, 0)"), 0)) ==
        "x.npy: the shape (4611686018427387904, 0) has rows but no values (at most one empty row is accepted)");
  CHECK(error_reading(npy(dict("<f4", "(2, 0)"), 0)).ends_with("has rows but no values (at most one empty row is accepted)"));
  // float16 data.
  const io::NpyArray half = read(npy(dict("<f2", "(1, 2)"), 4));
  CHECK(half.header.dtype == io::NpyDtype::float16);
  CHECK(half.values.size() == 2);
}

TEST_CASE("read_npy: what is not a float32/float16 C-order matrix is refused, naming the file") {
  CHECK(error_reading("") == "x.npy: not a .npy file: the file is empty");
  CHECK(error_reading("id,v0\na,1\n") ==
        "x.npy: not a .npy file: it does not start with \"\\x93NUMPY\"");
  CHECK(error_reading("\x93NUMPY\x01") ==
        "x.npy: not a .npy file: it does not start with \"\\x93NUMPY\"");
  CHECK(error_reading(npy(dict("<f4", "(1, 1)"), 4, 4)) ==
        "x.npy: unsupported .npy version 4.0 (expected 1.0, 2.0 or 3.0)");
  CHECK(error_reading(npy(dict("<f4", "(1, 1)"), 4, 1, 1)) ==
        "x.npy: unsupported .npy version 1.1 (expected 1.0, 2.0 or 3.0)");
  CHECK(error_reading(npy(dict("<f4", "(1, 1)"), 4, 0)) ==
        "x.npy: unsupported .npy version 0.0 (expected 1.0, 2.0 or 3.0)");
  CHECK(error_reading(std::string("\x93NUMPY\x02\x00\x10\x00", 10)) ==
        "x.npy: truncated .npy header");

  CHECK(error_reading(npy(dict("<f8", "(1, 1)"), 8)) ==
        "x.npy: .npy header: dtype '<f8' is not supported: expected '<f4' (float32) or '<f2' "
        "(float16); convert with a.astype(np.float32)");
  CHECK(error_of([] { io::read_npy(data_dir + "f8.npy"); }).find("dtype '<f8' is not supported") !=
        std::string::npos);
  CHECK(error_reading(npy(dict("<i4", "(1, 1)"), 4)).find("dtype '<i4' is not supported") !=
        std::string::npos);
  CHECK(error_of([] { io::read_npy(data_dir + "big_endian.npy"); }) ==
        data_dir +
            "big_endian.npy: .npy header: big-endian data ('>f4') is not supported: save "
            "little-endian data (a.astype('<f4'))");
  CHECK(error_of([] { io::read_npy(data_dir + "fortran.npy"); }) ==
        data_dir +
            "fortran.npy: .npy header: the array is in Fortran order (fortran_order: True); save "
            "a C-order array (np.save(path, np.ascontiguousarray(a)))");
  CHECK(error_reading(npy(dict("<f4", "(2, 2, 2)"), 32)) ==
        "x.npy: .npy header: expected a 2-D shape (rows, dim) or a 1-D shape (dim,), got a 3-D "
        "shape");
  CHECK(error_reading(npy(dict("<f4", "()"), 4)) ==
        "x.npy: .npy header: expected a 2-D shape (rows, dim) or a 1-D shape (dim,), got a 0-D "
        "shape");
  CHECK(
      error_reading(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4)) ==
      "x.npy: .npy header: expected a string as the value of 'descr' (structured dtypes are not "
      "supported)");
}

TEST_CASE("read_npy: malformed header dicts") {
  const auto bad = [](const std::string& d) { return error_reading(npy(d, 4)); };
  CHECK(bad("{'descr': '<f4', 'shape': (1, 1), }") ==
        "x.npy: .npy header: the header has no 'fortran_order' key");
  CHECK(bad("{'descr': '<f4', 'fortran_order': False}") ==
        "x.npy: .npy header: the header has no 'shape' key");
  CHECK(bad("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)}") ==
        "x.npy: .npy header: the key 'descr' appears twice");
  CHECK(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'extra': 1}") ==
        "x.npy: .npy header: unexpected key 'extra' (a .npy header has exactly 'descr', "
        "'fortran_order' and 'shape')");
  CHECK(bad("{'descr': '<f4', 'fortran_order': false, 'shape': (1, 1)}") ==
        "x.npy: .npy header: expected True or False as the value of 'fortran_order'");
  CHECK(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1, -1)}") ==
        "x.npy: .npy header: expected a non-negative integer in 'shape'");
  CHECK(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1 1)}") ==
        "x.npy: .npy header: expected ',' or ')' in 'shape'");
  CHECK(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1)}") ==
        "x.npy: .npy header: a dimension of 'shape' does not fit 64 bits");
  CHECK(bad("{'descr': '<f4' 'fortran_order': False, 'shape': (1, 1)}") ==
        "x.npy: .npy header: expected ',' or '}' after the value of 'descr'");
  CHECK(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)} x") ==
        "x.npy: .npy header: unexpected text after the dict");
  CHECK(bad("{'descr' '<f4'}") == "x.npy: .npy header: expected ':' at byte 9 of the header");
  CHECK(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)") ==
        "x.npy: .npy header: expected ',' or '}' after the value of 'shape'");
  CHECK(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), ") ==
        "x.npy: .npy header: expected a quoted key at the end of the header");
  CHECK(bad("{'descr': '<f4") == "x.npy: .npy header: a string in the header is not closed");
  CHECK(bad("{'des\\cr': 1}") == "x.npy: .npy header: unexpected escape in a string of the header");
  CHECK(bad("[]") == "x.npy: .npy header: expected '{' at byte 0 of the header");
  CHECK(bad("{'\x01': 1}") ==
        "x.npy: .npy header: unexpected key '\\x01' (a .npy header has exactly 'descr', "
        "'fortran_order' and 'shape')");
}

TEST_CASE(
    "read_npy: the data must be exactly rows x cols x itemsize bytes, checked before allocating") {
  CHECK(error_reading(npy(dict("<f4", "(2, 3)"), 23)) ==
        "x.npy: truncated data: the shape (2, 3) needs 24 bytes, the file has 23 after the header");
  CHECK(error_reading(npy(dict("<f4", "(2, 3)"), 0)) ==
        "x.npy: truncated data: the shape (2, 3) needs 24 bytes, the file has 0 after the header");
  CHECK(error_reading(npy(dict("<f4", "(2, 3)"), 25)) ==
        "x.npy: 1 trailing bytes after the data (the shape (2, 3) needs 24 bytes)");
  CHECK(error_reading(npy(dict("<f2", "(5,)"), 12)) ==
        "x.npy: 2 trailing bytes after the data (the shape (5,) needs 10 bytes)");
  // A forged shape: refused from the file size alone (a 2^60-float allocation would abort).
  CHECK(
      error_reading(npy(dict("<f4", "(1073741824, 1073741824)"), 16)) ==
      "x.npy: truncated data: the shape (1073741824, 1073741824) needs 4611686018427387904 bytes, "
      "the file has 16 after the header");
  CHECK(error_reading(npy(dict("<f4", "(18446744073709551615, 2)"), 16)) ==
        "x.npy: the shape (18446744073709551615, 2) is too large (the data size overflows)");
  CHECK(error_reading(npy(dict("<f4", "(4611686018427387904,)"), 16)) ==
        "x.npy: the shape (4611686018427387904,) is too large (the data size overflows)");

  // The header length itself is checked against the file, and capped.
  std::string claims_more = npy(dict("<f4", "(1, 1)"), 4);
  claims_more[8] = '\xFF';
  claims_more[9] = '\x7F';
  CHECK(error_reading(claims_more) ==
        "x.npy: truncated .npy header: it claims 32767 bytes, the file has 122 after the magic");
  std::string huge = npy(dict("<f4", "(1, 1)"), 4, 2);
  huge[11] = '\x10';
  CHECK(error_reading(huge) ==
        "x.npy: the .npy header claims 268435572 bytes (more than 1 MiB): not a .npy file, or a "
        "corrupted one");
}

TEST_CASE("read_npy: a missing file or a directory names the path and the reason") {
  CHECK(error_of([] { io::read_npy("/nonexistent/x.npy"); }) ==
        "/nonexistent/x.npy: cannot open: No such file or directory");
  CHECK(error_of([] { io::read_npy(data_dir); }) == data_dir + ": cannot map: not a regular file");
  marl_rec::test::TempDir dir;
  CHECK(error_of([&] { io::read_npy(dir.write("empty.npy", std::string_view())); }) ==
        dir.path("empty.npy") + ": not a .npy file: the file is empty");
  CHECK(error_of([&] { io::write_npy(dir.path("no/such/dir.npy"), marl_rec::MatrixView()); }) ==
        dir.path("no/such/dir.npy") + ": cannot open for writing");
}
