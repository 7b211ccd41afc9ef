// marl_rec — what a model sees when it is asked to score: the user's (or session's) features, the
// candidate items' features, recent history, and the known user, plus the candidate list itself.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// The user index of an anonymous context (no known user).
inline constexpr std::size_t no_user = std::numeric_limits<std::size_t>::max();

/// Everything known at decision time. Non-owning: every span and view must outlive the call it
/// is passed to (an Agent copies what it keeps for delayed feedback). Models read the parts they
/// need and ignore the rest:
/// - contextual bandits and Q-learning read `features` and the rows of `items`;
/// - collaborative models (matrix factorisation, EASE) read `user` and / or `history`.
struct Context {
  /// The user's or session's feature vector (may be empty).
  std::span<const float> features{};
  /// One feature row per item; candidate indices are rows of this matrix. Empty for models
  /// that keep their own item parameters.
  MatrixView items{};
  /// Recent items of the user or session (item indices), oldest first.
  std::span<const std::size_t> history{};
  /// The known user's index in the model's user space, or no_user.
  std::size_t user = no_user;
  /// A discrete state (e.g. a session stage) for tabular models such as TabularQ; 0 when the
  /// application has no notion of it.
  std::size_t state = 0;
};

/// The items a decision chooses among: either every item 0..n-1 (the fast path, scored as one
/// contiguous matrix) or an explicit list of item indices. Non-owning.
class Candidates {
 public:
  /// No candidates.
  constexpr Candidates() noexcept = default;
  /// Every item 0..n-1.
  static constexpr Candidates all(std::size_t n) noexcept {
    Candidates c;
    c.count_ = n;
    c.all_ = true;
    return c;
  }
  /// The listed items, each at most once (Agent and ServingAgent refuse a list that repeats an
  /// item: see detail::check_distinct). The list must outlive this view.
  constexpr explicit Candidates(std::span<const std::size_t> items) noexcept
      : list_(items), count_(items.size()) {}

  constexpr std::size_t size() const noexcept { return count_; }
  constexpr bool empty() const noexcept { return count_ == 0; }
  /// True for Candidates::all(n).
  constexpr bool is_all() const noexcept { return all_; }
  /// The item at candidate position i (unchecked: i < size()).
  constexpr std::size_t operator[](std::size_t i) const noexcept { return all_ ? i : list_[i]; }
  /// The explicit list (empty for Candidates::all).
  constexpr std::span<const std::size_t> list() const noexcept { return list_; }
  /// The largest item index + 1 (0 when empty): what a model's item space must cover.
  constexpr std::size_t index_bound() const noexcept {
    if (all_) return count_;
    std::size_t bound = 0;
    // Saturating: an index of SIZE_MAX must not wrap the bound to 0 (and pass a range check).
    for (const std::size_t i : list_) {
      const std::size_t end = i == std::numeric_limits<std::size_t>::max() ? i : i + 1;
      bound = end > bound ? end : bound;
    }
    return bound;
  }

 private:
  std::span<const std::size_t> list_{};
  std::size_t count_ = 0;
  bool all_ = false;
};

namespace detail {

/// Throws Error (`<where>: candidate item <i> is listed twice ...`) when an explicit candidate
/// list names an item more than once: an explorer would serve it in two positions and the agent
/// would learn it twice. `scratch` is the caller's reusable bitset (all zero between calls): after
/// warm-up, no allocation. Lists with an index of 2^26 or more are checked on a sorted copy.
inline void check_distinct(Candidates candidates, std::vector<std::uint64_t>& scratch, const char* where) {
  if (candidates.is_all() || candidates.size() < 2) return;
  const std::span<const std::size_t> list = candidates.list();
  const auto repeated = [&](std::size_t item) {
    throw Error(std::string(where) + ": candidate item " + std::to_string(item) +
                " is listed twice (candidates must be distinct)");
  };
  const std::size_t bound = candidates.index_bound();
  if (bound <= (std::size_t{1} << 26)) {
    const std::size_t words = (bound + 63) / 64;
    if (scratch.size() < words) scratch.resize(words, 0);
    std::size_t i = 0;
    for (; i < list.size(); ++i) {
      std::uint64_t& word = scratch[list[i] / 64];
      const std::uint64_t bit = std::uint64_t{1} << (list[i] % 64);
      if ((word & bit) != 0) break;
      word |= bit;
    }
    for (std::size_t j = 0; j < i; ++j) scratch[list[j] / 64] = 0;  // back to all zero
    if (i < list.size()) repeated(list[i]);
    return;
  }
  // Sparse, huge indices (a model will refuse them; the check must not allocate their range).
  std::vector<std::uint64_t> sorted(list.begin(), list.end());
  std::sort(sorted.begin(), sorted.end());
  const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
  if (twice != sorted.end()) repeated(static_cast<std::size_t>(*twice));
}

}  // namespace detail

}  // namespace marl_rec
