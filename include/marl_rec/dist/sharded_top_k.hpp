// marl_rec — fused score + top-k over an item matrix sharded across MPI ranks: each rank holds a
// contiguous slice of the rows, the query goes out from a root, each rank finds its local k best
// with the SIMD kernel, and every rank merges the gathered lists into the global k best — the
// result simd::score_top_k gives on the whole matrix in one process (items, order, score bits).
//
// Why the result is identical: the kernel scores a row with operations that depend on the row
// and the query only (simd/kernels.hpp, RowBlockScorer: a row's lane of a block is reduced
// from that row alone), so a row has the same score bits on whichever rank and at whichever
// position of its shard it is; every global top-k item is among its own shard's k best; and the
// merge orders by ranks_before (score descending, then global index ascending), the order of
// every marl_rec ranking. NaN scores never enter, as in the kernel.
//
// Needs MPI (see dist/communicator.hpp). The ranks are assumed to share one data representation
// (the (index, score) pairs travel as bytes): a homogeneous cluster, as Open MPI's default build
// assumes too.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <mpi.h>

#include "marl_rec/core/error.hpp"
#include "marl_rec/dist/communicator.hpp"
#include "marl_rec/simd/batch_top_k.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace marl_rec::dist {

namespace detail {

/// One (global index, score) pair on the wire; `valid` marks the filled entries of a block
/// (explicit fields: ScoredItem's padding bytes would be sent uninitialised).
struct WireItem {
  std::uint64_t index = 0;
  float score = 0.0f;
  std::uint32_t valid = 0;
};
static_assert(sizeof(WireItem) == 16, "WireItem travels as 16 bytes");

/// What each rank says about its part of a sharded call; every rank gathers every rank's, so
/// that all of them reach the same verdict on the arguments (and throw the same Error together).
struct ShardCall {
  std::uint64_t offset = 0;        // first global row of the shard
  std::uint64_t rows = 0;          // rows of the shard
  std::uint64_t cols = 0;          // columns of the shard (d; 0 allowed for an empty shard)
  std::uint64_t k = 0;
  std::uint64_t queries = 0;       // queries of the call (1 for the single-query call)
  std::uint64_t query_floats = 0;  // query values this rank's buffer holds (per query)
  std::uint64_t out_size = 0;      // room in this rank's `out`
  std::uint64_t counts_size = 0;   // room in this rank's `counts` (batch call)
  std::int64_t root = 0;
};
inline constexpr int shard_call_fields = 9;

/// The layout every rank agreed on.
struct ShardLayout {
  std::size_t total_rows = 0;  // rows of the whole catalog
  std::size_t dim = 0;         // d
  std::size_t capacity = 0;    // min(k, total_rows): results per query
  std::size_t block = 0;       // entries each rank sends per query: min(k, largest shard)
};

/// Gathers every rank's ShardCall and checks them all (every rank runs the same checks on the
/// same data, so either all return the same layout or all throw the same Error).
inline ShardLayout agree_on_shards(const Communicator& comm, const char* where, const ShardCall& mine,
                                   bool batch) {
  const auto p = static_cast<std::size_t>(comm.size());
  std::uint64_t packed[shard_call_fields] = {mine.offset,       mine.rows,     mine.cols,
                                             mine.k,            mine.queries,  mine.query_floats,
                                             mine.out_size,     mine.counts_size,
                                             static_cast<std::uint64_t>(mine.root)};
  std::vector<std::uint64_t> all(p * shard_call_fields);
  comm.check(MPI_Allgather(packed, shard_call_fields, MPI_UINT64_T, all.data(), shard_call_fields,
                           MPI_UINT64_T, comm.get()),
             where, "MPI_Allgather");
  std::vector<ShardCall> calls(p);
  for (std::size_t r = 0; r < p; ++r) {
    const std::uint64_t* f = all.data() + r * shard_call_fields;
    calls[r] = {f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], static_cast<std::int64_t>(f[8])};
  }
  const auto fail = [&](std::size_t rank, const std::string& what) {
    throw Error(std::string(where) + ": rank " + std::to_string(rank) + " " + what);
  };
  const ShardCall& first = calls[0];
  for (std::size_t r = 0; r < p; ++r) {
    if (calls[r].root != first.root) {
      fail(r, "names root " + std::to_string(calls[r].root) + ", rank 0 names root " +
                  std::to_string(first.root) + " (every rank must pass the same root)");
    }
    if (calls[r].k != first.k) {
      fail(r, "asks for k = " + std::to_string(calls[r].k) + ", rank 0 for k = " +
                  std::to_string(first.k) + " (every rank must pass the same k)");
    }
    if (calls[r].queries != first.queries) {
      fail(r, "has " + std::to_string(calls[r].queries) + " queries, rank 0 has " +
                  std::to_string(first.queries) + " (every rank must pass the same count)");
    }
  }
  if (first.root < 0 || first.root >= static_cast<std::int64_t>(p)) {
    throw Error(std::string(where) + ": root " + std::to_string(first.root) + " is not a rank (there are " +
                std::to_string(p) + ")");
  }
  ShardLayout layout;
  // d: the column count of the non-empty shards (all equal), else the root's query size.
  bool have_dim = false;
  for (std::size_t r = 0; r < p; ++r) {
    if (calls[r].rows == 0) continue;
    if (!have_dim) {
      layout.dim = static_cast<std::size_t>(calls[r].cols);
      have_dim = true;
    } else if (calls[r].cols != layout.dim) {
      fail(r, "holds rows of " + std::to_string(calls[r].cols) + " values, other ranks rows of " +
                  std::to_string(layout.dim) + " (every shard must have the same d)");
    }
  }
  if (!have_dim) layout.dim = static_cast<std::size_t>(calls[static_cast<std::size_t>(first.root)].query_floats);
  for (std::size_t r = 0; r < p; ++r) {
    if (calls[r].rows == 0 && calls[r].cols != 0 && calls[r].cols != layout.dim) {
      fail(r, "holds an empty shard of " + std::to_string(calls[r].cols) + " columns, the others have d = " +
                  std::to_string(layout.dim));
    }
    // (A batch of no queries may pass a 0 × 0 view.)
    if (calls[r].query_floats != layout.dim && !(batch && first.queries == 0)) {
      fail(r, std::string(batch ? "has query rows of " : "has a query buffer of ") +
                  std::to_string(calls[r].query_floats) + " values, d is " + std::to_string(layout.dim));
    }
  }
  // The shards, by offset, must tile [0, total) with neither gap nor overlap.
  std::vector<std::size_t> order(p);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return calls[a].offset != calls[b].offset ? calls[a].offset < calls[b].offset
                                              : calls[a].rows < calls[b].rows;
  });
  std::uint64_t next = 0;
  std::size_t previous = p;
  for (const std::size_t r : order) {
    if (calls[r].offset != next) {
      const std::string other =
          previous == p ? std::string("the first shard must start at 0")
                        : "rank " + std::to_string(previous) + "'s shard ends at " + std::to_string(next);
      fail(r, "holds rows from offset " + std::to_string(calls[r].offset) + ", but " + other +
                  (calls[r].offset < next ? " (the shards overlap)" : " (rows are missing between them)"));
    }
    if (calls[r].rows > std::numeric_limits<std::uint64_t>::max() - next) {
      fail(r, "holds a shard whose end overflows");
    }
    next += calls[r].rows;
    previous = r;
  }
  layout.total_rows = static_cast<std::size_t>(next);
  layout.capacity = static_cast<std::size_t>(std::min<std::uint64_t>(first.k, next));
  std::uint64_t largest = 0;
  for (const ShardCall& c : calls) largest = std::max(largest, c.rows);
  layout.block = static_cast<std::size_t>(std::min<std::uint64_t>(first.k, largest));
  const std::uint64_t queries = first.queries;
  for (std::size_t r = 0; r < p; ++r) {
    if (calls[r].out_size < queries * layout.capacity) {
      fail(r, "has room for " + std::to_string(calls[r].out_size) + " results in out, " +
                  std::to_string(queries * layout.capacity) + " are needed");
    }
    if (batch && calls[r].counts_size < queries) {
      fail(r, "has room for " + std::to_string(calls[r].counts_size) + " counts, " +
                  std::to_string(queries) + " are needed");
    }
  }
  // MPI counts are int: one rank's block of every query, in bytes, must fit.
  if (queries * layout.block > max_mpi_count / sizeof(WireItem) ||
      queries * layout.dim > max_mpi_count) {
    throw Error(std::string(where) + ": " + std::to_string(queries) + " queries with k = " +
                std::to_string(first.k) + " and d = " + std::to_string(layout.dim) +
                " exceed one MPI message (split the batch)");
  }
  return layout;
}

/// Gathers every rank's `queries` blocks of `layout.block` entries (`local` holds this rank's,
/// query q's at q * block) and merges them per query into `out` (query q's at
/// q * layout.capacity), best first by ranks_before; counts[q] gets how many.
inline void gather_and_merge(const Communicator& comm, const char* where, const ShardLayout& layout,
                             std::size_t queries, const std::vector<WireItem>& local,
                             std::span<ScoredItem> out, std::span<std::size_t> counts) {
  const auto p = static_cast<std::size_t>(comm.size());
  const std::size_t per_rank = queries * layout.block;
  std::vector<WireItem> all(p * per_rank);
  const int bytes = static_cast<int>(per_rank * sizeof(WireItem));
  comm.check(MPI_Allgather(local.data(), bytes, MPI_BYTE, all.data(), bytes, MPI_BYTE, comm.get()),
             where, "MPI_Allgather");
  for (std::size_t q = 0; q < queries; ++q) {
    marl_rec::detail::TopKBuffer<> top(out.data() + q * layout.capacity, layout.capacity);
    for (std::size_t r = 0; r < p; ++r) {
      const WireItem* block = all.data() + r * per_rank + q * layout.block;
      for (std::size_t i = 0; i < layout.block && block[i].valid != 0; ++i) {
        if (block[i].score >= top.threshold()) {
          top.offer(static_cast<std::size_t>(block[i].index), block[i].score);
        }
      }
    }
    counts[q] = top.finish();
  }
}

}  // namespace detail

/// Collective over `comm`: the min(k, eligible) best items of the whole catalog for one query,
/// best first, written to the front of `out` on every rank; returns how many (the same on every
/// rank). Exactly simd::score_top_k(query, whole catalog, k, out, exclude) of one process.
///
/// - `query`: on rank `root`, the query (d values); on every other rank, a buffer of d values
///   that receives it (MPI_Bcast semantics: the root's values are the ones scored everywhere).
/// - `local_items`: this rank's rows of the catalog, which are global rows [offset, offset +
///   local_items.rows()). The shards of all ranks must tile [0, total rows) without gap or
///   overlap (any rank order; an empty shard is allowed), all with d columns.
/// - `exclude(i)`, with i a global row index, is called on this rank for its own rows only. It
///   must not throw: a rank that left the call would leave the others waiting in the gather.
/// - `out` needs min(k, total rows) elements on every rank.
///
/// Every rank checks every rank's arguments (one MPI_Allgather), so an invalid call throws the
/// same marl_rec::Error on every rank, naming the rank at fault: different k, queries or roots,
/// a d mismatch, shards with a gap or an overlap, an `out` too small. A failing MPI call throws
/// Error naming the call and the rank. Then one MPI_Bcast (the query) and one MPI_Allgather
/// (min(k, largest shard) pairs per rank). Allocates the gathered pairs (ranks × that).
template <ItemExclusion Exclude = NoExclusion>
std::size_t sharded_score_top_k(const Communicator& comm, std::span<float> query, MatrixView local_items,
                                std::size_t offset, std::size_t k, std::span<ScoredItem> out,
                                int root = 0, const Exclude& exclude = {}) {
  constexpr const char* where = "dist::sharded_score_top_k";
  detail::ShardCall mine;
  mine.offset = offset;
  mine.rows = local_items.rows();
  mine.cols = local_items.cols();
  mine.k = k;
  mine.queries = 1;
  mine.query_floats = query.size();
  mine.out_size = out.size();
  mine.counts_size = 1;
  mine.root = root;
  const detail::ShardLayout layout = detail::agree_on_shards(comm, where, mine, false);
  // The query goes out even when there is nothing to score: the caller's buffer receives it.
  comm.check(MPI_Bcast(query.data(), static_cast<int>(layout.dim), MPI_FLOAT, root, comm.get()), where,
             "MPI_Bcast");
  if (layout.capacity == 0) return 0;
  // The local k best go to the front of `out` (it has room for min(k, total) ≥ min(k, local)).
  const auto global_exclude = [&](std::size_t i) { return static_cast<bool>(exclude(offset + i)); };
  const std::size_t found = local_items.rows() == 0
                                ? 0
                                : simd::score_top_k(std::span<const float>(query), local_items, k, out,
                                                    global_exclude);
  std::vector<detail::WireItem> local(layout.block);
  for (std::size_t i = 0; i < found; ++i) local[i] = {offset + out[i].index, out[i].score, 1};
  std::size_t count = 0;
  detail::gather_and_merge(comm, where, layout, 1, local, out, std::span<std::size_t>(&count, 1));
  return count;
}

/// Collective over `comm`: sharded_score_top_k for every row of `queries` (Q × d) at once, each
/// rank scanning its shard once per batch with simd::score_top_k_batch. On rank `root`,
/// `queries` holds the queries; on every other rank it is a Q × d buffer that receives them.
/// Query q's results are at out[q * min(k, total rows) ...], counts[q] of them, on every rank:
/// exactly score_top_k_batch (and score_top_k per query) on the whole catalog in one process.
/// `exclude(q, i)` takes a global row index i and must not throw. `out` needs Q × min(k, total rows) elements and
/// `counts` Q, on every rank. Errors as sharded_score_top_k (every rank, naming the one at
/// fault; also a different Q on some rank). One MPI_Allgather of the arguments, one MPI_Bcast
/// of the queries (a strided view is packed into a copy first), one MPI_Allgather of Q ×
/// min(k, largest shard) pairs per rank.
template <BatchItemExclusion Exclude = NoExclusion>
void sharded_score_top_k_batch(const Communicator& comm, MutableMatrixView queries, MatrixView local_items,
                               std::size_t offset, std::size_t k, std::span<ScoredItem> out,
                               std::span<std::size_t> counts, int root = 0, const Exclude& exclude = {}) {
  constexpr const char* where = "dist::sharded_score_top_k_batch";
  detail::ShardCall mine;
  mine.offset = offset;
  mine.rows = local_items.rows();
  mine.cols = local_items.cols();
  mine.k = k;
  mine.queries = queries.rows();
  mine.query_floats = queries.cols();
  mine.out_size = out.size();
  mine.counts_size = counts.size();
  mine.root = root;
  const detail::ShardLayout layout = detail::agree_on_shards(comm, where, mine, true);
  const std::size_t nq = queries.rows();
  std::fill(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(nq), std::size_t{0});
  if (nq == 0) return;
  // One broadcast of Q × d floats on every rank, whatever each rank's own stride: a strided view
  // is packed (root) or unpacked (the others) locally, so the ranks' MPI calls always match.
  const bool contiguous = queries.stride() == queries.cols();
  std::vector<float> packed;
  float* buffer = queries.data();
  if (!contiguous) {
    packed.resize(nq * layout.dim);
    if (comm.rank() == root) {
      for (std::size_t q = 0; q < nq; ++q) std::copy_n(queries.row(q).begin(), layout.dim, packed.begin() + static_cast<std::ptrdiff_t>(q * layout.dim));
    }
    buffer = packed.data();
  }
  comm.check(MPI_Bcast(buffer, static_cast<int>(nq * layout.dim), MPI_FLOAT, root, comm.get()), where,
             "MPI_Bcast");
  if (!contiguous && comm.rank() != root) {
    for (std::size_t q = 0; q < nq; ++q) {
      std::copy_n(packed.begin() + static_cast<std::ptrdiff_t>(q * layout.dim), layout.dim, queries.row(q).begin());
    }
  }
  if (layout.capacity == 0) return;
  std::vector<detail::WireItem> local(nq * layout.block);
  if (local_items.rows() > 0) {
    const std::size_t local_capacity = std::min(k, local_items.rows());
    std::vector<ScoredItem> found(nq * local_capacity);
    std::vector<std::size_t> found_counts(nq);
    const auto global_exclude = [&](std::size_t q, std::size_t i) {
      return static_cast<bool>(exclude(q, offset + i));
    };
    simd::score_top_k_batch(MatrixView(queries), local_items, k, found, found_counts, global_exclude);
    for (std::size_t q = 0; q < nq; ++q) {
      for (std::size_t i = 0; i < found_counts[q]; ++i) {
        const ScoredItem& item = found[q * local_capacity + i];
        local[q * layout.block + i] = {offset + item.index, item.score, 1};
      }
    }
  }
  detail::gather_and_merge(comm, where, layout, nq, local, out, counts);
}

}  // namespace marl_rec::dist
