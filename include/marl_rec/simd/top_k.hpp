// marl_rec — the vocabulary of top-k selection: scored items, their order, item exclusions, and
// the bounded buffer the fused kernels keep their k best in (no allocation: it lives in the
// caller's output span).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace marl_rec {

/// One item of a ranking: its dense index (row of the item matrix) and its score.
struct ScoredItem {
  std::size_t index = 0;
  float score = 0.0f;
  friend constexpr bool operator==(const ScoredItem&, const ScoredItem&) = default;
};

/// The order of every marl_rec ranking: higher score first; on equal scores, lower index first.
/// It is a strict total order on non-NaN scores, so top-k results are deterministic.
constexpr bool ranks_before(const ScoredItem& a, const ScoredItem& b) noexcept {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

/// The exclusion that excludes nothing (the default of every top-k kernel). Callable with an
/// item index, or with (query index, item index) for the batched kernel.
struct NoExclusion {
  constexpr bool operator()(std::size_t /*item*/) const noexcept { return false; }
  constexpr bool operator()(std::size_t /*query*/, std::size_t /*item*/) const noexcept {
    return false;
  }
};

/// Excludes the items whose bit is set in a span of 64-bit words (bit i%64 of word i/64).
/// Items past the end of the span are not excluded. Non-owning; see ItemBitset for an owner.
class ExcludeBitset {
 public:
  constexpr ExcludeBitset() noexcept = default;
  constexpr explicit ExcludeBitset(std::span<const std::uint64_t> words) noexcept : words_(words) {}

  /// True when item `i` is excluded.
  constexpr bool operator()(std::size_t i) const noexcept {
    const std::size_t w = i / 64;
    return w < words_.size() && ((words_[w] >> (i % 64)) & 1u) != 0;
  }

 private:
  std::span<const std::uint64_t> words_;
};

/// A growable set of item indices stored as a bitset; `view()` gives the ExcludeBitset.
class ItemBitset {
 public:
  ItemBitset() = default;
  /// A set able to hold indices below `size` without growing.
  explicit ItemBitset(std::size_t size) : words_((size + 63) / 64, 0) {}

  /// Adds item `i` (grows as needed).
  void insert(std::size_t i) {
    if (i / 64 >= words_.size()) words_.resize(i / 64 + 1, 0);
    words_[i / 64] |= std::uint64_t{1} << (i % 64);
  }
  /// Removes item `i` (no effect when absent).
  void erase(std::size_t i) noexcept {
    if (i / 64 < words_.size()) words_[i / 64] &= ~(std::uint64_t{1} << (i % 64));
  }
  /// True when item `i` is in the set.
  bool contains(std::size_t i) const noexcept { return view()(i); }
  /// A non-owning exclusion over this set (valid until the set next grows or dies).
  ExcludeBitset view() const noexcept { return ExcludeBitset{words_}; }

 private:
  std::vector<std::uint64_t> words_;
};

/// An exclusion for single-query top-k: `ex(i)` is true when item i may not be returned.
/// It is called only for items whose score could enter the top k, in increasing index order
/// (a pruned selection such as LinUcb::upper_bound_top_k makes up to two such passes, so an
/// item may be asked twice), and must give the same answer for the same item during one call.
template <class F>
concept ItemExclusion = std::predicate<const F&, std::size_t>;

/// An exclusion for batched top-k: `ex(q, i)` is true when item i may not be returned to query q.
template <class F>
concept BatchItemExclusion = std::predicate<const F&, std::size_t, std::size_t>;

namespace detail {

/// The k best items seen so far, kept as a heap (worst on top) in caller-provided storage.
/// Its state is the storage plus `size`, so a batched kernel can set one aside and resume it.
/// `Arch` only tags the type: kernels instantiate it per architecture, so code compiled with
/// different -m flags never shares (and never links to another's) definition.
template <class Arch = void>
class TopKBuffer {
 public:
  /// A buffer of capacity 0 (accepts nothing).
  TopKBuffer() noexcept = default;

  /// A buffer over `storage[0, capacity)` that already holds `size` items in heap order.
  TopKBuffer(ScoredItem* storage, std::size_t capacity, std::size_t size = 0) noexcept
      : heap_(storage), capacity_(capacity), size_(size) {
    update_threshold();
  }

  /// Scores below this cannot enter; a score equal to it may (the index decides). NaN never
  /// passes `score >= threshold()`, which is how NaN scores are kept out.
  float threshold() const noexcept { return threshold_; }
  std::size_t size() const noexcept { return size_; }

  /// Offers an item that passed `score >= threshold()`.
  void offer(std::size_t index, float score) noexcept {
    const ScoredItem item{index, score};
    if (capacity_ == 0) return;
    if (size_ < capacity_) {
      heap_[size_++] = item;
      std::push_heap(heap_, heap_ + size_, ranks_before);
    } else if (ranks_before(item, heap_[0])) {
      std::pop_heap(heap_, heap_ + size_, ranks_before);
      heap_[size_ - 1] = item;
      std::push_heap(heap_, heap_ + size_, ranks_before);
    } else {
      return;
    }
    update_threshold();
  }

  /// Sorts the items best first and returns how many there are. The buffer is spent.
  std::size_t finish() noexcept {
    std::sort_heap(heap_, heap_ + size_, ranks_before);
    return size_;
  }

 private:
  void update_threshold() noexcept {
    threshold_ = (capacity_ > 0 && size_ == capacity_) ? heap_[0].score
                                                       : -std::numeric_limits<float>::infinity();
  }

  ScoredItem* heap_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  float threshold_ = -std::numeric_limits<float>::infinity();
};

}  // namespace detail
}  // namespace marl_rec
