// libFuzzer target: read_interactions_csv and read_user_list over arbitrary bytes. The first byte
// picks the options (duplicate rule, skip_bad_rows). Only marl_rec::Error is an acceptable
// failure; a result must be consistent (indices in range, finite ratings, file order, no
// duplicate pairs, a report that adds up), and reading it again over itself as id_base must add
// no ids.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "fuzz_check.hpp"
#include "marl_rec/io/interactions_csv.hpp"

namespace mr = marl_rec;
namespace io = marl_rec::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  io::InteractionsCsvOptions options;
  options.duplicates = static_cast<io::InteractionsCsvOptions::Duplicates>(data[0] % 3);
  options.skip_bad_rows = (data[0] & 4) != 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    std::istringstream in(text);
    io::ReadReport report;
    const mr::Interactions d = io::read_interactions_csv(in, "fuzz.csv", options, &report);
    MARL_REC_FUZZ_CHECK(!d.empty());
    MARL_REC_FUZZ_CHECK(report.rows_kept == d.size());
    MARL_REC_FUZZ_CHECK(report.rows_read == report.rows_kept + report.rows_skipped());
    std::set<std::pair<std::size_t, std::size_t>> pairs;
    for (std::size_t i = 0; i < d.size(); ++i) {
      const mr::Interaction& r = d.rows[i];
      MARL_REC_FUZZ_CHECK(r.user < d.users.size() && r.item < d.items.size());
      MARL_REC_FUZZ_CHECK(std::isfinite(r.rating) && std::isfinite(r.timestamp));
      MARL_REC_FUZZ_CHECK(i == 0 || d.rows[i - 1].source_row < r.source_row);
      MARL_REC_FUZZ_CHECK(r.source_row < report.rows_read);
      MARL_REC_FUZZ_CHECK(pairs.insert({r.user, r.item}).second);
    }
    std::istringstream again(text);
    const mr::Interactions same =
        io::read_interactions_csv(again, "fuzz.csv", options, nullptr, &d);
    MARL_REC_FUZZ_CHECK(same.users.size() == d.users.size() && same.items.size() == d.items.size());
    MARL_REC_FUZZ_CHECK(same.rows == d.rows);
  } catch (const marl_rec::Error&) {
  }
  try {
    std::istringstream in(text);
    const auto users = io::read_user_list(in, "fuzz.csv");
    MARL_REC_FUZZ_CHECK(!users.empty());
    MARL_REC_FUZZ_CHECK(std::set<std::string>(users.begin(), users.end()).size() == users.size());
  } catch (const marl_rec::Error&) {
  }
  return 0;
}
