// marl_rec — the explorer an Agent uses when none is named: the model's own.
#pragma once

#include <type_traits>

#include "marl_rec/concepts/model.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/explore/ucb.hpp"

namespace marl_rec {

/// Thompson for a model with a posterior (LinThompson), Ucb for a model with a confidence bound
/// (LinUcb), and ε-greedy (ε = 0.1) for every other model, so that an Agent learning online
/// explores by default. Name Greedy explicitly to serve without exploration.
template <Model M>
using DefaultExplorer =
    std::conditional_t<SamplingModel<M>, Thompson,
                       std::conditional_t<UncertainModel<M>, Ucb, EpsilonGreedy>>;

}  // namespace marl_rec
