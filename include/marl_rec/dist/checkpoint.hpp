// marl_rec — checkpoints of a job whose state is spread over MPI ranks: each rank saves its own
// part (its models, its copy of the averager, ...) to its own file with the persistence layer's
// atomic save (io::save_file), and a restart loads, on every rank, the newest round that every
// rank saved completely.
//
// Why it is consistent: a rank deletes its older checkpoints only after every rank has reported
// its save of round R complete (one dist::agree). So at any moment each rank holds its newest
// complete round and, if a save of a newer round was under way on some rank, also the round
// before; the newest round every rank holds (the minimum over the ranks of each rank's newest)
// is then held by every rank. A job killed at any moment restarts from that round, losing only
// the work done since it.
//
// Needs MPI (see dist/communicator.hpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <mpi.h>

#include "marl_rec/core/error.hpp"
#include "marl_rec/dist/communicator.hpp"
#include "marl_rec/io/model_file.hpp"

namespace marl_rec::dist {

/// The checkpoint files of one job in one folder (shared by the ranks or not: each rank writes
/// and reads only its own files, `rank<R>-of-<S>.round<N>.mrec` for rank R of a job of S ranks).
/// A job's state is split over its ranks, so a restart must have the same number of ranks:
/// latest_round() refuses a folder holding checkpoints of another rank count (rather than start
/// afresh and lose them, or load a part of the state). Collective members are called by every
/// rank at the same point; a failure on any rank throws Error on every rank (that rank's with
/// the details, naming the path).
class CheckpointFiles {
 public:
  /// The checkpoints of this rank of `comm` in `folder` (created if missing, by save()).
  /// `comm` must outlive this object. Local.
  CheckpointFiles(const Communicator& comm, std::filesystem::path folder)
      : comm_(&comm), folder_(std::move(folder)) {}

  /// The file of `rank`'s checkpoint of round `round`.
  std::filesystem::path path(int rank, std::uint64_t round) const {
    return folder_ / (prefix(rank) + std::to_string(round) + ".mrec");
  }

  /// Collective: saves `object` (`object.save(std::ostream&) const`, one stream) as this rank's
  /// checkpoint of round `round` (io::save_file: atomic), waits until every rank has saved, then
  /// removes this rank's checkpoints of other rounds. Throws Error on every rank when any rank's
  /// save failed (nothing is removed then).
  template <class T>
  void save(std::uint64_t round, const T& object) {
    constexpr const char* where = "dist::CheckpointFiles::save";
    std::string error;
    try {
      std::filesystem::create_directories(folder_);
      io::save_file(path(comm_->rank(), round), object);
    } catch (const std::exception& e) {
      error = std::string(where) + ": rank " + std::to_string(comm_->rank()) + ": " + e.what();
    }
    agree(*comm_, where, error);
    // Every rank holds round `round` now: the older ones are not needed any more. (Best effort,
    // and it never throws: a file left behind is harmless, a later save removes it.)
    remove_rounds([round](std::uint64_t r) { return r != round; });
  }

  /// Collective: the newest round of which every rank holds a checkpoint, or nothing when no
  /// round is held by every rank (a fresh start). Ranks may hold different sets of rounds (a
  /// save interrupted in one run, another in the next): the answer is in every rank's set.
  /// Throws Error on every rank when any rank sees, in its folder, a checkpoint of a job with
  /// another number of ranks (naming the file).
  std::optional<std::uint64_t> latest_round() const {
    constexpr const char* where = "dist::CheckpointFiles::latest_round";
    // Every local failure (a folder that cannot be read, bad_alloc) is agreed on, so that no rank
    // leaves the others in the reduction below.
    std::vector<std::uint64_t> rounds;
    std::string error;
    try {
      error = foreign_file_error(where);
      if (error.empty()) rounds = local_rounds();
    } catch (const std::exception& e) {
      error = std::string(where) + ": rank " + std::to_string(comm_->rank()) + ": listing '" +
              folder_.string() + "': " + e.what();
    }
    agree(*comm_, where, error);
    // Rounds shifted by one, so that 0 means "none" and MPI_MIN picks it. Each pass takes, over
    // the ranks, the smallest of each rank's newest round not above the candidate; the candidate
    // only falls, and it stays put exactly when every rank holds it. Every rank makes the same
    // passes (they depend on reduced values only).
    std::uint64_t candidate = std::numeric_limits<std::uint64_t>::max();
    for (;;) {
      std::uint64_t newest = 0;
      for (const std::uint64_t r : rounds) {
        if (r + 1 <= candidate) newest = std::max(newest, r + 1);
      }
      comm_->check(MPI_Allreduce(MPI_IN_PLACE, &newest, 1, MPI_UINT64_T, MPI_MIN, comm_->get()), where,
                   "MPI_Allreduce");
      if (newest == 0) return std::nullopt;
      if (newest == candidate) return newest - 1;
      candidate = newest;
    }
  }

  /// Collective: loads this rank's checkpoint of round `round` into `object`
  /// (`object.load(std::istream&)`, which may itself be collective, as a container holding an
  /// MpiFederatedAveraging is). Every rank first reads its whole file; when any rank cannot,
  /// every rank throws before any load. A load that throws on some rank throws Error on every
  /// rank; the object is then as its own load left it: unchanged where it failed (marl_rec's
  /// loads change nothing on failure), loaded on the ranks where it succeeded. A collective
  /// `object.load` must turn every local failure (any exception) into an agreed one, as
  /// MpiFederatedAveraging::load does, or one rank would leave the others in a collective.
  /// After a successful load, each rank deletes its checkpoints of rounds newer than `round`
  /// (left by saves that did not complete on every rank), so that later restarts cannot mix
  /// them with the history that continues from `round`.
  template <class T>
  void load(std::uint64_t round, T& object) const {
    constexpr const char* where = "dist::CheckpointFiles::load";
    const std::filesystem::path file = path(comm_->rank(), round);
    std::string bytes, error;
    {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        error = std::string(where) + ": rank " + std::to_string(comm_->rank()) + ": cannot open '" +
                file.string() + "'";
      } else {
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (in.bad()) error = std::string(where) + ": rank " + std::to_string(comm_->rank()) +
                              ": cannot read '" + file.string() + "'";
      }
    }
    agree(*comm_, where, error);
    try {
      std::istringstream in(bytes);
      object.load(in);
      if (in.peek() != std::char_traits<char>::eof()) {
        error = std::string(where) + ": rank " + std::to_string(comm_->rank()) + ": '" + file.string() +
                "' has bytes after its stream";
      }
    } catch (const std::exception& e) {
      error = std::string(where) + ": rank " + std::to_string(comm_->rank()) + ": loading '" +
              file.string() + "': " + e.what();
    }
    agree(*comm_, where, error);
    // Best effort, never throws: a file left behind only costs disk (latest_round() skips it).
    remove_rounds([round](std::uint64_t r) { return r > round; });
  }

 private:
  // The rounds of this rank's checkpoint files (names that parse exactly; temporaries of an
  // interrupted save, `<name>.tmp-…`, do not).
  // (Names with a leading zero are not ours: save() never writes one, and reading "007" as 7
  // would point at a file that does not exist.)
  std::vector<std::uint64_t> local_rounds() const {
    std::vector<std::uint64_t> rounds;
    const std::string rank = std::to_string(comm_->rank()), ranks = std::to_string(comm_->size());
    for (const std::string& name : file_names()) {
      const std::optional<FileName> f = parse(name);
      if (!f || f->rank != rank || f->ranks != ranks || f->round.size() > 19 ||
          (f->round.size() > 1 && f->round[0] == '0')) {
        continue;
      }
      rounds.push_back(std::stoull(std::string(f->round)));
    }
    return rounds;
  }

  // The names of the folder's entries (none when it does not exist). Throws Error when the
  // folder cannot be listed; never leaves an entry out silently.
  std::vector<std::string> file_names() const {
    std::vector<std::string> names;
    std::error_code ec;
    if (!std::filesystem::exists(folder_, ec) && !ec) return names;
    std::filesystem::directory_iterator it(folder_, ec);
    for (const std::filesystem::directory_iterator end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) throw Error("cannot list '" + folder_.string() + "': " + ec.message());
    return names;
  }

  // Removes this rank's checkpoints of the rounds r with drop(r); best effort, never throws.
  template <class Drop>
  void remove_rounds(Drop drop) const noexcept {
    try {
      for (const std::uint64_t r : local_rounds()) {
        if (!drop(r)) continue;
        std::error_code ignored;
        std::filesystem::remove(path(comm_->rank(), r), ignored);
      }
    } catch (...) {  // NOLINT(bugprone-empty-catch): leaving a file behind is harmless
    }
  }

  // "rank<R>-of-<S>.round", the start of `rank`'s file names in a job of S ranks.
  std::string prefix(int rank) const {
    return "rank" + std::to_string(rank) + "-of-" + std::to_string(comm_->size()) + ".round";
  }

  static bool all_digits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  }

  // The parts of a checkpoint's file name, `rank<R>-of-<S>.round<N>.mrec`, or of the name used
  // before the rank count was in it, `rank<R>.round<N>.mrec` (ranks empty); each part digits.
  struct FileName {
    std::string_view rank, ranks, round;
  };
  static std::optional<FileName> parse(std::string_view name) {
    if (!name.starts_with("rank") || !name.ends_with(".mrec")) return std::nullopt;
    name = name.substr(4, name.size() - 9);
    const std::size_t dot = name.find(".round");
    if (dot == std::string_view::npos) return std::nullopt;
    FileName f{.rank = name.substr(0, dot), .ranks = {}, .round = name.substr(dot + 6)};
    if (const std::size_t of = f.rank.find("-of-"); of != std::string_view::npos) {
      f.ranks = f.rank.substr(of + 4);
      f.rank = f.rank.substr(0, of);
      if (!all_digits(f.ranks)) return std::nullopt;
    }
    if (!all_digits(f.rank) || !all_digits(f.round)) return std::nullopt;
    return f;
  }

  // "" or an error naming a checkpoint in the folder (of any rank) that this job must not pass
  // over: one written by a job whose rank count S is not this job's, or one named as before the
  // rank count was in the name.
  std::string foreign_file_error(const char* where) const {
    const std::string ranks = std::to_string(comm_->size());
    for (const std::string& name : file_names()) {
      const std::optional<FileName> f = parse(name);
      if (!f || f->ranks == ranks) continue;
      const std::string head = std::string(where) + ": rank " + std::to_string(comm_->rank()) + ": '" +
                               (folder_ / name).string() + "' ";
      if (f->ranks.empty()) {
        return head + "is named as by an earlier marl_rec (rank<R>.round<N>.mrec): rename it "
                      "rank<R>-of-<S>.round<N>.mrec, S the job's rank count, or remove it";
      }
      return head + "is a checkpoint of a job of " + std::string(f->ranks) + " ranks, and this job has " +
             ranks + ": restart with " + std::string(f->ranks) +
             " ranks (the state is split over them), or use another folder";
    }
    return {};
  }

  const Communicator* comm_;
  std::filesystem::path folder_;
};

}  // namespace marl_rec::dist
