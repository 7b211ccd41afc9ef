// Crash safety of save_file: a child process saves a model over and over and is killed with
// SIGKILL at a random moment, 100 times. After every kill the file must load, whole, as either
// the model that was there before the kill or one the child finished writing — never a mixture,
// never a truncated file.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_file.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "support/temp_dir.hpp"

namespace mr = marl_rec;
namespace fs = std::filesystem;

namespace {

// A model of 1 MiB whose every value is its generation number: a file mixing two saves, or cut
// short, cannot pass load's checks.
struct Generation {
  std::uint64_t number = 0;
  std::vector<float> values;

  static Generation of(std::uint64_t n) { return {n, std::vector<float>(std::size_t{1} << 18, static_cast<float>(n % 1000003))}; }
  void save(std::ostream& out) const {
    mr::io::ModelWriter w(out, "generation", 1);
    w.u64("number", number);
    w.floats("values", values);
    w.finish();
  }
  void load(std::istream& in) {
    mr::io::ModelReader r(in, "generation", 1);
    const std::uint64_t n = r.u64("number");
    std::vector<float> v = r.floats("values", std::size_t{1} << 18);
    r.finish();
    for (const float x : v) {
      if (x != static_cast<float>(n % 1000003)) throw mr::Error("generation: mixed values");
    }
    number = n;
    values = std::move(v);
  }
};

std::size_t remove_temporaries(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp-") != std::string::npos) {
      fs::remove(e.path());
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("save_file under SIGKILL: 100 kills at random moments, the file always holds a whole old or new model") {
  mr::test::TempDir dir;
  const fs::path path = dir.path("model.bin");
  const fs::path folder = path.parent_path();
  mr::io::save_file(path, Generation::of(0));
  // How long one save takes here: the kills are spread over a few saves.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) mr::io::save_file(path, Generation::of(0));
  const double save_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 3.0;

  mr::Rng rng(2026);
  std::uint64_t last = 0;  // the generation on disk before this round
  int kills_mid_save = 0, new_file = 0, failures = 0;
  for (int round = 0; round < 100; ++round) {
    const std::uint64_t base = static_cast<std::uint64_t>(round + 1) * 1'000'000;
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // The child: saves generations base+1, base+2, ... until it is killed. It must never
      // return into the test framework (which would go on running tests in the child).
      try {
        for (std::uint64_t g = base + 1;; ++g) mr::io::save_file(path, Generation::of(g));
      } catch (...) {
      }
      ::_exit(1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(
        static_cast<long>(rng.uniform(0.2, 3.0) * save_us)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    kills_mid_save += remove_temporaries(folder) > 0 ? 1 : 0;
    Generation loaded;
    try {
      mr::io::load_file(path, loaded);
    } catch (const mr::Error& e) {
      ++failures;
      MESSAGE("round " << round << ": " << e.what());
      continue;
    }
    // The old model, or one the child completed.
    const bool old = loaded.number == last;
    const bool completed = loaded.number > base && loaded.number < base + 1'000'000;
    CHECK((old || completed));
    new_file += completed ? 1 : 0;
    last = loaded.number;
  }
  CHECK(failures == 0);
  // The test means something only if many kills landed while a save was under way (61 of 100
  // here; the rest fall between saves, in the rename and the directory flush).
  CHECK(kills_mid_save >= 25);
  MESSAGE("one save of 1 MiB: " << save_us << " us; kills while a temporary existed: " << kills_mid_save
                                << "/100; rounds after which the file was a new one: " << new_file);
}
