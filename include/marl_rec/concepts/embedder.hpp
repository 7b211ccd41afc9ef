// marl_rec — the contract of everything that turns text (an item's title and description, a
// user's query, an id) into a vector: the built-in embedders and a user's own (e.g. one that
// calls the engine's LLM service).
#pragma once

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "marl_rec/core/error.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

/// A type that embeds text into vectors of `dim()` floats.
///
/// Semantic rules the compiler cannot check:
/// - `embed(text, out)` writes exactly `dim()` floats to `out` (`out.size() == dim()`, else it
///   throws marl_rec::Error) and nothing else.
/// - The output is L2-normalised (unit length) and finite: marl_rec scores by dot product, so
///   unit vectors make every score a cosine similarity. Embedders that cannot produce a vector
///   (empty text, invalid UTF-8, an id they do not know) throw marl_rec::Error naming the input,
///   never return zeros or garbage silently.
/// - Deterministic: the same text gives the same bits for as long as the embedder is not changed
///   (and, for the built-in embedders, on every platform).
/// - `embed` and `dim` are const and safe to call from many threads at once.
template <class E>
concept Embedder = requires(const E& e, std::string_view text, std::span<float> out) {
  { e.dim() } -> std::convertible_to<std::size_t>;
  e.embed(text, out);
};

/// An embedder with its own batch form (e.g. one round trip to an LLM service for many texts).
template <class E>
concept BatchEmbedder = Embedder<E> && requires(const E& e, std::span<const std::string_view> texts,
                                                MutableMatrixView out) {
  e.embed_batch(texts, out);
};

/// Embeds `texts[i]` into row i of `out` (texts.size() rows of embedder.dim() floats): through the
/// embedder's own batch form when it has one, one text at a time otherwise. Throws Error on a
/// shape mismatch, or whatever the embedder throws for a text.
template <Embedder E>
void embed_batch(const E& embedder, std::span<const std::string_view> texts, MutableMatrixView out) {
  detail::require(out.rows() == texts.size() && out.cols() == embedder.dim(), [&] {
    return std::string("embed_batch: out is ") + std::to_string(out.rows()) + " x " +
           std::to_string(out.cols()) + ", expected " + std::to_string(texts.size()) + " x " +
           std::to_string(embedder.dim());
  });
  if constexpr (BatchEmbedder<E>) {
    embedder.embed_batch(texts, out);
  } else {
    for (std::size_t i = 0; i < texts.size(); ++i) embedder.embed(texts[i], out.row(i));
  }
}

}  // namespace marl_rec
