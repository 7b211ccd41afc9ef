// Writes the golden files of the current format into a directory: for every recipe in
// golden_models.hpp, <type>.bin (the saved model) and <type>.expected (its probe, hex floats).
// Run once per format version (and again when types are added: files already there are kept);
// the files are kept under tests/data/golden/<format>/.
//   marl_rec_make_golden tests/data/golden/<format>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "persist/golden_all.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: marl_rec_make_golden <output directory>\n";
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    for (const auto& recipe : marl_rec::test::golden::all_recipes()) {
      // Kept files are never rewritten: only types without a file get one.
      if (std::filesystem::exists(dir / (recipe.type + ".bin"))) {
        std::cout << recipe.type << ": kept\n";
        continue;
      }
      std::ofstream bin(dir / (recipe.type + ".bin"), std::ios::binary | std::ios::trunc);
      const std::vector<double> probe = recipe.save(bin);
      bin.close();
      std::ofstream expected(dir / (recipe.type + ".expected"), std::ios::trunc);
      for (const double v : probe) {
        char text[64];
        std::snprintf(text, sizeof text, "%a\n", v);
        expected << text;
      }
      if (!bin || !expected) throw std::runtime_error("cannot write " + recipe.type);
      std::cout << recipe.type << ": " << probe.size() << " values\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "marl_rec_make_golden: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
