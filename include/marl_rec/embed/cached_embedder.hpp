// marl_rec — a bounded, thread-safe LRU cache in front of any Embedder: typically a user's own
// embedder that calls the engine's LLM service, where one call costs milliseconds and a catalog
// or a stream of queries asks for the same texts again and again.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <list>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "marl_rec/concepts/embedder.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/io/csv.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// What a CachedEmbedder has done since it was made: every text looked up is one hit or one
/// miss; `computed` counts the texts sent to the wrapped embedder (fewer than the misses when a
/// batch repeats a text); `evictions` the entries dropped to make room.
struct CacheStats {
  std::uint64_t hits{};
  std::uint64_t misses{};
  std::uint64_t computed{};
  std::uint64_t evictions{};
};

/// Wraps the Embedder `E` with a least-recently-used cache of up to `capacity` vectors, keyed by
/// the exact text. Satisfies Embedder and BatchEmbedder.
///
/// - **Threads.** `embed` and `embed_batch` may be called from many threads at once. A mutex
///   guards the cache only: the wrapped embedder is called outside the lock, so a slow LLM call
///   does not hold up other threads' hits. Two threads that miss on the same text at the same
///   time may therefore both call it; the embedder is deterministic (the Embedder contract), so
///   both get the same vector and it is cached once. `E::embed` must be thread-safe, as the
///   contract requires.
/// - **Batches.** `embed_batch` looks every text up, then sends the misses — each distinct text
///   once — to the wrapped embedder in one `marl_rec::embed_batch` call, so an embedder with its
///   own batch form (one round trip to the LLM service) gets one batch.
/// - **The contract, checked.** Every vector the wrapped embedder returns must be finite and of
///   unit length within `norm_tolerance`; otherwise the call throws Error naming the text, and
///   nothing is cached. (A forgotten normalisation of a raw LLM output is caught at once, not
///   after it has skewed every score.)
/// - `capacity` 0 caches nothing: every text is a miss and goes to the wrapped embedder.
///
/// Memory: `capacity` × (dim floats + the text + about 100 bytes of list and hash nodes). Neither
/// copyable nor movable (it owns a mutex): construct it where it is used.
///
/// Persistence: none. The cache is a cache: save the wrapped embedder (if it has save/load); a
/// new CachedEmbedder over it refills from its first lookups with the same vectors.
template <Embedder E>
class CachedEmbedder {
 public:
  struct Config {
    /// The most vectors kept; the least recently used is dropped to make room. 0: no caching.
    std::size_t capacity{10'000};
    /// The largest accepted |length − 1| of a vector from the wrapped embedder.
    float norm_tolerance{1e-3f};
  };

  /// `inner` behind a cache of the default capacity.
  explicit CachedEmbedder(E inner) : CachedEmbedder(std::move(inner), Config{}) {}
  CachedEmbedder(E inner, Config config) : inner_(std::move(inner)), config_(config) {
    marl_rec::detail::require(
        config_.norm_tolerance >= 0.0f && std::isfinite(config_.norm_tolerance),
        "CachedEmbedder: norm_tolerance must be finite and >= 0");
  }

  /// The dimension of the wrapped embedder.
  std::size_t dim() const { return inner_.dim(); }

  /// The vector of `text`: from the cache, or from the wrapped embedder (then cached). Throws
  /// Error when out.size() != dim(), when the wrapped embedder's vector breaks the contract, or
  /// whatever the wrapped embedder throws (nothing is cached then).
  void embed(std::string_view text, std::span<float> out) const {
    const std::size_t d = dim();
    marl_rec::detail::require(out.size() == d, [&] {
      return std::string("CachedEmbedder::embed: out has ") + std::to_string(out.size()) +
             " floats, dim is " + std::to_string(d);
    });
    {
      const std::lock_guard lock(mutex_);
      if (lookup_locked(text, out)) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    computed_.fetch_add(1, std::memory_order_relaxed);
    inner_.embed(text, out);  // outside the lock: may be a slow network call
    check_vector(text, out);
    const std::lock_guard lock(mutex_);
    insert_locked(text, out);
  }

  /// Row i of `out` gets the vector of texts[i] (out: texts.size() × dim()). Hits come from the
  /// cache; the distinct misses go to the wrapped embedder in one batch, then are cached. Throws
  /// as embed does (nothing of the batch is cached then; `out` is partly written).
  void embed_batch(std::span<const std::string_view> texts, MutableMatrixView out) const {
    const std::size_t d = dim();
    marl_rec::detail::require(out.rows() == texts.size() && out.cols() == d, [&] {
      return std::string("CachedEmbedder::embed_batch: out is ") + std::to_string(out.rows()) +
             " x " + std::to_string(out.cols()) + ", expected " + std::to_string(texts.size()) +
             " x " + std::to_string(d);
    });
    // Each distinct missed text, and for every missed row, which of them it is.
    std::vector<std::string_view> unique;
    std::vector<std::pair<std::size_t, std::size_t>> missed_rows;  // (row of out, index in unique)
    std::unordered_map<std::string_view, std::size_t> unique_index;
    {
      const std::lock_guard lock(mutex_);
      for (std::size_t i = 0; i < texts.size(); ++i) {
        if (lookup_locked(texts[i], out.row(i))) continue;
        const auto [it, inserted] = unique_index.try_emplace(texts[i], unique.size());
        if (inserted) unique.push_back(texts[i]);
        missed_rows.emplace_back(i, it->second);
      }
    }
    hits_.fetch_add(texts.size() - missed_rows.size(), std::memory_order_relaxed);
    misses_.fetch_add(missed_rows.size(), std::memory_order_relaxed);
    if (unique.empty()) return;
    computed_.fetch_add(unique.size(), std::memory_order_relaxed);

    AlignedVector<float> storage(unique.size() * d);
    const MutableMatrixView fresh(storage, unique.size(), d);
    marl_rec::embed_batch(inner_, std::span<const std::string_view>(unique), fresh);
    for (std::size_t u = 0; u < unique.size(); ++u) check_vector(unique[u], fresh.row(u));
    for (const auto& [row, u] : missed_rows) {
      const std::span<const float> v = fresh.row(u);
      std::copy(v.begin(), v.end(), out.row(row).begin());
    }
    const std::lock_guard lock(mutex_);
    for (std::size_t u = 0; u < unique.size(); ++u) insert_locked(unique[u], fresh.row(u));
  }

  /// The counters so far (each read atomically; read while other threads run, they may be a
  /// moment apart).
  CacheStats stats() const noexcept {
    return {.hits = hits_.load(std::memory_order_relaxed),
            .misses = misses_.load(std::memory_order_relaxed),
            .computed = computed_.load(std::memory_order_relaxed),
            .evictions = evictions_.load(std::memory_order_relaxed)};
  }

  /// Vectors in the cache now.
  std::size_t size() const {
    const std::lock_guard lock(mutex_);
    return entries_.size();
  }

  /// True when `text` is cached (does not count as a hit or change the order).
  bool contains(std::string_view text) const {
    const std::lock_guard lock(mutex_);
    return index_.find(text) != index_.end();
  }

  /// Empties the cache (the counters are kept). Safe while other threads embed.
  void clear() {
    const std::lock_guard lock(mutex_);
    index_.clear();
    entries_.clear();
  }

  const Config& config() const noexcept { return config_; }
  /// The wrapped embedder.
  const E& inner() const noexcept { return inner_; }

 private:
  struct Entry {
    std::string text{};
    std::vector<float> vector{};
  };
  using List = std::list<Entry>;  // most recently used first

  /// Copies the cached vector of `text` to `out` and marks it most recently used; false when
  /// `text` is not cached. The caller holds the mutex.
  bool lookup_locked(std::string_view text, std::span<float> out) const {
    const auto it = index_.find(text);
    if (it == index_.end()) return false;
    entries_.splice(entries_.begin(), entries_, it->second);
    std::copy(it->second->vector.begin(), it->second->vector.end(), out.begin());
    return true;
  }

  /// Caches `v` as the vector of `text`, dropping the least recently used entry when full. A
  /// text another thread cached meanwhile is only marked most recently used. The caller holds
  /// the mutex.
  void insert_locked(std::string_view text, std::span<const float> v) const {
    if (config_.capacity == 0) return;
    if (const auto it = index_.find(text); it != index_.end()) {
      entries_.splice(entries_.begin(), entries_, it->second);
      return;
    }
    if (entries_.size() >= config_.capacity) {
      // Reuse the evicted node and its buffers: no allocation once the cache is full (for texts
      // no longer than the evicted one).
      auto last = std::prev(entries_.end());
      index_.erase(std::string_view(last->text));
      entries_.splice(entries_.begin(), entries_, last);
      evictions_.fetch_add(1, std::memory_order_relaxed);
    } else {
      entries_.emplace_front();
    }
    Entry& entry = entries_.front();
    entry.text.assign(text);
    entry.vector.assign(v.begin(), v.end());
    index_.emplace(std::string_view(entry.text), entries_.begin());
  }

  /// Throws Error naming `text` when `v` is not finite or not of unit length (within tolerance).
  void check_vector(std::string_view text, std::span<const float> v) const {
    double n2 = 0.0;
    for (std::size_t j = 0; j < v.size(); ++j) {
      if (!std::isfinite(v[j])) {
        throw Error(std::string("CachedEmbedder: the wrapped embedder returned ") +
                    (std::isnan(v[j]) ? "NaN" : "an infinite value") + " at element [" +
                    std::to_string(j) + "] for " + io::detail::quoted_for_message(text) +
                    " (the Embedder contract requires finite values)");
      }
      n2 += static_cast<double>(v[j]) * static_cast<double>(v[j]);
    }
    const double length = std::sqrt(n2);
    if (!(std::fabs(length - 1.0) <= static_cast<double>(config_.norm_tolerance))) {
      throw Error(std::string("CachedEmbedder: the wrapped embedder returned a vector of length ") +
                  std::to_string(length) + " for " + io::detail::quoted_for_message(text) +
                  " (the Embedder contract requires unit length, within " +
                  std::to_string(config_.norm_tolerance) + "; normalise its output)");
    }
  }

  E inner_;
  Config config_{};
  mutable std::mutex mutex_;
  mutable List entries_;
  // Keys view the text in the list node, which never moves.
  mutable std::unordered_map<std::string_view, typename List::iterator> index_;
  mutable std::atomic<std::uint64_t> hits_{0};
  mutable std::atomic<std::uint64_t> misses_{0};
  mutable std::atomic<std::uint64_t> computed_{0};
  mutable std::atomic<std::uint64_t> evictions_{0};
};

}  // namespace marl_rec
