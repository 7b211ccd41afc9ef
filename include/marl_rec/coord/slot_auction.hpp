// marl_rec — SlotAuction: agents bid their proposals for a page's slots; one greedy
// multi-objective ranking of all the bids, under per-agent quotas, decides who gets which slot.
// Feedback is credited locally or as a counterfactual difference reward.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "marl_rec/coord/page_assembly.hpp"
#include "marl_rec/coord/page_credit.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/objective/ranking_input.hpp"

namespace marl_rec {

/// How a coordination policy credits a page's feedback to its agents.
enum class Credit {
  /// Each agent learns the rewards of its own slots, as they came.
  local = 0,
  /// Each agent learns its counterfactual contribution to the page (see SlotAuction).
  difference = 1,  // (the values are saved: do not renumber)
};

/// Settings of a SlotAuction.
struct SlotAuctionConfig {
  /// The most slots each agent may win, one per agent in agent order (e.g. {4, 4, 2}: ads at most
  /// 2 of 8), or empty: no quota. A page is shorter than asked when the quotas (or the
  /// proposals) run out first.
  std::vector<std::size_t> quotas{};
  /// Proposals (bids) asked of each agent, or 0: as many as the page has slots.
  std::size_t proposals = 0;
  /// How feedback is credited.
  Credit credit = Credit::local;
  /// ε of the difference reward: the estimated probability of no action is never below it.
  /// In (0, 1].
  double min_no_action = 0.05;
};

/// A slot auction. Every agent proposes `proposals` items with its scores — its bids — from its
/// own pool. Winner determination is ONE greedy MultiObjective ranking over all the proposals,
/// under a selection rule that admits a proposal only while its agent is under quota and its
/// item is not on the page yet: slot 0 gets the proposal of highest marginal value (Σ_o w_o v_o),
/// slot 1 the best of the rest given slot 0, and so on.
///
/// What greedy guarantees, and what it does not:
/// - Each slot holds the admissible proposal of highest value given the slots above it.
/// - With list-independent objectives only (Relevance, Revenue: each proposal's value is fixed)
///   and no item proposed by two agents (e.g. pools that partition the catalog), the page is
///   optimal: the quotas form a partition matroid, so the greedy's first j picks are a
///   max-value admissible set of j proposals for every j, and the page maximises Σ_k c_k · v_k for
///   any non-increasing position weights c_0 ≥ c_1 ≥ … ≥ 0 (position-weighted value).
/// - When two agents propose the same item, "no item twice" and the quotas are two matroids and
///   greedy over their intersection is only guaranteed half of the best page's value (a bid that
///   wins an item can leave the other agent's quota unused).
/// - With list-dependent objectives (Diversity, Calibration) the greedy is the MMR heuristic: each
///   slot's value is its marginal value given the slots above, never revised; there is no
///   optimality guarantee for the page (a lesser item at slot 0 can make a better page).
/// - Bids are compared on one scale (Relevance min-max normalises over all the proposals), so the
///   agents' scores must estimate the same reward on the same scale.
///
/// Credit (config.credit):
/// - `Credit::local`: each agent learns its own slots' rewards (local_credit).
/// - `Credit::difference`: a counterfactual difference reward D_i = G − Ĝ_{−i}, G the page's
///   reward and Ĝ_{−i} an estimate of it had agent i's items not been shown. The estimate assumes
///   a single-choice (multinomial logit) user with independence of irrelevant alternatives: a
///   user who acted on another agent's item would have done the same without i's items
///   (D_i = 0 there); a user who acted on agent i's items (earning R_i above the no-event reward)
///   would instead have acted on another shown item with probability
///   q_i = Σ_{j∉i} p̂_j / (p̂_0 + Σ_{j∉i} p̂_j), earning about as much, so D_i = R_i (1 − q_i).
///   p̂_j is slot j's bid clamped to [0, 1] (the agent's estimate of its action probability) and
///   p̂_0 = max(ε, 1 − Σ_j p̂_j) the no-action probability, ε = min_no_action. The credit goes to
///   the slots of i that earned the reward: slot s of i learns none + (r_s − none)(1 − q_i), r_s
///   its reward and none the no-event reward under agent i's weights; its other slots learn the
///   no-event reward, as with local credit. It is an estimate, only as good as the bids are
///   calibrated and the single-choice assumption holds.
///
/// save() writes the config (stream type "slot_auction", version 1), the policy's only state;
/// load(in) replaces it (a Coordinator saves and loads its policy this way).
class SlotAuction {
 public:
  /// An auction with these settings. Throws Error when min_no_action is not in (0, 1] (the
  /// quotas are checked against the agent count at each page).
  explicit SlotAuction(SlotAuctionConfig config = {}) : config_(std::move(config)) {
    marl_rec::detail::require(config_.min_no_action > 0.0 && config_.min_no_action <= 1.0, [&] {
      return "SlotAuction: min_no_action must be in (0, 1], got " + std::to_string(config_.min_no_action);
    });
  }

  /// "slot_auction".
  std::string_view name() const noexcept { return "slot_auction"; }
  /// The settings.
  const SlotAuctionConfig& config() const noexcept { return config_; }

  /// Runs the auction for one page (see the class comment). Throws Error when the quotas are not
  /// one per agent.
  template <class Objectives, class... Agents>
  void assemble(PageAssembly<Objectives, Agents...>& page) {
    constexpr std::size_t n = sizeof...(Agents);
    marl_rec::detail::require(config_.quotas.empty() || config_.quotas.size() == n, [&] {
      return "SlotAuction: " + std::to_string(config_.quotas.size()) + " quotas for " + std::to_string(n) +
             " agents";
    });
    const std::size_t k = config_.proposals != 0 ? config_.proposals : page.slots();
    items_.clear();
    bids_.clear();
    owners_.clear();
    offsets_.clear();
    taken_.clear();
    for (std::size_t a = 0; a < n; ++a) {
      offsets_.push_back(items_.size());
      if (!config_.quotas.empty() && config_.quotas[a] == 0) continue;  // cannot win: not asked
      const Decision& d = page.propose(a, k);
      items_.insert(items_.end(), d.items.begin(), d.items.end());
      bids_.insert(bids_.end(), d.scores.begin(), d.scores.end());
      owners_.insert(owners_.end(), d.size(), a);
    }
    offsets_.push_back(items_.size());
    std::array<std::size_t, n> wins{};
    page.rank(items_, bids_, page.slots(), ranking_, Rule{items_, owners_, config_.quotas, wins.data(), taken_});
    for (std::size_t row = 0; row < ranking_.size(); ++row) {
      const std::size_t p = ranking_.positions[row];
      page.place(owners_[p], p - offsets_[owners_[p]], ranking_, row);
    }
  }

  /// Local or difference credit (config.credit).
  template <class... Agents>
  void credit(const PageCredit<Agents...>& page, const Feedback& feedback, std::span<Feedback> out) const {
    if (config_.credit == Credit::local) {
      local_credit(page, feedback, out);
      return;
    }
    difference_credit(page, feedback, out, config_.min_no_action);
  }

  /// Nothing to do between pages.
  template <class... Agents>
  void after_learn(std::tuple<Agents...>&, std::uint64_t) const noexcept {}

  /// Writes the config.
  void save(std::ostream& out) const {
    io::ModelWriter w(out, type, 1);
    const std::vector<std::uint64_t> quotas(config_.quotas.begin(), config_.quotas.end());
    w.u64s("quotas", quotas);
    w.u64("proposals", config_.proposals);
    w.u64("credit", static_cast<std::uint64_t>(config_.credit));
    w.f64("min_no_action", config_.min_no_action);
    w.finish();
  }

  /// Replaces the config with a saved SlotAuction's. Throws Error, changing nothing, on another
  /// stream type, a damaged stream, or min_no_action outside (0, 1].
  void load(std::istream& in) {
    constexpr std::uint64_t size_max = std::numeric_limits<std::size_t>::max();
    io::ModelReader r(in, type, 1);
    SlotAuctionConfig c;
    for (const std::uint64_t q : r.u64s("quotas", r.array_size("quotas"))) {
      marl_rec::detail::require(q <= size_max, [&] {
        return std::string("loading a 'slot_auction' model: quota ") + std::to_string(q) + " is out of range";
      });
      c.quotas.push_back(static_cast<std::size_t>(q));
    }
    c.proposals = static_cast<std::size_t>(r.u64("proposals", 0, size_max));
    c.credit = static_cast<Credit>(r.u64("credit", 0, 1));
    c.min_no_action = r.f64("min_no_action");
    marl_rec::detail::require(c.min_no_action > 0.0 && c.min_no_action <= 1.0, [&] {
      return "loading a 'slot_auction' model: field 'min_no_action' must be in (0, 1], got " +
             std::to_string(c.min_no_action);
    });
    r.finish();
    config_ = std::move(c);
  }

  /// The probability q_i, under the single-choice assumption, that a user who acted on agent
  /// `agent`'s items would have acted on another shown item without them (see the class
  /// comment; ε = min_no_action). 0 when the agent holds every slot.
  template <class... Agents>
  static double switch_probability(const PageCredit<Agents...>& page, std::size_t agent, double min_no_action) {
    marl_rec::detail::require(min_no_action > 0.0 && min_no_action <= 1.0, [&] {
      return "SlotAuction::switch_probability: min_no_action " + std::to_string(min_no_action) + " is not in (0, 1]";
    });
    double all = 0.0;
    double others = 0.0;
    for (std::size_t s = 0; s < page.size(); ++s) {
      const double p = clamped(page.relevance_of(s));
      all += p;
      if (page.agent_of(s) != agent) others += p;
    }
    const double none = std::max(min_no_action, 1.0 - all);
    return others / (none + others);
  }

  /// Difference credit (see the class comment) into `out`, one Feedback per agent, as explicit
  /// rewards: slot s of agent i that earned more or less than the no-event reward gets
  /// (r_s − none)(1 − q_i) on its decision position.
  template <class... Agents>
  static void difference_credit(const PageCredit<Agents...>& page, const Feedback& feedback, std::span<Feedback> out,
                                double min_no_action) {
    constexpr std::size_t n = sizeof...(Agents);
    marl_rec::detail::require(out.size() == n, [&] {
      return "SlotAuction::difference_credit: " + std::to_string(out.size()) + " feedbacks for " +
             std::to_string(n) + " agents";
    });
    std::array<double, n> keep{};  // 1 − q_i
    for (std::size_t a = 0; a < n; ++a) keep[a] = 1.0 - switch_probability(page, a, min_no_action);
    for (std::size_t s = 0; s < page.size(); ++s) {
      const double earned = page.reward_of(feedback, s) - page.no_event_reward_of(s);
      if (earned == 0.0) continue;
      const std::size_t a = page.agent_of(s);
      out[a].rewards.emplace_back(page.position_of(s), earned * keep[a]);
    }
  }

 private:
  // An agent's bid as a probability: clamped to [0, 1] (NaN counts as 0).
  static double clamped(float bid) noexcept {
    const double b = static_cast<double>(bid);
    return b > 0.0 ? std::min(b, 1.0) : 0.0;
  }

  // Admits a proposal while its agent is under quota and its item is not on the page yet.
  struct Rule {
    std::span<const std::size_t> items;
    std::span<const std::size_t> owners;
    std::span<const std::size_t> quotas;
    std::size_t* wins;
    std::vector<std::size_t>& taken;
    bool allows(std::size_t p) const noexcept {
      if (!quotas.empty() && wins[owners[p]] >= quotas[owners[p]]) return false;
      return std::find(taken.begin(), taken.end(), items[p]) == taken.end();
    }
    void chosen(std::size_t p) {
      ++wins[owners[p]];
      taken.push_back(items[p]);
    }
  };

  static constexpr const char* type = "slot_auction";

  SlotAuctionConfig config_;
  std::vector<std::size_t> items_;
  std::vector<float> bids_;
  std::vector<std::size_t> owners_;
  std::vector<std::size_t> offsets_;
  std::vector<std::size_t> taken_;
  RankedList ranking_;
};

}  // namespace marl_rec
