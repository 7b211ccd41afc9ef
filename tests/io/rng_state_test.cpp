#include <doctest/doctest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/rng_state.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;
using mr::test::error_of;

namespace {

std::string stream_with(const std::vector<std::uint64_t>& words) {
  std::ostringstream out;
  mr::io::ModelWriter w(out, "holder", 1);
  w.u64s("rng", words);
  w.finish();
  return out.str();
}

}  // namespace

TEST_CASE("write_rng / read_rng: a generator saved as a field draws on exactly where it stood") {
  mr::Rng rng(5);
  rng.normal();
  std::ostringstream out;
  mr::io::ModelWriter w(out, "holder", 1);
  mr::io::write_rng(w, "rng", rng);
  w.finish();
  std::istringstream in(out.str());
  mr::io::ModelReader r(in, "holder", 1);
  mr::Rng loaded = mr::io::read_rng(r, "holder", "rng");
  r.finish();
  for (int i = 0; i < 20; ++i) CHECK(loaded.normal() == rng.normal());
}

TEST_CASE("read_rng: an impossible or misshapen state is an Error naming the type and the field") {
  const auto read = [](const std::string& bytes) {
    return error_of([&] {
      std::istringstream in(bytes);
      mr::io::ModelReader r(in, "holder", 1);
      mr::io::read_rng(r, "holder", "rng");
    });
  };
  CHECK(read(stream_with({0, 0, 0, 0, 0, 0})) ==
        "loading a 'holder' model: field 'rng': Rng::from_state: the all-zero xoshiro256** state is invalid");
  CHECK(read(stream_with({1, 2, 3, 4, 0, 9})) ==
        "loading a 'holder' model: field 'rng': Rng::from_state: the spare flag must be 0 or 1, got 9");
  CHECK(read(stream_with({1, 2, 3, 4, 0})) == "loading a 'holder' model: field 'rng' has 5 values, expected 6");
  CHECK(read(stream_with({1, 2, 3, 4, 0, 0})) == "no error");
}
