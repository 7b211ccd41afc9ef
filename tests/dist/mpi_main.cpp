// The doctest runner of the MPI tests (tests/dist/): every rank runs every test case (the cases
// are collective), and the program fails on every rank when any rank had a failure, so that
// mpiexec's exit status and rank 0's summary cover all ranks. Rank 0 reports in full; the other
// ranks report their failures only (doctest's --minimal), each line of theirs naming the rank.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <exception>

#include <mpi.h>

int main(int argc, char** argv) {
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "MPI_Init_thread failed\n");
    return 2;
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int failed = 0;
  try {
    doctest::Context context(argc, argv);
    if (rank != 0) context.setOption("minimal", true);
    failed = context.run() != 0 ? 1 : 0;
    if (context.shouldExit()) {  // --help, --list-test-cases, ...: nothing ran
      MPI_Finalize();
      return failed;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
    failed = 1;
  }
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (failed != 0) std::fprintf(stderr, "rank %d of %d: test failures (see above)\n", rank, size);
  if (rank == 0) {
    std::printf("MPI tests on %d ranks: %s\n", size, any_failed != 0 ? "FAILED on some rank" : "passed on every rank");
  }
  MPI_Finalize();
  return any_failed;
}
