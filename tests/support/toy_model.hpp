// Test helper: a model whose scores are set by the test, that records what it is taught.
#pragma once

#include <cmath>
#include <cstddef>
#include <istream>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"

namespace marl_rec::test {

/// Item i scores means[i]; its upper bound adds bonus[i]; a posterior draw adds N(0, sd[i]²).
/// Every update is recorded (with a copy of the context's features and history).
struct ToyModel {
  struct Update {
    std::vector<float> features;
    std::vector<std::size_t> history;
    std::size_t user = 0;
    std::size_t state = 0;
    std::size_t item = 0;
    double reward = 0.0;
    bool bootstrapped = false;
    std::vector<float> next_features;
    std::size_t next_candidates = 0;
  };

  std::vector<float> means;
  std::vector<float> bonus;
  std::vector<float> sd;
  std::vector<Update> updates;

  std::string_view name() const noexcept { return "toy"; }

  void score(const Context&, Candidates c, std::span<float> out) const {
    check(c, out);
    for (std::size_t i = 0; i < c.size(); ++i) out[i] = means[c[i]];
  }
  void upper_bound(const Context&, Candidates c, std::span<float> out) const {
    check(c, out);
    for (std::size_t i = 0; i < c.size(); ++i) out[i] = means[c[i]] + bonus[c[i]];
  }
  void sample_scores(const Context&, Candidates c, std::span<float> out, Rng& rng) const {
    check(c, out);
    for (std::size_t i = 0; i < c.size(); ++i) {
      out[i] = means[c[i]] + static_cast<float>(sd[c[i]] * rng.normal());
    }
  }
  void update(const Context& x, std::size_t item, double reward) {
    marl_rec::detail::require(std::isfinite(reward), "ToyModel::update: reward not finite");
    updates.push_back({{x.features.begin(), x.features.end()},
                       {x.history.begin(), x.history.end()}, x.user, x.state, item, reward,
                       false, {}, 0});
  }
  void update(const Context& x, std::size_t item, double reward, const Context& next,
              Candidates next_candidates) {
    update(x, item, reward);
    updates.back().bootstrapped = true;
    updates.back().next_features.assign(next.features.begin(), next.features.end());
    updates.back().next_candidates = next_candidates.size();
  }
  void save(std::ostream&) const {}
  void load(std::istream&) {}

 private:
  void check(Candidates c, std::span<float> out) const {
    marl_rec::detail::require(out.size() == c.size(), "ToyModel: scores size");
    marl_rec::detail::require(c.index_bound() <= means.size(), "ToyModel: item out of range");
  }
};

/// A ToyModel of n items where item i scores i / divisor (so higher items are better), without
/// bonus or posterior spread.
inline ToyModel ranked_toy(std::size_t n, float divisor = 1.0f) {
  ToyModel m;
  for (std::size_t i = 0; i < n; ++i) m.means.push_back(static_cast<float>(i) / divisor);
  m.bonus.assign(n, 0.0f);
  m.sd.assign(n, 0.0f);
  return m;
}

static_assert(SequentialModel<ToyModel>);
static_assert(UncertainModel<ToyModel>);
static_assert(SamplingModel<ToyModel>);

}  // namespace marl_rec::test
