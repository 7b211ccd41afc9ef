#include <doctest/doctest.h>

#include <sstream>

#include "marl_rec/io/csv_writer.hpp"

TEST_CASE("csv_field quotes only what needs quoting, doubling quotes") {
  CHECK(marl_rec::io::csv_field("plain") == "plain");
  CHECK(marl_rec::io::csv_field("a,b") == "\"a,b\"");
  CHECK(marl_rec::io::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(marl_rec::io::csv_field("two\nlines") == "\"two\nlines\"");
  CHECK(marl_rec::io::csv_field(" padded") == "\" padded\"");
  CHECK(marl_rec::io::csv_field("") == "");
}

TEST_CASE("csv_number round-trips floats and doubles") {
  CHECK(marl_rec::io::csv_number(4.5f) == "4.5");
  CHECK(std::stof(marl_rec::io::csv_number(0.1f)) == 0.1f);
  CHECK(std::stod(marl_rec::io::csv_number(1574553793.442536)) == 1574553793.442536);
}

TEST_CASE("write_interactions_csv writes a header and one row per interaction") {
  marl_rec::Interactions data;
  data.has_rating = true;
  data.rows.push_back({.user = data.users.intern("u,1"), .item = data.items.intern("i1"), .rating = 4.5f,
                       .timestamp = 0.0, .source_row = 0});
  std::ostringstream out;
  marl_rec::io::write_interactions_csv(out, data);
  CHECK(out.str() == "user_id,item_id,rating\n\"u,1\",i1,4.5\n");
}
