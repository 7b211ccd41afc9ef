// marl_rec_eval — the evaluation command: split interaction data, train a model, write top-k
// recommendations, score them, and estimate policy values on logged bandit data.
//
// This is the interface by which marl_rec is evaluated on data it has never seen, so it is kept
// stable; docs/evaluation.md documents every subcommand, option and file format.
#include <marl_rec/marl_rec.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/eval/any_batch_recommender.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/eval/grid_search.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/off_policy.hpp"
#include "marl_rec/eval/split.hpp"
#include "marl_rec/io/csv.hpp"
#include "marl_rec/io/csv_writer.hpp"
#include "marl_rec/io/interactions_csv.hpp"
#include "marl_rec/io/items_csv.hpp"
#include "marl_rec/io/obd.hpp"
#include "marl_rec/models/ease.hpp"
#include "marl_rec/models/item2vec_recommender.hpp"
#include "marl_rec/models/item_knn.hpp"
#include "marl_rec/models/irgan.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/models/mlp_scorer.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "marl_rec/models/random_recommender.hpp"
#include "marl_rec/models/self_attention_recommender.hpp"
#include "marl_rec/models/session_q.hpp"

namespace mr = marl_rec;

namespace {

constexpr const char* kUsage = R"(usage: marl_rec_eval <command> [options]

commands:
  split      split an interactions CSV into train / test (/ validation) files
  recommend  train a model on a train CSV and write top-k recommendations
  score      score a recommendations file against a test CSV (metric table)
  ope        estimate a policy's value on logged bandit data (Open Bandit layout)
  models     list the models and their parameters

split     --input FILE --train-out FILE --test-out FILE [--validation-out FILE]
          [--method random|temporal|leave-last-out] [--test-fraction 0.2]
          [--validation-fraction 0] [--seed 42]
recommend --train FILE --model NAME --out FILE (--users FILE | --test FILE)
          [--items FILE] [--k 10] [--param KEY=VALUE ...]
          [--tune no|yes] [--tune-split random|leave-last-out] [--tune-fraction 0.2]
          [--tune-seed 7]
score     --recs FILE --test FILE --train FILE [--k 10] [--items FILE]
ope       --log FILE --item-context FILE [--policy uniform|linucb|linthompson|linear|mlp]
          [--train-fraction 0] [--explore greedy|epsilon|softmax] [--epsilon 0.1]
          [--temperature 0.05] [--param KEY=VALUE ...] [--bootstrap 1000] [--seed 1]
          (linucb: features=concat alpha=1 ridge=1 mode=shared|disjoint; linthompson:
          features=concat v=1 ridge=1 mode; linear: features=cross learning_rate=0.01;
          mlp: hidden=32 learning_rate=0.001 l2=0)

split, recommend and score also take the interactions reader's options:
          [--delimiter ,|tab|CHAR] [--skip-bad-rows no|yes] [--duplicates keep-last|keep-first|error]

Files are CSV with a header. Interactions: user_id,item_id[,rating][,timestamp] (extra
columns ignored). Recommendations: user_id,item_id,rank (rank 1 is best). See
docs/evaluation.md.
)";

// ---- command-line options ---------------------------------------------------------------------

class Options {
 public:
  Options(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag.rfind("--", 0) != 0) throw mr::Error("unexpected argument '" + flag + "'");
      if (i + 1 >= argc) throw mr::Error(flag + " needs a value");
      const std::string value = argv[++i];
      if (flag == "--param") {
        const auto eq = value.find('=');
        if (eq == std::string::npos || eq == 0) {
          throw mr::Error("--param expects KEY=VALUE, got '" + value + "'");
        }
        params_[value.substr(0, eq)] = value.substr(eq + 1);
      } else if (!values_.emplace(flag, value).second) {
        throw mr::Error(flag + " given twice");
      }
    }
  }

  std::optional<std::string> get(const std::string& flag) {
    used_.insert(flag);
    const auto it = values_.find(flag);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }
  std::string required(const std::string& flag) {
    auto v = get(flag);
    if (!v) throw mr::Error("missing " + flag);
    return *v;
  }
  std::string text(const std::string& flag, const std::string& fallback) {
    return get(flag).value_or(fallback);
  }
  /// One of `allowed` (the fallback when the flag is absent).
  std::string choice(const std::string& flag, const std::vector<std::string>& allowed,
                     const std::string& fallback) {
    const std::string v = text(flag, fallback);
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : "|") + a;
      throw mr::Error(flag + " expects " + list + ", got '" + v + "'");
    }
    return v;
  }
  double number(const std::string& flag, double fallback) {
    const auto v = get(flag);
    return v ? parse_number(flag, *v) : fallback;
  }
  /// A whole number in [min, max] (decimal digits only: no sign, exponent or fraction).
  std::uint64_t integer(const std::string& flag, std::uint64_t fallback, std::uint64_t min = 0,
                        std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
    const auto v = get(flag);
    if (!v) return fallback;
    return parse_integer(flag, *v, min, max);
  }

  static std::uint64_t parse_integer(const std::string& what, const std::string& text,
                                     std::uint64_t min, std::uint64_t max) {
    std::uint64_t x = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || x < min || x > max) {
      throw mr::Error(what + " expects a whole number from " + std::to_string(min) + " to " +
                      std::to_string(max) + ", got '" + text + "'");
    }
    return x;
  }
  std::map<std::string, std::string>& params() { return params_; }

  /// Every option given must have been read by the command: a misspelt one is an error, not
  /// silently ignored.
  void check_all_used() const {
    for (const auto& [flag, value] : values_) {
      if (!used_.contains(flag)) throw mr::Error("unknown option " + flag + " for this command");
    }
  }

  static double parse_number(const std::string& flag, const std::string& text) {
    std::size_t end = 0;
    double x = 0;
    try {
      x = std::stod(text, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    if (end != text.size() || !std::isfinite(x)) {
      throw mr::Error(flag + " expects a number, got '" + text + "'");
    }
    return x;
  }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> params_;
  std::set<std::string> used_;
};

// ---- models -----------------------------------------------------------------------------------

struct ModelInfo {
  const char* name;
  const char* description;
  const char* parameters;
  std::function<mr::eval::AnyBatchRecommender(std::map<std::string, std::string>&)> make;
  /// What --tune yes tries: values per parameter (every combination). Empty: nothing to tune.
  std::vector<std::pair<std::string, std::vector<std::string>>> grid = {};
};

// Takes parameter `key` out of `params` (so unknown ones can be reported afterwards).
std::optional<std::string> take(std::map<std::string, std::string>& params, const std::string& key) {
  const auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  std::string v = it->second;
  params.erase(it);
  return v;
}

// Reads the parameters a model takes out of `p` (what is left afterwards is unknown: an error).
class ParamReader {
 public:
  explicit ParamReader(std::map<std::string, std::string>& p) : p_(p) {}
  template <class T>
  void count(const char* key, T& field, std::uint64_t min, std::uint64_t max = 1'000'000'000) {
    if (auto v = take(p_, key)) field = static_cast<T>(Options::parse_integer(key, *v, min, max));
  }
  void number(const char* key, float& field) {
    if (auto v = take(p_, key)) field = static_cast<float>(Options::parse_number(key, *v));
  }
  /// Sets `field` to true for `yes`, false for `no`.
  void flag(const char* key, bool& field, const char* no, const char* yes) {
    const auto v = take(p_, key);
    if (!v) return;
    if (*v != no && *v != yes) {
      throw mr::Error(std::string(key) + " expects " + no + " or " + yes + ", got '" + *v + "'");
    }
    field = *v == yes;
  }

 private:
  std::map<std::string, std::string>& p_;
};

const std::vector<ModelInfo>& models() {
  static const std::vector<ModelInfo> list = {
      {"mostpop", "the items with the most training interactions, for everyone", "(none)",
       [](std::map<std::string, std::string>&) {
         return mr::eval::AnyBatchRecommender(mr::MostPopular{});
       }},
      {"random", "a seeded random ranking per user", "seed=42",
       [](std::map<std::string, std::string>& p) {
         mr::RandomRecommender::Config c;
         if (auto v = take(p, "seed")) {
           c.seed = Options::parse_integer("seed", *v, 0, std::numeric_limits<std::uint64_t>::max());
         }
         return mr::eval::AnyBatchRecommender(mr::RandomRecommender(c));
       }},
      {"item2vec",
       "Item2Vec vectors from each user's items in order; the items nearest to the user's "
       "history (cold users: mostpop)",
       "dim=64 window=5 whole_sequence=0 negatives=5 epochs=5 learning_rate=0.025 "
       "subsample=0.001 min_count=1 seed=42 encoder=mean|recency half_life=5 max_history=50 "
       "scoring=cosine|context",
       [](std::map<std::string, std::string>& p) {
         mr::Item2VecRecommender::Config c;
         const auto count = [&](const char* key, std::size_t& field, std::uint64_t min) {
           if (auto v = take(p, key)) field = Options::parse_integer(key, *v, min, 1'000'000'000);
         };
         const auto choice = [&](const char* key, const char* a, const char* b) -> std::optional<bool> {
           const auto v = take(p, key);
           if (!v) return std::nullopt;
           if (*v != a && *v != b) {
             throw mr::Error(std::string(key) + " expects " + a + " or " + b + ", got '" + *v + "'");
           }
           return *v == b;
         };
         count("dim", c.item2vec.dim, 1);
         count("window", c.item2vec.window, 1);
         if (auto whole = choice("whole_sequence", "0", "1")) c.item2vec.whole_sequence = *whole;
         count("negatives", c.item2vec.negatives, 1);
         count("epochs", c.item2vec.epochs, 1);
         if (auto v = take(p, "learning_rate")) {
           c.item2vec.learning_rate = static_cast<float>(Options::parse_number("learning_rate", *v));
         }
         if (auto v = take(p, "subsample")) c.item2vec.subsample = Options::parse_number("subsample", *v);
         count("min_count", c.item2vec.min_count, 1);
         if (auto v = take(p, "seed")) {
           c.item2vec.seed = Options::parse_integer("seed", *v, 0, std::numeric_limits<std::uint64_t>::max());
         }
         if (auto recency = choice("encoder", "mean", "recency")) {
           c.encoder.mode = *recency ? mr::SequenceEncoderConfig::Mode::recency
                                     : mr::SequenceEncoderConfig::Mode::mean;
         }
         if (auto v = take(p, "half_life")) c.encoder.half_life = Options::parse_number("half_life", *v);
         count("max_history", c.encoder.max_history, 1);
         if (auto context = choice("scoring", "cosine", "context")) {
           c.scoring = *context ? mr::Item2VecRecommender::Scoring::context
                                : mr::Item2VecRecommender::Scoring::cosine;
         }
         return mr::eval::AnyBatchRecommender(mr::Item2VecRecommender(c));
       },
       {{"whole_sequence", {"0", "1"}}, {"scoring", {"cosine", "context"}}, {"epochs", {"5", "20"}}}},
      {"ials",
       "implicit ALS matrix factorisation (Hu, Koren, Volinsky 2008); cold users: the mean user",
       "factors=64 epochs=15 regularization=20 alpha=10 solver=cg|cholesky cg_steps=3 seed=42 "
       "binarize=1|0 cosine=0|1",
       [](std::map<std::string, std::string>& p) {
         // Defaults chosen on a validation split of InstEval's training part (docs/models.md).
         mr::MatrixFactorizationConfig c{.algorithm = mr::MatrixFactorizationConfig::Algorithm::als,
                                         .regularization = 20.0f,
                                         .solver = mr::MatrixFactorizationConfig::Solver::conjugate_gradient};
         ParamReader r(p);
         r.count("factors", c.factors, 1, 4096);
         r.count("epochs", c.epochs, 1, 10'000);
         r.number("regularization", c.regularization);
         r.number("alpha", c.alpha);
         bool cholesky = false;
         r.flag("solver", cholesky, "cg", "cholesky");
         c.solver = cholesky ? mr::MatrixFactorizationConfig::Solver::cholesky
                             : mr::MatrixFactorizationConfig::Solver::conjugate_gradient;
         r.count("cg_steps", c.cg_steps, 1, 1000);
         r.count("seed", c.seed, 0, std::numeric_limits<std::uint64_t>::max());
         r.flag("binarize", c.binarize, "0", "1");
         r.flag("cosine", c.cosine, "0", "1");
         return mr::eval::AnyBatchRecommender(mr::MatrixFactorization(c));
       },
       {{"regularization", {"1", "5", "20", "50"}}, {"alpha", {"3", "10", "30"}}}},
      {"ease",
       "EASE, the closed-form item-item model of Steck 2019 (catalogs up to 20,000 items); cold "
       "users: mostpop",
       "lambda=50 binarize=1|0 max_items=20000",
       [](std::map<std::string, std::string>& p) {
         // lambda chosen on a validation split of InstEval's training part (docs/models.md).
         mr::EaseConfig c{.lambda = 50.0f};
         ParamReader r(p);
         r.number("lambda", c.lambda);
         r.flag("binarize", c.binarize, "0", "1");
         r.count("max_items", c.max_items, 1, mr::Ease::max_items_limit);
         return mr::eval::AnyBatchRecommender(mr::Ease(c));
       },
       {{"lambda", {"10", "20", "50", "100", "200", "500", "1000"}}}},
      {"itemknn",
       "item-item nearest neighbours over co-occurrence (asymmetric cosine with shrinkage); cold "
       "users: mostpop",
       "neighbours=200 shrink=0 alpha=0.65 binarize=1|0",
       [](std::map<std::string, std::string>& p) {
         mr::ItemKnnConfig c{.neighbours = 200, .shrink = 0.0f, .alpha = 0.65f};
         ParamReader r(p);
         r.count("neighbours", c.neighbours, 1);
         r.number("shrink", c.shrink);
         r.number("alpha", c.alpha);
         r.flag("binarize", c.binarize, "0", "1");
         return mr::eval::AnyBatchRecommender(mr::ItemKnn(c));
       },
       {{"neighbours", {"50", "200"}}, {"alpha", {"0.5", "0.65", "0.8"}}, {"shrink", {"0", "10"}}}},
      {"sessionq",
       "Q-learning over session states (TabularQ): the state is the user's last item, the action "
       "the next; cold users: the start state",
       "alpha=0.5 gamma=0.5 epochs=10 max_items=10000",
       [](std::map<std::string, std::string>& p) {
         mr::SessionQConfig c;
         ParamReader r(p);
         r.number("alpha", c.alpha);
         r.number("gamma", c.gamma);
         r.count("epochs", c.epochs, 1, 10'000);
         r.count("max_items", c.max_items, 1, 100'000);
         return mr::eval::AnyBatchRecommender(mr::SessionQ(c));
       },
       {{"gamma", {"0", "0.5", "0.9"}}, {"alpha", {"0.1", "0.5"}}}},
      {"bpr",
       "matrix factorisation by Bayesian personalised ranking (Rendle et al. 2009), SGD",
       "factors=128 epochs=100 regularization=0.005 learning_rate=0.1 init_scale=0.1 seed=42",
       [](std::map<std::string, std::string>& p) {
         mr::MatrixFactorizationConfig c{.algorithm = mr::MatrixFactorizationConfig::Algorithm::bpr,
                                         .factors = 128, .epochs = 100, .regularization = 0.005f,
                                         .learning_rate = 0.1f, .init_scale = 0.1f};
         ParamReader r(p);
         r.count("factors", c.factors, 1, 4096);
         r.count("epochs", c.epochs, 1, 10'000);
         r.number("regularization", c.regularization);
         r.number("learning_rate", c.learning_rate);
         r.number("init_scale", c.init_scale);
         r.count("seed", c.seed, 0, std::numeric_limits<std::uint64_t>::max());
         return mr::eval::AnyBatchRecommender(mr::MatrixFactorization(c));
       },
       {{"regularization", {"0.001", "0.005", "0.02"}}, {"factors", {"64", "128"}}}},
      {"sasrec",
       "SASRec (Kang & McAuley 2018): causal self-attention over the user's last max_len items in "
       "time order, trained on next-item prediction with sampled negatives (cold users: mostpop)",
       "dim=32 max_len=50 blocks=2 dropout=0.2 learning_rate=0.003 l2=0 epochs=20 min_steps=2000 "
       "negatives=50 batch_size=32 seed=42",
       [](std::map<std::string, std::string>& p) {
         // Defaults chosen on the validation split of the sequential users (docs/models.md,
         // "Self-attention sequence model (SASRec)").
         mr::SelfAttentionRecommenderConfig c;
         ParamReader r(p);
         r.count("dim", c.dim, 1, 4096);
         r.count("max_len", c.max_len, 1, 4096);
         r.count("blocks", c.blocks, 1, 8);
         if (auto v = take(p, "dropout")) c.dropout = Options::parse_number("dropout", *v);
         if (auto v = take(p, "learning_rate")) c.learning_rate = Options::parse_number("learning_rate", *v);
         if (auto v = take(p, "l2")) c.l2 = Options::parse_number("l2", *v);
         r.count("epochs", c.epochs, 1, 10'000);
         r.count("min_steps", c.min_steps, 0, 10'000'000);
         r.count("negatives", c.negatives, 1, 10'000);
         r.count("batch_size", c.batch_size, 1, 1'000'000);
         r.count("seed", c.seed, 0, std::numeric_limits<std::uint64_t>::max());
         return mr::eval::AnyBatchRecommender(mr::SelfAttentionRecommender(c));
       },
       {{"dim", {"32", "64"}}, {"blocks", {"1", "2"}}, {"negatives", {"10", "50"}}}},
      {"irgan",
       "IRGAN (Wang et al. 2017): an MF generator trained by policy gradient against a logistic "
       "MF discriminator, both pre-trained by BPR; ranks by the generator (cold users: the mean "
       "user)",
       "factors=128 rounds=60 d_epochs=1 g_epochs=1 g_learning_rate=0.02 d_learning_rate=0.05 "
       "g_regularization=0 d_regularization=0.01 samples_per_user=0 importance_mix=0.2 "
       "temperature=1 reward=centered_sigmoid|softplus pretrain_epochs=100 "
       "pretrain_learning_rate=0.1 pretrain_regularization=0.005 init_scale=0.1 seed=42",
       [](std::map<std::string, std::string>& p) {
         // Defaults chosen on a validation split of InstEval's training part (docs/models.md,
         // "IRGAN (adversarial)"; 120 rounds tie with 60 there, at twice the time); the
         // pre-training is the "bpr" defaults.
         mr::IrganConfig c{.factors = 128, .rounds = 60, .g_learning_rate = 0.02f,
                           .d_learning_rate = 0.05f,
                           .reward = mr::IrganConfig::Reward::centered_sigmoid};
         ParamReader r(p);
         r.count("factors", c.factors, 1, 4096);
         r.count("rounds", c.rounds, 0, 10'000);
         r.count("d_epochs", c.d_epochs, 0, 10'000);
         r.count("g_epochs", c.g_epochs, 0, 10'000);
         r.number("g_learning_rate", c.g_learning_rate);
         r.number("d_learning_rate", c.d_learning_rate);
         r.number("g_regularization", c.g_regularization);
         r.number("d_regularization", c.d_regularization);
         r.count("samples_per_user", c.samples_per_user, 0, 1'000'000);
         r.number("importance_mix", c.importance_mix);
         r.number("temperature", c.temperature);
         bool softplus = false;
         r.flag("reward", softplus, "centered_sigmoid", "softplus");
         c.reward = softplus ? mr::IrganConfig::Reward::softplus
                             : mr::IrganConfig::Reward::centered_sigmoid;
         r.count("pretrain_epochs", c.pretrain_epochs, 0, 10'000);
         r.number("pretrain_learning_rate", c.pretrain_learning_rate);
         r.number("pretrain_regularization", c.pretrain_regularization);
         r.number("init_scale", c.init_scale);
         r.count("seed", c.seed, 0, std::numeric_limits<std::uint64_t>::max());
         return mr::eval::AnyBatchRecommender(mr::Irgan(c));
       },
       {{"g_learning_rate", {"0.01", "0.02"}}, {"rounds", {"30", "60"}}}},
  };
  return list;
}

mr::eval::AnyBatchRecommender make_model(const std::string& name,
                                         std::map<std::string, std::string> params) {
  for (const ModelInfo& info : models()) {
    if (name != info.name) continue;
    auto model = info.make(params);
    if (!params.empty()) {
      throw mr::Error("model " + name + " has no parameter '" + params.begin()->first +
                      "' (it takes: " + info.parameters + ")");
    }
    return model;
  }
  std::string known;
  for (const ModelInfo& info : models()) known += std::string(known.empty() ? "" : ", ") + info.name;
  throw mr::Error("unknown model '" + name + "' (known: " + known + ")");
}

/// --tune yes: every combination of the model's grid (the parameters given with --param stay
/// fixed) is fitted on part of the training file and scored by nDCG@k on the rest (per-user
/// random split, --tune-fraction of each user's rows, seed --tune-seed; or, with --tune-split
/// leave-last-out, each user's last row in time); returns the best set with the given
/// parameters added. Never looks at a test file.
std::map<std::string, std::string> tune_parameters(const std::string& name,
                                                   const std::map<std::string, std::string>& given,
                                                   const mr::Interactions& train, std::size_t k,
                                                   double fraction, std::uint64_t seed,
                                                   bool leave_last_out) {
  const ModelInfo* info = nullptr;
  for (const ModelInfo& m : models()) info = name == m.name ? &m : info;
  if (info == nullptr || info->grid.empty()) {
    throw mr::Error("model " + name + " has no parameters to tune");
  }
  std::vector<mr::eval::ParameterSet> grid;
  for (mr::eval::ParameterSet set : mr::eval::parameter_grid(info->grid)) {
    for (const auto& [key, value] : given) set[key] = value;
    if (std::find(grid.begin(), grid.end(), set) == grid.end()) grid.push_back(set);
  }
  const auto describe = [](const mr::eval::ParameterSet& set) {
    std::string text;
    for (const auto& [key, value] : set) text += (text.empty() ? "" : " ") + key + "=" + value;
    return text.empty() ? std::string("(defaults)") : text;
  };
  if (leave_last_out) {
    std::fprintf(stderr, "tune: %zu settings of %s, validation = each user's last training row in time\n",
                 grid.size(), name.c_str());
  } else {
    std::fprintf(stderr, "tune: %zu settings of %s, validation = %.0f%% of each user's training rows (seed %llu)\n",
                 grid.size(), name.c_str(), fraction * 100.0, static_cast<unsigned long long>(seed));
  }
  using Split = mr::eval::GridSearchOptions::Split;
  const auto result = mr::eval::grid_search(
      train, grid, [&](const mr::eval::ParameterSet& set) { return make_model(name, set); },
      {.k = k,
       .validation_fraction = fraction,
       .seed = seed,
       .split = leave_last_out ? Split::leave_last_out : Split::per_user_random},
      [&](const mr::eval::GridPoint& point) {
        std::fprintf(stderr, "tune: %s -> ndcg@%zu %.6f\n", describe(point.parameters).c_str(), k,
                     point.ndcg);
      });
  std::fprintf(stderr, "tune: best %s (ndcg@%zu %.6f); refitting on the whole training file\n",
               describe(result.best_parameters()).c_str(), k, result.points[result.best].ndcg);
  return result.best_parameters();
}

// ---- helpers ----------------------------------------------------------------------------------

/// The interactions reader's options given on the command line (--delimiter, --skip-bad-rows,
/// --duplicates): held-out data from elsewhere may be tab-separated or have a few bad rows.
mr::io::InteractionsCsvOptions reader_options(Options& opt) {
  mr::io::InteractionsCsvOptions o;
  const std::string delimiter = opt.text("--delimiter", ",");
  if (delimiter == "tab" || delimiter == "\\t") {
    o.delimiter = '\t';
  } else if (delimiter.size() == 1) {
    o.delimiter = delimiter[0];
  } else {
    throw mr::Error("--delimiter expects one character or 'tab', got '" + delimiter + "'");
  }
  const std::string skip = opt.text("--skip-bad-rows", "no");
  if (skip != "yes" && skip != "no") throw mr::Error("--skip-bad-rows expects yes or no");
  o.skip_bad_rows = skip == "yes";
  const std::string duplicates = opt.text("--duplicates", "keep-last");
  using D = mr::io::InteractionsCsvOptions::Duplicates;
  if (duplicates == "keep-last") {
    o.duplicates = D::keep_last;
  } else if (duplicates == "keep-first") {
    o.duplicates = D::keep_first;
  } else if (duplicates == "error") {
    o.duplicates = D::error;
  } else {
    throw mr::Error("--duplicates expects keep-last, keep-first or error, got '" + duplicates + "'");
  }
  return o;
}

mr::Interactions load(const std::string& path, const mr::io::InteractionsCsvOptions& options,
                      const mr::Interactions* base = nullptr) {
  mr::io::ReadReport report;
  mr::Interactions data = mr::io::read_interactions_csv(path, options, &report, base);
  std::fprintf(stderr, "%s\n", report.summary().c_str());
  return data;
}

std::ofstream open_out(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw mr::Error("cannot write '" + path + "'");
  return out;
}

void close_out(std::ofstream& out, const std::string& path) {
  out.flush();
  if (!out) throw mr::Error("writing '" + path + "' failed");
}

// ---- split ------------------------------------------------------------------------------------

int run_split(Options& opt) {
  const std::string input = opt.required("--input");
  const std::string train_out = opt.required("--train-out");
  const std::string test_out = opt.required("--test-out");
  const auto validation_out = opt.get("--validation-out");
  const std::string method = opt.text("--method", "random");
  const double test_fraction = opt.number("--test-fraction", 0.2);
  const double validation_fraction = opt.number("--validation-fraction", 0.0);
  const std::uint64_t seed = opt.integer("--seed", 42);
  const mr::io::InteractionsCsvOptions read_options = reader_options(opt);
  opt.check_all_used();
  if (validation_fraction > 0 && !validation_out) {
    throw mr::Error("--validation-fraction needs --validation-out");
  }
  const std::set<std::string> outputs = {train_out, test_out, validation_out.value_or(train_out)};
  if (outputs.size() != (validation_out ? 3u : 2u) || outputs.contains(input)) {
    throw mr::Error("split: the input and output files must all be different files");
  }

  const mr::Interactions data = load(input, read_options);
  mr::eval::Split split;
  if (method == "random") {
    split = mr::eval::split_per_user_random(data, test_fraction, seed, validation_fraction);
  } else if (method == "temporal") {
    split = mr::eval::split_temporal(data, test_fraction, validation_fraction);
  } else if (method == "leave-last-out") {
    split = mr::eval::split_leave_last_out(data, validation_out.has_value());
  } else {
    throw mr::Error("unknown --method '" + method + "' (random, temporal, leave-last-out)");
  }
  const auto write = [](const std::string& path, const mr::Interactions& part) {
    auto out = open_out(path);
    mr::io::write_interactions_csv(out, part);
    close_out(out, path);
  };
  // An empty part would be a file the other commands refuse: say so now, not one step later.
  if (split.test.empty()) throw mr::Error("split: the test part is empty (too few rows per user?)");
  if (validation_out && split.validation.empty()) {
    throw mr::Error("split: the validation part is empty (too few rows per user?)");
  }
  write(train_out, split.train);
  write(test_out, split.test);
  if (validation_out) write(*validation_out, split.validation);
  std::fprintf(stderr, "split (%s): %zu train, %zu validation, %zu test rows\n", method.c_str(),
               split.train.size(), split.validation.size(), split.test.size());
  return 0;
}

// ---- recommend --------------------------------------------------------------------------------

int run_recommend(Options& opt) {
  const std::string train_path = opt.required("--train");
  const std::string model_name = opt.required("--model");
  const std::string out_path = opt.required("--out");
  const auto users_path = opt.get("--users");
  const auto test_path = opt.get("--test");
  const auto items_path = opt.get("--items");
  const std::size_t k = opt.integer("--k", 10, 1, 1'000'000);
  const bool tune = opt.choice("--tune", {"no", "yes"}, "no") == "yes";
  const bool tune_last_out = opt.choice("--tune-split", {"random", "leave-last-out"}, "random") == "leave-last-out";
  const double tune_fraction = opt.number("--tune-fraction", 0.2);
  const std::uint64_t tune_seed = opt.integer("--tune-seed", 7);
  if (tune_last_out && (opt.get("--tune-fraction") || opt.get("--tune-seed"))) {
    throw mr::Error("--tune-fraction and --tune-seed set the random validation split: with --tune-split "
                    "leave-last-out the validation rows are each user's last training row");
  }
  const mr::io::InteractionsCsvOptions read_options = reader_options(opt);
  opt.check_all_used();
  if (users_path.has_value() == test_path.has_value()) {
    throw mr::Error("give exactly one of --users and --test");
  }

  mr::Interactions train = load(train_path, read_options);
  // The candidates are the training items plus, with --items, every item of the catalog file:
  // items no one interacted with yet (cold items) can be recommended too.
  std::size_t cold_items = 0;
  if (items_path) {
    mr::io::ReadReport report;
    for (const auto& record : mr::io::read_items_csv(*items_path, {}, &report)) {
      if (!train.items.contains(record.id)) {
        train.items.intern(record.id);
        ++cold_items;
      }
    }
    std::fprintf(stderr, "%s (%zu items not in the train file added as candidates)\n",
                 report.summary().c_str(), cold_items);
  }
  const std::map<std::string, std::string> given = opt.params();
  auto model = make_model(model_name, given);
  if (tune) {
    const auto best = tune_parameters(model_name, given, train, k, tune_fraction, tune_seed, tune_last_out);
    model = make_model(model_name, best);
  }

  // The users to recommend for, in file order; ids training never saw get indices past the end
  // of the training user map (the model gives them its cold-start scores).
  mr::IdMap users = train.users;
  std::vector<std::size_t> wanted;
  std::set<std::size_t> listed;
  const auto add_user = [&](const std::string& id) {
    const std::size_t u = users.intern(id);
    if (listed.insert(u).second) wanted.push_back(u);
  };
  if (users_path) {
    mr::io::ReadReport report;
    for (const std::string& id : mr::io::read_user_list(*users_path, &report)) add_user(id);
    std::fprintf(stderr, "%s\n", report.summary().c_str());
  } else {
    const mr::Interactions test = load(*test_path, read_options, &train);
    for (const mr::Interaction& row : test.rows) add_user(test.users.id(row.user));
  }

  model.fit(train);
  const auto recs = mr::eval::recommend_for_users(model, train, wanted, k);

  auto out = open_out(out_path);
  out << "user_id,item_id,rank\n";
  std::size_t cold = 0;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    cold += wanted[i] >= train.users.size() ? 1 : 0;
    for (std::size_t r = 0; r < recs[i].size(); ++r) {
      out << mr::io::csv_field(users.id(wanted[i])) << ','
          << mr::io::csv_field(train.items.id(recs[i][r].index)) << ',' << (r + 1) << '\n';
    }
  }
  close_out(out, out_path);
  std::fprintf(stderr, "recommend (%s): top-%zu for %zu users (%zu unseen in training) -> %s\n",
               std::string(model.name()).c_str(), k, wanted.size(), cold, out_path.c_str());
  return 0;
}

// ---- score ------------------------------------------------------------------------------------

int run_score(Options& opt) {
  const std::string recs_path = opt.required("--recs");
  const std::string test_path = opt.required("--test");
  const std::string train_path = opt.required("--train");
  const auto items_path = opt.get("--items");
  const std::size_t k = opt.integer("--k", 10, 1, 1'000'000);
  const mr::io::InteractionsCsvOptions read_options = reader_options(opt);
  opt.check_all_used();

  const mr::Interactions train = load(train_path, read_options);
  mr::Interactions test = load(test_path, read_options, &train);
  std::vector<mr::io::ItemRecord> records;
  if (items_path) {
    mr::io::ReadReport report;
    records = mr::io::read_items_csv(*items_path, {}, &report);
    std::fprintf(stderr, "%s\n", report.summary().c_str());
    for (const auto& record : records) test.items.intern(record.id);
  }
  // The catalog: every item of the train, test and items files. Coverage is measured against
  // it, so it does not depend on what a model recommends.
  const std::size_t n_items = test.items.size();

  // Recommendations: user_id,item_id,rank, each user's ranks exactly 1..n.
  std::ifstream in(recs_path);
  if (!in) throw mr::Error("cannot read '" + recs_path + "'");
  mr::io::CsvReader reader(in, recs_path);
  std::vector<std::string> fields;
  if (!reader.next(fields) || fields != std::vector<std::string>{"user_id", "item_id", "rank"}) {
    throw mr::Error(recs_path + ":1: expected the header user_id,item_id,rank");
  }
  std::map<std::size_t, std::map<std::uint64_t, std::size_t>> by_user;  // user -> rank -> item
  std::size_t rows = 0;
  while (reader.next(fields)) {
    ++rows;
    const std::string where = recs_path + ":" + std::to_string(reader.line());
    if (fields.size() != 3) throw mr::Error(where + ": expected 3 fields, got " + std::to_string(fields.size()));
    const std::uint64_t rank = Options::parse_integer(where + ": rank", fields[2], 1, 1'000'000);
    const auto item = test.items.find(fields[1]);
    if (!item) {
      throw mr::Error(where + ": item '" + fields[1] + "' is in none of the train, test" +
                      (items_path ? ", items" : "") + " files");
    }
    const std::size_t user = test.users.intern(fields[0]);
    if (!by_user[user].emplace(rank, *item).second) {
      throw mr::Error(where + ": rank " + fields[2] + " given twice for user '" + fields[0] + "'");
    }
  }
  std::vector<std::vector<std::size_t>> ranked(test.users.size());
  for (auto& [user, ranks] : by_user) {
    std::set<std::size_t> seen;
    std::uint64_t expected = 1;
    for (const auto& [rank, item] : ranks) {
      if (rank != expected) {
        throw mr::Error(recs_path + ": user '" + test.users.id(user) + "' has no rank " +
                        std::to_string(expected) + " (ranks must be 1, 2, ... without gaps)");
      }
      ++expected;
      if (!seen.insert(item).second) {
        throw mr::Error(recs_path + ": item '" + test.items.id(item) + "' recommended twice to user '" +
                        test.users.id(user) + "'");
      }
      ranked[user].push_back(item);
    }
  }

  // Pairs a model could never be credited for (the test item is also the user's training item),
  // and recommendations of training items (a harness bug): counted, not hidden.
  std::vector<std::set<std::size_t>> train_items(train.users.size());
  for (const mr::Interaction& row : train.rows) train_items[row.user].insert(row.item);
  std::size_t test_in_train = 0, recs_in_train = 0;
  for (const mr::Interaction& row : test.rows) {
    test_in_train += row.user < train_items.size() && train_items[row.user].contains(row.item) ? 1 : 0;
  }
  for (std::size_t user = 0; user < ranked.size() && user < train_items.size(); ++user) {
    for (const std::size_t item : ranked[user]) recs_in_train += train_items[user].contains(item) ? 1 : 0;
  }

  const std::vector<double> popularity = mr::eval::item_popularity(train, n_items);
  mr::eval::MetricOptions options;
  options.k = k;
  options.popularity = popularity;
  options.popularity_users = train.users.size();
  std::vector<float> prices;
  std::vector<std::size_t> categories;
  if (items_path) {
    prices.assign(n_items, 0.0f);
    categories.assign(n_items, 0);
    mr::IdMap category_ids;
    category_ids.intern("");  // category 0: items the items file does not describe
    bool any_price = false, any_category = false;
    for (const auto& record : records) {
      const std::size_t i = test.items.at(record.id);
      prices[i] = record.price;
      categories[i] = category_ids.intern(record.category);
      any_price = any_price || record.price > 0.0f;
      any_category = any_category || !record.category.empty();
    }
    // Metrics of a column the file does not have would print as a measured 0: leave them out.
    if (any_price) options.prices = prices;
    if (any_category) options.category_of_item = categories;
  }

  const mr::eval::MetricTable table = mr::eval::evaluate(ranked, test, n_items, options);
  std::printf("%s", table.to_string().c_str());
  std::fprintf(stderr, "score: %zu recommendation rows for %zu users; catalog of %zu items\n", rows,
               by_user.size(), n_items);
  if (test_in_train > 0) {
    std::fprintf(stderr, "note: %zu test rows repeat a (user, item) pair of the train file; they count "
                 "as relevant but are never recommended\n", test_in_train);
  }
  if (recs_in_train > 0) {
    std::fprintf(stderr, "WARNING: %zu recommendations are items the user has in the train file\n",
                 recs_in_train);
  }
  return 0;
}

// ---- ope --------------------------------------------------------------------------------------

/// A learned policy for `ope`: a model trained on the first part of the log, and the probability
/// its explorer gives each action in a context.
struct LearnedPolicy {
  /// Learns from one logged row (context, shown item, click).
  std::function<void(const mr::Context&, std::size_t, double)> learn;
  /// Writes π(a | context) for every action a.
  std::function<void(const mr::Context&, std::span<double>)> probabilities;
};

/// π over the actions of a deterministic choice: 1 for the best score (ties: lower index).
void argmax_probabilities(std::span<const float> scores, std::span<double> out) {
  std::size_t best = 0;
  for (std::size_t a = 1; a < scores.size(); ++a) best = scores[a] > scores[best] ? a : best;
  std::fill(out.begin(), out.end(), 0.0);
  out[best] = 1.0;
}

template <class M>
LearnedPolicy scored_policy(M model, const std::string& explore, double epsilon, double temperature,
                            std::size_t n_actions) {
  auto shared = std::make_shared<M>(std::move(model));
  auto scores = std::make_shared<std::vector<float>>(n_actions);
  LearnedPolicy p;
  p.learn = [shared](const mr::Context& c, std::size_t a, double r) { shared->update(c, a, r); };
  p.probabilities = [=](const mr::Context& c, std::span<double> out) {
    shared->score(c, mr::Candidates::all(n_actions), *scores);
    if (explore == "softmax") {
      const float top = *std::max_element(scores->begin(), scores->end());
      double total = 0.0;
      for (std::size_t a = 0; a < n_actions; ++a) total += out[a] = std::exp(((*scores)[a] - top) / temperature);
      for (double& x : out) x /= total;
      return;
    }
    argmax_probabilities(*scores, out);
    if (explore == "epsilon") {
      for (double& x : out) x = (1.0 - epsilon) * x + epsilon / static_cast<double>(n_actions);
    }
  };
  return p;
}

/// A feature map named on the command line (features=context|item|concat|cross).
void feature_map_param(std::map<std::string, std::string>& p, mr::FeatureMap& map) {
  const auto v = take(p, "features");
  if (!v) return;
  for (const mr::FeatureMap m : {mr::FeatureMap::context, mr::FeatureMap::item, mr::FeatureMap::concat,
                                 mr::FeatureMap::cross}) {
    if (*v == mr::to_string(m)) {
      map = m;
      return;
    }
  }
  throw mr::Error("features expects context, item, concat or cross, got '" + *v + "'");
}

/// The learned policy `name` with the parameters of `p` (taken out of it; what is left is an
/// error, reported by the caller).
LearnedPolicy make_policy(const std::string& name, std::map<std::string, std::string>& p,
                          const std::string& explore, double epsilon, double temperature,
                          std::size_t n_actions, std::uint64_t seed) {
  using F = mr::FeatureMap;
  ParamReader r(p);
  // What LinUcb and LinThompson configs share: features, ridge, mode.
  const auto linear_bandit_params = [&](auto& c) {
    feature_map_param(p, c.features);
    r.number("ridge", c.ridge);
    bool disjoint = false;
    r.flag("mode", disjoint, "shared", "disjoint");
    c.mode = disjoint ? mr::LinearMode::disjoint : mr::LinearMode::shared;
  };
  if (name == "linucb") {
    if (explore != "model") throw mr::Error("--policy linucb explores by its own bound: drop --explore");
    mr::LinUcbConfig c{.features = F::concat, .alpha = 1.0f};
    linear_bandit_params(c);
    r.number("alpha", c.alpha);
    auto model = std::make_shared<mr::LinUcb>(c);
    auto scores = std::make_shared<std::vector<float>>(n_actions);
    return {[model](const mr::Context& x, std::size_t a, double rw) { model->update(x, a, rw); },
            [=](const mr::Context& x, std::span<double> out) {
              model->upper_bound(x, mr::Candidates::all(n_actions), *scores);
              argmax_probabilities(*scores, out);
            }};
  }
  if (name == "linthompson") {
    if (explore != "model") throw mr::Error("--policy linthompson explores by posterior draws: drop --explore");
    mr::LinThompsonConfig c{.features = F::concat};
    linear_bandit_params(c);
    r.number("v", c.v);
    auto model = std::make_shared<mr::LinThompson>(c);
    auto scores = std::make_shared<std::vector<float>>(n_actions);
    auto rng = std::make_shared<mr::Rng>(seed);
    return {[model](const mr::Context& x, std::size_t a, double rw) { model->update(x, a, rw); },
            [=](const mr::Context& x, std::span<double> out) {
              // Thompson's π(a | x) has no closed form: the share of 200 posterior draws whose
              // best action is a.
              constexpr int draws = 200;
              std::vector<double> one(n_actions);
              std::fill(out.begin(), out.end(), 0.0);
              for (int d = 0; d < draws; ++d) {
                model->sample_scores(x, mr::Candidates::all(n_actions), *scores, *rng);
                argmax_probabilities(*scores, one);
                for (std::size_t a = 0; a < n_actions; ++a) out[a] += one[a] / draws;
              }
            }};
  }
  if (explore == "model") throw mr::Error("--policy " + name + " needs --explore greedy|epsilon|softmax");
  if (name == "linear") {
    mr::LinearQConfig c{.features = F::cross, .alpha = 0.01f, .gamma = 0.0f, .history_in_state = false};
    feature_map_param(p, c.features);
    r.number("learning_rate", c.alpha);
    return scored_policy(mr::LinearQ(c), explore, epsilon, temperature, n_actions);
  }
  if (name == "mlp") {
    mr::MlpScorerConfig c{.hidden = {32}, .learning_rate = 1e-3f, .seed = seed};
    std::size_t width = 32;
    r.count("hidden", width, 1, 4096);
    c.hidden = {width};
    r.number("learning_rate", c.learning_rate);
    r.number("l2", c.l2);
    return scored_policy(mr::MlpScorer(c), explore, epsilon, temperature, n_actions);
  }
  throw mr::Error("unknown --policy '" + name + "' (uniform, linucb, linthompson, linear, mlp)");
}

int run_ope(Options& opt) {
  const std::string log_path = opt.required("--log");
  const std::string items_path = opt.required("--item-context");
  const std::string policy = opt.text("--policy", "uniform");
  const double train_fraction = opt.number("--train-fraction", 0.0);
  const std::string explore =
      opt.choice("--explore", {"model", "greedy", "epsilon", "softmax"}, "model");
  const double epsilon = opt.number("--epsilon", 0.1);
  const double temperature = opt.number("--temperature", 0.05);
  mr::eval::BootstrapOptions bootstrap;
  bootstrap.samples = opt.integer("--bootstrap", 1000, 0, 100'000);
  bootstrap.seed = opt.integer("--seed", 1);
  std::map<std::string, std::string> params = opt.params();
  opt.check_all_used();
  if (policy == "uniform" && !params.empty()) {
    throw mr::Error("--policy uniform has no parameters (got --param " + params.begin()->first + "=...)");
  }
  if (!(train_fraction >= 0.0 && train_fraction < 1.0)) {
    throw mr::Error("--train-fraction must be in [0, 1)");
  }
  if (policy != "uniform" && train_fraction == 0.0) {
    throw mr::Error("--policy " + policy + " is learned: give --train-fraction (e.g. 0.7)");
  }
  if (!(epsilon >= 0.0 && epsilon <= 1.0)) throw mr::Error("--epsilon must be in [0, 1]");
  if (!(temperature > 0.0)) throw mr::Error("--temperature must be positive");

  mr::io::ReadReport report;
  const mr::io::ObdLog log = mr::io::read_obd(log_path, items_path, &report);
  std::fprintf(stderr, "%s\n", report.summary().c_str());
  const std::size_t n_train =
      static_cast<std::size_t>(std::floor(train_fraction * static_cast<double>(log.decisions.size())));
  const std::span<const mr::LoggedDecision> all(log.decisions);
  const std::span<const mr::LoggedDecision> train = all.first(n_train);
  const std::span<const mr::LoggedDecision> d = all.subspan(n_train);  // evaluated (last part by time)
  if (d.empty()) throw mr::Error("the evaluated part of the log is empty");
  const std::size_t K = log.n_actions;

  // The learned policies' inputs: the user features, the position (one-hot) and a constant 1;
  // each item's features and a constant 1 (so concatenated or crossed features keep main effects).
  const std::size_t xd = log.context_dim + log.n_positions + 1, ad = log.action_dim + 1;
  mr::AlignedVector<float> items(K * ad, 1.0f);
  for (std::size_t a = 0; a < K; ++a) {
    for (std::size_t j = 0; j < log.action_dim; ++j) items[a * ad + j] = log.action_matrix().row(a)[j];
  }
  const mr::MatrixView item_view(std::span<const float>(items), K, ad);
  std::vector<float> x(xd);
  const auto context_of = [&](const mr::LoggedDecision& row) {
    std::fill(x.begin(), x.end(), 0.0f);
    const auto user = log.context_matrix().row(row.context);
    std::copy(user.begin(), user.end(), x.begin());
    x[log.context_dim + row.position] = 1.0f;
    x[xd - 1] = 1.0f;
    return mr::Context{.features = x, .items = item_view};
  };

  double clicks = 0;
  for (const auto& row : d) clicks += row.reward;
  const double rate = clicks / static_cast<double>(d.size());
  // A direct-method model: each action's click rate (shrunk to the overall rate, 10
  // pseudo-observations), fitted on the training part (the whole log when there is none).
  const std::span<const mr::LoggedDecision> fit = train.empty() ? d : train;
  std::vector<double> action_clicks(K, 0.0), action_shows(K, 0.0);
  double fit_clicks = 0.0;
  for (const auto& row : fit) {
    action_clicks[row.action] += row.reward;
    action_shows[row.action] += 1.0;
    fit_clicks += row.reward;
  }
  const double fit_rate = fit_clicks / static_cast<double>(fit.size());
  std::vector<double> q_action(K);
  for (std::size_t a = 0; a < K; ++a) q_action[a] = (action_clicks[a] + 10.0 * fit_rate) / (action_shows[a] + 10.0);

  // π_e(a_i | x_i) for the logged action, and Σ_a π_e(a | x_i) q̂(a).
  std::vector<double> target(d.size()), value(d.size()), q_logged(d.size()), pi(K);
  std::size_t support = 0;  // rows where the target policy could have chosen the logged action
  if (policy == "uniform") {
    double v = 0.0;
    for (std::size_t a = 0; a < K; ++a) v += q_action[a] / static_cast<double>(K);
    std::fill(target.begin(), target.end(), 1.0 / static_cast<double>(K));
    std::fill(value.begin(), value.end(), v);
    support = d.size();
  } else {
    LearnedPolicy learned =
        make_policy(policy, params, explore, epsilon, temperature, K, bootstrap.seed);
    if (!params.empty()) {
      throw mr::Error("--policy " + policy + " has no parameter '" + params.begin()->first + "'");
    }
    for (const auto& row : train) learned.learn(context_of(row), row.action, row.reward);
    for (std::size_t i = 0; i < d.size(); ++i) {
      learned.probabilities(context_of(d[i]), pi);
      target[i] = pi[d[i].action];
      support += target[i] > 0.0 ? 1 : 0;
      double v = 0.0;
      for (std::size_t a = 0; a < K; ++a) v += pi[a] * q_action[a];
      value[i] = v;
    }
  }
  for (std::size_t i = 0; i < d.size(); ++i) q_logged[i] = q_action[d[i].action];

  const auto print = [](const char* name, const mr::eval::Estimate& e) {
    std::printf("%-22s %.6f  [%.6f, %.6f]  n=%zu\n", name, e.value, e.ci_low, e.ci_high, e.n);
  };
  std::printf("log: %s  (%zu decisions, %zu actions, %zu positions)\n", log_path.c_str(),
              log.decisions.size(), K, log.n_positions);
  if (n_train > 0) {
    std::printf("trained on the first %zu rows by time; evaluated on the last %zu\n", n_train, d.size());
  }
  std::printf("empirical click rate   %.6f  (%g clicks in the evaluated rows)\n", rate, clicks);
  std::printf("policy: %s%s%s; %.0f%% bootstrap intervals, %zu resamples\n", policy.c_str(),
              explore == "model" ? "" : " + ", explore == "model" ? "" : explore.c_str(),
              100 * bootstrap.confidence, bootstrap.samples);
  std::printf("rows the policy could have chosen the logged action in: %zu of %zu\n", support, d.size());
  print("IPS", mr::eval::ips(d, target, bootstrap));
  print("SNIPS", mr::eval::snips(d, target, bootstrap));
  // DM's model is fitted once (per-row values differ only through π), so its bootstrap interval
  // would show only the resampling of rows, not the model's error.
  std::printf("%-22s %.6f  (no interval: its model is fitted once)\n", "DM",
              mr::eval::direct_method(value, {.samples = 0, .confidence = 0.95, .seed = 1}).value);
  print("DR", mr::eval::doubly_robust(d, target, q_logged, value, bootstrap));
  return 0;
}

int run_models() {
  for (const ModelInfo& info : models()) {
    std::printf("%-10s %s\n           parameters: %s\n", info.name, info.description, info.parameters);
    if (!info.grid.empty()) {
      std::string grid;
      for (const auto& [key, values] : info.grid) {
        grid += (grid.empty() ? "" : " ") + key + "=";
        for (std::size_t i = 0; i < values.size(); ++i) grid += (i == 0 ? "" : "|") + values[i];
      }
      std::printf("           --tune yes tries: %s\n", grid.c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  Options options(argc, argv, 2);
  if (command == "split") return run_split(options);
  if (command == "recommend") return run_recommend(options);
  if (command == "score") return run_score(options);
  if (command == "ope") return run_ope(options);
  if (command == "models") return run_models();
  throw mr::Error("unknown command '" + command + "' (split, recommend, score, ope, models)");
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_eval: %s\n", e.what());
  return 1;
}
