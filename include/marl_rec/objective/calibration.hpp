// marl_rec — Calibration (Steck 2018): a list whose category mix matches the user's history.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/objective/ranking_input.hpp"

namespace marl_rec {

/// Settings of Calibration.
struct CalibrationConfig {
  /// Smoothing α of the list's distribution toward the history's, in (0, 1): it keeps the KL
  /// divergence finite (≤ log(1/α)) when the list misses a category of the history.
  double alpha = 0.01;
};

/// Calibrated recommendations (H. Steck, "Calibrated Recommendations", RecSys 2018). With
/// p(g|u) the category distribution of RankingInput::history (each item counted once, under its
/// catalog category; "" is a category like any other) and q(g|L) that of a list L:
///
///   q̃ = (1 − α) q(·|list ∪ c) + α p,   v(c) = clamp(1 − KL(p ‖ q̃) / log(1/α), 0, 1),
///
/// the list being the items selected so far. Since q̃(g) ≥ α p(g) for every g, each term
/// p(g) log(p(g)/q̃(g)) ≤ p(g) log(1/α), so 0 ≤ KL ≤ log(1/α): v = 1 when list ∪ c has the
/// history's mix exactly, v = 0 when it has none of the history's categories (the clamp only
/// absorbs rounding). Categories outside the history add nothing to KL, but take q's mass away
/// from the history's: adding such an item lowers v. With an empty history there is nothing to
/// calibrate to and every candidate is worth 1.
///
/// v(c) depends only on c's category, so prepare() and select() compute one value per category
/// present (KL of list ∪ c = KL of the list over |list| + 1 items with the one term of c's
/// category replaced): O(categories) per step; value() is O(1). prepare() numbers the
/// categories of history ∪ candidates by sorting (O((h + n) log(h + n)) string comparisons).
///
/// Needs RankingInput::catalog (Error when null, or a candidate or history item is outside it).
/// list_dependent = true. Allocates in prepare() only when history + candidates grow past an
/// earlier ranking's. Not thread-safe.
class Calibration {
 public:
  static constexpr bool list_dependent = true;

  Calibration() = default;
  /// Throws Error when alpha is not in (0, 1).
  explicit Calibration(CalibrationConfig config) : config_(config) {
    marl_rec::detail::require(config_.alpha > 0.0 && config_.alpha < 1.0, [&] {
      return "Calibration: alpha must be in (0, 1), got " + std::to_string(config_.alpha);
    });
  }

  const CalibrationConfig& config() const noexcept { return config_; }
  std::string_view name() const noexcept { return "calibration"; }

  /// Reads the history's category distribution and the candidates' categories.
  void prepare(const RankingInput& input) {
    const Catalog* catalog = input.catalog;
    marl_rec::detail::require(catalog != nullptr, "Calibration::prepare: RankingInput::catalog is null");
    const auto check = [&](std::span<const std::size_t> items, const char* what) {
      for (std::size_t p = 0; p < items.size(); ++p) {
        marl_rec::detail::require(items[p] < catalog->size(), [&] {
          return std::string("Calibration::prepare: ") + what + " " + std::to_string(p) + " is item " +
                 std::to_string(items[p]) + ", outside the catalog (size " + std::to_string(catalog->size()) + ")";
        });
      }
    };
    check(input.items, "candidate");
    check(input.history, "history item");
    const std::size_t h = input.history.size();
    const std::size_t n = input.items.size();
    // Number the categories of history ∪ candidates: entries [0, h) are the history's, [h, h+n)
    // the candidates'.
    category_.resize(h + n);
    order_.resize(h + n);
    group_.resize(h + n);
    for (std::size_t e = 0; e < h; ++e) category_[e] = &catalog->attributes(input.history[e]).category;
    for (std::size_t e = 0; e < n; ++e) category_[h + e] = &catalog->attributes(input.items[e]).category;
    for (std::size_t e = 0; e < h + n; ++e) order_[e] = e;
    std::sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) { return *category_[a] < *category_[b]; });
    std::size_t groups = 0;
    for (std::size_t r = 0; r < h + n; ++r) {
      if (r == 0 || *category_[order_[r]] != *category_[order_[r - 1]]) ++groups;
      group_[order_[r]] = groups - 1;
    }
    history_ = h;
    history_share_.assign(groups, 0.0);
    in_list_.assign(groups, 0);
    group_value_.assign(groups, 1.0);
    list_size_ = 0;
    for (std::size_t e = 0; e < h; ++e) history_share_[group_[e]] += 1.0;
    for (double& s : history_share_) s /= static_cast<double>(h > 0 ? h : 1);
    update_values();
  }

  /// The value of a list with this candidate added (see the class comment); 1 with no history.
  double value(std::size_t position) const noexcept { return group_value_[group_[history_ + position]]; }

  /// Candidate `position` joined the list. Throws Error when position is not a candidate of the
  /// prepared ranking.
  void select(std::size_t position) {
    marl_rec::detail::require(history_ + position < group_.size(), [&] {
      return "Calibration::select: position " + std::to_string(position) + " out of range (" +
             std::to_string(group_.size() - history_) + " candidates)";
    });
    ++in_list_[group_[history_ + position]];
    ++list_size_;
    update_values();
  }

 private:
  // p(g) log(p(g) / q̃(g)) for a category with history share p and `count` items in a list of
  // `size` items.
  double term(double p, std::size_t count, double size) const noexcept {
    const double q = (1.0 - config_.alpha) * static_cast<double>(count) / size + config_.alpha * p;
    return p * std::log(p / q);
  }

  // The value of every category for the next slot: KL(p ‖ q̃(list ∪ c)) depends on c only
  // through its category g, and differs from the "list plus an item of no category" sum in g's
  // term alone.
  void update_values() {
    if (history_ == 0) return;  // every value stays 1
    const double size = static_cast<double>(list_size_ + 1);
    double base = 0.0;
    for (std::size_t g = 0; g < history_share_.size(); ++g) {
      if (history_share_[g] > 0.0) base += term(history_share_[g], in_list_[g], size);
    }
    const double bound = std::log(1.0 / config_.alpha);
    for (std::size_t g = 0; g < history_share_.size(); ++g) {
      const double p = history_share_[g];
      const double kl = p > 0.0 ? base - term(p, in_list_[g], size) + term(p, in_list_[g] + 1, size) : base;
      group_value_[g] = std::clamp(1.0 - kl / bound, 0.0, 1.0);
    }
  }

  CalibrationConfig config_{};
  // Entries: the history's items, then the candidates: their category and category number.
  std::vector<const std::string*> category_;
  std::vector<std::size_t> order_;
  std::vector<std::size_t> group_;
  std::size_t history_ = 0;
  // Per category: p(g|u), the count in the list so far, the value of adding an item of it.
  std::vector<double> history_share_;
  std::vector<std::size_t> in_list_;
  std::vector<double> group_value_;
  std::size_t list_size_ = 0;
};

}  // namespace marl_rec
