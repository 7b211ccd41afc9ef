// Catalog and IdMap save/load: round trips, loads into other configurations, damaged and forged
// streams.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "support/errors.hpp"
#include "support/stream_checks.hpp"

namespace {

using marl_rec::Catalog;
using marl_rec::IdMap;
using marl_rec::ItemAttributes;
using marl_rec::numbered_id;
using marl_rec::test::check_damage_rejected;
using marl_rec::test::load_error;
using marl_rec::test::saved;

std::vector<float> vec(marl_rec::Rng& rng, std::size_t n) {
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal());
  return v;
}

// Items with every attribute set, two of them retired.
Catalog small_catalog(std::size_t n = 6) {
  marl_rec::Rng rng(3);
  Catalog c(3);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::string> tags;
    for (std::size_t t = 0; t < i % 3; ++t) tags.push_back(numbered_id("tag", i + t));
    c.add(numbered_id("item", i), vec(rng, 3),
          ItemAttributes{.title = numbered_id("Title ", i),
                         .price = 1.5f * static_cast<float>(i),
                         .category = i % 2 == 0 ? "books" : "",
                         .tags = tags,
                         .provider = numbered_id("p", i % 3),
                         .popularity = static_cast<float>(10 * i)});
  }
  if (n > 4) {
    c.retire(1);
    c.retire("item4");
  }
  return c;
}

bool same_attributes(const ItemAttributes& a, const ItemAttributes& b) {
  return a.title == b.title && a.price == b.price && a.category == b.category && a.tags == b.tags &&
         a.provider == b.provider && a.popularity == b.popularity;
}

}  // namespace

TEST_CASE("Catalog: save and load round-trip everything, into a catalog of another dim") {
  const Catalog original = small_catalog();
  const std::string bytes = saved(original);
  Catalog loaded(7);
  loaded.add("other", std::vector<float>(7, 1.0f));
  const auto old_view = loaded.embeddings();
  CHECK(old_view.rows() == 1);
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.dim() == 3);
  CHECK(loaded.size() == 6);
  CHECK(loaded.active_size() == 4);
  CHECK_FALSE(loaded.find("other").has_value());
  for (std::size_t i = 0; i < original.size(); ++i) {
    CAPTURE(i);
    CHECK(loaded.id(i) == original.id(i));
    CHECK(loaded.index_of(original.id(i)) == i);
    CHECK(loaded.retired(i) == original.retired(i));
    CHECK(same_attributes(loaded.attributes(i), original.attributes(i)));
    const auto a = loaded.vector(i);
    const auto b = original.vector(i);
    CHECK(std::vector<float>(a.begin(), a.end()) == std::vector<float>(b.begin(), b.end()));
  }

  SUBCASE("and go on identically: adds, retirements, compaction") {
    Catalog never_saved = small_catalog();
    marl_rec::Rng rng(11);
    for (int step = 0; step < 40; ++step) {
      const std::vector<float> v = vec(rng, 3);
      const std::string id = numbered_id("new", step);
      CHECK(loaded.add(id, v, {.price = 2.0f, .provider = "q"}) ==
            never_saved.add(id, v, {.price = 2.0f, .provider = "q"}));
      if (step % 7 == 3) {
        const auto victim = static_cast<std::size_t>(rng.below(loaded.size()));
        loaded.retire(victim);
        never_saved.retire(victim);
      }
      if (step % 13 == 12) CHECK(loaded.compact() == never_saved.compact());
      CHECK(loaded.active_size() == never_saved.active_size());
    }
    CHECK(saved(loaded) == saved(never_saved));
  }
  SUBCASE("an empty catalog round-trips too") {
    const Catalog empty(5);
    Catalog target = small_catalog();
    CHECK(load_error(target, saved(empty)) == "no error");
    CHECK(target.dim() == 5);
    CHECK(target.size() == 0);
    CHECK(saved(target) == saved(empty));
  }
}

TEST_CASE("Catalog: truncated, corrupted and foreign streams are Errors that change nothing") {
  const std::string bytes = saved(small_catalog(5));
  Catalog target = small_catalog(3);
  check_damage_rejected(target, bytes, "catalog");
  CHECK(load_error(target, saved(IdMap())) == "loading a 'catalog' model: the stream holds a 'id_map' model");
  CHECK(load_error(target, "") == "loading a 'catalog' model: the stream ends inside the header (truncated)");
  CHECK(saved(target) == saved(small_catalog(3)));
}

TEST_CASE("Catalog: a stream with a valid checksum but impossible contents is an Error") {
  struct Fields {
    std::uint64_t dim = 2;
    std::vector<std::string> ids{"a", "b"};
    std::vector<float> embeddings{1, 0, 0, 1};
    std::vector<float> prices{1, 2};
    std::vector<std::uint64_t> tag_counts{1, 0};
    std::vector<std::string> tags{"x"};
    std::vector<float> popularity{0, 3};
    std::vector<std::uint64_t> retired{1};
  };
  const auto forge = [](const Fields& f) {
    std::ostringstream out;
    marl_rec::io::ModelWriter w(out, "catalog", 1);
    w.u64("dim", f.dim);
    marl_rec::io::write_strings(w, "ids", f.ids);
    w.floats("embeddings", f.embeddings);
    const std::vector<std::string> empty(f.ids.size());
    marl_rec::io::write_strings(w, "titles", empty);
    w.floats("prices", f.prices);
    marl_rec::io::write_strings(w, "categories", empty);
    w.u64s("tag_counts", f.tag_counts);
    marl_rec::io::write_strings(w, "tags", f.tags);
    marl_rec::io::write_strings(w, "providers", empty);
    w.floats("popularity", f.popularity);
    w.u64s("retired", f.retired);
    w.finish();
    return out.str();
  };
  Catalog c(1);
  CHECK(load_error(c, forge({})) == "no error");  // the baseline is valid
  CHECK(c.retired(1));
  CHECK(c.attributes(0).tags == std::vector<std::string>{"x"});
  const std::string valid = saved(c);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(load_error(c, forge({.dim = 0})) == "loading a 'catalog' model: field 'dim' = 0 is outside [1, 4294967296]");
  CHECK(load_error(c, forge({.ids = {"a", "a"}})) ==
        "loading a 'catalog' model: duplicate item id 'a' (indices 0 and 1)");
  CHECK(load_error(c, forge({.embeddings = {1, 0, nan, 1}})) ==
        "loading a 'catalog' model: value 0 of item 'b' is not finite");
  CHECK(load_error(c, forge({.embeddings = {1, 0, 0}})) ==
        "loading a 'catalog' model: field 'embeddings' has 3 values, expected 4");
  CHECK(load_error(c, forge({.prices = {-1, 2}})) ==
        "loading a 'catalog' model: item 'a': price must be finite and >= 0, got -1.000000");
  CHECK(load_error(c, forge({.popularity = {0, nan}})) ==
        "loading a 'catalog' model: item 'b': popularity must be finite and >= 0, got nan");
  CHECK(load_error(c, forge({.tag_counts = {1, 1}})) ==
        "loading a 'catalog' model: field 'tag_counts' claims more tags than the 1 in field 'tags'");
  CHECK(load_error(c, forge({.tag_counts = {0, 0}})) ==
        "loading a 'catalog' model: field 'tags' has 1 tags, field 'tag_counts' 0");
  CHECK(load_error(c, forge({.retired = {2}})) ==
        "loading a 'catalog' model: retired item 2 is out of range (size 2)");
  CHECK(load_error(c, forge({.retired = {1, 1}})) ==
        "loading a 'catalog' model: retired item 1 is out of order or given twice");
  CHECK(saved(c) == valid);
}

TEST_CASE("IdMap: save and load round-trip, and refuse duplicates and damage") {
  IdMap ids;
  for (const char* id : {"u7", "", "007", "7", "naïve"}) ids.intern(id);
  const std::string bytes = saved(ids);
  IdMap loaded;
  loaded.intern("something else");
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(loaded.ids() == ids.ids());
  CHECK(loaded.at("7") == 3);
  CHECK(loaded.intern("new") == 5);
  CHECK(ids.intern("new") == 5);
  CHECK(saved(loaded) == saved(ids));

  IdMap target = IdMap::from_ids({"x", "y"});
  check_damage_rejected(target, bytes, "id_map");
  std::ostringstream forged;
  marl_rec::io::ModelWriter w(forged, "id_map", 1);
  marl_rec::io::write_strings(w, "ids", std::vector<std::string>{"a", "b", "a"});
  w.finish();
  CHECK(load_error(target, forged.str()) == "loading a 'id_map' model: duplicate id 'a' (indices 0 and 2)");
  CHECK(target.ids() == std::vector<std::string>{"x", "y"});

  // The string fields' own checks: lengths that do not add up to the bytes.
  std::ostringstream short_bytes;
  marl_rec::io::ModelWriter s(short_bytes, "id_map", 1);
  s.u64s("ids.lengths", std::vector<std::uint64_t>{2, 2});
  s.string("ids", "abc");
  s.finish();
  CHECK(load_error(target, short_bytes.str()) ==
        "loading a 'id_map' model: field 'ids' ends inside string 1 of 2");
  std::ostringstream long_bytes;
  marl_rec::io::ModelWriter l(long_bytes, "id_map", 1);
  l.u64s("ids.lengths", std::vector<std::uint64_t>{1});
  l.string("ids", "abc");
  l.finish();
  CHECK(load_error(target, long_bytes.str()) ==
        "loading a 'id_map' model: field 'ids' has 2 bytes after its 1 strings");
  CHECK(target.ids() == std::vector<std::string>{"x", "y"});
}
