// marl_rec — an approximate candidate generator for catalogs too large to scan per query: an HNSW
// graph (hnswlib's HierarchicalNSW) over the item vectors, searched by inner product. The exact
// scan (BruteForceCandidates) stays the default; this one trades recall for time, and its
// recall / time curve is measured in benchmarks/peers_bench.cpp (HnswRecall).
//
// Optional: it needs hnswlib's headers (Debian: libhnswlib-dev; `scripts/setup.sh
// --with-bench-peers` installs it). It is not part of marl_rec.hpp. hnswlib 0.6.2 (Debian 12)
// defines functions and variables in its headers without `inline` or `static` (cpuid, xgetbv,
// AVXCapable, AVX512Capable, the distance function pointers): with that version, include this
// header (or hnswlib) in one translation unit of a program only, or the link fails with multiple
// definitions (newer hnswlib releases declare some of them static: check yours before
// including this header in several translation units).
#pragma once

#if !__has_include(<hnswlib/hnswlib.h>)
#error "marl_rec/index/hnsw_candidates.hpp needs hnswlib (<hnswlib/hnswlib.h> not found): install it (Debian: libhnswlib-dev, or scripts/setup.sh --with-bench-peers) or use BruteForceCandidates"
#endif

// hnswlib's SSE prefetches read the neighbour id one past the end of a link list (a 4-byte heap
// over-read that hnswlib keeps for speed: nmslib/hnswlib issues #107 and #578). Harmless in a
// normal build, it stops an AddressSanitizer build; there, hnswlib is compiled without its
// hand-written SIMD (NO_MANUAL_VECTORIZATION), which also drops those prefetches.
#if defined(__SANITIZE_ADDRESS__)
#define MARL_REC_HNSWLIB_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MARL_REC_HNSWLIB_UNDER_ASAN 1
#endif
#endif
#if defined(MARL_REC_HNSWLIB_UNDER_ASAN) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "marl_rec/concepts/candidate_generator.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// The settings of HnswCandidates (hnswlib's names in brackets).
struct HnswConfig {
  /// Links per node on the upper layers [M] (the bottom layer keeps twice as many), in
  /// [2, 10000]: more links, better recall, more memory (8·links bytes per item on the bottom
  /// layer) and a slower build.
  std::size_t links = 16;
  /// Breadth of the search that links each new item [ef_construction], ≥ 1: larger builds a
  /// better graph, slower.
  std::size_t ef_construction = 200;
  /// Breadth of a query's search [ef], ≥ 1; the search uses max(ef_search, m) for m candidates.
  /// Larger: better recall, slower. Changeable after the build (set_ef_search).
  std::size_t ef_search = 64;
  /// Seeds the draw of each item's top layer (hnswlib's std::default_random_engine): the same
  /// seed and items give the same graph with the same standard library.
  std::uint64_t seed = 100;
};

/// Candidates from an HNSW graph over the item vectors, searched by inner product.
///
/// What the inner product does here: hnswlib's InnerProductSpace uses 1 − ⟨q, x⟩ as its
/// "distance", both to build the graph (each item is linked to items of small distance to it)
/// and to search it. That is a similarity, not a metric (no triangle inequality; an item need
/// not be its own nearest neighbour). For unit-length vectors it is half the squared Euclidean
/// distance, and HNSW works as designed. For unnormalised vectors it works only approximately:
/// items of large norm are "near" everything and become hubs, and the greedy search can stop
/// short of the best items, so recall at a given ef_search is lower. Normalise the item vectors
/// when the scores allow it (the built-in embedders' vectors are unit length), and measure the
/// recall on your own data (benchmarks/peers_bench.cpp's HnswRecall does it against the exact
/// scan).
///
/// The graph keeps its own copy of the vectors (the matrix need not outlive it): about
/// size() · (4·dim + 8·links + 12) bytes plus the upper layers. The build is single-threaded
/// and deterministic under `seed`. `generate`, `dim` and `size` are const and safe to call from
/// many threads at once (hnswlib's search takes its scratch from a locked pool); set_ef_search
/// must not run concurrently with them. `generate` allocates (hnswlib's result queue).
/// Satisfies CandidateGenerator.
class HnswCandidates {
 public:
  /// The settings type.
  using Config = HnswConfig;

  /// Builds the graph over the rows of `items` (row i is item i). Throws Error when `items` is
  /// empty or has no columns, has 2^32 − 1 rows or more (hnswlib's node ids are 32-bit), holds
  /// a value that is not finite (naming its row and column), or a setting is out of range;
  /// hnswlib's own failures (out of memory) are rethrown as Error.
  explicit HnswCandidates(MatrixView items, Config config = {})
      : config_(config), dim_(items.cols()), size_(items.rows()) {
    constexpr const char* where = "HnswCandidates";
    detail::require(items.rows() > 0, "HnswCandidates: the item matrix is empty (0 rows)");
    detail::require(items.cols() > 0, [&] {
      return std::string(where) + ": the " + std::to_string(items.rows()) +
             " item rows have 0 columns";
    });
    detail::require(items.rows() < std::numeric_limits<std::uint32_t>::max(), [&] {
      return std::string(where) + ": " + std::to_string(items.rows()) +
             " items, hnswlib holds fewer than 2^32 - 1";
    });
    detail::require(config.links >= 2 && config.links <= 10000, [&] {
      return std::string(where) + ": links must be in [2, 10000], got " +
             std::to_string(config.links);
    });
    detail::require(config.ef_construction >= 1, "HnswCandidates: ef_construction must be >= 1");
    detail::require(config.ef_search >= 1, "HnswCandidates: ef_search must be >= 1");
    for (std::size_t i = 0; i < items.rows(); ++i) {
      const std::span<const float> row = items.row(i);
      for (std::size_t j = 0; j < row.size(); ++j) {
        detail::require(std::isfinite(row[j]), [&] {
          return std::string(where) + ": item " + std::to_string(i) + " value " +
                 std::to_string(j) + " is not finite";
        });
      }
    }
    try {
      space_ = std::make_unique<hnswlib::InnerProductSpace>(items.cols());
      index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
          space_.get(), items.rows(), config.links, config.ef_construction,
          static_cast<std::size_t>(config.seed));
      // One thread, in row order: the graph depends only on the data and the seed.
      for (std::size_t i = 0; i < items.rows(); ++i) index_->addPoint(items.row(i).data(), i);
    } catch (const std::runtime_error& e) {
      throw Error(std::string(where) + ": hnswlib failed to build the graph: " + e.what());
    }
    index_->setEf(config.ef_search);
  }

  /// The length of a query (the item vectors' dimension).
  std::size_t dim() const noexcept { return dim_; }
  /// The number of items in the graph.
  std::size_t size() const noexcept { return size_; }
  /// The settings the graph was built with, and the current ef_search.
  const Config& config() const noexcept { return config_; }

  /// Sets the breadth of later searches (≥ 1, else Error). Not safe concurrently with generate.
  void set_ef_search(std::size_t ef_search) {
    detail::require(ef_search >= 1, "HnswCandidates::set_ef_search: ef_search must be >= 1");
    config_.ef_search = ef_search;
    index_->setEf(ef_search);
  }

  /// Writes up to min(m, size()) distinct item indices to the front of `out`, best first by
  /// inner product as far as the search found, and returns how many (approximate: see the
  /// class comment). Throws Error on a bad query or a too-small `out` (detail::check_generate).
  std::size_t generate(std::span<const float> query, std::size_t m,
                       std::span<std::size_t> out) const {
    detail::check_generate("HnswCandidates::generate", dim(), size(), query, m, out);
    const std::size_t want = std::min(m, size());
    if (want == 0) return 0;
    auto found = [&] {
      try {
        return index_->searchKnn(query.data(), want);
      } catch (const std::runtime_error& e) {
        throw Error(std::string("HnswCandidates::generate: hnswlib failed: ") + e.what());
      }
    }();
    // hnswlib's queue has the worst (largest distance) on top: fill `out` from the back.
    const std::size_t count = std::min(found.size(), want);
    while (found.size() > count) found.pop();
    for (std::size_t i = count; i-- > 0;) {
      out[i] = static_cast<std::size_t>(found.top().second);
      found.pop();
    }
    return count;
  }

 private:
  Config config_;
  std::size_t dim_ = 0;
  std::size_t size_ = 0;
  // The space outlives the graph (the graph keeps a pointer to its dimension): declared first,
  // destroyed last; both on the heap so that moving an HnswCandidates keeps that pointer valid.
  std::unique_ptr<hnswlib::InnerProductSpace> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
};

static_assert(CandidateGenerator<HnswCandidates>);

}  // namespace marl_rec
