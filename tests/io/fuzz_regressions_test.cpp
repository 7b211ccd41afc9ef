// Inputs the fuzz targets (fuzz/) once crashed on, kept after the fix: each must now give a clear
// marl_rec::Error. The files are under tests/data/fuzz_regressions/<target>/ and also seed the
// target's corpus (fuzz/corpus/<target>/regression_*), so the fuzzers start from them too.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>

#include "marl_rec/embed/word_vector_embedder.hpp"
#include "marl_rec/io/npy.hpp"
#include "marl_rec/io/timestamp.hpp"
#include "support/errors.hpp"

namespace fs = std::filesystem;

namespace {

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("Fuzz regressions, word vectors: a header claiming 77,777,714,141 words and nothing after it") {
  // word_vectors_fuzzer input: the first byte picks the reader (even: text), the rest is the file.
  const std::string input =
      bytes_of(fs::path(MARL_REC_TEST_DATA_DIR) / "fuzz_regressions/word_vectors/header_only_huge_count");
  REQUIRE(input.size() == 16);
  std::istringstream in(input.substr(1), std::ios::binary);
  // Was: an allocation of 3.3e12 floats (the size check was skipped at the end of the input).
  CHECK(marl_rec::test::error_of([&] { marl_rec::WordVectorEmbedder::load_text(in, "regression.vec"); })
            .starts_with("regression.vec:1: "));
}

TEST_CASE("Fuzz regressions, timestamp: '333e-00000' is a number in exponent notation, not a date") {
  // timestamp_fuzzer's property took any 10-byte text with '-' at index 4 for a date; the
  // property was wrong (the parser was right): this pins what the parser gives.
  const std::string input =
      bytes_of(fs::path(MARL_REC_TEST_DATA_DIR) / "fuzz_regressions/timestamp/exponent_not_a_date");
  REQUIRE(input == "333e-00000");
  CHECK(marl_rec::io::parse_timestamp(input) == 333.0);
}

TEST_CASE("Fuzz regressions, npy: a shape of 2^62 rows and no columns is refused") {
  // npy_fuzzer hung on such a file: it passed every size check (no values take no bytes), and
  // its round trip walked 2^62 empty rows.
  const std::string input =
      bytes_of(fs::path(MARL_REC_TEST_DATA_DIR) / "fuzz_regressions/npy/rows_without_values");
  const auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(input.data()), input.size());
  CHECK(marl_rec::test::error_of([&] { (void)marl_rec::io::read_npy(bytes, "regression.npy"); }) ==
        "regression.npy: the shape (4611686018427387904, 0) has rows but no values (at most one empty row is "
        "accepted)");
}

TEST_CASE("Fuzz regressions: every kept input has a test") {
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(MARL_REC_TEST_DATA_DIR) / "fuzz_regressions")) {
    files += e.is_regular_file() ? 1 : 0;
  }
  CHECK(files == 3);  // one TEST_CASE above per file: add both together
}
