// marl_rec_sasrec_vs_baselines — the self-attention next-item model (SelfAttentionRecommender,
// SASRec) against simple baselines on sequential users (eval::SequentialUsers, whose dynamics
// are documented in docs/simulator.md): full-ranking NDCG@10 and HR@10 under leave-last-out
// (docs/models.md, "Self-attention sequence model (SASRec)").
//
// Protocol. The data is cut per user: the last item is the test, the one before it the
// validation (split_leave_last_out with validation). Every method's hyper-parameters are chosen
// on the validation item with the model fitted on the rest (each grid below; NDCG@10); the
// chosen setting is then refitted on everything but the test item and scored once on it.
// Every item except the user's own earlier items is ranked (no sampled candidates).
//
// SASRec's grid varies dim, blocks and the negatives per position; the other settings are the
// Config defaults (dropout 0.2, Adam step 0.003, 20 epochs but at least 2,000 Adam steps,
// batches of 32 windows, max_len 50).
//
// After the table: for each baseline, SASRec's test NDCG@10 minus the baseline's, with a paired
// bootstrap 95% interval over the test users (2,000 resamples of the users, the same resample
// for both methods; percentile interval).
//
// Methods: MostPop; last-item transitions (counts of item j right after item i in the training
// sequences, scored from the user's last item: a first-order Markov chain); ItemKnn (co-occurrence
// over the user's whole history, order ignored); Item2Vec nearest neighbours
// (Item2VecRecommender); SASRec.
//
// Usage: marl_rec_sasrec_vs_baselines [--quick] [--seed N] [--users N] [--write-csv PATH]
// --quick: a small world (600 users) and one setting per method (a smoke test, about 20 s of CPU).
// --write-csv PATH: only writes the generated interactions (user,item,timestamp) to PATH, for
// marl_rec_eval.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/embed/item2vec.hpp"
#include "marl_rec/eval/any_batch_recommender.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/sequential_users.hpp"
#include "marl_rec/eval/split.hpp"
#include "marl_rec/models/item2vec_recommender.hpp"
#include "marl_rec/models/item_knn.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "marl_rec/models/self_attention_recommender.hpp"

namespace mr = marl_rec;

namespace {

// First-order Markov baseline: score(j) = #(i → j in training sequences) with i the user's last
// training item, plus popularity / (max popularity + 1) < 1 to order items with equal counts.
// Cold users: popularity.
class LastItemTransitions {
 public:
  std::string_view name() const noexcept { return "transitions"; }
  void fit(const mr::Interactions& train) {
    const auto sequences = mr::user_item_sequences(train);
    const std::size_t n = train.items.size();
    popularity_.assign(n, 0.0f);
    for (const mr::Interaction& row : train.rows) popularity_[row.item] += 1.0f;
    float top = 0.0f;
    for (const float p : popularity_) top = std::max(top, p);
    for (float& p : popularity_) p /= top + 1.0f;
    next_.assign(n, {});
    last_.assign(sequences.size(), n);
    for (std::size_t u = 0; u < sequences.size(); ++u) {
      const auto& s = sequences[u];
      for (std::size_t t = 1; t < s.size(); ++t) next_[s[t - 1]][s[t]] += 1.0f;
      if (!s.empty()) last_[u] = s.back();
    }
  }
  void score_user(std::size_t user, std::span<float> scores) const {
    std::copy(popularity_.begin(), popularity_.end(), scores.begin());
    if (user >= last_.size() || last_[user] >= popularity_.size()) return;
    for (const auto& [j, count] : next_[last_[user]]) scores[j] += count;
  }

 private:
  std::vector<float> popularity_;
  std::vector<std::map<std::size_t, float>> next_;
  std::vector<std::size_t> last_;
};

struct Setting {
  std::string label;
  std::function<mr::eval::AnyBatchRecommender()> make;
};

struct Method {
  std::string name;
  std::vector<Setting> grid;
};

struct Score {
  double ndcg = 0.0, hr = 0.0, fit_seconds = 0.0;
  std::vector<double> per_row;  // NDCG@10 of each test row, in test.rows order
};

Score evaluate(const Setting& setting, const mr::Interactions& train, const mr::Interactions& test) {
  mr::eval::AnyBatchRecommender model = setting.make();
  const auto start = std::chrono::steady_clock::now();
  model.fit(train);
  Score s;
  s.fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto ranked = mr::eval::ranked_for_test_users(model, train, test, 10);
  for (const mr::Interaction& row : test.rows) {
    const std::size_t relevant[] = {row.item};
    s.per_row.push_back(mr::eval::ndcg_at(ranked[row.user], relevant, 10));
    s.ndcg += s.per_row.back();
    s.hr += mr::eval::hit_rate_at(ranked[row.user], relevant, 10);
  }
  s.ndcg /= static_cast<double>(test.rows.size());
  s.hr /= static_cast<double>(test.rows.size());
  return s;
}

std::vector<Method> methods(bool quick, std::uint64_t seed) {
  std::vector<Method> out;
  out.push_back({"MostPop", {{"-", [] { return mr::eval::AnyBatchRecommender(mr::MostPopular{}); }}}});
  out.push_back({"last-item transitions", {{"-", [] { return mr::eval::AnyBatchRecommender(LastItemTransitions{}); }}}});

  Method knn{"ItemKnn (whole history)", {}};
  for (const std::size_t neighbours : {std::size_t{50}, std::size_t{200}}) {
    for (const float alpha : {0.5f, 0.65f, 0.8f}) {
      for (const float shrink : {0.0f, 10.0f}) {
        if (quick && (neighbours != 200 || alpha != 0.65f || shrink != 0.0f)) continue;
        knn.grid.push_back({"neighbours=" + std::to_string(neighbours) + " alpha=" + std::to_string(alpha).substr(0, 4) +
                                " shrink=" + std::to_string(static_cast<int>(shrink)),
                            [=] {
                              return mr::eval::AnyBatchRecommender(mr::ItemKnn(
                                  {.neighbours = neighbours, .shrink = shrink, .alpha = alpha}));
                            }});
      }
    }
  }
  out.push_back(knn);

  Method i2v{"Item2Vec neighbours", {}};
  for (const bool whole : {false, true}) {
    for (const bool context : {false, true}) {
      for (const bool recency : {false, true}) {
        for (const std::size_t epochs : {std::size_t{5}, std::size_t{20}}) {
          if (quick && (whole || context || recency || epochs != 5)) continue;
          i2v.grid.push_back(
              {std::string("whole_sequence=") + (whole ? "1" : "0") + " scoring=" + (context ? "context" : "cosine") +
                   " encoder=" + (recency ? "recency(half_life 2)" : "mean") + " epochs=" + std::to_string(epochs),
               [=] {
                 mr::Item2VecRecommender::Config c;
                 c.item2vec.dim = 64;
                 c.item2vec.whole_sequence = whole;
                 c.item2vec.epochs = epochs;
                 c.item2vec.seed = seed;
                 c.encoder.mode = recency ? mr::SequenceEncoderConfig::Mode::recency
                                          : mr::SequenceEncoderConfig::Mode::mean;
                 c.encoder.half_life = 2.0;
                 c.scoring = context ? mr::Item2VecRecommender::Scoring::context
                                     : mr::Item2VecRecommender::Scoring::cosine;
                 return mr::eval::AnyBatchRecommender(mr::Item2VecRecommender(c));
               }});
        }
      }
    }
  }
  out.push_back(i2v);

  Method sasrec{"SASRec", {}};
  for (const std::size_t dim : {std::size_t{32}, std::size_t{64}}) {
    for (const std::size_t blocks : {std::size_t{1}, std::size_t{2}}) {
      for (const std::size_t negatives : {std::size_t{1}, std::size_t{10}, std::size_t{50}}) {
        if (quick && (dim != 32 || blocks != 2 || negatives != 50)) continue;
        sasrec.grid.push_back({"dim=" + std::to_string(dim) + " blocks=" + std::to_string(blocks) +
                                   " negatives=" + std::to_string(negatives),
                               [=] {
                                 return mr::eval::AnyBatchRecommender(mr::SelfAttentionRecommender(
                                     {.dim = dim, .blocks = blocks, .negatives = negatives, .seed = seed}));
                               }});
      }
    }
  }
  out.push_back(sasrec);
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  bool quick = false;
  std::uint64_t seed = 42;
  std::size_t users = 3000;
  std::string csv;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      quick = true;
      users = 600;
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::stoull(argv[++i]);
    } else if (arg == "--users" && i + 1 < argc) {
      users = std::stoul(argv[++i]);
    } else if (arg == "--write-csv" && i + 1 < argc) {
      csv = argv[++i];
    } else {
      std::fprintf(stderr, "usage: marl_rec_sasrec_vs_baselines [--quick] [--seed N] [--users N] [--write-csv PATH]\n");
      return 2;
    }
  }
  const mr::eval::SequentialUsers world({.users = users, .seed = seed});
  const mr::Interactions& data = world.interactions();
  if (!csv.empty()) {
    std::ofstream out(csv);
    out << "user,item,timestamp\n";
    char time[32];
    for (const mr::Interaction& row : data.rows) {
      std::snprintf(time, sizeof time, "%.0f", row.timestamp);
      out << data.users.id(row.user) << ',' << data.items.id(row.item) << ',' << time << '\n';
    }
    out.flush();
    if (!out) throw mr::Error("cannot write " + csv);
    std::printf("%zu interactions written to %s\n", data.rows.size(), csv.c_str());
    return 0;
  }
  const mr::eval::Split split = mr::eval::split_leave_last_out(data, true);
  mr::Interactions train_validation = split.train;
  train_validation.rows.insert(train_validation.rows.end(), split.validation.rows.begin(), split.validation.rows.end());
  std::printf("sequential users: %zu users, %zu items, %zu interactions (seed %llu); "
              "train %zu, validation %zu, test %zu\n\n",
              data.users.size(), data.items.size(), data.rows.size(), static_cast<unsigned long long>(seed),
              split.train.rows.size(), split.validation.rows.size(), split.test.rows.size());
  std::printf("| method | chosen on validation | val NDCG@10 | test NDCG@10 | test HR@10 | fit s |\n");
  std::printf("|---|---|---|---|---|---|\n");
  std::vector<std::pair<std::string, std::vector<double>>> test_ndcg;  // per method, per test row
  for (const Method& method : methods(quick, seed)) {
    const Setting* best = nullptr;
    double best_ndcg = -1.0;
    for (const Setting& setting : method.grid) {
      const Score v = evaluate(setting, split.train, split.validation);
      std::fprintf(stderr, "  %s [%s]: validation NDCG@10 %.4f HR@10 %.4f (fit %.1f s)\n", method.name.c_str(),
                   setting.label.c_str(), v.ndcg, v.hr, v.fit_seconds);
      if (v.ndcg > best_ndcg) {
        best_ndcg = v.ndcg;
        best = &setting;
      }
    }
    const Score t = evaluate(*best, train_validation, split.test);
    std::printf("| %s | %s | %.4f | %.4f | %.4f | %.1f |\n", method.name.c_str(), best->label.c_str(), best_ndcg,
                t.ndcg, t.hr, t.fit_seconds);
    std::fflush(stdout);
    test_ndcg.emplace_back(method.name, t.per_row);
  }
  // Paired bootstrap over the test users: the same resampled users for SASRec and the baseline.
  const std::vector<double>& sasrec = test_ndcg.back().second;
  const std::size_t n = sasrec.size();
  constexpr std::size_t resamples = 2000;
  std::printf("\n| SASRec minus | test NDCG@10 difference | paired bootstrap 95%% interval |\n|---|---|---|\n");
  for (std::size_t m = 0; m + 1 < test_ndcg.size(); ++m) {
    const std::vector<double>& base = test_ndcg[m].second;
    std::vector<double> diff(n);
    double mean = 0.0;
    for (std::size_t i = 0; i < n; ++i) mean += diff[i] = sasrec[i] - base[i];
    mean /= static_cast<double>(n);
    mr::Rng rng(seed + 1000);
    std::vector<double> means(resamples);
    for (double& b : means) {
      double sum = 0.0;
      for (std::size_t i = 0; i < n; ++i) sum += diff[static_cast<std::size_t>(rng.below(n))];
      b = sum / static_cast<double>(n);
    }
    std::sort(means.begin(), means.end());
    std::printf("| %s | %+.4f | [%+.4f, %+.4f] |\n", test_ndcg[m].first.c_str(), mean,
                means[resamples * 25 / 1000], means[resamples * 975 / 1000 - 1]);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
