#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "marl_rec/core/error.hpp"

TEST_CASE("Error is a std::runtime_error carrying its message") {
  const marl_rec::Error e("where: what");
  const std::runtime_error& base = e;
  CHECK(std::string(base.what()) == "where: what");
}

TEST_CASE("require throws only when the condition is false, building the message lazily") {
  int built = 0;
  const auto message = [&] {
    ++built;
    return std::string("lazy ") + std::to_string(42);
  };
  CHECK_NOTHROW(marl_rec::detail::require(true, message));
  CHECK(built == 0);
  CHECK_THROWS_WITH_AS(marl_rec::detail::require(false, message), "lazy 42", marl_rec::Error);
  CHECK(built == 1);
  CHECK_THROWS_WITH_AS(marl_rec::detail::require(false, "plain"), "plain", marl_rec::Error);
}
