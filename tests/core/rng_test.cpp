#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <bit>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "marl_rec/core/rng.hpp"
#include "support/errors.hpp"

TEST_CASE("Rng: same seed, same sequence, and different seeds differ") {
  marl_rec::Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t x = a.next_u64();
    CHECK(x == b.next_u64());
    (void)c;
  }
  marl_rec::Rng d(7), e(8);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += d.next_u64() == e.next_u64();
  CHECK(same == 0);
}

TEST_CASE("Rng: the sequence is pinned (the same on every platform)") {
  // First outputs of xoshiro256** seeded through SplitMix64 with seed 1. A change here breaks
  // every seeded result users have recorded: it must never happen silently.
  marl_rec::Rng r(1);
  const std::uint64_t first = r.next_u64();
  const std::uint64_t second = r.next_u64();
  marl_rec::Rng again(1);
  CHECK(again.next_u64() == first);
  CHECK(again.next_u64() == second);
  CHECK(first == 0xB3F2AF6D0FC710C5ull);
}

TEST_CASE("Rng: uniform, below and normal have the right ranges and moments") {
  marl_rec::Rng r(42);
  const int n = 200000;
  double sum = 0.0, sum_sq = 0.0;
  std::vector<int> counts(7, 0);
  for (int i = 0; i < n; ++i) {
    const double u = r.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    const auto k = r.below(7);
    REQUIRE(k < 7);
    ++counts[k];
    const double z = r.normal();
    sum += z;
    sum_sq += z * z;
  }
  CHECK(std::fabs(sum / n) < 0.01);
  CHECK(std::fabs(sum_sq / n - 1.0) < 0.02);
  for (const int c : counts) CHECK(std::fabs(c - n / 7.0) < 5 * std::sqrt(n / 7.0));
  CHECK(r.below(0) == 0);
  CHECK(r.below(1) == 0);
}

TEST_CASE("shuffle is a seeded permutation") {
  std::vector<int> a(50), b(50);
  std::iota(a.begin(), a.end(), 0);
  std::iota(b.begin(), b.end(), 0);
  marl_rec::Rng r1(3), r2(3);
  marl_rec::shuffle(a.begin(), a.end(), r1);
  marl_rec::shuffle(b.begin(), b.end(), r2);
  CHECK(a == b);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> want(50);
  std::iota(want.begin(), want.end(), 0);
  CHECK(sorted == want);
  CHECK(a != want);
}

TEST_CASE("Rng: from_state(state()) continues exactly, a pending normal draw included") {
  marl_rec::Rng original(11);
  for (int i = 0; i < 5; ++i) original.next_u64();
  original.normal();  // leaves the second value of the polar pair pending
  const marl_rec::Rng::State state = original.state();
  CHECK(state[5] == 1);
  marl_rec::Rng restored = marl_rec::Rng::from_state(state);
  CHECK(restored.state() == state);
  for (int i = 0; i < 100; ++i) {
    CHECK(std::bit_cast<std::uint64_t>(restored.normal()) == std::bit_cast<std::uint64_t>(original.normal()));
    CHECK(restored.next_u64() == original.next_u64());
    CHECK(restored.below(17) == original.below(17));
  }
  // Without a pending value, too (the spare's stale bits are kept, so the state round-trips).
  original.normal();
  CHECK(original.state()[5] == 0);
  marl_rec::Rng again = marl_rec::Rng::from_state(original.state());
  CHECK(again.state() == original.state());
  CHECK(again.normal() == original.normal());
}

TEST_CASE("Rng: from_state refuses states no generator can be in") {
  using marl_rec::test::error_of;
  marl_rec::Rng::State zero{};
  CHECK(error_of([&] { marl_rec::Rng::from_state(zero); }) ==
        "Rng::from_state: the all-zero xoshiro256** state is invalid");
  marl_rec::Rng::State flag = marl_rec::Rng(1).state();
  flag[5] = 2;
  CHECK(error_of([&] { marl_rec::Rng::from_state(flag); }) == "Rng::from_state: the spare flag must be 0 or 1, got 2");
  marl_rec::Rng::State nan_spare = marl_rec::Rng(1).state();
  nan_spare[4] = std::bit_cast<std::uint64_t>(std::numeric_limits<double>::quiet_NaN());
  nan_spare[5] = 1;
  CHECK(error_of([&] { marl_rec::Rng::from_state(nan_spare); }) ==
        "Rng::from_state: the pending spare normal is not finite");
  nan_spare[5] = 0;  // a stale spare is never used
  CHECK(error_of([&] { marl_rec::Rng::from_state(nan_spare); }) == "no error");
  zero[3] = 1;  // any non-zero word makes a valid state
  CHECK(error_of([&] { marl_rec::Rng::from_state(zero); }) == "no error");
}
