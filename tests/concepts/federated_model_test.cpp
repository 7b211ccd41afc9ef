#include <doctest/doctest.h>

#include <cstddef>
#include <iosfwd>
#include <span>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/federated_model.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/models/mlp_scorer.hpp"

namespace {

// The smallest type that satisfies the concept: a Model plus the two members.
struct Archetype {
  void score(const marl_rec::Context&, marl_rec::Candidates, std::span<float>) const {}
  void update(const marl_rec::Context&, std::size_t, double) {}
  void save(std::ostream&) const {}
  void load(std::istream&) {}
  std::string_view name() const { return "archetype"; }
  std::span<const float> shared_parameters() const { return values; }
  void set_shared_parameters(std::span<const float> v) { values.assign(v.begin(), v.end()); }
  std::vector<float> values{};
};

// Returns a type convertible to span<const float> (a vector by const reference): still fine.
struct ReturnsVector : Archetype {
  const std::vector<float>& shared_parameters() const { return values; }
};

// Near misses: each lacks one requirement.
struct NoSetter {
  void score(const marl_rec::Context&, marl_rec::Candidates, std::span<float>) const {}
  void update(const marl_rec::Context&, std::size_t, double) {}
  void save(std::ostream&) const {}
  void load(std::istream&) {}
  std::string_view name() const { return "x"; }
  std::span<const float> shared_parameters() const { return {}; }
};
struct GetterNotConst : Archetype {
  std::span<const float> shared_parameters() { return values; }  // hides the const one
};
struct DoubleParameters : Archetype {
  std::span<const double> shared_parameters() const { return {}; }
};
struct NotAModel {  // the two members, but no score / update / save / load / name
  std::span<const float> shared_parameters() const { return {}; }
  void set_shared_parameters(std::span<const float>) {}
};

}  // namespace

TEST_CASE("FederatedModel: the archetype and the library's models satisfy it, near misses do not") {
  static_assert(marl_rec::FederatedModel<Archetype>);
  static_assert(marl_rec::FederatedModel<ReturnsVector>);
  static_assert(marl_rec::FederatedModel<marl_rec::MatrixFactorization>);
  static_assert(marl_rec::FederatedModel<marl_rec::MlpScorer>);
  static_assert(marl_rec::FederatedModel<marl_rec::LinearQ>);
  // The double-precision MLP (a gradient-checking aid) has no float parameters to share.
  static_assert(!marl_rec::FederatedModel<marl_rec::BasicMlpScorer<double>>);
  // A Model without the members.
  static_assert(marl_rec::Model<marl_rec::LinUcb>);
  static_assert(!marl_rec::FederatedModel<marl_rec::LinUcb>);
  static_assert(!marl_rec::FederatedModel<NoSetter>);
  static_assert(!marl_rec::FederatedModel<GetterNotConst>);
  static_assert(!marl_rec::FederatedModel<DoubleParameters>);
  static_assert(!marl_rec::FederatedModel<NotAModel>);
  static_assert(!marl_rec::FederatedModel<int>);

  Archetype a;
  const std::vector<float> v{1.0f, 2.0f};
  a.set_shared_parameters(v);
  CHECK(a.shared_parameters().size() == 2);
  CHECK(a.name() == "archetype");
}
