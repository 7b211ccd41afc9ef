// Test helper: what every persistence test checks of a saved stream — every truncation and every
// flipped byte is an Error that leaves the object loaded into exactly as it was.
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <sstream>
#include <string>

#include "marl_rec/core/error.hpp"
#include "support/errors.hpp"

namespace marl_rec::test {

/// The bytes `object.save` writes.
template <class T>
std::string saved(const T& object) {
  std::ostringstream out;
  object.save(out);
  return out.str();
}

/// The message of the Error `object.load(bytes, extra...)` throws ("no error" when it loads).
template <class T, class... Extra>
std::string load_error(T& object, const std::string& bytes, Extra&&... extra) {
  std::istringstream in(bytes);
  return error_of([&] { object.load(in, extra...); });
}

/// Loads `bytes` cut at every length in [0, size) and with every byte flipped (bit 0, then bit
/// 6 for a second pass over every `flip_stride`-th byte) into `target`: each must be an Error
/// whose message starts with "loading a '<type>' model: ", and `target` must save the same bytes
/// afterwards as before.
template <class T>
void check_damage_rejected(T& target, const std::string& bytes, const std::string& type,
                           std::size_t flip_stride = 1) {
  const std::string before = saved(target);
  const std::string prefix = "loading a '" + type + "' model: ";
  std::size_t bad = 0;
  std::string first_bad;
  const auto expect_error = [&](const std::string& stream, const std::string& what) {
    const std::string message = load_error(target, stream);
    if (message.rfind(prefix, 0) != 0) {
      if (bad++ == 0) first_bad = what + ": " + message;
    }
  };
  for (std::size_t n = 0; n < bytes.size(); ++n) expect_error(bytes.substr(0, n), "cut at " + std::to_string(n));
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x01);
    expect_error(flipped, "bit 0 of byte " + std::to_string(at) + " flipped");
    if (at % flip_stride != 0) continue;
    flipped[at] = static_cast<char>(bytes[at] ^ 0x40);
    expect_error(flipped, "bit 6 of byte " + std::to_string(at) + " flipped");
  }
  CHECK_MESSAGE(bad == 0, bad, " damaged streams were not refused; the first: ", first_bad);
  CHECK(saved(target) == before);
}

}  // namespace marl_rec::test
