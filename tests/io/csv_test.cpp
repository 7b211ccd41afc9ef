#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "marl_rec/io/csv.hpp"

namespace mr = marl_rec;
namespace io = marl_rec::io;

namespace {

using Records = std::vector<std::vector<std::string>>;

/// Every record of `text`, as CsvReader reads them from a stream named "t.csv".
Records read_all(const std::string& text, io::CsvOptions options = {}) {
  std::istringstream in(text);
  io::CsvReader csv(in, "t.csv", options);
  Records out;
  std::vector<std::string> fields;
  while (csv.next(fields)) out.push_back(fields);
  return out;
}

/// A stream of endless 'x' bytes that counts how many were asked for.
class EndlessLine : public std::streambuf {
 public:
  std::size_t served = 0;

 protected:
  int_type underflow() override {
    chunk_.assign(4096, 'x');
    served += chunk_.size();
    setg(chunk_.data(), chunk_.data(), chunk_.data() + chunk_.size());
    return traits_type::to_int_type('x');
  }

 private:
  std::string chunk_;
};

}  // namespace

TEST_CASE("CsvReader: plain records, line numbers, blank lines, a last line without newline") {
  std::istringstream in("a,b,c\n1,2,3\n\n\r\nx,,\nlast,line");
  io::CsvReader csv(in, "t.csv");
  std::vector<std::string> f;
  REQUIRE(csv.next(f));
  CHECK(f == std::vector<std::string>{"a", "b", "c"});
  CHECK(csv.line() == 1);
  REQUIRE(csv.next(f));
  CHECK(f == std::vector<std::string>{"1", "2", "3"});
  CHECK(csv.line() == 2);
  REQUIRE(csv.next(f));
  CHECK(f == std::vector<std::string>{"x", "", ""});  // trailing delimiter: an empty last field
  CHECK(csv.line() == 5);
  REQUIRE(csv.next(f));
  CHECK(f == std::vector<std::string>{"last", "line"});
  CHECK(csv.line() == 6);
  CHECK_FALSE(csv.next(f));
  CHECK(csv.records() == 4);
  CHECK(read_all("").empty());
  CHECK(read_all("\n\r\n\n").empty());
}

TEST_CASE("CsvReader: RFC 4180 quoting, CRLF, and line numbers across quoted newlines") {
  const Records r = read_all(
      "\"a,b\",\"say \"\"hi\"\"\",\"line1\r\nline2\"\r\n\"\",x,\"\"\"\"\r\nend,\"\",\"q\"");
  REQUIRE(r.size() == 3);
  CHECK(r[0] == std::vector<std::string>{"a,b", "say \"hi\"", "line1\r\nline2"});
  CHECK(r[1] == std::vector<std::string>{"", "x", "\""});
  CHECK(r[2] == std::vector<std::string>{"end", "", "q"});

  std::istringstream in("\"multi\nline\",b\nnext,\"c\"\n");
  io::CsvReader csv(in, "t.csv");
  std::vector<std::string> f;
  REQUIRE(csv.next(f));
  CHECK(csv.line() == 1);
  REQUIRE(csv.next(f));
  CHECK(csv.line() == 3);
  // Locations are where each field starts (the opening quote of a quoted one), 1-based bytes.
  const io::FieldLocation loc = csv.location(1, "name");
  CHECK(loc.line == 3);
  CHECK(loc.column == 6);
  CHECK(io::to_string(loc) == "t.csv:3:6 (name)");
  CHECK(io::to_string(csv.location(7)) == "t.csv:3");
}

TEST_CASE(
    "CsvReader: records written with every kind of field read back the same across buffer "
    "refills") {
  // About 300 KB: several 64 KiB buffer refills, landing inside quotes, "" pairs and CRLFs.
  Records written;
  std::string text;
  const std::vector<std::string> kinds = {"plain",        "",   "with,comma", "say \"hi\"",
                                          "two\r\nlines", "\"", "caf\xC3\xA9"};
  for (std::size_t r = 0; r < 6000; ++r) {
    std::vector<std::string> record;
    for (std::size_t f = 0; f < 5; ++f)
      record.push_back(kinds[(r + f * 3) % kinds.size()] + std::to_string(r));
    for (std::size_t f = 0; f < record.size(); ++f) {
      if (f > 0) text += ',';
      text += '"';
      for (const char c : record[f]) text += c == '"' ? std::string("\"\"") : std::string(1, c);
      text += '"';
    }
    text += r % 2 == 0 ? "\r\n" : "\n";
    written.push_back(std::move(record));
  }
  REQUIRE(text.size() > 4 * (1u << 16));
  CHECK(read_all(text) == written);
}

TEST_CASE("CsvReader: a UTF-8 byte order mark is skipped at the start only, UTF-8 text passes") {
  const Records r = read_all(
      "\xEF\xBB\xBFid,name\n1,caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC "
      "\xF0\x9F\x98\x80\n\xEF\xBB\xBFx,y");
  REQUIRE(r.size() == 3);
  CHECK(r[0][0] == "id");
  CHECK(r[1][1] == "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80");
  CHECK(r[2][0] == "\xEF\xBB\xBFx");  // a BOM after the start is an ordinary character
  // Columns after a BOM count from the first real byte.
  CHECK_THROWS_WITH_AS(read_all("\xEF\xBB\xBF"
                                "a\"b"),
                       "t.csv:1:2: expected no quote inside an unquoted field (quote the whole "
                       "field and double its quotes)",
                       mr::Error);
}

TEST_CASE("CsvReader: another delimiter, a delimiter that cannot work is refused") {
  const Records r = read_all("a;\"b;c\";1,5\n", {.delimiter = ';'});
  REQUIRE(r.size() == 1);
  CHECK(r[0] == std::vector<std::string>{"a", "b;c", "1,5"});
  CHECK(read_all("a\tb\n", {.delimiter = '\t'})[0].size() == 2);
  for (const char bad : {'"', '\n', '\r', '\0', static_cast<char>(0xC3)}) {
    CHECK_THROWS_WITH_AS(
        read_all("a", {.delimiter = bad}),
        "t.csv: CsvOptions::delimiter must be an ASCII character other than '\"', CR, LF and NUL",
        mr::Error);
  }
}

TEST_CASE("CsvReader: malformed quoting and line ends name the line and column") {
  CHECK_THROWS_WITH_AS(
      read_all("a,b\nc,\"de\nf\n"),
      "t.csv:2:3: expected a closing quote for the quote opened here before the end of the input",
      mr::Error);
  CHECK_THROWS_WITH_AS(read_all("ok\nab\"c,d\n"),
                       "t.csv:2:3: expected no quote inside an unquoted field (quote the whole "
                       "field and double its quotes)",
                       mr::Error);
  CHECK_THROWS_WITH_AS(
      read_all("\"ab\"c,d\n"),
      "t.csv:1:5: expected a delimiter or a line end after a closing quote, got 'c'", mr::Error);
  CHECK_THROWS_WITH_AS(read_all("a, \"b\"\n"),  // a space before the quote makes it unquoted
                       "t.csv:1:4: expected no quote inside an unquoted field (quote the whole "
                       "field and double its quotes)",
                       mr::Error);
  CHECK_THROWS_WITH_AS(read_all("a\rb\n"),
                       "t.csv:1:3: expected LF after CR (a lone CR is not a line end)", mr::Error);
  CHECK(read_all("a,b\r") == Records{{"a", "b"}});  // a CR just before the end is a line end
}

TEST_CASE("CsvReader: invalid UTF-8 is refused at the exact byte") {
  const auto message = [](const std::string& text) {
    try {
      read_all(text);
    } catch (const mr::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("ab\n\xC0\xAF") ==
        "t.csv:2:1: expected valid UTF-8, got an overlong encoding (byte 0xC0)");
  CHECK(message("\xE0\x80\x80") ==
        "t.csv:1:2: expected valid UTF-8, got an overlong encoding (byte 0x80)");
  CHECK(message("\xF0\x8F\xBF\xBF") ==
        "t.csv:1:2: expected valid UTF-8, got an overlong encoding (byte 0x8F)");
  CHECK(message("x,\xED\xA0\x80") ==
        "t.csv:1:4: expected valid UTF-8, got a UTF-16 surrogate (byte 0xA0)");
  CHECK(message("\xF4\x90\x80\x80") ==
        "t.csv:1:2: expected valid UTF-8, got a code point above U+10FFFF (byte 0x90)");
  CHECK(message("\xF5\x80\x80\x80") ==
        "t.csv:1:1: expected valid UTF-8, got a byte that never occurs in UTF-8 (byte 0xF5)");
  CHECK(message("a\x80") ==
        "t.csv:1:2: expected valid UTF-8, got a continuation byte with no lead byte (byte 0x80)");
  CHECK(message("\xC3,b") ==
        "t.csv:1:2: expected valid UTF-8, got a truncated sequence (byte 0x2C)");
  CHECK(message("\"\xE2\x82\"") ==
        "t.csv:1:4: expected valid UTF-8, got a truncated sequence (byte 0x22)");
  CHECK(message("ab\xC3") ==
        "t.csv:1:4: expected the rest of a UTF-8 sequence before the end of the input");
  // The largest code point and the last ones before and after the surrogates are fine.
  CHECK(message("\xF4\x8F\xBF\xBF,\xED\x9F\xBF,\xEE\x80\x80") == "no error");
  CHECK(io::detail::is_valid_utf8("caf\xC3\xA9"));
  CHECK_FALSE(io::detail::is_valid_utf8("caf\xC3"));
  CHECK_FALSE(io::detail::is_valid_utf8("\xED\xBF\xBF"));
}

TEST_CASE("CsvReader: NUL bytes are refused") {
  CHECK_THROWS_WITH_AS(read_all(std::string("a,b\nc\0d\n", 8)),
                       "t.csv:2:2: expected text, got a NUL byte (is this a binary file?)",
                       mr::Error);
  CHECK_THROWS_WITH_AS(read_all(std::string("\"\0\"", 3)),
                       "t.csv:1:2: expected text, got a NUL byte (is this a binary file?)",
                       mr::Error);
}

TEST_CASE("CsvReader: a record longer than max_record_bytes fails without reading the rest") {
  CHECK(read_all("abcdefg\n", {.max_record_bytes = 8}).size() == 1);  // 8 bytes with its LF
  CHECK_THROWS_WITH_AS(read_all("ok\nabcdefgh\n", {.max_record_bytes = 8}),
                       "t.csv:2:9: the record starting on line 2 is longer than 8 bytes "
                       "(CsvOptions::max_record_bytes); an unclosed quote can cause this",
                       mr::Error);
  CHECK_THROWS_AS(read_all("\"unclosed,quote\n" + std::string(100, 'x'), {.max_record_bytes = 64}),
                  mr::Error);

  // An endless line: the reader stops at the limit, having read at most one buffer past it.
  EndlessLine endless;
  std::istream in(&endless);
  io::CsvReader csv(in, "endless", {.max_record_bytes = 1 << 20});
  std::vector<std::string> f;
  CHECK_THROWS_WITH_AS(
      csv.next(f),
      "endless:1:1048577: the record starting on line 1 is longer than 1048576 bytes "
      "(CsvOptions::max_record_bytes); an unclosed quote can cause this",
      mr::Error);
  CHECK(endless.served <= (1u << 20) + (1u << 16) + 4096);
}

TEST_CASE(
    "parse_double / parse_int: whole fields only, finite unless asked, with the field's location") {
  const io::FieldLocation at{.source = "r.csv", .line = 3, .column = 5, .name = "rating"};
  CHECK(io::parse_double("1.5", at) == 1.5);
  CHECK(io::parse_double("-2", at) == -2.0);
  CHECK(io::parse_double("+3", at) == 3.0);
  CHECK(io::parse_double("1e3", at) == 1000.0);
  CHECK(io::parse_double(".5", at) == 0.5);
  CHECK(std::isnan(io::parse_double("nan", at, io::NonFinite::allow)));
  CHECK(io::parse_double("-inf", at, io::NonFinite::allow) ==
        -std::numeric_limits<double>::infinity());
  CHECK_THROWS_WITH_AS(io::parse_double("", at),
                       "r.csv:3:5 (rating): expected a number, got an empty field", mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_double("1.5x", at),
                       "r.csv:3:5 (rating): expected a number, got '1.5x'", mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_double(" 1", at),
                       "r.csv:3:5 (rating): expected a number, got ' 1'", mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_double("+-1", at),
                       "r.csv:3:5 (rating): expected a number, got '+-1'", mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_double("0x10", at),
                       "r.csv:3:5 (rating): expected a number, got '0x10'", mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_double("NaN", at),
                       "r.csv:3:5 (rating): expected a finite number, got 'NaN'", mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_double("inf", at),
                       "r.csv:3:5 (rating): expected a finite number, got 'inf'", mr::Error);
  CHECK_THROWS_WITH_AS(
      io::parse_double("1e400", at),
      "r.csv:3:5 (rating): expected a number within the range of double, got '1e400'", mr::Error);

  CHECK(io::parse_int("42", at) == 42);
  CHECK(io::parse_int("+7", at) == 7);
  CHECK(io::parse_int("-9223372036854775808", at) == std::numeric_limits<std::int64_t>::min());
  CHECK_THROWS_WITH_AS(io::parse_int("3.0", at),
                       "r.csv:3:5 (rating): expected an integer, got '3.0'", mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_int("", at),
                       "r.csv:3:5 (rating): expected an integer, got an empty field", mr::Error);
  CHECK_THROWS_WITH_AS(io::parse_int("9223372036854775808", at),
                       "r.csv:3:5 (rating): expected an integer within the range of int64, got "
                       "'9223372036854775808'",
                       mr::Error);
}

TEST_CASE("Error messages quote fields safely: control bytes escaped, long fields cut") {
  CHECK(io::detail::quoted_for_message("a\tb\x7F") == "'a\\x09b\\x7F'");
  CHECK(io::detail::quoted_for_message("caf\xC3\xA9") == "'caf\xC3\xA9'");
  CHECK(io::detail::quoted_for_message("bad\xFF") == "'bad\\xFF'");
  const std::string cut = io::detail::quoted_for_message(std::string(59, 'a') + "\xC3\xA9zzz");
  CHECK(cut == "'" + std::string(59, 'a') + "'...");  // not in the middle of the é
  CHECK(io::to_string({.source = "f.csv"}) == "f.csv");
  CHECK(io::to_string({.source = "f.csv", .line = 2}) == "f.csv:2");
  CHECK(io::to_string({.source = "f.csv", .line = 2, .column = 3}) == "f.csv:2:3");
}

TEST_CASE("open_input names the path and the reason") {
  CHECK_THROWS_WITH_AS(io::detail::open_input("/nonexistent/x.csv"),
                       "/nonexistent/x.csv: cannot open: no such file", mr::Error);
  CHECK_THROWS_WITH_AS(
      io::detail::open_input(MARL_REC_TEST_DATA_DIR),
      (std::string(MARL_REC_TEST_DATA_DIR) + ": cannot open: it is a directory").c_str(),
      mr::Error);
}
