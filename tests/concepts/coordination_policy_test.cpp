#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <tuple>

#include "marl_rec/concepts/coordination_policy.hpp"
#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/independent.hpp"
#include "marl_rec/coord/shared_model.hpp"
#include "marl_rec/coord/slot_auction.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/softmax.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "support/toy_model.hpp"

namespace mr = marl_rec;

namespace {

using ToyAgent = mr::Agent<mr::test::ToyModel, mr::Greedy>;
using UcbAgent = mr::Agent<mr::LinUcb>;

// The smallest type that satisfies the concept: it shows an empty page and credits nothing.
struct Archetype {
  std::string_view name() const { return "archetype"; }
  template <class Objectives, class... Agents>
  void assemble(mr::PageAssembly<Objectives, Agents...>&) {}
  template <class... Agents>
  void credit(const mr::PageCredit<Agents...>&, const mr::Feedback&, std::span<mr::Feedback>) {}
  template <class... Agents>
  void after_learn(std::tuple<Agents...>&, std::uint64_t) {}
};

// Near misses: each lacks one requirement.
struct NoCredit {
  std::string_view name() const { return "x"; }
  template <class Objectives, class... Agents>
  void assemble(mr::PageAssembly<Objectives, Agents...>&) {}
  template <class... Agents>
  void after_learn(std::tuple<Agents...>&, std::uint64_t) {}
};
struct NoAfterLearn {
  std::string_view name() const { return "x"; }
  template <class Objectives, class... Agents>
  void assemble(mr::PageAssembly<Objectives, Agents...>&) {}
  template <class... Agents>
  void credit(const mr::PageCredit<Agents...>&, const mr::Feedback&, std::span<mr::Feedback>) {}
};
struct Nameless {
  template <class Objectives, class... Agents>
  void assemble(mr::PageAssembly<Objectives, Agents...>&) {}
  template <class... Agents>
  void credit(const mr::PageCredit<Agents...>&, const mr::Feedback&, std::span<mr::Feedback>) {}
  template <class... Agents>
  void after_learn(std::tuple<Agents...>&, std::uint64_t) {}
};
// Assembles only pages of exactly one agent type: not a policy for two different agents.
struct OnlyToyAgents {
  std::string_view name() const { return "x"; }
  template <class Objectives>
  void assemble(mr::PageAssembly<Objectives, ToyAgent, ToyAgent>&) {}
  template <class... Agents>
  void credit(const mr::PageCredit<Agents...>&, const mr::Feedback&, std::span<mr::Feedback>) {}
  template <class... Agents>
  void after_learn(std::tuple<Agents...>&, std::uint64_t) {}
};
// Assembles through a const page: it could not place anything.
struct ConstAssembly {
  std::string_view name() const { return "x"; }
  template <class Objectives, class... Agents>
  void assemble(mr::PageAssembly<Objectives, Agents...>&&) {}
  template <class... Agents>
  void credit(const mr::PageCredit<Agents...>&, const mr::Feedback&, std::span<mr::Feedback>) {}
  template <class... Agents>
  void after_learn(std::tuple<Agents...>&, std::uint64_t) {}
};

}  // namespace

TEST_CASE("CoordinationPolicy: the archetype and the library's policies satisfy it, near misses do not") {
  static_assert(mr::CoordinationPolicy<Archetype, ToyAgent>);
  static_assert(mr::CoordinationPolicy<Archetype, ToyAgent, UcbAgent>);
  static_assert(mr::CoordinationPolicy<mr::Independent, ToyAgent, UcbAgent, mr::Agent<mr::LinUcb, mr::Softmax>>);
  static_assert(mr::CoordinationPolicy<mr::SlotAuction, ToyAgent, UcbAgent>);
  static_assert(mr::CoordinationPolicy<mr::SharedModel, mr::Agent<mr::Shared<mr::LinUcb>>, mr::Agent<mr::Shared<mr::LinUcb>>>);
  static_assert(!mr::CoordinationPolicy<NoCredit, ToyAgent>);
  static_assert(!mr::CoordinationPolicy<NoAfterLearn, ToyAgent>);
  static_assert(!mr::CoordinationPolicy<Nameless, ToyAgent>);
  static_assert(!mr::CoordinationPolicy<OnlyToyAgents, ToyAgent, UcbAgent>);
  static_assert(mr::CoordinationPolicy<OnlyToyAgents, ToyAgent, ToyAgent>);
  static_assert(!mr::CoordinationPolicy<ConstAssembly, ToyAgent>);
  static_assert(!mr::CoordinationPolicy<int, ToyAgent>);
  // Agents must be Agent<Model, Explorer>.
  static_assert(!mr::CoordinationPolicy<Archetype, mr::test::ToyModel>);
  static_assert(mr::CoordinatedAgent<UcbAgent>);
  static_assert(!mr::CoordinatedAgent<mr::LinUcb>);

  // The archetype runs: empty pages, nothing credited, nothing learned.
  mr::Catalog catalog(1);
  catalog.add("only", std::vector<float>{1.0f});
  mr::Coordinator page{catalog, Archetype{}, ToyAgent(mr::test::ToyModel{{1.0f}, {0.0f}, {0.0f}, {}})};
  mr::MultiObjective<mr::Weighted<mr::Relevance>> objectives;
  const mr::Slate slate = page.recommend(mr::Context{}, mr::Candidates::all(1), 3, objectives);
  CHECK(slate.id == 1);
  CHECK(slate.size() == 0);
  CHECK(page.learn(slate.id, {}) == mr::LearnStatus::learned);  // no agent took part: nothing to teach
  CHECK(page.learn(slate.id, {}) == mr::LearnStatus::duplicate);
  CHECK(page.agent<0>().counters().decisions == 0);
  CHECK(page.policy().name() == "archetype");
}
