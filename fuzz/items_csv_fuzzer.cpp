// libFuzzer target: read_items_csv over arbitrary bytes; the first byte's low bit turns
// skip_bad_rows on. Only marl_rec::Error is an acceptable failure; a result has unique non-empty
// ids and finite prices >= 0, and a report that adds up.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>

#include "fuzz_check.hpp"
#include "marl_rec/io/items_csv.hpp"

namespace io = marl_rec::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const io::ItemsCsvOptions options{.skip_bad_rows = (data[0] & 1) != 0};
  try {
    std::istringstream in(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
    io::ReadReport report;
    const auto items = io::read_items_csv(in, "fuzz.csv", options, &report);
    MARL_REC_FUZZ_CHECK(!items.empty());
    MARL_REC_FUZZ_CHECK(report.rows_kept == items.size());
    MARL_REC_FUZZ_CHECK(report.rows_read == report.rows_kept + report.rows_skipped());
    std::set<std::string> ids;
    for (const io::ItemRecord& item : items) {
      MARL_REC_FUZZ_CHECK(!item.id.empty() && ids.insert(item.id).second);
      MARL_REC_FUZZ_CHECK(std::isfinite(item.price) && item.price >= 0.0f);
    }
  } catch (const marl_rec::Error&) {
  }
  return 0;
}
