// marl_rec — what every explorer shares: scratch for candidate scores, the eligible candidates,
// a greedy ranking, and writing the chosen items into a Decision.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "marl_rec/core/context.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace marl_rec::detail {

/// Scratch reused from call to call (so a warmed-up explorer does not allocate).
class SlateBuilder {
 public:
  /// A score buffer of candidates.size() entries.
  std::span<float> scores_for(Candidates candidates) {
    if (scores_.size() < candidates.size()) scores_.resize(candidates.size());
    return {scores_.data(), candidates.size()};
  }

  /// The min(k, eligible) best candidates by `scores` (positions into the candidate list), best
  /// first; ties: the earlier candidate.
  template <ItemExclusion Exclude>
  std::span<const ScoredItem> greedy(std::span<const float> scores, Candidates candidates,
                                     std::size_t k, const Exclude& exclude) {
    const std::size_t capacity = std::min(k, candidates.size());
    if (top_.size() < capacity) top_.resize(capacity);
    const auto excluded = [&](std::size_t position) { return exclude(candidates[position]); };
    const std::size_t n = simd::top_k(scores, k, std::span<ScoredItem>(top_.data(), capacity), excluded);
    return {top_.data(), n};
  }

  /// Replaces out's items with the min(k, eligible) best candidates by `scores`, propensity 1
  /// each (a deterministic choice).
  template <ItemExclusion Exclude>
  void take_best(std::span<const float> scores, Candidates candidates, std::size_t k,
                 const Exclude& exclude, Decision& out) {
    take_ranked(greedy(scores, candidates, k, exclude), candidates, out);
  }

  /// Room for `capacity` ranked candidates (a model's own top k), reused from call to call.
  std::span<ScoredItem> top_for(std::size_t capacity) {
    if (top_.size() < capacity) top_.resize(capacity);
    return {top_.data(), capacity};
  }

  /// Replaces out's items with `ranked` (positions into candidates, best first), propensity 1
  /// each (a deterministic choice).
  static void take_ranked(std::span<const ScoredItem> ranked, Candidates candidates, Decision& out) {
    start(out);
    for (const ScoredItem& s : ranked) add(out, candidates[s.index], s.score, 1.0);
  }

  /// The positions of the eligible candidates (not excluded, score not NaN), in order.
  template <ItemExclusion Exclude>
  std::vector<std::size_t>& eligible(std::span<const float> scores, Candidates candidates,
                                     const Exclude& exclude) {
    eligible_.clear();
    for (std::size_t p = 0; p < candidates.size(); ++p) {
      if (!std::isnan(scores[p]) && !exclude(candidates[p])) eligible_.push_back(p);
    }
    return eligible_;
  }

  /// Empties `out` (keeping its capacity) for up to `k` items.
  static void start(Decision& out) {
    out.items.clear();
    out.scores.clear();
    out.propensities.clear();
  }
  static void add(Decision& out, std::size_t item, float score, double propensity) {
    out.items.push_back(item);
    out.scores.push_back(score);
    // A positive probability below float's range must not round to 0 (propensities are in (0, 1]).
    out.propensities.push_back(std::max(static_cast<float>(propensity),
                                        std::numeric_limits<float>::denorm_min()));
  }

 private:
  std::vector<float> scores_;
  std::vector<ScoredItem> top_;
  std::vector<std::size_t> eligible_;
};

/// Checks a probability-like parameter in [lo, hi].
inline void check_parameter(const char* where, const char* name, double value, double lo, double hi) {
  marl_rec::detail::require(std::isfinite(value) && value >= lo && value <= hi, [&] {
    return std::string(where) + ": " + name + " must be in [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "], got " + std::to_string(value);
  });
}

/// Checks a loaded explorer's parameter: throws Error "loading a '<type>' model: field '<field>'
/// must be <range>, got <value>" unless `ok`.
inline void check_loaded(const char* type, const char* field, bool ok, const char* range, double value) {
  marl_rec::detail::require(ok, [&] {
    return std::string("loading a '") + type + "' model: field '" + field + "' must be " + range + ", got " +
           std::to_string(value);
  });
}

}  // namespace marl_rec::detail
