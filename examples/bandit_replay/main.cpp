// marl_rec_bandit_replay — learns a recommendation policy from real logged bandit feedback and
// estimates, off-policy and before it serves anyone, what it would earn, with 95% intervals.
//
// The data are the Open Bandit Dataset's uniform-random logs (ZOZOTOWN, a fashion shop; see
// shared/data/obd/README.md): each row is one item shown at one of 3 positions by a policy that
// picked the item uniformly at random (propensity 1/K), and whether it was clicked.
//
// Protocol:
// - Split by time: the log is sorted by timestamp; the first --train-fraction (0.7) of its rows
//   train, the rest are held out for the estimates. No row is used for both.
// - Inputs: the user vector x = [one-hot user features, the K user-item affinities, one-hot
//   position, 1] (the position is part of the context: a policy picks the item for a given
//   slot); the item vector a = [item features (io::ObdLog), 1].
// - Learning (replay), in time order: each logged impression becomes a decision of the agent whose
//   only candidate is the item the log shows, and the logged click is its feedback. The agent
//   thus updates only on actions that were really shown (the reward of any other item in that
//   context is unknown), through the same recommend / learn path as when serving. The logger
//   chose uniformly, so every logged (x, a, click) is an unbiased sample of item a's reward at x.
//   - LinUCB: Agent<LinUcb>, one ridge regression per item over x (disjoint mode,
//     FeatureMap::context, ridge 1).
//   - LinearQ: Agent<LinearQ>, γ = 0 (a contextual bandit), one weight per user × item feature
//     pair (FeatureMap::cross), learning rate 0.01.
//   - most clicked: no context; the item with the best training click rate, shrunk toward the
//     overall rate by 10 pseudo-impressions (the baseline a contextual policy must beat).
// - Serving, frozen: a copy of each trained model in an Agent<M, Greedy> that is never told an
//   outcome, so it learns nothing more. Its greedy item g(x) defines two target policies:
//   greedy (π(a|x) = [a = g(x)]) and ε-greedy (π(a|x) = ε/K + (1 − ε)[a = g(x)], --epsilon).
// - Estimates on the held-out rows: IPS, SNIPS and DR (eval::ips, eval::snips,
//   eval::doubly_robust), each with a 95% percentile-bootstrap interval (--bootstrap resamples,
//   --seed). DR's reward model q̂(a) is the shrunk training click rate above, the same for every
//   policy. The uniform-random policy is the logging policy: its IPS must equal the held-out
//   click rate exactly (every weight is 1), which the program checks.
// - How to read the table. w_i = π(logged item | x_i) / (1/K) is row i's importance weight.
//   ESS = (Σ w)² / Σ w² is the number of equally weighted rows the estimate is worth. The rows
//   with w ≥ 1, where the policy is at least as likely as the logger to show the logged item,
//   carry the estimate: all rows for the uniform policy; for a greedy one (and mostly for an
//   ε-greedy one) the ~1 row in K where its item is the logged one. The verdict compares each
//   policy's three intervals with the logging policy's (its IPS interval): "better" or "worse"
//   only when all three lie entirely above or below it; otherwise the intervals overlap, which is
//   no evidence of a difference (overlap is a conservative test: the estimates share their
//   rows). When the rows with w ≥ 1 hold fewer than 10 clicks no verdict is given: with so few
//   events the percentile bootstrap understates the uncertainty (with no click it collapses to
//   [0, 0], and an ε-greedy policy's interval then reflects only its ε part).
//
// Usage: marl_rec_bandit_replay [--data DIR] [--campaign men|women|all] [--log FILE --item-context FILE]
//                               [--train-fraction F] [--epsilon E] [--bootstrap N] [--seed S]
//                               [--max-rows N] [--help]
// --data: the Open Bandit folder holding random/<campaign>/ (default: the shared data folder
// given to CMake, else ../shared/data/obd). --log / --item-context: any log in the Open Bandit
// layout instead (e.g. a campaign of the full 26M-row dataset). --max-rows N: only the first N
// rows (0 = all). The default run uses every row of the 10,000-row sample and takes well under
// a second at -O3; it is what CTest runs.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../support/flags.hpp"
#include "marl_rec/agent/agent.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/decision.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/logged_decision.hpp"
#include "marl_rec/eval/off_policy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/io/obd.hpp"
#include "marl_rec/io/read_report.hpp"
#include "marl_rec/models/feature_map.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace {

namespace mr = marl_rec;

constexpr const char* usage =
    "usage: marl_rec_bandit_replay [--data DIR] [--campaign men|women|all]\n"
    "                              [--log FILE --item-context FILE] [--train-fraction F]\n"
    "                              [--epsilon E] [--bootstrap N] [--seed S] [--max-rows N] [--help]\n"
    "Learns LinUCB and LinearQ policies on the first part of an Open Bandit log (by time) and\n"
    "estimates their click rate on the rest with IPS, SNIPS and DR (95% bootstrap intervals).\n"
    "  --data DIR          folder holding random/<campaign>/ (the Open Bandit sample)\n"
    "  --campaign NAME     men (default), women, or all (not in the sample: the full dataset)\n"
    "  --log FILE          a log in the Open Bandit layout (with --item-context; replaces --data)\n"
    "  --train-fraction F  the first F of the rows train, the rest evaluate (default 0.7)\n"
    "  --epsilon E         exploration rate of the epsilon-greedy rows (default 0.1)\n"
    "  --bootstrap N       bootstrap resamples per interval (default 1000)\n"
    "  --seed S            seed of the bootstrap (default 1)\n"
    "  --max-rows N        use only the first N rows of the log (default 0: all)\n";

struct Options {
#ifdef MARL_REC_SHARED_DATA_DIR
  std::string data = MARL_REC_SHARED_DATA_DIR "/obd";
#else
  std::string data = "../shared/data/obd";
#endif
  std::string campaign = "men";
  std::string log;
  std::string item_context;
  double train_fraction = 0.7;
  double epsilon = 0.1;
  std::size_t bootstrap = 1000;
  std::uint64_t seed = 1;
  std::size_t max_rows = 0;
  bool help = false;
};

Options parse(int argc, char** argv) {
  Options o;
  mr::examples::Flags flags(argc, argv);
  while (flags.next()) {
    if (flags.is("--help") || flags.is("-h")) {
      o.help = true;
    } else if (flags.is("--data")) {
      o.data = flags.text();
    } else if (flags.is("--campaign")) {
      o.campaign = flags.text();
      if (o.campaign != "men" && o.campaign != "women" && o.campaign != "all") {
        throw mr::Error("--campaign: expected men, women or all, got '" + o.campaign + "'");
      }
    } else if (flags.is("--log")) {
      o.log = flags.text();
    } else if (flags.is("--item-context")) {
      o.item_context = flags.text();
    } else if (flags.is("--train-fraction")) {
      o.train_fraction = flags.number(0.0, 1.0, true);
      if (o.train_fraction == 1.0) throw mr::Error("--train-fraction: must leave rows to hold out (< 1)");
    } else if (flags.is("--epsilon")) {
      o.epsilon = flags.number(0.0, 1.0);
      if (o.epsilon == 1.0) throw mr::Error("--epsilon: expected a number in [0, 1)");
    } else if (flags.is("--bootstrap")) {
      o.bootstrap = flags.whole(10);
    } else if (flags.is("--seed")) {
      o.seed = flags.whole();
    } else if (flags.is("--max-rows")) {
      o.max_rows = flags.whole();
    } else {
      flags.unknown();
    }
  }
  if (o.log.empty() != o.item_context.empty()) {
    throw mr::Error("--log and --item-context go together");
  }
  if (o.log.empty()) {
    o.log = o.data + "/random/" + o.campaign + "/" + o.campaign + ".csv";
    o.item_context = o.data + "/random/" + o.campaign + "/item_context.csv";
  }
  return o;
}

// The models' inputs for a logged row, built from the log's matrices (see the protocol).
class Inputs {
 public:
  explicit Inputs(const mr::io::ObdLog& log)
      : log_(&log),
        x_(log.context_dim + log.n_positions + 1),
        item_dim_(log.action_dim + 1),
        items_(log.n_actions * item_dim_, 1.0f) {  // the last column stays 1
    for (std::size_t a = 0; a < log.n_actions; ++a) {
      const std::span<const float> row = log.action_matrix().row(a);
      std::copy(row.begin(), row.end(), items_.begin() + static_cast<std::ptrdiff_t>(a * item_dim_));
    }
  }

  std::size_t actions() const { return log_->n_actions; }

  // The context of `row`. It views this object's buffer, so it is valid until the next call
  // (an Agent copies what it keeps).
  mr::Context context(const mr::LoggedDecision& row) {
    std::fill(x_.begin(), x_.end(), 0.0f);
    const std::span<const float> user = log_->context_matrix().row(row.context);
    std::copy(user.begin(), user.end(), x_.begin());
    x_[log_->context_dim + row.position] = 1.0f;
    x_.back() = 1.0f;
    return {.features = x_, .items = mr::MatrixView(std::span<const float>(items_), actions(), item_dim_)};
  }

 private:
  const mr::io::ObdLog* log_;
  std::vector<float> x_;
  std::size_t item_dim_;
  mr::AlignedVector<float> items_;
};

// Replays the training rows through `agent`: each logged impression is a decision among the one
// item the log shows, and its click the feedback. Returns the agent's model updates.
template <class Agent>
std::uint64_t learn_from_log(Agent& agent, std::span<const mr::LoggedDecision> rows, Inputs& inputs) {
  mr::Decision decision;
  for (const mr::LoggedDecision& row : rows) {
    const std::size_t shown = row.action;
    agent.recommend(inputs.context(row), mr::Candidates(std::span<const std::size_t>(&shown, 1)), 1,
                    decision);
    agent.learn(decision.id, row.reward > 0.0 ? mr::Feedback{.clicked = {0}} : mr::Feedback{});
  }
  return agent.counters().updates;
}

// The item the frozen model serves for each held-out row: a copy of it behind the Greedy explorer,
// never told an outcome.
template <class Model>
std::vector<std::size_t> greedy_items(const Model& trained, std::span<const mr::LoggedDecision> rows,
                                      Inputs& inputs) {
  mr::Agent<Model, mr::Greedy> serving{trained};
  std::vector<std::size_t> items;
  items.reserve(rows.size());
  mr::Decision decision;
  for (const mr::LoggedDecision& row : rows) {
    serving.recommend(inputs.context(row), mr::Candidates::all(inputs.actions()), 1, decision);
    items.push_back(decision.items.at(0));
  }
  return items;
}

// A target policy on the held-out rows: π(logged item | x) and, for DR, Σ_a π(a | x) q̂(a).
struct Target {
  std::string name;
  std::vector<double> probability;
  std::vector<double> model_value;
};

Target uniform_policy(std::span<const mr::LoggedDecision> rows, const std::vector<double>& q_hat) {
  double mean_q = 0.0;
  for (const double q : q_hat) mean_q += q / static_cast<double>(q_hat.size());
  const double p = 1.0 / static_cast<double>(q_hat.size());
  return {"uniform random (the logging policy)", std::vector<double>(rows.size(), p),
          std::vector<double>(rows.size(), mean_q)};
}

// ε-greedy around the items `greedy` (ε = 0: greedy).
Target epsilon_greedy(std::string name, std::span<const mr::LoggedDecision> rows,
                      const std::vector<std::size_t>& greedy, double epsilon,
                      const std::vector<double>& q_hat) {
  const double k = static_cast<double>(q_hat.size());
  double mean_q = 0.0;
  for (const double q : q_hat) mean_q += q / k;
  Target t{std::move(name), {}, {}};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    t.probability.push_back(epsilon / k + (rows[i].action == greedy[i] ? 1.0 - epsilon : 0.0));
    t.model_value.push_back(epsilon * mean_q + (1.0 - epsilon) * q_hat[greedy[i]]);
  }
  return t;
}

std::string interval(const mr::eval::Estimate& e) {
  char text[64];
  std::snprintf(text, sizeof text, "%.4f [%.4f, %.4f]", e.value, e.ci_low, e.ci_high);
  return text;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  if (o.help) {
    std::fputs(usage, stdout);
    return 0;
  }
  const auto start = std::chrono::steady_clock::now();
  mr::io::ReadReport report;
  const mr::io::ObdLog log = mr::io::read_obd(o.log, o.item_context, &report);
  std::fprintf(stderr, "%s\n", report.summary().c_str());

  std::span<const mr::LoggedDecision> all(log.decisions);
  if (o.max_rows > 0 && o.max_rows < all.size()) all = all.first(o.max_rows);
  const auto n_train = static_cast<std::size_t>(o.train_fraction * static_cast<double>(all.size()));
  const std::span<const mr::LoggedDecision> train = all.first(n_train);
  const std::span<const mr::LoggedDecision> held_out = all.subspan(n_train);
  if (train.empty() || held_out.empty()) {
    throw mr::Error("the split leaves no training or no held-out rows (" + std::to_string(all.size()) +
                    " rows, --train-fraction " + std::to_string(o.train_fraction) + ")");
  }
  const std::size_t k = log.n_actions;
  // The estimators take the logged propensities as they are; this example's uniform-random row
  // and its sanity check assume they are all 1/K.
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (std::fabs(all[i].propensity * static_cast<double>(k) - 1.0) > 1e-9) {
      throw mr::Error(o.log + ": row " + std::to_string(i + 1) + " has propensity " +
                      std::to_string(all[i].propensity) + ", not 1/" + std::to_string(k) +
                      ": this example needs a uniform-random log");
    }
  }
  double train_clicks = 0.0, held_out_clicks = 0.0;
  for (const auto& row : train) train_clicks += row.reward;
  for (const auto& row : held_out) held_out_clicks += row.reward;
  const double logged_ctr = held_out_clicks / static_cast<double>(held_out.size());

  // DR's reward model, and the "most clicked" policy: each item's training click rate, shrunk
  // toward the overall rate by 10 pseudo-impressions (items are shown ~200 times in training and
  // clicked once or not at all: unshrunk rates would be mostly 0).
  std::vector<double> shows(k, 0.0), clicks(k, 0.0), q_hat(k);
  for (const auto& row : train) {
    shows[row.action] += 1.0;
    clicks[row.action] += row.reward;
  }
  const double prior = train_clicks / static_cast<double>(train.size());
  for (std::size_t a = 0; a < k; ++a) q_hat[a] = (clicks[a] + 10.0 * prior) / (shows[a] + 10.0);
  const auto most_clicked =
      static_cast<std::size_t>(std::max_element(q_hat.begin(), q_hat.end()) - q_hat.begin());

  // Learn, then freeze.
  Inputs inputs(log);
  mr::Agent<mr::LinUcb> linucb{
      mr::LinUcb{{.mode = mr::LinearMode::disjoint, .features = mr::FeatureMap::context}}};
  mr::Agent<mr::LinearQ> linear_q{mr::LinearQ{
      {.features = mr::FeatureMap::cross, .alpha = 0.01f, .gamma = 0.0f, .history_in_state = false}}};
  const auto learn_start = std::chrono::steady_clock::now();
  const std::uint64_t linucb_updates = learn_from_log(linucb, train, inputs);
  const std::uint64_t linear_q_updates = learn_from_log(linear_q, train, inputs);
  const double learn_seconds = seconds_since(learn_start);
  const std::vector<std::size_t> linucb_items = greedy_items(linucb.model(), held_out, inputs);
  const std::vector<std::size_t> linear_q_items = greedy_items(linear_q.model(), held_out, inputs);

  std::vector<Target> targets;
  targets.push_back(uniform_policy(held_out, q_hat));
  targets.push_back(epsilon_greedy("most clicked item (no context)", held_out,
                                   std::vector<std::size_t>(held_out.size(), most_clicked), 0.0, q_hat));
  char eps[32];
  std::snprintf(eps, sizeof eps, ", %g-greedy", o.epsilon);
  const auto add_learned = [&](const std::string& name, const std::vector<std::size_t>& items) {
    targets.push_back(epsilon_greedy(name + ", greedy", held_out, items, 0.0, q_hat));
    if (o.epsilon > 0.0) targets.push_back(epsilon_greedy(name + eps, held_out, items, o.epsilon, q_hat));
  };
  add_learned("LinUCB", linucb_items);
  add_learned("LinearQ", linear_q_items);

  std::printf("Open Bandit log %s: %zu rows, %zu items, %zu positions, uniform-random logging policy\n",
              o.log.c_str(), all.size(), k, log.n_positions);
  std::printf("train: the first %zu rows by time (%.0f clicks); held out: the last %zu rows (%.0f clicks)\n",
              train.size(), train_clicks, held_out.size(), held_out_clicks);
  std::printf("learned from the logged actions only: LinUCB %llu updates, LinearQ %llu updates (%.2f s)\n",
              static_cast<unsigned long long>(linucb_updates),
              static_cast<unsigned long long>(linear_q_updates), learn_seconds);
  std::printf("logging policy, observed on the held-out rows: click rate %.4f (%.0f / %zu)\n\n", logged_ctr,
              held_out_clicks, held_out.size());

  const mr::eval::BootstrapOptions bootstrap{.samples = o.bootstrap, .confidence = 0.95, .seed = o.seed};
  std::vector<double> q_logged(held_out.size());
  for (std::size_t i = 0; i < held_out.size(); ++i) q_logged[i] = q_hat[held_out[i].action];

  std::printf(
      "| policy | ESS | rows w ≥ 1 | their clicks | IPS [95%% CI] | SNIPS [95%% CI] | DR [95%% CI] "
      "| vs. logging policy |\n|---|---|---|---|---|---|---|---|\n");
  mr::eval::Estimate logging{};
  for (const Target& t : targets) {
    // ESS: how many equally weighted rows the estimate is worth. The rows with w >= 1, where the
    // policy is at least as likely as the logger to show the logged item, carry the estimate;
    // their clicks decide whether the bootstrap can be trusted (see the protocol).
    double sum_w = 0.0, sum_w2 = 0.0, heavy_clicks = 0.0;
    std::size_t heavy_rows = 0;
    for (std::size_t i = 0; i < held_out.size(); ++i) {
      const double w = t.probability[i] / held_out[i].propensity;
      sum_w += w;
      sum_w2 += w * w;
      if (w >= 1.0 - 1e-9) {
        ++heavy_rows;
        heavy_clicks += held_out[i].reward;
      }
    }
    if (sum_w == 0.0) {  // a greedy policy whose item is never the logged one (a short log)
      std::printf("| %s | 0 | 0 | 0 | - | - | - | no held-out row shows its item: nothing to estimate |\n",
                  t.name.c_str());
      continue;
    }
    const mr::eval::Estimate ips = mr::eval::ips(held_out, t.probability, bootstrap);
    const mr::eval::Estimate snips = mr::eval::snips(held_out, t.probability, bootstrap);
    const mr::eval::Estimate dr =
        mr::eval::doubly_robust(held_out, t.probability, q_logged, t.model_value, bootstrap);
    std::string verdict;
    if (&t == &targets.front()) {
      // Every weight is 1, so IPS is the held-out click rate: a check of the whole pipeline.
      if (std::fabs(ips.value - logged_ctr) > 1e-9 * logged_ctr) {
        throw mr::Error("the uniform policy's IPS " + std::to_string(ips.value) +
                        " differs from the observed click rate " + std::to_string(logged_ctr));
      }
      logging = ips;
      verdict = "itself: IPS = observed click rate";
    } else if (heavy_clicks < 10.0) {
      verdict = "too few clicks to tell";
    } else {
      const auto above = [&](const mr::eval::Estimate& e) { return e.ci_low > logging.ci_high; };
      const auto below = [&](const mr::eval::Estimate& e) { return e.ci_high < logging.ci_low; };
      verdict = above(ips) && above(snips) && above(dr)   ? "better"
                : below(ips) && below(snips) && below(dr) ? "worse"
                                                          : "intervals overlap: no evidence of a difference";
    }
    std::printf("| %s | %.0f | %zu | %.0f | %s | %s | %s | %s |\n", t.name.c_str(), sum_w * sum_w / sum_w2,
                heavy_rows, heavy_clicks, interval(ips).c_str(), interval(snips).c_str(),
                interval(dr).c_str(), verdict.c_str());
  }
  // Why the learned rows say so little: arithmetic on the figures above.
  if (held_out_clicks > 0.0) {
    std::printf(
        "\nA greedy policy is judged on the rows where its item is the logged one: about 1 row in K = %zu, "
        "%zu / %zu = %.0f here. For 10 clicks behind its estimate at the logging click rate, the held-out "
        "part would need about 10 K / %.4f = %.0f rows.\n",
        k, held_out.size(), k, static_cast<double>(held_out.size()) / static_cast<double>(k), logged_ctr,
        10.0 * static_cast<double>(k) / logged_ctr);
  }
  std::printf("%zu bootstrap resamples (seed %llu); total %.2f s\n", o.bootstrap,
              static_cast<unsigned long long>(o.seed), seconds_since(start));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_bandit_replay: %s\n", e.what());
  return 1;
}
