#include <doctest/doctest.h>

#include <cmath>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/embed/catalog_builder.hpp"

namespace {

// A deterministic test embedder: the unit vector along axis (text length mod dim); it refuses
// texts containing "bad".
struct AxisEmbedder {
  std::size_t dim() const { return 4; }
  void embed(std::string_view text, std::span<float> out) const {
    marl_rec::detail::require(out.size() == 4, "AxisEmbedder: wrong size");
    marl_rec::detail::require(text.find("bad") == std::string_view::npos, "AxisEmbedder: refused");
    for (float& x : out) x = 0.0f;
    out[text.size() % 4] = 1.0f;
  }
};
static_assert(marl_rec::Embedder<AxisEmbedder>);

}  // namespace

TEST_CASE("catalog_text joins title, description and category") {
  const marl_rec::io::ItemRecord r{.id = "1", .title = "Red shoe", .text = "Leather.", .price = 5.0f,
                                   .category = "shoes"};
  CHECK(marl_rec::catalog_text(r) == "Red shoe. Leather.. shoes");
  CHECK(marl_rec::catalog_text(r, {.include_category = false}) == "Red shoe. Leather.");
  const marl_rec::io::ItemRecord bare{.id = "2", .title = "", .text = "Only text", .price = 0.0f, .category = ""};
  CHECK(marl_rec::catalog_text(bare) == "Only text");
}

TEST_CASE("build_catalog embeds every record and keeps its attributes") {
  const std::vector<marl_rec::io::ItemRecord> records = {
      {.id = "a", .title = "ab", .text = "", .price = 3.0f, .category = ""},
      {.id = "b", .title = "abcd", .text = "", .price = 4.5f, .category = "x", .provider = "Halden"},
  };
  const marl_rec::Catalog c = marl_rec::build_catalog(records, AxisEmbedder{});
  REQUIRE(c.size() == 2);
  CHECK(c.dim() == 4);
  CHECK(c.vector(c.index_of("a"))[2] == 1.0f);  // "ab": length 2, axis 2
  CHECK(c.vector(c.index_of("b"))[3] == 1.0f);  // "abcd. x": length 7, axis 3
  CHECK(c.attributes(c.index_of("b")).price == 4.5f);
  CHECK(c.attributes(c.index_of("b")).category == "x");
  CHECK(c.attributes(c.index_of("b")).provider == "Halden");
  CHECK(c.attributes(c.index_of("a")).provider.empty());
}

TEST_CASE("build_catalog names the item the embedder refuses, and duplicate ids are refused") {
  const std::vector<marl_rec::io::ItemRecord> records = {
      {.id = "fine", .title = "ok", .text = "", .price = 0.0f, .category = ""},
      {.id = "broken", .title = "a bad title", .text = "", .price = 0.0f, .category = ""},
  };
  CHECK_THROWS_WITH_AS(marl_rec::build_catalog(records, AxisEmbedder{}),
                       "build_catalog: item 'broken': AxisEmbedder: refused", marl_rec::Error);
  const std::vector<marl_rec::io::ItemRecord> twice = {
      {.id = "x", .title = "one", .text = "", .price = 0.0f, .category = ""},
      {.id = "x", .title = "two", .text = "", .price = 0.0f, .category = ""},
  };
  CHECK_THROWS_WITH_AS(marl_rec::build_catalog(twice, AxisEmbedder{}),
                       "Catalog::add('x'): the id is already in the catalog", marl_rec::Error);
}

#ifdef MARL_REC_EXAMPLES_DATA_DIR
TEST_CASE("the example storefront catalog loads whole and builds a catalog") {
  marl_rec::io::ReadReport report;
  const auto records =
      marl_rec::io::read_items_csv(std::string(MARL_REC_EXAMPLES_DATA_DIR) + "/catalog.csv", {}, &report);
  CHECK(records.size() == 300);
  CHECK(report.rows_read == 300);
  CHECK(report.rows_skipped() == 0);
  const marl_rec::Catalog c = marl_rec::build_catalog(records, AxisEmbedder{});
  CHECK(c.size() == 300);
  for (std::size_t i = 0; i < c.size(); ++i) {
    CHECK(c.attributes(i).price > 0.0f);
    CHECK_FALSE(c.attributes(i).category.empty());
    CHECK_FALSE(c.attributes(i).provider.empty());
  }
}

TEST_CASE("the example storefront's content and ads load whole: free articles, priced sponsored listings") {
  const std::string dir = MARL_REC_EXAMPLES_DATA_DIR;
  marl_rec::io::ReadReport report;
  const auto content = marl_rec::io::read_items_csv(dir + "/content.csv", {}, &report);
  CHECK(content.size() == 72);
  CHECK(report.rows_skipped() == 0);
  for (const auto& r : content) CHECK(r.price == 0.0f);
  const auto ads = marl_rec::io::read_items_csv(dir + "/ads.csv", {}, &report);
  CHECK(ads.size() == 48);
  CHECK(report.rows_skipped() == 0);
  for (const auto& r : ads) CHECK(r.price > 0.0f);
}
#endif
