#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/io/model_stream.hpp"
#include "support/errors.hpp"
#include "support/model_stream_v1.hpp"

namespace mr = marl_rec;
using mr::test::error_of;

namespace {

std::string saved() {
  std::ostringstream out;
  mr::io::ModelWriter w(out, "toy", 2);
  w.u64("count", 3);
  w.f64("rate", -0.25);
  w.string("label", "a,b");
  w.floats("weights", std::vector<float>{1.5f, -0.0f, std::numeric_limits<float>::infinity()});
  w.doubles("moments", std::vector<double>{1e-300, 2.0});
  w.u64s("ids", std::vector<std::uint64_t>{7, 0, ~std::uint64_t{0}});
  w.finish();
  return out.str();
}

// The same fields (without the integer array) in format 1, as the first format wrote them.
std::string saved_v1() {
  std::ostringstream out;
  mr::test::V1ModelWriter w(out, "toy", 2);
  w.u64("count", 3);
  w.f64("rate", -0.25);
  w.string("label", "a,b");
  w.floats("weights", std::vector<float>{1.5f, -0.0f, std::numeric_limits<float>::infinity()});
  w.doubles("moments", std::vector<double>{1e-300, 2.0});
  w.finish();
  return out.str();
}

void read_all(const std::string& bytes, const char* type = "toy", std::uint32_t max = 2) {
  std::istringstream in(bytes);
  mr::io::ModelReader r(in, type, max);
  r.u64("count", 1, 10);
  r.f64("rate");
  r.string("label");
  r.floats("weights", 3);
  r.doubles("moments", 2);
  if (r.format() == 2) r.u64s("ids", 3);
  r.finish();
}

std::uint64_t u64_at(const std::string& s, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= std::uint64_t{static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)])} << (8 * i);
  }
  return v;
}
void put_u64_at(std::string& s, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

// Re-seals a format-2 stream after a deliberate edit (so only the reader's field checks can
// object): recomputes the body length and the CRC.
std::string resealed(std::string s) {
  const std::uint64_t type = u64_at(s, 12);
  const std::size_t body_at = 20 + static_cast<std::size_t>(type) + 16;
  s.resize(s.size() - 4);
  put_u64_at(s, body_at - 8, s.size() - body_at);
  const std::uint32_t crc = mr::io::crc32c(s.data(), s.size());
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  return s;
}

}  // namespace

TEST_CASE("ModelWriter / ModelReader round trip, field by field") {
  std::istringstream in(saved());
  mr::io::ModelReader r(in, "toy", 2);
  CHECK(r.format() == 2);
  CHECK(r.version() == 2);
  CHECK(r.u64("count", 1, 10) == 3);
  CHECK(r.f64("rate") == -0.25);
  CHECK(r.string("label") == "a,b");
  const auto w = r.floats("weights", 3);
  CHECK(w[0] == 1.5f);
  CHECK(std::signbit(w[1]));
  CHECK(w[2] == std::numeric_limits<float>::infinity());
  CHECK(r.doubles("moments", 2) == std::vector<double>{1e-300, 2.0});
  CHECK(r.next_is("ids"));
  CHECK_FALSE(r.next_is("other"));
  CHECK(r.array_size("ids") == 3);
  CHECK(r.u64s("ids", 3) == std::vector<std::uint64_t>{7, 0, ~std::uint64_t{0}});
  CHECK_FALSE(r.next_is("ids"));
  r.finish();
}

TEST_CASE("Format 2 layout: magic, byte-order mark, type, version, body length, CRC-32C") {
  const std::string s = saved();
  CHECK(s.substr(0, 8) == "MRECMDL2");
  CHECK(s.substr(8, 4) == std::string("\x0D\x0C\x0B\x0A", 4));
  CHECK(u64_at(s, 12) == 3);
  CHECK(s.substr(20, 3) == "toy");
  CHECK(u64_at(s, 23) == 2);
  CHECK(u64_at(s, 31) == s.size() - 39 - 4);
  const std::uint32_t crc = mr::io::crc32c(s.data(), s.size() - 4);
  CHECK(static_cast<unsigned char>(s[s.size() - 4]) == (crc & 0xFF));
  // The first field: kind 1 (integer), name "count", 8 bytes of payload, 3.
  CHECK(s[39] == '\x01');
  CHECK(u64_at(s, 40) == 5);
  CHECK(s.substr(48, 5) == "count");
  CHECK(u64_at(s, 53) == 8);
  CHECK(u64_at(s, 61) == 3);
}

TEST_CASE("ModelReader names what is wrong with a stream") {
  const std::string good = saved();
  CHECK(error_of([&] { read_all(good); }) == "no error");
  CHECK(error_of([&] { read_all("short"); }) ==
        "loading a 'toy' model: the stream ends inside the header (truncated)");
  CHECK(error_of([&] { read_all("XXXXXXXX" + good.substr(8)); }) ==
        "loading a 'toy' model: not a marl_rec model stream (bad magic bytes)");
  CHECK(error_of([&] { read_all(good, "linucb"); }) ==
        "loading a 'linucb' model: the stream holds a 'toy' model");
  CHECK(error_of([&] { read_all(good, "toy", 1); }) ==
        "loading a 'toy' model: format version 2 is not supported (this build reads 1..1)");
  std::string big_endian = good;
  big_endian.replace(8, 4, std::string("\x0A\x0B\x0C\x0D", 4));
  CHECK(error_of([&] { read_all(big_endian); }) ==
        "loading a 'toy' model: the stream was written big-endian (marl_rec writes little-endian)");
  CHECK(error_of([&] { read_all(good.substr(0, good.size() - 1)); }) ==
        "loading a 'toy' model: the stream ends before its checksum (truncated)");
  std::string flipped = good;
  flipped[70] = static_cast<char>(flipped[70] ^ 1);
  CHECK(error_of([&] { read_all(flipped); }) ==
        "loading a 'toy' model: checksum mismatch (the stream is corrupted)");
  // Every truncation is an error, never a crash.
  for (std::size_t n = 0; n < good.size(); ++n) {
    CHECK(error_of([&] { read_all(good.substr(0, n)); }) != "no error");
  }
  // Every flipped bit is caught (by a header check or the checksum).
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      CHECK(error_of([&] { read_all(bad); }) != "no error");
    }
  }
  // A field read in the wrong order, as another kind, or with the wrong shape.
  std::istringstream in(good);
  mr::io::ModelReader r(in, "toy", 2);
  CHECK(error_of([&] { r.u64("rate"); }) == "loading a 'toy' model: expected field 'rate', found 'count'");
  std::istringstream in2(good);
  mr::io::ModelReader r2(in2, "toy", 2);
  CHECK(error_of([&] { r2.u64("count", 4, 10); }) ==
        "loading a 'toy' model: field 'count' = 3 is outside [4, 10]");
  std::istringstream in3(good);
  mr::io::ModelReader r3(in3, "toy", 2);
  CHECK(error_of([&] { r3.f64("count"); }) ==
        "loading a 'toy' model: field 'count' is an integer, expected a double");
  // Fields left unread are an error: nothing in a stream is silently ignored.
  std::istringstream in4(good);
  mr::io::ModelReader r4(in4, "toy", 2);
  r4.u64("count");
  CHECK(error_of([&] { r4.finish(); }) ==
        "loading a 'toy' model: field 'rate' was not expected (the stream has more fields than "
        "this version reads)");
  // Reading past the last field.
  std::istringstream in5(good);
  mr::io::ModelReader r5(in5, "toy", 2);
  r5.u64("count");
  r5.f64("rate");
  r5.string("label");
  r5.floats("weights", 3);
  r5.doubles("moments", 2);
  r5.u64s("ids", 3);
  CHECK(error_of([&] { r5.u64("more"); }) ==
        "loading a 'toy' model: expected field 'more', found the end of the stream");
}

TEST_CASE("ModelReader checks an array's size before allocating it") {
  std::istringstream in(saved());
  mr::io::ModelReader r(in, "toy", 2);
  r.u64("count");
  r.f64("rate");
  r.string("label");
  CHECK(error_of([&] { r.floats("weights", 4); }) ==
        "loading a 'toy' model: field 'weights' has 3 values, expected 4");
}

TEST_CASE("ModelReader: forged sizes are errors, never allocations of what they claim") {
  const std::string good = saved();
  SUBCASE("a huge body length in a short stream is a truncation error") {
    std::string bad = good;
    put_u64_at(bad, 31, std::uint64_t{1} << 50);
    CHECK(error_of([&] { read_all(bad); }).starts_with(
        "loading a 'toy' model: the stream ends inside its body after "));
  }
  SUBCASE("a field longer than the body (checksum resealed)") {
    std::string bad = good;
    const std::size_t at = bad.find("weights") + 7;  // the field's payload length
    put_u64_at(bad, at, std::uint64_t{1} << 40);
    CHECK(error_of([&] { read_all(resealed(bad)); }) ==
          "loading a 'toy' model: field 'weights' claims 1099511627776 bytes; 96 remain");
  }
  SUBCASE("a huge name length (checksum resealed)") {
    std::string bad = good;
    put_u64_at(bad, 40, std::uint64_t{1} << 60);
    CHECK(error_of([&] { read_all(resealed(bad)); }) ==
          "loading a 'toy' model: a field name claims 1152921504606846976 bytes");
  }
  SUBCASE("a huge type length") {
    std::string bad = good;
    put_u64_at(bad, 12, std::uint64_t{1} << 62);
    CHECK(error_of([&] { read_all(bad); }) ==
          "loading a 'toy' model: the model type claims 4611686018427387904 bytes");
  }
}

TEST_CASE("Nested streams: an object's whole stream is one field") {
  std::ostringstream out;
  mr::io::ModelWriter outer(out, "outer", 1);
  outer.u64("before", 1);
  outer.stream("inner", saved());
  outer.u64("after", 2);
  outer.finish();
  std::istringstream in(out.str());
  mr::io::ModelReader r(in, "outer", 1);
  CHECK(r.u64("before") == 1);
  const std::string inner = r.stream("inner");
  CHECK(inner == saved());
  CHECK(error_of([&] { read_all(inner); }) == "no error");
  CHECK(r.u64("after") == 2);
  r.finish();
}

TEST_CASE("A writer that throws half way writes nothing, and finish() comes once") {
  std::ostringstream out;
  {
    mr::io::ModelWriter w(out, "toy", 1);
    w.u64("count", 3);
    CHECK(error_of([&] { w.u64(std::string(300, 'x'), 1); }) ==
          "ModelWriter: a field name has 1 to 256 bytes");
  }
  CHECK(out.str().empty());
  mr::io::ModelWriter w(out, "toy", 1);
  w.finish();
  CHECK(error_of([&] { w.finish(); }) == "ModelWriter: finish() called twice");
  CHECK(error_of([&] { w.u64("late", 1); }) == "ModelWriter: a field after finish()");
}

TEST_CASE("Format 1 streams (the first format) are still read, with the same checks") {
  const std::string good = saved_v1();
  CHECK(good.substr(0, 8) == "MRECMDL1");
  {
    std::istringstream in(good);
    mr::io::ModelReader r(in, "toy", 2);
    CHECK(r.format() == 1);
    CHECK(r.version() == 2);
    CHECK(r.u64("count") == 3);
    CHECK(r.f64("rate") == -0.25);
    CHECK(r.string("label") == "a,b");
    CHECK(r.floats("weights", 3)[0] == 1.5f);
    CHECK(r.doubles("moments", 2) == std::vector<double>{1e-300, 2.0});
    CHECK_FALSE(r.next_is("ids"));
    CHECK(error_of([&] { r.u64s("ids", 3); }) ==
          "loading a 'toy' model: field 'ids' cannot be in a format 1 stream");
    r.finish();
  }
  CHECK(error_of([&] { read_all(good); }) == "no error");
  CHECK(error_of([&] { read_all(good, "linucb"); }) ==
        "loading a 'linucb' model: the stream holds a 'toy' model");
  for (std::size_t n = 0; n < good.size(); ++n) {
    CHECK(error_of([&] { read_all(good.substr(0, n)); }) != "no error");
  }
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    CHECK(error_of([&] { read_all(bad); }) != "no error");
  }
  // A huge array count in a short format-1 stream is a truncation error, not an allocation.
  std::ostringstream out;
  mr::test::V1ModelWriter w(out, "toy", 1);
  w.floats("weights", std::vector<float>{1.0f, 2.0f});
  std::string bytes = out.str();
  put_u64_at(bytes, bytes.find("weights") + 7, std::uint64_t{1} << 40);
  std::istringstream in(bytes);
  mr::io::ModelReader r(in, "toy", 1);
  CHECK(error_of([&] { r.floats("weights", std::size_t{1} << 40); }) ==
        "loading a 'toy' model: the stream ends inside weights (truncated)");
}
