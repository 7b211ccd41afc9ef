#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/io/items_csv.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;
namespace io = marl_rec::io;

namespace {

std::vector<io::ItemRecord> read(const std::string& text, const io::ItemsCsvOptions& options = {},
                                 io::ReadReport* report = nullptr) {
  std::istringstream in(text);
  return io::read_items_csv(in, "items.csv", options, report);
}

using marl_rec::test::error_of;

}  // namespace

TEST_CASE("read_items_csv: columns by name, optional ones empty, extra ones ignored") {
  io::ReadReport report;
  const std::string path = MARL_REC_TEST_DATA_DIR "/io/items.csv";
  const std::vector<io::ItemRecord> items = io::read_items_csv(path, {}, &report);
  REQUIRE(items.size() == 3);
  CHECK(items[0] == io::ItemRecord{.id = "shoe",
                                   .title = "Running shoe",
                                   .text = "Light, fast; \"best\" seller",
                                   .price = 59.9f,
                                   .category = "shoes",
                                   .provider = "Fennick"});
  CHECK(items[1].text.empty());
  CHECK(items[1].provider.empty());  // an empty provider cell
  CHECK(items[2].provider == "Halden");
  CHECK(items[1].price == 12.0f);
  CHECK(items[2].text == "Caf\xC3\xA9 colours");
  CHECK(items[2].price == 0.0f);  // an empty price cell
  CHECK(report.summary() == path + ": 3 rows read, 3 kept, 0 skipped");

  const std::vector<io::ItemRecord> minimal = read("Title,ITEM\nHat,h1\n");
  REQUIRE(minimal.size() == 1);
  CHECK(minimal[0] == io::ItemRecord{.id = "h1", .title = "Hat"});
}

TEST_CASE("read_items_csv: the header is required") {
  CHECK(error_of([] { read("h1,Hat\n"); }) ==
        "items.csv:1: expected a header row naming the columns, with an 'item_id' column "
        "(item_id,title[,text][,price][,category][,provider])");
  CHECK(error_of([] { read("item_id,name\nh1,Hat\n"); }) ==
        "items.csv:1: expected a header row naming the columns, with a 'title' column "
        "(item_id,title[,text][,price][,category][,provider])");
  CHECK(error_of([] { read("item_id,title,price,Price\nh1,Hat,1,2\n"); }) ==
        "items.csv:1:21: expected a single 'price' column, but field 3 is one too");
}

TEST_CASE("read_items_csv: bad rows and duplicate ids name the file, line and column") {
  const std::string header = "item_id,title,price\nok,Fine,1\n";
  const auto bad = [&](const std::string& row) { return error_of([&] { read(header + row); }); };
  CHECK(bad("h1,Hat\n") == "items.csv:3: expected 3 fields (as in the header), got 2");
  CHECK(bad(",Hat,1\n") == "items.csv:3:1 (item_id): expected an item id, got an empty field");
  CHECK(bad("h1,Hat,-1\n") == "items.csv:3:8 (price): expected a price >= 0, got '-1'");
  CHECK(bad("h1,Hat,nan\n") == "items.csv:3:8 (price): expected a finite number, got 'nan'");
  CHECK(bad("h1,Hat,inf\n") == "items.csv:3:8 (price): expected a finite number, got 'inf'");
  CHECK(bad("h1,Hat,12 EUR\n") == "items.csv:3:8 (price): expected a number, got '12 EUR'");
  CHECK(bad("h1,Hat,1e39\n") ==
        "items.csv:3:8 (price): expected a price within the range of float, got '1e39'");
  CHECK(bad("h1,Hat,1\nok,Again,2\n") ==
        "items.csv:4:1 (item_id): expected unique item ids, but 'ok' was first seen on line 2");
  CHECK(bad("h1,\"Hat\xFF\",1\n") ==
        "items.csv:3:8: expected valid UTF-8, got a byte that never occurs in UTF-8 (byte 0xFF)");
  CHECK(error_of([] { read(""); }) == "items.csv: no items (the file is empty)");
  CHECK(error_of([] { read("item_id,title\n"); }) == "items.csv: no items (no data rows)");
  CHECK(error_of([] { io::read_items_csv("/nonexistent/items.csv"); }) ==
        "/nonexistent/items.csv: cannot open: no such file");
}

TEST_CASE("read_items_csv: skip_bad_rows counts the skipped rows, duplicates still throw") {
  io::ReadReport report;
  const std::vector<io::ItemRecord> items =
      read("item_id,title,price\na,A,1\nb,B,-2\nc,C\n,D,1\ne,E,x\nf,F,3\n", {.skip_bad_rows = true},
           &report);
  REQUIRE(items.size() == 2);
  CHECK(items[1].id == "f");
  CHECK(report.rows_read == 6);
  CHECK(report.skipped.at("price: expected a price >= 0") == 1);
  CHECK(report.skipped.at("price: expected a number") == 1);
  CHECK(report.skipped.at("wrong number of fields") == 1);
  CHECK(report.skipped.at("empty item id") == 1);
  CHECK_THROWS_AS(read("item_id,title\na,A\na,B\n", {.skip_bad_rows = true}), mr::Error);
  CHECK(read("item_id\ttitle\na\tA, with a comma\n", {.delimiter = '\t'})[0].title ==
        "A, with a comma");
}
