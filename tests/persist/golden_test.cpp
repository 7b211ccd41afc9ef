// Files written by earlier versions stay loadable: every file kept under tests/data/golden/<vN>/
// (vN: the container format it was written in) is loaded by today's code and must give the
// probe recorded when it was written, bit for bit. make_golden writes a new directory when the
// format changes; kept files are never rewritten.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/io/model_file.hpp"
#include "persist/golden_all.hpp"

namespace fs = std::filesystem;
namespace golden = marl_rec::test::golden;

namespace {

std::vector<double> expected_probe(const fs::path& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<double> values;
  std::string line;
  while (std::getline(in, line)) {
    char* end = nullptr;
    values.push_back(std::strtod(line.c_str(), &end));
    REQUIRE(end != line.c_str());
  }
  return values;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i] == b[i] || (a[i] != a[i] && b[i] != b[i]))) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("Golden files of every format version load and probe as when they were written") {
  const fs::path root = fs::path(MARL_REC_TEST_DATA_DIR) / "golden";
  const std::vector<golden::Recipe> recipes = golden::all_recipes();
  std::set<std::string> formats;
  int loaded = 0;
  for (const auto& dir : fs::directory_iterator(root)) {
    const std::string format = dir.path().filename().string();
    REQUIRE(format.size() == 2);
    REQUIRE(format[0] == 'v');
    formats.insert(format);
    for (const auto& file : fs::directory_iterator(dir.path())) {
      if (file.path().extension() != ".bin") continue;
      const std::string type = file.path().stem().string();
      CAPTURE(format);
      CAPTURE(type);
      const auto recipe = std::find_if(recipes.begin(), recipes.end(),
                                       [&](const golden::Recipe& r) { return r.type == type; });
      REQUIRE_MESSAGE(recipe != recipes.end(), "a kept file whose type nothing loads any more");
      std::ifstream in(file.path(), std::ios::binary);
      std::string magic(8, '\0');
      in.read(magic.data(), 8);
      CHECK(magic == std::string("MRECMDL") + format[1]);
      in.seekg(0);
      const std::vector<double> probe = recipe->load(in);
      CHECK(same_bits(probe, expected_probe(fs::path(file.path()).replace_extension(".expected"))));
      ++loaded;
    }
  }
  CHECK(formats.count("v1") == 1);  // the first format
  CHECK(formats.count("v2") == 1);
  CHECK(loaded >= 22);
  // The newest format keeps a file of every type there is a recipe for.
  for (const auto& recipe : recipes) {
    CAPTURE(recipe.type);
    CHECK(fs::exists(root / *formats.rbegin() / (recipe.type + ".bin")));
  }
}

TEST_CASE("Golden recipes: today's save gives a file that loads to the same probe") {
  for (const auto& recipe : golden::all_recipes()) {
    CAPTURE(recipe.type);
    std::stringstream stream;
    const std::vector<double> probe = recipe.save(stream);
    CHECK(stream.str().substr(0, 8) == "MRECMDL2");
    CHECK(same_bits(recipe.load(stream), probe));
  }
}
