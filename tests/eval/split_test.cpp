#include "marl_rec/eval/split.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"

namespace mr = marl_rec;
namespace ev = marl_rec::eval;

namespace {

struct Row {
  std::string user{};
  std::string item{};
  double timestamp = 0.0;
  std::size_t source_row = 0;
};

mr::Interactions make(const std::vector<Row>& rows, bool has_timestamp) {
  mr::Interactions data;
  data.has_timestamp = has_timestamp;
  for (const Row& r : rows) {
    data.rows.push_back({.user = data.users.intern(r.user),
                         .item = data.items.intern(r.item),
                         .timestamp = r.timestamp,
                         .source_row = r.source_row});
  }
  return data;
}

// Users "u<n>" with n rows each for every n in `counts`, rows interleaved across users (so that a
// user's rows are not contiguous), source_row = position.
mr::Interactions users_with_counts(const std::vector<std::size_t>& counts) {
  std::vector<Row> rows;
  const std::size_t most = *std::max_element(counts.begin(), counts.end());
  for (std::size_t j = 0; j < most; ++j) {
    for (std::size_t u = 0; u < counts.size(); ++u) {
      if (j < counts[u]) {
        rows.push_back({marl_rec::numbered_id("u", u), marl_rec::numbered_id("i", j), 0.0, rows.size()});
      }
    }
  }
  return make(rows, false);
}

std::vector<std::size_t> sources(const mr::Interactions& part) {
  std::vector<std::size_t> out;
  for (const mr::Interaction& r : part.rows) out.push_back(r.source_row);
  return out;
}

std::size_t rows_of_user(const mr::Interactions& part, std::size_t user) {
  return static_cast<std::size_t>(
      std::count_if(part.rows.begin(), part.rows.end(),
                    [&](const mr::Interaction& r) { return r.user == user; }));
}

// Every input row is in exactly one part, in input order, and the parts share the input's maps.
void check_partition(const mr::Interactions& data, const ev::Split& s) {
  std::vector<std::size_t> all;
  for (const mr::Interactions* part : {&s.train, &s.validation, &s.test}) {
    const std::vector<std::size_t> src = sources(*part);
    CHECK(std::is_sorted(src.begin(), src.end()));  // input is in source_row order
    all.insert(all.end(), src.begin(), src.end());
    CHECK(part->users.ids() == data.users.ids());
    CHECK(part->items.ids() == data.items.ids());
    CHECK(part->has_timestamp == data.has_timestamp);
    CHECK(part->has_rating == data.has_rating);
  }
  std::sort(all.begin(), all.end());
  CHECK(all == sources(data));
}

}  // namespace

TEST_CASE("split_per_user_random: per-user shares by the documented rounding rule") {
  // Per user n rows: test = round(0.2 n), validation = round(0.1 n), capped to keep one train row.
  //   n=1: 0, 0 (all train)        n=2: round(0.4)=0, round(0.2)=0   n=3: round(0.6)=1,
  //   round(0.3)=0 n=4: round(0.8)=1, 0         n=5: round(1.0)=1, round(0.5)=1 (halves up) n=7:
  //   round(1.4)=1, round(0.7)=1   n=10: 2, 1   n=13: round(2.6)=3, round(1.3)=1
  const std::vector<std::size_t> counts = {1, 2, 3, 4, 5, 7, 10, 13};
  const std::vector<std::size_t> want_test = {0, 0, 1, 1, 1, 1, 2, 3};
  const std::vector<std::size_t> want_validation = {0, 0, 0, 0, 1, 1, 1, 1};
  const mr::Interactions data = users_with_counts(counts);
  const ev::Split s = ev::split_per_user_random(data, 0.2, 42, 0.1);
  check_partition(data, s);
  for (std::size_t u = 0; u < counts.size(); ++u) {
    CAPTURE(counts[u]);
    CHECK(rows_of_user(s.test, u) == want_test[u]);
    CHECK(rows_of_user(s.validation, u) == want_validation[u]);
    CHECK(rows_of_user(s.train, u) == counts[u] - want_test[u] - want_validation[u]);
  }
}

TEST_CASE("split_per_user_random: every user keeps a training row") {
  // test_fraction 0.9: n=1 → 0; n=2 → round(1.8)=2 capped at 1; n=3 → round(2.7)=3 capped at 2.
  // (0.5, 0.4): n=2 → test 1, validation round(0.8)=1 capped at 0; n=4 → test 2, validation
  // round(1.6)=2 capped at 4−1−2 = 1.
  const mr::Interactions data = users_with_counts({1, 2, 3, 4});
  const ev::Split a = ev::split_per_user_random(data, 0.9, 1);
  check_partition(data, a);
  CHECK(rows_of_user(a.test, 0) == 0);
  CHECK(rows_of_user(a.test, 1) == 1);
  CHECK(rows_of_user(a.test, 2) == 2);
  CHECK(rows_of_user(a.test, 3) == 3);
  CHECK(a.validation.empty());
  const ev::Split b = ev::split_per_user_random(data, 0.5, 1, 0.4);
  check_partition(data, b);
  CHECK(rows_of_user(b.test, 1) == 1);
  CHECK(rows_of_user(b.validation, 1) == 0);
  CHECK(rows_of_user(b.test, 3) == 2);
  CHECK(rows_of_user(b.validation, 3) == 1);
  for (std::size_t u = 0; u < 4; ++u) CHECK(rows_of_user(b.train, u) >= 1);
}

TEST_CASE("split_per_user_random: reproducible for a seed, random across seeds") {
  std::vector<Row> rows;
  mr::Rng rng(5);
  for (std::size_t i = 0; i < 400; ++i) {
    rows.push_back(
        {marl_rec::numbered_id("u", rng.below(30)), marl_rec::numbered_id("i", rng.below(50)), 0.0, i});
  }
  const mr::Interactions data = make(rows, false);
  const ev::Split a = ev::split_per_user_random(data, 0.25, 9, 0.15);
  const ev::Split b = ev::split_per_user_random(data, 0.25, 9, 0.15);
  const ev::Split c = ev::split_per_user_random(data, 0.25, 10, 0.15);
  check_partition(data, a);
  CHECK(a.train.rows == b.train.rows);
  CHECK(a.validation.rows == b.validation.rows);
  CHECK(a.test.rows == b.test.rows);
  CHECK(a.test.size() == c.test.size());  // the shares depend on the counts only
  CHECK(a.test.rows != c.test.rows);

  // One user with 10 rows, 3 to test: over 50 seeds every row is drawn (15 times expected).
  const mr::Interactions one = users_with_counts({10});
  std::vector<int> drawn(10, 0);
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    const ev::Split s = ev::split_per_user_random(one, 0.3, seed);
    REQUIRE(s.test.size() == 3);
    for (const mr::Interaction& r : s.test.rows) ++drawn[r.source_row];
  }
  for (const int d : drawn) CHECK(d >= 5);
}

TEST_CASE("split fractions are checked") {
  const mr::Interactions data = users_with_counts({3, 4});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(ev::split_per_user_random(data, 1.0, 1),
                       "eval::split_per_user_random: test_fraction 1.000000 is not in [0, 1)",
                       mr::Error);
  CHECK_THROWS_AS(ev::split_per_user_random(data, -0.1, 1), mr::Error);
  CHECK_THROWS_AS(ev::split_per_user_random(data, nan, 1), mr::Error);
  CHECK_THROWS_AS(ev::split_per_user_random(data, 0.2, 1, nan), mr::Error);
  CHECK_THROWS_WITH_AS(
      ev::split_per_user_random(data, 0.5, 1, 0.5),
      "eval::split_per_user_random: test_fraction + validation_fraction = 1.000000 is not below 1",
      mr::Error);
  mr::Interactions timed = data;
  timed.has_timestamp = true;
  CHECK_THROWS_AS(ev::split_temporal(timed, 0.6, 0.4), mr::Error);
  CHECK_THROWS_AS(ev::split_temporal(timed, 0.2, -0.5), mr::Error);
  // Zero fractions are valid: everything is train.
  const ev::Split s = ev::split_per_user_random(data, 0.0, 1);
  CHECK(s.train.size() == data.size());
}

TEST_CASE("split_temporal: global cutoff by (timestamp, source_row), ties split by file order") {
  // position: timestamp (source_row = position, except position 2 whose source_row is 30)
  //   0:5 1:1 2:9 3:3 4:9 5:7 6:2 7:9 8:4 9:6
  // In time: 1(1) 6(2) 3(3) 8(4) 0(5) 9(6) 5(7) 4(9,sr 4) 7(9,sr 7) 2(9,sr 30).
  // 10 rows, test 0.2 → the last 2 in time: positions 7 and 2; validation 0.2 → the two before
  // them: positions 5 and 4. The tie at t = 9 is cut by source_row, not by position.
  const std::vector<double> t = {5, 1, 9, 3, 9, 7, 2, 9, 4, 6};
  std::vector<Row> rows;
  for (std::size_t i = 0; i < t.size(); ++i) {
    rows.push_back({marl_rec::numbered_id("u", i % 3), marl_rec::numbered_id("i", i), t[i], i == 2 ? 30 : i});
  }
  const mr::Interactions data = make(rows, true);
  const ev::Split s = ev::split_temporal(data, 0.2, 0.2);
  CHECK(sources(s.test) == std::vector<std::size_t>{30, 7});  // input order: position 2, then 7
  CHECK(sources(s.validation) == std::vector<std::size_t>{4, 5});
  CHECK(sources(s.train) == std::vector<std::size_t>{0, 1, 3, 6, 8, 9});
  CHECK(s.test.users.ids() == data.users.ids());

  // 0.25 of 10 = 2.5 → 3 (halves up): all three rows at t = 9.
  const ev::Split h = ev::split_temporal(data, 0.25);
  CHECK(sources(h.test) == std::vector<std::size_t>{30, 4, 7});
  CHECK(h.validation.empty());

  mr::Interactions untimed = data;
  untimed.has_timestamp = false;
  CHECK_THROWS_WITH_AS(ev::split_temporal(untimed, 0.2),
                       "eval::split_temporal: the data has no timestamps", mr::Error);
  mr::Interactions bad = data;
  bad.rows[3].timestamp = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(ev::split_temporal(bad, 0.2),
                       "eval::split_temporal: row 3 has a non-finite timestamp", mr::Error);
  // A single row stays in train; no rows give three empty parts.
  const ev::Split single = ev::split_temporal(make({{"a", "x", 1.0, 0}}, true), 0.5);
  CHECK(single.train.size() == 1);
  const ev::Split none = ev::split_temporal(make({}, true), 0.5);
  CHECK((none.train.empty() && none.validation.empty() && none.test.empty()));
}

TEST_CASE("split_leave_last_out: last row per user to test, the one before to validation") {
  // u0: one row (train). u1: t 5 (sr 0), 3 (sr 1). u2: t 2, 8, 8 (sr 2, 3, 4): the tie goes by
  // source_row, so sr 4 is last. u3: t 10, 1, 4, 7 (sr 5..8).
  const mr::Interactions data = make({{"u1", "a", 5, 0},
                                      {"u1", "b", 3, 1},
                                      {"u2", "a", 2, 2},
                                      {"u2", "b", 8, 3},
                                      {"u2", "c", 8, 4},
                                      {"u3", "a", 10, 5},
                                      {"u3", "b", 1, 6},
                                      {"u3", "c", 4, 7},
                                      {"u3", "d", 7, 8},
                                      {"u0", "a", 3, 9}},
                                     true);
  const ev::Split plain = ev::split_leave_last_out(data);
  check_partition(data, plain);
  CHECK(sources(plain.test) == std::vector<std::size_t>{0, 4, 5});
  CHECK(plain.validation.empty());
  const ev::Split with_validation = ev::split_leave_last_out(data, true);
  check_partition(data, with_validation);
  CHECK(sources(with_validation.test) == std::vector<std::size_t>{0, 4, 5});
  // u1 has two rows: its other row stays in train.
  CHECK(sources(with_validation.validation) == std::vector<std::size_t>{3, 8});
  CHECK(sources(with_validation.train) == std::vector<std::size_t>{1, 2, 6, 7, 9});

  // Without timestamps the file order decides, whatever the timestamp fields hold: per user the
  // largest source_row (the vector order differs from the source_row order here).
  const mr::Interactions untimed = make({{"u1", "a", 9, 4},
                                         {"u1", "b", 1, 2},
                                         {"u1", "c", 5, 7},
                                         {"u2", "a", 9, 6},
                                         {"u2", "b", 1, 3}},
                                        false);
  const ev::Split f = ev::split_leave_last_out(untimed, true);
  CHECK(sources(f.test) == std::vector<std::size_t>{7, 6});
  CHECK(sources(f.validation) == std::vector<std::size_t>{4});
  CHECK(sources(f.train) == std::vector<std::size_t>{2, 3});
}
