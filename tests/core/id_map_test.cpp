#include <doctest/doctest.h>

#include "marl_rec/core/id_map.hpp"

TEST_CASE("IdMap: dense indices in order of first appearance") {
  marl_rec::IdMap m;
  CHECK(m.intern("b") == 0);
  CHECK(m.intern("a") == 1);
  CHECK(m.intern("b") == 0);
  CHECK(m.intern("007") == 2);
  CHECK(m.intern("7") == 3);  // integer ids are kept as written
  CHECK(m.size() == 4);
  CHECK(m.id(1) == "a");
  CHECK(m.at("007") == 2);
  CHECK(m.find("zzz") == std::nullopt);
  CHECK(m.contains("a"));
  CHECK_THROWS_WITH_AS(m.at("zzz", "item"), "unknown item 'zzz'", marl_rec::Error);
  CHECK_THROWS_WITH_AS(m.id(9), "IdMap: index 9 out of range (size 4)", marl_rec::Error);
}
