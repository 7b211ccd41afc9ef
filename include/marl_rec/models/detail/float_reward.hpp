// marl_rec — the reward check of the models that learn in float.
#pragma once

#include <cmath>
#include <string>

#include "marl_rec/core/error.hpp"

namespace marl_rec::detail {

/// `reward` as the float a model learns from. Throws Error naming `where` when it is not finite,
/// or does not fit a float (e.g. 1e300).
inline float float_reward(const char* where, double reward) {
  const auto r = static_cast<float>(reward);
  marl_rec::detail::require(std::isfinite(reward) && std::isfinite(r), [&] {
    return std::string(where) + ": reward " + std::to_string(reward) + " is not finite as a float";
  });
  return r;
}

}  // namespace marl_rec::detail
