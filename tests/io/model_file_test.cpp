#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/io/model_file.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "support/errors.hpp"
#include "support/model_stream_v1.hpp"
#include "support/temp_dir.hpp"

namespace mr = marl_rec;
namespace fs = std::filesystem;
using mr::test::error_of;

namespace {

// A saveable object whose save can be made to fail half way.
struct Blob {
  std::vector<float> values;
  bool fail_in_save = false;
  void save(std::ostream& out) const {
    mr::io::ModelWriter w(out, "blob", 1);
    w.floats("values", values);
    if (fail_in_save) throw mr::Error("Blob::save: asked to fail");
    w.finish();
  }
  void load(std::istream& in) {
    mr::io::ModelReader r(in, "blob", 1);
    const std::size_t n = r.array_size("values");
    std::vector<float> v = r.floats("values", n);
    r.finish();
    values = std::move(v);
  }
};

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> names_in(const mr::test::TempDir& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(dir.path("x")).parent_path())) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("save_file / load_file: a round trip, a replacement, no temporary left") {
  mr::test::TempDir dir;
  const std::string path = dir.path("model.bin");
  mr::LinUcb model({.features = mr::FeatureMap::item});
  const std::vector<float> items = {1, 0, 0, 1, 1, 1};
  model.update({.items = mr::MatrixView(items, 3, 2)}, 1, 1.0);
  mr::io::save_file(path, model);
  std::ostringstream direct;
  model.save(direct);
  CHECK(file_bytes(path) == direct.str());
  mr::LinUcb loaded;
  mr::io::load_file(path, loaded);
  std::ostringstream again;
  loaded.save(again);
  CHECK(again.str() == direct.str());
  // Saving again replaces the file; only the file is in the directory.
  model.update({.items = mr::MatrixView(items, 3, 2)}, 2, 0.5);
  mr::io::save_file(path, model);
  std::ostringstream second;
  model.save(second);
  CHECK(file_bytes(path) == second.str());
  CHECK(names_in(dir) == std::vector<std::string>{"model.bin"});
}

TEST_CASE("save_file: a save that fails leaves the old file and no temporary") {
  mr::test::TempDir dir;
  const std::string path = dir.path("blob.bin");
  Blob old{{1.0f, 2.0f}};
  mr::io::save_file(path, old);
  const std::string before = file_bytes(path);
  Blob failing{{3.0f}, true};
  CHECK(error_of([&] { mr::io::save_file(path, failing); }) ==
        "saving '" + path + "': Blob::save: asked to fail");
  CHECK(file_bytes(path) == before);
  CHECK(names_in(dir) == std::vector<std::string>{"blob.bin"});
  // A directory that does not exist: the error names the path and the reason.
  const std::string nowhere = dir.path("missing/blob.bin");
  const std::string e = error_of([&] { mr::io::save_file(nowhere, old); });
  CHECK(e.starts_with("saving '" + nowhere + "': cannot create '" + nowhere + ".tmp-"));
  CHECK(e.ends_with("': No such file or directory"));
}

TEST_CASE("load_file: missing, truncated, extended and foreign files are Errors that change nothing") {
  mr::test::TempDir dir;
  const std::string path = dir.path("blob.bin");
  Blob target{{7.0f}};
  CHECK(error_of([&] { mr::io::load_file(path, target); }) ==
        "loading '" + path + "': cannot open it: No such file or directory");
  Blob saved{{1.0f, 2.0f, 3.0f}};
  mr::io::save_file(path, saved);
  const std::string bytes = file_bytes(path);

  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 3);
  CHECK(error_of([&] { mr::io::load_file(path, target); }) ==
        "loading '" + path + "': loading a 'blob' model: the stream ends before its checksum (truncated)");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes << "extra";
  CHECK(error_of([&] { mr::io::load_file(path, target); }) ==
        "loading '" + path + "': the file has " + std::to_string(bytes.size() + 5) +
            " bytes, its stream " + std::to_string(bytes.size()) + " (bytes after the stream)");
  mr::LinUcb other;
  mr::io::save_file(path, other);
  CHECK(error_of([&] { mr::io::load_file(path, target); }) ==
        "loading '" + path + "': loading a 'blob' model: the stream holds a 'linucb' model");
  CHECK(target.values == std::vector<float>{7.0f});
  mr::io::save_file(path, saved);
  mr::io::load_file(path, target);
  CHECK(target.values == saved.values);
}

TEST_CASE("load_file: a format-1 file with bytes after its stream is refused, the object unchanged") {
  mr::test::TempDir dir;
  const std::string path = dir.path("old.bin");
  std::ostringstream v1;
  mr::test::V1ModelWriter w(v1, "blob", 1);
  w.floats("values", std::vector<float>{5.0f, 6.0f});
  w.finish();
  // (array_size is format 2 only: this reader knows the count.)
  struct OldBlob {
    std::vector<float> values;
    void load(std::istream& in) {
      mr::io::ModelReader r(in, "blob", 1);
      std::vector<float> v = r.floats("values", 2);
      r.finish();
      values = std::move(v);
    }
  };
  std::ofstream(path, std::ios::binary | std::ios::trunc) << v1.str();
  OldBlob target{{1.0f}};
  mr::io::load_file(path, target);
  CHECK(target.values == std::vector<float>{5.0f, 6.0f});
  target.values = {1.0f};
  std::ofstream(path, std::ios::binary | std::ios::trunc) << v1.str() << "more";
  CHECK(error_of([&] { mr::io::load_file(path, target); }) ==
        "loading '" + path + "': the file has bytes after its stream");
  CHECK(target.values == std::vector<float>{1.0f});
}

TEST_CASE("save_file: a temporary name left by a crashed process is skipped, not reused") {
  mr::test::TempDir dir;
  const std::string path = dir.path("blob.bin");
  // What a crashed save of this very process would have left: the next names it would use.
  const std::string stale = fs::path(mr::io::detail::temporary_beside(path)).string();
  std::ofstream(stale) << "stale";
  const std::string prefix = stale.substr(0, stale.rfind('-') + 1);
  const std::uint64_t n = std::stoull(stale.substr(stale.rfind('-') + 1));
  for (std::uint64_t k = n + 1; k < n + 4; ++k) std::ofstream(prefix + std::to_string(k)) << "stale";
  Blob blob{{9.0f}};
  mr::io::save_file(path, blob);
  Blob loaded;
  mr::io::load_file(path, loaded);
  CHECK(loaded.values == std::vector<float>{9.0f});
  CHECK(names_in(dir).size() == 5);  // the file and the 4 stale names, untouched
}
