// Test support: the format-1 writer (the first format), kept to make format-1 streams for the
// reader's tests (the library itself now writes format 2 only).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/io/detail/little_endian.hpp"
#include "marl_rec/io/model_stream.hpp"

namespace marl_rec::test {

class V1ModelWriter {
 public:
  V1ModelWriter(std::ostream& out, std::string_view type, std::uint32_t version) : out_(out) {
    raw(io::detail::model_magic_v1, sizeof io::detail::model_magic_v1);
    text(type);
    u64_raw(version);
  }

  void u64(std::string_view field, std::uint64_t value) {
    text(field);
    u64_raw(value);
  }
  void f64(std::string_view field, double value) {
    u64(field, std::bit_cast<std::uint64_t>(value));
  }
  void string(std::string_view field, std::string_view value) {
    text(field);
    text(value);
  }
  void floats(std::string_view field, std::span<const float> values) {
    text(field);
    u64_raw(values.size());
    std::vector<std::byte> buffer(values.size() * 4);
    for (std::size_t i = 0; i < values.size(); ++i) {
      marl_rec::io::detail::store_le<std::uint32_t>(buffer.data() + 4 * i,
                                                    std::bit_cast<std::uint32_t>(values[i]));
    }
    raw(buffer.data(), buffer.size());
  }
  void doubles(std::string_view field, std::span<const double> values) {
    text(field);
    u64_raw(values.size());
    for (const double v : values) u64_raw(std::bit_cast<std::uint64_t>(v));
  }
  /// Writes the checksum; nothing may be written after it.
  void finish() {
    const std::uint64_t sum = hash_.value();
    std::byte bytes[8];
    marl_rec::io::detail::store_le<std::uint64_t>(bytes, sum);
    out_.write(reinterpret_cast<const char*>(bytes), 8);
    marl_rec::detail::require(static_cast<bool>(out_), "ModelWriter: the output stream failed");
  }

 private:
  void raw(const void* data, std::size_t n) {
    hash_.add(data, n);
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    marl_rec::detail::require(static_cast<bool>(out_), "ModelWriter: the output stream failed");
  }
  void u64_raw(std::uint64_t v) {
    std::byte bytes[8];
    marl_rec::io::detail::store_le<std::uint64_t>(bytes, v);
    raw(bytes, 8);
  }
  void text(std::string_view s) {
    u64_raw(s.size());
    raw(s.data(), s.size());
  }

  std::ostream& out_;
  io::detail::Fnv1a hash_;
};

}  // namespace marl_rec::test
