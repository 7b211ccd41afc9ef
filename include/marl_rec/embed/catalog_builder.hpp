// marl_rec — a Catalog from item records and any Embedder, in one call.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/embedder.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/io/items_csv.hpp"
#include "marl_rec/simd/aligned_vector.hpp"

namespace marl_rec {

/// What text of an item record is embedded.
struct CatalogTextOptions {
  /// Append the category to the text (a strong, cheap signal for text embedders).
  bool include_category{true};
};

/// The text `build_catalog` embeds for `record`: title, then description, then (optionally)
/// category, separated by ". ".
inline std::string catalog_text(const io::ItemRecord& record, const CatalogTextOptions& options = {}) {
  std::string text = record.title;
  const auto append = [&](const std::string& part) {
    if (part.empty()) return;
    if (!text.empty()) text += ". ";
    text += part;
  };
  append(record.text);
  if (options.include_category) append(record.category);
  return text;
}

/// A catalog of `records` (ids, titles, prices, categories, providers) whose vectors are `embedder`'s
/// embeddings of catalog_text(record), computed in one embed_batch call. Throws Error naming
/// the item when the embedder refuses an item's text, and on duplicate ids; nothing is returned
/// then.
template <Embedder E>
Catalog build_catalog(std::span<const io::ItemRecord> records, const E& embedder,
                      const CatalogTextOptions& options = {}) {
  const std::size_t dim = embedder.dim();
  std::vector<std::string> texts;
  texts.reserve(records.size());
  for (const auto& record : records) texts.push_back(catalog_text(record, options));
  std::vector<std::string_view> views(texts.begin(), texts.end());
  AlignedVector<float> vectors(records.size() * dim);
  const MutableMatrixView matrix(std::span<float>(vectors), records.size(), dim);
  try {
    embed_batch(embedder, views, matrix);
  } catch (const Error& batch_error) {
    // Find the item the embedder refused, so the message names it.
    std::vector<float> one(dim);
    for (std::size_t i = 0; i < records.size(); ++i) {
      try {
        embedder.embed(views[i], one);
      } catch (const Error& e) {
        throw Error("build_catalog: item '" + records[i].id + "': " + e.what());
      }
    }
    throw;
  }
  Catalog catalog(dim);
  for (std::size_t i = 0; i < records.size(); ++i) {
    catalog.add(records[i].id, matrix.row(i),
                {.title = records[i].title, .price = records[i].price, .category = records[i].category,
                 .tags = {}, .provider = records[i].provider, .popularity = 0.0f});
  }
  return catalog;
}

}  // namespace marl_rec
