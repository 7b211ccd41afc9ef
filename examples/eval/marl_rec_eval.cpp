// marl_rec_eval — the evaluation command: split interaction data, train a model, write top-k
// recommendations, score them, and estimate policy values on logged bandit data.
//
// This is the interface by which marl_rec is evaluated on data it has never seen, so it is kept
// stable; docs/evaluation.md documents every subcommand, option and file format.
#include <marl_rec/marl_rec.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/eval/any_batch_recommender.hpp"
#include "marl_rec/eval/batch_recommend.hpp"
#include "marl_rec/eval/metrics.hpp"
#include "marl_rec/eval/off_policy.hpp"
#include "marl_rec/eval/split.hpp"
#include "marl_rec/io/csv.hpp"
#include "marl_rec/io/csv_writer.hpp"
#include "marl_rec/io/interactions_csv.hpp"
#include "marl_rec/io/items_csv.hpp"
#include "marl_rec/io/obd.hpp"
#include "marl_rec/models/most_popular.hpp"
#include "marl_rec/models/random_recommender.hpp"

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
score     --recs FILE --test FILE --train FILE [--k 10] [--items FILE]
ope       --log FILE --item-context FILE [--policy uniform] [--bootstrap 1000] [--seed 1]

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
  double number(const std::string& flag, double fallback) {
    const auto v = get(flag);
    return v ? parse_number(flag, *v) : fallback;
  }
  std::size_t count(const std::string& flag, std::size_t fallback) {
    const auto v = get(flag);
    if (!v) return fallback;
    const double x = parse_number(flag, *v);
    if (x < 0 || x != std::floor(x)) throw mr::Error(flag + " expects a whole number, got '" + *v + "'");
    return static_cast<std::size_t>(x);
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
};

// Takes parameter `key` out of `params` (so unknown ones can be reported afterwards).
std::optional<std::string> take(std::map<std::string, std::string>& params, const std::string& key) {
  const auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  std::string v = it->second;
  params.erase(it);
  return v;
}

const std::vector<ModelInfo>& models() {
  static const std::vector<ModelInfo> list = {
      {"mostpop", "the items with the most training interactions, for everyone", "(none)",
       [](std::map<std::string, std::string>&) {
         return mr::eval::AnyBatchRecommender(mr::MostPopular{});
       }},
      {"random", "a seeded random ranking per user", "seed=42",
       [](std::map<std::string, std::string>& p) {
         mr::RandomRecommender::Config c;
         if (auto v = take(p, "seed")) c.seed = static_cast<std::uint64_t>(Options::parse_number("seed", *v));
         return mr::eval::AnyBatchRecommender(mr::RandomRecommender(c));
       }},
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

// ---- helpers ----------------------------------------------------------------------------------

mr::Interactions load(const std::string& path, const mr::Interactions* base = nullptr) {
  mr::io::ReadReport report;
  mr::Interactions data = mr::io::read_interactions_csv(path, {}, &report, base);
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
  const auto seed = static_cast<std::uint64_t>(opt.number("--seed", 42));
  opt.check_all_used();
  if (validation_fraction > 0 && !validation_out) {
    throw mr::Error("--validation-fraction needs --validation-out");
  }

  const mr::Interactions data = load(input);
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
  const std::size_t k = opt.count("--k", 10);
  opt.check_all_used();
  if (users_path.has_value() == test_path.has_value()) {
    throw mr::Error("give exactly one of --users and --test");
  }

  mr::Interactions train = load(train_path);
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
  auto model = make_model(model_name, opt.params());

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
    for (const std::string& id : mr::io::read_user_list(*users_path)) add_user(id);
  } else {
    const mr::Interactions test = load(*test_path, &train);
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
  const std::size_t k = opt.count("--k", 10);
  opt.check_all_used();

  const mr::Interactions train = load(train_path);
  mr::Interactions test = load(test_path, &train);

  // Recommendations: user_id,item_id,rank. Ids are looked up in (train + test)'s maps; an item
  // neither knows is kept (it can never be relevant) and counted.
  std::ifstream in(recs_path);
  if (!in) throw mr::Error("cannot read '" + recs_path + "'");
  mr::io::CsvReader reader(in, recs_path);
  std::vector<std::string> fields;
  if (!reader.next(fields) || fields.size() < 3 || fields[0] != "user_id" || fields[1] != "item_id" ||
      fields[2] != "rank") {
    throw mr::Error(recs_path + ":1: expected the header user_id,item_id,rank");
  }
  std::map<std::size_t, std::map<std::size_t, std::size_t>> by_user;  // user -> rank -> item
  std::size_t unknown_items = 0, training_items = 0, rows = 0;
  std::vector<std::set<std::size_t>> train_items(train.users.size());
  for (const mr::Interaction& row : train.rows) train_items[row.user].insert(row.item);
  while (reader.next(fields)) {
    ++rows;
    const std::string where = recs_path + ":" + std::to_string(reader.line());
    if (fields.size() != 3) throw mr::Error(where + ": expected 3 fields, got " + std::to_string(fields.size()));
    const double rank = Options::parse_number(where + ": rank", fields[2]);
    if (rank < 1 || rank != std::floor(rank)) throw mr::Error(where + ": rank must be a whole number >= 1");
    const std::size_t user = test.users.intern(fields[0]);
    const bool known_item = test.items.contains(fields[1]);
    const std::size_t item = test.items.intern(fields[1]);
    unknown_items += known_item ? 0 : 1;
    if (user < train_items.size() && train_items[user].contains(item)) ++training_items;
    auto& ranks = by_user[user];
    if (!ranks.emplace(static_cast<std::size_t>(rank), item).second) {
      throw mr::Error(where + ": rank " + fields[2] + " given twice for user '" + fields[0] + "'");
    }
  }
  std::vector<std::vector<std::size_t>> ranked(test.users.size());
  for (auto& [user, ranks] : by_user) {
    std::set<std::size_t> seen;
    for (const auto& [rank, item] : ranks) {
      if (!seen.insert(item).second) {
        throw mr::Error(recs_path + ": item '" + test.items.id(item) + "' recommended twice to user '" +
                        test.users.id(user) + "'");
      }
      ranked[user].push_back(item);
    }
  }

  // The catalog is every item the train, test and recommendation files name; items only in
  // test cannot be recommended by a model trained on train, but they still count as relevant.
  const std::size_t n_items = test.items.size();
  const std::vector<double> popularity = mr::eval::item_popularity(train, n_items);
  mr::eval::MetricOptions options;
  options.k = k;
  options.popularity = popularity;
  options.popularity_users = train.users.size();
  std::vector<float> prices;
  std::vector<std::size_t> categories;
  if (items_path) {
    mr::io::ReadReport report;
    const auto records = mr::io::read_items_csv(*items_path, {}, &report);
    std::fprintf(stderr, "%s\n", report.summary().c_str());
    prices.assign(n_items, 0.0f);
    categories.assign(n_items, 0);
    mr::IdMap category_ids;
    category_ids.intern("");
    for (const auto& record : records) {
      if (const auto i = test.items.find(record.id)) {
        prices[*i] = record.price;
        categories[*i] = category_ids.intern(record.category);
      }
    }
    options.prices = prices;
    options.category_of_item = categories;
  }

  const mr::eval::MetricTable table = mr::eval::evaluate(ranked, test, n_items, options);
  std::printf("%s", table.to_string().c_str());
  std::fprintf(stderr, "score: %zu recommendation rows, %zu for users with test rows", rows,
               by_user.size());
  if (unknown_items > 0) std::fprintf(stderr, "; %zu name items unknown to train and test", unknown_items);
  if (training_items > 0) {
    std::fprintf(stderr, "; WARNING: %zu recommend an item the user has in training", training_items);
  }
  std::fprintf(stderr, "\n");
  return 0;
}

// ---- ope --------------------------------------------------------------------------------------

int run_ope(Options& opt) {
  const std::string log_path = opt.required("--log");
  const std::string items_path = opt.required("--item-context");
  const std::string policy = opt.text("--policy", "uniform");
  mr::eval::BootstrapOptions bootstrap;
  bootstrap.samples = opt.count("--bootstrap", 1000);
  bootstrap.seed = static_cast<std::uint64_t>(opt.number("--seed", 1));
  opt.check_all_used();
  if (policy != "uniform") throw mr::Error("unknown --policy '" + policy + "' (uniform)");

  mr::io::ReadReport report;
  const mr::io::ObdLog log = mr::io::read_obd(log_path, items_path, &report);
  std::fprintf(stderr, "%s\n", report.summary().c_str());
  const auto& d = log.decisions;
  double clicks = 0;
  for (const auto& row : d) clicks += row.reward;

  // The uniform policy picks each of the n_actions items with probability 1/n_actions at every
  // position; its value on this log's own rewards is the click rate, which IPS must recover.
  std::vector<double> target(d.size(), 1.0 / static_cast<double>(log.n_actions));
  // A direct-method model: each action's click rate on the log (shrunk to the overall rate).
  std::vector<double> action_clicks(log.n_actions, 0.0), action_shows(log.n_actions, 0.0);
  for (const auto& row : d) {
    action_clicks[row.action] += row.reward;
    action_shows[row.action] += 1.0;
  }
  const double rate = d.empty() ? 0.0 : clicks / static_cast<double>(d.size());
  std::vector<double> q_action(log.n_actions);
  double v = 0.0;
  for (std::size_t a = 0; a < log.n_actions; ++a) {
    q_action[a] = (action_clicks[a] + 10.0 * rate) / (action_shows[a] + 10.0);
    v += q_action[a] / static_cast<double>(log.n_actions);
  }
  std::vector<double> q_logged(d.size()), value(d.size(), v);
  for (std::size_t i = 0; i < d.size(); ++i) q_logged[i] = q_action[d[i].action];

  const auto print = [](const char* name, const mr::eval::Estimate& e) {
    std::printf("%-22s %.6f  [%.6f, %.6f]  n=%zu\n", name, e.value, e.ci_low, e.ci_high, e.n);
  };
  std::printf("log: %s  (%zu decisions, %zu actions, %zu positions)\n", log_path.c_str(), d.size(),
              log.n_actions, log.n_positions);
  std::printf("empirical click rate   %.6f  (%g clicks)\n", rate, clicks);
  std::printf("policy: %s; %.0f%% bootstrap intervals, %zu resamples\n", policy.c_str(),
              100 * bootstrap.confidence, bootstrap.samples);
  print("IPS", mr::eval::ips(d, target, bootstrap));
  print("SNIPS", mr::eval::snips(d, target, bootstrap));
  print("DM", mr::eval::direct_method(value, bootstrap));
  print("DR", mr::eval::doubly_robust(d, target, q_logged, value, bootstrap));
  return 0;
}

int run_models() {
  for (const ModelInfo& info : models()) {
    std::printf("%-10s %s\n           parameters: %s\n", info.name, info.description, info.parameters);
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
