#include <doctest/doctest.h>

#include <cstddef>
#include <limits>
#include <span>
#include <vector>

#include "marl_rec/concepts/candidate_generator.hpp"
#include "marl_rec/index/brute_force_candidates.hpp"
#include "support/errors.hpp"

namespace {

namespace mr = marl_rec;

// The smallest type that satisfies the concept: proposes the first min(m, size) items, and
// returns one fewer than asked when `short_by_one` (an approximate generator may).
struct Archetype {
  std::size_t items = 5;
  bool short_by_one = false;
  std::size_t dim() const { return 2; }
  std::size_t size() const { return items; }
  std::size_t generate(std::span<const float> query, std::size_t m, std::span<std::size_t> out) const {
    mr::detail::check_generate("Archetype::generate", dim(), size(), query, m, out);
    std::size_t count = m < items ? m : items;
    if (short_by_one && count > 0) --count;
    for (std::size_t i = 0; i < count; ++i) out[i] = items - 1 - i;
    return count;
  }
};

// Near misses.
struct NoSize {
  std::size_t dim() const { return 2; }
  std::size_t generate(std::span<const float>, std::size_t, std::span<std::size_t>) const { return 0; }
};
struct MutableGenerate {
  std::size_t dim() const { return 2; }
  std::size_t size() const { return 1; }
  std::size_t generate(std::span<const float>, std::size_t, std::span<std::size_t>) { return 0; }
};
struct ReturnsNothing {
  std::size_t dim() const { return 2; }
  std::size_t size() const { return 1; }
  void generate(std::span<const float>, std::size_t, std::span<std::size_t>) const {}
};
struct WrongOutput {
  std::size_t dim() const { return 2; }
  std::size_t size() const { return 1; }
  std::size_t generate(std::span<const float>, std::size_t, std::vector<int>&) const { return 0; }
};

}  // namespace

TEST_CASE("CandidateGenerator: archetypes satisfy it, near misses do not") {
  static_assert(mr::CandidateGenerator<Archetype>);
  static_assert(mr::CandidateGenerator<mr::BruteForceCandidates>);
  static_assert(!mr::CandidateGenerator<NoSize>);
  static_assert(!mr::CandidateGenerator<MutableGenerate>);
  static_assert(!mr::CandidateGenerator<ReturnsNothing>);
  static_assert(!mr::CandidateGenerator<WrongOutput>);
  static_assert(!mr::CandidateGenerator<int>);
}

TEST_CASE("generate_candidates: the generator's output as a Candidates list, storage reused") {
  const std::vector<float> query = {1.0f, 0.0f};
  std::vector<std::size_t> storage;
  mr::Candidates c = mr::generate_candidates(Archetype{}, query, 3, storage);
  CHECK_FALSE(c.is_all());
  REQUIRE(c.size() == 3);
  CHECK(c[0] == 4);
  CHECK(c[1] == 3);
  CHECK(c[2] == 2);
  CHECK(c.list().data() == storage.data());

  // More than the catalog: all of it. Fewer returned than room: the list has what was returned.
  c = mr::generate_candidates(Archetype{}, query, 10, storage);
  CHECK(c.size() == 5);
  c = mr::generate_candidates(Archetype{.items = 5, .short_by_one = true}, query, 4, storage);
  CHECK(c.size() == 3);
  CHECK(storage.size() == 3);
  c = mr::generate_candidates(Archetype{}, query, 0, storage);
  CHECK(c.empty());
}

TEST_CASE("check_generate: the messages every generator gives for a bad call") {
  const std::vector<float> query = {1.0f, 0.0f};
  std::vector<std::size_t> out(2);
  const Archetype g;
  CHECK(mr::test::error_of([&] { (void)g.generate(std::vector<float>{1.0f}, 2, out); }) ==
        "Archetype::generate: query has 1 elements, the items have 2");
  const std::vector<float> nan_query = {1.0f, std::numeric_limits<float>::quiet_NaN()};
  CHECK(mr::test::error_of([&] { (void)g.generate(nan_query, 2, out); }) ==
        "Archetype::generate: query value 1 is not finite");
  const std::vector<float> inf_query = {-std::numeric_limits<float>::infinity(), 0.0f};
  CHECK(mr::test::error_of([&] { (void)g.generate(inf_query, 2, out); }) ==
        "Archetype::generate: query value 0 is not finite");
  CHECK(mr::test::error_of([&] { (void)g.generate(query, 3, out); }) ==
        "Archetype::generate: out has room for 2 indices, 3 are needed");
  CHECK(mr::test::error_of([&] { (void)g.generate(query, 1, std::span<std::size_t>()); }) ==
        "Archetype::generate: out has room for 0 indices, 1 are needed");
  // The room needed is min(m, size()): a small catalog needs no more.
  const Archetype two{.items = 2};
  CHECK(two.generate(query, 100, out) == 2);
  CHECK(two.generate(query, 0, std::span<std::size_t>()) == 0);
}
