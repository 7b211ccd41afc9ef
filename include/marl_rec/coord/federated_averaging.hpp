// marl_rec — federated averaging: agents that each train a copy of one model on their own data
// periodically replace their shared parameters by the weighted mean of everyone's, optionally
// with agent-level differential privacy (per-agent update clipping + Gaussian noise).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/concepts/federated_model.hpp"
#include "marl_rec/coord/page_assembly.hpp"
#include "marl_rec/coord/page_credit.hpp"
#include "marl_rec/coord/privacy_accountant.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"

namespace marl_rec {

/// The settings of FederatedAveraging. Checked by its constructor (all of them, whether privacy
/// is enabled or not).
struct FederatedAveragingConfig {
  /// Agent-level differential privacy (see FederatedAveraging).
  struct Privacy {
    /// Clip each agent's update and add Gaussian noise (false: plain weighted averaging).
    bool enabled = false;
    /// C: each agent's update is scaled down to an L2 norm of at most C (finite, > 0).
    double clip_norm = 1.0;
    /// z: the noise standard deviation is z · C · max wᵢ / Σ wᵢ (finite, ≥ 0). 0 means
    /// clipping only: no privacy guarantee, epsilon() is +∞.
    double noise_multiplier = 1.0;
    /// The δ at which epsilon() is reported, in (0, 1).
    double delta = 1e-5;
  };

  Privacy privacy{};
  /// Seeds the noise: same seed, same models, same weights → same parameters.
  std::uint64_t seed = 1;
  /// η, the server's step (finite, > 0): g ← g + η · (the round's mean update). 1 is plain
  /// federated averaging (g becomes the weighted mean). Averaging divides each agent's progress
  /// by about the number of agents n (an item only one agent's users touch moves 1/n as far as
  /// in one model that sees every example); η = n with equal weights applies the sum of the
  /// agents' updates instead, the step such a single model would take (the server learning
  /// rate of FedOpt, Reddi et al. 2021, and of DP-FedAvg, McMahan et al. 2018). With η ≠ 1 the
  /// updates are measured from the previous global parameters, so broadcast() must come first.
  double server_learning_rate = 1.0;
  /// As a Coordinator policy: pages learned between two rounds (≥ 1).
  std::uint64_t pages_per_round = 1000;
  /// As a Coordinator policy: proposals asked of the serving agent, or 0: the page's slots.
  std::size_t proposals = 0;
};

/// What the last round of FederatedAveraging::average did.
struct FederatedRound {
  /// Σ wᵢ.
  double total_weight = 0.0;
  /// Agents whose update was longer than clip_norm (and so was scaled down); 0 without privacy.
  std::size_t clipped = 0;
  /// The largest L2 norm of an agent's update before clipping; 0 without privacy.
  double max_update_norm = 0.0;
  /// σ, the standard deviation of the Gaussian noise added to each parameter of the mean update
  /// (the global parameters receive η · σ with a server learning rate η); 0 without privacy.
  double noise_std = 0.0;
};

namespace detail {

/// Checks agent-level privacy settings (FederatedAveraging's and dist::MpiFederatedAveraging's):
/// Error "<where>: config.privacy.clip_norm … is not finite and > 0" (and noise_multiplier,
/// delta) otherwise.
inline void check_federated_privacy(const FederatedAveragingConfig::Privacy& privacy, const char* where) {
  const auto fail = [where](const std::string& what) {
    return [where, what] { return std::string(where) + ": config.privacy." + what; };
  };
  require(std::isfinite(privacy.clip_norm) && privacy.clip_norm > 0.0,
          fail("clip_norm " + std::to_string(privacy.clip_norm) + " is not finite and > 0"));
  require(std::isfinite(privacy.noise_multiplier) && privacy.noise_multiplier >= 0.0,
          fail("noise_multiplier " + std::to_string(privacy.noise_multiplier) + " is not finite and >= 0"));
  require(privacy.delta > 0.0 && privacy.delta < 1.0,
          fail("delta " + std::to_string(privacy.delta) + " is not in (0, 1)"));
}

/// The seed of round `round`'s noise: a SplitMix64 mix of (seed, round), so rounds get unrelated
/// streams. Shared by FederatedAveraging and dist::MpiFederatedAveraging, so that one seed gives
/// the same noise in process and over MPI.
inline std::uint64_t federated_noise_seed(std::uint64_t seed, std::uint64_t round) noexcept {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (round + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace detail

/// The federated-averaging core (McMahan et al. 2017, "Communication-efficient learning of deep
/// networks from decentralized data"): n agents each train their own copy of a FederatedModel on
/// their own data; a round replaces every agent's shared parameters by the same global vector g.
/// It works on any span of models and weights; a coordinator decides when rounds happen.
///
/// Without privacy, a round sets g = Σ wᵢ pᵢ / Σ wᵢ, where pᵢ are agent i's shared parameters
/// and wᵢ its weight — the number of examples it learned from since the last round (≥ 0, finite,
/// not all 0; an agent with weight 0 does not count). The mean is computed in double as
/// p₀ + Σ wᵢ (pᵢ − p₀) / Σ wᵢ, so a round over identical agents is exactly a no-op. With a
/// server learning rate η ≠ 1 (Config::server_learning_rate), g ← g + η · (that mean − g).
///
/// With privacy (agent-level, also called user-level or data-owner-level differential privacy:
/// what is protected is the whole data of one agent, as in McMahan et al. 2018, "Learning
/// differentially private recurrent language models"):
/// - each agent's update is Δᵢ = pᵢ − g, measured from the global parameters g of the previous
///   round (or of broadcast(), which must come before the first private round: it sets every
///   agent to agent 0's parameters, which must then not depend on any data, e.g. a fresh
///   initialisation);
/// - each update is clipped to an L2 norm of at most C: Δᵢ ← Δᵢ · min(1, C / ‖Δᵢ‖);
/// - g ← g + η · (Σ wᵢ Δᵢ / Σ wᵢ + N(0, σ² I)) with σ = z · C · max wᵢ / Σ wᵢ (η, the server
///   learning rate, scales the noised mean: post-processing, which costs no privacy). Adding or
///   removing one agent's whole data changes the clipped weighted mean by at most C · wᵢ / Σ w
///   in L2, with the weights and their sum treated as public (the fixed-denominator view of McMahan et al.
///   2018; weights that are example counts reveal those counts: pass equal weights when they
///   must stay private). So each round is a Gaussian mechanism with noise multiplier z, and is
///   one step of accountant(); with z = 0 (clipping only) a round is an unbounded step and
///   epsilon() is +∞. Rounds without privacy are unbounded steps too: they release the exact
///   mean.
/// - The noise of round t is drawn from an Rng seeded by (seed, t), so it is deterministic, also
///   across save/load.
///
/// Both kinds of round write the same g to every agent (set_shared_parameters), which
/// recomputes each model's derived state. Only what the models share is averaged: their private
/// parameters (e.g. a user's own factors) stay local. Errors (wrong counts or sizes, naming the
/// agent; invalid weights; a private round before broadcast; non-finite averaged parameters)
/// are thrown before any model is written: a throw leaves the models and the averager as they
/// were. Not thread-safe; the models must not be in use by other threads during a round.
///
/// It is also a coordination policy (`Coordinator page{catalog, FederatedAveraging{{…}}, a0, a1,
/// a2, a3}`, agents of one type whose model is a FederatedModel): each user belongs to one
/// agent's shard — agent `context.user mod n` — and that agent alone fills the user's page (its
/// proposals ranked by the page's objectives) and learns the feedback (local credit); every
/// `pages_per_round` pages learned, a round averages the agents' shared parameters, each weighted
/// by the feedback it learned since the previous round. A context without a user is an Error.
/// With privacy, or η ≠ 1, call broadcast() on the agents' freshly built models (Agent::with_model)
/// before the Coordinator takes them; the first page is refused otherwise.
class FederatedAveraging {
 public:
  using Config = FederatedAveragingConfig;

  /// An averager with the default configuration (no privacy).
  FederatedAveraging() = default;
  /// An averager with `config`. Throws Error when clip_norm is not finite and > 0,
  /// noise_multiplier is not finite and ≥ 0, delta is not in (0, 1), or server_learning_rate is
  /// not finite and > 0.
  explicit FederatedAveraging(Config config) : config_(checked(config, "FederatedAveraging")) {}

  /// The configuration.
  const Config& config() const noexcept { return config_; }
  /// Rounds averaged so far (private or not).
  std::uint64_t rounds() const noexcept { return rounds_; }
  /// The privacy spent: one step per round (a Gaussian step for a private round with z > 0, an
  /// unbounded one otherwise).
  const RdpAccountant& accountant() const noexcept { return accountant_; }
  /// accountant().epsilon(config().privacy.delta): 0 before any round, +∞ after any round
  /// without noise.
  double epsilon() const { return accountant_.epsilon(config_.privacy.delta); }
  /// True once broadcast() or a round has set the global parameters.
  bool has_global() const noexcept { return has_global_; }
  /// The global parameters g written to the agents by the last round or broadcast (empty
  /// before).
  std::span<const float> global_parameters() const noexcept { return global_; }
  /// What the last round did.
  const FederatedRound& last_round() const noexcept { return last_round_; }

  /// Sets every agent's shared parameters to agent 0's, and makes them the global parameters g
  /// from which the next private round measures the updates. Call it on freshly initialised
  /// copies, before training: the broadcast itself is not accounted for. Throws Error (nothing
  /// changed) when `models` is empty, holds a null pointer, the agents' parameter sizes differ
  /// (naming the agent), or agent 0 has a non-finite parameter.
  template <FederatedModel M>
  void broadcast(std::span<M* const> models) {
    const char* where = "FederatedAveraging::broadcast";
    check_models(where, models);
    const std::span<const float> first = models[0]->shared_parameters();
    for (std::size_t k = 0; k < first.size(); ++k) {
      marl_rec::detail::require(std::isfinite(first[k]), [&] {
        return std::string(where) + ": agent 0's shared parameter " + std::to_string(k) +
               " is not finite";
      });
    }
    std::vector<float> global(first.begin(), first.end());
    for (std::size_t i = 1; i < models.size(); ++i) models[i]->set_shared_parameters(global);
    global_ = std::move(global);
    has_global_ = true;
  }

  /// broadcast() on a vector of model pointers.
  template <FederatedModel M>
  void broadcast(const std::vector<M*>& models) {
    broadcast(std::span<M* const>(models));
  }

  /// One round: computes the new global parameters from every agent's shared parameters and
  /// weight (see the class comment) and writes them to every agent. weights[i] is agent i's
  /// weight. Throws Error, changing nothing, when `models` is empty or holds a null pointer,
  /// weights.size() != models.size(), the agents' parameter sizes differ, a weight is negative
  /// or not finite, every weight is 0 (or their sum overflows), with privacy or η ≠ 1 before the
  /// first broadcast or when the models' size differs from the global parameters', or when the
  /// new parameters are not finite.
  template <FederatedModel M>
  void average(std::span<M* const> models, std::span<const double> weights) {
    const char* where = "FederatedAveraging::average";
    const std::size_t size = check_models(where, models);
    marl_rec::detail::require(weights.size() == models.size(), [&] {
      return std::string(where) + ": " + std::to_string(weights.size()) + " weights for " +
             std::to_string(models.size()) + " agents";
    });
    double total = 0.0, largest = 0.0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      marl_rec::detail::require(std::isfinite(weights[i]) && weights[i] >= 0.0, [&] {
        return std::string(where) + ": agent " + std::to_string(i) + "'s weight " +
               std::to_string(weights[i]) + " is not finite and >= 0";
      });
      total += weights[i];
      largest = std::max(largest, weights[i]);
    }
    marl_rec::detail::require(total > 0.0 && std::isfinite(total), [&] {
      return std::string(where) + ": the weights sum to " + std::to_string(total) +
             " (they must not all be 0, and their sum must be finite)";
    });
    const bool private_round = config_.privacy.enabled;
    if (private_round || config_.server_learning_rate != 1.0) {
      marl_rec::detail::require(has_global_, [&] {
        return std::string(where) + ": " +
               (private_round ? "a private round" : "a server learning rate other than 1") +
               " measures each agent's update from the global parameters: call "
               "broadcast(models) on the initial models first";
      });
      marl_rec::detail::require(global_.size() == size, [&] {
        return std::string(where) + ": the agents have " + std::to_string(size) +
               " shared parameters, the global parameters " + std::to_string(global_.size());
      });
    }

    next_.resize(size);
    FederatedRound report;
    report.total_weight = total;
    if (private_round) {
      private_mean(models, weights, total, largest, report);
    } else {
      plain_mean(models, weights, total);
    }
    for (std::size_t k = 0; k < size; ++k) {
      marl_rec::detail::require(std::isfinite(next_[k]), [&] {
        return std::string(where) + ": the averaged parameter " + std::to_string(k) +
               " is not finite (an agent's parameters, or the noise, are too large)";
      });
    }
    // The checks above cover what set_shared_parameters may reject (size, finiteness), so the
    // models are written all or none.
    for (M* model : models) model->set_shared_parameters(next_);
    global_.assign(next_.begin(), next_.end());
    has_global_ = true;
    ++rounds_;
    if (private_round && config_.privacy.noise_multiplier > 0.0) {
      accountant_.add_gaussian(config_.privacy.noise_multiplier);
    } else {
      accountant_.add_unbounded();
    }
    last_round_ = report;
  }

  /// average() on a vector of model pointers.
  template <FederatedModel M>
  void average(const std::vector<M*>& models, std::span<const double> weights) {
    average(std::span<M* const>(models), weights);
  }

  /// Writes the whole configuration (v2 adds the policy's pages_per_round and proposals), the
  /// round count, the global parameters, the accountant's state and (v3) the feedback counts of
  /// the agents at the last round (format "federated_averaging" v3). A loaded averager continues
  /// exactly as this one would (same noise; as a Coordinator policy, with the agents loaded from
  /// the same save, the same weights at the next round).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, model_type, 3);
    w.u64("privacy_enabled", config_.privacy.enabled ? 1 : 0);
    w.f64("clip_norm", config_.privacy.clip_norm);
    w.f64("noise_multiplier", config_.privacy.noise_multiplier);
    w.f64("delta", config_.privacy.delta);
    w.u64("seed", config_.seed);
    w.f64("server_learning_rate", config_.server_learning_rate);
    w.u64("rounds", rounds_);
    w.u64("has_global", has_global_ ? 1 : 0);
    w.u64("global_size", global_.size());
    w.floats("global", global_);
    accountant_.write_fields(w);
    w.u64("pages_per_round", config_.pages_per_round);
    w.u64("proposals", config_.proposals);
    w.u64s("seen_feedback", seen_feedback_);
    w.finish();
  }

  /// Replaces everything with what save() wrote. A v1 stream (which did not hold them) keeps
  /// this averager's pages_per_round and proposals; v1 and v2 streams hold no per-agent feedback
  /// counts, which then start from zero (the first round weighs each agent by all the feedback
  /// it has learned). Throws Error, changing nothing, on a stream of another type, a truncated
  /// or corrupted stream, or invalid contents.
  void load(std::istream& in) {
    constexpr const char* where = "FederatedAveraging::load";
    io::ModelReader r(in, model_type, 3);
    Config c = config_;
    c.privacy.enabled = r.u64("privacy_enabled", 0, 1) == 1;
    c.privacy.clip_norm = r.f64("clip_norm");
    c.privacy.noise_multiplier = r.f64("noise_multiplier");
    c.privacy.delta = r.f64("delta");
    c.seed = r.u64("seed");
    c.server_learning_rate = r.f64("server_learning_rate");
    check(c, where);
    const std::uint64_t rounds = r.u64("rounds");
    const bool has_global = r.u64("has_global", 0, 1) == 1;
    const auto size = static_cast<std::size_t>(
        r.u64("global_size", 0, has_global ? std::uint64_t{1} << 40 : 0));
    std::vector<float> global = r.floats("global", size);
    for (std::size_t k = 0; k < global.size(); ++k) {
      marl_rec::detail::require(std::isfinite(global[k]), [&] {
        return std::string(where) + ": global parameter " + std::to_string(k) + " is not finite";
      });
    }
    RdpAccountant accountant;
    accountant.read_fields(r, where);
    if (r.version() >= 2) {
      c.pages_per_round = r.u64("pages_per_round", 1, std::numeric_limits<std::uint64_t>::max());
      c.proposals = static_cast<std::size_t>(r.u64("proposals", 0, std::uint64_t{1} << 40));
    }
    std::vector<std::uint64_t> seen;
    if (r.version() >= 3) seen = r.u64s("seen_feedback", r.array_size("seen_feedback"));
    r.finish();
    config_ = c;
    seen_feedback_ = std::move(seen);
    rounds_ = rounds;
    has_global_ = has_global;
    global_ = std::move(global);
    accountant_ = accountant;
    last_round_ = {};
  }

  /// "federated_averaging".
  std::string_view name() const noexcept { return "federated_averaging"; }

  /// Coordinator policy: the page of the context's user, filled by the agent whose shard holds
  /// the user (see the class comment). Throws Error when the context has no user, or when a
  /// round will need global parameters that broadcast() has not set.
  template <class Objectives, class... Agents>
    requires(sizeof...(Agents) >= 1)
  void assemble(PageAssembly<Objectives, Agents...>& page) {
    static_assert(federated_agents<Agents...>(),
                  "FederatedAveraging: the agents must be of one type whose model is a FederatedModel");
    const std::size_t user = page.context().user;
    marl_rec::detail::require(user != no_user,
                              "FederatedAveraging: the context has no user (each user belongs to one agent's shard)");
    marl_rec::detail::require(has_global_ || (!config_.privacy.enabled && config_.server_learning_rate == 1.0),
                              "FederatedAveraging: with privacy or a server learning rate other than 1, call "
                              "broadcast() on the agents' models before the Coordinator takes them");
    const std::size_t agent = user % sizeof...(Agents);
    const Decision& d = page.propose(agent, config_.proposals != 0 ? config_.proposals : page.slots());
    page.rank(d.items, d.scores, page.slots(), ranking_);
    for (std::size_t row = 0; row < ranking_.size(); ++row) {
      page.place(agent, ranking_.positions[row], ranking_, row);
    }
  }

  /// Coordinator policy: the serving agent learns its slots' feedback.
  template <class... Agents>
  void credit(const PageCredit<Agents...>& page, const Feedback& feedback, std::span<Feedback> out) const {
    local_credit(page, feedback, out);
  }

  /// Coordinator policy: every config.pages_per_round pages learned, one round over the agents'
  /// models, weighted by the feedback each learned since the previous round (no round when none
  /// learned any).
  template <class... Agents>
  void after_learn(std::tuple<Agents...>& agents, std::uint64_t pages_learned) {
    if (pages_learned % config_.pages_per_round != 0) return;
    using M = typename std::tuple_element_t<0, std::tuple<Agents...>>::model_type;
    std::vector<M*> models;
    std::vector<double> weights;
    if (seen_feedback_.size() != sizeof...(Agents)) seen_feedback_.assign(sizeof...(Agents), 0);
    std::size_t i = 0;
    bool any = false;
    std::apply(
        [&](auto&... agent) {
          (
              [&](auto& a) {
                a.with_model([&](M& m) { models.push_back(&m); });
                const std::uint64_t learned = a.counters().feedback;
                // Fewer than already averaged: another agent object took this place (the policy
                // was copied over other agents); count its feedback from its start rather than
                // let the difference wrap around.
                if (learned < seen_feedback_[i]) seen_feedback_[i] = 0;
                weights.push_back(static_cast<double>(learned - seen_feedback_[i]));
                any = any || learned != seen_feedback_[i];
                ++i;
              }(agent),
              ...);
        },
        agents);
    if (!any) return;
    average(models, std::span<const double>(weights));
    for (std::size_t a = 0; a < models.size(); ++a) seen_feedback_[a] += static_cast<std::uint64_t>(weights[a]);
  }

 private:
  static constexpr const char* model_type = "federated_averaging";

  template <class First, class... Rest>
  static constexpr bool federated_agents() {
    if constexpr (requires { typename First::model_type; }) {
      return (std::is_same_v<First, Rest> && ...) && FederatedModel<typename First::model_type>;
    } else {
      return false;
    }
  }

  // As a Coordinator policy: the serving agent's ranking, and each agent's feedback count at the
  // last round.
  RankedList ranking_{};
  std::vector<std::uint64_t> seen_feedback_{};

  static void check(const Config& c, const char* where) {
    marl_rec::detail::check_federated_privacy(c.privacy, where);
    marl_rec::detail::require(c.pages_per_round >= 1, [&] {
      return std::string(where) + ": config.pages_per_round must be at least 1";
    });
    marl_rec::detail::require(
        std::isfinite(c.server_learning_rate) && c.server_learning_rate > 0.0, [&] {
          return std::string(where) + ": config.server_learning_rate " +
                 std::to_string(c.server_learning_rate) + " is not finite and > 0";
        });
  }

  static Config checked(const Config& c, const char* where) {
    check(c, where);
    return c;
  }

  // Checks that `models` is not empty, has no null pointer and that every agent has as many
  // shared parameters as agent 0; returns that size.
  template <class M>
  static std::size_t check_models(const char* where, std::span<M* const> models) {
    marl_rec::detail::require(!models.empty(), std::string(where) + ": no agents");
    for (std::size_t i = 0; i < models.size(); ++i) {
      marl_rec::detail::require(models[i] != nullptr, [&] {
        return std::string(where) + ": agent " + std::to_string(i) + " is a null pointer";
      });
    }
    const std::size_t size = std::span<const float>(models[0]->shared_parameters()).size();
    for (std::size_t i = 1; i < models.size(); ++i) {
      const std::size_t n = std::span<const float>(models[i]->shared_parameters()).size();
      marl_rec::detail::require(n == size, [&] {
        return std::string(where) + ": agent " + std::to_string(i) + " has " + std::to_string(n) +
               " shared parameters, agent 0 has " + std::to_string(size);
      });
    }
    return size;
  }

  // next_ = p₀ + Σ wᵢ (pᵢ − p₀) / W (or g + η (that − g)), accumulated in double.
  template <class M>
  void plain_mean(std::span<M* const> models, std::span<const double> weights, double total) {
    const std::span<const float> base = models[0]->shared_parameters();
    sum_.assign(base.size(), 0.0);
    for (std::size_t i = 1; i < models.size(); ++i) {
      if (weights[i] == 0.0) continue;
      const std::span<const float> p = models[i]->shared_parameters();
      for (std::size_t k = 0; k < p.size(); ++k) {
        sum_[k] += weights[i] * (static_cast<double>(p[k]) - static_cast<double>(base[k]));
      }
    }
    const double eta = config_.server_learning_rate;
    for (std::size_t k = 0; k < base.size(); ++k) {
      const double mean = static_cast<double>(base[k]) + sum_[k] / total;
      next_[k] = static_cast<float>(
          eta == 1.0 ? mean
                     : static_cast<double>(global_[k]) + eta * (mean - static_cast<double>(global_[k])));
    }
  }

  // next_ = g + η (Σ wᵢ clip(pᵢ − g) / W + N(0, σ²)), accumulated in double.
  template <class M>
  void private_mean(std::span<M* const> models, std::span<const double> weights, double total,
                    double largest, FederatedRound& report) {
    const double clip = config_.privacy.clip_norm;
    sum_.assign(global_.size(), 0.0);
    for (std::size_t i = 0; i < models.size(); ++i) {
      const std::span<const float> p = models[i]->shared_parameters();
      double squares = 0.0;
      for (std::size_t k = 0; k < p.size(); ++k) {
        const double d = static_cast<double>(p[k]) - static_cast<double>(global_[k]);
        squares += d * d;
      }
      const double norm = std::sqrt(squares);
      report.max_update_norm = std::max(report.max_update_norm, norm);
      double scale = 1.0;
      if (norm > clip) {
        scale = clip / norm;
        ++report.clipped;
      }
      if (weights[i] == 0.0) continue;
      const double factor = weights[i] * scale;
      for (std::size_t k = 0; k < p.size(); ++k) {
        sum_[k] += factor * (static_cast<double>(p[k]) - static_cast<double>(global_[k]));
      }
    }
    report.noise_std = config_.privacy.noise_multiplier * clip * largest / total;
    const double eta = config_.server_learning_rate;
    Rng rng(marl_rec::detail::federated_noise_seed(config_.seed, rounds_));
    for (std::size_t k = 0; k < global_.size(); ++k) {
      const double noise = report.noise_std > 0.0 ? report.noise_std * rng.normal() : 0.0;
      next_[k] =
          static_cast<float>(static_cast<double>(global_[k]) + eta * (sum_[k] / total + noise));
    }
  }

  Config config_{};
  std::uint64_t rounds_ = 0;
  bool has_global_ = false;
  std::vector<float> global_{};
  RdpAccountant accountant_{};
  FederatedRound last_round_{};
  // Scratch of average(), grow-only: the new parameters and the double accumulator.
  std::vector<float> next_{};
  std::vector<double> sum_{};
};

}  // namespace marl_rec
