// libFuzzer target: CsvReader over arbitrary bytes, and the number parsers over its fields.
// Only marl_rec::Error is an acceptable failure. Properties checked besides "no crash": every
// field is valid UTF-8, and writing the records back (every field quoted) then reading them again
// gives the same records.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "marl_rec/io/csv.hpp"

namespace io = marl_rec::io;

namespace {

using Records = std::vector<std::vector<std::string>>;

Records read_all(const std::string& text, io::CsvOptions options) {
  std::istringstream in(text);
  io::CsvReader csv(in, "fuzz.csv", options);
  Records records;
  std::vector<std::string> fields;
  while (csv.next(fields)) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      MARL_REC_FUZZ_CHECK(io::detail::is_valid_utf8(fields[i]));
      const io::FieldLocation where = csv.location(i, "field");
      MARL_REC_FUZZ_CHECK(where.line >= csv.line() && where.column >= 1);
      // The non-throwing parsers on every field (exceptions are slow to fuzz through); the
      // throwing ones, which build the messages, on the first field of each record.
      double real = 0.0;
      std::int64_t integer = 0;
      (void)io::detail::to_double(fields[i], real, io::NonFinite::allow);
      (void)io::detail::to_int(fields[i], integer);
    }
    try {
      (void)io::parse_double(fields[0], csv.location(0, "field"));
    } catch (const marl_rec::Error&) {
    }
    try {
      (void)io::parse_int(fields[0], csv.location(0, "field"));
    } catch (const marl_rec::Error&) {
    }
    records.push_back(fields);
  }
  MARL_REC_FUZZ_CHECK(csv.records() == records.size());
  return records;
}

std::string write_quoted(const Records& records, char delimiter) {
  std::string out;
  for (const auto& record : records) {
    for (std::size_t i = 0; i < record.size(); ++i) {
      if (i > 0) out += delimiter;
      out += '"';
      for (const char c : record[i]) out += c == '"' ? std::string("\"\"") : std::string(1, c);
      out += '"';
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // A small record limit, so that the fuzzer reaches it with small inputs.
  const io::CsvOptions options{.delimiter = ',', .max_record_bytes = 256};
  Records records;
  try {
    records = read_all(text, options);
  } catch (const marl_rec::Error&) {
    return 0;
  }
  const Records again = read_all(write_quoted(records, ','), {.delimiter = ','});
  MARL_REC_FUZZ_CHECK(again == records);
  return 0;
}
