// marl_rec — an Rng as one field of a model stream (its six state words, Rng::state()), so that
// every object that draws random numbers saves exactly where its generator stands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"

namespace marl_rec::io {

/// Writes `rng`'s state as the integer-array field `field` (6 values).
inline void write_rng(ModelWriter& writer, std::string_view field, const Rng& rng) {
  const Rng::State state = rng.state();
  writer.u64s(field, state);
}

/// Reads the field write_rng wrote. Throws Error naming the stream's type (`type`, as given to
/// the reader) and the field on a missing field, a wrong size, or a state no generator can be in
/// (see Rng::from_state).
inline Rng read_rng(ModelReader& reader, std::string_view type, std::string_view field) {
  const std::vector<std::uint64_t> words = reader.u64s(field, Rng::State{}.size());
  Rng::State state{};
  for (std::size_t i = 0; i < state.size(); ++i) state[i] = words[i];
  try {
    return Rng::from_state(state);
  } catch (const Error& e) {
    throw Error("loading a '" + std::string(type) + "' model: field '" + std::string(field) + "': " + e.what());
  }
}

}  // namespace marl_rec::io
