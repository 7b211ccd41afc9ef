// marl_rec — the contract of a model whose agents learn together by federated averaging: it
// exposes the parameters the agents share as one flat float vector, and can have them replaced.
#pragma once

#include <concepts>
#include <span>

#include "marl_rec/concepts/model.hpp"

namespace marl_rec {

/// A Model whose shared parameters can be read and replaced, so that several agents, each
/// training its own copy on its own data, can average them (coord::FederatedAveraging).
///
/// Semantic rules the compiler cannot check:
/// - `shared_parameters()` is the part of the model that is averaged across agents, flat (a
///   documented layout per model: e.g. MatrixFactorization's item factors, items() × f
///   row-major). What is private to an agent's own data stays out of it and stays local: a
///   user's own factors, an optimiser's moments, a replay buffer.
/// - Its size is fixed once the model is built, fitted or dimensioned (it may be 0 before); two
///   copies of one initial model have the same size, and training does not change it.
/// - `set_shared_parameters(values)` replaces the shared parameters with `values` (same layout)
///   and recomputes whatever the model derives from them (e.g. MatrixFactorization's YᵀY Gram
///   matrix and its item inverse norms), so the model afterwards scores and learns as if it had
///   reached these values itself. It throws marl_rec::Error, leaving the model unchanged, on a
///   size mismatch (the message names both sizes) or a non-finite value.
/// - The round trip is exact: after `m.set_shared_parameters(copy of m.shared_parameters())`, m
///   scores bit-identically to before.
/// - `shared_parameters()` is const and does not copy: the span stays valid until the model is
///   next modified (so copy it before training or setting the model again).
template <class M>
concept FederatedModel = Model<M> && requires(M& model, const M& fitted,
                                              std::span<const float> values) {
  { fitted.shared_parameters() } -> std::convertible_to<std::span<const float>>;
  model.set_shared_parameters(values);
};

}  // namespace marl_rec
