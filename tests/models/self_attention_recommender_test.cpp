#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/concepts/batch_recommender.hpp"
#include "marl_rec/concepts/model.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/embed/hashing_embedder.hpp"
#include "marl_rec/eval/split.hpp"
#include "marl_rec/models/detail/attention_layers.hpp"
#include "marl_rec/models/self_attention_recommender.hpp"
#include "support/errors.hpp"
#include "support/stream_checks.hpp"
#include "support/stream_fields.hpp"

namespace {

namespace la = marl_rec::detail::attention;
using marl_rec::SelfAttentionRecommender;
using marl_rec::SelfAttentionRecommenderConfig;
using Exact = marl_rec::BasicSelfAttentionRecommender<double>;
using M = la::Mat<double>;

static_assert(marl_rec::BatchRecommender<SelfAttentionRecommender>);
static_assert(marl_rec::Model<SelfAttentionRecommender>);

M random_matrix(marl_rec::Rng& rng, Eigen::Index rows, Eigen::Index cols, double sd = 1.0) {
  M m(rows, cols);
  for (Eigen::Index r = 0; r < rows; ++r) {
    for (Eigen::Index c = 0; c < cols; ++c) m(r, c) = rng.normal(0.0, sd);
  }
  return m;
}

// Compares `analytic` with central differences of f over every entry of `x` (f reads x).
// Returns the number of entries that disagree beyond 1e-7 + 1e-5 |numeric|.
std::size_t gradient_mismatches(M& x, const M& analytic, const std::function<double()>& f,
                                const char* what) {
  constexpr double h = 1e-6;
  std::size_t bad = 0;
  REQUIRE(analytic.rows() == x.rows());
  REQUIRE(analytic.cols() == x.cols());
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    for (Eigen::Index c = 0; c < x.cols(); ++c) {
      const double keep = x(r, c);
      x(r, c) = keep + h;
      const double up = f();
      x(r, c) = keep - h;
      const double down = f();
      x(r, c) = keep;
      const double numeric = (up - down) / (2 * h);
      if (std::abs(numeric - analytic(r, c)) > 1e-7 + 1e-5 * std::abs(numeric)) {
        if (bad++ == 0) {
          MESSAGE(what, "(", r, ", ", c, "): analytic ", analytic(r, c), ", numeric ", numeric);
        }
      }
    }
  }
  return bad;
}

// 30 items on one chain 0 → 1 → … → 29 → 0; user u reads `length` consecutive items from a
// random start. The next item is always the successor of the last: learnable from order alone.
marl_rec::Interactions chain_data(std::size_t users, std::size_t length, std::uint64_t seed) {
  marl_rec::Interactions data;
  for (std::size_t i = 0; i < 30; ++i) data.items.intern(marl_rec::numbered_id("i", i));
  marl_rec::Rng rng(seed);
  for (std::size_t u = 0; u < users; ++u) {
    const std::size_t user = data.users.intern(marl_rec::numbered_id("u", u));
    const std::size_t start = static_cast<std::size_t>(rng.below(30));
    for (std::size_t t = 0; t < length; ++t) {
      data.rows.push_back({.user = user, .item = (start + t) % 30, .timestamp = static_cast<double>(t),
                           .source_row = data.rows.size()});
    }
  }
  data.has_timestamp = true;
  return data;
}

SelfAttentionRecommenderConfig small_config() {
  return {.dim = 16, .max_len = 10, .blocks = 1, .dropout = 0.1, .learning_rate = 0.01,
          .epochs = 30, .min_steps = 0, .negatives = 2, .batch_size = 32, .seed = 7};
}

std::vector<float> scores_of(const SelfAttentionRecommender& model, std::size_t user) {
  std::vector<float> s(model.items());
  model.score_user(user, s);
  return s;
}

std::size_t argmax(const std::vector<float>& s) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < s.size(); ++i) best = s[i] > s[best] ? i : best;
  return best;
}

}  // namespace

TEST_CASE("attention layers: layer norm gradients match central differences") {
  marl_rec::Rng rng(1);
  M x = random_matrix(rng, 4, 6), gamma = random_matrix(rng, 1, 6), beta = random_matrix(rng, 1, 6);
  const M g = random_matrix(rng, 4, 6);  // dL/dy of L = Σ g ∘ y
  const auto loss = [&] {
    la::LayerNormCache<double> c;
    M y;
    la::layer_norm_forward(x, gamma, beta, c, y);
    return (g.array() * y.array()).sum();
  };
  la::LayerNormCache<double> c;
  M y, dx;
  la::layer_norm_forward(x, gamma, beta, c, y);
  M dgamma = M::Zero(1, 6), dbeta = M::Zero(1, 6);
  la::layer_norm_backward(g, gamma, c, dx, dgamma, dbeta);
  CHECK(gradient_mismatches(x, dx, loss, "dx") == 0);
  CHECK(gradient_mismatches(gamma, dgamma, loss, "dgamma") == 0);
  CHECK(gradient_mismatches(beta, dbeta, loss, "dbeta") == 0);
}

TEST_CASE("attention layers: causal attention gradients match central differences") {
  marl_rec::Rng rng(2);
  M q = random_matrix(rng, 5, 4), k = random_matrix(rng, 5, 4), v = random_matrix(rng, 5, 4);
  const M g = random_matrix(rng, 5, 4);
  const auto loss = [&] {
    M a, o;
    la::causal_attention_forward(q, k, v, a, o);
    return (g.array() * o.array()).sum();
  };
  M a, o, ds, dq, dk, dv;
  la::causal_attention_forward(q, k, v, a, o);
  la::causal_attention_backward(q, k, v, a, g, ds, dq, dk, dv);
  CHECK(gradient_mismatches(q, dq, loss, "dq") == 0);
  CHECK(gradient_mismatches(k, dk, loss, "dk") == 0);
  CHECK(gradient_mismatches(v, dv, loss, "dv") == 0);
  // Causal: weights above the diagonal are 0, each row sums to 1.
  for (Eigen::Index t = 0; t < 5; ++t) {
    CHECK(a.row(t).sum() == doctest::Approx(1.0));
    for (Eigen::Index j = t + 1; j < 5; ++j) CHECK(a(t, j) == 0.0);
  }
}

TEST_CASE("attention layers: feed-forward gradients match central differences") {
  marl_rec::Rng rng(3);
  M x = random_matrix(rng, 3, 5), w1 = random_matrix(rng, 5, 5), b1 = random_matrix(rng, 1, 5),
    w2 = random_matrix(rng, 5, 5), b2 = random_matrix(rng, 1, 5);
  const M g = random_matrix(rng, 3, 5);
  const auto loss = [&] {
    la::FeedForwardCache<double> c;
    M y;
    la::feed_forward_forward(x, w1, b1, w2, b2, c, y);
    return (g.array() * y.array()).sum();
  };
  la::FeedForwardCache<double> c;
  M y, scratch, dx;
  la::feed_forward_forward(x, w1, b1, w2, b2, c, y);
  CHECK((c.pre.array() < 0).any());  // the ReLU is exercised on both sides
  M dw1 = M::Zero(5, 5), db1 = M::Zero(1, 5), dw2 = M::Zero(5, 5), db2 = M::Zero(1, 5);
  la::feed_forward_backward(x, w1, w2, c, g, scratch, dx, dw1, db1, dw2, db2);
  CHECK(gradient_mismatches(x, dx, loss, "dx") == 0);
  CHECK(gradient_mismatches(w1, dw1, loss, "dw1") == 0);
  CHECK(gradient_mismatches(b1, db1, loss, "db1") == 0);
  CHECK(gradient_mismatches(w2, dw2, loss, "dw2") == 0);
  CHECK(gradient_mismatches(b2, db2, loss, "db2") == 0);
}

TEST_CASE("SelfAttentionRecommender: the whole model's gradient (embeddings, blocks, BCE loss) matches central differences") {
  for (const bool with_dropout : {false, true}) {
    CAPTURE(with_dropout);
    Exact model({.dim = 4, .max_len = 5, .blocks = 2, .dropout = 0.3, .negatives = 2, .seed = 3});
    model.initialize(7);
    // Non-trivial layer-norm and bias parameters (initialize gives 1 and 0).
    Exact::Parameters p = model.parameters();
    marl_rec::Rng rng(9);
    for (M* m : p.tensors()) *m += random_matrix(rng, m->rows(), m->cols(), 0.3);
    model.set_parameters(p);
    // A window shorter than max_len (left-padded), with a repeated item and an input that is
    // also a negative, so embedding gradients from several places add up.
    const std::vector<std::size_t> inputs = {2, 5, 2};
    const std::vector<std::size_t> targets = {5, 2, 6};
    const std::vector<std::size_t> negatives = {0, 1, 3, 2, 4, 0};
    const std::optional<std::uint64_t> seed = with_dropout ? std::optional<std::uint64_t>(11) : std::nullopt;
    Exact::Parameters grad;
    const double loss = model.loss_and_gradient(inputs, targets, negatives, &grad, seed);
    CHECK(std::isfinite(loss));
    CHECK(loss > 0.0);
    Exact::Parameters probe = model.parameters();
    const auto params = probe.tensors();
    const auto grads = grad.tensors();
    REQUIRE(params.size() == 2 + 2 * 11 + 2);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < params.size(); ++i) {
      CAPTURE(i);
      const auto f = [&] {
        Exact copy = model;
        copy.set_parameters(probe);
        return copy.loss_and_gradient(inputs, targets, negatives, nullptr, seed);
      };
      bad += gradient_mismatches(*params[i], *grads[i], f, "tensor");
    }
    CHECK(bad == 0);
    // The position rows of the padding (0 and 1) get no gradient; items never used get none.
    CHECK(grad.position.row(0).isZero());
    CHECK(grad.position.row(1).isZero());
    CHECK_FALSE(grad.position.row(2).isZero());
    CHECK(grad.item.row(6).norm() > 0.0);  // a target only
  }
}

TEST_CASE("SelfAttentionRecommender: causal — changing a later item leaves earlier positions' outputs unchanged") {
  SelfAttentionRecommender model(small_config());
  model.fit(chain_data(50, 8, 1));
  const std::vector<std::size_t> a = {3, 4, 5, 6, 7, 8};
  std::vector<std::size_t> b = a;
  b[4] = 20;
  const auto za = model.encode_positions(a);
  const auto zb = model.encode_positions(b);
  REQUIRE(za.rows() == 6);
  for (Eigen::Index t = 0; t < 4; ++t) CHECK(za.row(t) == zb.row(t));
  CHECK(za.row(4) != zb.row(4));
  CHECK(za.row(5) != zb.row(5));
}

TEST_CASE("SelfAttentionRecommender: learns a chain from order (HR@1 on the left-out items)") {
  const marl_rec::Interactions data = chain_data(200, 8, 2);
  const marl_rec::eval::Split split = marl_rec::eval::split_leave_last_out(data);
  SelfAttentionRecommender model(small_config());
  model.fit(split.train);
  const auto& losses = model.training_losses();
  REQUIRE(losses.size() == 30);
  CHECK(losses.back() < 0.5 * losses.front());
  std::size_t hits = 0;
  for (const marl_rec::Interaction& row : split.test.rows) hits += argmax(scores_of(model, row.user)) == row.item;
  const double hr1 = static_cast<double>(hits) / static_cast<double>(split.test.rows.size());
  MESSAGE("HR@1 = ", hr1);
  CHECK(hr1 >= 0.9);
  // score_sequence on a history never seen in training: the successor comes first.
  std::vector<float> s(30);
  model.score_sequence(std::vector<std::size_t>{27, 28, 29, 0, 1}, s);
  CHECK(argmax(s) == 2);
}

TEST_CASE("SelfAttentionRecommender: deterministic for a seed") {
  const marl_rec::Interactions data = chain_data(40, 6, 3);
  auto config = small_config();
  config.epochs = 3;
  SelfAttentionRecommender a(config), b(config);
  a.fit(data);
  b.fit(data);
  for (std::size_t u = 0; u < 40; ++u) CHECK(scores_of(a, u) == scores_of(b, u));
  CHECK(a.training_losses() == b.training_losses());
  config.seed = 8;
  SelfAttentionRecommender c(config);
  c.fit(data);
  CHECK(scores_of(a, 0) != scores_of(c, 0));
  // Refitting from scratch gives the same model.
  a.fit(data);
  CHECK(scores_of(a, 5) == scores_of(b, 5));
}

TEST_CASE("SelfAttentionRecommender: scoring paths agree, cold users and empty histories get the popularity") {
  marl_rec::Interactions data = chain_data(40, 6, 4);
  data.users.intern("no_rows");
  auto config = small_config();
  config.epochs = 2;
  SelfAttentionRecommender model(config);
  model.fit(data);
  std::vector<float> pop(30, 0.0f);
  for (const auto& row : data.rows) pop[row.item] += 1.0f;
  CHECK(scores_of(model, 40) == pop);    // in the id map, no rows
  CHECK(scores_of(model, 1000) == pop);  // never seen
  std::vector<float> s(30);
  model.score_sequence({}, s);
  CHECK(s == pop);

  // score_user == score_sequence(history) == score(context) for a known user.
  const std::vector<float> by_user = scores_of(model, 3);
  model.score_sequence(model.history(3), s);
  CHECK(s == by_user);
  model.score({.user = 3}, marl_rec::Candidates::all(30), s);
  CHECK(s == by_user);
  const std::vector<std::size_t> list = {29, 0, 7};
  std::vector<float> three(3);
  model.score({.user = 3}, marl_rec::Candidates(list), three);
  for (std::size_t k = 0; k < 3; ++k) CHECK(three[k] == by_user[list[k]]);
  // encode · E[i] ranks as the scores do.
  std::vector<float> z(16);
  model.encode(model.history(3), z);
  double dot = 0.0;
  for (std::size_t c = 0; c < 16; ++c) dot += z[c] * static_cast<double>(model.parameters().item(7, static_cast<Eigen::Index>(c)));
  CHECK(by_user[7] == doctest::Approx(dot).epsilon(1e-5));
  // A context history overrides the user's own; an anonymous empty context is popularity.
  const std::vector<std::size_t> other = {10, 11, 12};
  model.score({.history = other, .user = 3}, marl_rec::Candidates::all(30), s);
  std::vector<float> expected(30);
  model.score_sequence(other, expected);
  CHECK(s == expected);
  model.score({}, marl_rec::Candidates::all(30), s);
  CHECK(s == pop);
  // Only the last max_len items are read.
  std::vector<std::size_t> longer(25, 9);
  for (std::size_t i = 0; i < 10; ++i) longer.push_back(i);
  std::vector<float> a(30), b(30);
  model.score_sequence(longer, a);
  model.score_sequence(std::span<const std::size_t>(longer).last(10), b);
  CHECK(a == b);
}

TEST_CASE("SelfAttentionRecommender: update appends to a known user's history") {
  auto config = small_config();
  config.epochs = 2;
  SelfAttentionRecommender model(config);
  model.fit(chain_data(20, 12, 5));
  const std::vector<std::size_t> before(model.history(2).begin(), model.history(2).end());
  REQUIRE(before.size() == 10);  // max_len of 11 training items
  const std::vector<float> s0 = scores_of(model, 2);
  model.update({.user = 2}, 17, 0.0);  // not taken: nothing changes
  CHECK(scores_of(model, 2) == s0);
  model.update({.user = 2}, 17, 1.0);
  const auto after = model.history(2);
  REQUIRE(after.size() == 10);
  CHECK(after.back() == 17);
  CHECK(after.front() == before[1]);
  std::vector<float> expected(30);
  model.score_sequence(after, expected);
  CHECK(scores_of(model, 2) == expected);
  CHECK(marl_rec::test::error_of([&] { model.update({.user = 2}, 30, 1.0); }).find("item 30") != std::string::npos);
  CHECK(marl_rec::test::error_of([&] { model.update({.user = 2}, 1, std::nan("")); }).find("not finite") != std::string::npos);
}

TEST_CASE("SelfAttentionRecommender: save / load round trip, damaged streams are refused") {
  auto config = small_config();
  config.epochs = 2;
  config.dim = 4;
  config.max_len = 3;
  SelfAttentionRecommender model(config);
  model.fit(chain_data(6, 5, 6));
  const std::string bytes = marl_rec::test::saved(model);
  SelfAttentionRecommender loaded;
  CHECK(marl_rec::test::load_error(loaded, bytes) == "no error");
  CHECK(loaded.config().dim == 4);
  CHECK(loaded.config().max_len == 3);
  for (std::size_t u = 0; u < 7; ++u) CHECK(scores_of(loaded, u) == scores_of(model, u));
  CHECK(marl_rec::test::saved(loaded) == bytes);
  marl_rec::test::check_damage_rejected(loaded, bytes, "self_attention_recommender", 7);
  // A stream of another type is refused.
  Exact exact;
  CHECK(marl_rec::test::load_error(exact, bytes).find("loading a 'self_attention_recommender_f64' model") == 0);
}

TEST_CASE("SelfAttentionRecommender: bad configurations and data are refused") {
  using C = SelfAttentionRecommenderConfig;
  const auto refused = [](C c, const char* what) {
    CHECK(marl_rec::test::error_of([&] { SelfAttentionRecommender m(c); }).find(what) != std::string::npos);
  };
  refused(C{.dim = 0}, "dim");
  refused(C{.max_len = 0}, "max_len");
  refused(C{.blocks = 0}, "blocks");
  refused(C{.dropout = 1.0}, "dropout");
  refused(C{.dropout = -0.1}, "dropout");
  refused(C{.learning_rate = 0.0}, "learning_rate");
  refused(C{.learning_rate = std::nan("")}, "learning_rate");
  refused(C{.l2 = -1.0}, "l2");
  refused(C{.epochs = 0}, "epochs");
  refused(C{.epochs = 100'001}, "epochs");
  refused(C{.min_steps = 10'000'001}, "min_steps");
  refused(C{.negatives = 0}, "negatives");
  refused(C{.negatives = 10'001}, "negatives");
  refused(C{.negatives = std::size_t{1} << 63}, "negatives");  // would overflow inputs × negatives
  refused(C{.batch_size = 0}, "batch_size");
  refused(C{.batch_size = 1'000'001}, "batch_size");
  CHECK_NOTHROW(SelfAttentionRecommender(C{.dim = 4096, .max_len = 4096, .blocks = 8, .epochs = 100'000,
                                           .min_steps = 10'000'000, .negatives = 10'000, .batch_size = 1'000'000}));

  SelfAttentionRecommender model(small_config());
  marl_rec::Interactions empty;
  CHECK(marl_rec::test::error_of([&] { model.fit(empty); }).find("at least 2 items") != std::string::npos);
  marl_rec::Interactions single = chain_data(3, 1, 1);  // nobody has two items
  CHECK(marl_rec::test::error_of([&] { model.fit(single); }).find("no user has two items") != std::string::npos);
  marl_rec::Interactions outside = chain_data(3, 3, 1);
  outside.rows[1].item = 30;
  CHECK(marl_rec::test::error_of([&] { model.fit(outside); }).find("outside the id maps") != std::string::npos);
  marl_rec::Interactions bad_time = chain_data(3, 3, 1);
  bad_time.rows[2].timestamp = std::nan("");
  CHECK(marl_rec::test::error_of([&] { model.fit(bad_time); }).find("non-finite timestamp") != std::string::npos);
  CHECK(model.items() == 0);  // every failed fit left the model unfitted

  auto config = small_config();
  config.epochs = 1;
  SelfAttentionRecommender fitted(config);
  fitted.fit(chain_data(5, 4, 1));
  std::vector<float> s(30), wrong(29), z(16);
  const std::vector<std::size_t> unknown = {3, 30};
  CHECK(marl_rec::test::error_of([&] { fitted.score_sequence(unknown, s); }).find("history item 30") != std::string::npos);
  CHECK(marl_rec::test::error_of([&] { fitted.encode(unknown, z); }).find("history item 30") != std::string::npos);
  CHECK(marl_rec::test::error_of([&] { fitted.encode({}, z); }).find("empty") != std::string::npos);
  CHECK(marl_rec::test::error_of([&] { fitted.encode(std::vector<std::size_t>{1}, wrong); }).find("dim") != std::string::npos);
  CHECK(marl_rec::test::error_of([&] { fitted.score_user(0, wrong); }).find("29 entries") != std::string::npos);
  CHECK(marl_rec::test::error_of([&] { fitted.score({.history = unknown}, marl_rec::Candidates::all(30), s); }).find("history item 30") != std::string::npos);
  const std::vector<std::size_t> bad_candidates = {1, 30};
  std::vector<float> two(2);
  CHECK(marl_rec::test::error_of([&] { fitted.score({}, marl_rec::Candidates(bad_candidates), two); }).find("candidate") != std::string::npos);
  CHECK(marl_rec::test::error_of([&] { fitted.score({}, marl_rec::Candidates::all(30), two); }).find("scores has 2") != std::string::npos);
}

TEST_CASE("SelfAttentionRecommender: initial item vectors (e.g. from an Embedder) for items training never saw") {
  marl_rec::Interactions data = chain_data(30, 5, 8);
  data.items.intern("new_item");  // index 30: no interactions
  auto config = small_config();
  config.epochs = 2;
  SelfAttentionRecommender model(config);
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < 31; ++i) texts.push_back("item number " + std::to_string(i));
  std::vector<std::string_view> views(texts.begin(), texts.end());
  const marl_rec::HashingEmbedder embedder({.dim = 16});
  model.set_initial_item_vectors(embedder, views);
  std::vector<float> expected(16);
  embedder.embed(views[30], expected);
  model.initialize(31);  // what fit starts from
  for (std::size_t c = 0; c < 16; ++c) CHECK(model.parameters().item(30, static_cast<Eigen::Index>(c)) == expected[c]);
  model.fit(data);
  // The item without rows is trained as a negative only: it stays near its text vector.
  double dot = 0.0, norm = 0.0;
  for (std::size_t c = 0; c < 16; ++c) {
    const double x = model.parameters().item(30, static_cast<Eigen::Index>(c));
    dot += x * expected[c];
    norm += x * x;
  }
  MESSAGE("cosine of the new item's vector after fit and its text vector: ", dot / std::sqrt(norm));
  CHECK(dot / std::sqrt(norm) > 0.9);
  // Rows must match the data's items; the dim must match.
  std::vector<float> storage(5 * 16, 0.1f);
  model.set_initial_item_vectors(marl_rec::MatrixView(std::span<const float>(storage), 5, 16));
  CHECK(marl_rec::test::error_of([&] { model.fit(data); }).find("initial item vectors are 5 rows x 16") != std::string::npos);
  CHECK(marl_rec::test::error_of([&] {
          model.set_initial_item_vectors(marl_rec::MatrixView(std::span<const float>(storage), 10, 8));
        }).find("8 columns") != std::string::npos);
  const marl_rec::HashingEmbedder wide({.dim = 32});
  CHECK(marl_rec::test::error_of([&] { model.set_initial_item_vectors(wide, views); }).find("dim 32") != std::string::npos);
}

TEST_CASE("attention layers: inverted dropout keeps a fraction 1 − rate, scaled by 1 / (1 − rate)") {
  marl_rec::Rng rng(12);
  M mask;
  la::dropout_mask(rng, 0.3, 200, 50, mask);
  const double zeros = static_cast<double>((mask.array() == 0.0).count()) / 10'000.0;
  CHECK(zeros == doctest::Approx(0.3).epsilon(0.05));
  CHECK(mask.mean() == doctest::Approx(1.0).epsilon(0.03));  // the expected activation is kept
  CHECK(((mask.array() == 0.0) || (mask.array() == 1.0 / 0.7)).all());
}

TEST_CASE("SelfAttentionRecommender: fit's first Adam step is the bias-corrected update, with the L2 term on the weights only") {
  // Two items, so the negative of every position is the other item (no sampling), no dropout,
  // one window, one batch, one step: fit's update is computable from loss_and_gradient.
  marl_rec::Interactions data;
  data.items.intern("a");
  data.items.intern("b");
  const std::size_t user = data.users.intern("u");
  const std::vector<std::size_t> sequence = {0, 1, 1, 0, 1};
  for (std::size_t t = 0; t < sequence.size(); ++t) {
    data.rows.push_back({.user = user, .item = sequence[t], .timestamp = static_cast<double>(t), .source_row = t});
  }
  data.has_timestamp = true;
  const SelfAttentionRecommenderConfig config{.dim = 4, .max_len = 6, .blocks = 1, .dropout = 0.0,
                                               .learning_rate = 0.01, .l2 = 0.5, .epochs = 1,
                                               .min_steps = 0, .negatives = 2, .seed = 5};
  Exact start(config);
  start.initialize(2);  // fit starts from the same parameters
  const std::vector<std::size_t> inputs = {0, 1, 1, 0}, targets = {1, 1, 0, 1};
  const std::vector<std::size_t> negatives = {0, 0, 0, 0, 1, 1, 0, 0};  // the other item, twice
  Exact::Parameters grad;
  start.loss_and_gradient(inputs, targets, negatives, &grad);
  Exact fitted(config);
  fitted.fit(data);
  REQUIRE(fitted.training_losses().size() == 1);
  Exact::Parameters before = start.parameters(), after = fitted.parameters();
  const auto p0 = before.tensors(), p1 = after.tensors(), g = grad.tensors();
  std::size_t bad = 0, weights_moved_by_l2 = 0;
  for (std::size_t i = 0; i < p0.size(); ++i) {
    for (Eigen::Index k = 0; k < p0[i]->size(); ++k) {
      const double w = p0[i]->data()[k];
      const double gk = g[i]->data()[k] + (Exact::Parameters::is_weight(i) ? 0.5 * w : 0.0);
      // Step 1: m̂ = g, v̂ = g² after bias correction, so the step is lr · g / (|g| + ε).
      const double expected = w - 0.01 * gk / (std::abs(gk) + 1e-8);
      if (std::abs(p1[i]->data()[k] - expected) > 1e-9) {
        if (bad++ == 0) MESSAGE("tensor ", i, " entry ", k, ": ", p1[i]->data()[k], " expected ", expected);
      }
      weights_moved_by_l2 += g[i]->data()[k] == 0.0 && w != 0.0 && p1[i]->data()[k] != w;
    }
  }
  CHECK(bad == 0);
  CHECK(weights_moved_by_l2 > 0);  // position rows of the padding: only the L2 term moves them
}

TEST_CASE("SelfAttentionRecommender: load refuses forged streams with a valid checksum") {
  namespace t = marl_rec::test;
  auto config = small_config();
  config.epochs = 1;
  config.dim = 4;
  config.max_len = 3;
  SelfAttentionRecommender model(config);
  model.fit(chain_data(6, 5, 6));
  const std::string bytes = t::saved(model);
  SelfAttentionRecommender target(small_config());
  target.fit(chain_data(4, 3, 1));
  const std::string before = t::saved(target);
  const auto refused = [&](const std::string& forged, const char* what) {
    std::string message;
    try {
      message = t::load_error(target, forged);
    } catch (const std::exception& e) {  // e.g. std::bad_alloc: not an Error
      message = std::string("not an Error: ") + e.what();
    }
    CHECK_MESSAGE(message.find(what) != std::string::npos, message);
    CHECK(message.rfind("loading a 'self_attention_recommender' model: ", 0) == 0);
  };
  // Sizes the data does not back: refused before anything of that size is allocated.
  refused(t::with_field(bytes, "items", t::u64_payload(std::uint64_t{1} << 32)), "tensor");
  refused(t::with_field(t::with_field(bytes, "items", t::u64_payload(std::uint64_t{1} << 32)), "dim",
                        t::u64_payload(4096)),
          "tensor");
  refused(t::with_field(bytes, "items", t::u64_payload((std::uint64_t{1} << 32) + 1)), "items");
  // Settings out of range.
  refused(t::with_field(bytes, "negatives", t::u64_payload(std::uint64_t{1} << 63)), "negatives");
  refused(t::with_field(bytes, "epochs", t::u64_payload(100'001)), "epochs");
  refused(t::with_field(bytes, "batch_size", t::u64_payload(1'000'001)), "batch_size");
  refused(t::with_field(bytes, "min_steps", t::u64_payload(10'000'001)), "min_steps");
  // Semantics: a history item outside the items, a history longer than max_len, lengths that do
  // not sum to the items stored, a popularity that is not a count, a non-finite parameter.
  std::vector<std::uint64_t> flat(t::field_payload(bytes, "history_items").size() / 8);
  std::vector<std::uint64_t> lengths(t::field_payload(bytes, "history_lengths").size() / 8);
  REQUIRE(lengths.size() == 6);
  REQUIRE(flat.size() == 18);  // 6 users × max_len 3
  for (std::size_t i = 0; i < flat.size(); ++i) flat[i] = i % 30;
  std::vector<std::uint64_t> bad_flat = flat;
  bad_flat[4] = 30;
  refused(t::with_field(bytes, "history_items", t::u64s_payload(bad_flat)), "history item 30 is not below 30");
  refused(t::with_field(bytes, "history_lengths", t::u64s_payload({4, 2, 3, 3, 3, 3})), "more than max_len");
  refused(t::with_field(bytes, "history_lengths", t::u64s_payload({3, 3, 3, 3, 3, 2})), "sum to 17");
  std::vector<float> popularity(30, 2.0f);
  popularity[7] = 0.5f;
  refused(t::with_field(bytes, "popularity", t::floats_payload(popularity)), "popularity of item 7");
  popularity[7] = -1.0f;
  refused(t::with_field(bytes, "popularity", t::floats_payload(popularity)), "popularity of item 7");
  std::vector<float> position(3 * 4, 0.1f);
  position[5] = std::numeric_limits<float>::infinity();
  refused(t::with_field(bytes, "tensor", t::floats_payload(position), 1), "not finite");
  CHECK(t::saved(target) == before);
  // The unforged fields with the valid rewrite load (the checks above are what refused).
  CHECK(t::load_error(target, t::with_field(bytes, "history_items", t::u64s_payload(flat))) == "no error");
}

TEST_CASE("SelfAttentionRecommender: load clears initial item vectors, so a fit after loading another dim works") {
  auto big_config = small_config();
  big_config.epochs = 1;
  big_config.dim = 8;
  SelfAttentionRecommender big(big_config);
  big.fit(chain_data(5, 4, 1));
  auto config = small_config();
  config.epochs = 1;
  config.dim = 4;
  SelfAttentionRecommender model(config);
  std::vector<float> storage(30 * 4, 0.1f);
  model.set_initial_item_vectors(marl_rec::MatrixView(std::span<const float>(storage), 30, 4));
  CHECK(marl_rec::test::load_error(model, marl_rec::test::saved(big)) == "no error");
  REQUIRE(model.config().dim == 8);
  model.fit(chain_data(5, 4, 1));
  CHECK(model.parameters().item.cols() == 8);
  // Same as a model of the loaded config that never had initial vectors.
  SelfAttentionRecommender fresh(big_config);
  fresh.fit(chain_data(5, 4, 1));
  CHECK(model.parameters().item == fresh.parameters().item);
}

TEST_CASE("SelfAttentionRecommender: update from a context without a known user changes nothing") {
  auto config = small_config();
  config.epochs = 1;
  SelfAttentionRecommender model(config);
  model.fit(chain_data(5, 4, 1));
  const std::string before = marl_rec::test::saved(model);
  model.update({}, 3, 1.0);  // no_user
  model.update({.user = 5}, 3, 1.0);  // a user fit never saw
  CHECK(marl_rec::test::saved(model) == before);
  std::vector<float> s(30);
  model.score_user(1000, s);
  model.update({.user = 1}, 3, 1.0);  // a known user: counted
  std::vector<float> after(30);
  model.score_user(1000, after);
  CHECK(after[3] == s[3] + 1.0f);
}

TEST_CASE("SelfAttentionRecommender: encode_positions — what depends on what under left padding") {
  // Row t is a function of items 0..t and of the window length m (item t sits at position
  // max_len − m + t). Double arithmetic, compared to 1e-12.
  Exact model({.dim = 6, .max_len = 8, .blocks = 2, .dropout = 0.0, .seed = 4});
  model.initialize(20);
  const auto close = [](const auto& a, const auto& b) { return (a - b).cwiseAbs().maxCoeff() < 1e-12; };
  const std::vector<std::size_t> full = {3, 7, 11, 2, 9};
  const auto z = model.encode_positions(full);
  // Substituting a later item (same length): earlier rows unchanged, later ones change.
  std::vector<std::size_t> substituted = full;
  substituted[3] = 15;
  const auto zs = model.encode_positions(substituted);
  CHECK(close(zs.topRows(3), z.topRows(3)));
  CHECK_FALSE(close(zs.row(3), z.row(3)));
  // Removing the last item (a prefix), or inserting one in the middle: the length changes, every
  // position moves, and even row 0 changes.
  const std::vector<std::size_t> prefix = {3, 7, 11};
  const std::vector<std::size_t> inserted = {3, 7, 5, 11, 2, 9};
  const auto zp = model.encode_positions(prefix);
  const auto zi = model.encode_positions(inserted);
  CHECK_FALSE(close(zp.row(0), z.row(0)));
  CHECK_FALSE(close(zi.row(0), z.row(0)));
  // With every position embedding equal, the length no longer matters: a prefix gives the
  // window's first rows, and an insertion leaves the rows before it unchanged.
  Exact::Parameters p = model.parameters();
  for (Eigen::Index r = 1; r < p.position.rows(); ++r) p.position.row(r) = p.position.row(0);
  model.set_parameters(p);
  const auto y = model.encode_positions(full);
  CHECK(close(model.encode_positions(prefix), y.topRows(3)));
  CHECK(close(model.encode_positions(inserted).topRows(2), y.topRows(2)));
}

TEST_CASE("SelfAttentionRecommender: min_steps adds passes on small data, and ratings are ignored") {
  const marl_rec::Interactions data = chain_data(40, 6, 3);  // 40 windows: 2 batches of 32
  auto config = small_config();
  config.epochs = 3;
  config.min_steps = 15;  // 15 steps at 2 per pass: 8 passes
  SelfAttentionRecommender model(config);
  model.fit(data);
  CHECK(model.training_losses().size() == 8);
  config.min_steps = 4;  // below what 3 passes give: 3 passes
  SelfAttentionRecommender few(config);
  few.fit(data);
  CHECK(few.training_losses().size() == 3);
  // Every row is a consumed item whatever its rating (even NaN): the same model.
  marl_rec::Interactions rated = data;
  rated.has_rating = true;
  for (std::size_t r = 0; r < rated.rows.size(); ++r) rated.rows[r].rating = r % 3 == 0 ? std::nanf("") : 1.0f + static_cast<float>(r % 5);
  SelfAttentionRecommender with_ratings(config);
  with_ratings.fit(rated);
  CHECK(with_ratings.parameters().item == few.parameters().item);
}
