// Test helper: a fresh directory under the system's temp directory, removed with its contents at
// the end of the test, for tests that write the files they read.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace marl_rec::test {

/// A directory of its own (named after the process and a counter, so that parallel test
/// processes do not collide), deleted with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<std::size_t> counter{0};
    std::string name = std::string("marl_rec_test_") + std::to_string(::getpid());
    name += '_';
    name += std::to_string(counter++);
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  /// The path of `name` inside the directory.
  std::string path(std::string_view name) const { return (path_ / name).string(); }

  /// Writes `bytes` to `name` and returns its path.
  std::string write(std::string_view name, std::string_view bytes) const {
    const std::string p = path(name);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("TempDir: cannot write " + p);
    return p;
  }
  std::string write(std::string_view name, std::span<const std::byte> bytes) const {
    return write(name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }

 private:
  std::filesystem::path path_;
};

}  // namespace marl_rec::test
