// marl_rec — long-run stability: 10^7 online updates each of LinUcb, LinThompson, LinearQ and
// MlpScorer on the simulator, checking at checkpoints that nothing became NaN or infinite, that
// LinUcb's (and LinThompson's) maintained A⁻¹ stays close to the exact inverse of A, and that the
// resident memory stays flat after warm-up. Prints its figures; exits 1 on a failed check.
//
// Usage: marl_rec_long_run [--updates N] [--checkpoint N] [--only linucb|linthompson|linear_q|mlp]
// (defaults: 10^7 updates per model, a checkpoint every 10^6, all four models). Built and run by
// CTest under the label "long" (tests/CMakeLists.txt); not a doctest program.
//
// Each step: the simulator draws the arriving user, the program draws 10 distinct candidates of
// the 200 items, the model picks the candidate it ranks first (LinUcb: upper bound, LinThompson:
// a posterior draw, LinearQ and MlpScorer: score), the simulator shows that one-item page and the
// model learns its reward (click 1, purchase +1). LinearQ learns the transition to the next
// step's context and candidates (γ = 0.5). The linear bandits use the cross map (φ = x ⊗ a, the
// only map that can learn a user's affinity to an item) in a world of dimension 5 (φ has 25
// dimensions: an update costs O(φ²)); LinearQ (cross, O(φ) per update, φ = 256) and MlpScorer
// (input 32) live in a world of dimension 16. A random policy's mean reward in the same world is
// printed beside each model's.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "marl_rec/core/context.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/eval/simulator.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/models/mlp_scorer.hpp"

namespace {

namespace mr = marl_rec;

constexpr std::size_t candidates_per_step = 10;
// Diagnostics of the linear bandits every this many updates besides the checkpoints: a prime, so
// the samples fall at every phase of the re-inversion cycle (refactor_every = 1000), not only
// right after one as a checkpoint at a multiple of 10^6 would.
constexpr std::uint64_t diagnostics_every = 9973;
constexpr double max_inverse_error = 1e-3;
constexpr double max_rss_growth = 1024.0 * 1024.0;  // bytes

// AddressSanitizer keeps freed memory in quarantine, so RSS grows with every allocation: the
// memory check is then reported, not enforced.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool rss_is_meaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool rss_is_meaningful = false;
#else
constexpr bool rss_is_meaningful = true;
#endif
#else
constexpr bool rss_is_meaningful = true;
#endif

struct Options {
  std::uint64_t updates = 10'000'000;
  std::uint64_t checkpoint = 1'000'000;
  std::string only;
};

// Resident set size in bytes (/proc/self/statm: size, resident, ... in pages).
double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

bool all_finite(std::span<const float> values) {
  return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
}

// One step's draw: the user and its candidates.
struct Step {
  std::size_t user = 0;
  std::array<std::size_t, candidates_per_step> candidates{};
};

// The world and the draws of the steps, the same for every model (same seeds).
class World {
 public:
  explicit World(std::size_t dim)
      : sim_(mr::eval::SimulatorConfig{.users = 1000, .items = 200, .dim = dim, .seed = 7}),
        order_(sim_.items()) {
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
  }

  // The next user and 10 distinct candidates (a partial Fisher–Yates over a running permutation).
  void draw(Step& step) {
    step.user = sim_.next_user();
    for (std::size_t j = 0; j < candidates_per_step; ++j) {
      const auto pick = j + static_cast<std::size_t>(rng_.below(order_.size() - j));
      std::swap(order_[j], order_[pick]);
      step.candidates[j] = order_[j];
    }
  }
  mr::Context context(const Step& step) const {
    return mr::Context{.features = sim_.features(step.user), .items = sim_.catalog().embeddings()};
  }
  double show(const Step& step, std::size_t item) {
    const std::size_t page[1] = {item};
    sim_.show(step.user, page, outcome_);
    return outcome_.reward;
  }
  std::size_t items() const { return sim_.items(); }
  std::size_t users() const { return sim_.users(); }

 private:
  mr::eval::Simulator sim_;
  std::vector<std::size_t> order_;
  mr::Rng rng_{2024};
  mr::eval::PageOutcome outcome_;
};

// What one model's run measured.
struct Report {
  bool ok = true;
  std::uint64_t non_finite_scores = 0;
  double worst_inverse_error = 0.0;
  double worst_inverse_residual = 0.0;
  double rss_after_warmup = 0.0;
  double rss_end = 0.0;
  double seconds = 0.0;

  // Prints the first failure of each kind (a drifting inverse fails at every later sample).
  void fail(const std::string& kind, const std::string& what) {
    if (failed.insert(kind).second) std::printf("  FAILED: %s\n", what.c_str());
    ok = false;
  }
  std::set<std::string> failed;
};

// The per-model parts of the loop.
struct LinUcbRun {
  static constexpr std::size_t dim = 5;
  mr::LinUcb model{{.mode = mr::LinearMode::shared, .features = mr::FeatureMap::cross, .alpha = 0.5f}};
  void rank(const mr::Context& c, mr::Candidates k, std::span<float> s, mr::Rng&) const {
    model.upper_bound(c, k, s);
  }
  void learn(const mr::Context& c, std::size_t item, double r, const mr::Context&, mr::Candidates) {
    model.update(c, item, r);
  }
};
struct LinThompsonRun {
  static constexpr std::size_t dim = 5;
  mr::LinThompson model{{.mode = mr::LinearMode::shared, .features = mr::FeatureMap::cross, .v = 0.5f}};
  void rank(const mr::Context& c, mr::Candidates k, std::span<float> s, mr::Rng& rng) const {
    model.sample_scores(c, k, s, rng);
  }
  void learn(const mr::Context& c, std::size_t item, double r, const mr::Context&, mr::Candidates) {
    model.update(c, item, r);
  }
};
struct LinearQRun {
  static constexpr std::size_t dim = 16;
  mr::LinearQ model{{.features = mr::FeatureMap::cross, .alpha = 0.01f, .gamma = 0.5f,
                     .history_in_state = false}};
  void rank(const mr::Context& c, mr::Candidates k, std::span<float> s, mr::Rng&) const {
    model.score(c, k, s);
  }
  void learn(const mr::Context& c, std::size_t item, double r, const mr::Context& next,
             mr::Candidates next_candidates) {
    model.update(c, item, r, next, next_candidates);
  }
};
struct MlpRun {
  static constexpr std::size_t dim = 16;
  mr::MlpScorer model{{.hidden = {32}, .learning_rate = 1e-3f}};
  void rank(const mr::Context& c, mr::Candidates k, std::span<float> s, mr::Rng&) const {
    model.score_logits(c, k, s);
  }
  void learn(const mr::Context& c, std::size_t item, double r, const mr::Context&, mr::Candidates) {
    model.update(c, item, r);
  }
};

// The parameters to check for finiteness (the linear bandits check theirs in diagnostics()).
std::span<const float> parameters(const LinUcbRun&) { return {}; }
std::span<const float> parameters(const LinThompsonRun&) { return {}; }
std::span<const float> parameters(const LinearQRun& run) { return run.model.weights(); }
std::span<const float> parameters(const MlpRun& run) { return run.model.parameters(); }

// The linear bandits' inverse check (no-op for the others).
template <class Run>
void diagnose(const Run& run, Report& report, bool print) {
  if constexpr (requires { run.model.diagnostics(); }) {
    const mr::LinearDiagnostics d = run.model.diagnostics();
    report.worst_inverse_error = std::max(report.worst_inverse_error, d.inverse_error);
    report.worst_inverse_residual = std::max(report.worst_inverse_residual, d.inverse_residual);
    if (print) {
      std::printf("    A^-1: relative Frobenius error %.3g, max |A A^-1 - I| %.3g\n",
                  d.inverse_error, d.inverse_residual);
    }
    if (!d.finite) report.fail("finite", "a non-finite value in A, b, A^-1 or theta");
    if (!(d.inverse_error < max_inverse_error)) {
      report.fail("inverse", "the maintained A^-1 is " + std::to_string(d.inverse_error) +
                  " (relative Frobenius) from the exact inverse (first seen; the worst is below)");
    }
  }
}

// The mean reward of choosing a candidate uniformly at random, over 10^5 steps of a fresh world.
double random_policy_reward(std::size_t dim) {
  World world(dim);
  mr::Rng rng(5);
  Step step;
  double sum = 0.0;
  constexpr std::uint64_t steps = 100'000;
  for (std::uint64_t t = 0; t < steps; ++t) {
    world.draw(step);
    sum += world.show(step, step.candidates[rng.below(candidates_per_step)]);
  }
  return sum / static_cast<double>(steps);
}

template <class Run>
Report run_model(const char* name, Run& run, const Options& options) {
  std::printf("%s: %llu updates\n", name, static_cast<unsigned long long>(options.updates));
  Report report;
  std::printf("  random policy: mean reward %.4f\n", random_policy_reward(Run::dim));
  World world(Run::dim);
  mr::Rng rng(99);  // LinThompson's draws
  std::array<float, candidates_per_step> scores{};
  std::vector<float> all_scores(world.items());
  Step current, next;
  world.draw(current);
  double reward_sum = 0.0;
  std::uint64_t window = 0;  // steps since the last checkpoint
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t t = 1; t <= options.updates; ++t) {
    const mr::Candidates candidates(current.candidates);
    const mr::Context context = world.context(current);
    run.rank(context, candidates, scores, rng);
    std::size_t best = 0;
    for (std::size_t j = 0; j < candidates_per_step; ++j) {
      if (!std::isfinite(scores[j])) ++report.non_finite_scores;
      if (scores[j] > scores[best]) best = j;
    }
    const std::size_t item = current.candidates[best];
    const double reward = world.show(current, item);
    reward_sum += reward;
    ++window;
    world.draw(next);
    run.learn(context, item, reward, world.context(next), mr::Candidates(next.candidates));
    std::swap(current, next);

    if (t % diagnostics_every == 0) diagnose(run, report, false);
    if (t % options.checkpoint == 0 || t == options.updates) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double rss = resident_bytes();
      std::printf("  %10llu updates  %7.1f s  mean reward %.4f  RSS %.2f MiB\n",
                  static_cast<unsigned long long>(t), seconds,
                  reward_sum / static_cast<double>(window), rss / (1024.0 * 1024.0));
      reward_sum = 0.0;
      window = 0;
      // Every item's score for a few users, and the parameters.
      for (std::size_t user = 0; user < world.users(); user += world.users() / 4) {
        Step probe;
        probe.user = user;
        run.rank(world.context(probe), mr::Candidates::all(world.items()), all_scores, rng);
        if (!all_finite(all_scores)) report.fail("scores", "a non-finite score over all items");
      }
      if (!all_finite(parameters(run))) report.fail("parameters", "a non-finite parameter");
      diagnose(run, report, true);
      if (t == options.checkpoint) report.rss_after_warmup = rss;
      report.rss_end = rss;
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (report.non_finite_scores != 0) {
    report.fail("candidate scores",
                std::to_string(report.non_finite_scores) + " non-finite candidate scores");
  }
  const double growth = report.rss_end - report.rss_after_warmup;
  if (rss_is_meaningful && options.updates > options.checkpoint && growth > max_rss_growth) {
    report.fail("rss", "RSS grew by " + std::to_string(growth / 1024.0) + " KiB after warm-up");
  }
  std::printf("  %s: %.1f s (%.2f us per step), RSS after warm-up %.2f MiB, at the end %.2f MiB "
              "(growth %+.1f KiB)",
              name, report.seconds, 1e6 * report.seconds / static_cast<double>(options.updates),
              report.rss_after_warmup / (1024.0 * 1024.0), report.rss_end / (1024.0 * 1024.0),
              growth / 1024.0);
  if constexpr (requires { run.model.diagnostics(); }) {
    std::printf(", worst A^-1 error %.3g, worst |A A^-1 - I| %.3g", report.worst_inverse_error,
                report.worst_inverse_residual);
  }
  if (!rss_is_meaningful) std::printf(" (RSS not checked under AddressSanitizer)");
  std::printf(" -> %s\n", report.ok ? "ok" : "FAILED");
  std::fflush(stdout);
  return report;
}

bool parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) return false;
    const char* value = argv[++i];
    if (arg == "--only") {
      options.only = value;
      if (options.only != "linucb" && options.only != "linthompson" &&
          options.only != "linear_q" && options.only != "mlp") {
        return false;
      }
      continue;
    }
    char* end = nullptr;
    const unsigned long long n = std::strtoull(value, &end, 10);
    if (end == value || *end != '\0' || n == 0) return false;
    if (arg == "--updates") {
      options.updates = n;
    } else if (arg == "--checkpoint") {
      options.checkpoint = n;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: %s [--updates N] [--checkpoint N] "
                 "[--only linucb|linthompson|linear_q|mlp]\n",
                 argv[0]);
    return 2;
  }
  try {
    bool ok = true;
    const auto wanted = [&](std::string_view name) {
      return options.only.empty() || options.only == name;
    };
    const auto total_start = std::chrono::steady_clock::now();
    if (wanted("linucb")) {
      LinUcbRun run;
      ok = run_model("linucb", run, options).ok && ok;
    }
    if (wanted("linthompson")) {
      LinThompsonRun run;
      ok = run_model("linthompson", run, options).ok && ok;
    }
    if (wanted("linear_q")) {
      LinearQRun run;
      ok = run_model("linear_q", run, options).ok && ok;
    }
    if (wanted("mlp")) {
      MlpRun run;
      ok = run_model("mlp", run, options).ok && ok;
    }
    const double total =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - total_start).count();
    std::printf("total: %.1f s -> %s\n", total, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::printf("FAILED: exception: %s\n", e.what());
    return 1;
  }
}
