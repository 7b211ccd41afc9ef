// marl_rec — the MPI communicator the distributed parts run on: a private duplicate of the
// caller's communicator whose errors are returned (not fatal), and the checks that turn every
// MPI return code into a marl_rec::Error naming the call and the rank.
//
// Optional: this header (and every header of marl_rec/dist/) needs <mpi.h>; CMake's target
// marl_rec::distributed (MARL_REC_BUILD_DISTRIBUTED, or find_package(marl_rec) of a package built
// with it) adds MPI. marl_rec neither initialises nor finalises MPI: MPI_Init may be called once
// per process, with a thread level and a launcher that only the application knows, and other
// libraries of the same program may need MPI too. The application calls MPI_Init (or
// MPI_Init_thread) before making a Communicator and MPI_Finalize after the last one is gone.
#pragma once

#include <algorithm>
#include <climits>
#include <cstddef>
#include <string>
#include <utility>

#include <mpi.h>

#include "marl_rec/core/error.hpp"

namespace marl_rec::dist {

namespace detail {

/// MPI's text for an error code ("error code N" when MPI has none).
inline std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS || length <= 0) {
    return "error code " + std::to_string(code);
  }
  return std::string(text, static_cast<std::size_t>(length));
}

/// Throws Error "<where>: <call> failed on rank <rank>: <MPI's text>" unless code is MPI_SUCCESS.
inline void check_mpi(int code, const char* where, const char* call, int rank) {
  if (code == MPI_SUCCESS) return;
  throw Error(std::string(where) + ": " + call + " failed on rank " + std::to_string(rank) + ": " +
              mpi_error_text(code));
}

/// The largest element count one MPI call takes (counts are int).
inline constexpr std::size_t max_mpi_count = static_cast<std::size_t>(INT_MAX);

}  // namespace detail

/// A private duplicate of a caller's communicator, for marl_rec's collectives: its messages
/// never match the caller's (MPI_Comm_dup gives a new context), and its error handler is
/// MPI_ERRORS_RETURN, so that every failing MPI call becomes a marl_rec::Error naming the call
/// and the rank instead of aborting the job. (MPI_Comm_dup itself still runs under the parent's
/// handler, MPI_ERRORS_ARE_FATAL by default.)
///
/// Construction and destruction are collective over the parent's ranks (MPI_Comm_dup and
/// MPI_Comm_free): every rank makes and destroys its Communicator at the same point, and all of
/// them are destroyed before MPI_Finalize. Not thread-safe: one thread uses it at a time.
///
/// After an Error thrown by a failed MPI call the communicator may be unusable (MPI promises
/// little after an error); an application normally reports the error and calls MPI_Abort.
/// Errors from invalid arguments are different: the distributed functions first agree on their
/// arguments across ranks (agree()), so every rank throws the same kind of Error at the same
/// point and the communicator stays usable.
class Communicator {
 public:
  /// A duplicate of `parent` (e.g. MPI_COMM_WORLD). Throws Error when MPI is not initialised
  /// or already finalised, or when a call fails.
  explicit Communicator(MPI_Comm parent) {
    constexpr const char* where = "dist::Communicator";
    int initialized = 0, finalized = 0;
    detail::check_mpi(MPI_Initialized(&initialized), where, "MPI_Initialized", -1);
    detail::check_mpi(MPI_Finalized(&finalized), where, "MPI_Finalized", -1);
    marl_rec::detail::require(initialized != 0 && finalized == 0, [&] {
      return std::string(where) + ": MPI is " + (finalized != 0 ? "already finalised" : "not initialised") +
             " (the application calls MPI_Init before and MPI_Finalize after marl_rec's MPI use)";
    });
    detail::check_mpi(MPI_Comm_dup(parent, &comm_), where, "MPI_Comm_dup", -1);
    // From here on the duplicate exists: free it if anything else fails.
    try {
      detail::check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), where,
                        "MPI_Comm_set_errhandler", -1);
      detail::check_mpi(MPI_Comm_rank(comm_, &rank_), where, "MPI_Comm_rank", -1);
      detail::check_mpi(MPI_Comm_size(comm_, &size_), where, "MPI_Comm_size", rank_);
    } catch (...) {
      MPI_Comm_free(&comm_);
      throw;
    }
  }

  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  /// Takes over `other`'s communicator (other is left without one).
  Communicator(Communicator&& other) noexcept
      : comm_(std::exchange(other.comm_, MPI_COMM_NULL)), rank_(other.rank_), size_(other.size_) {}
  /// Frees this communicator (collective, as the destructor) and takes over `other`'s.
  Communicator& operator=(Communicator&& other) noexcept {
    if (this != &other) {
      release();
      comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
      rank_ = other.rank_;
      size_ = other.size_;
    }
    return *this;
  }
  /// Frees the duplicate (MPI_Comm_free; its failure cannot be reported from a destructor and
  /// is ignored).
  ~Communicator() { release(); }

  /// The MPI communicator (MPI_COMM_NULL after a move).
  MPI_Comm get() const noexcept { return comm_; }
  /// This process's rank.
  int rank() const noexcept { return rank_; }
  /// The number of ranks.
  int size() const noexcept { return size_; }

  /// Throws Error "<where>: <call> failed on rank R: <text>" unless `code` is MPI_SUCCESS.
  void check(int code, const char* where, const char* call) const {
    detail::check_mpi(code, where, call, rank_);
  }

 private:
  void release() noexcept {
    int finalized = 1;
    if (comm_ != MPI_COMM_NULL && MPI_Finalized(&finalized) == MPI_SUCCESS && finalized == 0) {
      MPI_Comm_free(&comm_);
    }
    comm_ = MPI_COMM_NULL;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

/// Collective: every rank passes the error its own checks found ("" when none), and every rank
/// throws when any rank found one, so that no rank enters a collective that another has left.
/// A rank with an error throws its own message; the others throw "<where>: rank R rejected the
/// call (its error: <R's message, cut at 200 characters>)" for the lowest such rank R.
inline void agree(const Communicator& comm, const char* where, const std::string& local_error) {
  // The lowest failing rank, and its message's first bytes, in one reduction each.
  const int mine = local_error.empty() ? comm.size() : comm.rank();
  int first = 0;
  comm.check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm.get()), where, "MPI_Allreduce");
  if (first == comm.size()) return;
  constexpr int excerpt_size = 200;
  char excerpt[excerpt_size + 1] = {};
  if (comm.rank() == first) {
    local_error.copy(excerpt, std::min<std::size_t>(local_error.size(), excerpt_size));
  }
  comm.check(MPI_Bcast(excerpt, excerpt_size, MPI_CHAR, first, comm.get()), where, "MPI_Bcast");
  if (!local_error.empty()) throw Error(local_error);
  throw Error(std::string(where) + ": rank " + std::to_string(first) +
              " rejected the call (its error: " + std::string(excerpt) + ")");
}

}  // namespace marl_rec::dist
