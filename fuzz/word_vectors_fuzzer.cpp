// libFuzzer target: WordVectorEmbedder::load_text (word2vec / fastText .vec, GloVe) and
// load_binary (word2vec .bin) over arbitrary bytes; the first byte chooses the reader. Only
// marl_rec::Error is an acceptable failure. A loaded embedder must have a dimension and a
// vocabulary, finite vectors, and embed any text into finite values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "marl_rec/embed/word_vector_embedder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool binary = (data[0] & 1u) != 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::istringstream in(bytes, std::ios::binary);
  try {
    const marl_rec::WordVectorEmbedder e = binary ? marl_rec::WordVectorEmbedder::load_binary(in, "fuzz.bin")
                                                  : marl_rec::WordVectorEmbedder::load_text(in, "fuzz.vec");
    MARL_REC_FUZZ_CHECK(e.dim() >= 1);
    MARL_REC_FUZZ_CHECK(e.vocabulary_size() >= 1);
    for (std::size_t r = 0; r < e.vocabulary_size() && r < 64; ++r) {
      for (const float v : e.vector(r)) MARL_REC_FUZZ_CHECK(std::isfinite(v));
    }
    std::vector<float> out(e.dim());
    e.embed(bytes.substr(0, 256), out);
    for (const float v : out) MARL_REC_FUZZ_CHECK(std::isfinite(v));
  } catch (const marl_rec::Error&) {
  }
  return 0;
}
