#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/io/csv_writer.hpp"
#include "marl_rec/io/interactions_csv.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;
namespace io = marl_rec::io;
using Duplicates = io::InteractionsCsvOptions::Duplicates;

namespace {

mr::Interactions read(const std::string& text, const io::InteractionsCsvOptions& options = {},
                      io::ReadReport* report = nullptr, const mr::Interactions* base = nullptr) {
  std::istringstream in(text);
  return io::read_interactions_csv(in, "t.csv", options, report, base);
}

using marl_rec::test::error_of;

}  // namespace

TEST_CASE(
    "read_interactions_csv: a header names the columns, in any order; other columns are ignored") {
  io::ReadReport report;
  const mr::Interactions d = read(
      "Item_ID,note,USER_ID,timestamp,rating\n"
      "i1,x,u1,2019-11-24 00:03:13+00:00,4.5\n"
      "i2,\"a, b\",u2,1574553800,3\n"
      "i1,,u2,1970-01-02,-1\n",
      {}, &report);
  REQUIRE(d.size() == 3);
  CHECK(d.has_rating);
  CHECK(d.has_timestamp);
  CHECK(d.users.ids() == std::vector<std::string>{"u1", "u2"});
  CHECK(d.items.ids() == std::vector<std::string>{"i1", "i2"});
  CHECK(d.rows[0] ==
        mr::Interaction{
            .user = 0, .item = 0, .rating = 4.5f, .timestamp = 1574553793.0, .source_row = 0});
  CHECK(d.rows[1] ==
        mr::Interaction{
            .user = 1, .item = 1, .rating = 3.0f, .timestamp = 1574553800.0, .source_row = 1});
  CHECK(d.rows[2] ==
        mr::Interaction{
            .user = 1, .item = 0, .rating = -1.0f, .timestamp = 86400.0, .source_row = 2});
  CHECK(report.summary() == "t.csv: 3 rows read, 3 kept, 0 skipped");

  const mr::Interactions implicit = read("user,item\nu1,i1\nu1,i2\n");
  CHECK(implicit.size() == 2);
  CHECK_FALSE(implicit.has_rating);
  CHECK_FALSE(implicit.has_timestamp);
  CHECK(implicit.rows[1].rating == 1.0f);  // implicit feedback
}

TEST_CASE("read_interactions_csv: without a header, columns are positional (2 to 4)") {
  const mr::Interactions two = read("7,100\n8,100\n");
  CHECK(two.size() == 2);
  CHECK(two.users.ids() == std::vector<std::string>{"7", "8"});
  CHECK_FALSE(two.has_rating);
  const mr::Interactions three = read("7,100,2.5\n");
  CHECK(three.has_rating);
  CHECK_FALSE(three.has_timestamp);
  CHECK(three.rows[0].rating == 2.5f);
  const mr::Interactions four = read("7,100,2.5,60\r\n7,101,1,120");
  CHECK(four.has_timestamp);
  CHECK(four.rows[1].timestamp == 120.0);
  CHECK(four.rows[1].source_row == 1);  // no header: the first record is data row 0
  CHECK(error_of([] { read("1,2,3,4,5\n"); }) ==
        "t.csv:1: expected 2 to 4 fields (user, item, [rating], [timestamp]) in a file without a "
        "header, got 5; "
        "add a header row to name the columns");
  CHECK(error_of([] { read("1\n"); }) ==
        "t.csv:1: expected 2 to 4 fields (user, item, [rating], [timestamp]) in a file without a "
        "header, got 1; "
        "add a header row to name the columns");
}

TEST_CASE("read_interactions_csv: a header missing a column, or naming one twice, is refused") {
  CHECK(error_of([] { read("user_id,product,rating\nu,p,1\n"); }) ==
        "t.csv:1: the header has no item column (expected 'item_id' or 'item')");
  CHECK(error_of([] { read("person,item_id\nu,p\n"); }) ==
        "t.csv:1: the header has no user column (expected 'user_id' or 'user')");
  CHECK(error_of([] { read("rating,a,b\n1,u,p\n"); }) ==
        "t.csv:1: the header has no user column (expected 'user_id' or 'user')");
  CHECK(error_of([] { read("user_id,item_id,user\nu,i,v\n"); }) ==
        "t.csv:1:17: expected a single 'user' column, but field 1 is one too");
}

TEST_CASE("read_interactions_csv: duplicate (user, item) rows follow the chosen rule") {
  const std::string text = "user_id,item_id,rating\na,x,1\nb,x,2\na,x,3\na,y,4\na,x,5\n";
  io::ReadReport report;
  const mr::Interactions last = read(text, {.duplicates = Duplicates::keep_last}, &report);
  REQUIRE(last.size() == 3);  // b-x, a-y, and the last a-x, in file order
  CHECK(last.rows[0].rating == 2.0f);
  CHECK(last.rows[1].rating == 4.0f);
  CHECK(last.rows[2].rating == 5.0f);
  CHECK(last.rows[2].source_row == 4);
  CHECK(report.rows_read == 5);
  CHECK(report.rows_kept == 3);
  CHECK(report.skipped.at("duplicate (user, item): kept the last") == 2);

  const mr::Interactions first = read(text, {.duplicates = Duplicates::keep_first}, &report);
  REQUIRE(first.size() == 3);
  CHECK(first.rows[0].rating == 1.0f);
  CHECK(first.rows[0].source_row == 0);
  CHECK(report.summary() ==
        "t.csv: 5 rows read, 3 kept, 2 skipped (duplicate (user, item): kept the first: 2)");

  CHECK(error_of([&] { read(text, {.duplicates = Duplicates::error}); }) ==
        "t.csv:4: expected each (user, item) pair once, but (user 'a', item 'x') was first seen on "
        "line 2");
  // Duplicates::error is an explicit choice: skip_bad_rows does not soften it.
  CHECK_THROWS_AS(read(text, {.duplicates = Duplicates::error, .skip_bad_rows = true}), mr::Error);
}

TEST_CASE("read_interactions_csv: id_base keeps known ids' indices, new ids come after") {
  const mr::Interactions train = read("user_id,item_id\nu1,i1\nu2,i2\n");
  const mr::Interactions test = read("user_id,item_id\nu3,i2\nu2,i9\n", {}, nullptr, &train);
  CHECK(test.users.ids() == std::vector<std::string>{"u1", "u2", "u3"});
  CHECK(test.items.ids() == std::vector<std::string>{"i1", "i2", "i9"});
  CHECK(test.rows[0].user == 2);
  CHECK(test.rows[0].item == 1);
  CHECK(test.rows[1].user == 1);
  CHECK(test.rows[1].item == 2);
  CHECK(train.users.size() == 2);  // the base is not changed
}

TEST_CASE(
    "read_interactions_csv: a malformed row throws with file, line, column and what was expected") {
  const std::string header = "user_id,item_id,rating,timestamp\n";
  const auto bad = [&](const std::string& row) {
    return error_of([&] { read(header + "u,i,1,0\n" + row); });
  };
  CHECK(bad("u,i,1\n") == "t.csv:3: expected 4 fields (as in the first row), got 3");
  CHECK(bad(",i,1,0\n") == "t.csv:3:1 (user): expected a user id, got an empty field");
  CHECK(bad("u,,1,0\n") == "t.csv:3:3 (item): expected an item id, got an empty field");
  CHECK(bad("u,j,abc,0\n") == "t.csv:3:5 (rating): expected a number, got 'abc'");
  CHECK(bad("u,j,,0\n") == "t.csv:3:5 (rating): expected a number, got an empty field");
  CHECK(bad("u,j,NaN,0\n") == "t.csv:3:5 (rating): expected a finite number, got 'NaN'");
  CHECK(bad("u,j,-inf,0\n") == "t.csv:3:5 (rating): expected a finite number, got '-inf'");
  CHECK(bad("u,j,1e39,0\n") ==
        "t.csv:3:5 (rating): expected a number within the range of float, got '1e39'");
  CHECK(bad("u,j,4 stars,0\n") == "t.csv:3:5 (rating): expected a number, got '4 stars'");
  CHECK(bad("u,j,1,2019-02-29\n") ==
        "t.csv:3:7 (timestamp): day 29 does not exist in 2019-02, got '2019-02-29'");
  CHECK(bad("u,j,1,yesterday\n") ==
        "t.csv:3:7 (timestamp): expected epoch seconds or an ISO 8601 date-time "
        "(YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:MM]]), got 'yesterday'");
  CHECK(bad("u,\"j\nk\",x,0\n") ==
        "t.csv:4:4 (rating): expected a number, got 'x'");  // the field's own line
  CHECK(bad("u,j\xC3\x28,1,0\n") ==
        "t.csv:3:5: expected valid UTF-8, got a truncated sequence (byte 0x28)");
  CHECK(
      bad("u,\"j,1,0\n") ==
      "t.csv:3:3: expected a closing quote for the quote opened here before the end of the input");
}

TEST_CASE("read_interactions_csv: on error nothing is returned and the report is untouched") {
  io::ReadReport report;
  report.source = "before";
  CHECK_THROWS_AS(read("user_id,item_id,rating\nu,i,1\nu,j,x\n", {}, &report), mr::Error);
  CHECK(report.source == "before");
  CHECK(report.rows_read == 0);
}

TEST_CASE("read_interactions_csv: skip_bad_rows skips malformed rows and counts them by reason") {
  io::ReadReport report;
  const mr::Interactions d = read(
      "user_id,item_id,rating\n"
      "u1,i1,5\n"
      "u2,i2\n"
      ",i3,1\n"
      "u3,i4,nan\n"
      "u4,i5,abc\n"
      "u5,i6,inf\n"
      "u6,i1,2\n",
      {.skip_bad_rows = true}, &report);
  REQUIRE(d.size() == 2);
  CHECK(d.rows[1].source_row == 6);  // skipped rows still count as data rows
  // Ids of skipped rows are not added.
  CHECK(d.users.ids() == std::vector<std::string>{"u1", "u6"});
  CHECK(d.items.ids() == std::vector<std::string>{"i1"});
  CHECK(report.rows_read == 7);
  CHECK(report.rows_kept == 2);
  CHECK(report.rows_skipped() == 5);
  CHECK(report.skipped.at("wrong number of fields") == 1);
  CHECK(report.skipped.at("empty user id") == 1);
  CHECK(report.skipped.at("rating: expected a finite number") == 2);
  CHECK(report.skipped.at("rating: expected a number") == 1);
  // CSV syntax errors are not row problems: they still throw.
  CHECK_THROWS_AS(read("user_id,item_id\nu,\"i\n", {.skip_bad_rows = true}), mr::Error);
  CHECK(error_of([] { read("user_id,item_id,rating\nu,i,x\n", {.skip_bad_rows = true}); }) ==
        "t.csv: no interactions (1 rows read, 0 kept, 1 skipped (rating: expected a number: 1))");
}

TEST_CASE("read_interactions_csv: empty input, a header alone, a huge line") {
  CHECK(error_of([] { read(""); }) == "t.csv: no interactions (the file is empty)");
  CHECK(error_of([] { read("\n\n"); }) == "t.csv: no interactions (the file is empty)");
  CHECK(error_of([] { read("user_id,item_id,rating\n"); }) ==
        "t.csv: no interactions (no data rows)");
  const std::string huge = "user_id,item_id\nu,i\nu," + std::string(2u << 20, 'x') + "\n";
  CHECK(error_of([&] { read(huge); }) ==
        "t.csv:3:1048577: the record starting on line 3 is longer than 1048576 bytes "
        "(CsvOptions::max_record_bytes); an unclosed quote can cause this");
}

TEST_CASE("read_interactions_csv: another delimiter, and a file path (CRLF, quotes, a duplicate)") {
  const mr::Interactions d = read("user_id;item_id;rating\nu;i;1.5\n", {.delimiter = ';'});
  CHECK(d.rows.at(0).rating == 1.5f);

  const std::string path = MARL_REC_TEST_DATA_DIR "/io/interactions.csv";
  io::ReadReport report;
  const mr::Interactions f = io::read_interactions_csv(path, {}, &report);
  REQUIRE(f.size() == 3);
  CHECK(f.rows[0] ==
        mr::Interaction{
            .user = 1, .item = 0, .rating = 3.0f, .timestamp = 1574553800.0, .source_row = 1});
  CHECK(f.rows[2] ==
        mr::Interaction{
            .user = 0, .item = 0, .rating = 2.0f, .timestamp = 1574640000.0, .source_row = 3});
  CHECK(report.summary() ==
        path + ": 4 rows read, 3 kept, 1 skipped (duplicate (user, item): kept the last: 1)");
  CHECK(error_of([] { io::read_interactions_csv("/nonexistent/ratings.csv"); }) ==
        "/nonexistent/ratings.csv: cannot open: no such file");
}

TEST_CASE("read_user_list: a user_id column or the first column, repeats kept once, in order") {
  io::ReadReport report;
  const std::string path = MARL_REC_TEST_DATA_DIR "/io/users.csv";
  CHECK(io::read_user_list(path, &report) == std::vector<std::string>{"u2", "u1", "u3"});
  CHECK(report.summary() == path + ": 4 rows read, 3 kept, 1 skipped (duplicate user id: 1)");
  const auto list = [](const std::string& text) {
    std::istringstream in(text);
    return io::read_user_list(in, "u.csv");
  };
  CHECK(list("name,User\nann,7\nbob,8\n") == std::vector<std::string>{"7", "8"});
  CHECK(list("7\n8\n7\n") == std::vector<std::string>{"7", "8"});  // no header: the first column
  CHECK(list("7,a\n8,b\n") == std::vector<std::string>{"7", "8"});
  CHECK(error_of([&] { list("user_id\n7\n\"\"\n"); }) ==
        "u.csv:3:1 (user): expected a user id, got an empty field");
  CHECK(error_of([&] { list("7,a\n8\n"); }) ==
        "u.csv:2: expected 2 fields (as in the first row), got 1");
  CHECK(error_of([&] { list(""); }) == "u.csv: no users (the file is empty)");
  CHECK(error_of([&] { list("user_id\n"); }) == "u.csv: no users (no data rows)");
}

#ifdef MARL_REC_SHARED_DATA_DIR
TEST_CASE("read_interactions_csv: the InstEval ratings load whole") {
  const std::string path = MARL_REC_SHARED_DATA_DIR "/insteval/ratings.csv";
  REQUIRE_MESSAGE(std::filesystem::exists(path), "missing shared data file ", path);
  io::ReadReport report;
  const mr::Interactions d =
      io::read_interactions_csv(path, {.duplicates = Duplicates::error}, &report);
  CHECK(d.size() == 73421);
  CHECK(d.users.size() == 2972);
  CHECK(d.items.size() == 1128);
  CHECK(d.has_rating);
  CHECK_FALSE(d.has_timestamp);
  CHECK(report.rows_read == 73421);
  CHECK(report.rows_skipped() == 0);
  std::size_t out_of_scale = 0;
  for (const mr::Interaction& r : d.rows)
    out_of_scale += (r.rating < 1.0f || r.rating > 5.0f) ? 1 : 0;
  CHECK(out_of_scale == 0);
  CHECK(d.rows.back().source_row == 73420);
}
#endif

TEST_CASE("interactions written by write_interactions_csv read back identically") {
  mr::Interactions data;
  data.has_rating = true;
  data.has_timestamp = true;
  // Nanosecond epochs and tiny values are written with an exponent by %.17g.
  const double stamps[] = {1574553793442536000.0, 0.00002, 1574553793.442536, 0.0};
  const char* users[] = {"u,1", "say \"hi\"", " padded", "007"};
  for (std::size_t i = 0; i < 4; ++i) {
    data.rows.push_back({.user = data.users.intern(users[i]), .item = data.items.intern(mr::numbered_id("i", i)),
                         .rating = 0.1f * float(i + 1), .timestamp = stamps[i], .source_row = i});
  }
  std::ostringstream out;
  io::write_interactions_csv(out, data);
  const mr::Interactions back = read(out.str());
  REQUIRE(back.size() == 4);
  CHECK(back.has_rating);
  CHECK(back.has_timestamp);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(back.users.id(back.rows[i].user) == users[i]);
    CHECK(back.rows[i].rating == data.rows[i].rating);
    CHECK(back.rows[i].timestamp == data.rows[i].timestamp);
  }
}

TEST_CASE("headers of common data sets are recognised, a file without one gets a note") {
  io::ReadReport report;
  const mr::Interactions movielens = read("userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n", {}, &report);
  REQUIRE(movielens.size() == 1);
  CHECK(movielens.users.id(0) == "1");
  CHECK(movielens.items.id(0) == "31");
  CHECK(movielens.has_timestamp);
  CHECK(report.notes.empty());
  const mr::Interactions amazon = read("reviewerID,asin,score\nA1,B00X,5\n");
  CHECK(amazon.items.id(0) == "B00X");
  CHECK(amazon.has_rating);
  // No recognisable header: the first row is data, and the report says so.
  const mr::Interactions plain = read("u1,i1\nu2,i2\n", {}, &report);
  CHECK(plain.size() == 2);
  REQUIRE(report.notes.size() == 1);
  CHECK(report.summary().find("no header recognised") != std::string::npos);
}
