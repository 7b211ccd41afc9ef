// The example programs' command lines: `--name value` pairs and switches, read one by one, with
// an error naming the flag and the value for anything malformed (the programs print it and exit
// 1), and the small statistics their tables share.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"

namespace marl_rec::examples {

/// Walks argv:
///
///     Flags flags(argc, argv);
///     while (flags.next()) {
///       if (flags.is("--steps")) o.steps = flags.whole(1);
///       else if (flags.is("--out")) o.out = flags.text();
///       else flags.unknown();
///     }
class Flags {
 public:
  Flags(int argc, char** argv) : argc_(argc), argv_(argv) {}

  /// Moves to the next flag; false after the last.
  bool next() {
    if (++at_ >= argc_) return false;
    flag_ = argv_[at_];
    return true;
  }
  /// The current flag, as written.
  const std::string& flag() const noexcept { return flag_; }
  /// Whether the current flag is `name`.
  bool is(std::string_view name) const noexcept { return flag_ == name; }

  /// The current flag's value: the next argument. Throws Error when there is none.
  std::string text() {
    if (at_ + 1 >= argc_) throw Error(flag_ + ": missing value");
    return argv_[++at_];
  }
  /// The value as a whole number ≥ min (decimal, no sign).
  std::uint64_t whole(std::uint64_t min = 0) {
    const std::string value = text();
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
    if (value.empty() || value[0] == '-' || value[0] == '+' || *end != '\0' || errno == ERANGE || v < min) {
      throw Error(flag_ + ": expected a whole number >= " + std::to_string(min) + ", got '" + value + "'");
    }
    return v;
  }
  /// The value as a finite number in [lo, hi], or (lo, hi] when `open_low`.
  double number(double lo, double hi, bool open_low = false) { return number_in(text(), lo, hi, open_low); }
  /// The value as a comma-separated list of finite numbers, each in [lo, hi] (or (lo, hi]).
  std::vector<double> numbers(double lo, double hi, bool open_low = false) {
    std::vector<double> out;
    for (const std::string& item : list()) out.push_back(number_in(item, lo, hi, open_low));
    return out;
  }
  /// The value as a comma-separated list of non-empty items.
  std::vector<std::string> list() {
    const std::string value = text();
    std::vector<std::string> items;
    for (std::size_t at = 0; at <= value.size();) {
      const std::size_t comma = std::min(value.find(',', at), value.size());
      if (comma == at) throw Error(flag_ + ": expected items separated by commas, got '" + value + "'");
      items.push_back(value.substr(at, comma - at));
      at = comma + 1;
    }
    return items;
  }
  /// Throws the error for a flag the program does not know.
  [[noreturn]] void unknown() const { throw Error("unknown flag '" + flag_ + "' (--help lists the flags)"); }

 private:
  double number_in(const std::string& value, double lo, double hi, bool open_low) const {
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    const bool ok = !value.empty() && *end == '\0' && std::isfinite(v) && (open_low ? v > lo : v >= lo) && v <= hi;
    if (!ok) {
      throw Error(flag_ + ": expected a number in " + (open_low ? "(" : "[") + trimmed(lo) + ", " + trimmed(hi) +
                  "], got '" + value + "'");
    }
    return v;
  }
  static std::string trimmed(double v) {
    std::string s = std::to_string(v);
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  int argc_;
  char** argv_;
  int at_ = 0;
  std::string flag_{};
};

/// Mean and sample standard deviation (n − 1; 0 for one value) of a non-empty list.
struct Summary {
  double mean = 0.0;
  double sd = 0.0;
};

/// The Summary of `x` (which must not be empty).
inline Summary summarise(std::span<const double> x) {
  Summary s;
  for (const double v : x) s.mean += v;
  s.mean /= static_cast<double>(x.size());
  if (x.size() > 1) {
    double ss = 0.0;
    for (const double v : x) ss += (v - s.mean) * (v - s.mean);
    s.sd = std::sqrt(ss / static_cast<double>(x.size() - 1));
  }
  return s;
}

}  // namespace marl_rec::examples
