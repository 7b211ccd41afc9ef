// marl_rec — Independent: the baseline coordination policy. A fixed layout gives each agent its
// own slots; each fills them from its own proposals, and learns from its own slots' feedback.
#pragma once

#include <array>
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

/// Settings of Independent (and SharedModel).
struct IndependentConfig {
  /// The agent of each slot (agent indices, slot 0 first; its first `slots` entries are used), or
  /// empty: round-robin (slot s belongs to agent s mod the agent count).
  std::vector<std::size_t> layout{};
  /// Proposals asked of each agent, or 0: twice the number of its slots.
  std::size_t proposals = 0;
};

/// The baseline: agents that do not coordinate. A fixed layout assigns each slot to an agent;
/// each agent proposes (config.proposals, or twice its slot count), re-ranks its own proposals
/// alone with the page's objectives — it cannot see the other agents' items, so e.g. a diversity
/// objective spreads each agent's items but not the page's — and fills its slots in order with
/// its best ones. Credit: each agent learns the feedback of its own slots (local_credit).
///
/// The one thing the agents do share: an item already taken by an earlier agent (in agent order)
/// is not taken again, since a page cannot show an item twice (with pools that partition the
/// catalog this never happens). An agent with fewer eligible items than slots leaves the rest
/// of its slots empty: the page is shorter, later slots moving up.
///
/// Errors: a layout shorter than the page or naming an agent that does not exist.
///
/// save() writes the config (stream type "independent", version 1), the policy's only state;
/// load(in) replaces it (a Coordinator saves and loads its policy this way).
class Independent {
 public:
  /// A policy with these settings (checked against the page and agents at each page).
  explicit Independent(IndependentConfig config = {}) : config_(std::move(config)) {}

  /// "independent".
  std::string_view name() const noexcept { return "independent"; }
  /// The settings.
  const IndependentConfig& config() const noexcept { return config_; }

  /// Fills the page (see the class comment).
  template <class Objectives, class... Agents>
  void assemble(PageAssembly<Objectives, Agents...>& page) {
    assemble(page, "Independent");
  }

  /// Each agent learns its own slots' feedback.
  template <class... Agents>
  void credit(const PageCredit<Agents...>& page, const Feedback& feedback, std::span<Feedback> out) const {
    local_credit(page, feedback, out);
  }

  /// Nothing to do between pages.
  template <class... Agents>
  void after_learn(std::tuple<Agents...>&, std::uint64_t) const noexcept {}

  /// Writes the config.
  void save(std::ostream& out) const { save_as(out, "independent"); }
  /// Replaces the config with a saved Independent's. Throws Error, changing nothing, on another
  /// stream type or a damaged stream.
  void load(std::istream& in) { load_as(in, "independent"); }

 protected:
  // The config as a stream of type `type` (SharedModel saves the same config under its name).
  void save_as(std::ostream& out, const char* type) const {
    io::ModelWriter w(out, type, 1);
    const std::vector<std::uint64_t> layout(config_.layout.begin(), config_.layout.end());
    w.u64s("layout", layout);
    w.u64("proposals", config_.proposals);
    w.finish();
  }
  void load_as(std::istream& in, const char* type) {
    constexpr std::uint64_t size_max = std::numeric_limits<std::size_t>::max();
    io::ModelReader r(in, type, 1);
    IndependentConfig c;
    const std::vector<std::uint64_t> layout = r.u64s("layout", r.array_size("layout"));
    for (const std::uint64_t a : layout) {
      // Agent indices are checked against the agents at each page; here only what fits.
      marl_rec::detail::require(a <= size_max, [&] {
        return std::string("loading a '") + type + "' model: layout entry " + std::to_string(a) + " is out of range";
      });
      c.layout.push_back(static_cast<std::size_t>(a));
    }
    c.proposals = static_cast<std::size_t>(r.u64("proposals", 0, size_max));
    r.finish();
    config_ = std::move(c);
  }

  // The assembly, with the name errors report (SharedModel reuses it).
  template <class Objectives, class... Agents>
  void assemble(PageAssembly<Objectives, Agents...>& page, const char* who) {
    constexpr std::size_t n = sizeof...(Agents);
    const std::size_t slots = page.slots();
    marl_rec::detail::require(config_.layout.empty() || config_.layout.size() >= slots, [&] {
      return std::string(who) + ": the layout has " + std::to_string(config_.layout.size()) + " slots, the page " +
             std::to_string(slots);
    });
    std::array<std::size_t, n> own{};  // slots per agent
    for (std::size_t s = 0; s < slots; ++s) {
      const std::size_t a = agent_of(s, n);
      marl_rec::detail::require(a < n, [&] {
        return std::string(who) + ": the layout gives slot " + std::to_string(s) + " to agent " + std::to_string(a) +
               ", but there are " + std::to_string(n) + " agents";
      });
      ++own[a];
    }
    // Each agent ranks its own proposals (skipping items earlier agents took), best first.
    rankings_.resize(n);
    taken_.clear();
    for (std::size_t a = 0; a < n; ++a) {
      rankings_[a].positions.clear();
      if (own[a] == 0) continue;
      const Decision& d = page.propose(a, config_.proposals != 0 ? config_.proposals : 2 * own[a]);
      page.rank(d.items, d.scores, own[a], rankings_[a], NotTaken{d.items, taken_});
      for (const std::size_t p : rankings_[a].positions) taken_.push_back(d.items[p]);
    }
    // Then the slots in layout order, each from its agent's next ranked item.
    std::array<std::size_t, n> next{};
    for (std::size_t s = 0; s < slots; ++s) {
      const std::size_t a = agent_of(s, n);
      if (next[a] >= rankings_[a].size()) continue;  // the agent ran out: the page is shorter
      const std::size_t row = next[a]++;
      page.place(a, rankings_[a].positions[row], rankings_[a], row);
    }
  }

 private:
  // A candidate is eligible when its item is not taken yet.
  struct NotTaken {
    std::span<const std::size_t> items;
    const std::vector<std::size_t>& taken;
    bool allows(std::size_t p) const noexcept {
      for (const std::size_t t : taken) {
        if (t == items[p]) return false;
      }
      return true;
    }
    void chosen(std::size_t) const noexcept {}
  };

  std::size_t agent_of(std::size_t slot, std::size_t agents) const noexcept {
    return config_.layout.empty() ? slot % agents : config_.layout[slot];
  }

  IndependentConfig config_;
  std::vector<RankedList> rankings_;
  std::vector<std::size_t> taken_;
};

}  // namespace marl_rec
