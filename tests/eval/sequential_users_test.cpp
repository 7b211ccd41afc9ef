#include <doctest/doctest.h>

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "marl_rec/embed/item2vec.hpp"
#include "marl_rec/eval/sequential_users.hpp"
#include "marl_rec/eval/split.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::eval::SequentialUsers;
using marl_rec::eval::SequentialUsersConfig;
using Step = SequentialUsers::Step;

}  // namespace

TEST_CASE("SequentialUsers: the world's chains and categories") {
  const SequentialUsers world({.users = 5, .items = 103, .categories = 4, .chain_length = 7,
                               .min_length = 3, .max_length = 5});
  // 25 items per category (the last takes 28); chains of 7 within a category, the last shorter.
  CHECK(world.category(0) == 0);
  CHECK(world.category(24) == 0);
  CHECK(world.category(25) == 1);
  CHECK(world.category(102) == 3);
  CHECK(world.position(0) == 0);
  CHECK(world.position(6) == 6);
  CHECK(world.position(7) == 0);
  CHECK(world.position(24) == 3);  // chain 21..24 of category 0: 4 items
  CHECK(world.position(25) == 0);  // a new category starts a new chain
  CHECK(world.successor(5) == 6);
  CHECK(world.successor(6) == 6);    // last of its chain
  CHECK(world.successor(24) == 24);  // last of category 0
  CHECK(world.chain(21) == world.chain(24));
  CHECK(world.chain(24) != world.chain(25));
}

TEST_CASE("SequentialUsers: the sequences follow the documented dynamics") {
  const SequentialUsersConfig config{.users = 2000, .continue_probability = 0.6, .taste = 0.7, .noise = 0.05};
  const SequentialUsers world(config);
  const marl_rec::Interactions& data = world.interactions();
  REQUIRE(data.users.size() == 2000);
  REQUIRE(data.items.size() == 2000);
  CHECK(data.has_timestamp);
  CHECK(data.items.id(17) == "i17");
  const auto sequences = marl_rec::user_item_sequences(data);
  REQUIRE(world.steps().size() == data.rows.size());
  std::size_t row = 0, continuations = 0, could_continue = 0, jumps = 0, favourite_jumps = 0, noise = 0;
  std::size_t chain_successor_next = 0, pairs = 0;
  for (std::size_t u = 0; u < sequences.size(); ++u) {
    const auto& s = sequences[u];
    CHECK(s.size() >= 10);
    CHECK(s.size() <= 50);
    CHECK(std::set<std::size_t>(s.begin(), s.end()).size() == s.size());  // never twice
    std::set<std::size_t> used;
    for (std::size_t t = 0; t < s.size(); ++t, ++row) {
      const Step step = world.steps()[row];
      CHECK((t == 0) == (step == Step::first));
      if (t > 0) {
        ++pairs;
        chain_successor_next += world.successor(s[t - 1]) == s[t] && s[t] != s[t - 1];
        const std::size_t next = world.successor(s[t - 1]);
        // Steps that were not noise could continue when the successor is new.
        if (step != Step::noise && next != s[t - 1] && used.count(next) == 0) {
          ++could_continue;
          continuations += step == Step::continuation;
        }
        if (step == Step::continuation) CHECK(s[t] == next);
      }
      if (step == Step::jump) {
        ++jumps;
        favourite_jumps += world.category(s[t]) == world.favourite(u);
      }
      noise += step == Step::noise;
      used.insert(s[t]);
    }
  }
  const double continue_rate = static_cast<double>(continuations) / static_cast<double>(could_continue);
  const double favourite_rate = static_cast<double>(favourite_jumps) / static_cast<double>(jumps);
  const double noise_rate = static_cast<double>(noise) / static_cast<double>(pairs);
  MESSAGE("continue ", continue_rate, ", favourite on jumps ", favourite_rate, ", noise ", noise_rate,
          ", next = chain successor ", static_cast<double>(chain_successor_next) / static_cast<double>(pairs));
  CHECK(continue_rate == doctest::Approx(0.6).epsilon(0.03));
  // taste + (1 − taste) / categories (a consumed item is redrawn within the same category).
  CHECK(favourite_rate == doctest::Approx(0.7 + 0.3 / 20).epsilon(0.03));
  CHECK(noise_rate == doctest::Approx(0.05).epsilon(0.1));
  // Chains are drawn with popularity skew: the first chain of a category is the most consumed.
  std::vector<std::size_t> by_chain_index(10, 0);
  for (const auto& r : data.rows) by_chain_index[(r.item % 100) / 10] += 1;
  CHECK(by_chain_index[0] > by_chain_index[1]);
  CHECK(by_chain_index[1] > by_chain_index[9]);
  // Leave-last-out never tests (or validates) an item the user trained on: a user never
  // consumes an item twice.
  const auto split = marl_rec::eval::split_leave_last_out(data, true);
  CHECK(split.test.rows.size() == 2000);
  CHECK(split.validation.rows.size() == 2000);
  std::vector<std::set<std::size_t>> trained(data.users.size());
  for (const auto& r : split.train.rows) trained[r.user].insert(r.item);
  std::size_t repeated = 0;
  for (const auto& r : split.validation.rows) repeated += trained[r.user].count(r.item);
  for (const auto& r : split.validation.rows) trained[r.user].insert(r.item);
  for (const auto& r : split.test.rows) repeated += trained[r.user].count(r.item);
  CHECK(repeated == 0);
}

TEST_CASE("SequentialUsers: deterministic for a seed") {
  const SequentialUsersConfig config{.users = 50, .items = 200, .categories = 5, .min_length = 5, .max_length = 20};
  const SequentialUsers a(config), b(config);
  CHECK(a.interactions().rows == b.interactions().rows);
  auto other = config;
  other.seed = 43;
  CHECK(SequentialUsers(other).interactions().rows != a.interactions().rows);
}

TEST_CASE("SequentialUsers: bad configurations are refused") {
  using C = SequentialUsersConfig;
  const auto refused = [](C c, const char* what) {
    CHECK(marl_rec::test::error_of([&] { SequentialUsers w(c); }).find(what) != std::string::npos);
  };
  refused(C{.users = 0}, "users");
  refused(C{.categories = 0}, "categories");
  refused(C{.chain_length = 0}, "chain_length");
  refused(C{.items = 100, .categories = 20, .chain_length = 10}, "items must be");
  refused(C{.min_length = 0}, "lengths");
  refused(C{.min_length = 30, .max_length = 20}, "lengths");
  refused(C{.items = 200, .categories = 2, .max_length = 201}, "lengths");
  refused(C{.continue_probability = 1.5}, "continue_probability");
  refused(C{.taste = -0.1}, "taste");
  refused(C{.noise = 2.0}, "noise");
  refused(C{.chain_popularity_exponent = -1.0}, "chain_popularity_exponent");
  refused(C{.start_at_first = 1.1}, "start_at_first");
}
