// dist::CheckpointFiles (run under mpiexec with any number of ranks): the newest round that
// every rank holds is the one restarted from, also when a save was interrupted on some ranks;
// a save removes the older rounds only once every rank has saved; a missing or damaged file on
// one rank is an Error on every rank.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <optional>
#include <ostream>
#include <string>

#include <mpi.h>
#include <unistd.h>

#include "marl_rec/core/error.hpp"
#include "marl_rec/dist/checkpoint.hpp"
#include "marl_rec/dist/communicator.hpp"
#include "marl_rec/io/model_file.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::dist::CheckpointFiles;
using marl_rec::dist::Communicator;
using marl_rec::test::error_of;

// A rank's state: one number.
struct Counter {
  std::uint64_t value = 0;
  void save(std::ostream& out) const {
    marl_rec::io::ModelWriter w(out, "counter", 1);
    w.u64("value", value);
    w.finish();
  }
  void load(std::istream& in) {
    marl_rec::io::ModelReader r(in, "counter", 1);
    const std::uint64_t v = r.u64("value");
    r.finish();
    value = v;
  }
};

// A fresh folder, the same on every rank (named after rank 0's process id).
std::filesystem::path fresh_folder(const Communicator& comm, const char* name) {
  long long pid = comm.rank() == 0 ? static_cast<long long>(::getpid()) : 0;
  MPI_Bcast(&pid, 1, MPI_LONG_LONG, 0, comm.get());
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / ("marl_rec_" + std::string(name) + "_" + std::to_string(pid));
  if (comm.rank() == 0) std::filesystem::remove_all(folder);
  MPI_Barrier(comm.get());
  return folder;
}

}  // namespace

TEST_CASE("CheckpointFiles: restart from the newest round every rank saved, older rounds removed after a save") {
  const Communicator comm(MPI_COMM_WORLD);
  const std::filesystem::path folder = fresh_folder(comm, "checkpoint_rounds");
  CheckpointFiles files(comm, folder);
  CHECK_FALSE(files.latest_round().has_value());  // nothing saved: a fresh start

  Counter state{100 + static_cast<std::uint64_t>(comm.rank())};
  files.save(2, state);
  CHECK(std::filesystem::exists(files.path(comm.rank(), 2)));
  CHECK(files.latest_round() == std::optional<std::uint64_t>(2));

  // Round 4's save reached rank 0 only (the job died during it): round 2 is the restart point,
  // and every rank still has it.
  if (comm.rank() == 0) marl_rec::io::save_file(files.path(0, 4), Counter{999});
  MPI_Barrier(comm.get());
  CHECK(files.latest_round() == std::optional<std::uint64_t>(comm.size() == 1 ? 4 : 2));
  Counter loaded;
  files.load(2, loaded);
  CHECK(loaded.value == 100 + static_cast<std::uint64_t>(comm.rank()));

  // A complete save of round 6 removes rounds 2 and 4.
  state.value = 600 + static_cast<std::uint64_t>(comm.rank());
  files.save(6, state);
  CHECK(files.latest_round() == std::optional<std::uint64_t>(6));
  CHECK_FALSE(std::filesystem::exists(files.path(comm.rank(), 2)));
  CHECK_FALSE(std::filesystem::exists(files.path(comm.rank(), 4)));
  // A stray temporary of an interrupted save is not a checkpoint.
  std::ofstream(files.path(comm.rank(), 8).string() + ".tmp-1-1") << "partial";
  CHECK(files.latest_round() == std::optional<std::uint64_t>(6));
  MPI_Barrier(comm.get());
  if (comm.rank() == 0) std::filesystem::remove_all(folder);
}

TEST_CASE("CheckpointFiles: interrupted saves in two runs leave different newer rounds: the restart point is held by every rank") {
  const Communicator comm(MPI_COMM_WORLD);
  if (comm.size() < 2) return;  // one rank holds every round it saved
  const std::filesystem::path folder = fresh_folder(comm, "checkpoint_two_runs");
  CheckpointFiles files(comm, folder);
  files.save(4, Counter{40 + static_cast<std::uint64_t>(comm.rank())});
  // Run 1 died during round 7's save (it reached rank 0 only); run 2, resumed from 4, died
  // during round 6's save (it reached the last rank only).
  const int last = comm.size() - 1;
  if (comm.rank() == 0) marl_rec::io::save_file(files.path(0, 7), Counter{70});
  if (comm.rank() == last) marl_rec::io::save_file(files.path(last, 6), Counter{60});
  MPI_Barrier(comm.get());
  CHECK(files.latest_round() == std::optional<std::uint64_t>(4));
  Counter loaded;
  files.load(4, loaded);
  CHECK(loaded.value == 40 + static_cast<std::uint64_t>(comm.rank()));
  // The load removed the newer rounds of the abandoned histories.
  CHECK_FALSE(std::filesystem::exists(files.path(comm.rank(), 6)));
  CHECK_FALSE(std::filesystem::exists(files.path(comm.rank(), 7)));
  CHECK(std::filesystem::exists(files.path(comm.rank(), 4)));
  MPI_Barrier(comm.get());
  if (comm.rank() == 0) std::filesystem::remove_all(folder);
}

TEST_CASE("CheckpointFiles: checkpoints of a job with another rank count are an Error on every rank, not a fresh start") {
  const Communicator comm(MPI_COMM_WORLD);
  const std::filesystem::path folder = fresh_folder(comm, "checkpoint_rank_count");
  CheckpointFiles files(comm, folder);
  files.save(5, Counter{5});
  CHECK(files.latest_round() == std::optional<std::uint64_t>(5));
  // The folder also holds a file of a job of size + 1 ranks: every rank refuses to restart from
  // this folder.
  const std::string other = std::to_string(comm.size() + 1);
  const std::filesystem::path foreign = folder / ("rank0-of-" + other + ".round9.mrec");
  if (comm.rank() == 0) marl_rec::io::save_file(foreign, Counter{9});
  MPI_Barrier(comm.get());
  const std::string message = error_of([&] { (void)files.latest_round(); });
  CHECK(message.find("dist::CheckpointFiles::latest_round") != std::string::npos);
  // (Every rank here sees the one folder, so each names the file itself.)
  CHECK(message.find("'" + foreign.string() + "' is a checkpoint of a job of " + other + " ranks") !=
        std::string::npos);
  MPI_Barrier(comm.get());
  if (comm.rank() == 0) std::filesystem::remove(foreign);
  MPI_Barrier(comm.get());
  CHECK(files.latest_round() == std::optional<std::uint64_t>(5));

  // A file named as before the rank count was in the name is refused too (not passed over).
  const std::filesystem::path legacy = folder / "rank0.round9.mrec";
  if (comm.rank() == 0) marl_rec::io::save_file(legacy, Counter{9});
  MPI_Barrier(comm.get());
  CHECK(error_of([&] { (void)files.latest_round(); }).find("is named as by an earlier marl_rec") !=
        std::string::npos);
  MPI_Barrier(comm.get());
  if (comm.rank() == 0) std::filesystem::remove(legacy);
  // A round with a leading zero is not a name save() writes: not read as round 7.
  marl_rec::io::save_file(folder / ("rank" + std::to_string(comm.rank()) + "-of-" + std::to_string(comm.size()) +
                                    ".round007.mrec"),
                          Counter{7});
  MPI_Barrier(comm.get());
  CHECK(files.latest_round() == std::optional<std::uint64_t>(5));
  MPI_Barrier(comm.get());
  if (comm.rank() == 0) std::filesystem::remove_all(folder);
}

TEST_CASE("CheckpointFiles: a missing or damaged file on one rank is an Error on every rank") {
  const Communicator comm(MPI_COMM_WORLD);
  const std::filesystem::path folder = fresh_folder(comm, "checkpoint_damage");
  CheckpointFiles files(comm, folder);
  files.save(3, Counter{7});
  const int last = comm.size() - 1;
  const std::string last_s = std::to_string(last);
  const std::string path = files.path(last, 3).string();

  // Damaged: one byte flipped (the CRC catches it).
  if (comm.rank() == last) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-6, std::ios::end);
    f.put('\x5A');
  }
  MPI_Barrier(comm.get());
  Counter loaded{1};
  const std::string damaged = error_of([&] { files.load(3, loaded); });
  if (comm.rank() == last) {
    CHECK(damaged.rfind("dist::CheckpointFiles::load: rank " + last_s + ": loading '" + path + "': ", 0) == 0);
  } else {
    CHECK(damaged.rfind("dist::CheckpointFiles::load: rank " + last_s + " rejected the call", 0) == 0);
  }

  // Missing.
  if (comm.rank() == last) std::filesystem::remove(path);
  MPI_Barrier(comm.get());
  const std::string missing = error_of([&] { files.load(3, loaded); });
  if (comm.rank() == last) {
    CHECK(missing == "dist::CheckpointFiles::load: rank " + last_s + ": cannot open '" + path + "'");
  } else {
    CHECK(missing.rfind("dist::CheckpointFiles::load: rank " + last_s + " rejected the call", 0) == 0);
  }
  CHECK_FALSE(files.latest_round().has_value());  // the last rank holds no checkpoint any more
  MPI_Barrier(comm.get());
  if (comm.rank() == 0) std::filesystem::remove_all(folder);
}
