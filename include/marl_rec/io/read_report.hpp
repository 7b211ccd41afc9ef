// marl_rec — what a reader did with its input: rows read, kept, merged and skipped, with reasons.
// Readers never drop data silently: whatever they did not keep is counted here by reason.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace marl_rec::io {

/// Counts of what a reader did. `skipped` maps a reason ("duplicate (user, item): kept the
/// last", "rating is NaN", ...) to how many data rows it affected.
struct ReadReport {
  std::string source;            // file name (or the name given for a stream)
  std::size_t rows_read = 0;     // data rows seen (the header is not counted)
  std::size_t rows_kept = 0;     // rows that are in the result
  std::map<std::string, std::size_t> skipped;
  /// Things the reader decided that the caller should know (e.g. "no header recognised").
  std::vector<std::string> notes;

  /// Adds one skipped row with `reason`.
  void skip(const std::string& reason) { ++skipped[reason]; }

  /// The total of skipped rows.
  std::size_t rows_skipped() const noexcept {
    std::size_t total = 0;
    for (const auto& [reason, count] : skipped) total += count;
    return total;
  }

  /// One line: "source: N rows read, K kept, S skipped (reason: n, ...)".
  std::string summary() const {
    std::string s = source + ": " + std::to_string(rows_read) + " rows read, " +
                    std::to_string(rows_kept) + " kept, " + std::to_string(rows_skipped()) +
                    " skipped";
    if (!skipped.empty()) {
      s += " (";
      bool first = true;
      for (const auto& [reason, count] : skipped) {
        if (!first) s += "; ";
        s += reason + ": " + std::to_string(count);
        first = false;
      }
      s += ")";
    }
    for (const std::string& note : notes) s += "; note: " + note;
    return s;
  }
};

}  // namespace marl_rec::io
