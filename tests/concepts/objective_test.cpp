#include <doctest/doctest.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/objective.hpp"
#include "marl_rec/objective/multi_objective.hpp"

namespace {

// The smallest types that satisfy the concepts.
struct Archetype {
  static constexpr bool list_dependent = false;
  void prepare(const marl_rec::RankingInput&) {}
  double value(std::size_t position) const { return position == 0 ? 1.0 : 0.5; }
  void select(std::size_t) {}
  std::string_view name() const { return "archetype"; }
};
struct RecordingArchetype : Archetype {
  int pages = 0;
  void record(std::span<const std::size_t>, const marl_rec::Catalog&) { ++pages; }
};
struct RuleArchetype {
  bool allows(std::size_t position) const { return position != 1; }
  void chosen(std::size_t) {}
};

// Near misses. (Their list_dependent is never read: [[maybe_unused]] for clang.)
struct MutableValue {  // value() must be const
  [[maybe_unused]] static constexpr bool list_dependent = false;
  void prepare(const marl_rec::RankingInput&) {}
  double value(std::size_t) { return 0.0; }
  void select(std::size_t) {}
  std::string_view name() const { return "mutable"; }
};
struct NoListDependent {  // list_dependent is part of the contract
  void prepare(const marl_rec::RankingInput&) {}
  double value(std::size_t) const { return 0.0; }
  void select(std::size_t) {}
  std::string_view name() const { return "no_flag"; }
};
struct NoSelect {
  [[maybe_unused]] static constexpr bool list_dependent = true;
  void prepare(const marl_rec::RankingInput&) {}
  double value(std::size_t) const { return 0.0; }
  std::string_view name() const { return "no_select"; }
};
struct TextValue {  // the value must convert to double
  [[maybe_unused]] static constexpr bool list_dependent = false;
  void prepare(const marl_rec::RankingInput&) {}
  std::string_view value(std::size_t) const { return "high"; }
  void select(std::size_t) {}
  std::string_view name() const { return "text"; }
};
struct OwnedName : Archetype {  // a name in a temporary std::string would dangle in explanations
  std::string name() const { return "owned"; }
};
struct RecordsWithoutCatalog : Archetype {
  void record(std::span<const std::size_t>) {}
};
struct MutableAllows {  // allows() must be const
  bool allows(std::size_t) { return true; }
  void chosen(std::size_t) {}
};

}  // namespace

TEST_CASE("Objective, RecordingObjective, SelectionRule: archetypes satisfy them, near misses do not") {
  static_assert(marl_rec::Objective<Archetype>);
  static_assert(!marl_rec::RecordingObjective<Archetype>);
  static_assert(marl_rec::RecordingObjective<RecordingArchetype>);
  static_assert(!marl_rec::Objective<MutableValue>);
  static_assert(!marl_rec::Objective<NoListDependent>);
  static_assert(!marl_rec::Objective<NoSelect>);
  static_assert(!marl_rec::Objective<TextValue>);
  static_assert(!marl_rec::Objective<OwnedName>);
  static_assert(!marl_rec::Objective<int>);
  static_assert(marl_rec::Objective<RecordsWithoutCatalog>);
  static_assert(!marl_rec::RecordingObjective<RecordsWithoutCatalog>);
  static_assert(marl_rec::SelectionRule<RuleArchetype>);
  static_assert(marl_rec::SelectionRule<marl_rec::NoSelectionRule>);
  static_assert(!marl_rec::SelectionRule<MutableAllows>);
}

TEST_CASE("The archetypes work in a MultiObjective") {
  marl_rec::MultiObjective<marl_rec::Weighted<Archetype>, marl_rec::Weighted<RecordingArchetype>> mo;
  const std::vector<std::size_t> items{4, 5, 6};
  const std::vector<float> relevance{0.0f, 0.0f, 0.0f};
  marl_rec::RankedList out;
  mo.rank({.items = items, .relevance = relevance}, 3, out, RuleArchetype{});
  CHECK(out.positions == std::vector<std::size_t>{0, 2});  // position 0 is worth most; 1 is not allowed
  const marl_rec::Catalog catalog(1);
  mo.record(items, catalog);
  CHECK(mo.get<1>().pages == 1);
}
