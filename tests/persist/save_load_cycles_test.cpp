// 10,000 save/load cycles leave nothing behind: heap in use (glibc's mallinfo2) is the same after
// the cycles as after a warm-up; under AddressSanitizer, LeakSanitizer checks the same at exit
// (mallinfo2 then reports ASan's allocator, so only the leak check applies).
#include <doctest/doctest.h>

#include <malloc.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_file.hpp"
#include "persist/golden_all.hpp"
#include "support/temp_dir.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MARL_REC_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MARL_REC_TEST_ASAN 1
#endif

namespace mr = marl_rec;
namespace golden = marl_rec::test::golden;

namespace {

std::size_t heap_in_use() { return mallinfo2().uordblks; }

}  // namespace

TEST_CASE("10,000 save/load cycles of every saved type: no growth of the heap") {
  const std::vector<golden::Recipe> recipes = golden::all_recipes();
  // One saved stream per type, loaded and saved again, round and round.
  std::vector<std::string> streams;
  for (const auto& recipe : recipes) {
    std::stringstream s;
    recipe.save(s);
    streams.push_back(s.str());
  }
  const auto cycle = [&](std::size_t i) {
    std::istringstream in(streams[i % streams.size()]);
    const std::vector<double> probe = recipes[i % recipes.size()].load(in);
    return probe.size();
  };
  std::size_t values = 0;
  for (std::size_t i = 0; i < 1000; ++i) values += cycle(i);  // warm-up
  const std::size_t before = heap_in_use();
  for (std::size_t i = 0; i < 10'000; ++i) values += cycle(i);
  const std::size_t after = heap_in_use();
  CHECK(values > 0);
#ifndef MARL_REC_TEST_ASAN
  CHECK(after <= before + 64 * 1024);
  MESSAGE("heap in use after warm-up: " << before << " bytes; after 10,000 cycles: " << after);
#else
  (void)before;
  (void)after;
#endif
}

TEST_CASE("1,000 save_file/load_file cycles: no growth of the heap, no file left behind") {
  mr::test::TempDir dir;
  const std::string path = dir.path("model.bin");
  mr::LinUcb model({.features = mr::FeatureMap::item});
  const golden::GoldenItems items = golden::items(3);
  mr::Rng rng(1);
  for (int t = 0; t < 50; ++t) model.update({.items = items.view()}, static_cast<std::size_t>(rng.below(items.rows)), 1.0);
  mr::LinUcb loaded;
  for (int i = 0; i < 100; ++i) {
    mr::io::save_file(path, model);
    mr::io::load_file(path, loaded);
  }
  const std::size_t before = heap_in_use();
  for (int i = 0; i < 1000; ++i) {
    mr::io::save_file(path, model);
    mr::io::load_file(path, loaded);
  }
  const std::size_t after = heap_in_use();
  CHECK(loaded.updates() == 50);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
    (void)e;
    ++files;
  }
  CHECK(files == 1);
#ifndef MARL_REC_TEST_ASAN
  CHECK(after <= before + 64 * 1024);
  MESSAGE("heap in use after warm-up: " << before << " bytes; after 1,000 file cycles: " << after);
#else
  (void)before;
  (void)after;
#endif
}
