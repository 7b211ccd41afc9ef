// dist::sharded_score_top_k and its batch variant (run under mpiexec with any number of ranks):
// the result equals simd::score_top_k / score_top_k_batch on the whole catalog in one process —
// the same items, order and score bits — for random catalogs, uneven and empty shards, k larger
// than a shard and than the catalog, ties, NaN rows and exclusions; the query comes from the
// root; bad calls throw the same Error on every rank and leave the communicator usable.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <mpi.h>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/dist/communicator.hpp"
#include "marl_rec/dist/sharded_top_k.hpp"
#include "marl_rec/simd/batch_top_k.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::MatrixView;
using marl_rec::MutableMatrixView;
using marl_rec::Rng;
using marl_rec::ScoredItem;
using marl_rec::dist::Communicator;
using marl_rec::test::error_of;

// Same index and same score bits, in the same order.
bool identical(std::span<const ScoredItem> a, std::span<const ScoredItem> b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].index != b[i].index ||
        std::bit_cast<std::uint32_t>(a[i].score) != std::bit_cast<std::uint32_t>(b[i].score)) {
      return false;
    }
  }
  return true;
}

// A catalog every rank builds alike from `seed`: `rows` × `dim` values; with `ties`, values
// from a small set so that many rows score the same; with `nan_rows`, every 7th row holds a NaN.
std::vector<float> catalog(std::size_t rows, std::size_t dim, std::uint64_t seed, bool ties,
                           bool nan_rows) {
  Rng rng(seed);
  std::vector<float> v(rows * dim);
  for (float& x : v) {
    x = ties ? static_cast<float>(rng.below(3)) - 1.0f : static_cast<float>(rng.normal());
  }
  if (nan_rows) {
    for (std::size_t r = 3; r < rows; r += 7) v[r * dim] = std::numeric_limits<float>::quiet_NaN();
  }
  return v;
}

// The shard boundaries of `rows` rows over `ranks` ranks, uneven and drawn from `seed` (some
// shards may be empty); shard r is [bounds[r], bounds[r + 1]).
std::vector<std::size_t> shard_bounds(std::size_t rows, int ranks, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::size_t> cuts(static_cast<std::size_t>(ranks) - 1);
  for (std::size_t& c : cuts) c = static_cast<std::size_t>(rng.below(rows + 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::size_t> bounds = {0};
  bounds.insert(bounds.end(), cuts.begin(), cuts.end());
  bounds.push_back(rows);
  return bounds;
}

// All ranks agree that `ok` holds on every rank (a CHECK on each rank that also fails the
// ranks where it held, so that rank 0's summary shows a failure anywhere).
bool on_every_rank(const Communicator& comm, bool ok) {
  int mine = ok ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm.get());
  return all == 1;
}

}  // namespace

TEST_CASE("sharded top-k: a row scores the same bits at any position of a shard (the premise)") {
  // The merge is exact only if a row's score does not depend on where its shard starts: the
  // kernel scores rows in blocks of the SIMD width, and a shard may start mid-block.
  for (const std::size_t dim : {1u, 2u, 3u, 4u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 32u, 33u, 64u, 100u, 128u, 256u}) {
    const std::size_t rows = 53;
    const std::vector<float> values = catalog(rows, dim, 7 + dim, false, false);
    const std::vector<float> query = catalog(1, dim, 99 + dim, false, false);
    const MatrixView whole(values, rows, dim);
    std::vector<float> expected(rows);
    marl_rec::simd::score(query, whole, expected);
    for (std::size_t offset = 1; offset <= 17; ++offset) {
      const MatrixView shard(std::span<const float>(values).subspan(offset * dim), rows - offset, dim);
      std::vector<float> got(rows - offset);
      marl_rec::simd::score(query, shard, got);
      bool same = true;
      for (std::size_t r = 0; r < got.size(); ++r) {
        same = same && std::bit_cast<std::uint32_t>(got[r]) ==
                           std::bit_cast<std::uint32_t>(expected[offset + r]);
      }
      CHECK_MESSAGE(same, "dim " << dim << ", shard from row " << offset);
    }
  }
}

TEST_CASE("sharded top-k equals single-process top-k exactly: random catalogs, uneven shards, any k") {
  const Communicator comm(MPI_COMM_WORLD);
  const int ranks = comm.size();
  std::uint64_t seed = 1;
  std::size_t cases = 0;
  for (const std::size_t rows : {0u, 1u, 5u, 37u, 200u, 1000u}) {
    for (const std::size_t dim : {1u, 3u, 8u, 16u, 17u, 64u, 100u}) {
      for (const bool ties : {false, true}) {
        ++seed;
        const bool nan_rows = seed % 3 == 0;
        const std::vector<float> values = catalog(rows, dim, seed, ties, nan_rows);
        const std::vector<std::size_t> bounds = shard_bounds(rows, ranks, seed * 31);
        const auto r = static_cast<std::size_t>(comm.rank());
        const std::size_t offset = bounds[r], local_rows = bounds[r + 1] - bounds[r];
        const MatrixView whole(values, rows, dim);
        const MatrixView local(std::span<const float>(values).subspan(offset * dim), local_rows, dim);
        const int root = static_cast<int>(seed % static_cast<std::uint64_t>(ranks));
        // Only the root holds the real query; the others' buffers hold garbage until the broadcast.
        const std::vector<float> real_query = catalog(1, dim, seed + 1000, ties, false);
        for (const std::size_t k : {std::size_t{1}, std::size_t{3}, rows / 2 + 1, rows, rows + 7}) {
          std::vector<float> query(dim, -12345.0f);
          if (comm.rank() == root) query = real_query;
          std::vector<ScoredItem> expected(std::min(k, rows));
          const std::size_t n_expected = marl_rec::simd::score_top_k(real_query, whole, k, expected);
          std::vector<ScoredItem> got(std::min(k, rows));
          const std::size_t n_got =
              marl_rec::dist::sharded_score_top_k(comm, query, local, offset, k, got, root);
          const bool ok = n_got == n_expected &&
                          identical(std::span(got).first(n_got), std::span(expected).first(n_expected)) &&
                          query == real_query;
          CHECK_MESSAGE(on_every_rank(comm, ok), "rows " << rows << ", dim " << dim << ", k " << k
                                                         << ", ties " << ties << ", rank " << comm.rank());
          ++cases;
        }
      }
    }
  }
  CHECK(cases == 6 * 7 * 2 * 5);
}

TEST_CASE("sharded top-k: an exclusion sees global indices, and k may be larger than every shard") {
  const Communicator comm(MPI_COMM_WORLD);
  const std::size_t rows = 23, dim = 5;
  const std::vector<float> values = catalog(rows, dim, 4242, true, false);
  // Equal shards of at most 23 / ranks rows; k = 15 is larger than each shard from 2 ranks on.
  const auto p = static_cast<std::size_t>(comm.size()), r = static_cast<std::size_t>(comm.rank());
  const std::size_t offset = rows * r / p, local_rows = rows * (r + 1) / p - offset;
  const MatrixView local(std::span<const float>(values).subspan(offset * dim), local_rows, dim);
  marl_rec::ItemBitset excluded(rows);
  for (const std::size_t i : {0u, 4u, 5u, 11u, 22u}) excluded.insert(i);
  std::vector<float> query = catalog(1, dim, 17, false, false);
  const std::size_t k = 15;
  std::vector<ScoredItem> expected(k), got(k);
  const std::size_t n_expected =
      marl_rec::simd::score_top_k(query, MatrixView(values, rows, dim), k, expected, excluded.view());
  const std::size_t n_got =
      marl_rec::dist::sharded_score_top_k(comm, query, local, offset, k, got, 0, excluded.view());
  CHECK(n_got == n_expected);
  CHECK(identical(std::span(got).first(n_got), std::span(expected).first(n_expected)));
  for (std::size_t i = 0; i < n_got; ++i) CHECK_FALSE(excluded.contains(got[i].index));
}

TEST_CASE("sharded top-k batch equals single-process score_top_k_batch and score_top_k per query") {
  const Communicator comm(MPI_COMM_WORLD);
  const int ranks = comm.size();
  std::uint64_t seed = 500;
  for (const std::size_t rows : {3u, 64u, 301u}) {
    for (const std::size_t dim : {4u, 17u, 32u}) {
      for (const std::size_t nq : {1u, 3u, 9u}) {
        ++seed;
        const std::vector<float> values = catalog(rows, dim, seed, seed % 2 == 0, false);
        const std::vector<std::size_t> bounds = shard_bounds(rows, ranks, seed);
        const auto r = static_cast<std::size_t>(comm.rank());
        const MatrixView local(std::span<const float>(values).subspan(bounds[r] * dim),
                               bounds[r + 1] - bounds[r], dim);
        const std::vector<float> real_queries = catalog(nq, dim, seed + 7, false, false);
        // Strided query rows on every other rank, alternating with the seed: ranks with different
        // strides must still make matching MPI calls (a strided view is packed for the broadcast).
        const std::size_t stride = (seed + static_cast<std::uint64_t>(comm.rank())) % 2 == 1 ? dim + 3 : dim;
        std::vector<float> buffer(nq * stride, 0.0f);
        if (comm.rank() == 0) {
          for (std::size_t q = 0; q < nq; ++q) {
            std::copy_n(real_queries.begin() + static_cast<std::ptrdiff_t>(q * dim), dim,
                        buffer.begin() + static_cast<std::ptrdiff_t>(q * stride));
          }
        }
        const MutableMatrixView queries(buffer, nq, dim, stride);
        for (const std::size_t k : {std::size_t{1}, std::size_t{10}, rows + 1}) {
          // Every query excludes the items whose index is ≡ q (mod 5).
          const auto exclude = [](std::size_t q, std::size_t i) { return i % 5 == q % 5; };
          const std::size_t capacity = std::min(k, rows);
          std::vector<ScoredItem> expected(nq * capacity), got(nq * capacity);
          std::vector<std::size_t> expected_counts(nq), got_counts(nq);
          marl_rec::simd::score_top_k_batch(MatrixView(real_queries, nq, dim), MatrixView(values, rows, dim),
                                            k, expected, expected_counts, exclude);
          marl_rec::dist::sharded_score_top_k_batch(comm, queries, local, bounds[r], k, got, got_counts, 0,
                                                    exclude);
          bool ok = got_counts == expected_counts;
          // Every rank's query buffer now holds the root's queries.
          for (std::size_t q = 0; q < nq && ok; ++q) {
            ok = std::equal(real_queries.begin() + static_cast<std::ptrdiff_t>(q * dim),
                            real_queries.begin() + static_cast<std::ptrdiff_t>((q + 1) * dim),
                            buffer.begin() + static_cast<std::ptrdiff_t>(q * stride));
          }
          for (std::size_t q = 0; q < nq && ok; ++q) {
            ok = identical(std::span(got).subspan(q * capacity, got_counts[q]),
                           std::span(expected).subspan(q * capacity, expected_counts[q]));
            // And the single-query kernel's answer, the reference of both.
            std::vector<ScoredItem> single(capacity);
            const std::size_t n = marl_rec::simd::score_top_k(
                std::span<const float>(real_queries).subspan(q * dim, dim), MatrixView(values, rows, dim), k,
                single, [&](std::size_t i) { return exclude(q, i); });
            ok = ok && identical(std::span(single).first(n), std::span(got).subspan(q * capacity, got_counts[q]));
          }
          CHECK_MESSAGE(on_every_rank(comm, ok), "rows " << rows << ", dim " << dim << ", queries " << nq
                                                         << ", k " << k);
        }
      }
    }
  }
}

TEST_CASE("sharded top-k: bad calls throw the same Error on every rank, naming the rank at fault") {
  const Communicator comm(MPI_COMM_WORLD);
  const int last = comm.size() - 1;
  const std::size_t dim = 4, per = 6;
  const auto r = static_cast<std::size_t>(comm.rank());
  const std::vector<float> values = catalog(per * static_cast<std::size_t>(comm.size()), dim, 3, false, false);
  const MatrixView local(std::span<const float>(values).subspan(r * per * dim), per, dim);
  std::vector<float> query(dim, 1.0f);
  std::vector<ScoredItem> out(5);
  const auto call = [&](std::size_t offset, std::size_t k, std::span<float> q, std::span<ScoredItem> o,
                        MatrixView items, int root = 0) {
    return error_of([&] { marl_rec::dist::sharded_score_top_k(comm, q, items, offset, k, o, root); });
  };
  const std::string last_s = std::to_string(last);
  // Another k on the last rank.
  std::string e = call(r * per, comm.rank() == last && last > 0 ? 4 : 5, query, out, local);
  if (last > 0) {
    CHECK(e == "dist::sharded_score_top_k: rank " + last_s + " asks for k = 4, rank 0 for k = 5 (every rank "
               "must pass the same k)");
  } else {
    CHECK(e == "no error");
  }
  // The last rank's shard starts one row late (a gap), or early (an overlap).
  e = call(r * per + (comm.rank() == last ? 1 : 0), 5, query, out, local);
  if (last > 0) {
    CHECK(e.find("rank " + last_s + " holds rows from offset " + std::to_string(last * per + 1) +
                 ", but rank " + std::to_string(last - 1) + "'s shard ends at " + std::to_string(last * per) +
                 " (rows are missing between them)") != std::string::npos);
  } else {
    CHECK(e.find("the first shard must start at 0") != std::string::npos);
  }
  if (last > 0) {
    e = call(r * per - (comm.rank() == last ? 1 : 0), 5, query, out, local);
    CHECK(e.find("(the shards overlap)") != std::string::npos);
  }
  // A query buffer of the wrong size on the last rank.
  std::vector<float> short_query(dim - 1, 1.0f);
  e = call(r * per, 5, comm.rank() == last ? std::span<float>(short_query) : std::span<float>(query), out,
           local);
  CHECK(e == "dist::sharded_score_top_k: rank " + last_s + " has a query buffer of 3 values, d is 4");
  // Rows of another d on rank 0.
  const MatrixView narrow(std::span<const float>(values).subspan(r * per * dim), per, dim - 1);
  e = call(r * per, 5, query, out, comm.rank() == 0 ? narrow : local);
  if (last > 0) {
    CHECK(e.find("(every shard must have the same d)") != std::string::npos);
  } else {
    CHECK(e == "dist::sharded_score_top_k: rank 0 has a query buffer of 4 values, d is 3");
  }
  // An out too small on the last rank; a root that is not a rank.
  e = call(r * per, 5, query, comm.rank() == last ? std::span(out).first(4) : std::span(out), local);
  CHECK(e == "dist::sharded_score_top_k: rank " + last_s + " has room for 4 results in out, 5 are needed");
  e = call(r * per, 5, query, out, local, comm.size());
  CHECK(e == "dist::sharded_score_top_k: root " + std::to_string(comm.size()) + " is not a rank (there are " +
                 std::to_string(comm.size()) + ")");
  // The communicator is still usable: a good call gives the single-process answer.
  std::vector<ScoredItem> expected(5);
  marl_rec::simd::score_top_k(query, MatrixView(values, values.size() / dim, dim), 5, expected);
  CHECK(call(r * per, 5, query, out, local) == "no error");
  CHECK(identical(out, expected));
}

TEST_CASE("dist::agree: one rank's error makes every rank throw, and failed MPI calls are Errors") {
  const Communicator comm(MPI_COMM_WORLD);
  const int last = comm.size() - 1;
  const std::string e = error_of([&] {
    marl_rec::dist::agree(comm, "here", comm.rank() == last ? "here: rank " + std::to_string(last) + " is unhappy"
                                                             : std::string());
  });
  if (comm.rank() == last) {
    CHECK(e == "here: rank " + std::to_string(last) + " is unhappy");
  } else {
    CHECK(e == "here: rank " + std::to_string(last) + " rejected the call (its error: here: rank " +
                   std::to_string(last) + " is unhappy)");
  }
  CHECK(error_of([&] { marl_rec::dist::agree(comm, "here", ""); }) == "no error");
  // A failing MPI call becomes an Error naming it and the rank (the duplicate returns errors).
  int value = 0;
  const std::string bcast = error_of([&] {
    comm.check(MPI_Bcast(&value, 1, MPI_INT, comm.size() + 5, comm.get()), "test", "MPI_Bcast");
  });
  CHECK(bcast.rfind("test: MPI_Bcast failed on rank " + std::to_string(comm.rank()) + ": ", 0) == 0);
}
