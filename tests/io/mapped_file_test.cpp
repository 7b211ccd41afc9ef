#include "marl_rec/io/mapped_file.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "support/errors.hpp"
#include "support/temp_dir.hpp"

namespace io = marl_rec::io;
using marl_rec::test::error_of;

namespace {
std::string_view text(const io::MappedFile& f) {
  return {reinterpret_cast<const char*>(f.data()), f.size()};
}
}  // namespace

TEST_CASE("MappedFile: the bytes of a file, page-aligned, move-only") {
  marl_rec::test::TempDir dir;
  const std::string path = dir.write("a.bin", std::string_view("hello\0world", 11));
  io::MappedFile f(path);
  CHECK(f.size() == 11);
  CHECK_FALSE(f.empty());
  CHECK(text(f) == std::string_view("hello\0world", 11));
  CHECK(f.bytes().size() == 11);
  CHECK(f.path() == path);
  CHECK(reinterpret_cast<std::uintptr_t>(f.data()) % 4096 == 0);

  io::MappedFile g(std::move(f));
  CHECK(text(g) == std::string_view("hello\0world", 11));
  CHECK(f.empty());  // NOLINT(bugprone-use-after-move): a moved-from map is empty
  CHECK(f.data() == nullptr);
  io::MappedFile h(dir.write("b.bin", std::string_view("xyz")), io::MapAccess::whole_file);
  h = std::move(g);  // unmaps b.bin
  CHECK(text(h).size() == 11);
  h = io::MappedFile();
  CHECK(h.empty());
  static_assert(!std::is_copy_constructible_v<io::MappedFile>);
  static_assert(std::is_nothrow_move_constructible_v<io::MappedFile>);
}

TEST_CASE("MappedFile: an empty file maps to nothing, failures name the path and the reason") {
  marl_rec::test::TempDir dir;
  const io::MappedFile empty(dir.write("empty", std::string_view()));
  CHECK(empty.empty());
  CHECK(empty.data() == nullptr);
  CHECK(error_of([] { io::MappedFile("/nonexistent/file"); }) ==
        "/nonexistent/file: cannot open: No such file or directory");
  CHECK(error_of([&] { io::MappedFile(dir.path("")); }) ==
        dir.path("") + ": cannot map: not a regular file");
}
