#include "marl_rec/embed/sequence_encoder.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "marl_rec/core/rng.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::SequenceEncoder;
using marl_rec::SequenceEncoderConfig;
using Mode = SequenceEncoderConfig::Mode;
using Query = SequenceEncoderConfig::Query;
using Sequences = std::vector<std::vector<std::size_t>>;

// Four 2-d item vectors: x0 = (1, 0), x1 = (0, 1), x2 = (3, 4), x3 = (0, 0).
const std::vector<float> kItems = {1, 0, 0, 1, 3, 4, 0, 0};
const marl_rec::MatrixView kView(kItems, 4, 2);

std::vector<float> encode(const SequenceEncoder& e, std::vector<std::size_t> history) {
  std::vector<float> out(2);
  CHECK(e.encode(kView, history, out));
  return out;
}

// n random unit vectors of dimension d.
marl_rec::AlignedVector<float> unit_vectors(std::size_t n, std::size_t d, std::uint64_t seed) {
  marl_rec::Rng rng(seed);
  marl_rec::AlignedVector<float> v(n * d);
  for (float& x : v) x = static_cast<float>(rng.normal());
  marl_rec::simd::normalize_rows(marl_rec::MutableMatrixView(v, n, d));
  return v;
}

// Largest |analytic − numeric| / max(|analytic| + |numeric|, 1e-6) over every entry of a
// parameter block, the numeric derivative by central differences with step 1e-6 (in double:
// truncation error ~1e-12, rounding ~1e-10, far below the 1e-4 tolerance).
template <class Encoder, class Get>
double worst_relative_error(Encoder& enc, Get get, const typename Encoder::Parameters& analytic_all,
                            marl_rec::MatrixView items, const std::vector<std::size_t>& history,
                            std::size_t target, const std::vector<std::size_t>& negatives) {
  const auto base = enc.parameters();
  const auto& analytic = get(analytic_all);
  double worst = 0.0;
  const double h = 1e-6;
  for (Eigen::Index i = 0; i < analytic.size(); ++i) {
    auto plus = base, minus = base;
    get(plus).data()[i] += h;
    get(minus).data()[i] -= h;
    enc.set_parameters(plus);
    const double lp = enc.loss_and_gradient(items, history, target, negatives, nullptr);
    enc.set_parameters(minus);
    const double lm = enc.loss_and_gradient(items, history, target, negatives, nullptr);
    const double numeric = (lp - lm) / (2 * h);
    const double a = analytic.data()[i];
    worst =
        std::max(worst, std::fabs(a - numeric) / std::max(std::fabs(a) + std::fabs(numeric), 1e-6));
  }
  enc.set_parameters(base);
  return worst;
}

}  // namespace

TEST_CASE("SequenceEncoder mean: the normalised mean of the history's vectors") {
  const SequenceEncoder e({.mode = Mode::mean});
  const auto out = encode(e, {0, 1});  // (0.5, 0.5) normalised
  CHECK(out[0] == doctest::Approx(std::sqrt(0.5)));
  CHECK(out[1] == doctest::Approx(std::sqrt(0.5)));
  const auto one = encode(e, {2});  // (3, 4) / 5
  CHECK(one[0] == doctest::Approx(0.6));
  CHECK(one[1] == doctest::Approx(0.8));
  const auto with_zero = encode(e, {0, 3});  // a zero vector adds nothing
  CHECK(with_zero[0] == doctest::Approx(1.0));
  CHECK(with_zero[1] == doctest::Approx(0.0));
}

TEST_CASE("SequenceEncoder recency: weights halve every half_life items back") {
  const SequenceEncoder e({.mode = Mode::recency, .half_life = 1.0});
  CHECK(e.recency_weight(0) == 1.0f);
  CHECK(e.recency_weight(1) == 0.5f);
  CHECK(e.recency_weight(3) == 0.125f);
  // History x0, x1 (most recent last): 0.5 · (1, 0) + 1 · (0, 1) = (0.5, 1), normalised.
  const auto out = encode(e, {0, 1});
  CHECK(out[0] == doctest::Approx(0.5 / std::sqrt(1.25)));
  CHECK(out[1] == doctest::Approx(1.0 / std::sqrt(1.25)));
  // x1, x0, x0: 0.25 · (0, 1) + 0.5 · (1, 0) + 1 · (1, 0) = (1.5, 0.25).
  const auto three = encode(e, {1, 0, 0});
  CHECK(three[0] == doctest::Approx(1.5 / std::sqrt(1.5 * 1.5 + 0.0625)));
  const SequenceEncoder slow({.mode = Mode::recency, .half_life = 2.0});
  CHECK(slow.recency_weight(2) == 0.5f);
}

TEST_CASE("SequenceEncoder uses only the last max_history items") {
  const SequenceEncoder e({.mode = Mode::mean, .max_history = 2});
  const auto out = encode(e, {2, 2, 2, 0, 1});  // only x0, x1 count
  CHECK(out[0] == doctest::Approx(std::sqrt(0.5)));
  CHECK(out[1] == doctest::Approx(std::sqrt(0.5)));
}

TEST_CASE("SequenceEncoder attention without parameters: softmax(q·k / √d) over the history") {
  const SequenceEncoder e({.mode = Mode::attention});
  CHECK_FALSE(e.trainable());
  // History x0, x2; query = the last item x2 = (3, 4): scores (3, 25) / √2.
  const double s0 = 3.0 / std::sqrt(2.0), s1 = 25.0 / std::sqrt(2.0);
  const double a0 = 1.0 / (1.0 + std::exp(s1 - s0)), a1 = 1.0 - a0;
  const double zx = a0 * 1.0 + a1 * 3.0, zy = a1 * 4.0;
  const auto out = encode(e, {0, 2});
  CHECK(out[0] == doctest::Approx(zx / std::hypot(zx, zy)));
  CHECK(out[1] == doctest::Approx(zy / std::hypot(zx, zy)));
  // x1 then x0: query x0 = (1, 0), scores (0, 1) / √2.
  const double b0 = 1.0 / (1.0 + std::exp(1.0 / std::sqrt(2.0)));
  const auto two = encode(e, {1, 0});
  CHECK(two[0] == doctest::Approx((1 - b0) / std::hypot(1 - b0, b0)));
  CHECK(two[1] == doctest::Approx(b0 / std::hypot(1 - b0, b0)));
}

TEST_CASE("SequenceEncoder: a zero combination gives false and zeros") {
  const SequenceEncoder e({.mode = Mode::recency});
  std::vector<float> out(2, 7.0f);
  const std::vector<std::size_t> history = {3, 3};
  CHECK_FALSE(e.encode(kView, history, out));
  CHECK(out == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("SequenceEncoder attention: the hand-written gradient matches finite differences") {
  const std::size_t d = 5;
  const auto storage = unit_vectors(12, d, 11);
  const marl_rec::MatrixView items(storage, 12, d);
  const std::vector<std::size_t> history = {3, 7, 1, 9};
  const std::vector<std::size_t> negatives = {0, 2, 5, 11, 2};
  using Encoder = marl_rec::BasicSequenceEncoder<double>;
  for (const bool projections : {true, false}) {
    for (const Query query : {Query::learned, Query::last_item}) {
      if (!projections && query == Query::last_item) continue;  // nothing to learn
      CAPTURE(projections);
      CAPTURE(static_cast<int>(query));
      // Large random parameters so that the attention is far from uniform.
      Encoder enc({.mode = Mode::attention,
                   .query = query,
                   .projections = projections,
                   .init_scale = 2.0,
                   .seed = 5});
      enc.initialize(d);
      Encoder::Parameters g;
      const double loss = enc.loss_and_gradient(items, history, 6, negatives, &g);
      CHECK(loss > 0.0);
      if (projections) {
        CHECK(worst_relative_error(
                  enc, [](auto& p) -> auto& { return p.w_q; }, g, items, history, 6, negatives) <
              1e-4);
        CHECK(worst_relative_error(
                  enc, [](auto& p) -> auto& { return p.w_k; }, g, items, history, 6, negatives) <
              1e-4);
        CHECK(worst_relative_error(
                  enc, [](auto& p) -> auto& { return p.w_v; }, g, items, history, 6, negatives) <
              1e-4);
      } else {
        CHECK(g.w_q.size() == 0);
      }
      if (query == Query::learned) {
        CHECK(worst_relative_error(
                  enc, [](auto& p) -> auto& { return p.query; }, g, items, history, 6, negatives) <
              1e-4);
      } else {
        CHECK(g.query.size() == 0);
      }
    }
  }
}

TEST_CASE("SequenceEncoder attention: the float gradient agrees with the double one") {
  const std::size_t d = 6;
  const auto storage = unit_vectors(10, d, 12);
  const marl_rec::MatrixView items(storage, 10, d);
  const std::vector<std::size_t> history = {4, 2, 8};
  const std::vector<std::size_t> negatives = {0, 1, 9};
  const SequenceEncoderConfig config{
      .mode = Mode::attention, .query = Query::learned, .projections = true, .init_scale = 1.0};
  marl_rec::BasicSequenceEncoder<double> exact(config);
  SequenceEncoder approx(config);
  exact.initialize(d);
  approx.initialize(d);
  marl_rec::BasicSequenceEncoder<double>::Parameters ge;
  SequenceEncoder::Parameters gf;
  CHECK(approx.loss_and_gradient(items, history, 5, negatives, &gf) ==
        doctest::Approx(exact.loss_and_gradient(items, history, 5, negatives, &ge)).epsilon(1e-5));
  const double scale = ge.w_k.cwiseAbs().maxCoeff();
  CHECK((gf.w_k.cast<double>() - ge.w_k).cwiseAbs().maxCoeff() < 1e-4 * scale);
  CHECK((gf.query.cast<double>() - ge.query).cwiseAbs().maxCoeff() <
        1e-4 * ge.query.cwiseAbs().maxCoeff());
}

TEST_CASE("SequenceEncoder attention training lowers the next-item loss") {
  // 24 random unit items in 8 dimensions; each sequence follows a fixed successor map
  // next(i) = (5 i + 3) mod 24 from a random start. A projected last-item query and W_v can learn
  // it; the near-identity start cannot (it predicts the last item itself).
  const std::size_t n = 24, d = 8;
  const auto storage = unit_vectors(n, d, 13);
  const marl_rec::MatrixView items(storage, n, d);
  marl_rec::Rng rng(14);
  const auto make = [&](std::size_t count) {
    Sequences out(count);
    for (auto& s : out) {
      std::size_t item = rng.below(n);
      for (std::size_t t = 0; t < 6; ++t) {
        s.push_back(item);
        item = (5 * item + 3) % n;
      }
    }
    return out;
  };
  const Sequences train = make(200), held_out = make(50);
  SequenceEncoder enc({.mode = Mode::attention,
                       .projections = true,
                       .learning_rate = 0.01,
                       .epochs = 10,
                       .negatives = 10,
                       .seed = 15});
  CHECK(enc.trainable());
  enc.initialize(d);
  const double before = enc.mean_loss(items, held_out, 99);
  const std::vector<double> losses = enc.train(items, train);
  const double after = enc.mean_loss(items, held_out, 99);
  MESSAGE("held-out loss before ", before, ", after ", after, "; training ", losses.front(), " -> ",
          losses.back());
  CHECK(losses.size() == 10);
  CHECK(losses.back() < 0.5 * losses.front());
  CHECK(after < 0.5 * before);
  // Trained again from the same seed: the same parameters, bit for bit.
  SequenceEncoder again({.mode = Mode::attention,
                         .projections = true,
                         .learning_rate = 0.01,
                         .epochs = 10,
                         .negatives = 10,
                         .seed = 15});
  CHECK(again.train(items, train) == losses);
  CHECK(again.parameters().w_v == enc.parameters().w_v);
  // The trained encoding ranks the true next item first for most held-out histories (chance:
  // 1 in 24).
  std::size_t first = 0, total = 0;
  std::vector<float> z(d), scores(n);
  for (const auto& s : held_out) {
    for (std::size_t t = 1; t < s.size(); ++t) {
      enc.encode(items, std::span(s).first(t), z);
      marl_rec::simd::score(z, items, scores);
      first += static_cast<std::size_t>(std::max_element(scores.begin(), scores.end()) -
                                        scores.begin()) == s[t];
      ++total;
    }
  }
  CHECK(static_cast<double>(first) / static_cast<double>(total) > 0.5);
}

TEST_CASE("SequenceEncoder errors") {
  using marl_rec::test::error_of;
  CHECK(error_of([] { SequenceEncoder({.max_history = 0}); }) ==
        "SequenceEncoder: config.max_history must be at least 1");
  CHECK(error_of([] { SequenceEncoder({.half_life = 0.0}); }) ==
        "SequenceEncoder: config.half_life must be finite and positive");
  CHECK(error_of([] { SequenceEncoder({.learning_rate = -1.0}); }) ==
        "SequenceEncoder: config.learning_rate must be finite and positive");
  CHECK(error_of([] { SequenceEncoder({.epochs = 0}); }) ==
        "SequenceEncoder: config.epochs must be at least 1");
  CHECK(error_of([] { SequenceEncoder({.negatives = 0}); }) ==
        "SequenceEncoder: config.negatives must be at least 1");
  CHECK(error_of([] { SequenceEncoder({.init_scale = -1.0}); }) ==
        "SequenceEncoder: config.init_scale must be finite and non-negative");

  const SequenceEncoder mean({.mode = Mode::mean});
  std::vector<float> out(2);
  const std::vector<std::size_t> empty, bad = {0, 4}, ok = {0};
  CHECK(error_of([&] { mean.encode(kView, empty, out); }) ==
        "SequenceEncoder::encode: the history is empty");
  CHECK(error_of([&] { mean.encode(kView, bad, out); }) ==
        "SequenceEncoder::encode: history item 4 is not a row of the 4 item vectors");
  std::vector<float> wrong(3);
  CHECK(error_of([&] { mean.encode(kView, ok, wrong); }) ==
        "SequenceEncoder::encode: out has 3 floats, the item vectors have 2");
  const Sequences seqs = {{0, 1, 2}};
  SequenceEncoder copy = mean;
  CHECK(error_of([&] { copy.train(kView, seqs); }) ==
        "SequenceEncoder::train: the configuration has no parameters (only attention with a "
        "learned query or projections has)");
  CHECK(error_of([&] { copy.initialize(2); }).find("the configuration has no parameters") !=
        std::string::npos);

  SequenceEncoder att({.mode = Mode::attention, .projections = true});
  CHECK(error_of([&] { att.encode(kView, ok, out); }) ==
        "SequenceEncoder::encode: the learned parameters are for dimension 0, the item vectors "
        "have 2 (call train(), initialize() or set_parameters() first)");
  CHECK(error_of([&] { att.set_parameters({}); }) ==
        "SequenceEncoder::set_parameters: the shapes do not fit the configuration");
  const Sequences singles = {{0}, {1}};
  CHECK(error_of([&] { att.train(kView, singles); }) ==
        "SequenceEncoder::train: no sequence has two items");
  const Sequences out_of_range = {{0, 9}};
  CHECK(error_of([&] { att.train(kView, out_of_range); }) ==
        "SequenceEncoder::train: sequence 0 has item 9, not a row of the 4 item vectors");
  att.initialize(2);
  CHECK(att.encode(kView, ok, out));
  const std::vector<std::size_t> negatives = {7};
  CHECK(error_of([&] { (void)att.loss_and_gradient(kView, ok, 1, negatives, nullptr); }) ==
        "SequenceEncoder::loss_and_gradient: negative 7 is not an item row");
  CHECK(error_of([&] { (void)att.loss_and_gradient(kView, ok, 4, {}, nullptr); }) ==
        "SequenceEncoder::loss_and_gradient: target 4 is not an item row");
}
