#include <doctest/doctest.h>

#include <string>

#include "marl_rec/io/timestamp.hpp"

namespace mr = marl_rec;
namespace io = marl_rec::io;

TEST_CASE("days_from_civil and days_in_month: the proleptic Gregorian calendar") {
  static_assert(io::days_from_civil(1970, 1, 1) == 0);
  static_assert(io::days_from_civil(1969, 12, 31) == -1);
  static_assert(io::days_from_civil(2000, 2, 29) == 11016);
  static_assert(io::days_from_civil(2000, 3, 1) == 11017);
  static_assert(io::days_from_civil(1, 1, 1) == -719162);
  CHECK(io::days_in_month(2019, 2) == 28);
  CHECK(io::days_in_month(2020, 2) == 29);
  CHECK(io::days_in_month(2000, 2) == 29);  // divisible by 400
  CHECK(io::days_in_month(2100, 2) == 28);  // divisible by 100 only
  CHECK(io::days_in_month(2019, 4) == 30);
  CHECK(io::days_in_month(2019, 12) == 31);
  // Consecutive days over four centuries: every month boundary, every leap rule.
  std::int64_t expected = io::days_from_civil(1900, 1, 1);
  std::int64_t wrong = 0;
  for (std::int64_t y = 1900; y < 2300; ++y) {
    for (unsigned m = 1; m <= 12; ++m) {
      for (unsigned d = 1; d <= io::days_in_month(y, m); ++d)
        wrong += io::days_from_civil(y, m, d) != expected++;
    }
  }
  CHECK(wrong == 0);
  CHECK(expected == io::days_from_civil(2300, 1, 1));
}

TEST_CASE("parse_timestamp: epoch seconds") {
  CHECK(io::parse_timestamp("0") == 0.0);
  CHECK(io::parse_timestamp("1574553793") == 1574553793.0);
  CHECK(io::parse_timestamp("1574553793.25") == 1574553793.25);
  CHECK(io::parse_timestamp("-86400") == -86400.0);
  CHECK(io::parse_timestamp("+5") == 5.0);
}

TEST_CASE("parse_timestamp: ISO 8601 dates and date-times, with or without an offset") {
  CHECK(io::parse_timestamp("1970-01-01") == 0.0);
  CHECK(io::parse_timestamp("2019-11-24") == 1574553600.0);
  CHECK(io::parse_timestamp("2019-11-24 00:03:13") == 1574553793.0);
  CHECK(io::parse_timestamp("2019-11-24T00:03:13Z") == 1574553793.0);
  CHECK(io::parse_timestamp("2019-11-24t00:03:13z") == 1574553793.0);
  CHECK(io::parse_timestamp("2019-11-24 00:03") == 1574553780.0);
  CHECK(io::parse_timestamp("2019-11-24 00:03:13.442536+00:00") ==
        doctest::Approx(1574553793.442536).epsilon(1e-15));
  CHECK(io::parse_timestamp("2019-11-24T09:03:13+09:00") == 1574553793.0);
  CHECK(io::parse_timestamp("2019-11-23T19:03:13-05:00") == 1574553793.0);
  CHECK(io::parse_timestamp("2019-11-24T05:33:13+0530") == 1574553793.0);
  CHECK(io::parse_timestamp("2019-11-24T02:03:13+02") == 1574553793.0);
  CHECK(io::parse_timestamp("2019-11-24T00:03:13,5") == 1574553793.5);
  CHECK(io::parse_timestamp("1969-12-31 23:59:59") == -1.0);
  CHECK(io::parse_timestamp("2000-02-29 12:00:00") == 951825600.0);
}

TEST_CASE("parse_timestamp: invalid dates and malformed text are refused with the reason") {
  const std::string expected =
      "parse_timestamp: expected epoch seconds or an ISO 8601 date-time "
      "(YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:MM]])";
  CHECK_THROWS_WITH_AS(io::parse_timestamp("2019-02-30"),
                       "parse_timestamp: day 30 does not exist in 2019-02, got '2019-02-30'",
                       mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_timestamp("2100-02-29"),
                       "parse_timestamp: day 29 does not exist in 2100-02, got '2100-02-29'",
                       mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_timestamp("2019-13-01"),
                       "parse_timestamp: month 13 is not 01..12, got '2019-13-01'", mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_timestamp("2019-11-00"),
                       "parse_timestamp: day 0 does not exist in 2019-11, got '2019-11-00'",
                       mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_timestamp("2019-11-24 24:00:00"),
                       "parse_timestamp: hour 24 is not 00..23, got '2019-11-24 24:00:00'",
                       mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_timestamp("2019-11-24 12:60"),
                       "parse_timestamp: minute 60 is not 00..59, got '2019-11-24 12:60'",
                       mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_timestamp("2019-11-24 12:00:60"),
                       "parse_timestamp: second 60 is not 00..59 (leap seconds are not supported), "
                       "got '2019-11-24 12:00:60'",
                       mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_timestamp("2019-11-24 12:00:00+24:00"),
                       "parse_timestamp: UTC offset out of range (hours 00..23, minutes 00..59), "
                       "got '2019-11-24 12:00:00+24:00'",
                       mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_timestamp(""), (expected + ", got an empty field").c_str(),
                       mr::Error);
  for (const char* bad :
       {"2019/11/24", "2019-11-24x", "2019-11-24 ", "2019-11-24T", "2019-11-24 00:03:13.",
        "2019-11-24 00:03:13+", "2019-11-24 00:03:13+1", "2019-11-24 00:03:13+01:0", "2019-1-24",
        "19-11-24", "e9", "nan", "1.2.3", "-", "2019-11-24 0:03:13", "2019-11-24 00:03:13 Z"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(io::parse_timestamp(bad), (expected + ", got '" + bad + "'").c_str(),
                         mr::Error);
  }
}

TEST_CASE("parse_timestamp with a FieldLocation: the location leads the message") {
  const io::FieldLocation at{.source = "log.csv", .line = 7, .column = 3, .name = "timestamp"};
  CHECK(io::parse_timestamp("1970-01-02", at) == 86400.0);
  CHECK_THROWS_WITH_AS(
      io::parse_timestamp("2019-02-29", at),
      "log.csv:7:3 (timestamp): day 29 does not exist in 2019-02, got '2019-02-29'", mr::Error);
}

TEST_CASE("epoch seconds with an exponent, as %g writes them, are read") {
  CHECK(marl_rec::io::parse_timestamp("1.5745537934425359e+18") == 1.5745537934425359e+18);
  CHECK(marl_rec::io::parse_timestamp("2e-05") == 2e-05);
  CHECK(marl_rec::io::parse_timestamp("-1E3") == -1000.0);
  CHECK_THROWS_AS(marl_rec::io::parse_timestamp("1e"), marl_rec::Error);
  CHECK_THROWS_AS(marl_rec::io::parse_timestamp("e5"), marl_rec::Error);
  CHECK_THROWS_AS(marl_rec::io::parse_timestamp("1e5e5"), marl_rec::Error);
}
