// Matrix factorisation on the real InstEval ratings: iALS and BPR, with hyper-parameters chosen
// on a validation carve-out of the training part (never on the test part), must beat MostPop on
// the evaluation command's split (per-user random 80/20, seed 42; MostPop NDCG@10 = 0.0757).
#include <doctest/doctest.h>

#ifdef MARL_REC_SHARED_DATA_DIR

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/split.hpp"
#include "marl_rec/io/interactions_csv.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "support/ranking_figures.hpp"

namespace {

using Scores = marl_rec::test::RankingFigures;

template <class Model>
Scores evaluate(const Model& model, const marl_rec::Interactions& train,
                const marl_rec::Interactions& test) {
  return marl_rec::test::ranking_figures(model, train, test);
}

}  // namespace

TEST_CASE("InstEval: iALS and BPR beat MostPop on NDCG@10") {
  using Config = marl_rec::MatrixFactorizationConfig;
  const std::string path = std::string(MARL_REC_SHARED_DATA_DIR) + "/insteval/ratings.csv";
  REQUIRE_MESSAGE(std::filesystem::exists(path), "missing shared data file ", path);
  const marl_rec::Interactions data = marl_rec::io::read_interactions_csv(path);
  const marl_rec::eval::Split split = marl_rec::eval::split_per_user_random(data, 0.2, 42);

  marl_rec::MostPopular popular;
  popular.fit(split.train);
  const Scores baseline = evaluate(popular, split.train, split.test);
  CHECK(baseline.ndcg10 == doctest::Approx(0.0757).epsilon(0.005));

  // Chosen on split_per_user_random(train, 0.2, 7) by NDCG@10 (validation 0.534 and 0.501;
  // MostPop 0.0615 there). The grid is in the model's report.
  const Config ials{.algorithm = Config::Algorithm::als,
                    .factors = 64,
                    .epochs = 15,
                    .regularization = 20.0f,
                    .alpha = 10.0f,
                    .solver = Config::Solver::conjugate_gradient,
                    .cg_steps = 3};
  const Config bpr{.algorithm = Config::Algorithm::bpr,
                   .factors = 128,
                   .epochs = 100,
                   .regularization = 0.005f,
                   .learning_rate = 0.1f,
                   .init_scale = 0.1f};
  for (const Config& config : {ials, bpr}) {
    marl_rec::MatrixFactorization model(config);
    model.fit(split.train);
    const Scores s = evaluate(model, split.train, split.test);
    MESSAGE(model.name(), ": NDCG@10 = ", s.ndcg10, ", Recall@20 = ", s.recall20, " (MostPop ",
            baseline.ndcg10, " / ", baseline.recall20, ")");
    CHECK(s.ndcg10 > baseline.ndcg10);
    CHECK(s.recall20 > baseline.recall20);
    // Regression floors, far below the measured 0.746 (iALS) and 0.697 (BPR) so that another
    // instruction set's rounding cannot matter.
    CHECK(s.ndcg10 > 0.6);
  }
}

#endif
