#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/io/model_stream.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;

namespace {

std::string saved() {
  std::ostringstream out;
  mr::io::ModelWriter w(out, "toy", 2);
  w.u64("count", 3);
  w.f64("rate", -0.25);
  w.string("label", "a,b");
  w.floats("weights", std::vector<float>{1.5f, -0.0f, std::numeric_limits<float>::infinity()});
  w.doubles("moments", std::vector<double>{1e-300, 2.0});
  w.finish();
  return out.str();
}

}  // namespace

TEST_CASE("ModelWriter / ModelReader round trip, field by field") {
  std::istringstream in(saved());
  mr::io::ModelReader r(in, "toy", 2);
  CHECK(r.version() == 2);
  CHECK(r.u64("count", 1, 10) == 3);
  CHECK(r.f64("rate") == -0.25);
  CHECK(r.string("label") == "a,b");
  const auto w = r.floats("weights", 3);
  CHECK(w[0] == 1.5f);
  CHECK(std::signbit(w[1]));
  CHECK(w[2] == std::numeric_limits<float>::infinity());
  CHECK(r.doubles("moments", 2) == std::vector<double>{1e-300, 2.0});
  r.finish();
}

TEST_CASE("ModelReader names what is wrong with a stream") {
  const std::string good = saved();
  const auto open = [](const std::string& bytes, const char* type = "toy", std::uint32_t max = 2) {
    std::istringstream in(bytes);
    mr::io::ModelReader r(in, type, max);
    r.u64("count", 1, 10);
    r.f64("rate");
    r.string("label");
    r.floats("weights", 3);
    r.doubles("moments", 2);
    r.finish();
  };
  CHECK(mr::test::error_of([&] { open(good); }) == "no error");
  CHECK(mr::test::error_of([&] { open("short"); }) ==
        "loading a 'toy' model: the stream ends inside the header (truncated)");
  CHECK(mr::test::error_of([&] { open("XXXXXXXX" + good.substr(8)); }) ==
        "loading a 'toy' model: not a marl_rec model stream (bad magic bytes)");
  CHECK(mr::test::error_of([&] { open(good, "linucb"); }) ==
        "loading a 'linucb' model: the stream holds a 'toy' model");
  CHECK(mr::test::error_of([&] { open(good, "toy", 1); }) ==
        "loading a 'toy' model: format version 2 is not supported (this build reads 1..1)");
  // Every truncation is an error, never a crash.
  for (std::size_t n = 0; n < good.size(); ++n) {
    CHECK(mr::test::error_of([&] { open(good.substr(0, n)); }) != "no error");
  }
  // Every flipped byte is caught (by a field check or the checksum).
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    CHECK(mr::test::error_of([&] { open(bad); }) != "no error");
  }
  // A field read in the wrong order, or with the wrong shape.
  std::istringstream in(good);
  mr::io::ModelReader r(in, "toy", 2);
  CHECK(mr::test::error_of([&] { r.u64("rate"); }) ==
        "loading a 'toy' model: expected field 'rate', found 'count'");
  std::istringstream in2(good);
  mr::io::ModelReader r2(in2, "toy", 2);
  CHECK(mr::test::error_of([&] { r2.u64("count", 4, 10); }) ==
        "loading a 'toy' model: field 'count' = 3 is outside [4, 10]");
}

TEST_CASE("ModelReader checks an array's size before allocating it") {
  const std::string good = saved();
  std::istringstream in(good);
  mr::io::ModelReader r(in, "toy", 2);
  r.u64("count");
  r.f64("rate");
  r.string("label");
  CHECK(mr::test::error_of([&] { r.floats("weights", 4); }) ==
        "loading a 'toy' model: field 'weights' has 3 values, expected 4");
}

TEST_CASE("ModelReader: a huge array count in a short stream is a truncation error, not an allocation") {
  std::ostringstream out;
  mr::io::ModelWriter w(out, "toy", 1);
  w.floats("weights", std::vector<float>{1.0f, 2.0f});
  std::string bytes = out.str();
  // Patch the stored count (the 8 bytes after the field name) to 2^40 and read that many.
  const std::size_t at = bytes.find("weights") + 7;
  for (int i = 0; i < 8; ++i) bytes[at + static_cast<std::size_t>(i)] = i == 5 ? '\x01' : '\0';
  std::istringstream in(bytes);
  mr::io::ModelReader r(in, "toy", 1);
  CHECK(mr::test::error_of([&] { r.floats("weights", std::size_t{1} << 40); }) ==
        "loading a 'toy' model: the stream ends inside weights (truncated)");
}
