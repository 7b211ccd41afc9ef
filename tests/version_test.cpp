#include <doctest/doctest.h>

#include <string>

#include "marl_rec/version.hpp"

TEST_CASE("the version macros, the version string and CMake's project version agree") {
  const std::string from_macros = std::to_string(MARL_REC_VERSION_MAJOR) + "." +
                                  std::to_string(MARL_REC_VERSION_MINOR) + "." +
                                  std::to_string(MARL_REC_VERSION_PATCH);
  CHECK(from_macros == marl_rec::version_string);
  CHECK(from_macros == MARL_REC_EXPECTED_VERSION);
  CHECK(MARL_REC_VERSION == MARL_REC_VERSION_MAJOR * 10000 + MARL_REC_VERSION_MINOR * 100 +
                                MARL_REC_VERSION_PATCH);
}
