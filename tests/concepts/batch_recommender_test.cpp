#include <doctest/doctest.h>

#include <span>
#include <string_view>

#include "marl_rec/concepts/batch_recommender.hpp"
#include "marl_rec/eval/any_batch_recommender.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "marl_rec/models/random_recommender.hpp"

namespace {

// The smallest type that satisfies the concept.
struct Archetype {
  void fit(const marl_rec::Interactions&) {}
  void score_user(std::size_t, std::span<float>) const {}
  std::string_view name() const { return "archetype"; }
};

// Near misses: each lacks one requirement.
struct ScoresOnlyWhenMutable {
  void fit(const marl_rec::Interactions&) {}
  void score_user(std::size_t, std::span<float>) {}  // not const
  std::string_view name() const { return "x"; }
};
struct NoFit {
  void score_user(std::size_t, std::span<float>) const {}
  std::string_view name() const { return "x"; }
};
struct NamelessModel {
  void fit(const marl_rec::Interactions&) {}
  void score_user(std::size_t, std::span<float>) const {}
};

}  // namespace

TEST_CASE("BatchRecommender: the archetype and the library's models satisfy it, near misses do not") {
  static_assert(marl_rec::BatchRecommender<Archetype>);
  static_assert(marl_rec::BatchRecommender<marl_rec::MostPopular>);
  static_assert(marl_rec::BatchRecommender<marl_rec::RandomRecommender>);
  static_assert(marl_rec::BatchRecommender<marl_rec::eval::AnyBatchRecommender>);
  static_assert(!marl_rec::BatchRecommender<ScoresOnlyWhenMutable>);
  static_assert(!marl_rec::BatchRecommender<NoFit>);
  static_assert(!marl_rec::BatchRecommender<NamelessModel>);
  static_assert(!marl_rec::BatchRecommender<int>);
  CHECK(Archetype{}.name() == "archetype");
}
