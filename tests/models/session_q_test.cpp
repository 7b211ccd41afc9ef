#include <doctest/doctest.h>

#include <vector>

#include "marl_rec/concepts/batch_recommender.hpp"
#include "marl_rec/models/session_q.hpp"
#include "support/errors.hpp"
#include "support/interactions.hpp"

namespace mr = marl_rec;

static_assert(mr::BatchRecommender<mr::SessionQ>);

TEST_CASE("SessionQ: the last item's row ranks what came next, discounted by what follows") {
  // Users walk a → b → c, one walks a → d. Items: a 0, b 1, c 2, d 3.
  const auto train = mr::test::interactions({{"u1", "a"}, {"u1", "b"}, {"u1", "c"},
                                             {"u2", "a"}, {"u2", "b"}, {"u2", "c"},
                                             {"u3", "a"}, {"u3", "d"},
                                             {"u4", "a"}});
  mr::SessionQ model({.alpha = 0.5f, .gamma = 0.5f, .epochs = 200});
  model.fit(train);
  // Converged: Q(c-state, ·) = 0; Q(b, c) = 1 (terminal); Q(a, b) = 1 + γ·1 = 1.5; Q(a, d) = 1.
  // Q(start, a) has targets 1.75 (three walks go on) and 1 (u4 stops at a): between the two.
  const auto& q = model.table();
  CHECK(q.q(1 + 1, 2) == doctest::Approx(1.0));
  CHECK(q.q(0 + 1, 1) == doctest::Approx(1.5).epsilon(1e-3));
  CHECK(q.q(0 + 1, 3) == doctest::Approx(1.0));
  CHECK(q.q(0, 0) > 1.0f);
  CHECK(q.q(0, 0) < 1.75f);
  std::vector<float> scores(4);
  model.score_user(3, scores);  // u4's last item is a: b (1.5) before d (1)
  CHECK(scores[1] > scores[3]);
  CHECK(scores[3] > scores[2]);
  model.score_user(99, scores);  // unknown user: the start state's row, a first
  CHECK(scores[0] == q.q(0, 0));
  CHECK(scores[1] == 0.0f);
  std::vector<float> wrong(3);
  CHECK(mr::test::error_of([&] { model.score_user(0, wrong); }) ==
        "SessionQ::score_user: scores has 3 entries, the model knows 4 items");
  mr::SessionQ tiny({.max_items = 3});
  CHECK(mr::test::error_of([&] { tiny.fit(train); }) ==
        "SessionQ::fit: 4 items; the table needs 1..3 (max_items)");
  CHECK_THROWS_AS(mr::SessionQ({.epochs = 0}), mr::Error);
}
