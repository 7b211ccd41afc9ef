// marl_rec — SharedModel: agents that read and write one model. Shared<M> is a handle to a model
// held by several agents; the SharedModel policy lays the page out as Independent does, so that
// what differs from Independent is the sharing alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <istream>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/concepts/explorer.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/coord/independent.hpp"
#include "marl_rec/coord/page_assembly.hpp"
#include "marl_rec/coord/page_credit.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"

namespace marl_rec {

/// A handle to a model shared by several owners (agents): every call is forwarded to one M held
/// by a std::shared_ptr, and copies of a handle share that model — an update through one is seen
/// by all. Satisfies Model, and UncertainModel / TopKUncertainModel / SamplingModel /
/// SequentialModel when M does.
///
/// - save() writes the shared model's state (M's own stream: a model saved through a handle
///   loads into a plain M, and the other way round); load() replaces the shared model's state, so
///   loading through one handle changes it for every agent that holds it.
/// - name() is M's name.
/// - Thread-safety is M's: const calls may run concurrently with each other, but an update
///   through any handle may not run alongside any other call on the model. Agents over one
///   model are therefore used from one thread, as a single Agent is.
/// - To give an agent its own copy instead, build a new handle: Shared<M>(M(handle.get())).
template <Model M>
class Shared {
 public:
  /// The shared model's type.
  using model_type = M;

  /// A handle to a new shared model holding `model`.
  explicit Shared(M model = M{}) : model_(std::make_shared<M>(std::move(model))) {}
  /// A handle to the model `model` points to. Throws Error when it is null.
  explicit Shared(std::shared_ptr<M> model) : model_(std::move(model)) {
    marl_rec::detail::require(model_ != nullptr, "Shared: the model pointer is null");
  }

  /// Model::score of the shared model.
  void score(const Context& context, Candidates candidates, std::span<float> scores) const {
    model_->score(context, candidates, scores);
  }
  /// UncertainModel::upper_bound of the shared model (when it has one).
  void upper_bound(const Context& context, Candidates candidates, std::span<float> scores) const
    requires UncertainModel<M>
  {
    model_->upper_bound(context, candidates, scores);
  }
  /// TopKUncertainModel::upper_bound_top_k of the shared model (when it has one).
  template <ItemExclusion Exclude>
    requires TopKUncertainModel<M, Exclude>
  std::size_t upper_bound_top_k(const Context& context, Candidates candidates, std::size_t k,
                                const Exclude& exclude, std::span<ScoredItem> out) const {
    return model_->upper_bound_top_k(context, candidates, k, exclude, out);
  }
  /// SamplingModel::sample_scores of the shared model (when it has one).
  void sample_scores(const Context& context, Candidates candidates, std::span<float> scores, Rng& rng) const
    requires SamplingModel<M>
  {
    model_->sample_scores(context, candidates, scores, rng);
  }
  /// Teaches the shared model: every handle sees the update.
  void update(const Context& context, std::size_t item, double reward) { model_->update(context, item, reward); }
  /// SequentialModel's bootstrapped update of the shared model (when it has one).
  void update(const Context& context, std::size_t item, double reward, const Context& next, Candidates next_candidates)
    requires SequentialModel<M>
  {
    model_->update(context, item, reward, next, next_candidates);
  }
  /// Writes the shared model's state (M's own stream).
  void save(std::ostream& out) const { model_->save(out); }
  /// Replaces the shared model's state, for every handle (see the class comment).
  void load(std::istream& in) { model_->load(in); }
  /// The shared model's name.
  decltype(auto) name() const { return model_->name(); }

  /// The shared model.
  const M& get() const noexcept { return *model_; }
  /// The shared pointer itself (e.g. to build another handle to the same model).
  std::shared_ptr<M> handle() const noexcept { return model_; }
  /// True when both handles refer to the same model.
  bool shares_with(const Shared& other) const noexcept { return model_ == other.model_; }
  /// Handles to the model (std::shared_ptr::use_count).
  long owners() const noexcept { return model_.use_count(); }

 private:
  std::shared_ptr<M> model_;
};

namespace detail {
template <class T>
struct IsShared : std::false_type {};
template <class M>
struct IsShared<Shared<M>> : std::true_type {};

template <class First, class... Rest>
inline constexpr bool all_same_v = (std::is_same_v<First, Rest> && ...);
}  // namespace detail

/// Agents over one model: each gets a Shared<M> handle to `model` and its own explorer (give
/// each its own seed), with the same config. Returns them as a tuple, which a Coordinator takes
/// directly: `Coordinator page{catalog, SharedModel{}, make_shared_agents(model, {}, e1, e2, e3)};`.
template <Model M, class... Explorers>
  requires(sizeof...(Explorers) >= 1 && (ExplorerFor<Explorers, Shared<M>> && ...))
std::tuple<Agent<Shared<M>, Explorers>...> make_shared_agents(M model, AgentConfig config, Explorers... explorers) {
  const Shared<M> shared(std::move(model));
  return std::tuple<Agent<Shared<M>, Explorers>...>(
      Agent<Shared<M>, Explorers>(shared, std::move(explorers), config)...);
}

/// Settings of SharedModel: the page layout, as Independent's.
using SharedModelConfig = IndependentConfig;

/// Agents that share one model (every agent's model is a Shared<M> handle to the same M, e.g.
/// from make_shared_agents): each learns from its own slots' feedback into the common model, and
/// each recommends from everything all of them learned. The page is assembled exactly as
/// Independent assembles it (a fixed layout, each agent re-ranking its own proposals), so the
/// difference from Independent is the sharing alone. Credit: local.
///
/// Errors: agents whose handles refer to different models (checked at every page), and
/// Independent's layout errors. Agents whose models are not all Shared<M> of one M do not
/// satisfy CoordinationPolicy (a compile-time error at the Coordinator).
///
/// save() writes the layout config (stream type "shared_model", version 1), the policy's only
/// state; load(in) replaces it. The shared model is saved by the agents, not by the policy.
class SharedModel : private Independent {
 public:
  /// A policy with this page layout.
  explicit SharedModel(SharedModelConfig config = {}) : Independent(std::move(config)) {}

  /// "shared_model".
  std::string_view name() const noexcept { return "shared_model"; }
  /// The settings (Independent's).
  using Independent::config;

  /// Checks that the agents share one model, then fills the page as Independent does.
  template <class Objectives, class... Agents>
    requires((detail::IsShared<typename Agents::model_type>::value && ...) &&
             detail::all_same_v<typename Agents::model_type...>)
  void assemble(PageAssembly<Objectives, Agents...>& page) {
    check_shared(page, std::index_sequence_for<Agents...>{});
    Independent::assemble(page, "SharedModel");
  }

  /// Each agent learns its own slots' feedback (into the shared model).
  template <class... Agents>
  void credit(const PageCredit<Agents...>& page, const Feedback& feedback, std::span<Feedback> out) const {
    local_credit(page, feedback, out);
  }

  /// Nothing to do between pages: the agents already learn into one model.
  template <class... Agents>
  void after_learn(std::tuple<Agents...>&, std::uint64_t) const noexcept {}

  /// Writes the config.
  void save(std::ostream& out) const { save_as(out, "shared_model"); }
  /// Replaces the config with a saved SharedModel's. Throws Error, changing nothing, on another
  /// stream type or a damaged stream.
  void load(std::istream& in) { load_as(in, "shared_model"); }

 private:
  template <class Objectives, class... Agents, std::size_t... I>
  static void check_shared(const PageAssembly<Objectives, Agents...>& page, std::index_sequence<I...>) {
    const auto& first = page.template agent<0>().model();
    const auto check = [&](std::size_t i, const auto& model) {
      marl_rec::detail::require(model.shares_with(first), [&] {
        return "SharedModel: agent " + std::to_string(i) + "'s model is not the one agent 0 holds";
      });
    };
    (check(I, page.template agent<I>().model()), ...);
  }
};

}  // namespace marl_rec
