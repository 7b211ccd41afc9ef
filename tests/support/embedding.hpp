// Test helper: an embedder's vector for one text, as a std::vector.
#pragma once

#include <string_view>
#include <vector>

namespace marl_rec::test {

template <class E>
std::vector<float> embedded(const E& embedder, std::string_view text) {
  std::vector<float> out(embedder.dim());
  embedder.embed(text, out);
  return out;
}

}  // namespace marl_rec::test
