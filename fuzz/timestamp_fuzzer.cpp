// libFuzzer target: parse_timestamp over arbitrary bytes. Only marl_rec::Error is an acceptable
// failure; an accepted timestamp is finite, and a date alone (YYYY-MM-DD) is a whole number of
// days.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "marl_rec/io/timestamp.hpp"

namespace io = marl_rec::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const double seconds = io::parse_timestamp(text);
    MARL_REC_FUZZ_CHECK(std::isfinite(seconds));
    // A date alone (YYYY-MM-DD; "333e-00000" is a number in exponent notation, not a date).
    const auto digits = [&](std::size_t from, std::size_t to) {
      for (std::size_t i = from; i < to; ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
      }
      return true;
    };
    if (size == 10 && text[4] == '-' && text[7] == '-' && digits(0, 4) && digits(5, 7) && digits(8, 10)) {
      MARL_REC_FUZZ_CHECK(std::fmod(seconds, 86400.0) == 0.0);
    }
    MARL_REC_FUZZ_CHECK(io::parse_timestamp(text, {.source = "fuzz", .line = 1, .column = 1}) ==
                        seconds);
  } catch (const marl_rec::Error&) {
  }
  return 0;
}
