// marl_rec — the contract of a candidate generator: given a query vector, it names the items of a
// catalog most likely to have the largest inner product with it, so that a model scores a few
// hundred candidates instead of every item (retrieval before ranking). The exact generator is
// BruteForceCandidates (index/brute_force_candidates.hpp); HnswCandidates
// (index/hnsw_candidates.hpp, needs hnswlib) is an approximate one for very large catalogs.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"

namespace marl_rec {

/// A type that proposes, for a query vector, up to m item indices of the item matrix it was built
/// from: (approximately) the m items with the largest inner product with the query.
///
/// Semantic rules the compiler cannot check:
/// - `dim()` is the length of a query and `size()` the number of items; item indices are the rows
///   0..size()-1 of the item matrix the generator was built from, so its output is a candidate
///   list (`Candidates`) for a Context whose `items` is that matrix.
/// - `generate(query, m, out)` writes at most min(m, size()) distinct item indices to the front of
///   `out`, best first by the generator's own estimate, and returns how many. An exact generator
///   writes the min(m, eligible) items of largest inner product; an approximate one may miss some
///   of them (its recall is measured, not promised) and may, rarely, return fewer than
///   min(m, size()). m = 0 returns 0.
/// - `generate` throws marl_rec::Error when query.size() != dim(), when the query has a value
///   that is not finite, or when out.size() < min(m, size()) — see detail::check_generate.
/// - Deterministic: the same generator state and query give the same output.
/// - `generate`, `dim` and `size` are const and safe to call from many threads at once.
template <class G>
concept CandidateGenerator = requires(const G& g, std::span<const float> query, std::size_t m,
                                      std::span<std::size_t> out) {
  { g.dim() } -> std::convertible_to<std::size_t>;
  { g.size() } -> std::convertible_to<std::size_t>;
  { g.generate(query, m, out) } -> std::convertible_to<std::size_t>;
};

/// Runs `generator` for `query` and returns its (at most m) candidates as a Candidates view of
/// `storage`, ready for Agent::recommend with the same item matrix. `storage` is resized to the
/// candidates found; reused across calls, it stops allocating. The view is valid until `storage`
/// changes. Throws what `generator.generate` throws.
template <CandidateGenerator G>
Candidates generate_candidates(const G& generator, std::span<const float> query, std::size_t m,
                               std::vector<std::size_t>& storage) {
  storage.resize(std::min<std::size_t>(m, generator.size()));
  const std::size_t count = generator.generate(query, m, std::span<std::size_t>(storage));
  storage.resize(count);
  return Candidates(std::span<const std::size_t>(storage));
}

namespace detail {

/// The argument checks every CandidateGenerator::generate makes, with the same messages: `where`
/// names the generator ("HnswCandidates::generate").
inline void check_generate(const char* where, std::size_t dim, std::size_t size,
                           std::span<const float> query, std::size_t m,
                           std::span<const std::size_t> out) {
  require(query.size() == dim, [&] {
    return std::string(where) + ": query has " + std::to_string(query.size()) +
           " elements, the items have " + std::to_string(dim);
  });
  for (std::size_t j = 0; j < query.size(); ++j) {
    require(std::isfinite(query[j]), [&] {
      return std::string(where) + ": query value " + std::to_string(j) + " is not finite";
    });
  }
  const std::size_t need = std::min(m, size);
  require(out.size() >= need, [&] {
    return std::string(where) + ": out has room for " + std::to_string(out.size()) +
           " indices, " + std::to_string(need) + " are needed";
  });
}

}  // namespace detail

}  // namespace marl_rec
