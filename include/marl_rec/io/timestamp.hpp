// marl_rec — timestamps as data files write them (epoch seconds or ISO 8601) → seconds since
// the Unix epoch, with civil-date arithmetic of its own (no locale, no time-zone database).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "marl_rec/core/error.hpp"
#include "marl_rec/io/csv.hpp"

namespace marl_rec::io {

/// Days from 1970-01-01 to the proleptic Gregorian date y-m-d (negative before it).
/// H. Hinnant's days_from_civil: years are shifted to start in March so that the leap day is
/// the last day of its year, which makes the day-of-year a closed formula.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);                 // [0, 399]
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// The number of days in month m (1..12) of year y (proleptic Gregorian).
constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

namespace detail {

/// A cursor over the text being parsed.
class TimestampScanner {
 public:
  explicit TimestampScanner(std::string_view s) noexcept : s_(s) {}
  bool done() const noexcept { return i_ == s_.size(); }
  char peek() const noexcept { return done() ? '\0' : s_[i_]; }
  bool accept(char c) noexcept {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  /// Exactly `n` decimal digits as a number, or -1 (consuming nothing).
  int digits(std::size_t n) noexcept {
    if (s_.size() - i_ < n) return -1;
    int value = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const char c = s_[i_ + k];
      if (c < '0' || c > '9') return -1;
      value = value * 10 + (c - '0');
    }
    i_ += n;
    return value;
  }
  /// One or more digits as a fraction 0.ddd, or -1 when there is none.
  double fraction() noexcept {
    double value = 0.0;
    double scale = 1.0;
    const std::size_t start = i_;
    for (; !done() && peek() >= '0' && peek() <= '9'; ++i_) {
      scale /= 10.0;
      value += (peek() - '0') * scale;
    }
    return i_ == start ? -1.0 : value;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

/// True when `s` is an optionally signed decimal number without exponent ("1574553793",
/// "-5", "1574553793.442").
inline bool looks_like_epoch(std::string_view s) noexcept {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  // An exponent ("1.5745537934425359e+18", as %g writes nanosecond epochs) is allowed once,
  // after at least one digit; a date-time never contains 'e'.
  std::size_t digits = 0;
  std::size_t dots = 0;
  bool exponent = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.' && !exponent) {
      ++dots;
    } else if ((c == 'e' || c == 'E') && !exponent && digits > 0) {
      exponent = true;
      if (i + 1 < s.size() && (s[i + 1] == '+' || s[i + 1] == '-')) ++i;
      if (i + 1 >= s.size()) return false;
    } else {
      return false;
    }
  }
  return digits > 0 && dots <= 1;
}

/// Parses `text` into `seconds`; returns an empty string on success, else what was wrong (a
/// message without the text itself, so the callers can add their own location).
inline std::string parse_timestamp_into(std::string_view text, double& seconds) {
  constexpr const char* expected =
      "expected epoch seconds or an ISO 8601 date-time "
      "(YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:MM]])";
  if (text.empty()) return std::string(expected) + ", got an empty field";
  if (looks_like_epoch(text)) {
    if (const char* problem = to_double(text, seconds, NonFinite::reject))
      return problem_with(problem, text);
    return {};
  }
  const std::string got = ", got " + quoted_for_message(text);
  TimestampScanner in(text);
  const int year = in.digits(4);
  if (year < 0 || !in.accept('-')) return expected + got;
  const int month = in.digits(2);
  if (month < 0 || !in.accept('-')) return expected + got;
  const int day = in.digits(2);
  if (day < 0) return expected + got;
  if (month < 1 || month > 12) return "month " + std::to_string(month) + " is not 01..12" + got;
  if (day < 1 || static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month))) {
    return "day " + std::to_string(day) + " does not exist in " + std::string(text.substr(0, 7)) +
           got;
  }
  double time_of_day = 0.0;
  if (!in.done()) {
    if (!in.accept('T') && !in.accept('t') && !in.accept(' ')) return expected + got;
    const int hour = in.digits(2);
    if (hour < 0 || !in.accept(':')) return expected + got;
    const int minute = in.digits(2);
    if (minute < 0) return expected + got;
    int second = 0;
    double fraction = 0.0;
    if (in.accept(':')) {
      second = in.digits(2);
      if (second < 0) return expected + got;
      if (in.accept('.') || in.accept(',')) {
        fraction = in.fraction();
        if (fraction < 0) return expected + got;
      }
    }
    if (hour > 23) return "hour " + std::to_string(hour) + " is not 00..23" + got;
    if (minute > 59) return "minute " + std::to_string(minute) + " is not 00..59" + got;
    if (second > 59)
      return "second " + std::to_string(second) +
             " is not 00..59 (leap seconds are not supported)" + got;
    time_of_day = hour * 3600.0 + minute * 60.0 + second + fraction;
    if (const char sign = in.peek(); in.accept('Z') || in.accept('z')) {
      // UTC
    } else if (sign == '+' || sign == '-') {
      in.accept(sign);
      const int oh = in.digits(2);
      if (oh < 0) return expected + got;
      int om = 0;
      if (in.accept(':')) {
        if ((om = in.digits(2)) < 0) return expected + got;
      } else if (!in.done() && (om = in.digits(2)) < 0) {
        return expected + got;
      }
      if (oh > 23 || om > 59) return "UTC offset out of range (hours 00..23, minutes 00..59)" + got;
      // Local time = UTC + offset, so UTC = local time - offset.
      time_of_day -= (sign == '+' ? 1.0 : -1.0) * (oh * 3600.0 + om * 60.0);
    }
    if (!in.done()) return expected + got;
  }
  seconds = static_cast<double>(
                days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day))) *
                86400.0 +
            time_of_day;
  return {};
}

}  // namespace detail

/// Seconds since 1970-01-01T00:00:00Z for:
/// - epoch seconds, integer or decimal ("1574553793", "1574553793.442536", "-86400");
/// - ISO 8601 "YYYY-MM-DD" (midnight), "YYYY-MM-DD HH:MM[:SS[.fff]]" with 'T' or a space
///   between date and time, then optionally "Z" or a UTC offset "+HH:MM", "+HHMM" or "+HH"
///   ("2019-11-24 00:03:13.442536+00:00"). A date-time without offset is taken as UTC.
/// Invalid dates and times (2019-02-29, 24:00, 12:60) are refused: throws Error
/// "parse_timestamp: day 29 does not exist in 2019-02, got '2019-02-29'".
inline double parse_timestamp(std::string_view text) {
  double seconds = 0.0;
  const std::string problem = detail::parse_timestamp_into(text, seconds);
  detail::require(problem.empty(), [&] { return "parse_timestamp: " + problem; });
  return seconds;
}

/// parse_timestamp for a field of a file: errors read "<where>: <what was expected>".
inline double parse_timestamp(std::string_view text, const FieldLocation& where) {
  double seconds = 0.0;
  const std::string problem = detail::parse_timestamp_into(text, seconds);
  if (!problem.empty()) throw_error(where, problem);
  return seconds;
}

}  // namespace marl_rec::io
