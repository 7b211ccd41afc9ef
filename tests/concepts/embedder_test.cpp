#include <doctest/doctest.h>

#include <span>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/embedder.hpp"

namespace {

// The smallest types that satisfy the concepts.
struct Archetype {
  std::size_t dim() const { return 2; }
  void embed(std::string_view text, std::span<float> out) const {
    out[0] = text.size() % 2 == 0 ? 1.0f : 0.0f;
    out[1] = 1.0f - out[0];
  }
};
struct BatchArchetype : Archetype {
  mutable int batch_calls = 0;
  void embed_batch(std::span<const std::string_view> texts, marl_rec::MutableMatrixView out) const {
    ++batch_calls;
    for (std::size_t i = 0; i < texts.size(); ++i) embed(texts[i], out.row(i));
  }
};

// Near misses.
struct NoDim {
  void embed(std::string_view, std::span<float>) const {}
};
struct MutableEmbed {
  std::size_t dim() const { return 2; }
  void embed(std::string_view, std::span<float>) {}  // not const: not safe to share
};
struct WrongArguments {
  std::size_t dim() const { return 2; }
  void embed(const char*, std::vector<float>&) const {}
};

}  // namespace

TEST_CASE("Embedder: archetypes satisfy it, near misses do not") {
  static_assert(marl_rec::Embedder<Archetype>);
  static_assert(!marl_rec::BatchEmbedder<Archetype>);
  static_assert(marl_rec::BatchEmbedder<BatchArchetype>);
  static_assert(!marl_rec::Embedder<NoDim>);
  static_assert(!marl_rec::Embedder<MutableEmbed>);
  static_assert(!marl_rec::Embedder<WrongArguments>);
  static_assert(!marl_rec::Embedder<int>);
}

TEST_CASE("embed_batch uses the embedder's own batch form when it has one, and checks the shape") {
  const std::vector<std::string_view> texts = {"ab", "abc", "abcd"};
  std::vector<float> storage(6);
  const marl_rec::MutableMatrixView out(storage, 3, 2);
  marl_rec::embed_batch(Archetype{}, texts, out);
  CHECK(storage == std::vector<float>{1, 0, 0, 1, 1, 0});
  BatchArchetype batch;
  std::fill(storage.begin(), storage.end(), 0.0f);
  marl_rec::embed_batch(batch, texts, out);
  CHECK(batch.batch_calls == 1);
  CHECK(storage == std::vector<float>{1, 0, 0, 1, 1, 0});
  std::vector<float> small(4);
  CHECK_THROWS_WITH_AS(marl_rec::embed_batch(Archetype{}, texts, marl_rec::MutableMatrixView(small, 2, 2)),
                       "embed_batch: out is 2 x 2, expected 3 x 2", marl_rec::Error);
}
