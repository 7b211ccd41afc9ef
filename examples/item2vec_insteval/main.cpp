// marl_rec_item2vec_insteval — measures Item2Vec on real behaviour: InstEval's 73,421 ratings of
// 1,128 lecturers by 2,972 students (docs/embedders.md, "Item2Vec on InstEval").
//
// (a) Neighbour agreement. Item2Vec is trained on every student's lecturers; for each lecturer,
//     is its nearest other lecturer (cosine) in the same department? The department is an item
//     attribute the model never sees, so agreement above the chance rate
//     Σ_d (n_d/N)·((n_d − 1)/(N − 1)) means the vectors learned something real. Random unit
//     vectors give the agreement of vectors that learned nothing.
// (b) Recommendation. Item2VecRecommender against MostPop on the per-user random 80/20 split of
//     the evaluation command (seed 42), NDCG@10 and Recall@20 over every item, training items
//     excluded. Hyper-parameters are chosen on a validation carve-out of the training part
//     (another per-user random 80/20 split of it, seed 7) by a coordinate search; the test part
//     is used once, for the chosen configuration and the defaults. An item-based kNN on raw
//     co-occurrence is measured beside them as a yardstick of what the data allows.
// (b) runs first (printed first) because (a) also reports the configuration (b) chose.
//
// Usage: marl_rec_item2vec_insteval [--data PATH/ratings.csv] [--quick]
// Figures go to standard output. The full search takes about 15–20 minutes on one core of the
// project's machine (most of it in 40-epoch whole-sequence fits); --quick searches only the
// scoring and the context (window or whole sequence) at 5 epochs, in well under a minute, as a
// smoke test.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/embed/item2vec.hpp"
#include "marl_rec/embed/sequence_encoder.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/split.hpp"
#include "marl_rec/io/csv.hpp"
#include "marl_rec/io/interactions_csv.hpp"
#include "marl_rec/io/read_report.hpp"
#include "marl_rec/models/item2vec_recommender.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"

namespace mr = marl_rec;
using Mode = mr::SequenceEncoderConfig::Mode;
using Scoring = mr::Item2VecRecommender::Scoring;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Department per item index of `data`, from the file's `dept` column (one pass with CsvReader).
// Throws Error when an item of the file has two departments.
std::vector<std::string> read_departments(const std::string& path, const mr::Interactions& data) {
  std::ifstream in(path);
  if (!in) throw mr::Error("cannot read '" + path + "'");
  mr::io::CsvReader reader(in, path);
  std::vector<std::string> fields;
  if (!reader.next(fields)) throw mr::Error(path + ": empty file");
  std::optional<std::size_t> item_column, dept_column;
  for (std::size_t c = 0; c < fields.size(); ++c) {
    if (fields[c] == "item_id") item_column = c;
    if (fields[c] == "dept") dept_column = c;
  }
  if (!item_column || !dept_column) throw mr::Error(path + ": no item_id and dept columns");
  std::vector<std::string> dept(data.items.size());
  while (reader.next(fields)) {
    const std::size_t item = data.items.at(fields.at(*item_column), "item");
    const std::string& d = fields.at(*dept_column);
    if (!dept[item].empty() && dept[item] != d) {
      throw mr::Error(path + ":" + std::to_string(reader.line()) + ": item '" + data.items.id(item) +
                      "' is in two departments");
    }
    dept[item] = d;
  }
  return dept;
}

struct Agreement {
  double agreement = 0.0;
  double chance = 0.0;
  std::size_t items = 0;
};

// The share of items (with a vector) whose nearest other item by cosine has their department,
// and the chance rate of that for a random other item.
Agreement neighbour_agreement(mr::MatrixView unit, std::span<const unsigned char> has_vector,
                              const std::vector<std::string>& dept) {
  Agreement a;
  std::map<std::string, std::size_t> per_dept;
  std::size_t same = 0;
  std::vector<mr::ScoredItem> best(1);
  for (std::size_t i = 0; i < unit.rows(); ++i) {
    if (has_vector[i] == 0) continue;
    ++a.items;
    ++per_dept[dept[i]];
    const auto exclude = [&](std::size_t j) { return j == i || has_vector[j] == 0; };
    if (mr::simd::score_top_k(unit.row(i), unit, 1, best, exclude) == 1) {
      same += dept[best[0].index] == dept[i] ? 1 : 0;
    }
  }
  const auto n = static_cast<double>(a.items);
  for (const auto& [d, count] : per_dept) {
    const auto c = static_cast<double>(count);
    a.chance += (c / n) * ((c - 1.0) / (n - 1.0));
  }
  a.agreement = static_cast<double>(same) / n;
  return a;
}

// A yardstick that is not part of the library: item-based kNN on raw co-occurrence, score(i) =
// Σ_{j in the user's training items} co(i, j) / √(n_i n_j), co = users who have both, n = users
// per item. A dense n_items² table: fine for InstEval's 1,128 items.
class ItemKnn {
 public:
  std::string_view name() const noexcept { return "item-knn"; }
  void fit(const mr::Interactions& train) {
    n_ = train.items.size();
    history_ = mr::user_item_sequences(train);
    std::vector<double> users_of(n_, 0.0);
    similarity_.assign(n_ * n_, 0.0f);
    for (const auto& items : history_) {
      for (const std::size_t i : items) {
        users_of[i] += 1.0;
        for (const std::size_t j : items) {
          if (i != j) similarity_[i * n_ + j] += 1.0f;
        }
      }
    }
    for (std::size_t i = 0; i < n_; ++i) {
      for (std::size_t j = 0; j < n_; ++j) {
        float& s = similarity_[i * n_ + j];
        if (s > 0.0f) s = static_cast<float>(s / std::sqrt(users_of[i] * users_of[j]));
      }
    }
  }
  void score_user(std::size_t user, std::span<float> scores) const {
    std::fill(scores.begin(), scores.end(), 0.0f);
    if (user >= history_.size()) return;
    for (const std::size_t j : history_[user]) {
      mr::simd::axpy(1.0f, std::span<const float>(similarity_).subspan(j * n_, n_), scores);
    }
  }

 private:
  std::size_t n_ = 0;
  std::vector<std::vector<std::size_t>> history_;
  std::vector<float> similarity_;
};

struct Scores {
  double ndcg10 = 0.0;
  double recall20 = 0.0;
  double fit_seconds = 0.0;
};

// Fits `model` on `train` and scores its top 20 (training items excluded, every item ranked) for
// every user with a row in `test`.
template <class Model>
Scores evaluate(Model& model, const mr::Interactions& train, const mr::Interactions& test) {
  const auto start = std::chrono::steady_clock::now();
  model.fit(train);
  Scores s;
  s.fit_seconds = seconds_since(start);
  const auto ranked = mr::eval::ranked_for_test_users(model, train, test, 20);
  const std::size_t n_items = train.items.size();
  s.ndcg10 = mr::eval::evaluate(ranked, test, n_items, {.k = 10}).at("ndcg@10");
  s.recall20 = mr::eval::evaluate(ranked, test, n_items, {.k = 20}).at("recall@20");
  return s;
}

std::string describe(const mr::Item2VecRecommender::Config& c) {
  std::string out = "dim=" + std::to_string(c.item2vec.dim) +
                    (c.item2vec.whole_sequence ? std::string(" whole_sequence")
                                               : " window=" + std::to_string(c.item2vec.window));
  char numbers[120];
  std::snprintf(numbers, sizeof numbers, " negatives=%zu epochs=%zu lr=%g subsample=%g",
                c.item2vec.negatives, c.item2vec.epochs,
                static_cast<double>(c.item2vec.learning_rate), c.item2vec.subsample);
  out += numbers;
  out += c.encoder.mode == Mode::mean      ? " mean"
         : c.encoder.mode == Mode::recency ? " recency(half_life=" + std::to_string(static_cast<int>(c.encoder.half_life)) + ")"
                                           : " attention";
  out += c.scoring == Scoring::cosine ? " cosine" : " context";
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string path = "../shared/data/insteval/ratings.csv";
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      path = argv[++i];
    } else if (arg == "--quick") {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: %s [--data PATH/ratings.csv] [--quick]\n", argv[0]);
      return 2;
    }
  }
  mr::io::ReadReport report;
  const mr::Interactions data = mr::io::read_interactions_csv(path, {}, &report);
  std::fprintf(stderr, "%s\n", report.summary().c_str());
  const std::vector<std::string> dept = read_departments(path, data);
  std::printf("InstEval: %zu ratings, %zu users, %zu items; no timestamps: each user's sequence is "
              "the file's order (sorted by item id)\n\n",
              data.size(), data.users.size(), data.items.size());

  // ---- (b) recommendation: validation search, then the test split ------------------------------
  const mr::eval::Split split = mr::eval::split_per_user_random(data, 0.2, 42);
  const mr::eval::Split carve = mr::eval::split_per_user_random(split.train, 0.2, 7);
  std::printf("\n(b) split: %zu train / %zu test rows (per-user random 80/20, seed 42); validation: "
              "%zu / %zu rows of the train part (seed 7)\n",
              split.train.size(), split.test.size(), carve.train.size(), carve.test.size());

  std::printf("\nvalidation search (NDCG@10 / Recall@20 on the carve-out of the train part)\n");
  std::printf("%-86s %8s %9s %7s\n", "configuration", "NDCG@10", "Recall@20", "fit s");
  mr::MostPopular mostpop;
  const Scores pop_validation = evaluate(mostpop, carve.train, carve.test);
  std::printf("%-86s %8.4f %9.4f %7.2f\n", "mostpop", pop_validation.ndcg10,
              pop_validation.recall20, pop_validation.fit_seconds);
  ItemKnn knn;
  const Scores knn_validation = evaluate(knn, carve.train, carve.test);
  std::printf("%-86s %8.4f %9.4f %7.2f\n", "item-kNN (cosine co-occurrence, yardstick)",
              knn_validation.ndcg10, knn_validation.recall20, knn_validation.fit_seconds);

  // Coordinate search: from the defaults, each value of one knob with the others at their best so
  // far, knob after knob; a second round revisits every knob (configurations already tried are
  // not rerun).
  mr::Item2VecRecommender::Config best{};
  double best_ndcg = -1.0;
  std::map<std::string, Scores> tried;
  const auto try_config = [&](const mr::Item2VecRecommender::Config& c) {
    const std::string label = describe(c);
    if (tried.count(label) != 0) return;
    mr::Item2VecRecommender model(c);
    const Scores s = evaluate(model, carve.train, carve.test);
    tried[label] = s;
    std::printf("%-86s %8.4f %9.4f %7.2f\n", label.c_str(), s.ndcg10, s.recall20, s.fit_seconds);
    std::fflush(stdout);
    if (s.ndcg10 > best_ndcg) {
      best_ndcg = s.ndcg10;
      best = c;
    }
  };
  using Config = mr::Item2VecRecommender::Config;
  using Knob = std::vector<Config (*)(Config)>;
  const std::vector<Knob> knobs = {
      {[](Config c) { c.scoring = Scoring::cosine; return c; },
       [](Config c) { c.scoring = Scoring::context; return c; }},
      {[](Config c) { c.item2vec.whole_sequence = false; c.item2vec.window = 5; return c; },
       [](Config c) { c.item2vec.whole_sequence = true; return c; }},
      {[](Config c) { c.item2vec.epochs = 5; return c; },
       [](Config c) { c.item2vec.epochs = 20; return c; },
       [](Config c) { c.item2vec.epochs = 40; return c; }},
      {[](Config c) { c.item2vec.dim = 32; return c; },
       [](Config c) { c.item2vec.dim = 64; return c; },
       [](Config c) { c.item2vec.dim = 128; return c; }},
      {[](Config c) { c.item2vec.negatives = 5; return c; },
       [](Config c) { c.item2vec.negatives = 15; return c; }},
      {[](Config c) { c.item2vec.subsample = 1e-3; return c; },
       [](Config c) { c.item2vec.subsample = 0.0; return c; }},
      {[](Config c) { c.item2vec.learning_rate = 0.025f; return c; },
       [](Config c) { c.item2vec.learning_rate = 0.05f; return c; }},
      {[](Config c) { c.encoder.mode = Mode::mean; return c; },
       [](Config c) { c.encoder.mode = Mode::recency; c.encoder.half_life = 5.0; return c; }},
  };
  try_config(best);
  for (int round = 0; round < (quick ? 1 : 2); ++round) {
    for (std::size_t k = 0; k < knobs.size() && !(quick && k >= 2); ++k) {
      const Config start = best;  // every value of this knob from the same point
      for (const auto& set : knobs[k]) try_config(set(start));
    }
  }
  std::printf("\nchosen on validation: %s (NDCG@10 %.4f)\n", describe(best).c_str(), best_ndcg);

  // ---- the test split, once -----------------------------------------------------------------------
  mr::MostPopular mostpop_test;
  const Scores pop = evaluate(mostpop_test, split.train, split.test);
  ItemKnn knn_test;
  const Scores knn_scores = evaluate(knn_test, split.train, split.test);
  mr::Item2VecRecommender chosen(best);
  const Scores i2v = evaluate(chosen, split.train, split.test);
  mr::Item2VecRecommender defaults{};
  const Scores def = evaluate(defaults, split.train, split.test);
  const std::size_t evaluated =
      mr::eval::evaluate({}, split.test, split.train.items.size(), {.k = 10}).users_evaluated;
  std::printf("\ntest split (%zu users evaluated)\n", evaluated);
  std::printf("%-52s %8s %9s %7s\n", "model", "NDCG@10", "Recall@20", "fit s");
  std::printf("%-52s %8.4f %9.4f %7.2f\n", "mostpop", pop.ndcg10, pop.recall20, pop.fit_seconds);
  std::printf("%-52s %8.4f %9.4f %7.2f\n", "item2vec, chosen on validation", i2v.ndcg10,
              i2v.recall20, i2v.fit_seconds);
  std::printf("%-52s %8.4f %9.4f %7.2f\n", "item2vec, defaults (what marl_rec_eval runs)",
              def.ndcg10, def.recall20, def.fit_seconds);
  std::printf("%-52s %8.4f %9.4f %7.2f\n", "item-kNN (cosine co-occurrence, yardstick)",
              knn_scores.ndcg10, knn_scores.recall20, knn_scores.fit_seconds);

  // Training speed of the chosen configuration on the whole train part.
  mr::Item2Vec timing(best.item2vec);
  const auto start = std::chrono::steady_clock::now();
  timing.fit(split.train);
  const double seconds = seconds_since(start);
  const auto counts = timing.last_training();
  std::printf("\nItem2Vec training, chosen configuration, train part: %llu words, %llu pairs in "
              "%.2f s: %.3g words/s, %.3g pairs/s (one thread, xsimd %s)\n",
              static_cast<unsigned long long>(counts.words),
              static_cast<unsigned long long>(counts.pairs), seconds,
              static_cast<double>(counts.words) / seconds,
              static_cast<double>(counts.pairs) / seconds, xsimd::default_arch::name());
  // ---- (a) neighbour agreement -------------------------------------------------------------------
  std::printf("\n(a) neighbour agreement on all %zu ratings: nearest other item (cosine of input "
              "vectors) in the same department\n", data.size());
  std::printf("%-68s %9s %8s %6s %9s %10s\n", "item2vec configuration", "agreement", "chance", "ratio",
              "words/s", "pairs/s");
  std::vector<mr::Item2Vec::Config> configs = {{}};  // the defaults: window 5
  if (!quick) {
    configs.push_back({.whole_sequence = true});
    configs.push_back({.whole_sequence = true, .epochs = 20});
  }
  configs.push_back(best.item2vec);  // chosen on validation in (b)
  for (const mr::Item2Vec::Config& config : configs) {
    mr::Item2Vec model(config);
    const auto start = std::chrono::steady_clock::now();
    model.fit(data);
    const double seconds = seconds_since(start);
    std::vector<unsigned char> has(model.n_items());
    for (std::size_t i = 0; i < has.size(); ++i) has[i] = model.has_vector(i) ? 1 : 0;
    const Agreement a = neighbour_agreement(model.normalized_vectors(), has, dept);
    std::string label = describe({.item2vec = config});
    label = label.substr(0, label.rfind(" mean"));  // the item2vec part only
    std::printf("%-68s %9.4f %8.4f %6.2f %9.3g %10.3g\n", label.c_str(), a.agreement, a.chance,
                a.agreement / a.chance, static_cast<double>(model.last_training().words) / seconds,
                static_cast<double>(model.last_training().pairs) / seconds);
    // The same with the output (context) vectors, which the "context" scoring ranks by.
    mr::AlignedVector<float> context(model.context_vectors().data(),
                                     model.context_vectors().data() + model.n_items() * model.dim());
    mr::simd::normalize_rows(mr::MutableMatrixView(context, model.n_items(), model.dim()));
    const Agreement b = neighbour_agreement(mr::MatrixView(context, model.n_items(), model.dim()), has, dept);
    std::printf("%-68s %9.4f %8.4f %6.2f\n", "  the same model's output (context) vectors", b.agreement,
                b.chance, b.agreement / b.chance);
  }
  {  // Random unit vectors: the agreement of vectors that learned nothing.
    mr::Rng rng(1);
    mr::AlignedVector<float> random(data.items.size() * 64);
    for (float& x : random) x = static_cast<float>(rng.normal());
    mr::simd::normalize_rows(mr::MutableMatrixView(random, data.items.size(), 64));
    const std::vector<unsigned char> all(data.items.size(), 1);
    const Agreement a = neighbour_agreement(mr::MatrixView(random, data.items.size(), 64), all, dept);
    std::printf("%-68s %9.4f %8.4f %6.2f\n", "random unit vectors (no learning)", a.agreement,
                a.chance, a.agreement / a.chance);
  }

  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_item2vec_insteval: %s\n", e.what());
  return 1;
}
