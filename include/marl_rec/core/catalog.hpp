// marl_rec — the item catalog: external ids, attributes, and the embedding matrix the agents
// score (stored once, row-major, 64-byte aligned).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/string_fields.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace marl_rec {

/// What the catalog knows about an item besides its vector.
struct ItemAttributes {
  std::string title{};
  /// Price in the shop's currency (≥ 0; 0 when unknown or free).
  float price = 0.0f;
  std::string category{};
  std::vector<std::string> tags{};
  /// Who supplies the item (seller, studio, brand): what exposure fairness is measured over.
  std::string provider{};
  /// A popularity count (e.g. interactions seen), ≥ 0.
  float popularity = 0.0f;
};

/// The items an engine can recommend. Each item has a dense index (its row in `embeddings()`),
/// an external id, attributes and a vector of `dim()` floats. Items can be added and retired at
/// run time; a retired item keeps its row (so indices held elsewhere stay valid) but is never
/// recommended: pass `retired_items()` as the exclusion. `compact()` reclaims retired rows.
///
/// Not thread-safe: adding items may move the matrix, which invalidates views and spans taken
/// from it. Serve from a copy or a snapshot when items change while serving.
///
/// Persistence: save() writes everything (type "catalog", version 1): dim, the ids, the
/// embedding matrix, every attribute (title, price, category, tags, provider, popularity) and
/// the retired set. load() replaces all of it — including dim — after checking it (unique ids,
/// finite vectors, valid attributes, retired indices in range); a load, like add() and
/// compact(), replaces the matrix, so views and spans taken before it are invalid.
class Catalog {
 public:
  /// An empty catalog of `dim`-dimensional item vectors (dim ≥ 1).
  explicit Catalog(std::size_t dim) : dim_(dim) {
    detail::require(dim >= 1, "Catalog: dim must be at least 1");
  }

  std::size_t dim() const noexcept { return dim_; }
  /// Rows of the matrix: active and retired items (until compaction).
  std::size_t size() const noexcept { return ids_.size(); }
  /// Items that can be recommended.
  std::size_t active_size() const noexcept { return ids_.size() - retired_count_; }

  /// Adds an item and returns its index. Throws Error when the id is already in the catalog
  /// (retired ids too, until compaction), the vector has the wrong size, a value is not finite,
  /// or the price / popularity is negative or not finite.
  std::size_t add(std::string_view id, std::span<const float> vector, ItemAttributes attributes = {}) {
    const auto where = [&] { return "Catalog::add('" + std::string(id) + "'): "; };
    detail::require(!ids_.contains(id), [&] { return where() + "the id is already in the catalog"; });
    detail::require(vector.size() == dim_, [&] {
      return where() + "the vector has " + std::to_string(vector.size()) + " values, the catalog's dim is " +
             std::to_string(dim_);
    });
    for (std::size_t j = 0; j < vector.size(); ++j) {
      detail::require(std::isfinite(vector[j]),
                      [&] { return where() + "value " + std::to_string(j) + " is not finite"; });
    }
    check_attributes(where(), attributes);
    // A vector taken from this catalog (add("copy", vector(i))) would dangle once the matrix
    // grows: copy it first.
    std::vector<float> own;
    if (!vectors_.empty() && vector.data() >= vectors_.data() &&
        vector.data() < vectors_.data() + vectors_.size()) {
      own.assign(vector.begin(), vector.end());
      vector = own;
    }
    // Strong guarantee: everything that can throw (allocation) happens before the first change
    // that the others depend on; after the reserves, the appends cannot throw.
    reserve_more(vectors_, dim_);
    reserve_more(attributes_, 1);
    const std::size_t index = ids_.intern(id);
    vectors_.insert(vectors_.end(), vector.begin(), vector.end());
    attributes_.push_back(std::move(attributes));
    retired_.erase(index);
    return index;
  }

  /// Retires item `index` (no effect when it already is). Throws Error when out of range.
  void retire(std::size_t index) {
    check_index("Catalog::retire", index);
    if (!retired_.contains(index)) {
      retired_.insert(index);
      ++retired_count_;
    }
  }
  /// Retires the item with external id `id`. Throws Error when the id is unknown.
  void retire(std::string_view id) { retire(index_of(id)); }

  /// True when item `index` is retired.
  bool retired(std::size_t index) const noexcept { return retired_.contains(index); }
  /// The retired items, as an exclusion for the top-k kernels (valid until the next change).
  ExcludeBitset retired_items() const noexcept { return retired_.view(); }

  /// The item vectors: size() rows of dim() floats (retired rows included).
  MatrixView embeddings() const noexcept {
    return MatrixView(std::span<const float>(vectors_), ids_.size(), dim_);
  }
  /// Writable item vectors (e.g. to L2-normalise them, or for an embedder to fill).
  MutableMatrixView mutable_embeddings() noexcept {
    return MutableMatrixView(std::span<float>(vectors_), ids_.size(), dim_);
  }
  /// Item `index`'s vector. Throws Error when out of range.
  std::span<const float> vector(std::size_t index) const {
    check_index("Catalog::vector", index);
    return embeddings().row(index);
  }

  /// Item `index`'s attributes. Throws Error when out of range.
  const ItemAttributes& attributes(std::size_t index) const {
    check_index("Catalog::attributes", index);
    return attributes_[index];
  }
  /// Replaces item `index`'s attributes (checked as in add()).
  void set_attributes(std::size_t index, ItemAttributes attributes) {
    check_index("Catalog::set_attributes", index);
    check_attributes("Catalog::set_attributes: ", attributes);
    attributes_[index] = std::move(attributes);
  }

  /// The index of external id `id`; throws Error naming the id when unknown.
  std::size_t index_of(std::string_view id) const { return ids_.at(id, "item"); }
  /// The index of external id `id`, if known.
  std::optional<std::size_t> find(std::string_view id) const { return ids_.find(id); }
  /// The external id of item `index`; throws Error when out of range.
  const std::string& id(std::size_t index) const { return ids_.id(index); }

  /// Removes the retired items' rows. Other items keep their ids, vectors and attributes and
  /// their relative order; their indices shift down. Returns, for every old index, its new
  /// index, or `removed` for a retired item — apply it to any per-item state held elsewhere.
  std::vector<std::size_t> compact() {
    static_assert(removed == std::numeric_limits<std::size_t>::max());
    // Built aside and swapped in, so an allocation failure leaves the catalog as it was.
    std::vector<std::size_t> remap(ids_.size(), removed);
    IdMap ids;
    AlignedVector<float> vectors;
    vectors.reserve(active_size() * dim_);
    std::vector<ItemAttributes> attributes;
    attributes.reserve(active_size());
    for (std::size_t old = 0; old < ids_.size(); ++old) {
      if (retired_.contains(old)) continue;
      remap[old] = ids.intern(ids_.id(old));
      const auto row = vectors_.begin() + static_cast<std::ptrdiff_t>(old * dim_);
      vectors.insert(vectors.end(), row, row + static_cast<std::ptrdiff_t>(dim_));
      attributes.push_back(attributes_[old]);
    }
    ids_ = std::move(ids);
    vectors_ = std::move(vectors);
    attributes_ = std::move(attributes);
    retired_ = ItemBitset();
    retired_count_ = 0;
    return remap;
  }

  /// The value compact() gives a retired item's old index.
  static constexpr std::size_t removed = std::numeric_limits<std::size_t>::max();

  /// Writes the whole catalog (see the class comment).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "catalog", 1);
    const std::size_t n = ids_.size();
    w.u64("dim", dim_);
    io::write_strings(w, "ids", ids_.ids());
    w.floats("embeddings", vectors_);
    io::write_strings(w, "titles", n, [&](std::size_t i) -> std::string_view { return attributes_[i].title; });
    std::vector<float> values(n);
    for (std::size_t i = 0; i < n; ++i) values[i] = attributes_[i].price;
    w.floats("prices", values);
    io::write_strings(w, "categories", n,
                      [&](std::size_t i) -> std::string_view { return attributes_[i].category; });
    std::vector<std::uint64_t> tag_counts(n);
    std::vector<std::string_view> tags;
    for (std::size_t i = 0; i < n; ++i) {
      tag_counts[i] = attributes_[i].tags.size();
      for (const std::string& tag : attributes_[i].tags) tags.push_back(tag);
    }
    w.u64s("tag_counts", tag_counts);
    io::write_strings(w, "tags", tags.size(), [&](std::size_t i) { return tags[i]; });
    io::write_strings(w, "providers", n,
                      [&](std::size_t i) -> std::string_view { return attributes_[i].provider; });
    for (std::size_t i = 0; i < n; ++i) values[i] = attributes_[i].popularity;
    w.floats("popularity", values);
    std::vector<std::uint64_t> retired;
    for (std::size_t i = 0; i < n; ++i) {
      if (retired_.contains(i)) retired.push_back(i);
    }
    w.u64s("retired", retired);
    w.finish();
  }

  /// Replaces the catalog with what save() wrote (dim included). Throws Error, leaving the
  /// catalog unchanged, on a truncated, corrupted or foreign stream, or on contents add() would
  /// refuse (a duplicate id, a non-finite value, a negative price or popularity) or a retired
  /// index out of range or given twice. Views taken before a load are invalid after it.
  void load(std::istream& in) {
    constexpr const char* where = "loading a 'catalog' model";
    const auto check = [&](bool ok, auto&& message) {
      detail::require(ok, [&] { return std::string(where) + ": " + message(); });
    };
    io::ModelReader r(in, "catalog", 1);
    // A dim beyond 2^32 cannot be a real catalog's, and keeps n * dim from overflowing.
    const auto dim = static_cast<std::size_t>(r.u64("dim", 1, std::uint64_t{1} << 32));
    std::vector<std::string> ids = io::read_strings(r, "ids", where);
    const std::size_t n = ids.size();
    check(n <= std::numeric_limits<std::uint32_t>::max(),
          [&] { return std::to_string(n) + " items (at most 2^32 - 1)"; });
    const std::vector<float> embeddings = r.floats("embeddings", n * dim);
    for (std::size_t k = 0; k < embeddings.size(); ++k) {
      check(std::isfinite(embeddings[k]), [&] {
        return "value " + std::to_string(k % dim) + " of item '" + ids[k / dim] + "' is not finite";
      });
    }
    std::vector<ItemAttributes> attributes(n);
    std::vector<std::string> strings = io::read_strings(r, "titles", n, where);
    for (std::size_t i = 0; i < n; ++i) attributes[i].title = std::move(strings[i]);
    const std::vector<float> prices = r.floats("prices", n);
    strings = io::read_strings(r, "categories", n, where);
    for (std::size_t i = 0; i < n; ++i) attributes[i].category = std::move(strings[i]);
    const std::vector<std::uint64_t> tag_counts = r.u64s("tag_counts", n);
    std::vector<std::string> tags = io::read_strings(r, "tags", where);
    std::size_t next_tag = 0;
    for (std::size_t i = 0; i < n; ++i) {
      check(tag_counts[i] <= tags.size() - next_tag, [&] {
        return "field 'tag_counts' claims more tags than the " + std::to_string(tags.size()) +
               " in field 'tags'";
      });
      const auto first = tags.begin() + static_cast<std::ptrdiff_t>(next_tag);
      attributes[i].tags.assign(std::make_move_iterator(first),
                                std::make_move_iterator(first + static_cast<std::ptrdiff_t>(tag_counts[i])));
      next_tag += static_cast<std::size_t>(tag_counts[i]);
    }
    check(next_tag == tags.size(), [&] {
      return "field 'tags' has " + std::to_string(tags.size()) + " tags, field 'tag_counts' " +
             std::to_string(next_tag);
    });
    strings = io::read_strings(r, "providers", n, where);
    for (std::size_t i = 0; i < n; ++i) attributes[i].provider = std::move(strings[i]);
    const std::vector<float> popularity = r.floats("popularity", n);
    for (std::size_t i = 0; i < n; ++i) {
      attributes[i].price = prices[i];
      attributes[i].popularity = popularity[i];
      try {
        check_attributes("", attributes[i]);
      } catch (const Error& e) {
        throw Error(std::string(where) + ": item '" + ids[i] + "': " + e.what());
      }
    }
    const std::vector<std::uint64_t> retired = r.u64s("retired", r.array_size("retired"));
    r.finish();

    ItemBitset retired_set(n);
    for (std::size_t k = 0; k < retired.size(); ++k) {
      check(retired[k] < n && (k == 0 || retired[k] > retired[k - 1]), [&] {
        return "retired item " + std::to_string(retired[k]) +
               (retired[k] < n ? " is out of order or given twice"
                               : " is out of range (size " + std::to_string(n) + ")");
      });
      retired_set.insert(static_cast<std::size_t>(retired[k]));
    }
    IdMap id_map;
    try {
      id_map = IdMap::from_ids(std::move(ids), "item id");
    } catch (const Error& e) {
      throw Error(std::string(where) + ": " + e.what());
    }
    AlignedVector<float> vectors(embeddings.begin(), embeddings.end());
    // Commit: moves and swaps only.
    dim_ = dim;
    ids_ = std::move(id_map);
    vectors_ = std::move(vectors);
    attributes_ = std::move(attributes);
    retired_ = std::move(retired_set);
    retired_count_ = retired.size();
  }

 private:
  // Room for `extra` more elements, growing geometrically (an exact reserve per add would make
  // building a catalog quadratic).
  template <class Vector>
  static void reserve_more(Vector& v, std::size_t extra) {
    if (v.capacity() - v.size() < extra) v.reserve(std::max(v.size() + extra, 2 * v.capacity()));
  }

  void check_index(const char* where, std::size_t index) const {
    detail::require(index < ids_.size(), [&] {
      return std::string(where) + ": item index " + std::to_string(index) + " out of range (size " +
             std::to_string(ids_.size()) + ")";
    });
  }
  static void check_attributes(const std::string& where, const ItemAttributes& a) {
    detail::require(std::isfinite(a.price) && a.price >= 0.0f,
                    [&] { return where + "price must be finite and >= 0, got " + std::to_string(a.price); });
    detail::require(std::isfinite(a.popularity) && a.popularity >= 0.0f, [&] {
      return where + "popularity must be finite and >= 0, got " + std::to_string(a.popularity);
    });
  }

  std::size_t dim_;
  IdMap ids_;
  AlignedVector<float> vectors_;
  std::vector<ItemAttributes> attributes_;
  ItemBitset retired_;
  std::size_t retired_count_ = 0;
};

}  // namespace marl_rec
